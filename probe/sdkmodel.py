"""What decides an AWS SDK's identity inside an ECS task: one table, per SDK family and
version range, read by the prediction (probe/predict.py) and by the checks.

Knowledge is data here, code is generic: a row says which credential sources the SDK
tries and in which order, what it does when the container provider fails, how it reads
proxy variables for each request, which AWS_CONTAINER_CREDENTIALS_FULL_URI hosts it
accepts, how it takes the authorization token, and how it talks to IMDS. Every row names
its sources: the SDK's own files at a named version, or a measurement in an emulated
task (tests/test_sdk_matrix.py runs the real SDK next to the probe).

``python -m probe.sdkmodel`` prints the table as Markdown (docs/SDK_MODEL.md is that
output; a test keeps the two equal).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

# ---------------------------------------------------------------------------------------
# How clients choose a proxy for an http:// URL from the environment.


@dataclass(frozen=True)
class ProxyRule:
    """One client's reading of the proxy variables, for a plain http:// URL."""

    name: str
    title: str
    http_vars: tuple[str, ...]  # read in this order; the first non-empty one is used
    all_vars: tuple[str, ...]  # ALL_PROXY fallbacks, when the client reads them
    no_proxy_vars: tuple[str, ...]
    cidr: bool  # a NO_PROXY entry such as 169.254.0.0/16 covers an address
    port_entries: bool  # "169.254.170.2:80" covers the endpoint on port 80
    loopback_exempt: bool  # loopback and localhost are never proxied, whatever NO_PROXY says
    source: str
    star: bool = True  # NO_PROXY=* turns the proxy off


PROXY_RULES: dict[str, ProxyRule] = {
    r.name: r
    for r in (
        ProxyRule(
            "go-net-http",
            "Go net/http (http.ProxyFromEnvironment)",
            ("HTTP_PROXY", "http_proxy"),
            (),
            ("NO_PROXY", "no_proxy"),
            cidr=True,
            port_entries=True,
            loopback_exempt=True,
            source="golang.org/x/net/http/httpproxy/proxy.go (FromEnvironment: getEnvAny upper case first; "
            "useProxy: loopback and localhost exempt, CIDR and host:port entries); measured with aws-sdk-go 1.44.133",
        ),
        ProxyRule(
            "python-urllib",
            "Python urllib (botocore's IMDS and STS requests)",
            ("http_proxy", "HTTP_PROXY"),
            (),
            ("no_proxy", "NO_PROXY"),
            cidr=False,
            port_entries=False,
            loopback_exempt=False,
            source="CPython Lib/urllib/request.py getproxies_environment (lower case wins) and "
            "proxy_bypass_environment (suffix match, no CIDR); botocore/utils.py get_environ_proxies; measured",
        ),
        ProxyRule(
            "python-requests",
            "Python requests",
            ("http_proxy", "HTTP_PROXY"),
            ("all_proxy", "ALL_PROXY"),
            ("no_proxy", "NO_PROXY"),
            cidr=True,
            port_entries=False,
            loopback_exempt=False,
            source="requests/utils.py should_bypass_proxies (CIDR via address_in_network) and "
            "select_proxy (scheme, then all); measured",
        ),
        ProxyRule(
            "curl",
            "curl / libcurl",
            ("http_proxy",),  # upper-case HTTP_PROXY is ignored for http:// (httpoxy)
            ("ALL_PROXY", "all_proxy"),
            ("NO_PROXY", "no_proxy"),
            cidr=True,  # since curl 7.86.0
            port_entries=False,
            loopback_exempt=False,
            source="curl lib/url.c detect_proxy (only lower-case http_proxy for http) and lib/noproxy.c "
            "(CIDR since 7.86.0); docs/libcurl/opts/CURLOPT_NOPROXY.md",
        ),
        ProxyRule(
            "wget",
            "GNU wget / busybox wget",
            ("http_proxy",),
            (),
            ("no_proxy",),
            cidr=False,
            port_entries=False,
            loopback_exempt=False,
            source="wget src/retr.c getproxy (getenv \"http_proxy\"), src/utils.c sufmatch for no_proxy; "
            "busybox networking/wget.c getenv(\"http_proxy\")",
        ),
        ProxyRule(
            "dotnet-httpclient",
            ".NET HttpClient on Linux (HttpEnvironmentProxy)",
            ("http_proxy", "HTTP_PROXY"),
            ("all_proxy", "ALL_PROXY"),
            ("no_proxy", "NO_PROXY"),
            cidr=False,
            port_entries=False,
            loopback_exempt=True,
            source="dotnet/runtime src/libraries/System.Net.Http/src/System/Net/Http/SocketsHttpHandler/"
            "HttpEnvironmentProxy.cs (lower case first, all_proxy fallback, suffix bypass, loopback exempt)",
        ),
        ProxyRule(
            "ruby-uri",
            "Ruby Net::HTTP with URI#find_proxy (aws-sdk-core's IMDS client since 3.117.0)",
            ("http_proxy", "HTTP_PROXY"),
            (),
            ("no_proxy", "NO_PROXY"),
            cidr=True,
            port_entries=True,
            loopback_exempt=False,
            star=False,
            source="ruby lib/uri/generic.rb find_proxy / use_proxy? (lower case first; IP ranges, host:port and "
            "domain suffixes; no '*'); aws-sdk-core instance_profile_credentials.rb (Net::HTTP.new(host, port) with "
            "the default :ENV proxy since 3.117.0)",
        ),
        ProxyRule(
            "php-symfony",
            "PHP Symfony HttpClient (AsyncAws)",
            ("http_proxy", "HTTP_PROXY"),
            ("all_proxy", "ALL_PROXY"),
            ("no_proxy", "NO_PROXY"),
            cidr=False,
            port_entries=False,
            loopback_exempt=False,
            source="symfony/http-client HttpClientTrait::getProxy ($_SERVER http_proxy, HTTP_PROXY under the CLI, then "
            "all_proxy; no_proxy host and suffix entries); AsyncAws's ContainerProvider and InstanceProvider use "
            "HttpClient::create() without proxy options",
        ),
        ProxyRule(
            "rust-hyper-util",
            "Rust aws-smithy-http-client (hyper-util Matcher::from_env)",
            ("HTTP_PROXY", "http_proxy"),
            ("ALL_PROXY", "all_proxy"),
            ("NO_PROXY", "no_proxy"),
            cidr=True,
            port_entries=False,
            loopback_exempt=False,
            source="hyperium/hyper-util src/client/proxy/matcher.rs (upper case wins; IP, CIDR, domain suffix, '*'; "
            "no port entries); smithy-rs rust-runtime/aws-smithy-runtime/src/client/http.rs ProxyConfig::from_env",
        ),
    )
}
# A client that never consults proxy variables for the request in question.
IGNORES = "ignores"
# Not known from source or measurement: a proxy that applies makes the outcome unknown.
UNKNOWN = "unknown"


