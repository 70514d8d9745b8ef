"""The link-local endpoints: the agent's credentials endpoint, task metadata v4, and IMDS.

One request per endpoint per run (the agent rate-limits the credentials path per task);
every check shares the observed answer. Secrets in an answer are registered with the
redactor and dropped; the record keeps shapes, the role ARN and masked key ids only.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from probe import redact
from probe.facts import http

CREDENTIAL_FIELDS = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
CREDENTIALS_TIMEOUT = 2.0  # botocore's ContainerMetadataFetcher.TIMEOUT_SECONDS
IMDS_TIMEOUT = 1.0  # botocore's default metadata_service_timeout
IMDS_DEFAULT = "http://169.254.169.254/"
_SECRET_KEYS = ("SecretAccessKey", "Token", "SessionToken")


class Observed:
    """The credentials endpoint's answer: a secret-free record plus the parsed payload.

    The payload is kept in memory only, so the identity collector can hand botocore the
    same answer instead of asking the endpoint a second time.
    """

    def __init__(self, record: dict[str, Any], payload: Optional[dict[str, Any]] = None) -> None:
        self.record = record
        self.payload = payload


AGENT_HOST = "169.254.170.2"
POD_IDENTITY_HOSTS = ("169.254.170.23", "fd00:ec2::23")
# Sent by the agent's limiter on every answer past its path cleaning (tollbooth).
RATE_LIMIT_HEADERS = (
    "x-rate-limit-limit",
    "x-rate-limit-duration",
    "x-rate-limit-request-remote-addr",
    "x-rate-limit-request-forwarded-for",
)
# How a credentials URI on the agent's address can differ from the one the agent writes
# (/v2/credentials/<id>); each code with what the agent does with it (tests/test_real_agent.py).
URI_PROBLEMS = {
    "bad-escape": "a '%' that does not start a %XX escape",
    "double-slash": "a doubled slash",
    "dot-segment": "a '.' or '..' segment",
    "no-slash": "no '/<id>' after /v2/credentials",
    "no-id": "no credentials id",
    "trailing-slash": "a slash after the id",
    "extra-segment": "more path after the id",
    "not-credentials-path": "not a credentials path of the agent",
    "percent-encoded": "%-escapes in the path",
    "query": "a query string",
    "not-pod-identity-path": "not the Pod Identity Agent's /v1/credentials",
}
# The ones the agent answers as if nothing were wrong (it decodes escapes, ignores a query).
HARMLESS_URI_PROBLEMS = ("percent-encoded", "query")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unescape_path(raw: str) -> Optional[str]:
    """Go's path unescaping: None when a '%' starts no valid escape (the agent's server
    then refuses the whole request line)."""
    if _ESCAPE.search(raw):
        return None
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw.encode("utf-8", "surrogateescape")).decode(
        "utf-8", "surrogateescape"
    )


def clean_path(path: str) -> str:
    """The agent's path cleaning (gorilla/mux cleanPath: Go's path.Clean, trailing slash kept;
    "" and a path without its leading slash clean to one that has it). The emulator serves by it."""
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    clean = "/" + "/".join(parts)
    return clean + "/" if path.endswith("/") and clean != "/" else clean


def credentials_uri_problems(url: Optional[str]) -> list[str]:
    """How a credentials URL on the ECS agent's address (or the Pod Identity Agent's) differs
    from the form that agent serves, as codes of URI_PROBLEMS; [] when it is the agent's own
    form or another host. Works on the raw URL; returns nothing that quotes it."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return []
    if port not in (None, 80):
        return []
    raw_path, query = parts.path or "/", parts.query
    problems: list[str] = []
    path = _unescape_path(raw_path)
    if path is None:
        return ["bad-escape"]
    if path != raw_path:
        problems.append("percent-encoded")
    clean = clean_path(path)
    if clean != path:
        segments = path.split("/")
        if "//" in path:
            problems.append("double-slash")
        if "." in segments or ".." in segments:
            problems.append("dot-segment")
    if host in POD_IDENTITY_HOSTS:
        if clean != "/v1/credentials":
            problems.append("not-pod-identity-path")
        return problems
    if host != AGENT_HOST:
        return []
    prefix = "/v2/credentials/"
    if clean == "/v2/credentials":
        problems.append("no-slash")
    elif clean.startswith(prefix):
        rest = clean[len(prefix):]
        if rest == "":
            problems.append("no-id")
        elif rest.endswith("/") and "/" not in rest.rstrip("/"):
            problems.append("trailing-slash")
        elif "/" in rest:
            problems.append("extra-segment")
        if query:
            problems.append("query")
    elif clean == "/v1/credentials":
        if not re.search(r"(^|&)id=[^&]", query):
            problems.append("no-id")
    else:
        problems.append("not-credentials-path")
    return problems


