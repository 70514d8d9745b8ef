"""Can this container reach the EC2 instance role?"""

from __future__ import annotations

from probe.checks import remedies
from probe.checks.base import Outcome, check, passed, skipped, warned
from probe.facts import Facts


@check("imds.instance-role", mode="task", title="Instance role is out of reach", needs=("imds",))
def instance_role(f: Facts) -> Outcome:
    """Guarantees: warns when IMDS hands this container the instance role's credentials,
    which every SDK falls back to when the task role is missing (AWS_EC2_METADATA_DISABLED
    included: some SDKs never read it)."""
    rec = f.get("imds")
    if rec.get("disabled") and not rec.get("requested"):
        return skipped("Instance role is out of reach", "AWS_EC2_METADATA_DISABLED=true, and no SDK found here ignores it: IMDS was not asked")
    if rec.get("deadline_exceeded"):
        return passed("IMDS did not answer in time", rec.get("error") or "")
    if rec.get("collector_error"):
        return skipped("Instance role is out of reach", f"the probe could not read IMDS: {rec.get('collector_error')}")
    if rec.get("credentials_reachable"):
        return warned(
            f"The instance role {rec.get('role_name')} is reachable from this container",
            f"IMDSv{rec.get('version')} at {rec.get('endpoint')} serves its credentials"
            + (f" (instance {rec.get('instance_id')})" if rec.get("instance_id") else "")
            + "; an SDK that misses the task role silently uses it."
            + (
                " AWS_EC2_METADATA_DISABLED=true keeps most SDKs away from it, but not all: botocore before 1.9.12, "
                "aws-sdk (JavaScript v2) before 2.187.0 and AsyncAws never read it (measured)."
                if rec.get("disabled") else ""
            ),
            remedies.BLOCK_IMDS,
            role_name=rec.get("role_name"),
        )
    why = rec.get("error") or "no credentials served"
    return passed("The instance role is out of reach", f"IMDS at {rec.get('endpoint')}: {why}")
