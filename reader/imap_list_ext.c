/* reader/imap_list_ext.c - LIST (RFC 3501 6.3.8) with LIST-EXTENDED's
 * selection and return options (RFC 5258: SUBSCRIBED, RECURSIVEMATCH,
 * SPECIAL-USE, several patterns; RETURN SUBSCRIBED, CHILDREN, SPECIAL-USE),
 * RETURN STATUS (RFC 5819) and the folder attributes: \HasChildren and
 * \HasNoChildren (RFC 3348, always given), the special-use ones (RFC 6154,
 * imap_special_use.c), \Subscribed, and \NonExistent (\Noselect in the
 * basic form) for a level of hierarchy that is no folder. The folders are
 * the Maildir++ directories ".A.B" of the user's Maildir and INBOX. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/array.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"

/* A Maildir with more folders than this lists only this many. */
#define LIST_FOLDERS_MAX 10000
#define LIST_PATTERNS_MAX 32

enum {
    SEL_SUBSCRIBED = 1u << 0,
    SEL_RECURSIVEMATCH = 1u << 1,
    SEL_SPECIAL_USE = 1u << 2,
    RET_SUBSCRIBED = 1u << 3,
    RET_CHILDREN = 1u << 4,
    RET_SPECIAL_USE = 1u << 5,
    RET_STATUS = 1u << 6,
};

struct folder {
    char *name;
    bool exists; /* a folder; else a level of hierarchy or a subscription only */
    bool subscribed;
    bool child_subscribed; /* RECURSIVEMATCH's CHILDINFO */
};

struct folders {
    struct folder *f;
    size_t count, alloc;
};

static struct folder *folder_find(struct folders *fs, const char *name)
{
    for (size_t i = 0; i < fs->count; i++)
        if (strcmp(fs->f[i].name, name) == 0)
            return &fs->f[i];
    return NULL;
}

/* folder_add - name in the list (once); NULL when out of room. */
static struct folder *folder_add(struct folders *fs, const char *name, size_t len)
{
    char buf[IMAP_FOLDER_NAME_MAX + 1];
    if (len > IMAP_FOLDER_NAME_MAX)
        return NULL;
    memcpy(buf, name, len);
    buf[len] = '\0';
    struct folder *f = folder_find(fs, buf);
    if (f != NULL)
        return f;
    if (fs->count == LIST_FOLDERS_MAX)
        return NULL;
    if (ARRAY_RESERVE(&fs->f, &fs->alloc, fs->count + 1, 32) < 0)
        return NULL;
    f = &fs->f[fs->count];
    *f = (struct folder){.name = strdup(buf)};
    if (f->name == NULL)
        return NULL;
    fs->count++;
    return f;
}

static void folders_free(struct folders *fs)
{
    for (size_t i = 0; i < fs->count; i++)
        free(fs->f[i].name);
    free(fs->f);
}

/* folders_read - INBOX and the Maildir++ folders, then every level of
 * hierarchy above them that is no folder itself. false on an error. */
