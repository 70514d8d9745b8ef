"""What each AWS SDK found in the image would really get here: its row of the behaviour
model (probe/sdkmodel.py) run over the observed facts. Pure: no I/O.

The facts are the task's (the variables, the files in HOME, the proxy settings, what the
credentials endpoint and IMDS answered, whether IMDSv1 is allowed); the model says how
each SDK reads them. The result is one record per SDK with the contract's fields
(``sdk, title, version, path, gets, source, via_proxy, used_by, why``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from probe import arns, chain, sdkmodel
from probe.facts import Facts
from probe.sdkmodel import PROXY_RULES, SdkBehaviour, at_least, proxy_for

GETS = ("task-role", "instance-role", "user", "other-role", "none", "unknown")
SAY_GETS = {
    "task-role": "the task role",
    "instance-role": "the EC2 instance role",
    "user": "an IAM user's keys",
    "other-role": "another role",
    "none": "no credentials (it ends in an error)",
    "unknown": "an identity the probe cannot tell",
}
RUNTIME_TITLE = {
    "python": "Python",
    "node": "Node.js",
    "go": "Go",
    "java": "Java",
    "ruby": "Ruby",
    "php": "PHP",
    "dotnet": ".NET",
    "powershell": "PowerShell",
    "cpp": "C++",
    "rust": "Rust",
}
# The package a user knows the SDK by, for the summary line.
PACKAGE = {
    "botocore": "botocore",
    "boto3": "boto3",
    "boto": "boto",
    "awscli-v1": "awscli",
    "awscli-v2": "AWS CLI v2",
    "js-v2": "aws-sdk",
    "js-v3": "@aws-sdk/credential-provider-node",
    "go-v1": "aws-sdk-go",
    "go-v2": "aws-sdk-go-v2",
    "ruby": "aws-sdk-core",
    "php": "aws/aws-sdk-php",
    "dotnet": "AWSSDK.Core",
    "java-v1": "aws-java-sdk",
    "java-v2": "AWS SDK for Java 2.x",
    "cpp": "aws-sdk-cpp",
    "rust": "aws-config",
}
_PROC_ROOT = re.compile(r"^/proc/\d+/root(?=/)")
_PROC_PID = re.compile(r"^/proc/(\d+)/root(?=/)")


@dataclass(frozen=True)
class Prediction:
    gets: str
    source: Optional[str]
    via_proxy: bool
    why: str
    role: Optional[str] = None  # the role it would assume (a profile's role_arn, web identity's)
    chained: bool = False  # that role is assumed with the task role's credentials


# ---------------------------------------------------------------------------------------
# Proxy rules over the observed variables.


def proxy_settings(env: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(proxy variables by name, NO_PROXY variables by name) from the environ record."""
    shown = env.get("shown") or {}
    proxy_vars = {k: v for k, v in (env.get("proxy_vars") or {}).items() if v}
    return proxy_vars, {k: shown[k] for k in ("NO_PROXY", "no_proxy") if shown.get(k)}


def clients_via_proxy(url: Optional[str], f: Facts) -> list[str]:
    """Which kinds of client (curl, wget, Go, Python, ...) would send a request for
    ``url`` through a proxy, each read with its own rule."""
    proxy_vars, no_proxy = proxy_settings(f.get("environ"))
    return [rule.title for name, rule in PROXY_RULES.items() if proxy_for(name, url, proxy_vars, no_proxy)]


# ---------------------------------------------------------------------------------------
# The facts, as the SDKs see them.


class _View:
    def __init__(self, f: Facts) -> None:
        env = f.get("environ")
        self.env = env
        shown = env.get("shown") or {}
        self.shown = shown
        self.inputs = chain.Inputs(env)
        self.target = env.get("credentials_target") or {}
        self.token = env.get("authorization_token") or {}
        self.proxy_vars, self.no_proxy = proxy_settings(env)
        self.cred = f.get("credentials")
        self.imds = f.get("imds")
        self.has_credentials = f.has("credentials")
        self.cred_full = f.get("credentials_full")
        self.has_credentials_full = f.has("credentials_full")
        self.has_imds = f.has("imds")
        self.ident = f.get("identity")
        self.imds_disabled_value = str(shown.get("AWS_EC2_METADATA_DISABLED", ""))
        self.task_role_arn = self.cred.get("role_arn") if self.cred.get("status") == 200 else None
        # What STS confirmed, by the key of the pick it was resolved for.
        self.confirmed: dict[str, tuple[dict[str, Any], Optional[str]]] = {}
        ident = self.ident
        if isinstance(ident.get("key"), str):
            self.confirmed[ident["key"]] = (ident, ident.get("provider"))
        for key, rec in (ident.get("confirmed") or {}).items():
            if isinstance(rec, dict):
                self.confirmed.setdefault(str(key), (rec, "container-role" if key == "container" else None))

    def failure(self, key: str) -> Optional[str]:
        """What went wrong when the probe used the credentials of ``key`` (an STS refusal, a
        token file it could not read), or None."""
        found = self.confirmed.get(key)
        if not found:
            return None
        rec = found[0]
        error = rec.get("sts_error") or (rec.get("chain_error") if rec.get("chain_error_provider") in ("assume-role", "assume-role-with-web-identity") else None)
        return str(error)[:200] if error else None

    def confirmed_kind(self, key: str) -> Optional[str]:
        """The kind STS confirmed for credentials resolved as ``key``, or None."""
        found = self.confirmed.get(key)
        if not found or not found[0].get("arn"):
            return None
        kind = arns.classify(found[0]["arn"], found[1], self.task_role_arn, self.imds.get("role_name"))
        return None if kind == "unknown" else kind


