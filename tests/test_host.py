"""`probe host`: real iptables rules (nft and legacy) and sysctl in a network namespace, a
stand-in agent introspection API on the namespace's 127.0.0.1:51678, and ecs.config files
of every flavour, including the knowledge center's."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from helpers import clean_env, need, netns_available, run_probe
from probe.checks import host as host_checks
from probe.facts.host import persistence

DNAT = "-t nat -A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679"
REDIRECT = "-t nat -A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679"
GOOD_CONFIG = "ECS_CLUSTER=prod\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true\n"
INTROSPECTION = textwrap.dedent(
    """
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Cluster": "prod", "ContainerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e2d3c",
                               "Version": "Amazon ECS Agent - v1.86.3 (a1b2c3d4)"}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def log_message(self, *a):
            pass
    HTTPServer(("127.0.0.1", 51678), H).serve_forever()
    """
)


class HostNS:
    def __init__(self) -> None:
        self.name = f"ecp-host-{uuid.uuid4().hex[:6]}"
        self.agent: subprocess.Popen[bytes] | None = None

    def run(self, *cmd: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=True, capture_output=True, timeout=30)

    def __enter__(self) -> "HostNS":
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=30)
        self.run("ip", "link", "set", "lo", "up")
        return self

    def start_agent(self) -> None:
        self.agent = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", INTROSPECTION])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["ip", "netns", "exec", self.name, sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 51678), 1)"],
                capture_output=True,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("introspection stand-in did not start")

    def __exit__(self, *exc: object) -> None:
        if self.agent:
            self.agent.kill()
            self.agent.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)

    def probe(self, home: str, config: str, *args: str) -> dict:
        path = Path(home) / "ecs.config"
        path.write_text(config)
        run = run_probe(["host", "--json", "--ecs-config", str(path), *args], clean_env(home), netns=self.name)
        return {c["id"]: c for c in run.report["checks"]}


@pytest.fixture
def ns() -> Iterator[HostNS]:
    why = netns_available()
    need(why is None, why or "")
    need(shutil.which("iptables") is not None and shutil.which("iptables-legacy") is not None, "needs iptables (nft and legacy)")
    with HostNS() as h:
        yield h


@pytest.mark.parametrize("backend", ["iptables", "iptables-legacy"])
def test_ecs_optimized_like_instance(ns: HostNS, home: str, backend: str) -> None:
    ns.run(backend, *DNAT.split())
    ns.run(backend, *REDIRECT.split())
    ns.run("sysctl", "-w", "net.ipv4.conf.all.route_localnet=1")
    ns.start_agent()
    checks = ns.probe(home, GOOD_CONFIG)
    assert checks["host.agent-running"]["status"] == "pass" and "v1.86.3" in checks["host.agent-running"]["title"]
    for cid in ("host.config.task-iam-role", "host.config.task-iam-role-network-host", "host.config.syntax", "host.config.proxy", "host.sysctl.route-localnet"):
        assert checks[cid]["status"] == "pass", checks[cid]
    redirect = checks["host.iptables.credentials-redirect"]
    assert redirect["status"] == "pass" and f"{backend}-save" in redirect["detail"]
    assert checks["host.imds-block"]["status"] == "warn"


def test_self_built_ami_without_rules(ns: HostNS, home: str) -> None:
    ns.run("sysctl", "-w", "net.ipv4.conf.all.route_localnet=0")
    ns.run("iptables", *DNAT.split())  # only half of the rules
    checks = ns.probe(home, GOOD_CONFIG)
    assert checks["host.agent-running"]["status"] == "fail" and "systemctl restart ecs" in checks["host.agent-running"]["remedy"]
    redirect = checks["host.iptables.credentials-redirect"]
    assert redirect["status"] == "fail" and "OUTPUT REDIRECT" in redirect["detail"] and "PREROUTING DNAT" not in redirect["detail"]
    assert "--to-ports 51679" in redirect["remedy"]
    assert checks["host.sysctl.route-localnet"]["status"] == "fail"


def test_imds_blocked(ns: HostNS, home: str) -> None:
    ns.run("iptables", "-N", "DOCKER-USER")
    ns.run("iptables", "-I", "DOCKER-USER", "1", "-i", "docker+", "-d", "169.254.169.254/32", "-j", "DROP")
    checks = ns.probe(home, GOOD_CONFIG + "ECS_AWSVPC_BLOCK_IMDS=true\n")
    assert checks["host.imds-block"]["status"] == "pass"


# ---------------------------------------------------------------------------------------
# ecs.config flavours (no namespace needed: judged from the file and a saved dump)
# ---------------------------------------------------------------------------------------

CONFIGS = [
    pytest.param(GOOD_CONFIG, {"host.config.task-iam-role": "pass", "host.config.syntax": "pass"}, id="plain"),
    # No ecs-init on the test machine: an unset flag is the agent's own default, off.
    pytest.param("ECS_CLUSTER=prod\n", {"host.config.task-iam-role": "fail", "host.config.task-iam-role-network-host": "warn"}, id="unset-without-ecs-init"),
    # The knowledge center's example, copied with its quotes by many users.
    pytest.param('ECS_ENABLE_TASK_IAM_ROLE="true"\nECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST="true"\n', {"host.config.task-iam-role": "fail", "host.config.task-iam-role-network-host": "fail", "host.config.syntax": "fail"}, id="quoted-booleans"),
    pytest.param("ECS_ENABLE_TASK_IAM_ROLE=false\nECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=false\n", {"host.config.task-iam-role": "fail", "host.config.task-iam-role-network-host": "warn"}, id="disabled"),
    pytest.param("ECS_ENABLE_TASK_IAM_ROLE = true\n", {"host.config.syntax": "fail"}, id="spaces-around-equals"),
    pytest.param("export ECS_ENABLE_TASK_IAM_ROLE=true\n", {"host.config.syntax": "fail"}, id="shell-export"),
    pytest.param("ECS_ENABLE_TASK_IAM_ROLES=true\n", {"host.config.syntax": "fail"}, id="misspelt-key"),
    pytest.param("ECS_ENABLE_TASK_IAM_ROLE=true\nECS_ENABLE_TASK_IAM_ROLE=false\n", {"host.config.syntax": "fail", "host.config.task-iam-role": "fail"}, id="duplicate-later-wins"),
    pytest.param("HTTP_PROXY=http://10.0.0.5:3128\nNO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock\n", {"host.config.proxy": "pass"}, id="proxy-with-no-proxy"),
    pytest.param("HTTP_PROXY=http://10.0.0.5:3128\n", {"host.config.proxy": "fail"}, id="proxy-without-no-proxy"),
]


@pytest.mark.parametrize("config, expected", CONFIGS)
def test_ecs_config_flavours(home: str, tmp_path: Path, config: str, expected: dict[str, str]) -> None:
    cfg = tmp_path / "ecs.config"
    cfg.write_text(config)
    dump = tmp_path / "rules"
    dump.write_text("*nat\n" + "\n".join(r.split(" ", 2)[2] for r in (DNAT, REDIRECT)) + "\nCOMMIT\n")
    run = run_probe(["host", "--json", "--ecs-config", str(cfg), "--iptables-save", str(dump)], clean_env(home))
    statuses = {c["id"]: c["status"] for c in run.report["checks"]}
    for cid, status in expected.items():
        assert statuses[cid] == status, (cid, run.check(cid))
    assert statuses["host.iptables.credentials-redirect"] == "pass"


def test_secrets_in_ecs_config_never_shown(home: str, tmp_path: Path) -> None:
    cfg = tmp_path / "ecs.config"
    cfg.write_text('ECS_ENGINE_AUTH_TYPE=docker\nECS_ENGINE_AUTH_DATA={"https://index.docker.io/v1/":{"username":"me","password":"hunter2-registry-pass"}}\nHTTP_PROXY=http://user:pr0xy-s3cret-pass@10.0.0.5:3128\nECS_ENGINE_AUTH_DATA=again\n')
    run = run_probe(["host", "--ecs-config", str(cfg), "--iptables-save", "/dev/null"], clean_env(home), secrets=["hunter2-registry-pass", "pr0xy-s3cret-pass"])
    assert "ECS_ENGINE_AUTH_DATA repeats line 2" in run.stdout.replace("\n        ", " ")


@pytest.mark.parametrize(
    "content, check_id, words",
    [
        pytest.param(b"\x7fELF\x00\x01garbage", "host.config.syntax", "not a text file", id="binary-ecs-config"),
        pytest.param(None, "host.iptables.credentials-redirect", "not iptables-save output", id="nft-ruleset-as-dump"),
    ],
)
def test_garbage_in(home: str, tmp_path: Path, content: bytes | None, check_id: str, words: str) -> None:
    cfg = tmp_path / "ecs.config"
    cfg.write_bytes(content if content is not None else GOOD_CONFIG.encode())
    dump = tmp_path / "dump"
    dump.write_text("table ip nat {\n\tchain PREROUTING {\n\t\tip daddr 169.254.170.2 tcp dport 80 dnat to 127.0.0.1:51679\n\t}\n}\n")
    run = run_probe(["host", "--json", "--ecs-config", str(cfg), "--iptables-save", str(dump)], clean_env(home))
    assert run.rc == 1
    check = run.check(check_id)
    assert check["status"] == "fail" and words in check["title"] + check["detail"], check


def test_unreadable_iptables_dump_is_a_failing_check(home: str, tmp_path: Path) -> None:
    run = run_probe(["host", "--json", "--ecs-config", str(tmp_path / "none"), "--iptables-save", str(tmp_path / "missing")], clean_env(home))
    check = run.check("host.iptables.credentials-redirect")
    assert check["status"] == "fail" and "cannot read" in check["detail"]


# ---------------------------------------------------------------------------------------
# Persistence, judged over a root folder laid out like each distribution
# ---------------------------------------------------------------------------------------

SAVED = "*nat\n" + "\n".join(r.split(" ", 2)[2] for r in (DNAT, REDIRECT)) + "\nCOMMIT\n"


@pytest.mark.parametrize(
    "files, status",
    [
        pytest.param({"usr/lib/systemd/system/ecs.service": "[Unit]\n"}, "pass", id="ecs-init"),
        pytest.param({"etc/sysconfig/iptables": SAVED, "etc/systemd/system/multi-user.target.wants/iptables.service": ""}, "pass", id="amazon-linux-saved"),
        pytest.param({"etc/sysconfig/iptables": SAVED}, "fail", id="saved-but-service-off"),
        pytest.param({"etc/iptables/rules.v4": SAVED, "etc/systemd/system/multi-user.target.wants/netfilter-persistent.service": ""}, "pass", id="debian-netfilter-persistent"),
        pytest.param({"etc/sysconfig/iptables": "*filter\nCOMMIT\n", "etc/systemd/system/multi-user.target.wants/iptables.service": ""}, "fail", id="saved-without-the-rules"),
        pytest.param({}, "fail", id="nothing"),
    ],
)
def test_persistence(tmp_path: Path, files: dict[str, str], status: str) -> None:
    from probe.facts import Facts

    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    facts = Facts(data={"host": {"persistence": persistence(str(tmp_path))}})
    out = host_checks.persisted(facts)
    assert out.status.value == status, out
    if status == "fail":
        assert "iptables-save" in out.remedy or "systemctl enable" in out.remedy


def _judge(entries: list[dict], ecs_init: bool, dumps: dict[str, str] | None = None) -> dict[str, str]:
    from probe import checks
    from probe.facts import Facts

    checks.load("host")
    host = {"ecs_config": {"path": "/etc/ecs/ecs.config", "exists": True, "entries": entries}, "persistence": {"ecs_init": ecs_init},
            "iptables": {"dumps": dumps or {}}}
    facts = Facts(data={"host": host})
    return {cid: checks.REGISTRY[cid].fn(facts).status.value for cid in checks.ORDER["host"] if cid.startswith("host.config.task") or cid.startswith("host.iptables.cred") or cid == "host.imds-block"}


def test_unset_flags_with_ecs_init_are_on() -> None:
    got = _judge([{"line": 1, "key": "ECS_CLUSTER", "value": "prod", "has_equals": True, "raw_key_ok": True}], ecs_init=True)
    assert got["host.config.task-iam-role"] == "pass" and got["host.config.task-iam-role-network-host"] == "pass"


@pytest.mark.parametrize(
    "dump, status",
    [
        pytest.param("*nat\n[12:720] -A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679\n"
                     "[3:180] -A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679\nCOMMIT\n", "pass", id="with-counters"),
        pytest.param("*nat\n-A PREROUTING -d 169.254.170.2 -p tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679\n"
                     "-A OUTPUT -d 169.254.170.2 -p tcp --dport 80 -j REDIRECT --to-ports 51679\nCOMMIT\n", "pass", id="without-slash-32"),
        pytest.param("*nat\n-A PREROUTING -d 169.254.170.2/32 -p tcp -j RETURN\n"
                     "-A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679\n"
                     "-A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679\nCOMMIT\n", "fail", id="shadowed-by-return"),
    ],
)
def test_iptables_spellings_and_order(dump: str, status: str) -> None:
    assert _judge([], ecs_init=True, dumps={"iptables-save": dump})["host.iptables.credentials-redirect"] == status


def test_rules_split_across_back_ends_do_not_count() -> None:
    nft = "*nat\n-A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679\nCOMMIT\n"
    legacy = "*nat\n-A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679\nCOMMIT\n"
    assert _judge([], ecs_init=True, dumps={"iptables-save": nft, "iptables-legacy-save": legacy})["host.iptables.credentials-redirect"] == "fail"


def test_docker_user_return_before_the_drop() -> None:
    dump = "*filter\n:DOCKER-USER - [0:0]\n-A DOCKER-USER -j RETURN\n-A DOCKER-USER -d 169.254.169.254/32 -i docker+ -j DROP\nCOMMIT\n"
    entries = [{"line": 1, "key": "ECS_AWSVPC_BLOCK_IMDS", "value": "TRUE", "has_equals": True, "raw_key_ok": True}]
    assert _judge(entries, ecs_init=True, dumps={"iptables-save": dump})["host.imds-block"] == "warn"
    good = dump.replace("-A DOCKER-USER -j RETURN\n", "") + ""
    assert _judge(entries, ecs_init=True, dumps={"iptables-save": good})["host.imds-block"] == "pass"


def test_no_secret_from_a_messy_ecs_config(home: str, tmp_path: Path) -> None:
    cfg = tmp_path / "ecs.config"
    cfg.write_text(
        'ALL_PROXY="http://user:SuperSecretPw123@proxy:3128"\n'
        "ECS_ENGINE_AUTH_DATA={\n"
        '  "https://index.docker.io/v1/": {\n'
        '  "password": "HunterTwoSecret99",\n'
        '  "auth": "dXNlcjpIdW50ZXJUd29TZWNyZXQ5OQ=="\n'
        "}\n"
    )
    run = run_probe(["host", "--ecs-config", str(cfg), "--iptables-save", "/dev/null", "--json"], clean_env(home),
                    secrets=["SuperSecretPw123", "HunterTwoSecret99", "dXNlcjpIdW50ZXJUd29TZWNyZXQ5OQ=="])
    assert run.status("host.config.syntax") == "fail"


def test_a_long_ecs_config_value_is_read_within_the_deadline(home: str, tmp_path: Path) -> None:
    """Values of letters and of "a://:" up to the 1 MiB the probe reads: the single pattern that
    masked URL passwords took time quadratic in them (7.6 s on 40 kB, hours on 1 MiB); the run
    ends, and the password in the same line is masked."""
    cfg = tmp_path / "ecs.config"
    cfg.write_text("ECS_CLUSTER=" + "a" * 400_000 + "\nECS_INSTANCE_ATTRIBUTES=" + "a://:" * 100_000
                   + "\nHTTP_PROXY=http://user:HostileLongPw42@10.0.0.5:3128 " + "b" * 100_000 + "\n")
    run = run_probe(["host", "--json", "--deadline", "3", "--ecs-config", str(cfg), "--iptables-save", "/dev/null"], clean_env(home),
                    secrets=["HostileLongPw42"])
    assert "http://user:****@10.0.0.5:3128" in run.stdout


USERINFO_SPEC = re.compile(r"(\w+://[^\s/@]*:)([^\s@]+)(@)")


def test_url_passwords_are_the_ones_the_pattern_names() -> None:
    from probe.facts.host import mask_userinfo

    rnd = random.Random(24)
    pieces = ["a", "b1", "://", ":", "@", "/", " ", "\t", "x:", "@@", "\u00e9", "_", "-", "http", "s3"]
    for _ in range(50_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        assert mask_userinfo(text) == USERINFO_SPEC.sub(lambda m: m.group(1) + "****" + m.group(3), text), text


# ---------------------------------------------------------------------------------------
# The fixes name only what is missing, and running them makes the check pass (issue 20, item 6)
# ---------------------------------------------------------------------------------------


def _fix_commands(remedy: str, table_or_chain: str) -> list[list[str]]:
    """The iptables commands a remedy gives for ``table_or_chain`` (`-t nat`, `DOCKER-USER`),
    without sudo; never the saving ones (they write the machine's /etc)."""
    import re
    import shlex

    found = re.findall(r"`sudo ((?:iptables|iptables-legacy) [^`]*)`", remedy)
    return [shlex.split(c) for c in found if table_or_chain in c and "UID" not in c]


def _count(ns: HostNS, backend: str, needle: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", ns.name, f"{backend}-save"], capture_output=True, text=True, check=True).stdout
    return sum(needle in line for line in out.splitlines() if line.startswith("-A "))


@pytest.mark.parametrize(
    "backend, installed, missing",
    [
        pytest.param("iptables", [DNAT], "REDIRECT", id="nft-redirect-missing"),
        pytest.param("iptables-legacy", [REDIRECT], "DNAT", id="legacy-dnat-missing"),
        pytest.param("iptables", [], "both", id="nft-none"),
    ],
)
def test_redirect_fix_names_only_what_is_missing(ns: HostNS, home: str, backend: str, installed: list[str], missing: str) -> None:
    for rule in installed:
        ns.run(backend, *rule.split())
    ns.run("sysctl", "-w", "net.ipv4.conf.all.route_localnet=1")
    check = ns.probe(home, GOOD_CONFIG)["host.iptables.credentials-redirect"]
    assert check["status"] == "fail", check
    commands = _fix_commands(check["remedy"], "-t nat")
    wanted = {"DNAT": ["DNAT"], "REDIRECT": ["REDIRECT"], "both": ["DNAT", "REDIRECT"]}[missing]
    assert [c[c.index("-j") + 1] for c in commands] == wanted, check["remedy"]
    assert all(c[0] == backend for c in commands), check["remedy"]
    assert "route_localnet" not in check["remedy"]  # it is 1 here
    for cmd in commands:
        ns.run(*cmd)
    again = ns.probe(home, GOOD_CONFIG)["host.iptables.credentials-redirect"]
    assert again["status"] == "pass", again
    assert _count(ns, backend, "-j DNAT") == 1 and _count(ns, backend, "-j REDIRECT") == 1


def test_redirect_fix_moves_a_shadowed_rule_instead_of_adding_it_twice(ns: HostNS, home: str) -> None:
    ns.run("iptables", "-t", "nat", "-A", "PREROUTING", "-d", "169.254.170.2/32", "-p", "tcp", "-j", "RETURN")
    ns.run("iptables", *DNAT.split())
    ns.run("iptables", *REDIRECT.split())
    check = ns.probe(home, GOOD_CONFIG)["host.iptables.credentials-redirect"]
    assert check["status"] == "fail" and "shadowed" in check["detail"], check
    assert "-j RETURN` decides first" in check["remedy"], check["remedy"]
    for cmd in _fix_commands(check["remedy"], "-t nat"):
        ns.run(*cmd)
    assert ns.probe(home, GOOD_CONFIG)["host.iptables.credentials-redirect"]["status"] == "pass"
    assert _count(ns, "iptables", "-j DNAT") == 1 and _count(ns, "iptables", "-j REDIRECT") == 1
    assert _count(ns, "iptables", "-j RETURN") == 1  # the user's own rule stays


def test_imds_block_fix_runs_and_names_every_network_mode(ns: HostNS, home: str) -> None:
    """Without any block: the fix gives awsvpc, bridge (and saving the DOCKER-USER rule) and a
    path for host network mode; the bridge command, run, makes that part pass."""
    ns.run("iptables", "-N", "DOCKER-USER")
    check = ns.probe(home, GOOD_CONFIG)["host.imds-block"]
    assert check["status"] == "warn", check
    remedy = check["remedy"]
    assert "ECS_AWSVPC_BLOCK_IMDS=true" in remedy and "--uid-owner UID" in remedy and "host-mode" in remedy
    bridge = remedy[remedy.index("bridge tasks"):remedy.index("host-mode")]
    assert "sudo iptables-save | sudo tee /etc/sysconfig/iptables" in bridge and "netfilter-persistent save" in bridge
    for cmd in _fix_commands(remedy, "DOCKER-USER"):
        ns.run(*cmd)
    again = ns.probe(home, GOOD_CONFIG + "ECS_AWSVPC_BLOCK_IMDS=true\n")["host.imds-block"]
    assert again["status"] == "pass" and "host network mode" in again["detail"], again


def test_imds_block_fix_moves_a_shadowed_drop(ns: HostNS, home: str) -> None:
    ns.run("iptables", "-N", "DOCKER-USER")
    ns.run("iptables", "-A", "DOCKER-USER", "-j", "RETURN")
    ns.run("iptables", "-A", "DOCKER-USER", "-i", "docker+", "-d", "169.254.169.254/32", "-j", "DROP")
    config = GOOD_CONFIG + "ECS_AWSVPC_BLOCK_IMDS=true\n"
    check = ns.probe(home, config)["host.imds-block"]
    assert check["status"] == "warn" and "ECS_AWSVPC_BLOCK_IMDS" not in check["remedy"], check
    for cmd in _fix_commands(check["remedy"], "DOCKER-USER"):
        ns.run(*cmd)
    assert ns.probe(home, config)["host.imds-block"]["status"] == "pass"
    assert _count(ns, "iptables", "-j DROP") == 1
