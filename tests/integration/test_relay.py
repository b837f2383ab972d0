#!/usr/bin/env python3
"""test_relay.py - the queue runner's SMTP client (gateway/transport_smtp.c)
against real peers on loopback: Postfix's smtp-sink and a small test
server (harness/smtp_peer.py), with a real slapd behind a real dirmaild,
and a private dnsmasq for MX lookups. Mail for a relay domain reaches the
next hop byte-exact; a message with bare LFs reaches a DATA-only peer in
one piece with CRLF line ends; a next hop that is down defers and gets the
message exactly once when it comes up; the second host of a next hop takes
over; a 5xx to RCPT fails that recipient only, a 4xx defers it until the
peer takes it; STARTTLS "may" is used when offered; MX lookups follow the
preferences and a null MX fails the recipient (5.1.10); a user whose
dirmailMailHost is another node reaches that node. TlsVerify: "verify"
delivers to a peer whose certificate fits, and defers (never sending in
clear) when it does not."""
import email
import email.policy
import glob
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.certs import make_ca_and_cert  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import mail_ids, queue_inject  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from harness.smtp_peer import SmtpPeer, server_context  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
INJECT = os.path.join(TOP_BUILDDIR, "tests", "queue_inject")
DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SENDER = "sender@example.org"


def inject(spool, rcpts, message, sender=SENDER):
    """Commit message (bytes) for rcpts through tests/queue_inject; its id."""
    return queue_inject(INJECT, spool, rcpts, message, sender)


def queued(spool, qid):
    return os.path.exists(os.path.join(spool, "active", qid))


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def message(marker, body=b"Hello.\r\n.leading dot\r\nlast line\r\n"):
    return (f"From: {SENDER}\r\nTo: someone\r\nSubject: relay {marker}\r\n"
            f"X-Marker: {marker}\r\n\r\n").encode() + body


def ldap_section(ldap):
    return {"uris": [ldap.uri], "bind_dn": ldap.service_dn,
            "bind_password": ldap.service_password, "base": ldap.suffix,
            "connect_timeout": 1, "timeout": 2, "pool_size": 2}


