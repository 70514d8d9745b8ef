"""Find the AWS SDKs in one or more filesystem roots, with their versions.

One walk per root with ``os.scandir`` that never follows a symlink (so no loop and no
escape from the root), skips pseudo filesystems (/proc, /sys, /dev and any mount of
such a type), dispatches on file names only, and reads just the bytes a format needs.
The walk stops at the deadline and says so: a partial result is still a result.

Every file is opened by ``open_regular``: never through a symlink (O_NOFOLLOW), never
blocking (O_NONBLOCK: a FIFO named METADATA must not hold the scan), and read only if the
open descriptor is a regular file (a FIFO, device or socket swapped in after the listing
is refused). Unopenable files count as ``unreadable``.

Formats (ECS_FACTS.md, "AWS SDK support for the container credential provider"):
Python dist-info / egg-info (botocore, boto3, boto, awscli), AWS CLI v2 installs, Node
package.json (aws-sdk, @aws-sdk/credential-provider-node and -http, nested
node_modules), Java jars / wars / ears (also Spring Boot BOOT-INF/lib and WEB-INF/lib),
Go executables (build info), Ruby gemspecs and Gemfile.lock, PHP composer installed.json
(v1 and v2) and Sdk.php, .NET AWSSDK.Core.dll and *.deps.json, the C++ SDK's
VersionConfig.h and libaws-cpp-sdk-core.so, PowerShell AWS.Tools.Common.
"""

from __future__ import annotations

import atexit
import errno
import io
import json
import os
import re
import stat
import sys
import threading
import time
from itertools import compress, islice, repeat
from operator import contains, not_
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Optional

from probe.facts.sdk import binaries

if TYPE_CHECKING:
    # Imported where used: `probe sdk` starts a fresh interpreter each run and most
    # scans open no jar and start no child (issue 24: about 3 ms of its start).
    import subprocess
    import zipfile

PSEUDO_FS = {
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
    "pstore", "bpf", "mqueue", "hugetlbfs", "configfs", "fusectl", "autofs", "binfmt_misc", "nsfs",
    "efivarfs", "rpc_pipefs", "selinuxfs",
}
ALWAYS_SKIP = ("proc", "sys", "dev")
MAX_FOUND = 500
SMALL = 256 * 1024
GO_MIN_SIZE = 512 * 1024
NESTED_JAR_MAX = 64 << 20

_DIST = re.compile(r"^(botocore|boto3|boto|awscli)-(\d[^-]*?)(?:-py[\d.]+)?\.(dist-info|egg-info)$", re.IGNORECASE)
_JAVA_V1 = re.compile(r"(?:^|/)aws-java-sdk-(core|bundle)-(\d[\w.\-]*?)\.jar$")
_JAVA_V2 = re.compile(r"(?:^|/)(auth|sdk-core|bundle)-(2\.\d+\.\d+[\w.\-]*?)\.jar$")
_POM = re.compile(r"^META-INF/maven/(com\.amazonaws/aws-java-sdk-(?:core|bundle)|software\.amazon\.awssdk/(?:auth|sdk-core|bundle))/pom\.properties$")
_GEMSPEC = re.compile(r"^aws-sdk-core-(\d[\w.]*)\.gemspec$")
_GEMLOCK = re.compile(r"^\s+aws-sdk-core \((\d[\w.]*)\)\s*$", re.MULTILINE)
_CPP_SO = re.compile(r"^libaws-cpp-sdk-core\.so(?:\.(\d[\d.]*))?$")
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")
_GO_MODULES = {
    "github.com/aws/aws-sdk-go": "go-v1",
    "github.com/aws/aws-sdk-go-v2/config": "go-v2-config",
    "github.com/aws/aws-sdk-go-v2/credentials": "go-v2-credentials",
}
_NAMES = frozenset(
    ("package.json", "Gemfile.lock", "installed.json", "Sdk.php", "AWSSDK.Core.dll", "VersionConfig.h",
     "AWS.Tools.Common.psd1", "AWSPowerShell.NetCore.psd1", "AWSPowerShell.psd1")
)
_SUFFIXES = (".jar", ".war", ".ear", ".gemspec", ".deps.json", ".egg-info", ".bin", ".exe")
# A source file whose name says it fetches container credentials (ContainerProvider.php,
# ecs_credentials.js, container_provider.py...): read to see whether it names the ECS
# variables, so that an SDK the model does not know is found and called unknown.
_PROVIDER_FILE = re.compile(r"^(?:ecs|container|remote)[-_]?(?:credentials?|creds)?[-_]?(?:provider)?\.(?:php|py|js|mjs|cjs|rb|ts)$", re.IGNORECASE)
_PROVIDER_FIRST = frozenset("cCeErR")  # most files fail this before the pattern is tried
_PROVIDER_MARKS = (b"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", b"AWS_CONTAINER_CREDENTIALS_FULL_URI")
# Where the SDKs the model knows keep such files: an unknown provider inside them is theirs.
_KNOWN_HOMES = (
    "/node_modules/aws-sdk/", "/node_modules/@aws-sdk/", "/node_modules/@smithy/", "/aws-sdk-php/", "/vendor/aws/",
    "/botocore/", "/awscli/", "/AsyncAws/Core/", "/async-aws/core/", "/aws-sdk-core", "/gems/aws-",
)
# A bare botocore/ or boto/ package (vendored, no dist-info) is the SDK only with these.
_VENDOR_MARKERS = {"botocore": "credentials.py", "boto": "provider.py"}
_NODE = {
    ("node_modules", "aws-sdk"): "js-v2",
    ("@aws-sdk", "credential-provider-node"): "js-v3-credential-provider-node",
    ("@aws-sdk", "credential-provider-http"): "js-v3-credential-provider-http",
}

