#!/usr/bin/env python3
"""test_imap_sync.py - several writers on one mailbox between two commands
of a session (delivery/mailbox.c's sync, which skips listing the folder
when the only changes are ones written through to its index): session A
stores flags, session B stores flags, expunges and appends, and the
gateway delivers, all right after each other (so in one clock tick of the
directories' mtimes as often as not); A's next NOOP must tell it every
change exactly once, so that the view A builds from its untagged replies is
the one a fresh session sees, and no UID is ever given twice. Real slapd,
real dirmaild, Python's imaplib, the set-up of test_imap.py."""
import os
import random
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import test_imap  # noqa: E402  (its fixture and helpers, not its tests)
from harness.dirmaild import built  # noqa: E402
from harness.slapd import PASSWORDS  # noqa: E402

FETCH = re.compile(rb"\* (\d+) FETCH \((.*)\)$")
FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
UID = re.compile(rb"UID (\d+)")


def flag_set(text):
    """The flags of a FLAGS list, \\Recent left out (it is per session)."""
    return frozenset(f for f in text.split() if f != b"\\Recent")


class View:
    """What session A believes: [uid, flags] by sequence number, kept only
    from the untagged replies it gets, as a client must."""

    def __init__(self, test, raw):
        self.t, self.r, self.n = test, raw, 0
        self.msgs = []
        self.redundant = []

    def command(self, text):
        self.n += 1
        tag = b"A%d" % self.n
        self.r.send(tag + b" " + text + b"\r\n")
        lines = self.r.until_tagged(tag)
        self.t.assertTrue(lines[-1].startswith(tag + b" OK"), lines)
        return lines[:-1]

    def apply(self, lines, pushed):
        """Apply untagged lines in order; pushed: they came unasked (NOOP),
        so a FETCH that changes nothing was told twice."""
        exists = None
        for line in lines:
            m = re.match(rb"\* (\d+) EXPUNGE$", line)
            if m:
                del self.msgs[int(m.group(1)) - 1]
                continue
            m = re.match(rb"\* (\d+) EXISTS$", line)
            if m:
                exists = int(m.group(1))
                continue
            m = FETCH.match(line)
            if m:
                seq = int(m.group(1))
                f = FLAGS.search(m.group(2))
                if f is None or seq > len(self.msgs):
                    continue  # a new one, filled in below
                flags = flag_set(f.group(1))
                if pushed and flags == self.msgs[seq - 1][1]:
                    self.redundant.append(line)
                self.msgs[seq - 1][1] = flags
        if exists is not None and exists > len(self.msgs):
            for line in self.command(b"FETCH %d:%d (UID FLAGS)" % (len(self.msgs) + 1, exists)):
                m = FETCH.match(line)
                self.t.assertIsNotNone(m, line)
                uid = int(UID.search(m.group(2)).group(1))
                self.msgs.append([uid, flag_set(FLAGS.search(m.group(2)).group(1))])
        self.t.assertEqual(len(self.msgs), exists if exists is not None else len(self.msgs))


