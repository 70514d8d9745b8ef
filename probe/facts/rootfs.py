"""Reading a container's files as data: inside its root, fail closed.

Every file the probe reads because a diagnosed environment names it (the token file, the
shared config and credentials files, a web identity token, a CA bundle, the shim's
profiles, /etc/passwd) goes through ``RootFS.read``. The path is walked component by
component from a directory descriptor of the root, each component opened with
O_NOFOLLOW relative to the previous one, so the kernel never follows a link on the
probe's behalf:

- a symbolic link is read and resolved by the walk itself; an absolute link starts again
  at the container's root (as the application's own kernel view would), never at the
  probe's;
- more than ``MAX_LINKS`` links, ``..`` above the root, a relative path in another
  container, anything under /proc or /sys, and anything that is not a regular file (a
  FIFO, a device, a socket) are refused with the reason; /dev/null reads as empty, as it
  does for the application;
- in another container (``creds`` given) a directory the application's user could not
  search, or a file it could not read, is refused: the probe, often root, never reads
  for the application what the application could not read itself;
- every read is capped (``limit``): a larger file is refused, never read whole.

A refusal is a ``Refused`` (an OSError) whose text says why; a missing file is None.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Optional

MAX_LINKS = 40  # the kernel's own limit for one path
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_STEP_FLAGS = os.O_PATH | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
# Pseudo filesystems whose files describe processes and the kernel: never an
# application's configuration, and through them a hostile one could point the probe at
# another container's environment.
_PSEUDO = ("proc", "sys")
_DEV_NULL = os.makedev(1, 3)
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


class Refused(OSError):
    """The file was not read; the text says why (no path of the probe's own in it)."""

    def __init__(self, reason: str, code: int = errno.EPERM) -> None:
        super().__init__(code, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Creds:
    """Whose access the reads emulate: the application's file-system user, groups and
    whether it may bypass permission checks (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH)."""

    uid: int
    gids: frozenset[int]
    bypass: bool

    def may(self, st: os.stat_result, want: int) -> bool:
        """``want``: 4 to read, 1 to search a directory (the permission bits' values)."""
        if self.bypass:
            return True
        if st.st_uid == self.uid:
            bits = (st.st_mode >> 6) & 7
        elif st.st_gid in self.gids:
            bits = (st.st_mode >> 3) & 7
        else:
            bits = st.st_mode & 7
        return bits & want == want


def creds_of(pid: int, proc: str = "/proc") -> Optional[Creds]:
    """The file-access credentials of a process, from /proc/PID/status; None if unreadable."""
    fields: dict[str, str] = {}
    try:
        with open(os.path.join(proc, str(pid), "status"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in ("Uid", "Gid", "Groups", "CapEff"):
                    fields[name] = value.strip()
    except OSError:
        return None
    try:
        uid = int(fields["Uid"].split()[3])  # the file-system uid
        gid = int(fields["Gid"].split()[3])
        groups = {int(g) for g in fields.get("Groups", "").split()}
        caps = int(fields.get("CapEff", "0"), 16)
    except (KeyError, IndexError, ValueError):
        return None
    bypass = bool(caps & ((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)))
    return Creds(uid=uid, gids=frozenset(groups | {gid}), bypass=bypass)


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def kind_of(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


class RootFS:
    """One root a run reads files in: ``/`` for the probe's own container, or
    /proc/PID/root with the application's ``creds`` for another one."""

    def __init__(self, root: str = "/", creds: Optional[Creds] = None, cwd: Optional[str] = None) -> None:
        self.root = root
        self.creds = creds
        self.own = creds is None and root in ("", "/")
        self.cwd = cwd

    # -- the walk ---------------------------------------------------------------------

    def _absolute(self, path: str) -> str:
        if path.startswith("/"):
            return path
        if self.own:
            return os.path.join(self.cwd or os.getcwd(), path)
        raise Refused(f"{path!r} is a relative path: in another container the probe resolves only absolute ones")

    def _walk(self, path: str, final_dir: bool = False, follow_last: bool = True) -> tuple[int, str, list[str]]:
        """(descriptor of the parent directory, final name, the in-root path) for ``path``,
        every link resolved inside the root. The caller closes the descriptor.
        ``final_dir``: the path names a directory; its own descriptor is returned, name ""."""
        if "\0" in path:
            raise Refused("the path contains a NUL character")
        parts = [p for p in self._absolute(path).split("/") if p not in ("", ".")]
        if not parts and not final_dir:
            raise Refused("names the root directory, not a file")
        try:
            root_fd = os.open(self.root or "/", _DIR_FLAGS)
        except OSError as exc:
            raise Refused(f"the container's root cannot be opened ({exc.strerror or exc})", exc.errno or errno.EIO) from None
        stack: list[int] = [root_fd]
        names: list[str] = []
        links = 0
        try:
            while parts:
                part = parts.pop(0)
                if part == "..":
                    if len(stack) == 1:
                        raise Refused(f"{path!r} climbs above the container's root ('..')")
                    os.close(stack.pop())
                    names.pop()
                    continue
                if not names and part in _PSEUDO:
                    raise Refused(f"{path!r} leads into /{part}, which the probe never reads for a container")
                last = not parts
                try:
                    fd = os.open(part, _STEP_FLAGS, dir_fd=stack[-1])
                except FileNotFoundError:
                    raise
                except OSError as exc:
                    raise Refused(f"{path!r} cannot be resolved ({exc.strerror or exc})", exc.errno or errno.EIO) from None
                try:
                    st = os.fstat(fd)
                except OSError as exc:
                    os.close(fd)
                    raise Refused(f"{path!r} cannot be resolved ({exc.strerror or exc})", exc.errno or errno.EIO) from None
                if stat.S_ISLNK(st.st_mode):
                    os.close(fd)
                    if last and not follow_last:
                        raise FileNotFoundError(errno.ENOENT, "a symbolic link, not followed")
                    links += 1
                    if links > MAX_LINKS:
                        raise Refused(f"{path!r} goes through more than {MAX_LINKS} symbolic links", errno.ELOOP)
                    link = os.readlink(part, dir_fd=stack[-1])
                    if link.startswith("/"):
                        for extra in stack[1:]:
                            os.close(extra)
                        del stack[1:]
                        names.clear()
                    parts = [p for p in link.split("/") if p not in ("", ".")] + parts
                    if not parts and not names and not final_dir:
                        raise Refused(f"{path!r} is a link to the root directory, not a file")
                    continue
                if last and not final_dir:
                    os.close(fd)
                    names.append(part)
                    parent = stack.pop()
                    return parent, part, names
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise Refused(f"{path!r}: /{'/'.join(names + [part])} is not a directory", errno.ENOTDIR)
                if self.creds is not None and not self.creds.may(st, 1):
                    os.close(fd)
                    raise Refused(f"{path!r}: the application's user cannot enter /{'/'.join(names + [part])}", errno.EACCES)
                stack.append(fd)
                names.append(part)
            if final_dir:
                return stack.pop(), "", names
            raise Refused(f"{path!r} names a directory, not a file")
        finally:
            for fd in stack:
                os.close(fd)

    # -- what callers use -------------------------------------------------------------

    def read_bytes(self, path: str, limit: int, follow_last: bool = True) -> Optional[bytes]:
        """The file's bytes, None when it does not exist; Refused with the reason when
        the probe will not read it (see the module's rules) or it is over ``limit``.
        ``follow_last=False``: a link as the last component counts as no file."""
        try:
            parent, name, names = self._walk(path, follow_last=follow_last)
        except FileNotFoundError:
            return None
        try:
            try:
                fd = os.open(name, _READ_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # swapped for a link after the walk looked
                    raise Refused(f"{path!r} changed while the probe resolved it", errno.ELOOP) from None
                raise Refused(f"{path!r} cannot be opened ({exc.strerror or exc})", exc.errno or errno.EIO) from None
        finally:
            os.close(parent)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == _DEV_NULL:
                    return b""
                raise Refused(f"{path!r} is {kind_of(st.st_mode)}, not a regular file", errno.EINVAL)
            if self.creds is not None and not self.creds.may(st, 4):
                raise Refused(f"{path!r}: the application's user cannot read it (mode {stat.S_IMODE(st.st_mode):o})", errno.EACCES)
            if st.st_size > limit:
                raise Refused(f"{path!r} is {st.st_size} bytes, over the {limit}-byte limit for this file", errno.EFBIG)
            data = os.read(fd, limit + 1)
            if len(data) > limit:
                raise Refused(f"{path!r} is over the {limit}-byte limit for this file", errno.EFBIG)
            return data
        finally:
            os.close(fd)

    def read_text(self, path: str, limit: int, follow_last: bool = True) -> Optional[str]:
        data = self.read_bytes(path, limit, follow_last)
        return None if data is None else data.decode("utf-8", "replace")

    def is_file(self, path: str) -> bool:
        """A regular file (or /dev/null) the probe would read; False for anything else."""
        try:
            return self.read_bytes(path, 0) is not None
        except OSError as exc:
            return exc.errno == errno.EFBIG

    def kernel_path(self, path: str) -> str:
        """A directory of the root as this process reaches it (for the SDK scan, which
        never follows links itself): resolved by the same walk, refused the same way."""
        fd, _name, names = self._walk(path, final_dir=True)
        os.close(fd)
        return os.path.join(self.root or "/", *names)
