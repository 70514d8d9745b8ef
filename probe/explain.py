"""`probe explain`: from the access-denied messages in a log to their cause (issue 14).

Three steps, kept apart like the rest of the probe:

1. ``parse(stream)``: read log text (a file, stdin, a pasted line) in bounded memory and find every
   access-denied error in it, whatever SDK printed it, across line breaks and inside JSON-encoded
   log lines (awslogs, FireLens, docker's json-file). Repeats are grouped with a count.
2. ``explain(denials, task_role=None, in_task_summary=None)``: judge each denial (who was denied,
   by which kind of policy) and turn it into a ``Result`` of a ``Report`` in mode ``explain``.
3. ``main(argv)``: the command line, rendered by the project's text and JSON renderers.

How the reader stays fast and bounded: the stream is read in 1 MiB chunks of bytes; a handful of
literal ``bytes.find`` calls locate the few places worth a look (memchr speed, no per-line Python
work); only the lines around a hit are decoded, unescaped and matched. At most ``_MAX_CARRY`` bytes
are kept between chunks, a line is never held whole beyond ``_LINE_WINDOW`` bytes around a hit, and
at most ``MAX_DISTINCT`` different denials are remembered (the rest are counted).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import IO, Any, Callable, Iterable, Optional, Sequence, Union

from probe import __version__
from probe.checks.identity import _ASSUMED, _IAM_ROLE, _INSTANCE_ID, _TASK_ID, role_name
from probe.model import Report, Result, Status

EXIT_NONE, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
CHECK_ID = "explain.denial"

# ---- what the reader looks for ---------------------------------------------------------------
# Literal byte strings that every access-denied message of every SDK contains at least one of.
_TRIGGERS = (b"AccessDenied", b"Access Denied", b"not authorized to perform", b"UnauthorizedOperation")
_CHUNK = 1 << 20
_LINE_WINDOW = 6 << 10  # bytes kept before a hit on its line ...
_LINE_AFTER = 12 << 10  # ... and after it
_GROUP_MAX_LINES = 24
_GROUP_MAX_BYTES = 32 << 10
_GUARD = 64 << 10  # hits this close to the end of what was read wait for the next chunk
_MAX_CARRY = _GUARD + (64 << 10)
MAX_DISTINCT = 500
_MAX_MESSAGE = 600  # characters of the message kept as an excerpt
_MAX_ENCODED = 16 << 10
_MAX_SEGMENT = 8 << 10  # characters of one message that are matched

_JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": " ", "f": " ", "n": "\n", "r": "\n", "t": "\t"}
_WS = re.compile(r"\s+")
# A line that continues the message of the line before it.
_CONTINUES = re.compile(r'^(?:[ \t]|[a-z"(<]|arn:|Encoded authorization|caused by)')
# A line that cannot end a message: the next line goes on with it (messages wrapped in docs and logs).
_UNFINISHED = re.compile(r"(?:[:,]|\b(?:when calling the|the|an?|in|on|with|because|no|is|not|to|perform|resource|operation))$")

_HEADER = re.compile(r'An error occurred \(|operation error [^:,]{1,60}: \w+, |Error executing "')
_ENRICHED = re.compile(
    r'(?:(?:User|Principal|Role)\s*:\s*)?(?P<principal>arn:[\w-]{1,32}:[\w-]{1,32}::[^:\s]{0,32}:[^\s"\'<>]{1,1024}|[^\s"\'<>:]{1,256})'
    r"\s+is\s+not\s+authorized\s+to\s+perform\s*:?\s*(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9*]+)"
    r'(?:\s+on\s+resource\s*:?\s*(?P<resource>"[^"]{0,2048}"|[^\s"<>]+(?:\s+(?!because\b|with\b|\()[^\s"<>:]+)?))?'
)
_IMPLICIT = re.compile(r"^[\s.,:]*because\s+no\s+(?P<type>[\w\s-]{2,60}?)\s+allows?\b")
_EXPLICIT = re.compile(
    r"^[\s.,:]*with\s+an\s+explicit\s+deny\s+in\s+(?:a\s+|an\s+|the\s+)?(?P<type>[\w\s-]{2,60}?)"
    r"(?=\s*(?:$|[,.:;(]|with\s+policy|transitively|\s+policy\s+arn|Encoded|\(Service))"
)
_TRANSITIVE = re.compile(r"^[^.]{0,80}?transitively\s+through\s+an?\s+(?P<type>[\w\s-]{2,40}?policy)")
_BUCKET_SETTING = re.compile(r"^[\s.,:]*because\s+this\s+bucket\s+has\s+blocked\s+[^.]{0,200}")
_POLICY_ARN = re.compile(r"(arn:[\w-]+:(?:organizations|iam)::\d*:policy/[^\s,\"'<>)]+)")
_ENCODED = re.compile(r"Encoded authorization failure message:\s*(?P<msg>[A-Za-z0-9_\-+/=]{16,})")
_EC2_DENIED = re.compile(r"You are not authorized to perform this operation")

_CODES = "AccessDenied(?:Exception)?|UnauthorizedOperation|UnauthorizedAccess|AuthorizationError(?:Exception)?|AccessDeniedError"
# (format, marker, code): the first marker found names the SDK's wrapper; its groups (or the code
# pattern's) give code, operation and service. Markers are cheap to search: no wide gaps.
_FORMATS: tuple[tuple[str, "re.Pattern[str]", Optional["re.Pattern[str]"]], ...] = (
    ("aws-cli", re.compile(r"fatal error: An error occurred \((?P<code>[\w.]+)\) when calling the (?P<op>\w+) operation"), None),
    ("botocore", re.compile(r"An error occurred \((?P<code>[\w.]+)\) when calling the (?P<op>\w+) operation"), None),
    ("go-v2", re.compile(r"operation error (?P<svc>[^:,]{1,60}): (?P<op>\w+), https? response error"), re.compile(r"api error (?P<code>\w+):")),
    ("php", re.compile(r'Error executing "(?P<op>\w+)" on "(?P<url>[^"]{0,1024})"'), re.compile(r"\s(?P<code>\w+) \((?:client|server)\):")),
    ("go-v1", re.compile(r"status code: \d{3}, request id:"), None),
    ("java-v1", re.compile(r"\(Service: (?P<svc>[^;)]{1,60}); Status Code: \d{3}; Error Code: (?P<code>\w+)"), None),
    ("java-v2", re.compile(r"\(Service: (?P<svc>[^,)]{1,60}), Status Code: \d{3}"), None),
    ("ruby", re.compile(r"Aws::(?P<svc>\w+)::Errors::(?P<code>\w+)"), None),
    ("dotnet", re.compile(r"Amazon\.(?P<svc>\w+)\.(?:Model\.)?(?P<exc>\w+Exception)"), None),
    ("js-v3", re.compile(r"\bat (?:de_|throwDefaultError|\S*Protocol\.handleError|\S*@aws-sdk/|\S*@smithy/)"), None),
    ("js-v2", re.compile(r"\bat (?:Request\.extractError|Request\.callListeners|\S*aws-sdk/lib)"), None),
    ("xml", re.compile(r"<Code>(?P<code>\w+)</Code>"), None),
)
_S3_BARE = re.compile(r"\bAccess Denied\b")
# Not a language's own class of the same name (java.nio.file.AccessDeniedException).
_ANY_CODE = re.compile(r"(?<![.\w])(" + _CODES + r")\b")

# ---- policy types: one table ------------------------------------------------------------------
# (key, words in the message, name, who can change it, how to look at it)
POLICY_TYPES: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    ("service-control", ("service control",), "a service control policy (SCP) of AWS Organizations",
     "the organization's administrators (the management account or a delegated administrator)",
     "aws organizations list-policies-for-target --target-id <ACCOUNT_ID> --filter SERVICE_CONTROL_POLICY (from the management account)"),
    ("resource-control", ("resource control",), "a resource control policy (RCP) of AWS Organizations",
     "the organization's administrators (the management account or a delegated administrator)",
     "aws organizations list-policies-for-target --target-id <ACCOUNT_ID> --filter RESOURCE_CONTROL_POLICY (from the management account)"),
    ("permissions-boundary", ("permissions boundary", "permission boundary", "boundary"), "the role's permissions boundary",
     "an IAM administrator of the principal's account (whoever may call iam:PutRolePermissionsBoundary; often a platform team)",
     "aws iam get-role --role-name <ROLE> --query Role.PermissionsBoundary"),
    ("session", ("session",), "a session policy passed when the session was created (AssumeRole Policy / PolicyArns)",
     "whoever creates the session: the code or tool that calls AssumeRole with a Policy (the ECS agent passes none for a task role)",
     "the AssumeRole call that created these credentials (CloudTrail: eventName AssumeRole, requestParameters.policy)"),
    ("vpc-endpoint", ("vpc endpoint", "endpoint"), "the policy of the VPC endpoint the request went through",
     "the owner of the VPC (network administrators)",
     "aws ec2 describe-vpc-endpoints --query 'VpcEndpoints[].[VpcEndpointId,ServiceName,PolicyDocument]'"),
    ("resource-based", ("resource-based", "resource based"), "the resource's own policy (bucket policy, key policy, queue or topic policy, secret policy ...)",
     "the resource owner (the account in the resource ARN)",
     "e.g. aws s3api get-bucket-policy --bucket <BUCKET>, aws kms get-key-policy --key-id <KEY> --policy-name default"),
    ("role-trust", ("role trust", "trust"), "the trust policy of the role being assumed",
     "an IAM administrator of the role's account",
     "aws iam get-role --role-name <ROLE> --query Role.AssumeRolePolicyDocument"),
    ("identity-based", ("identity-based", "identity based", "identity"), "an identity-based policy attached to the principal",
     "an IAM administrator of the principal's account",
     "aws iam list-attached-role-policies --role-name <ROLE>; aws iam list-role-policies --role-name <ROLE>"),
    ("bucket-setting", ("bucket has blocked",), "a setting of the bucket (its default encryption blocks SSE-C uploads)",
     "the bucket owner", "aws s3api get-bucket-encryption --bucket <BUCKET>"),
)
_TYPE_BY_KEY = {t[0]: t for t in POLICY_TYPES}

CONCLUSIONS = ("not-task-role", "task-role-lacks-permission", "blocked-by-other-policy", "no-detail", "encoded-message")


@dataclass(frozen=True)
class Denial:
    """One access-denied error found in the log (repeats grouped: ``count``)."""

    code: Optional[str] = None  # AccessDenied, AccessDeniedException, UnauthorizedOperation, ...
    operation: Optional[str] = None  # GetObject (when the wrapper names it)
    service: Optional[str] = None
    format: str = "unknown"  # which SDK wrapper printed it: botocore, aws-cli, go-v1, go-v2, java-v1, ...
    principal: Optional[str] = None
    action: Optional[str] = None
    resource: Optional[str] = None
    policy_type: Optional[str] = None  # a key of POLICY_TYPES
    deny: Optional[str] = None  # "explicit" / "implicit" / None (the message does not say)
    policy_arn: Optional[str] = None
    transitive: Optional[str] = None  # "transitively through a service control policy"
    encoded_message: Optional[str] = None
    message: str = ""
    count: int = 1
    first_line: int = 0  # 1-based line of the first occurrence
    decoded: Optional[dict[str, Any]] = None

    def key(self) -> tuple[Any, ...]:
        return (self.code, self.operation, self.service, self.principal, self.action, self.resource,
                self.policy_type, self.deny, self.policy_arn, self.encoded_message[:64] if self.encoded_message else None)


# ---- reading ----------------------------------------------------------------------------------


def _unescape_json(text: str) -> str:
    """JSON string escapes undone, twice at most (FireLens wraps an application's JSON in JSON)."""
    for _ in range(3):
        if "\\" not in text:
            break
        new = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u" else _ESCAPES[m.group(1)], text)
        if new == text:
            break
        text = new
    return text


def _clean(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if "\\" in text:
        text = _unescape_json(text)
    return text


def _policy_type(words: str) -> Optional[str]:
    words = words.lower()
    for key, needles, *_ in POLICY_TYPES:
        if any(n in words for n in needles):
            return key
    return None


def _strip_resource(resource: Optional[str]) -> Optional[str]:
    if not resource:
        return None
    resource = resource.strip().strip('"').strip()
    return resource.rstrip(".,;") or None


def analyze(text: str, line: int = 0) -> list[Denial]:
    """The denials in one message group's text (already unescaped)."""
    text = _WS.sub(" ", text).strip()
    if not text:
        return []
    # Split where a new SDK header starts, or where a second enriched sentence starts.
    cuts = [0]
    enriched_in_segment = False
    enriched = _ENRICHED.finditer(text) if "authorized to perform" in text else ()
    anchors = sorted([(m.start(), "h") for m in _HEADER.finditer(text)] + [(m.start(), "e") for m in enriched])
    seg_has_core = False
    for pos, kind in anchors:
        if kind == "h":
            if seg_has_core and pos > cuts[-1]:
                cuts.append(pos)
                enriched_in_segment = False
            seg_has_core = True
        else:
            if enriched_in_segment and pos > cuts[-1]:
                cuts.append(pos)
            enriched_in_segment = True
            seg_has_core = True
    cuts.append(len(text))
    out: list[Denial] = []
    for a, b in zip(cuts, cuts[1:]):
        d = _analyze_segment(text[a:b], line)
        if d is None:
            continue
        # One log record often repeats its message (JSON "message" and "stack"): one denial.
        if out and d.principal and _same_core(out[-1], d):
            out[-1] = _merged(out[-1], d)
        else:
            out.append(d)
    return out


def _same_core(a: Denial, b: Denial) -> bool:
    return (a.principal, a.action, a.resource, a.policy_type, a.deny) == (b.principal, b.action, b.resource, b.policy_type, b.deny)


def _merged(a: Denial, b: Denial) -> Denial:
    changes = {k: getattr(b, k) for k in ("code", "operation", "service", "policy_arn", "transitive", "encoded_message") if getattr(a, k) is None and getattr(b, k)}
    if a.format == "unknown" and b.format != "unknown":
        changes["format"] = b.format
    return replace(a, **changes)


def _analyze_segment(seg: str, line: int) -> Optional[Denial]:
    seg = seg[:_MAX_SEGMENT]
    fields: dict[str, Any] = {"first_line": line}
    m = _ENRICHED.search(seg) if "authorized to perform" in seg else None
    if m:
        fields["principal"] = m.group("principal")
        fields["action"] = m.group("action")
        fields["resource"] = _strip_resource(m.group("resource"))
        tail = seg[m.end() : m.end() + 800]
        nxt = _ENRICHED.search(tail)
        if nxt:
            tail = tail[: nxt.start()]
        im, ex, bs = _IMPLICIT.search(tail), _EXPLICIT.search(tail), _BUCKET_SETTING.search(tail)
        if ex:
            fields["deny"] = "explicit"
            fields["policy_type"] = _policy_type(ex.group("type"))
            rest = tail[ex.end() :]
            tr = _TRANSITIVE.search(rest)
            if tr:
                fields["transitive"] = "transitively through a " + tr.group("type")
            pa = _POLICY_ARN.search(rest[:400])
            if pa:
                fields["policy_arn"] = pa.group(1)
        elif im:
            fields["deny"] = "implicit"
            fields["policy_type"] = _policy_type(im.group("type"))
        elif bs:
            fields["deny"] = "explicit"
            fields["policy_type"] = "bucket-setting"
    for name, pattern, code_pattern in _FORMATS:
        fm = pattern.search(seg)
        if not fm:
            continue
        groups = fm.groupdict()
        if code_pattern is not None:
            cm = code_pattern.search(seg, fm.end())
            if cm:
                groups["code"] = cm.group("code")
        fields["format"] = name
        if groups.get("code"):
            fields["code"] = groups["code"]
        if groups.get("op"):
            fields["operation"] = groups["op"]
        svc = groups.get("svc")
        if svc:
            fields["service"] = svc.strip()
        if name == "php" and groups.get("url") and not fields.get("service"):
            host = re.match(r"https?://([^/:]+)", groups["url"])
            if host and (".s3." in host.group(1) or host.group(1).startswith("s3.")):
                fields["service"] = "S3"
        break
    if not fields.get("code"):
        cm = _ANY_CODE.search(seg)
        if cm:
            fields["code"] = cm.group(1)
        elif _S3_BARE.search(seg):
            fields["code"] = "AccessDenied"
    em = _ENCODED.search(seg)
    if em:
        fields["encoded_message"] = em.group("msg")[:_MAX_ENCODED]
        fields.setdefault("code", "UnauthorizedOperation")
    elif _EC2_DENIED.search(seg) and not fields.get("code"):
        fields["code"] = "UnauthorizedOperation"
    if not (m or fields.get("code") or _S3_BARE.search(seg) or fields.get("encoded_message")):
        return None
    excerpt = seg
    if fields.get("encoded_message"):
        excerpt = excerpt.replace(fields["encoded_message"], fields["encoded_message"][:24] + "...")
    fields["message"] = excerpt[:_MAX_MESSAGE] + ("..." if len(excerpt) > _MAX_MESSAGE else "")
    return Denial(**fields)


class Reader:
    """Streams a log and collects its denials; see the module docstring for the bounds."""

    def __init__(self, progress: Optional[Callable[[int, int], None]] = None, progress_every: int = 64 << 20) -> None:
        self.found: dict[tuple[Any, ...], Denial] = {}
        self.dropped = 0  # occurrences of denials beyond MAX_DISTINCT different ones
        self.bytes_read = 0
        self.occurrences = 0
        self._progress = progress
        self._progress_every = progress_every

    @property
    def denials(self) -> list[Denial]:
        return list(self.found.values())

    def _add(self, d: Denial) -> None:
        self.occurrences += 1
        k = d.key()
        old = self.found.get(k)
        if old is not None:
            self.found[k] = replace(old, count=old.count + 1)
        elif len(self.found) < MAX_DISTINCT:
            self.found[k] = d
        else:
            self.dropped += 1

    def read(self, stream: Union[IO[bytes], IO[str], Iterable[Any]]) -> "Reader":
        buf = b""
        base_line = 1  # line number of buf[0]
        consumed = 0  # groups may not start before this index of buf
        search_from = 0
        next_report = self._progress_every
        chunks = _chunks(stream)
        eof = False
        while not eof:
            try:
                data = next(chunks)
            except StopIteration:
                data, eof = b"", True
            self.bytes_read += len(data)
            buf += data
            limit = len(buf) if eof else max(0, len(buf) - _GUARD)
            hits: dict[bytes, int] = {}
            pos = search_from
            while True:
                p = _next_hit(buf, pos, limit, hits)
                if p < 0:
                    break
                end, text = _group(buf, p, consumed)
                for d in analyze(text, base_line + buf.count(b"\n", 0, p)):
                    self._add(d)
                consumed = pos = max(end, p + 1)
            search_from = max(pos, limit)
            if eof:
                break
            # Keep what a later group may still need: the line before the guard zone, bounded.
            keep = buf.rfind(b"\n", 0, max(0, buf.rfind(b"\n", 0, limit))) + 1
            keep = max(keep, consumed, len(buf) - _MAX_CARRY)
            keep = min(keep, search_from)
            base_line += buf.count(b"\n", 0, keep)
            buf = buf[keep:]
            consumed = max(0, consumed - keep)
            search_from -= keep
            if self._progress and self.bytes_read >= next_report:
                next_report += self._progress_every
                self._progress(self.bytes_read, self.occurrences)
        return self


def _chunks(stream: Any) -> Iterable[bytes]:
    """Bytes from a binary stream, a text stream or an iterable of str/bytes, in bounded pieces."""
    raw = getattr(stream, "buffer", None)
    src = raw if raw is not None else stream
    read = getattr(src, "read", None)
    if read is not None:
        while True:
            data = read(_CHUNK)
            if not data:
                return
            yield data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    else:
        for piece in src:
            yield piece.encode("utf-8", "surrogateescape") if isinstance(piece, str) else piece


def _next_hit(buf: bytes, pos: int, limit: int, cache: dict[bytes, int]) -> int:
    best = -1
    for t in _TRIGGERS:
        at = cache.get(t, -2)
        if at == -1:
            continue
        if at < pos:
            at = buf.find(t, pos, limit + len(t) - 1) if pos < limit else -1
            cache[t] = at
        if at >= 0 and (best < 0 or at < best):
            best = at
    return best


def _group(buf: bytes, p: int, consumed: int) -> tuple[int, str]:
    """(end index, text) of the message around the hit at p: its line (bounded), the line before
    when that is a header ending in ':' (PHP's "Error executing ...", a wrapped botocore header),
    and the lines after that continue it."""
    line_start = buf.rfind(b"\n", 0, p) + 1
    start = max(line_start, p - _LINE_WINDOW, consumed)
    # Look back (three lines at most) for the start of the message: a line that this one continues
    # ("is not authorized ..." under "User: arn:..."), an unfinished header, or PHP's "Error executing".
    first = buf[start:p].decode("utf-8", "replace")
    for _ in range(3):
        if start != line_start or line_start <= consumed:
            break
        prev_start = max(buf.rfind(b"\n", 0, line_start - 1) + 1, consumed, line_start - _LINE_WINDOW)
        prev = buf[prev_start : line_start - 1].rstrip().decode("utf-8", "replace")
        if not prev.strip():
            break
        if not (_CONTINUES.match(first) or _UNFINISHED.search(prev) or "Error executing" in prev or prev.startswith("<")):
            break
        start = line_start = prev_start
        first = prev
    nl = buf.find(b"\n", p, p + _LINE_AFTER)
    end = nl if nl >= 0 else min(len(buf), p + _LINE_AFTER)
    lines = [_clean(buf[start:end])]
    cur = end
    n = 1
    while nl >= 0 and n < _GROUP_MAX_LINES and cur - start < _GROUP_MAX_BYTES:
        nxt_start = cur + 1
        nxt_nl = buf.find(b"\n", nxt_start, nxt_start + _LINE_AFTER)
        nxt_end = nxt_nl if nxt_nl >= 0 else min(len(buf), nxt_start + _LINE_AFTER)
        line = buf[nxt_start:nxt_end]
        joined_tail = lines[-1].rstrip()
        text_line = _clean(line)
        if not line.strip() or not (_CONTINUES.match(text_line) or _UNFINISHED.search(joined_tail)):
            break
        if any(t in line for t in _TRIGGERS) and _HEADER.search(text_line) and not text_line[:1].isspace():
            break  # a new message of its own
        lines.append(text_line)
        cur, nl, n = nxt_end, nxt_nl, n + 1
    return cur, "\n".join(lines)


def parse(stream: Union[IO[bytes], IO[str], Iterable[Any]]) -> list[Denial]:
    """Every access-denied error in the stream, repeats grouped (``count``), in order of first
    appearance. Streams in bounded memory; never raises on binary or malformed text."""
    return Reader().read(stream).denials


# ---- judging ----------------------------------------------------------------------------------


def principal_kind(principal: Optional[str], task_role: Optional[str] = None) -> tuple[str, dict[str, Optional[str]]]:
    """(kind, facts) of a principal ARN: task-role, instance-role, user, other-role or unknown."""
    info: dict[str, Optional[str]] = {"account": None, "role_name": None, "session_name": None}
    if not principal or not principal.startswith("arn:"):
        return "unknown", info
    acct = re.match(r"^arn:[\w-]+:[\w-]+::(\d{12}):", principal)
    info["account"] = acct.group(1) if acct else None
    if re.search(r":(?:user|federated-user)/", principal) or principal.endswith(":root"):
        return "user", info
    m = _ASSUMED.match(principal)
    r = _IAM_ROLE.match(principal)
    if not (m or r):
        return "unknown", info
    name = m.group(2).rsplit("/", 1)[-1] if m else r.group(2)
    session = m.group(3) if m else None
    info["role_name"], info["session_name"] = name, session
    if task_role:
        tm = _IAM_ROLE.match(task_role) or _ASSUMED.match(task_role)
        same_account = tm is None or info["account"] is None or tm.group(1) == info["account"]
        if role_name(task_role) == name and same_account:
            return "task-role", info
    if session and _INSTANCE_ID.match(session):
        return "instance-role", info
    if session and _TASK_ID.match(session) and not task_role:
        return "task-role", info
    return "other-role", info


def _conclusion(d: Denial, kind: str) -> str:
    if kind in ("instance-role", "user", "other-role"):
        return "not-task-role"
    if d.policy_type is None:
        return "encoded-message" if d.encoded_message else "no-detail"
    if d.policy_type == "identity-based" and d.deny == "implicit":
        return "task-role-lacks-permission"
    return "blocked-by-other-policy"


_KIND_WORDS = {
    "instance-role": "the EC2 instance role",
    "user": "an IAM user (static keys)",
    "other-role": "another role",
    "task-role": "the task role",
    "unknown": "an identity the message does not name",
}

_CHECKS_HINT = (
    "Run `probe` inside the task to see why: env.credentials-variable (no task role, or the credentials "
    "variable is missing in this process), processes.credentials-variable (the application is not PID 1 and never "
    "got AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: the shim fixes it), env.shadowing-credentials (AWS_ACCESS_KEY_ID, a "
    "profile or a shared credentials file wins over the task role), sdk.versions and sdk.identity (an SDK too old "
    "for task roles falls back to the instance role), identity.task-role."
)

_LIKELY_CAUSES = {
    "s3": (
        "the bucket or object belongs to another account or organization that does not grant access (S3 gives the "
        "detailed message only within one account or organization)",
        "a bucket policy or access point policy denies it, or does not allow it",
        "the object is encrypted with a KMS key whose key policy does not let the caller use it (kms:Decrypt / kms:GenerateDataKey)",
        "a VPC endpoint policy of the S3 gateway endpoint (within an organization S3 does not name it)",
    ),
    "kms": (
        "the key policy does not allow the caller (KMS keys need the key policy to allow, or to delegate to IAM)",
        "the key belongs to another account, or the key id names a key in another region",
        "the key is disabled or pending deletion",
        "a VPC endpoint policy of the KMS interface endpoint",
    ),
    "": (
        "the resource belongs to another account that does not grant access",
        "a resource-based policy denies it or does not allow it",
        "a KMS key used by the resource does not let the caller use it",
        "a VPC endpoint policy",
    ),
}


def _service_key(d: Denial) -> str:
    words = " ".join(x for x in (d.service, d.action, d.resource, d.operation) if x).lower()
    if "kms" in words or (d.code == "AccessDeniedException" and d.operation in ("Decrypt", "GenerateDataKey", "Encrypt")):
        return "kms"
    if "s3" in words or (d.code == "AccessDenied" and d.operation and "Object" in d.operation or "Bucket" in (d.operation or "")):
        return "s3"
    if d.code == "AccessDenied" and "Access Denied" in d.message and not d.principal:
        return "s3"
    return ""


def policy_statement(action: str, resource: Optional[str]) -> str:
    """A minimal statement allowing exactly this action on this resource (one line of JSON)."""
    return json.dumps({"Effect": "Allow", "Action": action, "Resource": resource or "*"}, separators=(", ", ": "))


def _judge(d: Denial, task_role: Optional[str], in_task_summary: Optional[str]) -> Result:
    kind, info = principal_kind(d.principal, task_role)
    conclusion = _conclusion(d, kind)
    what = d.action or (f"{d.operation}" if d.operation else "the call")
    on = f" on {d.resource}" if d.resource else ""
    who = info.get("role_name") or d.principal or "the caller"
    ptype = _TYPE_BY_KEY.get(d.policy_type or "")
    facts = []
    if d.principal:
        facts.append(f"principal {d.principal} ({kind})")
    if d.action:
        facts.append(f"action {d.action}")
    if d.resource:
        facts.append(f"resource {d.resource}")
    if ptype:
        facts.append(f"{d.deny or 'unknown'} deny in {ptype[2]}" + (f" ({d.transitive})" if d.transitive else ""))
    if d.policy_arn:
        facts.append(f"policy {d.policy_arn}")
    if d.code or d.operation:
        facts.append(" ".join(x for x in (d.code, f"from {d.operation}" if d.operation else None) if x))
    seen = f"seen {d.count} time{'s' if d.count != 1 else ''} (first on line {d.first_line})"
    detail = "; ".join(facts) + ("; " if facts else "") + seen + f". Message: {d.message}"

    if conclusion == "not-task-role":
        kw = _KIND_WORDS[kind]
        title = f"{what} was denied to {kw} {who}, not the task role: the task role was never used"
        if kind == "instance-role":
            remedy = ("The SDK fell back to the EC2 instance role (a session named after the instance id). Do not add the "
                      "permission to the instance role: make the application use the task role. " + _CHECKS_HINT)
        elif kind == "user":
            remedy = ("Static keys of an IAM user win over the task role. Remove AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                      "and any profile or ~/.aws/credentials from the image and the task definition (see env.shadowing-credentials). "
                      + _CHECKS_HINT)
        else:
            remedy = (f"The call was made as role {who}, which is not the task role"
                      + (f" {role_name(task_role)}" if task_role else "")
                      + ". Find where that role comes from (a profile role_arn, web identity, another AssumeRole in the "
                      "application; see env.shadowing-credentials)."
                      + ("" if task_role else f" If {who} is your task role, run again with --task-role {who}.")
                      + " " + _CHECKS_HINT)
        if in_task_summary:
            remedy += f" Task diagnosis: {in_task_summary}"
    elif conclusion == "task-role-lacks-permission":
        subject = f"The task role {who}" if kind == "task-role" else f"The caller {who}"
        title = f"{subject} lacks {what}{on}: no identity-based policy allows it"
        stmt = policy_statement(d.action or "<service>:<Action>", d.resource)
        remedy = (f"A starting point to review, not to apply blindly (narrow the resource, add conditions, check the "
                  f"resource types the action needs): add to {who}'s policy the statement {stmt}"
                  + ("" if d.resource else " (the message names no resource: replace * with the exact ARN)")
                  + f". For example: aws iam put-role-policy --role-name {info.get('role_name') or '<ROLE>'} "
                  f"--policy-name allow-{(d.action or 'action').replace(':', '-').replace('*', 'all')} --policy-document file://policy.json "
                  "(a policy document with this statement).")
        if kind != "task-role":
            remedy += " The message does not show whether this is the task role: pass --task-role to be sure."
    elif conclusion == "blocked-by-other-policy":
        if ptype is None:  # the conclusion implies a known policy type; never a bare assert (python -O)
            ptype = _TYPE_BY_KEY["identity-based"]
        key = ptype[0]
        deny_words = "an explicit deny in" if d.deny == "explicit" else "no allow in"
        title = f"{what}{on} is blocked by {deny_words} {ptype[2]}"
        if key == "identity-based":
            title += ": adding permissions to the task role will not help"
            remedy = (f"A Deny statement in a policy attached to {who}"
                      + (f" ({d.policy_arn})" if d.policy_arn else "")
                      + f" wins over every Allow. Who can change it: {ptype[3]}. Remove or narrow that Deny; adding Allow statements "
                      f"will not help. Look: {ptype[4]}.")
        else:
            title += ": changing the task role's policy will not help"
            remedy = (f"Which: {ptype[2]}" + (f" ({d.policy_arn})" if d.policy_arn else "")
                      + (f", {d.transitive}" if d.transitive else "")
                      + f". Who can change it: {ptype[3]}. Changing the task role's policy will not help"
                      + (" (the boundary caps the role: it must allow the action too)" if key == "permissions-boundary" else "")
                      + f". Look: {ptype[4]}.")
            if key == "session" and kind == "task-role":
                remedy += " The ECS agent passes no session policy for the task role, so another AssumeRole made this session."
            if key == "resource-based" and d.deny == "implicit":
                remedy += " Across accounts the resource policy must name the principal, and the principal's own policy must allow the action too."
    elif conclusion == "encoded-message":
        title = f"{what} denied ({d.code or 'UnauthorizedOperation'}): the reason is in the encoded authorization message"
        remedy = ("Decode it with credentials allowed to call sts:DecodeAuthorizationMessage: "
                  "aws sts decode-authorization-message --encoded-message <the message after 'Encoded authorization failure message:'> "
                  "--query DecodedMessage --output text | jq . (it names the principal, action, resource and whether the deny was explicit). "
                  "probe explain decodes it itself when AWS_ENDPOINT_URL_STS and credentials are set. "
                  + ("" if d.principal else "The message does not name the principal: run `probe` inside the task to see which identity the SDK uses."))
    else:
        svc = _service_key(d)
        title = f"{d.code or 'Access denied'}{' from ' + d.operation if d.operation else ''} with no detail: the message does not say who was denied or why"
        causes = "; ".join(f"{i}) {c}" for i, c in enumerate(_LIKELY_CAUSES[svc], 1))
        remedy = (f"Likely causes, in order: {causes}. To get the detail: find the event in CloudTrail (errorCode AccessDenied; it "
                  "names userIdentity.arn and the resource; S3 object calls need data events: "
                  + (f"aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue={d.operation}" if d.operation
                     else "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=<Operation>")
                  + "), and repeat the call as the same principal (run `probe` in the task to learn it, then the same call with --debug).")
        if kind == "task-role" and d.principal:
            remedy = f"It was the task role {who}. " + remedy
        elif not d.principal:
            remedy += " The message does not name the principal: run `probe` inside the task to see which identity the SDK really uses."
    if d.decoded is not None:
        detail = "Decoded with STS DecodeAuthorizationMessage. " + detail
    data: dict[str, Any] = {
        "principal": d.principal,
        "kind": kind,
        "role_name": info.get("role_name"),
        "session_name": info.get("session_name"),
        "account": info.get("account"),
        "action": d.action,
        "resource": d.resource,
        "policy_type": d.policy_type,
        "deny": d.deny,
        "policy_arn": d.policy_arn,
        "code": d.code,
        "operation": d.operation,
        "service": d.service,
        "format": d.format,
        "encoded_message": (d.encoded_message[:32] + "...") if d.encoded_message else None,
        "decoded": d.decoded is not None,
        "count": d.count,
        "first_line": d.first_line,
        "conclusion": conclusion,
    }
    if conclusion == "task-role-lacks-permission":
        data["policy_statement"] = json.loads(policy_statement(d.action or "<service>:<Action>", d.resource))
        data["policy_statement_note"] = "a starting point to review, not to apply blindly"
    return Result(id=CHECK_ID, status=Status.FAIL, title=title, detail=detail, remedy=remedy, data=data)


def _summary(results: Sequence[Result], dropped: int = 0) -> str:
    if not results:
        return "No access-denied error found"
    total = sum(int(r.data.get("count", 1)) for r in results)
    by: dict[str, int] = {}
    for r in results:
        by[str(r.data["conclusion"])] = by.get(str(r.data["conclusion"]), 0) + 1
    parts = ", ".join(f"{n} {c}" for c, n in by.items())
    first = results[0].title
    more = f"; {dropped} more occurrences of other denials not listed" if dropped else ""
    return f"{len(results)} access denial{'s' if len(results) != 1 else ''} ({total} occurrence{'s' if total != 1 else ''}: {parts}){more}. First: {first}"


def explain(
    denials: Sequence[Denial],
    task_role: Optional[str] = None,
    in_task_summary: Optional[str] = None,
    *,
    started: Optional[float] = None,
    dropped: int = 0,
) -> Report:
    """The explain-mode report: one ``explain.denial`` (status fail) per denial.

    ``task_role`` is a role name or ARN (``--task-role``, or the credentials endpoint's RoleArn with
    ``--in-task``); ``in_task_summary`` is the task diagnosis' summary, attached to denials that were
    not made as the task role.
    """
    t0 = started if started is not None else time.monotonic()
    results = tuple(_judge(d, task_role, in_task_summary) for d in denials)
    return Report(
        mode="explain",
        started_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_ms=int((time.monotonic() - t0) * 1000),
        summary=_summary(results, dropped),
        results=results,
        version=__version__,
    )


# ---- decoding EC2's encoded authorization messages ---------------------------------------------

MAX_DECODES = 5


def decode_messages(denials: Sequence[Denial], environ: Optional[dict[str, str]] = None, timeout: float = 3.0) -> list[Denial]:
    """Decode the encoded messages with STS DecodeAuthorizationMessage, when an STS endpoint is
    configured (AWS_ENDPOINT_URL_STS) and credentials are available; otherwise, or on any failure,
    the denials come back unchanged. Never asks IMDS for credentials. At most MAX_DECODES calls,
    each with one attempt and ``timeout`` seconds to connect and to read."""
    env = os.environ if environ is None else environ
    endpoint = env.get("AWS_ENDPOINT_URL_STS")
    if not endpoint or not any(d.encoded_message for d in denials):
        return list(denials)
    try:
        import botocore.session
        from botocore.config import Config
    except ImportError:  # pragma: no cover - botocore is a runtime dependency
        return list(denials)
    try:
        session = botocore.session.get_session()
        resolver = session.get_component("credential_provider")
        try:
            resolver.remove("iam-role")  # never the instance role: on a host, that is not ours to use
        except Exception:  # noqa: BLE001 - an older botocore without it: keep going without IMDS anyway
            pass
        creds = session.get_credentials()
        if creds is None:
            return list(denials)
        client = session.create_client(
            "sts",
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=endpoint,
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}),
        )
    except Exception:  # noqa: BLE001 - decoding is optional: any failure leaves the advice to decode
        return list(denials)
    out, done = [], 0
    for d in denials:
        if d.encoded_message and done < MAX_DECODES:
            done += 1
            try:
                answer = client.decode_authorization_message(EncodedMessage=d.encoded_message)
                decoded = json.loads(answer["DecodedMessage"])
            except Exception:  # noqa: BLE001
                out.append(d)
                continue
            out.append(_apply_decoded(d, decoded))
        else:
            out.append(d)
    return out


