"""Environment checks: the credentials variable, its safety, shadowing sources, region."""

from __future__ import annotations

from typing import Any, Optional

from probe import predict
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.checks import remedies
from probe.facts import Facts

# botocore's methods that come before 'container-role' in the default chain.
EARLIER_METHODS = {
    "env": "static keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    "assume-role": "a profile with role_arn (assume-role)",
    "assume-role-with-web-identity": "web identity (AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN)",
    "sso": "an SSO profile",
    "shared-credentials-file": "keys in the shared credentials file",
    "login": "a login session profile",
    "custom-process": "a credential_process in the config file",
    "config-file": "keys in the config file",
    "ec2-credentials-file": "the file named by AWS_CREDENTIAL_FILE",
    "boto-config": "a boto config file (/etc/boto.cfg, ~/.boto)",
}


def _main(f: Facts) -> str:
    return remedies.main_process(f)


@check("env.credentials-variable", mode="task", title="Credentials variable", needs=("processes",))
def credentials_variable(f: Facts) -> Outcome:
    """Guarantees: passes only if the container provider is active for this process
    (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI set and non-empty). When it is
    not, names the cause the facts support: PID 1 has it (this process lost it: the
    shim), PID 1 lacks it too while another container of the task has it (this container's
    start dropped it), PID 1 lacks it too (the task has no role), or PID 1 could not be
    read. "PID 1" is the container's main process: with pidMode task PID 1 is ECS's pause
    process, which never has the variable."""
    env = f.get("environ")
    if env.get("relative_uri_set"):
        if env.get("relative_uri") == "":
            return failed(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set but empty",
                "The SDKs treat the variable as present and ask http://169.254.170.2 for nothing.",
                "Do not set the variable yourself; the ECS agent injects it when the task has a role. " + remedies.TASK_ROLE,
            )
        extra = " (AWS_CONTAINER_CREDENTIALS_FULL_URI is also set; the relative URI wins)" if env.get("full_uri_set") else ""
        return passed(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set",
            f"value {env.get('relative_uri')}{extra}",
        )
    if env.get("full_uri_set"):
        if not env.get("full_uri"):
            return failed(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI is set but empty",
                "The SDKs treat the variable as present and fail on an empty URL.",
                "Unset AWS_CONTAINER_CREDENTIALS_FULL_URI or give it the endpoint's URL.",
            )
        return passed("AWS_CONTAINER_CREDENTIALS_FULL_URI is set", f"value {env.get('full_uri')}")
    missing = (
        "Neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set "
        f"in this process (pid {env.get('pid')}), so every SDK falls through to IMDS (the EC2 instance role)."
    )
    lost = remedies.lost_environment(f)
    if lost:
        return failed(
            f"This process is not {_main(f)} and lost the task's credentials variable: {_main(f)} has it",
            missing + " " + lost,
            remedies.NON_PID1,
            cause="lost-environment",
        )
    survey = f.get("processes")
    dropped = remedies.container_lost(f)
    if dropped:
        return failed(
            f"The task has a role, but {remedies.main_label(f)} started without the credentials variable",
            missing + " " + dropped,
            remedies.KEEP_ENVIRONMENT + " " + remedies.SHIM,
            cause="lost-environment",
        )
    holder = _other_container_with_it(survey) if survey.get("pid1_readable") or remedies.is_main(f) else None
    if holder is not None:
        # pidMode task: another container of the task has it, so the task has a role; the
        # agent gave it to this container too, and its start dropped it.
        main = remedies.main_label(f)
        where = f" in {holder['container']}" if holder.get("container") else (f" in container {holder['container_id']}" if holder.get("container_id") else " in another container")
        return failed(
            f"The task has a role, but {main} started without the credentials variable",
            missing + f" {main[0].upper() + main[1:]} lacks it too, while pid {holder.get('pid')}{where} of the same task has it: "
            "the agent gives it to every container of a task with a role; this container's entrypoint or start script dropped it.",
            remedies.KEEP_ENVIRONMENT + " " + remedies.SHIM,
            cause="lost-environment",
        )
    if survey.get("pid1_readable") or remedies.is_main(f):
        main = _main(f)
        return failed(
            f"The task has no task role: no process has the credentials variable, {main} included",
            missing + f" {main[0].upper() + main[1:]} lacks it too: the ECS agent injects it only into tasks whose definition has a taskRoleArn.",
            " ".join((remedies.TASK_ROLE, remedies.AGENT_FLAGS)),
            cause="no-task-role",
        )
    why = survey.get("pid1_reason") or survey.get("error") or "the process survey did not run"
    return failed(
        "No container credentials variable: the SDKs will use the EC2 instance role",
        missing + f" Whether {_main(f)} has it is unknown ({why}).",
        " ".join((remedies.TASK_ROLE, remedies.NON_PID1, remedies.AGENT_FLAGS)),
    )


