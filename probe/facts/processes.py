"""Every process of the probe's PID namespace: does it have the credentials variable, and
would its own proxy settings send the credentials host through a proxy?

Values are compared here and dropped; the record keeps names, booleans and masked forms.
With ``pidMode: task`` a sidecar sees the processes of every container of the task; the
container a process belongs to is told from its cgroup (the Docker id), named through
task metadata when available.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional

from probe import redact
from probe.facts import proxy as proxy_facts
from probe.facts.environ import FULL, RELATIVE, credentials_target

MAX_PROCESSES = 2000
_DOCKER_ID = re.compile(r"([0-9a-f]{64})|/ecs/[0-9a-f]{32}/([0-9a-f]{32}-\d+)")
_SEARCH_VARS = ("PYTHONPATH", "NODE_PATH", "GEM_PATH", "GEM_HOME", "RUBYLIB")
_SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".py", ".jar", ".war", ".rb", ".php", ".dll")
_SECRET_ARG = re.compile(r"((?:secret|token|password|passwd|key)[\w-]*=)(\S+)", re.IGNORECASE)


def _container_of(pid: int, proc: str) -> Optional[str]:
    try:
        with open(os.path.join(proc, str(pid), "cgroup"), encoding="utf-8", errors="replace") as fh:
            text = fh.read(8192)
    except OSError:
        return None
    found = None
    for m in _DOCKER_ID.finditer(text):
        found = m.group(1) or m.group(2)
    return found


def container_name(cid: str, containers: Optional[Mapping[str, str]]) -> Optional[str]:
    """The task-metadata name of the container whose (full or short) id is ``cid``."""
    return next((name for key, name in (containers or {}).items() if key.startswith(cid) or cid.startswith(key)), None)


def _cmdline(parts: list[str]) -> str:
    text = " ".join(parts)[:300]
    return _SECRET_ARG.sub(lambda m: m.group(1) + redact.MASK, text)


def _paths(p: Any, cmd: list[str]) -> dict[str, Any]:
    """The program, working folder and path arguments: what tells which SDK a process uses."""
    import psutil

    out: dict[str, Any] = {}
    for key, getter in (("exe", p.exe), ("cwd", p.cwd)):
        try:
            out[key] = getter() or None
        except (psutil.Error, OSError):
            out[key] = None
    out["argv0"] = cmd[0][:300] if cmd else None
    cwd = out.get("cwd") or ""
    paths: list[str] = []
    for arg in cmd[1:]:
        if _SECRET_ARG.search(arg):
            continue
        for part in arg.split(":") if ":" in arg and not arg.startswith(("http:", "https:")) else [arg]:
            if "/" in part or part.endswith(_SCRIPT_SUFFIXES):
                full = part if part.startswith("/") else (os.path.normpath(os.path.join(cwd, part)) if cwd else "")
                if full:
                    paths.append(full[:300])
        if len(paths) >= 20:
            break
    out["paths"] = paths[:20]
    return out


def _ancestors(psutil: Any, pid: int) -> set[int]:
    """The probe's parent, grandparent, ... up to (not including) PID 1."""
    out: set[int] = set()
    try:
        proc = psutil.Process(pid).parent()
        while proc is not None and proc.pid > 1 and proc.pid not in out and len(out) < 64:
            out.add(proc.pid)
            proc = proc.parent()
    except psutil.Error:
        pass
    return out


