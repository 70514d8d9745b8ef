"""The ECS container instance: agent introspection, /etc/ecs/ecs.config, iptables, sysctl.

Read the way the agent reads them: ecs-init hands ecs.config to the agent's container as
a Docker env file, so quotes are not stripped and a quoted boolean is an invalid value.
Values of keys that can hold credentials (ECS_ENGINE_AUTH_DATA, proxy URLs) are
registered as secrets and never kept.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from typing import Any, Optional

from probe import redact
from probe.facts import http

INTROSPECTION = "http://127.0.0.1:51678/v1/metadata"
ECS_CONFIG = "/etc/ecs/ecs.config"
SECRET_KEYS = re.compile(r"AUTH|SECRET|PASSWORD|TOKEN|CREDENTIAL", re.IGNORECASE)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# scheme://user:PASSWORD@ in a value. Linear in the value's length: a scheme is matched only
# from the first letter of its word (the lookbehind; the single pattern started over at every
# letter of a long word, 7.6 s on 40 kB of letters), and only up to a word's last "@" (every
# match ends at one; past it the pattern could only fail, at the cost of the rest each time).
USERINFO = re.compile(r"(?<!\w)(\w+://[^\s/@]*:)([^\s@]+)(@)")
_WORD = re.compile(r"\S+")


def mask_userinfo(value: str) -> str:
    """``value`` with the password of every ``scheme://user:password@`` masked."""

    def word(m: "re.Match[str]") -> str:
        text = m.group(0)
        last = text.rfind("@")
        if last < 0 or "://" not in text:
            return text
        return USERINFO.sub(lambda u: u.group(1) + redact.MASK + u.group(3), text[: last + 1]) + text[last + 1 :]

    return _WORD.sub(word, value)


def read_ecs_config(path: str) -> dict[str, Any]:
    """Lines of ecs.config as the agent would take them (Docker env-file rules)."""
    record: dict[str, Any] = {"path": path, "exists": False, "entries": [], "problems": []}
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
    except FileNotFoundError:
        return record
    except OSError as exc:
        record["error"] = exc.strerror or str(exc)
        return record
    record["exists"] = True
    record["mtime"] = st.st_mtime
    if b"\0" in raw:
        record["binary"] = True
        return record
    text = raw.decode("utf-8", "replace")
    after_secret = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        # Nothing that is not a variable name is kept: a line without a proper key may be
        # the continuation of a multi-line secret (ECS_ENGINE_AUTH_DATA pasted as JSON).
        named = bool(NAME.match(key.strip())) and not key.strip().startswith("export")
        entry: dict[str, Any] = {"line": number, "key": key if named or key.startswith("export ") else None, "has_equals": bool(sep)}
        if key.startswith("export ") and NAME.match(key[len("export "):].strip()):
            entry["key"] = key
        entry["raw_key_ok"] = named
        if not named:
            for part in re.split(r"[\s\"':,{}]+", stripped):
                redact.register(part if len(part) >= 8 else None)
        secret = SECRET_KEYS.search(key) or (after_secret and not named)
        if secret:
            redact.register(value)
            redact.register(value.strip().strip("\"'"))
            entry["value"] = redact.MASK if value else ""
        else:
            password = redact._url_password(value.strip().strip("\"'")) if "@" in value else None
            redact.register(password)
            entry["value"] = mask_userinfo(value)[:300]
        after_secret = bool(secret) or (after_secret and not named)
        record["entries"].append(entry)
    return record


def _left(deadline: Optional[float], default: float) -> float:
    """Seconds a step may take: its own default, or less when the run's deadline is near."""
    if deadline is None:
        return default
    return max(0.05, min(default, deadline - time.monotonic()))


