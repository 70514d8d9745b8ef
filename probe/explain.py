"""`probe explain`: from the access-denied messages in a log to their cause (issues 14, 19).

Three steps, kept apart like the rest of the probe:

1. ``parse(stream)``: read log text (a file, stdin, a pasted line) in bounded memory and find every
   access-denied error in it, whatever SDK printed it, across line breaks and inside the wrappers
   log shippers put around a line (docker's json-file, FireLens/fluentd records, JSON application
   logs nested in them, ``aws logs tail``, CRI). Repeats are grouped with a count; the copies of one
   error that SDK debug and wire logs print (the response body, the traceback, the final message)
   are one occurrence.
2. ``explain(denials, task_role=None, in_task_summary=None)``: judge each denial (who was denied,
   by which kind of policy) and turn it into a ``Result`` of a ``Report`` in mode ``explain``.
3. ``main(argv)``: the command line, rendered by the project's text and JSON renderers.

How the reader stays fast, linear and bounded (issue 19):

* The stream is read in 1 MiB chunks of bytes; a few literal ``bytes.find`` calls (memchr speed)
  locate the places worth a look. Nothing rescans the buffer: line numbers are counted forward
  from the last counted position, a hit's line start is searched back at most ``_LINE_WINDOW``
  bytes, and every position is passed by each find once.
* Only the lines around a hit are looked at: each line's payload is taken out of its wrapper, the
  lines that continue the message are joined, and the group's text is analysed once per distinct
  text (an LRU-less bounded cache: a log that repeats one error thousands of times with changing
  timestamps and request ids costs one analysis).
* The analysis is anchored on literal keywords ("is not authorized to perform", the SDKs' headers):
  the principal is the token before the keyword, the action and resource the tokens after it; no
  pattern has nested or overlapping unbounded quantifiers, so near misses cost linear time.
* At most ``_MAX_CARRY`` bytes are kept between chunks, a line is never held whole beyond
  ``_LINE_WINDOW`` bytes before a hit and ``_LINE_AFTER`` after it, and at most ``MAX_DISTINCT``
  different denials are remembered (the rest are counted).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from probe import __version__
from probe.arns import ASSUMED as _ASSUMED, IAM_ROLE as _IAM_ROLE, INSTANCE_ID as _INSTANCE_ID, TASK_ID as _TASK_ID, role_name
from probe.model import Report, Result, Status

CHECK_ID = "explain.denial"

# ---- what the reader looks for ---------------------------------------------------------------
# Literal byte strings that every access-denied message of every SDK contains at least one of.
# "Forbidden": S3 answers HEAD requests with a bare 403 and no body, so the SDKs have no code or
# message to print but the status ("An error occurred (403) when calling the HeadObject operation:
# Forbidden"); that also makes web servers' "403 Forbidden" lines hits, which the analysis drops.
_TRIGGERS = (b"AccessDenied", b"Access Denied", b"not authorized to perform", b"UnauthorizedOperation", b"Forbidden")
_CHUNK = 1 << 20
_LINE_WINDOW = 6 << 10  # bytes kept before a hit on its line ...
_LINE_AFTER = 12 << 10  # ... and after it
_GROUP_MAX_LINES = 24
_GROUP_MAX_BYTES = 32 << 10
_LOOK_BACK = 3  # lines before a hit that may start its message
_GUARD = 64 << 10  # hits this close to the end of what was read wait for the next chunk
_MAX_CARRY = _GUARD + (64 << 10)
MAX_DISTINCT = 500
_MAX_MESSAGE = 600  # characters of the message kept as an excerpt
_MAX_ENCODED = 16 << 10
_MAX_SEGMENT = 8 << 10  # characters of one message that are matched
_MAX_JSON = 256 << 10  # a JSON line longer than this is read as text
_CACHE_MAX = 4096  # distinct message texts whose analysis is remembered
_ECHO_LINES = 200  # copies of one error this close together (debug and wire logs) are one occurrence

_JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": " ", "f": " ", "n": "\n", "r": "\n", "t": "\t"}
_WS = re.compile(r"\s+")
_XML_ENTITIES = (("&quot;", '"'), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))

# The wrappers a log shipper puts in front of a line: a timestamp (RFC 3339 / ISO 8601 with "T" or
# a space), then CRI's "stdout F " (containerd and CRI-O: F a full line, P a partial one), or
# `aws logs tail`'s log stream name (awscli/customizations/logs/tail.py, DetailedLogEventsFormatter:
# '%s %s %s' % (timestamp.isoformat(timespec='microseconds'), logStreamName, message); an ECS
# awslogs stream is prefix/container/task-id, so a name with a "/" in it).
_PREFIX = re.compile(
    rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? "
    rb"(?:(?:stdout|stderr) (?P<cri>[PF]) |(?P<stream>[^\s/]{1,512}/[^\s]{1,512} ))?"
)
# Keys of the message in JSON log records: docker json-file and fluentd/FireLens "log", CloudWatch
# and most loggers "message", pino/zap/logrus "msg", Serilog's compact format "@m".
_MESSAGE_KEYS = ("log", "message", "msg", "@m", "Message", "MessageTemplate", "text")
# Lines that go on with the message of the line before them (after their wrapper is taken off).
_CONT_START = (b" ", b"\t", b"(", b"<", b"}", b'"', b"is not authorized", b"arn:", b"on resource", b"because ",
               b"with an explicit", b"an explicit deny", b"bucket has blocked", b"Encoded authorization", b"caused by",
               b"--- End of", b"transitively")
# Words a wrapped message line can end on (the next line goes on with it).
# Words a wrapped message line can end on (the next line goes on with it).
_UNFINISHED_WORDS = frozenset(b"the a an in on with because no is not to perform resource operation".split())
_OPEN_ENDS = (b":", b",")
_CONT_FIRST = frozenset(t[0] for t in _CONT_START) | frozenset(b"{")
_HEADER_START = (b"An error occurred (", b"fatal error: An error occurred (", b"operation error ", b'Error executing "')

# What differs between two printings of one message and says nothing about the denial: the line's
# leading timestamp (and CRI's or `aws logs tail`'s wrapper), request and host ids, docker's "time".
# Left out of the cache key ("form") only, never out of what is analysed. Each pattern starts with
# a literal and is applied only when its literal is there (one pass each, memchr speed); none spans
# a line break, so a block and its lines normalise alike.
_FORM_PREFIX = re.compile(
    rb"\n\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? (?:(?:stdout|stderr) F |[^\s/]{1,512}/[^\s]{1,512} )?"
)
_ID = rb"[\w+/=.-]{1,200}"
_VOLATILE = tuple((gate, tuple((lit, re.compile(re.escape(lit) + tail)) for lit, tail in pats)) for gate, pats in (
    (b"equestI", ((b"RequestID: ", _ID), (b"RequestId: ", _ID), (b"requestId: '", rb"[^'\n]{1,200}"), (b"RequestId>", rb"[^<\n]{1,200}"),
                  (b'"requestId":"', rb'[^"\n]{1,200}'))),
    (b"equest I", ((b"Request ID: ", _ID),)),
    (b"equest i", ((b"request id: ", _ID),)),
    (b"ostI", ((b"HostID: ", _ID), (b"HostId: ", _ID), (b"HostId>", rb"[^<\n]{1,200}"))),
    (b"host id: ", ((b"host id: ", _ID),)),
    # docker's "time"; JSON application logs' own times (pino and bunyan "time", logstash
    # "@timestamp", zap "ts"), as they are and escaped inside a shipper's record
    (b'time":', ((b'"time":', rb' ?"[^"\n]{1,64}"'), (b'time":', rb" ?[\d.]{1,20}"))),
    (b'time\\":', ((b'time\\":', rb" ?[\d.]{1,20}"),)),
    (b"timestamp", ((b'timestamp":', rb' ?"[^"\n]{1,40}"'), (b'timestamp\\":', rb' ?\\"[^"\\\n]{1,40}\\"'))),
    (b'ts":', ((b'"ts":', rb" ?[\d.]{1,20}"),)),
    (b'ts\\":', ((b'ts\\":', rb" ?[\d.]{1,20}"),)),
))


def _normalize(block: bytes) -> bytes:
    """``block`` (starting with a line break) with the volatile parts blanked, line for line."""
    block = _FORM_PREFIX.sub(b"\n", block)
    for gate, pats in _VOLATILE:
        if gate in block:
            for lit, pattern in pats:
                if len(pats) == 1 or lit in block:
                    block = pattern.sub(lit, block)
    return block


def _form(raw: bytes) -> bytes:
    return _normalize(b"\n" + raw)[1:]


_ANCHOR = "is not authorized to perform"
_ACTION = re.compile(r" ?:? ?([A-Za-z0-9-]{1,64}:[A-Za-z0-9*]{1,128})")
_ON_RESOURCE = re.compile(r" on resource ?:? ?")
_POLICY_ARN = re.compile(r"arn:[\w-]{1,32}:(?:organizations|iam)::\d{0,12}:policy/[^\s,\"'<>)]{1,512}")
_ENCODED = re.compile(r"Encoded authorization failure message: ?([A-Za-z0-9_\-+/=]{16,16384})")
_EC2_DENIED = "You are not authorized to perform this operation"
# Markers of a message cut short by a log shipper: the CloudWatch agent's default truncation
# suffix "[Truncated...]" (amazon-cloudwatch-agent, defaultTruncateSuffix), Guzzle's body summary
# "(truncated...)" in PHP's AwsException.
_TRUNCATION_MARKS = ("[Truncated...]", "(truncated...)")
_PRINCIPAL_EDGE = "\"'`<>()[]{},;"

_CODES = "AccessDenied(?:Exception)?|UnauthorizedOperation|UnauthorizedAccess|AuthorizationError(?:Exception)?|AccessDeniedError"
# Not a language's own class of the same name (java.nio.file.AccessDeniedException).
_ANY_CODE = re.compile(r"(?<![.\w])(" + _CODES + r")\b")
_S3_BARE = re.compile(r"\bAccess Denied\b")

# (format, literal marker, pattern matched at the marker): the first marker found names the SDK's
# wrapper; its groups give code, operation and service. Every pattern starts with its marker.
_FORMATS: tuple[tuple[str, str, Optional["re.Pattern[str]"]], ...] = (
    ("aws-cli", "fatal error: An error occurred (", re.compile(r"fatal error: An error occurred \((?P<code>[\w.]{1,64})\) when calling the (?P<op>\w{1,64}) operation")),
    ("botocore", "An error occurred (", re.compile(r"An error occurred \((?P<code>[\w.]{1,64})\) when calling the (?P<op>\w{1,64}) operation")),
    ("go-v2", "operation error ", re.compile(r"operation error (?P<svc>[^:,]{1,60}): (?P<op>\w{1,64}), https? response error StatusCode: (?P<status>\d{3})")),
    ("php", 'Error executing "', re.compile(r'Error executing "(?P<op>\w{1,64})" on "(?P<url>[^"]{0,1024})"')),
    ("go-v1", "status code: ", re.compile(r"status code: (?P<status>\d{3}), request id:")),
    ("java-v1", "(Service: ", re.compile(r"\(Service: (?P<svc>[^;),]{1,60}); Status Code: (?P<status>\d{3}); Error Code: (?P<code>[^;)]{1,64});")),
    ("java-v2", "(Service: ", re.compile(r"\(Service: (?P<svc>[^;),]{1,60}), Status Code: (?P<status>\d{3})")),
    ("ruby", "Aws::", re.compile(r"Aws::(?P<svc>\w{1,64})::Errors::(?P<code>\w{1,64})")),
    ("dotnet", "Amazon.", re.compile(r"Amazon\.(?P<svc>\w{1,64})\.(?:Model\.)?(?P<exc>\w{1,64}Exception)\b")),
    ("php", "Aws\\", re.compile(r"Aws\\(?P<svc>\w{1,64})\\Exception\\(?P<exc>\w{1,64}Exception)\b")),
    ("js-v3", "@aws-sdk/", None),
    ("js-v3", "@smithy/", None),
    ("js-v3", "Protocol.handleError", None),
    ("js-v3", "throwDefaultError", None),
    ("js-v2", "Request.extractError", None),
    ("js-v2", "aws-sdk/lib", None),
    ("xml", "<Code>", re.compile(r"<Code>(?P<code>\w{1,64})</Code>")),
    ("json-body", '"__type"', re.compile(r'"__type" ?: ?"(?:[\w.]{0,200}#)?(?P<code>\w{1,64})"')),
)
_WIRE_FORMATS = ("xml", "json-body")  # an HTTP response body, as SDK debug and wire logs print it
# The Go v2 code after its header: smithy-go GenericAPIError "api error %s: %s".
_GO_V2_CODE = re.compile(r"api error (?P<code>\w{1,64}):")
_PHP_CODE = re.compile(r" (?P<code>\w{1,64}) \((?:client|server)\):")
# Words that say a message is AWS's, when it names no principal or action: without one of them,
# "Access Denied" (Spring Security's AuthorizationDeniedException, a web server, Windows) is not an
# AWS denial.
_AWS_WORDS = ("amazonaws.com", "Amazon S3", "Amazon.", "Aws::", "Aws\\", "aws-sdk", "@aws-sdk", "botocore", "boto3",
              "software.amazon", "com.amazonaws", "arn:aws", "AccessDenied: Access Denied", "x-amz-", "s3://",
              "UnauthorizedOperation", "Encoded authorization failure message", "AWS HTTP error")

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

CONCLUSIONS = ("not-task-role", "task-role-lacks-permission", "reason-not-stated", "blocked-by-other-policy", "no-detail", "encoded-message")


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
    truncated: bool = False  # the message was cut short (a log shipper's line limit): its end is missing

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


def _policy_type(words: str) -> Optional[str]:
    words = words.lower()
    for key, needles, *_ in POLICY_TYPES:
        if any(n in words for n in needles):
            return key
    return None


def _strip_resource(resource: Optional[str]) -> Optional[str]:
    if not resource:
        return None
    resource = resource.strip().strip("\"'").strip()
    return resource.rstrip(".,;)'\"") or None


# -- one message group's text -> its denials -----------------------------------------------------


def analyze(text: str, line: int = 0) -> list[Denial]:
    """The denials in one message group's text (already taken out of its wrappers)."""
    if "\\" in text:
        text = _unescape_json(text)
    if "&" in text:  # an XML body (S3's error document): its entities
        for ent, ch in _XML_ENTITIES:
            text = text.replace(ent, ch)
    text = _WS.sub(" ", text).strip()
    if not text:
        return []
    # Split where a new SDK header starts, or where a second enriched sentence starts.
    anchors: list[tuple[int, str]] = []
    for marker in ("An error occurred (", "operation error ", 'Error executing "'):
        at = text.find(marker)
        while at >= 0:
            anchors.append((at - 13 if text.endswith("fatal error: ", 0, at) else at, "h"))
            at = text.find(marker, at + 1)
    at = text.find(_ANCHOR)
    while at >= 0:
        anchors.append((_sentence_start(text, at), "e"))
        at = text.find(_ANCHOR, at + 1)
    anchors.sort()
    cuts = [0]
    seg_has_core = enriched_in_segment = False
    for pos, kind in anchors:
        if kind == "h":
            if seg_has_core and pos > cuts[-1]:
                cuts.append(pos)
                enriched_in_segment = False
            seg_has_core = True
        else:
            if enriched_in_segment and pos > cuts[-1]:
                cuts.append(pos)
            enriched_in_segment = seg_has_core = True
    cuts.append(len(text))
    out: list[Denial] = []
    for a, b in zip(cuts, cuts[1:]):
        d = _analyze_segment(text[a:b], line)
        if d is None:
            continue
        # One record often repeats its message (JSON "message" and "stack", PHP's body summary and
        # message, .NET's inner exception): one denial.
        if out and _same_error(out[-1], d):
            out[-1] = _merged(out[-1], d)
        else:
            out.append(d)
    return out


