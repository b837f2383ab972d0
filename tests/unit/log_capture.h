/* tests/unit/log_capture.h - catch what a test logs: stderr goes to a
 * temporary file between log_capture_begin and log_capture_end, which
 * returns its text, so a test can look for the exact lines that
 * integration tests and operators grep (and for a password that must not
 * be there). Header-only, for Check unit tests. */
#ifndef DIRMAIL_TESTS_LOG_CAPTURE_H
#define DIRMAIL_TESTS_LOG_CAPTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct log_capture {
    char path[64];
    int saved; /* the stderr to put back */
    char text[1 << 16];
};

/* log_capture_begin - stderr into a new temporary file from now on. */
static inline void log_capture_begin(struct log_capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/dirmail-test-log-XXXXXX");
    int fd = mkstemp(c->path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    ck_assert_int_ge(c->saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    close(fd);
}

/* log_capture_end - stderr back, the file removed; its text (owned by c). */
static inline const char *log_capture_end(struct log_capture *c)
{
    fflush(stderr);
    ck_assert_int_ge(dup2(c->saved, STDERR_FILENO), 0);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(c->text, 1, sizeof c->text - 1, f);
    c->text[n] = '\0';
    fclose(f);
    unlink(c->path);
    return c->text;
}

#endif
