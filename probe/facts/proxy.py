"""Would each endpoint's requests go through a proxy? Decided from the variables, no traffic.

Two rules, because clients disagree (measured; see ECS_FACTS.md):
- ``strict``: Python's urllib (``proxy_bypass_environment``), which botocore uses for
  IMDS and STS: NO_PROXY entries match host names and domain suffixes only; a CIDR such
  as 169.254.0.0/16 is *not* understood.
- ``cidr``: requests, curl >= 7.86 and Go's net/http also accept CIDR entries.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from probe import redact


def proxies_from(environ: Mapping[str, str]) -> dict[str, str]:
    """urllib.request.getproxies_environment, over a given mapping instead of os.environ."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        lname = name.lower()
        if value and lname.endswith("_proxy"):
            proxies[lname[:-6]] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    # Lower-case variables win, as in urllib.
    for name, value in environ.items():
        if name.endswith("_proxy") and name == name.lower():
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def _cidr_bypass(host: str, no_proxy: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    for entry in no_proxy.replace(" ", "").split(","):
        if "/" in entry:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def route(url: Optional[str], proxies: Mapping[str, str]) -> Optional[dict[str, Any]]:
    """How one URL would be sent: the proxy that applies and whether each rule bypasses it."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return None
    scheme_proxy = proxies.get(parts.scheme)
    any_proxy = scheme_proxy or proxies.get("all")
    no_proxy = proxies.get("no", "")
    if proxies:
        import urllib.request  # only with proxies set: about 5 ms of every start otherwise

        strict = bool(urllib.request.proxy_bypass_environment(netloc, dict(proxies)))  # type: ignore[attr-defined]
    else:
        strict = True
    cidr = strict or _cidr_bypass(host, no_proxy)
    return {
        "host": host,
        "proxy": redact.mask_url(scheme_proxy),
        "proxy_any": redact.mask_url(any_proxy),
        "bypassed_strict": strict,
        "bypassed_cidr": cidr,
        # Through a proxy for urllib/botocore-style clients (scheme variable only).
        "proxied_strict": bool(scheme_proxy) and not strict,
        # Through a proxy for clients that also use ALL_PROXY and understand CIDRs.
        "proxied_cidr": bool(any_proxy) and not cidr,
    }


def collect_proxy(environ: Mapping[str, str], targets: Mapping[str, Optional[str]]) -> dict[str, Any]:
    """Routes for each named endpoint URL (values are real URLs; only masked forms are kept)."""
    proxies = proxies_from(environ)
    return {
        "configured": sorted(k for k in proxies if k != "no"),
        "no_proxy": proxies.get("no"),
        "routes": {name: route(url, proxies) for name, url in targets.items()},
    }