def _host_allowed(row: SdkBehaviour, url: Optional[str]) -> bool:
    try:
        parts = urlsplit(url or "")
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme == "https" and row.https_any_host:
        return True
    if parts.scheme not in ("http", "https") or not host:
        return False
    for allowed in row.full_uri_hosts:
        if allowed == "loopback":
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return True
            except ValueError:
                pass
        elif host == allowed:
            return True
    return False


# ---------------------------------------------------------------------------------------
# One SDK through its row.


def full_uri_first(row: SdkBehaviour, parts: Mapping[str, str]) -> bool:
    """Does this SDK use AWS_CONTAINER_CREDENTIALS_FULL_URI when both variables are set?
    By its row, or by the version of a part found beside it (JavaScript v3's
    credential-provider-http prefers FULL_URI until 3.972.57)."""
    if row.full_uri_first:
        return True
    if row.full_uri_first_part:
        part, first_relative = row.full_uri_first_part
        return at_least(parts.get(part), first_relative) is False
    return False


def _container(
    row: SdkBehaviour,
    version: Optional[str],
    features: Optional[Mapping[str, bool]],
    view: _View,
    parts: Optional[Mapping[str, str]] = None,
) -> tuple[Optional[Prediction], str]:
    """The container provider's outcome: a final prediction, or None and why the chain goes on."""
    target = view.target
    source = target.get("source")
    if not source:
        return None, "no container credentials variable is set"
    url = target.get("url")
    host = target.get("host")
    cred, has_cred = view.cred, view.has_credentials
    prefix = ""
    if target.get("both_set") and full_uri_first(row, parts or {}):
        # It asks the full URI; the probe asked that endpoint too (credentials_full).
        source, url, prefix = "full", view.env.get("full_uri"), "with both variables set it uses AWS_CONTAINER_CREDENTIALS_FULL_URI: "
        try:
            host = urlsplit(url or "").hostname
        except ValueError:
            host = None
        cred, has_cred = view.cred_full, view.has_credentials_full
    if features is not None:
        supports = bool(features.get("relative"))
        reads_token_file = bool(features.get("token_file"))
    else:
        minimum = (row.min_full_uri or row.min_relative) if source == "full" else row.min_relative
        supports_v = at_least(version, minimum)
        if supports_v is None:
            return Prediction("unknown", "container", False, f"its version {version!r} cannot be compared with {minimum}"), ""
        supports = supports_v
        reads_token_file = bool(at_least(version, row.min_token_file))
    if not supports:
        minimum = (row.min_full_uri or row.min_relative) if source == "full" and features is None else row.min_relative
        first = f" (first in {minimum})" if minimum else ""
        return None, f"it predates the container credentials provider{first}, so it ignores AWS_CONTAINER_CREDENTIALS_{source.upper()}_URI"
    if target.get("refused") and source == "relative":
        return Prediction("unknown", "container", False, "it would request a credentials URI the probe refuses to send (see env.credentials-uri-safe)"), ""
    if source == "full" and not _host_allowed(row, url):
        hosts = ", ".join(row.full_uri_hosts) or "none"
        why = prefix + f"it refuses the FULL_URI host {host!r} (it accepts https or http to {hosts})"
        if row.full_uri_refused == "error":
            return Prediction("none", "container", False, why + " and ends in an error"), ""
        return None, why + " and passes over the container provider"
    failure: Optional[str] = None
    token = view.token
    if source == "full" and token.get("source"):
        if token.get("source") == "file" and not reads_token_file:
            failure = f"it predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (first in {row.min_token_file}) and sends no token"
        elif token.get("error"):
            failure = f"it cannot read the token file ({token['error']})"
        elif token.get("illegal"):
            if row.token_newline == "crash":
                return Prediction(
                    "none", "container", False,
                    "the token contains a line break: setting it as the Authorization header throws ERR_INVALID_CHAR, "
                    "which nothing catches: the process ends",
                ), ""
            if row.token_newline == "unknown" or (token.get("trailing_newline_only") is False and row.token_newline == "trimmed"):
                return Prediction("unknown", "container", False, "the token contains a line break; how this SDK sends it is not known"), ""
            if row.token_newline == "error":
                failure = "the token contains a line break, which it refuses to send as a header"
    via = None
    if failure is None:
        try:
            via = proxy_for(row.proxy_container, url, view.proxy_vars, view.no_proxy)
        except LookupError:
            return Prediction("unknown", "container", False, "a proxy is set and whether this SDK uses it for the credentials endpoint is not known"), ""
        if via:
            failure = f"it sends the credentials request through the proxy {via}, which cannot reach the task's endpoint"
    if failure is None:
        if not has_cred or cred.get("deadline_exceeded") or cred.get("collector_error"):
            return Prediction("unknown", "container", False, prefix + "the credentials endpoint was not observed in this run"), ""
        usable = cred.get("status") == 200 and cred.get("fields_missing") == [] and not cred.get("error") and not cred.get("json_error")
        if usable:
            served = cred.get("role_arn")
            if prefix and served and arns.role_name(served) != arns.role_name(view.task_role_arn):
                return Prediction("other-role", "container", False, prefix + f"{url} serves {served}, not the task role", role=served), ""
            return Prediction("task-role", "container", False, prefix + f"its container provider gets the task role from {url}"), ""
        if not cred.get("requested"):
            return Prediction("unknown", "container", False, prefix + "the probe did not request the credentials endpoint: " + str(cred.get("not_requested") or cred.get("token_problem") or "")), ""
        what = cred.get("error") or (f"HTTP {cred.get('status')}" + (f" {cred.get('error_code')}" if cred.get("error_code") else "")) if cred.get("status") != 200 else "an unusable answer"
        failure = prefix + f"the credentials endpoint fails ({what})"
    if row.container_failure == "error":
        return Prediction("none", "container", bool(via), failure + "; its chain ends in an error there (no fallback to the instance role)"), ""
    return None, failure + "; its chain goes on to the EC2 instance role"


