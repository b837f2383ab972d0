/* reader/imap_mime_cache.c - the per-message MIME cache (see
 * imap_mime_cache.h). One file per message, named by the message's base
 * (which never changes, doc/mailbox.md), written to a temporary name and
 * renamed, so a reader sees a whole entry or none; no fsync: it is a cache,
 * and a torn entry fails the check and is made again. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fdio.h"
#include "reader/imap_bodystructure.h"
#include "reader/imap_mime_cache.h"

#define MAGIC "dirmail-mime 1"

void imap_mime_free(struct imap_mime **mimep)
{
    struct imap_mime *m = *mimep;
    if (m == NULL)
        return;
    *mimep = NULL;
    free(m->parts);
    free(m->envelope);
    free(m->body);
    free(m->bodystructure);
    free(m);
}

static char *take(struct buf *b, size_t *len_r)
{
    *len_r = b->len;
    char *s = bytes_dup(b->len > 0 ? buf_ptr(b) : "", b->len);
    buf_release(b);
    return s;
}

static enum imap_mime_encoding encoding_of(const struct mime_part *p)
{
    const char *e = p->fields[MIME_F_CONTENT_ENCODING];
    if (p->kind != MIME_LEAF || e == NULL || e[0] == '\0' || strcasecmp(e, "7bit") == 0 ||
        strcasecmp(e, "8bit") == 0 || strcasecmp(e, "binary") == 0)
        return IMAP_MIME_IDENTITY;
    if (strcasecmp(e, "base64") == 0)
        return IMAP_MIME_BASE64;
    if (strcasecmp(e, "quoted-printable") == 0)
        return IMAP_MIME_QP;
    return IMAP_MIME_UNKNOWN;
}

struct imap_mime *imap_mime_from_parse(const struct mime_message *msg)
{
    struct imap_mime *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->parts = calloc(msg->count, sizeof *m->parts);
    m->count = msg->count;
    struct buf env = BUF_INIT, body = BUF_INIT, bs = BUF_INIT;
    int r = m->parts == NULL ? -1 : 0;
    for (size_t i = 0; i < msg->count && r == 0; i++) {
        const struct mime_part *p = &msg->parts[i];
        m->parts[i] = (struct imap_mime_part){.kind = p->kind,
                                              .encoding = encoding_of(p),
                                              .parent = p->parent,
                                              .first_child = p->first_child,
                                              .next_sibling = p->next_sibling,
                                              .header = p->header,
                                              .body = p->body,
                                              .end = p->end};
    }
    r |= imap_envelope_write(&env, &msg->parts[0]);
    r |= imap_bodystructure_write(&body, msg, 0, false);
    r |= imap_bodystructure_write(&bs, msg, 0, true);
    m->envelope = take(&env, &m->envelope_len);
    m->body = take(&body, &m->body_len);
    m->bodystructure = take(&bs, &m->bodystructure_len);
    if (r != 0 || m->envelope == NULL || m->body == NULL || m->bodystructure == NULL)
        imap_mime_free(&m);
    return m;
}

char *imap_mime_encode(const struct imap_mime *m, uint64_t size, uint64_t ino, size_t *len_r)
{
    struct buf out = BUF_INIT;
    int r = buf_printf(&out, MAGIC " %" PRIu64 " %" PRIu64 " %zu %zu %zu %zu\n", size, ino,
                       m->count, m->envelope_len, m->body_len, m->bodystructure_len);
    for (size_t i = 0; i < m->count && r == 0; i++) {
        const struct imap_mime_part *p = &m->parts[i];
        r |= buf_printf(&out,
                        "%d %d %d %d %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                        " %" PRIu64 "\n",
                        (int)p->kind, (int)p->encoding, p->parent, p->first_child, p->next_sibling,
                        p->header.raw, p->header.crlf, p->body.raw, p->body.crlf, p->end.raw,
                        p->end.crlf);
        if (out.len > IMAP_MIME_CACHE_MAX)
            r = -1;
    }
    r |= buf_append(&out, m->envelope, m->envelope_len);
    r |= buf_append(&out, m->body, m->body_len);
    r |= buf_append(&out, m->bodystructure, m->bodystructure_len);
    if (r != 0 || out.len > IMAP_MIME_CACHE_MAX) {
        buf_release(&out);
        return NULL;
    }
    size_t len;
    char *s = take(&out, &len);
    *len_r = len;
    return s;
}

/* number - a decimal at *p (no sign, no leading zero but "0") up to end,
 * then one separator; false for anything else. */
