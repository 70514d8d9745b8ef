"""The "container instance" of the network-namespace tests, run inside the namespace.

Starts moto's STS/IAM on 127.0.0.1:5000, mints real assumed-role credentials with
AssumeRole (task role: session named after the task id, as ECS does; instance role:
session named after the instance id, as EC2 does) and an IAM user's access key, then
serves them through probe.emulator bound to the real link-local addresses. Prints one
JSON line when ready, then applies JSON state changes read from stdin (one per line).

Issue 18: two more roles for the chain situations, `chainedRole` (trusting the account, so
the task role or the IAM user may assume it) and `webIdentityRole` (trusting a web identity
provider); their ARNs are in the ready line. With ``--tls-dir DIR`` (helpers.NetnsHost passes
it) STS is also served over TLS on the namespace's 127.0.0.1:443 with DIR/server.pem and
DIR/server.key (tests/nstls.py), forwarding to moto; the stdin line ``tls-stats`` is answered
with what arrived there ({"tls": {"HOST ACTION": n}}), ``tls-reset`` answers and zeroes it.

Issue 21: a second, independent probe.emulator.Emulator on 127.0.0.1:18081 (agent only, its
own state, never changed) serves a third minted role, `leftoverRole`, as a leftover
AWS_CONTAINER_CREDENTIALS_FULL_URI would (aws-vault's --ecs-server, a sidecar's local
endpoint); its URL, credentials id and keys are the ready line's "leftover".

Issue 22: the emulated agent answers as the real one (path cleaning, the rate limiter and its
headers, a stopped agent refusing metadata too: see probe/emulator.py). Two things here are
NOT what a task sees, kept because suites rely on them: the agent also answers on
169.254.170.23:80 (the sdk-matrix, test_probe_sh and test_netns send FULL_URI
http://169.254.170.23/v2/credentials/<id> there; a real ECS task refuses that address, and the
real EKS Pod Identity Agent there serves only /v1/credentials), and DockerId is the endpoint id
(``docker_id=""``: test_target, test_hostile_target and test_containers name the container by
that one id). The EKS Pod Identity Agent stand-in, with its own contract, is on
[fd00:ec2::23]:80 (where the namespace has IPv6), serving a fourth minted role,
`podIdentityRole`, for the service account token in the ready line's "pod_identity"
(`service_account_token`; `token` is the role's session token, as for the others).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import boto3
from moto.server import ThreadedMotoServer

from probe.emulator import Emulator, Identity, State, service_account_token

MOTO = "http://127.0.0.1:5000"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


ACCOUNT = "123456789012"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
}
OIDC_URL = "https://oidc.eks.us-east-1.amazonaws.com/id/ECSCREDENTIALPROBETEST"

MARK = "NSHOST "
LEFTOVER_AGENT = "127.0.0.1:18081"
POD_IDENTITY_V6 = "fd00:ec2::23"


def say(line: str) -> None:
    """Our answers carry a mark: moto prints to stdout too."""
    print(MARK + line, flush=True)


def mint(iam, sts, name: str, session: str) -> Identity:
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=session)
    c = creds["Credentials"]
    return Identity(
        arn=creds["AssumedRoleUser"]["Arn"],
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        token=c["SessionToken"],
    )


def roles(iam) -> dict[str, dict[str, str]]:
    """chainedRole (the account may assume it) and webIdentityRole (an OIDC provider's)."""
    chained = iam.create_role(RoleName="chainedRole", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    provider = iam.create_open_id_connect_provider(Url=OIDC_URL, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40])
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider["OpenIDConnectProviderArn"]},
            "Action": "sts:AssumeRoleWithWebIdentity",
        }],
    }
    web = iam.create_role(RoleName="webIdentityRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    return {
        "chained_role": {"name": chained["RoleName"], "arn": chained["Arn"]},
        "web_identity_role": {"name": web["RoleName"], "arn": web["Arn"], "provider": provider["OpenIDConnectProviderArn"]},
    }


def main() -> int:
    tls_dir = sys.argv[sys.argv.index("--tls-dir") + 1] if "--tls-dir" in sys.argv else None
    # werkzeug logs every request moto answers to stderr, which helpers.NetnsHost reads only
    # when this process dies: a long run (the sdk-matrix, ~600 requests) fills the pipe and
    # every moto thread then blocks in the log call. Errors only.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=5000)
    server.start()
    forwarder = None
    if tls_dir:
        from nstls import StsTlsForwarder

        forwarder = StsTlsForwarder(os.path.join(tls_dir, "server.pem"), os.path.join(tls_dir, "server.key")).start()
    kw = dict(endpoint_url=MOTO, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = boto3.client("iam", **kw)
    sts = boto3.client("sts", **kw)
    # The Pod Identity Agent's IPv6 address, where the namespace can have it.
    pod_identity = None
    if subprocess.run(["ip", "addr", "add", f"{POD_IDENTITY_V6}/128", "dev", "lo"], capture_output=True).returncode == 0:
        pod_identity = f"[{POD_IDENTITY_V6}]:80"
    emu = Emulator(
        agent="169.254.170.2:80,169.254.170.23:80,127.0.0.1:18080",
        imds="169.254.169.254:80",
        sts=None,
        state=State(docker_id=""),
        pod_identity=pod_identity,
    )
    task = mint(iam, sts, "ecsTaskRole", emu.state.task_id)
    instance = mint(iam, sts, "ecsInstanceRole", emu.state.instance_id)
    iam.create_user(UserName="ci-deploy")
    key = iam.create_access_key(UserName="ci-deploy")["AccessKey"]
    extra = roles(iam)
    emu.give_task_role("ecsTaskRole", task)
    emu.give_instance_role("ecsInstanceRole", instance)
    pod_info = None
    if pod_identity:
        pod = mint(iam, sts, "podIdentityRole", "eks-demo-cluster-app-0001")
        emu.give_pod_role("podIdentityRole", pod)
        token = service_account_token()
        emu.update({"pod_identity_token": token})
        pod_info = {"url": f"http://[{POD_IDENTITY_V6}]/v1/credentials", "service_account_token": token, **pod.__dict__}
    emu.start()
    leftover_emu = Emulator(agent=LEFTOVER_AGENT, imds=None, sts=None)
    left = mint(iam, sts, "leftoverRole", "leftover-session")
    leftover_emu.give_task_role("leftoverRole", left)
    leftover_emu.start()
    leftover = {
        "name": "leftoverRole",
        "credentials_id": leftover_emu.state.credentials_id,
        "full_uri": f"{leftover_emu.url('agent')}/v2/credentials/{leftover_emu.state.credentials_id}",
        **left.__dict__,
    }
    say(
        json.dumps(
            {
                "ready": True,
                "state": emu.snapshot(),
                "task": task.__dict__,
                "instance": instance.__dict__,
                "user": {"arn": "arn:aws:iam::123456789012:user/ci-deploy", "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]},
                **extra,
                "leftover": leftover,
                "pod_identity": pod_info,
                "sts_tls": {"port": 443, "ca": os.path.join(tls_dir, "ca.pem")} if tls_dir else None,
            }
        )
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        if line.strip() in ("tls-stats", "tls-reset"):
            say(forwarder.stats_json(reset=line.strip() == "tls-reset") if forwarder else json.dumps({"tls": None}))
            continue
        try:
            emu.update(json.loads(line))
            say(json.dumps(emu.snapshot()))
        except (ValueError, KeyError, TypeError) as exc:
            say(json.dumps({"error": str(exc)}))
    emu.stop()
    leftover_emu.stop()
    if forwarder:
        forwarder.stop()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