def _no_proxy_covers(rule: ProxyRule, host: str, port: int, no_proxy: str) -> bool:
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


# ---------------------------------------------------------------------------------------
# The SDK families.

# Credential sources, by the names the report uses (botocore's method names where one exists).
SOURCES = (
    "env",  # AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
    "assume-role",  # role_arn in the active profile
    "web-identity",  # AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's
    "sso",
    "shared-credentials-file",  # static keys in ~/.aws/credentials
    "login",  # login_session (botocore's `aws login`)
    "process",  # credential_process
    "config-file",  # static keys in ~/.aws/config
    "container",  # AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
    "imds",  # the EC2 instance role
)

# FULL_URI http hosts: "loopback" is any 127.0.0.0/8 or ::1 address.
HOSTS_BOTOCORE_OLD = ("169.254.170.2", "localhost", "127.0.0.1")
HOSTS_POD_IDENTITY = ("loopback", "localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23")
HOSTS_LOOPBACK = ("loopback", "localhost")


@dataclass(frozen=True)
class SdkBehaviour:
    """One SDK family over one version range: what decides its identity in a container."""

    family: str  # the `sdks[].sdk` key
    title: str
    runtime: str  # which processes can use it: python, node, go, java, ruby, php, dotnet, cpp, rust, powershell
    versions: str  # PEP 440 specifier of the range this row covers ("" = every version)
    scanner: tuple[str, ...]  # scanner keys (probe/facts/sdk) that are this family
    chain: tuple[str, ...]  # credential sources in the order the default chain tries them
    min_relative: Optional[str]  # first version with the container provider (None: never)
    min_token_file: Optional[str]  # first version with FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
    container_failure: str  # "error": the chain ends there; "imds": it goes on to the instance role
    full_uri_hosts: tuple[str, ...]  # http hosts accepted in FULL_URI (https is accepted for any host)
    full_uri_refused: str  # "error" or "skip" (the provider is passed over; the chain goes on)
    token_newline: str  # a token ending in a newline: "error", "trimmed", "crash" (the process throws), or "unknown"
    proxy_container: str  # a PROXY_RULES name, IGNORES or UNKNOWN
    proxy_imds: str
    imdsv2_since: Optional[str]  # first version that asks IMDS for a token (None: never / unknown)
    imdsv2_needs_ttl_header: bool  # drops to IMDSv1 when the token answer lacks the TTL header
    honours_imds_disabled: bool  # AWS_EC2_METADATA_DISABLED=true stops the IMDS provider
    evidence: str  # "measured" (run here in an emulated task) or "source" (read, not run here)
    sources: tuple[str, ...]
    note: str = ""
    min_full_uri: Optional[str] = None  # first version that reads FULL_URI at all (None: as min_relative)
    full_uri_first: bool = False  # FULL_URI wins when both variables are set (Go), else RELATIVE does
    # FULL_URI wins when a part found beside it (scanner key) is older than a version:
    # (part, first version where RELATIVE_URI wins again). JavaScript v3's credential-provider-http.
    full_uri_first_part: Union[tuple[()], tuple[str, str]] = ()
    https_any_host: bool = True  # an https FULL_URI may name any host
    imds_disabled_any_value: bool = False  # any non-empty AWS_EC2_METADATA_DISABLED disables IMDS
    # The shared files and profiles (probe/chain.py walks the sources before the container
    # provider by these).
    profile_vars: tuple[str, ...] = ("AWS_PROFILE",)  # the profile variables, the first set one wins
    config_file: str = "always"  # "always"; "load-config": only with AWS_SDK_LOAD_CONFIG set; "never"
    role_settings: str = "always"  # "load-config": role_arn and its sources are read only with AWS_SDK_LOAD_CONFIG
    file_vars: str = "always"  # "load-config": AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE only with AWS_SDK_LOAD_CONFIG
    strict_config: bool = False  # a repeated section or key makes the file an error (configparser)
    missing_profile: str = "ignored"  # "error": a profile a variable names but no file has raises
    partial_keys: str = "skip"  # "error": a key id without its secret (or role_arn without a source) raises
    on_error: str = "raise"  # a profile that is wrong (bad credential_source, loop, missing source): "raise" or "skip"
    runtime_errors: str = ""  # a source that fails when used (STS refuses, token file missing); "" = as on_error
    profile_skips_env: bool = False  # a profile variable set makes it skip AWS_ACCESS_KEY_ID
    web_identity_env: bool = True  # reads AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN
    web_identity_missing_role: str = "skip"  # "error": a token file without a role ARN raises
    credential_sources: tuple[str, ...] = ("Environment", "EcsContainer", "Ec2InstanceMetadata")
    # Variables whose bad value makes it raise before it looks for credentials:
    # (variable, "int" | "choice:a|b" | "ichoice:a|b" (case-insensitive), the error's name).
    settings: tuple[tuple[str, str, str], ...] = ()
    # When the sources that came after the container provider arrived: (feature, first
    # version, or "never"). Features: assume-role, credential-source, web-identity,
    # web-identity-profile, process, sso, login.
    since: tuple[tuple[str, str], ...] = ()

    def covers(self, version: Optional[str]) -> bool:
        if not self.versions:
            return True
        if version is None:
            return False
        # Its regexes take a few ms to compile; only versioned rows need them.
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return Version(version) in SpecifierSet(self.versions)
        except (InvalidVersion, InvalidSpecifier):
            return False


def _row(base: SdkBehaviour, **changes: object) -> SdkBehaviour:
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


