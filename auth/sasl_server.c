/* auth/sasl_server.c - Cyrus SASL server glue: process-wide setup with
 * dirmail's callbacks and the per-connection session API (auth/sasl_server.h).
 *
 * How Cyrus is tamed. Every option a plugin or the library asks for comes
 * from getopt_cb, fed from dirmail.conf; SASL_CB_GETCONFPATH points at
 * "/dev/null", a path under which no <app>.conf can ever exist, so Cyrus reads
 * no configuration file. auxprop_plugin names our own empty property store
 * (empty_store_*), so sasldb or any other installed secret store is never
 * opened; an unknown name would not do, as Cyrus then fails every authzid
 * lookup with SASL_NOMECH. Passwords are checked only by
 * SASL_CB_SERVER_USERDB_CHECKPASS (the caller's function).
 *
 * One trap: when the checkpass callback answers anything but SASL_OK, Cyrus
 * (lib/server.c _sasl_checkpass) goes on to the pwcheck_method verifiers and
 * returns *their* result, so a TEMPFAIL from the check would come back as a
 * plain "no such user". The session therefore records the check's verdict
 * itself and maps results from that record; and as defence in depth a Cyrus
 * SASL_OK counts only when our check said OK during the same call. */
#include <config.h>

#include "auth/sasl_server.h"

#include <pthread.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl_proxy.h"
#include "lib/log.h"

/* Mechanisms that authenticate with a login and password checked by
 * utils->checkpass, i.e. our callback, and need no stored secret. Both send
 * the password in clear (SASL_SEC_NOPLAINTEXT is not in their flags). */
static const char *const servable_mechanisms[] = {"PLAIN", "LOGIN"};

/* Cyrus reads "<path>/<appname>.conf" from this path; nothing can exist
 * below a character device, so no file is ever read. */
#define NO_CONFIG_PATH "/dev/null"
/* Our empty auxprop store, the only one Cyrus is allowed to consult. */
#define AUXPROP_PLUGIN "dirmail-empty"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

enum check_state { CHECK_NONE, CHECK_OK, CHECK_FAILED, CHECK_TEMPFAIL };

static struct {
    bool active;
    bool cyrus; /* sasl_server_init succeeded (false when no mechanism is usable) */
    char mechs[COUNT(servable_mechanisms)][16]; /* configured and servable, in order */
    size_t mech_count;
    char mech_list_opt[64]; /* the same, space-separated, for Cyrus's mech_list */
    bool allow_authzid;
    bool plaintext_without_tls;
    sasl_check_fn *check;
    void *context;
    /* the proxy login (sasl_glue_set_proxy, doc/proxy.md) */
    char proxy_identity[256];
    char proxy_secret[129];
    sasl_proxy_trust_fn *proxy_trusted;
    void *proxy_context;
} glue;

struct sasl_session {
    sasl_conn_t *conn;
    sasl_callback_t callbacks[5];
    char *service;
    bool tls;
    char advertised[64];
    char mech[16];
    enum check_state check;
    bool authzid_refused;
    char *checked_login; /* the login our check accepted in the current call */
    bool in_exchange;    /* the last result was CONTINUE: step may follow */
    bool authenticated;
    const char *user;                 /* owned by conn */
    const char *authid;               /* owned by conn */
    char remote_ip[64];               /* the peer, from remote_ipport */
    bool proxy_peer;                  /* remote_ip is a trusted front node */
    bool proxy_checked;               /* this call's check accepted the proxy credential */
    struct sasl_proxy_client proxied; /* the client it forwarded */
};

static const char *const result_names[] = {
    [SASL_SESSION_CONTINUE] = "continue",
    [SASL_SESSION_OK] = "ok",
    [SASL_SESSION_FAILED] = "failed",
    [SASL_SESSION_TEMPFAIL] = "tempfail",
    [SASL_SESSION_BAD_PROTOCOL] = "bad_protocol",
    [SASL_SESSION_NO_MECHANISM] = "no_mechanism",
    [SASL_SESSION_ENCRYPTION_REQUIRED] = "encryption_required",
};

