/* auth/auth_client.h - asking the auth process (doc/auth-protocol.md) from
 * outside it: blocking calls with a timeout for tools, dirmail-deliver and
 * Cyrus SASL's password check, and a non-blocking API for a worker's event
 * loop (many sessions' requests pipelined over one connection, a callback per
 * answer). Whatever goes wrong on the way (no socket, EOF, timeout, an answer
 * that does not parse) is AUTH_TEMPFAIL, never NOTFOUND: the auth process may
 * be restarting. This library (libauthclient.a) does not link libldap. */
#ifndef DIRMAIL_AUTH_CLIENT_H
#define DIRMAIL_AUTH_CLIENT_H

#include <stdint.h>

#include "auth/auth_protocol.h"

struct event_loop;

/* ---- blocking ---- */

struct auth_client;

/* auth_client_new - a client for the socket at path (connected on first use,
 * reconnected after a failure). Each call waits at most timeout_ms in all.
 * Calls are serialised by a mutex, so threads may share one client. NULL when
 * out of memory. */
struct auth_client *auth_client_new(const char *socket_path, unsigned timeout_ms);
void auth_client_free(struct auth_client **client);

/* auth_client_request - send one request (args as the protocol orders them)
 * and wait for its answer. resp is filled in every case (auth_response_clear
 * it): on a failure on the way resp->status is AUTH_TEMPFAIL and resp->error
 * says why. A request that cannot be encoded (too long, bad argument count)
 * gives AUTH_ERROR; so does the server's ERROR answer. Returns resp->status. */
enum auth_status auth_client_request(struct auth_client *client, enum auth_request_type type,
                                     const char *const *args, size_t argc,
                                     struct auth_response *resp);

/* Typed shortcuts; the result is moved to the caller (NULL / empty unless
 * the status carries it: FOUND or NOTFOUND for resolve, FOUND for user and
 * senders, OK for authenticate). */
enum auth_status auth_client_resolve(struct auth_client *client, const char *address,
                                     struct auth_recipient **r);
enum auth_status auth_client_authenticate(struct auth_client *client, const char *login,
                                          const char *password, const char *service,
                                          struct auth_user **u);
enum auth_status auth_client_user(struct auth_client *client, const char *key,
                                  struct auth_user **u);
enum auth_status auth_client_senders(struct auth_client *client, const char *login,
                                     struct auth_strlist *senders);

/* ---- non-blocking, on an event loop ---- */

struct auth_async;

/* Called once per request, from the loop, never from inside
 * auth_async_request. resp is valid during the call only; a failure on the
 * way arrives as AUTH_TEMPFAIL with resp->error set. Do not free the
 * auth_async from inside a callback. */
typedef void auth_async_cb(void *ctx, const struct auth_response *resp);

/* auth_async_new - a client on loop for the socket at path; a request not
 * answered within timeout_ms is answered TEMPFAIL. NULL when out of memory. */
struct auth_async *auth_async_new(struct event_loop *loop, const char *socket_path,
                                  unsigned timeout_ms);
/* auth_async_free - close; callbacks still pending are not called. */
void auth_async_free(struct auth_async **async);

/* auth_async_request - send a request; cb(ctx, resp) follows. Returns the
 * request's id (nonzero) for auth_async_cancel, or 0 when it could not even
 * be queued (out of memory, or a request that cannot be encoded): then cb is
 * not called. */
uint32_t auth_async_request(struct auth_async *async, enum auth_request_type type,
                            const char *const *args, size_t argc, auth_async_cb *cb, void *ctx);

/* auth_async_cancel - the session that asked is gone: never call its cb. */
void auth_async_cancel(struct auth_async *async, uint32_t id);

/* auth_async_pending - requests waiting for an answer. */
unsigned auth_async_pending(const struct auth_async *async);

#endif
