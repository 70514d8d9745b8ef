"""`probe audit` (issue 23): the fleet-wide facts the ECS API already exposes, judged.

`probe` answers for one task, from inside it. `probe audit` runs anywhere with AWS API
credentials and reads, read-only, every cluster of the regions asked: the container instances
(agent connected, agent version, the task role capabilities the agent registered), the task
definitions that services and running tasks use (the taskdef.* checks), the task roles they name
(the trust.* checks over each trust policy) and the tasks stopped recently (their access-denied
reasons, attributed to the execution role or the task role).

Three steps like the rest of the probe: probe/facts/audit.py walks (all I/O),
probe/checks/audit.py judges (pure), this module parses the command line and renders. Also here:
``MotoAccount``, a moto server on loopback seeded with an ECS account (the demo, the tests and
bench/bench_audit.py), and ``run_demo``, which audits a small seeded account.

    main(argv, stdout, stderr) -> int     the command; exit 0 / 1 / 2 as elsewhere
    run_demo(stdout, stderr, ...) -> int  `probe demo`'s audit scenario (needs moto[server])
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any, Iterable, Mapping, Optional, Sequence, TextIO

from probe import __version__, checks, redact
from probe.facts import Facts, utc_now
from probe.facts import audit as walk_facts
from probe.model import Report, Result, Status, exit_code
from probe.output import EXIT_OK, EXIT_USAGE, UsageError, guarded, write_report

MODE = "audit"
# A fleet takes longer than one task: 300 s by default (--deadline, or PROBE_AUDIT_DEADLINE; not
# PROBE_DEADLINE, which sidecars set to a few seconds for the task diagnosis).
DEFAULT_DEADLINE = 300.0
MAX_DEADLINE = 3600.0
DEFAULT_SINCE = "1h"  # ECS lists a stopped task for about an hour after it stops
DEFAULT_CONCURRENCY = 8


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        raise UsageError(message)


def _env(name: str, fallback: Any = None) -> Any:
    return os.environ.get("PROBE_" + name.upper().replace("-", "_"), fallback)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="probe audit",
        description=(
            "Audit every ECS cluster of the regions asked, read-only: container instances (agent, task role capabilities), the "
            "task definitions in use (taskdef.* checks), the task roles they name (trust.* checks) and recently stopped tasks "
            "(access denials, attributed to the execution role or the task role). Runs anywhere with AWS API credentials; "
            "`--print-policy` prints the IAM policy it needs."
        ),
        epilog="Exit codes: 0 no check failed, 1 a check failed (or warned, with --strict), 2 the audit could not run as asked.",
    )
    p.add_argument("--region", action="append", metavar="REGION", help="a region to audit; repeat for more (default: AWS_REGION, "
                   "AWS_DEFAULT_REGION or the profile's region; PROBE_REGION=R1,R2)")
    p.add_argument("--cluster", action="append", metavar="NAME_OR_ARN", help="audit only this cluster; repeat for more "
                   "(default: every cluster; PROBE_CLUSTER=A,B)")
    p.add_argument("--since", metavar="DURATION", default=None, help=f"stopped tasks this recent (default {DEFAULT_SINCE}: 90m, 1h30m, "
                   "2d, or seconds; ECS lists a stopped task for about an hour; PROBE_SINCE)")
    p.add_argument("--format", choices=("text", "json"), default=None, help="report format (default text; PROBE_FORMAT)")
    p.add_argument("--json", action="store_const", const="json", dest="format", help="short for --format json")
    p.add_argument("--output", metavar="FILE", default=None, help="write the report to FILE (- for stdout; PROBE_OUTPUT)")
    p.add_argument("--deadline", metavar="SECONDS", default=None,
                   help=f"limit for the whole audit (default {DEFAULT_DEADLINE:g}; PROBE_AUDIT_DEADLINE)")
    p.add_argument("--concurrency", metavar="N", default=None,
                   help=f"API calls in flight at once (default {DEFAULT_CONCURRENCY}; throttling slows the client down by itself)")
    p.add_argument("--only", metavar="ID[,ID]", default=None, help="run only these checks (and make only the calls they need)")
    p.add_argument("--skip", metavar="ID[,ID]", default=None, help="do not run these checks")
    p.add_argument("--strict", action="store_true", default=None, help="warnings fail the run (exit 1)")
    p.add_argument("--no-color", action="store_true", default=None, help="no colour (also NO_COLOR)")
    p.add_argument("-v", "--verbose", action="store_true", default=None, help="show details of passing checks too")
    p.add_argument("--print-policy", action="store_true", help="print the minimal read-only IAM policy the audit needs, and exit")
    return p


def _flag(value: Any, name: str) -> bool:
    return bool(value) or str(_env(name, "")).lower() in ("1", "true", "yes", "on")


def _ids(value: Optional[str]) -> Optional[set[str]]:
    if not value:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _list(values: Optional[Sequence[str]], env_name: str) -> list[str]:
    raw = list(values or []) or [v for v in str(_env(env_name, "")).split(",")]
    out: list[str] = []
    for v in raw:
        for part in v.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def default_region() -> Optional[str]:
    """The region botocore would use: AWS_REGION, AWS_DEFAULT_REGION, or the profile's."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        import botocore.session

        return botocore.session.Session().get_config_variable("region")
    except Exception:  # a broken config file: say "no region" below
        return None


