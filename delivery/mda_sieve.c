/* delivery/mda_sieve.c - see mda_sieve.h.
 *
 * The scripts of one run are joined by a small generated script of
 * includes (RFC 6609), so that they share one list of actions, one
 * implicit keep and the flags, and "stop" anywhere ends the whole run as
 * in one script; the before and after scripts are global, the user's is
 * personal. The generated script depends only on the configuration and on
 * whether the user has a script that compiles, so it too is compiled once.
 * A global script that is missing or does not compile is logged and
 * skipped (:optional), like a user's broken one. */
#include "config.h"

#include "delivery/mda_sieve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/mda_folders.h"
#include "delivery/sieve/sieve_cache.h"
#include "delivery/sieve/sieve_message.h"
#include "delivery/sieve/sieve_vacation_store.h"
#include "delivery/sieve_active.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/fdio.h"
#include "lib/log.h"

/* conf/ cannot include the engine: its defaults are spelled twice, kept equal here. */
_Static_assert(CONF_SIEVE_REDIRECTS_MAX == SIEVE_DEFAULT_REDIRECTS_MAX, "sieve default");
_Static_assert(CONF_SIEVE_ACTIONS_MAX == SIEVE_DEFAULT_ACTIONS_MAX, "sieve default");
_Static_assert(CONF_SIEVE_NESTING_MAX == SIEVE_DEFAULT_NESTING_MAX, "sieve default");
_Static_assert(CONF_SIEVE_VARIABLES_MAX == SIEVE_DEFAULT_VARIABLES_MAX, "sieve default");
_Static_assert(CONF_SIEVE_STRING_MAX == SIEVE_DEFAULT_STRING_MAX, "sieve default");
_Static_assert(CONF_SIEVE_STEPS_MAX == SIEVE_DEFAULT_STEPS_MAX, "sieve default");

/* Compiled scripts a process keeps: users' scripts and the globals. */
#define CACHE_ENTRIES 1024
/* The user's vacation memory, in the Maildir root. */
#define VACATION_DIR "dirmail-vacation"

struct mda_sieve {
    const struct config_delivery *conf;
    struct sieve_cache *cache;
    struct sieve_limits limits;
};

/* One run: what the callbacks need. */
struct run_ctx {
    struct mda_sieve *ms;
    const struct mda_sieve_input *in;
    const char *user_text; /* the user's script, NULL when none or broken */
    size_t user_len;
};

void mda_sieve_limits(const struct config_sieve *conf, struct sieve_limits *limits)
{
    sieve_limits_default(limits); /* the script size is the engine's own */
    limits->redirects_max = conf->max_redirects;
    limits->actions_max = conf->max_actions;
    limits->nesting_max = conf->max_nesting;
    limits->variables_max = conf->max_variables;
    limits->string_max = conf->max_string_size;
    limits->steps_max = (size_t)conf->max_steps;
}

struct mda_sieve *mda_sieve_new(const struct config_delivery *conf,
                                const struct config_sieve *limits)
{
    struct mda_sieve *ms = calloc(1, sizeof *ms);
    if (ms == NULL)
        return NULL;
    ms->conf = conf;
    mda_sieve_limits(limits, &ms->limits);
    ms->cache = sieve_cache_new(CACHE_ENTRIES);
    if (ms->cache == NULL) {
        free(ms);
        return NULL;
    }
    return ms;
}

void mda_sieve_free(struct mda_sieve **ms)
{
    if (*ms == NULL)
        return;
    sieve_cache_free(&(*ms)->cache);
    free(*ms);
    *ms = NULL;
}

/* read_file - a global script: 1 and *text_r (malloc'd), 0 missing, -1 I/O. */
static int read_file(const char *path, char **text_r, size_t *len_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MDA_SIEVE_SCRIPT_MAX) {
        close(fd);
        return -1;
    }
    char *text = malloc((size_t)st.st_size + 1);
    long long have = text != NULL ? fd_read_full(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    if (have != (long long)st.st_size) {
        free(text);
        return -1;
    }
    text[have] = '\0';
    *text_r = text;
    *len_r = have;
    return 1;
}

