"""What `probe watch` exports besides its report: the /metrics body (Prometheus text format)
and the CloudWatch Embedded Metric Format line.

The Prometheus series follow the exposition conventions (https://prometheus.io/docs/practices/naming/):

- states are one 0/1 series per state, as client_python's ``Enum`` renders them, so a query
  selects a state by label (``check_status{status="fail"} == 1``) instead of decoding a
  number; the state label is named ``status`` / ``verdict`` rather than ``Enum``'s fixed
  label (the metric's own name), so the families are built here with client_python's metric
  families rather than its ``Enum`` class;
- text goes into an ``_info`` series of value 1 (client_python's ``Info``);
- times are Unix timestamps in seconds, so a rule computes "how long until" against
  ``time()`` whenever Prometheus evaluates it, not when the probe last ran;
- a value the probe does not know is absent, never NaN: ``absent()`` and ``unless``
  work on it, and no alert fires on a NaN comparison by accident.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from probe import __version__, redact
from probe.facts import Facts
from probe.model import Report, Status

PREFIX = "ecs_credential_probe_"
CHECK_STATES = (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.SKIP)
# "error": the run itself raised (the sidecar's /healthz says so too); a report's verdict
# is one of the other three.
VERDICT_STATES = ("pass", "warn", "fail", "error")
EMF_NAMESPACE = "ECSCredentialProbe"

HELP = {
    "build_info": "The probe's version (always 1). Before the first diagnosis finishes it is the only series and /metrics answers 503",
    "check_status": "1 for the status each check had in the last run, 0 for the other statuses (pass, warn, fail, error, skip)",
    "verdict": "1 for the verdict of the last run, 0 for the others (pass, warn, fail; error when the run itself failed)",
    "identity_info": "The identity the default credential chain got in the last run (always 1); absent when the run failed",
    "credentials_expiry_timestamp_seconds": "When the served task credentials expire (their Expiration, Unix time); absent when unknown",
    "run_duration_seconds": "Wall time of the last diagnosis; absent when the run failed",
    "last_run_timestamp_seconds": "When the last diagnosis finished (Unix time)",
    "runs": "Diagnoses run",
    "failures": "Diagnoses whose verdict was fail, or that could not finish",
}


@dataclass(frozen=True)
class LastRun:
    """What one run leaves for /metrics; ``None`` fields are absent series."""

    verdict: str
    finished_at: float
    checks: tuple[tuple[str, str], ...] = ()
    identity: Optional[tuple[str, str]] = None  # (kind, role)
    expiry: Optional[float] = None
    duration: Optional[float] = None


def credentials_expiry(facts: Facts) -> Optional[float]:
    """The Unix time the served credentials expire, when the endpoint served usable ones."""
    from probe.checks.endpoint import parse_time

    rec = facts.get("credentials")
    if rec.get("status") != 200 or rec.get("fields_missing"):
        return None
    return parse_time(rec.get("expiration"))


def seconds_left(report: Report) -> Optional[float]:
    """Seconds the credentials had left when they arrived (endpoint.credentials-expiry)."""
    for r in report.results:
        if r.id == "endpoint.credentials-expiry" and "seconds_left" in r.data:
            return float(r.data["seconds_left"])
    return None


class Metrics:
    """The /metrics body: counters kept across runs, the rest from the last run.

    A custom collector (client_python's pattern for exporters): each body is rendered from
    the last run's state alone, so a check, identity or expiry the last run did not report
    is not left behind from an earlier one.
    """

    def __init__(self, version: str = __version__) -> None:
        from prometheus_client import CollectorRegistry

        self.version = version
        self.runs = 0
        self.failures = 0
        self.last: Optional[LastRun] = None
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def starting(self) -> bytes:
        """The body before the first run: the build info, and a comment saying why only that."""
        return b"# No diagnosis has finished yet: only the build info until the first run ends.\n" + self.render()

    def record(self, report: Report, facts: Facts) -> bytes:
        """Take a finished run; return the new body."""
        ident = report.identity or {}
        run = LastRun(
            verdict={Status.PASS: "pass", Status.WARN: "warn"}.get(report.verdict, "fail"),
            finished_at=time.time(),
            checks=tuple((r.id, r.status.value) for r in report.results),
            identity=(str(ident.get("kind") or "unknown"), str(ident.get("role_name") or "")),
            expiry=credentials_expiry(facts),
            duration=report.duration_ms / 1000,
        )
        with self._lock:
            self.runs += 1
            if report.verdict is Status.FAIL:
                self.failures += 1
            self.last = run
        return self.render()

    def record_error(self) -> bytes:
        """Take a run that raised: verdict error, nothing else known about it."""
        with self._lock:
            self.runs += 1
            self.failures += 1
            self.last = LastRun(verdict="error", finished_at=time.time())
        return self.render()

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        # The label values are scrubbed one by one in collect(), before client_python escapes
        # them; the body is scrubbed again last, as every output is (scrub keeps each line and
        # label of it: issue 19, item 5).
        return redact.scrub(generate_latest(self.registry).decode()).encode()

    def collect(self) -> Iterator[Any]:
        """The families, in client_python's collector protocol."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        with self._lock:
            runs, failures, last = self.runs, self.failures, self.last
        yield InfoMetricFamily(PREFIX + "build", HELP["build_info"], value={"version": self.version})
        if last is None:
            return
        if last.checks:
            checks = GaugeMetricFamily(PREFIX + "check_status", HELP["check_status"], labels=["check", "status"])
            for check, status in last.checks:
                for state in CHECK_STATES:
                    checks.add_metric([redact.scrub(check), state.value], 1 if status == state.value else 0)
            yield checks
        verdict = GaugeMetricFamily(PREFIX + "verdict", HELP["verdict"], labels=["verdict"])
        for verdict_state in VERDICT_STATES:
            verdict.add_metric([verdict_state], 1 if last.verdict == verdict_state else 0)
        yield verdict
        if last.identity is not None:
            yield InfoMetricFamily(PREFIX + "identity", HELP["identity_info"], value={"kind": redact.scrub(last.identity[0]), "role": redact.scrub(last.identity[1])})
        if last.expiry is not None:
            yield GaugeMetricFamily(PREFIX + "credentials_expiry_timestamp_seconds", HELP["credentials_expiry_timestamp_seconds"], value=last.expiry)
        if last.duration is not None:
            yield GaugeMetricFamily(PREFIX + "run_duration_seconds", HELP["run_duration_seconds"], value=last.duration)
        yield GaugeMetricFamily(PREFIX + "last_run_timestamp_seconds", HELP["last_run_timestamp_seconds"], value=last.finished_at)
        yield CounterMetricFamily(PREFIX + "runs", HELP["runs"], value=runs)
        yield CounterMetricFamily(PREFIX + "failures", HELP["failures"], value=failures)


# arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME (what Fargate's task metadata gives as Cluster)
_CLUSTER_ARN = re.compile(r"^(arn:[a-z0-9-]+:ecs:[a-z0-9-]+:\d{12}:)cluster/([A-Za-z0-9_-]{1,255})$")
# arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID (the long task ARN format; the old one has no cluster)
_TASK_ARN = re.compile(r"^(arn:[a-z0-9-]+:ecs:[a-z0-9-]+:\d{12}:)task/([A-Za-z0-9_-]{1,255})/[A-Za-z0-9-]+$")


def cluster_names(cluster: Any, task_arn: Any) -> tuple[str, Optional[str]]:
    """(short name, ARN or None) of the task's cluster.

    Task metadata gives ``Cluster`` as the short name on EC2 and as the full ARN on Fargate;
    a CloudWatch dimension must be the same for both (an alarm names ``prod``), so the name
    is the dimension and the ARN, when known or derivable from the task ARN, a property.
    """
    text = cluster if isinstance(cluster, str) else ""
    m = _CLUSTER_ARN.match(text)
    if m:
        return m.group(2), text
    if not text:
        return "unknown", None
    t = _TASK_ARN.match(task_arn) if isinstance(task_arn, str) else None
    if t and t.group(2) == text:
        return text, f"{t.group(1)}cluster/{text}"
    return text, None


def emf_line(report: Report, facts: Facts, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The report as one CloudWatch Embedded Metric Format record."""
    info = facts.get("metadata").get("info") or {}
    failed = sum(1 for r in report.results if r.status.failing)
    left = seconds_left(report)
    ident = report.identity or {}
    cluster, cluster_arn = cluster_names(info.get("cluster"), info.get("task_arn"))
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    "Dimensions": [["Cluster", "TaskFamily"]],
                    "Metrics": [
                        {"Name": "ProbeFailed", "Unit": "Count"},
                        {"Name": "FailedChecks", "Unit": "Count"},
                        {"Name": "TaskRoleOk", "Unit": "Count"},
                        {"Name": "RunDuration", "Unit": "Milliseconds"},
                    ]
                    + ([{"Name": "CredentialsExpirySeconds", "Unit": "Seconds"}] if left is not None else []),
                }
            ],
        },
        # From the task metadata as they came: scrubbed here (the report is scrubbed already).
        "Cluster": redact.scrub(cluster),
        "TaskFamily": redact.scrub(str(info.get("family") or "unknown")),
        "ProbeFailed": 1 if report.verdict is Status.FAIL else 0,
        "FailedChecks": failed,
        "TaskRoleOk": 1 if ident.get("kind") == "task-role" else 0,
        "RunDuration": report.duration_ms,
        "IdentityKind": redact.scrub(str(ident.get("kind") or "unknown")),
        "report": dict(doc),
    }
    if cluster_arn is not None:
        record["ClusterArn"] = redact.scrub(cluster_arn)
    if left is not None:
        record["CredentialsExpirySeconds"] = left
    return record
