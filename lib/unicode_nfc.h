/* lib/unicode_nfc.h - a UTF-8 string in Unicode Normalization Form C, as
 * Net-Unicode asks of names that are compared (RFC 5198 2; ManageSieve's
 * script names, RFC 5804 1.6). The tables are GLib's (g_utf8_normalize),
 * which dirmail links already as GMime's own dependency: no new library.
 * It never judges which characters a name may hold; callers do. */
#ifndef DIRMAIL_LIB_UNICODE_NFC_H
#define DIRMAIL_LIB_UNICODE_NFC_H

#include <stddef.h>

/* unicode_nfc - s[0..len) in NFC, malloc'd and NUL-terminated (the
 * caller's), its length in *len_r; NULL when s is not valid UTF-8, holds
 * a NUL, or memory is short. s need not be NUL-terminated. */
char *unicode_nfc(const char *s, size_t len, size_t *len_r);

#endif
