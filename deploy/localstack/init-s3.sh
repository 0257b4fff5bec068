#!/usr/bin/env bash
# Creates the lake's bucket once LocalStack is ready. LocalStack runs every script in
# /etc/localstack/init/ready.d/ at start (docker-compose.yml mounts this one there).
# Idempotent: a bucket that already exists (a persisted LocalStack) is left as it is.
# Outside LocalStack (e.g. against moto in CI) set AWS_ENDPOINT_URL and have `aws` on PATH.
set -euo pipefail

bucket="${INGEST_BUCKET:-movies-lake}"
if command -v awslocal >/dev/null 2>&1; then
  aws_s3api() { awslocal s3api "$@"; }
else
  aws_s3api() { aws --endpoint-url "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL}" s3api "$@"; }
fi

if aws_s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  echo "init-s3: bucket $bucket already exists"
else
  aws_s3api create-bucket --bucket "$bucket" >/dev/null
  echo "init-s3: created bucket $bucket"
fi
