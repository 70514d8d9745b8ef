"""The AWS SDKs in the image: new enough for the credentials source, and what each would
really get here (its row of the behaviour model, probe/sdkmodel.py, run over the facts)."""

from __future__ import annotations

from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from probe import predict, sdkmodel
from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

SHOWN = 10


def _title(key: str) -> str:
    rows = sdkmodel.rows_for(key)
    return rows[0].title if rows else key


def source_in_use(f: Facts) -> str:
    """"relative", "full" (the full URI, the token in the variable or none) or "full-token-file"."""
    env = f.get("environ")
    target = env.get("credentials_target") or {}
    token = env.get("authorization_token") or {}
    if target.get("source") == "full":
        return "full-token-file" if token.get("source") == "file" else "full"
    return "relative"


# What each source needs of an SDK, and how to name it.
NEEDS = {
    "relative": ("min_relative", "the ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"),
    "full": ("min_full_uri", "AWS_CONTAINER_CREDENTIALS_FULL_URI (and the token variable)"),
    "full-token-file": ("min_token_file", "AWS_CONTAINER_CREDENTIALS_FULL_URI with a token file"),
}


def first_supporting(row: sdkmodel.SdkBehaviour, source: str) -> Optional[str]:
    """The first version of this row's SDK that supports the source (the token variable
    comes with the full URI; the token file later)."""
    return getattr(row, NEEDS[source][0]) or row.min_relative


def verdict_for(entry: dict[str, Any], source: str) -> tuple[str, str]:
    """('fail'|'warn'|'pass', why) for one SDK found on disk, by the model's minimums."""
    key = str(entry.get("sdk", ""))
    name = _title(key)
    version = entry.get("version")
    rows = sdkmodel.rows_for(key)
    if key == "boto":
        return "fail", f"{name} at {entry['path']} never supports container credentials"
    features = entry.get("features")
    if isinstance(features, dict):  # judged by the variable names the binary reads
        if source == "full-token-file" and not features.get("token_file"):
            return "fail", f"{name} at {entry['path']} never reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (too old for it)"
        return "pass", f"{name} at {entry['path']} (reads the container credentials variables)"
    if not version:
        return "warn", f"{name} at {entry['path']}: version unreadable"
    try:
        have = Version(version)
    except InvalidVersion:
        return "warn", f"{name} {version} at {entry['path']}: version not understood"
    if not rows:
        return "warn", f"{name} {version} at {entry['path']}: no behaviour model for it"
    row = rows[0]
    need = first_supporting(row, source) if source != "full-token-file" or row.min_token_file else None
    if source == "full-token-file" and row.min_token_file is None:
        return "fail", f"{name} {version} at {entry['path']} never reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
    what = NEEDS[source][1]
    if need is not None and have < Version(need):
        return "fail", f"{name} {version} at {entry['path']} is older than {need}, the first to support {what}"
    return "pass", f"{name} {version}"


def _usage(f: Facts) -> tuple[bool, bool]:
    """(roots were named by the user, a process survey exists)."""
    survey = f.get("processes")
    return bool(f.get("sdk").get("named_roots")), bool(survey.get("available"))


def _in_use_paths(f: Facts) -> Optional[set[str]]:
    """Paths of SDKs that count as in use; None when every SDK found counts."""
    named, survey = _usage(f)
    if named or not survey:
        return None
    used: set[str] = set()
    by_key: dict[str, list[dict[str, Any]]] = {}
    for s in predict.predict_all(f):
        by_key.setdefault(s["path"], []).append(s)
        if s["used_by"]:
            used.add(s["path"])
    # The parts judged with another line (credential-provider-http, Go v2 credentials,
    # boto3 beside its botocore) are in use when their neighbour is.
    import os

    used_dirs = {os.path.dirname(p) for p in used} | {predict.sdk_home({"path": p}) for p in used}
    for e in f.get("sdk").get("found") or []:
        path = str(e.get("path"))
        if path in used:
            continue
        if os.path.dirname(path) in used_dirs or predict.sdk_home(e) in used_dirs:
            used.add(path)
    return used


def _scan_problem(rec: dict[str, Any], title: str) -> Optional[Outcome]:
    if rec.get("deadline_exceeded") or rec.get("collector_error"):
        return warned(title + ": scan incomplete", rec.get("error") or rec.get("collector_error", ""), "Run `probe sdk` with a longer --deadline.")
    return None


