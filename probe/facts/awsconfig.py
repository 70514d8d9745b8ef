"""The shared config and credentials files, as data: every profile's settings, no secret.

The files are read through the run's ``RootFS`` (inside the diagnosed container's root,
fail closed, capped) and parsed by the probe. Nothing in them is run or followed: a
``credential_process`` is a string in the record, a ``web_identity_token_file`` or
``ca_bundle`` a path the identity collector may read through the same RootFS later.

The record keeps, per file, its path and whether it could be read and parsed (leniently,
as most SDKs do, and strictly, as botocore's configparser does); per profile, its
settings by file (the SDKs merge the two files differently: the chain model decides) and,
for static keys, only the masked key id, its kind and which parts are present. The keys
themselves go to ``Secrets``, kept in memory for the identity collector and registered
with the redactor.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from probe import redact
from probe.facts.rootfs import RootFS

MAX_FILE = 1 << 20
MAX_PROFILES = 200
MAX_VALUE = 2048
# Settings shown as they are (names of things, ARNs, paths, URLs: no secret).
PLAIN_KEYS = (
    "region",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "role_session_name",
    "duration_seconds",
    "mfa_serial",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "sso_region",
    "login_session",
    "endpoint_url",
    "ca_bundle",
    "sts_regional_endpoints",
    "services",
    "ignore_configured_endpoint_urls",
)
# Shown masked or as presence only.
PRESENCE_KEYS = ("external_id",)
KEY_ID = "aws_access_key_id"
SECRET = "aws_secret_access_key"
SESSION = ("aws_session_token", "aws_security_token")


def key_kind(key_id: Optional[str]) -> Optional[str]:
    """An IAM user's long-term key (AKIA...) or a session's temporary one (ASIA...)."""
    if not key_id:
        return None
    return {"AKIA": "long-term", "ASIA": "temporary"}.get(key_id[:4])


@dataclass
class Secrets:
    """Static keys found in the files, by (file, profile): never saved, never printed."""

    keys: dict[tuple[str, str], tuple[str, str, Optional[str]]] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)

    def get(self, file: str, profile: str) -> Optional[tuple[str, str, Optional[str]]]:
        return self.keys.get((file, profile))


def command_program(command: str) -> tuple[str, int]:
    """(the program a credential_process would start, how many arguments follow), split
    as botocore splits it (shlex; a string that does not split is one word)."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if not words:
        return "", 0
    return words[0], len(words) - 1


def _expand(path: str, home: Optional[str]) -> str:
    if path == "~" or path.startswith("~/"):
        return (home or "/") + path[1:]
    return path


def file_paths(environ: Mapping[str, str], home: Optional[str]) -> dict[str, tuple[str, Optional[str]]]:
    """{"config": (path, variable or None), "credentials": (...)} as the SDKs find them;
    with "config-default" / "credentials-default" for the default paths when a variable
    names another file (some SDKs read the variable only with AWS_SDK_LOAD_CONFIG)."""
    out: dict[str, tuple[str, Optional[str]]] = {}
    for label, var, default in (
        ("config", "AWS_CONFIG_FILE", "~/.aws/config"),
        ("credentials", "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        value = environ.get(var)
        out[label] = (_expand(value, home), var) if value else (_expand(default, home), None)
        if value and _expand(value, home) != _expand(default, home):
            out[label + "-default"] = (_expand(default, home), None)
    return out


def _profile_name(section: str, label: str) -> Optional[str]:
    """The profile a section defines: config files say ``[profile NAME]`` or ``[default]``,
    credentials files ``[NAME]``. Other config sections (sso-session, services) are not
    profiles."""
    if label.startswith("credentials"):
        return section
    if section == "default":
        return section
    head, _, rest = section.partition(" ")
    if head == "profile" and rest.strip():
        return rest.strip().strip('"').strip("'")
    return None


def _parse(text: str, strict: bool) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=strict, interpolation=None, default_section="\0none")
    parser.read_string(text)
    return parser


def _first_line(exc: Exception) -> str:
    return redact.scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:300]


