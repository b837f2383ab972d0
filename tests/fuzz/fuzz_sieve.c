/* tests/fuzz/fuzz_sieve.c - libFuzzer harness for the Sieve engine's lexer,
 * parser and validator (delivery/sieve/) on arbitrary script text, and for
 * what compiles, one run against a small fixed message: no crash, no leak,
 * every error with a position inside the text, and every run ends with
 * something that stores the mail unless the script said otherwise. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve.h"
#include "delivery/sieve/sieve_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MESSAGE[] = "From: Alice <alice@example.com>\r\n"
                              "To: me+tag@example.org\r\n"
                              "Subject: =?UTF-8?B?w6k=?= [list] hello\r\n"
                              "Content-Type: multipart/mixed; boundary=b\r\n"
                              "\r\n"
                              "--b\r\nContent-Type: text/plain\r\n\r\nbody text\r\n--b--\r\n";

static unsigned lines_in(const uint8_t *data, size_t size)
{
    unsigned n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    limits.steps_max = 200000;
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile((const char *)data, size, &limits, &errors);
    if (s == NULL) {
        if (errors.count == 0)
            abort();
        for (size_t i = 0; i < errors.count; i++)
            if (errors.items[i].message == NULL || errors.items[i].line > lines_in(data, size))
                abort();
        sieve_errors_clear(&errors);
        return 0;
    }
    if (errors.count != 0)
        abort();
    struct sieve_message *m = sieve_message_parse(MESSAGE, sizeof MESSAGE - 1, NULL);
    if (m == NULL ||
        sieve_message_set_envelope(m, "alice@example.com", "me+tag@example.org", NULL) < 0)
        abort();
    struct sieve_result r;
    enum sieve_run_status st = sieve_run(s, m, NULL, &r);
    if (st != SIEVE_RUN_OK && (r.count != 1 || !r.actions[0].implicit))
        abort();
    char *text = sieve_result_format(&r);
    free(text);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
    return 0;
}
