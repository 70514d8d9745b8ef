"""Identity: who the default credential chain really is, and whether that is the task role."""

from __future__ import annotations

import re
from typing import Any, Optional

from probe.checks import Outcome, check, failed, passed, remedies, skipped
from probe.facts import Facts

_ASSUMED = re.compile(r"^arn:aws[\w-]*:sts::(\d{12}):assumed-role/(.+)/([^/]+)$")
_IAM_ROLE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_TASK_ID = re.compile(r"^[0-9a-f]{32}$")


def role_name(arn_or_name: Optional[str]) -> Optional[str]:
    """The role name of an IAM role ARN, an assumed-role ARN, or a bare name."""
    if not arn_or_name:
        return None
    m = _ASSUMED.match(arn_or_name)
    if m:
        return m.group(2).rsplit("/", 1)[-1]
    m = _IAM_ROLE.match(arn_or_name)
    if m:
        return m.group(2)
    return arn_or_name.rsplit("/", 1)[-1]


def derive_identity(f: Facts) -> Optional[dict[str, Any]]:
    """The report's identity block, or None when nothing about it could be learned."""
    ident = f.get("identity")
    cred = f.get("credentials")
    imds = f.get("imds")
    task_role_arn = cred.get("role_arn") if cred.get("status") == 200 else None
    arn = ident.get("arn")
    if not ident or (not arn and not ident.get("provider")):
        return None
    out: dict[str, Any] = {
        "arn": arn,
        "account": ident.get("account"),
        "provider": ident.get("provider"),
        "kind": "unknown",
        "role_name": None,
        "session_name": None,
        "task_role_arn": task_role_arn,
        "observed_with": f"botocore {ident['botocore_version']}" if ident.get("botocore_version") else None,
    }
    m = _ASSUMED.match(arn or "")
    if m:
        out["role_name"] = m.group(2).rsplit("/", 1)[-1]
        out["session_name"] = m.group(3)
    if not arn:
        return out
    if ":user/" in arn or arn.endswith(":root"):
        out["kind"] = "user"
    elif m:
        name, session = out["role_name"], out["session_name"]
        provider = ident.get("provider")
        task_name = role_name(task_role_arn)
        if provider == "container-role" and (task_name is None or task_name == name):
            out["kind"] = "task-role"
        elif task_name is not None and task_name == name:
            out["kind"] = "task-role"
        elif provider == "iam-role" or _INSTANCE_ID.match(session or "") or (imds.get("role_name") and imds.get("role_name") == name):
            out["kind"] = "instance-role"
        else:
            out["kind"] = "other-role"
    return out


def _matches(expect: str, ident: dict[str, Any]) -> bool:
    """--expect-role: a name matches the role name; an ARN must match the account too."""
    if role_name(expect) != ident.get("role_name"):
        return False
    m = _IAM_ROLE.match(expect) or _ASSUMED.match(expect)
    return m is None or m.group(1) == ident.get("account")


@check("identity.caller", mode="task", title="STS GetCallerIdentity works", needs=("identity", "credentials"))
def caller(f: Facts) -> Outcome:
    """Guarantees: passes only if botocore's default chain found credentials and STS
    GetCallerIdentity accepted them."""
    ident = f.get("identity")
    if ident.get("deadline_exceeded"):
        return failed(
            "The identity could not be confirmed in time",
            ident.get("error", ""),
            "Run again with a longer --deadline; if the credentials endpoint or STS hangs, see the other checks.",
        )
    if ident.get("collector_error"):
        return failed(
            "The identity could not be determined",
            f"the probe failed while asking botocore: {ident['collector_error']}",
            "Report this with the output of --save-facts.",
        )
    if ident.get("hook_error"):
        from probe.model import Status

        return Outcome(
            Status.ERROR,
            "The probe cannot hand botocore its observation: this botocore changed an internal the probe uses",
            f"{ident['hook_error']}. Rather than let botocore ask the rate-limited credentials endpoint a second "
            "time (and maybe see another answer), the probe did not resolve the identity.",
            "Install a botocore within the range the package declares (pip install 'ecs-credential-probe' pulls "
            "one), and report this with the output of --save-facts.",
        )
    if ident.get("chain_error_provider") == "session":
        return failed(
            "The SDK cannot start: its configuration is broken",
            f"botocore raises before looking for credentials: {ident.get('chain_error')}",
            "Fix the AWS settings this names (AWS_PROFILE, ~/.aws/config, ~/.aws/credentials, AWS_* variables); "
            "every boto3 client in this environment fails the same way.",
        )
    if ident.get("chain_error"):
        where = ident.get("chain_error_provider")
        err = ident["chain_error"]
        if where == "container-role":
            return failed(
                "The SDK cannot get credentials: the container provider fails",
                f"botocore's chain stops at 'container-role': {err}. It does not fall back to the instance role.",
                "Fix the credentials endpoint first (see endpoint.credentials).",
                provider=where,
            )
        if err.startswith("NoCredentialsError"):
            lost = remedies.lost_environment(f)
            return failed(
                "The SDK finds no credentials at all",
                "botocore tried " + ", ".join(ident.get("tried") or []) + " and found nothing." + (f" {lost}" if lost else ""),
                "See env.credentials-variable: " + (remedies.SHIM if lost else " ".join((remedies.TASK_ROLE, remedies.AGENT_FLAGS, remedies.NON_PID1))),
            )
        return failed(
            f"The SDK's credential chain fails at '{where}'",
            err,
            "Fix or remove that credential source (see env.shadowing-credentials).",
            provider=where,
        )
    if ident.get("sts_error"):
        code = ident.get("sts_error_code")
        if code in ("ExpiredToken", "RequestExpired", "SignatureDoesNotMatch", "InvalidSignatureException") and f.get("credentials").get("status") == 200:
            fix = "See endpoint.credentials-expiry and endpoint.clock-skew: expired credentials or a skewed clock make STS refuse them."
        elif code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied"):
            fix = (
                "The credentials were rejected: if they came from the task role, check that the role exists and its trust "
                "policy allows ecs-tasks.amazonaws.com; static keys may be revoked."
            )
        else:
            fix = (
                "Let the container reach STS: allow outbound HTTPS to sts.<region>.amazonaws.com (or a VPC endpoint "
                "for STS and set AWS_ENDPOINT_URL_STS / AWS_STS_REGIONAL_ENDPOINTS=regional); if a proxy is used, check it."
            )
        return failed(
            "STS GetCallerIdentity failed",
            f"With credentials from '{ident.get('provider')}' (key {ident.get('access_key_id')}) at {ident.get('sts_endpoint')}: {ident['sts_error']}",
            fix,
            provider=ident.get("provider"),
            code=code,
        )
    if not ident.get("arn"):
        return skipped("STS GetCallerIdentity works", "the identity was not collected")
    return passed(
        f"STS says {ident['arn']}",
        f"credentials from '{ident.get('provider')}' (key {ident.get('access_key_id')}), STS answered in {ident.get('sts_elapsed_ms')} ms",
        arn=ident["arn"],
    )