def _other_container_with_it(survey: dict[str, Any]) -> Optional[dict[str, Any]]:
    """A process of another container of the task (pidMode task) that has the credentials
    variable: told apart from this one's by its container id, or by its root filesystem."""
    procs = [p for p in survey.get("processes") or [] if isinstance(p, dict)]
    me = next((p for p in procs if p.get("pid") == survey.get("self_pid")), None)
    if me is None:
        return None
    for p in procs:
        if not (p.get("has_relative") or p.get("has_full")) or p is me:
            continue
        if p.get("container_id") and me.get("container_id") and p["container_id"] != me["container_id"]:
            return p
        if p.get("root_id") and me.get("root_id") and p["root_id"] != me["root_id"] and not (p.get("container_id") and p.get("container_id") == me.get("container_id")):
            return p
    return None


@check("env.credentials-uri-safe", mode="task", title="Credentials URI is safe to request")
def credentials_uri_safe(f: Facts) -> Outcome:
    """Guarantees: passes only if the URI the SDKs would build goes to the expected host
    (169.254.170.2 for a relative URI; https, loopback or a known link-local host for a
    full URI). An unsafe URI is never requested by the probe."""
    target = f.get("environ").get("credentials_target") or {}
    if not target.get("source"):
        return skipped("Credentials URI is safe to request", "no credentials variable is set (see env.credentials-variable)")
    name = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" if target["source"] == "relative" else "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    if target.get("refused"):
        remedy = (
            f"Set {name} only through ECS (the agent injects /v2/credentials/<id>); remove any "
            "override in the image, task definition or entrypoint."
            if target["source"] == "relative"
            else f"Point {name} at https://, a loopback address, 169.254.170.2 or 169.254.170.23."
        )
        return failed(
            f"{name} is unsafe and was not requested",
            f"{target.get('url')}: {target['refused']}.",
            remedy,
            url=target.get("url"),
        )
    detail = f"requests go to {target.get('url')}"
    if target.get("source") == "full" and target.get("old_sdks_refuse"):
        detail += " (SDKs older than botocore 1.32.0 / November 2023 refuse this host)"
    return passed(f"{name} points at {target.get('host')}", detail)


# The model's source names of the same providers.
SOURCE_METHOD = {
    "env": "env",
    "assume-role": "assume-role",
    "web-identity": "assume-role-with-web-identity",
    "sso": "sso",
    "shared-credentials-file": "shared-credentials-file",
    "login": "login",
    "process": "custom-process",
    "config-file": "config-file",
}


@check("env.shadowing-credentials", mode="task", title="No credentials earlier in the chain", needs=("identity", "sdk", "processes"))
def shadowing_credentials(f: Facts) -> Outcome:
    """Guarantees: fails when the chain of an AWS SDK in use (or, with none in use,
    botocore's default chain, walked by the probe) stops at a source that comes before
    the container provider (env keys, profiles, shared files, web identity,
    credential_process, SSO), so the task role is never used; warns when only botocore's
    chain would, and no process uses botocore. A role the profile assumes with the task
    role (credential_source = EcsContainer) passes."""
    env = f.get("environ")
    found = _static_sources(env)
    used = predict.sdks_in_use(f)
    if used:
        return _shadowing_of_sdks(f, env, used, found)
    return _shadowing_of_botocore(f, env, found)


