/* tests/unit/test_queue_control.c - the control protocol's request parser
 * (queue/queue_control.c): what dirmailctl may ask the runner, and every
 * malformed request refused with its reason. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "queue/queue_control.h"
#include "tap_main.h"

#define ID "0005f1c2a3b4c0012340001"

static bool parse(const char *line, enum queue_control_cmd *cmd, char *id, const char **why)
{
    return queue_control_parse(line, strlen(line), cmd, id, why);
}

START_TEST(test_requests)
{
    enum queue_control_cmd cmd;
    char id[QUEUE_ID_SIZE];
    const char *why = NULL;
    ck_assert(parse("flush", &cmd, id, &why));
    ck_assert_int_eq(cmd, QUEUE_CONTROL_FLUSH);
    ck_assert_str_eq(id, "");
    ck_assert(parse("flush " ID "\r", &cmd, id, &why));
    ck_assert_int_eq(cmd, QUEUE_CONTROL_FLUSH);
    ck_assert_str_eq(id, ID);
    ck_assert(parse("hold " ID, &cmd, id, &why));
    ck_assert_int_eq(cmd, QUEUE_CONTROL_HOLD);
    ck_assert(parse("release " ID, &cmd, id, &why));
    ck_assert_int_eq(cmd, QUEUE_CONTROL_RELEASE);
}
END_TEST

START_TEST(test_refused)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"", "unknown command"},
        {"FLUSH", "unknown command"},
        {"flushall", "unknown command"},
        {"hold", "queue id missing"},
        {"release", "queue id missing"},
        {"hold ", "bad queue id"},
        {"hold " ID " ", "bad queue id"},
        {"hold ../../etc/passwd0000000", "bad queue id"},
        {"flush 0005F1C2A3B4C0012340001", "bad queue id"},
        {"flush  " ID, "bad queue id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enum queue_control_cmd cmd;
        char id[QUEUE_ID_SIZE];
        const char *why = NULL;
        ck_assert_msg(!parse(bad[i].line, &cmd, id, &why), "%s", bad[i].line);
        ck_assert_str_eq(why, bad[i].why);
    }
    /* a NUL inside is no request either (the length counts, not strlen) */
    enum queue_control_cmd cmd;
    char id[QUEUE_ID_SIZE];
    const char *why = NULL;
    ck_assert(!queue_control_parse("flush\0x", 7, &cmd, id, &why));
}
END_TEST

static Suite *queue_control_suite(void)
{
    Suite *s = suite_create("queue_control");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_requests);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_control_suite)
