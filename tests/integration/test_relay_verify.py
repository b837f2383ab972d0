#!/usr/bin/env python3
"""test_relay_verify.py - recipient verification for a relay domain whose
mailboxes are not in the directory (domains.relay's verify = "next_hop",
gateway/recipient_verify.c): at RCPT time dirmaild asks the next hop (a
Python SMTP peer, harness/smtp_peer.py) with MAIL FROM:<> and RCPT TO. Its
yes is a 250 and the message is relayed; its no is a 550 that quotes it and
is cached (the next RCPT asks no one); its 4xx, or no next hop at all, is a
450 that is not cached; a relay domain without verify is never probed."""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.mail import wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from harness.smtp_peer import SmtpPeer  # noqa: E402
from test_relay import ldap_section  # noqa: E402


@unittest.skipUnless(built(), "dirmaild not built")
class RelayVerify(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.peer = SmtpPeer(port=process.free_port(), replies={
            "nobody@verify.example": ["550 5.1.1 <nobody@verify.example>: no such user"],
            "busy@verify.example": ["450 4.2.1 mailbox busy", "250 2.1.5 ok"],
        })
        cls.dead_port = process.free_port()  # nothing listens there
        cls.d = Dirmaild(workers=1, ldap=ldap_section(cls.ldap),
                         domains={"local": ["example.org"],
                                  "relay": [{"domain": "verify.example", "verify": "next_hop",
                                             "next_hop": f"[127.0.0.1]:{cls.peer.port}"},
                                            {"domain": "dead.example", "verify": "next_hop",
                                             "next_hop": f"[127.0.0.1]:{cls.dead_port}"},
                                            {"domain": "plain.example",
                                             "next_hop": f"[127.0.0.1]:{cls.peer.port}"}]},
                         relay={"trusted_networks": [], "verify_timeout": 10},
                         smtp_client={"connect_timeout": 5, "idle_time": 1})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.peer.stop()
        cls.ldap.stop()

    def rcpt(self, address):
        with smtplib.SMTP("127.0.0.1", self.d.port("smtp"), timeout=60) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("sender@outside.example")
            return smtp.rcpt(address)

    def probes(self, address):
        """How many RCPTs for address the peer saw with the null sender
        before them (the probes, not relayed mail)."""
        n, null_sender = 0, False
        for cmd in list(self.peer.commands):
            if cmd.upper().startswith("MAIL FROM:"):
                null_sender = cmd[len("MAIL FROM:"):].startswith("<>")
            elif cmd.upper().startswith("RCPT TO:") and null_sender and \
                    cmd[len("RCPT TO:"):].strip("<> ").lower() == address:
                n += 1
        return n

    def test_known_address_is_accepted_and_relayed(self):
        code, text = self.rcpt("someone@verify.example")
        self.assertEqual(code, 250, text)
        self.assertEqual(self.probes("someone@verify.example"), 1)
        with smtplib.SMTP("127.0.0.1", self.d.port("smtp"), timeout=60) as smtp:
            smtp.sendmail("sender@outside.example", ["someone@verify.example"],
                          "From: sender@outside.example\r\nSubject: verified\r\n"
                          "Message-ID: <verified@test>\r\n\r\nrelayed after the probe\r\n")
        wait_for(lambda: any(b"<verified@test>" in t.data for t in self.peer.delivered()), 60,
                 f"the message at the next hop\n{self.d.log()[-2000:]}")
        # the positive answer is cached: the second RCPT asked no one
        self.assertEqual(self.probes("someone@verify.example"), 1)

    def test_unknown_address_is_refused_quoting_the_next_hop_and_cached(self):
        code, text = self.rcpt("nobody@verify.example")
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.1.1", text)
        self.assertIn(b"no such user", text)
        code2, text2 = self.rcpt("nobody@verify.example")
        self.assertEqual(code2, 550, text2)
        self.assertEqual(self.probes("nobody@verify.example"), 1, "the no came from the cache")
        self.assertIn("event=recipient_verified rcpt=nobody@verify.example result=no",
                      self.d.log())

    def test_temporary_answer_is_450_and_not_cached(self):
        code, text = self.rcpt("busy@verify.example")
        self.assertEqual(code, 450, text)
        self.assertTrue(text.startswith(b"4.1.1"), text)
        self.assertIn(b"mailbox busy", text)
        # asked again (not cached); the peer now says yes
        code2, text2 = self.rcpt("busy@verify.example")
        self.assertEqual(code2, 250, text2)
        self.assertEqual(self.probes("busy@verify.example"), 2)

    def test_unreachable_next_hop_is_450(self):
        code, text = self.rcpt("anyone@dead.example")
        self.assertEqual(code, 450, text)
        self.assertIn(b"connect to", text)

    def test_relay_domain_without_verify_is_not_probed(self):
        code, text = self.rcpt("anyone@plain.example")
        self.assertEqual(code, 250, text)
        self.assertEqual(self.probes("anyone@plain.example"), 0)


if __name__ == "__main__":
    harness.tap.main()