def _mask_location(location: str) -> Optional[str]:
    """A redirect's target with every path segment that could be an id masked."""
    if location.startswith("/"):
        return redact.mask_relative_uri(location)
    try:
        parts = urlsplit(location)
    except ValueError:
        return redact.MASK
    if not parts.scheme or not parts.netloc:
        return redact.mask_relative_uri("/" + location)
    tail = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return (redact.mask_url(f"{parts.scheme}://{parts.netloc}") or "") + (redact.mask_relative_uri(tail) or "")


def _budget(deadline: Optional[float], default: float) -> float:
    if deadline is None:
        return default
    return max(0.05, min(default, deadline - time.monotonic() - 0.1))


def _answer_record(answer: http.HttpAnswer) -> dict[str, Any]:
    return {
        "status": answer.status,
        "error": redact.scrub(answer.error) if answer.error else None,
        "timed_out": answer.timed_out,
        "elapsed_ms": answer.elapsed_ms,
        "content_type": answer.headers.get("content-type"),
        "date": answer.headers.get("date"),
        "date_epoch": answer.date(),
        "local_epoch": answer.local_time,
        "body_bytes": len(answer.body),
        "oversized": answer.oversized,
    }


def _register_secrets(obj: Any) -> None:
    # A loop, not recursion: the document may be as deep as the parser allowed.
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _SECRET_KEYS and isinstance(value, str):
                    redact.register(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


_JSON_KINDS = {"NoneType": "null", "list": "an array", "str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}


def json_kind(doc: Any) -> str:
    """How to name a JSON value that is not the object we expected."""
    return _JSON_KINDS.get(type(doc).__name__, type(doc).__name__)


def parse_json(body: bytes) -> tuple[Any, Optional[str]]:
    """(document, None) or (None, why it is not usable JSON). Never raises.

    A 64 KiB answer can nest arrays deeper than the parser's recursion limit: that is an
    unusable answer like any other, not a failure of the probe.
    """
    try:
        return json.loads(body.decode("utf-8")), None
    except RecursionError:
        return None, "the JSON is nested too deeply to parse (RecursionError); no real answer nests like this"
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:120]}"


def _parse_json(answer: http.HttpAnswer, record: dict[str, Any]) -> Optional[Any]:
    doc, error = parse_json(answer.body)
    if error is not None:
        record["json_error"] = error
        return None
    _register_secrets(doc)
    return doc


