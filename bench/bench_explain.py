"""`python -m probe.explain -` against `grep -c AccessDenied` on the same bytes, per log class (issue 19).

Each class is a generated log (default ~100 MB each) of one shape item 7 of issue 19 named:

  dense        every line an S3 "Access Denied" (botocore, timestamped)
  repeated     one full (enriched) denial repeated, timestamped, with request ids (Go v2)
  distinct     enriched denials with 400 different resources, in turn
  firelens     FireLens JSON records (ECS metadata), every one a denial, a JSON app log inside
  crlf-nested  CRLF lines, docker json-file records, JSON in JSON, denials wrapped over lines
  near-miss    text that nearly matches: "not authorized to perform this action", web servers'
               "403 Forbidden", Spring Security's "Access Denied", long lines of keywords
  rare         an ECS task's log with a denial every ~2,000 lines in a rotation of SDK formats

Both commands read the file on stdin, several times after a warm-up run (the file is in the page
cache for both); the figures are medians; throughput is MB/s of input, by wall time and by the child's CPU
time (user + system, from wait4: less sensitive to other load on the machine); peak memory is the
explain process's maximum RSS (wait4's ru_maxrss). Target: explain >= 50 MB/s on every class, memory
flat (the same whatever the size: --mb changes the size to check).
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

from _common import emit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "arn:aws:sts::123456789012:assumed-role/app-task-role/0123456789abcdef0123456789abcdef"
ENRICHED = (f"User: {TASK} is not authorized to perform: s3:GetObject on "
            'resource: "arn:aws:s3:::amzn-s3-demo-bucket1/object-{n}" because no identity-based policy allows the s3:GetObject action')
FIRELENS = {"container_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "container_name": "app", "source": "stderr", "ecs_cluster": "prod",
            "ecs_task_arn": "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef", "ecs_task_definition": "app:7"}
RARE_DENIALS = (
    "2024-05-01T10:00:00Z ERROR An error occurred (AccessDenied) when calling the GetObject operation: " + ENRICHED + "\n",
    "AccessDenied: " + ENRICHED + "\n    at Request.extractError (/app/node_modules/aws-sdk/lib/services/s3.js:757:35)\n",
    "2024/05/01 10:00:00 download failed: AccessDenied: Access Denied\n\tstatus code: 403, request id: 4442587FB7D0A2F9, host id: 7vLx=\n",
    "operation error S3: GetObject, https response error StatusCode: 403, RequestID: 4442587FB7D0A2F9, HostID: 7vLx=, api error AccessDenied: " + ENRICHED + "\n",
    '{"container_name":"app","source":"stderr","log":"software.amazon.awssdk.services.s3.model.S3Exception: Access Denied (Service: S3, Status Code: 403, Request ID: F08EV50F85AYKF1V)"}\n',
    "2024-05-01T10:00:00Z ERROR An error occurred (AccessDenied) when calling the ListBuckets operation: Access Denied\n",
)


def _ts(i: int) -> str:
    return f"2024-05-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"


def _noise(i: int) -> str:
    r = i % 4
    if r == 0:
        return f"{_ts(i)} INFO GET /api/v1/items?page={i} 200 {i % 97} ms ua=ELB-HealthChecker/2.0\n"
    if r == 1:
        return '{"container_name":"app","source":"stdout","log":"processed order %d in %d ms","ecs_cluster":"prod"}\n' % (i, i % 50)
    if r == 2:
        return f"\tat com.example.orders.OrderService.process(OrderService.java:{i})\n"
    return f"{_ts(i)} DEBUG cache hit key=item:{i} ttl=300\n"


def block(kind: str, i: int) -> str:
    """About 64 KiB of log of this class, the i-th."""
    out: list[str] = []
    size = 0
    j = i * 1000
    while size < 65536:
        j += 1
        if kind == "dense":
            s = f"{_ts(j)} ERROR An error occurred (AccessDenied) when calling the GetObject operation: Access Denied\n"
        elif kind == "repeated":
            s = (f"{_ts(j)} operation error S3: GetObject, https response error StatusCode: 403, RequestID: {j:016X}, HostID: {j * 7919:x}Zm9vYmFy=, "
                 f"api error AccessDenied: {ENRICHED.format(n=7)}\n")
        elif kind == "distinct":
            s = f"{_ts(j)} ERROR An error occurred (AccessDenied) when calling the GetObject operation: {ENRICHED.format(n=j % 400)}\n"
        elif kind == "firelens":
            app = json.dumps({"level": 50, "time": 1714557600000 + j, "msg": "download failed",
                              "err": {"type": "AccessDenied", "message": ENRICHED.format(n=j % 20)}})
            s = json.dumps(dict(FIRELENS, log=app)) + "\n"
        elif kind == "crlf-nested":
            r = j % 4
            if r == 0:
                s = f"{_ts(j)} ERROR An error occurred (AccessDenied) when calling the GetObject operation: {ENRICHED.format(n=j % 30)}\r\n"
            elif r == 1:
                s = json.dumps({"log": "download failed: AccessDenied: " + ENRICHED.format(n=j % 30) + "\n", "stream": "stderr",
                                "time": "2024-05-01T10:00:00.%09dZ" % j}) + "\n"
            elif r == 2:
                s = json.dumps(dict(FIRELENS, log=json.dumps({"msg": "sync failed", "error": json.dumps({"Code": "AccessDenied",
                                                                                                           "Message": ENRICHED.format(n=j % 30)})}))) + "\n"
            else:
                s = (f"User: {TASK} is not authorized to perform:\r\ns3:GetObject on resource: \"arn:aws:s3:::amzn-s3-demo-bucket1/object-{j % 30}\"\r\n"
                     "because no identity-based policy allows the s3:GetObject action\r\n")
        elif kind == "near-miss":
            r = j % 5
            if r == 0:
                s = f"{_ts(j)} WARN user {j} is not authorized to perform this action on order {j}: missing role admin\n"
            elif r == 1:
                s = f'10.0.{j % 256}.{j % 100} - - [01/May/2024:10:00:00 +0000] "GET /admin/{j} HTTP/1.1" 403 153 "-" "curl/8.0" Forbidden\n'
            elif r == 2:
                s = f"{_ts(j)} ERROR 1 --- [nio-8080-exec-{j % 10}] o.s.s.w.a.ExceptionTranslationFilter : Access Denied for request {j}\n"
            elif r == 3:
                s = f"{_ts(j)} INFO User: user-{j} is not authorized to perf" + "orm" * (j % 7) + f" (request {j})\n"
            else:
                s = f"{_ts(j)} DEBUG AccessDeniedHandler invoked {j} times; Access Denied page rendered\n"
        else:  # rare
            s = "".join(_noise(j * 7 + k) for k in range(40))
            if j % 16 == 0:
                s += RARE_DENIALS[(i + j // 16) % len(RARE_DENIALS)].replace("{n}", str(j % 50))
        out.append(s)
        size += len(s)
    return "".join(out)


CLASSES = ("dense", "repeated", "distinct", "firelens", "crlf-nested", "near-miss", "rare")


def build_log(path: str, kind: str, size_mb: int) -> int:
    target, written, i = size_mb << 20, 0, 0
    cache: dict[int, bytes] = {}
    with open(path, "wb") as fh:
        while written < target:
            # 64 different blocks, reused: the log is big without the generator being the bottleneck
            b = cache.get(i % 64)
            if b is None:
                b = cache[i % 64] = block(kind, i % 64).encode()
            fh.write(b)
            written += len(b)
            i += 1
    return written


def timed(cmd: list[str], path: str, env: dict[str, str]) -> tuple[float, float, int, bytes]:
    """(wall seconds, CPU seconds of the child, its peak RSS in KiB, its stdout)."""
    with open(path, "rb") as fh, tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=fh, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        data = out.read()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed with {proc.returncode}")
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="size of each generated log (default 100)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--classes", default=",".join(CLASSES), help="comma-separated subset of: " + ", ".join(CLASSES))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=REPO, LANG="C.UTF-8")
    env.pop("AWS_ENDPOINT_URL_STS", None)  # no decoding: reading only
    explain_cmd = [sys.executable, "-m", "probe.explain", "-", "--json", "--no-decode"]
    grep_cmd = ["grep", "-c", "AccessDenied"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        for kind in [c for c in args.classes.split(",") if c]:
            path = os.path.join(tmp, f"{kind}.log")
            size = build_log(path, kind, args.mb)
            timed(explain_cmd, path, env)
            timed(grep_cmd, path, env)  # warm-up: the file is in the page cache for both
            ex_times, ex_cpu, gr_times, gr_cpu, rss = [], [], [], [], []
            out = b""
            for _ in range(args.runs):
                t, c, peak, out = timed(explain_cmd, path, env)
                ex_times.append(t)
                ex_cpu.append(c)
                rss.append(peak)
                t, c, _peak, _out = timed(grep_cmd, path, env)
                gr_times.append(t)
                gr_cpu.append(c)
            rss_kb = max(rss)
            os.unlink(path)
            report = json.loads(out)
            mb = size / (1 << 20)
            ex_s, gr_s = statistics.median(ex_times), statistics.median(gr_times)
            ex_c, gr_c = max(statistics.median(ex_cpu), 1e-3), max(statistics.median(gr_cpu), 1e-3)
            rows.append({
                "class": kind,
                "input_mb": round(mb, 1),
                "explain_s": round(ex_s, 3),
                "explain_mb_per_s": round(mb / ex_s, 1),
                "explain_mb_per_cpu_s": round(mb / ex_c, 1),
                "grep_mb_per_s": round(mb / gr_s, 1),
                "grep_mb_per_cpu_s": round(mb / gr_c, 1),
                "ratio_explain_over_grep": round(ex_s / gr_s, 2),
                "peak_rss_mb": round(rss_kb / 1024, 1),
                "denials": len(report["checks"]),
                "occurrences": sum(c["data"]["count"] for c in report["checks"]),
                "meets_target": mb / ex_s >= 50,
            })
    figures = {"target_mb_per_s": 50, "runs": args.runs, "classes": rows, "all_meet_target": all(r["meets_target"] for r in rows)}
    lines = [f"medians of {args.runs} runs; explain = python -m probe.explain - --json --no-decode; target >= 50 MB/s (wall)",
             f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (MB per CPU-second is less sensitive to other load)",
             f"{'class':<12} {'MB':>6} {'explain MB/s':>13} {'MB/CPU-s':>9} {'grep -c MB/s':>13} {'MB/CPU-s':>9} {'ratio':>6} {'peak RSS MB':>12} {'denials':>8} {'occurrences':>12}"]
    for r in rows:
        lines.append(f"{r['class']:<12} {r['input_mb']:>6.0f} {r['explain_mb_per_s']:>13.1f} {r['explain_mb_per_cpu_s']:>9.1f} "
                     f"{r['grep_mb_per_s']:>13.1f} {r['grep_mb_per_cpu_s']:>9.1f} "
                     f"{r['ratio_explain_over_grep']:>6.1f} {r['peak_rss_mb']:>12.1f} {r['denials']:>8} {r['occurrences']:>12}"
                     + ("" if r["meets_target"] else "   NOT met"))
    return emit(figures, "\n".join(lines), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
