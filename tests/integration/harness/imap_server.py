"""harness/imap_server.py - a real slapd and a dirmaild serving imaps only,
with its Maildirs in a temporary folder, for the IMAP tests that need no
other service; and a TLS context that trusts its certificate."""
import imaplib
import os
import ssl

import harness.certs
from harness import process
from harness.dirmaild import Dirmaild
from harness.slapd import Slapd


class ImapsServer:
    def __init__(self, prefix):
        self.ldap = Slapd()
        self.base = os.path.join(process.tempdir(prefix + "-vmail-"), "vmail")
        os.makedirs(self.base)
        if os.geteuid() == 0:
            os.chown(self.base, 65534, 65534)
        pki = harness.certs.make_ca_and_cert(process.tempdir(prefix + "-certs-"), ["localhost"])
        self.d = Dirmaild(
            services=[{"type": "imaps"}],
            workers=1,
            ldap={"uris": [self.ldap.uri], "bind_dn": self.ldap.service_dn,
                  "bind_password": self.ldap.service_password, "base": self.ldap.suffix},
            domains={"local": ["example.org"]},
            tls={"cert_file": pki["cert"], "key_file": pki["key"]},
            delivery={"mailbox_base": self.base})
        self.d.start()
        self.ctx = ssl.create_default_context(cafile=pki["ca"])
        self.ctx.check_hostname = False

    def port(self):
        return self.d.port("imaps")

    def stop(self):
        """Stop both; dirmaild's exit status."""
        status = self.d.stop()
        self.ldap.stop()
        return status


def logout_quietly(m):
    """LOGOUT of imaplib session m, whatever state it is in."""
    try:
        m.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        pass
