#!/usr/bin/env python3
"""test_imap_search.py - SEARCH's date and address keys with imaplib against
a real slapd and dirmaild: SENTBEFORE/SENTON/SENTSINCE take the Date:
field's day in the zone it is written in (RFC 3501 6.4.4), BEFORE/ON/SINCE
the internal date's day in the server's zone, the zone FETCH INTERNALDATE
shows (dirmaild runs here in EET/EEST, so a UTC comparison would be a day
off near midnight), and FROM/TO/CC/BCC match the addresses with their
comments taken out, a comment after a bare address being its name; and
SORT, UID SORT and THREAD (RFC 5256) over real messages (the same set
compared with Dovecot's answers is test_imap_sort_dovecot.py)."""
import imaplib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.imap_server import ImapsServer, logout_quietly  # noqa: E402
from harness.slapd import PASSWORDS  # noqa: E402

# Finland's rules as a POSIX TZ string (needs no tzdata): +0200 in winter,
# +0300 from the last Sunday of March at 03:00 to the last of October at 04:00
EET = "EET-2EEST,M3.5.0/3,M10.5.0/4"


def msg(headers, body="body"):
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


@unittest.skipUnless(built(), "dirmaild not built")
class ImapSearch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        saved = os.environ.get("TZ")
        os.environ["TZ"] = EET  # dirmaild takes the environment
        try:
            cls.server = ImapsServer("imap-search")
        finally:
            if saved is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = saved
        cls.d, cls.ctx = cls.server.d, cls.server.ctx

    @classmethod
    def tearDownClass(cls):
        status = cls.server.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"
        errors = re.findall(r".*level=error event=imap.*", cls.d.log())
        assert not errors, "\n".join(errors)

    def folder(self, name, messages):
        """A new folder of alice's holding messages [(bytes, date_time or None)],
        selected; the session."""
        m = imaplib.IMAP4_SSL("127.0.0.1", self.d.port("imaps"), ssl_context=self.ctx,
                              timeout=60)
        self.addCleanup(logout_quietly, m)
        m.login("alice", PASSWORDS["alice"])
        typ, data = m.create(name)
        self.assertEqual(typ, "OK", data)
        for body, when in messages:
            typ, data = m.append(name, None, when, body)
            self.assertEqual(typ, "OK", data)
        typ, data = m.select(name)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), len(messages))
        return m


    def search(self, m, *keys):
        typ, data = m.search(None, *keys)
        self.assertEqual(typ, "OK", data)
        return [int(n) for n in data[0].split()]

    def test_sent_dates_take_the_date_field_in_its_own_zone(self):
        m = self.folder("sent", [
            (msg(["Date: Sat, 24 Mar 2007 23:00:00 +0200"]), None),
            (msg(["Date: Sun, 25 Mar 2007 00:00:00 +0200"]), None),   # 24th 22:00 UTC
            (msg(["Date: Sun, 25 Mar 2007 23:30:00 -0500"]), None),   # 26th 04:30 UTC
            (msg(["Date: Mon, 26 Mar 2007 00:00:00 +0300"]), None),
            (msg(["Subject: no date"]), '"25-Mar-2007 12:00:00 +0200"'),
        ])
        self.assertEqual(self.search(m, "SENTON", "24-Mar-2007"), [1])
        self.assertEqual(self.search(m, "SENTON", "25-Mar-2007"), [2, 3, 5])
        self.assertEqual(self.search(m, "SENTBEFORE", "25-Mar-2007"), [1])
        self.assertEqual(self.search(m, "SENTBEFORE", "26-Mar-2007"), [1, 2, 3, 5])
        self.assertEqual(self.search(m, "SENTSINCE", "26-Mar-2007"), [4])
        self.assertEqual(self.search(m, "NOT", "SENTON", "25-Mar-2007"), [1, 4])
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            m.search(None, "SENTON", "32-Mar-2007")

    def test_internal_dates_take_the_day_in_the_servers_zone(self):
        m = self.folder("internal", [
            (msg(["Subject: a"]), '"24-Mar-2007 23:30:00 +0200"'),
            (msg(["Subject: b"]), '"24-Mar-2007 23:30:00 +0000"'),  # 25th 01:30 EET
            (msg(["Subject: c"]), '"28-Oct-2007 03:30:00 +0300"'),  # still summer time
            (msg(["Subject: d"]), '"28-Oct-2007 22:30:00 +0000"'),  # 29th 00:30 EET
        ])
        typ, data = m.fetch("1:4", "(INTERNALDATE)")
        self.assertEqual(typ, "OK")
        dates = [re.search(rb'INTERNALDATE "([^"]+)"', d).group(1).decode() for d in data]
        self.assertEqual(dates, ["24-Mar-2007 23:30:00 +0200", "25-Mar-2007 01:30:00 +0200",
                                 "28-Oct-2007 03:30:00 +0300", "29-Oct-2007 00:30:00 +0200"])
        self.assertEqual(self.search(m, "ON", "24-Mar-2007"), [1])
        self.assertEqual(self.search(m, "ON", "25-Mar-2007"), [2])
        self.assertEqual(self.search(m, "BEFORE", "25-Mar-2007"), [1])
        self.assertEqual(self.search(m, "SINCE", "25-Mar-2007"), [2, 3, 4])
        self.assertEqual(self.search(m, "ON", "28-Oct-2007"), [3])
        self.assertEqual(self.search(m, "SINCE", "29-Oct-2007"), [4])

    def test_addresses_match_without_their_comments(self):
        m = self.folder("addresses", [
            (msg(["From: <user-from (comment)@ (comment) domain.org>",
                  "To: =?utf-8?q?J=C3=B6rg?= <joerg@domain.org>"]), None),
            (msg(["From: user-from@domain.org (RealFrom)",
                  "Cc: group: member1@domain.org, member2@domain.org;"]), None),
            (msg(["From: RealFrom <other@domain.org>", "Bcc: undisclosed:;"]), None),
        ])
        self.assertEqual(self.search(m, "FROM", "user-from@domain.org"), [1, 2])
        self.assertEqual(self.search(m, "FROM", "realfrom"), [2, 3])
        self.assertEqual(self.search(m, "FROM", "comment"), [])
        m.literal = "jörg <joerg@".encode()  # the name decoded, as a literal
        typ, data = m.search("UTF-8", "TO")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.assertEqual(self.search(m, "CC", "member2"), [2])
        self.assertEqual(self.search(m, "CC", '"group:"'), [2])
        self.assertEqual(self.search(m, "BCC", "undisclosed"), [3])
        # HEADER matches the field's text, comments and all
        self.assertEqual(self.search(m, "HEADER", "From", '"(comment)"'), [1])

    def sort_folder(self, name):
        return self.folder(name, [
            (msg(["Subject: Re: Plans", "Date: Tue, 2 Dec 2025 10:00:00 +0000",
                  "From: Zed <zed@example.org>", "Message-ID: <p2@x>", "References: <p1@x>"]),
             '"02-Dec-2025 10:00:00 +0000"'),
            (msg(["Subject: Plans", "Date: Mon, 1 Dec 2025 10:00:00 +0000",
                  "From: amy@example.org", "Message-ID: <p1@x>"], "a longer body " * 20),
             '"01-Dec-2025 10:00:00 +0000"'),
            (msg(["Subject: Other", "From: bob@example.org", "Message-ID: <o1@x>"]),
             '"30-Nov-2025 10:00:00 +0000"'),  # no Date: sorted by its internal date
            (msg(["Subject: [list] Re: Plans (fwd)", "Date: Wed, 3 Dec 2025 09:00:00 +0100",
                  "From: carl@example.org", "Message-ID: <p3@x>", "In-Reply-To: <p1@x>"]),
             '"03-Dec-2025 10:00:00 +0000"'),
        ])

    def command(self, m, name, *args):
        m.untagged_responses.pop(name, None)
        typ, data = m._simple_command(*args) if args[0] == "UID" else \
            m._simple_command(name, *args)
        self.assertEqual(typ, "OK", data)
        typ, data = m._untagged_response(typ, data, name)
        return data[0].decode() if data and data[0] is not None else ""

    def test_sort_by_each_kind_of_key(self):
        m = self.sort_folder("sorting")
        typ, data = m.capability()
        self.assertIn(b"SORT=DISPLAY", data[0])
        self.assertEqual(self.command(m, "SORT", "(DATE)", "UTF-8", "ALL"), "3 2 1 4")
        self.assertEqual(self.command(m, "SORT", "(REVERSE DATE)", "UTF-8", "ALL"), "4 1 2 3")
        # base subjects: OTHER, then PLANS three times in sequence order
        self.assertEqual(self.command(m, "SORT", "(SUBJECT)", "UTF-8", "ALL"), "3 1 2 4")
        self.assertEqual(self.command(m, "SORT", "(SUBJECT REVERSE DATE)", "UTF-8", "ALL"),
                         "3 4 1 2")
        self.assertEqual(self.command(m, "SORT", "(FROM)", "UTF-8", "ALL"), "2 3 4 1")
        self.assertEqual(self.command(m, "SORT", "(REVERSE SIZE)", "UTF-8", "ALL")[0], "2")
        self.assertEqual(self.command(m, "SORT", "(ARRIVAL)", "UTF-8", "NOT", "FROM", "amy"),
                         "3 1 4")
        typ, data = m.fetch("1:4", "(UID)")
        uids = {int(re.match(rb"(\d+) ", d).group(1)): re.search(rb"UID (\d+)", d).group(1).decode()
                for d in data}
        self.assertEqual(self.command(m, "SORT", "UID", "SORT", "(DATE)", "UTF-8", "ALL"),
                         " ".join(uids[n] for n in (3, 2, 1, 4)))

    def test_thread_references_and_orderedsubject(self):
        m = self.sort_folder("threading")
        # 1 refers to 2, 4 replies to 2; 3 stands alone and is the oldest
        self.assertEqual(self.command(m, "THREAD", "REFERENCES", "UTF-8", "ALL"),
                         "(3)(2 (1)(4))")
        self.assertEqual(self.command(m, "THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL"),
                         "(3)(2 (1)(4))")
        # without 2, its replies hang from a dummy parent (RFC 5256 step 3)
        self.assertEqual(self.command(m, "THREAD", "REFERENCES", "UTF-8", "NOT", "FROM", "amy"),
                         "(3)((1)(4))")
        self.assertEqual(self.command(m, "THREAD", "ORDEREDSUBJECT", "UTF-8", "1,4"), "(1 4)")

    def test_thread_of_a_long_chain(self):
        """A reply chain 300 deep is one thread, each an only child of the one
        before (written without recursion)."""
        chain = []
        for n in range(300):
            h = [f"Subject: {'Re: ' if n else ''}chain", f"Message-ID: <c{n}@x>",
                 f"Date: Mon, 1 Dec 2025 10:{n // 60:02d}:{n % 60:02d} +0000"]
            if n:
                h.append("References: " + " ".join(f"<c{k}@x>" for k in range(max(0, n - 20), n)))
            chain.append((msg(h), None))
        m = self.folder("chain", chain)
        answer = self.command(m, "THREAD", "REFERENCES", "UTF-8", "ALL")
        self.assertEqual(answer, "(" + " ".join(str(n) for n in range(1, 301)) + ")")


if __name__ == "__main__":
    harness.tap.main()
