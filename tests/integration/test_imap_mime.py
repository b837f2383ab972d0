#!/usr/bin/env python3
"""test_imap_mime.py - the IMAP server's MIME answers with imaplib against a
real slapd and dirmaild, where Dovecot is no reference: the structure is
parsed once and then read from the folder's dirmail-mimecache/ (an entry
altered on disk is what the next FETCH says, also after a flag change
renamed the file, and a message file that changes is parsed again),
BINARY with a NUL goes as literal8, an unknown transfer encoding is
NO [UNKNOWN-CTE] before anything is sent, a non-PEEK part fetch sets
\\Seen, 8-bit header text goes as a literal, and SEARCH decodes."""
import glob
import imaplib
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.imap_server import ImapsServer, logout_quietly  # noqa: E402
from harness.slapd import PASSWORDS  # noqa: E402

NESTED = (b"From: a@example.com\r\nSubject: cached\r\n"
          b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
          b"--b\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n")
ODD_CTE = (b"Subject: odd\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Transfer-Encoding: x-uuencode-ish\r\n\r\nbegin\r\n--b--\r\n")
EIGHT_BIT = "Subject: Grüße\r\nFrom: Jörg <j@example.com>\r\n\r\nSchöne Grüße\r\n".encode()


@unittest.skipUnless(built(), "dirmaild not built")
class ImapMime(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = ImapsServer("imap-mime")
        cls.d, cls.base, cls.ctx = cls.server.d, cls.server.base, cls.server.ctx

    @classmethod
    def tearDownClass(cls):
        status = cls.server.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"
        errors = re.findall(r".*level=error event=imap.*", cls.d.log())
        assert not errors, "\n".join(errors)

    def imap(self, user):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.d.port("imaps"), ssl_context=self.ctx,
                              timeout=60)
        self.addCleanup(logout_quietly, m)
        m.login(user, PASSWORDS[user])
        return m


    def raw_session(self):
        """A TLS socket to imaps, and until(pattern): what it has sent up to
        and with the first match of the regex pattern."""
        raw = socket.create_connection(("127.0.0.1", self.d.port("imaps")), timeout=30)
        s = self.ctx.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(s.close)
        buf = b""

        def until(pattern):
            nonlocal buf
            while not re.search(pattern, buf):
                chunk = s.recv(65536)
                self.assertTrue(chunk, buf)
                buf += chunk
            out, buf = buf, b""
            return out

        return s, until

    def append_one(self, m, msg):
        typ, data = m.append("INBOX", None, None, msg)
        self.assertEqual(typ, "OK", data)
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK", data)
        return int(data[0])

    def user_files(self, user, pattern):
        """Files below user's Maildir (each test has its own user)."""
        return [p for p in glob.glob(os.path.join(self.base, "**", pattern), recursive=True)
                if (os.sep + user + os.sep) in p]

    def test_structure_is_parsed_once_then_read_from_the_cache(self):
        m = self.imap("alice")
        seq = self.append_one(m, NESTED)
        typ, data = m.fetch(str(seq), "(BODYSTRUCTURE)")
        self.assertEqual(typ, "OK")
        self.assertIn(b'"mixed"', data[0])
        entries = self.user_files("alice", os.path.join("dirmail-mimecache", "*"))
        self.assertEqual(len(entries), 1, entries)
        entry = entries[0]
        with open(entry, "rb") as f:
            text = f.read()
        # the entry's three texts are at its end, their lengths in its first line
        head, rest = text.split(b"\n", 1)
        fields = head.split(b" ")
        env_len, body_len, bs_len = (int(x) for x in fields[-3:])
        marker = b'("text" "plain" NIL NIL NIL "7bit" 6 1 NIL NIL NIL NIL)'
        fields[-1] = str(len(marker)).encode()
        altered = b" ".join(fields) + b"\n" + rest[:len(rest) - bs_len] + marker
        with open(entry + ".new", "wb") as f:
            f.write(altered)
        os.rename(entry + ".new", entry)
        typ, data = m.fetch(str(seq), "(BODYSTRUCTURE)")
        self.assertIn(marker, data[0], "the second FETCH parsed the message again")
        # a flag change renames the message file; the entry still applies
        typ, data = m.store(str(seq), "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        typ, data = m.fetch(str(seq), "(BODYSTRUCTURE)")
        self.assertIn(marker, data[0])
        # the part sections come from the entry's offsets
        typ, data = m.fetch(str(seq), "(BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2])")
        got = {re.search(rb"([A-Z.]+\[[^\]]*\]) ~?\{\d+\}$", d[0]).group(1): d[1]
               for d in data if isinstance(d, tuple)}
        self.assertEqual(got[b"BODY[1]"], b"first part")
        self.assertEqual(got[b"BODY[2.MIME]"],
                         b"Content-Type: application/octet-stream\r\n"
                         b"Content-Transfer-Encoding: base64\r\n\r\n")
        self.assertEqual(got[b"BINARY[2]"], b"\x00\x01\x02")
        # the message file changes (another size): parsed again
        msgfile = self.user_files("alice", os.path.join("cur", "*"))
        self.assertEqual(len(msgfile), 1)
        with open(msgfile[0], "ab") as f:
            f.write(b"trailing\n")
        typ, data = m.fetch(str(seq), "(BODYSTRUCTURE)")
        self.assertNotIn(marker, data[0])
        self.assertIn(b'"mixed"', data[0])

    def test_binary_nul_unknown_encoding_and_seen(self):
        m = self.imap("bob")
        seq = self.append_one(m, NESTED)
        odd = self.append_one(m, ODD_CTE)
        # literal8 for content with a NUL (RFC 3516 4.2), seen on the wire
        s, read_until = self.raw_session()

        def until(tag):
            return read_until(rb"(^|\r\n)" + tag + rb" ")

        until(rb"\* OK")
        s.sendall(b"a LOGIN bob " + PASSWORDS["bob"].encode() + b"\r\nb SELECT INBOX\r\n")
        until(b"b")
        s.sendall(b"c FETCH %d (BINARY.PEEK[2] BINARY.SIZE[2])\r\n" % seq)
        out = until(b"c")
        self.assertIn(b"BINARY[2] ~{3}\r\n\x00\x01\x02", out)
        self.assertIn(b"BINARY.SIZE[2] 3", out)
        # an encoding that cannot be undone: NO before any of the message
        s.sendall(b"d FETCH %d (UID BINARY[1])\r\n" % odd)
        out = until(b"d")
        self.assertNotIn(b"FETCH (", out)
        self.assertRegex(out, rb"d NO \[UNKNOWN-CTE\]")
        # BODY[part] without PEEK sets \Seen and says so
        typ, data = m.fetch(str(seq), "(FLAGS)")
        self.assertNotIn(b"\\Seen", data[0])
        typ, data = m.fetch(str(seq), "(BODY[1])")
        self.assertIn(b"\\Seen", b" ".join(d[0] if isinstance(d, tuple) else d for d in data))

    def test_eight_bit_headers_and_decoded_search(self):
        m = self.imap("carol")
        seq = self.append_one(m, EIGHT_BIT)
        typ, data = m.fetch(str(seq), "(ENVELOPE)")
        # the 8-bit subject and name are literals, not quoted strings (RFC 3501 4.3)
        self.assertIsInstance(data[0], tuple)
        self.assertIn("Grüße".encode(), data[0][1])
        m.literal = "GRÜ".encode()
        typ, data = m.search("UTF-8", "SUBJECT")
        self.assertEqual(data, [str(seq).encode()])
        m.literal = "grüne".encode()
        typ, data = m.search("UTF-8", "SUBJECT")
        self.assertEqual(data, [b""])
        m.literal = "SCHÖNE".encode()
        typ, data = m.search("UTF-8", "BODY")
        self.assertEqual(data, [str(seq).encode()])
        m.literal = "jörg".encode()
        typ, data = m.search("UTF-8", "FROM")
        self.assertEqual(data, [str(seq).encode()])

    def test_append_takes_literal8(self):
        """RFC 3516 4.4: with BINARY advertised APPEND takes ~{n} and ~{n+};
        elsewhere a literal8 is no string."""
        m = self.imap("dave")
        typ, data = m.capability()
        self.assertIn(b"BINARY", data[0].split())
        s, until = self.raw_session()
        body = (b"Subject: binary\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\n\r\n\x01\x02\xfe\xff text\r\n")
        until(rb"\* OK.*\r\n")
        s.sendall(b"a LOGIN dave " + PASSWORDS["dave"].encode() + b"\r\n")
        until(rb"a OK")
        s.sendall(b"b APPEND INBOX ~{%d}\r\n" % len(body))
        until(rb"\+ ")
        s.sendall(body + b"\r\n")
        self.assertRegex(until(rb"b (OK|NO|BAD).*\r\n"), rb"b OK \[APPENDUID ")
        s.sendall(b"c APPEND INBOX (\\Seen) ~{%d+}\r\n" % len(body) + body + b"\r\n")
        self.assertRegex(until(rb"c (OK|NO|BAD).*\r\n"), rb"c OK \[APPENDUID ")
        s.sendall(b"d SELECT ~{5}\r\n")
        out = until(rb"(d (OK|NO|BAD).*\r\n|\+ )")
        if out.startswith(b"+"):
            s.sendall(b"INBOX\r\n")
            out = until(rb"d (OK|NO|BAD).*\r\n")
        self.assertRegex(out, rb"d BAD")
        typ, data = m.select("INBOX")
        self.assertEqual(int(data[0]), 2)
        for seq in ("1", "2"):
            typ, data = m.fetch(seq, "(BINARY.PEEK[1] FLAGS)")
            self.assertEqual(typ, "OK")
            self.assertEqual(data[0][1], b"\x01\x02\xfe\xff text\r\n")
        self.assertIn(b"\\Seen", data[0][0])


if __name__ == "__main__":
    harness.tap.main()
