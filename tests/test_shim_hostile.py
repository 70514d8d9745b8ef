"""Both shims under attack (issue 11): hostile credentials endpoints, hostile tokens, hostile
commands and hostile profiles.

Every hostile endpoint is a small server on loopback (AWS_CONTAINER_CREDENTIALS_FULL_URI to
127.0.0.1 is what the SDKs allow); every one of its loops ends by itself. The sh twin is run on
every path it has: curl, GNU wget, busybox wget (PATH holds only the client under test).
"""

from __future__ import annotations

import sys
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

from helpers import REPO, clean_env, need
from test_shim import IMPLS, SH_TWIN, run_shim

CREDS = json.dumps(
    {"AccessKeyId": "ASIAHOSTILETEST0001", "SecretAccessKey": "s" * 40, "Token": "t" * 80, "Expiration": "2099-01-01T00:00:00Z", "RoleArn": "arn:aws:iam::123456789012:role/r"}
).encode()
LIMIT = 60.0  # no server loop runs longer than this
SLACK = 3.0  # a --wait of W seconds must be over within W + SLACK


def _ok(body: bytes = CREDS, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body


class Endpoint:
    """A one-trick HTTP server on 127.0.0.1: ``behaviour(conn, request, stop)`` answers."""

    def __init__(self, behaviour: Callable[[socket.socket, bytes, threading.Event], None]) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/credentials/hostile"

    def __enter__(self) -> "Endpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        end = time.monotonic() + LIMIT
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.requests.append(data)
            self.behaviour(conn, data, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def authorization(self) -> list[str]:
        out = []
        for req in self.requests:
            for line in req.split(b"\r\n")[1:]:
                if line.lower().startswith(b"authorization:"):
                    out.append(line.split(b":", 1)[1].strip().decode("utf-8", "replace"))
        return out


def _hold(stop: threading.Event, seconds: float = LIMIT) -> None:
    stop.wait(seconds)


def silent(conn: socket.socket, req: bytes, stop: threading.Event) -> None:
    _hold(stop)


def drip_headers(conn: socket.socket, req: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    end = time.monotonic() + LIMIT
    while not stop.is_set() and time.monotonic() < end:
        conn.sendall(b"a")
        stop.wait(0.05)


def drip_body(conn: socket.socket, req: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    end = time.monotonic() + LIMIT
    body = CREDS[:-1] + b' , "Pad": "'
    i = 0
    while not stop.is_set() and time.monotonic() < end:
        conn.sendall(body[i : i + 1] if i < len(body) else b"x")
        i += 1
        stop.wait(0.05)


def never_close(conn: socket.socket, req: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n" + CREDS)
    _hold(stop)


def huge(conn: socket.socket, req: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + CREDS[:-1] + b', "Pad": "')
    block = b"A" * 65536
    end = time.monotonic() + LIMIT
    sent = 0
    while not stop.is_set() and time.monotonic() < end and sent < (4 << 30):
        conn.sendall(block)
        sent += len(block)


HOSTILE_ENDPOINTS = [
    pytest.param(silent, id="silent"),
    pytest.param(drip_headers, id="drip-headers"),
    pytest.param(drip_body, id="drip-body"),
    pytest.param(never_close, id="never-close"),
    pytest.param(huge, id="huge"),
]


# ---------------------------------------------------------------------------------------
# Every path: the Python shim, and the sh twin with curl, GNU wget or busybox wget
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bare_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every command of this machine but curl and wget."""
    folder = tmp_path_factory.mktemp("bare-bin")
    for src in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(src):
            continue
        for name in os.listdir(src):
            if name in ("curl", "wget") or (folder / name).exists() or (folder / name).is_symlink():
                continue
            os.symlink(os.path.join(src, name), folder / name)
    return folder


PATHS = ["python", "curl", "gnu-wget", "busybox-wget"]


def path_argv(path: str, bare_bin: Path, tmp_path: Path) -> tuple[list[str], str]:
    """The shim's argv and the PATH it runs with, for one client path."""
    if path == "python":
        return list(IMPLS["python"]), os.environ["PATH"]
    if path == "curl":
        need(shutil.which("curl") is not None, "needs curl")
        return list(IMPLS["sh"]), os.environ["PATH"]
    client = tmp_path / f"{path}-bin"
    client.mkdir()
    if path == "gnu-wget":
        need(shutil.which("wget") is not None and b"GNU Wget" in subprocess.run(["wget", "--version"], capture_output=True).stdout, "needs GNU wget")
        os.symlink(shutil.which("wget"), client / "wget")
        return ["/bin/sh", SH_TWIN], f"{client}:{bare_bin}"
    need(shutil.which("busybox") is not None, "needs busybox")
    os.symlink(shutil.which("busybox"), client / "wget")
    return ["busybox", "sh", SH_TWIN], f"{client}:{bare_bin}"


def wait_run(argv: list[str], search: str, home: str, url: str, seconds: str, extra: Optional[dict[str, str]] = None, strict: bool = False) -> tuple[subprocess.CompletedProcess[str], float]:
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": url, **(extra or {})})
    env["PATH"] = search
    env["TMPDIR"] = home  # the twin's private folder for answers goes here, and must go
    args = ["--no-default-profiles", *(["--strict"] if strict else []), "--wait", seconds, "--", "echo", "started"]
    start = time.monotonic()
    proc = run_shim(argv, args, env, timeout=float(seconds) + 30)
    return proc, time.monotonic() - start


def clients_left(port: int) -> list[str]:
    """Processes still running that were started to ask our endpoint."""
    left = []
    needle = f":{port}/".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if needle in cmdline and b"pytest" not in cmdline:
            left.append(cmdline.replace(b"\0", b" ").decode("utf-8", "replace"))
    return left


def assert_no_clients_left(port: int) -> None:
    deadline = time.monotonic() + 2
    while clients_left(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert clients_left(port) == [], "a client process outlived the shim"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("behaviour", HOSTILE_ENDPOINTS)
def test_wait_is_bounded_whatever_the_endpoint_does(path: str, behaviour: Callable, home: str, tmp_path: Path, bare_bin: Path) -> None:
    """Item 9 and 10: the whole wait is bounded, on every path, for every way of stalling."""
    argv, search = path_argv(path, bare_bin, tmp_path)
    with Endpoint(behaviour) as ep:
        proc, took = wait_run(argv, search, home, ep.url, "2")
        assert proc.returncode == 0 and proc.stdout == "started\n", proc.stderr
        assert "starting anyway" in proc.stderr
        assert 2 <= took < 2 + SLACK, f"--wait 2 took {took:.1f} s"
        assert_no_clients_left(ep.port)
    assert os.listdir(home) == [], "the twin left its answers folder behind"


@pytest.mark.parametrize("path", PATHS)
def test_wait_with_a_fraction_of_a_second(path: str, home: str, tmp_path: Path, bare_bin: Path) -> None:
    """Item 10: a fractional --wait is honoured, not rounded up to whole seconds."""
    argv, search = path_argv(path, bare_bin, tmp_path)
    with Endpoint(silent) as ep:
        proc, took = wait_run(argv, search, home, ep.url, "0.5", strict=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert 0.5 <= took < 0.5 + SLACK


@pytest.mark.parametrize("path", PATHS)
def test_wait_succeeds_on_every_path(path: str, home: str, tmp_path: Path, bare_bin: Path) -> None:
    """The bound does not break the ordinary case."""
    argv, search = path_argv(path, bare_bin, tmp_path)
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as ep:
        proc, _ = wait_run(argv, search, home, ep.url, "10", strict=True)
    assert proc.returncode == 0 and proc.stdout == "started\n", proc.stderr
    assert proc.stderr == ""


# ---------------------------------------------------------------------------------------
# Item 2: never follow a redirect from the credentials endpoint
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "303 See Other", "307 Temporary Redirect", "308 Permanent Redirect"])
@pytest.mark.parametrize("path", PATHS)
def test_redirects_are_never_followed(path: str, status: str, home: str, tmp_path: Path, bare_bin: Path) -> None:
    argv, search = path_argv(path, bare_bin, tmp_path)
    token = "tok-redirect-" + os.urandom(6).hex()
    extra = {} if "wget" in path else {"AWS_CONTAINER_AUTHORIZATION_TOKEN": token}
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as other:
        # The other host is a different loopback address and port: another host for the client.
        elsewhere = f"http://127.0.0.1:{other.port}/steal"
        with Endpoint(lambda c, r, s: c.sendall(_ok(b"", status, f"Location: {elsewhere}\r\n"))) as ep:
            proc, _ = wait_run(argv, search, home, ep.url, "1.5", extra, strict=True)
            assert ep.requests, "the endpoint was never asked"
        assert proc.returncode == 1 and proc.stdout == "", "an answer reached through a redirect was taken as credentials"
        assert token not in "".join(other.authorization()), "the token went to the redirect's host"
        if path != "busybox-wget":  # busybox wget cannot be told not to follow (it never gets the token)
            assert other.requests == [], f"{path} followed the redirect"


@pytest.mark.parametrize("path", PATHS)
def test_credentials_in_a_redirect_body_are_not_taken(path: str, home: str, tmp_path: Path, bare_bin: Path) -> None:
    argv, search = path_argv(path, bare_bin, tmp_path)
    with Endpoint(lambda c, r, s: c.sendall(_ok(CREDS, "302 Found", "Location: http://127.0.0.1:9/x\r\n"))) as ep:
        proc, _ = wait_run(argv, search, home, ep.url, "1", strict=True)
    assert proc.returncode == 1 and proc.stdout == ""


# ---------------------------------------------------------------------------------------
# Item 1: the token can never become curl configuration (or extra header lines)
# ---------------------------------------------------------------------------------------

CONTROL = [c for c in range(1, 32)] + [127]


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("code", CONTROL, ids=lambda c: f"0x{c:02x}")
def test_a_token_with_a_control_character_is_refused(impl: str, code: int, home: str, tmp_path: Path) -> None:
    need(shutil.which("curl") is not None, "needs curl")
    stolen = tmp_path / "stolen"
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as thief, Endpoint(lambda c, r, s: c.sendall(_ok())) as ep:
        token = f"x{chr(code)}url = http://127.0.0.1:{thief.port}/steal{chr(code)}output = {stolen}{chr(code)}"
        proc, _ = wait_run(IMPLS[impl], os.environ["PATH"], home, ep.url, "1", {"AWS_CONTAINER_AUTHORIZATION_TOKEN": token})
        assert thief.requests == [] and not stolen.exists(), "the token added curl configuration"
        assert ep.requests == [], "a token no header can carry was sent anyway"
    assert proc.returncode == 0 and proc.stdout == "started\n"
    assert "shim: --wait: the authorization token holds a control character" in proc.stderr


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("content", [b"tok\x00en", b"tok\nurl = http://127.0.0.1:9/\n", b"tok\r\n", b"tok\x1b[2Kx"], ids=["nul", "newline-inside", "crlf-end", "escape"])
def test_a_token_file_with_a_control_character_is_refused(impl: str, content: bytes, home: str, tmp_path: Path) -> None:
    need(shutil.which("curl") is not None, "needs curl")
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as ep:
        proc, _ = wait_run(IMPLS[impl], os.environ["PATH"], home, ep.url, "1", {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)})
        assert ep.requests == []
    assert proc.returncode == 0 and "holds a control character" in proc.stderr


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize(
    "token",
    ['a"b', "a\\b", 'x" \\ url = "http://127.0.0.1:9/', "end\\", '\\"', "\\n\\r\\t\\v", "tok with spaces and 'quotes'", "é✓"],
    ids=["quote", "backslash", "quote-then-config", "trailing-backslash", "escaped-quote", "escape-letters", "spaces-quotes", "unicode"],
)
def test_a_token_with_quotes_or_backslashes_is_sent_exactly(impl: str, token: str, home: str, tmp_path: Path) -> None:
    need(shutil.which("curl") is not None, "needs curl")
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as ep:
        proc, _ = wait_run(IMPLS[impl], os.environ["PATH"], home, ep.url, "5", {"AWS_CONTAINER_AUTHORIZATION_TOKEN": token}, strict=True)
        sent = ep.authorization()
    assert proc.returncode == 0 and proc.stdout == "started\n", proc.stderr
    assert sent and sent[0] == token.strip(), sent


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_a_huge_token_file_is_refused(impl: str, home: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"t" * 200_000)
    with Endpoint(lambda c, r, s: c.sendall(_ok())) as ep:
        proc, _ = wait_run(IMPLS[impl], os.environ["PATH"], home, ep.url, "1", {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)})
        assert ep.requests == []
    assert proc.returncode == 0 and "larger than 65536 bytes" in proc.stderr


# ---------------------------------------------------------------------------------------
# Item 19: commands
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("args", [[""], ["", "arg"]], ids=["empty", "empty-with-args"])
def test_an_empty_command_is_127_with_a_message(impl: str, args: list[str], home: str) -> None:
    proc = run_shim(IMPLS[impl], ["--no-default-profiles", "--", *args], clean_env(home))
    assert proc.returncode == 127 and proc.stdout == ""
    assert proc.stderr == "shim: '': command not found (the command name is empty)\n"


def _script(folder: Path, name: str, text: str, mode: int = 0o755) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_a_script_without_shebang_found_on_path_runs_by_sh(impl: str, home: str, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _script(bindir, "tool", 'echo "ran by sh as $0 with $# args: $1"\nexit 7\n')
    env = clean_env(home)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    proc = run_shim(IMPLS[impl], ["--no-default-profiles", "--", "tool", "one"], env)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == f"ran by sh as {bindir}/tool with 1 args: one\n"


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("first", ["directory", "not-executable"])
def test_path_search_skips_what_cannot_run(impl: str, first: str, home: str, tmp_path: Path) -> None:
    """As execvp and the shells: a directory or a non-executable file earlier on PATH is passed over."""
    early, late = tmp_path / "early", tmp_path / "late"
    early.mkdir()
    if first == "directory":
        (early / "tool").mkdir()
    else:
        _script(early, "tool", "echo wrong\n", 0o644)
    _script(late, "tool", "echo right\n")
    env = clean_env(home)
    env["PATH"] = f"{early}:{late}:{env['PATH']}"
    proc = run_shim(IMPLS[impl], ["--no-default-profiles", "--", "tool"], env)
    assert proc.returncode == 0 and proc.stdout == "right\n", proc.stderr


# ---------------------------------------------------------------------------------------
# Item 19: the user's ~/.profile keeps its mode, its owner and every byte
# ---------------------------------------------------------------------------------------


def _env_for(home: str) -> dict[str, str]:
    return clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/mode-test", "AWS_REGION": "eu-west-1"})


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o400, 0o755])
def test_profile_keeps_its_mode_and_owner(impl: str, mode: int, home: str) -> None:
    need(os.geteuid() == 0, "needs root to give the file to another user")
    profile = Path(home) / ".profile"
    profile.write_text("# mine\n")
    os.chown(profile, 65534, 65534)
    profile.chmod(mode)
    proc = run_shim(IMPLS[impl], [], _env_for(home))
    names = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_REGION"
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"shim: wrote /etc/profile.d/ecs-credentials.sh: {names}\nshim: wrote {profile}: {names}\n"
    st = profile.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, 65534, 65534)
    assert profile.read_text().startswith("# mine\n# >>> ecs-credential-probe shim >>>\n")


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_a_secret_var_narrows_an_existing_profile_but_keeps_its_owner(impl: str, home: str, tmp_path: Path) -> None:
    need(os.geteuid() == 0, "needs root to give the file to another user")
    out = tmp_path / "p"
    out.write_text("# mine\n")
    os.chown(out, 65534, 65534)
    out.chmod(0o664)
    env = _env_for(home)
    env["DB_PASSWORD"] = "hunter2-but-longer"
    proc = run_shim(IMPLS[impl], ["--no-default-profiles", "--profile", str(out), "--var", "DB_PASSWORD"], env)
    assert proc.returncode == 0
    st = out.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 65534, 65534)


