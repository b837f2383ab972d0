#!/usr/bin/env python3
"""test_imap.py - the IMAP server (reader/imap_*.c) with Python's imaplib
against a real slapd and dirmaild: mail is sent through SMTP so that the
gateway writes the Maildirs, then read, flagged, searched and expunged over
IMAP, and folders made and removed; raw sockets where imaplib would hide
the bytes (literals, garbage)."""
import base64
import imaplib
import os
import re
import smtplib
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import queue_id, spool_ids, wait_for  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


class Raw:
    """An IMAP connection at the byte level over TLS (imaps)."""

    def __init__(self, port, ctx):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s = ctx.wrap_socket(sock, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag):
        """Every line up to and including the one tagged tag."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def closed(self):
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except (ConnectionError, ssl.SSLError):
            return True

    def close(self):
        self.s.close()


@unittest.skipUnless(built(), "dirmaild not built")
class Imap(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("imap-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("imap-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "imap"}, {"type": "imaps"}],
            workers=1,
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix,
                  "connect_timeout": 1, "timeout": 2},
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            # every login must reach the directory (the outage test)
            cache={"positive_ttl": 0, "negative_ttl": 0, "auth_ttl": 0, "stale_ttl": 0},
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
        # nothing the tests did is a server-side IMAP error
        errors = re.findall(r".*level=error event=imap.*", cls.d.log())
        assert not errors, "\n".join(errors)

    def send(self, rcpt, body):
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        s.ehlo()
        s.mail("sender@remote.example")
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        code, text = s.data(body)
        self.assertEqual(code, 250, text)
        s.quit()
        qid = queue_id(text)
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=30,
                 what=f"{qid} delivered\n{self.d.log()[-3000:]}")

    def imap(self, user="alice", password=None, login=True):
        m = imaplib.IMAP4("127.0.0.1", self.d.port("imap"), timeout=30)
        self.addCleanup(self._logout, m)
        m.starttls(self.ctx)
        if login:
            m.login(user, password or PASSWORDS[user])
        return m

    @staticmethod
    def _logout(m):
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass

    def raw(self):
        r = Raw(self.d.port("imaps"), self.ctx)
        self.addCleanup(r.close)
        return r

    def maildir_files(self, rel):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.base, rel, sub)
            if os.path.isdir(d):
                out += [os.path.join(sub, f) for f in os.listdir(d)]
        return sorted(out)

    def select_count(self, m, folder="INBOX"):
        typ, data = m.select(folder)
        self.assertEqual(typ, "OK", data)
        return int(data[0])

    # ---- before login ----

    def test_capability_before_and_after_tls(self):
        m = imaplib.IMAP4("127.0.0.1", self.d.port("imap"), timeout=30)
        self.addCleanup(self._logout, m)
        self.assertIn(b"dirmail IMAP server ready", m.welcome)
        caps = m.capabilities
        for c in ("IMAP4REV1", "STARTTLS", "LOGINDISABLED", "LITERAL+", "SASL-IR", "UIDPLUS"):
            self.assertIn(c, caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("alice", PASSWORDS["alice"])
        self.assertIn("PRIVACYREQUIRED", str(e.exception))
        m.starttls(self.ctx)
        caps = m.capabilities
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        m.login("alice", PASSWORDS["alice"])

    def test_wrong_password_and_disabled_user(self):
        m = self.imap(login=False)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("alice", "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        m = self.imap(login=False)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("erin", PASSWORDS["erin"])
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))

    def test_authenticate_plain_with_and_without_initial_response(self):
        cred = b"\0alice\0" + PASSWORDS["alice"].encode()
        m = self.imap(login=False)
        typ, _ = m.authenticate("PLAIN", lambda challenge: cred)  # with a continuation
        self.assertEqual(typ, "OK")
        self.assertEqual(m.state, "AUTH")
        r = self.raw()
        r.send(b"a1 AUTHENTICATE PLAIN " + base64.b64encode(cred) + b"\r\n")  # RFC 4959
        self.assertTrue(r.until_tagged(b"a1")[-1].startswith(b"a1 OK [CAPABILITY"))
        r.send(b"a2 SELECT INBOX\r\n")
        self.assertIn(b"[READ-WRITE]", r.until_tagged(b"a2")[-1])

    def test_starttls_discards_pipelined_plaintext(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port("imap")), timeout=30)
        self.addCleanup(sock.close)
        f = sock.makefile("rb")
        f.readline()
        # a LOGIN smuggled behind STARTTLS must never be run
        sock.sendall(b"a STARTTLS\r\nb LOGIN alice " + PASSWORDS["alice"].encode() + b"\r\n")
        self.assertTrue(f.readline().startswith(b"a OK"))
        tls = self.ctx.wrap_socket(sock, server_hostname="localhost")
        tls.sendall(b"c CAPABILITY\r\n")
        data = b""
        while b"c OK" not in data:
            data += tls.recv(4096)
        self.assertNotIn(b"b OK", data)
        self.assertIn(b"AUTH=PLAIN", data)  # still not authenticated
        self.d.wait_log(r"event=starttls_discarded")

    def test_garbage_gets_bad(self):
        r = self.raw()
        for cmd, tag in ((b"\r\n", b"*"), (b"+x NOOP\r\n", b"*"), (b"t1 FROB\r\n", b"t1"),
                         (b"t2 SELECT\r\n", b"t2"), (b"t3 LOGIN \"open\r\n", b"t3"),
                         (b"t4 FETCH 1 BODY[\r\n", b"t4"), (b"t5 SELECT INBOX\r\n", b"t5")):
            r.send(cmd)
            last = r.line()
            self.assertTrue(last.startswith(tag + b" BAD") or last.startswith(b"* BAD"), last)
        r.send(b"t6 NOOP\r\n")
        self.assertEqual(r.line(), b"t6 OK NOOP completed")

    def test_literal_limits(self):
        r = self.raw()
        # synchronising: refused before the continuation, nothing is read
        r.send(b"a LOGIN {100000}\r\n")
        self.assertTrue(r.line().startswith(b"a NO [TOOBIG]"))
        # a synchronising literal within the limit gets "+"
        r.send(b"b LOGIN {5}\r\n")
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(b"alice " + PASSWORDS["alice"].encode() + b"\r\n")
        self.assertTrue(r.until_tagged(b"b")[-1].startswith(b"b OK"))
        # non-synchronising over the limit: its octets (commands inside
        # included) are read and dropped, then TOOBIG
        junk = b"x1 DELETE INBOX\r\nx2 LOGOUT\r\n" + b"y" * 70000
        r.send(b"c SELECT {%d+}\r\n" % len(junk) + junk + b"\r\nd NOOP\r\n")
        lines = r.until_tagged(b"d")
        self.assertTrue(lines[0].startswith(b"c NO [TOOBIG]"), lines)
        self.assertEqual(lines[-1], b"d OK NOOP completed")
        self.assertFalse(any(line.startswith(b"x") for line in lines), lines)
        # LITERAL+ within the limit
        r.send(b"e SELECT {5+}\r\nINBOX\r\n")
        self.assertIn(b"[READ-WRITE]", r.until_tagged(b"e")[-1])

    def test_directory_down_is_unavailable(self):
        self.ldap.stop()
        try:
            m = self.imap(login=False)
            with self.assertRaises(imaplib.IMAP4.error) as e:
                m.login("alice", PASSWORDS["alice"])
            self.assertIn("UNAVAILABLE", str(e.exception))
        finally:
            self.ldap.start()
        wait_for(lambda: self._login_ok("alice"), timeout=30, what="login after slapd is back")

    def _login_ok(self, user):
        try:
            m = imaplib.IMAP4("127.0.0.1", self.d.port("imap"), timeout=30)
            m.starttls(self.ctx)
            m.login(user, PASSWORDS[user])
            m.logout()
            return True
        except imaplib.IMAP4.error:
            return False

    # ---- the selected INBOX ----

    def test_fetch_seen_store_expunge(self):
        bodies = [(b"From: s@remote.example\r\nSubject: imap %d\r\nX-N: %d\r\n\r\n"
                   b"line one\r\nline two %d\r\n" % (i, i, i)) for i in range(3)]
        for b in bodies:
            self.send("alice@example.org", b)
        m = self.imap()
        n = self.select_count(m)
        self.assertGreaterEqual(n, 3)
        uidvalidity = m.response("UIDVALIDITY")[1][0]
        first = n - 2
        # sizes are the bytes received, with CRLF
        typ, data = m.fetch(f"{first}:{n}", "(UID RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        msgs = [d for d in data if isinstance(d, tuple)]
        self.assertEqual(len(msgs), 3)
        uids = []
        for (head, content) in msgs:
            size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
            uids.append(int(re.search(rb"UID (\d+)", head).group(1)))
            self.assertEqual(size, len(content))
            self.assertIn(b"\r\nline one\r\n", content)
            self.assertNotIn(b"\n\n", content.replace(b"\r\n", b""))
        self.assertEqual(uids, sorted(uids))
        self.assertTrue(msgs[0][1].endswith(bodies[0]), msgs[0][1][-200:])
        with self.assertRaises(imaplib.IMAP4.error):  # beyond EXISTS: BAD
            m.fetch(str(n + 5), "(FLAGS)")
        typ, data = m.uid("FETCH", "4000000000", "(FLAGS)")  # a UID out of range is no error
        self.assertEqual(typ, "OK")
        # PEEK left \Seen unset
        typ, data = m.fetch(str(first), "(FLAGS)")
        self.assertNotIn(b"\\Seen", data[0])
        # HEADER, TEXT, HEADER.FIELDS and a partial
        typ, data = m.fetch(str(first), "(BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<5.3>)")
        parts = [d for d in data[0] if isinstance(d, bytes)] if isinstance(data[0], tuple) else []
        joined = b"".join(x for d in data if isinstance(d, tuple) for x in d)
        self.assertIn(b"Subject: imap 0\r\n\r\n", joined)
        self.assertIn(b"one", joined)
        del parts
        typ, data = m.uid("FETCH", str(uids[0]), "(BODY.PEEK[HEADER])")
        self.assertTrue(data[0][1].endswith(b"X-N: 0\r\n\r\n"), data[0][1])
        # BODY[] sets \Seen and says so; the file name carries S
        typ, data = m.fetch(str(first), "(BODY[])")
        self.assertRegex(data[0][0], rb"^\d+ \(FLAGS \([^)]*\\Seen[^)]*\) BODY\[\] \{\d+\}$")
        seen_files = [f for f in self.maildir_files("example.org/alice")
                      if f.startswith("cur/") and re.search(r":2,[A-Z]*S", f)]
        self.assertTrue(seen_files, self.maildir_files("example.org/alice"))
        # STORE: flags in the file names and in a second session
        typ, data = m.store(f"{first + 1}", "+FLAGS", "(\\Flagged \\Deleted)")
        self.assertIn(b"\\Flagged", data[0])
        m2 = self.imap()
        self.select_count(m2)
        typ, data = m2.uid("FETCH", str(uids[1]), "(FLAGS)")
        self.assertIn(b"\\Deleted", data[0])
        self.assertTrue(any(re.search(r":2,[A-Z]*F[A-Z]*T", f)
                            for f in self.maildir_files("example.org/alice")))
        typ, data = m.store(f"{first + 1}", "-FLAGS.SILENT", "(\\Flagged)")
        self.assertEqual(data, [None])
        # the second session hears of the change on NOOP
        m2.noop()
        flags = [x for x in m2.untagged_responses.get("FETCH", []) if b"FLAGS" in x]
        self.assertTrue(any(b"\\Deleted" in x and b"\\Flagged" not in x for x in flags), flags)
        # SEARCH
        typ, data = m.search(None, "DELETED")
        self.assertEqual(data[0].split(), [str(first + 1).encode()])
        typ, data = m.uid("SEARCH", "SUBJECT", '"imap 2"')
        self.assertEqual(data[0].split(), [str(uids[2]).encode()])
        typ, data = m.search(None, "OR", "SEEN", "DELETED", "NOT", "BODY", "nowhere")
        self.assertEqual(data[0].split(), [str(first).encode(), str(first + 1).encode()])
        typ, data = m.search(None, "LARGER", "10", "SMALLER", "1000000", "HEADER", "X-N", "2")
        self.assertEqual(data[0].split(), [str(n).encode()])
        typ, data = m.search(None, "SINCE", "1-Jan-2000", "UID", f"{uids[0]}:{uids[1]}")
        self.assertEqual(data[0].split(), [str(first).encode(), str(first + 1).encode()])
        with self.assertRaises(imaplib.IMAP4.error):
            m.search(None, "FROB")
        # EXPUNGE: the deleted one, numbered as the client knew it
        m.store(str(first), "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = m.expunge()
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [str(first + 1).encode(), str(first).encode()])
        self.assertEqual(self.select_count(m), n - 2)
        # the other session is told on its next command, never during FETCH
        m2.fetch("1", "(FLAGS)")
        self.assertNotIn("EXPUNGE", m2.untagged_responses)
        m2.noop()
        self.assertEqual(m2.untagged_responses.get("EXPUNGE"),
                         [str(first + 1).encode(), str(first).encode()])
        # UIDVALIDITY stays, across sessions and a restart (which waits
        # for open sessions to end)
        m.logout()
        m2.logout()
        self.assertEqual(self.d.stop(), 0)
        self.d.restart()
        m3 = self.imap()
        self.assertEqual(self.select_count(m3), n - 2)
        self.assertEqual(m3.response("UIDVALIDITY")[1][0], uidvalidity)
        typ, data = m3.fetch(str(n - 2), "(UID)")
        self.assertIn(b"UID %d" % uids[2], data[0])

    def test_new_mail_seen_on_noop(self):
        m = self.imap("bob")
        n = self.select_count(m)
        self.send("bob@example.org", b"From: s@remote.example\r\nSubject: new\r\n\r\nhello\r\n")
        def exists():
            m.noop()
            e = m.untagged_responses.pop("EXISTS", None)
            return e if e else None
        e = wait_for(exists, timeout=30, what="EXISTS after NOOP")
        self.assertEqual(int(e[-1]), n + 1)
        typ, data = m.fetch(str(n + 1), "(BODY.PEEK[TEXT])")
        self.assertEqual(data[0][1], b"hello\r\n")

    def test_large_message_streamed_with_exact_size(self):
        # 8 MB of LF-stored lines: the literal must be the CRLF size exactly,
        # arrive whole, and a partial from its middle must be those octets
        line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
        body = b"From: s@remote.example\r\nSubject: large\r\n\r\n" + line * (8 * 1024 * 1024 // len(line))
        self.send("bob@example.org", body)
        m = self.imap("bob")
        n = self.select_count(m)
        typ, data = m.fetch(str(n), "(RFC822.SIZE BODY.PEEK[])")
        size = int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1))
        self.assertEqual(size, len(data[0][1]))
        self.assertTrue(data[0][1].endswith(body), len(data[0][1]))
        typ, data = m.fetch(str(n), "(BODY.PEEK[TEXT]<4000000.100>)")
        text = body.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(data[0][1], text[4000000:4000100])
        m.close()

    def test_examine_is_read_only(self):
        self.send("carol@example.net", b"From: s@remote.example\r\nSubject: ro\r\n\r\nx\r\n")
        m = self.imap("carol")
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        n = int(data[0])
        typ, data = m.fetch(str(n), "(BODY[])")
        self.assertNotIn(b"\\Seen", data[0][0])
        typ, data = m.store(str(n), "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"READ-ONLY", data[0])

    # ---- folders ----

    def test_create_list_status_delete(self):
        m = self.imap("carol")
        typ, data = m.create("Archive")
        self.assertEqual(typ, "OK", data)
        self.assertTrue(os.path.isdir(os.path.join(self.base, "example.net/carol/.Archive/cur")))
        self.assertEqual(m.create("Archive")[0], "NO")
        self.assertEqual(m.create("Archive.2026")[0], "OK")
        typ, data = m.list()
        names = [d.rsplit(b" ", 1)[1] for d in data]
        for name in (b'"INBOX"', b'"Archive"', b'"Archive.2026"'):
            self.assertIn(name, names)
        typ, data = m.list("", "%")
        self.assertNotIn(b'"Archive.2026"', [d.rsplit(b" ", 1)[1] for d in data])
        typ, data = m.list("Archive.", "*")
        self.assertEqual([d.rsplit(b" ", 1)[1] for d in data], [b'"Archive.2026"'])
        typ, data = m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MESSAGES 0", data[0])
        self.assertEqual(self.select_count(m, "Archive"), 0)
        m.close()
        self.assertEqual(m.delete("Archive.2026")[0], "OK")
        self.assertFalse(os.path.exists(os.path.join(self.base, "example.net/carol/.Archive.2026")))
        self.assertEqual(m.select("Archive.2026")[0], "NO")
        # RENAME takes the folders below along
        self.assertEqual(m.create("Old")[0], "OK")
        self.assertEqual(m.create("Old.Sub")[0], "OK")
        self.assertEqual(m.rename("Old", "New")[0], "OK")
        typ, data = m.list("", "*")
        names = [d.rsplit(b" ", 1)[1] for d in data]
        self.assertIn(b'"New.Sub"', names)
        self.assertNotIn(b'"Old.Sub"', names)
        self.assertEqual(m.rename("Nothing", "Else")[0], "NO")
        self.assertEqual(m.rename("New", "Archive")[0], "NO")
        # subscriptions: a file in the Maildir, LSUB lists only them
        self.assertEqual(m.subscribe("New.Sub")[0], "OK")
        self.assertEqual(m.subscribe("INBOX")[0], "OK")
        typ, data = m.lsub("", "*")
        self.assertEqual(sorted(d.rsplit(b" ", 1)[1] for d in data), [b'"INBOX"', b'"New.Sub"'])
        self.assertEqual(m.unsubscribe("New.Sub")[0], "OK")
        typ, data = m.lsub("", "*")
        self.assertEqual([d.rsplit(b" ", 1)[1] for d in data], [b'"INBOX"'])
        with open(os.path.join(self.base, "example.net/carol/subscriptions"), "rb") as f:
            self.assertEqual(f.read(), b"INBOX\n")
        self.assertEqual(m.delete("INBOX")[0], "NO")
        self.assertEqual(m.create("../escape")[0], "NO")
        self.assertFalse(os.path.exists(os.path.join(self.base, "example.net/escape")))

    def test_append_copy_uidplus(self):
        m = self.imap("carol")
        self.assertEqual(m.create("Copies")[0], "OK")
        msg = b"From: c@example.net\r\nSubject: appended\r\n\r\nbody\r\n"
        typ, data = m.append("Copies", "(\\Flagged)", '"01-Feb-2020 10:30:00 +0100"', msg)
        self.assertEqual(typ, "OK", data)
        mo = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        self.assertIsNotNone(mo, data)
        validity, appended = int(mo.group(1)), int(mo.group(2))
        files = self.maildir_files("example.net/carol/.Copies")
        self.assertEqual(len(files), 1, files)
        self.assertRegex(files[0], r"^cur/.*:2,F$")
        with open(os.path.join(self.base, "example.net/carol/.Copies", files[0]), "rb") as f:
            self.assertEqual(f.read(), msg.replace(b"\r\n", b"\n"))  # no trace fields added
        # a message from the gateway, copied with its flags and date
        self.send("carol@example.net", b"From: s@remote.example\r\nSubject: tocopy\r\n\r\nxyz\r\n")
        n = self.select_count(m)
        m.store(str(n), "+FLAGS", "(\\Answered)")
        typ, src = m.fetch(str(n), "(UID INTERNALDATE BODY.PEEK[])")
        src_uid = int(re.search(rb"UID (\d+)", src[0][0]).group(1))
        typ, data = m.copy(str(n), "Copies")
        self.assertEqual(typ, "OK", data)
        mo = re.search(rb"\[COPYUID (\d+) (\d+) (\d+)\]", data[0])
        self.assertIsNotNone(mo, data)
        self.assertEqual(int(mo.group(1)), validity)
        self.assertEqual(int(mo.group(2)), src_uid)
        copied = int(mo.group(3))
        self.assertGreater(copied, appended)
        typ, data = m.copy(str(n), "Nowhere")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        self.assertEqual(self.select_count(m, "Copies"), 2)
        typ, data = m.uid("FETCH", f"{appended},{copied}", "(FLAGS INTERNALDATE BODY.PEEK[])")
        got = [d for d in data if isinstance(d, tuple)]
        self.assertEqual(got[0][1], msg)
        self.assertIn(b'INTERNALDATE " 1-Feb-2020 09:30:00 +0000"', got[0][0])
        self.assertEqual(got[1][1], src[0][1])
        self.assertIn(b"\\Answered", got[1][0])
        self.assertIn(re.search(rb"INTERNALDATE \"[^\"]+\"", src[0][0]).group(0), got[1][0])
        # UIDs are never given twice: expunge the last, append again
        m.uid("STORE", str(copied), "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = m.uid("EXPUNGE", str(copied))
        self.assertEqual(typ, "OK", data)
        typ, data = m.append("Copies", None, None, msg)
        again = int(re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0]).group(1))
        self.assertGreater(again, copied)
        # APPEND with a non-synchronising literal (LITERAL+)
        r = self.raw()
        r.send(b"a LOGIN carol " + PASSWORDS["carol"].encode() + b"\r\n")
        r.until_tagged(b"a")
        r.send(b"b APPEND Copies {%d+}\r\n" % len(msg) + msg + b"\r\n")
        self.assertRegex(r.until_tagged(b"b")[-1], rb"^b OK \[APPENDUID \d+ \d+\]")

    def test_user_never_delivered_to_has_an_empty_inbox(self):
        m = self.imap("dave")
        self.assertEqual(self.select_count(m), 0)
        typ, data = m.search(None, "ALL")
        self.assertEqual(data, [b""])


if __name__ == "__main__":
    harness.tap.main()
