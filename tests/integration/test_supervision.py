#!/usr/bin/env python3
"""test_supervision.py - the master's hold on its pid file: the file is
locked for the master's whole life, so only a running dirmaild refuses a
start; a stale file left by kill -9, whose number now belongs to another
live process, does not block the next start."""
import os
import signal
import smtplib
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402


def dead(pid):
    """True when pid has exited (a zombie its frozen parent has not reaped)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" in f.read()
    except FileNotFoundError:
        return True


def read(path):
    with open(path) as f:
        return f.read()


class PidFile(unittest.TestCase):
    def test_stale_pid_file_naming_a_live_process_does_not_block_the_start(self):
        d = Dirmaild()
        pid_file = d.sections["server"]["pid_file"]
        # The number of a live process that is not dirmaild (this test):
        # what a pid file left by kill -9 names once the pid is reused.
        with open(pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
        with d:
            self.assertEqual(read(pid_file), f"{d.pid}\n")
        self.assertFalse(os.path.exists(pid_file))

    def test_second_dirmaild_on_the_same_pid_file_is_refused(self):
        with Dirmaild() as first:
            pid_file = first.sections["server"]["pid_file"]
            second = Dirmaild(server={"pid_file": pid_file})
            second.start(wait=False)
            status = second.proc.wait(timeout=30)
            self.assertNotEqual(status, 0)
            self.assertIn(f"dirmaild is already running as pid {first.pid}",
                          read(second.log_path))
            # The refused start left the running master's file alone.
            self.assertEqual(read(pid_file), f"{first.pid}\n")
            self.assertTrue(first.running())

    def test_pid_file_after_kill_9_is_taken_over(self):
        d = Dirmaild()
        pid_file = d.sections["server"]["pid_file"]
        d.start()
        old = d.pid
        d.kill_all()
        self.assertEqual(read(pid_file), f"{old}\n", "kill -9 leaves the file behind")
        d.restart()
        try:
            self.assertEqual(read(pid_file), f"{d.pid}\n")
        finally:
            d.stop()


@unittest.skipUnless(built(), "dirmaild not built")
class AuthDown(unittest.TestCase):
    """While the auth process is down, every reply that needs it is
    temporary (4xx), never 5xx: mail is deferred, not bounced."""

    def test_replies_are_temporary_while_auth_is_down(self):
        ldap = Slapd()
        self.addCleanup(ldap.stop)
        d = Dirmaild(workers=1,
                     ldap=ldap.settings(),
                     domains={"local": ["example.org"]},
                     limits={"pregreet_wait": 0},
                     cache={"positive_ttl": 0, "negative_ttl": 0, "auth_ttl": 0,
                            "stale_ttl": 0})
        d.start()
        self.addCleanup(d.stop)
        auth = d.children()["auth"][0]
        master = types.SimpleNamespace(pid=d.pid)
        # The master frozen, the killed auth process is not restarted: the
        # auth process stays down for as long as the test needs.
        process.freeze(master)
        try:
            os.kill(auth, signal.SIGKILL)
            wait_for(lambda: dead(auth), timeout=10, what="auth process dead")
            s = smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=60)
            s.ehlo("c.test")
            self.assertEqual(s.mail("x@example.com")[0], 250)
            for rcpt in ("alice@example.org", "no-such-user@example.org"):
                code, text = s.rcpt(rcpt)
                self.assertTrue(400 <= code < 500, (rcpt, code, text))
                self.assertRegex(text, rb"^4\.\d\.\d", (rcpt, text))
            s.quit()
        finally:
            process.thaw(master)
        d.wait_log(rf"event=child_exit child=auth pid={auth} signal=9")
        d.wait_children(exclude=[auth])
        s = smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=60)
        s.ehlo("c.test")
        s.mail("x@example.com")
        self.assertEqual(s.rcpt("alice@example.org")[0], 250)
        self.assertEqual(s.rcpt("no-such-user@example.org")[0], 550)
        s.quit()


if __name__ == "__main__":
    harness.tap.main()
