#!/usr/bin/env python3
"""test_auth_socket.py - the auth process's socket (doc/auth-protocol.md)
behind a real dirmaild and a real slapd holding the example directory
(schema/examples): answers through auth/libauthclient.a (tests/auth_query)
and through Python speaking the protocol directly; who may connect; the
cache standing in for the directory during an outage (and not for negative
answers); a stalled slapd holding up only the lookups that need it; and the
auth process killed and restarted."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
AUTH_QUERY = os.path.join(TOP_BUILDDIR, "tests", "auth_query")
LDAP_TIMEOUT = 2  # ldap.timeout, seconds
ALICE_DN = "uid=alice,ou=people,dc=example,dc=org"


def unescape(value):
    out, i = bytearray(), 0
    raw = value.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"%":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


def parse_body(body):
    """"FOUND kind=local dn=..." -> ("FOUND", {"kind": ["local"], ...})."""
    words = body.split(" ")
    fields = {}
    for w in words[1:]:
        key, _, value = w.partition("=")
        fields.setdefault(key, []).append(unescape(value))
    return words[0], fields


class Answer:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.out = proc.stdout.strip()
        self.err = proc.stderr
        self.elapsed = elapsed
        self.status, self.fields = parse_body(self.out) if self.out else ("", {})

    def one(self, key):
        values = self.fields.get(key)
        return values[0] if values else None

    def __repr__(self):
        return f"rc={self.rc} out={self.out!r} err={self.err!r} elapsed={self.elapsed:.2f}"


def query(sock, verb, *args, timeout_ms=8000):
    start = time.monotonic()
    p = subprocess.run([AUTH_QUERY, sock, str(timeout_ms), verb] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    return Answer(p, time.monotonic() - start)


def query_async(sock, requests, timeout_ms=8000):
    """requests: [[VERB, ARG...], ...] pipelined on one connection; returns
    [(position, ms, status, fields)] in arrival order."""
    argv = [AUTH_QUERY, "-a", sock, str(timeout_ms)]
    for i, r in enumerate(requests):
        argv += (["--"] if i else []) + r
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    assert p.returncode == 0, p
    out = []
    for line in p.stdout.splitlines():
        n, ms, body = line.split(" ", 2)
        status, fields = parse_body(body)
        out.append((int(n), int(ms), status, fields))
    return out


def query_until(sock, rc, verb, *args, timeout=10.0):
    """query until it exits rc (bounded): after an outage the directory
    client retries a server only when its backoff interval (up to 5 s) is
    over, and fails at once before that."""
    deadline = time.monotonic() + timeout
    while True:
        a = query(sock, verb, *args)
        if a.rc == rc or time.monotonic() > deadline:
            return a
        time.sleep(0.05)


def start_dirmaild(ldap, cache):
    d = Dirmaild(workers=1, ldap=ldap.settings(connect_timeout=1, timeout=LDAP_TIMEOUT, pool_size=4),
        domains={"local": ["example.org", "example.net"]}, cache=cache)
    # Only the auth process matters here: wait for it, not for the listeners.
    d.start(wait=False)
    d.wait_log(r"event=auth_started", timeout=20)
    return d


class Raw:
    """The protocol spoken by hand over the socket."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def eof(self):
        """True when the server closed the connection (after any buffered lines)."""
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


