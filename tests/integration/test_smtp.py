#!/usr/bin/env python3
"""test_smtp.py - the SMTP server (gateway/smtp_session.c) behind a real
dirmaild and a real slapd with the example directory (schema/examples),
spoken to by Python's smtplib, swaks and raw sockets: extensions, pipelining,
the recipient table, the open-relay battery, smuggling bodies, STARTTLS
injection, limits, pregreet, AUTH on submission, the sender check and an
LDAP outage. Accepted messages are checked in the queue (queue/queue.h)
byte for byte apart from the Received field."""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import QUEUED, Raw, spool_file  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

HOST = "mx.test.example"
MAX_SIZE = 100000
MAX_RCPTS = 1000  # limits.recipients left at its default
AUTH_FAILURES = 4
ERRORS = 20  # limits.errors left at its default


@unittest.skipUnless(built(), "dirmaild not built")
class Smtp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        certdir = process.tempdir("smtp-certs-")
        cls.pki = harness.certs.make_ca_and_cert(certdir, ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "submission"}, {"type": "submissions"},
                      {"type": "smtp", "name": "smtp-idle", "idle_timeout": 2},
                      {"type": "smtp", "name": "smtp-lax", "forbid_unauth_pipelining": False}],
            workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            relay={"trusted_networks": ["192.0.2.0/24"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            # every test here connects from 127.0.0.1: without the memory of
            # passes, test_pregreet_refused sees the refusal in any order
            limits={"message_size": MAX_SIZE, "auth_failures": AUTH_FAILURES,
                    "pregreet_pass_ttl": 0},
            cache={"positive_ttl": 0, "negative_ttl": 0, "auth_ttl": 0, "stale_ttl": 0})
        cls.d.start()
        cls.queue = os.path.join(cls.d.sections["server"]["state_dir"], "queue", "active")
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])
        cls.ctx.check_hostname = False

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.ldap.close()

    def test_zzz_no_sanitizer_errors(self):
        self.assertEqual(self.d.sanitizer_errors(), [])

    def smtp(self, name="smtp"):
        s = smtplib.SMTP("127.0.0.1", self.d.port(name), local_hostname="client.test", timeout=15)
        self.addCleanup(s.close)
        return s

    def queued(self, qid):
        """The queued message's bytes with its first (our) Received field cut off."""
        data, _ = spool_file(os.path.join(self.queue, qid))
        self.assertTrue(data.startswith(b"Received: from "), data[:100])
        m = re.match(rb"Received: (?:[^\r]*\r\n)(?:[ \t][^\r]*\r\n)*", data)
        return data[m.end():]

    def envelope(self, qid):
        return spool_file(os.path.join(self.queue, qid))[1]

    # ---- the conversation ----

    def test_ehlo_advertises_extensions(self):
        s = self.smtp()
        code, text = s.ehlo()
        self.assertEqual(code, 250)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "starttls",
                    "smtputf8", "dsn", "chunking"):
            self.assertTrue(s.has_extn(ext), (ext, text))
        self.assertEqual(s.esmtp_features["size"], str(MAX_SIZE))
        self.assertFalse(s.has_extn("auth"), "AUTH without TLS on port 25")
        s.starttls(context=self.ctx)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("auth"), s.esmtp_features)

    def test_message_queued_byte_exact(self):
        body = (b"From: someone@example.com\r\nTo: alice@example.org\r\nSubject: hi\r\n\r\n"
                b"line one\r\n.leading dot\r\n\r\nlast\xc3\xa9 8bit\r\n")
        s = self.smtp()
        s.ehlo()
        s.mail("someone@example.com", ["BODY=8BITMIME", "RET=HDRS", "ENVID=abc"])
        self.assertEqual(s.rcpt("alice@example.org", ["NOTIFY=SUCCESS,FAILURE",
                                                       "ORCPT=rfc822;alice@example.org"])[0], 250)
        code, text = s.data(body)
        self.assertEqual(code, 250, text)
        qid = QUEUED.search(text).group(1).decode()
        self.assertEqual(self.queued(qid), body)
        env = self.envelope(qid)
        self.assertIn("sender someone@example.com\n", env)
        self.assertIn("rcpt alice@example.org\n", env)
        self.assertIn("envid abc\n", env)
        self.assertIn("rcpt-notify", env)
        self.assertIn("client-helo client.test\n", env)

    def test_vrfy_expn_help_noop_rset(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        self.assertTrue(r.greeting.startswith(b"220 " + HOST.encode()), r.greeting)
        self.assertTrue(r.cmd("EHLO c.test").startswith(b"250-"))
        self.assertTrue(r.cmd("VRFY alice").startswith(b"252 2.0.0"))
        self.assertTrue(r.cmd("EXPN staff").startswith(b"502 5.5.1"))
        self.assertTrue(r.cmd("HELP").startswith(b"214"))
        self.assertTrue(r.cmd("NOOP").startswith(b"250 2.0.0"))
        self.assertTrue(r.cmd("RCPT TO:<alice@example.org>").startswith(b"503 5.5.1"))
        self.assertTrue(r.cmd("RSET").startswith(b"250"))
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))
        self.assertTrue(r.closed())

    def test_pipelined_transactions(self):
        # RFC 2920 as a conforming client does it: MAIL, RCPT x n, DATA in
        # one write, then the message with the next transaction's commands
        # (message content may open a group, 3.1), waiting only for the 354.
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        envelope = (b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
                    b"RCPT TO:<nobody@example.org>\r\nDATA\r\n")
        r.send(envelope)
        for i in range(3):
            self.assertTrue(r.reply().startswith(b"250 2.1.0"))
            self.assertTrue(r.reply().startswith(b"250 2.1.5"))
            self.assertTrue(r.reply().startswith(b"550 5.1.1"))
            self.assertTrue(r.reply().startswith(b"354"))
            r.send(b"Subject: %d\r\n\r\nbody %d\r\n.\r\n" % (i, i)
                   + (envelope if i < 2 else b"QUIT\r\n"))
            done = r.reply()
            self.assertTrue(done.startswith(b"250 2.0.0"), done)
            qid = QUEUED.search(done).group(1).decode()
            self.assertEqual(self.queued(qid), b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i))
        self.assertTrue(r.reply().startswith(b"221"))

    def test_pipelining_across_data_allowed_when_switched_off(self):
        # forbid_unauth_pipelining = false: even a client that sends the
        # message before the 354 is served, every reply in order.
        r = Raw(self.d.port("smtp-lax"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        batch = b""
        for i in range(3):
            batch += (b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
                      b"RCPT TO:<nobody@example.org>\r\nDATA\r\n")
            batch += b"Subject: %d\r\n\r\nbody %d\r\n.\r\n" % (i, i)
        batch += b"QUIT\r\n"
        r.send(batch)
        for i in range(3):
            self.assertTrue(r.reply().startswith(b"250 2.1.0"))
            self.assertTrue(r.reply().startswith(b"250 2.1.5"))
            self.assertTrue(r.reply().startswith(b"550 5.1.1"))
            self.assertTrue(r.reply().startswith(b"354"))
            done = r.reply()
            self.assertTrue(done.startswith(b"250 2.0.0"), done)
            qid = QUEUED.search(done).group(1).decode()
            self.assertEqual(self.queued(qid), b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i))
        self.assertTrue(r.reply().startswith(b"221"))

    def assert_out_of_sync(self, r, command, sample):
        """The next reply is the synchronisation error, the connection is
        closed, and the log names the command and the unexpected input."""
        answer = r.reply()
        self.assertEqual(answer, b"554 5.5.0 Error: SMTP protocol synchronization\r\n")
        self.assertTrue(r.closed())
        self.d.wait_log(rf"event=pipelining_violation client=127\.0\.0\.1 command={command} "
                        rf"input={re.escape(sample)}")

    def test_sync_data_before_354_refused(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.send(b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
               b"Subject: early\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        self.assertTrue(r.reply().startswith(b"250 2.1.0"))
        self.assertTrue(r.reply().startswith(b"250 2.1.5"))
        self.assert_out_of_sync(r, "DATA", '"Subject: early\\x0d\\x0a')

    def test_sync_input_after_ehlo_refused(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.send(b"EHLO c.test\r\nMAIL FROM:<p@example.com>\r\n")
        self.assert_out_of_sync(r, "EHLO", '"MAIL FROM:<p@example.com>\\x0d\\x0a"')

    def test_sync_pipelining_after_helo_refused(self):
        # HELO offers no PIPELINING: MAIL and RCPT in one write is a violation
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        self.assertTrue(r.cmd("HELO c.test").startswith(b"250"))
        r.send(b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\n")
        self.assert_out_of_sync(r, "MAIL", '"RCPT TO:<bob@example.org>\\x0d\\x0a"')

    def test_sync_long_unexpected_input_logged_cut_short(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.send(b"NOOP\r\n" + b"A" * 5000 + b"\r\n")
        self.assert_out_of_sync(r, "NOOP", "A" * 100 + "...")
        line = re.search(r"event=pipelining_violation .*command=NOOP.*", self.d.log()).group(0)
        self.assertLess(len(line), 400, line)

    def test_sync_bdat_last_then_more_refused(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        chunk = b"Subject: b\r\n\r\nbody\r\n"
        r.send(b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
               b"BDAT %d LAST\r\n%sQUIT\r\n" % (len(chunk), chunk))
        self.assertTrue(r.reply().startswith(b"250 2.1.0"))
        self.assertTrue(r.reply().startswith(b"250 2.1.5"))
        self.assert_out_of_sync(r, "BDAT_LAST", '"QUIT\\x0d\\x0a"')

    def test_sync_bdat_chunks_pipelined_allowed(self):
        # BDAT without LAST may be followed by the next chunk (RFC 3030 4.2)
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        one, two = b"Subject: b\r\n\r\n", b"body\r\n"
        r.send(b"MAIL FROM:<p@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
               b"BDAT %d\r\n%sBDAT %d LAST\r\n%s" % (len(one), one, len(two), two))
        for prefix in (b"250 2.1.0", b"250 2.1.5", b"250 2.0.0", b"250 2.0.0"):
            answer = r.reply()
            self.assertTrue(answer.startswith(prefix), answer)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))

    def test_sync_not_enforced_after_auth(self):
        # an authenticated client is one of ours: its pipelining is served
        s = self.smtp("submission")
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("alice", PASSWORDS["alice"])
        s.send("NOOP\r\nNOOP\r\n")
        self.assertEqual(s.getreply()[0], 250)
        self.assertEqual(s.getreply()[0], 250)
        self.assertEqual(s.noop()[0], 250)
        s.quit()

    def test_unknown_user_550_at_rcpt(self):
        s = self.smtp()
        s.ehlo()
        s.mail("x@example.com")
        code, text = s.rcpt("no-such-user@example.org")
        self.assertEqual((code, text[:5]), (550, b"5.1.1"))

    def test_open_relay_battery(self):
        tricks = ["victim@foreign.example", "victim%foreign.example@example.org",
                  "@example.org:victim@foreign.example", '"victim@foreign.example"@example.org',
                  "foreign.example!victim@example.org", "victim@[192.0.2.1]",
                  "victim@FOREIGN.EXAMPLE", "victim@foreign.example.",
                  "victim%foreign.example@[127.0.0.1]"]
        for rcpt in tricks:
            r = Raw(self.d.port("smtp"))
            r.cmd("EHLO c.test")
            r.cmd("MAIL FROM:<x@example.com>")
            answer = r.cmd(f"RCPT TO:<{rcpt}>")
            r.close()
            self.assertRegex(answer, rb"^5\d\d 5\.", (rcpt, answer))

    def test_smuggling_bodies_never_split(self):
        for smuggle in (b"\n.\n", b"\n.\r\n", b"\r.\r\n"):
            r = Raw(self.d.port("smtp"))
            self.addCleanup(r.close)
            r.cmd("EHLO c.test")
            r.cmd("MAIL FROM:<x@example.com>")
            r.cmd("RCPT TO:<alice@example.org>")
            self.assertTrue(r.cmd("DATA").startswith(b"354"))
            r.send(b"Subject: a\r\n\r\nfirst" + smuggle +
                   b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
                   b"smuggled\r\n.\r\n")
            answer = r.reply()
            self.assertTrue(answer.startswith(b"550 5.6.0"), (smuggle, answer))
            self.assertTrue(r.cmd("NOOP").startswith(b"250"), smuggle)

    def test_starttls_pipelined_plaintext_refused(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@example.com>\r\n")
        self.assert_out_of_sync(r, "STARTTLS", '"RSET\\x0d\\x0aMAIL FROM:')

    def test_starttls_discards_pipelined_plaintext(self):
        # with the synchronisation check off, CVE-2011-0411's defence:
        # the injected plaintext is dropped, never answered
        r = Raw(self.d.port("smtp-lax"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@example.com>\r\n")
        self.assertTrue(r.reply().startswith(b"220"))
        self.assertEqual(r.buf, b"")
        tls = self.ctx.wrap_socket(r.s, server_hostname="localhost")
        tls.sendall(b"EHLO c.test\r\n")
        data = b""
        while not re.search(rb"(^|\n)250 ", data):
            data += tls.recv(4096)
        # no reply to RSET/MAIL injected before the handshake
        self.assertNotIn(b"2.1.0", data)
        tls.sendall(b"RCPT TO:<alice@example.org>\r\n")
        self.assertTrue(tls.recv(4096).startswith(b"503"))

    def test_overlong_command_line(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        self.assertTrue(r.cmd("NOOP " + "x" * 600).startswith(b"500 5.5.2"))
        self.assertTrue(r.cmd("NOOP").startswith(b"250"))

    def test_size_limit(self):
        s = self.smtp()
        s.ehlo()
        code, text = s.mail("x@example.com", [f"SIZE={MAX_SIZE + 1}"])
        self.assertEqual((code, text[:5]), (552, b"5.3.4"))
        s.rset()
        s.mail("x@example.com")
        s.rcpt("alice@example.org")
        code, text = s.data(b"x" * 998 + b"\r\n" + (b"y" * 998 + b"\r\n") * (MAX_SIZE // 1000))
        self.assertEqual((code, text[:5]), (552, b"5.3.4"))

    def test_recipient_limit_1000(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.cmd("MAIL FROM:<x@example.com>")
        r.send(b"".join(b"RCPT TO:<alice+%d@example.org>\r\n" % i for i in range(MAX_RCPTS + 1)))
        answers = [r.reply() for _ in range(MAX_RCPTS + 1)]
        bad = [(i, a) for i, a in enumerate(answers[:MAX_RCPTS]) if not a.startswith(b"250 2.1.5")]
        self.assertEqual(bad, [])
        self.assertTrue(answers[MAX_RCPTS].startswith(b"452 4.5.3"), answers[MAX_RCPTS])
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        done = r.cmd("Subject: many\r\n\r\nx\r\n.")
        self.assertTrue(done.startswith(b"250 2.0.0"), done)
        qid = QUEUED.search(done).group(1).decode()
        self.assertEqual(self.envelope(qid).count("\nrcpt "), MAX_RCPTS)

    def test_error_limit_closes(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        # pipelined: nothing after the limit is read or answered
        r.send(b"BOGUS\r\n" * (ERRORS + 5))
        for i in range(ERRORS):
            self.assertTrue(r.reply().startswith(b"500 5.5."), i)
        last = r.reply()
        self.assertTrue(last.startswith(b"421 4.7.0"), last)
        self.assertTrue(r.closed())

    def test_idle_timeout_421(self):
        r = Raw(self.d.port("smtp-idle"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        started = time.monotonic()
        r.s.settimeout(10)
        answer = r.reply()
        self.assertTrue(answer.startswith(b"421 4.4.2"), answer)
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        self.assertTrue(r.closed())

    def test_pregreet_refused(self):
        r = Raw(self.d.port("smtp"), greet=False)
        self.addCleanup(r.close)
        r.send(b"EHLO impatient.test\r\n")
        self.assertTrue(r.reply().startswith(b"554 5.5.0"))
        self.assertTrue(r.closed())

    def test_pregreet_refused_again_without_pass_memory(self):
        # limits.pregreet_pass_ttl = 0: having waited once is worth nothing
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        self.assertTrue(r.greeting.startswith(b"220 "), r.greeting)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))
        r = Raw(self.d.port("smtp"), greet=False)
        self.addCleanup(r.close)
        r.send(b"EHLO impatient.test\r\n")
        self.assertTrue(r.reply().startswith(b"554 5.5.0"))
        self.assertTrue(r.closed())

    def test_submission_has_no_pregreet_wait(self):
        # The pregreet test guards the MX port only: a mail program that
        # talks at once on submission gets its greeting, then its answer.
        r = Raw(self.d.port("submission"), greet=False)
        self.addCleanup(r.close)
        r.send(b"EHLO eager.test\r\n")
        self.assertTrue(r.reply().startswith(b"220 "))
        self.assertTrue(r.reply().startswith(b"250-"))

    def test_bdat_chunking(self):
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.cmd("MAIL FROM:<x@example.com>")
        r.cmd("RCPT TO:<alice@example.org>")
        r.send(b"BDAT 12\r\nSubject: b\r\nBDAT 9 LAST\r\n\r\n.body\r\n")
        self.assertTrue(r.reply().startswith(b"250"))
        done = r.reply()
        qid = QUEUED.search(done).group(1).decode()
        self.assertEqual(self.queued(qid), b"Subject: b\r\n\r\n.body\r\n")

    def test_bdat_open_message_takes_only_bdat_rset_noop_quit(self):
        # RFC 3030 2: between two chunks of one message nothing but the next
        # BDAT, RSET, NOOP or QUIT; the rest is a bad sequence, and the
        # message goes on unharmed.
        r = Raw(self.d.port("smtp"))
        self.addCleanup(r.close)
        r.cmd("EHLO c.test")
        r.cmd("MAIL FROM:<x@example.com>")
        r.cmd("RCPT TO:<alice@example.org>")
        r.send(b"BDAT 12\r\nSubject: b\r\n")
        self.assertTrue(r.reply().startswith(b"250 2.0.0 12 octets"))
        for command in ("EHLO c.test", "HELO c.test", "HELP", "VRFY alice@example.org",
                        "MAIL FROM:<y@example.com>", "RCPT TO:<carol@example.net>", "DATA"):
            got = r.cmd(command)
            self.assertTrue(got.startswith(b"503 5.5.1"), (command, got))
        self.assertTrue(r.cmd("NOOP").startswith(b"250"))
        r.send(b"BDAT 9 LAST\r\n\r\n.body\r\n")
        done = r.reply()
        qid = QUEUED.search(done).group(1).decode()
        self.assertEqual(self.queued(qid), b"Subject: b\r\n\r\n.body\r\n")
        # and RSET drops an open one
        r.cmd("MAIL FROM:<x@example.com>")
        r.cmd("RCPT TO:<alice@example.org>")
        r.send(b"BDAT 3\r\nabc")
        self.assertTrue(r.reply().startswith(b"250"))
        self.assertTrue(r.cmd("RSET").startswith(b"250"))
        self.assertTrue(r.cmd("MAIL FROM:<x@example.com>").startswith(b"250"))

    # ---- submission ----

    def test_submission_requires_starttls_then_auth(self):
        s = self.smtp("submission")
        s.ehlo()
        self.assertFalse(s.has_extn("auth"))
        code, text = s.mail("alice@example.org")
        self.assertEqual((code, text[:5]), (530, b"5.7.0"))
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0alice-password")
                             .decode())
        self.assertEqual(code, 530)
        s.starttls(context=self.ctx)
        s.ehlo()
        code, text = s.mail("alice@example.org")
        self.assertEqual((code, text[:5]), (530, b"5.7.0"))

    def test_submission_auth_plain_and_sender_check(self):
        s = self.smtp("submission")
        s.starttls(context=self.ctx)
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features["auth"])
        s.login("alice", PASSWORDS["alice"])  # smtplib picks PLAIN or LOGIN
        code, text = s.mail("bob@example.org")
        self.assertEqual((code, text[:5]), (553, b"5.7.1"))
        s.rset()
        self.assertEqual(s.mail("a.liddell@example.org")[0], 250)
        self.assertEqual(s.rcpt("someone@foreign.example")[0], 250, "authenticated relay")
        code, text = s.data(b"Subject: from alice\r\n\r\nhello\r\n")
        self.assertEqual(code, 250, text)
        qid = QUEUED.search(text).group(1).decode()
        got = self.queued(qid)
        self.assertRegex(got, rb"^Subject: from alice\r\nDate: .*\r\nMessage-ID: <.*>\r\n\r\nhello")
        self.assertIn("auth-user alice\n", self.envelope(qid))

    def test_submission_auth_login_cancel_and_failure(self):
        s = self.smtp("submission")
        s.starttls(context=self.ctx)
        s.ehlo()
        code, _ = s.docmd("AUTH", "LOGIN")
        self.assertEqual(code, 334)
        code, text = s.docmd("*")
        self.assertEqual((code, text[:5]), (501, b"5.0.0"))
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0wrong").decode())
        self.assertEqual((code, text[:5]), (535, b"5.7.8"))
        s.user, s.password = "alice", PASSWORDS["alice"]
        code, _ = s.docmd("AUTH", "LOGIN " + base64.b64encode(b"alice").decode())
        self.assertEqual(code, 334)
        code, text = s.docmd(base64.b64encode(PASSWORDS["alice"].encode()).decode())
        self.assertEqual((code, text[:5]), (235, b"2.7.0"))

    def test_submission_bdat_gets_date_and_message_id(self):
        s = self.smtp("submission")
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("bob", PASSWORDS["bob"])
        self.assertEqual(s.mail("bob@example.org")[0], 250)
        self.assertEqual(s.rcpt("alice@example.org")[0], 250)
        # the header section ends inside the second chunk, cut mid-line
        s.send(b"BDAT 10\r\nSubject: bBDAT 11\r\ndat\r\n\r\nbodyBDAT 2 LAST\r\n\r\n")
        self.assertEqual(s.getreply()[0], 250)
        self.assertEqual(s.getreply()[0], 250)
        code, text = s.getreply()
        self.assertEqual(code, 250, text)
        got = self.queued(QUEUED.search(text).group(1).decode())
        self.assertRegex(got, rb"^Subject: bdat\r\nDate: [^\r]+\r\nMessage-ID: <[^\r]+>\r\n"
                         rb"\r\nbody\r\n$")

    def test_auth_failures_limited_per_address(self):
        """Failures from one address add up over sessions: the limit ends the
        session with 421 4.7.0 and AUTH from it is then refused with 454."""
        bad = "PLAIN " + base64.b64encode(b"\0alice\0wrong").decode()

        def session():
            s = smtplib.SMTP("127.0.0.1", self.d.port("submission"), local_hostname="c.test",
                             timeout=30, source_address=("127.0.0.9", 0))
            self.addCleanup(s.close)
            s.starttls(context=self.ctx)
            s.ehlo()
            return s
        s = session()
        for _ in range(3):  # the per-session limit, growing delays
            code, text = s.docmd("AUTH", bad)
            self.assertEqual((code, text[:5]), (535, b"5.7.8"))
        code, text = s.getreply()
        self.assertEqual((code, text[:5]), (421, b"4.7.0"))
        s = session()
        code, _ = s.docmd("AUTH", bad)  # the 4th from this address: its limit
        self.assertEqual(code, 535)
        code, text = s.getreply()
        self.assertEqual((code, text[:5]), (421, b"4.7.0"), text)
        self.assertIn(b"address", text)
        s = session()
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0alice\0" + PASSWORDS["alice"].encode()).decode())
        self.assertEqual((code, text[:5]), (454, b"4.7.0"), "even the right password waits")
        # another address is not affected
        s = smtplib.SMTP("127.0.0.1", self.d.port("submission"), local_hostname="c.test",
                         timeout=30, source_address=("127.0.0.10", 0))
        self.addCleanup(s.close)
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("alice", PASSWORDS["alice"])

    def test_submissions_implicit_tls(self):
        s = smtplib.SMTP_SSL("127.0.0.1", self.d.port("submissions"), context=self.ctx,
                             timeout=15)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertTrue(s.has_extn("auth"))
        s.login("bob", PASSWORDS["bob"])

    def test_swaks_conversation(self):
        if shutil.which("swaks") is None:
            self.skipTest("swaks not installed")
        p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.d.port("smtp")),
                            "--from", "s@example.com", "--to", "robert@example.org",
                            "--pipeline", "--tls", "--tls-verify", "--tls-ca-path",
                            self.pki["ca"], "--tls-sni", "localhost", "--helo", "swaks.test"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"250 2\.0\.0 Ok: queued as [0-9a-f]{23}")

    # ---- last: the directory goes away ----

    def test_zz_ldap_down_gives_451(self):
        self.ldap.stop()
        try:
            s = self.smtp()
            s.ehlo()
            s.mail("x@example.com")
            code, text = s.rcpt("erin@example.org")
            self.assertEqual((code, text[:5]), (451, b"4.4.3"))
        finally:
            self.ldap.start()


class RawFrom(Raw):
    """Raw from a source address of its own (127.0.0.0/8 is all loopback):
    the memory of pregreet passes is per client address, so each test is a
    client of its own whatever the order."""

    def __init__(self, port, source, greet=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                          source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply() if greet else None


@unittest.skipUnless(built(), "dirmaild not built")
class SmtpPregreetPassMemory(unittest.TestCase):
    """limits.pregreet_pass_ttl: a client address that waited for the banner
    is greeted at once afterwards, by every worker (Postfix postscreen's
    greet cache); one that talked first is not remembered. A dirmaild of its
    own: loopback is not trusted here, and the passes would otherwise leak
    into Smtp's refusal tests. No directory is needed to greet and EHLO."""

    @classmethod
    def setUpClass(cls):
        cls.d = Dirmaild(
            services=[{"type": "smtp"}],
            workers=2,
            relay={"trusted_networks": ["192.0.2.0/24"]},
            limits={"pregreet_wait": 200, "pregreet_pass_ttl": 3600})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def connect(self, source, greet=True):
        r = RawFrom(self.d.port("smtp"), source, greet=greet)
        self.addCleanup(r.close)
        return r

    def assert_refused(self, source):
        r = self.connect(source, greet=False)
        r.send(b"EHLO impatient.test\r\n")
        answer = r.reply()
        self.assertTrue(answer.startswith(b"554 5.5.0"), answer)
        self.assertTrue(r.closed())

    def assert_greeted_at_once(self, source):
        r = self.connect(source, greet=False)
        r.send(b"EHLO eager.test\r\n")
        greeting = r.reply()
        self.assertTrue(greeting.startswith(b"220 "), greeting)
        answer = r.reply()
        self.assertTrue(answer.startswith(b"250-"), answer)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))

    def pass_test(self, source):
        r = self.connect(source)
        self.assertTrue(r.greeting.startswith(b"220 "), r.greeting)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))

    def test_client_that_waited_is_greeted_at_once(self):
        self.assert_refused("127.0.0.11")
        self.pass_test("127.0.0.11")
        # several connections, so that both workers answer some
        for _ in range(6):
            self.assert_greeted_at_once("127.0.0.11")
        # another address still has to wait
        self.assert_refused("127.0.0.12")

    def test_client_that_talked_first_is_not_remembered(self):
        self.assert_refused("127.0.0.13")
        self.assert_refused("127.0.0.13")
        self.d.wait_log(r"event=pregreet client=127\.0\.0\.13")

    def test_zzz_no_sanitizer_errors(self):
        self.assertEqual(self.d.sanitizer_errors(), [])


class SmtpSenderSettings(unittest.TestCase):
    """sasl.sender_login_check = false lets an authenticated client use any
    sender; sasl.authenticated_header = true names the login in Received."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("smtp-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "submission"}],
            workers=1,
            ldap=cls.ldap.settings(),
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            sasl={"sender_login_check": False, "authenticated_header": True})
        cls.d.start()
        cls.queue = os.path.join(cls.d.sections["server"]["state_dir"], "queue", "active")
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])
        cls.ctx.check_hostname = False

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.ldap.close()

    def test_any_sender_and_the_login_in_received(self):
        s = smtplib.SMTP("127.0.0.1", self.d.port("submission"), local_hostname="client.test",
                         timeout=15)
        self.addCleanup(s.close)
        s.starttls(context=self.ctx)
        s.ehlo()
        s.login("alice", PASSWORDS["alice"])
        self.assertEqual(s.mail("bob@example.org")[0], 250, "sender check is off")
        self.assertEqual(s.rcpt("bob@example.org")[0], 250)
        code, text = s.data(b"Subject: as bob\r\n\r\nhi\r\n")
        self.assertEqual(code, 250, text)
        qid = QUEUED.search(text).group(1).decode()
        data, _ = spool_file(os.path.join(self.queue, qid))
        received = re.match(rb"Received: (?:[^\r]*\r\n)(?:[ \t][^\r]*\r\n)*", data).group(0)
        self.assertIn(b"(authenticated as alice)", received)

if __name__ == "__main__":
    harness.tap.main()
