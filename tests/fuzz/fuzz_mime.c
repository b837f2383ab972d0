/* tests/fuzz/fuzz_mime.c - libFuzzer harness for the MIME layer: lib/mime's
 * tree over any bytes (a message is whatever a sender wrote), what IMAP
 * makes of it (reader/imap_bodystructure.c, imap_envelope.c) and the cache
 * entry it is kept as (reader/imap_mime_cache.c). Invariants: every range
 * lies inside its parent's body and the message, each CRLF position is the
 * raw one plus the bare LFs before it, the tree is in document order, the
 * entry decodes to what was encoded, part numbers resolve inside the tree;
 * the decoders take any bytes. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mime.h"
#include "reader/imap_mime_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t crlf_of(const char *d, uint64_t pos)
{
    uint64_t n = pos;
    for (uint64_t i = 0; i < pos; i++)
        if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
            n++;
    return n;
}

static bool same_parts(const struct imap_mime *a, const struct imap_mime *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const struct imap_mime_part *x = &a->parts[i], *y = &b->parts[i];
        if (x->kind != y->kind || x->encoding != y->encoding || x->parent != y->parent ||
            x->first_child != y->first_child || x->next_sibling != y->next_sibling ||
            x->header.raw != y->header.raw || x->header.crlf != y->header.crlf ||
            x->body.raw != y->body.raw || x->body.crlf != y->body.crlf ||
            x->end.raw != y->end.raw || x->end.crlf != y->end.crlf)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    struct mime_message *msg = mime_parse(d, size);
    if (msg == NULL || msg->count == 0 || msg->count > MIME_PARTS_MAX)
        abort();
    for (size_t i = 0; i < msg->count; i++) {
        const struct mime_part *p = &msg->parts[i];
        if (p->header.raw > p->body.raw || p->body.raw > p->end.raw || p->end.raw > size)
            abort();
        if (p->header.crlf != crlf_of(d, p->header.raw) || p->end.crlf != crlf_of(d, p->end.raw))
            abort();
        if (p->type == NULL || p->subtype == NULL)
            abort();
        if (i == 0 ? p->parent != -1 : (p->parent < 0 || (size_t)p->parent >= i))
            abort();
        if (i > 0) {
            const struct mime_part *up = &msg->parts[p->parent];
            if (p->header.raw < up->body.raw || p->end.raw > up->end.raw)
                abort();
        }
    }
    struct imap_mime *m = imap_mime_from_parse(msg);
    if (m == NULL)
        abort();
    size_t len;
    char *enc = imap_mime_encode(m, size, 7, &len);
    if (enc != NULL) {
        struct imap_mime *back = imap_mime_decode(enc, len, size, 7);
        if (back == NULL || !same_parts(back, m) ||
            strcmp(back->bodystructure, m->bodystructure) != 0)
            abort();
        imap_mime_free(&back);
        free(enc);
    }
    /* the input as a cache entry too: refused or a tree within bounds */
    struct imap_mime *any = imap_mime_decode(d, size, size, 7);
    if (any != NULL && any->count == 0)
        abort();
    imap_mime_free(&any);
    unsigned path[4] = {1, 1, 1, 1};
    for (size_t k = 0; k < size && k < 4; k++)
        path[k] = (unsigned)(data[k] % 5);
    for (size_t depth = 1; depth <= 4; depth++) {
        int idx = imap_mime_section(m, path, depth);
        if (idx < -1 || idx >= (int)m->count)
            abort();
    }
    imap_mime_free(&m);
    mime_message_free(&msg);

    struct buf out = BUF_INIT;
    mime_decode_transfer(d, size, "base64", &out);
    buf_clear(&out);
    mime_decode_transfer(d, size, "quoted-printable", &out);
    buf_clear(&out);
    mime_to_utf8(d, size, "iso-2022-jp", &out);
    buf_release(&out);
    char *s = bytes_dup(d, size < 4096 ? size : 4096);
    char *h = s != NULL ? mime_header_decode(s) : NULL;
    size_t flen;
    char *f = h != NULL ? mime_casefold(h, strlen(h), &flen) : NULL;
    free(f);
    free(h);
    free(s);
    return 0;
}
