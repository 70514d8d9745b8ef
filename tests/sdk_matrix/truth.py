"""Measure the ground truth: every real SDK client in every situation, in a NetnsHost.

    python3 tests/sdk_matrix/truth.py [--out /tmp/research/matrix_truth.md] [--only SDK_ID,...]

Writes a Markdown table (SDK x situation -> gets, error, seconds) and, beside it, the same as
JSON (.json). Needs root (ip netns) and tests/sdk_matrix/setup.sh run first. Each client run
gets a home of its own (removed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "_guard")]
os.environ.setdefault("PROBE_TEST_HOST_NETNS", os.readlink("/proc/self/ns/net"))
if "PROBE_TEST_GUARD_LOG" not in os.environ:
    os.environ["PROBE_TEST_GUARD_LOG"] = tempfile.NamedTemporaryFile(prefix="sdk-matrix-guard-", delete=False).name

from helpers import NetnsHost, clean_env  # noqa: E402
from sdk_matrix.matrix import RESET, SITUATIONS, ProxyProc, run_client, sdks, table_word  # noqa: E402


def truth_table(results: dict[str, dict[str, dict]], sdk_ids: list[str], sit_ids: list[str]) -> list[str]:
    """matrix.py's TRUTH_TABLE text (aligned columns) for these results."""
    rows = [["", *sdk_ids]] + [[sit, *(table_word(results[s][sit]["gets"], results[s][sit]["role"]) for s in sdk_ids)] for sit in sit_ids]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/research/matrix_truth.md")
    ap.add_argument("--only", default="", help="SDK ids, comma-separated")
    ap.add_argument("--situations", default="", help="situation ids, comma-separated")
    ap.add_argument("--table-from", metavar="JSON", help="print the TRUTH_TABLE of an earlier run's JSON and stop")
    args = ap.parse_args()
    if args.table_from:
        with open(args.table_from, encoding="utf-8") as fh:
            doc = json.load(fh)
        ids = list(doc["sdks"])
        sits = [sit.id for sit in SITUATIONS if sit.id in doc["results"][ids[0]]]
        print("\n".join(truth_table(doc["results"], ids, sits)))
        return 0
    only = set(filter(None, args.only.split(",")))
    chosen = [s for s in sdks() if not only or s.id in only]
    for s in chosen:
        if s.missing:
            print(f"skip {s.id}: {s.missing}", file=sys.stderr)
    chosen = [s for s in chosen if not s.missing]
    wanted = set(filter(None, args.situations.split(",")))
    situations = [sit for sit in SITUATIONS if not wanted or sit.id in wanted]
    results: dict[str, dict[str, dict]] = {}
    started = time.monotonic()
    homes = tempfile.TemporaryDirectory(prefix="sdk-matrix-homes-")
    with homes, NetnsHost() as host:
        proxy = ProxyProc(host.name, clean_env("/tmp"))
        try:
            for sit in situations:
                host.set(**RESET)
                if sit.host:
                    host.set(**sit.host)
                for sdk in chosen:
                    home = tempfile.mkdtemp(prefix=f"{sdk.id}-{sit.id}-", dir=homes.name)
                    env = sit.env(host, home)
                    out = run_client(host.name, sdk, env, proxy, host=host)
                    results.setdefault(sdk.id, {})[sit.id] = {
                        "gets": out.gets, "role": out.role, "arn": out.arn, "error": out.error, "seconds": round(out.seconds, 2),
                        "proxied": out.proxied, "ran_process": out.ran_process, "sts_tls": out.sts_tls,
                    }
                    print(f"{sdk.id:22} {sit.id:30} {out.describe()}", file=sys.stderr, flush=True)
        finally:
            proxy.close()
    total = time.monotonic() - started
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as fh:
        json.dump({"sdks": {s.id: {"sdk": s.sdk, "version": s.version, "root": s.root} for s in chosen}, "results": results}, fh, indent=1)
    lines = [
        "# Real-SDK ground truth (tests/sdk_matrix/truth.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} in a NetnsHost (emulated agent + IMDS, moto STS), proxy = tests/sdk_matrix/proxy.py "
        f"(502 for 169.254.0.0/16); STS also over TLS under its real names (tests/nstls.py). Total {total:.0f} s. "
        "Cell: gets (role for other-role) / seconds (client process wall time).",
        "",
        "| situation | " + " | ".join(f"{s.id} ({s.version})" for s in chosen) + " |",
        "|---|" + "---|" * len(chosen),
    ]
    for sit in situations:
        cells = []
        for s in chosen:
            r = results[s.id][sit.id]
            who = r["gets"] + (f" {r['role']}" if r["gets"] == "other-role" else "")
            cells.append(f"{who} {r['seconds']:.1f}s" + (" P" if any(k.startswith("169.254") for k in r["proxied"]) else "")
                         + (" T" if r["sts_tls"] else "") + (" X" if r["ran_process"] else ""))
        lines.append(f"| {sit.id} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "P: the SDK sent a request for 169.254.x through the proxy (which answered 502). "
        "T: it called STS over TLS under a real name (which and what: below). X: it ran the credential_process.",
        "", "## Situations", "",
    ]
    lines += [f"- `{sit.id}`: {sit.title}" for sit in situations]
    lines += ["", "## As matrix.py's TRUTH_TABLE", "", "```", *truth_table(results, [s.id for s in chosen], [sit.id for sit in situations]), "```"]
    lines += ["", "## Errors, roles, proxy and STS traffic", ""]
    for s in chosen:
        for sit in situations:
            r = results[s.id][sit.id]
            if r["error"] or r["proxied"] or r["gets"] == "other-role" or r["sts_tls"] or r["ran_process"]:
                lines.append(
                    f"- {s.id} / {sit.id}: {r['gets']}"
                    + (f" `{r['role']}` (`{r['arn']}`)" if r["gets"] == "other-role" else "")
                    + (f"; error `{r['error']}`" if r["error"] else "")
                    + (f"; proxy saw {r['proxied']}" if r["proxied"] else "")
                    + (f"; STS over TLS saw {r['sts_tls']}" if r["sts_tls"] else "")
                    + ("; ran the credential_process" if r["ran_process"] else "")
                )
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {args.out} in {total:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
