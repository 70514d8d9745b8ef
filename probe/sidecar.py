"""`probe watch`: re-run the task diagnosis on an interval and serve its last result.

Requests are answered from bodies prepared at the end of each run, so they cost a write
and never add traffic to the agent's rate-limited endpoint: the credentials endpoint sees
one request per run, however often /healthz is polled. The HTTP server is a process of its
own, forked before the first run: the runs' Python work (collectors, judging, rendering)
holds this process's GIL, and a request served here waited for it (p99 11 ms with runs
back to back, 4 ms without: issue 24). Each run sends its bodies to the server down a pipe.

- GET /healthz: 200 when the last verdict is not fail, else 503 (also 503 before the first
  run, after a run that raised, and while the survey cannot read the task's processes:
  a sidecar that cannot see is not watching)
- GET /report:  the last run: its JSON report, or what made it end in an error
- GET /metrics: Prometheus text format (probe/metrics.py); 503 with only the build info
  before the first run

Each run logs one short JSON line on stdout (verdict, identity, the ids of failing and
warning checks: ``run_line``); the whole report stays on /report and in --output. Docker
splits a line over 16 KiB into partial messages, which FireLens and fluentd pass on as
pieces: every line stays under ``MAX_LINE`` bytes. With --emf the line is a CloudWatch
Embedded Metric Format record whose ``report`` property is that short summary.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import pickle
import queue
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TextIO

from probe import redact, runner
from probe.facts import utc_now
from probe.metrics import EMF_NAMESPACE, Metrics, emf_line  # noqa: F401  (EMF_NAMESPACE, emf_line: the sidecar's public names)
from probe.model import Report, Status

DEFAULT_LISTEN = "127.0.0.1:9471"
MAX_BACKOFF = 8
RUN_SCHEMA = "ecs-credential-probe/run/v1"
# Docker's log drivers take at most 16 KiB per message: longer lines reach FireLens, fluentd
# and CloudWatch as partial pieces. Every line the sidecar prints stays under this.
MAX_LINE = 16000
SUMMARY_MAX = 500
NOT_YET = "no run has finished yet"


@dataclass
class Snapshot:
    """What the HTTP server serves: bodies prepared once per run."""

    health_status: int = 503
    health: bytes = b'{"verdict": null, "status": "starting", "summary": "no run has finished yet"}\n'
    report: bytes = b'{"error": "no run has finished yet"}\n'
    metrics: bytes = b""
    ran: bool = False  # a run has finished: /report and /metrics answer 200


def _short(text: Any, limit: int = SUMMARY_MAX) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[: limit - 3].rstrip() + "..."
    return text


def run_line(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One run, in a line: the verdict, the identity, the task, which checks fail and warn,
    the cause. From the scrubbed report (``doc``), so it holds nothing the report does not;
    the keys it shares with the report are the report's (a log query on ``verdict``,
    ``identity.kind``, ``task.cluster`` or ``cause.check`` reads both alike)."""
    checks = [c for c in doc.get("checks") or [] if isinstance(c, dict)]
    ident = doc.get("identity") if isinstance(doc.get("identity"), dict) else None
    task = doc.get("task") if isinstance(doc.get("task"), dict) else None
    cause = doc.get("cause") if isinstance(doc.get("cause"), dict) else None
    line: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "started_at": doc.get("started_at"),
        "duration_ms": doc.get("duration_ms"),
        "verdict": doc.get("verdict"),
        "summary": _short(doc.get("summary")),
        "cause": {"check": cause.get("check")} if cause else None,
        "identity": {k: _short(ident.get(k), 2048) for k in ("arn", "kind", "role_name")} if ident else None,
        "task": {k: _short(v, 300) for k, v in task.items()} if task else None,
        "failing": [c.get("id") for c in checks if c.get("status") in ("fail", "error")],
        "warnings": [c.get("id") for c in checks if c.get("status") == "warn"],
    }
    target = doc.get("target")
    if isinstance(target, dict):
        line["target"] = {k: _short(target.get(k), 200) for k in ("pid", "container", "main_pid")}
    return line


def fit(record: dict[str, Any], drop: tuple[str, ...]) -> str:
    """The record as one line under MAX_LINE bytes: the keys in ``drop`` are left out, in
    that order, until it fits, and a ``note`` says so (the report is on /report)."""
    text = json.dumps(record, separators=(",", ":"))
    left: list[str] = []
    for key in drop:
        if len(text.encode()) < MAX_LINE:
            break
        if key in record:
            record = {k: v for k, v in record.items() if k != key}
            left.append(key)
            record["note"] = f"left out to keep the line under {MAX_LINE} bytes: {', '.join(left)} (the whole report is on /report)"
            text = json.dumps(record, separators=(",", ":"))
    return text + "\n"


