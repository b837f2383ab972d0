/* delivery/sieve/sieve_interp.c - walking the tree: control commands,
 * actions with the implicit keep (RFC 5228 2.10.2) and their conflicts,
 * variables (RFC 5229), the internal flags (RFC 5232). A runtime error
 * replaces every action with one implicit keep (RFC 5228 2.10.6). */
#include "config.h"

#include "delivery/sieve/sieve_interp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/sieve/sieve_lex.h"
#include "lib/array.h"
#include "lib/buf.h"

void sieve_run_fail(struct sieve_run *run, const struct sieve_node *node, const char *fmt, ...)
{
    if (run->failed)
        return;
    run->failed = true;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(run->result->error);
    run->result->error = NULL;
    if (asprintf(&run->result->error, "line %u: %s: %s", node != NULL ? node->line : 0,
                 node != NULL ? node->name : "script", msg != NULL ? msg : "out of memory") < 0)
        run->result->error = NULL;
    free(msg);
}

static struct sieve_var *find_var(struct sieve_var *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

const char *sieve_run_variable(const struct sieve_run *run, const char *name)
{
    struct sieve_var *v = find_var(run->vars, run->nvars, name);
    if (v != NULL && v->global)
        v = find_var(run->globals, run->nglobals, name);
    return v != NULL && v->value != NULL ? v->value : "";
}

/* add_var - a new variable in one of the two tables; 0 or -1 (failed). */
static int add_var(struct sieve_run *run, const struct sieve_node *node, struct sieve_var **v,
                   size_t *n, size_t *cap, const char *name, char *value, bool global)
{
    if (run->nvars + run->nglobals >= run->script->limits.variables_max) {
        free(value);
        sieve_run_fail(run, node, "more than %zu variables", run->script->limits.variables_max);
        return -1;
    }
    char *copy = strdup(name);
    if (copy == NULL || ARRAY_RESERVE(v, cap, *n + 1, 8) < 0) {
        free(copy);
        free(value);
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    (*v)[(*n)++] = (struct sieve_var){copy, value, global};
    return 0;
}

int sieve_run_set_variable(struct sieve_run *run, const struct sieve_node *node, const char *name,
                           char *value)
{
    struct sieve_var *v = find_var(run->vars, run->nvars, name);
    if (v != NULL && v->global) {
        struct sieve_var *g = find_var(run->globals, run->nglobals, name);
        if (g == NULL)
            return add_var(run, node, &run->globals, &run->nglobals, &run->gcap, name, value,
                           false);
        v = g;
    }
    if (v != NULL) {
        free(v->value);
        v->value = value;
        return 0;
    }
    return add_var(run, node, &run->vars, &run->nvars, &run->vcap, name, value, false);
}

int sieve_global_execute(struct sieve_run *run, const struct sieve_node *node)
{
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        const char *name = node->pos[0]->strs[i];
        struct sieve_var *v = find_var(run->vars, run->nvars, name);
        if (v != NULL) {
            /* a local of that name is the global from now on (RFC 6609 3.3) */
            free(v->value);
            v->value = NULL;
            v->global = true;
        } else if (add_var(run, node, &run->vars, &run->nvars, &run->vcap, name, NULL, true) < 0) {
            return -1;
        }
    }
    return 0;
}

/* reference - at p (after "${"), a variable or match-variable name and
 * "}": its value and the end; NULL when it is not a reference (the text
 * then stays literal, RFC 5229 3). */
static const char *reference(const struct sieve_run *run, const char *p, const char **endp)
{
    char name[65]; /* a longer name is no reference: the text stays literal */
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '}' && n < sizeof name)
        n++;
    if (p[n] != '}' || n == 0 || n >= sizeof name)
        return NULL;
    *endp = p + n + 1;
    bool digits = true;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            digits = false;
    if (digits) {
        unsigned long idx = 0;
        for (size_t i = 0; i < n && idx < 100; i++)
            idx = idx * 10 + (unsigned long)(p[i] - '0');
        return idx < run->caps.n ? run->caps.v[idx] : "";
    }
    if (!sieve_is_identifier(p, n))
        return NULL;
    memcpy(name, p, n);
    name[n] = '\0';
    return sieve_run_variable(run, name);
}

