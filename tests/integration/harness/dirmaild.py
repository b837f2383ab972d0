"""A real dirmaild for integration tests: writes a dirmail.conf from keyword
overrides on a minimal default into a temporary folder (free loopback
ports, its own state dir and pid file), starts `dirmaild -f -c FILE` with
stderr in a log file, waits until every listener is up and every child has
started, and tells the test about its processes from /proc.

    d = Dirmaild(services=[{"type": "smtp", "listen": ["127.0.0.1", "::1"]}])
    d.start()
    port = d.port("smtp")
    ...
    d.stop()

A service's "listen" entries may carry their own port ("127.0.0.1:2525",
"[::1]:25"); entries without one share a free port chosen for the service
(its "port" key, or picked here). As root, the children run as nobody/nogroup
(workers refuse to run as root); otherwise as the current user.

With DIRMAIL_VALGRIND=1 in the environment, dirmaild and every process it
forks or execs run under valgrind's memcheck (a build without sanitizers is
needed: tools/valgrind-check makes one). Reports go to vg.<pid>.log in
DIRMAIL_VALGRIND_DIR (default <dir>/valgrind); valgrind_errors() lists what
they found and sanitizer_errors() includes it, so the tests that check for
sanitizer reports fail on valgrind's too. The harness's own waits are
multiplied by DIRMAIL_VALGRIND_SLOWDOWN (default 10); DIRMAIL_VALGRIND_OPTIONS
adds memcheck options (e.g. --show-leak-kinds=all --track-origins=yes).
"""
import grp
import os
import pwd
import re
import signal
import socket
import subprocess
import time

from . import process

_TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or _TOP_SRCDIR
DIRMAILD = os.path.join(TOP_BUILDDIR, "gateway", "dirmaild")
AUTH_DIR = os.path.join(TOP_BUILDDIR, "auth")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")

VALGRIND = os.environ.get("DIRMAIL_VALGRIND") == "1"
# valgrind's exit status for a process with errors: tests that expect 0 fail
VALGRIND_EXIT = 97
VALGRIND_SUPP = os.path.join(_TOP_SRCDIR, "tests", "valgrind.supp")


def _slow(timeout):
    """timeout, stretched for valgrind's slowdown when it runs."""
    if not VALGRIND or timeout is None:
        return timeout
    return timeout * float(os.environ.get("DIRMAIL_VALGRIND_SLOWDOWN") or 10)


def valgrind_findings(text):
    """What a memcheck log reports as wrong: each error and each definitely or
    indirectly lost block, as its first lines (suppressed ones are not there)."""
    out = []
    for block in re.split(r"\n==\d+== ?\n", text):
        lines = [re.sub(r"^==\d+== ?", "", l) for l in block.splitlines()]
        lines = [l for l in lines if l.strip() and not l.startswith("FILE DESCRIPTORS:")]
        if not lines:
            continue
        head = lines[0]
        if (re.search(r"are (definitely|indirectly) lost in loss record", head)
                or re.match(r"(Invalid |Conditional jump|Use of uninitialised|Syscall param|"
                            r"Mismatched free|Source and destination overlap|Argument |"
                            r"Warning: invalid file descriptor|Jump to the invalid|"
                            # a crash; SIGTERM and SIGKILL are the tests' own
                            r"Process terminating with default action of signal (4|6|7|8|11) )",
                            head)):
            out.append(" | ".join(lines[:8]))
        elif (re.match(r"Open .*(file descriptor|socket) \d+", head) and len(lines) > 1
              and "<inherited from parent>" not in lines[1]
              and not re.match(r"Open file descriptor [012]: ", head)):
            # --track-fds=yes: a descriptor the process itself opened and
            # still held at exit (the std ones and valgrind's own are inherited)
            out.append("fd left open at exit: " + " | ".join(lines[:6]))
    return out


def built():
    return os.access(DIRMAILD, os.X_OK) and os.access(os.path.join(AUTH_DIR, "dirmail-auth"),
                                                      os.X_OK)


