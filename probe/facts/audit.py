"""The walk of `probe audit` (issue 23): every ECS, IAM and STS read of an audit, and nothing else.

``walk(options)`` reads, with botocore and read-only calls only, the clusters of each region,
their services, their running and recently stopped tasks, the task definitions those use, the
container instances they run on and the task roles they name, and returns one plain,
JSON-serializable record. It never judges (probe/checks/audit.py does) and never raises: a call
that is denied, fails or does not finish before the deadline is recorded in ``problems`` with
the permission it needed, and the walk goes on with the rest.

How it stays cheap on a large account:

* Batches at the APIs' limits: DescribeClusters and DescribeTasks and DescribeContainerInstances
  take 100 ARNs a call, DescribeServices 10; List* calls ask for 100 a page.
* Each task definition is described once and each role read once, however many services and
  tasks name them (a set under a lock decides who fetches).
* A fixed number of worker threads (``concurrency``) share the work; a page of a list is
  described while the next page is listed. botocore's ``adaptive`` retry mode rate-limits the
  client when ECS or IAM throttles.
* Records keep only the fields the checks read. Environment values of task definitions are
  never kept, except that a proxy variable is kept as "set" and NO_PROXY's host list is kept
  (the proxy check compares it); nothing else of a value leaves the response.
* The deadline bounds the whole walk: at the deadline the workers stop taking work, what was
  gathered is judged, and what was not is recorded as unfinished. Workers are daemon threads;
  a call still in flight cannot hold the process.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from probe import redact

# Every call the audit makes, as IAM names the permission, with why; the order of
# `probe audit --print-policy`. sts:GetCallerIdentity needs no permission.
PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("ecs:ListClusters", "find the clusters (not needed when every cluster is named with --cluster)"),
    ("ecs:DescribeClusters", "cluster names and status"),
    ("ecs:ListServices", "find the services of each cluster"),
    ("ecs:DescribeServices", "which task definitions the services run"),
    ("ecs:ListTasks", "find the running and stopped tasks"),
    ("ecs:DescribeTasks", "task definition, container instance, role overrides and stop reasons of each task"),
    ("ecs:ListContainerInstances", "find the container instances"),
    ("ecs:DescribeContainerInstances", "agent connection, agent version and capability attributes of each instance"),
    ("ecs:DescribeTaskDefinition", "task role, network mode and container definitions of the task definitions in use"),
    ("iam:GetRole", "the trust policy of each task role in use"),
)
BATCH = {"DescribeClusters": 100, "DescribeServices": 10, "DescribeTasks": 100, "DescribeContainerInstances": 100}
PAGE = 100
# What a part of the walk costs: `--only`/`--skip` leave out the parts no selected check needs.
PARTS = ("services", "running", "stopped", "instances", "taskdefs", "roles")

DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
    "AuthorizationError", "AuthorizationErrorException", "NotAuthorized",
})
# Kept from each environment entry: the value of these (the proxy check needs the host list)...
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
# ... and only "set" for these (a proxy URL may hold a password).
PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
SET = "(set)"
# GetCallerIdentity's answers that mean no call of the audit can succeed.
REFUSED_CREDENTIALS = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "InvalidClientTokenId", "UnrecognizedClientException",
    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
})
MAX_REASON = 2000  # characters of a stop reason kept
MAX_ARGV = 64  # words of an entryPoint / command kept


@dataclass
class Options:
    """What to walk. ``clusters`` are names or ARNs (empty: every cluster of each region)."""

    regions: Sequence[str]
    clusters: Sequence[str] = ()
    since_s: float = 3600.0
    deadline_s: float = 300.0
    concurrency: int = 8
    parts: frozenset[str] = frozenset(PARTS)
    # Explicit endpoint and credentials (the demo and tests); otherwise botocore's own
    # settings: AWS_ENDPOINT_URL(_ECS/_IAM/_STS), profiles, the default credential chain.
    endpoint_url: Optional[str] = None
    credentials: Optional[tuple[str, str, Optional[str]]] = None
    now: Optional[float] = None  # epoch seconds "now" for --since (tests); default: the clock


class _Stopped(Exception):
    """The deadline came: no more calls."""


@dataclass
class _State:
    record: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    taskdefs_asked: set[str] = field(default_factory=set)
    roles_asked: set[str] = field(default_factory=set)
    stopped: threading.Event = field(default_factory=threading.Event)


class _Pool:
    """A fixed set of daemon worker threads; jobs may submit more jobs; ``wait`` returns
    when no job is left or at the deadline."""

    def __init__(self, workers: int, on_error: Callable[[BaseException], None]) -> None:
        self._queue: "queue.Queue[Optional[tuple[Callable[..., None], tuple[Any, ...]]]]" = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._on_error = on_error
        self.stopped = False
        self._threads = [threading.Thread(target=self._work, name=f"probe-audit-{i}", daemon=True) for i in range(max(1, workers))]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self.stopped:
            return
        with self._idle:
            self._pending += 1
        self._queue.put((fn, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                if not self.stopped:
                    fn(*args)
            except _Stopped:
                pass
            except BaseException as exc:  # a job must never take the walk down
                self._on_error(exc)
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.notify_all()

    def wait(self, until: float) -> bool:
        """True when every job finished, False at the deadline."""
        with self._idle:
            while self._pending > 0:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.25))
        return True

    def stop(self) -> None:
        self.stopped = True
        for _ in self._threads:
            self._queue.put(None)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _epoch(value: Any) -> Optional[float]:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _name_of(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def _argv(value: Any) -> Optional[list[str]]:
    return [str(w) for w in value[:MAX_ARGV]] if isinstance(value, list) else None


def trim_task_definition(td: Mapping[str, Any]) -> dict[str, Any]:
    """What the taskdef.* checks and the audit read of a task definition; no environment value
    but the NO_PROXY host list (proxy variables are kept as "set"), no secret's source."""
    out: dict[str, Any] = {
        k: td.get(k)
        for k in ("taskDefinitionArn", "family", "revision", "status", "taskRoleArn", "executionRoleArn", "networkMode",
                  "pidMode", "requiresCompatibilities", "compatibilities")
        if td.get(k) is not None
    }
    containers = []
    for c in td.get("containerDefinitions") or []:
        if not isinstance(c, dict):
            continue
        kept: dict[str, Any] = {"name": c.get("name")}
        env = []
        for e in c.get("environment") or []:
            if not isinstance(e, dict):
                continue
            name = str(e.get("name", ""))
            item: dict[str, Any] = {"name": name}
            if name in NO_PROXY_VARS and isinstance(e.get("value"), str):
                item["value"] = ",".join(h.strip() for h in e["value"].split(",")[:200])
            elif name in PROXY_VARS and e.get("value"):
                item["value"] = SET
            env.append(item)
        kept["environment"] = env
        kept["secrets"] = [{"name": str(s.get("name", ""))} for s in c.get("secrets") or [] if isinstance(s, dict)]
        for key in ("entryPoint", "command"):
            argv = _argv(c.get(key))
            if argv is not None:
                kept[key] = argv
        if isinstance(c.get("dependsOn"), list):
            kept["dependsOn"] = [
                {"containerName": d.get("containerName"), "condition": d.get("condition")} for d in c["dependsOn"] if isinstance(d, dict)
            ]
        if isinstance(c.get("healthCheck"), dict):
            kept["healthCheck"] = {"command": _argv(c["healthCheck"].get("command")) or []}
        containers.append(kept)
    out["containerDefinitions"] = containers
    return out


