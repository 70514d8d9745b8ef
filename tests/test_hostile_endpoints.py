"""Hostile endpoints on every path that makes a request (issue 11, items 7, 8, 14, 16, 17).

Each class of misbehaviour - silent, drip (trickle), never-close, huge, deeply nested or
not-an-object answers - is served by a small bounded server on loopback (or on the
127.0.0.1:51678 of a network namespace the test makes, for `probe host`), against the
credentials endpoint, task metadata, IMDS, the host introspection API, `probe health`
and `probe wait`. A wait is bounded when ``--deadline D`` finishes within D + 3 s.

Run as a script (``python test_hostile_endpoints.py serve HOST PORT SPEC``) it is the same
server, for a network namespace.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Optional

# A 64 KiB answer of nested arrays: deeper than any JSON parser's recursion limit.
DEEP = b"[" * (32 * 1024) + b"]" * (32 * 1024)
LIFETIME = 60.0  # no server, and no connection of one, lives longer than this
DRIP_PAUSE = 0.25  # seconds between the bytes of a trickle: 4 bytes/s

# What each behaviour does once it has read the request.
#   ("answer", status, body)  a proper answer with Content-Length
#   "silent"                  reads the request, never answers, keeps the connection open
#   "drip"                    a valid answer with a 64 KiB Content-Length, one byte at a time
#   "drip-headers"            the status line and endless headers, one byte at a time
#   "never-close"             headers and half a body without a length, then nothing
#   "huge"                    an endless body, as fast as the client reads
#   "huge-headers"            endless header lines, as fast as the client reads
#   "refuse-after-accept"     closes at once without a byte


class Hostile:
    """A loopback HTTP server whose every path (longest prefix first) has a behaviour."""

    def __init__(self, routes: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = routes
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.open_connections = 0
        self.served = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "Hostile":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _alive(self) -> bool:
        return not self.stop.is_set() and time.monotonic() - self.started < LIFETIME

    def _loop(self) -> None:
        while self._alive():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.open_connections += 1
                self.served += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def wait_closed(self, timeout: float = 5.0) -> int:
        """Open connections after the client side closed them (polls, up to ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.open_connections:
            time.sleep(0.05)
        return self.open_connections

    def _closed_by_peer(self, conn: socket.socket) -> bool:
        ready, _, _ = select.select([conn], [], [], 0)
        if not ready:
            return False
        try:
            return conn.recv(4096, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _hold(self, conn: socket.socket) -> None:
        """Keep the connection open, sending nothing, until the client closes it."""
        while self._alive():
            ready, _, _ = select.select([conn], [], [], 0.1)
            if ready:
                try:
                    if conn.recv(4096) == b"":
                        return
                except OSError:
                    return

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if not self._alive() or self._closed_by_peer(conn):
                return
            conn.sendall(data[i : i + 1])
            time.sleep(DRIP_PAUSE)

    def _flood(self, conn: socket.socket, first: bytes, chunk: bytes) -> None:
        conn.sendall(first)
        sent = 0
        while self._alive() and sent < (256 << 20):
            conn.sendall(chunk)
            sent += len(chunk)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(LIFETIME)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536 and self._alive():
                piece = conn.recv(4096)
                if not piece:
                    return
                request += piece
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            path = parts[1] if len(parts) > 1 else "/"
            behaviour = self.behaviour(path)
            if isinstance(behaviour, (list, tuple)):
                # ("answer", status, body[, {extra headers}])
                status, body = behaviour[1], behaviour[2]
                extra = "".join(f"{k}: {v}\r\n" for k, v in (behaviour[3] if len(behaviour) > 3 else {}).items())
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode("latin-1") + body)
                self._hold(conn)
            elif behaviour == "silent":
                self._hold(conn)
            elif behaviour == "drip":
                body = b'{"AccessKeyId": "' + b"A" * 65536
                self._trickle(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n" + body)
            elif behaviour == "drip-headers":
                self._trickle(conn, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: y\r\n" * 10000)
            elif behaviour == "never-close":
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"AccessKeyId": "AS')
                self._hold(conn)
            elif behaviour == "huge":
                self._flood(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[", b"0," * 32768)
            elif behaviour == "huge-headers":
                self._flood(conn, b"HTTP/1.1 200 OK\r\n", b"X-Big: " + b"z" * 1000 + b"\r\n")
            # "refuse-after-accept" and unknown paths: close at once
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.open_connections -= 1

    def behaviour(self, path: str) -> Any:
        for prefix in sorted(self.routes, key=len, reverse=True):
            if path.startswith(prefix):
                return self.routes[prefix]
        return ("answer", 404, {"code": "NotFound"})


def serve(host: str, port: int, spec: str) -> None:
    """Script mode: serve ``spec`` (JSON routes) until stdin closes or LIFETIME passes."""
    routes: dict[str, Any] = {}
    for prefix, value in json.loads(spec).items():
        if isinstance(value, list):  # ["answer", status, body]; the body "DEEP" is DEEP
            value = ("answer", value[1], DEEP if value[2] == "DEEP" else value[2])
        routes[prefix] = value
    with Hostile(routes, host, port) as server:
        print("READY", server.port, flush=True)
        end = time.monotonic() + LIFETIME
        while time.monotonic() < end:
            ready, _, _ = select.select([sys.stdin], [], [], 0.5)
            if ready and not sys.stdin.readline():
                break


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    raise SystemExit(0)


import pytest  # noqa: E402  (the script mode above needs nothing from the tests)

from helpers import clean_env, need, netns_available, run_probe  # noqa: E402
from probe.facts import http  # noqa: E402

SLOW = ["silent", "drip", "drip-headers", "never-close", "huge", "huge-headers"]
BOUND = 3.0  # the slack a bounded run gets beyond its deadline (start-up, judging, rendering)


def _socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def loopback_env(home: str, **extra: str) -> dict[str, str]:
    """A task environment with nothing that could reach a link-local address."""
    return clean_env(
        home,
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            # The probe asks IMDS even when it is disabled (some SDKs ignore the variable):
            # nothing listens here.
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/",
            "AWS_REGION": "us-east-1",
            # Nothing listens here: STS is refused at once, never the real one.
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
            **extra,
        },
    )


# --- the HTTP client itself: the whole request is bounded, and its socket closed ---


@pytest.mark.parametrize("behaviour", SLOW)
def test_http_request_is_bounded_as_a_whole(behaviour: str) -> None:
    with Hostile({"/": behaviour}) as server:
        before = _socket_fds()
        started = time.monotonic()
        answer = http.request(server.url + "/x", timeout=1.0)
        took = time.monotonic() - started
        assert took < 1.0 + 1.0, f"{behaviour}: {took:.1f} s for a 1 s request"
        assert answer.error is not None or answer.oversized, answer
        if behaviour in ("silent", "drip", "drip-headers", "never-close"):
            assert answer.timed_out, answer.error
        # The server's side of the connection closes when it sees the client's close.
        assert server.wait_closed() == 0, "the server still sees the connection open"
        assert _socket_fds() <= before, "the client's socket stayed open"


def test_http_request_honours_an_absolute_deadline() -> None:
    with Hostile({"/": "drip"}) as server:
        started = time.monotonic()
        answer = http.request(server.url + "/x", timeout=30.0, deadline=started + 0.8)
        assert time.monotonic() - started < 0.8 + 1.0
        assert answer.timed_out


def test_http_request_still_reads_a_good_answer() -> None:
    with Hostile({"/": ("answer", 200, {"ok": True})}) as server:
        answer = http.request(server.url + "/x", timeout=2.0)
        assert answer.ok and json.loads(answer.body) == {"ok": True}
        assert server.wait_closed() == 0


# --- task mode: credentials, task metadata and IMDS, through the real CLI ---


def _bounded(run: Any, deadline: float) -> None:
    assert run.wall < deadline + BOUND, f"{run.wall:.1f} s at --deadline {deadline:g}"


@pytest.mark.parametrize("behaviour", SLOW)
def test_credentials_endpoint_wait_is_bounded(home: str, behaviour: str) -> None:
    with Hostile({"/creds": behaviour}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["--json", "--deadline", "2", "--only", "endpoint.credentials,identity.caller"], env, timeout=30)
        _bounded(run, 2)
        assert run.rc == 1
        assert run.status("endpoint.credentials") == "fail"


@pytest.mark.parametrize("behaviour", SLOW)
def test_task_metadata_wait_is_bounded(home: str, behaviour: str) -> None:
    with Hostile({"/v4": behaviour}) as server:
        env = loopback_env(home, ECS_CONTAINER_METADATA_URI_V4=server.url + "/v4/abc")
        run = run_probe(["--json", "--deadline", "2", "--only", "endpoint.task-metadata,processes.credentials-variable"], env, timeout=30)
        _bounded(run, 2)
        assert run.status("endpoint.task-metadata") == "warn"


@pytest.mark.parametrize("behaviour", SLOW)
@pytest.mark.parametrize("where", ["token", "roles", "credentials"])
def test_imds_wait_is_bounded(home: str, behaviour: str, where: str) -> None:
    good = {
        "/latest/api/token": ("answer", 200, b"tok-" + b"x" * 20),
        "/latest/meta-data/iam/security-credentials/": ("answer", 200, b"ecsInstanceRole"),
        "/latest/meta-data/iam/security-credentials/ecsInstanceRole": behaviour,
    }
    key = {"token": "/latest/api/token", "roles": "/latest/meta-data/iam/security-credentials/"}.get(where)
    if key:
        good[key] = behaviour
    with Hostile(good) as server:
        env = loopback_env(home, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.url + "/")
        del env["AWS_EC2_METADATA_DISABLED"]
        run = run_probe(["--json", "--deadline", "2", "--only", "imds.instance-role"], env, timeout=30)
        _bounded(run, 2)
        assert run.status("imds.instance-role") in ("pass", "warn")


# --- wrong shapes: null and other non-objects, deep nesting (items 16 and 17) ---


NOT_CREDENTIALS = [
    pytest.param(b"null", id="null"),
    pytest.param(b"[]", id="list"),
    pytest.param(b'"AccessKeyId"', id="string"),
    pytest.param(b"1", id="number"),
    pytest.param(b"true", id="true"),
    pytest.param(b"{}", id="empty-object"),
    pytest.param(b'{"AccessKeyId": 1, "SecretAccessKey": [], "Token": {}, "Expiration": null}', id="wrong-types"),
    pytest.param(b'{"AccessKeyId": "", "SecretAccessKey": "", "Token": "", "Expiration": ""}', id="empty-strings"),
    pytest.param(b'[{"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "Token": "t", "Expiration": "2099-01-01T00:00:00Z"}]', id="wrapped-in-a-list"),
    pytest.param(DEEP, id="deep-arrays"),
    pytest.param(b'{"a":' * 10000 + b"1" + b"}" * 10000, id="deep-objects"),
]


@pytest.mark.parametrize("body", NOT_CREDENTIALS)
def test_credentials_answer_that_is_not_credentials_fails(home: str, body: bytes) -> None:
    with Hostile({"/creds": ("answer", 200, body)}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["--json", "--deadline", "3", "--only", "endpoint.credentials"], env, timeout=30)
        check = run.check("endpoint.credentials")
        assert check["status"] == "fail", check
        assert "in time" not in check["title"] and "restart" not in check["remedy"], check
        assert "not usable" in check["title"] or "lacks" in check["title"], check


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_read_as_a_redirect(home: str, status: int) -> None:
    """Issue 22: no SDK follows a redirect from the credentials endpoint; the probe says so,
    names where it points with any id in it masked, and does not follow it either."""
    secret_id = "9f8e7d6c-5b4a-4321-9876-0123456789ab"
    with Hostile({"/creds": ("answer", status, b"", {"Location": f"http://127.0.0.1:1/v2/credentials/{secret_id}?token={secret_id}"})}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["--json", "--deadline", "3", "--only", "endpoint.credentials"], env, timeout=30, secrets=[secret_id])
        check = run.check("endpoint.credentials")
        assert check["status"] == "fail" and f"HTTP {status}" in check["title"], check
        assert "redirect" in check["detail"] and "/v2/credentials/****" in check["detail"], check
        assert "follows a redirect" in check["detail"], check
        assert server.served == 1


ODD_LIMIT_HEADERS = [
    pytest.param({"X-Rate-Limit-Limit": "many", "X-Rate-Limit-Duration": "forever"}, id="not-numbers"),
    pytest.param({"X-Rate-Limit-Limit": "1e400", "X-Rate-Limit-Duration": "-1"}, id="infinite"),
    pytest.param({"X-Rate-Limit-Limit": "nan", "X-Rate-Limit-Request-Remote-Addr": "\x1b[31mred"}, id="nan-and-escape"),
    pytest.param({"X-Rate-Limit-Limit": "4" * 5000, "X-Rate-Limit-Request-Remote-Addr": "a" * 5000}, id="long"),
]


@pytest.mark.parametrize("headers", ODD_LIMIT_HEADERS)
@pytest.mark.parametrize("status", [200, 429])
def test_odd_rate_limit_headers_never_break_the_report(home: str, headers: dict[str, str], status: int) -> None:
    body = {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s" * 30, "Token": "t" * 40, "Expiration": "2099-01-01T00:00:00Z"}
    with Hostile({"/creds": ("answer", status, body if status == 200 else b"You have reached maximum request limit.", headers)}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["--json", "--deadline", "3", "--only", "endpoint.credentials"], env, timeout=30)
        check = run.check("endpoint.credentials")
        assert check["status"] == ("pass" if status == 200 else "fail"), check
        limits = check["data"].get("rate_limit") or {}
        rate = limits.get("limit_per_second")
        assert rate is None or (isinstance(rate, float) and rate == rate and rate not in (float("inf"),)), limits
        assert len(json.dumps(limits)) < 400, limits
        text = run_probe(["--no-color", "--deadline", "3", "--only", "endpoint.credentials", "--verbose"], env, timeout=30)
        assert "\x1b[31m" not in text.stdout


@pytest.mark.parametrize("status", [200, 500])
def test_deep_json_credentials_error_body_is_not_a_timeout(home: str, status: int) -> None:
    with Hostile({"/creds": ("answer", status, DEEP)}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["--json", "--deadline", "3", "--only", "endpoint.credentials"], env, timeout=30)
        check = run.check("endpoint.credentials")
        assert check["status"] == "fail" and "in time" not in check["title"], check


@pytest.mark.parametrize("part", ["/v4/abc/task", "/v4/abc"])
def test_deep_task_metadata_is_unusable_not_late(home: str, part: str) -> None:
    routes: dict[str, Any] = {"/v4/abc": ("answer", 200, {"Name": "app"}), "/v4/abc/task": ("answer", 200, {"Cluster": "c"})}
    routes[part] = ("answer", 200, DEEP)
    with Hostile(routes) as server:
        env = loopback_env(home, ECS_CONTAINER_METADATA_URI_V4=server.url + "/v4/abc")
        run = run_probe(["--json", "--deadline", "3", "--only", "endpoint.task-metadata"], env, timeout=30)
        check = run.check("endpoint.task-metadata")
        assert check["status"] == "warn" and "unusable" in check["title"], check
        assert "nest" in check["detail"], check


def test_deep_imds_credentials_are_unusable_not_late(home: str) -> None:
    routes = {
        "/latest/api/token": ("answer", 200, b"tok-" + b"x" * 20),
        "/latest/meta-data/iam/security-credentials/": ("answer", 200, b"ecsInstanceRole"),
        "/latest/meta-data/iam/security-credentials/ecsInstanceRole": ("answer", 200, DEEP),
    }
    with Hostile(routes) as server:
        env = loopback_env(home, AWS_EC2_METADATA_SERVICE_ENDPOINT=server.url + "/")
        del env["AWS_EC2_METADATA_DISABLED"]
        run = run_probe(["--json", "--deadline", "3", "--only", "imds.instance-role"], env, timeout=30)
        check = run.check("imds.instance-role")
        assert "in time" not in check["title"] and "nest" in check["detail"], check


# --- probe health and probe wait (item 7) ---


@pytest.mark.parametrize("behaviour", SLOW)
def test_probe_health_honours_the_deadline(home: str, behaviour: str) -> None:
    with Hostile({"/healthz": behaviour}) as server:
        run = run_probe(["health", "--url", server.url + "/healthz", "--deadline", "2"], clean_env(home), timeout=30)
        _bounded(run, 2)
        # Every one of them is unhealthy: a 200 with an endless body is no sidecar's /healthz.
        assert run.rc == 1 and run.stdout.startswith("unhealthy"), run.stdout


@pytest.mark.parametrize("body", [pytest.param(DEEP, id="deep-arrays"), pytest.param(b"null", id="null"), pytest.param(b"\xff\xfe", id="not-utf8")])
def test_probe_health_with_odd_bodies_never_crashes(home: str, body: bytes) -> None:
    with Hostile({"/healthz": ("answer", 200, body)}) as server:
        run = run_probe(["health", "--url", server.url + "/healthz", "--deadline", "2"], clean_env(home), timeout=30)
    assert "internal error" not in run.stderr and run.rc == 0 and run.stdout.startswith("healthy"), (run.stdout, run.stderr)


@pytest.mark.parametrize("behaviour", ["silent", "drip", "never-close"])
def test_probe_wait_is_bounded(home: str, behaviour: str) -> None:
    with Hostile({"/creds": behaviour}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        run = run_probe(["wait", "--json", "--timeout", "2", "--deadline", "2"], env, timeout=60)
        # --timeout 2 plus one final diagnosis of at most --deadline 2.
        _bounded(run, 4)
        assert run.rc == 1


# --- probe host: the introspection API on 127.0.0.1:51678 (item 8) ---


class IntrospectionNS:
    """A network namespace whose 127.0.0.1:51678 is a hostile server of this file."""

    def __init__(self, spec: str) -> None:
        self.name = f"ecp-hostile-{uuid.uuid4().hex[:6]}"
        self.spec = spec
        self.server: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> "IntrospectionNS":
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=30)
        try:
            subprocess.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"], check=True, timeout=30)
            self.server = subprocess.Popen(
                ["ip", "netns", "exec", self.name, sys.executable, os.path.abspath(__file__), "serve", "127.0.0.1", "51678", self.spec],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.server.stdout is not None
            line = self.server.stdout.readline()
            assert line.startswith("READY"), line
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.server is not None:
            if self.server.stdin:
                self.server.stdin.close()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            if self.server.stdout:
                self.server.stdout.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)


@pytest.fixture
def netns_ok() -> None:
    why = netns_available()
    need(why is None, why or "")


@pytest.mark.parametrize("behaviour", SLOW)
def test_probe_host_honours_the_deadline(netns_ok: None, home: str, behaviour: str) -> None:
    config = os.path.join(home, "ecs.config")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write("ECS_CLUSTER=prod\nECS_ENABLE_TASK_IAM_ROLE=true\n")
    with IntrospectionNS(json.dumps({"/": behaviour})) as ns:
        run = run_probe(["host", "--json", "--deadline", "2", "--ecs-config", config], clean_env(home), netns=ns.name, timeout=60)
        _bounded(run, 2)
        assert run.status("host.agent-running") == "fail"


def test_probe_host_deep_introspection_is_unusable(netns_ok: None, home: str) -> None:
    config = os.path.join(home, "ecs.config")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write("ECS_CLUSTER=prod\n")
    with IntrospectionNS(json.dumps({"/": ["answer", 200, "DEEP"]})) as ns:
        run = run_probe(["host", "--json", "--deadline", "3", "--ecs-config", config], clean_env(home), netns=ns.name, timeout=60)
        check = run.check("host.agent-running")
        assert check["status"] == "fail" and "nest" in check["detail"], check


# --- item 14: each run's threads and sockets end with the run ---


def test_collect_task_leaves_no_thread_or_socket_behind(home: str) -> None:
    from probe.facts import collect_task

    with Hostile({"/creds": "drip", "/v4": "never-close", "/imds": "silent"}) as server:
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/creds",
            "ECS_CONTAINER_METADATA_URI_V4": server.url + "/v4/abc",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url + "/imds/",
        }
        threads_before = {t.ident for t in threading.enumerate()}
        sockets_before = _socket_fds()
        for _ in range(3):
            started = time.monotonic()
            facts = collect_task(env, 1.0, needs=("credentials", "metadata", "imds"))
            assert time.monotonic() - started < 1.0 + 1.0
            assert facts.get("credentials").get("timed_out"), facts.get("credentials")
            left = [t.name for t in threading.enumerate() if t.ident not in threads_before and t.name.startswith("probe-")]
            assert not left, f"threads outlived the run: {left}"
            assert server.wait_closed() == 0, "the run's connections are still open"
            assert _socket_fds() <= sockets_before, "sockets outlived the run"


def _proc_counts(pid: int) -> tuple[int, int]:
    threads = len(os.listdir(f"/proc/{pid}/task"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return threads, fds


def _sample(pid: int, seconds: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """(fewest, most) (threads, fds) seen over ``seconds``: runs come and go meanwhile."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append(_proc_counts(pid))
        time.sleep(0.05)
    return (min(t for t, _ in seen), min(f for _, f in seen)), (max(t for t, _ in seen), max(f for _, f in seen))


def test_watch_with_a_trickling_endpoint_does_not_grow(home: str) -> None:
    with Hostile({"/creds": "drip"}) as server:
        env = loopback_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds")
        cmd = [sys.executable, "-m", "probe", "watch", "--interval", "0.2", "--deadline", "1", "--listen", "127.0.0.1:0",
               "--only", "endpoint.credentials", "--runs", "40"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)  # the sidecar's own threads are up
            early_low, early_high = _sample(proc.pid, 2.5)  # about two runs
            time.sleep(4.0)  # about three more runs, each facing the trickle
            late_low, late_high = _sample(proc.pid, 2.5)
        finally:
            proc.kill()
            proc.wait(10)
        # Between runs the process is back to its baseline; during one, one run's worth.
        assert late_low[0] <= early_low[0] and late_high[0] <= early_high[0] + 1, f"threads {early_low}/{early_high} -> {late_low}/{late_high}"
        assert late_low[1] <= early_low[1] and late_high[1] <= early_high[1] + 1, f"fds {early_low}/{early_high} -> {late_low}/{late_high}"
        assert server.served >= 4, "too few runs reached the endpoint to judge"


# --- neighbours: TLS, and records that reach the check another way (--facts) ---


@pytest.mark.parametrize("behaviour", ["silent", "drip"])
def test_https_request_is_bounded_as_a_whole(behaviour: str) -> None:
    # The TLS handshake meets silence or plain-text drip: bounded all the same.
    with Hostile({"/": behaviour}) as server:
        started = time.monotonic()
        answer = http.request(server.url.replace("http://", "https://") + "/x", timeout=1.0)
        assert time.monotonic() - started < 1.0 + 1.0
        assert answer.error is not None
        assert server.wait_closed() == 0


def test_a_closed_scope_refuses_and_wakes_requests() -> None:
    with Hostile({"/": "silent"}) as server:
        scope = http.Scope()
        answers: list[http.HttpAnswer] = []

        def ask() -> None:
            with http.use_scope(scope):
                answers.append(http.request(server.url + "/x", timeout=30.0))

        worker = threading.Thread(target=ask)
        worker.start()
        end = time.monotonic() + 5
        while not server.served and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.1)
        scope.close()
        worker.join(2.0)
        assert not worker.is_alive(), "closing the scope did not wake the request"
        assert answers[0].timed_out and "deadline" in (answers[0].error or "")
        with http.use_scope(scope):
            late = http.request(server.url + "/x", timeout=30.0)
        assert late.timed_out and "not sent" in (late.error or "")
        assert server.wait_closed() == 0


def _judge_credentials(record: dict[str, Any]) -> Any:
    from probe.checks import endpoint
    from probe.facts import Facts

    return endpoint.credentials(Facts(data={"credentials": record, "environ": {}}))


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"requested": True, "status": 200, "url": "http://127.0.0.1:1/c"}, id="no-fields-list"),
        pytest.param({"requested": True, "status": 200, "url": "http://127.0.0.1:1/c", "fields_missing": None}, id="fields-none"),
        pytest.param({"requested": True, "status": 200, "url": "http://127.0.0.1:1/c", "fields_missing": "AccessKeyId"}, id="fields-a-string"),
    ],
)
def test_credentials_check_passes_only_a_checked_object(record: dict[str, Any]) -> None:
    outcome = _judge_credentials(record)
    assert outcome.status.value == "fail", outcome


def test_a_collector_error_is_not_called_late() -> None:
    outcome = _judge_credentials({"collector_error": "RecursionError: maximum recursion depth exceeded"})
    assert outcome.status.value == "fail"
    assert "in time" not in outcome.title and "restart" not in (outcome.remedy or ""), outcome
