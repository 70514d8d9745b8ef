"""Shared test helpers: clean environments, running the real probe, secret scanning, netns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARD_DIR = os.path.join(REPO, "tests", "_guard")

# The task-mode ids implemented so far, in the contract's order (CONTRACT.md). Written
# out, not imported from probe, so a reordering in the code fails the tests.
IMPLEMENTED_TASK_IDS = [
    "env.credentials-variable",
    "env.credentials-uri-safe",
    "env.shadowing-credentials",
    "env.region",
    "proxy.credentials-endpoint",
    "proxy.metadata-endpoints",
    "endpoint.credentials",
    "endpoint.credentials-expiry",
    "endpoint.clock-skew",
    "endpoint.task-metadata",
    "imds.instance-role",
    "identity.caller",
    "identity.task-role",
    "processes.credentials-variable",
    "processes.proxy",
    "sdk.versions",
    "sdk.identity",
    "shim.profile",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip locally when a prerequisite is missing; in CI a missing prerequisite fails."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI prerequisite missing: {reason}")
    pytest.skip(reason)


def clean_env(home: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Like `env -i`: nothing from the machine (it sets AWS_CA_BUNDLE, proxies, ...)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([GUARD_DIR, REPO]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PROBE_TEST_HOST_NETNS": os.environ["PROBE_TEST_HOST_NETNS"],
        "PROBE_TEST_GUARD_LOG": os.environ["PROBE_TEST_GUARD_LOG"],
        # The SDK scan looks at this (small) folder, not at the whole machine.
        "PROBE_SDK_ROOT": home,
        # Never the machine's own profiles.
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
        "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
    }
    env.update(extra or {})
    return env


@dataclass
class ProbeRun:
    rc: int
    stdout: str
    stderr: str
    wall: float
    files: dict[str, str] = field(default_factory=dict)

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def check(self, cid: str) -> dict[str, Any]:
        matches = [c for c in self.report["checks"] if c["id"] == cid]
        assert len(matches) == 1, f"{cid} appears {len(matches)} times"
        return matches[0]

    def status(self, cid: str) -> str:
        return self.check(cid)["status"]


def assert_no_secrets(texts: Iterable[str], secrets: Iterable[str]) -> None:
    """No secret, nor any 8-character piece of one, in any captured text."""
    texts = list(texts)
    for secret in secrets:
        if not secret:
            continue
        pieces = {secret} if len(secret) < 8 else {secret[i : i + 8] for i in range(len(secret) - 7)}
        for text in texts:
            for piece in pieces:
                assert piece not in text, f"a piece of a secret ({piece[:2]}...) leaked into output"


def run_probe(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    netns: Optional[str] = None,
    secrets: Iterable[str] = (),
    saved: Iterable[str] = (),
    timeout: float = 60,
    stdin: Optional[str] = None,
    pidns: bool = True,
) -> ProbeRun:
    """Run the unmodified probe as a process, then scan everything it wrote for secrets.

    ``pidns``: in a PID namespace of its own (when root), under a small init that has the
    same environment, as in a container: the process survey then sees the task's
    processes, not this machine's, whose environments (another suite's probe with
    HTTP_PROXY, say) would otherwise decide the verdict on a busy machine."""
    cmd = [sys.executable, "-m", "probe", *args]
    if pidns and os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", sys.executable, "-c", PID1_INIT, *cmd]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True, timeout=timeout, input=stdin)
    run = ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    for path in saved:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                run.files[path] = fh.read()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_no_secrets([run.stdout, run.stderr, *run.files.values()], secrets)
    return run


# PID 1 of a test's PID namespace: runs the command as its child (the probe is not PID 1,
# as in a task), forwards SIGTERM/SIGINT, exits with the child's status.
PID1_INIT = (
    "import signal, subprocess, sys\n"
    "child = []\n"
    "def forward(signum, frame):\n"
    "    if child:\n"
    "        child[0].send_signal(signum)\n"
    "for s in (signal.SIGTERM, signal.SIGINT):\n"
    "    signal.signal(s, forward)\n"
    "child.append(subprocess.Popen(sys.argv[1:]))\n"
    "code = child[0].wait()\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def netns_available() -> Optional[str]:
    """None if network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root for ip netns"
    if not shutil.which("ip"):
        return "needs iproute2 (ip)"
    return None


