"""Every process of the probe's PID namespace: does it have the credentials variable, and
would its own proxy settings send the credentials host through a proxy?

Values are compared here and dropped; the record keeps names, booleans and masked forms.
With ``pidMode: task`` a sidecar sees the processes of every container of the task; the
container a process belongs to is told from its cgroup (the Docker id), named through
task metadata when available. There PID 1 is ECS's pause process, which never had the
variable: the process the agent gave the variables to is the probe's (or the target's)
container's main process, found through the cgroup (or, without a container id there, the
root filesystem the container's processes share), and it stands in for PID 1 everywhere.

Each process also records what tells which AWS SDK it really loads (``loads``: a Python
interpreter's prefixes and module search folders, the script a runtime runs, a JVM's class
path): probe/predict.py judges "in use" from that, never from folders under its working
folder.
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
_SEARCH_VARS = ("PYTHONPATH", "NODE_PATH", "GEM_PATH", "GEM_HOME", "RUBYLIB", "PSModulePath")
# ECS's pause containers (agent/api/task/task.go): the namespace one for pidMode task, and
# awsvpc's; their image (amazon/amazon-ecs-pause) runs ENTRYPOINT ["/pause"] and nothing else.
PAUSE_CONTAINER_PREFIX = "~internal~ecs~pause"
PAUSE_ARGV = (["/pause"], ["pause"])
_SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".py", ".jar", ".war", ".rb", ".php", ".dll")
# An argument that assigns a secret: NAME=VALUE where NAME (its run of word characters and
# dashes) holds one of these words. Linear in the argument's length (a process's arguments,
# the diagnosed application's included, reach 128 kB each): a name is matched only from its
# first character (the lookbehind), never again from every letter of a long word, and the
# word is looked for in that name alone. "keykeykey..." of 120 kB took 2.5 s per search with
# the single pattern this replaces, which started over at every "key".
_ASSIGNMENT = re.compile(r"(?<![\w-])([\w-]+)=(?=\S)")
_SECRET_WORD = re.compile(r"secret|token|password|passwd|key", re.IGNORECASE)
_VALUE = re.compile(r"\S+")


def secret_arg(text: str) -> bool:
    """Does ``text`` assign a secret (``--db-password=x``, ``API_KEY=x``)?"""
    return any(_SECRET_WORD.search(m.group(1)) for m in _ASSIGNMENT.finditer(text))


def mask_secret_args(text: str) -> str:
    """``text`` with the value of every secret assignment masked (to the next whitespace)."""
    out: list[str] = []
    pos = 0
    for m in _ASSIGNMENT.finditer(text):
        if m.start() < pos or not _SECRET_WORD.search(m.group(1)):
            continue
        value = _VALUE.match(text, m.end())
        end = value.end() if value is not None else m.end()
        out.append(text[pos : m.end()])
        out.append(redact.MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


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


def is_pause(argv: list[str], container: Optional[str] = None) -> bool:
    """ECS's pause process: its command line is exactly /pause (or its container is the
    agent's internal pause container). It holds a namespace and runs no application."""
    return argv in PAUSE_ARGV or bool(container and container.startswith(PAUSE_CONTAINER_PREFIX))


def is_runtime_helper(argv: list[str]) -> bool:
    """runc's `runc init`: for the moment of a `docker exec` (a health check, ECS Exec) it
    stands in the container's namespaces with a bare environment, then becomes the command."""
    return len(argv) == 2 and argv[1] == "init" and (os.path.basename(argv[0]).startswith("runc") or argv[0] == "/proc/self/exe")


def not_application(argv: list[str], container: Optional[str] = None) -> Optional[str]:
    """What a process that runs no application is (ECS's pause process, runc's exec
    helper), or None."""
    if is_pause(argv, container):
        return "ECS's pause process"
    if is_runtime_helper(argv):
        return "the container runtime starting an exec (runc init)"
    return None


