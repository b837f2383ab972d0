"""A small ManageSieve client (RFC 5804) over a raw socket, for the tests
that must see the exact octets: strings sent quoted or as literals ({n+},
or {n} as some clients send), responses parsed into their status, response
code and text, literals included.

    c = ManageSieve(port)
    c.capabilities            # {"SIEVE": "fileinto ...", "STARTTLS": None, ...}
    c.starttls(ctx)
    c.authenticate_plain("alice", "pw")
    r = c.command("PUTSCRIPT", "s1", c.literal(b"keep;\\r\\n"))
    r.status, r.code, r.text, r.lines
"""
import base64
import socket


class Literal:
    """An argument sent as a literal; plus=False sends {n} (no continuation)."""

    def __init__(self, data, plus=True):
        self.data = data if isinstance(data, bytes) else data.encode()
        self.plus = plus


class Atom:
    """An argument sent as it is (numbers, mechanism names)."""

    def __init__(self, text):
        self.text = text


class Response:
    def __init__(self, status, code, text, lines):
        self.status = status  # "OK", "NO", "BYE"
        self.code = code      # "QUOTA/MAXSIZE", "TAG ..." or None
        self.text = text      # the human-readable string, or None
        self.lines = lines    # the data lines before it, each a list of tokens

    def __repr__(self):
        return f"Response({self.status!r}, {self.code!r}, {self.text!r}, {self.lines!r})"


def quote(s):
    b = s if isinstance(s, bytes) else s.encode()
    return b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class ManageSieve:
    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.response()
        self.capabilities = self.caps_of(self.greeting)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    # ---- reading ----

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError(self.buf)
        self.buf += chunk

    def raw_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def raw_bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def tokens(self):
        """One logical line as tokens: ("str", bytes), ("atom", str),
        ("code", str) for a parenthesised response code."""
        out = []
        line = self.raw_line()
        i = 0
        while True:
            if i >= len(line):
                return out
            c = line[i:i + 1]
            if c == b" ":
                i += 1
            elif c == b'"':
                j, val = i + 1, b""
                while line[j:j + 1] != b'"':
                    if line[j:j + 1] == b"\\":
                        j += 1
                    val += line[j:j + 1]
                    j += 1
                out.append(("str", val))
                i = j + 1
            elif c == b"{":
                j = line.index(b"}", i)
                n = int(line[i + 1:j].rstrip(b"+"))
                assert j == len(line) - 1, line
                out.append(("str", self.raw_bytes(n)))
                line, i = self.raw_line(), 0
            elif c == b"(":
                depth, j = 0, i
                while True:
                    ch = line[j:j + 1]
                    if ch == b'"':
                        j = line.index(b'"', j + 1)
                    elif ch == b"(":
                        depth += 1
                    elif ch == b")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                out.append(("code", line[i + 1:j].decode()))
                i = j + 1
            else:
                j = line.find(b" ", i)
                j = len(line) if j < 0 else j
                out.append(("atom", line[i:j].decode()))
                i = j

    def response(self):
        """The data lines up to and with the OK, NO or BYE that ends them."""
        lines = []
        while True:
            t = self.tokens()
            if t and t[0][0] == "atom" and t[0][1].upper() in ("OK", "NO", "BYE"):
                code = next((v for k, v in t[1:] if k == "code"), None)
                text = next((v.decode() for k, v in t[1:] if k == "str"), None)
                return Response(t[0][1].upper(), code, text, lines)
            lines.append(t)

    @staticmethod
    def caps_of(resp):
        caps = {}
        for t in resp.lines:
            name = t[0][1].decode() if t[0][0] == "str" else t[0][1]
            caps[name.upper()] = t[1][1].decode() if len(t) > 1 else None
        return caps

    # ---- writing ----

    @staticmethod
    def literal(data, plus=True):
        return Literal(data, plus)

    @staticmethod
    def atom(text):
        return Atom(str(text))

    def send(self, data):
        self.s.sendall(data)

    def encode(self, name, args):
        out = name.encode()
        for a in args:
            out += b" "
            if isinstance(a, Literal):
                out += b"{%d%s}\r\n" % (len(a.data), b"+" if a.plus else b"") + a.data
            elif isinstance(a, Atom):
                out += a.text.encode()
            else:
                out += quote(a)
        return out + b"\r\n"

    def command(self, name, *args):
        self.send(self.encode(name, args))
        return self.response()

    def starttls(self, ctx, server_hostname="localhost"):
        r = self.command("STARTTLS")
        assert r.status == "OK", r
        self.s = ctx.wrap_socket(self.s, server_hostname=server_hostname)
        self.buf = b""
        r = self.response()  # RFC 5804 2.2: the capabilities again, then OK
        self.capabilities = self.caps_of(r)
        return r

    def authenticate_plain(self, user, password, initial=True):
        """AUTHENTICATE "PLAIN", with the initial response on the command
        line (SASL-IR) or after the server's empty challenge."""
        cred = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        if initial:
            return self.command("AUTHENTICATE", "PLAIN", cred)
        self.send(self.encode("AUTHENTICATE", ["PLAIN"]))
        challenge = self.tokens()
        if challenge and challenge[0][0] == "atom" and challenge[0][1] in ("OK", "NO", "BYE"):
            raise AssertionError(f"no challenge: {challenge}")
        self.send(quote(cred) + b"\r\n")
        return self.response()
