/* reader/imap_copy.c - APPEND and COPY for the IMAP session (RFC 3501
 * 6.3.11, 6.4.7) with UIDPLUS's APPENDUID and COPYUID (RFC 4315 3). Both
 * write through the Maildir writer (delivery/maildir.h: tmp/, fsync, link
 * into new/, fsync), so a message is durable before the OK; the new
 * message's UID is the one the mailbox layer gives it at the next sync of
 * the target folder, found again by its file's base name. A COPY that fails
 * halfway removes what it had written (RFC 3501 6.4.7: the target is left as
 * it was). MOVE (RFC 6851) is a COPY whose sources are then expunged, with
 * the COPYUID in an untagged OK before the EXPUNGEs (section 4.3): the copy is
 * durable before any source goes, so a failure in between leaves the
 * message in both folders, never in neither. APPEND's literal is held in memory up to
 * limits.message_size (the parser's APPEND limit); streaming it to tmp/ is still to come. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/maildir.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "reader/imap_fetch_internal.h"
#include "reader/imap_session_internal.h"

/* One message written to the target. */
struct written {
    char *path;     /* below delivery.mailbox_base */
    unsigned flags; /* keyword bits by the letters of keywords */
    const struct maildir_keywords *keywords;
    struct timespec mtime; /* internal date; tv_nsec UTIME_OMIT: keep */
    uint32_t src_uid;
    uint32_t uid; /* in the target, 0 until found */
};

/* target_for - where APPEND and COPY write, held to the user's quota; a
 * MOVE is not, since within one Maildir it leaves the usage as it was. */
static void target_for(struct imap *p, const char *folder, bool move, struct maildir_target *t)
{
    memset(t, 0, sizeof *t);
    t->quota_bytes = move ? 0 : p->quota_bytes;
    t->base = p->ss->config->delivery.mailbox_base;
    t->mailbox = p->maildir;
    t->folder = imap_folder_is_inbox(folder) ? NULL : folder;
    t->hostname = p->ss->hostname;
    t->no_trace_fields = true;
}

/* base_of - the file name's base (before "," or ":"), the index's key. */
static void base_of(const char *path, char *buf, size_t size)
{
    const char *name = strrchr(path, '/');
    name = name != NULL ? name + 1 : path;
    size_t n = strcspn(name, ",:");
    snprintf(buf, size, "%.*s", (int)n, name);
}

/* target_keywords - the keyword bits of flags (by from's letters) as the
 * target folder's letters, given there when it has none yet. */
static unsigned target_keywords(struct imap *p, const struct maildir_keywords *from, unsigned flags,
                                struct maildir_keywords *to)
{
    unsigned out = flags & ~MAILBOX_FLAG_KEYWORDS;
    size_t given = to->count;
    for (size_t i = 0; from != NULL && i < MAILBOX_KEYWORDS_MAX; i++) {
        if (!(flags & MAILBOX_FLAG_KEYWORD(i)) || from->name[i] == NULL)
            continue;
        int k = maildir_keywords_assign(to->dir_fd, to, from->name[i], strlen(from->name[i]));
        if (k >= 0)
            out |= MAILBOX_FLAG_KEYWORD(k);
        else
            log_warning("event=imap_keyword_failed client=%s user=%s keyword=\"%s\" error=\"%s\"",
                        p->ss->client_ip, p->login, from->name[i], strerror(errno));
    }
    if (to == p->keywords && to->count != given)
        imap_flags_tell(p); /* RFC 3501 7.2.6: the selected folder's flags changed */
    return out;
}

static void keywords_free(struct maildir_keywords **kw)
{
    if (*kw == NULL)
        return;
    maildir_keywords_clear(*kw);
    if ((*kw)->dir_fd >= 0)
        close((*kw)->dir_fd);
    free(*kw);
    *kw = NULL;
}

/* keywords_of - the keywords of folder (not the selected one); NULL on an
 * error (then keywords are not copied, the messages are). */
