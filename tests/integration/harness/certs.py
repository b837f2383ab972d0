"""A throw-away test PKI made with the openssl command: a CA and a server
certificate it signs, whose subjectAltName lists the given host names and IP
addresses (IP:127.0.0.1 and IP:::1 always), so that clients that verify
(Python's ssl, openssl s_client -verify_hostname, libldap) accept it."""
import ipaddress
import os
import subprocess


def _openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def make_ca_and_cert(directory, hostnames=("localhost", "127.0.0.1")):
    """Create ca.pem, ca.key, server.pem (leaf then CA: a full chain) and
    server.key in directory. Returns {"ca": path, "cert": path, "key": path}.
    The first host name that is not an IP address is the subject CN."""
    os.makedirs(directory, exist_ok=True)
    names = list(hostnames)
    for ip in ("127.0.0.1", "::1"):
        if ip not in names:
            names.append(ip)
    san = ",".join((f"IP:{n}" if _is_ip(n) else f"DNS:{n}") for n in names)
    cn = next((n for n in names if not _is_ip(n)), "localhost")

    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=dirmail test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={cn}", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                f"subjectAltName={san}\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "server.ext",
             cwd=directory)
    with open(os.path.join(directory, "server.pem"), "w") as out:
        for part in ("leaf.pem", "ca.pem"):
            with open(os.path.join(directory, part)) as f:
                out.write(f.read())
    # Readable by any user: tests may run as root and start slapd as another user.
    for name in ("server.key", "server.pem", "ca.pem"):
        os.chmod(os.path.join(directory, name), 0o644)
    return {
        "ca": os.path.join(directory, "ca.pem"),
        "cert": os.path.join(directory, "server.pem"),
        "key": os.path.join(directory, "server.key"),
    }
