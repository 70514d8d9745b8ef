"""The real-SDK matrix: which SDK clients, which situations, how an outcome is classified.

Shared by tests/test_sdk_matrix.py and tests/sdk_matrix/truth.py (which measures the ground
truth table). The SDKs themselves are installed by tests/sdk_matrix/setup.sh into CACHE.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
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


def _py3_target(ver: str, package: str = "botocore") -> tuple[str, Optional[str]]:
    """(folder, why it cannot run) for `package` (botocore, awscli) `ver` installed with pip
    --target for this Python by tests/sdk_matrix/setup.sh."""
    target = os.path.join(CACHE, f"py3-{package}-{ver}")
    here = "%d.%d" % sys.version_info[:2]
    try:
        with open(os.path.join(target, ".installed"), encoding="utf-8") as fh:
            stamp = fh.read().split()
    except OSError:
        return target, f"{target} not installed (bash tests/sdk_matrix/setup.sh)"
    if stamp[1:] != [here]:
        return target, f"{target} installed for Python {' '.join(stamp[1:])}, this is {here} (SDK_MATRIX_PY3={sys.executable} bash tests/sdk_matrix/setup.sh)"
    return target, None


@dataclass
class Sdk:
    id: str  # the test id part, e.g. "js-v2-2.4.6"
    sdk: str  # the `sdk` key the probe reports
    version: str
    root: str  # what the test passes as --sdk-root
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to (or, with a None value, removed from) the task env
    missing: Optional[str] = None  # why it cannot run here (None: it can)
    # The variables through which this client trusts the NetnsHost's CA (STS over TLS under
    # its real names, issue 18); set by client_env only, never in the task's environment.
    ca_vars: tuple[str, ...] = ()


# Node: NODE_EXTRA_CA_CERTS (added to its bundled roots); Go's crypto/x509 and Ruby's OpenSSL
# default store: SSL_CERT_FILE; botocore verifies against its own bundle unless AWS_CA_BUNDLE.
# PHP's OpenSSL streams (Symfony's NativeHttpClient, no curl extension): SSL_CERT_FILE.
CA_VARS = {"js": ("NODE_EXTRA_CA_CERTS",), "go": ("SSL_CERT_FILE",), "ruby": ("SSL_CERT_FILE",), "botocore": ("AWS_CA_BUNDLE",),
           "php": ("SSL_CERT_FILE",)}
PHP_ASYNCAWS_VERSION = "1.18.1"  # Debian 12's php-async-aws-core


def sdks() -> list[Sdk]:
    node = "/usr/bin/node" if os.path.exists("/usr/bin/node") else "node"
    out = []
    for d, flavour, sdk, version in (
        ("js-v2-latest", "v2", "js-v2", "2.1693.0"),
        ("js-v2-2.4.6", "v2", "js-v2", "2.4.6"),
        ("js-v3", "v3", "js-v3", "3.972.99"),
        # Issue 21: the releases where the container code changed (versions: aws-sdk's, or
        # credential-provider-node's for v3; tests/sdk_matrix/setup.sh says what each holds).
        ("js-v2-2.62.0", "v2", "js-v2", "2.62.0"),
        ("js-v2-2.63.0", "v2", "js-v2", "2.63.0"),
        ("js-v3-3.186.0", "v3", "js-v3", "3.186.0"),
        ("js-v3-3.423.0", "v3", "js-v3", "3.423.0"),
        ("js-v3-3.503.1", "v3", "js-v3", "3.503.1"),
    ):
        root = os.path.join(CACHE, d)
        ok = os.path.exists(os.path.join(root, ".installed"))
        out.append(Sdk(d, sdk, version, root, [node, os.path.join(root, "whoami.js"), flavour],
                       missing=None if ok else f"{root} not installed (bash tests/sdk_matrix/setup.sh)", ca_vars=CA_VARS["js"]))
    go = os.path.join(CACHE, "go-v1", "whoami")
    out.append(Sdk("go-v1", "go-v1", "1.44.133", os.path.dirname(go), [go],
                   missing=None if os.access(go, os.X_OK) else f"{go} not built (bash tests/sdk_matrix/setup.sh)", ca_vars=CA_VARS["go"]))
    go2 = os.path.join(CACHE, "go-v2", "whoami")
    out.append(Sdk("go-v2", "go-v2", "1.17.10", os.path.dirname(go2), [go2],  # config 1.17.10, credentials 1.12.23
                   missing=None if os.access(go2, os.X_OK) else f"{go2} not built (bash tests/sdk_matrix/setup.sh; needs Debian's "
                   "golang-github-aws-aws-sdk-go-v2-dev)", ca_vars=CA_VARS["go"]))
    php_root = os.path.join(CACHE, "php-asyncaws")
    php_inc = os.path.join(php_root, "usr", "share", "php")
    php_why = None
    if not shutil.which("php"):
        php_why = "no php (Debian php-cli; bash tests/sdk_matrix/setup.sh)"
    elif not os.path.exists(os.path.join(php_root, ".installed")):
        php_why = f"{php_root} not installed (bash tests/sdk_matrix/setup.sh; needs Debian's php-async-aws-core)"
    out.append(Sdk("php-asyncaws", "php-asyncaws", PHP_ASYNCAWS_VERSION, php_root,
                   ["php", "-d", f"include_path={php_inc}:/usr/share/php", os.path.join(CLIENTS, "whoami.php")],
                   missing=php_why, ca_vars=CA_VARS["php"]))
    spec = os.path.join(RUBY_SPECS, "specifications", "aws-sdk-core-3.168.1.gemspec")
    out.append(Sdk("ruby", "ruby", "3.168.1", RUBY_SPECS, ["ruby", os.path.join(CLIENTS, "whoami.rb")],
                   missing=None if os.path.exists(spec) else "Debian ruby-aws-sdk-core 3.168.1 not installed (bash tests/sdk_matrix/setup.sh)",
                   ca_vars=CA_VARS["ruby"]))
    whoami_py = os.path.join(CLIENTS, "whoami_botocore.py")
    out.append(Sdk("botocore", "botocore", _botocore_version(), _botocore_site(), [sys.executable, whoami_py], ca_vars=CA_VARS["botocore"]))
    # The last 1.31 release, and 1.32.0 (the token file and the Pod Identity hosts, issue 21),
    # on the Python running the tests.
    for ver in ("1.31.85", "1.32.0"):
        target, why = _py3_target(ver)
        out.append(Sdk(f"botocore-{ver}", "botocore", ver, target, [sys.executable, whoami_py],
                       env={"PYTHONPATH": target}, missing=why, ca_vars=CA_VARS["botocore"]))
    # The AWS CLI v1 1.30.0 (it pins botocore 1.32.0): `aws sts get-caller-identity` (issue 21).
    target, why = _py3_target("1.30.0", "awscli")
    out.append(Sdk("awscli-1.30.0", "awscli-v1", "1.30.0", target,
                   [sys.executable, os.path.join(CLIENTS, "whoami_awscli.py"), os.path.join(target, "bin", "aws")],
                   env={"PYTHONPATH": target}, missing=why, ca_vars=CA_VARS["botocore"]))
    py27 = _py27()
    for ver in ("1.4.36", "1.4.37", "1.10.25"):
        target = os.path.join(CACHE, f"py27-botocore-{ver}")
        why = None
        if not py27:
            why = "no Python 2.7 recorded by tests/sdk_matrix/setup.sh (pyenv install 2.7.18)"
        elif not os.path.exists(os.path.join(target, ".installed")):
            why = f"{target} not installed (bash tests/sdk_matrix/setup.sh)"
        out.append(Sdk(f"botocore-{ver}-py27", "botocore", ver, target, [py27 or "python2.7", whoami_py],
                       env={"PYTHONPATH": target}, missing=why, ca_vars=CA_VARS["botocore"]))
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


def _aws_files(host: Any, home: str, config: str = "", credentials: str = "", **extra: str) -> dict[str, str]:
    """$HOME/.aws/config and credentials with the given text (none when empty), and the task's
    environment without clean_env's AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE (which point at
    no file), so every SDK reads $HOME/.aws as an application's would."""
    for name, text in (("config", config), ("credentials", credentials)):
        if text:
            os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
            with open(os.path.join(home, ".aws", name), "w", encoding="utf-8") as fh:
                fh.write(text)
    env = host.task_env(home, **extra)
    env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
    env.pop("AWS_CONFIG_FILE", None)
    return env


