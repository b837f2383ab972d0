/* delivery/mda_quota.c - see mda_quota.h. */
#include "config.h"

#include "delivery/mda_quota.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/maildir_quota.h"
#include "delivery/mda_notify.h"
#include "lib/fdio.h"
#include "lib/log.h"

/* The marker of a quota warning sent and not yet re-armed, in the root. */
#define QUOTA_WARNED_FILE "dirmail-quota-warned"
/* The longest quota warning text read from delivery.quota_warning_message. */
#define QUOTA_WARNING_MAX (64 * 1024)
/* How long after a warning the usage must be below the mark to re-arm it. */
#define QUOTA_REARM_SECONDS 3600

void mda_quota_warning(const struct mda_quota_notice *n, uint64_t size)
{
    const struct config_delivery *d = n->conf;
    if (d->quota_warning_percent == 0 || n->quota_bytes == 0 || n->queue == NULL)
        return;
    struct maildir_quota_limit limit = {.bytes = n->quota_bytes};
    struct maildir_quota_usage usage;
    char *error = NULL;
    if (maildir_quota_read(n->root_fd, &limit, n->hostname, false, &usage, &error) < 0) {
        free(error);
        return;
    }
    uint64_t mark = n->quota_bytes / 100 * d->quota_warning_percent +
                    n->quota_bytes % 100 * d->quota_warning_percent / 100;
    uint64_t before = usage.bytes > 0 ? (uint64_t)usage.bytes : 0;
    struct stat mst;
    bool warned = fstatat(n->root_fd, QUOTA_WARNED_FILE, &mst, AT_SYMLINK_NOFOLLOW) == 0;
    if (before + size < mark) {
        /* Re-armed only an hour after the warning: the usage read here
         * leaves out deliveries still pending in a batch (the warning's
         * own among them), which must not make a second warning. */
        if (warned && time(NULL) - mst.st_mtime > QUOTA_REARM_SECONDS)
            unlinkat(n->root_fd, QUOTA_WARNED_FILE, 0);
        return;
    }
    /* a message that does not fit is refused (over quota), not warned of */
    if (warned || before + size > n->quota_bytes)
        return;
    int fd = openat(n->root_fd, QUOTA_WARNED_FILE,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return; /* another delivery is sending it */
    close(fd);
    char *text = NULL;
    if (d->quota_warning_message != NULL) {
        int mfd = open(d->quota_warning_message, O_RDONLY | O_CLOEXEC);
        if (mfd >= 0) {
            text = calloc(1, QUOTA_WARNING_MAX + 1);
            if (text != NULL && fd_read_full(mfd, text, QUOTA_WARNING_MAX) < 0) {
                free(text);
                text = NULL;
            }
            close(mfd);
        }
    }
    char body[512];
    snprintf(body, sizeof body,
             "Your mailbox %s is now using %u%% or more of its quota of %llu bytes.\n"
             "Please delete some messages: when it is full, new mail cannot be delivered.\n",
             n->to, d->quota_warning_percent, (unsigned long long)n->quota_bytes);
    char new_id[QUEUE_ID_SIZE], q1[256], q2[512];
    const char *to = n->to;
    if (mda_notify_user(n->queue, n->hostname, to, "Your mailbox is almost full",
                        text != NULL && text[0] != '\0' ? text : body, new_id, &error) < 0) {
        log_warning("id=%s event=quota_warning_failed rcpt=%s error=%s",
                    n->log_id != NULL ? n->log_id : "-", log_quote(q1, sizeof q1, to),
                    log_quote(q2, sizeof q2, error ? error : "?"));
        free(error);
        unlinkat(n->root_fd, QUOTA_WARNED_FILE, 0);
    } else {
        log_info("id=%s event=quota_warning rcpt=%s usage=%llu quota=%llu queued=%s",
                 n->log_id != NULL ? n->log_id : "-", log_quote(q1, sizeof q1, to),
                 (unsigned long long)(before + size), (unsigned long long)n->quota_bytes, new_id);
    }
    free(text);
}
