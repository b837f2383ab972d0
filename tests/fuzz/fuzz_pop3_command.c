/* tests/fuzz/fuzz_pop3_command.c - libFuzzer harness for the POP3 command
 * parser (reader/pop3_parse.c): any line parses without a crash, a control
 * byte is always BAD_LINE, and what parses keeps the header's promises
 * (arguments inside the command's own buffer, numbers in range) and parses
 * again, written back with single spaces, to the same command. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_control(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] < 0x20 || data[i] == 0x7f)
            return true;
    }
    return false;
}

static void check_args(const struct pop3_command *cmd)
{
    if (cmd->argc > POP3_ARGS_MAX)
        abort();
    for (size_t i = 0; i < cmd->argc; i++) {
        const char *a = cmd->args[i];
        if (a < cmd->text || a >= cmd->text + sizeof cmd->text)
            abort(); /* the arguments live in the command's own buffer */
        size_t room = (size_t)(cmd->text + sizeof cmd->text - a);
        if (strnlen(a, room) == room)
            abort(); /* and each ends inside it */
        if (a[0] == '\0')
            abort(); /* no empty argument */
        if (cmd->verb != POP3_VERB_PASS && strchr(a, ' ') != NULL)
            abort(); /* only PASS keeps spaces */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pop3_command cmd, again;
    enum pop3_parse_result r = pop3_parse_line((const char *)data, size, &cmd);
    if (size > 0 && size <= POP3_LINE_MAX - 2 && has_control(data, size) &&
        r != POP3_PARSE_BAD_LINE)
        abort();
    if ((size == 0 || size > POP3_LINE_MAX - 2) && r != POP3_PARSE_BAD_LINE)
        abort();
    if (r != POP3_PARSE_OK)
        return 0;
    if (strcmp(pop3_verb_name(cmd.verb), "?") == 0)
        abort();
    check_args(&cmd);
    bool numbered = cmd.verb == POP3_VERB_RETR || cmd.verb == POP3_VERB_DELE ||
                    cmd.verb == POP3_VERB_TOP ||
                    ((cmd.verb == POP3_VERB_LIST || cmd.verb == POP3_VERB_UIDL) && cmd.argc > 0);
    if (numbered && cmd.msg > 999999999ul)
        abort();
    if (cmd.verb == POP3_VERB_TOP && (cmd.argc != 2 || cmd.lines > 999999999ul))
        abort();

    /* written back with one space between words, it parses the same */
    char line[2 * POP3_LINE_MAX];
    int len = snprintf(line, sizeof line, "%s%s%s%s%s", pop3_verb_name(cmd.verb),
                       cmd.argc > 0 ? " " : "", cmd.argc > 0 ? cmd.args[0] : "",
                       cmd.argc > 1 ? " " : "", cmd.argc > 1 ? cmd.args[1] : "");
    if (len < 0 || (size_t)len >= sizeof line)
        abort();
    if ((size_t)len > size)
        abort(); /* spaces only shrink */
    if (pop3_parse_line(line, (size_t)len, &again) != POP3_PARSE_OK || again.verb != cmd.verb ||
        again.argc != cmd.argc || again.msg != cmd.msg || again.lines != cmd.lines)
        abort();
    for (size_t i = 0; i < cmd.argc; i++) {
        if (strcmp(again.args[i], cmd.args[i]) != 0)
            abort();
    }
    return 0;
}
