"""A DNS server on a loopback UDP port that answers every query at once
with SERVFAIL (RFC 1035 4.1.1, RCODE 2): the "DNS is down" of a test, made
immediate. A port where nothing listens is not the same: libunbound waits
out its retransmission schedule for every new name, and that schedule
grows with the server's backed-off round-trip time (seconds, then tens of
seconds), so a test's wait for a deferral raced the resolver. One thread."""
import socket
import struct
import threading

RCODE_SERVFAIL = 2


def servfail_reply(query):
    """The SERVFAIL answer to query (bytes): its id, opcode, RD bit and
    question echoed, no records; None when query is too short to answer."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    end = 12
    if qdcount == 1:
        # the question: labels up to the root, then type and class
        while end < len(query) and query[end] != 0:
            end += 1 + query[end]
        end += 1 + 4
        if end > len(query):
            return None
    else:
        qdcount = 0
        end = 12
    opcode_rd = flags & 0x7900  # opcode and RD from the query
    reply_flags = 0x8000 | opcode_rd | 0x0080 | RCODE_SERVFAIL  # QR, RA
    return struct.pack("!HHHHHH", ident, reply_flags, qdcount, 0, 0, 0) + query[12:end]


class ServfailDns:
    """ServfailDns(): listening on 127.0.0.1:port; stop() ends it.
    queries counts what it answered."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = servfail_reply(query)
            if reply is not None:
                self.queries += 1
                self.sock.sendto(reply, peer)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
