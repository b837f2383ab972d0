#!/usr/bin/env python3
"""test_relay_lmtp.py - the queue runner's LMTP client (RFC 2033, a mode of
the SMTP client in gateway/transport_smtp*.c) against a real LMTP server:
Dovecot's dovecot-lmtpd run from a temporary folder with its own
configuration, a passwd-file userdb and the quota plugin. A relay domain
whose next hop is lmtp:[127.0.0.1]:PORT gets one transaction whose final
dot is answered once per recipient (4.2): the one with room is delivered,
the one over quota (552 5.2.2) bounces with an RFC 3464 report naming
Dovecot as Remote-MTA with its reply as Diagnostic-Code, the one whose
home cannot be made (a 4xx) is deferred, and the unknown one is refused at
RCPT; a next hop lmtp:unix:/path reaches the same server over its UNIX
socket; a user whose dirmailMailHost is another node reaches it by LMTP
when smtp_client.node_protocol is "lmtp". And dirmail's own lmtp service
as that other node (a second dirmaild on the same slapd, found through a
private dnsmasq, on smtp_client.lmtp_port): one user's mail delivered
there, another's whose mailbox there is unusable bounced on its own reply
after the message."""
import email
import email.policy
import glob
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.dovecot import DOVECOT, Dovecot  # noqa: E402
from harness.mail import mail_ids, queue_inject, wait_for  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from test_relay import DNSMASQ, Dnsmasq  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
INJECT = os.path.join(TOP_BUILDDIR, "tests", "queue_inject")
DIRMAILCTL = os.path.join(TOP_BUILDDIR, "tools", "dirmailctl")
LMTP_BINARY = "/usr/lib/dovecot/lmtp"
SENDER = "alice@example.org"  # a local user: her reports land in her Maildir
MAIL_UID, MAIL_GID = mail_ids()


def make_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    os.chown(path, MAIL_UID, MAIL_GID)
    return path


def inject(spool, rcpts, message, sender=SENDER):
    return queue_inject(INJECT, spool, rcpts, message, sender)


def message(marker):
    return (f"From: <{SENDER}>\r\nTo: <team@lmtp.example>\r\nSubject: lmtp {marker}\r\n"
            f"Message-ID: <{marker}@example.org>\r\n\r\n"
            "Hello over LMTP.\r\n.leading dot\r\nlast line\r\n").encode()


class DovecotLmtp(Dovecot):
    """dovecot-lmtpd on a loopback port and a UNIX socket; users from a
    passwd-file, each with a quota rule; mail in home/USER/Maildir."""

    def __init__(self, users):
        """users: {address: quota rule or None}; an address whose rule is
        "broken" gets a home that cannot be made (a temporary failure)."""
        self.dir = process.tempdir("dovecot-lmtp-")
        self.port = process.free_port()
        self.home = make_dir(os.path.join(self.dir, "home"))
        # a file where the broken user's home folder should be: Dovecot
        # cannot make its Maildir, an internal (temporary) error
        with open(os.path.join(self.home, "blocked"), "w") as f:
            f.write("not a folder\n")
        self.socket = os.path.join(self.dir, "lmtp.sock")
        lines = []
        for address, rule in users.items():
            home = os.path.join(self.home, "blocked" if rule == "broken" else address, "x")
            extra = f"userdb_quota_rule=*:storage={rule}" if rule not in (None, "broken") else ""
            lines.append(f"{address}::{MAIL_UID}:{MAIL_GID}::{home}::{extra}\n")
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.writelines(lines)
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""\
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = dirmail-test-lmtp-{self.port}
log_path = {self.log_path}
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 0
mail_location = maildir:~/Maildir
hostname = dovecot.test.example
postmaster_address = postmaster@test.example
lmtp_rcpt_check_quota = no
quota_full_tempfail = no
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {self.dir}/users
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.port}
  }}
  unix_listener {self.socket} {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins quota
}}
plugin {{
  quota = maildir:User quota
}}
""")
        self.proc = None
        self.start()
        wait_for(lambda: os.path.exists(self.socket), timeout=30, what="dovecot's LMTP socket")

    def delivered(self, address):
        """The messages in address's Maildir, as bytes."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.home, address, "x", "Maildir",
                                                  "new", "*"))):
            with open(path, "rb") as f:
                out.append(f.read())
        return out


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
@unittest.skipUnless(os.access(DOVECOT, os.X_OK) and os.access(LMTP_BINARY, os.X_OK),
                     "dovecot-lmtpd missing: tools/install-deps")
