"""Unit tests of probe/redact.py: the masks, and the Redactor's two layers.

Each test uses its own ``Redactor()`` so secrets registered elsewhere in the test run
cannot make a test pass (or fail) by accident.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from probe import redact
from probe.redact import MASK, Redactor, mask_key_id, mask_relative_uri, mask_url

CRED_ID = "3f1c2a4e-8b9d-4c1e-9a7b-2d5e6f708192"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFMaCXVzLWVhc3QtMSJHMEUCIQD9EXAMPLEtokenvalue+/Zx8Qw3Rt5Yu7Io9Pa=="
AUTH_TOKEN = "QmVhcmVyIGF1dGggdG9rZW4gZm9yIHRoZSBhZ2VudA"
PROXY_PASSWORD = "pa55w0rd"


# ---------------------------------------------------------------------------------------
# mask_key_id
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_id, masked",
    [
        pytest.param("AKIAIOSFODNN7EXAMPLE", "****MPLE", id="long-term-key"),
        pytest.param("ASIAY34FZKBOKMUTVV7A", "****VV7A", id="session-key"),
        pytest.param("ABCDE", "****BCDE", id="five-chars"),
        pytest.param("ABCD", "****", id="four-chars-shows-nothing"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_mask_key_id_keeps_only_the_last_four(key_id: Optional[str], masked: Optional[str]) -> None:
    assert mask_key_id(key_id) == masked


def test_mask_key_id_hides_the_rest() -> None:
    out = mask_key_id("AKIAIOSFODNN7EXAMPLE")
    assert out is not None
    assert "AKIA" not in out and "IOSFODNN7EXA" not in out
    assert out.endswith("MPLE") and out.startswith(MASK)


# ---------------------------------------------------------------------------------------
# mask_relative_uri
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, masked",
    [
        pytest.param(f"/v2/credentials/{CRED_ID}", "/v2/credentials/****", id="v2-path-id"),
        pytest.param(f"/v1/credentials?id={CRED_ID}", "/v1/credentials?id=****", id="v1-query-id"),
        pytest.param(f"/v2/credentials/{CRED_ID}#frag", "/v2/credentials/****", id="fragment-dropped"),
        pytest.param(f"/v2/credentials/{CRED_ID}?x={CRED_ID}&flag", "/v2/credentials/****?x=****&****", id="every-query-part"),
        pytest.param(f"/v2/CREDENTIALS/{CRED_ID}", "/v2/CREDENTIALS/****", id="plain-words-any-case"),
        pytest.param(f"@attacker.example/{CRED_ID}", "@****", id="not-a-path-keeps-first-char"),
        pytest.param(f"v2/credentials/{CRED_ID}", "v****", id="missing-leading-slash"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_mask_relative_uri(uri: Optional[str], masked: Optional[str]) -> None:
    out = mask_relative_uri(uri)
    assert out == masked
    assert CRED_ID not in (out or "")


def test_mask_relative_uri_keeps_a_network_path_visible() -> None:
    out = mask_relative_uri(f"//attacker.example/v2/credentials/{CRED_ID}")
    assert out is not None and CRED_ID not in out
    assert out != "/v2/credentials/****"
    assert out.startswith("//")


# ---------------------------------------------------------------------------------------
# mask_url
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, masked",
    [
        pytest.param(f"http://user:{PROXY_PASSWORD}@proxy:3128", "http://user:****@proxy:3128", id="proxy-password"),
        pytest.param(f"user:{PROXY_PASSWORD}@proxy:3128", "user:****@proxy:3128", id="proxy-without-scheme"),
        pytest.param("http://user:p%40ss%3Aw0rd@proxy.corp.example:3128/", "http://user:****@proxy.corp.example:3128/", id="percent-encoded-password"),
        pytest.param("http://user:pa@ss@proxy:3128", "http://user:****@proxy:3128", id="at-sign-in-password"),
        pytest.param("http://user:@proxy:3128", "http://user:****@proxy:3128", id="empty-password"),
        pytest.param(
            "https://creds.example/v1/credentials?token=abcd1234efgh&role=app",
            "https://creds.example/v1/credentials?token=****&role=****",
            id="query-values",
        ),
        pytest.param("http://proxy.corp.example:3128", "http://proxy.corp.example:3128", id="nothing-secret"),
        pytest.param("http://169.254.170.23/v1/credentials", "http://169.254.170.23/v1/credentials", id="full-uri-unchanged"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_mask_url(url: Optional[str], masked: Optional[str]) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", ["http://user:pw@[::1", "user:pw@[fe80::1/x"])
def test_mask_url_unparseable_is_masked_whole(url: str) -> None:
    assert mask_url(url) == MASK


# ---------------------------------------------------------------------------------------
# Redactor.register / scrub: registered secrets, whole and in part
# ---------------------------------------------------------------------------------------


@pytest.fixture
def r() -> Redactor:
    """A fresh redactor that knows the secret access key and a session token."""
    red = Redactor()
    red.register(SECRET_KEY)
    red.register(SESSION_TOKEN)
    return red


def test_scrub_removes_a_registered_secret(r: Redactor) -> None:
    out = r.scrub(f"aws_secret={SECRET_KEY} then more")
    assert out == f"aws_secret={MASK} then more"


def test_scrub_removes_a_prefix_fragment_in_an_error_message(r: Redactor) -> None:
    fragment = SECRET_KEY[:20]
    out = r.scrub(f"SignatureDoesNotMatch: the key {fragment}... was rejected")
    assert fragment not in out
    assert out == f"SignatureDoesNotMatch: the key {MASK}... was rejected"


@pytest.mark.parametrize(
    "fragment",
    [
        pytest.param(SECRET_KEY[:8], id="first-8"),
        pytest.param(SECRET_KEY[-8:], id="last-8"),
        pytest.param(SECRET_KEY[11:23], id="middle-12"),
        pytest.param(SESSION_TOKEN[30:62], id="token-middle-32"),
    ],
)
def test_scrub_removes_any_fragment_of_eight_or_more(r: Redactor, fragment: str) -> None:
    out = r.scrub(f"<{fragment}>")
    assert out == f"<{MASK}>"


def test_scrub_merges_overlapping_fragments_into_one_mask(r: Redactor) -> None:
    # Two overlapping windows of the same secret: one mask, not two.
    assert r.scrub(f"x {SESSION_TOKEN[5:25]} y") == f"x {MASK} y"


def test_scrub_several_secrets_in_one_text(r: Redactor) -> None:
    out = r.scrub(f"key={SECRET_KEY}\ntoken={SESSION_TOKEN[:40]}\n")
    assert SECRET_KEY[:8] not in out and SESSION_TOKEN[:8] not in out
    assert out.count(MASK) == 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("The credentials endpoint answered HTTP 200 in 3 ms", id="report-sentence"),
        pytest.param("arn:aws:sts::123456789012:assumed-role/app-task-role/0123456789abcdef", id="arn"),
        pytest.param("GET http://169.254.169.254/latest/meta-data/iam/security-credentials/ecsInstanceRole", id="imds-role-path"),
        pytest.param("NO_PROXY=169.254.169.254,169.254.170.2", id="no-proxy"),
        pytest.param("", id="empty"),
        pytest.param("short", id="shorter-than-a-window"),
    ],
)
def test_scrub_leaves_ordinary_text_alone(r: Redactor, text: str) -> None:
    assert r.scrub(text) == text


def test_short_secrets_are_masked_whole_and_tiny_ones_ignored() -> None:
    red = Redactor()
    red.register("s3cr3t")  # 6 characters: below the window, masked whole
    red.register("abc")  # below _MIN_SECRET: would mask ordinary words, ignored
    red.register("")
    red.register(None)
    assert red.scrub("pw s3cr3t, abc") == f"pw {MASK}, abc"


def test_redactors_do_not_share_secrets() -> None:
    one, two = Redactor(), Redactor()
    one.register(SECRET_KEY)
    assert one.scrub(SECRET_KEY) == MASK
    assert two.scrub(SECRET_KEY) == SECRET_KEY


# ---------------------------------------------------------------------------------------
# Redactor.scrub: what is masked without being registered
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        pytest.param(
            f"GET http://169.254.170.2/v2/credentials/{CRED_ID} failed",
            "GET http://169.254.170.2/v2/credentials/**** failed",
            id="after-credentials-slash",
        ),
        pytest.param(
            f'error: "/v2/credentials/{CRED_ID}" not found',
            'error: "/v2/credentials/****" not found',
            id="quoted",
        ),
        pytest.param(
            f"GET /v1/credentials?id={CRED_ID}&x=1",
            "GET /v1/credentials?id=****&x=1",
            id="v1-id-query",
        ),
        pytest.param(
            f"http://169.254.170.2/V2/CREDENTIALS/{CRED_ID}",
            "http://169.254.170.2/V2/CREDENTIALS/****",
            id="any-case",
        ),
    ],
)
def test_scrub_masks_credentials_ids_never_registered(text: str, scrubbed: str) -> None:
    assert Redactor().scrub(text) == scrubbed


def test_scrub_masks_json_secret_fields_never_registered() -> None:
    doc = {
        "RoleArn": "arn:aws:iam::123456789012:role/app-task-role",
        "AccessKeyId": "ASIAY34FZKBOKMUTVV7A",
        "SecretAccessKey": SECRET_KEY,
        "Token": SESSION_TOKEN,
        "Expiration": "2027-01-15T14:00:00Z",
    }
    out = Redactor().scrub(json.dumps(doc))
    assert SECRET_KEY[:8] not in out and SESSION_TOKEN[:8] not in out
    again = json.loads(out)  # still JSON
    assert again["SecretAccessKey"] == MASK
    assert again["Token"] == MASK
    assert {k: again[k] for k in ("RoleArn", "Expiration")} == {k: doc[k] for k in ("RoleArn", "Expiration")}
    # The contract allows an access key id's last four characters only (issue 11, item 4).
    assert again["AccessKeyId"] == MASK + "VV7A"


@pytest.mark.parametrize(
    "text, secret",
    [
        pytest.param(f'{{"SessionToken":"{SESSION_TOKEN}"}}', SESSION_TOKEN, id="session-token-compact"),
        pytest.param(f"AWS_SECRET_ACCESS_KEY={SECRET_KEY}", SECRET_KEY, id="env-assignment"),
        pytest.param(f"aws_session_token = {SESSION_TOKEN}", SESSION_TOKEN, id="ini-line"),
        pytest.param(f'"secretAccessKey": "{SECRET_KEY}"', SECRET_KEY, id="camel-case"),
    ],
)
def test_scrub_masks_secret_assignments(text: str, secret: str) -> None:
    out = Redactor().scrub(text)
    assert secret[:8] not in out
    assert out.endswith(MASK) or out.endswith(MASK + '"') or out.endswith(MASK + '"}')


def test_scrub_masks_secret_fields_in_a_python_repr() -> None:
    out = Redactor().scrub(str({"AccessKeyId": "ASIAY34FZKBOKMUTVV7A", "SecretAccessKey": SECRET_KEY}))
    assert SECRET_KEY[:8] not in out


def test_scrub_obj_scrubs_every_string_value_and_copies() -> None:
    red = Redactor()
    red.register(SECRET_KEY)
    obj = {
        "error": f"rejected {SECRET_KEY[:12]}",
        "nested": {"list": [f"x {SECRET_KEY} y", 3, None, True], "tuple": ("ok", SECRET_KEY)},
        "count": 2,
    }
    out = red.scrub_obj(obj)
    assert out == {
        "error": f"rejected {MASK}",
        "nested": {"list": [f"x {MASK} y", 3, None, True], "tuple": ["ok", MASK]},
        "count": 2,
    }
    assert obj["error"] == f"rejected {SECRET_KEY[:12]}", "the input is not modified"


def test_scrub_obj_keeps_keys_and_non_string_values() -> None:
    """Keys that merely contain 'token' keep their (non-secret) structured values."""
    facts = {
        "authorization_token": {"source": None, "present": False, "error": None, "illegal": False},
        "present": {"AWS_SESSION_TOKEN": True, "AWS_ACCESS_KEY_ID": True},
        "token": {"status": 200, "timed_out": False},
    }
    assert Redactor().scrub_obj(facts) == facts


# ---------------------------------------------------------------------------------------
# register_env
# ---------------------------------------------------------------------------------------

TASK_ENV = {
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": AUTH_TOKEN,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/v2/credentials/{CRED_ID}",
    "HTTP_PROXY": f"http://user:{PROXY_PASSWORD}@proxy:3128",
    "AWS_REGION": "us-east-1",
    "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/0123456789abcdef0123456789abcdef-2531612879",
}


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(SECRET_KEY, id="AWS_SECRET_ACCESS_KEY"),
        pytest.param(SESSION_TOKEN, id="AWS_SESSION_TOKEN"),
        pytest.param(AUTH_TOKEN, id="AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        pytest.param(PROXY_PASSWORD, id="proxy-password"),
        pytest.param(CRED_ID, id="relative-uri-id"),
    ],
)
def test_register_env_registers(secret: str) -> None:
    red = Redactor()
    red.register_env(TASK_ENV)
    out = red.scrub(f"error: saw {secret} in a message")
    assert secret not in out
    assert out == f"error: saw {MASK} in a message"
    if len(secret) >= 16:
        part = secret[3:15]
        assert red.scrub(f"[{part}]") == f"[{MASK}]", "fragments too"


def test_register_env_leaves_plain_values_alone() -> None:
    red = Redactor()
    red.register_env(TASK_ENV)
    text = "region us-east-1, proxy http://user@proxy:3128, metadata v4 answered, credentials endpoint OK"
    assert red.scrub(text) == text


@pytest.mark.parametrize(
    "name, value, secret",
    [
        pytest.param("AWS_SECURITY_TOKEN", SESSION_TOKEN, SESSION_TOKEN, id="legacy-security-token"),
        pytest.param("https_proxy", f"https://svc:{PROXY_PASSWORD}@proxy.corp.example:3129", PROXY_PASSWORD, id="lowercase-https-proxy"),
        pytest.param("ALL_PROXY", f"svc:{PROXY_PASSWORD}@proxy.corp.example:1080", PROXY_PASSWORD, id="all-proxy-without-scheme"),
        pytest.param(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            f"https://user:{PROXY_PASSWORD}@creds.internal.example/role",
            PROXY_PASSWORD,
            id="full-uri-password",
        ),
        pytest.param("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", f"/v1/credentials?id={CRED_ID}", CRED_ID, id="v1-query-id"),
        pytest.param("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", f"@attacker.example/{CRED_ID}", CRED_ID, id="unsafe-uri-id"),
    ],
)
def test_register_env_variants(name: str, value: str, secret: str) -> None:
    red = Redactor()
    red.register_env({name: value})
    assert red.scrub(f"x {secret} y") == f"x {MASK} y"


def test_register_env_with_a_malformed_uri_keeps_ordinary_words() -> None:
    """A relative URI without its leading slash must not turn 'credentials' into a secret."""
    red = Redactor()
    red.register_env({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"v2/credentials/{CRED_ID}"})
    assert red.scrub(f"id {CRED_ID}") == f"id {MASK}"
    for text in ("The credentials endpoint is unreachable", "ecs-credential-probe/facts/v1"):
        assert red.scrub(text) == text


def test_module_functions_use_the_process_redactor() -> None:
    """register/scrub at module level are the process-wide REDACTOR (what collectors use)."""
    secret = "Zk3vQp9LmX2wRt7YhB4nCd8F"  # unique to this test
    assert redact.scrub(secret) == secret
    redact.register(secret)
    assert redact.scrub(f"a {secret} b") == f"a {MASK} b"
    assert redact.REDACTOR.scrub(secret[2:14]) == MASK
    assert Redactor().scrub(secret) == secret


# ---------------------------------------------------------------------------------------
# The report's own vocabulary is never masked (issue 10, item 7)
#
# The redactor masks every 8-character piece of a secret it has seen. A secret made of
# readable words (a proxy password "identity", a relative URI of plain path words, a token
# that is a file path) used to register pieces such as "identity" and "credenti", and so
# masked check ids ("****.caller", "env.****-variable"), keys and statuses. Pieces that are
# report vocabulary are not registered; the secret itself stays masked.
# ---------------------------------------------------------------------------------------

from probe.checks import ORDER  # noqa: E402
from probe.model import Report, Result, Status  # noqa: E402

ALL_CHECK_IDS = [cid for ids in ORDER.values() for cid in ids]
CHECK_ID_WORDS = sorted({w for cid in ALL_CHECK_IDS for w in cid.replace(".", "-").split("-") if len(w) >= 4})


def _report() -> Report:
    """A report that names every check id, status and identity kind of the contract."""
    statuses = list(Status)
    results = tuple(
        Result(cid, statuses[i % len(statuses)], f"Title of {cid}", f"Detail of {cid}", f"Fix {cid}", {"check": cid})
        for i, cid in enumerate(ALL_CHECK_IDS)
    )
    identity = {
        "arn": "arn:aws:sts::123456789012:assumed-role/app-task-role/0123456789abcdef",
        "account": "123456789012", "provider": "container-role", "kind": "task-role",
        "role_name": "app-task-role", "session_name": "0123456789abcdef", "task_role_arn": None,
    }
    sdks = ({"sdk": "botocore", "title": "botocore", "version": "1.35.2", "path": "/usr/lib/python3/botocore/__init__.py",
             "gets": "instance-role", "source": "imds", "via_proxy": False, "used_by": [1], "why": "ok"},)
    return Report("task", "2026-11-27T23:00:00Z", 5, "The SDK uses the EC2 instance role, not the task role", results,
                  identity=identity, task=None, sdks=sdks)


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def assert_vocabulary_survives(red: Redactor) -> None:
    """Check ids, JSON keys and values, statuses survive the text and JSON renderings."""
    from probe.render import text as text_render

    report = _report()
    doc = report.to_dict()
    assert red.scrub_obj(doc) == doc, "the JSON report must come out unchanged"
    text = text_render.render(report, color=False, verbose=True)
    out = red.scrub(text)
    assert out == text, "the text report must come out unchanged"
    for cid in ALL_CHECK_IDS:
        assert cid in out
    flat = red.scrub(json.dumps(doc))
    assert _keys(json.loads(flat)) == _keys(doc)
    for word in ("pass", "warn", "fail", "skip", "error", "task-role", "instance-role", "imds", *CHECK_ID_WORDS):
        assert red.scrub(f"[{word}] {word}") == f"[{word}] {word}"


def assert_secret_masked(red: Redactor, secret: str) -> None:
    """The secret is gone, whole and in every piece that is not report vocabulary."""
    for text, where in (
        (f"ProxyError: Cannot connect to proxy http://svc:{secret}@proxy.corp.example:3128", f":{secret}@"),
        (f"https://svc:{secret}@proxy.corp.example:3129/", f":{secret}@"),
        (f"AWS_CONTAINER_AUTHORIZATION_TOKEN={secret}", f"={secret}"),
        (f'{{"Token": "{secret}"}}', f'"{secret}"'),
    ):
        out = red.scrub(text)
        assert where not in out, out
        assert secret not in out or redact.is_vocabulary(secret), out
    if redact.is_vocabulary(secret):
        return  # a secret that is only a report word: masked where it stands as a secret (above)
    for text in (f"saw {secret} here", f"<{secret}>", f"quoted '{secret[: len(secret) // 2 + 4]}'"):
        out = red.scrub(text)
        assert secret not in out
        for i in range(len(secret) - 7):
            piece = secret[i : i + 8]
            assert piece not in out or redact.is_vocabulary(piece), f"{piece!r} leaked from {text!r}: {out!r}"


def test_every_check_id_key_and_status_is_vocabulary() -> None:
    for token in [*ALL_CHECK_IDS, *_keys(_report().to_dict()), *(s.value for s in Status)]:
        assert redact.is_vocabulary(token), token
    for secret in (SECRET_KEY, SESSION_TOKEN, AUTH_TOKEN, CRED_ID, PROXY_PASSWORD, "correcthorsebattery"):
        assert not redact.is_vocabulary(secret)
        assert not any(redact.is_vocabulary(secret[i : i + 8]) for i in range(len(secret) - 7)), secret


@pytest.mark.parametrize(
    "env, secrets",
    [
        pytest.param({"HTTP_PROXY": "http://svc:identity@proxy:3128"}, ["identity"], id="proxy-password-is-identity"),
        pytest.param({"HTTPS_PROXY": "http://svc:my-identity-Pw42@proxy:3128"}, ["my-identity-Pw42"], id="proxy-password-contains-identity"),
        pytest.param({"http_proxy": "http://svc:identity.caller@proxy:3128"}, ["identity.caller"], id="proxy-password-is-a-check-id"),
        pytest.param({"HTTP_PROXY": "http://svc:pass@proxy:3128"}, ["pass"], id="proxy-password-is-a-status"),
        pytest.param({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/../../latest/meta-data/iam/security-credentials/"}, [], id="relative-uri-of-path-words"),
        pytest.param({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/../../latest/meta-data/iam/security-credentials/{CRED_ID}"}, [CRED_ID], id="relative-uri-words-and-id"),
        pytest.param({"AWS_CONTAINER_AUTHORIZATION_TOKEN": "/var/run/secrets/ecs/identity-credentials-token"}, ["/var/run/secrets/ecs/identity-credentials-token"], id="token-is-a-readable-path"),
        pytest.param({"AWS_CONTAINER_AUTHORIZATION_TOKEN": f"identity-{AUTH_TOKEN}"}, [f"identity-{AUTH_TOKEN}"], id="token-with-a-word-prefix"),
        pytest.param({"AWS_SESSION_TOKEN": SESSION_TOKEN, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}, [SESSION_TOKEN, SECRET_KEY], id="real-keys"),
    ],
)
def test_secrets_of_readable_words_never_mask_the_vocabulary(env: dict, secrets: list) -> None:
    red = Redactor()
    red.register_env(env)
    assert_vocabulary_survives(red)
    for secret in secrets:
        assert_secret_masked(red, secret)


NEIGHBOURS = [
    "credentials", "variable", "endpoint", "proxy", "metadata", "region", "profile", "processes",
    "versions", "task-role", "caller", "expiry", "clock-skew", "shadowing", "instance-role",
    "credentials-variable", "uri-safe", "agent-running", "route-localnet", "static-credentials",
    "ecs-tasks-principal", "conditions", "iptables", "persisted", "multi-process", "identity",
]


@pytest.mark.parametrize("word", NEIGHBOURS)
@pytest.mark.parametrize("shape", ["{w}", "Zq7-{w}-x9", "/run/secrets/{w}-token", "{w}{w}"])
def test_check_id_words_in_any_secret_never_mask_the_vocabulary(word: str, shape: str) -> None:
    secret = shape.format(w=word)
    red = Redactor()
    red.register_env({"HTTP_PROXY": f"http://svc:{secret}@proxy:3128", "AWS_CONTAINER_AUTHORIZATION_TOKEN": secret})
    red.register(secret)  # as a token file's content would be
    assert_vocabulary_survives(red)
    assert_secret_masked(red, secret)


@pytest.mark.parametrize("word", NEIGHBOURS)
def test_relative_uri_of_plain_words_never_masks_the_vocabulary(word: str) -> None:
    red = Redactor()
    red.register_env({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/../../latest/{word}/security-credentials/{word}-{CRED_ID}"})
    assert_vocabulary_survives(red)
    assert_secret_masked(red, f"{word}-{CRED_ID}")
    assert red.scrub(f"GET http://169.254.170.2/v2/credentials/{CRED_ID}") == "GET http://169.254.170.2/v2/credentials/****"


def test_url_passwords_are_masked_even_when_never_registered() -> None:
    red = Redactor()
    assert red.scrub("ProxyError('http://svc:identity@proxy:3128')") == "ProxyError('http://svc:****@proxy:3128')"
    assert red.scrub("proxy http://user@proxy:3128, http://169.254.170.2:80/v2/x") == "proxy http://user@proxy:3128, http://169.254.170.2:80/v2/x"


def test_the_process_redactor_keeps_the_report_intact_after_word_secrets() -> None:
    """Through the module functions every renderer uses (probe.render.json)."""
    from probe.render import json as json_render

    red = redact.REDACTOR
    red.register_env({"HTTP_PROXY": "http://svc:identity@proxy:3128", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/../../latest/meta-data/iam/security-credentials/"})
    report = _report()
    assert json.loads(json_render.render(report)) == report.to_dict()
    assert_vocabulary_survives(red)


# ---------------------------------------------------------------------------------------
# Issue 19, item 5: the redactor never changes a document's structure
#
# An unclosed <Token>, <SecretAccessKey ...> or <SessionToken> in a role name, an error
# message, a RoleArn or a task Family used to mask everything up to the next "<" or the end of
# the text: the text report lost its Verdict line, /metrics was cut mid-label. Now a tag it
# can pair has its content masked; an unpaired one masks its value, up to the end of the field
# (whitespace, a line break, a quote or another delimiter), never further.
# ---------------------------------------------------------------------------------------

import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

from probe.facts import Facts  # noqa: E402

UNCLOSED_TAGS = {
    "token": "<Token>",
    "secret-access-key": '<SecretAccessKey xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
    "session-token": "<SessionToken>",
}
# Follows the tag in a hostile value: a secret-shaped word (never registered), then the rest
# of the field, which must survive.
AFTER = "IQoJb3JpZ2luX2VjEJr0SECRETPART"
REST = " and the rest of the field"


def hostile(tag: str, prefix: str = "app") -> str:
    return prefix + tag + AFTER + REST


def _hostile_report(place: str, value: str) -> Report:
    """_report() with ``value`` at one place a peer decides: role name, ARNs, cluster, family
    (in a check's title), an error message (in a check's detail)."""
    base = _report()
    identity = dict(base.identity or {})
    task = {"cluster": "prod", "task_arn": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc", "launch_type": "EC2",
            "network_mode": "awsvpc", "container_name": "app", "availability_zone": "us-east-1a"}
    results = list(base.results)
    if place == "role-name":
        identity["role_name"] = value
        identity["arn"] = f"arn:aws:sts::123456789012:assumed-role/{value}/session"
    elif place == "role-arn":
        identity["task_role_arn"] = f"arn:aws:iam::123456789012:role/{value}"
    elif place == "cluster":
        task["cluster"] = value
    elif place == "family":
        results[0] = Result(results[0].id, Status.PASS, f"Task {value}:1 in cluster prod", "", "", {"family": value})
    elif place == "error-message":
        results[1] = Result(results[1].id, Status.FAIL, "The credentials endpoint answered 500", f"InternalServerError: {value}", "Fix it.", {})
    return Report(base.mode, base.started_at, base.duration_ms, base.summary, tuple(results), identity=identity, task=task, sdks=base.sdks)


PLACES = ["role-name", "role-arn", "cluster", "family", "error-message"]


@pytest.mark.parametrize("layer", ["values-then-document", "document-only"])
@pytest.mark.parametrize("tag", list(UNCLOSED_TAGS.values()), ids=list(UNCLOSED_TAGS))
@pytest.mark.parametrize("place", PLACES)
def test_an_unclosed_tag_keeps_the_text_report_whole(monkeypatch: pytest.MonkeyPatch, place: str, tag: str, layer: str) -> None:
    """Every line stays; only the tag's value is masked. The text renderer scrubs each value,
    then the CLI scrubs the whole text: each layer alone keeps the report whole."""
    from probe.render import text as text_render

    raw = text_render.render(_hostile_report(place, hostile(tag)), color=False, verbose=True)
    if layer == "document-only":
        monkeypatch.setattr(text_render, "_safe", text_render.terminal_safe)
        text = text_render.render(_hostile_report(place, hostile(tag)), color=False, verbose=True)
        want = text.replace(AFTER, MASK)  # (a detail may wrap inside the tag: it is still one)
    else:
        text = raw
        want = text_render.render(_hostile_report(place, hostile(tag).replace(AFTER, MASK)), color=False, verbose=True)
    out = Redactor().scrub(text)
    assert out == want
    assert len(out.splitlines()) == len(text.splitlines())
    assert out.splitlines()[-2].startswith("Verdict: ")
    assert AFTER not in out and REST in " ".join(out.split())


@pytest.mark.parametrize("tag", list(UNCLOSED_TAGS.values()), ids=list(UNCLOSED_TAGS))
def test_a_tag_and_its_value_wrapped_apart_stay_masked(tag: str) -> None:
    """A detail wrapped between an unclosed tag and its value (after a space): the text
    renderer scrubs the value before it wraps it."""
    from probe.render import text as text_render

    for width in range(30, 110):
        message = "x" * width + f" {tag} {AFTER}{REST}"
        out = Redactor().scrub(text_render.render(_hostile_report("error-message", message), color=False))
        assert AFTER not in out, out
        assert out.splitlines()[-2].startswith("Verdict: ")


@pytest.mark.parametrize("tag", list(UNCLOSED_TAGS.values()), ids=list(UNCLOSED_TAGS))
@pytest.mark.parametrize("place", PLACES)
def test_an_unclosed_tag_keeps_the_json_report_whole(place: str, tag: str) -> None:
    """The JSON report (and the sidecar's /report, scrubbed the same way): each value masked
    after its tag, up to the end of the field, the rest of the value kept."""
    report = _hostile_report(place, hostile(tag))
    doc = report.to_dict()
    out = Redactor().scrub_obj(doc)
    assert json.loads(json.dumps(doc).replace(tag + AFTER, tag + MASK).replace(json.dumps(tag)[1:-1] + AFTER, json.dumps(tag)[1:-1] + MASK)) == out
    # The same document scrubbed as text (probe health --json scrubs its serialized line).
    for text in (json.dumps(doc), json.dumps(doc, indent=2)):
        again = json.loads(Redactor().scrub(text))
        assert _keys(again) == _keys(doc) and AFTER not in json.dumps(again)


def _families(body: bytes) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def promtool_check(body: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        from helpers import need

        need(False, "promtool is not installed (Debian package prometheus; CI installs it)")
    proc = subprocess.run([str(promtool), "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode() + "\n" + body.decode()[-3000:]


@pytest.mark.parametrize("tag", list(UNCLOSED_TAGS.values()), ids=list(UNCLOSED_TAGS))
@pytest.mark.parametrize("role", ["{value}", 'quoted "{value}" \\ back\nslash'], ids=["plain", "escapes"])
def test_an_unclosed_tag_keeps_metrics_whole(tag: str, role: str) -> None:
    """/metrics: promtool passes and every family and label is there; the role label is
    masked after its tag (escaped quotes, backslashes and line breaks included)."""
    from probe.metrics import Metrics

    value = role.format(value=hostile(tag))
    plain = Metrics().record(_hostile_report("role-name", "app"), Facts({}))
    body = Metrics().record(_hostile_report("role-name", value), Facts({}))
    promtool_check(body)
    fams, before = _families(body), _families(plain)
    assert {n: len(f.samples) for n, f in fams.items()} == {n: len(f.samples) for n, f in before.items()}
    for name, fam in fams.items():
        assert [s.labels.keys() for s in fam.samples] == [s.labels.keys() for s in before[name].samples]
    (identity,) = fams["ecs_credential_probe_identity_info"].samples
    assert ("app" + tag + MASK + REST) in identity.labels["role"] and AFTER not in body.decode()


def test_emf_scrubs_the_names_it_takes_from_task_metadata() -> None:
    """EMF's Cluster and TaskFamily come from task metadata, not from the scrubbed report:
    an unclosed tag is masked there like anywhere, and so is a registered secret."""
    from probe.metrics import emf_line

    secret = "Zx9Qw8Er7Ty6Ui5Op4As3Df2"
    redact.register(secret)
    facts = Facts({"metadata": {"info": {"cluster": hostile(UNCLOSED_TAGS["token"], "prod"), "family": f"web-{secret}", "task_arn": None}}})
    report = _hostile_report("cluster", hostile(UNCLOSED_TAGS["token"], "prod"))
    line = json.dumps(emf_line(report, facts, redact.scrub_obj(report.to_dict())), separators=(",", ":"))
    doc = json.loads(line)
    assert doc["Cluster"] == "prod<Token>" + MASK + REST
    assert doc["TaskFamily"] == "web-" + MASK
    assert secret[:8] not in line and AFTER not in line


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        pytest.param("<Token>abc</Token>", "<Token>****</Token>", id="paired"),
        pytest.param("<Token>a b c</Token> then text", "<Token>****</Token> then text", id="paired-with-spaces"),
        pytest.param("<Token></Token>", "<Token></Token>", id="paired-empty"),
        pytest.param('<SecretAccessKey xmlns="x">abc</SecretAccessKey>', '<SecretAccessKey xmlns="x">****</SecretAccessKey>', id="paired-attributes"),
        pytest.param("<sessiontoken>abc</SESSIONTOKEN>", "<sessiontoken>****</SESSIONTOKEN>", id="any-case"),
        pytest.param("<Token>\n    IQoJb3JpZ2lu\n  </Token>\n<Next/>", "<Token>\n    ****\n  </Token>\n<Next/>", id="pretty-printed"),
        pytest.param("<Token>\n    IQoJb3JpZ2lu", "<Token>\n    ****", id="pretty-printed-cut-short"),
        pytest.param("<Token>IQoJb3JpZ2lu", "<Token>****", id="cut-short"),
        pytest.param("x<Token>IQoJ/b3Jp+Z2lu= rest of the line\nnext", "x<Token>**** rest of the line\nnext", id="unclosed-in-a-line"),
        pytest.param("<Token>abc</Other> more", "<Token>****</Other> more", id="unclosed-before-another-tag"),
        pytest.param("x <Token>\n\nVerdict: FAIL (1 fail)\n", "x <Token>\n\nVerdict: FAIL (1 fail)\n", id="at-a-line-end"),
        pytest.param("x <Token>\n        kind task-role, source\n", "x <Token>\n        kind task-role, source\n", id="next-line-of-words"),
        pytest.param('role="x<Token>abc",kind="task"} 1', 'role="x<Token>****",kind="task"} 1', id="label-value"),
        pytest.param('role="x<Token>a\\"b\\\\c\\nd"} 1', 'role="x<Token>****"} 1', id="label-value-escapes"),
        pytest.param('check="<Token>",status="</Token>"} 1', 'check="<Token>",status="</Token>"} 1', id="never-pairs-across-a-quote"),
        pytest.param("<Token/>abc", "<Token/>abc", id="self-closing"),
        pytest.param("<TokenType>abc</TokenType>", "<TokenType>abc</TokenType>", id="another-name"),
        pytest.param('<SecretAccessKey\n  xmlns="x">abc</SecretAccessKey>', '<SecretAccessKey\n  xmlns="x">****</SecretAccessKey>', id="tag-across-lines"),
    ],
)
def test_xml_secret_fields(text: str, scrubbed: str) -> None:
    assert Redactor().scrub(text) == scrubbed


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        pytest.param('"Token": "abc" rest', '"Token": "****" rest', id="json"),
        pytest.param("Token:\n\nVerdict: FAIL", "Token:\n\nVerdict: FAIL", id="never-past-a-line-break"),
        pytest.param('{"m": "Token=abc\\"def", "n": 1}', '{"m": "Token=****", "n": 1}', id="escaped-quote-masked-whole"),
        pytest.param('{"m": "Token=abc\\\\", "n": 1}', '{"m": "Token=****", "n": 1}', id="escaped-backslash-masked-whole"),
        pytest.param("GET /v2/credentials/abc\\\"x\" y", 'GET /v2/credentials/****" y', id="credentials-id-escape"),
    ],
)
def test_secret_values_end_with_their_field(text: str, scrubbed: str) -> None:
    assert Redactor().scrub(text) == scrubbed


def test_a_registered_secret_keeps_the_line_breaks_it_spans() -> None:
    red = Redactor()
    red.register("first-half-Zq7Wx\nsecond-half-Pv3Kt")  # a token file read as it is
    out = red.scrub("a first-half-Zq7Wx\nsecond-half-Pv3Kt b\nnext line")
    assert out == f"a {MASK}\n{MASK} b\nnext line"


def test_a_registered_secret_is_masked_with_whole_escapes() -> None:
    """In JSON text a mask never ends inside an escape (the document stays JSON)."""
    red = Redactor()
    red.register('Pq8"Rs7Tu6Vw5')  # a proxy password with a quote
    red.register("Ab1Cd2Ef3Gh4\\")  # ... and one ending in a backslash
    for value in ('x Pq8"Rs7Tu6Vw5 y', "x Ab1Cd2Ef3Gh4\\", 'Ab1Cd2Ef3Gh4\\"'):
        text = json.dumps({"message": value, "n": 1})
        doc = json.loads(red.scrub(text))
        assert set(doc) == {"message", "n"} and "Rs7Tu6" not in doc["message"] and "Cd2Ef3" not in doc["message"]


# ---------------------------------------------------------------------------------------
# Random hostile documents: the structure survives, the secrets do not
# ---------------------------------------------------------------------------------------

REGISTERED = ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9SECRET", "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDtoken", "pa55w0rd"]
FRAGMENTS = [
    "<Token>", "</Token>", "<SessionToken>", "</SessionToken>", '<SecretAccessKey a="1">', "</SecretAccessKey>", "<Token/>",
    "<SecretAccessKey", ">", "<", "Token=", "Token: ", '"Token": "', "'SecretAccessKey': '", "aws_session_token = ",
    "http://", "https://user:", "socks5h://u:p@", "@", ":", "/", "/credentials/", "?id=", "&id=", "AKIAIOSFODNN7EXAMPLE",
    '"', "'", "\\", '\\"', "\\\\", "\\n", "\n", "\r\n", " ", "\t", ",", "}", "{", "&", "=", "abc", "rrrrrrrr", "x" * 40,
    *REGISTERED, REGISTERED[0][5:19], REGISTERED[1][10:30],
]


def _hostile_string(rnd: random.Random) -> str:
    return "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 14)))


def _registered() -> Redactor:
    red = Redactor()
    for secret in REGISTERED:
        red.register(secret)
    return red


def _no_registered_piece(out: str) -> None:
    for secret in REGISTERED:
        for i in range(max(1, len(secret) - 7)):
            assert secret[i : i + 8] not in out, (secret[i : i + 8], out)


def test_random_hostile_text_keeps_every_line_break() -> None:
    rnd, red = random.Random(19), _registered()
    for _ in range(3000):
        text = _hostile_string(rnd)
        out = red.scrub(text)
        assert [out.count(c) for c in "\n\r"] == [text.count(c) for c in "\n\r"], (text, out)
        _no_registered_piece(out)


def test_random_hostile_json_stays_json() -> None:
    rnd, red = random.Random(5), _registered()
    for _ in range(1500):
        doc = {"role_name": _hostile_string(rnd), "detail": _hostile_string(rnd), "list": [_hostile_string(rnd), 1, None], "Token": _hostile_string(rnd)}
        for text in (json.dumps(doc), json.dumps(doc, indent=2)):
            out = red.scrub(text)
            again = json.loads(out)
            assert list(again) == list(doc) and len(again["list"]) == 3 and again["list"][1:] == [1, None], out
            _no_registered_piece(out)


def test_random_hostile_label_values_keep_the_exposition() -> None:
    """The whole /metrics body scrubbed as text: every sample keeps its labels."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    rnd, red = random.Random(6), _registered()
    registry = CollectorRegistry()
    gauge = Gauge("ecs_credential_probe_test_info", "Hostile label values", ["role", "kind"], registry=registry)
    values = set()
    for _ in range(400):
        role, kind = _hostile_string(rnd), _hostile_string(rnd)
        if (role, kind) not in values:
            values.add((role, kind))
            gauge.labels(role, kind).set(1)
    body = red.scrub(generate_latest(registry).decode()).encode()
    (fam,) = _families(body).values()
    assert len(fam.samples) == len(values) and all(set(s.labels) == {"role", "kind"} for s in fam.samples)
    _no_registered_piece(body.decode())
    promtool_check(body)


# ---------------------------------------------------------------------------------------
# Issue 19, item 6: the same matches as before, found in linear time
# ---------------------------------------------------------------------------------------

# The old URL password pattern, quadratic on a run of letters: the specification of
# _mask_url_passwords on short texts.
_OLD_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:\"'<>]*:)([^\s@\"'<>]+)(@)")


