"""The SDK scanner and sdk.versions over image trees built from real published packages:
pip installs of old and new botocore/boto/awscli, npm tarballs of aws-sdk v2 and
@aws-sdk/credential-provider-node, and Debian packages unpacked with dpkg-deb (a Go
program built with the AWS SDK, the Ruby SDK, botocore and the AWS CLI v2).

Java, PHP, .NET, C++ and PowerShell packages come from registries this machine cannot
reach (Maven Central, Packagist, NuGet); for those the tests write the exact on-disk
formats (jar with pom.properties, Spring Boot / war / ear nesting, composer installed.json
v1 and v2, a PE file with a version resource, ...). Malformed inputs come last.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from helpers import REPO, clean_env, need, run_probe
from probe.checks.sdk import verdict_for
from probe.facts.sdk import binaries, scan


def found(root: Path, **kw: Any) -> dict[tuple[str, str], str]:
    """(sdk, path relative to root) -> version, from a real scan."""
    rec = scan([str(root)], **kw)
    return {(e["sdk"], os.path.relpath(e["path"].split("!/")[0], root)): e["version"] for e in rec["found"]}


def pip_target(dest: Path, spec: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--disable-pip-version-check", "--target", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    need(proc.returncode == 0, f"pip could not install {spec}: {proc.stderr[-300:]}")


# ---------------------------------------------------------------------------------------
# Python (PyPI)
# ---------------------------------------------------------------------------------------

PY_VERSIONS = ["botocore==1.4.36", "botocore==1.4.37", "botocore==1.31.85", "botocore==1.32.0", "boto==2.49.0", "awscli==1.10.46", "awscli==1.10.47"]


@pytest.fixture(scope="module")
def pypi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pypi-image")
    for spec in PY_VERSIONS:
        name, version = spec.split("==")
        pip_target(root / "opt" / f"{name}-{version}" / "site-packages", spec)
    return root


def test_python_versions_found_exactly(pypi_root: Path) -> None:
    got = found(pypi_root)
    for spec in PY_VERSIONS:
        name, version = spec.split("==")
        sdk = {"awscli": "awscli-v1"}.get(name, name)
        key = (sdk, f"opt/{name}-{version}/site-packages/{name}-{version}.dist-info")
        assert got.get(key) == version, (key, got)


@pytest.mark.parametrize(
    "sdk, version, source, verdict",
    [
        pytest.param("botocore", "1.4.36", "relative", "fail", id="botocore-1.4.36-too-old"),
        pytest.param("botocore", "1.4.37", "relative", "pass", id="botocore-1.4.37-ok"),
        pytest.param("botocore", "1.31.85", "full-token-file", "fail", id="botocore-1.31.85-no-token-file"),
        pytest.param("botocore", "1.32.0", "full-token-file", "pass", id="botocore-1.32.0-token-file"),
        pytest.param("awscli-v1", "1.10.46", "relative", "fail", id="awscli-1.10.46-too-old"),
        pytest.param("awscli-v1", "1.10.47", "relative", "pass", id="awscli-1.10.47-ok"),
        pytest.param("boto", "2.49.0", "relative", "fail", id="boto2-never"),
    ],
)
def test_python_verdicts_at_both_sides(pypi_root: Path, sdk: str, version: str, source: str, verdict: str) -> None:
    entry = next(e for e in scan([str(pypi_root)])["found"] if e["sdk"] == sdk and e["version"] == version)
    assert verdict_for(entry, source)[0] == verdict


def test_probe_sdk_command_on_a_pip_tree(pypi_root: Path, home: str) -> None:
    run = run_probe(["sdk", str(pypi_root / "opt" / "botocore-1.4.36"), str(pypi_root / "opt" / "botocore-1.4.37"), "--json"], clean_env(home))
    assert run.rc == 1
    check = run.check("sdk.versions")
    assert check["status"] == "fail" and "1.4.36" in check["detail"] and "older than 1.4.37" in check["detail"]
    verdicts = {e["version"]: e["verdict"] for e in check["data"]["sdks"]}
    assert verdicts == {"1.4.36": "fail", "1.4.37": "pass"}
    assert run.report["mode"] == "sdk" and run.report["identity"] is None
    ok = run_probe(["sdk", str(pypi_root / "opt" / "botocore-1.4.37"), "--json"], clean_env(home))
    assert ok.rc == 0 and ok.status("sdk.versions") == "pass"


def test_probe_sdk_loads_no_network_machinery(pypi_root: Path, home: str) -> None:
    """`probe sdk` sends nothing, so it imports no HTTP, TLS, socket or AWS SDK module (they
    are milliseconds of its start; issue 24). The same run's verdict is the real one."""
    heavy = ("http.client", "ssl", "socket", "email.utils", "botocore", "psutil", "probe.facts._conn", "probe.facts.sts")
    code = (
        "import sys\n"
        "from probe.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        f"sys.stderr.write('LOADED ' + ' '.join(m for m in {heavy!r} if m in sys.modules) + '\\n')\n"
        "raise SystemExit(rc)\n"
    )
    env = clean_env(home)
    env["PYTHONPATH"] = REPO
    proc = subprocess.run([sys.executable, "-c", code, "sdk", str(pypi_root / "opt" / "botocore-1.4.37"), "--json"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=str(pypi_root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["checks"][0]["status"] == "pass"
    assert proc.stderr.splitlines()[-1] == "LOADED ", proc.stderr[-500:]


# ---------------------------------------------------------------------------------------
# Node (npm registry)
# ---------------------------------------------------------------------------------------

NPM = {"aws-sdk@2.4.6": "js-v2", "aws-sdk@2.4.7": "js-v2", "@aws-sdk/credential-provider-node@3.503.0": "js-v3-credential-provider-node", "@aws-sdk/credential-provider-node@3.503.1": "js-v3-credential-provider-node"}


@pytest.fixture(scope="module")
def npm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("npm") is not None, "needs npm")
    packs = tmp_path_factory.mktemp("npm-packs")
    proc = subprocess.run(["npm", "pack", "--silent", *NPM], cwd=packs, capture_output=True, text=True, timeout=300)
    need(proc.returncode == 0, f"npm pack failed: {proc.stderr[-300:]}")
    root = tmp_path_factory.mktemp("npm-image")
    # app-old uses the old versions directly; app-new has the new ones nested under a dependency.
    layout = {
        "aws-sdk@2.4.6": "app-old/node_modules/aws-sdk",
        "@aws-sdk/credential-provider-node@3.503.0": "app-old/node_modules/@aws-sdk/credential-provider-node",
        "aws-sdk@2.4.7": "app-new/node_modules/some-lib/node_modules/aws-sdk",
        "@aws-sdk/credential-provider-node@3.503.1": "app-new/node_modules/@aws-sdk/client-s3/node_modules/@aws-sdk/credential-provider-node",
    }
    for spec, where in layout.items():
        name, version = spec.rsplit("@", 1)
        tgz = packs / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        dest = root / where
        with tarfile.open(tgz) as tf:
            for member in tf.getmembers():
                if member.isfile() and member.name.startswith("package/"):
                    target = dest / member.name[len("package/"):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(member)
                    assert src is not None
                    target.write_bytes(src.read())
    return root


def test_node_versions_found_exactly(npm_root: Path) -> None:
    got = found(npm_root)
    assert got[("js-v2", "app-old/node_modules/aws-sdk/package.json")] == "2.4.6"
    assert got[("js-v2", "app-new/node_modules/some-lib/node_modules/aws-sdk/package.json")] == "2.4.7"
    assert got[("js-v3-credential-provider-node", "app-old/node_modules/@aws-sdk/credential-provider-node/package.json")] == "3.503.0"
    key = ("js-v3-credential-provider-node", "app-new/node_modules/@aws-sdk/client-s3/node_modules/@aws-sdk/credential-provider-node/package.json")
    assert got[key] == "3.503.1"


@pytest.mark.parametrize(
    "sdk, version, source, verdict",
    [
        pytest.param("js-v2", "2.4.6", "relative", "fail", id="aws-sdk-2.4.6"),
        pytest.param("js-v2", "2.4.7", "relative", "pass", id="aws-sdk-2.4.7"),
        pytest.param("js-v3-credential-provider-node", "3.503.0", "full-token-file", "fail", id="provider-node-3.503.0"),
        pytest.param("js-v3-credential-provider-node", "3.503.1", "full-token-file", "pass", id="provider-node-3.503.1"),
    ],
)
def test_node_verdicts_at_both_sides(npm_root: Path, sdk: str, version: str, source: str, verdict: str) -> None:
    entry = next(e for e in scan([str(npm_root)])["found"] if e["sdk"] == sdk and e["version"] == version)
    assert verdict_for(entry, source)[0] == verdict


# ---------------------------------------------------------------------------------------
# Debian packages (dpkg-deb -x): Go, Ruby, botocore egg-info, AWS CLI v2
# ---------------------------------------------------------------------------------------

DEBS = ("amazon-ecr-credential-helper", "ruby-aws-sdk-core", "python3-botocore", "awscli")


@pytest.fixture(scope="module")
def debian_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    need(shutil.which("apt-get") is not None and shutil.which("dpkg-deb") is not None, "needs apt-get and dpkg-deb")
    debs = tmp_path_factory.mktemp("debs")
    proc = subprocess.run(["apt-get", "download", "-q", *DEBS], cwd=debs, capture_output=True, text=True, timeout=600)
    need(proc.returncode == 0, f"apt-get download failed (run apt-get update): {proc.stderr[-300:]}")
    root = tmp_path_factory.mktemp("debian-image")
    fields: dict[str, str] = {}
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
        package = subprocess.run(["dpkg-deb", "-f", str(deb), "Package"], capture_output=True, text=True, check=True).stdout.strip()
        fields[package] = subprocess.run(["dpkg-deb", "-f", str(deb), "Version", "Built-Using"], capture_output=True, text=True, check=True).stdout
    return root, fields


def _debian_version(fields: str) -> str:
    raw = next(line.split(":", 1)[1].strip() for line in fields.splitlines() if line.startswith("Version:"))
    return raw.split("-")[0].split("+")[0]


def test_debian_packages_found_with_their_package_versions(debian_root: tuple[Path, dict[str, str]]) -> None:
    root, fields = debian_root
    rec = scan([str(root)])
    by_sdk = {e["sdk"]: e for e in rec["found"]}
    assert by_sdk["ruby"]["version"] == _debian_version(fields["ruby-aws-sdk-core"])
    assert by_sdk["botocore"]["version"] == _debian_version(fields["python3-botocore"])
    assert by_sdk["awscli-v2"]["version"] == _debian_version(fields["awscli"])
    # The credential helper is a Go program built with aws-sdk-go-v2 (its Built-Using says
    # which), in GOPATH mode: no module versions, so the scanner falls back to the
    # variable names the binary contains.
    assert "golang-github-aws-aws-sdk-go-v2" in fields["amazon-ecr-credential-helper"]
    go = by_sdk["go-unversioned"]
    assert go["path"].endswith("usr/bin/docker-credential-ecr-login")
    assert go["features"] == {"relative": True, "token_file": False}
    # Only one botocore: the AWS CLI v2's own fork is covered by its awscli entry.
    assert [e["sdk"] for e in rec["found"]].count("botocore") == 1


def test_debian_verdicts_depend_on_the_source_in_use(debian_root: tuple[Path, dict[str, str]], home: str) -> None:
    root, _fields = debian_root
    run = run_probe(["sdk", str(root), "--json"], clean_env(home))
    assert run.status("sdk.versions") == "pass"
    token = Path(home) / "token"
    token.write_text("t")
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token)})
    run = run_probe(["sdk", str(root), "--json"], env)
    check = run.check("sdk.versions")
    assert check["status"] == "fail" and check["data"]["source"] == "full-token-file"
    verdicts = {e["sdk"]: e["verdict"] for e in check["data"]["sdks"]}
    # aws-sdk-go-v2 1.17 (2022), botocore 1.29, AWS CLI 2.9, Ruby 3.168: all before the token file.
    assert verdicts == {"go-unversioned": "fail", "botocore": "fail", "awscli-v2": "fail", "ruby": "fail"}


