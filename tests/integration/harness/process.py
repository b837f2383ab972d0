"""Free loopback ports, temporary folders and child processes that are always
stopped: every process a test starts is registered here and killed by pid at
exit (atexit and SIGTERM), so no test ever leaks a slapd or a dirmaild."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_children = []
_tempdirs = []


# Ports handed out by this test process: the kernel may give a port that was
# bound and closed a moment ago again, so that two services of one dirmaild
# would get the same one (seen once in a fresh chroot).
_given_ports = set()


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now and that this process has
    not handed out before."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(1000):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError(f"no new free port on {host}")


def tempdir(prefix="dirmail-test-"):
    """A fresh folder removed when the test process exits (kept when
    DIRMAIL_KEEP_TMP=1, for debugging)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    _tempdirs.append(path)
    return path


def spawn(argv, **kwargs):
    """Start argv in its own process group and register it for cleanup."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def stop(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stop proc (and its process group) with sig, then SIGKILL after timeout.
    Returns the exit status."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc in _children:
        _children.remove(proc)
    return proc.returncode


def wait_for_port(host, port, timeout=10.0, proc=None):
    """Wait until host:port accepts a TCP connection; raise if proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _cleanup():
    for proc in list(_children):
        stop(proc, signal.SIGKILL, timeout=5)
    if os.environ.get("DIRMAIL_KEEP_TMP") != "1":
        for path in _tempdirs:
            shutil.rmtree(path, ignore_errors=True)


def _on_term(signo, frame):
    _cleanup()
    os._exit(128 + signo)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_term)


def freeze(proc, timeout=5.0):
    """SIGSTOP proc and wait until every one of its threads is really stopped:
    kill() returns before the signal takes effect, and a thread still running
    for a moment could answer a request the test expects to hang."""
    os.kill(proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        try:
            for tid in os.listdir(f"/proc/{proc.pid}/task"):
                with open(f"/proc/{proc.pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            states = ["?"]
        if states and all(s in ("T", "t") for s in states):
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {proc.pid} did not stop")


def thaw(proc):
    """Let a frozen proc run again."""
    os.kill(proc.pid, signal.SIGCONT)
