"""Render and atomically write the shim's profile blocks. Standard library only.

Format (parsed back by the probe's ``shim.profile`` check and by ``read_block``)::

    # >>> ecs-credential-probe shim >>>
    export NAME='value'
    # <<< ecs-credential-probe shim <<<

Values are single-quoted, the one quoting that no POSIX shell (sh, dash, bash, busybox
ash, zsh) interprets inside: no expansion, no command substitution, newlines literal. A
single quote in a value is written as ``'\\''``.
"""

import errno
import os
import stat

TYPE_CHECKING = False
# Annotations naming these are strings (no __future__ import: one module less to load at start).
if TYPE_CHECKING:  # annotations only: typing costs the shim's start a few milliseconds
    from typing import Any, Mapping, Optional

BEGIN = "# >>> ecs-credential-probe shim >>>"
END = "# <<< ecs-credential-probe shim <<<"
HEADER = (
    "# Written by the ecs-credential-probe shim at container start from PID 1's environment,\n"
    "# so login shells started from a fresh environment (su -, sudo -i, sshd sessions) get the\n"
    "# task's credentials. Cron jobs read no profile: shim --environment-file writes them into\n"
    "# /etc/environment (pam_env). Rewritten at every start: do not edit between the markers.\n"
)
# pam_env (/etc/environment) has no escapes: plain values only (the sh twin's pattern too).
ENV_FILE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,=~-")
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_REST = _IDENT_START | frozenset("0123456789")
# Compiled on first use (PEP 562): the shim's start never pays for the re module's compiler.
_PATTERNS = {"NAME": r"[A-Za-z_][A-Za-z0-9_]*\Z", "ENV_FILE_SAFE": r"[A-Za-z0-9_./:@%+,=~-]*\Z"}


def __getattr__(name: str) -> "Any":
    """``NAME`` and ``ENV_FILE_SAFE``: the same rules as ``is_name`` and ``env_file_safe``, as
    patterns, for the probe (compiled when first asked for)."""
    if name in _PATTERNS:
        import re

        pattern = re.compile(_PATTERNS[name])
        globals()[name] = pattern
        return pattern
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_name(text: str) -> bool:
    """A shell variable name: a letter or _, then letters, digits or _ (ASCII only)."""
    return bool(text) and text[0] in _IDENT_START and all(c in _IDENT_REST for c in text)


def env_file_safe(value: str) -> bool:
    """Whether pam_env can hold the value as it is."""
    return all(c in ENV_FILE_CHARS for c in value)


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def render_block(values: "Mapping[str, str]") -> str:
    lines = [BEGIN]
    for name, value in values.items():
        lines.append(f"export {name}={sh_quote(value)}")
    lines.append(END)
    return "\n".join(lines) + "\n"


def render_environment_block(values: "Mapping[str, str]") -> tuple[str, list[str]]:
    """The /etc/environment block, and the names left out because pam_env cannot hold them."""
    lines = [BEGIN]
    skipped = []
    for name, value in values.items():
        if env_file_safe(value):
            lines.append(f"{name}={value}")
        else:
            skipped.append(name)
    lines.append(END)
    return "\n".join(lines) + "\n", skipped


def replace_block(existing: str, block: str) -> str:
    """``existing`` with our block replaced in place (or appended once); other lines kept.

    Line based, like the sh twin: a block runs from a line that is exactly BEGIN to the
    next line that is exactly END. Later duplicate blocks are dropped.
    """
    # split("\n"), not splitlines(): a value may hold \r or other line separators.
    lines = existing.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # A BEGIN with no END after it is a stray line: dropping everything after it would
    # eat the user's file, so only the stray marker goes.
    has_end = END in lines[lines.index(BEGIN):] if BEGIN in lines else False
    out: list[str] = []
    placed = False
    inside = False
    for bare in lines:
        if inside:
            inside = bare != END
            continue
        if bare == BEGIN:
            inside = has_end
            if not placed and has_end:
                out.append(block.rstrip("\n"))
                placed = True
            continue
        out.append(bare)
    if not placed and block:
        out.append(block.rstrip("\n"))
    # Every line ends with a newline, as the sh twin writes them.
    return "".join(line + "\n" for line in out)


# A profile larger than this is left alone (with a message), never truncated.
MAX_PROFILE = 64 << 20


class TooLarge(OSError):
    """A file the shim refuses to rewrite because it would have to hold it all in memory."""


def _open_nofollow(path: str, follow: bool = False) -> "Optional[int]":
    """A descriptor on the regular file at ``path``, or None if there is none (missing, a
    symlink unless ``follow``, or not a regular file: a FIFO would block the container's start)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _read_fd(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes, reading until end of file (one read may return less)."""
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_nofollow(path: str, limit: int = 1 << 20, follow: bool = False) -> "Optional[str]":
    """The file's text (at most ``limit`` bytes), or None if it does not exist, is a symlink
    (never followed unless ``follow``) or is not a regular file."""
    fd = _open_nofollow(path, follow)
    if fd is None:
        return None
    try:
        data = _read_fd(fd, limit)
    finally:
        os.close(fd)
    return data.decode("utf-8", "surrogateescape")


