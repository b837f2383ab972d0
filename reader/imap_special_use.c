/* reader/imap_special_use.c - which folders are for sent mail, drafts,
 * trash, junk and archives (RFC 6154): the "dirmail-special-use" file in the
 * Maildir root, one "folder-name attribute" a line (the attribute is the
 * last word, so a name may hold spaces), written by CREATE (USE (...))
 * (RFC 6154 3); and, for a folder the file does not name, the standard
 * names the delivery side makes (Sent, Drafts, Trash, Junk), unless the file
 * gives that attribute to another folder. doc/mailbox.md describes the
 * file. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reader/imap_session_internal.h"

#define SPECIAL_USE_FILE "dirmail-special-use"

/* The attributes a real folder can carry: not \All and \Flagged, which name
 * virtual folders (RFC 6154 2) we do not have. */
static const char *const attributes[] = {"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"};

/* The folders the delivery side makes, by their standard names. */
static const struct {
    const char *name;
    const char *attribute;
} standard[] = {
    {"Sent", "\\Sent"},
    {"Drafts", "\\Drafts"},
    {"Trash", "\\Trash"},
    {"Junk", "\\Junk"},
};

#define ENTRIES_MAX 256

struct imap_special_use {
    size_t count;
    struct {
        char name[IMAP_FOLDER_NAME_MAX + 1];
        const char *attribute; /* one of attributes[] */
    } e[ENTRIES_MAX];
};

const char *imap_special_use_attribute(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof attributes / sizeof attributes[0]; i++) {
        if (strlen(attributes[i]) == len && strncasecmp(attributes[i], word, len) == 0)
            return attributes[i];
    }
    return NULL;
}

/* parse_line - "name attribute" into entry k; false when it is neither. */
static bool parse_line(struct imap_special_use *su, const char *line)
{
    const char *sp = strrchr(line, ' ');
    if (sp == NULL || sp == line || su->count == ENTRIES_MAX)
        return false;
    const char *attr = imap_special_use_attribute(sp + 1, strlen(sp + 1));
    size_t len = (size_t)(sp - line);
    if (attr == NULL || len > IMAP_FOLDER_NAME_MAX)
        return false;
    memcpy(su->e[su->count].name, line, len);
    su->e[su->count].name[len] = '\0';
    su->e[su->count].attribute = attr;
    su->count++;
    return true;
}

struct imap_special_use *imap_special_use_load(struct imap *p)
{
    imap_folder_root(p, false);
    struct imap_special_use *su = calloc(1, sizeof *su);
    char *text = su != NULL ? maildir_file_read(p->root_fd, SPECIAL_USE_FILE) : NULL;
    if (text == NULL) {
        free(su);
        return NULL;
    }
    char line[IMAP_FOLDER_NAME_MAX + 32];
    for (size_t pos = 0; imap_file_line(text, &pos, line, sizeof line);)
        parse_line(su, line);
    free(text);
    return su;
}

void imap_special_use_free(struct imap_special_use **su)
{
    free(*su);
    *su = NULL;
}

static bool attribute_given(const struct imap_special_use *su, const char *attribute)
{
    for (size_t i = 0; i < su->count; i++)
        if (su->e[i].attribute == attribute)
            return true;
    return false;
}

const char *imap_special_use_of(const struct imap_special_use *su, const char *name, char *buf,
                                size_t size)
{
    size_t n = 0;
    bool named = false;
    buf[0] = '\0';
    for (size_t i = 0; i < su->count; i++) {
        if (strcmp(su->e[i].name, name) != 0)
            continue;
        named = true;
        int w = snprintf(buf + n, size - n, "%s%s", n > 0 ? " " : "", su->e[i].attribute);
        if (w > 0 && (size_t)w < size - n)
            n += (size_t)w;
    }
    if (named)
        return buf;
    for (size_t i = 0; i < sizeof standard / sizeof standard[0]; i++) {
        if (strcmp(standard[i].name, name) == 0 && !attribute_given(su, standard[i].attribute))
            snprintf(buf, size, "%s", standard[i].attribute);
    }
    return buf;
}

/* save - the entries as the file's new text. 0 or -1 (errno). */
static int save(struct imap *p, const struct imap_special_use *su)
{
    size_t size = su->count * (IMAP_FOLDER_NAME_MAX + 16) + 1, n = 0;
    char *text = malloc(size);
    if (text == NULL)
        return -1;
    for (size_t i = 0; i < su->count; i++)
        n += (size_t)snprintf(text + n, size - n, "%s %s\n", su->e[i].name, su->e[i].attribute);
    int rc = maildir_file_replace(p->root_fd, SPECIAL_USE_FILE, text, n);
    free(text);
    return rc;
}

int imap_special_use_set(struct imap *p, const char *name, const char *const *attrs, size_t count)
{
    struct imap_special_use *su = imap_special_use_load(p);
    if (su == NULL)
        return -1;
    int rc = 0;
    for (size_t k = 0; k < count && rc == 0; k++) {
        if (su->count == ENTRIES_MAX || strlen(name) > IMAP_FOLDER_NAME_MAX) {
            errno = ENOSPC;
            rc = -1;
            break;
        }
        snprintf(su->e[su->count].name, sizeof su->e[su->count].name, "%s", name);
        su->e[su->count].attribute = attrs[k];
        su->count++;
    }
    if (rc == 0)
        rc = save(p, su);
    imap_special_use_free(&su);
    return rc;
}

int imap_special_use_rename(struct imap *p, const char *from, const char *to)
{
    struct imap_special_use *su = imap_special_use_load(p);
    if (su == NULL)
        return -1;
    bool changed = false;
    for (size_t i = 0; i < su->count;) {
        if (strcmp(su->e[i].name, from) != 0) {
            i++;
            continue;
        }
        changed = true;
        if (to != NULL) {
            snprintf(su->e[i].name, sizeof su->e[i].name, "%s", to);
            i++;
        } else {
            su->e[i] = su->e[--su->count];
        }
    }
    int rc = changed ? save(p, su) : 0;
    imap_special_use_free(&su);
    return rc;
}