@unittest.skipUnless(built(), "dirmaild not built")
class ImapSync(unittest.TestCase):
    # test_imap.Imap's fixture (slapd, dirmaild, the Maildirs) and helpers
    setUpClass, tearDownClass, send, imap, _logout, raw = (
        test_imap.Imap.__dict__[n]
        for n in ("setUpClass", "tearDownClass", "send", "imap", "_logout", "raw"))

    def mail(self, subject):
        return (f"From: s@remote.example\r\nTo: x@example.org\r\nSubject: {subject}\r\n"
                f"\r\nbody of {subject}\r\n").encode()

    def session_a(self, user):
        """Session A: raw, logged in, INBOX selected, its View."""
        a = self.raw()
        a.send(b"L1 LOGIN %s %s\r\n" % (user.encode(), PASSWORDS[user].encode()))
        self.assertTrue(a.until_tagged(b"L1")[-1].startswith(b"L1 OK"))
        view = View(self, a)
        view.apply(view.command(b"SELECT INBOX"), pushed=False)
        return view

    def truth(self, user):
        """[uid, flags] by sequence number as a fresh session sees them."""
        c = self.imap(user)
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        out = []
        if int(data[0]) > 0:
            typ, data = c.fetch("1:*", "(UID FLAGS)")
            self.assertEqual(typ, "OK", data)
            for item in data:
                m = re.match(rb"(\d+) \((.*)\)$", item)
                self.assertIsNotNone(m, item)
                out.append([int(UID.search(m.group(2)).group(1)),
                            flag_set(FLAGS.search(m.group(2)).group(1))])
        c.logout()
        return out

    def test_every_change_between_two_commands_told_exactly_once(self):
        user = "dave"
        b = self.imap(user)
        for i in range(8):
            typ, data = b.append("INBOX", None, None, self.mail(f"first {i}"))
            self.assertEqual(typ, "OK", data)
        self.assertEqual(b.select("INBOX")[0], "OK")
        view = self.session_a(user)
        self.assertEqual(view.msgs, self.truth(user))
        seen_uids = {u for u, _ in view.msgs}
        rnd = random.Random(14)
        for r in range(12):
            # A's own change, told in its STORE reply
            seq = rnd.randrange(len(view.msgs)) + 1
            flag = rnd.choice([b"\\Flagged", b"\\Answered"])
            sign = rnd.choice([b"+", b"-"])
            view.apply(view.command(b"STORE %d %sFLAGS (%s)" % (seq, sign, flag)), pushed=False)
            # then, before A's next command: B stores, expunges, appends
            uids = [u for u, _ in self.truth(user)]
            b.uid("STORE", str(rnd.choice(uids)), "+FLAGS", "(\\Seen)")
            victim = rnd.choice(uids)
            b.uid("STORE", str(victim), "+FLAGS", "(\\Deleted)")
            self.assertEqual(b.expunge()[0], "OK")
            typ, data = b.append("INBOX", "(\\Draft)", None, self.mail(f"round {r}"))
            self.assertEqual(typ, "OK", data)
            if r in (3, 8):  # and the delivery agent links one into new/
                self.send(f"{user}@example.org", self.mail(f"delivered {r}"))
            view.apply(view.command(b"NOOP"), pushed=True)
            want = self.truth(user)
            self.assertEqual(view.msgs, want, f"round {r}")
            self.assertNotIn(victim, [u for u, _ in view.msgs])
            new = {u for u, _ in view.msgs} - seen_uids
            self.assertTrue(new, f"round {r}: the appended message")
            self.assertGreater(min(new), max(seen_uids), "a UID given twice")
            seen_uids |= new
            # nothing is told twice: a second NOOP has nothing to say
            self.assertEqual([l for l in view.command(b"NOOP") if l.startswith(b"* ")], [])
        self.assertEqual(view.redundant, [])
        # and B, told by its own NOOP, agrees
        b.noop()
        typ, data = b.select("INBOX")
        self.assertEqual(int(data[0]), len(view.msgs))

    def test_flag_stored_by_another_right_after_ours(self):
        """B's STORE right after A's, in the clock tick of the mtime A's
        change recorded as often as the machine allows: cur/'s mtime then
        does not move, and only the index can tell A."""
        user = "carol"
        b = self.imap(user)
        for i in range(4):
            self.assertEqual(b.append("INBOX", None, None, self.mail(f"tick {i}"))[0], "OK")
        self.assertEqual(b.select("INBOX")[0], "OK")
        view = self.session_a(user)
        for r in range(60):
            mine, theirs = view.msgs[r % 2], view.msgs[2 + r % 2]
            sign = b"+" if r % 4 < 2 else b"-"
            view.apply(view.command(b"STORE %d %sFLAGS (\\Flagged)" % (1 + r % 2, sign)),
                       pushed=False)
            b.uid("STORE", str(theirs[0]), sign.decode() + "FLAGS", "(\\Seen)")
            view.apply(view.command(b"NOOP"), pushed=True)
            self.assertEqual(b"\\Seen" in theirs[1], sign == b"+", f"round {r}: B's flag")
            self.assertEqual(b"\\Flagged" in mine[1], sign == b"+", f"round {r}: A's flag")
        self.assertEqual(view.redundant, [])
        self.assertEqual(view.msgs, self.truth(user))


if __name__ == "__main__":
    harness.tap.main()