def options_from(args: argparse.Namespace) -> tuple[dict[str, Any], walk_facts.Options]:
    """The run's settings, validated (UsageError with the reason)."""
    fmt = args.format or _env("format") or "text"
    if fmt not in ("text", "json"):
        raise UsageError(f"PROBE_FORMAT={fmt}: must be text or json")
    raw_deadline = args.deadline if args.deadline is not None else _env("audit_deadline", DEFAULT_DEADLINE)
    try:
        deadline = float(raw_deadline)
    except (TypeError, ValueError):
        raise UsageError(f"--deadline {raw_deadline}: not a number of seconds") from None
    if not 0 < deadline <= MAX_DEADLINE:
        raise UsageError(f"--deadline {raw_deadline}: must be between 0 and {MAX_DEADLINE:g} seconds")
    raw_since = args.since or _env("since") or DEFAULT_SINCE
    try:
        since = walk_facts.parse_duration(str(raw_since))
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    raw_conc = args.concurrency if args.concurrency is not None else _env("concurrency", DEFAULT_CONCURRENCY)
    try:
        concurrency = int(raw_conc)
    except (TypeError, ValueError):
        raise UsageError(f"--concurrency {raw_conc}: not a whole number") from None
    if not 1 <= concurrency <= 64:
        raise UsageError(f"--concurrency {raw_conc}: must be between 1 and 64")
    regions = _list(args.region, "region") or [r for r in [default_region()] if r]
    if not regions:
        raise UsageError("no region: pass --region REGION (repeat it for more), or set AWS_REGION")
    clusters = _list(args.cluster, "cluster")
    output = args.output or _env("output")
    if output in ("json", "text", "table", "yaml"):
        raise UsageError(f"--output takes a file name (or - for stdout); for the report format use --format {output if output in ('json', 'text') else 'json'}")
    if output == "-":
        output = None
    only = _ids(args.only if args.only is not None else _env("only"))
    skip = _ids(args.skip if args.skip is not None else _env("skip"))
    known = {c.id for c in checks.load(MODE)}
    for key, ids in (("only", only), ("skip", skip)):
        unknown = sorted((ids or set()) - known)
        if unknown:
            raise UsageError(f"--{key}: unknown check id {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    plan = checks.select(checks.load(MODE), only, skip)
    parts: set[str] = set()
    for chk, wanted in plan:
        if wanted:
            parts.update(chk.needs)
    settings = {
        "format": fmt, "output": output, "deadline": deadline, "since": since, "since_text": str(raw_since),
        "only": only, "skip": skip, "plan": plan, "strict": _flag(args.strict, "strict"),
        "no_color": _flag(args.no_color, "no_color") or bool(os.environ.get("NO_COLOR")), "verbose": _flag(args.verbose, "verbose"),
    }
    walk_options = walk_facts.Options(
        regions=regions, clusters=clusters, since_s=since, deadline_s=deadline, concurrency=concurrency,
        parts=frozenset(parts & set(walk_facts.PARTS)),
    )
    return settings, walk_options


# ---- judging and the report ---------------------------------------------------------------------


def judge(record: Mapping[str, Any], plan: Sequence[tuple[Any, bool]] = (), only: Optional[set[str]] = None,
          started_at: Optional[str] = None, duration_ms: Optional[int] = None) -> Report:
    """The audit report of a walk's record (pure apart from the clock)."""
    from probe.checks import audit as audit_checks

    audit_checks.clear_cache()
    plan = list(plan) or checks.select(checks.load(MODE), None, None)
    facts = Facts(data={"audit": record}, collected_at=started_at or utc_now(), mode=MODE)
    results = checks.run(plan, facts, only)
    return Report(
        mode=MODE,
        started_at=started_at or facts.collected_at,
        duration_ms=duration_ms if duration_ms is not None else int(record.get("elapsed_ms") or 0),
        summary=summarize(results, record),
        results=tuple(results),
        version=__version__,
        audit=scope(record, results),
    )


def summarize(results: Sequence[Result], record: Mapping[str, Any]) -> str:
    """The one line: the first failing finding (instances first, then task definitions, roles,
    stopped tasks) and how many more, else the first warning, else what was audited."""
    failing = [r for r in results if r.status.failing]
    warns = [r for r in results if r.status is Status.WARN]
    skips = [r for r in results if r.status is Status.SKIP and not r.detail.startswith("not selected")]
    counts = _counts(record)
    what = ", ".join(_count(counts[k], w) for k, w in (("clusters", "cluster"), ("services", "service"),
                                                        ("running_tasks", "running task"), ("instances", "container instance")))
    if failing:
        more = len(failing) - 1
        return failing[0].title + (f" (and {more} more failing check{'s' if more != 1 else ''}" + (f", {len(warns)} warning{'s' if len(warns) != 1 else ''}" if warns else "") + ")" if more or warns else "")
    if warns:
        return warns[0].title + (f" (and {len(warns) - 1} more warning{'s' if len(warns) != 2 else ''})" if len(warns) > 1 else "")
    if skips and not any(r.status is Status.PASS for r in results):
        return f"Nothing could be audited: {skips[0].detail.split('; ')[0]}"
    return f"No finding in {what}" + (f"; {len(skips)} check{'s' if len(skips) != 1 else ''} not complete (see skip lines)" if skips else "")


def _counts(record: Mapping[str, Any]) -> dict[str, int]:
    from probe.checks import audit as audit_checks

    ix = audit_checks.index(record)
    return {
        "clusters": len(record.get("clusters") or {}),
        "services": len(record.get("services") or {}),
        "running_tasks": len(ix.running),
        "stopped_tasks": len(ix.stopped),
        "task_definitions_in_use": len(ix.in_use),
        "task_definitions_read": len(record.get("task_definitions") or {}),
        "instances": len(record.get("instances") or {}),
        "task_roles_in_use": len(ix.roles),
    }


def scope(record: Mapping[str, Any], results: Sequence[Result] = ()) -> dict[str, Any]:
    """The report's ``audit`` block: what was audited, as whom, at what cost, what was denied."""
    caller = record.get("caller") or {}
    problems = [p for p in record.get("problems") or [] if isinstance(p, dict)]
    return {
        "regions": list(record.get("regions") or []),
        "clusters_named": list(record.get("clusters_named") or []),
        "account": caller.get("account"),
        "caller": caller.get("arn"),
        "caller_error": caller.get("error"),
        "since_s": record.get("since_s"),
        "counts": _counts(record),
        "stopped_listed": record.get("stopped_listed", 0),
        "stopped_older": record.get("stopped_older", 0),
        "api_calls": sum(int(v) for v in (record.get("calls") or {}).values()),
        "calls": dict(sorted((record.get("calls") or {}).items())),
        "http_requests": record.get("requests", 0),
        "walk_ms": record.get("elapsed_ms"),
        "deadline_exceeded": bool(record.get("deadline_exceeded")),
        "denied": walk_facts.permissions_of(p.get("permission") for p in problems if p.get("kind") == "denied"),
        "problems": problems[:200],
    }


def render(report: Report, fmt: str, color: bool = False, verbose: bool = False) -> str:
    """JSON (the contract's report with its ``audit`` block), or the text report with an
    "Audited:" block under its first line. Both scrubbed of every secret this process has seen."""
    if fmt == "json":
        from probe.render import json as json_render

        return json_render.render(report)
    from probe.render import text as text_render

    body = text_render.render(report, color=color, verbose=verbose)
    head, _, rest = body.partition("\n")
    return redact.scrub(head + "\n" + "".join(line + "\n" for line in scope_lines(report.audit or {})) + rest)


def _n(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int) else str(value)


def _count(value: Any, word: str) -> str:
    """"3 services", "1 service"; "one|many" for irregular words."""
    one, _, many = word.partition("|")
    return f"{_n(value)} {one if value == 1 else (many or one + 's')}"


def scope_lines(block: Mapping[str, Any]) -> list[str]:
    from probe.render.text import terminal_safe

    counts = block.get("counts") or {}
    who = block.get("caller") or (f"unknown ({block.get('caller_error')})" if block.get("caller_error") else "unknown")
    since = block.get("since_s")
    lines = [
        "Audited:  " + ", ".join(block.get("regions") or []) + (f" · account {block.get('account')}" if block.get("account") else "") + f" · as {who}",
        "          " + ", ".join(_count(counts.get(k, 0), word) for k, word in (
            ("clusters", "cluster"), ("services", "service"), ("running_tasks", "running task"))) + f", {_n(counts.get('stopped_tasks', 0))} "
        f"stopped in the last {_since_text(since)}, " + ", ".join(_count(counts.get(k, 0), word) for k, word in (
            ("task_definitions_in_use", "task definition in use|task definitions in use"), ("instances", "container instance"),
            ("task_roles_in_use", "task role"))) + f"; {_count(block.get('api_calls', 0), 'API call')}",
    ]
    if block.get("denied"):
        lines.append("Denied:   " + ", ".join(block["denied"]) + " (the checks that need them are skipped; `probe audit --print-policy`)")
    if block.get("deadline_exceeded"):
        lines.append("Deadline: the audit did not finish; what it saw is judged, the rest is skipped (raise --deadline)")
    return [terminal_safe(line) for line in lines]


def _since_text(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    from probe.checks.audit import _duration

    return _duration(seconds)


# ---- progress -----------------------------------------------------------------------------------


class Progress:
    """One line on a terminal's stderr, rewritten in place; nothing when stderr is no terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.shown = False

    def __call__(self, state: Mapping[str, Any]) -> None:
        line = (f"probe audit: {state['clusters']} clusters, {state['services']} services, {state['tasks']} tasks, "
                f"{state['instances']} instances, {state['task_definitions']} task definitions, {state['roles']} roles; "
                f"{state['calls']} calls, {state['elapsed_s']:.0f} s")
        with self.lock:
            self.stream.write("\r\033[K" + line[:200])
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\r\033[K")
                self.stream.flush()


# ---- the command --------------------------------------------------------------------------------


def _color(settings: Mapping[str, Any], stdout: TextIO) -> bool:
    if settings["no_color"] or settings.get("output"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    return hasattr(stdout, "isatty") and stdout.isatty() and os.environ.get("TERM") != "dumb"


def run(walk_options: walk_facts.Options, settings: Mapping[str, Any], progress: Optional[Any] = None) -> tuple[dict[str, Any], Report]:
    """Walk, then judge: the record and its report."""
    started = utc_now()
    t0 = time.monotonic()
    record = walk_facts.walk(walk_options, progress)
    report = judge(record, settings.get("plan") or (), settings.get("only"), started, int((time.monotonic() - t0) * 1000))
    return record, report


def _refuse(record: Mapping[str, Any], walk_options: walk_facts.Options) -> Optional[str]:
    """Why the audit could not run as asked (exit 2), or None."""
    if record.get("setup_error"):
        return f"cannot start: {record['setup_error']}"
    caller = record.get("caller") or {}
    code = caller.get("error_code")
    if code in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials: the audit runs with API credentials (a profile, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a role)"
    if code in walk_facts.REFUSED_CREDENTIALS:
        return f"AWS refused the credentials ({code}): {caller.get('error')}"
    if walk_options.clusters and not record.get("clusters"):
        denied = any(p.get("kind") == "denied" for p in record.get("problems") or [])
        if not denied:
            return f"no cluster named {', '.join(walk_options.clusters)} in {', '.join(walk_options.regions)}"
    return None


def main(argv: Optional[Sequence[str]] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """`probe audit [--region R ...] [--cluster NAME_OR_ARN ...] [--since DURATION] [--format text|json] ...`"""
    out: TextIO = stdout or sys.stdout
    err: TextIO = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        if args.print_policy:
            out.write(json.dumps(walk_facts.policy_document(), indent=2) + "\n")
            out.flush()
            return EXIT_OK
        settings, walk_options = options_from(args)
        redact.register_env(os.environ)
        progress = Progress(err) if hasattr(err, "isatty") and err.isatty() else None
        try:
            record, report = run(walk_options, settings, progress)
        finally:
            if progress is not None:
                progress.clear()
        why = _refuse(record, walk_options)
        if why:
            raise UsageError(why)
        text = render(report, settings["format"], _color(settings, out), settings["verbose"])
        write_report(text, settings.get("output"), out)
        return exit_code(report.results, strict=settings["strict"])
    return guarded("probe audit", err, body)


# ---- a seeded moto account: the demo, the tests, the benchmark ----------------------------------

ACCOUNT = "123456789012"  # moto's default account
ECS_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
FAKE_KEYS = ("testing", "testing")


class MotoAccount:
    """moto's ECS, EC2, IAM and STS on 127.0.0.1 (ThreadedMotoServer, in this process), seeded
    through the API; what moto does not model is set on its backend, here and only here:

    * DescribeContainerInstances answers agentConnected true and agentVersion 1.0.0 for every
      instance and ignores what RegisterContainerInstance was given: ``instances()`` records the
      connection and version the seed asks for;
    * DescribeTasks answers no stoppedAt and no container reason: ``stop()`` records them.
    * moto moves a task one step towards STOPPED each time DescribeTasks returns it (its
      "ecs::task" state transitions); real tasks run until stopped, so that is turned off.

    Capability attributes go through the real PutAttributes call.
    """

    def __init__(self, region: str = "us-east-1") -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the demo's terminal
        from moto.moto_api import state_manager

        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
        self.region = region
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._clients: dict[tuple[str, str], Any] = {}
        self._ami: dict[str, str] = {}

    def client(self, service: str, region: Optional[str] = None) -> Any:
        import botocore.session
        from botocore.config import Config

        region = region or self.region
        key = (service, region)
        if key not in self._clients:
            session = botocore.session.Session()
            session.set_credentials(*FAKE_KEYS)
            self._clients[key] = session.create_client(
                service, region_name=region, endpoint_url=self.url,
                config=Config(proxies={}, retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=20),
            )
        return self._clients[key]

    def _backend(self, region: Optional[str] = None) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[ACCOUNT][region or self.region]

    def close(self) -> None:
        self.server.stop()

    def __enter__(self) -> "MotoAccount":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- seeding --

    def cluster(self, name: str, region: Optional[str] = None) -> str:
        return str(self.client("ecs", region).create_cluster(clusterName=name)["cluster"]["clusterArn"])

    def role(self, name: str, trust: Optional[Mapping[str, Any]] = None) -> str:
        answer = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust or ECS_TRUST))
        return str(answer["Role"]["Arn"])

    def taskdef(self, family: str, region: Optional[str] = None, containers: Optional[list[dict[str, Any]]] = None, **fields: Any) -> str:
        defs = containers or [{"name": "app", "image": "public.ecr.aws/docker/library/busybox:latest", "memory": 64}]
        answer = self.client("ecs", region).register_task_definition(family=family, containerDefinitions=defs, **fields)
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def instances(self, cluster: str, count: int = 1, *, agent: str = "1.87.0", connected: bool = True,
                  capabilities: Iterable[str] = ("com.amazonaws.ecs.capability.task-iam-role",
                                                 "com.amazonaws.ecs.capability.task-iam-role-network-host"),
                  region: Optional[str] = None) -> list[str]:
        """Register ``count`` EC2 instances in the cluster with these capability attributes."""
        ec2, ecs = self.client("ec2", region), self.client("ecs", region)
        where = region or self.region
        if where not in self._ami:
            self._ami[where] = ec2.describe_images()["Images"][0]["ImageId"]
        ami = self._ami[where]
        out: list[str] = []
        caps = list(capabilities)
        left = count
        while left > 0:
            n = min(left, 100)
            left -= n
            for inst in ec2.run_instances(ImageId=ami, MinCount=n, MaxCount=n)["Instances"]:
                doc = json.dumps({"instanceId": inst["InstanceId"], "region": where, "accountId": ACCOUNT})
                ci = ecs.register_container_instance(
                    cluster=cluster, instanceIdentityDocument=doc,
                    versionInfo={"agentVersion": agent, "agentHash": "seeded", "dockerVersion": "DockerVersion: 25.0.0"},
                )["containerInstance"]
                out.append(str(ci["containerInstanceArn"]))
        attrs = [{"name": cap, "targetId": arn} for arn in out for cap in caps]
        for i in range(0, len(attrs), 10):
            ecs.put_attributes(cluster=cluster, attributes=attrs[i : i + 10])
        backend = self._backend(region)
        name = cluster.rsplit("/", 1)[-1]
        for arn in out:
            ci = backend.container_instances[name][arn.rsplit("/", 1)[-1]]
            ci.agent_connected = connected
            ci.version_info = {"agentVersion": agent, "agentHash": "seeded", "dockerVersion": "DockerVersion: 25.0.0"}
        return out

    def service(self, cluster: str, name: str, taskdef: str, desired: int = 1, launch_type: str = "EC2", region: Optional[str] = None) -> str:
        answer = self.client("ecs", region).create_service(cluster=cluster, serviceName=name, taskDefinition=taskdef,
                                                           desiredCount=desired, launchType=launch_type)
        return str(answer["service"]["serviceArn"])

    def start(self, cluster: str, taskdef: str, instances: Sequence[str], service: Optional[str] = None,
              overrides: Optional[Mapping[str, Any]] = None, region: Optional[str] = None) -> list[str]:
        """One task on each instance (StartTask places them exactly; up to 10 a call)."""
        out: list[str] = []
        for i in range(0, len(instances), 10):
            kw: dict[str, Any] = {"cluster": cluster, "taskDefinition": taskdef, "containerInstances": list(instances[i : i + 10])}
            if service:
                kw.update(group=f"service:{service}", startedBy=f"ecs-svc/{abs(hash(service)) % 10**12}")
            if overrides:
                kw["overrides"] = dict(overrides)
            out.extend(str(t["taskArn"]) for t in self.client("ecs", region).start_task(**kw)["tasks"])
        return out

    def stop(self, cluster: str, task: str, reason: str, container_reason: Optional[str] = None,
             stopped_at: Optional[float] = None, region: Optional[str] = None) -> None:
        from datetime import datetime, timezone

        self.client("ecs", region).stop_task(cluster=cluster, task=task, reason=reason)
        backend = self._backend(region)
        obj = backend.tasks[cluster.rsplit("/", 1)[-1]][task]
        obj.stopped_at = datetime.fromtimestamp(stopped_at if stopped_at is not None else time.time(), timezone.utc)
        if container_reason is not None:
            obj.containers[0].reason = container_reason

    def enforce_iam(self, on: bool) -> None:
        """moto's IAM enforcement: every request after this is checked against the caller's policies."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else float("inf")
        ActionAuthenticatorMixin.request_count = 0

    def user_keys(self, name: str, policy: Mapping[str, Any]) -> tuple[str, str]:
        """An IAM user with this inline policy, and its access key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="audit", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


DEMO_STORY = (
    "A small account in moto (on 127.0.0.1): cluster demo-prod with two container instances. One agent runs with "
    "ECS_ENABLE_TASK_IAM_ROLE off yet still runs a web task with a task role; the worker's task role trusts "
    "ec2.amazonaws.com instead of ECS tasks; and a web task stopped because the execution role may not read its secret."
)


def seed_demo(acct: MotoAccount) -> None:
    """The demo's account: three findings (audit.instance.task-iam-role, audit.trust.ecs-tasks-principal,
    audit.stopped.access-denied), everything else healthy."""
    cluster = acct.cluster("demo-prod")
    web_role = acct.role("web-task-role")
    worker_role = acct.role("worker-task-role", EC2_TRUST)
    execution = acct.role("demo-execution-role")
    web = acct.taskdef("web", taskRoleArn=web_role, executionRoleArn=execution, networkMode="bridge",
                       containers=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 128,
                                    "secrets": [{"name": "DB_PASSWORD", "valueFrom": f"arn:aws:secretsmanager:{acct.region}:{ACCOUNT}:secret:db-AbCdEf"}]}])
    worker = acct.taskdef("worker", taskRoleArn=worker_role, executionRoleArn=execution, networkMode="bridge")
    good = acct.instances(cluster, 1)
    flag_off = acct.instances(cluster, 1, capabilities=("com.amazonaws.ecs.capability.task-iam-role-network-host",))
    acct.service(cluster, "web", web, desired=2)
    acct.service(cluster, "worker", worker, desired=1)
    acct.start(cluster, web, good + flag_off, service="web")
    acct.start(cluster, worker, good, service="worker")
    stopped = acct.start(cluster, web, good, service="web")[0]
    acct.stop(
        cluster, stopped,
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to "
        f"retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:"
        "assumed-role/demo-execution-role/0123456789abcdef0123456789abcdef is not authorized to perform: "
        f"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:{acct.region}:{ACCOUNT}:secret:db-AbCdEf because no "
        "identity-based policy allows the secretsmanager:GetSecretValue action",
        stopped_at=time.time() - 600,
    )


def run_demo(stdout: TextIO, stderr: TextIO, fmt: str = "text", color: bool = False, verbose: bool = False) -> int:
    """`probe demo`'s audit: seed a small account in moto on loopback and audit it. Returns the
    audit's exit code (1: the seeded findings were found), or 2 when moto is not installed."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        stderr.write("probe demo: the audit demo needs moto (pip install 'moto[server]')\n")
        return EXIT_USAGE
    with MotoAccount() as acct:
        seed_demo(acct)
        options = walk_facts.Options(regions=[acct.region], endpoint_url=acct.url, credentials=(FAKE_KEYS[0], FAKE_KEYS[1], None),
                                     deadline_s=60, since_s=3600)
        _record, report = run(options, {})
    if fmt == "text":
        stdout.write(DEMO_STORY + "\n\n")
    stdout.write(render(report, fmt, color, verbose))
    stdout.flush()
    return exit_code(report.results)


if __name__ == "__main__":
    code = main()
    if any(t.is_alive() and t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.stdout.flush()
        os._exit(code)
    raise SystemExit(code)
