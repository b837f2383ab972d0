/* gateway/master.c - see master.h.
 *
 * A generation is one loaded configuration with everything made from it:
 * its listeners, TLS context, the ids to drop to, and the children started
 * with it (one auth process, N workers). A reload starts a new generation
 * beside the current one and then retires the old: its children get SIGTERM
 * and finish their sessions while the new ones already accept. */
#include "config.h"

#include "gateway/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/conn_limit.h"
#include "gateway/listener.h"
#include "gateway/master_files.h"
#include "gateway/pregreet_cache.h"
#include "gateway/queue_runner.h"
#include "lib/privdrop.h"
#include "gateway/worker.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/unix_listen.h"
#include "lib/error.h"

/* A child that dies is started again at once the first time (a crash must
 * not leave the auth process away for long: every reply that needs it is
 * 451 4.3.0 meanwhile), then after RESTART_STEP_MS doubling up to
 * server.restart_delay_max, so that a crash loop costs little CPU and no log
 * storm; one that ran RESTART_RESET_AFTER seconds starts over at once. */
#define RESTART_STEP_MS 100
#define RESTART_RESET_AFTER 30
/* While a child keeps dying, its first exit is a warning, the others are
 * info lines, and one warning a minute says how often. */
#define CRASH_LOOP_REPORT_MS 60000
#define MAX_WORKERS 64 /* per generation; CONN_LIMIT_PROCS leaves room for reloads */
#define AUTH_PROGRAM "dirmail-auth"

/* Every generation has one auth process, its workers and one queue runner. */
enum child_kind { CHILD_AUTH, CHILD_WORKER, CHILD_QUEUE };

struct generation;

struct child {
    struct generation *gen;
    enum child_kind kind;
    pid_t pid;     /* 0 while not running */
    int proc_slot; /* conn_limit slot of a worker, -1 */
    uint64_t started_ms;
    unsigned next_delay_ms; /* before the next restart */
    unsigned loop_exits;    /* exits since loop_since_ms (crash-loop report) */
    uint64_t loop_since_ms;
    struct event_timer *restart;
};

struct generation {
    unsigned number;
    struct config *conf;
    struct listener_set *listeners;
    unsigned *service_slots;
    SSL_CTX *tls;
    struct privdrop_ids ids;
    struct child *children; /* [0] is the auth process, then the workers, last the runner */
    size_t child_count;
    struct generation *next; /* in the retiring list */
};

struct master {
    struct event_loop *loop;
    const char *config_path;
    bool foreground;
    struct generation *current;
    struct generation *retiring;
    unsigned generations;
    struct conn_limit *limits;
    struct pregreet_cache *pregreet;
    bool reclaim_pending[CONN_LIMIT_PROCS];
    struct event_timer *reclaim_timer;
    int auth_fd;
    char *auth_path;
    char *pid_file;
    int pid_fd; /* holds the pid file's lock; -1 when none */
    bool stopping;
    bool auth_stopped;
    struct event_timer *grace;
    struct event_signal *signals[4];
};

/* One master per process, global so that a forked worker (which never
 * returns into this code) still reaches everything it inherited. */
static struct master M = {.auth_fd = -1, .pid_fd = -1};

static const char *kind_name(enum child_kind kind)
{
    return kind == CHILD_AUTH ? "auth" : kind == CHILD_QUEUE ? "queue" : "worker";
}

static void apply_log_settings(const struct config *conf)
{
    log_init(M.foreground ? LOG_TARGET_STDERR : conf->server.log_target, "dirmaild/master",
             conf->server.log_level);
}

/* ---- the auth socket ---- */

static char *auth_socket_path(const struct config *conf)
{
    return config_state_path(conf, CONFIG_STATE_AUTH_SOCKET);
}

/* ---- generations ---- */

/* gen_uses_slot - does gen count connections in conn_limit slot? */
static bool gen_uses_slot(const struct generation *gen, unsigned slot)
{
    for (size_t i = 0; i < gen->conf->service_count; i++) {
        if (gen->service_slots[i] == slot)
            return true;
    }
    return false;
}

