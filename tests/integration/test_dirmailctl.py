#!/usr/bin/env python3
"""test_dirmailctl.py - dirmailctl lookup and auth against a real dirmaild
(its auth process) and a real slapd holding the example directory
(schema/examples): the printed fields and the exit codes 0 / 1 / 75 / 64 /
78 that scripts rely on, the password read without echo from a terminal,
and temporary failures when slapd or dirmaild is down."""
import os
import pty
import select
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
DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")
LDAP_TIMEOUT = 2  # ldap.timeout, seconds

EX_USAGE, EX_TEMPFAIL, EX_CONFIG = 64, 75, 78


class Result:
    def __init__(self, res):
        self.rc = res.returncode
        self.stdout = res.stdout
        self.stderr = res.stderr
        self.fields = {}
        for line in res.stdout.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                self.fields.setdefault(key, []).append(value)

    def one(self, key):
        values = self.fields.get(key)
        return values[0] if values else None

    def __repr__(self):
        return f"rc={self.rc} stdout={self.stdout!r} stderr={self.stderr!r}"


def ctl(conf, *args, stdin="", timeout=60):
    argv = [DIRMAILCTL] + (["-c", conf] if conf else []) + list(args)
    return Result(subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, timeout=timeout))


def start_dirmaild(ldap, cache):
    d = Dirmaild(workers=1, ldap=ldap.settings(connect_timeout=1, timeout=LDAP_TIMEOUT, pool_size=2),
        domains={"local": ["example.org", "example.net"], "relay": ["relay.example"]},
        cache=cache)
    d.start()
    return d


