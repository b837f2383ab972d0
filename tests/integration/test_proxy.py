#!/usr/bin/env python3
"""test_proxy.py - the POP3/IMAP proxy (reader/proxy*.c, doc/proxy.md) with
two real dirmaild nodes over one real slapd: node 2 ("localhost") holds
the Maildirs of the users whose dirmailMailHost names it; node 1 (another
name, its own empty mailbox base) logs them in there as its proxy identity
and splices. Clients are Python's poplib and imaplib talking to node 1
only; node 2's log and a direct session on node 2 show what happened."""
import base64
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, _slow, _tcp_sockets, built  # noqa: E402
from harness.mail import deliver, wait_for  # noqa: E402
from harness.pop3 import make_dir  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

SECRET = "6f1d0c2b9a8e7f6d5c4b3a29181716151413121110"
IDENTITY = "dirmail-proxy"


def plain(authzid, authcid, password):
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


@unittest.skipUnless(built(), "dirmaild not built")
class Proxy(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("proxy-certs-"), ["localhost"])
        common = dict(
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix,
                  "connect_timeout": 1, "timeout": 2},
            domains={"local": ["example.org"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2})
        cls.base2 = make_dir(os.path.join(process.tempdir("proxy-node2-"), "vmail"))
        cls.node2 = Dirmaild(
            services=[{"type": "smtp"}, {"type": "pop3"}, {"type": "imap"}], workers=1,
            server={"hostname": "localhost"},
            delivery={"mailbox_base": cls.base2},
            proxy={"identity": IDENTITY, "secret": SECRET, "trusted_networks": ["127.0.0.1"]},
            **common)
        cls.node2.start()
        cls.node2.wait_log(r"event=queue_runner_started")
        cls.base1 = make_dir(os.path.join(process.tempdir("proxy-node1-"), "vmail"))
        cls.node1 = Dirmaild(
            services=[{"type": "smtp"}, {"type": "pop3"}, {"type": "imap"}], workers=1,
            server={"hostname": "front.test.example"},
            delivery={"mailbox_base": cls.base1},
            proxy={"identity": IDENTITY, "secret": SECRET,
                   "pop3_port": cls.node2.port("pop3"), "imap_port": cls.node2.port("imap"),
                   "ca_file": cls.pki["ca"], "timeout": int(_slow(4))},
            **common)
        cls.node1.start()
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])
        cls.ctx.check_hostname = False
        cls.users = 0

    @classmethod
    def tearDownClass(cls):
        status1 = cls.node1.stop()
        status2 = cls.node2.stop()
        cls.ldap.stop()
        assert status1 == 0, f"node 1 exited {status1}\n{cls.node1.log()[-3000:]}"
        assert status2 == 0, f"node 2 exited {status2}\n{cls.node2.log()[-3000:]}"

    # ---- helpers ----

    def add_user(self, mail_host="localhost"):
        """A new user on mail_host with its own password; (uid, password)."""
        Proxy.users += 1
        uid = f"px{Proxy.users}"
        password = f"{uid}-password"
        self.ldap.add(f"dn: uid={uid},ou=people,dc=example,dc=org\n"
                      "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                      f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@example.org\n"
                      f"dirmailMailbox: example.org/{uid}/\ndirmailStatus: active\n"
                      f"dirmailMailHost: {mail_host}\nuserPassword: {password}\n")
        return uid, password

    def send(self, rcpt, body):
        """Mail for rcpt through node 2's gateway, into node 2's Maildir."""
        deliver(self.node2, rcpt, body)

    def pop(self, node, uid, password):
        p = poplib.POP3("127.0.0.1", node.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        p.user(uid)
        p.pass_(password)
        return p

    def imap(self, node, uid=None, password=None):
        m = imaplib.IMAP4("127.0.0.1", node.port("imap"), timeout=30)
        self.addCleanup(self.imap_close, m)
        m.starttls(self.ctx)
        if uid is not None:
            m.login(uid, password)
        return m

    @staticmethod
    def imap_close(m):
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass

    def node2_log_offset(self):
        return len(self.node2.log())

    # ---- POP3 ----

    def test_pop3_user_pass_reads_the_other_nodes_maildrop(self):
        uid, password = self.add_user()
        body = b"From: s@remote.example\r\nSubject: on node two\r\n\r\nline one\r\n.dotted\r\n"
        self.send(f"{uid}@example.org", body)
        self.assertFalse(os.path.exists(os.path.join(self.base1, "example.org", uid)))
        start = self.node2_log_offset()
        p = poplib.POP3("127.0.0.1", self.node1.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        p.user(uid)
        reply = p.pass_(password)
        self.assertTrue(reply.startswith(b"+OK"), reply)
        count, size = p.stat()
        self.assertEqual(count, 1)
        _, lines, _ = p.retr(1)
        self.assertIn(b"Subject: on node two", lines)
        self.assertIn(b".dotted", lines)
        self.assertEqual(len(p.list()[1]), 1)
        self.assertIn("UIDL", p.capa())
        uidl = p.uidl(1)
        p.quit()
        # node 2 served the session and logged the real client's address
        local_port = None
        m = self.node2.wait_log(
            rf"event=proxy_login service=pop3 proxy=127\.0\.0\.1 client=127\.0\.0\.1 "
            rf"client_port=(\d+) user={uid}", start=start)
        local_port = int(m.group(1))
        self.assertGreater(local_port, 0)
        self.node1.wait_log(rf"event=proxy_login host=localhost user={uid} client=127\.0\.0\.1")
        # and the maildrop is node 2's: a direct session sees the same UIDL
        direct = self.pop(self.node2, uid, password)
        self.assertEqual(direct.uidl(1), uidl)
        direct.quit()

    def test_pop3_auth_plain_and_pipelined_commands(self):
        uid, password = self.add_user()
        self.send(f"{uid}@example.org", b"Subject: plain\r\n\r\nbody\r\n")
        p = poplib.POP3("127.0.0.1", self.node1.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        # AUTH PLAIN with an initial response, then STAT pipelined behind it:
        # the splice must pass on what the front node had already buffered
        p.sock.sendall(f"AUTH PLAIN {plain('', uid, password)}\r\nSTAT\r\n".encode())
        self.assertTrue(p._getresp().startswith(b"+OK"))
        self.assertEqual(p._getresp(), b"+OK 1 " + str(p.stat()[1]).encode())
        p.quit()

    def test_pop3_auth_login(self):
        # SASL LOGIN: the front node never has a password to pass on, and
        # needs none
        uid, password = self.add_user()
        self.send(f"{uid}@example.org", b"Subject: login\r\n\r\nbody\r\n")
        p = poplib.POP3("127.0.0.1", self.node1.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        self.assertTrue(p._shortcmd("AUTH LOGIN").startswith(b"+ "))
        self.assertTrue(p._shortcmd(base64.b64encode(uid.encode()).decode()).startswith(b"+ "))
        reply = p._shortcmd(base64.b64encode(password.encode()).decode())
        self.assertTrue(reply.startswith(b"+OK"), reply)
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_pop3_large_message_through_the_splice(self):
        uid, password = self.add_user()
        line = b"x" * 998 + b"\r\n"
        body = b"Subject: big\r\n\r\n" + line * 3000  # 3 MB: many times the splice's buffer
        self.send(f"{uid}@example.org", body)
        p = self.pop(self.node1, uid, password)
        _, lines, octets = p.retr(1)
        self.assertEqual(lines.count(b"x" * 998), 3000)
        p.quit()

    def front_backlog(self):
        """Octets waiting unread in node 1's sockets to node 2's POP3 port."""
        port = self.node2.port("pop3")
        return sum(rx for here, there, rx, _ in _tcp_sockets()
                   if there[1] == port and here[1] != port)

    def test_pop3_slow_client_holds_the_back_node_back(self):
        uid, password = self.add_user()
        line = b"y" * 998 + b"\r\n"
        # 24 MB: more than the kernel buffers between the nodes and the client
        # can hold
        self.send(f"{uid}@example.org", b"Subject: slow\r\n\r\n" + line * 24000)
        p = poplib.POP3("127.0.0.1", self.node1.port("pop3"), timeout=60)
        self.addCleanup(p.close)
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        p.stls(self.ctx)
        p.user(uid)
        p.pass_(password)
        p._putcmd("RETR 1")
        # the client reads nothing: node 1 must stop reading node 2 (its
        # 64 KiB per direction full) instead of taking the message in, so
        # node 2's bytes wait unread in node 1's socket. How many depends on
        # the kernel's buffers; that they stay unread is the point: a node
        # that read eagerly would take them within milliseconds.
        def held_back():
            first = self.front_backlog()
            time.sleep(0.5)
            return first > 0 and self.front_backlog() == first
        wait_for(held_back, timeout=60,
                 what="node 2's bytes to stay unread in node 1's socket")
        _, lines, _ = p._getlongresp()
        self.assertEqual(lines.count(b"y" * 998), 24000)
        p.quit()

    def test_pop3_wrong_password_refused_on_the_front_node(self):
        uid, _ = self.add_user()
        start = self.node2_log_offset()
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(self.node1, uid, "wrong")
        self.assertEqual(e.exception.args[0], b"-ERR [AUTH] Authentication failed")
        self.assertNotIn("event=proxy_login", self.node2.log()[start:])

    def test_pop3_node_down_is_temporary(self):
        uid, password = self.add_user(mail_host="127.0.0.3")  # nothing listens there
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(self.node1, uid, password)
        self.assertEqual(e.exception.args[0],
                         b"-ERR [SYS/TEMP] The mailbox's server is unavailable, try again later")
        self.node1.wait_log(rf"event=proxy_login_failed host=127\.0\.0\.3 user={uid} "
                            r"client=127\.0\.0\.1 step=connect")

    def test_pop3_silent_node_times_out(self):
        # a node that accepts and never answers: the login's one deadline
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.4", self.node2.port("pop3")))
        silent.listen(8)
        uid, password = self.add_user(mail_host="127.0.0.4")
        # the client waits longer than node 1's login deadline
        p = poplib.POP3("127.0.0.1", self.node1.port("pop3"), timeout=_slow(4) + 30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        p.user(uid)
        with self.assertRaises(poplib.error_proto) as e:
            p.pass_(password)
        self.assertTrue(e.exception.args[0].startswith(b"-ERR [SYS/TEMP]"), e.exception.args[0])
        self.node1.wait_log(rf"event=proxy_login_failed host=127\.0\.0\.4 user={uid} "
                            r"client=127\.0\.0\.1 step=timeout")
        # the session is still in AUTHORIZATION and answers
        self.assertTrue(p.noop().startswith(b"+OK"))

    # ---- the back node's side of the trust ----

    def raw_pop3_login(self, source, authzid, authcid, password):
        """AUTH PLAIN on node 2 from source address: its answer."""
        s = socket.create_connection(("127.0.0.1", self.node2.port("pop3")), timeout=30,
                                     source_address=(source, 0))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"STLS\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        t = self.ctx.wrap_socket(s)
        self.addCleanup(t.close)
        f = t.makefile("rb")
        t.sendall(f"AUTH PLAIN {plain(authzid, authcid, password)}\r\n".encode())
        return f.readline()

    def test_untrusted_address_cannot_use_the_proxy_login(self):
        uid, _ = self.add_user()
        start = self.node2_log_offset()
        reply = self.raw_pop3_login("127.0.0.2", uid, IDENTITY, f"{SECRET} ip=192.0.2.1 port=1")
        self.assertEqual(reply, b"-ERR [AUTH] Authentication failed\r\n")
        self.node2.wait_log(r"event=proxy_login_refused service=pop3 proxy=127\.0\.0\.2 "
                            r"reason=untrusted_network", start=start)

    def test_trusted_address_needs_the_secret(self):
        uid, _ = self.add_user()
        start = self.node2_log_offset()
        reply = self.raw_pop3_login("127.0.0.1", uid, IDENTITY, "wrong ip=192.0.2.1 port=1")
        self.assertEqual(reply, b"-ERR [AUTH] Authentication failed\r\n")
        self.node2.wait_log(r"event=proxy_login_refused service=pop3 proxy=127\.0\.0\.1 "
                            r"reason=bad_credential", start=start)
        # the proxy identity never logs in as itself
        reply = self.raw_pop3_login("127.0.0.1", "", IDENTITY, f"{SECRET} ip=192.0.2.1 port=1")
        self.assertEqual(reply, b"-ERR [AUTH] Authentication failed\r\n")
        # and with the secret, from a trusted address, it does log in for the user
        reply = self.raw_pop3_login("127.0.0.1", uid, IDENTITY, f"{SECRET} ip=192.0.2.7 port=9")
        self.assertTrue(reply.startswith(b"+OK"), reply)
        self.node2.wait_log(rf"event=proxy_login service=pop3 proxy=127\.0\.0\.1 "
                            rf"client=192\.0\.2\.7 client_port=9 user={uid}", start=start)

    def test_proxy_login_never_submits_mail(self):
        # from a trusted address with the secret, SMTP AUTH still refuses it
        uid, _ = self.add_user()
        s = smtplib.SMTP("127.0.0.1", self.node2.port("smtp"), local_hostname="front.test",
                         timeout=30)
        self.addCleanup(s.close)
        s.starttls(context=self.ctx)
        s.ehlo()
        code, _ = s.docmd("AUTH", "PLAIN " + plain(uid, IDENTITY, f"{SECRET} ip=192.0.2.1 port=1"))
        self.assertEqual(code, 535)

    def test_ordinary_user_cannot_act_for_another(self):
        uid, _ = self.add_user()
        other, other_password = self.add_user()
        reply = self.raw_pop3_login("127.0.0.1", uid, other, other_password)
        self.assertEqual(reply, b"-ERR [AUTH] Authentication failed\r\n")

    # ---- IMAP ----

    def test_imap_login_select_fetch_store(self):
        uid, password = self.add_user()
        self.send(f"{uid}@example.org", b"Subject: imap on two\r\n\r\nhello there\r\n")
        start = self.node2_log_offset()
        m = self.imap(self.node1)
        typ, data = m.login(uid, password)
        self.assertEqual(typ, "OK")
        # the client sees node 2's answer, CAPABILITY included
        direct = self.imap(self.node2, uid, password)
        self.assertEqual(m.capability(), direct.capability())
        self.assertTrue(data[0].startswith(b"[CAPABILITY IMAP4rev1 "), data)
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertIn(b"hello there", data[0][1])
        typ, _ = m.store("1", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "OK")
        self.node2.wait_log(rf"event=proxy_login service=imap proxy=127\.0\.0\.1 "
                            rf"client=127\.0\.0\.1 client_port=\d+ user={uid}", start=start)
        # a direct session on node 2 sees the flag
        direct.select("INBOX")
        typ, data = direct.fetch("1", "(FLAGS)")
        self.assertIn(b"\\Flagged", data[0])
        m.logout()

    def test_imap_authenticate_plain(self):
        uid, password = self.add_user()
        m = self.imap(self.node1)
        typ, _ = m.authenticate("PLAIN", lambda _: f"\0{uid}\0{password}".encode())
        self.assertEqual(typ, "OK")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"0"])

    def test_imap_authenticate_login(self):
        uid, password = self.add_user()
        self.send(f"{uid}@example.org", b"Subject: login\r\n\r\nbody\r\n")
        m = self.imap(self.node1)
        typ, _ = m.authenticate(
            "LOGIN", lambda ch: (uid if ch.lower().startswith(b"user") else password).encode())
        self.assertEqual(typ, "OK")
        self.assertEqual(m.select("INBOX"), ("OK", [b"1"]))

    def test_imap_wrong_password_refused_on_the_front_node(self):
        uid, _ = self.add_user()
        m = self.imap(self.node1)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(uid, "wrong")
        self.assertIn("[AUTHENTICATIONFAILED]", str(e.exception))

    def test_imap_node_down_is_unavailable(self):
        uid, password = self.add_user(mail_host="127.0.0.3")
        m = self.imap(self.node1)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(uid, password)
        self.assertIn("[UNAVAILABLE] The mailbox's server is unavailable", str(e.exception))
        self.node1.wait_log(rf"event=proxy_login_failed host=127\.0\.0\.3 user={uid}")
        # the session goes on in the not-authenticated state
        typ, _ = m.noop()
        self.assertEqual(typ, "OK")

    def test_imap_second_hop_refused(self):
        # node 2 knows itself as localhost: a user on "127.0.0.1" is remote
        # for both nodes, and node 2 must not proxy node 1's login on again
        uid, password = self.add_user(mail_host="127.0.0.1")
        start = self.node2_log_offset()
        m = self.imap(self.node1)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(uid, password)
        self.assertIn("[UNAVAILABLE]", str(e.exception))
        self.node2.wait_log(rf"event=proxy_loop service=imap proxy=127\.0\.0\.1 user={uid} "
                            r"host=127\.0\.0\.1", start=start)
        self.assertNotIn("event=proxy_login_failed", self.node2.log()[start:])

    def test_pop3_unverified_certificate_is_unavailable(self):
        # a POP3 peer on 127.0.0.5 whose certificate another CA signed
        other = harness.certs.make_ca_and_cert(process.tempdir("proxy-other-ca-"), ["localhost"])
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.5", self.node2.port("pop3")))
        listener.listen(1)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(other["cert"], other["key"])

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"+OK impostor ready\r\n")
                if conn.recv(100).startswith(b"STLS"):
                    conn.sendall(b"+OK Begin TLS\r\n")
                    try:
                        tls.wrap_socket(conn, server_side=True).recv(100)
                    except (ssl.SSLError, OSError):
                        pass
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        uid, password = self.add_user(mail_host="127.0.0.5")
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(self.node1, uid, password)
        self.assertTrue(e.exception.args[0].startswith(b"-ERR [SYS/TEMP]"), e.exception.args[0])
        self.node1.wait_log(rf"event=proxy_login_failed host=127\.0\.0\.5 user={uid} "
                            r"client=127\.0\.0\.1 step=\w+ error=\"[^\"]*certificate verify failed")
        thread.join(timeout=30)

    def test_splice_ends_when_the_client_drops(self):
        uid, password = self.add_user()
        start = len(self.node1.log())
        p = self.pop(self.node1, uid, password)
        p.stat()
        p.sock.shutdown(socket.SHUT_RDWR)  # no QUIT
        self.node1.wait_log(r"event=disconnect service=pop3 client=127\.0\.0\.1 proxy=localhost "
                            r'reason="client closed"', start=start)
        # node 2 saw its side close too and released the maildrop
        wait_for(lambda: self.try_pop(self.node2, uid, password),
                 what="node 2's maildrop released after the client dropped")

    def try_pop(self, node, uid, password):
        try:
            p = self.pop(node, uid, password)
        except poplib.error_proto as e:
            if b"[IN-USE]" not in e.args[0]:
                raise
            return False
        p.quit()
        return True


if __name__ == "__main__":
    harness.tap.main()