def _imds(row: SdkBehaviour, version: Optional[str], view: _View, reason: str) -> Prediction:
    lead = (reason + "; ") if reason else ""
    value = view.imds_disabled_value
    honours = row.honours_imds_disabled and chain.supports(row, version, "imds-disabled")
    if honours and (value.lower() == "true" or (row.imds_disabled_any_value and value)):
        return Prediction("none", None, False, lead + "AWS_EC2_METADATA_DISABLED=true stops its IMDS provider, so it finds no credentials")
    imds = view.imds
    if not view.has_imds or imds.get("deadline_exceeded") or imds.get("collector_error"):
        return Prediction("unknown", "imds", False, lead + "IMDS was not observed in this run")
    if imds.get("disabled") and not imds.get("requested"):
        return Prediction("unknown", "imds", False, lead + "it ignores AWS_EC2_METADATA_DISABLED, and the probe did not query IMDS")
    url = "http://169.254.169.254/"
    try:
        via = proxy_for(row.proxy_imds, url, view.proxy_vars, view.no_proxy)
    except LookupError:
        return Prediction("unknown", "imds", False, lead + "a proxy is set and whether this SDK uses it for IMDS is not known")
    if via:
        return Prediction(
            "none",
            "imds",
            True,
            lead + f"it asks IMDS through the proxy {via}, which cannot reach the task's IMDS, so it ends in an error "
            "(a proxy that runs on EC2 itself would hand out its own instance's role instead)",
        )
    if not imds.get("credentials_reachable"):
        return Prediction("none", "imds", False, lead + "IMDS gives no instance role credentials here (" + str(imds.get("error") or "no answer") + "), so it ends in an error")
    v2 = bool(at_least(version, row.imdsv2_since)) if row.imdsv2_since else False
    if v2 and row.imdsv2_needs_ttl_header and imds.get("token_ttl_header") is False:
        v2 = False
    if not v2 and imds.get("v1_allowed") is False:
        return Prediction("none", "imds", False, lead + "IMDSv2 is required here and it only speaks IMDSv1, so it ends in an error")
    if not v2 and imds.get("v1_allowed") is None and imds.get("version") == 2:
        return Prediction("unknown", "imds", False, lead + "it only speaks IMDSv1 and whether IMDSv1 is allowed was not observed")
    return Prediction("instance-role", "imds", False, lead + f"IMDS gives it the EC2 instance role {imds.get('role_name') or ''}".rstrip())


def _base_outcome(base: chain.Pick, row: SdkBehaviour, version: Optional[str], view: _View, features: Optional[Mapping[str, bool]]) -> Optional[str]:
    """Why the source credentials of an assumed role cannot be had (the SDK then ends in
    an error), or None when they can."""
    if base.source == "container":
        decided, why = _container(row, version, features, view)
        if decided is None:
            return why or "the container provider has nothing"
        if decided.gets == "task-role":
            return None
        if decided.gets == "unknown":
            return "unknown: " + decided.why
        return decided.why
    if base.source == "imds":
        decided = _imds(row, version, view, "")
        return None if decided.gets == "instance-role" else ("unknown: " + decided.why if decided.gets == "unknown" else decided.why)
    if base.source == "env":
        present = view.env.get("present") or {}
        return None if present.get("AWS_ACCESS_KEY_ID") and present.get("AWS_SECRET_ACCESS_KEY") else "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set"
    if base.source == "assume-role" and base.base is not None:
        return _base_outcome(base.base, row, version, view, features)
    if base.error:
        return base.why
    if base.gets == "unknown":
        return "unknown: " + base.why
    return None


