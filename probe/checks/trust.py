"""Trust mode (`probe trust`): may ECS tasks assume this role?"""

from __future__ import annotations

import fnmatch
import json
from typing import Any, Iterator, NamedTuple, Optional

from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

SERVICE = "ecs-tasks.amazonaws.com"
ECS_ALLOW: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn")


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


def _policy(f: Facts) -> tuple[Any, Optional[Outcome]]:
    # The policy as read, unchecked JSON (None when absent): statements() raises
    # PolicyShapeError for anything but an object, before any statement is judged.
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
    rec = f.get("trust")
    existing = [st for _i, st in statements(policy)]
    unconditional_deny = [i for i, st, _w in denies if not st.get("Condition")]
    if unconditional_deny:
        kept = [st for i, st in enumerate(existing) if i not in unconditional_deny]
        doc = _document(policy, kept + ([] if allows else [ECS_ALLOW]))
        which = ", ".join(f"Statement[{i}]" for i in unconditional_deny)
        return failed(
            "A Deny keeps ECS tasks from assuming the role",
            f"Statement[{unconditional_deny[0]}] denies sts:AssumeRole to {SERVICE}.",
            f"Remove or narrow that Deny. The whole policy without {which}" + ("" if allows else f", with an Allow for {SERVICE} added")
            + ": " + _update(rec, doc),
            policy_document=doc,
        )
    if not allows:
        doc = _document(policy, existing + [ECS_ALLOW])
        return failed(
            f"The trust policy does not allow {SERVICE}",
            "No statement allows sts:AssumeRole to the ECS tasks service; ECS cannot give this role to a task.",
            f"Add an Allow of sts:AssumeRole for {SERVICE} to the statements there are. The whole policy: " + _update(rec, doc),
            policy_document=doc,
        )
    if denies:
        i = denies[0][0]
        return warned("A conditional Deny may keep ECS tasks out", f"Statement[{i}] denies sts:AssumeRole to {SERVICE} under conditions.", "Check that its conditions never hold for your tasks.")
    if all(w for _i, _st, w in allows):
        wild = {i for i, _st, _w in allows}
        doc = _document(policy, [_named_service(st) if i in wild else st for i, st in enumerate(existing)])
        return warned(
            "The role trusts everyone, not just ECS tasks",
            f"Statement[{allows[0][0]}] allows sts:AssumeRole through a wildcard principal (or NotPrincipal).",
            f"Name the service principal {SERVICE} instead of the wildcard (conditions and Sid kept). The whole policy: " + _update(rec, doc),
            policy_document=doc,
        )
    return passed(f"The trust policy allows {SERVICE}", f"Statement[{allows[0][0]}]")


