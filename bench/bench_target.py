"""Benchmark `probe --pid` (a sidecar judging the application) against a plain `probe` run.

Run inside the sandbox (a fresh network and PID namespace), from the repository root::

    ../shared/tools/sandbox -- python bench/bench_target.py [--runs 10] [--json]

A loopback emulator (``probe.emulator``) serves a task role through
AWS_CONTAINER_CREDENTIALS_FULL_URI, task metadata v4 and an STS stand-in. A "target"
process (``sleep``) runs with the task's variables; the probe runs once as itself
(``probe --json``, the variables in its own environment) and once judging the target
(``probe --json --pid T``, with none of them), alternately, N runs each after a warm-up.
Both scan the same folder for SDKs (PROBE_SDK_ROOT: the probe's own Python environment).
Each run is validated: verdict pass, the task role's ARN, and ``target.pid`` == T for the
``--pid`` runs. The extra cost of ``--pid`` is reading /proc/T and walking its root for the
files its variables name (issue 18 removed the botocore child interpreter: the chain is walked
as data in the probe's own process); the target is "--pid / plain <= 1.5".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

from _common import Busy, emit  # noqa: E402
from bench_task import clean_env  # noqa: E402
from probe.emulator import Emulator  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--busy", action="store_true", help="measure a second time beside stress-ng --cpu 2")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if os.getpid() != 1 and not os.environ.get("BENCH_OUTSIDE_SANDBOX"):
        print("run me inside ../shared/tools/sandbox -- (a PID and network namespace of my own)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-target-") as home:
        return _run(args, home)


def _run(args: argparse.Namespace, home: str) -> int:
    figures: dict[str, Any] = {"runs": args.runs}
    lines = [f"probe --pid against a plain probe run, median of {args.runs} runs each (one warm-up):"]
    for load in ("quiet", "busy") if args.busy else ("quiet",):
        if load == "busy":
            with Busy(2) as busy:
                plain, pid = _measure(args.runs, home, busy)
            lines.append(f"beside stress-ng --cpu 2 (restarted {busy.restarts} times):")
        else:
            plain, pid = _measure(args.runs, home, None)
        figures[load] = {"plain_ms": round(plain), "pid_ms": round(pid), "ratio": round(pid / plain, 2)}
        lines.append(f"  probe --json            {plain:7.0f} ms")
        lines.append(f"  probe --json --pid T    {pid:7.0f} ms   ratio {pid / plain:.2f} (target <= 1.5)")
    return emit(figures, "\n".join(lines), args.json)


def _measure(runs: int, home: str, busy: Optional[Busy]) -> tuple[float, float]:
    """Median wall milliseconds of a plain run and of a --pid run, alternated."""
    base = clean_env(home)
    with Emulator() as emu:
        emu.give_task_role("bench-task-role")
        emu.update({"imds_enabled": False})
        task = {**base, **emu.task_env()}
        for key, value in task.items():
            if "169.254." in value:
                raise SystemExit(f"refusing: {key} names a link-local address")
        target = subprocess.Popen(["sleep", "600"], env=task)
        try:
            plain_cmd = [sys.executable, "-m", "probe", "--json"]
            pid_cmd = [sys.executable, "-m", "probe", "--json", "--pid", str(target.pid)]
            bare = {k: v for k, v in base.items()}
            bare["ECS_CONTAINER_METADATA_URI_V4"] = task["ECS_CONTAINER_METADATA_URI_V4"]
            times: dict[str, list[float]] = {"plain": [], "pid": []}
            for i in range(runs + 1):
                if busy is not None:
                    busy.ensure()
                for name, cmd, env in (("plain", plain_cmd, task), ("pid", pid_cmd, bare)):
                    started = time.perf_counter()
                    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
                    wall = time.perf_counter() - started
                    rep = json.loads(proc.stdout)
                    arn = (rep.get("identity") or {}).get("arn") or ""
                    if rep["verdict"] != "pass" or "bench-task-role" not in arn:
                        raise SystemExit(f"{name}: unexpected verdict {rep['verdict']}: {rep['summary']}")
                    if name == "pid" and (rep.get("target") or {}).get("pid") != target.pid:
                        raise SystemExit(f"--pid run judged {rep.get('target')}, not pid {target.pid}")
                    if i:
                        times[name].append(wall)
        finally:
            target.kill()
            target.wait()
    return statistics.median(times["plain"]) * 1000, statistics.median(times["pid"]) * 1000


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
