"""The real probe process against the loopback emulator: every answer of the agent, the
identity verdicts, deadlines, saved facts, and no secret in any output."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from typing import Iterator

import pytest

from helpers import clean_env, run_probe
from probe.emulator import BEHAVIOURS, Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.give_task_role("app-task-role")
        e.give_instance_role("ecsInstanceRole")
        e.update({"imds_enabled": False})
        yield e


def task_env(emu: Emulator, home: str, **extra: str) -> dict[str, str]:
    return clean_env(home, {**emu.task_env(), **extra})


def secrets_of(emu: Emulator, *more: str) -> list[str]:
    st = emu.state
    out = [st.credentials_id, *more]
    for role in (st.task_role, st.instance_role):
        if role:
            out += [role["SecretAccessKey"], role["Token"]]
    return out


def probe_json(emu: Emulator, home: str, *args: str, env: dict[str, str] | None = None, secrets: list[str] | None = None, saved: tuple[str, ...] = ()):  # noqa: E501
    return run_probe(
        ["--json", *args],
        env if env is not None else task_env(emu, home),
        secrets=secrets if secrets is not None else secrets_of(emu),
        saved=saved,
        pidns=True,
    )


def test_healthy_task_role_one_request(emu: Emulator, home: str) -> None:
    run = probe_json(emu, home)
    rep = run.report
    assert run.rc == 0, run.stdout
    assert rep["verdict"] == "pass"
    assert rep["identity"]["kind"] == "task-role"
    assert rep["identity"]["arn"] == f"arn:aws:sts::123456789012:assumed-role/app-task-role/{emu.state.task_id}"
    assert rep["identity"]["provider"] == "container-role"
    assert rep["identity"]["task_role_arn"] == "arn:aws:iam::123456789012:role/app-task-role"
    assert rep["task"]["cluster"] == "demo-cluster" and rep["task"]["network_mode"] == "awsvpc"
    # The identity check reuses the one observed answer: the rate-limited endpoint sees one request.
    assert emu.state.requests["credentials"] == 1
    assert emu.state.requests["sts"] == 1


AGENT_ANSWERS = [
    pytest.param("no-id", "HTTP 400 NoIdInRequest", id="400-no-id"),
    pytest.param("invalid-id", "HTTP 400 InvalidIdInRequest", id="400-invalid-id"),
    pytest.param("uninitialized", "HTTP 503 CredentialsUninitialized", id="503-uninitialized"),
    pytest.param("internal", "HTTP 500 InternalServerError", id="500-internal"),
    pytest.param("not-found", "HTTP 404", id="404"),
    pytest.param("rate-limited", "HTTP 429", id="429-rate-limited"),
    pytest.param("malformed", "not usable JSON", id="malformed-json"),
    pytest.param("missing-fields", "lacks Token", id="missing-token"),
    pytest.param("oversized", "oversized", id="oversized"),
]


@pytest.mark.parametrize("behaviour, title_part", AGENT_ANSWERS)
def test_bad_agent_answers_fail_with_reason(emu: Emulator, home: str, behaviour: str, title_part: str) -> None:
    emu.update({"behaviour": behaviour})
    run = probe_json(emu, home)
    assert run.rc == 1
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail"
    assert title_part in cred["title"]
    assert cred["remedy"]
    caller = run.check("identity.caller")
    assert caller["status"] == "fail"
    assert "container-role" in caller["detail"] and "does not fall back" in caller["detail"]
    assert run.report["identity"] is None
    assert emu.state.requests["credentials"] == 1


def test_error_code_meaning_in_detail(emu: Emulator, home: str) -> None:
    emu.update({"behaviour": "uninitialized"})
    detail = probe_json(emu, home).check("endpoint.credentials")
    assert "CredentialsV2Request: Credentials uninitialized for ID" in detail["detail"]
    assert "restarted" in detail["detail"]


def test_hanging_endpoint_costs_its_timeout_within_deadline(emu: Emulator, home: str) -> None:
    emu.update({"behaviour": "hang", "hang_seconds": 20})
    run = probe_json(emu, home, "--deadline", "3")
    assert run.rc == 1
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and "timed out" in cred["detail"]
    assert run.report["duration_ms"] <= 3000
    # A generous bound that still catches a hang (botocore alone needs ~9 s here).
    assert run.wall < 3 + 4, run.wall


@pytest.mark.parametrize(
    "behaviour, status",
    [pytest.param("expired", "fail", id="expired"), pytest.param("expiring", "warn", id="expires-in-3-min"), pytest.param("ok", "pass", id="6h")],
)
def test_expiry(emu: Emulator, home: str, behaviour: str, status: str) -> None:
    emu.update({"behaviour": behaviour})
    assert probe_json(emu, home).status("endpoint.credentials-expiry") == status


@pytest.mark.parametrize(
    "offset, status",
    [pytest.param(600, "fail", id="10-min-ahead"), pytest.param(-400, "fail", id="7-min-behind"), pytest.param(120, "warn", id="2-min"), pytest.param(0, "pass", id="in-sync")],
)
def test_clock_skew(emu: Emulator, home: str, offset: int, status: str) -> None:
    emu.update({"clock_offset": offset})
    check = probe_json(emu, home).check("endpoint.clock-skew")
    assert check["status"] == status
    if offset:
        assert abs(check["data"]["skew_seconds"] + offset) <= 2


def test_instance_role_fallback(emu: Emulator, home: str) -> None:
    emu.update({"imds_enabled": True})
    env = task_env(emu, home)
    del env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    run = probe_json(emu, home, env=env)
    assert run.rc == 1
    assert run.report["identity"]["kind"] == "instance-role"
    assert run.report["identity"]["provider"] == "iam-role"
    assert run.report["identity"]["arn"].endswith("assumed-role/ecsInstanceRole/i-0abc1234def567890")
    assert run.status("env.credentials-variable") == "fail"
    assert run.status("imds.instance-role") == "warn"
    tr = run.check("identity.task-role")
    if os.geteuid() == 0:
        # In its own PID namespace (root): PID 1, started with the same environment, lacks
        # the variable too, so the task has no role.
        assert tr["status"] == "fail" and "the task has no task role" in tr["remedy"] and "taskRoleArn" in tr["remedy"]
        assert "no task role" in run.report["summary"]
    else:
        # This machine's PID 1 cannot be read: both fixes are named.
        assert tr["status"] == "fail" and "ECS_ENABLE_TASK_IAM_ROLE=true" in tr["remedy"] and "shim" in tr["remedy"]
        assert run.report["summary"].startswith("No container credentials variable")
    assert run.report["cause"]["check"] == "env.credentials-variable"


def test_static_keys_shadow_the_task_role(emu: Emulator, home: str) -> None:
    user = emu.add_user("ci-deploy")
    env = task_env(emu, home, AWS_ACCESS_KEY_ID=user.access_key_id, AWS_SECRET_ACCESS_KEY=user.secret_access_key)
    run = probe_json(emu, home, env=env, secrets=secrets_of(emu, user.secret_access_key))
    assert run.report["identity"]["kind"] == "user"
    assert run.report["identity"]["provider"] == "env"
    shadow = run.check("env.shadowing-credentials")
    assert shadow["status"] == "fail" and "AWS_ACCESS_KEY_ID" in shadow["remedy"]
    # The key id is shown by its last four characters only.
    assert user.access_key_id not in run.stdout and user.access_key_id[-4:] in shadow["detail"]


def test_profile_in_shared_file_shadows(emu: Emulator, home: str) -> None:
    user = emu.add_user("baked-in")
    creds = os.path.join(home, "credentials")
    with open(creds, "w") as fh:
        fh.write(f"[default]\naws_access_key_id = {user.access_key_id}\naws_secret_access_key = {user.secret_access_key}\n")
    env = task_env(emu, home, AWS_SHARED_CREDENTIALS_FILE=creds)
    run = probe_json(emu, home, env=env, secrets=secrets_of(emu, user.secret_access_key))
    assert run.report["identity"]["provider"] == "shared-credentials-file"
    shadow = run.check("env.shadowing-credentials")
    assert shadow["status"] == "fail" and creds in shadow["remedy"]


def test_proxy_without_no_proxy(emu: Emulator, home: str) -> None:
    env = task_env(emu, home, HTTP_PROXY="http://proxyuser:s3cretpr0xy@127.0.0.1:3128", NO_PROXY="localhost")
    env["AWS_ENDPOINT_URL_STS"] = env["AWS_ENDPOINT_URL_STS"].replace("127.0.0.1", "localhost")
    run = probe_json(emu, home, env=env, secrets=secrets_of(emu, "s3cretpr0xy"))
    px = run.check("proxy.credentials-endpoint")
    assert px["status"] == "fail"
    assert "NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock" in px["remedy"]
    assert "http://proxyuser:****@127.0.0.1:3128" in px["detail"]
    assert run.status("proxy.metadata-endpoints") == "warn"
    # botocore ignores proxies for the container endpoint: the identity is still the task role.
    assert run.report["identity"]["kind"] == "task-role"


def test_proxy_with_no_proxy_passes(emu: Emulator, home: str) -> None:
    env = task_env(emu, home, HTTP_PROXY="http://127.0.0.1:3128", NO_PROXY="localhost,127.0.0.1,169.254.169.254,169.254.170.2")
    run = probe_json(emu, home, env=env)
    assert run.status("proxy.credentials-endpoint") == "pass"
    assert run.status("proxy.metadata-endpoints") == "pass"


def test_full_uri_with_authorization_token_file(emu: Emulator, home: str) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(40)
    emu.update({"auth_token": token})
    path = os.path.join(home, "token")
    with open(path, "w") as fh:
        fh.write(token)
    run = probe_json(emu, home, env=task_env(emu, home, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=path), secrets=secrets_of(emu, token))
    assert run.rc == 0, run.stdout
    assert run.report["identity"]["kind"] == "task-role"
    # The file wins over the variable, as in botocore.
    run = probe_json(
        emu,
        home,
        env=task_env(emu, home, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=path, AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong-token-value"),
        secrets=secrets_of(emu, token, "wrong-token-value"),
    )
    assert run.rc == 0


@pytest.mark.parametrize(
    "content, title",
    [
        pytest.param("wrong-but-well-formed-token", "HTTP 401", id="wrong-token"),
        pytest.param("token-with-newline\n", "cannot be used", id="trailing-newline"),
        pytest.param(None, "cannot be used", id="file-missing"),
    ],
)
def test_bad_authorization_token(emu: Emulator, home: str, content: str | None, title: str) -> None:
    emu.update({"auth_token": "the-right-token-value"})
    path = os.path.join(home, "token")
    if content is not None:
        with open(path, "w") as fh:
            fh.write(content)
    run = probe_json(emu, home, env=task_env(emu, home, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=path), secrets=secrets_of(emu, "the-right-token-value", "token-with-newline"))
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and title in cred["title"], cred
    assert run.status("identity.caller") == "fail"


def test_unsafe_full_uri_is_never_requested(emu: Emulator, home: str) -> None:
    port = emu.url("agent").rsplit(":", 1)[1]
    # 0.0.0.0 reaches this machine's own listeners, yet is no loopback address: the SDKs refuse it.
    env = task_env(emu, home, AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://0.0.0.0:{port}/v2/credentials/{emu.state.credentials_id}")
    run = probe_json(emu, home, env=env)
    safe = run.check("env.credentials-uri-safe")
    assert safe["status"] == "fail" and "refuse" in safe["detail"]
    assert run.status("endpoint.credentials") == "skip"
    assert run.status("identity.caller") == "fail"
    assert emu.state.requests.get("credentials", 0) == 0


def test_sts_unreachable(emu: Emulator, home: str) -> None:
    run = probe_json(emu, home, env=task_env(emu, home, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"))
    caller = run.check("identity.caller")
    assert caller["status"] == "fail" and caller["title"] == "STS GetCallerIdentity failed"
    assert "sts" in caller["remedy"].lower()
    assert run.status("endpoint.credentials") == "pass"


def test_expect_role(emu: Emulator, home: str) -> None:
    assert probe_json(emu, home, "--expect-role", "app-task-role").rc == 0
    run = probe_json(emu, home, "--expect-role", "arn:aws:iam::123456789012:role/other-role")
    assert run.rc == 1 and "not the expected arn:aws:iam::123456789012:role/other-role" in run.check("identity.task-role")["title"]
    # Same name in another account is another role.
    run = probe_json(emu, home, "--expect-role", "arn:aws:iam::999999999999:role/app-task-role")
    assert run.rc == 1 and run.status("identity.task-role") == "fail"
    assert probe_json(emu, home, "--expect-role", "arn:aws:iam::123456789012:role/app-task-role").rc == 0


def test_verdict_does_not_depend_on_the_machines_processes(emu: Emulator, home: str) -> None:
    """The cause of test_expect_role's failure on a busy machine: the probe surveyed every
    process of the machine, and another suite's probe there (a Python interpreter with the
    credentials variable and HTTP_PROXY) made processes.proxy fail. In its own PID
    namespace, as in a task, it sees only its own."""
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root for a PID namespace (unshare --pid)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, **emu.task_env(), "HTTP_PROXY": "http://127.0.0.1:9"}
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)
    try:
        assert probe_json(emu, home, "--expect-role", "app-task-role").rc == 0
    finally:
        bystander.kill()
        bystander.wait()


def test_save_facts_and_rejudge_offline(emu: Emulator, home: str, tmp_path) -> None:
    emu.update({"behaviour": "expiring"})
    facts = str(tmp_path / "facts.json")
    first = probe_json(emu, home, "--save-facts", facts, saved=(facts,))
    assert first.files[facts], "facts file written"
    doc = json.loads(first.files[facts])
    assert doc["schema"] == "ecs-credential-probe/facts/v1"
    before = emu.state.requests["credentials"]
    # Offline: no environment, no endpoint; same statuses.
    again = run_probe(["--json", "--facts", facts], clean_env(home), secrets=secrets_of(emu))
    assert emu.state.requests["credentials"] == before
    assert [(c["id"], c["status"]) for c in again.report["checks"]] == [(c["id"], c["status"]) for c in first.report["checks"]]
    assert again.report["identity"] == first.report["identity"]


def test_only_limits_the_work(emu: Emulator, home: str) -> None:
    run = probe_json(emu, home, "--only", "env.region,env.credentials-variable")
    ran = [c["id"] for c in run.report["checks"] if c["status"] != "skip"]
    assert ran == ["env.credentials-variable", "env.region"]
    assert emu.state.requests.get("credentials", 0) == 0 and emu.state.requests.get("sts", 0) == 0


@pytest.mark.parametrize(
    "proxy, password",
    [
        pytest.param("http://user:pa?ssword12345@127.0.0.1:3128", "pa?ssword12345", id="question-mark"),
        pytest.param("user:pass/word12345@127.0.0.1:3128", "pass/word12345", id="slash-no-scheme"),
        pytest.param("http://user:p#ss%40word99@127.0.0.1:3128", "p#ss%40word99", id="hash-and-escape"),
    ],
)
def test_odd_proxy_passwords_never_shown(emu: Emulator, home: str, tmp_path, proxy: str, password: str) -> None:
    facts = str(tmp_path / "facts.json")
    env = task_env(emu, home, HTTP_PROXY=proxy, NO_PROXY="localhost")
    env["AWS_ENDPOINT_URL_STS"] = env["AWS_ENDPOINT_URL_STS"].replace("127.0.0.1", "localhost")
    run = probe_json(emu, home, "--save-facts", facts, env=env, secrets=secrets_of(emu, password), saved=(facts,))
    assert run.status("proxy.credentials-endpoint") == "fail"
    assert "user:****@" in run.check("proxy.credentials-endpoint")["detail"]
    text = run_probe(["--no-color"], env, secrets=secrets_of(emu, password))
    assert "user:****@" in text.stdout


def test_token_file_that_is_a_fifo_does_not_hang(emu: Emulator, home: str) -> None:
    fifo = os.path.join(home, "token-fifo")
    os.mkfifo(fifo)
    run = probe_json(emu, home, "--deadline", "3", env=task_env(emu, home, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=fifo))
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and "not a regular file" in cred["detail"]
    assert run.report["duration_ms"] <= 3000 and run.wall < 3 + 4


@pytest.mark.parametrize(
    "extra, title",
    [
        pytest.param({"AWS_PROFILE": "no-such-profile"}, "configuration is broken", id="unknown-profile"),
        pytest.param({"AWS_METADATA_SERVICE_TIMEOUT": "abc"}, "configuration is broken", id="bad-setting"),
    ],
)
def test_broken_sdk_configuration(emu: Emulator, home: str, extra: dict, title: str) -> None:
    caller = probe_json(emu, home, env=task_env(emu, home, **extra)).check("identity.caller")
    assert caller["status"] == "fail" and title in caller["title"], caller


def test_sts_that_never_answers(emu: Emulator, home: str) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(5)
    try:
        run = probe_json(emu, home, "--deadline", "4", env=task_env(emu, home, AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{s.getsockname()[1]}"))
    finally:
        s.close()
    caller = run.check("identity.caller")
    assert caller["status"] == "fail" and caller["title"] == "STS GetCallerIdentity failed", caller
    assert "sts" in caller["remedy"].lower()


def test_relative_uri_that_does_not_parse_is_never_shown(emu: Emulator, home: str) -> None:
    # Never requested: no connection to 169.254.170.2 is attempted (the network guard would fail the test).
    env = task_env(emu, home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=":3f1c2a4e-8b9d-4c1e/v2/credentials")
    run = probe_json(emu, home, env=env, secrets=secrets_of(emu, "3f1c2a4e-8b9d-4c1e"))
    assert run.status("env.credentials-uri-safe") == "fail"


def test_expired_credentials_summary_points_at_expiry(emu: Emulator, home: str) -> None:
    emu.update({"behaviour": "expired"})
    run = probe_json(emu, home)
    assert run.report["summary"] == "The served credentials are expired"


# ---------------------------------------------------------------------------------------
# `python -m probe.emulator` as the README documents it (issue 20, item 6)
# ---------------------------------------------------------------------------------------


def _emulator_command(*args: str) -> subprocess.Popen[str]:
    import sys

    from helpers import GUARD_DIR, REPO

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join([GUARD_DIR, REPO]), "LANG": "C.UTF-8",
           "PROBE_TEST_HOST_NETNS": os.environ["PROBE_TEST_HOST_NETNS"], "PROBE_TEST_GUARD_LOG": os.environ["PROBE_TEST_GUARD_LOG"]}
    return subprocess.Popen([sys.executable, "-m", "probe.emulator", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _get_json(url: str) -> tuple[int, dict]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def test_the_documented_emulator_command_serves_credentials(home: str) -> None:
    """No flags: a task role is served, the first line names the credentials id and the
    variables to use, and the probe pointed at them passes."""
    proc = _emulator_command()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] is True
        cred_id = ready["credentials_id"]
        assert len(cred_id) >= 32
        env = ready["env"]
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == f"{ready['urls']['agent']}/v2/credentials/{cred_id}"
        status, body = _get_json(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
        assert status == 200 and body["RoleArn"].endswith(":role/demo-task-role"), (status, body)
        proc.stdin.write("{}\n")
        proc.stdin.flush()
        state = json.loads(proc.stdout.readline())
        secrets_ = [cred_id] + [state[r][k] for r in ("task_role", "instance_role") for k in ("SecretAccessKey", "Token")]
        run = run_probe(["--json"], clean_env(home, env), secrets=secrets_)
        assert run.rc == 0 and run.report["identity"]["kind"] == "task-role", run.stdout

        # An unknown behaviour is refused with the list; the state stays as it was.
        proc.stdin.write('{"behaviour": "bogus"}\n')
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        assert "unknown behaviour 'bogus'" in answer["error"] and answer["behaviours"] == list(BEHAVIOURS)
        for name in BEHAVIOURS:
            assert name in answer["error"]
        assert _get_json(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])[0] == 200
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_the_emulator_command_refuses_an_unknown_behaviour(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = _emulator_command("--behaviour", "bogus")
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2, err
    assert "bogus" in err and all(name in err for name in BEHAVIOURS), err
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"behaviour": "uninitialised"}))
    proc = _emulator_command("--state", str(state))
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2 and "unknown behaviour 'uninitialised'" in err and "uninitialized" in err, err
    # A known one from the command line is served.
    proc = _emulator_command("--behaviour", "uninitialized")
    try:
        assert proc.stdout is not None
        env = json.loads(proc.stdout.readline())["env"]
        status, body = _get_json(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
        assert status == 503 and body["code"] == "CredentialsUninitialized", (status, body)
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------
# Issue 22: the emulator answers as the real agent does (tests/test_real_agent.py compares
# the two where the agent's own server is at hand; these hold without it).
# ---------------------------------------------------------------------------------------


def _ask(emu: Emulator, target: str, method: str = "GET", headers: dict[str, str] | None = None, role: str = "agent"):  # noqa: ANN202
    import http.client

    host, port = emu.servers[role].server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, target, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def test_every_agent_answer_carries_the_limiters_headers(emu: Emulator) -> None:
    cid = emu.state.credentials_id
    for target in (f"/v2/credentials/{cid}", "/v2/credentials/nope", "/v2/credentials", f"/v4/{emu.state.container_id}", "/v4/nope", "/"):
        status, headers, _ = _ask(emu, target)
        assert headers["X-Rate-Limit-Limit"] == "40.00" and headers["X-Rate-Limit-Duration"] == "1", (target, headers)
        assert headers["X-Rate-Limit-Request-Forwarded-For"] == "" and headers["X-Rate-Limit-Request-Remote-Addr"].startswith("127.0.0.1:")
        assert "Server" not in headers
    status, headers, body = _ask(emu, f"/v2/credentials//{cid}")
    assert status == 301 and body == b"" and headers["Location"] == f"/v2/credentials/{cid}" and "X-Rate-Limit-Limit" not in headers


def test_the_limiter_counts_per_path_with_the_agents_arithmetic(emu: Emulator) -> None:
    from probe.emulator import TokenBucket

    # The bucket itself, on a clock of our own: 60 at once, then 40 a second.
    bucket = TokenBucket(40, 60)
    assert sum(bucket.allow(now=100.0) for _ in range(100)) == 60
    assert sum(bucket.allow(now=100.5) for _ in range(100)) == 20
    assert not bucket.allow(now=100.5) and bucket.allow(now=100.525)
    # The emulator, by default: a full burst of 60 served, and the path's bucket is the agent's 40/60.
    target = f"/v2/credentials/{emu.state.credentials_id}"
    assert [_ask(emu, target)[0] for _ in range(60)] == [200] * 60
    assert {(b.rate, b.burst) for b in emu._buckets.values()} == {(40.0, 60)}
    # A bucket that refills once in 100 s, so the count does not hang on the machine's speed:
    # a path's bucket runs dry after its burst, another path's does not; a lower limit is sent.
    emu.update({"rps_limit": 0.01, "rps_burst": 60})
    statuses = [_ask(emu, target)[0] for _ in range(70)]
    assert statuses == [200] * 60 + [429] * 10, statuses
    status, headers, body = _ask(emu, target)
    assert (status, headers["Content-Type"], body) == (429, "text/plain; charset=utf-8", b"You have reached maximum request limit.")
    assert _ask(emu, f"/v4/{emu.state.container_id}")[0] == 200
    assert headers["X-Rate-Limit-Limit"] == "0.01"
    emu.update({"rps_limit": 10.0, "rps_burst": 15})
    assert _ask(emu, target)[1]["X-Rate-Limit-Limit"] == "10.00"
    emu.update({"rps_limit": None})
    assert "X-Rate-Limit-Limit" not in _ask(emu, target)[1]


def test_the_probe_shows_the_rate_limit(emu: Emulator, home: str) -> None:
    emu.update({"rps_limit": 10.0})
    cred = probe_json(emu, home).check("endpoint.credentials")
    assert cred["status"] == "pass" and cred["data"]["rate_limit"] == {"limit_per_second": 10.0, "duration_seconds": 1, "caller": cred["data"]["rate_limit"]["caller"]}
    assert "the agent allows 10 requests/s per caller address and path" in cred["detail"] and "lowered from the default 40" in cred["detail"]
    emu.update({"behaviour": "rate-limited"})
    cred = probe_json(emu, home).check("endpoint.credentials")
    assert cred["status"] == "fail" and "this request found the bucket empty" in cred["detail"], cred


def test_a_stopped_agent_refuses_credentials_and_metadata(emu: Emulator, home: str) -> None:
    emu.update({"behaviour": "down"})
    import socket

    host, port = emu.servers["agent"].server_address[:2]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=2).close()
    run = probe_json(emu, home)
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and "refused" in cred["detail"]
    assert run.status("endpoint.task-metadata") == "warn" and run.report["task"] is None
    assert emu.state.requests.get("credentials", 0) == 0
    # Started again, on the same address.
    emu.update({"behaviour": "ok"})
    assert _ask(emu, f"/v4/{emu.state.container_id}")[0] == 200
    # The old "down": credentials connections dropped, metadata up.
    emu.update({"behaviour": "drop"})
    run = probe_json(emu, home)
    assert run.status("endpoint.credentials") == "fail" and run.status("endpoint.task-metadata") == "pass"


def test_the_agents_error_bodies(emu: Emulator) -> None:
    cid = emu.state.credentials_id
    assert _ask(emu, "/v2/credentials")[2] == b"404 page not found\n"
    assert json.loads(_ask(emu, "/v2/credentials/")[2])["code"] == "NoIdInRequest"
    assert json.loads(_ask(emu, f"/v2/credentials/{cid}/")[2])["code"] == "InvalidIdInRequest"
    encoded = cid[:-1] + f"%{ord(cid[-1]):02x}"
    assert _ask(emu, f"/v2/credentials/{encoded}")[0] == 200
    emu.update({"behaviour": "internal"})
    assert _ask(emu, f"/v2/credentials/{cid}")[2] == b'{"code":"InternalServerError","message":"Internal server error","HTTPErrorCode":500}'
    status, headers, body = _ask(emu, "/v4/nope/task")
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == "V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: nope"


@pytest.mark.parametrize(
    "launch_type, mode, networks",
    [
        ("EC2", "bridge", [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]),
        ("EC2", "host", [{"NetworkMode": "host", "IPv4Addresses": [""]}]),
        ("EC2", "awsvpc", None),
        ("FARGATE", "awsvpc", None),
    ],
    ids=["bridge", "host", "awsvpc", "fargate"],
)
def test_task_metadata_documents(emu: Emulator, home: str, launch_type: str, mode: str, networks: list | None) -> None:
    emu.update({"launch_type": launch_type, "network_mode": mode})
    cid = emu.state.container_id
    container = json.loads(_ask(emu, f"/v4/{cid}")[2])
    task = json.loads(_ask(emu, f"/v4/{cid}/task")[2])
    assert container["DockerId"] == emu.state.docker_id != cid
    for key in ("ImageID", "Limits", "CreatedAt", "StartedAt", "LogDriver", "LogOptions", "ContainerARN", "Networks"):
        assert key in container, key
    for key in ("PullStartedAt", "AvailabilityZone", "AvailabilityZoneID", "VPCID", "ServiceName", "LaunchType"):
        assert key in task, key
    if networks is not None:
        assert container["Networks"] == networks
    else:
        assert {"IPv4SubnetCIDRBlock", "PrivateDNSName", "SubnetGatewayIpv4Address", "MACAddress"} <= set(container["Networks"][0])
    assert ({"ClockDrift", "EphemeralStorageMetrics", "Limits"} <= set(task)) == (launch_type == "FARGATE")
    assert json.loads(_ask(emu, f"/v4/{cid}/stats")[2])["id"] == emu.state.docker_id
    assert list(json.loads(_ask(emu, f"/v4/{cid}/task/stats")[2])) == [emu.state.docker_id]
    assert json.loads(_ask(emu, f"/v4/{cid}/taskWithTags")[2])["TaskARN"] == task["TaskARN"]
    run = probe_json(emu, home)
    assert run.report["task"]["network_mode"] == mode and run.report["task"]["launch_type"] == launch_type
    assert run.status("endpoint.task-metadata") == "pass"


def test_pod_identity_stand_in_serves_the_probe(home: str) -> None:
    """FULL_URI to the Pod Identity Agent stand-in with the token file: the probe passes and
    the identity is the pod's role; the stand-in is a server of its own."""
    from probe.emulator import service_account_token

    with Emulator(pod_identity="127.0.0.1:0") as e:
        e.update({"imds_enabled": False})
        e.give_task_role("app-task-role")
        pod = e.give_pod_role("app-pod-role")
        token = service_account_token()
        e.update({"pod_identity_token": token})
        path = os.path.join(home, "eks-pod-identity-token")
        with open(path, "w") as fh:
            fh.write(token)
        env = clean_env(home, {**e.task_env(), **e.pod_identity_env(path)})
        assert e.url("pod_identity") != e.url("agent")
        st = e.state
        run = run_probe(["--json"], env, secrets=[st.credentials_id, token, pod.secret_access_key, pod.token])
        assert run.check("endpoint.credentials")["status"] == "pass", run.check("endpoint.credentials")
        assert run.report["identity"]["arn"].startswith("arn:aws:sts::123456789012:assumed-role/app-pod-role/")
        assert e.state.requests["pod_identity"] == 1 and e.state.requests.get("credentials", 0) == 0
        # Without the token: the Pod Identity Agent's own plain-text 400.
        status, headers, body = _ask(e, "/v1/credentials", role="pod_identity")
        assert (status, body) == (400, b"Service account token cannot be empty\n")