_BOTOCORE = SdkBehaviour(
    family="botocore",
    title="botocore (boto3, AWS CLI v1)",
    runtime="python",
    versions=">=1.32.0",
    scanner=("botocore",),
    chain=("env", "assume-role", "web-identity", "sso", "shared-credentials-file", "login", "process", "config-file", "container", "imds"),
    min_relative="1.4.37",
    min_token_file="1.32.0",
    profile_vars=("AWS_DEFAULT_PROFILE", "AWS_PROFILE"),
    strict_config=True,
    missing_profile="error",
    partial_keys="error",
    web_identity_missing_role="error",
    settings=(
        ("AWS_METADATA_SERVICE_TIMEOUT", "int", "ValueError"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "int", "ValueError"),
        ("AWS_MAX_ATTEMPTS", "int", "ValueError"),
        ("AWS_RETRY_MODE", "choice:legacy|standard|adaptive", "InvalidRetryModeError"),
        ("AWS_DEFAULTS_MODE", "ichoice:legacy|standard|in-region|cross-region|mobile|auto", "InvalidDefaultsMode"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ichoice:ipv4|ipv6", "InvalidIMDSEndpointModeError"),
    ),
    since=(
        ("credential-source", "1.8.0"),
        ("process", "1.8.0"),
        ("web-identity", "1.12.200"),
        ("web-identity-profile", "1.12.200"),
        ("sso", "1.17.0"),
        ("login", "1.41.0"),
        ("imds-disabled", "1.9.12"),
    ),
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="error",
    proxy_container=IGNORES,
    proxy_imds="python-urllib",
    imdsv2_since="1.13.25",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "botocore/credentials.py create_credential_resolver (order), ContainerProvider (CredentialRetrievalError, no fallback)",
        "botocore/utils.py ContainerMetadataFetcher (no proxies; _ALLOWED_HOSTS; token file beats token; "
        "'Auth token value is not a legal header value'), IMDSFetcher (get_environ_proxies; token PUT, v1 fallback)",
        "measured: botocore 1.44.8 and 1.4.36 in emulated tasks (tests/test_sdk_matrix.py)",
        "profiles: session.py get_scoped_config raises ProfileNotFound for a named profile no file has (before any provider); "
        "configprovider.py 'profile' reads AWS_DEFAULT_PROFILE before AWS_PROFILE; configloader.py (configparser: a repeated "
        "section is ConfigParseError); AssumeRoleProvider (InvalidConfigError, InfiniteLoopConfigError, PartialCredentialsError); "
        "CHANGELOG 1.8.0 (credential_source, credential_process), 1.12.200 (web identity), 1.17.0 (SSO), 1.41.0 (login)",
        "measured in the chain situations: botocore 1.44.18, 1.31.85, 1.10.25, 1.4.37 and 1.4.36 (missing profile: "
        "ProfileNotFound; credential_source before 1.8.0: PartialCredentialsError; web identity from 1.12.200)",
    ),
)
_BOTOCORE_OLD_HOSTS = _row(
    _BOTOCORE,
    versions=">=1.10.26,<1.32.0",
    full_uri_hosts=HOSTS_BOTOCORE_OLD,
    https_any_host=False,
    note="Before 1.32.0 FULL_URI accepted only 169.254.170.2, localhost and 127.0.0.1, with the token variable only.",
)
_BOTOCORE_PROXIED = _row(
    _BOTOCORE_OLD_HOSTS,
    versions="<1.10.26",
    settings=_BOTOCORE.settings[:2],
    min_full_uri="1.6.0",
    proxy_container="python-requests",
    proxy_imds="python-requests",
    note="Before 1.10.26 the container request honoured HTTP_PROXY / NO_PROXY (requests' rules, CIDR included; "
    "measured: 1.10.25 through the proxy, 1.10.26 direct). FULL_URI arrived between 1.5.0 and 1.6.0; older "
    "versions ignore it and fall through to IMDS (measured with 1.4.37).",
)

_JS_V2 = SdkBehaviour(
    family="js-v2",
    title="AWS SDK for JavaScript v2 (aws-sdk)",
    runtime="node",
    versions=">=2.1550.0",
    scanner=("js-v2",),
    chain=("env", "sso", "shared-credentials-file", "assume-role", "container", "process", "web-identity", "imds"),
    config_file="load-config",
    file_vars="load-config",
    on_error="skip",
    credential_sources=(),
    min_full_uri="2.63.0",
    since=(
        ("credential-source", "never"),
        ("process", "2.429.0"),
        ("web-identity", "2.517.0"),
        ("web-identity-profile", "2.525.0"),
        ("sso", "2.1093.0"),
        ("imds-disabled", "2.187.0"),
    ),
    min_relative="2.4.7",
    min_token_file="2.1550.0",
    container_failure="imds",
    full_uri_hosts=("localhost", "127.0.0.1", "169.254.170.23"),
    full_uri_refused="skip",
    token_newline="crash",
    imds_disabled_any_value=True,
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    imdsv2_since="2.575.0",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "aws-sdk-js lib/node_loader.js defaultProviders: Environment, SharedIniFile, ECSCredentials, Process, "
        "TokenFileWebIdentity, EC2MetadataCredentials; the chain goes on after a failing provider",
        "lib/credentials/remote_credentials.js (FULL_URI hosts localhost, 127.0.0.1, 169.254.170.23; the token "
        "variable beats the file, not trimmed: a newline breaks the header); lib/http/node.js (no proxy variables); "
        "lib/metadata_service.js (IMDSv2 since 2.575.0; any non-empty AWS_EC2_METADATA_DISABLED disables IMDS)",
        "measured: aws-sdk 2.1693.0 and 2.4.6 on Node 20 in emulated tasks",
        "measured: aws-sdk 2.62.0 (FULL_URI ignored) and 2.63.0 (FULL_URI and the token variable on loopback; 169.254.170.23 "
        "refused with no IMDS fallback), neither reading AWS_EC2_METADATA_DISABLED; 2.1693.0 throws an uncaught ERR_INVALID_CHAR "
        "for a token ending in a newline",
        "profiles: lib/util.js getProfilesFromSharedConfig (~/.aws/config and AWS_SHARED_CREDENTIALS_FILE only with "
        "AWS_SDK_LOAD_CONFIG, from 2.44.0), credential_provider_chain.js (every provider error is passed over), "
        "shared_ini_file_credentials.js (role_arn needs source_profile; no credential_source); Process 2.429.0, "
        "TokenFileWebIdentity 2.517.0, Sso 2.1093.0 (first tags)",
        "measured in the chain situations: a missing profile is ignored, credential_source is ignored (task role), web "
        "identity and credential_process come after the container provider",
    ),
)
_JS_V2_FALLBACK = _row(
    _JS_V2,
    versions=">=2.429.0,<2.1550.0",
    full_uri_hosts=("localhost", "127.0.0.1"),
)
_JS_V2_OLD = _row(
    _JS_V2_FALLBACK,
    versions=">=2.44.0,<2.429.0",
    container_failure="error",
    full_uri_refused="error",
    note="From 2.4.7 to 2.428.0 the chain picks the container provider or IMDS, not both: a failing container "
    "endpoint is an error (lib/credentials/credential_provider_chain.js, lib/node_loader.js at v2.428.0).",
)
_JS_V2_NO_CONFIG = _row(
    _JS_V2_OLD,
    versions="<2.44.0",
    config_file="never",
    note=_JS_V2_OLD.note + " Before 2.44.0 it never reads ~/.aws/config (AWS_SDK_LOAD_CONFIG arrived in 2.44.0, CHANGELOG).",
)