def fetch_credentials(
    target: Mapping[str, Any],
    raw_url: Optional[str],
    token: Optional[str],
    token_record: Mapping[str, Any],
    deadline: Optional[float] = None,
) -> Observed:
    """GET the credentials URL once, if it is safe to; never raises."""
    record: dict[str, Any] = {"requested": False, "url": target.get("url")}
    if target.get("source") is None:
        record["not_requested"] = "no credentials variable is set"
        return Observed(record)
    if raw_url is None:
        record["not_requested"] = f"the URI is unsafe: {target.get('refused')}"
        return Observed(record)
    headers = {"Accept": "application/json"}
    # The SDKs fail before sending anything when the token cannot be read or sent.
    if token_record.get("error"):
        record["token_problem"] = token_record["error"]
        return Observed(record)
    if token is not None:
        if token_record.get("illegal"):
            record["token_problem"] = "the authorization token contains a line break, which is not a legal header value"
            return Observed(record)
        headers["Authorization"] = token
    problems = credentials_uri_problems(raw_url)
    if problems:
        record["uri_problems"] = problems
    record["requested"] = True
    answer = http.request(raw_url, headers=headers, timeout=_budget(deadline, CREDENTIALS_TIMEOUT), deadline=deadline)
    record.update(_answer_record(answer))
    # The agent's limiter: its rate, and the caller address it counts this task's requests
    # under (its remaining budget is not sent).
    record["rate_limit"] = {k: redact.scrub(answer.headers[k])[:100] for k in RATE_LIMIT_HEADERS if k in answer.headers}
    if answer.status is not None and 300 <= answer.status < 400:
        location = answer.headers.get("location")
        # The agent's redirect names the cleaned path, id included: masked as the variable is.
        if location is not None:
            record["location"] = _mask_location(location)
    if answer.error is not None:
        return Observed(record)
    doc = _parse_json(answer, record)
    payload: Optional[dict[str, Any]] = None
    if isinstance(doc, dict):
        if answer.status == 200:
            record["fields_missing"] = [f for f in CREDENTIAL_FIELDS if not isinstance(doc.get(f), str) or not doc.get(f)]
            record["role_arn"] = doc.get("RoleArn") if isinstance(doc.get("RoleArn"), str) else None
            record["account_id"] = doc.get("AccountId") if isinstance(doc.get("AccountId"), str) else None
            record["access_key_id"] = redact.mask_key_id(doc.get("AccessKeyId")) if isinstance(doc.get("AccessKeyId"), str) else None
            record["expiration"] = doc.get("Expiration") if isinstance(doc.get("Expiration"), str) else None
            if not record["fields_missing"]:
                payload = doc
        else:
            code = doc.get("code") or doc.get("Code")
            message = doc.get("message") or doc.get("Message")
            record["error_code"] = str(code)[:100] if code is not None else None
            record["error_message"] = redact.scrub(str(message)[:300]) if message is not None else None
    elif "json_error" not in record:
        # null, an array, a string...: JSON, but not the credentials object.
        record["json_error"] = f"the body is JSON but not an object (it is {json_kind(doc)})"
    if answer.status != 200 and "error_code" not in record:
        text = answer.body[:200].decode("utf-8", "replace").strip()
        record["body_text"] = redact.scrub(text)
    return Observed(record, payload)


def fetch_task_metadata(uri: Optional[str], deadline: Optional[float] = None) -> dict[str, Any]:
    """GET ${ECS_CONTAINER_METADATA_URI_V4} and /task; keep the task's identifying fields."""
    record: dict[str, Any] = {"uri": uri, "requested": False}
    if not uri:
        return record
    record["requested"] = True
    base = uri.rstrip("/")
    container = http.request(base, timeout=_budget(deadline, 2.0), deadline=deadline)
    record["container"] = _answer_record(container)
    task_answer = http.request(base + "/task", timeout=_budget(deadline, 2.0), deadline=deadline)
    record["task"] = _answer_record(task_answer)
    cdoc = _parse_json(container, record["container"]) if container.ok else None
    tdoc = _parse_json(task_answer, record["task"]) if task_answer.ok else None
    info: dict[str, Any] = {}
    if isinstance(tdoc, dict):
        info.update(
            task_arn=tdoc.get("TaskARN"),
            cluster=tdoc.get("Cluster"),
            family=tdoc.get("Family"),
            revision=tdoc.get("Revision"),
            launch_type=tdoc.get("LaunchType"),
            availability_zone=tdoc.get("AvailabilityZone"),
        )
    if isinstance(tdoc, dict) and isinstance(tdoc.get("Containers"), list):
        # Docker id -> container name, to tell whose processes a sidecar sees.
        record["containers"] = {
            c["DockerId"]: c.get("Name") for c in tdoc["Containers"] if isinstance(c, dict) and isinstance(c.get("DockerId"), str)
        }
    if isinstance(cdoc, dict):
        info["container_name"] = cdoc.get("Name")
        networks = cdoc.get("Networks")
        if isinstance(networks, list) and networks and isinstance(networks[0], dict):
            info["network_mode"] = networks[0].get("NetworkMode")
    record["info"] = {k: v for k, v in info.items() if isinstance(v, (str, int)) or v is None}
    return record


