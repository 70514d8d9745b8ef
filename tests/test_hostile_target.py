"""Issue 18: a hostile application cannot take over the probe that diagnoses it.

A "container" runs chrooted into its own root as uid 1000, beside a root probe in the
test's PID and network namespaces (the emulated agent, IMDS and moto's STS there). Its
files and environment try every way the first sweep found to make the probe act for it:

1. run its ``credential_process`` (default profile, AWS_PROFILE, a source_profile, the
   credentials file, AWS_CONFIG_FILE, ``/bin/sh -c``): a program that records a marker if
   it ever runs;
2. load its ``LD_PRELOAD`` / write ``LD_DEBUG_OUTPUT`` in the probe's processes: a library
   that records a marker when loaded;
3. make the probe read files on the probe's side (a web identity token path, /proc of
   another process, a CA bundle FIFO) and send them to its own endpoint: a listener on the
   application's endpoints records every request;
4. lead the probe through absolute symlinks under ~/.aws into the probe's files;
5. escape with a chain of 41 symlinks;
6. feed /dev/zero as a token file.

None of the probe's files, variables or credentials may reach the listener, no marker may
appear, every run ends within its deadline, and the report says what the SDK would do.
Every path: ``--pid``, ``--container``, ``watch --pid``, and the probe in its own
container with the same files.

Needs root (ip netns, unshare, chroot), busybox-static and gcc (the preload library).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

from helpers import NetnsHost, ProbeRun, assert_no_secrets, need, netns_available, run_probe
from test_target import make_root, run_as_target

pytestmark = pytest.mark.netns

APP_UID = 1000
DEADLINE = 4.0

LISTENER = r"""
import http.server, json, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def record(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        with open(log, "a") as fh:
            fh.write(json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        answer = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>recorded</Message></Error></ErrorResponse>"
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    do_GET = do_POST = do_PUT = record
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("READY", flush=True)
server.serve_forever()
"""

PRELOAD_C = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
    int fd = open("%s", O_CREAT | O_WRONLY | O_APPEND, 0666);
    if (fd >= 0) { write(fd, "loaded\n", 7); close(fd); }
}
"""


@dataclass
class Side:
    """The probe's own side: files a hostile application must never get the probe to
    read, run or send."""

    dir: str
    token: str = field(default_factory=lambda: "SIDECAR-TOKEN-" + secrets.token_hex(12))
    key_id: str = "AKIASIDECAR0000KEY01"
    secret: str = field(default_factory=lambda: "sidecarSecret" + secrets.token_hex(14))
    user: str = "sidecarname"

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @property
    def secrets(self) -> list[str]:
        return [self.token, self.key_id, self.secret]

    def markers(self) -> list[str]:
        out = []
        for name in sorted(os.listdir(self.path("marks"))):
            with open(self.path(os.path.join("marks", name)), encoding="utf-8", errors="replace") as fh:
                out.append(f"{name}: {fh.read()[:200]}")
        return out


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    need(shutil.which("unshare") is not None and shutil.which("chroot") is not None, "needs unshare and chroot")
    with NetnsHost() as h:
        yield h


@pytest.fixture(scope="module")
def side() -> Iterator[Side]:
    base = tempfile.mkdtemp(prefix="hostile-side-")
    os.chmod(base, 0o755)
    s = Side(base)
    os.makedirs(s.path("marks"))
    os.chmod(s.path("marks"), 0o777)
    with open(s.path("token"), "w") as fh:
        fh.write(s.token)
    os.makedirs(s.path("aws"))
    for name in ("credentials", "config"):
        with open(s.path(f"aws/{name}"), "w") as fh:
            fh.write(f"[default]\naws_access_key_id = {s.key_id}\naws_secret_access_key = {s.secret}\n")
    with open(s.path("sso-cache.json"), "w") as fh:
        json.dump({"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": s.token,
                   "expiresAt": "2099-01-01T00:00:00Z"}, fh)
    with open(s.path("passwd"), "w") as fh:
        fh.write(f"root:x:0:0:root:/root:/bin/sh\n{s.user}:x:{APP_UID}:{APP_UID}::/home/app:/bin/sh\n")
    os.mkfifo(s.path("fifo"))
    # The program a credential_process names: it records that it ran, then answers.
    with open(s.path("get-creds"), "w") as fh:
        fh.write(f"#!/bin/sh\necho \"ran as $(id -u): $0 $*\" >> {s.path('marks/process')}\n"
                 f"echo '{{\"Version\": 1, \"AccessKeyId\": \"{s.key_id}\", \"SecretAccessKey\": \"{s.secret}\"}}'\n")
    os.chmod(s.path("get-creds"), 0o755)
    gcc = shutil.which("gcc") or shutil.which("cc")
    need(gcc is not None, "needs gcc (the preload library that records being loaded)")
    src = s.path("preload.c")
    with open(src, "w") as fh:
        fh.write(PRELOAD_C % s.path("marks/preload"))
    subprocess.run([str(gcc), "-shared", "-fPIC", "-o", s.path("preload.so"), src], check=True, capture_output=True, timeout=60)
    yield s
    shutil.rmtree(base, ignore_errors=True)


@dataclass
class Listener:
    url: str
    log: str

    def requests(self) -> list[dict]:
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def clear(self) -> None:
        if os.path.exists(self.log):
            os.unlink(self.log)


@pytest.fixture(scope="module")
def listener(host: NetnsHost) -> Iterator[Listener]:
    """The application's own endpoint (its AWS_ENDPOINT_URL_STS, FULL_URI...)."""
    port = 18000 + secrets.randbelow(2000)
    log = tempfile.mktemp(prefix="hostile-listener-")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", host.name, sys.executable, "-c", LISTENER, str(port), log],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PATH": os.environ["PATH"]},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY", proc.stderr.read() if proc.stderr else ""
    yield Listener(f"http://127.0.0.1:{port}", log)
    proc.kill()
    proc.wait()
    if os.path.exists(log):
        os.unlink(log)


@pytest.fixture(autouse=True)
def reset(host: NetnsHost, side: Side, listener: Listener) -> Iterator[None]:
    host.set(behaviour="ok", clock_offset=0, auth_token=None, imds_enabled=True, reset_counters=True)
    for name in os.listdir(side.path("marks")):
        os.unlink(side.path(os.path.join("marks", name)))
    listener.clear()
    # Whoever opens the probe's FIFO for reading lets this writer go: it records that.
    writer = subprocess.Popen(["sh", "-c", f"echo x > {shlex.quote(side.path('fifo'))} && echo opened > {shlex.quote(side.path('marks/fifo'))}"])
    yield
    writer.kill()
    writer.wait()


# ---- the hostile application's images ------------------------------------------------------


@dataclass
class App:
    """One hostile container: its root, environment, and the probe's expectations."""

    root: str
    env: dict[str, str]
    says: str = ""  # a phrase the report must contain
    probe_env: dict[str, str] = field(default_factory=dict)  # added to the probe's own environment


def write(root: str, rel: str, text: str, mode: int = 0o644, owner: int = APP_UID) -> str:
    path = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)
    os.chown(path, owner, owner)
    return path


