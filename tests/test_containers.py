"""The product as its users deploy it: Dockerfile.example's stages built and run with podman.

- The images are built from this checkout on a local Debian base image (no registry is
  reachable: tests/containers/base-image.sh debootstraps bookworm once and caches it), with
  `--network host` and the machine's CA bundle mounted for pip, read through PIP_CERT at build
  time only.
- The containers join a network namespace the test made (`--network ns:/run/netns/NAME`), where
  the emulator serves the agent on 169.254.170.2 and IMDS on 169.254.169.254, and moto's STS
  listens on the namespace's 127.0.0.1:5000 (helpers.NetnsHost, as in tests/test_netns.py).
- The `app` stage runs as ECS runs it: the shim as ENTRYPOINT, the credentials variable given
  with -e, supervisord PID 1. ECS Exec's clean session is `podman exec C env -i sh -l`: plain
  `podman exec` would hand every exec the container's -e variables.
- The `probe` stage is the sidecar: `--pid container:APP` shares the application's PID
  namespace (the app's supervisord is PID 1 there).
- "pidMode": "task" as ECS builds it (issue 20): a static /pause (amazon-ecs-pause's layout,
  built here with gcc) holds the PID namespace as PID 1 without the credentials variable, and
  the app and the sidecars join it (`--pid container:PAUSE`): a cron-like `probe` in the app,
  ECS Exec's login shell, the sidecar as root with SYS_PTRACE (as examples/task-definition.json
  deploys it) and as the image's own user.
- probe.sh runs in a container whose root holds only Debian's busybox-static.

Podman here needs tests/containers/containers.conf (runc, cgroupfs, ulimits). Needs root,
podman, runc, debootstrap and ip: skipped without them, failed in CI (.ci/run installs them).
Every container and image the suite makes is removed at the end; the base image stays cached.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import pytest

from helpers import REPO, NetnsHost, assert_no_secrets, need, netns_available

pytestmark = pytest.mark.containers

HERE = Path(REPO) / "tests" / "containers"
CONTAINERS_CONF = HERE / "containers.conf"
LABEL = "ecs-credential-probe-test"
TAG = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
STS = "http://127.0.0.1:5000"  # moto, on the namespace's loopback: the containers share it
CA_CANDIDATES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
# What a botocore client resolves, and whom STS says it is (the access key id is no secret; the
# secret key and the token never leave the container).
WHOAMI = (
    "import json, botocore.session\n"
    "s = botocore.session.get_session()\n"
    "c = s.get_credentials()\n"
    "arn = s.create_client('sts').get_caller_identity()['Arn'] if c else None\n"
    "print(json.dumps({'method': c.method if c else None, 'key': c.access_key if c else None, 'arn': arn}))\n"
)


# ---- podman -----------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["podman", *args],
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} ... exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def _pid_alive(text: str) -> bool:
    try:
        os.kill(int(text.split("-")[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _remove_stale() -> None:
    """Containers and images of an earlier run that was killed before its clean-up (their
    label or tag names a pytest process that is gone); a live run's are left alone."""
    out = podman("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.ID}} {{index .Labels \"" + LABEL + "\"}}", check=False)
    stale = [line.split()[0] for line in out.stdout.splitlines() if len(line.split()) == 2 and not _pid_alive(line.split()[1])]
    # Sidecars first: a container another one joined cannot go before it.
    for cid in stale[::-1]:
        podman("rm", "-f", "-t", "0", cid, check=False)
    for cid in stale:
        podman("rm", "-f", "-t", "0", cid, check=False)
    images = podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    for ref in images:
        if ref.startswith(f"localhost/{LABEL}-") and not _pid_alive(ref.rsplit(":", 1)[1]):
            podman("rmi", "-f", ref, check=False)


@dataclass
class Images:
    base: str
    probe: str
    app: str
    busybox: str
    build_seconds: dict[str, float]


def _ca_bundle() -> Optional[str]:
    for name in CA_CANDIDATES:
        path = os.environ.get(name)
        if path and os.path.isfile(path):
            return path
    path = "/etc/ssl/certs/ca-certificates.crt"
    return path if os.path.isfile(path) else None


def _build(base: str, target: str, ref: str) -> float:
    """Build a stage of the real Dockerfile.example on the local base. Docker format keeps
    the HEALTHCHECK (the OCI format has none)."""
    args = ["build", "--format", "docker", "--network", "host", "--pull=never", "--label", f"{LABEL}={TAG}"]
    ca = _ca_bundle()
    if ca:
        # The bundle is mounted for the RUN steps only and named through the build argument:
        # no layer holds it.
        args += ["-v", f"{ca}:/run/ecp-build-ca.crt:ro", "--build-arg", "PIP_CERT=/run/ecp-build-ca.crt"]
    args += ["--build-arg", f"BASE={base}", "-f", "Dockerfile.example", "--target", target, "-t", ref, REPO]
    started = time.monotonic()
    podman(*args, timeout=900)
    return time.monotonic() - started


