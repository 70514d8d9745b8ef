"""The per-SDK prediction (probe/predict.py over probe/sdkmodel.py) and the checks that
read it: sdk.identity, sdk.versions' in-use rule, and the per-SDK proxy verdicts.

Table-driven over facts shaped exactly as the collectors record them (the environment
and proxy records come from the real collectors). What the real SDKs do in the same
situations is proven separately by tests/test_sdk_matrix.py, which runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from probe import predict, sdkmodel
from probe.checks import REGISTRY, load
from probe.model import Status
from test_checks import (
    ACCESS_KEY_ID,
    ECS_ENV,
    NO_VARIABLE_ENV,
    PROXY,
    SECRET_KEY,
    TASK_ROLE_ARN,
    cred_unreachable,
    env_with,
    identity_chain_error,
    identity_record,
    imds_reachable,
    make_facts,
)

load("task")

APP = "/srv/web"
PY_SITE = "/usr/local/lib/python3.11/site-packages"
FULL_URI = "http://169.254.170.23/v1/credentials"


def found(sdk: str, version: Optional[str], path: str, **extra: Any) -> dict[str, Any]:
    return {"sdk": sdk, "version": version, "raw_version": version, "path": path, "via": "test", **extra}


JS_V2 = found("js-v2", "2.1693.0", f"{APP}/node_modules/aws-sdk/package.json")
JS_V2_OLD = found("js-v2", "2.4.6", f"{APP}/node_modules/aws-sdk/package.json")
JS_V3 = found("js-v3-credential-provider-node", "3.972.99", f"{APP}/node_modules/@aws-sdk/credential-provider-node/package.json")
GO_V1 = found("go-v1", "1.44.133", "/usr/local/bin/app")
GO_V1_NEW = found("go-v1", "1.55.5", "/usr/local/bin/app")
RUBY = found("ruby", "3.168.1", "/usr/lib/ruby/vendor_ruby/specifications/aws-sdk-core-3.168.1.gemspec")
BOTOCORE = found("botocore", "1.44.8", f"{PY_SITE}/botocore-1.44.8.dist-info")
BOTOCORE_131 = found("botocore", "1.31.85", f"{PY_SITE}/botocore-1.31.85.dist-info")
BOTOCORE_OLD = found("botocore", "1.4.36", f"{PY_SITE}/botocore-1.4.36.dist-info")
JAVA_V2 = found("java-v2", "2.25.0", "/app/app.jar!/BOOT-INF/lib/auth-2.25.0.jar")
RUST = found("rust", "1.5.4", "/usr/local/bin/rust-app")
RUST_NEW = found("rust", "1.8.6", "/usr/local/bin/rust-app")
GSUTIL_BOTO = found("boto", "2.49.0", "/usr/lib/google-cloud-sdk/platform/gsutil/third_party/boto/boto/__init__.py")


def sdk_record(*entries: dict[str, Any], named: bool = True) -> dict[str, Any]:
    return {"roots": ["/"], "found": list(entries), "files": 1000, "dirs": 100, "unreadable": 0, "partial": None, "named_roots": named}


def imds_v1(allowed: bool, ttl_header: bool = True) -> dict[str, Any]:
    rec = imds_reachable()
    rec.update(v1_allowed=allowed, token_ttl_header=ttl_header)
    return rec


def token_file(tmp: Path, text: str) -> str:
    path = tmp / "token"
    path.write_text(text)
    return str(path)


def gets(tmp: Path, entry: dict[str, Any], env: dict[str, str] = ECS_ENV, **records: Any) -> dict[str, Any]:
    facts = make_facts(tmp, env, {"sdk": sdk_record(entry), **records})
    out = predict.predict_all(facts)
    assert len(out) == 1, out
    return out[0]


# ---------------------------------------------------------------------------------------
# gets / source / via_proxy, per SDK and situation (the matrix's situations, from facts)
# ---------------------------------------------------------------------------------------

AGENT_DOWN = {"credentials": cred_unreachable(), "imds": imds_v1(True), "identity": identity_chain_error("container-role", "CredentialRetrievalError")}
NO_VAR = {"credentials": {"requested": False, "not_requested": "no credentials variable is set"}, "imds": imds_v1(True), "identity": identity_record("arn:aws:sts::123456789012:assumed-role/ecsInstanceRole/i-0abc1234def567890", "iam-role")}

CASES = [
    # healthy
    pytest.param(JS_V2, ECS_ENV, {}, "task-role", "container", False, id="healthy-js-v2"),
    pytest.param(JS_V3, ECS_ENV, {}, "task-role", "container", False, id="healthy-js-v3"),
    pytest.param(GO_V1, ECS_ENV, {}, "task-role", "container", False, id="healthy-go-v1"),
    pytest.param(RUBY, ECS_ENV, {}, "task-role", "container", False, id="healthy-ruby"),
    pytest.param(BOTOCORE, ECS_ENV, {}, "task-role", "container", False, id="healthy-botocore"),
    # too old for the container provider: IMDSv1, or nothing where IMDSv2 is required
    pytest.param(JS_V2_OLD, ECS_ENV, {"imds": imds_v1(True)}, "instance-role", "imds", False, id="js-v2-2.4.6-imdsv1"),
    pytest.param(JS_V2_OLD, ECS_ENV, {"imds": imds_v1(False)}, "none", "imds", False, id="js-v2-2.4.6-imdsv2-required"),
    pytest.param(BOTOCORE_OLD, ECS_ENV, {"imds": imds_v1(True)}, "instance-role", "imds", False, id="botocore-1.4.36-imdsv1"),
    pytest.param(BOTOCORE_OLD, ECS_ENV, {"imds": imds_v1(False)}, "none", "imds", False, id="botocore-1.4.36-imdsv2-required"),
    # the variable missing in this process
    pytest.param(JS_V3, NO_VARIABLE_ENV, NO_VAR, "instance-role", "imds", False, id="no-variable-js-v3"),
    pytest.param(GO_V1, NO_VARIABLE_ENV, NO_VAR, "instance-role", "imds", False, id="no-variable-go-v1"),
    pytest.param(BOTOCORE, NO_VARIABLE_ENV, {**NO_VAR, "imds": imds_v1(False)}, "instance-role", "imds", False, id="no-variable-botocore-imdsv2"),
    pytest.param(GO_V1, NO_VARIABLE_ENV, {**NO_VAR, "imds": imds_v1(False, ttl_header=False)}, "none", "imds", False, id="go-v1-no-ttl-header-imdsv2-required"),
    # the agent down: JS v2 and Java v2 fall back to the instance role, the rest end in an error
    pytest.param(JS_V2, ECS_ENV, AGENT_DOWN, "instance-role", "imds", False, id="agent-down-js-v2"),
    pytest.param(JAVA_V2, ECS_ENV, AGENT_DOWN, "instance-role", "imds", False, id="agent-down-java-v2"),
    pytest.param(JS_V3, ECS_ENV, AGENT_DOWN, "none", "container", False, id="agent-down-js-v3"),
    pytest.param(GO_V1, ECS_ENV, AGENT_DOWN, "none", "container", False, id="agent-down-go-v1"),
    pytest.param(RUBY, ECS_ENV, AGENT_DOWN, "none", "container", False, id="agent-down-ruby"),
    pytest.param(BOTOCORE, ECS_ENV, AGENT_DOWN, "none", "container", False, id="agent-down-botocore"),
    # proxies, each SDK with its own reading
    pytest.param(GO_V1, env_with(HTTP_PROXY=PROXY), {}, "none", "container", True, id="proxy-upper-go-v1"),
    pytest.param(GO_V1, env_with(http_proxy=PROXY), {}, "none", "container", True, id="proxy-lower-go-v1"),
    pytest.param(GO_V1, env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16"), {}, "task-role", "container", False, id="proxy-cidr-go-v1"),
    pytest.param(GO_V1, env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.170.2:80"), {}, "task-role", "container", False, id="proxy-port-entry-go-v1"),
    pytest.param(GO_V1, env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.169.254,169.254.170.2"), {}, "task-role", "container", False, id="proxy-list-go-v1"),
    pytest.param(GO_V1, env_with(ALL_PROXY=PROXY), {}, "task-role", "container", False, id="all-proxy-go-v1-ignores"),
    pytest.param(JS_V2, env_with(HTTP_PROXY=PROXY), {}, "task-role", "container", False, id="proxy-js-v2-ignores"),
    pytest.param(JS_V3, env_with(http_proxy=PROXY), {}, "task-role", "container", False, id="proxy-js-v3-ignores"),
    pytest.param(RUBY, env_with(HTTP_PROXY=PROXY), {}, "task-role", "container", False, id="proxy-ruby-ignores"),
    pytest.param(BOTOCORE, env_with(HTTP_PROXY=PROXY, http_proxy=PROXY), {}, "task-role", "container", False, id="proxy-botocore-ignores"),
    pytest.param(RUST_NEW, env_with(HTTP_PROXY=PROXY), {}, "none", "container", True, id="proxy-rust-1.8-honours"),
    pytest.param(RUST, env_with(HTTP_PROXY=PROXY), {}, "task-role", "container", False, id="proxy-rust-1.5-ignores"),
    # sources before the container provider
    pytest.param(GO_V1, env_with(AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_KEY), {}, "user", "env", False, id="static-keys-go-v1"),
    pytest.param(JS_V2, env_with(AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_KEY), {}, "user", "env", False, id="static-keys-js-v2"),
    pytest.param(JS_V3, env_with(AWS_ACCESS_KEY_ID="ASIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY=SECRET_KEY), {}, "other-role", "env", False, id="temporary-keys-js-v3"),
    pytest.param(RUBY, env_with(AWS_WEB_IDENTITY_TOKEN_FILE="/var/run/token", AWS_ROLE_ARN="arn:aws:iam::123456789012:role/irsa"), {}, "other-role", "web-identity", False, id="web-identity-ruby"),
    pytest.param(GO_V1, env_with(AWS_EC2_METADATA_DISABLED="true"), AGENT_DOWN, "none", "container", False, id="agent-down-metadata-disabled-go"),
    pytest.param(JS_V2, env_with(AWS_EC2_METADATA_DISABLED="true"), AGENT_DOWN, "none", None, False, id="agent-down-metadata-disabled-js-v2"),
]


@pytest.mark.parametrize("entry, env, records, want_gets, want_source, want_proxy", CASES)
def test_prediction(tmp_path: Path, entry: dict[str, Any], env: dict[str, str], records: dict[str, Any], want_gets: str, want_source: Optional[str], want_proxy: bool) -> None:
    s = gets(tmp_path, entry, env, **records)
    assert (s["gets"], s["source"], s["via_proxy"]) == (want_gets, want_source, want_proxy), s["why"]
    assert s["gets"] in predict.GETS and s["why"]
    assert s["path"] == entry["path"]


SHARED_FILE = {".aws/credentials": f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n"}


@pytest.mark.parametrize("entry", [GO_V1, JS_V2, JS_V3, RUBY, BOTOCORE], ids=lambda e: e["sdk"])
def test_shared_credentials_file_wins(tmp_path: Path, entry: dict[str, Any]) -> None:
    facts = make_facts(tmp_path, env_with("HOME", HOME=str(tmp_path)), {"sdk": sdk_record(entry)}, files=SHARED_FILE)
    (s,) = predict.predict_all(facts)
    assert (s["gets"], s["source"]) == ("user", "shared-credentials-file"), s["why"]


@pytest.mark.parametrize(
    "entry, want",
    [
        pytest.param(BOTOCORE, "task-role", id="botocore-1.44"),
        pytest.param(BOTOCORE_131, "none", id="botocore-1.31-refuses-the-host"),
        pytest.param(JS_V2, "task-role", id="js-v2-latest"),
        pytest.param(JS_V3, "task-role", id="js-v3"),
        pytest.param(GO_V1, "none", id="go-v1-1.44-refuses-the-host"),
        pytest.param(GO_V1_NEW, "task-role", id="go-v1-1.55"),
        pytest.param(RUBY, "instance-role", id="ruby-3.168-skips-to-imds"),
    ],
)
def test_full_uri_pod_identity(tmp_path: Path, entry: dict[str, Any], want: str) -> None:
    env = env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI=FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file(tmp_path, "tok-123"))
    s = gets(tmp_path, entry, env, imds=imds_v1(True))
    assert s["gets"] == want, s["why"]


@pytest.mark.parametrize(
    "entry, want",
    [
        pytest.param(BOTOCORE, "none", id="botocore-refuses"),
        pytest.param(found("rust", "1.8.6", "/usr/local/bin/rust-app"), "none", id="rust-refuses"),
        pytest.param(JS_V3, "none", id="js-v3-refuses"),
        pytest.param(JAVA_V2, "unknown", id="java-v2-unknown"),
    ],
)
def test_token_file_with_trailing_newline(tmp_path: Path, entry: dict[str, Any], want: str) -> None:
    env = env_with("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", AWS_CONTAINER_CREDENTIALS_FULL_URI=FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file(tmp_path, "tok-123\n"))
    s = gets(tmp_path, entry, env)
    assert s["gets"] == want, s["why"]


@pytest.mark.parametrize(
    "entry, records, reason",
    [
        pytest.param(found("go-v1", "v1.44.x-weird", "/bin/app"), {}, "compare", id="odd-version"),
        pytest.param(found("ruby", None, "/Gemfile.lock"), {}, "version could not be read", id="no-version"),
        pytest.param(found("martian-sdk", "1.0", "/x"), {}, "no behaviour model", id="unknown-family"),
        pytest.param(JS_V2, {"credentials": {"status": "200", "requested": "yes", "fields_missing": 7}}, "", id="contradictory-credentials-record"),
        pytest.param(JS_V2, {"credentials": None, "imds": None}, "not observed", id="endpoints-not-observed"),
    ],
)
def test_undecidable_gives_unknown(tmp_path: Path, entry: dict[str, Any], records: dict[str, Any], reason: str) -> None:
    facts = make_facts(tmp_path, ECS_ENV, {"sdk": sdk_record(entry), **records})
    (s,) = predict.predict_all(facts)
    assert s["gets"] in ("unknown", "none"), s
    assert reason in s["why"]


def test_go_binary_without_module_versions_is_judged_by_its_variables(tmp_path: Path) -> None:
    entry = found("go-unversioned", None, "/usr/bin/ecr-login", features={"relative": True, "token_file": False})
    assert gets(tmp_path, entry)["gets"] == "task-role"
    old = found("go-unversioned", None, "/usr/bin/ancient", features={"relative": False, "token_file": False})
    assert gets(tmp_path, old, imds=imds_v1(True))["gets"] == "instance-role"


# ---------------------------------------------------------------------------------------
# used_by: which running process uses which SDK
# ---------------------------------------------------------------------------------------


def proc(pid: int, exe: str, cwd: str = "/", paths: tuple[str, ...] = (), argv0: Optional[str] = None, **extra: Any) -> dict[str, Any]:
    return {"pid": pid, "ppid": 1, "name": exe.rsplit("/", 1)[-1], "cmdline": exe, "exe": exe, "cwd": cwd, "argv0": argv0 or exe, "paths": list(paths), "has_relative": True, "has_full": False, **extra}


def survey(*procs: dict[str, Any]) -> dict[str, Any]:
    return {"available": True, "self_pid": 999, "pid1_readable": True, "pid1_has_variable": True, "processes": list(procs), "unreadable": []}


@pytest.mark.parametrize(
    "entry, process, used",
    [
        pytest.param(JS_V2, proc(17, "/usr/local/bin/node", cwd=APP, paths=(f"{APP}/server.js",)), True, id="node-in-its-project"),
        pytest.param(JS_V2, proc(17, "/usr/local/bin/node", cwd="/", paths=(f"{APP}/src/index.js",)), True, id="node-script-below-the-project"),
        pytest.param(JS_V2, proc(17, "/usr/local/bin/node", cwd="/opt/other", paths=("/opt/other/x.js",)), False, id="node-elsewhere"),
        pytest.param(JS_V2, proc(17, "/usr/bin/python3.11", cwd=APP), False, id="python-does-not-use-node-sdk"),
        pytest.param(BOTOCORE, proc(8, "/usr/local/bin/python3.11", paths=("/app/main.py",)), True, id="python-prefix"),
        pytest.param(BOTOCORE, proc(8, "/usr/bin/python3.11", argv0="/opt/venv/bin/python", paths=("/app/main.py",)), False, id="python-other-prefix"),
        pytest.param(found("botocore", "1.44.8", "/opt/venv/lib/python3.11/site-packages/botocore-1.44.8.dist-info"), proc(8, "/usr/bin/python3.11", argv0="/opt/venv/bin/python"), True, id="venv-by-argv0"),
        pytest.param(GO_V1, proc(3, "/usr/local/bin/app"), True, id="go-binary-running"),
        pytest.param(GO_V1, proc(3, "/usr/local/bin/other"), False, id="go-binary-not-running"),
        pytest.param(JAVA_V2, proc(5, "/usr/lib/jvm/bin/java", cwd="/app", paths=("/app/app.jar",)), True, id="java-jar"),
        pytest.param(GSUTIL_BOTO, proc(8, "/usr/local/bin/python3.11", cwd="/app", paths=("/app/main.py",)), False, id="vendored-boto-in-gsutil"),
        pytest.param(found("go-v1", "1.44.133", "/proc/42/root/usr/local/bin/app"), proc(42, "/usr/local/bin/app"), True, id="other-container-root"),
    ],
)
def test_used_by(tmp_path: Path, entry: dict[str, Any], process: dict[str, Any], used: bool) -> None:
    facts = make_facts(tmp_path, ECS_ENV, {"sdk": sdk_record(entry, named=False), "processes": survey(process)})
    (s,) = predict.predict_all(facts)
    assert (s["used_by"] == [process["pid"]]) is used, s


# ---------------------------------------------------------------------------------------
# sdk.identity
# ---------------------------------------------------------------------------------------


def run_check(cid: str, tmp: Path, env: dict[str, str], records: dict[str, Any], options: Optional[dict[str, Any]] = None) -> Any:
    facts = make_facts(tmp, env, records, options=options)
    return REGISTRY[cid].fn(facts)


NODE_APP = proc(17, "/usr/local/bin/node", cwd=APP, paths=(f"{APP}/server.js",))


def test_sdk_identity_names_the_application_sdk(tmp_path: Path) -> None:
    out = run_check("sdk.identity", tmp_path, ECS_ENV, {"sdk": sdk_record(JS_V2_OLD, BOTOCORE, named=False), "processes": survey(NODE_APP), "imds": imds_v1(True)})
    assert out.status is Status.FAIL
    assert out.title == "The Node.js app (aws-sdk 2.4.6 at /srv/web) would use the EC2 instance role"
    assert "2.4.7" in out.detail and "used by pid 17" in out.detail
    assert "2016" in out.remedy or "2.4.7" in out.remedy


def test_sdk_identity_passes_when_the_app_sdk_gets_the_task_role(tmp_path: Path) -> None:
    out = run_check("sdk.identity", tmp_path, ECS_ENV, {"sdk": sdk_record(JS_V2, named=False), "processes": survey(NODE_APP)})
    assert out.status is Status.PASS and "1 AWS SDK in use gets the task role" in out.title


def test_sdk_identity_warns_for_an_sdk_no_process_uses(tmp_path: Path) -> None:
    py = proc(8, "/usr/local/bin/python3.11", cwd="/app", paths=("/app/main.py",))
    out = run_check("sdk.identity", tmp_path, ECS_ENV, {"sdk": sdk_record(BOTOCORE, GSUTIL_BOTO, named=False), "processes": survey(py), "imds": imds_v1(True)})
    assert out.status is Status.WARN, out.detail
    assert "no running process uses" in out.title and "gsutil" in out.detail


def test_sdk_identity_without_process_information_counts_every_sdk(tmp_path: Path) -> None:
    out = run_check("sdk.identity", tmp_path, ECS_ENV, {"sdk": sdk_record(GSUTIL_BOTO, named=False), "processes": {"available": False, "error": "psutil is not installed"}, "imds": imds_v1(True)})
    assert out.status is Status.FAIL and "no process information" in out.detail


def test_sdk_identity_skips_without_sdks(tmp_path: Path) -> None:
    out = run_check("sdk.identity", tmp_path, ECS_ENV, {"sdk": sdk_record()})
    assert out.status is Status.SKIP and "no AWS SDK found" in out.detail


def test_sdk_identity_honours_expect_role(tmp_path: Path) -> None:
    records = {"sdk": sdk_record(JS_V3)}
    assert run_check("sdk.identity", tmp_path, ECS_ENV, records, {"expect_role": "app-task-role"}).status is Status.PASS
    out = run_check("sdk.identity", tmp_path, ECS_ENV, records, {"expect_role": "payments-role"})
    assert out.status is Status.FAIL and "not the expected payments-role" in out.title


def test_sdk_identity_proxy_remedy_names_no_proxy(tmp_path: Path) -> None:
    out = run_check("sdk.identity", tmp_path, env_with(HTTP_PROXY=PROXY), {"sdk": sdk_record(GO_V1)})
    assert out.status is Status.FAIL and "would get no credentials" in out.title
    assert "NO_PROXY=169.254.169.254,169.254.170.2" in out.remedy
    assert "pa55w0rd" not in out.detail


# ---------------------------------------------------------------------------------------
# sdk.versions: fail in use, warn when only present
# ---------------------------------------------------------------------------------------


def test_vendored_boto_no_process_uses_only_warns(tmp_path: Path) -> None:
    py = proc(8, "/usr/local/bin/python3.11", cwd="/app", paths=("/app/main.py",))
    out = run_check("sdk.versions", tmp_path, ECS_ENV, {"sdk": sdk_record(BOTOCORE, GSUTIL_BOTO, named=False), "processes": survey(py)})
    assert out.status is Status.WARN and "no running process uses it" in out.title


def test_old_sdk_in_use_fails(tmp_path: Path) -> None:
    out = run_check("sdk.versions", tmp_path, ECS_ENV, {"sdk": sdk_record(JS_V2_OLD, named=False), "processes": survey(NODE_APP)})
    assert out.status is Status.FAIL and "in use is too old" in out.title


# ---------------------------------------------------------------------------------------
# proxy.credentials-endpoint and processes.proxy: judged per SDK
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entries, env, status, words",
    [
        pytest.param((BOTOCORE, JS_V2, RUBY), env_with(HTTP_PROXY=PROXY), Status.WARN, ("every SDK found ignores it", "Go net/http"), id="only-sdks-that-ignore-it"),
        pytest.param((BOTOCORE, GO_V1), env_with(HTTP_PROXY=PROXY), Status.FAIL, ("AWS SDK for Go v1",), id="go-sdk-present"),
        pytest.param((GO_V1,), env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.0.0/16"), Status.WARN, ("wget",), id="go-with-cidr"),
        pytest.param((GO_V1,), env_with(HTTP_PROXY=PROXY, NO_PROXY="169.254.169.254,169.254.170.2"), Status.PASS, ("Every client bypasses",), id="named-hosts"),
        pytest.param((JS_V2,), env_with(HTTP_PROXY=PROXY), Status.WARN, ("Go net/http",), id="upper-case"),
        pytest.param((JS_V2,), env_with(http_proxy=PROXY), Status.WARN, ("curl / libcurl", "wget"), id="lower-case-curl-honours-it"),
    ],
)
def test_proxy_verdict_per_sdk(tmp_path: Path, entries: tuple[dict[str, Any], ...], env: dict[str, str], status: Status, words: tuple[str, ...]) -> None:
    out = run_check("proxy.credentials-endpoint", tmp_path, env, {"sdk": sdk_record(*entries)})
    assert out.status is status, (out.title, out.detail)
    for w in words:
        assert w in out.title + out.detail
    assert "pa55w0rd" not in out.title + out.detail + out.remedy


def _with_proxy(p: dict[str, Any], no_proxy: Optional[str] = None) -> dict[str, Any]:
    p = dict(p)
    p["proxy"] = {"host": "169.254.170.2", "proxy": "http://proxy:3128", "proxy_any": "http://proxy:3128", "bypassed_strict": False, "bypassed_cidr": False, "proxied_strict": True, "proxied_cidr": True}
    p["no_proxy"] = no_proxy
    p["proxy_vars"] = {"HTTP_PROXY": "http://proxy:3128"}
    p["no_proxy_vars"] = {"NO_PROXY": no_proxy} if no_proxy else {}
    return p


@pytest.mark.parametrize(
    "process, entries, status",
    [
        pytest.param(_with_proxy(NODE_APP), (JS_V2,), Status.WARN, id="node-ignores"),
        pytest.param(_with_proxy(proc(3, "/usr/local/bin/app")), (GO_V1,), Status.FAIL, id="go-honours"),
        pytest.param(_with_proxy(proc(4, "/usr/bin/curl")), (), Status.WARN, id="curl-ignores-upper-case"),
        pytest.param(_with_proxy(proc(6, "/usr/bin/python3.11")), (), Status.FAIL, id="interpreter-without-sdk-found-strictest"),
        pytest.param(_with_proxy(proc(7, "/usr/sbin/nginx")), (), Status.PASS, id="program-that-runs-no-sdk-not-judged"),
    ],
)
def test_processes_proxy_per_runtime(tmp_path: Path, process: dict[str, Any], entries: tuple[dict[str, Any], ...], status: Status) -> None:
    out = run_check("processes.proxy", tmp_path, ECS_ENV, {"sdk": sdk_record(*entries, named=False), "processes": survey(process)})
    assert out.status is status, (out.title, out.detail)


# ---------------------------------------------------------------------------------------
# The model itself
# ---------------------------------------------------------------------------------------


def test_every_row_cites_a_source_and_uses_known_words() -> None:
    for row in sdkmodel.MODEL:
        assert row.sources and all(len(s) > 20 for s in row.sources), row.family
        assert set(row.chain) <= set(sdkmodel.SOURCES), row.family
        assert row.container_failure in ("error", "imds") and row.full_uri_refused in ("error", "skip")
        for rule in (row.proxy_container, row.proxy_imds):
            assert rule in sdkmodel.PROXY_RULES or rule in (sdkmodel.IGNORES, sdkmodel.UNKNOWN)
        assert row.evidence in ("measured", "source")


def test_every_scanner_key_has_a_row() -> None:
    from probe.facts.sdk import _GO_MODULES, _NODE

    keys = {"botocore", "boto3", "boto", "awscli-v1", "awscli-v2", "java-v1", "java-v2", "ruby", "php", "dotnet", "powershell", "cpp", "rust", "go-unversioned"}
    keys |= set(_GO_MODULES.values()) | set(_NODE.values())
    for key in keys:
        assert sdkmodel.rows_for(key), key


def test_the_model_document_is_current() -> None:
    path = Path(__file__).resolve().parent.parent / "docs" / "SDK_MODEL.md"
    assert path.read_text() == sdkmodel.markdown(), "regenerate: python -m probe.sdkmodel > docs/SDK_MODEL.md"


def test_task_role_arn_constant_is_the_served_role() -> None:
    assert TASK_ROLE_ARN.endswith("role/app-task-role")


def test_an_sdk_without_the_container_provider_is_not_blamed_on_the_proxy(tmp_path: Path) -> None:
    """botocore 1.4.36 never asks the credentials endpoint (issue 21): its requests through a
    proxy are IMDS's, and proxy.credentials-endpoint does not fail for it."""
    env = env_with(HTTP_PROXY=PROXY, http_proxy=PROXY)
    facts = make_facts(tmp_path, env, {"sdk": sdk_record(BOTOCORE_OLD), "imds": imds_v1(True)})
    entry = predict.predict_all(facts)[0]
    assert entry["proxied"] == ["imds"] and entry["via_proxy"] is True, entry
    result = REGISTRY["proxy.credentials-endpoint"].fn(facts)
    assert result.status is not Status.FAIL, result
