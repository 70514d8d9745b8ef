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
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from probe import TOOL_NAME, __version__, redact

if TYPE_CHECKING:
    from probe.facts.target import Target

FACTS_SCHEMA = "ecs-credential-probe/facts/v1"
# Collectors a check can ask for; "environ" and "proxy" are cheap and always gathered.
COLLECTORS = ("environ", "proxy", "credentials", "metadata", "imds", "identity", "processes", "sdk", "shim")
# Recorded alongside "credentials" when both URI variables are set: the full URI's answer.


# ---- the shape of a saved facts file (--facts) ------------------------------------------
# A file from outside is held to the shape the collectors write before any check reads
# it: a field of the wrong type is refused at load (exit 2 with its path), so a check
# `error` means a bug in the check, never a hand-edited file. Fields not listed are not
# read by any check and pass as they are.

MAX_FACTS_BYTES = 16 << 20
MAX_DEPTH = 32  # the collectors write at most 7 levels
MAX_ITEMS = 20_000  # per list: 2000 processes and 500 SDKs at most are written


class _Opt:
    """null, or the inner shape."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner


class _Need:
    """A field every record of this kind has (a check reads it with [...])."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner


class _ListOf:
    def __init__(self, item: Any) -> None:
        self.item = item


class _MapOf:
    """An object with any keys, every value of one shape."""

    def __init__(self, value: Any) -> None:
        self.value = value


_NUM = (int, float)
_STR, _BOOL, _INT, _NUMBER = _Opt(str), _Opt(bool), _Opt(int), _Opt(_NUM)
_SCALAR = _Opt((str, int, float, bool))
_STRS = _Opt(_ListOf(str))


def _rec(**fields: Any) -> _Opt:
    """A record (object) that may be null; its listed fields must have their shapes."""
    return _Opt(fields)