/* log_compile_errors - every error of a script that does not compile, with
 * its line and column. */
static void log_compile_errors(const struct mda_sieve_input *in, const char *script,
                               const struct sieve_errors *errors)
{
    char q1[256], q2[512], q3[256];
    for (size_t i = 0; i < errors->count; i++)
        log_warning("id=%s event=sieve_compile_error rcpt=%s script=%s at=%u:%u error=%s",
                    in->log_id != NULL ? in->log_id : "-", log_quote(q1, sizeof q1, in->address),
                    log_quote(q3, sizeof q3, script), errors->items[i].line,
                    errors->items[i].column,
                    log_quote(q2, sizeof q2,
                              errors->items[i].message != NULL ? errors->items[i].message : "?"));
}

/* compiles - whether text compiles (and so is in the cache for the run). */
static bool compiles(struct mda_sieve *ms, const struct mda_sieve_input *in, const char *script,
                     const char *text, size_t len)
{
    struct sieve_errors errors = {0};
    const struct sieve_script *s = sieve_cache_get(ms->cache, text, len, &ms->limits, &errors);
    if (s == NULL)
        log_compile_errors(in, script, &errors);
    else
        sieve_cache_release(ms->cache, s);
    sieve_errors_clear(&errors);
    return s != NULL;
}

/* global_path - "before-N" / "after-N": the configured file, or NULL. */
static const char *global_path(const struct config_delivery *conf, const char *name)
{
    char *end;
    unsigned long n;
    if (strncmp(name, "before-", 7) == 0) {
        n = strtoul(name + 7, &end, 10);
        return *end == '\0' && n < conf->sieve_before_count ? conf->sieve_before[n] : NULL;
    }
    if (strncmp(name, "after-", 6) == 0) {
        n = strtoul(name + 6, &end, 10);
        return *end == '\0' && n < conf->sieve_after_count ? conf->sieve_after[n] : NULL;
    }
    return NULL;
}

static int include_fetch(void *ctx, const char *name, bool global, char **text, size_t *len)
{
    struct run_ctx *rc = ctx;
    char quoted[512];
    if (!global) {
        if (strcmp(name, "user") != 0 || rc->user_text == NULL)
            return 0;
        *text = bytes_dup(rc->user_text, rc->user_len);
        *len = rc->user_len;
        return *text != NULL ? 1 : -1;
    }
    const char *path = global_path(rc->ms->conf, name);
    if (path == NULL)
        return 0;
    int r = read_file(path, text, len);
    if (r <= 0) {
        log_warning("id=%s event=sieve_global_unreadable file=%s error=\"%s\"",
                    rc->in->log_id != NULL ? rc->in->log_id : "-",
                    log_quote(quoted, sizeof quoted, path),
                    r == 0 ? "missing" : "unreadable or too large");
        return 0; /* skipped: a site's broken file must not hold every user's mail */
    }
    if (!compiles(rc->ms, rc->in, path, *text, *len)) {
        free(*text);
        *text = NULL;
        return 0;
    }
    return 1;
}

static int mailbox_exists(void *ctx, const char *mailbox)
{
    struct run_ctx *rc = ctx;
    char *folder;
    if (!mda_folder_name(mailbox, &folder))
        return 0;
    int r = mda_folder_exists(rc->in->root_fd, folder);
    free(folder);
    return r;
}

/* vacation_dir - the user's vacation memory below the Maildir root,
 * created on demand, as a path through its descriptor (*fd_r, the
 * caller's to close): the store takes a path, and one through
 * /proc/self/fd cannot be redirected by a symlink placed later. */
