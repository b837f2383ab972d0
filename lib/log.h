/* lib/log.h - dirmail's logging: one line per event, key=value fields, the
 * session or queue id first. Writes to stderr (foreground, tests) or syslog
 * facility mail. Never given a password or a message body. */
#ifndef DIRMAIL_LOG_H
#define DIRMAIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };

/* log_init - set where lines go and the lowest level written. ident names the
 * process ("dirmaild/master", "dirmaild/auth", ...); it is copied. May be
 * called again (after fork, on reload). */
void log_init(enum log_target target, const char *ident, enum log_level level);

/* log_set_ident - change the process name shown on every line (after fork). */
void log_set_ident(const char *ident);

/* log_level_parse - "error", "warning", "info", "debug"; 0 on success, -1 if unknown. */
int log_level_parse(const char *name, enum log_level *level_r);

/* log_msg - write one line. The format should produce key=value fields
 * ("event=restart child=auth pid=123"); values with spaces are quoted by the
 * caller with log_quote. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* log_quote - render value for a key=value field into buf (size bytes): as is
 * when it has no space, quote or control byte, otherwise in double quotes with
 * \" \\ and \xNN escapes; truncated with "..." when it does not fit. Returns buf. */
const char *log_quote(char *buf, unsigned size, const char *value);

#endif
