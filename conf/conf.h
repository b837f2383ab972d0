/* conf/conf.h - dirmail.conf loaded with libconfig into one typed, validated,
 * immutable struct. Every setting has a default here and in
 * conf/dirmail.conf.sample; nothing changes a struct config after config_load. */
#ifndef DIRMAIL_CONF_CONF_H
#define DIRMAIL_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/log.h"

enum service_type {
    SERVICE_SMTP,        /* port 25 role: MX, AUTH optional */
    SERVICE_SUBMISSION,  /* 587: STARTTLS + AUTH required (RFC 6409) */
    SERVICE_SUBMISSIONS, /* 465: implicit TLS (RFC 8314) */
    SERVICE_LMTP,
    SERVICE_POP3,
    SERVICE_POP3S,
    SERVICE_IMAP,
    SERVICE_IMAPS,
    SERVICE_MANAGESIEVE, /* 4190: Sieve scripts (RFC 5804) */
};

/* One address a service listens on: host is a literal IPv4/IPv6 address or
 * "*" (all IPv4 and IPv6 addresses); written "127.0.0.1:2525", "[::1]:25", "*:25".
 * An lmtp service may also listen on a UNIX socket, written as its absolute
 * path: host is then that path (it begins with '/') and port is 0. */
struct config_listen {
    char *host;
    unsigned port;
};

/* config_listen_is_unix - li is a UNIX socket (host is its path). */
#define config_listen_is_unix(li) ((li)->host[0] == '/')

struct config_service {
    char *name; /* unique; defaults to the type's name */
    enum service_type type;
    struct config_listen *listen;
    size_t listen_count;
    unsigned max_connections;        /* whole service, all workers */
    unsigned max_connections_per_ip; /* per client address, all workers */
    unsigned idle_timeout;           /* seconds for one whole command line */
    unsigned session_timeout;        /* seconds a session may last in all */
    unsigned data_timeout;           /* seconds for one message transfer (DATA, a BDAT chunk) */
    unsigned data_min_rate;          /* bytes/s over data_rate_window that extend it; 0 = never */
    unsigned data_rate_window;       /* seconds */
    unsigned overload_threshold;     /* % of max_connections in use that is overload; 0 = off */
    unsigned overload_idle_timeout;  /* idle_timeout and data_timeout while overloaded */
    unsigned overload_data_timeout;
    bool forbid_unauth_pipelining; /* RFC 2920 synchronisation enforced before AUTH */
    /* lmtp only. LMTP has no authentication (RFC 2033), so a TCP client
     * must come from one of these networks (CIDR); default none: a loopback
     * port is open to every local user, a UNIX socket only to those its
     * owner and mode let in. Clients of the UNIX sockets are always taken. */
    char **trusted_networks;
    size_t trusted_network_count;
    /* lmtp only: the UNIX sockets' owner, group (NULL: server.user and
     * server.group) and mode (default 0660). */
    char *socket_user;
    char *socket_group;
    unsigned socket_mode;
};

enum config_ldap_starttls { LDAP_STARTTLS_NO, LDAP_STARTTLS_TRY, LDAP_STARTTLS_REQUIRE };

/* Mail to a disabled account: refused (5.2.1), or accepted and held. */
enum config_ldap_disabled_policy { LDAP_DISABLED_REJECT, LDAP_DISABLED_HOLD };

/* The names ldap.attributes and ldap.filters accept, in index order. They are
 * auth/dir_profile.c's override keys without "attr." / "filter."; conf does
 * not link auth, so tests/unit/test_directory.c proves the two agree. */
#define CONFIG_LDAP_ATTRIBUTE_COUNT 16
#define CONFIG_LDAP_FILTER_COUNT 4
extern const char *const config_ldap_attribute_names[CONFIG_LDAP_ATTRIBUTE_COUNT];
extern const char *const config_ldap_filter_names[CONFIG_LDAP_FILTER_COUNT];
/* The values of ldap.status_style and ldap.keep_style (dir_profile_set's). */
extern const char *const config_ldap_status_styles[4];
extern const char *const config_ldap_keep_styles[3];

