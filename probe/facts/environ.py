"""What the process environment and the AWS config files say, without any secret.

Also ``credentials_target``: the one place that works out which URL an SDK would ask for
credentials, and whether that URL may be requested at all. The collector uses it to
refuse unsafe URIs before any traffic; the checks read its record.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from probe import redact
from probe.facts import awsconfig
from probe.facts.awsconfig import Secrets
from probe.facts.rootfs import RootFS
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
    "AWS_ROLE_SESSION_NAME",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_METADATA_SERVICE_TIMEOUT",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_DEFAULTS_MODE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
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


def authorization_token(environ: Mapping[str, str], fs: Optional[RootFS] = None) -> dict[str, Any]:
    """Where the Authorization header would come from (file beats variable, as in botocore).

    ``fs``: the root the file is read in (another container's for `--pid`; this one's by
    default), inside it, fail closed and capped."""
    fs = fs or RootFS()
    record: dict[str, Any] = {"source": None, "present": False, "error": None, "illegal": False}
    value: Optional[str] = None
    if TOKEN_FILE in environ:
        record["source"] = "file"
        record["file"] = environ[TOKEN_FILE]
        try:
            value = fs.read_text(environ[TOKEN_FILE], 65536)
            if value is None:
                record["error"] = f"cannot read {environ[TOKEN_FILE]}: No such file or directory"
        except OSError as exc:
            record["error"] = f"cannot read {environ[TOKEN_FILE]}: {exc}"
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


_key_kind = awsconfig.key_kind


def collect_environ(
    environ: Mapping[str, str],
    home: Optional[str] = None,
    target: Optional[dict[str, Any]] = None,
    token: Optional[dict[str, Any]] = None,
    fs: Optional[RootFS] = None,
    pid: Optional[int] = None,
    config: Optional[tuple[dict[str, Any], Secrets]] = None,
) -> dict[str, Any]:
    """Observe the variables and files the SDK chains read. Never raises, never stores secrets.

    ``target`` and ``token``: the caller's own credentials_target / authorization_token
    records, so the token file is read once per run. ``fs`` and ``pid``: another
    process's view (`--pid`): the root its files are read in, and its pid. ``config``:
    the run's reading of the shared files (awsconfig.load), read here when not given.
    """
    redact.register_env(environ)
    fs = fs or RootFS()
    home = home if home is not None else environ.get("HOME") or os.path.expanduser("~")
    if config is None:
        config = awsconfig.load(environ, fs, home)
    aws_config = config[0]
    shown = {name: environ[name] for name in SHOWN_VARS if name in environ}
    present = {name: bool(environ.get(name)) for name in PRESENCE_VARS if name in environ}
    target = target if target is not None else credentials_target(environ)
    token = token if token is not None else authorization_token(environ, fs)
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
        "profile": aws_config["profile"],
        "shared_credentials_file": awsconfig.inventory(aws_config, "credentials"),
        "config_file": awsconfig.inventory(aws_config, "config"),
        "aws_config": aws_config,
        "boto_config": [p for p in ("/etc/boto.cfg", os.path.join(home, ".boto")) if fs.is_file(p)],
    }
