/* tests/unit/test_imap_sort_subject.c - RFC 5256 2.1's base subject
 * (reader/imap_sort_subject.c): leaders, blobs, trailers and the
 * [fwd: ...] wrapping taken off in the order the RFC gives, white space
 * collapsed, ASCII case folded, and whether it was a reply or forward. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "reader/imap_sort_subject.h"
#include "tests/unit/tap_main.h"

static void expect(const char *subject, const char *base, bool reply)
{
    bool was_reply = !reply;
    char *got = imap_sort_base_subject(subject, &was_reply);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, base) == 0, "\"%s\": \"%s\", not \"%s\"", subject, got, base);
    ck_assert_msg(was_reply == reply, "\"%s\": reply %d", subject, was_reply);
    free(got);
}

START_TEST(plain_subjects_are_folded_and_collapsed)
{
    expect("Lunch plans", "LUNCH PLANS", false);
    expect("  Lunch \t  plans\r\n ", "LUNCH PLANS", false);
    expect("", "", false);
    expect("Café", "CAFé", false); /* i;ascii-casemap folds ASCII only */
}
END_TEST

START_TEST(reply_and_forward_leaders)
{
    expect("Re: Lunch", "LUNCH", true);
    expect("RE:Lunch", "LUNCH", true);
    expect("Re: re: RE: Lunch", "LUNCH", true);
    expect("Fw: Lunch", "LUNCH", true);
    expect("FWD : Lunch", "LUNCH", true);
    expect("Re[2]: Lunch", "LUNCH", true);
    expect("[team] Re: Lunch", "LUNCH", true);
    expect("Re: [team] Lunch", "LUNCH", true);
    expect("Lunch (fwd)", "LUNCH", true);
    expect("Lunch (FWD)  (fwd) ", "LUNCH", true);
    expect("Regarding lunch", "REGARDING LUNCH", false);
    expect("Re lunch", "RE LUNCH", false);
}
END_TEST

START_TEST(blobs_stay_when_nothing_else_would)
{
    expect("[team] Lunch", "LUNCH", false);
    expect("[team]", "[TEAM]", false);
    expect("[a][b] Lunch", "LUNCH", false);
    expect("Re: [team]", "[TEAM]", true);
    expect("[unclosed Lunch", "[UNCLOSED LUNCH", false);
}
END_TEST

START_TEST(fwd_wrapping)
{
    expect("[fwd: Lunch]", "LUNCH", true);
    expect("[Fwd: Re: Lunch (fwd)]", "LUNCH", true);
    expect("[fwd: [fwd: Lunch]]", "LUNCH", true);
    expect("[fwd: Lunch", "[FWD: LUNCH", false); /* no "]": neither a blob nor wrapped */
}
END_TEST

static Suite *imap_sort_subject_suite(void)
{
    Suite *s = suite_create("imap_sort_subject");
    TCase *tc = tcase_create("base_subject");
    tcase_add_test(tc, plain_subjects_are_folded_and_collapsed);
    tcase_add_test(tc, reply_and_forward_leaders);
    tcase_add_test(tc, blobs_stay_when_nothing_else_would);
    tcase_add_test(tc, fwd_wrapping);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(imap_sort_subject_suite)
