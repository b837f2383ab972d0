#!/usr/bin/env python3
"""test_queue_control.py - dirmailctl queue flush, retry, hold and release
through the running dirmaild's control socket (queue/queue_control.h,
gateway/queue_runner_control.c), with a real slapd, a real dirmaild and a
small SMTP peer (harness/smtp_peer.py) as the next hop. The retry times are
an hour, so only a flush can bring a deferred message out early: a flush
after a deferral delivers at once; a held message is never attempted, not
by a flush, not after a restart, until it is released, which delivers it;
the socket answers root and the mail user only."""
import json
import os
import pwd
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from harness.smtp_peer import SmtpPeer  # noqa: E402
from test_relay import (INJECT, inject, ldap_section, mail_ids, message, queued,  # noqa: E402
                        wait_for)

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")
LATER = "451 4.3.0 not now"


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK) and os.access(DIRMAILCTL, os.X_OK),
                     "dirmaild/queue_inject/dirmailctl not built")
class QueueControl(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.port = process.free_port()
        cls.down_port = process.free_port()
        cls.base = os.path.join(process.tempdir(), "vmail")
        os.makedirs(cls.base)
        if os.geteuid() == 0:
            os.chown(cls.base, *mail_ids())
        cls.d = Dirmaild(workers=1, ldap=ldap_section(cls.ldap),
                         domains={"local": ["example.org"],
                                  "relay": [{"domain": "ctl.example",
                                             "next_hop": f"[127.0.0.1]:{cls.port}"},
                                            {"domain": "down.example",
                                             "next_hop": f"[127.0.0.1]:{cls.down_port}"}]},
                         cache={"size": 0},
                         # nothing is retried by itself while a test runs
                         queue={"retry_min": 3600, "retry_max": 7200, "scan_interval": 3600,
                                "delivery_threads": 2},
                         delivery={"mailbox_base": cls.base},
                         # a dead next hop stays backed off for the hour
                         smtp_client={"idle_time": 1, "connect_timeout": 5,
                                      "destination_backoff": 3600,
                                      "helo_name": "relay.test.example"})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.spool = cls.d.spool
        # each address: deferred at its first RCPT, taken at the second
        cls.peer = SmtpPeer(port=cls.port, replies={
            a: [LATER, "250 2.1.5 ok"] for a in
            ("flushed@ctl.example", "retried@ctl.example", "held@ctl.example",
             "free@ctl.example")})

    @classmethod
    def tearDownClass(cls):
        cls.peer.stop()
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"

    def ctl(self, *args, user=None):
        def become():
            if user is not None:
                pw = pwd.getpwnam(user)
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        return subprocess.run([DIRMAILCTL, "-c", self.d.path] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=become, timeout=60)

    def deferred(self, rcpt):
        """Inject a message for rcpt and wait for its first deferral."""
        qid = inject(self.spool, [rcpt], message(rcpt))
        self.d.wait_log(rf"id={qid} event=deferred rcpt={re.escape(rcpt)} .*4\.3\.0 ",
                        timeout=30)
        return qid

    def removed(self, qid):
        wait_for(lambda: not queued(self.spool, qid), timeout=30,
                 what=f"{qid} removed\n{self.d.log()}")

    def delivered_to(self, rcpt):
        return [t for t in self.peer.delivered() if t.rcpts == [rcpt]]

    def test_flush_after_deferral_delivers_without_waiting(self):
        qid = self.deferred("flushed@ctl.example")
        res = self.ctl("queue", "flush")
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout, r"^\d+ messages flushed\n$")
        self.removed(qid)
        [tx] = self.delivered_to("flushed@ctl.example")
        self.assertIn(b"X-Marker: flushed@ctl.example", tx.data)
        self.assertEqual(self.peer.attempts["flushed@ctl.example"], 2)
        self.assertRegex(self.d.log(), r"event=queue_control command=flush id=all answer=ok")

    def test_flush_lifts_the_backoff_of_a_next_hop_that_came_back(self):
        qid = inject(self.spool, ["someone@down.example"], message("down"))
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@down.example .*4\.4\.1 ",
                        timeout=30)
        peer = SmtpPeer(port=self.down_port)
        self.addCleanup(peer.stop)
        res = self.ctl("queue", "retry", qid)
        self.assertEqual(res.returncode, 0, res)
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertIn(b"X-Marker: down", tx.data)
        self.assertRegex(self.d.log(), r"event=smtp_destination_retry_now "
                                       rf"destination=relay:\[127\.0\.0\.1\]:{self.down_port}")

    def test_retry_one_message(self):
        qid = self.deferred("retried@ctl.example")
        res = self.ctl("queue", "retry", qid)
        self.assertEqual((res.returncode, res.stdout), (0, "1 messages flushed\n"), res)
        self.removed(qid)
        self.assertEqual(len(self.delivered_to("retried@ctl.example")), 1)
        # gone now: no such message, and nothing sent
        res = self.ctl("queue", "retry", qid)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("no such message", res.stderr)

    def test_hold_survives_flush_and_restart_until_release(self):
        held = self.deferred("held@ctl.example")
        res = self.ctl("queue", "hold", held)
        self.assertEqual((res.returncode, res.stdout), (0, f"{held}: held\n"), res)
        listed = {m["id"]: m for m in json.loads(self.ctl("queue", "list", "--json").stdout)}
        self.assertIsNotNone(listed[held]["held_since"])
        self.assertRegex(self.ctl("queue", "list").stdout,
                         rf"(?m)^{held} .* recipients=1 held_since=\S+Z$")
        # a flush of everything passes it by; the other message, flushed in
        # the same request, shows that the flush was done
        other = self.deferred("free@ctl.example")
        res = self.ctl("queue", "flush")
        self.assertEqual(res.returncode, 0, res)
        self.removed(other)
        res = self.ctl("queue", "flush", held)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("on hold", res.stderr)
        self.assertEqual(self.peer.attempts["held@ctl.example"], 1)
        # a restart reads the hold from the status file: looked at, not tried
        self.d.stop()
        offset = len(self.d.log())
        self.d.restart()
        self.d.wait_log(rf"id={held} event=held since=\d+", start=offset, timeout=30)
        self.assertTrue(queued(self.spool, held))
        self.assertEqual(self.peer.attempts["held@ctl.example"], 1)
        self.assertEqual(self.delivered_to("held@ctl.example"), [])
        res = self.ctl("queue", "release", held)
        self.assertEqual((res.returncode, res.stdout), (0, f"{held}: released\n"), res)
        self.removed(held)
        self.assertEqual(len(self.delivered_to("held@ctl.example")), 1)
        self.assertEqual(self.peer.attempts["held@ctl.example"], 2)

    def test_unknown_ids_and_usage(self):
        res = self.ctl("queue", "hold", "0" * 23)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("no such message", res.stderr)
        res = self.ctl("queue", "release", "not-an-id")
        self.assertEqual(res.returncode, 1, res)
        res = self.ctl("queue", "flush", "extra", "words")
        self.assertEqual(res.returncode, 64, res)

    def test_socket_is_for_root_and_the_mail_user_only(self):
        path = os.path.join(os.path.dirname(self.spool), "queue-control.sock")
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, mail_ids()[0])
        if os.geteuid() != 0:
            self.skipTest("needs root to run dirmailctl as another user")
        res = self.ctl("queue", "flush", user=pwd.getpwuid(mail_ids()[0]).pw_name)
        self.assertEqual(res.returncode, 0, res)
        # anyone else: the state folder (0750) and the socket (0600) keep
        # them out before any request is read
        res = self.ctl("queue", "flush", user="daemon")
        self.assertEqual(res.returncode, 75, res)
        probe = subprocess.run(
            ["/usr/bin/python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX);"
             "s.connect(sys.argv[1])", path], preexec_fn=lambda: (os.setgroups([]),
                                                                  os.setgid(1), os.setuid(1)),
            stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertNotEqual(probe.returncode, 0)
        self.assertIn("PermissionError", probe.stderr)


if __name__ == "__main__":
    harness.tap.main()
