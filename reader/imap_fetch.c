/* reader/imap_fetch.c - FETCH and STORE for the IMAP session (RFC 3501
 * 6.4.5, 6.4.6, 7.4.2). FETCH streams each body section from the message
 * file, turning its LF line ends into CRLF on the way, so that a large
 * message is never held in memory; a section is a range of the message as
 * the client sees it (with CRLF), so every literal's size is known before
 * its first octet is sent: the whole message's from the mailbox layer's
 * CRLF size, the header's from one scan of the header, a MIME part's from
 * the message's structure (imap_mime_cache: parsed once, then kept).
 * Only HEADER.FIELDS(.NOT) and decoded BINARY are built in memory. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/log.h"
#include "lib/buf.h"
#include "lib/mime.h"
#include "reader/imap_fetch_internal.h"
#include "reader/imap_mime_cache.h"
#include "reader/imap_session_internal.h"

/* One read of a message file, and how much output may wait unsent. */
#define CHUNK 16384
#define QUEUE_MAX (4 * CHUNK)
/* FETCH items in one command. */
#define BODIES_MAX 16

enum want {
    WANT_UID = 1u << 0,
    WANT_FLAGS = 1u << 1,
    WANT_DATE = 1u << 2,
    WANT_SIZE = 1u << 3,
    WANT_ENVELOPE = 1u << 4,
    WANT_BODY = 1u << 5, /* BODY without brackets: BODYSTRUCTURE without extensions */
    WANT_BODYSTRUCTURE = 1u << 6,
};

struct imap_fetch_job {
    bool uid;
    unsigned want;
    struct imap_fetch_body bodies[BODIES_MAX];
    size_t nbodies;
    bool need_mime; /* an item needs the MIME structure */
    size_t *seqs;   /* the messages, in order */
    size_t nseqs, next;
    bool gone;        /* a message named was expunged meanwhile */
    bool unreadable;  /* a message could not be read or parsed */
    bool unknown_cte; /* BINARY of a part in an encoding we cannot undo */

    /* the message being answered */
    bool in_message;
    int fd;
    uint64_t size;     /* with CRLF */
    size_t body_index; /* next of bodies */
    bool item_written; /* an item is out: the next needs a space before it */
    struct imap_message_header hdr;
    bool hdr_known;
    struct imap_mime *mime; /* its structure, when need_mime */

    /* the section being streamed: CRLF positions [from, to) of the file */
    bool streaming;
    char *mem; /* HEADER.FIELDS text or decoded BINARY instead of the file */
    size_t mem_len, mem_off;
    struct imap_crlf_stream stream;
};

void imap_fetch_free(struct imap_fetch_job **jobp)
{
    struct imap_fetch_job *job = *jobp;
    if (job == NULL)
        return;
    *jobp = NULL;
    for (size_t i = 0; i < job->nbodies; i++)
        imap_fetch_body_clear(&job->bodies[i]);
    if (job->fd >= 0)
        close(job->fd);
    imap_mime_free(&job->mime);
    free(job->mem);
    free(job->seqs);
    free(job);
}

/* ---- parsing the items ---- */

/* add_item - one FETCH item (or macro) into job. false: bad. */
static bool add_item(struct imap_fetch_job *job, const struct imap_arg *a)
{
    if (a->type != IMAP_ARG_ATOM)
        return false;
    static const struct {
        const char *name;
        unsigned want;
    } simple[] = {
        {"UID", WANT_UID},
        {"FLAGS", WANT_FLAGS},
        {"INTERNALDATE", WANT_DATE},
        {"RFC822.SIZE", WANT_SIZE},
        {"ENVELOPE", WANT_ENVELOPE},
        {"BODY", WANT_BODY},
        {"BODYSTRUCTURE", WANT_BODYSTRUCTURE},
        /* RFC 3501 6.4.5: the macros */
        {"FAST", WANT_FLAGS | WANT_DATE | WANT_SIZE},
        {"ALL", WANT_FLAGS | WANT_DATE | WANT_SIZE | WANT_ENVELOPE},
        {"FULL", WANT_FLAGS | WANT_DATE | WANT_SIZE | WANT_ENVELOPE | WANT_BODY},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (imap_arg_is(a, simple[i].name)) {
            job->want |= simple[i].want;
            if ((simple[i].want & (WANT_ENVELOPE | WANT_BODY | WANT_BODYSTRUCTURE)) != 0)
                job->need_mime = true;
            return true;
        }
    }
    if (job->nbodies >= BODIES_MAX)
        return false;
    struct imap_fetch_body *b = &job->bodies[job->nbodies++];
    memset(b, 0, sizeof *b);
    if (imap_arg_is(a, "RFC822")) {
        b->section = IMAP_SEC_ALL;
        snprintf(b->label, sizeof b->label, "RFC822");
    } else if (imap_arg_is(a, "RFC822.HEADER")) {
        b->section = IMAP_SEC_HEADER;
        b->peek = true; /* RFC 3501 6.4.5: like BODY.PEEK[HEADER] */
        snprintf(b->label, sizeof b->label, "RFC822.HEADER");
    } else if (imap_arg_is(a, "RFC822.TEXT")) {
        b->section = IMAP_SEC_TEXT;
        snprintf(b->label, sizeof b->label, "RFC822.TEXT");
    } else if (!imap_fetch_body_parse(a->str, b)) {
        return false;
    }
    if (b->depth > 0 || b->binary)
        job->need_mime = true;
    return true;
}

