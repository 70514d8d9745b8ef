"""A local stand-in for the ECS agent, IMDSv2 and STS, for `probe demo`, tests and you.

- agent: ``/v2/credentials/<id>`` and ``/v1/credentials?id=<id>`` with the agent's real
  answers (JSON credentials; error bodies ``{"code", "message", "HTTPErrorCode"}``; 429 as
  text/plain; gorilla's 404), and task metadata v4 (``/v4/<id>`` and ``/v4/<id>/task``).
- imds: IMDSv2 (``PUT /latest/api/token``, answered with the TTL header as EC2 does, then
  the instance role and instance id); IMDSv1 too unless ``imds_v1_allowed`` is false.
- sts: ``GetCallerIdentity``, answering for the access key id in the SigV4 header
  (signatures are not verified: it is a stand-in, not a security boundary).

Runs on loopback without root. Standard library only. ``python -m probe.emulator`` serves a
task role and an instance role (``--no-roles``: none) until stdin closes. Its first line names
the URLs, the credentials id and the variables that point an SDK at it (``env``); each stdin
line is a JSON object merged into the state (e.g. ``{"behaviour": "uninitialized"}``; an
unknown behaviour is refused with the list), answered with one JSON line of state and counters.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

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
)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key_id(prefix: str = "ASIA") -> str:
    return prefix + secrets.token_hex(8).upper()


def new_secret() -> str:
    return secrets.token_urlsafe(30)


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
    # label) as the full cluster ARN, where EC2 gives the short name.
    launch_type: str = "EC2"
    network_mode: str = "awsvpc"
    container_name: str = "app"
    requests: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        self.requests[key] = self.requests.get(key, 0) + 1


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

    def do_GET(self) -> None:
        getattr(self, f"_{self.role}_get")()

    def do_PUT(self) -> None:
        if self.role == "imds":
            return self._imds_put()
        self._send(405, b"405 method not allowed\n", "text/plain")

    def do_POST(self) -> None:
        if self.role == "sts":
            return self._sts_post()
        self._send(405, b"405 method not allowed\n", "text/plain")

    # ---- agent -----------------------------------------------------------------
    def _agent_get(self) -> None:
        st = self.emulator.state
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/v2/credentials") or path == "/v1/credentials":
            version = "V2" if path.startswith("/v2") else "V1"
            cred_id = path[len("/v2/credentials/"):] if version == "V2" else (parse_qs(parts.query).get("id") or [""])[0]
            with self.emulator.lock:
                st.count("credentials")
            return self._credentials(version, cred_id)
        if path.startswith("/v4/") and st.metadata_enabled:
            with self.emulator.lock:
                st.count("metadata")
            rest = path[len("/v4/"):]
            if rest == st.container_id:
                return self._send(200, self._container_doc())
            if rest == st.container_id + "/task":
                return self._send(200, self._task_doc())
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _error(self, status: int, code: str, version: str, message: str) -> None:
        self._send(status, {"code": code, "message": f"Credentials{version}Request: {message}", "HTTPErrorCode": status})

    def _credentials(self, version: str, cred_id: str) -> None:
        st = self.emulator.state
        b = st.behaviour
        if not cred_id or b == "no-id":
            return self._error(400, "NoIdInRequest", version, "No Credential ID in the request")
        if b == "hang":
            time.sleep(st.hang_seconds)
            return
        if b == "down":
            # An agent that is not running: no HTTP answer at all (the connection drops).
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if b == "rate-limited":
            return self._send(
                429,
                b"You have reached maximum request limit.",
                "text/plain",
                {"X-Rate-Limit-Limit": "40.00", "X-Rate-Limit-Duration": "1"},
            )
        if b == "not-found":
            return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
        if st.auth_token is not None and self.headers.get("Authorization") != st.auth_token:
            return self._send(401, {"code": "AccessDenied", "message": "Authorization header missing or invalid"})
        if cred_id != st.credentials_id or b == "invalid-id" or st.task_role is None:
            return self._error(400, "InvalidIdInRequest", version, "Credentials not found")
        if b == "uninitialized":
            return self._error(503, "CredentialsUninitialized", version, "Credentials uninitialized for ID")
        if b == "internal":
            return self._error(500, "InternalServerError", version, "Internal server error")
        if b == "malformed":
            return self._send(200, b'{"RoleArn": "arn:aws:iam::' + ACCOUNT.encode() + b':role/x", "AccessKeyId": ', "application/json")
        if b == "oversized":
            return self._send(200, b"{" + b" " * (2 * 1024 * 1024) + b"}", "application/json")
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
        self._send(200, doc)

    def _task_arn(self) -> str:
        st = self.emulator.state
        return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/{st.cluster}/{st.task_id}"

    def _cluster(self) -> str:
        st = self.emulator.state
        if st.launch_type == "FARGATE":
            return f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{st.cluster}"
        return st.cluster

    def _container_doc(self) -> dict[str, Any]:
        st = self.emulator.state
        return {
            "DockerId": st.container_id,
            "Name": st.container_name,
            "DockerName": f"ecs-{st.family}-1-{st.container_name}",
            "Image": "public.ecr.aws/docker/library/python:3.12",
            "Labels": {
                "com.amazonaws.ecs.cluster": self._cluster(),
                "com.amazonaws.ecs.container-name": st.container_name,
                "com.amazonaws.ecs.task-arn": self._task_arn(),
                "com.amazonaws.ecs.task-definition-family": st.family,
                "com.amazonaws.ecs.task-definition-version": "1",
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Type": "NORMAL",
            "Networks": [{"NetworkMode": st.network_mode, "IPv4Addresses": ["10.0.1.25"]}],
        }

    def _task_doc(self) -> dict[str, Any]:
        st = self.emulator.state
        return {
            "Cluster": self._cluster(),
            "TaskARN": self._task_arn(),
            "Family": st.family,
            "Revision": "1",
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "AvailabilityZone": "us-east-1a",
            "LaunchType": st.launch_type,
            "Containers": [self._container_doc()],
        }

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (the probe stops reading an oversized body) is normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Emulator:
    """The three servers, each optional, sharing one ``State``."""

    def __init__(
        self,
        agent: Optional[str] = "127.0.0.1:0",
        imds: Optional[str] = "127.0.0.1:0",
        sts: Optional[str] = "127.0.0.1:0",
        state: Optional[State] = None,
    ) -> None:
        self.state = state or State()
        self.lock = threading.Lock()
        self.imds_token = secrets.token_urlsafe(32)
        self.servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        for role, addrs in (("agent", agent), ("imds", imds), ("sts", sts)):
            # "A,B": the same role on several addresses (e.g. 169.254.170.2 and .23).
            for i, addr in enumerate(a for a in (addrs or "").split(",") if a):
                host, _, port = addr.rpartition(":")
                handler = type(f"{role.title()}Handler", (Handler,), {"emulator": self, "role": role})
                server = _Server((host.strip("[]"), int(port)), handler)
                self.servers[role if i == 0 else f"{role}{i + 1}"] = server

    def url(self, role: str) -> str:
        host, port = self.servers[role].server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> "Emulator":
        for role, server in self.servers.items():
            t = threading.Thread(target=server.serve_forever, name=f"emulator-{role}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

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
            for key, value in changes.items():
                if key == "reset_counters":
                    self.state.requests.clear()
                elif hasattr(self.state, key):
                    setattr(self.state, key, value)
                else:
                    raise KeyError(key)


def _behaviour_error(value: Any) -> Optional[str]:
    """Why ``value`` is not a behaviour the emulator knows (with the list), or None."""
    if value in BEHAVIOURS:
        return None
    return f"unknown behaviour {value!r}: choose from {', '.join(BEHAVIOURS)}"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m probe.emulator",
        description=__doc__.split("\n\n")[0],
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
    emu = Emulator(none(args.agent), none(args.imds), none(args.sts), initial).start()
    if not args.no_roles:
        if initial.task_role is None:
            emu.give_task_role()
        if initial.instance_role is None:
            emu.give_instance_role()
    ready: dict[str, Any] = {"ready": True, "urls": {r: emu.url(r) for r in emu.servers}, "credentials_id": initial.credentials_id}
    if "agent" in emu.servers:
        ready["env"] = emu.task_env()
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
