"""The check registry: pure functions Facts -> Outcome, registered under stable ids.

A check never does I/O. Adding one is one decorated function (and a table of test cases).
The registry times each check, turns an exception into an ``error`` result, and applies
``--only`` / ``--skip`` as ordinary ``skip`` results, so every id appears once, in order.
"""

from __future__ import annotations

import time
from typing import Iterable, Optional, Sequence

from probe.checks.base import REGISTRY, Check, CheckFn, Outcome, check, failed, not_checked, passed, skipped, warned
from probe.facts import Facts
from probe.ids import ORDER
from probe.model import Result, Status

__all__ = ["ORDER", "REGISTRY", "Check", "CheckFn", "Outcome", "check", "failed", "load", "needs_of", "not_checked", "passed", "run", "select", "skipped", "warned"]




def load(mode: str) -> list[Check]:
    """The checks of one mode, in their stable order. `probe sdk` is task mode's SDK check."""
    if mode == "sdk":
        # Only the SDK check's module: `probe sdk` starts without the endpoint checks' imports.
        from probe.checks import sdk  # noqa: F401
        return [c for c in REGISTRY.values() if c.id == "sdk.versions"]
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