static bool number(const char **p, const char *end, uint64_t max, uint64_t *v, char sep)
{
    const char *s = *p;
    uint64_t n = 0;
    bool neg = false;
    if (s < end && *s == '-' && max == (uint64_t)INT32_MAX) {
        neg = true;
        s++;
    }
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9') {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s++ - '0');
    }
    if (s == digits || s >= end || *s != sep || (s - digits > 1 && *digits == '0'))
        return false;
    if (neg) {
        if (n != 1)
            return false;
        n = UINT64_MAX; /* -1 */
    } else if (n > max) {
        return false;
    }
    *v = n;
    *p = s + 1;
    return true;
}

static int index_of(uint64_t v)
{
    return v == UINT64_MAX ? -1 : (int)v;
}

static bool pos_ok(struct mime_pos p, uint64_t size)
{
    /* the CRLF form is at least as long and at most twice */
    return p.raw <= size && p.crlf >= p.raw && p.crlf <= 2 * p.raw;
}

struct imap_mime *imap_mime_decode(const char *data, size_t len, uint64_t size, uint64_t ino)
{
    const char *p = data, *end = data + len;
    size_t ml = strlen(MAGIC " ");
    if (len < ml || memcmp(data, MAGIC " ", ml) != 0)
        return NULL;
    p += ml;
    uint64_t fsize, fino, count, lens[3];
    if (!number(&p, end, UINT64_MAX - 1, &fsize, ' ') ||
        !number(&p, end, UINT64_MAX - 1, &fino, ' ') ||
        !number(&p, end, MIME_PARTS_MAX, &count, ' ') ||
        !number(&p, end, IMAP_MIME_CACHE_MAX, &lens[0], ' ') ||
        !number(&p, end, IMAP_MIME_CACHE_MAX, &lens[1], ' ') ||
        !number(&p, end, IMAP_MIME_CACHE_MAX, &lens[2], '\n'))
        return NULL;
    if (fsize != size || fino != ino || count == 0)
        return NULL;
    struct imap_mime *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->parts = calloc((size_t)count, sizeof *m->parts);
    m->count = (size_t)count;
    bool ok = m->parts != NULL;
    for (size_t i = 0; i < m->count && ok; i++) {
        uint64_t v[11];
        for (int k = 0; k < 11 && ok; k++)
            ok = number(&p, end, k < 5 ? (uint64_t)INT32_MAX : UINT64_MAX - 1, &v[k],
                        k == 10 ? '\n' : ' ');
        if (!ok)
            break;
        struct imap_mime_part *mp = &m->parts[i];
        if (v[0] > MIME_MESSAGE || v[1] > IMAP_MIME_UNKNOWN) {
            ok = false;
            break;
        }
        mp->kind = (enum mime_kind)v[0];
        mp->encoding = (enum imap_mime_encoding)v[1];
        mp->parent = index_of(v[2]);
        mp->first_child = index_of(v[3]);
        mp->next_sibling = index_of(v[4]);
        mp->header = (struct mime_pos){v[5], v[6]};
        mp->body = (struct mime_pos){v[7], v[8]};
        mp->end = (struct mime_pos){v[9], v[10]};
        /* a tree in document order: children and siblings come later,
         * the parent earlier; ranges nest */
        ok = (i == 0 ? mp->parent < 0 : mp->parent >= 0) && mp->parent < (int)i &&
             (mp->first_child < 0 || mp->first_child > (int)i) &&
             (mp->next_sibling < 0 || mp->next_sibling > (int)i) && mp->first_child < (int)count &&
             mp->next_sibling < (int)count && pos_ok(mp->header, size) && pos_ok(mp->body, size) &&
             pos_ok(mp->end, size) && mp->header.raw <= mp->body.raw &&
             mp->body.raw <= mp->end.raw && mp->header.crlf <= mp->body.crlf &&
             mp->body.crlf <= mp->end.crlf;
    }
    if (ok && (uint64_t)(end - p) == lens[0] + lens[1] + lens[2]) {
        m->envelope = bytes_dup(p, (size_t)lens[0]);
        m->envelope_len = (size_t)lens[0];
        p += lens[0];
        m->body = bytes_dup(p, (size_t)lens[1]);
        m->body_len = (size_t)lens[1];
        p += lens[1];
        m->bodystructure = bytes_dup(p, (size_t)lens[2]);
        m->bodystructure_len = (size_t)lens[2];
        if (m->envelope != NULL && m->body != NULL && m->bodystructure != NULL)
            return m;
    }
    imap_mime_free(&m);
    return NULL;
}

