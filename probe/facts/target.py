"""Whose view a run takes: the probe's own process, or another process (`--pid`, `--container`).

From a sidecar with ``pidMode: task`` the application's processes are in the probe's PID
namespace. Their environment (/proc/PID/environ, as it was at exec time) and their
filesystem (/proc/PID/root) are readable to the same user, or to root with CAP_SYS_PTRACE.
A run "as PID N sees it" takes that environment for every variable it reads, that root for
every file it reads (token file, ~/.aws, the shim's profiles, the SDK scan) through a
RootFS that resolves links inside it and reads only what its user could read, and reports
whose view it was. Nothing of the target is run, and no process of the probe's gets its
environment. The network is the task's: the sidecar shares it.

Every failure to read the target is a ``TargetError`` whose message names the setting that
fixes it; it never ends in a traceback.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from probe import redact
from probe.facts.rootfs import Creds, RootFS, creds_of

MAX_ENVIRON = 1 << 20
_PID = re.compile(r"^[1-9][0-9]{0,9}$")
_HEX_ID = re.compile(r"^[0-9a-f]{12,64}$")

# What fixes each way of not seeing the application (ECS names first).
FIX_NAMESPACE = (
    'run the probe in the task with "pidMode": "task" in the task definition, so that it sees '
    "the other containers' processes"
)
FIX_PTRACE = (
    'give the probe\'s container CAP_SYS_PTRACE ("linuxParameters": {"capabilities": {"add": '
    '["SYS_PTRACE"]}}) and run it as root, or run it as the same user as the application'
)


class TargetError(Exception):
    """The target cannot be read; the message says why and what fixes it."""


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked for: a pid, or a container name (or id prefix)."""

    pid: Optional[int] = None
    container: Optional[str] = None

    def describe(self) -> str:
        return f"--pid {self.pid}" if self.pid is not None else f"--container {self.container}"


@dataclass
class Target:
    """A readable process whose view a run takes."""

    pid: int
    environ: dict[str, str]
    root: str
    cmdline: str
    uid: Optional[int] = None
    user: Optional[str] = None
    container: Optional[str] = None
    container_id: Optional[str] = None
    main_pid: Optional[int] = None
    notes: list[str] = field(default_factory=list)
    _fs: Optional[RootFS] = field(default=None, repr=False, compare=False)

    @property
    def fs(self) -> RootFS:
        """Its root, read as its user would (probe/facts/rootfs.py): every file a run
        reads for it goes through this."""
        if self._fs is None:
            self._fs = RootFS(self.root, creds_of(self.pid) or Creds(uid=self.uid if self.uid is not None else 65534, gids=frozenset(), bypass=False))
        return self._fs

    def home(self) -> Optional[str]:
        """The target's home as its SDK would expand ``~``: HOME, else its user's entry in
        the target's own /etc/passwd."""
        home = self.environ.get("HOME")
        if home:
            return home
        return _passwd_field(self, 5)

    def record(self) -> dict[str, Any]:
        """The report's ``target`` block (no secrets: the command line is masked as the
        process survey masks it)."""
        return {
            "pid": self.pid,
            "container": self.container,
            "container_id": self.container_id,
            "cmdline": self.cmdline,
            "user": self.user,
            "uid": self.uid,
            "main_pid": self.main_pid,
            "root": self.root,
            "notes": list(self.notes),
            # The agent gives the variable to every container of a task with a role: the
            # probe's own container having it says the task has one.
            "prober_has_variable": any(
                os.environ.get(n) for n in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
            ),
        }


