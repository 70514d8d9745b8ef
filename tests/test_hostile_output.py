"""Hostile answers never reach the user's terminal or leak a secret (issue 11, items 3, 4, 6).

A small server on loopback plays every endpoint the probe reads (credentials, task
metadata, IMDS, STS) and answers with what a broken or hostile peer might send: terminal
escapes and newlines that would forge a report line, secrets inside error bodies in JSON,
XML or form encoding, full access key ids in a malformed answer. The unmodified probe runs
as a process against it; its text report and saved files are checked byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator, Optional

import pytest

from helpers import IMPLEMENTED_TASK_IDS, assert_no_secrets, clean_env, need, netns_available, run_probe

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9SECRET"
TOKEN = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDtoken0123456789"
KEY_ID = "ASIAQWERTYUIOPASDF12"
ESCAPES = "\x1b[2K\x1b]0;pwned\x07\x00\x9b"
FORGED = "\n[PASS] identity.task-role               The application gets the task role forged"
CONTROL = ("\x1b", "\x07", "\x00", "\x9b")

Answer = tuple[int, str, bytes]  # status, content type, body


class Hostile:
    """One loopback server; ``answers[path]`` decides each answer (else 404)."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.raw: dict[str, bytes] = {}  # path -> bytes sent as they are (no status line)
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in hostile.raw:
                    self.wfile.write(hostile.raw[path])
                    self.close_connection = True
                    return
                status, ctype, body = hostile.answers.get(path, (404, "text/plain", b"404 page not found\n"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(min(length, 65536))
                self._answer()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    h = Hostile()
    yield h
    h.close()


def task_env(h: Hostile, home: str, **extra: str) -> dict[str, str]:
    return clean_env(
        home,
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{h.url}/v2/credentials/0b9d2a7c",
            "ECS_CONTAINER_METADATA_URI_V4": f"{h.url}/v4/meta",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{h.url}/",
            "AWS_ENDPOINT_URL_STS": f"{h.url}/sts",
            "AWS_REGION": "us-east-1",
            **extra,
        },
    )


def credentials_ok() -> Answer:
    doc = {"RoleArn": "arn:aws:iam::123456789012:role/app", "AccessKeyId": KEY_ID, "SecretAccessKey": SECRET, "Token": TOKEN, "Expiration": "2099-01-01T00:00:00Z"}
    return 200, "application/json", json.dumps(doc).encode()


def j(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def probe_both(h: Hostile, home: str, **extra: str) -> tuple[str, dict[str, Any]]:
    env = task_env(h, home, **extra)
    text = run_probe(["--no-color", "--deadline", "4"], env, secrets=[SECRET, TOKEN]).stdout
    report = run_probe(["--json", "--deadline", "4"], env, secrets=[SECRET, TOKEN]).report
    return text, report


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def assert_terminal_clean(text: str) -> None:
    for ch in CONTROL:
        assert ch not in text, f"raw {ch!r} reached the text report"
    forged = [line for line in text.splitlines() if line.startswith("[PASS] identity.task-role") and "forged" in line]
    assert not forged, forged


# Every place a string from outside reaches the text report: (set-up, where it shows in JSON).
SOURCES: list[Any] = [
    pytest.param(lambda h: h.answers.update({"/v2/credentials/0b9d2a7c": (400, "application/json", j({"code": "InvalidIdInRequest" + ESCAPES, "message": "Credentials not found" + ESCAPES + FORGED}))}), "endpoint.credentials", id="400-json-body"),
    pytest.param(lambda h: h.answers.update({"/v2/credentials/0b9d2a7c": (500, "text/plain", ("boom" + ESCAPES + FORGED).encode("latin-1"))}), "endpoint.credentials", id="500-text-body"),
    pytest.param(lambda h: h.answers.update({"/v2/credentials/0b9d2a7c": (429, "text/plain", ("You have reached maximum request limit." + ESCAPES + FORGED).encode("latin-1"))}), "endpoint.credentials", id="429-body"),
    pytest.param(
        lambda h: h.answers.update(
            {
                "/v2/credentials/0b9d2a7c": credentials_ok(),
                "/latest/api/token": (200, "text/plain", b"tok"),
                "/latest/meta-data/iam/security-credentials/": (200, "text/plain", b"ecsInstanceRole"),
                "/latest/meta-data/iam/security-credentials/ecsInstanceRole": (200, "text/plain", j({"Code": "Success", "AccessKeyId": "ASIAZZZZZZZZZZZZZZZZ", "SecretAccessKey": "x" * 40, "Token": "y" * 60})),
                "/latest/meta-data/instance-id": (200, "text/plain", ("i-0abc" + ESCAPES + FORGED).encode("latin-1")),
            }
        ),
        "imds.instance-role",
        id="imds-instance-id",
    ),
    pytest.param(
        lambda h: h.answers.update(
            {
                "/v2/credentials/0b9d2a7c": credentials_ok(),
                "/v4/meta": (200, "application/json", j({"Name": "app" + ESCAPES, "Networks": [{"NetworkMode": "awsvpc"}]})),
                "/v4/meta/task": (200, "application/json", j({"Cluster": "prod" + ESCAPES + FORGED, "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc", "Family": "web", "Revision": "1"})),
            }
        ),
        "endpoint.task-metadata",
        id="metadata-cluster",
    ),
]


@pytest.mark.parametrize("setup, check_id", SOURCES)
def test_external_strings_are_escaped_for_the_terminal(hostile: Hostile, home: str, setup: Callable[[Hostile], None], check_id: str) -> None:
    setup(hostile)
    text, report = probe_both(hostile, home)
    assert_terminal_clean(text)
    assert "\\x1b" in text, "the escape is shown, not dropped"
    # JSON stays exact: the same string, control characters and all, somewhere in the report.
    assert any("\x1b" in v for v in _strings(report)), f"JSON lost the original string ({check_id})"


@pytest.mark.parametrize(
    "ctype, body",
    [
        pytest.param("application/json", j({"Code": "InternalError", "SecretAccessKey": SECRET, "Token": TOKEN}), id="json"),
        pytest.param("text/xml", f"<ErrorResponse><Error><SecretAccessKey>{SECRET}</SecretAccessKey><Token>{TOKEN}</Token></Error></ErrorResponse>".encode(), id="xml"),
        pytest.param("application/x-www-form-urlencoded", f"SecretAccessKey={SECRET}&Token={TOKEN}&Code=InternalError".encode(), id="form"),
        pytest.param("text/plain", f"aws_secret_access_key = {SECRET}\naws_session_token={TOKEN}".encode(), id="ini"),
        pytest.param("text/plain", f"{{'SecretAccessKey': '{SECRET}', 'SessionToken': '{TOKEN}'}}".encode(), id="python-repr"),
    ],
)
def test_secrets_in_error_bodies_are_masked(hostile: Hostile, home: str, ctype: str, body: bytes) -> None:
    """The probe never saw these secrets (no 200 answer): the fields' names must be enough."""
    hostile.answers["/v2/credentials/0b9d2a7c"] = (500, ctype, body)
    text, report = probe_both(hostile, home)  # run_probe scans every output for SECRET and TOKEN
    assert "****" in text + json.dumps(report)


def _raw_json_without_status_line() -> bytes:
    return json.dumps({"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET, "Token": TOKEN}).encode() + b"\r\n\r\n"


def test_a_full_access_key_id_never_shows(hostile: Hostile, home: str) -> None:
    """No status line: http.client's BadStatusLine quotes the first line, key id and all."""
    hostile.raw["/v2/credentials/0b9d2a7c"] = _raw_json_without_status_line()
    text, report = probe_both(hostile, home)
    assert KEY_ID not in text and KEY_ID not in json.dumps(report)
    assert KEY_ID[-4:] in text + json.dumps(report) or "****" in text


def test_sts_that_echoes_the_signature_header(hostile: Hostile, home: str) -> None:
    """An STS (or a proxy in front of it) that quotes the request's Authorization header."""
    hostile.answers["/v2/credentials/0b9d2a7c"] = credentials_ok()
    echo = f"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>Authorization: AWS4-HMAC-SHA256 Credential={KEY_ID}/20261201/us-east-1/sts/aws4_request</Message></Error></ErrorResponse>"
    hostile.answers["/sts"] = (403, "text/xml", echo.encode())
    hostile.answers["/sts/"] = (403, "text/xml", echo.encode())
    text, report = probe_both(hostile, home)
    blob = text + json.dumps(report)
    assert KEY_ID not in blob
    assert "****" + KEY_ID[-4:] in blob


def test_terminal_safe_covers_every_control_character() -> None:
    from probe.render.text import terminal_safe

    for code in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)) + [0x2028, 0x2029]:
        out = terminal_safe(f"a{chr(code)}b")
        assert chr(code) not in out and out.startswith("a") and out.endswith("b"), hex(code)
    assert terminal_safe("plain text · é ü") == "plain text · é ü"


# ---------------------------------------------------------------------------------------
# Issue 19, items 5 and 6: hostile values from the endpoints, through every output
#
# Item 5: an unclosed <Token>, <SecretAccessKey ...> or <SessionToken> in a role name, an
# error message, a RoleArn or a task Family made the redactor mask to the end of the
# document: the text report stopped mid-line with no Verdict line, /metrics was cut mid-label.
# Item 6: the redactor was quadratic on a run of letters: a 20-40 kB RoleArn, role name or
# Cluster made `--deadline 2` runs take 5-16 s.
#
# probe.emulator serves them on the loopback of a network namespace of the test's own (the
# probe runs there too: nothing of this machine's link-local addresses is in reach), with
# some answers replaced by canned ones. Each run must finish within its deadline + 1.5 s
# (generous for a loaded 2-core machine: a normal run takes well under one second) and keep
# every line, label and key of its output.
# ---------------------------------------------------------------------------------------

NS_AGENT, NS_IMDS, NS_STS = "127.0.0.1:18080", "127.0.0.1:18081", "127.0.0.1:18082"
DEADLINE = 2.0
MARGIN = 1.5  # a run with --deadline D ends within D + MARGIN, start-up included
BIG = 30 * 1024  # a 30 kB run of letters: the old redactor took seconds per scrub on it
TAGS = {
    "token": "<Token>",
    "secret-access-key": '<SecretAccessKey Type="AWS-HMAC">',  # no "/" or ":": an ARN's role name keeps it
    "session-token": "<SessionToken>",
}
# What follows the tag: a secret-looking value, then the rest of the role name.
AFTER_TAG = "IQoJb3JpZ2luX2VjEJrPART"


def hostile_name(tag: str, size: int = BIG) -> str:
    """A role, cluster or family name: a long run of letters, the unclosed tag, a value."""
    return "r" * size + tag + AFTER_TAG + "x" * 64


def xml_text(value: str) -> str:
    """``value`` as XML character data (the emulator's STS puts the ARN in its XML as it is)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class HostileTask:
    """A network namespace with only loopback, and this file run as a script inside it
    (``serve``): probe.emulator with the given state, some answers canned."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.name = f"ecp-r19-{uuid.uuid4().hex[:8]}"
        self.key_id = "ASIA" + uuid.uuid4().hex[:16].upper()
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.token = "IQoJ" + (uuid.uuid4().hex * 4)
        self.state = {
            "credentials_id": uuid.uuid4().hex,
            "container_id": uuid.uuid4().hex + "-1234567890",
            "imds_enabled": False,
            **state,
        }
        self.state.setdefault("task_role", {})
        self.state["task_role"] = {
            "RoleArn": "arn:aws:iam::123456789012:role/app",
            **self.state["task_role"],
            "AccessKeyId": self.key_id,
            "SecretAccessKey": self.secret,
            "Token": self.token,
        }
        # "ROLE PATH" (role: agent, imds or sts) -> [status, content type, body]
        self.answers: dict[str, list[Any]] = {}
        self.proc: Optional["subprocess.Popen[str]"] = None
        self.spec = ""

    def task_metadata(self, cluster: str = "prod", family: str = "web") -> None:
        """Task metadata with this Cluster and Family, each once (the emulator repeats the
        cluster in the task ARN and the container's labels: over the probe's 64 KiB limit)."""
        cid = self.state["container_id"]
        container = {"DockerId": cid, "Name": "app", "Networks": [{"NetworkMode": "awsvpc"}]}
        task = {
            "Cluster": cluster,
            "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/prod/" + cid[:32],
            "Family": family,
            "Revision": "1",
            "LaunchType": "EC2",
            "AvailabilityZone": "us-east-1a",
            "Containers": [container],
        }
        self.answers[f"agent /v4/{cid}"] = [200, "application/json", json.dumps(container)]
        self.answers[f"agent /v4/{cid}/task"] = [200, "application/json", json.dumps(task)]

    def sts_arn(self, arn: str) -> None:
        """What the STS stand-in answers for the task's key."""
        self.state["sts_identities"] = {self.key_id: xml_text(arn)}

    def __enter__(self) -> "HostileTask":
        why = netns_available()
        need(why is None, why or "")
        fd, self.spec = tempfile.mkstemp(prefix="ecp-r19-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"state": self.state, "answers": self.answers}, fh)
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True, timeout=30)
        try:
            subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True, capture_output=True, timeout=30)
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.name, sys.executable, os.path.abspath(__file__), "serve", self.spec],
                env=clean_env("/tmp"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            assert line.startswith("READY"), line + (self.proc.stderr.read() if self.proc.stderr else "")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        if self.spec:
            os.unlink(self.spec)

    def env(self, home: str) -> dict[str, str]:
        return clean_env(
            home,
            {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{NS_AGENT}/v2/credentials/{self.state['credentials_id']}",
                "ECS_CONTAINER_METADATA_URI_V4": f"http://{NS_AGENT}/v4/{self.state['container_id']}",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{NS_IMDS}/",
                "AWS_ENDPOINT_URL_STS": f"http://{NS_STS}",
                "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        )

    @property
    def secrets(self) -> list[str]:
        return [self.secret, self.token]


def serve(spec_path: str) -> int:
    """Inside the namespace: probe.emulator on its loopback, with the spec's state, and the
    spec's answers ("ROLE PATH": [status, content type, body]) in place of the emulator's."""
    from probe import emulator

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    canned: dict[str, list[Any]] = spec.get("answers") or {}

    def patch(method: str) -> None:
        original = getattr(emulator.Handler, method)

        def answer(self: Any) -> None:
            hit = canned.get(f"{self.role} {self.path.split('?', 1)[0]}")
            if hit is None:
                return original(self)
            if self.command == "POST":
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, ctype, body = hit
            self._send(status, body.encode(), ctype)

        setattr(emulator.Handler, method, answer)

    for method in ("do_GET", "do_PUT", "do_POST"):
        patch(method)
    emu = emulator.Emulator(NS_AGENT, NS_IMDS, NS_STS, emulator.State(**spec["state"])).start()
    print("READY", flush=True)
    sys.stdin.read()  # until the test closes stdin
    emu.stop()
    return 0


def assert_whole_text_report(text: str, ids: Iterable[str] = IMPLEMENTED_TASK_IDS) -> None:
    """Each check's line, the Verdict line and the summary after it."""
    lines = text.splitlines()
    assert text.endswith("\n")
    for cid in ids:
        assert any(line.startswith("[") and line.split()[1:2] == [cid] for line in lines), f"no line for {cid}:\n{text[-2000:]}"
    verdicts = [i for i, line in enumerate(lines) if line.startswith("Verdict: ")]
    assert verdicts and verdicts[-1] == len(lines) - 2, text[-2000:]


def assert_masked_after_tag(value: Any, tag: str) -> None:
    """A hostile name as the report shows it: all of it up to the tag, the value masked."""
    assert isinstance(value, str) and tag in value, value
    head, _, tail = value.partition(tag)
    assert head.endswith("r" * 100)
    assert tail.startswith("****") and AFTER_TAG not in tail, tail[:200]


def _big_role(task: HostileTask, tag: str) -> str:
    """The same hostile role name in the RoleArn and in STS's answer (the task role)."""
    name = hostile_name(tag)
    task.state["task_role"]["RoleArn"] = f"arn:aws:iam::123456789012:role/{name}"
    task.sts_arn(f"arn:aws:sts::123456789012:assumed-role/{name}/{task.state['credentials_id'][:16]}")
    return name


def _everywhere(task: HostileTask, tag: str) -> None:
    _big_role(task, tag)
    task.task_metadata(cluster=hostile_name(tag), family=hostile_name(tag))


# Where the hostile name goes.
PLACES: dict[str, Callable[[HostileTask, str], None]] = {
    "role-arn": lambda t, tag: t.state["task_role"].update(RoleArn="arn:aws:iam::123456789012:role/" + hostile_name(tag)),
    "role-name": lambda t, tag: t.sts_arn(f"arn:aws:sts::123456789012:assumed-role/{hostile_name(tag)}/session"),
    "cluster": lambda t, tag: t.task_metadata(cluster=hostile_name(tag)),
    "family": lambda t, tag: t.task_metadata(family=hostile_name(tag)),
    "all": _everywhere,
}


def _hostile_task(place: str, tag: str) -> HostileTask:
    task = HostileTask({})
    task.sts_arn(f"arn:aws:sts::123456789012:assumed-role/app/{task.state['credentials_id'][:16]}")
    PLACES[place](task, tag)
    return task


@pytest.mark.parametrize("tag", list(TAGS.values()), ids=list(TAGS))
@pytest.mark.parametrize("place", list(PLACES))
def test_hostile_names_keep_the_reports_whole_within_the_deadline(home: str, place: str, tag: str) -> None:
    with _hostile_task(place, tag) as task:
        env = task.env(home)
        text = run_probe(["--no-color", "--deadline", str(DEADLINE)], env, netns=task.name, secrets=task.secrets)
        assert text.wall <= DEADLINE + MARGIN, f"the text run took {text.wall:.1f} s"
        assert_whole_text_report(text.stdout)
        assert tag + "****" in text.stdout
        doc = run_probe(["--json", "--deadline", str(DEADLINE)], env, netns=task.name, secrets=task.secrets)
        assert doc.wall <= DEADLINE + MARGIN, f"the JSON run took {doc.wall:.1f} s"
    report = doc.report
    assert [c["id"] for c in report["checks"] if c["id"] in IMPLEMENTED_TASK_IDS] == IMPLEMENTED_TASK_IDS
    if place in ("role-name", "all"):
        assert_masked_after_tag(report["identity"]["role_name"], tag)
    if place in ("role-arn", "all"):
        assert_masked_after_tag(report["identity"]["task_role_arn"], tag)
    if place in ("cluster", "all"):
        assert_masked_after_tag(report["task"]["cluster"], tag)
    if place == "family":
        assert any(tag + "****" in c["title"] + c["detail"] for c in report["checks"])


@pytest.mark.parametrize("where", ["credentials-endpoint", "sts"])
def test_a_hostile_error_message_keeps_the_report_whole(home: str, where: str) -> None:
    """An unclosed tag in the credentials endpoint's error message, or in STS's."""
    tag = TAGS["secret-access-key"]
    message = "Credentials failed " + tag + AFTER_TAG + " and more words"
    task = HostileTask({})
    task.sts_arn("arn:aws:sts::123456789012:assumed-role/app/session")
    if where == "sts":
        body = f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{xml_text(message)}</Message></Error></ErrorResponse>"
        task.answers["sts /"] = [403, "text/xml", body]
    else:
        task.answers[f"agent /v2/credentials/{task.state['credentials_id']}"] = [500, "application/json", j({"code": "InternalServerError", "message": message}).decode()]
    with task:
        text = run_probe(["--no-color", "--deadline", str(DEADLINE)], task.env(home), netns=task.name, secrets=task.secrets)
        doc = run_probe(["--json", "--deadline", str(DEADLINE)], task.env(home), netns=task.name, secrets=task.secrets)
    assert text.wall <= DEADLINE + MARGIN and doc.wall <= DEADLINE + MARGIN
    assert_whole_text_report(text.stdout)
    assert tag + "**** and more words" in " ".join(text.stdout.split())
    assert AFTER_TAG not in text.stdout + doc.stdout
    assert any(tag + "**** and more words" in c["detail"] for c in doc.report["checks"])


def test_the_sidecar_serves_hostile_names_whole(home: str) -> None:
    """probe watch --emf: the first run within its deadline; /report, /metrics (promtool) and
    the EMF line whole, the tag's value masked in each."""
    from test_metrics import families, promtool_check
    from test_sidecar import Watch, http_get

    tag = TAGS["token"]
    with _hostile_task("all", tag) as task:
        started = time.monotonic()
        watch = Watch(["--interval", "60", "--listen", "127.0.0.1:9471", "--deadline", str(DEADLINE), "--emf"], task.env(home), netns=task.name)
        try:
            watch.wait_runs(1, timeout=60)
            first = time.monotonic() - started
            _, report = http_get("http://127.0.0.1:9471/report", netns=task.name)
            status, metrics = http_get("http://127.0.0.1:9471/metrics", netns=task.name)
            _, health = http_get("http://127.0.0.1:9471/healthz", netns=task.name)
        finally:
            rc = watch.stop()[0]
    assert rc == 0
    assert first <= DEADLINE + MARGIN, f"the sidecar's first run took {first:.1f} s"
    assert_no_secrets([report.decode(), metrics.decode(), health.decode(), *watch.lines, *watch.err_lines], task.secrets)
    doc = json.loads(report)
    assert [c["id"] for c in doc["checks"] if c["id"] in IMPLEMENTED_TASK_IDS] == IMPLEMENTED_TASK_IDS
    assert_masked_after_tag(doc["identity"]["role_name"], tag)
    assert_masked_after_tag(doc["task"]["cluster"], tag)
    assert json.loads(health)["verdict"] in ("pass", "warn", "fail")
    assert status == 200
    promtool_check(metrics)
    fams = families(metrics)
    for name in ("check_status", "verdict", "identity_info", "runs", "failures", "last_run_timestamp_seconds"):
        assert "ecs_credential_probe_" + name in fams, sorted(fams)
    (identity,) = fams["ecs_credential_probe_identity_info"].samples
    assert_masked_after_tag(identity.labels["role"], tag)
    assert {s.labels["check"] for s in fams["ecs_credential_probe_check_status"].samples} >= set(IMPLEMENTED_TASK_IDS)
    (line,) = watch.lines
    emf = json.loads(line)
    assert_masked_after_tag(emf["Cluster"], tag)
    assert_masked_after_tag(emf["TaskFamily"], tag)
    # Whatever else of the run the record carries (the report, or a summary of it).
    assert AFTER_TAG not in line
    for value in _strings(emf):
        if tag in value:
            assert_masked_after_tag(value, tag)


@pytest.mark.parametrize("gets_it", [True, False], ids=["task-role-comes", "never-comes"])
def test_probe_wait_with_hostile_names_ends_on_time(home: str, gets_it: bool) -> None:
    """`probe wait --timeout 3` with hostile role names: done at the first run when the task
    role comes; else it polls (static keys in the environment shadow the task role, and STS
    names another hostile role for them), then explains, within its timeout + 1.5 s."""
    tag = TAGS["session-token"]
    task = HostileTask({})
    name = _big_role(task, tag)
    extra: dict[str, str] = {}
    if not gets_it:
        key = "AKIA" + uuid.uuid4().hex[:16].upper()
        extra = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex}
        task.state["sts_identities"][key] = xml_text(f"arn:aws:sts::123456789012:assumed-role/{name}-other/session")
    timeout = 3.0
    with task:
        env = {**task.env(home), **extra}
        run = run_probe(["wait", "--timeout", str(timeout), "--deadline", str(DEADLINE), "--no-color"], env, netns=task.name, secrets=[*task.secrets, *extra.values()])
    # The failing wait's last diagnosis gets at least 0.5 s whatever is left (sidecar.wait).
    limit = timeout + MARGIN + (0 if gets_it else 0.5)
    assert run.wall <= limit, f"probe wait --timeout {timeout:g} took {run.wall:.1f} s"
    # At the first run, only the checks `wait` runs (sidecar.WAIT_CHECKS); else a full diagnosis.
    assert_whole_text_report(run.stdout, ["endpoint.credentials", "identity.caller", "identity.task-role"] if gets_it else IMPLEMENTED_TASK_IDS)
    assert tag + "****" in run.stdout
    if gets_it:
        assert run.rc == 0, run.stdout[-2000:]
    else:
        assert run.rc != 0
        assert "probe: waiting for the task role" in run.stderr


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    raise SystemExit(serve(sys.argv[2]))
