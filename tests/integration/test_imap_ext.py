#!/usr/bin/env python3
"""test_imap_ext.py - the IMAP extensions (reader/imap_idle.c, imap_move.c,
imap_list_ext.c ...) with Python's imaplib against a real slapd and
dirmaild, the same set-up as test_imap.py: IDLE seeing another session's
STORE, EXPUNGE and APPEND and a delivery through the SMTP gateway, MOVE,
LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and CHILDREN. Raw lines where
imaplib has no method (IDLE before Python 3.14, LIST with options)."""
import glob
import imaplib
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import test_imap  # noqa: E402  (its fixture and helpers, not its tests)
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

# How long an untagged line pushed during IDLE may take at most: generous
# for a loaded machine; without inotify it would never come at all, since
# nothing polls.
PUSH_BOUND = 10.0


class Idler:
    """An imaplib session in IDLE: lines read with an upper bound."""

    def __init__(self, m, tag=b"I1"):
        """IDLE; the untagged lines that came before the "+" are in before."""
        self.m, self.tag = m, tag
        self.before = []
        m.send(tag + b" IDLE\r\n")
        while True:
            line = m.readline()
            if line.startswith(b"+"):
                break
            assert line.startswith(b"* "), line
            self.before.append(line.rstrip(b"\r\n"))

    def wait_for(self, pattern, bound=PUSH_BOUND):
        """The first untagged line matching pattern; the lines before it."""
        start = time.monotonic()
        seen = []
        self.m.sock.settimeout(bound)
        try:
            while time.monotonic() - start < bound:
                line = self.m.readline().rstrip(b"\r\n")
                seen.append(line)
                if re.match(pattern, line):
                    return line, seen, time.monotonic() - start
        except socket.timeout:
            pass
        finally:
            self.m.sock.settimeout(30)
        raise AssertionError(f"no {pattern!r} within {bound}s; saw {seen}")

    def done(self):
        self.m.send(b"DONE\r\n")
        lines = []
        while True:
            line = self.m.readline().rstrip(b"\r\n")
            lines.append(line)
            if line.startswith(self.tag + b" "):
                return line, lines


