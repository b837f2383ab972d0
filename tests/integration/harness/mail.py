"""What the end-to-end mail tests share: a raw SMTP client for what smtplib
will not send (pipelined batches, DATA cut off mid-message), the Maildirs
under a mailbox base read back and split into the trace fields the gateway
and the delivery added (Return-Path, Delivered-To, Received) and the message
as it was sent, and bounded waits.

    r = Raw(port); r.cmd("EHLO c.test"); r.send(b"..."); r.reply()
    trace, rest = split_trace(data)   # rest == sent.replace(b"\\r\\n", b"\\n")
    copies(base, b"marker")           # [(path, bytes)] in every */new/
    wait_for(lambda: ..., timeout=30, what="...")
    queue_inject(INJECT, spool, rcpts, message, sender)   # committed as the mail user
"""
import glob
import os
import pwd
import re
import socket
import subprocess
import time

QUEUED = re.compile(rb"queued as ([0-9a-f]{23})")
TRACE_FIELDS = (b"return-path", b"delivered-to", b"received")


class Raw:
    """SMTP spoken by hand over one TCP connection."""

    def __init__(self, port, greet=True, host="127.0.0.1", timeout=30):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def reply(self):
        """One whole (multi-line) reply as bytes."""
        out = b""
        while True:
            line = self.line()
            out += line
            if line[3:4] != b"-":
                return out

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closed the connection (EOF or reset)."""
        try:
            self.s.settimeout(timeout)
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


def queue_id(reply):
    """The queue id a 250 reply to DATA names (bytes or str reply)."""
    if isinstance(reply, str):
        reply = reply.encode()
    m = QUEUED.search(reply)
    if m is None:
        raise AssertionError(f"no queue id in {reply!r}")
    return m.group(1).decode()


def split_trace(data):
    """Split a delivered file into ([(field name lowercased, value)] of the
    leading trace fields, the rest). Continuation lines stay in the value."""
    trace = []
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            break
        name, sep, value = data[pos:end].partition(b":")
        if not sep or name.lower() not in TRACE_FIELDS:
            break
        nxt = end + 1
        while data[nxt:nxt + 1] in (b" ", b"\t"):
            cont = data.find(b"\n", nxt)
            if cont < 0:
                cont = len(data) - 1
            value += b"\n" + data[nxt:cont]
            nxt = cont + 1
        trace.append((name.lower().decode(), value.strip().decode(errors="replace")))
        pos = nxt
    return trace, data[pos:]


def as_stored(message):
    """A message as sent over SMTP (CRLF) as the Maildir stores it (LF):
    delivery/maildir.h turns every CRLF into LF."""
    return message.replace(b"\r\n", b"\n")


def new_files(base):
    """Every file in a new/ folder below base."""
    return sorted(glob.glob(os.path.join(base, "**", "new", "*"), recursive=True))


def copies(base, marker):
    """[(path relative to base, bytes)] of the delivered files holding marker."""
    out = []
    for path in new_files(base):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        if marker in data:
            out.append((os.path.relpath(path, base), data))
    return out


def mailbox_of(relpath):
    """"example.org/alice/new/123.x,S=9" -> "example.org/alice"."""
    return relpath.rsplit("/new/", 1)[0]


def wait_for(predicate, timeout=30.0, what="condition", interval=0.05):
    """predicate()'s first true value, polled until timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


SPOOL_ID = re.compile(r"[0-9a-f]{23}")
SPOOL_TRAILER = re.compile(rb"DMQ1 ([0-9a-f]{16}) ([0-9a-f]{16})\n")


def spool_ids(spool):
    """Ids whose spool file is committed in <spool>/active (what the runner sees)."""
    try:
        names = os.listdir(os.path.join(spool, "active"))
    except FileNotFoundError:
        return set()
    return {n for n in names if SPOOL_ID.fullmatch(n)}


def spool_file(path):
    """(message bytes, envelope text) of a committed spool file (queue/queue.h:
    the message, its envelope, a 39-octet trailer with both lengths)."""
    with open(path, "rb") as f:
        data = f.read()
    m = SPOOL_TRAILER.fullmatch(data[-39:])
    if m is None:
        raise ValueError(f"{path}: no spool trailer")
    body_len, env_len = int(m.group(1), 16), int(m.group(2), 16)
    if body_len + env_len + 39 != len(data):
        raise ValueError(f"{path}: lengths do not add up")
    return data[:body_len], data[body_len:body_len + env_len].decode()


def deliver(d, rcpt, body, timeout=30.0, sender="sender@remote.example"):
    """Submit body for rcpt to dirmaild d's smtp service with smtplib and
    wait until the runner has delivered it (its spool file is gone); the
    queue id. Raises AssertionError on any refusal."""
    import smtplib
    s = smtplib.SMTP("127.0.0.1", d.port("smtp"), local_hostname="client.test",
                     timeout=timeout)
    try:
        s.ehlo()
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        if code != 250:
            raise AssertionError(f"RCPT {rcpt}: {code} {text}")
        code, text = s.data(body)
        if code != 250:
            raise AssertionError(f"DATA: {code} {text}")
        s.quit()
    finally:
        s.close()
    qid = queue_id(text)
    wait_for(lambda: qid not in spool_ids(d.spool), timeout=timeout,
             what=f"{qid} delivered\n{d.log()[-3000:]}")
    return qid


def mail_ids():
    """The uid and gid the daemon's unprivileged children run as: nobody
    when the tests run as root, else the tests' own."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


def as_mail_user():
    """preexec_fn: become mail_ids() (only root can)."""
    uid, gid = mail_ids()
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def queue_inject(inject, spool, rcpts, message, sender):
    """Commit message (bytes) for rcpts into spool through tests/queue_inject
    (the program at inject), as the mail user; its queue id."""
    res = subprocess.run([inject, spool, sender] + list(rcpts), input=message,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=as_mail_user, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"queue_inject failed: {res.stderr!r}")
    return res.stdout.decode().split()[0]