def _task(t: Mapping[str, Any], region: str) -> dict[str, Any]:
    overrides = t.get("overrides")
    if not isinstance(overrides, dict):
        overrides = {}
    group = str(t.get("group") or "")
    rec: dict[str, Any] = {
        "arn": t.get("taskArn"),
        "region": region,
        "cluster": t.get("clusterArn"),
        "task_definition": t.get("taskDefinitionArn"),
        "group": group,
        "service": group[len("service:"):] if group.startswith("service:") else None,
        "last_status": t.get("lastStatus"),
        "desired_status": t.get("desiredStatus"),
        "launch_type": t.get("launchType") or None,
        "instance": t.get("containerInstanceArn"),
        "task_role_override": overrides.get("taskRoleArn"),
        "execution_role_override": overrides.get("executionRoleArn"),
    }
    if t.get("stoppedReason") or t.get("lastStatus") == "STOPPED" or t.get("desiredStatus") == "STOPPED":
        rec["stopped_reason"] = str(t.get("stoppedReason") or "")[:MAX_REASON]
        rec["stop_code"] = t.get("stopCode")
        rec["stopped_at"] = _epoch(t.get("stoppedAt"))
        rec["containers"] = [
            {"name": c.get("name"), "reason": str(c.get("reason"))[:MAX_REASON]}
            for c in t.get("containers") or []
            if isinstance(c, dict) and c.get("reason")
        ]
    return rec


