"""A task definition from a file: RegisterTaskDefinition input or describe-task-definition output.

Secret-looking environment values are registered with the redactor and masked here, so a
saved facts file never carries them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from probe import redact

SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE", re.IGNORECASE)


def load(text: str) -> dict[str, Any]:
    """The task definition object; ValueError with a readable reason otherwise."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON: {str(exc)[:200]}") from None
    if isinstance(doc, dict) and isinstance(doc.get("taskDefinition"), dict):
        doc = doc["taskDefinition"]  # aws ecs describe-task-definition output
    if not isinstance(doc, dict):
        raise ValueError("not a task definition: the JSON is not an object")
    if not isinstance(doc.get("containerDefinitions"), list):
        raise ValueError("not a task definition: no containerDefinitions list")
    return _masked(doc)


def _masked(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))  # a private copy
    for c in doc["containerDefinitions"]:
        if not isinstance(c, dict):
            continue
        envs = c.get("environment")
        for env in envs if isinstance(envs, list) else []:
            if not isinstance(env, dict) or not isinstance(env.get("value"), str):
                continue
            name = str(env.get("name", ""))
            value = env["value"]
            if name == "AWS_ACCESS_KEY_ID":
                env["value"] = redact.mask_key_id(value)
            elif SECRET_NAME.search(name):
                redact.register(value)
                env["value"] = redact.MASK
            elif name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                password = redact._url_password(value)
                redact.register(password)
                env["value"] = redact.mask_url(value)
    return doc
