/* delivery/sieve/sieve_cache.h - compiled scripts kept per process, keyed
 * by the SHA-256 of their text and limits, so the same script is parsed
 * once however many messages it filters. Thread-safe; bounded in entries. */
#ifndef DIRMAIL_SIEVE_CACHE_H
#define DIRMAIL_SIEVE_CACHE_H

#include "delivery/sieve/sieve.h"

struct sieve_cache;

/* sieve_cache_new - a cache of at most max_entries scripts (least recently
 * used goes first); NULL when out of memory. */
struct sieve_cache *sieve_cache_new(size_t max_entries);
void sieve_cache_free(struct sieve_cache **cache);

/* sieve_cache_get - the compiled script for text, compiling it on a miss.
 * The script stays owned by the cache; the caller holds it until it calls
 * sieve_cache_release. NULL with errors filled when it does not compile
 * (errors are not cached: a broken script is rare and its errors are
 * wanted in the log each time). */
const struct sieve_script *sieve_cache_get(struct sieve_cache *cache, const char *text, size_t len,
                                           const struct sieve_limits *limits,
                                           struct sieve_errors *errors);
void sieve_cache_release(struct sieve_cache *cache, const struct sieve_script *script);

/* sieve_cache_stats - compilations and hits so far (tests, logs). */
void sieve_cache_stats(struct sieve_cache *cache, size_t *compiled, size_t *hits);

#endif