@check("sdk.versions", mode="task", title="AWS SDKs support the credentials source", needs=("sdk",))
def versions(f: Facts) -> Outcome:
    """Guarantees: fails when an AWS SDK that a running process uses (or, without process
    information or under a root the user named, any found) is older than the first
    version supporting the credentials source in use; warns when only SDKs no process
    uses are, when a version is unreadable, or when the scan was cut short; boto 2
    counts as too old."""
    rec = f.get("sdk")
    title = "AWS SDKs support the credentials source"
    problem = _scan_problem(rec, title)
    if problem:
        return problem
    found = rec.get("found") or []
    roots = ", ".join(rec.get("roots") or [])
    scanned = f"{rec.get('files', 0)} files in {roots}"
    if not found:
        if rec.get("partial"):
            return warned(title + ": scan incomplete", f"no AWS SDK found before the scan stopped ({rec['partial']}; {scanned})", "Run `probe sdk` with a longer --deadline.")
        return skipped(title, f"no AWS SDK found ({scanned})")
    source = source_in_use(f)
    used = _in_use_paths(f)
    judged = [(e, *verdict_for(e, source)) for e in found]
    in_use = lambda e: used is None or str(e.get("path")) in used  # noqa: E731
    fails = [why for e, v, why in judged if v == "fail" and in_use(e)]
    idle = [why + " (no running process uses it)" for e, v, why in judged if v == "fail" and not in_use(e)]
    why_used = "" if used is not None else (" Named root: judged as in use." if _usage(f)[0] else " No process information: every SDK found is judged as in use.")
    warns = [why for _e, v, why in judged if v == "warn"]
    fine = [why for _e, v, why in judged if v == "pass"]
    data = {
        "source": source,
        "sdks": [{"sdk": e["sdk"], "version": e.get("version"), "path": e["path"], "verdict": v, "in_use": in_use(e)} for e, v, _ in judged],
    }
    partial = f" The scan stopped early ({rec['partial']})." if rec.get("partial") else ""
    upgrade = (
        "Upgrade these SDKs (and the application's lock files) to at least the versions named; boto 2 must be "
        "replaced by boto3. Old SDKs ignore the container credentials and use the EC2 instance role."
    )
    first = next((e for e, v, _w in judged if v == "fail" and in_use(e)), None)
    if first is not None and first.get("sdk") != "boto":
        rows = sdkmodel.rows_for(str(first.get("sdk")))
        need = first_supporting(rows[0], source) if rows else None
        if need:
            upgrade = (
                f"Upgrade {predict.PACKAGE.get(str(first.get('sdk')), _title(str(first.get('sdk'))))} in "
                f"{predict.sdk_home(first)} to {need} or later (and the application's lock file). " + upgrade
            )
    if fails:
        return failed(
            f"{len(fails)} AWS SDK{'s' if len(fails) != 1 else ''} in use {'are' if len(fails) != 1 else 'is'} too old for the credentials source",
            _join(fails) + why_used + (" Also: " + _join(idle + warns) if idle or warns else "") + partial,
            upgrade,
            **data,
        )
    if idle:
        return warned(
            f"{len(idle)} AWS SDK{'s' if len(idle) != 1 else ''} too old, but no running process uses {'them' if len(idle) != 1 else 'it'}",
            _join(idle + warns) + partial,
            "Nothing running is affected. Remove or upgrade them if an application may start them later "
            "(a vendored copy inside another tool is often harmless).",
            **data,
        )
    if warns or rec.get("partial"):
        return warned(
            f"AWS SDKs found; {len(warns)} with an unreadable version" if warns else title + ": scan incomplete",
            _join(warns + fine) + partial,
            "Check these SDKs' versions by hand, or run `probe sdk` with a longer --deadline.",
            **data,
        )
    return passed(f"{len(fine)} AWS SDK{'s' if len(fine) != 1 else ''} new enough", "; ".join(fine[:SHOWN]) + f" ({scanned})", **data)


def _join(items: list[str]) -> str:
    return "; ".join(items[:SHOWN]) + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "") + "."


def _line(s: dict[str, Any]) -> str:
    version = f" {s['version']}" if s.get("version") else ""
    users = f", used by pid {', '.join(str(p) for p in s['used_by'][:5])}" if s.get("used_by") else (
        f" ({s['in_use_reason']}: judged as in use)" if s.get("in_use_reason") in ("named root", "no process information") else ""
    )
    return f"{s['title']}{version} at {s['path']}{users} gets {predict.SAY_GETS.get(s['gets'], s['gets'])}: {s['why']}"


def _expected(f: Facts, s: dict[str, Any]) -> bool:
    """Does this SDK get the role the task should use (the task role, a role its profile
    assumes with the task role's credentials, or --expect-role)?"""
    return predict.expected(s, f.options.get("expect_role"))