def _from_pick(pick: chain.Pick, row: SdkBehaviour, version: Optional[str], view: _View, features: Optional[Mapping[str, bool]]) -> Optional[Prediction]:
    """The prediction for a source of the chain that decided; None when it fails when
    used and this SDK passes over such a failure (the chain goes on)."""
    failure = view.failure(pick.key)
    if failure and pick.source in ("assume-role", "web-identity"):
        if (row.runtime_errors or row.on_error) == "skip":
            return None
        return Prediction("none", pick.source, False, f"{pick.why}, but that fails when used ({failure}): it ends in an error",
                          role=pick.role_arn, chained=pick.source == "assume-role" and pick.from_task_role)
    if pick.error:
        return Prediction("none", pick.source, False, f"{pick.why}: it raises {pick.error.split(':', 1)[0]} and ends there", role=pick.role_arn)
    if pick.gets == "unknown":
        return Prediction("unknown", pick.source, False, pick.why + " (the probe never runs or reads that)", role=pick.role_arn)
    chained = pick.source == "assume-role" and pick.from_task_role
    if pick.source == "assume-role" and pick.base is not None:
        problem = _base_outcome(pick.base, row, version, view, features)
        if problem is not None:
            if problem.startswith("unknown: "):
                return Prediction("unknown", pick.source, False, f"{pick.why}; whether it gets them is unknown ({problem[9:]})", role=pick.role_arn, chained=chained)
            return Prediction("none", pick.source, False, f"{pick.why}, but those fail ({problem}): it ends in an error", role=pick.role_arn, chained=chained)
    kind = view.confirmed_kind(pick.key)
    if kind is None:
        kind = pick.gets
        if pick.role_arn and arns.role_name(pick.role_arn) == arns.role_name(view.task_role_arn):
            kind = "task-role"
    return Prediction(kind, pick.source, False, pick.why, role=pick.role_arn, chained=chained)


def predict(
    row: SdkBehaviour,
    version: Optional[str],
    view: _View,
    features: Optional[Mapping[str, bool]] = None,
    parts: Optional[Mapping[str, str]] = None,
) -> Prediction:
    """Walk the SDK's chain over the facts; the first source that decides wins."""
    early = chain.before_chain(row, view.inputs)
    if early is not None:
        first = _from_pick(early, row, version, view, features)
        if first is not None:
            return first
    passed_over = ""
    for source in row.chain:
        if source == "container":
            decided, passed_over = _container(row, version, features, view, parts)
            if decided is not None:
                return decided
        elif source == "imds":
            return _imds(row, version, view, passed_over)
        else:
            pick = chain.select(source, row, version, view.inputs)
            if pick is not None:
                outcome = _from_pick(pick, row, version, view, features)
                if outcome is not None:
                    return outcome
    return Prediction("none", None, False, (passed_over + "; " if passed_over else "") + "no source in its chain has credentials")


# ---------------------------------------------------------------------------------------
# Which running processes use which SDK.


def _strip_root(path: str) -> str:
    return _PROC_ROOT.sub("", path)


def _under(path: str, base: str) -> bool:
    base = base.rstrip("/")
    return bool(base) and (path == base or path.startswith(base + "/"))


def sdk_home(entry: Mapping[str, Any]) -> str:
    """The folder an SDK belongs to: the interpreter prefix, the Node project, the binary."""
    path = _strip_root(str(entry.get("path") or ""))
    outer = path.split("!/", 1)[0]
    for marker in ("/node_modules/", "/vendor/", "/lib/python", "/lib/ruby/", "/site-packages/", "/dist-packages/", "/gems/"):
        if marker in outer:
            return outer.split(marker, 1)[0] or "/"
    if outer.endswith((".dist-info", ".egg-info", "/__init__.py", ".gemspec", "/package.json")):
        return os.path.dirname(outer)  # a package folder outside any known layout (PYTHONPATH, vendored)
    return outer


_PY_SITE = re.compile(r"^(.*?)/lib(?:64)?/python(\d+(?:\.\d+)?)/(site|dist)-packages/")
_PY_VERSION = re.compile(r"^(?:python|pypy)(\d+\.\d+)")
_JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts")
_JAR_SUFFIXES = (".jar", ".war", ".ear", ".zip")
# Where a system Ruby and PowerShell find gems and modules besides their prefix (Debian's
# rubygems-integration and GEM_HOME for the system ruby; PowerShell's shared module folders).
_RUBY_SYSTEM = ("/var/lib/gems", "/usr/share/rubygems-integration", "/usr/lib/x86_64-linux-gnu/rubygems-integration", "/usr/lib/aarch64-linux-gnu/rubygems-integration")
_PS_MODULES = ("/usr/local/share/powershell/Modules", "/usr/share/powershell/Modules", "/opt/microsoft/powershell")


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, str) and v.startswith("/")] if isinstance(value, list) else []


