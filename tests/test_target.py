"""`probe --pid`: the diagnosis as another process sees it, from a second process.

In a network namespace with the real link-local endpoints (emulated agent and IMDS, moto's
STS) and a fresh PID namespace, a "container" process runs chrooted into its own root (a
busybox and a Node ``aws-sdk`` 2.4.6 tree), started with ``env -i``. A probe started
beside it, with the task's variables in its own environment, judges it with ``--pid``: the
report must be about the target's variables, files and SDK, not the probe's own.

Needs root (ip netns, unshare, chroot) and busybox-static. Skipped locally without them;
a failure in CI.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import time
import sys
from typing import Iterator, Optional

import pytest

from helpers import REPO, NetnsHost, ProbeRun, assert_no_secrets, need, netns_available

pytestmark = pytest.mark.netns

BUSYBOX = shutil.which("busybox")
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    need(shutil.which("unshare") is not None and shutil.which("chroot") is not None, "needs unshare and chroot (util-linux, coreutils)")
    with NetnsHost() as h:
        yield h


@pytest.fixture(autouse=True)
def reset(host: NetnsHost) -> None:
    host.set(behaviour="ok", clock_offset=0, auth_token=None, imds_enabled=True, reset_counters=True)


def make_root(base: str, sdk_version: str = "2.4.6") -> str:
    """A container image: a static busybox, /etc/passwd, and a Node app with aws-sdk."""
    need(BUSYBOX is not None and _static(BUSYBOX), "needs busybox-static (a static busybox)")
    root = os.path.join(base, "root")
    for d in ("bin", "dev", "etc", "tmp", "root", "srv/web/node_modules/aws-sdk"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.mknod(os.path.join(root, "dev", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    shutil.copy2(str(BUSYBOX), os.path.join(root, "bin", "busybox"))
    with open(os.path.join(root, "etc", "passwd"), "w") as fh:
        fh.write("root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n")
    with open(os.path.join(root, "srv/web/node_modules/aws-sdk/package.json"), "w") as fh:
        json.dump({"name": "aws-sdk", "version": sdk_version, "main": "lib/aws.js"}, fh)
    with open(os.path.join(root, "srv/web/package.json"), "w") as fh:
        json.dump({"name": "web", "version": "1.0.0", "dependencies": {"aws-sdk": sdk_version}}, fh)
    return root


def _static(path: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    return b"ld-linux" not in head


def run_as_target(
    host: NetnsHost,
    home: str,
    root: str,
    container_env: dict[str, str],
    container_cmd: str,
    probe_env: dict[str, str],
    probe_args: list[str],
    pick: str = "$T",
    probe_prefix: str = "",
    cgroup: str = "",
    cgroup_base: str = "",
    select: str = "--pid",
    userspec: str = "",
    timeout: float = 90,
) -> ProbeRun:
    """In the namespace: start the container process (chrooted, env -i + container_env,
    as ``userspec`` "UID:GID" when given), then the probe beside it with ``--pid <pick>``,
    in one new PID namespace. The environment is set by the root's own (static) busybox,
    so no program outside the container ever runs with it (LD_PRELOAD...)."""
    env_args = " ".join(shlex.quote(f"{k}={v}") for k, v in container_env.items())
    probe_cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "probe", *probe_args])
    script = f"""