static bool folders_read(struct imap *p, struct folders *fs)
{
    struct folder *inbox = folder_add(fs, "INBOX", 5);
    if (inbox == NULL)
        return false;
    inbox->exists = true;
    if (imap_folder_root(p, false)) {
        int fd = dup(p->root_fd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d == NULL) {
            if (fd >= 0)
                close(fd);
            return false;
        }
        rewinddir(d); /* a dup shares the offset an earlier listing left */
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            const char *n = e->d_name;
            char dir[IMAP_FOLDER_NAME_MAX + 2];
            struct stat st;
            if (n[0] != '.' || !imap_folder_dir(n + 1, strlen(n + 1), dir, sizeof dir) ||
                fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                continue;
            struct folder *f = folder_add(fs, n + 1, strlen(n + 1));
            if (f != NULL)
                f->exists = true;
        }
        closedir(d);
    }
    for (size_t i = 0, count = fs->count; i < count; i++) {
        for (const char *dot = strchr(fs->f[i].name, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
            folder_add(fs, fs->f[i].name, (size_t)(dot - fs->f[i].name));
    }
    return true;
}

/* subscriptions_read - mark the subscribed folders, adding those that do not
 * exist; with recursive, their parents learn of it (RFC 5258 3.5). */
static bool subscriptions_read(struct imap *p, struct folders *fs, bool recursive)
{
    char *text = maildir_file_read(p->root_fd, SUBSCRIPTIONS);
    if (text == NULL)
        return false;
    char name[IMAP_FOLDER_NAME_MAX + 1];
    for (size_t pos = 0; imap_file_line(text, &pos, name, sizeof name);) {
        struct folder *f = folder_add(fs, name, strlen(name));
        if (f == NULL)
            continue;
        f->subscribed = true;
        for (const char *dot = strchr(name, '.'); recursive && dot != NULL;
             dot = strchr(dot + 1, '.')) {
            struct folder *parent = folder_add(fs, name, (size_t)(dot - name));
            if (parent != NULL)
                parent->child_subscribed = true;
        }
    }
    free(text);
    return true;
}

static bool has_children(const struct folders *fs, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < fs->count; i++) {
        if (fs->f[i].exists && strncmp(fs->f[i].name, name, len) == 0 && fs->f[i].name[len] == '.')
            return true;
    }
    return false;
}

static int by_name(const void *a, const void *b)
{
    const struct folder *x = a, *y = b;
    /* INBOX first, as clients show it */
    bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The parsed command. */
struct list_request {
    unsigned opts;
    bool extended; /* options or several patterns: RFC 5258's form of the answer */
    char patterns[LIST_PATTERNS_MAX][IMAP_FOLDER_NAME_MAX * 2 + 8];
    size_t pattern_count;
    const struct imap_arg *status_items;
};

static bool option_list(const struct imap_command *cmd, const struct imap_arg *list, bool ret,
                        struct list_request *rq)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct imap_arg *o = imap_list_elem(cmd, list, i);
        if (imap_arg_is(o, "SUBSCRIBED"))
            rq->opts |= ret ? RET_SUBSCRIBED : SEL_SUBSCRIBED;
        else if (imap_arg_is(o, "SPECIAL-USE"))
            rq->opts |= ret ? RET_SPECIAL_USE : SEL_SPECIAL_USE;
        else if (!ret && imap_arg_is(o, "RECURSIVEMATCH"))
            rq->opts |= SEL_RECURSIVEMATCH;
        else if (!ret && imap_arg_is(o, "REMOTE"))
            continue; /* we have no remote folders */
        else if (ret && imap_arg_is(o, "CHILDREN"))
            rq->opts |= RET_CHILDREN;
        else if (ret && imap_arg_is(o, "STATUS") && i + 1 < list->count &&
                 imap_status_items_valid(cmd, imap_list_elem(cmd, list, i + 1))) {
            rq->opts |= RET_STATUS;
            rq->status_items = imap_list_elem(cmd, list, ++i);
        } else
            return false;
    }
    return true;
}

static bool add_pattern(struct list_request *rq, const struct imap_arg *ref,
                        const struct imap_arg *pat)
{
    if (!imap_arg_list_mailbox(pat) || rq->pattern_count == LIST_PATTERNS_MAX ||
        ref->len + pat->len >= sizeof rq->patterns[0])
        return false;
    snprintf(rq->patterns[rq->pattern_count++], sizeof rq->patterns[0], "%s%s", ref->str, pat->str);
    return true;
}

/* parse - RFC 5258 2: LIST [(selection)] reference pattern-or-(patterns)
 * [RETURN (options)]. NULL: the command is fine; else why it is BAD. */
static const char *parse(const struct imap_command *cmd, struct list_request *rq)
{
    size_t i = 0;
    const struct imap_arg *a = imap_command_arg(cmd, i);
    if (a != NULL && a->type == IMAP_ARG_LIST) {
        rq->extended = true;
        if (!option_list(cmd, a, false, rq))
            return "Unknown LIST selection option";
        a = imap_command_arg(cmd, ++i);
    }
    const struct imap_arg *ref = a, *pat = imap_command_arg(cmd, i + 1);
    if (!imap_arg_astring(ref) || pat == NULL)
        return "Usage: LIST [(options)] reference mailbox [RETURN (options)]";
    if (pat->type == IMAP_ARG_LIST) {
        rq->extended = true;
        for (size_t k = 0; k < pat->count; k++)
            if (!add_pattern(rq, ref, imap_list_elem(cmd, pat, k)))
                return "Bad mailbox pattern";
        if (pat->count == 0)
            return "Bad mailbox pattern";
    } else if (!add_pattern(rq, ref, pat)) {
        return "Bad mailbox pattern";
    }
    i += 2;
    if (i < cmd->argc) {
        const struct imap_arg *kw = imap_command_arg(cmd, i);
        const struct imap_arg *opts = imap_command_arg(cmd, i + 1);
        if (!imap_arg_is(kw, "RETURN") || opts == NULL || opts->type != IMAP_ARG_LIST ||
            i + 2 != cmd->argc)
            return "Usage: LIST [(options)] reference mailbox [RETURN (options)]";
        rq->extended = true;
        if (!option_list(cmd, opts, true, rq))
            return "Unknown LIST return option";
    }
    /* RFC 5258 3: RECURSIVEMATCH alone says nothing to recurse on */
    if ((rq->opts & SEL_RECURSIVEMATCH) && !(rq->opts & (SEL_SUBSCRIBED | SEL_SPECIAL_USE)))
        return "RECURSIVEMATCH needs another selection option";
    return NULL;
}

static bool matches(const struct list_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->pattern_count; i++)
        if (imap_list_matches(rq->patterns[i], name))
            return true;
    return false;
}

