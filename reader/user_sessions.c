/* reader/user_sessions.c - see user_sessions.h.
 *
 * A chained hash table that grows by doubling; an entry goes when its count
 * falls to 0, so the table holds only users with a session now. */
#include "config.h"

#include "reader/user_sessions.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct entry {
    struct entry *next;
    unsigned count;
    char user[]; /* flexible: the key as first given */
};

static struct entry **buckets;
static size_t bucket_count; /* a power of two, or 0 before the first use */
static size_t entry_count;

/* hash - FNV-1a over the lower-cased key, matching strcasecmp. */
static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)tolower((unsigned char)*s);
        h *= 1099511628211ull;
    }
    return h;
}

static struct entry **slot(const char *user)
{
    struct entry **e = &buckets[hash(user) & (bucket_count - 1)];
    while (*e != NULL && strcasecmp((*e)->user, user) != 0)
        e = &(*e)->next;
    return e;
}

/* grow - twice the buckets (the first time 64); false out of memory, the
 * table unchanged. */
static bool grow(void)
{
    size_t n = bucket_count == 0 ? 64 : bucket_count * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return false;
    for (size_t i = 0; i < bucket_count; i++) {
        for (struct entry *e = buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            size_t k = hash(e->user) & (n - 1);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(buckets);
    buckets = b;
    bucket_count = n;
    return true;
}

bool user_sessions_acquire(const char *user, unsigned max, bool *full_r)
{
    *full_r = false;
    if (entry_count >= bucket_count && !grow())
        return false;
    struct entry **e = slot(user);
    if (*e != NULL) {
        if (max != 0 && (*e)->count >= max) {
            *full_r = true;
            return false;
        }
        (*e)->count++;
        return true;
    }
    size_t len = strlen(user);
    struct entry *n = malloc(sizeof *n + len + 1);
    if (n == NULL)
        return false;
    memcpy(n->user, user, len + 1);
    n->count = 1;
    n->next = NULL;
    *e = n;
    entry_count++;
    return true;
}

void user_sessions_release(const char *user)
{
    if (bucket_count == 0)
        return;
    struct entry **e = slot(user);
    if (*e == NULL)
        return;
    if (--(*e)->count > 0)
        return;
    struct entry *gone = *e;
    *e = gone->next;
    free(gone);
    entry_count--;
    if (entry_count == 0) {
        /* no session left: give the memory back (valgrind and LSan see none) */
        free(buckets);
        buckets = NULL;
        bucket_count = 0;
    }
}

unsigned user_sessions_count(const char *user)
{
    if (bucket_count == 0)
        return 0;
    struct entry *e = *slot(user);
    return e != NULL ? e->count : 0;
}
