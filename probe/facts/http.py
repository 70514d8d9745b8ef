"""One small HTTP client for the link-local endpoints.

Standard library only (``http.client``): it is fast to import, never consults proxy
variables (the probe must see the endpoint itself; proxy effects are judged from the
configuration), and lets us cap the body we read so an endless answer cannot eat memory.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional
from urllib.parse import urlsplit

MAX_BODY = 64 * 1024


@dataclass
class HttpAnswer:
    status: Optional[int] = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    oversized: bool = False
    error: Optional[str] = None
    timed_out: bool = False
    elapsed_ms: int = 0
    # Local wall clock when the answer arrived, to compare with the server's Date.
    local_time: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    def date(self) -> Optional[float]:
        value = self.headers.get("date")
        if not value:
            return None
        try:
            return email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None


def request(
    url: str,
    *,
    method: str = "GET",
    headers: Optional[Mapping[str, str]] = None,
    timeout: float = 2.0,
    max_body: int = MAX_BODY,
) -> HttpAnswer:
    """Send one request; never raises. Errors are returned as text in ``error``."""
    started = time.monotonic()
    answer = HttpAnswer()
    conn: Optional[http.client.HTTPConnection] = None
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: scheme {parts.scheme!r}")
        port = parts.port
        timeout = max(0.05, timeout)
        if parts.scheme == "https":
            import ssl  # only for an https FULL_URI: ssl is the costliest import here

            conn = http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request(method, target, headers=dict(headers or {}))
        resp = conn.getresponse()
        answer.local_time = time.time()
        answer.status = resp.status
        answer.reason = resp.reason
        answer.headers = {k.lower(): v for k, v in resp.getheaders()}
        body = resp.read(max_body + 1)
        if len(body) > max_body:
            answer.oversized = True
            body = body[:max_body]
        answer.body = body
    except socket.timeout:
        answer.error = f"timed out after {timeout:.1f} s"
        answer.timed_out = True
    except (OSError, http.client.HTTPException, ValueError) as exc:
        answer.error = _describe(exc)
    finally:
        answer.elapsed_ms = int((time.monotonic() - started) * 1000)
        if not answer.local_time:
            answer.local_time = time.time()
        if conn is not None:
            conn.close()
    return answer


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
