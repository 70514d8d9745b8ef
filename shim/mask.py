"""What ``shim --dry-run`` shows of a value: the credentials id and passwords masked.

The same rules as the probe (probe/redact.py ``mask_relative_uri`` and ``mask_url``), written
as plain string operations, as probe.sh and the sh twin do them, so that both shims print the
same bytes. Standard library only, and imported only by ``--dry-run``.
"""

from __future__ import annotations

MASK = "****"
# Path words of the credentials and metadata URIs that carry no secret (probe/redact.py), in
# any case of ASCII letters.
PLAIN_SEGMENTS = frozenset({"", "v1", "v2", "v3", "v4", "credentials", "api", "task", "role", "creds"})
# The first character kept of a relative URI that is not a path, so a reader sees why it
# was refused (a leading "@", say); anything else (a byte of a multi-byte character) is not.
_SHOWN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._~%:+=-")
# The variables whose value is a URL: shown with mask_url.
URL_VARS = frozenset({"AWS_CONTAINER_CREDENTIALS_FULL_URI", "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4", "ECS_AGENT_URI"})
RELATIVE = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"


def mask_relative_uri(uri: str) -> str:
    """``/v2/credentials/3f1c...`` as ``/v2/credentials/****``: every path segment that is
    not a plain word masked, and every query value; a value that is not a path masked whole."""
    if uri.startswith("//"):
        return "//" + MASK
    if not uri.startswith("/"):
        if not uri:
            return uri
        return (uri[0] + MASK) if uri[0] in _SHOWN_FIRST else MASK
    path, sep, query = uri.partition("?")
    out = "/".join(s if s.isascii() and s.lower() in PLAIN_SEGMENTS else MASK for s in path.split("/"))
    if sep:
        parts = [(p.partition("=")[0] + "=" + MASK) if "=" in p else MASK for p in query.split("&") if p]
        if parts:
            out += "?" + "&".join(parts)
    return out


def mask_url(url: str) -> str:
    """A URL with its password (userinfo after ':', up to the last '@') and query values
    masked, its fragment dropped."""
    scheme, sep, rest = url.partition("://")
    if sep:
        scheme += sep
    else:
        scheme, rest = "", url
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.partition(":")[0] + ":" + MASK
        rest = userinfo + "@" + host
    rest = rest.partition("#")[0]
    rest, sep, query = rest.partition("?")
    if sep:
        parts = [(p.partition("=")[0] + "=" + MASK) if "=" in p else p for p in query.split("&") if p]
        if parts:
            rest += "?" + "&".join(parts)
    return scheme + rest


def shown(name: str, value: str, secret_name: bool) -> str:
    """The value of ``name`` as --dry-run prints it. ``secret_name``: a --var whose name looks
    like a secret (its whole value is masked)."""
    if name == RELATIVE:
        return mask_relative_uri(value)
    if name in URL_VARS:
        return mask_url(value)
    if secret_name:
        return MASK
    if "://" in value:
        return mask_url(value)
    return value
