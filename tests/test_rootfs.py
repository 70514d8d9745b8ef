"""The fail-closed reader of a container's root (probe/facts/rootfs.py), rule by rule.

A real directory tree stands for the container's root; the probe's own files lie outside
it. Every rule is shown to hold with a case it refuses and a case it allows.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

import pytest

from probe.facts.rootfs import MAX_LINKS, Creds, Refused, RootFS, creds_of

APP = Creds(uid=1000, gids=frozenset({1000}), bypass=False)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(the container's root, the probe's own folder beside it)."""
    root = tmp_path / "root"
    mine = tmp_path / "mine"
    for d in ("etc", "home/app/.aws", "srv/deep/er", "proc/1", "sys/x", "dev"):
        (root / d).mkdir(parents=True)
    mine.mkdir()
    (mine / "secret").write_text("the probe's own secret")
    (root / "etc/passwd").write_text("app:x:1000:1000::/home/app:/bin/sh\n")
    (root / "home/app/.aws/config").write_text("[default]\nregion = eu-west-1\n")
    (root / "srv/deep/er/file").write_text("deep")
    (root / "proc/1/environ").write_text("SECRET=1")
    return root, mine


def read(fs: RootFS, path: str, limit: int = 1 << 20) -> Optional[str]:
    return fs.read_text(path, limit)


def refused(fs: RootFS, path: str, limit: int = 1 << 20) -> str:
    with pytest.raises(Refused) as info:
        fs.read_text(path, limit)
    return str(info.value)


def test_plain_files_and_links_inside_the_root(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.symlink("/etc/passwd", root / "home/app/abs")  # absolute: the container's /etc
    os.symlink("../../srv/deep/er/file", root / "home/app/rel")
    os.symlink("/srv/deep", root / "home/app/dirlink")
    fs = RootFS(str(root), APP)
    assert read(fs, "/home/app/.aws/config") == "[default]\nregion = eu-west-1\n"
    assert read(fs, "/home/app/abs") == "app:x:1000:1000::/home/app:/bin/sh\n"
    assert read(fs, "/home/app/rel") == "deep"
    assert read(fs, "/home/app/dirlink/er/file") == "deep"
    assert read(fs, "/home/app/nothing") is None
    assert read(fs, "/no/such/dir/file") is None


def test_an_absolute_link_never_reaches_the_probes_files(tree: tuple[Path, Path]) -> None:
    root, mine = tree
    os.symlink(str(mine / "secret"), root / "home/app/token")
    os.symlink(str(mine), root / "home/app/.aws2")
    fs = RootFS(str(root), APP)
    # Resolved in the container's root, where that path does not exist.
    assert read(fs, "/home/app/token") is None
    assert read(fs, "/home/app/.aws2/secret") is None


def test_dotdot_above_the_root_is_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.symlink("../../../mine/secret", root / "home/app/up")
    fs = RootFS(str(root), APP)
    assert "climbs above the container's root" in refused(fs, "/home/app/up")
    assert "climbs above" in refused(fs, "/../mine/secret")
    assert read(fs, "/home/app/../app/.aws/config") is not None  # inside: fine


def test_more_links_than_the_kernel_allows_are_refused(tree: tuple[Path, Path]) -> None:
    root, mine = tree
    home = root / "home/app"
    for i in range(MAX_LINKS + 1):
        os.symlink(f"l{i + 1}", home / f"l{i}")
    os.symlink(str(mine / "secret"), home / f"l{MAX_LINKS + 1}")
    for i in range(MAX_LINKS):
        os.symlink(f"k{i + 1}", home / f"k{i}")
    (home / f"k{MAX_LINKS}").write_text("forty links")
    fs = RootFS(str(root), APP)
    assert f"more than {MAX_LINKS} symbolic links" in refused(fs, "/home/app/l0")
    assert read(fs, "/home/app/k0") == "forty links"
    os.symlink("loop", home / "loop")
    assert "symbolic links" in refused(fs, "/home/app/loop")


@pytest.mark.parametrize("path", ["/proc/1/environ", "/sys/x", "/home/../proc/1/environ"])
def test_proc_and_sys_are_never_read(tree: tuple[Path, Path], path: str) -> None:
    root, _ = tree
    assert "never reads for a container" in refused(RootFS(str(root), APP), path)


def test_a_link_into_proc_is_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.symlink("/proc/1/environ", root / "home/app/token")
    assert "/proc" in refused(RootFS(str(root), APP), "/home/app/token")


def test_special_files_are_refused_and_dev_null_is_empty(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.mkfifo(root / "home/app/fifo")
    os.mknod(root / "dev/zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    fs = RootFS(str(root), APP)
    assert "a FIFO, not a regular file" in refused(fs, "/home/app/fifo")
    assert "a character device" in refused(fs, "/dev/zero")
    assert "a directory" in refused(fs, "/home/app/.aws")
    assert read(fs, "/dev/null") == ""


def test_reads_are_capped(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "home/app/big").write_bytes(b"x" * 5000)
    fs = RootFS(str(root), APP)
    assert "over the 4096-byte limit" in refused(fs, "/home/app/big", 4096)
    assert read(fs, "/home/app/big", 5000) == "x" * 5000


def test_only_what_the_applications_user_could_read(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    private = root / "srv/private"
    private.write_text("root's only")
    os.chown(private, 0, 0)
    os.chmod(private, 0o600)
    closed = root / "srv/closed"
    closed.mkdir()
    (closed / "f").write_text("behind a closed folder")
    os.chmod(closed, 0o700)
    fs = RootFS(str(root), APP)
    assert "the application's user cannot read it" in refused(fs, "/srv/private")
    assert "cannot enter /srv/closed" in refused(fs, "/srv/closed/f")
    os.chown(private, 1000, 1000)  # now its own file
    assert read(fs, "/srv/private") == "root's only"
    group = root / "srv/group"
    group.write_text("its group's")
    os.chown(group, 0, 1000)
    os.chmod(group, 0o640)
    assert read(fs, "/srv/group") == "its group's"
    # A root application with CAP_DAC_OVERRIDE reads what it likes in its root.
    assert RootFS(str(root), Creds(0, frozenset({0}), True)).read_text("/srv/closed/f", 100) == "behind a closed folder"


def test_relative_paths_only_in_the_probes_own_container(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = tree
    assert "relative path" in refused(RootFS(str(root), APP), "home/app/.aws/config")
    assert RootFS("/", cwd=str(root)).read_text("home/app/.aws/config", 100) == "[default]\nregion = eu-west-1\n"


def test_follow_last_false_treats_a_final_link_as_no_file(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.symlink("/etc/passwd", root / "home/app/.profile")
    fs = RootFS(str(root), APP)
    assert fs.read_text("/home/app/.profile", 100, follow_last=False) is None
    assert fs.read_text("/home/app/.profile", 100) is not None


def test_kernel_path_for_a_scan_root(tree: tuple[Path, Path]) -> None:
    root, mine = tree
    os.symlink("/srv/deep", root / "app")
    os.symlink(str(mine), root / "escape")
    fs = RootFS(str(root), APP)
    assert fs.kernel_path("/app") == os.path.join(str(root), "srv", "deep")
    assert fs.kernel_path("/") == str(root)
    with pytest.raises(OSError):
        fs.kernel_path("/escape")  # no such folder in the container's root


def test_creds_of_a_real_process() -> None:
    me = creds_of(os.getpid())
    assert me is not None and me.uid == os.getuid()
    assert creds_of(2 ** 22 + 12345) is None
