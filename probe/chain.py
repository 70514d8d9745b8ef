"""The sources of an SDK's credential chain that come from the environment and the shared
files, as data: which one an SDK picks, given its row of the behaviour model. Pure.

The probe never runs an SDK's chain to learn this (a diagnosed container's files are data,
never instructions): it reads the files itself (probe/facts/awsconfig.py) and walks each
SDK's chain here, by the rules its row states (which profile variable it reads, whether
it reads the config file, what a missing profile does, from which version each source
exists). The container provider and IMDS depend on what the endpoints answered: they are
judged in probe/predict.py; this module decides everything before them.

The result of a source is a ``Pick``: what it gives, or the error the chain ends in. The
identity collector executes botocore's pick (static keys, sts:AssumeRole,
AssumeRoleWithWebIdentity: never a credential_process, never an SSO cache) to learn the
identity with STS; predict reads every SDK's pick to say what that SDK gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional, TypedDict

if TYPE_CHECKING:
    from probe.sdkmodel import SdkBehaviour

# credential_source values, as the SDKs spell them, and the source each names.
CREDENTIAL_SOURCES = {"Environment": "env", "EcsContainer": "container", "Ec2InstanceMetadata": "imds"}
MAX_HOPS = 10  # source_profile hops followed (botocore has no limit but loops; real files have 1-3)


@dataclass(frozen=True)
class Pick:
    """What one source of a chain gives, or how the chain ends there."""

    source: str  # the model's source name (probe/sdkmodel.py SOURCES)
    gets: str  # the kind by default: user, other-role, unknown, none (an error), or "base"
    why: str
    key: str = ""  # what the identity collector confirms it under (see ``Pick.confirm_key``)
    error: Optional[str] = None  # the SDK raises this and the chain ends (gets "none")
    profile: Optional[str] = None
    role_arn: Optional[str] = None
    base: Optional["Pick"] = None  # assume-role: where its source credentials come from
    token_file: Optional[str] = None  # web identity
    session_name: Optional[str] = None
    command: Optional[str] = None  # credential_process (its program only)
    key_file: Optional[str] = None  # static keys: "env", "config" or "credentials"
    mfa: bool = False
    external_id: bool = False
    duration: Optional[int] = None

    @property
    def from_task_role(self) -> bool:
        """A role assumed, maybe over several hops, with the task role's credentials."""
        base = self.base
        while base is not None and base.source == "assume-role":
            base = base.base
        return base is not None and base.source == "container"

    @property
    def root(self) -> "Pick":
        """The first credentials of an assume-role chain."""
        pick = self
        while pick.base is not None:
            pick = pick.base
        return pick


def supports(row: "SdkBehaviour", version: Optional[str], feature: str) -> bool:
    """Does this SDK version have ``feature`` (see SdkBehaviour.since)? A feature the
    row does not date is always there; an unreadable version is given the benefit."""
    from probe.sdkmodel import at_least

    first = dict(row.since).get(feature)
    if first is None:
        return True
    if first == "never":
        return False
    return at_least(version, first) is not False


def _key(source: str, *parts: Optional[str]) -> str:
    return ":".join([source, *[p or "" for p in parts]])


