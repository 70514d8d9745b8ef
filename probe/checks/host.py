"""Host mode (`probe host`): the agent, ecs.config, iptables, sysctl, IMDS blocking."""

from __future__ import annotations

import difflib
import re
import shlex
from typing import Any, Optional

from probe import redact
from probe.checks import remedies
from probe.checks.base import Outcome, check, failed, passed, skipped, warned
from probe.facts import Facts

KNOWN_KEYS = (
    "ECS_CLUSTER", "ECS_ENABLE_TASK_IAM_ROLE", "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", "ECS_AWSVPC_BLOCK_IMDS",
    "ECS_TASK_METADATA_RPS_LIMIT", "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS",
    "ECS_AUDIT_LOGFILE", "ECS_AUDIT_LOGFILE_DISABLED", "ECS_LOGLEVEL", "ECS_LOGFILE", "ECS_LOG_DRIVER",
    "ECS_AVAILABLE_LOGGING_DRIVERS", "ECS_ENGINE_AUTH_TYPE", "ECS_ENGINE_AUTH_DATA", "ECS_DISABLE_PRIVILEGED",
    "ECS_SELINUX_CAPABLE", "ECS_APPARMOR_CAPABLE", "ECS_ENABLE_CONTAINER_METADATA", "ECS_INSTANCE_ATTRIBUTES",
    "ECS_RESERVED_MEMORY", "ECS_RESERVED_PORTS", "ECS_RESERVED_PORTS_UDP", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION",
    "ECS_IMAGE_CLEANUP_INTERVAL", "ECS_IMAGE_MINIMUM_CLEANUP_AGE", "ECS_NUM_IMAGES_DELETE_PER_CYCLE",
    "ECS_DISABLE_IMAGE_CLEANUP", "ECS_IMAGE_PULL_BEHAVIOR", "ECS_CONTAINER_STOP_TIMEOUT", "ECS_CONTAINER_START_TIMEOUT",
    "ECS_ENABLE_SPOT_INSTANCE_DRAINING", "ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE", "ECS_ENABLE_TASK_ENI",
    "ECS_ENABLE_TASK_CPU_MEM_LIMIT", "ECS_CGROUP_PATH", "ECS_DATADIR", "ECS_UPDATES_ENABLED", "ECS_UPDATE_DOWNLOAD_DIR",
    "ECS_WARM_POOLS_CHECK", "ECS_ENABLE_GPU_SUPPORT", "ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP", "ECS_EXCLUDE_UNTRACKED_IMAGE",
    "ECS_CONTAINER_INSTANCE_TAGS", "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM", "ECS_ENABLE_HIGH_DENSITY_ENI",
    "ECS_ENABLE_PROMETHEUS_METRICS", "ECS_POLL_METRICS", "ECS_POLLING_METRICS_WAIT_DURATION", "ECS_DISABLE_METRICS",
    "ECS_ENABLE_RUNTIME_STATS", "ECS_EXTERNAL", "ECS_OFFHOST_INTROSPECTION_INTERFACE_NAME", "ECS_BACKEND_HOST",
    "ECS_HOST_DATA_DIR", "ECS_ENABLE_CONTAINER_METADATA", "ECS_SHARED_VOLUME_MATCH_FULL_CONFIG",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)
BOOL_VALUES = {"true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"}
REQUIRED_NO_PROXY = ("169.254.169.254", "169.254.170.2", "/var/run/docker.sock")


