/* lib/address.c - RFC 5321 4.1.2 address parsing (see address.h).
 *
 * Decisions, each the strict reading of the RFC where real clients allow it:
 * - A trailing dot in a domain ("user@example.org.") is a syntax error: the
 *   Domain of RFC 5321 4.1.2 is sub-domain *("." sub-domain), and accepting it
 *   would give one domain two spellings the relay policy must both know.
 * - Source routes are checked for syntax and then dropped (RFC 5321 4.1.2 and
 *   appendix C: "MUST BE accepted, SHOULD NOT be generated, and SHOULD be
 *   ignored"); only had_source_route remembers them. The relay decision is made
 *   on the final domain alone.
 * - A quoted local part stays a local part whatever it holds ('@', '%', '!'):
 *   nothing here ever reinterprets a local part as a route.
 * - IPv4 literals go through inet_pton, which refuses leading zeros ("01"),
 *   so one address has one spelling; the General-address-literal of 4.1.3
 *   (a tag other than IPv6) is refused, no such tag is in use.
 * - Non-ASCII labels are accepted as well-formed UTF-8 (RFC 3629) only; full
 *   IDNA2008 U-label validation would need libidn2, which is not a project
 *   library. */
#include "config.h"

#include "lib/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The text being parsed: s[0..len), position pos. */
struct cursor {
    const unsigned char *s;
    size_t len;
    size_t pos;
};

static bool at_end(const struct cursor *c)
{
    return c->pos >= c->len;
}

static int peek(const struct cursor *c)
{
    return at_end(c) ? -1 : c->s[c->pos];
}

static bool is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int lower(int ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
}

