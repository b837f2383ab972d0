"""A real OpenLDAP slapd for the integration tests: its own folder, its own
loopback port, an mdb database filled with slapadd before it starts, stopped
by pid whatever happens (harness.process). Several can run at once (failover
tests), and one can be stopped and started again on the same port with the
same data (outage tests).

    from harness.slapd import Slapd
    ldap = Slapd()                 # the example directory, schema/examples
    ldap.uri, ldap.service_dn, ldap.service_password
    ldap.search("(mail=alice@example.org)", ["uid"])
    ldap.stop(); ldap.start()
    ldap.add(ldif_text); ldap.modify(ldif_text); ldap.delete(dn)
    ad = Slapd.active_directory()  # Active-Directory-like content (msuser.schema)
    tls = Slapd(tls=harness.certs.make_ca_and_cert(dir, ["localhost"]))  # + ldaps_uri

The schema name "msuser" loads a copy of Debian's msuser.schema with AD's
matching rules and its securityPrincipal class (see ad_schema_text).
DIRMAIL_SLAPD_DEBUG=256 logs every operation into <workdir>/slapd.log;
DIRMAIL_KEEP_TMP=1 keeps the workdir.
"""
import os
import re
import signal
import socket
import subprocess
import time
import base64

from . import process

SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"
DEFAULT_SUFFIX = "dc=example,dc=org"
DEFAULT_SCHEMAS = ("core", "cosine", "inetorgperson", "nis", "misc", "msuser", "dirmail")

ADMIN_PASSWORD = "admin-password"
SERVICE_PASSWORD = "dirmail-service-password"  # cn=dirmail,ou=services,<suffix>

# Cleartext passwords of the example users (schema/examples/users.ldif and
# the Active-Directory-like content below); also listed in schema/README.
PASSWORDS = {
    "alice": "alice-password",
    "bob": "bob-password",
    "carol": "carol-password",
    "dave": "dave-password",
    "erin": "erin-password",
}


def _top_srcdir():
    env = os.environ.get("top_srcdir")
    if env:
        return env
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def slapd_binary():
    """The slapd named by $SLAPD (tests/Makefile.am, from configure), else Debian's."""
    return os.environ.get("SLAPD") or "/usr/sbin/slapd"


def schema_path(name):
    """Where schema `name` lives: dirmail from the source tree, the others
    from Debian's /etc/ldap/schema; a path is returned unchanged."""
    if "/" in name:
        return name
    if name == "dirmail":
        return os.path.join(_top_srcdir(), "schema", "dirmail.schema")
    return os.path.join(SCHEMA_DIR, name + ".schema")


def example_ldif():
    """schema/examples: the example.org directory (base, then users)."""
    examples = os.path.join(_top_srcdir(), "schema", "examples")
    return [os.path.join(examples, "base.ldif"), os.path.join(examples, "users.ldif")]


# Debian's msuser.schema gives proxyAddresses, userPrincipalName and
# sAMAccountName no matching rule (so an equality filter on them never
# matches in slapd) and lacks AD's securityPrincipal class, the only one that
# allows sAMAccountName. Active Directory matches all three
# case-insensitively; the harness loads a copy with AD's matching rules and
# the missing class so that its directory answers the way AD does.
_AD_MATCHING = {
    "proxyAddresses": "EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch",
    "userPrincipalName": "EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch",
    "sAMAccountName": "EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch",
    "userAccountControl": "EQUALITY integerMatch",
}
_AD_SECURITY_PRINCIPAL = """
# Added by tests/integration/harness/slapd.py: AD's securityPrincipal class.
objectclass ( 1.2.840.113556.1.5.6 NAME 'securityPrincipal' SUP top AUXILIARY
 MAY ( sAMAccountName $ objectSid $ sAMAccountType ) )
"""


