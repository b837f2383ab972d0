/* gateway/pregreet_cache.h - the client addresses that passed the pregreet
 * test lately (Postfix postscreen's greet cache), shared by every worker: one
 * fixed anonymous shared mapping made by the master before it forks. It only
 * remembers; the SMTP session decides what a pass is and what it is worth. */
#ifndef DIRMAIL_PREGREET_CACHE_H
#define DIRMAIL_PREGREET_CACHE_H

#include <stdbool.h>

/* Addresses remembered at once in dirmaild (32 octets each: 512 KiB, touched
 * only as used). An address lives in a window of PREGREET_CACHE_PROBE slots
 * from its hash; when its window is full, the address recorded longest ago
 * gives way (an expired one, if any, is always among the oldest). A lost
 * address costs its client one more wait, never a refusal. */
#define PREGREET_CACHE_SLOTS 16384u
#define PREGREET_CACHE_PROBE 16u

struct pregreet_cache;

/* pregreet_cache_new - map a table of slots addresses (MAP_SHARED |
 * MAP_ANONYMOUS; the master passes PREGREET_CACHE_SLOTS, tests a few).
 * Master only, before forking. NULL on failure with *error_r malloc'd. */
struct pregreet_cache *pregreet_cache_new(unsigned slots, char **error_r);
/* pregreet_cache_free - unmap; NULLs *cache; NULL is fine. */
void pregreet_cache_free(struct pregreet_cache **cache);

/* client_ip is the text form (IPv4 or IPv6; "::ffff:a.b.c.d" is a.b.c.d);
 * an unparsable one is never remembered. now_ms is CLOCK_MONOTONIC (the
 * same clock in every process). Every call is best effort and never waits:
 * when another worker is writing the same slot, a lookup misses and a
 * record or forget is dropped, which at worst makes a client wait again. */

/* pregreet_cache_passed - did client_ip pass less than ttl_s seconds before
 * now_ms? Looking does not refresh: a client proves itself again once its
 * pass is ttl_s old, as under postscreen_greet_ttl. ttl_s 0: false. */
bool pregreet_cache_passed(struct pregreet_cache *cache, const char *client_ip, unsigned ttl_s,
                           unsigned long long now_ms);
/* pregreet_cache_record - client_ip passed at now_ms. */
void pregreet_cache_record(struct pregreet_cache *cache, const char *client_ip,
                           unsigned long long now_ms);
/* pregreet_cache_forget - client_ip failed the test: drop its record. */
void pregreet_cache_forget(struct pregreet_cache *cache, const char *client_ip);

#endif
