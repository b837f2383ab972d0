/* tests/unit/test_local_delivery.c - delivery/local_delivery.c: a batch of
 * deliveries settles to delivered, a stable key delivers once across
 * attempts, the default mailbox comes from the address, and every Maildir
 * result maps to its state and status text (proto/delivery_status.c). */
#include "config.h"

#include "delivery/local_delivery.h"
#include "proto/delivery_status.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[256];

static void setup(void)
{
    temp_dir_make(base, sizeof base, "test_local_delivery");
}

static void teardown(void)
{
    temp_dir_remove(base);
}

static char *path_of(const char *rel)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", base, rel);
    return buf;
}

/* count_dir - entries of base/rel, -1 when it does not exist. */
static int count_dir(const char *rel)
{
    return temp_dir_count(path_of(rel));
}

static const char message[] = "Subject: hi\r\n\r\nbody\r\n";

/* open_message - a local_open_fn giving the message from a fresh file;
 * ctx names an error to fail with instead (NULL: succeed). */
static int open_message(void *ctx, int *fd_r, uint64_t *len_r, char **error_r)
{
    if (ctx != NULL) {
        *error_r = strdup(ctx);
        return -1;
    }
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(message, 1, sizeof message - 1, f), sizeof message - 1);
    fflush(f);
    *fd_r = dup(fileno(f));
    fclose(f);
    ck_assert_int_ge(*fd_r, 0);
    lseek(*fd_r, 0, SEEK_SET);
    *len_r = sizeof message - 1;
    return 0;
}

static int settled_count;

static void count_settled(void *ctx, const struct local_result *res)
{
    (void)ctx;
    ck_assert_int_ne(res->state, LOCAL_PENDING);
    settled_count++;
}

static struct local_delivery_config config_for(enum config_delivery_sync method)
{
    return (struct local_delivery_config){
        .mailbox_base = base, .hostname = "mx.example.org", .sync_method = method};
}

static struct local_delivery_request request_for(const char *mailbox, const char *address)
{
    return (struct local_delivery_request){
        .open_message = open_message,
        .sender = "sender@example.net",
        .recipient = address,
        .mailbox = mailbox,
        .address = address,
        .log_id = "TESTID",
        .settled = count_settled,
    };
}

START_TEST(batch_of_several_settles_to_delivered)
{
    static const enum config_delivery_sync methods[] = {DELIVERY_SYNC_FSYNC, DELIVERY_SYNC_SYNCFS};
    for (size_t m = 0; m < 2; m++) {
        struct local_delivery_config conf = config_for(methods[m]);
        struct local_batch *batch = local_batch_new(&conf);
        struct local_result out[4];
        const char *const boxes[4] = {"a/Maildir", "b/Maildir", "a/Maildir", NULL};
        char key[32];

        ck_assert_ptr_nonnull(batch);
        settled_count = 0;
        for (size_t i = 0; i < 4; i++) {
            struct local_delivery_request req = request_for(boxes[i], "Carol@Example.COM");
            snprintf(key, sizeof key, "M%zuK%zu", m, i);
            req.stable_key = key; /* copied: changing it below must not matter */
            req.stable_time = 1700000000;
            ck_assert_int_eq(local_batch_add(batch, &req, &out[i]), LOCAL_PENDING);
            ck_assert_int_eq(out[i].state, LOCAL_PENDING);
        }
        ck_assert_uint_eq(local_batch_count(batch), 4);
        ck_assert_int_eq(settled_count, 0);
        /* nothing is in new/ before the settle */
        ck_assert_int_le(count_dir("a/Maildir/new"), 2 * (int)m);
        local_batch_settle(batch);
        ck_assert_uint_eq(local_batch_count(batch), 0);
        ck_assert_int_eq(settled_count, 4);
        for (size_t i = 0; i < 4; i++) {
            ck_assert_int_eq(out[i].state, LOCAL_DELIVERED);
            ck_assert(!out[i].already);
            ck_assert_str_eq(out[i].reply, "");
        }
        ck_assert_int_eq(count_dir("a/Maildir/new"), 2 * (int)(m + 1));
        ck_assert_int_eq(count_dir("b/Maildir/new"), (int)(m + 1));
        ck_assert_int_eq(count_dir("example.com/carol/Maildir/new"), (int)(m + 1));
        ck_assert_int_eq(count_dir("a/Maildir/tmp"), 0);
        local_batch_free(&batch);
        ck_assert_ptr_null(batch);
    }
}
END_TEST

