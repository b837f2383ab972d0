/* auth/auth_main.c - dirmail-auth, started by dirmaild's master (fork and
 * exec) with the listening auth socket inherited:
 *   dirmail-auth -c CONFIG -s FD [-f]
 * It reads the configuration (and the LDAP password file) while still root,
 * builds the directory client from it, drops to the mail user, and serves
 * the socket (auth_process.c). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth_process.h"
#include "auth/directory.h"
#include "conf/conf.h"
#include "lib/privdrop.h"
#include "lib/log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: dirmail-auth -c CONFIG -s FD [-f] | -h|--help | --version\n"
                 "  started by dirmaild; FD is the listening auth socket\n");
}

/* socket_fd_check - fd must be a listening stream socket. */
static int socket_fd_check(const char *text, int *fd_r)
{
    char *end;
    errno = 0;
    long fd = strtol(text, &end, 10);
    int type = 0, listening = 0;
    socklen_t len = sizeof type, len2 = sizeof listening;
    if (errno != 0 || *end != '\0' || fd < 3 || fd > 65535 ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
        getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len2) < 0 || !listening)
        return -1;
    *fd_r = (int)fd;
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *fdtext = NULL;
    bool foreground = false;
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:s:fh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 's':
            fdtext = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("dirmail-auth (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || fdtext == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    pid_t master = getppid();
    log_init(LOG_TARGET_STDERR, "dirmaild/auth", LOG_LEVEL_INFO);
    int fd;
    if (socket_fd_check(fdtext, &fd) < 0) {
        log_error("event=auth_failed error=\"-s %s: not a listening socket\"", fdtext);
        return 1;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);

    /* As root still: the configuration and the LDAP password file. */
    char *error = NULL;
    struct config *conf = config_load(path, &error);
    if (conf == NULL) {
        log_error("event=auth_failed error=\"%s\"", error != NULL ? error : "out of memory");
        free(error);
        return 1;
    }
    log_init(foreground ? LOG_TARGET_STDERR : conf->server.log_target, "dirmaild/auth",
             conf->server.log_level);

    /* The directory client copies the bind password now, while config_load's
     * root-only password file has been read; connections open on first use. */
    struct directory_options opts;
    const char *derror = NULL;
    if (directory_options_from_config(conf, &opts, &derror) < 0) {
        log_error("event=auth_failed error=\"directory: %s\"", derror);
        config_free(&conf);
        return 1;
    }
    struct directory *dir = directory_new(&opts, &derror);
    directory_options_clear(&opts);
    if (dir == NULL) {
        log_error("event=auth_failed error=\"directory: %s\"", derror);
        config_free(&conf);
        return 1;
    }

    struct privdrop_ids ids;
    int status = 1;
    if (privdrop_resolve(conf->server.user, conf->server.group, &ids, &error) < 0) {
        log_error("event=privdrop_failed error=\"%s\"", error != NULL ? error : "out of memory");
        free(error);
        directory_free(&dir);
        config_free(&conf);
        return 1;
    }
    if (privdrop_child_begin(&ids, master) < 0)
        goto out;
    status = auth_process_run(conf, dir, fd, geteuid());
out:
    close(fd);
    directory_free(&dir);
    privdrop_ids_clear(&ids);
    config_free(&conf);
    return status;
}
