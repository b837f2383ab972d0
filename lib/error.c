/* lib/error.c - formatted error messages for char **error_r. */
#include "config.h"

#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>

void error_set(char **error_r, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (error_r == NULL)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    *error_r = msg;
}
