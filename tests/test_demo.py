"""`probe demo`: the main job a newcomer runs first. Everything on loopback."""

from __future__ import annotations

from helpers import clean_env, run_probe
from probe.demo import SCENARIOS


def test_demo_text_runs_every_scenario(home: str) -> None:
    run = run_probe(["demo", "--no-color"], clean_env(home))
    assert run.rc == 0, run.stdout[-2000:]
    for i, scenario in enumerate(SCENARIOS, 1):
        assert f"Scenario {i}/{len(SCENARIOS)}: {scenario.name}" in run.stdout
    # The proxy scenario warns: boto3 (the SDK the demo runs) never proxies the credentials request.
    # The audit scenario (moto is installed with the tests) fails on its three seeded findings.
    assert "Scenario audit (probe audit)" in run.stdout
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


def test_demo_list_and_unknown(home: str) -> None:
    run = run_probe(["demo", "--list"], clean_env(home))
    assert [line.split()[0] for line in run.stdout.splitlines()] == [s.name for s in SCENARIOS] + ["audit"]
    run = run_probe(["demo", "nope"], clean_env(home))
    assert run.rc == 2 and "unknown scenario nope" in run.stderr