def _sentence_start(text: str, at: int) -> int:
    """Where the enriched sentence whose keyword is at ``at`` starts: at "User:" / "Principal:" or
    at the principal token."""
    base = max(0, at - 1100)
    head = text[base:at].rstrip()
    sp = head.rfind(" ")
    start = base + sp + 1
    for label in ("User: ", "User:", "Principal: ", "Role: "):
        if head.endswith(label, 0, sp + 1):
            return start - len(label)
    return start


_CORE = ("principal", "action", "resource", "policy_type", "deny")


def _same_error(a: Denial, b: Denial) -> bool:
    """b repeats a (same message printed twice in one record), or one of them is a cut copy."""
    if a.principal is None and b.principal is None:
        return a.code == b.code and a.action is None and b.action is None and (a.format in _WIRE_FORMATS or b.format in _WIRE_FORMATS or a.format == b.format)
    if a.principal != b.principal or a.action != b.action:
        return False
    if a.truncated or b.truncated:
        return all(getattr(a, k) in (None, getattr(b, k)) or getattr(b, k) is None for k in _CORE)
    return all(getattr(a, k) == getattr(b, k) for k in _CORE)


def _merged(a: Denial, b: Denial) -> Denial:
    """a and b are one error: the fuller reading of each field."""
    keep, other = (b, a) if (a.truncated and not b.truncated) else (a, b)
    changes = {k: getattr(other, k) for k in ("code", "operation", "service", "policy_arn", "transitive", "encoded_message", *_CORE)
               if getattr(keep, k) is None and getattr(other, k)}
    if keep.format in ("unknown", *_WIRE_FORMATS) and other.format not in ("unknown", *_WIRE_FORMATS):
        changes["format"] = other.format
    if keep.truncated and not other.truncated:
        changes["truncated"] = False
    return replace(keep, **changes)