class Inputs:
    """What the chains read, from the environ record (its ``aws_config`` included)."""

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.cfg: Mapping[str, Any] = env.get("aws_config") or {}
        self.shown: Mapping[str, Any] = env.get("shown") or {}
        self.present: Mapping[str, Any] = env.get("present") or {}
        self.files: Mapping[str, Any] = self.cfg.get("files") or {}
        self.profiles: Mapping[str, Any] = self.cfg.get("profiles") or {}

    # -- variables ----------------------------------------------------------------------

    def var(self, name: str) -> Optional[str]:
        value = self.shown.get(name)
        return value if isinstance(value, str) else None

    def profile_name(self, row: "SdkBehaviour") -> tuple[str, Optional[str]]:
        """(the profile the SDK uses, the variable that named it, or None for 'default')."""
        named = self.cfg.get("profile_vars") or {}
        for var in row.profile_vars:
            if var in named:
                return str(named[var]), var
        return "default", None

    def reads_config(self, row: "SdkBehaviour") -> bool:
        if row.config_file == "always":
            return True
        if row.config_file == "load-config":
            return self.load_config()
        return False

    def labels(self, row: "SdkBehaviour") -> tuple[str, ...]:
        """The files it reads: "config" and "credentials", or their "-default" twins
        (the default paths) when it ignores the variables that name other files."""
        ignore_vars = row.file_vars == "load-config" and not self.load_config()
        pick = lambda label: label + "-default" if ignore_vars and label + "-default" in self.files else label  # noqa: E731
        return (pick("config"), pick("credentials")) if self.reads_config(row) else (pick("credentials"),)

    def label(self, row: "SdkBehaviour", which: str) -> Optional[str]:
        """The label of the file it reads as ``which`` ("config" or "credentials"), or None."""
        return next((label for label in self.labels(row) if label.startswith(which)), None)

    # -- profiles -----------------------------------------------------------------------

    def exists(self, row: "SdkBehaviour", name: str) -> bool:
        entry = self.profiles.get(name) or {}
        return any(label in (entry.get("files") or []) for label in self.labels(row))

    def settings(self, row: "SdkBehaviour", name: str) -> dict[str, str]:
        """The profile's settings as the SDK merges them: the config file, then the
        credentials file over it (role settings only where the SDK reads them)."""
        entry = self.profiles.get(name) or {}
        out: dict[str, str] = {}
        for label in self.labels(row):
            values = (entry.get("settings") or {}).get(label)
            if isinstance(values, Mapping):
                out.update({str(k): str(v) for k, v in values.items()})
        if row.role_settings == "load-config" and not self.load_config():
            for key in ("role_arn", "source_profile", "credential_source", "sso_session", "sso_start_url", "sso_account_id", "sso_role_name"):
                out.pop(key, None)
        return out

    def load_config(self) -> bool:
        return str(self.var("AWS_SDK_LOAD_CONFIG") or "") not in ("", "0", "false", "False")

    def keys(self, name: str, label: str) -> Optional[Mapping[str, Any]]:
        entry = self.profiles.get(name) or {}
        keys = (entry.get("keys") or {}).get(label)
        return keys if isinstance(keys, Mapping) else None

    def unreadable(self, row: "SdkBehaviour") -> Optional[str]:
        """Why a file the SDK reads could not be judged (refused or unparsable), or None."""
        for label in self.labels(row):
            f = self.files.get(label) or {}
            if f.get("error"):
                return f"{f.get('path')}: {f['error']}"
        return None


def _static(source: str, profile: str, label: str, keys: Mapping[str, Any], path: Optional[str], partial: str) -> Optional[Pick]:
    """Static keys in one file's profile."""
    if not keys.get("id"):
        return None  # a secret without a key id is passed over by every SDK
    if not keys.get("secret"):
        if partial == "error":
            return Pick(source, "none", f"profile '{profile}' in {path} has aws_access_key_id without aws_secret_access_key",
                        error="PartialCredentialsError: Partial credentials found in " + source + ", missing: aws_secret_access_key")
        return None
    kind = "other-role" if keys.get("kind") == "temporary" else "user"
    return Pick(source, kind, f"profile '{profile}' in {path} has static keys ({keys.get('access_key_id')})",
                key=_key(source, profile), profile=profile, key_file=label)


def _valid(value: str, kind: str) -> bool:
    if kind == "int":
        try:
            int(value)
        except ValueError:
            return False
        return True
    how, _, choices = kind.partition(":")
    return (value.lower() if how == "ichoice" else value) in choices.split("|")


def _valid_values(kind: str) -> str:
    return "an integer" if kind == "int" else "one of " + ", ".join(kind.partition(":")[2].split("|"))


def before_chain(row: "SdkBehaviour", inputs: Inputs) -> Optional[Pick]:
    """An error the SDK raises before it looks for credentials at all, or None."""
    for var_name, kind, error in row.settings:
        value = inputs.var(var_name)
        if value is not None and not _valid(value, kind):
            return Pick("config", "none", f"{var_name}={value[:40]!r} is not a value it accepts",
                        error=f"{error}: {var_name}={value[:40]!r} ({_valid_values(kind)})")
    if row.config_file == "never" or not row.profile_vars:
        return None
    name, var = inputs.profile_name(row)
    if row.strict_config:
        for label in inputs.labels(row):
            f = inputs.files.get(label) or {}
            if f.get("strict_error"):
                return Pick("config", "none", f"it cannot parse {f.get('path')} ({f['strict_error']})",
                            error=f"ConfigParseError: Unable to parse config file: {f.get('path')}")
    if var is not None and name != "default" and row.missing_profile == "error" and not inputs.exists(row, name):
        if inputs.unreadable(row):
            return None
        return Pick("config", "none", f"{var}={name} names a profile that exists in no file it reads",
                    error=f"ProfileNotFound: The config profile ({name}) could not be found")
    return None


def select(source: str, row: "SdkBehaviour", version: Optional[str], inputs: Inputs) -> Optional[Pick]:
    """What ``source`` of this SDK's chain gives here, or None when it has nothing and
    the chain goes on. Only the sources before the container provider. An SDK that passes
    over a profile it cannot use (``on_error = "skip"``) goes on where botocore raises."""
    pick = _select(source, row, version, inputs)
    if pick is not None and pick.error and row.on_error == "skip":
        return None
    return pick


