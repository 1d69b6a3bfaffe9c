#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: real XGBoost (model
# compatibility), SciPy (statistics checks), redis-server (the online store
# adapter) and clickhouse-server (the analytics adapter). Idempotent and quick when everything is already there.
set -euo pipefail

need=()
/usr/bin/python3 -c 'import xgboost, sklearn, scipy' 2>/dev/null || need+=(python3-xgboost python3-sklearn python3-scipy)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root on Debian" >&2
  exit 0
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