def _enriched(seg: str, at: int, fields: dict[str, Any]) -> None:
    """Principal, action, resource and reason of the sentence whose keyword is at ``at``: the token
    before the keyword, then the tokens after it. String operations only (no backtracking)."""
    head = seg[max(0, at - 1100) : at].rstrip()
    tok = head[head.rfind(" ") + 1 :].strip(_PRINCIPAL_EDGE)
    arn = tok.find("arn:")
    if arn >= 0:
        fields["principal"] = tok[arn:]
    elif tok and ":" not in tok and len(tok) <= 256:
        fields["principal"] = tok  # "anonymous", an account id, a role name
    pos = at + len(_ANCHOR)
    am = _ACTION.match(seg, pos)
    if not am:
        if len(seg) - pos < 4:  # the keyword ends the text: cut short
            fields["truncated"] = True
        return
    fields["action"] = am.group(1)
    pos = am.end()
    rm = _ON_RESOURCE.match(seg, pos)
    if rm:
        pos = rm.end()
        if seg.startswith('"', pos):
            close = seg.find('"', pos + 1, pos + 2050)
            if close < 0:
                fields["truncated"] = True  # the resource's closing quote never came
                return
            fields["resource"] = _strip_resource(seg[pos + 1 : close])
            pos = close + 1
        else:
            end = seg.find(" ", pos, pos + 2050)
            end = len(seg) if end < 0 else end
            fields["resource"] = _strip_resource(seg[pos:end])
            if fields["resource"] is None:
                fields["truncated"] = len(seg) - pos < 4
            pos = end
    elif seg.startswith(" on", pos) and len(seg) - pos < 14:
        fields["truncated"] = True
    tail = seg[pos : pos + 800]
    nxt = tail.find(_ANCHOR)
    if nxt >= 0:
        tail = tail[:nxt]
    _reason(tail.lstrip(" .,:;\"'"), fields)


def _reason(t: str, fields: dict[str, Any]) -> None:
    if t.startswith("because no "):
        end = t.find(" allow", 11, 90)
        if end < 0:
            fields["truncated"] = len(t) < 90
            return
        fields["deny"] = "implicit"
        fields["policy_type"] = _policy_type(t[11:end])
    elif t.startswith("because this bucket has blocked"):
        fields["deny"] = "explicit"
        fields["policy_type"] = "bucket-setting"
    elif t.startswith("with an explicit deny in "):
        rest = t[25:]
        words = rest[:80]
        for stop in (",", ".", ";", "(", '"', " with ", " transitively", " Encoded", " - "):
            cut = words.find(stop)
            if cut >= 0:
                words = words[:cut]
        ptype = _policy_type(words)
        if ptype is None:
            fields["truncated"] = len(rest) < 40
            return
        fields["deny"] = "explicit"
        fields["policy_type"] = ptype
        tr = rest.find("transitively through a", 0, 200)
        if tr >= 0:
            kind = rest[tr + 22 : tr + 80].lstrip("n ")
            end = kind.find("policy")
            if end > 0:
                fields["transitive"] = "transitively through a " + kind[: end + 6]
        pa = _POLICY_ARN.search(rest, 0, 400)
        if pa:
            fields["policy_arn"] = pa.group(0)
    elif ("because".startswith(t) or "with an explicit deny in".startswith(t) or t.startswith(("because", "with an"))) and t and len(t) < 40:
        fields["truncated"] = True  # the reason was cut short


