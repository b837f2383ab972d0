#!/usr/bin/env python3
"""test_deadlines.py - deadlines a slow client cannot stretch (lib/conn.h,
proto/service_deadlines.h) behind a real dirmaild and a real slapd: a
command line sent one byte at a time is cut before it completes; DATA and a
BDAT chunk trickled below data_min_rate are cut at data_timeout, while a
message sent at an honest rate outlives data_timeout; and overload mode
shrinks the deadlines of every connection once the service's connections
reach overload_threshold, logged once when it starts and once when it ends.

The clients pace their own bytes (that is what is tested: a slow client);
the server's doing is always waited for, never slept for."""
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import Raw  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

IDLE = 2          # idle_timeout of the slow services, seconds
DATA = 2          # data_timeout
MIN_RATE = 4096   # data_min_rate, bytes/s
WINDOW = 1        # data_rate_window


def trickle(r, data, pace):
    """Send data one byte every pace seconds; the number of bytes sent before
    the server closed (or all of them)."""
    for i, byte in enumerate(data):
        try:
            r.s.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return i
        time.sleep(pace)
        if server_spoke(r):
            return i + 1
    return len(data)


def server_spoke(r):
    """True when the server has sent something (or closed) without blocking."""
    r.s.setblocking(False)
    try:
        chunk = r.s.recv(65536)
        if chunk == b"":
            r.buf += b"<EOF>"
            return True
        r.buf += chunk
        return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        r.buf += b"<RST>"
        return True
    finally:
        r.s.setblocking(True)
        r.s.settimeout(30)


