#!/usr/bin/env python3
"""The dirmail LDAP schema loads into Debian's slapd in both formats, the two
formats define the same things under dirmail's OID arc, and the example
directory loads and answers the lookups dirmail makes."""
import os
import re
import signal
import socket
import subprocess
import unittest

import harness.process
import harness.tap
from harness.slapd import DEFAULT_SCHEMAS, PASSWORDS, SCHEMA_DIR, LdapError, Slapd, slapd_binary

TOP = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA = os.path.join(TOP, "schema", "dirmail.schema")
LDIF = os.path.join(TOP, "schema", "dirmail.ldif")
ARC = "2.25.27482379325117421306234582013946102041"
PEOPLE = "ou=people,dc=example,dc=org"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def schema_definitions():
    """{kind: {name: (oid, normalised definition)}} from dirmail.schema."""
    defs = {"attributetype": {}, "objectclass": {}}
    body, kind = None, None
    for line in read(SCHEMA).splitlines() + ["#end"]:
        if line.startswith("#") or not line.strip() or re.match(r"(attributetype|objectclass)\s", line):
            if body is not None:
                add_definition(defs[kind], body)
                body = None
            m = re.match(r"(attributetype|objectclass)\s+(.*)", line)
            if m:
                kind, body = m.group(1), m.group(2)
        elif body is not None:
            body += " " + line.strip()
    return defs


def ldif_definitions():
    """The same from dirmail.ldif (LDIF continuation lines unfolded)."""
    defs = {"attributetype": {}, "objectclass": {}}
    lines = []
    for line in read(LDIF).splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    for line in lines:
        name, _, value = line.partition(":")
        if name.lower() == "olcattributetypes":
            add_definition(defs["attributetype"], value)
        elif name.lower() == "olcobjectclasses":
            add_definition(defs["objectclass"], value)
    return defs


def add_definition(table, body):
    body = re.sub(r"\s+", " ", body).strip()
    oid = re.match(r"\(\s*([0-9.]+)", body).group(1)
    name = re.search(r"NAME '([^']+)'", body).group(1)
    table[name] = (oid, body)


class SchemaFiles(unittest.TestCase):
    def test_ldif_and_schema_define_the_same_names_oids_and_rules(self):
        a, b = schema_definitions(), ldif_definitions()
        self.assertGreaterEqual(len(a["attributetype"]), 13)
        self.assertGreaterEqual(len(a["objectclass"]), 3)
        self.assertEqual(a, b)

    def test_every_name_is_prefixed_and_every_oid_under_the_arc(self):
        defs = schema_definitions()
        seen = set()
        for kind, branch in (("attributetype", ".1."), ("objectclass", ".2.")):
            for name, (oid, _) in defs[kind].items():
                self.assertTrue(name.startswith("dirmail"), name)
                self.assertTrue(oid.startswith(ARC + branch), f"{name} {oid}")
                self.assertRegex(oid[len(ARC + branch):], r"^[1-9][0-9]*$")
                self.assertNotIn(oid, seen)
                seen.add(oid)

    def test_the_required_types_exist(self):
        defs = schema_definitions()
        for name in ("dirmailAlias", "dirmailForward", "dirmailKeepCopy", "dirmailMailHost",
                     "dirmailMailbox", "dirmailQuota", "dirmailStatus", "dirmailService",
                     "dirmailSieve", "dirmailSender", "dirmailDomainName", "dirmailDomainType",
                     "dirmailNextHop"):
            self.assertIn(name, defs["attributetype"])
        self.assertIn("AUXILIARY", defs["objectclass"]["dirmailUser"][1])
        self.assertIn("caseIgnoreIA5Match", defs["attributetype"]["dirmailAlias"][1])
        self.assertIn("integerMatch", defs["attributetype"]["dirmailQuota"][1])


