"""The redactor (probe/redact.py ``Redactor.scrub``) on hostile and ordinary texts of 1 kB, 64 kB
and 1 MB, as time per MB: a linear redactor shows a flat row (issue 19, item 6).

Beside it, the redactor as it was before issue 19 (``--baseline REV``, default 9cee369, the last
revision before it; loaded from ``git show REV:probe/redact.py``), where it finishes in reasonable
time: each of its runs is a child process stopped after ``--budget`` seconds, and once a size
has not finished, the larger ones are not tried.

Shapes (texts built to the size exactly, the JSON report to about the size):
  letters         one run of letters (the old URL password pattern restarted its scheme at
                  every letter)
  unclosed-tags   "x<Token>value rest of the line" lines, the tags never closed (item 5)
  long-urls       URLs with user:password@host, and "://"s in long runs without an "@"
  registered      an ordinary report, with 1,000 registered secrets (session tokens and short
                  passwords, as a sidecar gathers them over months) of which a few appear
  report          an ordinary text report, one registered secret in it
  registered-json the JSON report as the renderers scrub it (scrub_obj: one scrub per string,
                  ~100 bytes each), with the 1,000 registered secrets: the old redactor copied
                  every registered piece at each call

"same" says whether the two redactors gave the same text (they differ where the old one masked
to the end of the document). Usage:

    python bench/bench_redact.py [--sizes 1k,64k,1M] [--baseline REV] [--budget SECONDS] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Optional

from _common import emit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from probe import redact  # noqa: E402

BASELINE = "9cee369"
MB = 1 << 20


def load_baseline(rev: str, folder: str) -> Any:
    """probe/redact.py as it was at ``rev``, as a module of its own."""
    path = os.path.join(folder, "redact_baseline.py")
    source = subprocess.run(["git", "-C", REPO, "show", f"{rev}:probe/redact.py"], check=True, capture_output=True, text=True).stdout
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("redact_baseline", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fill(unit: Callable[[int], str], size: int) -> str:
    parts: list[str] = []
    total, i = 0, 0
    while total < size:
        piece = unit(i)
        parts.append(piece)
        total += len(piece)
        i += 1
    return "".join(parts)[:size]


REPORT = """ecs-credential-probe 0.1.0 · task · 2026-11-27T23:00:00Z · 412 ms
Identity: arn:aws:sts::123456789012:assumed-role/app-task-role/0123456789abcdef
          kind task-role, source 'container-role', task role arn:aws:iam::123456789012:role/app-task-role
Task:     cluster prod · task 0123456789abcdef · EC2 awsvpc · container app · us-east-1a

[PASS] env.credentials-variable         AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set
        value /v2/credentials/3f1c2a4e-8b9d-4c1e-9a7b-2d5e6f708192
[WARN] proxy.credentials-endpoint       HTTP_PROXY=http://svc:pa55w0rd@proxy.corp.example:3128 applies
        fix: add 169.254.170.2 to NO_PROXY
[PASS] endpoint.credentials             The credentials endpoint serves arn:aws:iam::123456789012:role/app-task-role
        GET http://169.254.170.2/v2/credentials/**** -> 200 in 4 ms, key ASIAY34FZKBOKMUTVV7A
