"""Per-SDK truth (issue 9): the probe's prediction for each AWS SDK it finds (`sdks[].gets` in
`probe --json`) equals what that real SDK gets in the same emulated task.

For each SDK x situation: run the SDK's tiny "who am I" client (tests/sdk_matrix/clients/,
installed by tests/sdk_matrix/setup.sh) inside the test's network namespace with the task's
environment; classify the ARN STS answered (task-role / instance-role / user / none on error);
assert it is still what tests/sdk_matrix/matrix.py TRUTH_TABLE says (so a change in an SDK is
noticed); then run the probe with the same environment and `--sdk-root` pointing at that SDK's
folder and assert its entry says the same. A proxy (tests/sdk_matrix/proxy.py, 502 for
169.254.0.0/16, as a real proxy outside the task) listens on the namespace's 127.0.0.1:3128; in
the proxy situations the entry's `via_proxy` must say whether the SDK really sent a link-local
request through it.

Issue 18 (profiles, role chaining, leftover web identity, credential_process): STS answers
under its real names too (sts.amazonaws.com, sts.us-east-1.amazonaws.com: helpers.NetnsHost's
/etc/hosts and TLS on the namespace's 127.0.0.1:443, a CA only the clients trust), so SDKs
that ignore AWS_ENDPOINT_URL_STS can assume roles. An other-role outcome must be the role
TRUTH_TABLE names. The probe never runs a credential_process it reads: where the real SDK ran
it (its marker file appeared), the probe may say `gets: "unknown"` with `source: "process"`
instead of what the process gave; where the SDK did not run it, the probe must not name
`process` as the source; and the probe itself must never run it.

Issue 21: the releases where the container code changed (aws-sdk 2.62.0/2.63.0, @aws-sdk v3 at
3.186.0, 3.423.0 and 3.503.1, botocore 1.32.0, the AWS CLI v1 1.30.0, Go v2 and AsyncAws from
Debian) and the container variables real tasks meet: FULL_URI on loopback with the token
variable, a leftover FULL_URI beside RELATIVE_URI (its role, leftoverRole, served by a second
emulator in tests/nshost.py), a token file ending in a newline, AWS_EC2_METADATA_DISABLED.

Needs root (ip netns) and the SDKs (bash tests/sdk_matrix/setup.sh): skipped locally without
them, a failure in CI.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterator

import pytest

from helpers import NetnsHost, clean_env, netns_available, need, run_probe
from sdk_matrix.matrix import (
    RESET,
    SITUATIONS,
    TOKEN,
    Outcome,
    ProxyProc,
    Sdk,
    Situation,
    process_marker,
    run_client,
    sdks,
    truth,
    truth_roles,
)

pytestmark = [pytest.mark.netns, pytest.mark.sdkmatrix]

SDKS = {s.id: s for s in sdks()}
SITS = {s.id: s for s in SITUATIONS}
TRUTH = truth()
TRUTH_ROLES = truth_roles()
# Situations with a credential_process the SDK may run (and the probe must not).
PROCESS_SITUATIONS = {"credential-process"}
# The `sdk` values the probe may report for an SDK's default chain (the scanner names JS v3 by
# the package that holds the chain).
SDK_KEYS = {"js-v3": ("js-v3", "js-v3-credential-provider-node"), "go-v2": ("go-v2", "go-v2-config")}

CASES = [pytest.param(sdk_id, sit.id, id=f"{sdk_id}-{sit.id}") for sit in SITUATIONS for sdk_id in SDKS]


@pytest.fixture(scope="module")
def host() -> Iterator[NetnsHost]:
    why = netns_available()
    need(why is None, why or "")
    with NetnsHost() as h:
        yield h


@pytest.fixture(scope="module")
def proxy(host: NetnsHost) -> Iterator[ProxyProc]:
    p = ProxyProc(host.name, clean_env("/tmp"))
    try:
        yield p
    finally:
        p.close()


class Situations:
    """Per situation: one home and environment, and one probe run shared by its SDKs."""

    def __init__(self) -> None:
        self.homes: dict[str, tuple[str, dict[str, str]]] = {}
        self.reports: dict[str, Any] = {}
        self.tmp = tempfile.TemporaryDirectory(prefix="sdk-matrix-")

    def env(self, host: NetnsHost, sit: Situation) -> dict[str, str]:
        if sit.id not in self.homes:
            home = os.path.join(self.tmp.name, sit.id)
            os.makedirs(home)
            self.homes[sit.id] = (home, sit.env(host, home))
        return dict(self.homes[sit.id][1])

    def report(self, host: NetnsHost, sit: Situation) -> dict[str, Any]:
        """The probe once per situation, with every installed SDK's folder as a root."""
        if sit.id not in self.reports:
            args = ["--json", "--deadline", "8"]
            for s in SDKS.values():
                if not s.missing:
                    args += ["--sdk-root", s.root]
            env = self.env(host, sit)
            marker = process_marker(env)
            if os.path.exists(marker):  # left by the SDK client run before
                os.unlink(marker)
            run = run_probe(args, env, netns=host.name, secrets=[*host.secrets(), TOKEN])
            assert not os.path.exists(marker), "the probe ran the credential_process it read in ~/.aws/config"
            self.reports[sit.id] = run.report
        return self.reports[sit.id]


