"""The stable check ids of every mode (CONTRACT.md), in report order.

A leaf module: the redactor needs the ids as vocabulary (never redacted) and sits below the
checks, so the list lives here rather than in probe.checks, which re-exports it.
"""

from __future__ import annotations

# The contract's order of the task-mode ids: reports list checks in this order, whatever
# order their modules happened to be imported in.
ORDER: dict[str, tuple[str, ...]] = {
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