/* atext of RFC 5322 3.2.3, which RFC 5321 4.1.2 uses for Atom. */
static bool is_atext(int ch)
{
    if (is_alpha(ch) || is_digit(ch))
        return true;
    return ch > 0 && ch < 128 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* utf8_len - length of the well-formed UTF-8 sequence (RFC 3629 4: no
 * overlongs, no surrogates, nothing past U+10FFFF) of a non-ASCII character
 * at p, or 0 when there is none. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (left < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* take_utf8 - at a non-ASCII octet: the length of its character, or 0 with
 * *res set (not allowed without SMTPUTF8, or malformed). */
static size_t take_utf8(const struct cursor *c, unsigned opts, enum address_result *res)
{
    if (!(opts & ADDRESS_OPT_UTF8)) {
        *res = ADDRESS_UTF8_NOT_ALLOWED;
        return 0;
    }
    size_t n = utf8_len(c->s + c->pos, c->len - c->pos);
    if (n == 0)
        *res = ADDRESS_SYNTAX;
    return n;
}

/* parse_literal - an address-literal (RFC 5321 4.1.3) at '['; the normalised
 * text goes to out[0..outsize) when out is not NULL. */
static enum address_result parse_literal(struct cursor *c, char *out, size_t outsize, int *family_r)
{
    size_t start = c->pos;
    size_t end;
    char text[64];
    unsigned char bin[sizeof(struct in6_addr)];
    char norm[INET6_ADDRSTRLEN];
    int family = AF_INET;
    const char *addr_text;

    c->pos++; /* '[' */
    for (end = c->pos; end < c->len && c->s[end] != ']'; end++) {
        /* dcontent: %d33-90 / %d94-126 */
        int ch = c->s[end];
        if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
            return ADDRESS_SYNTAX;
    }
    if (end >= c->len)
        return ADDRESS_SYNTAX;
    if (end + 1 - start > ADDRESS_DOMAIN_MAX)
        return ADDRESS_TOO_LONG;
    size_t n = end - c->pos;
    if (n == 0 || n >= sizeof(text))
        return ADDRESS_SYNTAX;
    memcpy(text, c->s + c->pos, n);
    text[n] = '\0';
    addr_text = text;
    /* "IPv6:" is an ABNF literal string, hence case-insensitive (RFC 5234 2.3). */
    if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
        family = AF_INET6;
        addr_text = text + 5;
    } else if (strchr(text, ':') != NULL)
        return ADDRESS_SYNTAX; /* General-address-literal: no other tag is defined */
    if (inet_pton(family, addr_text, bin) != 1)
        return ADDRESS_SYNTAX;
    if (inet_ntop(family, bin, norm, sizeof(norm)) == NULL)
        return ADDRESS_SYNTAX;
    c->pos = end + 1;
    *family_r = family;
    if (out != NULL) {
        int w = snprintf(out, outsize, "[%s%s]", family == AF_INET6 ? "IPv6:" : "", norm);
        if (w < 0 || (size_t)w >= outsize)
            return ADDRESS_TOO_LONG;
    }
    return ADDRESS_OK;
}

/* parse_domain - a Domain (or, when allow_literal, an address literal) from
 * the cursor, as far as it goes; what follows is the caller's to check. The
 * lowercased text goes to addr->domain when addr is not NULL (a source-route
 * hop is checked, not kept). */
static enum address_result parse_domain(struct cursor *c, unsigned opts, bool allow_literal,
                                        struct address *addr)
{
    size_t start = c->pos;
    size_t out_len = 0;
    bool utf8 = false;
    enum address_result res = ADDRESS_OK;

    if (peek(c) == '[') {
        int family = 0;
        if (!allow_literal)
            return ADDRESS_SYNTAX;
        res = parse_literal(c, addr ? addr->domain : NULL, sizeof(addr->domain), &family);
        if (res != ADDRESS_OK)
            return res;
        if (addr != NULL) {
            addr->literal = true;
            addr->literal_family = family;
            addr->domain_len = strlen(addr->domain);
        }
        return ADDRESS_OK;
    }

    for (;;) {
        /* sub-domain = Let-dig [Ldh-str], or a U-label (RFC 6531 3.3) */
        size_t label_start = c->pos;
        int last = -1;
        while (!at_end(c)) {
            int ch = peek(c);
            size_t n = 1;
            if (ch >= 0x80) {
                n = take_utf8(c, opts, &res);
                if (n == 0)
                    return res;
                utf8 = true;
            } else if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
                break;
            if (c->pos == label_start && ch == '-')
                return ADDRESS_SYNTAX;
            if (c->pos + n - start > ADDRESS_DOMAIN_MAX)
                return ADDRESS_TOO_LONG;
            if (addr != NULL)
                for (size_t i = 0; i < n; i++)
                    addr->domain[out_len++] = (char)lower(c->s[c->pos + i]);
            last = ch;
            c->pos += n;
        }
        if (c->pos == label_start || last == '-')
            return ADDRESS_SYNTAX;
        if (c->pos - label_start > ADDRESS_LABEL_MAX)
            return ADDRESS_TOO_LONG;
        if (peek(c) != '.')
            break;
        /* A dot must be followed by another label: "example.org." is refused. */
        if (c->pos + 1 - start > ADDRESS_DOMAIN_MAX)
            return ADDRESS_TOO_LONG;
        if (addr != NULL)
            addr->domain[out_len++] = '.';
        c->pos++;
    }
    if (addr != NULL) {
        addr->domain[out_len] = '\0';
        addr->domain_len = out_len;
        addr->utf8 |= utf8;
    }
    return ADDRESS_OK;
}

/* is_dot_string - whether s[0..len) is a Dot-string (RFC 5321 4.1.2), so it
 * needs no quoting; non-ASCII octets count as atext (RFC 6531 3.3). */
static bool is_dot_string(const char *s, size_t len)
{
    bool atom_empty = true;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (atom_empty)
                return false;
            atom_empty = true;
        } else if (ch >= 0x80 || is_atext(ch))
            atom_empty = false;
        else
            return false;
    }
    return !atom_empty;
}

/* canonical_local - local_canon from local: the Dot-string itself, or a
 * Quoted-string escaping only '"' and '\' (RFC 5321 4.1.2: a local part
 * SHOULD be sent in its simplest form). Never longer than the wire form. */
static enum address_result canonical_local(struct address *addr)
{
    size_t o = 0;
    char *out = addr->local_canon;
    const size_t max = sizeof(addr->local_canon) - 1;