@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_profile_that_cannot_keep_its_owner_is_left_alone(impl: str, home: str, tmp_path: Path) -> None:
    """Not root: a file of another user in a folder we may write is not replaced by ours."""
    need(os.geteuid() == 0 and shutil.which("setpriv") is not None, "needs root and setpriv to act as another user")
    # Not under tmp_path: pytest's folders are 0700, so nobody could not even reach the file.
    folder = Path(tempfile.mkdtemp(prefix="shim-owner-"))
    try:
        folder.chmod(0o777)
        out = folder / "profile"
        out.write_text("# root's\n")
        out.chmod(0o644)
        env = _env_for(home)
        # nobody runs a copy: the checkout may sit in a private (0700) folder, as CI's clone does.
        pkg = folder / "pkg"
        shutil.copytree(Path(REPO) / "shim", pkg / "shim", ignore=shutil.ignore_patterns("__pycache__"))
        for path in [pkg, *pkg.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        env["PYTHONPATH"] = str(pkg)
        copied = {"python": [sys.executable, "-m", "shim"], "sh": ["/bin/sh", str(pkg / "shim" / "ecs-shim.sh")]}
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *copied[impl]]
        proc = subprocess.run([*argv, "--no-default-profiles", "--profile", str(out), "--", "echo", "started"], env=env, capture_output=True, text=True, timeout=30, cwd=folder)
        assert proc.returncode == 0 and proc.stdout == "started\n", proc.stderr
        assert proc.stderr.startswith(f"shim: cannot write {out}"), proc.stderr
        assert out.read_text() == "# root's\n" and out.stat().st_uid == 0
        assert sorted(p.name for p in folder.iterdir()) == ["pkg", "profile"]  # no temporary file left
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("last_newline", [True, False], ids=["newline-at-end", "no-newline-at-end"])
def test_a_big_profile_is_never_truncated(home: str, tmp_path: Path, last_newline: bool) -> None:
    """2.3 MB, as in the report: every byte kept, the same bytes from both shims."""
    lines = [f"export LINE_{i}='{'x' * 60}'" for i in range(34_000)]
    original = ("\n".join(lines) + ("\n" if last_newline else "")).encode()
    assert len(original) > 2_300_000
    outputs = []
    for name, argv in sorted(IMPLS.items()):
        profile = tmp_path / f"profile-{name}"
        profile.write_bytes(original)
        proc = run_shim(argv, ["--no-default-profiles", "--profile", str(profile)], _env_for(home), timeout=300)
        assert proc.returncode == 0, proc.stderr
        data = profile.read_bytes()
        assert data.startswith(original), f"{name} lost part of the file"
        assert data[len(original) :].lstrip(b"\n").startswith(b"# >>> ecs-credential-probe shim >>>\n")
        outputs.append(data)
    assert outputs[0] == outputs[1]


def test_a_profile_too_big_to_hold_is_left_alone_with_a_message(home: str, tmp_path: Path) -> None:
    """The Python shim holds the file in memory: past its limit it refuses, never truncates."""
    from shim.profile import MAX_PROFILE

    profile = tmp_path / "profile"
    with open(profile, "wb") as fh:
        fh.truncate(MAX_PROFILE)  # sparse: costs no disk
        fh.seek(0, os.SEEK_END)
        fh.write(b"\nexport LAST=line\n")
    before = profile.stat()
    proc = run_shim(IMPLS["python"], ["--no-default-profiles", "--profile", str(profile), "--", "echo", "started"], _env_for(home))
    assert proc.returncode == 0 and proc.stdout == "started\n"
    assert f"shim: cannot write {profile}: larger than" in proc.stderr
    after = profile.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (before.st_size, before.st_ino, before.st_mtime_ns)