struct config_ldap {
    char **uris; /* tried in order: ldap://, ldaps://, ldapi:// */
    size_t uri_count;
    char *bind_dn;            /* NULL: anonymous */
    char *bind_password;      /* inline, or read from bind_password_file by config_load */
    char *bind_password_file; /* readable by root only; read before the privilege drop */
    char *base;
    char *profile;            /* dirmail, qmail-ldap, inetlocalmailrecipient, active-directory */
    unsigned connect_timeout; /* seconds */
    unsigned timeout;         /* seconds, every operation */
    unsigned pool_size;
    enum config_ldap_starttls starttls;
    char *ca_file;
    bool verify_cert;

    /* Address handling and limits of the directory client (auth/directory.h). */
    char *subaddress_delimiter; /* characters that start a tag; "" = no sub-addressing */
    bool case_sensitive_local_part;
    enum config_ldap_disabled_policy disabled_policy;
    unsigned group_max_depth;   /* nested groups expanded this deep */
    unsigned group_max_members; /* addresses one group may expand to */
    unsigned auth_pool_size;    /* connections binding as users; default pool_size */
    unsigned pool_wait;         /* seconds to wait for a free connection; default timeout */
    unsigned failback_interval; /* seconds before a preferred (earlier) URI is retried */
    unsigned domain_cache_ttl;  /* seconds a dirmailDomain answer is kept */

    /* Profile overrides; NULL (or -1) = the profile's own. Indexes follow
     * config_ldap_attribute_names and config_ldap_filter_names. */
    char *attributes[CONFIG_LDAP_ATTRIBUTE_COUNT]; /* ldap.attributes { mail = "..."; } */
    char *filters[CONFIG_LDAP_FILTER_COUNT];       /* ldap.filters { login = "..."; } */
    char *group_classes;                           /* space-separated objectClass values */
    char *catchall;                                /* catch-all address form, "@%d" */
    char *status_style;                            /* none, dirmail, qmail, ad */
    char *keep_style;                              /* never, boolean, qmail */
    int proxy_addresses;                           /* -1 profile's, 0 false, 1 true */
};

struct config_tls {
    char *cert_file; /* NULL: no TLS service, no STARTTLS offered */
    char *key_file;
    char *ca_file;
    char *min_protocol; /* "TLSv1.2" or "TLSv1.3" */
    char *ciphers;      /* OpenSSL cipher list for TLS 1.2; NULL: OpenSSL's default */
};

struct config_server {
    char *hostname; /* our name in banners and Received; default: gethostname() */
    char *user;     /* the mail user the workers and auth run as */
    char *group;
    char *pid_file;
    char *state_dir; /* queue, auth socket, indexes; owned by user */
    enum log_target log_target;
    enum log_level log_level;
    unsigned workers;           /* worker processes; 0 = one per CPU */
    unsigned shutdown_grace;    /* seconds SIGTERM waits for sessions to finish */
    unsigned restart_delay_max; /* ms: the longest wait before a dead child is started again */
};

struct config_domains {
    char **local; /* mailboxes here or on other nodes: recipients looked up in the directory */
    size_t local_count;
    char **relay; /* relayed to a next hop (relay issue) */
    size_t relay_count;
    char **relay_next_hop; /* parallel to relay: "[mx.example]:25", or NULL = MX lookup */
    bool *relay_verify;    /* parallel to relay: RCPT verified at the next hop */
    bool from_directory;   /* also read dirmailDomain entries */
};

struct config_relay {
    char **trusted_networks; /* CIDR, e.g. "127.0.0.0/8", "::1/128" */
    size_t trusted_network_count;
    /* recipient verification (domains.relay's verify): seconds */
    unsigned verify_positive_ttl; /* a next hop's yes is kept this long */
    unsigned verify_negative_ttl; /* and its no */
    unsigned verify_timeout;      /* one probe, start to end */
};

/* STARTTLS to a next hop (Postfix's smtp_tls_security_level). */
enum config_tls_security {
    TLS_SECURITY_NONE,    /* never */
    TLS_SECURITY_MAY,     /* when offered, unverified; in clear when not (or it fails) */
    TLS_SECURITY_ENCRYPT, /* always, unverified: never in clear */
    TLS_SECURITY_VERIFY,  /* always, the certificate verified for the expected name */
};

