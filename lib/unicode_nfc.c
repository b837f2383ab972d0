/* lib/unicode_nfc.c - see unicode_nfc.h. */
#include "config.h"

#include "lib/unicode_nfc.h"

#include <glib.h>
#include <string.h>

#include "lib/buf.h"

char *unicode_nfc(const char *s, size_t len, size_t *len_r)
{
    /* g_utf8_validate with a length refuses an embedded NUL too */
    if (len > G_MAXSSIZE || !g_utf8_validate(s, (gssize)len, NULL))
        return NULL;
    gchar *nfc = g_utf8_normalize(s, (gssize)len, G_NORMALIZE_NFC);
    if (nfc == NULL)
        return NULL;
    size_t n = strlen(nfc);
    char *out = bytes_dup(nfc, n); /* ours are malloc'd: callers free() */
    g_free(nfc);
    if (out != NULL)
        *len_r = n;
    return out;
}
