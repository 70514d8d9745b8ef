"""The botocore internals the probe hands its single observation through (issue 13).

Run against the newest botocore (the suite's venv) and the lowest the package declares
(.ci/run's lowest-versions pass runs this file too): the hook must exist in both. When a
botocore release renames them, the probe says so loudly instead of letting botocore ask
the rate-limited credentials endpoint a second time."""

from __future__ import annotations

from pathlib import Path

import botocore
from botocore.credentials import ContainerProvider

from probe.checks import REGISTRY, load
from probe.facts.identity import hook_problem
from probe.model import Status
from test_checks import make_facts

load("task")


def test_the_hook_exists_in_this_botocore() -> None:
    assert hook_problem(ContainerProvider()) is None, botocore.__version__


def test_a_missing_hook_is_loud(tmp_path: Path) -> None:
    class Renamed(ContainerProvider):
        def __init__(self) -> None:
            super().__init__()
            del self._fetcher

    problem = hook_problem(Renamed())
    assert problem == "ContainerProvider has no _fetcher attribute"
    assert hook_problem(None) == "the default chain has no 'container-role' provider"
    record = {"provider": None, "tried": [], "hook_error": f"botocore 9.9.9: {problem}", "chain_error": "not resolved", "chain_error_provider": "hook"}
    out = REGISTRY["identity.caller"].fn(make_facts(tmp_path, records={"identity": record}))
    assert out.status is Status.ERROR and "_fetcher" in out.detail and "second" in out.detail
