/* reader/imap_folder.c - folders for the IMAP session: the names (INBOX is
 * the user's Maildir itself, "A.B" its Maildir++ folder ".A.B"), SELECT and
 * EXAMINE, CREATE, DELETE, RENAME, CLOSE, UNSELECT, EXPUNGE, and the
 * client's view of the selected folder with the untagged updates that keep
 * it true (LIST, LSUB, STATUS and subscriptions are imap_list.c's) (RFC 3501 7.4.1: an EXPUNGE
 * never while a sequence-number command runs). Opening and listing a folder runs on the event loop
 * for now: the mailbox layer's index makes a resync of an unchanged folder one stat of new/ and
 * cur/, but a first scan of a large folder blocks the worker while it runs (doc/imap.md). */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/maildir_path.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "reader/imap_mime_cache.h"
#include "reader/imap_session_internal.h"

/* A folder name is at most this long (a Maildir++ directory name is the
 * name with a "." before it, within NAME_MAX). */

/* ---- names ---- */

bool imap_folder_is_inbox(const char *name)
{
    return strcasecmp(name, "INBOX") == 0;
}

/* folder_dir - the Maildir++ directory of name (not INBOX) into buf: "."
 * then the name. false when the name cannot be one: empty parts, a "/", a
 * control octet, too long (names are kept as the client's modified UTF-7). */
bool imap_folder_dir(const char *name, size_t len, char *buf, size_t size)
{
    if (len == 0 || len > IMAP_FOLDER_NAME_MAX || len + 2 > size || name[0] == '.' ||
        name[len - 1] == '.' || strstr(name, "..") != NULL || memchr(name, '/', len) != NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    buf[0] = '.';
    memcpy(buf + 1, name, len);
    buf[len + 1] = '\0';
    return true;
}

/* make_maildir_dirs - cur/, new/ and tmp/ in fd (EEXIST is fine). */
static int make_maildir_dirs(int fd)
{
    static const char *const subdirs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        if (mkdirat(fd, subdirs[i], 0700) < 0 && errno != EEXIST)
            return -1;
    }
    return fsync(fd);
}

/* ensure_root - the user's Maildir, made when never delivered to (a client
 * may SELECT or CREATE before the first mail arrives). */
static bool ensure_root(struct imap *p)
{
    return imap_folder_root(p, true);
}

bool imap_folder_root(struct imap *p, bool create)
{
    if (p->root_fd >= 0)
        return true;
    if (p->maildir == NULL)
        return false;
    char *err = NULL;
    int fd = -1;
    enum maildir_path_result r =
        maildir_path_open(p->ss->config->delivery.mailbox_base, p->maildir, create, &fd, &err);
    if (r == MAILDIR_PATH_MISSING && !create) {
        free(err);
        return false; /* still never delivered to, nor made by another session */
    }
    if (r != MAILDIR_PATH_OK) {
        log_error("event=imap_maildir_create_failed client=%s user=%s error=\"%s\"",
                  p->ss->client_ip, p->login, err != NULL ? err : "?");
        free(err);
        return false;
    }
    if (make_maildir_dirs(fd) < 0) {
        close(fd);
        return false;
    }
    p->root_fd = fd;
    return true;
}

int imap_folder_open_dir(struct imap *p, const char *name, size_t len, int *fd_r)
{
    if (!ensure_root(p))
        return p->maildir == NULL ? 1 : -1;
    if (imap_folder_is_inbox(name)) {
        *fd_r = dup(p->root_fd);
        return *fd_r < 0 ? -1 : 0;
    }
    char dir[IMAP_FOLDER_NAME_MAX + 2];
    if (!imap_folder_dir(name, len, dir, sizeof dir))
        return 1;
    *fd_r = openat(p->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd_r < 0)
        return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 1 : -1;
    return 0;
}

/* mailbox_arg - the folder name argument (RFC 3501 9 "mailbox": an astring,
 * INBOX in any case). */
const struct imap_arg *imap_mailbox_arg(const struct imap_command *cmd, size_t i)
{
    const struct imap_arg *a = imap_command_arg(cmd, i);
    if (a == NULL || !imap_arg_astring(a) || memchr(a->str, '\0', a->len) != NULL)
        return NULL;
    return a;
}

/* ---- the selected folder and the client's view of it ---- */

