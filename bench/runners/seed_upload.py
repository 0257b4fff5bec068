"""Baseline: the seed project's stage 1, as its write-up describes it.

The seed read the CSV files with pandas (``read_csv(sep='|')``; the data frames stay
alive at module level, as in its script), connected to S3 with boto3 and then called
``upload_file`` for each file. Given several files it reads them all first, then
uploads; the benchmark passes one file at a time so every runner moves the same bytes.

usage: seed_upload.py BUCKET KEY FILE [KEY FILE ...]   (endpoint from AWS_ENDPOINT_URL)
"""

import sys

import boto3
import pandas as pd

bucket = sys.argv[1]
pairs = list(zip(sys.argv[2::2], sys.argv[3::2], strict=True))

frames = [pd.read_csv(path, sep="|") for _key, path in pairs]
for frame, (_key, path) in zip(frames, pairs, strict=True):
    print(f"{path}: {len(frame)} rows x {len(frame.columns)} columns", file=sys.stderr)

s3 = boto3.client("s3")
for key, path in pairs:
    s3.upload_file(path, bucket, key)