@pytest.fixture(scope="module")
def situations() -> Iterator[Situations]:
    s = Situations()
    yield s
    s.tmp.cleanup()


def set_state(host: NetnsHost, sit: Situation) -> None:
    host.set(**RESET)
    if sit.host:
        host.set(**sit.host)


def entry_for(report: dict[str, Any], sdk: Sdk) -> dict[str, Any]:
    assert "sdks" in report, "probe --json has no `sdks` list (issue 9: per-SDK predictions)"
    keys = SDK_KEYS.get(sdk.sdk, (sdk.sdk,))
    root = sdk.root.rstrip("/") + "/"
    found = [e for e in report["sdks"] if e.get("sdk") in keys and str(e.get("path", "")).startswith(root)]
    assert found, f"no {keys} entry under {root} in probe's sdks: {[(e.get('sdk'), e.get('path')) for e in report['sdks']]}"
    if len(found) > 1:  # e.g. js-v3 and its credential-provider-node: they must agree
        assert len({e.get("gets") for e in found}) == 1, f"entries for {sdk.id} disagree: {found}"
    return found[0]


def used_proxy_for_link_local(out: Outcome) -> bool:
    return any(host.startswith("169.254.") for host in out.proxied)


@pytest.mark.parametrize("sdk_id, sit_id", CASES)
def test_probe_predicts_what_the_sdk_gets(host: NetnsHost, proxy: ProxyProc, situations: Situations, sdk_id: str, sit_id: str) -> None:
    sdk, sit = SDKS[sdk_id], SITS[sit_id]
    need(sdk.missing is None, sdk.missing or "")
    set_state(host, sit)
    env = situations.env(host, sit)

    real = run_client(host.name, sdk, env, proxy, host=host)
    expected = TRUTH[(sdk_id, sit_id)]
    assert real.gets == expected, (
        f"the real {sdk.id} {sdk.version} no longer gets what TRUTH_TABLE says ({expected}): {real.describe()}\n{real.raw[-1500:]}"
    )
    if expected == "other-role":
        assert real.role == TRUTH_ROLES[(sdk_id, sit_id)], (
            f"the real {sdk.id} {sdk.version} assumed {real.role}, TRUTH_TABLE says {TRUTH_ROLES[(sdk_id, sit_id)]}: {real.describe()}"
        )

    report = situations.report(host, sit)
    entry = entry_for(report, sdk)
    if sit_id in PROCESS_SITUATIONS:
        if real.ran_process and entry.get("gets") == "unknown" and entry.get("source") == "process":
            return  # the probe does not run the program: what it gives is unknown to it
        if not real.ran_process:
            assert entry.get("source") != "process", (
                f"probe says {sdk.id} {entry.get('version')} gets its credentials from the credential_process; "
                f"the real SDK never ran it and got {real.gets}: {real.describe()}\nwhy: {entry.get('why')}"
            )
    assert entry.get("gets") == real.gets, (
        f"probe says {sdk.id} {entry.get('version')} gets {entry.get('gets')!r} (source {entry.get('source')!r}), "
        f"the real SDK got {real.gets}: {real.describe()}\nwhy: {entry.get('why')}"
    )
    if any(k.lower() == "http_proxy" for k in env):
        assert entry.get("via_proxy") == used_proxy_for_link_local(real), (
            f"probe says via_proxy={entry.get('via_proxy')!r} for {sdk.id}; the proxy saw {real.proxied or 'nothing'}\nwhy: {entry.get('why')}"
        )
