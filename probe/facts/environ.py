"""What the process environment and the AWS config files say, without any secret.

Also ``credentials_target``: the one place that works out which URL an SDK would ask for
credentials, and whether that URL may be requested at all. The collector uses it to
refuse unsafe URIs before any traffic; the checks read its record.
"""

from __future__ import annotations

import configparser
import errno
import os
import stat
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from probe import redact
from shim.uris import ECS_CREDENTIALS_HOST, FULL_URI_HOSTS, PLAIN_PATH, full_uri_accepted

RELATIVE = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
FULL = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
# Before botocore 1.32.0 only these were accepted.
FULL_URI_HOSTS_OLD = ("169.254.170.2", "localhost", "127.0.0.1")

# Plain-text variables worth showing as they are.
SHOWN_VARS = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_EXECUTION_ENV",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_CREDENTIAL_FILE",
    "BOTO_CONFIG",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
    "ECS_AGENT_URI",
    "NO_PROXY",
    "no_proxy",
)
PRESENCE_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", TOKEN)
# Keys of a profile that give it credentials of its own (botocore provider in brackets).
PROFILE_SOURCES = {
    "aws_access_key_id": "static keys",
    "role_arn": "assume-role",
    "web_identity_token_file": "assume-role-with-web-identity",
    "credential_process": "custom-process",
    "sso_session": "sso",
    "sso_start_url": "sso",
    "login_session": "login",
}


def credentials_target(environ: Mapping[str, str]) -> dict[str, Any]:
    """Which URL the SDKs' container provider would request, and whether it is safe.

    Mirrors botocore: the relative URI wins when both are set and is appended to
    ``http://169.254.170.2`` without validation; the full URI must be https or name a
    loopback address or one of the known link-local hosts.
    """
    record: dict[str, Any] = {"source": None, "url": None, "host": None, "refused": None}
    if RELATIVE in environ:
        value = environ[RELATIVE]
        url = f"http://{ECS_CREDENTIALS_HOST}{value}"
        record.update(source="relative", url=f"http://{ECS_CREDENTIALS_HOST}{redact.mask_relative_uri(value)}")
        record["both_set"] = FULL in environ
        try:
            parts = urlsplit(url)
            host, port, userinfo = parts.hostname, parts.port, "@" in parts.netloc
        except ValueError:
            # The exception text would quote the value (a capability): say it plainly.
            host, port, userinfo = None, None, False
            record["refused"] = "appended to http://169.254.170.2 it does not parse as a URL"
        record["host"] = host if host in (ECS_CREDENTIALS_HOST, None) else redact.MASK
        if record["refused"]:
            pass
        elif value == "":
            record["refused"] = "it is empty"
        elif not PLAIN_PATH.match(value):
            first = value[:1]
            if host != ECS_CREDENTIALS_HOST or port is not None or userinfo:
                record["refused"] = (
                    f"appended to http://{ECS_CREDENTIALS_HOST} it would send the request "
                    f"to another host ({'starts with ' + repr(first) if first else 'empty'})"
                )
            else:
                record["refused"] = (
                    "it is not a plain absolute path (it must start with a single '/' and "
                    "contain only URL path and query characters)"
                )
        if record["refused"] is None:
            record["_raw_url"] = url
        return record
    if FULL in environ:
        value = environ[FULL]
        record.update(source="full", url=redact.mask_url(value))
        try:
            parts = urlsplit(value)
            host = parts.hostname
            _ = parts.port  # raises on a bad port
        except ValueError:
            record["refused"] = "the URL does not parse (a bad port or bracket)"
            return record
        record["host"] = host
        if parts.scheme not in ("http", "https") or not host:
            record["refused"] = "it is not an http:// or https:// URL with a host"
        elif not full_uri_accepted(parts.scheme, host):
            record["refused"] = (
                f"the SDKs refuse plain http to {host!r}: only https, a loopback address or "
                + ", ".join(FULL_URI_HOSTS)
                + " are accepted"
            )
        record["old_sdks_refuse"] = parts.scheme == "http" and host not in FULL_URI_HOSTS_OLD
        if record["refused"] is None:
            record["_raw_url"] = value
        return record
    return record


