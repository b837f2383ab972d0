/* auth/directory.h - the directory client used by the auth process: address
 * resolution, authentication, user fetch and sender addresses, answered
 * FOUND / NOTFOUND / TEMPFAIL from LDAP. Thread-safe: every call borrows a
 * connection from a pool. Never caches (the auth cache sits above it). */
#ifndef DIRMAIL_AUTH_DIRECTORY_H
#define DIRMAIL_AUTH_DIRECTORY_H

#include <stdbool.h>

#include "auth/dir_profile.h"
#include "auth/dir_user.h"
#include "auth/directory_options.h"

struct directory;

/* directory_new - a client with its two pools (service and authentication);
 * connections open on first use. opts is copied. */
struct directory *directory_new(const struct directory_options *opts, const char **error_r);
void directory_free(struct directory **dir);

/* dir_resolve - what to do with mail to address (see struct dir_recipient).
 * Lookup order: the exact address, then without the sub-address tag, then the
 * domain's catch-all. FOUND: *r is set (kind LOCAL, REMOTE_NODE, FORWARD,
 * GROUP, RELAY, DISABLED). NOTFOUND: *r is set with kind UNKNOWN (local domain,
 * no entry), NOT_OURS (neither local nor relay domain: the caller decides by
 * its relay policy) or INVALID. TEMPFAIL: *r is NULL (outage, timeout,
 * ambiguous address, group too deep: logged). A plain user costs one search. */
enum dir_result dir_resolve(struct directory *dir, const char *address, struct dir_recipient **r);

enum dir_auth_result { DIR_AUTH_OK, DIR_AUTH_FAILED, DIR_AUTH_TEMPFAIL };

/* Why a login failed: for the log only, never for the client. */
enum dir_auth_reason {
    DIR_AUTH_REASON_NONE,
    DIR_AUTH_REASON_EMPTY_PASSWORD,
    DIR_AUTH_REASON_INVALID_LOGIN,
    DIR_AUTH_REASON_UNKNOWN_USER,
    DIR_AUTH_REASON_BAD_PASSWORD,
    DIR_AUTH_REASON_DISABLED,
    DIR_AUTH_REASON_SERVICE,
};

const char *dir_auth_reason_name(enum dir_auth_reason reason);

/* dir_authenticate - check login and password for service ("imap", "pop3",
 * "submission", ...; NULL: no service check). Empty passwords are refused
 * before any bind (RFC 4513 5.1.2: an empty simple bind is an anonymous bind
 * and "succeeds"). The entry is found with the service connection, the
 * password checked by a simple bind as that DN on a separate connection.
 * OK: *u is the user. FAILED: *reason_r says why (log it, don't tell). */
enum dir_auth_result dir_authenticate(struct directory *dir, const char *login,
                                      const char *password, const char *service,
                                      struct dir_user **u, enum dir_auth_reason *reason_r);

/* dir_user_fetch - the user for key: an address (containing '@', found by
 * the recipient filter, sub-address tag ignored) or a login (login filter). */
enum dir_result dir_user_fetch(struct directory *dir, const char *key, struct dir_user **u);

/* dir_sender_addresses - the envelope senders login may use: its addresses
 * and its extra sender addresses. FOUND: *list set (free with
 * dir_strlist_free). */
enum dir_result dir_sender_addresses(struct directory *dir, const char *login,
                                     struct dir_strlist **list);
void dir_strlist_free(struct dir_strlist **list);

const char *dir_kind_name(enum dir_kind kind);
const char *dir_status_name(enum dir_status status);

#endif
