"""The fixes the checks point to, worded once (the knowledge-center checklist)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from probe.facts import Facts

AGENT_RESTART = (
    "restart the agent: `sudo systemctl restart ecs` (Amazon Linux 2 and 2023) or "
    "`sudo stop ecs && sudo start ecs` (Amazon Linux AMI)"
)
AGENT_FLAGS = (
    "On EC2, /etc/ecs/ecs.config needs ECS_ENABLE_TASK_IAM_ROLE=true (and "
    "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true for host network mode), without quotes; then "
    + AGENT_RESTART + "."
)
TASK_ROLE = (
    'Set "taskRoleArn" in the task definition (the executionRoleArn is never given to the '
    "application); its trust policy must allow ecs-tasks.amazonaws.com to sts:AssumeRole."
)
# Who loses PID 1's variables, and who keeps them (ECS_FACTS.md, "Who loses PID 1's
# variables"); tests/test_remedy_truth.py starts each kind it can and reads /proc/PID/environ.
# Only the first are ever named as a cause. cron reads neither /etc/profile.d nor ~/.profile;
# `su -`, `sudo -i` and sshd start a login shell from a fresh environment; `env -i` and an init
# that clears the environment (s6-overlay's services without with-contenv) start from nothing.
LOSE_PID1_ENVIRONMENT = ("cron jobs", "su -", "sudo -i", "sshd sessions", "env -i", "an init that clears the environment")
# supervisord programs inherit supervisord's environment (environment= only adds to it); `sh -l`
# keeps the environment it is given and adds the profiles; an ECS Exec shell inherits the SSM
# agent's, which runs in the container with the container's environment
# (amazon-ssm-agent agent/session/shell/shell_unix.go: cmd.Env = append(os.Environ(), ...)).
KEEP_PID1_ENVIRONMENT = ("supervisord programs", "sh -l", "ECS Exec shells")

SHIM = (
    "Start the container through the shim, which writes PID 1's credential variables into "
    "/etc/profile.d/ecs-credentials.sh and ~/.profile (read by login shells: su -, sudo -i, sshd sessions) "
    "and, with --environment-file, into /etc/environment (read through pam_env by cron jobs on Debian and "
    "Ubuntu), then execs your command: ENTRYPOINT [\"shim\", \"--environment-file\", \"--\"] where the image "
    "has Python and the probe installed, or COPY shim/ecs-shim.sh /usr/local/bin/ecs-shim and "
    "ENTRYPOINT [\"/usr/local/bin/ecs-shim\", \"--environment-file\", \"--\"] where it has only sh. "
    "busybox crond reads neither: begin its jobs with `. /etc/profile`; `env -i sh -c` reads no file "
    "(make it `env -i sh -l -c`); under s6-overlay, start services with with-contenv."
)
COPY_FROM_PID1 = (
    "To see them by hand (as root): `tr '\\0' '\\n' < /proc/1/environ | grep ^AWS_CONTAINER` (under pidMode task "
    "PID 1 is ECS's pause process: read /proc/PID/environ of the container's main process named above); copy the "
    "printed line into ~/.profile as `export NAME=value` with the literal value (in the affected shell "
    "the variable is empty: a reference to it writes nothing)."
)
NON_PID1 = (
    f"Not PID 1 ({', '.join(LOSE_PID1_ENVIRONMENT)})? Such processes start without "
    "PID 1's variables. " + SHIM + " " + COPY_FROM_PID1
)
NO_PROXY = (
    "Exclude the link-local endpoints from the proxy in the container's environment: "
    "NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock (and no_proxy with the same "
    "value; name the addresses explicitly, many clients ignore CIDR ranges such as 169.254.0.0/16)."
)
# The agent's credentials redirect (ecs-init's rules), spelt as iptables-save spells them.
DNAT_RULE = "-t nat -A PREROUTING -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679"
REDIRECT_RULE = "-t nat -A OUTPUT -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679"
PERSIST_IPTABLES = (
    "save the rules so they survive a reboot: `sudo iptables-save | sudo tee /etc/sysconfig/iptables && "
    "sudo systemctl enable --now iptables` (Amazon Linux; `sudo yum install -y iptables-services` first) or "
    "`sudo netfilter-persistent save` (Debian, Ubuntu)"
)
IPTABLES = (
    "On an AMI that is not ECS-optimized, add the agent's rules: "
    "`sudo sysctl -w net.ipv4.conf.all.route_localnet=1`, "
    f"`sudo iptables {DNAT_RULE}`, `sudo iptables {REDIRECT_RULE}`, and " + PERSIST_IPTABLES
    + " (`probe host` on the instance names only what is missing)."
)
SDK = (
    "Use an AWS SDK released after July 2016 (botocore >= 1.4.37 / boto3 >= 1.4.0, AWS CLI >= 1.10.47, "
    "Java SDK >= 1.11.16, JavaScript SDK v2 >= 2.4.7, Go SDK >= 1.2.5, Ruby aws-sdk-core >= 2.3.22, "
    "PHP SDK >= 3.18.28, .NET SDK >= 3.1.6); boto 2 never supports task roles."
)
IMDS_DROP_BRIDGE = "--insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP"
BLOCK_IMDS_AWSVPC = "awsvpc tasks: ECS_AWSVPC_BLOCK_IMDS=true in /etc/ecs/ecs.config, then " + AGENT_RESTART
BLOCK_IMDS_BRIDGE = f"bridge tasks: `sudo iptables {IMDS_DROP_BRIDGE}`, then " + PERSIST_IPTABLES
# Host-mode tasks are in the instance's own network namespace: no address or interface tells
# their packets from the host's, only the user that sends them.
BLOCK_IMDS_HOST = (
    "host-mode tasks share the instance's network, so no rule tells them from the host: give task roles "
    "to awsvpc or bridge tasks, or run host-mode containers as a user of their own (\"user\": \"UID\" in the "
    "container definition) and drop IMDS for that user: `sudo iptables --insert OUTPUT 1 --destination "
    "169.254.169.254/32 --match owner --uid-owner UID --jump DROP` (the agent runs as root and keeps it), then save it the same way"
)
BLOCK_IMDS_SDK = "set AWS_EC2_METADATA_DISABLED=true in the container to stop the SDKs from falling back to it"
BLOCK_IMDS = (
    "Block the instance role from tasks, per network mode: " + "; ".join((BLOCK_IMDS_AWSVPC, BLOCK_IMDS_BRIDGE, BLOCK_IMDS_HOST))
    + ". And " + BLOCK_IMDS_SDK + "."
)

def main_process(f: "Facts", whose: str = "its") -> str:
    """The process the agent gave the variables to: PID 1, or with `--pid` in a sidecar's
    shared PID namespace, the target container's main process."""
    main = f.get("processes").get("main_pid")
    return "PID 1" if main in (None, 1) else f"{whose} container's main process (pid {main})"


