"""`sdks[].used_by` over real processes and real SDK packages, and the Rust scan over a
real rustc binary.

The processes run in a fresh PID and network namespace (`unshare --net --pid --fork
--mount-proc`): the probe's survey sees only them, and nothing can reach a link-local
address. The SDK scan is pointed at the test's folder with --sdk-root (without it the
probe walks "/", which takes far longer than a test may); that makes the roots "named",
which changes only whether an unused SDK counts for the checks, not `used_by`, which is
computed from the process survey either way (probe/predict.py, `used_by`).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from helpers import clean_env, need

MATRIX = "/var/cache/ecs-credential-probe/sdk-matrix"
JS_OLD = os.path.join(MATRIX, "js-v2-2.4.6", "node_modules")
JS_LATEST = os.path.join(MATRIX, "js-v2-latest", "node_modules", "aws-sdk")
PY27_TARGET = os.path.join(MATRIX, "py27-botocore-1.4.37")
PY27 = "/root/.pyenv/versions/2.7.18/bin/python"
NODE = "/usr/bin/node"
READY_TIMEOUT_S = 30

SERVER_JS = """\
'use strict';
// Loads the SDK for real, says which version it loaded, then waits like a server.
const AWS = require('aws-sdk');
require('fs').writeFileSync(process.env.READY, AWS.VERSION);
setInterval(() => {}, 60000);
"""

APP_PY = """\
# Loads botocore for real, says which version it loaded, then waits like a worker.
import os, time
import botocore.session
botocore.session.get_session()
with open(os.environ["READY"], "w") as fh:
    fh.write(botocore.__version__)
while True:
    time.sleep(60)
"""


def _linked_copy(src: str, dst: str) -> None:
    """A symlink-free copy (the scanner never follows symlinks); hard links where possible."""

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, symlinks=False, copy_function=link_or_copy)


@dataclass
class Started:
    name: str
    cwd: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()


@dataclass
class NamespaceRun:
    report: dict[str, Any]
    pids: dict[str, int]
    loaded: dict[str, str]
    rc: int

    def sdk(self, sdk: str, version: str) -> dict[str, Any]:
        matches = [s for s in self.report.get("sdks") or [] if s.get("sdk") == sdk and s.get("version") == version]
        assert len(matches) == 1, f"{sdk} {version}: {[(s.get('sdk'), s.get('version'), s.get('path')) for s in self.report.get('sdks') or []]}"
        return matches[0]


def run_in_namespace(tmp: Path, started: list[Started], sdk_roots: list[str]) -> NamespaceRun:
    """Start the processes as children of a namespace's PID 1 (sh), wait until each says
    it loaded its SDK (polled, bounded), run the probe beside them, stop them."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID and network namespace")
    run = tmp / "run"
    run.mkdir()
    pids_file = run / "pids"
    report_file = run / "report.json"
    lines = ["set -u", "started="]
    ready_files = []
    for s in started:
        ready = run / f"ready-{s.name}"
        ready_files.append(ready)
        env_words = " ".join(f"-u {u}" for u in s.unset) + " " + " ".join(shlex.quote(f"{k}={v}") for k, v in {**s.env, "READY": str(ready)}.items())
        lines.append(f"cd {shlex.quote(s.cwd)}")
        lines.append(f"env {env_words} {' '.join(shlex.quote(a) for a in s.argv)} >{run}/{s.name}.out 2>{run}/{s.name}.err & echo \"{s.name} $!\" >> {pids_file}; started=\"$started $!\"")
    waiting = " && ".join(f"[ -s {shlex.quote(str(r))} ]" for r in ready_files) or "true"
    probe = [sys.executable, "-m", "probe", "--json", "--deadline", "5", "--only", "sdk.identity,sdk.versions"]
    for root in sdk_roots:
        probe += ["--sdk-root", root]
    lines += [
        "cd /",
        f"i=0; until {waiting}; do i=$((i+1)); if [ $i -gt {READY_TIMEOUT_S * 20} ]; then echo 'timeout 1' >> {pids_file}; break; fi; sleep 0.05; done",
        f"{' '.join(shlex.quote(a) for a in probe)} > {report_file} 2> {run}/probe.err",
        f"echo \"rc $?\" >> {pids_file}",
        "kill $started 2>/dev/null; wait",
        "exit 0",
    ]
    env = clean_env(str(tmp / "home"))
    env.pop("PROBE_SDK_ROOT")  # the roots are named on the command line
    (tmp / "home").mkdir(exist_ok=True)
    proc = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", "\n".join(lines)],
        env=env,
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT_S + 60,
    )
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in sorted(run.glob("*.err"))}
    assert proc.returncode == 0, (proc.stderr, logs)
    ids = dict(line.split(" ", 1) for line in pids_file.read_text().splitlines())
    assert "timeout" not in ids, f"a process did not come up in {READY_TIMEOUT_S} s: {logs}"
    assert "Traceback" not in logs.get("probe.err", ""), logs["probe.err"]
    loaded = {s.name: (run / f"ready-{s.name}").read_text() for s in started}
    return NamespaceRun(json.loads(report_file.read_text()), {s.name: int(ids[s.name]) for s in started}, loaded, int(ids["rc"]))