@dataclass(frozen=True)
class _Process:
    """What a surveyed process loads code from (the survey's ``loads``; for facts recorded
    before it, the same read from its program, working folder and path arguments)."""

    pid: int
    names: frozenset[str]
    exe: str
    argv0: str
    cwd: str
    root: Optional[str]
    prefixes: tuple[str, ...]
    version: Optional[str]
    module_paths: tuple[str, ...]
    script: Optional[str]
    resolve_from: Optional[str]
    classpath: tuple[str, ...]
    tomcat: tuple[str, ...]
    search: Mapping[str, tuple[str, ...]]


def _process(p: Mapping[str, Any]) -> Optional[_Process]:
    pid = p.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or p.get("self"):
        return None  # the probe is not the application
    exe = str(p.get("exe") or "")
    argv0 = str(p.get("argv0") or "")
    cwd = str(p.get("cwd") or "")
    loads = p.get("loads") if isinstance(p.get("loads"), dict) else None
    paths = _strs(p.get("paths"))
    search_rec = p.get("search")
    if not isinstance(search_rec, dict):
        search_rec = {}
    search = {k: tuple(_strs(v)) for k, v in search_rec.items() if isinstance(k, str)}
    if loads is not None:
        prefixes = tuple(_strs(loads.get("prefixes")))
        version = loads.get("version") if isinstance(loads.get("version"), str) else None
        module_paths = tuple(_strs(loads.get("module_paths")))
        script = loads.get("script") if isinstance(loads.get("script"), str) else None
        resolve_from = loads.get("resolve_from") if isinstance(loads.get("resolve_from"), str) else None
        classpath = tuple(_strs(loads.get("classpath")))
        tomcat = tuple(_strs(loads.get("tomcat")))
    else:
        # Facts from before the survey recorded ``loads`` (a saved --facts file).
        execs = [x for x in (argv0, exe) if x.startswith("/")]
        prefixes = tuple(dict.fromkeys(os.path.dirname(os.path.dirname(x)) for x in execs if os.path.basename(os.path.dirname(x)) in ("bin", "sbin")))
        version = next((m.group(1) for m in (_PY_VERSION.match(os.path.basename(x)) for x in (exe, argv0)) if m), None)
        script = next((a for a in paths if not a.endswith(_JAR_SUFFIXES) and "*" not in a), None)
        module_paths = tuple(_strs(p.get("search_paths"))) + ((os.path.dirname(script),) if script else ((cwd,) if cwd.startswith("/") else ()))
        js = next((a for a in paths if a.endswith(_JS_SUFFIXES)), None)
        resolve_from = os.path.dirname(js) if js else (cwd or None)
        classpath = tuple(a for a in paths if a.endswith(_JAR_SUFFIXES) or a.endswith("*"))
        tomcat = ()
        if not search:
            search = {ANY_SEARCH: tuple(_strs(p.get("search_paths")))}
    names = frozenset(os.path.basename(str(x)).lower() for x in (exe, argv0, p.get("name")) if x)
    root = p.get("root_id") if isinstance(p.get("root_id"), str) else None
    return _Process(pid, names, exe, argv0, cwd, root, prefixes, version, module_paths, script, resolve_from, classpath, tomcat, search)


def _is(runtime: str, q: _Process) -> bool:
    programs = sdkmodel.RUNTIME_PROGRAMS.get(runtime, ())
    return any(n.startswith(prog) for n in q.names for prog in programs)


ANY_SEARCH = "*"  # older facts: the search variables' folders, not told apart


def _searched(q: _Process, *names: str) -> list[str]:
    """The folders the process's variables (PYTHONPATH, NODE_PATH, ...) name."""
    return [d for name in (*names, ANY_SEARCH) for d in q.search.get(name, ())]


def _python_entry(outer: str) -> str:
    """The folder on sys.path that holds the distribution (what a PYTHONPATH entry names)."""
    name = os.path.basename(outer)
    if name in ("__init__.py", "PKG-INFO") or outer.endswith(".egg-info/PKG-INFO"):
        return os.path.dirname(os.path.dirname(outer))
    return os.path.dirname(outer)


def _same_version(found: Optional[str], running: Optional[str]) -> bool:
    if not found or not running:
        return True
    return running == found if "." in found else running.split(".")[0] == found


def _python_uses(outer: str, q: _Process) -> bool:
    site = _PY_SITE.match(outer)
    if site:
        prefix, version, kind = site.group(1) or "/", site.group(2), site.group(3)
        if _same_version(version, q.version):
            if prefix in q.prefixes:
                return True
            # Debian's python3 also reads /usr/local/lib/python3.X/dist-packages (its site.py).
            if prefix == "/usr/local" and kind == "dist" and "/usr" in q.prefixes:
                return True
    entry = _python_entry(outer)
    return entry in q.module_paths or entry in _searched(q, "PYTHONPATH")


