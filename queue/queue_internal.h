/* queue/queue_internal.h - what the spool's files share and nobody else
 * sees: the open spool's state (folders, group commit, the free/ names) and
 * two file helpers. queue.c writes, queue_scan.c lists and cleans,
 * queue_record.c reads, marks and removes. */
#ifndef DIRMAIL_QUEUE_QUEUE_INTERNAL_H
#define DIRMAIL_QUEUE_QUEUE_INTERNAL_H

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "queue/queue.h"

/* The trailer that ends every spool file: where the envelope starts (the
 * message's length) and how long it is. Fixed length, so a reader finds it
 * with one pread at the end; a file whose trailer does not add up is not a
 * spool file (see queue.h). */
#define TRAILER_LEN 39
#define TRAILER_FORMAT "DMQ1 %016" PRIx64 " %016" PRIx64 "\n"

/* free/ (see queue.h): files kept at most, names a process claims from at
 * once, and how long an empty free/ is not read again. */
#define FREE_MAX 4096
#define FREE_BATCH 64
#define FREE_RESCAN_SECONDS 1

struct queue {
    char *dir;
    int dir_fd, tmp_fd, active_fd, free_fd;
    /* Group commit of active/ (see queue_sync): staged counts messages
     * renamed into active/, synced is the value of staged when the last
     * successful fsync of active/ began, syncing says one is running. */
    pthread_mutex_t lock;
    pthread_cond_t synced_cond;
    uint64_t staged, synced;
    bool syncing;
    /* Under lock: names read from free/ not yet tried, when free/ was last
     * found empty, and how many files this process put there since
     * queue_cleanup last counted them. */
    char free_names[FREE_BATCH][QUEUE_ID_SIZE];
    size_t free_count;
    time_t free_empty_at;
    size_t free_added;
};

/* queue_dir_stream - a DIR over the spool folder dir_fd (its own fd, so that
 * dir_fd stays open); NULL with errno on failure. */
DIR *queue_dir_stream(int dir_fd);

/* queue_rename_noreplace - rename within the spool, refusing to replace (an
 * id collision must fail, not overwrite a committed message). */
int queue_rename_noreplace(int from_fd, const char *from, int to_fd, const char *to);

#endif