/* The SMTP client: how the runner sends mail to other nodes and next hops
 * (gateway/transport_smtp.c). Times in seconds. */
/* One row of smtp_client.destinations: the TLS policy and the credentials
 * for one destination (Postfix's smtp_tls_policy_maps and
 * smtp_sasl_password_maps in one place). */
struct config_smtp_destination {
    char *match; /* a recipient domain (MX routes), a next hop or mail host as written */
    enum config_tls_security tls_security;
    char *tls_ca_file;     /* verify: NULL: smtp_client.tls_ca_file */
    char *tls_verify_name; /* verify: NULL: smtp_client.tls_verify_name, else the host's */
    char *auth_user;       /* NULL: no AUTH */
    char *auth_password;   /* read from auth_password_file by the master, as root */
    char *auth_password_file;
};

struct config_smtp_client {
    char *helo_name;         /* NULL: server.hostname */
    char *relayhost;         /* smarthost for mail to domains not ours; NULL: MX lookup */
    bool node_protocol_lmtp; /* other nodes (dirmailMailHost) take LMTP, not SMTP */
    unsigned lmtp_port;      /* for an LMTP host that names none */
    enum config_tls_security tls_security;
    char *tls_ca_file;     /* NULL: the system's store */
    char *tls_verify_name; /* verify: the name the certificate must have; NULL: the host's */
    unsigned port;         /* for MX hosts and a next hop without one */
    unsigned connect_timeout, helo_timeout, mail_timeout, rcpt_timeout, data_timeout,
        data_done_timeout, quit_timeout;
    unsigned idle_time;               /* a connection waits this long for the next message */
    unsigned max_connections;         /* at once, to every destination together */
    unsigned destination_connections; /* at once, to one destination */
    unsigned destination_backoff;     /* a destination that failed is not tried for so long */
    unsigned
        hop_limit; /* more Received: fields than this: a loop, 5.4.6 (Postfix's hopcount_limit) */
    char **dns_forwarders; /* "127.0.0.1@5353"; none: the system's resolver */
    size_t dns_forwarder_count;
    struct config_smtp_destination *destinations; /* per destination; the rest use the above */
    size_t destination_count;
};

/* config_smtp_destination_find - the smtp_client.destinations row whose
 * match is name (case-insensitive), or NULL: the section's own settings
 * apply. */
const struct config_smtp_destination *
config_smtp_destination_find(const struct config_smtp_client *c, const char *name);

/* config_tls_security_name - "none", "may", "encrypt", "verify". */
const char *config_tls_security_name(enum config_tls_security level);

/* How a front node's proxy reaches the back node's POP3/IMAP port. */
enum config_proxy_tls {
    PROXY_TLS_STARTTLS, /* STLS / STARTTLS, the certificate verified */
    PROXY_TLS_IMPLICIT, /* the pop3s/imaps port, the certificate verified */
    PROXY_TLS_NONE,     /* in clear: only on a network the nodes alone reach */
};

/* Node-to-node trust for the POP3/IMAP proxy (reader/proxy*.c,
 * doc/proxy.md). A front node logs in on a user's node (dirmailMailHost)
 * as identity with secret, for the user; a back node accepts that login
 * only from trusted_networks. secret NULL: no proxying either way. */
struct config_proxy {
    char *identity;          /* the SASL authcid of the proxy login */
    char *secret;            /* shared by the nodes; never logged or printed */
    char **trusted_networks; /* back node: the front nodes' addresses (CIDR) */
    size_t trusted_network_count;
    unsigned pop3_port, imap_port; /* the back nodes' ports */
    enum config_proxy_tls tls;
    char *ca_file;         /* verifies the back node's certificate; NULL: the system store */
    unsigned timeout;      /* seconds to connect and log in on the back node */
    unsigned idle_timeout; /* seconds a spliced session may pass with no byte either way */
};

/* config_proxy_tls_name - "starttls", "implicit", "none". */
const char *config_proxy_tls_name(enum config_proxy_tls tls);