class RelayLmtp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dovecot = DovecotLmtp({
            "ok@lmtp.example": None, "also@lmtp.example": None,
            "full@lmtp.example": "10B",  # ten bytes: any message is over quota
            "broken@lmtp.example": "broken",
            "ok@unix.example": None, "frank@example.org": None})
        cls.ldap = Slapd()
        cls.ldap.add("dn: uid=frank,ou=people,dc=example,dc=org\n"
                     "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                     "uid: frank\ncn: Frank\nsn: Frank\nmail: frank@example.org\n"
                     f"dirmailMailHost: 127.0.0.1:{cls.dovecot.port}\n")
        cls.base = make_dir(os.path.join(process.tempdir("lmtp-vmail-"), "vmail"))
        relay = [{"domain": "lmtp.example", "next_hop": f"lmtp:[127.0.0.1]:{cls.dovecot.port}"},
                 {"domain": "unix.example", "next_hop": f"lmtp:unix:{cls.dovecot.socket}"}]
        cls.d = Dirmaild(workers=1,
                         ldap={"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                               "bind_password": cls.ldap.service_password,
                               "base": cls.ldap.suffix, "connect_timeout": 1, "timeout": 2},
                         domains={"local": ["example.org"], "relay": relay},
                         cache={"size": 0},
                         queue={"retry_min": 1, "retry_max": 2, "scan_interval": 5},
                         delivery={"mailbox_base": cls.base},
                         smtp_client={"node_protocol": "lmtp", "idle_time": 1,
                                      "connect_timeout": 5, "tls_security": "none",
                                      "helo_name": "relay.test.example"})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        errors = cls.d.sanitizer_errors()
        cls.dovecot.stop()
        cls.ldap.stop()
        assert status == 0, f"dirmaild exit {status}\n{cls.d.log()}"
        assert not errors, errors

    def reports(self, marker):
        out = []
        for path in sorted(glob.glob(os.path.join(self.base, "example.org", "alice", "new",
                                                  "*"))):
            with open(path, "rb") as f:
                data = f.read()
            if f"<{marker}@example.org>".encode() in data:
                out.append(email.message_from_bytes(data, policy=email.policy.compat32))
        return out

    def test_per_recipient_replies_after_data(self):
        rcpts = ["ok@lmtp.example", "full@lmtp.example", "nobody@lmtp.example",
                 "broken@lmtp.example", "also@lmtp.example"]
        qid = inject(self.d.spool, rcpts, message("mixed"))
        logs = f"\n{self.d.log()[-4000:]}\n{self.dovecot.log()[-3000:]}"
        # each recipient ends on its own reply
        for rcpt in ("ok@lmtp.example", "also@lmtp.example"):
            self.d.wait_log(rf"id={qid} event=relayed rcpt={rcpt} "
                            rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{self.dovecot.port} "
                            r"protocol=lmtp tls=no reply=\"250 2\.0\.0 [^\"]*\" "
                            # Dovecot offers CHUNKING: one BDAT LAST (RFC 3030)
                            r"body=bdat", timeout=30)
        self.d.wait_log(rf"id={qid} event=failed rcpt=full@lmtp\.example "
                        r'reply="5\.2\.2 host .* said: 552 5\.2\.2 .*\(in reply to end of data\)"',
                        timeout=30)
        self.d.wait_log(rf"id={qid} event=failed rcpt=nobody@lmtp\.example "
                        r'reply="5\.1\.1 host .* said: 550 5\.1\.1 .*\(in reply to RCPT TO\)"',
                        timeout=30)
        self.d.wait_log(rf"id={qid} event=deferred rcpt=broken@lmtp\.example "
                        r'.*reply="4\.\d+\.\d+ host .* said: 4\d\d .*\(in reply to end of data\)"',
                        timeout=30)
        # one copy each for those with room, none for the others
        for rcpt in ("ok@lmtp.example", "also@lmtp.example"):
            got = wait_for(lambda r=rcpt: self.dovecot.delivered(r), timeout=30,
                           what=f"{rcpt} in Dovecot's Maildir{logs}")
            self.assertEqual(len(got), 1)
            self.assertIn(b"Subject: lmtp mixed", got[0])
            self.assertIn(b"\r\n.leading dot\r\n", got[0].replace(b"\n", b"\r\n")
                          .replace(b"\r\r\n", b"\r\n"))
        self.assertEqual(self.dovecot.delivered("full@lmtp.example"), [])
        # the sender hears of the two that failed in one report
        [report] = wait_for(lambda: self.reports("mixed"), timeout=30,
                            what=f"alice's report{self.d.log()[-4000:]}")
        self.assertEqual(report.get_content_type(), "multipart/report")
        status = report.get_payload()[1]
        self.assertEqual(status.get_content_type(), "message/delivery-status")
        blocks = {b["Final-Recipient"]: b for b in status.get_payload()[1:]}
        self.assertEqual(sorted(blocks), ["rfc822; full@lmtp.example",
                                          "rfc822; nobody@lmtp.example"])
        full = blocks["rfc822; full@lmtp.example"]
        self.assertEqual(full["Action"], "failed")
        self.assertEqual(full["Status"], "5.2.2")
        self.assertEqual(full["Remote-MTA"], "dns; 127.0.0.1")
        self.assertRegex(full["Diagnostic-Code"], r"^smtp; 552 5\.2\.2 \S")
        self.assertNotIn("said:", full["Diagnostic-Code"])
        nobody = blocks["rfc822; nobody@lmtp.example"]
        self.assertEqual(nobody["Status"], "5.1.1")
        self.assertEqual(nobody["Remote-MTA"], "dns; 127.0.0.1")
        self.assertRegex(nobody["Diagnostic-Code"], r"^smtp; 550 5\.1\.1 .*nobody@lmtp\.example")

    def test_unix_socket_next_hop(self):
        qid = inject(self.d.spool, ["ok@unix.example"], message("unix"))
        self.d.wait_log(rf"id={qid} event=relayed rcpt=ok@unix\.example "
                        rf"relay=unix:{self.dovecot.socket} protocol=lmtp", timeout=30)
        [got] = wait_for(lambda: self.dovecot.delivered("ok@unix.example"), timeout=30,
                         what="ok@unix.example in Dovecot's Maildir")
        self.assertIn(b"Subject: lmtp unix", got)

    def test_user_on_an_lmtp_node(self):
        qid = inject(self.d.spool, ["frank@example.org"], message("node"))
        self.d.wait_log(rf"id={qid} event=relayed rcpt=frank@example\.org "
                        rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{self.dovecot.port} protocol=lmtp",
                        timeout=30)
        [got] = wait_for(lambda: self.dovecot.delivered("frank@example.org"), timeout=30,
                         what="frank@example.org in Dovecot's Maildir")
        self.assertIn(b"Subject: lmtp node", got)

    def test_dirmailctl_route_names_the_protocol(self):
        def route(address):
            res = subprocess.run([DIRMAILCTL, "-c", self.d.path, "route", address],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 timeout=60)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            return res.stdout
        out = route("frank@example.org")
        self.assertIn(f"destination: node:127.0.0.1:{self.dovecot.port}\nprotocol: lmtp\n", out)
        self.assertIn(f"address: 1 127.0.0.1[127.0.0.1]:{self.dovecot.port}\n", out)
        out = route("ok@unix.example")
        self.assertIn("protocol: lmtp\n", out)
        self.assertIn(f"hop: 1 unix:{self.dovecot.socket}\n", out)
        self.assertIn(f"address: 1 unix:{self.dovecot.socket}\n", out)