/* ---- the message stream ---- */

/* date_text - RFC 3501 9 date-time of t in the server's time zone, the
 * zone SEARCH BEFORE/ON/SINCE take its day in (imap_search.c). */
static void date_text(time_t t, char *buf, size_t size)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        gmtime_r(&t, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(buf, size, "\"%2d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"", tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60,
             off % 60);
}

/* load_mime - the message's structure when an item needs it, and the
 * check RFC 3516 4.1 asks for before any of it is sent: BINARY of a part
 * in an encoding we cannot undo is NO [UNKNOWN-CTE]. false: skip it. */
static bool load_mime(struct imap *p, struct imap_fetch_job *job, const struct mailbox_msg *m)
{
    if (!job->need_mime)
        return true;
    if (imap_mime_get(mailbox_folder_fd(p->mailbox), m->base, job->fd, &job->mime) < 0) {
        log_error("event=imap_fetch_mime_failed client=%s user=%s uid=%u error=\"the message "
                  "could not be read or its structure not kept\"",
                  p->ss->client_ip, p->login, (unsigned)m->uid);
        job->unreadable = true;
        return false;
    }
    for (size_t i = 0; i < job->nbodies; i++) {
        const struct imap_fetch_body *b = &job->bodies[i];
        if (!b->binary || b->depth == 0)
            continue;
        int idx = imap_mime_section(job->mime, b->part, b->depth);
        if (idx >= 0 && job->mime->parts[idx].encoding == IMAP_MIME_UNKNOWN) {
            job->unknown_cte = true;
            return false;
        }
    }
    return true;
}

/* mime_items - ENVELOPE, BODY, BODYSTRUCTURE from the cache; their text
 * may hold literals, which the cache keeps whole. */
static const char *mime_items(struct imap *p, struct imap_fetch_job *job, unsigned want,
                              const char *sep)
{
    const struct imap_mime *mm = job->mime;
    if ((want & WANT_ENVELOPE) != 0) {
        conn_printf(p->conn, "%sENVELOPE ", sep);
        conn_write(p->conn, mm->envelope, mm->envelope_len);
        sep = " ";
    }
    if ((want & WANT_BODY) != 0) {
        conn_printf(p->conn, "%sBODY ", sep);
        conn_write(p->conn, mm->body, mm->body_len);
        sep = " ";
    }
    if ((want & WANT_BODYSTRUCTURE) != 0) {
        conn_printf(p->conn, "%sBODYSTRUCTURE ", sep);
        conn_write(p->conn, mm->bodystructure, mm->bodystructure_len);
        sep = " ";
    }
    return sep;
}

/* begin_message - the FETCH line's opening and simple items for the next
 * message; false when it is gone (told at the end, RFC 3501 7.4.1 allows
 * no EXPUNGE here). */
