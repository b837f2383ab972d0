#!/usr/bin/env python3
"""test_sasl.py - the SASL glue (auth/sasl_server.c) with the real directory
as its password check: Cyrus SASL's own client (driven by
tests/sasl_client_test) authenticates with PLAIN and LOGIN, and the check is
dir_authenticate against a real slapd loaded with schema/examples. Proves
that the directory's answers (ok, bad password, unknown user, disabled,
service not allowed, outage) come out of SASL as the right result, and that
the sasl section of dirmail.conf is what the glue obeys."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
PROGRAM = os.path.join(TOP_BUILDDIR, "tests", "sasl_client_test")


def write_conf(folder, ldap, sasl=""):
    path = os.path.join(folder, f"dirmail-{time.monotonic_ns()}.conf")
    with open(path, "w") as f:
        f.write(
            'server = { hostname = "node1.example.org"; log = "stderr"; log_level = "debug"; };\n'
            "ldap = {\n"
            f'  uris = [ "{ldap.uri}" ];\n'
            f'  bind_dn = "{ldap.service_dn}";\n'
            f'  bind_password = "{ldap.service_password}";\n'
            f'  base = "{ldap.suffix}";\n'
            "  connect_timeout = 1; timeout = 2; pool_size = 2;\n"
            "};\n"
            'domains = { local = [ "example.org" ]; };\n'
            f"sasl = {{ {sasl} }};\n")
    return path


class Driver:
    """One sasl_client_test process: one directory client for every line."""

    def __init__(self, conf):
        self.stderr_path = conf + ".stderr"
        self.err = open(self.stderr_path, "w")
        self.proc = process.spawn([PROGRAM, "-c", conf], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = {}
        while True:
            text = self.proc.stdout.readline()
            if text == "":
                raise RuntimeError("sasl_client_test died: " + self.log())
            text = text.rstrip("\n")
            if text == "end":
                return out
            key, _, value = text.partition("=")
            out.setdefault(key, value)

    def auth(self, mech, login, password, service="submission", ir=True, tls=True, authzid="-"):
        return self.ask(" ".join(["auth", mech, "ir" if ir else "noir", "tls" if tls else "plain",
                                  service, login, authzid, password]))

    def log(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        self.err.close()
        return rc


class SaslWithDirectory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = process.tempdir()
        cls.ldap = Slapd(ldif=[os.path.join(TOP_SRCDIR, "schema", "examples", "base.ldif"),
                               os.path.join(TOP_SRCDIR, "schema", "examples", "users.ldif")])
        cls.d = Driver(write_conf(cls.folder, cls.ldap))

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.close()
        cls.ldap.stop()
        assert rc == 0, cls.d.log()

    def test_plain_with_and_without_initial_response(self):
        for ir in (True, False):
            r = self.d.auth("PLAIN", "alice", PASSWORDS["alice"], ir=ir)
            self.assertEqual(r.get("result"), "ok", r)
            self.assertEqual(r.get("user"), "alice", r)
            self.assertEqual(r.get("challenges"), "0" if ir else "1", r)

    def test_login_mechanism(self):
        r = self.d.auth("LOGIN", "alice", PASSWORDS["alice"], ir=False, service="imap")
        self.assertEqual((r.get("result"), r.get("challenges")), ("ok", "2"), r)
        # A login by address is the directory's business too.
        r = self.d.auth("LOGIN", "alice@example.org", PASSWORDS["alice"], ir=False)
        self.assertEqual(r.get("result"), "ok", r)

    def test_wrong_password(self):
        r = self.d.auth("PLAIN", "alice", "not-her-password")
        self.assertEqual((r.get("result"), r.get("check_reason")), ("failed", "bad_password"), r)
        r = self.d.auth("LOGIN", "alice", "not-her-password", ir=False)
        self.assertEqual(r.get("result"), "failed", r)
        self.assertNotIn("not-her-password", self.d.log())

    def test_empty_password_never_reaches_the_directory(self):
        r = self.d.auth("PLAIN", "alice", "")
        self.assertEqual(r.get("result"), "failed", r)
        self.assertNotIn("check_reason", r)  # refused by the glue before any bind

    def test_unknown_user_and_disabled(self):
        r = self.d.auth("PLAIN", "mallory", "x")
        self.assertEqual((r.get("result"), r.get("check_reason")), ("failed", "unknown_user"), r)
        r = self.d.auth("PLAIN", "erin", PASSWORDS["erin"])
        self.assertEqual((r.get("result"), r.get("check_reason")), ("failed", "disabled"), r)

    def test_service_passed_to_the_check(self):
        # bob may use submission and imap but not pop3 (dirmailService).
        r = self.d.auth("PLAIN", "bob", PASSWORDS["bob"], service="pop3")
        self.assertEqual((r.get("result"), r.get("check_reason")),
                         ("failed", "service_not_allowed"), r)
        r = self.d.auth("PLAIN", "bob", PASSWORDS["bob"], service="imap")
        self.assertEqual(r.get("result"), "ok", r)

    def test_authzid_refused(self):
        r = self.d.auth("PLAIN", "alice", PASSWORDS["alice"], authzid="bob")
        self.assertEqual(r.get("result"), "failed", r)

    def test_mechanisms_and_tls(self):
        self.assertEqual(self.d.ask("mechs tls").get("mechanisms"), "PLAIN LOGIN")
        self.assertEqual(self.d.ask("mechs plain").get("mechanisms"), "")
        r = self.d.auth("PLAIN", "alice", PASSWORDS["alice"], tls=False)
        self.assertEqual(r.get("result"), "encryption_required", r)


class SaslConfigured(unittest.TestCase):
    """The sasl section of dirmail.conf reaches the glue."""

    @classmethod
    def setUpClass(cls):
        cls.folder = process.tempdir()
        cls.ldap = Slapd(ldif=[os.path.join(TOP_SRCDIR, "schema", "examples", "base.ldif"),
                               os.path.join(TOP_SRCDIR, "schema", "examples", "users.ldif")])

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def test_authzid_allowed_and_plaintext_without_tls(self):
        d = Driver(write_conf(self.folder, self.ldap,
                              'mechanisms = [ "LOGIN", "CRAM-MD5", "PLAIN" ]; '
                              "allow_authzid = true; plaintext_without_tls = true;"))
        try:
            self.assertEqual(d.ask("mechs plain").get("mechanisms"), "LOGIN PLAIN")
            r = d.auth("PLAIN", "alice", PASSWORDS["alice"], authzid="bob", tls=False)
            self.assertEqual((r.get("result"), r.get("user"), r.get("authid")),
                             ("ok", "bob", "alice"), r)
            self.assertIn("event=sasl_mechanism_skipped mechanism=CRAM-MD5", d.log())
        finally:
            self.assertEqual(d.close(), 0)

    def test_outage_is_tempfail_not_bad_password(self):
        ldap = Slapd(ldif=[os.path.join(TOP_SRCDIR, "schema", "examples", "base.ldif"),
                           os.path.join(TOP_SRCDIR, "schema", "examples", "users.ldif")])
        d = Driver(write_conf(self.folder, ldap))
        try:
            r = d.auth("PLAIN", "alice", PASSWORDS["alice"])
            self.assertEqual(r.get("result"), "ok", r)
            ldap.stop()
            for mech, ir in (("PLAIN", True), ("PLAIN", False), ("LOGIN", False)):
                t0 = time.monotonic()
                r = d.auth(mech, "alice", PASSWORDS["alice"], ir=ir)
                self.assertEqual(r.get("result"), "tempfail", (mech, r))
                self.assertLess(time.monotonic() - t0, 5)
            ldap.start()
            # Bounded: the directory client retries a server that was down
            # only when its backoff interval (up to 5 s) is over.
            deadline = time.monotonic() + 10
            while True:
                r = d.auth("LOGIN", "alice", PASSWORDS["alice"], ir=False)
                if r.get("result") != "tempfail" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(r.get("result"), "ok", r)
        finally:
            rc = d.close()
            ldap.stop()
        self.assertEqual(rc, 0)
        self.assertNotIn(PASSWORDS["alice"], d.log())


if __name__ == "__main__":
    harness.tap.main()