def _read_environ(pid: int, proc: str) -> dict[str, str]:
    path = os.path.join(proc, str(pid), "environ")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_ENVIRON)
    except FileNotFoundError:
        raise TargetError(f"no process {pid} in the probe's PID namespace: {FIX_NAMESPACE}") from None
    except PermissionError:
        raise TargetError(f"cannot read {path}: {_why_denied(pid, proc)}") from None
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise TargetError(f"process {pid} ended while the probe looked") from None
        raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from None
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            env[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env


def _why_denied(pid: int, proc: str) -> str:
    from probe.facts.processes import unreadable_reason

    return unreadable_reason(pid, PermissionError(errno.EACCES, "Permission denied"), proc)


def _status_uid(pid: int, proc: str) -> Optional[int]:
    try:
        with open(os.path.join(proc, str(pid), "status"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _passwd_field(target: Target, index: int) -> Optional[str]:
    """A field of the target user's line in the target's /etc/passwd (5: home, 0: name)."""
    if target.uid is None:
        return None
    try:
        text = target.fs.read_text("/etc/passwd", 1 << 20) or ""
    except OSError:
        return "/root" if target.uid == 0 and index == 5 else ("root" if target.uid == 0 and index == 0 else None)
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2] == str(target.uid):
            return fields[index] or None
    return None


def _cmdline(pid: int, proc: str) -> str:
    from probe.facts.processes import _cmdline as masked

    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as fh:
            raw = fh.read(4096)
    except OSError:
        return ""
    parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0") if p]
    return masked(parts)


def _containers_by_name(containers: Optional[Mapping[str, str]], name: str) -> list[str]:
    return [cid for cid, cname in (containers or {}).items() if cname == name]


def find_container(name: str, containers: Optional[Mapping[str, str]], proc: str = "/proc") -> int:
    """The main process of the container called ``name`` in task metadata (or whose id
    starts with ``name``), found through each process's cgroup."""
    from probe.facts.processes import _container_of, container_main

    ids = _containers_by_name(containers, name)
    if not ids and _HEX_ID.match(name):
        ids = [name]
    if not ids:
        known = ", ".join(sorted(set((containers or {}).values()))) or "none (task metadata was not read)"
        raise TargetError(
            f"no container named {name!r} in this task (containers in task metadata: {known}); "
            "give its name from the task definition, or a container id of 12 or more hex digits"
        )
    members: list[int] = []
    try:
        names = os.listdir(proc)
    except OSError as exc:
        raise TargetError(f"cannot list {proc}: {exc.strerror or exc}") from None
    for entry in names:
        if not entry.isdigit():
            continue
        cid = _container_of(int(entry), proc)
        if cid and any(cid.startswith(i) or i.startswith(cid) for i in ids):
            members.append(int(entry))
    if not members:
        raise TargetError(
            f"no process of container {name!r} is visible from here: {FIX_NAMESPACE} "
            "(and the container must be running)"
        )
    first = min(members)
    return container_main(first, proc, containers) or first


def resolve(spec: TargetSpec, containers: Optional[Mapping[str, str]] = None, proc: str = "/proc") -> Target:
    """Read the target's view, or raise TargetError with the fix."""
    from probe.facts.processes import _container_of, container_main, container_name

    if spec.pid is not None:
        pid = spec.pid
    else:
        pid = find_container(str(spec.container), containers, proc)
    if pid == os.getpid():
        raise TargetError(f"{spec.describe()} names the probe itself; run the probe without it")
    environ = _read_environ(pid, proc)
    # The environment is the application's: its secrets are masked like the probe's own.
    redact.register_env(environ)
    root = os.path.join(proc, str(pid), "root")
    try:
        os.stat(os.path.join(root, ""))
    except PermissionError:
        raise TargetError(f"cannot read {root}: {_why_denied(pid, proc)}") from None
    except OSError as exc:
        raise TargetError(f"cannot read {root}: {exc.strerror or exc}") from None
    cid = _container_of(pid, proc)
    name = spec.container if spec.container and not _HEX_ID.match(spec.container) else None
    if name is None and cid:
        name = container_name(cid, containers)
    target = Target(
        pid=pid,
        environ=environ,
        root=root,
        cmdline=_cmdline(pid, proc),
        uid=_status_uid(pid, proc),
        container=name,
        container_id=cid[:12] if cid else None,
    )
    # Its container's main process plays PID 1's part (with pidMode task PID 1 is ECS's
    # pause process): the first process its runtime started, not merely its oldest ancestor
    # in the container (a process `docker exec` or ECS Exec started has none).
    target.main_pid = container_main(pid, proc, containers)
    if target.main_pid is None:
        target.notes.append("its container's first process is unknown: its own environment stands for it")
        target.main_pid = pid
    elif not cid:
        target.notes.append("no container id in its cgroup: its container is the processes that share its root")
    target.user = _passwd_field(target, 0)
    return target


def parse_pid(value: str) -> int:
    """--pid's value, or ValueError with the reason."""
    value = value.strip()
    if not _PID.match(value):
        raise ValueError(f"--pid must be a process id (a positive number), not {value!r}")
    return int(value)