def _instance(ci: Mapping[str, Any], cluster: str, region: str) -> dict[str, Any]:
    version = ci.get("versionInfo")
    if not isinstance(version, dict):
        version = {}
    return {
        "arn": ci.get("containerInstanceArn"),
        "region": region,
        "cluster": cluster,
        "ec2_instance_id": ci.get("ec2InstanceId"),
        "status": ci.get("status"),
        "agent_connected": ci.get("agentConnected"),
        "agent_version": version.get("agentVersion"),
        "attributes": sorted({str(a.get("name")) for a in ci.get("attributes") or [] if isinstance(a, dict) and a.get("name")}),
        "running_tasks_count": ci.get("runningTasksCount"),
    }


def _service(s: Mapping[str, Any], region: str) -> dict[str, Any]:
    tds = [s.get("taskDefinition")] + [d.get("taskDefinition") for d in s.get("deployments") or [] if isinstance(d, dict)]
    seen: list[str] = []
    for td in tds:
        if isinstance(td, str) and td and td not in seen:
            seen.append(td)
    return {
        "arn": s.get("serviceArn"),
        "name": s.get("serviceName"),
        "region": region,
        "cluster": s.get("clusterArn"),
        "task_definitions": seen,
        "launch_type": s.get("launchType"),
        "desired": s.get("desiredCount"),
        "running": s.get("runningCount"),
        "status": s.get("status"),
    }


