"""The emulator against the ECS agent's own server (issue 22): same situations, same answers.

`ecs-agent-tmds` (../shared/tools/real-ecs-agent, a development tool of this team: the
agent's `ecs-agent/tmds` server built unmodified, its state from a JSON file) and
`python -m probe.emulator` each run in a network namespace made here, on 169.254.170.2:80
of its loopback, with the same task: the same credentials id, keys, endpoint id, Docker id.
The same requests go to both (from inside the namespace, one connection each), and the
answers are compared: status, header names and their fixed values, and the body (byte for
byte where the agent's is fixed, its JSON shape where it carries times and keys). Then the
probe itself runs against both with each malformed credentials URI.

The project never requires the binary: without it every test here skips and says why.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from typing import Any, Iterator, Optional

import pytest

from helpers import REPO, clean_env, need, netns_available, run_probe

pytestmark = pytest.mark.netns  # namespaces and processes: the slow part of the suite

AGENT_BIN = os.path.normpath(os.path.join(REPO, "..", "shared", "tools", "real-ecs-agent", "ecs-agent-tmds"))
ADDR = "169.254.170.2"
POD = "169.254.170.23"


@pytest.fixture(scope="module", autouse=True)
def _prerequisites() -> None:
    if not os.access(AGENT_BIN, os.X_OK):
        pytest.skip(
            f"the real agent's server is not here ({AGENT_BIN}): a development tool of this team "
            "(../shared/tools/real-ecs-agent/README.md), never required by the project"
        )
    why = netns_available()
    need(why is None, why or "")


# ---- the task both serve ------------------------------------------------------------------


class Task:
    """One task's identity, written as the real server's config and as the emulator's state."""

    def __init__(self, launch_type: str = "EC2", network_mode: str = "awsvpc", service: str = "app-svc") -> None:
        task_id = uuid.uuid4().hex
        self.credentials_id = str(uuid.uuid4())
        self.pending_id = str(uuid.uuid4())
        self.endpoint_id = f"{task_id}-{uuid.uuid4().int % 10**10:010d}"
        self.docker_id = uuid.uuid4().hex + uuid.uuid4().hex
        self.task_id = task_id
        self.launch_type = launch_type
        self.network_mode = network_mode
        self.service = service
        self.cluster = "prod-cluster"
        self.role = {
            "RoleArn": "arn:aws:iam::123456789012:role/app-task-role",
            "AccessKeyId": "ASIA" + uuid.uuid4().hex[:16].upper(),
            "SecretAccessKey": base64.b64encode(os.urandom(30)).decode(),
            "Token": base64.b64encode(os.urandom(90)).decode(),
        }

    @property
    def cluster_value(self) -> str:
        return f"arn:aws:ecs:us-east-1:123456789012:cluster/{self.cluster}" if self.launch_type == "FARGATE" else self.cluster

    def secrets(self) -> list[str]:
        return [self.credentials_id, self.pending_id, self.role["SecretAccessKey"], self.role["Token"]]

    def config(self) -> dict[str, Any]:
        fargate = self.launch_type == "FARGATE"
        task_arn = f"arn:aws:ecs:us-east-1:123456789012:task/{self.cluster}/{self.task_id}"
        task: dict[str, Any] = {
            "arn": task_arn, "cluster": self.cluster_value, "family": "app", "revision": "7",
            "launch_type": self.launch_type, "network_mode": self.network_mode, "service_name": self.service,
            "availability_zone": "us-east-1a", "availability_zone_id": "use1-az4", "vpc_id": "vpc-0abc1234",
            "cpu": 0.25 if fargate else 0, "memory": 512 if fargate else 0, "fargate_extras": fargate,
            "containers": [{
                "name": "app", "docker_id": self.docker_id, "endpoint_id": self.endpoint_id,
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4", "image_id": "sha256:" + "ab" * 32,
                "cpu": 256, "memory": 512, "bridge_ip": "172.17.0.2" if self.network_mode == "bridge" else "",
                "log_driver": "awslogs",
                "log_options": {"awslogs-group": "/ecs/app", "awslogs-region": "us-east-1", "awslogs-stream": "ecs/app/x"},
                "container_arn": f"arn:aws:ecs:us-east-1:123456789012:container/{self.cluster}/{self.task_id}/0001",
            }],
        }
        if self.network_mode == "awsvpc":
            task["eni"] = {"ipv4": ["10.0.1.25"], "mac": "0a:3c:5e:7f:11:22", "subnet_cidr": "10.0.1.0/24",
                           "gateway": "10.0.1.1/24", "private_dns_name": "ip-10-0-1-25.ec2.internal",
                           "dns_servers": ["10.0.0.2"], "search_list": ["ec2.internal"]}
        return {
            "credentials": [{
                "id": self.credentials_id, "task_arn": task_arn, "role_arn": self.role["RoleArn"],
                "access_key_id": self.role["AccessKeyId"], "secret_access_key": self.role["SecretAccessKey"],
                "session_token": self.role["Token"], "expiration": "2030-01-01T00:00:00Z", "role_type": "TaskApplication",
            }],
            "pending_ids": [self.pending_id],
            "tasks": [task],
        }

    def state(self) -> dict[str, Any]:
        return {
            "credentials_id": self.credentials_id, "container_id": self.endpoint_id, "docker_id": self.docker_id,
            "task_id": self.task_id, "cluster": self.cluster, "family": "app", "revision": "7",
            "launch_type": self.launch_type, "network_mode": self.network_mode, "service_name": self.service,
            "availability_zone": "us-east-1a", "availability_zone_id": "use1-az4", "vpc_id": "vpc-0abc1234",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.4", "task_role": dict(self.role),
            "ipv4_address": "10.0.1.25", "bridge_ip": "172.17.0.2",
        }

    def env(self, home: str, **extra: str) -> dict[str, str]:
        """What the agent injects into the task's container (STS refused: never the real one)."""
        env = clean_env(home, {
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/v2/credentials/{self.credentials_id}",
            "ECS_CONTAINER_METADATA_URI_V4": f"http://{ADDR}/v4/{self.endpoint_id}",
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if self.launch_type == "FARGATE" else "AWS_ECS_EC2",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/",
        })
        env.update(extra)
        return env


