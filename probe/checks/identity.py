"""Identity: who the default credential chain really is, and whether that is the task role."""

from __future__ import annotations

from typing import Any, Optional

from probe import arns, predict
from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

_ASSUMED = arns.ASSUMED
_IAM_ROLE = arns.IAM_ROLE
role_name = arns.role_name


def _record_for(f: Facts) -> tuple[dict[str, Any], str]:
    """The identity record the verdict follows, and whose it is.

    botocore's chain (the identity collector's record) unless the SDKs in use all reach the
    container provider while botocore's chain does not: then the container credentials'
    own STS confirmation (``identity.confirmed.container``) is the application's."""
    ident = f.get("identity")
    used = predict.sdks_in_use(f)
    confirmed = (ident.get("confirmed") or {}).get("container")
    if used and isinstance(confirmed, dict) and ident.get("key") != "container":
        if all(s.get("source") == "container" and s.get("gets") == "task-role" for s in used):
            return dict(confirmed, provider="container-role", botocore_version=ident.get("botocore_version")), _whose(used)
    return ident, "botocore"


def _whose(used: list[dict[str, Any]]) -> str:
    names = [f"{predict.PACKAGE.get(str(s['sdk']), s['sdk'])} {s.get('version') or ''}".strip() for s in used]
    return ", ".join(dict.fromkeys(names))


def derive_identity(f: Facts) -> Optional[dict[str, Any]]:
    """The report's identity block, or None when nothing about it could be learned: what
    STS said of the credentials the application gets (botocore's chain, walked by the
    probe, unless the SDKs in use get other credentials the probe confirmed)."""
    ident, whose = _record_for(f)
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
    if whose != "botocore":
        out["for_sdks"] = whose
    m = _ASSUMED.match(arn or "")
    if m:
        out["role_name"] = m.group(2).rsplit("/", 1)[-1]
        out["session_name"] = m.group(3)
    if arn:
        out["kind"] = arns.classify(arn, ident.get("provider"), task_role_arn, imds.get("role_name"))
    return out


def _matches(expect: str, ident: dict[str, Any]) -> bool:
    """--expect-role: a name matches the role name; an ARN must match the account too."""
    if role_name(expect) != ident.get("role_name"):
        return False
    m = _IAM_ROLE.match(expect) or _ASSUMED.match(expect)
    return m is None or m.group(1) == ident.get("account")


def _botocore_aside(f: Facts, used: list[dict[str, Any]]) -> str:
    """A sentence on botocore's own outcome when the verdict follows other SDKs."""
    ident = f.get("identity")
    if not used or any(s["sdk"] == "botocore" for s in used):
        return ""
    if ident.get("chain_error"):
        return f" (botocore's own chain would end in an error: {str(ident['chain_error'])[:300]}; no process here uses botocore)"
    if ident.get("not_run"):
        return f" ({ident['not_run']}; no process here uses botocore)"
    return ""


