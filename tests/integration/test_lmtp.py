#!/usr/bin/env python3
"""test_lmtp.py - the LMTP service (delivery/lmtp_session.c, RFC 2033) with
Python's smtplib.LMTP over TCP and over the UNIX socket, against a real
slapd and dirmaild: LHLO's extensions, RCPT from the directory (unknown
550 5.1.1, disabled 550 5.2.1, another node 451, the directory down 451
4.4.3), one reply per accepted recipient after DATA and BDAT LAST, each the
result of the Maildir delivery (over quota 452 4.2.2), the message stored
as sent below our trace fields, pipelining, and untrusted clients refused."""
import os
import smtplib
import socket
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import as_stored, copies, split_trace  # noqa: E402
from harness.slapd import Slapd  # noqa: E402


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def replies(client, count):
    """count replies read with smtplib's reader: [(code, text)]."""
    return [client.getreply() for _ in range(count)]


@unittest.skipUnless(built(), "dirmaild not built")
class Lmtp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        # hank: a 300-octet quota (default mailbox layout); frank: a mailbox
        # on another node
        cls.ldap.add("dn: uid=hank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: hank\ncn: Hank\nsn: Hank\nmail: hank@example.org\n"
                     "dirmailQuota: 300\n")
        cls.ldap.add("dn: uid=frank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: frank\ncn: Frank\nsn: Frank\nmail: frank@example.org\n"
                     "dirmailMailHost: other-node.test.example\n")
        cls.base = make_dir(os.path.join(process.tempdir("lmtp-vmail-"), "vmail"))
        sockdir = make_dir(process.tempdir("lmtp-sock-"))
        os.chmod(sockdir, 0o755)
        cls.sock = os.path.join(sockdir, "lmtp.sock")
        cls.d = Dirmaild(
            services=[{"type": "lmtp", "listen": ["127.0.0.1", cls.sock],
                       "trusted_networks": ["127.0.0.1/32"], "socket_mode": "0666"},
                      {"type": "lmtp", "name": "lmtp-untrusted",
                       "trusted_networks": ["192.0.2.0/24"]}],
            workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            limits={"message_size": 100000},
            delivery={"mailbox_base": cls.base})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"
        # the master removes the socket file it served on its way out
        assert not os.path.exists(cls.sock), f"{cls.sock} left behind"

    def lmtp(self, unix=False, name="lmtp"):
        c = (smtplib.LMTP(self.sock, timeout=30) if unix
             else smtplib.LMTP("127.0.0.1", self.d.port(name), timeout=30))
        self.addCleanup(c.close)
        code, _ = c.ehlo("client.test")  # smtplib.LMTP sends LHLO
        self.assertEqual(code, 250)
        return c

    def stored(self, rcpt_dir, marker):
        found = [data for path, data in copies(self.base, marker) if path.startswith(rcpt_dir)]
        self.assertEqual(len(found), 1, f"{rcpt_dir}: {found}\n{self.d.log()[-3000:]}")
        return split_trace(found[0])

    def test_lhlo_capabilities(self):
        c = self.lmtp()
        for ext in ("pipelining", "enhancedstatuscodes", "8bitmime", "chunking"):
            self.assertTrue(c.has_extn(ext), ext)
        self.assertEqual(c.esmtp_features["size"], "100000")
        # EHLO and HELO are not LMTP commands (RFC 2033 4.1)
        self.assertEqual(c.docmd("EHLO client.test")[0], 500)
        self.assertEqual(c.docmd("HELO client.test")[0], 500)

    def test_replies_per_recipient_after_data(self):
        c = self.lmtp()
        self.assertEqual(c.mail("sender@remote.example")[0], 250)
        self.assertEqual(c.rcpt("alice@example.org")[0], 250)
        code, text = c.rcpt("nobody@example.org")
        self.assertEqual((code, text[:5]), (550, b"5.1.1"), text)
        code, text = c.rcpt("erin@example.org")
        self.assertEqual((code, text[:5]), (550, b"5.2.1"), text)
        code, text = c.rcpt("frank@example.org")
        self.assertEqual((code, text[:5]), (451, b"4.4.0"), text)
        self.assertIn(b"other-node.test.example", text)
        self.assertEqual(c.rcpt("hank@example.org")[0], 250)
        self.assertEqual(c.rcpt("carol@example.net")[0], 250)
        message = (b"From: sender@remote.example\r\nSubject: per recipient\r\n"
                   b"X-Marker: lmtp-per-rcpt\r\n\r\n" + b"long enough for hank's quota\r\n" * 20
                   + b".a line smtplib dot-stuffs\r\n")
        code, text = c.data(message)  # the first recipient's reply
        rest = replies(c, 2)
        self.assertEqual(code, 250, text)
        self.assertEqual((rest[0][0], rest[0][1][:5]), (452, b"4.2.2"), rest)
        self.assertEqual(rest[1][0], 250, rest)
        c.quit()
        for box in ("example.org/alice/", "example.net/carol/"):
            trace, body = self.stored(box, b"lmtp-per-rcpt")
            self.assertEqual(body, as_stored(message))
            names = [n for n, _ in trace]
            self.assertEqual(names, ["return-path", "delivered-to", "received"])
            self.assertEqual(trace[0][1], "<sender@remote.example>")
            self.assertIn("with LMTP", trace[2][1])
        self.assertEqual(copies(os.path.join(self.base, "example.org/hank"), b"lmtp-per-rcpt"),
                         [])

    def test_bdat_chunking_over_the_unix_socket(self):
        mode = os.stat(self.sock).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o666)
        c = self.lmtp(unix=True)
        c.mail("<>")
        self.assertEqual(c.rcpt("alice@example.org")[0], 250)
        self.assertEqual(c.rcpt("bob@example.org")[0], 250)
        part1 = b"Subject: chunked\r\nX-Marker: lmtp-bdat\r\n\r\nfirst "
        part2 = b"chunk and\r\nthe second\r\n"
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(c.getreply()[0], 250)
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        got = replies(c, 2)
        self.assertEqual([g[0] for g in got], [250, 250], got)
        c.quit()
        for box in ("example.org/alice/", "example.org/bob/"):
            trace, body = self.stored(box, b"lmtp-bdat")
            self.assertEqual(body, as_stored(part1 + part2))
            self.assertEqual(trace[0][1], "<>")
            self.assertIn("(local socket)", trace[2][1])

    def test_pipelining(self):
        s = socket.create_connection(("127.0.0.1", self.d.port("lmtp")), timeout=30)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        s.sendall(b"LHLO c.test\r\nMAIL FROM:<p@remote.example>\r\nRCPT TO:<alice@example.org>\r\n"
                  b"RCPT TO:<nobody@example.org>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n")
        lines = []
        while not lines or not lines[-1].startswith(b"354"):
            lines.append(f.readline())
        codes = [l[:4] for l in lines if l[3:4] == b" "]
        self.assertEqual(codes, [b"250 ", b"250 ", b"250 ", b"550 ", b"250 ", b"354 "], lines)
        s.sendall(b"Subject: piped\r\nX-Marker: lmtp-pipe\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        after = [f.readline() for _ in range(3)]
        self.assertEqual([a[:3] for a in after], [b"250", b"250", b"221"], after)
        self.stored("example.org/alice/", b"lmtp-pipe")
        self.stored("example.net/carol/", b"lmtp-pipe")

    def test_bare_lf_refused_for_every_recipient(self):
        c = self.lmtp()
        c.mail("s@remote.example")
        c.rcpt("alice@example.org")
        c.rcpt("carol@example.net")
        c.putcmd("DATA")
        self.assertEqual(c.getreply()[0], 354)
        c.send(b"Subject: smuggle\r\nX-Marker: lmtp-bare-lf\r\n\r\nbad\n.\nline\r\n.\r\n")
        got = replies(c, 2)
        self.assertEqual([(g[0], g[1][:5]) for g in got], [(550, b"5.6.0")] * 2, got)
        self.assertEqual(copies(self.base, b"lmtp-bare-lf"), [])

    def test_many_unknown_recipients_do_not_end_the_session(self):
        # refused recipients are no protocol errors: limits.errors (20) is
        # for syntax and sequence mistakes, not for a batch's unknown users
        c = self.lmtp()
        c.mail("s@remote.example")
        for i in range(25):
            self.assertEqual(c.rcpt(f"unknown{i}@example.org")[0], 550)
        self.assertEqual(c.rcpt("alice@example.org")[0], 250)
        code, text = c.data(b"Subject: batch\r\nX-Marker: lmtp-many-unknown\r\n\r\nx\r\n")
        self.assertEqual(code, 250, text)
        self.stored("example.org/alice/", b"lmtp-many-unknown")

    def test_too_big_refused(self):
        c = self.lmtp()
        code, text = c.mail("s@remote.example", ["SIZE=200000"])
        self.assertEqual((code, text[:5]), (552, b"5.3.4"))

    def test_untrusted_network_refused(self):
        with self.assertRaises(smtplib.SMTPConnectError) as e:
            smtplib.LMTP("127.0.0.1", self.d.port("lmtp-untrusted"), timeout=30)
        self.assertEqual(e.exception.smtp_code, 554)
        self.assertIn(b"5.7.1", e.exception.smtp_error)
        self.d.wait_log(r"event=lmtp_refused service=lmtp-untrusted client=127\.0\.0\.1")

    def test_zz_directory_down_gives_451(self):
        # last: slapd goes away (and comes back for nothing else to see)
        self.ldap.stop()
        try:
            c = self.lmtp()
            c.mail("s@remote.example")
            # never looked up before: nothing cached stands in for the directory
            code, text = c.rcpt("neverseen@example.org")
            self.assertEqual((code, text[:5]), (451, b"4.4.3"), text)
        finally:
            self.ldap.start()


if __name__ == "__main__":
    harness.tap.main()
