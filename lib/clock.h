/* lib/clock.h - the one monotonic clock every timeout, deadline and throttle
 * reads: milliseconds since an arbitrary start, never stepped by NTP or date.
 * Wall-clock times (queue ages, Received: dates) use time() instead. */
#ifndef DIRMAIL_CLOCK_H
#define DIRMAIL_CLOCK_H

#include <stdint.h>

/* clock_monotonic_ms - CLOCK_MONOTONIC in milliseconds. */
uint64_t clock_monotonic_ms(void);

#endif
