"""The unmodified probe inside a network namespace made by the test: the real link-local
addresses 169.254.170.2 (agent), 169.254.170.23 (Pod Identity) and 169.254.169.254 (IMDS),
real boto3/botocore, and moto's STS answering with real assumed-role ARNs.

Needs root (ip netns). Skipped locally without it; a failure in CI (CI=true).
"""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest

from helpers import NetnsHost, netns_available, need, run_probe

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    with NetnsHost() as h:
        yield h


@pytest.fixture(autouse=True)
def reset(host: NetnsHost) -> None:
    host.set(behaviour="ok", clock_offset=0, auth_token=None, imds_enabled=True, reset_counters=True)


def probe(host: NetnsHost, env: dict[str, str], *args: str, more_secrets: tuple[str, ...] = (), saved: tuple[str, ...] = ()):
    return run_probe(["--json", *args], env, netns=host.name, secrets=[*host.secrets(), *more_secrets], saved=saved)


def test_healthy_task_role(host: NetnsHost, home: str) -> None:
    run = probe(host, host.task_env(home))
    rep = run.report
    assert run.rc == 0  # a warning (the instance role is reachable too) does not fail the run
    assert rep["verdict"] == "warn", rep["summary"]
    assert rep["identity"] == {
        "arn": f"arn:aws:sts::123456789012:assumed-role/ecsTaskRole/{host.state['task_id']}",
        "account": "123456789012",
        "provider": "container-role",
        "kind": "task-role",
        "role_name": "ecsTaskRole",
        "session_name": host.state["task_id"],
        "task_role_arn": "arn:aws:iam::123456789012:role/ecsTaskRole",
        "observed_with": "botocore " + __import__("botocore").__version__,
    }
    assert run.status("imds.instance-role") == "warn"
    assert host.set()["requests"]["credentials"] == 1


def test_healthy_with_imds_blocked_passes(host: NetnsHost, home: str) -> None:
    host.set(imds_enabled=False)
    run = probe(host, host.task_env(home))
    assert run.rc == 0 and run.report["verdict"] == "pass", run.report["summary"]


def test_missing_variable_falls_back_to_instance_role(host: NetnsHost, home: str) -> None:
    env = host.task_env(home)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    run = probe(host, env)
    ident = run.report["identity"]
    assert ident["kind"] == "instance-role" and ident["provider"] == "iam-role"
    assert ident["arn"] == "arn:aws:sts::123456789012:assumed-role/ecsInstanceRole/i-0abc1234def567890"
    assert run.status("identity.task-role") == "fail"
    assert run.status("env.credentials-variable") == "fail"


def test_proxy_without_no_proxy(host: NetnsHost, home: str) -> None:
    # NO_PROXY covers STS (on loopback here) but forgets the link-local endpoints.
    env = host.task_env(home, HTTP_PROXY="http://127.0.0.1:3128", NO_PROXY="127.0.0.1,localhost")
    run = probe(host, env)
    px = run.check("proxy.credentials-endpoint")
    assert px["status"] == "fail" and "169.254.170.2" in px["title"]
    assert "NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock" in px["remedy"]
    assert run.status("proxy.metadata-endpoints") == "warn"
    # botocore ignores the proxy for the container endpoint, so boto3 itself still gets the task role.
    assert run.report["identity"]["kind"] == "task-role"


def test_cidr_no_proxy_is_not_enough(host: NetnsHost, home: str) -> None:
    env = host.task_env(home, HTTP_PROXY="http://127.0.0.1:3128", NO_PROXY="127.0.0.1,169.254.0.0/16")
    px = probe(host, env).check("proxy.credentials-endpoint")
    assert px["status"] == "fail" and "CIDR" in px["detail"]


def test_static_keys_shadow_the_role(host: NetnsHost, home: str) -> None:
    user = host.info["user"]
    env = host.task_env(home, AWS_ACCESS_KEY_ID=user["access_key_id"], AWS_SECRET_ACCESS_KEY=user["secret_access_key"])
    run = probe(host, env)
    assert run.report["identity"]["arn"] == "arn:aws:iam::123456789012:user/ci-deploy"
    assert run.report["identity"]["kind"] == "user"
    assert run.status("env.shadowing-credentials") == "fail"
    assert run.status("identity.task-role") == "fail"


@pytest.mark.parametrize(
    "behaviour, title_part",
    [
        pytest.param("invalid-id", "HTTP 400 InvalidIdInRequest", id="400"),
        pytest.param("uninitialized", "HTTP 503 CredentialsUninitialized", id="503"),
        pytest.param("internal", "HTTP 500 InternalServerError", id="500"),
        pytest.param("malformed", "not usable JSON", id="malformed"),
        pytest.param("oversized", "oversized", id="oversized"),
        pytest.param("hang", "unreachable", id="hanging"),
    ],
)
def test_endpoint_failures(host: NetnsHost, home: str, behaviour: str, title_part: str) -> None:
    host.set(behaviour=behaviour, hang_seconds=20)
    run = probe(host, host.task_env(home), "--deadline", "3")
    assert run.rc == 1
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and title_part in cred["title"], cred
    # botocore raises when the variable is set and the endpoint fails: no instance-role fallback.
    caller = run.check("identity.caller")
    assert caller["status"] == "fail" and "container-role" in caller["detail"]
    assert run.report["duration_ms"] <= 3000
    assert run.wall < 3 + 4