[FAIL] identity.caller                  STS said SignatureDoesNotMatch for {secret}
"""


def _report_doc(size: int, secret: str) -> dict[str, Any]:
    """A JSON report of about ``size`` bytes of strings: check entries of ~100 bytes each."""
    checks = []
    for i in range(max(1, size // 100)):
        checks.append({"id": "endpoint.credentials", "status": "pass", "title": f"The endpoint answered in {i} ms",
                       "detail": secret[i % 300 : i % 300 + 12] if i % 50 == 0 else "GET /v2/credentials/x"})
    return {"schema": "ecs-credential-probe/report/v1", "checks": checks}


def shapes(rnd: random.Random) -> dict[str, tuple[Callable[[int], Any], list[str]]]:
    """name -> (the text or JSON document for a size, the secrets to register)."""
    tokens = ["IQoJb3JpZ2luX2VjE" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(600)) for _ in range(900)]
    passwords = ["".join(rnd.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(6)) for _ in range(100)]
    secret = tokens[0]

    def report(i: int) -> str:
        return REPORT.replace("{secret}", tokens[i % 7][: 40 + i % 50])

    return {
        "letters": (lambda size: "a" * size, []),
        "unclosed-tags": (lambda size: _fill(lambda i: f"line {i}: role app<Token>IQoJb3JpZ2luX2VjE{i} rest of the line\n", size), []),
        "long-urls": (
            lambda size: _fill(lambda i: f"proxy http://svc:pa55w0rd{i}@proxy.corp.example:3128/{'p' * 300} then https://" + "x://" * 200 + " ", size),
            [],
        ),
        "registered": (lambda size: _fill(report, size), tokens + passwords),
        "report": (lambda size: _fill(lambda i: REPORT.replace("{secret}", secret[i % 300 : i % 300 + 40]), size), [secret]),
        "registered-json": (lambda size: _report_doc(size, secret), tokens + passwords),
    }


def timed(fn: Callable[[Any], Any], text: Any) -> tuple[float, Any]:
    """Best of a few runs (one for anything over half a second)."""
    best, out = float("inf"), ""
    for _ in range(5):
        started = time.perf_counter()
        out = fn(text)
        best = min(best, time.perf_counter() - started)
        if best > 0.5:
            break
    return best, out


def timed_in_child(fn: Callable[[Any], Any], text: Any, budget: float) -> Optional[tuple[float, Any]]:
    """``timed`` in a forked child (it inherits ``fn``'s registered secrets); None if it is
    still running after ``budget`` seconds."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    def run() -> None:
        fn("warm-up")  # the child's first touch of the registered secrets copies their pages
        send.send(timed(fn, text))

    child = ctx.Process(target=run, daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(budget):
            return receive.recv()
        return None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1 << 10, "m": 1 << 20}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1k,64k,1M", help="text sizes (default 1k,64k,1M)")
    ap.add_argument("--baseline", default=BASELINE, metavar="REV", help=f"the redactor of this git revision alongside (default {BASELINE}; '' for none)")
    ap.add_argument("--budget", type=float, default=30.0, help="stop a baseline run after this many seconds (default 30)")
    ap.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    args = ap.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    rnd = random.Random(19)
    with tempfile.TemporaryDirectory(prefix="bench-redact-") as folder:
        old_module = load_baseline(args.baseline, folder) if args.baseline else None
        figures: list[dict[str, Any]] = []
        for name, (build, secrets) in shapes(rnd).items():
            new = redact.Redactor()
            old = old_module.Redactor() if old_module else None
            for secret in secrets:
                new.register(secret)
                if old is not None:
                    old.register(secret)
            gave_up = False
            for size in sizes:
                text = build(size)
                scrub_new = new.scrub_obj if isinstance(text, dict) else new.scrub
                new_s, new_out = timed(scrub_new, text)
                row: dict[str, Any] = {"shape": name, "bytes": size, "new_s": new_s, "new_s_per_mb": new_s * MB / size}
                if old is not None:
                    result = None if gave_up else timed_in_child(old.scrub_obj if isinstance(text, dict) else old.scrub, text, args.budget)
                    if result is None:
                        row.update(old_s=None, old_skipped=f"not tried: a smaller size took over {args.budget:g} s" if gave_up else f"over {args.budget:g} s")
                        gave_up = True
                    else:
                        old_s, old_out = result
                        row.update(old_s=old_s, old_s_per_mb=old_s * MB / size, same=old_out == new_out)
                figures.append(row)
                print(f"  {name} {size} B: {new_s:.4f} s", file=sys.stderr, flush=True)
    lines = [f"{'shape':<16} {'size':>8} {'new s':>9} {'new s/MB':>9} {'old s':>9} {'old s/MB':>10} {'same':>5}"]
    for row in figures:
        size = row["bytes"]
        label = f"{size >> 20} MB" if size >= MB else f"{size >> 10} kB"
        if "old_s" not in row:
            old = f"{'':>9} {'':>10} {'':>5}"
        elif row["old_s"] is None:
            old = f"{'-':>9} {'':>10} {'':>5}  ({row['old_skipped']})"
        else:
            old = f"{row['old_s']:>9.4f} {row['old_s_per_mb']:>10.3f} {('yes' if row['same'] else 'no'):>5}"
        lines.append(f"{row['shape']:<16} {label:>8} {row['new_s']:>9.4f} {row['new_s_per_mb']:>9.3f} {old}")
    return emit(figures, "\n".join(lines), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
