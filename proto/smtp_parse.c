/* proto/smtp_parse.c - the SMTP command line parser (see smtp_parse.h).
 *
 * Decisions where real clients and RFC 5321 disagree:
 * - Verbs, "FROM:"/"TO:" and parameter keywords are case-insensitive (RFC 5321
 *   2.4); several spaces between words and trailing spaces are tolerated, as
 *   Postfix and OpenSMTPD do.
 * - "MAIL FROM: <a@b>" (space after the colon) is accepted: RFC 5321 4.1.1.2
 *   has no space there, but Outlook and many scripts send one and Postfix
 *   accepts it. The angle brackets themselves are required: a bare
 *   "MAIL FROM:a@b" is a syntax error (Postfix only accepts it with
 *   strict_rfc821_envelopes off, and it is how address tricks hide).
 * - A parameter of an extension the session did not advertise is unknown
 *   (555, RFC 5321 4.1.1.11); a known one with a bad value is 501 5.5.4; a
 *   repeated one is 501 5.5.4. */
#include "config.h"

#include "proto/smtp_parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A view of part of the line. */
struct span {
    const char *p;
    size_t len;
};

static int upper(int ch)
{
    return (ch >= 'a' && ch <= 'z') ? ch - ('a' - 'A') : ch;
}

static bool is_alnum(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* span_eq - case-insensitive comparison of a span with an ASCII word. */
static bool span_eq(struct span s, const char *word)
{
    size_t n = strlen(word);
    return s.len == n && strncasecmp(s.p, word, n) == 0;
}

/* span_prefix - whether s starts with word (any case); if so, skip it. */
static bool span_prefix(struct span *s, const char *word)
{
    size_t n = strlen(word);
    if (s->len < n || strncasecmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    s->len -= n;
    return true;
}

static void skip_spaces(struct span *s)
{
    while (s->len > 0 && s->p[0] == ' ') {
        s->p++;
        s->len--;
    }
}

/* next_word - the text up to the next space (or the end); s moves past it. */
static struct span next_word(struct span *s)
{
    struct span w = {s->p, 0};
    while (w.len < s->len && s->p[w.len] != ' ')
        w.len++;
    s->p += w.len;
    s->len -= w.len;
    return w;
}

/* parse_digits - 1*max DIGIT into *value, saturating at UINT64_MAX when
 * saturate, else -1 on overflow. */
static int parse_digits(struct span s, size_t max, bool saturate, uint64_t *value)
{
    uint64_t v = 0;

    if (s.len == 0 || s.len > max)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(s.p[i] - '0');
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        if (v > (UINT64_MAX - d) / 10) {
            if (!saturate)
                return -1;
            v = UINT64_MAX;
        } else
            v = v * 10 + d;
    }
    *value = v;
    return 0;
}

static void copy_arg(struct smtp_command *cmd, struct span s)
{
    /* s.len <= SMTP_PARSE_LINE_MAX: smtp_parse_line checked the line. */
    memcpy(cmd->arg, s.p, s.len);
    cmd->arg[s.len] = '\0';
    cmd->arg_len = s.len;
}

/* hex_value - an upper-case hex digit's value, or -1. */
static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (o + 1 >= size)
            return -1;
        if (ch == '+') {
            /* hexchar = "+" 2(%x30-39 / %x41-46): upper-case hex only */
            int hi, lo;
            if (len - i < 3)
                return -1;
            hi = hex_value(in[i + 1]);
            lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)((hi << 4) | lo);
            i += 2;
        } else if (ch >= 33 && ch <= 126 && ch != '=') {
            out[o++] = (char)ch;
        } else
            return -1;
    }
    if (o >= size || o > INT_MAX)
        return -1;
    out[o] = '\0';
    return (int)o;
}

/* is_printable - only octets 32..126: what may reach a DSN or a log. */
static bool is_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
            return false;
    return true;
}

/* --- ESMTP parameters (RFC 5321 4.1.2 Mail-parameters / Rcpt-parameters) --- */

typedef enum smtp_parse_result param_fn(struct span value, bool has_value, unsigned opts,
                                        struct smtp_params *p);