_COMMON = dict(collector_error=_STR, deadline_exceeded=_BOOL, collector_ms=_NUMBER, error=_STR)
_ANSWER = dict(  # an HTTP answer's record; with _COMMON, or error=_STR on its own
    status=_INT, timed_out=_BOOL, elapsed_ms=_NUMBER, content_type=_STR, date=_STR,
    date_epoch=_NUMBER, local_epoch=_NUMBER, body_bytes=_INT, oversized=_BOOL, json_error=_STR,
    body_text=_STR, error_code=_STR, error_message=_STR,
)
_ROUTE = _rec(
    host=_Need(_STR), proxy=_STR, proxy_any=_STR, bypassed_strict=_BOOL, bypassed_cidr=_BOOL,
    proxied_strict=_BOOL, proxied_cidr=_BOOL,
)
_PROFILE_FILE = _rec(
    path=_STR, exists=_BOOL, error=_STR, profiles=_STRS, active_keys=_STRS, region=_STR, credential_source=_STR,
)
_PROCESS = dict(
    pid=_Need(int), ppid=_INT, name=_STR, cmdline=_Opt((str, _ListOf(str))), container_id=_STR, container=_STR,
    self=_BOOL, target=_BOOL, error=_STR, reason=_STR, exe=_STR, search_paths=_STRS, paths=_STRS, has_relative=_BOOL, has_full=_BOOL,
    same_as_pid1=_BOOL, inherited=_BOOL, proxy=_ROUTE, no_proxy=_STR, proxy_vars=_Opt(_MapOf(_STR)),
    root_id=_STR, uid=_INT, search=_Opt(_MapOf(_STRS)),
    no_proxy_vars=_Opt(_MapOf(_STR)), capabilities=_Opt(_MapOf(_SCALAR)),
)
_AWS_FILE = _rec(
    path=_STR, var=_STR, exists=_BOOL, error=_STR, refused=_BOOL, strict_error=_STR, sections=_STRS, sso_sessions=_STRS,
)
_AWS_PROFILE = dict(
    files=_STRS, settings=_Opt(_MapOf(_MapOf(_STR))),
    keys=_Opt(_MapOf(dict(access_key_id=_STR, kind=_STR, id=_BOOL, secret=_BOOL, session_token=_BOOL))),
)
_CONFIRMED = dict(
    arn=_STR, account=_STR, user_id=_STR, access_key_id=_STR, sts_error=_STR, sts_error_code=_STR, sts_elapsed_ms=_NUMBER,
)
_SDK = dict(
    sdk=_Need(str), version=_STR, raw_version=_STR, path=_Need(str), via=_STR, features=_Opt(_MapOf(_BOOL)),
    used_by=_Opt(_ListOf(int)),
)
FACTS_SHAPE: dict[str, Any] = {
    "environ": _rec(
        **_COMMON, pid=_INT, relative_uri_set=_BOOL, relative_uri=_STR, full_uri_set=_BOOL, full_uri=_STR,
        credentials_target=_rec(source=_STR, url=_STR, host=_STR, refused=_STR, both_set=_BOOL, old_sdks_refuse=_BOOL),
        authorization_token=_rec(
            source=_STR, present=_BOOL, error=_STR, illegal=_BOOL, file=_STR, length=_INT, trailing_newline_only=_BOOL,
        ),
        access_key_id=_STR, access_key_kind=_STR, present=_Opt(_MapOf(_BOOL)), shown=_Opt(_MapOf(_STR)),
        proxy_vars=_Opt(_MapOf(_STR)), profile=_STR, shared_credentials_file=_PROFILE_FILE,
        config_file=_PROFILE_FILE, boto_config=_STRS,
        aws_config=_rec(
            profile=_STR, profile_var=_STR, profile_vars=_Opt(_MapOf(_STR)), files=_Opt(_MapOf(_AWS_FILE)),
            profiles=_Opt(_MapOf(_AWS_PROFILE)),
        ),
    ),
    "proxy": _rec(**_COMMON, configured=_STRS, no_proxy=_STR, routes=_Opt(_MapOf(_ROUTE))),
    "credentials": _rec(
        **_COMMON, **_ANSWER, requested=_BOOL, url=_STR, not_requested=_STR, token_problem=_STR,
        rate_limit=_Opt(_MapOf(_SCALAR)), fields_missing=_STRS, role_arn=_STR, account_id=_STR,
        access_key_id=_STR, expiration=_STR, uri_problems=_STRS, location=_STR,
    ),
    "credentials_full": _rec(
        **_COMMON, **_ANSWER, requested=_BOOL, url=_STR, not_requested=_STR, token_problem=_STR,
        rate_limit=_Opt(_MapOf(_SCALAR)), fields_missing=_STRS, role_arn=_STR, account_id=_STR,
        access_key_id=_STR, expiration=_STR, uri_problems=_STRS, location=_STR,
    ),
    "metadata": _rec(
        **_COMMON, uri=_STR, requested=_BOOL, container=_rec(**_ANSWER, error=_STR), task=_rec(**_ANSWER, error=_STR),
        info=_Opt(_MapOf(_SCALAR)), containers=_Opt(_MapOf(_STR)),
    ),
    "imds": _rec(
        **_COMMON, disabled=_BOOL, endpoint=_STR, requested=_BOOL, token=_rec(**_ANSWER, error=_STR), version=_INT,
        roles=_rec(**_ANSWER, error=_STR), role_name=_STR, credentials=_rec(**_ANSWER, error=_STR), credentials_reachable=_BOOL,
        access_key_id=_STR, instance_id=_STR, token_ttl_header=_STR,
    ),
    "identity": _rec(
        **_COMMON, provider=_STR, tried=_STRS, region=_STR, access_key_id=_STR, botocore_version=_STR,
        sts_endpoint=_STR, sts_elapsed_ms=_NUMBER, arn=_STR, account=_STR, user_id=_STR, chain_error=_STR,
        chain_error_provider=_STR, sts_error=_STR, sts_error_code=_STR, model=_STR, key=_STR, role_arn=_STR,
        from_task_role=_BOOL, not_run=_STR, assumed=_STRS, sts_proxy=_STR, confirmed=_Opt(_MapOf(_CONFIRMED)),
    ),
    "processes": _rec(
        **_COMMON, available=_BOOL, self_pid=_INT, main_pid=_INT, ancestors=_Opt(_ListOf(int)), pid1_readable=_BOOL,
        pid1_reason=_STR, pid1_has_variable=_BOOL, pid1_has_region=_BOOL, pid1_region=_STR,
        processes=_Opt(_ListOf(_PROCESS)), unreadable=_Opt(_ListOf(_PROCESS)), truncated=_BOOL,
    ),
    "sdk": _rec(
        **_COMMON, roots=_STRS, found=_Opt(_ListOf(_SDK)), files=_INT, dirs=_INT, unreadable=_INT, partial=_STR,
        elapsed_ms=_NUMBER, named_roots=_BOOL, cached=_BOOL, process=_STR,
    ),
    "shim": _rec(
        **_COMMON,
        files=_Opt(_ListOf(dict(path=_Need(_STR), error=_STR, vars=_Opt(_MapOf(dict(in_pid1=_BOOL, equal=_BOOL))), missing=_STRS))),
        pid1_readable=_BOOL, pid1_error=_STR, self_is_pid1=_BOOL,
    ),
    "run": _rec(**_COMMON, unfinished=_STRS, pid=_INT, now_epoch=_NUMBER),
    "target": _rec(
        pid=_INT, container=_STR, container_id=_STR, cmdline=_STR, user=_STR, uid=_INT, main_pid=_INT, root=_STR, notes=_STRS,
        prober_has_variable=_BOOL,
    ),
}
OPTIONS_SHAPE: dict[str, Any] = {"expect_role": _STR}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object", list: "a list"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _check_depth(doc: Any) -> None:
    """Refuse deep nesting without recursing (json.loads stops near 1000 levels; the
    judge's own recursion, e.g. the redactor's, would stop far sooner)."""
    stack: list[tuple[Any, int, str]] = [(doc, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels at {path or 'the top'}")
        if isinstance(value, dict):
            if len(value) > MAX_ITEMS:
                raise ValueError(f"{path or 'the document'} has more than {MAX_ITEMS} fields")
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise ValueError(f"{path} has more than {MAX_ITEMS} items")
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))