def _apply_decoded(d: Denial, decoded: Any) -> Denial:
    if not isinstance(decoded, dict):
        return d
    ctx = decoded.get("context") if isinstance(decoded.get("context"), dict) else {}
    principal = ctx.get("principal") if isinstance(ctx.get("principal"), dict) else {}
    explicit = decoded.get("explicitDeny")
    changes: dict[str, Any] = {"decoded": {k: decoded.get(k) for k in ("allowed", "explicitDeny")}}
    if isinstance(principal.get("arn"), str):
        changes["principal"] = principal["arn"]
    if isinstance(ctx.get("action"), str):
        changes["action"] = ctx["action"]
    if isinstance(ctx.get("resource"), str):
        changes["resource"] = ctx["resource"]
    if explicit is True:
        changes["deny"] = "explicit"
        # The decoded message does not say which kind of policy; a matched statement may.
        changes["policy_type"] = d.policy_type or "identity-based"
    elif explicit is False:
        changes["deny"] = "implicit"
        changes["policy_type"] = d.policy_type or "identity-based"
    return replace(d, **changes)


# ---- command line -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"probe explain: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="probe explain",
        description="Explain the AWS access-denied errors in a log: who was denied, by which policy, and what to change.",
        epilog="Exit codes: 0 no denial found, 1 a denial was found, 2 bad usage or unreadable input.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="log text to read (default -: stdin)")
    p.add_argument("--format", choices=("text", "json"), default=os.environ.get("PROBE_FORMAT") or "text")
    p.add_argument("--json", action="store_const", const="json", dest="format", help="short for --format json")
    p.add_argument("--task-role", metavar="NAME_OR_ARN", default=os.environ.get("PROBE_TASK_ROLE"), help="the task role (name or ARN)")
    p.add_argument("--no-decode", action="store_true", help="never call STS to decode EC2's encoded messages")
    p.add_argument("--no-color", action="store_true", help="no colour (also NO_COLOR)")
    return p


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report through the project's renderers (both scrub secrets: access key ids are masked)."""
    from probe import redact

    if fmt == "json":
        from probe.render import json as json_render

        return json_render.render(report)
    from probe.render import text as text_render

    return redact.scrub(text_render.render(report, color=color))


