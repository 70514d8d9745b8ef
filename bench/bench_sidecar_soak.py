"""The sidecar under attack (issue 11): a pipelining flood, slowloris and a trickling
credentials endpoint together for 60 s, then a 10,000-connection flood, side by side with the
same sidecar idle.

- Idle: `probe watch --interval 1 --deadline 3` against a healthy credentials endpoint; a
  separate process polls /healthz 20 times a second, a new connection each (as health checkers do).
- Soak (--seconds, default 60): the credentials endpoint trickles (headers, then one body byte
  every 0.5 s, never finishing), four clients pipeline `GET /report` without ever reading the
  answers (reconnecting when closed), 200 slowloris connections send a header line a second;
  /healthz is polled as above and RSS, threads and fds are sampled every second.
- Recovery: the attack stops, the endpoint is healthy again; RSS, threads and fds once the
  sidecar has settled (up to 30 s), against the idle baseline.
- Connection flood: 10,000 connections opened as fast as one process can, twice, while /healthz
  is polled 50 times a second. The listen backlog in force is read back from `ss -ltn`.

Targets (issue 11): RSS within 10 MB of its start, threads and fds back to their baseline,
/healthz p99 under 50 ms during the soak.

Since issue 24 the sidecar is two processes (the watcher, and its HTTP server forked from
it): RSS is their PSS summed (pages shared since the fork count once), threads and fds summed.

Every load generator here targets loopback only, is bounded in time and bytes, and stops by
itself. Threads and fds that grow with the trickling endpoint come from the diagnosis runs
(collectors), not from the HTTP server: the figures say which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from probe.emulator import Emulator  # noqa: E402

from _common import emit, free_port  # noqa: E402

LOOPBACK = "127.0.0.1"
PIPELINE = b"GET /report HTTP/1.1\r\nHost: x\r\n\r\n" * 1000


def server_of(pid: int) -> Optional[int]:
    """The sidecar's HTTP server process (issue 24): its child with its own command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = [int(c) for c in fh.read().split()]
    except OSError:
        return None
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                if fh.read() == cmdline:
                    return child
        except OSError:
            pass
    return None


