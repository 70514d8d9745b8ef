"""The credential chain as data (probe/chain.py): which source each SDK's row picks from the
variables and the shared files, table-driven. The files are real (read by the probe's own
reader, probe/facts/awsconfig.py); what the real SDKs do in the same situations is proven by
tests/test_sdk_matrix.py, which runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from probe import chain, sdkmodel
from probe.facts.environ import collect_environ

ROLE = "arn:aws:iam::123456789012:role/chained"
KEYS = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
BASE_ENV = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x", "AWS_REGION": "us-east-1"}


def row(family: str, version: str) -> sdkmodel.SdkBehaviour:
    found, why = sdkmodel.row_for(family, version)
    assert found is not None, why
    return found


BOTOCORE = ("botocore", "1.44.18")
BOTOCORE_OLD = ("botocore", "1.4.37")
BOTOCORE_110 = ("botocore", "1.10.25")
JS_V2 = ("js-v2", "2.1693.0")
JS_V3 = ("js-v3-credential-provider-node", "3.972.99")
GO_V1 = ("go-v1", "1.44.133")
GO_V2 = ("go-v2-config", "1.27.0")
RUBY = ("ruby", "3.168.1")
JAVA_V1 = ("java-v1", "1.12.700")
CPP = ("cpp", "1.11.300")
DOTNET_4 = ("dotnet", "4.0.0.1")
DOTNET_3 = ("dotnet", "3.7.400.0")


def walk(home: Path, sdk: tuple[str, str], env: Optional[dict[str, str]] = None, **files: str) -> tuple[Optional[chain.Pick], list[str]]:
    for rel, text in files.items():
        path = home / rel.replace("__", "/").replace("aws_", ".aws/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    environ = dict(BASE_ENV, HOME=str(home), **(env or {}))
    record = collect_environ(environ, home=str(home))
    family, version = sdk
    return chain.walk(row(family, version), version, chain.Inputs(record))


def outcome(pick: Optional[chain.Pick]) -> str:
    """container (the chain reaches the container provider), or source:gets / source:error."""
    if pick is None:
        return "container"
    if pick.error:
        return f"{pick.source}:error"
    return f"{pick.source}:{pick.gets}"


CHAIN_ECS = {"aws_config": f"[default]\nrole_arn = {ROLE}\ncredential_source = EcsContainer\n"}
SOURCE_PROFILE = {"aws_config": f"[profile app]\nrole_arn = {ROLE}\nsource_profile = base\n", "aws_credentials": "[base]\n" + KEYS}

CASES = [
    # AWS_PROFILE naming a profile no file has
    pytest.param(BOTOCORE, {"AWS_PROFILE": "nope"}, {}, "config:error", id="missing-profile-botocore"),
    pytest.param(JS_V2, {"AWS_PROFILE": "nope"}, {}, "container", id="missing-profile-js-v2"),
    pytest.param(JS_V3, {"AWS_PROFILE": "nope"}, {}, "container", id="missing-profile-js-v3"),
    pytest.param(GO_V1, {"AWS_PROFILE": "nope"}, {}, "container", id="missing-profile-go-v1"),
    pytest.param(GO_V2, {"AWS_PROFILE": "nope"}, {}, "config:error", id="missing-profile-go-v2"),
    pytest.param(RUBY, {"AWS_PROFILE": "nope"}, {}, "container", id="missing-profile-ruby"),
    pytest.param(DOTNET_4, {"AWS_PROFILE": "nope"}, {}, "config:error", id="missing-profile-dotnet-4"),
    pytest.param(DOTNET_3, {"AWS_PROFILE": "nope"}, {}, "container", id="missing-profile-dotnet-3"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "base"}, {"aws_credentials": "[base]\n" + KEYS}, "shared-credentials-file:user", id="profile-in-credentials-file-exists"),
    # botocore reads AWS_DEFAULT_PROFILE first; the JavaScript SDKs only AWS_PROFILE
    pytest.param(BOTOCORE, {"AWS_DEFAULT_PROFILE": "nope", "AWS_PROFILE": "base"}, {"aws_credentials": "[base]\n" + KEYS}, "config:error", id="default-profile-first-botocore"),
    pytest.param(JS_V3, {"AWS_DEFAULT_PROFILE": "nope", "AWS_PROFILE": "base"}, {"aws_credentials": "[base]\n" + KEYS}, "shared-credentials-file:user", id="aws-profile-only-js-v3"),
    # role_arn with credential_source = EcsContainer
    pytest.param(BOTOCORE, {}, CHAIN_ECS, "assume-role:other-role", id="chain-ecs-botocore"),
    pytest.param(BOTOCORE_OLD, {}, CHAIN_ECS, "assume-role:error", id="chain-ecs-botocore-1.4"),
    pytest.param(JS_V2, {}, CHAIN_ECS, "container", id="chain-ecs-js-v2-ignores"),
    pytest.param(JS_V2, {"AWS_SDK_LOAD_CONFIG": "1"}, CHAIN_ECS, "container", id="chain-ecs-js-v2-load-config-ignores"),
    pytest.param(JS_V3, {}, CHAIN_ECS, "assume-role:other-role", id="chain-ecs-js-v3"),
    pytest.param(GO_V1, {}, CHAIN_ECS, "container", id="chain-ecs-go-v1-needs-load-config"),
    pytest.param(GO_V1, {"AWS_SDK_LOAD_CONFIG": "1"}, CHAIN_ECS, "assume-role:other-role", id="chain-ecs-go-v1-load-config"),
    pytest.param(RUBY, {}, CHAIN_ECS, "assume-role:other-role", id="chain-ecs-ruby"),
    pytest.param(RUBY, {}, {"aws_config": f"[default]\nrole_arn = {ROLE}\ncredential_source = Environment\n"}, "assume-role:error", id="credential-source-environment-ruby-refuses"),
    pytest.param(BOTOCORE, {}, {"aws_config": f"[default]\nrole_arn = {ROLE}\ncredential_source = Bogus\n"}, "assume-role:error", id="credential-source-unknown-botocore"),
    pytest.param(JS_V3, {}, {"aws_config": f"[default]\nrole_arn = {ROLE}\ncredential_source = Bogus\n"}, "container", id="credential-source-unknown-js-v3-passes-over"),
    pytest.param(BOTOCORE, {}, {"aws_config": f"[default]\nrole_arn = {ROLE}\ncredential_source = EcsContainer\nsource_profile = x\n"}, "assume-role:error", id="both-sources-botocore"),
    pytest.param(CPP, {}, CHAIN_ECS, "container", id="chain-ecs-cpp-has-no-roles"),
    # source_profile chains
    pytest.param(BOTOCORE, {"AWS_PROFILE": "app"}, SOURCE_PROFILE, "assume-role:other-role", id="source-profile-botocore"),
    pytest.param(JS_V2, {"AWS_PROFILE": "app"}, SOURCE_PROFILE, "container", id="source-profile-js-v2-without-load-config"),
    pytest.param(JS_V2, {"AWS_PROFILE": "app", "AWS_SDK_LOAD_CONFIG": "1"}, SOURCE_PROFILE, "assume-role:other-role", id="source-profile-js-v2-load-config"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "a"}, {"aws_config": f"[profile a]\nrole_arn = {ROLE}\nsource_profile = b\n[profile b]\nrole_arn = {ROLE}\nsource_profile = a\n"}, "assume-role:error", id="source-profile-loop"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "a"}, {"aws_config": f"[profile a]\nrole_arn = {ROLE}\nsource_profile = a\n" + KEYS}, "assume-role:other-role", id="source-profile-self-with-keys"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "a"}, {"aws_config": f"[profile a]\nrole_arn = {ROLE}\nsource_profile = gone\n"}, "assume-role:error", id="source-profile-missing"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "a"}, {"aws_config": f"[profile a]\nrole_arn = {ROLE}\nsource_profile = b\n[profile b]\nregion = us-east-1\n"}, "assume-role:error", id="source-profile-without-credentials"),
    pytest.param(BOTOCORE, {"AWS_PROFILE": "a"}, {"aws_config": f"[profile a]\nrole_arn = {ROLE}\n"}, "assume-role:error", id="role-without-source-botocore"),
    # web identity left over from EKS
    pytest.param(BOTOCORE, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE}, {}, "web-identity:other-role", id="web-identity-botocore"),
    pytest.param(BOTOCORE_110, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE}, {}, "container", id="web-identity-botocore-1.10-predates"),
    pytest.param(JS_V2, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE}, {}, "container", id="web-identity-js-v2-after-container"),
    pytest.param(JS_V3, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE}, {}, "web-identity:other-role", id="web-identity-js-v3"),
    pytest.param(BOTOCORE, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, {}, "web-identity:error", id="web-identity-without-role-botocore"),
    pytest.param(RUBY, {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, {}, "container", id="web-identity-without-role-ruby"),
    # credential_process and SSO: never run, never read
    pytest.param(BOTOCORE, {}, {"aws_config": "[default]\ncredential_process = /usr/local/bin/get-creds --x\n"}, "process:unknown", id="process-botocore"),
    pytest.param(BOTOCORE_OLD, {}, {"aws_config": "[default]\ncredential_process = /usr/local/bin/get-creds\n"}, "container", id="process-botocore-1.4-predates"),
    pytest.param(JS_V2, {}, {"aws_config": "[default]\ncredential_process = /x"}, "container", id="process-js-v2-after-container"),
    pytest.param(BOTOCORE, {}, {"aws_credentials": "[default]\ncredential_process = /x\n"}, "process:unknown", id="process-in-credentials-file-botocore"),
    pytest.param(BOTOCORE, {}, {"aws_config": "[default]\nsso_start_url = https://x.awsapps.com/start\nsso_account_id = 1\nsso_role_name = r\n"}, "sso:unknown", id="sso-botocore"),
    # static keys, whole and partial
    pytest.param(BOTOCORE, {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}, {}, "env:error", id="partial-env-keys-botocore"),
    pytest.param(JS_V3, {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}, {}, "container", id="partial-env-keys-js-v3"),
    pytest.param(BOTOCORE, {}, {"aws_credentials": "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"}, "shared-credentials-file:error", id="partial-file-keys-botocore"),
    pytest.param(JS_V3, {"AWS_PROFILE": "base", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x" * 40}, {"aws_credentials": "[base]\n" + KEYS}, "shared-credentials-file:user", id="js-v3-profile-skips-env-keys"),
    pytest.param(JAVA_V1, {}, {"aws_config": "[default]\n" + KEYS}, "container", id="java-v1-never-reads-config"),
    pytest.param(BOTOCORE, {}, {"aws_config": "[default]\n" + KEYS}, "config-file:user", id="keys-in-config-botocore"),
    pytest.param(JS_V3, {}, {"aws_config": "[default]\n" + KEYS}, "shared-credentials-file:user", id="keys-in-config-js-v3"),
    # files botocore's configparser refuses
    pytest.param(BOTOCORE, {}, {"aws_config": "[default]\nregion = a\n[default]\nregion = b\n"}, "config:error", id="duplicate-section-botocore"),
    pytest.param(JS_V3, {}, {"aws_config": "[default]\nregion = a\n[default]\nregion = b\n"}, "container", id="duplicate-section-js-v3"),
]


@pytest.mark.parametrize("sdk, env, files, expect", CASES)
def test_chain_picks(tmp_path: Path, sdk: tuple[str, str], env: dict[str, str], files: dict[str, str], expect: str) -> None:
    pick, _tried = walk(tmp_path, sdk, env, **files)
    assert outcome(pick) == expect, (pick.why if pick else "reached the container provider", pick.error if pick else None)


def test_js_v2_ignores_the_credentials_file_variable_without_load_config(tmp_path: Path) -> None:
    """aws-sdk v2 reads AWS_SHARED_CREDENTIALS_FILE only with AWS_SDK_LOAD_CONFIG (util.js):
    without it, the file at the default path decides."""
    other = tmp_path / "elsewhere"
    other.write_text("[default]\n" + KEYS)
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(other)}
    assert outcome(walk(tmp_path, JS_V2, env)[0]) == "container"
    assert outcome(walk(tmp_path, JS_V2, dict(env, AWS_SDK_LOAD_CONFIG="1"))[0]) == "shared-credentials-file:user"
    assert outcome(walk(tmp_path, BOTOCORE, env)[0]) == "shared-credentials-file:user"


def test_a_chained_role_knows_it_starts_from_the_task_role(tmp_path: Path) -> None:
    pick, tried = walk(tmp_path, BOTOCORE, {"AWS_PROFILE": "outer"}, aws_config=(
        f"[profile outer]\nrole_arn = {ROLE}-2\nsource_profile = inner\n"
        f"[profile inner]\nrole_arn = {ROLE}\ncredential_source = EcsContainer\n"
    ))
    assert pick is not None and pick.source == "assume-role" and pick.role_arn == f"{ROLE}-2"
    assert pick.base is not None and pick.base.role_arn == ROLE
    assert pick.from_task_role and pick.root.source == "container"
    assert tried == ["env", "assume-role"]


def test_credential_process_is_only_its_program(tmp_path: Path) -> None:
    """Arguments may carry secrets: the record keeps the program and how many follow."""
    pick, _ = walk(tmp_path, BOTOCORE, aws_config="[default]\ncredential_process = /opt/get-creds --token s3cr3t-value\n")
    assert pick is not None and pick.command == "/opt/get-creds"
    record = collect_environ(dict(BASE_ENV, HOME=str(tmp_path)), home=str(tmp_path))
    assert "s3cr3t-value" not in repr(record)


@pytest.mark.parametrize(
    "env, expect",
    [
        pytest.param({"AWS_METADATA_SERVICE_TIMEOUT": "abc"}, "config:error", id="timeout-not-an-integer"),
        pytest.param({"AWS_METADATA_SERVICE_TIMEOUT": " 2 "}, "container", id="timeout-with-spaces-is-an-integer"),
        pytest.param({"AWS_RETRY_MODE": "Standard"}, "config:error", id="retry-mode-is-case-sensitive"),
        pytest.param({"AWS_DEFAULTS_MODE": "Standard"}, "container", id="defaults-mode-is-not"),
        pytest.param({"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "ipv5"}, "config:error", id="imds-endpoint-mode"),
    ],
)
def test_settings_botocore_refuses_before_any_credentials(tmp_path: Path, env: dict[str, str], expect: str) -> None:
    """Measured with botocore 1.44.18 in the sandbox: these raise at create_credential_resolver
    or create_client, before any provider runs; other SDKs do not read them."""
    assert outcome(walk(tmp_path, BOTOCORE, env)[0]) == expect
    assert outcome(walk(tmp_path, JS_V3, env)[0]) == "container"
