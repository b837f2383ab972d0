#!/usr/bin/env python3
"""test_pop3.py - the POP3 server (reader/pop3_session.c) with Python's
poplib against a real slapd and dirmaild: mail is sent through SMTP so that
the gateway writes the Maildirs, then read, listed and deleted over POP3."""
import os
import poplib
import smtplib
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import harness.certs  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import queue_id, spool_ids, wait_for  # noqa: E402
from harness.slapd import Slapd, PASSWORDS  # noqa: E402


def make_dir(path):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    return path


@unittest.skipUnless(built(), "dirmaild not built")
class Pop3(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.base = make_dir(os.path.join(process.tempdir("pop3-vmail-"), "vmail"))
        cls.pki = harness.certs.make_ca_and_cert(process.tempdir("pop3-certs-"), ["localhost"])
        cls.d = Dirmaild(
            services=[{"type": "smtp"}, {"type": "pop3"}, {"type": "pop3s"}],
            workers=1,
            ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                  "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix,
                  "connect_timeout": 1, "timeout": 2},
            domains={"local": ["example.org", "example.net"]},
            tls={"cert_file": cls.pki["cert"], "key_file": cls.pki["key"]},
            queue={"retry_min": 1, "retry_max": 2, "scan_interval": 2},
            delivery={"mailbox_base": cls.base})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.ctx = ssl.create_default_context(cafile=cls.pki["ca"])
        cls.ctx.check_hostname = False

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def send(self, rcpt, body):
        s = smtplib.SMTP("127.0.0.1", self.d.port("smtp"), local_hostname="client.test",
                         timeout=30)
        s.ehlo()
        s.mail("sender@remote.example")
        self.assertEqual(s.rcpt(rcpt)[0], 250)
        code, text = s.data(body)
        self.assertEqual(code, 250, text)
        s.quit()
        qid = queue_id(text)
        wait_for(lambda: qid not in spool_ids(self.d.spool), timeout=30,
                 what=f"{qid} delivered\n{self.d.log()[-3000:]}")

    def pop(self, user="alice", password=None):
        p = poplib.POP3("127.0.0.1", self.d.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.stls(self.ctx)
        if user is not None:
            p.user(user)
            p.pass_(password or PASSWORDS[user])
        return p

    def try_pop_carol(self):
        try:
            return self.pop("carol")
        except poplib.error_proto as e:
            if b"[IN-USE]" not in e.args[0]:
                raise
            return None

    def test_greeting_and_capa_before_tls(self):
        p = poplib.POP3("127.0.0.1", self.d.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        self.assertEqual(p.getwelcome(), b"+OK dirmail POP3 server ready")
        capa = p.capa()
        for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"):
            self.assertIn(c, capa)
        self.assertNotIn("USER", capa)  # plaintext only after STLS
        with self.assertRaises(poplib.error_proto) as e:
            p.user("alice")
        self.assertIn(b"[AUTH]", e.exception.args[0])

    def test_wrong_password_is_auth(self):
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(password="wrong")
        self.assertIn(b"-ERR [AUTH]", e.exception.args[0])

    def test_retr_top_uidl_dele_rset_quit(self):
        body = (b"From: s@remote.example\r\nSubject: pop3 test\r\n\r\n"
                b"line one\r\n.dotted line\r\nline three\r\n")
        self.send("carol@example.net", body)
        p = self.pop("carol")
        count, _ = p.stat()
        self.assertGreaterEqual(count, 1)
        _, lines, _ = p.retr(count)
        self.assertIn(b".dotted line", lines)  # dot-stuffing undone by poplib
        self.assertIn(b"Subject: pop3 test", lines)
        _, top0, _ = p.top(count, 0)
        self.assertNotIn(b"line one", top0)
        _, top1, _ = p.top(count, 1)
        self.assertEqual(top1[-1], b"line one")
        uidl1 = p.uidl(count)
        # a second session is refused while this one holds the maildrop
        with self.assertRaises(poplib.error_proto) as e:
            self.pop("carol")
        self.assertIn(b"[IN-USE]", e.exception.args[0])
        p.dele(count)
        p.rset()
        self.assertEqual(p.stat()[0], count)
        p.quit()
        # a dropped connection deletes nothing; UIDL is stable
        p = self.pop("carol")
        self.assertEqual(p.uidl(count), uidl1)
        p.dele(count)
        p.sock.shutdown(socket.SHUT_RDWR)  # dropped: no QUIT, no UPDATE
        p = wait_for(self.try_pop_carol, what="the dropped session's lock released")
        self.assertEqual(p.stat()[0], count)
        p.dele(count)
        p.quit()
        p = self.pop("carol")
        self.assertEqual(p.stat()[0], count - 1)
        p.quit()

    def test_auth_plain_on_pop3s(self):
        p = poplib.POP3_SSL("127.0.0.1", self.d.port("pop3s"), context=self.ctx, timeout=30)
        self.addCleanup(p.close)
        import base64
        cred = base64.b64encode(b"\0alice\0" + PASSWORDS["alice"].encode()).decode()
        resp = p._shortcmd("AUTH PLAIN " + cred)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        p.stat()
        p.quit()


if __name__ == "__main__":
    harness.tap.main()