def effective(f: Facts) -> dict[str, dict[str, Any]]:
    """key -> its last entry (a later line wins, as with `docker run --env-file`)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in f.get("host").get("ecs_config", {}).get("entries") or []:
        if entry.get("raw_key_ok"):
            out[str(entry["key"]).strip()] = entry
    return out


def _config_unusable(f: Facts) -> Optional[Outcome]:
    cfg = f.get("host").get("ecs_config") or {}
    if cfg.get("error"):
        return failed("ecs.config cannot be read", f"{cfg.get('path')}: {cfg['error']}", "Run `probe host` as root (the file is root's).")
    if cfg.get("binary"):
        return failed("ecs.config is not a text file", f"{cfg.get('path')} holds binary data; the agent would misread every line.", "Rewrite /etc/ecs/ecs.config as KEY=value lines.")
    return None


def _flag(f: Facts, key: str, title: str, needed_for: str, severity_off: str) -> Outcome:
    bad = _config_unusable(f)
    if bad:
        return bad
    cfg = f.get("host").get("ecs_config") or {}
    entry = effective(f).get(key)
    path = cfg.get("path")
    fix = f"Put the line {key}=true (no quotes, no spaces) in {path}, then " + remedies.AGENT_RESTART + "."
    if entry is None:
        where = f"{path} does not exist" if not cfg.get("exists") else f"{path} does not set it"
        if (f.get("host").get("persistence") or {}).get("ecs_init"):
            return passed(f"{key} is on (ecs-init's default)", f"{where}; ecs-init starts the agent with {key}=true")
        out = failed if severity_off == "fail" else warned
        return out(f"{key} is off (the agent's own default, with no ecs-init)", f"{where}, and ecs-init is not installed. {needed_for}", fix)
    value = entry["value"]
    if value == "true":
        return passed(f"{key}=true", f"{path} line {entry['line']}")
    if value not in BOOL_VALUES:
        return failed(
            f"{key} is invalid, so the agent treats it as off",
            f"{path} line {entry['line']}: {key}={value!r} is not a boolean (the agent reads the file without stripping "
            f"quotes or spaces; it logs \"Invalid format ... expected a boolean\"). {needed_for}",
            fix,
        )
    if value.lower() in ("false", "0", "f"):
        out = failed if severity_off == "fail" else warned
        return out(f"{key} is off", f"{path} line {entry['line']}: {key}={value}. {needed_for}", fix)
    return passed(f"{key}={value}", f"{path} line {entry['line']}")


@check("host.agent-running", mode="host", title="The ECS agent answers", needs=("host",))
def agent_running(f: Facts) -> Outcome:
    """Guarantees: passes only if the agent's introspection API (127.0.0.1:51678/v1/metadata)
    answers with JSON."""
    rec = f.get("host").get("introspection") or {}
    if rec.get("status") == 200 and not rec.get("json_error"):
        return passed(f"The ECS agent answers: {rec.get('version')}", f"cluster {rec.get('cluster')}, container instance {rec.get('container_instance')}")
    why = rec.get("error") or rec.get("json_error") or f"HTTP {rec.get('status')}"
    return failed(
        "The ECS agent does not answer on its introspection API",
        f"GET {rec.get('url')}: {why}. Without the agent no task gets credentials.",
        "Start or restart the agent: `sudo systemctl enable --now ecs` / `sudo systemctl restart ecs` (Amazon Linux 2 and 2023), "
        "`sudo start ecs` / `sudo stop ecs && sudo start ecs` (Amazon Linux AMI); then read /var/log/ecs/ecs-agent.log and ecs-init.log.",
    )


@check("host.config.task-iam-role", mode="host", title="Task IAM roles are enabled", needs=("host",))
def task_iam_role(f: Facts) -> Outcome:
    """Guarantees: fails when ECS_ENABLE_TASK_IAM_ROLE is false or invalid (quoted, spaced):
    tasks with a role are then not placed on this instance, or get no credentials."""
    return _flag(f, "ECS_ENABLE_TASK_IAM_ROLE", "Task IAM roles are enabled", "Tasks with a task role in bridge or awsvpc mode get no credentials here.", "fail")


@check("host.config.task-iam-role-network-host", mode="host", title="Task IAM roles work in host network mode", needs=("host",))
def task_iam_role_network_host(f: Facts) -> Outcome:
    """Guarantees: warns when ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST is off, fails when it is
    invalid: tasks in host network mode then get no task role."""
    return _flag(f, "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST", "Task IAM roles work in host network mode", "Tasks in host network mode get no task role here.", "warn")


@check("host.config.syntax", mode="host", title="ecs.config reads as intended", needs=("host",))
def config_syntax(f: Facts) -> Outcome:
    """Guarantees: fails on lines the agent would misread: quoted values, spaces around '=',
    lines without '=', `export`, misspelt ECS_ keys, duplicate keys."""
    bad = _config_unusable(f)
    if bad:
        return bad
    cfg = f.get("host").get("ecs_config") or {}
    if not cfg.get("exists"):
        return skipped("ecs.config reads as intended", f"{cfg.get('path')} does not exist")
    problems: list[str] = []
    seen: dict[str, int] = {}
    for e in cfg.get("entries") or []:
        key, value, line = e.get("key"), e.get("value") or "", e["line"]
        where = f"line {line}"
        # Values are never quoted back: a line may hold credentials.
        if key is None:
            problems.append(f"{where}: not a KEY=value line")
            continue
        if key.startswith("export "):
            problems.append(f"{where}: 'export' is shell syntax; the agent reads the whole 'export {key[7:].strip()}' as the key")
            continue
        if not e["has_equals"]:
            problems.append(f"{where}: {key} has no '='")
            continue
        if key != key.strip():
            problems.append(f"{where}: spaces around the key {key.strip()}")
        key = key.strip()
        if value != value.strip():
            problems.append(f"{where}: {key} has spaces around its value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            problems.append(f"{where}: {key}'s value is quoted; the quotes become part of the value")
        if key.startswith("ECS_") and key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.8)
            if close:
                problems.append(f"{where}: {key} is not an agent setting (did you mean {close[0]}?)")
        if key in seen:
            problems.append(f"{where}: {key} repeats line {seen[key]} (the later line wins)")
        seen[key] = line
    if problems:
        return failed(
            f"ecs.config has {len(problems)} line{'s' if len(problems) != 1 else ''} the agent would misread",
            "; ".join(problems[:12]) + ".",
            f"Write {cfg.get('path')} as plain KEY=value lines: no quotes, no spaces, no export, one line per key; then "
            + remedies.AGENT_RESTART + ".",
            problems=problems,
        )
    return passed("ecs.config reads as intended", f"{len(cfg.get('entries') or [])} settings in {cfg.get('path')}")


@check("host.config.proxy", mode="host", title="The agent's proxy spares the link-local endpoints", needs=("host",))
def config_proxy(f: Facts) -> Outcome:
    """Guarantees: fails when HTTP_PROXY is set in ecs.config and NO_PROXY does not name
    169.254.169.254, 169.254.170.2 and /var/run/docker.sock."""
    bad = _config_unusable(f)
    if bad:
        return bad
    eff = effective(f)
    proxy = eff.get("HTTP_PROXY") or eff.get("http_proxy") or eff.get("HTTPS_PROXY")
    if proxy is None:
        return passed("The agent uses no proxy", "HTTP_PROXY is not set in ecs.config")
    no_proxy_entry = eff.get("NO_PROXY") or eff.get("no_proxy")
    listed = [p.strip() for p in (no_proxy_entry or {}).get("value", "").strip("\"'").split(",")]
    missing = [p for p in REQUIRED_NO_PROXY if p not in listed]
    if missing:
        return failed(
            "The agent would send link-local requests through its proxy",
            f"HTTP_PROXY={redact.mask_url(proxy['value'])} (line {proxy['line']}); NO_PROXY lacks {', '.join(missing)}.",
            "Add NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock to /etc/ecs/ecs.config "
            "(and to /etc/systemd/system/ecs.service.d/http-proxy.conf and docker's proxy settings), then " + remedies.AGENT_RESTART + ".",
        )
    return passed("NO_PROXY spares the link-local endpoints", f"NO_PROXY line {no_proxy_entry['line'] if no_proxy_entry else '?'}")


@check("host.config.applied", mode="host", title="The running agent read the current ecs.config", needs=("host",))
def config_applied(f: Facts) -> Outcome:
    """Guarantees: warns when ecs.config changed after the agent started (it reads the file
    only at start)."""
    host = f.get("host")
    cfg = host.get("ecs_config") or {}
    started = host.get("agent_started_at")
    if not cfg.get("exists"):
        return skipped("The running agent read the current ecs.config", f"{cfg.get('path')} does not exist")
    if not isinstance(started, (int, float)):
        return skipped("The running agent read the current ecs.config", "no agent process was found to compare with")
    if cfg.get("mtime", 0) > started:
        return warned(
            "ecs.config changed after the agent started",
            f"{cfg.get('path')} was modified {int(cfg['mtime'] - started)} s after the agent started; the agent reads it only at start.",
            remedies.AGENT_RESTART[0].upper() + remedies.AGENT_RESTART[1:] + ".",
        )
    return passed("The running agent read the current ecs.config", "the file is older than the agent process")


# ---- iptables ------------------------------------------------------------------------


def parse_rules(dump: str) -> Optional[list[dict[str, Any]]]:
    """Rules of an iptables-save dump as option dicts; None if it is not such a dump."""
    table = None
    rules: list[dict[str, Any]] = []
    seen_table = False
    for line in dump.splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
            seen_table = True
            continue
        line = re.sub(r"^\[\d+:\d+\]\s*", "", line)  # iptables-save -c counters
        if not line.startswith("-A ") or table is None:
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            continue
        rule: dict[str, Any] = {"table": table, "chain": tokens[1] if len(tokens) > 1 else "", "_line": line}
        i = 2
        negate = False
        while i < len(tokens):
            tok = tokens[i]
            if tok == "!":
                negate = True
                i += 1
                continue
            if tok.startswith("-") and i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                rule[("!" if negate else "") + tok] = tokens[i + 1]
                i += 2
            else:
                i += 1
            negate = False
        rules.append(rule)
    return rules if seen_table else None


def _dest(rule: dict[str, Any]) -> str:
    d = rule.get("-d") or rule.get("--destination") or ""
    return d if "/" in d else d + "/32"


def _rules(f: Facts) -> tuple[list[dict[str, Any]], list[str], Optional[str]]:
    ipt = f.get("host").get("iptables") or {}
    if ipt.get("error"):
        return [], [], ipt["error"]
    rules: list[dict[str, Any]] = []
    sources: list[str] = []
    unparsable = []
    for name, dump in (ipt.get("dumps") or {}).items():
        parsed = parse_rules(dump if isinstance(dump, str) else "")
        if parsed is None:
            if isinstance(dump, str) and dump.strip():
                unparsable.append(name)
            else:
                sources.append(f"{name} (empty)")
            continue
        for r in parsed:
            r["source"] = name
        rules.extend(parsed)
        sources.append(name)
    if not sources and unparsable:
        return [], [], f"{', '.join(unparsable)} is not iptables-save output (no *table lines)"
    return rules, sources, None


TERMINAL = {"ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "REDIRECT"}
# What parse_rules records beside a rule's options: where it is, where it came from, its line.
_META = {"table", "chain", "source", "_line"}
_MATCH_KEYS = {"-d", "--destination", "-p", "--protocol", "--dport", "--destination-port", "-m", "--match", "-j", "--jump"}


def _covers(r: dict[str, Any], dest: str, port: Optional[str]) -> bool:
    """Does this rule match every tcp packet to dest:port (so nothing after it sees them)?"""
    for key in r:
        if key in _META or key in _MATCH_KEYS or key.startswith("--to"):
            continue
        return False  # another criterion (-s, -i, addrtype, a negation...): not every packet
    d = r.get("-d") or r.get("--destination")
    if d is not None and _dest(r) != dest and d not in ("0.0.0.0/0", "0/0"):
        return False
    if (r.get("-p") or r.get("--protocol")) not in (None, "tcp", "all"):
        return False
    wanted_port = r.get("--dport") or r.get("--destination-port")
    return wanted_port is None or port is None or wanted_port == port


def first_terminal(rules: list[dict[str, Any]], table: str, chain: str, dest: str, port: Optional[str]) -> Optional[dict[str, Any]]:
    """The rule that decides such a packet in one chain: the first terminal rule covering it,
    or a rule built exactly for it. Jumps to other chains are not followed."""
    for r in rules:
        if r["table"] != table or r["chain"] != chain:
            continue
        target = r.get("-j") or r.get("--jump")
        if target not in TERMINAL:
            continue
        allowed = set(_MATCH_KEYS) | _META | {"--to-destination", "--to-ports", "--reject-with", "-i", "--in-interface"}
        specific = _dest(r) == dest and (port is None or r.get("--dport") == port) and set(r) <= allowed
        if specific or _covers(r, dest, port):
            return r
    return None


def _is_dnat(r: dict[str, Any]) -> bool:
    return (
        r["table"] == "nat" and r["chain"] == "PREROUTING" and _dest(r) == "169.254.170.2/32" and r.get("-p") == "tcp"
        and r.get("--dport") == "80" and r.get("-j") == "DNAT" and r.get("--to-destination") == "127.0.0.1:51679"
    )


def _is_redirect(r: dict[str, Any]) -> bool:
    return (
        r["table"] == "nat" and r["chain"] == "OUTPUT" and _dest(r) == "169.254.170.2/32" and r.get("-p") == "tcp"
        and r.get("--dport") == "80" and r.get("-j") == "REDIRECT" and r.get("--to-ports") == "51679"
    )


@check("host.iptables.credentials-redirect", mode="host", title="iptables sends 169.254.170.2:80 to the agent", needs=("host",))
def credentials_redirect(f: Facts) -> Outcome:
    """Guarantees: passes only if the nat PREROUTING DNAT (containers) and OUTPUT REDIRECT
    (the host) rules for 169.254.170.2:80 -> 127.0.0.1:51679 exist in one back end."""
    rules, sources, error = _rules(f)
    if error:
        return failed("The iptables rules cannot be read", error, "Run `probe host` as root, or pass --iptables-save FILE with `sudo iptables-save` output.")
    # Per back end, in chain order: a RETURN or DROP before the DNAT means it never applies.
    best: Optional[tuple[tuple[int, int], str, dict[str, Any]]] = None
    for source in sorted({r["source"] for r in rules}):
        mine = [r for r in rules if r["source"] == source]
        state = {
            "dnat": _rule_state(mine, "PREROUTING", _is_dnat),
            "redirect": _rule_state(mine, "OUTPUT", _is_redirect),
        }
        if all(st["ok"] for st in state.values()):
            return passed("iptables sends 169.254.170.2:80 to the agent", f"DNAT and REDIRECT rules in {source}")
        score = (sum(bool(st["ok"]) for st in state.values()), sum(st["present"] is not None for st in state.values()))
        if best is None or score > best[0]:
            best = (score, source, state)
    source = best[1] if best else ""
    state = best[2] if best else {k: {"ok": False, "present": None, "decides": None} for k in ("dnat", "redirect")}
    missing = [
        what + (", shadowed by an earlier rule" if state[key]["present"] else ", and an earlier rule decides first" if state[key]["decides"] else "")
        for key, what in (("dnat", "nat PREROUTING DNAT (what containers use)"), ("redirect", "nat OUTPUT REDIRECT (what the host uses)"))
        if not state[key]["ok"]
    ]
    return failed(
        "iptables does not redirect 169.254.170.2:80 to the agent: tasks cannot reach their credentials",
        f"Missing: {'; '.join(missing)} (read from {', '.join(sources) or 'nothing'}). Tasks cannot reach 169.254.170.2.",
        _redirect_fix(f, source, state),
    )


def _rule_state(rules: list[dict[str, Any]], chain: str, is_it: Any) -> dict[str, Any]:
    """Does the agent's rule decide in this chain (ok), is it there at all (present: its
    rule), and which rule decides instead (decides)."""
    decides = first_terminal(rules, "nat", chain, "169.254.170.2/32", "80")
    present = next((r for r in rules if r["table"] == "nat" and r["chain"] == chain and is_it(r)), None)
    return {"ok": decides is not None and is_it(decides), "present": present, "decides": decides}


def _tool(source: str) -> str:
    """The command that changes the back end a dump came from."""
    return "iptables-legacy" if source.startswith("iptables-legacy") else "iptables"


def _redirect_fix(f: Facts, source: str, state: dict[str, dict[str, Any]]) -> str:
    """Only what is missing, in the back end that already holds the most; a rule that is there
    but shadowed is moved above what decides first, never added twice."""
    tool = _tool(source)
    steps: list[str] = []
    only_missing = True
    for key, spec in (("dnat", remedies.DNAT_RULE), ("redirect", remedies.REDIRECT_RULE)):
        st = state[key]
        if st["ok"]:
            continue
        chain = spec.split()[3]
        first = spec.replace(f"-A {chain} ", f"-I {chain} 1 ", 1)
        shadow = (st["decides"] or {}).get("_line")
        if st["present"] is not None:
            only_missing = False
            old = st["present"]["_line"].replace(f"-A {chain} ", f"-D {chain} ", 1)
            steps.append(f"`{shadow}` decides first in nat {chain}: move the agent's rule above it, "
                         f"`sudo {tool} -t nat {old}` then `sudo {tool} {first}`")
        elif shadow:
            only_missing = False
            steps.append(f"`{shadow}` decides first in nat {chain}: insert the agent's rule above it, `sudo {tool} {first}`")
        else:
            steps.append(f"`sudo {tool} {spec}`")
    host = f.get("host")
    fix = ("Add only the missing rule" + ("s" if len(steps) > 1 else "") + ": " if only_missing else "") + "; ".join(steps) + "."
    fix = fix[0].upper() + fix[1:]
    if (host.get("persistence") or {}).get("ecs_init") and only_missing:
        fix += " (ecs-init adds these rules when it starts the agent: `sudo systemctl restart ecs` may be enough.)"
    elif not (host.get("persistence") or {}).get("ecs_init"):
        fix += " Then " + remedies.PERSIST_IPTABLES + "."
    if host.get("route_localnet") != "1":
        fix += " The DNAT also needs route_localnet=1 (see host.sysctl.route-localnet)."
    return fix


@check("host.sysctl.route-localnet", mode="host", title="route_localnet allows the DNAT to 127.0.0.1", needs=("host",))
def route_localnet(f: Facts) -> Outcome:
    """Guarantees: fails when net.ipv4.conf.all.route_localnet is not 1 (the DNAT to
    127.0.0.1 is dropped then)."""
    value = f.get("host").get("route_localnet")
    if value is None:
        return skipped("route_localnet allows the DNAT to 127.0.0.1", "/proc/sys/net/ipv4/conf/all/route_localnet cannot be read")
    if value == "1":
        return passed("net.ipv4.conf.all.route_localnet=1", "")
    return failed(
        f"net.ipv4.conf.all.route_localnet={value}: the DNAT to 127.0.0.1 is dropped",
        "Packets from containers rewritten to 127.0.0.1:51679 are discarded unless route_localnet is 1.",
        "`sudo sysctl -w net.ipv4.conf.all.route_localnet=1` and persist it: "
        "`echo net.ipv4.conf.all.route_localnet=1 | sudo tee /etc/sysctl.d/60-ecs.conf`.",
    )


@check("host.iptables.persisted", mode="host", title="The iptables rules survive a reboot", needs=("host",))
def persisted(f: Facts) -> Outcome:
    """Guarantees: fails when the redirect rules would be gone after a reboot: no ecs-init
    to re-create them, and neither /etc/sysconfig/iptables (with the iptables service)
    nor /etc/iptables/rules.v4 (with netfilter-persistent) holds them."""
    p = f.get("host").get("persistence") or {}
    if p.get("ecs_init"):
        return passed("ecs-init re-creates the rules at every start", "the ecs systemd unit is installed")
    for text, enabled, name in (
        (p.get("sysconfig_iptables") or "", p.get("iptables_service_enabled"), "/etc/sysconfig/iptables"),
        (p.get("rules_v4") or "", p.get("netfilter_persistent_enabled"), "/etc/iptables/rules.v4"),
    ):
        rules = parse_rules(text) or []
        if any(_is_dnat(r) for r in rules) and any(_is_redirect(r) for r in rules):
            if enabled:
                return passed(f"The rules are saved in {name}", "and the service that restores them is enabled")
            return failed(f"{name} holds the rules, but nothing restores them at boot", "", "`sudo systemctl enable iptables` (Amazon Linux) or `sudo systemctl enable netfilter-persistent` (Debian, Ubuntu).")
    return failed(
        "The credentials redirect rules are not saved: they vanish at the next reboot",
        "No ecs-init, and neither /etc/sysconfig/iptables nor /etc/iptables/rules.v4 holds the DNAT and REDIRECT rules.",
        "Save them: `sudo iptables-save | sudo tee /etc/sysconfig/iptables && sudo systemctl enable --now iptables` "
        "(Amazon Linux; `sudo yum install -y iptables-services` first) or `sudo netfilter-persistent save` (Debian, Ubuntu).",
    )


@check("host.imds-block", mode="host", title="Tasks cannot reach the instance role", needs=("host",))
def imds_block(f: Facts) -> Outcome:
    """Guarantees: warns (security) when neither ECS_AWSVPC_BLOCK_IMDS=true nor a DOCKER-USER
    drop rule for 169.254.169.254 keeps tasks away from the instance role."""
    rules, _sources, _error = _rules(f)
    block_awsvpc = str((effective(f).get("ECS_AWSVPC_BLOCK_IMDS") or {}).get("value")).lower() in ("true", "1", "t")
    by_source = {s: [r for r in rules if r["source"] == s] for s in sorted({r["source"] for r in rules})}
    decisive = {s: first_terminal(mine, "filter", "DOCKER-USER", "169.254.169.254/32", None) for s, mine in by_source.items()}
    drop = any(r is not None and r.get("-j") in ("DROP", "REJECT") for r in decisive.values())
    host_mode = (
        "Tasks in host network mode share the instance's network and are kept from IMDS by neither: only an OUTPUT "
        "rule for the user they run as does (`--match owner --uid-owner UID --jump DROP`)."
    )
    if block_awsvpc and drop:
        return passed("Tasks cannot reach the instance role", "ECS_AWSVPC_BLOCK_IMDS=true and a DOCKER-USER drop rule. " + host_mode)
    gaps = ([] if block_awsvpc else ["awsvpc tasks (ECS_AWSVPC_BLOCK_IMDS is not true)"]) + ([] if drop else ["bridge tasks (no DOCKER-USER drop rule for 169.254.169.254)"])
    steps = [] if block_awsvpc else [remedies.BLOCK_IMDS_AWSVPC]
    if not drop:
        steps.append(_bridge_fix(by_source, decisive))
    steps.append(remedies.BLOCK_IMDS_HOST)
    return warned(
        "Tasks can reach the instance role through IMDS: " + "; ".join(gaps),
        "A task whose SDK misses its task role silently gets the instance role instead. " + host_mode,
        "Block the instance role from tasks, per network mode: " + "; ".join(steps) + ". And " + remedies.BLOCK_IMDS_SDK + ".",
    )


def _bridge_fix(by_source: dict[str, list[dict[str, Any]]], decisive: dict[str, Optional[dict[str, Any]]]) -> str:
    """The DOCKER-USER drop rule: added once, or moved above what decides first when it is
    there already; then saved (Docker creates the chain, nothing restores its rules)."""
    for source, mine in by_source.items():
        present = next((r for r in mine if r["table"] == "filter" and r["chain"] == "DOCKER-USER" and _dest(r) == "169.254.169.254/32"
                        and r.get("-j") in ("DROP", "REJECT")), None)
        if present is not None:
            tool = _tool(source)
            shadow = (decisive.get(source) or {}).get("_line", "an earlier rule")
            old = present["_line"].replace("-A DOCKER-USER ", "-D DOCKER-USER ", 1)
            return (f"bridge tasks: `{shadow}` decides first in DOCKER-USER; move the drop rule above it, `sudo {tool} {old}` "
                    f"then `sudo {tool} {remedies.IMDS_DROP_BRIDGE}`, then " + remedies.PERSIST_IPTABLES)
    return remedies.BLOCK_IMDS_BRIDGE