/* A full batch settles itself before taking one more. */
START_TEST(full_batch_settles_first)
{
    struct local_delivery_config conf = config_for(DELIVERY_SYNC_FSYNC);
    struct local_batch *batch = local_batch_new(&conf);
    struct local_result out[LOCAL_BATCH_MAX + 1];

    settled_count = 0;
    for (size_t i = 0; i < LOCAL_BATCH_MAX + 1; i++) {
        struct local_delivery_request req = request_for("full/Maildir", "x@y");
        ck_assert_int_eq(local_batch_add(batch, &req, &out[i]), LOCAL_PENDING);
    }
    ck_assert_int_eq(settled_count, LOCAL_BATCH_MAX);
    ck_assert_uint_eq(local_batch_count(batch), 1);
    ck_assert_int_eq(out[0].state, LOCAL_DELIVERED);
    local_batch_free(&batch); /* settles the last one */
    ck_assert_int_eq(out[LOCAL_BATCH_MAX].state, LOCAL_DELIVERED);
    ck_assert_int_eq(count_dir("full/Maildir/new"), LOCAL_BATCH_MAX + 1);
}
END_TEST

/* The same stable key again (a runner killed before its record) finds the
 * earlier file instead of writing a second copy: in new/ by the link, and
 * in cur/ (a reader moved it) with check_delivered. */
START_TEST(stable_key_twice_is_already_delivered)
{
    struct local_delivery_config conf = config_for(DELIVERY_SYNC_FSYNC);
    struct local_delivery_request req = request_for("s/Maildir", "s@example.org");
    struct local_result out;

    req.stable_key = "Q0123456789abcdefR0";
    req.stable_time = 1700000000;
    local_deliver(&conf, &req, &out);
    ck_assert_int_eq(out.state, LOCAL_DELIVERED);
    ck_assert(!out.already);
    ck_assert_int_eq(count_dir("s/Maildir/new"), 1);

    struct local_batch *batch = local_batch_new(&conf);
    ck_assert_int_eq(local_batch_add(batch, &req, &out), LOCAL_PENDING);
    local_batch_settle(batch);
    ck_assert_int_eq(out.state, LOCAL_DELIVERED);
    ck_assert(out.already);
    ck_assert_int_eq(count_dir("s/Maildir/new"), 1);

    /* a reader moves it to cur/ with flags */
    DIR *dir = opendir(path_of("s/Maildir/new"));
    struct dirent *de;
    char from[1400], to[1400], new_dir[1024], cur_dir[1024];
    while ((de = readdir(dir)) != NULL && de->d_name[0] == '.')
        ;
    ck_assert_ptr_nonnull(de);
    snprintf(new_dir, sizeof new_dir, "%s", path_of("s/Maildir/new"));
    snprintf(cur_dir, sizeof cur_dir, "%s", path_of("s/Maildir/cur"));
    snprintf(from, sizeof from, "%.1023s/%.255s", new_dir, de->d_name);
    snprintf(to, sizeof to, "%.1023s/%.255s:2,S", cur_dir, de->d_name);
    closedir(dir);
    ck_assert_int_eq(rename(from, to), 0);
    req.check_delivered = true;
    ck_assert_int_eq(local_batch_add(batch, &req, &out), LOCAL_PENDING);
    local_batch_settle(batch);
    ck_assert_int_eq(out.state, LOCAL_DELIVERED);
    ck_assert(out.already);
    ck_assert_int_eq(count_dir("s/Maildir/new"), 0);
    ck_assert_int_eq(count_dir("s/Maildir/cur"), 1);
    local_batch_free(&batch);
}
END_TEST