def _select(source: str, row: "SdkBehaviour", version: Optional[str], inputs: Inputs) -> Optional[Pick]:
    if not supports(row, version, source):
        return None
    name, var = inputs.profile_name(row)
    if source == "env":
        return _env(row, inputs, name, var)
    if source == "web-identity":
        return _web_identity(row, version, inputs, name)
    if not inputs.exists(row, name):
        return None
    if source == "assume-role":
        return _assume_role(row, version, inputs, name, [name])
    if source in ("shared-credentials-file", "config-file"):
        label = "credentials" if source == "shared-credentials-file" else "config"
        # SDKs without a config-file source of their own take a profile's keys from
        # either file, the credentials file first.
        which = [label] if "config-file" in row.chain or label == "config" else ["credentials", "config"]
        for w in which:
            found = inputs.label(row, w)
            keys = inputs.keys(name, found) if found else None
            if keys is not None and found is not None:
                return _static(source, name, found, keys, (inputs.files.get(found) or {}).get("path"), row.partial_keys)
        return None
    settings = inputs.settings(row, name)
    if source == "process" and settings.get("credential_process"):
        program = settings["credential_process"]
        return Pick("process", "unknown", f"profile '{name}' has credential_process: it would run {program}",
                    key=_key("process", name), profile=name, command=program)
    if source == "sso" and (settings.get("sso_start_url") or settings.get("sso_session")):
        return Pick("sso", "unknown", f"profile '{name}' is an SSO profile: it would use the SSO token cache, which the probe never reads",
                    key=_key("sso", name), profile=name)
    if source == "login" and settings.get("login_session"):
        return Pick("login", "unknown", f"profile '{name}' has login_session: it would use the login token cache, which the probe never reads",
                    key=_key("login", name), profile=name)
    return None


def _env(row: "SdkBehaviour", inputs: Inputs, name: str, var: Optional[str]) -> Optional[Pick]:
    if row.profile_skips_env and var is not None:
        return None
    has_id = bool(inputs.present.get("AWS_ACCESS_KEY_ID"))
    has_secret = bool(inputs.present.get("AWS_SECRET_ACCESS_KEY"))
    if not has_id:
        return None
    if not has_secret:
        if row.partial_keys == "error":
            return Pick("env", "none", "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY",
                        error="PartialCredentialsError: Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY")
        return None
    kind = "other-role" if inputs.env.get("access_key_kind") == "temporary" else "user"
    return Pick("env", kind, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set and come first in its chain",
                key="env", key_file="env")


def _web_identity(row: "SdkBehaviour", version: Optional[str], inputs: Inputs, name: str) -> Optional[Pick]:
    token_file = inputs.var("AWS_WEB_IDENTITY_TOKEN_FILE") if row.web_identity_env else None
    role_arn = inputs.var("AWS_ROLE_ARN") if row.web_identity_env else None
    session = inputs.var("AWS_ROLE_SESSION_NAME") if row.web_identity_env else None
    where = "AWS_WEB_IDENTITY_TOKEN_FILE"
    if supports(row, version, "web-identity-profile") and inputs.exists(row, name):
        settings = inputs.settings(row, name)
        if not token_file and settings.get("web_identity_token_file"):
            token_file = settings["web_identity_token_file"]
            where = f"profile '{name}' (web_identity_token_file)"
        role_arn = role_arn or settings.get("role_arn")
        session = session or settings.get("role_session_name")
    if not token_file:
        return None
    if not role_arn:
        if row.web_identity_missing_role == "error":
            return Pick("web-identity", "none", f"{where} is set without a role ARN",
                        error="InvalidConfigError: web identity is configured but has no role ARN (AWS_ROLE_ARN or role_arn)")
        return None
    return Pick("web-identity", "other-role", f"a web identity token ({where}) for {role_arn} comes before the container provider",
                key=_key("web-identity", role_arn), role_arn=role_arn, token_file=token_file, session_name=session)


class _RoleFields(TypedDict):
    """The fields every Pick of one assume-role profile carries, whatever it ends in."""

    profile: str
    role_arn: str
    session_name: Optional[str]
    mfa: bool
    external_id: bool
    duration: Optional[int]