static struct maildir_keywords *keywords_of(struct imap *p, const char *folder)
{
    struct maildir_keywords *kw = calloc(1, sizeof *kw);
    bool unused;
    if (kw == NULL)
        return NULL;
    maildir_keywords_clear(kw);
    kw->dir_fd = -1;
    if (imap_folder_open_dir(p, folder, strlen(folder), &kw->dir_fd) != 0 ||
        maildir_keywords_load(kw->dir_fd, kw, &unused) < 0)
        keywords_free(&kw);
    return kw;
}

/* settle - give the written messages their UIDs (a sync of the target),
 * internal dates and flags. false when the target cannot be synced. With
 * tell, a selected target's EXISTS is sent at once; MOVE leaves it to its
 * expunges' update, so that "EXPUNGE" comes before the EXISTS that already
 * counts without the sources (as Dovecot orders it; imaptest's move). */
static bool settle(struct imap *p, const char *folder, struct written *w, size_t count, bool tell,
                   uint32_t *uidvalidity_r)
{
    bool selected = p->selected != NULL && strcmp(p->selected, folder) == 0;
    struct mailbox *mb = selected ? p->mailbox : NULL;
    char *err = NULL;
    if (mb != NULL) {
        if (mailbox_sync(mb, &err) != MAILBOX_OK) {
            free(err);
            return false;
        }
    } else if (imap_folder_mailbox(p, folder, strlen(folder), false, &mb) != MAILBOX_OK) {
        return false;
    }
    *uidvalidity_r = mailbox_uidvalidity(mb);
    const char *root = p->ss->config->delivery.mailbox_base;
    struct maildir_keywords *own = NULL, *to = selected ? p->keywords : NULL;
    for (size_t k = 0; k < count; k++) {
        if (w[k].flags & MAILBOX_FLAG_KEYWORDS) {
            if (to == NULL)
                to = own = keywords_of(p, folder);
            w[k].flags = to != NULL ? target_keywords(p, w[k].keywords, w[k].flags, to)
                                    : w[k].flags & ~MAILBOX_FLAG_KEYWORDS;
        }
        if (w[k].mtime.tv_nsec != UTIME_OMIT) {
            char full[4096];
            struct timespec times[2] = {{0, UTIME_OMIT}, w[k].mtime};
            if (snprintf(full, sizeof full, "%s/%s", root, w[k].path) < (int)sizeof full)
                utimensat(AT_FDCWD, full, times, AT_SYMLINK_NOFOLLOW);
        }
        char base[256];
        base_of(w[k].path, base, sizeof base);
        for (size_t i = mailbox_count(mb); i > 0; i--) {
            const struct mailbox_msg *m = mailbox_msg(mb, i - 1);
            if (strcmp(m->base, base) != 0)
                continue;
            w[k].uid = m->uid;
            if (w[k].flags != 0 && w[k].flags != m->flags) {
                if (mailbox_msg_set_flags(mb, i - 1, w[k].flags, &err) != MAILBOX_OK) {
                    log_warning("event=imap_copy_flags_failed client=%s user=%s error=\"%s\"",
                                p->ss->client_ip, p->login, err != NULL ? err : "?");
                }
                free(err);
                err = NULL;
            }
            break;
        }
    }
    keywords_free(&own);
    if (!selected)
        mailbox_close(&mb);
    else if (tell)
        imap_folder_update(p, false); /* RFC 3501 6.3.11: EXISTS for the selected folder */
    return true;
}

/* write_failed - the reply to a message the Maildir writer did not store,
 * logged: over quota is the user's state (RFC 9208 7: OVERQUOTA), anything
 * else the server's trouble and temporary. */
static const char *write_failed(struct imap *p, const char *verb, const char *folder,
                                enum maildir_result r, const char *err)
{
    if (r == MAILDIR_QUOTA_EXCEEDED) {
        log_info("event=imap_over_quota client=%s user=%s command=%s folder=\"%s\" error=\"%s\"",
                 p->ss->client_ip, p->login, verb, folder, err != NULL ? err : "?");
        return "[OVERQUOTA] Over quota";
    }
    log_error("event=imap_%s_failed client=%s user=%s folder=\"%s\" error=\"%s\"", verb,
              p->ss->client_ip, p->login, folder, err != NULL ? err : "?");
    return "[UNAVAILABLE] The message could not be stored, try again";
}

