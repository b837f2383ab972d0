/* tests/fuzz/fuzz_managesieve_command.c - libFuzzer harness for the
 * ManageSieve command parser: reader/imap_parse.c in its untagged dialect,
 * as managesieve_session.c drives it (lines split at LF, every literal fed
 * at once, {n} as {n+}; after an "AUTHENTICATE" the next line is a SASL
 * response, arguments only), and every finished command's strings checked
 * as script names (delivery/sieve_store.c). A finished command has a name
 * (a SASL response none) and no list; nothing may crash, leak or loop. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve_store.h"
#include "reader/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parse_limits limits = {
    .literal_max = 512,
    .append_literal_max = 512,
    .discard_max = 4096,
    .args_max = 8,
    .depth_max = 0,
    .bytes_max = 1024,
    .untagged = true,
};

static void check_command(const struct imap_command *cmd, bool sasl)
{
    if ((cmd->name[0] == '\0') != sasl || cmd->nargs != cmd->argc)
        abort();
    for (size_t i = 0; i < cmd->nargs; i++) {
        const struct imap_arg *a = &cmd->args[i];
        if (a->type == IMAP_ARG_LIST || a->end != i + 1 || a->str[a->len] != '\0')
            abort();
        bool valid = sieve_store_name_valid(a->str, a->len);
        /* a name the store takes can never leave it */
        if (valid && (memchr(a->str, '/', a->len) != NULL || a->str[0] == '.' ||
                      memchr(a->str, '\0', a->len) != NULL || a->len > SIEVE_STORE_NAME_MAX))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct imap_parser *p = imap_parser_new(&limits);
    if (p == NULL)
        return 0;
    const char *in = (const char *)data;
    size_t pos = 0;
    bool sasl = false;
    while (pos < size) {
        uint64_t left = imap_parser_literal_left(p);
        if (imap_parser_literal_sync(p))
            abort(); /* the dialect never waits for a continuation */
        if (left > 0) {
            size_t n = size - pos < left ? size - pos : (size_t)left;
            imap_parser_feed_literal(p, in + pos, n);
            pos += n;
            continue;
        }
        const char *lf = memchr(in + pos, '\n', size - pos);
        size_t len = lf != NULL ? (size_t)(lf - (in + pos)) : size - pos;
        size_t line_len = len > 0 && in[pos + len - 1] == '\r' ? len - 1 : len;
        enum imap_parse_result r = imap_parser_feed_line(p, in + pos, line_len);
        pos += len + (lf != NULL);
        switch (r) {
        case IMAP_PARSE_DONE: {
            const struct imap_command *cmd = imap_parser_command(p);
            check_command(cmd, sasl);
            sasl = strcmp(cmd->name, "AUTHENTICATE") == 0;
            if (sasl)
                imap_parser_expect_arguments(p);
            break;
        }
        case IMAP_PARSE_BAD:
        case IMAP_PARSE_TOOBIG:
            if (imap_parser_error(p)[0] == '\0')
                abort();
            sasl = false;
            break;
        case IMAP_PARSE_LITERAL:
            if (!imap_parser_discarding(p) && imap_parser_literal_left(p) > limits.literal_max)
                abort();
            if (imap_parser_literal_left(p) == 0)
                imap_parser_feed_literal(p, "", 0);
            break;
        case IMAP_PARSE_DISCARDED:
            break;
        case IMAP_PARSE_CLOSE:
            imap_parser_free(&p);
            return 0;
        }
    }
    imap_parser_free(&p);
    return 0;
}
