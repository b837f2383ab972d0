#!/usr/bin/env python3
"""dirmaild's process model, proven from outside with real sockets: the
master binds every address of every service (IPv4 and IPv6), the workers
answer each service type with its protocol's words, the shared connection
limits refuse with the protocol's refusal while the counted connections stay
counted, dead children come back, SIGHUP reloads (or keeps the old
configuration when the new one is broken), SIGTERM stops cleanly, and as
root every child runs as the unprivileged user."""
import os
import re
import pwd
import grp
import socket
import ssl
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
import harness.certs  # noqa: E402
import harness.process  # noqa: E402
import harness.tap  # noqa: E402
from harness.dirmaild import DIRMAILD, Dirmaild, built  # noqa: E402

HOST = "mx.test.example"
# The first line each protocol sends to an accepted client: SMTP, POP3, IMAP
# and LMTP (to a trusted client) are all served.
GREETING = {
    "smtp": re.escape(f"220 {HOST} ESMTP dirmail") + r"\r\n\Z",
    "pop3": re.escape("+OK dirmail POP3 server ready") + r"\r\n\Z",
    "imap": r"\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] dirmail IMAP server ready\r\n\Z",
    "lmtp": re.escape(f"220 {HOST} LMTP dirmail") + r"\r\n\Z",
}


def greets(line, protocol):
    """Whether line is protocol's first line to an accepted client."""
    return re.match(GREETING[protocol], line) is not None
