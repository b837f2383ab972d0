#!/usr/bin/env python3
"""test_bounce.py - what a sender is told, through a real dirmaild on a real
slapd: a message sent with smtplib (RET, ENVID, NOTIFY, ORCPT) to a local
recipient whose mailbox is unusable (5.3.5, permanent) comes back to the
sender's own Maildir as an RFC 3464 report, parsed with Python's email
package and every field checked; NOTIFY=NEVER and the null sender get no
report (the latter logs bounce_dropped); NOTIFY=SUCCESS gets a "delivered"
report; a message waiting for a relay domain gets one delay warning and,
past queue.max_age, a 4.4.7 report, and leaves the spool."""
import email
import email.policy
import glob
import json
import os
import re
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import queue_id, spool_ids, wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
INJECT = os.path.join(TOP_BUILDDIR, "tests", "queue_inject")
DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")

SENDER = "alice@example.org"  # a local user: her reports land in her Maildir
ALICE_BOX = "example.org/alice"
RFC5322_DATE = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def as_mail_user():
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def start(ldap, base, **queue):
    settings = {"retry_min": 1, "retry_max": 1, "scan_interval": 2}
    settings.update(queue)
    d = Dirmaild(
        services=[{"type": "smtp"}], workers=1,
        ldap={"uris": [ldap.uri], "bind_dn": ldap.service_dn,
              "bind_password": ldap.service_password, "base": ldap.suffix,
              "connect_timeout": 1, "timeout": 2},
        # relay.example's next hop is a port nobody listens on: its mail waits
        # deferred (4.4.1) until queue.max_age
        domains={"local": ["example.org", "example.net"],
                 "relay": [{"domain": "relay.example",
                            "next_hop": f"[127.0.0.1]:{process.free_port()}"}]},
        cache={"size": 0}, queue=settings, delivery={"mailbox_base": base})
    d.start()
    d.wait_log(r"event=queue_runner_started")
    return d


