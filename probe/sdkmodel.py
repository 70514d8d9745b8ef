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
from dataclasses import dataclass
from typing import Optional, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
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


# ---------------------------------------------------------------------------------------
# The SDK families.

# Credential sources, by the names the report uses (botocore's method names where one exists).
SOURCES = (
    "env",  # AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
    "assume-role",  # role_arn in the active profile
    "web-identity",  # AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's
    "sso",
    "shared-credentials-file",  # static keys in ~/.aws/credentials
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
    token_newline: str  # a token file ending in a newline: "error", "trimmed", or "unknown"
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
    https_any_host: bool = True  # an https FULL_URI may name any host
    imds_disabled_any_value: bool = False  # any non-empty AWS_EC2_METADATA_DISABLED disables IMDS

    def covers(self, version: Optional[str]) -> bool:
        if not self.versions:
            return True
        if version is None:
            return False
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
    chain=("env", "assume-role", "web-identity", "sso", "shared-credentials-file", "process", "config-file", "container", "imds"),
    min_relative="1.4.37",
    min_token_file="1.32.0",
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
    chain=("env", "shared-credentials-file", "assume-role", "container", "process", "web-identity", "imds"),
    min_relative="2.4.7",
    min_token_file="2.1550.0",
    container_failure="imds",
    full_uri_hosts=("localhost", "127.0.0.1", "169.254.170.23"),
    full_uri_refused="skip",
    token_newline="error",
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
    ),
)
_JS_V2_FALLBACK = _row(
    _JS_V2,
    versions=">=2.429.0,<2.1550.0",
    full_uri_hosts=("localhost", "127.0.0.1"),
)
_JS_V2_OLD = _row(
    _JS_V2_FALLBACK,
    versions="<2.429.0",
    container_failure="error",
    note="From 2.4.7 to 2.428.0 the chain picks the container provider or IMDS, not both: a failing container "
    "endpoint is an error (lib/credentials/credential_provider_chain.js, lib/node_loader.js at v2.428.0).",
)

_JS_V3 = SdkBehaviour(
    family="js-v3",
    title="AWS SDK for JavaScript v3 (@aws-sdk/credential-provider-node)",
    runtime="node",
    versions="",
    scanner=("js-v3-credential-provider-node",),
    chain=("env", "sso", "shared-credentials-file", "assume-role", "process", "web-identity", "container", "imds"),
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
    ),
)

# Part of JavaScript v3 that the default chain (credential-provider-node) calls; judged
# for its version only, never on a line of its own in `sdks`.
_JS_V3_HTTP = _row(
    _JS_V3,
    family="js-v3-credential-provider-http",
    title="AWS SDK for JavaScript v3 (credential-provider-http)",
    scanner=("js-v3-credential-provider-http",),
    min_token_file="3.458.0",
)

_GO_V1 = SdkBehaviour(
    family="go-v1",
    title="AWS SDK for Go v1 (aws-sdk-go)",
    runtime="go",
    versions=">=1.47.11",
    scanner=("go-v1",),
    chain=("env", "web-identity", "shared-credentials-file", "assume-role", "process", "container", "imds"),
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
    chain=("env", "sso", "shared-credentials-file", "assume-role", "process", "web-identity", "container", "imds"),
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
    evidence="source",
    sources=(
        "aws-sdk-go-v2 config/resolve_credentials.go (resolveCredentialChain: env, shared config, then "
        "resolveHTTPCredProvider or ec2RoleProvider), credentials/endpointcreds",
        "aws-sdk-go-v2 aws/transport/http/client.go (ProxyFromEnvironment)",
    ),
)
_GO_V2_OLD = _row(_GO_V2, versions="<1.25.0", full_uri_hosts=HOSTS_LOOPBACK, https_any_host=False)

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
    chain=("env", "web-identity", "shared-credentials-file", "assume-role", "process", "container", "imds"),
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
    ),
)
_JAVA_V2_OLD = _row(_JAVA_V2, versions="<2.21.30", full_uri_hosts=("loopback", "localhost", "169.254.170.2"))

_DOTNET = SdkBehaviour(
    family="dotnet",
    title="AWS SDK for .NET (AWSSDK.Core)",
    runtime="dotnet",
    versions="",
    scanner=("dotnet",),
    chain=("env", "web-identity", "shared-credentials-file", "assume-role", "process", "container", "imds"),
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
    ),
    note="The proxy reading is inferred from .NET's HttpClient defaults, not measured.",
)

_POWERSHELL = _row(
    _DOTNET,
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
    ),
    note="The release where a failing ECS provider stopped falling through to IMDS was not found; recent behaviour is modelled.",
)

_CPP = SdkBehaviour(
    family="cpp",
    title="AWS SDK for C++",
    runtime="cpp",
    versions="",
    scanner=("cpp",),
    chain=("env", "shared-credentials-file", "process", "web-identity", "sso", "container", "imds"),
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
    _JS_V3,
    _JS_V3_HTTP,
    _GO_V1,
    _GO_V1_OLD,
    _GO_V2,
    _GO_V2_OLD,
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
    _DOTNET,
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
    ("evidence", "evidence"),
)


def _cell(value: object) -> str:
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
