"""The fixes the checks point to, worded once (the knowledge-center checklist)."""

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
NON_PID1 = (
    "Not PID 1 (cron, su -, sshd, supervisord, ECS Exec)? Such processes never see PID 1's "
    "variable: start the container through `shim`, or export it into a profile at start: "
    "`echo \"export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\" "
    ">> /root/.profile`."
)
NO_PROXY = (
    "Exclude the link-local endpoints from the proxy in the container's environment: "
    "NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock (and no_proxy with the same "
    "value; name the addresses explicitly, many clients ignore CIDR ranges such as 169.254.0.0/16)."
)
IPTABLES = (
    "On an AMI that is not ECS-optimized, add the agent's rules: "
    "`sudo sysctl -w net.ipv4.conf.all.route_localnet=1`, "
    "`sudo iptables -t nat -A PREROUTING -p tcp -d 169.254.170.2 --dport 80 -j DNAT --to-destination 127.0.0.1:51679`, "
    "`sudo iptables -t nat -A OUTPUT -d 169.254.170.2 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51679`, "
    "and persist them (`probe host` checks all of this)."
)
SDK = (
    "Use an AWS SDK released after July 2016 (botocore >= 1.4.37 / boto3 >= 1.4.0, AWS CLI >= 1.10.47, "
    "Java SDK >= 1.11.16, JavaScript SDK v2 >= 2.4.7, Go SDK >= 1.2.5, Ruby aws-sdk-core >= 2.3.22, "
    "PHP SDK >= 3.18.28, .NET SDK >= 3.1.6); boto 2 never supports task roles."
)
BLOCK_IMDS = (
    "Block the instance role from tasks: ECS_AWSVPC_BLOCK_IMDS=true in /etc/ecs/ecs.config for awsvpc "
    "tasks, or for bridge tasks `sudo iptables --insert DOCKER-USER 1 --in-interface docker+ "
    "--destination 169.254.169.254/32 --jump DROP`; set "
    "AWS_EC2_METADATA_DISABLED=true in the container to stop the SDKs from falling back to it."
)
