"""Command line: parse, run, render, write. The only module that prints."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any, Callable, Optional, Sequence, TextIO

from probe import __version__, redact
from probe.output import EXIT_FAIL, EXIT_OK, EXIT_USAGE, UsageError, guarded, write_report

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "entry", "main", "write_report"]
COMMANDS = ("task", "sdk", "host", "taskdef", "trust", "watch", "health", "wait", "demo", "explain", "audit")
DEFAULT_DEADLINE = 5.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"probe: error: {message}\n")


def _env_default(name: str, fallback: Any = None) -> Any:
    return os.environ.get("PROBE_" + name.upper().replace("-", "_"), fallback)


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Options every command takes, before or after the command name."""
    d: Callable[[Any], Any] = (lambda v: v) if top else (lambda v: argparse.SUPPRESS)
    g = parser.add_argument_group("common options (each also read from PROBE_<NAME>)")
    g.add_argument("--format", choices=("text", "json"), default=d(None), help="report format (default text)")
    g.add_argument("--json", action="store_const", const="json", dest="format", default=d(None), help="short for --format json")
    g.add_argument("--output", metavar="FILE", default=d(None), help="write the report to FILE instead of stdout (- for stdout)")
    g.add_argument("--deadline", metavar="SECONDS", default=d(None), help=f"limit for the whole run (default {DEFAULT_DEADLINE:g})")
    g.add_argument("--only", metavar="ID[,ID]", default=d(None), help="run only these checks")
    g.add_argument("--skip", metavar="ID[,ID]", default=d(None), help="do not run these checks")
    g.add_argument("--strict", action="store_true", default=d(None), help="warnings fail the run (exit 1)")
    g.add_argument("--no-color", action="store_true", default=d(None), help="no colour (also NO_COLOR)")
    g.add_argument("--expect-role", metavar="NAME_OR_ARN", default=d(None), help="the task role the application must get")
    g.add_argument("-v", "--verbose", action="store_true", default=d(None), help="show details of passing checks too")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="probe",
        description="Which AWS identity does this ECS task really get? Run inside the task.",
        epilog="Exit codes: 0 no check failed, 1 a check failed or errored, 2 the probe could not run as asked.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"ecs-credential-probe {__version__}")
    parser.add_argument("--print-sh", action="store_true", help="write probe.sh, the sh twin for images without Python, to stdout and exit")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    task = sub.add_parser("task", help="diagnose the task this process runs in (the default)")
    _task_options(task)
    _common(task, top=False)
    watch = sub.add_parser("watch", help="sidecar: re-run the diagnosis on an interval, serve /healthz, /report, /metrics")
    watch.add_argument("--interval", metavar="SECONDS", default=None, help="seconds between runs (default 60, with jitter; PROBE_INTERVAL)")
    watch.add_argument("--listen", metavar="HOST:PORT", default=None, help="where to serve (default 127.0.0.1:9471; PROBE_LISTEN)")
    watch.add_argument("--emf", action="store_true", default=None, help="print each run as a CloudWatch Embedded Metric Format line (PROBE_EMF)")
    watch.add_argument("--runs", metavar="N", default=None, help=argparse.SUPPRESS)
    watch.add_argument("--sdk-root", action="append", metavar="PATH", default=None, help="scan these folders for AWS SDKs (PROBE_SDK_ROOT)")
    _target_options(watch)
    _common(watch, top=False)
    hl = sub.add_parser("health", help="exit 0/1 from a running sidecar's /healthz (for container health checks)")
    hl.add_argument("--url", default=None, help="the sidecar's health URL (default http://127.0.0.1:9471/healthz; PROBE_URL)")
    _common(hl, top=False)
    wt = sub.add_parser("wait", help="block until the task's credentials work (init containers, dependsOn SUCCESS)")
    wt.add_argument("--timeout", metavar="SECONDS", default=None, help="give up after this long (default 60; PROBE_TIMEOUT)")
    _common(wt, top=False)
    sdk = sub.add_parser("sdk", help="only scan filesystems for AWS SDKs and judge their versions")
    sdk.add_argument("roots", nargs="*", metavar="ROOT", help="folders to scan (default /)")
    _common(sdk, top=False)
    demo = sub.add_parser("demo", help="run the diagnosis against the built-in emulator, scenario by scenario")
    demo.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names (default: all)")
    demo.add_argument("--list", action="store_true", help="list the scenarios and exit")
    _common(demo, top=False)
    host = sub.add_parser("host", help="diagnose the ECS container instance (agent, ecs.config, iptables)")
    host.add_argument("--ecs-config", metavar="PATH", default=None, help="the agent's config file (default /etc/ecs/ecs.config; PROBE_ECS_CONFIG)")
    host.add_argument("--iptables-save", metavar="FILE", default=None, help="judge this iptables-save output instead of running iptables-save")
    _common(host, top=False)
    td = sub.add_parser("taskdef", help="lint a task definition (register JSON or describe-task-definition output)")
    td.add_argument("file", metavar="FILE|-")
    _common(td, top=False)
    # Parsed by probe/explain_command.py itself (see run_explain); listed here for --help.
    sub.add_parser("explain", help="explain AccessDenied messages in a log: who was denied, by which policy, what to change", add_help=False)
    # Parsed by probe/audit.py itself (see main); listed here for --help.
    sub.add_parser("audit", help="audit every ECS cluster of an account, read-only: instances, task definitions in use, task roles, stopped tasks", add_help=False)
    tr = sub.add_parser("trust", help="check a role's trust policy")
    which = tr.add_mutually_exclusive_group(required=True)
    which.add_argument("--role", metavar="NAME_OR_ARN", help="read the policy with IAM GetRole")
    which.add_argument("--policy-file", metavar="FILE", help="a trust policy document (or `aws iam get-role` output)")
    tr.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        default=_env_default("account"),
        help="the account the tasks run in, for aws:SourceAccount / aws:SourceArn conditions (default: the role's own, from its ARN)",
    )
    tr.add_argument("--cluster", metavar="NAME", default=_env_default("cluster"), help="the cluster the tasks run in, for aws:SourceArn conditions")
    _common(tr, top=False)
    return parser


