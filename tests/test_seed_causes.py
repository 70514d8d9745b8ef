"""Issue 10, "each seed cause, alone, is named first": for every cause on the knowledge-center
checklist, a scenario through the real CLI where it is the only thing wrong. The report's
`summary` must name it and the first remedy must be the fix that repairs it.

"First remedy": in the JSON report the top-level `cause.remedy` when the report has one, else
the remedy of the first failing check in report order (the first warning's when nothing fails);
in the text report, the first line that starts with optional spaces then `fix:` (with the
lines it wraps onto). Phrases are checked case-insensitively, as substrings, so the wording
can evolve.

Task mode runs the probe in a network namespace (tests/helpers.py NetnsHost: the emulated
agent and IMDS on the real link-local addresses, moto's STS) and, so that no process of this
machine is part of the picture, in a fresh PID + mount namespace whose /etc/profile.d is a
scratch folder. Host mode runs `probe host` in a network namespace with real iptables rules,
sysctl and a stand-in introspection API, arranged like an ECS-optimized instance (ecs-init's
unit is bind-mounted into a private mount namespace), except for the one cause under test.

Each scenario has a control: the same set-up with nothing wrong must not fail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import pytest

from helpers import REPO, NetnsHost, ProbeRun, assert_no_secrets, clean_env, need, netns_available, run_probe

MATRIX = "/var/cache/ecs-credential-probe/sdk-matrix"
JS_OLD = os.path.join(MATRIX, "js-v2-2.4.6", "node_modules", "aws-sdk")
GO_V1 = os.path.join(MATRIX, "go-v1", "whoami")
SHIMS = {"python-shim": [sys.executable, "-m", "shim"], "sh-shim": ["/bin/sh", os.path.join(REPO, "shim", "ecs-shim.sh")]}
HOST_PROFILE_D = "/etc/profile.d/ecs-credentials.sh"


# ---------------------------------------------------------------------------------------
# Reading the report: summary and first fix, JSON and text
# ---------------------------------------------------------------------------------------


def first_fix_json(report: dict[str, Any]) -> str:
    cause = report.get("cause")
    if isinstance(cause, dict) and cause.get("remedy"):
        return str(cause["remedy"])
    for statuses in (("fail", "error"), ("warn",)):
        for c in report.get("checks") or []:
            if c.get("status") in statuses and c.get("remedy"):
                return str(c["remedy"])
    return ""


def first_fix_text(text: str) -> str:
    """The first `fix:` line, joined with the lines it wraps onto (indented under it)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^( *)fix:\s?(.*)$", line)
        if not m:
            continue
        indent = " " * (len(m.group(1)) + len("fix: "))
        parts = [m.group(2).strip()]
        for nxt in lines[i + 1 :]:
            if not nxt.strip() or not nxt.startswith(indent) or re.match(r"^ *fix:", nxt):
                break
            parts.append(nxt.strip())
        return " ".join(parts)
    return ""