def _analyze_segment(seg: str, line: int) -> Optional[Denial]:
    seg = seg[:_MAX_SEGMENT]
    fields: dict[str, Any] = {"first_line": line}
    status = None
    at = seg.find(_ANCHOR)
    if at >= 0:
        _enriched(seg, at, fields)
        if "action" not in fields and not fields.get("truncated"):
            fields.pop("principal", None)  # "is not authorized to perform this operation": no sentence
    elif "User: arn:" in seg:
        # Cut short before the keyword: "User: arn:...:assumed-role/app/abc is not auth"
        u = seg.find("User: arn:")
        rest = seg[u + 6 :]
        if " " not in rest.strip() or len(rest) < 1100 and rest.rstrip().endswith(("is", "is not", "is not auth", "is not authorized", "is not authorized to")) or any(m in rest for m in _TRUNCATION_MARKS):
            fields["principal"] = rest.split(" ", 1)[0].strip(_PRINCIPAL_EDGE)
            fields["truncated"] = True
    if any(m in seg for m in _TRUNCATION_MARKS) and fields.get("action") and not fields.get("policy_type"):
        fields["truncated"] = True
    for name, marker, pattern in _FORMATS:
        mpos = seg.find(marker)
        if mpos < 0:
            continue
        groups: dict[str, Any] = {}
        if pattern is not None:
            fm = None
            while mpos >= 0 and fm is None:
                fm = pattern.match(seg, mpos)
                if fm is None:
                    mpos = seg.find(marker, mpos + 1)
            if fm is None:
                continue
            groups = fm.groupdict()
            if name == "go-v2":
                cm = _GO_V2_CODE.search(seg, fm.end(), fm.end() + 600)
                if cm:
                    groups["code"] = cm.group("code")
            elif name == "php" and not groups.get("code"):
                cm = _PHP_CODE.search(seg, fm.end())
                if cm:
                    groups["code"] = cm.group("code")
        fields["format"] = name
        code = groups.get("code")
        if code:
            fields["code"] = code.strip()
        if groups.get("op"):
            fields["operation"] = groups["op"]
        svc = groups.get("svc")
        if svc:
            fields["service"] = svc.strip()
        status = groups.get("status")
        if name == "php" and groups.get("url") and not fields.get("service"):
            host = re.match(r"https?://([^/:]{1,253})", groups["url"])
            if host and (".s3." in host.group(1) or host.group(1).startswith("s3.")):
                fields["service"] = "S3"
        break
    if fields.get("code") in ("403", "400") and (fields.get("principal") or "<Code>" in seg or '"__type"' in seg):
        # botocore could not read the body (moto answers a JSON-protocol call with XML): the body has the code
        cm = _ANY_CODE.search(seg)
        if cm:
            fields["code"] = cm.group(1)
    if not fields.get("code"):
        cm = _ANY_CODE.search(seg)
        if cm:
            fields["code"] = cm.group(1)
        elif _S3_BARE.search(seg):
            fields["code"] = "AccessDenied"
        elif status == "403" and ("Forbidden" in seg or fields.get("format") == "java-v2"):
            fields["code"] = "403"  # S3's answer to HEAD: a status, no body (Java v2 prints "null" as the message)
    em = _ENCODED.search(seg)
    if em:
        fields["encoded_message"] = em.group(1)[:_MAX_ENCODED]
        fields.setdefault("code", "UnauthorizedOperation")
    elif _EC2_DENIED in seg and not fields.get("code"):
        fields["code"] = "UnauthorizedOperation"
    code = fields.get("code")
    forbidden = code in ("403", "Forbidden", "403 Forbidden")
    if not (fields.get("action") or fields.get("principal") or code or fields.get("encoded_message")):
        return None
    if forbidden and not (fields.get("action") or fields.get("format") not in (None, "unknown") and "Forbidden" in seg or fields.get("format") == "java-v2"):
        return None  # a web server's "403 Forbidden", not an SDK's
    if not fields.get("action") and not fields.get("principal") and fields.get("format") is None:
        if not any(w in seg for w in _AWS_WORDS):
            return None  # "Access Denied" with nothing of AWS's about it (Spring Security, Windows, a web page)
    excerpt = seg
    if fields.get("encoded_message"):
        excerpt = excerpt.replace(fields["encoded_message"], fields["encoded_message"][:24] + "...")
    fields["message"] = excerpt[:_MAX_MESSAGE] + ("..." if len(excerpt) > _MAX_MESSAGE else "")
    return Denial(**fields)


# -- the stream -> message groups --------------------------------------------------------------


def _starts_cont(t: bytes) -> bool:
    return t.startswith(_CONT_START)


def _unfinished(tail: bytes) -> bool:
    """A line that cannot end a message: the next line goes on with it (messages wrapped in docs
    and logs: "... is not authorized to perform:", "... when calling the")."""
    return tail.endswith((b":", b",")) or tail[tail.rfind(b" ") + 1 :] in _UNFINISHED_WORDS


def _json_text(obj: Any, depth: int, out: list[str]) -> bool:
    """The message texts of a JSON log record, into ``out`` (the message key first, then any other
    string value that holds a trigger, JSON inside a string unwrapped); True when the record says
    it continues in the next one (docker json-file's "log" without its newline, the fluentd log
    driver's partial_message/partial_last)."""
    joins = False
    if isinstance(obj, dict):
        msg_key = None
        for k in _MESSAGE_KEYS:
            v = obj.get(k)
            if isinstance(v, str):
                msg_key = k
                _json_string(v, depth, out)
                if k == "log" and ("stream" in obj or "time" in obj) and not v.endswith("\n") and "partial_message" not in obj:
                    joins = True  # docker json-file: a line over 16 KiB is split, only the last piece ends in "\n"
                break
            if isinstance(v, (dict, list)) and depth < 6:
                msg_key = k
                _json_text(v, depth + 1, out)
                break
        if obj.get("partial_message") == "true" and obj.get("partial_last") == "false":
            joins = True
        for k, v in obj.items():
            if k == msg_key:
                continue
            if isinstance(v, str):
                if k not in _WRAPPER_KEYS and _has_trigger(v):
                    _json_string(v, depth, out)
            elif isinstance(v, (dict, list)) and depth < 6:
                _json_text(v, depth + 1, out)
    elif isinstance(obj, list):
        for v in obj[:64]:
            if isinstance(v, str):
                if _has_trigger(v):
                    out.append(v)
            elif isinstance(v, (dict, list)) and depth < 6:
                _json_text(v, depth + 1, out)
    return joins


