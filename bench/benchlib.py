"""bench/benchlib.py - what the benches under bench/ share: finding the
test harness, installing the peer's Debian packages, building dirmail and a
C load client, the private slapd sized for many users, the server's CPU and
memory from /proc, the fixed-seed mix of test messages, and a private
Dovecot run from its own folder. Never run by make check.

A bench script imports it as

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import benchlib

which also puts tests/integration on sys.path (for harness.*).
"""
import base64
import os
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "integration"))
os.environ.setdefault("top_srcdir", TOP_SRCDIR)

SUFFIX = "dc=example,dc=org"
DOMAIN = "bench.example"
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


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


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
