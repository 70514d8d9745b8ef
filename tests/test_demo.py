"""`probe demo`: the main job a newcomer runs first. Everything on loopback."""

from __future__ import annotations

import re

from helpers import clean_env, run_probe
from probe.demo import SCENARIOS
from probe.render.text import SHARED_FIXES


def test_demo_text_runs_every_scenario(home: str) -> None:
    run = run_probe(["demo", "--no-color"], clean_env(home))
    assert run.rc == 0, run.stdout[-2000:]
    total = len(SCENARIOS) + 1
    for i, scenario in enumerate(SCENARIOS, 1):
        assert f"Scenario {i}/{total}: {scenario.name}" in run.stdout
    # The proxy scenario warns: boto3 (the SDK the demo runs) never proxies the credentials request.
    # The audit scenario (moto is installed with the tests) fails on its three seeded findings.
    assert f"Scenario {total}/{total}: audit (probe audit)" in run.stdout
    # The demo checks the cause each scenario names, not only its verdict.
    causes = [line.rstrip(")").rsplit("(", 1)[-1] for line in run.stdout.splitlines() if line.startswith("Cause:")]
    assert causes == [s.cause for s in SCENARIOS if s.cause]
    # A fix is said once per report, then referred to: the reports' wrapped text, unwrapped.
    for block in run.stdout.split("=" * 100)[2:-1:2]:
        prose = re.sub(r"\s+", " ", block)
        for paragraph in SHARED_FIXES:
            assert prose.count(paragraph) <= 1, paragraph[:60]
    assert "fix: See the fix under Cause above." in run.stdout
    assert run.stdout.count("Verdict: FAIL") == 4 and run.stdout.count("Verdict: PASS") == 1 and run.stdout.count("Verdict: WARN") == 1
    assert "each diagnosed as expected" in run.stdout
    assert "The SDK uses the EC2 instance role, not the task role" in run.stdout


def test_demo_json_and_selection(home: str) -> None:
    run = run_probe(["demo", "static-keys", "healthy", "--json"], clean_env(home))
    doc = run.report
    assert doc["mismatches"] == []
    assert [d["scenario"] for d in doc["demo"]] == ["static-keys", "healthy"]
    static = doc["demo"][0]["report"]
    assert static["identity"]["kind"] == "user" and static["identity"]["arn"] == "arn:aws:iam::123456789012:user/ci-deploy"
    assert doc["demo"][1]["report"]["verdict"] == "pass"
    # The JSON report keeps every fix whole: the text report refers back, the JSON does not.
    fixes = [c["remedy"] for c in static["checks"] if c.get("remedy")]
    assert fixes and all("As for" not in fix for fix in fixes)


def test_demo_list_and_unknown(home: str) -> None:
    run = run_probe(["demo", "--list"], clean_env(home))
    assert [line.split()[0] for line in run.stdout.splitlines()] == [s.name for s in SCENARIOS] + ["audit"]
    run = run_probe(["demo", "nope"], clean_env(home))
    assert run.rc == 2 and "unknown scenario nope" in run.stderr