BUSY = {
    "smtp": f"421 4.7.0 {HOST} Too many connections, try again later",
    "pop3": "-ERR [SYS/TEMP] Too many connections",
    "imap": "* BYE [UNAVAILABLE] Too many connections",
}
PROTOCOL = {"smtp": "smtp", "submission": "smtp", "submissions": "smtp", "lmtp": "lmtp",
            "pop3": "pop3", "pop3s": "pop3", "imap": "imap", "imaps": "imap"}


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def connect(host, port, source=None, tls_ca=None, timeout=10.0):
    """A connected socket (TLS-wrapped when tls_ca is given), from source."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source is not None:
        s.bind((source, 0))
    s.connect((host, port))
    if tls_ca is not None:
        ctx = ssl.create_default_context(cafile=tls_ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def read_line(s):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def first_line(host, port, **kwargs):
    with connect(host, port, **kwargs) as s:
        return read_line(s)


class DaemonCase(unittest.TestCase):
    """Each test gets its own dirmaild; the log is checked for sanitizer
    reports when it stops."""

    daemon = None

    def start(self, **kwargs):
        self.daemon = Dirmaild(**kwargs).start()
        return self.daemon

    def tearDown(self):
        if self.daemon is not None:
            pid = self.daemon.pid
            self.daemon.stop()
            errors = self.daemon.sanitizer_errors()
            self.assertEqual(errors, [], self.daemon.log())
            # nothing of this dirmaild is left behind
            self.assertEqual(harness.dirmaild.children_of(pid), [])


@unittest.skipUnless(built(), "dirmaild or dirmail-auth is not built")
class Listening(DaemonCase):
    def test_one_service_on_several_ipv4_and_ipv6_addresses(self):
        hosts = ["127.0.0.1", "127.0.0.2"] + (["::1"] if have_ipv6() else [])
        d = self.start(services=[{"type": "smtp", "listen": hosts}])
        port = d.port("smtp")
        for host in hosts:
            self.assertRegex(first_line(host, port), GREETING["smtp"], host)
        self.assertRegex(d.log(),
                         r"event=connect service=smtp client=127\.0\.0\.1 .*local=127\.0\.0\.2 ")
        if have_ipv6():
            self.assertRegex(d.log(), r"event=connect service=smtp client=::1 .*local=::1 ")

    def test_each_service_type_answers_with_its_protocol(self):
        pki = harness.certs.make_ca_and_cert(os.path.join(harness.process.tempdir(), "pki"),
                                             ["localhost", "127.0.0.1"])
        types = ["smtp", "submission", "lmtp", "pop3", "imap", "submissions", "pop3s", "imaps"]
        # LMTP greets only a trusted client (its trusted_networks)
        d = self.start(services=[dict(type=t, **({"trusted_networks": ["127.0.0.1/32"]}
                                                 if t == "lmtp" else {})) for t in types],
                       tls={"cert_file": pki["cert"], "key_file": pki["key"]})
        for t in types:
            tls = t in ("submissions", "pop3s", "imaps")
            line = first_line("127.0.0.1", d.port(t), tls_ca=pki["ca"] if tls else None)
            self.assertRegex(line, GREETING[PROTOCOL[t]], t)
            self.assertRegex(d.log(), rf"event=connect service={t} client=127\.0\.0\.1 ")

    def test_check_mode_exit_codes(self):
        d = Dirmaild(services=[{"type": "imap"}])
        ok = subprocess.run([DIRMAILD, "-n", "-c", d.path], capture_output=True, text=True,
                            timeout=30)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn('type = "imap";', ok.stdout)
        d.write("server = { workers = -1; };\n")
        bad = subprocess.run([DIRMAILD, "-n", "-c", d.path], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("workers", bad.stderr)
        self.assertEqual(bad.stdout, "")
        missing = subprocess.run([DIRMAILD, "-n", "-c", d.path + ".missing"],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(missing.returncode, 1)


@unittest.skipUnless(built(), "dirmaild or dirmail-auth is not built")
class Limits(DaemonCase):
    def test_per_ip_limit_refuses_with_each_protocols_words(self):
        d = self.start(services=[
            {"type": "smtp", "max_connections_per_ip": 2, "idle_timeout": 60},
            {"type": "pop3", "max_connections_per_ip": 1, "idle_timeout": 60},
            {"type": "imap", "max_connections_per_ip": 1, "idle_timeout": 60},
        ])
        held = []
        try:
            for name, allowed in (("smtp", 2), ("pop3", 1), ("imap", 1)):
                port = d.port(name)
                for _ in range(allowed):
                    s = connect("127.0.0.1", port)
                    self.assertRegex(read_line(s), GREETING[name])
                    held.append((name, s))
                self.assertEqual(first_line("127.0.0.1", port), BUSY[name] + "\r\n", name)
                # another client address has its own count
                self.assertRegex(first_line("127.0.0.1", port, source="127.0.0.2"),
                                 GREETING[name], name)
            self.assertRegex(d.log(), r"event=refuse service=pop3 client=127\.0\.0\.1 "
                                      r"reason=per-ip-limit")
            # the counted connections are still there, not reset: each keeps talking
            for name, s in held:
                if name == "smtp":
                    s.sendall(b"NOOP\r\n")
                    self.assertRegex(read_line(s), r"^250 ")
                elif name == "pop3":
                    s.sendall(b"NOOP\r\n")
                    self.assertRegex(read_line(s), r"^\+OK")
                else:
                    s.sendall(b"a NOOP\r\n")
                    self.assertRegex(read_line(s), r"^a OK")
            # closing one gives its place back
            held.pop()[1].close()
            port = d.port("imap")
            deadline = time.monotonic() + 10
            while True:
                line = first_line("127.0.0.1", port)
                if greets(line, "imap") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertRegex(line, GREETING["imap"])
        finally:
            for _, s in held:
                s.close()

    def test_service_limit_across_workers(self):
        d = self.start(services=[{"type": "smtp", "max_connections": 3,
                                  "max_connections_per_ip": 100, "idle_timeout": 60}],
                       workers=2)
        port = d.port("smtp")
        held = []
        try:
            for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
                s = connect("127.0.0.1", port, source=source)
                self.assertRegex(read_line(s), GREETING["smtp"])
                held.append(s)
            self.assertEqual(first_line("127.0.0.1", port, source="127.0.0.4"),
                             BUSY["smtp"] + "\r\n")
            self.assertRegex(d.log(), r"event=refuse service=smtp client=127\.0\.0\.4 "
                                      r"reason=service-limit")
        finally:
            for s in held:
                s.close()

    def test_implicit_tls_refusal_comes_after_the_handshake(self):
        pki = harness.certs.make_ca_and_cert(os.path.join(harness.process.tempdir(), "pki"),
                                             ["localhost"])
        d = self.start(services=[{"type": "imaps", "max_connections_per_ip": 1,
                                  "idle_timeout": 60}],
                       tls={"cert_file": pki["cert"], "key_file": pki["key"]})
        port = d.port("imaps")
        with connect("127.0.0.1", port, tls_ca=pki["ca"]) as first:
            self.assertRegex(read_line(first), GREETING["imap"])
            with connect("127.0.0.1", port, tls_ca=pki["ca"]) as second:
                self.assertIsNotNone(second.version())
                self.assertEqual(read_line(second), BUSY["imap"] + "\r\n")


@unittest.skipUnless(built(), "dirmaild or dirmail-auth is not built")
class Supervision(DaemonCase):
    def test_killed_worker_is_restarted(self):
        d = self.start(workers=2)
        before = d.children()
        victim = before["workers"][0]
        offset = len(d.log())
        os.kill(victim, 9)
        d.wait_log(rf"event=child_exit child=worker pid={victim} signal=9 .*restart_in=0ms",
                   start=offset)
        after = d.wait_children(exclude=[victim])
        self.assertEqual(after["auth"], before["auth"])
        self.assertRegex(first_line("127.0.0.1", d.port("smtp")), GREETING["smtp"])

    def test_killed_auth_process_is_restarted(self):
        d = self.start()
        before = d.children()
        victim = before["auth"][0]
        offset = len(d.log())
        os.kill(victim, 9)
        d.wait_log(rf"event=child_exit child=auth pid={victim} signal=9 .*restart_in=0ms",
                   start=offset)
        after = d.wait_children(exclude=[victim])
        self.assertEqual(sorted(after["workers"]), sorted(before["workers"]))
        d.wait_log(r"event=auth_started", start=offset)
        # the socket never went away: the new auth process answers on it (a
        # malformed request is enough to prove it speaks; doc/auth-protocol.md)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(os.path.join(d.dir, "state", "auth.sock"))
            s.sendall(b"1 NOSUCHVERB x\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
            self.assertRegex(answer, rb"^1 ERROR error=")

    def test_sighup_adds_a_service_on_a_new_port(self):
        d = self.start(services=[{"type": "smtp"}])
        smtp = d.port("smtp")
        offset = len(d.log())
        d.configure(services=[{"type": "smtp", "listen": [f"127.0.0.1:{smtp}"]},
                              {"type": "pop3"}])
        d.reload()
        d.wait_log(r"event=reload generation=2", start=offset)
        d.wait_ready(generation_log_offset=offset)
        self.assertRegex(first_line("127.0.0.1", d.port("pop3")), GREETING["pop3"])
        self.assertRegex(first_line("127.0.0.1", smtp), GREETING["smtp"])
        d.wait_log(r"event=generation_done generation=1", start=offset)
        d.wait_children()

    def test_sighup_with_a_broken_configuration_keeps_the_old_one(self):
        d = self.start(services=[{"type": "smtp"}, {"type": "imap"}])
        before = d.children()
        offset = len(d.log())
        d.write("server = { workers = \"many\"; };\n")
        d.reload()
        d.wait_log(r"event=reload_failed error=", start=offset)
        self.assertEqual(d.children(), before)
        self.assertRegex(first_line("127.0.0.1", d.port("smtp")), GREETING["smtp"])
        self.assertRegex(first_line("127.0.0.1", d.port("imap")), GREETING["imap"])

    def test_sigterm_exits_zero_and_removes_the_pid_file(self):
        d = self.start(server={"shutdown_grace": 5})
        pid_file = os.path.join(d.dir, "dirmaild.pid")
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), d.pid)
        children = d.children()
        started = time.monotonic()
        self.assertEqual(d.stop(timeout=15), 0)
        self.assertLess(time.monotonic() - started, 5)
        self.assertFalse(os.path.exists(pid_file))
        self.assertFalse(os.path.exists(os.path.join(d.dir, "state", "auth.sock")))
        for pid in children["workers"] + children["auth"]:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), pid)

    def test_sigterm_waits_for_sessions_then_kills_after_the_grace(self):
        d = self.start(server={"shutdown_grace": 2},
                       services=[{"type": "smtp", "idle_timeout": 60}])
        with connect("127.0.0.1", d.port("smtp")) as s:
            read_line(s)
            started = time.monotonic()
            self.assertEqual(d.stop(timeout=15), 0)
            took = time.monotonic() - started
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 6)
        self.assertIn("event=shutdown_grace_expired", d.log())


@unittest.skipUnless(built(), "dirmaild or dirmail-auth is not built")
@unittest.skipUnless(os.geteuid() == 0, "needs root to drop privileges")
class Privileges(DaemonCase):
    def test_children_run_as_nobody_and_the_master_stays_root(self):
        d = self.start(workers=2)
        nobody = pwd.getpwnam("nobody").pw_uid
        nogroup = grp.getgrnam("nogroup").gr_gid
        self.assertEqual(harness.dirmaild.proc_status(d.pid)["Uid"][0], 0)
        children = d.children()
        self.assertEqual(len(children["workers"]), 2)
        self.assertEqual(len(children["auth"]), 1)
        for pid in children["workers"] + children["auth"]:
            status = harness.dirmaild.proc_status(pid)
            self.assertEqual(status["Uid"], [nobody] * 4, pid)
            self.assertEqual(status["Gid"], [nogroup] * 4, pid)
        st = os.stat(os.path.join(d.dir, "state", "auth.sock"))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual((st.st_uid, st.st_gid), (nobody, nogroup))

    def test_workers_refuse_to_run_as_root(self):
        d = Dirmaild(server={"user": "root", "group": "root"}, workers=1)
        d.start(wait=False)
        self.daemon = d
        d.wait_log(r"event=privdrop_failed error=\"refusing to run as root")
        d.wait_log(r"event=child_exit child=worker pid=\d+ status=1 .*restart_in=0ms")

    def test_crash_loop_backs_off_to_restart_delay_max_and_warns_once(self):
        d = Dirmaild(server={"user": "root", "group": "root", "restart_delay_max": 400},
                     workers=1)
        d.start(wait=False)
        self.daemon = d
        pattern = (r"level=(\w+) event=child_exit child=worker pid=\d+ status=1 "
                   r"ran=\d+ms restart_in=(\d+)ms")
        deadline = time.monotonic() + 30
        while len(re.findall(pattern, d.log())) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        exits = re.findall(pattern, d.log())
        self.assertEqual([int(ms) for _, ms in exits[:6]], [0, 100, 200, 400, 400, 400])
        self.assertEqual([level for level, _ in exits[:6]],
                         ["warning", "info", "info", "info", "info", "info"])


if __name__ == "__main__":
    harness.tap.main()
