/* delivery/maildir_name.h - the names of message files in a Maildir: the
 * unique base name a writer gives a new file, and the Maildir++ fields
 * (",S=<size>") a reader or the quota scan takes back out of it. Shared by the
 * writer, the quota file and the readers, so it depends on nothing of theirs. */
#ifndef DIRMAIL_DELIVERY_MAILDIR_NAME_H
#define DIRMAIL_DELIVERY_MAILDIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The host part of a unique name is cut to this many octets, so that the
 * whole name (at most 61 octets of time, pid and counter before the host)
 * with ",S=<20 digits>" and ":2,<26 flags>" after it stays within NAME_MAX
 * (255) however long the host name. */
#define MAILDIR_UNIQUE_HOST_MAX 140

/* maildir_unique_name - the unique base name "<sec>.M<usec>P<pid>Q<n>.<host>"
 * (host with "/" as \057 and ":" as \072, per the Maildir spec, cut to
 * MAILDIR_UNIQUE_HOST_MAX octets) into buf. Each call in a process gives a
 * new Q counter. 0, or -1 when it does not fit. */
int maildir_unique_name(char *buf, size_t size, const char *hostname);

/* The longest key of a stable name: with the time before it and the host
 * part after it, the name stays as short as a unique one. */
#define MAILDIR_STABLE_KEY_MAX 40

/* maildir_stable_name - the base name "<when>.<key>.<host>" (host as in
 * maildir_unique_name) for a writer that makes the same delivery again
 * after a crash and must recognise its earlier file: the same when, key and
 * host give the same name. key is letters and digits only, at most
 * MAILDIR_STABLE_KEY_MAX, and unique for the delivery among all writers of
 * the Maildir on this host (the queue runner: queue id and recipient
 * index). 0, or -1 for a bad key or a name that does not fit. */
int maildir_stable_name(char *buf, size_t size, long long when, const char *key,
                        const char *hostname);

/* maildir_name_has_base - whether the file name in new/ or cur/ is base
 * itself or base with Maildir++ fields (",S=...") or an info part
 * (":2,...") after it: the same message, whatever readers did to its flags. */
bool maildir_name_has_base(const char *name, const char *base);

/* maildir_name_size - the size in a Maildir++ name ("...,S=1234" or
 * "...,S=1234:2,S"), or -1 when the name has none or it overflows. */
int64_t maildir_name_size(const char *name);

/* maildir_name_crlf_size - the size with CRLF line ends in a name
 * ("...,S=1234,W=1260"), Dovecot's convention, which the writer adds and
 * readers report to POP3 and IMAP; -1 when the name has none. */
int64_t maildir_name_crlf_size(const char *name);

#endif
