"""Which identity the default credential chain gets, learned without running anything the
diagnosed environment names.

botocore's chain is walked as data (probe/chain.py over botocore's row of the model): the
probe decides which source wins from the variables and the files it read itself, then
obtains that source's credentials itself and asks STS who they are:

- static keys found in the environment or the shared files;
- the credentials endpoint's answer the run already observed (one request per run);
- the instance role's credentials the IMDS collector already fetched;
- sts:AssumeRole for a profile's role_arn, with the credentials of its source (a
  credential_source or a source_profile, hop by hop);
- sts:AssumeRoleWithWebIdentity with a token read through the run's RootFS.

A credential_process is never run and SSO or login caches are never read: the record
says what botocore would do (``not_run``) and the checks judge that. Every request goes to
the endpoint the diagnosed environment names, with credentials that environment can obtain
itself: nothing of the probe's own (its files, variables or credentials) is sent there.

When botocore's pick is not the container provider but the endpoint answered, those
credentials are confirmed too (``confirmed["container"]``): the SDKs that reach the
container provider get them, and the verdict follows the SDKs in use.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Mapping, Optional

from probe import chain, redact, sdkmodel
from probe.facts.awsconfig import Secrets
from probe.facts import sts as sts_api
from probe.facts.endpoints import Observed
from probe.facts.rootfs import RootFS

STS_TIMEOUT = 2.0
MAX_WEB_IDENTITY_TOKEN = 16 << 10
MAX_CA_BUNDLE = 4 << 20
# botocore's method names, by the model's source names.
METHOD = {
    "env": "env",
    "assume-role": "assume-role",
    "web-identity": "assume-role-with-web-identity",
    "sso": "sso",
    "shared-credentials-file": "shared-credentials-file",
    "login": "login",
    "process": "custom-process",
    "config-file": "config-file",
    "container": "container-role",
    "imds": "iam-role",
    "config": "session",
}

Creds = tuple[str, str, Optional[str]]


class _Fail(Exception):
    """Ends the resolution with a chain error (provider, message)."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message


class _StsError(Exception):
    """An STS call failed: recorded as the run's STS error."""

    def __init__(self, message: str, code: Optional[str]) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@functools.lru_cache(maxsize=1)
def reference_row() -> tuple[sdkmodel.SdkBehaviour, str]:
    """botocore's row for the botocore the probe runs with: the reference chain (one lookup
    per process: the version does not change while it runs)."""
    import botocore

    row, _ = sdkmodel.row_for("botocore", botocore.__version__)
    return row or sdkmodel.rows_for("botocore")[0], botocore.__version__


