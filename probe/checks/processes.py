"""Checks over every process of the PID namespace (a sidecar with pidMode task sees the task)."""

from __future__ import annotations

import os
from typing import Any, Optional

from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

SHOWN = 8


def _who(p: dict[str, Any]) -> str:
    where = f" in {p['container']}" if p.get("container") else (f" in container {p['container_id']}" if p.get("container_id") else "")
    return f"pid {p['pid']}{where} ({p.get('cmdline') or p.get('name')})"


def _unreadable_note(rec: dict[str, Any]) -> str:
    unread = rec.get("unreadable") or []
    if not unread:
        return ""
    reasons = sorted({str(p.get("reason") or p.get("error") or "unknown") for p in unread})
    n = len(unread)
    return f" {n} process{'es' if n != 1 else ''} could not be read: " + "; ".join(reasons[:3]) + "."


def blind(rec: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The processes the survey could not read (not those that ended while it looked):
    their pids, owners and the reasons, or None when it saw every one."""
    denied = [p for p in rec.get("unreadable") or [] if isinstance(p, dict) and p.get("error") not in ("NoSuchProcess", "ZombieProcess")]
    if not denied:
        return None
    return {
        "pids": [p.get("pid") for p in denied][:50],
        "uids": sorted({p["uid"] for p in denied if isinstance(p.get("uid"), int)}),
        "reasons": sorted({str(p.get("reason") or p.get("error") or "unknown") for p in denied})[:3],
    }


def see_fix(seen: dict[str, Any]) -> str:
    """The setting that lets the probe read the other processes, with the application's
    user where the survey learned it."""
    uids = list(seen.get("uids") or [])
    user = f', or run the probe as the application\'s user ("user": "{uids[0]}")' if len(uids) == 1 and uids[0] != 0 else ""
    return (
        "Let the probe read the task's other processes: in the task definition give its container "
        '"user": "0" and "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"]}}' + user + "; "
        "a process it cannot read is never judged. " + " ".join(f"({r})" for r in seen.get("reasons") or [])
    ).strip()


def _lacking_title(f: Facts, n: int, of: int) -> str:
    main = f.get("processes").get("main_pid")
    if main in (None, 1):
        return f"{n} of {of} processes lack PID 1's credentials variable"
    return f"{n} of {of} processes lack the credentials variable that the container's main process (pid {main}) has"


@check("processes.credentials-variable", mode="task", title="Every process has the credentials variable", needs=("processes",))
def credentials_variable(f: Facts) -> Outcome:
    """Guarantees: fails when PID 1 (the container's main process, which stands in for it:
    with pidMode task PID 1 is ECS's pause process) has the credentials variable and a
    readable process lacks it or holds another value (its SDK would use the instance role or
    stale credentials); warns when processes could not be read, naming why and the setting
    that lets the probe read them; unreadable processes are never guessed."""
    rec = f.get("processes")
    title = "Every process has the credentials variable"
    if not rec.get("available", False):
        return skipped(title, rec.get("error") or rec.get("collector_error") or "the process survey did not run")
    main = remedies.main_label(f)
    seen = blind(rec)
    extra = {"blind": seen} if seen else {}
    if not rec.get("pid1_readable"):
        return skipped(title, f"{main}'s environment cannot be read: {rec.get('pid1_reason') or 'permission denied'}", **extra)
    if not rec.get("pid1_has_variable"):
        return skipped(title, f"{main} itself lacks the credentials variable: see env.credentials-variable", **extra)
    # The probe's own process counts: it runs where the application's processes run. ECS's
    # pause process and runc's exec helper are not in the list (rec["not_application"]).
    procs = [p for p in rec.get("processes") or [] if p.get("pid") != rec.get("main_pid", 1)]
    lacking = [p for p in procs if not p.get("has_relative") and not p.get("has_full")]
    inherited = [p for p in procs if p.get("inherited")]
    other = [p for p in procs if (p.get("has_relative") or p.get("has_full")) and p.get("same_as_pid1") is False]
    note = _unreadable_note(rec)
    if lacking or other:
        lines = [f"{_who(p)}{' (this probe)' if p.get('self') else ''} lacks it" for p in lacking[:SHOWN]] + [f"{_who(p)} has another value" for p in other[:SHOWN]]
        more = len(lacking) + len(other) - len(lines)
        return failed(
            _lacking_title(f, len(lacking) + len(other), len(procs)),
            "; ".join(lines) + (f"; and {more} more" if more > 0 else "") + ". Their SDKs fall back to the instance role "
            "(or use stale credentials)." + note,
            remedies.NON_PID1 + (" " + see_fix(seen) if seen else ""),
            lacking=[p["pid"] for p in lacking],
            other=[p["pid"] for p in other],
            **extra,
        )
    if seen:
        n = len(seen["pids"])
        return warned(
            f"{n} process{'es' if n != 1 else ''} could not be read: whether {'they have' if n != 1 else 'it has'} the credentials variable is unknown",
            f"The {len(procs) + 1} readable processes have it; the survey is incomplete." + note,
            see_fix(seen),
            **extra,
        )
    via = (
        f" {len(inherited)} of them ({', '.join(str(p['pid']) for p in inherited[:SHOWN])}: this probe's "
        "shells) exported it after they started, as the shim's profile does: the probe inherited PID 1's value through them."
        if inherited
        else ""
    )
    return passed(f"All {len(procs) + 1} readable processes have the credentials variable", (via + note).strip())


def _runtime_rule(p: dict[str, Any]) -> Optional[str]:
    """The proxy rule of a process's own program, where it is known (curl, wget, Node)."""
    from probe import sdkmodel

    name = os.path.basename(str(p.get("exe") or p.get("argv0") or p.get("name") or "")).lower()
    if name in ("curl", "wget", "busybox"):
        return "curl" if name == "curl" else "wget"
    if name.startswith(sdkmodel.RUNTIME_PROGRAMS["node"]):
        return sdkmodel.IGNORES  # Node's http module never reads proxy variables
    return None


def _judge_process(p: dict[str, Any], sdks: list[dict[str, Any]]) -> tuple[Optional[bool], str]:
    """(True: through the proxy / False: direct / None: unknown, who decides)."""
    from probe import predict, sdkmodel

    route = p.get("proxy") or {}
    url = f"http://{route.get('host') or '169.254.170.2'}/"
    mine = [s for s in sdks if p.get("pid") in (s.get("used_by") or [])]
    if "proxy_vars" in p:
        judged = []
        for s in mine:
            row, _ = sdkmodel.row_for(s["sdk"], s.get("version"))
            if row is None:
                continue
            try:
                judged.append((bool(predict.proxy_for(row.proxy_container, url, p.get("proxy_vars") or {}, p.get("no_proxy_vars") or {})), f"{s['title']} {s.get('version') or ''}".strip()))
            except LookupError:
                continue
        if judged:
            through = [who for via, who in judged if via]
            return (True, ", ".join(through)) if through else (False, ", ".join(who for _v, who in judged))
        rule = _runtime_rule(p)
        if rule is not None:
            via = predict.proxy_for(rule, url, p.get("proxy_vars") or {}, p.get("no_proxy_vars") or {})
            return bool(via), os.path.basename(str(p.get("exe") or p.get("name") or ""))
    if not mine and not _is_runtime(p):
        return False, "no AWS SDK or runtime"  # sleep, nginx, a shell: never asks for credentials
    return None, ""


def _is_runtime(p: dict[str, Any]) -> bool:
    """An interpreter or VM that may run an AWS SDK the scan did not see."""
    from probe import sdkmodel

    names = {os.path.basename(str(x)).lower() for x in (p.get("exe"), p.get("argv0"), p.get("name")) if x}
    programs = tuple(prog for progs in sdkmodel.RUNTIME_PROGRAMS.values() for prog in progs)
    return any(n.startswith(programs) for n in names)


@check("processes.proxy", mode="task", title="No process sends the credentials host through a proxy", needs=("processes", "sdk"))
def proxy(f: Facts) -> Outcome:
    """Guarantees: fails when a process's own proxy variables (not the probe's) would send
    its requests for the credentials host through a proxy, judged by the SDK the process
    uses (or its program: curl, wget, Node) where known, else, for an interpreter or VM
    (Python, Java, Ruby, PHP, .NET), by the strictest reading; warns when they apply but
    the process's SDK or runtime ignores them. Programs that run no AWS SDK (sleep, nginx,
    a shell) are not judged."""
    from probe import predict

    rec = f.get("processes")
    title = "No process sends the credentials host through a proxy"
    if not rec.get("available", False):
        return skipped(title, rec.get("error") or rec.get("collector_error") or "the process survey did not run")
    procs = rec.get("processes") or []
    sdks = predict.predict_all(f) if f.has("sdk") else []
    bad: list[tuple[dict[str, Any], str]] = []
    ignored: list[tuple[dict[str, Any], str]] = []
    for p in procs:
        if p.get("self"):
            continue  # the probe's own variables are proxy.credentials-endpoint's to judge
        route = p.get("proxy") or {}
        if not (route.get("proxied_strict") or route.get("proxied_cidr")):
            continue
        via, who = _judge_process(p, sdks)
        if via is False and who == "no AWS SDK or runtime":
            continue
        if via is False:
            ignored.append((p, who))
        else:
            bad.append((p, who))
    if bad:
        lines = [
            f"{_who(p)}: {p['proxy'].get('proxy') or p['proxy'].get('proxy_any')}, NO_PROXY={p.get('no_proxy') or '(unset)'}"
            + (f" ({who} uses it)" if who else "")
            for p, who in bad[:SHOWN]
        ]
        return failed(
            f"{len(bad)} process{'es' if len(bad) != 1 else ''} would send the credentials host through a proxy",
            "; ".join(lines) + ". curl, the Go SDKs and Python requests honour these variables; botocore, "
            "the JavaScript SDKs and Ruby's do not.",
            remedies.NO_PROXY,
            pids=[p["pid"] for p, _ in bad],
        )
    if ignored:
        return warned(
            f"{len(ignored)} process{'es have' if len(ignored) != 1 else ' has'} proxy variables that would cover the credentials host, but {'their' if len(ignored) != 1 else 'its'} SDK or program ignores them",
            "; ".join(f"{_who(p)} ({who})" for p, who in ignored[:SHOWN]) + ". Another client run there (curl, wget, a Go SDK) may go through the proxy.",
            remedies.NO_PROXY,
            pids=[p["pid"] for p, _ in ignored],
        )
    with_proxy = sum(1 for p in procs if (p.get("proxy") or {}).get("proxy_any"))
    return passed(
        "No process sends the credentials host through a proxy",
        (f"{with_proxy} with proxy variables, all bypassing it. " if with_proxy else "") + _unreadable_note(rec).strip(),
    )
