#!/usr/bin/env python3
"""test_imap_sort_dovecot.py - SORT and THREAD answers compared with
Dovecot's (Debian dovecot-imapd, run from a temporary folder as
test_imap_mime_dovecot.py does): the same messages (reply chains through
References and In-Reply-To, missing parents, a duplicate Message-ID, a
References loop, Re:/Fwd:/[list] subjects, RFC 2047 subjects and names,
comments and groups in addresses, dates in several zones, a date that
cannot be read) are APPENDed with imaplib to both, then SORT with every
criterion, reversed and combined, SORT=DISPLAY, UID SORT and THREAD
REFERENCES / ORDEREDSUBJECT, with and without search keys, must agree."""
import imaplib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import dovecot  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.imap_pair import ImapPair  # noqa: E402


def message(n, subject, date, frm, to, cc=None, msgid=None, refs=None, irt=None, body=""):
    h = [f"From: {frm}", f"To: {to}", f"Subject: {subject}"]
    if date is not None:
        h.append(f"Date: {date}")
    if cc is not None:
        h.append(f"Cc: {cc}")
    if msgid is not None:
        h.append(f"Message-ID: {msgid}")
    if refs is not None:
        h.append(f"References: {refs}")
    if irt is not None:
        h.append(f"In-Reply-To: {irt}")
    return ("\r\n".join(h) + "\r\n\r\n" + (body or f"message {n}\r\n") * (1 + n % 4)).encode()


# (subject, Date:, From, To, Cc, Message-ID, References, In-Reply-To, APPEND date)
MESSAGES = [
    ("Lunch plans", "Sun, 7 Dec 2025 09:00:00 +0100", "Alice Smith <alice@example.org>",
     "bob@example.org", None, "<a1@x>", None, None, "07-Dec-2025 10:00:00 +0000"),
    ("Re: Lunch plans", "Sun, 7 Dec 2025 09:30:00 +0100", "bob@example.org (Bob Jones)",
     "Alice Smith <alice@example.org>", "carol@example.org", "<b1@x>", "<a1@x>", "<a1@x>",
     "07-Dec-2025 10:30:00 +0000"),
    ("RE: [team] Lunch plans", "Sun, 7 Dec 2025 03:45:00 -0500", "=?utf-8?q?Zo=C3=AB?= <zoe@example.net>",
     "team: alice@example.org, bob@example.org;", None, "<c1@x>", "<a1@x> <b1@x>", None,
     "07-Dec-2025 09:00:00 +0000"),
    ("Fwd: Quarterly report (fwd)", "Sat, 6 Dec 2025 23:59:00 -0800", "dave@example.com",
     "<alice (office)@ (main) example.org>", "Erin <erin@example.com>", "<d1@x>", None, None,
     "06-Dec-2025 08:00:00 +0000"),
    ("Quarterly report", "Sat, 6 Dec 2025 20:00:00 +0000", "erin@example.com",
     "dave@example.com", None, "<e1@x>", None, None, "06-Dec-2025 20:00:00 +0000"),
    ("[fwd: Quarterly report]", "Sun, 7 Dec 2025 12:00:00 +0000", "frank@example.com",
     "dave@example.com", None, "<f1@x>", "<missing@x>", None, "07-Dec-2025 12:00:00 +0000"),
    ("Re: Re: no parent here", "Mon, 8 Dec 2025 08:00:00 +0000", "gina@example.org",
     "hal@example.org", None, "<g1@x>", "<gone1@x> <gone2@x>", None, "08-Dec-2025 08:00:00 +0000"),
    ("=?iso-8859-1?q?Caf=E9?= meeting", "not a date at all", "Hal <hal@example.org>",
     "gina@example.org", None, "<h1@x>", None, "<g1@x> <other@x>", "05-Dec-2025 12:00:00 +0000"),
    ("Re: Café meeting", "Tue, 9 Dec 2025 10:00:00 +0200", "ivan@example.org",
     "Hal <hal@example.org>", None, "<h1@x>", "<h1@x>", None, "09-Dec-2025 10:00:00 +0000"),
    ("loop one", "Tue, 9 Dec 2025 11:00:00 +0000", "judy@example.org", "kim@example.org",
     None, "<l1@x>", "<l2@x>", None, "09-Dec-2025 11:00:00 +0000"),
    ("loop two", "Tue, 9 Dec 2025 11:05:00 +0000", "kim@example.org", "judy@example.org",
     None, "<l2@x>", "<l1@x>", None, "09-Dec-2025 11:05:00 +0000"),
    ("", None, "undisclosed:;", "nobody@example.org", None, None, None, None,
     "04-Dec-2025 00:00:00 +0000"),
    ("Re: Lunch plans", "Sun, 7 Dec 2025 09:30:00 +0100", "carol@example.org",
     "alice@example.org", None, "<k1@x>", "<unseen@x> <b1@x>", None, "07-Dec-2025 10:30:00 +0000"),
    ("Lunch   plans\t", "Sun, 7 Dec 2025 08:00:00 +0000", "\"Smith, Alice\" <alice@example.org>",
     "bob@example.org", None, None, None, None, "07-Dec-2025 08:00:00 +0000"),
]