def _target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("whose view (from a sidecar with pidMode task)")
    g.add_argument("--pid", metavar="PID", default=None, help="diagnose as process PID sees it: its environment, files and SDKs (PROBE_PID)")
    g.add_argument("--container", metavar="NAME", default=None, help="diagnose as that container's main process sees it (PROBE_CONTAINER)")


def _target(args: argparse.Namespace) -> Any:
    """The --pid / --container the user gave (or PROBE_PID / PROBE_CONTAINER), or None."""
    from probe.facts.target import TargetSpec, parse_pid

    pid = getattr(args, "pid", None)
    container = getattr(args, "container", None)
    if pid is None and container is None:
        pid, container = _env_default("pid"), _env_default("container")
        where = "PROBE_PID", "PROBE_CONTAINER"
    else:
        where = "--pid", "--container"
    if pid and container:
        raise UsageError(f"{where[0]} and {where[1]} name the same thing twice: give one")
    if pid:
        try:
            return TargetSpec(pid=parse_pid(str(pid)))
        except ValueError as exc:
            raise UsageError(str(exc).replace("--pid", where[0], 1)) from None
    if container:
        return TargetSpec(container=str(container).strip())
    return None


def _task_options(p: argparse.ArgumentParser) -> None:
    _target_options(p)
    p.add_argument(
        "--sdk-root",
        action="append",
        metavar="PATH",
        default=None,
        help="scan these folders for AWS SDKs instead of / and the other containers' roots (PROBE_SDK_ROOT: PATH[:PATH])",
    )
    p.add_argument("--save-facts", metavar="FILE", default=_env_default("save_facts"), help="also write the observed facts (redacted) to FILE")
    p.add_argument("--facts", metavar="FILE", default=_env_default("facts"), help="judge facts saved with --save-facts instead of observing (- for stdin)")