def test_the_emulator_command_serves_pod_identity(home: str) -> None:
    proc = _emulator_command("--pod-identity", "127.0.0.1:0", "--network-mode", "bridge")
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        pod = ready["pod_identity"]
        with open(pod["token_file"]) as fh:
            token = fh.read()
        env = clean_env(home, {**ready["env"], **pod["env"]})
        del env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        env.update(pod["env"])
        run = run_probe(["--json", "--only", "endpoint.credentials,endpoint.task-metadata"], env, secrets=[token, ready["credentials_id"]])
        assert run.status("endpoint.credentials") == "pass", run.stdout
        assert run.report["task"]["network_mode"] == "bridge"
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(pod["token_file"]), "the token file goes with the emulator"
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------
# Issue 22, in a network namespace (tests/nshost.py): the real addresses, moto's STS.
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nshost():  # noqa: ANN201
    from helpers import NetnsHost, need, netns_available

    why = netns_available()
    need(why is None, why or "")
    with NetnsHost() as h:
        yield h


# PID 1 of the probe's PID namespace keeps the agent's value; the probe, its child, gets the
# one in PROBE_TEST_CHILD_VALUE: an entrypoint that rewrote the variable after start.
REWRITING_INIT = (
    "import os, subprocess, sys\n"
    "env = dict(os.environ)\n"
    "env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] = env.pop('PROBE_TEST_CHILD_VALUE')\n"
    "sys.exit(subprocess.run(sys.argv[1:], env=env).returncode)\n"
)