def _json_string(v: str, depth: int, out: list[str]) -> None:
    s = v.strip()
    if depth < 6 and len(s) > 1 and s[0] == "{" and s[-1] == "}":  # an application's JSON inside the shipper's
        try:
            inner = json.loads(s)
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            _json_text(inner, depth + 1, out)
            return
    out.append(v)


# The fields a shipper adds around a record (FireLens' ECS metadata, docker's stream and time).
_WRAPPER_KEYS = frozenset(("container_id", "container_name", "source", "ecs_cluster", "ecs_task_arn", "ecs_task_definition",
                           "stream", "time", "partial_message", "partial_id", "partial_ordinal", "partial_last"))


def _has_trigger(v: str) -> bool:
    return "Denied" in v or "authorized" in v or "Forbidden" in v or "denied" in v


class _Payload:
    """One line of the log, out of its wrapper."""

    __slots__ = ("text", "decoded", "joins")

    def __init__(self, text: Union[bytes, str], decoded: bool, joins: bool) -> None:
        self.text = text  # bytes as read, or str already unescaped (from JSON)
        self.decoded = decoded
        self.joins = joins  # the next line is the rest of this one (a shipper's split)

    def head(self) -> bytes:
        t = self.text
        return t[:40] if isinstance(t, bytes) else t[:40].encode("utf-8", "replace")

    def tail(self) -> bytes:
        t = self.text
        t = t[-40:] if isinstance(t, bytes) else t[-40:].encode("utf-8", "replace")
        return t.rstrip()


def _payload(line: bytes) -> _Payload:
    if line.endswith(b"\r"):
        line = line[:-1]
    joins = False
    if line[:1].isdigit():
        m = _PREFIX.match(line)
        if m:
            joins = m.group("cri") == b"P"
            line = line[m.end() :]
    if line.startswith(b"{") and line.endswith(b"}") and len(line) <= _MAX_JSON:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            out: list[str] = []
            joins = _json_text(obj, 0, out) or joins
            text = "\n".join(out)
            if joins and out:
                text = out[0]
            return _Payload(text.rstrip("\n") if not joins else text, True, joins)
    return _Payload(line, False, joins)


