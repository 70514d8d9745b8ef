"""Audit mode (`probe audit`, issue 23): the fleet-wide findings, judged from one walk's record.

Pure: every check reads ``f.get("audit")`` (probe/facts/audit.py's record) and nothing else.
Each id is one kind of finding and lists its occurrences (cluster, service, task definition,
instance or role) in ``detail`` and ``data.occurrences``. The task definition and trust policy
findings are the taskdef.* and trust.* checks themselves, run over what is really deployed.

A check never passes over what it could not see: when a call it needs was denied, failed or did
not finish, and it found nothing, it is a ``skip`` that names the permission (or the deadline);
when it found something anyway, the findings stand and the gap is said in the detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts
from probe.model import Status

MODE = "audit"
# The attributes the agent registers only when its flags are on (amazon-ecs-agent
# agent/app/agent_capability.go, appendTaskIamRoleCapabilities).
CAP_TASK_ROLE = "com.amazonaws.ecs.capability.task-iam-role"
CAP_TASK_ROLE_HOST = "com.amazonaws.ecs.capability.task-iam-role-network-host"
# The first agent versions with each feature (amazon-ecs-agent CHANGELOG.md: 1.11.0 "Support IAM
# roles for tasks", 1.12.0 "Support Task IAM Role for containers launched with 'host' network mode").
AGENT_MIN_TASK_ROLE = "1.11.0"
AGENT_MIN_TASK_ROLE_HOST = "1.12.0"
SHOWN = 12  # occurrences written out in a detail; all (up to MAX_OCCURRENCES) are in data
MAX_OCCURRENCES = 1000
LIVE_INSTANCE = ("ACTIVE", "DRAINING")

# The permissions each kind of check cannot do without (ecs:ListClusters only when the clusters
# were not named). ecs:DescribeClusters adds names and status only: the walk goes on without it.
_TASKS = ("ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition")
_IN_USE = ("ecs:ListServices", "ecs:DescribeServices") + _TASKS
NEEDS_INSTANCES = ("ecs:ListContainerInstances", "ecs:DescribeContainerInstances")
NEEDS_INSTANCE_ROLES = NEEDS_INSTANCES + _TASKS
NEEDS_TASKDEFS = _IN_USE
NEEDS_ROLES = _IN_USE + ("iam:GetRole",)
NEEDS_STOPPED = ("ecs:ListTasks", "ecs:DescribeTasks")

# What the agent does with the execution role (or, without one, the instance role), by the
# service of the denied action: the purpose said in the fix.
AGENT_CALLS: tuple[tuple[str, str], ...] = (
    ("ecr", "pull the container image from ECR"),
    ("logs", "create the awslogs log stream and send the container's logs"),
    ("secretsmanager", "read the Secrets Manager secrets of the container definitions' `secrets`"),
    ("ssm", "read the SSM parameters of the container definitions' `secrets`"),
    ("kms", "decrypt the secrets or parameters with their KMS key"),
    ("s3", "read the environment files (`environmentFiles`) from S3"),
)
# Words of the agent's stop reasons that say the agent (not the application) made the call.
AGENT_REASONS = (
    "CannotPullContainerError", "ResourceInitializationError", "unable to pull secrets or registry auth",
    "failed to validate logger args", "Cloudwatch log stream", "CannotCreateContainerError",
    "unable to retrieve secret", "unable to retrieve secrets", "environment file",
)
# ECS could not assume the task's role at all (its trust policy, or iam:PassRole of the caller).
UNABLE_TO_ASSUME = "unable to assume the role"
EXECUTION_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


# ---- reading the record -------------------------------------------------------------------------


def _name(arn: Optional[str]) -> str:
    return str(arn or "").rsplit("/", 1)[-1]


def _td_label(arn: Optional[str]) -> str:
    """family:revision of a task definition ARN."""
    return _name(arn) or "(unknown task definition)"


def _version_tuple(text: Any) -> Optional[tuple[int, ...]]:
    if not isinstance(text, str):
        return None
    core = text.strip().lstrip("vV").split("-", 1)[0].split("+", 1)[0]
    try:
        parts = tuple(int(p) for p in core.split("."))
    except ValueError:
        return None
    return parts if parts else None


def _older(version: Any, minimum: str) -> Optional[bool]:
    have, want = _version_tuple(version), _version_tuple(minimum)
    if have is None or want is None:
        return None
    n = max(len(have), len(want))
    return have + (0,) * (n - len(have)) < want + (0,) * (n - len(want))


@dataclass
class Index:
    """Views of one record the checks share: who uses which task definition and role, which
    tasks run on which instance. Built once per record."""

    rec: Mapping[str, Any]
    cluster_names: dict[str, str] = field(default_factory=dict)
    running: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[dict[str, Any]] = field(default_factory=list)
    # task definition ARN -> {"services": [...labels], "tasks": n running, "standalone": n}
    in_use: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_instance: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # role ARN -> {"task_definitions": [...], "services": [...], "clusters": {arn-or-key: name}, "tasks": n}
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # cluster key -> {"role": [labels of services/tasks with a role on EC2], "host_role": [...]}
    demand: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def cluster(self, key: Optional[str]) -> str:
        return self.cluster_names.get(str(key), _name(key))

    def td(self, arn: Optional[str]) -> Optional[dict[str, Any]]:
        tds = self.rec.get("task_definitions") or {}
        value = tds.get(arn) if arn else None
        return value if isinstance(value, dict) else None

    def task_role(self, task: Mapping[str, Any]) -> tuple[Optional[str], bool]:
        """(the task's role ARN, known): an override wins over the task definition's."""
        if task.get("task_role_override"):
            return str(task["task_role_override"]), True
        td = self.td(task.get("task_definition"))
        if td is None:
            return None, False
        return (str(td["taskRoleArn"]) if td.get("taskRoleArn") else None), True

    def execution_role(self, task: Mapping[str, Any]) -> Optional[str]:
        if task.get("execution_role_override"):
            return str(task["execution_role_override"])
        td = self.td(task.get("task_definition"))
        return str(td["executionRoleArn"]) if td and td.get("executionRoleArn") else None

    def network_mode(self, task: Mapping[str, Any]) -> Optional[str]:
        td = self.td(task.get("task_definition"))
        if td is None:
            return None
        return str(td.get("networkMode") or "bridge")

    def users(self, td_arn: str) -> str:
        use = self.in_use.get(td_arn) or {}
        bits = []
        services = use.get("services") or []
        if services:
            bits.append(f"service{'s' if len(services) != 1 else ''} " + _some(services, 4))
        if use.get("standalone"):
            bits.append(f"{use['standalone']} running task{'s' if use['standalone'] != 1 else ''} outside services")
        elif use.get("tasks") and not services:
            bits.append(f"{use['tasks']} running task{'s' if use['tasks'] != 1 else ''}")
        return " and ".join(bits) or "nothing running now"


def _some(items: Sequence[str], n: int) -> str:
    items = list(items)
    if len(items) <= n:
        return ", ".join(items)
    return ", ".join(items[:n]) + f" and {len(items) - n} more"


def _is_running(task: Mapping[str, Any]) -> bool:
    return task.get("desired_status") != "STOPPED" and task.get("last_status") != "STOPPED" and "stopped_reason" not in task


_CACHE: dict[str, Any] = {"rec": None, "index": None}


def index(rec: Mapping[str, Any]) -> Index:
    """The record's Index (the last one is kept: every check of a run reads the same record)."""
    if _CACHE["rec"] is rec:
        return _CACHE["index"]
    ix = Index(rec)
    for key, c in (rec.get("clusters") or {}).items():
        if isinstance(c, dict):
            ix.cluster_names[str(key)] = str(c.get("name") or _name(key))
            if c.get("arn"):
                ix.cluster_names[str(c["arn"])] = str(c.get("name") or _name(c["arn"]))
    for svc in (rec.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        label = f"{ix.cluster(svc.get('cluster'))}/{svc.get('name')}"
        for td in svc.get("task_definitions") or []:
            use = ix.in_use.setdefault(td, {"services": [], "tasks": 0, "standalone": 0})
            if label not in use["services"]:
                use["services"].append(label)
    for task in (rec.get("tasks") or {}).values():
        if not isinstance(task, dict):
            continue
        if not _is_running(task):
            ix.stopped.append(task)
            continue
        ix.running.append(task)
        td = task.get("task_definition")
        if td:
            use = ix.in_use.setdefault(td, {"services": [], "tasks": 0, "standalone": 0})
            use["tasks"] += 1
            if not task.get("service"):
                use["standalone"] += 1
        if task.get("instance"):
            ix.on_instance.setdefault(str(task["instance"]), []).append(task)
    # Roles in use: named by a task definition in use, or by a running task's override.
    for td_arn, use in ix.in_use.items():
        td = ix.td(td_arn)
        if td and td.get("taskRoleArn"):
            record = ix.roles.setdefault(str(td["taskRoleArn"]), {"task_definitions": [], "services": [], "clusters": {}, "tasks": 0})
            record["task_definitions"].append(_td_label(td_arn))
            for s in use["services"]:
                if s not in record["services"]:
                    record["services"].append(s)
    for svc in (rec.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        for td_arn in svc.get("task_definitions") or []:
            td = ix.td(td_arn)
            if td and td.get("taskRoleArn"):
                ix.roles[str(td["taskRoleArn"])]["clusters"][str(svc.get("cluster"))] = ix.cluster(svc.get("cluster"))
                if svc.get("launch_type") in ("EC2", "EXTERNAL"):
                    d = ix.demand.setdefault(str(svc.get("cluster")), {"role": [], "host_role": []})
                    label = f"service {ix.cluster(svc.get('cluster'))}/{svc.get('name')}"
                    if label not in d["role"]:
                        d["role"].append(label)
                    if (td.get("networkMode") or "bridge") == "host" and label not in d["host_role"]:
                        d["host_role"].append(label)
    for task in ix.running:
        role, _known = ix.task_role(task)
        if not role:
            continue
        r = ix.roles.setdefault(role, {"task_definitions": [], "services": [], "clusters": {}, "tasks": 0})
        r["tasks"] += 1
        r["clusters"][str(task.get("cluster"))] = ix.cluster(task.get("cluster"))
        if task.get("task_role_override") and _td_label(task.get("task_definition")) + " (override)" not in r["task_definitions"]:
            r["task_definitions"].append(_td_label(task.get("task_definition")) + " (override)")
        if task.get("instance"):
            d = ix.demand.setdefault(str(task.get("cluster")), {"role": [], "host_role": []})
            label = f"service {ix.cluster(task.get('cluster'))}/{task['service']}" if task.get("service") else f"task {_name(task.get('arn'))}"
            if label not in d["role"]:
                d["role"].append(label)
            if ix.network_mode(task) == "host" and label not in d["host_role"]:
                d["host_role"].append(label)
    _CACHE.update(rec=rec, index=ix)
    return ix


def _rec(f: Facts) -> dict[str, Any]:
    return f.get("audit")


# ---- what could not be seen ---------------------------------------------------------------------


def gaps(rec: Mapping[str, Any], needs: Iterable[str]) -> list[dict[str, Any]]:
    """The recorded problems that keep a check with these needs from seeing everything."""
    wanted = set(needs)
    if not rec.get("clusters_named"):
        wanted.add("ecs:ListClusters")
    out = []
    if rec.get("setup_error"):
        out.append({"permission": "(setup)", "kind": "error", "where": "the audit's start", "code": None, "message": rec["setup_error"], "count": 1})
    for p in rec.get("problems") or []:
        if not isinstance(p, dict):
            continue
        if p.get("kind") in ("deadline",) or p.get("permission") == "(internal)":
            out.append(p)
        elif p.get("kind") in ("denied", "error") and p.get("permission") in wanted:
            out.append(p)
    return out


def gap_text(found: Sequence[Mapping[str, Any]]) -> str:
    """One sentence per permission (or the deadline), naming where it was missing."""
    by: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in found:
        by.setdefault((str(p.get("permission")), str(p.get("kind"))), []).append(p)
    parts = []
    for (perm, kind), items in by.items():
        wheres = [str(i.get("where")) for i in items]
        where = _some(wheres, 3)
        if kind == "denied":
            parts.append(f"{perm} was denied ({items[0].get('code') or 'AccessDenied'}) for {where}: grant it (`probe audit --print-policy`)")
        elif kind == "deadline":
            parts.append(f"the audit did not finish within its deadline ({items[0].get('message')}; raise --deadline or name fewer clusters)")
        elif perm == "(setup)":
            parts.append(f"the audit could not start: {items[0].get('message')}")
        elif perm == "(internal)":
            parts.append(f"the walk broke ({items[0].get('code')}: {items[0].get('message')})")
        else:
            parts.append(f"{perm} failed ({items[0].get('code')}: {str(items[0].get('message'))[:160]}) for {where}")
    return "; ".join(parts)


@dataclass
class Occurrence:
    status: Status
    line: str
    data: dict[str, Any]


def _judge(
    f: Facts,
    neutral: str,
    needs: Sequence[str],
    occurrences: Sequence[Occurrence],
    checked: int,
    *,
    title: Callable[[int, int], str],
    pass_title: str,
    pass_detail: str,
    remedy: str,
    empty: str,
    note: str = "",
) -> Outcome:
    """The outcome of one audit check from its occurrences: fail if any fails, else warn; a
    skip naming the permission when something could not be seen and nothing was found."""
    rec = _rec(f)
    missing = gaps(rec, needs)
    not_complete = [dict(p) for p in missing]
    if occurrences:
        fails = [o for o in occurrences if o.status is Status.FAIL]
        ordered = fails + [o for o in occurrences if o.status is not Status.FAIL]
        detail = "; ".join(o.line for o in ordered[:SHOWN])
        if len(ordered) > SHOWN:
            detail += f"; and {len(ordered) - SHOWN} more (all in the JSON report's data.occurrences)"
        detail += "."
        if note:
            detail += " " + note
        if missing:
            detail += " Not complete: " + gap_text(missing) + "."
        data = {
            "occurrences": [dict(o.data, status=o.status.value, summary=o.line) for o in ordered[:MAX_OCCURRENCES]],
            "count": len(ordered),
            "checked": checked,
            "truncated": len(ordered) > MAX_OCCURRENCES,
            "not_complete": not_complete,
        }
        make = failed if fails else warned
        return make(title(len(fails), len(ordered) - len(fails)), detail, remedy, **data)
    if missing:
        return skipped(neutral, gap_text(missing), checked=checked, not_complete=not_complete)
    if checked == 0:
        return skipped(neutral, empty)
    return passed(pass_title, pass_detail + (" " + note if note else ""), checked=checked)


def _plural(n: int, word: str, plural: Optional[str] = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


_AGREE = re.compile(r"\[([^|\]]*)\|([^\]]*)\]")


def _agree(n: int, words: str) -> str:
    """"[runs|run]" -> "runs" for one, "run" for more."""
    return _AGREE.sub(lambda m: m.group(1) if n == 1 else m.group(2), words)


def _count_title(fail_words: str, warn_words: str, noun: str, nouns: Optional[str] = None) -> Callable[[int, int], str]:
    """A title counting occurrences; "[singular|plural]" in the words agrees with the count."""

    def title(fails: int, warns: int) -> str:
        if fails and warns:
            return f"{_plural(fails, noun, nouns)} {_agree(fails, fail_words)}; {warns} more {_agree(warns, warn_words)}"
        if fails:
            return f"{_plural(fails, noun, nouns)} {_agree(fails, fail_words)}"
        return f"{_plural(warns, noun, nouns)} {_agree(warns, warn_words)}"

    return title


# ---- container instances ------------------------------------------------------------------------


def _instances(ix: Index) -> list[dict[str, Any]]:
    return [i for i in (ix.rec.get("instances") or {}).values() if isinstance(i, dict) and i.get("status") in LIVE_INSTANCE]


def _where(ix: Index, inst: Mapping[str, Any]) -> str:
    return f"instance {inst.get('ec2_instance_id') or _name(inst.get('arn'))} (cluster {ix.cluster(inst.get('cluster'))}, {inst.get('region')})"


def _inst_data(ix: Index, inst: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "region": inst.get("region"), "cluster": ix.cluster(inst.get("cluster")), "ec2_instance_id": inst.get("ec2_instance_id"),
        "container_instance_arn": inst.get("arn"), "agent_version": inst.get("agent_version"), **more,
    }


def _role_tasks(ix: Index, inst: Mapping[str, Any], host_only: bool = False) -> list[dict[str, Any]]:
    out = []
    for task in ix.on_instance.get(str(inst.get("arn")), []):
        role, _known = ix.task_role(task)
        if role and (not host_only or ix.network_mode(task) == "host"):
            out.append(task)
    return out


def _task_labels(ix: Index, tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    labels: list[str] = []
    for t in tasks:
        role, _ = ix.task_role(t)
        label = (f"service {t['service']}" if t.get("service") else f"task {_name(t.get('arn'))}") + f" with role {_name(role)}"
        if label not in labels:
            labels.append(label)
    return labels


@check("audit.instance.agent-connected", mode=MODE, title="Container instance agents are connected",
       needs=("instances",))
def agent_connected(f: Facts) -> Outcome:
    """Guarantees: fails for every ACTIVE or DRAINING container instance whose agent ECS reports
    as not connected (agentConnected false): ECS places no task there, and the agent gets no
    refreshed task role credentials for the tasks it runs over that connection. Passes only when
    every instance of every audited cluster was described."""
    ix = index(_rec(f))
    occ = []
    insts = _instances(ix)
    for inst in insts:
        if inst.get("agent_connected") is False:
            tasks = ix.on_instance.get(str(inst.get("arn")), [])
            with_role = _role_tasks(ix, inst)
            occ.append(Occurrence(
                Status.FAIL,
                f"{_where(ix, inst)}: agent {inst.get('agent_version') or '?'} disconnected, "
                f"{_plural(len(tasks), 'running task')} ({len(with_role)} with a task role)",
                _inst_data(ix, inst, running_tasks=len(tasks), tasks_with_role=len(with_role)),
            ))
    return _judge(
        f, "Container instance agents are connected", NEEDS_INSTANCES, occ, len(insts),
        title=_count_title("with a disconnected agent", "", "container instance"),
        pass_title=f"Every agent is connected ({_plural(len(insts), 'container instance')})",
        pass_detail="", empty="no ACTIVE or DRAINING container instance in the audited clusters (Fargate only, or none)",
        remedy=(
            "On each instance: look at the agent (`sudo systemctl status ecs`, /var/log/ecs/ecs-agent.log), check that the "
            "instance profile (ecsInstanceRole with AmazonEC2ContainerServiceforEC2Role) and the network let it reach the ECS "
            "endpoints, then " + remedies.AGENT_RESTART + ". `probe host` on the instance checks the agent and its task role "
            "settings."
        ),
    )


@check("audit.instance.agent-version", mode=MODE, title="Container instance agents support task roles",
       needs=("instances", "running", "taskdefs"))
def agent_version(f: Facts) -> Outcome:
    """Guarantees: fails when an instance's agent (versionInfo.agentVersion) predates task roles
    (1.11.0) and runs tasks with a task role, or predates task roles in host network mode
    (1.12.0) and runs host-mode tasks with one; warns when an agent predates task roles and runs
    none (tasks with a role cannot use it). Instances without a version are not judged."""
    ix = index(_rec(f))
    occ = []
    insts = _instances(ix)
    unknown = 0
    for inst in insts:
        version = inst.get("agent_version")
        too_old = _older(version, AGENT_MIN_TASK_ROLE)
        if too_old is None:
            unknown += 1
            continue
        with_role = _role_tasks(ix, inst)
        host_role = _role_tasks(ix, inst, host_only=True)
        cmd = f"aws ecs update-container-agent --cluster {ix.cluster(inst.get('cluster'))} --container-instance {_name(inst.get('arn'))}"
        if too_old:
            status = Status.FAIL if with_role else Status.WARN
            runs = f"runs {_plural(len(with_role), 'task')} with a task role ({_some(_task_labels(ix, with_role), 3)})" if with_role else "runs no task with a task role now"
            occ.append(Occurrence(status, f"{_where(ix, inst)}: agent {version} predates task roles ({AGENT_MIN_TASK_ROLE}) and {runs}",
                                  _inst_data(ix, inst, needs=AGENT_MIN_TASK_ROLE, tasks_with_role=len(with_role), command=cmd)))
        elif host_role and _older(version, AGENT_MIN_TASK_ROLE_HOST):
            occ.append(Occurrence(
                Status.FAIL,
                f"{_where(ix, inst)}: agent {version} predates task roles in host network mode ({AGENT_MIN_TASK_ROLE_HOST}) and runs "
                f"{_plural(len(host_role), 'host-mode task')} with a task role ({_some(_task_labels(ix, host_role), 3)})",
                _inst_data(ix, inst, needs=AGENT_MIN_TASK_ROLE_HOST, tasks_with_role=len(host_role), command=cmd),
            ))
    note = f"{_plural(unknown, 'instance')} reported no agent version and {'was' if unknown == 1 else 'were'} not judged." if unknown else ""
    return _judge(
        f, "Container instance agents support task roles", NEEDS_INSTANCE_ROLES, occ, len(insts) - unknown,
        title=_count_title("with an agent too old for the task roles [it runs|they run]", "with an agent too old for task roles", "instance"),
        pass_title=f"Every agent supports task roles ({_plural(len(insts) - unknown, 'instance')})",
        pass_detail=f"agent {AGENT_MIN_TASK_ROLE} or later everywhere (and {AGENT_MIN_TASK_ROLE_HOST} or later where host-mode tasks have a role)",
        empty="no container instance reported an agent version" if insts else "no ACTIVE or DRAINING container instance in the audited clusters",
        note=note,
        remedy=(
            "Update the agent on these instances: `aws ecs update-container-agent --cluster CLUSTER --container-instance ID` "
            "(each instance's command is in data.occurrences[].command; ecs-init-managed Amazon Linux instances), or "
            "`sudo yum update -y ecs-init` and " + remedies.AGENT_RESTART + ", or replace the instances with a current "
            "ECS-optimized AMI."
        ),
    )


def _capability(f: Facts, cap: str, flag: str, host_only: bool) -> Outcome:
    ix = index(_rec(f))
    insts = _instances(ix)
    occ = []
    for inst in insts:
        if cap in (inst.get("attributes") or []):
            continue
        tasks = _role_tasks(ix, inst, host_only=host_only)
        kind = "host-mode tasks" if host_only else "tasks"
        if tasks:
            occ.append(Occurrence(
                Status.FAIL,
                f"{_where(ix, inst)} runs {_plural(len(tasks), 'host-mode task' if host_only else 'task')} with a task role "
                f"({_some(_task_labels(ix, tasks), 3)}) without the attribute {cap}: its agent runs with {flag} off",
                _inst_data(ix, inst, tasks_with_role=len(tasks), services=_task_labels(ix, tasks)[:50]),
            ))
            continue
        wanting = (ix.demand.get(str(inst.get("cluster"))) or {}).get("host_role" if host_only else "role") or []
        if wanting:
            occ.append(Occurrence(
                Status.WARN,
                f"{_where(ix, inst)} lacks {cap} ({flag} off): {kind} with a task role of its cluster ({_some(wanting, 3)}) "
                "cannot be placed on it",
                _inst_data(ix, inst, tasks_with_role=0, wanting=wanting[:50]),
            ))
    neutral = ("Instances running host-mode tasks with roles have " if host_only else "Instances running tasks with roles have ") + cap
    return _judge(
        f, neutral, NEEDS_INSTANCE_ROLES, occ, len(insts),
        title=_count_title(f"[runs|run]{' host-mode' if host_only else ''} tasks with a task role without {flag}",
                           f"cannot take{' host-mode' if host_only else ''} tasks with a task role ({flag} off)", "instance"),
        pass_title=f"Every instance has the {'host-mode ' if host_only else ''}task role capability its cluster's tasks need ({_plural(len(insts), 'instance')})",
        pass_detail=f"{cap} registered wherever {'host-mode ' if host_only else ''}tasks with a task role run or may be placed",
        empty="no ACTIVE or DRAINING container instance in the audited clusters",
        remedy=(
            f"On these instances set {flag}=true in /etc/ecs/ecs.config (no quotes: a quoted \"true\" reads as false), then "
            + remedies.AGENT_RESTART + "; the agent registers the attribute again when it starts. ECS places tasks with a task "
            "role only on instances with the attribute; a task that runs without it (placed before the agent restarted with the "
            "flag off) gets no task role credentials and its SDK may fall back to the instance role. `probe host` on the instance "
            "checks the file, its syntax and the agent."
        ),
    )


@check("audit.instance.task-iam-role", mode=MODE, title="Instances running tasks with roles have the task role capability",
       needs=("instances", "running", "taskdefs"))
def instance_task_iam_role(f: Facts) -> Outcome:
    """Guarantees: fails for an ACTIVE or DRAINING instance without the attribute
    com.amazonaws.ecs.capability.task-iam-role (registered only with ECS_ENABLE_TASK_IAM_ROLE
    on) that runs tasks with a task role (the task definition's or an override); warns when
    such an instance runs none but its cluster has EC2 services or tasks with a role."""
    return _capability(f, CAP_TASK_ROLE, "ECS_ENABLE_TASK_IAM_ROLE", host_only=False)


@check("audit.instance.task-iam-role-network-host", mode=MODE, title="Instances running host-mode tasks with roles have the capability",
       needs=("instances", "running", "taskdefs"))
def instance_task_iam_role_network_host(f: Facts) -> Outcome:
    """Guarantees: fails for an instance without com.amazonaws.ecs.capability.task-iam-role-network-host
    (registered only with ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST on) that runs host network mode
    tasks with a task role; warns when it runs none but its cluster has host-mode EC2 services
    or tasks with a role."""
    return _capability(f, CAP_TASK_ROLE_HOST, "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", host_only=True)


# ---- task definitions in use --------------------------------------------------------------------


def _taskdef_check(f: Facts, fn: Callable[[Facts], Outcome], neutral: str, what: str, *, keep: Callable[[Outcome], bool] = lambda o: True,
                   note: str = "", empty: str = "") -> Outcome:
    """Run one taskdef.* check over every task definition in use; each finding names the
    services and tasks that run that task definition."""
    ix = index(_rec(f))
    occ = []
    checked = 0
    remedy = ""
    for td_arn in sorted(ix.in_use):
        td = ix.td(td_arn)
        if td is None:
            continue
        out = fn(Facts(data={"taskdef": {"source": td_arn, "doc": td}}, mode="taskdef"))
        if out.status is Status.SKIP:
            continue
        checked += 1
        if out.status in (Status.FAIL, Status.WARN, Status.ERROR) and keep(out):
            use = ix.in_use[td_arn]
            remedy = remedy or out.remedy
            occ.append(Occurrence(
                Status.FAIL if out.status is Status.ERROR else out.status,
                f"{_td_label(td_arn)} (used by {ix.users(td_arn)}): {out.title}" + (f". {out.detail.rstrip('.')}" if out.detail else ""),
                {"task_definition": _td_label(td_arn), "arn": td_arn, "finding": out.title, "detail": out.detail,
                 "services": use.get("services", [])[:200], "running_tasks": use.get("tasks", 0),
                 "standalone_tasks": use.get("standalone", 0), "remedy": out.remedy},
            ))
    return _judge(
        f, neutral, NEEDS_TASKDEFS, occ, checked,
        title=_count_title(what, what, "task definition in use", "task definitions in use"),
        pass_title=f"{neutral} ({_plural(checked, 'task definition')} checked)",
        pass_detail="", remedy=remedy, note=note,
        empty=empty or "no task definition in use (no service and no running task, or none could be described)",
    )


@check("audit.taskdef.task-role", mode=MODE, title="Task definitions in use have a task role", needs=("services", "running", "taskdefs"))
def taskdef_task_role(f: Facts) -> Outcome:
    """Guarantees: taskdef.task-role over every task definition a service or a running task
    uses: fails for each without taskRoleArn (an executionRoleArn alone included), naming the
    services and tasks that run it."""
    from probe.checks import taskdef

    return _taskdef_check(f, taskdef.task_role, "Task definitions in use have a task role", "[has|have] no task role")


@check("audit.taskdef.network-mode", mode=MODE, title="Task definitions in use can reach the credentials endpoint",
       needs=("services", "running", "taskdefs"))
def taskdef_network_mode(f: Facts) -> Outcome:
    """Guarantees: taskdef.network-mode over every task definition in use, its failures only
    (networkMode none: no credentials endpoint). Its warning (bridge and host modes need the
    agent's flags) is judged here per instance, from what the instances registered:
    audit.instance.task-iam-role and audit.instance.task-iam-role-network-host."""
    from probe.checks import taskdef

    return _taskdef_check(
        f, taskdef.network_mode, "Task definitions in use can reach the credentials endpoint", "cannot reach the credentials endpoint",
        keep=lambda o: o.status is Status.FAIL,
        note="Bridge and host modes' agent flags are judged per instance (audit.instance.task-iam-role, audit.instance.task-iam-role-network-host).",
    )


@check("audit.taskdef.static-credentials", mode=MODE, title="Task definitions in use set no static AWS keys",
       needs=("services", "running", "taskdefs"))
def taskdef_static_credentials(f: Facts) -> Outcome:
    """Guarantees: taskdef.static-credentials over every task definition in use: fails for each
    that sets AWS access keys in environment or secrets (names only; values are never kept)."""
    from probe.checks import taskdef

    return _taskdef_check(f, taskdef.static_credentials, "Task definitions in use set no static AWS keys", "[sets|set] static AWS keys that beat the task role")


@check("audit.taskdef.proxy", mode=MODE, title="Task definitions in use spare the link-local endpoints from proxies",
       needs=("services", "running", "taskdefs"))
def taskdef_proxy(f: Facts) -> Outcome:
    """Guarantees: taskdef.proxy over every task definition in use: fails for each container
    that sets a proxy variable without both 169.254.169.254 and 169.254.170.2 in NO_PROXY."""
    from probe.checks import taskdef

    return _taskdef_check(f, taskdef.proxy, "Task definitions in use spare the link-local endpoints from proxies",
                          "[sends|send] the credentials endpoint through a proxy")


@check("audit.taskdef.multi-process", mode=MODE, title="Multi-process containers in use carry the credentials variable",
       needs=("services", "running", "taskdefs"))
def taskdef_multi_process(f: Facts) -> Outcome:
    """Guarantees: taskdef.multi-process over every task definition in use: warns for each
    container that starts supervisord, cron, sshd, s6 or runit without the shim."""
    from probe.checks import taskdef

    return _taskdef_check(f, taskdef.multi_process, "Multi-process containers in use carry the credentials variable",
                          "[starts|start] a process manager without the shim")


@check("audit.taskdef.probe-sidecar", mode=MODE, title="Probe sidecars in use are wired up", needs=("services", "running", "taskdefs"))
def taskdef_probe_sidecar(f: Facts) -> Outcome:
    """Guarantees: taskdef.probe-sidecar over every task definition in use that runs
    `probe watch`: fails for each without pidMode task, a health check, or a container that
    depends on it; skipped when none runs the sidecar."""
    from probe.checks import taskdef

    return _taskdef_check(f, taskdef.probe_sidecar, "Probe sidecars in use are wired up", "[has|have] a probe sidecar that is not wired up",
                          empty="no task definition in use runs `probe watch`")


# ---- task roles ---------------------------------------------------------------------------------


def _role_users(ix: Index, arn: str) -> str:
    use = ix.roles.get(arn) or {}
    bits = []
    if use.get("task_definitions"):
        bits.append("task definition" + ("s " if len(use["task_definitions"]) != 1 else " ") + _some(use["task_definitions"], 3))
    if use.get("services"):
        bits.append("service" + ("s " if len(use["services"]) != 1 else " ") + _some(use["services"], 3))
    return "; ".join(bits) or f"{_plural(int(use.get('tasks') or 0), 'running task')}"


def _role_data(ix: Index, arn: str, rec: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    use = ix.roles.get(arn) or {}
    return {"role": rec.get("name") or _name(arn), "role_arn": arn, "task_definitions": use.get("task_definitions", [])[:100],
            "services": use.get("services", [])[:100], "clusters": sorted(set((use.get("clusters") or {}).values()))[:100], **more}


def _roles(ix: Index) -> tuple[list[tuple[str, dict[str, Any]]], list[str], int]:
    """(roles read, with their record; roles in another account; roles not read)."""
    read, other, unread = [], [], 0
    roles = ix.rec.get("roles") or {}
    for arn in sorted(ix.roles):
        rec = roles.get(arn)
        if not isinstance(rec, dict):
            unread += 1
            continue
        if rec.get("other_account"):
            other.append(f"{_name(arn)} (account {rec['other_account']})")
            continue
        if rec.get("unread"):
            unread += 1
            continue
        read.append((arn, rec))
    return read, other, unread


def _other_note(other: Sequence[str]) -> str:
    if not other:
        return ""
    return (f"Not read: {_plural(len(other), 'role')} of another account ({_some(other, 3)}): GetRole reads the caller's own "
            "account; audit that account with its credentials.")


def _roles_not_fetched(ix: Index, read: int, other: int) -> bool:
    return bool(ix.roles) and read == 0 and other == 0


@check("audit.task-role.exists", mode=MODE, title="The task roles in use exist", needs=("services", "running", "taskdefs", "roles"))
def task_role_exists(f: Facts) -> Outcome:
    """Guarantees: fails for each task role named by a task definition in use (or a running
    task's override) that IAM GetRole says does not exist (NoSuchEntity); roles of another
    account are listed as not read."""
    ix = index(_rec(f))
    read, other, _unread = _roles(ix)
    occ = []
    for arn, rec in read:
        if rec.get("exists") is False:
            occ.append(Occurrence(Status.FAIL, f"role {rec.get('name') or _name(arn)} ({_role_users(ix, arn)}) does not exist",
                                  _role_data(ix, arn, rec)))
    return _judge(
        f, "The task roles in use exist", NEEDS_ROLES, occ, len(read),
        title=_count_title("named by task definitions in use [does|do] not exist", "", "task role"),
        pass_title=f"The {_plural(len(read), 'task role')} in use exist", pass_detail="", note=_other_note(other),
        empty="no task definition in use names a task role" if not ix.roles else "no task role in use could be read (see the note)",
        remedy=(
            "Create the role with a trust policy that allows ecs-tasks.amazonaws.com to sts:AssumeRole "
            "(`aws iam create-role --role-name NAME --assume-role-policy-document file://trust.json`) and the permissions the "
            "application needs, or register a task definition revision whose taskRoleArn names a role that exists and update "
            "the services to it."
        ),
    )


def _trust_facts(rec: Mapping[str, Any], cluster: Optional[str] = None) -> Facts:
    trust_rec = {k: rec.get(k) for k in ("source", "role", "role_arn", "policy", "account", "account_source", "error")}
    return Facts(data={"trust": trust_rec}, mode="trust", options={"cluster": cluster} if cluster else {})


@check("audit.trust.ecs-tasks-principal", mode=MODE, title="The task roles in use trust ECS tasks",
       needs=("services", "running", "taskdefs", "roles"))
def trust_ecs_tasks_principal(f: Facts) -> Outcome:
    """Guarantees: trust.ecs-tasks-principal over the trust policy of every task role in use
    (IAM GetRole): fails for each that does not allow ecs-tasks.amazonaws.com to sts:AssumeRole
    or denies it, warns for a wildcard principal or a conditional Deny; each role's whole fixed
    policy and command are in data.occurrences[].remedy."""
    from probe.checks import trust

    ix = index(_rec(f))
    read, other, _unread = _roles(ix)
    occ = []
    judged = 0
    for arn, rec in read:
        if rec.get("exists") is False or rec.get("policy") is None:
            continue
        judged += 1
        out = trust.ecs_tasks_principal(_trust_facts(rec))
        if out.status in (Status.FAIL, Status.WARN):
            occ.append(Occurrence(out.status, f"role {rec.get('name')} ({_role_users(ix, arn)}): {out.title}",
                                  _role_data(ix, arn, rec, finding=out.title, detail=out.detail, remedy=out.remedy,
                                             policy_document=out.data.get("policy_document"))))
    first = next((o.data.get("remedy") for o in occ if o.status is Status.FAIL), None) or (occ[0].data.get("remedy") if occ else "")
    return _judge(
        f, "The task roles in use trust ECS tasks", NEEDS_ROLES, occ, judged,
        title=_count_title("in use [does|do] not let ECS tasks assume [it|them]", "in use [trusts|trust] more than ECS tasks", "task role"),
        pass_title=f"The {_plural(judged, 'task role')} in use allow ecs-tasks.amazonaws.com", pass_detail="", note=_other_note(other),
        empty="no task definition in use names a task role that exists" if ix.roles else "no task definition in use names a task role",
        remedy=("Each role's whole fixed trust policy and the command to apply it are in data.occurrences[].remedy. "
                + (f"For the first: {first}" if first else "")),
    )


@check("audit.trust.conditions", mode=MODE, title="The task roles' trust conditions fit the clusters that use them",
       needs=("services", "running", "taskdefs", "roles"))
def trust_conditions(f: Facts) -> Outcome:
    """Guarantees: trust.conditions over every task role in use, once for each cluster whose
    services or running tasks use it: fails when the role's aws:SourceAccount / aws:SourceArn
    conditions refuse ECS tasks of that cluster's account and cluster; warns for conditions the
    probe does not model."""
    from probe.checks import trust

    ix = index(_rec(f))
    read, other, _unread = _roles(ix)
    occ = []
    judged = 0
    for arn, rec in read:
        if rec.get("exists") is False or rec.get("policy") is None:
            continue
        clusters = sorted(set((ix.roles.get(arn) or {}).get("clusters", {}).values())) or [None]
        worst: Optional[Outcome] = None
        refusing: list[str] = []
        for cluster in clusters:
            out = trust.conditions(_trust_facts(rec, cluster))
            judged += 1
            if out.status is Status.FAIL:
                refusing.append(str(cluster))
                if worst is None or worst.status is not Status.FAIL:
                    worst = out
            elif out.status is Status.WARN and worst is None:
                worst = out
        if worst is not None:
            where = f" for cluster{'s' if len(refusing) != 1 else ''} {_some(refusing, 4)}" if refusing and refusing != ["None"] else ""
            occ.append(Occurrence(worst.status, f"role {rec.get('name')} ({_role_users(ix, arn)}): {worst.title}{where}",
                                  _role_data(ix, arn, rec, finding=worst.title, detail=worst.detail, remedy=worst.remedy,
                                             refusing_clusters=refusing, policy_document=worst.data.get("policy_document"))))
    first = next((o.data.get("remedy") for o in occ if o.status is Status.FAIL), None) or (occ[0].data.get("remedy") if occ else "")
    return _judge(
        f, "The task roles' trust conditions fit the clusters that use them", NEEDS_ROLES, occ, judged,
        title=_count_title("in use [refuses|refuse] ECS tasks of the clusters that use [it|them]", "in use [has|have] trust conditions the probe cannot judge", "task role"),
        pass_title="The task roles' trust conditions fit the clusters that use them",
        pass_detail=f"{_plural(judged, 'role and cluster pair')} judged", note=_other_note(other),
        empty="no task definition in use names a task role that exists" if ix.roles else "no task definition in use names a task role",
        remedy=("Each role's whole fixed trust policy and the command to apply it are in data.occurrences[].remedy. "
                + (f"For the first: {first}" if first else "")),
    )


# ---- stopped tasks ------------------------------------------------------------------------------


def _service_of(action: Optional[str]) -> str:
    return (action or "").split(":", 1)[0].lower()


def _agent_made(text: str, action: Optional[str]) -> bool:
    return any(w in text for w in AGENT_REASONS) or _service_of(action) in {s for s, _ in AGENT_CALLS}


def _purpose(action: Optional[str]) -> str:
    svc = _service_of(action)
    return next((why for s, why in AGENT_CALLS if s == svc), "prepare the task")


_ANALYZED: dict[str, list[Any]] = {}


def _denials(text: str) -> list[Any]:
    """explain's parser over one stop reason (cached: a fleet repeats the same reasons)."""
    from probe import explain

    if text not in _ANALYZED:
        if len(_ANALYZED) > 4096:
            _ANALYZED.clear()
        _ANALYZED[text] = explain.analyze(text) if text else []
    return _ANALYZED[text]


def _attribute(ix: Index, task: Mapping[str, Any], text: str, principal: Optional[str], action: Optional[str]) -> tuple[str, Optional[str], bool]:
    """(who was denied: execution-role, task-role, instance-role, user, other-role or unknown;
    the role's name; whether that was inferred rather than read from the message)."""
    from probe import explain

    execution = ix.execution_role(task)
    task_role, _known = ix.task_role(task)
    if principal:
        kind, info = explain.principal_kind(principal)
        name = info.get("role_name")
        if name and execution and name == _name(execution):
            return "execution-role", name, False
        if name and task_role and name == _name(task_role):
            return "task-role", name, False
        if kind in ("instance-role", "user"):
            return kind, name or principal, False
        return ("other-role" if name else "unknown"), name or principal, False
    if _agent_made(text, action):
        if execution:
            return "execution-role", _name(execution), True
        if task.get("instance"):
            return "instance-role", None, True
        return "execution-role", None, True
    return "unknown", None, True


_WHO = {
    "execution-role": "the execution role", "task-role": "the task role", "instance-role": "the EC2 instance role",
    "user": "an IAM user", "other-role": "another role", "unknown": "an unnamed principal", "trust": "ECS assuming the task role",
}


def _stopped_remedy(who: str, role: Optional[str], action: Optional[str], resource: Optional[str], family: str) -> str:
    from probe import explain

    stmt = explain.policy_statement(action or "<service>:<Action>", resource)
    name = role or "<ROLE>"
    put = (f"aws iam put-role-policy --role-name {name} --policy-name allow-{(action or 'action').replace(':', '-').replace('*', 'all')} "
           "--policy-document file://policy.json")
    if who == "execution-role":
        extra = ""
        if _service_of(action) in ("ecr", "logs"):
            extra = f" For ECR pulls and awslogs the managed policy covers it: aws iam attach-role-policy --role-name {name} --policy-arn {EXECUTION_ROLE_POLICY}."
        elif _service_of(action) in ("secretsmanager", "ssm", "kms"):
            extra = " Secrets need secretsmanager:GetSecretValue or ssm:GetParameters on each secret, and kms:Decrypt on its key when a customer managed key encrypts it."
        return (f"Give the execution role {name} {action or 'the permission'}{' on ' + resource if resource else ''}: the ECS agent, not "
                f"your application, makes this call to {_purpose(action)}, with the execution role; adding it to the task role does not help. "
                f"A statement to review: {stmt} ({put}).{extra}")
    if who == "task-role":
        return (f"The task role {name} lacks {action or 'a permission'}{' on ' + resource if resource else ''}. A statement to review, not to "
                f"apply blindly: {stmt} ({put}).")
    if who == "instance-role":
        return (f"The agent used the EC2 instance role{' ' + role if role else ''}: task definition {family} has no executionRoleArn. "
                f"Give it an execution role with {EXECUTION_ROLE_POLICY} (and the secrets permissions it needs) rather than widening the "
                "instance role.")
    if who == "trust":
        return ("ECS could not assume the task's role: its trust policy must allow ecs-tasks.amazonaws.com to sts:AssumeRole (see "
                "audit.trust.ecs-tasks-principal and audit.trust.conditions), and whoever starts the task or updates the service needs "
                "iam:PassRole on it.")
    return ("Find who was denied: the message names no role ECS gave the task. `probe explain` on the task's logs, and CloudTrail "
            "(errorCode AccessDenied), name the principal.")


@check("audit.stopped.access-denied", mode=MODE, title="No recently stopped task was stopped by an access denial",
       needs=("stopped", "taskdefs"))
def stopped_access_denied(f: Facts) -> Outcome:
    """Guarantees: fails when a task stopped within --since carries an access-denied message in
    its stoppedReason or a container's reason (read by probe explain's parser), or says ECS could
    not assume its role; denials are grouped by cluster, task definition family, the role
    denied (the execution role when its name matches, or when the agent made the call: image
    pulls, logs, secrets; the task role when its name matches), action and resource."""
    ix = index(_rec(f))
    # (region, cluster, family, who, role, action, resource) -> what those stops share
    groups: dict[tuple[Any, str, str, str, Optional[str], Optional[str], Optional[str]], dict[str, Any]] = {}
    checked = 0
    for task in ix.stopped:
        checked += 1
        texts = [("task", str(task.get("stopped_reason") or ""))] + [
            (f"container {c.get('name')}", str(c.get("reason") or "")) for c in task.get("containers") or [] if isinstance(c, dict)
        ]
        family = _td_label(task.get("task_definition")).split(":", 1)[0]
        for source, text in texts:
            if not text:
                continue
            found: list[tuple[str, Optional[str], bool, Optional[str], Optional[str], str]] = []
            for d in _denials(text):
                who, role, inferred = _attribute(ix, task, text, d.principal, d.action)
                found.append((who, role, inferred, d.action, d.resource, d.message or text))
            if not found and UNABLE_TO_ASSUME in text:
                role, _ = ix.task_role(task)
                found.append(("trust", _name(role) if role else None, False, "sts:AssumeRole", role, text))
            for who, role, inferred, action, resource, message in found:
                key = (task.get("region"), ix.cluster(task.get("cluster")), family, who, role, action, resource)
                g = groups.setdefault(key, {"count": 0, "tasks": [], "services": [], "sources": [], "message": message[:500],
                                            "inferred": inferred, "last_stopped_at": None})
                g["count"] += 1
                if len(g["tasks"]) < 5:
                    g["tasks"].append(_name(task.get("arn")))
                if task.get("service") and task["service"] not in g["services"]:
                    g["services"].append(task["service"])
                if source not in g["sources"]:
                    g["sources"].append(source)
                at = task.get("stopped_at")
                if isinstance(at, (int, float)) and (g["last_stopped_at"] is None or at > g["last_stopped_at"]):
                    g["last_stopped_at"] = at
    occ = []
    for (region, cluster, family, who, role, action, resource), g in sorted(groups.items(), key=lambda kv: -kv[1]["count"]):
        whom = _WHO.get(who, who) + (f" {role}" if role else "") + (" (inferred: the agent makes this call)" if g["inferred"] and who != "unknown" else "")
        what = f"{action or 'a call'}" + (f" on {resource}" if resource else "")
        services = f", service{'s' if len(g['services']) != 1 else ''} {_some(g['services'], 3)}" if g["services"] else ""
        line = (f"{g['count']}x {what} denied to {whom} (cluster {cluster}, task definition {family}{services}; "
                f"e.g. task {g['tasks'][0]}, in its {g['sources'][0]} reason)")
        if who == "trust":
            line = f"{g['count']}x ECS could not assume the task role {role or ''} (cluster {cluster}, task definition {family}{services}; e.g. task {g['tasks'][0]})"
        occ.append(Occurrence(Status.FAIL, line, {
            "region": region, "cluster": cluster, "family": family, "denied": who, "role": role, "inferred": g["inferred"],
            "action": action, "resource": resource, "count": g["count"], "tasks": g["tasks"], "services": g["services"][:50],
            "reasons_from": g["sources"], "message": g["message"], "last_stopped_at": g["last_stopped_at"],
            "remedy": _stopped_remedy(who, role, action, resource, family),
        }))
    rec = _rec(f)
    older = int(rec.get("stopped_older") or 0)
    since = rec.get("since_s")
    window = f"stopped within the last {_duration(since)}" if isinstance(since, (int, float)) else "recently stopped"
    note = f"{_plural(older, 'older stopped task')} left out (--since)." if older else ""
    by_who: dict[str, int] = {}
    for o in occ:
        by_who[o.data["denied"]] = by_who.get(o.data["denied"], 0) + int(o.data["count"])
    split = ", ".join(f"{n} to {_WHO.get(w, w)}" for w, n in by_who.items())

    def title(fails: int, _warns: int) -> str:
        total = sum(by_who.values())
        return f"{_plural(total, 'task')} {window} hit access denials ({split}), in {_plural(fails, 'group')}"

    first = next((o.data["remedy"] for o in occ), "")
    return _judge(
        f, "No recently stopped task was stopped by an access denial", NEEDS_STOPPED, occ, checked,
        title=title, pass_title=f"None of {_plural(checked, 'task')} {window} was stopped by an access denial", pass_detail="",
        empty=f"no task {window} in the audited clusters", note=note,
        remedy=("Each group's fix is in data.occurrences[].remedy; the execution role's denials are fixed on the execution role, "
                "not the task role. " + (f"For the first: {first}" if first else "")),
    )


def _duration(seconds: Any) -> str:
    s = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def clear_cache() -> None:
    """Forget the last record's index (tests that change a record in place)."""
    _CACHE.update(rec=None, index=None)
    _ANALYZED.clear()


