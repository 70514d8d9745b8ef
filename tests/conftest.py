"""Test-wide set-up: the network guard (see _guard/netguard.py) and shared fixtures."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_guard"))
import netguard  # noqa: E402

_GUARD_LOG = tempfile.NamedTemporaryFile(prefix="probe-netguard-", suffix=".log", delete=False)
_GUARD_LOG.close()
os.environ["PROBE_TEST_GUARD_LOG"] = _GUARD_LOG.name
os.environ["PROBE_TEST_HOST_NETNS"] = os.readlink("/proc/self/ns/net")
_GUARD_SETTINGS = "/tmp/ecs-credential-probe-test-guard.json"  # sitecustomize.py reads it
with open(_GUARD_SETTINGS, "w", encoding="utf-8") as _fh:
    json.dump({k: os.environ[k] for k in ("PROBE_TEST_GUARD_LOG", "PROBE_TEST_HOST_NETNS")}, _fh)
netguard.install()
# Every test's tmp_path lives here, and the whole folder goes at the end of the session:
# the suite leaves nothing behind in /tmp. World-traversable, for the tests that run a
# process as nobody.
_SESSION_TMP = tempfile.mkdtemp(prefix="ecs-credential-probe-tests-")
os.chmod(_SESSION_TMP, 0o755)


def pytest_configure(config: pytest.Config) -> None:
    if not config.option.basetemp:
        config.option.basetemp = os.path.join(_SESSION_TMP, "pytest")


# The suites that run the real probe, shim or SDKs as processes, in the namespaces (PID,
# network, mount) or containers they make as root: the slow part of the suite. They carry the
# `netns` marker, so `pytest -m "not netns"` is the quick subset (the judgement, redaction,
# prediction and parsing tests; under a minute).
PROCESS_SUITES = frozenset({
    "test_audit", "test_cli", "test_containers", "test_demo", "test_emulator_probe", "test_explain", "test_hostile_endpoints",
    "test_hostile_output", "test_netns", "test_probe_sh", "test_sdk", "test_sdk_matrix", "test_shim",
    "test_shim_hostile", "test_sidecar", "test_target", "test_taskdef_trust",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__.rsplit(".", 1)[-1] in PROCESS_SUITES:
            item.add_marker(pytest.mark.netns)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)
    for path in (_GUARD_LOG.name, _GUARD_SETTINGS):
        try:
            os.unlink(path)
        except OSError:
            pass


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[None]:
    """Fail any test during which a process tried to reach 169.254.0.0/16 outside a namespace."""
    with open(_GUARD_LOG.name, "w", encoding="utf-8"):
        pass
    yield
    with open(_GUARD_LOG.name, encoding="utf-8") as fh:
        violations = fh.read()
    assert not violations, "network guard:\n" + violations


@pytest.fixture
def home(tmp_path: "os.PathLike[str]") -> str:
    path = os.path.join(str(tmp_path), "home")
    os.makedirs(path)
    return path
