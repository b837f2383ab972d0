/* delivery/sieve/sieve_date.c - the date and currentdate tests (RFC 5260
 * 4, 5): an RFC 5322 3.3 date-time read from a header field (after the
 * last ";" of a Received field), moved into the zone asked for, and one of
 * its parts compared as a string. Civil dates are computed here, not by
 * the C library, so no process-wide TZ state is touched. */
#include "config.h"

#include "delivery/sieve/sieve_date.h"

#include "delivery/sieve/sieve_interp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "delivery/sieve/sieve_mime.h"

static const char *const parts[] = {"year",  "month",  "day",    "date", "julian",
                                    "hour",  "minute", "second", "time", "iso8601",
                                    "std11", "zone",   "weekday"};

bool sieve_date_part_known(const char *part)
{
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strcasecmp(parts[i], part) == 0)
            return true;
    return false;
}

/* sieve_date_zone_minutes - "+hhmm" / "-hhmm" (RFC 5260 4.1) in minutes
 * east of UTC into *out; false when it is not one. */
bool sieve_date_zone_minutes(const char *z, int *out)
{
    if (strlen(z) != 5 || (z[0] != '+' && z[0] != '-'))
        return false;
    for (int i = 1; i < 5; i++)
        if (!isdigit((unsigned char)z[i]))
            return false;
    int h = (z[1] - '0') * 10 + (z[2] - '0'), m = (z[3] - '0') * 10 + (z[4] - '0');
    if (h > 23 || m > 59)
        return false;
    *out = (z[0] == '-' ? -1 : 1) * (h * 60 + m);
    return true;
}

/* days_from_civil / civil_from_days: proleptic Gregorian day numbers with
 * 1970-01-01 as day 0 (the well-known era-based conversion). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* obsolete zone names of RFC 5322 4.3; military letters are "-0000" there */
static bool obs_zone(const char *w, int *minutes)
{
    static const struct {
        const char *name;
        int off;
    } z[] = {{"UT", 0},        {"GMT", 0},       {"EST", -5 * 60}, {"EDT", -4 * 60},
             {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60}, {"MDT", -6 * 60},
             {"PST", -8 * 60}, {"PDT", -7 * 60}, {"Z", 0}};
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++)
        if (strcasecmp(w, z[i].name) == 0) {
            *minutes = z[i].off;
            return true;
        }
    return false;
}

/* parse_date - RFC 5322 3.3 (with its obsolete forms: two-digit years,
 * named zones, comments) into UTC seconds and the zone it was written in. */
static bool parse_date(const char *text, long long *utc, int *zone)
{
    char buf[256];
    size_t n = 0;
    int depth = 0;
    for (const char *p = text; *p != '\0' && n + 1 < sizeof buf; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if (depth == 0)
            buf[n++] = (*p == ',' || *p == '\t') ? ' ' : *p;
    }
    buf[n] = '\0';
    char *save = NULL, *w[8];
    int nw = 0;
    for (char *t = strtok_r(buf, " ", &save); t != NULL && nw < 8; t = strtok_r(NULL, " ", &save))
        w[nw++] = t;
    int i = 0;
    if (nw > 0 && isalpha((unsigned char)w[0][0]))
        i = 1; /* day of week */
    if (nw - i < 4)
        return false;
    char *end;
    long day = strtol(w[i], &end, 10);
    if (*end != '\0' || day < 1 || day > 31)
        return false;
    int mon = -1;
    for (int k = 0; k < 12; k++)
        if (strncasecmp(w[i + 1], months[k], 3) == 0 && strlen(w[i + 1]) == 3)
            mon = k + 1;
    long year = strtol(w[i + 2], &end, 10);
    if (mon < 0 || *end != '\0' || year < 0)
        return false;
    if (strlen(w[i + 2]) <= 2)
        year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
    else if (strlen(w[i + 2]) == 3)
        year += 1900;
    int hh, mm, ss = 0;
    char tail;
    if (sscanf(w[i + 3], "%2d:%2d:%2d%c", &hh, &mm, &ss, &tail) != 3 &&
        (ss = 0, sscanf(w[i + 3], "%2d:%2d%c", &hh, &mm, &tail) != 2))
        return false;
    if (hh > 23 || mm > 59 || ss > 60)
        return false;
    int z = 0;
    if (i + 4 < nw && !sieve_date_zone_minutes(w[i + 4], &z) && !obs_zone(w[i + 4], &z))
        z = 0; /* an unknown zone is "-0000": UTC without zone information */
    long long days = days_from_civil(year, (unsigned)mon, (unsigned)day);
    *utc = days * 86400 + hh * 3600 + mm * 60 + ss - (long long)z * 60;
    *zone = z;
    return true;
}

static int local_zone(long long utc)
{
    time_t t = (time_t)utc;
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return 0;
    return (int)(tm.tm_gmtoff / 60);
}

