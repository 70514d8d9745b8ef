"""processes.* in a fresh PID namespace: PID 1 with the credentials variable, a child
started with `env -i` that lacks it, and a child with its own HTTP_PROXY."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import clean_env, need
from probe.facts.processes import _cmdline, _container_of

URI = "/v2/credentials/7a1c9e2b-1d3f-4e5a-8b6c-9d0e1f2a3b4c"


def test_in_a_pid_namespace(tmp_path: Path, home: str) -> None:
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    pids = tmp_path / "pids"
    out = tmp_path / "report.json"
    # PID 1 is this sh (it has the variable); it starts the children, then the probe.
    script = textwrap.dedent(
        f"""
        env -i PATH=/usr/bin:/bin sleep 31 & a=$!
        echo "lacking $a" >> {pids}
        HTTP_PROXY=http://proxyuser:pr0xy-pass@127.0.0.1:3128 NO_PROXY=localhost {sys.executable} -c 'import time; time.sleep(32)' & b=$!
        echo "proxied $b" >> {pids}
        sleep 33 & c=$!
        echo "fine $c" >> {pids}
        HTTP_PROXY=http://proxyuser:pr0xy-pass@127.0.0.1:3128 sleep 34 & d=$!
        echo "no_sdk $d" >> {pids}
        {sys.executable} -m probe --json --only processes.credentials-variable,processes.proxy > {out}
        echo "rc $?" >> {pids}
        kill $a $b $c $d
        """
    )
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI})
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ids = dict(line.split() for line in pids.read_text().splitlines())
    assert ids["rc"] == "1"
    report = json.loads(out.read_text())
    checks = {c["id"]: c for c in report["checks"]}
    cv = checks["processes.credentials-variable"]
    assert cv["status"] == "fail"
    assert cv["data"]["lacking"] == [int(ids["lacking"])]
    assert f"pid {ids['lacking']} (sleep 31) lacks it" in cv["detail"]
    px = checks["processes.proxy"]
    # The Python process is judged (it may run an SDK); sleep never asks for credentials.
    assert px["status"] == "fail" and px["data"]["pids"] == [int(ids["proxied"])]
    assert "http://proxyuser:****@127.0.0.1:3128" in px["detail"] and "pr0xy-pass" not in out.read_text()
    assert URI.rsplit("/", 1)[1] not in out.read_text()


def test_all_processes_fine(tmp_path: Path, home: str) -> None:
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    out = tmp_path / "report.json"
    script = f"sleep 30 & s=$!; {sys.executable} -m probe --json --only processes.credentials-variable,processes.proxy > {out}; kill $s"
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI})
    subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True)
    checks = {c["id"]: c for c in json.loads(out.read_text())["checks"]}
    assert checks["processes.credentials-variable"]["status"] == "pass"
    # PID 1 (sh), sleep and the probe itself: the probe's own process counts (issue 10).
    assert checks["processes.credentials-variable"]["title"] == "All 3 readable processes have the credentials variable"
    assert checks["processes.proxy"]["status"] == "pass"


def _in_pid_namespace(script: str, env: dict[str, str]) -> str:
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_the_probe_itself_counts(tmp_path: Path, home: str) -> None:
    """PID 1 has the variable; the probe runs from a clean environment (cron, su -, ECS
    Exec): its own process is the one that lacks it, and the report says so."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    out = tmp_path / "report.json"
    inner = f"env -i PATH=/usr/bin:/bin HOME={home} PYTHONPATH={os.environ.get('PYTHONPATH', '')}:{os.getcwd()} {sys.executable} -m probe --json --only env.credentials-variable,processes.credentials-variable > {out}; true"
    _in_pid_namespace(inner, clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}))
    report = json.loads(out.read_text())
    checks = {c["id"]: c for c in report["checks"]}
    cv = checks["processes.credentials-variable"]
    assert cv["status"] == "fail" and "(this probe) lacks it" in cv["detail"], cv
    env_check = checks["env.credentials-variable"]
    assert env_check["status"] == "fail" and "PID 1 has it" in env_check["title"]
    assert report["cause"]["check"] == "env.credentials-variable" and "shim" in report["cause"]["remedy"]
    assert URI.rsplit("/", 1)[1] not in out.read_text()


