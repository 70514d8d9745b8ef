"""`probe watch`'s /metrics and EMF line: Prometheus naming and exposition conventions (checked
with promtool, the Prometheus project's own linter), and CloudWatch dimensions that are the
same on EC2 and Fargate.

The sidecars run as in test_sidecar.py: real processes in their own PID namespace, against
the loopback emulator.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from typing import Any, Iterator

import pytest

from helpers import IMPLEMENTED_TASK_IDS, clean_env, need
from probe.emulator import ACCOUNT, Emulator
from test_sidecar import Watch, free_port, http_get

P = "ecs_credential_probe_"


def promtool_check(body: bytes) -> None:
    """`promtool check metrics`: the exposition parses and follows the naming conventions."""
    promtool = shutil.which("promtool")
    need(promtool is not None, "promtool is not installed (Debian package prometheus; CI installs it)")
    proc = subprocess.run([str(promtool), "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode() + "\n" + body.decode()


def families(body: bytes) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def one_hot(body: bytes, name: str, state: str, group: str = "") -> dict[str, str]:
    """{value of the group label: the state whose series is 1}, checking that exactly one
    state is 1 and the others 0 (client_python's Enum convention)."""
    by: dict[str, list[tuple[str, float]]] = {}
    for s in families(body)[name].samples:
        by.setdefault(s.labels.get(group, ""), []).append((s.labels[state], s.value))
    out: dict[str, str] = {}
    for who, states in by.items():
        ones = [st for st, value in states if value == 1]
        assert len(ones) == 1 and all(value in (0, 1) for _s, value in states), (who, states)
        out[who] = ones[0]
    return out


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.give_task_role("sidecar-role")
        e.update({"imds_enabled": False})
        yield e


def test_metrics_of_a_passing_run(emu: Emulator, home: str) -> None:
    port = free_port()
    watch = Watch(["--interval", "60", "--listen", f"127.0.0.1:{port}"], clean_env(home, emu.task_env()))
    try:
        watch.wait_runs(1)
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert watch.stop()[0] == 0
    assert status == 200
    promtool_check(body)
    text = body.decode()
    assert "nan" not in text.lower()
    fams = families(body)
    checks = one_hot(body, P + "check_status", "status", "check")
    assert list(checks) == IMPLEMENTED_TASK_IDS
    assert checks["identity.task-role"] == "pass" and checks["shim.profile"] == "skip"
    for s in fams[P + "check_status"].samples:  # every state is listed for every check
        assert s.labels["status"] in ("pass", "warn", "fail", "error", "skip")
    assert len(fams[P + "check_status"].samples) == 5 * len(IMPLEMENTED_TASK_IDS)
    assert one_hot(body, P + "verdict", "verdict") == {"": "pass"}
    assert [s.labels for s in fams[P + "identity_info"].samples] == [{"kind": "task-role", "role": "sidecar-role"}]
    assert [s.value for s in fams[P + "identity_info"].samples] == [1]
    assert [s.labels for s in fams[P + "build_info"].samples] == [{"version": "0.1.0"}]
    # The emulator serves credentials valid for 6 hours: their Expiration, as Unix time.
    expiry = fams[P + "credentials_expiry_timestamp_seconds"].samples[0].value
    assert 5 * 3600 < expiry - time.time() <= 6 * 3600
    assert fams[P + "runs"].samples[0].name == P + "runs_total" and fams[P + "runs"].samples[0].value == 1
    assert fams[P + "failures"].samples[0].name == P + "failures_total" and fams[P + "failures"].samples[0].value == 0
    assert fams[P + "last_run_timestamp_seconds"].samples[0].value <= time.time()
    assert fams[P + "run_duration_seconds"].samples[0].value > 0
    # HELP says what the series mean; the names are the documented ones.
    for name in ("build_info", "check_status", "verdict", "identity_info", "credentials_expiry_timestamp_seconds",
                 "run_duration_seconds", "last_run_timestamp_seconds", "runs_total", "failures_total"):
        assert f"# HELP {P}{name} " in text, name


def test_503_with_only_the_build_info_before_the_first_run_and_no_nan_when_the_expiry_is_unknown(emu: Emulator, home: str) -> None:
    """While the first run waits on a hanging credentials endpoint, /metrics answers 503 with
    the build info alone; once it ends (the endpoint never answered) 200, with the expiry
    series absent rather than NaN."""
    emu.update({"behaviour": "hang", "hang_seconds": 8})
    port = free_port()
    watch = Watch(["--interval", "60", "--deadline", "30", "--listen", f"127.0.0.1:{port}"], clean_env(home, emu.task_env()))
    try:
        watch.wait_serving()
        deadline = time.monotonic() + 30
        while not emu.state.requests.get("credentials"):
            assert time.monotonic() < deadline, "the first run never asked for credentials"
            time.sleep(0.02)
        status, before = http_get(f"http://127.0.0.1:{port}/metrics")
        assert http_get(f"http://127.0.0.1:{port}/report")[0] == 503
        watch.wait_runs(1)
        after_status, after = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert watch.stop()[0] == 0
    assert status == 503, before
    promtool_check(before)
    assert set(families(before)) == {P + "build_info"}
    assert before.startswith(b"# No diagnosis has finished yet")
    assert [line for line in before.decode().splitlines() if not line.startswith("#")] == [P + 'build_info{version="0.1.0"} 1.0']
    assert after_status == 200
    promtool_check(after)
    assert "nan" not in after.decode().lower()
    fams = families(after)
    assert P + "credentials_expiry_timestamp_seconds" not in fams
    assert one_hot(after, P + "verdict", "verdict") == {"": "fail"}
    assert one_hot(after, P + "check_status", "status", "check")["endpoint.credentials"] == "fail"
    assert fams[P + "failures"].samples[0].value == 1


def test_a_run_that_raises_is_verdict_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that raises: /healthz 503 with the message; /metrics says verdict error, counts
    the run and a failure, and keeps nothing of an earlier run."""
    from probe import runner, sidecar

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the runner broke")

    monkeypatch.setattr(runner, "diagnose_task", boom)
    w = sidecar.Watcher({}, 60, 5, runner.Selection())
    w._guarded_run()
    assert w.snapshot.health_status == 503 and b"RuntimeError: the runner broke" in w.snapshot.health
    body = w.snapshot.metrics
    promtool_check(body)
    fams = families(body)
    assert one_hot(body, P + "verdict", "verdict") == {"": "error"}
    assert fams[P + "runs"].samples[0].value == 1 and fams[P + "failures"].samples[0].value == 1
    for absent in ("check_status", "identity_info", "credentials_expiry_timestamp_seconds", "run_duration_seconds"):
        assert P + absent not in fams


def test_the_watcher_forwards_its_target_on_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Watcher(target=...)` hands the target to every diagnose_task call; without one the
    keyword is not passed at all (a runner without it keeps working)."""
    from probe import runner, sidecar
    from probe.facts import Facts
    from probe.model import Report

    seen: list[dict[str, Any]] = []

    def fake(environ: Any, deadline: float, selection: Any, **kwargs: Any) -> tuple[Facts, Report]:
        seen.append(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "diagnose_task", fake)
    target = object()
    w = sidecar.Watcher({}, 60, 5, runner.Selection(), target=target)
    w._guarded_run()
    w._guarded_run()
    assert [k.get("target") for k in seen] == [target, target]
    seen.clear()
    sidecar.Watcher({}, 60, 5, runner.Selection())._guarded_run()
    assert seen and "target" not in seen[0]


def test_no_series_of_an_earlier_run_is_left_behind() -> None:
    """A check the last run did not report (--only changed, a check removed) has no series."""
    from probe.metrics import Metrics
    from probe.facts import Facts
    from probe.model import Report, Result, Status

    def report(*ids: str) -> Report:
        results = tuple(Result(i, Status.PASS, "t") for i in ids)
        return Report(mode="task", started_at="2026-01-01T00:00:00Z", duration_ms=5, summary="s", results=results)

    m = Metrics()
    m.record(report("a.one", "a.two"), Facts({}))
    body = m.record(report("a.one"), Facts({}))
    assert set(one_hot(body, P + "check_status", "status", "check")) == {"a.one"}
    promtool_check(body)


# ---------------------------------------------------------------------------------------
# EMF: the Cluster dimension is the short name on EC2 and on Fargate
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cluster, task_arn, want",
    [
        pytest.param(f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/prod", f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/prod/0123456789abcdef0123456789abcdef",
                     ("prod", f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/prod"), id="fargate-arn"),
        pytest.param(f"arn:aws-cn:ecs:cn-north-1:{ACCOUNT}:cluster/my_cluster-2", None,
                     ("my_cluster-2", f"arn:aws-cn:ecs:cn-north-1:{ACCOUNT}:cluster/my_cluster-2"), id="china-partition"),
        pytest.param("prod", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/0123456789abcdef0123456789abcdef",
                     ("prod", f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"), id="ec2-name-arn-from-task"),
        pytest.param("prod", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/9781c248-0edd-4cdb-9a93-f63cb662a5d3", ("prod", None), id="old-task-arn"),
        pytest.param("prod", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/other/0123", ("prod", None), id="task-of-another-name"),
        pytest.param(None, None, ("unknown", None), id="unknown"),
        pytest.param("", None, ("unknown", None), id="empty"),
        pytest.param(f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/", None, (f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/", None), id="arn-without-name-kept"),
    ],
)
def test_cluster_names(cluster: Any, task_arn: Any, want: tuple[str, Any]) -> None:
    from probe.metrics import cluster_names

    assert cluster_names(cluster, task_arn) == want


def _emf_lines(emu: Emulator, home: str) -> list[dict[str, Any]]:
    watch = Watch(["--interval", "0.1", "--listen", f"127.0.0.1:{free_port()}", "--runs", "2", "--emf"], clean_env(home, emu.task_env()))
    watch.wait_runs(2)
    assert watch.proc.wait(timeout=30) == 0
    return [json.loads(line) for line in watch.lines]


@pytest.mark.parametrize("launch_type", ["FARGATE", "EC2"])
def test_emf_cluster_dimension_is_the_short_name(emu: Emulator, home: str, launch_type: str) -> None:
    """Fargate's task metadata gives Cluster as the ARN; the README's alarm names the cluster
    (Value=prod): the dimension is the short name on both, the ARN a property."""
    emu.update({"launch_type": launch_type, "cluster": "prod"})
    for doc in _emf_lines(emu, home):
        assert doc["report"]["task"]["launch_type"] == launch_type
        served = doc["report"]["task"]["cluster"]
        assert served == (f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod" if launch_type == "FARGATE" else "prod")
        spec = doc["_aws"]["CloudWatchMetrics"][0]
        assert spec["Dimensions"] == [["Cluster", "TaskFamily"]]
        assert doc["Cluster"] == "prod" and doc["TaskFamily"] == "demo-app"
        assert doc["ClusterArn"] == f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"
        assert "ClusterArn" not in {m["Name"] for m in spec["Metrics"]}
        for metric in spec["Metrics"]:
            value = doc[metric["Name"]]
            assert isinstance(value, (int, float)) and math.isfinite(value)
        assert doc["TaskRoleOk"] == 1 and doc["ProbeFailed"] == 0


def test_the_emulator_answers_as_fargate_does() -> None:
    """launch_type FARGATE: Cluster and the container's cluster label are the cluster ARN,
    the task ARN keeps the long format, AWS_EXECUTION_ENV is AWS_ECS_FARGATE."""
    import urllib.request

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever the machine's proxies
    with Emulator() as e:
        e.update({"launch_type": "FARGATE", "cluster": "prod"})
        env = e.task_env()
        task = json.load(direct.open(env["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=10))
        container = json.load(direct.open(env["ECS_CONTAINER_METADATA_URI_V4"], timeout=10))
    arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"
    assert task["Cluster"] == arn and task["LaunchType"] == "FARGATE"
    assert container["Labels"]["com.amazonaws.ecs.cluster"] == arn
    assert task["TaskARN"].startswith(f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/")
    assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