def read_existing(path: str) -> "tuple[Optional[str], Optional[os.stat_result]]":
    """The whole text and the status of the regular file at ``path`` (never through a
    symlink), or (None, None). Raises TooLarge rather than return part of a file."""
    fd = _open_nofollow(path)
    if fd is None:
        return None, None
    try:
        st = os.fstat(fd)
        if st.st_size > MAX_PROFILE:
            raise TooLarge(errno.EFBIG, f"larger than {MAX_PROFILE >> 20} MiB; left as it is")
        data = _read_fd(fd, MAX_PROFILE + 1)
        if len(data) > MAX_PROFILE:
            raise TooLarge(errno.EFBIG, f"larger than {MAX_PROFILE >> 20} MiB; left as it is")
    finally:
        os.close(fd)
    return data.decode("utf-8", "surrogateescape"), st


def _temporary(folder: str) -> tuple[int, str]:
    """A new, empty, private file in ``folder`` (O_EXCL: never one planted there, never
    through a symlink), as tempfile.mkstemp makes it, without tempfile's imports."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = os.path.join(folder, f".ecs-shim-{os.getpid()}-{os.urandom(6).hex()}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", folder)


def write_atomic(path: str, text: str, mode: int = 0o644, owner: "Optional[tuple[int, int]]" = None) -> None:
    """Write via a temporary file in the same folder, then rename it over the target.

    The rename replaces whatever is at ``path`` (a planted symlink included) instead of
    writing through it, and a reader sees the old file or the new one, never a part.
    ``owner`` (uid, gid) is given to the new file before the rename; if it cannot be,
    nothing is replaced. No fsync: the profiles are rewritten at every start, so a file
    lost to a crash is written again by the next one, and an fsync at container start
    can stall for seconds on a busy host.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _temporary(folder)
    try:
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            data = text.encode("utf-8", "surrogateescape")
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Plan:
    """What writing one file comes to: ``action`` is "unchanged" (the file already holds
    this text, mode and owner: left as it is), "whole" (the whole file is written), "new"
    (a file is created with the block), "replace" (the block replaced in place) or
    "append" (the block added at the end)."""

    __slots__ = ("action", "text", "mode", "owner")

    def __init__(self, action: str, text: str, mode: int, owner: "Optional[tuple[int, int]]") -> None:
        self.action = action
        self.text = text
        self.mode = mode
        self.owner = owner


def _whole_unchanged(path: str, text: str, mode: int) -> bool:
    """Whether the file is already what writing it whole would make: a regular file (not a
    symlink) with exactly ``text``, mode ``mode``, owned by this process's user and group."""
    fd = _open_nofollow(path)
    if fd is None:
        return False
    try:
        st = os.fstat(fd)
        data = text.encode("utf-8", "surrogateescape")
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size) != (mode, os.geteuid(), os.getegid(), len(data)):
            return False
        return _read_fd(fd, len(data) + 1) == data
    finally:
        os.close(fd)


def plan_file(path: str, block: str, mode: int = 0o644, whole: bool = False) -> "Plan":
    """What ``update_file`` would do, without doing it (``--dry-run`` shows this)."""
    if whole:
        text = HEADER + block
        return Plan("unchanged" if _whole_unchanged(path, text, mode) else "whole", text, mode, None)
    existing, st = read_existing(path)
    if st is None:
        return Plan("new", replace_block("", block), mode, None)
    keep = stat.S_IMODE(st.st_mode)
    mode = keep & ~0o077 if mode == 0o600 else keep
    text = replace_block(existing or "", block)
    if text == existing and mode == keep:
        return Plan("unchanged", text, mode, None)
    lines = (existing or "").split("\n")
    has_block = BEGIN in lines and END in lines[lines.index(BEGIN) :]
    return Plan("replace" if has_block else "append", text, mode, (st.st_uid, st.st_gid))


def update_file(path: str, block: str, mode: int = 0o644, whole: bool = False) -> bool:
    """Put ``block`` into the file: as the whole file, or replacing our block in place.

    A file that exists keeps its owner and its mode (made private, never wider, when
    ``mode`` is private); one that cannot keep its owner is not replaced. A file that
    already holds exactly this text, mode and owner is left as it is (not even renamed);
    returns whether the file was written.
    """
    plan = plan_file(path, block, mode, whole)
    if plan.action == "unchanged":
        return False
    write_atomic(path, plan.text, plan.mode, plan.owner)
    return True


def read_block(text: str) -> "Optional[dict[str, str]]":
    """Parse our block back into names and values; None if the text has no block."""
    start = text.find(BEGIN + "\n")
    if start == -1:
        return None
    end = text.find("\n" + END, start)
    body = text[start + len(BEGIN) + 1 : end + 1 if end != -1 else len(text)]
    import re

    values: dict[str, str] = {}
    i = 0
    pattern = re.compile(r"export ([A-Za-z_][A-Za-z0-9_]*)=|([A-Za-z_][A-Za-z0-9_]*)=")
    while i < len(body):
        m = pattern.match(body, i)
        if not m:
            nl = body.find("\n", i)
            i = len(body) if nl == -1 else nl + 1
            continue
        name = m.group(1) or m.group(2)
        i = m.end()
        if m.group(2):  # /etc/environment style: plain value to the end of the line
            nl = body.find("\n", i)
            nl = len(body) if nl == -1 else nl
            values[name] = body[i:nl]
            i = nl + 1
            continue
        value = []
        while i < len(body) and body[i] == "'":
            close = body.find("'", i + 1)
            if close == -1:
                close = len(body)
            value.append(body[i + 1 : close])
            i = close + 1
            if body.startswith("\\''", i):
                value.append("'")
                i += 2
        values[name] = "".join(value)
        nl = body.find("\n", i)
        i = len(body) if nl == -1 else nl + 1
    return values