# ---- a namespace with one of the two servers ---------------------------------------------------

# Runs inside the namespace: each request on a connection of its own, as the SDKs do.
REQUESTER = r"""
import base64, http.client, json, socket, sys, time
out = []
for req in json.load(sys.stdin):
    at = time.time()
    try:
        conn = http.client.HTTPConnection(req.get("host", "169.254.170.2"), 80, timeout=5)
        conn.request(req.get("method", "GET"), req["target"], headers=req.get("headers", {}))
        resp = conn.getresponse()
        body = resp.read()
        out.append({"status": resp.status, "reason": resp.reason, "headers": resp.getheaders(),
                    "body": base64.b64encode(body).decode(), "version": resp.version, "at": at})
        conn.close()
    except Exception as exc:
        out.append({"error": type(exc).__name__ + ": " + str(exc), "at": at})
print(json.dumps(out))
"""


class Answer:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.error: Optional[str] = doc.get("error")
        self.status: Optional[int] = doc.get("status")
        self.headers: list[tuple[str, str]] = [tuple(h) for h in doc.get("headers", [])]  # type: ignore[misc]
        self.body: bytes = base64.b64decode(doc.get("body", ""))
        self.version = doc.get("version")
        self.at: float = doc.get("at", 0.0)  # wall clock when the request was sent

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def names(self) -> list[str]:
        return [k for k, _ in self.headers]

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status or self.error} {self.headers} {self.body[:300]!r}>"