class SchemaLoads(unittest.TestCase):
    def test_schema_include_loads_beside_debian_schemas(self):
        # core cosine inetorgperson nis misc msuser dirmail: no clash.
        ldap = Slapd(ldif=[], start=False)
        out = ldap._tool("t", "-u")
        self.assertIn("succeeded", out)
        self.assertEqual(list(DEFAULT_SCHEMAS)[-1], "dirmail")

    def test_cn_config_ldif_loads_and_serves(self):
        # Build a cn=config folder the way Debian's slapd keeps one, from
        # Debian's LDIF schemas plus dirmail.ldif, then run slapd on it and
        # read the schema back from cn=subschema.
        work = harness.process.tempdir("dirmail-cnconfig-")
        confdir = os.path.join(work, "slapd.d")
        datadir = os.path.join(work, "data")
        os.makedirs(confdir)
        os.makedirs(datadir)
        includes = "".join(f"include: file://{SCHEMA_DIR}/{n}.ldif\n"
                           for n in ("core", "cosine", "inetorgperson", "nis", "misc", "msuser"))
        config = (
            "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n\n"
            "dn: cn=module{0},cn=config\nobjectClass: olcModuleList\ncn: module{0}\n"
            "olcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb\n\n"
            "dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n"
            + includes + f"include: file://{LDIF}\n\n"
            "dn: olcDatabase={-1}frontend,cn=config\nobjectClass: olcDatabaseConfig\n"
            "objectClass: olcFrontendConfig\nolcDatabase: {-1}frontend\n\n"
            "dn: olcDatabase={0}config,cn=config\nobjectClass: olcDatabaseConfig\nolcDatabase: {0}config\n\n"
            "dn: olcDatabase={1}mdb,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcMdbConfig\n"
            f"olcDatabase: {{1}}mdb\nolcSuffix: dc=example,dc=org\nolcDbDirectory: {datadir}\n"
            "olcRootDN: cn=admin,dc=example,dc=org\nolcRootPW: secret\nolcDbMaxSize: 16777216\n"
            "olcDbIndex: mail,dirmailAlias eq,sub\nolcDbIndex: dirmailDomainName eq\n"
        )
        cfg = os.path.join(work, "config.ldif")
        with open(cfg, "w") as f:
            f.write(config)
        res = subprocess.run([slapd_binary(), "-Ta", "-n0", "-F", confdir, "-l", cfg],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertTrue(any("dirmail" in n for n in os.listdir(os.path.join(confdir, "cn=config", "cn=schema"))))
        for path in ("base.ldif", "users.ldif"):
            res = subprocess.run([slapd_binary(), "-Ta", "-q", "-F", confdir, "-b", "dc=example,dc=org",
                                  "-l", os.path.join(TOP, "schema", "examples", path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(res.returncode, 0, res.stdout)
        port = harness.process.free_port()
        proc = harness.process.spawn([slapd_binary(), "-d", "0", "-h", f"ldap://127.0.0.1:{port}/",
                                      "-F", confdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.process.wait_for_port("127.0.0.1", port, proc=proc)
            out = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
                                  f"ldap://127.0.0.1:{port}", "-D", "cn=admin,dc=example,dc=org",
                                  "-w", "secret", "-b", "dc=example,dc=org",
                                  "(dirmailAlias=@example.net)", "uid"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(out.returncode, 0, out.stdout)
            self.assertIn("uid: carol", out.stdout)
            out = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
                                  f"ldap://127.0.0.1:{port}", "-b", "cn=subschema", "-s", "base",
                                  "(objectClass=*)", "attributeTypes"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name in schema_definitions()["attributetype"]:
                self.assertIn(f"NAME '{name}'", out.stdout)
        finally:
            harness.process.stop(proc)


class ExampleDirectory(unittest.TestCase):
    """One slapd loaded with slapadd (the harness default) for the searches;
    the ldapadd test uses a second, empty one."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def find(self, filterstr, attrs=("uid",)):
        # As dirmail does: bound as its service account, not as the rootdn.
        return self.ldap.search(filterstr, list(attrs), binddn=self.ldap.service_dn,
                                password=self.ldap.service_password)

    def dns(self, filterstr):
        return sorted(dn for dn, _ in self.find(filterstr))

    def test_find_each_user_by_mail(self):
        for user, domain in (("alice", "example.org"), ("bob", "example.org"), ("carol", "example.net"),
                             ("dave", "example.org"), ("erin", "example.org")):
            self.assertEqual(self.dns(f"(mail={user}@{domain})"), [f"uid={user},{PEOPLE}"])

    def test_mail_matches_case_insensitively(self):
        self.assertEqual(self.dns("(mail=ALICE@Example.ORG)"), [f"uid=alice,{PEOPLE}"])

    def test_find_by_alias(self):
        self.assertEqual(self.dns("(dirmailAlias=postmaster@example.org)"), [f"uid=alice,{PEOPLE}"])
        self.assertEqual(self.dns("(|(mail=robert@example.org)(dirmailAlias=Robert@example.org))"),
                         [f"uid=bob,{PEOPLE}"])

    def test_find_by_uid(self):
        entries = self.find("(uid=bob)", ["mail", "dirmailService", "dirmailSender", "dirmailSieve"])
        self.assertEqual(len(entries), 1)
        attrs = entries[0][1]
        self.assertEqual(attrs["mail"], ["bob@example.org"])
        self.assertNotIn("pop3", attrs["dirmailService"])
        self.assertEqual(attrs["dirmailSender"], ["sales@example.org"])
        self.assertIn('fileinto "Lists"', attrs["dirmailSieve"][0])

    def test_find_catch_all(self):
        self.assertEqual(self.dns("(dirmailAlias=@example.net)"), [f"uid=carol,{PEOPLE}"])
        self.assertEqual(self.dns("(dirmailAlias=@example.org)"), [])

    def test_substring_search_on_mail(self):
        self.assertEqual(self.dns("(mail=*@example.net)"), [f"uid=carol,{PEOPLE}"])
        self.assertEqual(len(self.dns("(&(objectClass=inetOrgPerson)(mail=*@example.org))")), 4)
        self.assertEqual(self.dns("(dirmailAlias=a.lid*)"), [f"uid=alice,{PEOPLE}"])

    def test_forward_only_and_disabled_users(self):
        dave = self.find("(uid=dave)", ["dirmailForward", "dirmailKeepCopy", "dirmailMailbox"])[0][1]
        self.assertEqual(dave, {"dirmailForward": ["dave@example.com"], "dirmailKeepCopy": ["FALSE"]})
        self.assertEqual(self.dns("(dirmailStatus=disabled)"), [f"uid=erin,{PEOPLE}"])

    def test_distribution_group_and_domains(self):
        group = self.find("(&(objectClass=groupOfNames)(|(mail=all@example.org)(dirmailAlias=all@example.org)))",
                          ["member"])
        self.assertEqual(len(group), 1)
        self.assertEqual(len(group[0][1]["member"]), 3)
        domains = self.find("(objectClass=dirmailDomain)", ["dirmailDomainName"])
        self.assertEqual(sorted(a["dirmailDomainName"][0] for _, a in domains), ["example.net", "example.org"])

    def test_users_bind_with_their_example_passwords(self):
        for user, password in PASSWORDS.items():
            self.assertTrue(self.ldap.bind_ok(f"uid={user},{PEOPLE}", password), user)
        self.assertFalse(self.ldap.bind_ok(f"uid=alice,{PEOPLE}", "wrong"))

    def test_anonymous_clients_read_nothing(self):
        self.assertEqual(self.ldap.search("(mail=alice@example.org)", ["uid"], binddn=""), [])

    def test_examples_pass_slapadd_schema_checks(self):
        # The harness loads with slapadd -q (quick mode, fewer checks); here
        # without it. slapadd checks classes and attributes but not value
        # syntax: test_ldapadd_into_running_slapd checks the values.
        other = Slapd(ldif=[], start=False)
        for path in ("base.ldif", "users.ldif"):
            other._tool("a", "-l", os.path.join(TOP, "schema", "examples", path))
        self.assertIn("uid=carol,", other._tool("c", "-a", "(dirmailAlias=@example.net)"))

    def test_ldapadd_into_running_slapd(self):
        other = Slapd(ldif=[])  # the suffix entry only
        try:
            for path in ("base.ldif", "users.ldif"):
                other.add(read(os.path.join(TOP, "schema", "examples", path)))
            self.assertEqual(sorted(dn for dn, _ in other.search("(dirmailAlias=@example.net)")),
                             [f"uid=carol,{PEOPLE}"])
        finally:
            other.stop()

    def test_invalid_quota_is_rejected(self):
        entry = (f"dn: uid=mallory,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: dirmailUser\n"
                 "uid: mallory\ncn: Mallory\nsn: M\nmail: mallory@example.org\ndirmailQuota: lots\n")
        with self.assertRaises(LdapError) as ctx:
            self.ldap.add(entry)
        self.assertEqual(ctx.exception.rc, 21)  # invalidAttributeSyntax
        self.assertEqual(self.dns("(uid=mallory)"), [])

    def test_single_valued_status_and_unknown_attribute_are_rejected(self):
        with self.assertRaises(LdapError):
            self.ldap.modify(f"dn: uid=alice,{PEOPLE}\nchangetype: modify\nadd: dirmailStatus\n"
                             "dirmailStatus: disabled\n")
        with self.assertRaises(LdapError):
            self.ldap.modify(f"dn: uid=alice,{PEOPLE}\nchangetype: modify\nadd: dirmailNextHop\n"
                             "dirmailNextHop: mx.example.com\n")

    def test_slapd_comes_back_on_the_same_port_with_the_same_data(self):
        uri = self.ldap.uri
        self.ldap.stop()
        with self.assertRaises(LdapError):
            self.ldap.search("(uid=alice)")
        self.ldap.start()
        self.assertEqual(self.ldap.uri, uri)
        self.assertEqual(self.dns("(uid=alice)"), [f"uid=alice,{PEOPLE}"])


class SeveralInstances(unittest.TestCase):
    def test_two_slapds_for_failover_stop_independently(self):
        first, second = Slapd(), Slapd()
        try:
            self.assertNotEqual(first.port, second.port)
            first.stop(signal.SIGKILL)  # a crash, not a clean shutdown
            self.assertEqual(len(second.search("(uid=bob)")), 1)
            first.start()
            self.assertEqual(len(first.search("(uid=bob)")), 1)
        finally:
            first.stop()
            second.stop()

    def test_a_port_taken_before_the_first_start_is_replaced(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            ldap = Slapd(port=port)
            try:
                self.assertNotEqual(ldap.port, port)
                self.assertEqual(len(ldap.search("(uid=alice)")), 1)
            finally:
                ldap.stop()


class Tls(unittest.TestCase):
    """The harness's tls= option: ldaps:// and StartTLS with a test CA."""

    @classmethod
    def setUpClass(cls):
        from harness.certs import make_ca_and_cert
        cls.pki = make_ca_and_cert(harness.process.tempdir("dirmail-pki-"), ["localhost", "127.0.0.1"])
        cls.ldap = Slapd(tls=cls.pki)

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def test_ldaps(self):
        found = self.ldap.search("(uid=alice)", ["mail"], uri=self.ldap.ldaps_uri)
        self.assertEqual(found[0][1]["mail"], ["alice@example.org"])

    def test_starttls_and_certificate_verification(self):
        base = ["ldapwhoami", "-x", "-ZZ", "-H", self.ldap.uri, "-D", self.ldap.service_dn,
                "-w", self.ldap.service_password]
        ok = subprocess.run(base, env=self.ldap.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(ok.returncode, 0, ok.stdout)
        # Another CA: the client must refuse the server's certificate.
        from harness.certs import make_ca_and_cert
        other = make_ca_and_cert(harness.process.tempdir("dirmail-pki-"), ["localhost"])
        env = dict(self.ldap.env(), LDAPTLS_CACERT=other["ca"])
        bad = subprocess.run(base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertNotEqual(bad.returncode, 0, bad.stdout)


class ActiveDirectoryLike(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ad = Slapd.active_directory()

    @classmethod
    def tearDownClass(cls):
        cls.ad.stop()

    def test_proxy_addresses_match_case_insensitively(self):
        entries = self.ad.search("(proxyAddresses=smtp:Postmaster@example.org)", ["sAMAccountName"])
        self.assertEqual([a["sAMAccountName"] for _, a in entries], [["alice"]])

    def test_login_names_and_disabled_bit(self):
        self.assertEqual(len(self.ad.search("(userPrincipalName=BOB@corp.example.org)")), 1)
        disabled = self.ad.search("(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))",
                                  ["sAMAccountName"])
        self.assertEqual([a["sAMAccountName"] for _, a in disabled], [["erin"]])
        self.assertTrue(self.ad.bind_ok(f"cn=Bob Builder,ou=Staff,{self.ad.suffix}", "bob-password"))

    def test_group_with_mail(self):
        groups = self.ad.search("(&(objectClass=group)(mail=staff@example.org))", ["member"])
        self.assertEqual(len(groups[0][1]["member"]), 2)


if __name__ == "__main__":
    harness.tap.main()
