"""One small HTTP client for the link-local endpoints.

Standard library only (``http.client``): it never consults proxy variables (the probe
must see the endpoint itself; proxy effects are judged from the configuration), and lets us
cap the body we read so an endless answer cannot eat memory. The connection machinery
(``probe.facts._conn``: http.client, socket, and ssl for https) is loaded by the first
request, so a command that sends nothing (`probe sdk`) does not pay for its import.

The whole request - connect, send, status line, headers and body - is bounded by one
deadline, not each read: a server that trickles a byte a second never times out a
per-read timeout. Every read waits at most for what is left of the deadline, and the
socket is closed before ``request`` returns, whatever happened.

A run can also own its requests through a ``Scope``: when the run ends, the scope shuts
down every socket still open in it and refuses new requests, so a collector thread that
is still waiting wakes at once, returns, and holds nothing after its run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import socket

    from probe.facts._conn import Bounded

MAX_BODY = 64 * 1024


class Scope:
    """The sockets of one run: ``close()`` ends them all and refuses new requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self.closed = False

    def add(self, sock: socket.socket) -> bool:
        with self._lock:
            if self.closed:
                return False
            self._socks.add(sock)
            return True

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            socks, self._socks = list(self._socks), set()
        for sock in socks:
            # shutdown, not close: the owning thread still holds the descriptor and closes
            # it itself; closing it here could let a new socket reuse the number under it.
            try:
                sock.shutdown(2)  # socket.SHUT_RDWR
            except OSError:
                pass


_local = threading.local()


class use_scope:
    """``with use_scope(scope):`` requests of this thread belong to ``scope``."""

    def __init__(self, scope: Optional[Scope]) -> None:
        self.scope = scope

    def __enter__(self) -> None:
        self.saved = getattr(_local, "scope", None)
        _local.scope = self.scope

    def __exit__(self, *exc: Any) -> None:
        _local.scope = self.saved


def _proxy_parts(proxy: str) -> tuple[str, int, dict[str, str]]:
    """Host, port and the Proxy-Authorization header of an http:// proxy URL (as botocore,
    a proxy without a scheme is http://; its user and password go in Basic auth)."""
    import base64
    from urllib.parse import unquote

    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"proxy scheme {parts.scheme!r} is not supported (http:// proxies only)")
    headers = {}
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
    return parts.hostname, parts.port or 80, headers


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
        import email.utils  # only when an answer's Date is compared

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
    deadline: Optional[float] = None,
    body: Optional[bytes] = None,
    context: Any = None,
    proxy: Optional[str] = None,
) -> HttpAnswer:
    """Send one request; never raises. Errors are returned as text in ``error``.

    ``timeout`` bounds the whole request (connect, send, headers and body), and so does
    ``deadline`` (a ``time.monotonic()`` instant) when given: whichever comes first.
    ``context`` is the ssl.SSLContext of an https URL (default: the system's CAs);
    ``proxy`` an http:// proxy URL, tunnelled with CONNECT for https (the STS call goes
    where the diagnosed environment's proxy settings send it; the link-local requests
    never pass one).
    """
    # The connection machinery (http.client, socket; ssl for https) is loaded on the first
    # request: `probe sdk` and the other commands that send nothing never pay for it.
    import http.client
    import socket

    from probe.facts._conn import Bounded, https

    started = time.monotonic()
    answer = HttpAnswer()
    conn: Optional[Bounded] = None
    scope: Optional[Scope] = getattr(_local, "scope", None)
    timeout = max(0.05, timeout)
    if deadline is not None:
        timeout = max(0.0, min(timeout, deadline - started))
    ends = started + timeout
    if scope is not None and scope.closed:
        answer.error = "not sent: the run's deadline had passed"
        answer.timed_out = True
        answer.local_time = time.time()
        return answer
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: scheme {parts.scheme!r}")
        # Always explicit: without a port http.client splits an IPv6 literal such as the Pod
        # Identity Agent's fd00:ec2::23 at its last colon (host "fd00:ec2:", port 23).
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        sent = dict(headers or {})
        if proxy:
            proxy_host, proxy_port, proxy_auth = _proxy_parts(proxy)
            if parts.scheme == "https":
                conn = https(proxy_host, proxy_port, timeout, context)
                conn.set_tunnel(parts.hostname, port, headers=proxy_auth)
            else:
                conn = Bounded(proxy_host, proxy_port, timeout=timeout)
                target = url  # a plain proxy takes the absolute URL
                sent.update(proxy_auth)
        elif parts.scheme == "https":
            conn = https(parts.hostname, port, timeout, context)
        else:
            conn = Bounded(parts.hostname, port, timeout=timeout)
        conn.deadline = ends
        conn.scope = scope
        conn.request(method, target, body=body, headers=sent)
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
        answer.error = f"timed out after {timeout:.1f} s without a complete answer"
        answer.timed_out = True
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if scope is not None and scope.closed:
            answer.error = "no complete answer before the run's deadline"
            answer.timed_out = True
        else:
            answer.error = _describe(exc)
    finally:
        answer.elapsed_ms = int((time.monotonic() - started) * 1000)
        if not answer.local_time:
            answer.local_time = time.time()
        if conn is not None:
            conn.close()
            raw = conn.raw_sock
            if raw is not None:
                if scope is not None:
                    scope.discard(raw)
                raw.close()
    return answer


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
