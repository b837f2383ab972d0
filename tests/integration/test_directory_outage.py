#!/usr/bin/env python3
"""test_directory_outage.py - a calm directory outage (issue 10 section 6),
through a real dirmaild's auth socket (tests/auth_query): with slapd stopped
or hung, every lookup is a temporary failure at once, the log says so once per
URI (not once per lookup), connections are attempted once per backoff interval,
and the return of the server is logged once with the count of lookups that
failed meanwhile. With two URIs, the one that works serves."""
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from test_auth_socket import AUTH_QUERY, query, query_async  # noqa: E402

LDAP_TIMEOUT = 2  # ldap.timeout, seconds: how long a hung server holds one lookup
LOOKUPS = 200


class HungServer:
    """Accepts TCP connections and never answers (a server whose process
    hangs, or a firewall that swallows replies); counts the connections."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.uri = "ldap://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read or written

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


def start_dirmaild(uris, base, bind_dn, bind_password):
    # No cache: every lookup below must reach the directory client.
    d = Dirmaild(workers=1, ldap={
        "uris": uris, "bind_dn": bind_dn, "bind_password": bind_password, "base": base,
        "connect_timeout": 1, "timeout": LDAP_TIMEOUT, "pool_size": 4},
        domains={"local": ["example.org", "example.net"]},
        cache={"positive_ttl": 0, "negative_ttl": 0, "auth_ttl": 0, "stale_ttl": 0})
    d.start(wait=False)
    d.wait_log(r"event=auth_started", timeout=20)
    return d


def lookups(sock, requests, timeout_ms=30000):
    """query_async in rounds of 50 (auth_query pipelines at most 64)."""
    out = []
    for i in range(0, len(requests), 50):
        out += query_async(sock, requests[i:i + 50], timeout_ms=timeout_ms)
    return out


def lines_with(text, needle):
    return [line for line in text.splitlines() if needle in line]


@unittest.skipUnless(built() and os.access(AUTH_QUERY, os.X_OK), "dirmaild/auth_query not built")
class DirectoryOutage(unittest.TestCase):

    def setUp(self):
        self.servers = []
        self.d = None
        self.counter = 0

    def tearDown(self):
        status = self.d.stop() if self.d is not None else 0
        for s in self.servers:
            s.close()
        if self.d is not None:
            self.assertEqual(self.d.sanitizer_errors(), [])
            self.assertEqual(status, 0, self.d.log())

    def slapd(self):
        s = Slapd()
        self.servers.append(s)
        return s

    def hung(self):
        h = HungServer()
        self.servers.append(h)
        return h

    def addresses(self, n):
        """n addresses never asked before (nothing to serve from any cache)."""
        out = []
        for _ in range(n):
            self.counter += 1
            out.append(["RESOLVE", f"nobody-{self.counter}@example.org"])
        return out

    def wait_answered(self, timeout=15.0):
        """Poll (bounded) until the directory answers a fresh lookup again."""
        deadline = time.monotonic() + timeout
        while True:
            a = query(self.d_sock, *self.addresses(1)[0], timeout_ms=LDAP_TIMEOUT * 2000)
            if a.status == "NOTFOUND" or time.monotonic() > deadline:
                return a
            time.sleep(0.05)

    @property
    def d_sock(self):
        return os.path.join(self.d.sections["server"]["state_dir"], "auth.sock")

    def test_slapd_stopped_tempfails_and_logs_once(self):
        ldap = self.slapd()
        self.d = start_dirmaild([ldap.uri], ldap.suffix, ldap.service_dn, ldap.service_password)
        self.assertEqual(query(self.d_sock, *self.addresses(1)[0]).status, "NOTFOUND")
        ldap.stop()
        offset = len(self.d.log())
        answers = lookups(self.d_sock, self.addresses(LOOKUPS))
        self.assertEqual(len(answers), LOOKUPS)
        statuses = {status for _, _, status, _ in answers}
        self.assertEqual(statuses, {"TEMPFAIL"}, answers[:5])
        log = self.d.log()[offset:]
        self.assertEqual(len(lines_with(log, f"event=ldap_unreachable uri={ldap.uri} ")), 1, log)
        self.assertLess(len(lines_with(log, ldap.uri)), 5, log)

        ldap.start()
        back = self.wait_answered()
        self.assertEqual(back.status, "NOTFOUND", back)
        m = self.d.wait_log(rf"event=ldap_reachable uri={re.escape(ldap.uri)} "
                            r"down_for=([0-9.]+)s failed_lookups=(\d+)", start=offset)
        self.assertGreaterEqual(int(m.group(2)), LOOKUPS, m.group(0))
        log = self.d.log()[offset:]
        self.assertEqual(len(lines_with(log, "event=ldap_reachable ")), 1, log)
        self.assertLess(len(lines_with(log, ldap.uri)), 6, log)

    def test_hung_server_tempfails_within_timeout_and_logs_once(self):
        h = self.hung()
        self.d = start_dirmaild([h.uri], "dc=example,dc=org", "cn=dirmail,dc=example,dc=org",
                                "secret")
        offset = len(self.d.log())
        n = 50
        t0 = time.monotonic()
        answers = lookups(self.d_sock, self.addresses(n))
        elapsed = time.monotonic() - t0
        self.assertEqual(len(answers), n)
        self.assertEqual({status for _, _, status, _ in answers}, {"TEMPFAIL"}, answers[:5])
        # Only the lookups that ran into the hung server wait for the
        # timeout; the others fail at once.
        slowest = max(ms for _, ms, _, _ in answers)
        self.assertLess(slowest, (LDAP_TIMEOUT + 2) * 1000, answers)
        self.assertLess(elapsed, 2 * LDAP_TIMEOUT + 4, answers)
        # One connection per backoff interval (0.1 s doubling), not one per lookup.
        self.assertLess(len(h.accepted), 10, len(h.accepted))
        log = self.d.log()[offset:]
        self.assertEqual(len(lines_with(log, f"event=ldap_unreachable uri={h.uri} ")), 1, log)
        self.assertLess(len(lines_with(log, h.uri)), 5, log)

    def test_two_uris_each_has_its_own_state(self):
        h = self.hung()
        ldap = self.slapd()
        self.d = start_dirmaild([h.uri, ldap.uri], ldap.suffix, ldap.service_dn,
                                ldap.service_password)
        offset = len(self.d.log())
        answers = lookups(self.d_sock, self.addresses(LOOKUPS))
        # The reachable server answers every lookup; the hung one costs at
        # most one timeout.
        self.assertEqual({status for _, _, status, _ in answers}, {"NOTFOUND"}, answers[:5])
        self.assertLess(max(ms for _, ms, _, _ in answers), (LDAP_TIMEOUT + 2) * 1000, answers)
        self.assertLess(len(h.accepted), 10, len(h.accepted))
        log = self.d.log()[offset:]
        self.assertEqual(len(lines_with(log, f"event=ldap_unreachable uri={h.uri} ")), 1, log)
        self.assertEqual(lines_with(log, f"event=ldap_unreachable uri={ldap.uri} "), [], log)
        # The second goes down too: now every lookup fails, calmly.
        ldap.stop()
        offset = len(self.d.log())
        answers = lookups(self.d_sock, self.addresses(LOOKUPS))
        self.assertEqual({status for _, _, status, _ in answers}, {"TEMPFAIL"}, answers[:5])
        log = self.d.log()[offset:]
        self.assertEqual(len(lines_with(log, f"event=ldap_unreachable uri={ldap.uri} ")), 1, log)
        self.assertLess(len(lines_with(log, ldap.uri)), 5, log)
        self.assertLess(len(lines_with(log, h.uri)), 5, log)
        ldap.start()
        self.assertEqual(self.wait_answered().status, "NOTFOUND")
        self.d.wait_log(rf"event=ldap_reachable uri={re.escape(ldap.uri)} ", start=offset)


if __name__ == "__main__":
    harness.tap.main()