def summary_text(text: str) -> str:
    """What the text report says after its `Verdict:` line (the summary)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Verdict:"):
            return " ".join(line.strip() for line in lines[i + 1 :] if line.strip())
    return text


Phrase = Callable[[str], bool]


def has(*words: str) -> Phrase:
    """All these words, case-insensitive substrings."""
    def test(s: str) -> bool:
        return all(w.lower() in s.lower() for w in words)

    test.__doc__ = " and ".join(repr(w) for w in words)
    return test


def either(*tests: Phrase) -> Phrase:
    def test(s: str) -> bool:
        return any(t(s) for t in tests)

    test.__doc__ = " or ".join(f"({t.__doc__})" for t in tests)
    return test


def regex(pattern: str, shown: str) -> Phrase:
    def test(s: str) -> bool:
        return re.search(pattern, s, re.IGNORECASE) is not None

    test.__doc__ = shown
    return test


NEGATION = regex(r"\b(no|not)\b|n't", "'no' or 'not'")


def lacks(*words: str) -> Phrase:
    """None of these words (the fix of a cause the facts rule out)."""
    def test(s: str) -> bool:
        return not any(w.lower() in s.lower() for w in words)

    test.__doc__ = "none of " + ", ".join(repr(w) for w in words)
    return test


def both(*tests: Phrase) -> Phrase:
    def test(s: str) -> bool:
        return all(t(s) for t in tests)

    test.__doc__ = " and ".join(f"({t.__doc__})" for t in tests)
    return test


def assert_named_first(json_run: ProbeRun, text_run: Optional[ProbeRun], summary: Phrase, fix: Phrase) -> None:
    """The summary names the cause and the first fix repairs it, in JSON and in text."""
    rep = json_run.report
    problems = []
    got_summary, got_fix = rep.get("summary", ""), first_fix_json(rep)
    if not summary(got_summary):
        problems.append(f"JSON summary should have {summary.__doc__}: {got_summary!r}")
    if not fix(got_fix):
        problems.append(f"JSON first fix should have {fix.__doc__}: {got_fix!r}")
    if text_run is not None:
        t_summary, t_fix = summary_text(text_run.stdout), first_fix_text(text_run.stdout)
        if not summary(t_summary):
            problems.append(f"text summary should have {summary.__doc__}: {t_summary!r}")
        if not fix(t_fix):
            problems.append(f"text first fix should have {fix.__doc__}: {t_fix!r}")
    failing = [(c["id"], c["status"]) for c in rep.get("checks", []) if c["status"] in ("fail", "error", "warn")]
    # Shown by `pytest -rA`: what the probe says today, for whoever changes the wording.
    print(f"summary: {got_summary!r}\nfirst fix (JSON): {got_fix!r}")
    if text_run is not None:
        print(f"first fix (text): {first_fix_text(text_run.stdout)!r}")
    assert not problems, "\n".join(problems) + f"\n(cause: {rep.get('cause')!r}; failing/warning checks in order: {failing})"


@pytest.fixture(autouse=True)
def host_profile_untouched() -> Iterator[None]:
    """No scenario may write this machine's own /etc/profile.d."""
    before = os.path.exists(HOST_PROFILE_D)
    yield
    assert os.path.exists(HOST_PROFILE_D) == before, f"a test wrote {HOST_PROFILE_D} on this machine"


# ---------------------------------------------------------------------------------------
# Task mode: NetnsHost, the probe in a fresh PID + mount namespace inside it
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    need(shutil.which("unshare") is not None, "needs unshare (util-linux) for a PID namespace")
    with NetnsHost() as h:
        yield h


@pytest.fixture
def nshost(host: NetnsHost) -> NetnsHost:
    host.set(behaviour="ok", clock_offset=0, auth_token=None, imds_enabled=True, reset_counters=True)
    return host


def in_pid_namespace(host: NetnsHost, tmp_path: Path, inner: Sequence[str], env: dict[str, str], secrets: Sequence[str], timeout: float = 90) -> ProbeRun:
    """Run ``inner`` as PID 1 of a fresh PID + mount namespace inside the host's network
    namespace, with /etc/profile.d replaced by tmp_path/profile.d; scan the output for secrets."""
    profile_d = tmp_path / "profile.d"
    profile_d.mkdir(exist_ok=True)
    profile_d.chmod(0o755)
    script = f'mount --bind "{profile_d}" /etc/profile.d && exec "$@"'
    cmd = ["ip", "netns", "exec", host.name, "unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "pid1", *inner]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    run = ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_no_secrets([run.stdout, run.stderr], secrets)
    return run


def probe_as_pid1(host: NetnsHost, tmp_path: Path, env: dict[str, str], fmt: str) -> ProbeRun:
    args = ["--json"] if fmt == "json" else ["--format", "text", "--no-color"]
    return in_pid_namespace(host, tmp_path, [sys.executable, "-m", "probe", *args], env, host.secrets())


def _linked_copy(src: str, dst: str) -> None:
    """A symlink-free copy (the SDK scanner never follows symlinks); hard links where possible."""

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, symlinks=False, copy_function=link_or_copy)


def _no_task_role(host: NetnsHost, home: str) -> dict[str, str]:
    """No taskRoleArn: the agent injects no credentials variable, into PID 1 or anyone."""
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    return env


def _proxy_for_go(host: NetnsHost, home: str) -> dict[str, str]:
    """A Go v1 application (honours HTTP_PROXY for the credentials endpoint) and a proxy whose
    NO_PROXY forgets the link-local hosts."""
    need(os.access(GO_V1, os.X_OK), f"{GO_V1} not built (bash tests/sdk_matrix/setup.sh)")
    app = Path(home) / "app"
    app.mkdir()
    shutil.copy2(GO_V1, app / "whoami")
    return host.task_env(home, HTTP_PROXY="http://127.0.0.1:3128", NO_PROXY="127.0.0.1,localhost")