/* hierarchy_wanted - RFC 3501 6.3.8: a level of hierarchy that is no folder
 * is listed when a pattern ending in "%" matches it. */
static bool hierarchy_wanted(const struct list_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->pattern_count; i++) {
        size_t n = strlen(rq->patterns[i]);
        if (n > 0 && rq->patterns[i][n - 1] == '%' && imap_list_matches(rq->patterns[i], name))
            return true;
    }
    return false;
}

static void append_attr(char *buf, size_t size, size_t *n, const char *attr)
{
    if (attr[0] == '\0')
        return;
    int w = snprintf(buf + *n, size - *n, "%s%s", *n > 0 ? " " : "", attr);
    if (w > 0 && (size_t)w < size - *n)
        *n += (size_t)w;
}

/* list_one - the LIST line of f and its STATUS, when the selection takes it. */
/* childinfo - RFC 5258 3.5 and its examples: RECURSIVEMATCH tells of a
 * subscribed descendant only when the patterns do not list it itself. */
static bool childinfo(const struct list_request *rq, const struct folders *fs, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < fs->count; i++) {
        const struct folder *d = &fs->f[i];
        if (d->subscribed && strncmp(d->name, name, len) == 0 && d->name[len] == '.' &&
            !matches(rq, d->name))
            return true;
    }
    return false;
}

static void list_one(struct imap *p, const struct list_request *rq, const struct folders *fs,
                     const struct folder *f, const struct imap_special_use *su,
                     const struct imap_command *cmd)
{
    char special[128];
    imap_special_use_of(su, f->name, special, sizeof special);
    bool subscriptions = (rq->opts & (SEL_SUBSCRIBED | RET_SUBSCRIBED)) != 0;
    bool child_info =
        (rq->opts & SEL_RECURSIVEMATCH) && f->child_subscribed && childinfo(rq, fs, f->name);
    if (rq->opts & SEL_SUBSCRIBED) {
        if (!f->subscribed && !child_info)
            return;
    } else if (rq->opts & SEL_SPECIAL_USE) {
        if (special[0] == '\0' || !f->exists)
            return;
    } else if (!f->exists && !hierarchy_wanted(rq, f->name)) {
        return;
    }
    char attrs[256];
    size_t n = 0;
    attrs[0] = '\0';
    if (!f->exists)
        append_attr(attrs, sizeof attrs, &n, rq->extended ? "\\NonExistent" : "\\Noselect");
    append_attr(attrs, sizeof attrs, &n,
                has_children(fs, f->name) ? "\\HasChildren" : "\\HasNoChildren");
    if (subscriptions && f->subscribed)
        append_attr(attrs, sizeof attrs, &n, "\\Subscribed");
    append_attr(attrs, sizeof attrs, &n, special);
    char q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    imap_quoted(f->name, q, sizeof q);
    if (child_info)
        imap_untagged(p, "LIST (%s) \".\" %s (\"CHILDINFO\" (\"SUBSCRIBED\"))", attrs, q);
    else
        imap_untagged(p, "LIST (%s) \".\" %s", attrs, q);
    /* RFC 5819 2: STATUS for each selectable folder listed; a failure only
     * leaves its STATUS out */
    if ((rq->opts & RET_STATUS) && f->exists)
        imap_status_write(p, f->name, cmd, rq->status_items);
}

void imap_cmd_list(struct imap *p, const struct imap_command *cmd)
{
    struct list_request *rq = calloc(1, sizeof *rq);
    if (rq == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    const char *bad = parse(cmd, rq);
    if (bad != NULL) {
        imap_bad(p, bad);
        free(rq);
        return;
    }
    if (rq->pattern_count == 1 && rq->patterns[0][0] == '\0' && !rq->extended) {
        /* RFC 3501 6.3.8: the delimiter and the root */
        imap_untagged(p, "LIST (\\Noselect) \".\" \"\"");
        imap_tagged(p, "OK", "LIST completed");
        free(rq);
        return;
    }
    struct folders fs = {0};
    struct imap_special_use *su = imap_special_use_load(p);
    bool ok = su != NULL && folders_read(p, &fs) &&
              (!(rq->opts & (SEL_SUBSCRIBED | RET_SUBSCRIBED)) ||
               subscriptions_read(p, &fs, (rq->opts & SEL_RECURSIVEMATCH) != 0));
    if (ok) {
        qsort(fs.f, fs.count, sizeof fs.f[0], by_name);
        for (size_t i = 0; i < fs.count; i++)
            if (matches(rq, fs.f[i].name))
                list_one(p, rq, &fs, &fs.f[i], su, cmd);
    }
    folders_free(&fs);
    imap_special_use_free(&su);
    free(rq);
    if (ok)
        imap_tagged(p, "OK", "LIST completed");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] The folders cannot be listed now");
}