def _split_ids(value: Optional[str]) -> Optional[frozenset[str]]:
    if not value:
        return None
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def _resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Options with their PROBE_* defaults, validated."""
    json_env = str(_env_default("json", "")).lower() in ("1", "true", "yes", "on")
    fmt = args.format or _env_default("format") or ("json" if json_env else "text")
    if fmt not in ("text", "json"):
        where = "--format" if args.format else "PROBE_FORMAT=" + str(fmt)
        raise UsageError(f"{where}: must be text or json" if not args.format else f"--format must be text or json, not {fmt!r}")
    from_env = args.deadline is None and _env_default("deadline") is not None
    raw_deadline = args.deadline if args.deadline is not None else _env_default("deadline", DEFAULT_DEADLINE)
    name = f"PROBE_DEADLINE={raw_deadline}" if from_env else f"--deadline {raw_deadline}"
    try:
        deadline = float(raw_deadline)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: not a number of seconds") from None
    if not 0 < deadline <= 600:
        raise UsageError(f"{name}: must be between 0 and 600 seconds")
    output = args.output or _env_default("output")
    if output in ("json", "text", "table", "yaml"):
        # The AWS CLI's --output FORMAT habit: a file named "json" is never what was meant.
        raise UsageError(f"--output takes a file name (or - for stdout); for the report format use --format {output if output in ('json', 'text') else 'json'}")
    if output == "-":
        output = None

    def flag(name: str) -> bool:
        value = getattr(args, name, None)
        if value:
            return True
        return str(_env_default(name, "")).lower() in ("1", "true", "yes", "on")

    return {
        "format": fmt,
        "output": output,
        "deadline": deadline,
        "only": _split_ids(args.only if args.only is not None else _env_default("only")),
        "skip": _split_ids(args.skip if args.skip is not None else _env_default("skip")),
        "strict": flag("strict"),
        "no_color": flag("no_color") or bool(os.environ.get("NO_COLOR")),
        "expect_role": args.expect_role or _env_default("expect_role"),
        "verbose": flag("verbose"),
    }


def _check_ids(opts: dict[str, Any], mode: str) -> None:
    from probe import checks

    known = {c.id for c in checks.load(mode)}
    for key in ("only", "skip"):
        unknown = sorted((opts[key] or set()) - known)
        if unknown:
            raise UsageError(f"--{key}: unknown check id {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def use_color(opts: dict[str, Any], stdout: TextIO) -> bool:
    """Colour on a terminal, never with --no-color / NO_COLOR, always with FORCE_COLOR or
    CLICOLOR_FORCE (the conventions of no-color.org and bixense.com/clicolors)."""
    if opts["no_color"]:
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return not opts.get("output")
    return not opts.get("output") and hasattr(stdout, "isatty") and stdout.isatty() and os.environ.get("TERM") != "dumb"


def render(report: Any, opts: dict[str, Any], stdout: TextIO) -> str:
    """The report as text or JSON, with every secret this process has seen removed."""
    if opts["format"] == "json":
        from probe.render import json as json_render

        return json_render.render(report)
    from probe.render import text as text_render

    color = use_color(opts, stdout)
    return redact.scrub(text_render.render(report, color=color, verbose=opts["verbose"]))


def run_task(args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO) -> int:
    from probe import model, runner
    from probe.facts import Facts

    _check_ids(opts, "task")
    selection = runner.Selection(opts["only"], opts["skip"], opts["expect_role"])
    facts_file = getattr(args, "facts", None)
    target = _target(args)
    if facts_file and target is not None:
        raise UsageError("--facts judges saved facts; --pid and --container apply to a run that observes")
    if facts_file:
        try:
            if facts_file == "-":
                text = sys.stdin.read()
            else:
                with open(facts_file, encoding="utf-8") as fh:
                    text = fh.read(16 << 20)
            facts = Facts.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --facts {facts_file}: {getattr(exc, 'strerror', None) or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--facts {facts_file}: {exc}") from None
        report = runner.judge(facts, selection)
    else:
        roots = _sdk_roots(args)
        from probe.facts.target import TargetError

        try:
            facts, report = runner.diagnose_task(dict(os.environ), opts["deadline"], selection, sdk_roots=roots, target=target)
        except TargetError as exc:
            # Only a --pid or --container run raises it: there is a target to name.
            raise UsageError(f"{target.describe()}: {exc}" if target is not None else str(exc)) from None
    save = getattr(args, "save_facts", None)
    if save:
        try:
            with open(save, "w", encoding="utf-8") as fh:
                fh.write(facts.dumps())
        except OSError as exc:
            raise UsageError(f"cannot write --save-facts {save}: {exc.strerror or exc}") from None
    write_report(render(report, opts, stdout), opts.get("output"), stdout)
    return model.exit_code(report.results, strict=opts["strict"])


def _sdk_roots(args: argparse.Namespace) -> Optional[list[str]]:
    return getattr(args, "sdk_root", None) or [r for r in (_env_default("sdk_root") or "").split(os.pathsep) if r] or None


def _number(name: str, value: Any, default: float, low: float, high: float) -> float:
    raw = value if value is not None else _env_default(name, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be a number of seconds, not {raw!r}") from None
    if not low <= number <= high:
        raise UsageError(f"--{name} must be between {low:g} and {high:g}, not {raw}")
    return number


def run_watch(args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO, stderr: TextIO) -> int:
    from probe import runner, sidecar

    _check_ids(opts, "task")
    interval = _number("interval", args.interval, 60, 0.01, 86400)
    listen = args.listen or _env_default("listen") or sidecar.DEFAULT_LISTEN
    port = listen.rpartition(":")[2]
    if ":" not in listen or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen must be HOST:PORT with a port from 0 to 65535, not {listen!r}")
    emf = bool(args.emf) or str(_env_default("emf", "")).lower() in ("1", "true", "yes", "on")
    runs = int(_number("runs", args.runs, 0, 0, 10**9)) or None
    selection = runner.Selection(opts["only"], opts["skip"], opts["expect_role"])
    try:
        return sidecar.watch(
            dict(os.environ), interval, opts["deadline"], selection, listen, emf, stdout, stderr, runs, _sdk_roots(args),
            output=opts.get("output"), **_watch_target(args),
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}: {exc.strerror or exc}") from None


def _watch_target(args: argparse.Namespace) -> dict[str, Any]:
    """--pid/--container for the sidecar: checked once here (a typo is exit 2 at start);
    a target that cannot be read at a run makes that run's /healthz 503 with the reason."""
    target = _target(args)
    if target is None:
        return {}
    from probe.facts.target import TargetError, resolve

    if target.pid is not None:
        try:
            resolve(target)
        except TargetError as exc:
            raise UsageError(f"{target.describe()}: {exc}") from None
    return {"target": target}


