/* reader/managesieve_scripts.c - the script half of a ManageSieve session
 * (see managesieve_internal.h): HAVESPACE, PUTSCRIPT, CHECKSCRIPT,
 * LISTSCRIPTS, SETACTIVE, GETSCRIPT, DELETESCRIPT and RENAMESCRIPT (RFC 5804
 * 2.5 to 2.12).
 *
 * A script is compiled on the loop thread (it is at most
 * managesieve.max_script_size octets, and the engine bounds its own work),
 * and a broken one is refused with each error's line and column. The store's
 * work (reads, the fsyncs of a write) blocks on the file system, so it runs
 * on the worker's thread pool, one job per command, and the reply is written
 * on the loop when the job is done; a session that ends meanwhile is freed
 * only after its job. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/mda_sieve.h"
#include "delivery/sieve/sieve.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/unicode_nfc.h"
#include "lib/threadpool.h"
#include "reader/managesieve_internal.h"

/* The compile errors told to the client: more say little more. */
#define ERRORS_SHOWN 5

void msieve_job_clear(struct msieve_job *job)
{
    free(job->name);
    free(job->name2);
    free(job->text);
    free(job->warnings);
    free(job->error);
    free(job->script);
    sieve_store_list_free(&job->entries, job->count);
    *job = (struct msieve_job){0};
}

/* store_reply - the reply for a store result that is no success. */
static enum managesieve_reply store_reply(enum sieve_store_result r)
{
    switch (r) {
    case SIEVE_STORE_OK:
        break;
    case SIEVE_STORE_NONEXISTENT:
        return MSR_NONEXISTENT;
    case SIEVE_STORE_EXISTS:
        return MSR_ALREADY_EXISTS;
    case SIEVE_STORE_ACTIVE:
        return MSR_ACTIVE;
    case SIEVE_STORE_MAXSCRIPTS:
        return MSR_MAXSCRIPTS;
    case SIEVE_STORE_MAXSIZE:
        return MSR_MAXSIZE;
    case SIEVE_STORE_BAD_NAME:
        return MSR_BAD_NAME;
    case SIEVE_STORE_UNSAFE:
        return MSR_STORE_UNSAFE;
    case SIEVE_STORE_TEMPFAIL:
        break;
    }
    return MSR_STORE_TRYLATER;
}

static const char *op_name(enum msieve_op op)
{
    static const char *const names[] = {
        [MSIEVE_OP_LIST] = "listscripts",    [MSIEVE_OP_GET] = "getscript",
        [MSIEVE_OP_PUT] = "putscript",       [MSIEVE_OP_HAVESPACE] = "havespace",
        [MSIEVE_OP_DELETE] = "deletescript", [MSIEVE_OP_RENAME] = "renamescript",
        [MSIEVE_OP_SETACTIVE] = "setactive",
    };
    return names[op];
}

/* job_work - on a pool thread: the store operation, with copies of what
 * it needs in the job (the session's struct is not touched but for it). */
static void job_work(void *arg)
{
    struct msieve *p = arg;
    struct msieve_job *j = &p->job;
    const struct sieve_store_limits limits = {p->ss->config->managesieve.max_scripts,
                                              p->ss->config->managesieve.max_script_size};
    struct sieve_store *st = NULL;
    j->result =
        sieve_store_open(p->ss->config->delivery.mailbox_base, p->mailbox, &limits, &st, &j->error);
    if (j->result != SIEVE_STORE_OK)
        return;
    switch (j->op) {
    case MSIEVE_OP_LIST:
        j->result = sieve_store_list(st, &j->entries, &j->count, &j->error);
        break;
    case MSIEVE_OP_GET:
        j->result =
            sieve_store_get(st, j->name, j->name_len, &j->script, &j->script_len, &j->error);
        break;
    case MSIEVE_OP_PUT:
        j->result = sieve_store_put(st, j->name, j->name_len, j->text, j->text_len, &j->error);
        break;
    case MSIEVE_OP_HAVESPACE:
        j->result = j->size > SIZE_MAX ? SIEVE_STORE_MAXSIZE
                                       : sieve_store_have_space(st, j->name, j->name_len,
                                                                (size_t)j->size, &j->error);
        break;
    case MSIEVE_OP_DELETE:
        j->result = sieve_store_delete(st, j->name, j->name_len, &j->error);
        break;
    case MSIEVE_OP_RENAME:
        j->result = sieve_store_rename(st, j->name, j->name_len, j->name2, j->name2_len, &j->error);
        break;
    case MSIEVE_OP_SETACTIVE:
        j->result = sieve_store_set_active(st, j->name, j->name_len, &j->error);
        break;
    }
    sieve_store_free(&st);
}