# The walk's fast passes (see Scan._walk). Unbound DirEntry methods called through map
# run without a Python frame per entry.
_CHUNK = 4096
_IS_SYMLINK = os.DirEntry.is_symlink
_IS_DIR = os.DirEntry.is_dir
_IS_FILE = os.DirEntry.is_file
# A name in a chunk ends one of _SUFFIXES: the names joined, each followed by a NUL (the
# one character no file name holds). Every suffix starts with a dot (tests/test_sdk.py
# holds them to it), so the expression starts with a literal: the search jumps from dot to dot.
_SUFFIX_AT_END = re.compile(r"\.(?:" + "|".join(re.escape(s[1:]) for s in _SUFFIXES) + ")\x00")


def _maybe_ours(names: list[str]) -> bool:
    """Might one of these names be one _dispatch takes? A superset of its rule (a chunk
    this passes over holds nothing of ours), cheaper than _dispatch name by name because
    every test runs in C over the whole chunk."""
    if not _NAMES.isdisjoint(names) or not all(map(contains, names, repeat("."))):
        return True  # a name of ours, or one without a dot (a Go executable?)
    joined = "\x00".join(names) + "\x00"
    # The C++ library's name and provider-like names ("...cred...", "...provider...").
    return _SUFFIX_AT_END.search(joined) is not None or "libaws-cpp-sdk-core" in joined or "red" in joined or "rovider" in joined


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)


def open_regular(path: str) -> BinaryIO:
    """Open a regular file for reading without following a symlink or blocking.

    lstat first, so a device (opening some has effects) or a FIFO is never opened at
    all; then O_NOFOLLOW | O_NONBLOCK and fstat on the descriptor, for a file swapped
    between the two. Raises OSError for anything but a regular file.
    """
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path: str) -> bool:
    """A regular file, not a symlink to one (never follows)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _clean(version: Optional[str]) -> Optional[str]:
    if not version:
        return None
    m = _VERSION.match(version.strip())
    return m.group(1) if m else None


def _dpkg_version(status: Optional[bytes], package: str) -> Optional[str]:
    """A package's version in dpkg's status file (Debian upstream version, revision cut)."""
    if not status:
        return None
    text = status.decode("utf-8", "replace")
    m = re.search(r"^Package: " + re.escape(package) + r"\n(?:[^\n]+\n)*?Version: (?:\d+:)?([^\s-]+)", text, re.MULTILINE)
    return m.group(1) if m else None


def pseudo_mounts(mountinfo: str = "/proc/self/mountinfo") -> set[str]:
    """Mount points of pseudo filesystems, from the kernel's mount table."""
    out: set[str] = set()
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                fstype = right.split(" ", 1)[0]
                if len(fields) > 4 and fstype in PSEUDO_FS:
                    out.add(fields[4].replace("\\040", " "))
    except OSError:
        pass
    return out


def _sort(chunk: list[os.DirEntry[str]]) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]], list[bool]]:
    """A chunk's directories, its other entries and which of those are regular files,
    symlinks left out (never followed, never counted). Raises OSError when an entry's type
    is not in its directory record and its lstat fails; nothing has been acted on then."""
    if True in map(_IS_SYMLINK, chunk):
        # Dropping symlinks first is what makes the argument-less is_dir/is_file below
        # safe: on anything else they answer as with follow_symlinks=False (from the
        # record's type, or from the lstat is_symlink made and cached), and without a
        # keyword argument they cost a fifth as much.
        chunk = list(compress(chunk, map(not_, map(_IS_SYMLINK, chunk))))
    flags = list(map(_IS_DIR, chunk))
    if True in flags:
        dirs = list(compress(chunk, flags))
        others = list(compress(chunk, map(not_, flags)))
    else:
        dirs, others = [], chunk
    return dirs, others, list(map(_IS_FILE, others))


