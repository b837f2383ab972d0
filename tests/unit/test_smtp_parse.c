/* tests/unit/test_smtp_parse.c - gateway/smtp_parse: every verb, the MAIL and
 * RCPT paths and parameters (good, malformed, duplicated, not advertised),
 * case, spacing, and what each failure is called. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/smtp_parse.h"
#include "tests/unit/tap_main.h"

static struct smtp_command cmd;

static enum smtp_parse_result parse_opts(const char *line, unsigned opts)
{
    return smtp_parse_line(line, strlen(line), opts, &cmd);
}

/* parse - with every extension advertised. */
static enum smtp_parse_result parse(const char *line)
{
    return parse_opts(line, SMTP_PARSE_EXT_ALL);
}

START_TEST(every_verb_is_known_in_any_case)
{
    static const struct {
        const char *line;
        enum smtp_verb verb;
    } cases[] = {
        {"EHLO client.example", SMTP_VERB_EHLO},
        {"helo client.example", SMTP_VERB_HELO},
        {"MAIL FROM:<>", SMTP_VERB_MAIL},
        {"rcpt to:<a@b.example>", SMTP_VERB_RCPT},
        {"DATA", SMTP_VERB_DATA},
        {"Bdat 10", SMTP_VERB_BDAT},
        {"RSET", SMTP_VERB_RSET},
        {"noop", SMTP_VERB_NOOP},
        {"QUIT", SMTP_VERB_QUIT},
        {"HELP", SMTP_VERB_HELP},
        {"VRFY someone", SMTP_VERB_VRFY},
        {"EXPN list", SMTP_VERB_EXPN},
        {"StartTLS", SMTP_VERB_STARTTLS},
        {"AUTH PLAIN", SMTP_VERB_AUTH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(parse(cases[i].line) == SMTP_PARSE_OK, "%s", cases[i].line);
        ck_assert_int_eq(cmd.verb, cases[i].verb);
    }
    ck_assert_str_eq(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
    ck_assert_str_eq(smtp_verb_name(SMTP_VERB_UNKNOWN), "");
}
END_TEST

START_TEST(unknown_commands_are_unknown)
{
    ck_assert_int_eq(parse("GET / HTTP/1.0"), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(cmd.verb, SMTP_VERB_UNKNOWN);
    ck_assert_int_eq(parse(""), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse(" DATA"), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse("DATAX"), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse("MAIL:FROM:<>"), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse("TURN"), SMTP_PARSE_UNKNOWN_COMMAND);
}
END_TEST

START_TEST(control_octets_make_a_bad_line)
{
    const char nul[] = "NOOP a\0b";
    ck_assert_int_eq(smtp_parse_line(nul, sizeof(nul) - 1, SMTP_PARSE_EXT_ALL, &cmd),
                     SMTP_PARSE_BAD_LINE);
    ck_assert_int_eq(cmd.verb, SMTP_VERB_NOOP);
    ck_assert_int_eq(parse("DATA\r"), SMTP_PARSE_BAD_LINE);
    ck_assert_int_eq(parse("RSET\rQUIT"), SMTP_PARSE_BAD_LINE);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>"), SMTP_PARSE_BAD_LINE);
    ck_assert_int_eq(parse("NOOP \x7f"), SMTP_PARSE_BAD_LINE);
    ck_assert_int_eq(parse("NOOP \x1b[0m"), SMTP_PARSE_BAD_LINE);
}
END_TEST

START_TEST(over_long_line_is_too_long)
{
    char line[SMTP_PARSE_LINE_MAX + 2];
    memcpy(line, "NOOP ", 5);
    memset(line + 5, 'x', sizeof(line) - 6);
    line[sizeof(line) - 1] = '\0';
    ck_assert_int_eq(parse(line), SMTP_PARSE_TOO_LONG);
    ck_assert_int_eq(cmd.verb, SMTP_VERB_NOOP);
    line[SMTP_PARSE_LINE_MAX] = '\0';
    ck_assert_int_eq(parse(line), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.arg_len, SMTP_PARSE_LINE_MAX - 5);
}
END_TEST

START_TEST(commands_without_arguments_refuse_them)
{
    ck_assert_int_eq(parse("DATA"), SMTP_PARSE_OK);
    ck_assert_int_eq(parse("DATA   "), SMTP_PARSE_OK); /* trailing spaces tolerated */
    ck_assert_int_eq(parse("DATA x"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("RSET x"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("QUIT now"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("STARTTLS x"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(cmd.verb, SMTP_VERB_STARTTLS);
}
END_TEST

START_TEST(text_arguments)
{
    ck_assert_int_eq(parse("NOOP"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.arg_len, 0);
    ck_assert_int_eq(parse("NOOP  hello there "), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.arg, "hello there");
    ck_assert_int_eq(parse("HELP MAIL"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.arg, "MAIL");
    ck_assert_int_eq(parse("VRFY"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("VRFY   "), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("VRFY John Smith"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.arg, "John Smith");
    ck_assert_int_eq(parse("EXPN"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("EXPN staff"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.arg, "staff");
}
END_TEST

START_TEST(ehlo_takes_one_word_and_says_if_it_is_a_domain)
{
    ck_assert_int_eq(parse("EHLO Mail.Client.EXAMPLE"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.arg, "Mail.Client.EXAMPLE");
    ck_assert(cmd.helo_valid);
    ck_assert_str_eq(cmd.helo.domain, "mail.client.example");
    ck_assert_int_eq(parse("EHLO [192.0.2.1]"), SMTP_PARSE_OK);
    ck_assert(cmd.helo_valid && cmd.helo.literal);
    ck_assert_int_eq(parse("HELO [IPv6:2001:db8::5]"), SMTP_PARSE_OK);
    ck_assert(cmd.helo_valid && cmd.helo.literal);
    /* Real clients send bad names: parsed, flagged, left to policy. */
    ck_assert_int_eq(parse("EHLO my_pc"), SMTP_PARSE_OK);
    ck_assert(!cmd.helo_valid);
    ck_assert_str_eq(cmd.arg, "my_pc");
    ck_assert_int_eq(parse("EHLO"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("HELO "), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("EHLO two words"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("EHLO tab\there"), SMTP_PARSE_SYNTAX);
}
END_TEST

START_TEST(mail_from_parses_the_path)
{
    ck_assert_int_eq(parse("MAIL FROM:<Sender@Example.ORG>"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.path.local, "Sender");
    ck_assert_str_eq(cmd.path.domain, "example.org");
    ck_assert(!cmd.params.has_size && cmd.params.body == SMTP_BODY_NONE);
    ck_assert_int_eq(parse("mail from:<>"), SMTP_PARSE_OK);
    ck_assert(cmd.path.is_null);
    /* The space after the colon that Outlook sends is tolerated. */
    ck_assert_int_eq(parse("MAIL FROM: <a@b.example>"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.path.local, "a");
    ck_assert_int_eq(parse("MAIL  FROM:<a@b.example>  "), SMTP_PARSE_OK);
}
END_TEST

START_TEST(mail_from_refuses_what_is_not_a_path)
{
    ck_assert_int_eq(parse("MAIL"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("MAIL FROM:"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("MAIL TO:<a@b.example>"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("MAIL FROM <a@b.example>"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("MAIL FROM :<a@b.example>"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("MAIL FROM:a@b.example"), SMTP_PARSE_BAD_SENDER);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example"), SMTP_PARSE_BAD_SENDER);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example>x"), SMTP_PARSE_BAD_SENDER);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example.>"), SMTP_PARSE_BAD_SENDER);
    ck_assert_int_eq(parse("MAIL FROM:<Postmaster>"), SMTP_PARSE_BAD_SENDER);
}
END_TEST

START_TEST(rcpt_to_parses_the_path)
{
    ck_assert_int_eq(parse("RCPT TO:<User@OurDomain.Example>"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.path.local, "User");
    ck_assert_str_eq(cmd.path.domain, "ourdomain.example");
    ck_assert_int_eq(parse("RCPT TO:<postmaster>"), SMTP_PARSE_OK);
    ck_assert(cmd.path.is_postmaster);
    ck_assert_int_eq(parse("RCPT TO:<@a.example:u@b.example>"), SMTP_PARSE_OK);
    ck_assert(cmd.path.had_source_route);
    ck_assert_str_eq(cmd.path.domain, "b.example");
    ck_assert_int_eq(parse("RCPT TO: <u@b.example>"), SMTP_PARSE_OK);
    ck_assert_int_eq(parse("RCPT TO:<>"), SMTP_PARSE_BAD_RECIPIENT);
    ck_assert_int_eq(parse("RCPT TO:u@b.example"), SMTP_PARSE_BAD_RECIPIENT);
    ck_assert_int_eq(parse("RCPT TO:<user%foreign@ourdomain.example.>"), SMTP_PARSE_BAD_RECIPIENT);
    ck_assert_int_eq(parse("RCPT FROM:<u@b.example>"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("RCPT TO:"), SMTP_PARSE_SYNTAX);
}
END_TEST

START_TEST(relay_tricks_arrive_intact_in_rcpt)
{
    ck_assert_int_eq(parse("RCPT TO:<\"user@foreign.example\"@ourdomain.example>"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.path.local, "user@foreign.example");
    ck_assert_str_eq(cmd.path.domain, "ourdomain.example");
    ck_assert_int_eq(parse("RCPT TO:<foreign!user@ourdomain.example>"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.path.local, "foreign!user");
    ck_assert_int_eq(parse("RCPT TO:<user@[1.2.3.4]>"), SMTP_PARSE_OK);
    ck_assert(cmd.path.literal);
}
END_TEST

START_TEST(path_too_long_has_its_own_result)
{
    char line[600];
    char local[70];
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(line, sizeof(line), "MAIL FROM:<%s@example.org>", local);
    ck_assert_int_eq(parse(line), SMTP_PARSE_SENDER_TOO_LONG);
    snprintf(line, sizeof(line), "RCPT TO:<%s@example.org>", local);
    ck_assert_int_eq(parse(line), SMTP_PARSE_RECIPIENT_TOO_LONG);
    local[64] = '\0';
    ck_assert_int_eq(parse(line), SMTP_PARSE_RECIPIENT_TOO_LONG);
    snprintf(line, sizeof(line), "RCPT TO:<%s@example.org>", local);
    ck_assert_int_eq(parse(line), SMTP_PARSE_OK);
}
END_TEST

START_TEST(size_parameter)
{
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=12345"), SMTP_PARSE_OK);
    ck_assert(cmd.params.has_size);
    ck_assert_uint_eq(cmd.params.size, 12345);
    ck_assert_int_eq(parse("MAIL FROM:<> size=0"), SMTP_PARSE_OK);
    ck_assert(cmd.params.has_size);
    ck_assert_uint_eq(cmd.params.size, 0);
    /* 20 digits beyond 2^64 saturate: a size too big, not a syntax error. */
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=99999999999999999999"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.size, UINT64_MAX);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=18446744073709551615"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.size, UINT64_MAX);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=100000000000000000000"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE="), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=-1"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=1k"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=1 SIZE=2"), SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE=1 size=1"), SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> SIZE=1"), SMTP_PARSE_UNKNOWN_PARAM);
    ck_assert_int_eq(parse_opts("MAIL FROM:<> SIZE=1", SMTP_PARSE_EXT_ALL & ~SMTP_PARSE_EXT_SIZE),
                     SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(body_parameter)
{
    ck_assert_int_eq(parse("MAIL FROM:<> BODY=8BITMIME"), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.params.body, SMTP_BODY_8BITMIME);
    ck_assert_int_eq(parse("MAIL FROM:<> body=7bit"), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.params.body, SMTP_BODY_7BIT);
    ck_assert_int_eq(parse("MAIL FROM:<> BODY=BINARYMIME"), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.params.body, SMTP_BODY_BINARYMIME);
    ck_assert_int_eq(parse("MAIL FROM:<> BODY=9BIT"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> BODY"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> BODY=7BIT BODY=8BITMIME"), SMTP_PARSE_DUPLICATE_PARAM);
    /* BINARYMIME only when CHUNKING/BINARYMIME was advertised (RFC 3030 3). */
    ck_assert_int_eq(
        parse_opts("MAIL FROM:<> BODY=BINARYMIME", SMTP_PARSE_EXT_ALL & ~SMTP_PARSE_EXT_BINARYMIME),
        SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse_opts("MAIL FROM:<> BODY=8BITMIME", SMTP_PARSE_EXT_SIZE),
                     SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(smtputf8_parameter_and_utf8_addresses)
{
    const char *utf8_from = "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
                            "cher.example>";
    char line[200];
    ck_assert_int_eq(parse(utf8_from), SMTP_PARSE_UTF8_ADDRESS);
    snprintf(line, sizeof(line), "%s SMTPUTF8", utf8_from);
    ck_assert_int_eq(parse(line), SMTP_PARSE_OK);
    ck_assert(cmd.params.smtputf8);
    ck_assert_str_eq(cmd.path.local, "j\xc3\xb6rg");
    ck_assert_int_eq(parse("MAIL FROM:<> SMTPUTF8=yes"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SMTPUTF8 SMTPUTF8"), SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse_opts(line, SMTP_PARSE_EXT_ALL & ~SMTP_PARSE_EXT_SMTPUTF8),
                     SMTP_PARSE_UNKNOWN_PARAM);
    /* RCPT follows the transaction's MAIL. */
    ck_assert_int_eq(parse("RCPT TO:<j\xc3\xb6rg@example.org>"), SMTP_PARSE_UTF8_ADDRESS);
    ck_assert_int_eq(parse_opts("RCPT TO:<j\xc3\xb6rg@example.org>",
                                SMTP_PARSE_EXT_ALL | SMTP_PARSE_TX_SMTPUTF8),
                     SMTP_PARSE_OK);
    /* Malformed UTF-8 is a syntax error whatever was said. */
    ck_assert_int_eq(
        parse_opts("RCPT TO:<j\xc3@example.org>", SMTP_PARSE_EXT_ALL | SMTP_PARSE_TX_SMTPUTF8),
        SMTP_PARSE_BAD_RECIPIENT);
}
END_TEST

START_TEST(dsn_ret_and_envid)
{
    ck_assert_int_eq(parse("MAIL FROM:<> RET=FULL ENVID=QQ314159"), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.params.ret, SMTP_RET_FULL);
    ck_assert(cmd.params.has_envid);
    ck_assert_str_eq(cmd.params.envid, "QQ314159");
    ck_assert_int_eq(parse("MAIL FROM:<> ret=hdrs"), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.params.ret, SMTP_RET_HDRS);
    ck_assert_int_eq(parse("MAIL FROM:<> RET=ALL"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> RET=FULL RET=HDRS"), SMTP_PARSE_DUPLICATE_PARAM);
    /* xtext: +HH decodes; lower-case hex and a lone + do not. */
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID=a+2Bb+3Dc"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.params.envid, "a+b=c");
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID=a+2bb"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID=a+"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID=a+4"), SMTP_PARSE_BAD_PARAM);
    /* A decoded CR or LF would be header injection in the DSN. */
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID=a+0D+0Ab"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> ENVID="), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> RET=FULL"), SMTP_PARSE_UNKNOWN_PARAM);
    ck_assert_int_eq(parse_opts("MAIL FROM:<> RET=FULL", SMTP_PARSE_EXT_SIZE),
                     SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(envid_limit_is_100)
{
    char line[300];
    char id[120];
    memset(id, 'e', 100);
    id[100] = '\0';
    snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=%s", id);
    ck_assert_int_eq(parse(line), SMTP_PARSE_OK);
    ck_assert_uint_eq(strlen(cmd.params.envid), 100);
    id[100] = 'e';
    id[101] = '\0';
    snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=%s", id);
    ck_assert_int_eq(parse(line), SMTP_PARSE_BAD_PARAM);
}
END_TEST

START_TEST(dsn_notify)
{
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=NEVER"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.notify, SMTP_NOTIFY_NEVER);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> notify=success,Failure,DELAY"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.notify,
                      SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=FAILURE"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.notify, SMTP_NOTIFY_FAILURE);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=NEVER,FAILURE"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=FAILURE,FAILURE"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=FAILURE,"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=,FAILURE"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=SOMETIMES"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> NOTIFY=DELAY NOTIFY=DELAY"),
                     SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> NOTIFY=NEVER"), SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(dsn_orcpt)
{
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=rfc822;Original+2Bx@b.example"),
                     SMTP_PARSE_OK);
    ck_assert(cmd.params.has_orcpt && cmd.params.orcpt_decoded);
    ck_assert_str_eq(cmd.params.orcpt_type, "rfc822");
    ck_assert_str_eq(cmd.params.orcpt, "Original+x@b.example");
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=RFC822;a@b.example"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.params.orcpt_type, "rfc822");
    /* Other address types are kept as sent. */
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=utf-8;a\\x{E9}@b.example"), SMTP_PARSE_OK);
    ck_assert(!cmd.params.orcpt_decoded);
    ck_assert_str_eq(cmd.params.orcpt_type, "utf-8");
    ck_assert_str_eq(cmd.params.orcpt, "a\\x{E9}@b.example");
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=rfc822"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=rfc822;"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=;a@b.example"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=rfc822;a+0Ab@b.example"),
                     SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> ORCPT=rfc822;a@b ORCPT=rfc822;c@d"),
                     SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> ORCPT=rfc822;a@b.example"), SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(auth_parameter_of_mail)
{
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> AUTH=<>"), SMTP_PARSE_OK);
    ck_assert(cmd.params.has_auth && cmd.params.auth.is_null);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> AUTH=e+3Dmc2@Example.com"), SMTP_PARSE_OK);
    ck_assert(cmd.params.has_auth);
    ck_assert_str_eq(cmd.params.auth.local, "e=mc2");
    ck_assert_str_eq(cmd.params.auth.domain, "example.com");
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> AUTH=nobody"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> AUTH="), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<a@b.example> AUTH=<> AUTH=<>"), SMTP_PARSE_DUPLICATE_PARAM);
    ck_assert_int_eq(parse_opts("MAIL FROM:<a@b.example> AUTH=<>", SMTP_PARSE_EXT_SIZE),
                     SMTP_PARSE_UNKNOWN_PARAM);
}
END_TEST

START_TEST(unknown_and_malformed_parameters)
{
    ck_assert_int_eq(parse("MAIL FROM:<> FOO=bar"), SMTP_PARSE_UNKNOWN_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> XVERP"), SMTP_PARSE_UNKNOWN_PARAM);
    ck_assert_int_eq(parse("RCPT TO:<a@b.example> FOO"), SMTP_PARSE_UNKNOWN_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> =8BITMIME"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> -SIZE=1"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> SIZE==1"), SMTP_PARSE_BAD_PARAM);
    ck_assert_int_eq(parse("MAIL FROM:<> BODY=8BIT\xc3\xa9"), SMTP_PARSE_BAD_PARAM);
    /* Several spaces between parameters are tolerated. */
    ck_assert_int_eq(parse("MAIL FROM:<>  SIZE=5   BODY=8BITMIME  "), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.params.size, 5);
    ck_assert_int_eq(cmd.params.body, SMTP_BODY_8BITMIME);
}
END_TEST

START_TEST(all_mail_parameters_together)
{
    ck_assert_int_eq(parse("MAIL FROM:<s@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS "
                           "ENVID=id1 AUTH=s@example.org"),
                     SMTP_PARSE_OK);
    ck_assert(cmd.params.has_size && cmd.params.smtputf8 && cmd.params.has_envid &&
              cmd.params.has_auth);
    ck_assert_int_eq(cmd.params.ret, SMTP_RET_HDRS);
    ck_assert_int_eq(parse("RCPT TO:<r@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@x"),
                     SMTP_PARSE_OK);
    ck_assert(cmd.params.has_orcpt);
}
END_TEST

START_TEST(bdat_size_and_last)
{
    ck_assert_int_eq(parse("BDAT 86"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.chunk_size, 86);
    ck_assert(!cmd.last);
    ck_assert_int_eq(parse("bdat 0 last"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.chunk_size, 0);
    ck_assert(cmd.last);
    ck_assert_int_eq(parse("BDAT 18446744073709551615 LAST"), SMTP_PARSE_OK);
    ck_assert_uint_eq(cmd.chunk_size, UINT64_MAX);
    ck_assert_int_eq(parse("BDAT 18446744073709551616"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("BDAT"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("BDAT x"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("BDAT -1"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("BDAT 10 FIRST"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("BDAT 10 LAST x"), SMTP_PARSE_SYNTAX);
}
END_TEST

START_TEST(auth_command)
{
    ck_assert_int_eq(parse("AUTH plain"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.mech, "PLAIN");
    ck_assert(!cmd.has_initial_response);
    ck_assert_int_eq(parse("AUTH PLAIN AHRlc3QAdGVzdA=="), SMTP_PARSE_OK);
    ck_assert(cmd.has_initial_response);
    ck_assert_str_eq(cmd.arg, "AHRlc3QAdGVzdA==");
    ck_assert_int_eq(parse("AUTH EXTERNAL ="), SMTP_PARSE_OK);
    ck_assert(cmd.has_initial_response);
    ck_assert_str_eq(cmd.arg, "=");
    ck_assert_int_eq(parse("AUTH SCRAM-SHA-256"), SMTP_PARSE_OK);
    ck_assert_str_eq(cmd.mech, "SCRAM-SHA-256");
    ck_assert_int_eq(parse("AUTH"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH PL@IN"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH ABCDEFGHIJKLMNOPQRSTU"), SMTP_PARSE_SYNTAX); /* 21 */
    ck_assert_int_eq(parse("AUTH ABCDEFGHIJKLMNOPQRST"), SMTP_PARSE_OK);      /* 20 */
    ck_assert_int_eq(parse("AUTH PLAIN not*base64"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH PLAIN abc"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH PLAIN a=bc"), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH PLAIN a==="), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse("AUTH PLAIN abcd efgh"), SMTP_PARSE_SYNTAX);
}
END_TEST

START_TEST(xtext_decoder)
{
    char out[16];
    ck_assert_int_eq(smtp_xtext_decode("a+2Bb", 5, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "a+b");
    ck_assert_int_eq(smtp_xtext_decode("", 0, out, sizeof(out)), 0);
    ck_assert_int_eq(smtp_xtext_decode("a=b", 3, out, sizeof(out)), -1);
    ck_assert_int_eq(smtp_xtext_decode("a b", 3, out, sizeof(out)), -1);
    ck_assert_int_eq(smtp_xtext_decode("+00", 3, out, sizeof(out)), 1);
    ck_assert_int_eq(smtp_xtext_decode("abcd", 4, out, 4), -1); /* no room for the NUL */
    ck_assert_int_eq(smtp_xtext_decode("abc", 3, out, 4), 3);
}
END_TEST

START_TEST(result_names_for_logs)
{
    ck_assert_str_eq(smtp_parse_result_str(SMTP_PARSE_OK), "ok");
    ck_assert_str_eq(smtp_parse_result_str(SMTP_PARSE_UNKNOWN_PARAM), "unknown-param");
    ck_assert_str_eq(smtp_parse_result_str(SMTP_PARSE_DUPLICATE_PARAM), "duplicate-param");
}
END_TEST

/* RFC 2920 3.1 and its successors: which commands end a pipelined group. */
/* RFC 2033 4.1: LMTP greets with LHLO, which replaces EHLO and HELO; the
 * rest of the command set is SMTP's. SMTP does not know LHLO. */
START_TEST(lhlo_only_in_lmtp)
{
    const unsigned lmtp = SMTP_PARSE_EXT_ALL | SMTP_PARSE_LMTP;

    ck_assert_int_eq(parse_opts("LHLO mx.example", lmtp), SMTP_PARSE_OK);
    ck_assert_int_eq(cmd.verb, SMTP_VERB_LHLO);
    ck_assert_str_eq(cmd.arg, "mx.example");
    ck_assert(cmd.helo_valid);
    ck_assert_str_eq(smtp_verb_name(SMTP_VERB_LHLO), "LHLO");
    ck_assert_int_eq(parse_opts("lhlo", lmtp), SMTP_PARSE_SYNTAX);
    ck_assert_int_eq(parse_opts("EHLO mx.example", lmtp), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse_opts("HELO mx.example", lmtp), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert_int_eq(parse_opts("MAIL FROM:<a@b.example> SIZE=10", lmtp), SMTP_PARSE_OK);
    ck_assert_int_eq(parse_opts("BDAT 3 LAST", lmtp), SMTP_PARSE_OK);
    ck_assert_int_eq(parse("LHLO mx.example"), SMTP_PARSE_UNKNOWN_COMMAND);
    ck_assert(smtp_verb_ends_group(SMTP_VERB_LHLO));
}
END_TEST

START_TEST(verbs_that_end_a_pipelined_group)
{
    const enum smtp_verb last[] = {SMTP_VERB_EHLO, SMTP_VERB_HELO, SMTP_VERB_DATA,
                                   SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_VRFY,
                                   SMTP_VERB_EXPN, SMTP_VERB_STARTTLS, SMTP_VERB_AUTH};
    for (size_t i = 0; i < sizeof last / sizeof last[0]; i++)
        ck_assert_msg(smtp_verb_ends_group(last[i]), "%s", smtp_verb_name(last[i]));
    const enum smtp_verb anywhere[] = {SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_RSET,
                                       SMTP_VERB_BDAT};
    for (size_t i = 0; i < sizeof anywhere / sizeof anywhere[0]; i++)
        ck_assert_msg(!smtp_verb_ends_group(anywhere[i]), "%s", smtp_verb_name(anywhere[i]));
}
END_TEST

static Suite *smtp_parse_suite(void)
{
    Suite *s = suite_create("smtp_parse");
    TCase *tc = tcase_create("verbs");
    tcase_add_test(tc, every_verb_is_known_in_any_case);
    tcase_add_test(tc, unknown_commands_are_unknown);
    tcase_add_test(tc, control_octets_make_a_bad_line);
    tcase_add_test(tc, over_long_line_is_too_long);
    tcase_add_test(tc, commands_without_arguments_refuse_them);
    tcase_add_test(tc, text_arguments);
    tcase_add_test(tc, ehlo_takes_one_word_and_says_if_it_is_a_domain);
    tcase_add_test(tc, bdat_size_and_last);
    tcase_add_test(tc, auth_command);
    tcase_add_test(tc, lhlo_only_in_lmtp);
    suite_add_tcase(s, tc);

    tc = tcase_create("paths");
    tcase_add_test(tc, mail_from_parses_the_path);
    tcase_add_test(tc, mail_from_refuses_what_is_not_a_path);
    tcase_add_test(tc, rcpt_to_parses_the_path);
    tcase_add_test(tc, relay_tricks_arrive_intact_in_rcpt);
    tcase_add_test(tc, path_too_long_has_its_own_result);
    suite_add_tcase(s, tc);

    tc = tcase_create("parameters");
    tcase_add_test(tc, size_parameter);
    tcase_add_test(tc, body_parameter);
    tcase_add_test(tc, smtputf8_parameter_and_utf8_addresses);
    tcase_add_test(tc, dsn_ret_and_envid);
    tcase_add_test(tc, envid_limit_is_100);
    tcase_add_test(tc, dsn_notify);
    tcase_add_test(tc, dsn_orcpt);
    tcase_add_test(tc, auth_parameter_of_mail);
    tcase_add_test(tc, unknown_and_malformed_parameters);
    tcase_add_test(tc, all_mail_parameters_together);
    tcase_add_test(tc, xtext_decoder);
    tcase_add_test(tc, result_names_for_logs);
    tcase_add_test(tc, verbs_that_end_a_pipelined_group);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(smtp_parse_suite)