def _hidepid(proc: str) -> bool:
    try:
        with open(os.path.join(proc, "self", "mountinfo"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and fields[4] == proc and ("hidepid=" in line or "subset=pid" in line):
                    return "hidepid=0" not in line and "hidepid=off" not in line
    except OSError:
        pass
    return False


def _has_cap_sys_ptrace(proc: str) -> Optional[bool]:
    try:
        with open(os.path.join(proc, "self", "status"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 19))
    except (OSError, ValueError, IndexError):
        pass
    return None


def unreadable_reason(pid: int, exc: BaseException, proc: str = "/proc") -> str:
    """Why another process's environment cannot be read, with the setting that fixes it."""
    if type(exc).__name__ in ("NoSuchProcess", "ZombieProcess"):
        return "it ended while the probe looked"
    if _hidepid(proc):
        return f"{proc} is mounted with hidepid: other users' processes are hidden (mount it without hidepid, or run the probe as root)"
    try:
        owner = os.stat(os.path.join(proc, str(pid))).st_uid
    except OSError:
        owner = None
    euid = os.geteuid()
    if euid != 0 and owner is not None and owner != euid:
        return (
            f"it belongs to uid {owner} and the probe runs as uid {euid}: run the probe as that user or as root "
            '(in ECS: "user": "0" in the probe\'s container definition)'
        )
    if euid == 0 and _has_cap_sys_ptrace(proc) is False:
        return (
            "permission denied even as root: the container lacks CAP_SYS_PTRACE "
            '(add it: "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"]}})'
        )
    if euid == 0:
        return (
            "permission denied even as root with CAP_SYS_PTRACE: it is in another user namespace (outside a "
            "container, PID 1 is the machine's own init), or a security module (AppArmor, SELinux) forbids it"
        )
    return (
        "permission denied though the probe runs as its user: Yama's ptrace_scope or a security module "
        "forbids reading it (run the probe as root)"
    )


def collect_processes(
    containers: Optional[Mapping[str, str]] = None,
    proc: str = "/proc",
    subject: Optional[int] = None,
    subject_env: Optional[Mapping[str, str]] = None,
    main_pid: int = 1,
) -> dict[str, Any]:
    """Survey the PID namespace. ``containers`` maps Docker ids to container names.

    `--pid`: ``subject`` is the process whose view the run takes (with its environment
    ``subject_env``), ``main_pid`` its container's main process, which plays PID 1's part:
    the process whose environment the agent gave the variables to."""
    try:
        import psutil
    except ImportError as exc:
        return {"available": False, "error": f"psutil is not installed: {exc}"}
    me = os.getpid()
    # The probe's own helpers (the SDK scan's child interpreter) are not the application;
    # the probe itself is: it runs where the user runs their application (a shell, cron).
    helpers: set[int] = set()
    try:
        helpers.update(c.pid for c in psutil.Process(me).children(recursive=True))
    except psutil.Error:
        pass
    subject_pid = me if subject is None else subject
    own_env: Mapping[str, str] = os.environ if subject_env is None else subject_env
    ancestors = _ancestors(psutil, subject_pid)
    pid1_env: Optional[dict[str, str]] = None
    pid1_reason: Optional[str] = None
    try:
        pid1_env = dict(own_env) if subject_pid == main_pid else psutil.Process(main_pid).environ()
        redact.register_env(pid1_env)
    except (psutil.Error, OSError) as exc:
        pid1_env = None
        pid1_reason = unreadable_reason(main_pid, exc, proc)
    own_relative = own_env.get(RELATIVE)
    own_full = own_env.get(FULL)
    out: list[dict[str, Any]] = []
    unreadable: list[dict[str, Any]] = []
    count = 0
    for p in psutil.process_iter(["pid", "ppid", "name", "cmdline"]):
        count += 1
        if count > MAX_PROCESSES:
            break
        info = p.info
        pid = info["pid"]
        # A helper started after the list above was taken (the SDK scan's or botocore's
        # child interpreter) is the probe's too: its parent is the probe.
        if pid in helpers or (info.get("ppid") == me and pid != me):
            continue
        cmd = info.get("cmdline") or []
        if not cmd:  # kernel threads and zombies have no command line
            continue
        entry: dict[str, Any] = {"pid": pid, "ppid": info.get("ppid"), "name": info.get("name"), "cmdline": _cmdline(cmd)}
        entry.update(_paths(p, cmd))
        cid = _container_of(pid, proc)
        if cid:
            entry["container_id"] = cid[:12]
            if containers:
                entry["container"] = container_name(cid, containers)
        if pid == me:
            entry["self"] = True
        if subject is not None and pid == subject:
            entry["target"] = True
        try:
            env = dict(os.environ) if pid == me else dict(own_env) if pid == subject_pid else p.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError) as exc:
            entry["error"] = type(exc).__name__
            entry["reason"] = unreadable_reason(pid, exc, proc)
            unreadable.append(entry)
            continue
        redact.register_env(env)
        # Where the interpreter looks for packages besides its prefix: tells which SDK it uses.
        search = [p for name in _SEARCH_VARS for p in (env.get(name) or "").split(os.pathsep) if p.startswith("/")]
        if search:
            entry["search_paths"] = search[:20]
        target = credentials_target(env)
        entry["has_relative"] = RELATIVE in env
        entry["has_full"] = FULL in env
        entry["_relative"] = env.get(RELATIVE)
        entry["_full"] = env.get(FULL)
        proxies = proxy_facts.proxies_from(env)
        url = target.get("_raw_url") or ("http://169.254.170.2/" if not target.get("source") else None)
        route = proxy_facts.route(url, proxies) if proxies else None
        if route:
            entry["proxy"] = {k: route[k] for k in ("host", "proxy", "proxy_any", "bypassed_strict", "bypassed_cidr", "proxied_strict", "proxied_cidr")}
            entry["no_proxy"] = proxies.get("no")
            # By name and case: each SDK reads its own set (probe/sdkmodel.py PROXY_RULES).
            entry["proxy_vars"] = {n: redact.mask_url(env[n]) for n in redact.PROXY_ENV_VARS if env.get(n)}
            entry["no_proxy_vars"] = {n: env[n] for n in ("NO_PROXY", "no_proxy") if env.get(n)}
        out.append(entry)
    inherited_ok = pid1_env is not None and (own_relative, own_full) == (pid1_env.get(RELATIVE), pid1_env.get(FULL)) and (own_relative or own_full)
    for entry in out:
        relative, full = entry.pop("_relative"), entry.pop("_full")
        if pid1_env is not None:
            entry["same_as_pid1"] = relative == pid1_env.get(RELATIVE) and full == pid1_env.get(FULL)
        # /proc/PID/environ is the environment at exec time. A login shell that sourced the
        # shim's profile exported the variable later: the probe, its child, inherited PID 1's
        # value through it, so the shell has it now.
        if entry["pid"] in ancestors and inherited_ok and not entry.get("same_as_pid1"):
            entry["inherited"] = True
            entry["same_as_pid1"] = True
            entry["has_relative"] = own_relative is not None
            entry["has_full"] = own_full is not None
    return {
        "available": True,
        "self_pid": subject_pid,
        "main_pid": main_pid,
        "ancestors": sorted(ancestors),
        "pid1_readable": pid1_env is not None,
        "pid1_reason": pid1_reason,
        "pid1_has_variable": pid1_env is not None and (RELATIVE in pid1_env or FULL in pid1_env),
        "pid1_has_region": pid1_env is not None and bool(pid1_env.get("AWS_REGION") or pid1_env.get("AWS_DEFAULT_REGION")),
        "pid1_region": (pid1_env.get("AWS_REGION") or pid1_env.get("AWS_DEFAULT_REGION")) if pid1_env is not None else None,
        "processes": out,
        "unreadable": unreadable,
        "truncated": count > MAX_PROCESSES,
    }
