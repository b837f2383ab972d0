/* gateway/dirmaild.c - the dirmaild command: options, configuration check
 * (-n), daemonizing, then the master (master.c) takes over. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "gateway/master.h"
#include "gateway/transport_smtp.h"
#include "lib/log.h"

#define DEFAULT_CONFIG SYSCONFDIR "/dirmail/dirmail.conf"

static void usage(FILE *out)
{
    fprintf(out, "usage: dirmaild [-c FILE] [-n] [-f] [-h|--help] [--version]\n"
                 "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
                 "  -n       check the configuration, print it with defaults and exit\n"
                 "  -f       stay in the foreground and log to stderr\n"
                 "  -h, --help  this help\n"
                 "  --version   the version of dirmail\n");
}

/* daemonize - the classic double fork: the first child leaves the caller's
 * session (setsid), the second can never acquire a controlling terminal.
 * The parent waits for nothing: start-up errors after this go to syslog. */
static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        return -1;
    if (fd > 2)
        close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    bool check = false, foreground = false;
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:nfh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'f':
            foreground = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("dirmaild (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    char *error = NULL;
    struct config *conf = config_load(path, &error);
    if (conf == NULL) {
        fprintf(stderr, "dirmaild: %s\n", error != NULL ? error : "out of memory");
        free(error);
        return 1;
    }
    if (check) {
        if (transport_smtp_check(conf, &error) < 0) {
            fprintf(stderr, "dirmaild: %s: smtp_client: %s\n", path,
                    error != NULL ? error : "out of memory");
            free(error);
            config_free(&conf);
            return 1;
        }
        config_print(conf, stdout);
        config_free(&conf);
        return fflush(stdout) == 0 ? 0 : 1;
    }

    /* Children and reloads read the file after chdir("/"). */
    char abspath[PATH_MAX];
    if (realpath(path, abspath) == NULL) {
        fprintf(stderr, "dirmaild: %s: %s\n", path, strerror(errno));
        config_free(&conf);
        return 1;
    }
    if (!foreground && daemonize() < 0) {
        fprintf(stderr, "dirmaild: cannot become a daemon: %s\n", strerror(errno));
        config_free(&conf);
        return 1;
    }
    return master_run(conf, abspath, foreground);
}
