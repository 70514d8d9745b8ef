"""shim and its POSIX sh twin, one suite for both: real processes, real shells, real PID 1.

The namespace tests run the shim as PID 1 of a fresh PID and mount namespace
(`unshare --pid --fork --mount-proc`) with a temporary folder bind-mounted over
/etc/profile.d and a temporary HOME, then look at what later processes see.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import pytest

from helpers import REPO, NetnsHost, clean_env, need, netns_available
from probe.emulator import Emulator
from shim.__main__ import build_parser

SH_TWIN = os.path.join(REPO, "shim", "ecs-shim.sh")
IMPLS = {
    "python": [sys.executable, "-m", "shim"],
    "sh": ["/bin/sh", SH_TWIN],
}
URI = "/v2/credentials/1f6b1a52-7a3e-4c1e-9b7a-5e2d1c3b4a69"
HOSTILE = [
    pytest.param("it's a 'quoted' \"value\"", id="quotes"),
    pytest.param("$(touch {marker})", id="command-substitution"),
    pytest.param("`touch {marker}`", id="backticks"),
    pytest.param("x; touch {marker}; y", id="semicolons"),
    pytest.param("line one\nline two\n\n", id="newlines"),
    pytest.param("'\\''; touch {marker}; echo '", id="quote-escape-attempt"),
    pytest.param("${HOME} $PATH \\n \\ end\\", id="expansions-and-backslashes"),
    pytest.param("é ✓ 日本", id="unicode"),
    pytest.param("v" * 100_000, id="very-long"),
    pytest.param("", id="empty"),
]
SHELLS = ["sh", "dash", "bash", "busybox", "zsh"]


@pytest.fixture(params=sorted(IMPLS), ids=lambda p: f"{p}-shim")
def impl(request: pytest.FixtureRequest) -> list[str]:
    return IMPLS[request.param]


HOST_PROFILE_D = "/etc/profile.d/ecs-credentials.sh"


@pytest.fixture(autouse=True)
def host_profile_untouched() -> Iterator[None]:
    """No test may write this machine's own /etc/profile.d (it would reach every login)."""
    before = os.path.exists(HOST_PROFILE_D)
    yield
    assert os.path.exists(HOST_PROFILE_D) == before, f"a test wrote {HOST_PROFILE_D} on this machine"