def fetch_imds(environ: Mapping[str, str], deadline: Optional[float] = None, ask_if_disabled: bool = False) -> Observed:
    """Can this container reach the EC2 instance role through IMDS (v2, then v1)? The
    instance role's credentials stay in memory (``payload``) for the identity collector.

    With AWS_EC2_METADATA_DISABLED=true IMDS is not asked, unless ``ask_if_disabled``: an
    SDK in the image ignores the variable (botocore before 1.9.12, aws-sdk before 2.187.0,
    AsyncAws read nothing of it), and what it would get is IMDS's answer."""
    disabled = environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
    base = environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_DEFAULT
    record: dict[str, Any] = {"disabled": disabled, "endpoint": redact.mask_url(base), "requested": False}
    if disabled and not ask_if_disabled:
        return Observed(record)
    base = base.rstrip("/")
    record["requested"] = True
    timeout = _budget(deadline, IMDS_TIMEOUT)
    token_answer = http.request(
        base + "/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
        timeout=timeout,
        deadline=deadline,
    )
    record["token"] = _answer_record(token_answer)
    headers: dict[str, str] = {}
    if token_answer.ok and token_answer.body:
        token = token_answer.body.decode("utf-8", "replace").strip()
        redact.register(token)
        headers["X-aws-ec2-metadata-token"] = token
        record["version"] = 2
        # Go v1 and Ruby read the TTL from this header and drop to IMDSv1 without it.
        record["token_ttl_header"] = "x-aws-ec2-metadata-token-ttl-seconds" in token_answer.headers
    elif token_answer.error is not None and not token_answer.timed_out:
        # Refused or unreachable: v1 would fail the same way.
        record["error"] = token_answer.error
        return Observed(record)
    else:
        record["version"] = 1
    roles = http.request(base + "/latest/meta-data/iam/security-credentials/", headers=headers, timeout=_budget(deadline, IMDS_TIMEOUT), deadline=deadline)
    record["roles"] = _answer_record(roles)
    if not roles.ok:
        record["error"] = roles.error or f"HTTP {roles.status} listing instance roles"
        return Observed(record)
    names = [n.strip() for n in roles.body.decode("utf-8", "replace").splitlines() if n.strip()]
    if not names:
        record["error"] = "no instance role is attached"
        return Observed(record)
    record["role_name"] = names[0]
    if headers:
        # SDKs older than IMDSv2 only ask without a token: is that still allowed here?
        v1 = http.request(base + "/latest/meta-data/iam/security-credentials/", timeout=_budget(deadline, IMDS_TIMEOUT), deadline=deadline)
        record["v1_allowed"] = v1.ok if v1.error is None and v1.status in (200, 401, 403) else None
    else:
        record["v1_allowed"] = True
    creds = http.request(
        base + "/latest/meta-data/iam/security-credentials/" + names[0],
        headers=headers,
        timeout=_budget(deadline, IMDS_TIMEOUT),
        deadline=deadline,
    )
    record["credentials"] = _answer_record(creds)
    doc = _parse_json(creds, record["credentials"]) if creds.ok else None
    if creds.error is not None:
        record["error"] = creds.error
    elif not creds.ok:
        record["error"] = f"HTTP {creds.status} for the instance role's credentials"
    elif record["credentials"].get("json_error"):
        record["error"] = "the instance role's credentials answer is not usable JSON: " + record["credentials"]["json_error"]
    elif not isinstance(doc, dict):
        record["error"] = f"the instance role's credentials answer is JSON but not an object (it is {json_kind(doc)})"
    record["credentials_reachable"] = isinstance(doc, dict) and bool(doc.get("AccessKeyId")) and doc.get("Code", "Success") == "Success"
    if isinstance(doc, dict):
        record["access_key_id"] = redact.mask_key_id(doc.get("AccessKeyId")) if isinstance(doc.get("AccessKeyId"), str) else None
    instance = http.request(base + "/latest/meta-data/instance-id", headers=headers, timeout=_budget(deadline, IMDS_TIMEOUT), deadline=deadline)
    if instance.ok:
        record["instance_id"] = instance.body.decode("utf-8", "replace").strip()[:64]
    usable = isinstance(doc, dict) and all(isinstance(doc.get(k), str) and doc.get(k) for k in ("AccessKeyId", "SecretAccessKey", "Token"))
    return Observed(record, doc if record["credentials_reachable"] and usable else None)
