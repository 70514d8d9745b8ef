"""Start-up latency the shim adds: `shim -- /bin/true` against `/bin/true`, measured in one run.

Cases: the Python shim as its console script and as `python -m shim`, both from a copy laid out
as `pip install` lays it out (a fresh venv of this interpreter, the package compiled, the
console script written from pip's template: a development install's import hooks would be
measured otherwise), the sh twin under /bin/sh, dash and busybox sh, and tini when installed
(the usual init). Two scenarios:

- first start: every profile must be written (before each run the whole file is removed and
  ~/.profile gets back its content without the block), as in a new container;
- restart: nothing changed since the last start, as when a container or task is restarted.

Every case runs in a temporary folder (`python -m` would import a checkout in the current
folder before the installed copy). Rounds are interleaved (each round runs every case once, in turn), so a machine whose speed
drifts moves every case alike. Reported: median and p90 wall time, the milliseconds added
over /bin/true's median, and the ratio to it.

Load: the figures are measured quiet, and with --busy a second time under load
(`stress-ng --cpu 2` started beside the bench and stopped after it), as on a host where other
tasks start at the same moment. --source may be given more than once (a before/after
comparison: every copy's cases interleaved in the same rounds, labelled with the folder's name).

Which files: with --isolate (root; util-linux unshare) the script runs itself as PID 1 of a
private mount and PID namespace whose /etc/profile.d is a scratch tmpfs, and measures the
shim's defaults: /etc/profile.d/ecs-credentials.sh (written whole) and ~/.profile (a block),
HOME a temporary folder. Without it, two --profile files in a temporary folder (both written
as blocks): never this machine's /etc/profile.d.

    sudo python bench/bench_shim.py --isolate [--busy] [--runs 200] [--source DIR ...] [--json]

Targets (issues 13, 24): Python shim at most 30 ms added, sh twin at most 4 ms added.
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
from typing import Callable, Optional

from _common import Busy, emit, install_copy  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUE = shutil.which("true") or "/bin/true"
USER_PROFILE = "# ~/.profile: executed by the command interpreter for login shells.\nmesg n 2> /dev/null || true\n"
TARGETS = {"python": 30.0, "sh": 4.0}


def isolated() -> bool:
    """Whether /etc/profile.d here is a scratch folder (--isolate, or a namespace like it)."""
    return os.getpid() == 1 and os.path.ismount("/etc/profile.d")


def p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def shell_cases() -> list[tuple[str, list[str]]]:
    """The shells to run the twin with: /bin/sh (named after what it is), dash, busybox sh."""
    shells = []
    sh_real = os.path.realpath("/bin/sh")
    dash = shutil.which("dash")
    if dash and os.path.realpath(dash) == sh_real:
        shells.append(("dash = /bin/sh", ["dash"]))
    else:
        shells.append(("/bin/sh", ["/bin/sh"]))
        if dash:
            shells.append(("dash", ["dash"]))
    if shutil.which("busybox"):
        shells.append(("busybox sh", ["busybox", "sh"]))
    return shells


def measure(cases: list[tuple[str, list[str], str]], runs: int, env: dict[str, str], cwd: str, first_start: Callable[[], None], load: Optional[Busy] = None) -> list[dict]:
    """Median and p90 of every case in both scenarios, rounds interleaved (``load`` kept up
    before every round)."""
    results = []
    for scenario, reset in (("first start", first_start), ("restart", None)):
        samples: dict[str, list[float]] = {label: [] for label, _, _ in cases}
        first_start()
        for label, cmd, _ in cases:  # warm the page cache; leave the files as a start leaves them
            subprocess.run(cmd, env=env, check=True, cwd=cwd)
        for i in range(runs):
            if load is not None:
                load.ensure()
            shift = i % len(cases)
            for label, cmd, _ in cases[shift:] + cases[:shift]:
                if reset is not None:
                    reset()
                started = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, cwd=cwd)
                samples[label].append((time.perf_counter() - started) * 1000)
        for label, _, kind in cases:
            results.append({"scenario": scenario, "case": label, "kind": kind, "median_ms": statistics.median(samples[label]), "p90_ms": p90(samples[label])})
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of each case in each scenario")
    parser.add_argument("--source", action="append", default=None, metavar="DIR", help="a folder holding the shim package to measure (default: this checkout); repeat to compare copies in the same rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--isolate", action="store_true", help="run in a private mount and PID namespace with a scratch /etc/profile.d (root)")
    parser.add_argument("--busy", action="store_true", help="measure a second time under load: stress-ng --cpu BUSY_CPUS beside the bench")
    parser.add_argument("--busy-cpus", type=int, default=2, metavar="N", help="stress-ng workers for --busy (default 2)")
    args = parser.parse_args(argv)
    if args.isolate and not isolated():
        script = 'mount -t tmpfs -o mode=0755 bench-shim /etc/profile.d && exec "$@"'
        inner = [sys.executable, os.path.abspath(__file__), *(argv if argv is not None else sys.argv[1:])]
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "bench-shim", *inner]).returncode
    if args.busy and shutil.which("stress-ng") is None:
        parser.error("--busy needs stress-ng (apt-get install stress-ng)")
    sources = [os.path.abspath(s) for s in (args.source or [REPO])]
    tags = [""] if len(sources) == 1 else [f" [{os.path.basename(s.rstrip('/')) or s}]" for s in sources]
    if len(set(tags)) != len(tags):
        tags = [f" [{n}]" for n in range(1, len(sources) + 1)]

    with tempfile.TemporaryDirectory(prefix="bench-shim-") as tmp:
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/1f6b1a52-7a3e-4c1e-9b7a-5e2d1c3b4a69",
            "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/0123456789abcdef-1234567890",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
        }
        if isolated():
            layout = "defaults: /etc/profile.d/ecs-credentials.sh (whole) and ~/.profile (block)"
            writes: list[str] = []
            whole: Optional[str] = "/etc/profile.d/ecs-credentials.sh"
            blocks = [os.path.join(home, ".profile")]
        else:
            layout = "two --profile files in a temporary folder (--isolate measures the defaults)"
            blocks = [os.path.join(tmp, "ecs-credentials.sh"), os.path.join(home, ".profile")]
            writes = ["--no-default-profiles", *(x for b in blocks for x in ("--profile", b))]
            whole = None

        def first_start() -> None:
            if whole and os.path.lexists(whole):
                os.unlink(whole)
            for path in blocks:
                with open(path, "w") as fh:
                    fh.write(USER_PROFILE)

        cases: list[tuple[str, list[str], str]] = [("/bin/true (baseline)", [TRUE], "")]
        for n, (source, tag) in enumerate(zip(sources, tags)):
            venv = os.path.join(tmp, f"venv{n}")
            python = install_copy(source, venv)
            cases.append((f"shim (console script){tag}", [os.path.join(venv, "bin", "shim"), *writes, "--", TRUE], "python"))
            cases.append((f"python -m shim{tag}", [python, "-m", "shim", *writes, "--", TRUE], "python"))
            twin = os.path.join(source, "shim", "ecs-shim.sh")
            for label, shell in shell_cases():
                cases.append((f"ecs-shim.sh ({label}){tag}", [*shell, twin, *writes, "--", TRUE], "sh"))
        if shutil.which("tini"):
            cases.append(("tini -s -- /bin/true", ["tini", "-s", "--", TRUE], "init"))

        results = []
        restarts = 0
        for load in ("quiet", "busy") if args.busy else ("quiet",):
            if load == "busy":
                stress = Busy(args.busy_cpus)
                try:
                    figures = measure(cases, args.runs, env, tmp, first_start, stress)
                finally:
                    stress.stop()
                restarts = stress.restarts
            else:
                figures = measure(cases, args.runs, env, tmp, first_start)
            for r in figures:
                r["load"] = load
            results += figures

    where = ", ".join(s if s != REPO else "this checkout" for s in sources)
    lines = [f"shim start-up latency ({args.runs} interleaved runs of each, python {sys.version.split()[0]}, {where})", f"files: {layout}"]
    width = max(len(label) for label, _, _ in cases)
    for load in ("quiet", "busy") if args.busy else ("quiet",):
        for scenario in ("first start", "restart"):
            rows = [r for r in results if r["scenario"] == scenario and r["load"] == load]
            base = rows[0]["median_ms"]
            heading = scenario if load == "quiet" else f"{scenario}, busy (stress-ng --cpu {args.busy_cpus} beside it{f'; restarted {restarts} times after something stopped it' if restarts else ''})"
            lines += ["", f"{heading}:"]
            for r in rows:
                r["added_ms"] = r["median_ms"] - base
                r["ratio"] = r["median_ms"] / base if base else None
                target = TARGETS.get(r["kind"])
                verdict = "" if target is None else f"  target <= {target:g} ms added: {'met' if r['added_ms'] <= target else 'MISSED'}"
                lines.append(
                    f"  {r['case']:<{width}} median {r['median_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms  "
                    f"added {r['added_ms']:6.2f} ms  x{r['ratio']:.1f} of /bin/true{verdict}"
                )
    return emit(results, "\n".join(lines), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