/* folder_checked - the target folder exists (RFC 3501 6.3.11: else NO
 * [TRYCREATE], never made by APPEND or COPY). false: the reply is out. */
static bool folder_checked(struct imap *p, const struct imap_arg *name)
{
    struct mailbox *mb = NULL;
    switch (imap_folder_mailbox(p, name->str, name->len, false, &mb)) {
    case MAILBOX_OK:
        mailbox_close(&mb);
        return true;
    case MAILBOX_MISSING:
        imap_tagged(p, "NO", "[TRYCREATE] No such mailbox");
        return false;
    default:
        imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox cannot be opened now, try again later");
        return false;
    }
}

/* parse_date_time - RFC 3501 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz". */
static bool parse_date_time(const char *s, time_t *t_r)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int day, year, hh, mm, ss, zone;
    char mon[4], sign;
    if (sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %c%4d", &day, mon, &year, &hh, &mm, &ss, &sign, &zone) !=
            8 ||
        (sign != '+' && sign != '-') || day < 1 || day > 31 || year < 1900 || hh > 23 || mm > 59 ||
        ss > 60 || zone < 0 || zone > 2359)
        return false;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, months[i]) == 0)
            m = i;
    if (m < 0)
        return false;
    struct tm tm = {.tm_sec = ss,
                    .tm_min = mm,
                    .tm_hour = hh,
                    .tm_mday = day,
                    .tm_mon = m,
                    .tm_year = year - 1900};
    long offset = (zone / 100) * 3600L + (zone % 100) * 60L;
    *t_r = timegm(&tm) - (sign == '+' ? offset : -offset);
    return true;
}

static void written_free(struct written *w, size_t count)
{
    for (size_t k = 0; k < count; k++)
        free(w[k].path);
    free(w);
}

/* unwrite - remove what a failed COPY had written. */
static void unwrite(struct imap *p, struct written *w, size_t count)
{
    const char *root = p->ss->config->delivery.mailbox_base;
    for (size_t k = 0; k < count; k++) {
        char full[4096];
        if (snprintf(full, sizeof full, "%s/%s", root, w[k].path) < (int)sizeof full)
            unlink(full);
    }
}

static void append_to(struct imap *p, const struct imap_arg *name, const struct imap_arg *msg,
                      unsigned flags, const struct maildir_keywords *named, struct timespec mtime);

void imap_cmd_append(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    const struct imap_arg *msg = cmd->argc >= 2 ? imap_command_arg(cmd, cmd->argc - 1) : NULL;
    /* RFC 3516 4.4: APPEND takes a literal8 too, stored as it came */
    if (name == NULL || msg == NULL ||
        (msg->type != IMAP_ARG_LITERAL && msg->type != IMAP_ARG_LITERAL8) || cmd->argc > 4) {
        imap_bad(p, "Usage: APPEND mailbox [(flags)] [date-time] literal");
        return;
    }
    unsigned flags = 0;
    struct timespec mtime = {0, UTIME_OMIT};
    /* the keywords named, as letters of their own until the target's are known */
    struct maildir_keywords named = {.dir_fd = -1};
    for (size_t i = 1; i + 1 < cmd->argc; i++) {
        const struct imap_arg *a = imap_command_arg(cmd, i);
        if (a->type == IMAP_ARG_LIST) {
            for (size_t k = 0; k < a->count; k++) {
                bool known;
                const struct imap_arg *f = imap_list_elem(cmd, a, k);
                if (!imap_arg_flag(f)) {
                    maildir_keywords_clear(&named);
                    imap_bad(p, "Bad flag");
                    return;
                }
                unsigned bit = imap_flag_parse(NULL, f, &known);
                if (!known && maildir_keyword_valid(f->str, f->len) &&
                    maildir_keywords_find(&named, f->str, f->len) < 0 &&
                    named.count < MAILBOX_KEYWORDS_MAX &&
                    (named.name[named.count] = bytes_dup(f->str, f->len)) != NULL)
                    bit = MAILBOX_FLAG_KEYWORD(named.count++);
                flags |= bit;
            }
        } else if (a->type == IMAP_ARG_QUOTED) {
            time_t t;
            if (!parse_date_time(a->str, &t)) {
                maildir_keywords_clear(&named);
                imap_bad(p, "Bad date-time");
                return;
            }
            mtime.tv_sec = t;
            mtime.tv_nsec = 0;
        } else {
            maildir_keywords_clear(&named);
            imap_bad(p, "Usage: APPEND mailbox [(flags)] [date-time] literal");
            return;
        }
    }
    append_to(p, name, msg, flags, &named, mtime);
    maildir_keywords_clear(&named);
}