def _argv(pid: int, proc: str) -> list[str]:
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as fh:
            raw = fh.read(4096)
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def root_id(pid: int, proc: str = "/proc") -> Optional[tuple[int, int]]:
    """Which root filesystem the process sees (a container's image), or None if unreadable."""
    try:
        st = os.stat(os.path.join(proc, str(pid), "root", ""))
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _ppid_and_start(pid: int, proc: str) -> Optional[tuple[int, int]]:
    try:
        with open(os.path.join(proc, str(pid), "stat"), encoding="utf-8", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def container_main(pid: int, proc: str = "/proc", containers: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The main process of ``pid``'s container: the one its runtime started first.

    The container's processes are those with the same container id in their cgroup (or,
    with none there, no id and the same root filesystem). Processes a runtime starts in it
    later (`docker exec`, ECS Exec, a sidecar joining with pidMode task) have their parent
    outside, as its first process has; of those tops of its process tree, the main process
    is the oldest. ECS's pause process is never one: in a PID namespace shared with pidMode
    task it is PID 1 and belongs to no application. None when the container cannot be told."""
    cid = _container_of(pid, proc)
    root = None if cid else root_id(pid, proc)
    if cid is None and root is None:
        return None
    try:
        names = os.listdir(proc)
    except OSError:
        return None
    members: dict[int, tuple[int, int]] = {}
    for name in names:
        if not name.isdigit():
            continue
        q = int(name)
        if q != pid:
            qcid = _container_of(q, proc)
            if qcid != cid or (cid is None and root_id(q, proc) != root):
                continue
            argv = _argv(q, proc)
            if not argv or not_application(argv, container_name(qcid, containers) if qcid else None):
                continue  # kernel threads and zombies have no command line
        stat = _ppid_and_start(q, proc)
        if stat is not None:
            members[q] = stat
        if len(members) > MAX_PROCESSES:
            break
    if pid not in members:
        return None
    tops = [q for q, (ppid, _start) in members.items() if ppid not in members]
    return min(tops, key=lambda q: (members[q][1], q)) if tops else None


def _cmdline(parts: list[str]) -> str:
    text = " ".join(parts)[:300]
    return mask_secret_args(text)


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
        if secret_arg(arg):
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


# Options of the interpreters that take a value (the word after them is no script).
_PY_VALUED = frozenset({"-W", "-X", "--check-hash-based-pycs"})
_NODE_VALUED = frozenset({"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
                          "--input-type", "--env-file", "--title", "--inspect-port", "--disable-warning"})
_NODE_EVAL = frozenset({"-e", "--eval", "-p", "--print"})
_JAVA_CP = frozenset({"-cp", "-classpath", "--class-path"})
_PYVENV_MAX = 64 * 1024


def _fs_for(pid: int, proc: str, own_root: Optional[tuple[int, int]]) -> Any:
    """The process's root, read as its user would (never following its links outside it)."""
    from probe.facts.rootfs import Creds, RootFS, creds_of

    if own_root is not None and root_id(pid, proc) == own_root:
        return RootFS()
    return RootFS(os.path.join(proc, str(pid), "root"), creds_of(pid, proc) or Creds(uid=65534, gids=frozenset(), bypass=False))


def _absolute(path: str, cwd: str) -> Optional[str]:
    if path.startswith("/"):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(cwd, path)) if cwd.startswith("/") else None


