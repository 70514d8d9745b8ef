"""Observe once, judge purely: turn options into Facts, Facts into a Report."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from probe import __version__, causes, checks
from probe.facts import Facts, collect_task
from probe.facts.target import Target, TargetSpec
from probe.model import Report, Result, Status

@dataclass(frozen=True)
class Selection:
    only: Optional[frozenset[str]] = None
    skip: Optional[frozenset[str]] = None
    expect_role: Optional[str] = None


def summarize(results: list[Result], mode: str = "task") -> str:
    """The one line: the root cause when something failed (probe/causes.py), else the
    identity with the number of warnings, else the first warning."""
    found = causes.root_cause(results, mode)
    if found is not None:
        return found[0].title
    by_id = {r.id: r for r in results}
    warns = [r for r in results if r.status is Status.WARN]
    head = by_id.get("identity.task-role")
    if head is not None and head.status is Status.PASS:
        return head.title + (f" ({len(warns)} warning{'s' if len(warns) != 1 else ''})" if warns else "")
    if warns:
        return warns[0].title
    ran = sum(1 for r in results if r.status is Status.PASS)
    return f"All {ran} checks that ran passed"


def cause_of(results: list[Result], mode: str) -> Optional[dict[str, str]]:
    """The report's ``cause``: the root cause's check, layer, title and fix."""
    found = causes.root_cause(results, mode)
    if found is None:
        return None
    result, layer = found
    return {"check": result.id, "layer": layer, "summary": result.title, "remedy": result.remedy}


def judge(facts: Facts, selection: Selection, mode: str = "task") -> Report:
    """Run the mode's checks over the facts; pure apart from the clock."""
    only = set(selection.only) if selection.only else None
    skip = set(selection.skip) if selection.skip else None
    plan = checks.select(checks.load(mode), only, skip)
    if selection.expect_role:
        facts.options["expect_role"] = selection.expect_role
    results = checks.run(plan, facts, only)
    identity = None
    if mode == "task":
        from probe.checks.identity import derive_identity

        try:
            identity = derive_identity(facts)
        except (TypeError, AttributeError, ValueError):
            identity = None  # facts of the wrong shape (a hand-edited --facts file): unknown
    sdks = None
    if mode in ("task", "sdk"):
        from probe import predict

        sdks = tuple(predict.predict_all(facts)) if facts.has("sdk") else ()
    return Report(
        mode=mode,
        sdks=sdks,
        started_at=facts.collected_at,
        duration_ms=facts.duration_ms,
        summary=summarize(results, mode),
        cause=cause_of(results, mode),
        results=tuple(results),
        identity=identity,
        task=_task_block(facts),
        version=__version__,
        target=_target_block(facts),
    )


def _target_block(facts: Facts) -> Optional[dict[str, Any]]:
    rec = facts.get("target")
    if not rec:
        return None
    keys = ("pid", "container", "container_id", "cmdline", "user", "main_pid")
    return {k: rec.get(k) for k in keys}


def _task_block(facts: Facts) -> Optional[dict[str, Optional[str]]]:
    info = facts.get("metadata").get("info")
    if not isinstance(info, dict) or not info:
        return None
    keys = ("task_arn", "cluster", "launch_type", "network_mode", "container_name", "availability_zone")
    return {k: (str(info[k]) if info.get(k) is not None else None) for k in keys}


def diagnose_task(
    environ: Mapping[str, str],
    deadline: float,
    selection: Selection,
    sdk_roots: Optional[list[str]] = None,
    mode: str = "task",
    sdk_cache: Optional[dict[str, Any]] = None,
    target: Optional[TargetSpec] = None,
) -> tuple[Facts, Report]:
    """Collect the facts the selected checks need, then judge them.

    ``mode="sdk"`` (`probe sdk`) runs the SDK scan and its check only. ``target``
    (`--pid`, `--container`): the run takes that process's view; it is looked up again on
    every run (a restarted container has a new pid). Raises TargetError, with the setting
    that fixes it, when the target cannot be read.
    """
    started = time.monotonic()
    # The target first: a process that cannot be read ends the run before any work.
    view = resolve_target(target, environ, deadline) if target is not None else None
    only = set(selection.only) if selection.only else None
    skip = set(selection.skip) if selection.skip else None
    plan = checks.select(checks.load(mode), only, skip)
    remaining = max(0.2, deadline - (time.monotonic() - started))
    facts = collect_task(environ, remaining, checks.needs_of(plan), sdk_roots=sdk_roots, sdk_cache=sdk_cache, target=view)
    facts.mode = mode
    report = judge(facts, selection, mode)
    total = int((time.monotonic() - started) * 1000)
    facts.duration_ms = total
    return facts, Report(**{**report.__dict__, "duration_ms": total})


def resolve_target(spec: TargetSpec, environ: Mapping[str, str], deadline: float) -> Target:
    """The process `--pid`/`--container` names, read now. A container name is looked up in
    task metadata (the probe's own ECS_CONTAINER_METADATA_URI_V4: every container of the
    task is listed there), within a small part of the run's deadline."""
    from probe.facts import target as target_facts

    containers = None
    if spec.container is not None:
        from probe.facts import endpoints, http

        uri = environ.get("ECS_CONTAINER_METADATA_URI_V4")
        if uri:
            scope = http.Scope()
            try:
                with http.use_scope(scope):
                    meta = endpoints.fetch_task_metadata(uri, time.monotonic() + min(1.5, deadline / 3))
            finally:
                scope.close()
            containers = meta.get("containers") if isinstance(meta, dict) else None
    return target_facts.resolve(spec, containers)
