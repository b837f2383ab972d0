#!/usr/bin/env python3
"""test_managesieve.py - the managesieve service (reader/managesieve_*.c,
delivery/sieve_store.c) against a real slapd and dirmaild: every command of
RFC 5804 and its response codes over a raw socket (harness/managesieve.py,
literals included), STARTTLS, AUTHENTICATE PLAIN with and without SASL-IR,
the quotas, script names in NFC (RFC 5804 1.6), REFERRAL for a user on
another node, broken scripts refused with their line and column, the files on
disk, the directory down; then real clients: sievelib's managesieve module
(Debian python3-sievelib) and sieve-connect."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness.dirmaild import built  # noqa: E402
from harness.managesieve import ManageSieve  # noqa: E402
from harness.pop3 import Pop3Fixture  # noqa: E402

MAX_SCRIPTS = 3
MAX_SIZE = 2048
GOOD = b'require "fileinto";\r\nif header :contains "subject" "list" {\r\n  fileinto "Lists";\r\n}\r\n'


@unittest.skipUnless(built(), "dirmaild not built")
class ManageSieveService(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.f = Pop3Fixture(services_extra=[{"type": "managesieve"}],
                            managesieve={"max_scripts": MAX_SCRIPTS,
                                         "max_script_size": MAX_SIZE})
        cls.d = cls.f.d

    @classmethod
    def tearDownClass(cls):
        status = cls.f.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def user(self, name):
        """A user of this test alone, with password name-pw."""
        self.f.add_user(name, name + "-pw")
        return name

    def connect(self, tls=True):
        c = ManageSieve(self.d.port("managesieve"))
        self.addCleanup(c.close)
        if tls:
            c.starttls(self.f.ctx)
        return c

    def login(self, name):
        c = self.connect()
        r = c.authenticate_plain(name, name + "-pw")
        self.assertEqual(r.status, "OK", r)
        return c

    def sieve_dir(self, name):
        return os.path.join(self.f.maildir(name), "sieve")

    def ok(self, r):
        self.assertEqual(r.status, "OK", r)
        return r

    def no(self, r, code=None):
        self.assertEqual((r.status, r.code), ("NO", code), r)
        return r

    # ---- greeting, capabilities, STARTTLS ----

    def test_greeting_capabilities_before_and_after_tls(self):
        c = self.connect(tls=False)
        caps = c.capabilities
        self.assertEqual(c.greeting.status, "OK")
        self.assertEqual(caps["IMPLEMENTATION"], "dirmail")
        self.assertEqual(caps["VERSION"], "1.0")
        self.assertIn("STARTTLS", caps)
        self.assertTrue(caps["MAXREDIRECTS"].isdigit())
        self.assertNotIn("NOTIFY", caps)  # no enotify in the engine
        for ext in ("fileinto", "vacation", "variables", "imap4flags", "body", "include"):
            self.assertIn(ext, caps["SIEVE"].split())
        # PLAIN only under TLS (sasl.plaintext_without_tls is off)
        self.assertNotIn("PLAIN", caps["SASL"].split())
        r = c.command("CAPABILITY")
        self.ok(r)
        self.assertEqual(ManageSieve.caps_of(r), caps)
        r = c.starttls(self.f.ctx)
        self.ok(r)
        self.assertNotIn("STARTTLS", c.capabilities)
        self.assertIn("PLAIN", c.capabilities["SASL"].split())
        self.no(c.command("STARTTLS"))  # once only

    def test_starttls_discards_pipelined_plaintext(self):
        name = self.user("msinject")
        c = self.connect(tls=False)
        # a command smuggled behind STARTTLS must not run under TLS
        c.send(b"STARTTLS\r\nPUTSCRIPT \"x\" {5+}\r\nkeep;\r\n")
        r = c.response()
        self.ok(r)
        c.s = self.f.ctx.wrap_socket(c.s, server_hostname="localhost")
        c.buf = b""
        self.ok(c.response())
        self.ok(c.authenticate_plain(name, name + "-pw"))
        self.ok(c.command("LISTSCRIPTS"))
        self.assertFalse(os.path.exists(self.sieve_dir(name)))
        self.d.wait_log(r"event=starttls_discarded")

    # ---- AUTHENTICATE ----

    def test_plain_refused_before_tls(self):
        name = self.user("msplain")
        c = self.connect(tls=False)
        self.no(c.authenticate_plain(name, name + "-pw"), "ENCRYPT-NEEDED")
        self.no(c.command("LISTSCRIPTS"))  # still not logged in

    def test_plain_with_and_without_initial_response(self):
        name = self.user("msauth")
        c = self.connect()
        self.ok(c.authenticate_plain(name, name + "-pw", initial=True))
        self.assertIn("UNAUTHENTICATE", ManageSieve.caps_of(self.ok(c.command("CAPABILITY"))))
        c = self.connect()
        self.ok(c.authenticate_plain(name, name + "-pw", initial=False))
        self.ok(c.command("LISTSCRIPTS"))
        self.no(c.command("AUTHENTICATE", "PLAIN", ""))  # already authenticated
        # the response to the challenge as a literal, and the initial one too
        import base64
        cred = base64.b64encode(b"\0" + name.encode() + b"\0" + name.encode() + b"-pw")
        c = self.connect()
        c.send(c.encode("AUTHENTICATE", ["PLAIN"]))
        self.assertEqual(c.tokens(), [("str", b"")])
        c.send(b"{%d+}\r\n%s\r\n" % (len(cred), cred))
        self.ok(c.response())
        c = self.connect()
        self.ok(c.command("AUTHENTICATE", "PLAIN", c.literal(cred, plus=False)))

    def test_wrong_password_then_cut_after_three(self):
        name = self.user("mswrong")
        c = self.connect()
        r = c.authenticate_plain(name, "nope")
        self.assertEqual((r.status, r.code), ("NO", None), r)
        self.no(c.command("LISTSCRIPTS"))
        c.authenticate_plain(name, "nope")
        c.send(c.encode("AUTHENTICATE", ["PLAIN", "AG5vcGUAbm9wZQ=="]))
        r = c.response()
        self.assertEqual(r.status, "NO", r)
        self.assertEqual(c.response().status, "BYE")

    def test_sasl_cancel(self):
        c = self.connect()
        c.send(c.encode("AUTHENTICATE", ["PLAIN"]))
        c.tokens()  # the empty challenge
        c.send(b'"*"\r\n')
        self.assertEqual(c.response().status, "NO")
        self.ok(c.command("NOOP"))

    def test_unauthenticate(self):
        name = self.user("msunauth")
        c = self.login(name)
        self.ok(c.command("UNAUTHENTICATE"))
        self.no(c.command("LISTSCRIPTS"))
        self.ok(c.authenticate_plain(name, name + "-pw"))
        self.ok(c.command("LISTSCRIPTS"))

    # ---- the script commands and the files on disk ----

    def test_put_list_get_setactive_rename_delete(self):
        name = self.user("msflow")
        c = self.login(name)
        r = self.ok(c.command("LISTSCRIPTS"))
        self.assertEqual(r.lines, [])
        self.ok(c.command("PUTSCRIPT", "rules", c.literal(GOOD)))
        path = os.path.join(self.sieve_dir(name), "rules.sieve")
        with open(path, "rb") as fh:
            self.assertEqual(fh.read(), GOOD)
        # {n} without + is read at once too
        self.ok(c.command("PUTSCRIPT", "other", c.literal(b"keep;\r\n", plus=False)))
        r = self.ok(c.command("GETSCRIPT", "rules"))
        self.assertEqual(r.lines, [[("str", GOOD)]])
        self.no(c.command("GETSCRIPT", "missing"), "NONEXISTENT")
        self.ok(c.command("SETACTIVE", "rules"))
        active = os.path.join(self.sieve_dir(name), ".active")
        self.assertEqual(os.readlink(active), "rules.sieve")
        r = self.ok(c.command("LISTSCRIPTS"))
        self.assertEqual(sorted(r.lines), [[("str", b"other")], [("str", b"rules"), ("atom", "ACTIVE")]])
        self.no(c.command("SETACTIVE", "missing"), "NONEXISTENT")
        self.no(c.command("DELETESCRIPT", "rules"), "ACTIVE")
        self.no(c.command("RENAMESCRIPT", "rules", "other"), "ALREADYEXISTS")
        self.no(c.command("RENAMESCRIPT", "missing", "x"), "NONEXISTENT")
        # renaming the active script keeps it active under its new name
        self.ok(c.command("RENAMESCRIPT", "rules", "filters"))
        self.assertEqual(os.readlink(active), "filters.sieve")
        self.assertFalse(os.path.exists(path))
        self.ok(c.command("SETACTIVE", ""))
        self.assertFalse(os.path.lexists(active))
        self.ok(c.command("DELETESCRIPT", "filters"))
        self.no(c.command("DELETESCRIPT", "filters"), "NONEXISTENT")
        r = self.ok(c.command("LISTSCRIPTS"))
        self.assertEqual(r.lines, [[("str", b"other")]])
        self.assertEqual(sorted(os.listdir(self.sieve_dir(name))), ["other.sieve"])

    def test_utf8_names_and_bad_names(self):
        name = self.user("msnames")
        c = self.login(name)
        self.ok(c.command("PUTSCRIPT", "Régles ✓", c.literal(b"keep;")))
        self.assertTrue(os.path.exists(os.path.join(self.sieve_dir(name), "Régles ✓.sieve")))
        for bad in ("../escape", "a/b", ".hidden", "tab\there", "x" * 300, ""):
            self.no(c.command("PUTSCRIPT", bad, c.literal(b"keep;")))
        self.no(c.command("PUTSCRIPT", c.literal(b"nul\0name"), c.literal(b"keep;")))
        self.no(c.command("PUTSCRIPT", c.literal(b"\xff\xfe"), c.literal(b"keep;")))
        self.assertEqual(os.listdir(self.sieve_dir(name)), ["Régles ✓.sieve"])
        self.assertFalse(os.path.exists(os.path.join(self.f.maildir(name), "escape.sieve")))

    def test_names_are_normalised_to_nfc(self):
        # RFC 5804 1.6: names are Net-Unicode (NFC); "e" + U+0301 and "é"
        # name one script, stored and listed composed
        name = self.user("msnfc")
        c = self.login(name)
        decomposed, composed = "Re\u0301gles", "R\u00e9gles"
        self.ok(c.command("PUTSCRIPT", decomposed, c.literal(b"keep;")))
        self.assertEqual(os.listdir(self.sieve_dir(name)), [composed + ".sieve"])
        r = self.ok(c.command("LISTSCRIPTS"))
        self.assertEqual(r.lines, [[("str", composed.encode())]])
        for form in (decomposed, composed):
            r = self.ok(c.command("GETSCRIPT", form))
            self.assertEqual(r.lines, [[("str", b"keep;")]])
        self.ok(c.command("SETACTIVE", decomposed))
        self.assertEqual(os.readlink(os.path.join(self.sieve_dir(name), ".active")),
                         composed + ".sieve")
        # renaming to the other form is renaming to itself: nothing changes
        self.ok(c.command("RENAMESCRIPT", composed, decomposed))
        self.ok(c.command("PUTSCRIPT", "other", c.literal(b"keep;")))
        self.no(c.command("RENAMESCRIPT", "other", decomposed), "ALREADYEXISTS")
        self.ok(c.command("DELETESCRIPT", "other"))
        # control characters of any plane and the separators are refused
        for bad in ("c1\u0085x", "line\u2028sep", "para\u2029sep", "del\x7fx"):
            self.no(c.command("PUTSCRIPT", bad, c.literal(b"keep;")))
        self.assertEqual(sorted(os.listdir(self.sieve_dir(name))), [".active", composed + ".sieve"])

    def test_referral_for_a_user_on_another_node(self):
        # RFC 5804 1.3, 2.1: the login names the node that holds the
        # scripts; dirmailMailHost's SMTP port is not ManageSieve's
        for uid, host, url in (("msremote", "node2.example.org:2525", "sieve://node2.example.org"),
                               ("msremote6", "[2001:db8::5]:25", "sieve://[2001:db8::5]")):
            self.f.add_user(uid, uid + "-pw", extra=f"dirmailMailHost: {host}\n")
            c = self.connect()
            r = c.authenticate_plain(uid, uid + "-pw")
            self.assertEqual((r.status, r.code), ("NO", f'REFERRAL "{url}"'), r)
            self.no(c.command("LISTSCRIPTS"))  # not logged in
            self.assertFalse(os.path.exists(self.sieve_dir(uid)))
        self.d.wait_log(r"event=managesieve_login_failed .*user=msremote6 .*"
                        r"referral=sieve://\[2001:db8::5\]")
        # a wrong password is refused here, never referred
        c = self.connect()
        r = c.authenticate_plain("msremote", "wrong")
        self.assertEqual(r.status, "NO", r)
        self.assertIsNone(r.code, r)

    def test_warnings_on_ok_and_the_script_stored(self):
        # RFC 5804 1.3: OK (WARNINGS) for a script that compiles with warnings
        name = self.user("mswarn")
        c = self.login(name)
        doubtful = b'if address :is "Subject" "a@b.example" {\r\n  discard;\r\n}\r\n'
        r = self.ok(c.command("CHECKSCRIPT", c.literal(doubtful)))
        self.assertEqual(r.code, "WARNINGS", r)
        self.assertRegex(r.text, r'^line 1, column 16: address: "Subject" holds no addresses')
        r = self.ok(c.command("PUTSCRIPT", "doubtful", c.literal(doubtful)))
        self.assertEqual(r.code, "WARNINGS", r)
        with open(os.path.join(self.sieve_dir(name), "doubtful.sieve"), "rb") as f:
            self.assertEqual(f.read(), doubtful)
        # the same test on an address field: plain OK
        r = self.ok(c.command("CHECKSCRIPT", c.literal(doubtful.replace(b"Subject", b"From"))))
        self.assertIsNone(r.code, r)

    def test_broken_script_refused_with_line_and_column(self):
        name = self.user("msbroken")
        c = self.login(name)
        broken = b'require "fileinto";\r\nif header :is "subject" "x" {\r\n  fileinto;\r\n}\r\n'
        r = self.no(c.command("PUTSCRIPT", "broken", c.literal(broken)))
        self.assertRegex(r.text, r"^line 3, column \d+: ")
        r = self.no(c.command("CHECKSCRIPT", c.literal(b"keep;\r\nfrobnicate;\r\n")))
        self.assertRegex(r.text, r"^line 2, column 1: ")
        self.ok(c.command("CHECKSCRIPT", c.literal(GOOD)))
        r = self.no(c.command("PUTSCRIPT", "noreq", c.literal(b'fileinto "x";')))
        self.assertIn("line 1", r.text)
        self.assertFalse(os.path.exists(self.sieve_dir(name)))
        self.ok(c.command("NOOP"))  # a broken script is no protocol error

    def test_quotas(self):
        name = self.user("msquota")
        c = self.login(name)
        self.ok(c.command("HAVESPACE", "a", c.atom(MAX_SIZE)))
        self.no(c.command("HAVESPACE", "a", c.atom(MAX_SIZE + 1)), "QUOTA/MAXSIZE")
        # too big: refused before the literal is read, and it is dropped
        r = c.command("PUTSCRIPT", "big", c.literal(b"#" * (MAX_SIZE + 1)))
        self.no(r, "QUOTA/MAXSIZE")
        self.ok(c.command("NOOP"))
        for i in range(MAX_SCRIPTS):
            self.ok(c.command("PUTSCRIPT", f"s{i}", c.literal(b"keep;")))
        self.no(c.command("HAVESPACE", "new", c.atom(10)), "QUOTA/MAXSCRIPTS")
        self.no(c.command("PUTSCRIPT", "new", c.literal(b"keep;")), "QUOTA/MAXSCRIPTS")
        self.ok(c.command("HAVESPACE", "s0", c.atom(10)))  # a replacement fits
        self.ok(c.command("PUTSCRIPT", "s0", c.literal(b"discard;")))
        self.assertEqual(len(os.listdir(self.sieve_dir(name))), MAX_SCRIPTS)

    def test_noop_tag_logout_and_errors(self):
        name = self.user("msnoop")
        c = self.login(name)
        r = self.ok(c.command("NOOP", "STARTTLS-SYNC-42"))
        self.assertEqual(r.code, 'TAG "STARTTLS-SYNC-42"')
        self.no(c.command("FROBNICATE"))
        self.no(c.command("GETSCRIPT"))
        self.no(c.command("HAVESPACE", "a", "notanumber"))
        self.no(c.command("LISTSCRIPTS", "extra"))
        self.ok(c.command("LOGOUT"))
        self.assertEqual(c.s.recv(1), b"")

    def test_commands_need_login(self):
        c = self.connect()
        for cmd in ("LISTSCRIPTS", "HAVESPACE", "GETSCRIPT", "UNAUTHENTICATE"):
            self.no(c.command(cmd))

    def test_pipelined_commands(self):
        name = self.user("mspipe")
        c = self.login(name)
        c.send(c.encode("PUTSCRIPT", ["p", c.literal(b"keep;")]) +
               c.encode("SETACTIVE", ["p"]) + c.encode("LISTSCRIPTS", []))
        self.ok(c.response())
        self.ok(c.response())
        r = self.ok(c.response())
        self.assertEqual(r.lines, [[("str", b"p"), ("atom", "ACTIVE")]])

    # ---- real clients ----

    def test_sievelib_client(self):
        try:
            from sievelib.managesieve import Client
        except ImportError:
            sys.path.append("/usr/lib/python3/dist-packages")
            try:
                from sievelib.managesieve import Client
            except ImportError:
                self.skipTest("sievelib (Debian python3-sievelib) is not installed")
        name = self.user("mslib")
        cl = Client("127.0.0.1", self.d.port("managesieve"))
        self.assertTrue(cl.connect(name, name + "-pw", starttls=True, authmech="PLAIN"),
                        getattr(cl, "errmsg", None))
        self.assertTrue(cl.putscript("lib", GOOD.decode()), getattr(cl, "errmsg", None))
        self.assertTrue(cl.setactive("lib"), getattr(cl, "errmsg", None))
        active, others = cl.listscripts()
        self.assertEqual((active, others), ("lib", []))
        # sievelib drops the script's last line end
        self.assertEqual(cl.getscript("lib").replace("\r\n", "\n").rstrip("\n"),
                         GOOD.decode().replace("\r\n", "\n").rstrip("\n"))
        self.assertFalse(cl.putscript("bad", "if {"))
        cl.logout()
        self.assertEqual(os.readlink(os.path.join(self.sieve_dir(name), ".active")),
                         "lib.sieve")

    def test_sieve_connect_uploads_and_activates(self):
        exe = shutil.which("sieve-connect")
        if exe is None:
            self.skipTest("sieve-connect is not installed")
        name = self.user("msconnect")
        tmp = os.path.join(self.f.base, "..", "upload.sieve")
        with open(tmp, "wb") as fh:
            fh.write(GOOD)
        base = [exe, "--server", "127.0.0.1", "--port", str(self.d.port("managesieve")),
                "--user", name, "--passwordfd", "0", "--tlscafile", self.f.pki["ca"],
                "--tlshostname", "localhost", "--authmech", "PLAIN"]
        for extra in (["--upload", "--localsieve", tmp, "--remotesieve", "up"],
                      ["--activate", "--remotesieve", "up"]):
            p = subprocess.run(base + extra, input=(name + "-pw\n").encode(),
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run(base + ["--list"], input=(name + "-pw\n").encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(b"up", p.stdout)
        with open(os.path.join(self.sieve_dir(name), "up.sieve"), "rb") as fh:
            self.assertEqual(fh.read(), GOOD)
        self.assertEqual(os.readlink(os.path.join(self.sieve_dir(name), ".active")), "up.sieve")

    # ---- last: the directory down ----

    def test_zz_directory_down_is_trylater(self):
        name = self.user("msdown")
        self.f.ldap.stop()
        try:
            c = self.connect()
            r = c.authenticate_plain(name, name + "-pw")
            self.assertEqual((r.status, r.code), ("NO", "TRYLATER"), r)
        finally:
            self.f.ldap.start()


@unittest.skipUnless(built(), "dirmaild not built")
class ManageSievePlaintextAndBlock(unittest.TestCase):
    """sasl.plaintext_without_tls lets PLAIN in before STARTTLS, as it does
    for the other services; limits.auth_failures blocks the address."""

    @classmethod
    def setUpClass(cls):
        cls.f = Pop3Fixture(services_extra=[{"type": "managesieve"}],
                            sasl={"plaintext_without_tls": True},
                            limits={"auth_failures": 2, "auth_failure_window": 600})
        cls.d = cls.f.d

    @classmethod
    def tearDownClass(cls):
        status = cls.f.stop()
        assert status == 0, f"dirmaild exited {status}\n{cls.d.log()[-3000:]}"

    def test_plain_without_tls_then_address_blocked(self):
        self.f.add_user("msclear", "msclear-pw")
        c = ManageSieve(self.d.port("managesieve"))
        self.addCleanup(c.close)
        self.assertIn("PLAIN", c.capabilities["SASL"].split())
        self.assertEqual(c.authenticate_plain("msclear", "msclear-pw").status, "OK")
        for _ in range(2):
            c = ManageSieve(self.d.port("managesieve"))
            self.addCleanup(c.close)
            r = c.authenticate_plain("msclear", "wrong")
            self.assertEqual((r.status, r.code), ("NO", None), r)
        # the address is over its limit: refused even with the right password
        c = ManageSieve(self.d.port("managesieve"))
        self.addCleanup(c.close)
        r = c.authenticate_plain("msclear", "msclear-pw")
        self.assertEqual((r.status, r.code), ("NO", "TRYLATER"), r)
        self.assertEqual(c.response().status, "BYE")


if __name__ == "__main__":
    harness.tap.main()