def ad_schema_text():
    """msuser.schema with AD's matching rules and securityPrincipal added."""
    with open(os.path.join(SCHEMA_DIR, "msuser.schema"), encoding="utf-8") as f:
        text = f.read()
    for name, rules in _AD_MATCHING.items():
        pattern = re.compile(r"(NAME '%s'\s+)(SYNTAX)" % re.escape(name))
        text, count = pattern.subn(r"\g<1>%s\n\t\g<2>" % rules, text)
        if count != 1:
            raise RuntimeError(f"msuser.schema: attribute {name} not found once")
    return text + _AD_SECURITY_PRINCIPAL


AD_SUFFIX = "dc=corp,dc=example,dc=org"

# Active-Directory-like users for the active-directory profile: mail in
# proxyAddresses (SMTP: primary, smtp: aliases), logins by userPrincipalName
# or sAMAccountName, disabled accounts by userAccountControl bit 2.
AD_LDIF = """
dn: {suffix}
objectClass: dcObject
objectClass: organization
dc: corp
o: Example Corp

dn: ou=Staff,{suffix}
objectClass: organizationalUnit
ou: Staff

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: cn=dirmail,ou=services,{suffix}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: dirmail
userPassword: {service_password}

dn: cn=Alice Liddell,ou=Staff,{suffix}
objectClass: user
objectClass: securityPrincipal
cn: Alice Liddell
sn: Liddell
givenName: Alice
displayName: Alice Liddell
instanceType: 4
nTSecurityDescriptor:: AQAEgA==
objectCategory: CN=Person,CN=Schema,CN=Configuration,{suffix}
sAMAccountName: alice
userPrincipalName: alice@corp.example.org
mail: alice@example.org
proxyAddresses: SMTP:alice@example.org
proxyAddresses: smtp:a.liddell@example.org
proxyAddresses: smtp:postmaster@example.org
proxyAddresses: X400:c=US;a= ;p=Example;o=Corp;s=Liddell;g=Alice;
userAccountControl: 512
userPassword: alice-password

dn: cn=Bob Builder,ou=Staff,{suffix}
objectClass: user
objectClass: securityPrincipal
cn: Bob Builder
sn: Builder
instanceType: 4
nTSecurityDescriptor:: AQAEgA==
objectCategory: CN=Person,CN=Schema,CN=Configuration,{suffix}
sAMAccountName: bob
userPrincipalName: bob@corp.example.org
mail: bob@example.org
proxyAddresses: SMTP:bob@example.org
proxyAddresses: smtp:robert@example.org
userAccountControl: 66048
userPassword: bob-password

dn: cn=Erin Former,ou=Staff,{suffix}
objectClass: user
objectClass: securityPrincipal
cn: Erin Former
sn: Former
instanceType: 4
nTSecurityDescriptor:: AQAEgA==
objectCategory: CN=Person,CN=Schema,CN=Configuration,{suffix}
sAMAccountName: erin
userPrincipalName: erin@corp.example.org
mail: erin@example.org
proxyAddresses: SMTP:erin@example.org
userAccountControl: 514
userPassword: erin-password

dn: cn=Staff,ou=Staff,{suffix}
objectClass: group
cn: Staff
instanceType: 4
nTSecurityDescriptor:: AQAEgA==
objectCategory: CN=Group,CN=Schema,CN=Configuration,{suffix}
groupType: 2
mail: staff@example.org
proxyAddresses: SMTP:staff@example.org
member: cn=Alice Liddell,ou=Staff,{suffix}
member: cn=Bob Builder,ou=Staff,{suffix}
"""


class _PortTaken(RuntimeError):
    """slapd could not bind its port: another process took it first."""


class LdapError(RuntimeError):
    """An ldap-utils command failed; rc is its exit status (the LDAP result code)."""

    def __init__(self, argv, rc, output):
        super().__init__(f"{argv[0]} exited with {rc}: {output.strip()}")
        self.rc = rc
        self.output = output