def _on_path(name: str, env: Mapping[str, str], cwd: str, fs: Any) -> Optional[str]:
    """argv[0] as the kernel found it: a path, or the first PATH entry that holds it (what
    Python makes sys.executable of, and a venv's prefix hangs on)."""
    if "/" in name:
        return _absolute(name, cwd)
    for folder in (env.get("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":")[:64]:
        if folder.startswith("/"):
            candidate = os.path.join(folder, name)
            try:
                if fs.is_file(candidate):
                    return candidate
            except (OSError, ValueError):
                continue
    return None


# Options that end the options without a script (code on the command line, a module).
_PY_ENDS = frozenset({"-m", "-c"})
_OTHER_VALUED = {
    "ruby": frozenset({"-r", "--require", "-I", "-C", "-E", "--encoding"}),
    "php": frozenset({"-d", "-c", "-S", "-t", "-z"}),
}
_OTHER_ENDS = {"ruby": frozenset({"-e"}), "php": frozenset({"-r", "-a"})}


def _first_operand(args: list[str], valued: frozenset[str], ends: frozenset[str] = frozenset()) -> tuple[Optional[str], Optional[str]]:
    """(the first argument that is no option, or the option that ended the options without
    one: -m, -c, -e ...)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in valued:
            skip = True
            continue
        if arg in ends:
            return None, arg
        if arg == "--":
            continue
        if arg.startswith("-") and arg != "-":
            if not arg.startswith("--") and len(arg) > 2 and f"-{arg[1]}" in ends:
                return None, arg[:2]  # -mpkg, -c'code'
            if not arg.startswith("--") and len(arg) > 2 and f"-{arg[-1]}" in ends and arg[1:-1].isalpha():
                return None, "-" + arg[-1]  # -uc 'code', -Im module
            continue
        return arg, None
    return None, None


def _python_loads(p_argv0: Optional[str], exe: Optional[str], args: list[str], env: Mapping[str, str], cwd: str, fs: Any) -> dict[str, Any]:
    """What a Python process imports from: its prefix (a venv's, found through pyvenv.cfg
    beside its bin/, as Python finds it; the base interpreter's when the venv includes the
    system site-packages, or without a venv), PYTHONHOME, the user site, PYTHONPATH, and the
    folder of its script (or, for -m, -c and the REPL, its working folder)."""
    out: dict[str, Any] = {}
    prefixes: list[str] = []
    venv = False
    system_site = True
    if p_argv0:
        bindir = os.path.dirname(p_argv0)
        for folder in (bindir, os.path.dirname(bindir)):
            try:
                cfg = fs.read_text(os.path.join(folder, "pyvenv.cfg"), _PYVENV_MAX)
            except (OSError, ValueError):
                cfg = None
            if cfg is None:
                continue
            venv = True
            prefixes.append(folder if folder != bindir else os.path.dirname(bindir))
            for line in cfg.splitlines():
                key, _, value = line.partition("=")
                key, value = key.strip().lower(), value.strip()
                if key == "include-system-site-packages":
                    system_site = value.lower() == "true"
                elif key in ("version", "version_info") and value:
                    out["version"] = ".".join(value.split(".")[:2])
            break
        if not venv and os.path.basename(bindir) in ("bin", "sbin"):
            prefixes.append(os.path.dirname(bindir))
    if exe and (system_site or not venv) and os.path.basename(os.path.dirname(exe)) in ("bin", "sbin"):
        prefixes.append(os.path.dirname(os.path.dirname(exe)))
    if env.get("PYTHONHOME"):
        prefixes.extend(h for h in env["PYTHONHOME"].split(":")[:1] if h.startswith("/"))
    if not venv and env.get("HOME", "").startswith("/") and not env.get("PYTHONNOUSERSITE"):
        prefixes.append(os.path.join(env["HOME"], ".local"))  # the user site, ~/.local/lib/pythonX.Y/site-packages
    out["prefixes"] = list(dict.fromkeys(p for p in prefixes if p))[:8]
    if "version" not in out:
        for name in (exe, p_argv0):
            m = re.match(r"^(?:python|pypy)(\d+\.\d+)", os.path.basename(name or ""))
            if m:
                out["version"] = m.group(1)
                break
    paths = [q for q in ((_absolute(e, cwd) if e else None) for e in (env.get("PYTHONPATH") or "").split(":")[:20]) if q]
    script, early = _first_operand(args, _PY_VALUED, _PY_ENDS)
    if script and script != "-":
        full = _absolute(script, cwd)
        if full:
            out["script"] = full
            paths.insert(0, os.path.dirname(full))
    elif cwd.startswith("/"):
        paths.insert(0, cwd)  # -m, -c, the REPL: sys.path[0] is the working folder
    if early:
        out["mode"] = early
    out["module_paths"] = list(dict.fromkeys(paths))[:20]
    return out


def _node_loads(args: list[str], cwd: str, fs: Any) -> dict[str, Any]:
    """Where require() starts: the script's folder (node_modules there and in each parent),
    or, for -e/-p and the REPL, the working folder."""
    script, early = _first_operand(args, _NODE_VALUED, _NODE_EVAL)
    base = None
    if script:
        full = _absolute(script, cwd)
        if full:
            try:
                is_file = fs.is_file(full)
            except (OSError, ValueError):
                is_file = True
            # `node .` or `node dist`: a folder's package.json main (or index.js) is in it.
            base = os.path.dirname(full) if is_file or script.endswith((".js", ".mjs", ".cjs", ".ts")) else full
            return {"script": full, "resolve_from": base}
    if cwd.startswith("/"):
        return {"resolve_from": cwd, **({"mode": early} if early else {})}
    return {}


def _java_loads(args: list[str], env: Mapping[str, str], cwd: str) -> dict[str, Any]:
    """A JVM's class path: -cp / -classpath / --class-path (else CLASSPATH), -jar's jar, and
    Tomcat's webapps and lib under catalina.base / catalina.home."""
    entries: list[str] = []
    explicit = False
    jar = None
    bases: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _JAVA_CP and i + 1 < len(args):
            entries.extend(args[i + 1].split(":"))
            explicit = True
            i += 2
            continue
        if arg.startswith("--class-path="):
            entries.extend(arg.split("=", 1)[1].split(":"))
            explicit = True
        elif arg == "-jar" and i + 1 < len(args):
            jar = args[i + 1]
            break
        elif arg.startswith(("-Dcatalina.base=", "-Dcatalina.home=")):
            bases.append(arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            break  # the main class: the application's own arguments follow
        i += 1
    if not explicit and jar is None:
        entries.extend((env.get("CLASSPATH") or ".").split(":"))
    # "lib/*" stays a wildcard through normpath: every jar directly in lib.
    out: dict[str, Any] = {"classpath": [q for q in (_absolute(e or ".", cwd) for e in entries[:200]) if q]}
    if jar:
        full = _absolute(jar, cwd)
        if full:
            out["classpath"].insert(0, full)
            out["jar"] = full
    tomcat = [q for q in (_absolute(b, cwd) for b in bases) if q]
    if tomcat:
        out["tomcat"] = tomcat[:4]
    return out


def runtime_of(names: list[str]) -> Optional[str]:
    """The runtime a process's program names (python, node, java, ...), by the model's list."""
    from probe.sdkmodel import RUNTIME_PROGRAMS

    low = [os.path.basename(n).lower() for n in names if n]
    for runtime, programs in RUNTIME_PROGRAMS.items():
        if any(n.startswith(programs) for n in low):
            return runtime
    return None


def _loads(entry: dict[str, Any], cmd: list[str], env: Mapping[str, str], fs: Any) -> Optional[dict[str, Any]]:
    """What the process's runtime loads code from (see probe/predict.py, used_by)."""
    cwd = str(entry.get("cwd") or "")
    exe = entry.get("exe")
    argv0 = cmd[0] if cmd else ""
    runtime = runtime_of([str(exe or ""), argv0, str(entry.get("name") or "")])
    if runtime is None:
        return None
    args = [a for a in cmd[1:201] if not secret_arg(a)]
    out: dict[str, Any] = {"runtime": runtime}
    found = _on_path(argv0, env, cwd, fs) if argv0 else None
    if found:
        out["interpreter"] = found
    if runtime == "python" and os.path.basename(argv0).lower().startswith(("python", "pypy")):
        out.update(_python_loads(found, exe, args, env, cwd, fs))
    elif runtime == "python":
        # A program run through its shebang shows the interpreter as argv[0]; this one is a
        # frozen or embedding program (uwsgi, the AWS CLI v2's aws): its own prefix.
        out.update(_python_loads(found or exe, exe, [], env, cwd, fs))
        out.pop("module_paths", None)
    elif runtime == "node":
        out.update(_node_loads(args, cwd, fs))
    elif runtime == "java":
        out.update(_java_loads(args, env, cwd))
    else:
        script, _early = _first_operand(args, _OTHER_VALUED.get(runtime, frozenset()), _OTHER_ENDS.get(runtime, frozenset()))
        full = _absolute(script, cwd) if script else None
        if full:
            out["script"] = full
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
            f'(in ECS: "user": "0" and "linuxParameters": {{"capabilities": {{"add": ["SYS_PTRACE"]}}}} in the probe\'s '
            f'container definition, or "user": "{owner}")'
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
    main_pid: Optional[int] = None,
) -> dict[str, Any]:
    """Survey the PID namespace. ``containers`` maps Docker ids to container names.

    ``main_pid`` plays PID 1's part: the process whose environment the agent gave the
    variables to, the main process of the subject's container (found here when not given:
    with pidMode task, PID 1 is ECS's pause process). `--pid`: ``subject`` is the process
    whose view the run takes, with its environment ``subject_env``. ECS's pause process and
    runc's exec helper are listed apart (``not_application``): they run no application."""
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
    if main_pid is None:
        main_pid = container_main(subject_pid, proc, containers) or 1
    own_env: Mapping[str, str] = os.environ if subject_env is None else subject_env
    own_root = root_id(me, proc)
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
    pauses: list[dict[str, Any]] = []
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
        cid = _container_of(pid, proc)
        if cid:
            entry["container_id"] = cid[:12]
            if containers:
                entry["container"] = container_name(cid, containers)
        what = not_application(cmd, entry.get("container")) if pid != subject_pid else None
        if what:
            pauses.append(dict(entry, what=what))
            continue
        entry.update(_paths(p, cmd))
        rid = root_id(pid, proc)
        if rid is not None:
            entry["root_id"] = f"{rid[0]}:{rid[1]}"
        if pid == me:
            entry["self"] = True
        if subject is not None and pid == subject:
            entry["target"] = True
        try:
            env = dict(os.environ) if pid == me else dict(own_env) if pid == subject_pid else p.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError) as exc:
            entry["error"] = type(exc).__name__
            entry["reason"] = unreadable_reason(pid, exc, proc)
            if entry["error"] not in ("NoSuchProcess", "ZombieProcess"):
                try:
                    entry["uid"] = os.stat(os.path.join(proc, str(pid))).st_uid
                except OSError:
                    pass
            unreadable.append(entry)
            continue
        redact.register_env(env)
        try:
            loads = _loads(entry, cmd, env, _fs_for(pid, proc, own_root))
        except Exception:  # noqa: BLE001 - a survey never fails for one odd process
            loads = None
        if loads:
            entry["loads"] = loads
        # Where the interpreter looks for packages besides its prefix: tells which SDK it uses.
        by_var = {name: [q for q in (env.get(name) or "").split(os.pathsep) if q.startswith("/")][:20] for name in _SEARCH_VARS}
        by_var = {name: found for name, found in by_var.items() if found}
        if by_var:
            entry["search_paths"] = [q for found in by_var.values() for q in found][:20]
            entry["search"] = by_var
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
        # Not the application's: never judged, never scanned.
        "not_application": [{k: e[k] for k in ("pid", "cmdline", "container", "container_id", "what") if k in e} for e in pauses],
        "truncated": count > MAX_PROCESSES,
    }
