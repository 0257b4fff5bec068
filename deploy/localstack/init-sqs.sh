#!/usr/bin/env bash
# Creates the batch queue and its dead-letter queue once LocalStack is ready (SQS's side of
# `python -m ingest --enqueue` and `python -m workers --queue`). LocalStack runs every script
# in /etc/localstack/init/ready.d/ at start (docker-compose.yml mounts this one there).
# Idempotent: creating a queue that exists with the same attributes returns it.
# Outside LocalStack set AWS_ENDPOINT_URL and have `aws` on PATH.
set -euo pipefail

queue="${INGEST_QUEUE:-movies-lake-batches}"
max_receives="${INGEST_QUEUE_MAX_RECEIVES:-5}"
# Workers renew a batch's visibility while it runs; this is how soon a dead worker's batch
# is handed to another one.
visibility_s="${INGEST_QUEUE_VISIBILITY_S:-120}"
if command -v awslocal >/dev/null 2>&1; then
  aws_sqs() { awslocal sqs "$@"; }
else
  aws_sqs() { aws --endpoint-url "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL}" sqs "$@"; }
fi

dead_url="$(aws_sqs create-queue --queue-name "$queue-dead" --query QueueUrl --output text)"
dead_arn="$(aws_sqs get-queue-attributes --queue-url "$dead_url" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)"
policy="{\\\"deadLetterTargetArn\\\":\\\"$dead_arn\\\",\\\"maxReceiveCount\\\":\\\"$max_receives\\\"}"
aws_sqs create-queue --queue-name "$queue" \
  --attributes "{\"VisibilityTimeout\":\"$visibility_s\",\"RedrivePolicy\":\"$policy\"}" \
  --query QueueUrl --output text >/dev/null
echo "init-sqs: queue $queue ready (dead letters to $queue-dead after $max_receives receives)"