def test_url_passwords_are_found_as_the_old_pattern_found_them() -> None:
    rnd = random.Random(1)
    alphabet = "ab1+.-:/@? #\"'<x"
    for _ in range(50000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24))).replace("x", "://")
        want = _OLD_URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
        assert redact._mask_url_passwords(text) == want, text


def test_registered_pieces_are_found_wherever_they_start() -> None:
    """scrub looks up 4-grams at every fourth position and 8-grams only near a hit: the same
    positions as looking up every 8-gram (the old way)."""
    rnd = random.Random(2)
    secrets = ["".join(rnd.choice("abcdefgh12") for _ in range(rnd.randint(8, 30))) for _ in range(5)]
    red = Redactor()
    for secret in secrets:
        red.register(secret)
    windows = {s[i : i + 8] for s in secrets for i in range(len(s) - 7)}
    for _ in range(2000):
        text = "".join(rnd.choice(secrets + ["abcd", "x", "h12", "-"]) if rnd.random() < 0.3 else rnd.choice("abcdefgh12 xyz") for _ in range(rnd.randint(0, 60)))
        want = {j for i in range(len(text) - 7) if text[i : i + 8] in windows for j in range(i, i + 8)}
        got = {j for a, b in red._registered_spans(text) for j in range(a, b)}
        assert got == want, text
