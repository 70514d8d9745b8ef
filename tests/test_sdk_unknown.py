"""Issue 21: an SDK the model cannot name is found, and said to be unknown.

AsyncAws (async-aws/core) as composer installs it and as Debian's php-async-aws-core lays it
out (no composer metadata: the version comes from dpkg's status file), and any other source
file that fetches container credentials (it names AWS_CONTAINER_CREDENTIALS_*), except the
known SDKs' own files. The layouts are the packages' own: Debian's file list of
php-async-aws-core 1.18.1 (usr/share/php/AsyncAws/Core/Credentials/ContainerProvider.php)
and composer's installed.json v2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe.facts.sdk import scan


def found(root: Path) -> list[tuple[str, object, str]]:
    return sorted((e["sdk"], e["version"], str(Path(e["path"]).relative_to(root))) for e in scan([str(root)])["found"])


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_asyncaws_from_debian_with_its_dpkg_version(tmp_path: Path) -> None:
    write(tmp_path, "usr/share/php/AsyncAws/Core/Credentials/ContainerProvider.php",
          "<?php final class ContainerProvider { private const ENDPOINT = 'http://169.254.170.2'; }\n")
    write(tmp_path, "var/lib/dpkg/status",
          "Package: php-async-aws-core\nStatus: install ok installed\nVersion: 1.18.1-1\n\nPackage: other\nVersion: 9\n")
    assert found(tmp_path) == [("php-asyncaws", "1.18.1", "usr/share/php/AsyncAws/Core/Credentials/ContainerProvider.php")]


def test_asyncaws_without_dpkg_is_found_without_a_version(tmp_path: Path) -> None:
    write(tmp_path, "usr/share/php/AsyncAws/Core/Credentials/ContainerProvider.php", "<?php\n")
    assert found(tmp_path) == [("php-asyncaws", None, "usr/share/php/AsyncAws/Core/Credentials/ContainerProvider.php")]


def test_asyncaws_from_composer(tmp_path: Path) -> None:
    doc = {"packages": [{"name": "async-aws/core", "version": "1.23.0"}, {"name": "aws/aws-sdk-php", "version": "3.300.0"}]}
    write(tmp_path, "app/vendor/composer/installed.json", json.dumps(doc))
    assert found(tmp_path) == [
        ("php", "3.300.0", "app/vendor/composer/installed.json"),
        ("php-asyncaws", "1.23.0", "app/vendor/composer/installed.json"),
    ]


def test_an_unknown_container_credentials_provider_is_found(tmp_path: Path) -> None:
    write(tmp_path, "srv/app/lib/ecs_credentials.py", "URI = os.environ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']\n")
    write(tmp_path, "srv/app/lib/RemoteCredentialProvider.rb", "ENV['AWS_CONTAINER_CREDENTIALS_FULL_URI']\n")
    # Named like one, but no ECS variable in it: not a provider.
    write(tmp_path, "srv/app/lib/container_provider.js", "module.exports = () => 42;\n")
    # A known SDK's own file: covered by that SDK's line, not an unknown one.
    write(tmp_path, "srv/app/node_modules/aws-sdk/lib/credentials/ecs_credentials.js", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\n")
    write(tmp_path, "srv/app/node_modules/aws-sdk/package.json", '{"name": "aws-sdk", "version": "2.1693.0"}')
    assert found(tmp_path) == [
        ("js-v2", "2.1693.0", "srv/app/node_modules/aws-sdk/package.json"),
        ("unknown-container-provider", None, "srv/app/lib/RemoteCredentialProvider.rb"),
        ("unknown-container-provider", None, "srv/app/lib/ecs_credentials.py"),
    ]


@pytest.mark.parametrize(
    "sdk, version, source, verdict",
    [
        # aws-vault's --ecs-server: FULL_URI on loopback, the token in the variable (measured).
        pytest.param("botocore", "1.31.85", "full", "pass", id="botocore-1.31-token-variable"),
        pytest.param("botocore", "1.10.25", "full", "pass", id="botocore-1.10-token-variable"),
        pytest.param("botocore", "1.31.85", "full-token-file", "fail", id="botocore-1.31-token-file"),
        pytest.param("js-v2", "2.62.0", "full", "fail", id="aws-sdk-2.62-ignores-full-uri"),
        pytest.param("js-v2", "2.63.0", "full", "pass", id="aws-sdk-2.63-reads-full-uri"),
        pytest.param("js-v3-credential-provider-node", "3.186.0", "full", "pass", id="v3-3.186-token-variable"),
        pytest.param("js-v3-credential-provider-node", "3.186.0", "full-token-file", "fail", id="v3-3.186-no-token-file"),
    ],
)
def test_versions_by_token_variable_or_file(sdk: str, version: str, source: str, verdict: str) -> None:
    from probe.checks.sdk import verdict_for

    assert verdict_for({"sdk": sdk, "version": version, "path": "/srv/app"}, source)[0] == verdict
