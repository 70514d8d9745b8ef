"""`probe audit` against a sequential loop of the same Describe calls, one resource at a time (issue 23).

An account of 20 clusters, 2,000 services, 10,000 tasks (9,900 running, 100 stopped with
access-denied reasons), 3,000 task definitions (1,000 families x 3 revisions; the services run the
latest, so 1,000 are in use), 1,000 container instances and 200 task roles is seeded into moto's
server (moto[server], on 127.0.0.1, in a child process: seeding takes a few minutes and is redone
every run; nothing is cached anywhere). Then, each in its own process against that server:

  audit  python -m probe.audit --json (the default concurrency of 8, adaptive retries)
  loop   what a shell script does: list each kind (pages of 100, like the audit), then describe
         each cluster, service, task (running and stopped), container instance, each distinct task
         definition and each distinct role, one call per resource, one after the other (botocore in
         one process: the cost of the calls, not of starting `aws` 16,000 times; and distinct task
         definitions and roles only, as a script with `sort -u` would: a script without it would
         describe a task definition per service and per task, 12,000 calls more)

For each: wall time, API calls (botocore operations; HTTP requests with retries for the audit),
and peak memory (the child's maximum RSS, from wait4). Targets: the audit makes >= 5x fewer API
calls and is >= 3x faster than the loop, in < 300 MB.

moto answers DescribeTasks by scanning every task of the account for each ARN asked (its cost
grows with the account, for both), lists without pages (one call per list, for both), and one
request at a time in effect (one Python process): the ratio of calls is what AWS would see, the
ratio of times is moto's. `--scale 0.1` runs a tenth of the account for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from _common import emit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

REGION = "us-east-1"
SHAPE = {"clusters": 20, "services": 2000, "tasks": 10000, "stopped": 100, "families": 1000, "revisions": 3, "instances": 1000, "roles": 200}


def shape(scale: float) -> dict[str, int]:
    s = {k: max(1, int(round(v * scale))) for k, v in SHAPE.items()}
    s["clusters"] = max(1, min(s["clusters"], s["instances"], s["services"]))
    s["revisions"] = SHAPE["revisions"]
    return s


def clean_env(url: str, home: str) -> dict[str, str]:
    """Only moto: its endpoint, fake keys, no IMDS, empty config files, no proxies."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8", "PYTHONPATH": REPO,
        "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.path.join(home, "none"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none"), "NO_COLOR": "1",
    }


# ---- the server (child process) -----------------------------------------------------------------