class Server:
    """A namespace of its own with 169.254.170.2 (and .23, left unserved) on lo, and the
    real agent's server or the emulator on 169.254.170.2:80."""

    def __init__(self, kind: str, task: Task, workdir: str, extra_args: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.task = task
        self.workdir = workdir
        self.extra_args = extra_args
        self.name = f"ecp-ra-{kind[:4]}-{uuid.uuid4().hex[:6]}"
        self.proc: Optional[subprocess.Popen[str]] = None
        self.audit = os.path.join(workdir, f"{self.name}.audit")

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)

    def __enter__(self) -> "Server":
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            for addr in (ADDR, POD):
                self._ip("-n", self.name, "addr", "add", f"{addr}/32", "dev", "lo")
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self) -> None:
        if self.kind == "real":
            config = os.path.join(self.workdir, f"{self.name}.json")
            with open(config, "w", encoding="utf-8") as fh:
                json.dump(self.task.config(), fh)
            cmd = [AGENT_BIN, "-config", config, "-listen", f"{ADDR}:80", "-audit", self.audit, *self.extra_args]
        else:
            state = os.path.join(self.workdir, f"{self.name}.state.json")
            with open(state, "w", encoding="utf-8") as fh:
                json.dump(self.task.state(), fh)
            cmd = [sys.executable, "-m", "probe.emulator", "--agent", f"{ADDR}:80", "--imds", "none", "--sts", "none", "--state", state,
                   *self.extra_args]
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], env=clean_env(self.workdir), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("{") and json.loads(line).get("ready"), (line, self.proc.stderr.read() if self.proc.stderr else "")

    def stop_agent(self) -> None:
        """The agent stops: the real process ends; the emulator is told {"behaviour": "down"}."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        if self.kind == "real":
            self.proc.terminate()
            self.proc.wait(10)
        else:
            self.proc.stdin.write(json.dumps({"behaviour": "down"}) + "\n")
            self.proc.stdin.flush()
            assert "error" not in json.loads(self.proc.stdout.readline())

    def set(self, **changes: Any) -> None:
        """Emulator state changes (the real server has none: its situations are in its config)."""
        assert self.kind == "emulator" and self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(changes) + "\n")
        self.proc.stdin.flush()
        assert "error" not in json.loads(self.proc.stdout.readline())

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream and not stream.closed:
                    stream.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)

    def ask(self, *requests: dict[str, Any]) -> list[Answer]:
        proc = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", REQUESTER], input=json.dumps(list(requests)),
                              env=clean_env(self.workdir), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return [Answer(d) for d in json.loads(proc.stdout)]

    def get(self, target: str, **kw: Any) -> Answer:
        return self.ask({"target": target, **kw})[0]

    def audit_lines(self) -> list[str]:
        try:
            with open(self.audit, encoding="utf-8") as fh:
                return [line for line in fh if line.strip()]
        except FileNotFoundError:
            return []


@pytest.fixture
def workdir(tmp_path: Any) -> str:
    return str(tmp_path)


@pytest.fixture
def pair(workdir: str) -> Iterator[tuple[Server, Server]]:
    task = Task()
    with Server("real", task, workdir) as real, Server("emulator", task, workdir) as emu:
        yield real, emu


# ---- comparing answers -----------------------------------------------------------------------

# Header values that differ per answer; their names must still match.
DYNAMIC = {"date", "x-rate-limit-request-remote-addr", "content-length"}


def fixed_headers(answer: Answer, dynamic: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    out = []
    for k, v in answer.headers:
        if k.lower() in DYNAMIC | dynamic:
            v = "*"
        out.append((k, v))
    return out


def shape(value: Any) -> Any:
    """A JSON value's shape: keys in order with their shapes, list items' shapes, scalar types."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value[:1]] + ([f"... {len(value)} items"] if len(value) > 1 else [])
    return type(value).__name__


