#!/usr/bin/env bash
# Starts a real S3 server (versitygw over a temp posix directory) on a
# loopback port for the s3blob tests, and prints the variables the tests read.
#
#   eval "$(bash scripts/s3-test-server.sh start)"   # exports RECO_TEST_S3_* and RECO_TEST_S3_PID
#   go test ./internal/offline/...
#   bash scripts/s3-test-server.sh stop               # uses RECO_TEST_S3_PID / RECO_TEST_S3_DIR
#
# versitygw is built once with `go install` (~2 min cold) and cached under
# ${RECO_TEST_CACHE:-$HOME/.cache/reco-test}/bin; later runs start in ~0.2 s.
# Everything informative goes to stderr; stdout carries only `export` lines.
set -euo pipefail

VERSION=v1.8.0
CACHE="${RECO_TEST_CACHE:-$HOME/.cache/reco-test}"
BIN="$CACHE/bin/versitygw-$VERSION"

install() {
  if [ -x "$BIN" ]; then
    return
  fi
  mkdir -p "$CACHE/bin"
  echo "s3-test-server: building versitygw $VERSION (once, ~2 min)" >&2
  local tmp
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
  mv "$tmp/versitygw" "$BIN"
  rmdir "$tmp"
}

free_port() {
  # Ask the kernel for a free loopback port.
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

start() {
  install
  local dir port access secret pid
  dir="$(mktemp -d -t reco-s3.XXXXXX)"
  mkdir -p "$dir/data"
  port="${RECO_TEST_S3_PORT:-$(free_port)}"
  access="recotest"
  secret="recotest-secret-$RANDOM$RANDOM"
  "$BIN" --access "$access" --secret "$secret" --port "127.0.0.1:$port" posix "$dir/data" \
    >"$dir/versitygw.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "s3-test-server: versitygw pid $pid on http://127.0.0.1:$port (dir $dir)" >&2
      cat <<OUT
export RECO_TEST_S3_ENDPOINT=127.0.0.1:$port
export RECO_TEST_S3_ACCESS_KEY=$access
export RECO_TEST_S3_SECRET_KEY=$secret
export RECO_TEST_S3_PID=$pid
export RECO_TEST_S3_DIR=$dir
OUT
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "s3-test-server: versitygw exited:" >&2
      cat "$dir/versitygw.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "s3-test-server: versitygw did not listen on $port within 5 s" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

stop() {
  if [ -n "${RECO_TEST_S3_PID:-}" ]; then
    kill "$RECO_TEST_S3_PID" 2>/dev/null || true
  fi
  if [ -n "${RECO_TEST_S3_DIR:-}" ] && [ -d "$RECO_TEST_S3_DIR" ]; then
    rm -rf "$RECO_TEST_S3_DIR"
  fi
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [install|start|stop]" >&2; exit 2 ;;
esac
