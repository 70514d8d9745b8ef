"""`python -m probe.explain -` against `grep -c AccessDenied` on the same generated log, both warm.

The log (default ~200 MB) looks like an ECS task's: timestamped request lines, JSON lines as
FireLens writes them, Java stack traces, and an access-denied error every ~2,000 lines in a
rotation of SDK formats (botocore, JS v2, Go v1, Go v2, Java v2, S3's bare "Access Denied").
Both commands read the file on stdin, several times after a warm-up run; the figures are medians,
throughput is MB/s of input, the ratio is explain / grep (time). Target: explain >= 50 MB/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import emit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENRICHED = ('User: arn:aws:sts::123456789012:assumed-role/ecsInstanceRole/i-0abc1234def567890 is not authorized to perform: s3:GetObject on '
            'resource: "arn:aws:s3:::amzn-s3-demo-bucket1/object-{n}" because no identity-based policy allows the s3:GetObject action')
DENIALS = (
    "2024-05-01T10:00:00Z ERROR An error occurred (AccessDenied) when calling the GetObject operation: " + ENRICHED + "\n",
    "AccessDenied: " + ENRICHED + "\n    at Request.extractError (/app/node_modules/aws-sdk/lib/services/s3.js:757:35)\n",
    "2024/05/01 10:00:00 download failed: AccessDenied: Access Denied\n\tstatus code: 403, request id: 4442587FB7D0A2F9, host id: 7vLx=\n",
    "operation error S3: GetObject, https response error StatusCode: 403, RequestID: 4442587FB7D0A2F9, HostID: 7vLx=, api error AccessDenied: " + ENRICHED + "\n",
    '{"container_name":"app","source":"stderr","log":"software.amazon.awssdk.services.s3.model.S3Exception: Access Denied (Service: S3, Status Code: 403, Request ID: F08EV50F85AYKF1V)"}\n',
    "2024-05-01T10:00:00Z ERROR An error occurred (AccessDenied) when calling the ListBuckets operation: Access Denied\n",
)


def build_log(path: str, size_mb: int) -> int:
    noise = []
    for i in range(2000):
        r = i % 4
        if r == 0:
            noise.append(f"2024-05-01T10:00:{i % 60:02d}Z INFO GET /api/v1/items?page={i} 200 {i % 97} ms ua=ELB-HealthChecker/2.0\n")
        elif r == 1:
            noise.append('{"container_name":"app","source":"stdout","log":"processed order %d in %d ms","ecs_cluster":"prod"}\n' % (i, i % 50))
        elif r == 2:
            noise.append(f"\tat com.example.orders.OrderService.process(OrderService.java:{i})\n")
        else:
            noise.append(f"2024-05-01T10:00:{i % 60:02d}Z DEBUG cache hit key=item:{i} ttl=300\n")
    block = "".join(noise).encode()
    target, written, n = size_mb << 20, 0, 0
    with open(path, "wb") as fh:
        while written < target:
            fh.write(block)
            d = DENIALS[n % len(DENIALS)].replace("{n}", str(n % 50)).encode()
            fh.write(d)
            written += len(block) + len(d)
            n += 1
    return written


def timed(cmd: list[str], path: str, env: dict[str, str]) -> tuple[float, bytes]:
    with open(path, "rb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdin=fh, capture_output=True, env=env)
        took = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return took, proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the generated log (default 200)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=REPO, LANG="C.UTF-8")
    env.pop("AWS_ENDPOINT_URL_STS", None)  # no decoding: reading only
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        path = os.path.join(tmp, "app.log")
        size = build_log(path, args.mb)
        explain_cmd = [sys.executable, "-m", "probe.explain", "-", "--json", "--no-decode"]
        grep_cmd = ["grep", "-c", "AccessDenied"]
        timed(explain_cmd, path, env)
        timed(grep_cmd, path, env)  # warm-up: the file is in the page cache for both
        ex_times, gr_times = [], []
        out = b""
        for _ in range(args.runs):
            t, out = timed(explain_cmd, path, env)
            ex_times.append(t)
            gr_times.append(timed(grep_cmd, path, env)[0])
    import json

    report = json.loads(out)
    occurrences = sum(c["data"]["count"] for c in report["checks"])
    ex_s, gr_s = statistics.median(ex_times), statistics.median(gr_times)
    mb = size / (1 << 20)
    figures = {
        "input_mb": round(mb, 1),
        "explain_s": round(ex_s, 3),
        "grep_s": round(gr_s, 3),
        "explain_mb_per_s": round(mb / ex_s, 1),
        "grep_mb_per_s": round(mb / gr_s, 1),
        "ratio_explain_over_grep": round(ex_s / gr_s, 2),
        "denials": len(report["checks"]),
        "occurrences": occurrences,
        "target_mb_per_s": 50,
        "meets_target": mb / ex_s >= 50,
    }
    text = (
        f"input {figures['input_mb']} MB (generated), medians of {args.runs} runs\n"
        f"  probe explain -       {figures['explain_s']:>7.3f} s  {figures['explain_mb_per_s']:>8.1f} MB/s  "
        f"({figures['denials']} denials, {occurrences} occurrences)\n"
        f"  grep -c AccessDenied  {figures['grep_s']:>7.3f} s  {figures['grep_mb_per_s']:>8.1f} MB/s\n"
        f"  ratio explain / grep  {figures['ratio_explain_over_grep']:.2f}  (target: explain >= 50 MB/s: "
        f"{'met' if figures['meets_target'] else 'NOT met'})"
    )
    return emit(figures, text, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
