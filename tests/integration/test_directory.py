#!/usr/bin/env python3
"""test_directory.py - the directory client (auth/libdirectory.a, driven by
tests/dir_query) against real slapd servers: address resolution under the
four profiles, groups, ambiguity, injection, outage and recovery, failover,
StartTLS, and authentication."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness.tap  # noqa: E402
from harness import process  # noqa: E402
from harness.slapd import Slapd, PASSWORDS, DEFAULT_SCHEMAS  # noqa: E402
from harness import certs  # noqa: E402

TOP_SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir") or TOP_SRCDIR
DIR_QUERY = os.path.join(TOP_BUILDDIR, "tests", "dir_query")
FIXTURES = os.path.join(TOP_SRCDIR, "tests", "fixtures", "directory")
TIMEOUT = 2  # ldap.timeout in the test configurations, seconds


def write_conf(folder, uris, bind_dn, bind_password, base, profile="dirmail",
               local=("example.org", "example.net"), relay=("relay.example",),
               starttls="no", ca_file=None, timeout=TIMEOUT, ldap_extra=()):
    """relay items are domains or (domain, next_hop); ldap_extra lines go
    into the ldap group as written."""
    path = os.path.join(folder, f"dirmail-{profile}-{time.monotonic_ns()}.conf")
    lines = [
        'server = { hostname = "node1.example.org"; log = "stderr"; log_level = "info"; };',
        "ldap = {",
        "  uris = [ %s ];" % ", ".join(f'"{u}"' for u in uris),
        f'  bind_dn = "{bind_dn}";',
        f'  bind_password = "{bind_password}";',
        f'  base = "{base}";',
        f'  profile = "{profile}";',
        "  connect_timeout = 1;",
        f"  timeout = {timeout};",
        "  pool_size = 2;",
        f'  starttls = "{starttls}";',
    ]
    if ca_file:
        lines.append(f'  ca_file = "{ca_file}";')
    lines += ["  " + line for line in ldap_extra]
    relays = [f'{{ domain = "{d[0]}"; next_hop = "{d[1]}"; }}' if isinstance(d, tuple)
              else f'"{d}"' for d in relay]
    lines += [
        "};",
        "domains = {",
        "  local = [ %s ];" % ", ".join(f'"{d}"' for d in local),
        "  relay = ( %s );" % ", ".join(relays),
        "};",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def parse(text):
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out.setdefault(key, []).append(value)
    return out


class Query:
    """Runs dir_query with one configuration (and -o overrides)."""

    def __init__(self, conf, overrides=()):
        self.conf = conf
        self.overrides = list(overrides)

    def argv(self, *args):
        argv = [DIR_QUERY, "-c", self.conf]
        for o in self.overrides:
            argv += ["-o", o]
        return argv + list(args)

    def run(self, *args, stdin=""):
        res = subprocess.run(self.argv(*args), input=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=60)
        fields = parse(res.stdout)
        fields["_rc"] = res.returncode
        fields["_stderr"] = res.stderr
        return fields

    def resolve(self, address):
        return self.run("resolve", address)

    def auth(self, login, password, service="-"):
        return self.run("auth", login, service, stdin=password + "\n")


def one(fields, key):
    values = fields.get(key)
    return values[0] if values else None


class DirmailProfile(unittest.TestCase):
    """schema/examples plus fixtures/directory/extra-dirmail.ldif under the
    default dirmail profile. Settings are changed through dirmail.conf (the
    ldap_extra lines), as an administrator would."""

    @classmethod
    def setUpClass(cls):
        cls.folder = process.tempdir()
        cls.ldap = Slapd(ldif=[os.path.join(TOP_SRCDIR, "schema", "examples", "base.ldif"),
                               os.path.join(TOP_SRCDIR, "schema", "examples", "users.ldif"),
                               os.path.join(FIXTURES, "extra-dirmail.ldif")])
        cls.q = Query(write_conf(cls.folder, [cls.ldap.uri], cls.ldap.service_dn,
                                 cls.ldap.service_password, cls.ldap.suffix))

    def query_with(self, *ldap_extra, **kwargs):
        """A Query whose dirmail.conf adds ldap_extra lines to the ldap group."""
        return Query(write_conf(self.folder, [self.ldap.uri], self.ldap.service_dn,
                                self.ldap.service_password, self.ldap.suffix,
                                ldap_extra=ldap_extra, **kwargs))

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def assertResolves(self, query_address, kind, rc=0, **expect):
        r = self.q.resolve(query_address)
        self.assertEqual(r["_rc"], rc, r)
        self.assertEqual(one(r, "kind"), kind, r)
        for key, value in expect.items():
            if isinstance(value, list):
                self.assertEqual(sorted(r.get(key, [])), sorted(value), r)
            else:
                self.assertEqual(one(r, key), value, r)
        return r

    def test_primary_address(self):
        self.assertResolves("alice@example.org", "local", mailbox="example.org/alice/",
                            quota="104857600", dn="uid=alice,ou=people,dc=example,dc=org",
                            primary="alice@example.org")

    def test_alias_and_case(self):
        self.assertResolves("A.Liddell@EXAMPLE.org", "local", primary="alice@example.org",
                            matched="a.liddell@example.org")

    def test_subaddress_keeps_tag(self):
        self.assertResolves("alice+lists@example.org", "local", tag="lists",
                            matched="alice@example.org", address="alice+lists@example.org")

    def test_subaddress_delimiter_configurable(self):
        q = self.query_with('subaddress_delimiter = "-";')
        r = q.resolve("alice-lists@example.org")
        self.assertEqual(one(r, "kind"), "local", r)
        self.assertEqual(one(r, "tag"), "lists")
        r = q.resolve("alice+lists@example.org")
        self.assertEqual(r["_rc"], 1, r)

    def test_catchall(self):
        self.assertResolves("whoever@example.net", "local", catchall="yes",
                            matched="@example.net", primary="carol@example.net")

    def test_unknown_in_local_domain(self):
        self.assertResolves("nobody@example.org", "unknown", rc=1)

    def test_not_ours_and_relay(self):
        self.assertResolves("someone@elsewhere.example", "not_ours", rc=1)
        r = self.assertResolves("someone@relay.example", "relay", rc=0)
        self.assertNotIn("next_hop", r)

    def test_relay_next_hop_from_config(self):
        q = self.query_with(relay=("relay.example", ("partner.example", "[mx.partner.example]:2525")))
        r = q.resolve("someone@Partner.Example")
        self.assertEqual((r["_rc"], one(r, "kind")), (0, "relay"), r)
        self.assertEqual(one(r, "next_hop"), "[mx.partner.example]:2525", r)
        r = q.resolve("someone@relay.example")
        self.assertEqual((r["_rc"], one(r, "kind"), one(r, "next_hop")), (0, "relay", None), r)

    def test_profile_override_from_config(self):
        # dirmailAlias as the primary address attribute and the only one searched:
        # alice is then found by her alias and no longer by her mail value.
        q = self.query_with('attributes = { mail = "dirmailAlias"; alias = ""; };',
                            'filters = { recipient = "(&(objectClass=dirmailUser)(dirmailAlias=%s))"; };')
        r = q.resolve("a.liddell@example.org")
        self.assertEqual((r["_rc"], one(r, "kind")), (0, "local"), r)
        self.assertEqual(one(r, "dn"), "uid=alice,ou=people,dc=example,dc=org", r)
        self.assertIn(one(r, "primary"), ("a.liddell@example.org", "postmaster@example.org"), r)
        r = q.resolve("alice@example.org")
        self.assertEqual((r["_rc"], one(r, "kind")), (1, "unknown"), r)
        # The same directory under the unchanged configuration, for contrast.
        self.assertResolves("alice@example.org", "local", primary="alice@example.org")

    def test_bad_filter_in_config_stops_start(self):
        q = self.query_with('filters = { login = "(uid=%l"; };')
        r = q.resolve("alice@example.org")
        self.assertEqual(r["_rc"], 78, r)  # EX_CONFIG
        self.assertIn("setting ldap.filters.login", r["_stderr"])
        self.assertIn("unbalanced parentheses", r["_stderr"])

    def test_forward_only_and_keep_copy(self):
        self.assertResolves("dave@example.org", "forward", forward=["dave@example.com"],
                            keep_copy="no")
        self.assertResolves("gina@example.org", "forward", forward=["gina@elsewhere.example"],
                            keep_copy="yes")

    def test_remote_node(self):
        self.assertResolves("frank@example.org", "remote_node", mail_host="node2.example.org")

    def test_disabled_and_held(self):
        self.assertResolves("erin@example.org", "disabled", disabled_action="reject")
        self.assertResolves("hal@example.org", "disabled", disabled_action="hold")
        q = self.query_with('disabled_policy = "hold";')
        r = q.resolve("erin@example.org")
        self.assertEqual(one(r, "disabled_action"), "hold", r)

    def test_group(self):
        self.assertResolves("staff@example.org", "group",
                            member=["alice@example.org", "bob@example.org", "dave@example.org"])

    def test_nested_group_skips_missing_member(self):
        r = self.assertResolves("outer@example.org", "group",
                                member=["alice@example.org", "bob@example.org",
                                        "dave@example.org", "frank@example.org"])
        self.assertIn("group_member_missing", r["_stderr"])

    def test_group_loop(self):
        self.assertResolves("loop-a@example.org", "group",
                            member=["alice@example.org", "bob@example.org"])

    def test_group_depth_limit(self):
        q = self.query_with("group_max_depth = 1;")
        r = q.resolve("outer@example.org")
        self.assertEqual(r["_rc"], 75, r)
        self.assertIn("group_too_deep", r["_stderr"])

    def test_ambiguous_address_tempfails(self):
        r = self.q.resolve("shared@example.org")
        self.assertEqual(r["_rc"], 75, r)
        self.assertIn("directory_ambiguous", r["_stderr"])
        self.assertIn("uid=dup1", r["_stderr"])
        self.assertIn("uid=dup2", r["_stderr"])

    def test_injection_never_matches(self):
        for address in ["*@example.org", ")(mail=*@example.org", "alice)(mail=*@example.org",
                        "\\2a@example.org", "al*@example.org", "*)(|(mail=*@example.org"]:
            r = self.q.resolve(address)
            self.assertEqual(r["_rc"], 1, (address, r))
            self.assertNotEqual(one(r, "kind"), "local", (address, r))
        r = self.q.resolve("a" * 10240 + "@example.org")
        self.assertEqual((r["_rc"], one(r, "kind")), (1, "invalid"), r)
        for login in ["*", "alice)(uid=*", "\\2a", "al*"]:
            r = self.q.auth(login, "alice-password")
            self.assertEqual(one(r, "result"), "failed", (login, r))
            self.assertEqual(one(r, "reason"), "unknown_user", (login, r))
        r = self.q.auth("a" * 10240, "x")
        self.assertEqual(one(r, "reason"), "invalid_login", r)

    def test_base_missing_is_tempfail(self):
        conf = write_conf(self.folder, [self.ldap.uri], self.ldap.service_dn,
                          self.ldap.service_password, "ou=nowhere,dc=example,dc=org")
        r = Query(conf).resolve("alice@example.org")
        self.assertEqual(r["_rc"], 75, r)

    def test_auth(self):
        r = self.q.auth("alice", PASSWORDS["alice"], "imap")
        self.assertEqual((r["_rc"], one(r, "result")), (0, "ok"), r)
        self.assertEqual(one(r, "dn"), "uid=alice,ou=people,dc=example,dc=org")
        r = self.q.auth("alice@example.org", PASSWORDS["alice"])
        self.assertEqual(one(r, "result"), "ok", r)

    def test_auth_wrong_password(self):
        r = self.q.auth("alice", "not-her-password")
        self.assertEqual((r["_rc"], one(r, "reason")), (1, "bad_password"), r)
        self.assertNotIn("not-her-password", r["_stderr"])

    def test_auth_empty_password(self):
        r = self.q.auth("alice", "")
        self.assertEqual((r["_rc"], one(r, "reason")), (1, "empty_password"), r)

    def test_auth_unknown_user(self):
        r = self.q.auth("mallory", "x")
        self.assertEqual((r["_rc"], one(r, "reason")), (1, "unknown_user"), r)

    def test_auth_disabled(self):
        r = self.q.auth("erin", PASSWORDS["erin"])
        self.assertEqual((r["_rc"], one(r, "reason")), (1, "disabled"), r)

    def test_auth_service_not_allowed(self):
        r = self.q.auth("bob", PASSWORDS["bob"], "pop3")
        self.assertEqual((r["_rc"], one(r, "reason")), (1, "service_not_allowed"), r)
        r = self.q.auth("bob", PASSWORDS["bob"], "imaps")
        self.assertEqual(one(r, "result"), "ok", r)

    def test_senders(self):
        r = self.q.run("senders", "bob")
        self.assertEqual(r["_rc"], 0, r)
        self.assertEqual(sorted(r["sender"]),
                         ["bob@example.org", "robert@example.org", "sales@example.org"])
        r = self.q.run("senders", "nobody")
        self.assertEqual(r["_rc"], 1, r)

    def test_user_fetch(self):
        r = self.q.run("user", "bob+x@example.org")
        self.assertEqual(one(r, "login"), "bob", r)
        self.assertEqual(sorted(r["service"]), ["imap", "lmtp", "smtp", "submission"])
        self.assertEqual(one(r, "sieve"), "yes")


class OtherProfiles(unittest.TestCase):
    """The same people under qmail-ldap, inetlocalmailrecipient and
    active-directory."""

    @classmethod
    def setUpClass(cls):
        cls.folder = process.tempdir()
        base = os.path.join(FIXTURES, "base.ldif")
        schemas = list(DEFAULT_SCHEMAS) + [os.path.join(FIXTURES, "qmail-test.schema")]
        cls.servers = {}
        for profile in ("qmail-ldap", "inetlocalmailrecipient"):
            s = Slapd(schemas=schemas, ldif=[base, os.path.join(FIXTURES, profile + ".ldif")])
            cls.servers[profile] = (s, Query(write_conf(cls.folder, [s.uri], s.service_dn,
                                                        s.service_password, s.suffix,
                                                        profile=profile)))
        ad = Slapd.active_directory()
        cls.servers["active-directory"] = (ad, Query(write_conf(
            cls.folder, [ad.uri], ad.service_dn, ad.service_password, ad.suffix,
            profile="active-directory")))

    @classmethod
    def tearDownClass(cls):
        for s, _ in cls.servers.values():
            s.stop()

    def check(self, profile, address, kind, rc=0, **expect):
        r = self.servers[profile][1].resolve(address)
        self.assertEqual((r["_rc"], one(r, "kind")), (rc, kind), (profile, address, r))
        for key, value in expect.items():
            got = sorted(r.get(key, [])) if isinstance(value, list) else one(r, key)
            self.assertEqual(got, sorted(value) if isinstance(value, list) else value,
                             (profile, address, r))

    def test_common_content(self):
        for profile in ("qmail-ldap", "inetlocalmailrecipient", "active-directory"):
            self.check(profile, "alice@example.org", "local", primary="alice@example.org")
            self.check(profile, "a.liddell@example.org", "local", primary="alice@example.org")
            self.check(profile, "alice+tag@example.org", "local", tag="tag")
            self.check(profile, "nobody@example.org", "unknown", rc=1)
            self.check(profile, "*@example.org", "unknown", rc=1)

    def test_qmail_ldap(self):
        p = "qmail-ldap"
        self.check(p, "alice@example.org", "local", mailbox="example.org/alice/",
                   quota="104857600")
        self.check(p, "someone@example.net", "local", catchall="yes", primary="carol@example.net")
        self.check(p, "dave@example.org", "forward", forward=["dave@example.com"], keep_copy="no")
        self.check(p, "erin@example.org", "disabled")
        self.check(p, "staff@example.org", "group",
                   member=["alice@example.org", "dave@example.org"])
        q = self.servers[p][1]
        self.assertEqual(one(q.auth("alice", "alice-password"), "result"), "ok")
        self.assertEqual(one(q.auth("erin", "erin-password"), "reason"), "disabled")

    def test_inetlocalmailrecipient(self):
        p = "inetlocalmailrecipient"
        self.check(p, "someone@example.net", "local", catchall="yes", primary="carol@example.net")
        self.check(p, "dave@example.org", "forward", forward=["dave@example.com"], keep_copy="no")
        self.check(p, "frank@example.org", "remote_node", mail_host="node2.example.org")
        self.check(p, "staff@example.org", "group",
                   member=["alice@example.org", "dave@example.org"])
        q = self.servers[p][1]
        self.assertEqual(one(q.auth("alice", "alice-password"), "result"), "ok")

    def test_active_directory(self):
        p = "active-directory"
        self.check(p, "postmaster@example.org", "local", primary="alice@example.org",
                   dn="cn=Alice Liddell,ou=Staff,dc=corp,dc=example,dc=org")
        self.check(p, "robert@example.org", "local", primary="bob@example.org")
        self.check(p, "erin@example.org", "disabled")
        self.check(p, "staff@example.org", "group",
                   member=["alice@example.org", "bob@example.org"])
        q = self.servers[p][1]
        r = q.auth("alice@corp.example.org", "alice-password")
        self.assertEqual(one(r, "result"), "ok", r)
        self.assertEqual(one(r, "login"), "alice")
        self.assertEqual(one(q.auth("bob", "bob-password"), "result"), "ok")
        self.assertEqual(one(q.auth("bob", "wrong"), "reason"), "bad_password")
        self.assertEqual(one(q.auth("erin", "erin-password"), "reason"), "disabled")
        r = q.run("senders", "alice")
        self.assertEqual(sorted(r["sender"]), ["a.liddell@example.org", "alice@example.org",
                                               "postmaster@example.org"])


class Batch:
    """One long-lived dir_query batch process: one pool across commands."""

    def __init__(self, query, log_path=os.devnull):
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.proc = process.spawn(query.argv("batch"), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=log, text=True)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            out = self.proc.stdout.readline()
            if out == "":
                raise RuntimeError("dir_query batch exited")
            lines.append(out)
            if out.startswith("elapsed_ms="):
                break
        return parse("".join(lines))

    def ask_until(self, line, exit_code, timeout=10.0):
        """ask until the answer exits exit_code (bounded): after an outage a
        server is tried again only when its backoff interval is over."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.ask(line)
            if one(r, "exit") == exit_code or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    def close(self):
        self.proc.stdin.close()
        process.stop(self.proc)


