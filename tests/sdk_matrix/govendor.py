"""Lay out an offline Go module build from Debian's Go sources (tests/sdk_matrix/setup.sh).

    python3 govendor.py BUILD MODULE=DIR[@VERSION]...

BUILD holds main.go. Each MODULE=DIR names a module path and the folder of its source (Debian's
/usr/share/gocode/src/...). Debian ships aws-sdk-go-v2 as one tree without the go.mod files of
its submodules; upstream each folder with a go_module_metadata.go is a module of its own, at the
version that file names (aws/ holds the root module's). So a module given without @VERSION is
split that way; with @VERSION it is one module.

Writes BUILD/go.mod (module example.com/whoami; every module that provides a package main.go
needs, directly or not), BUILD/vendor/modules.txt (those modules and their packages) and
symlinks BUILD/vendor/<module path> -> DIR, so that `go build -mod=vendor` builds offline and
the binary's build info names each module at its version, as a real application's would.
Prints the modules it used on stderr.
"""

from __future__ import annotations

import os
import re
import sys

_IMPORT_BLOCK = re.compile(r"^import\s*\((.*?)^\)", re.MULTILINE | re.DOTALL)
_IMPORT_ONE = re.compile(r'^import\s+(?:[\w.]+\s+)?"([^"]+)"', re.MULTILINE)
_QUOTED = re.compile(r'"([^"]+)"')
_META = re.compile(r'goModuleVersion\s*=\s*"([^"]+)"')


def imports(folder: str) -> set[str]:
    """The packages the non-test Go files in `folder` import (build tags ignored: a superset)."""
    out: set[str] = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        if not name.endswith(".go") or name.endswith("_test.go"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        head = text.split("\nfunc ", 1)[0]
        for block in _IMPORT_BLOCK.findall(head):
            out.update(_QUOTED.findall(block))
        out.update(_IMPORT_ONE.findall(head))
    return out


def split_modules(path: str, folder: str) -> dict[str, tuple[str, str]]:
    """{module path: (folder, version)} for a tree whose modules are marked by go_module_metadata.go."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in ("testdata",) and not d.startswith((".", "_"))]
        if "go_module_metadata.go" not in filenames:
            continue
        with open(os.path.join(dirpath, "go_module_metadata.go"), encoding="utf-8") as fh:
            m = _META.search(fh.read())
        if not m or m.group(1) == "tip":
            continue
        rel = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        mod = path if rel in (".", "aws") else f"{path}/{rel}"  # aws/ carries the root module's version
        out[mod] = (os.path.join(folder) if mod == path else dirpath, m.group(1))
    if path not in out:
        raise SystemExit(f"govendor: no version for {path} in {folder}")
    return out


def main() -> int:
    build, specs = sys.argv[1], sys.argv[2:]
    modules: dict[str, tuple[str, str]] = {}
    for spec in specs:
        path, _, rest = spec.partition("=")
        folder, _, version = rest.partition("@")
        if version:
            modules[path] = (folder, version)
        else:
            modules.update(split_modules(path, folder))
    roots = sorted(modules, key=len, reverse=True)

    def owner(pkg: str) -> str | None:
        return next((m for m in roots if pkg == m or pkg.startswith(m + "/")), None)

    def pkg_dir(pkg: str, mod: str) -> str:
        base = modules[mod][0]
        return base if pkg == mod else os.path.join(base, pkg[len(mod) + 1:])

    used: dict[str, set[str]] = {}
    todo = sorted(imports(build))
    seen: set[str] = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        mod = owner(pkg)
        if mod is None:
            if "." in pkg.split("/", 1)[0]:
                print(f"govendor: {pkg}: no module given for it (fine if only files for other platforms import it)", file=sys.stderr)
            continue
        folder = pkg_dir(pkg, mod)
        if not os.path.isdir(folder):
            print(f"govendor: {pkg}: no folder {folder}", file=sys.stderr)
            continue
        used.setdefault(mod, set()).add(pkg)
        todo.extend(sorted(imports(folder) - seen))

    direct = {owner(p) for p in imports(build)} - {None}
    lines, req = [], []
    for mod in sorted(used):
        version = modules[mod][1]
        version = version if version.startswith("v") else "v" + version
        lines += [f"# {mod} {version}", "## explicit", *sorted(used[mod])]
        req.append(f"\t{mod} {version}" + ("" if mod in direct else " // indirect"))
        # vendor/<module path> -> its folder (a module inside another module's folder is
        # reached through the outer link already).
        outer = next((m for m in used if m != mod and mod.startswith(m + "/")), None)
        if outer is None:
            link = os.path.join(build, "vendor", mod)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not os.path.lexists(link):
                os.symlink(modules[mod][0], link)
        print(f"govendor: {mod} {version} ({len(used[mod])} packages)", file=sys.stderr)
    with open(os.path.join(build, "vendor", "modules.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(build, "go.mod"), "w", encoding="utf-8") as fh:
        fh.write("module example.com/whoami\n\ngo 1.19\n\nrequire (\n" + "\n".join(req) + "\n)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