/* append_to - APPEND's message, flags and date into the folder. */
static void append_to(struct imap *p, const struct imap_arg *name, const struct imap_arg *msg,
                      unsigned flags, const struct maildir_keywords *named, struct timespec mtime)
{
    if (msg->len == 0) {
        imap_tagged(p, "NO", "[CANNOT] An empty message is not appended");
        return;
    }
    if (!folder_checked(p, name))
        return;
    struct maildir_target t;
    target_for(p, name->str, false, &t);
    struct maildir_delivery *d = NULL;
    char *err = NULL, *path = NULL;
    enum maildir_result r = maildir_delivery_begin(&t, "", p->login, &d, &err);
    if (r == MAILDIR_DELIVERED)
        r = maildir_delivery_write(d, msg->str, msg->len, &err);
    if (r == MAILDIR_DELIVERED)
        r = maildir_delivery_finish(&d, &path, &err);
    else
        maildir_delivery_abort(&d);
    if (r != MAILDIR_DELIVERED) {
        imap_tagged(p, "NO", "%s", write_failed(p, "append", name->str, r, err));
        free(err);
        return;
    }
    struct written w = {path, flags, named, mtime, 0, 0};
    uint32_t uidvalidity = 0;
    bool settled = settle(p, name->str, &w, 1, true, &uidvalidity);
    log_info("event=imap_append client=%s user=%s folder=\"%s\" file=%s uid=%u", p->ss->client_ip,
             p->login, name->str, path, (unsigned)w.uid);
    free(path);
    if (settled && w.uid != 0)
        imap_tagged(p, "OK", "[APPENDUID %u %u] Append completed", (unsigned)uidvalidity,
                    (unsigned)w.uid);
    else
        imap_tagged(p, "OK", "Append completed");
}

/* uid_list - "1,2,5" of the count UIDs (src or target) into a malloc'd string. */
static char *uid_list(const struct written *w, size_t count, bool src)
{
    char *s = malloc(count * 11 + 1);
    if (s == NULL)
        return NULL;
    size_t n = 0, size = count * 11 + 1;
    s[0] = '\0';
    for (size_t k = 0; k < count; k++) {
        int len = snprintf(s + n, size - n, "%s%u", k > 0 ? "," : "",
                           (unsigned)(src ? w[k].src_uid : w[k].uid));
        if (len < 0 || (size_t)len >= size - n) {
            free(s);
            return NULL;
        }
        n += (size_t)len;
    }
    return s;
}

/* expunge_sources - MOVE's second half: the copied messages leave the
 * selected folder, and the client is told (EXPUNGE, highest first). false
 * when one could not be removed (it stays, copied). */
