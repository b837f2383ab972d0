/* delivery/dirmail_deliver.c - dirmail-deliver, the command-line delivery
 * agent (procmail's and dovecot-lda's place, doc/dirmail-deliver.1):
 *
 *     dirmail-deliver [-c CONFIG] -f SENDER -a RECIPIENT [-m FOLDER] < message
 *
 * It reads one message from stdin into an unlinked spool file (line endings
 * made CRLF, held to the content policy and limits.message_size), asks who
 * the recipient is - the auth process over its socket when dirmaild runs,
 * the directory itself (auth/directory.h, the same library) when it does
 * not - and files the message through the delivery agent's step
 * (delivery/mda.h), the same one LMTP uses. The exit status is one of
 * <sysexits.h>, what an MTA's pipe transport understands: 75 is always a
 * deferral, so the directory down, a full mailbox (unless
 * delivery.quota_permanent) and every failure of ours give 75, never a
 * bounce. This program links libldap for the direct path: the one exception
 * to "only the auth process talks LDAP", which the issue asks for so that
 * delivery works while dirmaild is stopped. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "auth/dir_view.h"
#include "auth/directory.h"
#include "conf/conf.h"
#include "delivery/mda.h"
#include "lib/address.h"
#include "lib/fdio.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "proto/content_policy.h"
#include "proto/delivery_status.h"
#include "queue/queue.h"

#define DEFAULT_CONFIG SYSCONFDIR "/dirmail/dirmail.conf"
/* How much of stdin one read takes. */
#define READ_CHUNK 65536

static void usage(FILE *out)
{
    fprintf(out, "usage: dirmail-deliver [-c CONFIG] -f SENDER -a RECIPIENT [-m FOLDER] < message\n"
                 "  -c CONFIG     configuration file (default " DEFAULT_CONFIG ")\n"
                 "  -f SENDER     envelope sender (\"\" or \"<>\" for the null sender)\n"
                 "  -a RECIPIENT  envelope recipient, an address in the directory\n"
                 "  -m FOLDER     Maildir++ folder (\"Lists.dev\"), created on demand; "
                 "default INBOX\n");
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dirmail-deliver: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* word_ok - an argument that may stand in a header field and the log: no
 * control octet, no space. */
static bool word_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

/* folder_ok - a Maildir++ folder name: no '/', not starting with '.', no
 * "..", no control octet (maildir.c checks again when it opens it). */
static bool folder_ok(const char *f)
{
    return f[0] != '\0' && f[0] != '.' && strchr(f, '/') == NULL && strstr(f, "..") == NULL &&
           f[strlen(f) - 1] != '.' && word_ok(f);
}

/* ---- the message from stdin ---- */

struct spool {
    int fd;
    uint64_t size;
    bool cr; /* the last octet read was a CR */
    struct content_policy policy;
};

static int spool_put(void *ctx, const void *data, size_t len)
{
    struct spool *s = ctx;
    s->size += len;
    return fd_write_all(s->fd, data, len);
}

/* spool_feed - data with every bare LF made CRLF (an MTA's pipe hands LF
 * lines, local_delivery takes CRLF), then through the content policy. A CR
 * not before an LF stays, and the policy refuses it as bare. */
static enum content_verdict spool_feed(struct spool *s, const char *data, size_t len)
{
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && !(i > 0 ? data[i - 1] == '\r' : s->cr)) {
            content_policy_feed(&s->policy, data + from, i - from, spool_put, s);
            content_policy_feed(&s->policy, "\r", 1, spool_put, s);
            from = i;
        }
    }
    if (len > 0)
        s->cr = data[len - 1] == '\r';
    return content_policy_feed(&s->policy, data + from, len - from, spool_put, s);
}

/* spool_stdin - the message into an unlinked file; an exit status other
 * than EX_OK on failure (said on stderr). */
static int spool_stdin(const struct config *conf, struct spool *s)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    s->fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/dirmail-deliver.XXXXXX", tmp);
        s->fd = mkostemp(path, O_CLOEXEC);
        if (s->fd >= 0)
            unlink(path);
    }
    if (s->fd < 0) {
        say("cannot make a spool file in %s: %s", tmp, strerror(errno));
        return EX_TEMPFAIL;
    }
    struct content_limits limits;
    content_limits_from_config(&limits, &conf->limits);
    content_policy_init(&s->policy, &limits);
    static char buf[READ_CHUNK];
    enum content_verdict v = CONTENT_OK;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            say("cannot read the message: %s", strerror(errno));
            return EX_TEMPFAIL;
        }
        if (n == 0)
            break;
        v = spool_feed(s, buf, (size_t)n);
        if (v != CONTENT_OK)
            break;
        if (s->size > conf->limits.message_size) {
            say("message too big: more than limits.message_size (%zu octets)",
                conf->limits.message_size);
            return EX_DATAERR;
        }
    }
    if (v == CONTENT_OK)
        v = content_policy_end(&s->policy);
    switch (v) {
    case CONTENT_OK:
        return EX_OK;
    case CONTENT_WRITE_FAILED:
        say("cannot write the spool file: %s", strerror(errno));
        return EX_TEMPFAIL;
    case CONTENT_NUL:
    case CONTENT_BARE_EOL:
    case CONTENT_HEADER_TOO_BIG:
    case CONTENT_TOO_MANY_HEADERS:
        break;
    }
    say("message refused by the content policy: %s", content_verdict_name(v));
    return EX_DATAERR;
}