def link(root: str, rel: str, to: str) -> None:
    path = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(to, path)


def base_app(tmp: str, host: NetnsHost, home: str, listener: Listener, **env: str) -> App:
    root = make_root(tmp)  # its /etc/passwd names uid 1000 "node"
    os.makedirs(os.path.join(root, "home/app/.aws"), exist_ok=True)
    for d in ("home/app", "home/app/.aws"):
        os.chown(os.path.join(root, d), APP_UID, APP_UID)
    task = {k: v for k, v in host.task_env(home).items() if k.startswith(("AWS_", "ECS_"))}
    task.pop("AWS_SHARED_CREDENTIALS_FILE", None)
    task.pop("AWS_CONFIG_FILE", None)
    task.update(HOME="/home/app", AWS_ENDPOINT_URL_STS=listener.url)
    task.update(env)
    return App(root, task)


Case = Callable[[str, NetnsHost, str, Listener, Side], App]


def process_default(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener)
    write(app.root, "/home/app/.aws/config", f"[default]\ncredential_process = {side.path('get-creds')} --flag\n")
    app.says = f"would run {side.path('get-creds')}"
    return app


def process_profile_sh(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener, AWS_PROFILE="evil")
    write(app.root, "/home/app/.aws/config", f"[profile evil]\ncredential_process = /bin/sh -c \"{side.path('get-creds')}\"\n")
    app.says = "would run /bin/sh"
    return app