def _check_shape(value: Any, shape: Any, path: str) -> None:
    """Raise ValueError naming the first field whose value does not have its shape."""
    if isinstance(shape, _Opt):
        if value is not None:
            _check_shape(value, shape.inner, path)
        return
    if isinstance(shape, tuple) and any(isinstance(s, (_ListOf, _MapOf, dict, _Opt)) for s in shape):
        errors = []
        for alternative in shape:
            try:
                _check_shape(value, alternative, path)
                return
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0])
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{path} is {_kind(value)}, not an object")
        for key, inner in shape.items():
            if key in value:
                _check_shape(value[key], inner.inner if isinstance(inner, _Need) else inner, f"{path}.{key}")
            elif isinstance(inner, _Need):
                raise ValueError(f"{path} has no {key!r}")
        return
    if isinstance(shape, _ListOf):
        if not isinstance(value, list):
            raise ValueError(f"{path} is {_kind(value)}, not a list")
        for i, item in enumerate(value):
            _check_shape(item, shape.item, f"{path}[{i}]")
        return
    if isinstance(shape, _MapOf):
        if not isinstance(value, dict):
            raise ValueError(f"{path} is {_kind(value)}, not an object")
        for key, inner in value.items():
            _check_shape(inner, shape.value, f"{path}.{key}")
        return
    types = shape if isinstance(shape, tuple) else (shape,)
    # true/false is no number here, although Python's bool is an int.
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if ok and isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        ok = False  # NaN and Infinity: JSON extensions no collector writes
    if not ok:
        wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types if t is not float or int not in types)
        raise ValueError(f"{path} is {_kind(value)}, not {wanted}")


