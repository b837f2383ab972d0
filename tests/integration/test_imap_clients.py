#!/usr/bin/env python3
"""test_imap_clients.py - the IMAP server against curl (imap:// with
STARTTLS required, imaps://: listing, fetching a message by UID byte-exact,
SEARCH, and an upload that is an APPEND), mutt (run on a pseudo-terminal
with keys pushed: it flags one message, deletes another, copies a third
into a folder and syncs, which imaplib then checks) and a 20 MB APPEND in each of the
literal forms (RFC 3501 synchronising, RFC 7888 LITERAL+ non-synchronising),
with a real slapd and dirmaild; the mail is written by the gateway."""
import hashlib
import imaplib
import os
import pty
import re
import select
import signal
import time
import shutil
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import deliver  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402
from test_imap import make_dir  # noqa: E402

CURL = shutil.which("curl")
MUTT = shutil.which("mutt")
BIG = 20 * 1024 * 1024


def big_message(tag):
    line = b"%-70s\r\n" % tag.encode()
    head = b"From: s@remote.example\r\nSubject: big " + tag.encode() + b"\r\n\r\n"
    return head + line * ((BIG - len(head)) // len(line))


@unittest.skipUnless(built(), "dirmaild not built")
class ImapClients(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("imapc-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("imapc-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "imap"}, {"type": "imaps"}],
            workers=1,
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix},
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            limits={"message_size": 64 * 1024 * 1024},
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

    def send(self, rcpt, body):
        deliver(self.d, rcpt, body)

    def imap(self, user):
        m = imaplib.IMAP4("127.0.0.1", self.d.port("imap"), timeout=60)
        m.starttls(self.ctx)
        m.login(user, PASSWORDS[user])
        self.addCleanup(self._logout, m)
        return m

    @staticmethod
    def _logout(m):
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass  # logged out already

    def curl(self, url, *args, user="carol"):
        cmd = [CURL, "-sS", "--max-time", "60", "--cacert", self.pki["ca"], "--user",
               f"{user}:{PASSWORDS[user]}", *args, url]
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, f"{cmd}: {r.stderr.decode(errors='replace')}")
        return r.stdout

    def url(self, scheme, path=""):
        # the certificate is for localhost; curl connects there by name
        port = self.d.port("imaps" if scheme == "imaps" else "imap")
        return f"{scheme}://localhost:{port}/{path}"

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_lists_fetches_and_searches_over_starttls(self):
        body = (b"From: s@remote.example\r\nSubject: for curl\r\nMessage-ID: <curl1@test>\r\n\r\n"
                b"fetched by curl\r\n")
        self.send("carol@example.net", body)
        m = self.imap("carol")
        m.select("INBOX")
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", "curl1@test")
        uid = int(data[0].split()[-1])
        typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        stored = data[0][1]
        listing = self.curl(self.url("imap"), "--ssl-reqd")
        self.assertRegex(listing, rb'\* LIST \([^)]*\) "\." "?INBOX"?')
        fetched = self.curl(self.url("imap", f"INBOX;UID={uid}"), "--ssl-reqd")
        self.assertEqual(fetched, stored)
        self.assertTrue(fetched.endswith(b"fetched by curl\r\n"))
        found = self.curl(self.url("imap", "INBOX"), "--ssl-reqd", "-X",
                          "UID SEARCH SUBJECT \"for curl\"")
        self.assertIn(b"* SEARCH", found)
        self.assertIn(str(uid).encode(), found.split(b"* SEARCH", 1)[1].split())

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_over_imaps_and_upload_is_an_append(self):
        listing = self.curl(self.url("imaps"))
        self.assertIn(b"INBOX", listing)
        path = os.path.join(process.tempdir("imapc-up-"), "up.eml")
        with open(path, "wb") as f:
            f.write(b"From: carol@example.net\r\nSubject: uploaded by curl\r\n\r\nappended\r\n")
        self.curl(self.url("imaps", "INBOX"), "-T", path)
        m = self.imap("carol")
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", "\"uploaded by curl\"")
        self.assertEqual(len(data[0].split()), 1, data)
        typ, data = m.fetch(data[0].split()[0], "(BODY.PEEK[TEXT])")
        self.assertEqual(data[0][1], b"appended\r\n")

    def run_mutt(self, user, keys):
        """mutt on a pseudo-terminal against imaps, with keys pushed; its
        exit status (mutt wants a terminal even when nobody types)."""
        home = process.tempdir("imapc-mutt-")
        rc = os.path.join(home, "muttrc")
        url = f"imaps://{user}@localhost:{self.d.port('imaps')}/"
        with open(rc, "w") as f:
            f.write(f'set folder="{url}"\nset spoolfile="+INBOX"\n'
                    f'set imap_pass="{PASSWORDS[user]}"\n'
                    f'set ssl_ca_certificates_file="{self.pki["ca"]}"\n'
                    "set ssl_force_tls=yes\nset ssl_starttls=no\n"
                    "set certificate_file=/dev/null\nset confirmappend=no\n"
                    "set confirmcreate=no\nset delete=yes\nset quit=yes\nset move=no\n"
                    "set mark_old=no\nset imap_passive=no\nset timeout=1\n"
                    f'set header_cache=""\nset message_cachedir=""\n'
                    f'push "{keys}"\n')
        env = dict(os.environ, HOME=home, TERM="vt100", MUTT=rc)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(MUTT, [MUTT, "-n", "-F", rc, "-f", "+INBOX"], env)
        out, deadline = b"", time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                if r:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        chunk = b""  # EIO: the child closed the terminal
                    if not chunk:
                        break
                    out += chunk
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status), out
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.fail(f"mutt did not finish: {out[-2000:]!r}")
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out

    @unittest.skipUnless(MUTT, "mutt not installed")
    def test_mutt_flags_deletes_and_copies(self):
        for subject in ("mutt-flag", "mutt-delete", "mutt-copy"):
            self.send("bob@example.org",
                      b"From: s@remote.example\r\nSubject: " + subject.encode() +
                      b"\r\n\r\nfor mutt\r\n")
        m = self.imap("bob")
        m.create("Kept")
        m.logout()
        keys = ("<tag-pattern>~s mutt-flag<enter><tag-prefix><flag-message>"
                "<untag-pattern>.<enter>"
                "<tag-pattern>~s mutt-delete<enter><tag-prefix><delete-message>"
                "<untag-pattern>.<enter>"
                "<tag-pattern>~s mutt-copy<enter><tag-prefix><copy-message>=Kept<enter>"
                "<sync-mailbox><quit>")
        status, out = self.run_mutt("bob", keys)
        self.assertEqual(status, 0, out[-2000:])
        m = self.imap("bob")
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", "mutt-flag", "FLAGGED")
        self.assertEqual(len(data[0].split()), 1, data)
        typ, data = m.search(None, "SUBJECT", "mutt-delete")
        self.assertEqual(data[0].split(), [], "deleted and expunged by mutt's sync")
        typ, data = m.search(None, "SUBJECT", "mutt-copy")
        self.assertEqual(len(data[0].split()), 1, "the original stays")
        m.select("Kept")
        typ, data = m.search(None, "SUBJECT", "mutt-copy")
        self.assertEqual(len(data[0].split()), 1, data)

    def raw_login(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port("imaps")), timeout=120)
        s = self.ctx.wrap_socket(sock, server_hostname="localhost")
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(b"a1 LOGIN dave " + PASSWORDS["dave"].encode() + b"\r\n")
        while not (line := f.readline()).startswith(b"a1 "):
            pass
        self.assertTrue(line.startswith(b"a1 OK"), line)
        return s, f

    def tagged(self, f, tag):
        while True:
            line = f.readline()
            if not line:
                raise EOFError(tag)
            if line.startswith(tag + b" "):
                return line

    def check_big(self, message, tag):
        m = self.imap("dave")
        m.select("Big")
        typ, data = m.search(None, "SUBJECT", f"\"big {tag}\"")
        nums = data[0].split()
        self.assertEqual(len(nums), 1, data)
        typ, data = m.fetch(nums[0], "(RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1)), len(message))
        self.assertEqual(hashlib.sha256(data[0][1]).hexdigest(),
                         hashlib.sha256(message).hexdigest())

    def test_append_20mb_with_each_literal_form(self):
        s, f = self.raw_login()
        s.sendall(b"c1 CREATE Big\r\n")
        self.tagged(f, b"c1")
        # RFC 3501 4.3: synchronising, the octets only after "+"
        sync = big_message("sync")
        s.sendall(b"a2 APPEND Big (\\Seen) {%d}\r\n" % len(sync))
        cont = f.readline()
        self.assertTrue(cont.startswith(b"+"), cont)
        s.sendall(sync + b"\r\n")
        line = self.tagged(f, b"a2")
        self.assertTrue(line.startswith(b"a2 OK"), line)
        self.assertIn(b"APPENDUID", line)
        # RFC 7888 LITERAL+: the octets at once, no continuation awaited
        plus = big_message("plus")
        s.sendall(b"a3 APPEND Big {%d+}\r\n" % len(plus) + plus + b"\r\n")
        line = self.tagged(f, b"a3")
        self.assertTrue(line.startswith(b"a3 OK"), line)
        self.check_big(sync, "sync")
        self.check_big(plus, "plus")


if __name__ == "__main__":
    harness.tap.main()
