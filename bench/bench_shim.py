"""Start-up latency the shim adds: `shim -- /bin/true` against `/bin/true`, measured in one run.

For each implementation (the Python shim as its console script and as `python -m shim`,
the sh twin under /bin/sh and busybox sh, and tini when installed, the usual init) the
script runs the command N times and reports the median and p90 wall time and the added
milliseconds over exec'ing /bin/true directly. The shim writes two profiles per start
(like /etc/profile.d/ecs-credentials.sh and ~/.profile, with fsync), into a temporary
folder: never into this machine's /etc/profile.d.

Targets (issue 3): Python shim under 30 ms added, sh twin under 3 ms added.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

from _common import emit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUE = shutil.which("true") or "/bin/true"


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(argv, env=env, check=True)  # warm the page cache
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True)
        out.append((time.perf_counter() - started) * 1000)
    return out


def p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-shim-") as tmp:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "PYTHONPATH": REPO,
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/1f6b1a52-7a3e-4c1e-9b7a-5e2d1c3b4a69",
            "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/0123456789abcdef-1234567890",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
        }
        writes = ["--no-default-profiles", "--profile", os.path.join(tmp, "ecs-credentials.sh"), "--profile", os.path.join(tmp, ".profile")]
        cases: list[tuple[str, list[str], str]] = [("/bin/true (baseline)", [TRUE], "")]
        script = shutil.which("shim", path=os.path.dirname(sys.executable)) or shutil.which("shim")
        if script:
            cases.append(("shim (console script)", [script, *writes, "--", TRUE], "python"))
        cases.append(("python -m shim", [sys.executable, "-m", "shim", *writes, "--", TRUE], "python"))
        cases.append(("sh ecs-shim.sh (/bin/sh)", ["/bin/sh", os.path.join(REPO, "shim", "ecs-shim.sh"), *writes, "--", TRUE], "sh"))
        if shutil.which("busybox"):
            cases.append(("busybox sh ecs-shim.sh", ["busybox", "sh", os.path.join(REPO, "shim", "ecs-shim.sh"), *writes, "--", TRUE], "sh"))
        if shutil.which("tini"):
            cases.append(("tini -s -- /bin/true", ["tini", "-s", "--", TRUE], "init"))

        results = []
        for label, cmd, kind in cases:
            samples = timed(cmd, env, args.runs)
            results.append({"case": label, "kind": kind, "median_ms": statistics.median(samples), "p90_ms": p90(samples)})
    base = results[0]["median_ms"]
    targets = {"python": 30.0, "sh": 3.0}
    lines = [f"shim start-up latency ({args.runs} runs each, python {sys.version.split()[0]})", ""]
    for r in results:
        r["added_ms"] = r["median_ms"] - base
        r["ratio"] = r["median_ms"] / base if base else None
        target = targets.get(r["kind"])
        verdict = "" if target is None else f"  target < {target:g} ms added: {'met' if r['added_ms'] < target else 'MISSED'}"
        lines.append(
            f"{r['case']:<28} median {r['median_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms  "
            f"added {r['added_ms']:6.2f} ms  x{r['ratio']:.1f} of /bin/true{verdict}"
        )
    text = "\n".join(lines)
    return emit(results, text, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
