"""`probe sdk ROOT` against `find ROOT -type f | wc -l` on the same synthetic tree, both warm.

The tree (default 120,000 files; ``--files 100000 1000000`` for several sizes, one row
each) looks like an application image: many small source files in nested folders, a few
Python site-packages with dist-info folders, node_modules with package.json files, some
jars and executables. After a warm-up run of each, the two commands alternate ``--runs``
times (a burst of other work on the machine falls on both); the figures are medians, the
ratio is probe / find (target <= 2, issue 24). The probe is a copy laid out as `pip install`
lays it out, run by its console script (bench/_common.install_copy: not the development
install, whose import hook costs every start about 20 ms no user pays). ``--busy`` measures with
``stress-ng --cpu 2`` running beside them (started and stopped here, restarted if
something ends it). ``--keep DIR`` builds the trees under DIR once and reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from typing import Any, Optional

from _common import Busy, emit, install_copy  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_tree(root: str, files: int) -> int:
    made = 0
    per_dir = 40
    d = 0
    while made < files:
        folder = os.path.join(root, "usr", "lib", f"pkg{d // 50}", f"mod{d % 50}", "src")
        os.makedirs(folder, exist_ok=True)
        for i in range(per_dir):
            with open(os.path.join(folder, f"file{i}.py"), "w") as fh:
                fh.write("x = 1\n")
        made += per_dir
        d += 1
    site = os.path.join(root, "usr", "lib", "python3", "site-packages")
    for name, version in (("botocore", "1.34.0"), ("boto3", "1.34.0"), ("requests", "2.31.0")):
        meta = os.path.join(site, f"{name}-{version}.dist-info")
        os.makedirs(meta, exist_ok=True)
        with open(os.path.join(meta, "METADATA"), "w") as fh:
            fh.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        made += 1
    for app in range(20):
        pkg = os.path.join(root, "srv", f"app{app}", "node_modules", "aws-sdk" if app % 2 else f"lib{app}")
        os.makedirs(pkg, exist_ok=True)
        with open(os.path.join(pkg, "package.json"), "w") as fh:
            json.dump({"name": os.path.basename(pkg), "version": "2.1500.0"}, fh)
        made += 1
    jars = os.path.join(root, "opt", "app", "lib")
    os.makedirs(jars, exist_ok=True)
    for i in range(30):
        with zipfile.ZipFile(os.path.join(jars, f"library{i}-1.0.jar"), "w") as zf:
            for j in range(50):
                zf.writestr(f"org/example/lib{i}/C{j}.class", b"\xca\xfe\xba\xbe")
        made += 1
    return made


def timed(cmd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, shell=True, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def tree_for(files: int, keep: Optional[str]) -> tuple[str, bool]:
    """A tree of about ``files`` files, and whether to remove it afterwards."""
    if keep is None:
        root = tempfile.mkdtemp(prefix="bench-sdk-")
        build_tree(root, files)
        return root, True
    root = os.path.join(keep, f"tree-{files}")
    marker = root + ".made"  # written last: a tree cut short is built again
    if not os.path.exists(marker):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        build_tree(root, files)
        with open(marker, "w") as fh:
            fh.write("made\n")
    return root, False


def measure(probe: str, root: str, runs: int, stress: Optional[Busy]) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": root, "AWS_EC2_METADATA_DISABLED": "true"}
    probe_cmd = f"{probe} sdk {root} --json --deadline 300"
    find_cmd = f"find {root} -type f | wc -l"
    if stress is not None:
        stress.ensure()
    # Warm-up of each; the probe's answer is checked against find's count.
    report = json.loads(subprocess.run(probe_cmd, shell=True, env=env, capture_output=True, text=True).stdout)
    check = report["checks"][0]
    counted = int(subprocess.run(find_cmd, shell=True, env=env, capture_output=True, text=True).stdout)
    probe_s: list[float] = []
    find_s: list[float] = []
    for _ in range(runs):
        if stress is not None:
            stress.ensure()
        find_s.append(timed(find_cmd, env))
        probe_s.append(timed(probe_cmd, env))
    probe_med, find_med = statistics.median(probe_s), statistics.median(find_s)
    return {
        "files": counted,
        "load": "busy" if stress is not None else "quiet",
        "find_s": find_med,
        "probe_sdk_s": probe_med,
        "ratio": probe_med / find_med,
        "find_samples": find_s,
        "probe_samples": probe_s,
        "sdks_found": len(check["data"].get("sdks", [])),
        "verdict": check["status"],
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[120_000], help="tree sizes, one row each")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", action="store_true", help="measure beside stress-ng --cpu 2")
    parser.add_argument("--keep", metavar="DIR", help="build the trees under DIR once and reuse them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    stress = Busy(2) if args.busy else None
    installed = tempfile.mkdtemp(prefix="bench-sdk-venv-")
    try:
        # The probe as a user's `pip install` lays it out, run by its console script.
        install_copy(REPO, os.path.join(installed, "venv"), with_dependencies=True)
        probe = os.path.join(installed, "venv", "bin", "probe")
        for files in args.files:
            root, remove = tree_for(files, args.keep)
            try:
                rows.append(measure(probe, root, args.runs, stress))
            finally:
                if remove:
                    shutil.rmtree(root, ignore_errors=True)
    finally:
        if stress is not None:
            stress.stop()
        shutil.rmtree(installed, ignore_errors=True)
    lines = [f"{'files':>9}  {'load':5}  {'find s':>7}  {'probe s':>7}  {'ratio':>5}  target <= 2  SDKs  verdict"]
    for r in rows:
        lines.append(
            f"{r['files']:>9}  {r['load']:5}  {r['find_s']:7.3f}  {r['probe_sdk_s']:7.3f}  {r['ratio']:5.2f}  "
            f"{'met' if r['ratio'] <= 2 else 'MISSED':11}  {r['sdks_found']:>4}  {r['verdict']}"
        )
    lines.append(f"medians of {args.runs} alternating runs after a warm-up of each"
                 + (f"; stress-ng --cpu 2 beside them (restarted {stress.restarts} times)" if stress is not None else ""))
    return emit(rows, "\n".join(lines), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
