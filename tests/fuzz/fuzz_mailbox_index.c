/* tests/fuzz/fuzz_mailbox_index.c - libFuzzer harness for the reader of a
 * folder's UID index, "dirmail-uidlist" (delivery/mailbox_index.c): any
 * other program, a crash or a full disk may leave any bytes there, so a
 * refusal must say why and never crash, and what parses must format back to
 * the very same text (each value has one spelling) and parse again. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/mailbox_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mailbox_index index, again;
    uint32_t old = 0;
    char *error = NULL, *text = NULL;
    size_t len = 0;

    switch (mailbox_index_parse((const char *)data, size, &index, &old, &error)) {
    case MAILBOX_INDEX_PARSED:
        break;
    default:
        if (error == NULL || index.count != 0)
            abort(); /* every refusal says why and leaves nothing behind */
        free(error);
        return 0;
    }
    if (error != NULL || old != index.uidvalidity)
        abort();
    if (mailbox_index_format(&index, &text, &len) < 0)
        abort(); /* what was read can be written */
    if (len != size || memcmp(text, data, len) != 0)
        abort();
    if (mailbox_index_parse(text, len, &again, &old, &error) != MAILBOX_INDEX_PARSED ||
        again.count != index.count)
        abort();
    mailbox_index_clear(&again);
    mailbox_index_clear(&index);
    free(text);
    return 0;
}
