"""The network guard itself: link-local addresses are refused outside a test namespace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from helpers import clean_env


def _drain_log() -> str:
    path = os.environ["PROBE_TEST_GUARD_LOG"]
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    open(path, "w").close()  # the violation was on purpose: keep the autouse check green
    return text


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.170.2"])
def test_guard_refuses_in_process(address: str) -> None:
    s = socket.socket()
    try:
        with pytest.raises(PermissionError, match="network guard"):
            s.connect((address, 80))
    finally:
        s.close()
    assert f"tried to connect to {address}" in _drain_log()


def test_guard_refuses_in_child_processes(home: str) -> None:
    code = "import socket; s = socket.socket(); s.connect(('169.254.170.2', 80))"
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(home), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "network guard" in proc.stderr
    assert "tried to connect to 169.254.170.2" in _drain_log()


def test_guard_lets_loopback_through() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    try:
        client.connect(server.getsockname())
    finally:
        client.close()
        server.close()