/* ---- who the recipient is ---- */

/* auth_running - whether the auth process answers on its socket: then it
 * is asked (its cache, its pool); otherwise the directory is. */
static bool auth_running(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path)
        return false;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return up;
}

/* What the lookup found, whichever way it was asked. */
struct lookup {
    enum auth_status status;
    const struct auth_recipient *r; /* into one of the two below */
    struct auth_recipient *from_auth;
    struct dir_recipient *from_dir;
    struct auth_recipient view;
    char *error;
    const char *via;
};

static void lookup_clear(struct lookup *l)
{
    auth_recipient_free(&l->from_auth);
    dir_recipient_free(&l->from_dir);
    free(l->error);
}

/* request_timeout_ms - longer than the auth process may spend on the
 * directory (every URI's timeouts), so that its TEMPFAIL arrives first. */
static unsigned request_timeout_ms(const struct config *conf)
{
    unsigned long per_uri = (unsigned long)conf->ldap.connect_timeout + conf->ldap.timeout;
    unsigned long uris = conf->ldap.uri_count > 0 ? conf->ldap.uri_count : 1;
    unsigned long ms = (per_uri * uris + 5) * 1000;
    return ms > 600000 ? 600000 : (unsigned)ms;
}

static void lookup_run(const struct config *conf, const char *address, struct lookup *l)
{
    char *sock = config_state_path(conf, CONFIG_STATE_AUTH_SOCKET);
    if (sock != NULL && auth_running(sock)) {
        l->via = "auth";
        struct auth_client *client = auth_client_new(sock, request_timeout_ms(conf));
        free(sock);
        if (client == NULL) {
            l->status = AUTH_TEMPFAIL;
            return;
        }
        const char *args[] = {address};
        struct auth_response resp = {0};
        l->status = auth_client_request(client, AUTH_REQ_RESOLVE, args, 1, &resp);
        l->from_auth = resp.recipient;
        resp.recipient = NULL;
        l->error = resp.error;
        resp.error = NULL;
        auth_response_clear(&resp);
        auth_client_free(&client);
        l->r = l->from_auth;
        return;
    }
    free(sock);
    l->via = "directory";
    struct directory_options opts;
    const char *err = NULL;
    struct directory *dir = NULL;
    if (directory_options_from_config(conf, &opts, &err) < 0 ||
        (dir = directory_new(&opts, &err)) == NULL) {
        if (dir == NULL && err != NULL)
            l->error = strdup(err);
        l->status = AUTH_TEMPFAIL;
        directory_options_clear(&opts);
        return;
    }
    enum dir_result res = dir_resolve(dir, address, &l->from_dir);
    directory_free(&dir);
    directory_options_clear(&opts);
    l->status = res == DIR_FOUND ? AUTH_FOUND : res == DIR_NOTFOUND ? AUTH_NOTFOUND : AUTH_TEMPFAIL;
    if (l->from_dir != NULL && res != DIR_TEMPFAIL) {
        dir_view_recipient(l->from_dir, &l->view);
        l->r = &l->view;
    }
}

/* ---- the exit status ---- */

/* exit_of - the sysexits code that tells the calling MTA what status
 * means: a bounce only for what the directory or the message itself makes
 * permanent; every temporary status is 75 (Postfix defers on it). */