char *sieve_run_expand(struct sieve_run *run, const struct sieve_node *node, const char *s)
{
    if (!(run->script->exts & SIEVE_EXT_VARIABLES) || strstr(s, "${") == NULL) {
        char *c = strdup(s);
        if (c == NULL)
            sieve_run_fail(run, node, "out of memory");
        return c;
    }
    struct buf b = BUF_INIT;
    int rc = 0;
    for (const char *p = s; *p != '\0' && rc == 0;) {
        const char *end, *val;
        if (p[0] == '$' && p[1] == '{' && (val = reference(run, p + 2, &end)) != NULL) {
            rc = buf_append(&b, val, strlen(val));
            p = end;
        } else {
            rc = buf_append(&b, p, 1);
            p++;
        }
        if (buf_len(&b) > run->script->limits.string_max) {
            buf_release(&b);
            sieve_run_fail(run, node, "expanded string longer than %zu octets",
                           run->script->limits.string_max);
            return NULL;
        }
    }
    if (rc < 0 || buf_append(&b, "", 1) < 0) {
        buf_release(&b);
        sieve_run_fail(run, node, "out of memory");
        return NULL;
    }
    char *r = strdup(buf_ptr(&b));
    buf_release(&b);
    if (r == NULL)
        sieve_run_fail(run, node, "out of memory");
    return r;
}

char *sieve_flags_normal(char *const *strs, size_t n)
{
    struct buf b = BUF_INIT;
    struct {
        const char *p;
        size_t len;
    } *seen = NULL;
    size_t nseen = 0, cap = 0;
    bool oom = false;
    for (size_t i = 0; i < n && !oom; i++) {
        for (const char *p = strs[i]; *p != '\0' && !oom;) {
            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                p++;
            size_t len = strcspn(p, " \t\r\n");
            if (len == 0)
                break;
            bool dup = false;
            for (size_t k = 0; k < nseen && !dup; k++)
                dup = seen[k].len == len && strncasecmp(seen[k].p, p, len) == 0;
            if (!dup) {
                if (ARRAY_RESERVE(&seen, &cap, nseen + 1, 8) < 0 ||
                    (nseen > 0 && buf_append(&b, " ", 1) < 0) || buf_append(&b, p, len) < 0)
                    oom = true;
                else {
                    seen[nseen].p = p;
                    seen[nseen++].len = len;
                }
            }
            p += len;
        }
    }
    free(seen);
    if (oom || buf_append(&b, "", 1) < 0) {
        buf_release(&b);
        return NULL;
    }
    char *r = strdup(buf_ptr(&b));
    buf_release(&b);
    return r;
}