def _node_uses(outer: str, q: _Process) -> bool:
    if any(_under(outer, d) for d in _searched(q, "NODE_PATH")):
        return True
    if "/node_modules/" not in outer:
        return False
    project = outer.split("/node_modules/", 1)[0] or "/"
    base = q.resolve_from
    # require() looks in node_modules of the script's folder and of each parent.
    return bool(base) and (project == "/" or _under(str(base), project))


def _java_uses(outer: str, q: _Process) -> bool:
    for entry in q.classpath:
        if entry == outer:
            return True
        if entry.endswith("/*"):
            if os.path.dirname(outer) == entry[:-2] and outer.endswith(".jar"):
                return True
        elif not entry.endswith(_JAR_SUFFIXES) and any(_under(outer, f"{entry}/{inner}") for inner in ("BOOT-INF/lib", "WEB-INF/lib")):
            return True  # an exploded Spring Boot or web application launched from its folder
    return any(_under(outer, f"{base}/webapps") or _under(outer, f"{base}/lib") for base in q.tomcat)


def _project_uses(outer: str, q: _Process, markers: tuple[str, ...]) -> bool:
    """Ruby's Bundler and PHP's Composer: the project holds vendor/ (or the lock file); the
    application runs a script in it, or from its folder (Bundler looks for the Gemfile from
    the working folder up)."""
    project = next((outer.split(m, 1)[0] or "/" for m in markers if m in outer), None)
    if project is None and os.path.basename(outer) in ("Gemfile.lock", "composer.lock"):
        project = os.path.dirname(outer)
    if project is None:
        return False
    bases = [b for b in (os.path.dirname(q.script) if q.script else None, q.cwd) if b]
    return any(b == project or _under(b, project) for b in bases)


def _ruby_uses(outer: str, q: _Process) -> bool:
    if any(_under(outer, d) for d in _searched(q, "GEM_HOME", "GEM_PATH", "RUBYLIB")):
        return True
    prefixes = [os.path.dirname(os.path.dirname(x)) for x in (q.exe, q.argv0) if x.startswith("/") and os.path.basename(os.path.dirname(x)) == "bin"]
    if any(_under(outer, f"{p}/lib/ruby") for p in prefixes):
        return True
    if "/usr" in prefixes and any(_under(outer, d) for d in _RUBY_SYSTEM):
        return True
    return _project_uses(outer, q, ("/vendor/",))


def _php_uses(outer: str, q: _Process) -> bool:
    # php-fpm runs whatever scripts its pools serve: every PHP project of its image.
    return any(n.startswith("php-fpm") for n in q.names) or _project_uses(outer, q, ("/vendor/",))


def _dotnet_uses(outer: str, q: _Process) -> bool:
    folders = [os.path.dirname(x) for x in (q.script, q.exe) if x]
    if os.path.dirname(outer) in folders:
        return True  # `dotnet app.dll` or the app's own host: its folder holds its assemblies
    if any(n.startswith("pwsh") for n in q.names):
        modules = [*_searched(q, "PSModulePath"), *_PS_MODULES] + ([f"{os.path.dirname(q.exe)}/Modules"] if q.exe else [])
        return any(_under(outer, d) for d in modules)
    return False


_RUNTIME_RULES = {
    "python": _python_uses,
    "node": _node_uses,
    "java": _java_uses,
    "ruby": _ruby_uses,
    "php": _php_uses,
    "dotnet": _dotnet_uses,
    "powershell": _dotnet_uses,
}


def _uses(outer: str, runtime: str, q: _Process) -> bool:
    """Does this process load the SDK at ``outer``: from what its runtime really reads (a
    Python prefix and sys.path, Node's resolution from its script, a JVM's class path, a
    project it runs a script in), or is it that program (a Go, Rust or C++ binary, an
    installed tool's folder)? Never "somewhere under its working folder"."""
    if outer and (q.exe == outer or q.argv0 == outer or (q.exe and _under(q.exe, outer))):  # the program itself
        return True
    rule = _RUNTIME_RULES.get(runtime)
    return rule is not None and _is(runtime, q) and rule(outer, q)


def _root_of(path: str, roots: Mapping[int, Optional[str]], subject_root: Optional[str]) -> Optional[str]:
    m = _PROC_PID.match(path)
    return roots.get(int(m.group(1))) if m else subject_root


def used_by(entry: Mapping[str, Any], runtime: str, processes: Iterable[Mapping[str, Any]], self_pid: Any = None) -> list[int]:
    """Pids of running processes that use this SDK (a judgement from what each runtime
    loads, see README "In use"). Only processes whose root filesystem is the one the SDK was
    found in count (another container's /usr/local is another folder)."""
    procs = list(processes)
    roots = {p["pid"]: p.get("root_id") for p in procs if isinstance(p.get("pid"), int)}
    subject_root = roots.get(self_pid) if isinstance(self_pid, int) else next((p.get("root_id") for p in procs if p.get("self")), None)
    return _used_by(entry, runtime, [q for q in (_process(p) for p in procs) if q is not None], roots, subject_root)


