#!/usr/bin/env python3
"""test_imap_mbsync.py - a real mail client against the IMAP server: isync's
mbsync syncs a user's mailbox both ways with a local Maildir over imaps
(mail delivered through the gateway's SMTP, a real slapd and dirmaild):
messages down, local flags, messages and a new folder up, server-side flags
and expunges down again. Skipped when mbsync is not installed (Debian isync,
tools/install-deps)."""
import imaplib
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import queue_id, spool_ids, wait_for  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402

MBSYNC = shutil.which("mbsync")


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


def files(folder):
    """{name: flags} of a local Maildir folder's messages."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(folder, sub)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            out[os.path.join(sub, f)] = f.split(":2,", 1)[1] if ":2," in f else ""
    return out


@unittest.skipUnless(built(), "dirmaild not built")
@unittest.skipUnless(MBSYNC, "mbsync not installed (Debian isync)")
class Mbsync(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("mbsync-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("mbsync-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "imaps"}],
            workers=1,
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix,
                  "connect_timeout": 1, "timeout": 2},
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            delivery={"mailbox_base": cls.base})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def send(self, rcpt, body):
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        s.ehlo()
        s.mail("sender@remote.example")
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        code, text = s.data(body)
        self.assertEqual(code, 250, text)
        s.quit()
        qid = queue_id(text)
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=30, what=f"{qid} delivered")

    def mbsync(self):
        r = subprocess.run([MBSYNC, "-c", self.rc, "-a"], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0,
                         f"mbsync: {r.stdout!r} {r.stderr!r}\n{self.d.log()[-3000:]}")

    def imap(self):
        m = imaplib.IMAP4_SSL("localhost", self.d.port("imaps"), ssl_context=self.ctx,
                              timeout=30)
        m.login("alice", PASSWORDS["alice"])
        return m

    def test_two_way_sync(self):
        work = process.tempdir("mbsync-local-")
        local = os.path.join(work, "local")
        os.makedirs(local)
        self.rc = os.path.join(work, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"""IMAPAccount dirmail
Host localhost
Port {self.d.port("imaps")}
User alice
Pass {PASSWORDS["alice"]}
SSLType IMAPS
CertificateFile {self.pki["ca"]}

IMAPStore remote
Account dirmail

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
""")
        for i in range(2):
            self.send("alice@example.org",
                      b"From: s@remote.example\r\nSubject: sync %d\r\n\r\nbody %d\r\n" % (i, i))
        # down
        self.mbsync()
        inbox = os.path.join(local, "INBOX")
        got = files(inbox)
        self.assertEqual(len(got), 2, got)
        # up: a flag, a new message, a new folder
        name = sorted(got)[0]
        seen = os.path.join(inbox, "cur", os.path.basename(name).split(":2,")[0] + ":2,S")
        os.rename(os.path.join(inbox, name), seen)
        with open(os.path.join(inbox, "new", "1700000000.local1.host"), "wb") as f:
            f.write(b"From: alice@example.org\nSubject: written locally\n\nlocal\n")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(local, "Local", sub))
        with open(os.path.join(local, "Local", "new", "1700000001.local2.host"), "wb") as f:
            f.write(b"From: alice@example.org\nSubject: in a folder\n\nfolder\n")
        self.mbsync()
        m = self.imap()
        typ, data = m.select("INBOX")
        self.assertEqual(int(data[0]), 3)
        typ, data = m.search(None, "SEEN")
        self.assertEqual(len(data[0].split()), 1)
        typ, data = m.search(None, "SUBJECT", '"written locally"')
        self.assertEqual(len(data[0].split()), 1)
        typ, data = m.select("Local")
        self.assertEqual((typ, int(data[0])), ("OK", 1))
        # down again: a flag set and a message expunged on the server
        m.select("INBOX")
        m.store("1", "+FLAGS", "(\\Flagged)")
        m.store("2", "+FLAGS", "(\\Deleted)")
        m.expunge()
        m.logout()
        self.mbsync()
        got = files(inbox)
        self.assertEqual(len(got), 2, got)
        self.assertEqual(sum("F" in flags for flags in got.values()), 1, got)
        # and nothing more to do: a third run changes nothing
        self.mbsync()
        self.assertEqual(files(inbox), got)
        self.assertFalse(re.search(r"level=error event=imap", self.d.log()), self.d.log()[-3000:])


if __name__ == "__main__":
    harness.tap.main()
