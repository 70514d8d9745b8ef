"""STS under its real names inside a test network namespace (issue 18).

SDKs that do not honour AWS_ENDPOINT_URL_STS (aws-sdk JS v2, Go v1, Ruby 3.168, old botocore)
call https://sts.amazonaws.com or https://sts.<region>.amazonaws.com for AssumeRole and
AssumeRoleWithWebIdentity. helpers.NetnsHost maps those names to 127.0.0.1 in the namespace's
/etc/hosts (/etc/netns/NAME/hosts, which `ip netns exec` mounts over /etc/hosts) and makes,
with :func:`make_certs`, a CA of its own and a certificate for the names signed by it;
tests/nshost.py serves that certificate on the namespace's 127.0.0.1:443 with
:class:`StsTlsForwarder`, which ends TLS and hands each request to moto on 127.0.0.1:5000.
The SDK clients trust the CA through their own variables (tests/sdk_matrix/matrix.py
client_env); nothing else in the namespace does.

The forwarder counts what arrives, per Host header and STS action ("sts.amazonaws.com
AssumeRole"), and failed handshakes ("tls-error ..."), so a test can tell that an SDK really
reached STS over TLS and under which name.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

# The names STS goes by for us-east-1 in the SDKs' endpoint tables: global (legacy), regional,
# FIPS, dual-stack.
STS_NAMES = (
    "sts.amazonaws.com",
    "sts.us-east-1.amazonaws.com",
    "sts-fips.us-east-1.amazonaws.com",
    "sts.us-east-1.api.aws",
    "sts-fips.us-east-1.api.aws",
    "sts.dualstack.us-east-1.amazonaws.com",
)
TLS_PORT = 443
UPSTREAM = ("127.0.0.1", 5000)
HOP = {"connection", "proxy-connection", "keep-alive", "te", "trailers", "transfer-encoding", "upgrade"}


def hosts_file(names: tuple[str, ...] = STS_NAMES) -> str:
    """The namespace's /etc/hosts: localhost, and the STS names on the namespace's loopback."""
    return "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + "".join(f"127.0.0.1 {n}\n" for n in names)


def make_certs(folder: str, names: tuple[str, ...] = STS_NAMES) -> dict[str, str]:
    """A CA of its own and a server certificate for `names` (and 127.0.0.1) signed by it, as
    PEM files in `folder`: {"ca": ca.pem, "cert": server.pem (leaf then CA), "key": server.key}."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ecs-credential-probe test CA {os.urandom(4).hex()}")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([*(x509.DNSName(n) for n in names), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {k: os.path.join(folder, f) for k, f in (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}
    with open(paths["ca"], "wb") as fh:
        fh.write(ca.public_bytes(pem))
    with open(paths["cert"], "wb") as fh:
        fh.write(leaf.public_bytes(pem) + ca.public_bytes(pem))
    fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(paths["ca"], 0o644)
    return paths


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sts-tls-forwarder"
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(30)
        try:
            self.connection.do_handshake()  # type: ignore[attr-defined]
        except (ssl.SSLError, OSError) as exc:
            self.server.forwarder.count("tls-error " + (getattr(exc, "reason", None) or type(exc).__name__))
            self.close_connection = True
            self.handshake_failed = True
        else:
            self.handshake_failed = False

    def handle(self) -> None:
        if not self.handshake_failed:
            super().handle()

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        body = self._body()
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        action = _action(self.path, self.headers.get("X-Amz-Target"), body)
        self.server.forwarder.count(f"{host} {action}")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        headers["Content-Length"] = str(len(body))
        try:
            conn = http.client.HTTPConnection(*UPSTREAM, timeout=20)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as exc:
            data = f"forwarder: moto unreachable: {exc}\n".encode()
            self.send_response(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _forward


def _action(path: str, target: Optional[str], body: bytes) -> str:
    if target:
        return target.rsplit(".", 1)[-1]
    for text in (urlsplit(path).query, body.decode("utf-8", "replace")):
        found = parse_qs(text).get("Action")
        if found:
            return found[0]
    m = re.search(r"Action=(\w+)", body.decode("utf-8", "replace"))
    return m.group(1) if m else "?"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    forwarder: "StsTlsForwarder"

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        return self.forwarder.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.forwarder.count("error")  # quietly: nshost's stderr is read only when it ends


class StsTlsForwarder:
    """HTTPS on `listen` with the given certificate; each request goes to moto (UPSTREAM)."""

    def __init__(self, cert: str, key: str, listen: tuple[str, int] = ("127.0.0.1", TLS_PORT)) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.server = _Server(listen, _Handler)
        self.server.forwarder = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "StsTlsForwarder":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def stats(self, reset: bool = False) -> dict[str, int]:
        with self.lock:
            out = dict(self.counts)
            if reset:
                self.counts.clear()
        return out

    def stats_json(self, reset: bool = False) -> str:
        return json.dumps({"tls": self.stats(reset)})
