"""probe/facts/sts.py: the probe's own STS calls (issue 24 replaced botocore's client with them).

The signature is checked against botocore's own signer (botocore.auth.SigV4Auth) on the same
request at the same instant; the calls go to real servers on loopback: an STS stand-in that
answers what STS answers, one that never answers, a real TLS server trusted only through a CA
of the test's own, and a real forwarding proxy (plain and CONNECT) that records what it saw.
"""

from __future__ import annotations

import base64
import calendar
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from probe.facts import sts

FORM = "application/x-www-form-urlencoded; charset=utf-8"
KEYS = ("ASIAEXAMPLEEXAMPLE12", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+abc/def=="
ARN = "arn:aws:sts::123456789012:assumed-role/app-task-role/0f1e2d3c"


@pytest.mark.parametrize(
    "url, token, region",
    [
        ("https://sts.us-east-1.amazonaws.com/", TOKEN, "us-east-1"),
        ("https://sts.eu-west-1.amazonaws.com", None, "eu-west-1"),
        ("https://sts.eu-west-1.amazonaws.com:443/", TOKEN, "eu-west-1"),
        ("http://127.0.0.1:5000/", TOKEN, "us-east-1"),
        ("http://[::1]:8080/", None, "ap-southeast-2"),
        ("https://vpce-0a1b2c3d-abcdefgh.sts.us-east-1.vpce.amazonaws.com/", TOKEN, "us-east-1"),
        ("http://sts.internal:80/sts/a~b c/", TOKEN, "us-gov-west-1"),
    ],
)
def test_the_signature_is_botocores(url: str, token: Optional[str], region: str) -> None:
    """Same request, same instant: the Authorization header botocore's SigV4Auth computes
    (Host from the URL, the session token signed, the body hashed)."""
    body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx&RoleSessionName=a%20b"
    theirs = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(KEYS[0], KEYS[1], token), "sts", region).add_auth(theirs)
    stamp = theirs.headers["X-Amz-Date"]
    now = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    ours = sts.sign(url, {"Host": sts.host_header(url), "Content-Type": FORM}, body, (KEYS[0], KEYS[1], token), region, now)
    assert ours["X-Amz-Date"] == stamp
    assert ours.get("X-Amz-Security-Token") == theirs.headers.get("X-Amz-Security-Token")
    assert ours["Authorization"] == theirs.headers["Authorization"]


# ---- servers on loopback ---------------------------------------------------------------------


