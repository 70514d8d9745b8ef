"""`probe taskdef` over fixtures (register input and describe-task-definition output shapes),
and `probe trust` over policy files and moto's IAM."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from helpers import REPO, clean_env, run_probe

BASE: dict[str, Any] = {
    "family": "web",
    "taskRoleArn": "arn:aws:iam::123456789012:role/web-task-role",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "networkMode": "awsvpc",
    "containerDefinitions": [{"name": "app", "image": "web:1", "essential": True, "environment": [{"name": "AWS_REGION", "value": "us-east-1"}]}],
}


def variant(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "app":
            doc["containerDefinitions"][0].update(value)
        elif value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def lint(home: str, tmp_path: Path, doc: Any, describe: bool = False, secrets: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    path = tmp_path / "td.json"
    if describe:
        doc = {"taskDefinition": {**doc, "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7", "revision": 7, "status": "ACTIVE",
                                  "compatibilities": ["EC2", "FARGATE"], "registeredAt": "2026-11-01T10:00:00+00:00"}, "tags": []}
    path.write_text(json.dumps(doc))
    run = run_probe(["taskdef", str(path), "--json"], clean_env(home), secrets=secrets)
    assert run.report["mode"] == "taskdef"
    return {c["id"]: c for c in run.report["checks"]}


SIDECAR = {
    "name": "credential-probe", "image": "probe:0.1.0", "essential": False, "command": ["probe", "watch"],
    "healthCheck": {"command": ["CMD", "probe", "health"]},
}

CASES = [
    pytest.param({}, {"taskdef.task-role": "pass", "taskdef.network-mode": "pass", "taskdef.static-credentials": "pass", "taskdef.proxy": "pass", "taskdef.multi-process": "pass", "taskdef.probe-sidecar": "skip"}, "", id="healthy"),
    pytest.param({"taskRoleArn": None}, {"taskdef.task-role": "fail"}, "executionRoleArn", id="only-execution-role"),
    pytest.param({"taskRoleArn": None, "executionRoleArn": None}, {"taskdef.task-role": "fail"}, "neither", id="no-role"),
    pytest.param({"networkMode": "host"}, {"taskdef.network-mode": "warn"}, "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", id="host-mode"),
    pytest.param({"networkMode": None}, {"taskdef.network-mode": "warn"}, "bridge", id="default-bridge"),
    pytest.param({"app": {"environment": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}]}},
                 {"taskdef.static-credentials": "fail"}, "container 'app' environment[1] AWS_SECRET_ACCESS_KEY", id="static-keys-env"),
    pytest.param({"app": {"secrets": [{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/k"}]}},
                 {"taskdef.static-credentials": "fail"}, "secrets[0]", id="static-keys-secrets"),
    pytest.param({"app": {"environment": [{"name": "HTTP_PROXY", "value": "http://proxy:3128"}, {"name": "NO_PROXY", "value": "localhost"}]}},
                 {"taskdef.proxy": "fail"}, "NO_PROXY lacks 169.254.169.254, 169.254.170.2", id="proxy-without-link-local"),
    pytest.param({"app": {"environment": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]}}, {"taskdef.proxy": "pass"}, "", id="https-proxy-only"),
    pytest.param({"app": {"environment": [{"name": "HTTP_PROXY", "value": "http://proxy:3128"}, {"name": "NO_PROXY", "value": "169.254.169.254,169.254.170.2"}]}},
                 {"taskdef.proxy": "pass"}, "", id="proxy-with-link-local"),
    pytest.param({"app": {"command": ["/usr/bin/supervisord", "-n"]}}, {"taskdef.multi-process": "warn"}, "container 'app' command starts supervisord", id="supervisord"),
    pytest.param({"app": {"entryPoint": ["shim", "--"], "command": ["supervisord", "-n"]}}, {"taskdef.multi-process": "pass"}, "", id="supervisord-with-shim"),
    pytest.param({"app": {"entryPoint": ["/init"]}}, {"taskdef.multi-process": "warn"}, "s6-overlay", id="s6-overlay"),
]


@pytest.mark.parametrize("describe", [False, True], ids=["register-input", "describe-output"])
@pytest.mark.parametrize("changes, expected, words", CASES)
def test_taskdef_checks(home: str, tmp_path: Path, changes: dict[str, Any], expected: dict[str, str], words: str, describe: bool) -> None:
    checks = lint(home, tmp_path, variant(**changes), describe, secrets=("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",))
    for cid, status in expected.items():
        assert checks[cid]["status"] == status, checks[cid]
    if words:
        failing = [c for c in checks.values() if c["status"] in ("fail", "warn")]
        assert any(words in c["title"] + " " + c["detail"] for c in failing), failing


def test_probe_sidecar_wiring(home: str, tmp_path: Path) -> None:
    wired = variant(pidMode="task")
    wired["containerDefinitions"][0]["dependsOn"] = [{"containerName": "credential-probe", "condition": "HEALTHY"}]
    wired["containerDefinitions"].append(SIDECAR)
    assert lint(home, tmp_path, wired)["taskdef.probe-sidecar"]["status"] == "pass"
    loose = variant()
    loose["containerDefinitions"].append(SIDECAR)
    check = lint(home, tmp_path, loose)["taskdef.probe-sidecar"]
    assert check["status"] == "fail" and "pidMode" in check["detail"] and "no container dependsOn credential-probe" in check["detail"]


def test_probe_sidecar_that_judges_the_app_must_not_gate_it(home: str, tmp_path: Path) -> None:
    """`probe watch --container app` is healthy only once the app runs: an app that waits for
    it to be HEALTHY never starts. Without that dependsOn the wiring passes."""
    import copy

    app_name = variant()["containerDefinitions"][0]["name"]
    watcher = copy.deepcopy(SIDECAR)
    watcher["command"] = ["probe", "watch", "--container", app_name]
    locked = variant(pidMode="task")
    locked["containerDefinitions"][0]["dependsOn"] = [{"containerName": watcher["name"], "condition": "HEALTHY"}]
    locked["containerDefinitions"].append(watcher)
    check = lint(home, tmp_path, locked)["taskdef.probe-sidecar"]
    assert check["status"] == "fail" and "never starts" in check["detail"], check
    free = variant(pidMode="task")
    free["containerDefinitions"].append(watcher)
    assert lint(home, tmp_path, free)["taskdef.probe-sidecar"]["status"] == "pass"


def test_the_shipped_examples_lint_clean(home: str) -> None:
    for name in ("task-definition.json", "task-definition-init.json"):
        run = run_probe(["taskdef", os.path.join(REPO, "examples", name), "--json"], clean_env(home))
        statuses = {c["id"]: c["status"] for c in run.report["checks"]}
        assert statuses["taskdef.task-role"] == "pass" and statuses["taskdef.static-credentials"] == "pass"
        assert statuses["taskdef.multi-process"] == "pass" and statuses["taskdef.proxy"] == "pass"
        assert statuses["taskdef.probe-sidecar"] == ("pass" if name == "task-definition.json" else "skip")


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param('{"family": "x", "containerDefinitions": [', "not JSON", id="truncated"),
        pytest.param("[1, 2]", "not an object", id="a-list"),
        pytest.param('{"family": "x"}', "no containerDefinitions", id="no-containers"),
        pytest.param("\x00\x01\x02", "not JSON", id="binary"),
    ],
)
def test_taskdef_garbage_is_exit_2(home: str, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "td.json"
    path.write_text(content)
    run = run_probe(["taskdef", str(path)], clean_env(home))
    assert run.rc == 2 and message in run.stderr


@pytest.mark.parametrize(
    "containers",
    [
        pytest.param(["not a dict", {"name": 5, "environment": "oops", "command": "sh -c x"}], id="strings"),
        pytest.param([{"name": "app", "environment": 5, "secrets": 7, "dependsOn": 5, "entryPoint": {"x": 1}}], id="numbers"),
    ],
)
def test_taskdef_with_odd_types_is_judged_not_crashed(home: str, containers: list) -> None:
    doc = {"containerDefinitions": containers, "networkMode": 7}
    run = run_probe(["taskdef", "-", "--json"], clean_env(home), stdin=json.dumps(doc))
    assert run.rc == 1
    statuses = {c["id"]: c["status"] for c in run.report["checks"]}
    assert "error" not in statuses.values(), run.report["checks"]
    assert statuses["taskdef.task-role"] == "fail"


# ---------------------------------------------------------------------------------------
# probe trust
# ---------------------------------------------------------------------------------------

ALLOW = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


TRUST_CASES = [
    pytest.param(policy(ALLOW), "pass", "pass", id="plain"),
    pytest.param(policy({**ALLOW, "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}), "pass", "pass", id="lists"),
    pytest.param({"Version": "2012-10-17", "Statement": {**ALLOW, "Action": "sts:*"}}, "pass", "pass", id="single-statement-wildcard-action"),
    pytest.param(policy({**ALLOW, "Principal": {"Service": "ec2.amazonaws.com"}}), "fail", "skip", id="ec2-only"),
    pytest.param(policy(ALLOW, {"Effect": "Deny", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}), "fail", "pass", id="explicit-deny"),
    pytest.param(policy({"Effect": "Allow", "NotPrincipal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}), "warn", "pass", id="not-principal"),
    pytest.param(policy({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}), "warn", "pass", id="everyone"),
    pytest.param(policy({**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"}}}), "pass", "pass", id="conditions-fit"),
    pytest.param(policy({**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}), "pass", "fail", id="other-account"),
    pytest.param(policy({**ALLOW, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:lambda:us-east-1:123456789012:*"}}}), "pass", "fail", id="not-an-ecs-arn"),
    pytest.param(policy({**ALLOW, "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:us-east-1:111111111111:*"]}}}), "pass", "fail", id="arn-other-account"),
    pytest.param({"Statement": [{"Effect": "Allow", "Principal": 5, "Action": "sts:AssumeRole"}]}, "fail", "fail", id="unexpected-types"),
]


@pytest.mark.parametrize("doc, principal, conditions", TRUST_CASES)
def test_trust_policy_files(home: str, tmp_path: Path, doc: Any, principal: str, conditions: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(doc))
    run = run_probe(["trust", "--policy-file", str(path), "--account", "123456789012", "--json"], clean_env(home))
    statuses = {c["id"]: c["status"] for c in run.report["checks"]}
    assert statuses == {"trust.ecs-tasks-principal": principal, "trust.conditions": conditions}, run.report["checks"]


def test_trust_get_role_output_and_garbage(home: str, tmp_path: Path) -> None:
    path = tmp_path / "get-role.json"
    path.write_text(json.dumps({"Role": {"RoleName": "r", "Arn": "arn:aws:iam::123456789012:role/r", "AssumeRolePolicyDocument": policy(ALLOW)}}))
    assert run_probe(["trust", "--policy-file", str(path)], clean_env(home)).rc == 0
    path.write_text('{"Statement": [')
    run = run_probe(["trust", "--policy-file", str(path)], clean_env(home))
    assert run.rc == 2 and "not JSON" in run.stderr


@pytest.fixture
def moto_iam() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_trust_with_moto_iam(home: str, moto_iam: str) -> None:
    import boto3

    iam = boto3.client("iam", endpoint_url=moto_iam, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_role(RoleName="good-task-role", AssumeRolePolicyDocument=json.dumps(policy(ALLOW)))
    iam.create_role(RoleName="ec2-only-role", AssumeRolePolicyDocument=json.dumps(policy({**ALLOW, "Principal": {"Service": "ec2.amazonaws.com"}})))
    env = clean_env(home, {"AWS_ENDPOINT_URL_IAM": moto_iam, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
    ok = run_probe(["trust", "--role", "good-task-role", "--json"], env)
    assert ok.rc == 0 and ok.status("trust.ecs-tasks-principal") == "pass"
    bad = run_probe(["trust", "--role", "arn:aws:iam::123456789012:role/ec2-only-role", "--json"], env)
    assert bad.rc == 1 and bad.status("trust.ecs-tasks-principal") == "fail"
    missing = run_probe(["trust", "--role", "no-such-role", "--json"], env)
    check = missing.check("trust.ecs-tasks-principal")
    assert check["status"] == "fail" and "NoSuchEntity" in check["detail"]


def test_trust_without_permission_says_which(tmp_path: Path) -> None:
    from probe import checks
    from probe.facts import Facts

    checks.load("trust")
    facts = Facts(data={"trust": {"source": "iam:GetRole r", "error": "AccessDenied", "denied_permission": "iam:GetRole on arn:aws:iam::123456789012:role/r"}})
    for cid in ("trust.ecs-tasks-principal", "trust.conditions"):
        out = checks.REGISTRY[cid].fn(facts)
        assert out.status.value == "skip" and "iam:GetRole on arn:aws:iam::123456789012:role/r" in out.detail


@pytest.mark.parametrize("cluster, status", [("prod", "pass"), ("staging", "fail")])
def test_trust_source_arn_and_cluster(home: str, tmp_path: Path, cluster: str, status: str) -> None:
    doc = policy({**ALLOW, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/*"}}})
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(doc))
    run = run_probe(["trust", "--policy-file", str(path), "--account", "123456789012", "--cluster", cluster, "--json"], clean_env(home))
    assert run.status("trust.conditions") == status


@pytest.mark.parametrize(
    "condition_statements, status",
    [
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": ["111111111111", "123456789012"]}}}], "pass", id="values-are-ored"),
        pytest.param([{**ALLOW, "Condition": {"StringNotEquals": {"aws:SourceAccount": "999999999999"}}}], "pass", id="not-equals-other"),
        pytest.param([{**ALLOW, "Condition": {"StringNotEquals": {"aws:SourceAccount": "123456789012"}}}], "fail", id="not-equals-self"),
        pytest.param([{**ALLOW, "Condition": {"Null": {"aws:SourceAccount": "false"}}}], "pass", id="null-false"),
        pytest.param([{**ALLOW, "Condition": {"Null": {"aws:SourceAccount": "true"}}}], "fail", id="null-true"),
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}, ALLOW], "pass", id="statements-are-ored"),
        pytest.param([{**ALLOW, "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:*:123456789012:task/staging/*", "arn:aws:ecs:*:123456789012:task/prod/*"]}}}], "pass", id="arn-list-two-clusters"),
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": "*"}}}], "fail", id="no-wildcards-in-equals"),
        pytest.param([{**ALLOW, "Condition": {"StringLike": {"aws:SourceAccount": "1234*"}}}], "pass", id="like-wildcard"),
        # A condition the probe does not model is named, never passed unjudged (issue 20, item 6).
        pytest.param([{**ALLOW, "Condition": {"ForAnyValue:StringEquals": {"aws:SourceAccount": "123456789012"}, "Bool": {"aws:SecureTransport": "true"}}}], "warn", id="prefix-and-unmodelled"),
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}], "warn", id="only-unmodelled"),
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}, ALLOW], "pass", id="unmodelled-or-unconditional"),
        pytest.param([{**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}, "Bool": {"aws:SecureTransport": "true"}}}], "fail", id="unmodelled-beside-a-refusal"),
    ],
)
def test_trust_condition_grammar(home: str, tmp_path: Path, condition_statements: list, status: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(policy(*condition_statements)))
    run = run_probe(["trust", "--policy-file", str(path), "--account", "123456789012", "--cluster", "prod", "--json"], clean_env(home))
    assert run.status("trust.conditions") == status, run.check("trust.conditions")


# ---------------------------------------------------------------------------------------
# The account: --account, else the role's own (its ARN), else unknown and said so (issue 10, item 6)
# ---------------------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/x"
OTHER_ACCOUNT = {"StringEquals": {"aws:SourceAccount": "999999999999"}}
OWN_ACCOUNT = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
OTHER_ARN = {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:999999999999:*"}}
OWN_ARN = {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"}}


def get_role(condition: Any = None, arn: str = ROLE_ARN, encoded: bool = False) -> dict[str, Any]:
    """`aws iam get-role` output."""
    from urllib.parse import quote

    doc: Any = policy({**ALLOW, "Condition": condition} if condition else ALLOW)
    if encoded:
        doc = quote(json.dumps(doc))
    return {"Role": {"Path": "/", "RoleName": arn.rsplit("/", 1)[-1], "RoleId": "AROAEXAMPLEEXAMPLE1", "Arn": arn,
                     "CreateDate": "2026-01-01T00:00:00+00:00", "AssumeRolePolicyDocument": doc, "MaxSessionDuration": 3600}}


def trust_run(home: str, tmp_path: Path, doc: Any, *args: str, env: Any = None) -> Any:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(doc))
    return run_probe(["trust", "--policy-file", str(path), "--json", *args], clean_env(home, env or {}))


@pytest.mark.parametrize(
    "doc, args, status, words",
    [
        pytest.param(get_role(OTHER_ACCOUNT), (), "fail", ["999999999999", "account 123456789012", "role's own account", ROLE_ARN], id="get-role-source-account-other"),
        pytest.param(get_role(OTHER_ARN), (), "fail", ["999999999999", "account 123456789012", "role's own account"], id="get-role-source-arn-other"),
        pytest.param(get_role({**OWN_ACCOUNT, **OTHER_ARN}), (), "fail", ["aws:SourceArn", "999999999999"], id="get-role-keys-are-anded"),
        pytest.param(get_role(OWN_ACCOUNT), (), "pass", ["account 123456789012", "role's own account", ROLE_ARN], id="get-role-source-account-own"),
        pytest.param(get_role(OWN_ARN), (), "pass", ["account 123456789012"], id="get-role-source-arn-own"),
        pytest.param(get_role(OTHER_ACCOUNT, encoded=True), (), "fail", ["account 123456789012"], id="get-role-url-encoded-document"),
        pytest.param(get_role(OTHER_ACCOUNT, arn="arn:aws:iam::123456789012:role/service-role/team/x"), (), "fail", ["account 123456789012"], id="get-role-arn-with-path"),
        pytest.param(get_role({"StringEquals": {"aws:SourceAccount": "111111111111"}}, arn="arn:aws-cn:iam::111111111111:role/x"), (), "pass", ["account 111111111111"], id="get-role-other-partition"),
        pytest.param(get_role(OTHER_ACCOUNT), ("--account", "999999999999"), "pass", ["account 999999999999", "from --account"], id="account-flag-wins"),
        pytest.param(get_role(OWN_ACCOUNT), ("--account", "999999999999"), "fail", ["account 999999999999", "from --account"], id="account-flag-wins-failing"),
        # Nothing compared, nothing passed: skipped, saying why (issue 20, item 6).
        pytest.param(policy({**ALLOW, "Condition": OTHER_ACCOUNT}), (), "skip", ["could not be checked", "--account"], id="bare-policy-unknown-account"),
        pytest.param(policy({**ALLOW, "Condition": OTHER_ARN}), (), "skip", ["could not be checked"], id="bare-policy-unknown-account-arn"),
        pytest.param(policy({**ALLOW, "Condition": {"Null": {"aws:SourceAccount": "false"}}}), (), "pass", ["holds for an ECS task of any account"], id="bare-policy-null-false-needs-no-account"),
        pytest.param(policy({**ALLOW, "Condition": OTHER_ACCOUNT}), ("--account", "123456789012"), "fail", ["from --account"], id="bare-policy-with-account"),
        pytest.param({"Role": {"RoleName": "x", "AssumeRolePolicyDocument": policy({**ALLOW, "Condition": OTHER_ACCOUNT})}}, (), "skip", ["could not be checked"], id="get-role-without-arn"),
    ],
)
def test_trust_account_comes_from_the_role(home: str, tmp_path: Path, doc: Any, args: tuple, status: str, words: list) -> None:
    run = trust_run(home, tmp_path, doc, *args)
    check = run.check("trust.conditions")
    assert check["status"] == status, check
    for word in words:
        assert word in check["detail"], (word, check)
    assert run.rc == (1 if status == "fail" else 0)


def test_trust_account_from_the_environment_and_bad_accounts(home: str, tmp_path: Path) -> None:
    run = trust_run(home, tmp_path, get_role(OTHER_ACCOUNT), env={"PROBE_ACCOUNT": "999999999999"})
    assert run.status("trust.conditions") == "pass", run.check("trust.conditions")
    for bad in ("12345", "12345678901a", "arn:aws:iam::123456789012:root"):
        path = tmp_path / "trust.json"
        bad_run = run_probe(["trust", "--policy-file", str(path), "--account", bad], clean_env(home))
        assert bad_run.rc == 2 and "12-digit" in bad_run.stderr, bad_run.stderr


def test_trust_text_report_names_the_account(home: str, tmp_path: Path) -> None:
    path = tmp_path / "get-role.json"
    path.write_text(json.dumps(get_role(OTHER_ACCOUNT)))
    run = run_probe(["trust", "--policy-file", str(path), "--no-color"], clean_env(home))
    assert run.rc == 1
    flat = " ".join(run.stdout.split())
    assert "trust.conditions The trust policy's conditions refuse ECS tasks of account 123456789012" in flat, run.stdout
    assert "999999999999 never matches account 123456789012" in flat
    assert "the role's own account, from arn:aws:iam::123456789012:role/x" in flat


def test_trust_role_account_from_getrole(home: str, moto_iam: str) -> None:
    """--role: the account is the one in the ARN IAM returns (GetRole takes only the name)."""
    import boto3

    iam = boto3.client("iam", endpoint_url=moto_iam, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    own = iam.create_role(RoleName="own-account-role", AssumeRolePolicyDocument=json.dumps(policy({**ALLOW, "Condition": OWN_ACCOUNT})))["Role"]["Arn"]
    iam.create_role(RoleName="other-account-role", AssumeRolePolicyDocument=json.dumps(policy({**ALLOW, "Condition": OTHER_ACCOUNT})))
    assert own.startswith("arn:aws:iam::123456789012:"), own  # moto's default account
    env = clean_env(home, {"AWS_ENDPOINT_URL_IAM": moto_iam, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
    ok = run_probe(["trust", "--role", "own-account-role", "--json"], env)
    assert ok.rc == 0 and ok.status("trust.conditions") == "pass", ok.check("trust.conditions")
    assert "account 123456789012" in ok.check("trust.conditions")["detail"] and own in ok.check("trust.conditions")["detail"]
    bad = run_probe(["trust", "--role", "other-account-role", "--json"], env)
    check = bad.check("trust.conditions")
    assert bad.rc == 1 and check["status"] == "fail" and "999999999999 never matches account 123456789012" in check["detail"], check
    # An ARN naming another account: IAM still reads the caller's role of that name; say so.
    wrong = run_probe(["trust", "--role", "arn:aws:iam::222222222222:role/own-account-role", "--json"], env)
    check = wrong.check("trust.conditions")
    assert check["status"] == "pass" and "not one in account 222222222222" in check["detail"], check
    flag = run_probe(["trust", "--role", "own-account-role", "--account", "999999999999", "--json"], env)
    assert flag.status("trust.conditions") == "fail" and "from --account" in flag.check("trust.conditions")["detail"]


# ---------------------------------------------------------------------------------------
# The fix is the whole trust policy: update-assume-role-policy replaces it (issue 20, item 6)
# ---------------------------------------------------------------------------------------

EC2 = {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
DENY = {"Effect": "Deny", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
LAMBDA = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
          "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}


def _fix_document(check: dict[str, Any]) -> dict[str, Any]:
    """The document the remedy gives, as a user would paste it from the text, and as the JSON
    report carries it: the same, and valid JSON."""
    remedy = check["remedy"]
    assert "update-assume-role-policy" in remedy and "file://trust.json" in remedy, remedy
    pasted = json.loads(remedy.split("data.policy_document): ", 1)[1])
    assert pasted == check["data"]["policy_document"]
    return pasted


@pytest.mark.parametrize(
    "statements, check_id, kept, dropped",
    [
        pytest.param([EC2, LAMBDA], "trust.ecs-tasks-principal", [EC2, LAMBDA], [], id="no-ecs-statement"),
        pytest.param([EC2, ALLOW, DENY], "trust.ecs-tasks-principal", [EC2, ALLOW], [DENY], id="a-deny"),
        pytest.param([EC2, {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}], "trust.ecs-tasks-principal", [EC2], [], id="wildcard"),
        pytest.param([EC2, {**ALLOW, "Sid": "Ecs", "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999", "sts:ExternalId": "x"}}}],
                     "trust.conditions", [EC2], [], id="conditions-of-another-account"),
    ],
)
def test_trust_fix_is_the_whole_policy(home: str, tmp_path: Path, statements: list, check_id: str, kept: list, dropped: list) -> None:
    doc = {"Version": "2012-10-17", "Id": "team-policy", "Statement": statements}
    run = trust_run(home, tmp_path, doc, "--account", "123456789012")
    check = run.check(check_id)
    assert check["status"] in ("fail", "warn"), check
    fixed = _fix_document(check)
    assert fixed["Version"] == "2012-10-17" and fixed["Id"] == "team-policy"
    for st in kept:
        assert st in fixed["Statement"], (st, fixed)
    for st in dropped:
        assert st not in fixed["Statement"], (st, fixed)
    ecs = [st for st in fixed["Statement"] if st.get("Principal") == {"Service": "ecs-tasks.amazonaws.com"} and st["Effect"] == "Allow"]
    assert len(ecs) == 1, fixed
    # The document, given back to the probe, passes both checks.
    again = trust_run(home, tmp_path, fixed, "--account", "123456789012")
    statuses = {c["id"]: c["status"] for c in again.report["checks"]}
    assert statuses["trust.ecs-tasks-principal"] == "pass", again.report["checks"]
    assert statuses["trust.conditions"] in ("pass", "warn"), again.report["checks"]  # sts:ExternalId stays unjudged


def test_trust_fix_applied_with_the_command_keeps_what_was_there(home: str, moto_iam: str) -> None:
    """Run what the remedy says, against moto's IAM: the role ends up trusting ECS tasks and
    still trusts what it trusted before."""
    import boto3

    iam = boto3.client("iam", endpoint_url=moto_iam, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_role(RoleName="shared-role", AssumeRolePolicyDocument=json.dumps(policy(EC2, LAMBDA)))
    env = clean_env(home, {"AWS_ENDPOINT_URL_IAM": moto_iam, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
    before = run_probe(["trust", "--role", "shared-role", "--json"], env)
    check = before.check("trust.ecs-tasks-principal")
    assert before.rc == 1 and "--role-name shared-role " in check["remedy"], check
    fixed = _fix_document(check)
    iam.update_assume_role_policy(RoleName="shared-role", PolicyDocument=json.dumps(fixed))
    after = run_probe(["trust", "--role", "shared-role", "--json"], env)
    assert after.rc == 0 and after.status("trust.ecs-tasks-principal") == "pass", after.report["checks"]
    now = iam.get_role(RoleName="shared-role")["Role"]["AssumeRolePolicyDocument"]
    now = json.loads(now) if isinstance(now, str) else now
    assert EC2 in now["Statement"] and LAMBDA in now["Statement"], now


def test_trust_conditions_that_could_not_be_compared_never_pass(home: str, tmp_path: Path) -> None:
    """A bare policy with source conditions and no account: skipped with the reason, not
    passed; a condition the probe does not model: a warning that names it."""
    run = trust_run(home, tmp_path, policy({**ALLOW, "Condition": OWN_ACCOUNT}))
    check = run.check("trust.conditions")
    assert check["status"] == "skip" and "Not checked" in check["title"] and "--account" in check["detail"], check
    run = trust_run(home, tmp_path, policy({**ALLOW, "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}), "--account", "123456789012")
    check = run.check("trust.conditions")
    assert check["status"] == "warn" and "StringEquals sts:ExternalId" in check["detail"], check
    assert check["data"]["unjudged"] == ["StringEquals sts:ExternalId"]


@pytest.mark.parametrize(
    "changes, words",
    [
        pytest.param({"cpu": 512}, ["cpu is 512", "a string"], id="task-cpu-a-number"),
        pytest.param({"app": {"essential": "true"}}, ["container 'app', essential", "a boolean"], id="essential-in-quotes"),
        pytest.param({"networkMode": "awsvpcc"}, ['networkMode is "awsvpcc"', "bridge, host, awsvpc, none"], id="network-mode-typo"),
        pytest.param({"app": {"memory": "512"}}, ["container 'app', memory", "an integer"], id="container-memory-a-string"),
        pytest.param({"app": {"portMapings": []}}, ["portMapings is not a field ECS knows"], id="misspelt-field"),
        pytest.param({"family": None}, ["family is required"], id="no-family"),
    ],
)
def test_taskdef_schema_against_botocores_model(home: str, tmp_path: Path, changes: dict[str, Any], words: list[str]) -> None:
    """Validated against botocore's own ECS model (issue 13): today these pass silently."""
    check = lint(home, tmp_path, variant(**changes))["taskdef.schema"]
    assert check["status"] == "fail", check
    for w in words:
        assert w in check["detail"], check["detail"]


@pytest.mark.parametrize("describe", [False, True], ids=["register", "describe"])
def test_taskdef_schema_passes_valid_documents(home: str, tmp_path: Path, describe: bool) -> None:
    assert lint(home, tmp_path, BASE, describe=describe)["taskdef.schema"]["status"] == "pass"
