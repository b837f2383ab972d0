#!/usr/bin/env python3
"""dirmaild -n -c FILE (configuration check): the shipped sample loads and the
effective configuration is printed; every broken configuration under
tests/fixtures/conf/bad-*.conf is refused with exit 1 and a message naming
the right FILE:LINE and setting.

Each fixture's first line says what the error must be:
    # expect: LINE SETTING TEXT
(SETTING is "-" for a syntax error, which names no setting)."""
import os
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
import harness.process  # noqa: E402
import harness.tap  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
DIRMAILD = os.path.join(TOP_BUILDDIR, "gateway", "dirmaild")
FIXTURES = os.path.join(TOP_SRCDIR, "tests", "fixtures", "conf")
SAMPLE = os.path.join(TOP_SRCDIR, "conf", "dirmail.conf.sample")
HAVE_DAEMON = os.access(DIRMAILD, os.X_OK)


def check(path):
    """Run the configuration check on path: (exit status, stdout, stderr)."""
    proc = subprocess.run([DIRMAILD, "-n", "-c", path], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def bad_fixtures():
    """[(name, path, line, setting, text)] for every bad-*.conf."""
    out = []
    for name in sorted(os.listdir(FIXTURES)):
        if not (name.startswith("bad-") and name.endswith(".conf")):
            continue
        path = os.path.join(FIXTURES, name)
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        prefix = "# expect: "
        if not first.startswith(prefix):
            raise ValueError(f"{name}: first line must be '# expect: LINE SETTING TEXT'")
        line, setting, text = first[len(prefix):].strip().split(" ", 2)
        out.append((name[:-len(".conf")], path, int(line), setting, text))
    return out


@unittest.skipUnless(HAVE_DAEMON, f"{DIRMAILD} is not built")
class ConfigCheckAccepts(unittest.TestCase):
    def test_sample_accepted_and_printed(self):
        status, out, err = check(SAMPLE)
        self.assertEqual(status, 0, err)
        for section in ("server = {", "ldap = {", "tls = {", "services = (", "domains = {",
                        "relay = {", "queue = {", "delivery = {", "limits = {"):
            self.assertIn(section, out)
        self.assertIn('listen = [ "*:25" ];', out)
        self.assertIn("message_size = 52428800;", out)
        self.assertIn("pregreet_wait = 300;", out)
        self.assertIn("pregreet_pass_ttl = 86400;", out)
        self.assertIn('sync_method = "auto";', out)

    def test_printed_configuration_loads_again_identically(self):
        status, first, err = check(os.path.join(FIXTURES, "good-full.conf"))
        self.assertEqual(status, 0, err)
        self.assertIn('bind_password = "<hidden>";', first)
        self.assertNotIn("not-a-real-secret", first)
        tmp = harness.process.tempdir()
        path = os.path.join(tmp, "printed.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(first.replace('"<hidden>"', '"not-a-real-secret"'))
        status, second, err = check(path)
        self.assertEqual(status, 0, err)
        self.assertEqual(first, second)

    def test_password_file_read_and_not_printed(self):
        tmp = harness.process.tempdir()
        secret = os.path.join(tmp, "ldap.secret")
        with open(secret, "w", encoding="utf-8") as f:
            f.write("pw-from-file\n")
        os.chmod(secret, stat.S_IRUSR | stat.S_IWUSR)
        conf = os.path.join(tmp, "dirmail.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write('ldap = {\n  bind_dn = "cn=dirmail,dc=example,dc=com";\n'
                    f'  bind_password_file = "{secret}";\n}};\n')
        status, out, err = check(conf)
        self.assertEqual(status, 0, err)
        self.assertIn(f'bind_password_file = "{secret}";', out)
        self.assertNotIn("pw-from-file", out + err)

    def test_smtp_client_ca_files_loaded_at_check_time(self):
        """A CA file the SMTP client cannot load is reported by the check,
        not at the first relayed message; a good one passes."""
        tmp = harness.process.tempdir()
        good = os.path.join(tmp, "good-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=test CA", "-keyout", os.path.join(tmp, "ca.key"),
                        "-out", good], check=True, capture_output=True, timeout=60)
        bad = os.path.join(tmp, "bad-ca.pem")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                    "-----END CERTIFICATE-----\n")
        missing = os.path.join(tmp, "missing-ca.pem")

        def conf(section_ca, row_ca):
            path = os.path.join(tmp, "dirmail.conf")
            with open(path, "w", encoding="utf-8") as f:
                f.write(f'smtp_client = {{\n  tls_ca_file = "{section_ca}";\n'
                        '  destinations = ( { match = "exchange.example.org"; '
                        f'tls_security = "verify"; tls_ca_file = "{row_ca}"; }} );\n}};\n')
            return path

        status, out, err = check(conf(good, good))
        self.assertEqual(status, 0, err)
        for section_ca, row_ca, named in ((good, bad, bad), (good, missing, missing),
                                          (bad, good, bad)):
            path = conf(section_ca, row_ca)
            status, out, err = check(path)
            self.assertEqual(status, 1, f"{section_ca} {row_ca}: exit {status}, {err!r}")
            self.assertEqual(out, "")
            self.assertIn(f"dirmaild: {path}: smtp_client: ", err)
            self.assertIn(named, err)

    def test_enough_broken_fixtures(self):
        self.assertGreaterEqual(len(bad_fixtures()), 12)


@unittest.skipUnless(HAVE_DAEMON, f"{DIRMAILD} is not built")
class ConfigCheckRejects(unittest.TestCase):
    """One test per tests/fixtures/conf/bad-*.conf, added below."""


def _make_reject_test(path, line, setting, text):
    def test(self):
        status, out, err = check(path)
        self.assertEqual(status, 1, f"exit {status}, stdout {out!r}, stderr {err!r}")
        self.assertEqual(out, "", "a refused configuration must print nothing on stdout")
        where = f"{path}:{line}: " + ("" if setting == "-" else f"setting {setting}: ")
        self.assertIn(where, err)
        self.assertIn(text, err)
    return test


for _name, _path, _line, _setting, _text in bad_fixtures():
    setattr(ConfigCheckRejects, "test_rejects_" + _name[len("bad-"):].replace("-", "_"),
            _make_reject_test(_path, _line, _setting, _text))


if __name__ == "__main__":
    harness.tap.main()
