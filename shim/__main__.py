"""shim: write the task's credential variables into the shell profiles, then exec COMMAND.

ECS hands AWS_CONTAINER_CREDENTIALS_RELATIVE_URI to PID 1's environment. Processes started
later from a fresh environment (cron jobs, su -, sudo -i, sshd sessions, env -i) never see it
and their SDKs fall back to the EC2 instance role (supervisord programs, sh -l and ECS Exec
shells inherit it). Use as ENTRYPOINT: ``["shim", "--environment-file", "--", "app", ...]``:
cron reads no profile, only /etc/environment (pam_env).
Standard library only, so it adds milliseconds, not an interpreter's worth of imports.
"""

import errno
import os
import sys

from shim import ENVIRONMENT, PROFILE_D, VARS, profile

TYPE_CHECKING = False
# Annotations naming these are strings: no `from __future__ import annotations`, whose module
# is one more file to import at every container start.
if TYPE_CHECKING:  # annotations only (typing, argparse, re cost the start milliseconds)
    import argparse
    from typing import Mapping, NoReturn, Optional, Sequence, Union

# A --var whose name holds one of these (or ends in _KEY) makes the files private (0600).
SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE")


def secret_name(name: str) -> bool:
    """Whether a --var name looks like a secret's (the sh twin's case patterns)."""
    upper = name.upper()
    return upper.endswith("_KEY") or any(word in upper for word in SECRET_WORDS)


def say(message: str) -> None:
    sys.stderr.write(f"shim: {message}\n")
    sys.stderr.flush()


def _seconds(text: str) -> float:
    """--wait: plain decimal seconds, as the sh twin accepts (no nan, inf, sign or exponent)."""
    import argparse
    import re

    if not re.match(r"^\d+(\.\d+)?$", text):
        raise argparse.ArgumentTypeError(f"--wait needs a number of seconds, not {text}")
    return float(text)


def _version() -> str:
    try:
        from probe import __version__

        return __version__
    except ImportError:  # the shim copied alone into an image
        return "unknown"


USAGE = (
    "shim [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]] [--var NAME ...] "
    "[--wait SECONDS] [--strict] [--dry-run] [--] [COMMAND [ARG ...]]"
)


def build_parser() -> "argparse.ArgumentParser":
    """The command line's one definition: --help, abbreviations and every error come from here."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> "NoReturn":
            say(message)
            say("usage: " + (self.usage or ""))
            raise SystemExit(2)

    p = _Parser(
        prog="shim",
        usage=USAGE,
        description="Write the container's credential variables into shell profiles, then exec COMMAND as PID 1.",
    )
    p.add_argument("--profile", action="append", default=[], metavar="PATH", help="also write this file (a marked block)")
    p.add_argument("--no-default-profiles", action="store_true", help=f"do not write {PROFILE_D} and ~/.profile")
    p.add_argument(
        "--environment-file", nargs="?", const=ENVIRONMENT, default=None, metavar="PATH",
        help=f"also write a block to PATH (default {ENVIRONMENT}), read by pam_env: cron, su",
    )
    p.add_argument("--var", action="append", default=[], metavar="NAME", help="also carry this variable")
    p.add_argument("--wait", type=_seconds, default=None, metavar="SECONDS", help="wait until the credentials endpoint serves credentials")
    p.add_argument("--strict", action="store_true", help="exit 1 instead of starting when a profile cannot be written or --wait times out")
    p.add_argument(
        "--dry-run", action="store_true",
        help="print each file and the block it would get (the credentials id masked), then exit 0: nothing written, no wait, COMMAND not started",
    )
    p.add_argument("-V", "--version", action="version", version=f"shim (ecs-credential-probe) {_version()}")
    p.add_argument(
        "--print-sh", action="store_true",
        help="write the POSIX sh twin (for images without Python) to stdout and exit: shim --print-sh > /usr/local/bin/ecs-shim",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to exec (after --)")
    return p


def collect(environ: "Mapping[str, str]", extra: "Sequence[str]") -> tuple[dict[str, str], list[str]]:
    """The variables to carry (present ones, in a stable order) and messages about the rest."""
    notes = []
    values: dict[str, str] = {}
    for name in list(VARS) + [v for v in extra if v not in VARS]:
        if not profile.is_name(name):
            notes.append(f"ignoring --var '{name}': not a variable name")
            continue
        if name not in environ:
            continue
        value = environ[name]
        if profile.BEGIN in value or profile.END in value:
            notes.append(f"not writing {name}: its value contains the shim's block marker")
            continue
        values[name] = value
    return values, notes


def _allowed_full(url: str) -> bool:
    """The SDKs' rule (shim.uris): anything else would get the authorization token sent in
    the clear to a host the SDKs refuse."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return False
    from shim import uris

    return uris.full_uri_accepted(parts.scheme, parts.hostname or "")