# ---------------------------------------------------------------------------------------
# JavaScript v2: a node server in one project, the same SDK (newer) in an idle project.
# ---------------------------------------------------------------------------------------


@pytest.mark.sdkmatrix  # its packages come from tests/sdk_matrix/setup.sh's cache
def test_node_process_uses_its_projects_sdk_only(tmp_path: Path) -> None:
    need(os.access(NODE, os.X_OK), f"needs Node at {NODE}")
    need(os.path.isdir(os.path.join(JS_OLD, "aws-sdk")), f"needs {JS_OLD}/aws-sdk (run tests/sdk_matrix/setup.sh)")
    need(os.path.isdir(JS_LATEST), f"needs {JS_LATEST} (run tests/sdk_matrix/setup.sh)")
    apps = tmp_path / "apps"
    web = apps / "web"
    idle = apps / "idle"
    web.mkdir(parents=True)
    idle.mkdir()
    _linked_copy(JS_OLD, str(web / "node_modules"))
    (web / "server.js").write_text(SERVER_JS)
    _linked_copy(JS_LATEST, str(idle / "node_modules" / "aws-sdk"))
    (idle / "server.js").write_text(SERVER_JS)
    latest = json.loads((idle / "node_modules" / "aws-sdk" / "package.json").read_text())["version"]
    assert latest != "2.4.6"

    # As a container starts it: `node server.js` from the project folder.
    ran = run_in_namespace(tmp_path, [Started("node", str(web), ["node", "server.js"], {"PATH": "/usr/bin:/bin"})], [str(apps)])

    assert ran.loaded["node"] == "2.4.6", "the node process loaded another aws-sdk than its project's"
    pid = ran.pids["node"]
    old = ran.sdk("js-v2", "2.4.6")
    new = ran.sdk("js-v2", latest)
    assert old["path"] == f"{web}/node_modules/aws-sdk/package.json"
    assert old["used_by"] == [pid], old
    assert new["used_by"] == [], new


# ---------------------------------------------------------------------------------------
# Python: botocore on PYTHONPATH (how the matrix runs Python 2.7), and in a virtualenv.
# ---------------------------------------------------------------------------------------


@pytest.mark.sdkmatrix
def test_python_process_with_botocore_on_pythonpath(tmp_path: Path) -> None:
    need(os.access(PY27, os.X_OK), f"needs Python 2.7 at {PY27} (pyenv install 2.7.18)")
    need(os.path.isdir(os.path.join(PY27_TARGET, "botocore-1.4.37.dist-info")), f"needs {PY27_TARGET} (run tests/sdk_matrix/setup.sh)")
    apps = tmp_path / "apps"
    app = apps / "worker"
    lib = apps / "pylib"  # `pip install --target` output, as tests/sdk_matrix/setup.sh makes it
    app.mkdir(parents=True)
    _linked_copy(PY27_TARGET, str(lib))
    (app / "app.py").write_text(APP_PY)

    try:
        # What the survey records for it (seen in /proc): exe .../2.7.18/bin/python2.7,
        # argv0 .../2.7.18/bin/python, cwd APPS/worker, paths [APPS/worker/app.py];
        # PYTHONPATH=APPS/pylib is only in its environ.
        ran = run_in_namespace(tmp_path, [Started("py27", str(app), [PY27, "app.py"], {"PYTHONPATH": str(lib)})], [str(apps)])
        assert ran.loaded["py27"] == "1.4.37"
        entry = ran.sdk("botocore", "1.4.37")
        assert entry["path"] == f"{lib}/botocore-1.4.37.dist-info"
    except AssertionError as exc:  # the set-up, not the rule under test: a real failure
        pytest.fail(f"set-up failed: {exc}")

    assert entry["used_by"] == [ran.pids["py27"]], entry