def _quote(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(value):
    """A Python value in libconfig syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value < 2**31 else f"{value}L"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{k} = {_value(v)};" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        # an array holds scalars only; with a group in it, a list
        if any(isinstance(v, dict) for v in value):
            return "( " + ", ".join(_value(v) for v in value) + " )"
        return "[ " + ", ".join(_value(v) for v in value) + " ]"
    return _quote(value)


def _group(settings):
    return "{\n" + "".join(f"  {k} = {_value(v)};\n" for k, v in settings.items()) + "}"


def _has_port(entry):
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


def _with_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bare(host):
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def free_port_on(hosts):
    """A TCP port free on every one of hosts right now."""
    for _ in range(50):
        port = process.free_port("127.0.0.1")
        try:
            for host in hosts:
                h = _bare(host)
                if h == "*":
                    h = "0.0.0.0"
                family = socket.AF_INET6 if ":" in h else socket.AF_INET
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.bind((h, port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no port free on all of {hosts}")


def _listening_sockets():
    """{(ip text, port)} of TCP sockets in LISTEN state, from /proc/net."""
    out = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/net/{name}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":
                continue
            addr, port = fields[1].split(":")
            raw = bytes.fromhex(addr)
            # /proc/net prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            out.add((socket.inet_ntop(family, raw), int(port, 16)))
    return out


def _tcp_sockets():
    """[(local (ip, port), remote (ip, port), rx_queue, inode)] of every TCP
    socket, from /proc/net."""
    out = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/net/{name}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            ends = []
            for text in fields[1:3]:
                addr, port = text.split(":")
                raw = bytes.fromhex(addr)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                ends.append((socket.inet_ntop(family, raw), int(port, 16)))
            rx_queue = int(fields[4].split(":")[1], 16)
            out.append((ends[0], ends[1], rx_queue, int(fields[9])))
    return out


def server_side(client):
    """(inode, rx_queue) of the server's end of the connected TCP socket
    client (a Python socket on this host), or None when it is gone."""
    local = client.getsockname()[:2]
    peer = client.getpeername()[:2]
    for here, there, rx_queue, inode in _tcp_sockets():
        if here[1] == peer[1] and there[1] == local[1] and inode:
            return inode, rx_queue
    return None


def holder_of(inode, pids):
    """The pid among pids that has socket inode open, or None."""
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def proc_status(pid):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "PPid": n, "Name": s}."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            value = value.strip()
            if key in ("Uid", "Gid"):
                out[key] = [int(v) for v in value.split()]
            elif key == "PPid":
                out[key] = int(value)
            elif key == "Name":
                out[key] = value
    return out


def children_of(pid):
    """[(child pid, argv)] of the live processes whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            # the name in parentheses may hold spaces: split after the last ')'
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" or int(fields[1]) != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except (OSError, ValueError):
            continue
        out.append((int(entry), argv))
    return out


class SanitizerReport(AssertionError):
    """A sanitizer (or valgrind) report in a dirmaild's log: the test it
    appeared in fails, whatever else it checked."""


class Dirmaild:
    """One dirmaild with its own configuration, state and log.

    Every instance is remembered (Dirmaild.instances), so that the TAP runner
    (harness/tap.py) can fail each test during which any daemon's log gained
    a sanitizer report, and stop() raises SanitizerReport for the reports
    the processes print as they exit (LeakSanitizer's above all). Each report
    fails one test: new_sanitizer_errors() returns those not yet returned."""

    instances = []

    def __init__(self, services=None, workers=2, **sections):
        """services: a list of service dicts (type, name, listen, limits...);
        default one smtp service on 127.0.0.1. sections: more settings per
        group, merged over the defaults: server={...}, tls={...},
        limits={...}, ldap={...}, ... A value of None removes a setting."""
        self.dir = process.tempdir("dirmaild-")
        self.path = os.path.join(self.dir, "dirmail.conf")
        self.log_path = os.path.join(self.dir, "dirmaild.log")
        self.valgrind_dir = os.environ.get("DIRMAIL_VALGRIND_DIR") or os.path.join(
            self.dir, "valgrind")
        self.proc = None
        self.workers = workers
        # how far the log has been searched for sanitizer reports, and the
        # valgrind findings already returned (new_sanitizer_errors)
        self._checked_offset = 0
        self._checked_size = -1
        self._valgrind_seen = set()
        Dirmaild.instances.append(self)
        if os.geteuid() == 0:
            user, group = "nobody", "nogroup"
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
        self.sections = {
            "server": {
                "hostname": "mx.test.example",
                "user": user,
                "group": group,
                "pid_file": os.path.join(self.dir, "dirmaild.pid"),
                "state_dir": os.path.join(self.dir, "state"),
                "log": "stderr",
                "log_level": "info",
                "workers": workers,
                "shutdown_grace": 10,
            },
        }
        self.services = []
        self.configure(services=services if services is not None else [{"type": "smtp"}],
                       **sections)

    # ---- configuration ----

    def configure(self, services=None, **sections):
        """Change the settings (and the services, when given) and rewrite the
        file; reload() makes a running dirmaild read it."""
        for name, settings in sections.items():
            group = self.sections.setdefault(name, {})
            for key, value in settings.items():
                if value is None:
                    group.pop(key, None)
                else:
                    group[key] = value
        if services is not None:
            self.services = [self._complete(dict(s)) for s in services]
        self.write()

    def _complete(self, service):
        service.setdefault("name", service["type"])
        listen = service.get("listen", ["127.0.0.1"])
        if isinstance(listen, str):
            listen = [listen]
        # an absolute path is a UNIX socket (lmtp): no port
        bare = [e for e in listen if not _has_port(e) and not e.startswith("/")]
        if bare and not service.get("port"):
            service["port"] = free_port_on(bare)
        service["listen"] = [e if _has_port(e) or e.startswith("/")
                             else _with_port(_bare(e), service["port"]) for e in listen]
        return service

    def text(self):
        out = [f"# written by tests/integration/harness/dirmaild.py\n"]
        for name, settings in self.sections.items():
            out.append(f"{name} = {_group(settings)};\n")
        blocks = []
        for s in self.services:
            blocks.append(_group({k: v for k, v in s.items() if k != "port"}))
        out.append("services = (\n" + ",\n".join(blocks) + "\n);\n")
        return "".join(out)

    def write(self, text=None):
        """Write the configuration (or text as it is, e.g. a broken one)."""
        with open(self.path, "w") as f:
            f.write(self.text() if text is None else text)

    def port(self, name):
        """The port of the service named name (its first TCP listen entry)."""
        for s in self.services:
            if s["name"] == name:
                return int([e for e in s["listen"] if not e.startswith("/")][0].rsplit(":", 1)[1])
        raise KeyError(name)

    def unix_sockets(self, name=None):
        """[path] of the UNIX sockets the service named name (default: all) listens on."""
        return [e for s in self.services if name is None or s["name"] == name
                for e in s["listen"] if e.startswith("/")]

    def addresses(self, name=None):
        """[(host, port)] the service named name (default: all) listens on."""
        out = []
        for s in self.services:
            if name is not None and s["name"] != name:
                continue
            for entry in s["listen"]:
                if entry.startswith("/"):
                    continue
                host, _, port = entry.rpartition(":")
                out.append((_bare(host), int(port)))
        return out

    # ---- running ----

    def valgrind_argv(self):
        """The valgrind command dirmaild runs under with DIRMAIL_VALGRIND=1."""
        os.makedirs(self.valgrind_dir, exist_ok=True)
        # children drop to nobody; valgrind reopens %p logs after fork as them
        os.chmod(self.valgrind_dir, 0o1777)
        return ["valgrind", "--trace-children=yes", "--child-silent-after-fork=no",
                f"--error-exitcode={VALGRIND_EXIT}", "--leak-check=full",
                "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                "--num-callers=30", "--vgdb=no", f"--suppressions={VALGRIND_SUPP}",
                f"--log-file={os.path.join(self.valgrind_dir, 'vg.%p.log')}"
                ] + os.environ.get("DIRMAIL_VALGRIND_OPTIONS", "").split()

    def valgrind_reports(self):
        """{path: text} of the valgrind logs of this dirmaild's processes."""
        out = {}
        if not os.path.isdir(self.valgrind_dir):
            return out
        for name in sorted(os.listdir(self.valgrind_dir)):
            if name.startswith("vg.") and name.endswith(".log"):
                path = os.path.join(self.valgrind_dir, name)
                with open(path, errors="replace") as f:
                    out[path] = f.read()
        return out

    def valgrind_errors(self):
        """["<log>: <finding>"] of every error or definite/indirect leak the
        valgrind logs report; [] without DIRMAIL_VALGRIND=1."""
        return [f"{os.path.basename(path)}: {finding}"
                for path, text in self.valgrind_reports().items()
                for finding in valgrind_findings(text)]

    def start(self, timeout=20.0, wait=True):
        env = dict(os.environ)
        env["DIRMAIL_LIBEXECDIR"] = AUTH_DIR
        self.log_file = open(self.log_path, "ab")
        prefix = self.valgrind_argv() if VALGRIND else []
        self.proc = process.spawn(prefix + [DIRMAILD, "-f", "-c", self.path],
                                  stdin=subprocess.DEVNULL,
                                  stdout=self.log_file, stderr=self.log_file, env=env)
        if wait:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=20.0, generation_log_offset=0):
        """Until every listener is in LISTEN state and the auth process and
        every worker logged that they started (without a probe connection,
        which would count against the connection limits)."""
        deadline = time.monotonic() + _slow(timeout)
        want = set()
        for host, port in self.addresses():
            if host == "*":
                want.add(("0.0.0.0", port))
                want.add(("::", port))
            else:
                want.add((socket.inet_ntop(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                           socket.inet_pton(socket.AF_INET6 if ":" in host
                                                            else socket.AF_INET, host)), port))
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"dirmaild exited with {self.proc.returncode}:\n{self.log()}")
            log = self.log()[generation_log_offset:]
            if (want <= _listening_sockets() and log.count("event=worker_started") >= self.workers
                    and "event=auth_started" in log
                    and all(os.path.exists(p) for p in self.unix_sockets())):
                return
            time.sleep(0.05)
        raise TimeoutError(f"dirmaild not ready after {timeout}s:\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0, start=0):
        """The first match of regex pattern in the log after offset start."""
        deadline = time.monotonic() + _slow(timeout)
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log()[start:])
            if m:
                return m
            time.sleep(0.05)
        raise TimeoutError(f"no /{pattern}/ in the log after {timeout}s:\n{self.log()}")

    def sanitizer_errors(self):
        """Lines of the log where ASan/UBSan/LSan reported something, and
        valgrind's findings when it runs."""
        return [line for line in self.log().splitlines()
                if any(m in line for m in SANITIZER_MARKERS)] + self.valgrind_errors()

    def new_sanitizer_errors(self):
        """sanitizer_errors() that appeared since the last call: the report
        lines in the log's complete lines past what was searched before, and
        valgrind findings not returned before."""
        try:
            size = os.path.getsize(self.log_path)
            if size == self._checked_size and not VALGRIND:
                return []  # nothing written since the last look
            text = self.log()
        except OSError:
            return []
        self._checked_size = size
        # a line still being written is left for the next look, unless
        # nothing will ever finish it
        end = text.rfind("\n", self._checked_offset) + 1 if self.running() else len(text)
        if end <= self._checked_offset:
            fresh = []
        else:
            fresh = [line for line in text[self._checked_offset:end].splitlines()
                     if any(m in line for m in SANITIZER_MARKERS)]
            self._checked_offset = end
        for finding in self.valgrind_errors():
            if finding not in self._valgrind_seen:
                self._valgrind_seen.add(finding)
                fresh.append(finding)
        return fresh

    def check_sanitizers(self):
        """Raise SanitizerReport if new_sanitizer_errors() finds any, with
        the reports and the end of the log."""
        fresh = self.new_sanitizer_errors()
        if fresh:
            raise SanitizerReport(f"sanitizer reports in {self.log_path}:\n  "
                                  + "\n  ".join(fresh) + "\n--- log (end):\n"
                                  + self.log()[-6000:])

    @classmethod
    def check_all_sanitizers(cls):
        """new_sanitizer_errors() of every instance, as one message (or "")."""
        out = []
        for d in cls.instances:
            fresh = d.new_sanitizer_errors()
            if fresh:
                out.append(f"sanitizer reports in {d.log_path}:\n  " + "\n  ".join(fresh))
        return "\n".join(out)

    def children(self):
        """{"auth": [pids], "workers": [pids], "queue": [pids]} from /proc: the
        master's children (the queue runner names itself dirmail-queue)."""
        out = {"auth": [], "workers": [], "queue": []}
        for pid, argv in children_of(self.pid):
            is_auth = argv and os.path.basename(argv[0]) == "dirmail-auth"
            if VALGRIND:
                # under valgrind argv is valgrind's, the program's path among it
                is_auth = any(os.path.basename(a) == "dirmail-auth" for a in argv)
            try:
                with open(f"/proc/{pid}/comm") as f:
                    is_queue = f.read().strip() == "dirmail-queue"
            except OSError:
                continue
            out["auth" if is_auth else "queue" if is_queue else "workers"].append(pid)
        return out

    @property
    def spool(self):
        """The queue runner's spool: <state_dir>/queue."""
        return os.path.join(self.sections["server"]["state_dir"], "queue")

    def wait_children(self, workers=None, auth=1, timeout=10.0, exclude=()):
        """Until the master has the given numbers of children, none of them in
        exclude; returns children()."""
        workers = self.workers if workers is None else workers
        deadline = time.monotonic() + _slow(timeout)
        while time.monotonic() < deadline:
            c = self.children()
            if (len(c["workers"]) == workers and len(c["auth"]) == auth
                    and not set(c["workers"] + c["auth"]) & set(exclude)):
                return c
            time.sleep(0.05)
        raise TimeoutError(f"children {self.children()} after {timeout}s:\n{self.log()}")

    def session_worker(self, client, timeout=10.0):
        """The pid of the worker serving the SMTP (or other) connection whose
        client end is the socket client: the child with the server end in
        its /proc/PID/fd."""
        deadline = time.monotonic() + _slow(timeout)
        while time.monotonic() < deadline:
            side = server_side(client)
            if side is not None:
                pid = holder_of(side[0], self.children()["workers"])
                if pid is not None:
                    return pid
            time.sleep(0.02)
        raise TimeoutError(f"no worker holds the server end of {client}")

    def kill_all(self):
        """SIGKILL to the master and every child at once (their process
        group), as a power cut would stop them; start() brings dirmaild back
        on the same configuration, state and log."""
        if self.proc is None:
            return None
        pids = [pid for pid, _ in children_of(self.pid)] if self.running() else []
        status = process.stop(self.proc, signal.SIGKILL, timeout=5)
        self.log_file.close()
        # the children were killed with the master; wait until they are
        # gone (or zombies) so that nothing of this run holds the spool lock
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = []
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                            alive.append(pid)
                except OSError:
                    pass
            if not alive:
                break
            time.sleep(0.02)
        return status

    def restart(self, timeout=20.0):
        """start() again after stop() or kill_all(), waiting only for what
        this new run logs."""
        offset = len(self.log())
        self.start(wait=False)
        self.wait_ready(timeout, generation_log_offset=offset)
        return self

    def reload(self):
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, timeout=30.0, check_sanitizers=True):
        """SIGTERM to the master alone (it tells its children); the exit
        status. Raises SanitizerReport when the log holds a sanitizer report
        no test has failed on yet (check_sanitizers=False: the caller looks)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=_slow(timeout))
            except subprocess.TimeoutExpired:
                pass
        status = process.stop(self.proc, signal.SIGKILL, timeout=5)
        self.log_file.close()
        if check_sanitizers:
            self.check_sanitizers()
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        # with an exception on its way, leave the reports to the TAP runner
        self.stop(check_sanitizers=exc[0] is None)
