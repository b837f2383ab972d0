/* tests/unit/test_command_table.c - proto/command_table.c: a verb runs in
 * the states its row names, is "not now" elsewhere, and unknown without a
 * row; the first row for a verb decides; a protocol's own row type (the
 * struct command_row first, a typed handler after) comes back whole. */
#include "config.h"

#include "proto/command_table.h"
#include "tests/unit/tap_main.h"

enum verb { V_HELLO = 1, V_SEND, V_QUIT, V_NEVER };
enum state { S_NEW, S_READY, S_BUSY };

struct session {
    int ran;
};

typedef void handler_fn(struct session *s);

static void hello(struct session *s)
{
    s->ran = V_HELLO;
}

static void send_(struct session *s)
{
    s->ran = V_SEND;
}

static void quit(struct session *s)
{
    s->ran = V_QUIT;
}

/* a protocol's row: the lookup's part first, its own after */
static const struct row {
    struct command_row row;
    handler_fn *handler;
} rows[] = {
    {{V_HELLO, COMMAND_STATE(S_NEW) | COMMAND_STATE(S_READY)}, hello},
    {{V_SEND, COMMAND_STATE(S_READY)}, send_},
    {{V_QUIT, COMMAND_STATE(S_NEW) | COMMAND_STATE(S_READY) | COMMAND_STATE(S_BUSY)}, quit},
    {{V_SEND, COMMAND_STATE(S_BUSY)}, quit}, /* shadowed by the first V_SEND row */
    {{V_NEVER, 0}, quit},
};

static enum command_match match(int verb, unsigned state, const struct row **row_r)
{
    const void *found = (const void *)1;
    enum command_match m = command_table_match(rows, sizeof rows / sizeof rows[0], sizeof rows[0],
                                               verb, state, &found);
    *row_r = found;
    return m;
}

START_TEST(runs_where_allowed)
{
    struct session s = {0};
    const struct row *r;

    ck_assert_int_eq(match(V_HELLO, S_NEW, &r), COMMAND_RUN);
    ck_assert_ptr_eq(r, &rows[0]);
    r->handler(&s);
    ck_assert_int_eq(s.ran, V_HELLO);
    ck_assert_int_eq(match(V_SEND, S_READY, &r), COMMAND_RUN);
    r->handler(&s);
    ck_assert_int_eq(s.ran, V_SEND);
    ck_assert_int_eq(match(V_QUIT, S_BUSY, &r), COMMAND_RUN);
    ck_assert_ptr_eq(r, &rows[2]);
}
END_TEST

START_TEST(not_now_elsewhere)
{
    const struct row *r;

    ck_assert_int_eq(match(V_HELLO, S_BUSY, &r), COMMAND_NOT_NOW);
    ck_assert_ptr_eq(r, &rows[0]);
    /* the first row for a verb decides: the later V_SEND row never runs */
    ck_assert_int_eq(match(V_SEND, S_BUSY, &r), COMMAND_NOT_NOW);
    ck_assert_ptr_eq(r, &rows[1]);
    ck_assert_int_eq(match(V_NEVER, S_NEW, &r), COMMAND_NOT_NOW);
}
END_TEST

START_TEST(unknown_without_a_row)
{
    const struct row *r;

    ck_assert_int_eq(match(0, S_READY, &r), COMMAND_UNKNOWN);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(match(99, S_READY, &r), COMMAND_UNKNOWN);
    ck_assert_ptr_null(r);
    const void *found = (const void *)1;
    ck_assert_int_eq(command_table_match(rows, 0, sizeof rows[0], V_HELLO, S_NEW, &found),
                     COMMAND_UNKNOWN);
    ck_assert_ptr_null(found);
}
END_TEST

static Suite *command_table_suite(void)
{
    Suite *s = suite_create("command_table");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, runs_where_allowed);
    tcase_add_test(tc, not_now_elsewhere);
    tcase_add_test(tc, unknown_without_a_row);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(command_table_suite)
