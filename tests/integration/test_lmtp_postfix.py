#!/usr/bin/env python3
"""test_lmtp_postfix.py - Postfix's own LMTP client as a real peer of
dirmail's LMTP service: a Postfix from Debian's package, run with its own
configuration, queue and log in a temporary folder (smtpd on a free
loopback port, virtual_transport = lmtp:unix:<dirmail's socket>, the second
run over lmtp:inet), takes mail from smtplib and hands it to dirmaild, which
files it into the Maildirs; an unknown recipient is refused by dirmail
(550 5.1.1) and Postfix says so in its log. Postfix's master must start as
root (it drops to its mail_owner itself): skipped otherwise."""
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import copies, split_trace, wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

# Every service chroot n: the temporary folder is no chroot jail.
MASTER_CF = """\
{smtp_addr} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
lmtp      unix  - - n -  - lmtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {dir}
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = example.org, example.net
virtual_mailbox_maps = static:ok
virtual_transport = {transport}
lmtp_connect_timeout = 10s
biff = no
"""


def make_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


class Postfix:
    """A Postfix instance in its own folder: start() and stop()."""

    def __init__(self, transport):
        self.dir = process.tempdir("postfix-")
        os.chmod(self.dir, 0o755)
        self.port = process.free_port("127.0.0.1")
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, transport=transport))
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtp_addr=f"127.0.0.1:{self.port}"))
        self.log_path = os.path.join(self.dir, "maillog")
        # the queue root's, the data folder Postfix's own; "postfix start"
        # makes the queue's subfolders
        os.makedirs(os.path.join(self.dir, "queue"), mode=0o755)
        data = os.path.join(self.dir, "data")
        os.makedirs(data, mode=0o700)
        os.chown(data, pwd.getpwnam("postfix").pw_uid, -1)

    def run(self, *args):
        return subprocess.run([POSTFIX, "-c", self.dir, *args], capture_output=True, text=True,
                              timeout=60)

    def start(self):
        p = self.run("start")
        if p.returncode != 0:
            # the postfix command logs to maillog_file (stderr only on a tty)
            raise RuntimeError(f"postfix start: {p.stdout}{p.stderr}{self.log()}")
        process.wait_for_port("127.0.0.1", self.port, timeout=30)

    def stop(self):
        self.run("stop")
        pid_file = os.path.join(self.dir, "queue", "pid", "master.pid")
        # "postfix stop" returns at once; the master's pid file goes when it is gone
        wait_for(lambda: not os.path.exists(pid_file) or not _alive(pid_file), timeout=30,
                 what="postfix master gone")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def _alive(pid_file):
    try:
        with open(pid_file) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def _has_postfix_user():
    try:
        pwd.getpwnam("postfix")
        return True
    except KeyError:
        return False


@unittest.skipUnless(built() and os.access(POSTFIX, os.X_OK), "dirmaild or postfix missing")
@unittest.skipUnless(os.geteuid() == 0, "Postfix's master starts as root")
@unittest.skipUnless(_has_postfix_user(), "no postfix user (Debian's postfix package makes it)")
class PostfixLmtp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("pflmtp-vmail-"), "vmail"), 0o700)
        sockdir = make_dir(process.tempdir("pflmtp-sock-"))
        cls.sock = os.path.join(sockdir, "lmtp.sock")
        cls.d = Dirmaild(
            # Postfix's lmtp runs as the postfix user: the socket is open to it
            services=[{"type": "lmtp", "listen": ["127.0.0.1", cls.sock],
                       "trusted_networks": ["127.0.0.1/32"], "socket_mode": "0666"}],
            workers=1,
            ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
            domains={"local": ["example.org", "example.net"]},
            delivery={"mailbox_base": cls.base})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def through_postfix(self, transport, marker):
        pf = Postfix(transport)
        pf.start()
        self.addCleanup(pf.stop)
        # complete, so that Postfix's cleanup adds no header of its own
        message = (f"From: s@remote.example\r\nTo: alice@example.org\r\n"
                   "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
                   f"Message-ID: <{marker}@remote.example>\r\n"
                   f"Subject: via postfix\r\nX-Marker: {marker}\r\n"
                   "\r\nhello through Postfix's LMTP client\r\n").encode()
        s = smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.test", timeout=30)
        refused = s.sendmail("s@remote.example",
                             ["alice@example.org", "carol@example.net", "nobody@example.org"],
                             message)
        s.quit()
        self.assertEqual(refused, {})  # Postfix takes all three: its map says "ok"
        wait_for(lambda: len(copies(self.base, marker.encode())) == 2, timeout=60,
                 what=f"both copies delivered\n{pf.log()[-3000:]}\n{self.d.log()[-3000:]}")
        for path, data in copies(self.base, marker.encode()):
            trace, body = split_trace(data)
            self.assertEqual(body, message.replace(b"\r\n", b"\n"))
            self.assertEqual(trace[0], ("return-path", "<s@remote.example>"))
            # Postfix's Received (smtpd) below ours (LMTP)
            received = [v for n, v in trace if n == "received"]
            self.assertIn("with LMTP", received[0])
            self.assertIn("postfix.test.example", received[1])
        # dirmail refused the unknown one, and Postfix logged dirmail's words
        wait_for(lambda: "said: 550 5.1.1" in pf.log(), timeout=60,
                 what=f"Postfix logs the 550\n{pf.log()[-3000:]}")
        # the files are durable before dirmail replies, and Postfix logs
        # after the reply: wait for its line
        wait_for(lambda: re.search(r"to=<alice@example.org>.*status=sent \(250 ", pf.log()),
                 timeout=60, what=f"Postfix logs the delivery\n{pf.log()[-3000:]}")
        return pf

    def test_postfix_lmtp_over_the_unix_socket(self):
        self.through_postfix(f"lmtp:unix:{self.sock}", "pf-unix")
        self.d.wait_log(r"event=lmtp_session service=lmtp client=unix")

    def test_postfix_lmtp_over_tcp(self):
        self.through_postfix(f"lmtp:inet:127.0.0.1:{self.d.port('lmtp')}", "pf-inet")
        self.d.wait_log(r"event=lmtp_session service=lmtp client=127\.0\.0\.1")


if __name__ == "__main__":
    harness.tap.main()