class Scan:
    """One scan over several roots; call ``run`` once, then read ``record()``."""

    def __init__(self, roots: Iterable[str], deadline: Optional[float] = None, split: bool = False) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self.deadline = deadline
        # Whether a big walk may hand half of what is left to a helper process (_Helper).
        self.split = split and _cores() > 1
        self._helper: Optional[_Helper] = None
        self.found: list[dict[str, Any]] = []
        self.files = 0
        self.dirs = 0
        self.unreadable = 0
        self.partial: Optional[str] = None
        self._seen: set[tuple[str, str]] = set()
        # site dirs whose botocore/boto has a dist-info; a bare package dir elsewhere is vendored.
        self._python_dirs: set[str] = set()
        self._bare_python: list[tuple[str, str]] = []

    # ---- results -------------------------------------------------------------------
    def add(self, sdk: str, version: Optional[str], path: str, via: str, features: Optional[dict[str, bool]] = None) -> None:
        key = (sdk, path)
        if key in self._seen or len(self.found) >= MAX_FOUND:
            return
        self._seen.add(key)
        entry: dict[str, Any] = {"sdk": sdk, "version": _clean(version), "raw_version": (version or "")[:40] or None, "path": path, "via": via}
        if features is not None:
            entry["features"] = features
        self.found.append(entry)

    def record(self, started: float) -> dict[str, Any]:
        return {
            "roots": self.roots,
            "found": self.found,
            "files": self.files,
            "dirs": self.dirs,
            "unreadable": self.unreadable,
            "partial": self.partial,
            "elapsed_ms": int((time.monotonic() - started) * 1000),
        }

    # ---- the walk --------------------------------------------------------------------
    def run(self) -> None:
        skip = pseudo_mounts()
        for root in self.roots:
            skip_here = {os.path.join(root, s) for s in ALWAYS_SKIP} | {
                os.path.join(root, m.lstrip("/")) for m in skip if m != "/"
            }
            self._walk([root], skip_here)
            if self.partial:
                break
        if self._helper is not None:
            self._join_helper()
        for site, pkg in self._bare_python:
            if site not in self._python_dirs:
                self._python_init(os.path.join(site, pkg, "__init__.py"), pkg)
        self.dpkg_versions()

    def _walk(self, stack: list[str], skip: set[str]) -> None:
        # Directories are read a chunk at a time and each chunk is sorted with C-level
        # passes (map over DirEntry's own methods, one regular expression over the names
        # joined): a per-entry Python loop cost more than the directory reads themselves
        # (issue 24). Only a chunk whose names might be ours is looked at name by name.
        deadline = self.deadline
        while stack:
            path = stack.pop()
            try:
                it = os.scandir(path)
            except OSError:
                self.unreadable += 1
                continue
            self.dirs += 1
            with it:
                while True:
                    if deadline is not None and time.monotonic() > deadline:
                        self.partial = f"stopped at the deadline after {self.files} files"
                        return
                    try:
                        chunk = list(islice(it, _CHUNK))
                    except OSError:  # the directory went away or failed while being read
                        self.unreadable += 1
                        break
                    if not chunk:
                        break
                    try:
                        dirs, others, regular = _sort(chunk)
                    except OSError:
                        # An entry without a type in its directory record whose lstat
                        # failed: this chunk entry by entry, counting that one unreadable.
                        self._chunk_slowly(path, chunk, skip, stack)
                        continue
                    for entry in dirs:
                        self._dir(entry, path, skip, stack)
                    if not others:
                        continue
                    self.files += regular.count(True)
                    names = [entry.name for entry in others]
                    if not _maybe_ours(names):
                        continue  # nearly every chunk
                    for entry, name, is_file in zip(others, names, regular):
                        if is_file:
                            self._dispatch(entry, path, name)
            if self.split and self.files >= _SPLIT_AFTER and len(stack) > 1:
                self._split(stack, skip)

    def _split(self, stack: list[str], skip: set[str]) -> None:
        """A big walk: start a helper, and once it is ready hand it every other pending
        folder (the stack's bottom holds the large shallow ones, so alternate picks split
        what is left about evenly). One helper per scan, one hand-over."""
        if self._helper is None:
            # Every core taken already: a helper's start (30 ms of CPU) would come out of
            # this walk's time.
            self._helper = _Helper.start(self.deadline) if _idle_core() else None
            if self._helper is None:
                self.split = False
            return
        if not self._helper.ready():
            if self._helper.failed:
                self.split = False
            return
        if not self._helper.had_a_core():
            # Its start slowed this walk: no core to spare (a busy machine, or CPU shares
            # such as sched autogroup's that give both processes together one core).
            # Handing it work would only add the hand-over and a wait for the slower half.
            # (Judged once it is ready: over its first 10 ms this walk loses time even on
            # an idle machine, measured.)
            self._helper.stop()
            self.split = False
            return
        given = stack[1::2]
        if self._helper.hand(given, skip):
            del stack[1::2]
        self.split = False

    def _join_helper(self) -> None:
        """Add the helper's share to this scan; if it failed, walk its folders here."""
        helper, self._helper = self._helper, None
        if helper is None:
            return
        if helper.given is None or self.partial:
            helper.stop()  # the walk ended before the helper was ready, or at the deadline
            return
        share = helper.result(self.deadline)
        if share is None:
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.partial = f"stopped at the deadline after {self.files} files"
                return
            self._walk(*helper.given)
            return
        self.files += share["files"]
        self.dirs += share["dirs"]
        self.unreadable += share["unreadable"]
        for entry in share["found"]:
            key = (entry["sdk"], entry["path"])
            if key not in self._seen and len(self.found) < MAX_FOUND:
                self._seen.add(key)
                self.found.append(entry)
        self._python_dirs.update(share["python_dirs"])
        self._bare_python.extend((site, pkg) for site, pkg in share["bare_python"])
        if share["partial"] and not self.partial:
            self.partial = f"stopped at the deadline after {self.files} files"

    def share(self) -> dict[str, Any]:
        """What a helper's walk sends back (the raw parts run() still combines)."""
        return {
            "files": self.files, "dirs": self.dirs, "unreadable": self.unreadable, "found": self.found,
            "partial": self.partial, "python_dirs": sorted(self._python_dirs), "bare_python": self._bare_python,
        }

    def _chunk_slowly(self, path: str, chunk: list[os.DirEntry[str]], skip: set[str], stack: list[str]) -> None:
        """The chunk entry by entry: an entry whose type cannot be read counts as unreadable."""
        for entry in chunk:
            try:
                if entry.is_dir(follow_symlinks=False):
                    self._dir(entry, path, skip, stack)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                self.unreadable += 1
                continue
            self.files += 1
            self._dispatch(entry, path, entry.name)

    def _dir(self, entry: os.DirEntry[str], path: str, skip: set[str], stack: list[str]) -> None:
        name = entry.name
        full = entry.path
        if full in skip:
            return
        if name.endswith("-info"):
            self._python_meta(full, name, is_dir=True)
            return
        # awscli v2 carries its own botocore fork: the awscli entry covers it.
        if name in _VENDOR_MARKERS and not path.endswith("awscli") and is_regular(os.path.join(full, _VENDOR_MARKERS[name])):
            self._bare_python.append((path, name))
        stack.append(full)

    def _dispatch(self, entry: os.DirEntry[str], path: str, name: str) -> None:
        """A regular file: read it if its name is one of ours (the exact rule _maybe_ours widens)."""
        if name in _NAMES or name.endswith(_SUFFIXES) or "." not in name or name.startswith("libaws-cpp-sdk-core"):
            self._file(entry.path, path, name)
        elif name[:1] in _PROVIDER_FIRST and _PROVIDER_FILE.match(name) and ("red" in name or "rovider" in name):
            self._provider(entry.path, path, name)

    def _file(self, path: str, parent: str, name: str) -> None:
        dot = name.rfind(".")
        ext = name[dot:] if dot > 0 else ""
        if ext in (".jar", ".war", ".ear"):
            self._java(path, name)
        elif name == "package.json":
            self._node(path, parent)
        elif ext == ".gemspec":
            if parent.endswith("specifications"):
                m = _GEMSPEC.match(name)
                if m:
                    self.add("ruby", m.group(1), path, "gemspec")
        elif name == "Gemfile.lock":
            self._gemlock(path)
        elif name == "installed.json":
            if parent.endswith("composer"):
                self._composer(path)
        elif name == "Sdk.php":
            if parent.endswith(os.path.join("aws-sdk-php", "src")):
                self._regex_file(path, "php", re.compile(r"const\s+VERSION\s*=\s*['\"]([^'\"]+)['\"]"), "Sdk.php")
        elif name == "AWSSDK.Core.dll":
            self._pe(path)
        elif name.endswith(".deps.json"):
            self._deps_json(path)
        elif name == "VersionConfig.h":
            if parent.endswith(os.path.join("aws", "core")):
                self._regex_file(path, "cpp", re.compile(r'AWS_SDK_VERSION_STRING\s+"([^"]+)"'), "VersionConfig.h")
        elif name.startswith("libaws-cpp-sdk-core.so"):
            m = _CPP_SO.match(name)
            if m:
                self.add("cpp", m.group(1), path, "library name")
        elif ext == ".psd1":
            if name in ("AWS.Tools.Common.psd1", "AWSPowerShell.NetCore.psd1", "AWSPowerShell.psd1"):
                self._regex_file(path, "powershell", re.compile(r"ModuleVersion\s*=\s*['\"]([^'\"]+)['\"]"), "module manifest")
        elif ext == ".egg-info":
            self._python_meta(path, name, is_dir=False)
        elif not ext or ext in (".bin", ".exe"):
            self._maybe_go(path)

    # ---- readers ---------------------------------------------------------------------
    def _read(self, path: str, limit: int = SMALL) -> Optional[bytes]:
        try:
            with open_regular(path) as fh:
                return fh.read(limit)
        except OSError:
            self.unreadable += 1
            return None

    def _regex_file(self, path: str, sdk: str, pattern: "re.Pattern[str]", via: str) -> None:
        data = self._read(path)
        if data is None:
            return
        m = pattern.search(data.decode("utf-8", "replace"))
        self.add(sdk, m.group(1) if m else None, path, via)

    def _python_meta(self, path: str, name: str, is_dir: bool) -> None:
        m = _DIST.match(name)
        base = name.split("-", 1)[0].split(".", 1)[0].lower()
        if not m and base not in ("botocore", "boto3", "boto", "awscli"):
            return
        version = m.group(2) if m else None
        meta_file = os.path.join(path, "METADATA" if name.endswith(".dist-info") else "PKG-INFO") if is_dir else path
        if version is None or not re.match(r"^\d", version):
            data = self._read(meta_file, 8192)
            if data:
                vm = re.search(r"^Version:\s*(\S+)", data.decode("utf-8", "replace"), re.MULTILINE)
                version = vm.group(1) if vm else None
        sdk = base
        if base == "awscli":
            sdk = "awscli-v2" if (version or "").startswith("2.") else "awscli-v1"
        self._python_dirs.add(os.path.dirname(path))
        self.add(sdk, version, path, "dist-info" if name.endswith(".dist-info") else "egg-info")

    def _python_init(self, path: str, pkg: str) -> None:
        # The marker beside it says it is the SDK: unreadable, it is still reported (version unknown).
        data = self._read(path, 16384)
        m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", data.decode("utf-8", "replace"), re.MULTILINE) if data else None
        self.add(pkg, m.group(1) if m else None, path, "__init__.py (vendored)")

    def _node(self, path: str, parent: str) -> None:
        head, pkg = os.path.split(parent)
        scope = os.path.basename(head)
        sdk = _NODE.get((scope, pkg))
        if sdk is None:
            return
        data = self._read(path)
        version = None
        if data is not None:
            try:
                doc = json.loads(data.decode("utf-8"))
                version = doc.get("version") if isinstance(doc, dict) and isinstance(doc.get("version"), str) else None
            except ValueError:
                version = None
        self.add(sdk, version, path, "package.json")

    def _gemlock(self, path: str) -> None:
        data = self._read(path, 1 << 20)
        if data is None:
            return
        m = _GEMLOCK.search(data.decode("utf-8", "replace"))
        if m:
            self.add("ruby", m.group(1), path, "Gemfile.lock")

    def _provider(self, path: str, parent: str, name: str) -> None:
        if name == "ContainerProvider.php" and parent.endswith(os.path.join("AsyncAws", "Core", "Credentials")):
            # Debian's php-async-aws-core (no composer metadata): its version from dpkg.
            self.add("php-asyncaws", None, path, "AsyncAws/Core (ContainerProvider.php)")
            return
        if any(home in path for home in _KNOWN_HOMES):
            return
        data = self._read(path, 64 << 10)
        if data is not None and any(mark in data for mark in _PROVIDER_MARKS):
            self.add("unknown-container-provider", None, path, "a source file naming AWS_CONTAINER_CREDENTIALS_*")

    def dpkg_versions(self) -> None:
        """Versions of Debian-packaged SDKs found without their own metadata."""
        for entry in self.found:
            if entry["sdk"] != "php-asyncaws" or entry["version"]:
                continue
            root = next((r for r in self.roots if entry["path"].startswith(r.rstrip("/") + "/")), None)
            if root is None:
                continue
            version = _dpkg_version(self._read(os.path.join(root, "var/lib/dpkg/status"), 16 << 20), "php-async-aws-core")
            if version:
                entry["version"] = _clean(version)
                entry["raw_version"] = version[:40]

    def _composer(self, path: str) -> None:
        data = self._read(path, 16 << 20)
        if data is None:
            return
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError:
            self.add("php", None, path, "installed.json (unreadable)")
            return
        packages = doc.get("packages") if isinstance(doc, dict) else doc
        for pkg in packages if isinstance(packages, list) else []:
            name = pkg.get("name") if isinstance(pkg, dict) else None
            if name in ("aws/aws-sdk-php", "async-aws/core"):
                self.add("php" if name == "aws/aws-sdk-php" else "php-asyncaws", pkg.get("version") if isinstance(pkg.get("version"), str) else None, path, "installed.json")

    def _deps_json(self, path: str) -> None:
        data = self._read(path, 8 << 20)
        if data is None:
            return
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except ValueError:
            return
        libs = doc.get("libraries") if isinstance(doc, dict) else None
        for key in libs if isinstance(libs, dict) else {}:
            if key.startswith("AWSSDK.Core/"):
                self.add("dotnet", key.split("/", 1)[1], path, "deps.json")

    def _pe(self, path: str) -> None:
        try:
            with open_regular(path) as fh:
                version = binaries.pe_file_version(fh)
        except OSError:
            self.unreadable += 1
            return
        self.add("dotnet", version, path, "AWSSDK.Core.dll FileVersion")

    def _maybe_go(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not (st.st_mode & 0o111) or st.st_size < GO_MIN_SIZE or not stat.S_ISREG(st.st_mode):
            return
        try:
            with open_regular(path) as fh:
                if os.fstat(fh.fileno()).st_size < GO_MIN_SIZE or fh.read(4) != b"\x7fELF":
                    return
                info = binaries.go_modules(fh)
                if not info:
                    # Not Go: a Rust binary names its crates' source folders.
                    version = binaries.rust_aws_config(fh)
                    if version:
                        self.add("rust", version, path, "Rust crate path (aws-config)")
                    return
                deps = info.get("deps") or {}
                if not isinstance(deps, dict):
                    return
                for module, sdk in _GO_MODULES.items():
                    if module in deps:
                        self.add(sdk, deps[module], path, f"Go build info ({info.get('go')})")
                if not deps:
                    # Built without module information: the SDK's variable names tell.
                    features = binaries.feature_strings(fh)
                    if features["relative"]:
                        self.add("go-unversioned", None, path, f"Go binary without module versions ({info.get('go')})", features)
        except OSError:
            self.unreadable += 1

    def _java(self, path: str, name: str) -> None:
        m = _JAVA_V1.search(name)
        if m:
            self.add("java-v1", m.group(2), path, "jar name")
            return
        try:
            fh = open_regular(path)
        except OSError:
            self.unreadable += 1
            return
        import zipfile

        with fh:
            if not name.endswith((".war", ".ear")) and not _JAVA_V2.search(name) and not _mentions_aws(fh):
                return  # most jars on a system: one look at the central directory is enough
            try:
                fh.seek(0)
                with zipfile.ZipFile(fh) as zf:
                    self._java_zip(zf, path, depth=0)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
                pass

    def _java_zip(self, zf: zipfile.ZipFile, path: str, depth: int) -> None:
        import zipfile

        for info in zf.infolist()[:200_000]:
            n = info.filename
            pom = _POM.match(n)
            if pom:
                props = zf.read(info)[:SMALL].decode("utf-8", "replace") if info.file_size < SMALL else ""
                vm = re.search(r"^version=(\S+)", props, re.MULTILINE)
                sdk = "java-v1" if pom.group(1).startswith("com.amazonaws") else "java-v2"
                self.add(sdk, vm.group(1) if vm else None, f"{path}!/{n}", "pom.properties")
            elif n.endswith(".jar") and depth < 2:
                m1 = _JAVA_V1.search(n)
                m2 = _JAVA_V2.search(n)
                if m1:
                    self.add("java-v1", m1.group(2), f"{path}!/{n}", "nested jar name")
                elif m2 and info.file_size < NESTED_JAR_MAX:
                    # Generic names (auth-2.x.jar): look inside to be sure it is the AWS SDK.
                    try:
                        with zipfile.ZipFile(io.BytesIO(zf.read(info))) as inner:
                            self._java_zip(inner, f"{path}!/{n}", depth + 1)
                    except (zipfile.BadZipFile, ValueError, EOFError, RuntimeError, NotImplementedError):
                        pass
            elif n.endswith((".war", ".ear")) and depth < 2 and info.file_size < NESTED_JAR_MAX:
                try:
                    with zipfile.ZipFile(io.BytesIO(zf.read(info))) as inner:
                        self._java_zip(inner, f"{path}!/{n}", depth + 1)
                except (zipfile.BadZipFile, ValueError, EOFError, RuntimeError, NotImplementedError):
                    pass


# Names in a central directory that mean "look inside": the SDK's packages, its jars by
# name (v2 ships generic names such as auth-2.x.jar), and nested archives.
_AWS_MARKERS = (b"amazonaws", b"software/amazon/awssdk", b"aws-java-sdk", b"lib/auth-2.", b"lib/sdk-core-2.", b"lib/bundle-2.", b".war", b".ear")


def _mentions_aws(fh: BinaryIO) -> bool:
    """Does the archive's central directory name anything of the AWS SDK for Java?

    Reads the end-of-central-directory record and the directory itself as raw bytes
    (no per-entry objects), so thousands of unrelated jars cost little.
    """
    try:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        tail_len = min(size, 65536 + 22)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        eocd = tail.rfind(b"PK\x05\x06")
        if eocd == -1 or eocd + 22 > len(tail):
            return False
        cd_size, cd_offset = int.from_bytes(tail[eocd + 12 : eocd + 16], "little"), int.from_bytes(tail[eocd + 16 : eocd + 20], "little")
        if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
            return True  # zip64: let zipfile decide
        if cd_size > NESTED_JAR_MAX or cd_offset + cd_size > size:
            return False
        fh.seek(cd_offset)
        directory = fh.read(cd_size)
    except OSError:
        return False
    return any(marker in directory for marker in _AWS_MARKERS)


def aws_cli_v2_installs(roots: Iterable[str]) -> list[tuple[str, str]]:
    """The AWS CLI v2 installer's layout: /usr/local/aws-cli/v2/<version>/."""
    out = []
    for root in roots:
        base = os.path.join(root, "usr", "local", "aws-cli", "v2")
        names = _listdir_nofollow(root, ("usr", "local", "aws-cli", "v2"))
        for name in names:
            if re.match(r"^2\.\d+\.\d+$", name):
                out.append((name, os.path.join(base, name)))
    return out


def _listdir_nofollow(root: str, parts: tuple[str, ...]) -> list[str]:
    """Names in root/parts..., reached without following a symlink below the root."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return []
    try:
        for part in parts:
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError:
                return []
            os.close(fd)
            fd = nxt
        return os.listdir(fd)
    except OSError:
        return []
    finally:
        os.close(fd)


def roots_for(roots: list[str], survey: dict[str, Any]) -> list[str]:
    """The roots plus /proc/PID/root of surveyed processes whose filesystem is another one."""
    out = list(roots)
    seen = set()
    for root in roots:
        try:
            st = os.stat(root)
            seen.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    for entry in survey.get("processes") or []:
        candidate = f"/proc/{entry.get('pid')}/root"
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            out.append(candidate)
    return out


def scan(roots: Iterable[str], deadline: Optional[float] = None, split: bool = True) -> dict[str, Any]:
    """Scan the roots; never raises. ``split``: a big walk may use a second core (_Helper)."""
    started = time.monotonic()
    roots = list(roots)
    s = Scan(roots, deadline, split=split)
    try:
        s.run()
        for version, path in aws_cli_v2_installs(s.roots):
            s.add("awscli-v2", version, path, "installer directory")
    except Exception as exc:  # a scanner bug must not take the probe down
        s.partial = f"the scan failed: {type(exc).__name__}: {exc}"
    return s.record(started)


# Child interpreters still running; killed at exit (see run_child).
_CHILDREN: set["subprocess.Popen[bytes]"] = set()
_CHILDREN_LOCK = threading.Lock()

# Runs first in every child: it dies with its parent and at its own deadline, whatever
# it is blocked on, so the probe never leaves a process behind.
_CHILD_GUARD = """\
import os, signal, sys
_parent, _budget = int(sys.argv[1]), float(sys.argv[2])
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != _parent:
    os._exit(3)  # the parent ended before the death signal was armed
if _budget > 0:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # default action: end the process
    signal.setitimer(signal.ITIMER_REAL, _budget)
del sys.argv[1:3]
"""


def _kill_children() -> None:
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for child in children:
        try:
            child.kill()
        except OSError:
            pass


atexit.register(_kill_children)


def run_child(code: str, args: list[str], deadline: Optional[float], grace: float = 0.5) -> Optional[str]:
    """Run ``code`` in a child interpreter (``python -S``) and return its stdout, or None
    if it failed or was still running ``grace`` seconds past the deadline (then it is
    killed). The child never outlives the deadline + grace (its own timer), nor this
    process (Linux's parent-death signal, and an atexit kill elsewhere): a child blocked
    on a file or a hung filesystem must not stay behind after the probe exits.
    """
    started = _start_child(code, args, deadline, grace, stdin=False)
    if started is None:
        return None
    return _finish_child(*started)


def _start_child(code: str, args: list[str], deadline: Optional[float], grace: float, stdin: bool) -> Optional[tuple["subprocess.Popen[bytes]", Optional[float]]]:
    """The child of run_child, started; with ``stdin`` a pipe to it. (process, limit) or None."""
    import subprocess

    budget = None if deadline is None else max(0.1, deadline - time.monotonic())
    limit = None if budget is None else budget + grace
    argv = [sys.executable, "-S", "-c", _CHILD_GUARD + code, str(os.getpid()), repr(limit or 0.0), *args]
    try:
        # -S: no site-packages (the scanner is standard library only): a 10 ms start.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
        )
    except OSError:
        return None
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
    return proc, limit


def _finish_child(proc: "subprocess.Popen[bytes]", limit: Optional[float]) -> Optional[str]:
    """The child's stdout once it ended (None: failed, or killed ``limit`` s from now)."""
    import subprocess

    try:
        out, _ = proc.communicate(timeout=limit)
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # a child that died before reading its stdin
                    pass
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
    return out.decode("utf-8", "replace") if proc.returncode == 0 else None


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# A walk of more regular files than this may hand half of what is left to a helper: about
# 6 ms into the walk, while the helper takes ~30 ms to start, so a small tree (every test
# but a few) never starts one and a big one gains most of a core (issue 24).
_SPLIT_AFTER = 5000

# The helper: this module alone (empty stand-ins for the probe and probe.facts packages,
# whose imports it does not need, make its start 30 ms rather than 55), "ready" on stdout,
# then one line on stdin: the folders to walk, the skip set and the deadline (monotonic
# time is the same clock in both processes on Linux), and the raw share on stdout.
_HELPER_CODE = """\
import json, types
for _name, _path in json.loads(sys.argv[1]):
    _mod = types.ModuleType(_name)
    _mod.__path__ = [_path]
    sys.modules[_name] = _mod
from probe.facts.sdk import Scan
sys.stdout.write("ready\\n")
sys.stdout.flush()
_job = sys.stdin.readline()
if not _job:
    sys.exit(0)
_folders, _skip, _deadline = json.loads(_job)
_scan = Scan([], _deadline)
_scan._walk(_folders, set(_skip))
sys.stdout.write(json.dumps(_scan.share()))
"""


def _idle_core(stat: str = "/proc/stat") -> bool:
    """Is a core free now, by the kernel's count of runnable tasks (this walk is one)?
    Unknown counts as yes: the helper's own check (had_a_core) still stands."""
    try:
        with open(stat, "rb") as fh:
            for line in fh:
                if line.startswith(b"procs_running "):
                    return int(line.split()[1]) <= _cores()
    except (OSError, ValueError, IndexError):
        pass
    return True


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Helper:
    """A second process that walks part of one big scan (the walk is CPU-bound and threads
    would share one core through the GIL). It is run_child's kind of child: it dies at the
    deadline and with this process. Everything it sends back is checked; if it fails, the
    scan walks its folders itself."""

    def __init__(self, proc: "subprocess.Popen[bytes]", limit: Optional[float], deadline: Optional[float]) -> None:
        self.proc = proc
        self.limit = limit
        self.deadline = deadline
        self.given: Optional[tuple[list[str], set[str]]] = None
        self.failed = False
        self._ready = False
        self._started = (time.monotonic(), time.process_time())

    @classmethod
    def start(cls, deadline: Optional[float]) -> Optional["_Helper"]:
        here = os.path.dirname(os.path.abspath(__file__))
        stand_ins = [["probe", os.path.dirname(os.path.dirname(here))], ["probe.facts", os.path.dirname(here)]]
        code = f"import sys\nsys.path.insert(0, {_package_parent()!r})\n" + _HELPER_CODE
        started = _start_child(code, [json.dumps(stand_ins)], deadline, 0.5, stdin=True)
        return None if started is None else cls(*started, deadline)

    def ready(self) -> bool:
        """Has it said "ready"? Never waits."""
        import select

        if self._ready or self.failed:
            return self._ready
        fd = self.proc.stdout.fileno() if self.proc.stdout is not None else -1
        try:
            if not select.select([fd], [], [], 0)[0]:
                return False
            line = os.read(fd, 6)
        except (OSError, ValueError):
            line = b""
        self._ready = line == b"ready\n"
        if not self._ready:
            self.failed = True
            self.stop()
        return self._ready

    def had_a_core(self) -> bool:
        """Did this process keep its core while the helper started? (CPU time against the
        time elapsed since; the main thread waits meanwhile, the walk is CPU-bound. On
        two idle cores 1.0, beside stress-ng --cpu 2 0.3-0.5, measured.)"""
        wall = time.monotonic() - self._started[0]
        return wall <= 0 or (time.process_time() - self._started[1]) / wall >= 0.75

    def hand(self, folders: list[str], skip: set[str]) -> bool:
        """Give it the folders to walk; False if it could not take them."""
        if self.proc.stdin is None:
            return False
        try:
            self.proc.stdin.write(json.dumps([folders, sorted(skip), self.deadline]).encode("utf-8", "surrogateescape") + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            self.failed = True
            self.stop()
            return False
        self.given = (folders, skip)
        return True

    def result(self, deadline: Optional[float]) -> Optional[dict[str, Any]]:
        """Its share, once it ended; None if it failed or ran past the deadline."""
        # It stops at the deadline too (its own Scan checks it): a moment's grace to send its share.
        out = _finish_child(self.proc, self.limit if deadline is None else max(0.0, deadline - time.monotonic()) + 0.1)
        if out is None:
            return None
        try:
            share = json.loads(out)
        except ValueError:
            return None
        return share if _valid_share(share) else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        _finish_child(self.proc, 0)


def _valid_share(share: Any) -> bool:
    """The helper's answer has the shape Scan.share gives, so merging it cannot fail."""
    if not isinstance(share, dict) or not all(isinstance(share.get(k), int) for k in ("files", "dirs", "unreadable")):
        return False
    if not (share.get("partial") is None or isinstance(share.get("partial"), str)):
        return False
    found, dirs, bare = share.get("found"), share.get("python_dirs"), share.get("bare_python")
    return (
        isinstance(found, list) and all(isinstance(e, dict) and isinstance(e.get("sdk"), str) and isinstance(e.get("path"), str) for e in found)
        and isinstance(dirs, list) and all(isinstance(d, str) for d in dirs)
        and isinstance(bare, list) and all(isinstance(b, list) and len(b) == 2 and all(isinstance(x, str) for x in b) for b in bare)
    )


def scan_elsewhere(roots: list[str], deadline: Optional[float]) -> dict[str, Any]:
    """The same scan in a child interpreter, so it runs on another core while this process
    imports botocore and waits on the network (the walk is CPU-bound; threads would share
    one core through the GIL). Falls back to scanning here if the child cannot start."""
    budget = None if deadline is None else max(0.1, deadline - time.monotonic())
    package_parent = _package_parent()
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {package_parent!r})\n"
        "from probe.facts.sdk import scan\n"
        "roots, budget = json.loads(sys.argv[1])\n"
        "deadline = None if budget is None else time.monotonic() + budget\n"
        # Beside the probe's own work the child is the second core already.
        "sys.stdout.write(json.dumps(scan(roots, deadline, split=False)))\n"
    )
    started = time.monotonic()
    out = run_child(code, [json.dumps([roots, budget])], deadline)
    if out is None:
        if deadline is not None and time.monotonic() >= deadline:
            return {"roots": roots, "found": [], "files": 0, "dirs": 0, "unreadable": 0, "partial": "stopped at the deadline", "elapsed_ms": int((time.monotonic() - started) * 1000)}
        return scan(roots, deadline)
    try:
        record = json.loads(out)
    except ValueError:
        return scan(roots, deadline)
    if isinstance(record, dict) and "found" in record:
        record["process"] = "child"
        return record
    return scan(roots, deadline)