@check("identity.caller", mode="task", title="STS GetCallerIdentity works", needs=("identity", "credentials", "sdk", "processes"))
def caller(f: Facts) -> Outcome:
    """Guarantees: passes only if STS GetCallerIdentity accepted the credentials the
    application gets, obtained by the probe itself (botocore's chain as data, or the
    container credentials when the SDKs in use reach them while botocore does not);
    never runs a credential_process (warns that it cannot confirm); skips when the SDKs in
    use get credentials the probe did not confirm."""
    ident, whose = _record_for(f)
    used = predict.sdks_in_use(f)
    if ident.get("deadline_exceeded"):
        return failed(
            "The identity could not be confirmed in time",
            ident.get("error", ""),
            "Run again with a longer --deadline; if the credentials endpoint or STS hangs, see the other checks.",
        )
    if ident.get("collector_error"):
        return failed(
            "The identity could not be determined",
            f"the probe failed while resolving the chain: {ident['collector_error']}",
            "Report this with the output of --save-facts.",
        )
    if whose == "botocore" and used and not any(s["sdk"] == "botocore" for s in used) and (ident.get("chain_error") or ident.get("not_run")):
        sources = ", ".join(sorted({f"{s['title']}: {s['gets']}" for s in used}))
        return skipped(
            "STS GetCallerIdentity works",
            "the SDKs in use (" + sources + ") get their credentials elsewhere than botocore's chain, which the probe resolved"
            + _botocore_aside(f, used) + "; see sdk.identity",
        )
    if ident.get("not_run"):
        return warned(
            "Not confirmed: the credentials come from a program the probe never runs",
            f"{ident['not_run']}, before the container provider. The probe never runs a program or reads a cache a "
            "container's files name, so STS was not asked.",
            "If that source is not meant to be used in ECS, remove it (see env.shadowing-credentials); the task role needs none.",
            provider=ident.get("provider"),
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
        assumed = ident.get("assumed") or ([ident["role_arn"]] if ident.get("role_arn") else [])
        if code in ("ExpiredToken", "RequestExpired", "SignatureDoesNotMatch", "InvalidSignatureException") and f.get("credentials").get("status") == 200:
            fix = "See endpoint.credentials-expiry and endpoint.clock-skew: expired credentials or a skewed clock make STS refuse them."
        elif assumed and code in ("AccessDenied", "AccessDeniedException"):
            fix = (
                f"The role {assumed[-1]} cannot be assumed with the source credentials: its trust policy must allow the "
                "source role (for credential_source = EcsContainer, the task role) to sts:AssumeRole, and the source "
                "role's policy must allow sts:AssumeRole on it."
            )
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
            "STS GetCallerIdentity failed" if not assumed else "STS refused the role the profile assumes",
            f"With credentials from '{ident.get('provider')}' (key {ident.get('access_key_id')}) at {ident.get('sts_endpoint')}: {ident['sts_error']}",
            fix,
            provider=ident.get("provider"),
            code=code,
        )
    if not ident.get("arn"):
        return skipped("STS GetCallerIdentity works", "the identity was not collected")
    whom = f" (the credentials {whose} get{'s' if ',' not in whose else ''})" if whose != "botocore" else ""
    return passed(
        f"STS says {ident['arn']}",
        f"credentials from '{ident.get('provider')}' (key {ident.get('access_key_id')}){whom}, STS answered in {ident.get('sts_elapsed_ms')} ms"
        + _botocore_aside(f, used),
        arn=ident["arn"],
    )


@check("identity.task-role", mode="task", title="The application gets the task role", needs=("identity", "credentials", "imds", "processes", "sdk"))
def task_role(f: Facts) -> Outcome:
    """Guarantees: with AWS SDKs in use, passes only if every one of them gets the task role
    (or a role its profile assumes with the task role's credentials, or --expect-role) by
    its row of the behaviour model, and fails naming the first that does not; without SDKs
    in use, passes only if STS confirms that botocore's chain (walked by the probe) gets
    it. A credential_process or SSO profile that would win is a failure: the task role is
    never used."""
    used = predict.sdks_in_use(f)
    expect = f.options.get("expect_role")
    if used:
        return _task_role_of_sdks(f, used, expect)
    ident = derive_identity(f)
    raw = f.get("identity")
    if raw.get("not_run"):
        return failed(
            f"The task role is never used: {raw['not_run']}",
            f"{raw['not_run']} before the container provider, so the task role is never used.",
            "Remove that source from the image's AWS config (see env.shadowing-credentials), or run the probe with "
            "--expect-role if what it returns is intended.",
            provider=raw.get("provider"),
        )
    if ident is None or not ident.get("arn"):
        return failed(
            "Not confirmed: the application's identity is unknown",
            "STS did not confirm any identity (see identity.caller).",
            "Fix the failures above first.",
        )
    return _task_role_of(f, ident, expect, f"botocore source '{ident.get('provider')}'")


