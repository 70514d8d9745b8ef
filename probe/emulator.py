"""A local stand-in for the ECS agent, IMDSv2, STS and the EKS Pod Identity Agent, for
`probe demo`, tests and you.

- agent: the ECS agent's task metadata server (amazon-ecs-agent ``ecs-agent/tmds``) as the real
  one answers, checked against it by tests/test_real_agent.py: path cleaning first (a ``//``,
  ``/./`` or ``/../`` in the decoded path is a 301 to the clean path with an empty body, before
  anything else), the path ``%``-decoded (an invalid escape is Go's bare ``400 Bad Request``),
  then the rate limiter (per caller address and path, burst 60 then 40/s: ``X-Rate-Limit-*``
  headers on every answer, 429 ``text/plain; charset=utf-8``), then the router:
  ``/v2/credentials/<id>`` and ``/v1/credentials?id=<id>`` (JSON credentials; error bodies
  ``{"code", "message", "HTTPErrorCode"}``), task metadata v4 (``/v4/<id>``, ``/task``,
  ``/taskWithTags``, ``/stats``, ``/task/stats``; an unknown id is a 404 whose body is a JSON
  string), and the router's ``404 page not found`` for anything else (``/v2/credentials``
  without a slash included). Any method. No ``Server`` header. ``behaviour: "down"`` is a
  stopped agent: every agent address refuses connections, metadata included.
- pod_identity: the EKS Pod Identity Agent (aws/eks-pod-identity-agent) on 169.254.170.23 /
  fd00:ec2::23: ``/v1/credentials`` only, the service account token itself in
  ``Authorization``, credentials with ``AccountId`` and no ``RoleArn``, errors as plain text.
  A separate server: the ECS agent serves neither address.
- imds: IMDSv2 (``PUT /latest/api/token``, answered with the TTL header as EC2 does, then
  the instance role and instance id); IMDSv1 too unless ``imds_v1_allowed`` is false.
- sts: ``GetCallerIdentity``, answering for the access key id in the SigV4 header
  (signatures are not verified: it is a stand-in, not a security boundary).

Beyond the real agent, on purpose: ``behaviour`` injects one answer into every credentials
request (``BEHAVIOURS``), and ``auth_token`` makes the credentials path demand an
Authorization header (as a token-checking FULL_URI endpoint would; the ECS agent reads none).

Runs on loopback without root. Standard library only. ``python -m probe.emulator`` serves a
task role and an instance role (``--no-roles``: none) until stdin closes. Its first line names
the URLs, the credentials id and the variables that point an SDK at it (``env``); each stdin
line is a JSON object merged into the state (e.g. ``{"behaviour": "uninitialized"}``; an
unknown behaviour is refused with the list), answered with one JSON line of state and counters.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from probe.facts.endpoints import clean_path

ACCOUNT = "123456789012"
BEHAVIOURS = (
    "ok",
    "no-id",
    "invalid-id",
    "uninitialized",
    "internal",
    "not-found",
    "rate-limited",
    "malformed",
    "missing-fields",
    "oversized",
    "hang",
    "expired",
    "expiring",
    "down",
    # Issue 22: the old "down" (connections to the credentials path accepted, then dropped
    # without an answer; metadata stays up). No real agent does this; "down" is a stopped one.
    "drop",
)
# The agent's limiter (ECS_TASK_METADATA_RPS_LIMIT default "40,60"): tollbooth over the whole
# server, one token bucket per caller address and path.
RPS_LIMIT = 40.0
RPS_BURST = 60
RATE_LIMIT_MESSAGE = b"You have reached maximum request limit."
# The Pod Identity Agent's addresses (its configuration.DefaultIpv4TargetHost / Ipv6).
POD_IDENTITY_HOSTS = ("169.254.170.23", "fd00:ec2::23")
POD_IDENTITY_RPS = 1000.0  # configuration.RequestRate; burst half of it, one bucket for all callers


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_nano(dt: datetime) -> str:
    """Go's time.Time in JSON (RFC 3339 with the fraction, trailing zeros dropped)."""
    text = dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def new_key_id(prefix: str = "ASIA") -> str:
    return prefix + secrets.token_hex(8).upper()


def new_secret() -> str:
    return secrets.token_urlsafe(30)


