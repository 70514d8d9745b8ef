"""Issue 20, item 4: the remedies name as culprits exactly the processes that really lose PID 1's
variables, and the fix they give (the shim with --environment-file) really reaches them.

Real processes in a fresh PID, mount and network namespace (``unshare``), PID 1 holding the
task's variables as ECS gives them; /etc is an overlay whose writes stay in the test's folder
(the machine's /etc/profile.d, /etc/environment and profiles are never touched). Each kind of
process is started the way it starts in a container, then /proc/PID/environ is read:

- cron-like: what cron gives a job (HOME, LOGNAME, SHELL, PATH, nothing else); cron itself is
  not installed here, and busybox crond runs jobs only on the minute;
- ``env -i``;
- ``su -`` (Debian's login/passwd packages, with its PAM stack);
- supervisord: not installed here, so a stand-in that spawns its program exactly as
  supervisor/process.py does (``env = os.environ.copy()``, then ``environment=`` on top);
- ``sh -l``;
- an ECS Exec shell: the SSM agent stand-in is exec'd with the container's environment (as
  ``docker exec`` starts it) and starts the shell as amazon-ssm-agent
  agent/session/shell/shell_unix.go does (``cmd.Env = append(os.Environ(), "TERM=...")``).

The probe itself then runs as the cron-like process would, and its report's culprit lists (the
remedy's "Not PID 1 (...)?" and the detail's "(... do that)") must name exactly the kinds that
lost the variable. ``sudo -i``, sshd and inits that clear the environment are named from their
documented behaviour: none is installed here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import GUARD_DIR, REPO, clean_env, need
from probe.checks import remedies
from shim import profile as shim_profile
from shim.__main__ import build_parser

# Processes in namespaces, as root: the slow subset (conftest's PROCESS_SUITES).
pytestmark = pytest.mark.netns

URI = "/v2/credentials/5b0e7c1d-2a4f-4c3b-9d8e-7f6a5b4c3d2e"
VAR = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"

# label (as the remedies word it), how it is started (a shell command run by PID 1; each ends in
# a `sleep` whose length marks it), whether it loses PID 1's variables.
SUPERVISORD = (
    "import os, sys\n"
    "env = os.environ.copy()\n"  # supervisor/process.py, Subprocess._spawn_as_child
    "env['SUPERVISOR_ENABLED'] = '1'\n"
    "env['SUPERVISOR_PROCESS_NAME'] = 'web'\n"
    "env.update({'APP_SETTING': 'from environment='})\n"
    "os.execve('/bin/sleep', ['sleep', sys.argv[1]], env)\n"
)
SSM_AGENT = (
    "import os, subprocess, sys\n"
    "env = dict(os.environ, TERM='xterm-256color')\n"  # cmd.Env = append(os.Environ(), termEnvVariable)
    "if not os.environ.get('LANG'):\n"
    "    env['LANG'] = 'C.UTF-8'\n"
    "env['HOME'] = '/root'\n"  # RunAsElevated in container mode
    "subprocess.Popen(['sh', '-c', 'exec sleep ' + sys.argv[1]], env=env).wait()\n"
)
# docker exec starts the SSM agent with the container's configured environment: the one PID 1
# was started with, read back from /proc/1/environ here, from a parent that passes nothing on.
DOCKER_EXEC = (
    "import os, sys\n"
    "raw = open('/proc/1/environ', 'rb').read().split(b'\\0')\n"
    "env = dict(e.decode().split('=', 1) for e in raw if b'=' in e)\n"
    "os.execve(sys.executable, [sys.executable, '-c', sys.argv[1], sys.argv[2]], env)\n"
)

KINDS: list[tuple[str, str, bool]] = [
    ("cron jobs", "env -i HOME=/root LOGNAME=root SHELL=/bin/sh PATH=/usr/bin:/bin /bin/sh -c 'exec sleep {n}'", True),
    ("env -i", "env -i /bin/sleep {n}", True),
    ("su -", "su - nobody -s /bin/sh -c 'exec sleep {n}'", True),
    ("supervisord programs", "{py} -c \"$SUPERVISORD\" {n}", False),
    ("sh -l", "sh -l -c 'exec sleep {n}'", False),
    ("ECS Exec shells", "env -i {py} -c \"$DOCKER_EXEC\" \"$SSM_AGENT\" {n}", False),
]

# PID 1 of the emulated container: starts every kind, finds each by its sleep's length, reads
# its environment, runs the probe as a cron job would, then writes what it saw.
INIT = r"""
import json, os, subprocess, sys, time
cfg = json.loads(sys.argv[1])
children = [subprocess.Popen(["sh", "-c", cmd], env=dict(os.environ, **cfg["scripts"])) for cmd in cfg["commands"]]
def find(marker):
    want = b"sleep\0" + str(marker).encode() + b"\0"
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if fh.read().endswith(want):
                        return int(pid)
            except OSError:
                pass
    return None
