#!/usr/bin/env python3
"""test_queue_runner.py - the queue runner of a real dirmaild (its auth
process on a real slapd holding schema/examples) delivers what
tests/queue_inject puts into the spool, as the SMTP session will:
byte-exact into the right Maildir/new once each (alias, catch-all and
sub-address into the owner's); recipients on another node, in a relay
domain or outside stay queued while they cannot be reached (the SMTP client
gets SERVFAIL for every name: test_relay.py has the real peers), never lost or
bounced; unknown and disabled
recipients fail; a slapd outage only defers; kill -9 of the runner in the
middle of 1000 messages loses none; 500 messages to 50 users through 4
delivery threads arrive once each; messages queued while dirmaild is down
are delivered on start."""
import glob
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.dns_stub import ServfailDns  # noqa: E402
from harness.mail import as_mail_user, mail_ids, spool_file  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
INJECT = os.path.join(TOP_BUILDDIR, "tests", "queue_inject")

SENDER = "sender@remote.example"
# gateway/queue_attempt.h QUEUE_ATTEMPT_MAX: messages a delivery thread takes in one turn
BATCH_MAX = 16
THREADS = 4  # queue.delivery_threads of the dirmaild under test
BULK_USERS = 50


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, *mail_ids())
    return path


def inject(spool, rcpts, message, sender=SENDER, count=None):
    """Commit message (bytes, CRLF) for rcpts; [ids] in order."""
    argv = [INJECT] + (["-n", str(count)] if count else []) + [spool, sender] + list(rcpts)
    res = subprocess.run(argv, input=message, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=as_mail_user, timeout=120)
    if res.returncode != 0:
        raise AssertionError(f"queue_inject failed: {res.stderr!r}")
    return [line.split()[0] for line in res.stdout.decode().splitlines()]


def expected_file(message, rcpt, sender=SENDER):
    return (f"Return-Path: <{sender}>\nDelivered-To: {rcpt}\n".encode()
            + message.replace(b"\r\n", b"\n"))


def queued(spool, qid):
    return os.path.exists(os.path.join(spool, "active", qid))


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


_dns_down = None


def dns_down_port():
    """The port of the file's one DNS server that answers SERVFAIL at
    once: a lookup fails as fast on the fifth new name as on the first."""
    global _dns_down
    if _dns_down is None:
        _dns_down = ServfailDns()
    return _dns_down.port


