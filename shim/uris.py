"""Which credentials URLs may be requested: the one rule, shared by the shim and the probe.

Standard library only (the shim must stay light). Mirrors botocore: a relative URI is
appended to http://169.254.170.2 and must be a plain absolute path; a full URI must be
https, or plain http to a loopback address or one of the known link-local hosts.
"""

from __future__ import annotations

import re

ECS_CREDENTIALS_HOST = "169.254.170.2"
# botocore >= 1.32.0 (ContainerMetadataFetcher._ALLOWED_HOSTS) plus any loopback IP.
FULL_URI_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")
PLAIN_PATH = re.compile(r"^/(?!/)[A-Za-z0-9\-._~%/]*(\?[A-Za-z0-9\-._~%=&]*)?$")


def is_loopback(host: str) -> bool:
    import ipaddress  # only --wait and the probe ask: not on the shim's usual start

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def full_uri_accepted(scheme: str, host: str) -> bool:
    """Would the SDKs request a full URI with this scheme and host?"""
    if scheme == "https":
        return bool(host)
    return scheme == "http" and (host in FULL_URI_HOSTS or is_loopback(host))
