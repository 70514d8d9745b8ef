"""Checks of the credentials endpoint's answer and of task metadata v4."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts, endpoints

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


POD_IDENTITY_HOSTS = ("169.254.170.23", "fd00:ec2::23")
# What the agent does with each malformed form (measured against its own server:
# tests/test_real_agent.py), and the words for it.
URI_PROBLEM_ANSWERS = {
    "bad-escape": "the agent's HTTP server refuses a '%' that starts no %XX escape with a bare 400 Bad Request",
    "double-slash": "the agent cleans the path first and answers 301 Moved Permanently with an empty body",
    "dot-segment": "the agent cleans the path first and answers 301 Moved Permanently with an empty body",
    "no-slash": "'/v2/credentials' without '/<id>' matches none of the agent's routes: 404 page not found",
    "no-id": "without an id the agent answers 400 NoIdInRequest",
    "trailing-slash": "the agent takes everything after /v2/credentials/ as the id, the slash included, and answers "
    "400 InvalidIdInRequest",
    "extra-segment": "the agent takes everything after /v2/credentials/ as the id and answers 400 InvalidIdInRequest",
    "not-credentials-path": "the agent serves credentials only at /v2/credentials/<id> (and /v1/credentials?id=<id>): 404",
    "percent-encoded": "the agent decodes %-escapes before it routes",
    "query": "the agent ignores a query string on /v2/credentials/<id>",
    "not-pod-identity-path": "the EKS Pod Identity Agent serves only /v1/credentials (404 for any other path)",
}
# The status each form gets from the agent (the Pod Identity Agent for its path).
URI_PROBLEM_STATUS = {
    "bad-escape": (400,),
    "double-slash": (301,),
    "dot-segment": (301,),
    "no-slash": (404,),
    "no-id": (400,),
    "trailing-slash": (400,),
    "extra-segment": (400,),
    "not-credentials-path": (404,),
    "not-pod-identity-path": (301, 404),
}
REDIRECT_NOTE = (
    "no SDK's container provider follows a redirect: botocore raises CredentialRetrievalError after its retries"
)


def _in_ecs(f: Facts) -> bool:
    shown = f.get("environ").get("shown") or {}
    return str(shown.get("AWS_EXECUTION_ENV") or "").startswith("AWS_ECS") or bool(shown.get("ECS_CONTAINER_METADATA_URI_V4"))


def _metadata_refused(f: Facts) -> bool:
    """Task metadata on the agent's address refuses connections too: nothing listens there."""
    meta = f.get("metadata")
    return any(
        isinstance(meta.get(part), dict) and "refused" in str(meta[part].get("error") or "") for part in ("container", "task")
    )


def _unreachable_remedy(f: Facts) -> str:
    target = f.get("environ").get("credentials_target") or {}
    host = target.get("host")
    if host == "169.254.170.2":
        stopped = ""
        if _metadata_refused(f):
            stopped = (
                "Task metadata on the same address refuses connections too: the ECS agent is not running, or the "
                "redirect to it is missing (on the instance: `sudo systemctl status ecs`, `probe host`). "
            )
        return (
            stopped
            + "On Fargate this should not happen: report it. On EC2: "
            + remedies.AGENT_FLAGS
            + " "
            + remedies.IPTABLES
        )
    if host in POD_IDENTITY_HOSTS:
        where = (
            "This task runs on ECS (AWS_EXECUTION_ENV / ECS_CONTAINER_METADATA_URI_V4), where nothing serves it: the ECS "
            "agent serves neither 169.254.170.23 nor IPv6. Remove AWS_CONTAINER_CREDENTIALS_FULL_URI (and the token "
            "file variable) so the SDKs use the AWS_CONTAINER_CREDENTIALS_RELATIVE_URI the agent injects; "
            + remedies.TASK_ROLE
            if _in_ecs(f)
            else "On EKS, check that the eks-pod-identity-agent DaemonSet runs on this node and the pod's service account "
            "has a Pod Identity association."
        )
        return f"{host} is the EKS Pod Identity Agent's address. " + where
    return f"Check that the endpoint at {target.get('url')} runs and is reachable from this container."