def _go_json(obj: Any) -> bytes:
    """encoding/json's bytes: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode("utf-8", "surrogateescape")


# ---- Go's URL handling, as the agent's server applies it ----------------------------------

_HEX = "0123456789abcdefABCDEF"
_PATH_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~$&+,/:;=@")


def _go_unescape(text: str, plus_is_space: bool = False) -> Optional[str]:
    """net/url's unescape: every % must start a valid escape (else None); bytes, not text."""
    out = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # %
            pair = raw[i + 1 : i + 3].decode("latin-1")
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                return None
            out.append(int(pair, 16))
            i += 3
            continue
        out.append(0x20 if (plus_is_space and c == 0x2B) else c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _go_escape_path(path: str) -> str:
    """url.URL.EscapedPath for a path that has no valid RawPath: only what must be escaped."""
    out = []
    for b in path.encode("utf-8", "surrogateescape"):
        ch = chr(b)
        out.append(ch if b < 0x80 and ch in _PATH_SAFE else f"%{b:02X}")
    return "".join(out)


def _go_has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _go_query(raw_query: str) -> dict[str, list[str]]:
    """url.ParseQuery as Request.URL.Query() uses it: pairs with a ';' or a bad escape dropped."""
    values: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        k, v = _go_unescape(key, True), _go_unescape(value, True)
        if k is None or v is None:
            continue
        values.setdefault(k, []).append(v)
    return values


class TokenBucket:
    """golang.org/x/time/rate.Limiter.Allow: full at first, ``rate`` tokens a second, at most
    ``burst``; a refused request takes nothing."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self.tokens = float(burst)
        self.last: Optional[float] = None

    def allow(self, now: Optional[float] = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.rate <= 0:
            # rate.Limit(0): the burst is all there is, never refilled.
            if self.burst >= 1:
                self.burst -= 1
                return True
            return False
        last = now if self.last is None or now < self.last else self.last
        tokens = min(float(self.burst), self.tokens + (now - last) * self.rate) if self.last is not None else self.tokens
        tokens -= 1.0
        if tokens < 0 or self.burst < 1:
            return False
        self.tokens, self.last = tokens, now
        return True


@dataclass
class Identity:
    arn: str
    access_key_id: str = field(default_factory=new_key_id)
    secret_access_key: str = field(default_factory=new_secret)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(96))


@dataclass
class State:
    """What the emulated task looks like. Mutable; guarded by ``lock``."""

    credentials_id: str = field(default_factory=lambda: secrets.token_hex(16))
    # The endpoint id: the last part of ECS_CONTAINER_METADATA_URI_V4 (not the Docker id).
    container_id: str = field(default_factory=lambda: secrets.token_hex(16) + "-1234567890")
    task_id: str = field(default_factory=lambda: secrets.token_hex(16))
    instance_id: str = "i-0abc1234def567890"
    task_role: Optional[dict[str, str]] = None  # RoleArn, AccessKeyId, SecretAccessKey, Token
    instance_role: Optional[dict[str, str]] = None  # role name + the same keys
    sts_identities: dict[str, str] = field(default_factory=dict)  # access key id -> ARN
    behaviour: str = "ok"
    auth_token: Optional[str] = None  # when set, credentials requests must carry it
    clock_offset: float = 0.0  # seconds added to the Date header
    hang_seconds: float = 30.0
    imds_enabled: bool = True
    # False: IMDSv2 required (HttpTokens=required), a request without a token gets 401.
    imds_v1_allowed: bool = True
    metadata_enabled: bool = True
    cluster: str = "demo-cluster"
    family: str = "demo-app"
    # "FARGATE" answers as Fargate's metadata does: Cluster (and the container's cluster
    # label) as the full cluster ARN, where EC2 gives the short name; task Limits,
    # ClockDrift and EphemeralStorageMetrics.
    launch_type: str = "EC2"
    network_mode: str = "awsvpc"  # awsvpc, bridge or host: the Networks entry differs
    container_name: str = "app"
    requests: dict[str, int] = field(default_factory=dict)
    # Issue 22: what the real agent also answers (see tests/test_real_agent.py).
    # DockerId; "" answers the endpoint id there, as the emulator did before (tests that
    # name the container by one id use that).
    docker_id: str = field(default_factory=lambda: secrets.token_hex(32))
    revision: str = "1"
    service_name: str = "demo-service"  # "" for a task no service started (no ServiceName)
    availability_zone: str = "us-east-1a"
    availability_zone_id: str = "use1-az4"
    vpc_id: str = "vpc-0abc1234def567890"
    image: str = "public.ecr.aws/docker/library/python:3.12"
    ipv4_address: str = "10.0.1.25"  # the task ENI's address (awsvpc)
    bridge_ip: str = "172.17.0.2"  # the container's address on docker0 (bridge)
    # The rate limiter: None turns it off (no headers, never 429; not an agent setting).
    rps_limit: Optional[float] = RPS_LIMIT
    rps_burst: int = RPS_BURST
    # The Pod Identity Agent stand-in: the role it serves, and the service account token EKS
    # Auth accepts (None: any well-formed, unexpired JWT).
    pod_role: Optional[dict[str, str]] = None  # AccessKeyId, SecretAccessKey, Token, AccountId
    pod_identity_token: Optional[str] = None

    def count(self, key: str) -> None:
        self.requests[key] = self.requests.get(key, 0) + 1


def _go_request_uri(target: str) -> Optional[tuple[str, str, bool]]:
    """(decoded path, raw query, force query) as net/http parses a request-target, or None
    where Go's server answers its bare 400 (no leading '/', a bad escape, a control byte)."""
    if _go_has_control(target):
        return None
    if target[:7].lower() == "http://" or target[:8].lower() == "https://":
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else ""
        if target == "":
            return "", "", False
    elif not target.startswith("/"):
        return None
    force = target.endswith("?") and target.count("?") == 1
    raw_path, _, raw_query = target[:-1].partition("?") if force else target.partition("?")
    path = _go_unescape(raw_path)
    if path is None:
        return None
    return path, raw_query, force


_V2_ROUTE = re.compile(r"/v2/credentials/(.*)\Z")  # '.' stops at a line feed, as in Go's RE2
_V4_ROUTE = re.compile(r"/v4/([^/]*)(/task|/taskWithTags|/stats|/task/stats)?\Z")
# The agent's reasons for an endpoint id it does not know (ecs-agent tmds v4 state lookups).
_V4_UNKNOWN = {
    "": "V4 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: {}",
    "/task": "V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {}",
    "/taskWithTags": "V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {}",
    "/stats": "V4 container stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {}",
    "/task/stats": "V4 task stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {}",
}
_JSON = ("Content-Type", "application/json")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_GO_ROLES = ("agent", "pod_identity")


class Handler(BaseHTTPRequestHandler):
    server_version = "ecs-credential-probe-emulator"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: with two small writes, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    emulator: "Emulator"
    role: str = "agent"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib name)
        pass  # quiet: the tests read counters, not logs

    def setup(self) -> None:
        super().setup()
        self.emulator._track(self.role, self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.emulator._track(self.role, self.connection, False)

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        offset = self.emulator.state.clock_offset
        return formatdate((timestamp or time.time()) + offset, usegmt=True)

    def _send(self, status: int, body: Any, content_type: str = "application/json", headers: Optional[dict[str, str]] = None) -> None:
        data = body if isinstance(body, bytes) else (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def __getattr__(self, name: str) -> Any:
        # The Go servers take any method (gorilla/mux and ServeMux routes without Methods()).
        if name.startswith("do_") and type(self).role in _GO_ROLES:
            return self._go_serve
        raise AttributeError(name)

    def do_GET(self) -> None:
        if self.role in _GO_ROLES:
            return self._go_serve()
        if self.role == "imds":
            return self._imds_get()
        self._send(405, b"405 method not allowed\n", "text/plain")

    def do_PUT(self) -> None:
        if self.role in _GO_ROLES:
            return self._go_serve()
        if self.role == "imds":
            return self._imds_put()
        self._send(405, b"405 method not allowed\n", "text/plain")

    def do_POST(self) -> None:
        if self.role in _GO_ROLES:
            return self._go_serve()
        if self.role == "sts":
            return self._sts_post()
        self._send(405, b"405 method not allowed\n", "text/plain")

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        if self.role not in _GO_ROLES:
            return super().send_error(code, message, explain)
        # Go's server answers a request it cannot parse with a bare 400 and closes.
        self.close_connection = True
        try:
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
        except OSError:
            pass

    # ---- the Go servers' way of answering ------------------------------------------------
    def _go_write(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """As net/http writes it: the handler's headers sorted by name, then Date, then
        Content-Length, or for a body beyond its 2048-byte buffer chunked transfer (HTTP/1.1)
        or none (HTTP/1.0, the connection closes); no Server header; no body for HEAD."""
        version = "HTTP/1.0" if self.request_version == "HTTP/1.0" else "HTTP/1.1"
        lines = [f"{version} {status} {self.responses.get(status, ('',))[0]}"]
        lines += [f"{k}: {v}" for k, v in sorted(headers, key=lambda kv: kv[0])]
        lines.append("Date: " + self.date_time_string())
        chunked = len(body) > 2048 and self.command != "HEAD"
        if len(body) <= 2048:
            lines.append(f"Content-Length: {len(body)}")
        elif version == "HTTP/1.0":
            self.close_connection = True
        if self.close_connection and version == "HTTP/1.1":
            lines.append("Connection: close")
        if chunked and version == "HTTP/1.1":
            lines.append("Transfer-Encoding: chunked")
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))

    def _drop(self) -> None:
        """No HTTP answer at all: the connection ends."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _go_serve(self) -> None:
        length = self.headers.get("Content-Length") if self.headers else None
        if length and length.isdigit():
            # Read what the client sent, so the next request on the connection parses.
            left = min(int(length), 1 << 20)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        words = self.requestline.split()
        # HTTP/0.9 ("GET /x") is no request to Go. The target comes from the request line
        # itself: BaseHTTPRequestHandler folds a leading '//' in self.path.
        parsed = _go_request_uri(words[1]) if len(words) == 3 else None
        if parsed is None:
            return self.send_error(400)
        if self.role == "pod_identity":
            return self._pod_identity(*parsed)
        return self._agent(*parsed)

    # ---- agent -----------------------------------------------------------------
    def _agent(self, path: str, raw_query: str, force_query: bool) -> None:
        st = self.emulator.state
        clean = clean_path(path)
        kind = "credentials" if clean.startswith(("/v1/credentials", "/v2/credentials")) else "metadata" if clean.startswith("/v4/") else None
        if kind:
            with self.emulator.lock:
                st.count(kind)
        if clean != path:
            # The outer router cleans the path before the limiter and the routes see it.
            location = _go_escape_path(clean) + ("?" + raw_query if raw_query or force_query else "")
            return self._go_write(301, [("Location", location)], b"")
        headers, limited = self.emulator._limit(self.client_address, path, self.headers.get("X-Forwarded-For", ""))
        if limited or (kind == "credentials" and st.behaviour == "rate-limited"):
            return self._go_write(429, headers + [_TEXT], RATE_LIMIT_MESSAGE)
        if path == "/v1/credentials":
            return self._credentials("V1", (_go_query(raw_query).get("id") or [""])[0], headers)
        m = _V2_ROUTE.match(path)
        if m:
            return self._credentials("V2", m.group(1), headers)
        m = _V4_ROUTE.match(path) if st.metadata_enabled else None
        if m:
            return self._metadata(m.group(1), m.group(2) or "", headers)
        self._not_found(headers)

    def _not_found(self, headers: list[tuple[str, str]]) -> None:
        # gorilla/mux's NotFoundHandler: net/http's NotFound.
        self._go_write(404, headers + [_TEXT, _NOSNIFF], b"404 page not found\n")

    def _error(self, status: int, code: str, version: str, message: str, headers: list[tuple[str, str]]) -> None:
        body = {"code": code, "message": f"Credentials{version}Request: {message}", "HTTPErrorCode": status}
        self._go_write(status, headers + [_JSON], _go_json(body))

    def _credentials(self, version: str, cred_id: str, headers: Optional[list[tuple[str, str]]] = None) -> None:
        headers = headers or []
        st = self.emulator.state
        b = st.behaviour
        if not cred_id or b == "no-id":
            return self._error(400, "NoIdInRequest", version, "No Credential ID in the request", headers)
        if b == "hang":
            time.sleep(st.hang_seconds)
            return
        if b in ("drop", "down"):
            return self._drop()
        if b == "not-found":
            return self._not_found(headers)
        if st.auth_token is not None and self.headers.get("Authorization") != st.auth_token:
            # Not the ECS agent's (it reads no Authorization header): a token-checking endpoint.
            body: dict[str, Any] = {"code": "AccessDenied", "message": "Authorization header missing or invalid"}
            return self._go_write(401, headers + [_JSON], _go_json(body))
        if cred_id != st.credentials_id or b == "invalid-id" or st.task_role is None:
            return self._error(400, "InvalidIdInRequest", version, "Credentials not found", headers)
        if b == "uninitialized":
            return self._error(503, "CredentialsUninitialized", version, "Credentials uninitialized for ID", headers)
        if b == "internal":
            # The agent's marshalling failure: the one error without the request prefix.
            body = {"code": "InternalServerError", "message": "Internal server error", "HTTPErrorCode": 500}
            return self._go_write(500, headers + [_JSON], _go_json(body))
        if b == "malformed":
            return self._go_write(200, headers + [_JSON], b'{"RoleArn": "arn:aws:iam::' + ACCOUNT.encode() + b':role/x", "AccessKeyId": ')
        if b == "oversized":
            return self._go_write(200, headers + [_JSON], b"{" + b" " * (2 * 1024 * 1024) + b"}")
        now = datetime.now(timezone.utc) + timedelta(seconds=st.clock_offset)
        expires = {"expired": now - timedelta(minutes=10), "expiring": now + timedelta(minutes=3)}.get(b, now + timedelta(hours=6))
        doc = {
            "RoleArn": st.task_role["RoleArn"],
            "AccessKeyId": st.task_role["AccessKeyId"],
            "SecretAccessKey": st.task_role["SecretAccessKey"],
            "Token": st.task_role["Token"],
            "Expiration": _iso(expires),
        }
        if b == "missing-fields":
            del doc["Token"]
        self._go_write(200, headers + [_JSON], _go_json(doc))

    def _metadata(self, endpoint_id: str, part: str, headers: list[tuple[str, str]]) -> None:
        st = self.emulator.state
        if endpoint_id != st.container_id:
            return self._go_write(404, headers + [_JSON], _go_json(_V4_UNKNOWN[part].format(endpoint_id)))
        if part == "":
            doc: Any = self._container_doc()
        elif part in ("/task", "/taskWithTags"):
            doc = self._task_doc()
        elif part == "/stats":
            doc = self._stats_doc()
        else:
            doc = {self._docker_id(): self._stats_doc()}
        self._go_write(200, headers + [_JSON], _go_json(doc))

    def _task_arn(self) -> str:
        st = self.emulator.state
        return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{st.cluster}/{st.task_id}"

    def _cluster(self) -> str:
        st = self.emulator.state
        if st.launch_type == "FARGATE":
            return f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{st.cluster}"
        return st.cluster

    def _docker_id(self) -> str:
        st = self.emulator.state
        return st.docker_id or st.container_id

    def _started(self) -> datetime:
        return self.emulator.started_at

    def _networks(self) -> list[dict[str, Any]]:
        st = self.emulator.state
        mode = st.network_mode
        if mode == "awsvpc":
            ip = st.ipv4_address
            net = ".".join(ip.split(".")[:3])
            return [{
                "NetworkMode": "awsvpc",
                "IPv4Addresses": [ip],
                "AttachmentIndex": 0,
                "MACAddress": "0a:3c:5e:7f:11:22",
                "IPv4SubnetCIDRBlock": f"{net}.0/24",
                "DomainNameServers": ["10.0.0.2"],
                "DomainNameSearchList": ["ec2.internal"],
                "PrivateDNSName": f"ip-{ip.replace('.', '-')}.ec2.internal",
                "SubnetGatewayIpv4Address": f"{net}.1/24",
            }]
        if mode == "bridge":
            return [{"NetworkMode": "bridge", "IPv4Addresses": [st.bridge_ip]}]
        if mode == "host":
            # The agent knows no address of a host-mode container: one empty string.
            return [{"NetworkMode": "host", "IPv4Addresses": [""]}]
        return []

    def _container_doc(self) -> dict[str, Any]:
        st = self.emulator.state
        started = self._started()
        docker_id = self._docker_id()
        doc: dict[str, Any] = {
            "DockerId": docker_id,
            "Name": st.container_name,
            "DockerName": f"ecs-{st.family}-{st.revision}-{st.container_name}-{hashlib.sha256(docker_id.encode()).hexdigest()[:20]}",
            "Image": st.image,
            "ImageID": "sha256:" + hashlib.sha256(st.image.encode()).hexdigest(),
            "Labels": {
                "com.amazonaws.ecs.cluster": self._cluster(),
                "com.amazonaws.ecs.container-name": st.container_name,
                "com.amazonaws.ecs.task-arn": self._task_arn(),
                "com.amazonaws.ecs.task-definition-family": st.family,
                "com.amazonaws.ecs.task-definition-version": st.revision,
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": 256, "Memory": 512},
            "CreatedAt": _iso_nano(started - timedelta(seconds=10)),
            "StartedAt": _iso_nano(started),
            "Type": "NORMAL",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": f"/ecs/{st.family}", "awslogs-region": "us-east-1", "awslogs-stream": f"ecs/{st.container_name}/{st.task_id}"},
            "ContainerARN": f"arn:aws:ecs:us-east-1:{ACCOUNT}:container/{st.cluster}/{st.task_id}/{hashlib.md5(docker_id.encode()).hexdigest()}",  # noqa: S324 (an id)
        }
        networks = self._networks()
        if networks:
            doc["Networks"] = networks
        return doc

    def _task_doc(self) -> dict[str, Any]:
        st = self.emulator.state
        started = self._started()
        fargate = st.launch_type == "FARGATE"
        doc: dict[str, Any] = {
            "Cluster": self._cluster(),
            "TaskARN": self._task_arn(),
            "Family": st.family,
            "Revision": st.revision,
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
        }
        if fargate:
            doc["Limits"] = {"CPU": 0.25, "Memory": 512}
        doc.update(
            PullStartedAt=_iso_nano(started - timedelta(seconds=60)),
            PullStoppedAt=_iso_nano(started - timedelta(seconds=30)),
            AvailabilityZone=st.availability_zone,
            LaunchType=st.launch_type,
            Containers=[self._container_doc()],
            VPCID=st.vpc_id,
        )
        if st.service_name:
            doc["ServiceName"] = st.service_name
        if fargate:
            now = datetime.now(timezone.utc) + timedelta(seconds=st.clock_offset)
            doc["ClockDrift"] = {"ClockErrorBound": 0.42, "ReferenceTimestamp": _iso(now), "ClockSynchronizationStatus": "SYNCHRONIZED"}
            doc["EphemeralStorageMetrics"] = {"Utilized": 3, "Reserved": 20496}
        doc["FaultInjectionEnabled"] = False
        doc["AvailabilityZoneID"] = st.availability_zone_id
        return doc

    def _stats_doc(self) -> dict[str, Any]:
        """Docker's stats JSON as the agent relays it, plus its network rates."""
        now = datetime.now(timezone.utc)
        usage = {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}
        throttling = {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
        blkio = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                 "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive")
        return {
            "read": _iso_nano(now),
            "preread": _iso_nano(now - timedelta(seconds=1)),
            "pids_stats": {"current": 1},
            "blkio_stats": {k: None for k in blkio},
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": {"cpu_usage": dict(usage), "throttling_data": dict(throttling)},
            "precpu_stats": {"cpu_usage": dict(usage), "throttling_data": dict(throttling)},
            "memory_stats": {"usage": 12582912, "limit": 536870912},
            "name": "/",
            "id": self._docker_id(),
            "network_rate_stats": {"rx_bytes_per_sec": 0, "tx_bytes_per_sec": 0},
        }

    # ---- EKS Pod Identity Agent ---------------------------------------------------
    def _pod_error(self, status: int, message: str) -> None:
        # net/http's Error: plain text with a line feed, nosniff.
        self._go_write(status, [_TEXT, _NOSNIFF], message.encode("utf-8", "surrogateescape") + b"\n")

    def _pod_identity(self, path: str, raw_query: str, force_query: bool) -> None:
        st = self.emulator.state
        with self.emulator.lock:
            st.count("pod_identity")
        clean = clean_path(path)
        if clean != path:
            # ServeMux redirects an unclean path, with a link for GET.
            location = _go_escape_path(clean) + ("?" + raw_query if raw_query else "")
            body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode() if self.command == "GET" else b""
            ctype = [("Content-Type", "text/html; charset=utf-8")] if self.command in ("GET", "HEAD") else []
            return self._go_write(301, [("Location", location)] + ctype, body)
        if path != "/v1/credentials":
            return self._go_write(404, [_TEXT, _NOSNIFF], b"404 page not found\n")
        if not self.emulator._pod_allow():
            return self._pod_error(429, "Too Many Requests")
        host = (self.headers.get("Host") or "").strip()
        if host.startswith("["):
            host = host[1 : host.find("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        allowed = list(POD_IDENTITY_HOSTS)
        if host not in allowed and host not in self.emulator._bound_hosts("pod_identity"):
            return self._pod_error(
                403,
                f"Access Denied. Called agent through invalid address, please use either [{' '.join(allowed)}] address not {host}",
            )
        token = self.headers.get("Authorization") or ""
        problem = _jwt_problem(token)
        if problem:
            return self._pod_error(400, problem)
        # What EKS Auth's AssumeRoleForPodIdentity would say, as the agent relays it.
        request_id = "[3c0c6c3a-2f4e-4b8c-9d7a-5e6f7a8b9c0d]"
        if st.pod_identity_token is not None and token != st.pod_identity_token:
            return self._pod_error(400, f"{request_id}: (InvalidTokenException): The specified Kubernetes service account token is invalid., fault: client")
        role = st.pod_role
        if not role:
            return self._pod_error(404, f"{request_id}: (ResourceNotFoundException): No Pod Identity Association found for the service account., fault: client")
        now = datetime.now(timezone.utc) + timedelta(seconds=st.clock_offset)
        doc = {
            "AccessKeyId": role["AccessKeyId"],
            "SecretAccessKey": role["SecretAccessKey"],
            "Token": role["Token"],
            "AccountId": role.get("AccountId", ACCOUNT),
            "Expiration": _iso(now + timedelta(hours=6)),
        }
        self._go_write(200, [_JSON], _go_json(doc))
    # ---- IMDS ------------------------------------------------------------------
    def _imds_put(self) -> None:
        st = self.emulator.state
        with self.emulator.lock:
            st.count("imds")
        if not st.imds_enabled:
            return self._send(404, b"", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if urlsplit(self.path).path != "/latest/api/token" or ttl is None:
            return self._send(400, b"", "text/plain")
        # EC2 echoes the TTL; Go v1 and Ruby drop to IMDSv1 when the header is missing.
        self._send(200, self.emulator.imds_token.encode(), "text/plain", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def _imds_get(self) -> None:
        st = self.emulator.state
        with self.emulator.lock:
            st.count("imds")
        if not st.imds_enabled:
            return self._send(404, b"", "text/plain")
        token = self.headers.get("X-aws-ec2-metadata-token")
        if token is not None and token != self.emulator.imds_token:
            return self._send(401, b"", "text/plain")
        if token is None and not st.imds_v1_allowed:
            return self._send(401, b"", "text/plain")
        path = urlsplit(self.path).path
        role = st.instance_role
        base = "/latest/meta-data/iam/security-credentials/"
        if path == "/latest/meta-data/instance-id":
            return self._send(200, st.instance_id.encode(), "text/plain")
        if path in (base, base.rstrip("/")) and role:
            # Real IMDS answers the list with and without the trailing slash (AsyncAws asks without).
            return self._send(200, role["RoleName"].encode(), "text/plain")
        if role and path == base + role["RoleName"]:
            now = datetime.now(timezone.utc)
            return self._send(
                200,
                {
                    "Code": "Success",
                    "LastUpdated": _iso(now),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": role["AccessKeyId"],
                    "SecretAccessKey": role["SecretAccessKey"],
                    "Token": role["Token"],
                    "Expiration": _iso(now + timedelta(hours=6)),
                },
                "text/plain",
            )
        self._send(404, b"", "text/plain")

    # ---- STS -------------------------------------------------------------------
    def _sts_post(self) -> None:
        st = self.emulator.state
        with self.emulator.lock:
            st.count("sts")
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(min(length, 65536)).decode("utf-8", "replace"))
        auth = self.headers.get("Authorization", "")
        key_id = auth.partition("Credential=")[2].partition("/")[0]
        action = (form.get("Action") or [""])[0]
        arn = st.sts_identities.get(key_id)
        if action != "GetCallerIdentity":
            return self._sts_error(400, "InvalidAction", f"Could not find operation {action}")
        if not arn:
            return self._sts_error(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        account = arn.split(":")[4]
        user_id = ("AROA" if ":assumed-role/" in arn else "AIDA") + "EXAMPLE" + (":" + arn.rsplit("/", 1)[-1] if ":assumed-role/" in arn else "")
        body = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>{user_id}</UserId><Account>{account}</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>"
            "</ResponseMetadata></GetCallerIdentityResponse>"
        )
        self._send(200, body.encode(), "text/xml")

    def _sts_error(self, status: int, code: str, message: str) -> None:
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        )
        self._send(status, body.encode(), "text/xml")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> Optional[bytes]:
    """jwt/v5's DecodeSegment: base64url without padding (strict)."""
    if "=" in text or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def service_account_token(seconds: int = 86400, subject: str = "system:serviceaccount:default:app") -> str:
    """A JWT shaped like the projected service account token EKS mounts (not signed by any
    cluster: the Pod Identity Agent only parses it; EKS Auth would check the signature)."""
    now = int(time.time())
    header = {"alg": "RS256", "kid": secrets.token_hex(20)}
    claims = {"aud": ["pods.eks.amazonaws.com"], "exp": now + seconds, "iat": now, "nbf": now,
              "iss": "https://oidc.eks.us-east-1.amazonaws.com/id/ECSCREDENTIALPROBETEST", "sub": subject}
    parts = [_b64url(json.dumps(header, separators=(",", ":")).encode()), _b64url(json.dumps(claims, separators=(",", ":")).encode()),
             _b64url(secrets.token_bytes(256))]
    return ".".join(parts)


def _jwt_problem(token: str) -> Optional[str]:
    """The Pod Identity Agent's request validation (jwt/v5 ParseUnverified, then the claims'
    times): why the token is refused, or None."""
    if token == "":
        return "Service account token cannot be empty"
    prefix = "Service account token cannot be parsed: "
    parts = token.split(".")
    if len(parts) != 3:
        return prefix + "token is malformed: token contains an invalid number of segments"
    raw_header = _b64url_decode(parts[0])
    if raw_header is None:
        return prefix + "token is malformed: could not base64 decode header"
    try:
        header = json.loads(raw_header)
    except ValueError:
        return prefix + "token is malformed: could not JSON decode header"
    raw_claims = _b64url_decode(parts[1])
    if raw_claims is None:
        return prefix + "token is malformed: could not base64 decode claim"
    try:
        claims = json.loads(raw_claims)
    except ValueError:
        return prefix + "token is malformed: could not JSON decode claim"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return prefix + "token is malformed: could not JSON decode claim"
    if header.get("alg") not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "HS256", "HS384", "HS512", "EdDSA"):
        return prefix + f"token is unverifiable: signing method {header.get('alg')} is invalid"
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    base = "Service account token failed basic claim validations: token has invalid claims: "
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and now > exp:
        return base + "token is expired"
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and now < nbf:
        return base + "token is not valid yet"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (the probe stops reading an oversized body) is normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Emulator:
    """The servers, each optional, sharing one ``State``: the ECS agent (``agent``), IMDS,
    STS and, on its own addresses, the EKS Pod Identity Agent (``pod_identity``)."""

    def __init__(
        self,
        agent: Optional[str] = "127.0.0.1:0",
        imds: Optional[str] = "127.0.0.1:0",
        sts: Optional[str] = "127.0.0.1:0",
        state: Optional[State] = None,
        pod_identity: Optional[str] = None,
    ) -> None:
        self.state = state or State()
        self.lock = threading.Lock()
        self.imds_token = secrets.token_urlsafe(32)
        self.started_at = datetime.now(timezone.utc)
        self.servers: dict[str, _Server] = {}
        self._roles: dict[str, str] = {}
        self._serving: dict[str, threading.Thread] = {}
        self._threads: list[threading.Thread] = []
        self._started = False
        self._listen_lock = threading.Lock()
        self._conns: dict[str, set[socket.socket]] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._bucket_params = (self.state.rps_limit, self.state.rps_burst)
        self._pod_bucket = TokenBucket(POD_IDENTITY_RPS, int(POD_IDENTITY_RPS / 2))
        for role, addrs in (("agent", agent), ("imds", imds), ("sts", sts), ("pod_identity", pod_identity)):
            # "A,B": the same role on several addresses (e.g. 169.254.170.2 and 127.0.0.1).
            for i, addr in enumerate(a for a in (addrs or "").split(",") if a):
                host, _, port = addr.rpartition(":")
                name = role if i == 0 else f"{role}{i + 1}"
                self.servers[name] = self._make_server(role, (host.strip("[]"), int(port)))
                self._roles[name] = role

    def _make_server(self, role: str, address: tuple[Any, ...]) -> _Server:
        handler = type(f"{role.title().replace('_', '')}Handler", (Handler,), {"emulator": self, "role": role})
        cls = _Server6 if ":" in str(address[0]) else _Server
        return cls((address[0], address[1]), handler)

    def url(self, role: str) -> str:
        host, port = self.servers[role].server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def _serve(self, name: str) -> None:
        t = threading.Thread(target=self.servers[name].serve_forever, name=f"emulator-{name}", daemon=True)
        t.start()
        self._threads.append(t)
        self._serving[name] = t

    def start(self) -> "Emulator":
        with self._listen_lock:
            self._started = True
            down = self.state.behaviour == "down"
            for name, role in self._roles.items():
                if role == "agent" and down:
                    # A stopped agent: nothing listens on its addresses.
                    self.servers[name].server_close()
                else:
                    self._serve(name)
        return self

    def stop(self) -> None:
        with self._listen_lock:
            for name, server in self.servers.items():
                if self._serving.pop(name, None) is not None:
                    server.shutdown()
                server.server_close()
            self._started = False

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- the agent's life and its limiter -------------------------------------------------
    def _track(self, role: str, conn: socket.socket, add: bool) -> None:
        with self.lock:
            conns = self._conns.setdefault(role, set())
            if add:
                conns.add(conn)
            else:
                conns.discard(conn)

    def _agent_listening(self, listening: bool) -> None:
        """Stop the agent (its addresses refuse connections, its open connections end) or
        start it again on the same addresses."""
        with self._listen_lock:
            if not self._started:
                return
            for name, role in self._roles.items():
                if role != "agent":
                    continue
                is_up = name in self._serving
                if listening and not is_up:
                    old = self.servers[name]
                    self.servers[name] = self._make_server("agent", old.server_address)
                    self._serve(name)
                elif not listening and is_up:
                    self._serving.pop(name)
                    self.servers[name].shutdown()
                    self.servers[name].server_close()
            if not listening:
                with self.lock:
                    conns = list(self._conns.get("agent", ()))
                for conn in conns:
                    try:
                        conn.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def _limit(self, client: Any, path: str, forwarded_for: str) -> tuple[list[tuple[str, str]], bool]:
        """tollbooth's headers for this answer, and whether its bucket is empty: one bucket per
        caller address and (decoded) path, burst ``rps_burst``, ``rps_limit`` a second."""
        st = self.state
        limit, burst = st.rps_limit, st.rps_burst
        if limit is None:
            return [], False
        host, port = str(client[0]), client[1]
        remote = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        headers = [
            ("X-Rate-Limit-Limit", f"{float(limit):.2f}"),
            ("X-Rate-Limit-Duration", "1"),
            ("X-Rate-Limit-Request-Forwarded-For", " ".join(forwarded_for.split()) if forwarded_for else ""),
            ("X-Rate-Limit-Request-Remote-Addr", remote),
        ]
        with self.lock:
            if self._bucket_params != (limit, burst):
                self._buckets.clear()
                self._bucket_params = (limit, burst)
            key = (host, path)
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= 10000:
                    self._buckets.clear()  # tollbooth keeps them for years; a stand-in need not
                bucket = self._buckets[key] = TokenBucket(float(limit), int(burst))
            allowed = bucket.allow()
        return headers, not allowed

    def _pod_allow(self) -> bool:
        with self.lock:
            return self._pod_bucket.allow()

    def _bound_hosts(self, role: str) -> set[str]:
        out = set()
        for name, r in self._roles.items():
            if r == role:
                host = self.servers[name].server_address[0]
                out.add(host.decode() if isinstance(host, bytes) else str(host))
        return out

    # ---- set-up helpers ------------------------------------------------------------
    def give_task_role(self, name: str = "demo-task-role", identity: Optional[Identity] = None) -> Identity:
        """Serve a task role; register its key with the STS stand-in unless given."""
        ident = identity or Identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{self.state.task_id}")
        with self.lock:
            self.state.task_role = {
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                "AccessKeyId": ident.access_key_id,
                "SecretAccessKey": ident.secret_access_key,
                "Token": ident.token,
            }
            self.state.sts_identities[ident.access_key_id] = ident.arn
        return ident

    def give_instance_role(self, name: str = "ecsInstanceRole", identity: Optional[Identity] = None) -> Identity:
        ident = identity or Identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{self.state.instance_id}")
        with self.lock:
            self.state.instance_role = {
                "RoleName": name,
                "AccessKeyId": ident.access_key_id,
                "SecretAccessKey": ident.secret_access_key,
                "Token": ident.token,
            }
            self.state.sts_identities[ident.access_key_id] = ident.arn
        return ident

    def add_user(self, name: str = "ci-deploy") -> Identity:
        ident = Identity(f"arn:aws:iam::{ACCOUNT}:user/{name}", access_key_id=new_key_id("AKIA"))
        ident.token = ""
        with self.lock:
            self.state.sts_identities[ident.access_key_id] = ident.arn
        return ident

    def give_pod_role(self, name: str = "demo-pod-role", identity: Optional[Identity] = None) -> Identity:
        """The role the Pod Identity Agent stand-in serves (its answer carries AccountId, no
        RoleArn); registered with the STS stand-in unless given."""
        ident = identity or Identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/eks-demo-cluster-app-{secrets.token_hex(4)}")
        with self.lock:
            self.state.pod_role = {
                "AccessKeyId": ident.access_key_id,
                "SecretAccessKey": ident.secret_access_key,
                "Token": ident.token,
                "AccountId": ACCOUNT,
            }
            self.state.sts_identities[ident.access_key_id] = ident.arn
        return ident

    def pod_identity_env(self, token_file: str) -> dict[str, str]:
        """The variables EKS injects for Pod Identity, pointed at this stand-in: the token file
        holds the service account token (``service_account_token()``) the stand-in accepts."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{self.url('pod_identity')}/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def task_env(self, relative: bool = False) -> dict[str, str]:
        """The variables the agent would inject, pointed at this emulator.

        ``relative=True`` gives the real AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (host fixed
        at 169.254.170.2): only for an emulator bound there, inside a network namespace.
        """
        env = {
            "ECS_CONTAINER_METADATA_URI_V4": f"{self.url('agent')}/v4/{self.state.container_id}",
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if self.state.launch_type == "FARGATE" else "AWS_ECS_EC2",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        if relative:
            env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{self.state.credentials_id}"
        else:
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"{self.url('agent')}/v2/credentials/{self.state.credentials_id}"
        if "imds" in self.servers:
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.url("imds") + "/"
        if "sts" in self.servers:
            env["AWS_ENDPOINT_URL_STS"] = self.url("sts")
        return env

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            doc = asdict(self.state)
        doc["urls"] = {role: self.url(role) for role in self.servers}
        return doc

    def update(self, changes: dict[str, Any]) -> None:
        """Merge state changes, all or none: an unknown field is a KeyError, an unknown
        behaviour a ValueError naming the ones there are."""
        for key in changes:
            if key != "reset_counters" and not hasattr(self.state, key):
                raise KeyError(key)
        if "behaviour" in changes and _behaviour_error(changes["behaviour"]):
            raise ValueError(_behaviour_error(changes["behaviour"]))
        with self.lock:
            was_down = self.state.behaviour == "down"
            for key, value in changes.items():
                if key == "reset_counters":
                    self.state.requests.clear()
                elif hasattr(self.state, key):
                    setattr(self.state, key, value)
                else:
                    raise KeyError(key)
            down = self.state.behaviour == "down"
        if down != was_down:
            # A stopped agent refuses connections on all its addresses; started again, it
            # listens where it did.
            self._agent_listening(not down)


def _behaviour_error(value: Any) -> Optional[str]:
    """Why ``value`` is not a behaviour the emulator knows (with the list), or None."""
    if value in BEHAVIOURS:
        return None
    return f"unknown behaviour {value!r}: choose from {', '.join(BEHAVIOURS)}"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m probe.emulator",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="The first stdout line is JSON: the URLs, the credentials id served and the variables to point an SDK "
        "or a container at it (env). Then each stdin line is a JSON object of state changes, answered with one JSON line.",
    )
    parser.add_argument("--agent", default="127.0.0.1:0", help="HOST:PORT for the agent (credentials + metadata v4), or none")
    parser.add_argument("--imds", default="127.0.0.1:0", help="HOST:PORT for IMDSv2, or none")
    parser.add_argument("--sts", default="127.0.0.1:0", help="HOST:PORT for the STS stand-in, or none")
    parser.add_argument("--state", metavar="FILE", help="JSON object with initial State fields")
    parser.add_argument("--behaviour", choices=BEHAVIOURS, default=None, help="how the agent answers credentials requests (default ok)")
    parser.add_argument("--no-roles", action="store_true", help="serve no task role and no instance role (every credentials request: InvalidIdInRequest)")
    # Kept for scripts written before the roles became the default.
    parser.add_argument("--demo-roles", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fargate", action="store_true", help="answer task metadata as Fargate does (launch type FARGATE, the cluster as an ARN)")
    parser.add_argument("--network-mode", choices=("awsvpc", "bridge", "host"), default=None,
                        help="the task's network mode in task metadata (default awsvpc)")
    parser.add_argument("--pod-identity", default="none", metavar="HOST:PORT",
                        help="also serve the EKS Pod Identity Agent stand-in there (its /v1/credentials; the token it accepts "
                        "is written to the file named in the first line's pod_identity)")
    args = parser.parse_args(argv)
    none = lambda v: None if v in ("none", "") else v  # noqa: E731
    initial = State()
    if args.state:
        try:
            with open(args.state, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            parser.error(f"--state {args.state}: {exc}")
        if not isinstance(doc, dict):
            parser.error(f"--state {args.state}: not a JSON object")
        for key, value in doc.items():
            if not hasattr(initial, key):
                parser.error(f"--state {args.state}: unknown field {key!r}")
            if key == "behaviour" and _behaviour_error(value):
                parser.error(f"--state {args.state}: {_behaviour_error(value)}")
            setattr(initial, key, value)
    if args.behaviour:
        initial.behaviour = args.behaviour
    if args.fargate:
        initial.launch_type = "FARGATE"
    if args.network_mode:
        initial.network_mode = args.network_mode
    emu = Emulator(none(args.agent), none(args.imds), none(args.sts), initial, pod_identity=none(args.pod_identity)).start()
    if not args.no_roles:
        if initial.task_role is None:
            emu.give_task_role()
        if initial.instance_role is None:
            emu.give_instance_role()
        if "pod_identity" in emu.servers and initial.pod_role is None:
            emu.give_pod_role()
    ready: dict[str, Any] = {"ready": True, "urls": {r: emu.url(r) for r in emu.servers}, "credentials_id": initial.credentials_id}
    if "agent" in emu.servers:
        ready["env"] = emu.task_env()
    if "pod_identity" in emu.servers:
        import tempfile

        token = initial.pod_identity_token or service_account_token()
        emu.update({"pod_identity_token": token})
        fd, token_file = tempfile.mkstemp(prefix="pod-identity-token-")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(token)
        ready["pod_identity"] = {"env": emu.pod_identity_env(token_file), "token_file": token_file}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            changes = json.loads(line)
            if not isinstance(changes, dict):
                raise TypeError("a state change is a JSON object")
            emu.update(changes)
            print(json.dumps(emu.snapshot()), flush=True)
        except (ValueError, KeyError, TypeError) as exc:
            answer: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
            if "behaviour" in str(exc):
                answer["behaviours"] = list(BEHAVIOURS)
            print(json.dumps(answer), flush=True)
    emu.stop()
    if "pod_identity" in ready:
        try:
            import os

            os.unlink(ready["pod_identity"]["token_file"])
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
