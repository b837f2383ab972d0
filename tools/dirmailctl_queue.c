/* tools/dirmailctl_queue.c - see dirmailctl_queue.h.
 *
 * delete and bounce change a message only by appending status records,
 * the spool's own way (queue.h: one O_APPEND write, fsync'd; once a
 * recipient is final later records are ignored), never by removing or
 * rewriting its file: a runner thread may be reading that file at the
 * moment, and a file removed under it would go to free/ for reuse. The
 * runner removes the message at its next attempt. A recipient that the
 * runner is delivering at that very moment may still be delivered. */
#include "config.h"

#include "tools/dirmailctl_queue.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <sys/stat.h>

#include "proto/delivery_status.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "queue/queue_control.h"
#include "queue/queue_report.h"

/* The longest header section "show" prints. */
#define SHOW_HEADER_MAX (256 * 1024)

/* put_text - value for the text output: control octets (which could fake a
 * line of their own) as \xNN, the rest as it is. */
static void put_text(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

/* put_json - value as a JSON string (RFC 8259 7). An octet above 127 is
 * written \u00NN (its Latin-1 reading): the spool holds octets, not
 * necessarily UTF-8, and the output must stay valid JSON. */
static void put_json(const char *value)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void put_json_or_null(const char *value)
{
    if (value == NULL)
        fputs("null", stdout);
    else
        put_json(value);
}

/* iso_time - when as UTC "YYYY-MM-DDTHH:MM:SSZ". */
static const char *iso_time(char *out, size_t size, time_t when)
{
    struct tm tm;
    if (gmtime_r(&when, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "?");
    return out;
}

/* print_text - one message in the text form: its line, then a line per
 * recipient. */
static void print_text(const struct queue_envelope *env)
{
    char when[32];
    printf("%s arrival=%s size=%llu sender=<", env->id, iso_time(when, sizeof when, env->arrival),
           (unsigned long long)env->size);
    put_text(env->sender);
    printf("> recipients=%zu", env->rcpt_count);
    if (env->held)
        printf(" held_since=%s", iso_time(when, sizeof when, env->held_since));
    putchar('\n');
    for (size_t i = 0; i < env->rcpt_count; i++) {
        const struct queue_recipient *rc = &env->rcpts[i];
        printf("  rcpt=<");
        put_text(rc->address);
        printf("> state=%s", queue_rcpt_state_name(rc->state));
        if (rc->state == QUEUE_RCPT_DEFERRED)
            printf(" next_try=%s", iso_time(when, sizeof when, rc->when));
        if (rc->reply != NULL) {
            printf(" last_error=\"");
            put_text(rc->reply);
            putchar('"');
        }
        putchar('\n');
    }
}

/* print_json - one message as a JSON object (no newline). */
static void print_json(const struct queue_envelope *env)
{
    printf("{\"id\":\"%s\",\"arrival\":%lld,\"size\":%llu,\"sender\":", env->id,
           (long long)env->arrival, (unsigned long long)env->size);
    put_json(env->sender);
    fputs(",\"envid\":", stdout);
    put_json_or_null(env->envid);
    if (env->held)
        printf(",\"held_since\":%lld", (long long)env->held_since);
    else
        fputs(",\"held_since\":null", stdout);
    printf(",\"ret\":%s,\"recipients\":[", env->ret == QUEUE_RET_FULL   ? "\"full\""
                                           : env->ret == QUEUE_RET_HDRS ? "\"hdrs\""
                                                                        : "null");
    for (size_t i = 0; i < env->rcpt_count; i++) {
        const struct queue_recipient *rc = &env->rcpts[i];
        fputs(i > 0 ? ",{\"address\":" : "{\"address\":", stdout);
        put_json(rc->address);
        printf(",\"state\":\"%s\",\"next_try\":", queue_rcpt_state_name(rc->state));
        if (rc->state == QUEUE_RCPT_DEFERRED)
            printf("%lld", (long long)rc->when);
        else
            fputs("null", stdout);
        fputs(",\"last_error\":", stdout);
        put_json_or_null(rc->reply);
        fputs(",\"orcpt\":", stdout);
        put_json_or_null(rc->orcpt);
        printf(",\"delay_warned\":%s}", rc->delay_warned ? "true" : "false");
    }
    fputs("]}", stdout);
}

/* read_header - the header section of the spooled id, malloc'd and
 * NUL-terminated; NULL when it cannot be read. */
static char *read_header(struct queue *queue, const char *id)
{
    int fd;
    uint64_t len;
    char *error = NULL;
    if (queue_open_message(queue, id, &fd, &len, &error) < 0) {
        free(error);
        return NULL;
    }
    size_t want = len < SHOW_HEADER_MAX ? (size_t)len : SHOW_HEADER_MAX, got = 0;
    char *text = malloc(want + 1);
    while (text != NULL && got < want) {
        ssize_t n = read(fd, text + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (text != NULL) {
        got = dsn_header_section_len(text, got);
        text[got] = '\0';
    }
    return text;
}

static int cmd_list(struct queue *queue, bool json)
{
    char **ids = NULL, *error = NULL;
    size_t count = 0, shown = 0;
    if (queue_scan(queue, &ids, &count, &error) < 0) {
        fprintf(stderr, "dirmailctl: queue: %s\n", error != NULL ? error : "out of memory");
        free(error);
        return 75;
    }
    if (json)
        putchar('[');
    for (size_t i = 0; i < count; i++) {
        struct queue_envelope *env = NULL;
        /* removed since the scan, or mid-removal: not in the queue any more */
        if (queue_load_envelope(queue, ids[i], &env, &error) < 0) {
            free(error);
            error = NULL;
            continue;
        }
        if (json) {
            if (shown > 0)
                putchar(',');
            print_json(env);
        } else {
            print_text(env);
        }
        shown++;
        queue_envelope_free(&env);
    }
    if (json)
        puts("]");
    queue_ids_free(&ids, count);
    return 0;
}

static int cmd_show(struct queue *queue, const char *id, bool json)
{
    struct queue_envelope *env = NULL;
    char *error = NULL;
    if (!queue_id_valid(id) || queue_load_envelope(queue, id, &env, &error) < 0) {
        fprintf(stderr, "dirmailctl: queue show %s: no such message\n", id);
        free(error);
        return 1;
    }
    char *header = read_header(queue, id);
    if (json) {
        fputs("{\"message\":", stdout);
        print_json(env);
        fputs(",\"client_address\":", stdout);
        put_json_or_null(env->client_address);
        fputs(",\"client_helo\":", stdout);
        put_json_or_null(env->client_helo);
        fputs(",\"auth_user\":", stdout);
        put_json_or_null(env->auth_user);
        fputs(",\"header\":", stdout);
        put_json_or_null(header);
        puts("}");
    } else {
        print_text(env);
        printf("client_address=%s client_helo=",
               env->client_address != NULL ? env->client_address : "");
        put_text(env->client_helo != NULL ? env->client_helo : "");
        if (env->envid != NULL) {
            printf(" envid=");
            put_text(env->envid);
        }
        printf("\n\n");
        /* the header section as it is, but for control octets other than
         * the line ends (a terminal is no place for an escape sequence) */
        for (const unsigned char *p = (const unsigned char *)(header != NULL ? header : "");
             *p != '\0'; p++) {
            if (*p == '\r')
                continue;
            if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                printf("\\x%02x", *p);
            else
                putchar(*p);
        }
    }
    free(header);
    queue_envelope_free(&env);
    return 0;
}

/* as_spool_owner - root writes to the spool as its owner (the mail user),
 * so that a status file or a report it creates is the runner's to read.
 * 0, or -1 with the reason on stderr. */
static int as_spool_owner(const char *dir)
{
    struct stat st;
    if (geteuid() != 0)
        return 0;
    if (stat(dir, &st) < 0 || setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 ||
        setuid(st.st_uid) < 0) {
        fprintf(stderr, "dirmailctl: cannot become the owner of %s\n", dir);
        return -1;
    }
    return 0;
}

/* cmd_finish - every recipient of id not yet final becomes FAILED with
 * status; with a report (bounce), its DSN is committed first, as the runner
 * does (gateway/queue_bounce.h), so that no recipient is final unreported.
 * The runner removes the message at its next attempt on it: all its
 * recipients are final then. */
static int cmd_finish(const struct config *conf, struct queue *queue, const char *id,
                      enum delivery_status status)
{
    struct queue_envelope *env = NULL;
    char *error = NULL, reply[DELIVERY_STATUS_TEXT_MAX];
    if (!queue_id_valid(id) || queue_load_envelope(queue, id, &env, &error) < 0) {
        fprintf(stderr, "dirmailctl: queue %s: no such message\n", id);
        free(error);
        return 1;
    }
    delivery_status_format(reply, sizeof reply, status, NULL);
    struct queue_mark *marks = calloc(env->rcpt_count, sizeof *marks);
    struct dsn_rcpt *drcpts = calloc(env->rcpt_count, sizeof *drcpts);
    size_t count = 0;
    int ret = 0;
    for (size_t i = 0; marks != NULL && drcpts != NULL && i < env->rcpt_count; i++) {
        enum queue_rcpt_state st = env->rcpts[i].state;
        if (st == QUEUE_RCPT_DELIVERED || st == QUEUE_RCPT_FAILED)
            continue;
        marks[count] = (struct queue_mark){.index = i, .state = QUEUE_RCPT_FAILED, .reply = reply};
        drcpts[count] = (struct dsn_rcpt){.index = i, .action = DSN_ACTION_FAILED, .reply = reply};
        count++;
    }
    if (marks == NULL || drcpts == NULL) {
        fprintf(stderr, "dirmailctl: out of memory\n");
        ret = 70;
    } else if (count == 0) {
        printf("%s: every recipient is final already\n", id);
    } else {
        char new_id[QUEUE_ID_SIZE] = "";
        bool report = status == DELIVERY_STATUS_ADMIN_RETURNED && env->sender[0] != '\0';
        if (report &&
            queue_report_inject(queue, conf->server.hostname, conf->queue.bounce_size_limit, id,
                                env, DSN_KIND_FAILURE, drcpts, count, new_id, &error) < 0) {
            fprintf(stderr, "dirmailctl: queue bounce %s: %s\n", id,
                    error != NULL ? error : "out of memory");
            ret = 75;
        } else if (queue_mark_recipients(queue, id, marks, count, &error) < 0) {
            fprintf(stderr, "dirmailctl: queue %s: %s\n", id,
                    error != NULL ? error : "out of memory");
            ret = 75;
        } else {
            printf("%s: %zu recipients %s%s%s\n", id, count,
                   status == DELIVERY_STATUS_ADMIN_RETURNED ? "returned" : "deleted",
                   report ? ", report " : "", new_id);
        }
    }
    free(error);
    free(marks);
    free(drcpts);
    queue_envelope_free(&env);
    return ret;
}

/* tell_runner - send cmd for id ("" every message) to the running
 * runner. 0 and *answer_r, 1 when dirmaild's runner is not running, or
 * -1 (said on stderr). */
static int tell_runner(const struct config *conf, enum queue_control_cmd cmd, const char *id,
                       enum queue_control_answer *answer_r, unsigned long *count_r)
{
    char *path = config_state_path(conf, CONFIG_STATE_QUEUE_CONTROL), *error = NULL;
    if (path == NULL) {
        fprintf(stderr, "dirmailctl: out of memory\n");
        return -1;
    }
    int r = queue_control_request(path, cmd, id, answer_r, count_r, &error);
    if (r == 0 && *answer_r == QUEUE_CONTROL_ERROR)
        r = -1;
    if (r < 0)
        fprintf(stderr, "dirmailctl: queue runner: %s\n", error != NULL ? error : "out of memory");
    free(error);
    free(path);
    return r;
}

/* cmd_hold - put id on hold (held) or release it: the record first, so it
 * holds across restarts and whether or not dirmaild runs, then the runner
 * is told. */
static int cmd_hold(const struct config *conf, struct queue *queue, const char *id, bool held)
{
    char *error = NULL;
    if (!queue_id_valid(id) || queue_mark_hold(queue, id, held, &error) < 0) {
        bool missing = error == NULL || strstr(error, "no such message") != NULL;
        fprintf(stderr, "dirmailctl: queue %s %s: %s\n", held ? "hold" : "release", id,
                missing ? "no such message" : error);
        free(error);
        return missing ? 1 : 75;
    }
    enum queue_control_answer answer;
    unsigned long count;
    int r =
        tell_runner(conf, held ? QUEUE_CONTROL_HOLD : QUEUE_CONTROL_RELEASE, id, &answer, &count);
    if (r < 0)
        return 75;
    printf("%s: %s%s\n", id, held ? "held" : "released",
           r == 1 ? " (dirmaild is not running: its queue runner reads it when it starts)" : "");
    return 0;
}

/* cmd_flush - attempt id ("": every message not held) now. */
static int cmd_flush(const struct config *conf, struct queue *queue, const char *id)
{
    if (id[0] != '\0') {
        struct queue_envelope *env = NULL;
        char *error = NULL;
        if (!queue_id_valid(id) || queue_load_envelope(queue, id, &env, &error) < 0) {
            fprintf(stderr, "dirmailctl: queue flush %s: no such message\n", id);
            free(error);
            return 1;
        }
        bool held = env->held;
        queue_envelope_free(&env);
        if (held) {
            fprintf(stderr, "dirmailctl: queue flush %s: on hold (queue release it first)\n", id);
            return 1;
        }
    }
    enum queue_control_answer answer;
    unsigned long count;
    int r = tell_runner(conf, QUEUE_CONTROL_FLUSH, id, &answer, &count);
    if (r == 1)
        fprintf(stderr, "dirmailctl: queue flush: dirmaild's queue runner is not running\n");
    if (r != 0)
        return 75;
    if (answer == QUEUE_CONTROL_OK) {
        printf("%lu messages flushed\n", count);
        return 0;
    }
    fprintf(stderr, "dirmailctl: queue flush %s: %s\n", id,
            answer == QUEUE_CONTROL_HELD ? "on hold (queue release it first)" : "no such message");
    return 1;
}

int dirmailctl_queue(const struct config *conf, char **args, size_t argc)
{
    bool json = false;
    const char *words[3];
    size_t n = 0;
    for (size_t i = 0; i < argc; i++) {
        if (strcmp(args[i], "--json") == 0)
            json = true;
        else if (n < 3)
            words[n++] = args[i];
        else
            n = 4;
    }
    bool list = n == 1 && strcmp(words[0], "list") == 0;
    bool show = n == 2 && strcmp(words[0], "show") == 0;
    bool del = n == 2 && !json && strcmp(words[0], "delete") == 0;
    bool bounce = n == 2 && !json && strcmp(words[0], "bounce") == 0;
    bool flush = (n == 1 || n == 2) && !json && strcmp(words[0], "flush") == 0;
    bool retry = n == 2 && !json && strcmp(words[0], "retry") == 0;
    bool hold = n == 2 && !json && strcmp(words[0], "hold") == 0;
    bool release = n == 2 && !json && strcmp(words[0], "release") == 0;
    if (!list && !show && !del && !bounce && !flush && !retry && !hold && !release) {
        fprintf(stderr, "usage: dirmailctl [-c FILE] queue list [--json]\n"
                        "       dirmailctl [-c FILE] queue show ID [--json]\n"
                        "       dirmailctl [-c FILE] queue delete|bounce ID\n"
                        "       dirmailctl [-c FILE] queue flush [ID]\n"
                        "       dirmailctl [-c FILE] queue retry|hold|release ID\n");
        return 64;
    }
    char *dir = config_state_path(conf, CONFIG_STATE_QUEUE), *error = NULL;
    struct queue *queue = NULL;
    if (dir == NULL || access(dir, F_OK) < 0 || queue_open(dir, &queue, &error) < 0) {
        fprintf(stderr, "dirmailctl: queue %s: %s\n", dir != NULL ? dir : "",
                error != NULL ? error : "cannot open the spool");
        free(error);
        free(dir);
        return 75;
    }
    if ((del || bounce || hold || release) && as_spool_owner(dir) < 0) {
        free(dir);
        queue_close(&queue);
        return 75;
    }
    free(dir);
    int status = list              ? cmd_list(queue, json)
                 : show            ? cmd_show(queue, words[1], json)
                 : flush || retry  ? cmd_flush(conf, queue, n == 2 ? words[1] : "")
                 : hold || release ? cmd_hold(conf, queue, words[1], hold)
                                   : cmd_finish(conf, queue, words[1],
                                                del ? DELIVERY_STATUS_ADMIN_DELETED
                                                    : DELIVERY_STATUS_ADMIN_RETURNED);
    queue_close(&queue);
    return status;
}