def health_of(report: Report, doc: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """/healthz for a finished run: 503 when it failed, or when the process survey could
    not read the task's processes (the sidecar cannot watch what it cannot see)."""
    verdict = report.verdict
    body: dict[str, Any] = {"verdict": verdict.value, "at": report.started_at, "summary": doc.get("summary")}
    if verdict is Status.FAIL:
        return 503, body
    for r in report.results:
        seen = r.data.get("blind") if r.id == "processes.credentials-variable" and isinstance(r.data, dict) else None
        if isinstance(seen, dict) and seen.get("pids"):
            reasons = "; ".join(str(x) for x in seen.get("reasons") or [])
            body["summary"] = redact.scrub(f"The sidecar cannot see the task: {r.title}" + (f" ({reasons})" if reasons else ""))
            body["blind"] = True
            body["fix"] = redact.scrub(r.remedy)
            return 503, body
    return 200, body


@dataclass(frozen=True)
class Published:
    """One message from the watcher to the HTTP server: the last snapshot, when the last run
    finished (time.monotonic(): CLOCK_MONOTONIC, the same clock in both processes) and how
    long after it /healthz is to say the loop is stuck."""

    snapshot: Snapshot
    last_finished: float
    allowed: float

    def stale(self) -> bool:
        return time.monotonic() - self.last_finished > self.allowed


@dataclass
class Counters:
    runs: int = 0
    failures: int = 0
    backoff: int = 1


class Watcher:
    """The loop and the state the HTTP server reads."""

    def __init__(
        self,
        environ: Mapping[str, str],
        interval: float,
        deadline: float,
        selection: runner.Selection,
        emf: bool = False,
        out: Optional[TextIO] = None,
        max_runs: Optional[int] = None,
        sdk_roots: Optional[list[str]] = None,
        target: Optional[Any] = None,
        output: Optional[str] = None,
        err: Optional[TextIO] = None,
        publish: Optional[Callable[["Published"], None]] = None,
    ) -> None:
        self.environ = dict(environ)
        # Where each run's bodies go: the HTTP server's process (HttpServer.publish).
        self.publish = publish
        # --output FILE: each run's whole report (or its error), replaced atomically.
        self.output = output if output not in (None, "", "-") else None
        self.err = err
        self.output_error: Optional[str] = None
        # The process to diagnose as it sees things (`--pid`, `--container`); None: this one.
        self.target = target
        self.sdk_roots = sdk_roots
        self.sdk_cache: dict[str, Any] = {}
        self.interval = interval
        self.deadline = deadline
        self.selection = selection
        self.emf = emf
        self.out = out or sys.stdout
        self.max_runs = max_runs
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.last_finished = time.monotonic()
        self.dropped_lines = 0
        # Log lines go through a bounded queue: a stdout nobody reads (a blocked log
        # driver) must not stop the diagnoses, and /healthz must keep telling the truth.
        self.lines: "queue.Queue[str]" = queue.Queue(maxsize=100)
        threading.Thread(target=self._write_lines, name="probe-log", daemon=True).start()
        self.counters = Counters()
        self.metrics = Metrics()
        self.snapshot = Snapshot(metrics=self.metrics.starting())

    def run_once(self) -> Report:
        # Forwarded only when set, so this works with a runner that predates the keyword.
        extra: dict[str, Any] = {"target": self.target} if self.target is not None else {}
        facts, report = runner.diagnose_task(self.environ, self.deadline, self.selection, sdk_roots=self.sdk_roots, sdk_cache=self.sdk_cache, **extra)
        doc = redact.scrub_obj(report.to_dict())
        report_body = (json.dumps(doc, indent=2) + "\n").encode()
        verdict = report.verdict
        status, health = health_of(report, doc)
        metrics = self.metrics.record(report, facts)
        with self.lock:
            self.counters.runs += 1
            if verdict is Status.FAIL:
                self.counters.failures += 1
            self.counters.backoff = self._next_backoff(report)
            self.snapshot = Snapshot(
                health_status=status,
                health=(json.dumps(health) + "\n").encode(),
                report=report_body,
                metrics=metrics,
                ran=True,
            )
        self._write_output(report_body)
        summary = run_line(doc)
        if self.emf:
            # The record's "report" property is the run's summary, not the whole report (that
            # is /report's): 146 KB on a large image, far over what a log line may be.
            self._log(fit(emf_line(report, facts, summary), ("report",)))
        else:
            self._log(fit(summary, ("warnings", "task", "identity", "summary", "target")))
        with self.lock:
            self.last_finished = time.monotonic()
        self._publish()
        return report

    def published(self) -> "Published":
        """What the HTTP server needs to answer: the bodies, and when it is to call the loop stuck."""
        with self.lock:
            allowed = 3 * self.interval * self.counters.backoff + self.deadline + 5
            return Published(self.snapshot, self.last_finished, allowed)

    def _publish(self) -> None:
        if self.publish is not None:
            self.publish(self.published())

    def _log(self, line: str) -> None:
        try:
            self.lines.put_nowait(line)
        except queue.Full:
            self.dropped_lines += 1

    def _write_output(self, body: bytes) -> None:
        """The run's report to --output: written beside it, then renamed over it, so a
        reader never sees half a report. A failure is said once on stderr, not per run."""
        if self.output is None:
            return
        tmp = f"{self.output}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.replace(tmp, self.output)
            self.output_error = None
        except OSError as exc:
            why = f"probe: cannot write --output {self.output}: {exc.strerror or exc}\n"
            if why != self.output_error and self.err is not None:
                try:
                    self.err.write(why)
                    self.err.flush()
                except (OSError, ValueError):
                    pass
            self.output_error = why
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _write_lines(self) -> None:
        while True:
            line = self.lines.get()
            try:
                self.out.write(line)
                self.out.flush()
            except (OSError, ValueError):
                pass
            finally:
                self.lines.task_done()

    def flush_lines(self, timeout: float) -> None:
        """Give queued log lines a moment to leave (at exit); never block past ``timeout``."""
        # Until every line is written, not merely taken off the queue: the writer holds the
        # last one while it writes, and the process may end the moment this returns (on a
        # loaded machine the last run's line was lost so).
        deadline = time.monotonic() + timeout
        done = self.lines.all_tasks_done
        with done:
            while self.lines.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done.wait(remaining)

    def stale(self) -> bool:
        """True when no run has finished for much longer than the schedule allows."""
        return self.published().stale()

    def _next_backoff(self, report: Report) -> int:
        """Double the wait after the agent said 429 or 5xx; back to normal on any other answer."""
        for r in report.results:
            if r.id == "endpoint.credentials":
                status = r.data.get("status")
                if isinstance(status, int) and (status == 429 or status >= 500):
                    return min(MAX_BACKOFF, self.counters.backoff * 2)
        return 1

    def loop(self) -> None:
        while not self.stop.is_set():
            worker = threading.Thread(target=self._guarded_run, name="probe-run", daemon=True)
            worker.start()
            # A run is bounded by its deadline; waiting in slices keeps SIGTERM prompt.
            while worker.is_alive() and not self.stop.is_set():
                worker.join(0.1)
            if self.stop.is_set():
                return
            if self.max_runs is not None and self.counters.runs >= self.max_runs:
                return
            pause = self.interval * self.counters.backoff * random.uniform(0.9, 1.1)
            self.stop.wait(pause)

    def _guarded_run(self) -> None:
        try:
            self.run_once()
        except Exception as exc:  # the sidecar keeps going; the failure is visible
            metrics = self.metrics.record_error()
            # The run is over, in an error (a --container it cannot read, ...): /healthz,
            # /report and the log say so, with the reason and its fix.
            error = {"verdict": "error", "at": utc_now(), "summary": redact.scrub(f"{type(exc).__name__}: {exc}")}
            with self.lock:
                self.counters.runs += 1
                self.counters.failures += 1
                self.snapshot = Snapshot(
                    health_status=503,
                    health=(json.dumps(error) + "\n").encode(),
                    report=(json.dumps(dict(error, error=error["summary"]), indent=2) + "\n").encode(),
                    metrics=metrics,
                    ran=True,
                )
                self.last_finished = time.monotonic()
                body = self.snapshot.report
            self._publish()
            self._write_output(body)
            line = {"schema": RUN_SCHEMA, "started_at": error["at"], "verdict": "error", "summary": _short(error["summary"], 4000), "failing": []}
            self._log(fit(line, ("summary",)))


STALE_BODY = (json.dumps({"verdict": "stale", "summary": "no diagnosis finished recently; the sidecar's loop is stuck"}) + "\n").encode()
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 10.0  # a request head must arrive within this (slowloris)
IDLE_TIMEOUT = 60.0  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 256
# Seconds the kernel holds a connection that has sent nothing before handing it over anyway
# (rounded up to SYN-ACK retransmits: 1 + 2 + 4 = 7 s); HEAD_TIMEOUT then applies.
DEFER_ACCEPT = 5
# A client that sends requests without reading the answers (a pipelining flood) would make
# the server buffer answers without end. Past WRITE_HIGH bytes of unsent answers the server
# stops reading that client (the kernel then stops the client's sends); it reads again once
# the backlog drains under WRITE_LOW. A client that reads nothing for STALL_TIMEOUT is closed,
# and so is the oldest of more than MAX_STALLED such clients.
WRITE_HIGH = 32 * 1024
WRITE_LOW = 8 * 1024
STALL_TIMEOUT = 10.0
MAX_STALLED = 16
# Answers given to one connection before the others get their turn (fairness under pipelining).
PER_TURN = 32
# Requests are read into at most READ_MAX bytes per connection (a head is at most MAX_HEAD).
# So whatever the clients do, a connection holds under READ_MAX of requests and WRITE_HIGH
# plus one answer of answers: about 18 MB for MAX_CONNECTIONS connections at the very worst.
READ_MAX = 2 * MAX_HEAD
# After an answer that ends the connection, what the client still sends is read and dropped
# (so the kernel does not answer it with RST, losing the answer), up to this much.
DRAIN_MAX = 1024 * 1024


class _Http(asyncio.BufferedProtocol):
    """A minimal HTTP/1.1 server for prepared bodies: one event loop thread, no thread per
    connection, so fifty pollers cost a few microseconds each, not a thread apiece.
    Slow or idle clients are timed out, clients that do not read their answers are paused
    then closed, and connections are capped, so nobody can starve the health check or
    grow the sidecar's memory."""

    # Live connections, oldest first: over the cap the oldest goes, so a new health check
    # is always served, however many slow clients came before it.
    live: "dict[_Http, None]" = {}
    # Connections whose answers are not being read, oldest first.
    stalled: "dict[_Http, None]" = {}

    def __init__(self, served: "_Served", scratch: memoryview, door: Optional["_Door"] = None) -> None:
        self.served = served
        self.door = door
        # What the transport reads into: the server's, one for all its connections, as the
        # event loop fills it and hands it to buffer_updated at once.
        self.scratch = scratch
        self.buffer = b""
        self.transport: Optional[asyncio.Transport] = None
        self.timer: Optional[asyncio.TimerHandle] = None
        self.stall_timer: Optional[asyncio.TimerHandle] = None
        self.writing_paused = False  # the client is not reading its answers
        self.reading_paused = False
        self.turn_pending = False  # more requests are buffered; they wait for the next turn
        self.draining = False  # the last answer is sent; what the client still sends is dropped
        self.drained = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # a guard that survives python -O
            transport.close()
            return
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        _Http.live[self] = None
        if self.door is not None:
            self.door.make_room()
        self._arm(HEAD_TIMEOUT)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        _Http.live.pop(self, None)
        _Http.stalled.pop(self, None)
        for timer in (self.timer, self.stall_timer):
            if timer is not None:
                timer.cancel()
        self.buffer = b""

    def pause_writing(self) -> None:
        """The transport holds WRITE_HIGH bytes of answers: stop taking requests."""
        self.writing_paused = True
        _Http.stalled[self] = None
        self.stall_timer = asyncio.get_running_loop().call_later(STALL_TIMEOUT, self._abort)
        while len(_Http.stalled) > MAX_STALLED:
            oldest = next(iter(_Http.stalled))
            _Http.stalled.pop(oldest, None)
            oldest._abort()
        self._flow()

    def resume_writing(self) -> None:
        self.writing_paused = False
        _Http.stalled.pop(self, None)
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None
        self._next_turn()

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # close() would wait for answers nobody reads

    def _flow(self) -> None:
        """Read from the client only while its answers leave and no requests wait."""
        if self.transport is None:  # not a guard python -O removes
            return
        pause = self.writing_paused or self.turn_pending
        if pause != self.reading_paused and not self.transport.is_closing():
            self.reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _next_turn(self) -> None:
        if not self.turn_pending:
            self.turn_pending = True
            asyncio.get_running_loop().call_soon(self._take_turn)
            self._flow()

    def _take_turn(self) -> None:
        self.turn_pending = False
        if self.transport is not None and not self.transport.is_closing():
            self._serve()

    def _arm(self, seconds: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        if self.transport is None:
            return
        if self.transport.is_closing():
            self.transport.abort()  # closed, but its last answers were never read
        else:
            self.transport.close()
            self._arm(STALL_TIMEOUT)

    def get_buffer(self, sizehint: int) -> memoryview:
        # After _serve, under MAX_HEAD is left over (else the connection is closed): there is room.
        return self.scratch[: max(1, READ_MAX - len(self.buffer))]

    def buffer_updated(self, nbytes: int) -> None:
        if self.draining:
            self.drained += nbytes
            if self.drained > DRAIN_MAX and self.transport is not None:
                self.transport.close()
            return
        self.buffer += self.scratch[:nbytes]
        if not self.turn_pending:
            self._serve()

    def _serve(self) -> None:
        """Answer the complete requests in the buffer: at most PER_TURN, and none while the
        client is not reading its answers."""
        if self.transport is None:  # not a guard python -O removes
            return
        buf, pos, answered = self.buffer, 0, 0
        try:
            while not self.transport.is_closing() and not self.draining:
                if self.writing_paused:
                    return
                if answered == PER_TURN:
                    self._next_turn()
                    return
                while pos < len(buf) and buf[pos] in b"\r\n":  # RFC 7230: ignore empty lines before a request
                    pos += 1
                window = pos + MAX_HEAD + 4
                end = buf.find(b"\r\n\r\n", pos, window)
                bare = buf.find(b"\n\n", pos, window if end == -1 else end)
                if bare != -1:
                    end, size = bare, 2
                else:
                    size = 4
                if end == -1:
                    if len(buf) - pos > MAX_HEAD:
                        self._reply(400, b"", "text/plain", keep=False)
                    return
                if end - pos > MAX_HEAD:
                    self._reply(400, b"", "text/plain", keep=False)
                    return
                head, pos = buf[pos:end], end + size
                answered += 1
                if answered == 1:
                    self._arm(IDLE_TIMEOUT)
                lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    self._reply(400, b"", "text/plain", keep=False)
                    return
                method, target, version = parts
                if "://" in target:  # absolute form: keep the path
                    target = "/" + target.split("://", 1)[1].partition("/")[2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
                keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
                if headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers:
                    keep = False  # no request has a body here; do not try to skip one
                self._answer(method, target.split("?", 1)[0], keep, version == "HTTP/1.0")
        finally:
            if not self.draining:
                self.buffer = buf[pos:] if pos else buf
            if not self.transport.is_closing():
                self._flow()

    def _answer(self, method: str, path: str, keep: bool, http10: bool) -> None:
        if method not in ("GET", "HEAD"):
            self._reply(405, b"", "text/plain", keep, http10, extra="Allow: GET, HEAD\r\n", head=method == "HEAD")
            return
        now = self.served.now  # one reference, replaced whole by each run's message: no lock
        snap = now.snapshot
        if path == "/healthz":
            status, body, ctype = snap.health_status, snap.health, "application/json"
            if now.stale():
                status, body = 503, STALE_BODY
        elif path == "/report":
            status, body, ctype = (200 if snap.ran else 503), snap.report, "application/json"
        elif path == "/metrics":
            status, body, ctype = (200 if snap.ran else 503), snap.metrics, "text/plain; version=0.0.4; charset=utf-8"
        else:
            status, body, ctype = 404, b'{"error": "not found"}\n', "application/json"
        self._reply(status, body, ctype, keep, http10, head=method == "HEAD")

    def _reply(self, status: int, body: bytes, ctype: str, keep: bool, http10: bool = False, extra: str = "", head: bool = False) -> None:
        if self.transport is None:  # not a guard python -O removes
            return
        conn = ("Connection: keep-alive\r\n" if http10 else "") if keep else "Connection: close\r\n"
        header = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nServer: ecs-credential-probe\r\n{extra}{conn}\r\n"
        ).encode("latin-1")
        self.transport.write(header if head else header + body)
        if not keep:
            self._hang_up()

    def _hang_up(self) -> None:
        """Close after this answer without losing it. Closing a socket that still has unread
        request bytes makes the kernel send RST, which can discard the answer before the
        client reads it: so send FIN after the answer, drop what the client still sends (up
        to DRAIN_MAX), and close when it hangs up or after HEAD_TIMEOUT."""
        if self.transport is None:  # not a guard python -O removes
            return
        self.draining = True
        self.buffer = b""
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._arm(HEAD_TIMEOUT)
        else:
            self.transport.close()
            self._arm(STALL_TIMEOUT)  # a client that never reads its last answer is dropped


ACCEPT_BATCH = 128

# A classic BPF program for the listening sockets (a Linux socket filter, which TCP runs on
# every segment to a listening socket and to its half-open connections): a segment that
# carries no data and is neither a SYN nor a RST is dropped before TCP sees it. A connection
# flood's connections say nothing: their handshake ACKs (TCP_DEFER_ACCEPT drops those too),
# but also their FINs and, past the SYN queue, their SYN-cookie ACKs, which would each hand a
# connection to the accept queue (measured: a health check queued behind a wave of closed
# flood connections waited 38-57 ms at p99). With the filter a connection reaches the queue
# only with its request; one that never sends any stays a half-open connection in the kernel
# until it expires. A client loses nothing: its request carries the ACK the filter dropped
# (and validates a SYN cookie just as well). Each accepted connection inherits the filter and
# drops it at once, before anything is sent to it.
_SAY_SOMETHING = (
    (0x30, 0, 0, 13),  # ldb [13]: the TCP flags
    (0x45, 7, 0, 0x06),  # jset #SYN|RST: keep
    (0x30, 0, 0, 12),  # ldb [12]: the data offset, in 32-bit words, in the high nibble
    (0x74, 0, 0, 4),  # rsh #4
    (0x64, 0, 0, 2),  # lsh #2: the header's length in bytes
    (0x07, 0, 0, 0),  # tax
    (0x80, 0, 0, 0),  # ld len: the segment's length
    (0x2D, 1, 0, 0),  # jgt x: carries data: keep
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole segment
)
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)  # asm-generic (x86-64, arm64)
SO_DETACH_FILTER = getattr(socket, "SO_DETACH_FILTER", 27)


def _filter_silence(sock: socket.socket) -> None:
    """Attach _SAY_SOMETHING to a listening socket, where the kernel takes socket filters
    (elsewhere TCP_DEFER_ACCEPT and the Door's parking are the defence)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    program = b"".join(struct.pack("HBBI", *step) for step in _SAY_SOMETHING)
    code = ctypes.create_string_buffer(program, len(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HP", len(_SAY_SOMETHING), ctypes.addressof(code)))
    except OSError:
        pass


def listen_backlog(somaxconn: str = "/proc/sys/net/core/somaxconn") -> int:
    """The largest accept queue the kernel allows (net.core.somaxconn, per network namespace;
    4096 by default since Linux 5.4): under a connection flood a short queue drops SYNs, and a
    health check waits a full SYN retransmit (1 s) for its turn."""
    try:
        with open(somaxconn) as fh:
            value = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 4096  # the kernel caps it to its own limit anyway
    return max(128, min(value, 65535))


class _Served:
    """What the server process answers from: the last message the watcher published."""

    def __init__(self, now: Published) -> None:
        self.now = now


# A message down the pipe: its length (8 bytes, big-endian), then the pickled Published.
_FRAME = struct.Struct(">Q")


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (as asyncio's create_server binds them)."""
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(exc.errno, f"error while attempting to bind on address {address!r}: {exc.strerror}") from None
            if hasattr(socket, "TCP_DEFER_ACCEPT"):
                # A connection joins the accept queue once its request arrives: a flood of
                # connections that send nothing stays in the kernel, and a health check's
                # connection is not queued behind thousands of them.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT)
            _filter_silence(sock)
            if port == 0:  # one port for every address, as asyncio does
                port = sock.getsockname()[1]
            sock.listen(listen_backlog())
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


class _Door:
    """The accept loop, and the connections that have sent nothing yet.

    Under a connection flood (thousands of connections that send nothing), a health check's
    connection waits in the kernel's accept queue behind every flood connection accepted
    before it. asyncio's server spent ~100 us of Python on each (a task, a transport, a
    protocol, timers): 10,000 of them held /healthz for up to a second. The listening
    sockets' filter (_SAY_SOMETHING) keeps such connections out of the queue altogether;
    where the kernel takes no filter, and for one that reaches the queue all the same, a
    connection costs a Python object only once its request arrives: one that has sent nothing
    is parked in an epoll set of its own (a few microseconds), one that hung up is closed at
    once, and a parked one is closed after HEAD_TIMEOUT, or first when connections are over
    the cap."""

    def __init__(self, loop: asyncio.AbstractEventLoop, factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self.loop = loop
        self.factory = factory
        self.quiet = select.epoll()
        # Parked connections, oldest first: fd -> (socket, when accepted).
        self.parked: dict[int, tuple[socket.socket, float]] = {}
        loop.add_reader(self.quiet.fileno(), self._stirred)
        loop.call_later(1.0, self._sweep)

    def listen(self, listening: socket.socket) -> None:
        listening.setblocking(False)
        self.loop.add_reader(listening.fileno(), self._accept, listening)

    def _accept(self, listening: socket.socket) -> None:
        # At most ACCEPT_BATCH per wake-up: the requests already taken get their turn.
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors or memory: stop accepting for a second, as asyncio does.
                    self.loop.remove_reader(listening.fileno())
                    self.loop.call_later(1.0, self.listen, listening)
                    return
                continue  # ECONNABORTED and the like: that one connection is gone
            try:
                # Inherited from the listening socket: it would drop this connection's ACKs
                # (and, until now, a FIN sent apart from the request: the client sends it again).
                conn.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
            except OSError as exc:
                if exc.errno != errno.ENOENT:  # ENOENT: none was attached
                    conn.close()  # a connection that keeps the filter would stall mid-answer
                    continue
            conn.setblocking(False)
            self._admit(conn)

    def _admit(self, conn: socket.socket) -> None:
        try:
            said = conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            self.make_room(1)
            self.parked[conn.fileno()] = (conn, time.monotonic())
            self.quiet.register(conn.fileno(), select.EPOLLIN)
            return
        except OSError:
            conn.close()
            return
        if not said:  # hung up before saying anything: nothing to answer
            conn.close()
            return
        def failed(task: "asyncio.Task[Any]") -> None:
            if not task.cancelled() and task.exception() is not None:  # retrieved: never logged
                conn.close()

        self.loop.create_task(self.loop.connect_accepted_socket(self.factory, conn)).add_done_callback(failed)

    def _stirred(self) -> None:
        """Parked connections that sent something (or hung up): answer them, or close them."""
        for fd, _events in self.quiet.poll(0, ACCEPT_BATCH):
            entry = self.parked.pop(fd, None)
            self.quiet.unregister(fd)
            if entry is not None:
                self._admit(entry[0])

    def _drop(self, fd: int) -> None:
        entry = self.parked.pop(fd, None)
        if entry is not None:
            self.quiet.unregister(fd)
            entry[0].close()

    def _sweep(self) -> None:
        """Close the parked connections that have sent nothing for HEAD_TIMEOUT (slowloris)."""
        expired = time.monotonic() - HEAD_TIMEOUT
        for fd, (_conn, since) in list(self.parked.items()):
            if since > expired:
                break
            self._drop(fd)
        self.loop.call_later(1.0, self._sweep)

    def make_room(self, adding: int = 0) -> None:
        """At most MAX_CONNECTIONS: past that the oldest that has sent nothing is closed,
        else the oldest (so a new health check is always served)."""
        while len(_Http.live) + len(self.parked) + adding > MAX_CONNECTIONS:
            if self.parked:
                self._drop(next(iter(self.parked)))
            elif _Http.live:
                oldest = next(iter(_Http.live))
                _Http.live.pop(oldest, None)
                if oldest.transport is not None:
                    oldest.transport.abort()
            else:
                return


def _serve_forever(socks: list[socket.socket], updates: int, first: Published) -> None:
    """The server process: an event loop on the listening sockets, and the watcher's messages
    from ``updates``; it ends when the watcher closes the pipe (or dies: the kernel closes it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the watcher stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    served = _Served(first)
    loop = asyncio.new_event_loop()
    scratch = memoryview(bytearray(READ_MAX))
    door = _Door(loop, lambda: _Http(served, scratch, door))
    for sock in socks:
        door.listen(sock)  # listening at the kernel's backlog since _bind; accepted in batches here
    pending = bytearray()

    def on_update() -> None:
        try:
            chunk = os.read(updates, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            loop.stop()
            return
        pending.extend(chunk)
        while len(pending) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(pending)
            if len(pending) < _FRAME.size + size:
                break
            served.now = pickle.loads(bytes(pending[_FRAME.size : _FRAME.size + size]))
            del pending[: _FRAME.size + size]

    os.set_blocking(updates, False)
    loop.add_reader(updates, on_update)
    loop.run_forever()


class HttpServer:
    """The listening sockets, bound in the caller's process (a busy port is a usage error),
    served by a child process that does nothing else. Forked before the watcher starts any
    thread, so the child holds no lock another thread took. The child is the watcher's, so
    the process survey leaves it out (facts/processes.py: the probe's own children)."""

    def __init__(self, listen: str, first: Published) -> None:
        host, _, port = listen.rpartition(":")
        self.socks = _bind(host.strip("[]") or "127.0.0.1", int(port))
        sock = self.socks[0].getsockname()
        self.server_address = (sock[0], sock[1])
        self.first = first
        self.pid = 0
        self.updates = -1
        self.lock = threading.Lock()
        self.ended = threading.Event()  # the server process is gone
        self.status: Optional[int] = None

    def start(self) -> "HttpServer":
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(write)
                _serve_forever(self.socks, read, self.first)
            except BaseException:
                code = 70
            finally:
                os._exit(code)  # never back into the watcher's code, its atexit or its buffers
        os.close(read)
        for sock in self.socks:
            sock.close()  # the child's now: when it is gone, the port is closed, not silent
        self.pid, self.updates = pid, write
        threading.Thread(target=self._reap, name="probe-http-wait", daemon=True).start()
        return self

    def _reap(self) -> None:
        _pid, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        self.ended.set()

    def publish(self, now: Published) -> None:
        """Send the server a run's bodies. Blocks while the pipe is full: the server reads it
        between requests, a few milliseconds for a large report."""
        payload = pickle.dumps(now, protocol=pickle.HIGHEST_PROTOCOL)
        data = memoryview(_FRAME.pack(len(payload)) + payload)
        with self.lock:
            if self.updates < 0:
                return
            try:
                while data:
                    data = data[os.write(self.updates, data) :]
            except OSError:
                pass  # the server is gone; the watcher hears it from ended

    def stop(self) -> None:
        with self.lock:
            if self.updates >= 0:
                os.close(self.updates)  # the server ends when it reads the end of the pipe
                self.updates = -1
        if self.pid and not self.ended.wait(2):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.ended.wait(2)


def watch(
    environ: Mapping[str, str],
    interval: float,
    deadline: float,
    selection: runner.Selection,
    listen: str,
    emf: bool,
    out: TextIO,
    err: TextIO,
    max_runs: Optional[int] = None,
    sdk_roots: Optional[list[str]] = None,
    target: Optional[Any] = None,
    output: Optional[str] = None,
) -> int:
    # Bound and forked before the Watcher starts its log thread (a fork copies no thread).
    server = HttpServer(listen, Published(Snapshot(metrics=Metrics().starting()), time.monotonic(), float("inf"))).start()
    watcher = Watcher(environ, interval, deadline, selection, emf, out, max_runs, sdk_roots, target=target, output=output, err=err, publish=server.publish)
    watcher._publish()  # the schedule's stale deadline
    bound = server.server_address

    def on_server_end() -> None:
        # A sidecar that cannot answer /healthz is not one: stop, and say why.
        if server.ended.wait() and not watcher.stop.is_set():
            server_died.append(server.status)
            watcher.stop.set()

    server_died: list[Optional[int]] = []
    threading.Thread(target=on_server_end, name="probe-http-watch", daemon=True).start()

    def on_signal(signum: int, frame: Any) -> None:
        watcher.stop.set()

    # Before the line below: whoever waits for it (a supervisor, a test) may stop us at once.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]  # an IPv6 address, as a URL writes it
        err.write(f"probe: watching every {interval:g} s; serving http://{host}:{bound[1]}/healthz, /report, /metrics\n")
        err.flush()
        watcher.loop()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        watcher.stop.set()  # before the server ends, so its end is not taken for a death
        server.stop()
        watcher.flush_lines(1.0)
    if server_died:
        err.write(f"probe: the HTTP server process ended (status {server_died[0]}); stopping\n")
        err.flush()
        return 1
    return 0


def health(url: str, timeout: float) -> tuple[int, str]:
    """`probe health`: (exit code, one line) from a sidecar's /healthz."""
    from probe.facts import http

    from probe.facts.endpoints import parse_json

    answer = http.request(url, timeout=timeout)
    if answer.error is not None:
        return 1, f"unhealthy: {url}: {answer.error}"
    if answer.oversized:
        # A sidecar's /healthz is a few hundred bytes: an endless answer is not a sidecar's.
        return 1, f"unhealthy: {url}: the answer is larger than {http.MAX_BODY // 1024} KiB (not a probe sidecar's /healthz)"
    body = answer.body.decode("utf-8", "replace").strip()
    doc, _why = parse_json(answer.body)
    what = _health_words(doc) if isinstance(doc, dict) else body[:200]
    return (0, f"healthy: {what}") if answer.status == 200 else (1, f"unhealthy (HTTP {answer.status}): {what}")


def _health_words(doc: Mapping[str, Any]) -> str:
    """'pass at T: summary'; before the first run (no verdict yet) what the sidecar is doing."""
    verdict, at, summary = doc.get("verdict"), doc.get("at"), doc.get("summary")
    if verdict is None:
        return str(summary or (NOT_YET if doc.get("status") == "starting" else "no verdict"))
    head = f"{verdict} at {at}" if at else str(verdict)
    return f"{head}: {summary}" if summary else head


# What `probe wait` needs to see pass: usable credentials, and STS confirming the task role.
WAIT_CHECKS = frozenset(
    {"env.credentials-variable", "env.credentials-uri-safe", "env.shadowing-credentials", "endpoint.credentials", "identity.caller", "identity.task-role"}
)


def wait(environ: Mapping[str, str], timeout: float, deadline: float, expect_role: Optional[str], err: TextIO) -> tuple[bool, Report]:
    """`probe wait`: poll until the task role works or ``timeout`` passes.

    Polls every second at first, then backs off to every 5 s (the agent's endpoint is
    rate limited per task); at the end, one full diagnosis explains a failure.
    """
    started = time.monotonic()
    pause = 1.0
    selection = runner.Selection(only=WAIT_CHECKS, expect_role=expect_role)
    last_summary = ""
    while True:
        remaining = timeout - (time.monotonic() - started)
        _facts, report = runner.diagnose_task(environ, max(0.5, min(deadline, remaining)), selection)
        ok = any(r.id == "identity.task-role" and r.status is Status.PASS for r in report.results)
        if ok:
            return True, report
        if report.summary != last_summary:
            err.write(redact.scrub(f"probe: waiting for the task role: {report.summary}\n"))
            err.flush()
            last_summary = report.summary
        remaining = timeout - (time.monotonic() - started)
        if remaining <= pause:
            break
        time.sleep(pause)
        pause = min(5.0, pause * 1.5)
    # The final diagnosis explains the failure, within what is left of --timeout.
    remaining = timeout - (time.monotonic() - started)
    _facts, report = runner.diagnose_task(environ, max(0.5, min(deadline, remaining)), runner.Selection(expect_role=expect_role))
    return False, report
