#!/usr/bin/env python3
"""test_sieve_check.py - "dirmailctl sieve check" and "sieve test" as an
administrator meets them: "FILE: ok" and exit 0 for a good script, each
error as FILE:LINE:COLUMN: message and exit 65 for a broken one, 66 for a
missing file, and the actions of a run on a fixture message."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402

TOP = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("top_builddir") or TOP
DIRMAILCTL = os.path.join(BUILD, "tools", "dirmailctl")
FIXTURES = os.path.join(TOP, "tests", "fixtures", "sieve")


@unittest.skipUnless(os.path.exists(DIRMAILCTL), "dirmailctl not built")
class SieveCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dirmail-sieve-check.")

    def tearDown(self):
        self.tmp.cleanup()

    def script(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ctl(self, *args):
        # no -c: sieve needs no configuration (the default file need not exist)
        return subprocess.run([DIRMAILCTL, "sieve", *args], capture_output=True, text=True,
                              timeout=60)

    def test_good_script_is_ok(self):
        good = self.script("good.sieve", 'require "fileinto";\nfileinto "Lists";\n')
        r = self.ctl("check", good)
        self.assertEqual((r.returncode, r.stdout), (0, f"{good}: ok\n"), r.stderr)

    def test_broken_script_gives_line_and_column(self):
        bad = self.script("bad.sieve", 'require "fileinto";\n\nif header :is "a" "b" {\n'
                                       '  frobnicate;\n}\n')
        r = self.ctl("check", bad)
        self.assertEqual(r.returncode, 65)
        self.assertEqual(r.stdout, f'{bad}:4:3: unknown command "frobnicate"\n')

    def test_warning_is_printed_and_the_script_ok(self):
        doubtful = self.script("doubtful.sieve",
                               'if address :is ["to", "X-Spam"] "a@b" {\n  keep;\n}\n')
        r = self.ctl("check", doubtful)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         [f'{doubtful}:1:16: warning: address: "X-Spam" holds no addresses '
                          "(RFC 5228 5.1)", f"{doubtful}: ok"])

    def test_each_file_is_reported(self):
        good = self.script("good.sieve", "keep;\n")
        bad = self.script("bad.sieve", "keep\n")
        r = self.ctl("check", good, bad)
        self.assertEqual(r.returncode, 65)
        self.assertEqual(r.stdout.splitlines(),
                         [f"{good}: ok", f"{bad}:2:1: expected ';' or '{{' after the command's "
                          "arguments, found end of script"])

    def test_missing_file_is_66(self):
        r = self.ctl("check", os.path.join(self.tmp.name, "none.sieve"))
        self.assertEqual(r.returncode, 66)
        self.assertIn("No such file", r.stderr)

    def test_usage(self):
        self.assertEqual(self.ctl().returncode, 64)
        self.assertEqual(self.ctl("frob").returncode, 64)
        self.assertEqual(self.ctl("test", "only-one").returncode, 64)

    def test_run_prints_actions(self):
        s = self.script("t.sieve", 'require ["variables", "fileinto", "imap4flags"];\n'
                                   'if header :matches "subject" "[*] *" {\n'
                                   '  addflag "\\\\Seen";\n  fileinto "lists.${1}";\n}\n')
        r = self.ctl("test", "-f", "alice@example.com", "-t", "me@example.org", s,
                     os.path.join(FIXTURES, "plain.eml"))
        self.assertEqual((r.returncode, r.stdout),
                         (0, "fileinto\tlists.acme-users\tflags=\\seen\n"), r.stderr)

    def test_runtime_error_keeps(self):
        s = self.script("t.sieve", 'redirect "not an address";\n')
        r = self.ctl("test", "-f", "alice@example.com", s, os.path.join(FIXTURES, "plain.eml"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.splitlines()[1:], ["keep\tINBOX\timplicit"])
        self.assertTrue(r.stdout.startswith("error\tline 1: redirect:"))


if __name__ == "__main__":
    harness.tap.main()
