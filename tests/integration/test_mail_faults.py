#!/usr/bin/env python3
"""test_mail_faults.py - "accepted means durable" (DESIGN.md) proven end to
end against a real slapd and a real dirmaild, with Python's smtplib and raw
sockets as clients: SIGKILL of the worker serving a session right after its
250 and in the middle of DATA, SIGKILL of the queue runner, SIGKILL of every
dirmaild process after a batch, slapd stopped before and after acceptance,
and a full mailbox disk. Whatever got a 250 arrives in the Maildir exactly
once (a delivery in flight at the kill, made but not recorded, is found by
its stable file name after the restart, not made again); whatever did not
get one never arrives and never shows in the spool.

Each test runs its own dirmaild (the master's restart delay doubles with
every kill of a young child), one worker, no directory cache (every lookup
reaches slapd) and short retry delays; every wait is bounded."""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built, server_side  # noqa: E402
from harness.mail import (Raw, as_stored, copies, mailbox_of, queue_id, spool_ids,  # noqa: E402
                          split_trace, wait_for)
from harness.slapd import Slapd  # noqa: E402

SENDER = "sender@remote.example"
MAIL_UID = 65534  # nobody: the harness's mail user when the tests run as root
# limits.message_size of the small-spool tests: the default reserve (1.5 x)
# of 3 MiB fits a 4 MiB tmpfs with 1 MiB to fill
SPOOL_MESSAGE_SIZE = 2 * 1024 * 1024


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, MAIL_UID, MAIL_UID)
    return path


def message(marker, body=b"Hello.\r\n"):
    return (b"From: <" + SENDER.encode() + b">\r\nSubject: fault " + marker.encode()
            + b"\r\nMessage-ID: <" + marker.encode() + b"@remote.example>\r\n\r\n" + body)


def key(marker):
    """What identifies one test message in a Maildir file (its Message-ID)."""
    return b"<" + marker.encode() + b"@remote.example>"


def as_proc(pid):
    """process.freeze/thaw take an object with a pid."""
    return types.SimpleNamespace(pid=pid)