@unittest.skipUnless(built() and os.access(AUTH_QUERY, os.X_OK), "dirmaild/auth_query not built")
class AuthSocket(unittest.TestCase):
    """One slapd, one dirmaild with a long-lived cache."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.d = start_dirmaild(cls.ldap, {"positive_ttl": 300, "negative_ttl": 60,
                                          "auth_ttl": 60, "stale_ttl": 600, "size": 1000})
        cls.sock = os.path.join(cls.d.sections["server"]["state_dir"], "auth.sock")

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        errors = cls.d.sanitizer_errors()
        assert not errors, "\n".join(errors)
        assert status == 0, f"dirmaild exited {status}:\n{cls.d.log()}"

    def setUp(self):
        if not self.ldap.running():
            self.ldap.start()

    # ---- answers ----

    def test_resolve_found(self):
        a = query(self.sock, "RESOLVE", "Alice@Example.ORG")
        self.assertEqual(a.rc, 0, a)
        self.assertEqual(a.status, "FOUND", a)
        self.assertEqual(a.one("kind"), "local", a)
        self.assertEqual(a.one("dn"), ALICE_DN, a)
        self.assertEqual(a.one("address"), "alice@example.org", a)
        self.assertEqual(a.one("primary"), "alice@example.org", a)

    def test_resolve_alias_and_group(self):
        a = query(self.sock, "RESOLVE", "postmaster@example.org")
        self.assertEqual((a.rc, a.one("kind"), a.one("dn")), (0, "local", ALICE_DN), a)
        g = query(self.sock, "RESOLVE", "staff@example.org")
        self.assertEqual((g.rc, g.one("kind")), (0, "group"), g)
        self.assertIn("alice@example.org", g.fields.get("member", []), g)

    def test_resolve_notfound(self):
        a = query(self.sock, "RESOLVE", "nobody-here@example.org")
        self.assertEqual(a.rc, 1, a)
        self.assertEqual((a.status, a.one("kind")), ("NOTFOUND", "unknown"), a)
        b = query(self.sock, "RESOLVE", "someone@not-ours.example")
        self.assertEqual((b.rc, b.status, b.one("kind")), (1, "NOTFOUND", "not-ours"), b)

    def test_resolve_injection_matches_nothing(self):
        for hostile in ("*@example.org", "x)(uid=*@example.org", "a b\nc@example.org"):
            a = query(self.sock, "RESOLVE", hostile)
            self.assertEqual(a.status, "NOTFOUND", (hostile, a))

    def test_authenticate_ok_and_failed(self):
        a = query(self.sock, "AUTH", "alice", PASSWORDS["alice"], "imap")
        self.assertEqual((a.rc, a.status), (0, "OK"), a)
        self.assertEqual(a.one("login"), "alice", a)
        self.assertEqual(a.one("dn"), ALICE_DN, a)
        bad = query(self.sock, "AUTH", "alice", "wrong password", "imap")
        self.assertEqual((bad.rc, bad.status, bad.fields), (1, "FAILED", {}), bad)
        # A failure is never cached as a success: ask again, still FAILED.
        bad = query(self.sock, "AUTH", "alice", "wrong password", "imap")
        self.assertEqual(bad.status, "FAILED", bad)
        empty = query(self.sock, "AUTH", "alice", "", "")
        self.assertEqual(empty.status, "FAILED", empty)
        disabled = query(self.sock, "AUTH", "erin", PASSWORDS["erin"], "imap")
        self.assertEqual(disabled.status, "FAILED", disabled)
        # The password never reaches the log.
        self.assertNotIn("wrong password", self.d.log())
        self.assertNotIn(PASSWORDS["alice"], self.d.log())
        self.d.wait_log(r"event=auth_login_failed login=alice reason=")

    def test_user_and_senders(self):
        u = query(self.sock, "USER", "alice")
        self.assertEqual((u.rc, u.status, u.one("login")), (0, "FOUND", "alice"), u)
        self.assertIn("a.liddell@example.org", u.fields.get("address", []), u)
        by_address = query(self.sock, "USER", "bob@example.org")
        self.assertEqual((by_address.rc, by_address.one("dn")),
                         (0, "uid=bob,ou=people,dc=example,dc=org"), by_address)
        none = query(self.sock, "USER", "no-such-login")
        self.assertEqual((none.rc, none.status), (1, "NOTFOUND"), none)
        s = query(self.sock, "SENDERS", "alice")
        self.assertEqual((s.rc, s.status), (0, "FOUND"), s)
        self.assertIn("alice@example.org", s.fields.get("sender", []), s)
        self.assertIn("postmaster@example.org", s.fields.get("sender", []), s)

    # ---- the protocol by hand ----

    def test_pipelined_requests_keep_their_ids(self):
        r = Raw(self.sock)
        r.send(b"7 RESOLVE alice@example.org\n8 RESOLVE nobody-x@example.org\n"
               b"9 AUTH alice " + PASSWORDS["alice"].encode() + b" \n")
        answers = {}
        for _ in range(3):
            line = r.line()
            ident, status = line.split(" ")[:2]
            answers[ident] = status
        self.assertEqual(answers, {"7": "FOUND", "8": "NOTFOUND", "9": "OK"})
        r.close()

    def test_malformed_requests_get_error(self):
        r = Raw(self.sock)
        r.send(b"x RESOLVE a@b\n5 DELETE a@b\n6 RESOLVE\n7 RESOLVE a%zz\n"
               b"8 RESOLVE a@b extra\n")
        self.assertTrue(r.line().startswith("0 ERROR "))
        for ident in (5, 6, 7, 8):
            self.assertTrue(r.line().startswith(f"{ident} ERROR "))
        # The connection still serves good requests.
        r.send(b"9 RESOLVE alice@example.org\n")
        self.assertTrue(r.line().startswith("9 FOUND kind=local"))
        r.close()

    def test_overlong_request_closes_the_connection(self):
        r = Raw(self.sock)
        r.send(b"1 RESOLVE " + b"a" * 5000 + b"@example.org\n2 RESOLVE alice@example.org\n")
        self.assertEqual(r.line(), "0 ERROR error=too-long")
        self.assertTrue(r.eof())
        r.close()
        # The longest request that fits is served.
        r = Raw(self.sock)
        arg = b"a" * (4096 - len(b"3 RESOLVE \n"))
        r.send(b"3 RESOLVE " + arg + b"\n")
        self.assertRegex(r.line(), r"^3 NOTFOUND kind=invalid")
        r.close()

    def test_many_connections_and_backpressure(self):
        # 400 requests pipelined without reading, on 20 connections at once:
        # all answered, none lost (past 128 in flight the server stops reading).
        conns = [Raw(self.sock) for _ in range(20)]
        for c in conns:
            c.send(b"".join(b"%d RESOLVE user%d@example.org\n" % (i, i)
                            for i in range(1, 401)))
        for c in conns:
            ids = sorted(int(c.line().split(" ")[0]) for _ in range(400))
            self.assertEqual(ids, list(range(1, 401)))
            c.close()

    # ---- who may connect ----

    @unittest.skipUnless(os.geteuid() == 0, "needs root to connect as another uid")
    def test_other_uid_refused(self):
        def connect_as(uid, path=self.sock):
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
                    r = Raw(path)
                    r.send(b"1 RESOLVE alice@example.org\n")
                    code = 0 if r.line().startswith("1 FOUND") else 1
                except PermissionError:
                    code = 2
                except (EOFError, ConnectionResetError, BrokenPipeError):
                    code = 1
                finally:
                    os._exit(code)
            return os.waitpid(pid, 0)[1] >> 8

        # The socket's mode keeps another user out...
        self.assertEqual(connect_as(54321), 2)
        # ...and with the mode opened (a link in a folder anyone may enter,
        # the inode made 0666), SO_PEERCRED still does.
        open_dir = process.tempdir()
        os.chmod(open_dir, 0o755)
        link = os.path.join(open_dir, "auth.sock")
        os.link(self.sock, link)
        mode = os.stat(self.sock).st_mode
        os.chmod(self.sock, 0o666)
        try:
            self.assertEqual(connect_as(54321, link), 1)
        finally:
            os.chmod(self.sock, mode & 0o7777)
            os.unlink(link)
        self.d.wait_log(r"event=auth_refused peer_pid=\d+ peer_uid=54321 reason=uid")
        # The mail user itself is served.
        mail_uid = os.stat(self.sock).st_uid
        self.assertEqual(connect_as(mail_uid), 0)

    # ---- a stalled directory ----

    def test_stalled_slapd_holds_up_only_uncached_lookups(self):
        warm = query(self.sock, "RESOLVE", "bob@example.org")
        self.assertEqual(warm.rc, 0, warm)
        process.freeze(self.ldap.proc)
        try:
            answers = query_async(self.sock, [["RESOLVE", "dave@example.org"],
                                              ["RESOLVE", "bob@example.org"]])
        finally:
            os.kill(self.ldap.proc.pid, signal.SIGCONT)
        self.assertEqual(len(answers), 2, answers)
        first, second = answers
        # The cached answer overtakes the lookup the directory holds up.
        self.assertEqual((first[0], first[2]), (1, "FOUND"), answers)
        self.assertLess(first[1], 500, answers)
        self.assertEqual((second[0], second[2]), (0, "TEMPFAIL"), answers)
        self.assertGreaterEqual(second[1], 900, answers)
        self.assertLess(second[1], (2 * LDAP_TIMEOUT + 2) * 1000, answers)
        # After the stall the directory answers again (once its backoff allows).
        self.assertEqual(query_until(self.sock, 0, "RESOLVE", "dave@example.org").rc, 0)

    def test_client_timeout_is_tempfail(self):
        process.freeze(self.ldap.proc)
        try:
            a = query(self.sock, "RESOLVE", "carol@example.net", timeout_ms=300)
        finally:
            os.kill(self.ldap.proc.pid, signal.SIGCONT)
        self.assertEqual((a.rc, a.status), (75, "TEMPFAIL"), a)
        self.assertEqual(a.one("error"), "timeout", a)
        self.assertLess(a.elapsed, 2.0, a)

    def test_no_socket_is_tempfail(self):
        a = query(os.path.join(self.d.dir, "no-such.sock"), "RESOLVE", "alice@example.org")
        self.assertEqual((a.rc, a.status), (75, "TEMPFAIL"), a)


@unittest.skipUnless(built() and os.access(AUTH_QUERY, os.X_OK), "dirmaild/auth_query not built")
class AuthOutage(unittest.TestCase):
    """Short TTLs: positive answers go past their TTL within a test, and
    stale_ttl ends soon after."""

    STALE_TTL = 4

    def setUp(self):
        self.ldap = Slapd()
        self.d = start_dirmaild(self.ldap, {"positive_ttl": 1, "negative_ttl": 1,
                                            "auth_ttl": 1, "stale_ttl": self.STALE_TTL,
                                            "size": 100})
        self.sock = os.path.join(self.d.sections["server"]["state_dir"], "auth.sock")

    def tearDown(self):
        status = self.d.stop()
        self.ldap.stop()
        self.assertEqual(self.d.sanitizer_errors(), [])
        self.assertEqual(status, 0, self.d.log())

    def test_stale_served_then_expires(self):
        cached_at = time.monotonic()
        self.assertEqual(query(self.sock, "RESOLVE", "alice@example.org").rc, 0)
        self.assertEqual(query(self.sock, "AUTH", "alice", PASSWORDS["alice"], "imap").rc, 0)
        self.assertEqual(query(self.sock, "RESOLVE", "nobody-y@example.org").rc, 1)
        # Time passing is the behaviour under test here: the answers must
        # outlive their TTL (1 s), so the wait is for the clock itself.
        time.sleep(1.2)  # past every TTL: only stale use is left
        self.ldap.stop()

        a = query(self.sock, "RESOLVE", "alice@example.org")
        self.assertEqual((a.rc, a.status, a.one("dn")), (0, "FOUND", ALICE_DN), a)
        self.d.wait_log(r"event=stale_served request=RESOLVE key=alice@example.org")
        login = query(self.sock, "AUTH", "alice", PASSWORDS["alice"], "imap")
        self.assertEqual((login.rc, login.status), (0, "OK"), login)
        # Only the password that worked: another one is a TEMPFAIL, not OK.
        other = query(self.sock, "AUTH", "alice", "guess", "imap")
        self.assertEqual((other.rc, other.status), (75, "TEMPFAIL"), other)
        # Negative answers are never served stale, nor is what was never asked.
        neg = query(self.sock, "RESOLVE", "nobody-y@example.org")
        self.assertEqual((neg.rc, neg.status), (75, "TEMPFAIL"), neg)
        never = query(self.sock, "RESOLVE", "bob@example.org")
        self.assertEqual((never.rc, never.status), (75, "TEMPFAIL"), never)

        # Again the clock itself: stale use ends STALE_TTL after caching.
        time.sleep(max(0.0, cached_at + self.STALE_TTL + 0.3 - time.monotonic()))
        late = query(self.sock, "RESOLVE", "alice@example.org")
        self.assertEqual((late.rc, late.status), (75, "TEMPFAIL"), late)

        self.ldap.start()
        back = query_until(self.sock, 0, "RESOLVE", "alice@example.org")
        self.assertEqual((back.rc, back.status), (0, "FOUND"), back)

    def test_auth_process_killed_and_restarted(self):
        self.assertEqual(query(self.sock, "RESOLVE", "alice@example.org").rc, 0)
        old = self.d.wait_children()["auth"][0]
        # A request in flight when the auth process dies: the client hears
        # EOF and says TEMPFAIL, not NOTFOUND.
        process.freeze(self.ldap.proc)
        try:
            p = subprocess.Popen([AUTH_QUERY, self.sock, "20000", "RESOLVE", "dave@example.org"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # in flight: the auth process has sent the lookup to slapd
            self.ldap.wait_request_held()
            self.assertIsNone(p.poll(), "answered although slapd is frozen")
            start = time.monotonic()
            os.kill(old, signal.SIGKILL)
            out, err = p.communicate(timeout=10)
            elapsed = time.monotonic() - start
        finally:
            os.kill(self.ldap.proc.pid, signal.SIGCONT)
        self.assertEqual(p.returncode, 75, (out, err))
        self.assertTrue(out.startswith("TEMPFAIL error=connection%20closed"), out)
        self.assertLess(elapsed, 2.0)
        # The master starts a new one; it answers again.
        self.d.wait_children(exclude=[old], timeout=15)
        deadline = time.monotonic() + 15
        while True:
            a = query(self.sock, "RESOLVE", "alice@example.org", timeout_ms=2000)
            if a.rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual((a.rc, a.status, a.one("dn")), (0, "FOUND", ALICE_DN), a)

    def test_sigterm_finishes_requests_in_flight(self):
        old = self.d.wait_children()["auth"][0]
        process.freeze(self.ldap.proc)
        try:
            p = subprocess.Popen([AUTH_QUERY, self.sock, "20000", "RESOLVE", "bob@example.org"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # in flight: the auth process has sent the lookup to slapd
            self.ldap.wait_request_held()
            offset = len(self.d.log())
            os.kill(old, signal.SIGTERM)
            self.d.wait_log(r"event=auth_stopping connections=1 pending=1", start=offset)
            # stopping, it still holds the request (slapd is frozen still)
            self.assertIsNone(p.poll(), "answered although slapd is frozen")
            self.assertNotIn("event=auth_stopped", self.d.log()[offset:])
        finally:
            os.kill(self.ldap.proc.pid, signal.SIGCONT)
        # The lookup the directory held up is answered, then the process ends.
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, (out, err))
        self.assertTrue(out.startswith("FOUND kind=local"), out)
        self.d.wait_log(r"event=auth_stopped\n", start=offset)
        self.d.wait_log(rf"event=child_exit child=auth pid={old} status=0 ", start=offset)


if __name__ == "__main__":
    harness.tap.main()