def _assume_role(row: "SdkBehaviour", version: Optional[str], inputs: Inputs, name: str, visited: list[str]) -> Optional[Pick]:
    """role_arn in a profile: its source credentials from credential_source or
    source_profile (botocore's rules, which the other SDKs share for what they support)."""
    settings = inputs.settings(row, name)
    role_arn = settings.get("role_arn")
    if not role_arn or settings.get("web_identity_token_file"):
        return None
    common = _RoleFields(
        profile=name, role_arn=role_arn, session_name=settings.get("role_session_name"),
        mfa=bool(settings.get("mfa_serial")), external_id=bool(settings.get("external_id")),
        duration=_int(settings.get("duration_seconds")),
    )
    source_profile, credential_source = settings.get("source_profile"), settings.get("credential_source")
    if source_profile and credential_source:
        return Pick("assume-role", "none", f"profile '{name}' has both source_profile and credential_source",
                    error=f'InvalidConfigError: The profile "{name}" contains both source_profile and credential_source.', **common)
    if credential_source:
        if not supports(row, version, "credential-source"):
            return Pick("assume-role", "none", f"profile '{name}' has credential_source, which this SDK does not read",
                        error=f"it cannot use profile '{name}' (role_arn with credential_source)", **common)
        base_source = CREDENTIAL_SOURCES.get(credential_source) if credential_source in row.credential_sources else None
        if base_source is None:
            return Pick("assume-role", "none", f"profile '{name}' names credential_source = {credential_source}, which it does not accept ({', '.join(row.credential_sources)})",
                        error=f'InvalidConfigError: The credential source "{credential_source}" referenced in profile "{name}" is not valid.', **common)
        source_base = Pick(base_source, "base", f"credential_source = {credential_source}", key=base_source)
        why = f"profile '{name}' assumes {role_arn} with the credentials of credential_source = {credential_source}"
        return Pick("assume-role", "other-role", why, key=_key("assume-role", role_arn), base=source_base, **common)
    if not source_profile:
        if row.partial_keys == "error":
            return Pick("assume-role", "none", f"profile '{name}' has role_arn without source_profile or credential_source",
                        error="PartialCredentialsError: Partial credentials found in assume-role, missing: source_profile or credential_source", **common)
        return None
    if not inputs.exists(row, source_profile):
        return Pick("assume-role", "none", f"profile '{name}' names source_profile '{source_profile}', which does not exist",
                    error=f'InvalidConfigError: The source_profile "{source_profile}" referenced in the profile "{name}" does not exist.', **common)
    source_settings = inputs.settings(row, source_profile)
    static = next((inputs.keys(source_profile, label) for label in inputs.labels(row) if inputs.keys(source_profile, label)), None)
    if source_profile in visited and (source_profile != name or not static):
        return Pick("assume-role", "none", f"profile '{name}': its source_profile chain loops back to '{source_profile}'",
                    error=f"InfiniteLoopConfigError: Infinite loop in credential configuration detected. Attempting to load from profile {source_profile} which has already been visited.", **common)
    if len(visited) > MAX_HOPS:
        return Pick("assume-role", "unknown", f"profile '{name}': more than {MAX_HOPS} source_profile hops; the probe stops following", **common)
    base: Optional[Pick]
    if static or not source_settings.get("role_arn") or source_settings.get("web_identity_token_file"):
        # The source profile's own providers (botocore: web identity, SSO, the files,
        # credential_process), without the environment.
        base = None
        for source in ("web-identity", "sso", "shared-credentials-file", "process", "config-file"):
            if source == "web-identity":
                token = source_settings.get("web_identity_token_file")
                if token and source_settings.get("role_arn"):
                    arn = source_settings["role_arn"]
                    base = Pick("web-identity", "other-role", f"profile '{source_profile}' web identity for {arn}",
                                key=_key("web-identity", arn), role_arn=arn, token_file=token, session_name=source_settings.get("role_session_name"))
            else:
                base = select(source, row, version, _Scoped(inputs, source_profile))
            if base is not None:
                break
        if base is None:
            return Pick("assume-role", "none", f"profile '{name}' names source_profile '{source_profile}', which has no credentials",
                        error=f'InvalidConfigError: The source profile "{source_profile}" must have credentials.', **common)
    else:
        base = _assume_role(row, version, inputs, source_profile, [*visited, source_profile])
        if base is None:
            return None
    if base.error:
        return Pick("assume-role", "none", base.why, error=base.error, base=base, **common)
    why = f"profile '{name}' assumes {role_arn} with the credentials of profile '{source_profile}'"
    return Pick("assume-role", "other-role", why, key=_key("assume-role", role_arn, base.key), base=base, **common)


class _Scoped(Inputs):
    """The same inputs with another profile as the active one (a source profile)."""

    def __init__(self, inputs: Inputs, profile: str) -> None:
        self.__dict__.update(inputs.__dict__)
        self._profile = profile

    def profile_name(self, row: "SdkBehaviour") -> tuple[str, Optional[str]]:
        return self._profile, "source_profile"


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def walk(row: "SdkBehaviour", version: Optional[str], inputs: Inputs) -> tuple[Optional[Pick], list[str]]:
    """The first source before the container provider that decides, and the sources tried
    (the model's names). None when the chain reaches the container provider."""
    early = before_chain(row, inputs)
    if early is not None:
        return early, []
    tried: list[str] = []
    for source in row.chain:
        if source in ("container", "imds"):
            return None, tried
        tried.append(source)
        pick = select(source, row, version, inputs)
        if pick is not None:
            return pick, tried
    return None, tried
