"""Benchmark `probe task` against what a user would otherwise run, as ratios from one run.

Run from the repository root::

    python bench/bench_task.py [--runs 10] [--deadline 3] [--json]

What is measured, and why:

1. **Healthy run.** A loopback emulator (``probe.emulator``) serves a task role through
   AWS_CONTAINER_CREDENTIALS_FULL_URI, task metadata v4 and an STS stand-in; IMDS answers 404.
   The script times ``python -m probe task --json`` and ``aws sts get-caller-identity`` (the
   AWS CLI v1, the usual "who am I?" check) alternately, N runs each after one warm-up run,
   both from the same clean environment, so both fetch the same credentials from the same
   endpoint and ask the same STS. A diagnosis that is slower than the one-liner it replaces
   does not get run, so the target is probe/cli <= 0.8 (median wall time; issue 24), with the
   machine quiet and, with ``--busy``, again under ``stress-ng --cpu 2``. Each run is
   validated: the probe's verdict must be "pass" with the task role's ARN, the CLI must exit
   0 with the same ARN, and the emulator's counters must show that both really asked its
   credentials endpoint and its STS.
2. **Blackholed endpoints.** Every endpoint (credentials, task metadata, IMDS, STS) is a
   loopback TCP port that accepts connections and never answers, which is what a
   misconfigured firewall or a broken agent looks like from inside the task. The probe must
   still finish within ``--deadline D`` (+0.5 s for interpreter start and exit). For
   comparison, botocore's own default chain (``get_session().get_credentials()``) in the same
   environment: it waits 2 s x 3 attempts plus sleeps on the container endpoint (about 9 s),
   which is what an application sees at start-up.
3. **Import cost.** ``python -c "import probe.cli"`` against ``python -c pass`` (wall time,
   medians) and the summed ``-X importtime`` figures, plus a check that importing the
   command line pulls in none of the heavy dependencies (botocore, boto3, requests, psutil):
   they are imported only by the collectors that need them, so ``probe --help``, ``probe
   health`` and friends stay fast in a container health check.

Network safety: every child starts from an empty environment (never ``os.environ``), with HOME
in a temporary folder, the AWS config and credentials files pointing at files that do not
exist, and every AWS endpoint on 127.0.0.1 (or IMDS disabled). ``_assert_safe`` refuses to
start a child whose environment could reach a link-local address.

Exit status: 0 when the benchmark ran (targets are reported as met or missed), 1 when a run
was not what the benchmark expects (aborted with a message) or the heavy-import check failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple
from urllib.parse import urlsplit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from probe.emulator import Emulator  # noqa: E402  (needs the sys.path line above)

sys.path.insert(0, os.path.join(REPO, "bench"))
from _common import Busy  # noqa: E402

# The probe must cost at most 0.8x the one-liner it replaces, quiet or busy (issue 24).
TARGET_RATIO = 0.8

HEAVY = ("botocore", "boto3", "requests", "psutil")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
URL_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL",
)
BOTOCORE_CHAIN = "import botocore.session; s=botocore.session.get_session(); print(s.get_credentials())"
BOTOCORE_TIMEOUT = 60.0


class BenchError(Exception):
    """A run did not behave as the benchmark needs; the figures would mean nothing."""


# ---- environment ---------------------------------------------------------------------------


def clean_env(home: str) -> Dict[str, str]:
    """An environment built from nothing, as `probe demo` builds it (see probe/demo.py)."""
    return {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": REPO,
        "NO_COLOR": "1",
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
        "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
        # The SDK scan looks at the Python environment the probe runs from (as `probe demo`
        # does): an image-sized tree, not this whole machine.
        "PROBE_SDK_ROOT": _botocore_site(),
    }


def _botocore_site() -> str:
    from probe.demo import _botocore_site as site

    return site()


def _is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host in LOOPBACK


def _assert_safe(env: Dict[str, str]) -> None:
    """Refuse any child environment that could reach 169.254.0.0/16 (the real metadata hosts)."""
    problems = []
    for key, value in env.items():
        if "169.254." in value or "fd00:ec2" in value.lower():
            problems.append(f"{key} names a link-local address")
    if "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in env:
        problems.append("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI always means 169.254.170.2")
    for key in URL_VARIABLES:
        if key in env and not _is_loopback_url(env[key]):
            problems.append(f"{key} is not on loopback")
    imds_off = env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
    if not imds_off and not _is_loopback_url(env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "")):
        problems.append("IMDS is neither disabled nor pointed at loopback")
    if problems:
        raise BenchError("refusing to start a child process: " + "; ".join(problems))


def run_child(cmd: Sequence[str], env: Dict[str, str], cwd: str, timeout: float) -> Tuple[float, subprocess.CompletedProcess]:
    """Run one child from ``env`` only; return (wall seconds, process)."""
    _assert_safe(env)
    started = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, proc


# ---- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 1]."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: Sequence[float]) -> Dict[str, Any]:
    return {
        "runs": len(values),
        "median_s": round(statistics.median(values), 4),
        "p90_s": round(percentile(values, 0.9), 4),
        "min_s": round(min(values), 4),
        "max_s": round(max(values), 4),
    }


def _tail(text: str, limit: int = 600) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---- 1. healthy run ------------------------------------------------------------------------


def find_aws(explicit: Optional[str]) -> str:
    """The AWS CLI script itself, not a version-manager shim in front of it.

    A pyenv shim (a bash script running `pyenv exec`) would add its own start-up to the
    CLI's figures, so the scripts folder of this interpreter is searched first.
    """
    if explicit:
        found = shutil.which(explicit)
    else:
        search = os.pathsep.join(p for p in (sysconfig.get_path("scripts"), os.environ.get("PATH", "")) if p)
        found = shutil.which("aws", path=search)
    if not found:
        raise BenchError("the AWS CLI (`aws`) was not found; install it with `pip install awscli`")
    if os.sep + "shims" + os.sep in found and shutil.which("pyenv"):
        # A pyenv shim found on PATH: time the script it runs, not bash and `pyenv exec` too.
        real = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True, timeout=30).stdout.strip()
        if real and os.path.isfile(real):
            found = real
    return found


def _counters(emu: Emulator) -> Dict[str, int]:
    with emu.lock:
        return dict(emu.state.requests)


def _asked(before: Dict[str, int], after: Dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


def bench_healthy(runs: int, warmup: int, aws: str, busy: Optional[Busy] = None) -> Dict[str, Any]:
    probe_times: List[float] = []
    cli_times: List[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-task-") as home, Emulator() as emu:
        ident = emu.give_task_role("bench-task-role")
        emu.update({"imds_enabled": False})
        env = clean_env(home)
        env.update(emu.task_env())
        probe_cmd = [sys.executable, "-m", "probe", "task", "--json"]
        cli_cmd = [aws, "sts", "get-caller-identity", "--output", "json"]

        def one_probe(i: str) -> float:
            before = _counters(emu)
            wall, proc = run_child(probe_cmd, env, home, timeout=60)
            after = _counters(emu)
            try:
                doc = json.loads(proc.stdout)
            except ValueError:
                raise BenchError(
                    f"probe run {i}: no JSON report on stdout (exit {proc.returncode}); stderr: {_tail(proc.stderr)}"
                ) from None
            if doc.get("verdict") != "pass":
                failing = [f"{c.get('id')}={c.get('status')}" for c in doc.get("checks", []) if c.get("status") != "pass"]
                raise BenchError(
                    f"probe run {i}: verdict {doc.get('verdict')!r}, expected 'pass' ({doc.get('summary')}; {', '.join(failing)})"
                )
            arn = (doc.get("identity") or {}).get("arn")
            if arn != ident.arn:
                raise BenchError(f"probe run {i}: identity {arn!r}, expected the task role {ident.arn!r}")
            if _asked(before, after, "credentials") < 1 or _asked(before, after, "sts") < 1:
                raise BenchError(f"probe run {i}: did not ask the emulator's credentials endpoint and STS ({before} -> {after})")
            return wall

        def one_cli(i: str) -> float:
            before = _counters(emu)
            wall, proc = run_child(cli_cmd, env, home, timeout=60)
            after = _counters(emu)
            if proc.returncode != 0:
                raise BenchError(f"aws run {i}: exit {proc.returncode}; stderr: {_tail(proc.stderr)}")
            try:
                arn = json.loads(proc.stdout).get("Arn")
            except ValueError:
                raise BenchError(f"aws run {i}: output is not JSON: {_tail(proc.stdout)}") from None
            if arn != ident.arn:
                raise BenchError(f"aws run {i}: identity {arn!r}, expected the task role {ident.arn!r}")
            if _asked(before, after, "credentials") < 1 or _asked(before, after, "sts") < 1:
                raise BenchError(f"aws run {i}: did not ask the emulator's credentials endpoint and STS ({before} -> {after})")
            return wall

        for i in range(warmup):  # page cache, __pycache__: not what a user's second run pays
            one_probe(f"(warm-up {i + 1})")
            one_cli(f"(warm-up {i + 1})")
        for i in range(runs):  # alternate, so drift on the machine hits both alike
            if busy is not None:
                busy.ensure()
            probe_times.append(one_probe(str(i + 1)))
            cli_times.append(one_cli(str(i + 1)))
    probe_s = summary(probe_times)
    cli_s = summary(cli_times)
    ratio = probe_s["median_s"] / cli_s["median_s"]
    return {
        "probe": {**probe_s, "command": "python -m probe task --json"},
        "cli": {**cli_s, "command": "aws sts get-caller-identity", "path": aws, "version": _aws_version(aws)},
        "ratio_median": round(ratio, 3),
        "ratio_p90": round(probe_s["p90_s"] / cli_s["p90_s"], 3),
        "target": f"ratio_median <= {TARGET_RATIO}",
        "met": ratio <= TARGET_RATIO,
    }


def _aws_version(aws: str) -> Optional[str]:
    with tempfile.TemporaryDirectory(prefix="bench-task-") as home:
        env = clean_env(home)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        try:
            _, proc = run_child([aws, "--version"], env, home, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return ((proc.stdout or proc.stderr).strip().split() or [None])[0]


# ---- 2. blackholed endpoints ---------------------------------------------------------------


class Blackhole:
    """A loopback TCP port that accepts every connection and never answers a byte.

    Accepting (rather than leaving connections in the listen backlog) makes every client see
    the same thing however many connections it opens: connected, request sent, no reply.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.held: List[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"blackhole-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.held.append(conn)  # keep it open, never read, never write
            self.accepted += 1

    def __enter__(self) -> "Blackhole":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(1)
        for conn in self.held:
            conn.close()
        self.sock.close()


def bench_blackhole(deadline: float) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-task-") as home, Blackhole() as agent, Blackhole() as imds, Blackhole() as sts:
        env = clean_env(home)
        env.update(
            {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{agent.url}/v2/credentials/{secrets.token_hex(16)}",
                "ECS_CONTAINER_METADATA_URI_V4": f"{agent.url}/v4/{secrets.token_hex(16)}",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url + "/",
                "AWS_ENDPOINT_URL_STS": sts.url,
                "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        holes = (("agent", agent), ("imds", imds), ("sts", sts))

        def accepted() -> Dict[str, int]:
            return {name: hole.accepted for name, hole in holes}

        probe_cmd = [sys.executable, "-m", "probe", "task", "--json", "--deadline", f"{deadline:g}"]
        try:
            probe_wall, proc = run_child(probe_cmd, env, home, timeout=deadline + 30)
        except subprocess.TimeoutExpired:
            raise BenchError(f"probe with --deadline {deadline:g} still ran after {deadline + 30:g} s against blackholed endpoints") from None
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            raise BenchError(
                f"probe against blackholed endpoints: no JSON report (exit {proc.returncode}); stderr: {_tail(proc.stderr)}"
            ) from None
        time.sleep(0.2)  # let the accept threads take what is still in the backlog
        probe_conns = accepted()
        if probe_conns["agent"] < 1:
            raise BenchError("probe against blackholed endpoints never connected to the credentials blackhole; the figure would mean nothing")

        before = accepted()
        timed_out = False
        try:
            boto_wall, bproc = run_child([sys.executable, "-c", BOTOCORE_CHAIN], env, home, timeout=BOTOCORE_TIMEOUT)
            boto_rc: Optional[int] = bproc.returncode
            last = (bproc.stderr.strip().splitlines() or [bproc.stdout.strip()])[-1]
        except subprocess.TimeoutExpired:
            boto_wall, boto_rc, last, timed_out = BOTOCORE_TIMEOUT, None, f"killed after {BOTOCORE_TIMEOUT:g} s", True
        time.sleep(0.2)
        after = accepted()
    limit = deadline + 0.5
    return {
        "deadline_s": deadline,
        "probe": {
            "command": " ".join(["python"] + probe_cmd[1:]),
            "wall_s": round(probe_wall, 4),
            "reported_duration_ms": doc.get("duration_ms"),
            "exit_code": proc.returncode,
            "verdict": doc.get("verdict"),
            "summary": doc.get("summary"),
            "connections": probe_conns,
            "limit_s": limit,
            "target": f"wall_s <= deadline + 0.5 = {limit:g}",
            "met": probe_wall <= limit,
        },
        "botocore": {
            "command": f'python -c "{BOTOCORE_CHAIN}"',
            "wall_s": round(boto_wall, 4),
            "exit_code": boto_rc,
            "timed_out": timed_out,
            "outcome": last if len(last) <= 200 else last[:197] + "...",
            "connections": {k: after[k] - before[k] for k in after},
        },
        "ratio": round(probe_wall / boto_wall, 3),
    }


# ---- 3. import cost ------------------------------------------------------------------------


def _importtime(stderr: str) -> Tuple[int, int]:
    """(sum of 'self' over every import, cumulative of the top-level probe* imports), in us."""
    total = 0
    probe_cum = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        total += int(fields[0])
        name = fields[2]
        if name.lstrip() == name[1:] and name.strip().split(".")[0] == "probe":  # top level: one space only
            probe_cum += int(fields[1])
    return total, probe_cum


def bench_import(runs: int) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-task-") as home:
        env = clean_env(home)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        py = sys.executable
        plain = [py, "-c", "pass"]
        importing = [py, "-c", "import probe.cli"]
        for cmd in (plain, importing):  # warm-up (writes __pycache__ if missing)
            run_child(cmd, env, home, timeout=60)
        pass_times: List[float] = []
        import_times: List[float] = []
        pass_it: List[int] = []
        import_it: List[int] = []
        probe_cum: List[int] = []
        for _ in range(runs):
            wall, proc = run_child(plain, env, home, timeout=60)
            if proc.returncode != 0:
                raise BenchError(f"`python -c pass` failed: {_tail(proc.stderr)}")
            pass_times.append(wall)
            wall, proc = run_child(importing, env, home, timeout=60)
            if proc.returncode != 0:
                raise BenchError(f"`python -c 'import probe.cli'` failed: {_tail(proc.stderr)}")
            import_times.append(wall)
            _, proc = run_child([py, "-X", "importtime", "-c", "pass"], env, home, timeout=60)
            pass_it.append(_importtime(proc.stderr)[0])
            _, proc = run_child([py, "-X", "importtime", "-c", "import probe.cli"], env, home, timeout=60)
            total, cum = _importtime(proc.stderr)
            import_it.append(total)
            probe_cum.append(cum)

        check = (
            "import json, sys\n"
            "before = set(sys.modules)\n"
            "import probe.cli\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
            "print(json.dumps({'heavy': heavy, 'added': len(set(sys.modules) - before)}))\n"
        )
        _, proc = run_child([py, "-c", check], env, home, timeout=60)
        try:
            modules = json.loads(proc.stdout)
        except ValueError:
            raise BenchError(f"the sys.modules check did not run: {_tail(proc.stderr)}") from None
    wall_added = (statistics.median(import_times) - statistics.median(pass_times)) * 1000
    it_added = (statistics.median(import_it) - statistics.median(pass_it)) / 1000
    return {
        "runs": runs,
        "python_pass_median_ms": round(statistics.median(pass_times) * 1000, 1),
        "import_probe_cli_median_ms": round(statistics.median(import_times) * 1000, 1),
        "wall_added_ms": round(wall_added, 1),
        "importtime_pass_total_ms": round(statistics.median(pass_it) / 1000, 1),
        "importtime_probe_cli_total_ms": round(statistics.median(import_it) / 1000, 1),
        "importtime_added_ms": round(it_added, 1),
        "importtime_probe_cumulative_ms": round(statistics.median(probe_cum) / 1000, 1),
        "modules_added": modules.get("added"),
        "heavy_checked": list(HEAVY),
        "heavy_imported": modules.get("heavy", []),
        "heavy_ok": not modules.get("heavy"),
    }


# ---- output --------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render_table(figures: Dict[str, Any]) -> str:
    lines = [f"ecs-credential-probe benchmark  (python {figures['python']}, {figures['platform']})", ""]
    for key, label in (("healthy", "healthy run"), ("healthy_busy", "healthy, busy")):
        h = figures.get(key)
        if not h:
            continue
        p, c = h["probe"], h["cli"]
        lines.append(
            f"{label} ({p['runs']} runs){' ' * (13 - len(label))}probe  median {p['median_s']:.2f} s  p90 {p['p90_s']:.2f} s"
            f" | aws sts get-caller-identity  median {c['median_s']:.2f} s  p90 {c['p90_s']:.2f} s"
            f" | ratio {h['ratio_median']:.2f} (p90 {h['ratio_p90']:.2f}; target <= {TARGET_RATIO}: {_mark(h['met'])})"
        )
        if key == "healthy_busy":
            lines.append(f"    under stress-ng --cpu {h['busy_cpus']} (restarted {h['busy_restarts']} times)")
        else:
            lines.append(f"    cli: {c['path']} ({c.get('version') or 'version unknown'})")
    b = figures.get("blackhole")
    if b:
        p, bc = b["probe"], b["botocore"]
        boto = f"{bc['wall_s']:.2f} s" + (" (killed: timed out)" if bc["timed_out"] else f" (exit {bc['exit_code']})")
        lines.append(
            f"blackholed endpoints        probe --deadline {b['deadline_s']:g}  {p['wall_s']:.2f} s"
            f" (target <= {p['limit_s']:g} s: {_mark(p['met'])}; verdict {p['verdict']}, exit {p['exit_code']})"
            f" | botocore default chain  {boto} | ratio {b['ratio']:.2f}"
        )
        lines.append(f"    probe: {p['summary']}")
        lines.append(f"    botocore: {bc['outcome']}")
        lines.append(f"    connections to the blackholes  probe {p['connections']}  botocore {bc['connections']}")
    i = figures.get("import")
    if i:
        lines.append(
            f"import cost ({i['runs']} runs)     import probe.cli  median {i['import_probe_cli_median_ms']:.0f} ms"
            f" | python -c pass  median {i['python_pass_median_ms']:.0f} ms | added {i['wall_added_ms']:.0f} ms wall"
        )
        lines.append(
            f"    -X importtime total  {i['importtime_probe_cli_total_ms']:.1f} ms vs {i['importtime_pass_total_ms']:.1f} ms"
            f" | added {i['importtime_added_ms']:.1f} ms (probe* cumulative {i['importtime_probe_cumulative_ms']:.1f} ms,"
            f" {i['modules_added']} modules)"
        )
        heavy = ", ".join(i["heavy_imported"]) or "none"
        lines.append(
            f"    heavy modules imported by `import probe.cli`: {heavy}"
            f" (checked {', '.join(i['heavy_checked'])}): {'ok' if i['heavy_ok'] else 'FAIL'}"
        )
    lines.append("")
    lines.append(f"total bench time {figures['bench_seconds']:.1f} s")
    return "\n".join(lines) + "\n"


def _say(msg: str, stream: TextIO) -> None:
    stream.write(msg + "\n")
    stream.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/bench_task.py",
        description="Time `probe task` against `aws sts get-caller-identity`, botocore's chain and `python -c pass`.",
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per command before the healthy runs (default 1)")
    parser.add_argument("--deadline", type=float, default=3.0, help="--deadline for the blackholed probe run (default 3)")
    parser.add_argument("--aws", metavar="PATH", help="the AWS CLI to compare with (default: `aws` next to this Python, else on PATH)")
    parser.add_argument("--only", metavar="PART[,PART]", default="healthy,blackhole,import", help="healthy, blackhole, import (default all)")
    parser.add_argument("--busy", action="store_true", help="run the healthy part a second time beside stress-ng --cpu 2")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout (the table then goes to stderr)")
    args = parser.parse_args(argv)
    if args.busy and shutil.which("stress-ng") is None:
        parser.error("--busy needs stress-ng (apt-get install stress-ng)")
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    if not 0 < args.deadline <= 600:
        parser.error("--deadline must be between 0 and 600 seconds")
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"healthy", "blackhole", "import"}
    if unknown:
        parser.error(f"--only: unknown part {', '.join(sorted(unknown))}")

    table_out = sys.stderr if args.json else sys.stdout
    started = time.perf_counter()
    figures: Dict[str, Any] = {
        "schema": "ecs-credential-probe/bench-task/v1",
        "python": sys.version.split()[0],
        "platform": sys.platform,
    }
    try:
        if "healthy" in parts:
            aws = find_aws(args.aws)
            _say(f"[1/3] healthy run: {args.runs} x probe and {args.runs} x aws, alternating ...", sys.stderr)
            figures["healthy"] = bench_healthy(args.runs, args.warmup, aws)
            if args.busy:
                _say("[1/3] the same, beside stress-ng --cpu 2 ...", sys.stderr)
                with Busy(2) as busy:
                    figures["healthy_busy"] = bench_healthy(args.runs, args.warmup, aws, busy)
                figures["healthy_busy"].update(busy_cpus=busy.cpus, busy_restarts=busy.restarts)
        if "blackhole" in parts:
            _say(f"[2/3] blackholed endpoints: probe --deadline {args.deadline:g}, then botocore's chain (about 9 s) ...", sys.stderr)
            figures["blackhole"] = bench_blackhole(args.deadline)
        if "import" in parts:
            _say(f"[3/3] import cost: {args.runs} runs each ...", sys.stderr)
            figures["import"] = bench_import(args.runs)
    except BenchError as exc:
        _say(f"bench_task: aborted: {exc}", sys.stderr)
        return 1
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    table_out.write(render_table(figures))
    table_out.flush()
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    return 0 if figures.get("import", {}).get("heavy_ok", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