class _Sts(BaseHTTPRequestHandler):
    """Answers as STS does, or as told: ``server.mode``."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        srv: Any = self.server
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        srv.seen.append({"path": self.path, "headers": dict(self.headers), "form": form})
        action = form.get("Action", [""])[0]
        if srv.mode == "denied":
            return self._send(403, '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                                   "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"
                                   "</Error><RequestId>1</RequestId></ErrorResponse>")
        if srv.mode == "gateway":
            return self._send(502, "<html><body>Bad Gateway</body></html>", "text/html")
        if srv.mode == "laughs":
            lol = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + "".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>"
            return self._send(200, lol + "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>&j;</Arn>"
                                         "</GetCallerIdentityResult></GetCallerIdentityResponse>")
        if action == "GetCallerIdentity":
            return self._send(200, '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
                                   f"<Arn>{ARN}</Arn><UserId>AROAEXAMPLE:0f1e2d3c</UserId><Account>123456789012</Account>"
                                   "</GetCallerIdentityResult></GetCallerIdentityResponse>")
        if action in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            return self._send(200, f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                                   "<Credentials><AccessKeyId>ASIAASSUMEDEXAMPLE01</AccessKeyId><SecretAccessKey>assumed/secret</SecretAccessKey>"
                                   "<SessionToken>assumed-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
                                   "<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>"
                                   f"<Arn>arn:aws:sts::123456789012:assumed-role/deploy/s</Arn></AssumedRoleUser></{action}Result></{action}Response>")
        self._send(400, "<ErrorResponse><Error><Code>InvalidAction</Code><Message>no</Message></Error></ErrorResponse>")

    def _send(self, status: int, text: str, kind: str = "text/xml") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str = "ok", tls: Optional[ssl.SSLContext] = None) -> None:
        super().__init__(("127.0.0.1", 0), _Sts)
        self.mode = mode
        self.seen: list[dict[str, Any]] = []
        self.tls = tls

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that refused our certificate: expected in one test


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: _Server, scheme: str = "http", host: str = "127.0.0.1") -> str:
    return f"{scheme}://{host}:{srv.server_address[1]}/"


def test_get_caller_identity_signed_and_answered(server: _Server) -> None:
    answer = sts.call(_url(server), "us-east-1", (KEYS[0], KEYS[1], TOKEN), "get_caller_identity", {}, timeout=2)
    assert answer == {"UserId": "AROAEXAMPLE:0f1e2d3c", "Account": "123456789012", "Arn": ARN}
    sent = server.seen[0]
    assert sent["form"] == {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"]}
    assert sent["headers"]["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEYS[0]}/")
    assert "/us-east-1/sts/aws4_request" in sent["headers"]["Authorization"]
    assert sent["headers"]["X-Amz-Security-Token"] == TOKEN
    assert sent["headers"]["Host"] == f"127.0.0.1:{server.server_address[1]}"


def test_assume_role_calls_carry_their_parameters(server: _Server) -> None:
    params = {"RoleArn": "arn:aws:iam::123456789012:role/deploy", "RoleSessionName": "s", "DurationSeconds": 900}
    answer = sts.call(_url(server), "us-east-1", (KEYS[0], KEYS[1], None), "assume_role", params, timeout=2)
    assert answer["Credentials"]["AccessKeyId"] == "ASIAASSUMEDEXAMPLE01"
    assert answer["Credentials"]["SessionToken"] == "assumed-token"
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/deploy/s")
    assert server.seen[0]["form"]["DurationSeconds"] == ["900"]
    assert "X-Amz-Security-Token" not in server.seen[0]["headers"]
    web = sts.call(_url(server), "us-east-1", None, "assume_role_with_web_identity",
                   {"RoleArn": "arn:aws:iam::123456789012:role/deploy", "RoleSessionName": "s", "WebIdentityToken": "jwt"}, timeout=2)
    assert web["Credentials"]["SecretAccessKey"] == "assumed/secret"
    assert "Authorization" not in server.seen[1]["headers"]  # unsigned, as botocore sends it


@pytest.mark.parametrize(
    "mode, code, text",
    [
        ("denied", "InvalidClientTokenId", "ClientError: An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token"),
        ("gateway", "502", "ClientError: An error occurred (502) when calling the GetCallerIdentity operation: Bad Gateway"),
        ("laughs", None, "ResponseParserError"),
    ],
)
def test_errors_read_as_botocores(server: _Server, mode: str, code: Optional[str], text: str) -> None:
    server.mode = mode
    with pytest.raises(sts.StsError) as err:
        sts.call(_url(server), "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {}, timeout=2)
    assert err.value.code == code
    assert err.value.message.startswith(text), err.value.message


def test_nothing_listening_and_nothing_answering() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(sts.StsError) as err:
        sts.call(f"http://127.0.0.1:{port}/", "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {}, timeout=2)
    assert err.value.message.startswith(f'EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:{port}/"')
    with socket.socket() as hole:  # accepts (the kernel's backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        started = time.monotonic()
        with pytest.raises(sts.StsError) as err:
            sts.call(f"http://127.0.0.1:{hole.getsockname()[1]}/", "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {},
                     timeout=5, deadline=time.monotonic() + 0.5)
        assert time.monotonic() - started < 3  # bounded by the deadline, not the 5 s timeout
    assert err.value.message.startswith("ConnectTimeoutError")
    assert err.value.code is None


class _Proxy(threading.Thread):
    """A forwarding proxy: absolute-URI requests and CONNECT tunnels, recording each head."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.heads: list[str] = []
        self.url = f"http://user:p%40ss@127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        text = head.decode()
        self.heads.append(text)
        method, target = text.split(" ")[:2]
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            hostport = target.split("/")[2]
            host, port = hostport.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            path = "/" + target.split("/", 3)[3]
            upstream.sendall(head.replace(target.encode(), path.encode(), 1) + b"\r\n\r\n" + rest)
        pair = {client: upstream, upstream: client}
        while True:
            ready, _, _ = select.select(list(pair), [], [], 5)
            if not ready:
                break
            for s in ready:
                chunk = s.recv(65536)
                if not chunk:
                    client.close()
                    upstream.close()
                    return
                pair[s].sendall(chunk)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    p = _Proxy()
    p.start()
    yield p
    p.close()


def test_a_plain_proxy_gets_the_absolute_url_and_its_credentials(server: _Server, proxy: _Proxy) -> None:
    answer = sts.call(_url(server), "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {}, timeout=2, proxy=proxy.url)
    assert answer["Arn"] == ARN
    head = proxy.heads[0]
    assert head.startswith(f"POST {_url(server)} HTTP/1.1")
    assert "Proxy-Authorization: Basic " + base64.b64encode(b"user:p@ss").decode() in head


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[_Server, bytes]]:
    from nstls import make_certs

    certs = make_certs(str(tmp_path), ("sts.test",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["cert"], certs["key"])
    srv = _Server(tls=context)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, Path(certs["ca"]).read_bytes()
    srv.shutdown()
    srv.server_close()


def test_https_trusts_the_named_bundle_only_and_tunnels_through_a_proxy(tls_server: tuple[_Server, bytes], proxy: _Proxy) -> None:
    srv, ca = tls_server
    url = _url(srv, "https")  # the certificate names 127.0.0.1 too
    with pytest.raises(sts.StsError) as err:  # the system's CAs do not know the test's CA
        sts.call(url, "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {}, timeout=2)
    assert err.value.message.startswith("SSLError"), err.value.message
    trusted = ssl.create_default_context(cadata=ca.decode())
    assert sts.call(url, "us-east-1", (KEYS[0], KEYS[1], None), "get_caller_identity", {}, timeout=2, context=trusted)["Arn"] == ARN
    answer = sts.call(url, "us-east-1", (KEYS[0], KEYS[1], TOKEN), "get_caller_identity", {}, timeout=2, context=trusted, proxy=proxy.url)
    assert answer["Arn"] == ARN
    assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{srv.server_address[1]} HTTP/")
    assert "Proxy-Authorization: Basic " in proxy.heads[0]
    assert srv.seen[-1]["headers"]["X-Amz-Security-Token"] == TOKEN  # inside the tunnel, not seen by the proxy
    assert TOKEN not in "".join(proxy.heads)
