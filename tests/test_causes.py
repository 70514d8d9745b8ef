"""Root cause first (issue 10): the order of causes (probe/causes.py), one test per link,
and the causes the facts tell apart: the task has no role, or this process is not PID 1
and lost PID 1's variable. Facts are shaped as the collectors record them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from probe import causes, runner
from probe.checks import REGISTRY, load
from probe.model import Result, Status
from test_checks import (
    ECS_ENV,
    INSTANCE_ROLE_SESSION,
    NO_VARIABLE_ENV,
    RELATIVE_URI,
    cred_not_requested,
    identity_record,
    imds_reachable,
    make_facts,
)

load("task")
load("host")


def _links(mode: str) -> list[Any]:
    """Every pair of neighbouring layers, with one check of each."""
    layers = causes.CAUSAL_ORDER[mode]
    return [
        pytest.param(mode, up[1][-1], down[1][0], id=f"{mode}:{up[0]}>{down[0]}")
        for up, down in zip(layers, layers[1:])
    ]


@pytest.mark.parametrize("mode, upstream, downstream", _links("task") + _links("host"))
def test_each_link_upstream_wins(mode: str, upstream: str, downstream: str) -> None:
    results = [Result(downstream, Status.FAIL, "downstream symptom", remedy="wrong fix"), Result(upstream, Status.FAIL, "upstream cause", remedy="right fix")]
    found = causes.root_cause(results, mode)
    assert found is not None and found[0].id == upstream
    assert runner.summarize(results, mode) == "upstream cause"
    assert runner.cause_of(results, mode)["remedy"] == "right fix"  # type: ignore[index]


def test_every_task_check_has_a_place_in_the_order() -> None:
    ranked = set(causes.rank("task"))
    assert {c.id for c in REGISTRY.values() if c.mode == "task"} <= ranked
    assert {c.id for c in REGISTRY.values() if c.mode == "host"} <= set(causes.rank("host"))


def test_warnings_alone_are_no_cause() -> None:
    assert causes.root_cause([Result("imds.instance-role", Status.WARN, "x")], "task") is None


def survey(pid1_env: dict[str, str] | None, self_pid: int = 4242) -> dict[str, Any]:
    """The process survey's record: PID 1 readable (with or without the variable) or not."""
    rec: dict[str, Any] = {"available": True, "self_pid": self_pid, "processes": [], "unreadable": [], "ancestors": []}
    if pid1_env is None:
        rec.update(pid1_readable=False, pid1_has_variable=False, pid1_reason="permission denied even as root: the container lacks CAP_SYS_PTRACE")
    else:
        rec.update(
            pid1_readable=True,
            pid1_has_variable="AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in pid1_env,
            pid1_has_region=bool(pid1_env.get("AWS_REGION")),
            pid1_region=pid1_env.get("AWS_REGION"),
        )
    return rec


FELL_BACK = {"credentials": cred_not_requested(), "identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role"), "imds": imds_reachable()}
NO_VAR_NO_REGION = {k: v for k, v in NO_VARIABLE_ENV.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}


@pytest.mark.parametrize(
    "env, pid1, summary_words, fix_words, fix_absent",
    [
        pytest.param(NO_VARIABLE_ENV, ECS_ENV, ("not PID 1", "PID 1 has it"), ("shim", "/proc/1/environ"), ("$AWS_CONTAINER", "/root"), id="not-pid-1"),
        pytest.param(NO_VAR_NO_REGION, ECS_ENV, ("not PID 1",), ("shim",), ("/root",), id="not-pid-1-region-too"),
        pytest.param(NO_VARIABLE_ENV, NO_VARIABLE_ENV, ("no task role",), ("taskRoleArn",), ("shim",), id="no-task-role"),
        pytest.param(NO_VARIABLE_ENV, None, ("No container credentials variable",), ("taskRoleArn", "shim"), ("$AWS_CONTAINER", "/root"), id="pid-1-unreadable"),
    ],
)
def test_the_cause_the_facts_support_is_named_first(tmp_path: Path, env: dict[str, str], pid1: Any, summary_words: tuple[str, ...], fix_words: tuple[str, ...], fix_absent: tuple[str, ...]) -> None:
    facts = make_facts(tmp_path, env, {**FELL_BACK, "processes": survey(pid1)})
    report = runner.judge(facts, runner.Selection())
    assert report.verdict is Status.FAIL
    assert report.cause is not None and report.cause["check"] == "env.credentials-variable"
    for w in summary_words:
        assert w in report.summary
    for w in fix_words:
        assert w in report.cause["remedy"]
    for w in fix_absent:
        assert w not in report.cause["remedy"]
    by_id = {r.id: r for r in report.results}
    # The downstream symptoms point back to the cause instead of repeating generic advice.
    if pid1 is ECS_ENV:
        assert "The cause is upstream (env.credentials-variable)" in by_id["identity.task-role"].remedy
        assert "ECS_ENABLE_TASK_IAM_ROLE" not in by_id["identity.task-role"].remedy
    if env is NO_VAR_NO_REGION:
        region = by_id["env.region"]
        assert region.status is Status.WARN and "PID 1 has one" in region.title and "update the ECS agent" not in region.remedy


def test_region_missing_everywhere_keeps_the_agent_advice(tmp_path: Path) -> None:
    env = {k: v for k, v in ECS_ENV.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    facts = make_facts(tmp_path, env, {"processes": survey(env)})
    out = REGISTRY["env.region"].fn(facts)
    assert out.status is Status.WARN and "update the ECS agent" in out.remedy


def test_a_process_with_the_variable_is_not_told_to_use_the_shim(tmp_path: Path) -> None:
    facts = make_facts(tmp_path, ECS_ENV, {"processes": survey(ECS_ENV)})
    assert REGISTRY["env.credentials-variable"].fn(facts).status is Status.PASS
    assert RELATIVE_URI.startswith("/v2/credentials/")