void imap_folder_deselect(struct imap *p)
{
    imap_idle_stop(p);
    if (p->keywords != NULL) {
        maildir_keywords_clear(p->keywords);
        if (p->keywords->dir_fd >= 0)
            close(p->keywords->dir_fd);
        free(p->keywords);
        p->keywords = NULL;
    }
    mailbox_close(&p->mailbox);
    free(p->selected);
    p->selected = NULL;
    free(p->view);
    p->view = NULL;
    p->view_count = p->view_alloc = 0;
    memset(&p->recent, 0, sizeof p->recent);
    if (p->state == IMAP_SELECTED)
        p->state = IMAP_AUTHENTICATED;
}

/* imap_folder_find_uid - a binary search: the list is in UID order. */
long imap_folder_find_uid(const struct mailbox *mb, uint32_t uid)
{
    size_t lo = 0, hi = mailbox_count(mb);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t u = mailbox_msg(mb, mid)->uid;
        if (u == uid)
            return (long)mid;
        if (u < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long imap_folder_index(struct imap *p, size_t seq)
{
    if (p->mailbox == NULL || seq == 0 || seq > p->view_count)
        return -1;
    return imap_folder_find_uid(p->mailbox, p->view[seq - 1].uid);
}

static bool view_append(struct imap *p, uint32_t uid, unsigned flags)
{
    if (p->view_count == p->view_alloc) {
        size_t want = p->view_alloc > 0 ? p->view_alloc * 2 : 64;
        struct imap_view_msg *v = realloc(p->view, want * sizeof *v);
        if (v == NULL)
            return false;
        p->view = v;
        p->view_alloc = want;
    }
    p->view[p->view_count++] = (struct imap_view_msg){uid, flags};
    return true;
}

void imap_folder_update(struct imap *p, bool expunges_allowed)
{
    if (p->state != IMAP_SELECTED || p->mailbox == NULL)
        return;
    char *err = NULL;
    if (mailbox_sync(p->mailbox, &err) != MAILBOX_OK) {
        log_error("event=imap_sync_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, err != NULL ? err : "?");
        free(err);
        return;
    }
    bool renamed = false;
    if (p->keywords != NULL &&
        maildir_keywords_load(p->keywords->dir_fd, p->keywords, &renamed) == 0 && renamed)
        imap_flags_tell(p); /* another session gave a keyword its letter */
    char flags[IMAP_FLAGS_TEXT_MAX];
    /* from the end, so that each EXPUNGE's number is right when it is read */
    for (size_t seq = p->view_count; seq > 0; seq--) {
        long i = imap_folder_find_uid(p->mailbox, p->view[seq - 1].uid);
        if (i < 0) {
            if (!expunges_allowed)
                continue;
            imap_untagged(p, "%zu EXPUNGE", seq);
            memmove(&p->view[seq - 1], &p->view[seq], (p->view_count - seq) * sizeof *p->view);
            p->view_count--;
            continue;
        }
        unsigned now = mailbox_msg(p->mailbox, (size_t)i)->flags;
        if (now != p->view[seq - 1].flags) {
            p->view[seq - 1].flags = now;
            imap_untagged(p, "%zu FETCH (FLAGS (%s))", seq,
                          imap_flags_text(p, now, p->view[seq - 1].uid, flags, sizeof flags));
        }
    }
    uint32_t last = p->view_count > 0 ? p->view[p->view_count - 1].uid : 0;
    size_t before = p->view_count;
    for (size_t i = 0; i < mailbox_count(p->mailbox); i++) {
        const struct mailbox_msg *m = mailbox_msg(p->mailbox, i);
        if (m->uid > last && !view_append(p, m->uid, m->flags))
            break;
    }
    if (p->view_count != before) {
        imap_untagged(p, "%zu EXISTS", p->view_count);
        size_t recent = imap_recent_count(p);
        imap_recent_claim(p, p->keywords != NULL ? p->keywords->dir_fd : -1, last + 1,
                          p->view[p->view_count - 1].uid + 1);
        if (imap_recent_count(p) != recent)
            imap_untagged(p, "%zu RECENT", imap_recent_count(p));
    }
}

/* imap_folder_mailbox - the folder name as a struct mailbox: OK, MISSING (no such
 * folder) or TEMPFAIL (logged). A Maildir without cur/ or new/ yet (the
 * INBOX of a user never delivered to) gets them. */
enum mailbox_result imap_folder_mailbox(struct imap *p, const char *name, size_t len, bool move_new,
                                        struct mailbox **mb_r)
{
    int fd = -1;
    int r = imap_folder_open_dir(p, name, len, &fd);
    if (r != 0) {
        if (r < 0)
            log_error("event=imap_folder_open_failed client=%s user=%s error=\"%s\"",
                      p->ss->client_ip, p->login, strerror(errno));
        return r == 1 ? MAILBOX_MISSING : MAILBOX_TEMPFAIL;
    }
    char *err = NULL;
    enum mailbox_result mr = mailbox_open(fd, move_new, p->ss->hostname, mb_r, &err);
    if (mr == MAILBOX_MISSING && make_maildir_dirs(fd) == 0) {
        free(err);
        err = NULL;
        mr = mailbox_open(fd, move_new, p->ss->hostname, mb_r, &err);
    }
    close(fd);
    if (mr != MAILBOX_OK) {
        log_error("event=imap_mailbox_open_failed client=%s user=%s folder=\"%s\" error=\"%s\"",
                  p->ss->client_ip, p->login, name, err != NULL ? err : "?");
        free(err);
        return mr == MAILBOX_MISSING ? MAILBOX_MISSING : MAILBOX_TEMPFAIL;
    }
    return MAILBOX_OK;
}

void imap_folder_refusal(struct imap *p, enum mailbox_result r)
{
    if (r == MAILBOX_MISSING)
        imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox cannot be opened now, try again later");
}

/* cmd_select - SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2). A failed SELECT
 * leaves no folder selected. */
void imap_cmd_select(struct imap *p, const struct imap_command *cmd)
{
    bool examine = strcmp(cmd->name, "EXAMINE") == 0;
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    if (name == NULL || cmd->argc != 1) {
        imap_bad(p, "Usage: SELECT mailbox");
        return;
    }
    imap_folder_deselect(p);
    struct mailbox *mb = NULL;
    enum mailbox_result opened = imap_folder_mailbox(p, name->str, name->len, !examine, &mb);
    if (opened != MAILBOX_OK) {
        imap_folder_refusal(p, opened);
        return;
    }
    p->mailbox = mb;
    p->selected = strdup(name->str);
    p->read_only = examine;
    p->state = IMAP_SELECTED;
    p->keywords = calloc(1, sizeof *p->keywords);
    bool unused;
    if (p->keywords != NULL) {
        p->keywords->dir_fd = -1;
        maildir_keywords_clear(p->keywords);
    }
    if (p->keywords == NULL ||
        imap_folder_open_dir(p, name->str, name->len, &p->keywords->dir_fd) != 0 ||
        maildir_keywords_load(p->keywords->dir_fd, p->keywords, &unused) < 0) {
        log_error("event=imap_keywords_failed client=%s user=%s folder=\"%s\" error=\"%s\"",
                  p->ss->client_ip, p->login, name->str, strerror(errno));
        imap_folder_deselect(p);
        imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox cannot be opened now, try again later");
        return;
    }
    size_t unseen = 0;
    for (size_t i = 0; i < mailbox_count(mb); i++) {
        const struct mailbox_msg *m = mailbox_msg(mb, i);
        if (!view_append(p, m->uid, m->flags) || p->selected == NULL) {
            imap_folder_deselect(p);
            imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
            return;
        }
        if (unseen == 0 && (m->flags & MAILBOX_FLAG_SEEN) == 0)
            unseen = i + 1;
    }
    if (p->view_count > 0)
        imap_recent_claim(p, p->keywords->dir_fd, 1, p->view[p->view_count - 1].uid + 1);
    imap_flags_tell(p);
    imap_untagged(p, "%zu EXISTS", p->view_count);
    imap_untagged(p, "%zu RECENT", imap_recent_count(p));
    if (unseen > 0)
        imap_untagged(p, "OK [UNSEEN %zu] First unseen", unseen);
    imap_untagged(p, "OK [UIDVALIDITY %u] UIDs valid", (unsigned)mailbox_uidvalidity(mb));
    imap_untagged(p, "OK [UIDNEXT %u] Predicted next UID", (unsigned)mailbox_uidnext(mb));
    log_info("event=imap_select client=%s user=%s folder=\"%s\" messages=%zu", p->ss->client_ip,
             p->login, name->str, p->view_count);
    imap_tagged(p, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE", cmd->name);
}

/* expunge_deleted - remove the messages of the view marked \Deleted (those
 * with a UID in set when set is not NULL). false on an I/O error. */
static bool expunge_deleted(struct imap *p, const struct imap_seqset *set)
{
    bool ok = true;
    uint32_t star = p->view_count > 0 ? p->view[p->view_count - 1].uid : 0;
    char *berr = NULL;
    if (mailbox_change_begin(p->mailbox, &berr) != MAILBOX_OK) {
        log_error("event=imap_expunge_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, berr != NULL ? berr : "?");
        free(berr);
        return false;
    }
    for (size_t seq = 1; seq <= p->view_count; seq++) {
        long i = imap_folder_index(p, seq);
        if (i < 0)
            continue;
        const struct mailbox_msg *m = mailbox_msg(p->mailbox, (size_t)i);
        if ((m->flags & MAILBOX_FLAG_TRASHED) == 0 ||
            (set != NULL && !imap_seqset_contains(set, m->uid, star)))
            continue;
        char *err = NULL;
        enum mailbox_result r = mailbox_msg_expunge(p->mailbox, (size_t)i, &err);
        if (r == MAILBOX_TEMPFAIL) {
            log_error("event=imap_expunge_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                      p->login, err != NULL ? err : "?");
            ok = false;
        }
        free(err);
    }
    mailbox_change_end(p->mailbox);
    return ok;
}

static void expunge(struct imap *p, const struct imap_seqset *set)
{
    if (p->read_only) {
        imap_tagged(p, "NO", "[READ-ONLY] The mailbox is read-only");
        return;
    }
    bool ok = expunge_deleted(p, set);
    imap_folder_update(p, true);
    if (ok)
        imap_tagged(p, "OK", "Expunge completed");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] Some messages could not be expunged");
}

void imap_cmd_expunge(struct imap *p, const struct imap_command *cmd)
{
    if (cmd->argc != 0) {
        imap_bad(p, "Usage: EXPUNGE");
        return;
    }
    expunge(p, NULL);
}

/* imap_cmd_uid_expunge - RFC 4315 2.1: only the \Deleted messages of the set. */
void imap_cmd_uid_expunge(struct imap *p, const struct imap_command *cmd, size_t first)
{
    static struct imap_seqset set; /* large; the session runs on one thread */
    const struct imap_arg *a = imap_command_arg(cmd, first);
    if (a == NULL || cmd->argc != first + 1 || a->type != IMAP_ARG_ATOM ||
        !imap_seqset_parse(a->str, a->len, &set)) {
        imap_bad(p, "Usage: UID EXPUNGE sequence-set");
        return;
    }
    expunge(p, &set);
}

/* cmd_close - RFC 3501 6.4.2: expunge silently (never in EXAMINE), deselect. */
void imap_cmd_close(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    bool ok = p->read_only || expunge_deleted(p, NULL);
    imap_folder_deselect(p);
    if (ok)
        imap_tagged(p, "OK", "Close completed");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] Some messages could not be expunged");
}

/* cmd_unselect - RFC 3691: deselect without expunging. */
void imap_cmd_unselect(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    imap_folder_deselect(p);
    imap_tagged(p, "OK", "Unselect completed");
}

/* ---- CREATE, DELETE, RENAME ---- */

/* cmd_create - RFC 3501 6.3.3: a Maildir++ folder (".Name" with cur/, new/,
 * tmp/ and the maildirfolder file that makes its quota count in the
 * parent's). */
/* create_use - RFC 6154 3: CREATE's "(USE (\\Sent ...))" into attrs; NULL
 * when fine, else the reply's text, *bad_r saying BAD (a syntax error) or
 * NO [USEATTR] (an attribute we cannot give). */
static const char *create_use(const struct imap_command *cmd, const struct imap_arg *opts,
                              const char **attrs, size_t max, size_t *count_r, bool *bad_r)
{
    const struct imap_arg *kw = imap_list_elem(cmd, opts, 0);
    const struct imap_arg *list = imap_list_elem(cmd, opts, 1);
    *bad_r = true;
    if (opts->count != 2 || !imap_arg_is(kw, "USE") || list->type != IMAP_ARG_LIST)
        return "Usage: CREATE mailbox [(USE (attributes))]";
    *count_r = 0;
    for (size_t i = 0; i < list->count; i++) {
        const struct imap_arg *a = imap_list_elem(cmd, list, i);
        if (a->type != IMAP_ARG_ATOM)
            return "Bad special-use attribute";
        const char *attr = imap_special_use_attribute(a->str, a->len);
        if (attr == NULL || *count_r == max) {
            *bad_r = false;
            return "[USEATTR] That special-use attribute cannot be given here";
        }
        attrs[(*count_r)++] = attr;
    }
    return NULL;
}

void imap_cmd_create(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    if (name == NULL || (cmd->argc != 1 && cmd->argc != 2) ||
        (cmd->argc == 2 && imap_command_arg(cmd, 1)->type != IMAP_ARG_LIST)) {
        imap_bad(p, "Usage: CREATE mailbox [(USE (attributes))]");
        return;
    }
    const char *attrs[8];
    size_t attr_count = 0;
    if (cmd->argc == 2) {
        bool bad;
        const char *why = create_use(cmd, imap_command_arg(cmd, 1), attrs, 8, &attr_count, &bad);
        if (why != NULL) {
            if (bad)
                imap_bad(p, why);
            else
                imap_tagged(p, "NO", "%s", why);
            return;
        }
    }
    /* RFC 3501 6.3.3: a trailing delimiter only says folders will go below */
    size_t len = name->len;
    if (len > 1 && name->str[len - 1] == '.')
        len--;
    char dir[IMAP_FOLDER_NAME_MAX + 2];
    if (imap_folder_is_inbox(name->str)) {
        imap_tagged(p, "NO", "[ALREADYEXISTS] INBOX always exists");
        return;
    }
    if (!imap_folder_dir(name->str, len, dir, sizeof dir)) {
        imap_tagged(p, "NO", "[CANNOT] Invalid mailbox name");
        return;
    }
    if (!ensure_root(p)) {
        imap_tagged(p, "NO",
                    "[UNAVAILABLE] The mailbox has not been made yet; it is made "
                    "with the first message");
        return;
    }
    struct stat st;
    if (fstatat(p->root_fd, dir, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        imap_tagged(p, "NO", "[ALREADYEXISTS] Mailbox exists");
        return;
    }
    /* the attributes first: a crash between leaves an entry for a folder
     * that does not exist, which lists nothing, rather than a folder
     * without the use it was made for */
    if (attr_count > 0 && imap_special_use_set(p, name->str, attrs, attr_count) < 0) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Cannot keep the special use: %s", strerror(errno));
        return;
    }
    if (mkdirat(p->root_fd, dir, 0700) < 0) {
        if (errno == EEXIST)
            imap_tagged(p, "NO", "[ALREADYEXISTS] Mailbox exists");
        else
            imap_tagged(p, "NO", "[UNAVAILABLE] Cannot create the mailbox: %s", strerror(errno));
        return;
    }
    int fd = openat(p->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int mf = fd >= 0 ? openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0 && mf >= 0 && make_maildir_dirs(fd) == 0 && fsync(p->root_fd) == 0;
    if (mf >= 0)
        close(mf);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Cannot create the mailbox: %s", strerror(errno));
        return;
    }
    log_info("event=imap_create client=%s user=%s folder=\"%s\"", p->ss->client_ip, p->login,
             name->str);
    imap_tagged(p, "OK", "Create completed");
}

/* remove_files - unlink every file in dir_fd's subfolder name (or in dir_fd
 * itself when name is NULL); 0 or -1. */
static int remove_files(int dir_fd, const char *name)
{
    int fd = name != NULL ? openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                          : dup(dir_fd);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -1;
    }
    rewinddir(d); /* a dup shares the offset an earlier listing left */
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = -1;
    }
    closedir(d);
    return rc;
}

/* cmd_delete - RFC 3501 6.3.4: the folder and its messages. Its Maildir++
 * children are folders of their own (".A.B" beside ".A") and stay. */
void imap_cmd_delete(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    if (name == NULL || cmd->argc != 1) {
        imap_bad(p, "Usage: DELETE mailbox");
        return;
    }
    char dir[IMAP_FOLDER_NAME_MAX + 2];
    if (imap_folder_is_inbox(name->str)) {
        imap_tagged(p, "NO", "[CANNOT] INBOX cannot be deleted");
        return;
    }
    if (!imap_folder_dir(name->str, name->len, dir, sizeof dir) || !imap_folder_root(p, false)) {
        imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
        return;
    }
    if (p->selected != NULL && strcmp(p->selected, name->str) == 0)
        imap_folder_deselect(p);
    int fd = openat(p->root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
        return;
    }
    /* the MIME cache is a folder's subdirectory too: left, the folder
     * could not be removed and its name never made again */
    static const char *const subdirs[] = {"cur", "new", "tmp", IMAP_MIME_CACHE_DIR};
    bool ok = true;
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        if (remove_files(fd, subdirs[i]) < 0 ||
            (unlinkat(fd, subdirs[i], AT_REMOVEDIR) < 0 && errno != ENOENT))
            ok = false;
    }
    ok = ok && remove_files(fd, NULL) == 0;
    close(fd);
    if (!ok || unlinkat(p->root_fd, dir, AT_REMOVEDIR) < 0) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Cannot delete the mailbox: %s", strerror(errno));
        return;
    }
    fsync(p->root_fd);
    if (imap_special_use_rename(p, name->str, NULL) < 0)
        log_warning("event=imap_special_use_failed client=%s user=%s folder=\"%s\" error=\"%s\"",
                    p->ss->client_ip, p->login, name->str, strerror(errno));
    log_info("event=imap_delete client=%s user=%s folder=\"%s\"", p->ss->client_ip, p->login,
             name->str);
    imap_tagged(p, "OK", "Delete completed");
}

