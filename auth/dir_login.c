/* auth/dir_login.c - the directory client's answers about people: a login
 * checked by a bind in the authentication pool, a user fetched by login or
 * address, the addresses a login may send as. */
#include "config.h"

#include "auth/directory_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dir_filter.h"
/* login_ok - a login we will put in a filter: bounded, no control bytes. */
static bool login_ok(const char *login)
{
    size_t len = strlen(login);
    if (len == 0 || len > DIR_LOGIN_MAX)
        return false;
    for (const char *p = login; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* find_login - the entry for login by the login filter (%l = login; with an
 * '@', %u and %d are its parts). */
static enum dir_result find_login(struct directory *dir, const char *login,
                                  struct ldap_pool_result **found)
{
    *found = NULL;
    if (!login_ok(login))
        return DIR_NOTFOUND;
    char *local = NULL;
    const char *at = strrchr(login, '@');
    if (at != NULL && (local = strndup(login, (size_t)(at - login))) == NULL)
        return DIR_TEMPFAIL;
    struct dir_filter_values v = {.address = login,
                                  .local = local != NULL ? local : login,
                                  .domain = at != NULL ? at + 1 : "",
                                  .login = login};
    char *filter;
    const char *error;
    int rc = dir_filter_expand(dir->o.profile.filter_login, &v, &filter, &error);
    free(local);
    if (rc < 0) {
        log_error("event=directory_filter_error filter=login error=\"%s\"", error);
        return DIR_TEMPFAIL;
    }
    enum dir_result res =
        dir_search_one(dir, dir_base(dir), LDAP_SCOPE_SUBTREE, filter, login, found);
    free(filter);
    return res;
}

enum dir_auth_result dir_authenticate(struct directory *dir, const char *login,
                                      const char *password, const char *service,
                                      struct dir_user **up, enum dir_auth_reason *reason_r)
{
    *up = NULL;
    *reason_r = DIR_AUTH_REASON_NONE;
    char q[300];
    /* RFC 4513 5.1.2: a simple bind with a DN and an empty password is an
     * unauthenticated bind that servers answer with success. */
    if (password == NULL || password[0] == '\0') {
        *reason_r = DIR_AUTH_REASON_EMPTY_PASSWORD;
        return DIR_AUTH_FAILED;
    }
    if (login == NULL || !login_ok(login)) {
        *reason_r = DIR_AUTH_REASON_INVALID_LOGIN;
        return DIR_AUTH_FAILED;
    }
    struct ldap_pool_result *found;
    enum dir_result res = find_login(dir, login, &found);
    if (res == DIR_TEMPFAIL)
        return DIR_AUTH_TEMPFAIL;
    if (res == DIR_NOTFOUND) {
        *reason_r = DIR_AUTH_REASON_UNKNOWN_USER;
        return DIR_AUTH_FAILED;
    }
    struct dir_user *u =
        dir_user_from_entry(&dir->o.profile, &found->entries[0], dir->o.node_name, login);
    ldap_pool_result_free(&found);
    if (u == NULL)
        return DIR_AUTH_TEMPFAIL;
    int rc = ldap_pool_bind(dir->auth, u->dn, password);
    enum ldap_rc_class cls = ldap_pool_rc_class(rc);
    if (cls == LDAP_RC_CREDENTIALS) {
        *reason_r = DIR_AUTH_REASON_BAD_PASSWORD;
        dir_user_free(&u);
        return DIR_AUTH_FAILED;
    }
    if (cls != LDAP_RC_OK) {
        log_msg(dir_tempfail_level(rc),
                "event=directory_tempfail key=%s op=bind dn=%s error=\"%s\"",
                log_quote(q, sizeof q, login), u->dn, ldap_err2string(rc));
        dir_user_free(&u);
        return DIR_AUTH_TEMPFAIL;
    }
    /* Status and service are checked after the password, so a wrong
     * password and a disabled account look alike to a guesser's timing. */
    if (u->status != DIR_STATUS_ACTIVE) {
        *reason_r = DIR_AUTH_REASON_DISABLED;
        dir_user_free(&u);
        return DIR_AUTH_FAILED;
    }
    if (!dir_user_service_allowed(u, service)) {
        *reason_r = DIR_AUTH_REASON_SERVICE;
        dir_user_free(&u);
        return DIR_AUTH_FAILED;
    }
    *up = u;
    return DIR_AUTH_OK;
}

enum dir_result dir_user_fetch(struct directory *dir, const char *key, struct dir_user **up)
{
    *up = NULL;
    if (key == NULL)
        return DIR_NOTFOUND;
    struct ldap_pool_result *found = NULL;
    enum dir_result res;
    if (strchr(key, '@') != NULL) {
        struct dir_address a;
        if (dir_address_parse(key, dir->o.subaddress_delimiters, dir->o.case_sensitive_local, &a) <
                0 ||
            a.local[0] == '\0') {
            dir_address_clear(&a);
            return DIR_NOTFOUND;
        }
        res = dir_search_address(dir, a.local, a.domain, &found);
        if (res == DIR_NOTFOUND && a.tag != NULL)
            res = dir_search_address(dir, a.base_local, a.domain, &found);
        dir_address_clear(&a);
        /* A login that looks like an address (AD's userPrincipalName). */
        if (res == DIR_NOTFOUND)
            res = find_login(dir, key, &found);
    } else {
        res = find_login(dir, key, &found);
    }
    if (res != DIR_FOUND)
        return res;
    if (dir_is_group(&dir->o.profile, &found->entries[0])) {
        ldap_pool_result_free(&found);
        return DIR_NOTFOUND; /* a list is no user */
    }
    *up = dir_user_from_entry(&dir->o.profile, &found->entries[0], dir->o.node_name, key);
    ldap_pool_result_free(&found);
    return *up != NULL ? DIR_FOUND : DIR_TEMPFAIL;
}

enum dir_result dir_sender_addresses(struct directory *dir, const char *login,
                                     struct dir_strlist **lp)
{
    *lp = NULL;
    struct dir_user *u;
    enum dir_result res = dir_user_fetch(dir, login, &u);
    if (res != DIR_FOUND)
        return res;
    struct dir_strlist *l = calloc(1, sizeof *l);
    bool failed = l == NULL;
    for (size_t i = 0; !failed && i < u->addresses.count; i++)
        failed = dir_strlist_add(l, u->addresses.items[i]) < 0;
    for (size_t i = 0; !failed && i < u->senders.count; i++)
        failed = dir_strlist_add(l, u->senders.items[i]) < 0;
    dir_user_free(&u);
    if (failed) {
        dir_strlist_free(&l);
        return DIR_TEMPFAIL;
    }
    *lp = l;
    return DIR_FOUND;
}