/* reader/imap_sort_subject.c - see imap_sort_subject.h. The steps are
 * numbered as in RFC 5256 2.1; the ABNF names are its section 5's. */
#include "config.h"

#include "reader/imap_sort_subject.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* blob_at - the length of a subj-blob ("[" *BLOBCHAR "]" *WSP) at s[i]. */
static size_t blob_at(const char *s, size_t i, size_t e)
{
    if (i >= e || s[i] != '[')
        return 0;
    size_t k = i + 1;
    while (k < e && s[k] != '[' && s[k] != ']')
        k++;
    if (k >= e || s[k] != ']')
        return 0;
    for (k++; k < e && s[k] == ' ';)
        k++;
    return k - i;
}

/* refwd_at - the length of a subj-refwd (("re" / "fw" ["d"]) *WSP
 * [subj-blob] ":") at s[i]. */
static size_t refwd_at(const char *s, size_t i, size_t e)
{
    size_t k = i;
    if (e - k >= 2 && strncasecmp(s + k, "re", 2) == 0) {
        k += 2;
    } else if (e - k >= 2 && strncasecmp(s + k, "fw", 2) == 0) {
        k += 2;
        if (k < e && (s[k] == 'd' || s[k] == 'D'))
            k++;
    } else {
        return 0;
    }
    while (k < e && s[k] == ' ')
        k++;
    k += blob_at(s, k, e);
    return k < e && s[k] == ':' ? k + 1 - i : 0;
}

/* leader_at - the length of a subj-leader ((*subj-blob subj-refwd) / WSP). */
static size_t leader_at(const char *s, size_t i, size_t e, bool *reply)
{
    if (s[i] == ' ')
        return 1;
    size_t k = i, b;
    while ((b = blob_at(s, k, e)) > 0)
        k += b;
    size_t r = refwd_at(s, k, e);
    if (r == 0)
        return 0;
    *reply = true;
    return k + r - i;
}

char *imap_sort_base_subject(const char *subject, bool *reply_r)
{
    /* step 1: white space runs (and folding) as one space */
    size_t n = strlen(subject);
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        char c = subject[i] == '\t' || subject[i] == '\r' || subject[i] == '\n' ? ' ' : subject[i];
        if (c != ' ' || e == 0 || s[e - 1] != ' ')
            s[e++] = c;
    }
    size_t b = 0;
    bool reply = false;
    for (;;) {
        /* step 2: trailing subj-trailer ("(fwd)" / WSP) */
        while (e > b) {
            if (s[e - 1] == ' ') {
                e--;
            } else if (e - b >= 5 && strncasecmp(s + e - 5, "(fwd)", 5) == 0) {
                e -= 5;
                reply = true;
            } else {
                break;
            }
        }
        /* steps 3 to 5: leaders, and a blob that does not leave nothing */
        for (bool changed = true; changed && b < e;) {
            changed = false;
            size_t l;
            while (b < e && (l = leader_at(s, b, e, &reply)) > 0) {
                b += l;
                changed = true;
            }
            size_t bl = blob_at(s, b, e);
            if (bl > 0 && b + bl < e) {
                b += bl;
                changed = true;
            }
        }
        /* step 6: "[fwd:" ... "]" around it all */
        if (e - b >= 6 && strncasecmp(s + b, "[fwd:", 5) == 0 && s[e - 1] == ']') {
            b += 5;
            e--;
            reply = true;
            continue;
        }
        break;
    }
    memmove(s, s + b, e - b);
    s[e - b] = '\0';
    for (char *c = s; *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
    *reply_r = reply;
    return s;
}
