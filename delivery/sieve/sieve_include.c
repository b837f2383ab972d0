/* delivery/sieve/sieve_include.c - include (RFC 6609): another script,
 * fetched by the caller's include_fetch, compiled with the including
 * script's limits, run in its own variable scope (only names declared
 * "global" are shared) but on the same actions, implicit keep and flags.
 * A script already in the chain of includes is a loop and a runtime
 * error (3.2); :once skips a script included before; :optional a missing
 * one. "return" ends the included script only; "stop" ends the run. */
#include "config.h"

#include "delivery/sieve/sieve_interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve_cache.h"
#include "lib/array.h"

static bool in_list(char *const *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], key) == 0)
            return true;
    return false;
}

void sieve_include_clear(struct sieve_run *run)
{
    for (size_t i = 0; i < run->depth; i++)
        free(run->chain[i]);
    free(run->chain);
    for (size_t i = 0; i < run->nincluded; i++)
        free(run->included[i]);
    free(run->included);
    run->chain = run->included = NULL;
    run->depth = run->nincluded = 0;
}

/* fetch_compile - the included script compiled (from the environment's
 * cache when it has one: release it there); NULL when it is absent
 * (*absent set) or the run failed. */
static const struct sieve_script *fetch_compile(struct sieve_run *run,
                                                const struct sieve_node *node, const char *name,
                                                bool global, bool *absent)
{
    char *text = NULL;
    size_t len = 0;
    int found = run->env->include_fetch != NULL
                    ? run->env->include_fetch(run->env->ctx, name, global, &text, &len)
                    : 0;
    if (found < 0) {
        run->tempfail = true;
        sieve_run_fail(run, node, "cannot fetch the %s script \"%.64s\" now",
                       global ? "global" : "personal", name);
        return NULL;
    }
    if (found == 0) {
        *absent = true;
        return NULL;
    }
    struct sieve_errors errors = {0};
    const struct sieve_script *s =
        run->env->include_cache != NULL
            ? sieve_cache_get(run->env->include_cache, text, len, &run->script->limits, &errors)
            : sieve_compile(text, len, &run->script->limits, &errors);
    free(text);
    if (s == NULL)
        sieve_run_fail(run, node, "the included script \"%.64s\" does not compile: %u:%u: %s", name,
                       errors.count > 0 ? errors.items[0].line : 0,
                       errors.count > 0 ? errors.items[0].column : 0,
                       errors.count > 0 ? errors.items[0].message : "out of memory");
    sieve_errors_clear(&errors);
    return s;
}

/* release - done with a script fetch_compile gave. */
static void release(struct sieve_run *run, const struct sieve_script *inc)
{
    if (run->env->include_cache != NULL) {
        sieve_cache_release(run->env->include_cache, inc);
    } else {
        struct sieve_script *own = (struct sieve_script *)inc;
        sieve_script_free(&own);
    }
}

int sieve_include_execute(struct sieve_run *run, const struct sieve_node *node)
{
    const char *name = node->pos[0]->strs[0];
    bool global = node->slot[SLOT_GLOBAL] != NULL;
    char *key = NULL;
    if (asprintf(&key, "%c:%s", global ? 'g' : 'p', name) < 0) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    if (in_list(run->chain, run->depth, key)) {
        free(key);
        sieve_run_fail(run, node, "\"%.64s\" includes itself (RFC 6609 3.2)", name);
        return -1;
    }
    if (node->slot[SLOT_ONCE] != NULL && in_list(run->included, run->nincluded, key)) {
        free(key);
        return 0;
    }
    if (run->depth >= SIEVE_INCLUDE_DEPTH_MAX) {
        free(key);
        sieve_run_fail(run, node, "includes nested deeper than %d", SIEVE_INCLUDE_DEPTH_MAX);
        return -1;
    }
    bool absent = false;
    const struct sieve_script *inc = fetch_compile(run, node, name, global, &absent);
    if (inc == NULL) {
        free(key);
        if (absent && node->slot[SLOT_OPTIONAL] == NULL) {
            sieve_run_fail(run, node, "no %s script \"%.64s\"", global ? "global" : "personal",
                           name);
            return -1;
        }
        return run->failed ? -1 : 0;
    }
    char *once = strdup(key);
    if (once == NULL || ARRAY_RESERVE(&run->chain, &run->chain_cap, run->depth + 1, 4) < 0 ||
        (!in_list(run->included, run->nincluded, key) &&
         ARRAY_RESERVE(&run->included, &run->inc_cap, run->nincluded + 1, 4) < 0)) {
        free(once);
        free(key);
        release(run, inc);
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    if (!in_list(run->included, run->nincluded, key))
        run->included[run->nincluded++] = once;
    else
        free(once);
    run->chain[run->depth++] = key;

    /* a scope of its own: the includer's variables are set aside */
    const struct sieve_script *outer = run->script;
    struct sieve_var *vars = run->vars;
    size_t nvars = run->nvars, vcap = run->vcap;
    run->vars = NULL;
    run->nvars = run->vcap = 0;
    run->script = inc;
    int rc = sieve_run_block(run, inc->commands, inc->ncommands);
    run->returned = false;
    for (size_t i = 0; i < run->nvars; i++) {
        free(run->vars[i].name);
        free(run->vars[i].value);
    }
    free(run->vars);
    run->vars = vars;
    run->nvars = nvars;
    run->vcap = vcap;
    run->script = outer;
    free(run->chain[--run->depth]);
    release(run, inc);
    return rc;
}