def _task_role_of_sdks(f: Facts, used: list[dict[str, Any]], expect: Optional[str]) -> Outcome:
    """The verdict of the SDKs in use, confirmed by STS where the probe could."""
    bad = [s for s in used if not predict.expected(s, expect) and s["gets"] != "unknown"]
    unknown = [s for s in used if s["gets"] == "unknown"]
    ident = derive_identity(f) or {}
    aside = _botocore_aside(f, used)
    if bad:
        first = bad[0]
        arn = ident.get("arn") if ident.get("kind") == first["gets"] else None
        synthetic = {
            "kind": first["gets"],
            "arn": arn or first.get("role"),
            "role_name": role_name(first.get("role")),
            "provider": first.get("source"),
        }
        return _task_role_of(f, synthetic, expect, f"{predict.describe(first)}: {first['why']}", sdk=first)
    if unknown and len(unknown) == len(used):
        first = unknown[0]
        return warned(
            "Not confirmed: what the application's SDK gets is unknown",
            f"{predict.describe(first)}: {first['why']}." + aside,
            "Check it by hand (run the application's own call beside `probe wait`), or attach --save-facts to a report.",
        )
    good = [s for s in used if predict.expected(s, expect)]
    first = good[0]
    answer, sts = _sts_answer(f, first)
    if answer == "no":
        return failed(
            "Not confirmed: STS refused the credentials the application's SDK gets",
            f"{predict.describe(first)} gets them from '{first.get('source')}'; STS answered: "
            f"{sts.get('sts_error') or sts.get('chain_error')}" + aside,
            "See identity.caller.",
        )
    if answer == "unasked":
        return warned(
            "Not confirmed by STS: the application's SDK should get the task role",
            f"{predict.describe(first)}: {first['why']}; STS was not asked in this run." + aside,
            "Run again with a longer --deadline (STS did not answer in time), or see identity.caller.",
        )
    chained = [s for s in good if s.get("gets") == "other-role" and s.get("chained_from_task_role")]
    confirmed = f" STS says {ident['arn']}." if ident.get("arn") and ident.get("kind") == first["gets"] else ""
    names = _whose(good)
    if chained and not expect:
        role = role_name(chained[0].get("role"))
        return passed(
            f"The application assumes {role} with the task role",
            f"{names}: {chained[0]['why']} (credential_source = EcsContainer: the documented way to chain from the task role)."
            + confirmed + aside,
            kind="other-role",
            arn=ident.get("arn"),
        )
    what = "task role" if first["gets"] == "task-role" and not expect else "expected role"
    role = role_name(first.get("role")) or ident.get("role_name") or ""
    more = f" Unknown for: {_whose(unknown)}." if unknown else ""
    return passed(
        f"The application gets the {what} {role}".rstrip(),
        f"{names} get{'s' if len(good) == 1 else ''} it." + confirmed + more + aside,
        kind=first["gets"],
        arn=ident.get("arn"),
    )