def _shadowing_of_sdks(f: Facts, env: dict, used: list, found: list[str]) -> Outcome:
    expect = f.options.get("expect_role")
    shadowed = [s for s in used if s.get("source") in SOURCE_METHOD and s.get("gets") != "none" and not predict.expected(s, expect)]
    if shadowed:
        first = shadowed[0]
        winner = SOURCE_METHOD[first["source"]]
        where = EARLIER_METHODS.get(winner, str(first["source"]))
        return failed(
            f"{where[0].upper()}{where[1:]} {'win' if winner == 'env' else 'wins'} over the task role",
            f"{predict.describe(first)}: {first['why']}." + (f" Found: {'; '.join(found)}." if found else ""),
            _shadow_remedy(winner, env),
            provider=winner,
            found=found,
        )
    chained = [s for s in used if s.get("chained_from_task_role") and s.get("gets") == "other-role"]
    if chained:
        return passed(
            "The profile's role is assumed with the task role",
            f"{predict.describe(chained[0])}: {chained[0]['why']}",
            provider="assume-role",
        )
    ident = f.get("identity")
    botocore_winner = ident.get("provider") or (ident.get("chain_error_provider") if ident.get("chain_error_provider") in EARLIER_METHODS else None)
    if botocore_winner in EARLIER_METHODS and not ident.get("from_task_role") and not any(s["sdk"] == "botocore" for s in used):
        where = EARLIER_METHODS[botocore_winner]
        return warned(
            f"{where[0].upper()}{where[1:]} would win over the task role for botocore (boto3, the AWS CLI), which no process here uses",
            "botocore's chain would stop at '" + botocore_winner + "' before 'container-role'; the SDKs in use ("
            + ", ".join(sorted({s['title'] for s in used})) + ") do not use it." + (f" Found: {'; '.join(found)}." if found else ""),
            _shadow_remedy(botocore_winner, env),
            provider=botocore_winner,
            found=found,
        )
    return passed(
        "No credentials earlier in the chain",
        "the SDKs in use reach the container provider" + (f" (also present: {'; '.join(found)})" if found else ""),
    )


def _shadowing_of_botocore(f: Facts, env: dict, found: list[str]) -> Outcome:
    ident = f.get("identity")
    winner = ident.get("provider")
    if winner is None and ident.get("chain_error_provider") in EARLIER_METHODS:
        winner = ident["chain_error_provider"]
    chained = bool(ident.get("from_task_role")) or (env.get("config_file") or {}).get("credential_source") == "EcsContainer"
    if winner == "assume-role" and chained:
        return passed(
            "The profile's role is assumed with the task role",
            f"profile '{env.get('profile')}' has role_arn with credential_source = EcsContainer: the chain builds on the task role",
            provider=winner,
        )
    if winner in EARLIER_METHODS:
        where = EARLIER_METHODS[winner]
        return failed(
            f"{where[0].upper()}{where[1:]} {'win' if winner == 'env' else 'wins'} over the task role",
            f"botocore's default chain stops at '{winner}' before it reaches 'container-role'."
            + (f" Found: {'; '.join(found)}." if found else ""),
            _shadow_remedy(winner, env),
            provider=winner,
            found=found,
        )
    if not ident or ident.get("deadline_exceeded") or ident.get("collector_error"):
        if found:
            return failed(
                "Credentials earlier in the chain would win over the task role",
                "Found: " + "; ".join(found) + ".",
                _shadow_remedy("env" if env.get("present", {}).get("AWS_ACCESS_KEY_ID") else "shared-credentials-file", env),
                found=found,
            )
        return passed("No credentials found earlier in the chain", "botocore's chain was not resolved in time; no static source was found.")
    return passed(
        "No credentials earlier in the chain",
        f"botocore's chain reached '{winner or 'nothing'}'" + (f" (also present: {'; '.join(found)})" if found else ""),
    )