SORTS = ["ARRIVAL", "REVERSE ARRIVAL", "DATE", "REVERSE DATE", "SIZE", "REVERSE SIZE",
         "SUBJECT", "REVERSE SUBJECT", "FROM", "REVERSE FROM", "TO", "CC", "REVERSE CC",
         "DISPLAYFROM", "REVERSE DISPLAYFROM", "DISPLAYTO", "SUBJECT DATE",
         "SUBJECT REVERSE DATE", "FROM REVERSE SIZE", "TO REVERSE ARRIVAL SIZE"]
KEYS = ["ALL", "SINCE 07-Dec-2025", "NOT FROM alice", "OR TO bob SUBJECT quarterly"]


def answer(m, *args):
    name = args[1] if args[0] == "UID" else args[0]
    m.untagged_responses.pop(name, None)
    typ, data = m._simple_command(*args)
    assert typ == "OK", (args, typ, data)
    typ, data = m._untagged_response(typ, data, name)
    return [d for d in data if d is not None]


@unittest.skipUnless(built(), "dirmaild not built")
@unittest.skipUnless(dovecot.available(), "Dovecot (dovecot-imapd) is not installed: "
                     "apt-get install dovecot-imapd to compare with it")
class SortThreadAgainstDovecot(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pair = ImapPair("imap-sort-dovecot", [
            (message(n, subj, date, frm, to, cc, mid, refs, irt), f'"{when}"')
            for n, (subj, date, frm, to, cc, mid, refs, irt, when) in enumerate(MESSAGES)])
        for m in cls.pair.both():
            typ, data = m.capability()  # Dovecot says it all only after login
            caps = data[0].decode().upper().split()
            for cap in ("SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT"):
                assert cap in caps, (cap, caps)
        cls.ours, cls.theirs = cls.pair.both()

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop(no_errors=True)

    def both(self, *args):
        return [answer(m, *args) for m in (self.ours, self.theirs)]

    def test_sort_every_criterion(self):
        problems = []
        for crit in SORTS:
            for keys in KEYS:
                ours, theirs = self.both("SORT", f"({crit})", "UTF-8", *keys.split())
                if ours != theirs:
                    problems.append(f"SORT ({crit}) {keys}:\n  dirmail {ours}\n  dovecot {theirs}")
        self.assertEqual(problems, [], "\n".join(problems))
        # the answers are not all the same order (the comparison means something)
        self.assertNotEqual(self.both("SORT", "(DATE)", "UTF-8", "ALL")[0],
                            self.both("SORT", "(SUBJECT)", "UTF-8", "ALL")[0])

    def test_uid_sort(self):
        ours, theirs = self.both("UID", "SORT", "(REVERSE DATE)", "UTF-8", "ALL")
        self.assertEqual(ours, theirs)
        self.assertEqual(len(ours[0].split()), len(MESSAGES))

    def test_thread_both_algorithms(self):
        problems = []
        for algorithm in ("REFERENCES", "ORDEREDSUBJECT"):
            for keys in KEYS:
                for uid in ((), ("UID",)):
                    args = uid + ("THREAD", algorithm, "UTF-8") + tuple(keys.split())
                    ours, theirs = self.both(*args)
                    if ours != theirs:
                        problems.append(f"{' '.join(args)}:\n  dirmail {ours}\n  dovecot {theirs}")
        self.assertEqual(problems, [], "\n".join(problems))
        ours = self.both("THREAD", "REFERENCES", "UTF-8", "ALL")[0]
        self.assertIn(b"(", ours[0][1:])  # some thread has replies

    def test_bad_sort_and_thread(self):
        for m in (self.ours, self.theirs):
            for args in (("SORT", "(NOSUCH)", "UTF-8", "ALL"), ("SORT", "()", "UTF-8", "ALL"),
                         ("SORT", "(REVERSE)", "UTF-8", "ALL"), ("THREAD", "NOSUCH", "UTF-8", "ALL"),
                         ):
                with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD", msg=args):
                    m._simple_command(*args)
        # a charset we do not convert is NO [BADCHARSET] (RFC 5256 3 allows
        # it; Dovecot takes KOI8-R); the charset is not optional, so ALL
        # there is one (Dovecot lets it go)
        for charset in ("KOI8-R", "ALL"):
            typ, data = self.ours._simple_command("SORT", "(DATE)", charset, "ALL")
            self.assertEqual(typ, "NO")
            self.assertIn(b"BADCHARSET", data[0])
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            self.ours._simple_command("THREAD", "REFERENCES", "UTF-8")


if __name__ == "__main__":
    harness.tap.main()
