"""The three STS calls the probe makes, as an application's SDK makes them: STS's query API (one
form-encoded POST, answered in XML), signed with Signature Version 4.

Why not a botocore client: importing botocore's client machinery and building an STS client
cost about 0.24 s of CPU, half of a whole run, on every run (issue 24); these three
operations need none of it. The signature is botocore's own algorithm (tests/test_sts.py
signs the same request with botocore.auth.SigV4Auth and compares), and the errors read as
botocore's ("ClientError: An error occurred (AccessDenied) when calling the AssumeRole
operation: ..."), so the report says what the application's SDK would have seen.

The request goes through probe.facts.http: bounded by the run's deadline as a whole, the
body capped, the socket closed when the run ends; a proxy only when the diagnosed
environment sends STS through one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Mapping, Optional
from urllib.parse import quote, urlencode, urlsplit

from probe import __version__
from probe.facts import http

API_VERSION = "2011-06-15"
SERVICE = "sts"
MAX_ANSWER = 64 << 10  # a GetCallerIdentity answer is under 1 kB, an AssumeRole one under 4 kB
USER_AGENT = f"ecs-credential-probe/{__version__}"

# botocore's method names (the probe's callers use them) and the API's action names.
ACTIONS = {
    "get_caller_identity": "GetCallerIdentity",
    "assume_role": "AssumeRole",
    "assume_role_with_web_identity": "AssumeRoleWithWebIdentity",
}

Creds = tuple[str, str, Optional[str]]


class StsError(Exception):
    """An STS call failed; ``message`` reads as botocore's exception would, ``code`` is
    the service's error code (None when no answer came)."""

    def __init__(self, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def host_header(url: str) -> str:
    """The Host header of a URL, as botocore signs it: the port only when it is not the
    scheme's default, an IPv6 literal in brackets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def sign(url: str, headers: Mapping[str, str], body: bytes, creds: Creds, region: str, now: Optional[float] = None) -> dict[str, str]:
    """The headers of a POST to ``url`` signed with Signature Version 4 for STS in
    ``region``: X-Amz-Date, X-Amz-Security-Token (with a session token) and Authorization
    added to ``headers``. Every header given is signed, Host included."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    day = stamp[:8]
    out = dict(headers)
    out["X-Amz-Date"] = stamp
    if creds[2]:
        out["X-Amz-Security-Token"] = creds[2]
    canonical = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    names = sorted(canonical)
    path = urlsplit(url).path or "/"
    request = "\n".join([
        "POST",
        quote(path, safe="/~"),
        "",
        "".join(f"{n}:{canonical[n]}\n" for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{day}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + creds[1]).encode("utf-8"), day), region), SERVICE), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["Authorization"] = f"AWS4-HMAC-SHA256 Credential={creds[0]}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    return out


def _text(element: Any, path: str) -> Optional[str]:
    found = element.find(path)
    return found.text if found is not None and found.text is not None else None


def _strip_namespaces(root: Any) -> Any:
    # STS answers in its namespace; moto and proxies may not: compare local names only.
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.rsplit("}", 1)[1]
    return root


def _parse(body: bytes) -> Any:
    import xml.etree.ElementTree as ET  # expat: no external entities, bounded expansion

    try:
        return _strip_namespaces(ET.fromstring(body))
    except ET.ParseError:
        return None


def call(
    url: str,
    region: str,
    creds: Optional[Creds],
    operation: str,
    params: Mapping[str, Any],
    *,
    timeout: float,
    deadline: Optional[float] = None,
    context: Any = None,
    proxy: Optional[str] = None,
) -> dict[str, Any]:
    """One STS operation (botocore's method name); its result as botocore returns it
    (GetCallerIdentity: UserId, Account, Arn; the AssumeRole calls: Credentials with
    AccessKeyId, SecretAccessKey, SessionToken, Expiration). Unsigned without ``creds``
    (AssumeRoleWithWebIdentity). Raises StsError."""
    action = ACTIONS[operation]
    form = {"Action": action, "Version": API_VERSION, **{k: str(v) for k, v in params.items()}}
    body = urlencode(form, quote_via=quote, safe="-_.~").encode("ascii")
    headers = {
        "Host": host_header(url),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    if creds is not None:
        headers = sign(url, headers, body, creds, region)
    headers["User-Agent"] = USER_AGENT  # unsigned, as botocore leaves it
    answer = http.request(url, method="POST", headers=headers, body=body, timeout=timeout, deadline=deadline,
                          max_body=MAX_ANSWER, context=context, proxy=proxy)
    shown = f'"{url}"'
    if answer.error is not None:
        if answer.timed_out:
            raise StsError(f"ConnectTimeoutError: no answer from the endpoint URL {shown} in time: {answer.error}")
        if "SSL" in answer.error or "certificate" in answer.error.lower():
            raise StsError(f"SSLError: SSL validation failed for {shown}: {answer.error}")
        if proxy:
            raise StsError(f"ProxyConnectionError: Failed to connect to proxy URL for {shown}: {answer.error}")
        raise StsError(f"EndpointConnectionError: Could not connect to the endpoint URL: {shown}: {answer.error}")
    root = _parse(answer.body)
    if answer.status != 200:
        code = _text(root, "Error/Code") if root is not None else None
        message = (_text(root, "Error/Message") if root is not None else None) or answer.reason or ""
        code = code or str(answer.status)
        raise StsError(f"ClientError: An error occurred ({code}) when calling the {action} operation: {message}", code)
    result = root.find(f"{action}Result") if root is not None else None
    if result is None:
        raise StsError(f"ResponseParserError: Unable to parse response from {shown}: no {action}Result in the answer")
    if operation == "get_caller_identity":
        return {k: _text(result, k) for k in ("UserId", "Account", "Arn")}
    creds_el = result.find("Credentials")
    if creds_el is None:
        raise StsError(f"ResponseParserError: Unable to parse response from {shown}: no Credentials in the answer")
    out: dict[str, Any] = {"Credentials": {k: _text(creds_el, k) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}}
    user = result.find("AssumedRoleUser")
    if user is not None:
        out["AssumedRoleUser"] = {k: _text(user, k) for k in ("AssumedRoleId", "Arn")}
    if not out["Credentials"]["AccessKeyId"] or not out["Credentials"]["SecretAccessKey"]:
        raise StsError(f"ResponseParserError: Unable to parse response from {shown}: the Credentials carry no keys")
    return out
