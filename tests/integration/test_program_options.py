#!/usr/bin/env python3
"""test_program_options.py - every program a user runs answers --help with
its usage on stdout and exit 0, and --version with the package version; an
unknown option is a usage error (exit 2, or 64 for dirmailctl)."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402

BUILD = os.environ.get("top_builddir", "")
TOP = os.environ.get("top_srcdir", "")
PROGRAMS = {  # program -> exit status of an unknown option
    "gateway/dirmaild": 2,
    "tools/dirmailctl": 64,
    "auth/dirmail-auth": 2,
}


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def package_version():
    with open(os.path.join(TOP, "configure.ac"), encoding="utf-8") as f:
        return re.search(r"AC_INIT\(\[dirmail\], \[([^]]+)\]", f.read()).group(1)


class ProgramOptions(unittest.TestCase):
    def test_help_prints_usage_and_exits_0(self):
        for prog in PROGRAMS:
            for flag in ("--help", "-h"):
                with self.subTest(prog=prog, flag=flag):
                    r = run(os.path.join(BUILD, prog), flag)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertIn("usage:", r.stdout)

    def test_version_prints_the_package_version(self):
        version = package_version()
        for prog in PROGRAMS:
            with self.subTest(prog=prog):
                r = run(os.path.join(BUILD, prog), "--version")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stdout, r"^%s \(dirmail\) %s\n$" % (
                    re.escape(os.path.basename(prog)), re.escape(version)))

    def test_unknown_option_is_a_usage_error(self):
        for prog, status in PROGRAMS.items():
            with self.subTest(prog=prog):
                r = run(os.path.join(BUILD, prog), "--no-such-option")
                self.assertEqual(r.returncode, status)
                self.assertIn("usage:", r.stderr)

    def test_scripts_answer_help(self):
        for script in ("tools/quickstart", "tools/test"):
            with self.subTest(script=script):
                r = run(os.path.join(TOP, script), "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(os.path.basename(script), r.stdout)


if __name__ == "__main__":
    harness.tap.main()
