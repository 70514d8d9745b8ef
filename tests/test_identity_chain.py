"""The identity collector (probe/facts/identity.py): botocore's chain walked as data, the
credentials obtained by the probe itself, confirmed by moto's real STS (on loopback).

Each case writes real files, reads them with the run's own readers, and checks what STS
said: static keys, a source_profile chain (sts:AssumeRole), credential_source =
EcsContainer with the container answer, web identity with a token read through the RootFS,
and what is never done: a credential_process run, an MFA prompt, a CA bundle FIFO opened.
Also in CI's lowest-versions pass: the botocore internals it uses must exist in the floor.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import boto3
import pytest
from moto.server import ThreadedMotoServer

from probe.facts import awsconfig, identity
from probe.facts.endpoints import Observed
from probe.facts.environ import collect_environ
from probe.facts.rootfs import RootFS

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sts:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)

    def __enter__(self) -> "Sts":
        self.server.start()
        kw: dict[str, Any] = dict(endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        iam = boto3.client("iam", **kw)
        sts = boto3.client("sts", **kw)
        self.roles = {}
        for name in ("ecsTaskRole", "chainedRole", "webIdentityRole"):
            self.roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.create_user(UserName="deployer")
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        self.user_keys = (key["AccessKeyId"], key["SecretAccessKey"])
        task = sts.assume_role(RoleArn=self.roles["ecsTaskRole"], RoleSessionName="0123456789abcdef0123456789abcdef")["Credentials"]
        self.task_payload = {
            "RoleArn": self.roles["ecsTaskRole"], "AccessKeyId": task["AccessKeyId"], "SecretAccessKey": task["SecretAccessKey"],
            "Token": task["SessionToken"], "Expiration": "2099-01-01T00:00:00Z",
        }
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def sts() -> Iterator[Sts]:
    with Sts() as s:
        yield s


def collect(home: Path, env: dict[str, str], sts: Sts, container: bool = True, files: Optional[dict[str, str]] = None) -> dict[str, Any]:
    for rel, text in (files or {}).items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    environ = {"HOME": str(home), "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": sts.url, **env}
    if container:
        environ.setdefault("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
    fs = RootFS()
    config = awsconfig.load(environ, fs, str(home))
    record = collect_environ(environ, home=str(home), fs=fs, config=config)
    if container:
        obs = Observed({"requested": True, "status": 200, "role_arn": sts.roles["ecsTaskRole"]}, sts.task_payload)
    else:
        obs = Observed({"requested": False, "not_requested": "no credentials variable is set"})
    started = time.monotonic()
    out = identity.collect_identity(environ, record, config[1], fs, lambda: obs, lambda: None, time.monotonic() + 5)
    out["_seconds"] = time.monotonic() - started
    return out


def assumed(arn: Optional[str], role: str) -> bool:
    return bool(arn) and f":assumed-role/{role}/" in str(arn)


def test_the_container_credentials(tmp_path: Path, sts: Sts) -> None:
    rec = collect(tmp_path, {}, sts)
    assert rec["provider"] == "container-role" and assumed(rec["arn"], "ecsTaskRole"), rec
    assert rec["tried"][-1] == "container-role" and "confirmed" not in rec


def test_static_keys_in_the_environment(tmp_path: Path, sts: Sts) -> None:
    key, secret = sts.user_keys
    rec = collect(tmp_path, {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}, sts)
    assert rec["provider"] == "env" and rec["arn"].endswith(":user/deployer"), rec
    # The task role is confirmed too: SDKs that reach the container provider get it.
    assert assumed(rec["confirmed"]["container"]["arn"], "ecsTaskRole"), rec


def test_a_source_profile_chain_is_assumed_by_the_probe(tmp_path: Path, sts: Sts) -> None:
    key, secret = sts.user_keys
    rec = collect(tmp_path, {"AWS_PROFILE": "app"}, sts, files={
        ".aws/config": f"[profile app]\nrole_arn = {sts.roles['chainedRole']}\nsource_profile = base\nrole_session_name = mine\n",
        ".aws/credentials": f"[base]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n",
    })
    assert rec["provider"] == "assume-role" and rec["arn"].endswith(":assumed-role/chainedRole/mine"), rec
    assert rec["assumed"] == [sts.roles["chainedRole"]] and not rec.get("from_task_role")


def test_credential_source_ecs_container_chains_from_the_task_role(tmp_path: Path, sts: Sts) -> None:
    rec = collect(tmp_path, {}, sts, files={".aws/config": f"[default]\nrole_arn = {sts.roles['chainedRole']}\ncredential_source = EcsContainer\n"})
    assert rec["provider"] == "assume-role" and assumed(rec["arn"], "chainedRole"), rec
    assert rec["from_task_role"] is True


def test_credential_source_without_the_container_is_botocores_error(tmp_path: Path, sts: Sts) -> None:
    rec = collect(tmp_path, {}, sts, container=False, files={".aws/config": f"[default]\nrole_arn = {sts.roles['chainedRole']}\ncredential_source = EcsContainer\n"})
    assert rec.get("chain_error_provider") == "container-role" and "arn" not in rec, rec


def test_web_identity_with_a_token_read_by_the_probe(tmp_path: Path, sts: Sts) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    rec = collect(tmp_path, {"AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": sts.roles["webIdentityRole"], "AWS_ROLE_SESSION_NAME": "app"}, sts)
    assert rec["provider"] == "assume-role-with-web-identity" and rec["arn"].endswith(":assumed-role/webIdentityRole/app"), rec


@pytest.mark.parametrize("kind", ["missing", "fifo", "dev-zero"])
def test_a_web_identity_token_the_probe_will_not_read(tmp_path: Path, sts: Sts, kind: str) -> None:
    path = {"missing": str(tmp_path / "nope"), "fifo": str(tmp_path / "fifo"), "dev-zero": "/dev/zero"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    rec = collect(tmp_path, {"AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": sts.roles["webIdentityRole"]}, sts)
    assert rec.get("chain_error_provider") == "assume-role-with-web-identity", rec
    assert rec["_seconds"] < 3


def test_credential_process_is_never_run(tmp_path: Path, sts: Sts) -> None:
    marker = tmp_path / "ran"
    program = tmp_path / "get-creds"
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(0o755)
    rec = collect(tmp_path, {}, sts, files={".aws/config": f"[default]\ncredential_process = {program} --secret-arg\n"})
    assert not marker.exists()
    assert rec["provider"] == "custom-process" and rec["not_run"] == f"botocore would run {program} (credential_process)", rec
    assert "arn" not in rec and assumed(rec["confirmed"]["container"]["arn"], "ecsTaskRole")


def test_an_mfa_profile_is_not_prompted(tmp_path: Path, sts: Sts) -> None:
    key, secret = sts.user_keys
    rec = collect(tmp_path, {"AWS_PROFILE": "app"}, sts, files={
        ".aws/config": f"[profile app]\nrole_arn = {sts.roles['chainedRole']}\nsource_profile = base\nmfa_serial = arn:aws:iam::123456789012:mfa/x\n",
        ".aws/credentials": f"[base]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n",
    })
    assert rec.get("chain_error_provider") == "assume-role" and "MFA" in rec["chain_error"], rec


def test_a_missing_profile_is_botocores_error_and_the_container_still_confirmed(tmp_path: Path, sts: Sts) -> None:
    rec = collect(tmp_path, {"AWS_PROFILE": "nope"}, sts)
    assert rec["chain_error_provider"] == "session" and rec["chain_error"].startswith("ProfileNotFound"), rec
    assert assumed(rec["confirmed"]["container"]["arn"], "ecsTaskRole")


def test_a_ca_bundle_fifo_is_refused_at_once(tmp_path: Path, sts: Sts) -> None:
    fifo = tmp_path / "ca"
    os.mkfifo(fifo)
    rec = collect(tmp_path, {}, sts, files={".aws/config": f"[default]\nca_bundle = {fifo}\n"})
    assert "a FIFO" in str(rec.get("chain_error") or rec.get("sts_error")), rec
    assert rec["_seconds"] < 3


def test_the_probes_own_aws_profile_never_reaches_its_sts_clients(tmp_path: Path, sts: Sts, monkeypatch: pytest.MonkeyPatch) -> None:
    """The STS clients read no config file and no profile of the probe's own process."""
    monkeypatch.setenv("AWS_PROFILE", "the-probes-own-missing-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "probe-config"))
    (tmp_path / "probe-config").write_text("[default]\nregion = nowhere-1\n[default]\n")
    rec = collect(tmp_path / "app", {}, sts)
    assert assumed(rec.get("arn"), "ecsTaskRole"), rec