def _document(policy: dict[str, Any], stmts: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole trust policy: the one there is (Version, Id) with these statements."""
    doc: dict[str, Any] = {"Version": policy.get("Version") or "2012-10-17"}
    if policy.get("Id") is not None:
        doc["Id"] = policy["Id"]
    doc["Statement"] = stmts
    return doc


def _named_service(st: dict[str, Any]) -> dict[str, Any]:
    """A wildcard Allow made into the ECS tasks Allow, its Sid and Condition kept."""
    out = {k: st[k] for k in ("Sid",) if k in st}
    out.update(ECS_ALLOW)
    if st.get("Condition"):
        out["Condition"] = st["Condition"]
    return out


def _role_name(rec: dict[str, Any]) -> str:
    arn = rec.get("role_arn") or rec.get("role") or ""
    name = str(arn).rsplit("/", 1)[-1] if str(arn).startswith("arn:") else str(arn)
    return name or "ROLE"


def _update(rec: dict[str, Any], doc: dict[str, Any]) -> str:
    """update-assume-role-policy replaces the whole trust policy: give it the whole document."""
    return (
        f"save it as trust.json and run `aws iam update-assume-role-policy --role-name {_role_name(rec)} "
        "--policy-document file://trust.json` (it replaces the whole trust policy; the document is exact in the "
        f"JSON report's data.policy_document): {json.dumps(doc)}"
    )


def _value_can_match(operator: str, pattern: str, candidate: Optional[str], arn: bool) -> bool:
    """Can `pattern` (under `operator`) match what ECS sends for this key?"""
    if candidate is None:  # unknown (no --account): assume it can
        return True
    like = operator.endswith("Like")
    ignore_case = "IgnoreCase" in operator
    if arn:
        parts, cparts = pattern.split(":", 5), candidate.split(":", 5)
        if len(parts) != 6:
            return False
        for i, (p, c) in enumerate(zip(parts, cparts)):
            if i == 3:
                continue  # the region is unknown to the probe: do not judge it
            if not (fnmatch.fnmatchcase(c, p) if like else (c == p or (i == 5 and c.startswith("task/") and p.startswith("task/") and not like and p.split("/")[1:2] == c.split("/")[1:2]))):
                return False
        return True
    if ignore_case:
        pattern, candidate = pattern.lower(), candidate.lower()
    return fnmatch.fnmatchcase(candidate, pattern) if like else candidate == pattern


class Judged(NamedTuple):
    holds: bool  # no judged condition refuses an ECS task of the account/cluster
    reasons: list[str]  # why not
    seen: bool  # it has aws:SourceAccount / aws:SourceArn conditions
    unjudged: list[str]  # conditions the probe does not model ("Bool aws:SecureTransport")
    needs_account: bool  # a source condition could not be compared: the account is unknown


def statement_holds(st: dict[str, Any], account: Optional[str], cluster: Optional[str]) -> Judged:
    """Can this Allow hold for an ECS task of the account/cluster, and what could not be judged."""
    cond = st.get("Condition") or {}
    if not isinstance(cond, dict):
        raise PolicyShapeError("Condition is not an object")
    task_arn = f"arn:aws:ecs:*:{account}:task/{cluster or 'any-cluster'}/0123456789abcdef0123456789abcdef" if account else None
    candidates = {"aws:sourceaccount": (account, False), "aws:sourcearn": (task_arn, True)}
    reasons: list[str] = []
    unjudged: list[str] = []
    seen = needs_account = False
    for operator, block in cond.items():
        if not isinstance(block, dict):
            raise PolicyShapeError(f"Condition.{operator} is not an object")
        op = str(operator).split(":", 1)[-1]  # ForAnyValue:/ForAllValues: prefixes
        if_exists = op.endswith("IfExists")
        op = op[: -len("IfExists")] if if_exists else op
        for key, raw in block.items():
            k = str(key).lower()
            if k not in candidates:
                unjudged.append(f"{operator} {key}")
                continue
            seen = True
            candidate, is_arn = candidates[k]
            values = [str(v) for v in _list(raw, f"Condition.{operator}.{key}")]
            if op == "Null":
                # ECS always sends these keys: Null=true can never hold.
                if any(v.lower() == "true" for v in values):
                    reasons.append(f"{operator} {key}=true, but ECS always sends {key}")
                continue
            negated = "Not" in op
            base = op.replace("Not", "")
            if base not in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike"):
                unjudged.append(f"{operator} {key}")
                continue
            if candidate is None:
                needs_account = True
            hits = [v for v in values if _value_can_match(base, v, candidate, is_arn)]
            if negated and candidate is not None and len(hits) == len(values) and values:
                reasons.append(f"{operator} {key} excludes {candidate}")
            elif not negated and not hits:
                what = f"cluster {cluster}" if is_arn and cluster else f"account {account}"
                reasons.append(f"{operator} {key} {', '.join(values)} never matches {what}")
    return Judged(not reasons, reasons, seen, unjudged, needs_account)


def _with_source_conditions(st: dict[str, Any], account: Optional[str], partition: str) -> dict[str, Any]:
    """The statement with its aws:SourceAccount / aws:SourceArn conditions replaced by ones
    that hold for every ECS task of the account; its other conditions kept."""
    cond: dict[str, Any] = {}
    for operator, block in (st.get("Condition") or {}).items():
        rest = {k: v for k, v in block.items() if str(k).lower() not in SOURCE_KEYS}
        if rest:
            cond[operator] = rest
    acct = account or "<account id>"
    cond.setdefault("StringEquals", {})["aws:SourceAccount"] = acct
    cond.setdefault("ArnLike", {})["aws:SourceArn"] = f"arn:{partition}:ecs:*:{acct}:*"
    return {**st, "Condition": cond}


@check("trust.conditions", mode="trust", title="The trust policy's conditions fit this account", needs=("trust",))
def conditions(f: Facts) -> Outcome:
    """Guarantees: fails when no allowing statement's aws:SourceAccount / aws:SourceArn
    conditions can hold for an ECS task of this account (or --cluster): values OR, keys
    AND, statements OR, as IAM evaluates them. Passes only when a statement was judged
    whole: skipped when its source conditions could not be compared (no account known),
    warns when its other conditions are ones the probe does not model."""
    policy, early = _policy(f)
    if early:
        return early
    rec = f.get("trust")
    account = rec.get("account")
    cluster = f.options.get("cluster")
    whose = _whose_account(rec)
    try:
        allows = matching(policy, "Allow")
        results = [(i, statement_holds(st, account, cluster)) for i, st, _w in allows]
    except PolicyShapeError as exc:
        return failed("The trust policy has unexpected types", f"{exc}; IAM would reject it.", "Fix the policy's JSON.")
    if not allows:
        return skipped("The trust policy's conditions fit this account", "no statement allows ECS tasks (see trust.ecs-tasks-principal)")
    holding = [(i, j) for i, j in results if j.holds]
    if not holding:
        reasons = [f"Statement[{i}]: {'; '.join(j.reasons)}" for i, j in results]
        failing = {i for i, _j in results}
        arn = str(rec.get("role_arn") or rec.get("role") or "")
        partition = arn.split(":")[1] if arn.startswith("arn:") and arn.count(":") >= 5 else "aws"
        doc = _document(policy, [_with_source_conditions(st, account, partition) if i in failing else st for i, st in statements(policy)])
        return failed(
            f"The trust policy's conditions refuse ECS tasks of account {account}" if account else "The trust policy's conditions refuse ECS tasks",
            "; ".join(reasons) + "." + (f" Account {account}: {whose}." if account else f" {_UNKNOWN_ACCOUNT}"),
            f"Give {', '.join(f'Statement[{i}]' for i in sorted(failing))} source conditions every ECS task of the account meets "
            f'("Condition": {{"StringEquals": {{"aws:SourceAccount": "{account or "<account id>"}"}}, '
            f'"ArnLike": {{"aws:SourceArn": "arn:{partition}:ecs:*:{account or "<account id>"}:*"}}}}; its other conditions kept). '
            "The whole policy: " + _update(rec, doc),
            policy_document=doc,
        )
    certain = [(i, j) for i, j in holding if not j.unjudged and not j.needs_account]
    if certain:
        i, j = certain[0]
        if not j.seen:
            return passed("No source conditions", f"Statement[{i}] has none; aws:SourceAccount / aws:SourceArn conditions would guard against the confused deputy")
        return passed(
            "The trust policy's conditions fit this account",
            f"Statement[{i}] holds for " + (f"account {account} ({whose})" if account else "an ECS task of any account")
            + (f", cluster {cluster}" if cluster else ""),
        )
    if any(not j.unjudged for _i, j in holding):
        # Only the account is missing: nothing was compared, so nothing passed.
        return skipped("The trust policy's conditions fit this account", _UNKNOWN_ACCOUNT)
    unjudged = "; ".join(f"Statement[{i}]: {', '.join(j.unjudged)}" for i, j in holding)
    return warned(
        "The trust policy has conditions the probe cannot judge",
        f"{unjudged}. The probe judges aws:SourceAccount and aws:SourceArn only; these may refuse ECS tasks."
        + ("" if account or not any(j.needs_account for _i, j in holding) else f" {_UNKNOWN_ACCOUNT}"),
        f"Check that these conditions hold when {SERVICE} assumes the role for a task of this account.",
        unjudged=[c for _i, j in holding for c in j.unjudged],
    )


_UNKNOWN_ACCOUNT = (
    "The account could not be checked: the policy names no role ARN (pass --account ACCOUNT_ID, "
    "give `aws iam get-role` output, or use --role), so aws:SourceAccount / aws:SourceArn "
    "conditions were not compared with an account."
)


def _whose_account(rec: dict[str, Any]) -> str:
    """Where the account came from, for the detail: --account or the role's own ARN."""
    if rec.get("account_source") == "--account":
        return "from --account"
    if rec.get("account_source") != "role ARN":
        return "as recorded in the facts"
    arn = rec.get("role_arn") or rec.get("role")
    said = f"the role's own account, from {arn}" if arn else "the role's own account"
    if rec.get("requested_account"):
        said += f"; GetRole takes only the name and read this role, not one in account {rec['requested_account']}"
    return said
