/* delivery/sieve/sieve_address.h - the addresses in a header field's value
 * (an RFC 5322 3.4 address-list, read tolerantly: display names, comments,
 * groups, angle brackets) and their parts for the address and envelope
 * tests (RFC 5228 2.7.4, subaddress RFC 5233 with the separator '+'). */
#ifndef DIRMAIL_SIEVE_ADDRESS_H
#define DIRMAIL_SIEVE_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "delivery/sieve/sieve_ast.h"

/* The subaddress separator (RFC 5233 3: the implementation's choice). */
#define SIEVE_SUBADDRESS_SEP '+'

/* sieve_address_list - each addr-spec in value, in order, as a malloc'd
 * string in *out (*count of them; the caller frees each and the array).
 * A group name or an empty group yields nothing. 0, or -1 out of memory. */
int sieve_address_list(const char *value, char ***out, size_t *count);

/* sieve_address_header_known - name is a header field that holds
 * addresses (RFC 5322 3.6.2, 3.6.3, 3.6.6 and the common others, as
 * Pigeonhole knows them), the fields RFC 5228 5.1 restricts the address
 * test to. Case-insensitive. */
bool sieve_address_header_known(const char *name);

/* sieve_address_part - the part of addr as malloc'd string; NULL when the
 * part does not exist (no '@' for :domain, no separator for :detail: RFC
 * 5233 4 says such an address does not match) or out of memory. */
char *sieve_address_part(const char *addr, enum sieve_addr_part part);

#endif