def test_expired_credentials(host: NetnsHost, home: str) -> None:
    host.set(behaviour="expired")
    assert probe(host, host.task_env(home)).status("endpoint.credentials-expiry") == "fail"


def test_clock_skew(host: NetnsHost, home: str) -> None:
    host.set(clock_offset=900)
    check = probe(host, host.task_env(home)).check("endpoint.clock-skew")
    assert check["status"] == "fail" and "15 min" in check["title"]


def test_unsafe_relative_uri_is_never_requested(host: NetnsHost, home: str) -> None:
    # Appended to http://169.254.170.2 this becomes a URL whose host is 127.0.0.1:18080,
    # where the emulated agent also listens and counts requests.
    unsafe = f"@127.0.0.1:18080/v2/credentials/{host.state['credentials_id']}"
    env = host.task_env(home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=unsafe)
    run = probe(host, env)
    safe = run.check("env.credentials-uri-safe")
    assert safe["status"] == "fail" and "another host" in safe["detail"]
    assert run.status("endpoint.credentials") == "skip"
    assert host.set()["requests"].get("credentials", 0) == 0


def test_sts_unreachable(host: NetnsHost, home: str) -> None:
    run = probe(host, host.task_env(home, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"))
    assert run.check("identity.caller")["title"] == "STS GetCallerIdentity failed"
    assert run.status("endpoint.credentials") == "pass"


def test_full_uri_with_token_file_pod_identity_address(host: NetnsHost, home: str) -> None:
    token = secrets.token_urlsafe(48)
    host.set(auth_token=token)
    path = os.path.join(home, "eks-pod-identity-token")
    with open(path, "w") as fh:
        fh.write(token)
    env = host.task_env(home)
    rel = env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.23" + rel
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path
    run = probe(host, env, more_secrets=(token,))
    assert run.status("endpoint.credentials") == "pass"
    assert run.report["identity"]["kind"] == "task-role"
    # Without the token file the agent refuses.
    del env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
    run = probe(host, env, more_secrets=(token,))
    assert "HTTP 401" in run.check("endpoint.credentials")["title"]


def test_saved_facts_have_no_secrets(host: NetnsHost, home: str, tmp_path) -> None:
    facts = str(tmp_path / "facts.json")
    run = probe(host, host.task_env(home), "--save-facts", facts, saved=(facts,))
    assert "169.254.170.2" in run.files[facts]
    assert host.state["credentials_id"] not in run.files[facts]


def test_role_chained_from_the_task_role(host: NetnsHost, home: str) -> None:
    """A profile with credential_source = EcsContainer assumes another role with the task role:
    the documented way to chain from it (issue 18): not shadowing, and the verdict passes;
    --expect-role still decides when given."""
    config = os.path.join(home, "config")
    with open(config, "w") as fh:
        fh.write("[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app-data-role\ncredential_source = EcsContainer\nrole_session_name = app-session\n")
    env = host.task_env(home, AWS_CONFIG_FILE=config, AWS_PROFILE="app")
    run = probe(host, env)
    assert run.status("env.shadowing-credentials") == "pass"
    ident = run.report["identity"]
    assert ident["provider"] == "assume-role" and ident["arn"] == "arn:aws:sts::123456789012:assumed-role/app-data-role/app-session"
    assert ident["kind"] == "other-role"
    tr = run.check("identity.task-role")
    assert tr["status"] == "pass" and tr["title"] == "The application assumes app-data-role with the task role", tr
    assert probe(host, env, "--expect-role", "app-data-role").status("identity.task-role") == "pass"
    assert probe(host, env, "--expect-role", "another-role").status("identity.task-role") == "fail"


def test_imds_disabled_is_asked_only_for_an_sdk_that_ignores_the_variable(host: NetnsHost, home: str) -> None:
    """AWS_EC2_METADATA_DISABLED=true keeps the probe off IMDS (issue 21), unless an SDK in the
    image never reads the variable (botocore 1.4.36): then IMDS's answer is what that SDK gets."""
    env = host.task_env(home, AWS_EC2_METADATA_DISABLED="true")
    host.set(reset_counters=True)
    run = probe(host, env)
    assert host.set()["requests"].get("imds", 0) == 0
    assert run.status("imds.instance-role") == "skip"
    meta = os.path.join(home, "site-packages", "botocore-1.4.36.dist-info")
    os.makedirs(meta)
    with open(os.path.join(meta, "METADATA"), "w") as fh:
        fh.write("Name: botocore\nVersion: 1.4.36\n")
    host.set(reset_counters=True)
    run = probe(host, env)
    assert host.set()["requests"].get("imds", 0) > 0
    entry = next(s for s in run.report["sdks"] if s["sdk"] == "botocore")
    assert entry["gets"] == "instance-role", entry
