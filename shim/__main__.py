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


def wait_for_credentials(environ: Mapping[str, str], seconds: float) -> bool:
    """Poll the credentials endpoint until it serves usable credentials, or time runs out."""
    # Imported here: urllib.request alone costs more than the rest of the shim's start.
    import json
    import urllib.error
    import urllib.request

    url = credentials_url(environ)
    if url is None:
        say("--wait: no usable credentials variable; not waiting")
        return False
    headers = {"Accept": "application/json"}
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    path = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if path:
        try:
            # Like the sh twin's $(cat FILE): trailing newlines dropped; a FIFO refused.
            token = (profile.read_nofollow(path, 65536, follow=True) or "").rstrip("\n")
        except OSError as exc:
            say(f"--wait: cannot read {path}: {exc.strerror}")
    if token and "\n" not in token and "\r" not in token:
        headers["Authorization"] = token
    # The agent's endpoint must be reached directly, whatever proxy the app uses.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + seconds
    last = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            say(f"--wait: no credentials after {seconds:g} s ({last})")
            return False
        try:
            req = urllib.request.Request(url, headers=headers)
            with opener.open(req, timeout=min(1.0, max(0.1, remaining))) as resp:
                doc = json.loads(resp.read(65536).decode("utf-8"))
            if isinstance(doc, dict) and all(doc.get(k) for k in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")):
                return True
            last = "an answer without credentials"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except Exception as exc:  # whatever the endpoint does, the app must still start
            last = type(exc).__name__
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


def exec_command(command: Sequence[str]) -> int:
    """exec COMMAND in place of this process (it keeps our PID); returns only on failure.

    Like a POSIX shell (and so the sh twin): a file without a #! line is run by /bin/sh.
    """
    try:
        try:
            os.execvp(command[0], list(command))
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                raise
            os.execv("/bin/sh", ["/bin/sh", *command])
    except FileNotFoundError:
        say(f"{command[0]}: command not found")
        return 127
    except PermissionError:
        say(f"{command[0]}: permission denied (not executable)")
        return 126
    except OSError as exc:
        say(f"{command[0]}: cannot execute: {exc.strerror or exc}")
        return 126
    return 126  # not reached


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
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
