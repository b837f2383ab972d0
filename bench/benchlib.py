"""bench/benchlib.py - what the benches under bench/ share: finding the
test harness, installing the peer's Debian packages, building dirmail and a
C load client, the private slapd sized for many users, the server's CPU and
memory (VmRSS, Pss) from /proc, users and Maildirs, the fixed-seed mix of
test messages, a private Dovecot and a private Postfix, each run from its
own folder. Never run by make check.

A bench script imports it as

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import benchlib

which also puts tests/integration on sys.path (for harness.*).
"""
import base64
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "integration"))
os.environ.setdefault("top_srcdir", TOP_SRCDIR)

SUFFIX = "dc=example,dc=org"
DOMAIN = "bench.example"
# a user's mailbox relative to delivery.mailbox_base (write_users)
MAILBOX_LINE = "dirmailMailbox: {domain}/{uid}/\n"
MAIL_UID = MAIL_GID = 65534  # nobody/nogroup: the harness's mail user as root
TARGET_RATE_RATIO = 2.0
TARGET_CPU_RATIO = 0.5


def sayer(name):
    """A progress printer for stderr, prefixed with the bench's name."""

    def say(text):
        print(f"{name}: {text}", file=sys.stderr, flush=True)

    return say


# ---- setup ----

def dovecot_running():
    return subprocess.run(["pgrep", "-x", "-f", "/usr/sbin/dovecot -F"],
                          stdout=subprocess.DEVNULL).returncode == 0 or os.path.exists(
                              "/run/dovecot/master.pid")


