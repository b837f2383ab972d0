/* tests/unit/tap_main.h - the main() every Check unit-test program shares:
 * run the suite in Check's fork mode and print TAP on stdout, so automake's
 * TAP driver counts each test case. Define the suite function and then
 * write TAP_MAIN(suite_function). */
#ifndef DIRMAIL_TESTS_TAP_MAIN_H
#define DIRMAIL_TESTS_TAP_MAIN_H

#include <check.h>
#include <stdlib.h>

#define TAP_MAIN(suite_fn)                                                                         \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_set_tap(sr, "-");                                                                  \
        srunner_run_all(sr, CK_SILENT);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                          \
    }

#endif