static enum smtp_parse_result param_size(struct span v, bool has_v, unsigned opts,
                                         struct smtp_params *p)
{
    /* RFC 1870 6: size-value ::= 1*20DIGIT. A size beyond what we can count
     * is still a size: it saturates and fails the SIZE check with 552. */
    if (!has_v || parse_digits(v, 20, true, &p->size) < 0)
        return SMTP_PARSE_BAD_PARAM;
    p->has_size = true;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_body(struct span v, bool has_v, unsigned opts,
                                         struct smtp_params *p)
{
    if (!has_v)
        return SMTP_PARSE_BAD_PARAM;
    if (span_eq(v, "7BIT") && (opts & SMTP_PARSE_EXT_8BITMIME))
        p->body = SMTP_BODY_7BIT;
    else if (span_eq(v, "8BITMIME") && (opts & SMTP_PARSE_EXT_8BITMIME))
        p->body = SMTP_BODY_8BITMIME;
    else if (span_eq(v, "BINARYMIME") && (opts & SMTP_PARSE_EXT_BINARYMIME))
        p->body = SMTP_BODY_BINARYMIME;
    else
        return SMTP_PARSE_BAD_PARAM;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_smtputf8(struct span v, bool has_v, unsigned opts,
                                             struct smtp_params *p)
{
    if (has_v) /* RFC 6531 3.4: the parameter has no value */
        return SMTP_PARSE_BAD_PARAM;
    p->smtputf8 = true;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_ret(struct span v, bool has_v, unsigned opts,
                                        struct smtp_params *p)
{
    if (has_v && span_eq(v, "FULL"))
        p->ret = SMTP_RET_FULL;
    else if (has_v && span_eq(v, "HDRS"))
        p->ret = SMTP_RET_HDRS;
    else
        return SMTP_PARSE_BAD_PARAM;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_envid(struct span v, bool has_v, unsigned opts,
                                          struct smtp_params *p)
{
    /* RFC 3461 4.4: xtext, at most 100 characters. The decoded id is echoed
     * in DSNs (Original-Envelope-Id), so control octets would be header
     * injection: printable ASCII only. */
    int n;
    if (!has_v)
        return SMTP_PARSE_BAD_PARAM;
    n = smtp_xtext_decode(v.p, v.len, p->envid, sizeof(p->envid));
    if (n <= 0 || !is_printable(p->envid, (size_t)n))
        return SMTP_PARSE_BAD_PARAM;
    p->has_envid = true;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_auth(struct span v, bool has_v, unsigned opts,
                                         struct smtp_params *p)
{
    /* RFC 4954 5: AUTH=<> or AUTH=xtext(addr-spec). We keep what the client
     * claims; trusting it is the session's decision (only from an
     * authenticated, trusted client). */
    char decoded[SMTP_PARSE_LINE_MAX + 1];
    int n;
    if (!has_v)
        return SMTP_PARSE_BAD_PARAM;
    n = smtp_xtext_decode(v.p, v.len, decoded, sizeof(decoded));
    if (n <= 0)
        return SMTP_PARSE_BAD_PARAM;
    if (n == 2 && decoded[0] == '<' && decoded[1] == '>') {
        memset(&p->auth, 0, sizeof(p->auth));
        p->auth.is_null = true;
    } else if (address_parse_mailbox(decoded, (size_t)n, 0, &p->auth) != ADDRESS_OK)
        return SMTP_PARSE_BAD_PARAM;
    p->has_auth = true;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_notify(struct span v, bool has_v, unsigned opts,
                                           struct smtp_params *p)
{
    /* RFC 3461 4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE,
     * DELAY, each at most once. */
    unsigned bits = 0;
    if (!has_v)
        return SMTP_PARSE_BAD_PARAM;
    while (v.len > 0) {
        struct span item = {v.p, 0};
        unsigned bit;
        while (item.len < v.len && v.p[item.len] != ',')
            item.len++;
        if (span_eq(item, "NEVER"))
            bit = SMTP_NOTIFY_NEVER;
        else if (span_eq(item, "SUCCESS"))
            bit = SMTP_NOTIFY_SUCCESS;
        else if (span_eq(item, "FAILURE"))
            bit = SMTP_NOTIFY_FAILURE;
        else if (span_eq(item, "DELAY"))
            bit = SMTP_NOTIFY_DELAY;
        else
            return SMTP_PARSE_BAD_PARAM;
        if (bits & bit)
            return SMTP_PARSE_BAD_PARAM;
        bits |= bit;
        v.p += item.len;
        v.len -= item.len;
        if (v.len > 0) { /* a comma: another item must follow */
            v.p++;
            v.len--;
            if (v.len == 0)
                return SMTP_PARSE_BAD_PARAM;
        }
    }
    if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
        return SMTP_PARSE_BAD_PARAM;
    p->notify = bits;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result param_orcpt(struct span v, bool has_v, unsigned opts,
                                          struct smtp_params *p)
{
    /* RFC 3461 4.2: ORCPT=addr-type ";" xtext, at most 500 characters. Only
     * the "rfc822" type is decoded (and must decode to printable ASCII: it
     * goes into DSNs); other types (RFC 6533 "utf-8", ...) are kept as sent. */
    struct span type = {v.p, 0};
    struct span rest;
    int n;