def is_main(f: "Facts") -> bool:
    """Is the diagnosed process the one the agent gave the variables to?"""
    survey = f.get("processes")
    return survey.get("self_pid") is not None and survey.get("self_pid") == survey.get("main_pid", 1)


KEEP_ENVIRONMENT = (
    "Start the application with the environment ECS gives the container: no `env -i`, `su -`, `sudo -i` "
    "or `sudo` without -E in the ENTRYPOINT or start script, and no init that clears the environment."
)


def main_label(f: "Facts") -> str:
    """PID 1, or "this container's main process (pid N)" with `--pid`."""
    return main_process(f, "this")


def container_lost(f: "Facts") -> Optional[str]:
    """`--pid` from a sidecar: the target container's main process lacks the variable
    while the probe's own container has it. The agent gives it to every container of a
    task with a role, so the task has one and the container's start dropped it."""
    env = f.get("environ")
    survey = f.get("processes")
    if env.get("relative_uri_set") or env.get("full_uri_set") or not f.get("target").get("prober_has_variable"):
        return None
    if survey.get("pid1_has_variable") or not (survey.get("pid1_readable") or is_main(f)):
        return None
    main = main_label(f)
    return (
        f"{main[0].upper() + main[1:]} lacks it too, while the probe's own container has it: the task has a "
        "role and the agent gave the variable to this container as well; its entrypoint or start script dropped it."
    )


def lost_environment(f: "Facts") -> Optional[str]:
    """When PID 1 has the credentials variable and this process does not: one sentence
    naming that cause (the task role and the agent are fine), else None."""
    env = f.get("environ")
    survey = f.get("processes")
    if env.get("relative_uri_set") or env.get("full_uri_set") or not survey.get("pid1_has_variable"):
        return None
    if is_main(f):
        return None
    main = main_process(f)
    return (
        f"{main[0].upper() + main[1:]} has the credentials variable but this process (pid {env.get('pid')}) does not: it was "
        f"started without {main}'s environment ({', '.join(LOSE_PID1_ENVIRONMENT[:-1])} or {LOSE_PID1_ENVIRONMENT[-1]} "
        "do that). The task "
        "role and the agent are fine."
    )