def _probe_rewritten(nshost, home: str, value: str):  # noqa: ANN001, ANN202
    import sys

    from helpers import ProbeRun, assert_no_secrets

    env = nshost.task_env(home, PROBE_TEST_CHILD_VALUE=value)
    cmd = ["ip", "netns", "exec", nshost.name, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
           sys.executable, "-c", REWRITING_INIT, sys.executable, "-m", "probe", "--json", "--deadline", "4"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_no_secrets([proc.stdout, proc.stderr], nshost.secrets())
    return ProbeRun(proc.returncode, proc.stdout, proc.stderr, 0.0)


@pytest.mark.parametrize(
    "form, words",
    [
        pytest.param("/v2/credentials//{id}", "a doubled slash", id="double-slash"),
        pytest.param("/v2/credentials/{id}/", "a slash after the id", id="trailing-slash"),
        pytest.param("/v2/credentials", "no '/<id>' after /v2/credentials", id="no-slash"),
    ],
)
def test_a_malformed_uri_and_where_it_was_changed(nshost, home: str, form: str, words: str) -> None:  # noqa: ANN001
    cid = nshost.state["credentials_id"]
    value = form.format(id=cid)
    nshost.set(reset_counters=True)
    # Rewritten after start: PID 1 still has the agent's value.
    run = _probe_rewritten(nshost, home, value)
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and words in cred["title"], cred
    assert "differs from PID 1's: it was rewritten after the container started" in cred["remedy"], cred["remedy"]
    assert "Restart the task" not in cred["remedy"] and "ECS_ENABLE_TASK_IAM_ROLE" not in cred["remedy"]
    assert run.report["cause"]["check"] in ("endpoint.credentials", "processes.credentials-variable"), run.report["cause"]
    assert nshost.set()["requests"]["credentials"] == 1, "one request per run"
    # Given to PID 1 already: set before the application started.
    run = run_probe(["--json", "--deadline", "4"], nshost.task_env(home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=value),
                    netns=nshost.name, secrets=nshost.secrets())
    cred = run.check("endpoint.credentials")
    assert cred["status"] == "fail" and "PID 1 has the same value: it was set before the application started" in cred["remedy"], cred
    assert "task definition's environment" in cred["remedy"]


def test_pod_identity_stand_in_on_its_ipv6_address(nshost, home: str) -> None:  # noqa: ANN001
    pod = nshost.info.get("pod_identity")
    if not pod:
        pytest.skip("the namespace has no IPv6 for fd00:ec2::23")
    path = os.path.join(home, "eks-pod-identity-token")
    with open(path, "w") as fh:
        fh.write(pod["service_account_token"])
    env = nshost.task_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=pod["url"], AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=path)
    del env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    run = run_probe(["--json", "--deadline", "4"], env, netns=nshost.name,
                    secrets=nshost.secrets() + [pod["service_account_token"], pod["secret_access_key"], pod["token"]])
    assert run.check("endpoint.credentials")["status"] == "pass", run.check("endpoint.credentials")
    assert run.report["identity"]["arn"] == pod["arn"], run.report["identity"]
    # The ECS path at the Pod Identity Agent: its 404, named as the wrong path for that agent.
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = pod["url"].replace("/v1/credentials", "/v2/credentials/x")
    cred = run_probe(["--json", "--deadline", "4", "--only", "endpoint.credentials"], env, netns=nshost.name,
                     secrets=nshost.secrets() + [pod["service_account_token"]]).check("endpoint.credentials")
    assert cred["status"] == "fail" and "not the Pod Identity Agent's /v1/credentials" in cred["title"], cred
