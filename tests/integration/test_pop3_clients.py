#!/usr/bin/env python3
"""test_pop3_clients.py - POP3 clients nobody here wrote against a real
slapd and dirmaild, on Maildirs the gateway wrote: curl (pop3:// with STLS,
pop3s://, its LIST, RETR and its SASL) and fetchmail (Debian's, with its own
rc file in a temporary folder) fetching a whole mailbox through an MDA, the
messages compared octet for octet, the mailbox empty afterwards."""
import os
import shutil
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.pop3 import Pop3Fixture, RawPop3  # noqa: E402


def messages(tag, n):
    """n messages, plain and MIME, one with a line that starts with a dot,
    one large, as CRLF octets (what SMTP carries and POP3 sends)."""
    out = []
    for i in range(n):
        body = f"From: s@remote.example\r\nTo: x@example.org\r\nSubject: {tag} {i}\r\n"
        if i % 3 == 1:
            body += ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
                     "--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n.dot line\r\n"
                     "--b1\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n"
                     + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n" * (40 * i + 1) + "--b1--\r\n")
        else:
            body += "\r\n" + "".join(f"line {j} of message {i}\r\n" for j in range(5 + 300 * i))
            body += ".\r\n..two dots\r\n"
        out.append(body.encode())
    return out


@unittest.skipUnless(built(), "dirmaild not built")
class Pop3Clients(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.f = Pop3Fixture()
        cls.d = cls.f.d

    @classmethod
    def tearDownClass(cls):
        status = cls.f.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def fill(self, uid, tag, n):
        self.f.add_user(uid, uid + "-password")
        sent = messages(tag, n)
        for m in sent:
            self.f.send(uid + "@example.org", m)
        return sent

    def curl(self, url, uid, *extra):
        argv = ["curl", "--silent", "--show-error", "--max-time", "60",
                "--cacert", self.f.pki["ca"], "--user", f"{uid}:{uid}-password"]
        argv += list(extra) + [url]
        r = subprocess.run(argv, capture_output=True, timeout=90)
        self.assertEqual(r.returncode, 0, (argv, r.stderr))
        return r.stdout

    def stored_order(self, uid, sent):
        """sent in the order of the maildrop's numbering (by UID: arrival)."""
        r = RawPop3(self.d.port("pop3s"), self.f.ctx, implicit_tls=True)
        self.addCleanup(r.close)
        r.login(uid, uid + "-password")
        order = []
        for n in range(1, len(sent) + 1):
            _, top = r.multi(f"TOP {n} 0")
            subject = [l for l in top.split(b"\r\n") if l.startswith(b"Subject: ")][0]
            order.append(next(m for m in sent if subject + b"\r\n" in m))
        r.cmd("QUIT")
        return order

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_pop3_stls_and_pop3s_list_and_retr(self):
        uid = "curly"
        sent = self.fill(uid, "curl", 4)
        order = self.stored_order(uid, sent)
        for scheme, port, tls in (("pop3", self.d.port("pop3"), ["--ssl-reqd"]),
                                  ("pop3s", self.d.port("pop3s"), [])):
            base = f"{scheme}://127.0.0.1:{port}/"
            listing = self.curl(base, uid, *tls)
            rows = [l.split() for l in listing.decode().splitlines()]
            self.assertEqual([int(n) for n, _ in rows], [1, 2, 3, 4], listing)
            for (n, size), want in zip(rows, order):
                got = self.curl(base + n, uid, *tls)
                # what the client receives is the message as it was sent,
                # octet for octet, and its size is the one LIST gave
                self.check_trace_prefix(got, want)
                self.assertEqual(int(size), len(got), (scheme, n))
        # curl's SASL: PLAIN and LOGIN as it chooses them from CAPA
        for mech in ("PLAIN", "LOGIN"):
            got = self.curl(f"pop3s://127.0.0.1:{self.d.port('pop3s')}/1", uid,
                            "--login-options", f"AUTH={mech}")
            self.assertTrue(got.endswith(order[0]), mech)
        # a wrong password is refused
        r = subprocess.run(["curl", "--silent", "--cacert", self.f.pki["ca"], "--user",
                            f"{uid}:wrong", f"pop3s://127.0.0.1:{self.d.port('pop3s')}/"],
                           capture_output=True, timeout=90)
        self.assertEqual(r.returncode, 67, r)  # CURLE_LOGIN_DENIED

    def check_trace_prefix(self, got, want):
        """got must be want with the gateway's trace fields in front (a
        Return-Path, Delivered-To and Received:, whose text is the
        gateway's), so a wrong octet anywhere in the message itself fails."""
        self.assertTrue(got.endswith(want), got[-300:])
        prefix = got[:len(got) - len(want)]
        for line in prefix.split(b"\r\n")[:-1]:
            self.assertTrue(line[:1] in (b" ", b"\t") or line.split(b":")[0].lower()
                            in (b"return-path", b"delivered-to", b"received"), line)

    @unittest.skipUnless(shutil.which("fetchmail"), "fetchmail not installed")
    def test_fetchmail_fetches_the_whole_mailbox(self):
        uid = "fetchy"
        sent = self.fill(uid, "fetchmail", 6)
        home = process.tempdir("fetchmail-")
        out = os.path.join(home, "delivered")
        os.mkdir(out)
        mda = os.path.join(home, "mda")
        with open(mda, "w") as f:
            # one file per message; a non-zero exit would keep it on the server
            f.write("#!/bin/sh\nset -e\nt=$(mktemp \"%s/msg.XXXXXX\")\ncat > \"$t\"\n" % out)
        os.chmod(mda, 0o755)
        rc = os.path.join(home, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'set no syslog\nset logfile "{home}/fetchmail.log"\n'
                    f'poll 127.0.0.1 proto POP3 port {self.d.port("pop3")} uidl\n'
                    f'  user "{uid}" there with password "{uid}-password" is "nobody" here\n'
                    f'  sslproto "TLS1.2+" sslcertck sslcommonname "localhost" sslcertfile "{self.f.pki["ca"]}"\n'
                    f'  fetchall nokeep mda "{mda}"\n')
        os.chmod(rc, stat.S_IRUSR | stat.S_IWUSR)
        env = {k: v for k, v in os.environ.items()
               if k not in ("FETCHMAILUSER", "LOGNAME", "USER")}
        env.update(FETCHMAILHOME=home, HOME=home)
        r = subprocess.run(["fetchmail", "--nodetach", "-d0", "-v", "-f", rc,
                            "--pidfile", os.path.join(home, "pid")],
                           capture_output=True, timeout=120, env=env)
        log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, log)
        self.assertIn("STLS", log)
        got = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as fh:
                got.append(fh.read())
        self.assertEqual(len(got), len(sent), log)
        # an MDA gets LF line ends; fetchmail puts its own Received: on top
        for want in sent:
            lf = want.replace(b"\r\n", b"\n")
            self.assertEqual(sum(1 for g in got if g.endswith(lf)), 1, want[:80])
        # with nokeep the messages were deleted at QUIT: the maildrop is empty
        p = RawPop3(self.d.port("pop3s"), self.f.ctx, implicit_tls=True)
        self.addCleanup(p.close)
        p.login(uid, uid + "-password")
        self.assertEqual(p.cmd("STAT"), b"+OK 0 0\r\n")
        p.cmd("QUIT")
        self.assertEqual(self.f.message_files(uid), [])


if __name__ == "__main__":
    harness.tap.main()