def run_shim(
    impl: Sequence[str],
    args: Sequence[str],
    env: dict[str, str],
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the shim. As root, inside a mount namespace whose /etc/profile.d is a private
    empty folder, so the default profile.d write never reaches this machine."""
    argv = [*impl, *args]
    if os.geteuid() == 0 and shutil.which("unshare"):
        scratch = Path(env["HOME"]).parent / "profile.d-scratch"
        scratch.mkdir(exist_ok=True)
        argv = ["unshare", "--mount", "sh", "-c", f'mount --bind "{scratch}" /etc/profile.d && exec "$@"', "shim-test", *argv]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    for line in proc.stderr.splitlines():
        assert line.startswith("shim: ") or line.startswith("usage"), f"stderr line without 'shim:': {line!r}"
    return proc


def shim_env(home: str, **extra: str) -> dict[str, str]:
    return clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": URI, "AWS_REGION": "eu-west-1", **extra})


def source_in(shell: str, path: str, name: str) -> bytes:
    """Source the file in a fresh shell and return the variable's exact bytes."""
    argv = {"busybox": ["busybox", "sh"]}.get(shell, [shell])
    need(shutil.which(argv[0]) is not None, f"{argv[0]} is not installed")
    script = f'. "{path}"; printf "%s" "${{{name}-UNSET}}"'
    return subprocess.run([*argv, "-c", script], env={"PATH": os.environ["PATH"]}, capture_output=True, timeout=30, check=True).stdout


# ---------------------------------------------------------------------------------------
# Files: quoting, blocks, atomicity, permissions (no root needed)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_values_round_trip_and_run_nothing(impl: list[str], home: str, tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    value = template.replace("{marker}", str(marker))
    out = tmp_path / "profile"
    proc = run_shim(impl, ["--no-default-profiles", "--profile", str(out), "--var", "APP_SETTING"], shim_env(home, APP_SETTING=value))
    assert proc.returncode == 0, proc.stderr
    for shell in SHELLS:
        got = source_in(shell, str(out), "APP_SETTING")
        assert got == value.encode(), f"{shell} read {got[:80]!r}"
        assert source_in(shell, str(out), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") == URI.encode()
    assert not marker.exists(), "a value ran code when sourced"


def test_both_implementations_write_the_same_bytes(home: str, tmp_path: Path) -> None:
    env = shim_env(home, APP_SETTING="a'b\nc $(x)", ECS_AGENT_URI="http://169.254.170.2/api/x")
    outputs = []
    for name, argv in sorted(IMPLS.items()):
        out = tmp_path / f"profile-{name}"
        out.write_text("# user line\nexport KEEP=1\n")
        assert run_shim(argv, ["--no-default-profiles", "--profile", str(out), "--var", "APP_SETTING"], env).returncode == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_block_is_replaced_in_place_never_duplicated(impl: list[str], home: str) -> None:
    profile = Path(home) / ".profile"
    profile.write_text("# before\nexport EDITOR=vi\n")
    for region in ("eu-west-1", "us-east-2", "ap-south-1"):
        assert run_shim(impl, [], shim_env(home, AWS_REGION=region)).returncode == 0
        profile.write_text(profile.read_text() + f"# after {region}\n")
    text = profile.read_text()
    assert text.count("# >>> ecs-credential-probe shim >>>") == 1
    assert text.startswith("# before\nexport EDITOR=vi\n# >>> ecs-credential-probe shim >>>\n")
    assert text.endswith("# after eu-west-1\n# after us-east-2\n# after ap-south-1\n")
    assert source_in("sh", str(profile), "AWS_REGION") == b"ap-south-1"


def test_never_writes_through_a_planted_symlink(impl: list[str], home: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, Path(home) / ".profile")
    assert run_shim(impl, [], shim_env(home)).returncode == 0
    assert victim.read_text() == "precious\n"
    profile = Path(home) / ".profile"
    assert not profile.is_symlink() and "precious" not in profile.read_text()
    assert URI in profile.read_text()


def test_several_profiles_in_one_folder(impl: list[str], home: str, tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.sh", "b.sh", "c.sh")]
    args = ["--no-default-profiles"] + [x for p in paths for x in ("--profile", str(p))]
    proc = run_shim(impl, args, shim_env(home))
    # A bare run (no command) says what it wrote, one line per file.
    assert proc.returncode == 0 and proc.stderr == "".join(f"shim: wrote {p}: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_REGION\n" for p in paths)
    for p in paths:
        assert source_in("sh", str(p), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") == URI.encode()


def test_permissions(impl: list[str], home: str, tmp_path: Path) -> None:
    out = tmp_path / "p"
    assert run_shim(impl, ["--no-default-profiles", "--profile", str(out)], shim_env(home)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    env = shim_env(home, DB_PASSWORD="hunter2-but-longer")
    assert run_shim(impl, ["--no-default-profiles", "--profile", str(out), "--var", "DB_PASSWORD"], env).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".ecs-shim-")]
    assert leftovers == []


def test_environment_file_holds_plain_values_only(impl: list[str], home: str, tmp_path: Path) -> None:
    envfile = tmp_path / "environment"
    envfile.write_text('LANG="C.UTF-8"\n')
    env = shim_env(home, APP_SETTING="has space; $(x)")
    proc = run_shim(impl, ["--no-default-profiles", "--environment-file", str(envfile), "--var", "APP_SETTING", "--", "true"], env)
    assert proc.returncode == 0
    text = envfile.read_text()
    assert text.startswith('LANG="C.UTF-8"\n')
    assert f"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={URI}\n" in text and "AWS_REGION=eu-west-1\n" in text
    assert "APP_SETTING" not in text and "pam_env cannot hold" in proc.stderr


def test_unwritable_profile_still_starts_the_app_unless_strict(impl: list[str], home: str) -> None:
    args = ["--no-default-profiles", "--profile", "/nonexistent/dir/profile", "--", "sh", "-c", "echo started; exit 3"]
    proc = run_shim(impl, args, shim_env(home))
    assert proc.returncode == 3 and proc.stdout == "started\n"
    assert "shim: cannot write /nonexistent/dir/profile" in proc.stderr
    proc = run_shim(impl, ["--strict", *args], shim_env(home))
    assert proc.returncode == 1 and proc.stdout == ""


def test_no_command_writes_and_exits_0(impl: list[str], home: str) -> None:
    proc = run_shim(impl, [], shim_env(home))
    assert proc.returncode == 0
    assert URI in (Path(home) / ".profile").read_text()


@pytest.mark.parametrize("code", [0, 1, 2, 127, 255])
def test_exit_codes_pass_through(impl: list[str], home: str, code: int) -> None:
    proc = run_shim(impl, ["--no-default-profiles", "--", "sh", "-c", f"exit {code}"], shim_env(home))
    assert proc.returncode == code


def test_command_not_found_and_not_executable(impl: list[str], home: str, tmp_path: Path) -> None:
    proc = run_shim(impl, ["--no-default-profiles", "--", "no-such-command-xyz"], shim_env(home))
    assert proc.returncode == 127 and "shim: no-such-command-xyz: command not found" in proc.stderr
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\necho hi\n")
    proc = run_shim(impl, ["--no-default-profiles", "--", str(plain)], shim_env(home))
    assert proc.returncode == 126 and "not executable" in proc.stderr


def test_profile_d_is_written_whole(impl: list[str], home: str, tmp_path: Path) -> None:
    """Without root or a namespace we cannot replace /etc/profile.d; check the format via --profile."""
    out = tmp_path / "p"
    run_shim(impl, ["--no-default-profiles", "--profile", str(out)], shim_env(home, ECS_CONTAINER_METADATA_URI_V4="http://169.254.170.2/v4/abc"))
    text = out.read_text()
    assert "export ECS_CONTAINER_METADATA_URI_V4='http://169.254.170.2/v4/abc'\n" in text
    assert text.index("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") < text.index("AWS_REGION"), "the contract's order"


# ---------------------------------------------------------------------------------------
# --wait against the loopback emulator
# ---------------------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(imds=None, sts=None) as e:
        e.give_task_role("wait-role")
        yield e


def wait_env(emu: Emulator, home: str) -> dict[str, str]:
    return clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": emu.task_env()["AWS_CONTAINER_CREDENTIALS_FULL_URI"]})


def test_wait_holds_the_app_until_credentials_work(impl: list[str], home: str, emu: Emulator) -> None:
    need(shutil.which("curl") is not None or shutil.which("wget") is not None, "the sh twin's --wait needs curl or wget")
    emu.update({"behaviour": "uninitialized"})
    ready_at: list[float] = []

    def agent_recovers() -> None:
        time.sleep(1.5)
        emu.update({"behaviour": "ok"})
        ready_at.append(time.time())

    threading.Thread(target=agent_recovers, daemon=True).start()
    proc = run_shim(impl, ["--no-default-profiles", "--wait", "10", "--", sys.executable, "-c", "import time; print(time.time())"], wait_env(emu, home))
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) >= ready_at[0], "the app started before the credentials worked"
    assert emu.state.requests["credentials"] >= 2


def test_wait_timeout_starts_anyway_or_fails_strict(impl: list[str], home: str, emu: Emulator) -> None:
    need(shutil.which("curl") is not None or shutil.which("wget") is not None, "the sh twin's --wait needs curl or wget")
    emu.update({"behaviour": "uninitialized"})
    proc = run_shim(impl, ["--no-default-profiles", "--wait", "1", "--", "echo", "started"], wait_env(emu, home))
    assert proc.returncode == 0 and proc.stdout == "started\n" and "starting anyway" in proc.stderr
    proc = run_shim(impl, ["--no-default-profiles", "--strict", "--wait", "1", "--", "echo", "started"], wait_env(emu, home))
    assert proc.returncode == 1 and proc.stdout == ""


# ---------------------------------------------------------------------------------------
# As PID 1 of a fresh PID + mount namespace (root)
# ---------------------------------------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import json, os, subprocess, sys
    out, home = sys.argv[1], sys.argv[2]
    name = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    show = 'printf "%s" "${' + name + '-UNSET}"'
    def run(argv):
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    with open("/proc/1/cmdline", "rb") as fh:
        cmdline = fh.read().split(b"\\0")[0].decode()
    result = {
        "pid": os.getpid(),
        "pid1_cmdline": cmdline,
        "sh -l": run(["env", "-i", "sh", "-l", "-c", show]),
        "bash -l": run(["env", "-i", "HOME=" + home, "bash", "-l", "-c", show]),
        "su - nobody": run(["su", "-s", "/bin/sh", "-", "nobody", "-c", show]),
        "sh -c": run(["env", "-i", "sh", "-c", show]),
    }
    with open(out, "w") as fh:
        json.dump(result, fh)
    """
)


def in_pid_namespace(tmp_path: Path, inner: Sequence[str], env: dict[str, str], readonly: bool = False, netns: Optional[str] = None) -> subprocess.Popen[str]:
    """Start ``inner`` as PID 1 of a new PID + mount namespace, /etc/profile.d replaced by a temp folder."""
    why = netns_available() if netns else (None if os.geteuid() == 0 else "needs root for unshare --pid")
    need(why is None, why or "")
    need(shutil.which("unshare") is not None, "needs unshare (util-linux)")
    profile_d = tmp_path / "profile.d"
    profile_d.mkdir(exist_ok=True)
    profile_d.chmod(0o755)
    ro = " && mount -o remount,bind,ro /etc/profile.d" if readonly else ""
    script = f'mount --bind "{profile_d}" /etc/profile.d{ro} && exec "$@"'
    cmd = ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "pid1", *inner]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.mark.parametrize("value", [pytest.param(URI, id="agent-uri"), pytest.param("/v2/credentials/it's $(odd)\nvalue", id="hostile")])
def test_as_pid1_login_shells_and_su_see_the_variable(impl: list[str], home: str, tmp_path: Path, value: str) -> None:
    os.chmod(home, 0o755)
    result = tmp_path / "result.json"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": value})
    rc, _, err = finish(in_pid_namespace(tmp_path, [*impl, "--", sys.executable, str(driver), str(result), home], env))
    assert rc == 0, err
    got = json.loads(result.read_text())
    assert got["pid"] == 1, "the command must keep PID 1 after exec"
    assert got["pid1_cmdline"] == sys.executable
    assert got["sh -l"] == value
    assert got["bash -l"] == value
    assert got["su - nobody"] == value
    assert got["sh -c"] == "UNSET", "a non-login shell reads no profile (see README)"
    assert stat.S_IMODE((tmp_path / "profile.d" / "ecs-credentials.sh").stat().st_mode) == 0o644


def test_as_pid1_sigterm_reaches_the_command(impl: list[str], home: str, tmp_path: Path) -> None:
    import psutil

    flag = tmp_path / "got-sigterm"
    app = textwrap.dedent(
        f"""
        import os, signal, sys, time
        def on_term(signum, frame):
            open({str(flag)!r}, "w").write(str(os.getpid()))
            sys.exit(42)
        signal.signal(signal.SIGTERM, on_term)
        open({str(flag) + '.ready'!r}, "w").close()
        time.sleep(60)
        """
    )
    proc = in_pid_namespace(tmp_path, [*impl, "--", sys.executable, "-c", app], shim_env(home))
    ready = Path(str(flag) + ".ready")
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert ready.exists(), proc.stderr.read() if proc.poll() is not None and proc.stderr else "app did not start"
    # unshare --fork -> its child is the namespace's PID 1.
    pid1 = psutil.Process(proc.pid).children()[0]
    assert pid1.cmdline()[0] == sys.executable
    os.kill(pid1.pid, signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 42, err
    assert flag.read_text() == "1"


def test_as_pid1_read_only_profile_d_still_starts_the_app(impl: list[str], home: str, tmp_path: Path) -> None:
    proc = in_pid_namespace(tmp_path, [*impl, "--", "sh", "-c", "echo app running as $$"], shim_env(home), readonly=True)
    rc, out, err = finish(proc)
    assert rc == 0 and out == "app running as 1\n"
    assert "cannot write /etc/profile.d/ecs-credentials.sh" in err
    assert URI in (Path(home) / ".profile").read_text(), "~/.profile is still written"
    proc = in_pid_namespace(tmp_path, [*impl, "--strict", "--", "sh", "-c", "echo app running"], shim_env(home), readonly=True)
    rc, out, _ = finish(proc)
    assert rc == 1 and out == ""


def test_knowledge_center_scenario_end_to_end(impl: list[str], home: str, tmp_path: Path) -> None:
    """A clean login shell's boto3 gets the instance role without the shim, the task role with it."""
    why = netns_available()
    need(why is None, why or "")
    client = tmp_path / "whoami.py"
    client.write_text(
        "import boto3\n"
        "sts = boto3.client('sts', region_name='us-east-1', endpoint_url='http://127.0.0.1:5000')\n"
        "print(sts.get_caller_identity()['Arn'])\n"
    )
    login = f"env -i HOME={home} sh -l -c '{sys.executable} {client}'"
    with NetnsHost() as host:
        env = host.task_env(home)
        for use_shim, expected in ((False, "assumed-role/ecsInstanceRole/i-0abc1234def567890"), (True, f"assumed-role/ecsTaskRole/{host.state['task_id']}")):
            for stale in (tmp_path / "profile.d" / "ecs-credentials.sh", Path(home) / ".profile"):
                if stale.exists():
                    stale.unlink()
            inner = [*(impl + ["--"] if use_shim else []), "sh", "-c", login]
            rc, out, err = finish(in_pid_namespace(tmp_path, inner, env, netns=host.name))
            assert rc == 0, err
            assert out.strip() == f"arn:aws:sts::123456789012:{expected}", (use_shim, out, err)


def test_probe_shim_profile_check_as_pid1(impl: list[str], home: str, tmp_path: Path) -> None:
    """The probe's shim.profile check in the same namespace: pass after the shim, fail when stale."""
    probe = [sys.executable, "-m", "probe", "--json", "--only", "shim.profile"]
    env = shim_env(home)
    rc, out, err = finish(in_pid_namespace(tmp_path, [*impl, "--", *probe], env))
    check = json.loads(out)["checks"][-1]
    assert check["id"] == "shim.profile" and check["status"] == "pass", (check, err)
    assert "/etc/profile.d/ecs-credentials.sh" in check["detail"]
    # The next container start gets a new credentials id, but nothing rewrites the profiles.
    newer = shim_env(home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/9d0c2b7e-0000-4f1a-8c3d-2b1e0f9a8c77")
    rc, out, err = finish(in_pid_namespace(tmp_path, probe, newer))
    check = json.loads(out)["checks"][-1]
    assert rc == 1 and check["status"] == "fail", (check, err)
    assert "differs from PID 1's value" in check["detail"]
    assert URI.rsplit("/", 1)[1] not in out and "9d0c2b7e-0000" not in out


def test_dockerfile_example_uses_the_shim_in_exec_form() -> None:
    """No Docker engine here: check what can be checked without building the image."""
    text = (Path(REPO) / "Dockerfile.example").read_text()
    entrypoints = [json.loads(line.split(None, 1)[1]) for line in text.splitlines() if line.startswith("ENTRYPOINT ")]
    assert len(entrypoints) == 2
    for ep in entrypoints:
        assert ep[0] in ("shim", "/usr/local/bin/ecs-shim") and "--" in ep, ep
        # The options must be ones the shim accepts, leaving the CMD as the command.
        args = build_parser().parse_args([*ep[1:], "supervisord", "-n"])
        assert args.command[-2:] == ["supervisord", "-n"]
    copied = [line.split()[1] for line in text.splitlines() if line.startswith("COPY shim/")]
    assert copied == ["shim/ecs-shim.sh"] and os.path.isfile(os.path.join(REPO, copied[0]))


# ---------------------------------------------------------------------------------------
# Edge cases found in review: both implementations must behave the same
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("full_uri", ["http://0.0.0.0:{port}/v2/credentials/x", "http://vm:{port}/creds", "http://127.0.0.1:abc/x", "ftp://127.0.0.1:{port}/"])
def test_wait_never_sends_the_token_to_a_refused_host(impl: list[str], home: str, emu: Emulator, full_uri: str) -> None:
    port = emu.url("agent").rsplit(":", 1)[1]
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": full_uri.format(port=port), "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok-123456789"})
    proc = run_shim(impl, ["--no-default-profiles", "--wait", "1", "--", "echo", "started"], env)
    assert proc.returncode == 0 and proc.stdout == "started\n"
    assert "no usable credentials variable" in proc.stderr
    assert emu.state.requests.get("credentials", 0) == 0


def test_sh_twin_keeps_the_token_off_command_lines(home: str, emu: Emulator) -> None:
    need(shutil.which("curl") is not None, "needs curl")
    token = "tok-" + os.urandom(12).hex()
    emu.update({"behaviour": "hang", "hang_seconds": 3, "auth_token": token})
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": emu.task_env()["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "AWS_CONTAINER_AUTHORIZATION_TOKEN": token})
    proc = subprocess.Popen([*IMPLS["sh"], "--no-default-profiles", "--wait", "2", "--", "true"], env=env, stderr=subprocess.PIPE, text=True)
    seen_curl = False
    try:
        while proc.poll() is None:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmdline = fh.read()
                except OSError:
                    continue
                seen_curl = seen_curl or cmdline.startswith(b"curl\0")
                assert token.encode() not in cmdline, "the token is visible in /proc/PID/cmdline"
            time.sleep(0.01)
    finally:
        proc.wait(timeout=30)
    assert seen_curl, "curl was never seen running"


def test_wait_survives_any_endpoint_url(impl: list[str], home: str) -> None:
    env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/a b"})
    proc = run_shim(impl, ["--no-default-profiles", "--wait", "0.5", "--", "echo", "started"], env)
    assert proc.returncode == 0 and proc.stdout == "started\n"


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e0", "", "abc"])
def test_bad_wait_values_are_usage_errors(impl: list[str], home: str, value: str) -> None:
    proc = run_shim(impl, ["--no-default-profiles", "--wait", value, "--", "echo", "started"], shim_env(home))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("shim: ")


def test_bad_var_names_are_ignored_alike(impl: list[str], home: str, tmp_path: Path) -> None:
    out = tmp_path / "p"
    env = shim_env(home, AWS_SECRET_ACCESS_KEY="do-not-write-me", FOO="x")
    proc = run_shim(impl, ["--no-default-profiles", "--profile", str(out), "--var", "FOO AWS_SECRET_ACCESS_KEY", "--var", "", "--var", "*"], env)
    assert proc.returncode == 0
    assert proc.stderr.count("ignoring --var") == 3
    text = out.read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "FOO" not in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_fifo_and_directory_targets(impl: list[str], home: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo-profile"
    os.mkfifo(fifo)
    folder = tmp_path / "dir-profile"
    folder.mkdir()
    args = ["--no-default-profiles", "--profile", str(fifo), "--profile", str(folder), "--", "echo", "started"]
    proc = run_shim(impl, args, shim_env(home), timeout=20)
    assert proc.returncode == 0 and proc.stdout == "started\n"
    assert stat.S_ISREG(fifo.stat().st_mode) and URI in fifo.read_text()
    assert f"cannot write {folder}" in proc.stderr
    assert os.listdir(folder) == [] and [p.name for p in tmp_path.iterdir() if p.name.startswith(".ecs-shim-")] == []


def test_a_stray_begin_marker_keeps_the_users_lines(impl: list[str], home: str) -> None:
    profile = Path(home) / ".profile"
    profile.write_text("# >>> ecs-credential-probe shim >>>\nexport EDITOR=vi\nalias ll='ls -l'")
    assert run_shim(impl, [], shim_env(home)).returncode == 0
    text = profile.read_text()
    assert text.startswith("export EDITOR=vi\nalias ll='ls -l'\n# >>> ecs-credential-probe shim >>>\n")
    assert text.count("# >>> ecs-credential-probe shim >>>") == 1


def test_exec_like_a_shell(impl: list[str], home: str, tmp_path: Path) -> None:
    script = tmp_path / "no-shebang"
    script.write_text("echo ran by sh\nexit 7\n")
    script.chmod(0o755)
    proc = run_shim(impl, ["--no-default-profiles", "--", str(script)], shim_env(home))
    assert proc.returncode == 7 and proc.stdout == "ran by sh\n"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "tool").write_text("#!/bin/sh\necho hi\n")
    env = shim_env(home)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    proc = run_shim(impl, ["--no-default-profiles", "--", "tool"], env)
    assert proc.returncode == 126 and "not executable" in proc.stderr


def test_same_bytes_with_awkward_existing_files(home: str, tmp_path: Path) -> None:
    existing = "first\r\nno newline at the end"
    outputs = []
    for name, argv in sorted(IMPLS.items()):
        out = tmp_path / f"p-{name}"
        out.write_text(existing)
        assert run_shim(argv, ["--no-default-profiles", "--profile", str(out)], shim_env(home)).returncode == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"first\r\nno newline at the end\n# >>> ")


