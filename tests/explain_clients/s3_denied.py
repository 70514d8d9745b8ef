"""boto3 GetObject against $S3_ENDPOINT; logs the ClientError the way applications do (logging.exception)."""

import logging
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    s3.get_object(Bucket="amzn-s3-demo-bucket1", Key="object-name")
except ClientError:
    logging.getLogger("app").exception("download failed")