@check("identity.task-role", mode="task", title="The application gets the task role", needs=("identity", "credentials", "imds", "processes"))
def task_role(f: Facts) -> Outcome:
    """Guarantees: passes only if STS confirms the default chain's identity is the task
    role served by the credentials endpoint (and --expect-role, when given)."""
    ident = derive_identity(f)
    expect = f.options.get("expect_role")
    if ident is None or not ident.get("arn"):
        return failed(
            "Not confirmed: the application's identity is unknown",
            "STS did not confirm any identity (see identity.caller).",
            "Fix the failures above first.",
        )
    kind = ident["kind"]
    arn = ident["arn"]
    env = f.get("environ")
    data = {"kind": kind, "arn": arn}
    if expect and _matches(expect, ident):
        what = "task role" if kind == "task-role" else "expected role"
        return passed(f"The application gets the {what} {ident.get('role_name') or arn}", f"STS says {arn} ({kind}, as --expect-role asks)", **data)
    if kind == "task-role":
        if expect:
            return failed(
                f"The task role is {ident.get('role_name')}, not the expected {expect if expect.startswith('arn:') else role_name(expect)}",
                f"STS says {arn}.",
                f"Set the task definition's taskRoleArn to the role {expect}, or fix --expect-role.",
                **data,
            )
        return passed(f"The application gets the task role {ident.get('role_name')}", f"STS says {arn}", **data)
    if kind == "instance-role":
        no_var = not env.get("relative_uri_set") and not env.get("full_uri_set")
        title = "The SDK uses the EC2 instance role, not the task role"
        detail = f"STS says {arn} (botocore source '{ident.get('provider')}')."
        if no_var:
            lost = remedies.lost_environment(f)
            dropped = remedies.container_lost(f)
            detail += " The container credentials variable is missing in this process, so the SDK fell back to IMDS."
            if lost:
                detail += " " + lost
                remedy = "The cause is upstream, see env.credentials-variable: " + remedies.SHIM
            elif dropped:
                detail += " " + dropped
                remedy = "The cause is upstream, see env.credentials-variable: " + remedies.KEEP_ENVIRONMENT
            elif f.get("processes").get("pid1_readable"):
                remedy = "The cause is upstream, see env.credentials-variable: the task has no task role. " + remedies.TASK_ROLE
            else:
                remedy = (
                    'See env.credentials-variable: give the task a "taskRoleArn" (with ECS_ENABLE_TASK_IAM_ROLE=true '
                    "in /etc/ecs/ecs.config on EC2), and hand the variable to processes that are not PID 1 (the shim)."
                )
        else:
            detail += " The credentials variable is set, yet the chain went to IMDS: an SDK that predates task roles ignores it."
            remedy = remedies.SDK
        return failed(title, detail, remedy, **data)
    if kind == "user":
        return failed(
            "The SDK uses an IAM user's static keys, not the task role",
            f"STS says {arn} (botocore source '{ident.get('provider')}').",
            "Remove the static keys (see env.shadowing-credentials); the task role needs none.",
            **data,
        )
    task_arn = ident.get("task_role_arn")
    if (env.get("config_file") or {}).get("credential_source") == "EcsContainer":
        return failed(
            f"The SDK assumes {ident.get('role_name')} with the task role, not the task role itself",
            f"STS says {arn}; profile '{env.get('profile')}' chains from the task role (credential_source = EcsContainer).",
            f"If that role is what the application should use, run the probe with --expect-role {ident.get('role_name')}.",
            **data,
        )
    return failed(
        "The SDK uses another role, not the task role",
        f"STS says {arn} (botocore source '{ident.get('provider')}')"
        + (f"; the task role is {task_arn}." if task_arn else "; the task role is unknown."),
        "Find where the other role comes from (profile role_arn, web identity, or another credential source; "
        "see env.shadowing-credentials) and remove it.",
        **data,
    )
