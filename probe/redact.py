"""The one place that masks secrets.

Two layers, because a leak costs far more than a masked word:

1. Collectors never store a secret: they keep presence, length and masked forms
   (``mask_key_id``, ``mask_relative_uri``, ``mask_url``).
2. Every secret value the process has seen (from its environment, a token file, an
   endpoint's answer) is ``register``-ed here, and every renderer, log line and saved
   file goes through ``scrub`` last, which removes any run of eight or more characters
   of any registered secret, so even a secret quoted in part by an exception message
   cannot get out. The renderers scrub each value before they format it (JSON, the text
   report, /metrics labels, EMF); the text report and /metrics are scrubbed whole again.

``scrub`` takes linear time on any text, and keeps the structure of what it scrubs: it masks
a value up to the end of its field, never to the end of the document, and never removes a
line break, a quote or a key (see the notes above ``_VALUE``; issue 19, items 5 and 6).

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

from probe.ids import ORDER

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

# How scrub keeps a document's structure (issue 19, items 5 and 6):
#
# - Every pattern starts on a literal keyword (a secret field's name, "://", "/credentials/",
#   "id=", "AKIA"...) and masks one value: a run of _VALUE characters, which never crosses
#   whitespace, a line break or a character that ends a value in JSON, XML, a query string, a
#   Python repr or key=value text. So a mask ends where the field ends, never at the end of
#   the document: a text report keeps every line (its values are one line each:
#   render.text.terminal_safe), /metrics every label, a JSON document every key.
# - A backslash escape (\" \\ \n in JSON text or a Prometheus label value) is masked whole or
#   not at all, so a mask never turns an escaped quote into the end of a string.
# - A mask never removes a line break, not even inside a registered secret.
# - No pattern has overlapping quantifiers, and every scan stops at the next delimiter, so
#   scrub is linear in the length of its text (it used to be quadratic on a run of letters).
#
# Line breaks, as str.splitlines sees them.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_NL = "\\n\\r\\x0b\\x0c\\x1c\\x1d\\x1e\\x85\\u2028\\u2029"  # the same, for a character class
# One character of a secret value, or a backslash escape kept whole.
_VALUE = r"""(?:[^"'\s,}&<\\]|\\[^\s])"""
# Whatever follows these in a text is the credentials id (a capability), even when we
# never saw the value itself, e.g. in a third party's error message.
_CREDENTIALS_ID = re.compile(r"""((?:/credentials/|[?&]id=))((?:[^\s"'<>&/\\]|\\[^\s])+)""", re.IGNORECASE)
# A password in any URL's userinfo (scheme://user:PASSWORD@host), registered or not: found
# from the "://" by _mask_url_passwords (a regex starting on the scheme was quadratic).
_URL_RUN = re.compile(r"""(?<![^\s@"'<>])[^\s@"'<>]+@""")  # a run of URL characters ending at "@"
_URL_USER = re.compile(r"[^/?#:]*")  # the user name after "://", inside such a run
_SCHEME_TAIL = "0123456789+.-"
# Secret fields as JSON, a Python repr (exception messages print dicts) or key=value: the
# name, then on the same line ":" or "=" and the value. The names SecretAccessKey, SecretKey,
# SessionToken, SecurityToken, Token, aws_secret_access_key, aws_session_token and
# aws_security_token, as a tree: a regex tries far fewer branches at each position.
_SECRET_NAMES = r"(?:Se(?:cret(?:AccessKey|Key)|ssionToken|curityToken)|Token|aws_se(?:cret_access_key|ssion_token|curity_token))"
_JSON_SECRET_FIELD = re.compile(
    r"(" + _SECRET_NAMES + r"""["']?[ \t]*[:=][ \t]*["']?)"""
    r"(" + _VALUE + r"+)",
    re.IGNORECASE,
)
# The same fields in XML (an STS or proxy error page): <SecretAccessKey>...</SecretAccessKey>.
# After an opening tag (not a self-closing one), the first that applies:
#   3      the text up to its closing tag on the same line, whatever it is;
#   4, 5   one token up to its closing tag on a later line (a pretty-printed document);
#   6, 7   no closing tag: the value up to the end of its field (a body cut short);
#   8, 9   no closing tag, nothing after the tag on its line: the next line when it is one
#          token (a pretty-printed body cut short).
_TOKEN = r"(?:[^\s<\"\\]|\\[^\s])+"
_XML_SECRET_FIELD = re.compile(
    r"(<(" + _SECRET_NAMES + r")\b(?:[^<>]*[^<>/])?>)"
    r"(?:"
    r"((?:[^<\"\\" + _NL + r"]|\\[^" + _NL + r"])+)(?=</\2\s*>)"
    r"|(\s*)(" + _TOKEN + r")(?=\s*</\2\s*>)"
    r"|([ \t]*)(" + _VALUE + r"+)"
    r"|([ \t]*[" + _NL + r"]\s*)(" + _TOKEN + r")(?=[ \t]*(?:[" + _NL + r"]|<|\Z))"
    r")?",
    re.IGNORECASE,
)
# An access key id anywhere (AKIA long-term, ASIA temporary, ABIA/ACCA): the contract allows
# its last four characters only, whether or not this process saw the key before.
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,}(?![A-Z0-9])")


def _xml_mask(m: "re.Match[str]") -> str:
    if m.group(3) is not None:
        return m.group(1) + MASK
    if m.group(5) is not None:
        return m.group(1) + m.group(4) + MASK
    if m.group(7) is not None:
        return m.group(1) + m.group(6) + MASK
    if m.group(9) is not None:
        return m.group(1) + m.group(8) + MASK
    return m.group(0)


def _mask_url_passwords(text: str) -> str:
    """Every ``scheme://user:PASSWORD@`` with its password masked, in linear time.

    The same matches as ``[A-Za-z][A-Za-z0-9+.-]*://[^\\s/?#@:"'<>]*:([^\\s@"'<>]+)@``: all of
    such a match lies in one run of characters other than whitespace, ``@"'<>``, and that run
    ends at the "@"; the password is the rest of the run after the first ":" that follows a
    "://" with a scheme before it and no "/?#" between.
    """
    if "://" not in text or "@" not in text:
        return text
    out: list[str] = []
    done = 0
    for run in _URL_RUN.finditer(text):
        start, at = run.start(), run.end() - 1
        k = text.find("://", start, at)
        while k != -1:
            # A scheme: a letter, then letters, digits, "+", "." or "-", up to the "://".
            j = k - 1
            while j >= start and text[j] in _SCHEME_TAIL:
                j -= 1
            if j >= start and text[j].isascii() and text[j].isalpha():
                user = _URL_USER.match(text, k + 3, at)
                user_end = user.end() if user else k + 3  # "*" matches, if only the empty string
                if user_end < at - 1 and text[user_end] == ":":
                    out.append(text[done : user_end + 1])
                    out.append(MASK)
                    done = at
                    break
            k = text.find("://", k + 1, at)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _escape_start(text: str, i: int) -> bool:
    """Is the backslash at ``i`` the first of an escape (an odd one in its run of backslashes)?"""
    j = i
    while j >= 0 and text[j] == "\\":
        j -= 1
    return (i - j) % 2 == 1


def _apply_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (merged with any it touches) replaced by one MASK.

    A span is widened to hold a whole backslash escape, and the line breaks inside a span
    stay where they are (a mask per piece between them)."""
    n = len(text)
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    # Widened after merging: each run of backslashes is then looked at from one span or two.
    widened: list[list[int]] = []
    for a, b in merged:
        if a > 0 and text[a - 1] == "\\" and _escape_start(text, a - 1):
            a -= 1
        if b < n and text[b - 1] == "\\" and _escape_start(text, b - 1) and text[b] not in _LINE_BREAKS:
            b += 1
        if widened and a <= widened[-1][1]:
            widened[-1][1] = max(widened[-1][1], b)
        else:
            widened.append([a, b])
    merged = widened
    out: list[str] = []
    done = 0
    for a, b in merged:
        out.append(text[done:a])
        piece = text[a:b]
        if any(c in piece for c in _LINE_BREAKS):
            out.append(_LINE_SPLIT.sub(lambda m: m.group(1) or MASK, piece))
        else:
            out.append(MASK)
        done = b
    out.append(text[done:])
    return "".join(out)


# Inside a masked span with line breaks: each break kept, each piece between them masked.
_LINE_SPLIT = re.compile("([" + _NL + "])|[^" + _NL + "]+")


# The report's fixed vocabulary besides the check ids (those come from probe.ids.ORDER).
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
        # 8-character pieces that are not vocabulary, and every 4-character piece of them:
        # scrub looks up the text's 4-grams at every fourth position, and its 8-grams only
        # around a hit (any 8 characters hold a 4-gram that starts at a multiple of 4).
        self._windows: set[str] = set()
        self._grams: set[str] = set()
        # Secrets (not vocabulary) that their windows do not cover end to end: shorter than a
        # window, or with a piece that is vocabulary. Found whole, with str.find.
        self._whole: tuple[str, ...] = ()

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
        covered = 0  # characters [0, covered) lie in a kept window
        gap = len(secret) < _WINDOW
        for i in range(len(secret) - _WINDOW + 1):
            w = secret[i : i + _WINDOW]
            if w in windows or not is_vocabulary(w):
                windows.add(w)
                gap = gap or i > covered
                covered = i + _WINDOW
        gap = gap or covered < len(secret)
        grams = {w[j : j + 4] for w in windows for j in range(_WINDOW - 3)}
        with self._lock:
            self._windows.update(windows)
            self._grams.update(grams)
            if keep_whole and gap:
                self._whole = tuple(sorted({*self._whole, secret}, key=len, reverse=True))

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

    def _registered_spans(self, text: str) -> list[tuple[int, int]]:
        """Where a registered secret, whole or any 8-character piece, lies in ``text``."""
        spans: list[tuple[int, int]] = []
        # No copies: a secret registered by another thread meanwhile is seen or not, as before.
        windows, grams, whole = self._windows, self._grams, self._whole
        n = len(text)
        if windows and n >= _WINDOW:
            last = n - _WINDOW
            for p in range(0, n - 3, 4):
                if text[p : p + 4] in grams:
                    for i in range(max(0, p - 3), min(p, last) + 1):
                        if text[i : i + _WINDOW] in windows:
                            if spans and i <= spans[-1][1]:
                                spans[-1] = (spans[-1][0], i + _WINDOW)
                            else:
                                spans.append((i, i + _WINDOW))
        for secret in whole:
            i = text.find(secret)
            while i != -1:
                spans.append((i, i + len(secret)))
                i = text.find(secret, i + 1)
        return spans

    def scrub(self, text: str) -> str:
        """Text with every registered secret, whole or any 8+ character part, masked, and
        every secret field, URL password, credentials id and access key id masked by shape.

        Linear in the length of ``text``; every line break, key and delimiter stays (see
        the notes above ``_VALUE``).
        """
        if not text:
            return text
        spans = self._registered_spans(text)
        if spans:
            text = _apply_spans(text, spans)
        text = _mask_url_passwords(text)
        text = _CREDENTIALS_ID.sub(lambda m: m.group(1) + MASK, text)
        text = _XML_SECRET_FIELD.sub(_xml_mask, text)
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
_vocabulary_pieces: frozenset[str] = frozenset()
_SEPARATORS = "-_./:"


def _vocabulary() -> str:
    """Every vocabulary token, lowercased, NUL-separated (NUL never occurs in a report)."""
    global _vocabulary_text, _vocabulary_pieces
    if _vocabulary_text is None:
        tokens = list(_FIXED_VOCABULARY) + list(SECRET_ENV_VARS) + list(PROXY_ENV_VARS)
        tokens += sorted(_PLAIN_SEGMENTS)
        for ids in ORDER.values():
            tokens += list(ids)
        words = [t.lower() for t in tokens if t]
        # Every part of a token up to a window long: is_vocabulary's answer for a window
        # is one set lookup (register asks it for every window of a secret).
        _vocabulary_pieces = frozenset(w[i : i + n] for w in words for n in range(1, _WINDOW + 1) for i in range(len(w) - n + 1))
        _vocabulary_text = "\0".join(words)
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
    vocabulary = _vocabulary()
    if len(word) <= _WINDOW and _vocabulary_text is not None:
        return word.lower() in _vocabulary_pieces
    return word.lower() in vocabulary


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
