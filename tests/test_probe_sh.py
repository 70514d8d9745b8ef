"""probe.sh, the probe's POSIX sh twin, in a root without Python: a chroot holding only
Debian's busybox-static (and, per variant, dash, curl or GNU wget with their libraries),
as the PID 1 child of a fresh PID namespace, inside the network namespace of the emulator
(helpers.NetnsHost: 169.254.170.2 and 169.254.169.254 on the namespace's loopback).

Its check statuses are compared with the Python probe's, run the same way (PID 1 a shell
holding the task's environment, the probe its child) in the same namespace with the same
environment. Every output is scanned for the scenario's secrets.

Needs root, ip, unshare, chroot and busybox-static (.ci/run installs it).

PROBE_SH_UNDER_TEST=PATH runs the suite against another copy of the script, e.g. the one
before a fix (`git show REV:probe/probe.sh > /tmp/old.sh`), to see its tests fail first.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from helpers import (
    IMPLEMENTED_TASK_IDS,
    REPO,
    NetnsHost,
    ProbeRun,
    assert_no_secrets,
    clean_env,
    need,
    netns_available,
)

pytestmark = pytest.mark.netns

PROBE_SH = os.environ.get("PROBE_SH_UNDER_TEST") or os.path.join(REPO, "probe", "probe.sh")
# What the sh twin cannot do and says so (no SigV4, no per-SDK model, no clock comparison).
SH_SKIPS = {"endpoint.clock-skew", "identity.caller", "identity.task-role", "sdk.identity"}
VARIANTS = ["ash+busybox-wget", "dash+curl", "ash+gnu-wget"]


def _static_busybox() -> Optional[str]:
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(path):
            out = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout if shutil.which("file") else ""
            ldd = subprocess.run(["ldd", path], capture_output=True, text=True) if shutil.which("ldd") else None
            if "statically linked" in out or (ldd is not None and "not a dynamic executable" in (ldd.stdout + ldd.stderr)):
                return path
    return None


def _copy_with_libs(binary: str, root: Path, dest: str) -> None:
    """Copy a dynamically linked program and the libraries ldd names into the chroot."""
    target = root / dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        for p in parts:
            if p.startswith("/") and os.path.exists(p):
                lib = root / p.lstrip("/")
                lib.parent.mkdir(parents=True, exist_ok=True)
                if not lib.exists():
                    shutil.copy2(os.path.realpath(p), lib)


def build_root(base: Path, variant: str) -> Path:
    """A root with no Python: busybox-static applets, plus the variant's shell and client."""
    busybox = _static_busybox()
    need(busybox is not None, "needs Debian's busybox-static (apt-get install busybox-static)")
    root = base / variant.replace("+", "-")
    for d in ("bin", "usr/bin", "proc", "tmp", "root", "etc", "srv"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    (root / "dev").mkdir(exist_ok=True)
    for name, minor in (("null", 3), ("zero", 5), ("urandom", 9)):
        os.mknod(root / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(root / "dev" / name, 0o666)
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    shell, client = variant.split("+")
    for applet in applets:
        if applet == "busybox" or (applet == "wget" and client != "busybox-wget") or (applet == "sh" and shell != "ash"):
            continue
        os.symlink("busybox", root / "bin" / applet)
    if shell == "dash":
        need(shutil.which("dash") is not None, "needs dash")
        _copy_with_libs(shutil.which("dash") or "", root, "/bin/sh")
    if client == "curl":
        need(shutil.which("curl") is not None, "needs curl")
        _copy_with_libs(shutil.which("curl") or "", root, "/usr/bin/curl")
    if client == "gnu-wget":
        need(shutil.which("wget") is not None, "needs GNU wget")
        _copy_with_libs(shutil.which("wget") or "", root, "/usr/bin/wget")
    # util-linux setpriv, for the runs as another user (busybox's cannot change the uid);
    # outside PATH: the probe never sees it.
    if shutil.which("setpriv"):
        _copy_with_libs(shutil.which("setpriv") or "", root, SETPRIV)
    shutil.copy2(PROBE_SH, root / "probe.sh")
    assert not any(any((root / d).glob("python*")) for d in ("bin", "usr/bin")), "the root must hold no Python"
    return root


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    for tool in ("unshare", "chroot", "ldd"):
        need(shutil.which(tool) is not None, f"needs {tool}")
    with NetnsHost() as h:
        yield h


@pytest.fixture(scope="module")
def roots() -> Iterator[dict[str, Path]]:
    base = Path(tempfile.mkdtemp(prefix="probe-sh-roots-"))
    try:
        yield {v: build_root(base, v) for v in VARIANTS}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def reset(host: NetnsHost) -> None:
    host.set(behaviour="ok", clock_offset=0, auth_token=None, imds_enabled=True, reset_counters=True)


PID1 = '"$@"; exit $?'  # PID 1 is a shell holding the task's environment; the probe is its child
SETPRIV = "/sbin/setpriv"


def _as_user(uid: Optional[int]) -> str:
    """The chroot's setpriv prefix that runs what follows as uid:uid (nothing for root)."""
    return "" if uid is None else f"{SETPRIV} --reuid={uid} --regid={uid} --clear-groups "


def run_sh(host: NetnsHost, root: Path, env: dict[str, str], *args: str, secrets: tuple[str, ...] = (), timeout: float = 60,
           user: Optional[int] = None, pid1_user: Optional[int] = None, root_process: bool = False) -> ProbeRun:
    """probe.sh in the chroot, as the child of PID 1 of a fresh PID namespace.

    user / pid1_user: run the probe / PID 1 as that uid (root otherwise); root_process: a
    root process (sleep) lives beside them. The namespace dies with the command (a run that
    hangs is killed at the timeout, with everything it started)."""
    inner = dict(env)
    for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PROBE_SDK_ROOT", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        inner.pop(name, None)
    inner.update(PATH="/usr/bin:/bin", HOME="/root")
    if user is not None or pid1_user is not None:
        need((root / SETPRIV.lstrip("/")).exists(), "needs util-linux setpriv")
    mount, chroot = shutil.which("mount") or "mount", shutil.which("chroot") or "chroot"
    beside = f'{chroot} "$0" /bin/sleep 600 & ' if root_process else ""
    enter = (f'{mount} -t proc proc "$0/proc" && {beside}exec {chroot} "$0" {_as_user(pid1_user)}/bin/sh -c \'' + PID1
             + f"' pid1 {_as_user(user if user != pid1_user else None)}/bin/sh /probe.sh \"$@\"")
    cmd = ["ip", "netns", "exec", host.name, "unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private", "sh", "-c", enter, str(root), *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=inner, capture_output=True, text=True, timeout=timeout)
    run = ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    assert_no_secrets([run.stdout, run.stderr], [*host.secrets(), *secrets])
    return run


def run_py(host: NetnsHost, env: dict[str, str], *args: str, secrets: tuple[str, ...] = (), private_profile_d: bool = False) -> ProbeRun:
    """The Python probe the same way: helpers.run_probe's command inside a fresh PID namespace.

    private_profile_d: an empty tmpfs over /etc/profile.d in the run's own mount namespace, so
    the machine's profiles are neither read nor touched (for shim.profile)."""
    py = ["sh", "-c", PID1, "pid1", sys.executable, "-m", "probe", *args]
    if private_profile_d:
        py = ["sh", "-c", 'mount -t tmpfs -o size=1m tmpfs /etc/profile.d && exec "$@"', "mnt", *py]
    cmd = ["ip", "netns", "exec", host.name, "unshare", "--pid", "--fork", "--mount-proc", *py]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    run = ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_no_secrets([run.stdout, run.stderr], [*host.secrets(), *secrets])
    return run


def statuses(run: ProbeRun) -> dict[str, str]:
    return {c["id"]: c["status"] for c in run.report["checks"]}


def scenario_env(host: NetnsHost, home: str, name: str) -> dict[str, str]:
    env = host.task_env(home)
    if name == "no-variable":
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    elif name == "proxy-without-no-proxy":
        env.update(HTTP_PROXY="http://proxy-user:proxy-pass-123456@127.0.0.1:3128", NO_PROXY="127.0.0.1,localhost")
    elif name == "static-keys":
        user = host.info["user"]
        env.update(AWS_ACCESS_KEY_ID=user["access_key_id"], AWS_SECRET_ACCESS_KEY=user["secret_access_key"])
    return env


SCENARIOS = [
    pytest.param("healthy", "ok", id="healthy"),
    pytest.param("no-variable", "ok", id="no-variable"),
    pytest.param("proxy-without-no-proxy", "ok", id="proxy-without-no-proxy"),
    pytest.param("healthy", "invalid-id", id="agent-400-InvalidIdInRequest"),
    pytest.param("healthy", "uninitialized", id="agent-503-CredentialsUninitialized"),
    pytest.param("healthy", "internal", id="agent-500-InternalServerError"),
    pytest.param("healthy", "rate-limited", id="agent-429"),
    pytest.param("healthy", "expired", id="expired-credentials"),
    pytest.param("static-keys", "ok", id="static-keys"),
]
# Filled by the parity tests, printed at the end (the parity table).
PARITY: dict[str, dict[str, tuple[str, str]]] = {}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario, behaviour", SCENARIOS)
def test_statuses_match_the_python_probe(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, scenario: str, behaviour: str) -> None:
    host.set(behaviour=behaviour)
    env = scenario_env(host, home, scenario)
    extra = ("proxy-pass-123456",) if scenario.startswith("proxy") else ()
    py = run_py(host, env, "--json", secrets=extra)
    sh = run_sh(host, roots[variant], env, "--json", secrets=extra)
    assert sh.stderr == "", sh.stderr
    rep = sh.report
    assert [c["id"] for c in rep["checks"]] == IMPLEMENTED_TASK_IDS, "same ids, the contract's order"
    assert rep["schema"] == "ecs-credential-probe/report/v1" and rep["identity"] is None and rep["sdks"] == []
    assert set(rep) >= {"schema", "tool", "mode", "started_at", "duration_ms", "verdict", "summary", "identity", "task", "cause", "checks", "sdks"}
    want, got = statuses(py), statuses(sh)
    PARITY.setdefault(f"{scenario}/{behaviour}", {}).update({cid: (want[cid], got[cid]) for cid in want})
    for cid in IMPLEMENTED_TASK_IDS:
        if cid in SH_SKIPS:
            assert got[cid] == "skip", (cid, sh.check(cid))
            assert "Not checked: " in sh.check(cid)["title"]
        else:
            assert got[cid] == want[cid], f"{cid}: python {want[cid]} ({py.check(cid)['title']}) vs sh {got[cid]} ({sh.check(cid)['title']})"
    for c in rep["checks"]:
        if c["status"] == "skip":
            assert c["title"].startswith("Not checked: ") and c["detail"]
    # Exit codes follow the verdict, as in the Python probe.
    assert sh.rc == (1 if rep["verdict"] == "fail" else 0)
    if py.report["verdict"] == "fail" and not py.report["cause"]["check"].startswith("identity."):
        assert rep["cause"]["check"] == py.report["cause"]["check"]
    if behaviour not in ("ok", "expired"):
        title = sh.check("endpoint.credentials")["title"]
        assert title == py.check("endpoint.credentials")["title"], (title, py.check("endpoint.credentials")["title"])
    assert host.set()["requests"].get("credentials", 0) == (0 if scenario == "no-variable" else 2), "one request per run"


@pytest.mark.parametrize("variant", VARIANTS)
def test_text_report_layout(host: NetnsHost, roots: dict[str, Path], home: str, variant: str) -> None:
    env = scenario_env(host, home, "healthy")
    py = run_py(host, env, "--no-color")
    sh = run_sh(host, roots[variant], env)
    assert sh.rc == py.rc == 0
    lines = sh.stdout.splitlines()
    assert lines[0].startswith("ecs-credential-probe 0.1.0 · task · ") and lines[0].endswith(" ms")
    assert lines[1] == "Identity: unknown (no credentials were confirmed by STS)"
    assert lines[2].startswith("Task:     cluster demo-cluster · task ")
    marks = [ln[:40].rstrip() for ln in sh.stdout.splitlines() if ln.startswith("[")]
    py_marks = [ln[:40].rstrip() for ln in py.stdout.splitlines() if ln.startswith("[")]
    assert [m.split()[1] for m in marks] == IMPLEMENTED_TASK_IDS
    for mine, theirs in zip(marks, py_marks):
        if mine.split()[1] not in SH_SKIPS:
            assert mine == theirs
    assert "[PASS] endpoint.credentials             The credentials endpoint serves arn:aws:iam::123456789012:role/ecsTaskRole" in sh.stdout
    assert lines[-2].startswith("Verdict: WARN (") and lines[-1] == "The instance role ecsInstanceRole is reachable from this container"
    assert "/v2/credentials/****" not in sh.stdout or "value" not in sh.stdout  # masked ids only


def test_bad_options_exit_2(host: NetnsHost, roots: dict[str, Path], home: str) -> None:
    for args in (("--format", "xml"), ("--deadline", "abc"), ("--bogus",)):
        run = run_sh(host, roots["ash+busybox-wget"], scenario_env(host, home, "healthy"), *args)
        assert run.rc == 2 and run.stdout == "" and run.stderr.startswith("probe.sh: "), args


# ---------------------------------------------------------------------------------------
# Hostile answers: each ends within the deadline with a failing check.
# ---------------------------------------------------------------------------------------

# The secrets a hostile endpoint serves, and quotes (issue 19): fields that carry them whole or
# in part must be masked in every output.
HOSTILE_SECRET = "kq2Vd8Zp4Lx7Bn1Rt6Yw9Hc3Jm5Sf0Ga2Ue8Oi4"
HOSTILE_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD7" + "".join(f"{(i * 7919) % 104729:05d}Zq" for i in range(35))


def long_token(n: int, hexa: bool = False) -> str:
    """A deterministic secret of n characters (base64, or hex for a URL path)."""
    import base64
    import hashlib
    raw = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(n // 32 + 2))
    return (raw.hex() if hexa else base64.b64encode(raw).decode())[:n]


HOSTILE_SERVER = textwrap.dedent(
    """
    import base64, hashlib, http.server, json, socketserver, sys, time
    SECRET, TOKEN = "@SECRET@", "@TOKEN@"
    def long_token(n):
        raw = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(n // 32 + 2))
        return base64.b64encode(raw).decode()[:n]
    def creds(role, token=TOKEN, expiration="2099-01-01T00:00:00Z"):
        return json.dumps({"Code": "Success", "RoleArn": role, "AccessKeyId": "ASIAHOSTILE0000Q1W2", "SecretAccessKey": SECRET,
                           "Token": token, "Expiration": expiration}).encode()
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        def log_message(self, *a): pass
        def answer(self, code, body, ctype="application/json"):
            self.send_response(code); self.send_header("Content-Type", ctype); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def do_GET(self):
            kind = self.path.split("/")[1]
            if kind == "xml500":  # an error page in XML that carries the secrets (a proxy's, an STS error's)
                body = ("<?xml version=\\"1.0\\"?>\\n<Error>\\n  <Code>InternalError</Code>\\n  <SecretAccessKey>" + SECRET
                        + "</SecretAccessKey>\\n  <Token>" + TOKEN + "</Token>\\n</Error>\\n").encode()
                return self.answer(500, body, "text/xml")
            if kind == "quote":  # a RoleArn that quotes the secrets whole
                return self.answer(200, creds("arn:aws:iam::123456789012:role/" + SECRET + "/" + TOKEN))
            if kind == "quotepart":  # ... and in part
                return self.answer(200, creds("arn:aws:iam::123456789012:role/x" + SECRET[5:17] + "y" + TOKEN[40:70] + "z"))
            if kind == "long":  # a long session token: /long/N/creds
                return self.answer(200, creds("arn:aws:iam::123456789012:role/ecsTaskRole", long_token(int(self.path.split("/")[2]))))
            if kind == "authquote":  # refuses the Authorization header, quoting a piece of it
                auth = self.headers.get("Authorization") or ""
                return self.answer(401, json.dumps({"code": "AccessDenied", "message": "token " + auth[2:18] + " refused"}).encode())
            if kind == "meta":  # task metadata whose fields quote the secrets
                if self.path.endswith("/task"):
                    doc = {"Cluster": "c-" + SECRET[3:20], "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/" + TOKEN, "Family": "f",
                           "Revision": "1", "LaunchType": "EC2", "AvailabilityZone": TOKEN[:12]}
                else:
                    doc = {"Name": "app-" + SECRET, "NetworkMode": TOKEN[10:40]}
                return self.answer(200, json.dumps(doc).encode())
            if kind == "flood-headers":  # headers without end, fast (busybox wget has no limit on them)
                try:
                    self.wfile.write(b"HTTP/1.0 200 OK\\r\\n")
                    end = time.time() + 30
                    while time.time() < end:
                        self.wfile.write((b"X-Flood: " + b"a" * 1000 + b"\\r\\n") * 64)
                except OSError:
                    pass
                return
            if kind == "drip-headers":
                for ch in b"HTTP/1.0 200 OK\\r\\n":
                    self.wfile.write(bytes([ch])); self.wfile.flush(); time.sleep(0.3)
                time.sleep(30); return
            if kind == "redirect":
                self.send_response(302); self.send_header("Location", "http://127.0.0.1:8082/stolen"); self.end_headers(); return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                if kind == "huge":
                    chunk = b" " * 65536
                    end = time.time() + 30
                    self.wfile.write(b"{")
                    while time.time() < end:
                        self.wfile.write(chunk)
                elif kind == "drip":
                    for _ in range(300):
                        self.wfile.write(b" "); self.wfile.flush(); time.sleep(0.1)
                elif kind == "invalid":
                    self.wfile.write(b'{"AccessKeyId": "ASIAXXXXXXXXXXXX1234", "Expiration": ')
                elif kind == "control":
                    self.wfile.write(b'{"RoleArn": "arn:aws:iam::123456789012:role/x\\\\u001b[2J\\\\nFAKE", "AccessKeyId": "ASIA1", "SecretAccessKey": "s", "Token": "t", "Expiration": "2099-01-01T00:00:00Z"}')
            except OSError:
                pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    stolen = []
    class Stolen(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            print("STOLEN", flush=True); self.send_response(200); self.end_headers()
    import threading
    threading.Thread(target=S(("127.0.0.1", 8082), Stolen).serve_forever, daemon=True).start()
    srv = S(("169.254.170.2", 8081), H)
    print("READY", flush=True)
    srv.serve_forever()
    """
).replace("@SECRET@", HOSTILE_SECRET).replace("@TOKEN@", HOSTILE_TOKEN)


@pytest.fixture(scope="module")
def hostile(host: NetnsHost) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", host.name, sys.executable, "-c", HOSTILE_SERVER],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env("/tmp"),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "READY", proc.stderr.read() if proc.stderr else line
    yield proc
    proc.kill()
    proc.wait()


HOSTILE = [
    pytest.param("huge", "oversized", id="huge-body"),
    pytest.param("drip", "unreachable", id="slow-drip-body"),
    pytest.param("drip-headers", "unreachable", id="slow-drip-headers"),
    pytest.param("invalid", "not usable JSON", id="invalid-json"),
    pytest.param("redirect", "HTTP 302", id="redirect-not-followed"),
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind, title_part", HOSTILE)
def test_hostile_answers_end_within_the_deadline(host: NetnsHost, roots: dict[str, Path], hostile: subprocess.Popen[str], home: str, variant: str, kind: str, title_part: str) -> None:
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.2:8081/{kind}/creds"
    run = run_sh(host, roots[variant], env, "--json", "--deadline", "3")
    assert run.wall < 3 + 1.5, f"took {run.wall:.1f} s"
    assert run.report["duration_ms"] <= 3000
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and title_part in cred["title"], cred
    assert run.rc == 1


# A credentials endpoint that answers 30x with a Location on another host, and that other
# host: each logs the Authorization header it got (FIRST / STOLEN lines on stdout).
REDIRECT_SERVER = textwrap.dedent(
    """
    import http.server, socketserver, sys, threading
    FIRST, TARGET = int(sys.argv[1]), int(sys.argv[2])
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            print("FIRST", self.headers.get("Authorization"), flush=True)
            code = int(self.path.split("/")[1])
            self.send_response(code)
            self.send_header("Location", f"http://127.0.0.1:{TARGET}/stolen")
            self.send_header("Content-Length", "0")
            self.end_headers()
    class Target(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            print("STOLEN", self.headers.get("Authorization"), flush=True)
            body = b'{"AccessKeyId": "ASIASTOLEN000000", "SecretAccessKey": "x", "Token": "y", "Expiration": "2099-01-01T00:00:00Z"}'
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    threading.Thread(target=S(("127.0.0.1", TARGET), Target).serve_forever, daemon=True).start()
    srv = S(("169.254.170.2", FIRST), Redirect)
    print("READY", flush=True)
    srv.serve_forever()
    """
)
REDIRECT_TOKEN = "Zq7T3vK9pW2mX8rB4nL6"


@pytest.mark.parametrize("code", [302, 307])
@pytest.mark.parametrize("variant", VARIANTS)
def test_redirect_target_never_gets_the_token(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, code: int) -> None:
    """The token goes to the endpoint named by FULL_URI and nowhere else. curl (--max-redirs 0)
    and GNU wget (--max-redirect=0) never follow a redirect; by default both re-send a given
    Authorization header to the new host (GNU wget does so for --header and wgetrc headers).
    busybox wget cannot be kept from following and takes headers only on its command line,
    so probe.sh never gives it the token: it does not ask at all."""
    server = subprocess.Popen(["ip", "netns", "exec", host.name, sys.executable, "-c", REDIRECT_SERVER, "8087", "8088"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env("/tmp"))
    root = roots[variant]
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "READY"
        (root / "run").mkdir(exist_ok=True)
        (root / "run" / "token").write_text(REDIRECT_TOKEN)
        env = host.task_env(home)
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.2:8087/{code}/creds"
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = "/run/token"
        run = run_sh(host, root, env, "--json", "--deadline", "3", secrets=(REDIRECT_TOKEN,))
    finally:
        server.kill()
        out, _ = server.communicate(timeout=10)
        shutil.rmtree(root / "run", ignore_errors=True)
    cred = run.check("endpoint.credentials")
    assert "STOLEN" not in out, out
    if variant == "ash+busybox-wget":
        assert out.strip() == "", "busybox wget is never given the token, so nothing is asked"
        assert cred["status"] == "skip" and "redirect" in cred["detail"] and "busybox wget" in cred["detail"], cred
    else:
        assert out.split() == ["FIRST", REDIRECT_TOKEN], "the endpoint itself got the token, once"
        assert cred["status"] == "fail" and f"HTTP {code}" in cred["title"], cred
        assert "did not follow" in cred["detail"]


def test_redirect_server_sees_a_followed_redirect(host: NetnsHost, roots: dict[str, Path], home: str) -> None:
    """The control for the test above: busybox wget without a token follows the redirect
    (it cannot be told not to), and the target logs it. The report still judges the first
    answer, the 302."""
    server = subprocess.Popen(["ip", "netns", "exec", host.name, sys.executable, "-c", REDIRECT_SERVER, "8089", "8090"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env("/tmp"))
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "READY"
        env = host.task_env(home)
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.2:8089/302/creds"
        run = run_sh(host, roots["ash+busybox-wget"], env, "--json", "--deadline", "3")
    finally:
        server.kill()
        out, _ = server.communicate(timeout=10)
    assert out.split() == ["FIRST", "None", "STOLEN", "None"], out
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and "HTTP 302" in cred["title"], cred


# ---------------------------------------------------------------------------------------
# AWS_CONTAINER_CREDENTIALS_FULL_URI with an authorization token file (as EKS Pod Identity
# and ECS Anywhere-style agents serve it): both implementations, the token never printed.
# ---------------------------------------------------------------------------------------

FULL_TOKEN = "Yh5Gd8Jk2Ls6Qw9Er3Tu"


def _token_file(root: Path, home: str, token: str) -> str:
    """The same absolute path inside the chroot and outside it, holding the token."""
    path = os.path.join(home, "token")
    for base in (Path("/"), root):
        target = base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(token)
    return path


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "url, served_token, want",
    [
        pytest.param("http://169.254.170.23/v2/credentials/{id}", FULL_TOKEN, "pass", id="169.254.170.23-token-accepted"),
        pytest.param("http://127.0.0.1:18080/v2/credentials/{id}", FULL_TOKEN, "pass", id="loopback-token-accepted"),
        pytest.param("http://169.254.170.23/v2/credentials/{id}", "Mn4Bv7Cx1Zl8Kj5Hg2Fd", "fail", id="token-refused-401"),
    ],
)
def test_full_uri_with_token_file(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, url: str, served_token: str, want: str) -> None:
    host.set(auth_token=served_token)
    root = roots[variant]
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = url.format(id=host.state["credentials_id"])
    try:
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = _token_file(root, home, FULL_TOKEN)
        py = run_py(host, env, "--json", secrets=(FULL_TOKEN, served_token))
        sh = run_sh(host, root, env, "--json", secrets=(FULL_TOKEN, served_token))
    finally:
        shutil.rmtree(root / home.lstrip("/"), ignore_errors=True)
    assert py.check("endpoint.credentials")["status"] == want, py.check("endpoint.credentials")
    cred = sh.check("endpoint.credentials")
    if variant == "ash+busybox-wget":
        # Never handed to busybox wget (command line, redirects): a skip that says why.
        assert cred["status"] == "skip" and "busybox wget" in cred["detail"], cred
        assert host.set()["requests"].get("credentials", 0) == 1, "only the Python probe asked"
    else:
        assert cred["status"] == want, cred
        if want == "fail":
            assert "HTTP 401" in cred["title"]
        assert host.set()["requests"].get("credentials", 0) == 2, "one request per run"
    want_py, got = statuses(py), statuses(sh)
    for cid in ("env.credentials-variable", "env.credentials-uri-safe", "proxy.credentials-endpoint"):
        assert got[cid] == want_py[cid], (cid, sh.check(cid), py.check(cid))
    if variant != "ash+busybox-wget":
        assert got["endpoint.credentials-expiry"] == want_py["endpoint.credentials-expiry"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_imds_v2_only(host: NetnsHost, roots: dict[str, Path], home: str, variant: str) -> None:
    """IMDSv1 refused: the role list asked without a token (sent with the token request, to
    save a round trip) gets 401 and is asked again with the token. busybox wget cannot PUT,
    so for it the instance role is out of reach, which is true for that client."""
    host.set(imds_v1_allowed=False)
    try:
        env = host.task_env(home)
        py = run_py(host, env, "--json")
        sh = run_sh(host, roots[variant], env, "--json")
    finally:
        host.set(imds_v1_allowed=True)
    check = sh.check("imds.instance-role")
    if variant == "ash+busybox-wget":
        assert check["status"] == "pass" and "HTTP 401" in check["detail"], check
    else:
        assert check["status"] == py.check("imds.instance-role")["status"] == "warn", (check, py.check("imds.instance-role"))
        assert check["detail"].startswith("IMDSv2 at "), check


# ---------------------------------------------------------------------------------------
# An SDK in the image (sdk.versions): the formats sh reads, against the Python probe.
# ---------------------------------------------------------------------------------------

def _plant(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "version, want",
    [
        pytest.param("2.4.6", "fail", id="aws-sdk-2.4.6-predates-ecs-credentials"),
        pytest.param("2.1692.0", "pass", id="aws-sdk-current"),
    ],
)
def test_sdk_found_in_the_image(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, version: str, want: str) -> None:
    """A Node aws-sdk package.json in the image: too old for ECS credentials (2.4.7 was the
    first) fails sdk.versions in both implementations; a current one passes."""
    root = roots[variant]
    pkg = json.dumps({"name": "aws-sdk", "version": version, "main": "lib/aws.js"})
    rel = Path("srv/app/node_modules/aws-sdk/package.json")
    _plant({root / rel: pkg, Path(home) / rel: pkg})
    try:
        env = host.task_env(home)
        py = run_py(host, env, "--json")
        sh = run_sh(host, root, env, "--json")
    finally:
        shutil.rmtree(root / "srv" / "app", ignore_errors=True)
    assert py.check("sdk.versions")["status"] == want, py.check("sdk.versions")
    check = sh.check("sdk.versions")
    assert check["status"] == want, check
    assert "/srv/app/node_modules/aws-sdk" in check["detail"] if want == "fail" else version in check["detail"]
    if want == "fail":
        assert "2.4.7" in check["detail"] and "/srv/app/node_modules/aws-sdk" in check["remedy"]
        assert sh.report["cause"]["check"] == "sdk.versions" and sh.rc == 1
    else:
        assert sh.rc == 0


# ---------------------------------------------------------------------------------------
# shim.profile: a profile written by the real sh shim, current or stale.
# ---------------------------------------------------------------------------------------

SHIM_SH = os.path.join(REPO, "shim", "ecs-shim.sh")


def _shim_profile(tmp: Path, env: dict[str, str]) -> str:
    """What shim/ecs-shim.sh writes into a profile for this environment (written in a scratch
    folder: --no-default-profiles keeps it off the machine's own profiles)."""
    out = tmp / "profile"
    names = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "ECS_CONTAINER_METADATA_URI_V4", "AWS_EXECUTION_ENV", "AWS_REGION", "AWS_DEFAULT_REGION")
    shim_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), **{n: env[n] for n in names if n in env}}
    subprocess.run(["sh", SHIM_SH, "--no-default-profiles", "--profile", str(out), "--", "true"], env=shim_env, check=True, timeout=30)
    text = out.read_text()
    assert text.startswith("# >>> ecs-credential-probe shim >>>"), text
    return text


STALE_ID = "0c5b1f7e9a2d4b6c8e0f13579bdf2468"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stale", [False, True], ids=["profile-matches-pid1", "profile-is-stale"])
def test_shim_profile(host: NetnsHost, roots: dict[str, Path], home: str, tmp_path: Path, variant: str, stale: bool) -> None:
    """~/.profile written by the shim for this task matches PID 1 (pass); one baked in from
    another task (another credentials id) does not (fail), in both implementations. The
    stale id is never printed."""
    env = host.task_env(home)
    written = dict(env)
    if stale:
        written["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{STALE_ID}"
    text = _shim_profile(tmp_path, written)
    root = roots[variant]
    profile_sh, profile_py = root / "root" / ".profile", Path(home) / ".profile"
    _plant({profile_sh: "# the image's own lines\nalias ll='ls -l'\n" + text, profile_py: text})
    try:
        py = run_py(host, env, "--json", secrets=(STALE_ID,), private_profile_d=True)
        sh = run_sh(host, root, env, "--json", secrets=(STALE_ID,))
    finally:
        profile_sh.unlink()
    want = "fail" if stale else "pass"
    assert py.check("shim.profile")["status"] == want, py.check("shim.profile")
    check = sh.check("shim.profile")
    assert check["status"] == want, check
    assert "/root/.profile" in check["detail"]
    if stale:
        assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI differs from PID 1's value" in check["detail"]
        assert sh.report["cause"]["check"] == "shim.profile"
    else:
        assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in check["detail"]


def test_endpoint_strings_are_escaped_in_text_and_exact_in_json(host: NetnsHost, roots: dict[str, Path], home: str) -> None:
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.2:8081/control/creds"
    with_server = subprocess.Popen(["ip", "netns", "exec", host.name, sys.executable, "-c", HOSTILE_SERVER.replace("8082", "8083").replace("8081", "8084")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env("/tmp"))
    try:
        assert with_server.stdout is not None and with_server.stdout.readline().strip() == "READY"
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.2:8084/control/creds"
        for variant in VARIANTS:
            text = run_sh(host, roots[variant], env, "--deadline", "3")
            assert "\x1b" not in text.stdout
            line = next(ln for ln in text.stdout.splitlines() if ln.startswith("[PASS] endpoint.credentials "))
            assert line.endswith("role/x\\u001b[2J\\nFAKE") or line.endswith("role/x\\x1b[2J\\nFAKE"), line
            assert not any(ln.startswith("FAKE") for ln in text.stdout.splitlines())
            js = run_sh(host, roots[variant], env, "--json", "--deadline", "3")
            json.loads(js.stdout)  # valid JSON whatever the endpoint sent
    finally:
        with_server.kill()
        with_server.wait()


# ---------------------------------------------------------------------------------------
# Issue 19: a hostile sweep of probe.sh. Each test reproduces one defect (it fails against the
# probe.sh before the fix: PROBE_SH_UNDER_TEST) and holds the fix under dash and busybox ash,
# with curl, GNU wget and busybox wget.
# ---------------------------------------------------------------------------------------

def assert_report(run: ProbeRun, fmt: str) -> None:
    """A report, whatever happened: exit 0 or 1, the JSON document or the text's Verdict line."""
    assert run.rc in (0, 1), (run.rc, run.stdout[-500:], run.stderr[-500:])
    if fmt == "json":
        assert [c["id"] for c in run.report["checks"]] == IMPLEMENTED_TASK_IDS
    else:
        assert any(ln.startswith("Verdict: ") for ln in run.stdout.splitlines()), run.stdout[-500:]


# Item 1: one process whose environment cannot be read (a root process, the probe not root).
# `: < /proc/PID/environ` failing on the special built-in ended dash (exit 2) and busybox ash
# (exit 1) at once, with nothing printed.
UNREADABLE = [
    pytest.param(dict(user=65534), "PID 1's environment cannot be read", id="probe-65534-pid1-root"),
    pytest.param(dict(user=1000, pid1_user=1000, root_process=True), "1 process could not be read", id="probe-1000-beside-a-root-process"),
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("users, said", UNREADABLE)
def test_unreadable_environment_still_gives_a_report(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, fmt: str, users: dict, said: str) -> None:
    env = host.task_env(home)
    run = run_sh(host, roots[variant], env, *(("--json",) if fmt == "json" else ()), timeout=30, **users)
    assert_report(run, fmt)
    if fmt == "json":
        check = run.check("processes.credentials-variable")
        assert check["status"] == ("skip" if users.get("pid1_user") is None else "pass") and said in check["detail"], check
        assert run.check("env.credentials-variable")["status"] == "pass"


# Item 2: every file is read as a regular file only, and capped. A FIFO never ends; a 4 GiB
# sparse file took seconds to read whole.
def _sparse(path: Path, size: int = 4 << 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


def _fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def _big_installed_json(path: Path) -> None:
    """A composer installed.json of 3.7 MB (under the 4 MB read), aws/aws-sdk-php at its end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = [{"name": f"vendor/package-{i}", "version": "1.0.0", "description": "x" * 200} for i in range(13000)]
    path.write_text(json.dumps({"packages": pad + [{"name": "aws/aws-sdk-php", "version": "3.100.0"}]}, indent=1))


HOSTILE_FILES = [
    pytest.param("srv/app/node_modules/aws-sdk/package.json", _fifo, {}, id="fifo-package.json"),
    pytest.param("srv/app/node_modules/aws-sdk/package.json", _sparse, {}, id="sparse-package.json"),
    pytest.param("srv/app/vendor/composer/installed.json", _big_installed_json, {}, id="big-installed.json"),
    pytest.param("run/token", _sparse, {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/run/token"}, id="sparse-token-file"),
    pytest.param("run/token", _fifo, {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/run/token"}, id="fifo-token-file"),
    pytest.param("root/.aws/config", _sparse, {}, id="sparse-aws-config"),
    pytest.param("root/.aws/credentials", _fifo, {}, id="fifo-aws-credentials"),
    pytest.param("root/.profile", _sparse, {}, id="sparse-profile"),
    pytest.param("etc/environment", _sparse, {}, id="sparse-etc-environment"),
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("rel, make, extra", HOSTILE_FILES)
def test_hostile_files_end_within_the_deadline(host: NetnsHost, roots: dict[str, Path], home: str, variant: str, rel: str, make, extra: dict) -> None:
    root = roots[variant]
    env = host.task_env(home)
    if extra:  # the token file is read for FULL_URI
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.23/v2/credentials/{host.state['credentials_id']}"
        env.update(extra)
    target = root / rel
    make(target)
    try:
        run = run_sh(host, root, env, "--json", "--deadline", "2", timeout=30)
    finally:
        target.unlink()
    assert run.wall < 2 + 1.5, f"took {run.wall:.1f} s"
    assert_report(run, "json")
    if make is _big_installed_json:
        assert "AWS SDK for PHP 3.100.0" in run.check("sdk.versions")["detail"], run.check("sdk.versions")


# Item 3: long secrets. Each took seconds (quadratic string handling in sh); the run must end
# within --deadline + 1.5 s. (The scaling with the secret's size: bench/bench_probe_sh.py --long-secrets.)
LONG_SECRETS = [
    pytest.param("answer-token", id="60kB-session-token-in-the-answer"),
    pytest.param("flood-headers", id="endless-headers"),
    pytest.param("authorization-token", id="100kB-AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    pytest.param("credentials-id", id="100kB-credentials-id"),
]


def long_secret_env(host: NetnsHost, home: str, case: str, size: int) -> tuple[dict[str, str], str]:
    """The task's environment for a long-secret case, and the secret (bench_probe_sh uses it too)."""
    env = host.task_env(home)
    if case == "flood-headers":  # not a secret, but the same guarantee: headers have no cap of their own
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.2:8081/flood-headers/creds"
        return env, ""
    if case == "answer-token":
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.2:8081/long/{size}/creds"
        return env, long_token(size)
    if case == "authorization-token":
        del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.23/v2/credentials/{host.state['credentials_id']}"
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = secret = long_token(size)
        return env, secret
    secret = long_token(size, hexa=True)
    env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{secret}"
    return env, secret


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", LONG_SECRETS)
def test_long_secrets_end_within_the_deadline(host: NetnsHost, roots: dict[str, Path], hostile: subprocess.Popen[str], home: str, variant: str, case: str) -> None:
    env, secret = long_secret_env(host, home, case, 60_000 if case == "answer-token" else 100_000)
    run = run_sh(host, roots[variant], env, "--json", "--deadline", "2", secrets=(secret,), timeout=60)
    assert run.wall < 2 + 1.5, f"took {run.wall:.1f} s"
    assert_report(run, "json")
    if case == "flood-headers":
        assert run.check("endpoint.credentials")["status"] == "fail"
    if case == "answer-token":
        cred = run.check("endpoint.credentials")
        assert cred["status"] == "pass" and "role/ecsTaskRole" in cred["title"], cred


# Item 4: the secrets rule for every field an endpoint sends: an XML error body (curl and GNU
# wget keep it; busybox wget keeps no error body), a RoleArn quoting the served secrets whole
# or in part, task metadata quoting them, an error message quoting a piece of the token.
SECRET_QUOTES = [
    pytest.param("xml500", id="xml-500-body"),
    pytest.param("quote", id="rolearn-quotes-the-secrets"),
    pytest.param("quotepart", id="rolearn-quotes-pieces-of-the-secrets"),
    pytest.param("meta", id="metadata-quotes-the-secrets"),
    pytest.param("authquote", id="401-message-quotes-a-piece-of-the-token"),
]
AUTH_TOKEN = "Hk4Jx8Qm2Wp6Rt0Zv3Nb7Lc1"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", SECRET_QUOTES)
def test_endpoint_fields_never_print_secrets(host: NetnsHost, roots: dict[str, Path], hostile: subprocess.Popen[str], home: str, variant: str, kind: str) -> None:
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://169.254.170.2:8081/{'quote' if kind == 'meta' else kind}/creds"
    secrets = (HOSTILE_SECRET, HOSTILE_TOKEN)
    if kind == "meta":
        env["ECS_CONTAINER_METADATA_URI_V4"] = "http://169.254.170.2:8081/meta/c1"
    if kind == "authquote":
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = AUTH_TOKEN
        secrets += (AUTH_TOKEN,)
    for fmt in ("json", "text"):
        # run_sh scans stdout and stderr for every 8-character piece of each secret.
        run = run_sh(host, roots[variant], env, *(("--json",) if fmt == "json" else ()), "--deadline", "3", secrets=secrets, timeout=30)
        assert_report(run, fmt)
        if fmt == "text":
            continue
        cred = run.check("endpoint.credentials")
        if kind == "xml500":
            assert cred["status"] == "fail" and "HTTP 500" in cred["title"], cred
            if variant != "ash+busybox-wget":
                assert "<SecretAccessKey>****</SecretAccessKey>" in cred["detail"], cred
        elif kind == "authquote":
            if variant == "ash+busybox-wget":
                assert cred["status"] == "skip", cred
            else:
                assert cred["status"] == "fail" and "HTTP 401" in cred["title"], cred
                if variant == "dash+curl":  # GNU wget keeps no body for a 401
                    assert "AccessDenied: token **** refused" in cred["detail"], cred
        else:
            assert cred["status"] == "pass" and "role/" in cred["title"] and "****" in cred["title"], cred
        if kind == "meta":
            meta = run.check("endpoint.task-metadata")
            assert meta["status"] == "pass" and "****" in meta["title"] and "****" in meta["detail"], meta
            assert run.report["task"]["container_name"] == "app-****", run.report["task"]


def test_zz_print_parity_table() -> None:
    """Not an assertion: the parity table of this run (pytest -s shows it)."""
    if not PARITY:
        pytest.skip("no parity run")
    for scenario, checks in PARITY.items():
        print(f"\n{scenario}")
        for cid in IMPLEMENTED_TASK_IDS:
            if cid in checks:
                py, sh = checks[cid]
                print(f"  {cid:<32} python {py:<5} sh {sh:<5}{'' if py == sh else '  (sh: by design)' if cid in SH_SKIPS else '  MISMATCH'}")
