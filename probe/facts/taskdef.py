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


# Fields `aws ecs describe-task-definition` adds that RegisterTaskDefinition does not take.
DESCRIBE_ONLY = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt",
)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "long": (int,), "boolean": (bool,), "double": (int, float),
    "float": (int, float), "list": (list,), "structure": (dict,), "map": (dict,), "timestamp": (str, int, float),
    "blob": (str, bytes),
}
_SAY = {"string": "a string", "integer": "an integer", "long": "an integer", "boolean": "a boolean (true/false)",
        "double": "a number", "float": "a number", "list": "a list", "structure": "an object", "map": "an object"}
MAX_PROBLEMS = 50


def validate(doc: dict[str, Any]) -> dict[str, Any]:
    """Problems of the document against botocore's own ECS model (RegisterTaskDefinition's
    input shape): field types, enums, required fields, unknown fields. Each problem names
    the container and the field. Never raises: without botocore, says so."""
    try:
        import botocore.session

        shape = botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
        import botocore

        model = f"botocore {botocore.__version__} ECS model"
    except Exception as exc:  # botocore missing or its data unreadable: say so, judge the rest
        return {"model": None, "error": f"{type(exc).__name__}: {str(exc)[:200]}", "problems": []}
    body = {k: v for k, v in doc.items() if k not in DESCRIBE_ONLY}
    problems: list[str] = []
    _walk(body, shape, "", problems)
    return {"model": model, "problems": problems[:MAX_PROBLEMS], "more": max(0, len(problems) - MAX_PROBLEMS)}


def _walk(value: Any, shape: Any, path: str, out: list[str]) -> None:
    if len(out) > MAX_PROBLEMS:
        return
    kind = shape.type_name
    allowed = _TYPES.get(kind, (object,))
    wrong = not isinstance(value, allowed) or (kind in ("integer", "long", "double", "float") and isinstance(value, bool))
    if wrong:
        shown = json.dumps(value)[:60] if not isinstance(value, (dict, list)) else type(value).__name__
        out.append(f"{path or 'the task definition'} is {shown} ({type(value).__name__ if not isinstance(value, bool) else 'a boolean'}); ECS wants {_SAY.get(kind, kind)}")
        return
    # The isinstance tests below repeat what `wrong` made sure of, for the type checkers.
    if kind == "string" and getattr(shape, "enum", None) and value not in shape.enum:
        out.append(f"{path} is {json.dumps(value)[:60]}, not one of {', '.join(shape.enum)}")
    elif kind == "structure" and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value:
                out.append(f"{path + '.' if path else ''}{name} is required and missing")
        for key, item in value.items():
            member = shape.members.get(key)
            where = _child(path, key)
            if member is None:
                out.append(f"{where} is not a field ECS knows (RegisterTaskDefinition would refuse it)")
            else:
                _walk(item, member, where, out)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value[:1000]):
            _walk(item, shape.member, _index(path, i, item), out)
    elif kind == "map" and isinstance(value, dict):
        for key, item in list(value.items())[:1000]:
            _walk(item, shape.value, f"{path}[{key!r}]", out)


def _child(path: str, key: str) -> str:
    if path.endswith("'"):
        return f"{path}, {key}"  # container 'app', essential
    return f"{path}.{key}" if path else key


def _index(path: str, i: int, item: Any) -> str:
    """containerDefinitions[0] named by the container: container 'app'."""
    if path == "containerDefinitions" and isinstance(item, dict) and isinstance(item.get("name"), str):
        return f"container '{item['name']}'"
    return f"{path}[{i}]"