def test_a_shell_that_exported_the_variable_later_counts_as_having_it(tmp_path: Path, home: str) -> None:
    """After the fix: a login shell started clean, sourced the shim's profile and exported
    the variable; its /proc environ predates that, the probe (its child) inherited PID 1's
    value through it: the shell has it now."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    out = tmp_path / "report.json"
    inner = (
        f"env -i PATH=/usr/bin:/bin HOME={home} sh -c 'export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={URI}; "
        f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}:{os.getcwd()} {sys.executable} -m probe --json --only processes.credentials-variable > {out}; true'"
    )
    _in_pid_namespace(inner, clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}))
    cv = next(c for c in json.loads(out.read_text())["checks"] if c["id"] == "processes.credentials-variable")
    assert cv["status"] == "pass", cv
    assert "exported it after they started" in cv["detail"]


def test_unreadable_pid1_says_the_real_reason(tmp_path: Path) -> None:
    """As nobody, root's PID 1 cannot be read: the reason names both users, not a guess.
    The system Python runs a copy of the package (the checkout may sit under a 0700 home)."""
    system_python = "/usr/bin/python3"
    need(os.geteuid() == 0 and shutil.which("setpriv") is not None and os.access(system_python, os.X_OK), "needs root, setpriv and /usr/bin/python3")
    repo = Path(__file__).resolve().parent.parent
    copy = tmp_path / "pkg"
    for pkg in ("probe", "shim"):
        shutil.copytree(repo / pkg, copy / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [tmp_path, *tmp_path.parents]:
        if str(path) in ("/", "/tmp"):
            break
        os.chmod(path, os.stat(path).st_mode | 0o055)
    code = "from probe.facts.processes import unreadable_reason; print(unreadable_reason(1, PermissionError(13, 'Permission denied')))"
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", system_python, "-S", "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "LANG": "C.UTF-8"},
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    owner = os.stat("/proc/1").st_uid
    assert f"belongs to uid {owner} and the probe runs as uid 65534" in proc.stdout, proc.stdout
    assert "as that user or as root" in proc.stdout


def test_pid1_without_the_variable_skips(tmp_path: Path, home: str) -> None:
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    out = tmp_path / "report.json"
    script = f"{sys.executable} -m probe --json --only processes.credentials-variable > {out}"
    subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script], env=clean_env(home), capture_output=True, text=True, timeout=60, check=True)
    check = next(c for c in json.loads(out.read_text())["checks"] if c["id"] == "processes.credentials-variable")
    assert check["status"] == "skip"
    assert "PID 1 itself lacks" in check["detail"]


@pytest.mark.parametrize(
    "cgroup, expected",
    [
        pytest.param("0::/ecs/0123456789abcdef0123456789abcdef/0123456789abcdef0123456789abcdef-1234567890\n", "0123456789abcdef0123456789abcdef-1234567890", id="ecs-awsvpc"),
        pytest.param("12:pids:/docker/" + "ab" * 32 + "\n", "ab" * 32, id="docker-v1"),
        pytest.param("0::/system.slice/docker-" + "cd" * 32 + ".scope\n", "cd" * 32, id="systemd-scope"),
        pytest.param("0::/init.scope\n", None, id="host"),
    ],
)
def test_container_of(tmp_path: Path, cgroup: str, expected: str) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text(cgroup)
    assert _container_of(42, str(tmp_path)) == expected


def test_cmdline_masks_secret_arguments() -> None:
    assert _cmdline(["app", "--db-password=hunter2hunter2", "--port=80"]) == "app --db-password=**** --port=80"


def test_sidecar_scans_other_containers_roots(tmp_path: Path) -> None:
    """A process whose root is another filesystem (here: chroot) adds /proc/PID/root to the scan."""
    need(os.geteuid() == 0, "needs root for chroot")
    from probe.facts.sdk import roots_for, scan

    image = tmp_path / "other-container"
    (image / "app" / "node_modules" / "aws-sdk").mkdir(parents=True)
    (image / "app" / "node_modules" / "aws-sdk" / "package.json").write_text('{"name": "aws-sdk", "version": "2.4.6"}')
    mine = tmp_path / "mine"
    mine.mkdir()
    code = f"import os, sys, time; os.chroot({str(image)!r}); sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        # The same root seen through two processes is scanned once.
        roots = roots_for([str(mine)], {"processes": [{"pid": proc.pid}, {"pid": proc.pid}, {"pid": os.getpid()}]})
        assert roots == [str(mine), f"/proc/{proc.pid}/root", f"/proc/{os.getpid()}/root"]
        assert roots_for(["/"], {"processes": [{"pid": os.getpid()}]}) == ["/"]
        found = scan(roots[:2])["found"]
        assert [(e["sdk"], e["version"], e["path"]) for e in found] == [("js-v2", "2.4.6", f"/proc/{proc.pid}/root/app/node_modules/aws-sdk/package.json")]
    finally:
        proc.kill()
        proc.wait()