def test_python_process_in_a_virtualenv(tmp_path: Path) -> None:
    """The control for the test above: the same kind of worker, botocore in a venv's
    site-packages (a throwaway venv, botocore and its dependencies copied from the
    project's own installed ones), is seen through the venv's python as argv0."""
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    import botocore

    version = botocore.__version__
    packages = ["botocore", f"botocore-{version}.dist-info", "jmespath", "dateutil", "urllib3", "six.py"]
    need(all((site / p).exists() for p in packages), f"needs botocore and its dependencies in {site}")
    apps = tmp_path / "apps"
    app = apps / "worker"
    venv = apps / "venv"
    app.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=60)
    target = venv / "lib" / site.parent.name / "site-packages"
    for p in packages:
        if (site / p).is_dir():
            _linked_copy(str(site / p), str(target / p))
        else:
            shutil.copy2(site / p, target / p)
    (app / "app.py").write_text(APP_PY)

    ran = run_in_namespace(tmp_path, [Started("venv", str(app), [str(venv / "bin" / "python"), "app.py"], unset=("PYTHONPATH",))], [str(apps)])

    assert ran.loaded["venv"] == version
    entry = ran.sdk("botocore", version)
    assert entry["path"] == f"{target}/botocore-{version}.dist-info"
    assert entry["used_by"] == [ran.pids["venv"]], entry


# ---------------------------------------------------------------------------------------
# Rust: aws-config's version from the crate source path rustc keeps for panics.
# ---------------------------------------------------------------------------------------

RUST_MAIN = (
    "fn main(){ let v: Vec<u8> = std::env::args().skip(5).map(|a| a.len() as u8).collect(); "
    'if v.len() > 3 { panic!("x") } std::thread::sleep(std::time::Duration::from_secs(0)); }\n'
)


def _rustc() -> Optional[str]:
    return shutil.which("rustc") or next((p for p in (os.path.expanduser("~/.cargo/bin/rustc"),) if os.access(p, os.X_OK)), None)


def test_rust_binary_built_from_aws_config_sources(tmp_path: Path) -> None:
    from probe.facts.sdk import GO_MIN_SIZE, scan

    rustc = _rustc()
    need(rustc is not None, "needs rustc")
    assert rustc is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    built = {}
    for folder, name in (("aws-config-1.5.4", "rust-app"), ("my-service-1.5.4", "other-app")):
        src = tmp_path / folder / "src" / "main.rs"
        src.parent.mkdir(parents=True)
        src.write_text(RUST_MAIN)
        out = bin_dir / name
        subprocess.run([rustc, "-C", "opt-level=2", "-o", str(out), str(src)], check=True, capture_output=True, text=True, timeout=300)
        built[name] = out
    for out in built.values():
        # The scanner looks only at executables this large; rustc's default output (std
        # linked statically, with its debug info) is, so no padding or flags are needed.
        assert out.stat().st_size >= GO_MIN_SIZE, (out, out.stat().st_size)
        assert subprocess.run([str(out)], timeout=30).returncode == 0  # a real, working program
    assert b"aws-config-1.5.4/src/main.rs" in built["rust-app"].read_bytes()

    found = scan([str(bin_dir)])["found"]
    assert [(e["sdk"], e["version"], e["path"]) for e in found] == [("rust", "1.5.4", str(built["rust-app"]))]


# ---------------------------------------------------------------------------------------
# Issue 20, item 3: "in use" from what a runtime really loads, never "somewhere under its
# working folder".
# ---------------------------------------------------------------------------------------


def _fake_dist(folder: Path, name: str, version: str) -> Path:
    """A distribution's metadata as pip leaves it (the scanner reads only this)."""
    meta = folder / f"{name}-{version}.dist-info" / "METADATA"
    meta.parent.mkdir(parents=True)
    meta.write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return meta.parent


def _botocore_and_deps() -> tuple[Path, str, list[str]]:
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    import botocore

    version = botocore.__version__
    packages = ["botocore", f"botocore-{version}.dist-info", "jmespath", "dateutil", "urllib3", "six.py"]
    need(all((site / p).exists() for p in packages), f"needs botocore and its dependencies in {site}")
    return site, version, packages


def _make_venv(venv: Path) -> tuple[Path, str]:
    """A throwaway venv holding botocore and its dependencies (copied from the project's)."""
    site, version, packages = _botocore_and_deps()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=60)
    target = venv / "lib" / site.parent.name / "site-packages"
    for p in packages:
        if (site / p).is_dir():
            _linked_copy(str(site / p), str(target / p))
        else:
            shutil.copy2(site / p, target / p)
    return target, version


def test_python_does_not_use_a_venv_under_its_working_folder(tmp_path: Path) -> None:
    """A worker runs from its project folder, which also holds an old Python 2.7 venv nobody
    runs: Python imports from its prefix, its script's folder and PYTHONPATH, never from
    subfolders of its working folder."""
    apps = tmp_path / "apps"
    app = apps / "worker"
    app.mkdir(parents=True)
    (app / "app.py").write_text(APP_PY)
    _fake_dist(app / "venv27" / "lib" / "python2.7" / "site-packages", "botocore", "1.4.36")

    ran = run_in_namespace(tmp_path, [Started("py", str(app), [sys.executable, "app.py"], unset=("PYTHONPATH",))], [str(apps)])

    old = ran.sdk("botocore", "1.4.36")
    assert old["used_by"] == [], old