class Reader:
    """Streams a log and collects its denials; see the module docstring for the bounds."""

    def __init__(self, progress: Optional[Callable[[int, int], None]] = None, progress_every: int = 64 << 20) -> None:
        self._first: dict[tuple[Any, ...], Denial] = {}  # each distinct denial as first seen ...
        self._counts: dict[tuple[Any, ...], int] = {}  # ... and how often
        self.dropped = 0  # occurrences of denials beyond MAX_DISTINCT different ones
        self.bytes_read = 0
        self.occurrences = 0
        self._progress = progress
        self._progress_every = progress_every
        self._cache: dict[Any, tuple[tuple[tuple[Denial, tuple[Any, ...], str], ...], bool]] = {}  # form -> (results, alone)
        self._by_text: dict[str, tuple[tuple[Denial, tuple[Any, ...], str], ...]] = {}  # message text -> results
        self._near: set[bytes] = set()  # near-miss lines, without their digits
        self._memo: tuple[int, Optional[_Payload]] = (-1, None)  # (absolute offset of a line, its payload)
        self._offset = 0  # absolute offset of buf[0]
        self._last_group_open = False  # the last group read may go on past where it was cut
        self._last_closed: tuple[bool, Any] = (False, ())
        self._groups: dict[tuple[bytes, bytes], tuple[tuple[bytes, ...], Any]] = {}  # first two lines -> (the group's lines, results)
        # Echoes: one error printed several ways close together (the response body in a debug log,
        # a traceback, the final message) is one occurrence.
        # Recent errors, each [line, message core, forms seen, denial, key, shapes seen, printed by a
        # traceback or debug log]: by core, in order, the last.
        self._by_core: dict[str, list[Any]] = {}
        self._order: deque[list[Any]] = deque(maxlen=8)
        self._last: Optional[list[Any]] = None
        self._pending: list[tuple[int, Any, Denial, tuple[Any, ...]]] = []  # response bodies waiting for their SDK error

    @property
    def found(self) -> dict[tuple[Any, ...], Denial]:
        return {k: replace(d, count=self._counts[k]) for k, d in self._first.items()}

    @property
    def denials(self) -> list[Denial]:
        return list(self.found.values())

    # -- occurrences -------------------------------------------------------------------------

    def _store(self, d: Denial, k: tuple[Any, ...], line: int) -> None:
        self.occurrences += 1
        counts = self._counts
        if k in counts:
            counts[k] += 1
        elif len(counts) < MAX_DISTINCT:
            counts[k] = 1
            self._first[k] = replace(d, first_line=line)
        else:
            self.dropped += 1

    def _occurrence(self, d: Denial, k: tuple[Any, ...], core: str, line: int, form: Any) -> None:
        """One denial found at ``line``, printed as ``form`` (its group's text). Debug and wire logs
        print one error several ways close together: the response body (held until the SDK's error
        for it comes, then dropped into it), a traceback's last line, the final message. A copy in
        a way this error was not yet printed, within _ECHO_LINES, is the same occurrence; the same
        line repeated is a new one."""
        last = self._last
        if last is not None and not self._pending and last[4] == k and len(last[2]) == 1 and form in last[2]:
            last[0] = line  # the same line again: a repeat (the common case)
            self._store(d, k, line)
            return
        if self._pending:
            self._expire(line)
        if d.format in _WIRE_FORMATS:
            for ev in reversed(self._order):
                if line - ev[0] <= _ECHO_LINES and form not in ev[2] and _echo_of(d, ev[3]):
                    ev[2].add(form)
                    return  # the body of an error already reported (logged after it)
            self._pending.append((line, form, d, k))
            if len(self._pending) > 16:
                pl, _pf, pd, pk = self._pending.pop(0)
                self._store(pd, pk, pl)
            return
        if self._pending:
            for i, (_pl, _pf, pd, _pk) in enumerate(self._pending):
                if _echo_of(pd, d):
                    del self._pending[i]
                    if d.principal is None and pd.principal:
                        d = _merged(d, pd)
                        k = d.key()
                    break
        ev = self._by_core.get(core)
        if ev is not None and line - ev[0] > _ECHO_LINES:
            ev = None
        if ev is not None and ev[4] == k and form in ev[2]:
            # This error again, printed as before: a new occurrence, which later copies attach to.
            ev[0], ev[2], ev[5], ev[6] = line, {form}, None, None
            self._last = ev
            self._store(d, k, line)
            return
        if ev is not None and ev[4] == k:
            if ev[5] is None:
                ev[5] = {_shape(f) for f in ev[2]}
                ev[6] = any(_debug_form(f) for f in ev[2])
            shape = _shape(form)
            if shape not in ev[5] and (ev[6] or _debug_form(form)):
                ev[2].add(form)  # one error printed another way (a traceback, then the message)
                ev[5].add(shape)
                ev[0] = max(ev[0], line)
                return
        ev = [line, core, {form}, d, k, None, None]
        if len(self._by_core) >= _CACHE_MAX:
            self._by_core.clear()
        self._by_core[core] = ev
        self._order.append(ev)  # a deque of the last few (maxlen): for response bodies logged after their error
        self._last = ev
        self._store(d, k, line)

    def _repeats(self, d: Denial, k: tuple[Any, ...], core: str, line: int, n: int, form: Any) -> None:
        """``n`` more occurrences of the same line, from ``line`` on."""
        ev = self._last
        if ev is not None and not self._pending and ev[4] == k and len(ev[2]) == 1 and form in ev[2]:
            ev[0] = line + n - 1
            self.occurrences += n
            if k in self._counts:
                self._counts[k] += n
            else:
                self.dropped += n
            return
        for j in range(n):
            self._occurrence(d, k, core, line + j, form)

    def _expire(self, line: int) -> None:
        """Forget the errors older than _ECHO_LINES; response bodies that no error claimed are
        denials of their own (line -1: the end of the stream)."""
        while self._pending and (line < 0 or line - self._pending[0][0] > _ECHO_LINES):
            pl, _pf, pd, pk = self._pending.pop(0)
            self._store(pd, pk, pl)

    # -- reading -----------------------------------------------------------------------------

    def _line_payload(self, buf: bytes, s: int, e: int) -> _Payload:
        key = self._offset + s
        if self._memo[0] == key and self._memo[1] is not None:
            return self._memo[1]
        p = _payload(buf[s:e])
        self._memo = (key, p)
        return p

    def read(self, stream: Union[IO[bytes], IO[str], Iterable[Any]]) -> "Reader":
        buf = b""
        cnt_pos, cnt_line = 0, 1  # line number of buf[cnt_pos]
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
            if eof:
                limit = len(buf)
            else:
                nl = buf.rfind(b"\n", search_from, max(search_from, len(buf) - _GUARD))
                limit = nl + 1 if nl >= 0 else max(0, len(buf) - _GUARD)
            pos = max(search_from, consumed)
            # A region dense with hits is read line by line (one dict look-up per line that repeats
            # a message already analysed); a sparse one by jumping from hit to hit.
            if limit - pos > 8192 and (pos == 0 or buf[pos - 1] == 10):
                hits = buf.count(b"Denied", pos, limit) + buf.count(b"authorized", pos, limit)
                if hits * 2048 > limit - pos:
                    cnt_line += buf.count(b"\n", cnt_pos, pos)
                    cnt_pos = pos
                    pos, cnt_line, consumed = self._dense(buf, pos, limit, cnt_line, eof)
                    cnt_pos = pos
            hits_at: dict[bytes, int] = {}
            count, rfind = buf.count, buf.rfind
            while True:
                p = _next_hit(buf, pos, limit, hits_at)
                if p < 0:
                    break
                if p < consumed:
                    pos = consumed
                    continue
                ls = rfind(b"\n", max(consumed, p - _LINE_WINDOW), p) + 1
                if ls == 0:
                    ls = max(consumed, p - _LINE_WINDOW)
                cnt_line += count(b"\n", cnt_pos, ls)
                cnt_pos = ls
                end = self._hit(buf, ls, p, consumed, cnt_line)
                consumed = pos = max(end + 1, p + 1)
            search_from = max(pos, limit)
            if eof:
                break
            # Keep what a later group may still need: a few lines before the guard zone, bounded.
            keep = max(consumed, limit - _LOOK_BACK * _LINE_WINDOW, len(buf) - _MAX_CARRY)
            keep = min(keep, search_from)
            if keep > cnt_pos:
                cnt_line += count(b"\n", cnt_pos, keep)
                cnt_pos = keep
            cnt_pos -= keep
            buf = buf[keep:]
            self._offset += keep
            consumed = max(0, consumed - keep)
            search_from -= keep
            if self._progress and self.bytes_read >= next_report:
                next_report += self._progress_every
                self._progress(self.bytes_read, self.occurrences)
        self._expire(-1)
        return self

    def _hit(self, buf: bytes, ls: int, p: int, consumed: int, line: int, form: Optional[bytes] = None) -> int:
        """The message group around the hit at p (its line starting at ls, numbered ``line``):
        analysed (or found in the cache), its denials counted. Returns the group's end index."""
        end, first, start, text = self._group(buf, ls, p, consumed)
        single = first == 0 and (end == len(buf) or buf.find(b"\n", ls, end + 1) == end)
        if form is None or not single:
            form = _form(buf[start:end])
        entry = self._cache.get(form)
        if entry is None:
            # A line that is a whole message by itself, whatever comes before or after it, may be
            # counted again without looking at its neighbours (see _dense).
            alone = single and not self._last_group_open
            txt = text()
            results = self._by_text.get(txt)  # the same message in another wrapper, or with other times
            if results is None:
                results = tuple((d, d.key(), _core_text(d.message)) for d in analyze(txt))
                if len(self._by_text) >= _CACHE_MAX:
                    self._by_text.clear()
                self._by_text[txt] = results
            if not results and alone and isinstance(form, bytes):
                # A near miss ("not authorized to perform this action", a web server's 403): lines like
                # it but for their digits are near misses too.
                if len(self._near) >= _CACHE_MAX:
                    self._near.clear()
                self._near.add(form.translate(None, _DIGITS))
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            entry = (results, alone)
            self._cache[form] = entry
        for d, k, core in entry[0]:
            self._occurrence(d, k, core, line - first, form)
        # A group of several lines that needed no look-back and ends by itself: _dense may count
        # it again when the same lines come again.
        self._last_closed = (not single and first == 0 and not self._last_group_open, entry[0])
        return end

    def _dense(self, buf: bytes, start: int, limit: int, line0: int, eof: bool) -> tuple[int, int, int]:
        """Read buf[start:limit] (whole lines) line by line. A line whose form was analysed before
        as a message by itself, not continued by the next line, is counted with one look-up; any
        other line with a trigger goes through _hit. Returns (position, its line number, consumed)."""
        region = buf[start:limit]
        orig = region.split(b"\n")
        norm = _normalize(b"\n" + region)[1:].split(b"\n")
        if len(norm) != len(orig):  # cannot happen (nothing spans a line break); stay safe
            return start, line0, start
        n = len(orig) - 1 if (not eof or region.endswith(b"\n")) else len(orig)
        stop = n if eof else n - 1  # the last line's neighbour is not read yet: the sparse loop takes it
        cache = self._cache
        groups = self._groups
        occurrence = self._occurrence
        consumed = start
        offs: Optional[list[int]] = None
        prev_fin = True
        i = 0
        near = self._near
        cont_first = _CONT_FIRST
        while i < stop:
            nl = norm[i]
            entry = cache.get(nl)
            if entry is not None:
                if entry[1] and prev_fin:
                    # A run of the same line: only its last line's neighbour can continue it.
                    r = 1
                    while i + r < stop and norm[i + r] == nl:
                        r += 1
                    nxt = norm[i + r] if i + r < len(norm) else b""
                    if nxt and nxt[0] in cont_first and _continues(nxt):
                        r -= 1  # the run's last line is read by _hit with what follows it
                    if r:
                        results = entry[0]
                        if len(results) == 1:
                            d, k, core = results[0]
                            occurrence(d, k, core, line0 + i, nl)
                            if r > 1:
                                self._repeats(d, k, core, line0 + i + 1, r - 1, nl)
                        else:
                            for j in range(r):
                                for d, k, core in results:
                                    occurrence(d, k, core, line0 + i + j, nl)
                        i += r
                        continue
            elif prev_fin and groups:
                g = groups.get((nl, norm[i + 1]))
                if g is not None:
                    lines, results = g
                    span = len(lines)
                    if i + span < stop and tuple(norm[i : i + span]) == lines and not _continues(norm[i + span]):
                        for d, key, core in results:
                            occurrence(d, key, core, line0 + i, nl)
                        i += span
                        continue
            if b"Denied" in nl or b"authorized" in nl or b"Forbidden" in nl:
                if entry is None and prev_fin and near and nl.translate(None, _DIGITS) in near:
                    nxt = norm[i + 1]
                    if not (nxt and nxt[0] in cont_first and _continues(nxt)):
                        i += 1
                        continue
                if offs is None:
                    offs = [start]
                    for ln in orig:
                        offs.append(offs[-1] + len(ln) + 1)
                ls = offs[i]
                # The line before is known to end its message: no need to look back at it.
                end = self._hit(buf, ls, ls, ls if prev_fin and not nl.startswith(_CONT_START) else consumed, line0 + i, nl)
                consumed = end + 1
                # the lines the group took
                j = i + 1
                while j <= n and offs[j] <= end:
                    j += 1
                closed, results = self._last_closed
                if closed and j - i > 1 and j <= stop:
                    if len(groups) >= _CACHE_MAX:
                        groups.clear()
                    groups[(nl, norm[i + 1])] = (tuple(norm[i:j]), results)
                i = j
                prev_fin = True
                continue
            if nl[:1] == b"{":
                prev_fin = not _opens(nl)
            else:
                t = nl[-40:].rstrip()
                prev_fin = not (t.endswith(_OPEN_ENDS) or t[t.rfind(b" ") + 1 :] in _UNFINISHED_WORDS or b'Error executing "' in t)
            i += 1
        if offs is None:
            pos = start + sum(len(orig[j]) + 1 for j in range(i)) if i < n else limit
        else:
            pos = offs[i] if i < len(offs) else limit
        pos = max(min(pos, limit), consumed)  # a group may have gone on past limit
        return pos, line0 + buf.count(b"\n", start, pos), max(consumed, pos)

    def _group(self, buf: bytes, ls: int, p: int, consumed: int) -> tuple[int, int, int, Callable[[], str]]:
        """(end index, lines looked back, start index, text) of the message around the hit at p:
        its line, the lines before it that start the message, and the lines after it that go on
        with it, each out of its wrapper."""
        find, rfind = buf.find, buf.rfind
        le = find(b"\n", p, p + _LINE_AFTER)
        end = le if le >= 0 else min(len(buf), p + _LINE_AFTER)
        cur = self._line_payload(buf, ls, end)
        pieces = [cur]
        # Look back (a few lines at most) for the start of the message: a line this one continues,
        # an unfinished header, PHP's "Error executing", the first piece of a split line.
        start = ls
        first = 0
        if ls > consumed:
            head = cur.head()
            while first < _LOOK_BACK and start > consumed:
                ps = max(rfind(b"\n", max(consumed, start - 1 - _LINE_WINDOW), start - 1) + 1, consumed, start - 1 - _LINE_WINDOW)
                if ps >= start - 1 or not buf[ps : start - 1].strip():
                    break
                prev = _payload(buf[ps : start - 1])
                tail = prev.tail()
                if not tail:
                    break
                if not (prev.joins or _starts_cont(head) or _opens_tail(tail) or head.startswith(b"<")):
                    break
                pieces.insert(0, prev)
                start, first, head = ps, first + 1, prev.head()
        # Forward: the lines that go on with the message.
        n = 1
        open_end = False
        while n < _GROUP_MAX_LINES and end - start < _GROUP_MAX_BYTES:
            if le < 0:
                open_end = True
                break
            ns = end + 1
            nl = find(b"\n", ns, ns + _LINE_AFTER)
            ne = nl if nl >= 0 else min(len(buf), ns + _LINE_AFTER)
            if ne <= ns:
                open_end = ne < ns or nl < 0
                break
            last = pieces[-1]
            if buf[ns] == 123 and not last.joins and not _unfinished(last.tail()) and not _json_head(buf[ns:ne]).startswith(_CONT_START):
                break  # a JSON record that does not go on with this message (told without parsing it)
            nxt = self._line_payload(buf, ns, ne)
            nhead = nxt.head()
            if not last.joins:
                if not nhead.strip() or not (_starts_cont(nhead) or _unfinished(last.tail())):
                    break
                if nhead.startswith(_HEADER_START):
                    break  # a new message of its own
            pieces.append(nxt)
            end, le, n = ne, nl, n + 1
        last = pieces[-1]
        self._last_group_open = open_end or last.joins or _unfinished(last.tail()) or _starts_cont(cur.head()) or cur.joins
        if len(pieces) == 1:
            return end, first, start, lambda: _piece_text(cur)
        return end, first, start, lambda: "".join(_piece_text(pc) + ("" if pc.joins else "\n") for pc in pieces)