/* expand_list - every string of arg expanded; NULL when the run failed. */
static char **expand_list(struct sieve_run *run, const struct sieve_node *node,
                          const struct sieve_arg *arg)
{
    char **v = calloc(arg->nstrs + 1, sizeof *v);
    if (v == NULL) {
        sieve_run_fail(run, node, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < arg->nstrs; i++)
        if ((v[i] = sieve_run_expand(run, node, arg->strs[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return NULL;
        }
    return v;
}

static void free_list(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* flag_array - a normalised flag string as an array, system flags in
 * lower case so that equal flags compare equal in the result. */
static int flag_array(const char *flags, struct sieve_action *act)
{
    act->flags = NULL;
    act->flag_count = 0;
    size_t cap = 0;
    for (const char *p = flags; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len > 0) {
            char *f = bytes_dup(p, len);
            if (f == NULL || ARRAY_RESERVE(&act->flags, &cap, act->flag_count + 1, 4) < 0) {
                free(f);
                return -1;
            }
            if (f[0] == '\\')
                for (char *c = f; *c != '\0'; c++)
                    if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c + 32);
            act->flags[act->flag_count++] = f;
        }
        p += len;
        while (*p == ' ')
            p++;
    }
    return 0;
}

static void action_clear(struct sieve_action *a)
{
    free(a->target);
    free_list(a->flags, a->flag_count);
    free(a->subject);
    free(a->from);
    free(a->reason);
    free(a->key);
    free(a->in_reply_to);
    memset(a, 0, sizeof *a);
}

int sieve_run_add_action(struct sieve_run *run, const struct sieve_node *node,
                         struct sieve_action *act)
{
    struct sieve_result *r = run->result;
    if (r->count >= run->script->limits.actions_max) {
        action_clear(act);
        sieve_run_fail(run, node, "more than %zu actions", run->script->limits.actions_max);
        return -1;
    }
    if (ARRAY_RESERVE(&r->actions, &r->cap, r->count + 1, 4) < 0) {
        action_clear(act);
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    r->actions[r->count++] = *act;
    return 0;
}

static bool is_inbox(const char *folder)
{
    return strcasecmp(folder, "INBOX") == 0;
}

/* store - keep (folder NULL) or fileinto. Storing twice into one folder is
 * one store (RFC 5228 2.10.3); the later flags win, as for the last keep. */
static int store(struct sieve_run *run, const struct sieve_node *node, const char *folder,
                 bool copy, bool create)
{
    if (run->rejected) {
        sieve_run_fail(run, node, "%s after reject (RFC 5429 2.2)", node->name);
        return -1;
    }
    char *flags;
    const struct sieve_arg *fa = node->slot[SLOT_FLAGS];
    if (fa != NULL) {
        char **v = expand_list(run, node, fa);
        if (v == NULL)
            return -1;
        flags = sieve_flags_normal(v, fa->nstrs);
        free_list(v, fa->nstrs);
    } else {
        flags = strdup(run->flags != NULL ? run->flags : "");
    }
    if (flags == NULL) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    bool keep = folder == NULL || is_inbox(folder);
    struct sieve_action act = {
        .kind = keep ? SIEVE_ACT_KEEP : SIEVE_ACT_FILEINTO, .copy = copy, .create = create};
    if (!copy)
        run->implicit_keep = false;
    for (size_t i = 0; i < run->result->count; i++) {
        struct sieve_action *a = &run->result->actions[i];
        if ((a->kind == SIEVE_ACT_KEEP && keep) ||
            (a->kind == SIEVE_ACT_FILEINTO && !keep && strcmp(a->target, folder) == 0)) {
            free_list(a->flags, a->flag_count);
            int rc = flag_array(flags, a);
            a->create = a->create || create;
            free(flags);
            if (rc < 0)
                sieve_run_fail(run, node, "out of memory");
            return rc;
        }
    }
    act.target = strdup(keep ? "INBOX" : folder);
    int rc = act.target == NULL ? -1 : flag_array(flags, &act);
    free(flags);
    if (rc < 0) {
        action_clear(&act);
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    run->stored = true;
    return sieve_run_add_action(run, node, &act);
}

static int do_redirect(struct sieve_run *run, const struct sieve_node *node)
{
    if (run->rejected) {
        sieve_run_fail(run, node, "redirect after reject (RFC 5429 2.2)");
        return -1;
    }
    char *to = sieve_run_expand(run, node, node->pos[0]->strs[0]);
    if (to == NULL)
        return -1;
    const char *at = strrchr(to, '@');
    if (at == NULL || at == to || at[1] == '\0' || strpbrk(to, " \t\r\n<>,") != NULL) {
        sieve_run_fail(run, node, "\"%.200s\" is not an address", to);
        free(to);
        return -1;
    }
    bool copy = node->slot[SLOT_COPY] != NULL;
    if (!copy)
        run->implicit_keep = false;
    for (size_t i = 0; i < run->result->count; i++) {
        struct sieve_action *a = &run->result->actions[i];
        if (a->kind == SIEVE_ACT_REDIRECT && strcasecmp(a->target, to) == 0) {
            free(to);
            return 0; /* the same redirect twice is one (RFC 5228 4.2) */
        }
    }
    if (++run->redirects > run->script->limits.redirects_max) {
        free(to);
        sieve_run_fail(run, node, "more than %zu redirects", run->script->limits.redirects_max);
        return -1;
    }
    struct sieve_action act = {.kind = SIEVE_ACT_REDIRECT, .target = to, .copy = copy};
    return sieve_run_add_action(run, node, &act);
}

static int do_reject(struct sieve_run *run, const struct sieve_node *node)
{
    if (run->rejected) {
        sieve_run_fail(run, node, "only one reject or ereject per message (RFC 5429 2.2)");
        return -1;
    }
    for (size_t i = 0; i < run->result->count; i++) {
        enum sieve_action_kind k = run->result->actions[i].kind;
        if (k == SIEVE_ACT_KEEP || k == SIEVE_ACT_FILEINTO || k == SIEVE_ACT_REDIRECT) {
            sieve_run_fail(run, node, "reject after %s (RFC 5429 2.2)", sieve_action_kind_name(k));
            return -1;
        }
    }
    char *reason = sieve_run_expand(run, node, node->pos[0]->strs[0]);
    if (reason == NULL)
        return -1;
    run->rejected = true;
    run->implicit_keep = false;
    struct sieve_action act = {
        .kind = node->id == CMD_REJECT ? SIEVE_ACT_REJECT : SIEVE_ACT_EREJECT, .target = reason};
    return sieve_run_add_action(run, node, &act);
}

/* apply_modifiers - RFC 5229 4.1, highest precedence first: :lower/:upper
 * (40), :lowerfirst/:upperfirst (30), :quotewildcard (20), :length (10). */
static char *apply_modifiers(const struct sieve_node *node, char *v)
{
    if (node->slot[SLOT_LOWER] != NULL || node->slot[SLOT_UPPER] != NULL)
        for (char *c = v; *c != '\0'; c++) {
            if (node->slot[SLOT_LOWER] != NULL && *c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
            if (node->slot[SLOT_UPPER] != NULL && *c >= 'a' && *c <= 'z')
                *c = (char)(*c - 32);
        }
    if (node->slot[SLOT_LOWERFIRST] != NULL && v[0] >= 'A' && v[0] <= 'Z')
        v[0] = (char)(v[0] + 32);
    if (node->slot[SLOT_UPPERFIRST] != NULL && v[0] >= 'a' && v[0] <= 'z')
        v[0] = (char)(v[0] - 32);
    if (node->slot[SLOT_QUOTEWILDCARD] != NULL) {
        struct buf b = BUF_INIT;
        for (char *c = v; *c != '\0'; c++) {
            if (*c == '*' || *c == '?' || *c == '\\')
                buf_append(&b, "\\", 1);
            buf_append(&b, c, 1);
        }
        buf_append(&b, "", 1);
        free(v);
        v = buf_ptr(&b) != NULL ? strdup(buf_ptr(&b)) : NULL;
        buf_release(&b);
        if (v == NULL)
            return NULL;
    }
    if (node->slot[SLOT_LENGTH] != NULL) {
        /* the length in characters, not octets (RFC 5229 4.1) */
        size_t chars = 0;
        for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++)
            if ((*c & 0xc0) != 0x80)
                chars++;
        free(v);
        if (asprintf(&v, "%zu", chars) < 0)
            return NULL;
    }
    return v;
}

static int do_set(struct sieve_run *run, const struct sieve_node *node)
{
    char *v = sieve_run_expand(run, node, node->pos[1]->strs[0]);
    if (v == NULL)
        return -1;
    v = apply_modifiers(node, v);
    if (v == NULL) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    return sieve_run_set_variable(run, node, node->pos[0]->strs[0], v);
}

/* do_flags - setflag, addflag, removeflag on the internal variable or on
 * the named one (RFC 5232 3). */
static int do_flags(struct sieve_run *run, const struct sieve_node *node)
{
    const char *varname = node->pos[0] != NULL ? node->pos[0]->strs[0] : NULL;
    char **v = expand_list(run, node, node->pos[1]);
    if (v == NULL)
        return -1;
    char *given = sieve_flags_normal(v, node->pos[1]->nstrs);
    free_list(v, node->pos[1]->nstrs);
    if (given == NULL) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    const char *cur =
        varname != NULL ? sieve_run_variable(run, varname) : (run->flags != NULL ? run->flags : "");
    char *next = NULL;
    if (node->id == CMD_SETFLAG) {
        next = given;
        given = NULL;
    } else if (node->id == CMD_ADDFLAG) {
        char *both[2] = {(char *)cur, given};
        next = sieve_flags_normal(both, 2);
    } else {
        struct buf b = BUF_INIT;
        buf_append(&b, "", 0);
        for (const char *p = cur; *p != '\0';) {
            size_t len = strcspn(p, " ");
            bool drop = false;
            for (const char *q = given; *q != '\0';) {
                size_t l = strcspn(q, " ");
                if (l == len && strncasecmp(p, q, len) == 0)
                    drop = true;
                q += l;
                while (*q == ' ')
                    q++;
            }
            if (!drop && len > 0) {
                if (buf_len(&b) > 0)
                    buf_append(&b, " ", 1);
                buf_append(&b, p, len);
            }
            p += len;
            while (*p == ' ')
                p++;
        }
        buf_append(&b, "", 1);
        next = buf_ptr(&b) != NULL ? strdup(buf_ptr(&b)) : NULL;
        buf_release(&b);
    }
    free(given);
    if (next == NULL) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    if (varname != NULL)
        return sieve_run_set_variable(run, node, varname, next);
    free(run->flags);
    run->flags = next;
    return 0;
}

static int run_command(struct sieve_run *run, const struct sieve_node *c)
{
    if (++run->budget.used > run->budget.max) {
        sieve_run_fail(run, c, "script took more than %zu steps", run->budget.max);
        return -1;
    }
    switch (c->id) {
    case CMD_REQUIRE:
        return 0;
    case CMD_STOP:
        run->stopped = true;
        return 0;
    case CMD_KEEP:
        return store(run, c, NULL, false, false);
    case CMD_FILEINTO: {
        char *folder = sieve_run_expand(run, c, c->pos[0]->strs[0]);
        if (folder == NULL)
            return -1;
        int rc = store(run, c, folder, c->slot[SLOT_COPY] != NULL, c->slot[SLOT_CREATE] != NULL);
        free(folder);
        return rc;
    }
    case CMD_DISCARD: {
        run->implicit_keep = false;
        struct sieve_action act = {.kind = SIEVE_ACT_DISCARD};
        return sieve_run_add_action(run, c, &act);
    }
    case CMD_REDIRECT:
        return do_redirect(run, c);
    case CMD_REJECT:
    case CMD_EREJECT:
        return do_reject(run, c);
    case CMD_VACATION:
        if (run->vacation_done) {
            sieve_run_fail(run, c, "vacation runs at most once (RFC 5230 4.7)");
            return -1;
        }
        run->vacation_done = true;
        return sieve_vacation_execute(run, c);
    case CMD_SET:
        return do_set(run, c);
    case CMD_INCLUDE:
        return sieve_include_execute(run, c);
    case CMD_RETURN:
        run->returned = true; /* ends the script it is in (RFC 6609 3.4) */
        return 0;
    case CMD_GLOBAL:
        return sieve_global_execute(run, c);
    case CMD_SETFLAG:
    case CMD_ADDFLAG:
    case CMD_REMOVEFLAG:
        return do_flags(run, c);
    default:
        sieve_run_fail(run, c, "not a command");
        return -1;
    }
}

int sieve_run_block(struct sieve_run *run, struct sieve_node *const *cmds, size_t n)
{
    for (size_t i = 0; i < n && !run->stopped && !run->returned; i++) {
        const struct sieve_node *c = cmds[i];
        if (c->id != CMD_IF) {
            if (run_command(run, c) < 0)
                return -1;
            continue;
        }
        /* the chain if / elsif* / else?: the first true branch runs */
        bool taken = false;
        for (;;) {
            const struct sieve_node *b = cmds[i];
            if (!taken) {
                int t = b->id == CMD_ELSE ? 1 : sieve_test_eval(run, b->tests[0]);
                if (t < 0)
                    return -1;
                if (t == 1) {
                    taken = true;
                    if (sieve_run_block(run, b->block, b->nblock) < 0)
                        return -1;
                }
            }
            if (!b->has_else_chain || i + 1 >= n)
                break;
            i++;
        }
    }
    return 0;
}

const char *sieve_action_kind_name(enum sieve_action_kind kind)
{
    static const char *const names[] = {"keep",   "fileinto", "discard", "redirect",
                                        "reject", "ereject",  "vacation"};
    return kind <= SIEVE_ACT_VACATION ? names[kind] : "?";
}

void sieve_result_clear(struct sieve_result *result)
{
    for (size_t i = 0; i < result->count; i++)
        action_clear(&result->actions[i]);
    free(result->actions);
    free(result->error);
    memset(result, 0, sizeof *result);
}

/* only_implicit_keep - the result after an error: one implicit keep. */
static void only_implicit_keep(struct sieve_result *r)
{
    for (size_t i = 0; i < r->count; i++)
        action_clear(&r->actions[i]);
    r->count = 0;
    if (ARRAY_RESERVE(&r->actions, &r->cap, 1, 1) == 0) {
        memset(&r->actions[0], 0, sizeof r->actions[0]);
        r->actions[0].kind = SIEVE_ACT_KEEP;
        r->actions[0].implicit = true;
        r->actions[0].target = strdup("INBOX");
        r->count = 1;
    }
}

enum sieve_run_status sieve_run(const struct sieve_script *script, const struct sieve_message *msg,
                                const struct sieve_env *env, struct sieve_result *result)
{
    static const struct sieve_env no_env;
    memset(result, 0, sizeof *result);
    struct sieve_run run = {
        .script = script,
        .msg = msg,
        .env = env != NULL ? env : &no_env,
        .result = result,
        .budget = {0, script->limits.steps_max},
        .implicit_keep = true,
    };
    int rc = sieve_run_block(&run, script->commands, script->ncommands);
    if (rc == 0 && run.implicit_keep) {
        /* the implicit keep takes the internal flags (RFC 5232 3) */
        struct sieve_action act = {.kind = SIEVE_ACT_KEEP, .implicit = true};
        act.target = strdup("INBOX");
        if (act.target == NULL || flag_array(run.flags != NULL ? run.flags : "", &act) < 0) {
            action_clear(&act);
            sieve_run_fail(&run, NULL, "out of memory");
        } else {
            /* the actions limit does not apply to the keep that saves the mail */
            if (ARRAY_RESERVE(&result->actions, &result->cap, result->count + 1, 4) < 0) {
                action_clear(&act);
                sieve_run_fail(&run, NULL, "out of memory");
            } else {
                result->actions[result->count++] = act;
            }
        }
    }
    if (run.failed || run.tempfail) {
        result->status = run.tempfail ? SIEVE_RUN_TEMPFAIL : SIEVE_RUN_ERROR;
        only_implicit_keep(result);
    } else {
        result->status = SIEVE_RUN_OK;
    }
    sieve_captures_clear(&run.caps);
    for (size_t i = 0; i < run.nvars; i++) {
        free(run.vars[i].name);
        free(run.vars[i].value);
    }
    free(run.vars);
    for (size_t i = 0; i < run.nglobals; i++) {
        free(run.globals[i].name);
        free(run.globals[i].value);
    }
    free(run.globals);
    sieve_include_clear(&run);
    free(run.flags);
    return result->status;
}