def credentials_url(environ: "Mapping[str, str]") -> "Optional[str]":
    """The URL the SDKs would ask, if it is safe to ask (as the probe decides)."""
    from shim import uris

    rel = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if rel is not None:
        return f"http://{uris.ECS_CREDENTIALS_HOST}{rel}" if uris.PLAIN_PATH.match(rel) else None
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if full and _allowed_full(full):
        return full
    return None


# The most a --wait attempt reads of an answer (credentials JSON is about 1.3 KiB), and the
# longest one attempt may take: a stalled agent is asked again, not waited on.
MAX_ANSWER = 65536
ATTEMPT_SECONDS = 1.0


def has_control(text: str) -> bool:
    """A control character (U+0000-U+001F, U+007F) in the token would let it carry extra
    header lines (or, for the sh twin, extra curl configuration); botocore refuses CR and
    LF, the shim every one of them."""
    return any(c < " " or c == "\x7f" for c in text)


def read_token(environ: "Mapping[str, str]") -> "tuple[Optional[str], Optional[str]]":
    """The authorization token the SDKs would send, or a reason not to wait."""
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    path = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if path:
        try:
            # Like the sh twin's $(cat FILE): trailing newlines dropped; a FIFO refused.
            text = profile.read_nofollow(path, MAX_ANSWER + 1, follow=True)
        except OSError as exc:
            say(f"--wait: cannot read {path}: {exc.strerror}")
            text = None
        if text is not None and len(text.encode("utf-8", "surrogateescape")) > MAX_ANSWER:
            return None, f"{path} is larger than {MAX_ANSWER} bytes, not an authorization token"
        if text is not None:
            token = text.rstrip("\n")
    if token and has_control(token):
        return None, "the authorization token holds a control character (CR, LF, NUL, ...), which no HTTP header can carry"
    return token or None, None


def _fetch_once(url: str, headers: "Mapping[str, Union[str, bytes]]", timeout: float, out: dict) -> None:
    """One GET, no proxy, no redirect followed (http.client never follows one), at most
    MAX_ANSWER bytes read. Runs in a worker thread: ``out`` gets "status" and "body", or
    "error"; "conn" lets the caller close the socket under it."""
    import http.client
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=timeout)
        out["conn"] = conn
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request("GET", target, headers=dict(headers))
        resp = conn.getresponse()
        out["status"] = resp.status
        out["body"] = resp.read(MAX_ANSWER + 1) if resp.status == 200 else b""
    except Exception as exc:  # whatever the endpoint does, the app must still start
        out["error"] = type(exc).__name__
    finally:
        opened = out.get("conn")
        if opened is not None:
            opened.close()