def same(real: Answer, emu: Answer, body: str = "exact", dynamic: frozenset[str] = frozenset()) -> None:
    """Status, header names in order with their fixed values, and the body (exact or shape)."""
    assert real.error is None and emu.error is None, (real, emu)
    assert (emu.status, emu.version) == (real.status, real.version), (real, emu)
    assert fixed_headers(emu, dynamic) == fixed_headers(real, dynamic), (real.headers, emu.headers)
    if real.header("Date") is not None:
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", emu.header("Date") or ""), emu.headers
    assert "Server" not in emu.names
    if real.header("X-Rate-Limit-Request-Remote-Addr"):
        assert (emu.header("X-Rate-Limit-Request-Remote-Addr") or "").rpartition(":")[0] == real.header("X-Rate-Limit-Request-Remote-Addr").rpartition(":")[0]  # type: ignore[union-attr]
    if body == "exact":
        assert emu.body == real.body, (real.body, emu.body)
    elif body == "shape":
        assert shape(emu.json()) == shape(real.json()), json.dumps([shape(real.json()), shape(emu.json())])[:4000]


def masked(text: Optional[str], task: Task) -> Optional[str]:
    return text.replace(task.credentials_id, "<id>") if text is not None else None


# ---- the answers, situation by situation ---------------------------------------------------------


def test_healthy_credentials_v2_and_v1(pair: tuple[Server, Server]) -> None:
    real, emu = pair
    t = real.task
    for target in (f"/v2/credentials/{t.credentials_id}", f"/v1/credentials?id={t.credentials_id}"):
        r, e = real.get(target), emu.get(target)
        same(r, e, body="shape")
        assert r.status == 200 and r.header("X-Rate-Limit-Limit") == "40.00"
        assert {k: v for k, v in e.json().items() if k != "Expiration"} == {k: v for k, v in r.json().items() if k != "Expiration"}


@pytest.mark.parametrize(
    "form, path, status",
    [
        pytest.param("double-slash", "/v2/credentials//{id}", 301, id="double-slash"),
        pytest.param("dot-segment", "/v2/credentials/../credentials/{id}", 301, id="dot-segment"),
        pytest.param("encoded-slash", "/v2/credentials/%2F{id}", 301, id="encoded-slash"),
        pytest.param("double-slash-query", "/v2//credentials/{id}?x=1", 301, id="double-slash-with-query"),
        pytest.param("trailing-slash", "/v2/credentials/{id}/", 400, id="trailing-slash"),
        pytest.param("two-trailing-slashes", "/v2/credentials/{id}//", 301, id="two-trailing-slashes"),
        pytest.param("no-slash", "/v2/credentials", 404, id="no-slash"),
        pytest.param("no-id", "/v2/credentials/", 400, id="no-id"),
        pytest.param("percent-encoded", "/v2/credentials/{id_encoded}", 200, id="percent-encoded-id"),
        pytest.param("bad-escape", "/v2/credentials/%zz{id}", 400, id="bad-escape"),
        pytest.param("extra-segment", "/v2/credentials/{id}/extra", 400, id="extra-segment"),
        pytest.param("query", "/v2/credentials/{id}?a=b", 200, id="query-ignored"),
        pytest.param("unknown-id", "/v2/credentials/no-such-id", 400, id="unknown-id"),
        pytest.param("v1-no-id", "/v1/credentials", 400, id="v1-no-id"),
        pytest.param("v1-empty-id", "/v1/credentials?id=", 400, id="v1-empty-id"),
        pytest.param("v1-slash", "/v1/credentials/", 404, id="v1-trailing-slash"),
        pytest.param("v1-two-ids", "/v1/credentials?id={id}&id=other", 200, id="v1-first-id-wins"),
        pytest.param("other-path", "/v3/credentials/{id}", 404, id="unknown-path"),
        pytest.param("root", "/", 404, id="root"),
    ],
)
def test_credentials_paths(pair: tuple[Server, Server], form: str, path: str, status: int) -> None:
    real, emu = pair
    t = real.task
    encoded = t.credentials_id[:-1] + f"%{ord(t.credentials_id[-1]):02x}"
    target = path.format(id=t.credentials_id, id_encoded=encoded)
    r, e = real.get(target), emu.get(target)
    assert r.status == status, r
    same(r, e, body="shape" if status == 200 else "exact")
    if status == 301:
        assert r.body == b"" and masked(e.header("Location"), t) == masked(r.header("Location"), t)
        assert r.header("X-Rate-Limit-Limit") is None, "path cleaning comes before the limiter"


