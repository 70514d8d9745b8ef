"""The shim's profile files against PID 1's environment (values compared, never kept)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional

from probe.facts.rootfs import RootFS
from shim import ENVIRONMENT, PROFILE_D, VARS
from shim.profile import ENV_FILE_SAFE, read_block


def pid1_environ(proc: str = "/proc", pid: int = 1) -> tuple[Optional[dict[str, str]], Optional[str]]:
    """PID 1's (or the container's main process's) environment as it was at exec time,
    or why it cannot be read."""
    path = os.path.join(proc, str(pid), "environ")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            env[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env, None


def collect_shim(
    home: Optional[str],
    proc: str = "/proc",
    paths: Optional[Iterable[str]] = None,
    main_pid: int = 1,
    fs: Optional[RootFS] = None,
    self_pid: Optional[int] = None,
) -> dict[str, Any]:
    """For each shim block found: which variables it holds and whether each equals PID 1's.

    `--pid`: ``main_pid`` is the target container's main process, ``fs`` its root (the
    profiles are read there, as its user would), ``self_pid`` is the target."""
    fs = fs or RootFS()
    if paths is None:
        paths = [PROFILE_D] + ([os.path.join(home, ".profile")] if home else []) + [ENVIRONMENT]
    env, error = pid1_environ(proc, main_pid)
    files = []
    for path in paths:
        try:
            # The shim writes regular files; a link there is not its (never followed).
            text = fs.read_text(path, 1 << 20, follow_last=False)
        except OSError as exc:
            files.append({"path": path, "error": str(exc)})
            continue
        block = read_block(text) if text is not None else None
        if block is None:
            continue
        entry: dict[str, Any] = {"path": path, "vars": {}}
        for name, value in block.items():
            entry["vars"][name] = {
                "in_pid1": env is not None and name in env,
                "equal": env is not None and env.get(name) == value,
            }
        if env is not None:
            # /etc/environment only holds values pam_env can (the shim skips the others).
            plain = path == ENVIRONMENT
            entry["missing"] = [
                n for n in VARS if n in env and n not in block and not (plain and not ENV_FILE_SAFE.match(env[n]))
            ]
        files.append(entry)
    return {
        "files": files,
        "pid1_readable": env is not None,
        "pid1_error": error,
        "self_is_pid1": (os.getpid() if self_pid is None else self_pid) == main_pid,
    }
