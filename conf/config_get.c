/* conf/config_get.c - reading one setting from libconfig with its type,
 * range or allowed names checked, and the "FILE:LINE: setting PATH: text"
 * error that names it when it is wrong. Knows no section. */
#include "config.h"

#include "conf/config_internal.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* setting_path - "services.[1].listen.[0]": libconfig's own path syntax, so
 * config_lookup() finds the same setting; list indexes count from 0. */
static void setting_path(const config_setting_t *s, char *buf, size_t size)
{
    const config_setting_t *chain[16];
    size_t depth = 0;
    for (; s != NULL && !config_setting_is_root(s) && depth < COUNT(chain);
         s = config_setting_parent(s))
        chain[depth++] = s;
    size_t len = 0;
    buf[0] = '\0';
    while (depth > 0 && len < size) {
        const config_setting_t *part = chain[--depth];
        const char *name = config_setting_name(part);
        const char *dot = len > 0 ? "." : "";
        int n = name != NULL
                    ? snprintf(buf + len, size - len, "%s%s", dot, name)
                    : snprintf(buf + len, size - len, "%s[%d]", dot, config_setting_index(part));
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* conf_fail - record "FILE:LINE: setting PATH: text" (the first error wins) and return -1. */
int conf_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    if (ld->error != NULL)
        return -1;
    char text[512], where[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(text, sizeof text, "invalid value");
    setting_path(s, where, sizeof where);
    const char *file = config_setting_source_file(s);
    if (file == NULL)
        file = ld->path;
    /* libconfig keeps an @include name as written; show where it was read from. */
    bool prefix = file[0] != '/' && ld->include_dir != NULL && strcmp(file, ld->path) != 0;
    char *msg = NULL;
    if (asprintf(&msg, "%s%s%s:%u: setting %s: %s", prefix ? ld->include_dir : "",
                 prefix ? "/" : "", file, config_setting_source_line(s), where, text) < 0)
        msg = NULL;
    ld->error = msg != NULL ? msg : strdup("out of memory");
    return -1;
}

/* fail_plain - an error with no setting to point at (I/O, allocation). */
static int fail_plain(struct loader *ld, const char *text)
{
    if (ld->error != NULL)
        return -1;
    char *msg = NULL;
    if (asprintf(&msg, "%s: %s", ld->path, text) < 0)
        msg = NULL;
    ld->error = msg != NULL ? msg : strdup("out of memory");
    return -1;
}

int conf_nomem(struct loader *ld)
{
    return fail_plain(ld, "out of memory");
}

/* join_names - "a, b, c" for messages that list what is allowed. */
static void join_names(const char *const *names, size_t count, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && names[i] != NULL && len < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i > 0 ? ", " : "", names[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* conf_check_known - every member of group must be one of names (NULL-ended). */
int conf_check_known(struct loader *ld, const config_setting_t *group, const char *const *names,
                     const char *what)
{
    int count = config_setting_length(group);
    for (int i = 0; i < count; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        bool known = false;
        for (size_t k = 0; names[k] != NULL && !known; k++)
            known = name != NULL && strcmp(name, names[k]) == 0;
        if (!known) {
            char list[512];
            join_names(names, SIZE_MAX, list, sizeof list);
            return conf_fail(ld, s, "unknown %s (known: %s)", what, list);
        }
    }
    return 0;
}

/* conf_section - the group called name at the top level, or NULL when absent
 * (a present non-group is an error: *bad_r is set). */
const config_setting_t *conf_section(struct loader *ld, const char *name, const char *const *keys,
                                     int *bad_r)
{
    const config_setting_t *s = config_lookup(&ld->cf, name);
    if (s == NULL)
        return NULL;
    if (!config_setting_is_group(s)) {
        conf_fail(ld, s, "must be a group: %s = { ... };", name);
        *bad_r = -1;
        return NULL;
    }
    if (conf_check_known(ld, s, keys, "setting") < 0)
        *bad_r = -1;
    return s;
}

const config_setting_t *conf_member(const config_setting_t *group, const char *name)
{
    return group != NULL ? config_setting_get_member(group, name) : NULL;
}

int conf_replace_string(struct loader *ld, char **dst, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return conf_nomem(ld);
    free(*dst);
    *dst = copy;
    return 0;
}

int conf_check_string(struct loader *ld, const config_setting_t *s, unsigned flags)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_fail(ld, s, "must be a string");
    const char *v = config_setting_get_string(s);
    if ((flags & (STR_NONEMPTY | STR_ABSPATH)) && v[0] == '\0')
        return conf_fail(ld, s, "must not be empty");
    if ((flags & STR_ABSPATH) && v[0] != '/')
        return conf_fail(ld, s, "must be an absolute path (\"%s\" is relative)", v);
    return 0;
}

/* conf_get_string - *dst (a default or NULL) is replaced when name is set. */
int conf_get_string(struct loader *ld, const config_setting_t *group, const char *name, char **dst,
                    unsigned flags)
{
    const config_setting_t *s = conf_member(group, name);
    if (s == NULL)
        return 0;
    if (conf_check_string(ld, s, flags) < 0)
        return -1;
    return conf_replace_string(ld, dst, config_setting_get_string(s));
}

int conf_get_integer(struct loader *ld, const config_setting_t *group, const char *name,
                     long long min, long long max, long long *value_r)
{
    const config_setting_t *s = conf_member(group, name);
    if (s == NULL)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return conf_fail(ld, s, "must be an integer");
    long long v = config_setting_get_int64(s);
    if (v < min || v > max)
        return conf_fail(ld, s, "must be between %lld and %lld", min, max);
    *value_r = v;
    return 1;
}

int conf_get_uint(struct loader *ld, const config_setting_t *group, const char *name, unsigned *dst,
                  unsigned min, unsigned max)
{
    long long v = 0;
    int ret = conf_get_integer(ld, group, name, min, max, &v);
    if (ret > 0)
        *dst = (unsigned)v;
    return ret < 0 ? -1 : 0;
}

int conf_get_bool(struct loader *ld, const config_setting_t *group, const char *name, bool *dst)
{
    const config_setting_t *s = conf_member(group, name);
    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return conf_fail(ld, s, "must be true or false");
    *dst = config_setting_get_bool(s) != 0;
    return 0;
}

/* conf_get_enum - name's value must be one of names[0..count); *dst gets its index. */
int conf_get_enum(struct loader *ld, const config_setting_t *group, const char *name,
                  const char *const *names, size_t count, unsigned *dst)
{
    const config_setting_t *s = conf_member(group, name);
    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_fail(ld, s, "must be a string");
    const char *v = config_setting_get_string(s);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(v, names[i]) == 0) {
            *dst = (unsigned)i;
            return 0;
        }
    }
    char list[256];
    join_names(names, count, list, sizeof list);
    return conf_fail(ld, s, "\"%s\" is not one of: %s", v, list);
}

/* conf_string_items - a setting that is one string or an array/list of strings:
 * returns how many, or -1 (error recorded). */
int conf_string_items(struct loader *ld, const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return 1;
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return conf_fail(ld, s, "must be a string or a list of strings [ \"...\", ... ]");
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return conf_fail(ld, e, "must be a string");
    }
    return n;
}

