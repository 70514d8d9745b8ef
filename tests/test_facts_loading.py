"""Facts that come from outside the probe's own observation, held to a shape.

- the identity collector never opens the authorization token file: the probe reads it
  once, through the run's RootFS (size-capped, regular files only), and the collector
  judges the credentials endpoint's observation (issue 11, item 12; issue 18).
- ``--facts FILE``: a saved file of the wrong shape, depth or size is refused at load
  with exit 2 and a message, never a crash or a check ``error`` (issue 11, item 18).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from probe.facts import awsconfig, endpoints, identity
from probe.facts.endpoints import Observed
from probe.facts.environ import authorization_token, collect_environ, credentials_target
from probe.facts.rootfs import RootFS

# ---------------------------------------------------------------------------------------
# Item 12: botocore never opens the token file
# ---------------------------------------------------------------------------------------

_OPENED: list[str] = []
_WATCHING: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _WATCHING and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if path in _WATCHING:
            _OPENED.append(path)


sys.addaudithook(_audit)


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """os.environ as in a task with a full URI; nothing reachable, nothing else to find."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO", "ECS_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")
    return tmp_path


def _observed() -> Observed:
    return Observed(
        {"requested": True, "status": 200},
        {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "s" * 40, "Token": "t" * 40, "Expiration": "2099-01-01T00:00:00Z"},
    )


def _collect(path: str, timeout: float = 10) -> dict[str, Any]:
    """The run's token reading, then collect_identity in a thread; fails (and unblocks it)
    if it hangs. The credentials endpoint's answer is a usable one unless the token could
    not be read or sent (then the probe never asks: fetch_credentials says why)."""
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = path
    out: dict[str, Any] = {}
    _OPENED.clear()
    token = authorization_token(os.environ)
    target = credentials_target(os.environ)
    env_record = collect_environ(os.environ, token=token, target=target)
    obs = _observed() if not (token.get("error") or token.get("illegal")) else endpoints.fetch_credentials(target, target.get("_raw_url"), token.get("_raw"), token)
    _WATCHING[:] = [path]

    def work() -> None:
        deadline = time.monotonic() + 3
        out.update(identity.collect_identity(os.environ, env_record, awsconfig.Secrets(), RootFS(), lambda: obs, lambda: None, deadline))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    _WATCHING.clear()
    if worker.is_alive():
        pytest.fail("the identity collector blocked")
    return out


@pytest.mark.parametrize(
    "kind, expect",
    [
        pytest.param("regular", None, id="regular-file"),
        pytest.param("fifo", "not a regular file", id="fifo"),
        pytest.param("dev-zero", "not a regular file", id="dev-zero"),
        pytest.param("missing", "No such file", id="missing"),
        pytest.param("directory", "not a regular file", id="directory"),
        pytest.param("newline", "not a legal header value", id="line-break-in-file"),
    ],
)
def test_the_identity_collector_never_opens_the_token_file(container_env: Path, kind: str, expect: Optional[str]) -> None:
    path = str(container_env / f"token-{kind}")
    if kind == "regular":
        Path(path).write_text("the-token-value")
    elif kind == "newline":
        Path(path).write_text("the-token-value\n")
    elif kind == "fifo":
        path += "-fifo"
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "directory":
        os.mkdir(path)
    rec = _collect(path)
    assert _OPENED == [], "the identity collector opened the token file"
    if expect is None:
        # The chain got its credentials with the token and went on to STS (unreachable here).
        assert rec.get("provider") == "container-role" and "chain_error" not in rec, rec
        assert rec.get("sts_error")
    else:
        assert rec.get("chain_error_provider") == "container-role", rec
        assert expect in rec["chain_error"], rec


