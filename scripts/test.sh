#!/usr/bin/env bash
# Runs every test the way CI does: starts the real servers the adapter tests
# need (ClickHouse, S3 and Redis when their scripts exist), exports where they
# listen, runs `go test` (and the race detector over the concurrent
# packages), then stops the servers, whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
RACE_PKGS=${RACE_PKGS:?}

stops=()
cleanup() { for s in "${stops[@]}"; do eval "$s" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

start() { # start NAME SCRIPT: eval the script's assignments, remember its stop command
  local out
  if ! out="$(bash "$2")"; then
    echo "test.sh: could not start $1" >&2
    exit 1
  fi
  eval "$out"
  export $(printf '%s\n' "$out" | sed -n 's/^\(RECO_TEST_[A-Z0-9_]*\)=.*/\1/p' | grep -v _STOP)
  local stopvar
  stopvar=$(printf '%s\n' "$out" | sed -n 's/^\(RECO_TEST_[A-Z0-9_]*_STOP\)=.*/\1/p' | head -1)
  [ -n "$stopvar" ] && stops+=("${!stopvar}")
  echo "test.sh: $1 started" >&2
}

start clickhouse scripts/clickhouse-test-server.sh
export RECO_TEST_CLICKHOUSE=1
if [ -f scripts/s3-test-server.sh ]; then
  start s3 scripts/s3-test-server.sh
  export RECO_TEST_S3=1
fi
if [ -f scripts/redis-test-server.sh ]; then
  start redis scripts/redis-test-server.sh
  export RECO_TEST_REDIS=1
fi
export RECO_TEST_XGBOOST=${RECO_TEST_XGBOOST:-1} RECO_TEST_SCIPY=${RECO_TEST_SCIPY:-1}

rc=0
$GO test -count=1 ./... || rc=1
$GO test -count=1 -race $RACE_PKGS || rc=1
exit $rc
