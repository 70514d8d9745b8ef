"""The one place that masks secrets.

Two layers, because a leak costs far more than a masked word:

1. Collectors never store a secret: they keep presence, length and masked forms
   (``mask_key_id``, ``mask_relative_uri``, ``mask_url``).
2. Every secret value the process has seen (from its environment, a token file, an
   endpoint's answer) is ``register``-ed here, and every renderer, log line and saved
   file goes through ``scrub`` last, which removes any run of eight or more characters
   of any registered secret, so even a secret quoted in part by an exception message
   cannot get out.

What is never masked: the report's own vocabulary (check ids, JSON keys, statuses, the
variables, paths and fixed words it names; see ``is_vocabulary``). A secret, or an 8-character
piece of one, that is nothing but such a word is not registered: masking it would blank the
word out of every check id and sentence ("****.caller") while hiding nothing, since the word
is printed anyway. Such a secret is still masked where it stands as a secret: in a URL's
userinfo, and as the value of a secret field or variable (``scrub``'s patterns).
"""

from __future__ import annotations

import re
import threading
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

MASK = "****"
# Shorter windows would start to match ordinary words of the report.
_WINDOW = 8
_MIN_SECRET = 4

# Environment variables whose whole value is a secret.
SECRET_ENV_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
PROXY_ENV_VARS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)
# Path words of the credentials and metadata URIs that carry no secret.
_PLAIN_SEGMENTS = {"", "v1", "v2", "v3", "v4", "credentials", "api", "task", "role", "creds"}
# Whatever follows these in a text is the credentials id (a capability), even when we
# never saw the value itself, e.g. in a third party's error message.
_CREDENTIALS_ID = re.compile(r"((?:/credentials/|[?&]id=))([^\s\"'<>&/]+)", re.IGNORECASE)
# A password in any URL's userinfo (scheme://user:PASSWORD@host), registered or not.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:\"'<>]*:)([^\s@\"'<>]+)(@)")
# Secret fields as JSON, a Python repr (exception messages print dicts) or key=value.
_SECRET_NAMES = r"(?:SecretAccessKey|SecretKey|Token|SessionToken|SecurityToken|aws_secret_access_key|aws_session_token|aws_security_token)"
_JSON_SECRET_FIELD = re.compile(
    r"""(["']?""" + _SECRET_NAMES + r"""["']?\s*[:=]\s*["']?)"""
    r"""([^"'\s,}&<]+)""",
    re.IGNORECASE,
)
# The same fields in XML (an STS or proxy error page): <SecretAccessKey>...</SecretAccessKey>.
_XML_SECRET_FIELD = re.compile(r"(<(" + _SECRET_NAMES + r")\b[^>]*>)([^<]*)(</\2\s*>|<|$)", re.IGNORECASE)
# An access key id anywhere (AKIA long-term, ASIA temporary, ABIA/ACCA): the contract allows
# its last four characters only, whether or not this process saw the key before.
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,}(?![A-Z0-9])")


# The report's fixed vocabulary besides the check ids (those come from probe.checks.ORDER).
# Only whole tokens are listed: any part of one (a word of a check id, a piece of a path)
# counts as vocabulary too.
_FIXED_VOCABULARY = (
    # JSON keys of the report (and of its identity, task, cause, sdks and checks entries)
    "schema", "tool", "name", "version", "mode", "started_at", "duration_ms", "verdict", "summary",
    "identity", "arn", "account", "provider", "kind", "role_name", "session_name", "task_role_arn",
    "observed_with", "task_arn", "cluster", "launch_type", "network_mode", "container_name",
    "availability_zone", "cause", "checks", "status", "title", "detail", "remedy", "data",
    "sdks", "path", "gets", "source", "via_proxy", "used_by", "why", "check",
    # statuses, verdicts and the text report's fixed labels
    "pass", "warn", "fail", "skip", "error", "Not checked", "Verdict:", "Identity:", "Task:",
    "Cause:", "fix:", "(unconfirmed)", "not selected", "checks not selected",
    # identity kinds, sdks[].gets / source, botocore provider names, modes
    "task-role", "instance-role", "user", "other-role", "unknown", "none", "container", "imds",
    "process", "web-identity", "shared-credentials-file", "config-file", "container-role",
    "iam-role", "assume-role", "assume-role-with-web-identity", "custom-process", "explicit",
    "sso", "env", "task", "host", "taskdef", "trust", "watch", "health", "wait", "demo",
    # names: the tool, its schemas and metrics, services, link-local hosts and their paths
    "ecs-credential-probe/report/v1", "ecs-credential-probe/facts/v1",
    "ecs_credential_probe_build_info", "ecs_credential_probe_check_status",
    "ecs_credential_probe_credentials_expiry_timestamp_seconds", "ecs_credential_probe_run_duration_seconds",
    "ecs_credential_probe_last_run_timestamp_seconds", "ecs_credential_probe_verdict",
    "ecs_credential_probe_identity_info", "ecs_credential_probe_runs_total", "ecs_credential_probe_failures_total",
    "ecs-tasks.amazonaws.com", "sts.amazonaws.com",
    "sts:AssumeRole", "sts:GetCallerIdentity", "iam:GetRole", "169.254.169.254", "169.254.170.2",
    "/latest/meta-data/iam/security-credentials/", "/latest/api/token", "/v2/credentials/",
    "/v1/credentials", "/v4/", "/task/", "ecsInstanceRole", "ecsTaskExecutionRole",
    "/etc/ecs/ecs.config", "/etc/profile.d/ecs-credentials.sh", "/usr/local/bin/ecs-shim",
    # the credentials answer's field names
    "AccessKeyId", "SecretAccessKey", "SessionToken", "Token", "Expiration", "RoleArn",
    "LastUpdated", "Authorization",
    # variables the report names
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "ECS_CONTAINER_METADATA_URI_V4", "ECS_AGENT_URI",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_STS",
    "AWS_DEFAULT_REGION", "AWS_DEFAULT_PROFILE", "AWS_EXECUTION_ENV", "AWS_ACCESS_KEY_ID",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "NO_PROXY", "no_proxy", "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", "ECS_AWSVPC_BLOCK_IMDS",
    "aws_secret_access_key", "aws_session_token", "credential_process", "credential_source",
    "web_identity_token_file", "sso_session",
    # words of the report's sentences that a password or a path is likely to share
    "credentials", "credential", "endpoint", "metadata", "environment", "variable", "unreachable",
    "security", "profile", "processes", "versions", "identity", "password", "instance",
)