/* success - what a finished job tells the client. */
static void success(struct msieve *p)
{
    struct msieve_job *j = &p->job;
    switch (j->op) {
    case MSIEVE_OP_LIST:
        for (size_t i = 0; i < j->count; i++) {
            managesieve_string_write(p->conn, j->entries[i].name, strlen(j->entries[i].name));
            conn_printf(p->conn, "%s\r\n", j->entries[i].active ? " ACTIVE" : "");
        }
        msieve_reply(p, MSR_LIST_DONE, NULL);
        break;
    case MSIEVE_OP_GET:
        /* RFC 5804 2.9: the script as a literal, then OK */
        conn_printf(p->conn, "{%zu}\r\n", j->script_len);
        conn_write(p->conn, j->script, j->script_len);
        conn_write(p->conn, "\r\n", 2);
        msieve_reply(p, MSR_GET_DONE, NULL);
        break;
    case MSIEVE_OP_PUT:
        msieve_reply(p, j->warnings != NULL ? MSR_PUT_WARNINGS : MSR_PUT_DONE, j->warnings);
        break;
    case MSIEVE_OP_HAVESPACE:
        msieve_reply(p, MSR_HAVE_SPACE, NULL);
        break;
    case MSIEVE_OP_DELETE:
        msieve_reply(p, MSR_DELETED, NULL);
        break;
    case MSIEVE_OP_RENAME:
        msieve_reply(p, MSR_RENAMED, NULL);
        break;
    case MSIEVE_OP_SETACTIVE:
        msieve_reply(p, j->name_len > 0 ? MSR_ACTIVATED : MSR_DEACTIVATED, NULL);
        break;
    }
}

static void job_done(void *arg)
{
    struct msieve *p = arg;
    line_session_enter(&p->ls);
    p->ls.job_running = false;
    struct msieve_job *j = &p->job;
    if (j->result == SIEVE_STORE_OK) {
        log_info("event=managesieve_%s client=%s user=%s%s%.*s%s", op_name(j->op), p->ss->client_ip,
                 p->login, j->name != NULL ? " script=\"" : "",
                 j->name != NULL ? (int)j->name_len : 0, j->name != NULL ? j->name : "",
                 j->name != NULL ? "\"" : "");
    } else if (j->result == SIEVE_STORE_TEMPFAIL || j->result == SIEVE_STORE_UNSAFE) {
        log_error("event=managesieve_store_failed client=%s user=%s op=%s result=%s error=\"%s\"",
                  p->ss->client_ip, p->login, op_name(j->op), sieve_store_result_name(j->result),
                  j->error != NULL ? j->error : "out of memory");
    }
    if (!p->ls.ending) {
        if (j->result == SIEVE_STORE_OK)
            success(p);
        else
            msieve_reply(p, store_reply(j->result), NULL);
    }
    msieve_job_clear(j);
    if (!p->ls.ending)
        line_session_wait_end(&p->ls);
    line_session_leave(&p->ls);
}

/* submit - run the job filled in for op on the pool; the reply follows. */
static void submit(struct msieve *p, enum msieve_op op)
{
    p->job.op = op;
    if (threadpool_submit(msieve_pool(), job_work, job_done, p) < 0) {
        msieve_job_clear(&p->job);
        msieve_reply(p, MSR_STORE_TRYLATER, NULL);
        return;
    }
    p->ls.job_running = true;
    line_session_wait_begin(&p->ls);
}

/* take_name - a's string in NFC as the job's name (second: name2);
 * false (replied) when it is no script name or memory is short. An empty
 * name is allowed only where empty. RFC 5804 1.6: names are Net-Unicode
 * (RFC 5198), so a name sent decomposed ("e" and U+0301) is the script
 * stored composed ("é"): one name, one file, whichever form a client
 * sends; what the store refuses (controls, "/") is checked after. */
static bool take_name(struct msieve *p, const struct imap_arg *a, bool second, bool empty)
{
    size_t len = 0;
    char *copy = a->len == 0 ? bytes_dup("", 0) : unicode_nfc(a->str, a->len, &len);
    if (copy == NULL && a->len > 0 && sieve_store_name_valid(a->str, a->len)) {
        msieve_reply(p, MSR_INTERNAL, NULL); /* valid UTF-8: memory was short */
        return false;
    }
    if (copy == NULL || (!(len == 0 && empty) && !sieve_store_name_valid(copy, len))) {
        free(copy);
        msieve_reply(p, MSR_BAD_NAME, NULL);
        return false;
    }
    if (second) {
        p->job.name2 = copy;
        p->job.name2_len = len;
    } else {
        p->job.name = copy;
        p->job.name_len = len;
    }
    return true;
}

/* errors_text - the first ERRORS_SHOWN of errors, each "line L, column
 * C: why", CRLF between them, NUL-terminated into text. */
static void errors_text(const struct sieve_errors *errors, struct buf *text)
{
    for (size_t i = 0; i < errors->count && i < ERRORS_SHOWN; i++) {
        const struct sieve_error *e = &errors->items[i];
        buf_printf(text, "%sline %u, column %u: %s", i > 0 ? "\r\n" : "", e->line, e->column,
                   e->message);
    }
    buf_append(text, "", 1);
}

/* compile_check - compile the script; false (replied NO with the first
 * errors) when it does not compile. True with *warnings_r the text of the
 * engine's warnings (malloc'd) or NULL when there are none. */
