#!/usr/bin/env python3
"""test_sieve_delivery.py - Sieve in local delivery (delivery/mda.c,
mda_sieve.c), against a real slapd and a real dirmaild: scripts from the
directory's dirmailSieve and from a user's ManageSieve store (.active),
run by the queue runner (SMTP in), the LMTP service (smtplib.LMTP) and
dirmail-deliver alike. Checked on disk: fileinto by header, :create,
fileinto a missing folder (INBOX), imap4flags in the file name (cur/),
discard, redirect with the original envelope sender, a redirect loop
stopped, vacation once per period and silent for list and auto-submitted
mail, reject as LMTP's per-recipient 550 5.7.1, a broken script delivering
to INBOX with its line:column in the log, global before/after scripts,
the default folders with their SPECIAL-USE marks at the first delivery,
and the quota warning at 90 %."""
import base64
import glob
import os
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import TOP_BUILDDIR, Dirmaild, built  # noqa: E402
from harness.mail import queue_id, spool_ids, split_trace, wait_for  # noqa: E402
from harness.pop3 import make_dir as pop3_make_dir  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

DELIVER = os.path.join(TOP_BUILDDIR, "delivery", "dirmail-deliver")

SALLY = r'''require ["fileinto", "imap4flags", "mailbox", "reject"];
# filing by header
if header :contains "subject" "[work]" { fileinto "Work"; stop; }
if header :contains "subject" "[list]" { fileinto :create "Lists.dev"; stop; }
if header :contains "subject" "[flag]" { addflag ["\\Seen", "\\Flagged"]; keep; stop; }
if header :contains "subject" "[trash]" { discard; stop; }
if header :contains "subject" "[sent]" { fileinto "Sent"; stop; }
if header :contains "subject" "[fwd]" { redirect "rita@example.org"; stop; }
if header :contains "subject" "[nope]" { reject "no thanks"; stop; }
'''
LOOPA = 'redirect "loopb@example.org";\n'
LOOPB = 'redirect "loopa@example.org";\n'
VERA = ('require "vacation";\n'
        'vacation :days 1 :subject "Away" :addresses ["vera@example.org"] "I am away.";\n')
# line 3, column 1: "}" where a test was expected
BROKEN = 'require "fileinto";\nif header :is "subject" "x"\n}\n'
ACTIVE = 'require ["fileinto", "mailbox"];\nfileinto :create "FromStore";\n'
BEFORE = ('require "fileinto";\n'
          'if header :is "X-Spam" "yes" { fileinto "Junk"; stop; }\n')
AFTER = ('require ["fileinto", "mailbox"];\n'
         'if header :contains "subject" "[after]" { fileinto :create "After"; }\n')


def make_dir(path, mode=0o755):
    """harness.pop3.make_dir (the mail user's folder) with mode."""
    os.chmod(pop3_make_dir(path), mode)
    return path


