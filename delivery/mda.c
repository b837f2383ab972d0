/* delivery/mda.c - see mda.h.
 *
 * The order of one delivery: the loop check; the Maildir root opened (and
 * made) below the base; its default folders at the first delivery; the
 * scripts run; a reject ends it there; redirects and the vacation reply
 * are queued before anything is stored, so that a queue that cannot take
 * them defers the whole delivery rather than lose a redirect (a retry may
 * send a redirect twice, never zero times: "at worst twice" as everywhere);
 * then the quota warning (mda_quota.h); then the stores. */
#include "config.h"

#include "delivery/mda.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/maildir_dirs.h"
#include "delivery/maildir_keywords.h"
#include "delivery/maildir_path.h"
#include "delivery/mda_folders.h"
#include "delivery/mda_notify.h"
#include "delivery/mda_quota.h"
#include "delivery/mda_sieve.h"
#include "delivery/sieve/sieve_message.h"
#include "lib/log.h"

/* A reject's reason in a reply: its first line, this long at most. */
#define REASON_MAX 200
/* Stores one message can have: the engine's actions per run. */
#define STORE_MAX 32

/* How much of the header section the loop check reads. */
#define HEADER_SCAN_MAX (256 * 1024)

/* trim - s[0..*len) without the white space around it. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
        (*len)--;
    return s;
}

/* field_names - line (one unfolded header line without its LF) is a
 * Delivered-To field whose value, without <>, is address. */
static bool field_names(const char *line, size_t len, const char *address)
{
    static const char name[] = "Delivered-To:";
    if (len < sizeof name - 1 || strncasecmp(line, name, sizeof name - 1) != 0)
        return false;
    size_t vlen = len - (sizeof name - 1);
    const char *v = trim(line + sizeof name - 1, &vlen);
    if (vlen >= 2 && v[0] == '<' && v[vlen - 1] == '>') {
        v++;
        vlen -= 2;
    }
    return vlen == strlen(address) && strncasecmp(v, address, vlen) == 0;
}

