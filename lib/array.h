/* lib/array.h - growing a malloc'd array of fixed-size items by doubling, the
 * one place that checks the multiplication for overflow. The caller keeps the
 * pointer, count and capacity in its own struct. */
#ifndef DIRMAIL_ARRAY_H
#define DIRMAIL_ARRAY_H

#include <stddef.h>

/* array_reserve - make *items (with *cap items of item_size octets) hold at
 * least need items, doubling from first_cap. 0 (items and cap updated), or
 * -1 on overflow or out of memory (items and cap untouched). */
int array_reserve(void *items, size_t *cap, size_t need, size_t item_size, size_t first_cap);

/* ARRAY_RESERVE - array_reserve for a typed pointer: ARRAY_RESERVE(&v, &cap, n, 16). */
#define ARRAY_RESERVE(items_ptr, cap_ptr, need, first_cap)                                     \
    array_reserve((items_ptr), (cap_ptr), (need), sizeof **(items_ptr), (first_cap))

#endif