def introspection(url: str = INTROSPECTION, timeout: float = 1.0, deadline: Optional[float] = None) -> dict[str, Any]:
    """GET the agent's introspection API; the whole request ends within ``timeout`` and ``deadline``."""
    from probe.facts.endpoints import json_kind, parse_json

    answer = http.request(url, timeout=timeout, deadline=deadline)
    # An answer cut short (a body that never ends, a trickle past the deadline) has no
    # usable status: the status line alone says nothing about a working agent.
    record: dict[str, Any] = {"url": url, "status": answer.status if answer.error is None else None, "error": answer.error}
    if answer.error is not None and answer.status is not None:
        record["incomplete_status"] = answer.status
    if answer.ok and answer.oversized:
        record["json_error"] = f"the answer is larger than {http.MAX_BODY // 1024} KiB; the agent's is well under 1 KiB"
        return record
    if answer.ok:
        doc, error = parse_json(answer.body)
        if error is not None:
            record["json_error"] = error[:200]
            return record
        if not isinstance(doc, dict):
            record["json_error"] = f"the answer is JSON but not an object (it is {json_kind(doc)})"
        else:
            record.update(
                cluster=doc.get("Cluster") if isinstance(doc.get("Cluster"), str) else None,
                container_instance=doc.get("ContainerInstanceArn") if isinstance(doc.get("ContainerInstanceArn"), str) else None,
                version=doc.get("Version") if isinstance(doc.get("Version"), str) else None,
            )
    return record


def iptables_dumps(saved: Optional[str] = None, deadline: Optional[float] = None) -> dict[str, Any]:
    """iptables-save output of both back ends (nft and legacy keep separate rule sets)."""
    if saved is not None:
        try:
            with open(saved, "rb") as fh:
                data = fh.read(8 << 20)
        except OSError as exc:
            return {"error": f"cannot read {saved}: {exc.strerror or exc}"}
        return {"dumps": {saved: data.decode("utf-8", "replace")}}
    dumps: dict[str, str] = {}
    errors: dict[str, str] = {}
    for tool in ("iptables-save", "iptables-legacy-save"):
        exe = shutil.which(tool)
        if not exe:
            continue
        try:
            proc = subprocess.run([exe], capture_output=True, text=True, timeout=_left(deadline, 5.0))
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors[tool] = str(exc)[:200]
            continue
        if proc.returncode == 0:
            dumps[tool] = proc.stdout
        else:
            errors[tool] = (proc.stderr or f"exit {proc.returncode}").strip()[:200]
    if not dumps and not errors:
        return {"error": "neither iptables-save nor iptables-legacy-save is installed"}
    return {"dumps": dumps, "errors": errors}


def read_sysctl(proc: str = "/proc") -> Optional[str]:
    try:
        with open(os.path.join(proc, "sys/net/ipv4/conf/all/route_localnet"), encoding="ascii") as fh:
            return fh.read(16).strip()
    except OSError:
        return None


def agent_started_at() -> Optional[float]:
    """When the ECS agent process started (it reads ecs.config only then)."""
    try:
        import psutil
    except ImportError:
        return None
    for p in psutil.process_iter(["name", "cmdline", "create_time"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if p.info.get("name") == "agent" or "amazon-ecs-agent" in cmd or cmd.startswith("/agent"):
            return p.info.get("create_time")
    return None


def persistence(root: str = "/") -> dict[str, Any]:
    """Where rules would come back from after a reboot."""
    def exists(*parts: str) -> bool:
        return os.path.exists(os.path.join(root, *parts))

    def read(*parts: str) -> str:
        try:
            with open(os.path.join(root, *parts), encoding="utf-8", errors="replace") as fh:
                return fh.read(1 << 20)
        except OSError:
            return ""

    return {
        "ecs_init": any(exists(p, "ecs.service") for p in ("usr/lib/systemd/system", "etc/systemd/system", "lib/systemd/system")),
        "sysconfig_iptables": read("etc", "sysconfig", "iptables"),
        "iptables_service_enabled": exists("etc", "systemd", "system", "multi-user.target.wants", "iptables.service")
        or exists("etc", "systemd", "system", "basic.target.wants", "iptables.service"),
        "rules_v4": read("etc", "iptables", "rules.v4"),
        "netfilter_persistent_enabled": exists("etc", "systemd", "system", "multi-user.target.wants", "netfilter-persistent.service"),
    }


def collect_host(
    ecs_config: str, iptables_save: Optional[str], proc: str = "/proc", root: str = "/", deadline: Optional[float] = None
) -> dict[str, Any]:
    """Everything host mode observes; network and subprocess waits end by ``deadline`` (monotonic)."""
    started = time.monotonic()
    return {
        "introspection": introspection(timeout=_left(deadline, 1.0), deadline=deadline),
        "ecs_config": read_ecs_config(ecs_config),
        "iptables": iptables_dumps(iptables_save, deadline),
        "route_localnet": read_sysctl(proc),
        "agent_started_at": agent_started_at(),
        "persistence": persistence(root),
        "elapsed_ms": int((time.monotonic() - started) * 1000),
    }