def _profile_missing(host: Any, home: str) -> dict[str, str]:
    return _aws_files(host, home, AWS_PROFILE="nope")


def _chain_ecs(host: Any, home: str, **extra: str) -> dict[str, str]:
    arn = host.info["chained_role"]["arn"]
    return _aws_files(host, home, config=f"[default]\nrole_arn = {arn}\ncredential_source = EcsContainer\n", **extra)


def _source_profile(host: Any, home: str) -> dict[str, str]:
    user, arn = host.info["user"], host.info["chained_role"]["arn"]
    return _aws_files(
        host, home,
        config=f"[profile app]\nrole_arn = {arn}\nsource_profile = base\n",
        credentials=f"[base]\naws_access_key_id = {user['access_key_id']}\naws_secret_access_key = {user['secret_access_key']}\n",
        AWS_PROFILE="app", AWS_SDK_LOAD_CONFIG="1",
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def web_identity_token() -> str:
    """A JWT-shaped token (header.payload.signature) as EKS would project it; moto does not check it."""
    now = int(time.time())
    header = {"alg": "RS256", "kid": "ecs-credential-probe-test", "typ": "JWT"}
    payload = {"aud": ["sts.amazonaws.com"], "exp": now + 86400, "iat": now, "iss": "https://oidc.eks.us-east-1.amazonaws.com/id/ECSCREDENTIALPROBETEST",
               "sub": "system:serviceaccount:default:app"}
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), _b64url(secrets.token_bytes(64))])