@unittest.skipUnless(built() and os.access(INJECT, os.X_OK), "dirmaild/queue_inject not built")
@unittest.skipUnless(os.access(DNSMASQ, os.X_OK), "dnsmasq missing: tools/install-deps")
class DirmailNodeLmtp(unittest.TestCase):
    """Two dirmaild nodes: the first routes users whose dirmailMailHost is
    node2.test.example there by LMTP; node2's lmtp service takes them."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        for uid, extra in (("nina", ""), ("otto", "dirmailMailbox: example.org/otto/\n")):
            cls.ldap.add(f"dn: uid={uid},ou=people,dc=example,dc=org\n"
                         "objectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                         f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@example.org\n"
                         f"dirmailMailHost: node2.test.example\n{extra}")
        cls.dns = Dnsmasq(mx=[], hosts=["node2.test.example,127.0.0.1"])
        ldap = {"uris": [cls.ldap.uri], "bind_dn": cls.ldap.service_dn,
                "bind_password": cls.ldap.service_password, "base": cls.ldap.suffix,
                "connect_timeout": 1, "timeout": 2}
        cls.base2 = make_dir(os.path.join(process.tempdir("node2-vmail-"), "vmail"))
        # otto's mailbox on node2 is a file, not a folder: unusable, a
        # permanent failure of his delivery there (5.3.5)
        make_dir(os.path.join(cls.base2, "example.org"))
        with open(os.path.join(cls.base2, "example.org", "otto"), "w") as f:
            f.write("not a Maildir\n")
        cls.node2 = Dirmaild(services=[{"type": "lmtp", "trusted_networks": ["127.0.0.1/32"]}],
                             workers=1, ldap=ldap, server={"hostname": "node2.test.example"},
                             domains={"local": ["example.org"]}, cache={"size": 0},
                             delivery={"mailbox_base": cls.base2})
        cls.node2.start()
        cls.base1 = make_dir(os.path.join(process.tempdir("node1-vmail-"), "vmail"))
        cls.d = Dirmaild(workers=1, ldap=ldap, domains={"local": ["example.org"]},
                         cache={"size": 0},
                         queue={"retry_min": 1, "retry_max": 2, "scan_interval": 5},
                         delivery={"mailbox_base": cls.base1},
                         smtp_client={"node_protocol": "lmtp",
                                      "lmtp_port": cls.node2.port("lmtp"),
                                      "dns_forwarders": [f"127.0.0.1@{cls.dns.port}"],
                                      "idle_time": 1, "connect_timeout": 5,
                                      "tls_security": "none",
                                      "helo_name": "node1.test.example"})
        cls.d.start()
        cls.d.wait_log(r"event=queue_runner_started")

    @classmethod
    def tearDownClass(cls):
        statuses = [cls.d.stop(), cls.node2.stop()]
        errors = cls.d.sanitizer_errors() + cls.node2.sanitizer_errors()
        cls.dns.stop()
        cls.ldap.stop()
        assert statuses == [0, 0], f"dirmaild exits {statuses}\n{cls.d.log()}"
        assert not errors, errors

    def test_mixed_replies_from_dirmails_own_lmtp(self):
        qid = inject(self.d.spool, ["nina@example.org", "otto@example.org"], message("nodes"))
        port = self.node2.port("lmtp")
        self.d.wait_log(rf"id={qid} event=relayed rcpt=nina@example\.org "
                        rf"relay=node2\.test\.example\[127\.0\.0\.1\]:{port} protocol=lmtp ",
                        timeout=30)
        self.d.wait_log(rf"id={qid} event=failed rcpt=otto@example\.org "
                        rf'reply="5\.\d+\.\d+ host node2\.test\.example\[127\.0\.0\.1\]:{port} '
                        r"said: 5\d\d .*\(in reply to end of data\)", timeout=30)
        got = wait_for(lambda: glob.glob(os.path.join(self.base2, "example.org", "nina",
                                                      "Maildir", "new", "*")),
                       timeout=30, what=f"nina's copy on node2\n{self.node2.log()[-3000:]}")
        self.assertEqual(len(got), 1)
        with open(got[0], "rb") as f:
            self.assertIn(b"Subject: lmtp nodes", f.read())
        # on node1 only the sender's report about otto, naming node2 and its reply
        def reports():
            out = []
            for path in glob.glob(os.path.join(self.base1, "**", "new", "*"), recursive=True):
                with open(path, "rb") as f:
                    out.append((path, email.message_from_bytes(f.read(),
                                                               policy=email.policy.compat32)))
            return out
        [(path, report)] = wait_for(reports, timeout=30, what="alice's report on node1")
        self.assertIn(os.path.join("example.org", "alice"), path)
        [block] = report.get_payload()[1].get_payload()[1:]
        self.assertEqual(block["Final-Recipient"], "rfc822; otto@example.org")
        self.assertEqual(block["Action"], "failed")
        self.assertEqual(block["Status"], "5.3.5")
        self.assertEqual(block["Remote-MTA"], "dns; node2.test.example")
        self.assertRegex(block["Diagnostic-Code"], r"^smtp; 5\d\d 5\.3\.5 mailbox unusable")


if __name__ == "__main__":
    harness.tap.main()
