#!/usr/bin/env python3
"""test_dirmail_deliver.py - the command-line delivery agent
(delivery/dirmail_deliver.c) run as an MTA runs it, a message on stdin,
against a real slapd: every exit status of doc/dirmail-deliver.1 with
dirmaild running (the auth process is asked), and with dirmaild stopped
(the directory is asked directly), and 75 once slapd is stopped too."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import TOP_BUILDDIR, Dirmaild, built  # noqa: E402
from harness.mail import copies, split_trace  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

DELIVER = os.path.join(TOP_BUILDDIR, "delivery", "dirmail-deliver")
EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER, EX_CANTCREAT, EX_TEMPFAIL, EX_NOPERM = (
    0, 64, 65, 67, 73, 75, 77)


def make_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


@unittest.skipUnless(built() and os.access(DELIVER, os.X_OK), "dirmail-deliver not built")
class DirmailDeliver(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.ldap.add("dn: uid=hank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: hank\ncn: Hank\nsn: Hank\nmail: hank@example.org\n"
                     "dirmailQuota: 300\n")
        cls.base = make_dir(os.path.join(process.tempdir("deliver-vmail-"), "vmail"), 0o700)
        cls.d = Dirmaild(
            services=[{"type": "smtp"}], workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            limits={"message_size": 20000},
            delivery={"mailbox_base": cls.base})
        cls.d.start()
        # the same settings but an over-quota mailbox bounces (73)
        cls.d.configure(delivery={"quota_permanent": True})
        cls.perm_conf = os.path.join(cls.d.dir, "permanent-quota.conf")
        with open(cls.perm_conf, "w") as f:
            f.write(cls.d.text())
        cls.d.configure(delivery={"quota_permanent": None})

    @classmethod
    def tearDownClass(cls):
        if cls.d.running():
            cls.d.stop()
        if cls.ldap.running():
            cls.ldap.stop()

    def deliver(self, message, rcpt, *extra, sender="s@remote.example", conf=None, user=None):
        argv = [DELIVER, "-c", conf or self.d.path, "-f", sender, "-a", rcpt, *extra]
        p = subprocess.run(argv, input=message, capture_output=True, timeout=60,
                           preexec_fn=(lambda: os.setuid(user)) if user is not None else None)
        return p.returncode, p.stderr.decode(errors="replace")

    def one_copy(self, box, marker):
        found = [(p, d) for p, d in copies(self.base, marker) if p.startswith(box)]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_delivered_with_trace_fields(self):
        msg = b"Subject: lf lines\nX-Marker: deliver-ok\n\nbody\n.single dot\n"
        code, err = self.deliver(msg, "alice@example.org")
        self.assertEqual(code, EX_OK, err)
        path, data = self.one_copy("example.org/alice/new/", b"deliver-ok")
        trace, body = split_trace(data)
        self.assertEqual(trace[:2], [("return-path", "<s@remote.example>"),
                                     ("delivered-to", "alice@example.org")])
        self.assertEqual(body, msg)  # LF input is stored as it came

    def test_folder_created_on_demand(self):
        code, err = self.deliver(b"Subject: f\nX-Marker: deliver-folder\n\nx\n",
                                 "carol@example.net", "-m", "Lists.dev")
        self.assertEqual(code, EX_OK, err)
        folder = os.path.join(self.base, "example.net/carol/.Lists.dev")
        # (harness copies() globs, which skips dot folders: look in it directly)
        new = os.listdir(os.path.join(folder, "new"))
        self.assertEqual(len(new), 1, new)
        with open(os.path.join(folder, "new", new[0]), "rb") as f:
            self.assertIn(b"deliver-folder", f.read())
        self.assertEqual(copies(os.path.join(self.base, "example.net/carol"), b"deliver-folder"),
                         [])  # not in INBOX
        for sub in ("cur", "new", "tmp"):
            self.assertTrue(os.path.isdir(os.path.join(folder, sub)), sub)

    def test_unknown_user_is_67(self):
        code, err = self.deliver(b"Subject: x\n\nx\n", "nobody@example.org")
        self.assertEqual(code, EX_NOUSER, err)
        self.assertIn("5.1.1", err)
        self.assertIn("asked the auth", err)

    def test_over_quota_is_75_or_73_when_permanent(self):
        big = b"Subject: big\nX-Marker: deliver-quota\n\n" + b"x" * 400 + b"\n"
        code, err = self.deliver(big, "hank@example.org")
        self.assertEqual(code, EX_TEMPFAIL, err)
        self.assertIn("4.2.2", err)
        code, err = self.deliver(big, "hank@example.org", conf=self.perm_conf)
        self.assertEqual(code, EX_CANTCREAT, err)
        self.assertIn("5.2.2", err)
        self.assertEqual(copies(self.base, b"deliver-quota"), [])

    def test_bad_input_is_65(self):
        for name, msg in (("bare CR", b"Subject: x\n\nbad\rline\n"),
                          ("NUL", b"Subject: x\n\nbad\0line\n"),
                          ("too big", b"Subject: x\n\n" + b"y" * 30000 + b"\n"),
                          ("loop", b"Delivered-To: alice@example.org\n"
                                   b"Delivered-To: <alice@example.org>\nSubject: x\n\nx\n")):
            code, err = self.deliver(msg, "alice@example.org")
            self.assertEqual(code, EX_DATAERR, f"{name}: {err}")
        # one Delivered-To is the calling MTA's own: delivered
        code, err = self.deliver(b"Delivered-To: alice@example.org\nX-Marker: deliver-one-dt\n\n",
                                 "alice@example.org")
        self.assertEqual(code, EX_OK, err)

    def test_usage_is_64(self):
        p = subprocess.run([DELIVER, "-c", self.d.path, "-f", "s@x.example"], input=b"",
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, EX_USAGE)
        for folder in ("../etc", ".hidden", "a/b", "a..b"):
            code, err = self.deliver(b"x\n", "alice@example.org", "-m", folder)
            self.assertEqual(code, EX_USAGE, folder)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run as another user")
    def test_unreadable_config_is_77(self):
        folder = make_dir(process.tempdir("deliver-conf-"))
        locked = os.path.join(folder, "dirmail.conf")
        with open(locked, "w") as f:
            f.write(self.d.text())
        os.chmod(locked, 0o600)  # root's; the test runs it as nobody
        code, err = self.deliver(b"x\n", "alice@example.org", conf=locked, user=65534)
        self.assertEqual(code, EX_NOPERM, err)

    def test_zz_without_dirmaild_then_without_slapd(self):
        # last: dirmaild stops, then slapd
        self.d.stop()
        code, err = self.deliver(b"Subject: direct\nX-Marker: deliver-direct\n\nx\n",
                                 "bob@example.org")
        self.assertEqual(code, EX_OK, err)
        self.one_copy("example.org/bob/new/", b"deliver-direct")
        code, err = self.deliver(b"x\n", "nobody@example.org")
        self.assertEqual(code, EX_NOUSER, err)
        self.assertIn("asked the directory", err)
        self.ldap.stop()
        code, err = self.deliver(b"Subject: later\nX-Marker: deliver-down\n\nx\n",
                                 "bob@example.org")
        self.assertEqual(code, EX_TEMPFAIL, err)
        self.assertIn("4.4.3", err)
        self.assertEqual(copies(self.base, b"deliver-down"), [])


if __name__ == "__main__":
    harness.tap.main()