def serve(scale: float) -> int:
    """Seed the account into a moto server in this process, print one JSON line, serve until stdin closes."""
    from probe.audit import ACCOUNT, EC2_TRUST, MotoAccount

    s = shape(scale)
    t0 = time.monotonic()
    acct = MotoAccount(REGION)
    roles = [acct.role(f"app-role-{i:03d}", EC2_TRUST if i % 50 == 7 else None) for i in range(s["roles"])]
    execution = acct.role("fleet-execution-role")
    latest: list[str] = []
    for f in range(s["families"]):
        for rev in range(s["revisions"]):
            env = [{"name": "LOG_LEVEL", "value": "info"}]
            if f % 97 == 3:
                env.append({"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"})
            arn = acct.taskdef(f"app-{f:04d}", taskRoleArn=roles[f % len(roles)], executionRoleArn=execution, networkMode="bridge",
                               containers=[{"name": "app", "image": "busybox", "memory": 16, "environment": env}])
        latest.append(arn)
    per_cluster_instances = s["instances"] // s["clusters"]
    per_cluster_services = s["services"] // s["clusters"]
    running = s["tasks"] - s["stopped"]
    base, extra = divmod(running, s["services"])
    stopped_per_cluster = max(1, s["stopped"] // s["clusters"])
    counts = {"clusters": 0, "services": 0, "running": 0, "stopped": 0, "instances": 0}
    for c in range(s["clusters"]):
        name = f"fleet-c{c:02d}"
        cluster = acct.cluster(name)
        counts["clusters"] += 1
        caps = ("com.amazonaws.ecs.capability.task-iam-role", "com.amazonaws.ecs.capability.task-iam-role-network-host")
        instances = acct.instances(cluster, per_cluster_instances - 1, capabilities=caps)
        instances += acct.instances(cluster, 1, capabilities=caps[1:])  # one instance per cluster with the flag off
        counts["instances"] += len(instances)
        slot = 0
        for k in range(per_cluster_services):
            svc = f"svc-{k:03d}"
            td = latest[(c * per_cluster_services + k) % len(latest)]
            per_service = max(1, base + (1 if c * per_cluster_services + k < extra else 0))
            acct.service(cluster, svc, td, desired=per_service)
            counts["services"] += 1
            places = [instances[(slot + j) % len(instances)] for j in range(per_service)]
            slot += per_service
            counts["running"] += len(acct.start(cluster, td, places, service=svc))
        for k in range(stopped_per_cluster):
            td = latest[(c * per_cluster_services + k) % len(latest)]
            task = acct.start(cluster, td, [instances[k % len(instances)]], service=f"svc-{k:03d}")[0]
            acct.stop(cluster, task, (
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable "
                f"to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::"
                f"{ACCOUNT}:assumed-role/fleet-execution-role/0123456789abcdef0123456789abcdef is not authorized to perform: "
                f"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-{k} because no "
                "identity-based policy allows the secretsmanager:GetSecretValue action"), stopped_at=time.time() - 60)
            counts["stopped"] += 1
    counts["task_definitions"] = s["families"] * s["revisions"]
    counts["roles"] = len(roles) + 1
    print(json.dumps({"url": acct.url, "seed_s": round(time.monotonic() - t0, 1), "counts": counts}), flush=True)
    sys.stdin.read()  # until the parent closes it
    acct.close()
    return 0


# ---- the sequential loop (child process) ----------------------------------------------------------


def loop() -> int:
    """The shell script's way, with botocore: one resource per Describe call, sequentially."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    ecs = session.create_client("ecs", region_name=REGION, config=config)
    iam = session.create_client("iam", region_name=REGION, config=config)
    calls = 0

    def call(client: Any, op: str, **kw: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return getattr(client, op)(**kw)

    def listed(op: str, key: str, **kw: Any) -> list[str]:
        out: list[str] = []
        token = None
        while True:
            page = call(ecs, op, maxResults=100, **({"nextToken": token} if token else {}), **kw)
            out += page.get(key) or []
            token = page.get("nextToken")
            if not token:
                return out

    tds: set[str] = set()
    roles: set[str] = set()
    seen = {"clusters": 0, "services": 0, "tasks": 0, "instances": 0}
    for cluster in listed("list_clusters", "clusterArns"):
        call(ecs, "describe_clusters", clusters=[cluster])
        seen["clusters"] += 1
        for svc in listed("list_services", "serviceArns", cluster=cluster):
            s = call(ecs, "describe_services", cluster=cluster, services=[svc])["services"][0]
            tds.add(s["taskDefinition"])
            seen["services"] += 1
        for status in ("RUNNING", "STOPPED"):
            for task in listed("list_tasks", "taskArns", cluster=cluster, desiredStatus=status):
                t = call(ecs, "describe_tasks", cluster=cluster, tasks=[task])["tasks"][0]
                tds.add(t["taskDefinitionArn"])
                seen["tasks"] += 1
        for ci in listed("list_container_instances", "containerInstanceArns", cluster=cluster):
            call(ecs, "describe_container_instances", cluster=cluster, containerInstances=[ci])
            seen["instances"] += 1
    for td in sorted(tds):
        role = call(ecs, "describe_task_definition", taskDefinition=td)["taskDefinition"].get("taskRoleArn")
        if role:
            roles.add(role)
    for role in sorted(roles):
        call(iam, "get_role", RoleName=role.rsplit("/", 1)[-1])
    print(json.dumps({"calls": calls, "seen": seen, "task_definitions": len(tds), "roles": len(roles)}))
    return 0


# ---- measuring ------------------------------------------------------------------------------------


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, bytes, int]:
    """(wall seconds, peak RSS in KiB, stdout, exit code) of a child process."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        out.seek(0)
        return took, usage.ru_maxrss, out.read(), os.waitstatus_to_exitcode(status)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the account (default 1: 20 clusters, 10,000 tasks, ...)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.scale)
    if args.loop:
        return loop()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as home:
        env = clean_env("", home)
        t0 = time.monotonic()
        print(f"seeding moto with {shape(args.scale)} ...", file=sys.stderr, flush=True)
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--scale", str(args.scale)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}, text=True)
        try:
            assert server.stdout is not None
            ready = json.loads(server.stdout.readline())
            print(f"seeded in {ready['seed_s']} s: {ready['counts']}", file=sys.stderr, flush=True)
            env = clean_env(ready["url"], home)
            audit_cmd = [sys.executable, "-m", "probe.audit", "--json", "--deadline", "3600", "--concurrency", str(args.concurrency)]
            a_wall, a_rss, a_out, a_rc = timed(audit_cmd, env)
            if a_rc not in (0, 1):
                raise SystemExit(f"the audit failed with {a_rc}")
            report = json.loads(a_out)
            block = report["audit"]
            print(f"audit: {a_wall:.1f} s", file=sys.stderr, flush=True)
            l_wall, l_rss, l_out, l_rc = timed([sys.executable, __file__, "--loop"], env)
            if l_rc != 0:
                raise SystemExit(f"the loop failed with {l_rc}")
            looped = json.loads(l_out)
            print(f"loop: {l_wall:.1f} s", file=sys.stderr, flush=True)
        finally:
            if server.stdin:
                server.stdin.close()
            server.wait(timeout=60)
    fig = {
        "account": ready["counts"], "seed_s": ready["seed_s"],
        "audit": {"wall_s": round(a_wall, 1), "api_calls": block["api_calls"], "http_requests": block["http_requests"],
                  "peak_rss_mb": round(a_rss / 1024, 1), "counts": block["counts"], "verdict": report["verdict"],
                  "failing": [c["id"] for c in report["checks"] if c["status"] in ("fail", "error")], "calls": block["calls"],
                  "deadline_exceeded": block["deadline_exceeded"], "problems": len(block["problems"])},
        "loop": {"wall_s": round(l_wall, 1), "api_calls": looped["calls"], "peak_rss_mb": round(l_rss / 1024, 1), "seen": looped["seen"]},
    }
    fig["ratio"] = {"calls": round(looped["calls"] / max(1, block["api_calls"]), 1), "time": round(l_wall / max(0.001, a_wall), 1)}
    fig["targets"] = {"calls_5x": fig["ratio"]["calls"] >= 5, "time_3x": fig["ratio"]["time"] >= 3, "memory_300mb": a_rss / 1024 < 300}
    rows = [
        ("", "probe audit", "sequential loop"),
        ("wall time", f"{a_wall:.1f} s", f"{l_wall:.1f} s"),
        ("API calls", f"{block['api_calls']:,} ({block['http_requests']:,} HTTP requests)", f"{looped['calls']:,}"),
        ("peak RSS", f"{a_rss / 1024:.0f} MB", f"{l_rss / 1024:.0f} MB"),
    ]
    text = "\n".join(f"{a:<11} {b:<36} {c}" for a, b, c in rows)
    text += (f"\n\nloop / audit: {fig['ratio']['calls']}x the API calls, {fig['ratio']['time']}x the time "
             f"(targets: >= 5x calls {'met' if fig['targets']['calls_5x'] else 'MISSED'}, >= 3x time "
             f"{'met' if fig['targets']['time_3x'] else 'MISSED'}, < 300 MB {'met' if fig['targets']['memory_300mb'] else 'MISSED'})"
             f"\naccount {ready['counts']}, seeded in {ready['seed_s']} s (total {time.monotonic() - t0:.0f} s)"
             f"\naudit saw {block['counts']}; failing: {', '.join(fig['audit']['failing']) or 'none'}")
    return emit(fig, text, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
