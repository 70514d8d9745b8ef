"""processes.* in a fresh PID namespace: PID 1 with the credentials variable, a child
started with `env -i` that lacks it, and a child with its own HTTP_PROXY."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from helpers import REPO, clean_env, need
from probe.facts.processes import _cmdline, _container_of, mask_secret_args, secret_arg

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


# What a secret argument is, as one pattern says it (the survey's own code finds the same
# arguments in time linear in their length; this pattern takes time quadratic in a long word).
SECRET_ARG_SPEC = re.compile(r"((?:secret|token|password|passwd|key)[\w-]*=)(\S+)", re.IGNORECASE)


def test_secret_arguments_are_the_ones_the_pattern_names() -> None:
    rnd = random.Random(24)
    pieces = ["key", "KEY", "Token", "passwd", "word", "secret", "-", "_", "=", " ", "a", "/", ":", "@", "\u00e9", "\t", "x=", "\u212a"]
    for _ in range(50_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        assert secret_arg(text) == bool(SECRET_ARG_SPEC.search(text)), text
        assert mask_secret_args(text) == SECRET_ARG_SPEC.sub(lambda m: m.group(1) + "****", text), text


def test_a_process_with_hostile_arguments_is_surveyed_within_the_deadline(tmp_path: Path, home: str) -> None:
    """Eight 120 kB arguments made of "key" (each cost the old single pattern 2.5 s per look,
    twice per argument) and a secret one: the survey still ends within the run's deadline,
    judges the process, and prints no secret."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a PID namespace")
    out = tmp_path / "report.json"
    # Exec'd from Python: the arguments are too long for a shell's command line (128 kB).
    hostile = 'import os, sys; os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)"] + ["key" * 40000] * 8 + ["--api-key=hunter2-hostile-secret"])'
    script = (
        f"{sys.executable} -c '{hostile}' & h=$!; "
        f"{sys.executable} -m probe --json --deadline 3 --only processes.credentials-variable,processes.proxy > {out}; kill $h"
    )
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI})
    subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=True)
    text = out.read_text()
    checks = {c["id"]: c for c in json.loads(text)["checks"]}
    # PID 1 (sh), the hostile process and the probe: all surveyed, none cut off by the deadline.
    assert checks["processes.credentials-variable"]["title"] == "All 3 readable processes have the credentials variable", checks
    assert checks["processes.proxy"]["status"] == "pass"
    assert "hunter2-hostile-secret" not in text


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


# ---------------------------------------------------------------------------------------
# pidMode task as ECS builds it (issue 20, item 1): PID 1 is the agent's pause process,
# without the credentials variable; the containers' processes join the namespace later
# (`nsenter`, as runc does: their parent is outside it, so their ppid reads 0), the
# application's first.
# ---------------------------------------------------------------------------------------

PAUSE_INIT = "exec -a /pause cat"  # argv exactly ["/pause"], as amazon-ecs-pause's ENTRYPOINT; blocks on stdin