def _static_sources(env: dict) -> list[str]:
    found = []
    present = env.get("present") or {}
    if present.get("AWS_ACCESS_KEY_ID") or present.get("AWS_SECRET_ACCESS_KEY"):
        found.append(f"AWS_ACCESS_KEY_ID={env.get('access_key_id') or '(empty)'} in the environment")
    shown = env.get("shown") or {}
    if shown.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        found.append("AWS_WEB_IDENTITY_TOKEN_FILE in the environment")
    for key in ("shared_credentials_file", "config_file"):
        inv = env.get(key) or {}
        keys = [k for k in inv.get("active_keys") or [] if k != "region"]
        if keys:
            found.append(f"{inv.get('path')} [{env.get('profile')}]: {', '.join(keys)}")
    for path in env.get("boto_config") or []:
        found.append(f"{path} exists")
    files = ((env.get("aws_config") or {}).get("files") or {}) if isinstance(env.get("aws_config"), dict) else {}
    for rec in files.values():
        if isinstance(rec, dict) and rec.get("error"):
            found.append(f"{rec.get('path')} {rec['error']} (what it holds is unknown)")
    return found


def _shadow_remedy(winner: str, env: dict) -> str:
    if winner == "env":
        return (
            "Remove AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the task "
            'definition ("environment" and "secrets"), the image (ENV lines) and the entrypoint; '
            "static keys beat the task role in every SDK."
        )
    if winner in ("shared-credentials-file", "config-file", "assume-role", "custom-process", "sso", "login"):
        files = ", ".join(
            str((env.get(k) or {}).get("path")) for k in ("shared_credentials_file", "config_file") if (env.get(k) or {}).get("exists")
        )
        return (
            f"Remove the credentials of profile '{env.get('profile')}' from {files or '~/.aws/'} in the image "
            "(or unset AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE); files baked into an "
            "image beat the task role."
        )
    if winner == "assume-role-with-web-identity":
        return "Unset AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in the task; they are for EKS, not ECS task roles."
    if winner == "boto-config":
        return "Remove /etc/boto.cfg and ~/.boto from the image."
    return "Remove the file named by AWS_CREDENTIAL_FILE from the image."


@check("env.region", mode="task", title="Region is set", needs=("processes",))
def region(f: Facts) -> Outcome:
    """Guarantees: passes when AWS_REGION / AWS_DEFAULT_REGION or the active profile sets a region."""
    env = f.get("environ")
    shown = env.get("shown") or {}
    value = shown.get("AWS_REGION") or shown.get("AWS_DEFAULT_REGION")
    if value:
        source = "AWS_REGION" if shown.get("AWS_REGION") else "AWS_DEFAULT_REGION"
        return passed(f"Region {value}", f"from {source}")
    cfg = (env.get("config_file") or {}).get("region")
    if cfg:
        return passed(f"Region {cfg}", "from the config file profile")
    survey = f.get("processes")
    if survey.get("pid1_has_region") and not remedies.is_main(f):
        main = _main(f)
        return warned(
            f"No region in this process, though {main} has one ({survey.get('pid1_region')})",
            f"AWS_REGION / AWS_DEFAULT_REGION are missing here but set in {main}: this process was started "
            f"without {main}'s environment, like the credentials variable (see env.credentials-variable).",
            remedies.SHIM,
            cause="lost-environment",
        )
    return warned(
        "No region is set",
        "Neither AWS_REGION nor AWS_DEFAULT_REGION is set (the ECS agent sets both from version 1.104.0); "
        "SDK clients will fail with NoRegionError or use a global endpoint.",
        'Add "environment": [{"name": "AWS_REGION", "value": "<your region>"}] to the container definition, '
        "or update the ECS agent.",
    )
