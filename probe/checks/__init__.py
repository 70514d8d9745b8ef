"""The check registry: pure functions Facts -> Outcome, registered under stable ids.

A check never does I/O. Adding one is one decorated function (and a table of test cases).
The registry times each check, turns an exception into an ``error`` result, and applies
``--only`` / ``--skip`` as ordinary ``skip`` results, so every id appears once, in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from probe.facts import Facts
from probe.model import Result, Status


@dataclass(frozen=True)
class Outcome:
    status: Status
    title: str
    detail: str = ""
    remedy: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def passed(title: str, detail: str = "", **data: Any) -> Outcome:
    return Outcome(Status.PASS, title, detail, "", data)


def warned(title: str, detail: str = "", remedy: str = "", **data: Any) -> Outcome:
    return Outcome(Status.WARN, title, detail, remedy, data)


def failed(title: str, detail: str = "", remedy: str = "", **data: Any) -> Outcome:
    return Outcome(Status.FAIL, title, detail, remedy, data)


def skipped(title: str, why: str, **data: Any) -> Outcome:
    """A check that did not run. Its title says so ("Not checked: <why>"): a skip line must
    never read like the passing sentence; ``title`` (the neutral name) stays in ``data``."""
    return Outcome(Status.SKIP, not_checked(why), why, "", {"check": title, **data})


def not_checked(why: str) -> str:
    head = why.split("; ")[0].split(". ")[0].strip().rstrip(".")
    if len(head) > 90:
        head = head[:87].rstrip() + "..."
    return f"Not checked: {head}" if head else "Not checked"


CheckFn = Callable[[Facts], Outcome]


@dataclass(frozen=True)
class Check:
    id: str
    mode: str
    title: str
    needs: tuple[str, ...]
    fn: CheckFn


REGISTRY: dict[str, Check] = {}


def check(id: str, *, mode: str, title: str, needs: Sequence[str] = ()) -> Callable[[CheckFn], CheckFn]:
    """Register a check. ``title`` is its neutral name, used when it errors or is not selected."""

    def register(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        REGISTRY[id] = Check(id, mode, title, tuple(needs), fn)
        return fn

    return register


# The contract's order of the task-mode ids: reports list checks in this order, whatever
# order their modules happened to be imported in.
ORDER = {
    "task": (
        "env.credentials-variable",
        "env.credentials-uri-safe",
        "env.shadowing-credentials",
        "env.region",
        "proxy.credentials-endpoint",
        "proxy.metadata-endpoints",
        "endpoint.credentials",
        "endpoint.credentials-expiry",
        "endpoint.clock-skew",
        "endpoint.task-metadata",
        "imds.instance-role",
        "identity.caller",
        "identity.task-role",
        "processes.credentials-variable",
        "processes.proxy",
        "sdk.versions",
        "sdk.identity",
        "shim.profile",
    ),
    "host": (
        "host.agent-running",
        "host.config.task-iam-role",
        "host.config.task-iam-role-network-host",
        "host.config.syntax",
        "host.config.proxy",
        "host.config.applied",
        "host.iptables.credentials-redirect",
        "host.sysctl.route-localnet",
        "host.iptables.persisted",
        "host.imds-block",
    ),
    "taskdef": (
        "taskdef.schema",
        "taskdef.task-role",
        "taskdef.network-mode",
        "taskdef.static-credentials",
        "taskdef.proxy",
        "taskdef.multi-process",
        "taskdef.probe-sidecar",
    ),
    "trust": ("trust.ecs-tasks-principal", "trust.conditions"),
    # `probe audit` (probe/checks/audit.py): instances, task definitions in use, task roles, stopped tasks.
    "audit": (
        "audit.instance.agent-connected",
        "audit.instance.agent-version",
        "audit.instance.task-iam-role",
        "audit.instance.task-iam-role-network-host",
        "audit.taskdef.task-role",
        "audit.taskdef.network-mode",
        "audit.taskdef.static-credentials",
        "audit.taskdef.proxy",
        "audit.taskdef.multi-process",
        "audit.taskdef.probe-sidecar",
        "audit.task-role.exists",
        "audit.trust.ecs-tasks-principal",
        "audit.trust.conditions",
        "audit.stopped.access-denied",
    ),
}


def load(mode: str) -> list[Check]:
    """The checks of one mode, in their stable order. `probe sdk` is task mode's SDK check."""
    if mode == "sdk":
        return [c for c in load("task") if c.id == "sdk.versions"]
    if mode == "host":
        from probe.checks import host  # noqa: F401
    if mode == "taskdef":
        from probe.checks import taskdef  # noqa: F401
    if mode == "trust":
        from probe.checks import trust  # noqa: F401
    if mode == "audit":
        from probe.checks import audit  # noqa: F401
    if mode == "task":
        from probe.checks import endpoint, env, identity, imds, processes, proxy, sdk, shim  # noqa: F401  (registers)
    order = ORDER.get(mode, ())
    rank = {cid: i for i, cid in enumerate(order)}
    found = [c for c in REGISTRY.values() if c.mode == mode]
    return sorted(found, key=lambda c: (rank.get(c.id, len(order)), c.id))


def select(checks: Iterable[Check], only: Optional[set[str]], skip: Optional[set[str]]) -> list[tuple[Check, bool]]:
    return [(c, (not only or c.id in only) and not (skip and c.id in skip)) for c in checks]


def run(selection: Sequence[tuple[Check, bool]], facts: Facts, only: Optional[set[str]]) -> list[Result]:
    results: list[Result] = []
    for chk, wanted in selection:
        if not wanted:
            why = "not selected (--only)" if only and chk.id not in only else "not selected (--skip)"
            results.append(Result(chk.id, Status.SKIP, not_checked(why), why, data={"check": chk.title}))
            continue
        started = time.perf_counter()
        try:
            out = chk.fn(facts)
            result = Result(chk.id, out.status, out.title, out.detail, out.remedy, dict(out.data))
        except Exception as exc:  # a broken check is reported, never fatal
            result = Result(chk.id, Status.ERROR, chk.title, f"the check raised {type(exc).__name__}: {exc}")
        ms = int((time.perf_counter() - started) * 1000)
        results.append(Result(result.id, result.status, result.title, result.detail, result.remedy, result.data, ms))
    return results


def needs_of(selection: Sequence[tuple[Check, bool]]) -> set[str]:
    out: set[str] = set()
    for chk, wanted in selection:
        if wanted:
            out.update(chk.needs)
    return out