@unittest.skipUnless(built(), "dirmaild not built")
class Deadlines(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        slow = {"idle_timeout": IDLE, "data_timeout": DATA, "data_min_rate": MIN_RATE,
                "data_rate_window": WINDOW, "overload_threshold": 0}
        cls.d = Dirmaild(
            services=[dict(slow, type="smtp", name="smtp-slow"),
                      {"type": "submission", "name": "sub-load", "max_connections": 10,
                       "overload_threshold": 30, "idle_timeout": 60,
                       "overload_idle_timeout": 1}],
            workers=2,
            ldap=cls.ldap.settings(),
            domains={"local": ["example.org"]},
            limits={"message_size": 10_000_000, "pregreet_wait": 0})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.ldap.stop()

    def transaction(self):
        r = Raw(self.d.port("smtp-slow"))
        self.addCleanup(r.close)
        self.assertTrue(r.cmd("EHLO slow.test").startswith(b"250"))
        self.assertTrue(r.cmd("MAIL FROM:<s@example.com>").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<alice@example.org>").startswith(b"250"))
        return r

    def test_command_line_one_byte_at_a_time_is_cut_before_it_ends(self):
        r = Raw(self.d.port("smtp-slow"))
        self.addCleanup(r.close)
        offset = len(self.d.log())
        line = b"NOOP " + b"x" * 40 + b"\r\n"
        # 0.25 s a byte: the line would take 11.5 s, IDLE is 2 s
        sent = trickle(r, line, 0.25)
        self.assertLess(sent, len(line), "the whole line got through")
        self.assertTrue(r.reply().startswith(b"421 4.4.2"), r.buf)
        self.assertTrue(r.closed())
        self.d.wait_log(r'event=timeout client=127\.0\.0\.1 reason="idle timeout" state=greeted',
                        start=offset)

    def test_complete_commands_each_get_a_whole_deadline(self):
        # Commands sent at once, each well within IDLE, for longer than IDLE
        # in all: the deadline is per line, not per session.
        r = Raw(self.d.port("smtp-slow"))
        self.addCleanup(r.close)
        started = time.monotonic()
        while time.monotonic() - started < IDLE * 2:
            self.assertTrue(r.cmd("NOOP").startswith(b"250"))
            time.sleep(IDLE / 4)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))

    def test_data_trickle_is_cut_at_data_timeout(self):
        r = self.transaction()
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        offset = len(self.d.log())
        body = b"Subject: slow\r\n\r\n" + b"y" * 200 + b"\r\n.\r\n"
        # 20 bytes/s for 11 s, far below MIN_RATE: cut after DATA seconds
        sent = trickle(r, body, 0.05)
        self.assertLess(sent, len(body), "the trickled message got through")
        self.assertTrue(r.reply().startswith(b"421 4.4.2"), r.buf)
        self.d.wait_log(r'reason="data timeout" state=data', start=offset)

    def test_bdat_chunk_trickle_is_cut_at_data_timeout(self):
        r = self.transaction()
        offset = len(self.d.log())
        chunk = b"Subject: slow\r\n\r\n" + b"z" * 200 + b"\r\n"
        r.send(b"BDAT %d LAST\r\n" % len(chunk))
        sent = trickle(r, chunk, 0.05)
        self.assertLess(sent, len(chunk), "the trickled chunk got through")
        self.assertTrue(r.reply().startswith(b"421 4.4.2"), r.buf)
        self.d.wait_log(r'reason="data timeout" state=bdat', start=offset)

    def test_message_at_an_honest_rate_outlives_data_timeout(self):
        r = self.transaction()
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        line = b"w" * 998 + b"\r\n"
        r.send(b"Subject: honest\r\n\r\n")
        started = time.monotonic()
        # 4 lines (4 KB) every 0.1 s = 40 KB/s, ten times MIN_RATE, for
        # twice DATA seconds
        while time.monotonic() - started < DATA * 2:
            r.send(line * 4)
            time.sleep(0.1)
        answer = r.cmd(".")
        self.assertTrue(answer.startswith(b"250 2.0.0"), answer)

    def test_overload_shrinks_idle_deadline_and_is_logged_once(self):
        offset = len(self.d.log())
        # overload_threshold 30 % of 10: the third connection starts it, and
        # it lasts while 2 remain (below 20 % it ends). Two busy clients keep
        # the service overloaded while two idle ones are cut, whichever
        # worker holds them (a worker sees the others' load within 1 s).
        busy = [Raw(self.d.port("sub-load")) for _ in range(2)]
        idle = [Raw(self.d.port("sub-load")) for _ in range(2)]
        for r in busy + idle:
            self.addCleanup(r.close)
        self.d.wait_log(r"event=overload_begin service=sub-load connections=3 "
                        r"max_connections=10 idle_timeout=1", start=offset)
        # idle_timeout is 60 s; overloaded, 1 s: the idle clients are cut
        limit = time.monotonic() + 30
        while not all(r.buf for r in idle) and time.monotonic() < limit:
            for r in busy:
                self.assertTrue(r.cmd("NOOP").startswith(b"250"), r.buf)
            for r in idle:
                if not r.buf:
                    server_spoke(r)
            time.sleep(0.2)
        for r in idle:
            self.assertTrue(r.buf.startswith(b"421 4.4.2"), r.buf)
        for r in busy:
            self.assertTrue(r.cmd("QUIT").startswith(b"221"))
            r.close()
        self.d.wait_log(r"event=overload_end service=sub-load connections=\d+ duration=",
                        start=offset)
        # A quiet service again: the normal deadline holds.
        r = Raw(self.d.port("sub-load"))
        self.addCleanup(r.close)
        self.assertFalse(server_spoke_within(r, 2.5))
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))
        log = self.d.log()[offset:]
        self.assertEqual(len(re.findall(r"event=overload_begin", log)), 1, log)
        self.assertEqual(len(re.findall(r"event=overload_end", log)), 1, log)


def server_spoke_within(r, seconds):
    """True when the server sends something within seconds (a bounded wait
    for something that must not happen)."""
    r.s.settimeout(seconds)
    try:
        chunk = r.s.recv(65536)
        r.buf += chunk if chunk else b"<EOF>"
        return True
    except socket.timeout:
        return False
    finally:
        r.s.settimeout(30)


if __name__ == "__main__":
    harness.tap.main()
