"""The real-SDK matrix: which SDK clients, which situations, how an outcome is classified.

Shared by tests/test_sdk_matrix.py and tests/sdk_matrix/truth.py (which measures the ground
truth table). The SDKs themselves are installed by tests/sdk_matrix/setup.sh into CACHE.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("SDK_MATRIX_CACHE", "/var/cache/ecs-credential-probe/sdk-matrix")
CLIENTS = os.path.join(HERE, "clients")
STS = "http://127.0.0.1:5000"
PROXY = "http://127.0.0.1:3128"
RUBY_SPECS = "/usr/share/rubygems-integration/all"


def _py27() -> Optional[str]:
    try:
        with open(os.path.join(CACHE, "py27-python"), encoding="utf-8") as fh:
            path = fh.read().strip()
    except OSError:
        return None
    return path if os.access(path, os.X_OK) else None


def _botocore_site() -> str:
    import botocore

    return os.path.dirname(os.path.dirname(os.path.abspath(botocore.__file__)))


def _botocore_version() -> str:
    import botocore

    return botocore.__version__


@dataclass
class Sdk:
    id: str  # the test id part, e.g. "js-v2-2.4.6"
    sdk: str  # the `sdk` key the probe reports
    version: str
    root: str  # what the test passes as --sdk-root
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to (or, with a None value, removed from) the task env
    missing: Optional[str] = None  # why it cannot run here (None: it can)


def sdks() -> list[Sdk]:
    node = "/usr/bin/node" if os.path.exists("/usr/bin/node") else "node"
    out = []
    for d, flavour, sdk, version in (
        ("js-v2-latest", "v2", "js-v2", "2.1693.0"),
        ("js-v2-2.4.6", "v2", "js-v2", "2.4.6"),
        ("js-v3", "v3", "js-v3", "3.972.99"),
    ):
        root = os.path.join(CACHE, d)
        ok = os.path.exists(os.path.join(root, ".installed"))
        out.append(Sdk(d, sdk, version, root, [node, os.path.join(root, "whoami.js"), flavour],
                       missing=None if ok else f"{root} not installed (bash tests/sdk_matrix/setup.sh)"))
    go = os.path.join(CACHE, "go-v1", "whoami")
    out.append(Sdk("go-v1", "go-v1", "1.44.133", os.path.dirname(go), [go],
                   missing=None if os.access(go, os.X_OK) else f"{go} not built (bash tests/sdk_matrix/setup.sh)"))
    spec = os.path.join(RUBY_SPECS, "specifications", "aws-sdk-core-3.168.1.gemspec")
    out.append(Sdk("ruby", "ruby", "3.168.1", RUBY_SPECS, ["ruby", os.path.join(CLIENTS, "whoami.rb")],
                   missing=None if os.path.exists(spec) else "Debian ruby-aws-sdk-core 3.168.1 not installed (bash tests/sdk_matrix/setup.sh)"))
    out.append(Sdk("botocore", "botocore", _botocore_version(), _botocore_site(), [sys.executable, os.path.join(CLIENTS, "whoami_botocore.py")]))
    py27 = _py27()
    for ver in ("1.4.36", "1.4.37"):
        target = os.path.join(CACHE, f"py27-botocore-{ver}")
        why = None
        if not py27:
            why = "no Python 2.7 recorded by tests/sdk_matrix/setup.sh (pyenv install 2.7.18)"
        elif not os.path.exists(os.path.join(target, ".installed")):
            why = f"{target} not installed (bash tests/sdk_matrix/setup.sh)"
        out.append(Sdk(f"botocore-{ver}-py27", "botocore", ver, target, [py27 or "python2.7", os.path.join(CLIENTS, "whoami_botocore.py")],
                       env={"PYTHONPATH": target}, missing=why))
    return out


# ---- situations ------------------------------------------------------------------------------


@dataclass
class Situation:
    id: str
    title: str
    host: dict[str, Any]  # NetnsHost.set(...) changes on top of the reset state
    env: Callable[[Any, str], dict[str, str]]  # (host, home) -> the task's environment


RESET = dict(behaviour="ok", auth_token=None, imds_enabled=True, imds_v1_allowed=True, clock_offset=0, reset_counters=True)
TOKEN = secrets.token_urlsafe(32)  # per run; the emulator checks it; must never appear in output


def _no_var(host: Any, home: str) -> dict[str, str]:
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    return env


def _static(host: Any, home: str) -> dict[str, str]:
    user = host.info["user"]
    return host.task_env(home, AWS_ACCESS_KEY_ID=user["access_key_id"], AWS_SECRET_ACCESS_KEY=user["secret_access_key"])


def _shared_file(host: Any, home: str) -> dict[str, str]:
    user = host.info["user"]
    os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
    with open(os.path.join(home, ".aws", "credentials"), "w", encoding="utf-8") as fh:
        fh.write(f"[default]\naws_access_key_id = {user['access_key_id']}\naws_secret_access_key = {user['secret_access_key']}\n")
    env = host.task_env(home)
    env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
    env.pop("AWS_CONFIG_FILE", None)
    return env


def _full_uri(host: Any, home: str) -> dict[str, str]:
    path = os.path.join(home, "eks-pod-identity-token")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(TOKEN)  # no newline: botocore refuses one ("not a legal header value")
    env = host.task_env(home)
    rel = env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.23" + rel
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path
    return env


SITUATIONS = [
    Situation("healthy", "healthy task (RELATIVE_URI set, agent answers)", {}, lambda h, home: h.task_env(home)),
    Situation("no-variable", "RELATIVE_URI missing (a process that is not PID 1)", {}, _no_var),
    Situation("proxy", "HTTP_PROXY, no NO_PROXY", {}, lambda h, home: h.task_env(home, HTTP_PROXY=PROXY)),
    Situation("proxy-lower", "http_proxy (lower case), no no_proxy", {}, lambda h, home: h.task_env(home, http_proxy=PROXY)),
    Situation("proxy-no-proxy-hosts", "HTTP_PROXY, NO_PROXY=169.254.169.254,169.254.170.2", {},
              lambda h, home: h.task_env(home, HTTP_PROXY=PROXY, NO_PROXY="169.254.169.254,169.254.170.2")),
    Situation("proxy-no-proxy-cidr", "HTTP_PROXY, NO_PROXY=169.254.0.0/16", {},
              lambda h, home: h.task_env(home, HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16")),
    Situation("static-keys", "user keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", {}, _static),
    Situation("shared-file", "user keys in $HOME/.aws/credentials [default]", {}, _shared_file),
    Situation("agent-down", "RELATIVE_URI set, agent drops connections", {"behaviour": "down"}, lambda h, home: h.task_env(home)),
    Situation("full-uri-token-file", "FULL_URI=http://169.254.170.23/v2/credentials/<id> + token file", {"auth_token": TOKEN}, _full_uri),
    Situation("imdsv2-required", "RELATIVE_URI set, IMDSv2 required", {"imds_v1_allowed": False}, lambda h, home: h.task_env(home)),
    Situation("imdsv2-required-no-variable", "RELATIVE_URI missing, IMDSv2 required", {"imds_v1_allowed": False}, _no_var),
]


# ---- running and classifying -----------------------------------------------------------------


def classify(arn: Optional[str]) -> str:
    if not arn:
        return "none"
    if ":assumed-role/ecsTaskRole/" in arn:
        return "task-role"
    if ":assumed-role/ecsInstanceRole/" in arn:
        return "instance-role"
    if ":user/" in arn:
        return "user"
    return "other-role"


@dataclass
class Outcome:
    gets: str
    arn: Optional[str]
    error: Optional[str]
    seconds: float
    proxied: dict[str, int]  # requests the proxy saw during the run, per host:port
    raw: str = ""

    def describe(self) -> str:
        return f"{self.gets} ({self.arn or self.error}) in {self.seconds:.2f} s, proxy saw {self.proxied or 'nothing'}"


def client_env(sdk: Sdk, env: dict[str, str]) -> dict[str, str]:
    out = dict(env)
    out["WHOAMI_STS_ENDPOINT"] = STS
    for k, v in sdk.env.items():
        out[k] = v
    return out


def run_client(netns: str, sdk: Sdk, env: dict[str, str], proxy: Optional["ProxyProc"] = None, timeout: float = 40) -> Outcome:
    if proxy:
        proxy.reset()
    started = time.monotonic()
    proc = subprocess.run(["ip", "netns", "exec", netns, *sdk.cmd], env=client_env(sdk, env), capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    proxied = proxy.stats() if proxy else {}
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        return Outcome("none", None, f"no JSON line (rc {proc.returncode}): {proc.stderr.strip()[-300:]}", wall, proxied, proc.stdout + proc.stderr)
    doc = json.loads(line)
    arn = doc.get("arn")
    return Outcome(classify(arn), arn, doc.get("error"), wall, proxied, proc.stdout + proc.stderr)


class ProxyProc:
    """tests/sdk_matrix/proxy.py on 127.0.0.1:3128 inside a network namespace."""

    def __init__(self, netns: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, os.path.join(HERE, "proxy.py")],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if first.strip() != "READY":
            raise RuntimeError("proxy did not start: " + first + (self.proc.stderr.read() if self.proc.stderr else ""))

    def _ask(self, cmd: str) -> dict[str, int]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("STATS "):
                return json.loads(line[6:])
        raise RuntimeError("proxy ended")

    def stats(self) -> dict[str, int]:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for s in (self.proc.stdout, self.proc.stderr):
            if s:
                s.close()


# ---- the ground truth --------------------------------------------------------------------------
# What each real SDK got, measured with tests/sdk_matrix/truth.py (2026-12-01; full table with
# errors and times in tests/sdk_matrix/TRUTH.md). The test asserts the
# real clients still get this, so a change in an SDK (or in the emulator) is noticed, and that
# the probe's prediction (`sdks[].gets`) agrees. task = task-role, inst = instance-role.
TRUTH_TABLE = """
                             js-v2-latest  js-v2-2.4.6  js-v3  go-v1  ruby  botocore  botocore-1.4.36-py27  botocore-1.4.37-py27