class SharedPidNamespace:
    """A PID (and empty network) namespace whose PID 1 is ``pid1_env``'s `/pause`-like
    process, or, with ``layout="private"``, the application itself (a private namespace:
    PID 1 is the container's main process). Processes join it with `nsenter`."""

    def __init__(self, layout: str, app_env: dict[str, str]) -> None:
        import psutil

        need(os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("nsenter") is not None, "needs root, unshare and nsenter")
        self.layout = layout
        self.joined: list[subprocess.Popen[bytes]] = []
        pid1_env = {"PATH": "/usr/bin:/bin"} if layout == "pause" else dict(app_env)
        init = PAUSE_INIT if layout == "pause" else "exec -a app-main cat"
        self.init = subprocess.Popen(
            ["unshare", "--pid", "--net", "--fork", "--mount-proc", "--kill-child", "bash", "-c", init],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=pid1_env,
        )
        self.host_pid = self._wait_child(self.init.pid, psutil)
        want = ["/pause"] if layout == "pause" else ["app-main"]
        self._until(lambda: psutil.Process(self.host_pid).cmdline() == want, "PID 1's exec")
        self.app = 1 if layout == "private" else self.start(app_env, ["sleep", "600"])

    @staticmethod
    def _until(cond: Any, what: str, timeout: float = 20) -> None:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if cond():
                    return
            except Exception:  # noqa: BLE001 - the process may not be there yet
                pass
            time.sleep(0.02)
        raise AssertionError(f"{what}: not reached in {timeout} s")

    def _wait_child(self, pid: int, psutil: Any) -> int:
        found: list[int] = []
        self._until(lambda: found.extend(c.pid for c in psutil.Process(pid).children()) or bool(found), "the namespace's first process")
        return found[0]

    @staticmethod
    def inner_pid(host_pid: int) -> int:
        with open(f"/proc/{host_pid}/status") as fh:
            line = next(line for line in fh if line.startswith("NSpid:"))
        return int(line.split()[-1])

    def nsenter(self, cmd: list[str]) -> list[str]:
        return ["nsenter", "--target", str(self.host_pid), "--pid", "--mount", "--net", "--", *cmd]

    def start(self, env: dict[str, str], cmd: list[str], shows: Optional[list[str]] = None) -> int:
        """A process that joins the namespace (its pid inside it), started after the ones
        before; ``shows``: its command line once it runs (after a chroot's exec)."""
        import psutil

        proc = subprocess.Popen(self.nsenter(cmd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.joined.append(proc)
        child = self._wait_child(proc.pid, psutil)
        self._until(lambda: psutil.Process(child).cmdline() == (shows or cmd), f"{cmd} started")
        return self.inner_pid(child)

    def probe(self, env: dict[str, str], args: list[str]) -> dict[str, Any]:
        proc = subprocess.run(self.nsenter([sys.executable, "-m", "probe", "--json", *args]), env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout, proc.stderr
        return json.loads(proc.stdout)

    def close(self) -> None:
        # PID 1 ends (cat reads EOF), and the kernel ends the namespace's other processes.
        if self.init.stdin is not None:
            self.init.stdin.close()
        for p in [self.init, *self.joined]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(params=["pause", "private"])
def task_namespace(request: pytest.FixtureRequest, home: str) -> Iterator[SharedPidNamespace]:
    ns = SharedPidNamespace(request.param, clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}))
    try:
        yield ns
    finally:
        ns.close()


def _checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}


def test_pidmode_task_a_cron_like_probe_is_told_it_lost_the_variable(task_namespace: SharedPidNamespace, home: str) -> None:
    """A cron-like `probe` (clean environment) beside the application: the container's main
    process stands in for PID 1 whether PID 1 is ECS's pause process or the application, so
    the verdict is the same: this process lost the variable (the shim), never "the task has
    no task role"."""
    ns = task_namespace
    cron = ns.start(clean_env(home), ["sleep", "601"])
    report = ns.probe(clean_env(home), ["--only", "env.credentials-variable,processes.credentials-variable"])
    checks = _checks(report)
    var = checks["env.credentials-variable"]
    assert var["status"] == "fail", var
    assert "no task role" not in var["title"], var
    main = "PID 1" if ns.layout == "private" else f"its container's main process (pid {ns.app})"
    assert var["title"] == f"This process is not {main} and lost the task's credentials variable: {main} has it", var["title"]
    assert report["cause"]["check"] == "env.credentials-variable" and "shim" in report["cause"]["remedy"]
    assert "taskRoleArn" not in report["cause"]["remedy"]
    procs = checks["processes.credentials-variable"]
    assert procs["status"] == "fail", procs
    lacking = procs["data"]["lacking"]
    assert cron in lacking and ns.app not in lacking and 1 not in lacking, procs


def test_pidmode_task_a_probe_with_the_variable_surveys_the_task(task_namespace: SharedPidNamespace, home: str) -> None:
    """The probe with the task's variable (an ECS Exec shell, a plain sidecar): the survey
    judges every process against the container's main process; the pause process is ECS's,
    not the application's, and is neither judged nor counted."""
    ns = task_namespace
    cron = ns.start(clean_env(home), ["sleep", "601"])
    # runc's exec helper, for the moment of a `docker exec` (every health check): `runc init`
    # with a bare environment. It is the runtime, not the application (a FIFO holds it here).
    fifo = Path(home) / "fifo-dir"
    fifo.mkdir()
    os.mkfifo(fifo / "init")
    helper = ns.start(clean_env(home), ["bash", "-c", f"cd {fifo} && exec -a runc cat init"], shows=["runc", "init"])
    report = ns.probe(clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}), ["--only", "env.credentials-variable,processes.credentials-variable"])
    checks = _checks(report)
    assert checks["env.credentials-variable"]["status"] == "pass"
    assert helper != cron
    procs = checks["processes.credentials-variable"]
    assert procs["status"] == "fail", procs
    assert procs["data"]["lacking"] == [cron], procs
    # Judged: the cron-like sleep and the probe itself; the main process is the reference.
    assert procs["title"].startswith("1 of 2 processes"), procs["title"]


