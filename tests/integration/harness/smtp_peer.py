"""A small SMTP server for the relay tests, standing for a next hop: it
offers or withholds STARTTLS, PIPELINING, SIZE and 8BITMIME as asked,
answers chosen recipients with chosen replies (per attempt, so a 4xx can
turn into a 250 the second time), and records every transaction exactly
as it came off the wire (the DATA text before and after unstuffing) and
whether it came under TLS. Threads, one per connection (socketserver)."""
import base64
import socket
import socketserver
import ssl
import sys
import threading
import time


class Transaction:
    def __init__(self):
        self.mail_from = None
        self.mail_args = ""
        self.rcpts = []
        self.wire = b""  # the DATA text as sent, up to and with CRLF.CRLF
        self.data = b""  # unstuffed, without the final dot line
        self.tls = False
        self.helo = None
        self.auth_user = None  # who had authenticated (AUTH) before MAIL


class SmtpPeer:
    def __init__(self, host="127.0.0.1", port=0, starttls=None, pipelining=True, size=None,
                 eightbit=True, dsn=False, replies=None, name="peer.test.example",
                 hold=None, auth=None, auth_required=False, auth_mechs="PLAIN LOGIN",
                 smtputf8=False):
        """starttls: an ssl.SSLContext (server side) to offer STARTTLS with,
        or None. size: the SIZE limit to announce (None: no SIZE). replies:
        {address: [reply, reply, ...]}: the RCPT reply for each attempt in
        turn (the last one repeats); others get 250. hold: a
        threading.Event the reply to the final dot waits for (the message is
        recorded as received before). auth: {user: password} to offer AUTH
        PLAIN and LOGIN with (after STARTTLS when starttls is given; auth_mechs
        the mechanisms offered);
        auth_required: MAIL before a successful AUTH gets 530 5.7.0."""
        self.hold = hold
        self.auth = auth
        self.auth_required = auth_required
        self.auth_mechs = auth_mechs.split()
        self.smtputf8 = smtputf8
        self.auths = []  # (mechanism, user, succeeded, under TLS) per AUTH
        self.host = host
        self.starttls = starttls
        self.pipelining = pipelining
        self.size = size
        self.eightbit = eightbit
        self.dsn = dsn
        self.replies = replies or {}
        self.name = name
        self.lock = threading.Lock()
        self.transactions = []
        self.commands = []  # every command line, with "TLS " before those under TLS
        self.attempts = {}
        self.connections = 0
        self.active = 0  # sessions not yet ended
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                peer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            # socketserver's default backlog is 5: a client that opens
            # many connections at once (the runner after a restart) would
            # have some dropped from a full accept queue, and wait out its
            # greeting timeout on a connection the kernel never completed
            request_queue_size = 128
            allow_reuse_address = True
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def handle_error(self, request, client_address):
                # a client killed mid-session (the crash tests) is expected
                if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
                    super().handle_error(request, client_address)

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self, timeout=15.0):
        """Stop listening, then wait for the sessions still open to end (the
        client's connection kept for reuse says QUIT after its idle time),
        so that no later test's mail reaches a stopped peer."""
        self.server.shutdown()
        self.server.server_close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.05)

    def delivered(self):
        with self.lock:
            return [t for t in self.transactions if t.data is not None and t.rcpts]

    def wait_transactions(self, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.transactions) >= count:
                    return list(self.transactions)
            time.sleep(0.05)
        raise AssertionError(f"peer saw {len(self.transactions)} transactions, wanted {count}; "
                             f"commands: {self.commands}")

    # ---- the conversation ----

    def _serve(self, sock):
        with self.lock:
            self.connections += 1
            self.active += 1
        try:
            self._session(sock)
        finally:
            with self.lock:
                self.active -= 1

    def _session(self, sock):
        f = sock.makefile("rb")
        tls = False

        def send(line):
            sock.sendall(line.encode() + b"\r\n")

        send(f"220 {self.name} ESMTP test peer")
        tx = None
        authed = None

        def read_line():
            line = f.readline(4096)
            return line.rstrip(b"\r\n").decode("ascii", "replace") if line else None
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            with self.lock:
                self.commands.append(("TLS " if tls else "") + cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                lines = [self.name]
                if self.starttls is not None and not tls:
                    lines.append("STARTTLS")
                if self.pipelining:
                    lines.append("PIPELINING")
                if self.size is not None:
                    lines.append(f"SIZE {self.size}")
                if self.eightbit:
                    lines.append("8BITMIME")
                if self.dsn:
                    lines.append("DSN")
                if self.smtputf8:
                    lines.append("SMTPUTF8")
                if self.auth is not None and (tls or self.starttls is None):
                    lines.append("AUTH " + " ".join(self.auth_mechs))
                for i, text in enumerate(lines):
                    send(f"250{'-' if i + 1 < len(lines) else ' '}{text}")
            elif verb == "HELO":
                send(f"250 {self.name}")
            elif verb == "STARTTLS" and self.starttls is not None and not tls:
                send("220 2.0.0 go ahead")
                try:
                    sock = self.starttls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                f = sock.makefile("rb")
                tls = True
                tx = None
                authed = None
            elif verb == "AUTH" and self.auth is not None and authed is None:
                words = cmd.split()
                mech = words[1].upper() if len(words) > 1 else ""
                if mech not in self.auth_mechs:
                    mech = ""
                user = password = None
                try:
                    if mech == "PLAIN":
                        arg = words[2] if len(words) > 2 else None
                        if arg is None:
                            send("334 ")
                            arg = read_line()
                        _, user, password = base64.b64decode(arg).decode().split("\0")
                    elif mech == "LOGIN":
                        send("334 " + base64.b64encode(b"Username:").decode())
                        user = base64.b64decode(read_line()).decode()
                        send("334 " + base64.b64encode(b"Password:").decode())
                        password = base64.b64decode(read_line()).decode()
                    else:
                        send("504 5.5.4 unrecognized authentication type")
                        continue
                except (ValueError, TypeError, AttributeError):
                    send("501 5.5.2 cannot decode the response")
                    continue
                ok = self.auth.get(user) == password
                with self.lock:
                    self.auths.append((mech, user, ok, tls))
                if ok:
                    authed = user
                    send("235 2.7.0 authentication successful")
                else:
                    send("535 5.7.8 authentication credentials invalid")
            elif verb == "MAIL" and self.auth_required and authed is None:
                send("530 5.7.0 authentication required")
            elif verb == "MAIL":
                tx = Transaction()
                tx.auth_user = authed
                tx.tls = tls
                rest = cmd[len("MAIL FROM:"):]
                tx.mail_from = rest.split(">", 1)[0].lstrip("<")
                tx.mail_args = rest.split(">", 1)[1].strip() if ">" in rest else ""
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                if tx is None:
                    send("503 5.5.1 MAIL first")
                    continue
                addr = cmd.split(":", 1)[1].split(">", 1)[0].lstrip("<")
                with self.lock:
                    n = self.attempts.get(addr, 0)
                    self.attempts[addr] = n + 1
                answers = self.replies.get(addr)
                reply = answers[min(n, len(answers) - 1)] if answers else "250 2.1.5 ok"
                if reply.startswith("2"):
                    tx.rcpts.append(addr)
                send(reply)
            elif verb == "DATA":
                if tx is None or not tx.rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                wire = b""
                while True:
                    chunk = f.readline(1 << 20)
                    if not chunk:
                        return
                    wire += chunk
                    if chunk == b".\r\n":
                        break
                tx.wire = wire
                body = wire[:-3]
                lines = body.split(b"\r\n")
                tx.data = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
                with self.lock:
                    self.transactions.append(tx)
                tx = None
                if self.hold is not None:
                    self.hold.wait(60)
                send("250 2.0.0 queued as test")
            elif verb == "RSET":
                tx = None
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("502 5.5.2 not implemented")


def server_context(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    return ctx
