/* tests/unit/test_buf.c - the length-tracked buffer (lib/buf.c). */
#include "config.h"

#include "lib/buf.h"
#include "tests/unit/tap_main.h"

#include <string.h>

START_TEST(append_and_consume)
{
    struct buf b = BUF_INIT;
    ck_assert_uint_eq(buf_len(&b), 0);
    ck_assert_int_eq(buf_append(&b, "hello ", 6), 0);
    ck_assert_int_eq(buf_append(&b, "world", 5), 0);
    ck_assert_uint_eq(buf_len(&b), 11);
    ck_assert_mem_eq(buf_ptr(&b), "hello world", 11);
    buf_consume(&b, 6);
    ck_assert_uint_eq(buf_len(&b), 5);
    ck_assert_mem_eq(buf_ptr(&b), "world", 5);
    buf_consume(&b, 100); /* more than held: empties */
    ck_assert_uint_eq(buf_len(&b), 0);
    buf_release(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(nul_bytes_are_data)
{
    struct buf b = BUF_INIT;
    ck_assert_int_eq(buf_append(&b, "a\0b", 3), 0);
    ck_assert_uint_eq(buf_len(&b), 3);
    ck_assert_mem_eq(buf_ptr(&b), "a\0b", 3);
    buf_release(&b);
}
END_TEST

START_TEST(printf_appends_without_nul)
{
    struct buf b = BUF_INIT;
    ck_assert_int_eq(buf_printf(&b, "%d %s", 250, "ok"), 0);
    ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
    ck_assert_int_eq(buf_printf(&b, "|%05u", 42u), 0);
    ck_assert_uint_eq(buf_len(&b), strlen("250 ok|00042"));
    ck_assert_mem_eq(buf_ptr(&b), "250 ok|00042", buf_len(&b));
    buf_release(&b);
}
END_TEST

START_TEST(printf_large)
{
    struct buf b = BUF_INIT;
    char big[10000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
    ck_assert_uint_eq(buf_len(&b), sizeof big + 1);
    ck_assert_int_eq(buf_ptr(&b)[0], '<');
    ck_assert_int_eq(buf_ptr(&b)[sizeof big], '>');
    buf_release(&b);
}
END_TEST

START_TEST(reserve_tail_commit)
{
    struct buf b = BUF_INIT;
    ck_assert_int_eq(buf_reserve(&b, 100), 0);
    ck_assert_uint_ge(buf_room(&b), 100);
    memcpy(buf_tail(&b), "abcdef", 6);
    buf_commit(&b, 6);
    ck_assert_mem_eq(buf_ptr(&b), "abcdef", 6);
    /* After consuming, reserving reuses the front instead of growing. */
    size_t cap = b.cap;
    buf_consume(&b, 4);
    ck_assert_int_eq(buf_reserve(&b, cap - 2), 0);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_uint_eq(b.head, 0);
    ck_assert_mem_eq(buf_ptr(&b), "ef", 2);
    /* Growing keeps the data. */
    ck_assert_int_eq(buf_reserve(&b, cap * 4), 0);
    ck_assert_uint_ge(b.cap, cap * 4 + 2);
    ck_assert_mem_eq(buf_ptr(&b), "ef", 2);
    buf_release(&b);
}
END_TEST

START_TEST(reserve_overflow_refused)
{
    struct buf b = BUF_INIT;
    ck_assert_int_eq(buf_append(&b, "x", 1), 0);
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), -1);
    ck_assert_uint_eq(buf_len(&b), 1);
    ck_assert_int_eq(buf_ptr(&b)[0], 'x');
    buf_release(&b);
}
END_TEST

START_TEST(consumed_bytes_stay_readable)
{
    /* conn returns lines pointing into the buffer after consuming them. */
    struct buf b = BUF_INIT;
    ck_assert_int_eq(buf_append(&b, "line\n", 5), 0);
    const char *p = buf_ptr(&b);
    buf_consume(&b, 5);
    ck_assert_mem_eq(p, "line\n", 5);
    buf_release(&b);
}
END_TEST

START_TEST(new_and_free)
{
    struct buf *b = buf_new();
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(buf_append(b, "x", 1), 0);
    buf_free(&b);
    ck_assert_ptr_null(b);
    buf_free(&b); /* NULL is fine */
}
END_TEST

START_TEST(many_small_appends)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        ck_assert_int_eq(buf_printf(&b, "%04d", i % 10000), 0);
        if (i % 3 == 0)
            buf_consume(&b, 2);
    }
    size_t expect = 10000 * 4 - 3334 * 2;
    ck_assert_uint_eq(buf_len(&b), expect);
    buf_release(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, append_and_consume);
    tcase_add_test(tc, nul_bytes_are_data);
    tcase_add_test(tc, printf_appends_without_nul);
    tcase_add_test(tc, printf_large);
    tcase_add_test(tc, reserve_tail_commit);
    tcase_add_test(tc, reserve_overflow_refused);
    tcase_add_test(tc, consumed_bytes_stay_readable);
    tcase_add_test(tc, new_and_free);
    tcase_add_test(tc, many_small_appends);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(buf_suite)
