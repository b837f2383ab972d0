#!/usr/bin/env python3
"""test_content_policy.py - one content policy for DATA and BDAT
(proto/content_policy.h) behind a real dirmaild and a real slapd, spoken to
by Python's smtplib and raw sockets, results read back from the Maildirs the
queue runner delivers to: NUL octets (refused by default, stripped when
limits.message_nul = "strip"), bare CR and bare LF refused alike for both
commands, the header section's size and field count, and a BDAT message cut
at awkward places delivered byte for byte like the same message by DATA.

A refused message must never be delivered. "Never" is proved without a fixed
sleep: on the same connection a good message follows the refused one; once
the good one is in its Maildir the runner has seen everything before it."""
import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import Raw, as_stored, copies, queue_id, split_trace, wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

SENDER = "sender@remote.example"
RCPT = "alice@example.org"
# limits.header_max_size and header_max_count left at their defaults in
# ContentDefaults (doc/dirmail.conf.5): 100 KiB and 1000 fields.
HEADER_MAX_SIZE = 102400
HEADER_MAX_COUNT = 1000


def make_dir(path):
    """A folder the mail user (nobody when the tests run as root) can write."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def message(marker, body=b"Hello.\r\n", headers=b""):
    return (b"From: <" + SENDER.encode() + b">\r\nTo: <" + RCPT.encode() + b">\r\n"
            b"Subject: content " + marker + b"\r\nMessage-ID: <" + marker +
            b"@remote.example>\r\n" + headers + b"\r\n" + body)


def big_header(size):
    """Folded fields of about size octets in all, each line under the DATA
    text-line limit (1000) so that only the header limit can refuse them."""
    out = b""
    n = 0
    while len(out) < size:
        out += b"X-Filler-%d: " % n + b"a" * 900 + b"\r\n" + (b" " + b"b" * 900 + b"\r\n") * 9
        n += 1
    return out


def many_fields(count):
    return b"".join(b"X-F%d: v\r\n" % i for i in range(count))


class ContentBase:
    """Mixed into each TestCase below: a dirmaild delivering to Maildirs;
    settings: its limits beyond the defaults."""
    settings = {}

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("content-vmail-"), "vmail"))
        limits = {"message_size": 1 << 20}
        limits.update(cls.settings)
        cls.d = Dirmaild(
            services=[{"type": "smtp"}],
            workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            limits=limits,
            delivery={"mailbox_base": cls.base})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def test_zzz_no_sanitizer_errors(self):
        self.assertEqual(self.d.sanitizer_errors(), [])

    # ---- helpers ----

    def raw(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        self.assertTrue(r.cmd("EHLO client.test").startswith(b"250"))
        return r

    def envelope(self, r):
        self.assertTrue(r.cmd(f"MAIL FROM:<{SENDER}>").startswith(b"250"))
        self.assertTrue(r.cmd(f"RCPT TO:<{RCPT}>").startswith(b"250"))

    def data(self, r, msg):
        """DATA with msg sent as it is (dot-stuffed, nothing else changed)."""
        self.envelope(r)
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        r.send(re.sub(rb"(?m)^\.", b"..", msg) + b".\r\n")
        return r.reply()

    def bdat(self, r, chunks):
        """BDAT with each chunk in turn, the last one LAST; the replies."""
        self.envelope(r)
        replies = []
        for i, chunk in enumerate(chunks):
            last = b" LAST" if i == len(chunks) - 1 else b""
            r.send(b"BDAT %d%s\r\n" % (len(chunk), last) + chunk)
            replies.append(r.reply())
            if not replies[-1].startswith(b"250"):
                break
        return replies

    def delivered(self, marker, timeout=30):
        """The one Maildir copy holding marker, without its trace fields."""
        got = wait_for(lambda: copies(self.base, b"<" + marker + b"@remote.example>"),
                       timeout=timeout, what=f"{marker!r} delivered\n{self.d.log()[-3000:]}")
        self.assertEqual(len(got), 1, [p for p, _ in got])
        trace, rest = split_trace(got[0][1])
        return rest

    def assert_never_delivered(self, r, marker):
        """After a refusal on r: a good message on the same connection
        arrives, and marker's message never did."""
        follow = marker + b"-follow"
        msg = message(follow)
        reply = self.data(r, msg)
        self.assertTrue(reply.startswith(b"250"), reply)
        self.assertEqual(self.delivered(follow), as_stored(msg))
        self.assertEqual(copies(self.base, b"<" + marker + b"@remote.example>"), [])


