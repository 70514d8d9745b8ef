"""Are the AWS SDKs in the image new enough for the credentials source in use?"""

from __future__ import annotations

from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from probe.checks import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

# sdk key -> (display name, minimum for RELATIVE_URI, minimum for FULL_URI + token file).
# None: never supported. Sources: ECS_FACTS.md (SDK table).
MINIMUMS: dict[str, tuple[str, Optional[str], Optional[str]]] = {
    "botocore": ("botocore (boto3, AWS CLI)", "1.4.37", "1.32.0"),
    "boto3": ("boto3", "1.4.0", "1.34.41"),
    "boto": ("boto 2", None, None),
    "awscli-v1": ("AWS CLI v1", "1.10.47", "1.30.0"),
    "awscli-v2": ("AWS CLI v2", "2.0.0", "2.15.0"),
    "java-v1": ("AWS SDK for Java 1.x", "1.11.16", "1.12.746"),
    "java-v2": ("AWS SDK for Java 2.x", "2.0.0", "2.21.30"),
    "js-v2": ("AWS SDK for JavaScript v2", "2.4.7", "2.1550.0"),
    "js-v3-credential-provider-node": ("AWS SDK for JavaScript v3 (credential-provider-node)", "3.0.0", "3.503.1"),
    "js-v3-credential-provider-http": ("AWS SDK for JavaScript v3 (credential-provider-http)", "3.0.0", "3.458.0"),
    "go-v1": ("AWS SDK for Go v1", "1.2.5", "1.47.11"),
    "go-v2-config": ("AWS SDK for Go v2 (config)", "0.1.0", "1.25.0"),
    "go-v2-credentials": ("AWS SDK for Go v2 (credentials)", "0.1.0", "1.16.0"),
    "ruby": ("AWS SDK for Ruby (aws-sdk-core)", "2.3.22", "3.188.0"),
    "php": ("AWS SDK for PHP", "3.18.28", "3.287.1"),
    "dotnet": ("AWS SDK for .NET (AWSSDK.Core)", "3.1.6", "3.7.302"),
    "powershell": ("AWS Tools for PowerShell", "0.0.1", "4.1.502"),
    "cpp": ("AWS SDK for C++", "0.12.19", "1.11.263"),
    "go-unversioned": ("an AWS SDK in a Go binary built without module versions", None, None),
}
# Clients that honour proxy variables for the container credentials endpoint.
HONOUR_PROXY = {"go-unversioned", "java-v1", "java-v2", "js-v2", "js-v3-credential-provider-node", "js-v3-credential-provider-http",
                "go-v1", "go-v2-config", "go-v2-credentials", "dotnet", "powershell"}
SHOWN = 10


def source_in_use(f: Facts) -> str:
    env = f.get("environ")
    target = env.get("credentials_target") or {}
    token = env.get("authorization_token") or {}
    if target.get("source") == "full" and token.get("source"):
        return "full"
    return "relative"


def verdict_for(entry: dict[str, Any], source: str) -> tuple[str, str]:
    """('fail'|'warn'|'pass', why) for one SDK found on disk."""
    name, min_rel, min_full = MINIMUMS.get(entry.get("sdk", ""), (entry.get("sdk", "?"), None, None))
    version = entry.get("version")
    if entry.get("sdk") == "boto":
        return "fail", f"{name} at {entry['path']} never supports container credentials"
    features = entry.get("features")
    if isinstance(features, dict):  # judged by the variable names the binary reads
        if source == "full" and not features.get("token_file"):
            return "fail", f"{name} at {entry['path']} never reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (too old for it)"
        return "pass", f"{name} at {entry['path']} (reads the container credentials variables)"
    if not version:
        return "warn", f"{name} at {entry['path']}: version unreadable"
    try:
        have = Version(version)
    except InvalidVersion:
        return "warn", f"{name} {version} at {entry['path']}: version not understood"
    need = min_full if source == "full" else min_rel
    what = "AWS_CONTAINER_CREDENTIALS_FULL_URI with a token file" if source == "full" else "the ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
    if need is not None and have < Version(need):
        return "fail", f"{name} {version} at {entry['path']} is older than {need}, the first to support {what}"
    return "pass", f"{name} {version}"


@check("sdk.versions", mode="task", title="AWS SDKs support the credentials source", needs=("sdk",))
def versions(f: Facts) -> Outcome:
    """Guarantees: fails when an AWS SDK found on disk is older than the first version that
    supports the credentials source in use; warns when a version is unreadable or the scan
    was cut short; boto 2 always fails."""
    rec = f.get("sdk")
    title = "AWS SDKs support the credentials source"
    if rec.get("deadline_exceeded") or rec.get("collector_error"):
        return warned(title + ": scan incomplete", rec.get("error") or rec.get("collector_error", ""), "Run `probe sdk` with a longer --deadline.")
    found = rec.get("found") or []
    roots = ", ".join(rec.get("roots") or [])
    scanned = f"{rec.get('files', 0)} files in {roots}"
    if not found:
        if rec.get("partial"):
            return warned(title + ": scan incomplete", f"no AWS SDK found before the scan stopped ({rec['partial']}; {scanned})", "Run `probe sdk` with a longer --deadline.")
        return skipped(title, f"no AWS SDK found ({scanned})")
    source = source_in_use(f)
    judged = [(e, *verdict_for(e, source)) for e in found]
    fails = [why for _e, v, why in judged if v == "fail"]
    warns = [why for _e, v, why in judged if v == "warn"]
    fine = [why for _e, v, why in judged if v == "pass"]
    data = {"source": source, "sdks": [{"sdk": e["sdk"], "version": e.get("version"), "path": e["path"], "verdict": v} for e, v, _ in judged]}
    partial = f" The scan stopped early ({rec['partial']})." if rec.get("partial") else ""
    if fails:
        return failed(
            f"{len(fails)} AWS SDK{'s are' if len(fails) != 1 else ' is'} too old for the credentials source",
            "; ".join(fails[:SHOWN]) + (f"; and {len(fails) - SHOWN} more" if len(fails) > SHOWN else "") + "."
            + (" Also: " + "; ".join(warns[:SHOWN]) + "." if warns else "") + partial,
            "Upgrade these SDKs (and the application's lock files) to at least the versions named; boto 2 must be "
            "replaced by boto3. Old SDKs ignore the container credentials and use the EC2 instance role.",
            **data,
        )
    if warns or rec.get("partial"):
        return warned(
            f"AWS SDKs found; {len(warns)} with an unreadable version" if warns else title + ": scan incomplete",
            "; ".join((warns + fine)[:SHOWN]) + "." + partial,
            "Check these SDKs' versions by hand, or run `probe sdk` with a longer --deadline.",
            **data,
        )
    return passed(f"{len(fine)} AWS SDK{'s' if len(fine) != 1 else ''} new enough", "; ".join(fine[:SHOWN]) + f" ({scanned})", **data)
