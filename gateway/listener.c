/* gateway/listener.c - see listener.h. */
#include "config.h"

#include "gateway/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/unix_listen.h"
#include "lib/error.h"

/* open_listener - socket, options, bind, listen for one literal address. */
static int open_listener(const char *host, unsigned port, char **error_r)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
    socklen_t len;
    memset(&addr, 0, sizeof addr);
    if (inet_pton(AF_INET, host, &addr.in.sin_addr) == 1) {
        addr.in.sin_family = AF_INET;
        addr.in.sin_port = htons((uint16_t)port);
        len = sizeof addr.in;
    } else if (inet_pton(AF_INET6, host, &addr.in6.sin6_addr) == 1) {
        addr.in6.sin6_family = AF_INET6;
        addr.in6.sin6_port = htons((uint16_t)port);
        len = sizeof addr.in6;
    } else {
        error_set(error_r, "listen %s:%u: not a literal IPv4 or IPv6 address", host, port);
        return -1;
    }
    int fd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_set(error_r, "listen %s:%u: socket: %s", host, port, strerror(errno));
        return -1;
    }
    int on = 1;
    /* SO_REUSEADDR: restart while old connections sit in TIME_WAIT. V6ONLY:
     * "::" must not also take the IPv4 port that "0.0.0.0" binds. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        (addr.sa.sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0)) {
        error_set(error_r, "listen %s:%u: setsockopt: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, &addr.sa, len) < 0) {
        error_set(error_r, "listen %s:%u: bind: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        error_set(error_r, "listen %s:%u: listen: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* socket_owner - the uid and gid the UNIX sockets of svc belong to:
 * socket_user / socket_group, else server.user / server.group. */
static int socket_owner(const struct config *conf, const struct config_service *svc, uid_t *uid_r,
                        gid_t *gid_r, char **error_r)
{
    const char *user = svc->socket_user != NULL ? svc->socket_user : conf->server.user;
    const char *group = svc->socket_group != NULL ? svc->socket_group : conf->server.group;
    const struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        error_set(error_r, "service %s: socket user \"%s\" does not exist", svc->name, user);
        return -1;
    }
    *uid_r = pw->pw_uid;
    const struct group *gr = getgrnam(group);
    if (gr == NULL) {
        error_set(error_r, "service %s: socket group \"%s\" does not exist", svc->name, group);
        return -1;
    }
    *gid_r = gr->gr_gid;
    return 0;
}

/* open_unix_listener - the UNIX socket at path with svc's owner and mode
 * (lib/unix_listen.h, which the auth socket uses too). A socket file left
 * there by an earlier run is replaced; anything else at the path (a file, a
 * folder: a typo in listen) is refused, never removed, as root may. */
static int open_unix_listener(const struct config *conf, const struct config_service *svc,
                              const char *path, char **error_r)
{
    struct privdrop_ids ids = {.user = NULL};
    if (socket_owner(conf, svc, &ids.uid, &ids.gid, error_r) < 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error_set(error_r, "listen %s: exists and is not a socket", path);
            return -1;
        }
    } else if (errno != ENOENT) {
        error_set(error_r, "listen %s: %s", path, strerror(errno));
        return -1;
    }
    return unix_listen_open(path, (mode_t)svc->socket_mode, &ids, error_r);
}

/* add_listener - append host:port for service to set, sharing old's socket
 * when it has the same address (for a UNIX socket, host is its path). */
static int add_listener(struct listener_set *set, const struct listener_set *old,
                        const struct config *conf, const char *host, unsigned port, size_t service,
                        char **error_r)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i].port == port && strcmp(set->items[i].host, host) == 0) {
            error_set(error_r, "listen %s:%u: used twice", host, port);
            return -1;
        }
    }
    int fd = -1;
    for (size_t i = 0; old != NULL && i < old->count; i++) {
        if (old->items[i].port == port && strcmp(old->items[i].host, host) == 0) {
            fd = fcntl(old->items[i].fd, F_DUPFD_CLOEXEC, 3);
            if (fd < 0) {
                error_set(error_r, "listen %s:%u: dup: %s", host, port, strerror(errno));
                return -1;
            }
            break;
        }
    }
    if (fd < 0) {
        fd = host[0] == '/' ? open_unix_listener(conf, &conf->services[service], host, error_r)
                            : open_listener(host, port, error_r);
        if (fd < 0)
            return -1;
        log_info("event=listen address=%s port=%u fd=%d", host, port, fd);
    }
    struct listener *items = realloc(set->items, (set->count + 1) * sizeof *items);
    char *copy = strdup(host);
    if (items == NULL || copy == NULL) {
        if (items != NULL)
            set->items = items;
        free(copy);
        close(fd);
        error_set(error_r, "out of memory");
        return -1;
    }
    set->items = items;
    set->items[set->count++] = (struct listener){copy, port, service, fd};
    return 0;
}

struct listener_set *listener_set_bind(const struct config *conf, const struct listener_set *old,
                                       char **error_r)
{
    struct listener_set *set = calloc(1, sizeof *set);
    if (set == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    for (size_t s = 0; s < conf->service_count; s++) {
        const struct config_service *service = &conf->services[s];
        for (size_t l = 0; l < service->listen_count; l++) {
            const char *host = service->listen[l].host;
            unsigned port = service->listen[l].port;
            int r;
            if (strcmp(host, "*") == 0) {
                r = add_listener(set, old, conf, "0.0.0.0", port, s, error_r);
                if (r == 0)
                    r = add_listener(set, old, conf, "::", port, s, error_r);
            } else {
                /* "[::1]" as written in some configurations: the literal inside. */
                char bare[INET6_ADDRSTRLEN + 2];
                size_t len = strlen(host);
                if (len > 2 && len < sizeof bare && host[0] == '[' && host[len - 1] == ']') {
                    memcpy(bare, host + 1, len - 2);
                    bare[len - 2] = '\0';
                    host = bare;
                }
                r = add_listener(set, old, conf, host, port, s, error_r);
            }
            if (r < 0) {
                listener_set_free(&set);
                return NULL;
            }
        }
    }
    return set;
}

void listener_set_unlink_sockets(const struct listener_set *set, const struct listener_set *keep)
{
    for (size_t i = 0; set != NULL && i < set->count; i++) {
        const char *path = set->items[i].host;
        bool kept = false;
        for (size_t k = 0; keep != NULL && k < keep->count && !kept; k++)
            kept = strcmp(keep->items[k].host, path) == 0;
        if (path[0] == '/' && !kept && unlink(path) == 0)
            log_info("event=unlisten path=%s", path);
    }
}

void listener_set_free(struct listener_set **set)
{
    if (*set == NULL)
        return;
    for (size_t i = 0; i < (*set)->count; i++) {
        close((*set)->items[i].fd);
        free((*set)->items[i].host);
    }
    free((*set)->items);
    free(*set);
    *set = NULL;
}