@unittest.skipUnless(built(), "dirmaild not built")
class MailFaults(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def setUp(self):
        if not self.ldap.running():
            self.ldap.start()
        self.base = make_dir(os.path.join(process.tempdir("faults-vmail-"), "vmail"))
        self.d = None
        self.clients = []

    def tearDown(self):
        # clients first: an open session would hold dirmaild's stop for its
        # whole shutdown grace
        for c in self.clients:
            c.close()
        if self.d is not None:
            self.d.stop()
            errors = self.d.sanitizer_errors()
            self.assertEqual(errors, [], "sanitizer reports in dirmaild's log")

    # ---- helpers ----

    def start(self, workers=1, prepare=None, limits=None, queue=None):
        """A dirmaild for one test; prepare(d), when given, runs before it
        starts (to mount a file system for its spool). limits and queue are
        settings merged over the defaults here."""
        self.d = Dirmaild(
            workers=workers,
            ldap=self.ldap.settings(connect_timeout=1, timeout=2, pool_size=2),
            domains={"local": ["example.org", "example.net"]},
            cache={"size": 0},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2, **(queue or {})},
            delivery={"mailbox_base": self.base},
            limits=limits or {},
            # debug: the runner logs each spool scan (event=queue_scan), so
            # that a test waits for scans instead of sleeping through them
            server={"log_level": "debug"})
        if prepare is not None:
            prepare(self.d)
        self.d.start()
        self.d.wait_log(r"event=queue_runner_started")
        return self.d

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        self.clients.append(s)
        s.ehlo()
        return s

    def send(self, rcpt, msg, s=None):
        """One accepted transaction; the queue id."""
        own = s is None
        s = s or self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        code, text = s.rcpt(rcpt)
        self.assertEqual(code, 250, text)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        if own:
            s.quit()
        return queue_id(text)

    def wait_scans(self, count, timeout=30):
        """Until the runner has scanned the whole spool count more times."""
        offset = len(self.d.log())
        wait_for(lambda: len(re.findall(r"event=queue_scan ", self.d.log()[offset:])) >= count,
                 timeout=timeout, what=f"{count} spool scans")

    def wait_done(self, ids, timeout=60):
        ids = set(ids)
        wait_for(lambda: not ids & spool_ids(self.d.spool), timeout=timeout,
                 what=f"{sorted(ids)} delivered\n{self.d.log()[-4000:]}")

    def assert_once(self, marker, msg, mailbox, rcpt):
        got = copies(self.base, key(marker))
        self.assertEqual([mailbox_of(p) for p, _ in got], [mailbox],
                         f"copies of {marker}: {[p for p, _ in got]}")
        trace, rest = split_trace(got[0][1])
        self.assertEqual(rest, as_stored(msg))
        self.assertIn(("delivered-to", rcpt), trace)

    def runner(self):
        return wait_for(lambda: self.d.children()["queue"], timeout=15, what="a queue runner")[0]

    def spool_holds(self, needle):
        """Files in the spool's active/ holding needle (a visible message)."""
        active = os.path.join(self.d.spool, "active")
        out = []
        for name in os.listdir(active):
            try:
                with open(os.path.join(active, name), "rb") as f:
                    if needle in f.read():
                        out.append(name)
            except FileNotFoundError:
                pass
        return out

    # ---- the worker ----

    def test_worker_killed_after_250_message_arrives_once(self):
        self.start(workers=2)  # the session's worker is found by its socket
        marker = "worker-after-250"
        msg = message(marker)
        s = self.smtp()
        worker = self.d.session_worker(s.sock)
        qid = self.send("alice@example.org", msg, s)
        other = [w for w in self.d.children()["workers"] if w != worker]
        os.kill(worker, signal.SIGKILL)
        self.d.wait_log(rf"event=child_exit child=worker pid={worker} signal=9")
        self.assertNotIn("event=child_exit child=worker pid=%d" % other[0], self.d.log())
        self.d.wait_children(workers=2, exclude=[worker], timeout=15)
        self.wait_done([qid])
        self.assert_once(marker, msg, "example.org/alice", "alice@example.org")
        # the restarted worker serves the next session
        marker2 = "worker-after-restart"
        qid2 = self.send("alice@example.org", message(marker2))
        self.wait_done([qid2])
        self.assert_once(marker2, message(marker2), "example.org/alice", "alice@example.org")

    def test_worker_killed_mid_data_nothing_delivered(self):
        self.start(workers=2)
        marker = "worker-mid-data"
        # large enough that the session has written part of it to tmp/
        # before the kill, so the kill lands in a half-received message
        body = b"".join(b"line %06d of a message that is cut off before its end\r\n" % i
                        for i in range(6000))
        r = Raw(self.d.port("smtp"))
        self.clients.append(r)
        r.cmd("EHLO client.test")
        worker = self.d.session_worker(r.s)
        self.assertTrue(r.cmd(f"MAIL FROM:<{SENDER}>").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<bob@example.org>").startswith(b"250"))
        self.assertTrue(r.cmd("DATA").startswith(b"354"))
        r.send(message(marker, body))  # no final dot
        # the worker has read every byte sent (nothing left in its socket's
        # receive queue) and spooled some of it into tmp/
        wait_for(lambda: (server_side(r.s) or (0, 1))[1] == 0, timeout=15,
                 what="the worker read the body")
        tmp = os.path.join(self.d.spool, "tmp")

        def in_tmp():
            for name in os.listdir(tmp):
                try:
                    with open(os.path.join(tmp, name), "rb") as f:
                        if key(marker) in f.read():
                            return True
                except FileNotFoundError:
                    pass
            return False
        wait_for(in_tmp, timeout=15, what="part of the message in the spool's tmp/")
        os.kill(worker, signal.SIGKILL)
        self.assertTrue(r.closed(), "the connection outlived its worker")
        self.assertNotIn(b"250 2.0.0", r.buf)
        self.d.wait_log(rf"event=child_exit child=worker pid={worker} signal=9")
        self.d.wait_children(workers=2, exclude=[worker], timeout=15)
        # a message sent after the kill goes through: once it is delivered
        # the runner has had its chance at anything visible before it
        # (and two full scans of the spool pass)
        control = "after-mid-data-kill"
        qid = self.send("bob@example.org", message(control))
        self.wait_done([qid])
        self.wait_scans(2)
        self.assertEqual(copies(self.base, key(marker)), [])
        self.assertEqual(self.spool_holds(key(marker)), [])
        self.assertEqual(spool_ids(self.d.spool), set())
        # and after a restart (the runner's start-up scan and cleanup)
        self.assertEqual(self.d.stop(), 0)
        offset = len(self.d.log())
        self.d.restart()
        self.d.wait_log(r"event=queue_runner_started", start=offset, timeout=15)
        qid = self.send("bob@example.org", message("after-mid-data-restart"))
        self.wait_done([qid])
        self.wait_scans(2)
        self.assertEqual(copies(self.base, key(marker)), [])
        self.assertEqual(self.spool_holds(key(marker)), [])
        self.assertEqual(spool_ids(self.d.spool), set())
        self.assertEqual(len(copies(self.base, key(control))), 1)

    # ---- the queue runner ----

    def test_runner_killed_after_250_message_arrives_once(self):
        self.start()
        runner = self.runner()
        # Stopped first so that the kill lands before it could deliver: the
        # message is only in the spool when the runner dies.
        process.freeze(as_proc(runner))
        marker = "runner-after-250"
        msg = message(marker)
        qid = self.send("carol@example.net", msg)
        self.assertIn(qid, spool_ids(self.d.spool))
        # checked while the runner is frozen: the master restarts a killed
        # child at once, and the new runner may deliver before we look
        self.assertEqual(copies(self.base, key(marker)), [])
        os.kill(runner, signal.SIGKILL)
        self.d.wait_log(rf"event=child_exit child=queue pid={runner} signal=9")
        wait_for(lambda: self.d.children()["queue"] not in ([], [runner]), timeout=15,
                 what="the runner restarted")
        self.wait_done([qid])
        self.assert_once(marker, msg, "example.net/carol", "carol@example.net")

    def test_runner_killed_mid_delivery_no_half_message(self):
        """SIGKILL while the runner writes a large message into the Maildir's
        tmp/: new/ never shows a partial file, and the restarted runner
        delivers the message whole, once."""
        self.start()
        first = "mid-delivery-first"
        self.wait_done([self.send("bob@example.org", message(first))])  # Maildir made
        box = os.path.join(self.base, "example.org", "bob")
        body = b"".join(b"%07d a line of the large message being delivered when killed\r\n" % i
                        for i in range(120000))  # about 8 MB
        for attempt in range(5):
            marker = f"mid-delivery-{attempt}"
            msg = message(marker, body)
            before = set(os.listdir(os.path.join(box, "tmp")))
            runner = self.runner()
            qid = self.send("bob@example.org", msg)
            # kill as soon as the delivery's file shows in tmp/
            deadline = time.monotonic() + 30
            while not set(os.listdir(os.path.join(box, "tmp"))) - before:
                if qid not in spool_ids(self.d.spool) or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            os.kill(runner, signal.SIGKILL)
            half = set(os.listdir(os.path.join(box, "tmp"))) - before
            early = copies(self.base, key(marker))
            self.d.wait_log(rf"event=child_exit child=queue pid={runner} signal=9")
            if early:
                # too late: the link into new/ was done; try again (the
                # kill may have beaten the record: still one copy)
                self.wait_done([qid])
                self.assertEqual(len(copies(self.base, key(marker))), 1)
                continue
            # nothing in new/ before the restart, then exactly one whole copy
            self.assertTrue(half, "killed before the delivery began")
            sys.stdout.write(f"# runner killed mid-delivery on attempt {attempt + 1}\n")
            wait_for(lambda: self.d.children()["queue"] not in ([], [runner]), timeout=15,
                     what="the runner restarted")
            self.wait_done([qid])
            self.assert_once(marker, msg, "example.org/bob", "bob@example.org")
            for _, data in copies(self.base, b"mid-delivery-"):
                self.assertTrue(data.endswith(b"being delivered when killed\n")
                                or data.endswith(b"Hello.\n"), "a truncated file in new/")
            return
        self.skipTest("the runner delivered 8 MB before the test saw its tmp/ file, 5 times")

    # ---- slapd ----

    def test_slapd_down_at_rcpt_451_then_retry_accepted(self):
        self.start()
        marker = "slapd-down-rcpt"
        msg = message(marker)
        rcpt = "bob+outage@example.org"  # never looked up before: no cache to hide the outage
        self.ldap.stop()
        try:
            s = self.smtp()
            self.assertEqual(s.mail(SENDER)[0], 250)
            code, text = s.rcpt(rcpt)
            self.assertEqual((code, text[:5]), (451, b"4.4.3"), text)
            code, text = s.docmd("DATA")
            self.assertNotEqual(code, 354, "DATA without a recipient")
            s.close()
            self.assertEqual(spool_ids(self.d.spool), set(), "something was accepted")
        finally:
            self.ldap.start()
        # the client retries, as a real one does on 4xx, until accepted
        deadline = time.monotonic() + 30
        while True:
            s = self.smtp()
            self.assertEqual(s.mail(SENDER)[0], 250)
            code, text = s.rcpt(rcpt)
            if code == 250:
                break
            self.assertEqual((code, text[:5]), (451, b"4.4.3"), text)
            self.assertLess(time.monotonic(), deadline, "still 451 30 s after slapd returned")
            s.close()
            time.sleep(0.5)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        s.quit()
        self.wait_done([queue_id(text)])
        self.assert_once(marker, msg, "example.org/bob", rcpt)

    def test_slapd_down_after_acceptance_deferred_never_bounced(self):
        self.start()
        runner = self.runner()
        process.freeze(as_proc(runner))
        marker = "slapd-down-after-250"
        msg = message(marker)
        try:
            qid = self.send("bob@example.org", msg)
            self.ldap.stop()
        finally:
            process.thaw(as_proc(runner))
        try:
            # deferred, and retried (deferred again) while slapd is away
            pattern = rf"id={qid} event=deferred rcpt=bob@example.org .*4\.4\.3"
            m = self.d.wait_log(pattern, timeout=30)
            self.d.wait_log(pattern, timeout=30, start=m.end())
            self.assertIn(qid, spool_ids(self.d.spool))
            self.assertEqual(copies(self.base, key(marker)), [])
        finally:
            self.ldap.start()
        self.wait_done([qid])
        self.assert_once(marker, msg, "example.org/bob", "bob@example.org")
        log = self.d.log()
        self.assertNotIn("event=failed", log)
        # no bounce: nothing else was queued or delivered
        self.assertEqual(spool_ids(self.d.spool), set())
        self.assertEqual(len(copies(self.base, b"")), 1)

    # ---- the whole daemon ----

    def test_whole_daemon_killed_after_20_accepted_none_lost(self):
        self.start()
        markers = [f"batch-{i:02d}" for i in range(20)]
        body = b"batch body\r\n" * 50
        boxes = ["example.net/carol", "example.org/alice"]
        # The runner is held still while the batch is accepted, and let go an
        # instant before the kill: otherwise a fast runner can deliver the
        # whole batch first, and the restart proves nothing.
        runner = types.SimpleNamespace(pid=self.d.children()["queue"][0])
        process.freeze(runner)
        r = Raw(self.d.port("smtp"))
        self.clients.append(r)
        r.cmd("EHLO client.test")
        # two recipients each, so the runner has twice the work of the session
        envelope = (b"MAIL FROM:<%s>\r\nRCPT TO:<alice@example.org>\r\n"
                    b"RCPT TO:<carol@example.net>\r\nDATA\r\n" % SENDER.encode())
        # pipelined as RFC 2920 allows: each message with the next envelope
        r.send(envelope)
        ids = []
        for i, m in enumerate(markers):
            for _ in range(3):
                r.reply()
            self.assertTrue(r.reply().startswith(b"354"), m)
            r.send(message(m, body) + b".\r\n" + (envelope if i + 1 < len(markers) else b""))
            done = r.reply()
            self.assertTrue(done.startswith(b"250 2.0.0"), (m, done))
            ids.append(queue_id(done))
        # SIGKILL to every dirmaild process at once, right after the last 250
        process.thaw(runner)
        self.d.kill_all()
        r.close()
        left = spool_ids(self.d.spool) & set(ids)
        delivered_before = sum(len(copies(self.base, key(m))) for m in markers)
        self.d.restart()
        self.wait_done(ids)
        extra = 0
        for m in markers:
            got = copies(self.base, key(m))
            where = sorted(mailbox_of(p) for p, _ in got)
            self.assertEqual(sorted(set(where)), boxes, f"{m} lost: {where}")
            extra += len(where) - len(boxes)
            for _, data in got:
                self.assertEqual(split_trace(data)[1], as_stored(message(m, body)))
        # a delivery in flight at the kill is found again, never redone
        self.assertEqual(extra, 0, "delivered twice")
        sys.stdout.write(f"# {len(left)} of 20 messages still queued at the kill, "
                         f"{delivered_before} of 40 copies already delivered\n")
        self.assertGreater(len(left), 0, "the runner had delivered the whole batch before the "
                           "kill: the restart proved nothing")

    def test_delivered_but_unrecorded_is_found_not_delivered_again(self):
        """The state a kill between the Maildir link and the spool record
        leaves, made on purpose: the message is delivered (one copy already
        moved to cur/ with a flag, as a reader does), then its spool file is
        put back as it was before the runner recorded anything. The
        restarted runner must record both recipients delivered and write
        nothing."""
        self.start()
        runner = self.runner()
        process.freeze(as_proc(runner))
        marker = "unrecorded"
        msg = message(marker)
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt("alice@example.org")[0], 250)
        self.assertEqual(s.rcpt("carol@example.net")[0], 250)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        s.quit()
        qid = queue_id(text)
        spool_file = os.path.join(self.d.spool, "active", qid)
        with open(spool_file, "rb") as f:
            saved = f.read()
        st = os.stat(spool_file)
        process.thaw(as_proc(runner))
        self.wait_done([qid])
        got = copies(self.base, key(marker))
        self.assertEqual(sorted(mailbox_of(p) for p, _ in got),
                         ["example.net/carol", "example.org/alice"])
        # a reader took alice's copy: new/ -> cur/ with the Seen flag
        alice = [p for p, _ in got if mailbox_of(p) == "example.org/alice"][0]
        alice_cur = os.path.join(self.base, "example.org", "alice", "cur")
        seen = os.path.basename(alice) + ":2,S"
        os.rename(os.path.join(self.base, alice), os.path.join(alice_cur, seen))

        self.d.kill_all()
        tmp = spool_file + ".restore"
        with open(tmp, "wb") as f:
            f.write(saved)
        os.chmod(tmp, st.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, os.path.join(self.d.spool, "active", qid))
        self.d.restart()
        self.wait_done([qid])
        got = copies(self.base, key(marker))
        self.assertEqual([mailbox_of(p) for p, _ in got], ["example.net/carol"],
                         "delivered again after the restart")
        self.assertEqual(os.listdir(alice_cur), [seen], "delivered again after the restart")
        log = self.d.log()
        self.assertEqual(len(re.findall(rf"id={qid} event=already_delivered ", log)), 2, log[-3000:])
        self.assertRegex(log, rf"id={qid} event=already_delivered rcpt=alice@example.org "
                              rf"mailbox=\S+ file=\S+/cur/")

    # ---- the disk ----

    def mount_tmpfs(self, path, size, what):
        """A tmpfs of size ("4m") on path, owned by the mail user, unmounted
        at the end; skips the test when not root or when mounting fails."""
        if os.geteuid() != 0:
            self.skipTest(f"mounting a small tmpfs for {what} needs root")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                              path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {res.stdout.decode().strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", path])
        os.chown(path, MAIL_UID, MAIL_UID)

    def start_on_small_spool(self, size="4m", message_size=SPOOL_MESSAGE_SIZE, queue=None):
        """A dirmaild whose spool (<state_dir>/queue) is a tmpfs of size."""
        def prepare(d):
            state = make_dir(d.sections["server"]["state_dir"])
            os.chmod(state, 0o750)
            self.mount_tmpfs(make_dir(d.spool), size, "the spool")
        # the mount is made before the daemon starts: a skip leaves nothing running
        return self.start(prepare=prepare, limits={"message_size": message_size}, queue=queue)

    def spool_free(self):
        st = os.statvfs(self.d.spool)
        return st.f_bavail * st.f_frsize

    def fill_spool(self, leave):
        """Make the spool's file system have about leave octets free (a
        filler file beside the spool's folders, which no scan looks at)."""
        filler = os.path.join(self.d.spool, "filler")
        have = os.path.getsize(filler) if os.path.exists(filler) else 0
        want = have + self.spool_free() - leave
        self.assertGreaterEqual(want, 0, f"cannot leave {leave} octets free")
        with open(filler, "ab") as f:
            f.truncate(want)
            f.seek(have)
            # written out, not sparse: tmpfs counts only pages that exist
            for off in range(have, want, 65536):
                f.write(b"\xff" * min(65536, want - off))
        free = self.spool_free()
        self.assertLess(abs(free - leave), 64 * 1024, f"{free} free, {leave} wanted")
        return filler

    def test_spool_low_disk_mail_refused_452_then_accepted(self):
        self.start_on_small_spool()
        min_free = SPOOL_MESSAGE_SIZE * 3 // 2  # the default: 1.5 x message_size
        # just above the reserve: taken
        self.fill_spool(min_free + 256 * 1024)
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rset()[0], 250)
        # just below it: 452 4.3.1, logged with the numbers, the session goes on
        self.fill_spool(min_free - 256 * 1024)
        offset = len(self.d.log())
        code, text = s.mail(SENDER)
        self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage"))
        self.d.wait_log(rf"event=mail_refused reason=low_disk free=\d+ min={min_free} size=0 "
                        r"client=127\.0\.0\.1", start=offset)
        self.assertEqual(s.noop()[0], 250)
        code, text = s.rcpt("alice@example.org")
        self.assertEqual(code, 503, text)  # no transaction was started
        # room again: the same session's next MAIL FROM is taken, and delivered
        os.unlink(os.path.join(self.d.spool, "filler"))
        marker = "spool-low-then-room"
        qid = self.send("alice@example.org", message(marker), s)
        s.quit()
        self.wait_done([qid])
        self.assert_once(marker, message(marker), "example.org/alice", "alice@example.org")

    def test_spool_low_disk_mail_size_refused_452(self):
        self.start_on_small_spool()
        min_free = SPOOL_MESSAGE_SIZE * 3 // 2
        free = self.spool_free()
        # RFC 1870 6.1: a declared size that would take the free space
        # below the reserve is a temporary lack of storage
        too_big = free - min_free + 64 * 1024
        fits = free - min_free - 64 * 1024
        self.assertLess(too_big, SPOOL_MESSAGE_SIZE)  # not a 552 for the size limit
        self.assertGreater(fits, 0)
        s = self.smtp()
        offset = len(self.d.log())
        code, text = s.mail(SENDER, [f"SIZE={too_big}"])
        self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage"))
        self.d.wait_log(rf"event=mail_refused reason=low_disk free=\d+ min={min_free} "
                        rf"size={too_big} ", start=offset)
        self.assertEqual(s.mail(SENDER, [f"SIZE={fits}"])[0], 250)
        code, text = s.rcpt("alice@example.org")
        self.assertEqual(code, 250, text)
        code, text = s.data(message("spool-size-fits"))
        self.assertEqual(code, 250, text)
        s.quit()
        self.wait_done([queue_id(text)])
        self.assertEqual(len(copies(self.base, key("spool-size-fits"))), 1)

    def test_spool_fills_between_bdat_chunks_452_session_goes_on(self):
        self.start_on_small_spool()
        min_free = SPOOL_MESSAGE_SIZE * 3 // 2
        marker = "spool-bdat-refused"
        msg = message(marker, b"x" * 3000 + b"\r\n")
        first, rest = msg[:1000], msg[1000:]
        r = Raw(self.d.port("smtp"))
        self.clients.append(r)
        self.assertTrue(r.cmd("EHLO client.test").startswith(b"250"))
        self.assertTrue(r.cmd(f"MAIL FROM:<{SENDER}>").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<bob@example.org>").startswith(b"250"))
        r.send(b"BDAT %d\r\n" % len(first) + first)
        self.assertEqual(r.reply(), b"250 2.0.0 %d octets received\r\n" % len(first))
        # the disk fills up between the chunks (another writer)
        self.fill_spool(min_free - 256 * 1024)
        offset = len(self.d.log())
        # the chunk is read whole (its octets are not taken for commands),
        # then refused, and the message with it (RFC 3030 2)
        r.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        self.assertEqual(r.reply(), b"452 4.3.1 Insufficient system storage\r\n")
        self.d.wait_log(rf"event=bdat_refused reason=low_disk free=\d+ min={min_free} "
                        rf"chunk={len(rest)} received=\d+ client=127\.0\.0\.1", start=offset)
        # still in step: each command gets its own reply
        self.assertTrue(r.cmd("NOOP").startswith(b"250"))
        self.assertTrue(r.cmd("RSET").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<bob@example.org>").startswith(b"503"))
        self.assertEqual(os.listdir(os.path.join(self.d.spool, "tmp")), [],
                         "the refused message left its file in the spool's tmp/")
        # with room again the next message goes through on the same session
        os.unlink(os.path.join(self.d.spool, "filler"))
        control = "spool-bdat-after-room"
        cmsg = message(control)
        self.assertTrue(r.cmd(f"MAIL FROM:<{SENDER}>").startswith(b"250"))
        self.assertTrue(r.cmd("RCPT TO:<bob@example.org>").startswith(b"250"))
        r.send(b"BDAT %d LAST\r\n" % len(cmsg) + cmsg)
        done = r.reply()
        self.assertTrue(done.startswith(b"250 2.0.0"), done)
        self.assertTrue(r.cmd("QUIT").startswith(b"221"))
        self.wait_done([queue_id(done)])
        self.assert_once(control, cmsg, "example.org/bob", "bob@example.org")
        self.assertEqual(copies(self.base, key(marker)), [])
        self.assertEqual(spool_ids(self.d.spool), set())

    def test_spool_full_during_data_451_never_5xx(self):
        """With the reserve turned off (queue.min_free = 0) a message larger
        than the free space fails to be written: 451 4.3.0, the partial file
        is gone, and the session takes the next message."""
        self.start_on_small_spool(message_size=8 * 1024 * 1024, queue={"min_free": 0})
        body = b"".join(b"%06d a line of a message larger than the spool's free space\r\n" % i
                        for i in range(self.spool_free() // 60 + 1000))
        s = self.smtp()
        self.assertEqual(s.mail(SENDER)[0], 250)
        self.assertEqual(s.rcpt("carol@example.net")[0], 250)
        code, text = s.data(message("spool-full-data", body))
        self.assertEqual((code, text[:5]), (451, b"4.3.0"), text)
        self.assertEqual(os.listdir(os.path.join(self.d.spool, "tmp")), [],
                         "the failed message left its file in the spool's tmp/")
        marker = "spool-full-data-after"
        qid = self.send("carol@example.net", message(marker), s)
        s.quit()
        self.wait_done([qid])
        self.assert_once(marker, message(marker), "example.net/carol", "carol@example.net")
        self.assertEqual(copies(self.base, key("spool-full-data")), [])

    def test_mailbox_disk_full_defers_then_delivers(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs for the mailbox base needs root")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs",
                              self.base], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {res.stdout.decode().strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", self.base])
        os.chown(self.base, MAIL_UID, MAIL_UID)
        self.start()
        # a first message creates the Maildir while there is room
        first = "disk-first"
        qid = self.send("alice@example.org", message(first))
        self.wait_done([qid])
        self.assert_once(first, message(first), "example.org/alice", "alice@example.org")
        # fill the disk but for a few KB
        filler = os.path.join(self.base, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(filler, os.path.getsize(filler) - 8192)
        st = os.statvfs(self.base)
        self.assertLess(st.f_bavail * st.f_frsize, 64 * 1024)
        marker = "disk-full"
        msg = message(marker, b"".join(b"%05d a line that does not fit on the full disk\r\n" % i
                                       for i in range(2000)))
        qid = self.send("alice@example.org", msg)
        pattern = rf"id={qid} event=deferred rcpt=alice@example.org .*4\.3\.0"
        m = self.d.wait_log(pattern, timeout=30)
        self.d.wait_log(pattern, timeout=30, start=m.end())  # retried, deferred again
        self.assertIn(qid, spool_ids(self.d.spool))
        self.assertEqual(copies(self.base, key(marker)), [])
        tmpdir = os.path.join(self.base, "example.org", "alice", "tmp")
        self.assertEqual(os.listdir(tmpdir), [], "a failed delivery left its file in tmp/")
        os.unlink(filler)
        self.wait_done([qid])
        self.assert_once(marker, msg, "example.org/alice", "alice@example.org")
        log = self.d.log()
        self.assertNotIn(f"id={qid} event=failed", log)
        # deferred with a 4xx each time, never a 5xx, and nothing else
        # (such as a bounce) was queued
        replies = re.findall(rf"id={qid} event=deferred .* reply=\"?(\d)", log)
        self.assertTrue(replies and set(replies) == {"4"}, replies)
        self.assertEqual(spool_ids(self.d.spool), set())


if __name__ == "__main__":
    harness.tap.main()