def run_health(args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO) -> int:
    from probe import sidecar

    url = args.url or _env_default("url") or f"http://{sidecar.DEFAULT_LISTEN}/healthz"
    code, line = sidecar.health(url, min(opts["deadline"], 5.0))
    if opts["format"] == "json":
        import json

        doc = {"healthy": code == 0, "url": redact.mask_url(url), "message": line}
        stdout.write(redact.scrub(json.dumps(doc)) + "\n")
    else:
        stdout.write(redact.scrub(line) + "\n")
    return code


def run_wait(args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO, stderr: TextIO) -> int:
    from probe import sidecar

    _check_ids(opts, "task")
    timeout = _number("timeout", args.timeout, 60, 0, 86400)
    ok, report = sidecar.wait(dict(os.environ), timeout, opts["deadline"], opts["expect_role"], stderr)
    write_report(render(report, opts, stdout), opts.get("output"), stdout)
    return 0 if ok else 1


def run_other_mode(mode: str, args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO) -> int:
    """host, taskdef, trust: gather what the mode needs, then judge it like task mode."""
    import time

    from probe import model, runner
    from probe.facts import Facts, utc_now

    _check_ids(opts, mode)
    started = time.monotonic()
    options: dict[str, Any] = {}
    if mode == "host":
        from probe.facts.host import ECS_CONFIG, collect_host

        # --deadline bounds the whole run: the introspection request and iptables-save
        # end by then, leaving a moment to judge and render.
        until = started + max(0.2, opts["deadline"]) - 0.15
        data = {"host": collect_host(args.ecs_config or _env_default("ecs_config") or ECS_CONFIG, args.iptables_save, deadline=until)}
    elif mode == "taskdef":
        from probe.facts import taskdef

        try:
            if args.file == "-":
                text = sys.stdin.read(16 << 20)
            else:
                with open(args.file, encoding="utf-8", errors="replace") as fh:
                    text = fh.read(16 << 20)
            doc = taskdef.load(text)
            data = {"taskdef": {"source": args.file, "doc": doc, "schema": taskdef.validate(doc)}}
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"{args.file}: {exc}") from None
    else:
        from probe.facts import trust

        options["cluster"] = args.cluster
        if args.account and not (len(args.account.strip()) == 12 and set(args.account.strip()) <= set("0123456789")):
            raise UsageError(f"--account must be a 12-digit account id, not {args.account!r}")
        account = args.account.strip() if args.account else None
        if args.policy_file:
            try:
                data = {"trust": trust.from_file(args.policy_file, account)}
            except OSError as exc:
                raise UsageError(f"cannot read {args.policy_file}: {exc.strerror or exc}") from None
            except ValueError as exc:
                raise UsageError(f"{args.policy_file}: {exc}") from None
        else:
            data = {"trust": trust.from_iam(args.role, account, min(opts["deadline"], 5.0))}
    facts = Facts(data=data, collected_at=utc_now(), mode=mode, deadline=opts["deadline"], options=options)
    facts.duration_ms = int((time.monotonic() - started) * 1000)
    report = runner.judge(facts, runner.Selection(opts["only"], opts["skip"], opts["expect_role"]), mode)
    write_report(render(report, opts, stdout), opts.get("output"), stdout)
    return model.exit_code(report.results, strict=opts["strict"])


