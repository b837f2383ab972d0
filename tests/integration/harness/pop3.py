"""What the POP3 tests share: a dirmaild with smtp, pop3 and pop3s over a
real slapd and a Maildir base, users added to the directory for one test
each (so that tests never share a maildrop), mail sent through the gateway
so that the gateway writes the Maildirs, and POP3 spoken by hand over one
connection (for what poplib hides: the exact octets, pipelining, STLS).

    f = Pop3Fixture(services_extra=[...], pop3={...})
    f.add_user("pia", "pia-password")
    f.send("pia@example.org", b"Subject: x\\r\\n\\r\\nbody\\r\\n")
    ...
    f.stop()
"""
import os
import socket
import ssl

from . import certs, process
from .dirmaild import Dirmaild
from .mail import deliver
from .slapd import Slapd


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


class Pop3Fixture:
    """slapd + dirmaild (smtp, pop3, pop3s and services_extra) + Maildirs."""

    def __init__(self, services_extra=(), cache=None, **sections):
        self.ldap = Slapd()
        self.base = make_dir(os.path.join(process.tempdir("pop3-vmail-"), "vmail"))
        self.pki = certs.make_ca_and_cert(process.tempdir("pop3-certs-"), ["localhost"])
        settings = dict(
            ldap={"uris": [self.ldap.uri], "bind_dn": self.ldap.service_dn,
                  "bind_password": self.ldap.service_password, "base": self.ldap.suffix,
                  "connect_timeout": 1, "timeout": 2},
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": self.pki["cert"], "key_file": self.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            delivery={"mailbox_base": self.base})
        if cache is not None:
            settings["cache"] = cache
        settings.update(sections)
        self.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "pop3"}, {"type": "pop3s"}]
            + list(services_extra),
            workers=1, **settings)
        self.d.start()
        self.d.wait_log(r"event=queue_runner_started")
        self.ctx = ssl.create_default_context(cafile=self.pki["ca"])
        self.ctx.check_hostname = False
        self.users = 0

    def stop(self):
        status = self.d.stop()
        self.ldap.stop()
        return status

    def add_user(self, uid, password, extra=""):
        """A new active user uid@example.org with its own Maildir."""
        self.ldap.add(f"dn: uid={uid},ou=people,dc=example,dc=org\n"
                      "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                      f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@example.org\n"
                      f"dirmailMailbox: example.org/{uid}/\ndirmailStatus: active\n"
                      f"userPassword: {password}\n" + extra)
        return uid

    def maildir(self, uid):
        return os.path.join(self.base, "example.org", uid)

    def make_maildir(self, uid):
        """uid's Maildir as the workers' user owns it (the tests may be root)."""
        path = make_dir(os.path.join(self.base, "example.org"))
        path = make_dir(os.path.join(path, uid))
        for sub in ("tmp", "new", "cur"):
            make_dir(os.path.join(path, sub))
        return path

    def message_files(self, uid):
        """Paths of the message files in uid's new/ and cur/."""
        out = []
        for sub in ("new", "cur"):
            folder = os.path.join(self.maildir(uid), sub)
            if os.path.isdir(folder):
                out += [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
        return out

    def send(self, rcpt, body, timeout=30):
        """Submit body to rcpt over SMTP and wait until it left the spool."""
        deliver(self.d, rcpt, body, timeout=timeout)


class RawPop3:
    """POP3 by hand over one connection: exact octets, pipelined input."""

    def __init__(self, port, ctx=None, implicit_tls=False, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if implicit_tls:
            self.s = ctx.wrap_socket(self.s)
        self.ctx = ctx
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        """One line with its CRLF."""
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def line_unbuffered(self):
        """One line read octet by octet, so that nothing after it is taken
        from the socket (before a TLS handshake)."""
        assert not self.buf
        out = b""
        while not out.endswith(b"\r\n"):
            c = self.s.recv(1)
            if not c:
                raise EOFError(out)
            out += c
        return out

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def multi(self, text):
        """A command with a multi-line answer: (status line, body octets as
        sent, dot-stuffing and CRLFs included, without the final .CRLF)."""
        first = self.cmd(text)
        if not first.startswith(b"+OK"):
            return first, None
        body = b""
        while True:
            line = self.line()
            if line == b".\r\n":
                return first, body
            body += line

    def starttls(self):
        self.s = self.ctx.wrap_socket(self.s)

    def login(self, user, password):
        a = self.cmd(f"USER {user}")
        assert a.startswith(b"+OK"), a
        return self.cmd(f"PASS {password}")

    def closed(self, timeout=10):
        """True when the server closed the connection (EOF or reset)."""
        try:
            self.s.settimeout(timeout)
            return self.s.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def unstuff(body):
    """A multi-line body as sent -> the message (RFC 1939 3)."""
    return b"".join(l[1:] if l.startswith(b".") else l for l in body.splitlines(True))
