"""Refuse connections to 169.254.0.0/16 from the machine's own network namespace.

On the machines that run these tests, the link-local addresses outside a network
namespace belong to the hosting infrastructure. The test process installs this guard
itself (conftest.py); child processes get it through sitecustomize.py on PYTHONPATH.
Every refused attempt is also appended to $PROBE_TEST_GUARD_LOG, which an autouse
fixture checks after each test, so a violation fails the test even when the code
under test swallows the error.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"), ipaddress.ip_network("fd00:ec2::/32"))


def _host_netns() -> str:
    return os.environ.get("PROBE_TEST_HOST_NETNS", "")


def outside_test_namespace() -> bool:
    """True when this process shares the network namespace the test run started in."""
    try:
        return os.readlink("/proc/self/ns/net") == _host_netns()
    except OSError:
        return True


def _forbidden(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return False
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
    except ValueError:
        return False
    return any(ip in net for net in LINK_LOCAL) and outside_test_namespace()


def _refuse(address: Any) -> None:
    log = os.environ.get("PROBE_TEST_GUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"pid {os.getpid()} tried to connect to {address[0]} outside a test network namespace\n")
    raise PermissionError(f"network guard: {address[0]} is off limits outside a test network namespace")


def install() -> None:
    if getattr(socket.socket, "_probe_guarded", False):
        return
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if _forbidden(address):
            _refuse(address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if _forbidden(address):
            _refuse(address)
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket._probe_guarded = True  # type: ignore[attr-defined]
