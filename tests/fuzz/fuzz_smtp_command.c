/* tests/fuzz/fuzz_smtp_command.c - libFuzzer harness for gateway/smtp_parse
 * and the reply table: any line (the first byte picks the advertised
 * extensions and SMTPUTF8) parses without a crash, every failure has a reply
 * that formats, and what parses keeps the parser's promises. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_parse.h"
#include "proto/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct smtp_command cmd; /* large: keep it off the stack */
    char reply[1024];
    unsigned opts;
    enum smtp_parse_result r;

    if (size < 1)
        return 0;
    opts = (data[0] & SMTP_PARSE_EXT_ALL) | ((data[0] & 0x80) ? SMTP_PARSE_TX_SMTPUTF8 : 0);
    r = smtp_parse_line((const char *)data + 1, size - 1, opts, &cmd);
    if (r != SMTP_PARSE_OK) {
        const struct smtp_reply *rep = smtp_reply_parse_error(r);
        if (rep == NULL || rep->code < 500 || rep->code > 599)
            abort();
        if (smtp_reply_format(reply, sizeof(reply), rep->code, rep->esc, rep->text) <= 0)
            abort();
        return 0;
    }
    if (cmd.verb == SMTP_VERB_UNKNOWN || cmd.arg_len > SMTP_PARSE_LINE_MAX ||
        strlen(cmd.arg) != cmd.arg_len)
        abort();
    if (cmd.verb == SMTP_VERB_RCPT && cmd.path.is_null)
        abort();
    if ((cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) && cmd.path.utf8 &&
        !cmd.params.smtputf8 && !(opts & SMTP_PARSE_TX_SMTPUTF8))
        abort();
    if ((cmd.params.notify & SMTP_NOTIFY_NEVER) && cmd.params.notify != SMTP_NOTIFY_NEVER)
        abort();
    if (cmd.params.has_envid && strlen(cmd.params.envid) > SMTP_ENVID_MAX)
        abort();
    for (const char *p = cmd.params.envid; *p; p++)
        if (*p < 32 || *p > 126)
            abort();
    /* A reply echoing a parsed argument must never be forged into two. */
    if (cmd.verb == SMTP_VERB_EHLO &&
        smtp_reply_format(reply, sizeof(reply), 250, SMTP_ESC_NONE, cmd.arg) < 0 &&
        cmd.arg_len < 400)
        abort();
    return 0;
}