struct config_queue {
    unsigned max_age;           /* seconds before an undeliverable message bounces */
    unsigned delay_warning;     /* seconds before the one "delayed" DSN; 0 = none */
    unsigned bounce_size_limit; /* a bounce carries the original up to this size, else its header */
    unsigned retry_min;         /* first retry delay, seconds */
    unsigned retry_max;         /* longest retry delay, seconds */
    unsigned scan_interval;     /* seconds between the runner's backstop scans of the spool */
    unsigned delivery_threads;  /* messages the runner delivers at once (1..64) */
    /* Octets that must stay free on the spool's file system for MAIL FROM
     * (and each BDAT chunk) to be taken, else 452 4.3.1; 0 = no check.
     * Default 1.5 x limits.message_size (Postfix's queue_minfree rule). */
    uint64_t min_free;
};

/* How Maildir deliveries are made durable (delivery/fs_sync.h). */
enum config_delivery_sync {
    DELIVERY_SYNC_AUTO,   /* syncfs where the file system journals, else fsync */
    DELIVERY_SYNC_FSYNC,  /* fsync every file and folder */
    DELIVERY_SYNC_SYNCFS, /* one syncfs per turn of deliveries */
};

struct config_delivery {
    char *mailbox_base; /* relative mailbox paths from the directory live below it */
    enum config_delivery_sync sync_method;
    /* Over quota is a permanent failure (5.2.2, LMTP 552, dirmail-deliver
     * EX_CANTCREAT) instead of a temporary one (4.2.2, 452, EX_TEMPFAIL). */
    bool quota_permanent;
    /* Sieve scripts (files) run before and after each user's own script,
     * in order, for every local delivery (delivery/mda_sieve.c). */
    char **sieve_before;
    size_t sieve_before_count;
    char **sieve_after;
    size_t sieve_after_count;
    /* Maildir++ folders made at a Maildir's first delivery; those named
     * Sent, Drafts, Trash, Junk (and Archive) get their RFC 6154 mark. */
    char **default_folders;
    size_t default_folder_count;
    /* A delivery that brings the Maildir to this percentage of its quota
     * sends the user a warning through the queue (0: never); the text is
     * quota_warning_message's file when set. */
    unsigned quota_warning_percent;
    char *quota_warning_message;
};

/* The sieve section: the Sieve engine's limits (struct sieve_limits,
 * doc/sieve.md) for delivery and ManageSieve alike; a script over one is
 * a compile error (nesting, strings) or a runtime error that keeps the
 * message (the others). */
/* The defaults, equal to the engine's SIEVE_DEFAULT_* (delivery/mda_sieve.c
 * checks at compile time: conf/ may not include delivery/). */
#define CONF_SIEVE_REDIRECTS_MAX 4u
#define CONF_SIEVE_ACTIONS_MAX 32u
#define CONF_SIEVE_NESTING_MAX 32u
#define CONF_SIEVE_VARIABLES_MAX 128u
#define CONF_SIEVE_STRING_MAX (64u << 10)
#define CONF_SIEVE_STEPS_MAX 10000000u
struct config_sieve {
    unsigned max_redirects; /* redirect actions per message (ManageSieve's MAXREDIRECTS) */
    unsigned max_actions;   /* actions per message */
    unsigned max_nesting;   /* blocks and tests nested in each other */
    unsigned max_variables; /* distinct variables (RFC 5229) */
    size_t max_string_size; /* octets of one string, also after variable expansion */
    /* The run's CPU budget: nodes visited plus octets compared; a run over
     * it stops (about 10 ms per million on one core). */
    unsigned long long max_steps;
};

/* The managesieve section: what one user may keep in the script store
 * (delivery/sieve_store.h). */
struct config_managesieve {
    unsigned max_scripts;   /* scripts per user (RFC 5804 QUOTA/MAXSCRIPTS) */
    size_t max_script_size; /* octets of one script (QUOTA/MAXSIZE) */
};

/* config_delivery_sync_name - "auto", "fsync" or "syncfs". */
const char *config_delivery_sync_name(enum config_delivery_sync method);

/* A NUL octet in a message (limits.message_nul; proto/content_policy.h). */
enum config_message_nul { MESSAGE_NUL_REJECT, MESSAGE_NUL_STRIP, MESSAGE_NUL_ACCEPT };

