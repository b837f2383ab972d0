#!/usr/bin/env python3
"""test_gateway_headers_well_formed.py - every header field the gateway and
the delivery write stays one complete field however long our host name is
(issue 10 section 9): a dirmaild whose hostname is 250 characters (the
config allows 253, RFC 1035 2.3.4; labels of at most 63) takes a message
without Message-ID and Date on submission, so it adds both (RFC 6409 8.2,
8.3) besides Received, Return-Path and Delivered-To. In the delivered
Maildir file each of those lines must end in the stored form of CRLF (the
Maildir keeps LF, delivery/maildir.h; so: LF, and no CR anywhere), be at
most 998 octets (RFC 5322 2.1.1), and the header section must parse with
Python's email package into the Message-ID and Received we expect. The
same holds in the spooled copy of a relayed message, whose lines end in
CRLF as on the wire.

A field cut short by a fixed buffer loses its CRLF: the next line (here the
empty line that ends the header section) runs into it, and the body turns
into header text."""
import email
import email.policy
import email.utils
import os
import smtplib
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import copies, queue_id, spool_file, spool_ids, wait_for  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

# 63 + 1 + 63 + 1 + 63 + 1 + 50 + 1 + 7 = 250 octets, dot-separated labels of <= 63.
LONG_HOST = ".".join(["a" * 62 + "1", "b" * 62 + "2", "c" * 62 + "3", "d" * 50 + ".example"])
assert len(LONG_HOST) == 250 and all(len(l) <= 63 for l in LONG_HOST.split("."))

# The fields the gateway (Received, Date, Message-ID) and the delivery
# (Return-Path, Delivered-To) write; the client's own lines are its business.
OURS = (b"received", b"date", b"message-id", b"return-path", b"delivered-to")


def make_dir(path):
    """A folder the mail user (nobody when the tests run as root) can write."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def header_fields(head):
    """[(lowercased name, [physical lines with their endings])] of a header
    section given as bytes (continuation lines belong to the field above)."""
    fields = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].append(line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower(), [line]))
    return fields


@unittest.skipUnless(built(), "dirmaild not built")
class GatewayHeadersWellFormed(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("hdr-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("hdr-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "submission"}],
            workers=1,
            server={"hostname": LONG_HOST},
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            delivery={"mailbox_base": cls.base})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])
        cls.ctx.check_hostname = False

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def submit(self, rcpt, message):
        """Submit message from alice to rcpt over STARTTLS + AUTH; the queue id."""
        s = smtplib.SMTP("127.0.0.1", self.d.port("submission"), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("alice", PASSWORDS["alice"])
        self.assertEqual(s.mail("alice@example.org")[0], 250)
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        code, text = s.data(message)
        self.assertEqual(code, 250, text)
        s.quit()
        return queue_id(text)

    def test_zzz_no_sanitizer_errors(self):
        self.assertEqual(self.d.sanitizer_errors(), [])

    def check_fields(self, data, eol, ours, marker):
        """The header section of data (lines ended by eol) holds each field
        of ours once, each of their lines ended by eol and at most 998
        octets before it (RFC 5322 2.1.1), continuations starting with white
        space; the body is marker alone. Returns the parsed message."""
        head, sep, body = data.partition(eol + eol)
        self.assertEqual(sep, eol + eol, data)
        # nothing of the header leaked into the body, nor the body into the
        # header section
        self.assertEqual(body, marker + eol, data)
        if eol == b"\n":
            self.assertNotIn(b"\r", head, "the Maildir stores CRLF as LF")
        fields = header_fields(head + eol)
        names = [n for n, _ in fields]
        for name in ours:
            self.assertEqual(names.count(name), 1, (name, names))
        for name, lines in fields:
            if name not in ours:
                continue
            for line in lines:
                self.assertTrue(line.endswith(eol), (name, line))
                self.assertNotIn(b"\r", line[:-len(eol)], (name, line))
                self.assertLessEqual(len(line) - len(eol), 998, (name, line))
            for line in lines[1:]:
                # a continuation is folding white space, never a bare token
                self.assertIn(line[:1], (b" ", b"\t"), (name, line))
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertEqual(msg.defects, [], data)
        self.assertEqual(msg.get_payload().encode(), marker + eol)
        return msg

    def check_gateway_fields(self, msg, qid):
        """The Message-ID, Date and Received the gateway added."""
        message_id = msg["Message-ID"]
        self.assertIsNotNone(message_id)
        self.assertRegex(message_id, r"^<[^<>@\s]+@" + LONG_HOST.replace(".", r"\.") + ">$")
        self.assertTrue(message_id.endswith("@" + LONG_HOST + ">"), message_id)
        self.assertIsNotNone(msg["Date"])
        self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]), msg["Date"])
        received = msg.get_all("Received")
        self.assertEqual(len(received), 1, received)
        unfolded = " ".join(received[0].split())
        self.assertIn("by " + LONG_HOST + " ", unfolded)
        self.assertIn(" id " + qid, unfolded)

    def test_long_hostname_delivered_fields_complete_and_parseable(self):
        marker = b"long-hostname-marker"
        qid = self.submit("bob@example.org",
                          b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\n"
                          b"Subject: long host name\r\n\r\n" + marker + b"\r\n")
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=30,
                 what=f"{qid} delivered and removed\n{self.d.log()[-6000:]}")
        got = copies(self.base, marker)
        self.assertEqual(len(got), 1, f"copies: {[p for p, _ in got]}\n{self.d.log()[-3000:]}")
        path, data = got[0]
        self.assertTrue(path.startswith("example.org/bob/"), path)
        msg = self.check_fields(data, b"\n", OURS, marker)
        self.check_gateway_fields(msg, qid)
        self.assertEqual(msg["Return-Path"], "<alice@example.org>")
        self.assertEqual(msg["Delivered-To"], "bob@example.org")

    def test_long_hostname_spooled_fields_end_in_crlf(self):
        """The message as spooled, in its wire form: a foreign recipient
        stays queued (awaiting the outbound transport), so the spool copy,
        CRLF and all, can be read as it would be sent on."""
        marker = b"long-hostname-relayed"
        qid = self.submit("someone@foreign.example",
                          b"From: <alice@example.org>\r\nSubject: relayed\r\n\r\n" + marker
                          + b"\r\n")
        data, _ = spool_file(os.path.join(self.d.spool, "active", qid))
        msg = self.check_fields(data, b"\r\n", (b"received", b"date", b"message-id"), marker)
        self.check_gateway_fields(msg, qid)


if __name__ == "__main__":
    harness.tap.main()
