#!/usr/bin/env python3
"""test_relay_tls_auth.py - the SMTP client's per-destination TLS policy and
AUTH to a next hop (smtp_client.destinations), against a small SMTP peer
(harness/smtp_peer.py) that offers STARTTLS and AUTH PLAIN/LOGIN with a
test CA's certificate, with a real slapd behind a real dirmaild. AUTH goes
only under TLS and the peer sees the configured user; wrong credentials
defer (4.7.8), never bounce; a destination whose row says "encrypt" is never
sent to in clear while one without a row follows the section's "may"; a
"may" peer whose TLS handshake fails gets the mail in clear on a new
connection; a password file others can read is a configuration error."""
import os
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.certs import make_ca_and_cert  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from harness.smtp_peer import SmtpPeer, server_context  # noqa: E402
from test_relay import INJECT, inject, ldap_section, mail_ids, message, queued, wait_for  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
DIRMAILD = os.path.join(TOP_BUILDDIR, "gateway", "dirmaild")
PASSWORD = "s3cret pass"


def secret_file(folder, name, text, mode=0o600):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
class RelayTlsAuth(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        cls.tmp = process.tempdir("relay-auth-")
        cls.certs = make_ca_and_cert(os.path.join(cls.tmp, "pki"))
        cls.ports = {n: process.free_port() for n in ("auth", "login", "badauth", "enc", "clear", "broken")}
        p = cls.ports
        hop = {n: f"[127.0.0.1]:{port}" for n, port in p.items()}
        good = secret_file(cls.tmp, "good.secret", PASSWORD)
        bad = secret_file(cls.tmp, "bad.secret", "not the password")
        cls.base = os.path.join(process.tempdir(), "vmail")
        os.makedirs(cls.base)
        if os.geteuid() == 0:
            os.chown(cls.base, *mail_ids())
        cls.destinations = [
            {"match": hop["auth"], "tls_security": "verify", "tls_ca_file": cls.certs["ca"],
             "tls_verify_name": "localhost", "auth_user": "relay", "auth_password_file": good},
            {"match": hop["login"], "tls_security": "encrypt", "auth_user": "relay",
             "auth_password_file": good},
            {"match": hop["badauth"], "tls_security": "encrypt", "auth_user": "relay",
             "auth_password_file": bad},
            {"match": hop["enc"], "tls_security": "encrypt"},
        ]
        cls.d = Dirmaild(workers=1, ldap=ldap_section(cls.ldap),
                         domains={"local": ["example.org"],
                                  "relay": [{"domain": f"{n}.example", "next_hop": hop[n]}
                                            for n in p]},
                         cache={"size": 0},
                         queue={"retry_min": 3600, "retry_max": 7200, "scan_interval": 3600},
                         delivery={"mailbox_base": cls.base},
                         smtp_client={"idle_time": 1, "connect_timeout": 5,
                                      "destination_backoff": 1, "tls_security": "may",
                                      "helo_name": "relay.test.example",
                                      "destinations": cls.destinations})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")
        cls.spool = cls.d.spool

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"

    def peer(self, name, **kwargs):
        peer = SmtpPeer(port=self.ports[name], **kwargs)
        self.addCleanup(peer.stop)
        return peer

    def removed(self, qid):
        wait_for(lambda: not queued(self.spool, qid), timeout=30,
                 what=f"{qid} removed\n{self.d.log()}")

    def test_auth_to_next_hop_only_under_tls(self):
        peer = self.peer("auth", starttls=server_context(self.certs),
                         auth={"relay": PASSWORD}, auth_required=True)
        qid = inject(self.spool, ["someone@auth.example"], message("auth"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertEqual(tx.auth_user, "relay")
        self.assertTrue(tx.tls)
        self.assertEqual(peer.auths, [("PLAIN", "relay", True, True)])
        # nothing of the exchange in clear: AUTH came after STARTTLS
        clear = [c for c in peer.commands if not c.startswith("TLS ")]
        self.assertFalse([c for c in clear if c.upper().startswith("AUTH")], clear)
        self.assertRegex(self.d.log(), rf"event=smtp_auth peer=\S+:{self.ports['auth']} "
                                       r"user=relay")
        self.assertNotIn(PASSWORD, self.d.log())

    def test_auth_login_when_plain_is_not_offered(self):
        peer = self.peer("login", starttls=server_context(self.certs),
                         auth={"relay": PASSWORD}, auth_required=True, auth_mechs="LOGIN")
        qid = inject(self.spool, ["someone@login.example"], message("login"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertEqual(tx.auth_user, "relay")
        self.assertEqual(peer.auths, [("LOGIN", "relay", True, True)])

    def test_refused_auth_defers_never_bounces(self):
        peer = self.peer("badauth", starttls=server_context(self.certs),
                         auth={"relay": PASSWORD}, auth_required=True)
        qid = inject(self.spool, ["someone@badauth.example"], message("badauth"))
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@badauth.example .*4\.7\.8 "
                        r"AUTH to the next hop failed: host \S+ refused AUTH as relay: "
                        r"535 5\.7\.8", timeout=30)
        self.assertTrue(queued(self.spool, qid))
        self.assertEqual(peer.delivered(), [])
        self.assertEqual([a[2] for a in peer.auths], [False])
        self.assertNotIn(f"id={qid} event=failed", self.d.log())

    def test_destination_policy_overrides_the_section(self):
        # "encrypt" for this one: a peer without STARTTLS never gets it
        enc = self.peer("enc")
        qid = inject(self.spool, ["someone@enc.example"], message("enc"))
        self.d.wait_log(rf"id={qid} event=deferred rcpt=someone@enc.example .*4\.7\.10 ",
                        timeout=30)
        self.assertEqual(enc.transactions, [])
        self.assertFalse([c for c in enc.commands if c.startswith("MAIL")], enc.commands)
        # no row: the section's "may" sends in clear
        clear = self.peer("clear")
        qid = inject(self.spool, ["someone@clear.example"], message("clear"))
        self.removed(qid)
        [tx] = clear.wait_transactions(1)
        self.assertFalse(tx.tls)

    def test_may_goes_on_in_clear_when_the_handshake_fails(self):
        # a peer that offers STARTTLS but cannot finish a handshake the
        # client accepts (TLS 1.0 at most; the client wants 1.2 or later)
        ctx = server_context(self.certs)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1
        peer = self.peer("broken", starttls=ctx)
        offset = len(self.d.log())
        qid = inject(self.spool, ["someone@broken.example"], message("broken"))
        self.removed(qid)
        [tx] = peer.wait_transactions(1)
        self.assertFalse(tx.tls)
        self.assertIn(b"X-Marker: broken", tx.data)
        self.assertGreaterEqual(peer.connections, 2)
        self.assertIn("STARTTLS", peer.commands)
        self.d.wait_log(r"event=smtp_tls_failed peer=\S+ error=.* action=retry_in_clear",
                        start=offset)

    def check_config(self, tls_security, password_file):
        """dirmaild -n on a configuration with one destinations row."""
        other = Dirmaild(workers=1, ldap=ldap_section(self.ldap),
                         domains={"local": ["example.org"]},
                         smtp_client={"destinations": [
                             {"match": "[127.0.0.1]:25", "tls_security": tls_security,
                              "auth_user": "relay", "auth_password_file": password_file}]})
        other.write()
        return subprocess.run([DIRMAILD, "-n", "-c", other.path], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def test_password_file_others_can_read_is_refused(self):
        loose = secret_file(self.tmp, "loose.secret", PASSWORD, mode=0o644)
        res = self.check_config("verify", loose)
        self.assertNotEqual(res.returncode, 0, res)
        self.assertIn("readable by others (mode 644): chmod 600 it", res.stderr)
        # and credentials with a policy that could end in clear
        os.chmod(loose, 0o600)
        res = self.check_config("may", loose)
        self.assertNotEqual(res.returncode, 0, res)
        self.assertIn("AUTH needs tls_security \"encrypt\" or \"verify\"", res.stderr)
        # the effective configuration names the file, never the password
        res = self.check_config("verify", loose)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn(f'auth_password_file = "{loose}"', res.stdout)
        self.assertNotIn(PASSWORD, res.stdout + res.stderr)


if __name__ == "__main__":
    harness.tap.main()
