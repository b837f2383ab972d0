#!/usr/bin/env python3
"""lib's TLS and connection layer against real clients: openssl s_client and
Python's ssl talk to tests/tls_test_server (event loop + conn + tls)."""
import os
import re
import socket
import ssl
import subprocess
import time
import unittest

import harness.tap
from harness import certs, process

SERVER = os.path.join(os.environ.get("top_builddir", "."), "tests", "tls_test_server")
LINE_LIMIT = 256


class TlsServer:
    """One tls_test_server on a free loopback port, stopped by pid."""

    def __init__(self, pki, implicit=False):
        self.port = process.free_port()
        self.log = os.path.join(process.tempdir(), "server.log")
        argv = [SERVER, "--port", str(self.port), "--cert", pki["cert"], "--key", pki["key"],
                "--line-limit", str(LINE_LIMIT)]
        if implicit:
            argv.append("--implicit")
        self.logf = open(self.log, "w")
        self.proc = process.spawn(argv, stdout=self.logf, stderr=self.logf)
        process.wait_for_port("127.0.0.1", self.port, proc=self.proc)

    def stop(self):
        status = process.stop(self.proc)
        self.logf.close()
        return status

    def log_text(self):
        with open(self.log) as f:
            return f.read()


def read_line(sock):
    """One CRLF line, read byte by byte so that nothing after it is consumed
    (the plaintext phase must not eat the start of the TLS handshake)."""
    data = b""
    while not data.endswith(b"\r\n"):
        ch = sock.recv(1)
        if not ch:
            raise EOFError(f"connection closed after {data!r}")
        data += ch
    return data.decode("latin-1")[:-2]


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = certs.make_ca_and_cert(process.tempdir())
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])

    def setUp(self):
        self.server = TlsServer(self.pki)

    def tearDown(self):
        status = self.server.stop()
        # SIGTERM goes through the loop's signalfd: a clean exit, not a kill.
        self.assertEqual(status, 0, self.server.log_text())

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.assertEqual(read_line(sock), "220 test ready")
        return sock

    def starttls(self, sock):
        sock.sendall(b"STARTTLS\r\n")
        self.assertEqual(read_line(sock), "220 ready to start TLS")
        return self.ctx.wrap_socket(sock, server_hostname="localhost")

    def s_client(self, *extra, stdin=b"INFO\nQUIT\n"):
        argv = ["openssl", "s_client", "-starttls", "smtp", "-connect",
                f"127.0.0.1:{self.server.port}", "-CAfile", self.pki["ca"],
                "-verify_hostname", "localhost", "-verify_return_error", "-crlf", "-brief", "-ign_eof",
                *extra]
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=20)

    def test_s_client_starttls_negotiates_tls13(self):
        result = self.s_client()
        out = result.stdout.decode() + result.stderr.decode()
        self.assertEqual(result.returncode, 0, out)
        self.assertIn("Verification: OK", out)
        m = re.search(r"250 tls=(\S+) cipher=(\S+) discarded=0", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), "TLSv1.3")
        self.assertNotEqual(m.group(2), "none")
        self.assertIn("221 bye", out)

    def test_s_client_starttls_tls12(self):
        result = self.s_client("-tls1_2")
        out = result.stdout.decode() + result.stderr.decode()
        self.assertEqual(result.returncode, 0, out)
        m = re.search(r"250 tls=(\S+) cipher=(\S+) discarded=0", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), "TLSv1.2")
        self.assertRegex(m.group(2), r"^ECDHE-")

    def test_tls11_refused_by_server(self):
        # SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal seen
        # must be the server's protocol_version alert, not a client-side limit.
        result = self.s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        out = result.stdout.decode() + result.stderr.decode()
        self.assertNotEqual(result.returncode, 0, out)
        self.assertIn("alert protocol version", out)
        self.assertNotIn("250 tls=", out)
        # The server is still serving.
        self.assertEqual(self.s_client().returncode, 0)

    def test_starttls_pipelined_plaintext_is_discarded(self):
        sock = self.connect()
        # One send: the injected command arrives with STARTTLS (CVE-2011-0411).
        injected = b"ECHO injected\r\n"
        sock.sendall(b"STARTTLS\r\n" + injected)
        sock.settimeout(10)
        reply = sock.recv(4096)
        # Exactly the STARTTLS reply: nothing answered the injected command.
        self.assertEqual(reply, b"220 ready to start TLS\r\n")
        tls = self.ctx.wrap_socket(sock, server_hostname="localhost")
        tls.sendall(b"ECHO after\r\n")
        self.assertEqual(read_line(tls), "250 after")
        tls.sendall(b"INFO\r\n")
        info = read_line(tls)
        m = re.match(r"250 tls=(TLSv1\.[23]) cipher=\S+ discarded=(\d+)$", info)
        self.assertIsNotNone(m, info)
        self.assertGreater(int(m.group(2)), 0)
        self.assertEqual(int(m.group(2)), len(injected))
        tls.sendall(b"QUIT\r\n")
        self.assertEqual(read_line(tls), "221 bye")
        tls.close()

    def test_long_line_500_and_session_continues_plaintext(self):
        sock = self.connect()
        exact = b"ECHO " + b"x" * (LINE_LIMIT - 7) + b"\r\n"
        self.assertEqual(len(exact), LINE_LIMIT)
        sock.sendall(exact)
        self.assertEqual(read_line(sock), "250 " + "x" * (LINE_LIMIT - 7))
        sock.sendall(b"ECHO " + b"y" * (LINE_LIMIT - 6) + b"\r\n")  # limit + 1
        self.assertEqual(read_line(sock), "500 line too long")
        sock.sendall(b"ECHO " + b"z" * 5000 + b"\r\nECHO still here\r\n")
        self.assertEqual(read_line(sock), "500 line too long")
        self.assertEqual(read_line(sock), "250 still here")
        sock.close()

    def test_long_line_500_and_session_continues_under_tls(self):
        tls = self.starttls(self.connect())
        # In pieces, so that the line crosses TLS records and reads.
        for piece in (b"ECHO ", b"a" * 300, b"b" * 20000, b"\r\n"):
            tls.sendall(piece)
        self.assertEqual(read_line(tls), "500 line too long")
        tls.sendall(b"ECHO fine\r\n")
        self.assertEqual(read_line(tls), "250 fine")
        tls.close()

    def test_many_pipelined_lines_under_tls(self):
        tls = self.starttls(self.connect())
        count, batch = 5000, 250
        buf = tls.makefile("rb")
        # Batches of 250 lines (about 4 KB, several TLS records each way) sent
        # at once and then read back: pipelined, yet neither side's buffers
        # fill. (Not a sender thread beside the reader: an SSLSocket, like
        # the OpenSSL object under it, must not be used from two threads at
        # once, and doing so made this test fail now and then.)
        for start in range(0, count, batch):
            tls.sendall(b"".join(b"ECHO line %d\r\n" % i for i in range(start, start + batch)))
            for i in range(start, start + batch):
                self.assertEqual(buf.readline(), b"250 line %d\r\n" % i)
        buf.close()
        tls.close()

    def test_starttls_twice_refused(self):
        tls = self.starttls(self.connect())
        tls.sendall(b"STARTTLS\r\n")
        self.assertEqual(read_line(tls), "454 TLS already active")
        tls.close()


class ImplicitTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = certs.make_ca_and_cert(process.tempdir())

    def setUp(self):
        self.server = TlsServer(self.pki, implicit=True)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, self.server.log_text())

    def session(self, server_hostname):
        ctx = ssl.create_default_context(cafile=self.pki["ca"])
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        tls = ctx.wrap_socket(sock, server_hostname=server_hostname)
        self.assertEqual(read_line(tls), "220 test ready")
        tls.sendall(b"INFO\r\n")
        info = read_line(tls)
        self.assertRegex(info, r"^250 tls=TLSv1\.3 cipher=TLS_\S+ discarded=0$")
        self.assertEqual(tls.version(), "TLSv1.3")
        tls.sendall(b"ECHO implicit\r\nQUIT\r\n")
        self.assertEqual(read_line(tls), "250 implicit")
        self.assertEqual(read_line(tls), "221 bye")
        tls.close()

    def test_implicit_tls_python_ssl(self):
        self.session("localhost")

    def test_implicit_tls_verifies_ip_san(self):
        self.session("127.0.0.1")

    def test_plaintext_client_on_implicit_port_fails(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        sock.sendall(b"INFO\r\n")
        # Not a ClientHello: the server drops the connection without a word.
        data = b""
        try:
            while True:  # possibly a TLS alert, then the close
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:  # closed with our bytes unread: a RST
            pass
        self.assertNotIn(b"250", data)
        sock.close()
        deadline = time.monotonic() + 10
        while "handshake failed" not in self.server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("handshake failed", self.server.log_text())


if __name__ == "__main__":
    harness.tap.main()