class Redactor:
    """Remembers the secrets seen in this process and removes them from text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()  # everything registered
        self._whole: set[str] = set()  # ... that is masked whole (not vocabulary)
        self._windows: set[str] = set()  # 8-character pieces that are not vocabulary

    def register(self, secret: Optional[str]) -> None:
        """Mask this secret, whole and any 8-character piece, from now on.

        A secret or piece that is only report vocabulary (``is_vocabulary``) is left out:
        it would mask check ids and keys while hiding nothing.
        """
        if not secret or len(secret) < _MIN_SECRET:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
        keep_whole = not is_vocabulary(secret)
        windows: set[str] = set()
        if len(secret) >= _WINDOW:
            windows = {secret[i : i + _WINDOW] for i in range(len(secret) - _WINDOW + 1)}
            windows = {w for w in windows if not is_vocabulary(w)}
        with self._lock:
            if keep_whole:
                self._whole.add(secret)
            self._windows.update(windows)

    def register_env(self, environ: Mapping[str, str]) -> None:
        """Register every secret an environment carries."""
        for name in SECRET_ENV_VARS:
            self.register(environ.get(name))
        for name in PROXY_ENV_VARS:
            value = environ.get(name)
            if value:
                self.register(_url_password(value))
        relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        if relative:
            for part in _secret_parts_of_uri(relative):
                self.register(part)
        full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if full:
            self.register(_url_password(full))

    def scrub(self, text: str) -> str:
        """Text with every registered secret, whole or any 8+ character part, masked."""
        with self._lock:
            secrets = sorted(self._whole, key=len, reverse=True)
            windows = set(self._windows)
        for secret in secrets:
            text = text.replace(secret, MASK)
        if windows and len(text) >= _WINDOW:
            marked = bytearray(len(text))
            hit = False
            for i in range(len(text) - _WINDOW + 1):
                if text[i : i + _WINDOW] in windows:
                    marked[i : i + _WINDOW] = b"\x01" * _WINDOW
                    hit = True
            if hit:
                out: list[str] = []
                i = 0
                while i < len(text):
                    if marked[i]:
                        while i < len(text) and marked[i]:
                            i += 1
                        out.append(MASK)
                    else:
                        out.append(text[i])
                        i += 1
                text = "".join(out)
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
        text = _CREDENTIALS_ID.sub(lambda m: m.group(1) + MASK, text)
        text = _XML_SECRET_FIELD.sub(lambda m: m.group(1) + (MASK if m.group(3) else "") + m.group(4), text)
        text = _JSON_SECRET_FIELD.sub(lambda m: m.group(1) + MASK, text)
        text = _ACCESS_KEY_ID.sub(lambda m: MASK + m.group(0)[-4:], text)
        return text

    def scrub_obj(self, obj: Any) -> Any:
        """A deep copy of a JSON-like object with every string scrubbed."""
        if isinstance(obj, str):
            return self.scrub(obj)
        if isinstance(obj, Mapping):
            return {k: self.scrub_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.scrub_obj(v) for v in obj]
        return obj


_vocabulary_text: Optional[str] = None
_SEPARATORS = "-_./:"


def _vocabulary() -> str:
    """Every vocabulary token, lowercased, NUL-separated (NUL never occurs in a report)."""
    global _vocabulary_text
    if _vocabulary_text is None:
        tokens = list(_FIXED_VOCABULARY) + list(SECRET_ENV_VARS) + list(PROXY_ENV_VARS)
        tokens += sorted(_PLAIN_SEGMENTS)
        try:
            # Imported late: probe.checks imports probe.facts, which imports this module.
            from probe.checks import ORDER
        except ImportError:  # pragma: no cover - mid-import: try again next time
            return "\0".join(t.lower() for t in tokens if t)
        for ids in ORDER.values():
            tokens += list(ids)
        _vocabulary_text = "\0".join(t.lower() for t in tokens if t)
    return _vocabulary_text


def is_vocabulary(piece: str) -> bool:
    """Is `piece` (any case) part of one of the report's own tokens: a check id
    ("identity.caller"), a JSON key, a status, or a variable, path or word the report names?

    Such a piece is printed in every report anyway, so masking it hides nothing and breaks
    the report ("****.caller", "env.****-variable").
    """
    # Separators around a word ("-task-ro" of "Zq7-task-role-x9") add nothing secret, but
    # would mask across the word's edge in a value such as a role name "app-task-role".
    word = piece.strip(_SEPARATORS)
    if not word or "\0" in word or (word != piece and len(word) < _MIN_SECRET):
        return False
    return word.lower() in _vocabulary()


REDACTOR = Redactor()
register = REDACTOR.register
register_env = REDACTOR.register_env
scrub = REDACTOR.scrub
scrub_obj = REDACTOR.scrub_obj


def mask_key_id(key_id: Optional[str]) -> Optional[str]:
    """An access key id shown by its last four characters only."""
    if not key_id:
        return key_id
    return MASK + key_id[-4:] if len(key_id) > 4 else MASK


_ID_LIKE = re.compile(r"^[A-Za-z0-9_\-]{8,}$")


def _secret_parts_of_uri(uri: str) -> Iterable[str]:
    """The id-like parts of a relative URI: path segments and query values.

    Only id-shaped parts are secrets; registering words such as "credentials" or a host
    name would blank them out of every report.
    """
    parts = urlsplit(uri)
    candidates = parts.path.split("/") + [p.partition("=")[2] or p for p in parts.query.split("&") if p]
    if parts.fragment:
        candidates.append(parts.fragment)
    for part in candidates:
        if part.lower() not in _PLAIN_SEGMENTS and _ID_LIKE.match(part):
            yield part


def mask_relative_uri(uri: Optional[str]) -> Optional[str]:
    """The relative credentials URI with its id (a capability) masked.

    ``/v2/credentials/3f1c...`` becomes ``/v2/credentials/****``; anything not shaped
    like a path is masked whole, keeping only its first character so a reader can see
    why it was refused (e.g. a leading ``@``).
    """
    if uri is None:
        return None
    if uri.startswith("//"):
        # urlsplit would take the host for a netloc and drop it: keep the reason visible.
        return "//" + MASK
    if not uri.startswith("/"):
        return (uri[:1] + MASK) if uri else uri
    parts = urlsplit(uri)
    path = "/".join(
        s if s.lower() in _PLAIN_SEGMENTS else MASK for s in parts.path.split("/")
    )
    query = "&".join(
        (p.partition("=")[0] + "=" + MASK) if "=" in p else MASK
        for p in parts.query.split("&")
        if p
    )
    return path + ("?" + query if query else "")


def _userinfo(url: str) -> tuple[str, str, str]:
    """(scheme + '://' or '', userinfo or '', rest) split at the LAST '@'.

    urlsplit ends the netloc at the first '/', '?' or '#', so a password holding one of
    them would be taken for a path and shown; a secret is worth over-masking a host.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    else:
        scheme += sep
    at = rest.rfind("@")
    if at == -1:
        return scheme, "", rest
    return scheme, rest[:at], rest[at + 1 :]


def _url_password(url: str) -> Optional[str]:
    _scheme, userinfo, _rest = _userinfo(url)
    if ":" not in userinfo:
        return None
    return userinfo.partition(":")[2] or None


def mask_url(url: Optional[str]) -> Optional[str]:
    """A URL (proxy, FULL_URI) with its password and query values masked."""
    if not url:
        return url
    scheme, userinfo, rest = _userinfo(url)
    if userinfo:
        user = userinfo.partition(":")[0]
        url = f"{scheme}{user}:{MASK}@{rest}" if ":" in userinfo else url
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        netloc = parts.netloc
        query = "&".join(
            (p.partition("=")[0] + "=" + MASK) if "=" in p else p
            for p in parts.query.split("&")
            if p
        )
        masked = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
        return masked if "://" in url else masked.split("://", 1)[1]
    except ValueError:
        return MASK
