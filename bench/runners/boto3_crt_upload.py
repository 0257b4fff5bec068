"""Baseline: boto3's transfer manager on the AWS Common Runtime (``boto3[crt]``).

usage: boto3_crt_upload.py FILE BUCKET KEY   (endpoint from AWS_ENDPOINT_URL)

boto3 builds its CRT manager for AWS itself only (TLS, no endpoint URL) and quietly falls
back to the classic manager otherwise, so this runner makes the same CRT manager from
s3transfer's documented pieces, pointed at the endpoint: the CRT S3 client (plain HTTP
here), the botocore request serializer and ``CRTTransferManager``, all defaults.
"""

import os
import sys

import botocore.session
from s3transfer.crt import (
    BotocoreCRTCredentialsWrapper,
    BotocoreCRTRequestSerializer,
    CRTTransferManager,
    create_s3_crt_client,
)

path, bucket, key = sys.argv[1:4]
endpoint = os.environ["AWS_ENDPOINT_URL"]
session = botocore.session.Session()
region = session.get_config_variable("region") or "us-east-1"
credentials = BotocoreCRTCredentialsWrapper(session.get_credentials()).to_crt_credentials_provider()
client = create_s3_crt_client(
    region, crt_credentials_provider=credentials, use_ssl=endpoint.startswith("https")
)
serializer = BotocoreCRTRequestSerializer(session, {"region_name": region, "endpoint_url": endpoint})
with CRTTransferManager(client, serializer) as manager:
    manager.upload(path, bucket, key).result()