const char *sasl_session_result_name(enum sasl_session_result result)
{
    if ((size_t)result >= COUNT(result_names))
        return "unknown";
    return result_names[result];
}

/* Cyrus's default mutexes are no-ops; the workers call it from a thread pool. */
static void *mutex_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m != NULL && pthread_mutex_init(m, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

static int mutex_lock(void *m)
{
    return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int mutex_unlock(void *m)
{
    return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void mutex_free(void *m)
{
    if (m != NULL) {
        pthread_mutex_destroy(m);
        free(m);
    }
}

/* getopt_cb - every Cyrus option comes from here, never from a file. */
static int getopt_cb(void *context, const char *plugin_name, const char *option,
                     const char **result, unsigned *len)
{
    const char *v = NULL;
    if (strcmp(option, "mech_list") == 0)
        v = glue.mech_list_opt;
    else if (strcmp(option, "pwcheck_method") == 0)
        v = "auxprop"; /* only reached after our check refused: finds no secret */
    else if (strcmp(option, "auxprop_plugin") == 0)
        v = AUXPROP_PLUGIN;
    else if (strcmp(option, "log_level") == 0)
        v = "3"; /* SASL_LOG_WARN: failures are logged by the glue, once */
    if (v == NULL)
        return SASL_FAIL;
    *result = v;
    if (len != NULL)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

/* getconfpath_cb - sasl.h says the library frees the path, but 2.1.28's
 * load_config (lib/server.c) only reads it and never frees it: a static
 * string is what that code expects (a strdup'd one leaks). */
static int getconfpath_cb(void *context, char **path)
{
    static char no_config_path[] = NO_CONFIG_PATH;
    *path = no_config_path;
    return SASL_OK;
}

/* log_cb - Cyrus's messages into dirmail's log. SASL_LOG_PASS is the level
 * Cyrus reserves for traces that include passwords: dropped unread. */
static int log_cb(void *context, int level, const char *message)
{
    enum log_level lv;
    switch (level) {
    case SASL_LOG_ERR:
        lv = LOG_LEVEL_ERROR;
        break;
    case SASL_LOG_WARN:
        lv = LOG_LEVEL_WARNING;
        break;
    case SASL_LOG_FAIL:
    case SASL_LOG_NOTE:
        lv = LOG_LEVEL_INFO;
        break;
    case SASL_LOG_DEBUG:
    case SASL_LOG_TRACE:
        lv = LOG_LEVEL_DEBUG;
        break;
    default:
        return SASL_OK;
    }
    struct sasl_session *s = context;
    /* After our check refused, Cyrus runs its own verifiers, which can only
     * fail and complain ("unknown password verifier"): that is noise. */
    if (s != NULL && (s->check == CHECK_FAILED || s->check == CHECK_TEMPFAIL))
        lv = LOG_LEVEL_DEBUG;
    char q[512];
    log_msg(lv, "event=sasl_library service=%s message=%s", s != NULL ? s->service : "-",
            log_quote(q, sizeof q, message != NULL ? message : ""));
    return SASL_OK;
}

/* directory_check - an ordinary login: the caller's function decides. */
static enum sasl_check_result directory_check(struct sasl_session *s, const char *user,
                                              const char *pass, unsigned passlen)
{
    char q[300];
    /* RFC 4513 5.1.2: an empty password would be an LDAP anonymous bind, which
     * "succeeds"; a NUL inside cannot reach a C string check intact. */
    if (passlen == 0 || memchr(pass, '\0', passlen) != NULL) {
        log_info("event=sasl_check service=%s login=%s result=failed reason=%s", s->service,
                 log_quote(q, sizeof q, user), passlen == 0 ? "empty_password" : "nul_in_password");
        return SASL_CHECK_FAILED;
    }
    char *copy = malloc((size_t)passlen + 1);
    if (copy == NULL)
        return SASL_CHECK_TEMPFAIL;
    memcpy(copy, pass, passlen);
    copy[passlen] = '\0';
    enum sasl_check_result r = glue.check(glue.context, user, copy, s->service);
    explicit_bzero(copy, passlen);
    free(copy);
    return r;
}

/* proxy_check - the proxy identity (doc/proxy.md), never a directory
 * login: from a trusted front node, with the shared secret. */
static enum sasl_check_result proxy_check(struct sasl_session *s, const char *pass,
                                          unsigned passlen)
{
    s->proxy_checked =
        s->proxy_peer && sasl_proxy_check(glue.proxy_secret, pass, passlen, &s->proxied);
    if (s->proxy_checked)
        return SASL_CHECK_OK;
    log_info("event=proxy_login_refused service=%s proxy=%s reason=%s", s->service, s->remote_ip,
             s->proxy_peer ? "bad_credential" : "untrusted_network");
    return SASL_CHECK_FAILED;
}

/* checkpass_cb - the only password check: the caller's function, or the
 * proxy login's. user is what the mechanism received as authentication
 * identity; pass is not NUL-terminated. */
static int checkpass_cb(sasl_conn_t *conn, void *context, const char *user, const char *pass,
                        unsigned passlen, struct propctx *propctx)
{
    struct sasl_session *s = context;
    enum sasl_check_result r =
        glue.proxy_identity[0] != '\0' && strcmp(user, glue.proxy_identity) == 0
            ? proxy_check(s, pass, passlen)
            : directory_check(s, user, pass, passlen);
    free(s->checked_login);
    s->checked_login = NULL;
    if (r == SASL_CHECK_OK && (s->checked_login = strdup(user)) == NULL)
        r = SASL_CHECK_TEMPFAIL;
    switch (r) {
    case SASL_CHECK_OK:
        s->check = CHECK_OK;
        return SASL_OK;
    case SASL_CHECK_TEMPFAIL:
        s->check = CHECK_TEMPFAIL;
        sasl_seterror(conn, SASL_NOLOG, "password check unavailable");
        return SASL_UNAVAIL;
    case SASL_CHECK_FAILED:
        break;
    }
    s->check = CHECK_FAILED;
    sasl_seterror(conn, SASL_NOLOG, "authentication failed");
    return SASL_BADAUTH;
}

/* proxy_cb - RFC 4616 authzid: acting as someone else than the login is
 * refused unless sasl.allow_authzid; the proxy identity, once its check
 * passed, must act for a user (and the client it forwarded is logged). */
static int proxy_cb(sasl_conn_t *conn, void *context, const char *requested_user, unsigned rlen,
                    const char *auth_identity, unsigned alen, const char *def_realm, unsigned urlen,
                    struct propctx *propctx)
{
    struct sasl_session *s = context;
    if (s->proxy_checked) {
        /* the proxy logs in for a user, never as itself */
        if (rlen == 0 || (rlen == alen && memcmp(requested_user, auth_identity, alen) == 0)) {
            s->authzid_refused = true;
            sasl_seterror(conn, SASL_NOLOG, "the proxy identity needs an authzid");
            return SASL_NOAUTHZ;
        }
        char q[300];
        log_info("event=proxy_login service=%s proxy=%s client=%s client_port=%u user=%s",
                 s->service, s->remote_ip, s->proxied.ip, s->proxied.port,
                 log_quote(q, sizeof q, requested_user));
        return SASL_OK;
    }
    if (rlen == alen && memcmp(requested_user, auth_identity, alen) == 0)
        return SASL_OK;
    if (glue.allow_authzid)
        return SASL_OK;
    s->authzid_refused = true;
    sasl_seterror(conn, SASL_NOLOG, "authorization identity refused");
    return SASL_NOAUTHZ;
}

/* empty_store_lookup - the user exists as far as properties go, and has
 * none: no userPassword, so Cyrus's own verifiers can never accept a
 * password, and an authzid canonicalises (the proxy policy decides). */
static int empty_store_lookup(void *glob_context, sasl_server_params_t *sparams, unsigned flags,
                              const char *user, unsigned ulen)
{
    return SASL_OK;
}

static int empty_store_init(const sasl_utils_t *utils, int max_version, int *out_version,
                            sasl_auxprop_plug_t **plug, const char *plugname)
{
    static char name[] = AUXPROP_PLUGIN;
    static sasl_auxprop_plug_t store = {.auxprop_lookup = empty_store_lookup, .name = name};
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &store;
    return SASL_OK;
}

static bool servable(const char *mech)
{
    for (size_t i = 0; i < COUNT(servable_mechanisms); i++) {
        if (strcasecmp(mech, servable_mechanisms[i]) == 0)
            return true;
    }
    return false;
}

int sasl_glue_init(const struct config_sasl *conf, sasl_check_fn *check, void *context,
                   const char **error_r)
{
    if (glue.active) {
        *error_r = "SASL is already initialised in this process";
        return -1;
    }
    memset(&glue, 0, sizeof glue);
    glue.check = check;
    glue.context = context;
    glue.allow_authzid = conf->allow_authzid;
    glue.plaintext_without_tls = conf->plaintext_without_tls;
    size_t len = 0;
    for (size_t i = 0; i < conf->mechanism_count; i++) {
        const char *m = conf->mechanisms[i];
        if (!servable(m)) {
            log_warning("event=sasl_mechanism_skipped mechanism=%s reason=\"needs a stored "
                        "secret or a credential dirmail does not have\"",
                        m);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < glue.mech_count && !dup; k++)
            dup = strcasecmp(glue.mechs[k], m) == 0;
        if (dup || glue.mech_count >= COUNT(glue.mechs))
            continue;
        int n = snprintf(glue.mechs[glue.mech_count], sizeof glue.mechs[0], "%s", m);
        int o = snprintf(glue.mech_list_opt + len, sizeof glue.mech_list_opt - len, "%s%s",
                         len > 0 ? " " : "", m);
        if (n < 0 || (size_t)n >= sizeof glue.mechs[0] || o < 0 ||
            (size_t)o >= sizeof glue.mech_list_opt - len) {
            *error_r = "SASL mechanism list too long";
            return -1;
        }
        for (char *p = glue.mechs[glue.mech_count]; *p != '\0'; p++)
            *p = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
        len += (size_t)o;
        glue.mech_count++;
    }
    glue.active = true;
    if (glue.mech_count == 0) {
        log_info("event=sasl_init mechanisms=none");
        return 0; /* authentication off: sessions advertise nothing */
    }
    static const sasl_callback_t callbacks[] = {
        {SASL_CB_GETOPT, CB(getopt_cb), NULL},
        {SASL_CB_GETCONFPATH, CB(getconfpath_cb), NULL},
        {SASL_CB_LOG, CB(log_cb), NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    sasl_set_mutex(mutex_alloc, mutex_lock, mutex_unlock, mutex_free);
    int rc = sasl_server_init(callbacks, "dirmail");
    if (rc != SASL_OK) {
        log_error("event=sasl_init result=failed error=\"%s\"", sasl_errstring(rc, NULL, NULL));
        glue.active = false;
        *error_r = "Cyrus SASL sasl_server_init failed (is libsasl2-modules installed?)";
        return -1;
    }
    glue.cyrus = true;
    rc = sasl_auxprop_add_plugin(AUXPROP_PLUGIN, empty_store_init);
    if (rc != SASL_OK) {
        sasl_glue_done();
        *error_r = "Cyrus SASL refused dirmail's auxprop store";
        return -1;
    }
    log_info("event=sasl_init mechanisms=\"%s\" allow_authzid=%s plaintext_without_tls=%s",
             glue.mech_list_opt, glue.allow_authzid ? "yes" : "no",
             glue.plaintext_without_tls ? "yes" : "no");
    return 0;
}

void sasl_glue_set_proxy(const char *identity, const char *secret, sasl_proxy_trust_fn *trusted,
                         void *context)
{
    glue.proxy_identity[0] = '\0';
    explicit_bzero(glue.proxy_secret, sizeof glue.proxy_secret);
    if (identity == NULL || secret == NULL || strlen(identity) >= sizeof glue.proxy_identity ||
        strlen(secret) >= sizeof glue.proxy_secret)
        return;
    snprintf(glue.proxy_identity, sizeof glue.proxy_identity, "%s", identity);
    snprintf(glue.proxy_secret, sizeof glue.proxy_secret, "%s", secret);
    glue.proxy_trusted = trusted;
    glue.proxy_context = context;
}

void sasl_glue_done(void)
{
    if (!glue.active)
        return;
    if (glue.cyrus)
        sasl_server_done();
    memset(&glue, 0, sizeof glue);
}

/* in_list - is word (case-insensitive) one of the space-separated list? */
static bool in_list(const char *list, const char *word)
{
    size_t wlen = strlen(word);
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n == wlen && strncasecmp(p, word, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* advertise - configured order, kept only where Cyrus lists it and, for
 * these plaintext mechanisms, where TLS is on or allowed to be off. */
static int advertise(struct sasl_session *s)
{
    const char *cyrus = NULL;
    if (sasl_listmech(s->conn, NULL, "", " ", "", &cyrus, NULL, NULL) != SASL_OK)
        cyrus = "";
    size_t len = 0;
    for (size_t i = 0; i < glue.mech_count; i++) {
        if (!in_list(cyrus, glue.mechs[i]) || (!s->tls && !glue.plaintext_without_tls))
            continue;
        int n = snprintf(s->advertised + len, sizeof s->advertised - len, "%s%s",
                         len > 0 ? " " : "", glue.mechs[i]);
        if (n < 0 || (size_t)n >= sizeof s->advertised - len)
            return -1;
        len += (size_t)n;
    }
    return 0;
}

struct sasl_session *sasl_session_new(const char *service, const char *server_fqdn,
                                      const char *local_ipport, const char *remote_ipport, bool tls,
                                      unsigned tls_ssf, const char **error_r)
{
    if (!glue.active) {
        *error_r = "sasl_glue_init was not called";
        return NULL;
    }
    struct sasl_session *s = calloc(1, sizeof *s);
    if (s == NULL || (s->service = strdup(service)) == NULL) {
        free(s);
        *error_r = "out of memory";
        return NULL;
    }
    s->tls = tls;
    if (remote_ipport != NULL) {
        size_t n = strcspn(remote_ipport, ";");
        if (n < sizeof s->remote_ip) {
            memcpy(s->remote_ip, remote_ipport, n);
            s->remote_ip[n] = '\0';
        }
    }
    /* the proxy logs in to read mail (reader/proxy.h), never to submit it */
    bool reader = strcmp(service, "pop3") == 0 || strcmp(service, "imap") == 0;
    s->proxy_peer = reader && glue.proxy_identity[0] != '\0' && glue.proxy_trusted != NULL &&
                    s->remote_ip[0] != '\0' && glue.proxy_trusted(glue.proxy_context, s->remote_ip);
    if (!glue.cyrus)
        return s;
    s->callbacks[0] = (sasl_callback_t){SASL_CB_GETOPT, CB(getopt_cb), s};
    s->callbacks[1] = (sasl_callback_t){SASL_CB_LOG, CB(log_cb), s};
    s->callbacks[2] = (sasl_callback_t){SASL_CB_SERVER_USERDB_CHECKPASS, CB(checkpass_cb), s};
    s->callbacks[3] = (sasl_callback_t){SASL_CB_PROXY_POLICY, CB(proxy_cb), s};
    s->callbacks[4] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    int rc = sasl_server_new(service, server_fqdn, NULL, local_ipport, remote_ipport, s->callbacks,
                             0, &s->conn);
    if (rc != SASL_OK) {
        *error_r = "sasl_server_new failed";
        log_error("event=sasl_session_new service=%s error=\"%s\"", service,
                  sasl_errstring(rc, NULL, NULL));
        sasl_session_free(&s);
        return NULL;
    }
    /* No SASL security layer (max_ssf 0): the protocol code speaks plain
     * lines or TLS, never a SASL-wrapped stream. */
    sasl_security_properties_t sp = {0};
    sp.security_flags = SASL_SEC_NOANONYMOUS;
    if (!tls && !glue.plaintext_without_tls)
        sp.security_flags |= SASL_SEC_NOPLAINTEXT;
    sasl_ssf_t ext = tls ? (sasl_ssf_t)tls_ssf : 0;
    if (sasl_setprop(s->conn, SASL_SEC_PROPS, &sp) != SASL_OK ||
        sasl_setprop(s->conn, SASL_SSF_EXTERNAL, &ext) != SASL_OK || advertise(s) < 0) {
        *error_r = "cannot set SASL security properties";
        sasl_session_free(&s);
        return NULL;
    }
    return s;
}

void sasl_session_free(struct sasl_session **sp)
{
    struct sasl_session *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    if (s->conn != NULL)
        sasl_dispose(&s->conn);
    free(s->checked_login);
    free(s->service);
    free(s);
}

const char *sasl_session_mechanisms(struct sasl_session *s)
{
    return s->advertised;
}

const char *sasl_session_user(const struct sasl_session *s)
{
    return s->authenticated ? s->user : NULL;
}

const char *sasl_session_authid(const struct sasl_session *s)
{
    return s->authenticated ? s->authid : NULL;
}

const char *sasl_session_mechanism(const struct sasl_session *s)
{
    return s->mech[0] != '\0' ? s->mech : NULL;
}

/* map - one Cyrus answer to our result; the check's own verdict wins over
 * what Cyrus made of it (see the top of this file). */
static enum sasl_session_result map(struct sasl_session *s, int rc)
{
    if (s->check == CHECK_TEMPFAIL)
        return SASL_SESSION_TEMPFAIL;
    if (s->check == CHECK_FAILED || s->authzid_refused)
        return SASL_SESSION_FAILED;
    switch (rc) {
    case SASL_OK:
        return SASL_SESSION_OK;
    case SASL_CONTINUE:
        return SASL_SESSION_CONTINUE;
    case SASL_BADPROT:
    case SASL_BADPARAM:
        return SASL_SESSION_BAD_PROTOCOL;
    case SASL_NOMECH:
    case SASL_TOOWEAK:
        return SASL_SESSION_NO_MECHANISM;
    case SASL_ENCRYPT:
        return SASL_SESSION_ENCRYPTION_REQUIRED;
    case SASL_BADAUTH:
    case SASL_NOUSER:
    case SASL_NOAUTHZ:
    case SASL_NOVERIFY:
    case SASL_DISABLED:
    case SASL_EXPIRED:
    case SASL_BADVERS:
        return SASL_SESSION_FAILED;
    default: /* SASL_FAIL, SASL_NOMEM, SASL_UNAVAIL, SASL_TRYAGAIN, ...: ours, not the client's */
        return SASL_SESSION_TEMPFAIL;
    }
}

/* finish - turn a Cyrus return into the result, pick up the identities on
 * success, and log the end of an exchange (one line, never a password). */
static enum sasl_session_result finish(struct sasl_session *s, int rc, const char *serverout,
                                       unsigned serveroutlen, const unsigned char **out,
                                       size_t *out_len)
{
    enum sasl_session_result r = map(s, rc);
    s->in_exchange = r == SASL_SESSION_CONTINUE;
    *out = (const unsigned char *)(serverout != NULL ? serverout : "");
    *out_len = serverout != NULL ? serveroutlen : 0;
    if (r == SASL_SESSION_OK) {
        const void *user = NULL, *authid = NULL;
        if (sasl_getprop(s->conn, SASL_USERNAME, &user) != SASL_OK || user == NULL ||
            sasl_getprop(s->conn, SASL_AUTHUSER, &authid) != SASL_OK || authid == NULL) {
            r = SASL_SESSION_TEMPFAIL;
        } else if (s->check != CHECK_OK || s->checked_login == NULL ||
                   strcmp(s->checked_login, authid) != 0) {
            /* Cyrus says OK but our check did not approve this login in this
             * call: never authenticate on anyone else's word. */
            log_error("event=sasl_auth service=%s mech=%s result=failed reason=unchecked_success",
                      s->service, s->mech);
            r = SASL_SESSION_FAILED;
        } else {
            s->user = user;
            s->authid = authid;
            s->authenticated = true;
        }
    }
    if (r != SASL_SESSION_CONTINUE) {
        char qu[300], qa[300];
        const char *reason = s->authzid_refused ? " reason=authzid_refused"
                             : s->check == CHECK_NONE && r == SASL_SESSION_FAILED
                                 ? " reason=mechanism"
                                 : "";
        log_info("event=sasl_auth service=%s mech=%s result=%s login=%s user=%s%s", s->service,
                 s->mech[0] != '\0' ? s->mech : "-", sasl_session_result_name(r),
                 log_quote(qa, sizeof qa, s->checked_login != NULL ? s->checked_login : "-"),
                 log_quote(qu, sizeof qu, s->authenticated ? s->user : "-"), reason);
    }
    return r;
}

/* begin_call - forget the previous call's verdict. */
static void begin_call(struct sasl_session *s)
{
    s->check = CHECK_NONE;
    s->authzid_refused = false;
    s->proxy_checked = false;
    free(s->checked_login);
    s->checked_login = NULL;
}

enum sasl_session_result sasl_session_start(struct sasl_session *s, const char *mech,
                                            const unsigned char *initial, size_t initial_len,
                                            const unsigned char **out, size_t *out_len)
{
    *out = (const unsigned char *)"";
    *out_len = 0;
    begin_call(s);
    s->authenticated = false;
    s->in_exchange = false;
    s->user = s->authid = NULL;
    s->mech[0] = '\0';
    bool known = false;
    for (size_t i = 0; i < glue.mech_count && !known; i++) {
        if (strcasecmp(mech, glue.mechs[i]) == 0) {
            known = true;
            snprintf(s->mech, sizeof s->mech, "%s", glue.mechs[i]);
        }
    }
    if (!known || s->conn == NULL)
        return SASL_SESSION_NO_MECHANISM;
    if (!in_list(s->advertised, s->mech))
        return !s->tls && !glue.plaintext_without_tls ? SASL_SESSION_ENCRYPTION_REQUIRED
                                                      : SASL_SESSION_NO_MECHANISM;
    if (initial != NULL && initial_len > SASL_SESSION_INPUT_MAX)
        return SASL_SESSION_BAD_PROTOCOL;
    const char *serverout = NULL;
    unsigned serveroutlen = 0;
    /* Cyrus tells "no initial response" (NULL) from an empty one ("", 0). */
    int rc = sasl_server_start(
        s->conn, s->mech, initial != NULL ? (initial_len > 0 ? (const char *)initial : "") : NULL,
        (unsigned)initial_len, &serverout, &serveroutlen);
    return finish(s, rc, serverout, serveroutlen, out, out_len);
}

enum sasl_session_result sasl_session_step(struct sasl_session *s, const unsigned char *in,
                                           size_t in_len, const unsigned char **out,
                                           size_t *out_len)
{
    *out = (const unsigned char *)"";
    *out_len = 0;
    if (!s->in_exchange)
        return SASL_SESSION_BAD_PROTOCOL;
    if (in_len > SASL_SESSION_INPUT_MAX) {
        s->in_exchange = false;
        return SASL_SESSION_BAD_PROTOCOL;
    }
    begin_call(s);
    const char *serverout = NULL;
    unsigned serveroutlen = 0;
    int rc = sasl_server_step(s->conn, in_len > 0 ? (const char *)in : "", (unsigned)in_len,
                              &serverout, &serveroutlen);
    return finish(s, rc, serverout, serveroutlen, out, out_len);
}
