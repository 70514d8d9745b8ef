"""The connection side of probe.facts.http: an http.client connection whose connect, send
and every read are bounded by one deadline. Imported on the first request only (http.client
and socket are a noticeable part of a start that sends nothing)."""

from __future__ import annotations

import http.client
import io
import socket
import time
from typing import Any, Optional, Protocol, cast


class Scope(Protocol):
    """What a connection asks of probe.facts.http.Scope: to hold its socket, or refuse."""

    def add(self, sock: socket.socket) -> bool: ...


class _Expired(socket.timeout):
    pass


class _DeadlineReader(io.RawIOBase):
    """The response side of the socket: every read waits at most until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Expired("timed out")
        self._sock.settimeout(left)
        return self._sock.recv_into(buf)


class _DeadlineSocket:
    """What http.client sees as its socket: sends and reads bounded by one deadline.

    ``close`` is left to ``request``, which closes the real socket itself: http.client
    closes its socket early for ``Connection: close`` answers while the body is unread.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def sendall(self, data: Any) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Expired("timed out")
        self._sock.settimeout(left)  # since 3.5 the total for the whole sendall
        self._sock.sendall(data)

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Bounded(http.client.HTTPConnection):
    """HTTPConnection that connects within the deadline, then wraps the socket. _HTTPS puts
    HTTPSConnection between this class and HTTPConnection, so there ``super().connect()``
    is HTTPS's (TLS handshake included)."""

    deadline: float
    raw_sock: Optional[socket.socket] = None
    scope: Optional[Scope] = None

    def connect(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Expired("timed out")
        self.timeout = left
        super().connect()
        raw = self.raw_sock = self.sock
        if self.scope is not None and not self.scope.add(raw):
            raise ConnectionAbortedError("the run ended")
        # Not a socket: it bounds sendall and makefile by the deadline and hands the rest to
        # the real one, which is all http.client asks of its socket.
        self.sock = cast(socket.socket, _DeadlineSocket(raw, self.deadline))


def https(host: str, port: int, timeout: float, context: Any = None) -> Bounded:
    import ssl  # only for an https URL: ssl is the costliest import here

    class _HTTPS(Bounded, http.client.HTTPSConnection):
        pass

    return _HTTPS(host, port, timeout=timeout, context=context or ssl.create_default_context())