def run(
    stream: Any,
    task_role: Optional[str] = None,
    in_task_summary: Optional[str] = None,
    decode: bool = True,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Report:
    """Read, decode (when configured) and judge: the report for a stream."""
    started = time.monotonic()
    reader = Reader(progress=progress).read(stream)
    denials = reader.denials
    if decode:
        denials = decode_messages(denials)
    return explain(denials, task_role, in_task_summary, started=started, dropped=reader.dropped)


def main(argv: Optional[Sequence[str]] = None, in_task_summary: Optional[str] = None, task_role_default: Optional[str] = None) -> int:
    """`probe explain`. ``in_task_summary`` and ``task_role_default`` come from `--in-task`:
    the task diagnosis run first (probe/cli.py), and the task role its endpoint served."""
    args = build_parser().parse_args(argv)
    if not args.task_role and task_role_default:
        args.task_role = task_role_default
    stderr = sys.stderr
    progress = None
    try:
        if args.file == "-":
            stream: Any = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
            if sys.stdin.isatty():
                stderr.write("probe explain: reading stdin: paste the log, then Ctrl-D\n")
                stderr.flush()
            elif stderr.isatty():
                def progress(n: int, found: int) -> None:
                    stderr.write(f"\rprobe explain: {n >> 20} MiB read, {found} denial{'s' if found != 1 else ''} so far")
                    stderr.flush()
            report = run(stream, args.task_role, in_task_summary, decode=not args.no_decode, progress=progress)
        else:
            try:
                fh = open(args.file, "rb")
            except OSError as exc:
                stderr.write(f"probe explain: cannot read {args.file}: {exc.strerror or exc}\n")
                return EXIT_USAGE
            with fh:
                report = run(fh, args.task_role, in_task_summary, decode=not args.no_decode)
    except OSError as exc:
        stderr.write(f"probe explain: cannot read {args.file}: {exc.strerror or exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        stderr.write("\nprobe explain: interrupted\n")
        return EXIT_USAGE
    if progress is not None:
        stderr.write("\r\033[K")
    color = (not args.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty() and os.environ.get("TERM") != "dumb")
    sys.stdout.write(render(report, args.format, color))
    sys.stdout.flush()
    return EXIT_FOUND if report.results else EXIT_NONE


__all__ = ["Denial", "Reader", "analyze", "decode_messages", "explain", "main", "parse", "principal_kind", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
