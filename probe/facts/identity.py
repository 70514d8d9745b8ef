"""Which identity the default credential chain really gets: botocore's chain, then STS.

The chain is botocore's own (``create_credential_resolver``), walked provider by provider
so we learn which one won or which one raised. The only change: the container provider
is handed the credentials endpoint's answer we already observed, so the run costs one
request to the rate-limited endpoint, not two; and it is handed the authorization token
the probe already read (size-capped, regular files only): botocore would read the token
file itself, whole and blocking (``/dev/zero`` grew it to gigabytes, a FIFO stuck a thread
for good). botocore still does everything else itself (which variables activate it,
precedence, header validation, refusing hosts).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Mapping, MutableMapping, Optional

from probe import redact
from probe.facts.endpoints import Observed

STS_TIMEOUT = 2.0


def hook_problem(container: Any) -> Optional[str]:
    """What is missing of the botocore internals the probe hands its observation through
    (ContainerProvider._fetcher, ContainerMetadataFetcher._validate_allowed_url), or None."""
    from botocore.utils import ContainerMetadataFetcher

    if container is None:
        return "the default chain has no 'container-role' provider"
    if not hasattr(container, "_fetcher"):
        return "ContainerProvider has no _fetcher attribute"
    if not callable(getattr(ContainerMetadataFetcher, "_validate_allowed_url", None)):
        return "ContainerMetadataFetcher has no _validate_allowed_url method"
    return None


def _observed_fetcher(observed: Callable[[], Observed]) -> Any:
    from botocore.exceptions import MetadataRetrievalError
    from botocore.utils import ContainerMetadataFetcher

    class ObservedFetcher(ContainerMetadataFetcher):
        """Answers botocore's container provider from the probe's single observation."""

        def retrieve_full_uri(self, full_url: str, headers: Optional[Mapping[str, str]] = None) -> Any:
            self._validate_allowed_url(full_url)
            return self._answer()

        def retrieve_uri(self, relative_uri: str) -> Any:
            return self._answer()

        def _answer(self) -> Any:
            obs = observed()
            if obs.payload is not None:
                return obs.payload
            rec = obs.record
            if rec.get("token_problem"):
                reason = "not requested: " + rec["token_problem"]
            elif rec.get("not_requested"):
                reason = "not requested: " + rec["not_requested"]
            elif rec.get("error"):
                reason = "Received error when attempting to retrieve container metadata: " + rec["error"]
            elif rec.get("status") != 200:
                reason = f"Received non 200 response {rec.get('status')} from container metadata"
            else:
                reason = "Unable to parse JSON returned from container metadata services"
            raise MetadataRetrievalError(error_msg=reason)

    return ObservedFetcher()


def _without_token_file(container: Any, token: Mapping[str, Any]) -> None:
    """Make botocore's container provider use the token the probe read, never the file.

    The provider's environment is replaced by a copy in which the file variable gives way
    to the value read from it; botocore then validates and sends it as its own. A file
    the probe could not read (missing, a FIFO, a device, unreadable) fails the provider
    as the application would fail, without botocore opening anything.
    """
    env_name = getattr(container, "ENV_VAR_AUTH_TOKEN_FILE", None)
    var_name = getattr(container, "ENV_VAR_AUTH_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN")
    environ = getattr(container, "_environ", None)
    if env_name is None or environ is None or env_name not in environ:
        return  # this botocore does not read a token file, or none is set
    copy: MutableMapping[str, str] = dict(environ)
    del copy[env_name]
    value = token.get("_raw") if token.get("source") == "file" else None
    if isinstance(value, str):
        copy[var_name] = value
        container._environ = copy
        return
    problem = token.get("error") or f"cannot read {environ[env_name]}"
    copy.pop(var_name, None)
    container._environ = copy

    def refuse() -> Any:
        raise OSError(problem)

    container._build_headers = refuse


def collect_identity(
    observed: Callable[[], Observed],
    deadline: Optional[float] = None,
    token: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """Resolve credentials with botocore's default chain and ask STS who they are.

    botocore reads os.environ and the config files itself, as it does in the application.
    Whatever botocore raises while setting up (unknown profile, unparsable config file,
    bad setting) is what the application would hit too: it is recorded as a chain error.

    ``token``: the run's ``environ.authorization_token`` record (read once per run); read
    here, the same safe way, when not given.
    """
    record: dict[str, Any] = {"provider": None, "tried": []}
    if token is None:
        from probe.facts.environ import authorization_token

        token = authorization_token(os.environ)
    try:
        return _collect(record, observed, deadline, token)
    except Exception as exc:
        record.setdefault("chain_error", redact.scrub(f"{type(exc).__name__}: {exc}")[:600])
        record.setdefault("chain_error_provider", "session")
        return record


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _session() -> Any:
    """One botocore session per process: its loaded models are reused by every run of the
    sidecar (a new session per run costs ~50 ms of CPU and churns memory)."""
    global _SESSION
    import botocore.session

    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = botocore.session.Session()
        return _SESSION


def _collect(record: dict[str, Any], observed: Callable[[], Observed], deadline: Optional[float], token: Mapping[str, Any]) -> dict[str, Any]:
    from botocore.config import Config
    from botocore.credentials import create_credential_resolver

    import botocore

    record["botocore_version"] = botocore.__version__
    session = _session()
    region = session.get_config_variable("region")
    record["region"] = region
    resolver = create_credential_resolver(session)
    container = resolver.get_provider("container-role")
    problem = hook_problem(container)
    if problem:
        # Without the hook botocore would ask the rate-limited endpoint a second time and
        # could see another answer than the probe: say so loudly and do not ask it.
        record["hook_error"] = f"botocore {botocore.__version__}: {problem}"
        record["chain_error"] = f"not resolved: {record['hook_error']}"
        record["chain_error_provider"] = "hook"
        return record
    container._fetcher = _observed_fetcher(observed)
    _without_token_file(container, token)
    creds = None
    for provider in resolver.providers:
        record["tried"].append(provider.METHOD)
        try:
            creds = provider.load()
        except Exception as exc:  # botocore raises many kinds; all end the chain
            record["chain_error"] = redact.scrub(f"{type(exc).__name__}: {exc}")[:600]
            record["chain_error_provider"] = provider.METHOD
            return record
        if creds is not None:
            break
    if creds is None:
        record["chain_error"] = "NoCredentialsError: Unable to locate credentials"
        return record
    record["provider"] = getattr(creds, "method", None)
    try:
        frozen = creds.get_frozen_credentials()
    except Exception as exc:
        record["chain_error"] = redact.scrub(f"{type(exc).__name__}: {exc}")[:600]
        record["chain_error_provider"] = record["provider"]
        return record
    redact.register(frozen.secret_key)
    redact.register(frozen.token)
    record["access_key_id"] = redact.mask_key_id(frozen.access_key)

    remaining = STS_TIMEOUT if deadline is None else max(0.1, min(STS_TIMEOUT, deadline - time.monotonic() - 0.1))
    config = Config(
        connect_timeout=remaining,
        read_timeout=remaining,
        retries={"total_max_attempts": 1},
        region_name=region or "us-east-1",
    )
    started = time.monotonic()
    try:
        client = session.create_client(
            "sts",
            config=config,
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )
        record["sts_endpoint"] = redact.mask_url(client.meta.endpoint_url)
        answer = client.get_caller_identity()
    except Exception as exc:
        record["sts_error"] = redact.scrub(f"{type(exc).__name__}: {exc}")[:600]
        response = getattr(exc, "response", None)
        record["sts_error_code"] = (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None
        return record
    finally:
        record["sts_elapsed_ms"] = int((time.monotonic() - started) * 1000)
    record["arn"] = answer.get("Arn")
    record["account"] = answer.get("Account")
    record["user_id"] = answer.get("UserId")
    return record


# ---- another process's view (`--pid`) ------------------------------------------------
# botocore reads os.environ and the files it names: to resolve the chain as the target
# would, it runs in a child interpreter whose environment is the target's, with every
# path the chain reads moved into the target's root. The child is started at once, so
# its botocore import overlaps the credentials request; the observed answer reaches it
# through a pipe when the request is done (one request to the endpoint, as in a plain run).

# Variables whose value is a file the chain (or botocore's HTTP client) reads.
PATH_VARS = (
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_DATA_PATH",
)

_CHILD_CODE = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
from probe.facts import identity
from probe.facts.endpoints import Observed
budget = float(sys.argv[2])
deadline = time.monotonic() + budget
# botocore is imported while the parent waits for the credentials answer; then the answer.
import botocore.credentials
doc = json.loads(sys.stdin.readline() or "{}")
obs = Observed(doc.get("record") or {"requested": False, "not_requested": "no observation"}, doc.get("payload"))
sys.stdout.write(json.dumps(identity.collect_identity(lambda: obs, deadline, doc.get("token") or {})))
"""


