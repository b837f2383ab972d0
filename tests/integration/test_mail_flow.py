#!/usr/bin/env python3
"""test_mail_flow.py - end to end, from an SMTP client to a Maildir: a real
slapd with the example directory (schema/examples), a real dirmaild whose
SMTP session spools the message and whose queue runner delivers it, and
clients no one here wrote (Python's smtplib, swaks). Every message is
compared byte for byte with what was sent (CRLF stored as LF, see
delivery/maildir.h), apart from the trace fields the gateway and the
delivery add (Return-Path, Delivered-To, Received), which are checked on
their own; every message must arrive exactly once, in the right Maildir."""
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import (Raw, as_stored, copies, mailbox_of, queue_id, spool_ids,  # noqa: E402
                          split_trace, wait_for)
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

SENDER = "sender@remote.example"


def make_dir(path):
    """A folder the mail user (nobody when the tests run as root) can write."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


@unittest.skipUnless(built(), "dirmaild not built")
class MailFlow(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        # A forward to a local user (dave in the examples forwards outside,
        # which stays queued until the outbound client exists).
        cls.ldap.add("dn: uid=frida,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: frida\ncn: Frida\nsn: Frida\nmail: frida@example.org\n"
                     "dirmailForward: bob@example.org\ndirmailKeepCopy: FALSE\n")
        cls.base = make_dir(os.path.join(process.tempdir("e2e-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("e2e-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "submission"}],
            workers=2,
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

    # ---- helpers ----

    def smtp(self, service="smtp"):
        s = smtplib.SMTP("127.0.0.1", self.d.port(service), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        return s

    def send(self, rcpts, message, sender=SENDER, mail_options=()):
        """One transaction with smtplib; the queue id of the 250."""
        s = self.smtp()
        s.ehlo()
        s.mail(sender, list(mail_options))
        for rcpt in rcpts:
            code, text = s.rcpt(rcpt)
            self.assertEqual(code, 250, (rcpt, text))
        code, text = s.data(message)
        self.assertEqual(code, 250, text)
        s.quit()
        return queue_id(text)

    def wait_done(self, qid, timeout=30):
        """Until the runner removed qid from the spool: every recipient final."""
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=timeout,
                 what=f"{qid} delivered and removed\n{self.d.log()[-3000:]}")

    def check_arrived(self, marker, message, expect, sender=SENDER):
        """The copies holding marker are exactly expect = {mailbox: [Delivered-To
        values, nearest first]}, once each, and each is message byte for byte
        after its trace fields. Returns {mailbox: trace}."""
        got = copies(self.base, b"<" + marker + b"@remote.example>")
        self.assertEqual(sorted(mailbox_of(p) for p, _ in got), sorted(expect),
                         f"copies of {marker!r}: {[p for p, _ in got]}")
        traces = {}
        for path, data in got:
            trace, rest = split_trace(data)
            box = mailbox_of(path)
            self.assertEqual(rest, as_stored(message), path)
            names = [n for n, _ in trace]
            self.assertEqual(names[0], "return-path", trace)
            self.assertEqual(trace[0][1], f"<{sender}>")
            self.assertEqual([v for n, v in trace if n == "delivered-to"], expect[box], trace)
            received = [v for n, v in trace if n == "received"]
            self.assertEqual(len(received), 1, trace)
            self.assertRegex(received[0], r"by mx\.test\.example")
            traces[box] = trace
        return traces

    def message(self, marker, body=b"Hello.\r\n", headers=b""):
        return (b"From: <" + SENDER.encode() + b">\r\nTo: <x@example.org>\r\n"
                b"Subject: e2e " + marker + b"\r\nMessage-ID: <" + marker + b"@remote.example>\r\n"
                + headers + b"\r\n" + body)

    # ---- tests ----

    def test_user_byte_exact_once(self):
        marker = b"flow-user"
        message = self.message(marker, b"First line.\r\n\r\n  indented\ttab\r\nlast line\r\n")
        qid = self.send(["alice@example.org"], message)
        self.wait_done(qid)
        traces = self.check_arrived(marker, message, {"example.org/alice": ["alice@example.org"]})
        # the Received field names the queue id that the 250 gave
        received = [v for n, v in traces["example.org/alice"] if n == "received"][0]
        self.assertIn(qid, received)
        self.assertRegex(self.d.log(), rf"id={qid} event=delivered rcpt=alice@example.org")

    def test_alias_lands_in_owner_maildir(self):
        marker = b"flow-alias"
        message = self.message(marker)
        self.wait_done(self.send(["postmaster@example.org"], message))
        self.check_arrived(marker, message, {"example.org/alice": ["postmaster@example.org"]})

    def test_catch_all(self):
        marker = b"flow-catchall"
        message = self.message(marker)
        self.wait_done(self.send(["anything-at-all@example.net"], message))
        self.check_arrived(marker, message,
                           {"example.net/carol": ["anything-at-all@example.net"]})

    def test_sub_address_keeps_tag_in_delivered_to(self):
        # The runner hands the recipient as the client wrote it to the
        # delivery: Delivered-To keeps "+lists", the Maildir is alice's INBOX.
        marker = b"flow-subaddress"
        message = self.message(marker)
        self.wait_done(self.send(["alice+lists@example.org"], message))
        self.check_arrived(marker, message, {"example.org/alice": ["alice+lists@example.org"]})

    def test_group_each_member_once(self):
        # staff = alice, bob, dave; dave forwards outside, which stays queued.
        marker = b"flow-group"
        message = self.message(marker)
        qid = self.send(["staff@example.org"], message)
        m = self.d.wait_log(rf"id={qid} event=expanded rcpt=staff@example.org kind=group "
                            r"targets=3 new_id=([0-9a-f]+)", timeout=30)
        new_id = m.group(1)
        for member in ("alice", "bob"):
            self.d.wait_log(rf"id={new_id} event=delivered rcpt={member}@example.org", timeout=30)
        self.wait_done(qid)
        self.check_arrived(marker, message, {
            "example.org/alice": ["alice@example.org", "staff@example.org"],
            "example.org/bob": ["bob@example.org", "staff@example.org"]})
        self.assertNotIn(f"id={new_id} event=failed", self.d.log())

    def test_group_alias_and_member_in_one_message(self):
        # all@ is the group's alias; bob named directly too gets two
        # deliveries of one message: one per recipient, none merged or lost.
        marker = b"flow-group-alias"
        message = self.message(marker)
        qid = self.send(["all@example.org", "carol@example.net"], message)
        m = self.d.wait_log(rf"id={qid} event=expanded rcpt=all@example.org kind=group "
                            r"targets=3 new_id=([0-9a-f]+)", timeout=30)
        self.d.wait_log(rf"id={m.group(1)} event=delivered rcpt=bob@example.org", timeout=30)
        self.d.wait_log(rf"id={m.group(1)} event=delivered rcpt=alice@example.org", timeout=30)
        self.wait_done(qid)
        self.check_arrived(marker, message, {
            "example.org/alice": ["alice@example.org", "all@example.org"],
            "example.org/bob": ["bob@example.org", "all@example.org"],
            "example.net/carol": ["carol@example.net"]})

    def test_forward_to_local_user(self):
        marker = b"flow-forward"
        message = self.message(marker)
        qid = self.send(["frida@example.org"], message)
        m = self.d.wait_log(rf"id={qid} event=expanded rcpt=frida@example.org kind=forward "
                            r"targets=1 new_id=([0-9a-f]+)", timeout=30)
        self.wait_done(m.group(1))
        self.check_arrived(marker, message,
                           {"example.org/bob": ["bob@example.org", "frida@example.org"]})

    def test_submission_auth_after_starttls_adds_date_and_message_id(self):
        marker = b"flow-submission"
        message = b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: " + marker + \
            b"\r\n\r\nNo Date, no Message-ID.\r\n"
        s = self.smtp("submission")
        s.ehlo()
        self.assertFalse(s.has_extn("auth"), "AUTH offered before STARTTLS")
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("alice", PASSWORDS["alice"])
        self.assertEqual(s.mail("alice@example.org")[0], 250)
        self.assertEqual(s.rcpt("bob@example.org")[0], 250)
        code, text = s.data(message)
        self.assertEqual(code, 250, text)
        s.quit()
        self.wait_done(queue_id(text))
        [(path, data)] = copies(self.base, marker)
        self.assertEqual(mailbox_of(path), "example.org/bob")
        trace, rest = split_trace(data)
        self.assertEqual(trace[0], ("return-path", "<alice@example.org>"))
        self.assertIn(("delivered-to", "bob@example.org"), trace)
        # Date and Message-ID are added at the end of the header section,
        # the rest is what the client sent.
        m = re.fullmatch(rb"(From: .*\nTo: .*\nSubject: [^\n]*\n)(Date: [^\n]+\n)"
                         rb"(Message-ID: <[^\n>]+@[^\n>]+>\n)(\nNo Date.*)", rest, re.S)
        self.assertIsNotNone(m, rest)
        self.assertEqual(m.group(1) + m.group(4), as_stored(message))
        self.assertRegex(m.group(2), rb"^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")

    def test_8bitmime_body_intact(self):
        marker = b"flow-8bit"
        body = ("Grüße aus Köln, ½ € — 日本語\r\n".encode("utf-8") + bytes(range(0x80, 0x100))
                + b"\r\n\x01\x7f control bytes stay\r\n")
        message = self.message(marker, body, b"Content-Type: text/plain; charset=utf-8\r\n"
                               b"Content-Transfer-Encoding: 8bit\r\n")
        qid = self.send(["bob@example.org"], message, mail_options=["BODY=8BITMIME"])
        self.wait_done(qid)
        self.check_arrived(marker, message, {"example.org/bob": ["bob@example.org"]})

    def test_one_megabyte_intact(self):
        marker = b"flow-1mb"
        lines = [b"%07d " % i + bytes((0x41 + (i + j) % 26) for j in range(70)) + b"\r\n"
                 for i in range(13500)]
        body = b"".join(lines)
        self.assertGreater(len(body), 1000000)
        message = self.message(marker, body)
        qid = self.send(["carol@example.net"], message)
        self.wait_done(qid, timeout=60)
        self.check_arrived(marker, message, {"example.net/carol": ["carol@example.net"]})

    def test_fifty_pipelined_messages_one_session(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        self.assertIn(b"PIPELINING", r.cmd("EHLO client.test"))
        messages = [self.message(b"flow-pipe-%02d-" % i, b"message %d of 50\r\n" % i)
                    for i in range(50)]
        # RFC 2920 3.1 as a conforming client pipelines: the envelope and
        # DATA in one write, then the message together with the next
        # envelope (content may open a group), waiting only for each 354.
        envelope = b"MAIL FROM:<%s>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" % SENDER.encode()
        r.send(envelope)
        ids = []
        for i in range(50):
            self.assertTrue(r.reply().startswith(b"250 2.1.0"), i)
            self.assertTrue(r.reply().startswith(b"250 2.1.5"), i)
            self.assertTrue(r.reply().startswith(b"354"), i)
            r.send(messages[i] + b".\r\n" + (envelope if i < 49 else b"QUIT\r\n"))
            done = r.reply()
            self.assertTrue(done.startswith(b"250 2.0.0"), (i, done))
            ids.append(queue_id(done))
        self.assertTrue(r.reply().startswith(b"221"))
        self.assertEqual(len(set(ids)), 50)
        wait_for(lambda: not set(ids) & spool_ids(self.d.spool), timeout=60,
                 what=f"50 messages delivered\n{self.d.log()[-3000:]}")
        for i, message in enumerate(messages):
            self.check_arrived(b"flow-pipe-%02d-" % i, message,
                               {"example.org/bob": ["bob@example.org"]})

    def test_dot_stuffed_lines_arrive_unstuffed(self):
        marker = b"flow-dots"
        # as the client means it ...
        message = self.message(marker, b".leading dot\r\n..two dots\r\n.\r\n..\r\n"
                               b"not at start .\r\n.\r\nend\r\n")
        # ... and as it goes on the wire (RFC 5321 4.5.2), sent by hand so
        # that the server's unstuffing is what is tested
        stuffed = re.sub(rb"(?m)^\.", b"..", message)
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO client.test")
        self.assertTrue(r.cmd(f"MAIL FROM:<{SENDER}>").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<alice@example.org>").startswith(b"250"))
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        r.send(stuffed + b".\r\n")
        done = r.reply()
        self.assertTrue(done.startswith(b"250 2.0.0"), done)
        r.cmd("QUIT")
        self.wait_done(queue_id(done))
        self.check_arrived(marker, message, {"example.org/alice": ["alice@example.org"]})

    def test_trusted_network_skips_pregreet_wait(self):
        # Loopback is in the default relay.trusted_networks: like postscreen
        # with permit_mynetworks, such a client is not put to the test.
        r = Raw(self.d.port("smtp"), greet=False)
        self.addCleanup(r.close)
        r.send(b"EHLO trusted.test\r\n")
        self.assertTrue(r.reply().startswith(b"220 "))
        self.assertTrue(r.reply().startswith(b"250-"))

    def test_swaks_to_alias(self):
        if shutil.which("swaks") is None:
            self.skipTest("swaks not installed")
        marker = b"flow-swaks"
        message = self.message(marker, b"sent by swaks\r\n.dot line\r\n")
        p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.d.port("smtp")),
                            "--helo", "swaks.test", "--from", SENDER, "--to",
                            "robert@example.org", "--pipeline", "--data", "-"],
                           # swaks ends the data with CRLF "." CRLF itself
                           input=message[:-2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout
        self.assertEqual(p.returncode, 0, out.decode(errors="replace"))
        self.wait_done(queue_id(out))
        self.check_arrived(marker, message, {"example.org/bob": ["robert@example.org"]})

    def test_zz_no_sanitizer_errors(self):
        self.assertEqual(self.d.sanitizer_errors(), [])


if __name__ == "__main__":
    harness.tap.main()