class NetnsHost:
    """A network namespace with the link-local addresses on lo, the emulated agent and
    IMDS bound to them, and moto's STS on the namespace's own 127.0.0.1:5000."""

    def __init__(self) -> None:
        self.name = f"ecp-{uuid.uuid4().hex[:8]}"
        self.proc: Optional[subprocess.Popen[str]] = None
        self.info: dict[str, Any] = {}
        # Issue 18: STS under its real names (sts.amazonaws.com, ...) in the namespace, over
        # TLS on its 127.0.0.1:443 (tests/nstls.py) with a certificate from a CA of this host's
        # own; `ip netns exec` mounts hosts_file over /etc/hosts. Only the SDK clients that are
        # told (ca_file) trust the CA.
        self.etc_dir = os.path.join("/etc/netns", self.name)
        self.tls_dir: Optional[str] = None
        self.ca_file: Optional[str] = None

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)

    def __enter__(self) -> "NetnsHost":
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            for addr in ("169.254.170.2/32", "169.254.170.23/32", "169.254.169.254/32"):
                self._ip("-n", self.name, "addr", "add", addr, "dev", "lo")
            self._sts_names()
            env = clean_env("/tmp", {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.name, sys.executable, os.path.join(REPO, "tests", "nshost.py"), "--tls-dir", self.tls_dir or ""],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.info = self._answer()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)
        shutil.rmtree(self.etc_dir, ignore_errors=True)
        if self.tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)

    def _sts_names(self) -> None:
        """/etc/netns/NAME/hosts (the STS names on the namespace's loopback) and the CA and
        certificate tests/nshost.py serves them with."""
        from nstls import hosts_file, make_certs

        self.tls_dir = tempfile.mkdtemp(prefix=f"{self.name}-tls-")
        os.chmod(self.tls_dir, 0o755)  # the CA is public; the key file itself is 0600
        self.ca_file = make_certs(self.tls_dir)["ca"]
        os.makedirs(self.etc_dir, exist_ok=True)
        with open(os.path.join(self.etc_dir, "hosts"), "w", encoding="utf-8") as fh:
            fh.write(hosts_file())

    def tls_stats(self, reset: bool = False) -> dict[str, int]:
        """What reached STS over TLS since the last reset: {"HOST ACTION": count}, plus
        "tls-error REASON" for handshakes that failed (an SDK that does not trust the CA)."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("tls-reset\n" if reset else "tls-stats\n")
        self.proc.stdin.flush()
        return self._answer()["tls"] or {}

    def set(self, **changes: Any) -> dict[str, Any]:
        """Change the emulated agent's state; returns its snapshot (with request counters)."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(changes) + "\n")
        self.proc.stdin.flush()
        answer = self._answer()
        assert "error" not in answer, answer
        return answer

    def _answer(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("NSHOST "):
                return json.loads(line[len("NSHOST "):])
        raise RuntimeError("netns host ended: " + (self.proc.stderr.read() if self.proc.stderr else ""))

    @property
    def state(self) -> dict[str, Any]:
        return self.info["state"]

    def secrets(self) -> list[str]:
        out = [self.state["credentials_id"]]
        for who in ("task", "instance"):
            out += [self.info[who]["secret_access_key"], self.info[who]["token"]]
        out.append(self.info["user"]["secret_access_key"])
        left = self.info.get("leftover")  # issue 21: the role a leftover FULL_URI serves
        if left:
            out += [left["credentials_id"], left["secret_access_key"], left["token"]]
        return out

    def task_env(self, home: str, **extra: str) -> dict[str, str]:
        """What the ECS agent would inject into a container of this task."""
        env = clean_env(
            home,
            {
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/v2/credentials/{self.state['credentials_id']}",
                "ECS_CONTAINER_METADATA_URI_V4": f"http://169.254.170.2/v4/{self.state['container_id']}",
                "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000",
            },
        )
        env.update(extra)
        return env
