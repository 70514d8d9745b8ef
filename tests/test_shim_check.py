"""shim.profile: the real collector over real profile files and a /proc/1/environ."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

import pytest

from probe import checks
from probe.facts import Facts
from probe.facts.shim import collect_shim
from probe.model import Status
from shim.profile import render_block, update_file

checks.load("task")
URI = "/v2/credentials/6e1f0c4a-3b1d-4c55-9e0b-6f4c2a1d9b77"
PID1 = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1", "PATH": "/usr/bin"}


def judge(tmp_path: Path, profiles: Mapping[str, Optional[Mapping[str, str]]], pid1: Optional[Mapping[str, str]]):
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    if pid1 is not None:
        (proc / "1" / "environ").write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in pid1.items()))
    paths = []
    for name, values in profiles.items():
        path = tmp_path / name
        paths.append(str(path))
        if values is not None:
            update_file(str(path), render_block(values), whole=name.endswith(".sh"))
    record = collect_shim(str(tmp_path), proc=str(proc), paths=paths)
    return checks.REGISTRY["shim.profile"].fn(Facts(data={"shim": record})), record


PASSING = [
    pytest.param({"ecs-credentials.sh": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1"}}, id="profile-d-matches"),
    pytest.param(
        {"ecs-credentials.sh": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1"}, ".profile": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1"}},
        id="both-match",
    ),
]
FAILING = [
    pytest.param({"ecs-credentials.sh": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/00000000-old-task", "AWS_REGION": "eu-west-1"}}, "differs", id="stale-id"),
    pytest.param({"ecs-credentials.sh": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1", "ECS_AGENT_URI": "http://x"}}, "not in PID 1", id="extra-var"),
    pytest.param({".profile": {"AWS_REGION": "eu-west-1"}}, "lacks AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", id="missing-var"),
]


@pytest.mark.parametrize("profiles", PASSING)
def test_passes_when_profiles_match(tmp_path: Path, profiles) -> None:
    out, _ = judge(tmp_path, profiles, PID1)
    assert out.status is Status.PASS, out.detail
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in out.detail


@pytest.mark.parametrize("profiles, problem", FAILING)
def test_fails_when_a_profile_disagrees(tmp_path: Path, profiles, problem: str) -> None:
    out, record = judge(tmp_path, profiles, PID1)
    assert out.status is Status.FAIL
    assert problem in out.detail and "ENTRYPOINT" in out.remedy
    # Only comparisons are recorded, never the values.
    assert URI not in str(record) and "00000000-old-task" not in str(record)


def test_skips_without_a_shim_profile(tmp_path: Path) -> None:
    (tmp_path / ".profile").write_text("export PATH=/usr/bin\n")
    out, _ = judge(tmp_path, {".profile": None, "ecs-credentials.sh": None}, PID1)
    assert out.status is Status.SKIP and "not in use" in out.detail


def test_skips_when_pid1_is_unreadable(tmp_path: Path) -> None:
    out, _ = judge(tmp_path, {"ecs-credentials.sh": {"AWS_REGION": "eu-west-1"}}, None)
    assert out.status is Status.SKIP and "cannot read" in out.detail


def test_a_symlinked_profile_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text(render_block({"AWS_REGION": "us-east-1"}))
    os.symlink(target, tmp_path / ".profile")
    out, _ = judge(tmp_path, {".profile": None}, PID1)
    assert out.status is Status.SKIP
