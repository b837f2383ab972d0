/* auth/dir_profile.h - directory profiles: the attribute names, filter
 * templates and value conventions of one directory layout (dirmail,
 * qmail-ldap, inetlocalmailrecipient, active-directory), every one of them
 * overridable by name. Holds strings only; never talks to a server. */
#ifndef DIRMAIL_AUTH_DIR_PROFILE_H
#define DIRMAIL_AUTH_DIR_PROFILE_H

#include <stdbool.h>

/* How the status attribute is read. */
enum dir_status_style {
    DIR_STATUS_NONE,    /* no status attribute: everyone active */
    DIR_STATUS_DIRMAIL, /* dirmailStatus: active, noaccess, held, disabled */
    DIR_STATUS_QMAIL,   /* accountStatus: active, noaccess/nopop, disabled/deleted */
    DIR_STATUS_AD_UAC,  /* userAccountControl: bit 0x2 (ACCOUNTDISABLE) set = disabled */
};

/* Whether a forwarding entry also keeps a local copy. */
enum dir_keep_style {
    DIR_KEEP_NEVER,      /* forward only (mailRoutingAddress) */
    DIR_KEEP_BOOLEAN,    /* attr_keep_copy TRUE keeps a copy (dirmailKeepCopy) */
    DIR_KEEP_QMAIL_MODE, /* deliveryMode: copy kept unless forwardonly or nolocal */
};

/* Every char * is malloc'd and owned by the profile. An empty string means
 * "this profile has no such attribute / filter". */
struct dir_profile {
    char *name;
    char *attr_mail;  /* primary address */
    char *attr_alias; /* more addresses (AD: proxyAddresses with smtp: prefixes) */
    char *attr_login; /* login name shown back (uid, sAMAccountName) */
    char *attr_mailhost;
    char *attr_mailbox;
    char *attr_quota;
    char *attr_status;
    char *attr_forward;
    char *attr_keep_copy; /* dirmailKeepCopy, or qmail's deliveryMode */
    char *attr_sieve;
    char *attr_service;
    char *attr_sender;
    char *attr_member;        /* groupOfNames member DNs */
    char *attr_unique_member; /* groupOfUniqueNames uniqueMember DNs */
    char *group_classes;      /* space-separated objectClass values of a group */
    char *attr_domain_type;   /* domain entries: "local" or "relay" */
    char *attr_next_hop;
    char *filter_recipient; /* finds a user or group owning %s */
    char *filter_login;     /* finds the user logging in as %l */
    char *filter_group;     /* applied when reading each group member entry by DN */
    char *filter_domain;    /* finds the domain entry of %d; "" = domains only from config */
    char *catchall;         /* address form of a catch-all, %d = domain: "@%d" */
    enum dir_status_style status_style;
    enum dir_keep_style keep_style;
    bool proxy_addresses; /* alias values carry "SMTP:" (primary) / "smtp:" prefixes */
};

/* dir_profile_init - fill p with the defaults of the named profile.
 * Returns 0, or -1 with a static *error_r (unknown name, out of memory). */
int dir_profile_init(struct dir_profile *p, const char *name, const char **error_r);

/* dir_profile_set - override one setting: key is the field name without
 * prefix for attributes ("attr.mail", "filter.login", "group_classes",
 * "catchall", "status_style", "keep_style", "proxy_addresses"). */
int dir_profile_set(struct dir_profile *p, const char *key, const char *value,
                    const char **error_r);

/* dir_profile_copy - deep copy; 0 or -1. */
int dir_profile_copy(struct dir_profile *dst, const struct dir_profile *src);

/* dir_profile_clear - free the strings (p itself is the caller's). */
void dir_profile_clear(struct dir_profile *p);

#endif