@check("sdk.identity", mode="task", title="Every AWS SDK in use gets the task role", needs=("sdk", "processes", "credentials", "imds", "identity"))
def identity(f: Facts) -> Outcome:
    """Guarantees: fails when an SDK that a running process uses (or, without process
    information or under a root the user named, any found) would get something other
    than the task role (or --expect-role), by its row of the behaviour model; warns when
    only SDKs no process uses would, or when a prediction is unknown; skips when no SDK
    was found."""
    rec = f.get("sdk")
    title = "Every AWS SDK in use gets the task role"
    problem = _scan_problem(rec, title)
    if problem:
        return problem
    sdks = predict.predict_all(f)
    if not sdks:
        return skipped(title, f"no AWS SDK found ({rec.get('files', 0)} files in {', '.join(rec.get('roots') or [])})")
    named, survey = _usage(f)
    used = [s for s in sdks if predict.in_use(s, named, survey)]
    idle = [s for s in sdks if s not in used]
    bad = [s for s in used if not _expected(f, s) and s["gets"] != "unknown"]
    # The application's own SDK first: one a process runs, then the SDK itself before
    # the wrappers judged through it (boto3 and the CLI through their botocore).
    bad.sort(key=lambda s: (not s["used_by"], s["sdk"] in ("boto3", "awscli-v1")))
    unknown = [s for s in sdks if s["gets"] == "unknown"]
    idle_bad = [s for s in idle if not _expected(f, s) and s["gets"] != "unknown"]
    data = {"sdks": [{k: s[k] for k in ("sdk", "version", "path", "gets", "source", "used_by")} for s in sdks]}
    why_in_use = (
        ""
        if survey and not named
        else (" (named root: judged as in use; `probe sdk ROOT`, --sdk-root or PROBE_SDK_ROOT named the folder)" if named else " (no process information: every SDK found counts)")
    )
    if bad:
        first = bad[0]
        head = predict.describe(first) + f" would use {predict.SAY_GETS[first['gets']]}" if first["gets"] != "none" else predict.describe(first) + " would get no credentials"
        if f.options.get("expect_role") and first["gets"] == "task-role":
            head = predict.describe(first) + f" would use the task role, not the expected {f.options['expect_role']}"
        return failed(
            head + (f" (and {len(bad) - 1} more SDK{'s' if len(bad) != 2 else ''})" if len(bad) > 1 else ""),
            _join([_line(s) for s in bad]) + why_in_use,
            _remedy(f, bad),
            **data,
        )
    if idle_bad or unknown:
        parts = idle_bad + [s for s in unknown if s not in idle_bad]
        return warned(
            (f"{len(idle_bad)} SDK{'s' if len(idle_bad) != 1 else ''} that no running process uses would not get the task role" if idle_bad else f"{len(unknown)} SDK{'s' if len(unknown) != 1 else ''}: what {'they' if len(unknown) != 1 else 'it'} would get is unknown"),
            _join([_line(s) for s in parts]),
            "Nothing running is affected; if an application may start these SDKs later, see their lines."
            if idle_bad
            else "Check these SDKs by hand (run them with `probe wait`/`probe` beside them), or attach `--save-facts` to a report.",
            **data,
        )
    return passed(
        f"{len(used)} AWS SDK{'s' if len(used) != 1 else ''} in use get{'s' if len(used) == 1 else ''} the task role" if used else "Every AWS SDK found gets the task role",
        _join([_line(s) for s in sdks]),
        **data,
    )


def _remedy(f: Facts, bad: list[dict[str, Any]]) -> str:
    """The fix for the first SDK's cause, by the source that won and why."""
    s = bad[0]
    why = s["why"]
    if s["source"] in ("env",):
        return "Remove AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the container (see env.shadowing-credentials); the task role needs no keys."
    if s["source"] in ("shared-credentials-file", "config-file", "assume-role", "web-identity", "sso", "process"):
        return "Remove the profile or credential files that come first in this SDK's chain (see env.shadowing-credentials), or run the probe with --expect-role if that role is intended."
    if "proxy" in why:
        return remedies.NO_PROXY
    if "predates" in why and "TOKEN_FILE" not in why:
        rows = sdkmodel.rows_for(s["sdk"])
        minimum = rows[0].min_full_uri or rows[0].min_relative if rows and "FULL_URI" in why else (rows[0].min_relative if rows else None)
        if minimum:
            return (
                f"Upgrade {predict.PACKAGE.get(s['sdk'], s['title'])} in {predict.sdk_home(s)} to {minimum} or later "
                "(and the application's lock file): older versions ignore the container credentials and use the "
                "EC2 instance role."
            )
        return remedies.SDK
    if "FULL_URI host" in why or "TOKEN_FILE" in why:
        row = sdkmodel.rows_for(s["sdk"])
        need = row[0].min_token_file if row else None
        return f"Upgrade {s['title']} to {need} or later (the first that accepts this FULL_URI host and the token file)." if need else remedies.SDK
    if "IMDSv2 is required" in why:
        return remedies.SDK + " IMDSv2-only instances refuse SDKs that predate IMDSv2 (late 2019)."
    if "no container credentials variable" in why or not f.get("environ").get("credentials_target", {}).get("source"):
        if remedies.lost_environment(f):
            return "The cause is upstream (env.credentials-variable): " + remedies.SHIM
        return " ".join((remedies.TASK_ROLE, remedies.NON_PID1))
    if "credentials endpoint fails" in why:
        return "Fix the credentials endpoint first (see endpoint.credentials); " + (
            "this SDK then silently uses the EC2 instance role: block it with " + remedies.BLOCK_IMDS if s["gets"] == "instance-role" else "until then it ends in an error."
        )
    return "See the other checks of this report for the cause."