def _sts_answer(f: Facts, s: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What STS said of the credentials this SDK gets: ("yes" | "no" | "unasked", record)
    when the probe asked for the same source (the container credentials, or botocore's own
    pick), else ("n/a", {})."""
    ident = f.get("identity")
    if s.get("source") == "container":
        rec = ident if ident.get("key") == "container" or ident.get("provider") == "container-role" else (ident.get("confirmed") or {}).get("container")
    elif ident.get("key") and ident.get("provider") == METHOD_OF.get(str(s.get("source"))) and arns.role_name(ident.get("role_arn")) == arns.role_name(s.get("role")):
        rec = ident
    else:
        return "n/a", {}
    if not isinstance(rec, dict) or not (rec.get("arn") or rec.get("sts_error") or rec.get("chain_error")):
        return "unasked", {}
    return ("yes" if rec.get("arn") else "no"), rec


# The model's source names -> botocore's method names (the identity record's provider).
METHOD_OF = {"env": "env", "assume-role": "assume-role", "web-identity": "assume-role-with-web-identity", "container": "container-role", "imds": "iam-role"}


def _task_role_of(f: Facts, ident: dict[str, Any], expect: Optional[str], source: str, sdk: Optional[dict[str, Any]] = None) -> Outcome:
    """The verdict for one identity: the botocore chain's (STS-confirmed), or the first SDK
    in use that does not get the task role."""
    kind = ident["kind"]
    arn = ident.get("arn")
    env = f.get("environ")
    data = {"kind": kind, "arn": arn}
    said = f"STS says {arn}" if sdk is None else source
    if expect and sdk is None and _matches(expect, ident):
        what = "task role" if kind == "task-role" else "expected role"
        return passed(f"The application gets the {what} {ident.get('role_name') or arn}", f"STS says {arn} ({kind}, as --expect-role asks)", **data)
    if kind == "task-role":
        if expect:
            return failed(
                f"The task role is {ident.get('role_name')}, not the expected {expect if expect.startswith('arn:') else role_name(expect)}",
                f"{said}.",
                f"Set the task definition's taskRoleArn to the role {expect}, or fix --expect-role.",
                **data,
            )
        return passed(f"The application gets the task role {ident.get('role_name')}", said, **data)
    if kind == "other-role" and sdk is None and f.get("identity").get("from_task_role") and not expect:
        return passed(
            f"The application assumes {ident.get('role_name')} with the task role",
            f"STS says {arn}; profile '{env.get('profile')}' chains from the task role (credential_source = EcsContainer), "
            "the documented way to use another role from a task.",
            **data,
        )
    if kind == "instance-role":
        no_var = not env.get("relative_uri_set") and not env.get("full_uri_set")
        title = "The SDK uses the EC2 instance role, not the task role"
        detail = f"STS says {arn} ({source})." if sdk is None else f"{source}."
        if no_var:
            lost = remedies.lost_environment(f)
            dropped = remedies.container_lost(f)
            detail += " The container credentials variable is missing in this process, so the SDK fell back to IMDS."
            if lost:
                detail += " " + lost
                remedy = "The cause is upstream (env.credentials-variable): " + remedies.SHIM
            elif dropped:
                detail += " " + dropped
                remedy = "The cause is upstream (env.credentials-variable): " + remedies.KEEP_ENVIRONMENT
            elif f.get("processes").get("pid1_readable"):
                remedy = "The cause is upstream (env.credentials-variable): the task has no task role. " + remedies.TASK_ROLE
            else:
                remedy = (
                    'See env.credentials-variable: give the task a "taskRoleArn" (with ECS_ENABLE_TASK_IAM_ROLE=true '
                    "in /etc/ecs/ecs.config on EC2), and hand the variable to processes that are not PID 1 (the shim)."
                )
        else:
            detail += (
                " The credentials variable is set, yet the chain went to IMDS: an SDK that predates task roles ignores it,"
                " and some fall back to IMDS when the endpoint fails."
            )
            remedy = remedies.SDK if sdk is None else "See sdk.identity and sdk.versions for this SDK's cause and fix."
        return failed(title, detail, remedy, **data)
    if kind == "user":
        return failed(
            "The SDK uses an IAM user's static keys, not the task role",
            f"{said} ({source})." if sdk is None else f"{source}.",
            "Remove the static keys (see env.shadowing-credentials); the task role needs none.",
            **data,
        )
    if kind == "none":
        return failed(
            "The application's SDK gets no credentials",
            f"{source}.",
            "See sdk.identity for this SDK's cause and fix.",
            **data,
        )
    task_arn = f.get("credentials").get("role_arn") if f.get("credentials").get("status") == 200 else None
    return failed(
        "The SDK uses another role, not the task role",
        (f"STS says {arn} ({source})" if sdk is None else source)
        + (f"; the task role is {task_arn}." if task_arn else "; the task role is unknown."),
        "Find where the other role comes from (profile role_arn, web identity, or another credential source; "
        "see env.shadowing-credentials) and remove it, or run the probe with --expect-role if that role is intended.",
        **data,
    )