static bool begin_message(struct imap *p, struct imap_fetch_job *job, size_t seq)
{
    long index = imap_folder_index(p, seq);
    if (index < 0) {
        job->gone = true;
        return false;
    }
    const struct mailbox_msg *m = mailbox_msg(p->mailbox, (size_t)index);
    job->fd = -1;
    job->size = m->size;
    job->hdr_known = false;
    imap_mime_free(&job->mime);
    if (job->nbodies > 0 || job->need_mime || (job->want & WANT_DATE) != 0) {
        char *err = NULL;
        if (mailbox_msg_open(p->mailbox, (size_t)index, &job->fd, &err) != MAILBOX_OK) {
            log_info("event=imap_fetch_open_failed client=%s user=%s uid=%u error=\"%s\"",
                     p->ss->client_ip, p->login, (unsigned)m->uid, err != NULL ? err : "gone");
            free(err);
            job->fd = -1;
            job->gone = true;
            return false;
        }
    }
    if (!load_mime(p, job, m)) {
        close(job->fd);
        job->fd = -1;
        return false;
    }
    unsigned want = job->want;
    /* RFC 3501 6.4.5: a body fetched without PEEK sets \Seen, and the
     * client is told the flags it has now */
    bool set_seen = false;
    for (size_t i = 0; i < job->nbodies; i++)
        set_seen |= !job->bodies[i].peek;
    if (set_seen && !p->read_only && (m->flags & MAILBOX_FLAG_SEEN) == 0) {
        char *err = NULL;
        if (mailbox_msg_set_flags(p->mailbox, (size_t)index, m->flags | MAILBOX_FLAG_SEEN, &err) ==
            MAILBOX_OK) {
            m = mailbox_msg(p->mailbox, (size_t)index);
            p->view[seq - 1].flags = m->flags;
            want |= WANT_FLAGS;
        }
        free(err);
    }
    conn_printf(p->conn, "* %zu FETCH (", seq);
    const char *sep = "";
    if (job->uid || (want & WANT_UID) != 0) {
        conn_printf(p->conn, "UID %u", (unsigned)m->uid);
        sep = " ";
    }
    if ((want & WANT_FLAGS) != 0) {
        char flags[IMAP_FLAGS_TEXT_MAX];
        conn_printf(p->conn, "%sFLAGS (%s)", sep,
                    imap_flags_text(p, m->flags, m->uid, flags, sizeof flags));
        sep = " ";
    }
    if ((want & WANT_DATE) != 0) {
        struct stat st;
        char date[64];
        date_text(fstat(job->fd, &st) == 0 ? st.st_mtime : 0, date, sizeof date);
        conn_printf(p->conn, "%sINTERNALDATE %s", sep, date);
        sep = " ";
    }
    if ((want & WANT_SIZE) != 0) {
        conn_printf(p->conn, "%sRFC822.SIZE %llu", sep, (unsigned long long)m->size);
        sep = " ";
    }
    if (job->mime != NULL)
        sep = mime_items(p, job, want, sep);
    job->in_message = true;
    job->item_written = sep[0] != '\0';
    job->body_index = 0;
    return true;
}

/* decode_binary - BINARY[part] of a base64 or quoted-printable part: the
 * part's octets as the client would see them (CRLF), decoded into
 * job->mem (RFC 3516 4: the canonical form, CRLF line ends kept). */
static bool decode_binary(struct imap_fetch_job *job, const struct imap_fetch_range *rg)
{
    struct buf raw = BUF_INIT, out = BUF_INIT;
    struct imap_crlf_stream st;
    bool ok = imap_crlf_stream_begin(&st, job->fd, rg->file_from, rg->base, rg->from, rg->to) == 0;
    while (ok) {
        if (buf_reserve(&raw, 2 * CHUNK) < 0) {
            ok = false;
            break;
        }
        ssize_t n = imap_crlf_stream_read(&st, buf_tail(&raw), CHUNK);
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        buf_commit(&raw, (size_t)n);
    }
    enum imap_mime_encoding enc = job->mime->parts[rg->part].encoding;
    ok = ok && mime_decode_transfer(raw.len > 0 ? buf_ptr(&raw) : "", raw.len,
                                    enc == IMAP_MIME_BASE64 ? "base64" : "quoted-printable",
                                    &out) == MIME_DECODED;
    buf_release(&raw);
    if (ok) {
        job->mem_len = out.len;
        job->mem = bytes_dup(out.len > 0 ? buf_ptr(&out) : "", out.len);
        ok = job->mem != NULL;
    }
    buf_release(&out);
    return ok;
}

/* begin_body - announce the next section's literal and set up its stream.
 * false on an I/O error (the session must close: the line is half out). */