def _ldif_parse(text):
    """Parse ldapsearch -LLL output into [(dn, {attr: [values]})]; base64
    values are decoded (text when UTF-8, bytes otherwise)."""
    entries = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = []
        for line in block.split("\n"):
            if line.startswith(" ") and lines:
                lines[-1] += line[1:]
            elif line and not line.startswith("#"):
                lines.append(line)
        dn, attrs = None, {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            if value.startswith(":"):
                raw = base64.b64decode(value[1:].strip())
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    value = raw
            else:
                value = value[1:] if value.startswith(" ") else value
            if name == "dn":
                dn = value
            else:
                attrs.setdefault(name, []).append(value)
        if dn is not None:
            entries.append((dn, attrs))
    return entries


class Slapd:
    """One slapd. Constructing it writes slapd.conf, loads the ldif files
    with slapadd and (start=True) starts it. Attributes: uri, port,
    ldaps_uri/ldaps_port (tls only), suffix, rootdn, rootpw, service_dn,
    service_password, workdir."""

    def __init__(self, workdir=None, suffix=DEFAULT_SUFFIX, schemas=DEFAULT_SCHEMAS,
                 ldif=None, tls=None, start=True, port=None):
        """workdir: a folder of its own (default: a fresh harness tempdir).
        schemas: names in /etc/ldap/schema, "dirmail", or paths.
        ldif: files loaded with slapadd in order; None means the example
        directory (schema/examples) for the default suffix, else the suffix
        entry alone. tls: dict(cert=, key=, ca=) (harness.certs) for ldaps://
        and StartTLS."""
        self.workdir = workdir or process.tempdir("dirmail-slapd-")
        os.makedirs(self.workdir, exist_ok=True)
        self.suffix = suffix
        self.rootdn = "cn=admin," + suffix
        self.rootpw = ADMIN_PASSWORD
        self.service_dn = "cn=dirmail,ou=services," + suffix
        self.service_password = SERVICE_PASSWORD
        self.schemas = list(schemas)
        self.tls = tls
        self.port = port or process.free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_port = process.free_port() if tls else None
        self.ldaps_uri = f"ldaps://127.0.0.1:{self.ldaps_port}" if tls else None
        self.proc = None
        self._started_once = False
        self.datadir = os.path.join(self.workdir, "data")
        self.conf = os.path.join(self.workdir, "slapd.conf")
        self.log = os.path.join(self.workdir, "slapd.log")
        os.makedirs(self.datadir, exist_ok=True)
        self._write_conf()
        if ldif is None:
            if suffix == DEFAULT_SUFFIX:
                ldif = example_ldif()
            else:
                ldif = [self._write_file("suffix.ldif", self._suffix_entry())]
        for path in ldif:
            self.slapadd(path)
        if start:
            self.start()

    def settings(self, **extra):
        """The ldap { } section that points dirmaild at this server as the
        service account, with extra settings (timeouts, pool_size) added."""
        return {"uris": [self.uri], "bind_dn": self.service_dn,
                "bind_password": self.service_password, "base": self.suffix, **extra}

    @classmethod
    def active_directory(cls, suffix=AD_SUFFIX, **kwargs):
        """A slapd holding Active-Directory-like content (AD_LDIF) under
        suffix, with the same admin and service accounts."""
        start = kwargs.pop("start", True)
        self = cls(suffix=suffix, ldif=[], start=False, **kwargs)
        text = AD_LDIF.format(suffix=suffix, service_password=SERVICE_PASSWORD)
        self.slapadd(self._write_file("active-directory.ldif", text))
        if start:
            self.start()
        return self

    # -- configuration ---------------------------------------------------

    def _write_file(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _suffix_entry(self):
        rdn = self.suffix.split(",", 1)[0]
        attr, _, value = rdn.partition("=")
        if attr.lower() == "dc":
            return (f"dn: {self.suffix}\nobjectClass: dcObject\nobjectClass: organization\n"
                    f"dc: {value}\no: {value}\n")
        if attr.lower() == "o":
            return f"dn: {self.suffix}\nobjectClass: organization\no: {value}\n"
        return f"dn: {self.suffix}\nobjectClass: organizationalUnit\nou: {value}\n"

    def _schema_includes(self):
        lines = []
        for name in self.schemas:
            if name == "msuser":
                path = self._write_file("msuser-ad.schema", ad_schema_text())
            else:
                path = schema_path(name)
            lines.append(f'include "{path}"')
        return lines

    def _indexes(self):
        lines = ["index objectClass eq", "index uid,cn eq", "index mail eq,sub",
                 "index member,uniqueMember eq"]
        names = [os.path.basename(s) for s in self.schemas]
        if "dirmail" in names or "dirmail.schema" in names:
            lines += ["index dirmailAlias eq,sub", "index dirmailSender eq",
                      "index dirmailDomainName eq"]
        if "msuser" in names:
            lines += ["index proxyAddresses eq,sub", "index userPrincipalName,sAMAccountName eq"]
        return lines

    def _write_conf(self):
        service = self.service_dn
        conf = [
            "# written by tests/integration/harness/slapd.py",
            *self._schema_includes(),
            f'pidfile "{self.workdir}/slapd.pid"',
            f'argsfile "{self.workdir}/slapd.args"',
            f'modulepath "{MODULE_DIR}"',
            "moduleload back_mdb",
            "loglevel 0",
        ]
        if self.tls:
            conf += [
                f'TLSCACertificateFile "{self.tls["ca"]}"',
                f'TLSCertificateFile "{self.tls["cert"]}"',
                f'TLSCertificateKeyFile "{self.tls["key"]}"',
                "TLSProtocolMin 3.3",  # TLS 1.2
                "TLSVerifyClient never",
            ]
        conf += [
            # The root DSE and the schema are public: clients discover
            # StartTLS and SASL mechanisms there.
            'access to dn.base="" by * read',
            'access to dn.base="cn=Subschema" by * read',
            "database mdb",
            f'suffix "{self.suffix}"',
            f'rootdn "{self.rootdn}"',
            f'rootpw "{self.rootpw}"',
            f'directory "{self.datadir}"',
            "maxsize 16777216",
            "dbnosync",
            *self._indexes(),
            # dirmail's service account reads everything and may compare
            # passwords; users bind with their password and read the tree;
            # anonymous clients may only bind.
            "access to attrs=userPassword",
            f'  by dn.exact="{service}" compare',
            "  by anonymous auth",
            "  by self write",
            "  by * none",
            "access to *",
            f'  by dn.exact="{service}" read',
            "  by self read",
            "  by users read",
            "  by * none",
        ]
        self._write_file("slapd.conf", "\n".join(conf) + "\n")

    # -- running ---------------------------------------------------------

    def _tool(self, mode, *args):
        """Run slapd as slapadd (-Ta) or slaptest (-Tt) on our slapd.conf."""
        argv = [slapd_binary(), "-T" + mode, "-f", self.conf, *args]
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=60)
        if res.returncode != 0:
            raise LdapError(argv, res.returncode, res.stdout)
        return res.stdout

    def slapadd(self, path):
        """Load an LDIF file while slapd is stopped (quick mode, no checks
        beyond the schema)."""
        if self.running():
            raise RuntimeError("slapadd while slapd runs: use add()")
        return self._tool("a", "-q", "-l", path)

    def unread_requests(self):
        """Octets clients have sent to slapd's LDAP port that slapd has not
        read yet: above 0 while a frozen (SIGSTOP) slapd holds a request."""
        from .dirmaild import _tcp_sockets
        return sum(rx for (local, _, rx, _) in _tcp_sockets() if local[1] == self.port)

    def wait_request_held(self, timeout=10.0):
        """Until a request sits unread at a frozen slapd (a lookup that
        reached the directory and now waits on it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.unread_requests() > 0:
                return
            time.sleep(0.02)
        raise TimeoutError(f"no request reached slapd on port {self.port} in {timeout}s")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20.0):
        """Start slapd on self.port (and ldaps_port) and wait until it
        answers an LDAP bind. On the first start only, a port that another
        test took between free_port() and slapd's bind is replaced; later
        starts keep the port (clients are configured with it)."""
        if self.running():
            return
        for attempt in range(5):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                if self._started_once or attempt == 4:
                    raise
                self.port = process.free_port()
                self.uri = f"ldap://127.0.0.1:{self.port}"
                if self.tls:
                    self.ldaps_port = process.free_port()
                    self.ldaps_uri = f"ldaps://127.0.0.1:{self.ldaps_port}"

    def _start_once(self, timeout):
        urls = self.uri + "/"
        if self.ldaps_uri:
            urls += " " + self.ldaps_uri + "/"
        # -d keeps slapd in the foreground (so its pid is ours to stop);
        # level 32768 ("none") prints only its errors, into slapd.log.
        debug = os.environ.get("DIRMAIL_SLAPD_DEBUG", "32768")
        argv = [slapd_binary(), "-d", debug, "-h", urls, "-f", self.conf]
        with open(self.log, "ab") as log:
            self.proc = process.spawn(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = self.log_text()
                self.proc = None
                if "Address already in use" in log[log.rfind("@(#)"):]:
                    raise _PortTaken(log)
                raise RuntimeError(f"slapd exited: {log}")
            if self._answers():
                self._started_once = True
                return
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"slapd on port {self.port} not answering: {self.log_text()}")
            time.sleep(0.02)

    def _answers(self):
        """True when slapd answers an anonymous LDAPv3 bind on self.port."""
        # BindRequest, messageID 1, version 3, name "", simple "" (RFC 4511 4.2)
        request = bytes.fromhex("300c020101600702010304008000")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(request)
                reply = s.recv(64)
                return len(reply) > 0 and reply[0] == 0x30
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        """Stop slapd (SIGTERM: clean shutdown; SIGKILL: a crash). The data
        stays; start() brings it back on the same port."""
        if self.proc is not None:
            process.stop(self.proc, sig)
            self.proc = None

    def close(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # -- LDAP operations through ldap-utils ------------------------------

    def env(self):
        env = dict(os.environ)
        if self.tls:
            env["LDAPTLS_CACERT"] = self.tls["ca"]
            env["LDAPTLS_REQCERT"] = "demand"
        return env

    def _run(self, argv, input_text=None, ok=(0,)):
        res = subprocess.run(argv, input=input_text, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env(), timeout=30)
        if res.returncode not in ok:
            raise LdapError(argv, res.returncode, res.stderr + res.stdout)
        return res

    def _bind_args(self, binddn, password, uri):
        args = ["-x", "-H", uri or self.uri]
        if binddn is None:
            binddn, password = self.rootdn, self.rootpw
        if binddn:
            args += ["-D", binddn, "-w", password]
        return args

    def add(self, ldif_text, binddn=None, password=None):
        """ldapadd ldif_text into the running slapd (as the rootdn by default)."""
        return self._run(["ldapadd", *self._bind_args(binddn, password, None)], ldif_text)

    def modify(self, ldif_text, binddn=None, password=None):
        """ldapmodify with ldif_text (changetype records or modify by default)."""
        return self._run(["ldapmodify", *self._bind_args(binddn, password, None)], ldif_text)

    def delete(self, dn):
        return self._run(["ldapdelete", *self._bind_args(None, None, None), dn])

    def search(self, filterstr, attrs=(), base=None, scope="sub", binddn=None,
               password=None, uri=None):
        """ldapsearch; returns [(dn, {attr: [values]})]. binddn None binds
        as the rootdn, "" anonymously."""
        argv = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no",
                *self._bind_args(binddn, password, uri),
                "-b", base or self.suffix, "-s", scope, filterstr, *attrs]
        res = self._run(argv, ok=(0, 32))
        return _ldif_parse(res.stdout)

    def bind_ok(self, binddn, password):
        """True when a simple bind as binddn with password succeeds."""
        res = subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", binddn, "-w", password],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(),
                             timeout=30)
        return res.returncode == 0
