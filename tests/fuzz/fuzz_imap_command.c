/* tests/fuzz/fuzz_imap_command.c - libFuzzer harness for the IMAP command
 * parser (reader/imap_parse.c) as a session drives it: the input is split
 * into lines at LF, and when the parser asks for a literal the next octets
 * are fed to it as the connection would. Every result must be one the
 * session can act on, a finished command's argument tree must be well
 * formed (every end inside the array, lists' elements counted right), and
 * sequence sets are parsed from each atom. Nothing may crash, leak or loop. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parse_limits limits = {
    .literal_max = 512,
    .append_literal_max = 1024,
    .discard_max = 4096,
    .args_max = 64,
    .depth_max = 4,
    .bytes_max = 1024,
};

/* check_tree - args[from..to) hold count siblings, each well formed. */
static void check_tree(const struct imap_command *cmd, size_t from, size_t to, size_t count)
{
    size_t seen = 0;
    for (size_t i = from; i < to; i = cmd->args[i].end) {
        const struct imap_arg *a = &cmd->args[i];
        if (a->end <= i || a->end > to || a->str == NULL || a->str[a->len] != '\0')
            abort();
        if (a->type == IMAP_ARG_LIST)
            check_tree(cmd, i + 1, a->end, a->count);
        else if (a->end != i + 1)
            abort();
        if (a->type == IMAP_ARG_ATOM) {
            static struct imap_seqset set;
            if (imap_seqset_parse(a->str, a->len, &set) && set.count == 0)
                abort();
        }
        seen++;
    }
    if (seen != count)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct imap_parser *p = imap_parser_new(&limits);
    if (p == NULL)
        return 0;
    const char *in = (const char *)data;
    size_t pos = 0;
    while (pos < size) {
        uint64_t left = imap_parser_literal_left(p);
        if (left > 0 || imap_parser_literal_sync(p)) {
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
            if (cmd->tag[0] == '\0' || cmd->name[0] == '\0')
                abort();
            check_tree(cmd, 0, cmd->nargs, cmd->argc);
            break;
        }
        case IMAP_PARSE_BAD:
        case IMAP_PARSE_TOOBIG:
            if (imap_parser_error(p)[0] == '\0' || imap_parser_tag(p)[0] == '\0')
                abort();
            break;
        case IMAP_PARSE_LITERAL:
            if (!imap_parser_discarding(p) &&
                imap_parser_literal_left(p) > limits.append_literal_max)
                abort();
            /* {0}: its (empty) feed */
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