def start_dirmaild(ldap, base, sync_method="auto", **sections):
    d = Dirmaild(workers=1, ldap=ldap.settings(connect_timeout=1, timeout=2, pool_size=2),
        domains={"local": ["example.org", "example.net"], "relay": ["relay.example"]},
        cache={"size": 0},
        queue={"retry_min": 1, "retry_max": 2, "scan_interval": 5,
               "delivery_threads": THREADS},
        delivery={"mailbox_base": base, "sync_method": sync_method},
        # DNS fails (SERVFAIL) for every name: every remote recipient stays
        # deferred. Not a port without a server: there libunbound waits out
        # a retransmission schedule that grows with each timed-out name, and
        # under ASan after the kill -9 test a first deferral took over 30 s.
        smtp_client={"dns_forwarders": [f"127.0.0.1@{dns_down_port()}"]}, **sections)
    return d


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class QueueRunner(unittest.TestCase):
    # delivery.sync_method; the test machines' file systems make "auto" pick
    # fsync unless they journal: QueueRunnerSyncfs runs everything with syncfs
    SYNC_METHOD = "auto"

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.ldap.add("dn: uid=frank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: frank\ncn: Frank\nsn: Frank\nmail: frank@example.org\n"
                     "dirmailMailHost: other-node.test.example\n")
        cls.ldap.add("dn: uid=gina,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: gina\ncn: Gina\nsn: Gina\nmail: gina@example.org\n"
                     "dirmailMailbox: example.org/gina/\n")
        cls.ldap.add("dn: uid=hank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: hank\ncn: Hank\nsn: Hank\nmail: hank@example.org\n"
                     "dirmailQuota: 300\n")
        cls.ldap.add("\n".join(
            f"dn: uid=bulk{i},ou=people,dc=example,dc=org\n"
            "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
            f"uid: bulk{i}\ncn: Bulk\nsn: Bulk\nmail: bulk{i}@example.org\n"
            for i in range(BULK_USERS)))
        cls.base = make_dir(os.path.join(process.tempdir(), "vmail"))
        cls.d = start_dirmaild(cls.ldap, cls.base, sync_method=cls.SYNC_METHOD)
        cls.d.start()
        cls.d.wait_log(rf"event=queue_runner_started .*delivery_sync={cls.SYNC_METHOD}")
        cls.spool = cls.d.spool

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"
        assert not errors, errors

    def setUp(self):
        if not self.ldap.running():
            self.ldap.start()

    def maildir_files(self, mailbox):
        return sorted(glob.glob(os.path.join(self.base, mailbox, "new", "*")))

    def files_with(self, mailbox, marker):
        out = []
        for path in self.maildir_files(mailbox):
            with open(path, "rb") as f:
                data = f.read()
            if marker in data:
                out.append(data)
        return out

    def deliver_and_wait(self, rcpts, marker, subject="t"):
        message = (f"From: {SENDER}\r\nTo: x\r\nSubject: {subject}\r\nX-Marker: {marker}\r\n"
                   f"\r\nHello {marker}.\r\nSecond line.\r\n").encode()
        [qid] = inject(self.spool, rcpts, message)
        wait_for(lambda: not queued(self.spool, qid), what=f"{qid} removed\n{self.d.log()}")
        return qid, message

    def test_local_delivery_byte_exact_once(self):
        qid, message = self.deliver_and_wait(["alice@example.org"], "plain-local")
        got = self.files_with("example.org/alice", b"plain-local")
        self.assertEqual(got, [expected_file(message, "alice@example.org")])
        self.assertRegex(self.d.log(), rf"id={qid} event=delivered rcpt=alice@example.org")

    def test_several_recipients_each_once(self):
        _, message = self.deliver_and_wait(["alice@example.org", "bob@example.org"], "two-rcpts")
        self.assertEqual(self.files_with("example.org/alice", b"two-rcpts"),
                         [expected_file(message, "alice@example.org")])
        self.assertEqual(self.files_with("example.org/bob", b"two-rcpts"),
                         [expected_file(message, "bob@example.org")])

    def test_alias_catchall_subaddress_land_in_owner_maildir(self):
        cases = [("postmaster@example.org", "example.org/alice"),
                 ("a.liddell@example.org", "example.org/alice"),
                 ("alice+lists@example.org", "example.org/alice"),
                 ("whoever@example.net", "example.net/carol")]
        for rcpt, mailbox in cases:
            marker = "owner-" + rcpt
            _, message = self.deliver_and_wait([rcpt], marker)
            self.assertEqual(self.files_with(mailbox, marker.encode()),
                             [expected_file(message, rcpt)], rcpt)

    def test_group_expands_to_members(self):
        qid, message = self.deliver_and_wait(["staff@example.org"], "group-staff")
        m = re.search(rf"id={qid} event=expanded rcpt=staff@example.org kind=group targets=3 "
                      r"new_id=([0-9a-f]+)", self.d.log())
        self.assertIsNotNone(m, self.d.log())
        new_id = m.group(1)
        # alice and bob are local; dave forwards outside: that part stays queued.
        expanded = b"Delivered-To: staff@example.org\r\n" + message
        wait_for(lambda: self.files_with("example.org/bob", b"group-staff"), what="bob's copy")
        self.assertEqual(self.files_with("example.org/alice", b"group-staff"),
                         [expected_file(expanded, "alice@example.org")])
        self.assertEqual(self.files_with("example.org/bob", b"group-staff"),
                         [expected_file(expanded, "bob@example.org")])
        self.d.wait_log(rf"event=expanded rcpt=dave@example.org kind=forward targets=1")
        log = self.d.log()
        self.assertNotIn(f"id={new_id} event=failed", log)

    def test_forward_outside_stays_queued(self):
        [qid] = inject(self.spool, ["dave@example.org"], b"Subject: fwd\r\n\r\nforward me\r\n")
        m = self.d.wait_log(rf"id={qid} event=expanded rcpt=dave@example.org kind=forward "
                            r"targets=1 new_id=([0-9a-f]+)")
        new_id = m.group(1)
        self.d.wait_log(rf"id={new_id} event=deferred rcpt=dave@example.com ", timeout=30)
        wait_for(lambda: not queued(self.spool, qid), what="original removed")
        self.assertTrue(queued(self.spool, new_id), "the forwarded copy was lost")
        message, _ = spool_file(os.path.join(self.spool, "active", new_id))
        self.assertEqual(message, b"Delivered-To: dave@example.org\r\nSubject: fwd\r\n\r\n"
                         b"forward me\r\n")

    def test_other_node_relay_and_foreign_stay_queued(self):
        rcpts = ["frank@example.org", "someone@relay.example", "someone@elsewhere.example"]
        [qid] = inject(self.spool, rcpts, b"Subject: away\r\n\r\nnot for this node\r\n")
        for rcpt in rcpts:
            self.d.wait_log(rf"id={qid} event=deferred rcpt={re.escape(rcpt)} ", timeout=30)
        # Retried (retry_max is 2 s) and still there, never failed: each
        # recipient deferred a second time.
        for rcpt in rcpts:
            wait_for(lambda: len(re.findall(rf"id={qid} event=deferred rcpt={re.escape(rcpt)} ",
                                            self.d.log())) >= 2,
                     timeout=20, what=f"{rcpt} retried")
        self.assertTrue(queued(self.spool, qid))
        self.assertNotIn(f"id={qid} event=failed", self.d.log())

    def test_unknown_and_disabled_fail_and_are_removed(self):
        qid, _ = self.deliver_and_wait(["nobody-here@example.org", "erin@example.org"], "fails")
        # the spool file leaves active/ just before the results are logged
        self.d.wait_log(rf"id={qid} event=failed rcpt=nobody-here@example.org .*5\.1\.1")
        self.d.wait_log(rf"id={qid} event=failed rcpt=erin@example.org .*5\.2\.1")
        self.assertEqual(self.files_with("example.org/erin", b"fails"), [])

    def test_slapd_down_defers_then_delivers(self):
        self.ldap.stop()
        try:
            message = b"Subject: outage\r\n\r\nwritten during the outage\r\n"
            [qid] = inject(self.spool, ["bob@example.org"], message)
            self.d.wait_log(rf"id={qid} event=deferred rcpt=bob@example.org .*4\.4\.3",
                            timeout=30)
            self.assertTrue(queued(self.spool, qid))
            self.assertEqual(self.files_with("example.org/bob", b"during the outage"), [])
        finally:
            self.ldap.start()
        wait_for(lambda: not queued(self.spool, qid), timeout=30,
                 what=f"delivery after slapd returned\n{self.d.log()}")
        self.assertEqual(self.files_with("example.org/bob", b"during the outage"),
                         [expected_file(message, "bob@example.org")])
        self.assertNotIn(f"id={qid} event=failed", self.d.log())

    def test_disk_error_defers_then_delivers(self):
        box = os.path.join(self.base, "example.org", "gina")
        for sub in ("", "cur", "new", "tmp"):
            make_dir(os.path.join(box, sub))
        os.chmod(os.path.join(box, "tmp"), 0o555)  # the mail user cannot write
        try:
            message = b"Subject: disk\r\n\r\nafter the disk error\r\n"
            [qid] = inject(self.spool, ["gina@example.org"], message)
            self.d.wait_log(rf"id={qid} event=deferred rcpt=gina@example.org .*4\.3\.0")
            self.assertTrue(queued(self.spool, qid))
        finally:
            os.chmod(os.path.join(box, "tmp"), 0o700)
        wait_for(lambda: not queued(self.spool, qid), what=f"delivery after the fix\n{self.d.log()}")
        self.assertEqual(self.files_with("example.org/gina", b"after the disk error"),
                         [expected_file(message, "gina@example.org")])

    def test_quota_from_directory_defers(self):
        # hank has no mailbox attribute: the default layout, a 300-octet quota.
        [qid] = inject(self.spool, ["hank@example.org"],
                       b"Subject: big\r\n\r\n" + b"x" * 400 + b"\r\n")
        started = time.time()
        m = self.d.wait_log(rf"id={qid} event=deferred rcpt=hank@example.org "
                            r"retry_at=(\d+) .*4\.2\.2")
        # The quota is found exceeded only once the file is written (in the
        # turn's settle): the retry must still be scheduled, not "now".
        self.assertGreaterEqual(int(m.group(1)), int(started))
        self.assertTrue(queued(self.spool, qid))
        self.assertEqual(self.maildir_files("example.org/hank/Maildir"), [])
        # A message under the quota goes to <base>/<domain>/<local>/Maildir.
        _, message = self.deliver_and_wait(["hank@example.org"], "s")
        self.assertEqual(len(self.maildir_files("example.org/hank/Maildir")), 1)

    def test_kill_9_mid_batch_loses_nothing(self):
        batch = 1000
        message = b"Subject: batch\r\n\r\n" + b"batch line of some length\r\n" * 200
        new = os.path.join(self.base, "example.net/carol/new")
        before = len(os.listdir(new)) if os.path.isdir(new) else 0
        # The whole batch is queued before the runner sees any of it, and it
        # is killed as soon as 20 have arrived: with 4 threads the runner is
        # fast enough to finish a small batch between two polls.
        [runner] = self.d.children()["queue"]
        os.kill(runner, signal.SIGSTOP)
        try:
            ids = inject(self.spool, ["carol@example.net"], message, count=batch)
        finally:
            os.kill(runner, signal.SIGCONT)
        self.assertEqual(len(ids), batch)
        deadline = time.monotonic() + 60
        while len(os.listdir(new) if os.path.isdir(new) else []) - before < 20:
            self.assertLess(time.monotonic(), deadline, "the batch never got under way")
            time.sleep(0.005)
        os.kill(runner, signal.SIGKILL)
        # The kill must land mid-batch, or the test proves nothing.
        self.assertGreater(sum(queued(self.spool, q) for q in ids), 0, "batch already done")
        self.d.wait_log(rf"event=child_exit child=queue pid={runner} signal=9")
        wait_for(lambda: self.d.children()["queue"] and self.d.children()["queue"] != [runner],
                 timeout=15, what="runner restarted")
        wait_for(lambda: not any(queued(self.spool, q) for q in ids), timeout=120,
                 what=f"batch delivered\n{self.d.log()[-3000:]}")
        seqs = {}
        for data in self.files_with("example.net/carol", b"batch line"):
            m = re.search(rb"X-Inject-Seq: (\d+)\n", data)
            self.assertIsNotNone(m)
            seqs[int(m.group(1))] = seqs.get(int(m.group(1)), 0) + 1
        self.assertEqual(sorted(seqs), list(range(batch)), "a message of the batch is missing")
        # Each delivery thread may have had one turn's messages delivered
        # but not yet recorded when the kill came (a turn takes up to
        # BATCH_MAX messages, to share fsyncs): at most THREADS * BATCH_MAX
        # of them again, and none more than twice.
        twice = [k for k, n in seqs.items() if n > 1]
        self.assertLessEqual(len(twice), THREADS * BATCH_MAX, f"delivered twice: {twice}")
        self.assertTrue(all(n <= 2 for n in seqs.values()))

    def test_500_messages_to_50_users_once_each_with_4_threads(self):
        per_user = 10
        message = b"Subject: bulk\r\n\r\n" + b"bulk line for the thread test\r\n" * 100
        runner_log = self.d.log()
        self.assertIn(f"threads={THREADS}", runner_log)
        ids = []
        for i in range(BULK_USERS):
            ids += inject(self.spool, [f"bulk{i}@example.org"], message, count=per_user)
        self.assertEqual(len(ids), BULK_USERS * per_user)
        wait_for(lambda: not any(queued(self.spool, q) for q in ids), timeout=120,
                 what=f"500 messages delivered\n{self.d.log()[-3000:]}")
        for i in range(BULK_USERS):
            rcpt = f"bulk{i}@example.org"
            files = self.files_with(f"example.org/bulk{i}/Maildir", b"bulk line")
            seqs = sorted(int(re.search(rb"X-Inject-Seq: (\d+)\n", f).group(1)) for f in files)
            self.assertEqual(seqs, list(range(per_user)), rcpt)
            for data in files:
                self.assertTrue(data.startswith(
                    f"Return-Path: <{SENDER}>\nDelivered-To: {rcpt}\n".encode()), rcpt)
        # Each message was handled by one thread, once: one delivered line each.
        log = self.d.log()
        for q in ids:
            self.assertEqual(log.count(f"id={q} event=delivered "), 1, q)


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class QueueRunnerRestart(unittest.TestCase):
    def test_queued_while_down_delivered_on_start(self):
        ldap = Slapd()
        base = make_dir(os.path.join(process.tempdir(), "vmail"))
        d = start_dirmaild(ldap, base)
        try:
            make_dir(d.sections["server"]["state_dir"])
            message = b"Subject: early\r\n\r\nqueued before dirmaild started\r\n"
            ids = inject(d.spool, ["alice@example.org"], message, count=3)
            d.start()
            wait_for(lambda: not any(queued(d.spool, q) for q in ids), timeout=30,
                     what=f"delivery on start\n{d.log()}")
            files = glob.glob(os.path.join(base, "example.org/alice/new/*"))
            self.assertEqual(len(files), 3)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
        finally:
            d.stop()
            ldap.stop()

    def test_reload_hands_the_spool_to_the_new_runner(self):
        ldap = Slapd()
        base = make_dir(os.path.join(process.tempdir(), "vmail"))
        d = start_dirmaild(ldap, base)
        try:
            d.start()
            d.wait_log(r"event=queue_runner_started")
            [old] = d.children()["queue"]
            ids = inject(d.spool, ["bob@example.org"], b"Subject: r\r\n\r\nreload\r\n", count=30)
            d.reload()
            wait_for(lambda: d.log().count("event=queue_runner_started") == 2, what="new runner")
            log = d.log()
            # The new runner starts only after the old one let go of the spool.
            self.assertLess(log.index(f"queue[{old}] level=info event=queue_runner_exit"),
                            log.rindex("event=queue_runner_started"))
            more = inject(d.spool, ["bob@example.org"], b"Subject: r\r\n\r\nafter\r\n")
            wait_for(lambda: not any(queued(d.spool, q) for q in ids + more), timeout=30,
                     what=f"delivery after reload\n{d.log()}")
            files = glob.glob(os.path.join(base, "example.org/bob/new/*"))
            self.assertGreaterEqual(len(files), 31)
            # SIGTERM lets the old runner finish its message: nothing twice.
            self.assertEqual(len(files), 31)
            self.assertEqual(d.stop(), 0)
        finally:
            d.stop()
            ldap.stop()

    def test_sigterm_finishes_and_exits_0(self):
        ldap = Slapd()
        base = make_dir(os.path.join(process.tempdir(), "vmail"))
        d = start_dirmaild(ldap, base)
        try:
            d.start()
            d.wait_log(r"event=queue_runner_started")
            ids = inject(d.spool, ["bob@example.org"], b"Subject: s\r\n\r\nstop test\r\n",
                         count=50)
            # the SIGTERM comes while the runner is delivering the batch
            d.wait_log(r"event=delivered rcpt=bob@example\.org")
            self.assertEqual(d.stop(), 0)
            log = d.log()
            self.assertIn("event=queue_runner_exit status=0", log)
            self.assertRegex(log, r"child=queue pid=\d+ status=0")
            # Whatever was not delivered is still queued, whole.
            delivered = len(glob.glob(os.path.join(base, "example.org/bob/new/*")))
            left = sum(queued(d.spool, q) for q in ids)
            self.assertGreaterEqual(delivered + left, 50)
        finally:
            d.stop()
            ldap.stop()


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class QueueRunnerSyncfs(QueueRunner):
    """Every QueueRunner test again with delivery.sync_method = syncfs: the
    deliveries of a turn made durable by syncfs rounds instead of their own
    fsyncs (same results: once each, nothing lost across a kill -9)."""
    SYNC_METHOD = "syncfs"


if __name__ == "__main__":
    harness.tap.main()