    if (!has_v || v.len > SMTP_ORCPT_MAX)
        return SMTP_PARSE_BAD_PARAM;
    while (type.len < v.len && v.p[type.len] != ';')
        type.len++;
    if (type.len == 0 || type.len == v.len)
        return SMTP_PARSE_BAD_PARAM;
    for (size_t i = 0; i < type.len; i++) {
        /* addr-type = atom (RFC 5322 atext; in practice alnum and '-') */
        int ch = (unsigned char)type.p[i];
        if (!is_alnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return SMTP_PARSE_BAD_PARAM;
        p->orcpt_type[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    p->orcpt_type[type.len] = '\0';
    rest.p = v.p + type.len + 1;
    rest.len = v.len - type.len - 1;
    if (rest.len == 0)
        return SMTP_PARSE_BAD_PARAM;
    if (strcmp(p->orcpt_type, "rfc822") == 0) {
        n = smtp_xtext_decode(rest.p, rest.len, p->orcpt, sizeof(p->orcpt));
        if (n <= 0 || !is_printable(p->orcpt, (size_t)n))
            return SMTP_PARSE_BAD_PARAM;
        p->orcpt_decoded = true;
    } else {
        memcpy(p->orcpt, rest.p, rest.len);
        p->orcpt[rest.len] = '\0';
    }
    p->has_orcpt = true;
    return SMTP_PARSE_OK;
}

/* The parameters: which command takes each, and which advertised extension
 * makes it known. Adding a parameter is adding a row. */
static const struct param_def {
    const char *keyword;
    enum smtp_verb verb;
    unsigned ext; /* any of these bits advertised */
    param_fn *parse;
} params_table[] = {
    {"SIZE", SMTP_VERB_MAIL, SMTP_PARSE_EXT_SIZE, param_size},
    {"BODY", SMTP_VERB_MAIL, SMTP_PARSE_EXT_8BITMIME | SMTP_PARSE_EXT_BINARYMIME, param_body},
    {"SMTPUTF8", SMTP_VERB_MAIL, SMTP_PARSE_EXT_SMTPUTF8, param_smtputf8},
    {"RET", SMTP_VERB_MAIL, SMTP_PARSE_EXT_DSN, param_ret},
    {"ENVID", SMTP_VERB_MAIL, SMTP_PARSE_EXT_DSN, param_envid},
    {"AUTH", SMTP_VERB_MAIL, SMTP_PARSE_EXT_AUTH, param_auth},
    {"NOTIFY", SMTP_VERB_RCPT, SMTP_PARSE_EXT_DSN, param_notify},
    {"ORCPT", SMTP_VERB_RCPT, SMTP_PARSE_EXT_DSN, param_orcpt},
};

/* is_keyword - esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool is_keyword(struct span k)
{
    if (k.len == 0 || !is_alnum((unsigned char)k.p[0]))
        return false;
    for (size_t i = 1; i < k.len; i++)
        if (!is_alnum((unsigned char)k.p[i]) && k.p[i] != '-')
            return false;
    return true;
}

/* is_value - esmtp-value = 1*(%d33-60 / %d62-126), widened by RFC 6531 3.3
 * to UTF8-non-ascii, which only the transaction's SMTPUTF8 makes legal (the
 * parameter parsers then refuse what they cannot use). */
static bool is_value(struct span v, bool utf8)
{
    if (v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        if (ch >= 0x80 && utf8)
            continue;
        if (ch < 33 || ch > 126 || ch == '=')
            return false;
    }
    return true;
}

/* parse_params - the parameters after a path, for MAIL or RCPT. */
static enum smtp_parse_result parse_params(struct span s, enum smtp_verb verb, unsigned opts,
                                           struct smtp_params *p)
{
    unsigned seen = 0;
    bool utf8 = (opts & SMTP_PARSE_TX_SMTPUTF8) != 0;

    for (;;) {
        skip_spaces(&s);
        if (s.len == 0)
            return SMTP_PARSE_OK;
        struct span word = next_word(&s);
        struct span key = word, value = {NULL, 0};
        bool has_value = false;
        const struct param_def *def = NULL;
        const char *eq = memchr(word.p, '=', word.len);

        if (eq != NULL) {
            key.len = (size_t)(eq - word.p);
            value.p = eq + 1;
            value.len = word.len - key.len - 1;
            has_value = true;
        }
        if (!is_keyword(key))
            return SMTP_PARSE_BAD_PARAM;
        for (size_t i = 0; i < sizeof(params_table) / sizeof(params_table[0]); i++)
            if (span_eq(key, params_table[i].keyword)) {
                def = &params_table[i];
                if (def->verb != verb || (def->ext & opts) == 0)
                    return SMTP_PARSE_UNKNOWN_PARAM;
                if (seen & (1u << i))
                    return SMTP_PARSE_DUPLICATE_PARAM;
                seen |= 1u << i;
                break;
            }
        if (def == NULL)
            return SMTP_PARSE_UNKNOWN_PARAM;
        if (has_value && !is_value(value, utf8))
            return SMTP_PARSE_BAD_PARAM;
        enum smtp_parse_result r = def->parse(value, has_value, opts, p);
        if (r != SMTP_PARSE_OK)
            return r;
    }
}

/* --- commands --- */

typedef enum smtp_parse_result verb_fn(struct span args, unsigned opts, struct smtp_command *cmd);

static enum smtp_parse_result parse_no_args(struct span args, unsigned opts,
                                            struct smtp_command *cmd)
{
    return args.len == 0 ? SMTP_PARSE_OK : SMTP_PARSE_SYNTAX;
}

static enum smtp_parse_result parse_optional_text(struct span args, unsigned opts,
                                                  struct smtp_command *cmd)
{
    copy_arg(cmd, args);
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result parse_required_text(struct span args, unsigned opts,
                                                  struct smtp_command *cmd)
{
    if (args.len == 0)
        return SMTP_PARSE_SYNTAX;
    copy_arg(cmd, args);
    return SMTP_PARSE_OK;
}

/* parse_helo - EHLO/HELO/LHLO ( Domain / address-literal ): one word. */
static enum smtp_parse_result parse_helo(struct span args, unsigned opts, struct smtp_command *cmd)
{
    if (args.len == 0)
        return SMTP_PARSE_SYNTAX;
    for (size_t i = 0; i < args.len; i++)
        if (args.p[i] == ' ' || args.p[i] == '\t') /* it goes into Received: one word */
            return SMTP_PARSE_SYNTAX;
    copy_arg(cmd, args);
    unsigned aopts = (opts & SMTP_PARSE_EXT_SMTPUTF8) ? ADDRESS_OPT_UTF8 : 0;
    cmd->helo_valid = address_parse_domain(args.p, args.len, aopts, &cmd->helo) == ADDRESS_OK;
    return SMTP_PARSE_OK;
}

/* parse_path_command - MAIL FROM:<path> / RCPT TO:<path>, then parameters. */
static enum smtp_parse_result parse_path_command(struct span args, unsigned opts,
                                                 struct smtp_command *cmd, const char *prefix)
{
    bool mail = cmd->verb == SMTP_VERB_MAIL;
    enum smtp_parse_result bad = mail ? SMTP_PARSE_BAD_SENDER : SMTP_PARSE_BAD_RECIPIENT;
    enum smtp_parse_result too_long =
        mail ? SMTP_PARSE_SENDER_TOO_LONG : SMTP_PARSE_RECIPIENT_TOO_LONG;
    /* UTF-8 is parsed here and refused below unless SMTPUTF8 covers it, so a
     * non-ASCII address gets 553 5.6.7 rather than a syntax error. */
    unsigned aopts = ADDRESS_OPT_UTF8 | (mail ? 0 : ADDRESS_OPT_POSTMASTER);
    size_t used = 0;

    if (!span_prefix(&args, prefix))
        return SMTP_PARSE_SYNTAX;
    skip_spaces(&args); /* tolerated, see the top of the file */
    if (args.len == 0)
        return SMTP_PARSE_SYNTAX;
    switch (address_parse_path(args.p, args.len, aopts, &cmd->path, &used)) {
    case ADDRESS_OK:
        break;
    case ADDRESS_TOO_LONG:
        return too_long;
    case ADDRESS_SYNTAX:
    case ADDRESS_UTF8_NOT_ALLOWED:
    default:
        return bad;
    }
    if (!mail && cmd->path.is_null)
        return SMTP_PARSE_BAD_RECIPIENT;
    args.p += used;
    args.len -= used;
    if (args.len > 0 && args.p[0] != ' ')
        return bad; /* "<a@b>x" */
    enum smtp_parse_result r = parse_params(args, cmd->verb, opts, &cmd->params);
    if (r != SMTP_PARSE_OK)
        return r;
    bool utf8_ok = mail ? cmd->params.smtputf8 : (opts & SMTP_PARSE_TX_SMTPUTF8) != 0;
    if (cmd->path.utf8 && !utf8_ok)
        return SMTP_PARSE_UTF8_ADDRESS;
    return SMTP_PARSE_OK;
}

static enum smtp_parse_result parse_mail(struct span args, unsigned opts, struct smtp_command *cmd)
{
    return parse_path_command(args, opts, cmd, "FROM:");
}

static enum smtp_parse_result parse_rcpt(struct span args, unsigned opts, struct smtp_command *cmd)
{
    return parse_path_command(args, opts, cmd, "TO:");
}

/* parse_bdat - RFC 3030 2: "BDAT" SP chunk-size [ SP end-marker ] */
static enum smtp_parse_result parse_bdat(struct span args, unsigned opts, struct smtp_command *cmd)
{
    struct span size = next_word(&args);
    /* chunk-size = 1*DIGIT; one we cannot count we cannot read either. */
    if (parse_digits(size, 20, false, &cmd->chunk_size) < 0)
        return SMTP_PARSE_SYNTAX;
    skip_spaces(&args);
    if (args.len == 0)
        return SMTP_PARSE_OK;
    if (!span_eq(args, "LAST"))
        return SMTP_PARSE_SYNTAX;
    cmd->last = true;
    return SMTP_PARSE_OK;
}

/* is_base64 - RFC 4648 4 base64 with padding, as RFC 4954 4 requires. */
static bool is_base64(struct span s)
{
    size_t pad = 0;
    if (s.len == 0 || s.len % 4 != 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.p[i];
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad > 0 || !(is_alnum((unsigned char)ch) || ch == '+' || ch == '/'))
            return false;
    }
    return pad <= 2;
}

/* parse_auth - RFC 4954 4: "AUTH" SP sasl-mech [SP initial-response] */
static enum smtp_parse_result parse_auth(struct span args, unsigned opts, struct smtp_command *cmd)
{
    struct span mech = next_word(&args);
    if (mech.len == 0 || mech.len > SMTP_AUTH_MECH_MAX)
        return SMTP_PARSE_SYNTAX;
    for (size_t i = 0; i < mech.len; i++) {
        /* RFC 4422 3.1: sasl-mech = 1*20mech-char, upper-case letters, digits, '-', '_' */
        int ch = upper((unsigned char)mech.p[i]);
        if (!is_alnum(ch) && ch != '-' && ch != '_')
            return SMTP_PARSE_SYNTAX;
        cmd->mech[i] = (char)ch;
    }
    cmd->mech[mech.len] = '\0';
    skip_spaces(&args);
    if (args.len == 0)
        return SMTP_PARSE_OK;
    if (memchr(args.p, ' ', args.len) != NULL)
        return SMTP_PARSE_SYNTAX;
    /* "=" is the empty initial response (RFC 4954 4). */
    if (!(args.len == 1 && args.p[0] == '=') && !is_base64(args))
        return SMTP_PARSE_SYNTAX;
    cmd->has_initial_response = true;
    copy_arg(cmd, args);
    return SMTP_PARSE_OK;
}

/* Which protocol a verb belongs to: LMTP is SMTP with LHLO for EHLO and
 * HELO (RFC 2033 4.1), everything else shared. */
enum verb_dialect { BOTH, SMTP_ONLY, LMTP_ONLY };

/* The verb table. Adding a command is adding a row (and a state-table row
 * in the session). */
static const struct verb_def {
    const char *name;
    enum smtp_verb verb;
    verb_fn *parse;
    enum verb_dialect dialect;
} verbs[] = {
    {"EHLO", SMTP_VERB_EHLO, parse_helo, SMTP_ONLY},
    {"HELO", SMTP_VERB_HELO, parse_helo, SMTP_ONLY},
    {"LHLO", SMTP_VERB_LHLO, parse_helo, LMTP_ONLY},
    {"MAIL", SMTP_VERB_MAIL, parse_mail, BOTH},
    {"RCPT", SMTP_VERB_RCPT, parse_rcpt, BOTH},
    {"DATA", SMTP_VERB_DATA, parse_no_args, BOTH},
    {"BDAT", SMTP_VERB_BDAT, parse_bdat, BOTH},
    {"RSET", SMTP_VERB_RSET, parse_no_args, BOTH},
    {"NOOP", SMTP_VERB_NOOP, parse_optional_text, BOTH},
    {"QUIT", SMTP_VERB_QUIT, parse_no_args, BOTH},
    {"HELP", SMTP_VERB_HELP, parse_optional_text, BOTH},
    {"VRFY", SMTP_VERB_VRFY, parse_required_text, BOTH},
    {"EXPN", SMTP_VERB_EXPN, parse_required_text, BOTH},
    {"STARTTLS", SMTP_VERB_STARTTLS, parse_no_args, BOTH},
    {"AUTH", SMTP_VERB_AUTH, parse_auth, BOTH},
};

enum smtp_parse_result smtp_parse_line(const char *line, size_t len, unsigned opts,
                                       struct smtp_command *cmd)
{
    struct span s = {line, len};
    const struct verb_def *def = NULL;

    memset(cmd, 0, sizeof(*cmd));
    struct span word = next_word(&s);
    enum verb_dialect other = (opts & SMTP_PARSE_LMTP) ? SMTP_ONLY : LMTP_ONLY;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].dialect != other && span_eq(word, verbs[i].name)) {
            def = &verbs[i];
            cmd->verb = def->verb;
            break;
        }
    if (len > SMTP_PARSE_LINE_MAX)
        return SMTP_PARSE_TOO_LONG;
    for (size_t i = 0; i < len; i++) {
        /* No control octets (HT aside) anywhere: a NUL, CR or LF inside a
         * command is a framing attack, never data (RFC 5321 2.3.8). */
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 32 && ch != '\t') || ch == 127)
            return SMTP_PARSE_BAD_LINE;
    }
    if (def == NULL)
        return SMTP_PARSE_UNKNOWN_COMMAND;
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    skip_spaces(&s);
    return def->parse(s, opts, cmd);
}

bool smtp_verb_ends_group(enum smtp_verb verb)
{
    switch (verb) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
    case SMTP_VERB_LHLO:
    case SMTP_VERB_DATA:
    case SMTP_VERB_NOOP:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_VRFY:
    case SMTP_VERB_EXPN:
    case SMTP_VERB_STARTTLS:
    case SMTP_VERB_AUTH:
        return true;
    default:
        return false;
    }
}

const char *smtp_verb_name(enum smtp_verb verb)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == verb)
            return verbs[i].name;
    return "";
}

const char *smtp_parse_result_str(enum smtp_parse_result result)
{
    switch (result) {
    case SMTP_PARSE_OK:
        return "ok";
    case SMTP_PARSE_UNKNOWN_COMMAND:
        return "unknown-command";
    case SMTP_PARSE_BAD_LINE:
        return "bad-line";
    case SMTP_PARSE_TOO_LONG:
        return "too-long";
    case SMTP_PARSE_SYNTAX:
        return "syntax";
    case SMTP_PARSE_BAD_SENDER:
        return "bad-sender";
    case SMTP_PARSE_BAD_RECIPIENT:
        return "bad-recipient";
    case SMTP_PARSE_SENDER_TOO_LONG:
        return "sender-too-long";
    case SMTP_PARSE_RECIPIENT_TOO_LONG:
        return "recipient-too-long";
    case SMTP_PARSE_UTF8_ADDRESS:
        return "utf8-address";
    case SMTP_PARSE_UNKNOWN_PARAM:
        return "unknown-param";
    case SMTP_PARSE_BAD_PARAM:
        return "bad-param";
    case SMTP_PARSE_DUPLICATE_PARAM:
        return "duplicate-param";
    }
    return "unknown";
}
