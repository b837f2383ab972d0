/* lib/array.c - see array.h. */
#include "config.h"

#include "lib/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_reserve(void *items, size_t *cap, size_t need, size_t item_size, size_t first_cap)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap != 0 ? *cap : (first_cap != 0 ? first_cap : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (item_size != 0 && ncap > SIZE_MAX / item_size)
        return -1;
    void *old;
    memcpy(&old, items, sizeof old);
    void *grown = realloc(old, ncap * item_size);
    if (grown == NULL)
        return -1;
    memcpy(items, &grown, sizeof grown);
    *cap = ncap;
    return 0;
}