_JSON_MSG_KEYS = tuple(f'"{k}":{sp}"'.encode() for k in ("log", "message", "msg") for sp in ("", " "))


def _json_head(raw: bytes) -> bytes:
    """The start of a JSON record's message, without parsing it (enough to tell a continuation)."""
    for key in _JSON_MSG_KEYS:
        at = raw.find(key)
        if at >= 0:
            v = raw[at + len(key) : at + len(key) + 48]
            return v.replace(b"\\t", b"\t").replace(b'\\"', b'"')
    return b""


def _continues(raw: bytes) -> bool:
    """The raw line ``raw`` (normalised) may go on with the message of the line before it."""
    if not raw or raw[0] not in _CONT_FIRST:
        return False
    if raw.startswith(b"{"):
        return _json_head(raw).startswith(_CONT_START)
    return raw.startswith(_CONT_START)


def _opens(raw: bytes) -> bool:
    """The raw line ``raw`` cannot end a message: the next line is part of it."""
    if raw.startswith(b"{") or raw[:1].isdigit():
        p = _payload(raw)
        return p.joins or _opens_tail(p.tail())
    return _opens_tail(raw[-40:].rstrip())





def _opens_tail(tail: bytes) -> bool:
    return _unfinished(tail) or b'Error executing "' in tail or tail.endswith(b"Response body:")