class Dnsmasq:
    """dnsmasq on a loopback port with the given --mx-host and
    --host-record values; nothing else answered from anywhere."""

    def __init__(self, mx, hosts):
        self.port = process.free_port()
        argv = [DNSMASQ, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--pid-file=", "--user=" + pwd.getpwuid(os.getuid()).pw_name, "--log-queries"]
        argv += [f"--mx-host={m}" for m in mx] + [f"--host-record={h}" for h in hosts]
        self.log_path = os.path.join(process.tempdir("dnsmasq-"), "dnsmasq.log")
        with open(self.log_path, "w") as log:
            self.proc = process.spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: "started" in self.log() or self.proc.poll() is not None,
                 timeout=10, what="dnsmasq started")
        if self.proc.poll() is not None:
            raise AssertionError("dnsmasq: " + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        process.stop(self.proc)


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
@unittest.skipUnless(os.access(SMTP_SINK, os.X_OK) and os.access(DNSMASQ, os.X_OK),
                     "smtp-sink (postfix) or dnsmasq missing: tools/install-deps")
class Relay(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.node_port = process.free_port()
        cls.ldap.add("dn: uid=frank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: frank\ncn: Frank\nsn: Frank\nmail: frank@example.org\n"
                     f"dirmailMailHost: 127.0.0.1:{cls.node_port}\n")
        cls.tmp = process.tempdir("relay-")
        cls.certs = make_ca_and_cert(os.path.join(cls.tmp, "pki"))
        # the ports every next hop of the configuration names
        cls.ports = {name: process.free_port() for name in
                     ("sink", "plain", "down", "dead", "failover", "codes", "tls", "mx",
                      "slow", "small", "seven", "dsn", "stop", "utf8", "ascii", "loop")}
        cls.dns = Dnsmasq(
            mx=["mxorder.example,mx-a.mxorder.example,10",
                "mxorder.example,mx-b.mxorder.example,20",
                "nullmx.example,.,0"],
            hosts=["mx-a.mxorder.example,127.0.0.2", "mx-b.mxorder.example,127.0.0.1"])
        p = cls.ports
        relay = [
            {"domain": "sink.example", "next_hop": f"[127.0.0.1]:{p['sink']}"},
            {"domain": "plain.example", "next_hop": f"[127.0.0.1]:{p['plain']}"},
            {"domain": "down.example", "next_hop": f"[127.0.0.1]:{p['down']}"},
            {"domain": "failover.example",
             "next_hop": f"[127.0.0.1]:{p['dead']}, [127.0.0.1]:{p['failover']}"},
            {"domain": "codes.example", "next_hop": f"[127.0.0.1]:{p['codes']}"},
            {"domain": "tls.example", "next_hop": f"[127.0.0.1]:{p['tls']}"},
            {"domain": "slow.example", "next_hop": f"[127.0.0.1]:{p['slow']}"},
            {"domain": "small.example", "next_hop": f"[127.0.0.1]:{p['small']}"},
            {"domain": "seven.example", "next_hop": f"[127.0.0.1]:{p['seven']}"},
            {"domain": "dsn.example", "next_hop": f"[127.0.0.1]:{p['dsn']}"},
            {"domain": "stop.example", "next_hop": f"[127.0.0.1]:{p['stop']}"},
            {"domain": "utf8.example", "next_hop": f"[127.0.0.1]:{p['utf8']}"},
            {"domain": "ascii.example", "next_hop": f"[127.0.0.1]:{p['ascii']}"},
            {"domain": "loop.example", "next_hop": f"[127.0.0.1]:{p['loop']}"},
            "mxorder.example", "nullmx.example",
        ]
        cls.base = os.path.join(process.tempdir(), "vmail")
        os.makedirs(cls.base)
        if os.geteuid() == 0:
            os.chown(cls.base, *mail_ids())
        cls.d = Dirmaild(workers=1, ldap=ldap_section(cls.ldap),
                         domains={"local": ["example.org", "example.net"], "relay": relay},
                         cache={"size": 0},
                         queue={"retry_min": 1, "retry_max": 2, "scan_interval": 5,
                                "delivery_threads": 2},
                         delivery={"mailbox_base": cls.base},
                         smtp_client={"dns_forwarders": [f"127.0.0.1@{cls.dns.port}"],
                                      "port": p["mx"], "destination_backoff": 1,
                                      "idle_time": 1, "connect_timeout": 5,
                                      "helo_name": "relay.test.example"})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.spool = cls.d.spool

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.dns.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"
        assert not errors, errors

    def peer(self, port_name, host="127.0.0.1", **kwargs):
        peer = SmtpPeer(host=host, port=self.ports[port_name], **kwargs)
        self.addCleanup(peer.stop)
        return peer

    def removed(self, qid, timeout=30.0):
        wait_for(lambda: not queued(self.spool, qid), timeout=timeout,
                 what=f"{qid} removed\n{self.d.log()}")

    def test_relay_domain_byte_exact_through_smtp_sink(self):
        dumps = process.tempdir("sink-")
        os.chmod(dumps, 0o777)
        argv = [SMTP_SINK, "-d", os.path.join(dumps, "%Y%m%d%H%M%S."), "-h", "sink.test.example"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        sink = process.spawn(argv + [f"127.0.0.1:{self.ports['sink']}", "10"])
        self.addCleanup(process.stop, sink)
        process.wait_for_port("127.0.0.1", self.ports["sink"], proc=sink)
        body = (b"Header-Like: no\r\n\r\n" + b"x" * 998 + b"\r\n..two dots\r\n.\r\n"
                b"\tindented\r\nend")
        msg = message("sink", body)
        qid = inject(self.spool, ["someone@sink.example", "other@sink.example"], msg)
        self.removed(qid)
        files = wait_for(lambda: glob.glob(os.path.join(dumps, "*")), what="smtp-sink dump")
        self.assertEqual(len(files), 1, files)
        with open(files[0], "rb") as f:
            dump = f.read()
        # smtp-sink puts the envelope first as X- headers (one per line), then
        # the message as received, unstuffed, then an empty line of its own
        head, _, got = dump.partition(b"\n" + b"From: ")
        self.assertTrue(got.endswith(b"\n\n"), got[-20:])
        got = b"From: " + got[:-1]
        self.assertIn(b"X-Rcpt-Args: <someone@sink.example>", head)
        self.assertIn(b"X-Rcpt-Args: <other@sink.example>", head)
        self.assertIn(f"X-Mail-Args: <{SENDER}>".encode(), head)
        # the text is the spooled one; a last line without CRLF gets one
        self.assertEqual(got.replace(b"\r\n", b"\n"), (msg + b"\r\n").replace(b"\r\n", b"\n"))
        log = self.d.log()
        self.assertRegex(log, rf"id={qid} event=relayed rcpt=someone@sink.example "
                              rf"relay=127.0.0.1\[127.0.0.1\]:{self.ports['sink']}")
        # the spool file goes before the line is logged: wait for it
        wait_for(lambda: f"id={qid} event=removed recipients=2" in self.d.log(),
                 what="the removal logged")

    def test_bare_lf_reaches_data_only_peer_unsplit(self):
        peer = self.peer("plain", pipelining=False)
        # as a BDAT client may send it: bare LFs, a bare CR, and what would
        # end DATA early on a peer that takes LF as a line end
        body = b"line one\nline two\n.\nnot the end\r\nbare\rcr\r\nlast\r\n"
        msg = message("bare-lf", body)
        qid = inject(self.spool, ["someone@plain.example"], msg)
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertEqual(tx.rcpts, ["someone@plain.example"])
        # every line ends in CRLF, the lone dot is stuffed, nothing is lost
        self.assertNotRegex(tx.wire, rb"(?<!\r)\n")
        self.assertNotRegex(tx.wire, rb"\r(?!\n)")
        self.assertEqual(tx.data, msg.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                         .replace(b"\n", b"\r\n"))
        self.assertIn(b"\r\n..\r\nnot the end\r\n", tx.wire)
        self.assertEqual(len(peer.transactions), 1)

    def test_next_hop_down_deferred_then_delivered_once(self):
        qid = inject(self.spool, ["someone@down.example"], message("down"))
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@down.example .*4\.4\.1 ")
        self.assertTrue(queued(self.spool, qid))
        peer = self.peer("down")
        self.removed(qid, timeout=60)
        [tx] = peer.wait_transactions(1)
        self.assertIn(b"X-Marker: down", tx.data)
        self.assertEqual(len(peer.delivered()), 1)
        self.assertEqual(len(re.findall(rf"id={qid} event=relayed", self.d.log())), 1)

    def test_non_ascii_address_needs_smtputf8(self):
        rcpt = "j\u00f6rg@utf8.example"
        # a peer with SMTPUTF8 gets MAIL ... SMTPUTF8 (RFC 6531 3.4)
        peer = self.peer("utf8", smtputf8=True)
        qid = inject(self.spool, [rcpt], message("utf8"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertIn("SMTPUTF8", tx.mail_args.split())
        self.assertEqual(tx.rcpts, [rcpt.encode().decode("utf-8", "surrogateescape")])
        # one without it: 5.6.7, nothing sent (RFC 6531 3.2); an ASCII
        # message to the same peer goes without the parameter
        plain = self.peer("ascii")
        rcpt = "j\u00f6rg@ascii.example"
        qid = inject(self.spool, [rcpt], message("no-utf8"))
        self.d.wait_log(rf"id={qid} event=failed rcpt=\S+ .*5\.6\.7 non-ASCII address, "
                        r"SMTPUTF8 not offered by ")
        self.removed(qid)
        self.assertFalse([c for c in plain.commands if c.startswith("MAIL")], plain.commands)
        qid = inject(self.spool, ["someone@ascii.example"], message("ascii"))
        self.removed(qid)
        [tx] = plain.wait_transactions(1)
        self.assertNotIn("SMTPUTF8", tx.mail_args)

    def test_too_many_received_fields_is_a_loop(self):
        peer = self.peer("loop")
        hops = "".join(f"Received: from hop{i}.example by hop{i + 1}.example; "
                       f"Mon, 7 Dec 2026 12:00:{i % 60:02d} +0000\r\n" for i in range(51))
        qid = inject(self.spool, ["someone@loop.example"], hops.encode() + message("loop"))
        self.d.wait_log(rf"id={qid} event=failed rcpt=someone@loop.example .*5\.4\.6 too many "
                        r"Received header fields \(51\): mail loop")
        self.removed(qid)
        self.assertFalse([c for c in peer.commands if c.startswith("MAIL")], peer.commands)
        # 50, the default hop_limit, still goes
        qid = inject(self.spool, ["someone@loop.example"],
                     hops.split("\r\n", 1)[1].encode() + message("loop50"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertEqual(tx.data.count(b"Received: "), 50)

    def route(self, address):
        res = subprocess.run([DIRMAILCTL, "-c", self.d.path, "route", address],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        return res.returncode, res.stdout

    def test_dirmailctl_route_prints_the_runners_choice(self):
        status, out = self.route("someone@mxorder.example")
        self.assertEqual(status, 0, out)
        self.assertIn("route: relay\n", out)
        self.assertIn("destination: mx:mxorder.example\nprotocol: smtp\ntls_security: may\n", out)
        self.assertIn(f"hop: 1 mxorder.example (MX lookup):{self.ports['mx']}\n", out)
        # preference 10 before 20, as the runner tries them
        self.assertIn(f"address: 1 mx-a.mxorder.example[127.0.0.2]:{self.ports['mx']}\n"
                      f"address: 2 mx-b.mxorder.example[127.0.0.1]:{self.ports['mx']}\n", out)
        status, out = self.route("someone@nullmx.example")
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"addresses: none: .* \(permanent\)")
        status, out = self.route("someone@sink.example")
        self.assertIn(f"destination: relay:[127.0.0.1]:{self.ports['sink']}\n", out)
        self.assertIn(f"address: 1 127.0.0.1[127.0.0.1]:{self.ports['sink']}\n", out)
        status, out = self.route("frank@example.org")
        self.assertEqual(status, 0, out)
        self.assertIn("route: node\n", out)
        self.assertIn(f"destination: node:127.0.0.1:{self.node_port}\n", out)
        status, out = self.route("nobody-here@example.org")
        self.assertEqual(status, 0, out)
        self.assertIn("route: fail\n", out)
        self.assertRegex(out, r"result: 5\.1\.1 ")
        # nothing was sent anywhere: no queue entries, no peer contacted
        self.assertNotIn("event=relayed rcpt=someone@mxorder.example", self.d.log()[-2000:])

    def test_failover_to_second_host(self):
        peer = self.peer("failover")
        qid = inject(self.spool, ["someone@failover.example"], message("failover"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertIn(b"X-Marker: failover", tx.data)
        log = self.d.log()
        self.assertRegex(log, rf"event=smtp_connect_failed peer=127.0.0.1\[127.0.0.1\]:"
                              rf"{self.ports['dead']}")
        self.assertRegex(log, rf"id={qid} event=relayed rcpt=someone@failover.example "
                              rf"relay=127.0.0.1\[127.0.0.1\]:{self.ports['failover']}")

    def test_rcpt_5xx_fails_one_4xx_defers_until_taken(self):
        peer = self.peer("codes", replies={
            "nobody@codes.example": ["550 5.1.1 no such user here"],
            "later@codes.example": ["451 4.3.0 try again", "250 2.1.5 ok now"]})
        rcpts = ["ok@codes.example", "nobody@codes.example", "later@codes.example"]
        qid = inject(self.spool, rcpts, message("codes"))
        self.d.wait_log(rf"id={qid} event=failed rcpt=nobody@codes.example "
                        r'reply="5\.1\.1 host 127\.0\.0\.1\[127\.0\.0\.1\]:\d+ said: 550 5\.1\.1 '
                        r'no such user here \(in reply to RCPT TO\)"')
        self.d.wait_log(rf"id={qid} event=deferred rcpt=later@codes.example .*"
                        r'reply="4\.3\.0 host .* said: 451 4\.3\.0 try again')
        self.removed(qid, timeout=60)
        txs = peer.wait_transactions(2)
        self.assertEqual([t.rcpts for t in txs], [["ok@codes.example"], ["later@codes.example"]])
        self.assertEqual(peer.attempts["nobody@codes.example"], 1)

    def test_starttls_may_used_when_offered(self):
        peer = self.peer("tls", starttls=server_context(self.certs))
        qid = inject(self.spool, ["someone@tls.example"], message("tls-may"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertTrue(tx.tls)
        self.assertTrue(all(c.startswith("TLS ") for c in peer.commands if c.startswith(
            "MAIL") or c.startswith("TLS MAIL")), peer.commands)
        self.assertRegex(self.d.log(), rf"id={qid} event=relayed rcpt=someone@tls.example "
                                       r".*tls=TLSv1\.[23]")

    def test_mx_preference_order_then_next_mx(self):
        best = self.peer("mx", host="127.0.0.2")
        qid = inject(self.spool, ["someone@mxorder.example"], message("mx-best"))
        self.removed(qid)
        [tx] = best.wait_transactions(1)
        self.assertIn(b"X-Marker: mx-best", tx.data)
        self.assertRegex(self.d.log(), rf"id={qid} event=relayed rcpt=someone@mxorder.example "
                                       r"relay=mx-a\.mxorder\.example\[127\.0\.0\.2\]")
        # the preferred MX gone (once the connection kept for reuse has said
        # QUIT): the next one takes the mail
        wait_for(lambda: "QUIT" in best.commands, what="idle connection closed")
        best.stop()
        second = self.peer("mx", host="127.0.0.1")
        qid = inject(self.spool, ["someone@mxorder.example"], message("mx-second"))
        self.removed(qid, timeout=60)
        [tx] = second.wait_transactions(1)
        self.assertIn(b"X-Marker: mx-second", tx.data)
        self.assertRegex(self.d.log(), rf"id={qid} event=relayed rcpt=someone@mxorder.example "
                                       r"relay=mx-b\.mxorder\.example\[127\.0\.0\.1\]")

    def test_null_mx_fails_the_recipient(self):
        qid = inject(self.spool, ["someone@nullmx.example"], message("nullmx"))
        self.d.wait_log(rf"id={qid} event=failed rcpt=someone@nullmx.example "
                        r'reply="5\.1\.10 domain accepts no mail \(null MX, RFC 7505\): '
                        r'nullmx.example"')
        self.removed(qid)

    def test_slow_peer_holds_no_thread_and_no_second_attempt(self):
        # The peer keeps its reply to the final dot until released: the
        # message is in flight on the network meanwhile.
        release = threading.Event()
        self.addCleanup(release.set)
        peer = self.peer("slow", hold=release)
        qid = inject(self.spool, ["alice@example.org", "someone@slow.example"], message("slow"))
        peer.wait_transactions(1)
        # the local recipient of the same message is delivered, and other
        # messages too, while the network job waits (two runner threads,
        # five messages: none of them waits for the slow peer)
        wait_for(lambda: self.maildir_with("example.org/alice", b"X-Marker: slow"),
                 what="local copy while the relay waits")
        # Other messages are delivered meanwhile, for 3 s of observation:
        # longer than retry_min (1 s), after which a message the work list
        # had not kept claimed would be attempted a second time.
        started, count = time.monotonic(), 0
        while time.monotonic() - started < 3 or count < 5:
            other = inject(self.spool, ["bob@example.org"], message(f"meanwhile-{count}"))
            self.removed(other)
            count += 1
        self.assertTrue(queued(self.spool, qid))
        self.assertEqual(peer.connections, 1)
        self.assertEqual(len(peer.transactions), 1)
        release.set()
        self.removed(qid)
        self.assertEqual(len(re.findall(rf"id={qid} event=relayed", self.d.log())), 1)
        self.assertEqual(peer.attempts["someone@slow.example"], 1)

    def test_size_over_the_peers_limit_fails_unsent(self):
        peer = self.peer("small", size=200)
        big = message("too-big", b"y" * 300 + b"\r\n")
        qid = inject(self.spool, ["someone@small.example"], big)
        self.d.wait_log(rf"id={qid} event=failed rcpt=someone@small.example "
                        r'reply="5\.3\.4 message too big for the next hop: \d+ octets, '
                        r'127\.0\.0\.1\[127\.0\.0\.1\]:\d+ takes 200"')
        self.removed(qid)
        self.assertFalse([c for c in peer.commands if c.startswith("MAIL")], peer.commands)
        # a message that fits goes, with its SIZE
        qid = inject(self.spool, ["someone@small.example"], b"Subject: s\r\n\r\nok\r\n")
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertRegex(tx.mail_args, r"^SIZE=\d+$")

    def test_8bit_to_7bit_peer_gets_quoted_printable(self):
        """RFC 6152 3: converted to quoted-printable, 7-bit on the wire,
        decoding to the original; what cannot be converted fails 5.6.3."""
        peer = self.peer("seven", eightbit=False)
        body = "caf\u00e9 cr\u00e8me\r\n.leading dot\r\nplain line\r\n".encode()
        qid = inject(self.spool, ["someone@seven.example"], message("eight", body))
        self.d.wait_log(rf"id={qid} event=converted_7bit relay=127\.0\.0\.1\S* octets=\d+ "
                        r"converted=\d+")
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertNotIn("BODY=8BITMIME", tx.mail_args)
        self.assertFalse([b for b in tx.data if b > 127], "8-bit octets reached a 7-bit peer")
        got = email.message_from_bytes(tx.data, policy=email.policy.compat32)
        self.assertEqual(got["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(got["MIME-Version"], "1.0")
        self.assertEqual(got["X-Marker"], "eight")
        self.assertEqual(got.get_payload(decode=True).replace(b"\r\n", b"\n"),
                         body.replace(b"\r\n", b"\n"))
        # a multipart: the 8-bit part re-encoded, the 7-bit one as it was
        eight_part = "Gr\u00fc\u00dfe aus K\u00f6ln\r\n".encode()
        multi = (f"From: {SENDER}\r\nTo: someone\r\nSubject: multi\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                 "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + eight_part + (
                 "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                 "seven bit only\r\n--b1--\r\n").encode()
        qid = inject(self.spool, ["multi@seven.example"], multi)
        self.removed(qid)
        [_, tx] = peer.wait_transactions(2)
        self.assertFalse([b for b in tx.data if b > 127], "8-bit octets reached a 7-bit peer")
        got = email.message_from_bytes(tx.data, policy=email.policy.compat32)
        first, second = got.get_payload()
        self.assertEqual(first["Content-Transfer-Encoding"], "quoted-printable")
        # the CRLF before a boundary is the boundary's (RFC 2046 5.1.1)
        self.assertEqual(first.get_payload(decode=True), eight_part[:-2])
        self.assertIsNone(second["Content-Transfer-Encoding"])
        self.assertEqual(second.get_payload().strip(), "seven bit only")
        # 8-bit in a header field or inside a message/rfc822: 5.6.3, unsent
        bad_header = (f"From: {SENDER}\r\nSubject: caf\u00e9\r\n\r\nbody\r\n").encode()
        inner = "Subject: inner\r\n\r\ncaf\u00e9\r\n".encode()
        bad_inner = (f"From: {SENDER}\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: message/rfc822\r\n\r\n").encode() + inner
        for rcpt, text, why in (("hdr@seven.example", bad_header, "in a header field"),
                                ("inner@seven.example", bad_inner, "inside a message part")):
            qid = inject(self.spool, [rcpt], text)
            self.d.wait_log(rf"id={qid} event=failed rcpt={rcpt} "
                            r'reply="5\.6\.3 8-bit message, 8BITMIME not offered by '
                            rf"127\.0\.0\.1\S* \(8-bit octets {why}\)")
            self.removed(qid)
        self.assertEqual(len(peer.transactions), 2)
        # 8-bit to a peer that offers 8BITMIME goes with BODY=8BITMIME
        eight = self.peer("plain")
        qid = inject(self.spool, ["someone@plain.example"],
                     message("eight-ok", "caf\u00e9\r\n".encode()))
        self.removed(qid)
        [tx] = eight.wait_transactions(1)
        self.assertIn("BODY=8BITMIME", tx.mail_args)
        self.assertIn("caf\u00e9".encode(), tx.data)

    def test_smtp_in_relay_out_with_dsn_parameters(self):
        # the whole way: a client relays through dirmaild's SMTP service
        # (127.0.0.1 is a trusted network), the DSN parameters it gave reach
        # a next hop that offers DSN
        peer = self.peer("dsn", dsn=True)
        with smtplib.SMTP("127.0.0.1", self.d.port("smtp"), timeout=30) as client:
            client.ehlo("client.test.example")
            client.sendmail("someone@outside.example", ["rcpt@dsn.example"],
                            message("dsn-params"), mail_options=["RET=HDRS", "ENVID=env+2B1"],
                            rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                          "ORCPT=rfc822;rcpt@dsn.example"])
        [tx] = peer.wait_transactions(1)
        self.assertEqual(tx.mail_from, "someone@outside.example")
        self.assertIn("RET=HDRS", tx.mail_args)
        self.assertIn("ENVID=env+2B1", tx.mail_args)
        rcpt = [c for c in peer.commands if c.startswith("RCPT")]
        self.assertEqual(rcpt, ["RCPT TO:<rcpt@dsn.example> NOTIFY=SUCCESS,FAILURE "
                                "ORCPT=rfc822;rcpt@dsn.example"])
        # one Received: field, dirmaild's, added at reception; nothing else
        self.assertEqual(tx.data.count(b"Received:"), 1, tx.data)
        self.assertTrue(tx.data.startswith(b"Received: from client.test.example"), tx.data[:200])
        self.assertTrue(tx.data.endswith(message("dsn-params")), tx.data)

    def test_stop_while_in_flight_abandons_and_retries_after_restart(self):
        # dirmaild stops while the peer holds its reply to the final dot: the
        # job is abandoned, nothing is recorded, and after the restart the
        # message goes again (the peer had it already: the duplicate
        # doc/relay.md accepts; never a loss)
        release = threading.Event()
        self.addCleanup(release.set)
        peer = self.peer("stop", hold=release)
        qid = inject(self.spool, ["someone@stop.example"], message("stop"))
        peer.wait_transactions(1)
        self.assertEqual(self.d.stop(), 0)
        self.assertRegex(self.d.log(), r"event=queue_runner_abandoned messages=1")
        self.assertTrue(queued(self.spool, qid))
        release.set()
        self.d.restart()
        self.removed(qid)
        txs = peer.wait_transactions(2)
        self.assertEqual(len(txs), 2)
        self.assertEqual(txs[0].data, txs[1].data)
        self.assertEqual(len(re.findall(rf"id={qid} event=relayed", self.d.log())), 1)

    def maildir_with(self, mailbox, marker):
        for path in glob.glob(os.path.join(self.base, mailbox, "new", "*")):
            with open(path, "rb") as f:
                if marker in f.read():
                    return path
        return None

    def test_user_on_another_node_reaches_it(self):
        node = SmtpPeer(port=self.node_port, name="node2.test.example")
        self.addCleanup(node.stop)
        qid = inject(self.spool, ["frank@example.org"], message("node"))
        self.removed(qid)
        [tx] = node.wait_transactions(1)
        self.assertEqual(tx.rcpts, ["frank@example.org"])
        self.assertEqual(tx.mail_from, SENDER)
        self.assertIn(b"X-Marker: node", tx.data)


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class TlsVerify(unittest.TestCase):
    """tls_security verify: "[localhost]:port" is verified for localhost."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        tmp = process.tempdir("relay-tls-")
        cls.good = make_ca_and_cert(os.path.join(tmp, "good"), hostnames=("localhost",))
        cls.wrong = make_ca_and_cert(os.path.join(tmp, "wrong"), hostnames=("other.example",))
        cls.ca_file = os.path.join(tmp, "cas.pem")
        with open(cls.ca_file, "w") as out:
            for certs in (cls.good, cls.wrong):
                with open(certs["ca"]) as f:
                    out.write(f.read())
        os.chmod(cls.ca_file, 0o644)
        cls.ports = {"good": process.free_port(), "wrong": process.free_port()}
        relay = [{"domain": "good.example", "next_hop": f"[localhost]:{cls.ports['good']}"},
                 {"domain": "wrong.example", "next_hop": f"[localhost]:{cls.ports['wrong']}"}]
        cls.d = Dirmaild(workers=1, ldap=ldap_section(cls.ldap),
                         domains={"local": ["example.org"], "relay": relay},
                         cache={"size": 0},
                         queue={"retry_min": 1, "retry_max": 2, "delivery_threads": 1},
                         smtp_client={"tls_security": "verify", "tls_ca_file": cls.ca_file,
                                      "destination_backoff": 1, "idle_time": 1})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.spool = cls.d.spool

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"
        assert not errors, errors

    def test_verified_peer_gets_the_mail(self):
        peer = SmtpPeer(port=self.ports["good"], starttls=server_context(self.good))
        self.addCleanup(peer.stop)
        qid = inject(self.spool, ["someone@good.example"], message("verify-good"))
        wait_for(lambda: not queued(self.spool, qid), what=f"{qid} removed\n{self.d.log()}")
        [tx] = peer.wait_transactions(1)
        self.assertTrue(tx.tls)
        self.assertRegex(self.d.log(), r"event=smtp_tls peer=localhost\[127\.0\.0\.1\]:\d+ "
                                       r".*verified=yes")

    def test_wrong_name_deferred_never_in_clear(self):
        peer = SmtpPeer(port=self.ports["wrong"], starttls=server_context(self.wrong))
        self.addCleanup(peer.stop)
        qid = inject(self.spool, ["someone@wrong.example"], message("verify-wrong"))
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@wrong.example "
                        r'.*reply="4\.7\.10 TLS required, but the TLS handshake with '
                        r"localhost\[127\.0\.0\.1\]:\d+ failed")
        self.assertTrue(queued(self.spool, qid))
        self.assertEqual(peer.transactions, [])
        self.assertFalse([c for c in peer.commands if c.startswith("MAIL")], peer.commands)
        self.assertNotIn(f"id={qid} event=relayed", self.d.log())


if __name__ == "__main__":
    harness.tap.main()