def read_regular(path: str, limit: int) -> str:
    """A regular file's text; a FIFO or device would block or never end, so it is refused."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _same(path: str) -> str:
    return path


def authorization_token(environ: Mapping[str, str], path_of: Callable[[str], str] = _same) -> dict[str, Any]:
    """Where the Authorization header would come from (file beats variable, as in botocore).

    ``path_of``: where a path the environment names is read from (another process's root
    for `--pid`; the path itself by default)."""
    record: dict[str, Any] = {"source": None, "present": False, "error": None, "illegal": False}
    value: Optional[str] = None
    if TOKEN_FILE in environ:
        record["source"] = "file"
        record["file"] = environ[TOKEN_FILE]
        try:
            value = read_regular(path_of(environ[TOKEN_FILE]), 65536)
        except OSError as exc:
            record["error"] = f"cannot read {environ[TOKEN_FILE]}: {exc.strerror or exc}"
    elif TOKEN in environ:
        record["source"] = "variable"
        value = environ[TOKEN]
    if value is not None:
        redact.register(value)
        redact.register(value.strip())
        record["present"] = bool(value)
        record["length"] = len(value)
        # botocore raises "Auth token value is not a legal header value" for these.
        record["illegal"] = "\r" in value or "\n" in value
        # Only a final newline (an editor's or `echo`'s): some SDKs trim it, botocore refuses it.
        record["trailing_newline_only"] = record["illegal"] and "\r" not in value.rstrip("\r\n") and "\n" not in value.rstrip("\r\n")
        record["_raw"] = value
    return record


def _profile_inventory(path: str, profile: str, config_style: bool, path_of: Callable[[str], str] = _same) -> dict[str, Any]:
    """Which credential-bearing keys the active profile of one INI file holds (names only)."""
    record: dict[str, Any] = {"path": path, "exists": os.path.isfile(path_of(path))}
    if not record["exists"]:
        return record
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(read_regular(path_of(path), 1 << 20))
    except (OSError, configparser.Error) as exc:
        record["error"] = str(exc).splitlines()[0][:200]
        return record
    section = profile
    if config_style and profile != "default":
        section = f"profile {profile}"
    if not parser.has_section(section) and config_style and profile == "default":
        section = "profile default"
    record["profiles"] = [s for s in parser.sections()][:50]
    if parser.has_section(section):
        keys = sorted(k for k in parser.options(section) if k in PROFILE_SOURCES or k == "region")
        record["active_keys"] = keys
        if "region" in keys:
            record["region"] = parser.get(section, "region")
        if parser.has_option(section, "credential_source"):
            # Environment / Ec2InstanceMetadata / EcsContainer: a name, not a secret.
            record["credential_source"] = parser.get(section, "credential_source")[:40]
    else:
        record["active_keys"] = []
    return record


def _key_kind(key_id: Optional[str]) -> Optional[str]:
    """An IAM user's long-term key (AKIA...) or a session's temporary one (ASIA...)."""
    if not key_id:
        return None
    return {"AKIA": "long-term", "ASIA": "temporary"}.get(key_id[:4])


def collect_environ(
    environ: Mapping[str, str],
    home: Optional[str] = None,
    target: Optional[dict[str, Any]] = None,
    token: Optional[dict[str, Any]] = None,
    path_of: Callable[[str], str] = _same,
    pid: Optional[int] = None,
) -> dict[str, Any]:
    """Observe the variables and files the SDK chains read. Never raises, never stores secrets.

    ``target`` and ``token``: the caller's own credentials_target / authorization_token
    records, so the token file is read once per run. ``path_of`` and ``pid``: another
    process's view (`--pid`): where its files are read from, and its pid.
    """
    redact.register_env(environ)
    home = home if home is not None else environ.get("HOME") or os.path.expanduser("~")
    shown = {name: environ[name] for name in SHOWN_VARS if name in environ}
    present = {name: bool(environ.get(name)) for name in PRESENCE_VARS if name in environ}
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    creds_file = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")
    config_file = environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    target = target if target is not None else credentials_target(environ)
    token = token if token is not None else authorization_token(environ, path_of)
    return {
        "pid": os.getpid() if pid is None else pid,
        "relative_uri_set": RELATIVE in environ,
        "relative_uri": redact.mask_relative_uri(environ.get(RELATIVE)),
        "full_uri_set": FULL in environ,
        "full_uri": redact.mask_url(environ.get(FULL)),
        "credentials_target": {k: v for k, v in target.items() if not k.startswith("_")},
        "authorization_token": {k: v for k, v in token.items() if not k.startswith("_")},
        "access_key_id": redact.mask_key_id(environ.get("AWS_ACCESS_KEY_ID")),
        "access_key_kind": _key_kind(environ.get("AWS_ACCESS_KEY_ID")),
        "present": present,
        "shown": shown,
        "proxy_vars": {
            name: redact.mask_url(environ[name]) for name in redact.PROXY_ENV_VARS if name in environ
        },
        "profile": profile,
        "shared_credentials_file": _profile_inventory(creds_file, profile, False, path_of),
        "config_file": _profile_inventory(config_file, profile, True, path_of),
        "boto_config": [p for p in ("/etc/boto.cfg", os.path.join(home, ".boto")) if os.path.isfile(path_of(p))],
    }
