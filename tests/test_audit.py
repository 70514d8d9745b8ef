"""`probe audit` (issue 23) against moto's ECS, EC2, IAM and STS on loopback.

One account is seeded once for the module (``account``): every finding the audit knows, each on
its own resource, beside healthy ones, so each check must fire on its case and only there. What
moto does not model (agentConnected, versionInfo, stoppedAt, a container's reason) is set on its
backend by probe.audit.MotoAccount; capability attributes go through PutAttributes.

The permission tests run the audit as an IAM user denied one permission at a time, with moto's
IAM enforcement; ``StandIn`` is a small HTTP server on loopback in front of moto that answers as
ECS does where moto does not: AccessDeniedException in ECS's JSON shape, ThrottlingException,
pages of a given size with nextToken, slow answers. No timing is asserted.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Iterator, Optional

import pytest

from helpers import REPO, assert_no_secrets

from probe import audit
from probe.checks import audit as audit_checks
from probe.facts import audit as walk_facts

ACCOUNT = audit.ACCOUNT
REGION = "us-east-1"
PROXY_PASSWORD = "pr0xy-Pa55word-zz"
STATIC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETkey"
STATIC_KEY_ID = "AKIAZZZZSEEDEDKEY0001"
AUDIT_IDS = list(__import__("probe.checks", fromlist=["ORDER"]).ORDER["audit"])


def trust(**condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


def execution_denial(role: str, action: str, resource: str) -> str:
    return (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to "
        f"retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:"
        f"assumed-role/{role}/0123456789abcdef0123456789abcdef is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


class Seeded:
    """What the module's account holds, by the name the assertions use."""

    def __init__(self, acct: audit.MotoAccount) -> None:
        self.acct = acct
        self.instances: dict[str, str] = {}  # label -> container instance ARN
        self.ec2: dict[str, str] = {}  # label -> EC2 instance id
        self.tasks: dict[str, str] = {}


def _reset_moto(url: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(url + "/moto-api/reset", data=b"", method="POST"), timeout=30).read()


