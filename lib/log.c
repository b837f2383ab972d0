/* lib/log.c - key=value log lines to stderr or syslog. */
#include "config.h"

#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_target current_target = LOG_TARGET_STDERR;
static enum log_level current_level = LOG_LEVEL_INFO;
static char current_ident[64] = "dirmail";

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_ident(const char *ident)
{
    snprintf(current_ident, sizeof current_ident, "%s", ident);
    if (current_target == LOG_TARGET_SYSLOG) {
        closelog();
        openlog(current_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

void log_init(enum log_target target, const char *ident, enum log_level level)
{
    current_target = target;
    current_level = level;
    log_set_ident(ident);
}

int log_level_parse(const char *name, enum log_level *level_r)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level_r = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* A line never carries a newline of its own: one event, one line. */
    for (char *p = line; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    if (current_target == LOG_TARGET_SYSLOG) {
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(priorities[level], "level=%s %s", level_names[level], line);
        return;
    }
    struct timespec now;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per line so lines from several processes do not interleave. */
    fprintf(stderr, "%s.%03ldZ %s[%ld] level=%s %s\n", stamp, now.tv_nsec / 1000000L, current_ident,
            (long)getpid(), level_names[level], line);
}

const char *log_quote(char *buf, unsigned size, const char *value)
{
    bool plain = value[0] != '\0';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0' && plain; p++) {
        if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' || *p >= 0x7f)
            plain = false;
    }
    if (plain && strlen(value) < size) {
        memcpy(buf, value, strlen(value) + 1);
        return buf;
    }
    unsigned out = 0;
    if (size < 8) {
        buf[0] = '\0';
        return buf;
    }
    buf[out++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        char piece[5];
        unsigned len;
        if (*p == '"' || *p == '\\') {
            piece[0] = '\\';
            piece[1] = (char)*p;
            len = 2;
        } else if (*p < ' ' || *p >= 0x7f) {
            snprintf(piece, sizeof piece, "\\x%02x", *p);
            len = 4;
        } else {
            piece[0] = (char)*p;
            len = 1;
        }
        if (out + len + 5 > size) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        memcpy(buf + out, piece, len);
        out += len;
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}
