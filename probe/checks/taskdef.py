"""Task definition mode (`probe taskdef FILE|-`)."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

STATIC = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# Both link-local endpoints are plain http: HTTPS_PROXY never applies to them.
PROXY_VARS = ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
LINK_LOCAL = ("169.254.169.254", "169.254.170.2")
PROCESS_MANAGERS = {
    "supervisord": "supervisord", "cron": "cron", "crond": "cron", "sshd": "sshd", "s6-svscan": "s6",
    "/init": "s6-overlay", "runsvdir": "runit", "runit": "runit", "systemd": "systemd", "/sbin/init": "an init system",
}
SHIMS = ("shim", "ecs-shim", "ecs-shim.sh")


def _taskdef(f: Facts) -> dict[str, Any]:
    return f.get("taskdef").get("doc") or {}


def _containers(f: Facts) -> Iterator[dict[str, Any]]:
    for c in _taskdef(f).get("containerDefinitions") or []:
        if isinstance(c, dict):
            yield c


def _name(c: dict[str, Any]) -> str:
    return str(c.get("name") or "(unnamed)")


def _items(c: dict[str, Any], field: str) -> list[Any]:
    """A list field of a container definition; anything else counts as empty."""
    value = c.get(field)
    return value if isinstance(value, list) else []


def _argv(value: Any) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


@check("taskdef.schema", mode="taskdef", title="The task definition is valid RegisterTaskDefinition input", needs=("taskdef",))
def schema(f: Facts) -> Outcome:
    """Guarantees: fails when the document does not match botocore's own ECS model of
    RegisterTaskDefinition's input: a field of the wrong type (`cpu: 512`, `essential:
    "true"`), a value outside an enum (`networkMode: "awsvpcc"`), a missing required field or
    an unknown one; each named by container and field. Skips when botocore is missing."""
    rec = f.get("taskdef").get("schema") or {}
    title = "The task definition is valid RegisterTaskDefinition input"
    if not rec:
        return skipped(title, "the task definition was not validated (an older facts file)")
    if rec.get("model") is None:
        return skipped(title, f"botocore's ECS model is not available here: {rec.get('error')}")
    problems = [str(p) for p in rec.get("problems") or []]
    if problems:
        more = f"; and {rec['more']} more" if rec.get("more") else ""
        return failed(
            f"{len(problems) + int(rec.get('more') or 0)} field{'s' if len(problems) != 1 else ''} ECS would refuse or misread",
            "; ".join(problems[:12]) + more + f" (checked against the {rec.get('model')}).",
            "Fix these fields: numbers such as cpu and memory are strings at the task level and integers in a "
            "container; essential is true or false without quotes; enums take exactly the listed values. "
            "`aws ecs register-task-definition --cli-input-json file://FILE` gives the same verdict.",
            problems=problems,
        )
    return passed(title, f"checked against the {rec.get('model')}")


@check("taskdef.task-role", mode="taskdef", title="The task definition has a task role", needs=("taskdef",))
def task_role(f: Facts) -> Outcome:
    """Guarantees: fails when taskRoleArn is missing (an executionRoleArn alone is the
    classic confusion: the application never gets it)."""
    td = _taskdef(f)
    role = td.get("taskRoleArn")
    if isinstance(role, str) and role:
        return passed(f"taskRoleArn {role}", "")
    execution = td.get("executionRoleArn")
    if execution:
        return failed(
            "Only an executionRoleArn: the application gets no role",
            f"executionRoleArn {execution} is used by the agent to pull images, send logs and read secrets; "
            "it is never given to the application. taskRoleArn is missing.",
            remedies.TASK_ROLE,
        )
    return failed("No taskRoleArn: the application gets no role", "The task definition sets neither taskRoleArn nor executionRoleArn.", remedies.TASK_ROLE)


@check("taskdef.network-mode", mode="taskdef", title="The network mode gets task roles", needs=("taskdef",))
def network_mode(f: Facts) -> Outcome:
    """Guarantees: warns for host and bridge (default) modes on EC2, which need the agent's
    ECS_ENABLE_TASK_IAM_ROLE(_NETWORK_HOST) flags."""
    td = _taskdef(f)
    mode = td.get("networkMode") or "bridge"
    compat = td.get("requiresCompatibilities") or td.get("compatibilities") or []
    if mode == "awsvpc" or (isinstance(compat, list) and compat == ["FARGATE"]):
        return passed(f"networkMode {mode}", "task roles need no agent flags here")
    if mode == "host":
        return warned(
            "networkMode host needs ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true on the instances",
            "In host mode the agent serves task credentials only with that flag (ecs-init sets it on ECS-optimized AMIs).",
            "Check the instances with `probe host`: ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true in /etc/ecs/ecs.config.",
        )
    if mode == "none":
        return failed("networkMode none: the task cannot reach the credentials endpoint", "", "Use awsvpc or bridge network mode.")
    return warned(
        f"networkMode {mode} needs ECS_ENABLE_TASK_IAM_ROLE=true on the instances",
        "Bridge tasks reach 169.254.170.2 through the instance's iptables DNAT; the agent must have task roles enabled.",
        "Check the instances with `probe host`, or use awsvpc.",
    )


@check("taskdef.static-credentials", mode="taskdef", title="No static AWS keys", needs=("taskdef",))
def static_credentials(f: Facts) -> Outcome:
    """Guarantees: fails when a container sets AWS access keys in environment or secrets:
    they beat the task role in every SDK."""
    found = []
    for c in _containers(f):
        for field in ("environment", "secrets"):
            for i, item in enumerate(_items(c, field)):
                if isinstance(item, dict) and item.get("name") in STATIC:
                    found.append(f"container {_name(c)!r} {field}[{i}] {item.get('name')}")
    if found:
        return failed(
            "Static AWS keys in the task definition beat the task role",
            "; ".join(found) + ".",
            "Remove AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from environment and secrets; "
            "give the permissions to the task role instead.",
            locations=found,
        )
    return passed("No static AWS keys in environment or secrets", "")