def sample(pid: int) -> dict[str, float]:
    """RSS (MB; PSS when readable, so the pages the server process shares with the watcher
    after the fork count once), threads and fds of the sidecar: the process and its HTTP
    server process."""
    out: dict[str, float] = {"rss_mb": 0.0, "threads": 0, "fds": 0}
    for p in (pid, server_of(pid)):
        if p is None:
            continue
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                pss = next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pss = None
        with open(f"/proc/{p}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key == "VmRSS" and pss is None:
                    out["rss_mb"] += int(value.split()[0]) / 1024
                elif key == "Threads":
                    out["threads"] += int(value.split()[0])
        if pss is not None:
            out["rss_mb"] += pss / 1024
        out["fds"] += len(os.listdir(f"/proc/{p}/fd"))
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


# ---------------------------------------------------------------------------------------
# A credentials endpoint that answers at once, or trickles
# ---------------------------------------------------------------------------------------


class Trickler:
    """Serves a fixed credentials answer; in trickle mode, the headers and then one body byte
    every 0.5 s. Each connection ends when the client hangs up, the mode turns healthy or the
    server stops; none lives longer than 120 s."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.trickle = threading.Event()
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        ends = time.monotonic() + 120
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(self.body)
        try:
            conn.settimeout(2)
            conn.recv(65536)
            if not self.trickle.is_set():
                conn.sendall(head + self.body)
                return
            conn.sendall(head)
            for i in range(len(self.body)):
                if self.stopping.wait(0.5) or not self.trickle.is_set() or time.monotonic() > ends:
                    return
                conn.sendall(self.body[i : i + 1])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(2)


# ---------------------------------------------------------------------------------------
# Load generators, each in its own process (run by this file with --role)
# ---------------------------------------------------------------------------------------


def role_poll(port: int, seconds: float, rate: float) -> dict[str, Any]:
    """GET /healthz at ``rate`` per second, a new connection each, 2 s timeout (a failure
    counts as 2,000 ms in the percentiles)."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    failures: dict[str, int] = {}
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        n += 1
        t0 = time.perf_counter()
        try:
            with socket.create_connection((LOOPBACK, port), timeout=2) as s:
                s.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "garbled"
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        except OSError as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            latencies.append(2000.0)  # a failed poll counts as the full timeout
        pause = started + n / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return {"sent": n, "answered": sum(statuses.values()), "statuses": statuses, "failures": failures,
            "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99), "max_ms": max(latencies) if latencies else float("nan")}


def role_attack(port: int, seconds: float, pipeliners: int, slowloris: int) -> dict[str, Any]:
    """Pipelining clients that never read, and slowloris connections, until ``seconds`` pass."""
    ends = time.monotonic() + seconds
    lock = threading.Lock()
    figures = {"pipelined_mb": 0.0, "pipeline_closed_by_server": 0, "slowloris_closed_by_server": 0, "slowloris_opened": 0}

    def pipeline() -> None:
        sent = 0
        s: Optional[socket.socket] = None
        while time.monotonic() < ends and sent < 512 * 1024 * 1024:
            if s is None:
                try:
                    s = socket.create_connection((LOOPBACK, port), timeout=2)
                    s.settimeout(0.5)
                except OSError:
                    time.sleep(0.1)
                    continue
            try:
                s.sendall(PIPELINE)
                sent += len(PIPELINE)
            except socket.timeout:
                pass  # the server stopped reading us: keep pushing, as an attacker would
            except OSError:
                s.close()
                s = None
                with lock:
                    figures["pipeline_closed_by_server"] += 1
        if s is not None:
            s.close()
        with lock:
            figures["pipelined_mb"] += sent / 1e6

    def loris() -> None:
        socks: list[Optional[socket.socket]] = [None] * slowloris
        while time.monotonic() < ends:
            for i in range(slowloris):
                s = socks[i]
                try:
                    if s is None:
                        s = socket.create_connection((LOOPBACK, port), timeout=1)
                        s.setblocking(False)
                        s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                        socks[i] = s
                        with lock:
                            figures["slowloris_opened"] += 1
                    else:
                        s.send(b"X-a: b\r\n")
                except OSError:
                    if s is not None:
                        s.close()
                        with lock:
                            figures["slowloris_closed_by_server"] += 1
                    socks[i] = None
            time.sleep(min(1.0, max(0.0, ends - time.monotonic())))
        for s in socks:
            if s is not None:
                s.close()

    threads = [threading.Thread(target=pipeline) for _ in range(pipeliners)] + [threading.Thread(target=loris)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return figures


def role_flood(port: int, connections: int, waves: int, hold: float) -> dict[str, Any]:
    """``waves`` times: open ``connections`` connections as fast as possible, hold them, close."""
    opened = refused = 0
    for _ in range(waves):
        socks = []
        for _ in range(connections):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((LOOPBACK, port))
            except BlockingIOError:
                pass
            except OSError:
                refused += 1
                s.close()
                continue
            socks.append(s)
            opened += 1
        time.sleep(hold)
        for s in socks:
            s.close()
    return {"opened": opened, "refused": refused}


def run_role(role: str, *args: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", role, *map(str, args)], stdout=subprocess.PIPE, text=True)


def collect(proc: subprocess.Popen, timeout: float) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    return json.loads(out)


def listen_backlog(port: int) -> Optional[int]:
    """The backlog of the listening socket (ss shows it as Send-Q)."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout.split()
    return int(out[2]) if len(out) > 2 and out[2].isdigit() else None


# ---------------------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------------------


def settle(pid: int, baseline: dict[str, float], seconds: float) -> tuple[dict[str, float], float]:
    """Sample until threads and fds are back to the baseline (or ``seconds`` pass)."""
    started = time.monotonic()
    best = sample(pid)
    while time.monotonic() - started < seconds:
        now = sample(pid)
        best = {k: min(best[k], now[k]) for k in now}
        if now["threads"] <= baseline["threads"] and now["fds"] <= baseline["fds"]:
            return now, time.monotonic() - started
        time.sleep(0.25)
    return best, time.monotonic() - started


def soak(seconds: float, phases: set[str]) -> dict[str, Any]:
    with Emulator() as emu, tempfile.TemporaryDirectory() as home:
        emu.give_task_role("soak-role")
        emu.update({"imds_enabled": False})
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "PYTHONPATH": REPO, "PROBE_SDK_ROOT": home,
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "x"), "AWS_CONFIG_FILE": os.path.join(home, "y"), **emu.task_env()}
        # The credentials answer, fetched once from the emulator on loopback, served by the trickler.
        import http.client
        from urllib.parse import urlsplit

        full = urlsplit(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
        c = http.client.HTTPConnection(full.hostname, full.port, timeout=5)
        c.request("GET", full.path)
        body = c.getresponse().read()
        c.close()
        trickler = Trickler(body)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{LOOPBACK}:{trickler.port}{full.path}"
        port = free_port()
        sidecar = subprocess.Popen([sys.executable, "-m", "probe", "watch", "--interval", "1", "--deadline", "3", "--listen", f"{LOOPBACK}:{port}"],
                                   env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        figures: dict[str, Any] = {"seconds": seconds}
        try:
            poll_ready(port)
            time.sleep(3)  # a few runs: imports done, caches warm
            figures["backlog"] = listen_backlog(port)
            baseline = [sample(sidecar.pid)]
            idle = collect(run_role("poll", port, 10, 20), 60)
            baseline.append(sample(sidecar.pid))
            start = {k: max(s[k] for s in baseline) for k in baseline[0]}
            figures["idle"] = idle
            figures["start"] = start

            if "soak" in phases:
                trickler.trickle.set()
                attack = run_role("attack", port, seconds, 4, 200)
                poller = run_role("poll", port, seconds, 20)
                samples = []
                began = time.monotonic()
                while time.monotonic() - began < seconds:
                    samples.append(sample(sidecar.pid))
                    time.sleep(1)
                figures["attack"] = collect(attack, seconds + 60)
                figures["soak"] = collect(poller, seconds + 60)
                trickler.trickle.clear()
                figures["during"] = {k: max(s[k] for s in samples) for k in samples[0]}
                end, took = settle(sidecar.pid, start, 30)
                figures["end"] = end
                figures["settled_after_s"] = took

            if "flood" in phases:
                flood = run_role("flood", port, 10000, 2, 3)
                poller = run_role("poll", port, 8, 50)
                figures["flood"] = collect(flood, 120)
                figures["flood_healthz"] = collect(poller, 60)
                figures["after_flood"], _ = settle(sidecar.pid, start, 30)
        finally:
            sidecar.terminate()
            try:
                sidecar.wait(timeout=20)
            except subprocess.TimeoutExpired:
                sidecar.kill()
                sidecar.wait()
            trickler.close()
        err = sidecar.stderr.read() if sidecar.stderr else ""
        figures["traceback"] = "Traceback" in err
    return figures


def poll_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the sidecar never became healthy")


def table(f: dict[str, Any]) -> str:
    s, idle = f["start"], f["idle"]

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def fails(p: dict[str, Any]) -> str:
        lost = p["sent"] - p["answered"]
        return f"{p['answered']}/{p['sent']} answered" + (f" ({lost} failed: {p['failures']})" if lost else "")

    out = [f"idle sidecar (listen backlog {f['backlog']}): RSS {s['rss_mb']:.1f} MB, {s['threads']:.0f} threads, {s['fds']:.0f} fds; "
           f"/healthz p50 {idle['p50_ms']:.2f} ms  p99 {idle['p99_ms']:.2f} ms, {fails(idle)}"]
    if "soak" in f:
        e, d, load, a = f["end"], f["during"], f["soak"], f["attack"]
        rss_ok = e["rss_mb"] - s["rss_mb"] <= 10
        back = e["threads"] <= s["threads"] and e["fds"] <= s["fds"]
        out += [
            f"soak {f['seconds']:.0f} s: pipelining {a['pipelined_mb']:.0f} MB of GET /report never read (closed by the sidecar {a['pipeline_closed_by_server']} times), "
            f"{a['slowloris_opened']} slowloris connections (closed {a['slowloris_closed_by_server']}), a trickling credentials endpoint",
            f"{'':24}{'idle':>14}{'under attack':>16}{'after':>12}",
            f"{'RSS MB':24}{s['rss_mb']:>14.1f}{d['rss_mb']:>16.1f}{e['rss_mb']:>12.1f}   (within 10 MB of start: {met(rss_ok)})",
            f"{'threads':24}{s['threads']:>14.0f}{d['threads']:>16.0f}{e['threads']:>12.0f}   (back to baseline: {met(back)}, after {f['settled_after_s']:.1f} s)",
            f"{'fds':24}{s['fds']:>14.0f}{d['fds']:>16.0f}{e['fds']:>12.0f}",
            f"{'/healthz p50 ms':24}{idle['p50_ms']:>14.2f}{load['p50_ms']:>16.2f}",
            f"{'/healthz p99 ms':24}{idle['p99_ms']:>14.2f}{load['p99_ms']:>16.2f}   (under 50 ms: {met(load['p99_ms'] < 50)})",
            f"{'/healthz max ms':24}{idle['max_ms']:>14.2f}{load['max_ms']:>16.2f}",
            f"{'/healthz answered':24}{idle['answered']:>10}/{idle['sent']:<3}{load['answered']:>12}/{load['sent']:<3}   statuses under attack {load['statuses']}",
        ]
    if "flood" in f:
        flood, after = f["flood_healthz"], f["after_flood"]
        out.append(f"connection flood (2 x 10,000 connections, {f['flood']['opened']} opened): /healthz p50 {flood['p50_ms']:.2f} ms  p99 {flood['p99_ms']:.2f} ms  "
                   f"max {flood['max_ms']:.1f} ms, {fails(flood)}; after it RSS {after['rss_mb']:.1f} MB, threads {after['threads']:.0f}, fds {after['fds']:.0f}")
    if f["traceback"]:
        out.append("the sidecar printed a traceback")
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the soak (default 60)")
    parser.add_argument("--phases", default="soak,flood", help="soak, flood or both (default soak,flood)")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        port, *rest = args.role_args
        fn = {"poll": role_poll, "attack": role_attack, "flood": role_flood}[args.role]
        conv = {"poll": (float, float), "attack": (float, int, int), "flood": (int, int, float)}[args.role]
        print(json.dumps(fn(int(port), *(c(v) for c, v in zip(conv, rest)))))
        return 0
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be from 1 to 600")
    started = time.monotonic()
    figures = soak(args.seconds, set(args.phases.split(",")))
    figures["wall_s"] = time.monotonic() - started
    return emit(figures, table(figures) + f"\n(whole benchmark {figures['wall_s']:.0f} s)", args.json)


if __name__ == "__main__":
    raise SystemExit(main())