def _web_identity(host: Any, home: str) -> dict[str, str]:
    path = os.path.join(home, "web-identity-token")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(web_identity_token())
    return host.task_env(home, AWS_WEB_IDENTITY_TOKEN_FILE=path, AWS_ROLE_ARN=host.info["web_identity_role"]["arn"], AWS_ROLE_SESSION_NAME="app")


PROCESS_SCRIPT = "credential-process.sh"
PROCESS_MARKER = "credential-process.ran"  # beside the script; a line per run


def process_marker(env: dict[str, str]) -> str:
    return os.path.join(env.get("HOME", "/nonexistent"), PROCESS_MARKER)


def _credential_process(host: Any, home: str) -> dict[str, str]:
    user = host.info["user"]
    script, marker = os.path.join(home, PROCESS_SCRIPT), os.path.join(home, PROCESS_MARKER)
    doc = json.dumps({"Version": 1, "AccessKeyId": user["access_key_id"], "SecretAccessKey": user["secret_access_key"]})
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(f"#!/bin/sh\n# credential_process of the sdk-matrix: says it ran, prints the IAM user's keys\n"
                 f"echo \"ran $$\" >> '{marker}'\nprintf '%s\\n' '{doc}'\n")
    os.chmod(script, 0o755)
    return _aws_files(host, home, config=f"[default]\ncredential_process = {script}\n")


def _full_uri(host: Any, home: str) -> dict[str, str]:
    path = os.path.join(home, "eks-pod-identity-token")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(TOKEN)  # no newline: botocore refuses one ("not a legal header value")
    env = host.task_env(home)
    rel = env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.23" + rel
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path
    return env


LOOPBACK_AGENT = "http://127.0.0.1:18080"  # NetnsHost's agent on the namespace's loopback too


def _full_uri_loopback_token_var(host: Any, home: str) -> dict[str, str]:
    """aws-vault --ecs-server style: FULL_URI on loopback, the token in the variable itself."""
    env = host.task_env(home)
    rel = env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = LOOPBACK_AGENT + rel
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = TOKEN
    return env