def read_file(fs: RootFS, label: str, path: str, var: Optional[str], secrets: Secrets, profiles: dict[str, Any]) -> dict[str, Any]:
    """One file's record; its profiles are added to ``profiles``."""
    rec: dict[str, Any] = {"path": path, "var": var, "exists": False}
    try:
        text = fs.read_text(path, MAX_FILE)
    except OSError as exc:
        rec["exists"] = True
        rec["error"] = f"not read: {exc}"
        rec["refused"] = True
        return rec
    if text is None:
        return rec
    rec["exists"] = True
    try:
        parser = _parse(text, strict=False)
    except configparser.Error as exc:
        rec["error"] = f"does not parse: {_first_line(exc)}"
        rec["strict_error"] = _first_line(exc)
        return rec
    try:
        _parse(text, strict=True)
    except configparser.Error as exc:
        # botocore reads with configparser's defaults: a repeated section or key is an error.
        rec["strict_error"] = _first_line(exc)
    rec["sections"] = parser.sections()[:50]
    sso_sessions = []
    for section in parser.sections():
        if label.startswith("config") and section.startswith("sso-session "):
            sso_sessions.append(section.split(" ", 1)[1].strip())
            continue
        name = _profile_name(section, label)
        if name is None or (name not in profiles and len(profiles) >= MAX_PROFILES):
            continue
        items = {k: v for k, v in parser.items(section)}
        entry = profiles.setdefault(name, {"files": [], "settings": {}, "keys": {}})
        entry["files"].append(label)
        settings = {k: str(items[k])[:MAX_VALUE] for k in PLAIN_KEYS if k in items}
        for k in PRESENCE_KEYS:
            if k in items:
                settings[k] = "(set)"
        if items.get("external_id"):
            secrets.external_ids[name] = str(items["external_id"])
        if "credential_process" in items:
            # Only the program: its arguments may carry a secret (a token, a password).
            program, count = command_program(str(items["credential_process"]))
            settings["credential_process"] = program[:300]
            settings["credential_process_args"] = str(count)
        entry["settings"][label] = settings
        key_id, secret = items.get(KEY_ID), items.get(SECRET)
        token = next((items[k] for k in SESSION if items.get(k)), None)
        if KEY_ID in items or SECRET in items:
            for value in (secret, token):
                if value:
                    redact.register(value)
            entry["keys"][label] = {
                "access_key_id": redact.mask_key_id(key_id) if key_id else None,
                "kind": key_kind(key_id),
                "id": bool(key_id),
                "secret": bool(secret),
                "session_token": bool(token),
            }
            if key_id and secret:
                secrets.keys[(label, name)] = (key_id, secret, token)
    if sso_sessions:
        rec["sso_sessions"] = sso_sessions[:50]
    return rec


def active_profile(environ: Mapping[str, str]) -> tuple[str, Optional[str]]:
    """(profile, the variable that named it) by botocore's rule: AWS_DEFAULT_PROFILE, then
    AWS_PROFILE (other SDKs' rules are in the chain model)."""
    for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        if var in environ:
            return environ[var], var
    return "default", None


def load(environ: Mapping[str, str], fs: RootFS, home: Optional[str]) -> tuple[dict[str, Any], Secrets]:
    """The ``environ.aws_config`` record and the keys found; never raises for bad input."""
    secrets = Secrets()
    profiles: dict[str, Any] = {}
    files = {
        label: read_file(fs, label, path, var, secrets, profiles)
        for label, (path, var) in file_paths(environ, home).items()
    }
    profile, var = active_profile(environ)
    record = {
        "profile": profile,
        "profile_var": var,
        "profile_vars": {v: environ[v][:200] for v in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if v in environ},
        "files": files,
        "profiles": profiles,
    }
    return record, secrets


def inventory(record: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The older per-file summary of the active profile (``environ.config_file`` and
    ``environ.shared_credentials_file``), derived from the record."""
    f = (record.get("files") or {}).get(label) or {}
    out: dict[str, Any] = {"path": f.get("path"), "exists": bool(f.get("exists"))}
    if f.get("error"):
        out["error"] = f["error"]
    if not f.get("exists") or f.get("error"):
        return out
    profile = (record.get("profiles") or {}).get(record.get("profile") or "default") or {}
    settings = (profile.get("settings") or {}).get(label) or {}
    keys = set(k for k in settings if k in ("role_arn", "web_identity_token_file", "credential_process", "sso_session", "sso_start_url", "login_session", "region"))
    if label in (profile.get("keys") or {}):
        keys.add("aws_access_key_id")
    out["profiles"] = list(f.get("sections") or [])
    out["active_keys"] = sorted(keys)
    if "region" in settings:
        out["region"] = settings["region"]
    if "credential_source" in settings:
        out["credential_source"] = settings["credential_source"][:40]
    return out