_JS_V3 = SdkBehaviour(
    family="js-v3",
    title="AWS SDK for JavaScript v3 (@aws-sdk/credential-provider-node)",
    runtime="node",
    versions=">=3.503.1",
    scanner=("js-v3-credential-provider-node",),
    chain=("env", "sso", "shared-credentials-file", "assume-role", "process", "web-identity", "container", "imds"),
    profile_skips_env=True,
    on_error="skip",
    runtime_errors="raise",
    full_uri_first_part=("js-v3-credential-provider-http", "3.972.57"),
    min_relative="3.0.0",
    min_token_file="3.503.1",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="error",
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    imdsv2_since="3.0.0",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "aws-sdk-js-v3 packages/credential-provider-node/src/defaultProvider.ts (fromEnv, fromSSO, fromIni, "
        "fromProcess, fromTokenFile, remoteProvider) and remoteProvider.ts (container variables set: fromHttp or "
        "fromContainerMetadata only, no IMDS fallback)",
        "packages/credential-provider-http/src/fromHttp (allowed hosts, token file); @smithy/node-http-handler "
        "(no proxy variables)",
        "measured: @aws-sdk/client-sts 3.1177 (credential-provider-node 3.972.99) on Node 20 in emulated tasks",
        "measured: credential-provider-node 3.186.0 and 3.423.0 (fromContainerMetadata only: 169.254.170.23 refused), 3.503.1 "
        "(credential-provider-http in the chain: the token file; FULL_URI before RELATIVE_URI); credential-provider-http "
        "prefers RELATIVE_URI from 3.972.57 (every published version read)",
        "profiles: credential-provider-node defaultProvider skips fromEnv whenever AWS_PROFILE is set; a ProviderError with "
        "tryNextLink (missing profile, unknown credential_source, a failing credential_process) passes over, an STS or file "
        "error (web identity token missing) ends the chain (@smithy/core chain)",
        "measured in the chain situations: reads ~/.aws/config without AWS_SDK_LOAD_CONFIG, assumes the chained role with "
        "credential_source = EcsContainer, web identity before the container provider, runs credential_process",
    ),
)

_JS_V3_IMDS_PACKAGE = _row(
    _JS_V3,
    versions="<3.503.1",
    full_uri_hosts=("localhost", "127.0.0.1"),
    min_token_file=None,
    full_uri_first_part=(),
    note="Before credential-provider-node 3.503.1 the chain's remoteProvider is fromContainerMetadata "
    "(@aws-sdk/credential-provider-imds): FULL_URI over http only to localhost or 127.0.0.1 (169.254.170.2 and .23 "
    "are refused with an error), the token variable but no token file; credential-provider-http (first published "
    "3.422.0) joins the chain in 3.503.1.",
)

# Part of JavaScript v3 that the default chain (credential-provider-node) calls; judged
# for its version only, never on a line of its own in `sdks`.
_JS_V3_HTTP = _row(
    _JS_V3,
    family="js-v3-credential-provider-http",
    title="AWS SDK for JavaScript v3 (credential-provider-http)",
    versions="",
    scanner=("js-v3-credential-provider-http",),
    min_token_file="3.458.0",
)

_GO_V1 = SdkBehaviour(
    family="go-v1",
    title="AWS SDK for Go v1 (aws-sdk-go)",
    runtime="go",
    versions=">=1.47.11",
    scanner=("go-v1",),
    chain=("env", "web-identity", "assume-role", "shared-credentials-file", "sso", "process", "container", "imds"),
    config_file="load-config",
    role_settings="load-config",
    web_identity_missing_role="error",
    since=(
        ("credential-source", "1.15.54"),
        ("process", "1.16.0"),
        ("web-identity", "1.21.0"),
        ("web-identity-profile", "1.21.0"),
        ("sso", "1.37.0"),
    ),
    min_relative="1.2.5",
    min_token_file="1.47.11",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="error",
    full_uri_first=True,
    proxy_container="go-net-http",
    proxy_imds="go-net-http",
    imdsv2_since="1.25.38",
    imdsv2_needs_ttl_header=True,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "aws-sdk-go aws/defaults/defaults.go RemoteCredProvider (container variable set: endpoint provider only; "
        "FULL_URI host check), aws/session/credentials.go (order)",
        "aws/ec2metadata/token_provider.go (TTL header required, else IMDSv1); net/http DefaultTransport "
        "ProxyFromEnvironment",
        "measured: aws-sdk-go 1.44.133 (Debian golang-github-aws-aws-sdk-go-dev) in emulated tasks",
        "profiles: aws/session/session.go (the config file, AWS_DEFAULT_PROFILE and role settings only with "
        "AWS_SDK_LOAD_CONFIG; SharedConfigProfileNotExistsError ignored), credentials.go (static choice: env keys, env web "
        "identity, then the profile); CHANGELOG credential_source 1.15.54, credential_process 1.16.0, web identity 1.21.0, SSO 1.37.0",
        "measured in the chain situations: chain-ecs gives the task role without AWS_SDK_LOAD_CONFIG, the chained role with it",
    ),
)
_GO_V1_OLD = _row(
    _GO_V1,
    versions="<1.47.11",
    full_uri_hosts=HOSTS_LOOPBACK,
    https_any_host=False,
    note="Before 1.47.11 FULL_URI must name a loopback host, https or not; 169.254.170.23 is refused (measured).",
)

_GO_V2 = SdkBehaviour(
    family="go-v2",
    title="AWS SDK for Go v2 (aws-sdk-go-v2/config)",
    runtime="go",
    versions=">=1.25.0",
    scanner=("go-v2-config",),
    chain=("env", "web-identity", "assume-role", "shared-credentials-file", "sso", "process", "container", "imds"),
    profile_vars=("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    missing_profile="error",
    web_identity_missing_role="error",
    min_relative="0.1.0",
    min_token_file="1.25.0",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="error",
    full_uri_first=True,
    proxy_container="go-net-http",
    proxy_imds="go-net-http",
    imdsv2_since="0.1.0",
    imdsv2_needs_ttl_header=True,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "aws-sdk-go-v2 config/resolve_credentials.go (resolveCredentialChain: env, shared config, then "
        "resolveHTTPCredProvider or ec2RoleProvider), credentials/endpointcreds",
        "aws-sdk-go-v2 aws/transport/http/client.go (ProxyFromEnvironment)",
        "measured: aws-sdk-go-v2 from Debian (config 1.17.10, credentials 1.12.23) in emulated tasks: loopback-only FULL_URI, "
        "FULL_URI before RELATIVE_URI, HTTP_PROXY with NO_PROXY hosts and CIDR, AWS_EC2_METADATA_DISABLED honoured, a missing "
        "profile ignored (before config 1.18.45), credential_process run",
        "profiles: config/CHANGELOG.md 1.18.45 (2023-10-12, PR #2309: fail to load config if an explicitly provided profile "
        "doesn't exist); config/env_config.go (AWS_PROFILE, then AWS_DEFAULT_PROFILE); resolve_credentials.go (env keys, "
        "env web identity, then the profile)",
    ),
)
_GO_V2_OLD = _row(_GO_V2, versions=">=1.18.45,<1.25.0", full_uri_hosts=HOSTS_LOOPBACK, https_any_host=False)
_GO_V2_LENIENT = _row(
    _GO_V2_OLD,
    versions="<1.18.45",
    missing_profile="ignored",
    note="Before config 1.18.45 a profile AWS_PROFILE names but no file has is ignored (CHANGELOG 2023-10-12, PR #2309).",
)