static int exit_of(enum delivery_status status)
{
    switch (status) {
    case DELIVERY_STATUS_NO_SUCH_RECIPIENT:
    case DELIVERY_STATUS_NOT_A_MAILBOX:
    case DELIVERY_STATUS_DOMAIN_NOT_HERE:
        return EX_NOUSER;
    case DELIVERY_STATUS_MAILBOX_DISABLED:
    case DELIVERY_STATUS_MAILBOX_UNUSABLE:
    case DELIVERY_STATUS_SIEVE_REJECTED:
        return EX_NOPERM;
    case DELIVERY_STATUS_MAILBOX_FULL_PERM:
        return EX_CANTCREAT;
    case DELIVERY_STATUS_FORWARDING_LOOP:
        return EX_DATAERR;
    default:
        break;
    }
    return delivery_status_permanent(status) ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* drop_privileges - run as root (Postfix's local(8) runs a mailbox_command
 * as the recipient, but a pipe transport may be root): the Maildirs and the
 * auth socket belong to the mail user, so become server.user. */
static int drop_privileges(const struct config *conf)
{
    if (geteuid() != 0)
        return EX_OK;
    struct privdrop_ids ids;
    char *error = NULL;
    if (privdrop_resolve(conf->server.user, conf->server.group, &ids, &error) < 0 ||
        privdrop_apply(&ids, &error) == PRIVDROP_FAILED) {
        say("cannot become %s: %s", conf->server.user, error != NULL ? error : "?");
        free(error);
        privdrop_ids_clear(&ids);
        return EX_TEMPFAIL;
    }
    privdrop_ids_clear(&ids);
    return EX_OK;
}

static int deliver(const struct config *conf, const char *sender, const char *recipient,
                   const char *folder)
{
    int status = drop_privileges(conf);
    if (status != EX_OK)
        return status;
    struct spool spool = {.fd = -1};
    status = spool_stdin(conf, &spool);
    if (status != EX_OK) {
        if (spool.fd >= 0)
            close(spool.fd);
        return status;
    }
    struct lookup l = {0};
    lookup_run(conf, recipient, &l);
    enum delivery_status refusal;
    const char *arg;
    if (!mda_recipient_check(l.status, l.r, l.error, recipient, &refusal, &arg)) {
        char text[DELIVERY_STATUS_TEXT_MAX];
        delivery_status_format(text, sizeof text, refusal, arg);
        say("%s (asked the %s)", text, l.via);
        lookup_clear(&l);
        close(spool.fd);
        return exit_of(refusal);
    }
    /* Sieve's redirects and replies go into dirmaild's spool, which its
     * queue runner picks up (at its start when it is not running) */
    struct queue *queue = NULL;
    char *qpath = config_state_path(conf, CONFIG_STATE_QUEUE), *qerr = NULL;
    if (qpath == NULL || access(qpath, F_OK) < 0 || queue_open(qpath, &queue, &qerr) < 0)
        queue = NULL;
    free(qpath);
    free(qerr);
    struct mda *mda = mda_new(conf, NULL, queue);
    struct local_batch *batch = mda != NULL ? local_batch_new(mda_local_config(mda)) : NULL;
    if (batch == NULL) {
        say("out of memory");
        mda_free(&mda);
        queue_close(&queue);
        lookup_clear(&l);
        close(spool.fd);
        return EX_TEMPFAIL;
    }
    const struct mda_message msg = {.fd = spool.fd, .len = spool.size, .sender = sender};
    const struct mda_recipient rcpt = {
        .address = recipient,
        .mailbox = l.r->mailbox,
        .primary = l.r->primary != NULL ? l.r->primary : l.r->matched,
        .quota_bytes = l.r->quota,
        .folder = folder,
        .sieve = l.r->sieve,
        /* the calling MTA prepended its own Delivered-To after its check */
        .loop_after = 2,
    };
    struct local_result result;
    mda_add(mda, batch, &msg, &rcpt, NULL, &result);
    local_batch_free(&batch); /* settles: durable before we say 0 */
    mda_free(&mda);
    queue_close(&queue);
    lookup_clear(&l);
    close(spool.fd);
    if (result.state == LOCAL_DELIVERED)
        return EX_OK;
    say("%s", result.reply);
    return exit_of(result.status);
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG, *sender = NULL, *recipient = NULL, *folder = NULL;
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:f:a:m:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            sender = optarg;
            break;
        case 'a':
            recipient = optarg;
            break;
        case 'm':
            folder = optarg;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case 'V':
            printf("dirmail-deliver (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc || sender == NULL || recipient == NULL) {
        usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(sender, "<>") == 0)
        sender = "";
    if (!word_ok(sender) || !word_ok(recipient) || strchr(recipient, '@') == NULL ||
        strlen(recipient) >= ADDRESS_RENDER_MAX || strlen(sender) >= ADDRESS_RENDER_MAX) {
        say("-f and -a take one address each, without spaces or control characters");
        return EX_USAGE;
    }
    if (folder != NULL && !folder_ok(folder)) {
        say("-m %s: not a folder name (no '/', no leading or trailing '.', no \"..\")", folder);
        return EX_USAGE;
    }
    log_init(LOG_TARGET_STDERR, "dirmail-deliver", LOG_LEVEL_WARNING);
    if (access(path, R_OK) < 0 && (errno == EACCES || errno == EPERM)) {
        say("%s: %s", path, strerror(errno));
        return EX_NOPERM;
    }
    char *error = NULL;
    struct config *conf = config_load(path, &error);
    if (conf == NULL) {
        /* an administrator's mistake: defer the mail, never bounce it */
        say("%s", error != NULL ? error : "out of memory");
        free(error);
        return EX_TEMPFAIL;
    }
    /* the directory client's warnings (a URI down) where the site wants them */
    log_init(conf->server.log_target, "dirmail-deliver", LOG_LEVEL_WARNING);
    int status = deliver(conf, sender, recipient, folder);
    config_free(&conf);
    return status;
}
