/* lib/mime_fields.c - address lists and dates of header fields through
 * GMime 3 (InternetAddressList, g_mime_utils_header_decode_date), so that
 * comments, RFC 2047 words, groups and obsolete syntax are read the way
 * mail readers read them rather than by a parser of our own. */
#include "config.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mime.h"
#include "lib/mime_fields.h"

char *mime_address_text(const char *value)
{
    mime_init();
    InternetAddressList *list = internet_address_list_parse(NULL, value);
    if (list == NULL)
        return NULL;
    char *text = NULL;
    if (internet_address_list_length(list) > 0) {
        /* encode FALSE: names stay decoded UTF-8 */
        char *s = internet_address_list_to_string(list, NULL, FALSE);
        if (s != NULL)
            text = strdup(s);
        g_free(s);
    }
    g_object_unref(list);
    return text;
}

bool mime_first_mailbox(const char *value, struct mime_mailbox *mb)
{
    *mb = (struct mime_mailbox){0};
    mime_init();
    InternetAddressList *list = internet_address_list_parse(NULL, value);
    if (list == NULL)
        return false;
    InternetAddress *a =
        internet_address_list_length(list) > 0 ? internet_address_list_get_address(list, 0) : NULL;
    if (a != NULL) {
        const char *name = internet_address_get_name(a);
        /* a group is what RFC 3501 7.4.2 makes of it: its name as mailbox */
        const char *addr = INTERNET_ADDRESS_IS_MAILBOX(a)
                               ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))
                               : name;
        if (addr == NULL)
            addr = "";
        const char *at = INTERNET_ADDRESS_IS_MAILBOX(a) ? strrchr(addr, '@') : NULL;
        mb->name = strdup(name != NULL && INTERNET_ADDRESS_IS_MAILBOX(a) ? name : "");
        mb->local = at != NULL ? strndup(addr, (size_t)(at - addr)) : strdup(addr);
        mb->domain = strdup(at != NULL ? at + 1 : "");
    }
    g_object_unref(list);
    if (a == NULL)
        return false;
    if (mb->name == NULL || mb->local == NULL || mb->domain == NULL) {
        mime_mailbox_clear(mb);
        return false;
    }
    return true;
}

void mime_mailbox_clear(struct mime_mailbox *mb)
{
    free(mb->name);
    free(mb->local);
    free(mb->domain);
    *mb = (struct mime_mailbox){0};
}

bool mime_date_parse(const char *value, int64_t *utc_r, int *offset_r)
{
    mime_init();
    GDateTime *t = g_mime_utils_header_decode_date(value);
    if (t == NULL)
        return false;
    *utc_r = g_date_time_to_unix(t);
    *offset_r = (int)(g_date_time_get_utc_offset(t) / G_TIME_SPAN_SECOND);
    g_date_time_unref(t);
    return true;
}