/* slot_in_use - by a live generation other than skip. */
static bool slot_in_use(unsigned slot, const struct generation *skip)
{
    if (M.current != NULL && M.current != skip && gen_uses_slot(M.current, slot))
        return true;
    for (const struct generation *gen = M.retiring; gen != NULL; gen = gen->next) {
        if (gen != skip && gen_uses_slot(gen, slot))
            return true;
    }
    return false;
}

static void generation_free(struct generation **genp)
{
    struct generation *gen = *genp;
    if (gen == NULL)
        return;
    *genp = NULL;
    for (size_t i = 0; i < gen->child_count; i++)
        event_timer_remove(&gen->children[i].restart);
    if (gen->service_slots != NULL) {
        for (size_t i = 0; i < gen->conf->service_count; i++) {
            if (!slot_in_use(gen->service_slots[i], gen))
                conn_limit_service_forget(M.limits, gen->service_slots[i]);
        }
    }
    free(gen->children);
    free(gen->service_slots);
    listener_set_free(&gen->listeners);
    SSL_CTX_free(gen->tls);
    privdrop_ids_clear(&gen->ids);
    config_free(&gen->conf);
    free(gen);
}

/* generation_new - everything made from conf, as root: ids, TLS context
 * (reads the key), listeners (sharing the sockets of old). NULL with
 * *error_r on failure; conf is then still the caller's. */
