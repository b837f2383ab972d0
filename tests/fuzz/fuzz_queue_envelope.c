/* tests/fuzz/fuzz_queue_envelope.c - libFuzzer harness for the spool's file
 * parsers (queue/queue_envelope.c): the queue runner reads these files
 * after any crash, so a torn or hostile file must give an error, never a
 * crash. The first byte picks the parser: an envelope (which, when it
 * parses, must format and parse back to the same envelope), or status
 * records applied to a fixed two-recipient envelope. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* same_envelope - the fields the envelope file carries are equal. */
static int same_envelope(const struct queue_envelope *a, const struct queue_envelope *b)
{
    if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival || a->size != b->size ||
        a->ret != b->ret || a->rcpt_count != b->rcpt_count || !same_string(a->sender, b->sender) ||
        !same_string(a->envid, b->envid) || !same_string(a->client_address, b->client_address) ||
        !same_string(a->client_helo, b->client_helo) || !same_string(a->auth_user, b->auth_user) ||
        !same_string(a->tls_version, b->tls_version) || !same_string(a->tls_cipher, b->tls_cipher))
        return 0;
    for (size_t i = 0; i < a->rcpt_count; i++) {
        if (!same_string(a->rcpts[i].address, b->rcpts[i].address) ||
            a->rcpts[i].notify != b->rcpts[i].notify ||
            !same_string(a->rcpts[i].orcpt, b->rcpts[i].orcpt))
            return 0;
    }
    return 1;
}

static void fuzz_envelope(const char *text, size_t len)
{
    struct queue_envelope *env = NULL, *again = NULL;
    char *error = NULL, *formatted = NULL;
    size_t formatted_len = 0;
    if (queue_envelope_parse(text, len, &env, &error) < 0) {
        if (error == NULL)
            abort(); /* every refusal says why */
        free(error);
        return;
    }
    if (queue_envelope_format(env, &formatted, &formatted_len, &error) < 0)
        abort(); /* what was read can be written again */
    if (queue_envelope_parse(formatted, formatted_len, &again, &error) < 0 ||
        !same_envelope(env, again))
        abort();
    free(formatted);
    queue_envelope_free(&again);
    queue_envelope_free(&env);
}

static void fuzz_status(const char *text, size_t len)
{
    struct queue_envelope *env = queue_envelope_new();
    char *error = NULL;
    if (env == NULL || queue_envelope_add_recipient(env, "a@example.org", 0, NULL, &error) < 0 ||
        queue_envelope_add_recipient(env, "b@example.org", 0, NULL, &error) < 0)
        abort();
    if (queue_status_apply(env, text, len, &error) < 0)
        free(error);
    for (size_t i = 0; i < env->rcpt_count; i++) {
        if (env->rcpts[i].state > QUEUE_RCPT_FAILED)
            abort();
    }
    queue_envelope_free(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* A private NUL-terminated copy: the parsers take a length, but a
     * NUL-terminated buffer lets ASan catch a read past the end either way. */
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1)
        fuzz_status(text, size - 1);
    else
        fuzz_envelope(text, size - 1);
    free(text);
    return 0;
}