def _piece_text(pc: _Payload) -> str:
    t = pc.text
    if isinstance(t, str):
        return t
    s = t.decode("utf-8", "replace")
    return _unescape_json(s) if "\\" in s else s


def _core_text(message: str) -> str:
    """The message from its SDK header (or its enriched sentence) on: what two printings of one
    error have in common ("botocore.exceptions.ClientError: An error occurred ..." in a traceback,
    "An error occurred ..." printed after it)."""
    for marker in ("An error occurred (", "operation error ", 'Error executing "', "User: "):
        at = message.find(marker)
        if at >= 0:
            return message[at:]
    return message


_NOT_SHAPE = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"
_ECHO_MARKS = (b"Traceback", b"Exception", b"ClientError", b"DEBUG", b"debug", b"exc_info", b"Response body")


def _shape(form: Any) -> bytes:
    """A form without its digits and hex letters: two records of one kind (times, ids) alike."""
    return form.translate(None, _NOT_SHAPE) if isinstance(form, bytes) else b""


def _debug_form(form: Any) -> bool:
    """A printing of an error that a debug log or a traceback makes next to the error itself."""
    return isinstance(form, bytes) and any(m in form for m in _ECHO_MARKS)


def _echo_of(wire: Denial, d: Denial) -> bool:
    """``wire`` (a response body in a debug or wire log) is the body of the error ``d``."""
    if wire.code and d.code and wire.code != d.code:
        return False
    return all(getattr(wire, k) is None or getattr(wire, k) == getattr(d, k) for k in _CORE)


def _chunks(stream: Any) -> Iterator[bytes]:
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
    if m:
        name, session = m.group(2).rsplit("/", 1)[-1], m.group(3)
    elif r:
        name, session = r.group(2), None
    else:
        return "unknown", info
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
        if d.encoded_message:
            return "encoded-message"
        # Principal and action named, no "because ..." (many services, moto, a message cut short):
        # who and what are known; which policy is not.
        return "reason-not-stated" if d.principal and d.action else "no-detail"
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
    if d.operation in ("HeadObject", "HeadBucket"):
        return "s3"
    return ""


def policy_statement(action: str, resource: Optional[str]) -> str:
    """A minimal statement allowing exactly this action on this resource (one line of JSON)."""
    return json.dumps({"Effect": "Allow", "Action": action, "Resource": resource or "*"}, separators=(", ", ": "))


def _assume_role_hint(d: Denial, info: dict[str, Optional[str]]) -> str:
    """What sts:AssumeRole needs on both sides; across accounts, which account holds which."""
    target = _IAM_ROLE.match(d.resource or "")
    caller_acct = info.get("account")
    role = target.group(2) if target else "<ROLE>"
    hint = (f"Assuming a role needs two allows: the caller's own policy must allow sts:AssumeRole on {d.resource or 'the role'}, and "
            f"the trust policy of the role being assumed must name the caller (aws iam get-role --role-name {role} --query "
            "Role.AssumeRolePolicyDocument).")
    if target and caller_acct and target.group(1) != caller_acct:
        hint += (f" This is across accounts: the trust policy is changed in account {target.group(1)} (it must name "
                 f"{d.principal if d.principal and ':assumed-role/' not in d.principal else 'the role ' + (info.get('role_name') or '')} "
                 f"or account {caller_acct}), the caller's policy in account {caller_acct}.")
    return hint


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
    if d.truncated:
        facts.append("the message was cut short")
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
    elif conclusion == "reason-not-stated":
        subject = f"The task role {who}" if kind == "task-role" else f"{who}"
        cut = " (the message was cut short)" if d.truncated else ""
        title = (f"{subject} was denied {what}{on}; the message does not say by which policy{cut}: "
                 f"start with {'the task role' if kind == 'task-role' else 'the caller'}'s own policy")
        stmt = policy_statement(d.action or "<service>:<Action>", d.resource)
        remedy = (f"Most often {who}'s own identity-based policy does not allow it. A starting point to review, not to apply "
                  f"blindly: add to {who}'s policy the statement {stmt}"
                  + ("" if d.resource else " (the message names no resource: replace * with the exact ARN)")
                  + f" (aws iam put-role-policy --role-name {info.get('role_name') or '<ROLE>'} --policy-name "
                  f"allow-{(d.action or 'action').replace(':', '-').replace('*', 'all')} --policy-document file://policy.json). "
                  "If the policy already allows it, something else denies it: an explicit Deny in any policy, the resource's own "
                  "policy (another account's resource must allow the role there too), a permissions boundary, a service control "
                  "policy, a session policy or a VPC endpoint policy. CloudTrail's event for the call (errorCode AccessDenied) "
                  "and the IAM policy simulator (aws iam simulate-principal-policy) tell which.")
        if d.truncated:
            remedy += (" The message was cut short (a log shipper's line limit): read the whole event where the log is "
                       "stored, or raise the shipper's limit; the end of the message says which policy.")
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
        if d.code in ("403", "Forbidden", "403 Forbidden") and (d.operation or "").startswith("Head"):
            title = (f"403 Forbidden from {d.operation} with no detail: S3 answers HEAD requests with a status and no body, "
                     "so there is no message to read")
            remedy = (f"{d.operation} needs s3:GetObject on the object (HeadBucket: s3:ListBucket on the bucket); without "
                      "s3:ListBucket on the bucket, a key that does not exist also answers 403 instead of 404. Check both for the "
                      "principal the SDK uses (run `probe` in the task to learn it), then the bucket policy and the object's KMS "
                      "key. " + remedy)
        if kind == "task-role" and d.principal:
            remedy = f"It was the task role {who}. " + remedy
        elif not d.principal:
            remedy += " The message does not name the principal: run `probe` inside the task to see which identity the SDK really uses."
    if conclusion in ("reason-not-stated", "task-role-lacks-permission") and (d.action or "").lower() == "sts:assumerole":
        remedy += " " + _assume_role_hint(d, info)
    if d.truncated and conclusion != "reason-not-stated":
        remedy += " The message was cut short (a log shipper's line limit): its end, which says which policy, is missing."
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
        "truncated": d.truncated,
        "count": d.count,
        "first_line": d.first_line,
        "conclusion": conclusion,
    }
    if conclusion in ("task-role-lacks-permission", "reason-not-stated"):
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
    ctx = decoded.get("context")
    if not isinstance(ctx, dict):
        ctx = {}
    principal = ctx.get("principal")
    if not isinstance(principal, dict):
        principal = {}
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


__all__ = ["Denial", "Reader", "analyze", "decode_messages", "explain", "parse", "principal_kind", "run"]

if __name__ == "__main__":  # `python -m probe.explain`: the command, as `probe explain`
    from probe.explain_command import main

    raise SystemExit(main())
