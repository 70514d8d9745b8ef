"""Hostile answers never reach the user's terminal or leak a secret (issue 11, items 3, 4, 6).

A small server on loopback plays every endpoint the probe reads (credentials, task
metadata, IMDS, STS) and answers with what a broken or hostile peer might send: terminal
escapes and newlines that would forge a report line, secrets inside error bodies in JSON,
XML or form encoding, full access key ids in a malformed answer. The unmodified probe runs
as a process against it; its text report and saved files are checked byte for byte.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Optional

import pytest

from helpers import clean_env, run_probe

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


