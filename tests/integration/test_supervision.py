#!/usr/bin/env python3
"""test_supervision.py - the master's hold on its pid file: the file is
locked for the master's whole life, so only a running dirmaild refuses a
start; a stale file left by kill -9, whose number now belongs to another
live process, does not block the next start."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import Dirmaild  # noqa: E402


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


if __name__ == "__main__":
    harness.tap.main()