@unittest.skipUnless(built(), "dirmaild not built")
class ImapExt(unittest.TestCase):
    setUpClass = classmethod(test_imap.Imap.setUpClass.__func__)
    tearDownClass = classmethod(test_imap.Imap.tearDownClass.__func__)
    send = test_imap.Imap.send
    imap = test_imap.Imap.imap
    _logout = staticmethod(test_imap.Imap._logout)
    raw = test_imap.Imap.raw
    maildir_files = test_imap.Imap.maildir_files
    select_count = test_imap.Imap.select_count

    def mail(self, subject, body="hello"):
        return (f"From: s@remote.example\r\nTo: x@example.org\r\nSubject: {subject}\r\n"
                f"\r\n{body}\r\n").encode()

    def append(self, m, folder, subject, flags=None):
        typ, data = m.append(folder, flags, None, self.mail(subject))
        self.assertEqual(typ, "OK", data)
        return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))

    # ---- IDLE (RFC 2177) ----

    def test_idle_sees_other_sessions_and_delivery(self):
        a, b = self.imap("carol"), self.imap("carol")
        self.append(b, "INBOX", "one")
        self.append(b, "INBOX", "two")
        n = self.select_count(a)
        self.assertEqual(self.select_count(b), n)
        idle = Idler(a)

        # a flag change by the other session
        b.store("1", "+FLAGS", "(\\Flagged)")
        line, _, took = idle.wait_for(rb"\* 1 FETCH \(FLAGS \(.*\\Flagged")
        self.assertLess(took, PUSH_BOUND)

        # an APPEND by the other session
        self.append(b, "INBOX", "three")
        line, _, _ = idle.wait_for(rb"\* \d+ EXISTS")
        self.assertEqual(int(line.split()[1]), n + 1)

        # an expunge by the other session: highest numbers first, each once
        b.store("1", "+FLAGS", "(\\Deleted)")
        b.expunge()
        idle.wait_for(rb"\* 1 EXPUNGE")

        # mail through the SMTP gateway and the queue runner's delivery
        self.send("carol@example.net", self.mail("delivered"))
        line, _, _ = idle.wait_for(rb"\* \d+ EXISTS")
        self.assertEqual(int(line.split()[1]), n + 1)

        tagged, _ = idle.done()
        self.assertEqual(tagged, b"I1 OK IDLE terminated")
        # the session goes on as usual afterwards
        typ, data = a.fetch(str(n + 1), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertIn(b"Subject: delivered", data[0][1])

    def test_idle_two_idlers_and_deselect(self):
        a, b, c = self.imap("dave"), self.imap("dave"), self.imap("dave")
        for m in (a, b, c):
            self.select_count(m)
        ia, ib = Idler(a), Idler(b, b"J1")
        # one of them leaves: the shared watch must stay for the other
        ia.done()
        self.append(c, "INBOX", "for b")
        ib.wait_for(rb"\* \d+ EXISTS")
        ib.done()
        # and a session that idles again after a DONE is watched again
        ia = Idler(a, b"I2")
        self.assertEqual(ia.before, [b"* 1 EXISTS"])
        self.append(c, "INBOX", "for a again")
        line, seen, _ = ia.wait_for(rb"\* \d+ EXISTS")
        self.assertEqual(int(line.split()[1]), 2)
        ia.done()

    def test_idle_in_authenticated_state_and_bad_continuation(self):
        m = self.imap("alice")
        idle = Idler(m)
        tagged, _ = idle.done()
        self.assertEqual(tagged, b"I1 OK IDLE terminated")
        self.select_count(m)
        idle = Idler(m, b"I2")
        m.send(b"NOT DONE\r\n")
        line = m.readline()
        self.assertTrue(line.startswith(b"I2 BAD"), line)
        # and the session still works
        self.assertEqual(m.noop()[0], "OK")

    def test_idle_advertised(self):
        m = self.imap("alice")
        self.assertIn("IDLE", m.capabilities)

    def test_idle_session_closed_while_idling(self):
        m = self.imap("bob")
        self.select_count(m)
        Idler(m, b"I9")
        m.shutdown()
        # the worker is fine: another session idles and is told of mail
        n = self.imap("bob")
        self.select_count(n)
        i = Idler(n)
        o = self.imap("bob")
        self.append(o, "INBOX", "after a dropped idler")
        i.wait_for(rb"\* \d+ EXISTS")
        i.done()

    # ---- MOVE (RFC 6851) ----

    def test_move_and_uid_move(self):
        m = self.imap("alice")
        m.create("MoveTarget")
        uids = [self.append(m, "INBOX", f"move {i}") for i in range(3)]
        n = self.select_count(m)
        other = self.imap("alice")
        self.select_count(other)
        # MOVE by sequence number: untagged COPYUID OK, then the EXPUNGE
        tag = m._new_tag()
        m.send(tag + f" MOVE {n - 2} MoveTarget\r\n".encode())
        lines = []
        while not lines or not lines[-1].startswith(tag):
            lines.append(m.readline().rstrip(b"\r\n"))
        self.assertRegex(lines[0], rb"^\* OK \[COPYUID \d+ %d 1\] " % uids[0])
        self.assertEqual(lines[1], b"* %d EXPUNGE" % (n - 2))
        self.assertTrue(lines[-1].startswith(tag + b" OK"), lines)
        # UID MOVE of two: the source UIDs and the target's, in order
        typ, data = m.uid("MOVE", f"{uids[1]},{uids[2]}", "MoveTarget")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(m.untagged_responses.get("EXPUNGE"), [str(n - 1).encode(), str(n - 2).encode()])
        copyuid = [r for r in m.untagged_responses.get("OK", []) if b"COPYUID" in r]
        self.assertRegex(copyuid[-1], rb"COPYUID \d+ %d,%d 2,3" % (uids[1], uids[2]))
        # the messages are in the target, once, with their flags, not in INBOX
        self.assertEqual(self.select_count(other, "MoveTarget"), 3)
        typ, data = other.fetch("1:3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
        self.assertEqual(subjects, [b"Subject: move 0", b"Subject: move 1", b"Subject: move 2"])
        typ, data = m.uid("SEARCH", f"{uids[0]}:*")
        self.assertEqual(data, [b""])
        # MOVE into a folder that does not exist: TRYCREATE, nothing moved
        typ, data = m.append("INBOX", None, None, self.mail("stays"))
        self.assertEqual(m.noop()[0], "OK")
        count = int(m.select("INBOX")[1][0])
        typ, data = m._simple_command("MOVE", str(count), "NoSuchFolder")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        self.assertEqual(int(m.select("INBOX")[1][0]), count)

    def test_move_refused_when_read_only(self):
        m = self.imap("alice")
        self.append(m, "INBOX", "read only")
        m.select("INBOX", readonly=True)
        typ, data = m._simple_command("MOVE", "1", "INBOX")
        self.assertEqual(typ, "NO")

    # ---- LIST-EXTENDED, LIST-STATUS, CHILDREN, SPECIAL-USE, STATUS=SIZE ----

    def list_cmd(self, m, *args):
        """A LIST with raw arguments: {name: attributes line}, the STATUS lines."""
        m.untagged_responses.pop("STATUS", None)
        typ, data = m._simple_command("LIST", *args)
        self.assertEqual(typ, "OK", data)
        typ, data = m._untagged_response(typ, data, "LIST")
        out = {}
        for d in data:
            if d is None:
                continue
            mt = re.match(rb'\(([^)]*)\) "\." "((?:[^"\\]|\\.)*)"(.*)$', d)
            self.assertIsNotNone(mt, d)
            out[mt.group(2).decode()] = (set(mt.group(1).split()), mt.group(3).strip())
        return out, m.untagged_responses.pop("STATUS", [])

    def test_list_extended_and_special_use(self):
        m = self.imap("bob")
        for name in ("Sent", "Drafts", "Trash", "Junk", "Work", "Work.Projects",
                     "Deep.Level.Leaf"):
            self.assertEqual(m.create(name)[0], "OK", name)
        self.assertIn("SPECIAL-USE", m.capabilities)
        self.assertIn("LIST-EXTENDED", m.capabilities)
        lst, _ = self.list_cmd(m, '""', '"*"')
        self.assertEqual(lst["Sent"][0], {b"\\Sent", b"\\HasNoChildren"})
        self.assertEqual(lst["Junk"][0], {b"\\Junk", b"\\HasNoChildren"})
        self.assertEqual(lst["Work"][0], {b"\\HasChildren"})
        self.assertEqual(lst["INBOX"][0], {b"\\HasNoChildren"})
        self.assertNotIn("Deep", lst)  # a level of hierarchy only, and "*" lists the leaf
        self.assertIn("Deep.Level.Leaf", lst)
        lst, _ = self.list_cmd(m, '""', '"%"')
        self.assertEqual(lst["Deep"][0], {b"\\Noselect", b"\\HasChildren"})
        self.assertNotIn("Work.Projects", lst)
        # the extended form says \NonExistent
        lst, _ = self.list_cmd(m, '""', '("De%" "Wor%")')
        self.assertEqual(set(lst), {"Deep", "Work"})
        self.assertEqual(lst["Deep"][0], {b"\\NonExistent", b"\\HasChildren"})
        # selection SPECIAL-USE: only those folders
        lst, _ = self.list_cmd(m, "(SPECIAL-USE)", '""', '"*"')
        self.assertEqual(set(lst), {"Sent", "Drafts", "Trash", "Junk"})
        # CREATE with USE: kept in the Maildir's file, the standard name gives way
        typ, data = m._simple_command("CREATE", '"Sent Items"', "(USE (\\Sent))")
        self.assertEqual(typ, "OK", data)
        with open(os.path.join(self.base, "example.org/bob/dirmail-special-use"), "rb") as f:
            self.assertEqual(f.read(), b"Sent Items \\Sent\n")
        lst, _ = self.list_cmd(m, '""', '"Sent*"')
        self.assertEqual(lst["Sent Items"][0], {b"\\Sent", b"\\HasNoChildren"})
        self.assertEqual(lst["Sent"][0], {b"\\HasNoChildren"})
        typ, data = m._simple_command("CREATE", "Everything", "(USE (\\All))")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[USEATTR]", data[0])
        self.assertEqual(m.select("Everything")[0], "NO")
        # RENAME takes the use along, DELETE drops it
        self.assertEqual(m.rename('"Sent Items"', '"Sent Mail"')[0], "OK")
        lst, _ = self.list_cmd(m, '""', '"Sent*"')
        self.assertIn(b"\\Sent", lst["Sent Mail"][0])
        self.assertEqual(m.delete('"Sent Mail"')[0], "OK")
        lst, _ = self.list_cmd(m, '""', '"Sent*"')
        self.assertIn(b"\\Sent", lst["Sent"][0])
        # bad options
        for args in (("(RECURSIVEMATCH)", '""', '"*"'), ("(NOSUCH)", '""', '"*"'),
                     ('""', '"*"', "RETURN", "(STATUS (NOSUCH))"), ('""', "()")):
            with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD", msg=args):
                m._simple_command("LIST", *args)

    def test_list_subscribed_recursivematch(self):
        m = self.imap("dave")
        for name in ("Fruit", "Fruit.Banana", "Vegetable", "Vegetable.Broccoli"):
            self.assertEqual(m.create(name)[0], "OK", name)
        for name in ("INBOX", "Fruit.Banana", "Fruit.Peach", "Vegetable", "Vegetable.Broccoli"):
            self.assertEqual(m.subscribe(name)[0], "OK", name)
        lst, _ = self.list_cmd(m, "(SUBSCRIBED)", '""', '"*"')
        self.assertEqual(set(lst), {"INBOX", "Fruit.Banana", "Fruit.Peach", "Vegetable",
                                    "Vegetable.Broccoli"})
        self.assertIn(b"\\Subscribed", lst["Fruit.Banana"][0])
        self.assertEqual(lst["Fruit.Peach"][0],
                         {b"\\Subscribed", b"\\NonExistent", b"\\HasNoChildren"})
        # RFC 5258's example: CHILDINFO only where the child is not listed itself
        lst, _ = self.list_cmd(m, "(SUBSCRIBED RECURSIVEMATCH)", '""', '"%"')
        self.assertEqual(set(lst), {"INBOX", "Fruit", "Vegetable"})
        self.assertEqual(lst["Fruit"][1], b'("CHILDINFO" ("SUBSCRIBED"))')
        self.assertNotIn(b"\\Subscribed", lst["Fruit"][0])
        self.assertIn(b"\\Subscribed", lst["Vegetable"][0])
        self.assertEqual(lst["Vegetable"][1], b'("CHILDINFO" ("SUBSCRIBED"))')
        lst, _ = self.list_cmd(m, "(SUBSCRIBED RECURSIVEMATCH)", '""', '"*"')
        self.assertNotIn("Fruit", lst)
        self.assertEqual(lst["Vegetable"][1], b"")
        # RETURN (SUBSCRIBED CHILDREN) on the plain selection
        lst, _ = self.list_cmd(m, '""', '"Fruit*"', "RETURN", "(SUBSCRIBED CHILDREN)")
        self.assertEqual(lst["Fruit"][0], {b"\\HasChildren"})
        self.assertEqual(lst["Fruit.Banana"][0], {b"\\HasNoChildren", b"\\Subscribed"})

    def test_list_status_and_status_size(self):
        m = self.imap("alice")
        m.create("Sized")
        bodies = [self.mail("size one"), self.mail("size two", "x" * 1000)]
        for b in bodies:
            self.assertEqual(m.append("Sized", None, None, b)[0], "OK")
        self.assertIn("LIST-STATUS", m.capabilities)
        self.assertIn("STATUS=SIZE", m.capabilities)
        typ, data = m.status("Sized", "(MESSAGES SIZE)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0], b'"Sized" (MESSAGES 2 SIZE %d)' % sum(len(b) for b in bodies))
        # the same through LIST-STATUS, once per selectable folder listed
        lst, status = self.list_cmd(m, '""', '"Sized"', "RETURN", "(STATUS (MESSAGES SIZE))")
        self.assertEqual(set(lst), {"Sized"})
        self.assertEqual(status, [data[0]])
        lst, status = self.list_cmd(m, '""', '"*"', "RETURN", "(STATUS (UIDNEXT))")
        self.assertEqual(len(status), len(lst))

    # ---- keywords ----

    def flags_of(self, m, seq):
        typ, data = m.fetch(str(seq), "(FLAGS)")
        self.assertEqual(typ, "OK", data)
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", data[-1]).group(1).split())
        return flags - {b"\\Recent"}  # the session's, not the message's

    def test_keywords_stored_as_dovecot_does(self):
        m = self.imap("alice")
        m.create("Kw")
        m.create("Kw2")
        typ, data = m.append("Kw", "(\\Seen $Label1)", None, self.mail("kw"))
        self.assertEqual(typ, "OK", data)
        folder = os.path.join(self.base, "example.org/alice/.Kw")
        with open(os.path.join(folder, "dovecot-keywords"), "rb") as f:
            self.assertEqual(f.read(), b"0 $Label1\n")
        self.assertTrue(any(n.endswith(":2,Sa") for n in self.maildir_files(folder)),
                        self.maildir_files(folder))
        typ, data = m.select("Kw")
        flags = m.untagged_responses.get("FLAGS")
        self.assertIn(b"$Label1", flags[-1])
        perm = [r for r in m.untagged_responses.get("OK", []) if b"PERMANENTFLAGS" in r]
        self.assertIn(b"\\*", perm[-1])
        self.assertEqual(self.flags_of(m, 1), {b"\\Seen", b"$Label1"})
        other = self.imap("alice")
        other.select("Kw")
        # a new keyword: the file and the name, FLAGS told to this session
        typ, data = m.store("1", "+FLAGS", "(Important)")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"Important", m.untagged_responses.get("FLAGS", [b""])[-1])
        self.assertEqual(self.flags_of(m, 1), {b"\\Seen", b"$Label1", b"Important"})
        self.assertTrue(any(n.endswith(":2,Sab") for n in self.maildir_files(folder)))
        # ... and to the other session, with the message's new flags
        other.noop()
        self.assertIn(b"Important", other.untagged_responses.get("FLAGS", [b""])[-1])
        self.assertEqual(self.flags_of(other, 1), {b"\\Seen", b"$Label1", b"Important"})
        # SEARCH KEYWORD and UNKEYWORD, in any case
        self.assertEqual(m.search(None, "KEYWORD", "important")[1], [b"1"])
        self.assertEqual(m.search(None, "UNKEYWORD", "$Label1")[1], [b""])
        self.assertEqual(m.search(None, "KEYWORD", "NoSuchKeyword")[1], [b""])
        # COPY into a folder whose letters differ: the names stay, the letters follow it
        self.assertEqual(m.append("Kw2", "($Other)", None, self.mail("other"))[0], "OK")
        typ, data = m.copy("1", "Kw2")
        self.assertEqual(typ, "OK", data)
        with open(os.path.join(self.base, "example.org/alice/.Kw2/dovecot-keywords"), "rb") as f:
            self.assertEqual(f.read(), b"0 $Other\n1 $Label1\n2 Important\n")
        other.select("Kw2")
        self.assertEqual(self.flags_of(other, 2), {b"\\Seen", b"$Label1", b"Important"})
        # FLAGS replaces keywords too; -FLAGS removes one
        m.store("1", "-FLAGS", "($Label1)")
        self.assertEqual(self.flags_of(m, 1), {b"\\Seen", b"Important"})
        m.store("1", "FLAGS", "(\\Flagged)")
        self.assertEqual(self.flags_of(m, 1), {b"\\Flagged"})
        self.assertTrue(any(n.endswith(":2,F") for n in self.maildir_files(folder)))

    def test_keywords_from_a_dovecot_maildir(self):
        m = self.imap("dave")
        m.create("FromDovecot")
        folder = glob.glob(os.path.join(self.base, "**/.FromDovecot"), recursive=True)[0]
        with open(os.path.join(folder, "dovecot-keywords"), "w") as f:
            f.write("0 Work\n1 $Junk\n")
        path = os.path.join(folder, "cur", "1700000000.M1P1.host,S=40:2,Sb")
        with open(path, "wb") as f:
            f.write(b"Subject: dovecot\n\nwritten by dovecot\n")
        if os.geteuid() == 0:
            for p in (path, os.path.join(folder, "dovecot-keywords")):
                os.chown(p, 65534, 65534)
        m.select("FromDovecot")
        self.assertEqual(self.flags_of(m, 1), {b"\\Seen", b"$Junk"})
        self.assertEqual(m.search(None, "KEYWORD", "$Junk")[1], [b"1"])
        # read-only: a keyword unknown to the folder is not given a letter
        m.select("FromDovecot", readonly=True)
        m.store("1", "+FLAGS", "(Fresh)")
        with open(os.path.join(folder, "dovecot-keywords")) as f:
            self.assertNotIn("Fresh", f.read())

    # ---- \\Recent (RFC 3501 2.3.2) ----

    def test_recent_in_exactly_one_session(self):
        m = self.imap("carol")
        m.create("Rec")
        for i in range(2):
            self.append(m, "Rec", f"recent {i}")
        # STATUS and EXAMINE see them as recent and claim nothing
        self.assertIn(b"RECENT 2", m.status("Rec", "(RECENT)")[1][0])
        m.select("Rec", readonly=True)
        self.assertEqual(m.untagged_responses.get("RECENT"), [b"2"])
        # the first read-write SELECT claims them
        a, b = self.imap("carol"), self.imap("carol")
        a.select("Rec")
        self.assertEqual(a.untagged_responses.get("RECENT"), [b"2"])
        self.assertIn(b"\\Recent", a.fetch("1", "(FLAGS)")[1][0])
        self.assertEqual(a.search(None, "RECENT")[1], [b"1 2"])
        self.assertEqual(a.search(None, "NEW")[1], [b"1 2"])
        self.assertEqual(a.search(None, "OLD")[1], [b""])
        b.select("Rec")
        self.assertEqual(b.untagged_responses.get("RECENT"), [b"0"])
        self.assertNotIn(b"\\Recent", b.fetch("1", "(FLAGS)")[1][0])
        self.assertEqual(b.search(None, "OLD")[1], [b"1 2"])
        self.assertIn(b"RECENT 0", m.status("Rec", "(RECENT)")[1][0])
        # a message arriving while both are selected is recent in one of them only
        self.append(m, "Rec", "recent 2")
        a.noop()
        b.noop()
        ra = a.untagged_responses.get("RECENT", [b"2"])[-1]
        rb = b.untagged_responses.get("RECENT", [b"0"])[-1]
        self.assertEqual(int(ra) - 2 + int(rb), 1, (ra, rb))
        self.assertEqual(len(a.search(None, "RECENT")[1][0].split()) +
                         len(b.search(None, "RECENT")[1][0].split()), 3)

    # ---- ESEARCH (RFC 4731) ----

    def esearch(self, m, *args, uid=False):
        tag = m._new_tag()
        m.send(tag + b" " + (b"UID " if uid else b"") + b"SEARCH " +
               " ".join(args).encode() + b"\r\n")
        lines = []
        while not lines or not lines[-1].startswith(tag):
            lines.append(m.readline().rstrip(b"\r\n"))
        self.assertTrue(lines[-1].startswith(tag + b" OK"), lines)
        es = [ln for ln in lines if ln.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, lines)
        self.assertNotIn(b"* SEARCH", b"\n".join(lines))
        return es[0], tag

    def test_esearch_min_max_count_all(self):
        m = self.imap("bob")
        m.create("Es")
        uids = [self.append(m, "Es", f"es {i}") for i in range(6)]
        m.select("Es")
        m.store("2,3,4,6", "+FLAGS", "(\\Flagged)")
        line, tag = self.esearch(m, "RETURN (MIN MAX COUNT ALL)", "FLAGGED")
        self.assertEqual(line, b'* ESEARCH (TAG "%s") MIN 2 MAX 6 COUNT 4 ALL 2:4,6' % tag)
        line, tag = self.esearch(m, "RETURN ()", "FLAGGED")  # RFC 4731 3.1: ALL
        self.assertEqual(line, b'* ESEARCH (TAG "%s") ALL 2:4,6' % tag)
        line, tag = self.esearch(m, "RETURN (COUNT)", "CHARSET", "UTF-8", "UNFLAGGED")
        self.assertEqual(line, b'* ESEARCH (TAG "%s") COUNT 2' % tag)
        line, tag = self.esearch(m, "RETURN (MIN MAX ALL COUNT)", "DRAFT")
        self.assertEqual(line, b'* ESEARCH (TAG "%s") COUNT 0' % tag)
        line, tag = self.esearch(m, "RETURN (MIN)", "FLAGGED", uid=True)
        self.assertEqual(line, b'* ESEARCH (TAG "%s") UID MIN %d' % (tag, uids[1]))
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            m._simple_command("SEARCH", "RETURN", "(NOSUCH)", "ALL")
        # without RETURN it stays the classic answer
        self.assertEqual(m.search(None, "FLAGGED")[1], [b"2 3 4 6"])
        self.assertIn("ESEARCH", m.capabilities)

    # ---- QUOTA (RFC 9208) ----

    def test_quota_from_the_directory(self):
        m = self.imap("bob")
        self.assertIn("QUOTA", m.capabilities)
        typ, data = m.getquotaroot("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0], [b'"INBOX" ""'])
        used, limit = map(int, re.search(rb"STORAGE (\d+) (\d+)", data[1][0]).groups())
        self.assertEqual(limit, 52428800 // 1024)  # bob's dirmailQuota
        typ, data = m.getquota('""')
        self.assertEqual(typ, "OK", data)
        self.assertRegex(data[0], rb'^"" \(STORAGE \d+ 51200\)$')
        self.assertEqual(m.getquota('"other"')[0], "NO")
        self.assertEqual(m._simple_command("SETQUOTA", '""', "(STORAGE 1)")[0], "NO")
        # usage grows with what is appended, in KiB rounded up
        self.append(m, "INBOX", "quota", None)
        self.append(m, "INBOX", "big" + "x" * 5000, None)
        typ, data = m.getquotaroot("INBOX")
        now = int(re.search(rb"STORAGE (\d+)", data[1][0]).group(1))
        self.assertGreaterEqual(now, used + 5)

    def test_over_quota_append_copy_refused_move_allowed(self):
        # a user of their own with a small quota: 8 KiB
        self.ldap.add("dn: uid=quinn,ou=people,dc=example,dc=org\n"
                      "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                      "uid: quinn\ncn: Quinn\nsn: Quinn\nmail: quinn@example.org\n"
                      "dirmailQuota: 8192\ndirmailStatus: active\n"
                      "userPassword: quinn-password\n")
        m = self.imap("quinn", "quinn-password")
        m.create("Other")
        big = self.mail("big", "y" * 5000)
        self.assertEqual(m.append("INBOX", None, None, big)[0], "OK")
        typ, data = m.append("INBOX", None, None, big)
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        m.select("INBOX")
        typ, data = m.copy("1", "Other")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        self.assertEqual(m.status("Other", "(MESSAGES)")[1][0], b'"Other" (MESSAGES 0)')
        # a MOVE leaves the usage as it was: not refused
        typ, data = m._simple_command("MOVE", "1", "Other")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(m.status("Other", "(MESSAGES)")[1][0], b'"Other" (MESSAGES 1)')
        typ, data = m.getquotaroot("Other")
        self.assertEqual(data[0], [b'"Other" ""'])
        self.assertRegex(data[1][0], rb"STORAGE \d+ 8\)")

    def test_append_and_copy_into_the_selected_folder_say_exists(self):
        # imaptest's append script; RFC 3501 6.3.11
        m = self.imap("carol")
        m.create("SelfAppend")
        n = self.select_count(m, "SelfAppend")
        m.untagged_responses.clear()
        self.append(m, "SelfAppend", "self")
        self.assertEqual(m.untagged_responses.get("EXISTS"), [str(n + 1).encode()])
        m.untagged_responses.clear()
        self.assertEqual(m.copy(str(n + 1), "SelfAppend")[0], "OK")
        self.assertEqual(m.untagged_responses.get("EXISTS"), [str(n + 2).encode()])

    def test_folders_made_by_another_session_before_the_first_mail(self):
        # imaptest's list script: sessions logged in before the Maildir existed
        self.ldap.add("dn: uid=vera,ou=people,dc=example,dc=org\n"
                      "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                      "uid: vera\ncn: Vera\nsn: Vera\nmail: vera@example.org\n"
                      "dirmailStatus: active\nuserPassword: vera-password\n")
        a, b = self.imap("vera", "vera-password"), self.imap("vera", "vera-password")
        self.assertEqual(a.create("Made.Below")[0], "OK")
        lst, _ = self.list_cmd(b, '""', '"*"')
        self.assertIn("Made.Below", lst)
        self.assertEqual(b.subscribe("Made.Below")[0], "OK")
        self.assertEqual(b.rename("Made.Below", "Made.Other")[0], "OK")
        self.assertEqual(b.getquotaroot("INBOX")[0], "OK")

    # ---- what imaptest's compliance scripts found (tests/stress/imaptest_compliance) ----

    def test_brackets_in_atoms_and_nil_as_a_keyword(self):
        # imaptest's atoms: "[" and "}" are ATOM-CHARs (RFC 3501 9), only a
        # FETCH item closes a bracket
        m = self.imap("carol")
        self.assertEqual(m._simple_command("CREATE", "Sq[ua}re")[0], "OK")
        typ, data = m.list('""', "Sq[*")
        self.assertEqual(typ, "OK")
        self.assertTrue(any(d.endswith(b' "Sq[ua}re"') for d in data), data)
        # imaptest's nil: flag-keyword = atom, so NIL is the keyword "NIL"
        self.append(m, "Sq[ua}re", "nil")
        self.assertEqual(m.select("Sq[ua}re")[0], "OK")
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            m._simple_command("FETCH", "1", "BODY[HEADER")
        self.assertEqual(m.store("1", "+FLAGS", "NIL")[0], "OK")
        typ, data = m.fetch("1", "(FLAGS)")
        self.assertIn(b"NIL", re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).split())
        self.assertEqual(m.store("1", "-FLAGS", "(NIL)")[0], "OK")
        typ, data = m.fetch("1", "(FLAGS)")
        self.assertNotIn(b"NIL", re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).split())

    def test_lsub_percent_lists_unsubscribed_parents_as_noselect(self):
        # imaptest's subscribe; RFC 3501 6.3.9: "%" lists the parent of a
        # subscribed folder, once, \Noselect when it is not subscribed itself
        m = self.imap("dave")
        for name in ("Tree", "Tree.Mid", "Tree.Mid.Leaf", "Tree.Mid.Other", "Tree.Top",
                     "Tree.Gone.Leaf"):
            self.assertEqual(m.create(name)[0], "OK", name)
        for name in ("Tree.Mid.Leaf", "Tree.Mid.Other", "Tree.Top", "Tree.Gone.Leaf"):
            self.assertEqual(m.subscribe(name)[0], "OK", name)
        typ, data = m.lsub('""', "Tree.%")
        self.assertEqual(typ, "OK")
        self.assertEqual(sorted(data), sorted([b'(\\Noselect) "." "Tree.Mid"', b'() "." "Tree.Top"',
                                               b'(\\Noselect) "." "Tree.Gone"']))
        typ, data = m.lsub('""', "Tree.*")
        self.assertEqual(sorted(data), sorted([b'() "." "Tree.Mid.Leaf"', b'() "." "Tree.Mid.Other"',
                                               b'() "." "Tree.Top"', b'() "." "Tree.Gone.Leaf"']))
        self.assertEqual(m.subscribe("Tree.Mid")[0], "OK")
        typ, data = m.lsub('""', "Tree.%")
        self.assertIn(b'() "." "Tree.Mid"', data)
        self.assertNotIn(b'(\\Noselect) "." "Tree.Mid"', data)

    def test_uidvalidity_of_a_folder_made_again_is_new(self):
        # imaptest's uidvalidity: DELETE and CREATE within one second must
        # not give the old UIDVALIDITY back (RFC 3501 2.3.1.1); the fetch-*
        # scripts: DELETE after a FETCH of the structure
        m = self.imap("carol")
        seen = []
        for _ in range(3):
            self.assertEqual(m.create("Again")[0], "OK")
            self.append(m, "Again", "again")
            typ, data = m.status("Again", "(UIDVALIDITY)")
            seen.append(int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)))
            # the MIME cache a FETCH leaves in the folder goes with it
            self.assertEqual(m.select("Again")[0], "OK")
            self.assertEqual(m.fetch("1", "(BODYSTRUCTURE)")[0], "OK")
            self.assertEqual(m.close()[0], "OK")
            self.assertEqual(m.delete("Again")[0], "OK")
        self.assertEqual(seen, sorted(set(seen)), seen)

    def test_envelope_empty_sender_and_reply_to_are_the_from(self):
        # imaptest's fetch-envelope; RFC 3501 7.4.2: "absent ... or present
        # but empty" is the From
        m = self.imap("carol")
        m.create("Env")
        msg = (b"From: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n"
               b"Subject: e\r\n\r\nbody\r\n")
        self.assertEqual(m.append("Env", None, None, msg)[0], "OK")
        m.select("Env")
        typ, data = m.fetch("1", "(ENVELOPE)")
        self.assertEqual(typ, "OK")
        addr = b'(("Real Name" NIL "user" "domain"))'
        self.assertIn(b" ".join([addr, addr, addr, b"NIL"]), data[0])


@unittest.skipUnless(built(), "dirmaild not built")
class IdleDeadline(unittest.TestCase):
    """The IDLE deadline is the service's idle_timeout (doc/imap.md): an
    idler that sends nothing for that long gets BYE and is closed."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = test_imap.make_dir(os.path.join(process.tempdir("imap-idle-"), "vmail"))
        cls.d = Dirmaild(
            services=[{"type": "imap", "idle_timeout": 2}], workers=1,
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix},
            domains={"local": ["example.org"]},
            sasl={"plaintext_without_tls": True},
            delivery={"mailbox_base": cls.base})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def test_idle_ends_at_the_idle_timeout(self):
        m = imaplib.IMAP4("127.0.0.1", self.d.port("imap"), timeout=30)
        m.login("alice", PASSWORDS["alice"])
        m.select("INBOX")
        Idler(m)
        start = time.monotonic()
        line = m.readline()
        self.assertTrue(line.startswith(b"* BYE"), line)
        self.assertGreaterEqual(time.monotonic() - start, 1.5)
        self.assertEqual(m.readline(), b"")  # closed
        m.shutdown()


if __name__ == "__main__":
    harness.tap.main()