int imap_mime_section(const struct imap_mime *m, const unsigned *path, size_t depth)
{
    /* RFC 3501 6.4.5: the parts of a multipart are numbered from 1; a
     * message that is no multipart has only part 1, its body; the parts of
     * a message/rfc822 part are those of the message inside */
    int cur = 0;
    for (size_t d = 0; d < depth; d++) {
        int msg = cur; /* the message whose part path[d] is */
        if (d > 0) {
            if (m->parts[cur].kind == MIME_MESSAGE && m->parts[cur].first_child >= 0)
                msg = m->parts[cur].first_child;
        }
        if (m->parts[msg].kind == MIME_MULTIPART) {
            int c = m->parts[msg].first_child;
            for (unsigned k = 1; k < path[d] && c >= 0; k++)
                c = m->parts[c].next_sibling;
            if (c < 0)
                return -1;
            cur = c;
        } else if (path[d] == 1 && (d == 0 || msg != 0)) {
            /* part 1 of a single part inside is itself (the message's own
             * body, part 1, has no part 1.1), as Dovecot counts */
            cur = msg;
        } else {
            return -1;
        }
    }
    return cur;
}

/* cache_read - the entry at path (below dir_fd) when it is there and right. */
static struct imap_mime *cache_read(int dir_fd, const char *path, const struct stat *st)
{
    int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat cst;
    struct imap_mime *m = NULL;
    if (fstat(fd, &cst) == 0 && S_ISREG(cst.st_mode) && cst.st_size > 0 &&
        cst.st_size <= (off_t)IMAP_MIME_CACHE_MAX) {
        char *data = malloc((size_t)cst.st_size);
        if (data != NULL && fd_pread_all(fd, data, (size_t)cst.st_size, 0) == (ssize_t)cst.st_size)
            m = imap_mime_decode(data, (size_t)cst.st_size, (uint64_t)st->st_size,
                                 (uint64_t)st->st_ino);
        free(data);
    }
    close(fd);
    return m;
}

/* cache_write - store the entry; failing is no error (it is a cache). */
static void cache_write(int folder_fd, int dir_fd, const char *base, const struct imap_mime *m,
                        const struct stat *st)
{
    size_t len;
    char *data = imap_mime_encode(m, (uint64_t)st->st_size, (uint64_t)st->st_ino, &len);
    if (data == NULL)
        return;
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".tmp.%ld.%p", (long)getpid(), (const void *)m);
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        bool ok = fd_write_all(fd, data, len) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || renameat(dir_fd, tmp, dir_fd, base) < 0)
            unlinkat(dir_fd, tmp, 0);
    }
    (void)folder_fd;
    free(data);
}

/* map_parse - parse the message file (mapped, not copied). */
static struct imap_mime *map_parse(int fd, const struct stat *st)
{
    size_t len = (size_t)st->st_size;
    void *map = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (len > 0 && map == MAP_FAILED)
        return NULL;
    struct mime_message *msg = mime_parse(len > 0 ? map : "", len);
    if (len > 0)
        munmap(map, len);
    if (msg == NULL)
        return NULL;
    struct imap_mime *m = imap_mime_from_parse(msg);
    mime_message_free(&msg);
    return m;
}

int imap_mime_get(int folder_fd, const char *base, int fd, struct imap_mime **mime_r)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    int dir_fd = -1;
    bool cacheable =
        folder_fd >= 0 && base[0] != '\0' && base[0] != '.' && strchr(base, '/') == NULL;
    char path[sizeof(IMAP_MIME_CACHE_DIR) + NAME_MAX + 1];
    /* a hit (the common case after the first FETCH) opens the entry by its
     * path: the cache directory is opened only to write one */
    struct imap_mime *m = NULL;
    if (cacheable &&
        snprintf(path, sizeof path, "%s/%s", IMAP_MIME_CACHE_DIR, base) < (int)sizeof path)
        m = cache_read(folder_fd, path, &st);
    if (m == NULL && cacheable) {
        dir_fd = openat(folder_fd, IMAP_MIME_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* another session may make it at the same moment */
        if (dir_fd < 0 && errno == ENOENT &&
            (mkdirat(folder_fd, IMAP_MIME_CACHE_DIR, 0700) == 0 || errno == EEXIST))
            dir_fd = openat(folder_fd, IMAP_MIME_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (m == NULL) {
        m = map_parse(fd, &st);
        if (m != NULL && dir_fd >= 0)
            cache_write(folder_fd, dir_fd, base, m, &st);
    }
    if (dir_fd >= 0)
        close(dir_fd);
    *mime_r = m;
    return m != NULL ? 0 : -1;
}
