"""The report's data model: statuses, check results, the report and its verdict rule."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

SCHEMA = "ecs-credential-probe/report/v1"


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def failing(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Result:
    """The outcome of one check. ``skip`` always says why in ``detail``."""

    id: str
    status: Status
    title: str
    detail: str = ""
    remedy: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "title": self.title,
            "detail": self.detail,
            "remedy": self.remedy,
            "data": dict(self.data),
            "duration_ms": self.duration_ms,
        }


def verdict(results: Sequence[Result]) -> Status:
    """fail if any check is fail or error, else warn if any warns, else pass."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses or Status.ERROR in statuses:
        return Status.FAIL
    if Status.WARN in statuses:
        return Status.WARN
    return Status.PASS


def exit_code(results: Sequence[Result], strict: bool = False) -> int:
    """0 when nothing failed (warnings too, with --strict); else 1."""
    v = verdict(results)
    if v is Status.FAIL or (strict and v is Status.WARN):
        return 1
    return 0


@dataclass(frozen=True)
class Report:
    mode: str
    started_at: str
    duration_ms: int
    summary: str
    results: tuple[Result, ...]
    identity: Optional[Mapping[str, Any]] = None
    task: Optional[Mapping[str, Any]] = None
    version: str = "0.1.0"
    # Task mode and `probe sdk`: one prediction per AWS SDK found (None: not in this mode).
    sdks: Optional[tuple[Mapping[str, Any], ...]] = None
    # The most upstream failing check (probe/causes.py): what the summary and first fix name.
    cause: Optional[Mapping[str, Any]] = None
    # `--pid` / `--container`: whose view the run took ({pid, container, cmdline, ...}).
    target: Optional[Mapping[str, Any]] = None
    # `probe audit`: what was audited (regions, account, counts, API calls, what was denied).
    audit: Optional[Mapping[str, Any]] = None

    @property
    def verdict(self) -> Status:
        return verdict(self.results)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "tool": {"name": "ecs-credential-probe", "version": self.version},
            "mode": self.mode,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "identity": dict(self.identity) if self.identity is not None else None,
            "task": dict(self.task) if self.task is not None else None,
            "cause": dict(self.cause) if self.cause is not None else None,
            "checks": [r.to_dict() for r in self.results],
        }
        if self.sdks is not None:
            doc["sdks"] = [dict(s) for s in self.sdks]
        if self.target is not None:
            # Only with --pid/--container: a plain run's report keeps the contract's shape.
            doc["target"] = dict(self.target)
        if self.audit is not None:
            doc["audit"] = dict(self.audit)
        return doc
