/* proto/conn_limit.h - connection counts shared by every worker: per
 * service, per (service, client address), and in all; and failed logins per
 * client address. One anonymous shared mapping made by the master before it
 * forks; each process that counts has a slot so that the master can give
 * back what a dead worker held. */
#ifndef DIRMAIL_CONN_LIMIT_H
#define DIRMAIL_CONN_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Fixed sizes: the table never grows, so a full table is a refusal, not an
 * allocation. 8192 (service, address) pairs at once; a key is looked for in
 * a window of CONN_LIMIT_PROBE slots from its hash. */
#define CONN_LIMIT_ADDRESSES 8192u
#define CONN_LIMIT_PROBE 32u
#define CONN_LIMIT_SERVICES 64u
#define CONN_LIMIT_PROCS 256u
/* Client addresses whose failed logins are remembered at once; when a key's
 * window is full, the entry touched longest ago gives way. */
#define CONN_LIMIT_AUTH_ADDRESSES 4096u

struct conn_limit;

enum conn_limit_result {
    CONN_LIMIT_OK,
    CONN_LIMIT_TOTAL_FULL,   /* limits.max_connections, all services */
    CONN_LIMIT_SERVICE_FULL, /* the service's max_connections */
    CONN_LIMIT_IP_FULL,      /* the service's max_connections_per_ip */
    CONN_LIMIT_TABLE_FULL,   /* no room to count one more address: refused */
};

/* What a worker holds for one accepted connection; give it back with
 * conn_limit_release. */
struct conn_limit_token {
    unsigned service_slot;
    unsigned entry; /* index in the address table */
    bool held;
};

/* conn_limit_new - map the shared table (MAP_SHARED|MAP_ANONYMOUS). Master
 * only, before forking. NULL on failure with *error_r malloc'd. */
struct conn_limit *conn_limit_new(char **error_r);
void conn_limit_free(struct conn_limit **limits);

/* conn_limit_service_slot - the counter slot named name (found or claimed).
 * Master only. -1 when all CONN_LIMIT_SERVICES slots are taken. */
int conn_limit_service_slot(struct conn_limit *limits, const char *name);
/* conn_limit_service_forget - let a slot be claimed by another name; only
 * when no process counts against it any more. Master only. */
void conn_limit_service_forget(struct conn_limit *limits, unsigned slot);

/* conn_limit_proc_claim - a free process slot for a child about to be forked,
 * or -1. conn_limit_proc_reclaim - after the child is reaped: give back
 * everything it still held (it may have died with connections open) and free
 * the slot. Returns false when the table lock could not be taken now (retry). */
int conn_limit_proc_claim(struct conn_limit *limits);
bool conn_limit_proc_reclaim(struct conn_limit *limits, unsigned proc);

/* conn_limit_acquire - count one connection from addr on the service, unless
 * a limit (0 = none) is reached. Called by the worker in proc slot proc. */
enum conn_limit_result conn_limit_acquire(struct conn_limit *limits, unsigned proc,
                                          unsigned service_slot, const struct sockaddr *addr,
                                          unsigned max_total, unsigned max_service,
                                          unsigned max_per_ip, struct conn_limit_token *token_r);
void conn_limit_release(struct conn_limit *limits, unsigned proc, struct conn_limit_token *token);

/* conn_limit_count - current counts, for tests and logs. */
unsigned conn_limit_service_count(const struct conn_limit *limits, unsigned service_slot);
unsigned conn_limit_total_count(const struct conn_limit *limits);

const char *conn_limit_result_name(enum conn_limit_result result);

/* conn_limit_overload_set - record that the service is (or is no longer)
 * overloaded, for every worker at once. True only for the one caller whose
 * call changed the state, so that a change is logged once; *since_r is when
 * the state being left began (ms, 0 when it was not overloaded).
 * conn_limit_overloaded - the recorded state. */
bool conn_limit_overload_set(struct conn_limit *limits, unsigned service_slot, bool overloaded,
                             uint64_t now_ms, uint64_t *since_r);
bool conn_limit_overloaded(const struct conn_limit *limits, unsigned service_slot);

/* Failed logins per client address, over every worker and session: a leaky
 * bucket per address that fills by one per failure and drains max failures
 * per window_s seconds, so max failures in a burst block the address and
 * it gets one more try each window_s / max seconds after. now_ms is
 * CLOCK_MONOTONIC (the same clock in every process). client_ip is the text
 * form (IPv4 or IPv6); an unparsable one is never counted. max 0: off. */

/* conn_limit_auth_blocked - has client_ip reached max failures? */
bool conn_limit_auth_blocked(struct conn_limit *limits, const char *client_ip, unsigned max,
                             unsigned window_s, unsigned long long now_ms);
/* conn_limit_auth_failure - count one failure; the failures counted now
 * (after draining), which the caller compares with max. */
unsigned conn_limit_auth_failure(struct conn_limit *limits, const char *client_ip, unsigned max,
                                 unsigned window_s, unsigned long long now_ms);

#endif
