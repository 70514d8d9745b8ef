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
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from probe import sdkmodel
from probe.facts import Facts
from probe.sdkmodel import IGNORES, PROXY_RULES, UNKNOWN, SdkBehaviour, at_least

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
# botocore's method names -> the model's source names.
PROVIDER_SOURCE = {
    "env": "env",
    "assume-role": "assume-role",
    "assume-role-with-web-identity": "web-identity",
    "sso": "sso",
    "shared-credentials-file": "shared-credentials-file",
    "custom-process": "process",
    "config-file": "config-file",
    "container-role": "container",
    "iam-role": "imds",
}
_PROC_ROOT = re.compile(r"^/proc/\d+/root(?=/)")


@dataclass(frozen=True)
class Prediction:
    gets: str
    source: Optional[str]
    via_proxy: bool
    why: str


# ---------------------------------------------------------------------------------------
# Proxy rules over the observed variables.


def _no_proxy_covers(rule: sdkmodel.ProxyRule, host: str, port: int, no_proxy: str) -> bool:
    """Does a NO_PROXY value, read the way ``rule``'s client reads it, cover host:port?"""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    for raw in no_proxy.replace(" ", "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            if rule.star:
                return True
            continue
        entry_host, entry_port = entry, None
        if not entry.startswith("[") and entry.count(":") == 1:
            entry_host, _, p = entry.partition(":")
            entry_port = p
        if entry_port is not None:
            if not rule.port_entries or entry_port != str(port):
                continue
        if "/" in entry_host:
            if rule.cidr and ip is not None:
                try:
                    if ip in ipaddress.ip_network(entry_host, strict=False):
                        return True
                except ValueError:
                    pass
            continue
        bare = entry_host.lstrip(".").strip("[]")
        if host.lower() == bare or (ip is None and host.lower().endswith("." + bare)):
            return True
    return False


def proxy_for(rule_name: str, url: Optional[str], proxy_vars: Mapping[str, str], no_proxy: Mapping[str, str]) -> Optional[str]:
    """The (masked) proxy ``rule_name``'s client would send a request for ``url`` to, or
    None when it would go direct. Raises LookupError for an UNKNOWN rule when a proxy is set."""
    if rule_name == IGNORES or not url:
        return None
    if rule_name == UNKNOWN:
        if proxy_vars:
            raise LookupError("its proxy handling is not known")
        return None
    rule = PROXY_RULES[rule_name]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    names = rule.http_vars if parts.scheme == "http" else tuple(n.replace("http_", "https_").replace("HTTP_", "HTTPS_") for n in rule.http_vars)
    proxy = next((proxy_vars[n] for n in names if proxy_vars.get(n)), None) or next((proxy_vars[n] for n in rule.all_vars if proxy_vars.get(n)), None)
    if not proxy:
        return None
    if rule.loopback_exempt:
        try:
            if host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback:
                return None
        except ValueError:
            pass
    value = next((no_proxy[n] for n in rule.no_proxy_vars if no_proxy.get(n)), "")
    if value and _no_proxy_covers(rule, host, port, value):
        return None
    return proxy


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
        present = env.get("present") or {}
        self.static_keys = bool(present.get("AWS_ACCESS_KEY_ID")) and bool(present.get("AWS_SECRET_ACCESS_KEY"))
        self.key_kind = env.get("access_key_kind")
        self.target = env.get("credentials_target") or {}
        self.token = env.get("authorization_token") or {}
        self.proxy_vars, self.no_proxy = proxy_settings(env)
        self.cred = f.get("credentials")
        self.imds = f.get("imds")
        self.has_credentials = f.has("credentials")
        self.has_imds = f.has("imds")
        self.ident = f.get("identity")
        load_config = str(shown.get("AWS_SDK_LOAD_CONFIG", "")).lower() not in ("", "0", "false")
        self.load_config = load_config
        self.profile_sources = self._profile_sources(env)
        self.web_identity_env = bool(shown.get("AWS_WEB_IDENTITY_TOKEN_FILE")) and bool(shown.get("AWS_ROLE_ARN"))
        self.imds_disabled_value = str(shown.get("AWS_EC2_METADATA_DISABLED", ""))
        from probe.checks.identity import derive_identity  # pure: the identity block's rules

        try:
            self.derived: Optional[dict[str, Any]] = derive_identity(f)
        except (TypeError, AttributeError, ValueError):
            self.derived = None  # facts of the wrong shape: nothing confirmed

    @staticmethod
    def _profile_sources(env: Mapping[str, Any]) -> dict[str, set[str]]:
        """Sources the active profile offers, per file ("credentials" / "config")."""
        keymap = {
            "aws_access_key_id": None,
            "role_arn": "assume-role",
            "web_identity_token_file": "web-identity",
            "credential_process": "process",
            "sso_session": "sso",
            "sso_start_url": "sso",
        }
        out: dict[str, set[str]] = {"credentials": set(), "config": set()}
        for file_key, label, static in (
            ("shared_credentials_file", "credentials", "shared-credentials-file"),
            ("config_file", "config", "config-file"),
        ):
            rec = env.get(file_key) or {}
            for key in rec.get("active_keys") or []:
                if key in keymap:
                    out[label].add(keymap[key] or static)
        return out


def _observed_kind(view: _View, source: str) -> Optional[str]:
    """The kind STS confirmed, when botocore's chain won with the same source."""
    ident = view.ident
    if not ident.get("arn") or PROVIDER_SOURCE.get(str(ident.get("provider"))) != source:
        return None
    return None if view.derived is None else view.derived.get("kind")


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


def _static_gets(view: _View, source: str, default: str) -> str:
    kind = _observed_kind(view, source)
    if kind:
        return kind
    return default


def _container(row: SdkBehaviour, version: Optional[str], features: Optional[Mapping[str, bool]], view: _View) -> tuple[Optional[Prediction], str]:
    """The container provider's outcome: a final prediction, or None and why the chain goes on."""
    target = view.target
    source = target.get("source")
    if not source:
        return None, "no container credentials variable is set"
    url = target.get("url")
    if target.get("both_set") and row.full_uri_first:
        full_url = view.env.get("full_uri")
        if not _host_allowed(row, full_url):
            if row.full_uri_refused == "error":
                return Prediction("none", "container", False, "with both variables set it uses AWS_CONTAINER_CREDENTIALS_FULL_URI, refuses its host and ends in an error"), ""
        return Prediction("unknown", "container", False, "with both variables set it uses AWS_CONTAINER_CREDENTIALS_FULL_URI, which the probe did not request (botocore uses the relative URI)"), ""
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
        why = f"it refuses the FULL_URI host {target.get('host')!r} (it accepts https or http to {hosts})"
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
        cred = view.cred
        if not view.has_credentials or cred.get("deadline_exceeded") or cred.get("collector_error"):
            return Prediction("unknown", "container", False, "the credentials endpoint was not observed in this run"), ""
        if cred.get("status") == 200 and not cred.get("fields_missing"):
            return Prediction("task-role", "container", False, f"its container provider gets the task role from {url}"), ""
        if not cred.get("requested"):
            return Prediction("unknown", "container", False, "the probe did not request the credentials endpoint: " + str(cred.get("not_requested") or cred.get("token_problem") or "")), ""
        what = cred.get("error") or (f"HTTP {cred.get('status')}" + (f" {cred.get('error_code')}" if cred.get("error_code") else "")) if cred.get("status") != 200 else "an unusable answer"
        failure = f"the credentials endpoint fails ({what})"
    if row.container_failure == "error":
        return Prediction("none", "container", bool(via), failure + "; its chain ends in an error there (no fallback to the instance role)"), ""
    return None, failure + "; its chain goes on to the EC2 instance role"


def _imds(row: SdkBehaviour, version: Optional[str], view: _View, reason: str) -> Prediction:
    lead = (reason + "; ") if reason else ""
    value = view.imds_disabled_value
    if row.honours_imds_disabled and (value.lower() == "true" or (row.imds_disabled_any_value and value)):
        return Prediction("none", None, False, lead + "AWS_EC2_METADATA_DISABLED=true stops its IMDS provider, so it finds no credentials")
    imds = view.imds
    if not view.has_imds or imds.get("deadline_exceeded") or imds.get("collector_error"):
        return Prediction("unknown", "imds", False, lead + "IMDS was not observed in this run")
    if imds.get("disabled"):
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
            False,
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


def predict(row: SdkBehaviour, version: Optional[str], view: _View, features: Optional[Mapping[str, bool]] = None) -> Prediction:
    """Walk the SDK's chain over the facts; the first source that decides wins."""
    passed_over = ""
    for source in row.chain:
        if source == "env":
            if view.static_keys:
                default = "user" if view.key_kind == "long-term" else ("other-role" if view.key_kind == "temporary" else "user")
                return Prediction(_static_gets(view, "env", default), "env", False, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set and come first in its chain")
        elif source == "web-identity":
            in_profile = "web-identity" in view.profile_sources["config"] and (row.family not in ("js-v2", "go-v1") or view.load_config)
            if view.web_identity_env or in_profile:
                return Prediction(_static_gets(view, "web-identity", "other-role"), "web-identity", False, "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN) comes before the container provider")
        elif source == "container":
            decided, passed_over = _container(row, version, features, view)
            if decided is not None:
                return decided
        elif source == "imds":
            return _imds(row, version, view, passed_over)
        else:
            files = set(view.profile_sources["credentials"])
            if row.family not in ("js-v2", "go-v1") or view.load_config or row.family in ("boto", "boto3"):
                files |= view.profile_sources["config"]
            if source in files:
                profile = view.env.get("profile") or "default"
                default = "user" if source in ("shared-credentials-file", "config-file") else ("unknown" if source == "process" else "other-role")
                return Prediction(_static_gets(view, source, default), source, False, f"the profile '{profile}' gives it credentials ({source}) before the container provider")
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


def _runtime_matches(runtime: str, p: Mapping[str, Any]) -> bool:
    names = {os.path.basename(str(x)).lower() for x in (p.get("exe"), p.get("argv0"), p.get("name")) if x}
    programs = sdkmodel.RUNTIME_PROGRAMS.get(runtime, ())
    return any(n.startswith(prog) for n in names for prog in programs)


def used_by(entry: Mapping[str, Any], runtime: str, processes: Iterable[Mapping[str, Any]]) -> list[int]:
    """Pids of running processes that use this SDK (a judgement from paths, see README)."""
    path = _strip_root(str(entry.get("path") or ""))
    outer = path.split("!/", 1)[0]
    home = sdk_home(entry)
    pids: list[int] = []
    for p in processes:
        pid = p.get("pid")
        if not isinstance(pid, int) or p.get("self"):
            continue  # the probe is not the application
        exe = str(p.get("exe") or "")
        cwd = str(p.get("cwd") or "")
        args = [str(a) for a in p.get("paths") or []]
        if runtime in ("go", "rust", "cpp"):
            if outer and (exe == outer or outer in args):
                pids.append(pid)
            continue
        if not _runtime_matches(runtime, p):
            continue
        anchors = [a for a in [exe, str(p.get("argv0") or ""), cwd, *args] if a.startswith("/")]
        search = [str(s) for s in p.get("search_paths") or [] if str(s) not in ("", "/")]
        if any(_under(outer, s) for s in search):
            pids.append(pid)  # on its PYTHONPATH / NODE_PATH / GEM_PATH
        elif home not in ("", "/") and any(_under(a, home) for a in anchors):
            pids.append(pid)
        elif cwd not in ("", "/") and _under(outer, cwd):
            pids.append(pid)
        elif runtime == "java" and any(_under(outer, a.rstrip("*").rstrip("/")) for a in args if a not in ("/", "/*")):
            pids.append(pid)
    return pids


# ---------------------------------------------------------------------------------------
# The report's `sdks` list.


def _family_entries(found: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Optional[Mapping[str, Any]]]]:
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


def _with_target(pids: list[int], target_pid: Any) -> list[int]:
    if isinstance(target_pid, int) and not isinstance(target_pid, bool) and target_pid not in pids:
        return sorted([*pids, target_pid])
    return pids


def in_use(record: Mapping[str, Any], named_roots: bool, survey: bool) -> bool:
    return named_roots or not survey or bool(record.get("used_by"))


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
    processes = survey.get("processes") or [] if survey.get("available") else []
    # `--pid`: the scan was of that process's image, and every SDK there counts as its.
    target_pid = f.get("target").get("pid")
    out: list[dict[str, Any]] = []
    for entry, beside in _family_entries(found):
        key = str(entry["sdk"])
        version = entry.get("version") if isinstance(entry.get("version"), str) else None
        decide_key, decide_version = (("botocore", beside.get("version")) if beside else (key, version))
        row, reason = sdkmodel.row_for(decide_key, decide_version)
        family = sdkmodel.rows_for(key)[0] if sdkmodel.rows_for(key) else None
        title = family.title if family else key
        if row is None:
            prediction = Prediction("unknown", None, False, f"no prediction: {reason}")
        else:
            try:
                features = entry.get("features") if isinstance(entry.get("features"), dict) else None
                prediction = predict(row, decide_version, view, features)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                prediction = Prediction("unknown", None, False, f"no prediction: the facts are inconsistent ({type(exc).__name__})")
            if beside:
                prediction = Prediction(prediction.gets, prediction.source, prediction.via_proxy, f"(with botocore {decide_version} beside it) " + prediction.why)
        runtime = family.runtime if family else ""
        via = prediction.via_proxy
        if row is not None and view.target.get("source"):
            try:
                via = bool(proxy_for(row.proxy_container, view.target.get("url"), view.proxy_vars, view.no_proxy))
            except LookupError:
                via = False
        out.append(
            {
                "sdk": family.family if family else key,
                "title": title,
                "version": version,
                "path": str(entry.get("path")),
                "gets": prediction.gets,
                "source": prediction.source,
                "via_proxy": via,
                "used_by": _with_target(used_by(entry, runtime, processes), target_pid),
                "why": prediction.why,
                "runtime": runtime,
                "evidence": row.evidence if row else None,
            }
        )
    return out


def describe(sdk: Mapping[str, Any]) -> str:
    """'The Node.js app (aws-sdk 2.4.6 at /srv/web)'."""
    runtime = RUNTIME_TITLE.get(str(sdk.get("runtime")), "")
    package = PACKAGE.get(str(sdk.get("sdk")), str(sdk.get("sdk")))
    version = f" {sdk['version']}" if sdk.get("version") else ""
    home = sdk_home(sdk)
    return f"The {runtime + ' ' if runtime else ''}app ({package}{version} at {home})"