static bool begin_body(struct imap *p, struct imap_fetch_job *job)
{
    const struct imap_fetch_body *b = &job->bodies[job->body_index++];
    const char *sep = job->item_written ? " " : "";
    job->item_written = true;
    free(job->mem);
    job->mem = NULL;
    struct imap_fetch_range rg;
    if (!imap_fetch_range(b, job->mime, job->fd, job->size, &job->hdr, &job->hdr_known, &rg))
        return false;
    if (rg.nil) {
        /* RFC 3501 6.4.5 defines no answer for a part that is not there;
         * an empty string, as Dovecot and Cyrus answer, so clients agree */
        if (b->binary_size)
            conn_printf(p->conn, "%s%s 0", sep, b->label);
        else
            conn_printf(p->conn, "%s%s \"\"", sep, b->label);
        return true;
    }
    uint64_t from = rg.from, to = rg.to;
    if (rg.fields) {
        if (imap_header_fields(job->fd, &rg.h, (const char *const *)b->fields, b->nfields,
                               b->section == IMAP_SEC_FIELDS_NOT, &job->mem, &job->mem_len) < 0)
            return false;
        from = 0;
        to = job->mem_len;
    } else if (b->binary && rg.part >= 0 &&
               (job->mime->parts[rg.part].encoding == IMAP_MIME_BASE64 ||
                job->mime->parts[rg.part].encoding == IMAP_MIME_QP)) {
        if (!decode_binary(job, &rg))
            return false;
        from = 0;
        to = job->mem_len;
    }
    if (b->binary_size) {
        conn_printf(p->conn, "%s%s %llu", sep, b->label, (unsigned long long)(to - from));
        free(job->mem);
        job->mem = NULL;
        return true;
    }
    if (b->partial) {
        /* RFC 3501 6.4.5: octets offset.. of the section, as many as there are */
        uint64_t len = to - from;
        uint64_t o = b->offset < len ? b->offset : len;
        uint64_t c = len - o < b->count ? len - o : b->count;
        from += o;
        to = from + c;
    }
    /* RFC 3516 4.2: BINARY content with a NUL goes as literal8 */
    bool nul = b->binary && job->mem != NULL && memchr(job->mem + from, '\0', to - from) != NULL;
    conn_printf(p->conn, "%s%s %s{%llu}\r\n", sep, b->label, nul ? "~" : "",
                (unsigned long long)(to - from));
    if (job->mem != NULL) {
        job->mem_off = (size_t)from;
        job->mem_len = (size_t)to;
    } else if (imap_crlf_stream_begin(&job->stream, job->fd, rg.file_from, rg.base, from, to) < 0) {
        return false;
    }
    job->streaming = true;
    return true;
}

/* stream_body - queue the section while the socket takes it. 1 done, 0
 * wait for FLUSHED, -1 error. */
static int stream_body(struct imap *p, struct imap_fetch_job *job)
{
    for (;;) {
        if (conn_output_pending(p->conn) >= QUEUE_MAX) {
            enum conn_result r = conn_flush(p->conn);
            if (r == CONN_AGAIN)
                return 0;
            if (r == CONN_ERROR)
                return -1;
        }
        if (job->mem != NULL) {
            conn_write(p->conn, job->mem + job->mem_off, job->mem_len - job->mem_off);
            free(job->mem);
            job->mem = NULL;
            return 1;
        }
        char out[2 * CHUNK];
        ssize_t n = imap_crlf_stream_read(&job->stream, out, CHUNK);
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        conn_write(p->conn, out, (size_t)n);
    }
}