env -i {CHROOT} {('--userspec=' + userspec) if userspec else ''} {shlex.quote(root)} /bin/busybox env {env_args} {container_cmd} &
T=$!
# the container's processes are up when its last one exists
i=0; while [ $i -lt 100 ] && [ -z "$(ls /proc/$T/task 2>/dev/null)" ]; do sleep 0.05; i=$((i+1)); done
sleep 0.3
C=$(cat /proc/$T/task/$T/children 2>/dev/null | cut -d' ' -f1)
{f'mount -t cgroup -o pids cgroup {shlex.quote(cgroup_base)} && mkdir -p {shlex.quote(cgroup)} && echo $T > {shlex.quote(cgroup)}/cgroup.procs' if cgroup else ':'}
{probe_prefix} {probe_cmd} {select} {pick}
rc=$?
kill -9 $T $C 2>/dev/null
{f'sleep 0.2; rmdir {shlex.quote(cgroup)} {shlex.quote(os.path.dirname(cgroup))} {shlex.quote(os.path.dirname(os.path.dirname(cgroup)))}; umount {shlex.quote(cgroup_base)}' if cgroup else ':'}
exit $rc
"""
    # The target's whole (small) root is scanned, not a folder named for the probe's own runs.
    probe_env = {k: v for k, v in probe_env.items() if k != "PROBE_SDK_ROOT"}
    cmd = ["ip", "netns", "exec", host.name, "unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=probe_env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr
    run = ProbeRun(proc.returncode, proc.stdout, proc.stderr, wall)
    assert_no_secrets([run.stdout, run.stderr], host.secrets())
    return run


def sdk_line(run: ProbeRun, family: str) -> Optional[dict]:
    return next((s for s in run.report.get("sdks") or [] if s["sdk"] == family), None)


def test_target_without_variable_is_judged_not_the_probe(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """The probe has the task's variable; the app started with env -i does not: the
    report names the app's missing variable, its SDK and the instance role it would get."""
    root = make_root(str(tmp_path))
    probe_env = host.task_env(home)
    app_env = {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": probe_env["AWS_ENDPOINT_URL_STS"], "HOME": "/root"}
    run = run_as_target(host, home, root, app_env, "/bin/busybox sleep 600", probe_env, ["--json"])
    rep = run.report
    assert run.rc == 1, run.stderr
    target = rep["target"]
    assert target["cmdline"] == "/bin/busybox sleep 600" and target["user"] == "root"
    assert isinstance(target["pid"], int) and target["pid"] != 1
    var = run.check("env.credentials-variable")
    assert var["status"] == "fail"
    assert f"(pid {target['pid']})" in var["detail"], var["detail"]
    # The target's own SDK, from its root, predicted with its variables: the instance role. No
    # process runs it (the target is `sleep`), so it only warns (issue 20: "in use" is evidence).
    js = sdk_line(run, "js-v2")
    assert js is not None, rep.get("sdks")
    assert js["version"] == "2.4.6" and js["path"] == "/srv/web/node_modules/aws-sdk/package.json", js
    assert js["gets"] == "instance-role" and js["used_by"] == [], js
    assert run.status("sdk.identity") == "warn"
    # botocore, run with the target's variables, falls through to IMDS: the instance role.
    assert rep["identity"]["kind"] == "instance-role", rep["identity"]
    assert run.status("identity.task-role") == "fail"
    # The probe's own variable was never used: the endpoint was not asked.
    assert host.set()["requests"].get("credentials", 0) == 0


def test_plain_run_of_the_same_probe_passes(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """The control: without --pid the same probe, with the same environment, gets the
    task role (so the failure above is the target's view, not the set-up)."""
    from helpers import run_probe

    run = run_probe(["--json"], host.task_env(home), netns=host.name, secrets=host.secrets())
    assert run.status("env.credentials-variable") == "pass"
    assert run.report["identity"]["kind"] == "task-role"
    assert "target" not in run.report


def test_target_with_variable_gets_task_role_from_its_view(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """The reverse: the app has the agent's variable, the probe does not. botocore in the
    target's environment gets the task role; the token file is read inside the target's
    root (an absolute symlink there resolves in the target's root, not the probe's)."""
    host.set(auth_token="tok-" + "z" * 24)
    root = make_root(str(tmp_path), sdk_version="2.1500.0")
    os.makedirs(os.path.join(root, "var/run/secrets"), exist_ok=True)
    with open(os.path.join(root, "var/run/secrets/real-token"), "w") as fh:
        fh.write("tok-" + "z" * 24)
    os.symlink("/var/run/secrets/real-token", os.path.join(root, "var/run/secrets/token"))
    task = host.task_env(home)
    app_env = {k: v for k, v in task.items() if k.startswith(("AWS_", "ECS_"))}
    app_env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = "/var/run/secrets/token"
    app_env["HOME"] = "/root"
    probe_env = {k: v for k, v in task.items() if k not in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",)}
    run = run_as_target(host, home, root, app_env, "/bin/busybox sleep 600", probe_env, ["--json"])
    assert_no_secrets([run.stdout, run.stderr], ["z" * 24])
    rep = run.report
    assert run.status("env.credentials-variable") == "pass", run.check("env.credentials-variable")
    assert run.status("endpoint.credentials") == "pass", run.check("endpoint.credentials")
    assert rep["identity"]["kind"] == "task-role", rep["identity"]
    assert sdk_line(run, "js-v2")["gets"] == "task-role"
    # One request to the rate-limited endpoint: botocore in the child got the observed answer.
    assert host.set()["requests"]["credentials"] == 1


def test_lost_environment_in_the_target_container(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """A cron-like process of the container (env -i inside it) lacks what the container's
    main process has: the cause is the lost environment (the shim), not a missing role."""
    root = make_root(str(tmp_path))
    app_env = {k: v for k, v in host.task_env(home).items() if k.startswith(("AWS_", "ECS_"))}
    app_env["HOME"] = "/root"
    cmd = "/bin/busybox sh -c " + shlex.quote("/bin/busybox env -i /bin/busybox sleep 600 & exec /bin/busybox sleep 601")
    run = run_as_target(host, home, root, app_env, cmd, host.task_env(home), ["--json"], pick="$C")
    rep = run.report
    target = rep["target"]
    assert target["cmdline"] == "/bin/busybox sleep 600", target
    assert target["main_pid"] != target["pid"]
    var = run.check("env.credentials-variable")
    assert var["status"] == "fail"
    assert f"its container's main process (pid {target['main_pid']})" in var["title"], var["title"]
    assert rep["cause"]["check"] == "env.credentials-variable"
    assert "shim" in rep["cause"]["remedy"]


def test_target_proxy_is_the_targets(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """The target's HTTP_PROXY (and not the probe's empty one) decides the proxy checks."""
    root = make_root(str(tmp_path))
    app_env = {k: v for k, v in host.task_env(home).items() if k.startswith(("AWS_", "ECS_"))}
    app_env.update(HOME="/root", HTTP_PROXY="http://10.9.9.9:3128")
    run = run_as_target(host, home, root, app_env, "/bin/busybox sleep 600", host.task_env(home), ["--json"])
    px = run.check("proxy.credentials-endpoint")
    assert px["status"] in ("fail", "warn"), px
    assert "10.9.9.9" in json.dumps(px), px


def test_text_report_says_whose_view(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    root = make_root(str(tmp_path))
    run = run_as_target(host, home, root, {"HOME": "/root"}, "/bin/busybox sleep 600", host.task_env(home), ["--no-color"])
    first = run.stdout.splitlines()[1]
    assert first.startswith("As seen by: pid ") and first.endswith(": /bin/busybox sleep 600"), run.stdout[:400]
    assert "user root" in first


def test_no_permission_is_a_clear_error(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """A probe running as another user cannot read a root process: exit 2, the reason and
    the setting that fixes it, no traceback."""
    need(shutil.which("setpriv") is not None, "needs setpriv (util-linux)")
    root = make_root(str(tmp_path))
    os.chmod(home, 0o755)
    # nobody runs a copy: the checkout may sit in a private (0700) folder, as CI's clone does.
    pkg = os.path.join(str(tmp_path), "pkg")
    import packaging

    for name in ("probe", "shim"):
        shutil.copytree(os.path.join(REPO, name), os.path.join(pkg, name), ignore=shutil.ignore_patterns("__pycache__"))
    # The one third-party package the command line imports before it reads the target.
    shutil.copytree(os.path.dirname(packaging.__file__), os.path.join(pkg, "packaging"), ignore=shutil.ignore_patterns("__pycache__"))
    # pytest makes its folders 0700: nobody must reach the copy through them.
    for parent in [str(tmp_path), *map(str, __import__("pathlib").Path(str(tmp_path)).parents)]:
        if parent in ("/", "/tmp"):
            break
        os.chmod(parent, 0o755)
    for folder, dirs, files in os.walk(str(tmp_path)):
        os.chmod(folder, 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644 if not os.access(os.path.join(folder, f), os.X_OK) else 0o755)
    env = dict(host.task_env(home), PYTHONPATH=pkg)
    run = run_as_target(
        host, home, root, {"HOME": "/root"}, "/bin/busybox sleep 600", env, ["--json"],
        probe_prefix="setpriv --reuid 65534 --regid 65534 --clear-groups",
    )
    assert run.rc == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert "uid 0" in run.stderr and "run the probe as that user or as root" in run.stderr, run.stderr


def test_missing_pid_names_pidmode(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    root = make_root(str(tmp_path))
    run = run_as_target(host, home, root, {}, "/bin/busybox sleep 600", host.task_env(home), ["--json"], pick="99999")
    assert run.rc == 2
    assert "no process 99999" in run.stderr and '"pidMode": "task"' in run.stderr, run.stderr


@pytest.mark.parametrize("value", ["abc", "-3", "0", "1e3"])
def test_bad_pid_values(value: str, home: str) -> None:
    from helpers import clean_env

    proc = subprocess.run([sys.executable, "-m", "probe", "--pid", value], env=clean_env(home), capture_output=True, text=True, timeout=30, cwd=REPO)
    assert proc.returncode == 2 and "--pid must be a process id" in proc.stderr, proc.stderr


def test_pid_and_container_together(home: str) -> None:
    from helpers import clean_env

    proc = subprocess.run([sys.executable, "-m", "probe", "--pid", "5", "--container", "app"], env=clean_env(home), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "give one" in proc.stderr, proc.stderr


def test_container_by_name_through_task_metadata_and_cgroup(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """--container NAME: the name is looked up in task metadata (DockerId), the process
    through its cgroup, as ECS on Fargate names it (/ecs/TASK/CONTAINER-ID)."""
    need(os.path.isdir("/sys/fs/cgroup/pids"), "needs the cgroup v1 pids hierarchy")
    root = make_root(str(tmp_path))
    state = host.state
    # `ip netns exec` mounts its own /sys: the hierarchy is mounted again inside.
    base = os.path.join(str(tmp_path), "cg")
    os.makedirs(base)
    cgroup = os.path.join(base, "ecs", state["task_id"], state["container_id"])
    run = run_as_target(
        host, home, root, {"HOME": "/root"}, "/bin/busybox sleep 600", host.task_env(home), ["--json"],
        pick=state["container_name"], cgroup=cgroup, cgroup_base=base, select="--container",
    )
    assert run.rc in (0, 1), run.stderr
    target = run.report["target"]
    assert target["container"] == state["container_name"], target
    assert target["container_id"] == state["container_id"][:12]
    assert target["cmdline"] == "/bin/busybox sleep 600"
    assert run.status("env.credentials-variable") == "fail"


def test_unknown_container_lists_the_known_ones(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    root = make_root(str(tmp_path))
    run = run_as_target(host, home, root, {}, "/bin/busybox sleep 600", host.task_env(home), ["--json"], pick="nope", select="--container")
    assert run.rc == 2
    assert "no container named 'nope'" in run.stderr and host.state["container_name"] in run.stderr, run.stderr


def test_watch_keeps_judging_the_target(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """`probe watch --pid`: each run's line is about the target (its missing variable), not
    the sidecar's own environment, which has the variable. The line is the run's short
    summary (issue 20, item 5); the report is on /report."""
    root = make_root(str(tmp_path))
    run = run_as_target(
        host, home, root, {"HOME": "/root"}, "/bin/busybox sleep 600", host.task_env(home),
        ["watch", "--runs", "2", "--interval", "0.1", "--listen", "127.0.0.1:0"],
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, run.stderr
    for doc in lines:
        assert isinstance(doc["target"]["pid"], int) and doc["target"]["pid"] != 1, doc
        assert doc["verdict"] == "fail"
        assert "env.credentials-variable" in doc["failing"] and doc["cause"]["check"] == "env.credentials-variable", doc


def test_watch_with_an_unreadable_pid_stops_at_start(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    root = make_root(str(tmp_path))
    run = run_as_target(
        host, home, root, {}, "/bin/busybox sleep 600", host.task_env(home),
        ["watch", "--runs", "1", "--listen", "127.0.0.1:0"], pick="99999",
    )
    assert run.rc == 2 and "no process 99999" in run.stderr, run.stderr


def test_an_sdk_no_process_uses_is_not_the_targets(host: NetnsHost, home: str, tmp_path: "os.PathLike[str]") -> None:
    """Issue 20, item 3: the target's image holds an old Node SDK that no process runs (the
    target is a shell's `sleep`): it is not in use, so it warns instead of failing the run
    (a `--container` sidecar stayed unhealthy for an SDK nobody runs)."""
    root = make_root(str(tmp_path))
    app_env = {k: v for k, v in host.task_env(home).items() if k.startswith(("AWS_", "ECS_"))}
    app_env["HOME"] = "/root"
    run = run_as_target(host, home, root, app_env, "/bin/busybox sleep 600", host.task_env(home), ["--json"])
    js = sdk_line(run, "js-v2")
    assert js is not None and js["version"] == "2.4.6" and js["used_by"] == [], js
    assert run.status("sdk.versions") == "warn", run.check("sdk.versions")
    assert run.status("sdk.identity") == "warn", run.check("sdk.identity")
    assert run.rc == 0, [(c["id"], c["status"]) for c in run.report["checks"] if c["status"] in ("fail", "error")]
