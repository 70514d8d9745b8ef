"""The order of causes, upstream first: which failing check explains the others.

A credentials problem is a chain. The control plane (task definition, trust policy,
agent flags, host rules) decides whether PID 1 gets the variable; PID 1's environment
decides what a process started from it inherits; a process that is not PID 1 may have
lost it; the network (proxies, the endpoint, its answers) decides whether the variable
yields credentials; precedence decides whether another source wins first; the SDK
decides what it does with all of this; STS only reports the identity that results.
The most upstream failure is the cause: the report's summary and first fix come from it,
and downstream symptoms (the instance role, no region, an STS error) point back to it.

Kept here, in one place, as data: one tuple per mode, layers upstream first.
"""

from __future__ import annotations

from typing import Optional, Sequence

from probe.model import Result

# (layer, check ids in that layer, upstream first).
CAUSAL_ORDER: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "task": (
        # The task has no role (PID 1 lacks the variable too), or this process lost PID 1's
        # variable: env.credentials-variable tells which from the facts.
        ("PID 1's environment", ("env.credentials-variable", "env.credentials-uri-safe")),
        ("this process's environment", ("processes.credentials-variable", "shim.profile", "env.region")),
        (
            "network",
            ("proxy.credentials-endpoint", "processes.proxy", "endpoint.credentials", "endpoint.credentials-expiry", "endpoint.clock-skew"),
        ),
        ("precedence", ("env.shadowing-credentials",)),
        # sdk.identity names the application's SDK, what it gets and the exact upgrade.
        ("the SDK", ("sdk.identity", "sdk.versions")),
        ("the identity STS returns", ("identity.caller", "identity.task-role")),
        ("exposure", ("imds.instance-role", "proxy.metadata-endpoints", "endpoint.task-metadata")),
    ),
    "host": (
        ("the agent", ("host.agent-running",)),
        ("agent flags", ("host.config.task-iam-role", "host.config.task-iam-role-network-host", "host.config.syntax", "host.config.applied")),
        ("host rules", ("host.iptables.credentials-redirect", "host.sysctl.route-localnet", "host.iptables.persisted")),
        ("network", ("host.config.proxy",)),
        ("exposure", ("host.imds-block",)),
    ),
    "taskdef": (
        ("task definition", ("taskdef.schema", "taskdef.task-role", "taskdef.network-mode", "taskdef.static-credentials", "taskdef.proxy", "taskdef.multi-process", "taskdef.probe-sidecar")),
    ),
    "trust": (("trust policy", ("trust.ecs-tasks-principal", "trust.conditions")),),
}


def rank(mode: str) -> dict[str, tuple[int, str]]:
    """check id -> (position upstream first, layer)."""
    out: dict[str, tuple[int, str]] = {}
    for layer, ids in CAUSAL_ORDER.get("task" if mode == "sdk" else mode, ()):
        for cid in ids:
            out[cid] = (len(out), layer)
    return out


def root_cause(results: Sequence[Result], mode: str) -> Optional[tuple[Result, str]]:
    """The most upstream failing check, with its layer; None when nothing failed.
    A check ranked nowhere comes after the ranked ones."""
    order = rank(mode)
    hits = [r for r in results if r.status.failing]
    if not hits:
        return None
    hits.sort(key=lambda r: order.get(r.id, (len(order), ""))[0])
    return hits[0], order.get(hits[0].id, (0, "other"))[1]
