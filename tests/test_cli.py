"""The command line: exit codes, options and their PROBE_* defaults, colour, bad input."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from typing import Iterator

import pytest

from helpers import IMPLEMENTED_TASK_IDS, REPO, clean_env, run_probe
from probe.emulator import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.give_task_role("cli-task-role")
        e.give_instance_role()
        e.update({"imds_enabled": False})
        yield e


def env_for(emu: Emulator, home: str, **extra: str) -> dict[str, str]:
    return clean_env(home, {**emu.task_env(), **extra})


def test_version_and_help(home: str) -> None:
    run = run_probe(["--version"], clean_env(home))
    assert run.rc == 0 and run.stdout.strip() == "ecs-credential-probe 0.1.0"
    assert run_probe(["-V"], clean_env(home)).stdout.strip() == "ecs-credential-probe 0.1.0"
    run = run_probe(["--help"], clean_env(home))
    assert run.rc == 0 and "Exit codes" in run.stdout


@pytest.mark.parametrize(
    "args, extra, message",
    [
        pytest.param(["--bogus"], {}, "unrecognized arguments", id="unknown-flag"),
        pytest.param(["--format", "xml"], {}, "invalid choice", id="bad-format"),
        pytest.param(["--deadline", "soon"], {}, "--deadline soon: not a number of seconds", id="bad-deadline"),
        pytest.param(["--deadline", "0"], {}, "between 0 and 600", id="zero-deadline"),
        pytest.param([], {"PROBE_DEADLINE": "abc"}, "PROBE_DEADLINE=abc: not a number of seconds", id="bad-env-deadline"),
        pytest.param([], {"PROBE_FORMAT": "yaml"}, "PROBE_FORMAT=yaml: must be text or json", id="bad-env-format"),
        pytest.param(["tsak"], {}, "unknown command 'tsak' (did you mean 'task'?)", id="typo-command"),
        pytest.param(["--output", "json"], {}, "use --format json", id="aws-cli-output-habit"),
        pytest.param(["--only", "env.nope"], {}, "unknown check id env.nope", id="unknown-check"),
        pytest.param(["--facts", "/nonexistent/facts.json"], {}, "cannot read --facts", id="missing-facts"),
        pytest.param(["--output", "/nonexistent/dir/report.txt", "--only", "env.region"], {}, "cannot write --output", id="unwritable-output"),
        pytest.param(["taskdef", "/nonexistent/td.json"], {}, "cannot read /nonexistent/td.json", id="taskdef-missing-file"),
        pytest.param(["trust"], {}, "one of the arguments --role --policy-file is required", id="trust-needs-a-source"),
    ],
)
def test_usage_errors_exit_2(home: str, args: list[str], extra: dict[str, str], message: str) -> None:
    run = run_probe(args, clean_env(home, {"AWS_EC2_METADATA_DISABLED": "true", **extra}))
    assert run.rc == 2, (run.stdout, run.stderr)
    assert message in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x00\xff\xfe garbage", id="binary"),
        pytest.param(b'{"schema": "ecs-credential-probe/facts/v1", "facts": ', id="truncated"),
        pytest.param(b'["a", "list"]', id="wrong-type"),
    ],
)
def test_garbage_facts_file(home: str, tmp_path, content: bytes) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(content)
    run = run_probe(["--facts", str(path)], clean_env(home))
    assert run.rc == 2 and run.stderr.startswith("probe: ")


def test_facts_with_odd_shapes_never_crash(home: str, tmp_path) -> None:
    """Records of the wrong type are refused when loaded (exit 2, the field named), never a
    traceback and never a verdict built on them (issue 11, item 18)."""
    doc = {
        "schema": "ecs-credential-probe/facts/v1",
        "facts": {"environ": {"credentials_target": "oops", "present": [1, 2]}, "credentials": {"status": "200"}, "identity": 7},
    }
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(doc))
    run = run_probe(["--json", "--facts", str(path)], clean_env(home))
    assert run.rc == 2 and run.stdout == ""
    assert "facts.environ.credentials_target is a string, not an object" in run.stderr


def test_exit_codes_and_strict(emu: Emulator, home: str) -> None:
    assert run_probe(["--json"], env_for(emu, home)).rc == 0
    emu.update({"imds_enabled": True})  # the instance role is reachable: a warning
    run = run_probe(["--json"], env_for(emu, home))
    assert run.rc == 0 and run.report["verdict"] == "warn"
    assert run_probe(["--json", "--strict"], env_for(emu, home)).rc == 1
    assert run_probe(["--json"], env_for(emu, home, PROBE_STRICT="true")).rc == 1
    emu.update({"behaviour": "internal"})
    assert run_probe(["--json"], env_for(emu, home)).rc == 1


def test_json_report_shape(emu: Emulator, home: str) -> None:
    run = run_probe(["task", "--format", "json"], env_for(emu, home))
    rep = run.report
    assert set(rep) == {"schema", "tool", "mode", "started_at", "duration_ms", "verdict", "summary", "identity", "task", "cause", "checks", "sdks"}
    assert rep["sdks"] == []  # the scan root (PROBE_SDK_ROOT) holds no SDK
    assert rep["schema"] == "ecs-credential-probe/report/v1"
    assert rep["tool"] == {"name": "ecs-credential-probe", "version": "0.1.0"}
    assert rep["mode"] == "task"
    assert rep["started_at"].endswith("Z") and len(rep["started_at"]) == 20
    ids = [c["id"] for c in rep["checks"]]
    assert ids == IMPLEMENTED_TASK_IDS
    for c in rep["checks"]:
        assert set(c) == {"id", "status", "title", "detail", "remedy", "data", "duration_ms"}
        assert c["status"] in ("pass", "warn", "fail", "skip", "error")
        if c["status"] == "skip":
            assert c["detail"]
    assert set(rep["task"]) == {"task_arn", "cluster", "launch_type", "network_mode", "container_name", "availability_zone"}


def test_env_defaults_and_options_after_or_before_command(emu: Emulator, home: str, tmp_path) -> None:
    run = run_probe([], env_for(emu, home, PROBE_FORMAT="json"))
    assert run.report["verdict"] == "pass", run.report["summary"]
    out = tmp_path / "report.json"
    run = run_probe(["--json", "task", "--output", str(out)], env_for(emu, home), saved=(str(out),))
    assert run.stdout == "" and json.loads(run.files[str(out)])["verdict"] == "pass"
    run = run_probe(["--skip", "identity.caller,identity.task-role", "--json"], env_for(emu, home))
    skipped = {c["id"]: c["detail"] for c in run.report["checks"] if c["detail"].startswith("not selected")}
    assert skipped == {"identity.caller": "not selected (--skip)", "identity.task-role": "not selected (--skip)"}


def test_text_report_reads_well(emu: Emulator, home: str) -> None:
    emu.update({"behaviour": "uninitialized"})
    run = run_probe(["--no-color"], env_for(emu, home))
    lines = run.stdout.splitlines()
    assert lines[1].startswith("Identity: unknown")
    assert any(line.startswith("[FAIL] endpoint.credentials ") for line in lines)
    assert any(line.strip().startswith("fix: ") for line in lines)
    assert "Verdict: FAIL" in run.stdout
    assert "\x1b[" not in run.stdout


def _run_on_tty(env: dict[str, str]) -> str:
    """Run the probe with a pseudo-terminal as stdout; return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "probe", "--only", "env.region"], env=env, stdout=slave, stderr=subprocess.PIPE, cwd=REPO)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(home: str) -> None:
    env = clean_env(home, {"AWS_REGION": "eu-west-1", "TERM": "xterm"})
    assert "\x1b[32m" in _run_on_tty(env)
    assert "\x1b[" not in _run_on_tty({**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_probe(["--only", "env.region"], env).stdout


def test_deadline_holds_when_everything_hangs(home: str) -> None:
    """Every endpoint accepts and never answers; --deadline 2 still ends the run."""
    import socket

    socks = []
    urls = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(50)
        socks.append(s)
        urls.append(f"http://127.0.0.1:{s.getsockname()[1]}")
    try:
        env = clean_env(
            home,
            {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": urls[0] + "/v2/credentials/x",
                "ECS_CONTAINER_METADATA_URI_V4": urls[0] + "/v4/x",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": urls[1],
                "AWS_ENDPOINT_URL_STS": urls[2],
                "AWS_REGION": "us-east-1",
            },
        )
        run = run_probe(["--json", "--deadline", "2"], env)
    finally:
        for s in socks:
            s.close()
    assert run.rc == 1
    assert run.report["duration_ms"] <= 2000
    assert run.status("endpoint.credentials") == "fail"
    assert run.wall < 2 + 4


DENIAL = (
    "An error occurred (AccessDenied) when calling the GetObject operation: User: "
    "arn:aws:sts::123456789012:assumed-role/ecsInstanceRole/i-0abc1234def567890 is not authorized to perform: "
    's3:GetObject on resource: "arn:aws:s3:::amzn-s3-demo-bucket/x" because no identity-based policy allows the s3:GetObject action\n'
)


def test_probe_explain_is_a_command(home: str, tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text("starting\n" + DENIAL)
    run = run_probe(["explain", str(log), "--json", "--no-decode"], clean_env(home))
    assert run.rc == 1 and run.report["mode"] == "explain"
    (denial,) = run.report["checks"]
    assert denial["id"] == "explain.denial" and denial["data"]["kind"] == "instance-role"
    assert run_probe(["explain", "-", "--no-decode"], clean_env(home), stdin="nothing denied here\n").rc == 0
    assert run_probe(["explain", str(tmp_path / "missing.log")], clean_env(home)).rc == 2


def test_probe_explain_in_task_attaches_the_diagnosis(emu: Emulator, home: str, tmp_path) -> None:
    """--in-task runs the task diagnosis first: the task role comes from the endpoint and
    the diagnosis' summary is attached to a denial that is not the task role's."""
    log = tmp_path / "app.log"
    task_denial = DENIAL.replace("ecsInstanceRole/i-0abc1234def567890", "cli-task-role/app-session")
    log.write_text(DENIAL + task_denial)
    run = run_probe(["explain", str(log), "--json", "--no-decode", "--in-task"], env_for(emu, home))
    kinds = {c["data"]["kind"] for c in run.report["checks"]}
    assert kinds == {"instance-role", "task-role"}, run.report["checks"]
    instance = next(c for c in run.report["checks"] if c["data"]["kind"] == "instance-role")
    assert "`probe` in this task" in instance["remedy"]
    # Without --in-task nothing names cli-task-role: the same session is just another role.
    plain = run_probe(["explain", str(log), "--json", "--no-decode"], env_for(emu, home))
    assert {c["data"]["kind"] for c in plain.report["checks"]} == {"instance-role", "other-role"}


def test_output_dash_is_stdout_and_force_color(emu: Emulator, home: str) -> None:
    run = run_probe(["--only", "env.region", "--output", "-", "--json"], env_for(emu, home))
    assert run.rc == 0 and run.report["checks"]
    colored = run_probe(["--only", "env.region"], env_for(emu, home, FORCE_COLOR="1"))
    assert "\x1b[" in colored.stdout
    plain = run_probe(["--only", "env.region"], env_for(emu, home, FORCE_COLOR="1", NO_COLOR="1"))
    assert "\x1b[" not in plain.stdout


def test_health_json_and_demo_refuses_check_options(home: str) -> None:
    # Nothing listens on this loopback port: unhealthy, in JSON when asked.
    run = run_probe(["health", "--url", "http://127.0.0.1:9/healthz", "--json", "--deadline", "2"], clean_env(home))
    doc = json.loads(run.stdout)
    assert run.rc == 1 and doc["healthy"] is False and doc["url"] == "http://127.0.0.1:9/healthz"
    run = run_probe(["demo", "healthy", "--only", "env.region"], clean_env(home))
    assert run.rc == 2 and "--only does not apply" in run.stderr
