"""Proxy checks: would requests to the link-local endpoints go through a proxy?

Each client reads the proxy variables its own way (probe/sdkmodel.py PROXY_RULES): a
verdict about the credentials endpoint is about the SDKs found in the image, never a
blanket rule. With no SDK found, any client might be the application's: the strictest
reading applies.
"""

from __future__ import annotations

from typing import Any, Optional

from probe import predict
from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

# With no SDK found: who honours proxy variables for the credentials endpoint (measured
# and read in the sources; see docs/SDK_MODEL.md).
HONOUR_PROXY = "curl, wget, the Go SDKs and Python requests"


def _sdks(f: Facts) -> Optional[list[dict[str, Any]]]:
    """The per-SDK predictions, or None when no scan ran or it found nothing."""
    rec = f.get("sdk")
    if not f.has("sdk") or rec.get("deadline_exceeded") or rec.get("collector_error"):
        return None
    found = predict.predict_all(f)
    return found or None


def _name(s: dict[str, Any]) -> str:
    return f"{s['title']}{' ' + s['version'] if s.get('version') else ''} at {s['path']}"


@check("proxy.credentials-endpoint", mode="task", title="Credentials endpoint bypasses the proxy", needs=("sdk",))
def credentials_endpoint(f: Facts) -> Outcome:
    """Guarantees: fails when an SDK found in the image would send its credentials request
    through a proxy, read with that SDK's own rules (variable names and case, NO_PROXY
    CIDR and port entries); with no SDK found, fails when a proxy applies and NO_PROXY does
    not name the host in a form every client understands; warns when a proxy applies but
    every SDK found ignores it for this endpoint (curl and wget would not)."""
    px = f.get("proxy")
    route = (px.get("routes") or {}).get("credentials")
    if not route:
        return skipped("Credentials endpoint bypasses the proxy", "no credentials URL to route (see env.credentials-variable)")
    host = route["host"]
    url = (f.get("environ").get("credentials_target") or {}).get("url")
    remedy = remedies.NO_PROXY + ("" if host in ("169.254.170.2", "169.254.169.254") else f" Add {host} too.")
    sdks = _sdks(f)
    if sdks is not None:
        # Only the SDKs that ask the credentials endpoint itself: one that predates the
        # container provider (botocore 1.4.36) never does, whatever the proxy does to its IMDS.
        via = [s for s in sdks if "credentials-endpoint" in (s.get("proxied") or [])]
        clients = predict.clients_via_proxy(url, f)
        if via:
            return failed(
                f"{len(via)} AWS SDK{'s' if len(via) != 1 else ''} in this image would send the credentials request to a proxy",
                "; ".join(f"{_name(s)}: {s['why']}" for s in via[:8])
                + f". The proxy cannot reach the task's endpoint {host}: those SDKs fail or get another identity.",
                remedy,
                host=host,
                sdks=[s["path"] for s in via],
            )
        if not route.get("proxy_any") and not clients:
            return passed("No proxy applies to the credentials endpoint", "no HTTP_PROXY / ALL_PROXY is set")
        ignoring = "; ".join(_name(s) for s in sdks[:8])
        if not clients:
            return passed(
                f"Every client bypasses the proxy for {host}",
                f"NO_PROXY={px.get('no_proxy')}: the SDKs found ({ignoring}), curl, wget and Go all go direct.",
            )
        return warned(
            f"A proxy applies to {host}, but every SDK found ignores it for this endpoint",
            f"The SDKs found go direct: {ignoring}. These clients would send requests to {host} through the proxy "
            f"{route.get('proxy') or route.get('proxy_any')}: {'; '.join(clients)}. Testing the endpoint by hand "
            "with curl or wget, or an SDK added later that honours proxy variables, would fail.",
            remedy,
            host=host,
            clients=clients,
        )
    if not route.get("proxy_any"):
        return passed("No proxy applies to the credentials endpoint", "no HTTP_PROXY / ALL_PROXY is set")
    if route.get("bypassed_strict"):
        return passed(f"NO_PROXY bypasses the proxy for {host}", f"NO_PROXY={px.get('no_proxy')}")
    if route.get("bypassed_cidr"):
        detail = (
            f"NO_PROXY={px.get('no_proxy')} covers {host} only as a CIDR range: curl and Go honour it, "
            "but Python's urllib and wget do not and send the request to the proxy "
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
            + f" in {HONOUR_PROXY}; the proxy cannot reach the task's endpoint, so they fail or get another answer."
        )
    detail += " No AWS SDK was found in the image to tell which client the application uses."
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
        "botocore's and the Go SDKs' IMDS requests, and most HTTP clients, honour proxy variables; through a "
        "proxy they time out or reach the proxy's own metadata.",
        remedies.NO_PROXY,
        endpoints=proxied,
    )