static bool expunge_sources(struct imap *p, const struct written *w, size_t count)
{
    bool ok = true;
    char *berr = NULL;
    if (mailbox_change_begin(p->mailbox, &berr) != MAILBOX_OK) {
        log_error("event=imap_move_expunge_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, berr != NULL ? berr : "?");
        free(berr);
        imap_folder_update(p, true);
        return false;
    }
    for (size_t k = 0; k < count; k++) {
        long i = imap_folder_find_uid(p->mailbox, w[k].src_uid);
        char *err = NULL;
        if (i >= 0 && mailbox_msg_expunge(p->mailbox, (size_t)i, &err) == MAILBOX_TEMPFAIL) {
            log_error("event=imap_move_expunge_failed client=%s user=%s uid=%u error=\"%s\"",
                      p->ss->client_ip, p->login, (unsigned)w[k].src_uid, err != NULL ? err : "?");
            ok = false;
        }
        free(err);
    }
    mailbox_change_end(p->mailbox);
    imap_folder_update(p, true);
    return ok;
}

void imap_cmd_copy(struct imap *p, const struct imap_command *cmd, size_t first, bool uid,
                   bool move)
{
    static struct imap_seqset set;
    const char *verb = move ? "MOVE" : "COPY";
    const struct imap_arg *name = imap_mailbox_arg(cmd, first + 1);
    if (cmd->argc != first + 2 || !imap_seqset_arg(cmd, first, &set) || name == NULL) {
        imap_bad(p, move ? "Usage: MOVE sequence-set mailbox" : "Usage: COPY sequence-set mailbox");
        return;
    }
    if (move && p->read_only) {
        imap_tagged(p, "NO", "[READ-ONLY] The mailbox is read-only");
        return;
    }
    if (!imap_seqset_valid(p, &set, uid)) {
        imap_bad(p, "Invalid message sequence number");
        return;
    }
    if (!folder_checked(p, name))
        return;
    size_t *seqs, count;
    if (imap_messages(p, &set, uid, &seqs, &count) < 0) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    struct written *w = calloc(count > 0 ? count : 1, sizeof *w);
    if (w == NULL) {
        free(seqs);
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    struct maildir_target t;
    target_for(p, name->str, move, &t);
    size_t done = 0;
    const char *failure = NULL;
    for (size_t k = 0; k < count && failure == NULL; k++) {
        long index = imap_folder_index(p, seqs[k]);
        if (index < 0) {
            failure = "[EXPUNGEISSUED] Some of the messages were expunged meanwhile";
            break;
        }
        const struct mailbox_msg *m = mailbox_msg(p->mailbox, (size_t)index);
        int fd = -1;
        char *err = NULL;
        if (mailbox_msg_open(p->mailbox, (size_t)index, &fd, &err) != MAILBOX_OK) {
            free(err);
            failure = "[EXPUNGEISSUED] Some of the messages were expunged meanwhile";
            break;
        }
        struct stat st;
        w[done].mtime = (struct timespec){0, UTIME_OMIT};
        if (fstat(fd, &st) == 0)
            w[done].mtime = st.st_mtim; /* RFC 3501 6.4.7: the internal date is kept */
        w[done].flags = m->flags;
        w[done].keywords = p->keywords;
        w[done].src_uid = m->uid;
        enum maildir_result r =
            maildir_deliver_fd(&t, "", p->login, fd, MAILDIR_TO_EOF, &w[done].path, &err);
        close(fd);
        if (r != MAILDIR_DELIVERED) {
            failure = write_failed(p, move ? "move" : "copy", name->str, r, err);
        } else {
            done++;
        }
        free(err);
    }
    free(seqs);
    if (failure != NULL) {
        unwrite(p, w, done);
        written_free(w, done);
        imap_tagged(p, "NO", "%s", failure);
        return;
    }
    uint32_t uidvalidity = 0;
    bool settled = settle(p, name->str, w, done, !move, &uidvalidity);
    bool all = settled && done > 0;
    for (size_t k = 0; k < done; k++)
        all = all && w[k].uid != 0;
    char *src = all ? uid_list(w, done, true) : NULL;
    char *dst = all ? uid_list(w, done, false) : NULL;
    log_info("event=imap_%s client=%s user=%s folder=\"%s\" messages=%zu", move ? "move" : "copy",
             p->ss->client_ip, p->login, name->str, done);
    if (move) {
        if (src != NULL && dst != NULL)
            conn_printf(p->conn, "* OK [COPYUID %u %s %s] Moved\r\n", (unsigned)uidvalidity, src,
                        dst);
        if (expunge_sources(p, w, done))
            imap_tagged(p, "OK", "%s%s completed", uid ? "UID " : "", verb);
        else
            imap_tagged(p, "NO", "[UNAVAILABLE] Copied, but some messages could not be removed");
    } else if (src != NULL && dst != NULL) {
        /* the tag line may be long: written directly, not through imap_tagged's buffer */
        conn_printf(p->conn, "%s OK [COPYUID %u %s %s] %sCopy completed\r\n", p->tag,
                    (unsigned)uidvalidity, src, dst, uid ? "UID " : "");
    } else {
        imap_tagged(p, "OK", "%sCopy completed", uid ? "UID " : "");
    }
    free(src);
    free(dst);
    written_free(w, done);
}
