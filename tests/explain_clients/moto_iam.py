"""moto with IAM enforcement for tests/test_explain.py, inside the test's network namespace.

Creates the task role app-task-role (trusting ecs-tasks.amazonaws.com, allowed ssm:PutParameter
only), a parameter, and a session of the role named after an ECS task id, as the ECS agent names
it; then every further request is authorised by moto's IAM (INITIAL_NO_AUTH_ACTION_COUNT). Prints
one JSON line (endpoint, the session's credentials, its ARN), then serves until killed.
"""

import json
import os
import sys

SETUP_CALLS = 4  # create_role, put_role_policy, put_parameter, assume_role: unauthenticated
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_CALLS)

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

TASK_ID = "0123456789abcdef0123456789abcdef"
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
server.start()
host, port = server.get_host_and_port()
url = f"http://{host}:{port}"
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
iam, ssm, sts = boto3.client("iam", **kw), boto3.client("ssm", **kw), boto3.client("sts", **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="app-task-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
iam.put_role_policy(RoleName="app-task-role", PolicyName="put-only", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": "*"}]}))
ssm.put_parameter(Name="/prod/db-password", Value="not-a-secret", Type="String")
creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=TASK_ID)
c = creds["Credentials"]
print(json.dumps({"endpoint": url, "arn": creds["AssumedRoleUser"]["Arn"], "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"], "AWS_SESSION_TOKEN": c["SessionToken"]}), flush=True)
sys.stdin.read()  # until the test closes our stdin
os._exit(0)  # moto's server threads do not stop on their own