    if (is_dot_string(addr->local, addr->local_len)) {
        memcpy(out, addr->local, addr->local_len + 1);
        return ADDRESS_OK;
    }
    out[o++] = '"';
    for (size_t i = 0; i < addr->local_len; i++) {
        char ch = addr->local[i];
        if (ch == '"' || ch == '\\') {
            if (o >= max)
                return ADDRESS_TOO_LONG;
            out[o++] = '\\';
        }
        if (o >= max)
            return ADDRESS_TOO_LONG;
        out[o++] = ch;
    }
    if (o >= max)
        return ADDRESS_TOO_LONG;
    out[o++] = '"';
    out[o] = '\0';
    return ADDRESS_OK;
}

/* parse_local - a Local-part (Dot-string or Quoted-string) from the cursor,
 * unquoted into addr->local; stops before the '@'. */
static enum address_result parse_local(struct cursor *c, unsigned opts, struct address *addr)
{
    size_t start = c->pos;
    size_t o = 0;
    enum address_result res = ADDRESS_OK;

    if (peek(c) == '"') {
        addr->quoted = true;
        c->pos++;
        for (;;) {
            int ch = peek(c);
            size_t n = 1;
            if (ch < 0)
                return ADDRESS_SYNTAX;
            if (ch == '"') {
                c->pos++;
                break;
            }
            if (ch == '\\') {
                /* quoted-pairSMTP = %d92 %d32-126 (RFC 6531 does not widen it) */
                c->pos++;
                ch = peek(c);
                if (ch < 32 || ch > 126)
                    return ADDRESS_SYNTAX;
            } else if (ch >= 0x80) {
                n = take_utf8(c, opts, &res);
                if (n == 0)
                    return res;
                addr->utf8 = true;
            } else if (ch < 32 || ch > 126) {
                return ADDRESS_SYNTAX; /* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
            }
            if (c->pos + n - start > ADDRESS_LOCAL_MAX)
                return ADDRESS_TOO_LONG;
            memcpy(addr->local + o, c->s + c->pos, n);
            o += n;
            c->pos += n;
        }
    } else {
        bool atom_empty = true;
        while (!at_end(c)) {
            int ch = peek(c);
            size_t n = 1;
            if (ch == '.') {
                if (atom_empty)
                    return ADDRESS_SYNTAX;
                atom_empty = true;
            } else if (ch >= 0x80) {
                n = take_utf8(c, opts, &res);
                if (n == 0)
                    return res;
                addr->utf8 = true;
                atom_empty = false;
            } else if (is_atext(ch)) {
                atom_empty = false;
            } else
                break;
            if (c->pos + n - start > ADDRESS_LOCAL_MAX)
                return ADDRESS_TOO_LONG;
            memcpy(addr->local + o, c->s + c->pos, n);
            o += n;
            c->pos += n;
        }
        if (atom_empty)
            return ADDRESS_SYNTAX; /* empty, or ends with a dot */
    }
    if (c->pos - start > ADDRESS_LOCAL_MAX)
        return ADDRESS_TOO_LONG;
    addr->local[o] = '\0';
    addr->local_len = o;
    return canonical_local(addr);
}

/* parse_mailbox - Mailbox = Local-part "@" ( Domain / address-literal ). */
static enum address_result parse_mailbox(struct cursor *c, unsigned opts, struct address *addr)
{
    enum address_result res = parse_local(c, opts, addr);
    if (res != ADDRESS_OK)
        return res;
    if (peek(c) != '@')
        return ADDRESS_SYNTAX;
    c->pos++;
    return parse_domain(c, opts, true, addr);
}

/* parse_source_route - A-d-l ":" (RFC 5321 4.1.2), at the first '@'. Each hop
 * is checked as a Domain and forgotten. */
static enum address_result parse_source_route(struct cursor *c, unsigned opts)
{
    for (;;) {
        if (peek(c) != '@')
            return ADDRESS_SYNTAX;
        c->pos++;
        enum address_result res = parse_domain(c, opts, false, NULL);
        if (res != ADDRESS_OK)
            return res;
        int ch = peek(c);
        c->pos++;
        if (ch == ':')
            return ADDRESS_OK;
        if (ch != ',')
            return ADDRESS_SYNTAX;
    }
}

static void address_clear(struct address *addr)
{
    memset(addr, 0, sizeof(*addr));
}

/* is_postmaster_path - "<Postmaster>" in any case (RFC 5321 4.1.1.3). */
static bool is_postmaster_path(const struct cursor *c)
{
    static const char word[] = "postmaster>";
    size_t n = sizeof(word) - 1;

    if (c->len - c->pos < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(c->s[c->pos + i]) != word[i])
            return false;
    return true;
}

enum address_result address_parse_path(const char *in, size_t len, unsigned opts,
                                       struct address *addr, size_t *used_r)
{
    struct cursor c = {(const unsigned char *)in, len, 0};
    enum address_result res;

    address_clear(addr);
    if (peek(&c) != '<')
        return ADDRESS_SYNTAX;
    c.pos++;
    if (peek(&c) == '>') {
        c.pos++;
        addr->is_null = true;
    } else if ((opts & ADDRESS_OPT_POSTMASTER) && is_postmaster_path(&c)) {
        memcpy(addr->local, in + 1, 10);
        addr->local[10] = '\0';
        addr->local_len = 10;
        memcpy(addr->local_canon, "postmaster", 11);
        addr->is_postmaster = true;
        c.pos += 11;
    } else {
        if (peek(&c) == '@') {
            res = parse_source_route(&c, opts);
            if (res != ADDRESS_OK)
                goto fail;
            addr->had_source_route = true;
        }
        res = parse_mailbox(&c, opts, addr);
        if (res != ADDRESS_OK)
            goto fail;
        if (peek(&c) != '>') {
            res = ADDRESS_SYNTAX;
            goto fail;
        }
        c.pos++;
    }
    if (c.pos > ADDRESS_PATH_MAX) {
        res = ADDRESS_TOO_LONG;
        goto fail;
    }
    if (used_r != NULL)
        *used_r = c.pos;
    else if (c.pos != len) {
        res = ADDRESS_SYNTAX;
        goto fail;
    }
    return ADDRESS_OK;
fail:
    address_clear(addr);
    return res;
}

enum address_result address_parse_mailbox(const char *in, size_t len, unsigned opts,
                                          struct address *addr)
{
    struct cursor c = {(const unsigned char *)in, len, 0};
    enum address_result res;

    address_clear(addr);
    res = parse_mailbox(&c, opts, addr);
    if (res == ADDRESS_OK && c.pos != len)
        res = ADDRESS_SYNTAX;
    if (res == ADDRESS_OK && len + 2 > ADDRESS_PATH_MAX)
        res = ADDRESS_TOO_LONG;
    if (res != ADDRESS_OK)
        address_clear(addr);
    return res;
}

enum address_result address_parse_domain(const char *in, size_t len, unsigned opts,
                                         struct address *addr)
{
    struct cursor c = {(const unsigned char *)in, len, 0};
    enum address_result res;

    address_clear(addr);
    res = parse_domain(&c, opts, true, addr);
    if (res == ADDRESS_OK && c.pos != len)
        res = ADDRESS_SYNTAX;
    if (res != ADDRESS_OK)
        address_clear(addr);
    return res;
}

int address_render(const struct address *addr, char *out, size_t size)
{
    int n;

    if (addr->is_null)
        n = snprintf(out, size, "%s", "");
    else if (addr->is_postmaster)
        n = snprintf(out, size, "%s", addr->local_canon);
    else
        n = snprintf(out, size, "%s@%s", addr->local_canon, addr->domain);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}

const char *address_result_str(enum address_result result)
{
    switch (result) {
    case ADDRESS_OK:
        return "ok";
    case ADDRESS_SYNTAX:
        return "syntax";
    case ADDRESS_TOO_LONG:
        return "too-long";
    case ADDRESS_UTF8_NOT_ALLOWED:
        return "utf8-without-smtputf8";
    }
    return "unknown";
}
