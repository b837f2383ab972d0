#!/usr/bin/env python3
"""queue_commit_survives_sigkill: a process committing messages to the spool
in a loop is killed with SIGKILL at random moments. Every id it printed
(printed only after queue_msg_commit returned, i.e. after the 250 could have
been sent) must be in the spool, complete and loadable; no incomplete
message may ever be visible to queue_scan; cleanup removes only the debris
of unacknowledged messages."""
import os
import random
import signal
import subprocess
import time
import unittest

import harness.process
import harness.tap

BUILD = os.environ.get("top_builddir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
WRITER = os.path.join(BUILD, "tests", "queue_crash_writer")


def run_tool(mode, spool):
    """Run the writer in check or cleanup mode; (exit status, stdout lines)."""
    proc = subprocess.run([WRITER, mode, spool], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def scanned(lines):
    """{id: seq} from check output, failing on any BAD line."""
    result = {}
    for line in lines:
        parts = line.split()
        if parts[0] == "BAD":
            raise AssertionError("half or corrupt message visible: " + line)
        result[parts[0]] = int(parts[2])
    return result


class QueueCrashTest(unittest.TestCase):
    def test_sigkill_at_random_points_loses_nothing_acknowledged(self):
        self.assertTrue(os.access(WRITER, os.X_OK), WRITER + " not built")
        spool = os.path.join(harness.process.tempdir(), "queue")
        rng = random.Random(os.environ.get("DIRMAIL_SEED", str(time.time())))
        acknowledged = {}
        for round_no in range(6):
            proc = harness.process.spawn([WRITER, "write", spool], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.05, 0.6))
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
            harness.process.stop(proc)
            self.assertEqual(proc.returncode, -signal.SIGKILL, err.decode(errors="replace"))
            # A line cut by the kill is not an acknowledgement.
            for line in out.decode().split("\n")[:-1]:
                qid, seq = line.split()
                acknowledged[qid] = int(seq)
            status, lines, err = run_tool("check", spool)
            found = scanned(lines)
            self.assertEqual(status, 0, err)
            missing = set(acknowledged) - set(found)
            self.assertFalse(missing, f"round {round_no}: acknowledged ids lost: {sorted(missing)[:5]}")
            for qid, seq in acknowledged.items():
                self.assertEqual(found[qid], seq, qid)
        self.assertGreater(len(acknowledged), 0, "the writer never committed anything")

        # Debris of the killed commits goes at once (its writer is dead:
        # no grace to wait out); every message stays.
        status, lines, err = run_tool("cleanup", spool)
        self.assertEqual(status, 0, err)
        self.assertEqual(os.listdir(os.path.join(spool, "tmp")), [])
        status, lines, err = run_tool("check", spool)
        self.assertEqual(status, 0, err)
        found = scanned(lines)
        self.assertTrue(set(acknowledged) <= set(found))
        names = os.listdir(os.path.join(spool, "active"))
        self.assertEqual(sorted(names), sorted(found), "orphan files left in active/")


if __name__ == "__main__":
    harness.tap.main()