/* date_part - the part of utc seen in zone (minutes east), into out. */
static void date_part(long long utc, int zone, const char *part, char *out, size_t outsz)
{
    long long local = utc + (long long)zone * 60;
    long long days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    long long secs = local - days * 86400;
    long long y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int hh = (int)(secs / 3600), mi = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    char zs[16];
    int az = zone < 0 ? -zone : zone;
    snprintf(zs, sizeof zs, "%c%02d%02d", zone < 0 ? '-' : '+', az / 60, az % 60);
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int weekday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    if (strcasecmp(part, "year") == 0)
        snprintf(out, outsz, "%04lld", y);
    else if (strcasecmp(part, "month") == 0)
        snprintf(out, outsz, "%02u", m);
    else if (strcasecmp(part, "day") == 0)
        snprintf(out, outsz, "%02u", d);
    else if (strcasecmp(part, "date") == 0)
        snprintf(out, outsz, "%04lld-%02u-%02u", y, m, d);
    else if (strcasecmp(part, "julian") == 0)
        snprintf(out, outsz, "%lld", days + 40587); /* MJD of 1970-01-01 */
    else if (strcasecmp(part, "hour") == 0)
        snprintf(out, outsz, "%02d", hh);
    else if (strcasecmp(part, "minute") == 0)
        snprintf(out, outsz, "%02d", mi);
    else if (strcasecmp(part, "second") == 0)
        snprintf(out, outsz, "%02d", ss);
    else if (strcasecmp(part, "time") == 0)
        snprintf(out, outsz, "%02d:%02d:%02d", hh, mi, ss);
    else if (strcasecmp(part, "iso8601") == 0)
        snprintf(out, outsz, "%04lld-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", y, m, d, hh, mi, ss,
                 zone < 0 ? '-' : '+', az / 60, az % 60);
    else if (strcasecmp(part, "std11") == 0)
        snprintf(out, outsz, "%s, %02u %s %04lld %02d:%02d:%02d %s", wd[weekday], d, mn[m - 1], y,
                 hh, mi, ss, zs);
    else if (strcasecmp(part, "zone") == 0)
        snprintf(out, outsz, "%s", zs);
    else if (strcasecmp(part, "weekday") == 0)
        snprintf(out, outsz, "%d", weekday);
    else
        out[0] = '\0';
}

int sieve_date_test(struct sieve_run *run, const struct sieve_node *node,
                    int (*match)(struct sieve_run *, const struct sieve_node *, char **, size_t,
                                 const struct sieve_arg *))
{
    bool current = node->id == TEST_CURRENTDATE;
    const struct sieve_arg *part_arg = node->pos[current ? 0 : 1];
    const struct sieve_arg *keys = node->pos[current ? 1 : 2];
    int want_zone = 0;
    bool zone_given = false;
    if (node->slot[SLOT_ZONE] != NULL) {
        char *z = sieve_run_expand(run, node, node->slot[SLOT_ZONE]->strs[0]);
        if (z == NULL)
            return -1;
        zone_given = sieve_date_zone_minutes(z, &want_zone);
        free(z);
        if (!zone_given)
            return 0; /* an invalid zone from a variable: no match */
    }
    char *part = sieve_run_expand(run, node, part_arg->strs[0]);
    if (part == NULL)
        return -1;
    char *values[64];
    size_t nv = 0;
    char text[96];
    if (current) {
        long long now = run->env->now != 0 ? (long long)run->env->now : (long long)time(NULL);
        date_part(now, zone_given ? want_zone : local_zone(now), part, text, sizeof text);
        values[nv++] = strdup(text);
    } else {
        char *name = sieve_run_expand(run, node, node->pos[0]->strs[0]);
        if (name == NULL) {
            free(part);
            return -1;
        }
        const struct sieve_message *m = run->msg;
        size_t count = 0, seen = 0;
        for (size_t i = 0; i < m->nheaders; i++)
            count += strcasecmp(m->headers[i].name, name) == 0;
        const struct sieve_arg *idx = node->slot[SLOT_INDEX];
        for (size_t i = 0; i < m->nheaders && nv < 64; i++) {
            if (strcasecmp(m->headers[i].name, name) != 0)
                continue;
            size_t pos = seen++;
            if (idx != NULL) {
                if (idx->num > count)
                    continue;
                size_t want =
                    node->slot[SLOT_LAST] != NULL ? count - (size_t)idx->num : (size_t)idx->num - 1;
                if (pos != want)
                    continue;
            }
            const char *v = m->headers[i].value;
            const char *semi = strrchr(v, ';');
            if (semi != NULL && strcasecmp(name, "received") == 0)
                v = semi + 1;
            long long utc;
            int zone;
            if (!parse_date(v, &utc, &zone))
                continue; /* RFC 5260 4: a field that is no date does not match */
            int z = node->slot[SLOT_ORIGINALZONE] != NULL ? zone
                    : zone_given                          ? want_zone
                                                          : local_zone(utc);
            date_part(utc, z, part, text, sizeof text);
            values[nv++] = strdup(text);
        }
        free(name);
    }
    free(part);
    int rc = match(run, node, values, nv, keys);
    for (size_t i = 0; i < nv; i++)
        free(values[i]);
    return rc;
}
