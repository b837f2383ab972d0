#!/usr/bin/env python3
"""test_sieve_pigeonhole_delivery.py - differential test of what delivery
does with a Sieve script against what Pigeonhole says it would do: for
every case of test_sieve_pigeonhole.py's table whose actions end in the
mailbox (keep, fileinto with :copy and :create, discard, imap4flags), the
script is a user's dirmailSieve on a real slapd, dirmail-deliver files the
message, and the folders and flags of the files it wrote must be the
stores sieve-test -r USER prints: system flags by their letters, keywords
by their letters named in the folder's dovecot-keywords (compared in lower
case, as IMAP compares keywords). Redirect, vacation, reject, include and
the date tests are left to the engine's differential test (their effects
leave the Maildir). Skips when sieve-test is not installed."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
import test_sieve_pigeonhole as engine  # noqa: E402
from harness import process  # noqa: E402
from harness.dirmaild import Dirmaild, built  # noqa: E402
from harness.pop3 import make_dir  # noqa: E402
from harness.slapd import Slapd  # noqa: E402
from test_sieve_delivery import user  # noqa: E402

TOP_BUILDDIR = os.environ.get("top_builddir") or engine.TOP
DELIVER = os.path.join(TOP_BUILDDIR, "delivery", "dirmail-deliver")

# actions that leave the Maildir, or scripts that need what only the
# engine test sets up (include's folders, a fixed current date)
ELSEWHERE = re.compile(r"redirect|vacation|reject|include|date|envelope")
CASES = [c for c in engine.CASES if not ELSEWHERE.search(c[1])]
# Maildir flag letters (maildir.h) as IMAP system flags
LETTERS = {"D": "\\draft", "F": "\\flagged", "R": "\\answered", "S": "\\seen", "T": "\\deleted"}


def maildir_folder(mailbox):
    """The folder delivery files a Sieve mailbox name in: "/" is the
    hierarchy "." and "INBOX." (any case) the namespace's prefix, so
    "INbox.x" is the folder "x" (delivery/mda_folders.h; sieve-test prints
    the name as the script gave it)."""
    return re.sub(r"(?i)^inbox\.", "", mailbox.replace("/", "."))


def uid_of(index):
    return f"pd{index}"


@unittest.skipUnless(os.path.exists(engine.SIEVE_TEST),
                     "sieve-test (Debian dovecot-sieve) not installed")
@unittest.skipUnless(built() and os.access(DELIVER, os.X_OK), "dirmail-deliver not built")
class PigeonholeDelivery(unittest.TestCase):
    pigeonhole_setup = engine.Pigeonhole.setUpClass.__func__

    @classmethod
    def setUpClass(cls):
        cls.pigeonhole_setup(cls)
        cls.ldap = Slapd()
        cls.ldap.add("\n".join(user(uid_of(i), c[1] or None) for i, c in enumerate(CASES)))
        cls.base = make_dir(os.path.join(process.tempdir("pigeonhole-vmail-"), "vmail"))
        os.chmod(cls.base, 0o700)
        # dirmaild is not started: dirmail-deliver asks the directory itself
        cls.d = Dirmaild(services=[{"type": "smtp"}], workers=1,
                         ldap=cls.ldap.settings(connect_timeout=1, timeout=2),
                         domains={"local": ["example.org"]},
                         delivery={"mailbox_base": cls.base, "default_folders": []})
        with open(cls.d.path, "w") as f:
            f.write(cls.d.text())

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()
        engine.Pigeonhole.tearDownClass.__func__(cls)

    def pigeonhole(self, script, message, sender, rcpt):
        args = [engine.SIEVE_TEST, "-c", self.conf, "-f", sender or "<>", "-r", rcpt,
                script, message]

        def demote():
            if self.run_as:
                os.setgroups([])
                os.setgid(self.run_as[1])
                os.setuid(self.run_as[0])
        p = subprocess.run(args, capture_output=True, text=True, timeout=60, preexec_fn=demote)
        return p.stdout + p.stderr

    def make_folder(self, uid, folder):
        path = os.path.join(self.base, "example.org", uid, "Maildir", "." + folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        open(os.path.join(path, "maildirfolder"), "w").close()
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(os.path.join(self.base, "example.org", uid)):
                for n in dirs + files:
                    os.lchown(os.path.join(root, n), 65534, 65534)
                os.lchown(root, 65534, 65534)
            os.lchown(os.path.join(self.base, "example.org"), 65534, 65534)

    @staticmethod
    def keywords(box_path):
        """{letter: keyword} of the folder's dovecot-keywords ("<index> <name>")."""
        try:
            with open(os.path.join(box_path, "dovecot-keywords")) as f:
                lines = [line.rstrip("\n").split(" ", 1) for line in f]
        except FileNotFoundError:
            return {}
        return {chr(ord("a") + int(i)): name for i, name in lines}

    def filed(self, uid):
        """{(folder, sorted flags)} of every file delivery wrote for uid."""
        root = os.path.join(self.base, "example.org", uid, "Maildir")
        out = set()
        for box in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            path = os.path.join(root, box)
            if box in ("new", "cur"):
                folder, subs = "INBOX", [path]
            elif box.startswith(".") and os.path.isdir(path):
                folder, subs = box[1:], [os.path.join(path, s) for s in ("new", "cur")]
            else:
                continue
            names = self.keywords(root if folder == "INBOX" else path)
            for sub in subs:
                for name in os.listdir(sub) if os.path.isdir(sub) else []:
                    letters = name.split(":2,", 1)[1] if ":2," in name else ""
                    # a letter the folder's file does not name fails the test
                    flags = tuple(sorted(LETTERS[c] if c in LETTERS else
                                         names.get(c, f"<unnamed {c}>").lower()
                                         for c in letters))
                    out.add((folder, flags))
        return out


def make_case(index, name, text, message, sender):
    def test(self):
        uid = uid_of(index)
        rcpt = f"{uid}@example.org"
        fixture = message.split("@", 1)[0]
        path = os.path.join(engine.FIXTURES, fixture)
        if message.endswith("@crlf"):
            with open(path, "rb") as f:
                data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            path = os.path.join(self.tmp, fixture + ".crlf")
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
        script = os.path.join(self.tmp, f"delivery-{name}.sieve")
        with open(script, "w") as f:
            f.write(text)
        os.chmod(script, 0o644)
        out = self.pigeonhole(script, path, sender, rcpt)
        failed, actions = engine.normal_pigeonhole(out)
        if failed:
            self.skipTest(f"sieve-test failed on {name}: {out[-300:]}")
        want = {(maildir_folder(a[1]), tuple(sorted(a[2])))
                for a in actions if a[0] == "store"}
        # fileinto without :create needs the folder (RFC 5490 3.2: Dovecot's
        # LDA falls back to INBOX as delivery does): make those sieve-test
        # named, so that what is compared is the folder each one chose
        if ":create" not in text:
            for folder, _ in want - {("INBOX", ())}:
                self.make_folder(uid, folder)
        with open(path, "rb") as f:
            p = subprocess.run([DELIVER, "-c", self.d.path, "-f", sender or "", "-a", rcpt],
                               stdin=f, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertEqual(self.filed(uid), want, f"{name}\nsieve-test said:\n{out}")
    test.__name__ = f"test_{name}"
    return test


for _i, (_name, _text, _message, _sender) in enumerate(CASES):
    setattr(PigeonholeDelivery, f"test_{_name}", make_case(_i, _name, _text, _message, _sender))


if __name__ == "__main__":
    harness.tap.main()