def seed(acct: audit.MotoAccount) -> Seeded:
    s = Seeded(acct)
    prod = acct.cluster("prod")
    batch = acct.cluster("batch")
    bulk = acct.cluster("bulk")
    acct.cluster("quiet")  # healthy: one instance, one service, nothing wrong
    web_role = acct.role("web-role")
    api_role = acct.role("api-role", trust(ArnLike={"aws:SourceArn": f"arn:aws:ecs:*:{ACCOUNT}:task/staging/*"}))
    worker_role = acct.role("worker-role", audit.EC2_TRUST)
    execution = acct.role("exec-role")
    ghost = f"arn:aws:iam::{ACCOUNT}:role/ghost-role"  # never created

    def td(family: str, containers: Optional[list[dict[str, Any]]] = None, **kw: Any) -> str:
        kw.setdefault("executionRoleArn", execution)
        return acct.taskdef(family, containers=containers, **kw)

    app = {"name": "app", "image": "busybox", "memory": 64}
    tds = {
        "web": td("web", taskRoleArn=web_role, networkMode="bridge"),
        "api": td("api", taskRoleArn=api_role),
        "worker": td("worker", taskRoleArn=worker_role),
        "legacy": td("legacy"),  # an executionRoleArn alone
        "keys": td("keys", [dict(app, environment=[{"name": "AWS_ACCESS_KEY_ID", "value": STATIC_KEY_ID},
                                                   {"name": "AWS_SECRET_ACCESS_KEY", "value": STATIC_SECRET}])], taskRoleArn=web_role),
        "proxy": td("proxy", [dict(app, environment=[{"name": "HTTP_PROXY", "value": f"http://squid:{PROXY_PASSWORD}@proxy.internal:3128"},
                                                    {"name": "NO_PROXY", "value": "localhost,169.254.169.254"}])], taskRoleArn=web_role),
        "cron": td("cron", [dict(app, entryPoint=["/usr/bin/supervisord", "-n"])], taskRoleArn=web_role),
        "sidecar": td("sidecar", [app, {"name": "probe", "image": "probe", "memory": 64, "command": ["probe", "watch"]}], taskRoleArn=web_role),
        "hostmode": td("hostmode", taskRoleArn=web_role, networkMode="host"),
        "ghost": td("ghost", taskRoleArn=ghost),
        "none": td("none", taskRoleArn=web_role, networkMode="none"),
        "unused": td("unused", [dict(app, environment=[{"name": "AWS_ACCESS_KEY_ID", "value": STATIC_KEY_ID}])], taskRoleArn=web_role),
        "noexec": acct.taskdef("noexec", taskRoleArn=web_role),
    }
    s.tds = tds  # type: ignore[attr-defined]
    both = (audit_checks.CAP_TASK_ROLE, audit_checks.CAP_TASK_ROLE_HOST)
    for label, kw in {
        "A": {},  # healthy: runs most services
        "B": {"capabilities": (audit_checks.CAP_TASK_ROLE_HOST,)},  # ECS_ENABLE_TASK_IAM_ROLE off, runs web
        "C": {"connected": False},  # disconnected, runs nothing
        "D": {"agent": "1.11.1"},  # too old for host-mode task roles, runs hostmode
        "G": {"capabilities": (audit_checks.CAP_TASK_ROLE,)},  # ..._NETWORK_HOST off, runs hostmode
        "H": {"capabilities": (audit_checks.CAP_TASK_ROLE_HOST,)},  # flag off, runs legacy with a role override
    }.items():
        arn = acct.instances(prod, 1, **kw)[0]
        s.instances[label] = arn
    s.instances["F"] = acct.instances(batch, 1, agent="1.9.0", capabilities=())[0]  # too old, runs nothing, no demand
    assert set(both)  # (both capabilities: the default)
    for name in ("web", "api", "worker", "legacy", "keys", "proxy", "cron", "sidecar", "hostmode", "ghost", "none", "noexec"):
        acct.service(prod, name, tds[name], desired=1)
    A, B, D, G, H = (s.instances[k] for k in "ABDGH")
    s.tasks["web-A"] = acct.start(prod, tds["web"], [A], service="web")[0]
    s.tasks["web-B"] = acct.start(prod, tds["web"], [B], service="web")[0]
    for name in ("api", "worker", "legacy", "keys", "proxy", "cron", "sidecar", "ghost", "none", "noexec"):
        acct.start(prod, tds[name], [A], service=name)
    acct.start(prod, tds["hostmode"], [D, G], service="hostmode")
    s.tasks["override-H"] = acct.start(prod, tds["legacy"], [H], overrides={"taskRoleArn": web_role})[0]
    # Stopped tasks: each kind of reason.
    now = time.time()
    stops = {
        "exec": (tds["web"], "web", execution_denial("exec-role", "secretsmanager:GetSecretValue",
                                                     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"), None, now - 300),
        "taskrole": (tds["api"], "api", "Essential container in task exited",
                     f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/api-role/0123456789abcdef0123456789abcdef is not "
                     "authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders", now - 200),
        "instance": (tds["noexec"], "noexec",
                     "CannotPullContainerError: Error response from daemon: pull access denied for 123456789012.dkr.ecr.us-east-1.amazonaws.com/app, "
                     f"repository does not exist or may require 'docker login': denied: User: arn:aws:sts::{ACCOUNT}:assumed-role/ecsInstanceRole/"
                     "i-0123456789abcdef0 is not authorized to perform: ecr:BatchGetImage on resource: "
                     f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app", None, now - 100),
        "exited": (tds["web"], "web", "Essential container in task exited", None, now - 50),
        "old": (tds["web"], "web", execution_denial("exec-role", "logs:CreateLogStream",
                                                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/web:log-stream:x"), None, now - 3 * 3600),
        "assume": (tds["worker"], "worker",
                   f"ResourceInitializationError: ECS was unable to assume the role '{worker_role}' that was provided for this task. "
                   "Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user "
                   "has permissions to pass this role.", None, now - 30),
    }
    for label, (tdarn, service, reason, container_reason, at) in stops.items():
        task = acct.start(prod, tdarn, [A], service=service)[0]
        acct.stop(prod, task, reason, container_reason=container_reason, stopped_at=at)
        s.tasks["stopped-" + label] = task
    # quiet: healthy.
    quiet = acct.instances("quiet", 1)
    acct.service("quiet", "ok", tds["web"], desired=1)
    acct.start("quiet", tds["web"], quiet, service="ok")
    # bulk: 25 services and 120 tasks, all healthy, for the batch sizes.
    bulk_instances = acct.instances(bulk, 12)
    for i in range(25):
        acct.service(bulk, f"svc{i:02d}", tds["web"], desired=1)
    for i in range(10):
        acct.start(bulk, tds["web"], bulk_instances, service=f"svc{i:02d}")
    return s


@pytest.fixture(scope="module")
def account() -> Iterator[Seeded]:
    acct = audit.MotoAccount(REGION)
    _reset_moto(acct.url)
    try:
        yield seed(acct)
    finally:
        acct.enforce_iam(False)
        _reset_moto(acct.url)
        acct.close()


def clean_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, url: str, key: str = "testing", secret: str = "testing") -> None:
    """Only moto: its endpoint, fake keys, no IMDS, empty config files, no proxies."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "PROBE_")) or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("NO_COLOR", "1")


class Run:
    def __init__(self, rc: int, stdout: str, stderr: str) -> None:
        self.rc, self.stdout, self.stderr = rc, stdout, stderr

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def check(self, cid: str) -> dict[str, Any]:
        found = [c for c in self.report["checks"] if c["id"] == cid]
        assert len(found) == 1, cid
        return found[0]

    def occurrences(self, cid: str) -> list[dict[str, Any]]:
        return list(self.check(cid)["data"].get("occurrences") or [])


def run_audit(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    rc = audit.main(list(args), out, err)
    return Run(rc, out.getvalue(), err.getvalue())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, account: Seeded) -> Seeded:
    clean_aws_env(monkeypatch, tmp_path, account.acct.url)
    return account


@pytest.fixture(scope="module")
def full(account: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The whole account audited once, JSON."""
    mp = pytest.MonkeyPatch()
    try:
        clean_aws_env(mp, tmp_path_factory.mktemp("full"), account.acct.url)
        return run_audit("--json", "--cluster", "prod", "--cluster", "batch")
    finally:
        mp.undo()


def instance_ids(run: Run, cid: str, account: Seeded) -> dict[str, str]:
    """label -> status of the seeded instances among the check's occurrences."""
    by_arn = {arn: label for label, arn in account.instances.items()}
    return {by_arn[o["container_instance_arn"]]: o["status"] for o in run.occurrences(cid)}


# ---- each check fires on its case and only there ------------------------------------------------


def test_report_shape_and_exit_code(full: Run) -> None:
    assert full.rc == 1, full.stderr
    doc = full.report
    assert doc["schema"] == "ecs-credential-probe/report/v1" and doc["mode"] == "audit" and doc["verdict"] == "fail"
    assert [c["id"] for c in doc["checks"]] == AUDIT_IDS
    assert doc["audit"]["regions"] == [REGION] and doc["audit"]["account"] == ACCOUNT
    assert doc["audit"]["denied"] == [] and not doc["audit"]["deadline_exceeded"]
    counts = doc["audit"]["counts"]
    assert counts["clusters"] == 2 and counts["services"] == 12 and counts["instances"] == 7


def test_agent_connected(full: Run, account: Seeded) -> None:
    assert full.check("audit.instance.agent-connected")["status"] == "fail"
    assert instance_ids(full, "audit.instance.agent-connected", account) == {"C": "fail"}


def test_agent_version(full: Run, account: Seeded) -> None:
    # D: 1.11.1 runs host-mode tasks with a role (needs 1.12.0); F: 1.9.0 runs nothing (warn).
    assert instance_ids(full, "audit.instance.agent-version", account) == {"D": "fail", "F": "warn"}
    d = next(o for o in full.occurrences("audit.instance.agent-version") if o["status"] == "fail")
    assert d["needs"] == "1.12.0" and d["command"].startswith("aws ecs update-container-agent --cluster prod ")


def test_task_iam_role_capability(full: Run, account: Seeded) -> None:
    # B runs web (role in the task definition); H runs legacy (no role) with a taskRoleArn override.
    # F lacks it too, but nothing with a role runs in its cluster (batch): no finding.
    assert instance_ids(full, "audit.instance.task-iam-role", account) == {"B": "fail", "H": "fail"}
    check = full.check("audit.instance.task-iam-role")
    assert "ECS_ENABLE_TASK_IAM_ROLE=true" in check["remedy"] and "sudo systemctl restart ecs" in check["remedy"]


def test_network_host_capability(full: Run, account: Seeded) -> None:
    assert instance_ids(full, "audit.instance.task-iam-role-network-host", account) == {"G": "fail"}
    assert "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST" in full.check("audit.instance.task-iam-role-network-host")["title"]


@pytest.mark.parametrize("cid, families, status", [
    pytest.param("audit.taskdef.task-role", {"legacy"}, "fail", id="task-role"),
    pytest.param("audit.taskdef.network-mode", {"none"}, "fail", id="network-mode"),
    pytest.param("audit.taskdef.static-credentials", {"keys"}, "fail", id="static-credentials"),
    pytest.param("audit.taskdef.proxy", {"proxy"}, "fail", id="proxy"),
    pytest.param("audit.taskdef.multi-process", {"cron"}, "warn", id="multi-process"),
    pytest.param("audit.taskdef.probe-sidecar", {"sidecar"}, "fail", id="probe-sidecar"),
])
def test_taskdef_checks_over_what_is_deployed(full: Run, cid: str, families: set[str], status: str) -> None:
    occ = full.occurrences(cid)
    assert {o["task_definition"].split(":")[0] for o in occ} == families
    assert full.check(cid)["status"] == status
    # Which services run it: named.
    assert all(o["services"] == [f"prod/{o['task_definition'].split(':')[0]}"] for o in occ)


def test_unused_task_definition_is_not_judged(full: Run) -> None:
    text = json.dumps(full.report)
    assert "unused:" not in text


def test_task_role_exists(full: Run) -> None:
    occ = full.occurrences("audit.task-role.exists")
    assert [o["role"] for o in occ] == ["ghost-role"] and occ[0]["services"] == ["prod/ghost"]


def test_trust_principal(full: Run) -> None:
    occ = full.occurrences("audit.trust.ecs-tasks-principal")
    assert [o["role"] for o in occ] == ["worker-role"]
    assert "update-assume-role-policy --role-name worker-role" in occ[0]["remedy"]
    doc = occ[0]["policy_document"]
    assert {"Service": "ecs-tasks.amazonaws.com"} in [st["Principal"] for st in doc["Statement"]]


def test_trust_conditions_per_cluster(full: Run) -> None:
    occ = full.occurrences("audit.trust.conditions")
    assert [o["role"] for o in occ] == ["api-role"] and occ[0]["refusing_clusters"] == ["prod"]


def test_stopped_access_denied(full: Run) -> None:
    occ = full.occurrences("audit.stopped.access-denied")
    got = {(o["denied"], o["role"], o["action"]) for o in occ}
    assert got == {
        ("execution-role", "exec-role", "secretsmanager:GetSecretValue"),
        ("task-role", "api-role", "dynamodb:GetItem"),
        ("instance-role", "ecsInstanceRole", "ecr:BatchGetImage"),
        ("trust", "worker-role", "sts:AssumeRole"),
    }
    exec_group = next(o for o in occ if o["denied"] == "execution-role")
    assert "execution role exec-role" in exec_group["remedy"]
    assert "adding it to the task role does not help" in exec_group["remedy"]
    task_group = next(o for o in occ if o["denied"] == "task-role")
    assert task_group["reasons_from"] == ["container app"]
    # The one stopped three hours ago is outside --since 1h; the one that merely exited is no denial.
    assert full.report["audit"]["stopped_older"] == 1


def test_since_takes_older_stopped_tasks(env: Seeded) -> None:
    run = run_audit("--json", "--cluster", "prod", "--since", "4h", "--only", "audit.stopped.access-denied")
    actions = {o["action"] for o in run.occurrences("audit.stopped.access-denied")}
    assert "logs:CreateLogStream" in actions and run.report["audit"]["stopped_older"] == 0


def test_healthy_cluster_passes(env: Seeded) -> None:
    run = run_audit("--json", "--cluster", "quiet")
    assert run.rc == 0, run.stdout
    statuses = {c["id"]: c["status"] for c in run.report["checks"]}
    assert statuses.pop("audit.taskdef.probe-sidecar") == "skip"
    assert statuses.pop("audit.stopped.access-denied") == "skip"  # nothing stopped there
    assert set(statuses.values()) == {"pass"}, statuses


def test_every_cluster_without_names(env: Seeded) -> None:
    run = run_audit("--json", "--only", "audit.instance.agent-connected")
    assert run.report["audit"]["counts"]["clusters"] == 4
    assert run.report["audit"]["calls"].get("ecs:ListClusters") == 1


def test_no_secret_in_any_output(full: Run, env: Seeded) -> None:
    text = run_audit("--cluster", "prod", "--verbose")
    assert text.rc == 1
    assert_no_secrets([full.stdout, full.stderr, text.stdout, text.stderr], [PROXY_PASSWORD, STATIC_SECRET])
    assert STATIC_KEY_ID not in full.stdout + text.stdout  # values are never kept, not even masked
    assert "AWS_SECRET_ACCESS_KEY" in full.stdout  # the name is


def test_text_report(env: Seeded) -> None:
    run = run_audit("--cluster", "prod")
    assert run.rc == 1 and run.stderr == ""  # no progress line when stderr is no terminal
    lines = run.stdout.splitlines()
    assert lines[0].startswith("ecs-credential-probe ") and " · audit · " in lines[0]
    assert lines[1].startswith("Audited:  us-east-1 · account 123456789012")
    for cid in AUDIT_IDS:
        assert any(cid in line for line in lines), cid


def test_only_makes_only_the_calls_needed(env: Seeded) -> None:
    run = run_audit("--json", "--cluster", "prod", "--only", "audit.taskdef.static-credentials")
    calls = run.report["audit"]["calls"]
    assert "ecs:DescribeContainerInstances" not in calls and "iam:GetRole" not in calls
    skipped = [c for c in run.report["checks"] if c["status"] == "skip"]
    assert len(skipped) == len(AUDIT_IDS) - 1


def test_each_task_definition_and_role_read_once(full: Run) -> None:
    calls = full.report["audit"]["calls"]
    # prod and batch: 12 task definitions in use (the stopped tasks use some of them), each described once.
    assert calls["ecs:DescribeTaskDefinition"] == 12
    # web-role, api-role, worker-role, ghost-role: each read once, however many use them.
    assert calls["iam:GetRole"] == 4


def test_multiple_regions(env: Seeded) -> None:
    acct = env.acct
    west = acct.cluster("west", region="us-west-2")
    tdarn = acct.taskdef("westapp", region="us-west-2")  # no task role
    acct.service(west, "westapp", tdarn, region="us-west-2")
    run = run_audit("--json", "--region", "us-east-1", "--region", "us-west-2", "--cluster", "west", "--only", "audit.taskdef.task-role")
    assert run.report["audit"]["regions"] == ["us-east-1", "us-west-2"]
    assert [o["task_definition"] for o in run.occurrences("audit.taskdef.task-role")] == ["westapp:1"]


@pytest.mark.parametrize("args, message", [
    pytest.param(["--since", "soon"], "--since", id="since"),
    pytest.param(["--deadline", "0"], "--deadline", id="deadline"),
    pytest.param(["--only", "audit.nope"], "unknown check id", id="only"),
    pytest.param(["--cluster", "no-such-cluster"], "no cluster named no-such-cluster", id="cluster"),
    pytest.param(["--output", "json"], "--format", id="output"),
])
def test_usage_errors(env: Seeded, args: list[str], message: str) -> None:
    run = run_audit(*args)
    assert run.rc == 2 and message in run.stderr and run.stdout == ""


def test_no_region_is_a_usage_error(env: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    run = run_audit("--json")
    assert run.rc == 2 and "no region" in run.stderr


def test_no_credentials_is_a_usage_error(env: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    run = run_audit("--json", "--cluster", "quiet")
    assert run.rc == 2 and "no AWS credentials" in run.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_only(env: Seeded) -> None:
    out, err = io.StringIO(), Terminal()
    rc = audit.main(["--json", "--cluster", "quiet"], out, err)
    assert rc == 0 and json.loads(out.getvalue())["mode"] == "audit"  # the report alone on stdout
    progress = err.getvalue()
    assert progress.startswith("\r\x1b[Kprobe audit: ") and progress.endswith("\r\x1b[K")


# ---- permissions --------------------------------------------------------------------------------

NEEDS = {
    "audit.instance.agent-connected": audit_checks.NEEDS_INSTANCES,
    "audit.instance.agent-version": audit_checks.NEEDS_INSTANCE_ROLES,
    "audit.instance.task-iam-role": audit_checks.NEEDS_INSTANCE_ROLES,
    "audit.instance.task-iam-role-network-host": audit_checks.NEEDS_INSTANCE_ROLES,
    "audit.task-role.exists": audit_checks.NEEDS_ROLES,
    "audit.trust.ecs-tasks-principal": audit_checks.NEEDS_ROLES,
    "audit.trust.conditions": audit_checks.NEEDS_ROLES,
    "audit.stopped.access-denied": audit_checks.NEEDS_STOPPED,
    **{cid: audit_checks.NEEDS_TASKDEFS for cid in AUDIT_IDS if cid.startswith("audit.taskdef.")},
}
PERMISSIONS = [p for p, _why in walk_facts.PERMISSIONS]


def deny(permission: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": permission, "Resource": "*"},
    ]}


@pytest.fixture(scope="module")
def users(account: Seeded) -> dict[str, tuple[str, str]]:
    """One IAM user per permission, denied that permission; and one with the printed policy."""
    out = {p: account.acct.user_keys("no-" + p.replace(":", "-").lower(), deny(p)) for p in PERMISSIONS}
    out["policy"] = account.acct.user_keys("printed-policy", walk_facts.policy_document())
    return out


@pytest.fixture
def enforced(account: Seeded) -> Iterator[audit.MotoAccount]:
    account.acct.enforce_iam(True)
    try:
        yield account.acct
    finally:
        account.acct.enforce_iam(False)


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_each_missing_permission_is_a_skip_naming_it(permission: str, full: Run, users: dict[str, tuple[str, str]],
                                                      enforced: audit.MotoAccount, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    key, secret = users[permission]
    clean_aws_env(monkeypatch, tmp_path, enforced.url, key, secret)
    named = [] if permission == "ecs:ListClusters" else ["--cluster", "prod", "--cluster", "batch"]
    run = run_audit("--json", *named)
    assert run.rc in (0, 1), run.stderr
    doc = run.report
    assert doc["audit"]["denied"] == [permission]
    baseline = {c["id"]: c["status"] for c in full.report["checks"]}
    for c in doc["checks"]:
        needs = set(NEEDS[c["id"]]) | ({"ecs:ListClusters"} if not named else set())
        if permission in needs:
            said = c["title"] + " " + c["detail"]
            assert permission in said, (c["id"], said)
            if c["status"] != "skip":  # findings made from what it could see stand, the gap said
                assert c["status"] in ("fail", "warn") and "Not complete" in c["detail"], c
        else:
            assert c["status"] == baseline[c["id"]], (c["id"], c["status"], c["detail"], doc["audit"]["problems"])
    assert_no_secrets([run.stdout, run.stderr], [secret])


def test_printed_policy_is_enough(users: dict[str, tuple[str, str]], enforced: audit.MotoAccount,
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Any, full: Run) -> None:
    key, secret = users["policy"]
    clean_aws_env(monkeypatch, tmp_path, enforced.url, key, secret)
    run = run_audit("--json", "--cluster", "prod", "--cluster", "batch")
    assert run.report["audit"]["denied"] == [] and run.report["audit"]["problems"] == []
    assert [c["status"] for c in run.report["checks"]] == [c["status"] for c in full.report["checks"]]


def test_refused_credentials_are_a_usage_error(enforced: audit.MotoAccount, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    clean_aws_env(monkeypatch, tmp_path, enforced.url, "AKIAZZZZNOSUCHKEY000", "not-a-secret-we-know")
    run = run_audit("--json", "--cluster", "prod")
    assert run.rc == 2 and "refused the credentials (InvalidClientTokenId)" in run.stderr and run.stdout == ""


def test_print_policy() -> None:
    run = run_audit("--print-policy")
    doc = json.loads(run.stdout)
    actions = [a for st in doc["Statement"] for a in st["Action"]]
    assert sorted(actions) == sorted(PERMISSIONS) and all(a.split(":")[1].startswith(("List", "Describe", "Get")) for a in actions)


# ---- ECS's own answers, through a stand-in in front of moto --------------------------------------


class StandIn:
    """An HTTP server on 127.0.0.1 that forwards to moto and answers as ECS does where moto
    does not: ``deny`` (an action answered with ECS's AccessDeniedException JSON),
    ``throttle`` (the first N calls of an action answered ThrottlingException), ``page``
    (List* answers cut into pages of this size with a nextToken), ``delay`` (seconds before
    each answer of an action). ``seen`` records (action, number of ARNs asked) per call."""

    def __init__(self, upstream: str, deny: Optional[str] = None, throttle: Optional[tuple[str, int]] = None,
                 page: Optional[int] = None, delay: Optional[tuple[str, float]] = None) -> None:
        self.upstream = upstream.split("://", 1)[1]
        self.deny, self.throttle, self.page, self.delay = deny, throttle, page, delay
        self.seen: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.handle(self, body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, action: str) -> list[int]:
        return [n for a, n in self.seen if a == action]

    def _send(self, h: Any, status: int, body: bytes, headers: Optional[dict[str, str]] = None) -> None:
        h.send_response(status)
        for k, v in (headers or {"Content-Type": "application/x-amz-json-1.1"}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h: Any, body: bytes) -> None:
        target = str(h.headers.get("X-Amz-Target") or "")
        action = target.rsplit(".", 1)[-1] if target.startswith("AmazonEC2ContainerServiceV20141113.") else None
        request = json.loads(body or b"{}") if action else {}
        if action:
            asked = next((len(v) for k, v in request.items() if isinstance(v, list)), 0)
            with self.lock:
                self.seen.append((action, asked))
                count = sum(1 for a, _ in self.seen if a == action)
            if self.delay and self.delay[0] == action:
                time.sleep(self.delay[1])
            if action == self.deny:
                msg = (f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: ecs:{action} on resource: * "
                       "because no identity-based policy allows the ecs:" + action + " action")
                return self._send(h, 400, json.dumps({"__type": "AccessDeniedException", "message": msg}).encode())
            if self.throttle and self.throttle[0] == action and count <= self.throttle[1]:
                return self._send(h, 400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode())
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        conn.request("POST", h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out_headers = {k: v for k, v in resp.getheaders() if k.lower() in ("content-type", "x-amzn-requestid")}
        conn.close()
        if action and action.startswith("List") and self.page and resp.status == 200:
            doc = json.loads(data)
            key = next(k for k, v in doc.items() if isinstance(v, list))
            start = int(request.get("nextToken") or 0)
            items = doc[key]
            doc = {key: items[start : start + self.page]}
            if start + self.page < len(items):
                doc["nextToken"] = str(start + self.page)
            data = json.dumps(doc).encode()
        self._send(h, resp.status, data, out_headers)


@pytest.fixture
def stand_in(account: Seeded) -> Iterator[Callable[..., StandIn]]:
    made: list[StandIn] = []

    def make(**kw: Any) -> StandIn:
        s = StandIn(account.acct.url, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_batch_sizes_and_pages(env: Seeded, stand_in: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch) -> None:
    direct = run_audit("--json", "--cluster", "bulk")
    s = stand_in()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    batched = run_audit("--json", "--cluster", "bulk")
    assert batched.report["audit"]["counts"] == direct.report["audit"]["counts"]
    assert sorted(s.calls("DescribeServices")) == [5, 10, 10]  # 25 services, 10 a call
    assert sorted(s.calls("DescribeTasks")) == [20, 100]  # 120 running tasks, 100 a call
    assert s.calls("DescribeContainerInstances") == [12]
    assert len(s.calls("DescribeTaskDefinition")) == 1  # one task definition for all of them
    # ECS's pages: 3 at a time with nextToken; the same account is seen.
    paged = stand_in(page=3)
    monkeypatch.setenv("AWS_ENDPOINT_URL", paged.url)
    run = run_audit("--json", "--cluster", "bulk")
    assert run.report["audit"]["counts"] == direct.report["audit"]["counts"]
    assert len(paged.calls("ListServices")) == 9 and max(paged.calls("DescribeServices")) == 3
    assert [c["status"] for c in run.report["checks"]] == [c["status"] for c in direct.report["checks"]]


def test_ecs_access_denied_shape(env: Seeded, stand_in: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch) -> None:
    s = stand_in(deny="DescribeContainerInstances")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    run = run_audit("--json", "--cluster", "prod")
    assert run.rc in (0, 1) and run.report["audit"]["denied"] == ["ecs:DescribeContainerInstances"]
    for cid in ("audit.instance.agent-connected", "audit.instance.agent-version", "audit.instance.task-iam-role"):
        c = run.check(cid)
        assert c["status"] == "skip" and c["title"].startswith("Not checked: ecs:DescribeContainerInstances was denied (AccessDeniedException)")


def test_throttling_is_retried(env: Seeded, stand_in: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch) -> None:
    s = stand_in(throttle=("DescribeTasks", 3))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    run = run_audit("--json", "--cluster", "bulk")
    assert run.report["audit"]["problems"] == []
    assert run.report["audit"]["http_requests"] >= run.report["audit"]["api_calls"] + 3
    assert run.report["audit"]["counts"]["running_tasks"] == 120


def test_deadline(env: Seeded, stand_in: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch) -> None:
    s = stand_in(delay=("DescribeTasks", 5.0))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    run = run_audit("--json", "--cluster", "prod", "--deadline", "2")
    doc = run.report
    assert doc["audit"]["deadline_exceeded"] is True
    c = run.check("audit.stopped.access-denied")
    assert c["status"] == "skip" and "did not finish within its deadline" in c["detail"]


# ---- judging without a server -------------------------------------------------------------------


def record(**parts: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"regions": [REGION], "clusters_named": ["c"], "since_s": 3600, "now_epoch": 1e9, "caller": {},
                           "clusters": {"arn:c": {"arn": "arn:c", "name": "c", "region": REGION}}, "services": {}, "tasks": {},
                           "instances": {}, "task_definitions": {}, "roles": {}, "problems": [], "calls": {}}
    rec.update(parts)
    return rec


def inst(arn: str, **kw: Any) -> dict[str, Any]:
    base = {"arn": arn, "region": REGION, "cluster": "arn:c", "ec2_instance_id": "i-" + arn, "status": "ACTIVE", "agent_connected": True,
            "agent_version": "1.80.0", "attributes": [audit_checks.CAP_TASK_ROLE, audit_checks.CAP_TASK_ROLE_HOST]}
    base.update(kw)
    return base


def task(arn: str, td: str, instance: Optional[str] = None, **kw: Any) -> dict[str, Any]:
    base = {"arn": arn, "region": REGION, "cluster": "arn:c", "task_definition": td, "group": "", "service": None,
            "last_status": "RUNNING", "desired_status": "RUNNING", "instance": instance}
    base.update(kw)
    return base


def judge(rec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    report = audit.judge(rec)
    return {r.id: r.to_dict() for r in report.results}


@pytest.mark.parametrize("version, status", [
    pytest.param("1.10.0", "fail", id="predates-task-roles"),
    pytest.param("v1.10.9", "fail", id="v-prefixed"),
    pytest.param("1.11.0", "fail", id="host-mode-needs-1.12"),
    pytest.param("1.12.0", "pass", id="enough"),
    pytest.param("1.87.0", "pass", id="current"),
    pytest.param("", "skip", id="unknown-not-judged"),
])
def test_agent_version_table(version: str, status: str) -> None:
    rec = record(
        instances={"i1": inst("i1", agent_version=version or None)},
        task_definitions={"td:1": {"taskRoleArn": "arn:aws:iam::123456789012:role/r", "networkMode": "host", "containerDefinitions": []}},
        tasks={"t1": task("t1", "td:1", "i1")},
    )
    assert judge(rec)["audit.instance.agent-version"]["status"] == status


@pytest.mark.parametrize("problem, cid", [
    pytest.param({"permission": "ecs:DescribeContainerInstances", "kind": "denied", "where": "cluster c (us-east-1)", "code": "AccessDeniedException"},
                 "audit.instance.agent-connected", id="instances"),
    pytest.param({"permission": "iam:GetRole", "kind": "denied", "where": "role r", "code": "AccessDenied"}, "audit.trust.conditions", id="roles"),
    pytest.param({"permission": "ecs:ListTasks", "kind": "error", "where": "cluster c (us-east-1)", "code": "ThrottlingException"},
                 "audit.stopped.access-denied", id="error"),
])
def test_no_pass_over_what_was_not_seen(problem: dict[str, Any], cid: str) -> None:
    rec = record(problems=[dict(problem, message="", count=1)],
                 instances={"i1": inst("i1")},
                 task_definitions={"td:1": {"taskRoleArn": "arn:aws:iam::123456789012:role/r", "containerDefinitions": []}},
                 services={"s": {"arn": "s", "name": "s", "cluster": "arn:c", "task_definitions": ["td:1"], "launch_type": "EC2"}},
                 roles={"arn:aws:iam::123456789012:role/r": {"name": "r", "unread": True}})
    out = judge(rec)[cid]
    assert out["status"] == "skip" and out["title"].startswith(f"Not checked: {problem['permission']}")


def test_checks_never_read_values() -> None:
    """The walk keeps no environment value but NO_PROXY's hosts; proxy variables are "set"."""
    td = walk_facts.trim_task_definition({"family": "f", "containerDefinitions": [{"name": "app", "environment": [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": STATIC_SECRET}, {"name": "HTTP_PROXY", "value": f"http://u:{PROXY_PASSWORD}@p:1"},
        {"name": "NO_PROXY", "value": "169.254.169.254, 169.254.170.2"}, {"name": "DB_URL", "value": "postgres://x:y@db"}],
        "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:t"}]}]})
    text = json.dumps(td)
    assert STATIC_SECRET not in text and PROXY_PASSWORD not in text and "postgres" not in text and "valueFrom" not in text
    env = {e["name"]: e.get("value") for e in td["containerDefinitions"][0]["environment"]}
    assert env == {"AWS_SECRET_ACCESS_KEY": None, "HTTP_PROXY": "(set)", "NO_PROXY": "169.254.169.254,169.254.170.2", "DB_URL": None}


@pytest.mark.parametrize("text, seconds", [("90m", 5400), ("1h30m", 5400), ("2d", 172800), ("3600", 3600), ("1.5h", 5400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert walk_facts.parse_duration(text) == seconds


def test_demo_finds_its_three_findings(tmp_path: Any) -> None:
    """`probe demo`'s audit, in its own process (moto's state is per process)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": REPO, "NO_COLOR": "1",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    code = "import sys; from probe import audit; sys.exit(audit.run_demo(sys.stdout, sys.stderr, 'json'))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    failing = [c["id"] for c in json.loads(proc.stdout)["checks"] if c["status"] == "fail"]
    assert failing == ["audit.instance.task-iam-role", "audit.trust.ecs-tasks-principal", "audit.stopped.access-denied"]
