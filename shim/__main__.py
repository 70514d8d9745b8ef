"""shim: write the task's credential variables into the shell profiles, then exec COMMAND.

ECS hands AWS_CONTAINER_CREDENTIALS_RELATIVE_URI to PID 1 only. Processes started later
with a fresh environment (cron, su -, sshd, login shells, ECS Exec) never see it and their
SDKs fall back to the EC2 instance role. Use as ENTRYPOINT: ``["shim", "--", "app", ...]``.
Standard library only, so it adds milliseconds, not an interpreter's worth of imports.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import time
from typing import Mapping, Optional, Sequence

from shim import ENVIRONMENT, PROFILE_D, VARS, profile, uris

# A --var whose name looks like this makes the files private (0600).
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY$", re.IGNORECASE)


def say(message: str) -> None:
    sys.stderr.write(f"shim: {message}\n")
    sys.stderr.flush()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        say(message)
        say("usage: " + (self.usage or ""))
        raise SystemExit(2)


def _seconds(text: str) -> float:
    """--wait: plain decimal seconds, as the sh twin accepts (no nan, inf, sign or exponent)."""
    if not re.match(r"^\d+(\.\d+)?$", text):
        raise argparse.ArgumentTypeError(f"--wait needs a number of seconds, not {text}")
    return float(text)


def _version() -> str:
    try:
        from probe import __version__

        return __version__
    except ImportError:  # the shim copied alone into an image
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="shim",
        usage="shim [--profile PATH ...] [--no-default-profiles] [--environment-file [PATH]] [--var NAME ...] "
        "[--wait SECONDS] [--strict] [--] [COMMAND [ARG ...]]",
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
    p.add_argument("-V", "--version", action="version", version=f"shim (ecs-credential-probe) {_version()}")
    p.add_argument(
        "--print-sh", action="store_true",
        help="write the POSIX sh twin (for images without Python) to stdout and exit: shim --print-sh > /usr/local/bin/ecs-shim",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to exec (after --)")
    return p


def collect(environ: Mapping[str, str], extra: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The variables to carry (present ones, in a stable order) and messages about the rest."""
    notes = []
    values: dict[str, str] = {}
    for name in list(VARS) + [v for v in extra if v not in VARS]:
        if not profile.NAME.match(name):
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
    return uris.full_uri_accepted(parts.scheme, parts.hostname or "")


def credentials_url(environ: Mapping[str, str]) -> Optional[str]:
    """The URL the SDKs would ask, if it is safe to ask (as the probe decides)."""
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
# A control character in the token would let it carry extra header lines (or, for the sh
# twin, extra curl configuration); botocore refuses CR and LF, the shim every one of them.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def read_token(environ: Mapping[str, str]) -> tuple[Optional[str], Optional[str]]:
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
    if token and CONTROL.search(token):
        return None, "the authorization token holds a control character (CR, LF, NUL, ...), which no HTTP header can carry"
    return token or None, None


def _fetch_once(url: str, headers: Mapping[str, object], timeout: float, out: dict) -> None:
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
        conn = out.get("conn")
        if conn is not None:
            conn.close()


def _abandon(out: dict) -> None:
    """Unblock a worker stuck in a read: shut its socket down under it."""
    import socket

    sock = getattr(out.get("conn"), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def judge(out: dict) -> Optional[str]:
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


def wait_for_credentials(environ: Mapping[str, str], seconds: float) -> bool:
    """Poll the credentials endpoint until it serves usable credentials, or time runs out.

    The whole wait is bounded, not each read: every attempt runs in a worker thread that
    is abandoned (its socket shut down) when its time is up, so a silent, dripping or
    never-closing endpoint, a huge answer or a slow name lookup cannot hold the start.
    """
    import threading

    url = credentials_url(environ)
    if url is None:
        say("--wait: no usable credentials variable; not waiting")
        return False
    token, refused = read_token(environ)
    if refused:
        say(f"--wait: {refused}; not waiting")
        return False
    headers: dict = {"Accept": "application/json"}
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


def write_profiles(args: argparse.Namespace, values: Mapping[str, str], home: Optional[str]) -> list[str]:
    """Write every requested file; return the problems (a file that could not be written)."""
    private = any(SECRET_NAME.search(v) for v in args.var if v in values)
    mode = 0o600 if private else 0o644
    block = profile.render_block(values)
    problems = []
    targets: list[tuple[str, str, bool]] = []
    if not args.no_default_profiles:
        targets.append((PROFILE_D, block, True))
        if home:
            targets.append((os.path.join(home, ".profile"), block, False))
        else:
            problems.append("HOME is not set: ~/.profile not written")
    for path in args.profile:
        if path:  # --profile= (empty) is ignored, as by the sh twin
            targets.append((path, block, False))
    if args.environment_file:
        env_block, skipped = profile.render_environment_block(values)
        for name in skipped:
            say(f"not writing {name} to {args.environment_file}: pam_env cannot hold its value")
        targets.append((args.environment_file, env_block, False))
    for path, text, whole in targets:
        if whole and not os.path.isdir(os.path.dirname(path)):
            continue  # an image without /etc/profile.d: nothing reads it there
        try:
            profile.update_file(path, text, mode, whole=whole)
        except OSError as exc:
            problems.append(f"cannot write {path}: {exc.strerror or exc}")
    return problems


def _candidates(name: str) -> list[str]:
    """Where execvp (and a POSIX shell) would look for NAME, in order."""
    if "/" in name:
        return [name]
    path = os.environ.get("PATH", os.defpath)
    return [os.path.join(folder or ".", name) for folder in path.split(":")]


def exec_command(command: Sequence[str]) -> int:
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.print_sh:
        import shim

        return print_sh("ecs-shim.sh", shim.__name__)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    values, notes = collect(os.environ, args.var)
    for note in notes:
        say(note)
    problems = write_profiles(args, values, os.environ.get("HOME"))
    for problem in problems:
        say(problem)
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