static int vacation_dir(int root_fd, char path[64], int *fd_r)
{
    if (mkdirat(root_fd, VACATION_DIR, 0700) < 0 && errno != EEXIST)
        return -1;
    int fd = openat(root_fd, VACATION_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    *fd_r = fd;
    return 0;
}

static int vacation_seen(void *ctx, const char *key, const char *sender, unsigned long period)
{
    struct run_ctx *rc = ctx;
    char path[64];
    int fd;
    if (vacation_dir(rc->in->root_fd, path, &fd) < 0)
        return -1;
    int r = sieve_vacation_store_seen(path, key, sender, period, time(NULL));
    close(fd);
    return r;
}

int mda_sieve_vacation_record(int root_fd, const struct sieve_action *action)
{
    char path[64];
    int fd;
    if (action->key == NULL || action->target == NULL || vacation_dir(root_fd, path, &fd) < 0)
        return -1;
    int r = sieve_vacation_store_record(path, action->key, action->target, time(NULL));
    close(fd);
    return r;
}

/* user_script - the user's script: the active ManageSieve one, else the
 * directory's. 1 (*text_r malloc'd), 0 none, -1 tempfail (*error_r). */
static int user_script(const struct mda_sieve_input *in, char **text_r, size_t *len_r,
                       const char **what_r, char **error_r)
{
    char *name = NULL, *error = NULL;
    enum sieve_active_result r =
        sieve_active_load(in->root_fd, MDA_SIEVE_SCRIPT_MAX, text_r, len_r, &name, &error);
    free(name);
    char q1[256], q2[512];
    switch (r) {
    case SIEVE_ACTIVE_FOUND:
        *what_r = "managesieve";
        return 1;
    case SIEVE_ACTIVE_TEMPFAIL:
        *error_r = error;
        return -1;
    case SIEVE_ACTIVE_REFUSED:
        /* the user's own doing (or an attack): log it and fall back */
        log_warning("id=%s event=sieve_active_refused rcpt=%s error=%s",
                    in->log_id != NULL ? in->log_id : "-", log_quote(q1, sizeof q1, in->address),
                    log_quote(q2, sizeof q2, error != NULL ? error : "?"));
        break;
    case SIEVE_ACTIVE_NONE:
        break;
    }
    free(error);
    if (in->dir_script == NULL || in->dir_script[0] == '\0')
        return 0;
    *len_r = strlen(in->dir_script);
    *text_r = strdup(in->dir_script);
    *what_r = "directory";
    if (*text_r == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    return 1;
}

/* wrapper - the generated script of includes. */
static int wrapper(const struct config_delivery *conf, bool user, struct buf *out)
{
    int rc = buf_printf(out, "require [\"include\"];\r\n");
    for (size_t i = 0; rc == 0 && i < conf->sieve_before_count; i++)
        rc = buf_printf(out, "include :global :optional \"before-%zu\";\r\n", i);
    if (rc == 0 && user)
        rc = buf_printf(out, "include :personal \"user\";\r\n");
    for (size_t i = 0; rc == 0 && i < conf->sieve_after_count; i++)
        rc = buf_printf(out, "include :global :optional \"after-%zu\";\r\n", i);
    return rc;
}

/* read_message - the message for the interpreter, with its envelope. */
static struct sieve_message *read_message(const struct mda_sieve_input *in, char **error_r)
{
    struct stat st;
    if (fstat(in->fd, &st) < 0) {
        error_set(error_r, "fstat: %s", strerror(errno));
        return NULL;
    }
    uint64_t len = in->len != UINT64_MAX ? in->len : (uint64_t)st.st_size;
    if (len > SIEVE_MESSAGE_MAX)
        len = SIEVE_MESSAGE_MAX; /* a filter looks at the first 256 MiB */
    char *data = malloc(len + 1);
    if (data == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    size_t have = 0;
    while (have < len) {
        ssize_t n = pread(in->fd, data + have, len - have, (off_t)have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    char *perr = NULL;
    struct sieve_message *msg = sieve_message_parse(data, have, &perr);
    free(data);
    if (msg == NULL) {
        error_set(error_r, "message: %s", perr != NULL ? perr : "out of memory");
        free(perr);
        return NULL;
    }
    if (sieve_message_set_envelope(msg, in->sender, in->address, NULL) < 0) {
        sieve_message_free(&msg);
        error_set(error_r, "out of memory");
        return NULL;
    }
    return msg;
}

enum mda_sieve_status mda_sieve_run(struct mda_sieve *ms, const struct mda_sieve_input *in,
                                    struct sieve_result *result, struct sieve_message **msg_r,
                                    char **error_r)
{
    *msg_r = NULL;
    char *user_text = NULL;
    size_t user_len = 0;
    const char *what = NULL;
    int have_user = user_script(in, &user_text, &user_len, &what, error_r);
    if (have_user < 0)
        return MDA_SIEVE_TEMPFAIL;
    bool globals = ms->conf->sieve_before_count + ms->conf->sieve_after_count > 0;
    if (have_user > 0 && !compiles(ms, in, what, user_text, user_len)) {
        free(user_text); /* logged; the message goes where the rest sends it */
        user_text = NULL;
        have_user = 0;
    }
    if (have_user == 0 && !globals)
        return MDA_SIEVE_NONE;

    struct buf text = BUF_INIT;
    const char *run_text = user_text;
    size_t run_len = user_len;
    if (globals) {
        if (wrapper(ms->conf, have_user > 0, &text) < 0) {
            buf_release(&text);
            free(user_text);
            error_set(error_r, "out of memory");
            return MDA_SIEVE_TEMPFAIL;
        }
        run_text = buf_ptr(&text);
        run_len = buf_len(&text);
    }
    struct sieve_errors errors = {0};
    const struct sieve_script *script =
        sieve_cache_get(ms->cache, run_text, run_len, &ms->limits, &errors);
    if (script == NULL) {
        log_compile_errors(in, globals ? "(generated)" : what, &errors);
        sieve_errors_clear(&errors);
        buf_release(&text);
        free(user_text);
        return MDA_SIEVE_NONE;
    }
    sieve_errors_clear(&errors);
    struct sieve_message *msg = read_message(in, error_r);
    if (msg == NULL) {
        sieve_cache_release(ms->cache, script);
        buf_release(&text);
        free(user_text);
        return MDA_SIEVE_TEMPFAIL;
    }
    const char *addresses[2] = {in->primary != NULL ? in->primary : in->address, in->address};
    struct run_ctx rc = {.ms = ms, .in = in, .user_text = user_text, .user_len = user_len};
    const struct sieve_env env = {
        .ctx = &rc,
        .mailbox_exists = mailbox_exists,
        .vacation_seen = vacation_seen,
        .user_addresses = addresses,
        .user_address_count =
            in->primary != NULL && strcasecmp(in->primary, in->address) != 0 ? 2 : 1,
        .include_fetch = include_fetch,
        .include_cache = ms->cache,
    };
    *result = (struct sieve_result){0};
    enum sieve_run_status st = sieve_run(script, msg, &env, result);
    sieve_cache_release(ms->cache, script);
    buf_release(&text);
    free(user_text);
    if (st == SIEVE_RUN_TEMPFAIL) {
        error_set(error_r, "%s", result->error != NULL ? result->error : "temporary failure");
        sieve_result_clear(result);
        sieve_message_free(&msg);
        return MDA_SIEVE_TEMPFAIL;
    }
    if (st == SIEVE_RUN_ERROR) {
        char q1[256], q2[512];
        log_warning("id=%s event=sieve_runtime_error rcpt=%s error=%s",
                    in->log_id != NULL ? in->log_id : "-", log_quote(q1, sizeof q1, in->address),
                    log_quote(q2, sizeof q2, result->error != NULL ? result->error : "?"));
    }
    *msg_r = msg;
    return MDA_SIEVE_RAN;
}