class Walker:
    """One audit's reads. Build it, then ``run()``; the record is in ``record``."""

    def __init__(self, options: Options, progress: Optional[Callable[[Mapping[str, Any]], None]] = None,
                 session: Any = None) -> None:
        self.options = options
        self.progress = progress
        self.started = time.monotonic()
        self.deadline = self.started + max(0.5, options.deadline_s) - 0.5  # leave a moment to judge and render
        now = options.now if options.now is not None else time.time()
        self.record: dict[str, Any] = {
            "regions": list(options.regions),
            "clusters_named": list(options.clusters),
            "since_s": options.since_s,
            "now_epoch": now,
            "parts": sorted(options.parts),
            "caller": {},
            "clusters": {},
            "services": {},
            "tasks": {},
            "instances": {},
            "task_definitions": {},
            "roles": {},
            "problems": [],
            "calls": {},
            "requests": 0,
            "deadline_exceeded": False,
            "stopped_listed": 0,
            "stopped_older": 0,
        }
        self.state = _State(self.record)
        self._problem_keys: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._session = session
        self._last_progress = 0.0

    # ---- clients ------------------------------------------------------------------------

    def _clients(self) -> tuple[dict[str, Any], Any, Any]:
        import botocore.session
        from botocore.config import Config

        session = self._session or botocore.session.Session()
        if self.options.credentials is not None:
            session.set_credentials(*self.options.credentials)
        config = Config(
            retries={"mode": "adaptive", "total_max_attempts": 8},
            max_pool_connections=max(10, self.options.concurrency + 2),
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="ecs-credential-probe-audit",
            # An explicit endpoint (the demo, the tests) is reached directly, never through a proxy.
            **({"proxies": {}} if self.options.endpoint_url else {}),
        )
        extra: dict[str, Any] = {"endpoint_url": self.options.endpoint_url} if self.options.endpoint_url else {}
        ecs = {r: session.create_client("ecs", region_name=r, config=config, **extra) for r in self.options.regions}
        home = self.options.regions[0]
        iam = session.create_client("iam", region_name=home, config=config, **extra)
        sts = session.create_client("sts", region_name=home, config=config, **extra)
        for client in list(ecs.values()) + [iam, sts]:
            client.meta.events.register("before-call", self._count_call)
            client.meta.events.register("before-send", self._count_request)
        return ecs, iam, sts

    def _count_call(self, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        prefix = model.service_model.signing_name or model.service_model.endpoint_prefix
        name = f"{prefix}:{model.name}"
        with self.state.lock:
            self.record["calls"][name] = self.record["calls"].get(name, 0) + 1

    def _count_request(self, **_: Any) -> None:
        with self.state.lock:
            self.record["requests"] += 1

    # ---- problems -----------------------------------------------------------------------

    def _problem(self, permission: str, kind: str, where: str, code: Optional[str] = None, message: str = "") -> None:
        key = (permission, kind, where)
        with self.state.lock:
            known = self._problem_keys.get(key)
            if known is not None:
                known["count"] += 1
                return
            item = {"permission": permission, "kind": kind, "where": where, "code": code,
                    "message": redact.scrub(message)[:400], "count": 1}
            self._problem_keys[key] = item
            self.record["problems"].append(item)

    def _call(self, client: Any, operation: str, permission: str, where: str, **params: Any) -> Optional[dict[str, Any]]:
        """One API call; None when it was denied or failed (recorded with its permission)."""
        if self.state.stopped.is_set():
            raise _Stopped()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(client, operation)(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
            code = str(err.get("Code") or "")
            message = str(err.get("Message") or exc)
            status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") if isinstance(exc.response, dict) else None
            denied = code in DENIED_CODES or (
                status == 403 and ("AccessDenied" in message or "not authorized" in message)
            )
            if denied:
                # moto's enforcement answers ECS in XML; AWS answers AccessDeniedException JSON.
                self._problem(permission, "denied", where, "AccessDenied" if code == "403" else code, message)
            elif code == "NoSuchEntity" and operation == "get_role":
                raise
            else:
                self._problem(permission, "error", where, code or str(status), message)
            return None
        except (BotoCoreError, OSError, ValueError) as exc:
            self._problem(permission, "error", where, type(exc).__name__, str(exc))
            return None

    def _paginate(self, client: Any, operation: str, key: str, permission: str, where: str, **params: Any) -> Iterator[list[str]]:
        token: Optional[str] = None
        seen_tokens: set[str] = set()
        while True:
            args = dict(params, maxResults=PAGE)
            if token:
                args["nextToken"] = token
            page = self._call(client, operation, permission, where, **args)
            if page is None:
                return
            yield [str(a) for a in page.get(key) or []]
            token = page.get("nextToken")
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)

    def _tick(self) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        with self.state.lock:
            if now - self._last_progress < 0.2:
                return
            self._last_progress = now
            r = self.record
            state = {
                "clusters": len(r["clusters"]), "services": len(r["services"]), "tasks": len(r["tasks"]),
                "instances": len(r["instances"]), "task_definitions": len(r["task_definitions"]), "roles": len(r["roles"]),
                "calls": sum(r["calls"].values()), "elapsed_s": now - self.started,
            }
        self.progress(state)

    # ---- the walk -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        try:
            ecs, iam, sts = self._clients()
        except Exception as exc:  # no botocore, a bad region or profile: nothing can be read
            self.record["setup_error"] = redact.scrub(f"{type(exc).__name__}: {exc}")[:400]
            return self._finish()
        self._iam = iam
        self._caller(sts)
        if self.record["caller"].get("error_code") in REFUSED_CREDENTIALS:
            return self._finish()  # nothing can be read; the command says so
        pool = _Pool(self.options.concurrency, self._internal_error)
        self._pool = pool
        for region in self.options.regions:
            pool.submit(self._region, ecs[region], region)
        done = pool.wait(self.deadline)
        if not done:
            self.state.stopped.set()
            self.record["deadline_exceeded"] = True
            self._problem("(deadline)", "deadline", "the whole walk", None,
                          f"not finished within the {self.options.deadline_s:g} s deadline")
        pool.stop()
        return self._finish()

    def _finish(self) -> dict[str, Any]:
        with self.state.lock:
            self.record["elapsed_ms"] = int((time.monotonic() - self.started) * 1000)
            # A snapshot: a call still in flight after the deadline must not change what is judged.
            return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in self.record.items()}

    def _internal_error(self, exc: BaseException) -> None:
        self._problem("(internal)", "error", "the walk", type(exc).__name__, str(exc))

    def _caller(self, sts: Any) -> None:
        """Who audits, and the account: GetCallerIdentity needs no permission."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = sts.get_caller_identity()
            self.record["caller"] = {"arn": answer.get("Arn"), "account": answer.get("Account")}
        except ClientError as exc:
            code = str((exc.response.get("Error") or {}).get("Code") or "") if isinstance(exc.response, dict) else ""
            self.record["caller"] = {"error": redact.scrub(f"{type(exc).__name__}: {exc}")[:400], "error_code": code}
        except (BotoCoreError, OSError, ValueError) as exc:
            self.record["caller"] = {"error": redact.scrub(f"{type(exc).__name__}: {exc}")[:400], "error_code": type(exc).__name__}

    def _region(self, ecs: Any, region: str) -> None:
        named = [c for c in self.options.clusters if not c.startswith("arn:") or f":{region}:" in c]
        if self.options.clusters:
            arns = named
        else:
            arns = []
            for page in self._paginate(ecs, "list_clusters", "clusterArns", "ecs:ListClusters", f"region {region}"):
                arns.extend(page)
        for batch in _chunks(arns, BATCH["DescribeClusters"]):
            self._pool.submit(self._describe_clusters, ecs, region, batch)

    def _describe_clusters(self, ecs: Any, region: str, batch: list[str]) -> None:
        answer = self._call(ecs, "describe_clusters", "ecs:DescribeClusters", f"region {region}", clusters=batch)
        if answer is None:
            # Without DescribeClusters the walk goes on with the names and ARNs it has.
            found = [{"clusterArn": c if c.startswith("arn:") else None, "clusterName": _name_of(c), "status": None} for c in batch]
        else:
            found = [c for c in answer.get("clusters") or [] if isinstance(c, dict)]
            for failure in answer.get("failures") or []:
                arn = str(failure.get("arn") or "")
                self._problem("ecs:DescribeClusters", "missing", f"cluster {_name_of(arn)} ({region})", failure.get("reason"),
                              f"cluster {_name_of(arn)} was not found in {region}")
        for c in found:
            status = c.get("status")
            if status not in (None, "ACTIVE", "PROVISIONING", "DEPROVISIONING"):
                continue  # INACTIVE: deleted, nothing runs there
            ident = c.get("clusterArn") or c.get("clusterName")
            key = c.get("clusterArn") or f"{region}/{c.get('clusterName')}"
            with self.state.lock:
                self.record["clusters"][key] = {"arn": c.get("clusterArn"), "name": c.get("clusterName") or _name_of(str(ident)),
                                                "region": region, "status": status}
            where = f"cluster {c.get('clusterName') or _name_of(str(ident))} ({region})"
            parts = self.options.parts
            if "services" in parts:
                self._pool.submit(self._services, ecs, region, ident, where)
            if "running" in parts or "instances" in parts:
                self._pool.submit(self._tasks, ecs, region, ident, where, "RUNNING")
            if "stopped" in parts:
                self._pool.submit(self._tasks, ecs, region, ident, where, "STOPPED")
            if "instances" in parts:
                self._pool.submit(self._instances, ecs, region, ident, where)
        self._tick()

    def _services(self, ecs: Any, region: str, cluster: str, where: str) -> None:
        for page in self._paginate(ecs, "list_services", "serviceArns", "ecs:ListServices", where, cluster=cluster):
            for batch in _chunks(page, BATCH["DescribeServices"]):
                self._pool.submit(self._describe_services, ecs, region, cluster, where, batch)

    def _describe_services(self, ecs: Any, region: str, cluster: str, where: str, batch: list[str]) -> None:
        answer = self._call(ecs, "describe_services", "ecs:DescribeServices", where, cluster=cluster, services=batch)
        if answer is None:
            return
        for s in answer.get("services") or []:
            if not isinstance(s, dict) or s.get("status") == "INACTIVE":
                continue
            rec = _service(s, region)
            with self.state.lock:
                self.record["services"][str(rec["arn"])] = rec
            for td in rec["task_definitions"]:
                self._taskdef(ecs, region, td)
        self._tick()

    def _tasks(self, ecs: Any, region: str, cluster: str, where: str, status: str) -> None:
        for page in self._paginate(ecs, "list_tasks", "taskArns", "ecs:ListTasks", where, cluster=cluster, desiredStatus=status):
            for batch in _chunks(page, BATCH["DescribeTasks"]):
                self._pool.submit(self._describe_tasks, ecs, region, cluster, where, batch, status)

    def _describe_tasks(self, ecs: Any, region: str, cluster: str, where: str, batch: list[str], status: str) -> None:
        answer = self._call(ecs, "describe_tasks", "ecs:DescribeTasks", where, cluster=cluster, tasks=batch)
        if answer is None:
            return
        since = self.record["now_epoch"] - self.options.since_s
        for t in answer.get("tasks") or []:
            if not isinstance(t, dict):
                continue
            rec = _task(t, region)
            if status == "STOPPED":
                with self.state.lock:
                    self.record["stopped_listed"] += 1
                if rec.get("stopped_at") is not None and rec["stopped_at"] < since:
                    with self.state.lock:
                        self.record["stopped_older"] += 1
                    continue
            elif rec.get("desired_status") == "STOPPED" or rec.get("last_status") == "STOPPED":
                continue  # stopped between the list and the describe: the STOPPED walk has it
            with self.state.lock:
                self.record["tasks"][str(rec["arn"])] = rec
            if rec.get("task_definition"):
                self._taskdef(ecs, region, str(rec["task_definition"]))
            if status == "RUNNING" and rec.get("task_role_override"):
                self._role(str(rec["task_role_override"]))
        self._tick()

    def _instances(self, ecs: Any, region: str, cluster: str, where: str) -> None:
        for page in self._paginate(ecs, "list_container_instances", "containerInstanceArns", "ecs:ListContainerInstances", where, cluster=cluster):
            for batch in _chunks(page, BATCH["DescribeContainerInstances"]):
                self._pool.submit(self._describe_instances, ecs, region, cluster, where, batch)

    def _describe_instances(self, ecs: Any, region: str, cluster: str, where: str, batch: list[str]) -> None:
        answer = self._call(ecs, "describe_container_instances", "ecs:DescribeContainerInstances", where,
                            cluster=cluster, containerInstances=batch)
        if answer is None:
            return
        cluster_arn = cluster
        for ci in answer.get("containerInstances") or []:
            if not isinstance(ci, dict):
                continue
            rec = _instance(ci, cluster_arn, region)
            with self.state.lock:
                self.record["instances"][str(rec["arn"])] = rec
        self._tick()

    def _taskdef(self, ecs: Any, region: str, arn: str) -> None:
        with self.state.lock:
            if arn in self.state.taskdefs_asked:
                return
            self.state.taskdefs_asked.add(arn)
        self._pool.submit(self._describe_taskdef, ecs, region, arn)

    def _describe_taskdef(self, ecs: Any, region: str, arn: str) -> None:
        answer = self._call(ecs, "describe_task_definition", "ecs:DescribeTaskDefinition", f"task definition {_name_of(arn)} ({region})",
                            taskDefinition=arn)
        if answer is None or not isinstance(answer.get("taskDefinition"), dict):
            return
        td = trim_task_definition(answer["taskDefinition"])
        with self.state.lock:
            self.record["task_definitions"][arn] = td
        if td.get("taskRoleArn"):
            self._role(str(td["taskRoleArn"]))
        self._tick()

    def _role(self, arn: str) -> None:
        if "roles" not in self.options.parts:
            return
        with self.state.lock:
            if arn in self.state.roles_asked:
                return
            self.state.roles_asked.add(arn)
        self._pool.submit(self._get_role, arn)

    def _get_role(self, arn: str) -> None:
        from probe.facts.trust import ROLE_ARN, account_of, parse_policy

        m = ROLE_ARN.match(arn)
        name = m.group(2) if m else _name_of(arn)
        rec: dict[str, Any] = {"role": arn, "name": name, "source": f"iam:GetRole {name}", "account": account_of(arn),
                               "account_source": "role ARN" if account_of(arn) else None}
        caller_account = self.record["caller"].get("account")
        if m and caller_account and m.group(1) != caller_account:
            # GetRole takes a name and reads the caller's own account: another account's role
            # of the same name would be judged instead of this one.
            rec["other_account"] = m.group(1)
        else:
            from botocore.exceptions import ClientError

            try:
                answer = self._call(self._iam, "get_role", "iam:GetRole", f"role {name}", RoleName=name)
            except ClientError as exc:  # NoSuchEntity
                rec["exists"] = False
                rec["error_code"] = "NoSuchEntity"
                rec["error"] = redact.scrub(str(exc))[:300]
                answer = None
            if answer is not None and isinstance(answer.get("Role"), dict):
                role = answer["Role"]
                rec["exists"] = True
                rec["role_arn"] = role.get("Arn")
                if account_of(role.get("Arn")):  # a short name in taskRoleArn: the account is the role's own
                    rec["account"], rec["account_source"] = account_of(role.get("Arn")), "role ARN"
                doc = role.get("AssumeRolePolicyDocument")
                try:
                    rec["policy"] = parse_policy(doc) if isinstance(doc, str) else doc
                except ValueError as exc:
                    rec["error"] = f"the trust policy could not be read: {exc}"
            elif "exists" not in rec:
                rec["unread"] = True  # denied or failed: see problems
        with self.state.lock:
            self.record["roles"][arn] = rec
        self._tick()


def walk(options: Options, progress: Optional[Callable[[Mapping[str, Any]], None]] = None, session: Any = None) -> dict[str, Any]:
    """The audit's record (see the module docstring). Never raises."""
    return Walker(options, progress, session).run()


def policy_document() -> dict[str, Any]:
    """The minimal read-only IAM policy the audit needs (`probe audit --print-policy`)."""
    ecs = [p for p, _why in PERMISSIONS if p.startswith("ecs:")]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ProbeAuditEcsRead", "Effect": "Allow", "Action": ecs, "Resource": "*"},
            # GetRole's only resource type is a role: "*" grants no more than arn:aws:iam::*:role/*.
            {"Sid": "ProbeAuditTaskRoleTrust", "Effect": "Allow", "Action": ["iam:GetRole"], "Resource": "*"},
        ],
    }


SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds of "90m", "1h30m", "2d", "3600" (seconds); ValueError otherwise."""
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for m in SINCE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"not a duration: {text!r} (say 90m, 1h30m, 2d or seconds)")
    return total


def permissions_of(items: Iterable[object]) -> list[str]:
    """The permissions named, in the policy's order (anything not a permission is ignored)."""
    wanted = set(items)
    return [p for p, _why in PERMISSIONS if p in wanted]
