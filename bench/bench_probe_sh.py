"""probe.sh against `python -m probe`: wall time of a healthy run in the same emulated task.

Both run inside one network namespace made here (tests/helpers.NetnsHost: the emulator on
169.254.170.2 and 169.254.169.254, moto's STS), each as the child of PID 1 of a fresh PID
namespace, with the task's environment. probe.sh runs in a chroot holding only busybox-static
(and dash + curl, or GNU wget, per variant): an image without Python. Needs root.
Never runs anything outside that namespace.

    python bench/bench_probe_sh.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, REPO)
os.environ.setdefault("PROBE_TEST_HOST_NETNS", os.readlink("/proc/self/ns/net"))
os.environ.setdefault("PROBE_TEST_GUARD_LOG", os.path.join(tempfile.gettempdir(), "bench-probe-sh-guard.log"))

from _common import emit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import pytest  # helpers use pytest.skip for missing prerequisites

    import test_probe_sh as t
    from helpers import NetnsHost, netns_available

    why = netns_available()
    if why:
        print(f"bench_probe_sh: {why}", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="bench-probe-sh-"))
    home = tempfile.mkdtemp(prefix="bench-probe-sh-home-")
    figures: dict[str, dict[str, float]] = {}
    try:
        try:
            roots = {v: t.build_root(base, v) for v in t.VARIANTS}
        except pytest.skip.Exception as exc:  # type: ignore[attr-defined]
            print(f"bench_probe_sh: {exc}", file=sys.stderr)
            return 2
        with NetnsHost() as host:
            env = host.task_env(home)
            samples: dict[str, list[float]] = {"python -m probe": []}
            samples.update({f"probe.sh ({v})": [] for v in t.VARIANTS})
            for _ in range(args.runs):
                run = t.run_py(host, env, "--json")
                assert run.rc == 0, run.stderr
                samples["python -m probe"].append(run.wall)
                for v in t.VARIANTS:
                    run = t.run_sh(host, roots[v], env, "--json")
                    assert run.rc == 0, run.stderr
                    samples[f"probe.sh ({v})"].append(run.wall)
        base_ms = statistics.median(samples["python -m probe"]) * 1000
        lines = [f"healthy run, {args.runs} runs each, wall time (median / p90), same namespace:"]
        for name, walls in samples.items():
            walls.sort()
            med = statistics.median(walls) * 1000
            p90 = walls[min(len(walls) - 1, int(len(walls) * 0.9))] * 1000
            figures[name] = {"median_ms": round(med, 1), "p90_ms": round(p90, 1), "speedup_vs_python": round(base_ms / med, 2)}
            lines.append(f"  {name:<28} {med:7.1f} ms  {p90:7.1f} ms   x{base_ms / med:.2f} vs python")
        return emit(figures, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