def test_the_token_variable_still_works_without_a_file(container_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\r\nvalue")
    monkeypatch.delenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", raising=False)
    token = authorization_token(os.environ)
    target = credentials_target(os.environ)
    obs = endpoints.fetch_credentials(target, target.get("_raw_url"), token.get("_raw"), token)
    env_record = collect_environ(os.environ, token=token, target=target)
    rec = identity.collect_identity(os.environ, env_record, awsconfig.Secrets(), RootFS(), lambda: obs, lambda: None, time.monotonic() + 3)
    assert "not a legal header value" in rec["chain_error"], rec


# ---------------------------------------------------------------------------------------
# Item 18: a --facts file of the wrong shape is refused at load, never judged
# ---------------------------------------------------------------------------------------

import copy  # noqa: E402

from helpers import clean_env, run_probe  # noqa: E402
from probe import runner  # noqa: E402
from probe.facts import FACTS_SCHEMA, MAX_DEPTH, Facts  # noqa: E402


def _rich_facts(tmp: Path) -> dict[str, Any]:
    """A saved document with every collector record, each list holding an entry."""
    import test_checks as tc
    from probe.facts.processes import collect_processes
    from probe.facts.sdk import scan

    env = dict(tc.ECS_ENV, HTTP_PROXY=tc.PROXY, NO_PROXY="169.254.170.2")
    files = {
        ".aws/config": "[default]\nregion = us-east-1\n[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n",
        ".aws/credentials": f"[base]\naws_access_key_id = {tc.ACCESS_KEY_ID}\naws_secret_access_key = {tc.SECRET_KEY}\n",
    }
    identity = tc.identity_record(tc.OTHER_ROLE_SESSION, "assume-role", key="assume-role:x:y", role_arn="arn:aws:iam::123456789012:role/app",
                                  assumed=["arn:aws:iam::123456789012:role/app"], confirmed={"container": {"arn": tc.TASK_ROLE_SESSION, "sts_elapsed_ms": 3}})
    facts = tc.make_facts(tmp, dict(env, AWS_PROFILE="app"), {"imds": tc.imds_reachable(), "identity": identity}, files=files)
    root = tmp / "img"
    (root / "node_modules" / "aws-sdk").mkdir(parents=True)
    (root / "node_modules" / "aws-sdk" / "package.json").write_text('{"version": "2.4.6"}')
    sdk = scan([str(root)])
    sdk["named_roots"] = False
    for entry in sdk["found"]:
        entry["used_by"] = [1]
        entry["features"] = {"relative": True}
    facts.data["sdk"] = sdk
    procs = collect_processes(None)
    procs["processes"] = procs["processes"][:3]
    procs["unreadable"] = [{"pid": 4242, "name": "other", "error": "AccessDenied", "reason": "another user's"}]
    facts.data["processes"] = procs
    facts.data["shim"] = {
        "files": [{"path": "/etc/profile.d/ecs-credentials.sh", "vars": {"AWS_REGION": {"in_pid1": True, "equal": False}}, "missing": ["AWS_DEFAULT_REGION"]}],
        "pid1_readable": True, "pid1_error": None, "self_is_pid1": False,
    }
    facts.options["expect_role"] = "app-task-role"
    return json.loads(facts.dumps())


def _judge(doc: dict[str, Any]) -> Optional[str]:
    """None if refused at load or judged without a check error; else what went wrong."""
    try:
        facts = Facts.loads(json.dumps(doc))
    except ValueError:
        return None
    try:
        report = runner.judge(facts, runner.Selection())
    except Exception as exc:  # the judge must never raise
        return f"judge raised {type(exc).__name__}: {exc}"
    errors = [f"{r.id}: {r.detail}" for r in report.results if r.status.value == "error"]
    return "; ".join(errors) or None


def _leaves(obj: Any, prefix: tuple[Any, ...] = ()) -> Any:
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:1]):
            yield from _leaves(v, prefix + (i,))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


WRONG = [None, 7, -1.5, True, "x", [], {}, [1], [None], [{}], {"a": 1}, 10**30]


def test_the_rich_document_is_judged_without_error(tmp_path: Path) -> None:
    doc = _rich_facts(tmp_path)
    assert _judge(doc) is None
    Facts.loads(json.dumps(doc))  # and it loads


def test_every_field_of_the_wrong_type_is_refused_or_harmless(tmp_path: Path) -> None:
    """The class: each field of each collector record (and each record itself), given a
    value of every other JSON type, or removed; never a crash, never a check error."""
    base = _rich_facts(tmp_path)
    bad: dict[str, str] = {}
    for path in _leaves(base["facts"]):
        for value in [*WRONG, "<deleted>"]:
            doc = copy.deepcopy(base)
            parent = _at(doc["facts"], path[:-1])
            if value == "<deleted>":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            problem = _judge(doc)
            if problem:
                bad[f"facts.{'.'.join(map(str, path))} = {value!r}"] = problem[:200]
    assert not bad, "\n".join(f"{k}: {v}" for k, v in list(bad.items())[:20])