@unittest.skipUnless(built(), "dirmaild not built")
class ContentDefaults(ContentBase, unittest.TestCase):
    """Every content setting at its default: NUL refused, 100 KiB, 1000 fields."""

    def test_data_with_nul_refused_550_560(self):
        r = self.raw()
        marker = b"data-nul"
        reply = self.data(r, message(marker, b"before\x00after\r\n"))
        self.assertTrue(reply.startswith(b"550 5.6.0 message contains NUL characters"), reply)
        self.assert_never_delivered(r, marker)

    def test_bdat_with_nul_refused_550_560(self):
        r = self.raw()
        marker = b"bdat-nul"
        replies = self.bdat(r, [message(marker, b"before\x00after\r\n")])
        self.assertTrue(replies[-1].startswith(b"550 5.6.0 message contains NUL characters"),
                        replies)
        self.assert_never_delivered(r, marker)

    def test_bdat_nul_in_first_chunk_ends_the_transaction(self):
        # RFC 3030 2: the refusal comes with the chunk that carried the NUL;
        # the transaction is over, so a further chunk is out of sequence
        r = self.raw()
        marker = b"bdat-nul-first"
        msg = message(marker, b"a\x00b\r\n")
        replies = self.bdat(r, [msg[:-3], msg[-3:]])
        self.assertEqual(len(replies), 1, replies)
        self.assertTrue(replies[0].startswith(b"550 5.6.0"), replies)
        r.send(b"BDAT 3 LAST\r\n" + msg[-3:])
        self.assertTrue(r.reply().startswith(b"503 5.5.1"))
        self.assert_never_delivered(r, marker)

    def test_bdat_bare_lf_refused_like_data(self):
        # a bare "\n.\n" would end a next hop's DATA early (SMTP smuggling):
        # the BDAT message is refused exactly as the DATA one is
        outcomes = []
        for how in ("data", "bdat"):
            r = self.raw()
            marker = b"bare-lf-" + how.encode()
            msg = message(marker, b"first\n.\nMAIL FROM:<evil@example.com>\r\nsmuggled\r\n")
            reply = self.data(r, msg) if how == "data" else self.bdat(r, [msg])[-1]
            outcomes.append(reply[:9])
            self.assert_never_delivered(r, marker)
        self.assertEqual(outcomes, [b"550 5.6.0", b"550 5.6.0"])

    def test_bdat_bare_cr_refused_like_data(self):
        outcomes = []
        for how in ("data", "bdat"):
            r = self.raw()
            marker = b"bare-cr-" + how.encode()
            msg = message(marker, b"first\r.\r\nsecond\r\n")
            reply = self.data(r, msg) if how == "data" else self.bdat(r, [msg])[-1]
            outcomes.append(reply[:9])
            self.assert_never_delivered(r, marker)
        self.assertEqual(outcomes, [b"550 5.6.0", b"550 5.6.0"])

    def test_bdat_bare_lf_across_chunks_refused(self):
        # the LF alone at the start of a chunk, the CR-less line before it
        r = self.raw()
        marker = b"bare-lf-split"
        msg = message(marker, b"first\nsecond\r\n")
        cut = msg.index(b"first\n") + len(b"first")
        replies = self.bdat(r, [msg[:cut], msg[cut:]])
        self.assertTrue(replies[-1].startswith(b"550 5.6.0"), replies)
        self.assert_never_delivered(r, marker)

    def test_header_section_too_large_552_534(self):
        header = big_header(HEADER_MAX_SIZE + 1)
        for how in ("data", "bdat"):
            r = self.raw()
            marker = b"header-size-" + how.encode()
            msg = message(marker, headers=header)
            reply = self.data(r, msg) if how == "data" else self.bdat(r, [msg])[-1]
            self.assertTrue(reply.startswith(b"552 5.3.4"), (how, reply))
            self.assert_never_delivered(r, marker)

    def test_too_many_header_fields_550_560(self):
        for how in ("data", "bdat"):
            r = self.raw()
            marker = b"header-count-" + how.encode()
            msg = message(marker, headers=many_fields(HEADER_MAX_COUNT))  # + 4 of message()
            reply = self.data(r, msg) if how == "data" else self.bdat(r, [msg])[-1]
            self.assertTrue(reply.startswith(b"550 5.6.0"), (how, reply))
            self.assert_never_delivered(r, marker)

    def test_header_within_limits_delivered(self):
        # exactly at the count limit, half the size limit: by smtplib's DATA
        marker = b"header-ok"
        big = big_header(50000)
        fields = many_fields(HEADER_MAX_COUNT - 4 - big.count(b"X-Filler-"))
        msg = message(marker, headers=fields + big)
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        self.assertEqual(s.sendmail(SENDER, [RCPT], msg), {})
        self.assertEqual(self.delivered(marker), as_stored(msg))

    def test_bdat_split_awkwardly_delivers_like_data(self):
        marker_data = b"split-data"
        body = (b"line one\r\n.leading dot\r\n\r\n\xc3\xa9 8bit\r\n" + b"x" * 990 + b"\r\n"
                b"last\r\n")
        r = self.raw()
        msg = message(marker_data, body)
        reply = self.data(r, msg)
        self.assertTrue(reply.startswith(b"250"), reply)
        by_data = self.delivered(marker_data)
        self.assertEqual(by_data, as_stored(msg))
        # the same message by BDAT, cut between CR and LF, inside a field
        # name, right before the empty line's LF, after a lone leading dot...
        marker_bdat = b"split-bdat"
        msg = message(marker_bdat, body)
        cuts = sorted({1, msg.index(b"\r\n") + 1, msg.index(b"Sub") + 2,
                       msg.index(b"\r\n\r\n") + 3, msg.index(b"\r\n.") + 3,
                       msg.index(b"\xc3") + 1, len(msg) - 1})
        chunks = [msg[a:b] for a, b in zip([0] + cuts, cuts + [len(msg)])]
        self.assertEqual(b"".join(chunks), msg)
        replies = self.bdat(r, chunks)
        self.assertEqual([x[:3] for x in replies], [b"250"] * len(chunks), replies)
        queue_id(replies[-1])
        by_bdat = self.delivered(marker_bdat)
        self.assertEqual(by_bdat, as_stored(msg))
        self.assertEqual(by_bdat.replace(marker_bdat, marker_data), by_data)


