"""A role's trust policy: from a file, or from IAM GetRole with the default credentials."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Optional
from urllib.parse import unquote

from probe import redact

ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def parse_policy(text: str) -> dict[str, Any]:
    """A policy document from a file: JSON, URL-encoded JSON, or `aws iam get-role` output."""
    return parse_document(text)[0]


def parse_document(text: str) -> tuple[dict[str, Any], Optional[str]]:
    """(the trust policy, the role's ARN when the text is `aws iam get-role` output)."""
    text = text.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON: {str(exc)[:200]}") from None
    role_arn: Optional[str] = None
    if isinstance(doc, dict) and isinstance(doc.get("Role"), dict):
        arn = doc["Role"].get("Arn")
        role_arn = arn if isinstance(arn, str) else None
        doc = doc["Role"].get("AssumeRolePolicyDocument")
        if isinstance(doc, str):
            return parse_document(doc)[0], role_arn
    if not isinstance(doc, dict):
        raise ValueError("not a policy document: the JSON is not an object")
    if "Statement" not in doc:
        raise ValueError("not a policy document: no Statement")
    return doc, role_arn


def account_of(role_arn: Optional[str]) -> Optional[str]:
    """The 12-digit account of an IAM role ARN, or None."""
    m = ROLE_ARN.match(role_arn or "")
    return m.group(1) if m else None


def _with_account(record: dict[str, Any], account: Optional[str], role_arn: Optional[str]) -> dict[str, Any]:
    """The account the conditions are judged against: --account, else the role's own (its ARN's).

    ``account_source`` says which, for the report: "--account", "role ARN" or None (unknown).
    """
    if account:
        record.update(account=account, account_source="--account")
    elif account_of(role_arn):
        record.update(account=account_of(role_arn), account_source="role ARN")
    else:
        record.update(account=None, account_source=None)
    return record


def from_file(path: str, account: Optional[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8", errors="replace") if path != "-" else _stdin() as fh:
        text = fh.read(1 << 20)
    policy, role_arn = parse_document(text)
    return _with_account({"source": path, "policy": policy, "role_arn": role_arn}, account, role_arn)


def _stdin() -> Any:
    import sys

    return sys.stdin


def from_iam(role: str, account: Optional[str], timeout: float) -> dict[str, Any]:
    """GetRole with the default chain; without permission, say which one is needed."""
    m = ROLE_ARN.match(role)
    name = m.group(2) if m else role
    record: dict[str, Any] = _with_account({"source": f"iam:GetRole {name}", "role": role}, account, role if m else None)
    try:
        # botocore alone: boto3 adds nothing to one GetRole call.
        import botocore.session
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        record["error"] = f"botocore is not installed ({exc}): `pip install botocore`, or pass the policy with --policy-file"
        return record
    try:
        session = botocore.session.Session()
        # IAM is global: any region will do when none is configured.
        client = session.create_client(
            "iam",
            region_name=session.get_config_variable("region") or os.environ.get("AWS_REGION") or "us-east-1",
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 2}),
        )
        answer = client.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        record["error_code"] = code
        record["error"] = redact.scrub(str(exc))[:400]
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            target = role if m else f"arn:aws:iam::<account>:role/{name}"
            record["denied_permission"] = f"iam:GetRole on {target}"
        return record
    except (BotoCoreError, Exception) as exc:  # no credentials, no network, bad endpoint
        record["error"] = redact.scrub(f"{type(exc).__name__}: {exc}")[:400]
        return record
    # GetRole takes only the name: the role returned (and its account) is the truth, even
    # when the ARN asked for named another account.
    record["role_arn"] = answer.get("Arn")
    _with_account(record, account, answer.get("Arn") or (role if m else None))
    if m and account_of(answer.get("Arn")) and account_of(answer.get("Arn")) != m.group(1):
        record["requested_account"] = m.group(1)
    doc = answer.get("AssumeRolePolicyDocument")
    record["policy"] = parse_policy(doc) if isinstance(doc, str) else doc
    return record
