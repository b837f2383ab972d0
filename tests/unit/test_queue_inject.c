/* tests/unit/test_queue_inject.c - queue/queue_inject.c: a message written
 * in pieces and with a copy of a spooled one commits whole, an envelope
 * without recipients or sender is refused and leaves nothing behind, a
 * message made here carries its origin's client facts, and an abort leaves
 * nothing in the spool. */
#include "config.h"

#include "queue/queue_inject.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static struct queue *q;

static void setup(void)
{
    char *error = NULL, base[200];
    temp_dir_make(base, sizeof base, "test_queue_inject");
    snprintf(dir, sizeof dir, "%s/queue", base);
    ck_assert_msg(queue_open(dir, &q, &error) == 0, "queue_open: %s", error);
}

static void teardown(void)
{
    queue_close(&q);
    char base[256];
    snprintf(base, sizeof base, "%s", dir);
    *strrchr(base, '/') = '\0';
    temp_dir_remove(base);
}

static struct queue_envelope *envelope(const char *rcpt)
{
    char *error = NULL;
    struct queue_envelope *env = queue_envelope_new();
    ck_assert_ptr_nonnull(env);
    if (rcpt != NULL)
        ck_assert_int_eq(queue_envelope_add_recipient(env, rcpt, 0, NULL, &error), 0);
    return env;
}

/* message_of - the spooled message of id, malloc'd and NUL-terminated. */
static char *message_of(const char *id)
{
    int fd;
    uint64_t len;
    char *error = NULL;
    ck_assert_int_eq(queue_open_message(q, id, &fd, &len, &error), 0);
    char *text = calloc(1, len + 1);
    ck_assert_int_eq(read(fd, text, len), (ssize_t)len);
    close(fd);
    return text;
}

static int entries(const char *sub)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    return temp_dir_count(path);
}

START_TEST(pieces_and_a_copy_commit_whole)
{
    char *error = NULL;
    struct queue_envelope *first = envelope("a@example.org");
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    ck_assert_ptr_nonnull(inj);
    ck_assert_int_eq(strlen(queue_inject_id(inj)), QUEUE_ID_LEN);
    ck_assert_int_eq(queue_inject_write(inj, "Subject: one\r\n", 14, &error), 0);
    ck_assert_int_eq(queue_inject_write(inj, "\r\nbody\r\n", 8, &error), 0);
    ck_assert_int_eq(queue_inject_commit(&inj, first, &error), 0);
    ck_assert_ptr_null(inj);
    ck_assert_int_eq(first->size, 22);

    struct queue_envelope *second = envelope("b@example.org");
    inj = queue_inject_begin(q, QUEUE_ORIGIN_EXPANSION, &error);
    ck_assert_int_eq(queue_inject_write(inj, "Delivered-To: a@example.org\r\n", 29, &error), 0);
    ck_assert_int_eq(queue_inject_copy(inj, first->id, &error), 0);
    ck_assert_int_eq(queue_inject_commit(&inj, second, &error), 0);
    char *text = message_of(second->id);
    ck_assert_str_eq(text, "Delivered-To: a@example.org\r\nSubject: one\r\n\r\nbody\r\n");
    free(text);

    /* what the runner loads is what was committed, with the origin's facts */
    struct queue_envelope *loaded = NULL;
    ck_assert_int_eq(queue_load_envelope(q, second->id, &loaded, &error), 0);
    ck_assert_str_eq(loaded->client_address, "127.0.0.1");
    ck_assert_str_eq(loaded->client_helo, "dirmail-expansion");
    ck_assert_str_eq(loaded->rcpts[0].address, "b@example.org");
    queue_envelope_free(&loaded);
    ck_assert_int_eq(queue_load_envelope(q, first->id, &loaded, &error), 0);
    ck_assert_ptr_null(loaded->client_helo); /* a client's are the caller's */
    queue_envelope_free(&loaded);
    queue_envelope_free(&first);
    queue_envelope_free(&second);
}
END_TEST

START_TEST(envelope_without_recipients_or_sender_is_refused)
{
    char *error = NULL;
    struct queue_envelope *env = envelope(NULL);
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_EXPANSION, &error);
    ck_assert_int_eq(queue_inject_write(inj, "x\r\n", 3, &error), 0);
    ck_assert_int_eq(queue_inject_commit(&inj, env, &error), -1);
    ck_assert_ptr_null(inj);
    ck_assert_str_eq(error, "envelope without recipients");
    free(error);
    error = NULL;
    queue_envelope_free(&env);

    env = envelope("a@example.org");
    free(env->sender);
    env->sender = NULL;
    inj = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    ck_assert_int_eq(queue_inject_commit(&inj, env, &error), -1);
    ck_assert_str_eq(error, "envelope without sender");
    free(error);
    queue_envelope_free(&env);
    ck_assert_int_eq(entries("active"), 0);
    ck_assert_int_eq(entries("tmp"), 0);
}
END_TEST

START_TEST(copy_of_a_missing_message_fails)
{
    char *error = NULL;
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_EXPANSION, &error);
    ck_assert_int_eq(queue_inject_copy(inj, "0005f1c2a3b4c0012340001", &error), -1);
    ck_assert_ptr_nonnull(error);
    free(error);
    queue_inject_abort(&inj);
    ck_assert_ptr_null(inj);
    queue_inject_abort(&inj); /* NULL is fine */
    ck_assert_int_eq(entries("tmp"), 0);
    ck_assert_int_eq(entries("active"), 0);
}
END_TEST

START_TEST(origin_names)
{
    ck_assert_str_eq(queue_origin_name(QUEUE_ORIGIN_CLIENT), "client");
    ck_assert_str_eq(queue_origin_name(QUEUE_ORIGIN_EXPANSION), "expansion");
}
END_TEST

static Suite *queue_inject_suite(void)
{
    Suite *s = suite_create("queue_inject");
    TCase *tc = tcase_create("inject");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pieces_and_a_copy_commit_whole);
    tcase_add_test(tc, envelope_without_recipients_or_sender_is_refused);
    tcase_add_test(tc, copy_of_a_missing_message_fails);
    tcase_add_test(tc, origin_names);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_inject_suite)
