"""`probe demo`: the real probe, run as a separate process, against the emulator.

Everything stays on loopback: the credentials come through AWS_CONTAINER_CREDENTIALS_FULL_URI
on 127.0.0.1, IMDS through AWS_EC2_METADATA_SERVICE_ENDPOINT, STS through
AWS_ENDPOINT_URL_STS, and HOME and the AWS config files point into an empty folder, so
no real credentials or link-local addresses of the machine are touched.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

from probe.emulator import Emulator
from probe.output import UsageError, write_report

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    expect: str  # the verdict the probe must reach
    setup: Callable[[Emulator, dict[str, str]], None]
    cause: Optional[str] = None  # the check the probe must name as the cause


def _healthy(emu: Emulator, env: dict[str, str]) -> None:
    emu.update({"imds_enabled": False})


def _fallback(emu: Emulator, env: dict[str, str]) -> None:
    env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI", None)


def _proxy(emu: Emulator, env: dict[str, str]) -> None:
    emu.update({"imds_enabled": False})
    env["HTTP_PROXY"] = "http://127.0.0.1:3128"
    env["HTTPS_PROXY"] = "http://127.0.0.1:3128"
    # STS is reached by name and bypassed; the credentials endpoint is not.
    env["NO_PROXY"] = "localhost"
    env["AWS_ENDPOINT_URL_STS"] = env["AWS_ENDPOINT_URL_STS"].replace("127.0.0.1", "localhost")


def _static_keys(emu: Emulator, env: dict[str, str]) -> None:
    emu.update({"imds_enabled": False})
    user = emu.add_user("ci-deploy")
    env["AWS_ACCESS_KEY_ID"] = user.access_key_id
    env["AWS_SECRET_ACCESS_KEY"] = user.secret_access_key


def _endpoint_error(emu: Emulator, env: dict[str, str]) -> None:
    emu.update({"imds_enabled": False, "behaviour": "invalid-id"})


SCENARIOS = (
    Scenario("healthy", "A task with a task role; IMDS blocked. Everything as it should be.", "pass", _healthy),
    Scenario(
        "instance-role-fallback",
        "No AWS_CONTAINER_CREDENTIALS_* variable reaches the application, so its SDK silently uses the EC2 "
        "instance role. Either the task has no task role, or the process started without PID 1's "
        "environment (a cron job, `su -`); here the container's main process lacks it too, so the probe "
        "names the task definition.",
        "fail",
        _fallback,
        "env.credentials-variable",
    ),
    Scenario(
        "proxy-without-no-proxy",
        "HTTP_PROXY is set for the application and NO_PROXY forgets the credentials endpoint. boto3 never "
        "sends that request through a proxy, so it still gets the task role: a warning (curl, wget or a Go "
        "SDK in this image would fail).",
        "warn",
        _proxy,
    ),
    Scenario(
        "static-keys",
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the task definition shadow the task role.",
        "fail",
        _static_keys,
        "env.shadowing-credentials",
    ),
    Scenario(
        "endpoint-error",
        "The agent no longer knows the task's credentials id (task stopped, or the variable was copied from another task).",
        "fail",
        _endpoint_error,
        "endpoint.credentials",
    ),
)


def _botocore_site() -> str:
    """The site-packages folder botocore is installed in (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.origin:
        return HERE
    return os.path.dirname(os.path.dirname(spec.origin))


def _base_env(emu: Emulator, home: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": HERE + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
        # The SDK check looks at the SDK the probe itself runs on, not at this whole machine.
        "PROBE_SDK_ROOT": _botocore_site(),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
        "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
    }
    env.update(emu.task_env())
    return env


def run(args: Any, opts: dict[str, Any], stdout: TextIO, stderr: TextIO) -> int:

    from probe import audit

    by_name = {s.name: s for s in SCENARIOS}
    if getattr(args, "list", False):
        stdout.write("".join(f"{s.name:<24} {s.story}\n" for s in SCENARIOS))
        stdout.write(f"{'audit':<24} {audit.DEMO_STORY} (needs moto[server]: pip install 'ecs-credential-probe[demo]')\n")
        return 0
    unknown = [n for n in args.scenarios if n not in by_name and n != "audit"]
    if unknown:
        raise UsageError(f"unknown scenario {', '.join(unknown)} (known: {', '.join([*by_name, 'audit'])})")
    with_audit = not args.scenarios or "audit" in args.scenarios
    chosen = [by_name[n] for n in args.scenarios if n != "audit"] if args.scenarios else list(SCENARIOS)
    fmt = opts["format"]
    outputs: list[str] = []
    documents: list[dict[str, Any]] = []
    mismatches = []
    color = fmt == "text" and not opts["no_color"] and not opts.get("output") and stdout.isatty() and os.environ.get("TERM") != "dumb"
    import importlib.util

    audit_runs = with_audit and importlib.util.find_spec("moto") is not None
    total = len(chosen) + (1 if audit_runs else 0)
    for i, scenario in enumerate(chosen, 1):
        with tempfile.TemporaryDirectory(prefix="probe-demo-") as home, Emulator() as emu:
            emu.give_task_role("demo-task-role")
            emu.give_instance_role("ecsInstanceRole")
            env = _base_env(emu, home)
            scenario.setup(emu, env)
            # The probe runs on this machine, whose processes are not the emulated task's: the
            # check that compares them with PID 1 would only say that this machine's PID 1
            # lacks the variable. (The survey still runs: the SDK check uses it.)
            cmd = [sys.executable, "-m", "probe", "task", "--format", fmt, "--deadline", str(opts["deadline"]), "--skip", "processes.credentials-variable"]
            if opts["verbose"]:
                cmd.append("--verbose")
            if not color:
                env["NO_COLOR"] = "1"
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=opts["deadline"] + 30)
        got = None
        named: Optional[str] = None
        if fmt == "json":
            try:
                doc = json.loads(proc.stdout)
                got = doc.get("verdict")
                named = (doc.get("cause") or {}).get("check")
                documents.append({"scenario": scenario.name, "story": scenario.story, "expect": scenario.expect, "report": doc})
            except ValueError:
                documents.append({"scenario": scenario.name, "error": (proc.stderr or proc.stdout)[-500:]})
        else:
            got = next((line.split()[1].lower() for line in proc.stdout.splitlines() if line.startswith("Verdict:")), None)
            named = next((line.rstrip(")").rsplit("(", 1)[-1] for line in proc.stdout.splitlines() if line.startswith("Cause:")), None)
            rule = "=" * 100
            outputs.append(
                f"{rule}\nScenario {i}/{total}: {scenario.name}\n{scenario.story}\n{rule}\n{proc.stdout}"
                + (f"(stderr) {proc.stderr}\n" if proc.stderr.strip() else "")
                + "\n"
            )
        if got != scenario.expect:
            mismatches.append(f"{scenario.name}: expected verdict {scenario.expect}, got {got}")
        elif named != scenario.cause:
            mismatches.append(f"{scenario.name}: expected the cause {scenario.cause or '(none)'}, got {named or '(none)'}")
    ran = len(chosen)
    if with_audit:
        if not audit_runs:
            if fmt == "text":
                outputs.append(
                    "Scenario audit: not run: it serves an account from moto, which is not installed "
                    "(pip install 'ecs-credential-probe[demo]').\n\n"
                )
        else:
            buf = io.StringIO()
            got_code = audit.run_demo(buf, stderr, fmt=fmt, color=color, verbose=opts["verbose"])
            ran += 1
            if fmt == "json":
                documents.append({"scenario": "audit", "story": audit.DEMO_STORY, "expect": "fail", "report": json.loads(buf.getvalue())})
            else:
                rule = "=" * 100
                outputs.append(f"{rule}\nScenario {total}/{total}: audit (probe audit)\n{rule}\n{buf.getvalue()}\n")
            if got_code != 1:
                mismatches.append(f"audit: expected verdict fail, got exit {got_code}")
    if fmt == "json":
        text = json.dumps({"demo": documents, "mismatches": mismatches}, indent=2) + "\n"
    else:
        text = "".join(outputs)
        text += (
            f"Demo: {ran} scenario{'s' if ran != 1 else ''}, each diagnosed as expected.\n"
            if not mismatches
            else "Demo: some scenarios were not diagnosed as expected:\n" + "".join(f"  {m}\n" for m in mismatches)
        )
    write_report(text, opts.get("output"), stdout)
    return 0 if not mismatches else 1
