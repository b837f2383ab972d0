/* delivery/sieve/sieve_cache.c - compiling (lexer, parser, validator in
 * order) and the compiled-script cache. An entry in use is never freed:
 * each holds a reference count, and eviction skips held entries. */
#include "config.h"

#include "delivery/sieve/sieve_cache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve_parse.h"
#include "delivery/sieve/sieve_validate.h"

void sieve_limits_default(struct sieve_limits *l)
{
    l->script_max = SIEVE_DEFAULT_SCRIPT_MAX;
    l->string_max = SIEVE_DEFAULT_STRING_MAX;
    l->nesting_max = SIEVE_DEFAULT_NESTING_MAX;
    l->actions_max = SIEVE_DEFAULT_ACTIONS_MAX;
    l->redirects_max = SIEVE_DEFAULT_REDIRECTS_MAX;
    l->steps_max = SIEVE_DEFAULT_STEPS_MAX;
    l->variables_max = SIEVE_DEFAULT_VARIABLES_MAX;
}

struct sieve_script *sieve_compile(const char *text, size_t len, const struct sieve_limits *limits,
                                   struct sieve_errors *errors)
{
    if (len > limits->script_max) {
        sieve_errors_add(errors, 1, 1, "script longer than %zu octets", limits->script_max);
        return NULL;
    }
    struct sieve_script *s = calloc(1, sizeof *s);
    if (s == NULL) {
        sieve_errors_add(errors, 0, 0, "out of memory");
        return NULL;
    }
    s->limits = *limits;
    if (sieve_parse(text, len, limits, errors, &s->commands, &s->ncommands) < 0 ||
        sieve_validate(s, errors) < 0) {
        sieve_script_free(&s);
        if (errors->count == 0)
            sieve_errors_add(errors, 0, 0, "out of memory");
        return NULL;
    }
    return s;
}

void sieve_script_free(struct sieve_script **script)
{
    struct sieve_script *s = *script;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ncommands; i++)
        sieve_node_free(s->commands[i]);
    free(s->commands);
    sieve_errors_clear(&s->warnings);
    free(s);
    *script = NULL;
}

const struct sieve_errors *sieve_script_warnings(const struct sieve_script *script)
{
    return &script->warnings;
}

struct entry {
    unsigned char key[32];
    struct sieve_script *script;
    size_t refs;
    unsigned long last_use;
};

struct sieve_cache {
    pthread_mutex_t lock;
    struct entry *entries;
    size_t count, max;
    unsigned long clock;
    size_t compiled, hits;
};

struct sieve_cache *sieve_cache_new(size_t max_entries)
{
    struct sieve_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->max = max_entries > 0 ? max_entries : 1;
    c->entries = calloc(c->max, sizeof *c->entries);
    if (c->entries == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sieve_cache_free(struct sieve_cache **cache)
{
    struct sieve_cache *c = *cache;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++)
        sieve_script_free(&c->entries[i].script);
    free(c->entries);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cache = NULL;
}

/* cache_key - the hash covers the limits too: a script compiled under
 * other limits is another compilation. */
static int cache_key(const char *text, size_t len, const struct sieve_limits *limits,
                     unsigned char key[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, limits, sizeof *limits) == 1 &&
             EVP_DigestUpdate(md, text, len) == 1 && EVP_DigestFinal_ex(md, key, &n) == 1 &&
             n == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

const struct sieve_script *sieve_cache_get(struct sieve_cache *c, const char *text, size_t len,
                                           const struct sieve_limits *limits,
                                           struct sieve_errors *errors)
{
    unsigned char key[32];
    if (cache_key(text, len, limits, key) < 0) {
        sieve_errors_add(errors, 0, 0, "cannot hash the script");
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        if (memcmp(c->entries[i].key, key, 32) == 0) {
            c->entries[i].refs++;
            c->entries[i].last_use = ++c->clock;
            c->hits++;
            struct sieve_script *s = c->entries[i].script;
            pthread_mutex_unlock(&c->lock);
            return s;
        }
    pthread_mutex_unlock(&c->lock);

    /* compile outside the lock: another thread may compile the same text,
     * and then the second copy is simply not cached */
    struct sieve_script *s = sieve_compile(text, len, limits, errors);
    if (s == NULL)
        return NULL;
    pthread_mutex_lock(&c->lock);
    c->compiled++;
    struct entry *slot = NULL;
    if (c->count < c->max) {
        slot = &c->entries[c->count++];
    } else {
        for (size_t i = 0; i < c->count; i++)
            if (c->entries[i].refs == 0 &&
                (slot == NULL || c->entries[i].last_use < slot->last_use))
                slot = &c->entries[i];
        if (slot != NULL)
            sieve_script_free(&slot->script);
    }
    if (slot == NULL) {
        /* every entry is held: this one lives until its release */
        pthread_mutex_unlock(&c->lock);
        return s;
    }
    memcpy(slot->key, key, 32);
    slot->script = s;
    slot->refs = 1;
    slot->last_use = ++c->clock;
    pthread_mutex_unlock(&c->lock);
    return s;
}

void sieve_cache_release(struct sieve_cache *c, const struct sieve_script *script)
{
    if (script == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        if (c->entries[i].script == script) {
            if (c->entries[i].refs > 0)
                c->entries[i].refs--;
            pthread_mutex_unlock(&c->lock);
            return;
        }
    pthread_mutex_unlock(&c->lock);
    struct sieve_script *s = (struct sieve_script *)script;
    sieve_script_free(&s);
}

void sieve_cache_stats(struct sieve_cache *c, size_t *compiled, size_t *hits)
{
    pthread_mutex_lock(&c->lock);
    *compiled = c->compiled;
    *hits = c->hits;
    pthread_mutex_unlock(&c->lock);
}