class Outages(unittest.TestCase):
    """slapd stopped mid-run, failover between two URIs, StartTLS."""

    def setUp(self):
        self.folder = process.tempdir()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def slapd(self, **kwargs):
        s = Slapd(**kwargs)
        self.servers.append(s)
        return s

    def test_outage_tempfails_within_timeout_then_recovers(self):
        ldap = self.slapd()
        q = Query(write_conf(self.folder, [ldap.uri], ldap.service_dn, ldap.service_password,
                             ldap.suffix))
        b = Batch(q)
        try:
            r = b.ask("resolve alice@example.org")
            self.assertEqual(one(r, "exit"), "0", r)
            # A hung server (SIGSTOP): the search must give up after the timeout.
            process.freeze(ldap.proc)
            try:
                t0 = time.monotonic()
                r = b.ask("resolve bob@example.org")
                elapsed = time.monotonic() - t0
            finally:
                process.thaw(ldap.proc)
            self.assertEqual(one(r, "exit"), "75", r)
            self.assertLess(elapsed, TIMEOUT + 1, r)
            # A stopped server: tempfail at once.
            ldap.stop()
            t0 = time.monotonic()
            r = b.ask("resolve alice@example.org")
            self.assertEqual(one(r, "exit"), "75", r)
            self.assertLess(time.monotonic() - t0, TIMEOUT + 1)
            r = b.ask("auth alice - alice-password")
            self.assertEqual(one(r, "exit"), "75", r)
            ldap.start()
            r = b.ask_until("resolve alice@example.org", "0")
            self.assertEqual(one(r, "exit"), "0", r)
            self.assertEqual(one(r, "kind"), "local", r)
            r = b.ask("auth alice - alice-password")
            self.assertEqual(one(r, "result"), "ok", r)
        finally:
            b.close()

    def test_failover_and_failback(self):
        first = self.slapd()
        second = self.slapd()
        q = Query(write_conf(self.folder, [first.uri, second.uri], first.service_dn,
                             first.service_password, first.suffix,
                             ldap_extra=["failback_interval = 1;"]))
        b = Batch(q, os.path.join(self.folder, "failover.log"))
        try:
            first.stop()
            r = b.ask("resolve alice@example.org")
            self.assertEqual(one(r, "exit"), "0", r)
            # Both pool connections on the second server now; the first returns.
            b.ask("resolve bob@example.org")
            first.start()
            # Once failback_interval (1 s) has passed, the next lookup moves
            # its connection back to the first server: ask until one did.
            deadline = time.monotonic() + 15
            while "event=ldap_failback" not in b.log():
                self.assertLess(time.monotonic(), deadline, "no failback:\n" + b.log())
                r = b.ask("resolve alice@example.org")
                self.assertEqual(one(r, "exit"), "0", r)
                time.sleep(0.1)
            second.stop()
            # After the failback interval the pool moves back to the first
            # server, so losing the second costs nothing.
            for _ in range(3):
                r = b.ask("resolve alice@example.org")
                self.assertEqual(one(r, "exit"), "0", r)
            log = b.log()
            self.assertIn("event=ldap_failover", log)
            self.assertIn("event=ldap_failback", log)
            # Moved back before the second server went away: no connection lost then.
            self.assertNotIn("event=ldap_connection_lost", log.split("event=ldap_failback")[-1])
        finally:
            b.close()

    def test_starttls_with_test_ca(self):
        tls = certs.make_ca_and_cert(os.path.join(self.folder, "certs"))
        ldap = self.slapd(tls=tls)
        conf = write_conf(self.folder, [ldap.uri], ldap.service_dn, ldap.service_password,
                          ldap.suffix, starttls="require", ca_file=tls["ca"])
        r = Query(conf).resolve("alice@example.org")
        self.assertEqual((r["_rc"], one(r, "kind")), (0, "local"), r)
        conf = write_conf(self.folder, [ldap.ldaps_uri], ldap.service_dn,
                          ldap.service_password, ldap.suffix, ca_file=tls["ca"])
        r = Query(conf).resolve("alice@example.org")
        self.assertEqual((r["_rc"], one(r, "kind")), (0, "local"), r)
        # Another CA: the certificate does not verify, and nothing is sent in clear.
        other = certs.make_ca_and_cert(os.path.join(self.folder, "other"))
        conf = write_conf(self.folder, [ldap.uri], ldap.service_dn, ldap.service_password,
                          ldap.suffix, starttls="require", ca_file=other["ca"])
        r = Query(conf).resolve("alice@example.org")
        self.assertEqual(r["_rc"], 75, r)
        conf = write_conf(self.folder, [ldap.ldaps_uri], ldap.service_dn,
                          ldap.service_password, ldap.suffix, ca_file=other["ca"])
        r = Query(conf).resolve("alice@example.org")
        self.assertEqual(r["_rc"], 75, r)


if __name__ == "__main__":
    harness.tap.main()