def process_source_profile(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener, AWS_PROFILE="app")
    write(app.root, "/home/app/.aws/config",
          "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/chained\nsource_profile = src\n"
          f"[profile src]\ncredential_process = {side.path('get-creds')}\n")
    app.says = f"would run {side.path('get-creds')}"
    return app


def process_credentials_file(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener)
    write(app.root, "/home/app/.aws/credentials", f"[default]\ncredential_process = {side.path('get-creds')}\n")
    app.says = f"would run {side.path('get-creds')}"
    return app


def process_config_file_var(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener, AWS_CONFIG_FILE="/srv/aws.conf")
    write(app.root, "/srv/aws.conf", f"[default]\ncredential_process = {side.path('get-creds')}\n")
    app.says = f"would run {side.path('get-creds')}"
    return app


def loader_variables(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    return base_app(
        tmp, host, home, listener,
        LD_PRELOAD=side.path("preload.so"), LD_DEBUG="all", LD_DEBUG_OUTPUT=side.path("marks/ld-debug"),
        PYTHONPATH=side.dir, PYTHONSTARTUP=side.path("get-creds"), HTTPS_PROXY="http://user:proxypass@127.0.0.1:9",
    )


def web_identity_probe_file(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """A token file path that exists on the probe's side only, and the app's STS endpoint."""
    return base_app(tmp, host, home, listener, AWS_WEB_IDENTITY_TOKEN_FILE=side.path("token"),
                    AWS_ROLE_ARN="arn:aws:iam::123456789012:role/steal")


def web_identity_config_probe_file(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """The same path in the profile: botocore opened it as it stood."""
    app = base_app(tmp, host, home, listener)
    write(app.root, "/home/app/.aws/config",
          f"[default]\nweb_identity_token_file = {side.path('token')}\nrole_arn = arn:aws:iam::123456789012:role/steal\n")
    return app


def web_identity_other_environ(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """Another process's environment as the token (the probe, as root, could read it):
    PID 1 of the namespace carries a secret of the probe's side."""
    app = base_app(tmp, host, home, listener)
    app.probe_env["DB_PASSWORD"] = side.token
    write(app.root, "/home/app/.aws/config",
          f"[default]\nweb_identity_token_file = /proc/1/environ\nrole_arn = arn:aws:iam::123456789012:role/steal\nendpoint_url = {listener.url}\n")
    return app


def web_identity_symlink(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener, AWS_WEB_IDENTITY_TOKEN_FILE="/home/app/token", AWS_ROLE_ARN="arn:aws:iam::123456789012:role/steal")
    link(app.root, "/home/app/token", side.path("token"))
    return app


def token_unreadable_by_app(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """A file in the app's own root that its user cannot read (root's, 0600)."""
    app = base_app(tmp, host, home, listener, AWS_WEB_IDENTITY_TOKEN_FILE="/srv/root-only", AWS_ROLE_ARN="arn:aws:iam::123456789012:role/steal")
    write(app.root, "/srv/root-only", side.token, mode=0o600, owner=0)
    app.says = "the application's user cannot read it"
    return app


def ca_bundle_fifo(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """A FIFO as the CA bundle: its own (AWS_CA_BUNDLE) and the probe's (ca_bundle in the
    profile). A writer waits on the probe's FIFO and records when someone opens it."""
    app = base_app(tmp, host, home, listener)
    os.mkfifo(os.path.join(app.root, "home/app/fifo"))
    app.env["AWS_CA_BUNDLE"] = "/home/app/fifo"
    write(app.root, "/home/app/.aws/config", f"[default]\nca_bundle = {side.path('fifo')}\n")
    return app


def aws_dir_symlink(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener)
    os.rmdir(os.path.join(app.root, "home/app/.aws"))
    link(app.root, "/home/app/.aws", side.path("aws"))
    return app


def credentials_symlink(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener)
    link(app.root, "/home/app/.aws/credentials", side.path("aws/credentials"))
    return app


def sso_cache_symlink(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    import hashlib

    app = base_app(tmp, host, home, listener, AWS_ENDPOINT_URL_SSO=listener.url, AWS_PROFILE="sso")
    start = "https://example.awsapps.com/start"
    write(app.root, "/home/app/.aws/config",
          f"[profile sso]\nsso_start_url = {start}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = x\n")
    link(app.root, f"/home/app/.aws/sso/cache/{hashlib.sha1(start.encode()).hexdigest()}.json", side.path("sso-cache.json"))
    app.says = "SSO"
    return app


def link_chain(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """41 links to the probe's file, as the token file sent to the app's FULL_URI, and as
    its credentials file."""
    app = base_app(tmp, host, home, listener, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="/home/app/l0",
                   AWS_CONTAINER_CREDENTIALS_FULL_URI=listener.url + "/creds")
    app.env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    for i in range(41):
        link(app.root, f"/home/app/l{i}", f"l{i + 1}")
    link(app.root, "/home/app/l41", side.path("token"))
    for i in range(41):
        link(app.root, f"/home/app/c{i}", f"c{i + 1}")
    link(app.root, "/home/app/c41", side.path("aws/credentials"))
    app.env["AWS_SHARED_CREDENTIALS_FILE"] = "/home/app/c0"
    app.says = "more than 40 symbolic links"
    return app


def dev_zero(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    app = base_app(tmp, host, home, listener, AWS_WEB_IDENTITY_TOKEN_FILE="/dev/zero", AWS_ROLE_ARN="arn:aws:iam::123456789012:role/x")
    os.mknod(os.path.join(app.root, "dev/zero"), 0o666 | 0o020000, os.makedev(1, 5))
    app.says = "a character device, not a regular file"
    return app


def passwd_symlink(tmp: str, host: NetnsHost, home: str, listener: Listener, side: Side) -> App:
    """Its /etc/passwd through 41 links to the probe's: the user name must not be printed."""
    app = base_app(tmp, host, home, listener)
    os.unlink(os.path.join(app.root, "etc/passwd"))
    link(app.root, "/etc/passwd", "/etc/p0")
    for i in range(41):
        link(app.root, f"/etc/p{i}", f"p{i + 1}")
    link(app.root, "/etc/p41", side.path("passwd"))
    app.env.pop("HOME")
    return app


CASES: dict[str, Case] = {
    "process-default": process_default,
    "process-profile-sh": process_profile_sh,
    "process-source-profile": process_source_profile,
    "process-credentials-file": process_credentials_file,
    "process-config-file-var": process_config_file_var,
    "loader-variables": loader_variables,
    "web-identity-probe-file": web_identity_probe_file,
    "web-identity-config-probe-file": web_identity_config_probe_file,
    "web-identity-other-environ": web_identity_other_environ,
    "web-identity-symlink": web_identity_symlink,
    "token-unreadable-by-app": token_unreadable_by_app,
    "ca-bundle-fifo": ca_bundle_fifo,
    "aws-dir-symlink": aws_dir_symlink,
    "credentials-symlink": credentials_symlink,
    "sso-cache-symlink": sso_cache_symlink,
    "link-chain-41": link_chain,
    "dev-zero": dev_zero,
    "passwd-symlink": passwd_symlink,
}


def assert_untouched(run: ProbeRun, side: Side, listener: Listener) -> None:
    """Nothing of the probe's reached the application, nothing of the application ran."""
    assert side.markers() == [], f"the probe ran or loaded what the application named: {side.markers()}"
    sent = json.dumps(listener.requests())
    for secret in side.secrets:
        assert secret not in sent, "a file of the probe's side reached the application's endpoint"
    assert_no_secrets([run.stdout, run.stderr], side.secrets + ["proxypass"])
    assert side.user not in run.stdout + run.stderr, "the probe's /etc/passwd was read for the application"
    assert run.wall < DEADLINE + 6, f"the run took {run.wall:.1f} s with --deadline {DEADLINE}"


@pytest.mark.parametrize("name", list(CASES))
def test_pid_mode_holds(name: str, host: NetnsHost, home: str, side: Side, listener: Listener, tmp_path: "os.PathLike[str]") -> None:
    app = CASES[name](str(tmp_path), host, home, listener, side)
    run = run_as_target(host, home, app.root, app.env, "/bin/busybox sleep 600", dict(host.task_env(home), **app.probe_env),
                        ["--json", "--deadline", str(DEADLINE)], userspec=f"{APP_UID}:{APP_UID}")
    assert run.rc in (0, 1), run.stderr
    assert run.report["target"]["user"] == (None if name == "passwd-symlink" else "node"), run.report["target"]
    assert_untouched(run, side, listener)
    if app.says:
        shown = [(c["id"], c["status"], c["title"], c["detail"]) for c in run.report["checks"] if c["status"] != "pass"]
        assert app.says in run.stdout, f"the report does not say {app.says!r}: {shown}"


def test_watch_and_container_modes_hold(host: NetnsHost, home: str, side: Side, listener: Listener, tmp_path: "os.PathLike[str]") -> None:
    """`probe watch --pid` (several runs) and `--container` with the worst files at once."""
    app = process_default(os.path.join(str(tmp_path), "a"), host, home, listener, side)
    app.env.update(LD_PRELOAD=side.path("preload.so"), AWS_WEB_IDENTITY_TOKEN_FILE=side.path("token"), AWS_ROLE_ARN="arn:aws:iam::123456789012:role/x")
    run = run_as_target(host, home, app.root, app.env, "/bin/busybox sleep 600", host.task_env(home),
                        ["watch", "--runs", "2", "--interval", "0.2", "--deadline", str(DEADLINE), "--listen", "127.0.0.1:0"],
                        userspec=f"{APP_UID}:{APP_UID}", timeout=120)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip().startswith("{")]
    assert len(lines) == 2, run.stderr
    run.wall = 0.0  # two runs and the interval: the per-run bound is checked below
    assert_untouched(run, side, listener)
    need(os.path.isdir("/sys/fs/cgroup/pids"), "needs the cgroup v1 pids hierarchy")
    state = host.state
    base = os.path.join(str(tmp_path), "cg")
    os.makedirs(base)
    cgroup = os.path.join(base, "ecs", state["task_id"], state["container_id"])
    app2 = process_source_profile(os.path.join(str(tmp_path), "b"), host, home, listener, side)
    run = run_as_target(host, home, app2.root, app2.env, "/bin/busybox sleep 600", host.task_env(home),
                        ["--json", "--deadline", str(DEADLINE)], pick=state["container_name"], cgroup=cgroup, cgroup_base=base,
                        select="--container", userspec=f"{APP_UID}:{APP_UID}")
    assert run.report["target"]["container"] == state["container_name"]
    assert_untouched(run, side, listener)
    assert app2.says in run.stdout


# In its own container the environment is the probe's own: a loader variable there acts on
# the probe's interpreter at exec, before any code of the probe's runs (the sidecar case is
# the one the probe can get wrong, and test_pid_mode_holds covers it).
PLAIN_CASES = ["process-default", "process-profile-sh", "process-source-profile", "process-credentials-file",
               "process-config-file-var", "ca-bundle-fifo", "link-chain-41", "dev-zero"]


@pytest.mark.parametrize("name", PLAIN_CASES)
def test_own_container_mode_holds(name: str, host: NetnsHost, home: str, side: Side, listener: Listener, tmp_path: "os.PathLike[str]") -> None:
    """The probe in the application's own container, with the same files: it still runs
    nothing, loads nothing, reads nothing unbounded."""
    app = CASES[name](str(tmp_path), host, home, listener, side)
    env = dict(app.env)
    # Its own container: the paths the app's environment names are in the root it sees.
    for key, value in list(env.items()):
        if value.startswith("/") and key not in ("LD_PRELOAD", "LD_DEBUG_OUTPUT", "PYTHONPATH", "PYTHONSTARTUP") and not value.startswith(side.dir):
            env[key] = os.path.join(app.root, value.lstrip("/"))
    env.update(PATH=os.environ["PATH"], LANG="C.UTF-8")
    for key in ("PROBE_TEST_HOST_NETNS", "PROBE_TEST_GUARD_LOG"):
        env[key] = os.environ[key]
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(here, "_guard"), os.path.dirname(here)])
    env["PROBE_SDK_ROOT"] = app.root
    # The config files of the case name paths inside the root; in its own container they are those.
    for rel in ("home/app/.aws/config", "home/app/.aws/credentials", "srv/aws.conf"):
        path = os.path.join(app.root, rel)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path) as fh:
                text = fh.read()
            with open(path, "w") as fh:
                fh.write(text.replace("= /home/app/", f"= {app.root}/home/app/"))
    started = time.monotonic()
    run = run_probe(["--json", "--deadline", str(DEADLINE)], env, netns=host.name, secrets=side.secrets, timeout=60)
    run.wall = time.monotonic() - started
    assert run.rc in (0, 1), run.stderr
    assert_untouched(run, side, listener)
    if app.says and not app.says.startswith("more than"):
        assert app.says.replace(side.path("get-creds"), side.path("get-creds")) in run.stdout, run.stdout[:3000]
