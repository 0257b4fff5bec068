"""Baseline: boto3's managed transfer with every default (``upload_file``).

usage: boto3_upload.py FILE BUCKET KEY   (endpoint from AWS_ENDPOINT_URL)
"""

import sys

import boto3

path, bucket, key = sys.argv[1:4]
boto3.client("s3").upload_file(path, bucket, key)
