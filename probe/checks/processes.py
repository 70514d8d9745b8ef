"""Checks over every process of the PID namespace (a sidecar with pidMode task sees the task)."""

from __future__ import annotations

from typing import Any

from probe.checks import Outcome, check, failed, passed, remedies, skipped
from probe.facts import Facts

SHOWN = 8


def _who(p: dict[str, Any]) -> str:
    where = f" in {p['container']}" if p.get("container") else (f" in container {p['container_id']}" if p.get("container_id") else "")
    return f"pid {p['pid']}{where} ({p.get('cmdline') or p.get('name')})"


def _unreadable_note(rec: dict[str, Any]) -> str:
    n = len(rec.get("unreadable") or [])
    return f" {n} process{'es' if n != 1 else ''} could not be read (another user's; run the probe as root to see them)." if n else ""


@check("processes.credentials-variable", mode="task", title="Every process has the credentials variable", needs=("processes",))
def credentials_variable(f: Facts) -> Outcome:
    """Guarantees: fails when PID 1 has the credentials variable and a readable process
    lacks it or holds another value (its SDK would use the instance role or stale
    credentials); unreadable processes are counted, never guessed."""
    rec = f.get("processes")
    title = "Every process has the credentials variable"
    if not rec.get("available", False):
        return skipped(title, rec.get("error") or rec.get("collector_error") or "the process survey did not run")
    if not rec.get("pid1_readable"):
        return skipped(title, "PID 1's environment cannot be read (run the probe as the same user as PID 1)")
    if not rec.get("pid1_has_variable"):
        return skipped(title, "PID 1 itself lacks the credentials variable: see env.credentials-variable")
    procs = [p for p in rec.get("processes") or [] if p.get("pid") != 1]
    lacking = [p for p in procs if not p.get("has_relative") and not p.get("has_full")]
    other = [p for p in procs if (p.get("has_relative") or p.get("has_full")) and p.get("same_as_pid1") is False]
    note = _unreadable_note(rec)
    if lacking or other:
        lines = [f"{_who(p)} lacks it" for p in lacking[:SHOWN]] + [f"{_who(p)} has another value" for p in other[:SHOWN]]
        more = len(lacking) + len(other) - len(lines)
        return failed(
            f"{len(lacking) + len(other)} of {len(procs)} processes lack PID 1's credentials variable",
            "; ".join(lines) + (f"; and {more} more" if more > 0 else "") + ". Their SDKs fall back to the instance role "
            "(or use stale credentials)." + note,
            remedies.NON_PID1,
            lacking=[p["pid"] for p in lacking],
            other=[p["pid"] for p in other],
        )
    return passed(f"All {len(procs) + 1} readable processes have the credentials variable", note.strip())


@check("processes.proxy", mode="task", title="No process sends the credentials host through a proxy", needs=("processes",))
def proxy(f: Facts) -> Outcome:
    """Guarantees: fails when a process's own proxy variables (not the probe's) would send
    its requests for the credentials host through a proxy, for clients that honour them."""
    rec = f.get("processes")
    title = "No process sends the credentials host through a proxy"
    if not rec.get("available", False):
        return skipped(title, rec.get("error") or rec.get("collector_error") or "the process survey did not run")
    procs = rec.get("processes") or []
    bad = [p for p in procs if (p.get("proxy") or {}).get("proxied_strict") or (p.get("proxy") or {}).get("proxied_cidr")]
    if bad:
        lines = [
            f"{_who(p)}: {p['proxy'].get('proxy') or p['proxy'].get('proxy_any')}, NO_PROXY={p.get('no_proxy') or '(unset)'}"
            for p in bad[:SHOWN]
        ]
        return failed(
            f"{len(bad)} process{'es' if len(bad) != 1 else ''} would send the credentials host through a proxy",
            "; ".join(lines) + ". curl and the Go, Java, Node and .NET SDKs honour these variables; botocore does not.",
            remedies.NO_PROXY,
            pids=[p["pid"] for p in bad],
        )
    with_proxy = sum(1 for p in procs if (p.get("proxy") or {}).get("proxy_any"))
    return passed(
        "No process sends the credentials host through a proxy",
        (f"{with_proxy} with proxy variables, all bypassing it. " if with_proxy else "") + _unreadable_note(rec).strip(),
    )
