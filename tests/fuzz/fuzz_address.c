/* tests/fuzz/fuzz_address.c - libFuzzer harness for lib/address: every entry
 * point on arbitrary bytes (the first byte picks the options), and for what
 * parses, the invariants the relay policy relies on: limits hold, no control
 * octet survives, and the canonical rendering parses back to the same address. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parsed(const struct address *a, unsigned opts)
{
    char out[ADDRESS_RENDER_MAX], path[ADDRESS_RENDER_MAX + 2];
    struct address b;
    int n;

    if (a->local_len > ADDRESS_LOCAL_MAX || a->domain_len > ADDRESS_DOMAIN_MAX ||
        strlen(a->local) != a->local_len || strlen(a->domain) != a->domain_len ||
        strlen(a->local_canon) > ADDRESS_LOCAL_MAX)
        abort();
    for (size_t i = 0; i < a->local_len; i++)
        if ((unsigned char)a->local[i] < 32 || a->local[i] == 127)
            abort();
    /* Domains are lowercased; literals keep their normalised "IPv6:" tag. */
    for (size_t i = 0; i < a->domain_len && !a->literal; i++)
        if (a->domain[i] >= 'A' && a->domain[i] <= 'Z')
            abort();
    if (!(opts & ADDRESS_OPT_UTF8) && a->utf8)
        abort();
    n = address_render(a, out, sizeof(out));
    if (n < 0)
        abort();
    if (a->is_null || a->is_postmaster)
        return;
    /* The canonical form is itself a valid mailbox with the same meaning. */
    memcpy(path + 1, out, (size_t)n);
    path[0] = '<';
    path[n + 1] = '>';
    if (address_parse_path(path, (size_t)n + 2, opts, &b, NULL) != ADDRESS_OK)
        abort();
    if (strcmp(a->local, b.local) != 0 || strcmp(a->domain, b.domain) != 0 ||
        strcmp(a->local_canon, b.local_canon) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct address a;
    size_t used = 0;
    unsigned opts;
    const char *in;

    if (size < 1)
        return 0;
    opts = data[0] & (ADDRESS_OPT_UTF8 | ADDRESS_OPT_POSTMASTER);
    in = (const char *)data + 1;
    size--;

    if (address_parse_path(in, size, opts, &a, NULL) == ADDRESS_OK)
        check_parsed(&a, opts);
    if (address_parse_path(in, size, opts, &a, &used) == ADDRESS_OK) {
        if (used == 0 || used > size || used > ADDRESS_PATH_MAX || in[used - 1] != '>')
            abort();
        check_parsed(&a, opts);
    }
    if (address_parse_mailbox(in, size, opts, &a) == ADDRESS_OK)
        check_parsed(&a, opts);
    if (address_parse_domain(in, size, opts, &a) == ADDRESS_OK)
        if (a.domain_len == 0 || a.domain_len > ADDRESS_DOMAIN_MAX)
            abort();
    return 0;
}