@check("taskdef.proxy", mode="taskdef", title="Proxy settings spare the link-local endpoints", needs=("taskdef",))
def proxy(f: Facts) -> Outcome:
    """Guarantees: fails when a container sets a proxy variable and its NO_PROXY does not
    name both 169.254.169.254 and 169.254.170.2."""
    bad = []
    for c in _containers(f):
        env = {str(e.get("name")): str(e.get("value", "")) for e in _items(c, "environment") if isinstance(e, dict)}
        proxies = [n for n in PROXY_VARS if env.get(n)]
        if not proxies:
            continue
        no_proxy = [p.strip() for p in (env.get("NO_PROXY") or env.get("no_proxy") or "").split(",")]
        missing = [h for h in LINK_LOCAL if h not in no_proxy]
        if missing:
            bad.append(f"container {_name(c)!r} environment {', '.join(proxies)}: NO_PROXY lacks {', '.join(missing)}")
    if bad:
        return failed("A container's proxy would swallow the link-local endpoints", "; ".join(bad) + ".", remedies.NO_PROXY, locations=bad)
    return passed("Proxy settings spare the link-local endpoints", "")


@check("taskdef.multi-process", mode="taskdef", title="Multi-process containers carry the credentials variable", needs=("taskdef",))
def multi_process(f: Facts) -> Outcome:
    """Guarantees: warns when a container starts supervisord, cron, sshd, s6 or runit
    without the shim: the processes they start later may lack the credentials variable."""
    hits = []
    for c in _containers(f):
        entry, cmd = _argv(c.get("entryPoint")), _argv(c.get("command"))
        words = entry + cmd
        if any(w.rsplit("/", 1)[-1] in SHIMS for w in entry[:3] + cmd[:1]):
            continue
        for w in words:
            base = w.rsplit("/", 1)[-1]
            manager = PROCESS_MANAGERS.get(w) or PROCESS_MANAGERS.get(base)
            if manager:
                field = "entryPoint" if w in entry else "command"
                hits.append(f"container {_name(c)!r} {field} starts {manager}")
                break
    if hits:
        return warned(
            "Process managers start processes that may lack the credentials variable",
            "; ".join(hits) + ". What they start from a fresh environment (cron jobs, sshd sessions, s6 or runit services, "
            "systemd units) never sees PID 1's variables; supervisord's own programs inherit them, but a cron or sshd it "
            "runs does not.",
            'Start these containers through the shim: "entryPoint": ["shim", "--environment-file", "--"] (see Dockerfile.example).',
            locations=hits,
        )
    return passed("No process manager without the shim", "")


def _watched(container: Any) -> Optional[str]:
    """The container a `probe watch --container NAME` sidecar judges, or None."""
    argv = _argv(container.get("command"))
    for i, word in enumerate(argv):
        if word == "--container" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--container="):
            return word.split("=", 1)[1]
    return None


@check("taskdef.probe-sidecar", mode="taskdef", title="The probe sidecar is wired up", needs=("taskdef",))
def probe_sidecar(f: Facts) -> Outcome:
    """Guarantees: fails when a `probe watch` sidecar is present without pidMode task, or
    with no container depending on it."""
    td = _taskdef(f)
    sidecars = [c for c in _containers(f) if _argv(c.get("command"))[:2] == ["probe", "watch"] or _argv(c.get("entryPoint"))[-1:] == ["probe"] and _argv(c.get("command"))[:1] == ["watch"]]
    if not sidecars:
        return skipped("The probe sidecar is wired up", "no container runs `probe watch`")
    names = {_name(c) for c in sidecars}
    problems = []
    if td.get("pidMode") != "task":
        problems.append(f'pidMode is {td.get("pidMode") or "unset"}, not "task": the sidecar cannot see the application\'s processes')
    dependents = [
        _name(c) for c in _containers(f) if any(isinstance(d, dict) and d.get("containerName") in names for d in _items(c, "dependsOn"))
    ]
    # `probe watch --container app` judges the app: it can be healthy only once the app runs.
    watched = {_watched(c) for c in sidecars} - {None}
    deadlocked = [
        _name(c) for c in _containers(f) if _name(c) in watched
        and any(isinstance(d, dict) and d.get("containerName") in names and d.get("condition") == "HEALTHY" for d in _items(c, "dependsOn"))
    ]
    if deadlocked:
        problems.append(
            f"{', '.join(deadlocked)} waits for the sidecar to be HEALTHY, but the sidecar judges {', '.join(deadlocked)} "
            "(--container): it cannot be healthy before that container runs, so the task never starts"
        )
    elif not dependents and not watched:
        problems.append(f"no container dependsOn {', '.join(sorted(names))}: the application starts before the credentials are checked")
    if not any(isinstance(c.get("healthCheck"), dict) for c in sidecars):
        problems.append("the sidecar has no healthCheck (`probe health`)")
    if problems:
        return failed(
            "The probe sidecar is not wired up",
            "; ".join(problems) + ".",
            'Set "pidMode": "task", give the sidecar "healthCheck": {"command": ["CMD", "probe", "health"]}, and add '
            '"dependsOn": [{"containerName": "<sidecar>", "condition": "HEALTHY"}] to the application (see examples/task-definition.json); '
            "a sidecar that judges the application (`probe watch --container app`) must not be waited for by it: "
            "drop that dependsOn, or gate the start with `probe wait` in an init container.",
        )
    return passed("The probe sidecar is wired up", f"pidMode task; {', '.join(dependents)} depend on it")
