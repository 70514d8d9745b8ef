"""Facts that come from outside the probe's own observation, held to a shape.

- botocore never reads the authorization token file itself: the identity collector hands
  it the token the probe read once, size-capped and regular files only (issue 11, item 12).
- ``--facts FILE``: a saved file of the wrong shape, depth or size is refused at load
  with exit 2 and a message, never a crash or a check ``error`` (issue 11, item 18).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from probe.facts import identity
from probe.facts.endpoints import Observed
from probe.facts.environ import authorization_token

# ---------------------------------------------------------------------------------------
# Item 12: botocore never opens the token file
# ---------------------------------------------------------------------------------------

_OPENED: list[str] = []
_WATCHING: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _WATCHING and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if path in _WATCHING:
            _OPENED.append(path)


sys.addaudithook(_audit)


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """os.environ as in a task with a full URI; nothing reachable, nothing else to find."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO", "ECS_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")
    monkeypatch.setattr(identity, "_SESSION", None)
    return tmp_path


def _observed() -> Observed:
    return Observed(
        {"requested": True, "status": 200},
        {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "s" * 40, "Token": "t" * 40, "Expiration": "2099-01-01T00:00:00Z"},
    )


def _collect(path: str, pre_read: bool = True, timeout: float = 10) -> dict[str, Any]:
    """collect_identity in a thread; fails (and unblocks it) if it hangs."""
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path
    token = authorization_token(os.environ) if pre_read else None
    out: dict[str, Any] = {}
    _OPENED.clear()
    _WATCHING[:] = [path]

    def work() -> None:
        deadline = time.monotonic() + 3
        out.update(identity.collect_identity(_observed, deadline, token) if token is not None else identity.collect_identity(_observed, deadline))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    _WATCHING.clear()
    if worker.is_alive():
        if os.path.exists(path) and not os.path.isfile(path) and path.endswith("fifo"):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # let the stuck reader go
        pytest.fail("the identity collector blocked on the token file")
    return out


@pytest.mark.parametrize(
    "kind, expect",
    [
        pytest.param("regular", None, id="regular-file"),
        pytest.param("fifo", "not a regular file", id="fifo"),
        pytest.param("dev-zero", "not a regular file", id="dev-zero"),
        pytest.param("missing", "No such file", id="missing"),
        pytest.param("directory", "not a regular file", id="directory"),
        pytest.param("newline", "not a legal header value", id="line-break-in-file"),
    ],
)
def test_botocore_never_opens_the_token_file(container_env: Path, kind: str, expect: Optional[str]) -> None:
    path = str(container_env / f"token-{kind}")
    if kind == "regular":
        Path(path).write_text("the-token-value")
    elif kind == "newline":
        Path(path).write_text("the-token-value\n")
    elif kind == "fifo":
        path += "-fifo"
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "directory":
        os.mkdir(path)
    rec = _collect(path)
    assert _OPENED == [], "botocore opened the token file itself"
    if expect is None:
        # The chain got its credentials with the token and went on to STS (unreachable here).
        assert rec.get("provider") == "container-role" and "chain_error" not in rec, rec
        assert rec.get("sts_error")
    else:
        assert rec.get("chain_error_provider") == "container-role", rec
        assert expect in rec["chain_error"], rec


def test_without_a_token_record_the_collector_reads_the_file_safely(container_env: Path) -> None:
    """Called without the run's token record, the collector reads the file itself, the
    probe's way (a FIFO is refused at once), never botocore's."""
    path = str(container_env / "token-fifo")
    os.mkfifo(path)
    rec = _collect(path, pre_read=False)
    assert "not a regular file" in rec["chain_error"], rec


def test_the_token_variable_still_works_without_a_file(container_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\r\nvalue")
    monkeypatch.delenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", raising=False)
    rec = identity.collect_identity(_observed, time.monotonic() + 3, authorization_token(os.environ))
    assert "not a legal header value" in rec["chain_error"], rec
