"""The package as a packager sees it (issue 13): a license, complete sdist, declared floors.

The sdist and the wheel are built in-process with setuptools' PEP 517 backend, from a copy
of the checkout, so nothing is written into the tree."""

from __future__ import annotations

import os
import stat
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


from helpers import need

REPO = Path(__file__).resolve().parent.parent


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a build from a clean checkout would not see: virtual environments (.venv,
    .venv-lowest, ...), VCS and build output, caches, and anything that is not a plain file or
    folder (a FIFO or socket a test or a tool left would block or fail the copy)."""
    skip = set()
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith((".venv", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache")) or name in ("__pycache__", "build", "dist"):
            skip.add(name)
        elif name.endswith(".egg-info") or not (stat.S_ISREG(os.lstat(path).st_mode) or stat.S_ISDIR(os.lstat(path).st_mode) or os.path.islink(path)):
            skip.add(name)
    return skip


def _build(kind: str, tmp: Path) -> Path:
    try:
        import setuptools
        from packaging.version import Version
    except ImportError:  # pragma: no cover
        need(False, "needs setuptools")
    need(Version(setuptools.__version__) >= Version("77"), "needs setuptools >= 77 (the test extra installs it)")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_not_sources, symlinks=True)
    out = tmp / "dist"
    code = f"from setuptools import build_meta as b; print(b.build_{kind}({str(out)!r}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / proc.stdout.strip().splitlines()[-1]


def test_license_text_and_spdx_expression() -> None:
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in pyproject and "license = {" not in pyproject


def test_sdist_is_complete_and_its_tests_run(tmp_path: Path) -> None:
    sdist = _build("sdist", tmp_path)
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
        tf.extractall(tmp_path / "unpacked", filter="data") if sys.version_info >= (3, 12) else tf.extractall(tmp_path / "unpacked")
    for needed in (
        "LICENSE", "README.md", "pyproject.toml", "Dockerfile.example", "shim/ecs-shim.sh", "tests/conftest.py",
        "tests/helpers.py", "tests/_guard/netguard.py", "tests/_guard/sitecustomize.py", "examples/task-definition.json",
        "docs/SDK_MODEL.md", "tests/sdk_matrix/setup.sh", ".ci/run",
    ):
        assert needed in names, f"{needed} missing from the sdist"
    # Every file the repository tracks is in it (the container suite's containers.conf was not).
    if (REPO / ".git").exists() and shutil.which("git"):
        tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
        missing = [f for f in tracked if f not in names and f != ".gitignore"]
        assert not missing, f"tracked but missing from the sdist: {missing}"
    root = next((tmp_path / "unpacked").iterdir())
    # The unpacked sdist's own tests run (the pure ones: the namespace suites need root and time).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_checks.py", "tests/test_predict.py", "tests/test_causes.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout


def test_wheel_metadata_floors_and_license(tmp_path: Path) -> None:
    wheel = _build("wheel", tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode()
        names = zf.namelist()
    assert "License-Expression: Apache-2.0" in meta
    assert any(n.endswith("licenses/LICENSE") for n in names)
    for floor in ("botocore>=1.33.0", "psutil>=5.8"):
        assert f"Requires-Dist: {floor}" in meta, floor
    # Declared means used: the probe imports botocore, never boto3 (the tests' apps do).
    assert "Requires-Dist: boto3>=1.33.0; extra == \"test\"" in meta
    assert not [line for line in meta.splitlines() if line.startswith("Requires-Dist: boto3") and "extra ==" not in line]
    # Likewise the probe's HTTP is http.client (bounded, no proxy variables).
    assert "Requires-Dist: requests" not in meta
    constraints = (REPO / "tests" / "constraints-lowest.txt").read_text()
    for pin in ("boto3==1.33.0", "botocore==1.33.0", "psutil==5.8.0"):
        assert pin in constraints


def test_the_twins_ship_in_the_wheel_and_print_themselves(tmp_path: Path) -> None:
    """`pip install` then `shim --print-sh > /usr/local/bin/ecs-shim` (issue 12, item 4)."""
    wheel = _build("wheel", tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {"shim/ecs-shim.sh", "probe/probe.sh"} <= names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # --no-deps: nothing is fetched; printing the twins needs no dependency.
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    for command, source in ((["shim", "--print-sh"], REPO / "shim" / "ecs-shim.sh"), (["probe", "--print-sh"], REPO / "probe" / "probe.sh")):
        out = subprocess.run([str(venv / "bin" / command[0]), *command[1:]], capture_output=True, env=clean, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout == source.read_bytes(), f"{command[0]} --print-sh differs from {source.name}"