def _used_by(entry: Mapping[str, Any], runtime: str, procs: list[_Process], roots: Mapping[int, Optional[str]], subject_root: Optional[str]) -> list[int]:
    raw = str(entry.get("path") or "")
    where = _root_of(raw, roots, subject_root)
    outer = _strip_root(raw).split("!/", 1)[0]
    return [q.pid for q in procs if (where is None or q.root is None or q.root == where) and _uses(outer, runtime, q)]


# ---------------------------------------------------------------------------------------
# The report's `sdks` list.


# An unknown provider's runtime, by its source file's extension.
_RUNTIME_OF_SOURCE = {".py": "python", ".js": "node", ".mjs": "node", ".cjs": "node", ".ts": "node", ".rb": "ruby", ".php": "php"}


def _asks_container(row: SdkBehaviour, version: Optional[str], entry: Mapping[str, Any], view: _View) -> bool:
    """Would this SDK request the credentials URL at all? One that predates the container
    provider (botocore 1.4.36) never does: no proxy can be blamed for it."""
    features = entry.get("features")
    if isinstance(features, dict):
        return bool(features.get("relative"))
    source = view.target.get("source")
    minimum = (row.min_full_uri or row.min_relative) if source == "full" else row.min_relative
    return at_least(version, minimum) is not False


