"""Table-driven unit tests of the task-mode checks: facts in, outcome out, no I/O.

The environment and proxy records come from the real (pure) collectors; the records of
the network collectors (credentials endpoint, task metadata, IMDS, STS identity) are
written by hand in exactly the shape ``probe/facts/endpoints.py`` and
``probe/facts/identity.py`` return.
"""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import pytest

from probe import checks, runner
from probe.checks import Outcome

checks.load("task")

from probe.checks.identity import derive_identity  # noqa: E402
from probe.facts import Facts  # noqa: E402
from probe.facts.endpoints import IMDS_DEFAULT  # noqa: E402
from probe.facts.environ import collect_environ, credentials_target  # noqa: E402
from probe.facts.proxy import collect_proxy  # noqa: E402
from probe.model import Result, Status, exit_code, verdict  # noqa: E402

from helpers import IMPLEMENTED_TASK_IDS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# Every task-mode id of the contract, in its order (some are not implemented yet).
CONTRACT_TASK_IDS = IMPLEMENTED_TASK_IDS

# ---------------------------------------------------------------------------------------
# Realistic values
# ---------------------------------------------------------------------------------------

NOW = 1_800_000_000.0  # the local clock of every case: 2027-01-15T08:00:00Z
ACCOUNT = "123456789012"
TASK_ID = "0123456789abcdef0123456789abcdef"  # the agent's session name: the task id
CRED_ID = "3f1c2a4e-8b9d-4c1e-9a7b-2d5e6f708192"  # the capability inside the relative URI
RELATIVE_URI = f"/v2/credentials/{CRED_ID}"
MASKED_CRED_URL = "http://169.254.170.2/v2/credentials/****"
METADATA_URI = f"http://169.254.170.2/v4/{TASK_ID}-2531612879"
TASK_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app-task-role"
TASK_ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-task-role/{TASK_ID}"
INSTANCE_ID = "i-0abc1234def567890"
INSTANCE_ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsInstanceRole/{INSTANCE_ID}"
OTHER_ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-admin/botocore-session-1768464000"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PROXY_PASSWORD = "pa55w0rd-Zq81"
PROXY = f"http://user:{PROXY_PASSWORD}@proxy.corp.example:3128"