/* cmd_rename - RFC 3501 6.3.5: the folder and the folders below it, each a
 * Maildir++ directory of its own (".A" and ".A.B" become ".C" and ".C.B").
 * Renaming INBOX (which moves its messages into a new folder) is not done
 * yet. */
void imap_cmd_rename(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *from = imap_mailbox_arg(cmd, 0);
    const struct imap_arg *to = imap_mailbox_arg(cmd, 1);
    if (from == NULL || to == NULL || cmd->argc != 2) {
        imap_bad(p, "Usage: RENAME mailbox new-name");
        return;
    }
    char old_dir[IMAP_FOLDER_NAME_MAX + 2], new_dir[IMAP_FOLDER_NAME_MAX + 2];
    if (imap_folder_is_inbox(from->str)) {
        imap_tagged(p, "NO", "[CANNOT] Renaming INBOX is not supported yet");
        return;
    }
    if (imap_folder_is_inbox(to->str) ||
        !imap_folder_dir(to->str, to->len, new_dir, sizeof new_dir)) {
        imap_tagged(p, "NO", "[CANNOT] Invalid new mailbox name");
        return;
    }
    if (!imap_folder_dir(from->str, from->len, old_dir, sizeof old_dir) ||
        !imap_folder_root(p, false)) {
        imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
        return;
    }
    size_t old_len = strlen(old_dir);
    if (strncmp(new_dir, old_dir, old_len) == 0 && new_dir[old_len] == '.') {
        imap_tagged(p, "NO", "[CANNOT] A mailbox cannot move below itself");
        return;
    }
    if (renameat2(p->root_fd, old_dir, p->root_fd, new_dir, RENAME_NOREPLACE) < 0) {
        if (errno == ENOENT)
            imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
        else if (errno == EEXIST || errno == ENOTEMPTY)
            imap_tagged(p, "NO", "[ALREADYEXISTS] The new name exists");
        else
            imap_tagged(p, "NO", "[UNAVAILABLE] Cannot rename: %s", strerror(errno));
        return;
    }
    /* the folders below it: ".Old.X" -> ".New.X" */
    int fd = dup(p->root_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    bool ok = d != NULL;
    if (d == NULL && fd >= 0)
        close(fd);
    if (d != NULL)
        rewinddir(d); /* a dup shares the offset an earlier listing left */
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, old_dir, old_len) != 0 || e->d_name[old_len] != '.')
            continue;
        char child[NAME_MAX + 1];
        if (snprintf(child, sizeof child, "%s%s", new_dir, e->d_name + old_len) >=
                (int)sizeof child ||
            renameat2(p->root_fd, e->d_name, p->root_fd, child, RENAME_NOREPLACE) < 0)
            ok = false;
    }
    if (d != NULL)
        closedir(d);
    fsync(p->root_fd);
    if (p->selected != NULL && strcmp(p->selected, from->str) == 0) {
        char *renamed = strdup(to->str);
        if (renamed != NULL) {
            free(p->selected);
            p->selected = renamed;
        }
    }
    if (imap_special_use_rename(p, from->str, to->str) < 0)
        log_warning("event=imap_special_use_failed client=%s user=%s folder=\"%s\" error=\"%s\"",
                    p->ss->client_ip, p->login, from->str, strerror(errno));
    log_info("event=imap_rename client=%s user=%s from=\"%s\" to=\"%s\"", p->ss->client_ip,
             p->login, from->str, to->str);
    if (ok)
        imap_tagged(p, "OK", "Rename completed");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] Renamed, but some folders below it were not");
}