START_TEST(default_mailbox_from_the_address)
{
    static const struct {
        const char *address, *mailbox;
    } cases[] = {
        {"John.Doe@Example.ORG", "example.org/john.doe/Maildir"},
        {"a@b", "b/a/Maildir"},
        {"a@b@C", "c/a@b/Maildir"}, /* the last "@" splits */
        {"a/b@example.org", NULL},
        {"a@exa/mple.org", NULL},
        {"@example.org", NULL},
        {"a@", NULL},
        {".a@example.org", NULL},
        {"a@.example.org", NULL},
        {"..@example.org", NULL},
        {"a b@example.org", NULL},
        {"a\tb@example.org", NULL},
        {"a\x7f@example.org", NULL},
        {"no-at-sign", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = local_default_mailbox(cases[i].address);
        if (cases[i].mailbox == NULL)
            ck_assert_msg(got == NULL, "%s gave %s", cases[i].address, got);
        else
            ck_assert_str_eq(got, cases[i].mailbox);
        free(got);
    }
    /* no mailbox and no usable address: deferred, nothing written */
    struct local_delivery_config conf = config_for(DELIVERY_SYNC_FSYNC);
    struct local_delivery_request req = request_for(NULL, "../x@example.org");
    struct local_result out;
    settled_count = 0;
    local_deliver(&conf, &req, &out);
    ck_assert_int_eq(out.state, LOCAL_DEFERRED);
    ck_assert_str_eq(out.reply, "4.3.5 no mailbox path can be derived from the entry's address");
    ck_assert_int_eq(settled_count, 1);
    ck_assert_int_eq(count_dir("example.org"), -1);
}
END_TEST

START_TEST(maildir_results_map_to_states_and_codes)
{
    struct maildir_target temp = {.quota_permanent = false}, perm = {.quota_permanent = true};
    struct local_result out;

    local_result_from_maildir(&out, MAILDIR_DELIVERED, &temp, NULL);
    ck_assert_int_eq(out.state, LOCAL_DELIVERED);
    ck_assert(!out.already);
    ck_assert_str_eq(out.reply, "");
    local_result_from_maildir(&out, MAILDIR_ALREADY_DELIVERED, &temp, NULL);
    ck_assert_int_eq(out.state, LOCAL_DELIVERED);
    ck_assert(out.already);
    ck_assert_str_eq(out.reply, "");

    local_result_from_maildir(&out, MAILDIR_QUOTA_EXCEEDED, &temp, NULL);
    ck_assert_int_eq(out.state, LOCAL_DEFERRED);
    ck_assert_int_eq(out.status, DELIVERY_STATUS_MAILBOX_FULL);
    ck_assert_str_eq(out.reply, "4.2.2 mailbox full: quota");
    local_result_from_maildir(&out, MAILDIR_QUOTA_EXCEEDED, &perm, "over by 3 octets");
    ck_assert_int_eq(out.state, LOCAL_FAILED);
    ck_assert_int_eq(out.status, DELIVERY_STATUS_MAILBOX_FULL_PERM);
    ck_assert_str_eq(out.reply, "5.2.2 mailbox full: over by 3 octets");

    /* PERMFAIL is permanent whatever the quota setting */
    local_result_from_maildir(&out, MAILDIR_PERMFAIL, &temp, "symlink");
    ck_assert_int_eq(out.state, LOCAL_FAILED);
    ck_assert_str_eq(out.reply, "5.3.5 mailbox unusable: symlink");
    local_result_from_maildir(&out, MAILDIR_PERMFAIL, &perm, NULL);
    ck_assert_int_eq(out.state, LOCAL_FAILED);
    ck_assert_str_eq(out.reply, "5.3.5 mailbox unusable: ?");

    local_result_from_maildir(&out, MAILDIR_TEMPFAIL, &perm, "No space left on device");
    ck_assert_int_eq(out.state, LOCAL_DEFERRED);
    ck_assert_str_eq(out.reply, "4.3.0 delivery failed: No space left on device");
    local_result_from_maildir(&out, (enum maildir_result)99, &temp, NULL);
    ck_assert_int_eq(out.state, LOCAL_DEFERRED);
    ck_assert_str_eq(out.reply, "4.3.0 delivery failed: ?");
}
END_TEST

/* The same mapping reached through a real delivery over its quota, and a
 * message that cannot be opened. */
START_TEST(quota_and_unreadable_message_through_a_delivery)
{
    struct local_delivery_config conf = config_for(DELIVERY_SYNC_FSYNC);
    struct local_delivery_request req = request_for("q/Maildir", "q@example.org");
    struct local_result out;

    req.quota_bytes = 10; /* the message with its trace headers is larger */
    local_deliver(&conf, &req, &out);
    ck_assert_int_eq(out.state, LOCAL_DEFERRED);
    ck_assert_msg(strncmp(out.reply, "4.2.2 mailbox full: ", 20) == 0, "%s", out.reply);
    req.quota_permanent = true;
    local_deliver(&conf, &req, &out);
    ck_assert_int_eq(out.state, LOCAL_FAILED);
    ck_assert_msg(strncmp(out.reply, "5.2.2 mailbox full: ", 20) == 0, "%s", out.reply);
    ck_assert_int_eq(count_dir("q/Maildir/new"), 0);

    req = request_for("r/Maildir", "r@example.org");
    req.open_ctx = "boom";
    struct local_batch *batch = local_batch_new(&conf);
    ck_assert_int_eq(local_batch_add(batch, &req, &out), LOCAL_DEFERRED);
    ck_assert_str_eq(out.reply, "4.3.0 cannot read the queued message: boom");
    ck_assert_uint_eq(local_batch_count(batch), 0);
    local_batch_free(&batch);
}
END_TEST

/* Every row formats; the texts are the ones logs and tests know. */
START_TEST(status_table_texts)
{
    char out[DELIVERY_STATUS_TEXT_MAX];

    for (int s = 0; s < DELIVERY_STATUS_COUNT; s++) {
        ck_assert_int_gt(delivery_status_format(out, sizeof out, (enum delivery_status)s, "x"), 6);
        ck_assert_int_eq(out[0], delivery_status_permanent((enum delivery_status)s) ? '5' : '4');
    }
    ck_assert_int_eq(delivery_status_format(out, sizeof out, DELIVERY_STATUS_COUNT, "x"), -1);
    ck_assert_str_eq(out, "");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_NO_SUCH_RECIPIENT, "a@b");
    ck_assert_str_eq(out, "5.1.1 <a@b>: no such recipient here");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_AWAITING_TRANSPORT, "relay MX");
    ck_assert_str_eq(out, "4.4.0 awaiting outbound transport (relay MX)");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE, "%s%n");
    ck_assert_str_eq(out, "4.4.3 directory unavailable: %s%n"); /* never a format */
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_FORWARDING_LOOP, "a@b");
    ck_assert_str_eq(out, "5.4.6 mail forwarding loop for a@b");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_MAILBOX_HELD, "ignored");
    ck_assert_str_eq(out, "4.2.1 mailbox held");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_DISABLED_HELD, NULL);
    ck_assert_str_eq(out, "4.2.1 mailbox disabled, mail held");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_MAILBOX_DISABLED, "a@b");
    ck_assert_str_eq(out, "5.2.1 <a@b>: mailbox disabled");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_NO_MEMORY, NULL);
    ck_assert_str_eq(out, "4.3.0 out of memory");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_EXPANSION_FAILED, "disk");
    ck_assert_str_eq(out, "4.3.0 cannot queue the expansion: disk");
    delivery_status_format(out, sizeof out, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
    ck_assert_str_eq(out, "4.3.0 cannot read the queued message");
    /* a long argument is cut, never overflows */
    char small[16];
    ck_assert_int_eq(delivery_status_format(small, sizeof small, DELIVERY_STATUS_DELIVERY_FAILED,
                                            "a very long reason indeed"),
                     15);
    ck_assert_str_eq(small, "4.3.0 delivery ");
}
END_TEST

static Suite *local_delivery_suite(void)
{
    Suite *s = suite_create("local_delivery");
    TCase *tc = tcase_create("local_delivery");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_of_several_settles_to_delivered);
    tcase_add_test(tc, full_batch_settles_first);
    tcase_add_test(tc, stable_key_twice_is_already_delivered);
    tcase_add_test(tc, default_mailbox_from_the_address);
    tcase_add_test(tc, maildir_results_map_to_states_and_codes);
    tcase_add_test(tc, quota_and_unreadable_message_through_a_delivery);
    tcase_add_test(tc, status_table_texts);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(local_delivery_suite)