def check_facts_shape(doc: dict[str, Any]) -> None:
    """The whole saved document: depth and size first, then every record's shape."""
    _check_depth(doc)
    facts = doc["facts"]
    for name, shape in FACTS_SHAPE.items():
        if name in facts:
            _check_shape(facts[name], shape, f"facts.{name}")
    options = doc.get("options")
    if options is not None:
        _check_shape(options, OPTIONS_SHAPE, "options")


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
        """Facts from a saved file. Raises ValueError with a readable reason: a file that is
        not JSON, not a facts document, too large, too deeply nested, or has a field of the
        wrong type (the CLI exits 2 with the reason)."""
        if len(text) > MAX_FACTS_BYTES:
            raise ValueError(f"larger than {MAX_FACTS_BYTES >> 20} MiB: not a file --save-facts writes")
        try:
            doc = json.loads(text)
        except RecursionError:
            raise ValueError(f"not JSON the probe reads: nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise ValueError(f"not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
        if not isinstance(doc, dict) or doc.get("schema") != FACTS_SCHEMA or not isinstance(doc.get("facts"), dict):
            raise ValueError(f"not an {FACTS_SCHEMA} document (save one with --save-facts)")
        check_facts_shape(doc)
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


def _as_target_sees(record: dict[str, Any], root: str) -> dict[str, Any]:
    """An SDK scan of /proc/PID/root with its paths as that process sees them."""

    def inner(path: Any) -> Any:
        if isinstance(path, str) and (path == root or path.startswith(root + "/")):
            return path[len(root):] or "/"
        return path

    out = dict(record)
    out["roots"] = [inner(r) for r in record.get("roots") or []]
    out["found"] = [dict(e, path=inner(e.get("path"))) if isinstance(e, dict) else e for e in record.get("found") or []]
    return out


def _kernel_path(fs: Any, root: str) -> Optional[str]:
    """A scan root in the target's root, or None when the walk refuses it."""
    try:
        return str(fs.kernel_path(root))
    except OSError:
        return None


class _Job(threading.Thread):
    """One collector in its own thread; its HTTP requests belong to the run's scope."""

    def __init__(self, name: str, fn: Callable[[], Any], scope: Optional[Any] = None) -> None:
        super().__init__(name=f"probe-{name}", daemon=True)
        self.fn = fn
        self.scope = scope
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.started_at = time.monotonic()
        self.elapsed_ms = 0

    def run(self) -> None:
        from probe.facts import http

        try:
            with http.use_scope(self.scope):
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
    target: Optional["Target"] = None,
) -> Facts:
    """Observe everything task mode needs, finishing within ``deadline_s`` seconds.

    ``sdk_cache`` (the sidecar's): an image does not change while it runs, so a complete
    SDK scan is kept there and reused for an hour instead of walking the disk every run.

    ``target`` (`--pid`, `--container`): observe as that process sees it. Its environment
    replaces ``environ``; its files are read in its root as its user would (RootFS); its
    root is the SDK scan's and every SDK there counts as its. Nothing it names is run.
    """
    from probe import sdkmodel
    from probe.facts import awsconfig, endpoints, environ as env_facts, http, proxy
    from probe.facts.rootfs import RootFS

    if target is not None:
        environ = target.environ
    # Every file the environment names is read in this root, inside it, fail closed.
    fs = target.fs if target is not None else RootFS()
    home = (target.home() or "/") if target is not None else (environ.get("HOME") or os.path.expanduser("~"))
    started = time.monotonic()
    # Every request of this run; closed when the run ends, so that no collector thread
    # still waits on a socket (a trickling endpoint) after the run.
    scope = http.Scope()
    deadline = started + max(0.2, deadline_s) - 0.15  # leave time to judge and render
    wanted = set(needs) | {"environ", "proxy"}
    if "identity" in wanted:
        # The chain's last sources: the probe obtains their credentials itself.
        wanted |= {"credentials", "imds"}
    data: dict[str, Any] = {}
    if target is not None:
        data["target"] = target.record()
    endpoint = env_facts.credentials_target(environ)
    token = env_facts.authorization_token(environ, fs)
    config = awsconfig.load(environ, fs, home)
    data["environ"] = env_facts.collect_environ(
        environ,
        home=home,
        target=endpoint,
        token=token,
        fs=fs,
        pid=target.pid if target is not None else None,
        config=config,
    )

    sts_url = environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    data["proxy"] = proxy.collect_proxy(
        environ,
        {
            "credentials": endpoint.get("_raw_url") or (endpoint.get("url") if endpoint.get("source") else None),
            "imds": environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or endpoints.IMDS_DEFAULT,
            "metadata": environ.get("ECS_CONTAINER_METADATA_URI_V4"),
            "sts": sts_url or f"https://sts.{region}.amazonaws.com/",
        },
    )

    jobs: dict[str, _Job] = {}
    cred_job = _Job(
        "credentials",
        lambda: endpoints.fetch_credentials(endpoint, endpoint.get("_raw_url"), token.get("_raw"), token, deadline),
        scope,
    )
    if "credentials" in wanted:
        jobs["credentials"] = cred_job
        if endpoint.get("both_set"):
            # Both variables set: botocore and most SDKs use the relative URI, the Go SDKs
            # the full one. The full URI is asked too (its own endpoint), judged per SDK.
            full = env_facts.credentials_target({k: v for k, v in environ.items() if k != env_facts.RELATIVE})
            jobs["credentials_full"] = _Job(
                "credentials_full",
                lambda: endpoints.fetch_credentials(full, full.get("_raw_url"), token.get("_raw"), token, deadline),
                scope,
            )

    def observed() -> endpoints.Observed:
        cred_job.join(max(0.0, deadline - time.monotonic()))
        if cred_job.is_alive():
            return endpoints.Observed({"requested": True, "error": "no answer before the deadline", "timed_out": True})
        if cred_job.error is not None:
            return endpoints.Observed({"requested": False, "not_requested": str(cred_job.error)})
        return cred_job.result

    uri = environ.get("ECS_CONTAINER_METADATA_URI_V4")
    meta_job = _Job("metadata", lambda: endpoints.fetch_task_metadata(uri, deadline), scope)
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
            if target is not None:
                return collect_processes(containers, subject=target.pid, subject_env=target.environ, main_pid=target.main_pid or target.pid)
            return collect_processes(containers)

        jobs["processes"] = _Job("processes", survey, scope)
    cached = sdk_cache.get("record") if sdk_cache is not None and time.monotonic() - sdk_cache.get("at", -1e9) < 3600 else None
    if "sdk" in wanted and cached is not None:
        data["sdk"] = dict(cached, cached=True)
        wanted.discard("sdk")
    if "sdk" in wanted:
        from probe.facts.sdk import roots_for, scan, scan_elsewhere

        def sdk_scan() -> dict[str, Any]:
            roots = list(sdk_roots or ["/"])
            if target is not None:
                # The target's image only: the sidecar's own is not the application's.
                roots = [p for p in (_kernel_path(fs, r) for r in roots) if p is not None]
            elif not sdk_roots:
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
            # Roots the user named are "my application": every SDK there counts as in use
            # (and every SDK in the image of the process --pid names: see predict.used_by).
            record["named_roots"] = bool(sdk_roots)
            if target is not None:
                record = _as_target_sees(record, target.root)
            if sdk_cache is not None and not record.get("partial"):
                sdk_cache.update(record=record, at=time.monotonic())
            return record

        jobs["sdk"] = _Job("sdk", sdk_scan, scope)
    def imds() -> endpoints.Observed:
        ask = False
        if environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true" and "sdk" in jobs:
            # Asked only for an SDK that ignores the variable: the scan says whether there is one.
            scan_job = jobs["sdk"]
            scan_job.join(max(0.0, deadline - 0.5 - time.monotonic()))
            found = scan_job.result.get("found") if isinstance(scan_job.result, dict) else None
            ask = any(sdkmodel.ignores_imds_disabled(str(e.get("sdk")), e.get("version")) for e in found or [] if isinstance(e, dict))
        elif environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true" and isinstance(data.get("sdk"), dict):
            found = data["sdk"].get("found")  # the sidecar's cached scan
            ask = any(sdkmodel.ignores_imds_disabled(str(e.get("sdk")), e.get("version")) for e in found or [] if isinstance(e, dict))
        return endpoints.fetch_imds(environ, deadline, ask_if_disabled=ask)

    imds_job = _Job("imds", imds, scope)
    if "imds" in wanted:
        jobs["imds"] = imds_job

    def imds_observed() -> Optional[endpoints.Observed]:
        imds_job.join(max(0.0, deadline - time.monotonic()))
        return imds_job.result if not imds_job.is_alive() and isinstance(imds_job.result, endpoints.Observed) else None

    if "identity" in wanted:
        from probe.facts import identity

        env_record = data["environ"]
        jobs["identity"] = _Job(
            "identity",
            lambda: identity.collect_identity(environ, env_record, config[1], fs, observed, imds_observed, deadline),
            scope,
        )

    if "shim" in wanted:
        from probe.facts.shim import collect_shim

        if target is not None:
            target_home = target.home()
            main = target.main_pid or target.pid
            jobs["shim"] = _Job("shim", lambda: collect_shim(target_home, main_pid=main, fs=fs, self_pid=target.pid), scope)
        else:
            from probe.facts.processes import container_main

            # PID 1 is ECS's pause process under pidMode task: the container's main process
            # holds what the shim copied.
            main_pid = container_main(os.getpid()) or 1
            jobs["shim"] = _Job("shim", lambda: collect_shim(environ.get("HOME"), main_pid=main_pid), scope)
    for job in jobs.values():
        job.start()
    for job in jobs.values():
        job.join(max(0.0, deadline - time.monotonic()))
    # The run is over: wake every request still waiting, and give those threads a moment
    # to return, so that none outlives the run holding a socket.
    scope.close()
    grace = time.monotonic() + 0.1
    for job in jobs.values():
        if job.is_alive():
            job.join(max(0.0, grace - time.monotonic()))
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