def test_version(impl: list[str], home: str) -> None:
    from probe import __version__

    for flag in ("--version", "-V"):
        proc = subprocess.run([*impl, flag], capture_output=True, text=True, timeout=30, env=shim_env(home))
        assert proc.returncode == 0 and proc.stdout.strip() == f"shim (ecs-credential-probe) {__version__}", (proc.stdout, proc.stderr)


# ---------------------------------------------------------------------------------------
# --dry-run, what a bare run says, and files left as they are (issue 13)
# ---------------------------------------------------------------------------------------

NAMES = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_REGION"
PROFILE_D = "/etc/profile.d/ecs-credentials.sh"
SECRET_ID = URI.rsplit("/", 1)[1]


def scratch_profile_d(home: str) -> Path:
    """The folder run_shim mounts over /etc/profile.d (as root)."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a private /etc/profile.d")
    folder = Path(home).parent / "profile.d-scratch"
    folder.mkdir(exist_ok=True)
    return folder


def tree(*folders: Path) -> dict[str, tuple[bytes, int, int, int, int, int]]:
    """Every file under the folders: bytes, inode, mtime, mode, owner, group."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            st = path.lstat()
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            out[str(path)] = (data, st.st_ino, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)
    return out


def test_dry_run_writes_nothing_starts_nothing_and_shows_no_secret(impl: list[str], home: str, tmp_path: Path, emu: Emulator) -> None:
    profile_d = scratch_profile_d(home)
    (Path(home) / ".profile").write_text("# mine\nexport EDITOR=vi\n")
    extra = tmp_path / "extra.sh"
    extra.write_text("# >>> ecs-credential-probe shim >>>\nexport AWS_REGION='old'\n# <<< ecs-credential-probe shim <<<\n")
    envfile = tmp_path / "environment"
    envfile.write_text('LANG="C.UTF-8"\n')
    token = "tok-" + os.urandom(12).hex()
    full = emu.task_env()["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    env = shim_env(home, AWS_CONTAINER_AUTHORIZATION_TOKEN=token, APP_TOKEN=token, DB_URL="postgres://app:pw-" + SECRET_ID + "@db/x?sslkey=K1Zq")  # capitals: never in a temporary name
    marker = tmp_path / "started"
    before = tree(profile_d, Path(home), tmp_path)
    args = [
        "--profile", str(extra), "--environment-file", str(envfile), "--var", "APP_TOKEN", "--var", "DB_URL",
        "--var", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "--wait", "30", "--dry-run", "--", "sh", "-c", f"touch {marker}",
    ]
    proc = run_shim(impl, args, env)
    assert proc.returncode == 0, proc.stderr
    assert tree(profile_d, Path(home), tmp_path) == before, "--dry-run changed a file"
    assert not marker.exists(), "--dry-run started the command"
    assert emu.state.requests.get("credentials", 0) == 0, "--dry-run asked the credentials endpoint"
    out = proc.stdout
    assert "would write /etc/profile.d/ecs-credentials.sh (the whole file, mode 0600):\n# >>> ecs-credential-probe shim >>>\n" in out
    assert f"would add the block to {home}/.profile (owner kept; group and others lose access):\n" in out
    assert f"would replace the block in {extra} (owner kept; group and others lose access):\n" in out
    assert f"would add the block to {envfile} " in out
    assert "export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI='/v2/credentials/****'\n" in out
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/****\n" in out
    assert "export APP_TOKEN='****'\n" in out and "export AWS_CONTAINER_AUTHORIZATION_TOKEN='****'\n" in out
    assert "export DB_URL='postgres://app:****@db/x?sslkey=****'\n" in out
    assert "would wait up to 30 s for the credentials endpoint\n" in out
    assert out.endswith("dry run: nothing written; not started: sh\n")
    for secret in (SECRET_ID, token, "K1Zq"):
        assert secret not in out and secret not in proc.stderr
    assert full  # the emulator served no request: nothing to mask there


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param({}, id="fresh"),
        pytest.param({".profile": "# mine\n", "p": "a\n# >>> ecs-credential-probe shim >>>\nold\n# <<< ecs-credential-probe shim <<<\nb\n"}, id="existing"),
        pytest.param({"p": "x\n# >>> ecs-credential-probe shim >>>\nno end\n"}, id="stray-marker"),
    ],
)
@pytest.mark.parametrize("private", [False, True], ids=["plain", "private"])
def test_dry_run_prints_the_same_in_both_twins(home: str, tmp_path: Path, setup: dict[str, str], private: bool) -> None:
    scratch_profile_d(home)
    env = shim_env(home, APP_SETTING="it's $(x)\nline", DB_PASSWORD="hunter2-longer", ECS_CONTAINER_METADATA_URI_V4="http://169.254.170.2/v4/abc-123", AWS_CONTAINER_CREDENTIALS_FULL_URI="http://u:pw@127.0.0.1:9/c?id=zz")
    args = ["--profile", str(tmp_path / "p"), "--environment-file", str(tmp_path / "env"), "--var", "APP_SETTING", *(["--var", "DB_PASSWORD"] if private else []), "--dry-run"]
    outputs = []
    for _, argv in sorted(IMPLS.items()):
        for name, text in setup.items():
            (Path(home) / name if name.startswith(".") else tmp_path / name).write_text(text)
        proc = run_shim(argv, args, env)
        assert proc.returncode == 0, proc.stderr
        outputs.append((proc.stdout, proc.stderr))
    assert outputs[0] == outputs[1]
    assert "pw" not in outputs[0][0].replace("password", "") and "zz" not in outputs[0][0] and SECRET_ID not in outputs[0][0]


MASK_TABLE = [
    "/v2/credentials/1f6b1a52-7a3e-4c1e-9b7a-5e2d1c3b4a69",
    "/v2/credentials/abc?id=secret&x",
    "/v2/credentials/secret?",
    "/v2/credentials/secret?&",
    "/v2/credentials/",
    "/creds?id=abc&&b=2&",
    "/",
    "//evil.example/x",
    "@attacker/x",
    "v2/credentials/x",
    "",
    "é/x",
    "/V2/Credentials/tas\u212a",
    "/v2//x/",
]
URL_TABLE = [
    "http://169.254.170.23/v1/credentials",
    "http://user:pass@127.0.0.1:80/x?a=1&b#frag",
    "https://a:b:c@d@host/path?token=t&&",
    "127.0.0.1:8080/x?q=1",
    "http://host/path?",
]


@pytest.mark.parametrize("value", MASK_TABLE)
def test_dry_run_masks_the_relative_uri_alike_in_both_twins(home: str, tmp_path: Path, value: str) -> None:
    from shim import mask

    out = tmp_path / "p"
    shown = []
    for _, argv in sorted(IMPLS.items()):
        proc = run_shim(argv, ["--no-default-profiles", "--profile", str(out), "--dry-run"], shim_env(home, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=value))
        assert proc.returncode == 0, proc.stderr
        shown.append(proc.stdout.splitlines()[2])
    expected = mask.mask_relative_uri(value)
    assert shown == [f"export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={profile_quote(expected)}"] * 2
    for secret in ("1f6b1a52", "secret", "evil", "attacker"):
        assert secret not in shown[0]


@pytest.mark.parametrize("value", URL_TABLE)
def test_dry_run_masks_urls_alike_in_both_twins(home: str, tmp_path: Path, value: str) -> None:
    from shim import mask

    out = tmp_path / "p"
    shown = []
    for _, argv in sorted(IMPLS.items()):
        env = clean_env(home, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": value})
        proc = run_shim(argv, ["--no-default-profiles", "--profile", str(out), "--dry-run"], env)
        shown.append(proc.stdout.splitlines()[2])
    assert shown == [f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={profile_quote(mask.mask_url(value))}"] * 2
    assert "pass" not in shown[0] and "b:c" not in shown[0] and "=1" not in shown[0] and "token=t" not in shown[0]


def profile_quote(value: str) -> str:
    from shim.profile import sh_quote

    return sh_quote(value)


@pytest.mark.parametrize("value", [v for v in MASK_TABLE if v.startswith("/") and not v.startswith("//") and "\u212a" not in v])
def test_shim_masks_a_relative_uri_as_the_probe_does(value: str) -> None:
    from probe import redact
    from shim import mask

    assert mask.mask_relative_uri(value) == redact.mask_relative_uri(value)


@pytest.mark.parametrize("value", [u for u in URL_TABLE if "://" in u and u.count("@") < 2])
def test_shim_masks_a_url_as_the_probe_does(value: str) -> None:
    from probe import redact
    from shim import mask

    assert mask.mask_url(value) == redact.mask_url(value)


def test_bare_run_says_what_it_wrote_and_a_command_hears_nothing(impl: list[str], home: str, tmp_path: Path) -> None:
    scratch_profile_d(home)
    envfile = tmp_path / "environment"
    env = shim_env(home, APP_SETTING="has space")
    args = ["--environment-file", str(envfile), "--var", "APP_SETTING"]
    proc = run_shim(impl, args, env)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        f"shim: wrote /etc/profile.d/ecs-credentials.sh: {NAMES} APP_SETTING",
        f"shim: wrote {home}/.profile: {NAMES} APP_SETTING",
        f"shim: not writing APP_SETTING to {envfile}: pam_env cannot hold its value",
        f"shim: wrote {envfile}: {NAMES}",
    ]
    proc = run_shim(impl, args, env)
    assert proc.stderr.splitlines()[1] == f"shim: unchanged {home}/.profile: {NAMES} APP_SETTING"
    # With a command the application's stderr gets nothing from the shim, changed files or not.
    for value in ("has space", "changed value"):
        proc = run_shim(impl, [*args, "--", "sh", "-c", "echo app"], shim_env(home, APP_SETTING=value))
        assert proc.returncode == 0 and proc.stdout == "app\n"
        assert proc.stderr == f"shim: not writing APP_SETTING to {envfile}: pam_env cannot hold its value\n"
    proc = run_shim(impl, ["--no-default-profiles", "--profile", str(tmp_path / "p")], clean_env(home))
    assert proc.stderr == f"shim: wrote {tmp_path / 'p'}: no variables\n"


def test_an_unchanged_file_is_not_renamed_a_changed_one_is_fixed(impl: list[str], home: str, tmp_path: Path) -> None:
    profile_d = scratch_profile_d(home)
    whole = profile_d / "ecs-credentials.sh"
    dotprofile = Path(home) / ".profile"
    dotprofile.write_text("# mine\n")
    extra, envfile = tmp_path / "extra.sh", tmp_path / "environment"
    args = ["--profile", str(extra), "--environment-file", str(envfile)]
    env = shim_env(home)
    assert run_shim(impl, args, env).returncode == 0
    files = [whole, dotprofile, extra, envfile]
    first = tree(profile_d, Path(home), tmp_path)
    proc = run_shim(impl, args, env)
    assert proc.stderr.splitlines() == [f"shim: unchanged {p}: {NAMES}" for p in [PROFILE_D, *files[1:]]]
    assert tree(profile_d, Path(home), tmp_path) == first, "an unchanged file was rewritten"

    def fixed(path: Path) -> None:
        inode = path.lstat().st_ino
        proc = run_shim(impl, args, env)
        shown = PROFILE_D if path == whole else path
        assert [line for line in proc.stderr.splitlines() if line.startswith("shim: wrote")] == [f"shim: wrote {shown}: {NAMES}"], proc.stderr
        assert path.lstat().st_ino != inode, "not replaced by a rename"
        assert run_shim(impl, args, env).stderr.count("shim: wrote") == 0, "not fixed for good"

    # Content: one value, one byte, a missing last newline, a duplicate block, a user's line
    # inside the block.
    whole.write_text(whole.read_text().replace("eu-west-1", "eu-west-2"))
    fixed(whole)
    dotprofile.write_bytes(dotprofile.read_bytes()[:-1])
    fixed(dotprofile)
    extra.write_text(extra.read_text() * 2)
    fixed(extra)
    envfile.write_text(envfile.read_text().replace("AWS_REGION", "export X=1\nAWS_REGION"))
    fixed(envfile)
    # Mode and owner of the whole file (the others keep theirs).
    whole.chmod(0o664)
    fixed(whole)
    assert stat.S_IMODE(whole.stat().st_mode) == 0o644
    os.chown(whole, 65534, 65534)
    fixed(whole)
    assert (whole.stat().st_uid, whole.stat().st_gid) == (0, 0)
    # A symlink with the right content behind it is replaced, never kept.
    target = tmp_path / "elsewhere"
    target.write_bytes(dotprofile.read_bytes())
    dotprofile.unlink()
    dotprofile.symlink_to(target)
    fixed(dotprofile)
    assert not dotprofile.is_symlink()
    # A secret --var makes every file private: the group-readable ones are narrowed.
    secret_env = shim_env(home, DB_PASSWORD="hunter2-longer")
    private_args = [*args, "--var", "DB_PASSWORD"]
    assert run_shim(impl, private_args, secret_env).returncode == 0
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in files)
    before = tree(profile_d, Path(home), tmp_path)
    assert run_shim(impl, private_args, secret_env).stderr.count("shim: wrote") == 0
    assert tree(profile_d, Path(home), tmp_path) == before
    extra.chmod(0o640)
    proc = run_shim(impl, private_args, secret_env)
    assert [line for line in proc.stderr.splitlines() if line.startswith("shim: wrote")] == [f"shim: wrote {extra}: {NAMES} DB_PASSWORD"]
    assert stat.S_IMODE(extra.stat().st_mode) == 0o600


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_values_are_recognised_as_unchanged(impl: list[str], home: str, tmp_path: Path, template: str) -> None:
    value = template.replace("{marker}", str(tmp_path / "pwned"))
    out = tmp_path / "profile"
    out.write_text("# before\n")
    args = ["--no-default-profiles", "--profile", str(out), "--var", "APP_SETTING"]
    env = shim_env(home, APP_SETTING=value)
    assert run_shim(impl, args, env).returncode == 0
    before = tree(tmp_path)
    proc = run_shim(impl, args, env)
    assert proc.stderr == f"shim: unchanged {out}: {NAMES} APP_SETTING\n"
    assert tree(tmp_path) == before


def test_sh_twin_runs_no_sync_and_one_mv_per_changed_file(home: str, tmp_path: Path) -> None:
    """What the start costs: no global sync, no mv for a file left as it is."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls"
    for name in ("sync", "mv", "rm", "chmod", "chown", "ls"):
        real = shutil.which(name)
        assert real
        (bindir / name).write_text(f'#!/bin/sh\necho "{name}" >> "{log}"\nexec {real} "$@"\n')
        (bindir / name).chmod(0o755)
    env = shim_env(home)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    a, b = tmp_path / "a.sh", tmp_path / "b.sh"
    args = ["--no-default-profiles", "--profile", str(a), "--profile", str(b), "--", "true"]

    def calls() -> list[str]:
        text = log.read_text() if log.exists() else ""
        log.unlink(missing_ok=True)
        return text.split()

    assert run_shim(IMPLS["sh"], args, env).returncode == 0
    assert calls() == ["mv", "mv"]
    assert run_shim(IMPLS["sh"], args, env).returncode == 0
    assert calls() == [], "a file left as it is cost a command"
    b.write_text(b.read_text().replace("eu-west-1", "eu-west-2"))
    assert run_shim(IMPLS["sh"], args, env).returncode == 0
    assert calls() == ["ls", "mv"]  # ls: b's owner and mode, kept


def _log_calls(tmp_path: Path, env: dict[str, str], names: Sequence[str]) -> Callable[[], list[str]]:
    """Put logging wrappers of ``names`` first on env's PATH; returns a function that gives
    (and forgets) the commands run since it was last called."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / "calls"
    for name in names:
        real = shutil.which(name)
        assert real
        (bindir / name).write_text(f'#!/bin/sh\necho "{name}" >> "{log}"\nexec {real} "$@"\n')
        (bindir / name).chmod(0o755)
    env["PATH"] = f"{bindir}:{env['PATH']}"

    def calls() -> list[str]:
        text = log.read_text() if log.exists() else ""
        log.unlink(missing_ok=True)
        return text.split()

    return calls


def test_sh_twin_first_start_with_the_defaults_runs_one_command_per_file(home: str, tmp_path: Path) -> None:
    """The defaults' first start: one mv for the whole file, one `sed -i` appending the block to
    ~/.profile (its mode and owner kept by sed; both in the background: any order); a restart:
    ls for the whole file's mode only. Without sed: ls for ~/.profile's mode, and a mv."""
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare (a private /etc/profile.d)")
    env = shim_env(home)
    calls = _log_calls(tmp_path, env, ("sync", "mv", "rm", "chmod", "chown", "ls", "cat", "stat", "sed"))
    profile = Path(home) / ".profile"
    whole = Path(home).parent / "profile.d-scratch" / "ecs-credentials.sh"  # run_shim's /etc/profile.d
    for mode in (0o644, 0o640):
        profile.write_text("# the image's ~/.profile\n")
        profile.chmod(mode)
        whole.unlink(missing_ok=True)
        inode = profile.stat().st_ino
        assert run_shim(IMPLS["sh"], ["--", "true"], env).returncode == 0
        assert sorted(calls()) == ["mv", "sed"]
        assert stat.S_IMODE(profile.stat().st_mode) == mode and stat.S_IMODE(whole.stat().st_mode) == 0o644
        assert profile.stat().st_ino != inode, "not replaced by a rename"
        block = whole.read_text()[whole.read_text().index("# >>> ecs-credential-probe shim >>>\n") :]
        assert profile.read_text() == "# the image's ~/.profile\n" + block
        assert [q.name for d in (Path(home), whole.parent) for q in d.iterdir() if q.name.startswith((".ecs-shim-", "sed"))] == []
        assert run_shim(IMPLS["sh"], ["--", "true"], env).returncode == 0
        assert calls() == ["ls"]
    # No sed on PATH: the mode read by ls, the file renamed by mv.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("mv", "ls", "rm", "chmod", "chown"):  # logged
        (bare / name).symlink_to(tmp_path / "bin" / name)
    for name in ("true", "sh", "unshare", "mount"):  # run_shim's own
        (bare / name).symlink_to(str(shutil.which(name)))
    env["PATH"] = str(bare)
    profile.write_text("# the image's ~/.profile\n")
    profile.chmod(0o640)
    whole.unlink()
    assert run_shim(IMPLS["sh"], ["--", "true"], env).returncode == 0
    assert sorted(calls()) == ["chmod", "ls", "mv", "mv"]  # chmod: 0640 is not a new file's mode
    assert stat.S_IMODE(profile.stat().st_mode) == 0o640 and profile.read_text() == "# the image's ~/.profile\n" + block


# (content, mode, a secret --var: the block is private, the file narrowed), and whether the sh
# twin appends with sed (else ls, mv and chmod).
APPEND_STARTS = {
    "plain": (b"# the image's ~/.profile\nmesg n 2> /dev/null || true\n", 0o644, False, True),
    "private-mode": (b"export PS1='$ '\n", 0o600, False, True),
    "group-writable": (b"umask 002\n", 0o664, False, True),
    "no-last-newline": (b"export A=1\nexport B=2", 0o644, False, False),
    "empty": (b"", 0o644, False, False),
    "stray-marker": (b"# >>> ecs-credential-probe shim >>>\nexport A=1\n", 0o644, False, False),
    "set-id": (b"export A=1\n", 0o4644, False, False),
    "secret-var": (b"export A=1\n", 0o644, True, False),
}


@pytest.mark.parametrize("start", sorted(APPEND_STARTS))
def test_twins_append_alike_with_gnu_and_busybox_tools(home: str, tmp_path: Path, start: str) -> None:
    """The block added to an existing profile (by the sh twin's `sed -i` where the result is
    plainly an append, else by its ls, mv and chmod: which ran is logged under dash) gives the same bytes
    and mode as the Python shim, with GNU sed and coreutils under dash and with busybox's
    applets under busybox sh (as in Alpine), and leaves no temporary file."""
    need(shutil.which("busybox") is not None, "needs busybox")
    content, mode, secret, by_sed = APPEND_STARTS[start]
    log = tmp_path / "calls"
    toolsets = {}
    for toolset, real in (("gnu", shutil.which), ("busybox", lambda name: f"{shutil.which('busybox')} {name}")):
        bindir = tmp_path / f"{toolset}-bin"
        bindir.mkdir()
        for name in ("sed", "mv", "ls", "rm", "chmod", "chown", "true"):
            (bindir / name).write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec {real(name)} "$@"\n')
            (bindir / name).chmod(0o755)
        for name in ("sh", "unshare", "mount", "busybox", "dash", "bash"):  # run_shim's own, the shells
            (bindir / name).symlink_to(str(shutil.which(name)))
        toolsets[toolset] = str(bindir)
    args = ["--no-default-profiles", "--var", "DB_PASSWORD"] if secret else ["--no-default-profiles"]
    names = f"{NAMES} DB_PASSWORD" if secret else NAMES
    results = {}
    runs = [("python", IMPLS["python"], None), ("dash", ["dash", SH_TWIN], toolsets["gnu"]), ("busybox", ["busybox", "sh", SH_TWIN], toolsets["busybox"])]
    if shutil.which("bash"):  # bash takes the pipeline where dash takes a here-document
        runs.append(("bash", ["bash", SH_TWIN], toolsets["gnu"]))
    for name, impl, path in runs:
        out = tmp_path / name / "profile"
        out.parent.mkdir()
        out.write_bytes(content)
        out.chmod(mode)
        env = shim_env(home, DB_PASSWORD="hunter2-but-longer")
        if path:
            env["PATH"] = path
        log.unlink(missing_ok=True)
        proc = run_shim(impl, [*args, "--profile", str(out)], env)
        assert proc.returncode == 0 and proc.stderr == f"shim: wrote {out}: {names}\n", proc.stderr
        results[name] = (out.read_text(), oct(stat.S_IMODE(out.stat().st_mode)))
        assert [q.name for q in out.parent.iterdir()] == ["profile"]
        if name in ("dash", "bash"):  # busybox sh runs its own applets whatever PATH holds: not logged
            ran = set(log.read_text().split()) if log.exists() else set()
            assert ("sed" in ran, "ls" in ran) == (by_sed, not by_sed), (name, ran)
    assert all(got == results["python"] for got in results.values()), results


def test_a_file_named_twice_is_written_once(impl: list[str], home: str, tmp_path: Path) -> None:
    """The same file under two spellings: written by the first, found up to date by the
    second (the sh twin settles a pending background rename to the same entry first)."""
    (tmp_path / "sub").mkdir()
    out = tmp_path / "p"
    out.write_text("# user line\n")
    spellings = [str(out), str(tmp_path / "sub" / ".." / "p"), str(tmp_path / "." / "p")]
    proc = run_shim(impl, ["--no-default-profiles", *(x for p in spellings for x in ("--profile", p))], shim_env(home))
    names = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_REGION"
    assert proc.stderr == f"shim: wrote {spellings[0]}: {names}\n" + "".join(f"shim: unchanged {p}: {names}\n" for p in spellings[1:])
    assert out.read_text().startswith("# user line\n# >>> ecs-credential-probe shim >>>\n")
    assert out.read_text().count("# >>> ecs-credential-probe shim >>>") == 1


def test_command_gets_the_umask_the_shim_was_started_with(impl: list[str], home: str, tmp_path: Path) -> None:
    """The files get their own modes (0644, or 0600 for a secret-looking --var) whatever the
    umask; the command starts with the umask the shim was given."""
    seen = tmp_path / "umask"
    under_027 = ["sh", "-c", 'umask 027 && exec "$@"', "umask-027", *impl]
    for extra, want in (([], 0o644), (["--var", "APP_TOKEN"], 0o600)):
        out = tmp_path / f"profile{len(extra)}"
        args = ["--no-default-profiles", "--profile", str(out), *extra, "--", "sh", "-c", f'umask > "{seen}"']
        proc = run_shim(under_027, args, shim_env(home, APP_TOKEN="t"))
        assert proc.returncode == 0, proc.stderr
        assert seen.read_text().strip() == "0027"
        assert stat.S_IMODE(out.stat().st_mode) == want


def test_python_shim_start_imports_no_heavy_module(home: str, tmp_path: Path) -> None:
    """The usual command line never imports argparse, re, typing, tempfile or ipaddress
    (milliseconds of every container start); -S: nothing imported by site either."""
    code = (
        "import sys; from shim.__main__ import main; rc = main(sys.argv[1:]); "
        "print(sorted(m for m in ('argparse', 're', 'typing', 'tempfile', 'ipaddress', 'shutil', 'random') if m in sys.modules)); "
        "raise SystemExit(rc)"
    )
    env = shim_env(home)
    env["PYTHONPATH"] = REPO
    out = tmp_path / "p"
    proc = subprocess.run([sys.executable, "-S", "-c", code, "--no-default-profiles", "--profile", str(out), "--strict", "--var", "X"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
    assert URI in out.read_text()


PARSE_TABLE = [
    [],
    ["--", "app"],
    ["app", "--profile", "x"],
    ["--profile", "a", "--profile=b", "--var", "X", "--var=Y", "--", "app", "-x"],
    ["--profile="],
    ["--profile", ""],
    ["--var", ""],
    ["--environment-file"],
    ["--environment-file", "--", "app"],
    ["--environment-file", "--strict", "app"],
    ["--environment-file", "--var=X", "app"],
    ["--environment-file", "/e", "app"],
    ["--environment-file", "app"],
    ["--environment-file="],
    ["--environment-file=/e", "--dry-run"],
    ["--wait", "5", "--wait=0.25", "--strict", "--no-default-profiles", "--", "app"],
    ["--wait", "10.0"],
    ["--strict", "--", "--profile", "x"],
    ["--", "app", "--", "x"],
    ["app", "--", "x"],
    ["--dry-run", "app", "--dry-run"],
    # Handed to argparse (parse_fast says None): abbreviations, odd values, a second --.
    ["--prof", "x"],
    ["--dry", "app"],
    ["--profile", "-x", "app"],
    ["--var", "--", "app"],
    ["--environment-file", "", "app"],
    ["--environment-file", "-1", "app"],
    ["--wait", "\u0663"],
    ["--", "--", "app"],
    ["", "app"],
    ["-", "app"],
]


@pytest.mark.parametrize("argv", PARSE_TABLE, ids=lambda a: " ".join(a) or "(none)")
def test_fast_parser_agrees_with_argparse(argv: list[str]) -> None:
    """parse_fast answers only what argparse answers the same way; the rest goes to argparse."""
    from shim.__main__ import parse_fast

    fast = parse_fast(argv)
    if fast is None:
        return
    ns = build_parser().parse_args(argv)
    command = ns.command[1:] if ns.command[:1] == ["--"] else ns.command
    assert {**vars(ns), "command": command} == vars(fast)