struct config_limits {
    unsigned line_length;           /* protocol command line, octets (SMTP: 512) */
    unsigned text_line_length;      /* message text line, octets (RFC 5321: 1000) */
    size_t message_size;            /* octets */
    unsigned recipients;            /* per message */
    unsigned errors;                /* per session before 421 and close */
    unsigned max_connections;       /* all services together */
    unsigned pregreet_wait;         /* ms an SMTP client must wait for the banner; 0: off */
    unsigned pregreet_pass_ttl;     /* seconds a client that waited skips the wait; 0: off */
    unsigned auth_failures;         /* failed AUTH per client address in the window; 0: off */
    unsigned auth_failure_window;   /* seconds a failed AUTH counts against its address */
    unsigned max_sessions_per_user; /* logged-in POP3 sessions of one login per worker; 0: off */

    /* The content policy, DATA and BDAT alike (proto/content_policy.h). */
    enum config_message_nul message_nul;
    size_t header_max_size;    /* octets of a message's header section */
    unsigned header_max_count; /* header fields per message */
};

/* SASL authentication (SMTP AUTH, POP3 AUTH, IMAP AUTHENTICATE) through
 * Cyrus SASL with dirmail's password check (auth/sasl_server.h). */
struct config_sasl {
    char **mechanisms; /* offered when Cyrus can serve them with a password check only */
    size_t mechanism_count;
    bool allow_authzid;         /* an authorization identity other than the login is accepted */
    bool plaintext_without_tls; /* PLAIN/LOGIN offered on connections without TLS */
    bool sender_login_check;    /* authenticated senders may use only their own addresses */
    bool authenticated_header;  /* the login appears in the Received field */
};

/* The auth process's cache of directory answers (auth/auth_cache.h); a TTL
 * or size of 0 turns that part off. Seconds. */
struct config_cache {
    unsigned positive_ttl; /* FOUND answers */
    unsigned negative_ttl; /* NOTFOUND answers (never served stale) */
    unsigned auth_ttl;     /* successful logins (login + keyed hash of the password) */
    unsigned stale_ttl;    /* a positive answer this young stands in for a TEMPFAIL */
    unsigned size;         /* entries, least recently used dropped first */
};

struct config {
    char *path; /* the file it was loaded from */
    struct config_server server;
    struct config_ldap ldap;
    struct config_tls tls;
    struct config_service *services;
    size_t service_count;
    struct config_domains domains;
    struct config_relay relay;
    struct config_smtp_client smtp_client;
    struct config_proxy proxy;
    struct config_queue queue;
    struct config_delivery delivery;
    struct config_managesieve managesieve;
    struct config_sieve sieve;
    struct config_limits limits;
    struct config_sasl sasl;
    struct config_cache cache;
};

/* config_load - read and validate path. On success returns a new struct the
 * caller frees with config_free. On failure returns NULL and sets *error_r to
 * a malloc'd message "FILE:LINE: setting NAME: what is wrong" that the caller
 * frees. */
struct config *config_load(const char *path, char **error_r);

/* What dirmaild keeps in server.state_dir, by name: the auth process's
 * socket and the spool. */
#define CONFIG_STATE_AUTH_SOCKET "auth.sock"
#define CONFIG_STATE_QUEUE "queue"
/* the queue runner's control socket (queue/queue_control.h) */
#define CONFIG_STATE_QUEUE_CONTROL "queue-control.sock"
/* The lmtp service's UNIX socket when its listen setting is absent. */
#define CONFIG_STATE_LMTP_SOCKET "lmtp.sock"

/* config_state_path - "<server.state_dir>/<name>" (name: a CONFIG_STATE_*),
 * malloc'd; NULL when out of memory. */
char *config_state_path(const struct config *conf, const char *name);

/* config_free - free conf and set *conf to NULL; NULL is fine. */
void config_free(struct config **conf);

/* config_print - write the effective configuration (every setting, defaults
 * included) in dirmail.conf syntax; secrets are printed as "<hidden>". */
void config_print(const struct config *conf, FILE *out);

/* config_service_type_name - "smtp", "submission", ... */
const char *config_service_type_name(enum service_type type);

/* config_service_implicit_tls - true for submissions, pop3s, imaps. */
bool config_service_implicit_tls(enum service_type type);

#endif