# What the ECS agent injects into a container of an EC2 task with a task role.
ECS_ENV: dict[str, str] = {
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": RELATIVE_URI,
    "ECS_CONTAINER_METADATA_URI_V4": METADATA_URI,
    "ECS_CONTAINER_METADATA_URI": f"http://169.254.170.2/v3/{TASK_ID}-2531612879",
    "ECS_AGENT_URI": f"http://169.254.170.2/api/{TASK_ID}-2531612879",
    "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "HOME": "/root",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}
NO_VARIABLE_ENV = {k: v for k, v in ECS_ENV.items() if k != "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}
NO_PROXY_BOTH = "169.254.169.254,169.254.170.2"


def env_with(*drop: str, **extra: str) -> dict[str, str]:
    """ECS_ENV without the names in ``drop`` and with ``extra`` added."""
    env = {k: v for k, v in ECS_ENV.items() if k not in drop}
    env.update(extra)
    return env


def iso(epoch: float) -> str:
    """An Expiration as the agent writes it."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer_record(
    status: Optional[int] = 200,
    *,
    error: Optional[str] = None,
    server_epoch: Optional[float] = NOW,
    local_epoch: float = NOW,
    body_bytes: int = 0,
    content_type: Optional[str] = "application/json",
    timed_out: bool = False,
    oversized: bool = False,
) -> dict[str, Any]:
    """The shape of ``endpoints._answer_record``."""
    answered = error is None
    return {
        "status": status if answered else None,
        "error": error,
        "timed_out": timed_out,
        "elapsed_ms": 3,
        "content_type": content_type if answered else None,
        "date": email.utils.formatdate(server_epoch, usegmt=True) if answered and server_epoch is not None else None,
        "date_epoch": server_epoch if answered else None,
        "local_epoch": local_epoch,
        "body_bytes": body_bytes,
        "oversized": oversized,
    }


def cred_ok(**overrides: Any) -> dict[str, Any]:
    """A 200 answer of the credentials endpoint with usable credentials (6 h left)."""
    rec: dict[str, Any] = {"requested": True, "url": MASKED_CRED_URL}
    rec.update(answer_record(200, body_bytes=1274))
    rec.update(
        rate_limit={},
        fields_missing=[],
        role_arn=TASK_ROLE_ARN,
        account_id=ACCOUNT,
        access_key_id="****MPLE",
        expiration=iso(NOW + 6 * 3600),
    )
    rec.update(overrides)
    return rec


def cred_http(status: int, *, code: Optional[str] = None, message: Optional[str] = None, body_text: str = "") -> dict[str, Any]:
    """A non-200 answer: JSON {code, message} from the agent, or a plain body."""
    rec: dict[str, Any] = {"requested": True, "url": MASKED_CRED_URL}
    rec.update(answer_record(status, body_bytes=80, content_type="application/json" if code else "text/plain"))
    rec["rate_limit"] = {}
    if code is not None:
        rec.update(error_code=code, error_message=message)
    else:
        rec["body_text"] = body_text
    return rec


def cred_unreachable(error: str = "connection refused (nothing listens there)", timed_out: bool = False) -> dict[str, Any]:
    rec: dict[str, Any] = {"requested": True, "url": MASKED_CRED_URL}
    rec.update(answer_record(error=error, timed_out=timed_out))
    rec["rate_limit"] = {}
    return rec


def cred_not_requested(why: str = "no credentials variable is set", url: Optional[str] = None) -> dict[str, Any]:
    return {"requested": False, "url": url, "not_requested": why}


def identity_record(arn: Optional[str] = TASK_ROLE_SESSION, provider: Optional[str] = "container-role", **extra: Any) -> dict[str, Any]:
    """The shape of ``identity.collect_identity`` after STS answered."""
    order = [
        "env", "assume-role", "assume-role-with-web-identity", "sso", "shared-credentials-file", "login",
        "custom-process", "config-file", "ec2-credentials-file", "boto-config", "container-role", "iam-role",
    ]
    tried = order[: order.index(provider) + 1] if provider in order else order
    rec: dict[str, Any] = {
        "provider": provider,
        "tried": tried,
        "region": "us-east-1",
        "access_key_id": "****MPLE",
        "botocore_version": "1.44.8",
        "sts_endpoint": "https://sts.us-east-1.amazonaws.com",
        "sts_elapsed_ms": 41,
        "arn": arn,
        "account": ACCOUNT,
        "user_id": f"AROAEXAMPLEID:{(arn or '').rsplit('/', 1)[-1]}",
    }
    rec.update(extra)
    return rec


def identity_chain_error(provider: Optional[str], error: str) -> dict[str, Any]:
    """The shape of ``collect_identity`` when botocore's chain raised or found nothing."""
    rec: dict[str, Any] = {"provider": None, "tried": ["env", "assume-role"], "region": "us-east-1", "chain_error": error}
    if provider is not None:
        rec["chain_error_provider"] = provider
    return rec


def identity_sts_error(error: str, code: Optional[str], provider: str = "container-role") -> dict[str, Any]:
    return {
        "provider": provider,
        "tried": ["env", "container-role"],
        "region": "us-east-1",
        "access_key_id": "****MPLE",
        "sts_endpoint": "https://sts.us-east-1.amazonaws.com",
        "sts_error": error,
        "sts_error_code": code,
        "sts_elapsed_ms": 2001,
    }


METADATA_INFO = {
    "task_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/{TASK_ID}",
    "cluster": "prod",
    "family": "web",
    "revision": "7",
    "launch_type": "EC2",
    "availability_zone": "us-east-1a",
    "container_name": "app",
    "network_mode": "bridge",
}


def metadata_record(container: Optional[dict[str, Any]] = None, task: Optional[dict[str, Any]] = None, info: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The shape of ``endpoints.fetch_task_metadata``."""
    return {
        "uri": METADATA_URI,
        "requested": True,
        "container": container if container is not None else answer_record(200, body_bytes=1800),
        "task": task if task is not None else answer_record(200, body_bytes=4200),
        "info": dict(METADATA_INFO) if info is None else info,
    }


def imds_unreachable(error: str = "timed out after 1.0 s") -> dict[str, Any]:
    """IMDS blocked (ECS_AWSVPC_BLOCK_IMDS, or the DOCKER-USER DROP rule)."""
    token = answer_record(error=error, timed_out=error.startswith("timed out"))
    return {
        "disabled": False,
        "endpoint": IMDS_DEFAULT,
        "requested": True,
        "token": token,
        "version": 1,
        "roles": answer_record(error=error, timed_out=True),
        "error": error,
    }


def imds_reachable(role: str = "ecsInstanceRole") -> dict[str, Any]:
    """IMDSv2 hands out the instance role's credentials."""
    return {
        "disabled": False,
        "endpoint": IMDS_DEFAULT,
        "requested": True,
        "token": answer_record(200, body_bytes=56, content_type="text/plain"),
        "version": 2,
        "roles": answer_record(200, body_bytes=len(role), content_type="text/plain"),
        "role_name": role,
        "credentials": answer_record(200, body_bytes=1300, content_type="text/plain"),
        "credentials_reachable": True,
        "access_key_id": "****7XYZ",
        "instance_id": INSTANCE_ID,
    }


def proxy_targets(env: Mapping[str, str]) -> dict[str, Optional[str]]:
    """The endpoint URLs ``collect_task`` hands to the proxy collector."""
    target = credentials_target(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return {
        "credentials": target.get("_raw_url") or (target.get("url") if target.get("source") else None),
        "imds": env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_DEFAULT,
        "metadata": env.get("ECS_CONTAINER_METADATA_URI_V4"),
        "sts": env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL") or f"https://sts.{region}.amazonaws.com/",
    }


# A healthy EC2 task: every record the checks read, observed as a working task would be.
def healthy_records() -> dict[str, Any]:
    return {
        "credentials": cred_ok(),
        "metadata": metadata_record(),
        "imds": imds_unreachable(),
        "identity": identity_record(),
        "run": {"unfinished": [], "pid": 1, "now_epoch": NOW},
    }


def make_facts(
    home: Path,
    env: Mapping[str, str] = ECS_ENV,
    records: Optional[Mapping[str, Any]] = None,
    files: Optional[Mapping[str, str]] = None,
    options: Optional[Mapping[str, Any]] = None,
) -> Facts:
    """Facts of one run: environ and proxy from the real collectors, the rest from ``records``.

    ``files`` are written under ``home`` first (e.g. ``.aws/credentials``); a record given
    as ``None`` is left out, as when its collector did not run.
    """
    for rel, text in (files or {}).items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    data: dict[str, Any] = {
        "environ": collect_environ(env, home=str(home)),
        "proxy": collect_proxy(env, proxy_targets(env)),
    }
    merged = healthy_records()
    merged.update(records or {})
    for name, rec in merged.items():
        if rec is not None:
            data[name] = rec
    return Facts(data=data, collected_at=iso(NOW), deadline=5.0, duration_ms=120, options=dict(options or {}))


# ---------------------------------------------------------------------------------------
# One case of a table
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Facts in, expectations out. Substrings in ``title``/``detail``/``remedy`` must all
    appear in that field; ``absent`` strings must appear nowhere in the outcome."""

    status: Status
    env: Mapping[str, str] = field(default_factory=lambda: dict(ECS_ENV))
    records: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    title: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()
    remedy: tuple[str, ...] = ()
    absent: tuple[str, ...] = (CRED_ID, PROXY_PASSWORD, SECRET_KEY, ACCESS_KEY_ID)
    data: Mapping[str, Any] = field(default_factory=dict)


def case(id: str, status: Status, **kw: Any) -> Any:
    return pytest.param(Case(status, **kw), id=id)


def run_case(check_id: str, c: Case, home: Path) -> Outcome:
    facts = make_facts(home, c.env, c.records, c.files, c.options)
    out = checks.REGISTRY[check_id].fn(facts)
    assert isinstance(out, Outcome)
    assert out.status is c.status, f"{out.status.value}: {out.title} / {out.detail}"
    for part in ("title", "detail", "remedy"):
        text = getattr(out, part)
        for want in getattr(c, part):
            assert want in text, f"{want!r} not in {part}: {text!r}"
    blob = json.dumps([out.title, out.detail, out.remedy, dict(out.data)], default=str)
    for secret in c.absent:
        assert secret not in blob, f"{secret!r} leaked into the outcome"
    for key, value in c.data.items():
        assert out.data.get(key) == value, f"data[{key!r}] = {out.data.get(key)!r}, want {value!r}"
    if out.status is Status.PASS:
        assert out.remedy == ""
    if out.status is Status.SKIP:
        assert out.detail, "a skip must say why"
    if out.status in (Status.FAIL, Status.WARN) and out.remedy == "":
        # Every warn/fail says what to do next, except a timed-out metadata request.
        assert check_id == "endpoint.task-metadata"
    return out


# ---------------------------------------------------------------------------------------
# env.credentials-variable
# ---------------------------------------------------------------------------------------

CREDENTIALS_VARIABLE_PASS = [
    case("relative-uri", Status.PASS, title=("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set",), detail=("/v2/credentials/****",)),
    case(
        "relative-wins-over-full",
        Status.PASS,
        env=env_with(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://169.254.170.23/v1/credentials"),
        title=("RELATIVE_URI is set",),
        detail=("the relative URI wins",),
    ),
    case(
        "full-uri",
        Status.PASS,
        env=env_with(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            AWS_CONTAINER_CREDENTIALS_FULL_URI="http://169.254.170.23/v1/credentials",
        ),
        title=("AWS_CONTAINER_CREDENTIALS_FULL_URI is set",),
        detail=("http://169.254.170.23/v1/credentials",),
    ),
]
CREDENTIALS_VARIABLE_FAIL = [
    case(
        "missing",
        Status.FAIL,
        env=NO_VARIABLE_ENV,
        title=("EC2 instance role",),
        detail=("Neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI",),
        remedy=("taskRoleArn", "ECS_ENABLE_TASK_IAM_ROLE=true", "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", "sudo systemctl restart ecs", "shim"),
    ),
    case(
        "relative-empty",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=""),
        title=("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set but empty",),
        remedy=("taskRoleArn",),
    ),
    case(
        "full-empty",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI=""),
        title=("AWS_CONTAINER_CREDENTIALS_FULL_URI is set but empty",),
        remedy=("Unset AWS_CONTAINER_CREDENTIALS_FULL_URI",),
    ),
]


@pytest.mark.parametrize("c", CREDENTIALS_VARIABLE_PASS + CREDENTIALS_VARIABLE_FAIL)
def test_env_credentials_variable(c: Case, tmp_path: Path) -> None:
    run_case("env.credentials-variable", c, tmp_path)


# ---------------------------------------------------------------------------------------
# env.credentials-uri-safe
# ---------------------------------------------------------------------------------------

CREDENTIALS_URI_SAFE_PASS = [
    case("agent-relative-uri", Status.PASS, title=("points at 169.254.170.2",), detail=(MASKED_CRED_URL,)),
    case(
        "v1-relative-uri-with-id-query",
        Status.PASS,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=f"/v1/credentials?id={CRED_ID}"),
        detail=("http://169.254.170.2/v1/credentials?id=****",),
    ),
    case(
        "full-uri-pod-identity-host",
        Status.PASS,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://169.254.170.23/v1/credentials"),
        title=("points at 169.254.170.23",),
        detail=("older than botocore 1.32.0",),
    ),
    case(
        "full-uri-loopback",
        Status.PASS,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:51679/creds"),
        title=("points at 127.0.0.1",),
    ),
    case(
        "full-uri-https",
        Status.PASS,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="https://creds.internal.example/role"),
        title=("points at creds.internal.example",),
    ),
]
CREDENTIALS_URI_SAFE_FAIL = [
    case(
        "relative-starts-with-at",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="@attacker.example/steal"),
        title=("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is unsafe and was not requested",),
        detail=("another host", "'@'"),
        remedy=("only through ECS", "/v2/credentials/<id>"),
        absent=("attacker.example", CRED_ID),
    ),
    case(
        "relative-without-slash",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=".attacker.example/x"),
        detail=("another host",),
        absent=("attacker.example",),
    ),
    case(
        "relative-with-port",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=":8080/v2/credentials/x"),
        detail=("another host",),
    ),
    case(
        "relative-double-slash",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=f"//v2/credentials/{CRED_ID}"),
        detail=("not a plain absolute path",),
    ),
    case(
        "relative-empty",
        Status.FAIL,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=""),
        detail=("it is empty",),
    ),
    case(
        "full-uri-plain-http-to-foreign-host",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://creds.internal.example/role"),
        title=("AWS_CONTAINER_CREDENTIALS_FULL_URI is unsafe",),
        detail=("refuse plain http to 'creds.internal.example'",),
        remedy=("https://", "169.254.170.23"),
    ),
    case(
        "full-uri-not-http",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="file:///etc/passwd"),
        detail=("not an http:// or https:// URL",),
    ),
    case(
        "full-uri-bad-port",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:port/creds"),
        detail=("does not parse",),
    ),
    case("no-variable", Status.SKIP, env=NO_VARIABLE_ENV, detail=("env.credentials-variable",)),
]


@pytest.mark.parametrize("c", CREDENTIALS_URI_SAFE_PASS + CREDENTIALS_URI_SAFE_FAIL)
def test_env_credentials_uri_safe(c: Case, tmp_path: Path) -> None:
    run_case("env.credentials-uri-safe", c, tmp_path)


# ---------------------------------------------------------------------------------------
# env.shadowing-credentials
# ---------------------------------------------------------------------------------------

STATIC_KEYS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
CREDENTIALS_FILE = f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n"

SHADOWING_PASS = [
    case("container-role-wins", Status.PASS, detail=("reached 'container-role'",)),
    case(
        "config-file-with-region-only",
        Status.PASS,
        files={".aws/config": "[default]\nregion = eu-west-1\noutput = json\n"},
        detail=("reached 'container-role'",),
    ),
    case(
        "chain-timed-out-nothing-static",
        Status.PASS,
        records={"identity": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}},
        detail=("not resolved in time",),
    ),
    case(
        "instance-role-is-not-earlier",
        Status.PASS,
        env=NO_VARIABLE_ENV,
        records={"identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role")},
        detail=("reached 'iam-role'",),
    ),
]
SHADOWING_FAIL = [
    case(
        "static-keys-in-environment",
        Status.FAIL,
        env=env_with(**STATIC_KEYS),
        records={"identity": identity_record(USER_ARN, "env")},
        title=("AWS_ACCESS_KEY_ID", "win over the task role"),
        detail=("stops at 'env'", "AWS_ACCESS_KEY_ID=****MPLE"),
        remedy=("Remove AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN",),
        data={"provider": "env"},
    ),
    case(
        "shared-credentials-file-in-image",
        Status.FAIL,
        files={".aws/credentials": CREDENTIALS_FILE},
        records={"identity": identity_record(USER_ARN, "shared-credentials-file")},
        title=("shared credentials file wins",),
        detail=(".aws/credentials [default]: aws_access_key_id",),
        remedy=("profile 'default'", ".aws/credentials"),
    ),
    case(
        "credential-process-in-config",
        Status.FAIL,
        env=env_with(AWS_PROFILE="tools"),
        files={".aws/config": "[profile tools]\ncredential_process = /usr/local/bin/get-creds\n"},
        records={"identity": identity_record(OTHER_ROLE_SESSION, "custom-process")},
        title=("credential_process",),
        detail=("[tools]: credential_process",),
        remedy=("profile 'tools'",),
    ),
    case(
        "web-identity-chain-error",
        Status.FAIL,
        env=env_with(AWS_WEB_IDENTITY_TOKEN_FILE="/var/run/secrets/token", AWS_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/eks"),
        records={"identity": identity_chain_error("assume-role-with-web-identity", "InvalidIdentityTokenError: bad token")},
        title=("Web identity",),
        detail=("AWS_WEB_IDENTITY_TOKEN_FILE in the environment",),
        remedy=("Unset AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN",),
    ),
    case(
        "chain-timed-out-but-static-keys",
        Status.FAIL,
        env=env_with(**STATIC_KEYS),
        records={"identity": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}},
        detail=("AWS_ACCESS_KEY_ID=****MPLE",),
        remedy=("Remove AWS_ACCESS_KEY_ID",),
    ),
]


@pytest.mark.parametrize("c", SHADOWING_PASS + SHADOWING_FAIL)
def test_env_shadowing_credentials(c: Case, tmp_path: Path) -> None:
    run_case("env.shadowing-credentials", c, tmp_path)


# ---------------------------------------------------------------------------------------
# env.region
# ---------------------------------------------------------------------------------------

REGION_PASS = [
    case("aws-region", Status.PASS, env=env_with(AWS_REGION="eu-north-1"), title=("Region eu-north-1",), detail=("from AWS_REGION",)),
    case(
        "aws-default-region",
        Status.PASS,
        env=env_with("AWS_REGION", AWS_DEFAULT_REGION="ap-south-1"),
        title=("Region ap-south-1",),
        detail=("from AWS_DEFAULT_REGION",),
    ),
    case(
        "config-file-profile",
        Status.PASS,
        env=env_with("AWS_REGION", "AWS_DEFAULT_REGION"),
        files={".aws/config": "[default]\nregion = eu-west-1\n"},
        records={"identity": identity_record(region=None)},
        title=("Region eu-west-1",),
    ),
]
REGION_FAIL = [
    case(
        "no-region",
        Status.WARN,
        env=env_with("AWS_REGION", "AWS_DEFAULT_REGION"),
        records={"identity": identity_record(region=None)},
        title=("No region is set",),
        detail=("NoRegionError",),
        remedy=('"name": "AWS_REGION"',),
    ),
    case(
        "empty-region-variables",
        Status.WARN,
        env=env_with(AWS_REGION="", AWS_DEFAULT_REGION=""),
        records={"identity": None},
        title=("No region is set",),
    ),
]


@pytest.mark.parametrize("c", REGION_PASS + REGION_FAIL)
def test_env_region(c: Case, tmp_path: Path) -> None:
    run_case("env.region", c, tmp_path)


# ---------------------------------------------------------------------------------------
# proxy.credentials-endpoint
# ---------------------------------------------------------------------------------------

PROXY_CREDENTIALS_PASS = [
    case("no-proxy-at-all", Status.PASS, title=("No proxy applies",)),
    case("no-proxy-names-host", Status.PASS, env=env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.170.2"), title=("NO_PROXY bypasses the proxy for 169.254.170.2",)),
    case(
        "lowercase-no-proxy-list",
        Status.PASS,
        env=env_with(http_proxy=PROXY, no_proxy=f"localhost,.amazonaws.com,{NO_PROXY_BOTH}"),
        detail=("169.254.170.2",),
    ),
    case("https-proxy-only", Status.PASS, env=env_with(HTTPS_PROXY=PROXY), title=("No proxy applies",)),
    case("only-no-proxy", Status.PASS, env=env_with(NO_PROXY="169.254.170.2"), title=("No proxy applies",)),
    case(
        "full-uri-loopback-bypassed",
        Status.PASS,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:51679/creds", HTTP_PROXY=PROXY, NO_PROXY="127.0.0.1"),
        title=("127.0.0.1",),
    ),
]
PROXY_CREDENTIALS_FAIL = [
    case(
        "http-proxy-without-no-proxy",
        Status.FAIL,
        env=env_with(HTTP_PROXY=PROXY),
        title=("169.254.170.2 would go through a proxy",),
        detail=("NO_PROXY is not set", "proxy.corp.example:3128", "No AWS SDK was found"),
        remedy=("NO_PROXY=169.254.169.254,169.254.170.2",),
        data={"host": "169.254.170.2"},
    ),
    case(
        "cidr-only-no-proxy",
        Status.FAIL,
        env=env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16"),
        detail=("only as a CIDR range", "urllib"),
        remedy=("NO_PROXY=169.254.169.254,169.254.170.2", "CIDR"),
    ),
    case(
        "no-proxy-names-only-imds",
        Status.FAIL,
        env=env_with(http_proxy=PROXY, no_proxy="169.254.169.254"),
        detail=("NO_PROXY=169.254.169.254 does not name 169.254.170.2",),
    ),
    case("all-proxy", Status.FAIL, env=env_with(ALL_PROXY="socks5://proxy.corp.example:1080"), detail=("socks5://proxy.corp.example:1080",)),
    case(
        "full-uri-loopback-through-proxy",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:51679/creds", HTTP_PROXY=PROXY),
        title=("127.0.0.1",),
        remedy=("Add 127.0.0.1 too.",),
    ),
    case("no-credentials-variable", Status.SKIP, env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", HTTP_PROXY=PROXY), detail=("no credentials URL",)),
]


@pytest.mark.parametrize("c", PROXY_CREDENTIALS_PASS + PROXY_CREDENTIALS_FAIL)
def test_proxy_credentials_endpoint(c: Case, tmp_path: Path) -> None:
    run_case("proxy.credentials-endpoint", c, tmp_path)


# ---------------------------------------------------------------------------------------
# proxy.metadata-endpoints
# ---------------------------------------------------------------------------------------

PROXY_METADATA_PASS = [
    case("no-proxy-configured", Status.PASS, title=("No proxy is configured",)),
    case("only-no-proxy-set", Status.PASS, env=env_with(NO_PROXY="169.254.169.254"), title=("No proxy is configured",)),
    case(
        "both-hosts-named",
        Status.PASS,
        env=env_with(HTTP_PROXY=PROXY, HTTPS_PROXY=PROXY, NO_PROXY=NO_PROXY_BOTH),
        title=("Metadata endpoints bypass the proxy",),
        detail=(NO_PROXY_BOTH,),
    ),
]
PROXY_METADATA_FAIL = [
    case(
        "both-proxied",
        Status.WARN,
        env=env_with(HTTP_PROXY=PROXY),
        title=("IMDS (169.254.169.254)", "task metadata v4 (169.254.170.2)"),
        remedy=("NO_PROXY=169.254.169.254,169.254.170.2",),
        data={"endpoints": ["IMDS (169.254.169.254)", "task metadata v4 (169.254.170.2)"]},
    ),
    case(
        "only-imds-proxied",
        Status.WARN,
        env=env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.170.2"),
        data={"endpoints": ["IMDS (169.254.169.254)"]},
    ),
    case(
        "cidr-does-not-count",
        Status.WARN,
        env=env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16"),
        data={"endpoints": ["IMDS (169.254.169.254)", "task metadata v4 (169.254.170.2)"]},
    ),
]


@pytest.mark.parametrize("c", PROXY_METADATA_PASS + PROXY_METADATA_FAIL)
def test_proxy_metadata_endpoints(c: Case, tmp_path: Path) -> None:
    run_case("proxy.metadata-endpoints", c, tmp_path)


# ---------------------------------------------------------------------------------------
# endpoint.credentials
# ---------------------------------------------------------------------------------------

ENDPOINT_CREDENTIALS_PASS = [
    case(
        "agent-answer",
        Status.PASS,
        title=(f"serves {TASK_ROLE_ARN}",),
        detail=(f"GET {MASKED_CRED_URL} -> 200", "key ****MPLE", iso(NOW + 6 * 3600)),
        data={"role_arn": TASK_ROLE_ARN},
    ),
    case("answer-without-role-arn", Status.PASS, records={"credentials": cred_ok(role_arn=None)}, title=("(no RoleArn in the answer)",)),
]
ENDPOINT_CREDENTIALS_FAIL = [
    case(
        "connection-refused",
        Status.FAIL,
        records={"credentials": cred_unreachable()},
        title=("unreachable",),
        detail=("connection refused", "does not fall back to the instance role"),
        remedy=("ECS_ENABLE_TASK_IAM_ROLE=true", "route_localnet=1", "--to-ports 51679"),
    ),
    case(
        "timed-out-full-uri",
        Status.FAIL,
        env=env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:51679/creds"),
        records={"credentials": dict(cred_unreachable("timed out after 2.0 s", timed_out=True), url="http://127.0.0.1:51679/creds")},
        detail=("timed out after 2.0 s",),
        remedy=("http://127.0.0.1:51679/creds runs and is reachable",),
    ),
    case(
        "collector-deadline",
        Status.FAIL,
        records={"credentials": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}},
        title=("did not answer in time",),
        remedy=("ECS_ENABLE_TASK_IAM_ROLE",),
    ),
    case(
        "invalid-id",
        Status.FAIL,
        records={"credentials": cred_http(400, code="InvalidIdInRequest", message="CredentialsV2Request: Credentials not found")},
        title=("HTTP 400 InvalidIdInRequest",),
        detail=("the task stopped", "copied from another task"),
        remedy=("Restart the task",),
        data={"status": 400, "code": "InvalidIdInRequest"},
    ),
    case(
        "no-id",
        Status.FAIL,
        records={"credentials": cred_http(400, code="NoIdInRequest", message="CredentialsV2Request: No ID in the request")},
        remedy=("taskRoleArn",),
    ),
    case(
        "agent-restarting",
        Status.FAIL,
        records={"credentials": cred_http(503, code="CredentialsUninitialized", message="credentials uninitialized")},
        remedy=("Retry in a few seconds", "sudo systemctl restart ecs"),
    ),
    case(
        "rate-limited",
        Status.FAIL,
        records={"credentials": cred_http(429, body_text="You have reached maximum request limit.")},
        title=("HTTP 429",),
        detail=("rate limit", "maximum request limit"),
        remedy=("ECS_TASK_METADATA_RPS_LIMIT",),
    ),
    case(
        "not-found-path",
        Status.FAIL,
        records={"credentials": cred_http(404, body_text="404 page not found")},
        detail=("does not serve this path",),
        remedy=("do not build it yourself",),
    ),
    case(
        "html-from-a-proxy",
        Status.FAIL,
        records={"credentials": cred_ok(fields_missing=None, role_arn=None, access_key_id=None, expiration=None, content_type="text/html", json_error="JSONDecodeError: Expecting value: line 1 column 1 (char 0)")},
        title=("not usable JSON",),
        detail=("text/html",),
        remedy=("Something other than the ECS agent",),
    ),
    case(
        "token-missing",
        Status.FAIL,
        records={"credentials": cred_ok(fields_missing=["Token"])},
        title=("lacks Token",),
        detail=("the SDKs reject it",),
    ),
    case(
        "oversized",
        Status.FAIL,
        records={"credentials": cred_ok(oversized=True, body_bytes=65536, json_error="JSONDecodeError: Unterminated string")},
        title=("oversized",),
    ),
    case(
        "token-file-unreadable",
        Status.FAIL,
        env=env_with(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            AWS_CONTAINER_CREDENTIALS_FULL_URI="http://169.254.170.23/v1/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="/var/run/secrets/pods.eks.amazonaws.com/eks-pod-identity-token",
        ),
        records={
            "credentials": {
                "requested": False,
                "url": "http://169.254.170.23/v1/credentials",
                "token_problem": "cannot read /var/run/secrets/pods.eks.amazonaws.com/eks-pod-identity-token: No such file or directory",
            }
        },
        title=("authorization token", "cannot be used"),
        detail=("No such file or directory",),
        remedy=("the file /var/run/secrets/pods.eks.amazonaws.com/eks-pod-identity-token",),
    ),
    case("no-variable", Status.SKIP, env=NO_VARIABLE_ENV, records={"credentials": cred_not_requested()}, detail=("no credentials variable is set",)),
    case(
        "unsafe-uri",
        Status.SKIP,
        env=env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="@attacker.example/x"),
        records={"credentials": cred_not_requested("the URI is unsafe: it would go elsewhere", url="http://169.254.170.2@****")},
        detail=("the URI is unsafe",),
    ),
]


@pytest.mark.parametrize("c", ENDPOINT_CREDENTIALS_PASS + ENDPOINT_CREDENTIALS_FAIL)
def test_endpoint_credentials(c: Case, tmp_path: Path) -> None:
    run_case("endpoint.credentials", c, tmp_path)


# ---------------------------------------------------------------------------------------
# endpoint.credentials-expiry
# ---------------------------------------------------------------------------------------

EXPIRY_PASS = [
    case("six-hours", Status.PASS, records={"credentials": cred_ok(expiration=iso(NOW + 6 * 3600))}, title=("valid for 6.0 h",), data={"seconds_left": 21600}),
    case("exactly-five-minutes", Status.PASS, records={"credentials": cred_ok(expiration=iso(NOW + 300))}, data={"seconds_left": 300}),
    case(
        "fractional-seconds-and-offset",
        Status.PASS,
        records={"credentials": cred_ok(expiration="2027-01-15T14:00:00.000+00:00")},
        data={"seconds_left": 21600},
    ),
    case(
        "run-clock-when-no-local-time",
        Status.PASS,
        records={"credentials": cred_ok(local_epoch=None, expiration=iso(NOW + 3600)), "run": {"unfinished": [], "pid": 1, "now_epoch": NOW}},
        data={"seconds_left": 3600},
    ),
]
EXPIRY_FAIL = [
    case(
        "expired",
        Status.FAIL,
        records={"credentials": cred_ok(expiration=iso(NOW - 600))},
        title=("expired",),
        detail=("10 min before they arrived",),
        remedy=("endpoint.clock-skew", "sudo systemctl restart ecs"),
        data={"seconds_left": -600},
    ),
    case("expires-now", Status.FAIL, records={"credentials": cred_ok(expiration=iso(NOW))}, data={"seconds_left": 0}),
    case(
        "three-minutes-left",
        Status.WARN,
        records={"credentials": cred_ok(expiration=iso(NOW + 180))},
        title=("expire within 5 minutes",),
        detail=("3 min from now",),
        remedy=("/var/log/ecs/ecs-agent.log",),
        data={"seconds_left": 180},
    ),
    case("just-under-five-minutes", Status.WARN, records={"credentials": cred_ok(expiration=iso(NOW + 299))}),
    case(
        "unreadable-expiration",
        Status.FAIL,
        records={"credentials": cred_ok(expiration="tomorrow")},
        title=("unreadable",),
        detail=("'tomorrow'",),
    ),
    case("endpoint-failed", Status.SKIP, records={"credentials": cred_http(400, code="InvalidIdInRequest", message="x")}, detail=("see endpoint.credentials",)),
    case("not-requested", Status.SKIP, env=NO_VARIABLE_ENV, records={"credentials": cred_not_requested()}),
    case("unusable-json", Status.SKIP, records={"credentials": cred_ok(fields_missing=None, json_error="JSONDecodeError")}),
]


@pytest.mark.parametrize("c", EXPIRY_PASS + EXPIRY_FAIL)
def test_endpoint_credentials_expiry(c: Case, tmp_path: Path) -> None:
    run_case("endpoint.credentials-expiry", c, tmp_path)


# ---------------------------------------------------------------------------------------
# endpoint.clock-skew
# ---------------------------------------------------------------------------------------


def skewed(seconds: float) -> dict[str, Any]:
    """A credentials answer whose Date header is ``seconds`` behind the local clock."""
    return cred_ok(**answer_record(200, server_epoch=NOW - seconds, local_epoch=NOW, body_bytes=1274))


CLOCK_SKEW_PASS = [
    case("in-sync", Status.PASS, records={"credentials": skewed(0)}, detail=("difference 0 s",), data={"skew_seconds": 0}),
    case("date-resolution-ignored", Status.PASS, records={"credentials": skewed(1)}, data={"skew_seconds": 0}),
    case("one-minute", Status.PASS, records={"credentials": skewed(60)}, data={"skew_seconds": 60}),
    case("error-answer-has-date-too", Status.PASS, records={"credentials": cred_http(400, code="InvalidIdInRequest", message="x")}),
]
CLOCK_SKEW_FAIL = [
    case(
        "two-minutes-ahead",
        Status.WARN,
        records={"credentials": skewed(120)},
        title=("2 min ahead of the endpoint",),
        remedy=("chronyd", "169.254.169.123"),
        data={"skew_seconds": 120},
    ),
    case("two-minutes-behind", Status.WARN, records={"credentials": skewed(-120)}, title=("2 min behind the endpoint",), data={"skew_seconds": -120}),
    case("exactly-five-minutes", Status.WARN, records={"credentials": skewed(300)}),
    case(
        "ten-minutes-ahead",
        Status.FAIL,
        records={"credentials": skewed(600)},
        title=("10 min ahead of the endpoint",),
        detail=("RequestTimeTooSkewed",),
        remedy=("chronyd",),
        data={"skew_seconds": 600},
    ),
    case("ten-minutes-behind", Status.FAIL, records={"credentials": skewed(-600)}, title=("10 min behind",)),
    case("unreachable", Status.SKIP, records={"credentials": cred_unreachable()}, detail=("no Date header",)),
    case("no-date-header", Status.SKIP, records={"credentials": skewed(0) | {"date": None, "date_epoch": None}}),
    case("not-requested", Status.SKIP, env=NO_VARIABLE_ENV, records={"credentials": cred_not_requested()}),
]


@pytest.mark.parametrize("c", CLOCK_SKEW_PASS + CLOCK_SKEW_FAIL)
def test_endpoint_clock_skew(c: Case, tmp_path: Path) -> None:
    run_case("endpoint.clock-skew", c, tmp_path)


# ---------------------------------------------------------------------------------------
# endpoint.task-metadata
# ---------------------------------------------------------------------------------------

TASK_METADATA_PASS = [
    case(
        "v4-answers",
        Status.PASS,
        title=("Task web:7 in cluster prod",),
        detail=("launch type EC2", "network mode bridge", "container app"),
    ),
]
TASK_METADATA_FAIL = [
    case(
        "task-path-500",
        Status.WARN,
        records={"metadata": metadata_record(task=answer_record(500, body_bytes=40), info={"container_name": "app", "network_mode": "bridge"})},
        title=("unreachable or unusable",),
        detail=(METADATA_URI, "task: HTTP 500"),
        remedy=("ECS_ENABLE_TASK_IAM_ROLE",),
    ),
    case(
        "unreachable",
        Status.WARN,
        records={
            "metadata": metadata_record(
                container=answer_record(error="connection refused (nothing listens there)"),
                task=answer_record(error="connection refused (nothing listens there)"),
                info={},
            )
        },
        detail=("container: connection refused", "task: connection refused"),
    ),
    case(
        "not-json",
        Status.WARN,
        records={"metadata": metadata_record(container=dict(answer_record(200), json_error="JSONDecodeError: Expecting value"))},
        detail=("container: JSONDecodeError",),
    ),
    case(
        "deadline",
        Status.WARN,
        records={"metadata": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}},
        title=("did not answer in time",),
        detail=("deadline",),
    ),
    case(
        "variable-missing",
        Status.SKIP,
        env=env_with("ECS_CONTAINER_METADATA_URI_V4"),
        records={"metadata": {"uri": None, "requested": False}},
        detail=("ECS_CONTAINER_METADATA_URI_V4 is not set",),
    ),
]


@pytest.mark.parametrize("c", TASK_METADATA_PASS + TASK_METADATA_FAIL)
def test_endpoint_task_metadata(c: Case, tmp_path: Path) -> None:
    run_case("endpoint.task-metadata", c, tmp_path)


# ---------------------------------------------------------------------------------------
# imds.instance-role
# ---------------------------------------------------------------------------------------

IMDS_PASS = [
    case("blocked", Status.PASS, title=("out of reach",), detail=("timed out",)),
    case(
        "no-role-attached",
        Status.PASS,
        records={"imds": {k: v for k, v in imds_reachable().items() if k not in ("role_name", "credentials", "credentials_reachable", "access_key_id", "instance_id")} | {"error": "no instance role is attached"}},
        detail=("no instance role is attached",),
    ),
    case("deadline", Status.PASS, records={"imds": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}}, title=("did not answer in time",)),
]
IMDS_FAIL = [
    case(
        "instance-role-reachable",
        Status.WARN,
        records={"imds": imds_reachable()},
        title=("instance role ecsInstanceRole is reachable",),
        detail=("IMDSv2", INSTANCE_ID),
        remedy=("ECS_AWSVPC_BLOCK_IMDS=true", "DOCKER-USER", "AWS_EC2_METADATA_DISABLED=true"),
        data={"role_name": "ecsInstanceRole"},
    ),
    case(
        "disabled",
        Status.SKIP,
        env=env_with(AWS_EC2_METADATA_DISABLED="true"),
        records={"imds": {"disabled": True, "endpoint": IMDS_DEFAULT, "requested": False}},
        detail=("AWS_EC2_METADATA_DISABLED=true",),
    ),
]


@pytest.mark.parametrize("c", IMDS_PASS + IMDS_FAIL)
def test_imds_instance_role(c: Case, tmp_path: Path) -> None:
    run_case("imds.instance-role", c, tmp_path)


# ---------------------------------------------------------------------------------------
# identity.caller
# ---------------------------------------------------------------------------------------

CALLER_PASS = [
    case("task-role", Status.PASS, title=(f"STS says {TASK_ROLE_SESSION}",), detail=("'container-role'", "key ****MPLE"), data={"arn": TASK_ROLE_SESSION}),
    case("instance-role-still-works", Status.PASS, env=NO_VARIABLE_ENV, records={"identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role")}, data={"arn": INSTANCE_ROLE_SESSION}),
]
CALLER_FAIL = [
    case(
        "container-provider-fails",
        Status.FAIL,
        records={"identity": identity_chain_error("container-role", "CredentialRetrievalError: Error when retrieving credentials from container-role: connection refused")},
        title=("container provider fails",),
        detail=("does not fall back to the instance role",),
        remedy=("endpoint.credentials",),
        data={"provider": "container-role"},
    ),
    case(
        "no-credentials",
        Status.FAIL,
        env=NO_VARIABLE_ENV,
        records={"identity": identity_chain_error(None, "NoCredentialsError: Unable to locate credentials")},
        title=("no credentials at all",),
        remedy=("taskRoleArn", "ECS_ENABLE_TASK_IAM_ROLE"),
    ),
    case(
        "other-provider-raises",
        Status.FAIL,
        records={"identity": identity_chain_error("custom-process", "CredentialRetrievalError: credential_process exited 1")},
        title=("'custom-process'",),
        remedy=("env.shadowing-credentials",),
    ),
    case(
        "sts-rejects",
        Status.FAIL,
        records={"identity": identity_sts_error("ClientError: An error occurred (InvalidClientTokenId)", "InvalidClientTokenId")},
        title=("STS GetCallerIdentity failed",),
        detail=("'container-role'", "****MPLE", "https://sts.us-east-1.amazonaws.com"),
        remedy=("ecs-tasks.amazonaws.com",),
        data={"code": "InvalidClientTokenId"},
    ),
    case(
        "sts-unreachable",
        Status.FAIL,
        records={"identity": identity_sts_error("ConnectTimeoutError: Connect timeout on endpoint URL", None)},
        remedy=("AWS_ENDPOINT_URL_STS",),
    ),
    case(
        "deadline",
        Status.FAIL,
        records={"identity": {"deadline_exceeded": True, "error": "not finished within the 5 s deadline"}},
        title=("could not be confirmed in time",),
        remedy=("--deadline",),
    ),
    case("not-collected", Status.SKIP, records={"identity": None}, detail=("not collected",)),
]


@pytest.mark.parametrize("c", CALLER_PASS + CALLER_FAIL)
def test_identity_caller(c: Case, tmp_path: Path) -> None:
    run_case("identity.caller", c, tmp_path)


# ---------------------------------------------------------------------------------------
# identity.task-role
# ---------------------------------------------------------------------------------------

TASK_ROLE_PASS = [
    case("task-role", Status.PASS, title=("task role app-task-role",), detail=(TASK_ROLE_SESSION,), data={"kind": "task-role", "arn": TASK_ROLE_SESSION}),
    case("expected-by-name", Status.PASS, options={"expect_role": "app-task-role"}, data={"kind": "task-role"}),
    case("expected-by-arn", Status.PASS, options={"expect_role": TASK_ROLE_ARN}, data={"kind": "task-role"}),
]
TASK_ROLE_FAIL = [
    case(
        "expected-another-role",
        Status.FAIL,
        options={"expect_role": f"arn:aws:iam::{ACCOUNT}:role/payments-task-role"},
        title=(f"app-task-role, not the expected arn:aws:iam::{ACCOUNT}:role/payments-task-role",),
        remedy=("taskRoleArn", "payments-task-role"),
        data={"kind": "task-role"},
    ),
    case(
        "instance-role-no-variable",
        Status.FAIL,
        env=NO_VARIABLE_ENV,
        records={"credentials": cred_not_requested(), "identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role"), "imds": imds_reachable()},
        title=("EC2 instance role, not the task role",),
        detail=("variable is missing", "'iam-role'"),
        remedy=("taskRoleArn", "ECS_ENABLE_TASK_IAM_ROLE=true"),
        data={"kind": "instance-role", "arn": INSTANCE_ROLE_SESSION},
    ),
    case(
        "instance-role-old-sdk",
        Status.FAIL,
        records={"identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role")},
        title=("EC2 instance role",),
        remedy=("boto 2",),
        data={"kind": "instance-role"},
    ),
    case(
        "static-user-keys",
        Status.FAIL,
        env=env_with(**STATIC_KEYS),
        records={"identity": identity_record(USER_ARN, "env")},
        title=("IAM user's static keys",),
        remedy=("env.shadowing-credentials",),
        data={"kind": "user"},
    ),
    case(
        "other-role",
        Status.FAIL,
        records={"identity": identity_record(OTHER_ROLE_SESSION, "assume-role")},
        title=("another role",),
        detail=(f"the task role is {TASK_ROLE_ARN}",),
        data={"kind": "other-role"},
    ),
    case(
        "identity-unknown",
        Status.FAIL,
        records={"identity": identity_chain_error("container-role", "CredentialRetrievalError: refused")},
        title=("Not confirmed",),
        remedy=("Fix the failures above",),
    ),
]


@pytest.mark.parametrize("c", TASK_ROLE_PASS + TASK_ROLE_FAIL)
def test_identity_task_role(c: Case, tmp_path: Path) -> None:
    run_case("identity.task-role", c, tmp_path)


def test_every_task_check_has_a_table() -> None:
    """The tables above cover exactly the registered task-mode checks."""
    assert [c.id for c in checks.load("task")] == IMPLEMENTED_TASK_IDS


# ---------------------------------------------------------------------------------------
# derive_identity: which kind of identity the default chain got
# ---------------------------------------------------------------------------------------


def identity_facts(ident: Optional[dict[str, Any]], cred: Optional[dict[str, Any]] = None, imds: Optional[dict[str, Any]] = None) -> Facts:
    data: dict[str, Any] = {"credentials": cred if cred is not None else cred_ok(), "imds": imds if imds is not None else imds_unreachable()}
    if ident is not None:
        data["identity"] = ident
    return Facts(data=data)


@pytest.mark.parametrize(
    "ident, cred, imds, kind, role, session",
    [
        pytest.param(identity_record(TASK_ROLE_SESSION, "container-role"), None, None, "task-role", "app-task-role", TASK_ID, id="task-session-container-provider"),
        pytest.param(identity_record(TASK_ROLE_SESSION, "container-role"), cred_not_requested(), None, "task-role", "app-task-role", TASK_ID, id="container-provider-endpoint-unknown"),
        pytest.param(
            identity_record(TASK_ROLE_SESSION, "container-role"),
            cred_ok(role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/app-task-role"),
            None,
            "task-role",
            "app-task-role",
            TASK_ID,
            id="task-role-with-path",
        ),
        pytest.param(identity_record(TASK_ROLE_SESSION, "shared-credentials-file"), None, None, "task-role", "app-task-role", TASK_ID, id="task-role-copied-into-a-file"),
        pytest.param(identity_record(INSTANCE_ROLE_SESSION, "iam-role"), None, None, "instance-role", "ecsInstanceRole", INSTANCE_ID, id="iam-role-provider"),
        pytest.param(
            identity_record(f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsInstanceRole/{INSTANCE_ID}", "env"),
            None,
            None,
            "instance-role",
            "ecsInstanceRole",
            INSTANCE_ID,
            id="instance-id-session",
        ),
        pytest.param(
            identity_record(f"arn:aws:sts::{ACCOUNT}:assumed-role/node-role/some-session", "iam-role"),
            None,
            None,
            "instance-role",
            "node-role",
            "some-session",
            id="iam-role-provider-any-session",
        ),
        pytest.param(
            identity_record(f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsInstanceRole/copied-keys", "env"),
            None,
            imds_reachable("ecsInstanceRole"),
            "instance-role",
            "ecsInstanceRole",
            "copied-keys",
            id="role-named-by-imds",
        ),
        pytest.param(identity_record(USER_ARN, "env"), None, None, "user", None, None, id="iam-user"),
        pytest.param(identity_record(f"arn:aws:iam::{ACCOUNT}:root", "shared-credentials-file"), None, None, "user", None, None, id="root"),
        pytest.param(identity_record(OTHER_ROLE_SESSION, "assume-role"), None, None, "other-role", "deploy-admin", "botocore-session-1768464000", id="other-assumed-role"),
        pytest.param(
            identity_record(f"arn:aws:sts::{ACCOUNT}:assumed-role/other-task-role/{TASK_ID}", "container-role"),
            None,
            None,
            "other-role",
            "other-task-role",
            TASK_ID,
            id="container-provider-but-not-the-served-role",
        ),
        pytest.param(
            identity_record(f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/app-task-role/{TASK_ID}", "container-role"),
            cred_ok(role_arn=f"arn:aws-cn:iam::{ACCOUNT}:role/app-task-role"),
            None,
            "task-role",
            "app-task-role",
            TASK_ID,
            id="china-partition",
        ),
    ],
)
def test_derive_identity_kind(
    ident: dict[str, Any], cred: Optional[dict[str, Any]], imds: Optional[dict[str, Any]], kind: str, role: Optional[str], session: Optional[str]
) -> None:
    out = derive_identity(identity_facts(ident, cred, imds))
    assert out is not None
    assert out["kind"] == kind
    assert out["role_name"] == role
    assert out["session_name"] == session
    assert out["arn"] == ident["arn"]
    assert out["account"] == ACCOUNT
    assert out["provider"] == ident["provider"]


def test_derive_identity_task_role_arn_only_from_a_200() -> None:
    assert derive_identity(identity_facts(identity_record()))["task_role_arn"] == TASK_ROLE_ARN  # type: ignore[index]
    failed = cred_http(400, code="InvalidIdInRequest", message="x") | {"role_arn": TASK_ROLE_ARN}
    assert derive_identity(identity_facts(identity_record(), failed))["task_role_arn"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    "ident",
    [
        pytest.param(None, id="not-collected"),
        pytest.param(identity_chain_error("container-role", "CredentialRetrievalError: x"), id="chain-error"),
        pytest.param({"deadline_exceeded": True, "error": "late"}, id="deadline"),
    ],
)
def test_derive_identity_none_when_nothing_learned(ident: Optional[dict[str, Any]]) -> None:
    assert derive_identity(identity_facts(ident)) is None


def test_derive_identity_unknown_when_sts_failed() -> None:
    out = derive_identity(identity_facts(identity_sts_error("ClientError: ExpiredToken", "ExpiredToken")))
    assert out is not None
    assert out["kind"] == "unknown"
    assert out["arn"] is None
    assert out["provider"] == "container-role"


# ---------------------------------------------------------------------------------------
# The registry: a raising check becomes "error"; --only / --skip become "skip"
# ---------------------------------------------------------------------------------------


@pytest.fixture
def raising_check() -> Iterator[str]:
    """A throwaway check (its own mode, so task mode never sees it) that raises."""
    cid = "test.raises"

    @checks.check(cid, mode="test-only", title="A check that raises")
    def _raises(f: Facts) -> Outcome:
        raise KeyError("credentials_target")

    try:
        yield cid
    finally:
        checks.REGISTRY.pop(cid, None)


def test_raising_check_becomes_error(raising_check: str) -> None:
    plan = checks.select(checks.load("test-only") + [checks.REGISTRY["env.region"]], None, None)
    results = checks.run(plan, Facts(data={"environ": {"shown": {"AWS_REGION": "us-east-1"}}}), None)
    assert [r.id for r in results] == [raising_check, "env.region"]
    broken, after = results
    assert broken.status is Status.ERROR
    assert broken.title == "A check that raises"
    assert "KeyError" in broken.detail and "credentials_target" in broken.detail
    assert after.status is Status.PASS, "one broken check must not stop the others"
    assert verdict(results) is Status.FAIL
    assert exit_code(results) == 1


def test_raising_check_stays_out_of_task_mode(raising_check: str) -> None:
    assert raising_check not in [c.id for c in checks.load("task")]


def test_duplicate_check_id_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate check id env.region"):
        checks.check("env.region", mode="task", title="again")(lambda f: checks.passed("x"))
    assert checks.REGISTRY["env.region"].title == "Region is set"


# ---------------------------------------------------------------------------------------
# The verdict rule (probe.model)
# ---------------------------------------------------------------------------------------


def results_of(*statuses: Status) -> list[Result]:
    return [Result(f"t.{i}", s, f"check {i}") for i, s in enumerate(statuses)]


P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR


@pytest.mark.parametrize(
    "statuses, want, code, strict_code",
    [
        pytest.param((), P, 0, 0, id="nothing-ran"),
        pytest.param((P, P), P, 0, 0, id="all-pass"),
        pytest.param((P, S), P, 0, 0, id="skips-do-not-count"),
        pytest.param((S, S), P, 0, 0, id="only-skips"),
        pytest.param((P, W), W, 0, 1, id="warn-fails-only-with-strict"),
        pytest.param((W, F, P), F, 1, 1, id="fail-beats-warn"),
        pytest.param((P, E), F, 1, 1, id="error-counts-as-fail"),
        pytest.param((W, E, S), F, 1, 1, id="error-beats-warn"),
    ],
)
def test_verdict_rule(statuses: tuple[Status, ...], want: Status, code: int, strict_code: int) -> None:
    results = results_of(*statuses)
    assert verdict(results) is want
    assert exit_code(results) == code
    assert exit_code(results, strict=True) == strict_code


def test_report_verdict_and_failing_flag() -> None:
    assert [s.failing for s in Status] == [False, False, True, False, True]
    report = runner.Report(mode="task", started_at="", duration_ms=0, summary="", results=tuple(results_of(P, W)))
    assert report.to_dict()["verdict"] == "warn"


# ---------------------------------------------------------------------------------------
# runner.judge: every task check once, in the contract's order
# ---------------------------------------------------------------------------------------


def test_judge_healthy_task(tmp_path: Path) -> None:
    report = runner.judge(make_facts(tmp_path), runner.Selection())
    ids = [r.id for r in report.results]
    assert len(ids) == len(set(ids)), "every check appears once"
    assert set(IMPLEMENTED_TASK_IDS) <= set(ids)
    assert set(ids) <= set(CONTRACT_TASK_IDS)
    assert ids == [i for i in CONTRACT_TASK_IDS if i in ids], "contract order"
    # No process survey, SDK scan or shim profile in these facts: those checks skip.
    not_observed = {"processes.credentials-variable", "processes.proxy", "sdk.versions", "sdk.identity", "shim.profile"}
    assert {r.id: r.status for r in report.results} == {i: Status.SKIP if i in not_observed else Status.PASS for i in ids}
    assert report.verdict is Status.PASS
    assert report.summary == "The application gets the task role app-task-role"
    assert report.identity == {
        "arn": TASK_ROLE_SESSION,
        "account": ACCOUNT,
        "provider": "container-role",
        "kind": "task-role",
        "role_name": "app-task-role",
        "session_name": TASK_ID,
        "task_role_arn": TASK_ROLE_ARN,
        "observed_with": "botocore 1.44.8",
    }
    assert report.task == {
        "task_arn": METADATA_INFO["task_arn"],
        "cluster": "prod",
        "launch_type": "EC2",
        "network_mode": "bridge",
        "container_name": "app",
        "availability_zone": "us-east-1a",
    }


def test_judge_instance_role_fallback(tmp_path: Path) -> None:
    facts = make_facts(
        tmp_path,
        NO_VARIABLE_ENV,
        {"credentials": cred_not_requested(), "identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role"), "imds": imds_reachable()},
    )
    report = runner.judge(facts, runner.Selection())
    by_id = {r.id: r.status for r in report.results}
    assert by_id["env.credentials-variable"] is Status.FAIL
    assert by_id["identity.task-role"] is Status.FAIL
    assert by_id["imds.instance-role"] is Status.WARN
    assert by_id["endpoint.credentials"] is Status.SKIP
    assert report.verdict is Status.FAIL
    # The upstream cause speaks, not its symptom (the instance role): issue 10.
    assert report.summary == "No container credentials variable: the SDKs will use the EC2 instance role"
    assert report.cause is not None and report.cause["check"] == "env.credentials-variable"
    assert report.identity is not None and report.identity["kind"] == "instance-role"
    assert report.identity["task_role_arn"] is None


def test_judge_only(tmp_path: Path) -> None:
    report = runner.judge(make_facts(tmp_path), runner.Selection(only=frozenset({"env.region", "identity.caller"})))
    assert [r.id for r in report.results][: len(IMPLEMENTED_TASK_IDS)] == IMPLEMENTED_TASK_IDS
    for r in report.results:
        if r.id in ("env.region", "identity.caller"):
            assert r.status is Status.PASS
        else:
            assert r.status is Status.SKIP
            assert r.detail == "not selected (--only)"
            # A skip line never reads like the passing sentence (issue 10): it says it skipped.
            assert r.title == "Not checked: not selected (--only)"
            assert r.data["check"] == checks.REGISTRY[r.id].title


def test_judge_skip(tmp_path: Path) -> None:
    facts = make_facts(tmp_path, env_with(HTTP_PROXY=PROXY))
    full = {r.id: r.status for r in runner.judge(facts, runner.Selection()).results}
    assert full["proxy.credentials-endpoint"] is Status.FAIL
    report = runner.judge(facts, runner.Selection(skip=frozenset({"proxy.credentials-endpoint", "proxy.metadata-endpoints"})))
    by_id = {r.id: r for r in report.results}
    assert [r.id for r in report.results][: len(IMPLEMENTED_TASK_IDS)] == IMPLEMENTED_TASK_IDS
    for cid in ("proxy.credentials-endpoint", "proxy.metadata-endpoints"):
        assert by_id[cid].status is Status.SKIP
        assert by_id[cid].detail == "not selected (--skip)"
    assert report.verdict is Status.PASS


def test_judge_expect_role(tmp_path: Path) -> None:
    facts = make_facts(tmp_path)
    report = runner.judge(facts, runner.Selection(expect_role="payments-task-role"))
    task_role = {r.id: r for r in report.results}["identity.task-role"]
    assert task_role.status is Status.FAIL
    assert "payments-task-role" in task_role.title
    assert report.verdict is Status.FAIL


# ---------------------------------------------------------------------------------------
# Saved facts judge the same: Facts.loads(facts.dumps())
# ---------------------------------------------------------------------------------------

ROUND_TRIP_SCENARIOS = [
    pytest.param({}, {}, id="healthy"),
    pytest.param(
        dict(NO_VARIABLE_ENV),
        {"credentials": cred_not_requested(), "identity": identity_record(INSTANCE_ROLE_SESSION, "iam-role"), "imds": imds_reachable()},
        id="instance-role",
    ),
    pytest.param(env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16"), {"credentials": skewed(600)}, id="proxy-and-skew"),
    pytest.param(
        env_with(**STATIC_KEYS, AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjEHYaCXVzLWVhc3QtMSJGMEQCIBexampleSessTok"),
        {"identity": identity_record(USER_ARN, "env"), "credentials": cred_ok(expiration=iso(NOW + 120))},
        id="static-keys",
    ),
    pytest.param(
        env_with(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=f"v2/credentials/{CRED_ID}"),
        {"credentials": cred_not_requested("the URI is unsafe: it would go elsewhere", url="http://169.254.170.2v****")},
        id="relative-uri-without-slash",
    ),
]


def statuses(report: runner.Report) -> list[tuple[str, str]]:
    return [(r.id, r.status.value) for r in report.results]


@pytest.mark.parametrize("env, records", ROUND_TRIP_SCENARIOS)
def test_saved_facts_judge_the_same(env: Mapping[str, str], records: Mapping[str, Any], tmp_path: Path) -> None:
    """--save-facts then --facts: the offline verdict is the verdict of the run."""
    facts = make_facts(tmp_path, env or ECS_ENV, records)
    before = statuses(runner.judge(facts, runner.Selection()))
    again = Facts.loads(facts.dumps())
    assert again.data.keys() == facts.data.keys()
    assert (again.mode, again.deadline, again.duration_ms, again.collected_at) == ("task", 5.0, 120, iso(NOW))
    assert statuses(runner.judge(again, runner.Selection())) == before


@pytest.mark.parametrize("env, records", ROUND_TRIP_SCENARIOS)
def test_saved_facts_hold_no_secret(env: Mapping[str, str], records: Mapping[str, Any], tmp_path: Path) -> None:
    text = make_facts(tmp_path, env or ECS_ENV, records).dumps()
    for secret in (CRED_ID, PROXY_PASSWORD, SECRET_KEY, ACCESS_KEY_ID, "IQoJb3JpZ2luX2VjEHYaCXVzLWVhc3Qt"):
        assert secret not in text


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param('{"schema": "something/else", "facts": {}}', "not an ecs-credential-probe/facts/v1 document", id="wrong-schema"),
        pytest.param('{"schema": "ecs-credential-probe/facts/v1", "facts": []}', "not an ecs-credential-probe/facts/v1 document", id="facts-not-object"),
    ],
)
def test_facts_loads_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Facts.loads(text)


def test_report_order_does_not_depend_on_import_order() -> None:
    """A fresh interpreter that imports a check module first still gets the contract's order."""
    code = (
        "import json, probe.checks.identity\n"
        "from probe import checks\n"
        "print(json.dumps([c.id for c in checks.load('task')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == IMPLEMENTED_TASK_IDS