seen = {}
deadline = time.monotonic() + 20
while time.monotonic() < deadline and len(seen) < len(cfg["markers"]):
    for label, marker in cfg["markers"].items():
        pid = seen.get(label, (None,))[0] or find(marker)
        if pid is None:
            continue
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = dict(e.decode().split("=", 1) for e in fh.read().split(b"\0") if b"=" in e)
        seen[label] = (pid, env)
    time.sleep(0.05)
probe = subprocess.run(cfg["probe"], capture_output=True, text=True)
with open(cfg["out"], "w") as fh:
    json.dump({"seen": {k: {"pid": v[0], "env": v[1]} for k, v in seen.items()}, "probe": probe.stdout, "probe_stderr": probe.stderr}, fh)
for c in children:
    c.kill()
"""


def _need_namespaces() -> None:
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for PID, mount and network namespaces")
    need(shutil.which("su") is not None, "needs su (Debian's login package)")


def _container(tmp_path: Path, home: str, entry: list[str], kinds: list[tuple[str, str, bool]], probe_args: list[str]) -> dict[str, Any]:
    """Run ``entry`` + PID 1's init in fresh namespaces with the task's variables; return what
    PID 1 saw of each kind and the probe's report (run as a cron job would)."""
    upper, work = tmp_path / "etc-upper", tmp_path / "etc-work"
    upper.mkdir()
    work.mkdir()
    out = tmp_path / "seen.json"
    markers = {label: 301 + i for i, (label, _cmd, _loses) in enumerate(kinds)}
    commands = [cmd.format(n=markers[label], py=sys.executable) for label, cmd, _loses in kinds]
    cron_env = [
        "env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "LANG=C.UTF-8",
        f"PYTHONPATH={GUARD_DIR}{os.pathsep}{REPO}", "PYTHONDONTWRITEBYTECODE=1",
        f"PROBE_TEST_HOST_NETNS={os.environ['PROBE_TEST_HOST_NETNS']}", f"PROBE_TEST_GUARD_LOG={os.environ['PROBE_TEST_GUARD_LOG']}",
        f"PROBE_SDK_ROOT={home}",
    ]
    cfg = {
        "commands": commands,
        "markers": markers,
        "scripts": {"SUPERVISORD": SUPERVISORD, "SSM_AGENT": SSM_AGENT, "DOCKER_EXEC": DOCKER_EXEC},
        "probe": [*cron_env, sys.executable, "-m", "probe", *probe_args],
        "out": str(out),
    }
    # /etc is an overlay: the shim's writes (profile.d, /etc/environment) land in `upper`.
    mount = f'mount -t overlay overlay -o lowerdir=/etc,upperdir="{upper}",workdir="{work}" /etc && exec "$@"'
    env = clean_env(home, {VAR: URI, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"})
    argv = ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--kill-child", "sh", "-c", mount, "container",
            *entry, sys.executable, "-c", INIT, json.dumps(cfg)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.exists(), (proc.returncode, proc.stderr[-3000:])
    result = json.loads(out.read_text())
    assert set(result["seen"]) == set(markers), (result["seen"].keys(), proc.stderr[-3000:])
    assert "Traceback" not in result["probe_stderr"], result["probe_stderr"]
    return result


def _named(text: str, pattern: str) -> list[str]:
    """The comma-separated list a remedy or detail gives in the parentheses ``pattern`` finds."""
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return [w.strip() for w in re.split(r",\s*|\s+or\s+", m.group(1)) if w.strip()]


def test_the_culprits_named_are_the_processes_that_lose_the_variable(tmp_path: Path, home: str) -> None:
    _need_namespaces()
    result = _container(tmp_path, home, [], KINDS, ["--json", "--only", "env.credentials-variable,processes.credentials-variable"])
    lost = {label: VAR not in seen["env"] for label, seen in result["seen"].items()}
    # What really happens to PID 1's variable, measured.
    assert lost == {label: loses for label, _cmd, loses in KINDS}, lost
    for label, seen in result["seen"].items():
        if not lost[label]:
            assert seen["env"][VAR] == URI, label

    report = json.loads(result["probe"])
    checks = {c["id"]: c for c in report["checks"]}
    cv = checks["env.credentials-variable"]
    assert cv["status"] == "fail" and "lost" in cv["title"], cv
    culprits = _named(cv["remedy"], r"^Not PID 1 \(([^)]*)\)\?")
    in_detail = _named(cv["detail"], r"environment \(([^)]*) do that\)")
    for label, loses in lost.items():
        assert (label in culprits) is loses, (label, culprits)
        assert (label in in_detail) is loses, (label, in_detail)
    # Every culprit named is one that loses the variable: measured here or, for those this
    # machine cannot start (sudo, sshd, an init), from ECS_FACTS.md.
    assert culprits == list(remedies.LOSE_PID1_ENVIRONMENT)
    assert not set(culprits) & set(remedies.KEEP_PID1_ENVIRONMENT)
    assert {label for label, loses in lost.items() if not loses} <= set(remedies.KEEP_PID1_ENVIRONMENT)

    # The process survey agrees: exactly the losing kinds (and the probe, started as cron does)
    # lack it among the processes measured.
    survey = checks["processes.credentials-variable"]
    assert survey["status"] == "fail", survey
    lacking = set(survey["data"]["lacking"])
    for label, seen in result["seen"].items():
        assert (seen["pid"] in lacking) is lost[label], (label, seen["pid"], lacking)
    assert remedies.NON_PID1 == cv["remedy"]


def test_the_remedies_give_cron_the_environment_file() -> None:
    """cron reads neither /etc/profile.d nor ~/.profile: every ENTRYPOINT the shim remedy gives
    writes /etc/environment, and the shim accepts it as written."""
    entrypoints = re.findall(r"ENTRYPOINT (\[[^\]]*\])", remedies.SHIM)
    assert len(entrypoints) == 2, remedies.SHIM
    for ep in map(json.loads, entrypoints):
        args = build_parser().parse_args([*ep[1:], "supervisord", "-n"])
        assert args.environment_file == "/etc/environment" and args.command[-2:] == ["supervisord", "-n"], ep
    for text in (remedies.SHIM, remedies.NON_PID1, remedies.KEEP_ENVIRONMENT):
        for keeper in ("supervisord", "ECS Exec", "a login shell"):
            assert keeper not in text, (keeper, text)
    # The header the shims write into /etc/profile.d says the same: cron needs the
    # environment file; no keeper is named as losing the variable.
    header = shim_profile.HEADER
    assert "--environment-file" in header and "/etc/environment" in header
    assert "ECS Exec" not in header and "supervisord" not in header
    twin = (Path(REPO) / "shim" / "ecs-shim.sh").read_text()
    m = re.search(r'^HEADER="(.*)"$', twin, re.M)
    assert m and m.group(1).replace("$NL", "\n") == header


FIXED = [
    # Through pam_env alone (--no-default-profiles): the route cron jobs take on Debian and Ubuntu.
    ("su - (pam_env)", "su - nobody -s /bin/sh -c 'exec sleep {n}'", False),
    # busybox crond: the job sources /etc/profile, which reads /etc/profile.d.
    ("env -i, . /etc/profile", "env -i PATH=/usr/bin:/bin /bin/sh -c '. /etc/profile; exec sleep {n}'", False),
    ("env -i sh -l", "env -i PATH=/usr/bin:/bin /bin/sh -l -c 'exec sleep {n}'", False),
    # Nothing reaches a plain `env -i` process: the remedy says so rather than promise it.
    ("env -i", "env -i /bin/sleep {n}", True),
]


@pytest.mark.parametrize("impl", ["python", "sh"])
@pytest.mark.parametrize("profiles", [["--no-default-profiles"], []], ids=["environment-file-only", "all-files"])
def test_the_shim_fix_reaches_what_the_remedy_says(tmp_path: Path, home: str, impl: str, profiles: list[str]) -> None:
    """PID 1 started as the remedy says (the shim with --environment-file): a fresh PAM session
    gets the variable from /etc/environment alone, a busybox-crond-like job and `env -i sh -l`
    from /etc/profile.d; a bare `env -i` gets nothing, as the remedy warns."""
    _need_namespaces()
    shim = [sys.executable, "-m", "shim"] if impl == "python" else ["sh", str(Path(REPO) / "shim" / "ecs-shim.sh")]
    kinds = FIXED[:1] + FIXED[3:] if profiles else FIXED
    result = _container(tmp_path, home, [*shim, *profiles, "--environment-file", "--"], kinds, ["--version"])
    got = {label: VAR not in seen["env"] for label, seen in result["seen"].items()}
    assert got == {label: loses for label, _cmd, loses in kinds}, got
    for label, seen in result["seen"].items():
        if not got[label]:
            assert seen["env"][VAR] == URI, label
    # The machine's own files were never written.
    assert (tmp_path / "etc-upper" / "environment").exists()
    with open("/etc/environment", encoding="utf-8", errors="replace") as fh:
        assert URI not in fh.read()
