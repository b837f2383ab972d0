#!/usr/bin/env python3
"""test_pop3_behaviour.py - what RFC 1939, 2449, 2595, 3206 and 5034 ask of
the POP3 server (reader/), proved on the wire against a real slapd and
dirmaild: exact sizes and octets (LIST against RETR, TOP's cut, dot-stuffing),
UIDL across a restart and with mail arriving, a message deleted by another
process, the directory down, AUTH with and without an initial response,
STLS with pipelined plaintext, the idle deadline. Each test has its own
user, so that no two share a maildrop."""
import base64
import os
import poplib
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.mail import wait_for  # noqa: E402
from harness.pop3 import Pop3Fixture, RawPop3, unstuff  # noqa: E402

IDLE_TIMEOUT = 2  # seconds, the pop3idle service's
MAX_SESSIONS = 2  # limits.max_sessions_per_user


@unittest.skipUnless(built(), "dirmaild not built")
class Pop3Behaviour(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # No cache: with slapd stopped a login must reach the directory.
        cls.f = Pop3Fixture(
            services_extra=[{"type": "pop3", "name": "pop3idle", "idle_timeout": IDLE_TIMEOUT}],
            cache={"positive_ttl": 0, "negative_ttl": 0, "auth_ttl": 0, "stale_ttl": 0},
            limits={"max_sessions_per_user": MAX_SESSIONS})
        cls.d = cls.f.d

    @classmethod
    def tearDownClass(cls):
        status = cls.f.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def user(self, name):
        return self.f.add_user(name, name + "-password")

    def pop(self, user, password=None):
        p = poplib.POP3_SSL("127.0.0.1", self.d.port("pop3s"), context=self.f.ctx, timeout=30)
        self.addCleanup(p.close)
        p.user(user)
        p.pass_(password or user + "-password")
        return p

    def raw(self, user=None):
        r = RawPop3(self.d.port("pop3s"), self.f.ctx, implicit_tls=True)
        self.addCleanup(r.close)
        if user is not None:
            a = r.login(user, user + "-password")
            self.assertTrue(a.startswith(b"+OK"), a)
        return r

    def write_message(self, user, name, data):
        """A message file put into new/ the way any Maildir writer does
        (here with bare LF line ends, as Maildir files hold them)."""
        self.f.make_maildir(user)
        tmp = os.path.join(self.f.maildir(user), "tmp", name)
        with open(tmp, "wb") as out:
            out.write(data)
        if os.geteuid() == 0:
            os.chown(tmp, 65534, 65534)
        os.rename(tmp, os.path.join(self.f.maildir(user), "new", name))

    # ---- sizes and octets ----

    def test_list_size_is_the_crlf_size_retr_sends(self):
        u = self.user("lisa")
        self.f.send(u + "@example.org", b"Subject: one\r\n\r\nshort body\r\n")
        self.write_message(u, "1700000001.M1P1.test", b"Subject: bare lf\n\nline\n.dot\n\nend\n")
        self.write_message(u, "1700000002.M1P1.test", b"Subject: no end\n\nunterminated")
        self.write_message(u, "1700000003.M1P1.test",
                           b"Subject: big\n\n" + b"x" * 70 + b"\n" * 1 + b"y\n" * 40000)
        r = self.raw(u)
        stat = r.cmd("STAT")
        count, octets = map(int, stat.split()[1:3])
        self.assertEqual(count, 4, stat)
        first, listing = r.multi("LIST")
        sizes = {int(a): int(b) for a, b in (l.split() for l in listing.splitlines())}
        self.assertEqual(sorted(sizes), [1, 2, 3, 4])
        self.assertEqual(sum(sizes.values()), octets)
        total = 0
        for n, size in sizes.items():
            head, body = r.multi(f"RETR {n}")
            self.assertEqual(head, f"+OK {size} octets\r\n".encode())
            message = unstuff(body)
            self.assertEqual(len(message), size, f"message {n}")
            self.assertNotIn(b"\n", message.replace(b"\r\n", b""), "every LF is a CRLF")
            self.assertEqual(r.cmd(f"LIST {n}"), f"+OK {n} {size}\r\n".encode())
            total += len(message)
        self.assertEqual(total, octets)
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))

    def test_dot_stuffing_on_the_wire(self):
        u = self.user("dora")
        self.write_message(u, "1700000010.M1P1.test",
                           b"Subject: dots\n\n.starts with a dot\n.\n..two\nplain .\n")
        r = self.raw(u)
        _, body = r.multi("RETR 1")
        self.assertEqual(body, b"Subject: dots\r\n\r\n..starts with a dot\r\n..\r\n"
                               b"...two\r\nplain .\r\n")
        # and through SMTP: the gateway undoes smtplib's stuffing, POP3 redoes it
        self.f.send(u + "@example.org", b"Subject: via smtp\r\n\r\n.dotted\r\n")
        r2 = self.raw()
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        a = r2.login(u, u + "-password")
        self.assertTrue(a.startswith(b"+OK"), a)
        _, body = r2.multi("RETR 2")
        self.assertIn(b"\r\n..dotted\r\n", body)
        r2.cmd("QUIT")

    def test_top_zero_and_n_lines(self):
        u = self.user("toby")
        msg = b"Subject: top\nX-Two: 2\n\nb1\nb2\n.b3\nb4\n"
        self.write_message(u, "1700000020.M1P1.test", msg)
        r = self.raw(u)
        head = b"Subject: top\r\nX-Two: 2\r\n\r\n"
        self.assertEqual(r.multi("TOP 1 0"), (b"+OK\r\n", head))
        self.assertEqual(r.multi("TOP 1 2")[1], head + b"b1\r\nb2\r\n")
        self.assertEqual(r.multi("TOP 1 3")[1], head + b"b1\r\nb2\r\n..b3\r\n")
        whole = r.multi("RETR 1")[1]
        self.assertEqual(r.multi("TOP 1 99")[1], whole)
        self.assertTrue(r.cmd("TOP 2 0").startswith(b"-ERR"))
        self.assertTrue(r.cmd("TOP 1").startswith(b"-ERR"))
        r.cmd("QUIT")

    # ---- unique-ids ----

    def test_uidl_stable_across_restart_and_new_mail(self):
        u = self.user("ursula")
        for i in range(3):
            self.f.send(u + "@example.org", f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
        p = self.pop(u)
        before = p.uidl()[1]
        self.assertEqual(len(before), 3)
        # mail arriving during the session waits for the next one (RFC 1939 4:
        # the numbering is that of login)
        self.f.send(u + "@example.org", b"Subject: late\r\n\r\nlate\r\n")
        self.assertEqual(p.uidl()[1], before)
        self.assertEqual(p.stat()[0], 3)
        p.quit()
        p = self.pop(u)
        after = p.uidl()[1]
        self.assertEqual(after[:3], before)
        self.assertEqual(len(after), 4)
        self.assertNotIn(after[3].split()[1], [b.split()[1] for b in before])
        p.quit()
        # a restart of dirmaild reads the same index: the same unique-ids
        self.assertEqual(self.d.stop(), 0)
        self.d.restart()
        self.d.wait_log(r"event=queue_runner_started", start=0)
        p = self.pop(u)
        self.assertEqual(p.uidl()[1], after)
        # after a deletion the rest keep theirs and no id is reused
        p.dele(1)
        p.quit()
        self.f.send(u + "@example.org", b"Subject: later\r\n\r\nlater\r\n")
        p = self.pop(u)
        ids = [l.split()[1] for l in p.uidl()[1]]
        self.assertEqual(ids[:3], [l.split()[1] for l in after[1:]])
        self.assertNotIn(ids[3], [l.split()[1] for l in after])
        p.quit()

    # ---- others changing the maildrop ----

    def test_message_deleted_by_another_process_mid_session(self):
        u = self.user("gwen")
        self.f.send(u + "@example.org", b"Subject: one\r\n\r\none\r\n")
        self.f.send(u + "@example.org", b"Subject: two\r\n\r\ntwo\r\n")
        r = self.raw(u)
        for path in self.f.message_files(u):
            if b"Subject: one" in open(path, "rb").read():
                os.unlink(path)
        first = r.cmd("RETR 1")
        self.assertTrue(first.startswith(b"-ERR"), first)
        self.assertRegex(first, rb"^-ERR .*removed by another program")
        head, body = r.multi("RETR 2")
        self.assertTrue(head.startswith(b"+OK"), head)
        self.assertIn(b"Subject: two", body)
        self.assertTrue(r.cmd("DELE 1").startswith(b"+OK"))
        self.assertTrue(r.cmd("QUIT").startswith(b"+OK"))
        p = self.pop(u)
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_dropped_connection_mid_retr_deletes_nothing(self):
        u = self.user("dina")
        self.write_message(u, "1700000030.M1P1.test", b"Subject: big\n\n" + b"z" * 100 + b"\n"
                           + b"line of a large message\n" * 200000)
        self.f.send(u + "@example.org", b"Subject: small\r\n\r\nsmall\r\n")
        r = self.raw(u)
        self.assertTrue(r.cmd("DELE 2").startswith(b"+OK"))
        r.send(b"RETR 1\r\n")
        r.line()  # +OK and the stream starts; drop in the middle
        r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        r.close()
        p = wait_for(lambda: self.try_pop(u), what="the dropped session's lock released")
        self.assertEqual(p.stat()[0], 2)
        p.quit()

    def try_pop(self, u):
        try:
            return self.pop(u)
        except poplib.error_proto as e:
            if b"[IN-USE]" not in e.args[0]:
                raise
            return None

    def test_maildrop_opening_does_not_stall_the_worker(self):
        # The opening runs on the worker's pool: while it waits for the index
        # lock (held here, as another program's sync would hold it), the one
        # worker goes on serving other sessions.
        import fcntl
        u = self.user("lola")
        self.f.send(u + "@example.org", b"Subject: x\r\n\r\nx\r\n")
        self.raw(u).cmd("QUIT")  # the index and its lock file exist now
        lock = open(os.path.join(self.f.maildir(u), "dirmail-uidlist.lock"), "r+b")
        self.addCleanup(lock.close)
        fcntl.lockf(lock, fcntl.LOCK_EX)  # a POSIX lock: it excludes OFD locks too
        a = self.raw()
        self.assertTrue(a.cmd(f"USER {u}").startswith(b"+OK"))
        a.send(f"PASS {u}-password\r\n".encode())
        # b, on the same worker, is answered while a's opening waits
        b = self.raw(self.user("olga"))
        self.assertTrue(b.cmd("STAT").startswith(b"+OK 0 0"))
        b.cmd("QUIT")
        a.s.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            a.line()  # still waiting for the lock
        fcntl.lockf(lock, fcntl.LOCK_UN)
        a.s.settimeout(30)
        self.assertTrue(a.line().startswith(b"+OK Logged in, 1 messages"))
        a.cmd("QUIT")

    # ---- authentication ----

    def test_auth_plain_and_login_with_and_without_initial_response(self):
        u = self.user("sasha")
        pw = (u + "-password").encode()
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        # PLAIN with an initial response (RFC 5034 4)
        r = self.raw()
        a = r.cmd("AUTH PLAIN " + b64(b"\0" + u.encode() + b"\0" + pw))
        self.assertTrue(a.startswith(b"+OK"), a)
        self.assertTrue(r.cmd("STAT").startswith(b"+OK 0 0"))
        r.cmd("QUIT")
        # PLAIN without: an empty challenge first
        r = self.raw()
        self.assertEqual(r.cmd("AUTH PLAIN"), b"+ \r\n")
        a = r.cmd(b64(b"\0" + u.encode() + b"\0" + pw))
        self.assertTrue(a.startswith(b"+OK"), a)
        r.cmd("QUIT")
        # LOGIN: two challenges (Username:, Password:)
        r = self.raw()
        c = r.cmd("AUTH LOGIN")
        self.assertTrue(c.startswith(b"+ "), c)
        self.assertEqual(base64.b64decode(c[2:].strip()), b"Username:")
        c = r.cmd(b64(u.encode()))
        self.assertEqual(base64.b64decode(c[2:].strip()), b"Password:")
        a = r.cmd(b64(pw))
        self.assertTrue(a.startswith(b"+OK"), a)
        r.cmd("QUIT")
        # LOGIN with the user name as initial response
        r = self.raw()
        c = r.cmd("AUTH LOGIN " + b64(u.encode()))
        self.assertEqual(base64.b64decode(c[2:].strip()), b"Password:")
        a = r.cmd(b64(pw))
        self.assertTrue(a.startswith(b"+OK"), a)
        r.cmd("QUIT")
        # a wrong password: [AUTH]; a cancelled exchange: -ERR, no code
        r = self.raw()
        a = r.cmd("AUTH PLAIN " + b64(b"\0" + u.encode() + b"\0wrong"))
        self.assertTrue(a.startswith(b"-ERR [AUTH]"), a)
        r.cmd("AUTH LOGIN")
        a = r.cmd("*")
        self.assertTrue(a.startswith(b"-ERR"), a)
        self.assertNotIn(b"[AUTH]", a)
        r.cmd("QUIT")

    def test_disabled_user_and_user_without_pop3_service_are_refused(self):
        from harness.slapd import PASSWORDS
        # erin is disabled; bob's dirmailService lists smtp, submission,
        # imap and lmtp but not pop3 (schema/examples/users.ldif)
        for user in ("erin", "bob"):
            for how in ("USER", "AUTH"):
                r = self.raw()
                if how == "USER":
                    a = r.login(user, PASSWORDS[user])
                else:
                    a = r.cmd("AUTH PLAIN " + base64.b64encode(
                        b"\0" + user.encode() + b"\0" + PASSWORDS[user].encode()).decode())
                self.assertTrue(a.startswith(b"-ERR [AUTH]"), (user, how, a))
                self.assertTrue(r.cmd("STAT").startswith(b"-ERR"))  # not logged in
                r.cmd("QUIT")

    def test_directory_down_is_sys_temp(self):
        u = self.user("dirk")
        self.f.send(u + "@example.org", b"Subject: kept\r\n\r\nkept\r\n")
        self.f.ldap.stop()
        try:
            for how in ("USER", "AUTH"):
                r = self.raw()
                if how == "USER":
                    a = r.login(u, u + "-password")
                else:
                    a = r.cmd("AUTH PLAIN " + base64.b64encode(
                        b"\0" + u.encode() + b"\0" + (u + "-password").encode()).decode())
                self.assertTrue(a.startswith(b"-ERR [SYS/TEMP]"), (how, a))
                self.assertNotIn(b"[AUTH]", a)
                # the session goes on: the client may try again
                self.assertTrue(r.cmd("NOOP").startswith(b"+OK"))
                r.cmd("QUIT")
        finally:
            self.f.ldap.start()
        p = wait_for(lambda: self.login_or_none(u), what="logins again with slapd back")
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def login_or_none(self, u):
        try:
            return self.pop(u)
        except poplib.error_proto as e:
            if b"[SYS/TEMP]" not in e.args[0]:
                raise
            return None

    def test_sessions_per_user_are_capped(self):
        u = self.user("cappy")
        pw = u + "-password"
        self.f.send(u + "@example.org", b"Subject: x\r\n\r\nx\r\n")  # a Maildir to lock
        a = self.raw(u)  # holds the maildrop
        b = self.raw()
        self.assertTrue(b.login(u, pw).startswith(b"-ERR [IN-USE] Mailbox is in use"))
        # b stays connected, logged in once: with a it fills the cap, on
        # either service
        offset = len(self.d.log())
        for port, tls in ((self.d.port("pop3s"), True), (self.d.port("pop3"), False)):
            c = RawPop3(port, self.f.ctx, implicit_tls=tls)
            self.addCleanup(c.close)
            if not tls:
                self.assertTrue(c.cmd("STLS").startswith(b"+OK"))
                c.starttls()
            self.assertEqual(c.login(u, pw), b"-ERR [IN-USE] Too many sessions for this user\r\n")
            self.assertTrue(c.cmd("NOOP").startswith(b"+OK"))  # still in AUTHORIZATION
        self.d.wait_log(rf"event=pop3_too_many_sessions client=127\.0\.0\.1 user={u} "
                        rf"max={MAX_SESSIONS}", start=offset)
        # another user is not affected
        other = self.user("otto")
        self.raw(other).cmd("QUIT")
        # b leaves: its count goes, c may try again and meets the lock
        b.cmd("QUIT")
        self.assertTrue(b.closed())
        self.assertTrue(wait_for(lambda: b"Mailbox is in use" in c.login(u, pw),
                                 what="b's count given back"))
        # a quits: c (counted already, not twice) gets the maildrop
        self.assertTrue(a.cmd("QUIT").startswith(b"+OK"))
        self.assertTrue(a.closed())
        self.assertTrue(wait_for(lambda: c.login(u, pw).startswith(b"+OK"),
                                 what="the maildrop released"))
        c.cmd("QUIT")

    # ---- STLS and deadlines ----

    def test_stls_discards_pipelined_plaintext(self):
        r = RawPop3(self.d.port("pop3"), self.f.ctx)
        self.addCleanup(r.close)
        offset = len(self.d.log())
        # STLS and, in the same segment, a command an attacker slipped in
        r.send(b"STLS\r\nUSER mallory\r\nNOOP\r\n")
        self.assertTrue(r.line_unbuffered().startswith(b"+OK"))
        r.starttls()
        # the first answer inside TLS is to what was sent inside TLS
        self.assertEqual(r.cmd("STAT"), b"-ERR Command not valid in this state\r\n")
        # and USER mallory was forgotten with the rest: PASS needs USER again
        self.assertEqual(r.cmd("PASS x"), b"-ERR Send USER first\r\n")
        self.d.wait_log(r"event=stls_discarded client=127\.0\.0\.1 bytes=20", start=offset)

    def test_idle_session_is_closed(self):
        r = RawPop3(self.d.port("pop3idle"), self.f.ctx)
        self.addCleanup(r.close)
        offset = len(self.d.log())
        self.assertTrue(r.cmd("NOOP").startswith(b"+OK"))
        # closed by the server within a generous bound of its idle deadline
        self.assertTrue(r.closed(timeout=IDLE_TIMEOUT + 20))
        self.d.wait_log(r"event=timeout client=127\.0\.0\.1 .*state=authorization", start=offset)


if __name__ == "__main__":
    harness.tap.main()
