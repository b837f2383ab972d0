/* tests/auth_query.c - a test client of the auth socket through
 * auth/libauthclient.a, for test_auth_socket.py:
 *
 *   auth_query SOCKET TIMEOUT_MS VERB ARG...
 *       one blocking request; prints the answer re-encoded as the protocol's
 *       body ("FOUND kind=local dn=..."); exit 0 FOUND/OK, 1 NOTFOUND/FAILED,
 *       75 TEMPFAIL, 2 ERROR or usage.
 *   auth_query -a SOCKET TIMEOUT_MS VERB ARG... [-- VERB ARG...]...
 *       all requests pipelined at once on one connection through the event
 *       loop API; prints "N MS BODY" per answer in arrival order (N: the
 *       request's position, MS: milliseconds since sending). Exit 0. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_client.h"
#include "lib/buf.h"
#include "lib/event.h"

struct req {
    enum auth_request_type type;
    const char *const *args;
    size_t argc;
};

static int parse_verb(const char *verb, enum auth_request_type *type)
{
    static const enum auth_request_type types[] = {AUTH_REQ_RESOLVE, AUTH_REQ_AUTH, AUTH_REQ_USER,
                                                   AUTH_REQ_SENDERS};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(verb, auth_request_type_name(types[i])) == 0) {
            *type = types[i];
            return 0;
        }
    }
    return -1;
}

/* body_of - the response as the protocol would send it, without the id. */
static void body_of(const struct auth_response *resp, struct buf *out)
{
    if (resp->recipient != NULL)
        auth_body_recipient(out, resp->status, resp->recipient);
    else if (resp->user != NULL)
        auth_body_user(out, resp->status, resp->user);
    else if (resp->status == AUTH_FOUND && resp->senders.count > 0)
        auth_body_senders(out, &resp->senders);
    else
        auth_body_status(out, resp->status, resp->error);
}

static int exit_code(enum auth_status s)
{
    switch (s) {
    case AUTH_FOUND:
    case AUTH_OK:
        return 0;
    case AUTH_NOTFOUND:
    case AUTH_FAILED:
        return 1;
    case AUTH_TEMPFAIL:
        return 75;
    case AUTH_ERROR:
        break;
    }
    return 2;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct async_state {
    struct event_loop *loop;
    unsigned left;
    uint64_t start;
};

struct async_req {
    struct async_state *st;
    unsigned n;
};

static void answered(void *ctx, const struct auth_response *resp)
{
    struct async_req *r = ctx;
    struct buf b = BUF_INIT;
    body_of(resp, &b);
    printf("%u %llu %.*s\n", r->n, (unsigned long long)(mono_ms() - r->st->start), (int)buf_len(&b),
           buf_len(&b) ? buf_ptr(&b) : "");
    fflush(stdout);
    buf_release(&b);
    if (--r->st->left == 0)
        event_loop_stop(r->st->loop);
}

static int run_async(const char *path, unsigned timeout, int argc, char **argv)
{
    struct async_state st = {.loop = event_loop_new(), .start = mono_ms()};
    struct auth_async *a = st.loop != NULL ? auth_async_new(st.loop, path, timeout) : NULL;
    struct async_req reqs[64];
    unsigned count = 0;
    if (a == NULL)
        return 2;
    for (int i = 0; i < argc && count < 64;) {
        enum auth_request_type type;
        if (parse_verb(argv[i], &type) < 0)
            return 2;
        int j = i + 1;
        while (j < argc && strcmp(argv[j], "--") != 0)
            j++;
        reqs[count] = (struct async_req){.st = &st, .n = count};
        if (auth_async_request(a, type, (const char *const *)argv + i + 1, (size_t)(j - i - 1),
                               answered, &reqs[count]) == 0) {
            fprintf(stderr, "request %u not sent\n", count);
            return 2;
        }
        count++;
        st.left++;
        i = j + 1;
    }
    if (st.left > 0)
        event_loop_run(st.loop);
    auth_async_free(&a);
    event_loop_free(&st.loop);
    return 0;
}

int main(int argc, char **argv)
{
    bool async = argc > 1 && strcmp(argv[1], "-a") == 0;
    if (async) {
        argv++;
        argc--;
    }
    enum auth_request_type type;
    if (argc < 4 || parse_verb(argv[3], &type) < 0) {
        fprintf(stderr, "usage: auth_query [-a] SOCKET TIMEOUT_MS VERB ARG...\n");
        return 2;
    }
    unsigned timeout = (unsigned)strtoul(argv[2], NULL, 10);
    if (async)
        return run_async(argv[1], timeout, argc - 3, argv + 3);
    struct auth_client *c = auth_client_new(argv[1], timeout);
    if (c == NULL)
        return 2;
    struct auth_response resp;
    enum auth_status s =
        auth_client_request(c, type, (const char *const *)argv + 4, (size_t)(argc - 4), &resp);
    struct buf b = BUF_INIT;
    body_of(&resp, &b);
    printf("%.*s\n", (int)buf_len(&b), buf_len(&b) ? buf_ptr(&b) : "");
    buf_release(&b);
    auth_response_clear(&resp);
    auth_client_free(&c);
    return exit_code(s);
}
