/* queue/queue_control.c - see queue_control.h. */
#include "config.h"

#include "queue/queue_control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fdio.h"
#include "queue/queue.h"

static const char *const cmd_words[] = {
    [QUEUE_CONTROL_FLUSH] = "flush",
    [QUEUE_CONTROL_HOLD] = "hold",
    [QUEUE_CONTROL_RELEASE] = "release",
};

bool queue_control_parse(const char *line, size_t len, enum queue_control_cmd *cmd_r,
                         char id_r[QUEUE_ID_SIZE], const char **why_r)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const char *sp = memchr(line, ' ', len);
    size_t word_len = sp != NULL ? (size_t)(sp - line) : len;
    size_t k;
    for (k = 0; k < sizeof cmd_words / sizeof *cmd_words; k++) {
        if (strlen(cmd_words[k]) == word_len && memcmp(cmd_words[k], line, word_len) == 0)
            break;
    }
    if (k == sizeof cmd_words / sizeof *cmd_words) {
        *why_r = "unknown command";
        return false;
    }
    id_r[0] = '\0';
    if (sp != NULL) {
        size_t id_len = len - word_len - 1;
        if (id_len != QUEUE_ID_LEN) {
            *why_r = "bad queue id";
            return false;
        }
        memcpy(id_r, sp + 1, QUEUE_ID_LEN);
        id_r[QUEUE_ID_LEN] = '\0';
        if (!queue_id_valid(id_r)) {
            *why_r = "bad queue id";
            return false;
        }
    } else if (k != QUEUE_CONTROL_FLUSH) {
        *why_r = "queue id missing";
        return false;
    }
    *cmd_r = (enum queue_control_cmd)k;
    return true;
}

/* read_answer - the answer line from fd into buf (NUL-terminated, without
 * its LF), waiting at most QUEUE_CONTROL_TIMEOUT_MS. 0, or -1 and *why_r. */
static int read_answer(int fd, char *buf, size_t size, const char **why_r)
{
    size_t len = 0;
    while (len + 1 < size) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, QUEUE_CONTROL_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *why_r = n == 0 ? "no answer from the queue runner" : strerror(errno);
            return -1;
        }
        ssize_t got = read(fd, buf + len, size - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            *why_r = got == 0 ? "the queue runner closed the connection" : strerror(errno);
            return -1;
        }
        char *nl = memchr(buf + len, '\n', (size_t)got);
        len += (size_t)got;
        if (nl != NULL) {
            *nl = '\0';
            return 0;
        }
    }
    *why_r = "answer too long";
    return -1;
}

int queue_control_request(const char *path, enum queue_control_cmd cmd, const char *id,
                          enum queue_control_answer *answer_r, unsigned long *count_r,
                          char **error_r)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char line[QUEUE_CONTROL_LINE_MAX + 2], answer[QUEUE_CONTROL_LINE_MAX + 2];
    const char *why = NULL;
    bool all = id == NULL || id[0] == '\0';

    if ((unsigned)cmd >= sizeof cmd_words / sizeof *cmd_words ||
        (all && cmd != QUEUE_CONTROL_FLUSH) || (!all && !queue_id_valid(id))) {
        error_set(error_r, "bad request");
        return -1;
    }
    if (strlen(path) >= sizeof sun.sun_path) {
        error_set(error_r, "%s: path too long", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int n = snprintf(line, sizeof line, "%s%s%s\n", cmd_words[cmd], all ? "" : " ", all ? "" : id);
    if (n < 0 || (size_t)n >= sizeof line) {
        error_set(error_r, "bad request");
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_set(error_r, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int err = errno;
        close(fd);
        if (err == ENOENT || err == ECONNREFUSED)
            return 1;
        error_set(error_r, "%s: %s", path, strerror(err));
        return -1;
    }
    if (fd_write_all(fd, line, (size_t)n) < 0) {
        error_set(error_r, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (read_answer(fd, answer, sizeof answer, &why) < 0) {
        error_set(error_r, "%s: %s", path, why);
        close(fd);
        return -1;
    }
    close(fd);
    *count_r = 0;
    if (strncmp(answer, "ok ", 3) == 0) {
        char *end;
        errno = 0;
        *count_r = strtoul(answer + 3, &end, 10);
        if (errno != 0 || *end != '\0' || end == answer + 3) {
            error_set(error_r, "%s: bad answer", path);
            return -1;
        }
        *answer_r = QUEUE_CONTROL_OK;
    } else if (strcmp(answer, "unknown") == 0) {
        *answer_r = QUEUE_CONTROL_UNKNOWN;
    } else if (strcmp(answer, "held") == 0) {
        *answer_r = QUEUE_CONTROL_HELD;
    } else if (strncmp(answer, "error ", 6) == 0) {
        *answer_r = QUEUE_CONTROL_ERROR;
        error_set(error_r, "%s", answer + 6);
    } else {
        error_set(error_r, "%s: bad answer", path);
        return -1;
    }
    return 0;
}
