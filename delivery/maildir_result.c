/* delivery/maildir_result.c - see maildir_result.h. */
#include "config.h"

#include "delivery/maildir_result.h"

const char *maildir_result_name(enum maildir_result result)
{
    switch (result) {
    case MAILDIR_DELIVERED:
        return "delivered";
    case MAILDIR_TEMPFAIL:
        return "tempfail";
    case MAILDIR_QUOTA_EXCEEDED:
        return "quota-exceeded";
    case MAILDIR_PERMFAIL:
        return "permfail";
    case MAILDIR_ALREADY_DELIVERED:
        return "already-delivered";
    }
    return "unknown";
}