def _abandon(out: dict) -> None:
    """Unblock a worker stuck in a read: shut its socket down under it."""
    import socket

    sock = getattr(out.get("conn"), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def judge(out: dict) -> "Optional[str]":
    """None when the answer carries usable credentials, else what was wrong with it."""
    import json

    if "error" in out:
        return out["error"]
    status = out.get("status")
    if status is None:
        return "no answer in time"
    if 300 <= status < 400:
        return f"HTTP {status}: a redirect, never followed"
    if status != 200:
        return f"HTTP {status}"
    body = out.get("body", b"")
    if len(body) > MAX_ANSWER:
        return f"an answer larger than {MAX_ANSWER} bytes"
    try:
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return "an answer that is not JSON"
    if isinstance(doc, dict) and all(isinstance(doc.get(k), str) and doc.get(k) for k in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")):
        return None
    return "an answer without credentials"


def wait_for_credentials(environ: "Mapping[str, str]", seconds: float) -> bool:
    """Poll the credentials endpoint until it serves usable credentials, or time runs out.

    The whole wait is bounded, not each read: every attempt runs in a worker thread that
    is abandoned (its socket shut down) when its time is up, so a silent, dripping or
    never-closing endpoint, a huge answer or a slow name lookup cannot hold the start.
    """
    import threading
    import time

    url = credentials_url(environ)
    if url is None:
        say("--wait: no usable credentials variable; not waiting")
        return False
    token, refused = read_token(environ)
    if refused:
        say(f"--wait: {refused}; not waiting")
        return False
    headers: dict[str, Union[str, bytes]] = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = token.encode("utf-8", "surrogateescape")
    deadline = time.monotonic() + seconds
    last = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            say(f"--wait: no credentials after {seconds:g} s ({last})")
            return False
        budget = min(ATTEMPT_SECONDS, remaining)
        out: dict = {}
        worker = threading.Thread(target=_fetch_once, args=(url, headers, budget, out), daemon=True)
        worker.start()
        worker.join(budget)
        if worker.is_alive():
            _abandon(out)
            last = "no complete answer in time"
        else:
            problem = judge(out)
            if problem is None:
                return True
            last = problem
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


class Target:
    """One file to write: its path, the block it gets, the names in that block, whether it is
    written whole; or, with ``skip``, why it is not written (``problem``: a failure that
    ``--strict`` refuses, else an image without the folder: nothing would read the file)."""

    __slots__ = ("path", "block", "whole", "names", "notes", "skip", "problem", "environment")

    def __init__(self, path: str, block: str = "", whole: bool = False, names: "Sequence[str]" = (), notes: "Sequence[str]" = (), skip: str = "", problem: bool = False, environment: bool = False) -> None:
        self.path = path
        self.environment = environment
        self.block = block
        self.whole = whole
        self.names = list(names)
        self.notes = list(notes)
        self.skip = skip
        self.problem = problem


def file_mode(args: "Options", values: "Mapping[str, str]") -> int:
    """0600 when a --var carried looks like a secret, else 0644."""
    return 0o600 if any(secret_name(v) for v in args.var if v in values) else 0o644


def targets(args: "Options", values: "Mapping[str, str]", home: "Optional[str]") -> "list[Target]":
    """Every file the command line asks for, in the order they are written (both shims)."""
    block = profile.render_block(values)
    names = list(values)
    out = []
    if not args.no_default_profiles:
        folder = os.path.dirname(PROFILE_D)
        if os.path.isdir(folder):
            out.append(Target(PROFILE_D, block, True, names))
        else:
            out.append(Target(PROFILE_D, skip=f"{folder} does not exist"))
        if home:
            out.append(Target(os.path.join(home, ".profile"), block, False, names))
        else:
            out.append(Target("~/.profile", skip="HOME is not set: ~/.profile not written", problem=True))
    for path in args.profile:
        if path:  # --profile= (empty) is ignored, as by the sh twin
            out.append(Target(path, block, False, names))
    if args.environment_file:
        env_block, skipped = profile.render_environment_block(values)
        notes = [f"not writing {name} to {args.environment_file}: pam_env cannot hold its value" for name in skipped]
        out.append(Target(args.environment_file, env_block, False, [n for n in names if n not in skipped], notes, environment=True))
    return out


def _written(names: "Sequence[str]") -> str:
    return " ".join(names) if names else "no variables"


def write_profiles(args: "Options", values: "Mapping[str, str]", home: "Optional[str]", report: bool = False) -> list[str]:
    """Write every requested file; return the problems (a file that could not be written).

    A file already as it would be written is left alone. ``report``: say on stderr, one
    line per file, what was written (a bare ``shim``, which starts no command).
    """
    mode = file_mode(args, values)
    problems = []
    for target in targets(args, values, home):
        for note in target.notes:
            say(note)
        if target.skip:
            if target.problem:
                say(target.skip)
                problems.append(target.skip)
            continue
        try:
            wrote = profile.update_file(target.path, target.block, mode, whole=target.whole)
        except OSError as exc:
            problem = f"cannot write {target.path}: {exc.strerror or exc}"
            say(problem)
            problems.append(problem)
            continue
        if report:
            say(f"{'wrote' if wrote else 'unchanged'} {target.path}: {_written(target.names)}")
    return problems


def dry_run(args: "Options", values: "Mapping[str, str]", home: "Optional[str]", command: "Sequence[str]") -> int:
    """Print what the shim would write and where, values masked as the probe masks them;
    write nothing, wait for nothing, start nothing."""
    from shim import mask

    shown = {name: mask.shown(name, value, name in args.var and secret_name(name)) for name, value in values.items()}
    mode = file_mode(args, values)
    kept = "owner kept; group and others lose access" if mode == 0o600 else "owner and mode kept"
    lines = []
    for target in targets(args, values, home):
        for note in target.notes:
            say(note)
        if target.skip:
            if target.problem:
                say(target.skip)
            else:
                lines.append(f"would not write {target.path}: {target.skip}")
            continue
        try:
            action = profile.plan_file(target.path, target.block, mode, target.whole).action
        except OSError as exc:
            lines.append(f"could not write {target.path}: {exc.strerror or exc}")
            continue
        lines.append({
            "whole": f"would write {target.path} (the whole file, mode {mode:04o}):",
            "new": f"would create {target.path} with the block (mode {mode:04o}):",
            "replace": f"would replace the block in {target.path} ({kept}):",
            "append": f"would add the block to {target.path} ({kept}):",
            "unchanged": f"would leave {target.path} as it is (up to date):",
        }[action])
        if target.environment:  # pam_env's plain NAME=value lines, as written
            lines += [profile.BEGIN, *(f"{name}={shown[name]}" for name in target.names), profile.END]
        else:
            lines.append(profile.render_block({name: shown[name] for name in target.names}).rstrip("\n"))
    if args.wait is not None:
        lines.append(f"would wait up to {args.wait:g} s for the credentials endpoint")
    lines.append("dry run: nothing written" + (f"; not started: {command[0]}" if command else ""))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0


def _candidates(name: str) -> list[str]:
    """Where execvp (and a POSIX shell) would look for NAME, in order."""
    if "/" in name:
        return [name]
    path = os.environ.get("PATH", os.defpath)
    return [os.path.join(folder or ".", name) for folder in path.split(":")]


def exec_command(command: "Sequence[str]") -> int:
    """exec COMMAND in place of this process (it keeps our PID); returns only on failure.

    Like a POSIX shell (and so the sh twin, and glibc's execvp): PATH is searched in order,
    and a file found there without a #! line is run by /bin/sh, given the path it was found at.
    """
    name = command[0]
    if not name:
        say("'': command not found (the command name is empty)")
        return 127
    argv = list(command)
    denied: Optional[OSError] = None
    for path in _candidates(name):
        try:
            try:
                os.execv(path, argv)
            except OSError as exc:
                if exc.errno != errno.ENOEXEC:
                    raise
                os.execv("/bin/sh", ["/bin/sh", path, *argv[1:]])
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as exc:
            denied = denied or exc  # as execvp: remember it, try the rest of PATH
            continue
        except OSError as exc:
            say(f"{name}: cannot execute: {exc.strerror or exc}")
            return 126
    if denied is not None:
        say(f"{name}: permission denied (not executable)")
        return 126
    say(f"{name}: command not found")
    return 127


def print_sh(name: str, package: str) -> int:
    """Write a twin shipped as package data to stdout (bytes as they are)."""
    path = os.path.join(os.path.dirname(os.path.abspath(sys.modules[package].__file__ or "")), name)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        sys.stderr.write(f"{package}: cannot read {name} from the installed package: {exc.strerror or exc}\n")
        return 2
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        out.write(data)
        out.flush()
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


class Options:
    """The command line, as argparse's Namespace would hold it (``command`` without a leading --)."""

    def __init__(self) -> None:
        self.profile: list[str] = []
        self.no_default_profiles = False
        self.environment_file: Optional[str] = None
        self.var: list[str] = []
        self.wait: Optional[float] = None
        self.strict = False
        self.dry_run = False
        self.print_sh = False
        self.command: list[str] = []


_FLAGS = {"--no-default-profiles": "no_default_profiles", "--strict": "strict", "--dry-run": "dry_run"}
_VALUED = ("--profile", "--var", "--wait", "--environment-file")


def _plain_seconds(text: str) -> bool:
    """_seconds' rule for the values it surely accepts: ASCII digits, at most one dot inside."""
    whole, dot, fraction = text.partition(".")
    return text.isascii() and whole.isdigit() and (not dot or fraction.isdigit())


def parse_fast(argv: "Sequence[str]") -> "Optional[Options]":
    """The usual command lines (exact option names, well-formed values), parsed exactly as
    argparse parses them, without importing it (a few milliseconds of every container
    start). None for anything else (help, abbreviations, errors, odd values): argparse
    then parses it, so every answer but these comes from ``build_parser``.
    """
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest = list(argv[i + 1 :])
            if rest and rest[0] == "--":
                return None  # argparse versions differ on a second --
            opts.command = rest
            return opts
        if not arg.startswith("-"):
            if not arg:
                return None
            opts.command = list(argv[i:])
            return opts
        name, eq, value = arg.partition("=")
        if name in _FLAGS and not eq:
            setattr(opts, _FLAGS[name], True)
            i += 1
            continue
        if name not in _VALUED:
            return None
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if name == "--environment-file" and not eq:
            if nxt is None or nxt == "--" or nxt.partition("=")[0] in _FLAGS or nxt.partition("=")[0] in _VALUED:
                opts.environment_file = ENVIRONMENT  # nargs="?": the option's const
                i += 1
                continue
            if not nxt or nxt.startswith("-"):
                return None
        if not eq:
            if nxt is None or nxt.startswith("-"):
                return None
            value = nxt
            i += 1
        i += 1
        if name == "--profile":
            opts.profile.append(value)
        elif name == "--var":
            opts.var.append(value)
        elif name == "--environment-file":
            opts.environment_file = value
        elif _plain_seconds(value):
            opts.wait = float(value)
        else:
            return None
    return opts


def parse_args(argv: "Sequence[str]") -> "Options":
    """The command line: parse_fast's answer, or argparse's for everything else."""
    fast = parse_fast(argv)
    if fast is not None:
        return fast
    args = build_parser().parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    args.command = command
    return args  # type: ignore[return-value]  # the same attributes


def main(argv: "Optional[Sequence[str]]" = None) -> int:
    """Write the profiles (or, with --dry-run, show them), wait if asked, then exec COMMAND;
    returns only when there is no command or it cannot be started."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.print_sh:
        import shim

        return print_sh("ecs-shim.sh", shim.__name__)
    command = args.command
    values, notes = collect(os.environ, args.var)
    for note in notes:
        say(note)
    home = os.environ.get("HOME")
    if args.dry_run:
        return dry_run(args, values, home, command)
    # With a command, stderr is the application's: the shim says only what went wrong.
    problems = write_profiles(args, values, home, report=not command)
    if problems and args.strict:
        return 1
    if args.wait is not None and not wait_for_credentials(os.environ, args.wait):
        if args.strict:
            return 1
        say("starting anyway")
    if not command:
        return 0
    return exec_command(command)


def entry() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    entry()