def _old_js_sdk(host: NetnsHost, home: str) -> dict[str, str]:
    """aws-sdk 2.4.6 (June 2016) in the application's node_modules; IMDS answers (the instance role)."""
    need(os.path.isfile(os.path.join(JS_OLD, "package.json")), f"{JS_OLD} not installed (bash tests/sdk_matrix/setup.sh)")
    modules = Path(home) / "app" / "node_modules"
    modules.mkdir(parents=True)
    _linked_copy(JS_OLD, str(modules / "aws-sdk"))
    return host.task_env(home)


def _static_keys(host: NetnsHost, home: str) -> dict[str, str]:
    user = host.info["user"]
    return host.task_env(home, AWS_ACCESS_KEY_ID=user["access_key_id"], AWS_SECRET_ACCESS_KEY=user["secret_access_key"])


TASK_CASES = [
    pytest.param(_no_task_role, both(has("task role"), NEGATION), has("taskRoleArn"), id="no-task-role"),
    pytest.param(_proxy_for_go, has("proxy"), has("NO_PROXY=169.254.169.254,169.254.170.2"), id="proxy-without-no-proxy-go-v1"),
    pytest.param(_old_js_sdk, has("aws-sdk 2.4.6"), has("2.4.7"), id="sdk-older-than-july-2016"),
    pytest.param(_static_keys, either(has("AWS_ACCESS_KEY_ID"), has("static keys")), has("Remove"), id="static-keys-shadow-the-role"),
]


@pytest.mark.netns
def test_task_control_healthy(nshost: NetnsHost, home: str, tmp_path: Path) -> None:
    """The set-up the task cases start from: nothing fails (IMDS reachable is a warning)."""
    run = probe_as_pid1(nshost, tmp_path, nshost.task_env(home), "json")
    rep = run.report
    assert run.rc == 0 and rep["verdict"] in ("pass", "warn"), (rep["summary"], [(c["id"], c["status"]) for c in rep["checks"] if c["status"] != "pass"])
    assert rep["identity"]["kind"] == "task-role"


@pytest.mark.netns
@pytest.mark.parametrize("make_env, summary, fix", TASK_CASES)
def test_task_seed_cause_named_first(nshost: NetnsHost, home: str, tmp_path: Path, make_env: Callable[[NetnsHost, str], dict[str, str]], summary: Phrase, fix: Phrase) -> None:
    env = make_env(nshost, home)
    json_run = probe_as_pid1(nshost, tmp_path, env, "json")
    assert json_run.rc == 1 and json_run.report["verdict"] == "fail", json_run.report["summary"]
    text_run = probe_as_pid1(nshost, tmp_path, env, "text")
    assert text_run.rc == 1
    assert_named_first(json_run, text_run, summary, fix)


# ---- the not-PID-1 case: the knowledge-center scenario, before and after the shim ------