# The part of Go v2 that fetches container credentials; its config module decides the chain.
_GO_V2_CREDENTIALS = _row(
    _GO_V2,
    family="go-v2-credentials",
    title="AWS SDK for Go v2 (aws-sdk-go-v2/credentials)",
    versions="",
    scanner=("go-v2-credentials",),
    min_token_file="1.16.0",
)

_RUBY = SdkBehaviour(
    family="ruby",
    title="AWS SDK for Ruby (aws-sdk-core)",
    runtime="ruby",
    versions=">=3.188.0",
    scanner=("ruby",),
    chain=("env", "web-identity", "sso", "assume-role", "shared-credentials-file", "process", "container", "imds"),
    profile_vars=("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    credential_sources=("EcsContainer", "Ec2InstanceMetadata"),
    since=(("credential-source", "3.12.0"), ("process", "3.24.0"), ("sso", "3.105.0")),
    min_relative="2.3.22",
    min_token_file="3.188.0",
    min_full_uri="3.171.0",
    container_failure="error",
    full_uri_hosts=("loopback", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"),
    full_uri_refused="error",
    token_newline="trimmed",
    proxy_container=IGNORES,
    proxy_imds="ruby-uri",
    imdsv2_since="3.79.0",
    imdsv2_needs_ttl_header=True,
    honours_imds_disabled=True,
    evidence="measured",
    sources=(
        "aws-sdk-ruby gems/aws-sdk-core/lib/aws-sdk-core/credential_provider_chain.rb (order; ecs_or_ec2 picks "
        "one of ECS and instance profile)",
        "ecs_credentials.rb (Net::HTTP.new(host, port, nil): no proxy; FULL_URI from 3.171.0, allowed hosts, a "
        "disallowed one raises ArgumentError; the token is stripped) and instance_profile_credentials.rb (the "
        "default proxy from 3.117.0; IMDSv2 from 3.79.0, the TTL read with .to_i: a missing header means IMDSv1)",
        "measured: aws-sdk-core 3.168.1 (Debian ruby-aws-sdk-core) in emulated tasks",
        "profiles: credential_provider_chain.rb (AWS_PROFILE, then AWS_DEFAULT_PROFILE; a missing profile is ignored, a "
        "provider that raises ends the chain at Client.new), shared_config.rb (credential_source EcsContainer and "
        "Ec2InstanceMetadata only: Environment raises InvalidCredentialSourceError); CHANGELOG credential_source 3.12.0, "
        "process 3.24.0, SSO 3.105.0",
        "measured in the chain situations: reads ~/.aws/config by default, assumes the chained role, web identity wins, runs "
        "credential_process",
    ),
)
_RUBY_OLD = _row(
    _RUBY,
    versions=">=3.117.0,<3.188.0",
    note="AWS_CONTAINER_CREDENTIALS_FULL_URI is read from 3.171.0 (with the token variable); before that it is "
    "ignored and the chain goes on to the instance profile (measured with 3.168.1). The token file from 3.188.0.",
)
_RUBY_NO_IMDS_PROXY = _row(_RUBY_OLD, versions="<3.117.0", proxy_imds=IGNORES)

_JAVA_V1 = SdkBehaviour(
    family="java-v1",
    title="AWS SDK for Java 1.x",
    runtime="java",
    versions=">=1.12.746",
    scanner=("java-v1",),
    chain=("env", "web-identity", "shared-credentials-file", "assume-role", "process", "container", "imds"),
    config_file="never",
    on_error="skip",
    since=(("credential-source", "never"),),
    min_relative="1.11.16",
    min_token_file="1.12.746",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="unknown",
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    imdsv2_since="1.11.678",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=(
        "aws-sdk-java aws-java-sdk-core/src/main/java/com/amazonaws/auth/DefaultAWSCredentialsProviderChain.java, "
        "EC2ContainerCredentialsProviderWrapper.java (container variable set: container provider only)",
        "com/amazonaws/internal/ConnectionUtils.java (openConnection(Proxy.NO_PROXY)) for the container and IMDS",
        "ContainerCredentialsProvider.java FullUriCredentialsEndpointProvider (allowed hosts; from 1.12.746 the "
        "Pod Identity hosts and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE); InstanceMetadataServiceResourceFetcher "
        "(IMDSv2 since 1.11.678, IMDSv1 fallback)",
        "profiles: AWSCredentialsProviderChain.getCredentials catches every exception and moves on; ProfilesConfigFile reads "
        "the credentials file only (AWS_CREDENTIAL_PROFILES_FILE); role_arn needs source_profile",
    ),
)
_JAVA_V1_OLD = _row(
    _JAVA_V1,
    versions="<1.12.746",
    full_uri_hosts=("127.0.0.1", "localhost"),
    note="Before 1.12.746 FULL_URI must be http://127.0.0.1 or http://localhost (no https exemption).",
)

_JAVA_V2 = SdkBehaviour(
    family="java-v2",
    title="AWS SDK for Java 2.x",
    runtime="java",
    versions=">=2.21.30",
    scanner=("java-v2",),
    chain=("env", "web-identity", "sso", "assume-role", "login", "process", "shared-credentials-file", "container", "imds"),
    on_error="skip",
    min_relative="2.0.0",
    min_token_file="2.21.30",
    container_failure="imds",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="skip",
    token_newline="unknown",
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    imdsv2_since="2.10.21",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=(
        "aws-sdk-java-v2 core/auth/src/main/java/software/amazon/awssdk/auth/credentials/DefaultCredentialsProvider.java "
        "and AwsCredentialsProviderChain.java (a failing provider is passed over)",
        "core/regions/src/main/java/software/amazon/awssdk/regions/util/HttpResourcesUtils.java / "
        "internal/ConnectionUtils.java (Proxy.NO_PROXY)",
        "ContainerCredentialsProvider.java (allowed hosts, also checked for a refused host: the chain goes on to "
        "IMDS); InstanceProfileCredentialsProvider (IMDSv2 since 2.10.21, IMDSv1 fallback)",
        "profiles: ProfileCredentialsUtils (role_arn with web identity, SSO, role_arn with a source, login_session, "
        "credential_process, keys); AwsCredentialsProviderChain passes a failing provider over",
    ),
)
_JAVA_V2_OLD = _row(_JAVA_V2, versions="<2.21.30", full_uri_hosts=("loopback", "localhost", "169.254.170.2"))

_DOTNET = SdkBehaviour(
    family="dotnet",
    title="AWS SDK for .NET (AWSSDK.Core)",
    runtime="dotnet",
    versions=">=4.0.0",
    scanner=("dotnet",),
    chain=("env", "web-identity", "assume-role", "shared-credentials-file", "process", "container", "imds"),
    missing_profile="error",
    on_error="skip",
    min_relative="3.1.6",
    min_token_file="3.7.302",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="unknown",
    proxy_container="dotnet-httpclient",
    proxy_imds="dotnet-httpclient",
    imdsv2_since="3.3.634",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=False,
    evidence="source",
    sources=(
        "aws-sdk-net sdk/src/Core/Amazon.Runtime/Credentials/Internal/DefaultAWSCredentialsIdentityResolver.cs "
        "(v4: env, web identity, profile, then the container provider or the instance profile, not both)",
        "sdk/src/Core/Amazon.Runtime/Credentials/GenericContainerCredentials.cs and ContainerEC2CredentialsWrapper "
        "(allowed hosts; a refused host throws); the request uses the platform's default proxy "
        "(HttpClient reads http_proxy / no_proxy on Linux): inferred from the code, not run here",
        "AWS_EC2_METADATA_DISABLED: not found in the source",
        "profiles: v4 DefaultAWSCredentialsIdentityResolver throws ProfileNotFoundException for a missing non-default "
        "profile; v3 FallbackCredentialsFactory tries the profile before the environment and ignores a missing one",
    ),
    note="The proxy reading is inferred from .NET's HttpClient defaults, not measured.",
)

_DOTNET_V3 = _row(
    _DOTNET,
    versions="<4.0.0",
    chain=("web-identity", "assume-role", "shared-credentials-file", "process", "env", "container", "imds"),
    missing_profile="ignored",
    note="AWSSDK.Core 3.x (FallbackCredentialsFactory) tries the profile before AWS_ACCESS_KEY_ID and ignores a "
    "missing profile; 4.x (DefaultAWSCredentialsIdentityResolver) tries the environment first and throws "
    "ProfileNotFoundException for a missing non-default profile.",
)

_POWERSHELL = _row(
    _DOTNET_V3,
    versions="",
    family="powershell",
    title="AWS Tools for PowerShell",
    runtime="powershell",
    scanner=("powershell",),
    min_relative="0.0.1",
    min_token_file="4.1.502",
    sources=("AWS.Tools.Common runs on AWSSDK.Core: the .NET rules (see AWS SDK for .NET); the token file since 4.1.502",),
)

_PHP = SdkBehaviour(
    family="php",
    title="AWS SDK for PHP",
    runtime="php",
    versions="",
    scanner=("php",),
    chain=("env", "web-identity", "sso", "process", "shared-credentials-file", "assume-role", "container", "imds"),
    on_error="skip",
    min_relative="3.18.28",
    min_token_file="3.287.1",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="unknown",
    proxy_container=IGNORES,
    proxy_imds=UNKNOWN,
    imdsv2_since="3.147.7",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=(
        "aws-sdk-php src/Credentials/CredentialProvider.php defaultProvider (recent versions: the ECS provider "
        "or the instance profile, not both; older ones passed a rejected provider over)",
        "src/Credentials/EcsCredentialProvider.php (proxy explicitly off, allowed hosts, token file wins); "
        "InstanceProfileProvider.php (IMDSv2 since 3.147.7; its Guzzle request may follow proxy variables)",
        "profiles: CredentialProvider::chain (a rejection goes on to the next provider); loadRoleProfile (exactly one of "
        "source_profile / credential_source; an unknown credential_source throws and is passed over)",
    ),
    note="The release where a failing ECS provider stopped falling through to IMDS was not found; recent behaviour is modelled.",
)

_ASYNCAWS = SdkBehaviour(
    family="php-asyncaws",
    title="AsyncAws (async-aws/core, PHP)",
    runtime="php",
    versions="",
    scanner=("php-asyncaws",),
    chain=("env", "web-identity", "shared-credentials-file", "assume-role", "container", "imds"),
    min_relative="1.1.0",
    min_full_uri="1.23.0",
    min_token_file="1.23.0",
    container_failure="imds",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="skip",
    token_newline="unknown",
    proxy_container="php-symfony",
    proxy_imds="php-symfony",
    imdsv2_since=None,
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=False,
    profile_vars=("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    on_error="skip",
    credential_sources=(),
    since=(("credential-source", "never"), ("process", "never"), ("sso", "1.20.0"), ("web-identity", "0.3.0")),
    evidence="measured",
    sources=(
        "async-aws/core src/Credentials/ChainProvider.php createDefaultChain (ConfigurationProvider, WebIdentityProvider, "
        "IniFileProvider, ContainerProvider, InstanceProvider; a provider that fails returns null and the next is tried)",
        "src/Credentials/ContainerProvider.php at 1.18.1 (Debian php-async-aws-core): RELATIVE_URI only, on "
        "http://169.254.170.2, through HttpClient::create() (proxy variables apply); CHANGELOG 1.1.0 (ECS), 1.23.0 (EKS Pod "
        "Identity: FULL_URI and the token file)",
        "src/Credentials/InstanceProvider.php at 1.18.1: IMDSv1 only (no token); AWS_EC2_METADATA_DISABLED is not read",
        "measured: php-async-aws-core 1.18.1 (Debian) in emulated tasks: RELATIVE_URI only, IMDS when the agent fails, "
        "IMDSv1 only, AWS_EC2_METADATA_DISABLED ignored, the container and IMDS requests through HTTP_PROXY (NO_PROXY host "
        "lists honoured, CIDR not), no credential_process, source_profile and web identity",
    ),
    note="Debian ships it without composer metadata: the scanner finds src/Credentials/ContainerProvider.php and reads the "
    "version from dpkg's status file.",
)

_CPP = SdkBehaviour(
    family="cpp",
    title="AWS SDK for C++",
    runtime="cpp",
    versions="",
    scanner=("cpp",),
    chain=("env", "shared-credentials-file", "process", "web-identity", "sso", "container", "imds"),
    profile_vars=("AWS_DEFAULT_PROFILE", "AWS_PROFILE"),
    on_error="skip",
    since=(("assume-role", "never"), ("credential-source", "never")),
    min_relative="0.12.19",
    min_token_file="1.11.263",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="unknown",
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    imdsv2_since="1.7.229",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=(
        "aws-sdk-cpp src/aws-cpp-sdk-core/source/auth/AWSCredentialsProviderChain.cpp "
        "(DefaultAWSCredentialsProviderChain: the container provider replaces the instance profile one; a "
        "failing one yields empty credentials, so requests go out unsigned and fail)",
        "src/aws-cpp-sdk-core/source/http/curl/CurlHttpClient.cpp (proxies off unless allowSystemProxy); "
        "GeneralHTTPCredentialsProvider.cpp (allowed hosts, token file since 1.11.263); EC2MetadataClient (IMDSv2 since 1.7.229)",
        "profiles: AWSCredentialsProvider.cpp GetConfigProfileName (AWS_DEFAULT_PROFILE, then AWS_PROFILE); "
        "ProfileConfigFileAWSCredentialsProvider returns the credentials file's keys only: no role_arn in the default chain",
    ),
)

_RUST = SdkBehaviour(
    family="rust",
    title="AWS SDK for Rust (aws-config)",
    runtime="rust",
    versions=">=1.8.5",
    scanner=("rust",),
    chain=("env", "shared-credentials-file", "assume-role", "process", "sso", "web-identity", "container", "imds"),
    min_relative="0.0.1",
    min_token_file="1.1.8",
    container_failure="error",
    full_uri_hosts=("loopback", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"),
    full_uri_refused="error",
    token_newline="error",
    proxy_container="rust-hyper-util",
    proxy_imds="rust-hyper-util",
    imdsv2_since="0.0.1",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=(
        "smithy-rs aws/rust-runtime/aws-config/src/default_provider/credentials.rs (Environment, Profile, "
        "WebIdentityToken, EcsContainer, Ec2InstanceMetadata); src/meta/credentials/chain.rs (only 'not loaded' "
        "moves on: a failing ECS provider ends the chain)",
        "src/ecs.rs (allowed hosts after DNS resolution; the token file wins and is not trimmed: a trailing newline "
        "is an InvalidConfiguration error, tested in invalid_auth_token_file_does_not_log_value); src/imds/client.rs "
        "(IMDSv2 only)",
        "smithy-rs CHANGELOG 2025-08-18 (aws-config 1.8.5): proxy variables on the latest BehaviorVersion; the ECS "
        "provider always uses the latest",
        "profiles: profile/credentials.rs (a missing profile is 'not loaded': passed over; a loop, an unknown credential_source "
        "or both sources are errors that end the chain); environment/credentials.rs (a key id without its secret is passed over)",
    ),
)
_RUST_OLD = _row(
    _RUST,
    versions="<1.8.5",
    proxy_container=IGNORES,
    proxy_imds=IGNORES,
    note="Before aws-config 1.8.5 its HTTP client read no proxy variables.",
)

_BOTO2 = SdkBehaviour(
    family="boto",
    title="boto 2",
    runtime="python",
    versions="",
    scanner=("boto",),
    chain=("env", "shared-credentials-file", "imds"),
    config_file="never",
    min_relative=None,
    min_token_file=None,
    container_failure="imds",
    full_uri_hosts=(),
    full_uri_refused="skip",
    token_newline="unknown",
    proxy_container=IGNORES,
    proxy_imds=UNKNOWN,
    imdsv2_since=None,
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=False,
    evidence="source",
    sources=("boto/provider.py (environment, shared credentials, boto config, then instance metadata; no container provider)",),
)

_CLI_V2 = SdkBehaviour(
    family="awscli-v2",
    title="AWS CLI v2",
    runtime="python",
    versions=">=2.15.0",
    scanner=("awscli-v2",),
    chain=_BOTOCORE.chain,
    profile_vars=("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    strict_config=True,
    missing_profile="error",
    partial_keys="error",
    web_identity_missing_role="error",
    min_relative="2.0.0",
    min_token_file="2.15.0",
    container_failure="error",
    full_uri_hosts=HOSTS_POD_IDENTITY,
    full_uri_refused="error",
    token_newline="error",
    proxy_container=IGNORES,
    proxy_imds="python-urllib",
    imdsv2_since="2.0.0",
    imdsv2_needs_ttl_header=False,
    honours_imds_disabled=True,
    evidence="source",
    sources=("aws-cli v2 branch awscli/botocore/utils.py (its own botocore: the same container and IMDS fetchers)",),
)
_CLI_V2_OLD = _row(_CLI_V2, versions="<2.15.0", full_uri_hosts=HOSTS_BOTOCORE_OLD)

_CLI_V1 = _row(
    _BOTOCORE,
    family="awscli-v1",
    title="AWS CLI v1",
    versions=">=1.30.0",
    scanner=("awscli-v1",),
    min_relative="1.10.47",
    min_token_file="1.30.0",
    since=(("credential-source", "1.12.0"), ("web-identity", "1.16.210"), ("web-identity-profile", "1.16.210"), ("login", "1.43.0")),
    evidence="source",
    sources=("aws-cli setup.cfg pins its botocore; the rules are botocore's (see botocore)",),
)
_CLI_V1_OLD = _row(_CLI_V1, versions="<1.30.0", full_uri_hosts=HOSTS_BOTOCORE_OLD)

_BOTO3 = _row(
    _BOTOCORE,
    family="boto3",
    title="boto3",
    versions="",
    scanner=("boto3",),
    min_relative="1.4.0",
    min_token_file="1.34.41",
    evidence="source",
    sources=("boto3 resolves credentials with botocore: the botocore beside it decides (see botocore)",),
)

_GO_UNVERSIONED = SdkBehaviour(
    family="go-unversioned",
    title="an AWS SDK in a Go binary built without module versions",
    runtime="go",
    versions="",
    scanner=("go-unversioned",),
    chain=_GO_V1.chain,
    min_relative="0",
    min_token_file="0",
    container_failure="error",
    full_uri_hosts=HOSTS_LOOPBACK,
    full_uri_refused="error",
    token_newline="unknown",
    proxy_container="go-net-http",
    proxy_imds="go-net-http",
    imdsv2_since=None,
    imdsv2_needs_ttl_header=True,
    honours_imds_disabled=True,
    evidence="source",
    sources=("the variable names the binary contains (probe/facts/sdk/binaries.py feature_strings); Go's net/http",),
    note="No version: the container variables it names say what it reads; FULL_URI hosts are assumed loopback only.",
)

# Newest range first within a family: the first row that covers a version wins.
MODEL: tuple[SdkBehaviour, ...] = (
    _BOTOCORE,
    _BOTOCORE_OLD_HOSTS,
    _BOTOCORE_PROXIED,
    _BOTO3,
    _CLI_V1,
    _CLI_V1_OLD,
    _CLI_V2,
    _CLI_V2_OLD,
    _BOTO2,
    _JS_V2,
    _JS_V2_FALLBACK,
    _JS_V2_OLD,
    _JS_V2_NO_CONFIG,
    _JS_V3,
    _JS_V3_IMDS_PACKAGE,
    _JS_V3_HTTP,
    _GO_V1,
    _GO_V1_OLD,
    _GO_V2,
    _GO_V2_OLD,
    _GO_V2_LENIENT,
    _GO_V2_CREDENTIALS,
    _GO_UNVERSIONED,
    _JAVA_V1,
    _JAVA_V1_OLD,
    _JAVA_V2,
    _JAVA_V2_OLD,
    _RUBY,
    _RUBY_OLD,
    _RUBY_NO_IMDS_PROXY,
    _PHP,
    _ASYNCAWS,
    _DOTNET,
    _DOTNET_V3,
    _POWERSHELL,
    _CPP,
    _RUST,
    _RUST_OLD,
)

# Which running processes can use an SDK of each runtime, by the program's base name.
RUNTIME_PROGRAMS: dict[str, tuple[str, ...]] = {
    "python": ("python", "pypy", "aws", "uwsgi", "gunicorn", "celery"),
    "node": ("node", "nodejs", "bun"),
    "java": ("java",),
    "ruby": ("ruby", "puma", "unicorn", "sidekiq", "bundle", "rails"),
    "php": ("php", "php-fpm", "php-cgi", "frankenphp"),
    "dotnet": ("dotnet", "pwsh"),
    "powershell": ("pwsh",),
}


def rows_for(scanner_key: str) -> list[SdkBehaviour]:
    return [r for r in MODEL if scanner_key in r.scanner]


def row_for(scanner_key: str, version: Optional[str]) -> tuple[Optional[SdkBehaviour], str]:
    """The row that decides an SDK found by the scanner, or None with the reason."""
    rows = rows_for(scanner_key)
    if not rows:
        return None, f"no behaviour model for the scanner's '{scanner_key}'"
    if len(rows) == 1 and not rows[0].versions:
        return rows[0], ""
    if version is None:
        return None, "its version could not be read, and the model's rows depend on it"
    try:
        Version(version)
    except InvalidVersion:
        return None, f"its version {version!r} is not one the model can compare"
    for row in rows:
        if row.covers(version):
            return row, ""
    return None, f"no row of the model covers version {version}"


def ignores_imds_disabled(scanner_key: str, version: Optional[str]) -> bool:
    """Does this SDK ask IMDS even with AWS_EC2_METADATA_DISABLED=true (it never reads the
    variable, or predates it)? An SDK the model does not know counts as one that may."""
    row, _ = row_for(scanner_key, version)
    if row is None:
        return scanner_key not in ("js-v3-credential-provider-http", "go-v2-credentials")
    if not row.honours_imds_disabled:
        return row.min_relative is not None or row.family == "boto"
    first = dict(row.since).get("imds-disabled")
    return first is not None and at_least(version, first) is False


def at_least(version: Optional[str], minimum: Optional[str]) -> Optional[bool]:
    """version >= minimum; None when either cannot be compared."""
    if minimum is None:
        return False
    if version is None:
        return None
    try:
        return Version(version) >= Version(minimum)
    except InvalidVersion:
        return None


# ---------------------------------------------------------------------------------------
# The table as a document a person reads.

_COLUMNS: Sequence[tuple[str, str]] = (
    ("family", "SDK"),
    ("versions", "versions"),
    ("chain", "chain (first wins)"),
    ("container_failure", "container provider fails"),
    ("proxy_container", "proxy: credentials"),
    ("proxy_imds", "proxy: IMDS"),
    ("full_uri_hosts", "FULL_URI http hosts"),
    ("full_uri_refused", "refused FULL_URI"),
    ("min_relative", "RELATIVE_URI since"),
    ("min_token_file", "token file since"),
    ("token_newline", "token ends in newline"),
    ("imdsv2_since", "IMDSv2 since"),
    ("full_uri_first", "FULL_URI beats RELATIVE"),
    ("profile_vars", "profile variables"),
    ("config_file", "reads ~/.aws/config"),
    ("missing_profile", "profile not found"),
    ("on_error", "a wrong profile"),
    ("since", "profile sources since"),
    ("evidence", "evidence"),
)


def _cell(value: object) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ", ".join(f"{k} {v}" for k, v in value).replace("|", "\\|")
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "-"
    if value is None:
        return "never"
    if value == "":
        return "all"
    return str(value).replace("|", "\\|")


def markdown() -> str:
    """The model as Markdown: one table, then each row's sources."""
    out = [
        "# The SDK behaviour model",
        "",
        "Generated by `python -m probe.sdkmodel` from `probe/sdkmodel.py`; do not edit by hand.",
        "What decides each AWS SDK's identity inside an ECS task. `probe` runs every SDK it finds",
        "through its row to fill the report's `sdks` list and the `sdk.identity` check.",
        "Evidence `measured`: the real SDK ran here in an emulated task next to the probe",
        "(tests/test_sdk_matrix.py). `source`: read in the SDK's source, not run here.",
        "",
        "| " + " | ".join(title for _k, title in _COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    for row in MODEL:
        out.append("| " + " | ".join(_cell(getattr(row, key)) for key, _t in _COLUMNS) + " |")
    out += ["", "## Proxy rules", "", "| rule | http:// variables | ALL_PROXY | NO_PROXY CIDR | loopback exempt | source |", "|---|---|---|---|---|---|"]
    for rule in PROXY_RULES.values():
        out.append(
            f"| {rule.title} | {', '.join(rule.http_vars)} | {', '.join(rule.all_vars) or '-'} | "
            f"{'yes' if rule.cidr else 'no'} | {'yes' if rule.loopback_exempt else 'no'} | {rule.source} |"
        )
    out += ["", "## Sources per row", ""]
    for row in MODEL:
        out.append(f"### {row.title} ({_cell(row.versions)})")
        out.append("")
        for src in row.sources:
            out.append(f"- {src}")
        if row.note:
            out.append(f"- Note: {row.note}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())
