/* tools/dirmailctl_sieve.c - the sieve subcommands. "test" prints each
 * action as tab-separated fields (kind, target, then key=value), the form
 * the differential test against Pigeonhole compares. */
#include "config.h"

#include "tools/dirmailctl_sieve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery/mda_sieve.h"
#include "delivery/sieve/sieve.h"
#include "delivery/sieve/sieve_message.h"

/* The limits scripts are compiled and run under: the configuration's
 * sieve section when dirmailctl was given -c (so that check and test say
 * what delivery would), else the engine's defaults. */
static struct sieve_limits run_limits;

enum { EX_OK_ = 0, EX_FAIL_ = 1, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_NOINPUT_ = 66 };

static void sieve_usage(FILE *out)
{
    fprintf(out, "usage: dirmailctl sieve check FILE...\n"
                 "       dirmailctl sieve test [-f SENDER] [-t RECIPIENT] [-a USER-ADDRESS]... "
                 "[-P PERSONAL-DIR] [-G GLOBAL-DIR] SCRIPT MESSAGE\n");
}

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *data = malloc(max + 1);
    size_t n = data != NULL ? fread(data, 1, max + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (data == NULL || err) {
        free(data);
        errno = data == NULL ? ENOMEM : EIO;
        return NULL;
    }
    *len = n; /* n > max is reported by sieve_compile as too long */
    return data;
}

static struct sieve_script *compile_file(const char *path, bool print_ok, int *status)
{
    const struct sieve_limits limits = run_limits;
    size_t len;
    char *text = read_file(path, limits.script_max, &len);
    if (text == NULL) {
        fprintf(stderr, "dirmailctl: %s: %s\n", path, strerror(errno));
        *status = EX_NOINPUT_;
        return NULL;
    }
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(text, len, &limits, &errors);
    free(text);
    for (size_t i = 0; i < errors.count; i++)
        printf("%s:%u:%u: %s\n", path, errors.items[i].line, errors.items[i].column,
               errors.items[i].message);
    sieve_errors_clear(&errors);
    if (s == NULL) {
        *status = EX_DATAERR_;
        return NULL;
    }
    /* warnings on stdout for check, on stderr for test (whose stdout is
     * the actions, one a line) */
    const struct sieve_errors *w = sieve_script_warnings(s);
    for (size_t i = 0; i < w->count; i++)
        fprintf(print_ok ? stdout : stderr, "%s:%u:%u: warning: %s\n", path, w->items[i].line,
                w->items[i].column, w->items[i].message);
    if (print_ok)
        printf("%s: ok\n", path);
    return s;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 1) {
        sieve_usage(stderr);
        return EX_USAGE_;
    }
    int status = EX_OK_;
    for (int i = 0; i < argc; i++) {
        int st = EX_OK_;
        struct sieve_script *s = compile_file(argv[i], true, &st);
        sieve_script_free(&s);
        if (st != EX_OK_ && status == EX_OK_)
            status = st;
    }
    return status;
}

/* Where "include" finds scripts: DIR/NAME.sieve (RFC 6609's personal and
 * global locations). */
struct include_dirs {
    const char *personal, *global;
};

static int fetch_include(void *ctx, const char *name, bool global, char **text, size_t *len)
{
    const struct include_dirs *dirs = ctx;
    const char *dir = global ? dirs->global : dirs->personal;
    if (dir == NULL)
        return 0;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.sieve", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    *text = read_file(path, run_limits.script_max, len);
    if (*text != NULL)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

static int cmd_test(int argc, char **argv)
{
    struct include_dirs dirs = {NULL, NULL};
    const char *from = NULL, *to = NULL;
    const char *addrs[16];
    size_t naddrs = 0;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "+f:t:a:P:G:")) != -1) {
        switch (opt) {
        case 'P':
            dirs.personal = optarg;
            break;
        case 'G':
            dirs.global = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'a':
            if (naddrs < sizeof addrs / sizeof addrs[0])
                addrs[naddrs++] = optarg;
            break;
        default:
            sieve_usage(stderr);
            return EX_USAGE_;
        }
    }
    if (argc - optind != 2) {
        sieve_usage(stderr);
        return EX_USAGE_;
    }
    int status = EX_OK_;
    struct sieve_script *s = compile_file(argv[optind], false, &status);
    if (s == NULL)
        return status;
    int fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
    char *error = NULL;
    struct sieve_message *msg = NULL;
    if (fd >= 0) {
        msg = sieve_message_read_fd(fd, SIEVE_MESSAGE_MAX, &error);
        close(fd);
    } else {
        error = strdup(strerror(errno));
    }
    if (msg == NULL || sieve_message_set_envelope(msg, from, to, NULL) < 0) {
        fprintf(stderr, "dirmailctl: %s: %s\n", argv[optind + 1],
                error != NULL ? error : "out of memory");
        free(error);
        sieve_message_free(&msg);
        sieve_script_free(&s);
        return EX_NOINPUT_;
    }
    struct sieve_env env = {.ctx = &dirs,
                            .include_fetch = fetch_include,
                            .user_addresses = addrs,
                            .user_address_count = naddrs};
    struct sieve_result result;
    enum sieve_run_status st = sieve_run(s, msg, &env, &result);
    char *text = sieve_result_format(&result);
    fputs(text != NULL ? text : "error\tout of memory\n", stdout);
    free(text);
    sieve_result_clear(&result);
    sieve_message_free(&msg);
    sieve_script_free(&s);
    return st == SIEVE_RUN_OK ? EX_OK_ : EX_FAIL_;
}

int dirmailctl_sieve(int argc, char **argv, const struct config_sieve *limits)
{
    if (limits != NULL)
        mda_sieve_limits(limits, &run_limits);
    else
        sieve_limits_default(&run_limits);
    if (argc < 1) {
        sieve_usage(stderr);
        return EX_USAGE_;
    }
    if (strcmp(argv[0], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[0], "test") == 0)
        return cmd_test(argc, argv);
    fprintf(stderr, "dirmailctl: unknown sieve command \"%s\"\n", argv[0]);
    sieve_usage(stderr);
    return EX_USAGE_;
}
