"""The one place that masks secrets.

Two layers, because a leak costs far more than a masked word:

1. Collectors never store a secret: they keep presence, length and masked forms
   (``mask_key_id``, ``mask_relative_uri``, ``mask_url``).
2. Every secret value the process has seen (from its environment, a token file, an
   endpoint's answer) is ``register``-ed here, and every renderer, log line and saved
   file goes through ``scrub`` last, which removes any run of eight or more characters
   of any registered secret, so even a secret quoted in part by an exception message
   cannot get out.
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
# Secret fields as JSON, a Python repr (exception messages print dicts) or key=value.
_JSON_SECRET_FIELD = re.compile(
    r"""(["']?(?:SecretAccessKey|Token|SessionToken|aws_secret_access_key|aws_session_token)["']?\s*[:=]\s*["']?)"""
    r"""([^"'\s,}]+)""",
    re.IGNORECASE,
)


class Redactor:
    """Remembers the secrets seen in this process and removes them from text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._windows: set[str] = set()

    def register(self, secret: Optional[str]) -> None:
        if not secret or len(secret) < _MIN_SECRET:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            if len(secret) >= _WINDOW:
                for i in range(len(secret) - _WINDOW + 1):
                    self._windows.add(secret[i : i + _WINDOW])

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
            secrets = sorted(self._secrets, key=len, reverse=True)
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
        text = _CREDENTIALS_ID.sub(lambda m: m.group(1) + MASK, text)
        text = _JSON_SECRET_FIELD.sub(lambda m: m.group(1) + MASK, text)
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
