"""`probe explain`'s command line: read a log (a file or stdin), judge it, print the report.

The analysis (probe.explain) prints nothing and imports no renderer, so the audit's checks can
use it; this module is the command around it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional, Sequence

from probe import redact
from probe.explain import run
from probe.model import Report
from probe.output import EXIT_USAGE

EXIT_NONE, EXIT_FOUND = 0, 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"probe explain: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="probe explain",
        description="Explain the AWS access-denied errors in a log: who was denied, by which policy, and what to change.",
        epilog="Exit codes: 0 no denial found, 1 a denial was found, 2 bad usage or unreadable input.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="log text to read (default -: stdin)")
    p.add_argument("--format", choices=("text", "json"), default=os.environ.get("PROBE_FORMAT") or "text")
    p.add_argument("--json", action="store_const", const="json", dest="format", help="short for --format json")
    p.add_argument("--task-role", metavar="NAME_OR_ARN", default=os.environ.get("PROBE_TASK_ROLE"), help="the task role (name or ARN)")
    p.add_argument("--no-decode", action="store_true", help="never call STS to decode EC2's encoded messages")
    p.add_argument("--no-color", action="store_true", help="no colour (also NO_COLOR)")
    return p


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report through the project's renderers (both scrub secrets: access key ids are masked)."""
    if fmt == "json":
        from probe.render import json as json_render

        return json_render.render(report)
    from probe.render import text as text_render

    return redact.scrub(text_render.render(report, color=color))


def main(argv: Optional[Sequence[str]] = None, in_task_summary: Optional[str] = None, task_role_default: Optional[str] = None) -> int:
    """`probe explain`. ``in_task_summary`` and ``task_role_default`` come from `--in-task`:
    the task diagnosis run first (probe/cli.py), and the task role its endpoint served."""
    args = build_parser().parse_args(argv)
    if not args.task_role and task_role_default:
        args.task_role = task_role_default
    stderr = sys.stderr
    progress: Optional[Callable[[int, int], None]] = None
    try:
        if args.file == "-":
            stream: Any = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
            if sys.stdin.isatty():
                stderr.write("probe explain: reading stdin: paste the log, then Ctrl-D\n")
                stderr.flush()
            elif stderr.isatty():
                def show_progress(n: int, found: int) -> None:
                    stderr.write(f"\rprobe explain: {n >> 20} MiB read, {found} denial{'s' if found != 1 else ''} so far")
                    stderr.flush()

                progress = show_progress
            report = run(stream, args.task_role, in_task_summary, decode=not args.no_decode, progress=progress)
        else:
            try:
                fh = open(args.file, "rb")
            except OSError as exc:
                stderr.write(f"probe explain: cannot read {args.file}: {exc.strerror or exc}\n")
                return EXIT_USAGE
            with fh:
                report = run(fh, args.task_role, in_task_summary, decode=not args.no_decode)
    except OSError as exc:
        stderr.write(f"probe explain: cannot read {args.file}: {exc.strerror or exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        stderr.write("\nprobe explain: interrupted\n")
        return EXIT_USAGE
    if progress is not None:
        stderr.write("\r\033[K")
    color = (not args.no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty() and os.environ.get("TERM") != "dumb")
    sys.stdout.write(render(report, args.format, color))
    sys.stdout.flush()
    return EXIT_FOUND if report.results else EXIT_NONE


if __name__ == "__main__":
    raise SystemExit(main())