def _busybox_tar() -> bytes:
    """A root of Debian's busybox-static alone: /bin/busybox and a link per applet."""
    busybox = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)
    need(busybox is not None, "needs Debian's busybox-static (apt-get install busybox-static)")
    assert busybox is not None
    ldd = subprocess.run(["ldd", busybox], capture_output=True, text=True)
    need("not a dynamic executable" in ldd.stdout + ldd.stderr, f"{busybox} is not statically linked: needs busybox-static")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        def add_link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

        for d in ("bin", "usr", "usr/bin", "etc", "root", "proc", "sys", "dev"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        with open(busybox, "rb") as fh:
            add_file("bin/busybox", fh.read(), 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            add_link(f"bin/{applet}", "busybox")
        add_link("usr/bin/env", "/bin/busybox")
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\n")
    return buf.getvalue()


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Images]:
    need(os.geteuid() == 0, "needs root (podman with network namespaces the test makes)")
    for tool in ("podman", "runc", "debootstrap", "ip"):
        need(shutil.which(tool) is not None, f"needs {tool} (apt-get install podman runc debootstrap iproute2)")
    _remove_stale()
    before = set(podman("images", "-a", "-q", "--no-trunc").stdout.split())
    made = Images("", f"localhost/{LABEL}-probe:{TAG}", f"localhost/{LABEL}-app:{TAG}", f"localhost/{LABEL}-busybox:{TAG}", {})
    try:
        started = time.monotonic()
        out = subprocess.run(["sh", str(HERE / "base-image.sh")], env=_env(), capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        made.base = out.stdout.split()[-1]
        made.build_seconds["base"] = time.monotonic() - started
        before.add(podman("image", "inspect", "--format", "{{.Id}}", made.base).stdout.strip())
        made.build_seconds["probe"] = _build(made.base, "probe", made.probe)
        made.build_seconds["app"] = _build(made.base, "app", made.app)
        started = time.monotonic()
        tar = tmp_path_factory.mktemp("busybox") / "root.tar"
        tar.write_bytes(_busybox_tar())
        podman("import", "--change", 'CMD ["/bin/sh"]', str(tar), made.busybox)
        made.build_seconds["busybox"] = time.monotonic() - started
        yield made
    finally:
        for ref in (made.probe, made.app, made.busybox):
            podman("rmi", "-f", ref, check=False)
        # The build's intermediate images (untagged layers this run made). A tagged image is
        # never ours to remove unless named above: another run (or the user) may have made the
        # base, or its own images, while this one ran.
        after = podman("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}", check=False).stdout.splitlines()
        for image_id in [line.split()[0] for line in after if line.split()[1:] == ["<none>"] and line.split()[0] not in before]:
            podman("rmi", "-f", image_id, check=False)


# ---- the task: a namespace with the emulator, and the containers in it ---------------------
@pytest.fixture(scope="module")
def host(images: Images) -> Iterator[NetnsHost]:
    need(netns_available() is None, netns_available() or "")
    with NetnsHost() as h:
        yield h


def task_vars(host: NetnsHost, container_id: Optional[str] = None) -> dict[str, str]:
    """What the ECS agent injects into each container of the task (and the STS stand-in's
    address, where the real STS would be)."""
    return {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": f"/v2/credentials/{host.state['credentials_id']}",
        "ECS_CONTAINER_METADATA_URI_V4": f"http://169.254.170.2/v4/{container_id or host.state['container_id']}",
        "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_STS": STS,
    }


class Containers:
    """Containers a test starts, removed (the last started first) when it ends."""

    def __init__(self, host: NetnsHost) -> None:
        self.host = host
        self.names: list[str] = []

    def run(self, image: str, *cmd: str, env: Optional[dict[str, str]] = None, opts: Sequence[str] = ()) -> str:
        name = f"ecp-test-{uuid.uuid4().hex[:8]}"
        args = ["run", "-d", "--name", name, "--label", f"{LABEL}={TAG}", "--network", f"ns:/run/netns/{self.host.name}"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        self.names.append(name)
        podman(*args, *opts, image, *cmd)
        return name

    def remove_all(self) -> None:
        for name in reversed(self.names):
            podman("rm", "-f", "-t", "0", name, check=False)
        self.names.clear()


@dataclass
class Exec:
    rc: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def status(self, cid: str) -> str:
        found = [c["status"] for c in self.report["checks"] if c["id"] == cid]
        assert len(found) == 1, (cid, found)
        return found[0]


def exec_in(host: NetnsHost, container: str, *cmd: str, opts: Sequence[str] = (), timeout: float = 90) -> Exec:
    """`podman exec`, every output scanned for the task's secrets; never a traceback."""
    proc = podman("exec", *opts, container, *cmd, check=False, timeout=timeout)
    assert_no_secrets([proc.stdout, proc.stderr], host.secrets())
    assert "Traceback" not in proc.stderr, proc.stderr
    return Exec(proc.returncode, proc.stdout, proc.stderr)


def wait_until(what: str, probe: Any, timeout: float = 90, explain: Any = None) -> Any:
    """Poll until ``probe()`` is truthy; fail naming ``what`` and, if given, what ``explain()``
    says then (no timing is asserted)."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: not reached in {timeout} s (last: {last!r}){': ' + explain() if explain else ''}")


@dataclass
class App:
    name: str
    id: str


@pytest.fixture(scope="module")
def app(images: Images, host: NetnsHost) -> Iterator[App]:
    """The `app` stage as ECS runs it: the variables with -e, the image's ENTRYPOINT (the
    shim) and CMD (supervisord running gunicorn and cron)."""
    box = Containers(host)
    try:
        name = box.run(images.app, env=task_vars(host))
        cid = podman("inspect", "--format", "{{.Id}}", name).stdout.strip()

        def ready() -> bool:
            # Raw execs: until gunicorn listens, the poll's own client fails with a traceback.
            pid1 = podman("exec", name, "cat", "/proc/1/cmdline", check=False).stdout
            web = podman("exec", name, "env", "-i", "/opt/venv/bin/python", "-c",
                         "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/whoami', timeout=5).status)", check=False)
            return "supervisord" in pid1 and web.stdout.strip() == "200"

        wait_until("supervisord as PID 1 and gunicorn answering", ready)
        yield App(name, cid)
    finally:
        box.remove_all()


@pytest.fixture
def containers(host: NetnsHost) -> Iterator[Containers]:
    box = Containers(host)
    yield box
    box.remove_all()


# ---- the app stage: the shim as ENTRYPOINT -----------------------------------------------
def test_app_pid_1_is_supervisord_with_the_variable(host: NetnsHost, app: App) -> None:
    """The shim wrote the profiles and exec'd supervisord: PID 1 holds the variable, and the
    web app supervisord started inherits it (its /whoami is the task role)."""
    cmdline = exec_in(host, app.name, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline").stdout
    assert "supervisord -n -c /etc/supervisor/supervisord.conf" in cmdline and "shim" not in cmdline, cmdline
    # Compared inside the container: the value holds the credentials id, never printed.
    want = f"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/{host.state['credentials_id']}"
    same = exec_in(host, app.name, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ | grep -c -x -F \"$0\"", want)
    assert same.stdout.strip() == "1", same
    profile = exec_in(host, app.name, "grep", "-c", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/etc/profile.d/ecs-credentials.sh", "/etc/environment")
    assert profile.rc == 0 and profile.stdout.count(":1") == 2, profile.stdout
    web = exec_in(host, app.name, "env", "-i", "/opt/venv/bin/python", "-c",
                  "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/whoami', timeout=10).read().decode())")
    assert web.stdout.strip() == host.info["task"]["arn"], web


def test_clean_login_shell_gets_the_task_role(host: NetnsHost, app: App) -> None:
    """ECS Exec's session (`env -i sh -l`): the login shell reads the shim's profile, and
    botocore there resolves the container provider and STS names the task role."""
    run = exec_in(host, app.name, "env", "-i", "sh", "-l", "-c", f'AWS_ENDPOINT_URL_STS={STS} exec /opt/venv/bin/python -c "$0"', WHOAMI)
    assert run.rc == 0, run.stderr
    got = json.loads(run.stdout)
    assert got == {"method": "container-role", "key": host.info["task"]["access_key_id"], "arn": host.info["task"]["arn"]}


def test_cron_like_process_without_login_shell_gets_the_instance_role(host: NetnsHost, app: App) -> None:
    """A process started with a clean environment and no login shell (a cron job, a daemon's
    worker) never reads the profile: botocore falls through to IMDS, the instance role."""
    run = exec_in(host, app.name, "env", "-i", "AWS_DEFAULT_REGION=us-east-1", f"AWS_ENDPOINT_URL_STS={STS}", "/opt/venv/bin/python", "-c", WHOAMI)
    assert run.rc == 0, run.stderr
    got = json.loads(run.stdout)
    assert got == {"method": "iam-role", "key": host.info["instance"]["access_key_id"], "arn": host.info["instance"]["arn"]}


def test_probe_in_the_login_shell_says_task_role(host: NetnsHost, app: App) -> None:
    """`probe` on the login shell's PATH (/usr/local/bin) judges that shell: the variable from
    the shim's profile, the task role, and a profile that agrees with PID 1."""
    run = exec_in(host, app.name, "env", "-i", "sh", "-l", "-c", f"AWS_ENDPOINT_URL_STS={STS} exec probe --json")
    assert run.rc == 0, run.stdout + run.stderr
    rep = run.report
    assert rep["identity"]["kind"] == "task-role" and rep["identity"]["arn"] == host.info["task"]["arn"]
    assert rep["identity"]["provider"] == "container-role"
    for cid in ("env.credentials-variable", "endpoint.credentials", "identity.task-role", "shim.profile"):
        assert run.status(cid) == "pass", (cid, rep["checks"])
    # The emulated instance role is reachable from the task: what the probe warns about.
    assert run.status("imds.instance-role") == "warn"


def test_probe_in_a_cron_like_process_says_instance_role(host: NetnsHost, app: App) -> None:
    run = exec_in(host, app.name, "env", "-i", "AWS_DEFAULT_REGION=us-east-1", f"AWS_ENDPOINT_URL_STS={STS}", "/opt/venv/bin/probe", "--json")
    assert run.rc == 1, run.stdout + run.stderr
    rep = run.report
    assert rep["verdict"] == "fail"
    assert rep["identity"]["kind"] == "instance-role" and rep["identity"]["arn"] == host.info["instance"]["arn"]
    assert run.status("env.credentials-variable") == "fail"
    assert run.status("identity.task-role") == "fail"
    text = exec_in(host, app.name, "env", "-i", "AWS_DEFAULT_REGION=us-east-1", f"AWS_ENDPOINT_URL_STS={STS}", "/opt/venv/bin/probe", "--no-color")
    assert text.rc == 1 and "env.credentials-variable" in text.stdout and "instance role" in text.stdout, text.stdout


# ---- the probe stage: the sidecar with pidMode task ----------------------------------------
@pytest.fixture(scope="module")
def sidecar(images: Images, host: NetnsHost, app: App) -> Iterator[str]:
    """The probe image next to the app: its PID namespace (pidMode task), the task's
    variables, `probe watch` judging the app, and podman's health check `probe health`.
    Root in the container: the app runs as root, and /proc/PID/environ and /proc/PID/root are
    readable only to the same user (the Dockerfile says so; a test below runs as the image's
    own user)."""
    box = Containers(host)
    try:
        name = box.run(
            images.probe,
            "probe", "watch", "--interval", "2", "--container", app.id[:12],
            env=task_vars(host),
            opts=["--pid", f"container:{app.name}", "--user", "0",
                  "--health-cmd", "probe health", "--health-interval", "disable", "--health-retries", "1"],
        )
        yield name
    finally:
        box.remove_all()


def test_sidecar_image_runs_as_its_own_user_without_build_tools(images: Images, host: NetnsHost, containers: Containers) -> None:
    """The image's defaults: a non-root user, `probe watch` on 127.0.0.1:9471, `probe health`
    as HEALTHCHECK; no pip, compiler or source checkout inside."""
    doc = json.loads(podman("image", "inspect", images.probe).stdout)[0]
    assert doc["Config"]["User"] == "10001:10001"
    assert doc["Config"]["Cmd"] == ["probe", "watch"]
    assert doc["Healthcheck"]["Test"] == ["CMD", "probe", "health"], doc["Healthcheck"]
    name = containers.run(images.probe, "sleep", "600", env=task_vars(host))
    who = exec_in(host, name, "id", "-u")
    assert who.stdout.strip() == "10001"
    tools = exec_in(host, name, "sh", "-c",
                    "for t in pip pip3 gcc cc make git; do command -v $t; done; "
                    "ls -d /src /opt/ecs-credential-probe/bin/pip* 2>/dev/null; "
                    "/opt/ecs-credential-probe/bin/python -c 'import pip' 2>/dev/null && echo venv-pip; "
                    "/opt/ecs-credential-probe/bin/python -c 'import setuptools' 2>/dev/null && echo venv-setuptools; true")
    # The base's own python3-pip (Debian) may remain on the system interpreter, outside the venv.
    found = [t for t in tools.stdout.split() if not t.startswith("/usr/bin/pip")]
    assert found == [], found
    version = exec_in(host, name, "probe", "--version")
    assert version.rc == 0 and "0.1.0" in version.stdout


def test_sidecar_pid_1_is_the_app_with_its_view(host: NetnsHost, app: App, sidecar: str) -> None:
    """`probe --pid 1` from the sidecar: PID 1 of the shared namespace is the app's
    supervisord; the report is the app's view (its variable, its SDKs through /proc/1/root)."""
    run = exec_in(host, sidecar, "probe", "--json", "--pid", "1")
    assert run.rc in (0, 1) and run.stdout, run.stderr
    rep = run.report
    target = rep["target"]
    assert target["pid"] == 1 and "supervisord" in target["cmdline"], target
    assert target["container_id"] == app.id[:12], target
    assert rep["identity"]["kind"] == "task-role" and rep["identity"]["arn"] == host.info["task"]["arn"]
    assert run.status("env.credentials-variable") == "pass"
    # The app's botocore (in its /opt/venv), not the sidecar's (in /opt/ecs-credential-probe).
    paths = [s["path"] for s in rep["sdks"]]
    assert any("/opt/venv/" in p for p in paths), paths
    assert not any("/opt/ecs-credential-probe/" in p for p in paths), paths


def test_sidecar_pid_1_healthy_app_passes(host: NetnsHost, app: App, sidecar: str) -> None:
    """The healthy app judged from the sidecar: nothing fails (IMDS reachable only warns)."""
    run = exec_in(host, sidecar, "probe", "--json", "--pid", "1")
    failing = [(c["id"], c["title"]) for c in run.report["checks"] if c["status"] in ("fail", "error")]
    assert run.rc == 0 and not failing, failing


def test_sidecar_container_by_id_prefix(host: NetnsHost, app: App, sidecar: str) -> None:
    run = exec_in(host, sidecar, "probe", "--json", "--container", app.id[:12])
    assert run.rc in (0, 1) and run.stdout, run.stderr
    target = run.report["target"]
    assert target["pid"] == 1 and target["container_id"] == app.id[:12], target


def test_sidecar_container_by_task_metadata_name(host: NetnsHost, app: App, sidecar: str) -> None:
    """`--container app`: the name is looked up in task metadata (the sidecar's own URI), whose
    DockerId is the app's container id; its processes are found through their cgroup.

    The emulator has one id for both the metadata URI and DockerId, so for this test it
    serves the podman id of the app; the app's own (older) metadata URI then answers 404,
    which the report may only warn about."""
    before = host.state["container_id"]
    host.set(container_id=app.id)
    try:
        run = exec_in(host, sidecar, "probe", "--json", "--container", "app",
                      opts=["-e", f"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/{app.id}"])
    finally:
        host.set(container_id=before)
    assert run.rc in (0, 1) and run.stdout, run.stderr
    target = run.report["target"]
    assert target["container"] == "app" and target["pid"] == 1 and target["container_id"] == app.id[:12], target


def test_sidecar_judges_a_cron_like_process_of_the_app(host: NetnsHost, app: App, sidecar: str) -> None:
    """A process of the app started with `env -i`: from the sidecar, which has the variable
    itself, the report names the target's missing variable and the instance role."""
    exec_in(host, app.name, "sh", "-c", f"echo $$ > /tmp/cron-like.pid; exec env -i AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_STS={STS} sleep 600", opts=["-d"])
    pid = wait_until("the cron-like process", lambda: exec_in(host, app.name, "cat", "/tmp/cron-like.pid").stdout.strip())
    try:
        run = exec_in(host, sidecar, "probe", "--json", "--pid", pid)
        assert run.rc == 1, run.stdout + run.stderr
        rep = run.report
        assert rep["target"]["pid"] == int(pid) and "sleep" in rep["target"]["cmdline"]
        assert run.status("env.credentials-variable") == "fail"
        # Started by `podman exec` (its parent is outside the namespace): its container's
        # main process is still supervisord, PID 1 here, which has the variable.
        var = next(c for c in rep["checks"] if c["id"] == "env.credentials-variable")
        assert rep["target"]["main_pid"] == 1 and var["title"].startswith("This process is not PID 1 and lost"), (rep["target"], var["title"])
        assert rep["identity"]["kind"] == "instance-role" and rep["identity"]["arn"] == host.info["instance"]["arn"]
        assert run.status("identity.task-role") == "fail"
    finally:
        # The shell's kill: the minbase image has no kill(1). The process must be gone, or
        # the app would still hold a process without the variable for the tests after this.
        assert exec_in(host, app.name, "sh", "-c", f"kill {pid}").rc == 0
        wait_until("the cron-like process gone", lambda: exec_in(host, app.name, "test", "-e", f"/proc/{pid}").rc != 0)


def test_sidecar_as_the_images_user_gets_the_remedy(host: NetnsHost, app: App, sidecar: str) -> None:
    """The image's own user (10001) cannot read a root application's /proc/1/environ: a clear
    error naming the setting that fixes it, exit 2, no traceback."""
    run = exec_in(host, sidecar, "probe", "--json", "--pid", "1", opts=["--user", "10001:10001"])
    assert run.rc == 2 and run.stdout == "", run.stdout + run.stderr
    assert "/proc/1/environ" in run.stderr and "uid 0" in run.stderr, run.stderr
    assert any(fix in run.stderr for fix in ("as root", "same user", "SYS_PTRACE")), run.stderr


def test_sidecar_watch_serves_the_podman_health_check(host: NetnsHost, app: App, sidecar: str) -> None:
    """`probe watch` in the sidecar answers `probe health`, run by podman's health check:
    healthy while the agent serves credentials, unhealthy while it answers 500, healthy again."""

    def health() -> str:
        proc = podman("healthcheck", "run", sidecar, check=False, timeout=60)
        return "healthy" if proc.returncode == 0 else "unhealthy"

    def until(want: str, what: str) -> None:
        # What /healthz last said, for the failure message: podman prints only the word.
        def explain() -> str:
            said = exec_in(host, sidecar, "probe", "health").stdout
            # The last run's report, from the sidecar itself (its log lines are split by conmon).
            got = exec_in(host, sidecar, "python3", "-c",
                          "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9471/report', timeout=5).read().decode())")
            try:
                checks = json.loads(got.stdout)["checks"]
            except (ValueError, KeyError):
                return f"{said}\n/report: {got.stdout[-2000:]}{got.stderr[-2000:]}"
            bad = [f"{c['id']} {c['status']}: {c['title']}: {c['detail']}" for c in checks if c["status"] in ("fail", "error")]
            return said + "\nlast run: " + "\n".join(bad)

        wait_until(what, lambda: health() == want, explain=explain)

    until("healthy", "healthy")
    try:
        host.set(behaviour="internal")
        until("unhealthy", "unhealthy while the agent answers 500")
        state = json.loads(podman("inspect", "--format", "{{json .State.Health}}", sidecar).stdout)
        assert state["Status"] == "unhealthy", state
    finally:
        host.set(behaviour="ok")
    until("healthy", "healthy again")
    answer = exec_in(host, sidecar, "probe", "health", "--json")
    assert answer.rc == 0 and json.loads(answer.stdout)["healthy"] is True, answer.stdout
    logs = podman("logs", sidecar, check=False)
    assert_no_secrets([logs.stdout, logs.stderr], host.secrets())


# ---- pidMode task as ECS builds it (issue 20) ----------------------------------------------
# The agent adds a namespace pause container for "pidMode": "task" after it gave the task's
# containers the credentials variable: PID 1 of the shared namespace is /pause, without it.
# Here: a static /pause in a scratch-like image holds the namespace, and the app and the
# sidecars join it (`--pid container:PAUSE`), their main processes with ppid 0.
PAUSE_C = "#include <unistd.h>\nint main(void) { for (;;) pause(); return 0; }\n"


@pytest.fixture(scope="module")
def pause_image(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """amazon/amazon-ecs-pause's layout: a static binary at /pause, ENTRYPOINT ["/pause"]."""
    gcc = shutil.which("gcc")
    need(gcc is not None, "needs gcc (and the static C library: libc6-dev) for the pause binary")
    assert gcc is not None
    work = tmp_path_factory.mktemp("pause")
    (work / "pause.c").write_text(PAUSE_C)
    subprocess.run([gcc, "-Os", "-static", "-o", str(work / "pause"), str(work / "pause.c")], check=True, capture_output=True, timeout=120)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(work / "pause"), arcname="pause")
    (work / "root.tar").write_bytes(buf.getvalue())
    ref = f"localhost/{LABEL}-pause:{TAG}"
    podman("import", "--change", 'ENTRYPOINT ["/pause"]', str(work / "root.tar"), ref)
    try:
        yield ref
    finally:
        podman("rmi", "-f", ref, check=False)


@dataclass
class EcsTask:
    pause: str
    app: str
    box: Containers


@pytest.fixture(scope="module")
def ecs_task(images: Images, host: NetnsHost, pause_image: str) -> Iterator[EcsTask]:
    """The namespace pause container (no credentials variable) and the app joined to it."""
    box = Containers(host)
    try:
        pause = box.run(pause_image)
        app = box.run(images.app, env=task_vars(host), opts=["--pid", f"container:{pause}"])

        def ready() -> bool:
            pid1 = podman("exec", app, "cat", "/proc/1/cmdline", check=False).stdout
            web = podman("exec", app, "env", "-i", "/opt/venv/bin/python", "-c",
                         "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/whoami', timeout=5).status)", check=False)
            return pid1 == "/pause\0" and web.stdout.strip() == "200"

        wait_until("the app's gunicorn answering beside /pause as PID 1", ready)
        yield EcsTask(pause, app, box)
    finally:
        box.remove_all()


def _ecs_sidecar(task: EcsTask, images: Images, host: NetnsHost, port: int, opts: Sequence[str]) -> str:
    """A plain `probe watch` in the task's PID namespace. The containers share the test's
    network namespace (the other sidecar holds 9471): each listens on its own port, which
    `probe health` reads from PROBE_URL as the health command runs it."""
    env = dict(task_vars(host), PROBE_LISTEN=f"127.0.0.1:{port}", PROBE_URL=f"http://127.0.0.1:{port}/healthz")
    return task.box.run(
        images.probe, "probe", "watch", "--interval", "2",
        env=env,
        opts=["--pid", f"container:{task.pause}", *opts,
              "--health-cmd", "probe health", "--health-interval", "disable", "--health-retries", "1"],
    )


def _health(container: str) -> str:
    proc = podman("healthcheck", "run", container, check=False, timeout=60)
    return "healthy" if proc.returncode == 0 else "unhealthy"


def _last_report(host: NetnsHost, sidecar: str, port: int) -> dict[str, Any]:
    got = exec_in(host, sidecar, "python3", "-c",
                  f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/report', timeout=5).read().decode())")
    return json.loads(got.stdout)


def _check(report: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == cid)


CRON_LIKE = ("env", "-i", "AWS_DEFAULT_REGION=us-east-1", f"AWS_ENDPOINT_URL_STS={STS}", "/opt/venv/bin/probe", "--json")


def test_ecs_pidmode_pid_1_is_the_pause_process_without_the_variable(host: NetnsHost, ecs_task: EcsTask) -> None:
    run = exec_in(host, ecs_task.app, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; grep -c AWS_CONTAINER_CREDENTIALS /proc/1/environ; true")
    cmdline, count = run.stdout.splitlines()[:2]
    assert cmdline.strip() == "/pause" and count == "0", run.stdout
    # The app's own main process (supervisord, not PID 1) has it.
    main = exec_in(host, ecs_task.app, "sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline | grep -q 'supervisord -n' && grep -c AWS_CONTAINER_CREDENTIALS_RELATIVE_URI $p/environ; done; true")
    assert main.stdout.split()[:1] == ["1"], main.stdout


def test_ecs_pidmode_cron_like_probe_gets_the_private_namespace_verdict(host: NetnsHost, ecs_task: EcsTask, app: App) -> None:
    """A cron-like process of the app runs `probe`: it lost the variable its container's main
    process has (the shim's fix), never "the task has no task role"; the same verdict, check
    by check, as in the app with a private PID namespace (supervisord PID 1)."""
    shared = exec_in(host, ecs_task.app, *CRON_LIKE)
    private = exec_in(host, app.name, *CRON_LIKE)
    assert shared.rc == 1 and private.rc == 1, shared.stdout + shared.stderr
    rep = shared.report
    var = _check(rep, "env.credentials-variable")
    assert var["status"] == "fail" and "no task role" not in var["title"], var
    assert var["title"].startswith("This process is not its container's main process (pid "), var["title"]
    assert rep["cause"]["check"] == "env.credentials-variable" and "shim" in rep["cause"]["remedy"]
    assert "taskRoleArn" not in rep["cause"]["remedy"], rep["cause"]
    assert shared.status("processes.credentials-variable") == "fail"
    assert rep["identity"]["kind"] == "instance-role"
    # shim.profile compares the shim's profiles with PID 1's environment itself (its own
    # collector, probe/facts/shim.py): with /pause as PID 1 it is the one check left out here.
    statuses = {c["id"]: c["status"] for c in rep["checks"] if c["id"] != "shim.profile"}
    assert statuses == {c["id"]: c["status"] for c in private.report["checks"] if c["id"] != "shim.profile"}
    assert rep["cause"]["check"] == private.report["cause"]["check"]


def test_ecs_pidmode_login_shell_probe_surveys_the_task(host: NetnsHost, ecs_task: EcsTask) -> None:
    """ECS Exec's clean login shell in the app: the variable from the shim's profile, and a
    survey in which every process has the variable (/pause is ECS's, not judged)."""
    run = exec_in(host, ecs_task.app, "env", "-i", "sh", "-l", "-c", f"AWS_ENDPOINT_URL_STS={STS} exec probe --json")
    assert run.stdout, run.stderr
    for cid in ("env.credentials-variable", "processes.credentials-variable", "identity.task-role"):
        assert run.status(cid) == "pass", _check(run.report, cid)


def test_ecs_pidmode_sidecar_as_root_sees_a_cron_like_process(host: NetnsHost, images: Images, ecs_task: EcsTask) -> None:
    """The sidecar deployed as the example task definition says ("user": "0", SYS_PTRACE),
    plain `probe watch`: healthy; a cron-like process of the app without the variable makes it
    unhealthy, named in /report; healthy again once it is gone."""
    sidecar = _ecs_sidecar(ecs_task, images, host, 9472, ["--user", "0", "--cap-add", "SYS_PTRACE"])
    explain = lambda: json.dumps(_check(_last_report(host, sidecar, 9472), "processes.credentials-variable"))  # noqa: E731
    wait_until("the sidecar healthy", lambda: _health(sidecar) == "healthy", explain=explain)
    exec_in(host, ecs_task.app, "sh", "-c", "echo $$ > /tmp/cron-like.pid; exec env -i sleep 600", opts=["-d"])
    pid = wait_until("the cron-like process", lambda: exec_in(host, ecs_task.app, "cat", "/tmp/cron-like.pid").stdout.strip())
    try:
        wait_until("the sidecar unhealthy", lambda: _health(sidecar) == "unhealthy", explain=explain)
        check = _check(_last_report(host, sidecar, 9472), "processes.credentials-variable")
        assert check["status"] == "fail" and check["data"]["lacking"] == [int(pid)], check
        assert "sleep 600" in check["detail"] and "pause" not in check["detail"], check["detail"]
    finally:
        assert exec_in(host, ecs_task.app, "sh", "-c", f"kill {pid}").rc == 0
    wait_until("the sidecar healthy again", lambda: _health(sidecar) == "healthy", explain=explain)
    podman("rm", "-f", "-t", "0", sidecar, check=False)


def test_ecs_pidmode_sidecar_as_its_own_user_is_unhealthy_with_the_reason(host: NetnsHost, images: Images, ecs_task: EcsTask) -> None:
    """The image's own user (10001) cannot read the root app's processes: the sidecar says so
    and is unhealthy, with the task definition's fix, instead of passing a survey it skipped."""
    sidecar = _ecs_sidecar(ecs_task, images, host, 9473, [])
    said = lambda: exec_in(host, sidecar, "probe", "health").stdout  # noqa: E731
    # Before its first run finishes a sidecar is unhealthy too: wait for a run's verdict.
    line = wait_until("a run's verdict", lambda: (lambda text: text if " at " in text else "")(said()))
    assert line.startswith("unhealthy (HTTP 503): warn at "), line
    assert _health(sidecar) == "unhealthy"
    assert "uid 0" in line and "10001" in line, line
    check = _check(_last_report(host, sidecar, 9473), "processes.credentials-variable")
    assert check["status"] == "warn" and check["data"]["blind"]["pids"], check
    assert '"user": "0"' in check["remedy"] and "SYS_PTRACE" in check["remedy"], check["remedy"]
    podman("rm", "-f", "-t", "0", sidecar, check=False)


# ---- probe.sh where there is no Python -----------------------------------------------------
@pytest.fixture(scope="module")
def busybox(images: Images, host: NetnsHost) -> Iterator[str]:
    """A container whose root is busybox-static alone, the task's variables given to PID 1,
    and probe.sh copied in as the README says for ECS Exec."""
    box = Containers(host)
    try:
        name = box.run(images.busybox, "sleep", "3600", env=task_vars(host))
        podman("cp", os.path.join(REPO, "probe", "probe.sh"), f"{name}:/tmp/probe.sh")
        yield name
    finally:
        box.remove_all()


def test_busybox_root_has_no_python_or_bash(host: NetnsHost, busybox: str) -> None:
    run = exec_in(host, busybox, "sh", "-c", "for t in python3 python bash curl; do command -v $t; done; ls /usr/bin /bin | grep -v -x -e busybox | wc -l")
    lines = run.stdout.split()
    assert lines[:-1] == [], lines
    assert run.stdout.strip() and int(lines[-1]) > 100  # busybox's applets


def test_probe_sh_healthy_in_busybox(host: NetnsHost, busybox: str) -> None:
    js = exec_in(host, busybox, "sh", "/tmp/probe.sh", "--json")
    assert js.rc == 0, js.stdout + js.stderr
    rep = js.report
    assert rep["schema"] == "ecs-credential-probe/report/v1" and rep["verdict"] == "warn"
    for cid in ("env.credentials-variable", "env.credentials-uri-safe", "env.shadowing-credentials", "env.region",
                "endpoint.credentials", "endpoint.credentials-expiry", "endpoint.task-metadata", "processes.credentials-variable"):
        assert js.status(cid) == "pass", (cid, rep["checks"])
    assert js.status("imds.instance-role") == "warn"
    for cid in ("identity.caller", "identity.task-role"):
        assert js.status(cid) == "skip"
    text = exec_in(host, busybox, "sh", "/tmp/probe.sh", "--no-color")
    assert text.rc == 0
    assert "endpoint.credentials" in text.stdout and "imds.instance-role" in text.stdout, text.stdout


def test_probe_sh_in_an_exec_session_without_the_variable(host: NetnsHost, busybox: str) -> None:
    """ECS Exec's clean environment in an image without the shim: probe.sh names the missing
    variable, and that PID 1 has it."""
    js = exec_in(host, busybox, "env", "-i", "PATH=/bin", "sh", "/tmp/probe.sh", "--json")
    assert js.rc == 1, js.stdout + js.stderr
    assert js.status("env.credentials-variable") == "fail"
    assert js.status("processes.credentials-variable") == "fail"


def test_probe_sh_agent_error_in_busybox(host: NetnsHost, busybox: str) -> None:
    host.set(behaviour="uninitialized")
    try:
        js = exec_in(host, busybox, "sh", "/tmp/probe.sh", "--json")
    finally:
        host.set(behaviour="ok")
    assert js.rc == 1
    cred = [c for c in js.report["checks"] if c["id"] == "endpoint.credentials"][0]
    assert cred["status"] == "fail" and "CredentialsUninitialized" in cred["title"] + cred["detail"], cred


def test_image_sizes(images: Images) -> None:
    """Recorded for the README (printed with -s); the probe image holds only the base and the
    virtualenv."""
    sizes = {}
    for ref in (images.base, images.probe, images.app, images.busybox):
        sizes[ref] = int(podman("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())
    print("\nimage sizes (MB):", {k.split("/")[-1]: round(v / 1e6, 1) for k, v in sizes.items()})
    print("build seconds:", {k: round(v, 1) for k, v in images.build_seconds.items()})
    # The virtualenv (the probe, botocore, psutil, prometheus-client, packaging) is what the
    # probe image adds to its base; a stray build tree or pip cache would be far more.
    assert sizes[images.probe] - sizes[images.base] < 80e6, sizes