def _rate_limit(rec: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The agent's limiter as its headers tell it: the steady rate, the window, and the caller
    address it counts this container's requests under (per path). Not the budget left."""
    headers = rec.get("rate_limit")
    if not isinstance(headers, dict) or not headers:
        return None
    out: dict[str, Any] = {}
    try:
        rate = float(str(headers.get("x-rate-limit-limit"))[:40])
        if rate == rate and 0 <= rate < 1e9:  # NaN, infinity and nonsense are no limit
            out["limit_per_second"] = rate
    except ValueError:
        pass
    try:
        duration = int(str(headers.get("x-rate-limit-duration"))[:40])
        if 0 < duration < 1e9:
            out["duration_seconds"] = duration
    except ValueError:
        pass
    caller = headers.get("x-rate-limit-request-remote-addr")
    if isinstance(caller, str) and caller:
        out["caller"] = caller[:100]
    return out or None


def _rate_limit_text(limits: Optional[dict[str, Any]], hit: bool = False) -> str:
    if not limits or "limit_per_second" not in limits:
        return ""
    rate = limits["limit_per_second"]
    text = f"the agent allows {rate:g} requests/s per caller address and path after a burst (60 by default)"
    if rate < 40:
        text += ", lowered from the default 40 (ECS_TASK_METADATA_RPS_LIMIT on the instance)"
    if limits.get("caller"):
        text += f", counting this container's requests as {limits['caller'].rsplit(':', 1)[0]}"
    if hit:
        text += "; this request found the bucket empty"
    else:
        text += "; its headers do not say how much of the burst is left (this run used one request)"
    return text


def _variable_name(f: Facts) -> str:
    target = f.get("environ").get("credentials_target") or {}
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI" if target.get("source") == "full" else "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"


def _where_changed(f: Facts, name: str) -> str:
    """Where the variable got its value, as far as the facts tell: a shim profile that
    disagrees with PID 1, this process against PID 1, or PID 1 itself."""
    shim = f.get("shim")
    for entry in shim.get("files") or []:
        if not isinstance(entry, dict):
            continue
        var = (entry.get("vars") or {}).get(name) if isinstance(entry.get("vars"), dict) else None
        if isinstance(var, dict) and var.get("in_pid1") and var.get("equal") is False:
            return (
                f"The shim's profile {entry.get('path')} holds another value than PID 1's: a stale or edited profile. "
                "Rewrite it at every container start (`shim` does), never by hand."
            )
    survey = f.get("processes")
    procs = [p for p in survey.get("processes") or [] if isinstance(p, dict)]
    me = next((p for p in procs if p.get("pid") == survey.get("self_pid")), None)
    main = remedies.main_label(f)
    if remedies.is_main(f) and survey.get("available"):
        return (
            f"This process is {main}: the value was set before it started, in the task definition's environment (or an "
            "environment file or the image's ENV: with a task role the agent overwrites those, so there it is an "
            "entrypoint that rewrote the variable and then exec'd the application); remove the override there."
        )
    if me is not None and survey.get("pid1_has_variable") and me.get("same_as_pid1") is False:
        return (
            f"This process's value differs from {main}'s: it was rewritten after the container started, by an entrypoint "
            "or start script, a shell profile or a template (envsubst, sed) that builds the path; remove that."
        )
    if me is not None and me.get("same_as_pid1") is True:
        return (
            f"{main[0].upper() + main[1:]} has the same value: it was set before the application started, in the task "
            "definition's environment (or an environment file or the image's ENV: with a task role the agent overwrites "
            "those, so there it is an entrypoint that rewrote the variable and then exec'd the application); remove the "
            "override there."
        )
    return (
        "Look for it in the task definition's environment, the entrypoint or start script, and profile files "
        "(/etc/profile.d, ~/.profile, the shim's included)."
    )


def _malformed(f: Facts, rec: dict[str, Any]) -> Optional[Outcome]:
    """A non-200 answer to a credentials URI that is not in the agent's form: the variable is
    wrong, not the agent. None when the URI has no problem that explains the answer."""
    problems = [p for p in rec.get("uri_problems") or [] if isinstance(p, str) and p in URI_PROBLEM_ANSWERS]
    breaking = [p for p in problems if p not in endpoints.HARMLESS_URI_PROBLEMS]
    status = rec.get("status")
    if not breaking or not any(status in URI_PROBLEM_STATUS.get(p, ()) for p in breaking):
        return None
    name = _variable_name(f)
    url = rec.get("url")
    what = ", ".join(endpoints.URI_PROBLEMS[p] for p in breaking)
    answers = "; ".join(dict.fromkeys(URI_PROBLEM_ANSWERS[p] for p in problems))
    code = rec.get("error_code")
    got = f"GET {url} -> {status}" + (f" {code}" if code else "")
    if rec.get("location"):
        got += f" to {rec['location']}"
    if isinstance(status, int) and 300 <= status < 400:
        answers += f"; {REDIRECT_NOTE}"
    pod = "not-pod-identity-path" in breaking
    form = "/v1/credentials (with the token file)" if pod else "/v2/credentials/<id>: one slash between the parts, no slash after the id, no %-escapes"
    if name == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI":
        fix = (
            f"Set {name} back to what the agent gave ({form}): PID 1 of the container has it "
            f"(`tr '\\0' '\\n' < /proc/1/environ | grep ^{name}`) unless it was changed before PID 1 started. "
        )
    else:
        fix = f"Set {name} back to the endpoint's own URL ({form})" + (
            "; in an ECS task remove it and let the SDKs use the AWS_CONTAINER_CREDENTIALS_RELATIVE_URI the agent injects. "
            if _in_ecs(f)
            else ". "
        )
    fix += _where_changed(f, name) + " Restarting the task or the agent does not fix this: the agent is fine."
    writer = "the Pod Identity webhook writes it as http://169.254.170.23/v1/credentials" if pod else "the agent writes the variable as /v2/credentials/<id>"
    data: dict[str, Any] = {"status": status, "code": code, "cause": "malformed-uri", "uri_problems": problems}
    limits = _rate_limit(rec)
    if limits:
        data["rate_limit"] = limits
    return failed(
        f"{name} is malformed ({what}): the endpoint answered HTTP {status}",
        f"{got}. {answers[0].upper() + answers[1:]}. {writer[0].upper() + writer[1:]} and never in this form: it was changed "
        "by hand or by a template.",
        fix,
        **data,
    )


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
    malformed = _malformed(f, rec) if not rec.get("error") and rec.get("status") != 200 else None
    if malformed is not None:
        return malformed
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
        elif isinstance(status, int) and 300 <= status < 400:
            meaning = f"a redirect{' to ' + rec['location'] if rec.get('location') else ''}; {REDIRECT_NOTE}"
            fix = f"Point {_variable_name(f)} at the URL that answers with the credentials itself. " + _unreachable_remedy(f)
        limits = _rate_limit(rec)
        if status == 429 and limits:
            meaning = f"{meaning}: {_rate_limit_text(limits, hit=True)}"
        body = f"{code}: {rec.get('error_message')}" if code else (rec.get("body_text") or "")
        data: dict[str, Any] = {"status": status, "code": code}
        if limits:
            data["rate_limit"] = limits
        return failed(
            f"The credentials endpoint answered HTTP {status}" + (f" {code}" if code else ""),
            f"GET {url} -> {status} {body}".rstrip() + (f" ({meaning})" if meaning else "") + ".",
            fix or _unreachable_remedy(f),
            **data,
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
    detail = f"GET {url} -> 200 in {rec.get('elapsed_ms')} ms, key {rec.get('access_key_id')}, expires {rec.get('expiration')}"
    limits = _rate_limit(rec)
    if limits:
        detail += f"; {_rate_limit_text(limits)}"
    odd = [p for p in rec.get("uri_problems") or [] if isinstance(p, str) and p in URI_PROBLEM_ANSWERS]
    if odd:
        # It works, but no agent wrote it so: something rewrites the variable.
        detail += (
            f". The URI is not in the agent's form ({', '.join(endpoints.URI_PROBLEMS[p] for p in odd)}): "
            + "; ".join(URI_PROBLEM_ANSWERS[p] for p in odd)
            + ", so it works, but something rewrote the variable. "
            + _where_changed(f, _variable_name(f))
        )
    data = {"role_arn": rec.get("role_arn")}
    if limits:
        data["rate_limit"] = limits
    if odd:
        data["uri_problems"] = odd
    return passed(f"The credentials endpoint serves {role}", detail, **data)


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
