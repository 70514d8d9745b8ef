"""probe.sh against `python -m probe`: wall time of a healthy run in the same emulated task.

Both run inside one network namespace made here (tests/helpers.NetnsHost: the emulator on
169.254.170.2 and 169.254.169.254, moto's STS), each as the child of PID 1 of a fresh PID
namespace, with the task's environment. probe.sh runs in a chroot holding only busybox-static
(and dash + curl, or GNU wget, per variant): an image without Python. Needs root.
Never runs anything outside that namespace.

The runs are interleaved (python, then each variant, then again), so a machine that gets
busier during the run slows every column alike and the ratios stay comparable. With
`--baseline REV` the probe.sh of that git revision runs too, in the same rounds: before and
after side by side. `--forks` also counts the processes each variant starts (strace -f).

    python bench/bench_probe_sh.py [--runs N] [--baseline REV] [--forks] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, REPO)
os.environ.setdefault("PROBE_TEST_HOST_NETNS", os.readlink("/proc/self/ns/net"))
os.environ.setdefault("PROBE_TEST_GUARD_LOG", os.path.join(tempfile.gettempdir(), "bench-probe-sh-guard.log"))

from _common import emit  # noqa: E402


def script_at(rev: str, dest: Path) -> Path:
    """probe/probe.sh as it was at a git revision."""
    text = subprocess.run(["git", "-C", REPO, "show", f"{rev}:probe/probe.sh"], capture_output=True, text=True, check=True).stdout
    dest.write_text(text)
    return dest


def count_forks(t, host, root: Path, env: dict[str, str]) -> Optional[int]:  # type: ignore[no-untyped-def]
    """Processes (fork/clone) one healthy run of probe.sh starts, by strace -f from outside."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    inner = dict(env)
    for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PROBE_SDK_ROOT", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        inner.pop(name, None)
    inner.update(PATH="/usr/bin:/bin", HOME="/root")
    mount, chroot = shutil.which("mount") or "mount", shutil.which("chroot") or "chroot"
    enter = f'{mount} -t proc proc "$0/proc" && exec {chroot} "$0" /bin/sh -c \'' + t.PID1 + "' pid1 /bin/sh /probe.sh \"$@\""
    with tempfile.NamedTemporaryFile(prefix="bench-probe-sh-strace-", suffix=".txt") as log:
        subprocess.run(
            ["ip", "netns", "exec", host.name, strace, "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o", log.name,
             "unshare", "--pid", "--fork", "--mount", "--propagation", "private", "sh", "-c", enter, str(root), "--json"],
            env=inner, capture_output=True, timeout=60,
        )
        lines = Path(log.name).read_text().splitlines()
    # Each line is one call of the traced process; a successful one returns a pid.
    return sum(1 for ln in lines if " = " in ln and not ln.rstrip().endswith("?") and "= -1" not in ln)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--baseline", metavar="REV", help="also time probe/probe.sh as it was at this git revision")
    ap.add_argument("--forks", action="store_true", help="count the processes one run of each probe.sh starts (strace)")
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
        scripts = {"": t.PROBE_SH}
        if args.baseline:
            scripts[f" @{args.baseline}"] = str(script_at(args.baseline, base / "baseline-probe.sh"))
        roots: dict[str, Path] = {}
        try:
            for label, script in scripts.items():
                t.PROBE_SH = script
                for v in t.VARIANTS:
                    roots[f"probe.sh{label} ({v})"] = t.build_root(base / (label.strip(" @") or "current"), v)
        except pytest.skip.Exception as exc:  # type: ignore[attr-defined]
            print(f"bench_probe_sh: {exc}", file=sys.stderr)
            return 2
        forks: dict[str, Optional[int]] = {}
        with NetnsHost() as host:
            env = host.task_env(home)
            samples: dict[str, list[float]] = {"python -m probe": []}
            samples.update({name: [] for name in roots})
            for _ in range(args.runs):
                run = t.run_py(host, env, "--json")
                assert run.rc == 0, run.stderr
                samples["python -m probe"].append(run.wall)
                for name, root in roots.items():
                    run = t.run_sh(host, root, env, "--json")
                    assert run.rc == 0, (name, run.stdout, run.stderr)
                    samples[name].append(run.wall)
            if args.forks:
                forks = {name: count_forks(t, host, root, env) for name, root in roots.items()}
        base_ms = statistics.median(samples["python -m probe"]) * 1000
        lines = [f"healthy run, {args.runs} runs each, interleaved, wall time (median / p90), same namespace:"]
        for name, walls in samples.items():
            walls.sort()
            med = statistics.median(walls) * 1000
            p90 = walls[min(len(walls) - 1, int(len(walls) * 0.9))] * 1000
            figures[name] = {"median_ms": round(med, 1), "p90_ms": round(p90, 1), "speedup_vs_python": round(base_ms / med, 2)}
            extra = ""
            if forks.get(name) is not None:
                figures[name]["forks"] = forks[name]  # type: ignore[assignment]
                extra = f"   {forks[name]} forks"
            lines.append(f"  {name:<40} {med:7.1f} ms  {p90:7.1f} ms   x{base_ms / med:.2f} vs python{extra}")
        return emit(figures, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