unsigned mda_delivered_to_count(const struct mda_message *msg, const char *address)
{
    size_t want = msg->len < HEADER_SCAN_MAX ? (size_t)msg->len : HEADER_SCAN_MAX;
    char *text = malloc(want + 1);
    if (text == NULL)
        return 0;
    size_t have = 0;
    while (have < want) {
        ssize_t n = pread(msg->fd, text + have, want - have, (off_t)have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    unsigned count = 0;
    size_t pos = 0;
    while (pos < have) {
        const char *nl = memchr(text + pos, '\n', have - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : have;
        size_t len = end - pos;
        if (len > 0 && text[pos + len - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the empty line: the header section is over (RFC 5322 2.1) */
        if (field_names(text + pos, len, address))
            count++;
        pos = end + 1;
    }
    free(text);
    return count;
}

bool mda_recipient_check(enum auth_status status, const struct auth_recipient *r, const char *error,
                         const char *address, enum delivery_status *status_r, const char **arg_r)
{
    *arg_r = address;
    if ((status != AUTH_FOUND && status != AUTH_NOTFOUND) || (status == AUTH_FOUND && r == NULL)) {
        *status_r = DELIVERY_STATUS_DIRECTORY_UNAVAILABLE;
        *arg_r = error != NULL ? error : auth_status_name(status);
        return false;
    }
    *status_r = DELIVERY_STATUS_NO_SUCH_RECIPIENT;
    if (r == NULL)
        return false;
    /* NOTFOUND carries the kind of address it was: a domain not ours is
     * said so; anything else the directory does not know is 5.1.1 */
    if (status == AUTH_NOTFOUND) {
        if (r->kind == AUTH_KIND_NOT_OURS)
            *status_r = DELIVERY_STATUS_DOMAIN_NOT_HERE;
        return false;
    }
    switch (r->kind) {
    case AUTH_KIND_LOCAL:
        if (r->status != AUTH_USER_HELD)
            return true;
        *status_r = DELIVERY_STATUS_MAILBOX_HELD;
        return false;
    case AUTH_KIND_REMOTE_NODE:
        *status_r = DELIVERY_STATUS_MAILBOX_ELSEWHERE;
        *arg_r = r->mail_host != NULL ? r->mail_host : "?";
        return false;
    case AUTH_KIND_DISABLED:
        *status_r =
            r->disabled_hold ? DELIVERY_STATUS_DISABLED_HELD : DELIVERY_STATUS_MAILBOX_DISABLED;
        return false;
    case AUTH_KIND_FORWARD:
    case AUTH_KIND_GROUP:
    case AUTH_KIND_RELAY:
        *status_r = DELIVERY_STATUS_NOT_A_MAILBOX;
        return false;
    case AUTH_KIND_NOT_OURS:
        *status_r = DELIVERY_STATUS_DOMAIN_NOT_HERE;
        return false;
    case AUTH_KIND_UNKNOWN:
    case AUTH_KIND_INVALID:
        break;
    }
    return false;
}

struct mda {
    const struct config *conf;
    struct local_delivery_config local;
    struct queue *queue;
    struct mda_sieve *sieve;
};

struct mda *mda_new(const struct config *conf, const char *hostname, struct queue *queue)
{
    struct mda *mda = calloc(1, sizeof *mda);
    if (mda == NULL)
        return NULL;
    mda->conf = conf;
    mda->queue = queue;
    mda->local = (struct local_delivery_config){
        .mailbox_base = conf->delivery.mailbox_base,
        .hostname = hostname != NULL ? hostname : conf->server.hostname,
        .sync_method = conf->delivery.sync_method,
    };
    mda->sieve = mda_sieve_new(&conf->delivery, &conf->sieve);
    if (mda->sieve == NULL) {
        free(mda);
        return NULL;
    }
    return mda;
}

void mda_free(struct mda **mda)
{
    if (*mda == NULL)
        return;
    mda_sieve_free(&(*mda)->sieve);
    free(*mda);
    *mda = NULL;
}

const struct local_delivery_config *mda_local_config(const struct mda *mda)
{
    return &mda->local;
}

/* One store the script asked for. */
struct store {
    char *folder;                         /* NULL: INBOX (or the caller's folder for a keep) */
    char flags[8 + MAILBOX_KEYWORDS_MAX]; /* system letters, then keyword letters */
};

/* One delivery being carried out. */
struct step {
    struct mda *mda;
    const struct mda_message *msg;
    const struct mda_recipient *rcpt;
    const char *log_id;
    int root_fd;
    struct store stores[STORE_MAX];
    size_t store_count;
    bool keep_forced; /* a redirect could not be made: the message is kept */
};

/* finish - out final at once: its status, the caller told. */
static enum local_state finish(const struct mda_recipient *rcpt, struct local_result *out,
                               enum delivery_status status, const char *arg)
{
    local_result_set(out, status, arg);
    if (rcpt->settled != NULL)
        rcpt->settled(rcpt->settled_ctx, out);
    return out->state;
}

/* finish_delivered - nothing to store (discard, redirect only): done. */
static enum local_state finish_delivered(const struct mda_recipient *rcpt, struct local_result *out)
{
    *out = (struct local_result){.state = LOCAL_DELIVERED};
    if (rcpt->settled != NULL)
        rcpt->settled(rcpt->settled_ctx, out);
    return out->state;
}

static const char *id_of(const struct step *st)
{
    return st->log_id != NULL ? st->log_id : "-";
}

/* flag_letters - the system flags of an action's imap4flags as Maildir
 * info letters (doc/mailbox.md); keywords are keyword_letters'. */
static void flag_letters(const struct sieve_action *a, char out[8])
{
    static const struct {
        const char *flag;
        char letter;
    } map[] = {{"\\draft", 'D'},
               {"\\flagged", 'F'},
               {"\\answered", 'R'},
               {"\\seen", 'S'},
               {"\\deleted", 'T'}};
    size_t k = 0;
    for (size_t m = 0; m < sizeof map / sizeof map[0]; m++)
        for (size_t i = 0; i < a->flag_count; i++)
            if (strcasecmp(a->flags[i], map[m].flag) == 0) {
                out[k++] = map[m].letter;
                break;
            }
    out[k] = '\0';
}

/* keyword_letters - the keywords of an action's imap4flags (the flags
 * without a backslash, RFC 5232 3) appended to letters as the folder's
 * Dovecot keyword letters, a letter given to a new one (maildir_keywords.h,
 * the reader's own). The folder is made now when it is new (fileinto
 * :create; delivery would make it next). A keyword that cannot be stored
 * (not an IMAP atom, all 26 letters given, an I/O error) is logged and
 * left out: the message is still filed, with the flags that could be. */
static void keyword_letters(const struct step *st, const struct sieve_action *a, const char *folder,
                            char *letters)
{
    int dir_fd = -1;
    struct maildir_keywords kw = {.dir_fd = -1};
    maildir_keywords_clear(&kw);
    bool given[MAILBOX_KEYWORDS_MAX] = {false};
    for (size_t i = 0; i < a->flag_count; i++) {
        const char *name = a->flags[i];
        if (name[0] == '\\')
            continue;
        char *error = NULL;
        const char *why = NULL;
        bool unused, folder_failed = false;
        int k = -1;
        if (!maildir_keyword_valid(name, strlen(name))) {
            why = "not an IMAP keyword";
        } else if (dir_fd < 0) {
            /* the folder once, and its keywords read once under it */
            if (folder == NULL ? (dir_fd = dup(st->root_fd)) < 0
                               : maildir_dir_open_folder(st->root_fd, folder, &dir_fd, &error) !=
                                     MAILDIR_DELIVERED)
                why = error != NULL ? error : strerror(errno);
            else if (maildir_keywords_load(dir_fd, &kw, &unused) < 0)
                why = strerror(errno);
            folder_failed = why != NULL;
        }
        if (why == NULL && (k = maildir_keywords_assign(dir_fd, &kw, name, strlen(name))) < 0)
            why = errno == ENOSPC ? "26 keywords in the folder already" : strerror(errno);
        if (why == NULL) {
            given[k] = true;
            continue;
        }
        char q1[256], q2[256], q3[256];
        log_warning("id=%s event=sieve_keyword_dropped rcpt=%s keyword=%s error=%s", id_of(st),
                    log_quote(q1, sizeof q1, st->rcpt->address), log_quote(q2, sizeof q2, name),
                    log_quote(q3, sizeof q3, why));
        free(error);
        if (folder_failed)
            break; /* no keyword can be stored in this folder */
    }
    size_t n = strlen(letters);
    for (size_t k = 0; k < MAILBOX_KEYWORDS_MAX; k++)
        if (given[k])
            letters[n++] = (char)('a' + k);
    letters[n] = '\0';
    maildir_keywords_clear(&kw);
    if (dir_fd >= 0)
        close(dir_fd);
}

/* add_store - a keep or fileinto: where it really goes. A fileinto to a
 * folder that does not exist, without :create, goes to INBOX (RFC 5490
 * 3.1 makes it an error; the error's implicit keep is the INBOX). */
static void add_store(struct step *st, const struct sieve_action *a)
{
    if (st->store_count == STORE_MAX)
        return;
    struct store *s = &st->stores[st->store_count];
    *s = (struct store){0};
    flag_letters(a, s->flags);
    char q1[256], q2[256];
    if (a->kind == SIEVE_ACT_FILEINTO && a->target != NULL) {
        if (!mda_folder_name(a->target, &s->folder)) {
            log_warning("id=%s event=sieve_fileinto_refused rcpt=%s folder=%s reason=\"not a "
                        "folder name\" stored=INBOX",
                        id_of(st), log_quote(q1, sizeof q1, st->rcpt->address),
                        log_quote(q2, sizeof q2, a->target));
        } else if (s->folder != NULL && !a->create &&
                   mda_folder_exists(st->root_fd, s->folder) == 0) {
            log_warning("id=%s event=sieve_fileinto_missing rcpt=%s folder=%s stored=INBOX",
                        id_of(st), log_quote(q1, sizeof q1, st->rcpt->address),
                        log_quote(q2, sizeof q2, s->folder));
            free(s->folder);
            s->folder = NULL;
        }
    } else if (st->rcpt->folder != NULL) {
        s->folder = strdup(st->rcpt->folder);
    }
    for (size_t i = 0; i < st->store_count; i++) {
        const char *a1 = st->stores[i].folder, *a2 = s->folder;
        if ((a1 == NULL && a2 == NULL) || (a1 != NULL && a2 != NULL && strcmp(a1, a2) == 0)) {
            free(s->folder); /* one store per folder (RFC 5228 4.1, 4.3) */
            return;
        }
    }
    keyword_letters(st, a, s->folder, s->flags);
    st->store_count++;
}

/* reason_line - a reject's reason made one short line for a reply. */
static void reason_line(const char *reason, char out[REASON_MAX + 1])
{
    size_t k = 0;
    for (const char *p = reason != NULL ? reason : ""; *p != '\0' && k < REASON_MAX; p++) {
        if (*p == '\r' || *p == '\n')
            break;
        out[k++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    }
    out[k] = '\0';
    if (k == 0)
        snprintf(out, REASON_MAX + 1, "no reason given");
}

/* send_redirect - queue one redirect; -1 when it must be tried again. */
static int send_redirect(struct step *st, const char *to)
{
    char q1[256], q2[256], q3[512];
    const char *rcpt = st->rcpt->address;
    /* the target has had this message already: a loop (RFC 5228 4.2) */
    if (mda_delivered_to_count(st->msg, to) > 0 || strcasecmp(to, rcpt) == 0) {
        log_warning("id=%s event=sieve_redirect_loop rcpt=%s to=%s stored=INBOX", id_of(st),
                    log_quote(q1, sizeof q1, rcpt), log_quote(q2, sizeof q2, to));
        st->keep_forced = true;
        return 0;
    }
    if (st->mda->queue == NULL) {
        log_warning("id=%s event=sieve_redirect_deferred rcpt=%s error=\"no queue\"", id_of(st),
                    log_quote(q1, sizeof q1, rcpt));
        return -1;
    }
    char new_id[QUEUE_ID_SIZE], *error = NULL;
    if (mda_notify_redirect(st->mda->queue, st->msg->fd, st->msg->len, st->msg->sender, rcpt, to,
                            new_id, &error) < 0) {
        log_warning("id=%s event=sieve_redirect_deferred rcpt=%s error=%s", id_of(st),
                    log_quote(q1, sizeof q1, rcpt),
                    log_quote(q3, sizeof q3, error != NULL ? error : "out of memory"));
        free(error);
        return -1;
    }
    log_info("id=%s event=sieve_redirect rcpt=%s to=%s queued=%s", id_of(st),
             log_quote(q1, sizeof q1, rcpt), log_quote(q2, sizeof q2, to), new_id);
    return 0;
}

/* send_vacation - queue the reply and remember it; a failure is logged
 * (no reply this time) and never holds the message. */
static void send_vacation(struct step *st, const struct sieve_action *a,
                          const struct sieve_message *smsg)
{
    char q1[256], q2[256], q3[512];
    const char *rcpt = st->rcpt->address;
    if (st->mda->queue == NULL || a->target == NULL) {
        log_warning("id=%s event=sieve_vacation_skipped rcpt=%s error=\"no queue\"", id_of(st),
                    log_quote(q1, sizeof q1, rcpt));
        return;
    }
    char new_id[QUEUE_ID_SIZE], *error = NULL;
    const char *from = st->rcpt->primary != NULL ? st->rcpt->primary : rcpt;
    if (mda_notify_vacation(st->mda->queue, st->mda->local.hostname, a, from, smsg, new_id,
                            &error) < 0) {
        log_warning("id=%s event=sieve_vacation_failed rcpt=%s error=%s", id_of(st),
                    log_quote(q1, sizeof q1, rcpt),
                    log_quote(q3, sizeof q3, error != NULL ? error : "out of memory"));
        free(error);
        return;
    }
    if (mda_sieve_vacation_record(st->root_fd, a) < 0)
        log_warning("id=%s event=sieve_vacation_unrecorded rcpt=%s", id_of(st),
                    log_quote(q1, sizeof q1, rcpt));
    log_info("id=%s event=sieve_vacation rcpt=%s to=%s queued=%s", id_of(st),
             log_quote(q1, sizeof q1, rcpt), log_quote(q2, sizeof q2, a->target), new_id);
}

/* run_sieve - the scripts and their actions that are not stores; the
 * stores into st. Returns -1 with out final when the delivery ends here. */
static int run_sieve(struct step *st, struct local_result *out)
{
    const struct mda_recipient *rcpt = st->rcpt;
    const struct mda_sieve_input in = {
        .root_fd = st->root_fd,
        .dir_script = rcpt->sieve,
        .address = rcpt->address,
        .primary = rcpt->primary,
        .sender = st->msg->sender,
        .fd = st->msg->fd,
        .len = st->msg->len,
        .log_id = st->log_id,
    };
    struct sieve_result result = {0};
    struct sieve_message *smsg = NULL;
    char *error = NULL;
    enum mda_sieve_status status = mda_sieve_run(st->mda->sieve, &in, &result, &smsg, &error);
    if (status == MDA_SIEVE_TEMPFAIL) {
        finish(rcpt, out, DELIVERY_STATUS_SIEVE_TEMPFAIL, error != NULL ? error : "?");
        free(error);
        return -1;
    }
    if (status == MDA_SIEVE_NONE) {
        const struct sieve_action keep = {.kind = SIEVE_ACT_KEEP, .implicit = true};
        add_store(st, &keep);
        return 0;
    }
    int rc = 0;
    char q1[256];
    for (size_t i = 0; i < result.count && rc == 0; i++) {
        const struct sieve_action *a = &result.actions[i];
        if (a->kind == SIEVE_ACT_REJECT || a->kind == SIEVE_ACT_EREJECT) {
            char reason[REASON_MAX + 1];
            reason_line(a->target, reason);
            log_info("id=%s event=sieve_reject rcpt=%s", id_of(st),
                     log_quote(q1, sizeof q1, rcpt->address));
            finish(rcpt, out, DELIVERY_STATUS_SIEVE_REJECTED, reason);
            rc = -1;
        }
    }
    for (size_t i = 0; i < result.count && rc == 0; i++)
        if (result.actions[i].kind == SIEVE_ACT_REDIRECT &&
            send_redirect(st, result.actions[i].target) < 0) {
            finish(rcpt, out, DELIVERY_STATUS_SIEVE_TEMPFAIL, "cannot queue a redirect");
            rc = -1;
        }
    for (size_t i = 0; i < result.count && rc == 0; i++) {
        const struct sieve_action *a = &result.actions[i];
        if (a->kind == SIEVE_ACT_VACATION)
            send_vacation(st, a, smsg);
        else if (a->kind == SIEVE_ACT_KEEP || a->kind == SIEVE_ACT_FILEINTO)
            add_store(st, a);
        else if (a->kind == SIEVE_ACT_DISCARD)
            log_info("id=%s event=sieve_discard rcpt=%s", id_of(st),
                     log_quote(q1, sizeof q1, rcpt->address));
    }
    if (rc == 0 && st->keep_forced) {
        const struct sieve_action keep = {.kind = SIEVE_ACT_KEEP, .implicit = true};
        add_store(st, &keep);
    }
    sieve_result_clear(&result);
    sieve_message_free(&smsg);
    return rc;
}

/* open_root - the recipient's Maildir root, made when missing. */
static int open_root(struct step *st, struct local_result *out)
{
    const struct mda_recipient *rcpt = st->rcpt;
    char *mailbox =
        rcpt->mailbox != NULL && rcpt->mailbox[0] != '\0'
            ? strdup(rcpt->mailbox)
            : local_default_mailbox(rcpt->primary != NULL ? rcpt->primary : rcpt->address);
    if (mailbox == NULL) {
        finish(rcpt, out, DELIVERY_STATUS_NO_MAILBOX_PATH, NULL);
        return -1;
    }
    char *error = NULL;
    enum maildir_path_result r =
        maildir_path_open(st->mda->local.mailbox_base, mailbox, true, &st->root_fd, &error);
    free(mailbox);
    if (r != MAILDIR_PATH_OK) {
        finish(rcpt, out,
               r == MAILDIR_PATH_UNSAFE ? DELIVERY_STATUS_MAILBOX_UNUSABLE
                                        : DELIVERY_STATUS_DELIVERY_FAILED,
               error != NULL ? error : "?");
        free(error);
        return -1;
    }
    const struct config_delivery *d = &st->mda->conf->delivery;
    enum maildir_result res =
        mda_folders_ensure(st->root_fd, d->default_folders, d->default_folder_count, &error);
    if (res != MAILDIR_DELIVERED) {
        finish(rcpt, out, DELIVERY_STATUS_DELIVERY_FAILED, error != NULL ? error : "?");
        free(error);
        return -1;
    }
    return 0;
}

/* store - one store as a request for local delivery. */
static void store_request(const struct step *st, size_t i, char *key, size_t key_size,
                          struct local_delivery_request *req)
{
    const struct mda_recipient *rcpt = st->rcpt;
    const char *stable_key = rcpt->stable_key;
    if (stable_key != NULL && i > 0) {
        snprintf(key, key_size, "%sS%zu", rcpt->stable_key, i);
        stable_key = key;
    }
    *req = (struct local_delivery_request){
        .fd = st->msg->fd,
        .len = st->msg->len,
        .sender = st->msg->sender,
        .recipient = rcpt->address,
        .mailbox = rcpt->mailbox,
        .address = rcpt->primary != NULL ? rcpt->primary : rcpt->address,
        .folder = st->stores[i].folder,
        .flags = st->stores[i].flags,
        .quota_bytes = rcpt->quota_bytes,
        .quota_permanent = st->mda->conf->delivery.quota_permanent,
        .stable_key = stable_key,
        .stable_time = rcpt->stable_time,
        .check_delivered = rcpt->check_delivered,
        .log_id = st->log_id,
    };
}

enum local_state mda_add(struct mda *mda, struct local_batch *batch, const struct mda_message *msg,
                         const struct mda_recipient *rcpt, const char *log_id,
                         struct local_result *out)
{
    if (rcpt->loop_after > 0 && mda_delivered_to_count(msg, rcpt->address) >= rcpt->loop_after)
        return finish(rcpt, out, DELIVERY_STATUS_FORWARDING_LOOP, rcpt->address);
    struct step st = {.mda = mda, .msg = msg, .rcpt = rcpt, .log_id = log_id, .root_fd = -1};
    enum local_state state = LOCAL_PENDING;
    if (open_root(&st, out) < 0 || run_sieve(&st, out) < 0) {
        state = out->state;
        goto done;
    }
    if (st.store_count == 0) {
        state = finish_delivered(rcpt, out);
        goto done;
    }
    struct stat sb;
    const struct mda_quota_notice notice = {
        .conf = &mda->conf->delivery,
        .queue = mda->queue,
        .hostname = mda->local.hostname,
        .root_fd = st.root_fd,
        .quota_bytes = rcpt->quota_bytes,
        .to = rcpt->primary != NULL ? rcpt->primary : rcpt->address,
        .log_id = log_id,
    };
    mda_quota_warning(&notice, msg->len != MAILDIR_TO_EOF ? msg->len
                               : fstat(msg->fd, &sb) == 0 ? (uint64_t)sb.st_size
                                                          : 0);
    char key[LOCAL_STABLE_KEY_MAX + 1];
    struct local_delivery_request req;
    /* all but the last on their own fsyncs: a failure defers the message
     * before the batch holds any of it (their stable names make a retry
     * find them again) */
    for (size_t i = 0; i + 1 < st.store_count; i++) {
        if (lseek(msg->fd, 0, SEEK_SET) != 0) {
            state = finish(rcpt, out, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
            goto done;
        }
        store_request(&st, i, key, sizeof key, &req);
        struct local_result one;
        local_deliver(&mda->local, &req, &one);
        if (one.state != LOCAL_DELIVERED) {
            *out = one;
            if (rcpt->settled != NULL)
                rcpt->settled(rcpt->settled_ctx, out);
            state = out->state;
            goto done;
        }
    }
    /* local_batch_add reads the descriptor from its offset: the start */
    if (lseek(msg->fd, 0, SEEK_SET) != 0) {
        state = finish(rcpt, out, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
        goto done;
    }
    store_request(&st, st.store_count - 1, key, sizeof key, &req);
    req.settled = rcpt->settled;
    req.settled_ctx = rcpt->settled_ctx;
    state = local_batch_add(batch, &req, out);
done:
    for (size_t i = 0; i < st.store_count; i++)
        free(st.stores[i].folder);
    if (st.root_fd >= 0)
        close(st.root_fd);
    return state;
}
