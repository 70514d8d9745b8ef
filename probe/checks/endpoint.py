"""Checks of the credentials endpoint's answer and of task metadata v4."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from probe.checks import Outcome, check, failed, passed, remedies, skipped, warned
from probe.facts import Facts

CREDENTIAL_FIELDS = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
EXPIRY_WARN_S = 5 * 60
SKEW_FAIL_S = 5 * 60
SKEW_WARN_S = 60

# The agent's error codes (credentials handler) and what each one means for the user.
ERROR_CODES = {
    "NoIdInRequest": (
        "the URI carries no credentials id",
        "Do not set AWS_CONTAINER_CREDENTIALS_RELATIVE_URI yourself; the agent injects it with the id "
        "when the task has a role. " + remedies.TASK_ROLE,
    ),
    "InvalidIdInRequest": (
        "the agent does not know this credentials id: the task stopped, or the variable was copied from "
        "another task (baked into an image, a saved profile or an old environment file)",
        "Restart the task and do not copy the variable between tasks; if a profile file carries it, "
        "rewrite it at every container start (the shim does).",
    ),
    "CredentialsUninitialized": (
        "the agent restarted and has not yet loaded this task's credentials",
        "Retry in a few seconds; if it persists, check /var/log/ecs/ecs-agent.log on the container instance "
        "and " + remedies.AGENT_RESTART + ".",
    ),
    "InternalServerError": (
        "the agent failed while serving the credentials",
        "Check /var/log/ecs/ecs-agent.log on the container instance and " + remedies.AGENT_RESTART + ".",
    ),
}


def _unreachable_remedy(f: Facts) -> str:
    target = f.get("environ").get("credentials_target") or {}
    if target.get("host") == "169.254.170.2":
        return (
            "On Fargate this should not happen: report it. On EC2: "
            + remedies.AGENT_FLAGS
            + " "
            + remedies.IPTABLES
        )
    return f"Check that the endpoint at {target.get('url')} runs and is reachable from this container."


@check("endpoint.credentials", mode="task", title="Credentials endpoint answers", needs=("credentials",))
def credentials(f: Facts) -> Outcome:
    """Guarantees: passes only if one GET of the credentials URL returned 200 with a JSON
    object holding AccessKeyId, SecretAccessKey, Token and Expiration (at most 64 KiB)."""
    rec = f.get("credentials")
    if rec.get("not_requested"):
        return skipped("Credentials endpoint answers", f"not requested: {rec['not_requested']}")
    if rec.get("token_problem"):
        tok = f.get("environ").get("authorization_token") or {}
        where = f"the file {tok.get('file')}" if tok.get("source") == "file" else "AWS_CONTAINER_AUTHORIZATION_TOKEN"
        return failed(
            "The authorization token for the credentials endpoint cannot be used",
            f"{rec['token_problem']}; the SDKs fail before sending the request.",
            f"Fix {where}: it must be readable by this process and hold the token on one line, without a trailing newline.",
        )
    if rec.get("deadline_exceeded"):
        return failed("The credentials endpoint did not answer in time", rec.get("error") or "", _unreachable_remedy(f))
    if rec.get("collector_error"):
        # The probe itself failed: not the endpoint's fault, and no agent restart fixes it.
        return failed(
            "The probe could not read the credentials endpoint's answer",
            rec["collector_error"],
            "Run the probe again with --save-facts FILE and report the file with this message.",
        )
    url = rec.get("url")
    if rec.get("error"):
        return failed(
            "The credentials endpoint is unreachable",
            f"GET {url}: {rec['error']}. botocore raises CredentialRetrievalError here and does not fall back to the instance role.",
            _unreachable_remedy(f),
            elapsed_ms=rec.get("elapsed_ms"),
        )
    status = rec.get("status")
    if status != 200:
        code = rec.get("error_code")
        meaning, fix = ERROR_CODES.get(code or "", (None, None))
        if status == 429:
            meaning = "the agent's rate limit for this task was hit (40 requests/s steady, 60 burst)"
            fix = (
                "Create SDK clients once and reuse them (each new client fetches credentials); on EC2 the limit is "
                "ECS_TASK_METADATA_RPS_LIMIT in /etc/ecs/ecs.config."
            )
        elif status in (401, 403):
            meaning = "the endpoint refused the Authorization header"
            fix = (
                "Check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or AWS_CONTAINER_AUTHORIZATION_TOKEN): it must hold the "
                "token the endpoint expects (for EKS Pod Identity, the projected service account token)."
            )
        elif status == 404 and not code:
            meaning = "the agent does not serve this path"
            fix = "Let the agent set AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (/v2/credentials/<id>); do not build it yourself."
        body = f"{code}: {rec.get('error_message')}" if code else (rec.get("body_text") or "")
        return failed(
            f"The credentials endpoint answered HTTP {status}" + (f" {code}" if code else ""),
            f"GET {url} -> {status} {body}".rstrip() + (f" ({meaning})" if meaning else "") + ".",
            fix or _unreachable_remedy(f),
            status=status,
            code=code,
        )
    if rec.get("oversized"):
        return failed(
            "The credentials endpoint's answer is oversized",
            f"GET {url} returned more than {rec.get('body_bytes')} bytes; an agent answer is well under 2 KiB.",
            "Something other than the ECS agent answers on this address: " + _unreachable_remedy(f),
        )
    if rec.get("json_error"):
        return failed(
            "The credentials endpoint's answer is not usable JSON",
            f"GET {url} -> 200 with content type {rec.get('content_type')}: {rec['json_error']}.",
            "Something other than the ECS agent answers on this address (a proxy, a captive portal, a mock): "
            + _unreachable_remedy(f),
        )
    missing = rec.get("fields_missing")
    if not isinstance(missing, list):
        # Only an answer parsed as a JSON object gets a fields_missing list.
        return failed(
            "The credentials endpoint's answer is not usable JSON",
            f"GET {url} -> 200 but the body is not a JSON object with {', '.join(CREDENTIAL_FIELDS)}; the SDKs reject it.",
            "Something other than the ECS agent answers on this address: " + _unreachable_remedy(f),
        )
    if missing:
        return failed(
            "The credentials endpoint's answer lacks " + ", ".join(missing),
            f"GET {url} -> 200 but the JSON lacks {', '.join(missing)}; the SDKs reject it.",
            "Something other than the ECS agent answers on this address: " + _unreachable_remedy(f),
        )
    role = rec.get("role_arn") or "(no RoleArn in the answer)"
    return passed(
        f"The credentials endpoint serves {role}",
        f"GET {url} -> 200 in {rec.get('elapsed_ms')} ms, key {rec.get('access_key_id')}, expires {rec.get('expiration')}",
        role_arn=rec.get("role_arn"),
    )


def parse_time(value: Any) -> Optional[float]:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _human(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@check("endpoint.credentials-expiry", mode="task", title="Credentials are not expired", needs=("credentials",))
def credentials_expiry(f: Facts) -> Outcome:
    """Guarantees: fails if the served credentials had expired when they arrived (by the
    local clock the SDKs use), warns if they expire within 5 minutes."""
    rec = f.get("credentials")
    if rec.get("status") != 200 or rec.get("fields_missing") is None:
        return skipped("Credentials are not expired", "no credentials were served (see endpoint.credentials)")
    expires = parse_time(rec.get("expiration"))
    if expires is None:
        return failed(
            "The credentials' Expiration is unreadable",
            f"Expiration {rec.get('expiration')!r} is not an ISO 8601 time; the SDKs reject these credentials.",
            "Something other than the ECS agent answers on this address: " + _unreachable_remedy(f),
        )
    now = rec.get("local_epoch") or f.get("run").get("now_epoch")
    if not isinstance(now, (int, float)):
        return skipped("Credentials are not expired", "the time the answer arrived was not recorded")
    left = expires - float(now)
    if left <= 0:
        return failed(
            "The served credentials are expired",
            f"Expiration {rec.get('expiration')} was {_human(left)} before they arrived.",
            "The agent refreshes task credentials well before they expire: check the clock of this host "
            "(see endpoint.clock-skew) and /var/log/ecs/ecs-agent.log, then " + remedies.AGENT_RESTART + ".",
            seconds_left=int(left),
        )
    if left < EXPIRY_WARN_S:
        return warned(
            "The served credentials expire within 5 minutes",
            f"Expiration {rec.get('expiration')}, {_human(left)} from now; the agent normally serves credentials valid for hours.",
            "Check the agent's credential refresh on the container instance (/var/log/ecs/ecs-agent.log).",
            seconds_left=int(left),
        )
    return passed(f"Credentials valid for {_human(left)}", f"Expiration {rec.get('expiration')}", seconds_left=int(left))


@check("endpoint.clock-skew", mode="task", title="Local clock agrees with the endpoint", needs=("credentials",))
def clock_skew(f: Facts) -> Outcome:
    """Guarantees: fails when the local clock and the endpoint's Date header differ by more
    than 5 minutes (AWS rejects signatures then), warns above 1 minute."""
    rec = f.get("credentials")
    server = rec.get("date_epoch")
    local = rec.get("local_epoch")
    if not rec.get("requested") or rec.get("error") or not isinstance(server, (int, float)) or not local:
        return skipped("Local clock agrees with the endpoint", "the credentials endpoint sent no Date header to compare with")
    # Date has one-second resolution.
    skew = float(local) - float(server)
    if abs(skew) < 1.5:
        skew = 0.0
    ahead = "ahead of" if skew > 0 else "behind"
    if abs(skew) > SKEW_FAIL_S:
        return failed(
            f"The local clock is {_human(skew)} {ahead} the endpoint",
            f"Date header {rec.get('date')}; AWS rejects requests signed more than 5 minutes off (SignatureDoesNotMatch / RequestTimeTooSkewed).",
            "Sync the clock of the container instance (chronyd with the Amazon Time Sync Service, 169.254.169.123).",
            skew_seconds=int(skew),
        )
    if abs(skew) > SKEW_WARN_S:
        return warned(
            f"The local clock is {_human(skew)} {ahead} the endpoint",
            f"Date header {rec.get('date')}; beyond 5 minutes AWS rejects signed requests.",
            "Sync the clock of the container instance (chronyd with the Amazon Time Sync Service, 169.254.169.123).",
            skew_seconds=int(skew),
        )
    return passed("Local clock agrees with the endpoint", f"difference {abs(skew):.0f} s", skew_seconds=int(skew))


@check("endpoint.task-metadata", mode="task", title="Task metadata v4 answers", needs=("metadata",))
def task_metadata(f: Facts) -> Outcome:
    """Guarantees: passes when ${ECS_CONTAINER_METADATA_URI_V4} and its /task path answer
    with JSON; warns (never fails) otherwise, since credentials do not depend on it."""
    rec = f.get("metadata")
    if rec.get("deadline_exceeded"):
        return warned("Task metadata v4 did not answer in time", rec.get("error") or "", "")
    if rec.get("collector_error"):
        return warned("The probe could not read task metadata v4", rec["collector_error"], "Run the probe again with --save-facts FILE and report the file with this message.")
    if not rec.get("requested"):
        return skipped(
            "Task metadata v4 answers",
            "ECS_CONTAINER_METADATA_URI_V4 is not set (not in ECS, or an agent older than 1.39.0)",
        )
    problems = []
    for part in ("container", "task"):
        a = rec.get(part) or {}
        if a.get("error"):
            problems.append(f"{part}: {a['error']}")
        elif a.get("status") != 200:
            problems.append(f"{part}: HTTP {a.get('status')}")
        elif a.get("json_error"):
            problems.append(f"{part}: {a['json_error']}")
    info = rec.get("info") or {}
    if problems:
        return warned(
            "Task metadata v4 is unreachable or unusable",
            f"{rec.get('uri')}: " + "; ".join(problems),
            "The agent serves task metadata next to the credentials: " + remedies.AGENT_FLAGS,
        )
    return passed(
        f"Task {info.get('family')}:{info.get('revision')} in cluster {info.get('cluster')}",
        f"launch type {info.get('launch_type')}, network mode {info.get('network_mode')}, container {info.get('container_name')}",
    )