def test_pidmode_task_pid_of_a_process_that_joined_later(task_namespace: SharedPidNamespace, home: str) -> None:
    """`probe --pid` on a process that joined the namespace after the application (as ECS
    Exec's and `docker exec`'s do: its parent is outside, ppid 0): its container's main
    process is the application, not the process itself."""
    ns = task_namespace
    cron = ns.start(clean_env(home), ["sleep", "601"])
    report = ns.probe(clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}), ["--pid", str(cron), "--only", "env.credentials-variable"])
    assert report["target"]["pid"] == cron and report["target"]["main_pid"] == ns.app, report["target"]
    var = _checks(report)["env.credentials-variable"]
    main = "PID 1" if ns.layout == "private" else f"its container's main process (pid {ns.app})"
    assert var["status"] == "fail" and var["title"].startswith(f"This process is not {main} and lost"), var


# ---------------------------------------------------------------------------------------
# What the survey cannot see (issue 20, item 2): a warning with the reason and the fix.
# ---------------------------------------------------------------------------------------


def _survey(*procs: dict[str, Any], unreadable: tuple[dict[str, Any], ...] = (), main: int = 7) -> dict[str, Any]:
    return {
        "available": True, "self_pid": 40, "main_pid": main, "pid1_readable": True, "pid1_has_variable": True,
        "processes": [{"pid": main, "cmdline": "probe watch", "has_relative": True, "has_full": False, "same_as_pid1": True}, *procs],
        "unreadable": list(unreadable),
    }


OTHER_USER = {
    "pid": 12, "cmdline": "supervisord -n", "container": "app", "error": "AccessDenied",
    "reason": 'it belongs to uid 0 and the probe runs as uid 10001: run the probe as that user or as root (in ECS: "user": "0" in the probe\'s container definition)',
}


@pytest.mark.parametrize(
    "survey, status, words",
    [
        pytest.param(_survey({"pid": 40, "cmdline": "probe", "self": True, "has_relative": True, "same_as_pid1": True}), "pass", ("readable processes",), id="all-read"),
        pytest.param(_survey(unreadable=(OTHER_USER,)), "warn", ("could not be read", "uid 0"), id="another-users-process"),
        pytest.param(_survey(unreadable=(dict(OTHER_USER, error="NoSuchProcess", reason="it ended while the probe looked"),)), "pass", (), id="ended-is-not-blind"),
        pytest.param(_survey({"pid": 13, "cmdline": "sleep 600", "has_relative": False, "has_full": False}, unreadable=(OTHER_USER,)), "fail", ("lack", "could not be read"), id="lacking-and-unread"),
    ],
)
def test_unreadable_processes_make_the_survey_a_warning(tmp_path: Path, survey: dict[str, Any], status: str, words: tuple[str, ...]) -> None:
    from probe.checks import REGISTRY, load
    from test_checks import ECS_ENV, make_facts

    load("task")
    out = REGISTRY["processes.credentials-variable"].fn(make_facts(tmp_path, ECS_ENV, {"processes": survey}))
    assert out.status.value == status, out
    text = out.title + " " + out.detail
    for word in words:
        assert word in text, (word, out)
    if status != "pass" and survey["unreadable"]:
        # The exact fix: the task definition's settings, or the application's user.
        assert '"user": "0"' in out.remedy and '"SYS_PTRACE"' in out.remedy and "uid 0" in out.remedy, out.remedy
        assert out.data["blind"]["pids"] == [12]


def test_pidmode_task_another_container_with_the_variable_says_the_task_has_a_role(home: str, tmp_path: Path) -> None:
    """The app's start dropped the variable (its main process lacks it); a sidecar of the same
    task (another root filesystem: another container) has it. The task has a role: the
    cause is this container's start, not a missing taskRoleArn."""
    busybox = shutil.which("busybox")
    need(busybox is not None and b"ld-linux" not in Path(str(busybox)).read_bytes()[:1 << 16], "needs busybox-static")
    root = tmp_path / "sidecar-root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(str(busybox), root / "bin" / "busybox")
    ns = SharedPidNamespace("pause", clean_env(home))  # the app without the variable
    try:
        sidecar = ns.start({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI}, ["chroot", str(root), "/bin/busybox", "sleep", "602"], shows=["/bin/busybox", "sleep", "602"])
        report = ns.probe(clean_env(home), ["--only", "env.credentials-variable"])
    finally:
        ns.close()
    var = _checks(report)["env.credentials-variable"]
    assert var["status"] == "fail", var
    assert var["title"] == f"The task has a role, but this container's main process (pid {ns.app}) started without the credentials variable", var["title"]
    assert f"while pid {sidecar} in another container of the same task has it" in var["detail"], var["detail"]
    assert report["cause"]["check"] == "env.credentials-variable" and "taskRoleArn" not in report["cause"]["remedy"], report["cause"]
