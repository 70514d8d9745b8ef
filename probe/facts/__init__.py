"""All I/O of a run: collectors observe, record, and never judge.

``collect_task`` gathers the task-mode facts concurrently under one deadline: the
credentials request, task metadata, IMDS and the botocore chain + STS run in daemon
threads, so a hanging endpoint costs at most its own timeout and an unfinished collector
is simply recorded as such when the deadline comes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional

from probe import TOOL_NAME, __version__, redact

FACTS_SCHEMA = "ecs-credential-probe/facts/v1"
# Collectors a check can ask for; "environ" and "proxy" are cheap and always gathered.
COLLECTORS = ("environ", "proxy", "credentials", "metadata", "imds", "identity", "processes", "sdk", "shim")


@dataclass
class Facts:
    """What one run observed: collector name -> plain record."""

    data: dict[str, Any]
    collected_at: str = ""
    mode: str = "task"
    deadline: float = 5.0
    duration_ms: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def has(self, name: str) -> bool:
        return isinstance(self.data.get(name), dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": FACTS_SCHEMA,
            "tool": {"name": TOOL_NAME, "version": __version__},
            "mode": self.mode,
            "collected_at": self.collected_at,
            "deadline": self.deadline,
            "duration_ms": self.duration_ms,
            "options": self.options,
            "facts": self.data,
        }

    def dumps(self) -> str:
        """The facts as redacted JSON text, fit to attach to a support ticket."""
        return json.dumps(redact.scrub_obj(self.to_dict()), indent=2, sort_keys=True) + "\n"

    @classmethod
    def loads(cls, text: str) -> "Facts":
        """Facts from a saved file. Raises ValueError with a readable reason."""
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
        if not isinstance(doc, dict) or doc.get("schema") != FACTS_SCHEMA or not isinstance(doc.get("facts"), dict):
            raise ValueError(f"not an {FACTS_SCHEMA} document (save one with --save-facts)")
        options = doc.get("options")
        try:
            return cls(
                data=doc["facts"],
                collected_at=str(doc.get("collected_at", "")),
                mode=str(doc.get("mode", "task")),
                deadline=float(doc.get("deadline", 5.0)),
                duration_ms=int(doc.get("duration_ms", 0)),
                options=options if isinstance(options, dict) else {},
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"a field has the wrong type ({exc})") from None


class _Job(threading.Thread):
    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        super().__init__(name=f"probe-{name}", daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.started_at = time.monotonic()
        self.elapsed_ms = 0

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # a collector must never take the run down
            self.error = exc
        finally:
            self.elapsed_ms = int((time.monotonic() - self.started_at) * 1000)


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"collector_error": redact.scrub(f"{type(exc).__name__}: {exc}")[:600]}


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect_task(
    environ: Mapping[str, str],
    deadline_s: float,
    needs: Iterable[str] = COLLECTORS,
    sdk_roots: Optional[list[str]] = None,
    sdk_cache: Optional[dict[str, Any]] = None,
) -> Facts:
    """Observe everything task mode needs, finishing within ``deadline_s`` seconds.

    ``sdk_cache`` (the sidecar's): an image does not change while it runs, so a complete
    SDK scan is kept there and reused for an hour instead of walking the disk every run.
    """
    from probe.facts import endpoints, environ as env_facts, proxy

    started = time.monotonic()
    deadline = started + max(0.2, deadline_s) - 0.15  # leave time to judge and render
    wanted = set(needs) | {"environ", "proxy"}
    data: dict[str, Any] = {}
    target = env_facts.credentials_target(environ)
    token = env_facts.authorization_token(environ)
    data["environ"] = env_facts.collect_environ(environ, target=target, token=token)

    sts_url = environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    data["proxy"] = proxy.collect_proxy(
        environ,
        {
            "credentials": target.get("_raw_url") or (target.get("url") if target.get("source") else None),
            "imds": environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or endpoints.IMDS_DEFAULT,
            "metadata": environ.get("ECS_CONTAINER_METADATA_URI_V4"),
            "sts": sts_url or f"https://sts.{region}.amazonaws.com/",
        },
    )

    jobs: dict[str, _Job] = {}
    cred_job = _Job(
        "credentials",
        lambda: endpoints.fetch_credentials(target, target.get("_raw_url"), token.get("_raw"), token, deadline),
    )
    if "credentials" in wanted or "identity" in wanted:
        jobs["credentials"] = cred_job

    def observed() -> endpoints.Observed:
        cred_job.join(max(0.0, deadline - time.monotonic()))
        if cred_job.is_alive():
            return endpoints.Observed({"requested": True, "error": "no answer before the deadline", "timed_out": True})
        if cred_job.error is not None:
            return endpoints.Observed({"requested": False, "not_requested": str(cred_job.error)})
        return cred_job.result

    uri = environ.get("ECS_CONTAINER_METADATA_URI_V4")
    meta_job = _Job("metadata", lambda: endpoints.fetch_task_metadata(uri, deadline))
    # The survey names containers from metadata; the SDK scan uses the survey for the
    # other containers' roots, unless it was given its roots.
    survey_needed = "processes" in wanted or ("sdk" in wanted and not sdk_roots)
    if "metadata" in wanted or survey_needed:
        jobs["metadata"] = meta_job
    if survey_needed:
        from probe.facts.processes import collect_processes

        def survey() -> dict[str, Any]:
            meta_job.join(max(0.0, min(1.0, deadline - time.monotonic())))
            containers = meta_job.result.get("containers") if isinstance(meta_job.result, dict) else None
            return collect_processes(containers)

        jobs["processes"] = _Job("processes", survey)
    cached = sdk_cache.get("record") if sdk_cache is not None and time.monotonic() - sdk_cache.get("at", -1e9) < 3600 else None
    if "sdk" in wanted and cached is not None:
        data["sdk"] = dict(cached, cached=True)
        wanted.discard("sdk")
    if "sdk" in wanted:
        from probe.facts.sdk import roots_for, scan, scan_elsewhere

        def sdk_scan() -> dict[str, Any]:
            roots = list(sdk_roots or ["/"])
            if not sdk_roots:
                # A sidecar with pidMode task also sees the other containers' filesystems.
                survey_job = jobs["processes"]
                survey_job.join(max(0.0, min(1.0, deadline - time.monotonic())))
                roots = roots_for(roots, survey_job.result if isinstance(survey_job.result, dict) else {})
            # Beside the identity work the scan gets a core of its own; alone (`probe sdk`)
            # a child interpreter would only add its start-up.
            if wanted & {"identity", "credentials"}:
                record = scan_elsewhere(roots, deadline - 0.1)
            else:
                record = scan(roots, deadline - 0.1)
            # Roots the user named are "my application": every SDK there counts as in use.
            record["named_roots"] = bool(sdk_roots)
            if sdk_cache is not None and not record.get("partial"):
                sdk_cache.update(record=record, at=time.monotonic())
            return record

        jobs["sdk"] = _Job("sdk", sdk_scan)
    if "imds" in wanted:
        jobs["imds"] = _Job("imds", lambda: endpoints.fetch_imds(environ, deadline))
    if "identity" in wanted:
        from probe.facts import identity

        jobs["identity"] = _Job("identity", lambda: identity.collect_identity(observed, deadline))

    if "shim" in wanted:
        from probe.facts.shim import collect_shim

        home = environ.get("HOME")
        jobs["shim"] = _Job("shim", lambda: collect_shim(home))
    for job in jobs.values():
        job.start()
    for job in jobs.values():
        job.join(max(0.0, deadline - time.monotonic()))
    unfinished = []
    for name, job in jobs.items():
        if job.is_alive():
            unfinished.append(name)
            data[name] = {"deadline_exceeded": True, "error": f"not finished within the {deadline_s:g} s deadline"}
        elif job.error is not None:
            data[name] = _failed(job.error)
        else:
            result = job.result
            data[name] = result.record if isinstance(result, endpoints.Observed) else result
        data.setdefault(name, {})
        if isinstance(data[name], dict):
            data[name]["collector_ms"] = job.elapsed_ms if not job.is_alive() else int((time.monotonic() - job.started_at) * 1000)
    data["run"] = {"unfinished": unfinished, "pid": os.getpid(), "now_epoch": time.time()}
    return Facts(
        data=data,
        collected_at=utc_now(),
        deadline=deadline_s,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