def user(uid, script=None, quota=None):
    ldif = (f"dn: uid={uid},ou=people,dc=example,dc=org\n"
            "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
            f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@example.org\n")
    if script is not None:
        ldif += "dirmailSieve:: " + base64.b64encode(script.encode()).decode() + "\n"
    if quota is not None:
        ldif += f"dirmailQuota: {quota}\n"
    return ldif


@unittest.skipUnless(built(), "dirmaild not built")
class SieveDelivery(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        for uid, script, quota in (("sally", SALLY, None), ("rita", None, None),
                                   ("loopa", LOOPA, None), ("loopb", LOOPB, None),
                                   ("vera", VERA, None), ("sam", None, None),
                                   ("brok", BROKEN, None), ("mona", None, None),
                                   ("quinn", None, 20000), ("dora", None, None),
                                   ("imogen", None, None)):
            cls.ldap.add(user(uid, script, quota))
        cls.base = make_dir(os.path.join(process.tempdir("sieve-vmail-"), "vmail"), 0o700)
        scripts = make_dir(process.tempdir("sieve-global-"))
        cls.before = os.path.join(scripts, "before.sieve")
        cls.after = os.path.join(scripts, "after.sieve")
        for path, text in ((cls.before, BEFORE), (cls.after, AFTER)):
            with open(path, "w") as f:
                f.write(text)
        # mona has an active ManageSieve script (the store's layout) and no
        # directory script
        store = make_dir(os.path.join(cls.base, "example.org", "mona", "Maildir", "sieve"), 0o700)
        with open(os.path.join(store, "mine.sieve"), "w") as f:
            f.write(ACTIVE)
        os.symlink("mine.sieve", os.path.join(store, ".active"))
        # imogen made a sent-mail folder of her own over IMAP (CREATE "Sent
        # Items" (USE (\Sent)), RFC 6154 5.2) before any mail came
        imap_root = make_dir(os.path.join(cls.base, "example.org", "imogen", "Maildir"), 0o700)
        with open(os.path.join(imap_root, "dirmail-special-use"), "w") as f:
            f.write("Sent Items \\Sent\n")
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(os.path.join(cls.base, "example.org")):
                for n in dirs + files:
                    os.lchown(os.path.join(root, n), 65534, 65534)
            os.lchown(os.path.join(cls.base, "example.org"), 65534, 65534)
        cls.d = Dirmaild(
            services=[{"type": "smtp"},
                      {"type": "lmtp", "trusted_networks": ["127.0.0.1/32"]}],
            workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 1},
            delivery={"mailbox_base": cls.base, "sieve_before": [cls.before],
                      "sieve_after": [cls.after]})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    # ---- helpers ----

    def send(self, rcpt, subject, marker, sender="orig@remote.example", headers=b"",
             body=b"Hello.\r\n", wait=True):
        """One message over SMTP; waits until the runner is done with it."""
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        msg = (b"From: <" + sender.encode() + b">\r\nTo: <" + rcpt.encode() + b">\r\n"
               b"Subject: " + subject.encode() + b"\r\nMessage-ID: <" + marker.encode()
               + b"@remote.example>\r\nX-Marker: " + marker.encode() + b"\r\n" + headers
               + b"\r\n" + body)
        s.ehlo()
        self.assertEqual(s.mail(sender)[0], 250)
        code, text = s.rcpt(rcpt)
        self.assertEqual(code, 250, text)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        s.quit()
        qid = queue_id(text)
        if wait:
            self.wait_done(qid)
        return qid

    def wait_done(self, qid):
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=30,
                 what=f"{qid} delivered\n{self.d.log()[-3000:]}")

    def maildir(self, uid):
        return os.path.join(self.base, "example.org", uid, "Maildir")

    def files(self, uid, folder, marker, sub=("new", "cur")):
        """[(name, bytes)] of the files in a folder ("" INBOX) holding marker."""
        root = self.maildir(uid)
        box = os.path.join(root, "." + folder) if folder else root
        out = []
        for s in sub:
            for path in glob.glob(os.path.join(box, s, "*")):
                with open(path, "rb") as f:
                    data = f.read()
                if b"X-Marker: " + marker.encode() + b"\n" in data:
                    out.append((s + "/" + os.path.basename(path), data))
        return out

    def where(self, uid, marker):
        """The folders (""=INBOX) of uid's Maildir holding marker."""
        root = self.maildir(uid)
        found = []
        for box in [root] + sorted(glob.glob(os.path.join(root, ".*"))):
            folder = "" if box == root else os.path.basename(box)[1:]
            if self.files(uid, folder, marker):
                found.append(folder)
        return found

    def lmtp(self, sender, rcpts):
        """An LMTP session after MAIL and RCPT (each accepted)."""
        c = smtplib.LMTP("127.0.0.1", self.d.port("lmtp"), timeout=30)
        self.addCleanup(c.close)
        self.assertEqual(c.ehlo("client.test")[0], 250)
        self.assertEqual(c.mail(sender)[0], 250)
        for rcpt in rcpts:
            self.assertEqual(c.rcpt(rcpt)[0], 250)
        return c

    def deliver(self, message, rcpt, sender="s@remote.example"):
        p = subprocess.run([DELIVER, "-c", self.d.path, "-f", sender, "-a", rcpt],
                           input=message, capture_output=True, timeout=60)
        return p.returncode, p.stderr.decode(errors="replace")

    # ---- tests ----

    def test_fileinto_by_header_and_create(self):
        self.send("sally@example.org", "[list] dev", "sv-list")
        self.assertEqual(self.where("sally", "sv-list"), ["Lists.dev"])
        folder = os.path.join(self.maildir("sally"), ".Lists.dev")
        self.assertTrue(os.path.isfile(os.path.join(folder, "maildirfolder")))
        # no :create and no such folder: INBOX, said in the log
        self.send("sally@example.org", "[work] plan", "sv-work")
        self.assertEqual(self.where("sally", "sv-work"), [""])
        self.assertRegex(self.d.log(), r"event=sieve_fileinto_missing rcpt=sally@example.org "
                                       r"folder=Work stored=INBOX")
        # a default folder exists from the first delivery: filed there
        self.send("sally@example.org", "[sent] copy", "sv-sent")
        self.assertEqual(self.where("sally", "sv-sent"), ["Sent"])
        # no rule matches: the implicit keep
        self.send("sally@example.org", "hello", "sv-plain")
        self.assertEqual(self.where("sally", "sv-plain"), [""])

    def test_imap4flags_in_file_name(self):
        self.send("sally@example.org", "[flag] me", "sv-flag")
        got = self.files("sally", "", "sv-flag")
        self.assertEqual(len(got), 1, got)
        name = got[0][0]
        self.assertTrue(name.startswith("cur/"), name)
        self.assertTrue(name.endswith(":2,FS"), name)

    def test_discard(self):
        self.send("sally@example.org", "[trash] spam", "sv-discard")
        self.assertEqual(self.where("sally", "sv-discard"), [])
        self.assertRegex(self.d.log(), r"event=sieve_discard rcpt=sally@example.org")

    def test_redirect_keeps_original_sender(self):
        self.send("sally@example.org", "[fwd] pass on", "sv-fwd", sender="orig@remote.example")
        wait_for(lambda: self.files("rita", "", "sv-fwd"), timeout=30,
                 what=f"the redirect at rita\n{self.d.log()[-3000:]}")
        self.assertEqual(self.where("sally", "sv-fwd"), [])  # redirect cancels the keep
        (name, data), = self.files("rita", "", "sv-fwd")
        trace, _ = split_trace(data)
        self.assertEqual(trace[0], ("return-path", "<orig@remote.example>"))
        self.assertEqual([v for n, v in trace if n == "delivered-to"],
                         ["rita@example.org", "sally@example.org"])

    def test_redirect_loop_is_stopped(self):
        self.send("loopa@example.org", "ping", "sv-loop")
        # loopa sends it to loopb, whose redirect back to loopa is a loop:
        # loopb keeps it
        wait_for(lambda: self.files("loopb", "", "sv-loop"), timeout=30,
                 what=f"the loop stopped at loopb\n{self.d.log()[-3000:]}")
        self.assertRegex(self.d.log(), r"event=sieve_redirect_loop rcpt=loopb@example.org "
                                       r"to=loopa@example.org")
        self.assertEqual(self.where("loopa", "sv-loop"), [])
        self.assertEqual(len(self.files("loopb", "", "sv-loop")), 1)

    def vacation_replies(self, uid="sam"):
        out = []
        for path in glob.glob(os.path.join(self.maildir(uid), "new", "*")):
            with open(path, "rb") as f:
                data = f.read()
            if b"Auto-Submitted: auto-replied (vacation)" in data:
                out.append(data)
        return out

    def test_vacation_once_and_never_to_lists_or_auto_replies(self):
        self.send("vera@example.org", "question", "sv-vac1", sender="sam@example.org")
        wait_for(lambda: self.vacation_replies(), timeout=30,
                 what=f"the vacation reply at sam\n{self.d.log()[-3000:]}")
        reply = self.vacation_replies()[0]
        trace, body = split_trace(reply)
        self.assertEqual(trace[0], ("return-path", "<>"))  # RFC 3834 3.3
        self.assertIn(b"Subject: Away\n", body)
        self.assertIn(b"In-Reply-To: <sv-vac1@remote.example>\n", body)
        self.assertIn(b"I am away.", body)
        # the second message within :days: no second reply
        self.send("vera@example.org", "again", "sv-vac2", sender="sam@example.org")
        # a list message and an auto-submitted one: silence (RFC 3834 2)
        self.send("vera@example.org", "list", "sv-vac3", sender="dora@example.org",
                  headers=b"List-Id: <dev.lists.example.org>\r\n")
        self.send("vera@example.org", "auto", "sv-vac4", sender="dora@example.org",
                  headers=b"Auto-Submitted: auto-generated\r\n")
        # not addressed to vera in To or Cc (a Bcc copy): silence (RFC 5230 4.5)
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        self.addCleanup(s.close)
        s.sendmail("dora@example.org", ["vera@example.org"],
                   b"From: <dora@example.org>\r\nTo: <team@example.net>\r\nSubject: bcc\r\n"
                   b"X-Marker: sv-vac5\r\n\r\nx\r\n")
        s.quit()
        wait_for(lambda: self.files("vera", "", "sv-vac5"), timeout=30, what="sv-vac5 at vera")
        for m in ("sv-vac1", "sv-vac2", "sv-vac3", "sv-vac4", "sv-vac5"):
            self.assertEqual(self.where("vera", m), [""], m)
        # every reply the runner had to deliver is delivered by now: the
        # spool is empty
        wait_for(lambda: not spool_ids(self.d.spool), timeout=30, what="the spool empty")
        self.assertEqual(len(self.vacation_replies()), 1)
        self.assertEqual(self.vacation_replies("dora"), [])
        self.assertEqual(self.d.log().count("event=sieve_vacation rcpt=vera@example.org"), 1)

    def test_reject_through_lmtp_per_recipient(self):
        c = self.lmtp("orig@remote.example", ["sally@example.org", "rita@example.org"])
        code, text = c.data(b"Subject: [nope] buy\r\nX-Marker: sv-reject\r\n\r\nx\r\n")
        rest = c.getreply()
        self.assertEqual((code, text[:5]), (550, b"5.7.1"), text)
        self.assertIn(b"no thanks", text)
        self.assertEqual(rest[0], 250, rest)
        c.quit()
        self.assertEqual(self.where("sally", "sv-reject"), [])
        self.assertEqual(self.where("rita", "sv-reject"), [""])

    def test_reject_through_the_queue_is_a_dsn(self):
        # the gateway has accepted it: the runner's failure is the DSN
        self.send("sally@example.org", "[nope] via smtp", "sv-reject-dsn",
                  sender="dora@example.org")
        self.assertEqual(self.where("sally", "sv-reject-dsn"), [])

        def bounce():
            for path in glob.glob(os.path.join(self.maildir("dora"), "new", "*")):
                with open(path, "rb") as f:
                    data = f.read()
                if b"sv-reject-dsn" in data and b"multipart/report" in data:
                    return data
            return None
        dsn = wait_for(bounce, timeout=30, what=f"the DSN at dora\n{self.d.log()[-3000:]}")
        self.assertIn(b"Status: 5.7.1", dsn)
        self.assertIn(b"no thanks", dsn)

    def test_lmtp_runs_the_same_script(self):
        c = self.lmtp("orig@remote.example", ["sally@example.org"])
        code, text = c.data(b"Subject: [list] over lmtp\r\nX-Marker: sv-lmtp-list\r\n\r\nx\r\n")
        self.assertEqual(code, 250, text)
        # a redirect from LMTP goes into the same queue
        self.assertEqual(c.mail("lmtp-orig@remote.example")[0], 250)
        self.assertEqual(c.rcpt("sally@example.org")[0], 250)
        code, text = c.data(b"Subject: [fwd] over lmtp\r\nX-Marker: sv-lmtp-fwd\r\n\r\nx\r\n")
        self.assertEqual(code, 250, text)
        c.quit()
        self.assertEqual(self.where("sally", "sv-lmtp-list"), ["Lists.dev"])
        wait_for(lambda: self.files("rita", "", "sv-lmtp-fwd"), timeout=30,
                 what=f"the LMTP redirect at rita\n{self.d.log()[-3000:]}")
        (_, data), = self.files("rita", "", "sv-lmtp-fwd")
        self.assertEqual(split_trace(data)[0][0], ("return-path", "<lmtp-orig@remote.example>"))
        self.assertNotIn("event=lmtp_queue_unavailable", self.d.log())

    def test_broken_script_delivers_to_inbox_with_line_and_column(self):
        self.send("brok@example.org", "anything", "sv-broken")
        self.assertEqual(self.where("brok", "sv-broken"), [""])
        self.assertRegex(self.d.log(), r"event=sieve_compile_error rcpt=brok@example.org "
                                       r"script=directory at=3:1 ")

    @unittest.skipUnless(os.access(DELIVER, os.X_OK), "dirmail-deliver not built")
    def test_dirmail_deliver_runs_the_same_scripts(self):
        code, err = self.deliver(b"Subject: [list] cli\nX-Marker: sv-cli-list\n\nx\n",
                                 "sally@example.org")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.where("sally", "sv-cli-list"), ["Lists.dev"])
        code, err = self.deliver(b"Subject: x\nX-Marker: sv-cli-broken\n\nx\n",
                                 "brok@example.org")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.where("brok", "sv-cli-broken"), [""])
        self.assertRegex(err, r"event=sieve_compile_error rcpt=brok@example.org "
                              r"script=directory at=3:1 ")
        # reject without a protocol to refuse in: the MTA's bounce (77)
        code, err = self.deliver(b"Subject: [nope]\nX-Marker: sv-cli-reject\n\nx\n",
                                 "sally@example.org")
        self.assertEqual(code, 77, err)
        self.assertIn("5.7.1", err)

    def test_active_managesieve_script_is_used(self):
        self.send("mona@example.org", "store", "sv-active")
        self.assertEqual(self.where("mona", "sv-active"), ["FromStore"])

    def test_global_before_and_after(self):
        # before: X-Spam to Junk, ahead of the user's own script
        self.send("sally@example.org", "[list] spam", "sv-before", headers=b"X-Spam: yes\r\n")
        self.assertEqual(self.where("sally", "sv-before"), ["Junk"])
        # after: runs after the user's (no match) script, for a user with none too
        self.send("rita@example.org", "[after] x", "sv-after")
        self.assertEqual(self.where("rita", "sv-after"), ["After"])

    def test_default_folders_at_first_delivery(self):
        self.send("mona@example.org", "first", "sv-first")
        root = self.maildir("mona")
        for folder in ("Sent", "Drafts", "Trash", "Junk"):
            for sub in ("cur", "new", "tmp"):
                self.assertTrue(os.path.isdir(os.path.join(root, "." + folder, sub)), folder)
        with open(os.path.join(root, "dirmail-special-use")) as f:
            marks = f.read()
        self.assertEqual(marks, "Sent \\Sent\nDrafts \\Drafts\nTrash \\Trash\nJunk \\Junk\n")
        with open(os.path.join(root, "dirmail-default-folders")) as f:
            self.assertEqual(f.read(), "Sent\nDrafts\nTrash\nJunk\n")

    def test_default_folders_after_imap_marks(self):
        # the marks file IMAP wrote first does not stop the default folders,
        # and its line stays: \Sent is hers, not given to Sent again
        self.send("imogen@example.org", "first", "sv-imap-first")
        root = self.maildir("imogen")
        for folder in ("Sent", "Drafts", "Trash", "Junk"):
            self.assertTrue(os.path.isdir(os.path.join(root, "." + folder, "new")), folder)
        with open(os.path.join(root, "dirmail-special-use")) as f:
            self.assertEqual(f.read(), "Sent Items \\Sent\nDrafts \\Drafts\nTrash \\Trash\n"
                             "Junk \\Junk\n")
        self.assertEqual(len(self.files("imogen", "", "sv-imap-first")), 1)

    def test_quota_warning_once_at_90_percent(self):
        qid = self.send("quinn@example.org", "small", "sv-q1", body=(b"x" * 78 + b"\r\n") * 50)
        self.assertNotIn("event=quota_warning rcpt=quinn@example.org", self.d.log())
        # this one crosses 18000 of 20000 octets
        qid = self.send("quinn@example.org", "big", "sv-q2", body=(b"y" * 78 + b"\r\n") * 175)
        self.assertRegex(self.d.log(), rf"id={qid} event=quota_warning rcpt=quinn@example.org ")
        wait_for(lambda: [p for p in glob.glob(os.path.join(self.maildir("quinn"), "new", "*"))
                          if b"almost full" in open(p, "rb").read()],
                 timeout=30, what=f"the warning at quinn\n{self.d.log()[-3000:]}")
        # still above the mark: no second warning
        self.send("quinn@example.org", "more", "sv-q3", body=b"z\r\n")
        self.assertEqual(self.d.log().count("event=quota_warning rcpt=quinn@example.org"), 1,
                         [line for line in self.d.log().splitlines() if "quinn" in line])


if __name__ == "__main__":
    harness.tap.main()
