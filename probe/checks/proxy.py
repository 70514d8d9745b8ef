"""Proxy checks: would requests to the link-local endpoints go through a proxy?"""

from __future__ import annotations

from probe.checks import Outcome, check, failed, passed, remedies, skipped, warned
from probe.facts import Facts

# Measured and read in the sources (ECS_FACTS.md): who honours proxy variables for the
# container credentials endpoint.
HONOUR_PROXY = "curl, wget, the Go, Java, JavaScript (Node) and .NET SDKs and Python requests"
IGNORE_PROXY = "botocore/boto3 and the AWS CLI"


def _affected_sdks(f: Facts) -> str:
    """Which SDKs found in the image (when scanned) honour the proxy for this endpoint."""
    from probe.checks.sdk import HONOUR_PROXY, MINIMUMS

    found = f.get("sdk").get("found") or []
    if not f.has("sdk"):
        return ""
    hit = sorted({f"{MINIMUMS[e['sdk']][0]} {e.get('version') or ''}".strip() for e in found if e.get("sdk") in HONOUR_PROXY})
    if hit:
        return " Affected SDKs in this image: " + ", ".join(hit) + "."
    return " No SDK found in this image honours the proxy for this endpoint (only botocore-based ones were found)." if found else ""


@check("proxy.credentials-endpoint", mode="task", title="Credentials endpoint bypasses the proxy")
def credentials_endpoint(f: Facts) -> Outcome:
    """Guarantees: fails when a proxy variable applies to the credentials URL and NO_PROXY
    does not name its host in a form every client understands (CIDR ranges are not)."""
    px = f.get("proxy")
    route = (px.get("routes") or {}).get("credentials")
    if not route:
        return skipped("Credentials endpoint bypasses the proxy", "no credentials URL to route (see env.credentials-variable)")
    if not route.get("proxy_any"):
        return passed("No proxy applies to the credentials endpoint", "no HTTP_PROXY / ALL_PROXY is set")
    host = route["host"]
    if route.get("bypassed_strict"):
        return passed(f"NO_PROXY bypasses the proxy for {host}", f"NO_PROXY={px.get('no_proxy')}")
    if route.get("bypassed_cidr"):
        detail = (
            f"NO_PROXY={px.get('no_proxy')} covers {host} only as a CIDR range: curl and Go honour it, "
            "but Python's urllib and several SDKs do not and send the request to the proxy "
            f"{route.get('proxy') or route.get('proxy_any')}."
        )
    elif not route.get("proxy"):
        detail = (
            f"Only ALL_PROXY ({route.get('proxy_any')}) applies: curl and Python requests send requests to {host} "
            "through it; Go, botocore and urllib ignore ALL_PROXY."
        )
    else:
        no_proxy = px.get("no_proxy")
        detail = (
            f"Requests to {host} go to the proxy {route.get('proxy') or route.get('proxy_any')} "
            + (f"(NO_PROXY={no_proxy} does not name {host})" if no_proxy else "(NO_PROXY is not set)")
            + f" in {HONOUR_PROXY}; the proxy cannot reach the task's endpoint, so they fail or get another "
            f"answer. {IGNORE_PROXY} ignore proxies for this endpoint."
        )
    detail += _affected_sdks(f)
    remedy = remedies.NO_PROXY
    if host not in ("169.254.170.2", "169.254.169.254"):
        remedy += f" Add {host} too."
    return failed(f"The credentials endpoint {host} would go through a proxy", detail, remedy, host=host)


@check("proxy.metadata-endpoints", mode="task", title="Metadata endpoints bypass the proxy")
def metadata_endpoints(f: Facts) -> Outcome:
    """Guarantees: warns when IMDS or the task metadata host would go through a proxy for
    urllib-style clients (botocore honours proxies for IMDS and STS)."""
    px = f.get("proxy")
    routes = px.get("routes") or {}
    proxied = []
    for name, label in (("imds", "IMDS"), ("metadata", "task metadata v4")):
        route = routes.get(name)
        if route and route.get("proxy_any") and not route.get("bypassed_strict"):
            proxied.append(f"{label} ({route['host']})")
    if not px.get("configured"):
        return passed("No proxy is configured", "")
    if not proxied:
        return passed("Metadata endpoints bypass the proxy", f"NO_PROXY={px.get('no_proxy')}")
    return warned(
        "Metadata endpoints would go through a proxy: " + ", ".join(proxied),
        "botocore and most SDKs honour proxy variables for IMDS and task metadata; through a proxy they "
        "time out or reach the proxy's own metadata.",
        remedies.NO_PROXY,
        endpoints=proxied,
    )
