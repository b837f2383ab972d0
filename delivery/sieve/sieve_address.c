/* delivery/sieve/sieve_address.c - a tolerant address-list reader: a
 * filter must work on the mail people get, not only on well-formed mail,
 * so a mailbox that does not parse is taken as the text it is. */
#include "config.h"

#include "delivery/sieve/sieve_address.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/array.h"
#include "lib/buf.h"

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* one_mailbox - the addr-spec of one mailbox's text: inside <>, else the
 * text without comments and blanks outside quotes. */
static char *one_mailbox(const char *s, size_t n)
{
    const char *lt = NULL, *gt = NULL;
    bool q = false;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (c == '"' && depth == 0)
            q = !q;
        else if (!q && c == '(')
            depth++;
        else if (!q && c == ')' && depth > 0)
            depth--;
        else if (!q && depth == 0 && c == '<' && lt == NULL)
            lt = s + i;
        else if (!q && depth == 0 && c == '>' && lt != NULL && gt == NULL)
            gt = s + i;
    }
    if (lt != NULL && gt != NULL) {
        s = lt + 1;
        n = (size_t)(gt - lt - 1);
        /* an obsolete source route "@a,@b:" (RFC 5322 4.4) is not part of it */
        const char *colon = memchr(s, ':', n);
        if (n > 0 && s[0] == '@' && colon != NULL) {
            n -= (size_t)(colon + 1 - s);
            s = colon + 1;
        }
    }
    struct buf b = BUF_INIT;
    q = false;
    depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' && depth == 0)
            q = !q;
        if (!q && c == '(') {
            depth++;
            continue;
        }
        if (!q && c == ')' && depth > 0) {
            depth--;
            continue;
        }
        if (depth > 0 || (!q && (c == ' ' || c == '\t')))
            continue;
        buf_append(&b, &c, 1);
    }
    buf_append(&b, "", 1);
    char *r = buf_ptr(&b) != NULL ? strdup(buf_ptr(&b)) : NULL;
    buf_release(&b);
    return r;
}

int sieve_address_list(const char *value, char ***out, size_t *count)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    const char *start = value;
    bool q = false;
    int depth = 0, angle = 0;
    for (const char *p = value;; p++) {
        char c = *p;
        if (c == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (c == '"' && depth == 0)
            q = !q;
        else if (!q && c == '(')
            depth++;
        else if (!q && c == ')' && depth > 0)
            depth--;
        else if (!q && depth == 0 && c == '<')
            angle++;
        else if (!q && depth == 0 && c == '>' && angle > 0)
            angle--;
        bool sep =
            c == '\0' || (!q && depth == 0 && angle == 0 && (c == ',' || c == ';' || c == ':'));
        if (!sep)
            continue;
        const char *s = start;
        size_t len = (size_t)(p - start);
        start = p + 1;
        trim(&s, &len);
        /* "name:" opens a group; the name is not an address */
        if (c != ':' && len > 0) {
            char *a = one_mailbox(s, len);
            if (a == NULL || ARRAY_RESERVE(&v, &cap, n + 1, 4) < 0) {
                free(a);
                for (size_t i = 0; i < n; i++)
                    free(v[i]);
                free(v);
                return -1;
            }
            if (a[0] == '\0')
                free(a);
            else
                v[n++] = a;
        }
        if (c == '\0')
            break;
    }
    *out = v;
    *count = n;
    return 0;
}

char *sieve_address_part(const char *addr, enum sieve_addr_part part)
{
    const char *at = strrchr(addr, '@');
    size_t local_len = at != NULL ? (size_t)(at - addr) : strlen(addr);
    switch (part) {
    case PART_ALL:
        return strdup(addr);
    case PART_DOMAIN:
        return at != NULL ? strdup(at + 1) : NULL;
    case PART_LOCAL:
        return bytes_dup(addr, local_len);
    case PART_USER:
    case PART_DETAIL: {
        const char *sep = memchr(addr, SIEVE_SUBADDRESS_SEP, local_len);
        if (part == PART_USER)
            return bytes_dup(addr, sep != NULL ? (size_t)(sep - addr) : local_len);
        if (sep == NULL)
            return NULL;
        return bytes_dup(sep + 1, local_len - (size_t)(sep + 1 - addr));
    }
    }
    return NULL;
}

bool sieve_address_header_known(const char *name)
{
    static const char *const known[] = {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "resent-from",
        "resent-sender",
        "resent-to",
        "resent-cc",
        "resent-bcc",
        "resent-reply-to",
        "return-path",
        "delivered-to",
        "errors-to",
        "x-original-to",
        "envelope-to",
        "original-recipient",
        "disposition-notification-to",
        "mail-followup-to",
        "mail-reply-to",
        "approved",
        "x-envelope-from",
        "x-envelope-to",
        "original-from",
        "original-sender",
        "original-to",
        "for-approval",
        "for-handling",
        "list-post",
        "list-owner",
        "x-beenthere",
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(name, known[i]) == 0)
            return true;
    return false;
}
