/* delivery/local_delivery.h - local delivery: one message into one user's
 * Maildir (the directory's mailbox path or the default layout, a folder, the
 * quota), ending delivered, deferred or failed with the status to record
 * (proto/delivery_status.h). Deliveries can be gathered in a batch and
 * settled together so that they share journal commits. Used by the queue
 * runner's local transport, LMTP and dirmail-deliver through mda.h. It never
 * reads the directory and never knows the queue or who is calling. */
#ifndef DIRMAIL_DELIVERY_LOCAL_DELIVERY_H
#define DIRMAIL_DELIVERY_LOCAL_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "delivery/maildir.h"
#include "proto/delivery_status.h"

/* Deliveries a batch holds written but not yet durable (each keeps about
 * five descriptors open); adding one more settles the batch first. */
#define LOCAL_BATCH_MAX 16
/* The longest stable key copied from a request. */
#define LOCAL_STABLE_KEY_MAX 47

/* What every delivery of a caller shares. The strings are not copied: they
 * must outlive every batch and delivery made with them. */
struct local_delivery_config {
    const char *mailbox_base; /* config_delivery.mailbox_base */
    const char *hostname;     /* for file names; NULL: gethostname() */
    enum config_delivery_sync sync_method;
};

enum local_state {
    LOCAL_PENDING,   /* in a batch, not settled yet */
    LOCAL_DELIVERED, /* durable in the Maildir */
    LOCAL_DEFERRED,  /* temporary failure: try again later */
    LOCAL_FAILED,    /* permanent failure: bounce */
};

struct local_result {
    enum local_state state;
    /* DELIVERED: an earlier attempt had delivered it (stable_key) and
     * nothing new was written */
    bool already;
    enum delivery_status status;          /* DEFERRED, FAILED */
    char reply[DELIVERY_STATUS_TEXT_MAX]; /* DEFERRED, FAILED: "C.S.D text"; else "" */
};

/* local_open_fn - the message (CRLF line endings): a descriptor the
 * delivery reads *len_r octets from and then closes. 0, or -1 and
 * *error_r (malloc'd, may stay NULL for out of memory). */
typedef int local_open_fn(void *ctx, int *fd_r, uint64_t *len_r, char **error_r);
/* local_settled_fn - result is final (delivered, deferred or failed). */
typedef void local_settled_fn(void *ctx, const struct local_result *result);

/* One delivery. Its strings are not copied (stable_key is): they must
 * stay valid until the delivery is settled. */
struct local_delivery_request {
    /* The message: from open_message(open_ctx) when set, called once
     * during the add (the descriptor is closed here); otherwise len octets
     * of fd from its current offset (MAILDIR_TO_EOF: to its end), the
     * caller's descriptor, read during the add. */
    local_open_fn *open_message;
    void *open_ctx;
    int fd;
    uint64_t len;
    const char *sender;    /* envelope sender ("" or NULL: <>) */
    const char *recipient; /* envelope recipient, for Delivered-To and the log */
    /* The mailbox path from the directory (maildir_target.mailbox); NULL
     * or "": local_default_mailbox(address). */
    const char *mailbox;
    const char *address; /* the entry's primary address, for the default */
    const char *folder;  /* Maildir++ folder; NULL: INBOX */
    const char *flags;   /* Maildir info letters to store with (maildir_target.flags); NULL: none */
    uint64_t quota_bytes; /* 0: no limit */
    bool quota_permanent; /* over quota fails (5.2.2) rather than defers */
    /* Exactly once across crashes (maildir_target.stable_key): a key
     * naming this delivery on every attempt, the time part of its name,
     * and whether to look in new/ and cur/ before writing (an attempt
     * that may follow an unrecorded one). NULL key: a new name each time. */
    const char *stable_key;
    long long stable_time;
    bool check_delivered;
    /* With log_id, a delivery logs "id=<log_id> event=delivered|
     * already_delivered rcpt= mailbox= file=". */
    const char *log_id;
    /* Told when the result is final (may be NULL). */
    local_settled_fn *settled;
    void *settled_ctx;
};

struct local_batch;

/* local_batch_new - an empty batch; NULL when out of memory. conf is
 * copied (not its strings). Free with local_batch_free. */
struct local_batch *local_batch_new(const struct local_delivery_config *conf);

/* local_batch_free - settle what is pending, free the batch, NULL *batch. */
void local_batch_free(struct local_batch **batch);

/* local_batch_add - write req's message to a file in its Maildir's tmp/
 * and add it to the batch; a full batch (LOCAL_BATCH_MAX) is settled first.
 * Returns out->state: PENDING (out is filled by local_batch_settle, and
 * must stay valid until then), or final at once (a failure before the
 * file was written: out filled, settled called). */
enum local_state local_batch_add(struct local_batch *batch,
                                 const struct local_delivery_request *req,
                                 struct local_result *out);

/* local_batch_count - deliveries pending in the batch. */
size_t local_batch_count(const struct local_batch *batch);

/* local_batch_settle - make every pending delivery durable and fill its
 * result (and call its settled): all files are written first, then (for
 * file systems synced by syncfs, delivery.sync_method) one syncfs round,
 * then all are linked into new/, a second round, and then all finished,
 * so that a batch shares two journal commits instead of two per message
 * (maildir_delivery_finish). The batch is empty afterwards. */
void local_batch_settle(struct local_batch *batch);

/* local_deliver - one delivery made durable at once (its own fsyncs);
 * out is filled and req->settled called before it returns. */
void local_deliver(const struct local_delivery_config *conf,
                   const struct local_delivery_request *req, struct local_result *out);

/* local_default_mailbox - "<domain>/<local>/Maildir" of address, both
 * lowercased, or NULL when it has no "@", a part is empty, starts with a
 * dot or holds "/", a control byte or space (it must be one safe path
 * component), or out of memory. The caller frees it. */
char *local_default_mailbox(const char *address);

/* local_result_from_maildir - out for a Maildir delivery that ended with
 * res (error: its message, may be NULL): DELIVERED and ALREADY_DELIVERED
 * are delivered; QUOTA_EXCEEDED fails (5.2.2) when target->quota_permanent
 * and defers (4.2.2) otherwise; PERMFAIL fails (5.3.5); TEMPFAIL and
 * anything else defer (4.3.0). */
void local_result_from_maildir(struct local_result *out, enum maildir_result res,
                               const struct maildir_target *target, const char *error);

/* local_result_set - out as DEFERRED or FAILED (the status's class) with
 * status and arg (delivery_status_format). */
void local_result_set(struct local_result *out, enum delivery_status status, const char *arg);

#endif
