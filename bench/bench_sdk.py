"""`probe sdk ROOT` against `find ROOT -type f | wc -l` on the same synthetic tree, both warm.

The tree (default 120,000 files) looks like an application image: many small source
files in nested folders, a few Python site-packages with dist-info folders, node_modules
with package.json files, some jars and executables. Both commands run several times
after a warm-up run; the figures are medians, the ratio is probe / find (target < 2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import Optional

from _common import emit  # noqa: E402

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


def median_time(cmd: str, runs: int, env: dict[str, str]) -> float:
    subprocess.run(cmd, shell=True, env=env, check=True, stdout=subprocess.DEVNULL)  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, shell=True, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-sdk-")
    try:
        made = build_tree(tmp, args.files)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "PYTHONPATH": REPO, "AWS_EC2_METADATA_DISABLED": "true"}
        probe_cmd = f"{sys.executable} -m probe sdk {tmp} --json --deadline 120"
        find_cmd = f"find {tmp} -type f | wc -l"
        out = subprocess.run(probe_cmd, shell=True, env=env, capture_output=True, text=True)
        report = json.loads(out.stdout)
        check = report["checks"][0]
        probe_s = median_time(probe_cmd, args.runs, env)
        find_s = median_time(find_cmd, args.runs, env)
        counted = int(subprocess.run(find_cmd, shell=True, capture_output=True, text=True).stdout)
        figures = {
            "files": counted,
            "probe_sdk_s": probe_s,
            "find_s": find_s,
            "ratio": probe_s / find_s,
            "sdks_found": len(check["data"].get("sdks", [])),
            "verdict": check["status"],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = (
        f"probe sdk over {figures['files']} files (built {made})  median {probe_s:.3f} s | "
        f"find -type f | wc -l  median {find_s:.3f} s | ratio {figures['ratio']:.2f} (target < 2: "
        f"{'met' if figures['ratio'] < 2 else 'MISSED'}); found {figures['sdks_found']} SDKs, {figures['verdict']}"
    )
    return emit(figures, text, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
