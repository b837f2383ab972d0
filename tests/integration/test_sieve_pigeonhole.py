#!/usr/bin/env python3
"""test_sieve_pigeonhole.py - differential test of dirmail's Sieve engine
against Pigeonhole (Debian dovecot-sieve's sieve-test): every script x
message pair of the table below runs through both, and the actions they
report, brought to one normal form, must be equal. Skips when sieve-test is
not installed. sieve-test refuses to run as root, so under root it runs as
nobody, with a minimal dovecot.conf in a temporary folder."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402

TOP = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("top_builddir") or TOP
FIXTURES = os.path.join(TOP, "tests", "fixtures", "sieve")
DIRMAILCTL = os.path.join(BUILD, "tools", "dirmailctl")
SIEVE_TEST = shutil.which("sieve-test") or "/usr/bin/sieve-test"

ME = "me@example.org"

# (name, script, message file, envelope sender)
CASES = [
    ("implicit_keep", "", "plain.eml", "alice@example.com"),
    ("keep_discard", "keep; discard;", "plain.eml", "alice@example.com"),
    ("discard", "discard;", "plain.eml", "alice@example.com"),
    ("stop", "stop; discard;", "plain.eml", "alice@example.com"),
    ("redirect", 'redirect "bob@example.org";', "plain.eml", "alice@example.com"),
    ("redirect_twice", 'redirect "bob@example.org"; redirect "bob@example.org";', "plain.eml",
     "alice@example.com"),
    ("redirect_copy", 'require "copy"; redirect :copy "bob@example.org";', "plain.eml",
     "alice@example.com"),
    ("fileinto", 'require "fileinto"; fileinto "Lists";', "plain.eml", "alice@example.com"),
    ("fileinto_inbox_dup", 'require "fileinto"; fileinto "INBOX"; keep;', "plain.eml",
     "alice@example.com"),
    ("fileinto_copy", 'require ["fileinto","copy"]; fileinto :copy "Archive";', "plain.eml",
     "alice@example.com"),
    ("fileinto_create", 'require ["fileinto","mailbox"]; fileinto :create "New.Sub";',
     "plain.eml", "alice@example.com"),
    ("header_is", 'if header :is "subject" "[acme-users] [fwd] version 1.0 is out" { discard; }',
     "plain.eml", "alice@example.com"),
    ("header_is_case", 'if header :is "Subject" "[ACME-users] [FWD] VERSION 1.0 is out" '
     '{ discard; }', "plain.eml", "alice@example.com"),
    ("header_octet", 'if header :is :comparator "i;octet" "subject" "[ACME-users] [fwd] version '
     '1.0 is out" { discard; }', "plain.eml", "alice@example.com"),
    ("header_contains", 'require "fileinto"; if header :contains ["to","cc"] "carol" '
     '{ fileinto "carol"; }', "plain.eml", "alice@example.com"),
    ("header_matches", 'require "fileinto"; if header :matches "subject" "*version ?.0*" '
     '{ fileinto "v"; }', "plain.eml", "alice@example.com"),
    ("header_matches_escape", 'if header :matches "subject" "\\\\[acme*" { discard; }',
     "plain.eml", "alice@example.com"),
    ("header_missing", 'if header :contains "x-none" "" { discard; }', "plain.eml",
     "alice@example.com"),
    ("header_2047", 'require "fileinto"; if header :is "subject" "Café au lait" '
     '{ fileinto "cafe"; }', "mime.eml", "andre@example.fr"),
    ("address_all", 'if address :is "from" "alice@example.com" { discard; }', "plain.eml",
     "alice@example.com"),
    ("address_domain", 'require "fileinto"; if address :domain :is "to" "example.org" '
     '{ fileinto "org"; }', "plain.eml", "alice@example.com"),
    ("address_localpart", 'if address :localpart :is ["to","cc"] "carol" { discard; }',
     "plain.eml", "alice@example.com"),
    ("address_2047_name", 'if address :is "from" "andre@example.fr" { discard; }', "mime.eml",
     "andre@example.fr"),
    ("subaddress_detail", 'require ["subaddress","fileinto"]; if address :detail "to" "builds" '
     '{ fileinto "builds"; }', "plain.eml", "alice@example.com"),
    ("subaddress_user", 'require ["subaddress","fileinto"]; if address :user :is "to" "dev" '
     '{ fileinto "dev"; }', "plain.eml", "alice@example.com"),
    ("exists", 'if exists ["from","message-id"] { discard; }', "plain.eml", "alice@example.com"),
    ("exists_not", 'if exists ["from","x-nothing"] { discard; }', "plain.eml",
     "alice@example.com"),
    # sizes count CRLF line ends (RFC 5228 5.9: the message as SMTP carries it);
    # sieve-test counts the file's octets, so both read a CRLF copy here
    ("size_over", 'if size :over 556 { discard; }', "plain.eml@crlf", "alice@example.com"),
    ("size_not_over", 'if size :over 557 { discard; }', "plain.eml@crlf", "alice@example.com"),
    ("size_under", 'if size :under 1K { discard; }', "plain.eml", "alice@example.com"),
    ("allof_anyof_not", 'if allof (not false, anyof (false, header :contains "from" "alice")) '
     '{ discard; }', "plain.eml", "alice@example.com"),
    ("elsif_chain", 'require "fileinto"; if false { fileinto "a"; } elsif true { fileinto "b"; }'
     ' else { fileinto "c"; }', "plain.eml", "alice@example.com"),
    ("else_branch", 'require "fileinto"; if false { fileinto "a"; } elsif false '
     '{ fileinto "b"; } else { fileinto "c"; }', "plain.eml", "alice@example.com"),
    ("envelope_from", 'require "envelope"; if envelope :is "from" "alice@example.com" '
     '{ discard; }', "plain.eml", "alice@example.com"),
    ("envelope_to_domain", 'require ["envelope","fileinto"]; if envelope :domain "to" '
     '"example.org" { fileinto "mine"; }', "plain.eml", "alice@example.com"),
    ("reject", 'require "reject"; reject "not wanted";', "plain.eml", "alice@example.com"),
    ("reject_conflict", 'require ["reject","fileinto"]; fileinto "x"; reject "no";',
     "plain.eml", "alice@example.com"),
    ("flags_internal", 'require ["imap4flags","fileinto"]; addflag "\\\\Seen"; '
     'fileinto "f"; removeflag "\\\\seen"; addflag ["\\\\Flagged", "work"];', "plain.eml",
     "alice@example.com"),
    ("flags_keep_tag", 'require "imap4flags"; keep :flags ["\\\\Answered", "x y"];', "plain.eml",
     "alice@example.com"),
    ("hasflag", 'require ["imap4flags","fileinto"]; setflag "a b"; if hasflag :is "b" '
     '{ fileinto "hasb"; }', "plain.eml", "alice@example.com"),
    ("variables_match", 'require ["variables","fileinto"]; if header :matches "subject" "[*] *" '
     '{ fileinto "lists.${1}"; }', "plain.eml", "alice@example.com"),
    ("variables_set_mod", 'require ["variables","fileinto"]; set :upperfirst :lower "x" "HELLO";'
     ' set :length "n" "${x}"; fileinto "${x}-${n}";', "plain.eml", "alice@example.com"),
    ("variables_string", 'require ["variables","fileinto"]; set "a" "foo"; if string :is "${a}"'
     ' "foo" { fileinto "s"; }', "plain.eml", "alice@example.com"),
    ("relational_count", 'require ["relational","comparator-i;ascii-numeric","fileinto"]; '
     'if header :count "ge" :comparator "i;ascii-numeric" "x-spam-score" "2" '
     '{ fileinto "two"; }', "plain.eml", "alice@example.com"),
    ("relational_value", 'require ["relational","comparator-i;ascii-numeric","fileinto"]; '
     'if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10" '
     '{ fileinto "spam"; }', "plain.eml", "alice@example.com"),
    ("relational_count_addr", 'require ["relational","comparator-i;ascii-numeric"]; '
     'if address :count "eq" :comparator "i;ascii-numeric" ["to","cc"] "3" { discard; }',
     "plain.eml", "alice@example.com"),
    ("body_text", 'require ["body","fileinto"]; if body :contains "MAKE MONEY" '
     '{ fileinto "spam"; }', "plain.eml", "alice@example.com"),
    ("body_text_qp", 'require ["body","fileinto"]; if body :text :contains "café est prêt" '
     '{ fileinto "qp"; }', "mime.eml", "andre@example.fr"),
    ("body_content_html", 'require ["body","fileinto"]; if body :content "text/html" :contains '
     '"html only" { fileinto "html"; }', "mime.eml", "andre@example.fr"),
    ("body_content_app", 'require ["body","fileinto"]; if body :content "application" '
     ':contains "elephant" { fileinto "att"; }', "mime.eml", "andre@example.fr"),
    ("body_content_prologue", 'require ["body","fileinto"]; if body :content "multipart" '
     ':contains "prologue" { fileinto "p"; }', "mime.eml", "andre@example.fr"),
    ("body_content_any_qp", 'require ["body","fileinto"]; if body :content "" :contains '
     '"pineapple soft" { fileinto "qp"; }', "mime.eml", "andre@example.fr"),
    ("match_vars_kept_after_failed_match", 'require ["variables","fileinto"]; '
     'if header :matches "subject" "[*]*" { } if header :matches "subject" "nomatch*" { } '
     'fileinto "${1}";', "plain.eml", "alice@example.com"),
    ("match_angle_parts", 'require ["variables","fileinto"]; if header :matches "to" "*<*@*>*" '
     '{ fileinto "${2}-${3}"; }', "plain.eml", "alice@example.com"),
    ("keep_discard_keep", "keep; discard; keep;", "plain.eml", "alice@example.com"),
    ("flags_case", 'require "imap4flags"; addflag "\\\\seen"; addflag "\\\\SEEN"; '
     'removeflag "\\\\Seen"; addflag "a";', "plain.eml", "alice@example.com"),
    ("body_raw", 'require ["body","fileinto"]; if body :raw :contains "PGh0bWw+" '
     '{ fileinto "raw"; }', "mime.eml", "andre@example.fr"),
    ("vacation", 'require "vacation"; vacation :days 3 :subject "Away" "I am away.";',
     "plain.eml", "alice@example.com"),
    ("vacation_default_subject", 'require "vacation"; vacation "I am away.";', "plain.eml",
     "alice@example.com"),
    ("vacation_list", 'require "vacation"; vacation "I am away.";', "list.eml",
     "dev-bounces@lists.example.net"),
    ("vacation_auto", 'require "vacation"; vacation "I am away.";', "auto.eml",
     "robot@example.com"),
    # (the null sender cannot be given to sieve-test: the unit test covers it)
    ("vacation_not_to_me", 'require "vacation"; vacation "I am away.";', "mime.eml",
     "andre@example.fr"),
    ("encoded_character", 'require ["encoded-character","fileinto"]; '
     'fileinto "${hex:49 4E}box${unicode:2e}x";', "plain.eml", "alice@example.com"),
    ("date_parts", 'require ["date","variables","fileinto","index"]; '
     'if date :matches :originalzone "date" "std11" "*" { set "a" "${0}"; } '
     'if date :matches :zone "-0500" "date" "iso8601" "*" { set "b" "${0}"; } '
     'if date :matches :zone "+0000" "date" "julian" "*" { set "j" "${0}"; } '
     'if date :matches :zone "+0000" "date" "weekday" "*" { set "w" "${0}"; } '
     'if date :matches :zone "+1300" :index 1 :last "received" "time" "*" { set "r" "${0}"; } '
     'fileinto "${a}|${b}|${j}|${w}|${r}";', "plain.eml", "alice@example.com"),
    ("date_relational", 'require ["date","relational","comparator-i;ascii-numeric","fileinto"];'
     ' if date :value "lt" :comparator "i;ascii-numeric" :originalzone "date" "hour" "10" '
     '{ fileinto "morning"; }', "plain.eml", "alice@example.com"),
    ("currentdate", 'require ["date","relational","comparator-i;ascii-numeric"]; '
     'if currentdate :value "ge" :comparator "i;ascii-numeric" "year" "2020" { discard; }',
     "plain.eml", "alice@example.com"),
    # include (RFC 6609): scripts from tests/fixtures/sieve/include/
    ("include", 'require ["include","variables","fileinto"]; global ["x","n"]; set "x" "main"; '
     'include "sub"; include :global "spam"; include :once "count"; include :once "count"; '
     'include "count"; include "ret"; fileinto "n${n}-${y}";', "plain.eml", "alice@example.com"),
    # (two missing :optional includes in one script crash sieve-test 2.3.19)
    ("include_optional", 'require "include"; include :optional "none";', "plain.eml",
     "alice@example.com"),
    ("include_optional_global", 'require "include"; include :optional :global "none";',
     "plain.eml", "alice@example.com"),
    ("multiline", 'require "fileinto";\nif header :is "subject" text:\n'
     '[acme-users] [fwd] version 1.0 is out\n.\n{ fileinto "ml"; }', "plain.eml",
     "alice@example.com"),
    ("comments", '# hash\nrequire /* bracket */ "fileinto";\nfileinto /* x */ "c"; # end',
     "plain.eml", "alice@example.com"),
]


def normal_pigeonhole(out, executed=None):
    """The set of actions sieve-test printed, in the normal form; executed
    is the log of a run with -e, which alone tells whether vacation
    replies (Pigeonhole checks RFC 3834's rules when it executes)."""
    acts, error = [], "final result: failed" in out
    if "resolved with successful implicit keep" in out:
        acts.append(["store", "INBOX", set()])
    cur = None
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("* store message in folder:"):
            cur = ["store", s.split(":", 1)[1].strip(), set()]
            acts.append(cur)
        elif s.startswith("+ add IMAP flags: ") and cur is not None and cur[0] == "store":
            cur[2].update(f.lower() for f in s.split(": ", 1)[1].split())
        elif s.startswith("* redirect message to: "):
            cur = ["redirect", s.split(": ", 1)[1].strip("<>").lower()]
            acts.append(cur)
        elif s.startswith("* reject message with reason: "):
            cur = ["reject", s.split(": ", 1)[1]]
            acts.append(cur)
        elif s.startswith("* send vacation message"):
            cur = ["vacation", None, None]
            acts.append(cur)
        elif s.startswith("=> seconds :") and cur is not None and cur[0] == "vacation":
            cur[1] = int(s.split(":", 1)[1])
        elif s.startswith("=> subject :") and cur is not None and cur[0] == "vacation":
            cur[2] = s.split(":", 1)[1].strip()
        elif s.startswith("* "):
            cur = None
    if executed is not None and "sent vacation response" not in executed:
        acts = [a for a in acts if a[0] != "vacation"]
    return error, sorted(norm(a) for a in acts)


def norm(a):
    if a[0] == "vacation":
        return ("vacation", a[1])
    if a[0] == "store":
        return ("store", a[1], tuple(sorted(a[2])))
    return tuple(a)


def normal_dirmail(out, self_subjects):
    """Our actions in the normal form; vacation subjects go to
    self_subjects (sieve-test prints only a subject the script gave)."""
    acts, error = [], False
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "error":
            error = True
        elif f[0] in ("keep", "fileinto"):
            flags = set()
            for x in f[2:]:
                if x.startswith("flags="):
                    flags = {y.lower() for y in x[6:].split()}
            acts.append(("store", f[1], tuple(sorted(flags))))
        elif f[0] == "redirect":
            acts.append(("redirect", f[1].lower()))
        elif f[0] == "reject":
            acts.append(("reject", f[1]))
        elif f[0] == "vacation":
            kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
            acts.append(("vacation", int(kv["period"])))
            self_subjects.append(kv["subject"])
    return error, sorted(acts)


@unittest.skipUnless(os.path.exists(SIEVE_TEST), "sieve-test (Debian dovecot-sieve) not installed")
@unittest.skipUnless(os.path.exists(DIRMAILCTL), "dirmailctl not built")
class Pigeonhole(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dirmail-sieve-diff.")
        os.chmod(cls.tmp, 0o777)
        cls.run_as = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            cls.run_as = (nobody.pw_uid, nobody.pw_gid)
        uid, gid = cls.run_as or (os.getuid(), os.getgid())
        home = os.path.join(cls.tmp, "home")
        os.makedirs(home)
        os.chown(home, uid, gid)
        cls.conf = os.path.join(cls.tmp, "dovecot.conf")
        with open(cls.conf, "w") as f:
            f.write(f"mail_uid = {uid}\nmail_gid = {gid}\nmail_home = {home}\n"
                    f"mail_location = maildir:{home}/Maildir\nbase_dir = {cls.tmp}/run\n"
                    "log_path = /dev/stderr\n"
                    f"sendmail_path = {cls.tmp}/sendmail\n"
                    f"plugin {{\n  sieve = file:{cls.tmp}/include/personal\n"
                    f"  sieve_global = {cls.tmp}/include/global\n}}\n")
        # include's scripts, where sieve-test may write its compiled copies
        shutil.copytree(os.path.join(FIXTURES, "include"), os.path.join(cls.tmp, "include"))
        for root, dirs, files in os.walk(os.path.join(cls.tmp, "include")):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o777)
            os.chmod(root, 0o777)
        # vacation's reply, when sieve-test -e sends one, goes nowhere
        with open(os.path.join(cls.tmp, "sendmail"), "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n")
        os.chmod(os.path.join(cls.tmp, "sendmail"), 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pigeonhole(self, script, message, sender, execute=False):
        def demote():
            if self.run_as:
                os.setgroups([])
                os.setgid(self.run_as[1])
                os.setuid(self.run_as[0])
        args = [SIEVE_TEST, "-c", self.conf, "-f", sender or "<>", "-r", ME, script, message]
        if execute:
            # a fresh home each time: -e remembers replies in its duplicate db
            home = os.path.join(self.tmp, "home")
            shutil.rmtree(home, ignore_errors=True)
            os.makedirs(home)
            os.chown(home, *(self.run_as or (os.getuid(), os.getgid())))
            args.insert(1, "-e")
        p = subprocess.run(args, capture_output=True, text=True, timeout=60, preexec_fn=demote)
        if p.returncode < 0:
            self.fail(f"sieve-test died of signal {-p.returncode}")
        return p.stdout + p.stderr

    def dirmail(self, script, message, sender):
        inc = os.path.join(self.tmp, "include")
        p = subprocess.run([DIRMAILCTL, "sieve", "test", "-f", sender, "-t", ME,
                            "-P", os.path.join(inc, "personal"), "-G", os.path.join(inc, "global"),
                            script, message],
                           capture_output=True, text=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.stdout


def make_case(name, text, message, sender):
    def test(self):
        path = os.path.join(self.tmp, name + ".sieve")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        msg = os.path.join(FIXTURES, message.split("@")[0])
        if message.endswith("@crlf"):
            with open(msg, "rb") as f:
                data = f.read().replace(b"\n", b"\r\n")
            msg = os.path.join(self.tmp, name + ".eml")
            with open(msg, "wb") as f:
                f.write(data)
        ref = self.pigeonhole(path, msg, sender)
        if "failed to compile" in ref:
            self.fail(f"Pigeonhole does not compile the script:\n{ref}")
        executed = self.pigeonhole(path, msg, sender, True) if "vacation" in text else None
        ours = self.dirmail(path, msg, sender)
        subjects = []
        self.assertEqual(normal_dirmail(ours, subjects), normal_pigeonhole(ref, executed),
                         f"\n--- dirmail:\n{ours}--- pigeonhole:\n{ref}\n{executed or ''}")
        for given in [line.split(":", 1)[1].strip() for line in ref.splitlines()
                      if line.strip().startswith("=> subject :")]:
            self.assertEqual(subjects, [given])
    return test


for _case in CASES:
    setattr(Pigeonhole, "test_" + _case[0], make_case(*_case))


if __name__ == "__main__":
    harness.tap.main()