def run_sdk(args: argparse.Namespace, opts: dict[str, Any], stdout: TextIO) -> int:
    from probe import model, runner

    _check_ids(opts, "sdk")
    roots = list(args.roots) or ["/"]
    for root in roots:
        if not os.path.isdir(root):
            raise UsageError(f"not a folder: {root}")
    selection = runner.Selection(opts["only"], opts["skip"], opts["expect_role"])
    _facts, report = runner.diagnose_task(dict(os.environ), opts["deadline"], selection, sdk_roots=roots, mode="sdk")
    write_report(render(report, opts, stdout), opts.get("output"), stdout)
    return model.exit_code(report.results, strict=opts["strict"])


# Options that take a value: the word after them is no command.
_VALUED = {"--format", "--output", "--deadline", "--only", "--skip", "--expect-role", "--sdk-root", "--save-facts", "--facts",
           "--interval", "--listen", "--runs", "--url", "--timeout", "--ecs-config", "--iptables-save", "--role", "--policy-file",
           "--account", "--cluster", "--task-role", "--pid", "--container", "--region", "--since", "--concurrency"}


def _bare_words(argv: list[str]) -> list[str]:
    """The words of argv that are neither options nor option values."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--":
            break
        if a.startswith("-"):
            skip = a in _VALUED
            continue
        out.append(a)
    return out


def run_explain(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """`probe explain [FILE|-] [--json] [--task-role ROLE] [--in-task]`.

    ``--in-task`` runs the task diagnosis first: its summary is attached to every denial
    that is not the task role's, and the task role the credentials endpoint serves names
    the task role unless --task-role does."""
    from probe import explain_command as explain

    if "--in-task" not in argv:
        return explain.main(argv)
    argv = [a for a in argv if a != "--in-task"]
    from probe import runner

    try:
        deadline = float(_env_default("deadline", DEFAULT_DEADLINE))
    except ValueError:
        deadline = DEFAULT_DEADLINE
    try:
        facts, report = runner.diagnose_task(dict(os.environ), deadline, runner.Selection())
    except Exception as exc:  # the explanation still stands without the diagnosis
        stderr.write(redact.scrub(f"probe explain: the task diagnosis failed: {type(exc).__name__}: {exc}\n"))
        return explain.main(argv)
    summary = f"`probe` in this task: {report.verdict.value.upper()}: {report.summary}"
    if report.cause:
        summary += f" (first fix: see {report.cause.get('check')})"
    role = facts.get("credentials").get("role_arn")
    return explain.main(argv, in_task_summary=redact.scrub(summary), task_role_default=role if isinstance(role, str) else None)


def main(argv: Optional[Sequence[str]] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    out: TextIO = stdout or sys.stdout
    err: TextIO = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--print-sh"]:
        # The POSIX sh twin, shipped in the package: `probe --print-sh > /usr/local/bin/probe.sh`.
        import probe
        from shim.__main__ import print_sh

        return print_sh("probe.sh", probe.__name__)
    # `probe --json` means `probe task --json`: insert the default command. A first word that
    # is no command (and no option's value) is a typo: say so and suggest the nearest.
    words = _bare_words(argv)
    if words and words[0] not in COMMANDS:
        import difflib

        near = difflib.get_close_matches(words[0], COMMANDS, n=1)
        err.write(
            f"probe: unknown command {words[0]!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
            + f"; the commands are: {', '.join(COMMANDS)}\n"
        )
        return EXIT_USAGE
    if not any(a in COMMANDS for a in words) and not any(a in ("-h", "--help", "--version", "-V") for a in argv):
        argv = ["task"] + argv
    positional = [a for a in argv if not a.startswith("-")]
    if positional and positional[0] == "explain":
        return run_explain([a for a in argv if a != "explain"] if argv.count("explain") == 1 else argv[argv.index("explain") + 1 :], out, err)
    if positional and positional[0] == "audit":
        from probe import audit

        return audit.main([a for a in argv if a != "audit"] if argv.count("audit") == 1 else argv[argv.index("audit") + 1 :], out, err)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    command = args.command or "task"

    def dispatch() -> int:
        opts = _resolve(args)
        if command == "task":
            return run_task(args, opts, out)
        if command == "sdk":
            return run_sdk(args, opts, out)
        if command == "watch":
            return run_watch(args, opts, out, err)
        if command == "health":
            return run_health(args, opts, out)
        if command == "wait":
            return run_wait(args, opts, out, err)
        if command == "demo":
            from probe import demo

            # The demo runs whole scenarios: options that pick checks would be silently ignored.
            for key, flag in (("only", "--only"), ("skip", "--skip"), ("expect_role", "--expect-role")):
                if opts.get(key):
                    raise UsageError(f"probe demo runs whole scenarios; {flag} does not apply (name scenarios instead: probe demo --list)")
            return demo.run(args, opts, out, err)
        return run_other_mode(command, args, opts, out)

    return guarded("probe", err, dispatch)


def entry() -> None:
    """Console script: run, then leave at once even if a collector thread still hangs.

    Reports are flushed where they are written. With a worker still alive (a hanging
    endpoint, or a sidecar run blocked on a full stdout pipe) a final flush could block
    for ever, so the process ends without one.
    """
    code = main()
    if any(t.is_alive() and t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        os._exit(code)
    raise SystemExit(code)