def ensure_dovecot(name, packages, paths):
    """Install the Dovecot packages when one of paths is missing, and stop
    Debian's own instance if the package started it: ours run beside it on
    loopback ports from their own folders."""
    if shutil.which("dovecot") and all(os.path.exists(p) for p in paths):
        return
    if os.geteuid() != 0:
        sys.exit(f"{name}: {' '.join(packages)} missing; install them as root")
    sayer(name)(f"installing {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + packages,
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=900)
    if dovecot_running():
        subprocess.run(["service", "dovecot", "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def ensure_postfix(name):
    """postfix and postfix-ldap, installed when missing (debconf preseeded to
    "No configuration"); Debian's own instance is stopped if the package
    started it: it would hold port 25 and the CPU beside ours."""
    if shutil.which("postfix") and os.path.exists("/usr/lib/postfix/postfix-ldap.so"):
        return
    if os.geteuid() != 0:
        sys.exit(f"{name}: postfix and postfix-ldap are missing; install them as root")
    sayer(name)("installing postfix postfix-ldap")
    subprocess.run(["debconf-set-selections"], check=True, text=True,
                   input="postfix postfix/main_mailer_type select No configuration\n")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "postfix", "postfix-ldap"], check=True,
                   env=env, stdout=subprocess.DEVNULL, timeout=900)
    if os.path.exists("/etc/postfix/main.cf"):
        if subprocess.run(["postfix", "status"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            subprocess.run(["postfix", "stop"], stdout=subprocess.DEVNULL)


def write_numbered_users(path, count, entry_lines=MAILBOX_LINE):
    """count users uNNNNN@bench.example, each with alias.uNNNNN@, the
    password bench-uNNNNN and the lines entry_lines (see write_users);
    returns the uids."""
    uids = [f"u{i:05d}" for i in range(count)]
    write_users(path, uids, lambda uid: f"bench-{uid}",
                entry_lines + "dirmailAlias: alias.{uid}@{domain}\n")
    return uids


def build_dirmail(workdir, say):
    """A build without sanitizers at -O2 in workdir/build; returns it."""
    build = os.path.join(workdir, "build")
    os.makedirs(build)
    say(f"building dirmail (-O2, no sanitizers) in {build}")
    subprocess.run([os.path.join(TOP_SRCDIR, "configure"), "CFLAGS=-O2 -g"], cwd=build,
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    subprocess.run(["make", f"-j{os.cpu_count() or 2}"], cwd=build, check=True,
                   stdout=subprocess.DEVNULL, timeout=1200)
    return build


def sanitized(builddir):
    try:
        with open(os.path.join(builddir, "config.log"), errors="replace") as f:
            return "--enable-sanitizers" in f.read(20000)
    except OSError:
        return False


def build_loadgen(workdir, name):
    """bench/NAME.c built with cc -O2 -pthread into workdir; its path."""
    out = os.path.join(workdir, name)
    subprocess.run([os.environ.get("CC", "cc"), "-std=gnu11", "-O2", "-Wall", "-Wextra",
                    "-pthread", os.path.join(HERE, name + ".c"), "-o", out], check=True)
    return out


def domain_ldif():
    return (f"dn: dirmailDomainName={DOMAIN},ou=domains,{SUFFIX}\n"
            f"objectClass: dirmailDomain\ndirmailDomainName: {DOMAIN}\n"
            f"dirmailDomainType: local\n\n")


def load_harness():
    """(harness.process, a Slapd with room for many users, example_ldif)."""
    from harness import process
    from harness.slapd import Slapd, example_ldif

    class BenchSlapd(Slapd):
        """The harness's slapd with room for the users (its mdb maxsize is
        16 MB, made for the small example directory)."""

        def _write_conf(self):
            super()._write_conf()
            with open(self.conf, encoding="utf-8") as f:
                text = f.read()
            text = text.replace("maxsize 16777216", "maxsize 1073741824")
            with open(self.conf, "w", encoding="utf-8") as f:
                f.write(text)

    return process, BenchSlapd, example_ldif


def write_users(path, uids, password=None, entry_lines=MAILBOX_LINE):
    """An LDIF of the domain and one inetOrgPerson + dirmailUser per uid
    (mail uid@DOMAIN, the lines entry_lines formatted with uid and domain —
    by default the mailbox DOMAIN/uid/ — and userPassword password(uid)
    unless password is None), to load after schema/examples/base.ldif."""
    with open(path, "w", encoding="ascii") as f:
        f.write(domain_ldif())
        for i, uid in enumerate(uids):
            f.write(f"dn: uid={uid},ou=people,{SUFFIX}\n"
                    "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                    f"uid: {uid}\ncn: Bench User {i}\nsn: User{i}\n"
                    f"mail: {uid}@{DOMAIN}\n"
                    + entry_lines.format(uid=uid, domain=DOMAIN)
                    + (f"userPassword: {password(uid)}\n" if password is not None else "")
                    + "\n")


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, MAIL_UID, MAIL_GID)
    return path


def chown_tree(top):
    if os.geteuid() != 0:
        return
    for dirpath, dirs, files in os.walk(top):
        os.chown(dirpath, MAIL_UID, MAIL_GID)
        for n in files:
            os.chown(os.path.join(dirpath, n), MAIL_UID, MAIL_GID)


def write_maildirs(base, uids, per_user, seed):
    """Every user's Maildir under base/DOMAIN/uid with per_user messages of
    the fixed-seed mix in new/, named <time>.M<n>P<pid>.bench,S=<octets>,
    W=<octets with CRLF> as dirmail's gateway names them; their octets."""
    rnd = random.Random(seed)
    total = 0
    make_dir(os.path.join(base, DOMAIN))
    for u, uid in enumerate(uids):
        md = make_dir(os.path.join(base, DOMAIN, uid))
        for sub in ("tmp", "new", "cur"):
            make_dir(os.path.join(md, sub))
        for k in range(per_user):
            data = message(rnd, u * per_user + k)
            crlf = len(data) + data.count(b"\n")
            name = f"{1765000000 + k}.M{u * per_user + k}P1.bench,S={len(data)},W={crlf}"
            path = os.path.join(md, "new", name)
            with open(path, "wb") as f:
                f.write(data)
            if os.geteuid() == 0:
                os.chown(path, MAIL_UID, MAIL_GID)
            total += len(data)
    return total


def copy_tree(src, dst):
    shutil.copytree(src, dst)
    chown_tree(dst)


# ---- /proc ----

def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def process_tree(root):
    """root and its live descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat_fields(entry)[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(p for p, pp in parents.items() if pp == pid)
    return tree


def cpu_seconds(pids):
    """utime+stime+cutime+cstime of pids: children that exited and were reaped
    by one of them are counted in its cutime/cstime."""
    ticks = 0
    for pid in pids:
        try:
            ticks += sum(int(x) for x in _stat_fields(pid)[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def process_role(pid, root=None):
    """What a process is, for a CPU split: its name (/proc/PID/comm; Dovecot
    execs a program per service, imap, imap-login, auth...; dirmaild's
    workers are forks named like their master), "(master)" after root's."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
    except OSError:
        return "?"
    return f"{name} (master)" if pid == root else name


def cpu_by_role(pids, root=None):
    """{role: CPU seconds} (as cpu_seconds) of pids, summed per process_role;
    a master's includes the processes it reaped."""
    roles = {}
    for pid in pids:
        role = process_role(pid, root)
        roles[role] = roles.get(role, 0.0) + cpu_seconds([pid])
    return roles


def _summed_kb(pids, name, key):
    """The sum over pids of the "key: N kB" line of /proc/PID/name."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/{name}") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith(key)), 0)
        except (OSError, ValueError):
            pass
    return total


def rss_kb(pids):
    return _summed_kb(pids, "status", "VmRSS:")


def pss_kb(pids):
    """The summed Pss of pids (/proc/PID/smaps_rollup): shared pages are
    divided among the processes that map them, so the sum over a server's
    processes is its share of memory, not a count of every shared page in
    every process as VmRSS's sum would be."""
    return _summed_kb(pids, "smaps_rollup", "Pss:")


class RssSampler(threading.Thread):
    """The peak of the summed VmRSS of root's process tree, sampled every
    100 ms until finish()."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.peak, self.stopping = root, 0, threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_kb(process_tree(self.root)))
            self.stopping.wait(0.1)

    def finish(self):
        self.stopping.set()
        self.join()
        return self.peak


# ---- messages ----

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua").split()


def _text(rnd, n):
    out, line = [], []
    total = 0
    while total < n:
        w = rnd.choice(WORDS)
        line.append(w)
        total += len(w) + 1
        if len(" ".join(line)) > 66:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n".join(out) + "\n"


def message(rnd, i, sender=None, subject=None, extra=""):
    """One message with LF line ends, sizes log-uniform over 0.5 to 90 KB:
    even i plain text, odd i multipart/mixed with a base64 part. extra is
    more header lines ("Name: value\\n"...)."""
    size = int(512 * (90 * 1024 / 512) ** rnd.random())
    sender = sender or f"Sender {i} <sender{i}@remote.example>"
    subject = subject or f"bench message {i}"
    head = (f"Return-Path: <sender{i}@remote.example>\nReceived: from client.test "
            f"(client.test [192.0.2.{i % 250}])\n\tby mx.{DOMAIN} with ESMTP; "
            f"Mon, 7 Dec 2026 10:00:{i % 60:02d} +0000\n"
            f"From: {sender}\nTo: someone@{DOMAIN}\n"
            f"Subject: {subject}\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n"
            f"Message-ID: <{i}.{rnd.randrange(10**9)}@remote.example>\n" + extra)
    if i % 2 == 0:
        return (head + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
                + _text(rnd, max(size - len(head) - 60, 50))).encode()
    raw = rnd.randbytes(max((size - len(head) - 400) * 3 // 4, 30))
    b64 = base64.encodebytes(raw).decode()
    return (head + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=b\"\n\n"
            "--=b\nContent-Type: text/plain; charset=utf-8\n\n" + _text(rnd, 200)
            + "\n--=b\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
            "Content-Transfer-Encoding: base64\n\n" + b64 + "--=b--\n").encode()


# ---- a private Dovecot ----

DOVECOT_LDAP = """\
uris = {uri}
dn = {bind_dn}
dnpass = {bind_pw}
auth_bind = yes
base = {suffix}
pass_filter = (&(objectClass=dirmailUser)(uid=%u))
"""


def dovecot_ldap_conf(slapd):
    """Dovecot's passdb args file for slapd: a search as the service DN,
    then a bind as the user (auth_bind), as dirmail's auth process does."""
    return DOVECOT_LDAP.format(uri=slapd.uri, bind_dn=slapd.service_dn,
                               bind_pw=slapd.service_password, suffix=SUFFIX)


class Dovecot:
    """Dovecot from its own folder: conf_text(dir) is its dovecot.conf
    (base_dir, state_dir and log_path should be under dir); extra maps file
    names in dir to their contents (mode 0600). Started with -F, so its pid
    is ours to stop."""

    def __init__(self, process, conf_text, extra=None, port=None):
        self.process = process
        self.dir = process.tempdir("dirmail-bench-dovecot-")
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = port or process.free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf_text(self.dir, self.port))
        for name, text in (extra or {}).items():
            path = os.path.join(self.dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
        self.proc = process.spawn(["dovecot", "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process.wait_for_port("127.0.0.1", self.port, timeout=30, proc=self.proc)
        self.root = self.proc.pid

    def log_problems(self):
        """Errors, warnings and fatal lines of its log (those of its own
        SIGTERM aside)."""
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                bad = [l.strip() for l in f if " Error: " in l or " Warning: " in l
                       or " Fatal: " in l]
        except OSError:
            return []
        return [l for l in bad if "Killed with signal 15" not in l
                and "Shutting down logging for" not in l]

    def stop(self, say):
        self.process.stop(self.proc)
        bad = self.log_problems()
        if bad:
            say(f"dovecot logged {len(bad)} errors or warnings, e.g. {bad[:3]}")


# ---- a private Postfix ----

# What every private Postfix's main.cf starts with: its own folders, no
# local delivery, loopback only; a bench adds its own lines.
POSTFIX_MAIN_BASE = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
biff = no
maillog_file = {log}
maillog_file_prefixes = {top}
default_process_limit = 250
"""

# An LDAP table over the bench's users (mail or dirmailAlias is %s); the
# bench appends its result_attribute.
POSTFIX_LDAP_BASE = """\
server_host = {uri}
search_base = {suffix}
version = 3
bind = yes
bind_dn = {bind_dn}
bind_pw = {bind_pw}
query_filter = (|(mail=%s)(dirmailAlias=%s))
"""


class Postfix:
    """Postfix from its own config_directory and queue_directory, smtpd on a
    free loopback port, started with "postfix -c DIR start-fg" (so its pid
    is ours to stop). main_extra is appended to POSTFIX_MAIN_BASE and may
    use {config} (the config_directory); ldap_tables maps a table's file
    name in it to its text."""

    def __init__(self, process, slapd, main_extra, ldap_tables):
        self.process = process
        top = process.tempdir("dirmail-bench-postfix-")
        self.config = os.path.join(top, "etc")
        self.queue = os.path.join(top, "spool")
        data = os.path.join(top, "data")
        for d in (self.config, self.queue, data):
            os.makedirs(d)
        shutil.chown(data, "postfix")
        self.port = process.free_port()
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            f.write((POSTFIX_MAIN_BASE + main_extra).format(
                queue=self.queue, data=data, domain=DOMAIN, log=os.path.join(top, "maillog"),
                top=top, config=self.config))
        for name, text in ldap_tables.items():
            with open(os.path.join(self.config, name), "w") as f:
                f.write(POSTFIX_LDAP_BASE.format(uri=slapd.uri, suffix=SUFFIX,
                                                 bind_dn=slapd.service_dn,
                                                 bind_pw=slapd.service_password) + text)
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if line[:1].isalnum() and len(fields) >= 8:
                    if fields[0] == "smtp" and fields[1] == "inet":
                        fields[0] = f"127.0.0.1:{self.port}"
                    fields[4] = "n"  # no chroot: the queue is a temporary folder
                    line = "  ".join(fields) + "\n"
                out.append(line)
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.writelines(out)
        self.log = os.path.join(top, "postfix.out")
        self.log_file = open(self.log, "ab")
        self.proc = process.spawn(["postfix", "-c", self.config, "start-fg"],
                                  stdin=subprocess.DEVNULL, stdout=self.log_file,
                                  stderr=self.log_file)
        process.wait_for_port("127.0.0.1", self.port, timeout=60, proc=self.proc)
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        deadline = time.monotonic() + 30
        while not os.path.exists(pidfile):
            if time.monotonic() > deadline:
                raise RuntimeError("postfix master wrote no pid file")
            time.sleep(0.05)
        with open(pidfile) as f:
            self.root = int(f.read().split()[0])

    def queue_empty(self):
        def files(path):
            return sum(len(names) for _, _, names in os.walk(path))
        return all(files(os.path.join(self.queue, d)) == 0
                   for d in ("maildrop", "incoming", "active", "deferred", "hold"))

    def stop(self):
        subprocess.run(["postfix", "-c", self.config, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        self.process.stop(self.proc, timeout=30)
        # the master is start-fg's child (or the same process): by pid
        try:
            os.kill(self.root, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log_file.close()