# ---------------------------------------------------------------------------------------
# Formats from registries this machine cannot reach: written byte for byte
# ---------------------------------------------------------------------------------------


def write_jar(path: Path, entries: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def jar_bytes(entries: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def pom(group: str, artifact: str, version: str) -> dict[str, bytes]:
    return {f"META-INF/maven/{group}/{artifact}/pom.properties": f"#Generated by Maven\nversion={version}\ngroupId={group}\nartifactId={artifact}\n".encode()}


def test_java_layouts(tmp_path: Path) -> None:
    write_jar(tmp_path / "lib" / "aws-java-sdk-core-1.11.15.jar", pom("com.amazonaws", "aws-java-sdk-core", "1.11.15"))
    write_jar(tmp_path / "lib" / "aws-java-sdk-bundle-1.12.746.jar", {"x": b""})
    write_jar(tmp_path / "lib" / "unrelated-4.0.jar", {"org/example/A.class": b"\xca\xfe"})
    boot = {
        "BOOT-INF/lib/aws-java-sdk-core-1.11.16.jar": jar_bytes(pom("com.amazonaws", "aws-java-sdk-core", "1.11.16")),
        "BOOT-INF/lib/auth-2.21.29.jar": jar_bytes(pom("software.amazon.awssdk", "auth", "2.21.29")),
        "BOOT-INF/lib/auth-2.1.0.jar": jar_bytes({"org/other/auth/A.class": b""}),  # not the AWS SDK
    }
    write_jar(tmp_path / "app" / "app.jar", boot)
    war = {"WEB-INF/lib/sdk-core-2.21.30.jar": jar_bytes(pom("software.amazon.awssdk", "sdk-core", "2.21.30"))}
    write_jar(tmp_path / "ear" / "app.ear", {"web.war": jar_bytes(war)})
    shaded = pom("com.amazonaws", "aws-java-sdk-core", "1.12.0")
    write_jar(tmp_path / "shaded" / "service.jar", shaded)
    got = scan([str(tmp_path)])["found"]
    versions = sorted((e["sdk"], e["version"]) for e in got)
    assert versions == [
        ("java-v1", "1.11.15"),
        ("java-v1", "1.11.16"),
        ("java-v1", "1.12.0"),
        ("java-v1", "1.12.746"),
        ("java-v2", "2.21.29"),
        ("java-v2", "2.21.30"),
    ]
    by_version = {e["version"]: e for e in got}
    assert by_version["1.11.16"]["path"].endswith("app/app.jar!/BOOT-INF/lib/aws-java-sdk-core-1.11.16.jar")
    assert "app.ear!/web.war!/WEB-INF/lib/sdk-core-2.21.30.jar" in by_version["2.21.30"]["path"]
    assert verdict_for(by_version["1.11.15"], "relative")[0] == "fail"
    assert verdict_for(by_version["1.11.16"], "relative")[0] == "pass"
    assert verdict_for(by_version["2.21.29"], "full-token-file")[0] == "fail"
    assert verdict_for(by_version["2.21.30"], "full-token-file")[0] == "pass"


def test_php_ruby_lock_dotnet_cpp_powershell(tmp_path: Path) -> None:
    v1 = tmp_path / "php1" / "vendor" / "composer" / "installed.json"
    v1.parent.mkdir(parents=True)
    v1.write_text(json.dumps([{"name": "guzzlehttp/guzzle", "version": "6.3.0"}, {"name": "aws/aws-sdk-php", "version": "3.18.27"}]))
    v2 = tmp_path / "php2" / "vendor" / "composer" / "installed.json"
    v2.parent.mkdir(parents=True)
    v2.write_text(json.dumps({"packages": [{"name": "aws/aws-sdk-php", "version": "3.287.1", "version_normalized": "3.287.1.0"}], "dev": False}))
    sdkphp = tmp_path / "php3" / "vendor" / "aws" / "aws-sdk-php" / "src" / "Sdk.php"
    sdkphp.parent.mkdir(parents=True)
    sdkphp.write_text("<?php\nnamespace Aws;\nclass Sdk\n{\n    const VERSION = '3.18.28';\n}\n")
    lock = tmp_path / "rb" / "Gemfile.lock"
    lock.parent.mkdir()
    lock.write_text("GEM\n  remote: https://rubygems.org/\n  specs:\n    aws-eventstream (1.0.3)\n    aws-sdk-core (2.3.21)\n      jmespath (~> 1.0)\n")
    deps = tmp_path / "dotnet" / "app.deps.json"
    deps.parent.mkdir()
    deps.write_text(json.dumps({"libraries": {"AWSSDK.Core/3.7.302": {"type": "package"}, "Newtonsoft.Json/13.0.1": {}}}))
    write_pe(tmp_path / "dotnet2" / "AWSSDK.Core.dll", (3, 1, 5, 0))
    header = tmp_path / "cpp" / "include" / "aws" / "core" / "VersionConfig.h"
    header.parent.mkdir(parents=True)
    header.write_text('#pragma once\n#define AWS_SDK_VERSION_STRING "1.11.263"\n#define AWS_SDK_VERSION_MAJOR 1\n')
    psd1 = tmp_path / "ps" / "Modules" / "AWS.Tools.Common" / "4.1.501" / "AWS.Tools.Common.psd1"
    psd1.parent.mkdir(parents=True)
    psd1.write_text("@{\n    RootModule = 'AWS.Tools.Common.dll'\n    ModuleVersion = '4.1.501'\n}\n")
    got = {(e["sdk"], e["version"]) for e in scan([str(tmp_path)])["found"]}
    assert got == {
        ("php", "3.18.27"),
        ("php", "3.287.1"),
        ("php", "3.18.28"),
        ("ruby", "2.3.21"),
        ("dotnet", "3.7.302"),
        ("dotnet", "3.1.5.0"),
        ("cpp", "1.11.263"),
        ("powershell", "4.1.501"),
    }
    judge = {(e["sdk"], e["version"]): e for e in scan([str(tmp_path)])["found"]}
    assert verdict_for(judge[("php", "3.18.27")], "relative")[0] == "fail"
    assert verdict_for(judge[("php", "3.18.28")], "relative")[0] == "pass"
    assert verdict_for(judge[("ruby", "2.3.21")], "relative")[0] == "fail"
    assert verdict_for(judge[("dotnet", "3.1.5.0")], "relative")[0] == "fail"
    assert verdict_for(judge[("dotnet", "3.7.302")], "full-token-file")[0] == "pass"
    assert verdict_for(judge[("powershell", "4.1.501")], "full-token-file")[0] == "fail"
    assert verdict_for(judge[("cpp", "1.11.263")], "full-token-file")[0] == "pass"


def write_pe(path: Path, version: tuple[int, int, int, int]) -> None:
    """A minimal PE32 file whose .rsrc section holds a VS_FIXEDFILEINFO."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a, b, c, d = version
    fixed = struct.pack("<IIIIII", 0xFEEF04BD, 0x00010000, (a << 16) | b, (c << 16) | d, (a << 16) | b, (c << 16) | d)
    rsrc = b"\0" * 32 + b"VS_VERSION_INFO\0" + fixed + b"\0" * 64
    rsrc = rsrc.ljust(512, b"\0")
    pe_at = 0x80
    opt_size = 224
    raw_at = 0x200
    dos = bytearray(b"MZ" + b"\0" * (pe_at - 2))
    struct.pack_into("<I", dos, 0x3C, pe_at)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, opt_size, 0x2102)
    optional = struct.pack("<H", 0x10B).ljust(opt_size, b"\0")
    section = b".rsrc\0\0\0" + struct.pack("<IIIIIIHHI", len(rsrc), 0x2000, len(rsrc), raw_at, 0, 0, 0, 0, 0x40000040)
    image = bytes(dos) + coff + optional + section
    path.write_bytes(image.ljust(raw_at, b"\0") + rsrc)


def elf64(sections: dict[str, tuple[int, bytes]], load: tuple[int, int, int]) -> bytes:
    """A little-endian ELF64 image: named sections at given file offsets, one PT_LOAD."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n in [*sections, ".shstrtab"])
    body = bytearray(0x4000)
    for _name, (offset, data) in sections.items():
        body[offset : offset + len(data)] = data
    shstr_at = 0x3000
    body[shstr_at : shstr_at + len(names)] = names
    shoff = len(body)
    headers = b"\0" * 64
    name_off = 1
    for name, (offset, data) in sections.items():
        headers += struct.pack("<IIQQQQIIQQ", name_off, 1, 0, 0, offset, len(data), 0, 0, 1, 0)
        name_off += len(name) + 1
    headers += struct.pack("<IIQQQQIIQQ", name_off, 3, 0, 0, shstr_at, len(names), 0, 0, 1, 0)
    nsec = len(sections) + 2
    phoff = 64
    vaddr, foff, size = load
    ehdr = bytearray(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, phoff, shoff, 0, 64, 56, 1, 64, nsec, nsec - 1)
    body[0:64] = ehdr
    body[phoff : phoff + 56] = struct.pack("<IIQQQQQQ", 1, 5, foff, vaddr, vaddr, size, size, 0x1000)
    return bytes(body) + headers


MODINFO = (
    binaries.INFO_START
    + b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
    + b"dep\tgithub.com/aws/aws-sdk-go\tv1.47.10\th1:x=\n"
    + b"dep\tgithub.com/aws/aws-sdk-go-v2/config\tv1.25.0\th1:y=\n"
    + b"dep\tgithub.com/aws/aws-sdk-go-v2/credentials\tv1.15.0\th1:z=\n=>\tgithub.com/aws/aws-sdk-go-v2/credentials\tv1.16.0\th1:w=\n"
    + binaries.INFO_END
)


def _uvarint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def go_binary_inline() -> bytes:
    version = b"go1.21.5"
    blob = binaries.BUILDINFO_MAGIC + bytes([8, 2]) + b"\0" * 16 + _uvarint(len(version)) + version + _uvarint(len(MODINFO)) + MODINFO
    return elf64({".go.buildinfo": (0x1000, blob)}, (0x400000, 0, 0x4000))


def go_binary_pointers() -> bytes:
    """The pre-1.18 layout: the header points at Go string headers (ptr, len) in memory."""
    base = 0x400000
    version = b"go1.16.15"
    strings_at, version_at, modinfo_at = 0x2000, 0x2100, 0x2200
    hdrs = struct.pack("<QQ", base + version_at, len(version)) + struct.pack("<QQ", base + modinfo_at, len(MODINFO))
    blob = binaries.BUILDINFO_MAGIC + bytes([8, 0]) + struct.pack("<QQ", base + strings_at, base + strings_at + 16)
    return elf64({".go.buildinfo": (0x1000, blob), ".rodata": (strings_at, hdrs), ".str1": (version_at, version), ".str2": (modinfo_at, MODINFO)}, (base, 0, 0x4000))


@pytest.mark.parametrize("build", [go_binary_inline, go_binary_pointers], ids=["inline-go1.18+", "pointers-before-go1.18"])
def test_go_build_info_both_formats(tmp_path: Path, build: Any) -> None:
    exe = tmp_path / "bin" / "server"
    exe.parent.mkdir()
    exe.write_bytes(build().ljust(600 * 1024, b"\0"))
    exe.chmod(0o755)
    got = {(e["sdk"], e["version"]) for e in scan([str(tmp_path)])["found"]}
    # A replace directive (=>) wins over the version it replaces.
    assert got == {("go-v1", "1.47.10"), ("go-v2-config", "1.25.0"), ("go-v2-credentials", "1.16.0")}
    entries = {e["sdk"]: e for e in scan([str(tmp_path)])["found"]}
    assert verdict_for(entries["go-v1"], "full-token-file")[0] == "fail"
    assert verdict_for(entries["go-v2-config"], "full-token-file")[0] == "pass"


# ---------------------------------------------------------------------------------------
# Malformed input: never a crash, never a hang
# ---------------------------------------------------------------------------------------


def test_malformed_files_never_crash_or_hang(tmp_path: Path, home: str) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    garbage = os.urandom(700 * 1024)
    for name in ("truncated-go", "garbage-elf"):
        p = root / "bin" / name
        p.write_bytes((go_binary_inline()[:0x1010] if name == "truncated-go" else b"\x7fELF" + garbage).ljust(600 * 1024, b"\xff"))
        p.chmod(0o755)
    write_pe(root / "dotnet" / "AWSSDK.Core.dll", (3, 7, 0, 0))
    pe = root / "dotnet" / "AWSSDK.Core.dll"
    pe.write_bytes(pe.read_bytes()[:300])  # truncated before its sections
    (root / "lib").mkdir()
    (root / "lib" / "aws-java-sdk-core-1.11.0.jar").write_bytes(b"PK\x03\x04" + garbage[:5000])
    (root / "lib" / "app.jar").write_bytes(b"PK\x05\x06" + b"\xff" * 18 + garbage[:100])
    (root / "node_modules" / "aws-sdk").mkdir(parents=True)
    (root / "node_modules" / "aws-sdk" / "package.json").write_bytes(garbage[:4096])
    (root / "vendor" / "composer").mkdir(parents=True)
    (root / "vendor" / "composer" / "installed.json").write_bytes(b'{"packages": [1, "x", {"name": "aws/aws-sdk-php", "version": 7}]')
    (root / "specifications").mkdir()
    (root / "specifications" / "aws-sdk-core-.gemspec").write_bytes(garbage[:100])
    # A FIFO named like a package file would block an open(); it must be skipped.
    (root / "node_modules" / "@aws-sdk" / "credential-provider-node").mkdir(parents=True)
    os.mkfifo(root / "node_modules" / "@aws-sdk" / "credential-provider-node" / "package.json")
    # Symlink loops and a way out of the root: never followed.
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("/", root / "escape")
    os.symlink(str(root), root / "bin" / "self")
    # 1 GB sparse files named like package files.
    for name in ("lib/aws-java-sdk-bundle-1.12.0.jar", "lib/huge.jar", "bin/huge-server", "dotnet2/AWSSDK.Core.dll"):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(b"\x7fELF" if "server" in name else b"PK\x03\x04")
            fh.truncate(1 << 30)
        if "server" in name:
            p.chmod(0o755)
    started = time.monotonic()
    run = run_probe(["sdk", str(root), "--json", "--deadline", "20"], clean_env(home), timeout=60)
    elapsed = time.monotonic() - started
    check = run.check("sdk.versions")
    sdks = {(e["sdk"], e["version"]) for e in check["data"]["sdks"]}
    assert ("java-v1", "1.11.0") in sdks, "a broken jar is still named by its file name"
    assert ("java-v1", "1.12.0") in sdks
    assert ("js-v2", None) in sdks and ("dotnet", None) in sdks
    assert check["status"] == "fail"  # java 1.11.0 is too old; unreadable versions also warned
    assert "version unreadable" in check["detail"]
    assert not any(e["path"].startswith("/usr") or "/escape/" in e["path"] for e in check["data"]["sdks"])
    assert elapsed < 30, "the scan must stay bounded"


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp folders are private to root)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="probe-sdk-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_unreadable_folders_are_counted(world_readable_tmp: Path) -> None:
    need(os.geteuid() == 0 and shutil.which("setpriv") is not None, "needs root and setpriv to scan as another user")
    tmp_path = world_readable_tmp
    root = tmp_path / "root"
    (root / "secret" / "node_modules" / "aws-sdk").mkdir(parents=True)
    (root / "secret" / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.4.6"}')
    (root / "open" / "node_modules" / "aws-sdk").mkdir(parents=True)
    (root / "open" / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.1000.0"}')
    os.chmod(root / "secret", 0o700)
    for p in [tmp_path, root, root / "open"]:
        os.chmod(p, 0o755)
    # The checkout (and its venv) may sit in a folder only root can enter: give the other
    # user a copy of the package and the real interpreter (the scanner is standard library only).
    shutil.copytree(Path(__file__).resolve().parents[1] / "probe", tmp_path / "lib" / "probe", ignore=shutil.ignore_patterns("__pycache__"))
    for p in (tmp_path / "lib", *(tmp_path / "lib").rglob("*")):
        p.chmod(0o755 if p.is_dir() else 0o644)
    python = os.path.realpath(sys.executable)
    need(os.access(python, os.X_OK) and subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-S", "-c", "pass"]).returncode == 0,
         f"{python} cannot be run by another user")
    code = f"import json; from probe.facts.sdk import scan; print(json.dumps(scan([{str(root)!r}])))"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "lib")}
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    rec = json.loads(proc.stdout)
    assert rec["unreadable"] == 1
    assert [e["version"] for e in rec["found"]] == ["2.1000.0"]


def test_scan_stops_at_the_deadline_with_a_partial_result(tmp_path: Path) -> None:
    for i in range(30):
        d = tmp_path / f"d{i}"
        d.mkdir()
        for j in range(200):
            (d / f"f{j}.txt").write_bytes(b"")
    rec = scan([str(tmp_path)], deadline=time.monotonic())
    assert rec["partial"] and "deadline" in rec["partial"]
    assert rec["files"] < 6000
    complete = scan([str(tmp_path)])
    assert complete["partial"] is None and complete["files"] == 6000


def test_pseudo_filesystems_and_proc_are_skipped(tmp_path: Path) -> None:
    for name in ("proc", "sys", "dev"):
        (tmp_path / name / "node_modules" / "aws-sdk").mkdir(parents=True)
        (tmp_path / name / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.0.0"}')
    (tmp_path / "app" / "node_modules" / "aws-sdk").mkdir(parents=True)
    (tmp_path / "app" / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.1.0"}')
    assert [e["version"] for e in scan([str(tmp_path)])["found"]] == ["2.1.0"]


def test_scan_in_a_child_interpreter_gives_the_same_result(tmp_path: Path) -> None:
    from probe.facts.sdk import scan_elsewhere

    (tmp_path / "node_modules" / "aws-sdk").mkdir(parents=True)
    (tmp_path / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.4.7"}')
    child = scan_elsewhere([str(tmp_path)], time.monotonic() + 30)
    here = scan([str(tmp_path)])
    assert child.pop("process") == "child"
    assert child["found"] == here["found"] and child["files"] == here["files"] == 1


# ---------------------------------------------------------------------------------------
# Issue 11, item 11: no reader blocks on a FIFO or follows a symlink; no process is left
# ---------------------------------------------------------------------------------------

OUTSIDE_VERSION = "9.9.9"


def _outside_files(tmp_path: Path) -> Path:
    """A folder outside the scanned root whose files name version 9.9.9 in every format."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "METADATA").write_text(f"Metadata-Version: 2.1\nName: botocore\nVersion: {OUTSIDE_VERSION}\n")
    (out / "__init__.py").write_text(f"__version__ = '{OUTSIDE_VERSION}'\n")
    return out


def _scan_in_child(root: Path, timeout: float = 8) -> dict[str, Any]:
    """scan() in its own interpreter, killed if it blocks (a blocked open cannot be interrupted here)."""
    code = f"import json, sys, time; from probe.facts.sdk import scan; print(json.dumps(scan([{str(root)!r}], time.monotonic() + 60)))"
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=str(Path(__file__).resolve().parents[1]))
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scan blocked for {timeout} s")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    rec["_elapsed"] = time.monotonic() - started
    return rec


# Where the walk itself opens a file it did not see in a directory listing.
WALK_READS = [
    pytest.param("site/botocore.dist-info/METADATA", "botocore", id="dist-info-METADATA"),
    pytest.param("site/boto3.egg-info/PKG-INFO", "boto3", id="egg-info-PKG-INFO"),
    pytest.param("site/awscli.dist-info/METADATA", "awscli-v1", id="awscli-dist-info-METADATA"),
    pytest.param("app/vendor/botocore/__init__.py", "botocore", id="vendored-botocore-init"),
    pytest.param("app/vendor/boto/__init__.py", "boto", id="vendored-boto-init"),
]


def _prepare_walk_read(root: Path, rel: str) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.name == "__init__.py":
        marker = "credentials.py" if target.parent.name == "botocore" else "provider.py"
        (target.parent / marker).write_text("# the package's marker\n")
    return target


@pytest.mark.parametrize("rel, sdk", WALK_READS)
@pytest.mark.parametrize("kind", ["fifo", "symlink-to-fifo", "symlink-outside", "dangling-symlink", "directory"])
def test_walk_reads_never_block_or_leave_the_root(tmp_path: Path, rel: str, sdk: str, kind: str) -> None:
    outside = _outside_files(tmp_path)
    root = tmp_path / "root"
    target = _prepare_walk_read(root, rel)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink-to-fifo":
        os.mkfifo(tmp_path / "pipe")
        os.symlink(tmp_path / "pipe", target)
    elif kind == "symlink-outside":
        os.symlink(outside / target.name.replace("PKG-INFO", "METADATA"), target)
    elif kind == "dangling-symlink":
        os.symlink(tmp_path / "nothing-here", target)
    else:
        target.mkdir()
    rec = _scan_in_child(root)
    assert rec["partial"] is None
    assert rec["_elapsed"] < 10
    versions = {(e["sdk"], e["version"]) for e in rec["found"]}
    assert (sdk, OUTSIDE_VERSION) not in versions, "read a file outside the root through a symlink"
    assert any(e["sdk"] == sdk for e in rec["found"]), "the package is still reported, version unknown"


def test_vendored_marker_symlink_is_not_followed(tmp_path: Path) -> None:
    """A bare botocore/ counts as the SDK only with a real credentials.py beside it."""
    outside = _outside_files(tmp_path)
    pkg = tmp_path / "root" / "vendor" / "botocore"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '1.2.3'\n")
    os.symlink(outside / "__init__.py", pkg / "credentials.py")
    assert scan([str(tmp_path / "root")])["found"] == []


def _files_for_every_reader(root: Path) -> dict[str, Path]:
    """One file per reader the walk dispatches to, each a valid example of its format."""
    files: dict[str, Path] = {}

    def put(rel: str, data: bytes, mode: int = 0o644) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(mode)
        files[rel] = p

    put("node_modules/aws-sdk/package.json", b'{"version": "2.4.7"}')
    put("Gemfile.lock", b"GEM\n  specs:\n    aws-sdk-core (2.3.21)\n")
    put("vendor/composer/installed.json", json.dumps([{"name": "aws/aws-sdk-php", "version": "3.18.27"}]).encode())
    put("vendor/aws/aws-sdk-php/src/Sdk.php", b"<?php class Sdk { const VERSION = '3.18.28'; }")
    write_pe(root / "dotnet/AWSSDK.Core.dll", (3, 1, 5, 0))
    files["dotnet/AWSSDK.Core.dll"] = root / "dotnet/AWSSDK.Core.dll"
    put("dotnet/app.deps.json", json.dumps({"libraries": {"AWSSDK.Core/3.7.302": {}}}).encode())
    put("include/aws/core/VersionConfig.h", b'#define AWS_SDK_VERSION_STRING "1.11.263"\n')
    put("ps/AWS.Tools.Common.psd1", b"@{ ModuleVersion = '4.1.501' }")
    put("lib/app.jar", jar_bytes(pom("com.amazonaws", "aws-java-sdk-core", "1.12.0")))
    put("lib/auth-2.21.29.jar", jar_bytes(pom("software.amazon.awssdk", "auth", "2.21.29")))
    put("lib/app.war", jar_bytes({"WEB-INF/lib/sdk-core-2.21.30.jar": jar_bytes(pom("software.amazon.awssdk", "sdk-core", "2.21.30"))}))
    put("site/botocore.egg-info", b"Metadata-Version: 1.0\nVersion: 1.4.37\n")
    put("bin/server", go_binary_inline().ljust(600 * 1024, b"\0"), 0o755)
    put("bin/server.bin", go_binary_inline().ljust(600 * 1024, b"\0"), 0o755)
    put("bin/server.exe", go_binary_inline().ljust(600 * 1024, b"\0"), 0o755)
    return files


def _dispatch_after_swap(root: Path, rel: str, swap: Any) -> tuple[Any, float]:
    """Simulate the race: the walk lists a regular file, then it becomes something else
    before the reader opens it. Returns the Scan and how long the reader took."""
    import threading

    from probe.facts.sdk import Scan

    path = root / rel
    entry = next(e for e in os.scandir(path.parent) if e.name == path.name)
    entry.stat(follow_symlinks=False)  # what the walk had already seen (cached)
    path.unlink()
    swap(path)
    s = Scan([str(root)])
    worker = threading.Thread(target=s._file, args=(entry, str(path.parent), path.name), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(5)
    elapsed = time.monotonic() - started
    if worker.is_alive() and stat_is_fifo(path):
        # Unblock the stuck reader so the test run can go on.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(5)
    return s, elapsed


def stat_is_fifo(path: Path) -> bool:
    import stat as st

    try:
        return st.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


READERS = [
    "node_modules/aws-sdk/package.json", "Gemfile.lock", "vendor/composer/installed.json",
    "vendor/aws/aws-sdk-php/src/Sdk.php", "dotnet/AWSSDK.Core.dll", "dotnet/app.deps.json",
    "include/aws/core/VersionConfig.h", "ps/AWS.Tools.Common.psd1", "lib/app.jar", "lib/auth-2.21.29.jar",
    "lib/app.war", "site/botocore.egg-info", "bin/server", "bin/server.bin", "bin/server.exe",
]


def test_every_reader_finds_its_example(tmp_path: Path) -> None:
    """The table below is only meaningful if each example is read by its reader."""
    root = tmp_path / "root"
    files = _files_for_every_reader(root)
    found_paths = {e["path"].split("!/")[0] for e in scan([str(root)])["found"]}
    assert {str(files[rel]) for rel in READERS} <= found_paths


@pytest.mark.parametrize("rel", READERS)
@pytest.mark.parametrize("kind", ["fifo", "symlink-to-fifo", "symlink-outside"])
def test_every_reader_refuses_a_file_swapped_after_the_listing(tmp_path: Path, rel: str, kind: str) -> None:
    root = tmp_path / "root"
    files = _files_for_every_reader(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    # The outside copy is a valid file of the same format: following the link would read it.
    shutil.copy(files[rel], outside / "copy")
    os.mkfifo(tmp_path / "pipe")

    def swap(path: Path) -> None:
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink-to-fifo":
            os.symlink(tmp_path / "pipe", path)
        else:
            os.symlink(outside / "copy", path)

    s, elapsed = _dispatch_after_swap(root, rel, swap)
    assert elapsed < 3, f"the reader blocked on a {kind}"
    assert all(e["version"] is None for e in s.found), f"read through a {kind}: {s.found}"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_mentioning(text: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if text.encode() in fh.read():
                    out.append(int(name))
        except OSError:
            pass
    return [p for p in out if p != os.getpid() and _alive(p)]


def _wait_gone(pids: Any, within: float = 5.0) -> list[int]:
    end = time.monotonic() + within
    while time.monotonic() < end:
        left = [p for p in pids() if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids() if _alive(p)]


def test_task_mode_scan_leaves_no_process_after_the_probe_exits(tmp_path: Path) -> None:
    """The probe's console entry leaves with os._exit while the scan job still runs."""
    root = tmp_path / "orphan-check-root"
    target = _prepare_walk_read(root, "site/botocore.dist-info/METADATA")
    os.mkfifo(target)
    (root / "vendor" / "botocore").mkdir(parents=True)
    (root / "vendor" / "botocore" / "credentials.py").write_text("")
    os.mkfifo(root / "vendor" / "botocore" / "__init__.py")
    code = (
        "import os, threading, time\n"
        "from probe.facts.sdk import scan_elsewhere\n"
        f"threading.Thread(target=scan_elsewhere, args=([{str(root)!r}], time.monotonic() + 1.0), daemon=True).start()\n"
        "time.sleep(1.0)\n"
        "os._exit(0)\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code], timeout=20, cwd=str(Path(__file__).resolve().parents[1]))
        assert _wait_gone(lambda: _processes_mentioning(str(root))) == [], "the scanner's child outlived the probe"
    finally:
        for pid in _processes_mentioning(str(root)):
            os.kill(pid, 9)


@pytest.mark.parametrize("parent_exit", ["deadline", "os._exit", "SIGKILL"])
def test_the_child_interpreter_never_outlives_its_deadline_or_parent(tmp_path: Path, parent_exit: str) -> None:
    """Whatever the child is stuck on (here a sleep stands for any blocking call)."""
    from probe.facts import sdk as sdk_facts

    marker = str(tmp_path / "child-marker")
    stall = f"import time; time.sleep(60)  # {marker}"
    if parent_exit == "deadline":
        started = time.monotonic()
        out = sdk_facts.run_child(stall, [], time.monotonic() + 0.5)
        assert out is None and time.monotonic() - started < 3
        assert _wait_gone(lambda: _processes_mentioning(marker), 3) == []
        return
    code = (
        "import os, signal, threading, time\n"
        "from probe.facts import sdk\n"
        f"threading.Thread(target=sdk.run_child, args=({stall!r}, [], None), daemon=True).start()\n"
        "end = time.monotonic() + 10\n"
        "while not sdk._CHILDREN and time.monotonic() < end: time.sleep(0.01)\n"
        "print(next(iter(sdk._CHILDREN)).pid, flush=True)\n"
        "time.sleep(0.3)\n"
        + ("os._exit(0)\n" if parent_exit == "os._exit" else "os.kill(os.getpid(), signal.SIGKILL)\n")
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20, cwd=str(Path(__file__).resolve().parents[1]))
    try:
        child = int(proc.stdout.split()[0])
        assert _wait_gone(lambda: [child], 5) == [], f"the child outlived a parent that ended by {parent_exit}"
    finally:
        for pid in _processes_mentioning(marker):
            os.kill(pid, 9)


# ---------------------------------------------------------------------------------------
# Issue 24: the walk sorts a directory's entries a chunk at a time with C-level passes
# ---------------------------------------------------------------------------------------


def test_the_chunk_screen_passes_every_name_the_dispatch_takes() -> None:
    """_maybe_ours may say yes too often, never too rarely: a chunk it passes over is not
    looked at name by name."""
    from probe.facts import sdk as sdk_facts

    assert all(s.startswith(".") for s in sdk_facts._SUFFIXES), "_SUFFIX_AT_END starts with the dot"
    taken: list[str] = []
    s = sdk_facts.Scan(["/nonexistent"])
    s._file = lambda path, parent, name: taken.append(name)  # type: ignore[method-assign]
    s._provider = lambda path, parent, name: taken.append(name)  # type: ignore[method-assign]
    pool = [
        *sdk_facts._NAMES, *("app" + x for x in sdk_facts._SUFFIXES), *("a.b" + x for x in sdk_facts._SUFFIXES),
        "server", "python3.11", ".hidden", "libaws-cpp-sdk-core.so", "libaws-cpp-sdk-core.so.1.11.0",
        "ContainerProvider.php", "ecs_credentials.js", "container_provider.py", "remote-credentials.ts",
        "ECSCredentials.rb", "ecs-creds.mjs", "EcsProvider.cjs", "containercredentials.py",
        "main.py", "index.js", "README.md", "shared.so", "credits.txt", "app.jar.orig", "x.json",
    ]
    for name in pool:
        del taken[:]
        s._dispatch(SimpleNamespace(path="/p/" + name), "/p", name)  # type: ignore[arg-type]
        if taken:
            assert sdk_facts._maybe_ours(["main.py", name, "index.js"]), name
    assert not sdk_facts._maybe_ours(["main.py", "index.js", "README.md", "app.jar.orig", "x.json"])


def test_the_walk_across_chunk_boundaries_counts_and_skips_like_one_entry_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.facts import sdk as sdk_facts

    monkeypatch.setattr(sdk_facts, "_CHUNK", 7)  # many chunks from a few entries
    outside = tmp_path / "outside"
    (outside / "node_modules" / "aws-sdk").mkdir(parents=True)
    (outside / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "9.9.9"}')
    root = tmp_path / "root"
    (root / "app" / "node_modules" / "aws-sdk").mkdir(parents=True)
    (root / "app" / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.1.0"}')
    for i in range(40):
        (root / "app" / f"f{i}.py").write_text("x = 1\n")
        if i % 5 == 0:
            os.symlink(outside, root / "app" / f"link{i}")
            os.symlink(outside / "node_modules" / "aws-sdk" / "package.json", root / "app" / f"l{i}.jar")
    os.mkfifo(root / "app" / "pipe")
    rec = scan([str(root)])
    assert rec["partial"] is None
    assert rec["files"] == 41  # 40 sources and one package.json; no symlink, no FIFO
    assert [(e["sdk"], e["version"]) for e in rec["found"]] == [("js-v2", "2.1.0")]


def _tree_for_the_helper(root: Path) -> None:
    """SDKs in many folders, a vendored botocore beside its site dir's other packages."""
    for i in range(12):
        pkg = root / f"srv{i}" / "node_modules" / "aws-sdk"
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"version": f"2.{i}.0"}))
        for j in range(30):
            (root / f"srv{i}" / f"f{j}.py").write_text("x = 1\n")
    vendored = root / "opt" / "vendor" / "botocore"
    vendored.mkdir(parents=True)
    (vendored / "credentials.py").write_text("")
    (vendored / "__init__.py").write_text("__version__ = '1.20.0'\n")


def _wait_for_the_helper(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Hand over on the first folder (a test tree is walked before a helper could start)."""
    from probe.facts import sdk as sdk_facts

    monkeypatch.setattr(sdk_facts, "_SPLIT_AFTER", 1)
    helpers: list[Any] = []
    ready = sdk_facts._Helper.ready

    def waiting(self: Any) -> bool:
        end = time.monotonic() + 20
        while not ready(self) and not self.failed and time.monotonic() < end:
            time.sleep(0.01)
        helpers.append(self)
        return ready(self)

    monkeypatch.setattr(sdk_facts._Helper, "ready", waiting)
    # The wait above is no sign of a busy machine; nor is the machine the tests run on.
    monkeypatch.setattr(sdk_facts._Helper, "had_a_core", lambda self: True)
    monkeypatch.setattr(sdk_facts, "_idle_core", lambda: True)
    return helpers


def _summary(rec: dict[str, Any]) -> tuple[Any, ...]:
    return rec["files"], rec["dirs"], rec["unreadable"], rec["partial"], sorted((e["sdk"], e["version"], e["path"]) for e in rec["found"])


def test_a_big_walk_shared_with_a_helper_finds_what_one_process_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.facts import sdk as sdk_facts

    _tree_for_the_helper(tmp_path)
    alone = scan([str(tmp_path)], split=False)
    helpers = _wait_for_the_helper(monkeypatch)
    shared = scan([str(tmp_path)], time.monotonic() + 30)
    assert helpers and helpers[0].given, "the walk was not shared"
    assert _summary(shared) == _summary(alone)
    assert ("botocore", "1.20.0") in {(e["sdk"], e["version"]) for e in shared["found"]}
    assert not sdk_facts._CHILDREN, "the helper outlived the scan"


@pytest.mark.parametrize("failure", ["exits", "garbage", "never-ready"])
def test_a_failed_helper_leaves_its_folders_to_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    from probe.facts import sdk as sdk_facts

    _tree_for_the_helper(tmp_path)
    alone = scan([str(tmp_path)], split=False)
    _wait_for_the_helper(monkeypatch)
    code = sdk_facts._HELPER_CODE
    tail = {
        "exits": "sys.exit(1)\n",
        "garbage": "sys.stdout.write(json.dumps({'files': 'many'}))\nsys.exit(0)\n",
        "never-ready": None,
    }[failure]
    if tail is None:
        code = code.replace('sys.stdout.write("ready\\n")', 'sys.stdout.write("nope!\\n")')
    else:
        code = code.replace("_scan = Scan([], _deadline)", tail + "_scan = Scan([], _deadline)")
    assert code != sdk_facts._HELPER_CODE
    monkeypatch.setattr(sdk_facts, "_HELPER_CODE", code)
    assert _summary(scan([str(tmp_path)], time.monotonic() + 30)) == _summary(alone)
    assert not sdk_facts._CHILDREN


def test_a_helper_past_the_deadline_makes_the_scan_partial_and_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.facts import sdk as sdk_facts

    _tree_for_the_helper(tmp_path)
    _wait_for_the_helper(monkeypatch)
    marker = str(tmp_path / "stalled-helper")
    code = sdk_facts._HELPER_CODE.replace("_scan = Scan([], _deadline)", f"import time; time.sleep(60)  # {marker}\n_scan = Scan([], _deadline)")
    monkeypatch.setattr(sdk_facts, "_HELPER_CODE", code)
    started = time.monotonic()
    rec = scan([str(tmp_path)], time.monotonic() + 2)
    assert time.monotonic() - started < 10
    assert rec["partial"] and "deadline" in rec["partial"]
    assert not sdk_facts._CHILDREN
    assert _wait_gone(lambda: _processes_mentioning(marker), 3) == []


def test_a_helper_that_took_the_walks_own_core_gets_no_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.facts import sdk as sdk_facts

    _tree_for_the_helper(tmp_path)
    alone = scan([str(tmp_path)], split=False)
    helpers = _wait_for_the_helper(monkeypatch)
    monkeypatch.setattr(sdk_facts._Helper, "had_a_core", lambda self: False)
    assert _summary(scan([str(tmp_path)], time.monotonic() + 30)) == _summary(alone)
    assert helpers and helpers[0].given is None and helpers[0].proc.poll() is not None
    assert not sdk_facts._CHILDREN


def test_no_helper_starts_when_every_core_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.facts import sdk as sdk_facts

    monkeypatch.setattr(sdk_facts, "_cores", lambda: 2)
    stat = tmp_path / "stat"
    for running, idle in ((1, True), (2, True), (3, False), (40, False)):
        stat.write_text(f"cpu  1 2 3 4\nprocs_running {running}\nprocs_blocked 0\n")
        assert sdk_facts._idle_core(str(stat)) is idle
    stat.write_text("cpu  1 2 3 4\n")
    assert sdk_facts._idle_core(str(stat)) and sdk_facts._idle_core(str(tmp_path / "none"))
    _tree_for_the_helper(tmp_path / "root")
    alone = scan([str(tmp_path / "root")], split=False)
    monkeypatch.setattr(sdk_facts, "_SPLIT_AFTER", 1)
    monkeypatch.setattr(sdk_facts, "_idle_core", lambda: False)
    started: list[Any] = []
    monkeypatch.setattr(sdk_facts._Helper, "start", classmethod(lambda cls, deadline: started.append(deadline)))
    assert _summary(scan([str(tmp_path / "root")])) == _summary(alone)
    assert started == []