const config_setting_t *conf_string_item(const config_setting_t *s, int i)
{
    return config_setting_type(s) == CONFIG_TYPE_STRING ? s
                                                        : config_setting_get_elem(s, (unsigned)i);
}

void conf_free_strings(char ***list, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *count = 0;
}

/* conf_set_strings - replace *list with a copy of values (count of them). */
int conf_set_strings(struct loader *ld, char ***list, size_t *count, const char *const *values,
                     size_t n)
{
    char **copy = calloc(n > 0 ? n : 1, sizeof *copy);
    if (copy == NULL)
        return conf_nomem(ld);
    for (size_t i = 0; i < n; i++) {
        copy[i] = strdup(values[i]);
        if (copy[i] == NULL) {
            conf_free_strings(&copy, &i);
            return conf_nomem(ld);
        }
    }
    conf_free_strings(list, count);
    *list = copy;
    *count = n;
    return 0;
}

/* conf_get_strings - name (string or list of strings) replaces *list; check, when
 * not NULL, validates each item and may rewrite it into a canonical form. */
int conf_get_strings(struct loader *ld, const config_setting_t *group, const char *name,
                     char ***list, size_t *count, check_item_fn *check)
{
    const config_setting_t *s = conf_member(group, name);
    if (s == NULL)
        return 0;
    int n = conf_string_items(ld, s);
    if (n < 0)
        return -1;
    const char **values = calloc((size_t)n + 1, sizeof *values);
    char **owned = calloc((size_t)n + 1, sizeof *owned);
    int ret = 0;
    if (values == NULL || owned == NULL) {
        ret = conf_nomem(ld);
        goto out;
    }
    for (int i = 0; i < n && ret == 0; i++) {
        const config_setting_t *item = conf_string_item(s, i);
        const char *v = config_setting_get_string(item);
        values[i] = v;
        if (check != NULL) {
            char canon[512];
            if (check(ld, item, v, canon, sizeof canon) < 0) {
                ret = -1;
            } else if ((owned[i] = strdup(canon)) == NULL) {
                ret = conf_nomem(ld);
            } else {
                values[i] = owned[i];
            }
        }
        for (int j = 0; j < i && ret == 0; j++) {
            if (strcmp(values[i], values[j]) == 0)
                ret = conf_fail(ld, item, "\"%s\" is listed twice", v);
        }
    }
    if (ret == 0)
        ret = conf_set_strings(ld, list, count, values, (size_t)n);
out:
    if (owned != NULL) {
        for (int i = 0; i < n; i++)
            free(owned[i]);
    }
    free(owned);
    free(values);
    return ret;
}
