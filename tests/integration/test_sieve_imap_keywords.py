#!/usr/bin/env python3
"""test_sieve_imap_keywords.py - Sieve's imap4flags keywords (RFC 5232) as
an IMAP client sees them: a real slapd and dirmaild (SMTP in, the queue
runner's delivery, IMAP out, the set-up of test_imap.py), the user's
dirmailSieve adding keywords; imaplib's FETCH FLAGS must show them. A
keyword a client stored first keeps its letter when Sieve names it in
another case (the one dovecot-keywords implementation both share), and
:flags on fileinto :create files into a new folder with its keywords."""
import glob
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import test_imap  # noqa: E402  (its fixture and helpers, not its tests)
from harness.dirmaild import built  # noqa: E402
from test_sieve_delivery import user  # noqa: E402

PASSWORD = "kw-password"

SCRIPT = r'''require ["imap4flags", "fileinto", "mailbox"];
if header :contains "subject" "[label]" { addflag "$Label1"; keep; stop; }
if header :contains "subject" "[urgent]" { addflag ["urgent", "\\Flagged"]; keep; stop; }
if header :contains "subject" "[proj]" {
  fileinto :create :flags ["\\Seen", "Project-X"] "Proj"; stop;
}
'''


def message(subject, marker):
    return (f"From: <s@remote.example>\r\nTo: <kw@example.org>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{marker}@remote.example>\r\nX-Marker: {marker}\r\n\r\nHello.\r\n")


@unittest.skipUnless(built(), "dirmaild not built")
class SieveImapKeywords(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        test_imap.Imap.setUpClass.__func__(cls)
        cls.ldap.add(user("kw", SCRIPT) + f"userPassword: {PASSWORD}\n")

    tearDownClass = classmethod(test_imap.Imap.tearDownClass.__func__)
    send = test_imap.Imap.send
    imap = test_imap.Imap.imap
    _logout = staticmethod(test_imap.Imap._logout)

    def flags_of(self, m, folder, marker):
        """The FETCH FLAGS of the message holding marker in folder, as a set."""
        typ, data = m.select(folder)
        self.assertEqual(typ, "OK", data)
        typ, data = m.search(None, "HEADER", "X-Marker", marker)
        self.assertEqual(typ, "OK", data)
        seqs = data[0].split()
        self.assertEqual(len(seqs), 1, (folder, marker, data))
        typ, data = m.fetch(seqs[0], "(FLAGS)")
        self.assertEqual(typ, "OK", data)
        got = re.search(rb"FLAGS \(([^)]*)\)", data[0])
        self.assertIsNotNone(got, data)
        return set(got.group(1).decode().split()) - {"\\Recent"}

    def test_keywords_filed_by_sieve_show_in_fetch_flags(self):
        self.send("kw@example.org", message("[label] one", "kw-label"))
        m = self.imap("kw", PASSWORD)
        self.assertEqual(self.flags_of(m, "INBOX", "kw-label"), {"$Label1"})
        # the folder's FLAGS list names the keyword too (RFC 3501 7.2.6)
        typ, data = m.select("INBOX")
        self.assertIn(b"$Label1", b" ".join(m.response("FLAGS")[1]))
        # a keyword the client gives first; Sieve's "urgent" is the same one
        # (keywords compare case-insensitively) and gets its letter
        typ, data = m.store(b"1", "+FLAGS", "(Urgent)")
        self.assertEqual(typ, "OK", data)
        m.logout()
        self.send("kw@example.org", message("[urgent] two", "kw-urgent"))
        m = self.imap("kw", PASSWORD)
        self.assertEqual(self.flags_of(m, "INBOX", "kw-urgent"), {"Urgent", "\\Flagged"})
        # fileinto :create with :flags: the new folder's own keywords
        self.send("kw@example.org", message("[proj] three", "kw-proj"))
        self.assertEqual(self.flags_of(m, "Proj", "kw-proj"), {"\\Seen", "Project-X"})
        # the letters are Dovecot's: a in INBOX for $Label1, b for Urgent
        found = glob.glob(os.path.join(self.base, "example.org", "kw", "**", "dovecot-keywords"),
                          recursive=True)
        inbox = os.path.dirname(min(found, key=len))
        with open(os.path.join(inbox, "dovecot-keywords")) as f:
            self.assertEqual(f.read(), "0 $Label1\n1 Urgent\n")
        with open(os.path.join(inbox, ".Proj", "dovecot-keywords")) as f:
            self.assertEqual(f.read(), "0 Project-X\n")


if __name__ == "__main__":
    harness.tap.main()