bool imap_fetch_more(struct imap *p)
{
    struct imap_fetch_job *job = p->fetch;
    for (;;) {
        if (job->streaming) {
            int r = stream_body(p, job);
            if (r == 0)
                return false;
            if (r < 0) {
                log_error("event=imap_fetch_failed client=%s user=%s error=\"the message file "
                          "could not be read to its announced size\"",
                          p->ss->client_ip, p->login);
                imap_end(p); /* a literal cannot be cut short: close */
                return false;
            }
            job->streaming = false;
            continue;
        }
        if (job->in_message) {
            if (job->body_index < job->nbodies) {
                if (!begin_body(p, job)) {
                    imap_end(p);
                    return false;
                }
                continue;
            }
            conn_printf(p->conn, ")\r\n");
            if (job->fd >= 0)
                close(job->fd);
            job->fd = -1;
            job->in_message = false;
            continue;
        }
        if (job->next < job->nseqs) {
            begin_message(p, job, job->seqs[job->next++]);
            continue;
        }
        if (job->unknown_cte)
            imap_tagged(p, "NO", "[UNKNOWN-CTE] A part's content transfer encoding is unknown");
        else if (job->unreadable)
            imap_tagged(p, "NO", "[SERVERBUG] Some messages could not be read");
        else if (job->gone)
            imap_tagged(p, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
        else
            imap_tagged(p, "OK", "%sFetch completed", job->uid ? "UID " : "");
        imap_fetch_free(&p->fetch);
        return true;
    }
}

/* imap_messages - the view's sequence numbers named by set (UIDs with uid)
 * into a malloc'd array *seqs_r of *count_r. -1 out of memory. */
int imap_messages(struct imap *p, const struct imap_seqset *set, bool uid, size_t **seqs_r,
                  size_t *count_r)
{
    size_t *seqs = malloc((p->view_count > 0 ? p->view_count : 1) * sizeof *seqs);
    if (seqs == NULL)
        return -1;
    size_t n = 0;
    uint32_t star =
        uid ? (p->view_count > 0 ? p->view[p->view_count - 1].uid : 0) : (uint32_t)p->view_count;
    for (size_t seq = 1; seq <= p->view_count; seq++) {
        uint32_t key = uid ? p->view[seq - 1].uid : (uint32_t)seq;
        if (imap_seqset_contains(set, key, star))
            seqs[n++] = seq;
    }
    *seqs_r = seqs;
    *count_r = n;
    return 0;
}

bool imap_seqset_valid(const struct imap *p, const struct imap_seqset *set, bool uid)
{
    if (uid)
        return true; /* RFC 3501 9: a UID out of range is no error */
    for (size_t k = 0; k < set->count; k++) {
        if (set->ranges[k].lo > p->view_count || set->ranges[k].hi > p->view_count)
            return false;
    }
    return true;
}

/* seqset_arg - the sequence-set argument i of cmd into *set. */
bool imap_seqset_arg(const struct imap_command *cmd, size_t i, struct imap_seqset *set)
{
    const struct imap_arg *a = imap_command_arg(cmd, i);
    return a != NULL && a->type == IMAP_ARG_ATOM && imap_seqset_parse(a->str, a->len, set);
}

void imap_cmd_fetch(struct imap *p, const struct imap_command *cmd, size_t first, bool uid)
{
    static struct imap_seqset set; /* large; the session runs on one thread */
    const struct imap_arg *items = imap_command_arg(cmd, first + 1);
    if (cmd->argc != first + 2 || !imap_seqset_arg(cmd, first, &set)) {
        imap_bad(p, "Usage: FETCH sequence-set items");
        return;
    }
    if (!imap_seqset_valid(p, &set, uid)) {
        imap_bad(p, "Invalid message sequence number");
        return;
    }
    struct imap_fetch_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    job->fd = -1;
    job->uid = uid;
    bool ok = true;
    if (items->type == IMAP_ARG_LIST) {
        for (size_t i = 0; i < items->count && ok; i++)
            ok = add_item(job, imap_list_elem(cmd, items, i));
        if (items->count == 0)
            ok = false;
    } else {
        ok = add_item(job, items);
    }
    if (!ok) {
        imap_fetch_free(&job);
        imap_bad(p, "Bad FETCH item");
        return;
    }
    if (imap_messages(p, &set, uid, &job->seqs, &job->nseqs) < 0) {
        imap_fetch_free(&job);
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    p->fetch = job;
    p->busy = IMAP_SENDING;
    conn_set_input_paused(p->conn, true);
    if (imap_fetch_more(p) && !p->ls.ending) {
        p->busy = IMAP_IDLE_INPUT;
        conn_set_input_paused(p->conn, false);
    }
}

/* cmd_store - RFC 3501 6.4.6: the system flags, kept in the file name by
 * the mailbox layer's rename. Keywords are not kept yet (PERMANENTFLAGS
 * has no \*), so they are ignored. */
void imap_cmd_store(struct imap *p, const struct imap_command *cmd, size_t first, bool uid)
{
    static struct imap_seqset set;
    const struct imap_arg *op = imap_command_arg(cmd, first + 1);
    if (cmd->argc < first + 3 || !imap_seqset_arg(cmd, first, &set) || op->type != IMAP_ARG_ATOM) {
        imap_bad(p, "Usage: STORE sequence-set [+-]FLAGS[.SILENT] (flags)");
        return;
    }
    if (!imap_seqset_valid(p, &set, uid)) {
        imap_bad(p, "Invalid message sequence number");
        return;
    }
    const char *o = op->str;
    int mode = 0; /* 0 replace, 1 add, -1 remove */
    if (*o == '+' || *o == '-')
        mode = *o++ == '+' ? 1 : -1;
    bool silent;
    if (strcasecmp(o, "FLAGS") == 0)
        silent = false;
    else if (strcasecmp(o, "FLAGS.SILENT") == 0)
        silent = true;
    else {
        imap_bad(p, "Usage: STORE sequence-set [+-]FLAGS[.SILENT] (flags)");
        return;
    }
    unsigned flags = 0;
    const struct imap_arg *fl = imap_command_arg(cmd, first + 2);
    size_t nflags = fl->type == IMAP_ARG_LIST ? fl->count : cmd->argc - first - 2;
    for (size_t i = 0; i < nflags; i++) {
        const struct imap_arg *f = fl->type == IMAP_ARG_LIST ? imap_list_elem(cmd, fl, i)
                                                             : imap_command_arg(cmd, first + 2 + i);
        bool known;
        if (!imap_arg_flag(f)) {
            imap_bad(p, "Bad flag");
            return;
        }
        flags |= imap_flag_parse(p, f, &known);
    }
    if (p->read_only) {
        imap_tagged(p, "NO", "[READ-ONLY] The mailbox is read-only");
        return;
    }
    size_t *seqs, count;
    if (imap_messages(p, &set, uid, &seqs, &count) < 0) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    bool gone = false, failed = false;
    const unsigned system = MAILBOX_FLAG_REPLIED | MAILBOX_FLAG_FLAGGED | MAILBOX_FLAG_TRASHED |
                            MAILBOX_FLAG_SEEN | MAILBOX_FLAG_DRAFT | MAILBOX_FLAG_KEYWORDS;
    char *berr = NULL;
    /* one lock and one index write for the whole set */
    if (mailbox_change_begin(p->mailbox, &berr) != MAILBOX_OK) {
        log_error("event=imap_store_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, berr != NULL ? berr : "?");
        free(berr);
        free(seqs);
        imap_tagged(p, "NO", "[UNAVAILABLE] Some flags could not be stored");
        return;
    }
    for (size_t k = 0; k < count; k++) {
        size_t seq = seqs[k];
        long index = imap_folder_index(p, seq);
        if (index < 0) {
            gone = true;
            continue;
        }
        const struct mailbox_msg *m = mailbox_msg(p->mailbox, (size_t)index);
        /* P (passed) has no IMAP flag: FLAGS keeps it */
        unsigned now = mode > 0   ? m->flags | flags
                       : mode < 0 ? m->flags & ~flags
                                  : (m->flags & ~system) | flags;
        if (now != m->flags) {
            char *err = NULL;
            enum mailbox_result r = mailbox_msg_set_flags(p->mailbox, (size_t)index, now, &err);
            if (r == MAILBOX_GONE)
                gone = true;
            else if (r != MAILBOX_OK) {
                log_error("event=imap_store_failed client=%s user=%s error=\"%s\"",
                          p->ss->client_ip, p->login, err != NULL ? err : "?");
                failed = true;
            }
            free(err);
            if (r != MAILBOX_OK)
                continue;
            m = mailbox_msg(p->mailbox, (size_t)index);
        }
        p->view[seq - 1].flags = m->flags;
        if (!silent) {
            char text[IMAP_FLAGS_TEXT_MAX];
            if (uid)
                imap_untagged(p, "%zu FETCH (UID %u FLAGS (%s))", seq, (unsigned)m->uid,
                              imap_flags_text(p, m->flags, m->uid, text, sizeof text));
            else
                imap_untagged(p, "%zu FETCH (FLAGS (%s))", seq,
                              imap_flags_text(p, m->flags, m->uid, text, sizeof text));
        }
    }
    mailbox_change_end(p->mailbox);
    free(seqs);
    if (failed)
        imap_tagged(p, "NO", "[UNAVAILABLE] Some flags could not be stored");
    else if (gone)
        imap_tagged(p, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
    else
        imap_tagged(p, "OK", "%sStore completed", uid ? "UID " : "");
}
