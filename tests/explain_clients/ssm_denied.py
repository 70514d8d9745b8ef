"""boto3 ssm.get_parameter against $SSM_ENDPOINT as the task role; logs the ClientError the way
applications do (logging.exception). With DEBUG=1, botocore's own debug log too (the response body,
then the error: one error printed several ways)."""

import logging
import os

import boto3
from botocore.exceptions import ClientError

if os.environ.get("DEBUG"):
    boto3.set_stream_logger("", logging.DEBUG)  # boto3's documented way to see botocore's debug log
else:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
ssm = boto3.client("ssm", endpoint_url=os.environ["SSM_ENDPOINT"], region_name="us-east-1")
try:
    ssm.get_parameter(Name="/prod/db-password")
except ClientError:
    logging.getLogger("app").exception("config load failed")