@pytest.mark.parametrize(
    "path, value, says",
    [
        pytest.param(("identity", "arn"), 7, "facts.identity.arn is an integer, not a string", id="identity-arn-number"),
        pytest.param(("sdk", "roots"), [None], "facts.sdk.roots[0] is null", id="sdk-roots-null-item"),
        pytest.param(("sdk", "found"), [{}], "facts.sdk.found[0] has no 'sdk'", id="sdk-entry-empty"),
        pytest.param(("processes", "processes"), 7, "facts.processes.processes is an integer, not a list", id="processes-number"),
        pytest.param(("environ", "shown"), "x", "facts.environ.shown is a string, not an object", id="environ-shown-string"),
        pytest.param(("proxy", "routes", "credentials"), {"a": 1}, "facts.proxy.routes.credentials has no 'host'", id="route-without-host"),
        pytest.param(("credentials", "local_epoch"), "x", "facts.credentials.local_epoch is a string, not", id="epoch-string"),
        pytest.param(("credentials", "fields_missing"), [1], "facts.credentials.fields_missing[0] is an integer", id="fields-missing-number"),
        pytest.param(("metadata", "info"), [1], "facts.metadata.info is a list, not an object", id="metadata-info-list"),
        pytest.param(("shim", "files"), 1, "facts.shim.files is an integer, not a list", id="shim-files-number"),
        pytest.param(("run",), [], "facts.run is a list, not an object", id="run-list"),
    ],
)
def test_wrong_types_name_the_field(tmp_path: Path, path: tuple[str, ...], value: Any, says: str) -> None:
    doc = _rich_facts(tmp_path)
    _at(doc["facts"], path[:-1])[path[-1]] = value
    with pytest.raises(ValueError, match=re_escape(says)):
        Facts.loads(json.dumps(doc))


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    doc = _rich_facts(tmp_path)
    text = json.dumps(doc).replace('"now_epoch": ' + json.dumps(doc["facts"]["run"]["now_epoch"]), '"now_epoch": NaN')
    with pytest.raises(ValueError, match="now_epoch"):
        Facts.loads(text)


def _nested(depth: int, where: str) -> str:
    body = "[" * depth + "]" * depth if where != "object" else '{"a":' * depth + "1" + "}" * depth
    return json.dumps({"schema": FACTS_SCHEMA, "facts": {"identity": {"arn": "PLACEHOLDER"}}}).replace('"PLACEHOLDER"', body)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 600, 990, 5000, 200_000])
@pytest.mark.parametrize("where", ["array", "object"])
def test_deep_nesting_is_refused(depth: int, where: str) -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        Facts.loads(_nested(depth, where))


@pytest.mark.parametrize("record", ["environ", "credentials", "identity", "processes", "sdk", "options", "unknown_record"])
def test_deep_nesting_anywhere_is_refused(record: str) -> None:
    deep = "[" * 600 + "]" * 600
    doc = {"schema": FACTS_SCHEMA, "facts": {}}
    if record == "options":
        text = json.dumps(doc)[:-1] + ', "options": {"x": DEEP}}'
    else:
        text = json.dumps({"schema": FACTS_SCHEMA, "facts": {record: {"x": "DEEP"}}}).replace('"DEEP"', "DEEP")
    with pytest.raises(ValueError, match="nested deeper"):
        Facts.loads(text.replace("DEEP", deep))


def test_huge_and_wide_documents_are_refused() -> None:
    big = json.dumps({"schema": FACTS_SCHEMA, "facts": {"x": "a" * (17 << 20)}})
    with pytest.raises(ValueError, match="larger than 16 MiB"):
        Facts.loads(big)
    wide = json.dumps({"schema": FACTS_SCHEMA, "facts": {"sdk": {"roots": ["/"] * 30_000}}})
    with pytest.raises(ValueError, match="more than"):
        Facts.loads(wide)


@pytest.mark.parametrize("n_sdks, n_processes", [(500, 10), (10, 2000)], ids=["500-sdks", "2000-processes"])
def test_a_large_valid_document_loads_and_judges_quickly(tmp_path: Path, n_sdks: int, n_processes: int) -> None:
    """The collectors' own maxima (500 SDKs, 2000 processes) load. Both at once take the
    judge over a minute (predict.used_by is SDKs x processes, and runs five times): reported,
    not in this test."""
    doc = _rich_facts(tmp_path)
    entry = doc["facts"]["sdk"]["found"][0]
    doc["facts"]["sdk"]["found"] = [dict(entry, path=f"/srv/app{i}/node_modules/aws-sdk/package.json") for i in range(n_sdks)]
    proc = doc["facts"]["processes"]["processes"][0]
    doc["facts"]["processes"]["processes"] = [dict(proc, pid=10_000 + i) for i in range(n_processes)]
    started = time.monotonic()
    assert _judge(doc) is None
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "kind",
    ["deep-array", "deep-object", "deep-at-json-limit", "wrong-type", "missing-key"],
)
def test_cli_exits_2_with_a_message(tmp_path: Path, home: str, kind: str) -> None:
    path = tmp_path / "facts.json"
    if kind == "deep-array":
        path.write_text(_nested(900, "array"))
    elif kind == "deep-object":
        path.write_text(_nested(900, "object"))
    elif kind == "deep-at-json-limit":
        path.write_text(_nested(100_000, "array"))
    elif kind == "wrong-type":
        path.write_text(json.dumps({"schema": FACTS_SCHEMA, "facts": {"identity": {"arn": 7}}}))
    else:
        path.write_text(json.dumps({"schema": FACTS_SCHEMA, "facts": {"sdk": {"found": [{"version": "1"}]}}}))
    run = run_probe(["--facts", str(path), "--json"], clean_env(home), timeout=60)
    assert run.rc == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.startswith(f"probe: --facts {path}: ") and "internal error" not in run.stderr, run.stderr