@unittest.skipUnless(built(), "dirmaild not built")
class ContentStrip(ContentBase, unittest.TestCase):
    """limits.message_nul = "strip", and small header limits to prove the
    settings are read."""
    settings = {"message_nul": "strip", "header_max_size": 2048, "header_max_count": 10}

    def test_strip_delivers_without_the_nul(self):
        for how in ("data", "bdat"):
            r = self.raw()
            marker = b"strip-" + how.encode()
            msg = message(marker, b"be\x00fore\r\n\x00\x00\r\nafter\x00\r\n")
            if how == "data":
                reply = self.data(r, msg)
            else:
                nul = msg.index(b"\x00")
                reply = self.bdat(r, [msg[:nul], msg[nul:nul + 1], msg[nul + 1:]])[-1]
            self.assertTrue(reply.startswith(b"250"), (how, reply))
            self.assertEqual(self.delivered(marker), as_stored(msg.replace(b"\x00", b"")))

    def test_configured_header_limits(self):
        r = self.raw()
        marker = b"small-count"
        reply = self.data(r, message(marker, headers=many_fields(7)))
        self.assertTrue(reply.startswith(b"550 5.6.0"), reply)
        self.assert_never_delivered(r, marker)
        r = self.raw()
        marker = b"small-size"
        reply = self.bdat(r, [message(marker, headers=b"X-Long: " + b"a" * 2100 + b"\r\n")])[-1]
        self.assertTrue(reply.startswith(b"552 5.3.4"), reply)
        self.assert_never_delivered(r, marker)

    def test_bare_lf_still_refused_in_strip_mode(self):
        r = self.raw()
        marker = b"strip-bare-lf"
        reply = self.bdat(r, [message(marker, b"a\x00\nb\r\n")])[-1]
        self.assertTrue(reply.startswith(b"550 5.6.0"), reply)
        self.assert_never_delivered(r, marker)


if __name__ == "__main__":
    harness.tap.main()