class Sts:
    """STS as the diagnosed environment reaches it: its endpoint, region, CA bundle and
    proxy settings, read as data."""

    def __init__(self, environ: Mapping[str, str], inputs: chain.Inputs, fs: RootFS, deadline: Optional[float]) -> None:
        row = reference_row()[0]
        profile = inputs.settings(row, inputs.profile_name(row)[0])
        self.deadline = deadline
        self.region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or profile.get("region") or "us-east-1"
        ignore = str(environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", profile.get("ignore_configured_endpoint_urls", ""))).lower() == "true"
        self.endpoint = None if ignore else (
            environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL") or profile.get("endpoint_url") or None
        )
        url = self.endpoint or f"https://sts.{self.region}.amazonaws.com/"
        self.url_to_call = url
        proxy_vars = {k: environ[k] for k in redact.PROXY_ENV_VARS if environ.get(k)}
        no_proxy = {k: environ[k] for k in ("NO_PROXY", "no_proxy") if environ.get(k)}
        self.proxy: Optional[str] = sdkmodel.proxy_for("python-urllib", url, proxy_vars, no_proxy) or None
        self.proxy_shown = redact.mask_url(self.proxy) if self.proxy else None
        self.ca_path = environ.get("AWS_CA_BUNDLE") or profile.get("ca_bundle")
        self.fs = fs
        self._context: Any = None

    def context(self) -> Any:
        """None (the system's CAs), or an SSL context holding only the bundle the
        environment names (as botocore's verify=PATH), read through the RootFS (regular,
        capped): never a path handed to a library."""
        if self._context is not None or not self.ca_path:
            return self._context
        try:
            data = self.fs.read_bytes(self.ca_path, MAX_CA_BUNDLE)
        except OSError as exc:
            raise _Fail("session", f"cannot read the CA bundle {self.ca_path}: {exc}") from None
        if data is None:
            raise _Fail("session", f"the CA bundle {self.ca_path} does not exist")
        import ssl

        try:
            self._context = ssl.create_default_context(cadata=data.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise _Fail("session", f"the CA bundle {self.ca_path} holds no usable certificate: {exc}") from None
        return self._context

    def call(self, creds: Optional[Creds], operation: str, **params: Any) -> dict[str, Any]:
        try:
            return sts_api.call(self.url_to_call, self.region, creds, operation, params, timeout=STS_TIMEOUT,
                                deadline=self.deadline, context=self.context(), proxy=self.proxy)
        except sts_api.StsError as exc:
            raise _StsError(redact.scrub(exc.message)[:600], exc.code) from None

    def url(self) -> str:
        return redact.mask_url(self.endpoint) or f"https://sts.{self.region}.amazonaws.com"


def _creds_of(doc: Mapping[str, Any]) -> Creds:
    return str(doc["AccessKeyId"]), str(doc["SecretAccessKey"]), doc.get("Token") or doc.get("SessionToken")


def _register(creds: Creds) -> None:
    redact.register(creds[1])
    if creds[2]:
        redact.register(creds[2])


class _Resolver:
    """Obtains the credentials of a pick, the way botocore would, without running anything."""

    def __init__(
        self,
        environ: Mapping[str, str],
        secrets: Secrets,
        fs: RootFS,
        sts: Sts,
        observed: Callable[[], Observed],
        imds: Callable[[], Optional[Observed]],
        record: dict[str, Any],
    ) -> None:
        self.environ = environ
        self.secrets = secrets
        self.fs = fs
        self.sts = sts
        self.observed = observed
        self.imds = imds
        self.record = record
        self.assumed: list[str] = []

    def container(self) -> Creds:
        obs = self.observed()
        if obs.payload is not None:
            return _creds_of(obs.payload)
        rec = obs.record
        if rec.get("token_problem"):
            reason = rec["token_problem"]
            if "legal header" in reason or "line break" in reason:
                raise _Fail("container-role", "ValueError: Auth token value is not a legal header value")
            raise _Fail("container-role", f"CredentialRetrievalError: {reason}")
        if rec.get("not_requested"):
            reason = "not requested: " + str(rec["not_requested"])
        elif rec.get("error"):
            reason = "Received error when attempting to retrieve container metadata: " + str(rec["error"])
        elif rec.get("status") != 200:
            reason = f"Received non 200 response {rec.get('status')} from container metadata"
        else:
            reason = "Unable to parse JSON returned from container metadata services"
        raise _Fail("container-role", f"CredentialRetrievalError: Error when retrieving credentials from container-role: {reason}")

    def instance(self) -> Optional[Creds]:
        obs = self.imds()
        if obs is None or obs.payload is None:
            return None
        return _creds_of(obs.payload)

    def static(self, pick: chain.Pick) -> Creds:
        if pick.key_file == "env":
            token = self.environ.get("AWS_SESSION_TOKEN") or self.environ.get("AWS_SECURITY_TOKEN") or None
            return self.environ["AWS_ACCESS_KEY_ID"], self.environ["AWS_SECRET_ACCESS_KEY"], token
        found = self.secrets.get(str(pick.key_file), str(pick.profile))
        if found is None:
            raise _Fail(METHOD[pick.source], f"the keys of profile '{pick.profile}' were not read")
        return found

    def creds(self, pick: chain.Pick) -> Creds:
        """The credentials ``pick`` gives; _Fail / _StsError when botocore would fail."""
        if pick.error:
            raise _Fail(METHOD.get(pick.source, pick.source), pick.error)
        if pick.source == "container":
            return self.container()
        if pick.source == "imds":
            found = self.instance()
            if found is None:
                raise _Fail("iam-role", "CredentialRetrievalError: no instance role credentials from IMDS")
            return found
        if pick.source in ("env", "shared-credentials-file", "config-file"):
            return self.static(pick)
        if pick.source == "assume-role":
            assert pick.base is not None
            base = self.creds(pick.base)
            _register(base)
            if pick.mfa:
                raise _Fail("assume-role", f"profile '{pick.profile}' needs an MFA code (mfa_serial): botocore would prompt for one; the probe cannot")
            params: dict[str, Any] = {
                "RoleArn": pick.role_arn,
                "RoleSessionName": pick.session_name or f"botocore-session-{int(time.time())}",
            }
            if pick.duration:
                params["DurationSeconds"] = pick.duration
            if pick.external_id:
                external = self._external_id(pick)
                if external:
                    params["ExternalId"] = external
            answer = self.sts.call(base, "assume_role", **params)
            self.assumed.append(str(pick.role_arn))
            return _creds_of(answer["Credentials"])
        if pick.source == "web-identity":
            token = self._web_identity_token(str(pick.token_file))
            params = {
                "RoleArn": pick.role_arn,
                "RoleSessionName": pick.session_name or f"botocore-session-{int(time.time())}",
                "WebIdentityToken": token,
            }
            answer = self.sts.call(None, "assume_role_with_web_identity", **params)
            self.assumed.append(str(pick.role_arn))
            return _creds_of(answer["Credentials"])
        what = {"process": f"run {pick.command} (credential_process)", "sso": "use the SSO token cache", "login": "use the login token cache"}
        raise _NotRun(METHOD.get(pick.source, pick.source), f"botocore would {what.get(pick.source, 'use ' + pick.source)}")

    def _external_id(self, pick: chain.Pick) -> Optional[str]:
        # Only "(set)" is in the record: the value is kept with the keys.
        return self.secrets.external_ids.get(str(pick.profile))

    def _web_identity_token(self, path: str) -> str:
        try:
            text = self.fs.read_text(path, MAX_WEB_IDENTITY_TOKEN)
        except OSError as exc:
            raise _Fail("assume-role-with-web-identity", f"the web identity token file is not read: {exc}") from None
        if text is None:
            raise _Fail("assume-role-with-web-identity", f"FileNotFoundError: the web identity token file {path} does not exist")
        redact.register(text)
        redact.register(text.strip())
        return text


class _NotRun(Exception):
    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message


def _confirm(sts: Sts, creds: Creds, out: dict[str, Any]) -> None:
    """GetCallerIdentity with ``creds``; the answer (or the error) into ``out``."""
    _register(creds)
    out["access_key_id"] = redact.mask_key_id(creds[0])
    started = time.monotonic()
    try:
        answer = sts.call(creds, "get_caller_identity")
    except _StsError as exc:
        out["sts_error"] = exc.message
        out["sts_error_code"] = exc.code
        return
    finally:
        out["sts_elapsed_ms"] = int((time.monotonic() - started) * 1000)
    out["arn"] = answer.get("Arn")
    out["account"] = answer.get("Account")
    out["user_id"] = answer.get("UserId")


def collect_identity(
    environ: Mapping[str, str],
    env_record: Mapping[str, Any],
    secrets: Secrets,
    fs: RootFS,
    observed: Callable[[], Observed],
    imds: Callable[[], Optional[Observed]],
    deadline: Optional[float] = None,
) -> dict[str, Any]:
    """botocore's chain as data, its credentials obtained by the probe, confirmed by STS.
    Never raises; never runs a program; reads files only through ``fs``."""
    record: dict[str, Any] = {"provider": None, "tried": []}
    try:
        row, version = reference_row()
        record["botocore_version"] = version
        record["model"] = f"botocore {version}'s chain, walked by the probe"
        inputs = chain.Inputs(env_record)
        sts = Sts(environ, inputs, fs, deadline)
        record["region"] = sts.region
        record["sts_endpoint"] = sts.url()
        if sts.proxy_shown:
            record["sts_proxy"] = sts.proxy_shown
        _resolve(row, version, inputs, environ, secrets, fs, sts, observed, imds, record)
    except Exception as exc:  # a bug here must not take the run down: record it
        record.setdefault("chain_error", redact.scrub(f"{type(exc).__name__}: {exc}")[:600])
        record.setdefault("chain_error_provider", "session")
    return record


def _resolve(
    row: sdkmodel.SdkBehaviour,
    version: str,
    inputs: chain.Inputs,
    environ: Mapping[str, str],
    secrets: Secrets,
    fs: RootFS,
    sts: Sts,
    observed: Callable[[], Observed],
    imds: Callable[[], Optional[Observed]],
    record: dict[str, Any],
) -> None:
    pick, tried = chain.walk(row, version, inputs)
    record["tried"] = [METHOD.get(t, t) for t in tried]
    if pick is None:
        container_set = any(n in environ for n in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        if container_set:
            pick = chain.Pick("container", "base", "the container provider", key="container")
            record["tried"].append("container-role")
        else:
            record["tried"] += ["container-role", "iam-role"]
            disabled = environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"
            if disabled:
                record["chain_error"] = "NoCredentialsError: Unable to locate credentials"
                return
            pick = chain.Pick("imds", "base", "the instance metadata provider", key="imds")
    record["key"] = pick.key
    if pick.role_arn:
        record["role_arn"] = pick.role_arn
    if pick.source == "assume-role" and pick.from_task_role:
        record["from_task_role"] = True
    resolver = _Resolver(environ, secrets, fs, sts, observed, imds, record)
    try:
        creds = resolver.creds(pick)
    except _Fail as exc:
        if pick.source == "imds" and exc.provider == "iam-role":
            record["chain_error"] = "NoCredentialsError: Unable to locate credentials"
        else:
            record["chain_error"] = redact.scrub(exc.message)[:600]
            record["chain_error_provider"] = exc.provider
        _confirm_container(pick, resolver, sts, record)
        return
    except _NotRun as exc:
        record["provider"] = exc.provider
        record["not_run"] = exc.message
        _confirm_container(pick, resolver, sts, record)
        return
    except _StsError as exc:
        # botocore's assume-role credentials are deferred: the role is assumed at the first
        # call, and its failure is that call's.
        record["provider"] = METHOD.get(pick.source, pick.source)
        record["sts_error"] = exc.message
        record["sts_error_code"] = exc.code
        if resolver.assumed:
            record["assumed"] = list(resolver.assumed)
        _confirm_container(pick, resolver, sts, record)
        return
    record["provider"] = METHOD.get(pick.source, pick.source)
    if resolver.assumed:
        record["assumed"] = list(resolver.assumed)
    _confirm(sts, creds, record)
    _confirm_container(pick, resolver, sts, record)


def _confirm_container(pick: chain.Pick, resolver: _Resolver, sts: Sts, record: dict[str, Any]) -> None:
    """The task role's identity too, when botocore's pick was something else and the
    endpoint answered: other SDKs in the image reach the container provider."""
    if pick.source == "container" or (resolver.sts.deadline is not None and resolver.sts.deadline - time.monotonic() < 0.2):
        return
    obs = resolver.observed()
    if obs.payload is None:
        return
    out: dict[str, Any] = {}
    _confirm(sts, _creds_of(obs.payload), out)
    record.setdefault("confirmed", {})["container"] = out