def _parts(entry: Mapping[str, Any], found: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Versions of the parts beside an SDK that its row consults (JavaScript v3's
    credential-provider-http in the same project's node_modules)."""
    if entry.get("sdk") != "js-v3-credential-provider-node":
        return {}
    home = sdk_home(entry)
    near = [e for e in found if e.get("sdk") == "js-v3-credential-provider-http" and sdk_home(e) == home and isinstance(e.get("version"), str)]
    if not near:
        return {}
    # The copy node resolves first: the one nested under credential-provider-node, else the hoisted one.
    own = os.path.dirname(os.path.dirname(str(entry.get("path"))))
    near.sort(key=lambda e: (not str(e.get("path")).startswith(own + "/"), len(str(e.get("path")))))
    return {"js-v3-credential-provider-http": str(near[0]["version"])}


def _family_entries(found: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Optional[Mapping[str, Any]]]]:
    """(entry, the botocore beside it) for each SDK worth a prediction.

    credential-provider-http is a part of JavaScript v3 whose default chain is
    credential-provider-node: it gets no line of its own; nor does Go v2's credentials
    module beside its config module in the same binary.
    """
    botocores = {os.path.dirname(str(e.get("path"))): e for e in found if e.get("sdk") == "botocore"}
    go_v2_config = {e.get("path") for e in found if e.get("sdk") == "go-v2-config"}
    out = []
    for e in found:
        if e.get("sdk") == "js-v3-credential-provider-http":
            continue
        if e.get("sdk") == "go-v2-credentials" and e.get("path") in go_v2_config:
            continue  # the same binary: its config module's line covers it
        beside = botocores.get(os.path.dirname(str(e.get("path")))) if e.get("sdk") in ("boto3", "awscli-v1") else None
        out.append((e, beside))
    return out


def in_use(record: Mapping[str, Any], named_roots: bool, survey: bool) -> bool:
    return named_roots or not survey or bool(record.get("used_by"))


def in_use_reason(record: Mapping[str, Any], named_roots: bool, survey: bool) -> Optional[str]:
    """Why an SDK counts as the application's (CONTRACT.md "In use"), or None."""
    if record.get("used_by"):
        return "process"
    if named_roots:
        return "named root"
    if not survey:
        return "no process information"
    return None


def sdks_in_use(f: Facts) -> list[dict[str, Any]]:
    """The predictions of the SDKs that count as the application's (CONTRACT.md: used by a
    running process, or under a root the user named, or every one found without process
    information); empty when none was found or the scan did not finish. The verdict
    follows these; botocore's own chain (the identity collector's) is one SDK's answer."""
    rec = f.get("sdk")
    if not f.has("sdk") or rec.get("deadline_exceeded") or rec.get("collector_error"):
        return []
    named, survey = bool(rec.get("named_roots")), bool(f.get("processes").get("available"))
    return [s for s in predict_all(f) if in_use(s, named, survey) and s["sdk"] not in ("boto3", "awscli-v1")]


def expected(s: Mapping[str, Any], expect: Optional[str]) -> bool:
    """Does this SDK get the role it should: the task role, a role its profile assumes with
    the task role's credentials (credential_source = EcsContainer: the documented way to
    chain), or --expect-role?"""
    if expect:
        return s.get("gets") in ("task-role", "other-role") and arns.role_name(s.get("role")) == arns.role_name(expect)
    return s.get("gets") == "task-role" or (s.get("gets") == "other-role" and bool(s.get("chained_from_task_role")))


def predict_all(f: Facts) -> list[dict[str, Any]]:
    """One record per SDK found, in the scanner's order; never raises for odd facts.

    Several checks and the report read the same predictions: they are computed once per
    Facts object (the facts do not change while they are judged)."""
    cached = getattr(f, "_predictions", None)
    if cached is not None:
        return [dict(s) for s in cached]
    out = _predict_all(f)
    try:
        f._predictions = out  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return [dict(s) for s in out]


def _predict_all(f: Facts) -> list[dict[str, Any]]:
    rec = f.get("sdk")
    found = [e for e in rec.get("found") or [] if isinstance(e, dict) and isinstance(e.get("sdk"), str)]
    view = _View(f)
    survey = f.get("processes")
    raw_processes = [p for p in (survey.get("processes") or [] if survey.get("available") else []) if isinstance(p, dict)]
    # Each process's evidence once (SDKs x processes pairs are many on a big image). An SDK
    # without a /proc/PID/root prefix is in the subject's root: the probe's own, or with
    # `--pid` the target's (its scan's paths are as the target sees them).
    processes = [q for q in (_process(p) for p in raw_processes) if q is not None]
    roots = {p["pid"]: p.get("root_id") for p in raw_processes if isinstance(p.get("pid"), int)}
    subject = survey.get("self_pid")
    subject_root = roots.get(subject) if isinstance(subject, int) else None
    named, surveyed = bool(rec.get("named_roots")), bool(survey.get("available"))
    out: list[dict[str, Any]] = []
    for entry, beside in _family_entries(found):
        key = str(entry["sdk"])
        version = entry.get("version") if isinstance(entry.get("version"), str) else None
        decide_key, decide_version = (("botocore", beside.get("version")) if beside else (key, version))
        row, reason = sdkmodel.row_for(decide_key, decide_version)
        family = sdkmodel.rows_for(key)[0] if sdkmodel.rows_for(key) else None
        title = family.title if family else key
        if key == "unknown-container-provider":
            prediction = Prediction(
                "unknown", "container", False,
                "it fetches container credentials (it names AWS_CONTAINER_CREDENTIALS_*), but it is no SDK the model "
                "knows: what it gets is unknown (the other SDKs' answers do not cover it)",
            )
        elif row is None:
            prediction = Prediction("unknown", None, False, f"no prediction: {reason}")
        else:
            try:
                features = entry.get("features") if isinstance(entry.get("features"), dict) else None
                prediction = predict(row, decide_version, view, features, _parts(entry, found))
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                prediction = Prediction("unknown", None, False, f"no prediction: the facts are inconsistent ({type(exc).__name__})")
            if beside:
                prediction = replace(prediction, why=f"(with botocore {decide_version} beside it) " + prediction.why)
        runtime = family.runtime if family else _RUNTIME_OF_SOURCE.get(os.path.splitext(str(entry.get("path")))[1], "")
        # Which of its credentials requests go through a proxy: the credentials endpoint's
        # (when it asks it at all) and, on the way it ends, IMDS's.
        proxied = []
        if row is not None and view.target.get("source") and _asks_container(row, decide_version, entry, view):
            try:
                if proxy_for(row.proxy_container, view.target.get("url"), view.proxy_vars, view.no_proxy):
                    proxied.append("credentials-endpoint")
            except LookupError:
                pass
        if prediction.source == "imds" and prediction.via_proxy:
            proxied.append("imds")
        via = bool(proxied)
        out.append(
            {
                "sdk": family.family if family else key,
                "title": title,
                "version": version,
                "path": str(entry.get("path")),
                "gets": prediction.gets,
                "source": prediction.source,
                "via_proxy": via,
                "proxied": proxied,
                "used_by": _used_by(entry, runtime, processes, roots, subject_root),
                "why": prediction.why,
                "runtime": runtime,
                "evidence": row.evidence if row else None,
                # The role it ends with, where known: a profile's or web identity's role_arn,
                # the task role the endpoint served, the instance role IMDS named.
                "role": prediction.role
                or (view.task_role_arn if prediction.gets == "task-role" else None)
                or (view.imds.get("role_name") if prediction.gets == "instance-role" else None),
                "chained_from_task_role": prediction.chained,
            }
        )
        use_reason = in_use_reason(out[-1], named, surveyed)
        out[-1]["in_use"] = use_reason is not None
        out[-1]["in_use_reason"] = use_reason
    return out


def describe(sdk: Mapping[str, Any]) -> str:
    """'The Node.js app (aws-sdk 2.4.6 at /srv/web)'."""
    runtime = RUNTIME_TITLE.get(str(sdk.get("runtime")), "")
    package = PACKAGE.get(str(sdk.get("sdk")), str(sdk.get("sdk")))
    version = f" {sdk['version']}" if sdk.get("version") else ""
    home = sdk_home(sdk)
    return f"The {runtime + ' ' if runtime else ''}app ({package}{version} at {home})"