def test_python_from_a_venv_found_through_path(tmp_path: Path) -> None:
    """`python app.py` with the venv's bin first on PATH (a Dockerfile's ENV PATH): argv0 is
    the bare name and /proc/PID/exe the base interpreter, yet the venv is what it imports."""
    apps = tmp_path / "apps"
    app = apps / "worker"
    app.mkdir(parents=True)
    target, version = _make_venv(apps / "venv")
    (app / "app.py").write_text(APP_PY)

    path = f"{apps / 'venv' / 'bin'}:/usr/bin:/bin"
    ran = run_in_namespace(tmp_path, [Started("venv", str(app), ["python", "app.py"], {"PATH": path}, unset=("PYTHONPATH",))], [str(apps)])

    assert ran.loaded["venv"] == version
    entry = ran.sdk("botocore", version)
    assert entry["path"] == f"{target}/botocore-{version}.dist-info"
    assert entry["used_by"] == [ran.pids["venv"]], entry


def test_pythonpath_names_folders_not_trees(tmp_path: Path) -> None:
    """PYTHONPATH=pylib: botocore in pylib is imported; a copy in a folder below it is not."""
    site, version, _packages = _botocore_and_deps()
    apps = tmp_path / "apps"
    app = apps / "worker"
    lib = apps / "pylib"
    app.mkdir(parents=True)
    _linked_copy(str(site / "botocore"), str(lib / "botocore"))
    _linked_copy(str(site / f"botocore-{version}.dist-info"), str(lib / f"botocore-{version}.dist-info"))
    _fake_dist(lib / "old", "botocore", "1.4.36")
    (app / "app.py").write_text(APP_PY)

    ran = run_in_namespace(tmp_path, [Started("py", str(app), [sys.executable, "app.py"], {"PYTHONPATH": str(lib)})], [str(apps)])

    assert ran.loaded["py"] == version
    assert ran.sdk("botocore", version)["used_by"] == [ran.pids["py"]]
    assert ran.sdk("botocore", "1.4.36")["used_by"] == []


@pytest.mark.sdkmatrix
def test_node_resolves_from_its_script_not_its_working_folder(tmp_path: Path) -> None:
    """`node /apps/web/server.js` started from another project's folder: it loads the SDK of
    the script's project (node_modules in the script's folder and its parents); the working
    folder's project is not used."""
    need(os.access(NODE, os.X_OK), f"needs Node at {NODE}")
    need(os.path.isdir(os.path.join(JS_OLD, "aws-sdk")), f"needs {JS_OLD}/aws-sdk (run tests/sdk_matrix/setup.sh)")
    need(os.path.isdir(JS_LATEST), f"needs {JS_LATEST} (run tests/sdk_matrix/setup.sh)")
    apps = tmp_path / "apps"
    web = apps / "web"
    idle = apps / "idle"
    (web / "src").mkdir(parents=True)
    idle.mkdir()
    _linked_copy(JS_OLD, str(web / "node_modules"))
    (web / "src" / "server.js").write_text(SERVER_JS)
    _linked_copy(JS_LATEST, str(idle / "node_modules" / "aws-sdk"))
    latest = json.loads((idle / "node_modules" / "aws-sdk" / "package.json").read_text())["version"]

    ran = run_in_namespace(tmp_path, [Started("node", str(idle), ["node", str(web / "src" / "server.js")], {"PATH": "/usr/bin:/bin"})], [str(apps)])

    assert ran.loaded["node"] == "2.4.6"
    assert ran.sdk("js-v2", "2.4.6")["used_by"] == [ran.pids["node"]]
    assert ran.sdk("js-v2", latest)["used_by"] == []


@pytest.mark.parametrize("how", ["probe-sdk", "sdk-root"])
def test_a_named_root_is_judged_as_in_use_in_every_line(tmp_path: Path, how: str) -> None:
    """`probe sdk ROOT` and `--sdk-root ROOT`: naming a root says "this is my application";
    the SDK block and sdk.versions say the same about an SDK there."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a network namespace")
    root = tmp_path / "image"
    _fake_dist(root / "srv" / "lib", "botocore", "1.4.36")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(str(home))
    env.pop("PROBE_SDK_ROOT")
    args = ["sdk", str(root)] if how == "probe-sdk" else ["--sdk-root", str(root), "--only", "sdk.versions,sdk.identity"]
    # Its own network namespace: nothing can reach a link-local address.
    proc = subprocess.run(["unshare", "--net", sys.executable, "-m", "probe", "--no-color", *args], env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    out = proc.stdout
    line = next(line for line in out.splitlines() if "botocore-1.4.36.dist-info" in line and line.startswith("  "))
    assert line.endswith("(named root: judged as in use)"), out
    assert "no running process uses it" not in out, out
    assert "1 AWS SDK in use is too old" in out, out
