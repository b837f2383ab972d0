"""harness/dovecot.py - Dovecot's IMAP server (Debian dovecot-imapd) as a
reference peer: its own configuration, state and Maildirs in a temporary
folder, one plaintext IMAP listener on a free loopback port, users from a
passwd-file. The system's Dovecot service is never touched."""
import os
import shutil
import subprocess

from harness import process
from harness.mail import wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
IMAP_BINARY = "/usr/lib/dovecot/imap"


def available():
    """Dovecot and its IMAP server are installed."""
    return os.access(DOVECOT, os.X_OK) and os.access(IMAP_BINARY, os.X_OK)


class Dovecot:
    def __init__(self, users):
        """users: {name: password}."""
        self.dir = process.tempdir("dovecot-")
        self.port = process.free_port()
        for sub in ("run", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        home = os.path.join(self.dir, "home")
        uid = gid = 65534 if os.geteuid() == 0 else os.geteuid()
        if os.geteuid() == 0:
            os.chown(home, uid, gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for name, password in users.items():
                f.write(f"{name}:{{PLAIN}}{password}::::::\n")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        conf = os.path.join(self.dir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(f"""\
base_dir = {self.dir}/run
state_dir = {self.dir}/run
instance_name = dirmail-test-{self.port}
log_path = {self.log_path}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
        self.conf = conf
        self.proc = None

    def start(self):
        self.proc = process.spawn([DOVECOT, "-F", "-c", self.conf],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process.wait_for_port("127.0.0.1", self.port, timeout=30, proc=self.proc)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None
            wait_for(lambda: not os.path.exists(os.path.join(self.dir, "run", "master.pid")),
                     timeout=10, what="dovecot's master gone")
