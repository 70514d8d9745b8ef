"""What a check is made of: its outcome, its registration under a stable id, the registry.

The check modules import this, never the probe.checks package, which loads them: the registry
has no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from probe.facts import Facts
from probe.model import Status


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