healthy                      task          inst         task   task   task  task      inst                  task
no-variable                  inst          inst         inst   inst   inst  inst      inst                  inst
proxy                        task          inst         task   none   task  task      none                  none
proxy-lower                  task          inst         task   none   task  task      none                  none
proxy-no-proxy-hosts         task          inst         task   task   task  task      inst                  task
proxy-no-proxy-cidr          task          inst         task   task   task  task      inst                  task
static-keys                  user          user         user   user   user  user      user                  user
shared-file                  user          user         user   user   user  user      user                  user
agent-down                   inst          inst         none   none   none  none      inst                  none
full-uri-token-file          task          inst         task   none   inst  task      inst                  inst
imdsv2-required              task          none         task   task   task  task      none                  task
imdsv2-required-no-variable  inst          none         inst   inst   inst  inst      none                  none
"""
_WORDS = {"task": "task-role", "inst": "instance-role", "user": "user", "none": "none", "other": "other-role"}


def truth() -> dict[tuple[str, str], str]:
    """(sdk id, situation id) -> gets."""
    rows = [line.split() for line in TRUTH_TABLE.strip("\n").splitlines()]
    header, body = rows[0], rows[1:]
    return {(sdk, row[0]): _WORDS[cell] for row in body for sdk, cell in zip(header, row[1:])}