def child_environ(target: Any) -> dict[str, str]:
    """The target's environment with the files it names moved into its root."""
    env = dict(target.environ)
    home = target.home() or "/"
    for name in PATH_VARS:
        value = env.get(name)
        if value:
            if value == "~" or value.startswith("~/"):
                value = home + value[1:]
            if value.startswith("/"):
                env[name] = target.path(value)
    env["HOME"] = target.path(home)
    return env


def collect_identity_as(
    target: Any,
    observed: Callable[[], Observed],
    deadline: Optional[float],
    token: Mapping[str, Any],
) -> dict[str, Any]:
    """collect_identity as the target process would run it: its variables, its files."""
    import json
    import subprocess
    import sys

    from probe.facts import sdk as sdk_facts

    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    budget = STS_TIMEOUT + 2.0 if deadline is None else max(0.1, deadline - time.monotonic())
    argv = [
        sys.executable, "-E", "-s", "-c", sdk_facts._CHILD_GUARD + _CHILD_CODE,
        str(os.getpid()), repr(budget + 0.5), package_parent, repr(budget),
    ]
    try:
        # -E: the target's PYTHONPATH or PYTHONHOME must not change which botocore runs.
        child = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=child_environ(target), cwd="/",
        )
    except OSError as exc:
        return {"provider": None, "tried": [], "chain_error": f"cannot start the child that resolves as pid {target.pid}: {exc}", "chain_error_provider": "session"}
    with sdk_facts._CHILDREN_LOCK:
        sdk_facts._CHILDREN.add(child)
    try:
        obs = observed()
        doc = {"record": obs.record, "payload": obs.payload, "token": {k: v for k, v in token.items()}}
        remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
        try:
            out, _ = child.communicate((json.dumps(doc) + "\n").encode(), timeout=remaining)
        except subprocess.TimeoutExpired:
            return {"provider": None, "tried": [], "deadline_exceeded": True, "error": "botocore did not finish before the deadline"}
        except (BrokenPipeError, OSError):
            out = child.stdout.read() if child.stdout is not None else b""
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        with sdk_facts._CHILDREN_LOCK:
            sdk_facts._CHILDREN.discard(child)
    try:
        record = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return {"provider": None, "tried": [], "chain_error": f"the child that resolves as pid {target.pid} ended without an answer (exit {child.returncode})", "chain_error_provider": "session"}
    record["as_pid"] = target.pid
    return record
