#!/usr/bin/env python3
"""test_sieve_limits.py - the configuration's sieve section (conf/conf.h
struct config_sieve) takes effect where scripts run and are accepted, with
a real slapd and dirmaild: lowered max_redirects and max_nesting are what
ManageSieve announces (MAXREDIRECTS) and enforces (PUTSCRIPT refuses a
script nested deeper), and what delivery enforces (two redirects under
max_redirects = 1 are a runtime error: the message is kept in INBOX, not
redirected), and dirmailctl -c CONFIG sieve check says so too; dirmaild -n prints the section and refuses a value out of
range with its name."""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import DIRMAILD, TOP_BUILDDIR, Dirmaild, built  # noqa: E402
import test_managesieve  # noqa: E402
from harness.pop3 import Pop3Fixture  # noqa: E402

DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")
TWO_REDIRECTS = b'redirect "rita@example.org";\r\nredirect "ruth@example.org";\r\n'
# nesting (delivery/sieve/sieve_parse.c): a top-level command is level 0,
# each test inside it one more: DEEP reaches 4, SHALLOW 3 (the limit)
DEEP = b'if anyof (not anyof (not exists "x")) { keep; }\r\n'
SHALLOW = b'if anyof (not exists "x") { keep; }\r\n'


@unittest.skipUnless(built(), "dirmaild not built")
class SieveLimits(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.f = Pop3Fixture(services_extra=[{"type": "managesieve"}],
                            sieve={"max_redirects": 1, "max_nesting": 3})
        cls.d = cls.f.d

    # test_managesieve's fixture helpers, not its tests
    tearDownClass = classmethod(test_managesieve.ManageSieveService.tearDownClass.__func__)
    connect = test_managesieve.ManageSieveService.connect
    _login = test_managesieve.ManageSieveService.login

    def login(self, name):
        self.f.add_user(name, name + "-pw")
        return self._login(name)

    def test_managesieve_announces_and_enforces_the_limits(self):
        c = self.login("lmsieve")
        self.assertEqual(c.capabilities["MAXREDIRECTS"], "1")
        r = c.command("PUTSCRIPT", "deep", c.literal(DEEP))
        self.assertEqual(r.status, "NO", r)
        self.assertRegex(r.text or "", r"(?i)nest", r)
        r = c.command("PUTSCRIPT", "shallow", c.literal(SHALLOW))
        self.assertEqual(r.status, "OK", r)

    def test_delivery_over_max_redirects_keeps_the_message(self):
        c = self.login("lmredir")
        self.assertEqual(c.command("PUTSCRIPT", "two", c.literal(TWO_REDIRECTS)).status, "OK")
        self.assertEqual(c.command("SETACTIVE", "two").status, "OK")
        self.f.send("lmredir@example.org",
                    b"From: <s@remote.example>\r\nSubject: two\r\nX-Marker: lm-two\r\n\r\nHi.\r\n")
        self.d.wait_log(r"event=sieve_runtime_error rcpt=lmredir@example.org")
        root = self.f.maildir("lmredir")
        kept = [p for p in glob.glob(os.path.join(root, "new", "*"))
                if b"X-Marker: lm-two" in open(p, "rb").read()]
        self.assertEqual(len(kept), 1, os.listdir(root))
        self.assertNotRegex(self.d.log(), r"event=sieve_redirect\b.*rcpt=lmredir@")

    def check(self, sieve):
        d = Dirmaild(services=[{"type": "smtp"}], sieve=sieve)
        d.write()
        return subprocess.run([DIRMAILD, "-n", "-c", d.path], capture_output=True, text=True,
                              timeout=30)

    def test_dirmaild_n_prints_and_checks_the_section(self):
        p = self.check({"max_actions": 5, "max_steps": 20000})
        self.assertEqual(p.returncode, 0, p.stderr)
        section = re.search(r"(?s)\nsieve = \{\n(.*?)\};", p.stdout)
        self.assertIsNotNone(section, p.stdout)
        self.assertIn("max_actions = 5;", section.group(1))
        self.assertIn("max_steps = 20000;", section.group(1))
        self.assertIn("max_redirects = 4;", section.group(1))  # the engine's default
        for bad in ({"max_nesting": 0}, {"max_redirects": 65}, {"max_string_size": 10},
                    {"max_speed": 1}):
            p = self.check(bad)
            self.assertNotEqual(p.returncode, 0, (bad, p.stdout))
            self.assertIn(next(iter(bad)), p.stderr, bad)

    def test_dirmailctl_checks_under_the_configured_limits(self):
        path = os.path.join(process.tempdir("sieve-limits-"), "deep.sieve")
        with open(path, "wb") as f:
            f.write(DEEP)
        # without a configuration: the engine's defaults (nesting 32)
        p = subprocess.run([DIRMAILCTL, "sieve", "check", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, f"{path}: ok"), p.stderr)
        # with dirmaild's: max_nesting = 3, as ManageSieve and delivery see it
        p = subprocess.run([DIRMAILCTL, "-c", self.d.path, "sieve", "check", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 65, p.stdout + p.stderr)
        self.assertRegex(p.stdout, rf"^{re.escape(path)}:1:\d+: nested deeper than 3 levels")


if __name__ == "__main__":
    harness.tap.main()
