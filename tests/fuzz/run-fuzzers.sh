#!/bin/sh
# tests/fuzz/run-fuzzers.sh - build each libFuzzer harness with clang (not the
# autotools compiler: libFuzzer needs clang's -fsanitize=fuzzer) into a
# temporary folder, run it for a bounded time from its seed corpus, and print
# TAP: one test point per harness, ok when it found no crash, leak, timeout or
# failed invariant.
#
# Environment: top_srcdir, top_builddir (set by tests/Makefile.am; config.h
# comes from top_builddir), FUZZ_SECONDS (per harness, default 20), CLANG
# (default clang), FUZZ_ONLY (one harness's name: run only that one).
# Needs Debian's clang and libclang-rt-14-dev; without them the whole plan
# is skipped. New corpus entries stay in the temporary folder;
# on a failure the folder (with the crash artifact) is kept and named.
#
# fuzz_smtp_data.c is the DATA reader; fuzz_auth_protocol.c the auth socket's
# request and response codec; fuzz_queue_envelope.c the spool's envelope and
# status-record parsers; fuzz_mailbox_index.c a folder's UID index file;
# fuzz_pop3_command.c the POP3 command parser; fuzz_imap_command.c the IMAP
# command parser with its literals; fuzz_managesieve_command.c the same parser
# in ManageSieve's untagged dialect, with the script-name check;
# fuzz_conn_read_line.c lib/conn's line reader on a
# socketpair; fuzz_sieve.c the Sieve compiler (and one run of what compiles).
# Each harness needs a seed corpus in corpus/<name>/: one without
# seeds fails its test point.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CLANG=${CLANG:-clang}

# harness name, then the project sources it needs, then (optional) the
# libraries it links ("pkg-config=NAME": that package's flags and libraries)
HARNESSES='fuzz_address:lib/address.c
fuzz_smtp_command:proto/smtp_parse.c proto/smtp_reply.c lib/address.c
fuzz_smtp_data:proto/smtp_data.c proto/content_policy.c lib/header.c lib/buf.c
fuzz_auth_protocol:auth/auth_protocol.c lib/buf.c
fuzz_queue_envelope:queue/queue_envelope.c lib/error.c
fuzz_mailbox_index:delivery/mailbox_index.c lib/error.c
fuzz_pop3_command:reader/pop3_parse.c
fuzz_imap_command:reader/imap_parse.c
fuzz_managesieve_command:reader/imap_parse.c delivery/sieve_store.c delivery/maildir_path.c lib/buf.c lib/error.c
fuzz_mime:lib/mime.c lib/mime_text.c lib/buf.c reader/imap_mime_cache.c reader/imap_bodystructure.c reader/imap_envelope.c lib/fdio.c:pkg-config=gmime-3.0
fuzz_conn_read_line:lib/conn.c lib/conn_deadline.c lib/buf.c lib/event.c lib/clock.c:-lssl -lcrypto
fuzz_sieve:delivery/sieve/sieve_lex.c delivery/sieve/sieve_parse.c delivery/sieve/sieve_validate.c delivery/sieve/sieve_interp.c delivery/sieve/sieve_tests.c delivery/sieve/sieve_result.c delivery/sieve/sieve_match.c delivery/sieve/sieve_address.c delivery/sieve/sieve_message.c delivery/sieve/sieve_mime.c delivery/sieve/sieve_vacation.c delivery/sieve/sieve_cache.c delivery/sieve/sieve_date.c delivery/sieve/sieve_include.c lib/buf.c lib/array.c lib/error.c:-lcrypto -lpthread'

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

if [ ! -f "$top_builddir/config.h" ]; then
    echo "Bail out! $top_builddir/config.h not found: set top_builddir to a configured build"
    exit 1
fi
command -v "$CLANG" >/dev/null 2>&1 || skip_all "clang or libFuzzer not available"

work=$(mktemp -d "${TMPDIR:-/tmp}/dirmail-fuzz.XXXXXX") || exit 1
keep=0
cleanup() {
    if [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The sanitizers of the build's own environment are for gcc binaries.
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
CFLAGS_FUZZ="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -I$top_builddir -I$top_srcdir"

# Can clang link a fuzzer at all (libclang-rt-14-dev)?
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$work/probe.c"
# shellcheck disable=SC2086
$CLANG $CFLAGS_FUZZ -o "$work/probe" "$work/probe.c" >"$work/probe.log" 2>&1 ||
    skip_all "clang or libFuzzer not available (apt-get install clang libclang-rt-14-dev)"

count=$(printf '%s\n' "$HARNESSES" | wc -l)
[ -z "${FUZZ_ONLY:-}" ] || count=1
echo "1..$count"
n=0
failed=0
while IFS=: read -r name sources libs; do
    if [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ]; then continue; fi
    n=$((n + 1))
    seeds="$top_srcdir/tests/fuzz/corpus/$name"
    if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
        echo "not ok $n - $name: no seed corpus in tests/fuzz/corpus/$name"
        failed=1
        continue
    fi
    srcs=""
    for s in $sources; do srcs="$srcs $top_srcdir/$s"; done
    case $libs in
    pkg-config=*) libs=$(pkg-config --cflags --libs "${libs#pkg-config=}") ;;
    esac
    # shellcheck disable=SC2086
    if ! $CLANG $CFLAGS_FUZZ -o "$work/$name" "$top_srcdir/tests/fuzz/$name.c" $srcs $libs \
        >"$work/$name.build.log" 2>&1; then
        echo "not ok $n - $name: does not build"
        sed 's/^/# /' "$work/$name.build.log" | head -40
        failed=1
        keep=1
        continue
    fi
    mkdir -p "$work/$name.corpus"
    # New inputs go to the first (temporary) corpus folder; the seeds are read only.
    if "$work/$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=2048 -artifact_prefix="$work/$name-" -print_final_stats=1 \
        "$work/$name.corpus" "$top_srcdir/tests/fuzz/corpus/$name" \
        >"$work/$name.log" 2>&1 </dev/null; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
        echo "ok $n - $name: ${runs:-?} runs in ${FUZZ_SECONDS}s, no crash"
    else
        echo "not ok $n - $name: crash (artifacts and log kept in $work)"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written|artifact' "$work/$name.log" |
            head -20 | sed 's/^/# /'
        failed=1
        keep=1
    fi
done <<EOF
$HARNESSES
EOF
exit $failed
