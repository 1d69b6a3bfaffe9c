#!/usr/bin/env bash
# Runs every test the way CI does: starts the real servers the adapter tests
# need (ClickHouse, an S3 API and Redis), exports where they
# listen, runs `go test` (and the race detector over the concurrent
# packages), then stops the servers, whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
RACE_PKGS=${RACE_PKGS:?}

stops=()
cleanup() { for s in "${stops[@]}"; do eval "$s" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

start() { # start NAME SCRIPT: eval the script's assignments, remember how to stop it
  local out line var
  if ! out="$(bash $2)"; then
    echo "test.sh: could not start $1" >&2
    exit 1
  fi
  while IFS= read -r line; do
    line=${line#export }
    var=${line%%=*}
    case "$var" in
      RECO_TEST_*_STOP) eval "$line"; stops+=("${!var}") ;;
      RECO_TEST_*_PID) eval "$line"; stops+=("kill ${!var}") ;;
      RECO_TEST_*) eval "$line"; export "$var" ;;
    esac
  done <<< "$out"
  echo "test.sh: $1 started" >&2
}

start clickhouse scripts/clickhouse-test-server.sh
export RECO_TEST_CLICKHOUSE=1
start s3 "scripts/s3-test-server.sh start"
export RECO_TEST_S3=1
start redis scripts/redis-test-server.sh
export RECO_TEST_REDIS=1
export RECO_TEST_XGBOOST=${RECO_TEST_XGBOOST:-1} RECO_TEST_SCIPY=${RECO_TEST_SCIPY:-1}

rc=0
$GO test -count=1 ./... || rc=1
$GO test -count=1 -race $RACE_PKGS || rc=1
exit $rc