def _login_shell_script(home: str, fmt: str) -> str:
    """What PID 1 runs: a clean login shell (as ECS Exec, cron, `su -` give), in which the probe
    runs. Only the test's plumbing passes `env -i` (PATH, HOME, the network guard, the SDK root,
    the STS endpoint of this test network); nothing the ECS agent injected. The shell stays the
    probe's parent (its last command is a builtin), as an interactive shell would."""
    plumbing = clean_env(home, {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000"})
    keep = " ".join(shlex.quote(f"{k}={v}") for k, v in plumbing.items())
    args = "--json" if fmt == "json" else "--format text --no-color"
    inner = f"{shlex.quote(sys.executable)} -m probe {args}; rc=$?; exit $rc"
    return f"env -i {keep} bash -l -c {shlex.quote(inner)}"


def _not_pid1_run(host: NetnsHost, home: str, tmp_path: Path, fmt: str, shim: Optional[list[str]]) -> ProbeRun:
    for stale in (tmp_path / "profile.d" / "ecs-credentials.sh", Path(home) / ".profile"):
        if stale.exists():
            stale.unlink()
    inner = [*(shim + ["--"] if shim else []), "sh", "-c", _login_shell_script(home, fmt)]
    return in_pid_namespace(host, tmp_path, inner, host.task_env(home), host.secrets())


@pytest.mark.netns
def test_not_pid1_before_the_shim(nshost: NetnsHost, home: str, tmp_path: Path) -> None:
    """PID 1 has AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; the login shell, and so the probe, do
    not: the cause is the lost environment and the first fix is the shim (not taskRoleArn nor
    the agent's flags: PID 1 proves both are fine)."""
    need(shutil.which("bash") is not None, "needs bash")
    os.chmod(home, 0o755)
    json_run = _not_pid1_run(nshost, home, tmp_path, "json", None)
    rep = json_run.report
    assert json_run.rc == 1 and rep["verdict"] == "fail", rep["summary"]
    assert rep["identity"]["kind"] == "instance-role", rep["identity"]
    text_run = _not_pid1_run(nshost, home, tmp_path, "text", None)
    assert text_run.rc == 1
    # PID 1 has the variable, so the task role and the agent are fine: their fixes must not come first.
    assert_named_first(json_run, text_run, has("PID 1"), both(has("shim"), lacks("taskRoleArn")))


@pytest.mark.netns
@pytest.mark.parametrize("shim", sorted(SHIMS))
def test_not_pid1_after_the_shim(nshost: NetnsHost, home: str, tmp_path: Path, shim: str) -> None:
    """The shim as PID 1 wrote the profiles, the login shell sourced them, the probe has the
    variable: no check fails, and the login shell (whose /proc environ predates the profile)
    does not count as lacking it."""
    need(shutil.which("bash") is not None, "needs bash")
    os.chmod(home, 0o755)
    run = _not_pid1_run(nshost, home, tmp_path, "json", SHIMS[shim])
    rep = run.report
    assert (tmp_path / "profile.d" / "ecs-credentials.sh").exists(), "the shim did not write the profile"
    assert rep["identity"]["kind"] == "task-role", (rep["summary"], rep["identity"])
    cv = run.check("processes.credentials-variable")
    assert cv["status"] != "fail", cv
    failing = [(c["id"], c["status"], c["title"]) for c in rep["checks"] if c["status"] in ("fail", "error")]
    assert run.rc == 0 and rep["verdict"] != "fail", (rep["summary"], failing)


# ---------------------------------------------------------------------------------------
# Host mode: an ECS-optimized-like instance in a network namespace, one thing wrong
# ---------------------------------------------------------------------------------------

DNAT = "-t nat -A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679"
REDIRECT = "-t nat -A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679"
GOOD_CONFIG = {
    "ECS_CLUSTER": "prod",
    "ECS_ENABLE_TASK_IAM_ROLE": "true",
    "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST": "true",
    "ECS_AWSVPC_BLOCK_IMDS": "true",
}
INTROSPECTION = textwrap.dedent(
    """
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Cluster": "prod", "ContainerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e2d3c",
                               "Version": "Amazon ECS Agent - v1.86.3 (a1b2c3d4)"}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def log_message(self, *a):
            pass
    HTTPServer(("127.0.0.1", 51678), H).serve_forever()
    """
)
UNIT_DIR = "/usr/lib/systemd/system"


@dataclass
class Instance:
    name: str
    agent: Optional["subprocess.Popen[bytes]"] = None

    def ns(self, *cmd: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=True, capture_output=True, timeout=30)

    def start_agent(self) -> None:
        self.agent = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", INTROSPECTION])
        deadline = time.monotonic() + 10
        connect = "import socket; socket.create_connection(('127.0.0.1', 51678), 1)"
        while time.monotonic() < deadline:
            if subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", connect], capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("introspection stand-in did not start")

    def probe(self, home: str, tmp_path: Path, config: str, fmt: str) -> ProbeRun:
        """`probe host` in the namespace, with ecs-init's unit present (a private mount namespace
        puts a folder holding ecs.service over /usr/lib/systemd/system for this run only)."""
        cfg = Path(home) / "ecs.config"
        cfg.write_text(config)
        units = tmp_path / "units"
        units.mkdir(exist_ok=True)
        (units / "ecs.service").write_text("[Unit]\nDescription=Amazon Elastic Container Service - container agent\n")
        args = ["--json"] if fmt == "json" else ["--format", "text", "--no-color"]
        script = f'mount --bind "{units}" {UNIT_DIR} && exec "$@"'
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "host-probe",
               "ip", "netns", "exec", self.name, sys.executable, "-m", "probe", "host", *args, "--ecs-config", str(cfg)]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=clean_env(home), capture_output=True, text=True, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        return ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture
def instance() -> Iterator[Instance]:
    why = netns_available()
    need(why is None, why or "")
    need(shutil.which("iptables") is not None, "needs iptables")
    need(shutil.which("unshare") is not None and os.path.isdir(UNIT_DIR), f"needs unshare and {UNIT_DIR}")
    inst = Instance(f"ecp-seed-{uuid.uuid4().hex[:6]}")
    subprocess.run(["ip", "netns", "add", inst.name], check=True, timeout=30)
    try:
        inst.ns("ip", "link", "set", "lo", "up")
        inst.ns("sysctl", "-w", "net.ipv4.conf.all.route_localnet=1")
        inst.ns("iptables", "-N", "DOCKER-USER")
        inst.ns("iptables", "-I", "DOCKER-USER", "1", "-i", "docker+", "-d", "169.254.169.254/32", "-j", "DROP")
        inst.start_agent()
        yield inst
    finally:
        if inst.agent:
            inst.agent.kill()
            inst.agent.wait()
        subprocess.run(["ip", "netns", "del", inst.name], capture_output=True, timeout=30)


def config(**changes: Optional[str]) -> str:
    merged = {**GOOD_CONFIG, **changes}
    return "".join(f"{k}={v}\n" for k, v in merged.items() if v is not None)


HOST_CASES = [
    # (ecs.config, install the redirect rules, expected verdict, summary, first fix)
    pytest.param(config(ECS_ENABLE_TASK_IAM_ROLE="false"), True, "fail",
                 regex(r"ECS_ENABLE_TASK_IAM_ROLE(?!_)", "'ECS_ENABLE_TASK_IAM_ROLE' (not only ..._NETWORK_HOST)"),
                 has("ECS_ENABLE_TASK_IAM_ROLE=true"), id="agent-flag-off-bridge"),
    pytest.param(config(ECS_ENABLE_TASK_IAM_ROLE='"true"'), True, "fail",
                 regex(r"ECS_ENABLE_TASK_IAM_ROLE(?!_)", "'ECS_ENABLE_TASK_IAM_ROLE' (not only ..._NETWORK_HOST)"),
                 has("ECS_ENABLE_TASK_IAM_ROLE=true"), id="agent-flag-quoted-bridge"),
    # README's check table: host.config.task-iam-role-network-host only warns when the flag is
    # false (the instance cannot know whether a host-network task will run there).
    pytest.param(config(ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST="false"), True, "warn",
                 has("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST"), has("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true"), id="agent-flag-off-host-network"),
    pytest.param(config(), False, "fail",
                 either(has("169.254.170.2"), has("iptables")), has("iptables -t nat"), id="missing-iptables-rules"),
]


@pytest.mark.netns
def test_host_control_healthy(instance: Instance, home: str, tmp_path: Path) -> None:
    """The instance the host cases start from passes every check."""
    instance.ns("iptables", *DNAT.split())
    instance.ns("iptables", *REDIRECT.split())
    run = instance.probe(home, tmp_path, config(), "json")
    rep = run.report
    assert run.rc == 0 and rep["verdict"] == "pass", [(c["id"], c["status"], c["title"]) for c in rep["checks"] if c["status"] != "pass"]


@pytest.mark.netns
@pytest.mark.parametrize("ecs_config, rules, verdict, summary, fix", HOST_CASES)
def test_host_seed_cause_named_first(instance: Instance, home: str, tmp_path: Path, ecs_config: str, rules: bool, verdict: str, summary: Phrase, fix: Phrase) -> None:
    if rules:
        instance.ns("iptables", *DNAT.split())
        instance.ns("iptables", *REDIRECT.split())
    json_run = instance.probe(home, tmp_path, ecs_config, "json")
    rep = json_run.report
    assert rep["verdict"] == verdict and json_run.rc == (1 if verdict == "fail" else 0), (rep["summary"], [(c["id"], c["status"]) for c in rep["checks"] if c["status"] != "pass"])
    text_run = instance.probe(home, tmp_path, ecs_config, "text")
    assert_named_first(json_run, text_run, summary, fix)


# ---------------------------------------------------------------------------------------
# Trust mode: the wrong principal
# ---------------------------------------------------------------------------------------

ALLOW = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}


@pytest.mark.parametrize(
    "principal, verdict",
    [
        pytest.param("ecs-tasks.amazonaws.com", "pass", id="control-ecs-tasks"),
        pytest.param("ec2.amazonaws.com", "fail", id="wrong-trust-principal"),
    ],
)
def test_trust_seed_cause_named_first(home: str, tmp_path: Path, principal: str, verdict: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{**ALLOW, "Principal": {"Service": principal}}]}))
    base = ["trust", "--policy-file", str(path), "--account", "123456789012"]
    json_run = run_probe([*base, "--json"], clean_env(home))
    assert json_run.report["verdict"] == verdict and json_run.rc == (0 if verdict == "pass" else 1), json_run.report
    if verdict == "pass":
        return
    text_run = run_probe([*base, "--format", "text", "--no-color"], clean_env(home))
    assert_named_first(json_run, text_run, has("ecs-tasks.amazonaws.com"), has("ecs-tasks.amazonaws.com"))