def test_pending_credentials_are_503(pair: tuple[Server, Server]) -> None:
    real, emu = pair
    r = real.get(f"/v2/credentials/{real.task.pending_id}")
    emu.set(behaviour="uninitialized")
    e = emu.get(f"/v2/credentials/{emu.task.credentials_id}")
    assert r.status == 503
    same(r, e)


def test_methods_and_forwarded_for(pair: tuple[Server, Server]) -> None:
    """Any method is served; HEAD without a body; X-Forwarded-For echoed, never the key."""
    real, emu = pair
    target = f"/v2/credentials/{real.task.credentials_id}"
    for req in ({"method": "HEAD", "target": target}, {"method": "POST", "target": target},
                {"method": "PUT", "target": "/v4/nope"}, {"target": target, "headers": {"X-Forwarded-For": "10.9.9.9"}}):
        r, e = real.ask(req)[0], emu.ask(req)[0]
        same(r, e, body="shape" if r.status == 200 and req.get("method") != "HEAD" else "exact")
    assert r.header("X-Rate-Limit-Request-Forwarded-For") == "10.9.9.9"


def test_raw_requests_go_refuses(pair: tuple[Server, Server]) -> None:
    """Request lines Go's server refuses itself: the bare 400, then the connection closes."""
    real, emu = pair
    script = (
        "import socket, sys\n"
        "for line in (b'GET /v2/credentials/%zz HTTP/1.1', b'GET v2/credentials/x HTTP/1.1', b'GET /v2/credentials/a b HTTP/1.1',"
        " b'GET //v2/credentials/x HTTP/1.1'):\n"
        "    s = socket.create_connection(('169.254.170.2', 80), timeout=5)\n"
        "    s.sendall(line + b'\\r\\nHost: 169.254.170.2\\r\\n\\r\\n')\n"
        "    data = b''\n"
        "    while not data.endswith(b'400 Bad Request') and b'Content-Length: 0' not in data:\n"
        "        chunk = s.recv(4096)\n"
        "        if not chunk: break\n"
        "        data += chunk\n"
        "    s.close()\n"
        "    print(repr(data.split(b'Date: ')[0]))\n"
    )
    outs = []
    for server in (real, emu):
        proc = subprocess.run(["ip", "netns", "exec", server.name, sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60, env=clean_env(server.workdir))
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[1] == outs[0]
    assert "Location: /v2/credentials/x" in outs[0]


def test_metadata_v4(pair: tuple[Server, Server]) -> None:
    real, emu = pair
    t = real.task
    for part in ("", "/task", "/taskWithTags", "/stats", "/task/stats"):
        r, e = real.get(f"/v4/{t.endpoint_id}{part}"), emu.get(f"/v4/{t.endpoint_id}{part}")
        assert r.status == 200, r
        same(r, e, body="shape")
    doc = emu.get(f"/v4/{t.endpoint_id}").json()
    # The endpoint id is not the Docker id.
    assert doc["DockerId"] == t.docker_id != t.endpoint_id
    assert doc["Networks"] == real.get(f"/v4/{t.endpoint_id}").json()["Networks"]


@pytest.mark.parametrize("part", ["", "/task", "/taskWithTags", "/stats", "/task/stats"])
def test_metadata_unknown_endpoint_id(pair: tuple[Server, Server], part: str) -> None:
    real, emu = pair
    for target in (f"/v4/no-such-id{part}", f"/v4/{part}"):
        r, e = real.get(target), emu.get(target)
        assert r.status in (301, 404), r
        same(r, e)
        if r.status == 404:
            assert isinstance(r.json(), str) and "endpoint ID" in r.json()


@pytest.mark.parametrize(
    "launch_type, network_mode",
    [("EC2", "awsvpc"), ("EC2", "bridge"), ("EC2", "host"), ("FARGATE", "awsvpc")],
    ids=["ec2-awsvpc", "ec2-bridge", "ec2-host", "fargate"],
)
def test_metadata_per_launch_type_and_network_mode(workdir: str, launch_type: str, network_mode: str) -> None:
    task = Task(launch_type, network_mode, service="" if network_mode == "bridge" else "app-svc")
    with Server("real", task, workdir) as real, Server("emulator", task, workdir) as emu:
        for part in ("", "/task"):
            r, e = real.get(f"/v4/{task.endpoint_id}{part}"), emu.get(f"/v4/{task.endpoint_id}{part}")
            same(r, e, body="shape")
        rt, et = real.get(f"/v4/{task.endpoint_id}/task").json(), emu.get(f"/v4/{task.endpoint_id}/task").json()
        assert et["Containers"][0]["Networks"] == rt["Containers"][0]["Networks"]
        for key in ("Cluster", "LaunchType", "Family", "Revision", "AvailabilityZone", "AvailabilityZoneID", "VPCID"):
            assert et[key] == rt[key], key
        assert ("ServiceName" in et) == ("ServiceName" in rt) == bool(task.service)
        if network_mode == "host":
            assert rt["Containers"][0]["Networks"] == [{"NetworkMode": "host", "IPv4Addresses": [""]}]
        if launch_type == "FARGATE":
            assert {"ClockDrift", "EphemeralStorageMetrics", "Limits"} <= set(et) and rt["Cluster"].startswith("arn:aws:ecs:")


def test_rate_limiter(pair: tuple[Server, Server]) -> None:
    """Per caller address and path: a burst of 60, then 40 a second, refilling while the
    requests are answered; a refused request costs nothing; another path has its own bucket.
    The counts depend on time: each is checked against the token arithmetic for the times
    the requests were sent."""
    real, emu = pair
    answers = {}
    for server in (real, emu):
        target = f"/v2/credentials/{server.task.credentials_id}"
        burst = server.ask(*[{"target": target}] * 100)
        other = server.get(f"/v4/{server.task.endpoint_id}")
        time.sleep(0.5)
        later = server.ask(*[{"target": target}] * 40)
        answers[server.kind] = (burst, other, later)
        statuses = [a.status for a in burst]
        first = statuses.index(429)
        assert all(s == 200 for s in statuses[:first]), statuses
        # Full at first (60), refilled at 40/s until the first refusal.
        refill = 40 * (burst[first].at - burst[0].at)
        assert 60 + int(refill) - 1 <= first <= 60 + refill + 1, (server.kind, first, refill)
        assert other.status == 200, other
        # Empty (less than one token) when the burst ended; then 40/s.
        ended = burst[-1].at
        allowed = next((i for i, a in enumerate(later) if a.status == 429), len(later))
        upper = 40 * ((later[allowed].at if allowed < len(later) else later[-1].at) - ended) + 1
        assert int(40 * (later[0].at - ended)) - 1 <= allowed <= upper, (server.kind, allowed, later[0].at - ended)
    r429 = next(a for a in answers["real"][0] if a.status == 429)
    e429 = next(a for a in answers["emulator"][0] if a.status == 429)
    same(r429, e429)
    assert r429.body == b"You have reached maximum request limit." and r429.header("Content-Type") == "text/plain; charset=utf-8"


def test_stopped_agent_takes_metadata_down(pair: tuple[Server, Server]) -> None:
    real, emu = pair
    t = real.task
    for server in (real, emu):
        server.stop_agent()
        answers = server.ask({"target": f"/v2/credentials/{t.credentials_id}"}, {"target": f"/v4/{t.endpoint_id}"},
                             {"target": f"/v4/{t.endpoint_id}/task"})
        assert all(a.error and "ConnectionRefused" in a.error for a in answers), answers


def test_neither_serves_169_254_170_23(pair: tuple[Server, Server]) -> None:
    """The ECS agent serves neither the Pod Identity Agent's address nor IPv6: refused."""
    real, emu = pair
    for server in (real, emu):
        answer = server.get("/v1/credentials", host=POD, headers={"Authorization": "x"})
        assert answer.error and "ConnectionRefused" in answer.error, answer


def test_internal_error_body_has_no_prefix(pair: tuple[Server, Server]) -> None:
    """The agent's 500 (credentials it cannot marshal; the real server here never fails so)
    is the one error body without the CredentialsV2Request prefix (v1 handler source)."""
    _real, emu = pair
    emu.set(behaviour="internal")
    answer = emu.get(f"/v2/credentials/{emu.task.credentials_id}")
    assert answer.status == 500
    assert answer.body == b'{"code":"InternalServerError","message":"Internal server error","HTTPErrorCode":500}'


# ---- the Pod Identity Agent stand-in ---------------------------------------------------------------


def test_pod_identity_stand_in_contract(workdir: str) -> None:
    """On 169.254.170.23, separate from the ECS agent: /v1/credentials with the service
    account token itself in Authorization; AccountId, no RoleArn; errors as plain text."""
    from probe.emulator import service_account_token

    task = Task()
    token = service_account_token()
    with Server("emulator", task, workdir, extra_args=("--pod-identity", f"{POD}:80")) as emu:
        emu.set(pod_identity_token=token)
        ok, no_token, bad, other, ecs_path, wrong_host = emu.ask(
            {"host": POD, "target": "/v1/credentials", "headers": {"Authorization": token}},
            {"host": POD, "target": "/v1/credentials"},
            {"host": POD, "target": "/v1/credentials", "headers": {"Authorization": "not-a-jwt"}},
            {"host": POD, "target": "/v1/credentials", "headers": {"Authorization": service_account_token()}},
            {"host": POD, "target": f"/v2/credentials/{task.credentials_id}", "headers": {"Authorization": token}},
            {"host": POD, "target": "/v1/credentials", "headers": {"Authorization": token, "Host": "localhost"}},
        )
        assert ok.status == 200 and list(ok.json()) == ["AccessKeyId", "SecretAccessKey", "Token", "AccountId", "Expiration"], ok
        assert no_token.status == 400 and no_token.body == b"Service account token cannot be empty\n"
        assert no_token.header("Content-Type") == "text/plain; charset=utf-8" and no_token.header("X-Content-Type-Options") == "nosniff"
        assert bad.status == 400 and bad.body.startswith(b"Service account token cannot be parsed: token is malformed")
        assert other.status == 400 and b"InvalidTokenException" in other.body
        assert ecs_path.status == 404 and ecs_path.body == b"404 page not found\n"
        assert wrong_host.status == 403 and wrong_host.body.startswith(b"Access Denied. Called agent through invalid address")
        # The ECS agent on .2 does not answer the Pod Identity contract.
        assert emu.get("/v1/credentials", headers={"Authorization": token}).json()["code"] == "NoIdInRequest"


# ---- the probe against both ------------------------------------------------------------------------

MALFORMED = [
    pytest.param("/v2/credentials//{id}", "fail", "a doubled slash", 301, id="double-slash"),
    pytest.param("/v2/credentials/{id}/", "fail", "a slash after the id", 400, id="trailing-slash"),
    pytest.param("/v2/credentials", "fail", "no '/<id>' after /v2/credentials", 404, id="no-slash"),
    pytest.param("/v2/credentials/", "fail", "no credentials id", 400, id="no-id"),
    pytest.param("/v2/credentials/%zz{id}", "fail", "a '%' that does not start a %XX escape", 400, id="bad-escape"),
    pytest.param("/v2/credentials/{id}/extra", "fail", "more path after the id", 400, id="extra-segment"),
    pytest.param("/v2/credentials/{id_encoded}", "pass", "%-escapes in the path", 200, id="percent-encoded"),
]


def _probe(server: Server, home: str, env: dict[str, str], *args: str) -> Any:
    return run_probe(["--json", "--deadline", "4", *args], env, netns=server.name, secrets=server.task.secrets(), timeout=60)


@pytest.mark.parametrize("uri, status, words, http_status", MALFORMED)
def test_probe_names_a_malformed_uri(pair: tuple[Server, Server], home: str, uri: str, status: str, words: str, http_status: int) -> None:
    real, emu = pair
    t = real.task
    value = uri.format(id=t.credentials_id, id_encoded=t.credentials_id[:-1] + f"%{ord(t.credentials_id[-1]):02x}")
    checks = {}
    for server in (real, emu):
        before = len(server.audit_lines())
        run = _probe(server, home, t.env(home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=value))
        cred = run.check("endpoint.credentials")
        checks[server.kind] = cred
        assert cred["status"] == status, cred
        assert words in (cred["title"] + cred["detail"]), cred
        if status == "fail":
            assert cred["title"].startswith("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is malformed"), cred
            assert cred["data"]["status"] == http_status and cred["data"]["cause"] == "malformed-uri"
            assert "Set AWS_CONTAINER_CREDENTIALS_RELATIVE_URI back to what the agent gave" in cred["remedy"], cred
            # Not an agent or restart fix.
            for wrong in ("ECS_ENABLE_TASK_IAM_ROLE", "iptables", "Restart the task", "systemctl restart"):
                assert wrong not in cred["remedy"], cred["remedy"]
            assert "does not fix this" in cred["remedy"]
            assert run.report["summary"] == cred["title"] or run.report["cause"]["check"] in ("endpoint.credentials", "processes.credentials-variable")
        else:
            assert "something rewrote the variable" in cred["detail"], cred
        if server.kind == "real":
            assert len(server.audit_lines()) - before <= 1, "one credentials request per run"
    assert checks["real"]["title"] == checks["emulator"]["title"]
    assert checks["real"]["data"].get("uri_problems") == checks["emulator"]["data"].get("uri_problems")


def test_probe_reports_the_rate_limit(pair: tuple[Server, Server], home: str) -> None:
    real, emu = pair
    for server in (real, emu):
        cred = _probe(server, home, server.task.env(home)).check("endpoint.credentials")
        assert cred["status"] == "pass", cred
        assert cred["data"]["rate_limit"]["limit_per_second"] == 40.0 and cred["data"]["rate_limit"]["caller"].startswith(ADDR)
        assert "the agent allows 40 requests/s per caller address and path" in cred["detail"], cred


def test_probe_with_a_lowered_limit(workdir: str, home: str) -> None:
    task = Task()
    with Server("real", task, workdir, extra_args=("-rate", "10", "-burst", "15")) as real:
        cred = _probe(real, home, task.env(home)).check("endpoint.credentials")
    assert cred["data"]["rate_limit"]["limit_per_second"] == 10.0 and "lowered from the default 40" in cred["detail"], cred


def test_probe_when_the_agent_is_stopped(pair: tuple[Server, Server], home: str) -> None:
    real, emu = pair
    reports = {}
    for server in (real, emu):
        server.stop_agent()
        run = _probe(server, home, server.task.env(home))
        reports[server.kind] = run
        cred = run.check("endpoint.credentials")
        assert cred["status"] == "fail" and "refused" in cred["detail"], cred
        assert "Task metadata on the same address refuses connections too" in cred["remedy"], cred
    r, e = reports["real"], reports["emulator"]
    assert e.check("endpoint.task-metadata")["status"] == r.check("endpoint.task-metadata")["status"] == "warn"
    assert e.check("endpoint.task-metadata")["title"] == r.check("endpoint.task-metadata")["title"]
    assert e.report["task"] == r.report["task"]


def test_probe_with_a_pod_identity_uri_in_an_ecs_task(pair: tuple[Server, Server], home: str) -> None:
    real, emu = pair
    token_file = os.path.join(home, "token")
    with open(token_file, "w", encoding="utf-8") as fh:
        fh.write("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    for server in (real, emu):
        env = server.task.env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://{POD}/v1/credentials",
                              AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file)
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        cred = _probe(server, home, env).check("endpoint.credentials")
        assert cred["status"] == "fail" and "refused" in cred["detail"], cred
        assert "EKS Pod Identity Agent's address" in cred["remedy"] and "the ECS agent serves neither" in cred["remedy"], cred