static bool compile_check(struct msieve *p, const struct imap_arg *script, char **warnings_r)
{
    *warnings_r = NULL;
    struct sieve_limits limits;
    mda_sieve_limits(&p->ss->config->sieve, &limits);
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(script->str, script->len, &limits, &errors);
    if (s != NULL) {
        const struct sieve_errors *w = sieve_script_warnings(s);
        if (w->count > 0) {
            struct buf text = BUF_INIT;
            errors_text(w, &text);
            *warnings_r = bytes_dup(buf_ptr(&text), strlen(buf_ptr(&text)));
            buf_release(&text);
        }
        sieve_script_free(&s);
        sieve_errors_clear(&errors);
        return true;
    }
    struct buf text = BUF_INIT;
    errors_text(&errors, &text);
    log_info("event=managesieve_script_refused client=%s user=%s errors=%zu", p->ss->client_ip,
             p->login, errors.count);
    /* errors.count is never 0 here (sieve.h): NULL is the table's text */
    msieve_reply(p, MSR_SCRIPT_BROKEN, errors.count > 0 ? buf_ptr(&text) : NULL);
    buf_release(&text);
    sieve_errors_clear(&errors);
    return false;
}

/* script_too_big - RFC 5804 2.6: QUOTA/MAXSIZE before anything else. */
static bool script_too_big(struct msieve *p, const struct imap_arg *script)
{
    if (script->len <= p->ss->config->managesieve.max_script_size)
        return false;
    msieve_reply(p, MSR_MAXSIZE, NULL);
    return true;
}

void msieve_cmd_havespace(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = msieve_string_arg(cmd, 0);
    const struct imap_arg *size = imap_command_arg(cmd, 1);
    uint64_t n = 0;
    if (cmd->argc != 2 || name == NULL || !imap_arg_number(size, UINT64_MAX, &n)) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: HAVESPACE name size");
        return;
    }
    if (!take_name(p, name, false, false))
        return;
    p->job.size = n;
    submit(p, MSIEVE_OP_HAVESPACE);
}

void msieve_cmd_putscript(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = msieve_string_arg(cmd, 0);
    const struct imap_arg *script = msieve_string_arg(cmd, 1);
    if (cmd->argc != 2 || name == NULL || script == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: PUTSCRIPT name script");
        return;
    }
    /* the name first: a bad one is refused before the script is compiled */
    if (!take_name(p, name, false, false))
        return;
    if (script_too_big(p, script) || !compile_check(p, script, &p->job.warnings)) {
        msieve_job_clear(&p->job);
        return;
    }
    p->job.text = bytes_dup(script->str, script->len);
    if (p->job.text == NULL) {
        msieve_job_clear(&p->job);
        msieve_reply(p, MSR_INTERNAL, NULL);
        return;
    }
    p->job.text_len = script->len;
    submit(p, MSIEVE_OP_PUT);
}

void msieve_cmd_checkscript(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *script = msieve_string_arg(cmd, 0);
    if (cmd->argc != 1 || script == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: CHECKSCRIPT script");
        return;
    }
    char *warnings = NULL;
    if (!script_too_big(p, script) && compile_check(p, script, &warnings))
        msieve_reply(p, warnings != NULL ? MSR_CHECK_WARNINGS : MSR_CHECK_DONE, warnings);
    free(warnings);
}

void msieve_cmd_listscripts(struct msieve *p, const struct imap_command *cmd)
{
    if (cmd->argc != 0) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: LISTSCRIPTS");
        return;
    }
    submit(p, MSIEVE_OP_LIST);
}

void msieve_cmd_setactive(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = msieve_string_arg(cmd, 0);
    if (cmd->argc != 1 || name == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: SETACTIVE name");
        return;
    }
    /* RFC 5804 2.8: the empty name deactivates */
    if (take_name(p, name, false, true))
        submit(p, MSIEVE_OP_SETACTIVE);
}

void msieve_cmd_getscript(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = msieve_string_arg(cmd, 0);
    if (cmd->argc != 1 || name == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: GETSCRIPT name");
        return;
    }
    if (take_name(p, name, false, false))
        submit(p, MSIEVE_OP_GET);
}

void msieve_cmd_deletescript(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = msieve_string_arg(cmd, 0);
    if (cmd->argc != 1 || name == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: DELETESCRIPT name");
        return;
    }
    if (take_name(p, name, false, false))
        submit(p, MSIEVE_OP_DELETE);
}

void msieve_cmd_renamescript(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *from = msieve_string_arg(cmd, 0);
    const struct imap_arg *to = msieve_string_arg(cmd, 1);
    if (cmd->argc != 2 || from == NULL || to == NULL) {
        msieve_reply(p, MSR_BAD_ARGS, "Usage: RENAMESCRIPT old-name new-name");
        return;
    }
    if (!take_name(p, from, false, false))
        return;
    if (!take_name(p, to, true, false)) {
        msieve_job_clear(&p->job);
        return;
    }
    submit(p, MSIEVE_OP_RENAME);
}