static struct generation *generation_new(struct config *conf, const struct generation *old,
                                         char **error_r)
{
    size_t claimed = 0;
    struct generation *gen = calloc(1, sizeof *gen);
    if (gen == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    if (privdrop_resolve(conf->server.user, conf->server.group, &gen->ids, error_r) < 0)
        goto fail;
    if (conf->tls.cert_file != NULL) {
        gen->tls = tls_server_ctx_new(conf->tls.cert_file, conf->tls.key_file, conf->tls.ca_file,
                                      conf->tls.min_protocol, conf->tls.ciphers, error_r);
        if (gen->tls == NULL)
            goto fail;
    }
    gen->service_slots = calloc(conf->service_count + 1, sizeof *gen->service_slots);
    if (gen->service_slots == NULL) {
        error_set(error_r, "out of memory");
        goto fail;
    }
    for (; claimed < conf->service_count; claimed++) {
        int slot = conn_limit_service_slot(M.limits, conf->services[claimed].name);
        if (slot < 0) {
            error_set(error_r, "more than %u services", CONN_LIMIT_SERVICES);
            goto fail;
        }
        gen->service_slots[claimed] = (unsigned)slot;
    }
    /* before the listeners: the lmtp service's default socket lives in it */
    if (master_state_dir_prepare(conf, &gen->ids, error_r) < 0)
        goto fail;
    gen->listeners = listener_set_bind(conf, old != NULL ? old->listeners : NULL, error_r);
    if (gen->listeners == NULL)
        goto fail;

    unsigned workers = conf->server.workers;
    if (workers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (workers > MAX_WORKERS) {
        log_warning("event=workers_capped configured=%u used=%u", workers, MAX_WORKERS);
        workers = MAX_WORKERS;
    }
    gen->child_count = 1 + workers + 1;
    gen->children = calloc(gen->child_count, sizeof *gen->children);
    if (gen->children == NULL) {
        error_set(error_r, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < gen->child_count; i++) {
        gen->children[i] = (struct child){.gen = gen,
                                          .kind = i == 0                      ? CHILD_AUTH
                                                  : i == gen->child_count - 1 ? CHILD_QUEUE
                                                                              : CHILD_WORKER,
                                          .proc_slot = -1};
    }
    gen->conf = conf;
    gen->number = ++M.generations;
    return gen;
fail:
    /* Give back the counter slots that only this attempt had named. */
    for (size_t i = 0; i < claimed; i++) {
        if (!slot_in_use(gen->service_slots[i], NULL))
            conn_limit_service_forget(M.limits, gen->service_slots[i]);
    }
    free(gen->service_slots);
    gen->service_slots = NULL;
    listener_set_free(&gen->listeners);
    SSL_CTX_free(gen->tls);
    privdrop_ids_clear(&gen->ids);
    free(gen->children);
    free(gen);
    return NULL;
}

/* workers_only: the children that use the auth process (workers and the
 * queue runner), which must stop before it. */
static bool generation_running(const struct generation *gen, bool workers_only)
{
    for (size_t i = 0; i < gen->child_count; i++) {
        if (gen->children[i].pid > 0 && (!workers_only || gen->children[i].kind != CHILD_AUTH))
            return true;
    }
    return false;
}

/* ---- children ---- */

static const char *auth_program(char *buf, size_t size)
{
    /* DIRMAIL_LIBEXECDIR: tests and running from the build tree (auth/). */
    const char *dir = getenv("DIRMAIL_LIBEXECDIR");
    int n = snprintf(buf, size, "%s/%s", dir != NULL && dir[0] != '\0' ? dir : LIBEXECDIR,
                     AUTH_PROGRAM);
    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* exec_auth - in the forked child: become dirmail-auth with the listening
 * auth socket as its only inherited descriptor. */
static void exec_auth(struct generation *gen) __attribute__((noreturn));
static void exec_auth(struct generation *gen)
{
    char program[4096], fdtext[16];
    int keep[1] = {M.auth_fd};
    worker_close_fds_except(keep, 1);
    log_set_ident("dirmaild/master");
    if (fcntl(M.auth_fd, F_SETFD, 0) < 0 || auth_program(program, sizeof program) == NULL ||
        snprintf(fdtext, sizeof fdtext, "%d", M.auth_fd) < 0) {
        log_error("event=exec_failed child=auth error=\"%s\"", strerror(errno));
        _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_IGN); /* ^C on a terminal is the master's to handle */
    char *argv[] = {(char *)AUTH_PROGRAM,
                    (char *)"-c",
                    (char *)M.config_path,
                    (char *)"-s",
                    fdtext,
                    M.foreground ? (char *)"-f" : NULL,
                    NULL};
    execv(program, argv);
    log_error("event=exec_failed child=auth program=%s error=\"%s\"", program, strerror(errno));
    _exit(127);
}

static void child_start(struct child *child)
{
    struct generation *gen = child->gen;
    if (child->kind == CHILD_WORKER) {
        child->proc_slot = conn_limit_proc_claim(M.limits);
        if (child->proc_slot < 0) {
            log_error("event=child_start_failed child=worker error=\"no free process slot\"");
            return;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error("event=child_start_failed child=%s error=\"fork: %s\"", kind_name(child->kind),
                  strerror(errno));
        if (child->proc_slot >= 0)
            conn_limit_proc_reclaim(M.limits, (unsigned)child->proc_slot);
        child->proc_slot = -1;
        return;
    }
    if (pid == 0) {
        if (child->kind == CHILD_AUTH)
            exec_auth(gen);
        if (child->kind == CHILD_QUEUE) {
            struct queue_runner_params qp = {.config = gen->conf, .ids = &gen->ids};
            queue_runner_main(&qp);
        }
        struct worker_params params = {
            .config = gen->conf,
            .listeners = gen->listeners,
            .service_slots = gen->service_slots,
            .limits = M.limits,
            .pregreet = M.pregreet,
            .proc_slot = (unsigned)child->proc_slot,
            .tls_ctx = gen->tls,
            .ids = &gen->ids,
        };
        worker_main(&params);
    }
    child->pid = pid;
    child->started_ms = event_now_ms(M.loop);
    log_info("event=child_start child=%s pid=%ld generation=%u", kind_name(child->kind), (long)pid,
             gen->number);
}

static void generation_start(struct generation *gen)
{
    for (size_t i = 0; i < gen->child_count; i++)
        child_start(&gen->children[i]);
}

static void generation_signal(struct generation *gen, int signo, bool workers_only)
{
    for (size_t i = 0; i < gen->child_count; i++) {
        struct child *c = &gen->children[i];
        event_timer_remove(&c->restart);
        if (c->pid > 0 && (!workers_only || c->kind != CHILD_AUTH))
            kill(c->pid, signo);
    }
}

static void child_restart(void *ctx)
{
    struct child *child = ctx;
    event_timer_remove(&child->restart);
    if (!M.stopping && child->gen == M.current)
        child_start(child);
}

static void reclaim_retry(void *ctx)
{
    event_timer_remove(&M.reclaim_timer);
    for (unsigned i = 0; i < CONN_LIMIT_PROCS; i++) {
        if (M.reclaim_pending[i] && conn_limit_proc_reclaim(M.limits, i))
            M.reclaim_pending[i] = false;
        else if (M.reclaim_pending[i] && M.reclaim_timer == NULL)
            M.reclaim_timer = event_timer_add(M.loop, 100, reclaim_retry, NULL);
    }
}

static struct child *child_find(pid_t pid)
{
    struct generation *gens = M.current;
    for (struct generation *gen = gens; gen != NULL; gen = gen == gens ? M.retiring : gen->next) {
        for (size_t i = 0; i < gen->child_count; i++) {
            if (gen->children[i].pid == pid)
                return &gen->children[i];
        }
    }
    return NULL;
}

static void shutdown_progress(void);

/* retiring_collect - free the retired generations whose children are all gone. */
static void retiring_collect(void)
{
    for (struct generation **p = &M.retiring; *p != NULL;) {
        struct generation *gen = *p;
        if (generation_running(gen, false)) {
            /* Its auth process stays until its last worker is gone. */
            if (!generation_running(gen, true) && gen->children[0].pid > 0)
                kill(gen->children[0].pid, SIGTERM);
            p = &gen->next;
            continue;
        }
        *p = gen->next;
        log_info("event=generation_done generation=%u", gen->number);
        generation_free(&gen);
    }
}

static void child_exited(struct child *child, int status)
{
    uint64_t ran_ms = event_now_ms(M.loop) - child->started_ms;
    pid_t pid = child->pid;
    child->pid = 0;
    if (child->proc_slot >= 0) {
        if (!conn_limit_proc_reclaim(M.limits, (unsigned)child->proc_slot)) {
            M.reclaim_pending[child->proc_slot] = true;
            if (M.reclaim_timer == NULL)
                M.reclaim_timer = event_timer_add(M.loop, 100, reclaim_retry, NULL);
        }
        child->proc_slot = -1;
    }
    char how[48];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "signal=%d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "status=%d", WEXITSTATUS(status));

    if (M.stopping || child->gen != M.current) {
        log_info("event=child_exit child=%s pid=%ld %s ran=%llums restart=no",
                 kind_name(child->kind), (long)pid, how, (unsigned long long)ran_ms);
        return;
    }
    uint64_t now = event_now_ms(M.loop);
    if (ran_ms >= RESTART_RESET_AFTER * 1000ull) {
        child->next_delay_ms = 0;
        child->loop_exits = 0;
    }
    unsigned delay = child->next_delay_ms;
    unsigned delay_max = child->gen->conf->server.restart_delay_max;
    /* delay_max is at most 600000 ms: doubling it cannot overflow */
    child->next_delay_ms = delay == 0 ? RESTART_STEP_MS : delay * 2;
    if (child->next_delay_ms > delay_max)
        child->next_delay_ms = delay_max;
    if (child->loop_exits == 0)
        log_warning("event=child_exit child=%s pid=%ld %s ran=%llums restart_in=%ums",
                    kind_name(child->kind), (long)pid, how, (unsigned long long)ran_ms, delay);
    else
        log_info("event=child_exit child=%s pid=%ld %s ran=%llums restart_in=%ums",
                 kind_name(child->kind), (long)pid, how, (unsigned long long)ran_ms, delay);
    if (child->loop_exits++ == 0) {
        child->loop_since_ms = now;
    } else if (now - child->loop_since_ms >= CRASH_LOOP_REPORT_MS) {
        log_warning("event=child_crash_loop child=%s exits=%u seconds=%llu restart_in=%ums",
                    kind_name(child->kind), child->loop_exits,
                    (unsigned long long)((now - child->loop_since_ms) / 1000), delay);
        child->loop_exits = 0;
    }
    child->restart = event_timer_add(M.loop, delay, child_restart, child);
    if (child->restart == NULL)
        log_error("event=restart_timer_failed child=%s", kind_name(child->kind));
}

static void on_sigchld(void *ctx, int signo)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        struct child *child = child_find(pid);
        if (child != NULL)
            child_exited(child, status);
    }
    retiring_collect();
    if (M.stopping)
        shutdown_progress();
}

/* ---- stop ---- */

static void shutdown_progress(void)
{
    bool workers = M.current != NULL && generation_running(M.current, true);
    for (struct generation *gen = M.retiring; gen != NULL && !workers; gen = gen->next)
        workers = generation_running(gen, true);
    if (workers)
        return;
    /* Sessions may still need the auth process until the last worker ends. */
    if (!M.auth_stopped && M.current != NULL) {
        M.auth_stopped = true;
        generation_signal(M.current, SIGTERM, false);
    }
    if ((M.current == NULL || !generation_running(M.current, false)) && M.retiring == NULL)
        event_loop_stop(M.loop);
}

static void grace_expired(void *ctx)
{
    event_timer_remove(&M.grace);
    log_warning("event=shutdown_grace_expired action=kill");
    struct generation *gens = M.current;
    for (struct generation *gen = gens; gen != NULL; gen = gen == gens ? M.retiring : gen->next)
        generation_signal(gen, SIGKILL, false);
}

static void on_stop(void *ctx, int signo)
{
    if (M.stopping)
        return;
    M.stopping = true;
    unsigned grace = M.current->conf->server.shutdown_grace;
    log_info("event=shutdown signal=%d grace=%us", signo, grace);
    /* No new connection from here on: the master's copies go now, the
     * workers close theirs on SIGTERM; no socket file is left to connect to. */
    listener_set_unlink_sockets(M.current->listeners, NULL);
    listener_set_free(&M.current->listeners);
    generation_signal(M.current, SIGTERM, true);
    for (struct generation *gen = M.retiring; gen != NULL; gen = gen->next)
        generation_signal(gen, SIGTERM, false);
    M.grace = event_timer_add(M.loop, grace * 1000ull, grace_expired, NULL);
    shutdown_progress();
}

/* ---- reload ---- */

static void on_reload(void *ctx, int signo)
{
    if (M.stopping)
        return;
    char *error = NULL;
    struct config *conf = config_load(M.config_path, &error);
    struct generation *gen = NULL;
    char *auth_path = NULL;
    int auth_fd = -1;
    if (conf == NULL)
        goto fail;
    gen = generation_new(conf, M.current, &error);
    if (gen == NULL)
        goto fail;
    auth_path = auth_socket_path(conf);
    if (auth_path == NULL) {
        error_set(&error, "out of memory");
        goto fail;
    }
    if (strcmp(auth_path, M.auth_path) != 0) {
        if (master_state_dir_prepare(conf, &gen->ids, &error) < 0)
            goto fail;
        auth_fd = unix_listen_open(auth_path, 0660, &gen->ids, &error);
        if (auth_fd < 0)
            goto fail;
    }
    if (strcmp(conf->server.pid_file, M.pid_file) != 0) {
        char *pid_file = strdup(conf->server.pid_file);
        int pid_fd = -1;
        if (pid_file == NULL || master_pid_file_write(pid_file, &pid_fd, &error) < 0) {
            if (pid_file == NULL)
                error_set(&error, "out of memory");
            free(pid_file);
            goto fail;
        }
        master_pid_file_remove(M.pid_file, &M.pid_fd);
        free(M.pid_file);
        M.pid_file = pid_file;
        M.pid_fd = pid_fd;
    }
    if (auth_fd >= 0) {
        /* A new state_dir: the old socket goes with the old generation. */
        close(M.auth_fd);
        unlink(M.auth_path);
        free(M.auth_path);
        M.auth_path = auth_path;
        M.auth_fd = auth_fd;
        auth_path = NULL;
    }
    free(auth_path);

    apply_log_settings(conf);
    struct generation *old = M.current;
    M.current = gen;
    generation_start(gen);
    /* The new workers hold their own descriptors now: retire the old ones. */
    listener_set_unlink_sockets(old->listeners, gen->listeners);
    listener_set_free(&old->listeners);
    generation_signal(old, SIGTERM, true);
    old->next = M.retiring;
    M.retiring = old;
    log_info("event=reload generation=%u services=%zu listeners=%zu", gen->number,
             conf->service_count, gen->listeners->count);
    retiring_collect();
    return;
fail:
    if (auth_fd >= 0) {
        close(auth_fd);
        unlink(auth_path);
    }
    free(auth_path);
    if (gen != NULL)
        generation_free(&gen);
    else
        config_free(&conf);
    char quoted[1024];
    log_error("event=reload_failed error=%s",
              log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
    free(error);
}

/* ---- run ---- */

static int master_start(struct config *conf, char **error_r)
{
    M.loop = event_loop_new();
    if (M.loop == NULL) {
        error_set(error_r, "event loop: %s", strerror(errno));
        config_free(&conf);
        return -1;
    }
    static const int signos[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
    static event_signal_cb *const handlers[] = {on_stop, on_stop, on_reload, on_sigchld};
    for (size_t i = 0; i < 4; i++) {
        M.signals[i] = event_signal_add(M.loop, signos[i], handlers[i], NULL);
        if (M.signals[i] == NULL) {
            error_set(error_r, "signal %d: %s", signos[i], strerror(errno));
            config_free(&conf);
            return -1;
        }
    }
    M.limits = conn_limit_new(error_r);
    if (M.limits == NULL) {
        config_free(&conf);
        return -1;
    }
    M.pregreet = pregreet_cache_new(PREGREET_CACHE_SLOTS, error_r);
    if (M.pregreet == NULL) {
        config_free(&conf);
        return -1;
    }
    M.current = generation_new(conf, NULL, error_r);
    if (M.current == NULL) {
        config_free(&conf);
        return -1;
    }
    if (master_state_dir_prepare(conf, &M.current->ids, error_r) < 0)
        return -1;
    M.auth_path = auth_socket_path(conf);
    if (M.auth_path == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    M.auth_fd = unix_listen_open(M.auth_path, 0660, &M.current->ids, error_r);
    if (M.auth_fd < 0)
        return -1;
    M.pid_file = strdup(conf->server.pid_file);
    if (M.pid_file == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    if (master_pid_file_write(M.pid_file, &M.pid_fd, error_r) < 0) {
        free(M.pid_file);
        M.pid_file = NULL;
        return -1;
    }
    return 0;
}

static void master_cleanup(void)
{
    if (M.pid_file != NULL)
        master_pid_file_remove(M.pid_file, &M.pid_fd);
    free(M.pid_file);
    M.pid_file = NULL;
    if (M.auth_fd >= 0) {
        close(M.auth_fd);
        unlink(M.auth_path);
    }
    free(M.auth_path);
    M.auth_path = NULL;
    while (M.retiring != NULL) {
        struct generation *gen = M.retiring;
        M.retiring = gen->next;
        generation_free(&gen);
    }
    if (M.current != NULL)
        listener_set_unlink_sockets(M.current->listeners, NULL);
    generation_free(&M.current);
    conn_limit_free(&M.limits);
    pregreet_cache_free(&M.pregreet);
    event_timer_remove(&M.grace);
    event_timer_remove(&M.reclaim_timer);
    for (size_t i = 0; i < 4; i++)
        event_signal_remove(&M.signals[i]);
    event_loop_free(&M.loop);
}

int master_run(struct config *conf, const char *config_path, bool foreground)
{
    M.config_path = config_path;
    M.foreground = foreground;
    apply_log_settings(conf);
    /* A write to a closed socket is an error to handle, not a death. */
    signal(SIGPIPE, SIG_IGN);

    char *error = NULL;
    if (master_start(conf, &error) < 0) {
        char quoted[1024];
        log_error("event=start_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
        master_cleanup();
        return 1;
    }
    log_info("event=start pid=%ld config=%s services=%zu listeners=%zu", (long)getpid(),
             config_path, M.current->conf->service_count, M.current->listeners->count);
    generation_start(M.current);

    int r = event_loop_run(M.loop);
    if (r < 0) {
        log_error("event=loop_failed error=\"%s\"", strerror(errno));
        struct generation *gens = M.current;
        for (struct generation *gen = gens; gen != NULL; gen = gen == gens ? M.retiring : gen->next)
            generation_signal(gen, SIGKILL, false);
    }
    /* Reap what the grace timer killed, so that nothing outlives us. */
    struct generation *gens = M.current;
    for (struct generation *gen = gens; gen != NULL; gen = gen == gens ? M.retiring : gen->next) {
        for (size_t i = 0; i < gen->child_count; i++) {
            if (gen->children[i].pid > 0) {
                kill(gen->children[i].pid, SIGKILL);
                waitpid(gen->children[i].pid, NULL, 0);
                gen->children[i].pid = 0;
            }
        }
    }
    log_info("event=stopped");
    master_cleanup();
    return r < 0 ? 1 : 0;
}
