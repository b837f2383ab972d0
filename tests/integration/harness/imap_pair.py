"""harness/imap_pair.py - the two servers the differential IMAP tests
compare: a dirmaild serving imaps (harness/imap_server.py) and a Dovecot
from a temporary folder (harness/dovecot.py), alice logged in to each with
imaplib, the same messages APPENDed to both's INBOX and selected."""
import imaplib
import re

from harness import dovecot
from harness.imap_server import ImapsServer, logout_quietly
from harness.slapd import PASSWORDS


class ImapPair:
    def __init__(self, prefix, messages):
        """messages: [(bytes, date_time or None)]."""
        self.server = ImapsServer(prefix)
        self.d = self.server.d
        self.dc = dovecot.Dovecot({"alice": PASSWORDS["alice"]})
        self.dc.start()
        self.ours = imaplib.IMAP4_SSL("127.0.0.1", self.server.port(),
                                      ssl_context=self.server.ctx, timeout=60)
        self.ours.login("alice", PASSWORDS["alice"])
        self.theirs = imaplib.IMAP4("127.0.0.1", self.dc.port, timeout=60)
        self.theirs.login("alice", PASSWORDS["alice"])
        for m in (self.ours, self.theirs):
            for msg, when in messages:
                typ, data = m.append("INBOX", None, when, msg)
                assert typ == "OK", data
            typ, data = m.select("INBOX")
            assert typ == "OK" and int(data[0]) == len(messages), data

    def both(self):
        return (self.ours, self.theirs)

    def stop(self, no_errors=False):
        """Log out of and stop both; dirmaild must exit 0 (and, with
        no_errors, have logged no IMAP error)."""
        for m in self.both():
            logout_quietly(m)
        self.dc.stop()
        status = self.server.stop()
        assert status == 0, f"dirmaild exited {status}\n{self.d.log()[-3000:]}"
        if no_errors:
            errors = re.findall(r".*level=error event=imap.*", self.d.log())
            assert not errors, "\n".join(errors)
