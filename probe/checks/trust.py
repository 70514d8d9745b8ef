"""Trust mode (`probe trust`): may ECS tasks assume this role?"""

from __future__ import annotations

import fnmatch
from typing import Any, Iterator, Optional

from probe.checks import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

SERVICE = "ecs-tasks.amazonaws.com"


class PolicyShapeError(ValueError):
    pass


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if isinstance(value, list):
        return value
    raise PolicyShapeError(f"{what} is a {type(value).__name__}")


def statements(policy: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if not isinstance(policy, dict):
        raise PolicyShapeError("the policy is not an object")
    for i, st in enumerate(_list(policy.get("Statement"), "Statement")):
        if not isinstance(st, dict):
            raise PolicyShapeError(f"Statement[{i}] is a {type(st).__name__}")
        yield i, st


def _actions_match(st: dict[str, Any]) -> bool:
    if "NotAction" in st:
        return not any(fnmatch.fnmatch("sts:assumerole", str(a).lower()) for a in _list(st["NotAction"], "NotAction"))
    return any(isinstance(a, str) and fnmatch.fnmatch("sts:assumerole", a.lower()) for a in _list(st.get("Action"), "Action"))


def _principals(value: Any) -> tuple[bool, list[str]]:
    """(everyone, service principals) of a Principal / NotPrincipal value."""
    if value == "*":
        return True, []
    if not isinstance(value, dict):
        raise PolicyShapeError(f"Principal is a {type(value).__name__}")
    everyone = any(v == "*" or (isinstance(v, list) and "*" in v) for v in value.values())
    services = [str(s) for s in _list(value.get("Service"), "Principal.Service")]
    return everyone, services


def _principal_match(st: dict[str, Any]) -> tuple[bool, bool]:
    """(matches ecs-tasks, only through a wildcard)."""
    if "NotPrincipal" in st:
        _everyone, services = _principals(st["NotPrincipal"])
        return SERVICE not in services, True
    everyone, services = _principals(st.get("Principal"))
    if SERVICE in services:
        return True, False
    return everyone, everyone


def matching(policy: Any, effect: str) -> list[tuple[int, dict[str, Any], bool]]:
    out = []
    for i, st in statements(policy):
        if st.get("Effect") != effect or not _actions_match(st):
            continue
        match, wildcard = _principal_match(st)
        if match:
            out.append((i, st, wildcard))
    return out


def _policy(f: Facts) -> tuple[Optional[Any], Optional[Outcome]]:
    rec = f.get("trust")
    if rec.get("denied_permission"):
        return None, skipped("The trust policy allows ECS tasks", f"IAM refused GetRole; the probe needs the permission {rec['denied_permission']}")
    if rec.get("error"):
        return None, failed("The trust policy could not be read", f"{rec.get('source')}: {rec['error']}", "Check the role name and the credentials used to read it.")
    return rec.get("policy"), None


@check("trust.ecs-tasks-principal", mode="trust", title="The trust policy allows ECS tasks", needs=("trust",))
def ecs_tasks_principal(f: Facts) -> Outcome:
    """Guarantees: passes only if a statement Allows sts:AssumeRole to the service principal
    ecs-tasks.amazonaws.com (string or list, Principal or NotPrincipal) and no Deny takes it back."""
    policy, early = _policy(f)
    if early:
        return early
    try:
        allows = matching(policy, "Allow")
        denies = matching(policy, "Deny")
    except PolicyShapeError as exc:
        return failed("The trust policy has unexpected types", f"{exc}; IAM would reject it.", "Fix the policy's JSON (see the IAM policy grammar).")
    fix = (
        'Add to the role\'s trust policy: {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, '
        '"Action": "sts:AssumeRole"} (`aws iam update-assume-role-policy --role-name ROLE --policy-document file://trust.json`).'
    )
    unconditional_deny = [i for i, st, _w in denies if not st.get("Condition")]
    if unconditional_deny:
        return failed("A Deny keeps ECS tasks from assuming the role", f"Statement[{unconditional_deny[0]}] denies sts:AssumeRole to {SERVICE}.", "Remove or narrow that Deny. " + fix)
    if not allows:
        return failed(f"The trust policy does not allow {SERVICE}", "No statement allows sts:AssumeRole to the ECS tasks service; ECS cannot give this role to a task.", fix)
    if denies:
        i = denies[0][0]
        return warned("A conditional Deny may keep ECS tasks out", f"Statement[{i}] denies sts:AssumeRole to {SERVICE} under conditions.", "Check that its conditions never hold for your tasks.")
    if all(w for _i, _st, w in allows):
        return warned(
            "The role trusts everyone, not just ECS tasks",
            f"Statement[{allows[0][0]}] allows sts:AssumeRole through a wildcard principal (or NotPrincipal).",
            "Name the service principal ecs-tasks.amazonaws.com instead of a wildcard. " + fix,
        )
    return passed(f"The trust policy allows {SERVICE}", f"Statement[{allows[0][0]}]")


def _condition_values(st: dict[str, Any], key: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    cond = st.get("Condition") or {}
    if not isinstance(cond, dict):
        raise PolicyShapeError("Condition is not an object")
    for operator, block in cond.items():
        if not isinstance(block, dict):
            raise PolicyShapeError(f"Condition.{operator} is not an object")
        for k, v in block.items():
            if k.lower() == key.lower():
                out.extend((operator, str(x)) for x in _list(v, f"Condition.{operator}.{k}"))
    return out


@check("trust.conditions", mode="trust", title="The trust policy's conditions fit this account", needs=("trust",))
def conditions(f: Facts) -> Outcome:
    """Guarantees: fails when an allowing statement's aws:SourceAccount or aws:SourceArn can
    never match this account (or --cluster), so ECS's AssumeRole is refused."""
    policy, early = _policy(f)
    if early:
        return early
    rec = f.get("trust")
    account = rec.get("account")
    cluster = f.options.get("cluster")
    try:
        allows = matching(policy, "Allow")
        problems = []
        seen = False
        for i, st, _w in allows:
            for _op, value in _condition_values(st, "aws:SourceAccount"):
                seen = True
                if account and not fnmatch.fnmatch(account, value):
                    problems.append(f"Statement[{i}] aws:SourceAccount {value} is not this account {account}")
            for _op, value in _condition_values(st, "aws:SourceArn"):
                seen = True
                parts = value.split(":")
                if len(parts) < 6 or parts[0] != "arn" or not fnmatch.fnmatch("ecs", parts[2]):
                    problems.append(f"Statement[{i}] aws:SourceArn {value} is not an ECS ARN")
                    continue
                if account and not fnmatch.fnmatch(account, parts[4]):
                    problems.append(f"Statement[{i}] aws:SourceArn {value} names another account than {account}")
                if cluster and not (fnmatch.fnmatch(f"cluster/{cluster}", parts[5]) or fnmatch.fnmatch(f"task/{cluster}/0123456789abcdef", ":".join(parts[5:]))):
                    problems.append(f"Statement[{i}] aws:SourceArn {value} does not cover cluster {cluster}")
    except PolicyShapeError as exc:
        return failed("The trust policy has unexpected types", f"{exc}; IAM would reject it.", "Fix the policy's JSON.")
    if not allows:
        return skipped("The trust policy's conditions fit this account", "no statement allows ECS tasks (see trust.ecs-tasks-principal)")
    if problems:
        return failed(
            "The trust policy's conditions refuse ECS tasks of this account",
            "; ".join(problems) + ".",
            f'Use "Condition": {{"StringEquals": {{"aws:SourceAccount": "{account or "<account id>"}"}}, '
            f'"ArnLike": {{"aws:SourceArn": "arn:aws:ecs:<region>:{account or "<account id>"}:*"}}}}.',
        )
    if not seen:
        return passed("No source conditions", "aws:SourceAccount / aws:SourceArn conditions would guard against the confused deputy")
    if not account:
        return passed("Source conditions present", "no account to compare with (pass --account, or --role with an ARN)")
    return passed("The trust policy's conditions fit this account", f"account {account}" + (f", cluster {cluster}" if cluster else ""))
