/* tests/fuzz/fuzz_auth_protocol.c - libFuzzer harness for auth/auth_protocol:
 * the first byte picks the decoder (a request, or a response to one of the
 * four request types); the rest is the line. Invariants: what decodes
 * re-encodes to something that decodes to the same thing, and no encoded
 * value holds a byte that could end a token or a line. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_protocol.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const struct buf *b, size_t skip_last)
{
    for (size_t i = 0; i + skip_last < buf_len(b); i++) {
        unsigned char c = (unsigned char)buf_ptr(b)[i];
        if (c < 0x20 || c == 0x7f)
            abort();
    }
}

static void fuzz_request(const char *line, size_t len)
{
    struct auth_request req, again;
    const char *error;
    if (auth_request_decode(line, len, &req, &error) != AUTH_DECODE_OK)
        return;
    struct buf b = BUF_INIT;
    if (auth_request_encode(&b, &req) < 0)
        abort(); /* what was accepted fits again */
    check_clean(&b, 1);
    if (auth_request_decode(buf_ptr(&b), buf_len(&b) - 1, &again, &error) != AUTH_DECODE_OK ||
        again.id != req.id || again.type != req.type || again.argc != req.argc)
        abort();
    for (size_t i = 0; i < req.argc; i++) {
        if (strcmp(req.args[i], again.args[i]) != 0)
            abort();
    }
    auth_request_clear(&again);
    auth_request_clear(&req);
    buf_release(&b);
}

static void fuzz_response(const char *line, size_t len, enum auth_request_type type)
{
    struct auth_response resp, again;
    const char *error;
    if (auth_response_decode(line, len, type, &resp, &error) != AUTH_DECODE_OK)
        return;
    struct buf b = BUF_INIT;
    buf_printf(&b, "%lu ", (unsigned long)resp.id);
    if (resp.recipient != NULL)
        auth_body_recipient(&b, resp.status, resp.recipient);
    else if (resp.user != NULL)
        auth_body_user(&b, resp.status, resp.user);
    else if (resp.status == AUTH_FOUND && type == AUTH_REQ_SENDERS)
        auth_body_senders(&b, &resp.senders);
    else
        auth_body_status(&b, resp.status, resp.error);
    check_clean(&b, 0);
    if (auth_response_decode(buf_ptr(&b), buf_len(&b), type, &again, &error) != AUTH_DECODE_OK ||
        again.id != resp.id || again.status != resp.status ||
        (resp.recipient != NULL) != (again.recipient != NULL) ||
        (resp.user != NULL) != (again.user != NULL) || resp.senders.count != again.senders.count)
        abort();
    if (resp.recipient != NULL &&
        (resp.recipient->kind != again.recipient->kind ||
         resp.recipient->members.count != again.recipient->members.count ||
         resp.recipient->quota != again.recipient->quota))
        abort();
    auth_response_clear(&again);
    auth_response_clear(&resp);
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 5;
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    if (mode == 0)
        fuzz_request(line, len);
    else
        fuzz_response(line, len, (enum auth_request_type)(mode - 1));
    return 0;
}