def _both_uri(host: Any, home: str) -> dict[str, str]:
    """RELATIVE_URI (the task role) and a leftover FULL_URI on loopback serving leftoverRole
    (tests/nshost.py's second emulator; no token)."""
    return host.task_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=host.info["leftover"]["full_uri"])


def _token_newline(host: Any, home: str) -> dict[str, str]:
    env = _full_uri(host, home)
    with open(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], "w", encoding="utf-8") as fh:
        fh.write(TOKEN + "\n")  # as `echo TOKEN > file` writes it
    return env


def _imds_disabled(host: Any, home: str) -> dict[str, str]:
    env = _no_var(host, home)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
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
    # Issue 18: profiles, role chaining, leftover web identity, credential_process. The agent
    # answers and RELATIVE_URI is set throughout; $HOME/.aws is read (no AWS_CONFIG_FILE).
    Situation("profile-missing", "AWS_PROFILE=nope, no such profile (no ~/.aws files)", {}, _profile_missing),
    Situation("chain-ecs", "~/.aws/config [default] role_arn=chainedRole, credential_source=EcsContainer (no AWS_SDK_LOAD_CONFIG)", {}, _chain_ecs),
    Situation("chain-ecs-load-config", "as chain-ecs, with AWS_SDK_LOAD_CONFIG=1", {},
              lambda h, home: _chain_ecs(h, home, AWS_SDK_LOAD_CONFIG="1")),
    Situation("source-profile", "AWS_PROFILE=app: [profile app] role_arn=chainedRole, source_profile=base; [base] user keys in "
              "~/.aws/credentials; AWS_SDK_LOAD_CONFIG=1 (JS v2 and Go v1 read ~/.aws/config only then)", {}, _source_profile),
    Situation("web-identity-leftover", "AWS_WEB_IDENTITY_TOKEN_FILE (a JWT-shaped token) + AWS_ROLE_ARN=webIdentityRole + "
              "AWS_ROLE_SESSION_NAME=app left in the task", {}, _web_identity),
    Situation("credential-process", "~/.aws/config [default] credential_process = a script in $HOME printing the user's keys", {}, _credential_process),
    # Issue 21: container variables as real tasks meet them.
    Situation("full-uri-loopback-token-var", "FULL_URI=http://127.0.0.1:18080/v2/credentials/<id> (the emulator on loopback) + "
              "AWS_CONTAINER_AUTHORIZATION_TOKEN (the variable, no file): aws-vault --ecs-server style", {"auth_token": TOKEN},
              _full_uri_loopback_token_var),
    Situation("both-uri", "RELATIVE_URI (task role) + a leftover FULL_URI=http://127.0.0.1:18081/v2/credentials/<id2> serving "
              "leftoverRole (no token)", {}, _both_uri),
    Situation("token-newline", "as full-uri-token-file (169.254.170.23), the token file ending in a newline", {"auth_token": TOKEN},
              _token_newline),
    Situation("imds-disabled", "no container variable, AWS_EC2_METADATA_DISABLED=true", {}, _imds_disabled),
    Situation("imds-disabled-agent-down", "RELATIVE_URI set, agent drops connections, AWS_EC2_METADATA_DISABLED=true",
              {"behaviour": "down"}, lambda h, home: h.task_env(home, AWS_EC2_METADATA_DISABLED="true")),
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


def role_name(arn: Optional[str]) -> Optional[str]:
    """The role of an assumed-role ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)."""
    if arn and ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    return None


@dataclass
class Outcome:
    gets: str
    arn: Optional[str]
    error: Optional[str]
    seconds: float
    proxied: dict[str, int]  # requests the proxy saw during the run, per host:port
    raw: str = ""
    ran_process: bool = False  # the situation's credential_process ran (its marker file appeared)
    sts_tls: dict[str, int] = field(default_factory=dict)  # what reached STS over TLS ("HOST ACTION": n)

    @property
    def role(self) -> Optional[str]:
        return role_name(self.arn)

    def describe(self) -> str:
        who = self.gets + (f" {self.role}" if self.gets == "other-role" else "")
        extra = (", ran credential_process" if self.ran_process else "") + (f", STS over TLS: {self.sts_tls}" if self.sts_tls else "")
        return f"{who} ({self.arn or self.error}) in {self.seconds:.2f} s, proxy saw {self.proxied or 'nothing'}{extra}"


