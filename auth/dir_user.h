/* auth/dir_user.h - the user model: what an address resolves to and what a
 * user is (addresses, mailbox, status, services), built from directory
 * entries under a profile, plus address normalisation in one place. Owned
 * result structs, freed with their *_free(T **). No network I/O here. */
#ifndef DIRMAIL_AUTH_DIR_USER_H
#define DIRMAIL_AUTH_DIR_USER_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/dir_profile.h"
#include "auth/ldap_pool.h"

/* The longest Sieve script (attr.sieve) passed on: a quarter of the auth
 * protocol's response limit, so that escaping cannot push an answer past it. */
#define DIR_SIEVE_MAX (256 * 1024)

/* Every lookup answers one of these (DESIGN.md: the directory decides, errors
 * are temporary). NOTFOUND only when the directory said so. */
enum dir_result { DIR_FOUND, DIR_NOTFOUND, DIR_TEMPFAIL };

enum dir_kind {
    DIR_KIND_LOCAL,       /* mailbox on this node */
    DIR_KIND_REMOTE_NODE, /* mailbox on the node named by mail_host */
    DIR_KIND_FORWARD,     /* forwards (keep_copy: also the mailbox, see mail_host) */
    DIR_KIND_GROUP,       /* distribution list: members */
    DIR_KIND_RELAY,       /* domain relayed to a next hop (next_hop NULL: MX) */
    DIR_KIND_DISABLED,    /* entry exists but takes no mail: disabled_action says how */
    DIR_KIND_UNKNOWN,     /* local domain, no entry (DIR_NOTFOUND) */
    DIR_KIND_NOT_OURS,    /* domain neither local nor relay (DIR_NOTFOUND): the caller
                             applies its relay policy (authenticated / trusted clients) */
    DIR_KIND_INVALID,     /* not an address we accept (DIR_NOTFOUND) */
};

enum dir_status { DIR_STATUS_ACTIVE, DIR_STATUS_NOACCESS, DIR_STATUS_HELD, DIR_STATUS_DISABLED };

/* What the caller does with mail to a DISABLED recipient. */
enum dir_disabled_action { DIR_DISABLED_REJECT, DIR_DISABLED_HOLD };

struct dir_strlist {
    char **items;
    size_t count;
};

struct dir_recipient {
    enum dir_kind kind;
    char *address; /* normalised address as asked, tag included */
    char *local;   /* normalised local part, tag included */
    char *domain;  /* lowercase, no trailing dot */
    char *tag;     /* sub-address tag (after the delimiter), or NULL: kept for delivery */
    char *matched; /* the address the entry matched: exact, untagged or catch-all */
    bool catchall;
    char *dn;                 /* the entry; NULL for RELAY / UNKNOWN / NOT_OURS */
    char *primary;            /* the entry's primary address */
    char *mailbox;            /* NULL: the delivery default (mailbox_base + address) */
    unsigned long long quota; /* octets, 0 = none */
    char *sieve;
    char *mail_host; /* NULL when on this node */
    struct dir_strlist forwards;
    bool keep_copy;
    struct dir_strlist members; /* GROUP: member addresses, deduplicated */
    enum dir_status status;
    enum dir_disabled_action disabled_action;
    char *next_hop; /* RELAY: from the domain entry, NULL means MX */
};

struct dir_user {
    char *dn;
    char *login;                  /* attr_login value, or the login used */
    char *primary;                /* primary address, may be NULL */
    struct dir_strlist addresses; /* primary and aliases, normalised */
    struct dir_strlist senders;   /* extra envelope senders (dirmailSender) */
    struct dir_strlist services;  /* allowed services; empty = all */
    char *mailbox;
    unsigned long long quota;
    char *sieve;
    char *mail_host; /* NULL when on this node */
    enum dir_status status;
};

void dir_recipient_free(struct dir_recipient **r);
void dir_user_free(struct dir_user **u);
void dir_strlist_clear(struct dir_strlist *l);
/* dir_strlist_add - append a copy unless already there (case-insensitive). */
int dir_strlist_add(struct dir_strlist *l, const char *s);

/* Longest address we accept (RFC 5321 4.5.3.1.3: path 256, minus brackets). */
#define DIR_ADDRESS_MAX 254
#define DIR_LOGIN_MAX 256

/* Address normalisation, the one place for it:
 * - split at the last '@'; an address without '@', with an empty local part
 *   (other than a catch-all) or domain, or with control bytes, is invalid;
 * - the domain is lowercased and one trailing dot dropped ("example.org." is
 *   the root-qualified form of the same name, as Postfix treats it);
 * - the local part is lowercased unless case_sensitive;
 * - the tag is what follows the first delimiter character in the local part. */
struct dir_address {
    char *address; /* local@domain, normalised */
    char *local;
    char *domain;
    char *base_local; /* local part without the tag (== local when no tag) */
    char *tag;        /* NULL when none */
};

int dir_address_parse(const char *input, const char *delimiters, bool case_sensitive,
                      struct dir_address *a);
void dir_address_clear(struct dir_address *a);

/* dir_user_status - the entry's status under the profile's convention. */
enum dir_status dir_user_status(const struct dir_profile *p, const struct ldap_pool_entry *e);

/* dir_user_from_entry - build a user from an entry (own_host: this node's
 * mailHost name, values equal to it count as local). NULL on no memory. */
struct dir_user *dir_user_from_entry(const struct dir_profile *p, const struct ldap_pool_entry *e,
                                     const char *own_host, const char *login);

/* dir_user_addresses - the entry's addresses (primary first), normalised;
 * AD's proxyAddresses keep only the smtp: ones, prefix removed. 0 or -1. */
int dir_user_addresses(const struct dir_profile *p, const struct ldap_pool_entry *e,
                       struct dir_strlist *out, char **primary_r);

/* dir_user_service_allowed - whether service may be used (service type names:
 * submissions/pop3s/imaps count as submission/pop3/imap). */
bool dir_user_service_allowed(const struct dir_user *u, const char *service);

#endif