@unittest.skipUnless(built() and os.access(DIRMAILCTL, os.X_OK), "dirmaild/dirmailctl not built")
class Dirmailctl(unittest.TestCase):
    """One slapd and one dirmaild with its cache turned off, so that every
    answer comes from the directory."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.d = start_dirmaild(cls.ldap, {"size": 0})
        cls.conf = cls.d.path

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.ldap.stop()

    def setUp(self):
        self.ldap.start()  # an outage test may have stopped it

    def lookup(self, query, rc, kind, **expect):
        r = ctl(self.conf, "lookup", query)
        self.assertEqual(r.rc, rc, r)
        self.assertEqual(r.one("kind"), kind, r)
        for key, value in expect.items():
            if isinstance(value, list):
                self.assertEqual(sorted(r.fields.get(key, [])), sorted(value), r)
            else:
                self.assertEqual(r.one(key), value, r)
        return r

    # ---- lookup ----

    def test_lookup_primary_address(self):
        r = self.lookup("alice@example.org", 0, "local",
                        dn="uid=alice,ou=people,dc=example,dc=org",
                        primary="alice@example.org", mailbox="example.org/alice/",
                        quota="104857600", status="active", address="alice@example.org")
        self.assertEqual(r.stderr, "")

    def test_lookup_alias(self):
        self.lookup("Postmaster@Example.ORG", 0, "local",
                    dn="uid=alice,ou=people,dc=example,dc=org",
                    matched="postmaster@example.org", primary="alice@example.org")

    def test_lookup_catchall(self):
        self.lookup("whoever@example.net", 0, "local", catchall="yes", matched="@example.net",
                    dn="uid=carol,ou=people,dc=example,dc=org", primary="carol@example.net")

    def test_lookup_subaddress_keeps_tag(self):
        self.lookup("alice+lists@example.org", 0, "local", tag="lists",
                    matched="alice@example.org", address="alice+lists@example.org",
                    dn="uid=alice,ou=people,dc=example,dc=org")

    def test_lookup_group_members(self):
        self.lookup("staff@example.org", 0, "group",
                    dn="cn=staff,ou=groups,dc=example,dc=org",
                    member=["alice@example.org", "bob@example.org", "dave@example.org"])

    def test_lookup_forward(self):
        self.lookup("dave@example.org", 0, "forward", forward=["dave@example.com"],
                    keep_copy="no", dn="uid=dave,ou=people,dc=example,dc=org")

    def test_lookup_sieve_size_not_script(self):
        r = self.lookup("bob@example.org", 0, "local")
        self.assertRegex(r.one("sieve") or "", r"^\d+ bytes$", r)
        self.assertNotIn("fileinto", r.stdout)

    def test_lookup_disabled_is_found_with_status(self):
        self.lookup("erin@example.org", 0, "disabled", status="disabled",
                    disabled_action="reject")

    def test_lookup_unknown_exits_1(self):
        r = self.lookup("nobody@example.org", 1, "unknown")
        self.assertIsNone(r.one("dn"), r)
        self.assertIn("dirmailctl: lookup nobody@example.org: not found", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r)

    def test_lookup_not_ours_exits_1(self):
        self.lookup("someone@elsewhere.example", 1, "not-ours")

    def test_lookup_relay_domain(self):
        self.lookup("someone@relay.example", 0, "relay", next_hop="MX")

    def test_lookup_injection_matches_nothing(self):
        for address in ("*@example.org", "alice)(uid=*@example.org", "\\2a@example.org"):
            r = ctl(self.conf, "lookup", address)
            self.assertEqual(r.rc, 1, (address, r))
            self.assertIsNone(r.one("dn"), r)

    def test_lookup_overlong_address_is_a_usage_error(self):
        r = ctl(self.conf, "lookup", "x" * 5000 + "@example.org")
        self.assertEqual(r.rc, EX_USAGE, r)
        self.assertEqual(len(r.stderr.splitlines()), 1, r)
        self.assertLess(len(r.stderr), 400, r)
        self.assertIn("request refused", r.stderr)

    # ---- auth ----

    def test_auth_right_password(self):
        r = ctl(self.conf, "auth", "alice", stdin=PASSWORDS["alice"] + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("ok: alice", r.stdout)
        self.assertIn("uid=alice,ou=people,dc=example,dc=org", r.stdout)

    def test_auth_password_without_newline_and_crlf(self):
        self.assertEqual(ctl(self.conf, "auth", "alice", stdin=PASSWORDS["alice"]).rc, 0)
        self.assertEqual(ctl(self.conf, "auth", "alice", stdin=PASSWORDS["alice"] + "\r\n").rc, 0)

    def test_auth_only_first_line_is_the_password(self):
        r = ctl(self.conf, "auth", "alice", stdin="wrong\n" + PASSWORDS["alice"] + "\n")
        self.assertEqual(r.rc, 1, r)

    def test_auth_wrong_password(self):
        r = ctl(self.conf, "auth", "alice", stdin="not-alice-password\n")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.stderr.strip(), "dirmailctl: auth alice: authentication failed")
        self.assertEqual(r.stdout, "")

    def test_auth_empty_password(self):
        r = ctl(self.conf, "auth", "alice", stdin="\n")
        self.assertEqual(r.rc, 1, r)

    def test_auth_no_password_at_all(self):
        r = ctl(self.conf, "auth", "alice", stdin="")
        self.assertEqual(r.rc, EX_USAGE, r)
        self.assertIn("no password", r.stderr)

    def test_auth_unknown_user(self):
        r = ctl(self.conf, "auth", "nobody", stdin="whatever\n")
        self.assertEqual(r.rc, 1, r)

    def test_auth_disabled_user(self):
        r = ctl(self.conf, "auth", "erin", stdin=PASSWORDS["erin"] + "\n")
        self.assertEqual(r.rc, 1, r)

    def test_auth_service_check(self):
        # bob may use imap but not pop3 (dirmailService)
        self.assertEqual(ctl(self.conf, "auth", "bob", "imap", stdin=PASSWORDS["bob"]).rc, 0)
        self.assertEqual(ctl(self.conf, "auth", "bob", "pop3", stdin=PASSWORDS["bob"]).rc, 1)

    def test_auth_password_too_long(self):
        r = ctl(self.conf, "auth", "alice", stdin="x" * 5000 + "\n")
        self.assertEqual(r.rc, EX_USAGE, r)
        self.assertIn("password too long", r.stderr)

    def test_auth_terminal_prompt_without_echo(self):
        """On a terminal: a prompt on stderr, the typed password not echoed,
        and the terminal's echo back on afterwards."""
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.execv(DIRMAILCTL, [DIRMAILCTL, "-c", self.conf, "auth", "alice"])
            finally:
                os._exit(127)
        out = b""
        status = None
        try:
            out += self._read_until(master, b"Password: ")
            os.write(master, PASSWORDS["alice"].encode() + b"\n")
            out += self._read_until(master, None)
            deadline = time.monotonic() + 20
            while status is None and time.monotonic() < deadline:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                else:
                    time.sleep(0.05)
            self.assertIsNotNone(status, f"dirmailctl still runs: {out!r}")
        finally:
            if status is None:  # never leave it waiting on the terminal
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            os.close(master)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        self.assertIn(b"Password: ", out)
        self.assertIn(b"ok: alice", out)
        self.assertNotIn(PASSWORDS["alice"].encode(), out)

    @staticmethod
    def _read_until(fd, marker, timeout=30):
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker is not None and marker in data:
                return data
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                return data
            if not chunk:
                return data
            data += chunk
        if marker is None:
            return data
        raise TimeoutError(f"no {marker!r} in {data!r}")

    # ---- usage and configuration ----

    def test_usage_errors_exit_64(self):
        for args in ([], ["lookup"], ["lookup", "a@b", "c"], ["auth"], ["auth", "a", "b", "c"],
                     ["frobnicate"], ["-x", "lookup", "a@b"]):
            r = ctl(self.conf if args[:1] != ["-x"] else None, *args)
            self.assertEqual(r.rc, EX_USAGE, (args, r))
            self.assertIn("usage: dirmailctl", r.stderr)

    def test_help(self):
        r = ctl(None, "-h")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("usage: dirmailctl", r.stdout)

    def test_bad_configuration_exits_78(self):
        folder = process.tempdir()
        missing = os.path.join(folder, "missing.conf")
        r = ctl(missing, "lookup", "alice@example.org")
        self.assertEqual(r.rc, EX_CONFIG, r)
        self.assertIn(missing, r.stderr)
        broken = os.path.join(folder, "broken.conf")
        with open(broken, "w") as f:
            f.write("server = { nonsense = 1; };\n")
        r = ctl(broken, "lookup", "alice@example.org")
        self.assertEqual(r.rc, EX_CONFIG, r)
        self.assertIn("nonsense", r.stderr)

    # ---- temporary failures ----

    def test_slapd_down_gives_75_then_recovers(self):
        self.ldap.stop()
        try:
            started = time.monotonic()
            r = ctl(self.conf, "lookup", "alice@example.org")
            self.assertEqual(r.rc, EX_TEMPFAIL, r)
            self.assertLess(time.monotonic() - started, 3 * LDAP_TIMEOUT + 5)
            self.assertIn("temporary failure", r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r)
            r = ctl(self.conf, "auth", "alice", stdin=PASSWORDS["alice"] + "\n")
            self.assertEqual(r.rc, EX_TEMPFAIL, r)
            # an unknown address is not NOTFOUND while the directory is down
            self.assertEqual(ctl(self.conf, "lookup", "nobody@example.org").rc, EX_TEMPFAIL)
        finally:
            self.ldap.start()
        deadline = time.monotonic() + 15
        while True:
            r = ctl(self.conf, "lookup", "alice@example.org")
            if r.rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.rc, 0, r)

    def test_dirmaild_not_running_gives_75(self):
        d = Dirmaild(workers=1, ldap={"uris": [self.ldap.uri], "base": self.ldap.suffix})
        started = time.monotonic()
        r = ctl(d.path, "lookup", "alice@example.org")
        self.assertEqual(r.rc, EX_TEMPFAIL, r)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("temporary failure", r.stderr)
        self.assertIn("dirmailctl: lookup alice@example.org:", r.stderr)
        self.assertIn("auth.sock", r.stderr)
        self.assertIn("is dirmaild running?", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r)
        r = ctl(d.path, "auth", "alice", stdin=PASSWORDS["alice"] + "\n")
        self.assertEqual(r.rc, EX_TEMPFAIL, r)


@unittest.skipUnless(built() and os.access(DIRMAILCTL, os.X_OK), "dirmaild/dirmailctl not built")
class DirmailctlCached(unittest.TestCase):
    """With the cache on, an address never asked before still fails
    temporarily during an outage (only cached positive answers are served
    stale)."""

    def test_uncached_address_during_outage_gives_75(self):
        ldap = Slapd()
        d = start_dirmaild(ldap, {"size": 1000, "stale_ttl": 3600})
        try:
            self.assertEqual(ctl(d.path, "lookup", "alice@example.org").rc, 0)
            ldap.stop()
            self.assertEqual(ctl(d.path, "lookup", "alice@example.org").rc, 0)
            r = ctl(d.path, "lookup", "bob@example.org")
            self.assertEqual(r.rc, EX_TEMPFAIL, r)
        finally:
            d.stop()
            ldap.stop()


if __name__ == "__main__":
    harness.tap.main()