def client_env(sdk: Sdk, env: dict[str, str], ca_file: Optional[str] = None) -> dict[str, str]:
    """The client's environment: the task's, the client's own variables, and (ca_file) the
    variables through which it trusts the NetnsHost's CA for STS over TLS."""
    out = dict(env)
    out["WHOAMI_STS_ENDPOINT"] = STS
    for k, v in sdk.env.items():
        out[k] = v
    if ca_file:
        for k in sdk.ca_vars:
            out[k] = ca_file
    return out


def run_client(netns: str, sdk: Sdk, env: dict[str, str], proxy: Optional["ProxyProc"] = None, timeout: float = 40,
               host: Any = None) -> Outcome:
    """Run the SDK's client in the namespace. With `host` (the NetnsHost): trust its CA, and
    record what reached STS over TLS."""
    if proxy:
        proxy.reset()
    marker = process_marker(env)
    if os.path.exists(marker):
        os.unlink(marker)
    if host is not None:
        host.tls_stats(reset=True)
    started = time.monotonic()
    proc = subprocess.run(["ip", "netns", "exec", netns, *sdk.cmd], env=client_env(sdk, env, host.ca_file if host is not None else None),
                          capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    proxied = proxy.stats() if proxy else {}
    sts_tls = host.tls_stats(reset=True) if host is not None else {}
    ran = os.path.exists(marker)
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        return Outcome("none", None, f"no JSON line (rc {proc.returncode}): {proc.stderr.strip()[-300:]}", wall, proxied, proc.stdout + proc.stderr, ran, sts_tls)
    doc = json.loads(line)
    arn = doc.get("arn")
    return Outcome(classify(arn), arn, doc.get("error"), wall, proxied, proc.stdout + proc.stderr, ran, sts_tls)


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
# What each real SDK got, measured with tests/sdk_matrix/truth.py (2026-12-01; the issue 18
# situations and the botocore 1.31.85 and 1.10.25 columns 2026-12-07; the issue 21 columns and
# situations, with every older cell again, 2026-12-07; three runs alike each time; full table
# with errors, roles and times in tests/sdk_matrix/TRUTH.md; `truth.py --table-from RUN.json`
# prints this table). The test asserts the
# real clients still get this, so a change in an SDK (or in the emulator) is noticed, and that
# the probe's prediction (`sdks[].gets`) agrees. task = task-role, inst = instance-role;
# other-role cells name the role: chain = chainedRole, webid = webIdentityRole, left =
# leftoverRole (other = any other role).
TRUTH_TABLE = """
                             js-v2-latest  js-v2-2.4.6  js-v3  js-v2-2.62.0  js-v2-2.63.0  js-v3-3.186.0  js-v3-3.423.0  js-v3-3.503.1  go-v1  go-v2  php-asyncaws  ruby   botocore  botocore-1.31.85  botocore-1.32.0  awscli-1.30.0  botocore-1.4.36-py27  botocore-1.4.37-py27  botocore-1.10.25-py27
healthy                      task          inst         task   task          task          task           task           task           task   task   task          task   task      task              task             task           inst                  task                  task
no-variable                  inst          inst         inst   inst          inst          inst           inst           inst           inst   inst   inst          inst   inst      inst              inst             inst           inst                  inst                  inst
proxy                        task          inst         task   task          task          task           task           task           none   none   none          task   task      task              task             task           none                  none                  none
proxy-lower                  task          inst         task   task          task          task           task           task           none   none   none          task   task      task              task             task           none                  none                  none
proxy-no-proxy-hosts         task          inst         task   task          task          task           task           task           task   task   task          task   task      task              task             task           inst                  task                  task
proxy-no-proxy-cidr          task          inst         task   task          task          task           task           task           task   task   none          task   task      task              task             task           inst                  task                  task
static-keys                  user          user         user   user          user          user           user           user           user   user   user          user   user      user              user             user           user                  user                  user
shared-file                  user          user         user   user          user          user           user           user           user   user   user          user   user      user              user             user           user                  user                  user
agent-down                   inst          inst         none   none          none          none           none           none           none   none   inst          none   none      none              none             none           inst                  none                  none
full-uri-token-file          task          inst         task   inst          none          none           none           task           none   none   inst          inst   task      none              task             task           inst                  inst                  none
imdsv2-required              task          none         task   task          task          task           task           task           task   task   task          task   task      task              task             task           none                  task                  task
imdsv2-required-no-variable  inst          none         inst   none          none          inst           inst           inst           inst   inst   none          inst   inst      inst              inst             inst           none                  none                  none
profile-missing              task          inst         task   task          task          task           task           task           task   task   task          task   none      none              none             none           none                  none                  none
chain-ecs                    task          inst         chain  task          task          chain          chain          chain          task   chain  task          chain  chain     chain             chain            chain          none                  none                  chain
chain-ecs-load-config        task          inst         chain  task          task          chain          chain          chain          chain  chain  task          chain  chain     chain             chain            chain          none                  none                  chain
source-profile               chain         inst         chain  chain         chain         chain          chain          chain          chain  chain  chain         chain  chain     chain             chain            chain          chain                 chain                 chain
web-identity-leftover        task          inst         webid  task          task          webid          webid          webid          webid  webid  webid         webid  webid     webid             webid            webid          inst                  task                  task
credential-process           task          inst         user   task          task          user           user           user           task   user   task          user   user      user              user             user           inst                  task                  user
full-uri-loopback-token-var  task          inst         task   inst          task          task           task           task           task   task   inst          inst   task      task              task             task           inst                  inst                  task
both-uri                     task          inst         task   task          task          task           task           left           left   left   task          task   task      task              task             task           inst                  task                  task
token-newline                none          inst         none   inst          none          none           none           none           none   none   inst          inst   none      none              none             none           inst                  inst                  none
imds-disabled                none          inst         none   inst          inst          none           none           none           none   none   inst          none   none      none              none             none           inst                  inst                  none
imds-disabled-agent-down     none          inst         none   none          none          none           none           none           none   none   inst          none   none      none              none             none           inst                  none                  none
"""
_WORDS = {"task": "task-role", "inst": "instance-role", "user": "user", "none": "none", "other": "other-role",
          "chain": "other-role", "webid": "other-role", "left": "other-role"}
# The role an other-role cell names (`other`: any role but the task's and the instance's).
_ROLES = {"chain": "chainedRole", "webid": "webIdentityRole", "left": "leftoverRole"}


def table_word(gets: str, role: Optional[str]) -> str:
    """The TRUTH_TABLE word for an outcome (truth.py writes the table with it)."""
    if gets == "other-role":
        return next((w for w, r in _ROLES.items() if r == role), "other")
    return next(w for w, g in _WORDS.items() if g == gets)


def _cells() -> dict[tuple[str, str], str]:
    rows = [line.split() for line in TRUTH_TABLE.strip("\n").splitlines()]
    header, body = rows[0], rows[1:]
    for row in body:
        assert len(row) == len(header) + 1, f"TRUTH_TABLE row {row[0]} has {len(row) - 1} cells for {len(header)} SDKs"
    return {(sdk, row[0]): cell for row in body for sdk, cell in zip(header, row[1:])}


def truth() -> dict[tuple[str, str], str]:
    """(sdk id, situation id) -> gets."""
    return {key: _WORDS[cell] for key, cell in _cells().items()}


def truth_roles() -> dict[tuple[str, str], Optional[str]]:
    """(sdk id, situation id) -> the role name of an other-role cell (None for `other` and
    for every other cell)."""
    return {key: _ROLES.get(cell) for key, cell in _cells().items()}
