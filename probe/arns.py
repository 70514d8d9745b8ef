"""What an ARN STS answered says about whose identity it is. Pure."""

from __future__ import annotations

import re
from typing import Optional

ASSUMED = re.compile(r"^arn:aws[\w-]*:sts::(\d{12}):assumed-role/(.+)/([^/]+)$")
IAM_ROLE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
TASK_ID = re.compile(r"^[0-9a-f]{32}$")  # the agent names a task role's session after the task id


def role_name(arn_or_name: Optional[str]) -> Optional[str]:
    """The role name of an IAM role ARN, an assumed-role ARN, or a bare name."""
    if not arn_or_name:
        return None
    m = ASSUMED.match(arn_or_name)
    if m:
        return m.group(2).rsplit("/", 1)[-1]
    m = IAM_ROLE.match(arn_or_name)
    if m:
        return m.group(2)
    return arn_or_name.rsplit("/", 1)[-1]


def classify(arn: Optional[str], provider: Optional[str], task_role_arn: Optional[str], instance_role: Optional[str]) -> str:
    """task-role, instance-role, user, other-role or unknown, for the ARN STS answered
    with credentials from botocore's ``provider`` (its method name)."""
    if not arn:
        return "unknown"
    if ":user/" in arn or arn.endswith(":root"):
        return "user"
    m = ASSUMED.match(arn)
    if not m:
        return "unknown"
    name, session = m.group(2).rsplit("/", 1)[-1], m.group(3)
    task_name = role_name(task_role_arn)
    if provider == "container-role" and (task_name is None or task_name == name):
        return "task-role"
    if task_name is not None and task_name == name:
        return "task-role"
    if provider == "iam-role" or INSTANCE_ID.match(session or "") or (instance_role and instance_role == name):
        return "instance-role"
    return "other-role"