class Reports:
    """What both classes share: sending, and reading alice's reports."""

    def send(self, rcpts, marker, sender=SENDER, mail_options=(), rcpt_options=()):
        message = (f"From: <{sender}>\r\nTo: <x@example.org>\r\nSubject: bounce {marker}\r\n"
                   f"Message-ID: <{marker}@example.org>\r\n\r\n"
                   "From the start of a line.\r\n.\r\nlast line\r\n").encode()
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertTrue(s.has_extn("dsn"))
        s.mail(sender, list(mail_options))
        for rcpt in rcpts:
            code, text = s.rcpt(rcpt, list(rcpt_options))
            self.assertEqual(code, 250, (rcpt, text))
        code, text = s.data(message)
        self.assertEqual(code, 250, text)
        s.quit()
        return queue_id(text), message

    def reports(self, marker):
        """alice's delivered reports about the message marker, parsed."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.base, ALICE_BOX, "new", "*"))):
            with open(path, "rb") as f:
                data = f.read()
            if b"From: Mail Delivery System" in data and f"<{marker}@example.org>".encode() in data:
                out.append(email.message_from_bytes(data, policy=email.policy.compat32))
        return out

    def wait_reports(self, marker, count=1, timeout=30):
        return wait_for(lambda: len(self.reports(marker)) >= count and self.reports(marker),
                        timeout=timeout, what=f"report about {marker}\n{self.d.log()[-4000:]}")

    def check_structure(self, msg):
        """The report's own header and its three parts; (text, per-message
        fields, [per-recipient fields], original part)."""
        self.assertEqual(msg["From"], "Mail Delivery System <MAILER-DAEMON@mx.test.example>")
        self.assertEqual(msg["To"], f"<{SENDER}>")
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertRegex(msg["Date"], RFC5322_DATE)
        self.assertRegex(msg["Message-ID"], r"^<[0-9a-f]{23}\.dsn@mx\.test\.example>$")
        self.assertEqual(msg["Return-Path"], "<>")  # from the null sender
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = msg.get_payload()
        self.assertEqual(len(parts), 3, [p.get_content_type() for p in parts])
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        blocks = parts[1].get_payload()  # compat32: one Message per field block
        return parts[0].get_payload(), blocks[0], blocks[1:], parts[2]


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class Bounces(Reports, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.ldap.add("dn: uid=paul,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: paul\ncn: Paul\nsn: Paul\nmail: paul@example.org\n"
                     "dirmailMailbox: example.org/paul/\n")
        cls.base = make_dir(os.path.join(process.tempdir("bounce-vmail-"), "vmail"))
        # paul's mailbox is a file, not a folder: his Maildir is unusable,
        # a permanent failure (5.3.5) of the local transport
        make_dir(os.path.join(cls.base, "example.org"))
        with open(os.path.join(cls.base, "example.org", "paul"), "w") as f:
            f.write("not a folder\n")
        cls.d = start(cls.ldap, cls.base, delay_warning=0)

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()[-3000:]}"
        assert not errors, errors

    def inject(self, sender, rcpts, message):
        res = subprocess.run([INJECT, self.d.spool, sender] + rcpts, input=message,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=as_mail_user, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        return res.stdout.decode().split()[0]

    def test_permanent_failure_reported_with_every_field(self):
        qid, message = self.send(["paul@example.org", "bob@example.org"], "perm1",
                                 mail_options=["RET=FULL", "ENVID=env+2Dperm1"],
                                 rcpt_options=["NOTIFY=FAILURE", "ORCPT=rfc822;Paul+40example.org"])
        [msg] = self.wait_reports("perm1")
        wait_for(lambda: qid not in spool_ids(self.d.spool), what="original removed")
        self.assertEqual(msg["Subject"], "Undelivered Mail Returned to Sender")
        text, per_msg, per_rcpt, orig = self.check_structure(msg)
        self.assertIn("<paul@example.org>", text)
        self.assertIn("5.3.5 mailbox unusable", text)
        self.assertNotIn("bob@example.org", text)  # delivered: not reported
        self.assertEqual(per_msg["Reporting-MTA"], "dns; mx.test.example")
        self.assertEqual(per_msg["Original-Envelope-Id"], "env-perm1")  # xtext decoded
        self.assertRegex(per_msg["Arrival-Date"], RFC5322_DATE)
        self.assertEqual(len(per_rcpt), 1)
        r = per_rcpt[0]
        self.assertEqual(r["Original-Recipient"], "rfc822;Paul@example.org")
        self.assertEqual(r["Final-Recipient"], "rfc822; paul@example.org")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.3.5")
        self.assertRegex(r["Diagnostic-Code"], r"^smtp; 550 5\.3\.5 mailbox unusable: ")
        self.assertRegex(r["Last-Attempt-Date"], RFC5322_DATE)
        self.assertIsNone(r["Remote-MTA"])  # we gave the reply
        self.assertIsNone(r["Will-Retry-Until"])
        # RET=FULL: the whole original, byte for byte, "From " and "." lines kept
        self.assertEqual(orig.get_content_type(), "message/rfc822")
        inner = orig.get_payload()[0]
        self.assertEqual(inner["Message-ID"], "<perm1@example.org>")
        self.assertIn("\nFrom the start of a line.\n.\nlast line\n", inner.as_string())
        self.assertRegex(self.d.log(), rf"id={qid} event=dsn_queued kind=failure recipients=1 ")
        # bob got his copy: the failure of one recipient is not the message's
        self.assertTrue(glob.glob(os.path.join(self.base, "example.org/bob/new/*")))

    def test_ret_hdrs_carries_header_only(self):
        self.send(["paul@example.org"], "hdrs1", mail_options=["RET=HDRS"])
        [msg] = self.wait_reports("hdrs1")
        _, _, per_rcpt, orig = self.check_structure(msg)
        self.assertEqual(orig.get_content_type(), "text/rfc822-headers")
        self.assertIn("Message-ID: <hdrs1@example.org>", orig.get_payload())
        self.assertNotIn("last line", orig.get_payload())
        self.assertIsNone(per_rcpt[0]["Original-Recipient"])  # no ORCPT given

    def test_notify_never_gets_no_report(self):
        qid, _ = self.send(["paul@example.org"], "never1", rcpt_options=["NOTIFY=NEVER"])
        self.d.wait_log(rf"id={qid} event=failed rcpt=paul@example.org ", timeout=30)
        wait_for(lambda: qid not in spool_ids(self.d.spool), what="removed")
        self.assertNotRegex(self.d.log(), rf"id={qid} event=dsn_queued")
        self.assertEqual(self.reports("never1"), [])

    def test_null_sender_failure_dropped(self):
        message = (b"From: <MAILER-DAEMON@elsewhere.example>\r\nSubject: a bounce\r\n"
                   b"Message-ID: <null1@example.org>\r\n\r\nbody\r\n")
        qid = self.inject("", ["paul@example.org"], message)
        self.d.wait_log(rf"id={qid} event=bounce_dropped rcpt=paul@example.org reason=null_sender",
                        timeout=30)
        wait_for(lambda: qid not in spool_ids(self.d.spool), what="removed")
        self.assertNotRegex(self.d.log(), rf"id={qid} event=dsn_queued")

    def test_unknown_recipient_at_delivery_bounces(self):
        # accepted earlier (here: injected past the SMTP check), gone from
        # the directory by delivery time: 5.1.1
        qid = self.inject(SENDER, ["nobody-here@example.org"],
                          b"Subject: late\r\nMessage-ID: <late1@example.org>\r\n\r\nx\r\n")
        [msg] = self.wait_reports("late1")
        _, _, per_rcpt, _ = self.check_structure(msg)
        self.assertEqual(per_rcpt[0]["Status"], "5.1.1")
        self.assertEqual(per_rcpt[0]["Final-Recipient"], "rfc822; nobody-here@example.org")
        wait_for(lambda: qid not in spool_ids(self.d.spool), what="removed")

    def test_notify_success_reports_delivered(self):
        self.send(["bob@example.org"], "succ1", rcpt_options=["NOTIFY=SUCCESS"])
        [msg] = self.wait_reports("succ1")
        self.assertEqual(msg["Subject"], "Successful Mail Delivery Report")
        _, _, per_rcpt, _ = self.check_structure(msg)
        self.assertEqual(per_rcpt[0]["Action"], "delivered")
        self.assertEqual(per_rcpt[0]["Status"], "2.0.0")

    def test_a_bounce_of_a_bounce_is_never_sent(self):
        # the report to a sender whose mailbox is unusable fails in turn:
        # that failure (from the null sender) is dropped, not reported
        qid = self.inject("paul@example.org", ["nobody-here@example.org"],
                          b"Subject: loop\r\nMessage-ID: <loop1@example.org>\r\n\r\nx\r\n")
        m = self.d.wait_log(rf"id={qid} event=dsn_queued kind=failure recipients=1 "
                            r"dsn_id=([0-9a-f]{23})", timeout=30)
        dsn_id = m.group(1)
        self.d.wait_log(rf"id={dsn_id} event=bounce_dropped rcpt=paul@example.org", timeout=30)
        wait_for(lambda: dsn_id not in spool_ids(self.d.spool), what="report removed")
        self.assertNotRegex(self.d.log(), rf"id={dsn_id} event=dsn_queued")

    def test_queue_list_and_show_while_running(self):
        # a relay-domain recipient waits (its next hop does not answer), a
        # local one is delivered: the message stays, listed as such
        qid, _ = self.send(["someone@relay.example"], "ctl1", mail_options=["ENVID=ctl1"],
                           rcpt_options=["ORCPT=rfc822;someone@relay.example"])
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@relay.example ", timeout=30)

        def ctl(*args):
            res = subprocess.run([DIRMAILCTL, "-c", self.d.path] + list(args),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=as_mail_user, timeout=60)
            return res
        res = ctl("queue", "list", "--json")
        self.assertEqual(res.returncode, 0, res.stderr)
        listed = {m["id"]: m for m in json.loads(res.stdout)}
        self.assertIn(qid, listed)
        m = listed[qid]
        self.assertEqual(m["sender"], SENDER)
        self.assertEqual(m["envid"], "ctl1")
        [r] = m["recipients"]
        self.assertEqual(r["address"], "someone@relay.example")
        self.assertEqual(r["state"], "deferred")
        self.assertGreater(r["next_try"], 0)
        self.assertRegex(r["last_error"], r"^4\.4\.1 ")
        self.assertEqual(r["orcpt"], "rfc822;someone@relay.example")
        res = ctl("queue", "list")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, rf"(?m)^{qid} arrival=\S+ size=\d+ sender=<{SENDER}> "
                                     r"recipients=1\n  rcpt=<someone@relay.example> "
                                     r"state=deferred next_try=\S+ last_error=\"4\.4\.1 ")
        res = ctl("queue", "show", qid, "--json")
        self.assertEqual(res.returncode, 0, res.stderr)
        shown = json.loads(res.stdout)
        self.assertEqual(shown["message"]["id"], qid)
        self.assertIn("Message-ID: <ctl1@example.org>\r\n", shown["header"])
        self.assertNotIn("last line", shown["header"])  # the header section only
        self.assertEqual(shown["client_helo"], "client.test")
        res = ctl("queue", "show", "0" * 23)
        self.assertEqual(res.returncode, 1, res)
        res = ctl("queue", "frobnicate")
        self.assertEqual(res.returncode, 64, res)

    def ctl(self, *args):
        return subprocess.run([DIRMAILCTL, "-c", self.d.path] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=60)

    def test_queue_bounce_returns_the_message_with_a_report(self):
        qid, _ = self.send(["waits@relay.example"], "ctlb1")
        self.d.wait_log(rf"id={qid} event=deferred rcpt=waits@relay.example ", timeout=30)
        res = self.ctl("queue", "bounce", qid)
        self.assertEqual(res.returncode, 0, res)
        self.assertRegex(res.stdout, rf"^{qid}: 1 recipients returned, report [0-9a-f]{{23}}\n$")
        [msg] = self.wait_reports("ctlb1")
        _, _, per_rcpt, orig = self.check_structure(msg)
        self.assertEqual(per_rcpt[0]["Action"], "failed")
        self.assertEqual(per_rcpt[0]["Status"], "5.0.0")
        self.assertRegex(per_rcpt[0]["Diagnostic-Code"],
                         r"^smtp; 550 5\.0\.0 returned to the sender by the administrator")
        self.assertEqual(orig.get_content_type(), "message/rfc822")
        # the runner removes it at its next attempt: all recipients final
        self.d.wait_log(rf"id={qid} event=removed ", timeout=30)
        self.assertNotIn(qid, spool_ids(self.d.spool))
        self.assertEqual(self.ctl("queue", "bounce", qid).returncode, 1)

    def test_queue_delete_removes_without_report(self):
        qid, _ = self.send(["waits@relay.example"], "ctld1")
        self.d.wait_log(rf"id={qid} event=deferred rcpt=waits@relay.example ", timeout=30)
        res = self.ctl("queue", "delete", qid)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout, f"{qid}: 1 recipients deleted\n")
        self.d.wait_log(rf"id={qid} event=removed ", timeout=30)
        self.assertEqual(self.reports("ctld1"), [])
        self.assertNotRegex(self.d.log(), rf"id={qid} event=dsn_queued")


@unittest.skipUnless(built(), "dirmaild not built")
class Expiry(Reports, unittest.TestCase):
    MAX_AGE = 4

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("expiry-vmail-"), "vmail"))
        cls.d = start(cls.ldap, cls.base, max_age=cls.MAX_AGE, delay_warning=1)

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()[-3000:]}"
        assert not errors, errors

    def test_delay_warning_once_then_expiry_4_4_7(self):
        # relay domains wait (their next hop does not answer) until max_age
        qid, _ = self.send(["someone@relay.example"], "exp1", mail_options=["ENVID=exp1"])
        warning = self.wait_reports("exp1")[0]
        self.assertEqual(warning["Subject"], "Delayed Mail (still being retried)")
        _, per_msg, per_rcpt, orig = self.check_structure(warning)
        self.assertEqual(per_msg["Original-Envelope-Id"], "exp1")
        r = per_rcpt[0]
        self.assertEqual(r["Action"], "delayed")
        self.assertEqual(r["Status"], "4.4.1")
        self.assertRegex(r["Diagnostic-Code"], r"^smtp; 4\d\d 4\.4\.1 ")
        self.assertRegex(r["Will-Retry-Until"], RFC5322_DATE)
        self.assertEqual(orig.get_content_type(), "message/rfc822")
        # then, once max_age has passed: failed, 4.4.7, the last reply kept
        wait_for(lambda: len(self.reports("exp1")) == 2, timeout=self.MAX_AGE + 30,
                 what=f"expiry report\n{self.d.log()[-4000:]}")
        wait_for(lambda: qid not in spool_ids(self.d.spool), what="expired message removed")
        failure = [m for m in self.reports("exp1")
                   if m["Subject"] == "Undelivered Mail Returned to Sender"]
        self.assertEqual(len(failure), 1)
        _, _, per_rcpt, _ = self.check_structure(failure[0])
        r = per_rcpt[0]
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "4.4.7")
        self.assertRegex(r["Diagnostic-Code"],
                         r"^smtp; 4\d\d 4\.4\.7 delivery time expired: 4\.4\.1 ")
        log = self.d.log()
        # retried every second, warned once
        self.assertGreaterEqual(len(re.findall(rf"id={qid} event=deferred ", log)), 2)
        self.assertEqual(len(re.findall(rf"id={qid} event=dsn_queued kind=delay ", log)), 1)
        self.assertEqual(len(re.findall(rf"id={qid} event=dsn_queued kind=failure ", log)), 1)
        self.assertRegex(log, rf"id={qid} event=failed rcpt=someone@relay.example .*4\.4\.7")

    def test_notify_failure_only_gets_no_warning(self):
        qid, _ = self.send(["other@relay.example"], "exp2", rcpt_options=["NOTIFY=FAILURE"])
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=self.MAX_AGE + 30,
                 what=f"expired\n{self.d.log()[-3000:]}")
        [msg] = self.wait_reports("exp2")
        self.assertEqual(msg["Subject"], "Undelivered Mail Returned to Sender")
        self.assertNotRegex(self.d.log(), rf"id={qid} event=dsn_queued kind=delay")


if __name__ == "__main__":
    harness.tap.main()
