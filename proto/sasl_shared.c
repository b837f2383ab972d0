/* proto/sasl_shared.c - see sasl_shared.h. */
#include "config.h"

#include "proto/sasl_shared.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "proto/network_match.h"
#include "proto/service.h"

/* How long one answer from the auth process may take. */
#define AUTH_TIMEOUT_MS 10000

static struct sasl_shared *shared;

/* check - the password check Cyrus calls on a pool thread: the auth process
 * decides (password, account status, and whether the user may use service:
 * dirmailService). Anything but a clear answer is a temporary failure. */
static enum sasl_check_result check(void *ctx, const char *login, const char *password,
                                    const char *service)
{
    struct sasl_shared *sh = ctx;
    struct auth_user *u = NULL;
    enum auth_status st = auth_client_authenticate(sh->client, login, password, service, &u);
    auth_user_free(&u);
    if (st == AUTH_OK)
        return SASL_CHECK_OK;
    return st == AUTH_FAILED ? SASL_CHECK_FAILED : SASL_CHECK_TEMPFAIL;
}

/* proxy_trusted - a front node may use the proxy login (doc/proxy.md). */
static bool proxy_trusted(void *ctx, const char *ip)
{
    const struct config_proxy *px = ctx;
    return network_list_contains(px->trusted_networks, px->trusted_network_count, ip);
}

static void destroy(struct sasl_shared *sh)
{
    threadpool_free(&sh->pool);
    if (sh->sasl_ready)
        sasl_glue_done();
    auth_async_free(&sh->async);
    auth_client_free(&sh->client);
    free(sh);
}

struct sasl_shared *sasl_shared_acquire(struct event_loop *loop, const struct config *conf)
{
    if (shared != NULL) {
        shared->refs++;
        return shared;
    }
    char *auth_path = config_state_path(conf, CONFIG_STATE_AUTH_SOCKET);
    struct sasl_shared *sh = auth_path != NULL ? calloc(1, sizeof *sh) : NULL;
    if (sh == NULL) {
        free(auth_path);
        log_error("event=sasl_shared_failed error=\"out of memory\"");
        return NULL;
    }
    sh->async = auth_async_new(loop, auth_path, AUTH_TIMEOUT_MS);
    sh->client = auth_client_new(auth_path, AUTH_TIMEOUT_MS);
    free(auth_path);
    if (sh->async == NULL || sh->client == NULL) {
        log_error("event=sasl_shared_failed error=\"out of memory\"");
        destroy(sh);
        return NULL;
    }
    const char *serr = NULL;
    if (sasl_glue_init(&conf->sasl, check, sh, &serr) == 0) {
        sh->sasl_ready = true;
        if (conf->proxy.secret != NULL && conf->proxy.trusted_network_count > 0)
            sasl_glue_set_proxy(conf->proxy.identity, conf->proxy.secret, proxy_trusted,
                                (void *)&conf->proxy);
    } else
        log_error("event=sasl_init_failed error=\"%s\"", serr != NULL ? serr : "?");
    const char *perr = NULL;
    sh->pool = threadpool_new(loop, SASL_SHARED_THREADS, &perr);
    if (sh->pool == NULL) {
        log_error("event=threadpool_failed error=\"%s\"", perr);
        destroy(sh);
        return NULL;
    }
    sh->refs = 1;
    shared = sh;
    return sh;
}

void sasl_shared_release(struct sasl_shared **shp)
{
    struct sasl_shared *sh = *shp;
    if (sh == NULL)
        return;
    *shp = NULL;
    if (--sh->refs > 0)
        return;
    shared = NULL;
    destroy(sh);
}

struct sasl_session *sasl_shared_session_new(const struct sasl_shared *sh,
                                             const struct service_session *ss, const char *service,
                                             bool tls)
{
    if (sh == NULL || !sh->sasl_ready)
        return NULL;
    char local[96], remote[96];
    snprintf(local, sizeof local, "%s;%u", conn_local_ip(ss->conn), conn_local_port(ss->conn));
    snprintf(remote, sizeof remote, "%s;%u", ss->client_ip, ss->client_port);
    const char *err = NULL;
    struct sasl_session *s = sasl_session_new(service, ss->hostname, local, remote, tls,
                                              tls ? (unsigned)conn_tls_bits(ss->conn) : 0, &err);
    if (s == NULL)
        log_error("event=sasl_session_failed client=%s error=\"%s\"", ss->client_ip,
                  err != NULL ? err : "?");
    return s;
}
