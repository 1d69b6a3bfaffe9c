#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md on this machine: the HTTP load
# scenarios (reco bench against a fresh reco serve, open loop) and the Go
# benchmarks of the hot paths. Bounded in time; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/reco-bench}
mkdir -p "$out"
go build -o "$out/reco" ./cmd/reco
addr=127.0.0.1:18090
data=$(mktemp -d /tmp/reco-bench-data.XXXXXX)
"$out/reco" serve --data "$data" --addr "$addr" --log-level warn > "$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "http://$addr/ready" >/dev/null && break; sleep 0.1; done
url="http://$addr"
echo "== prepare: 100k products, 100k users" | tee "$out/summary.txt"
"$out/reco" bench --url "$url" --scenario recommend --prepare --rate 1 --duration 1s --warmup 0s 2>&1 | tail -1 | tee -a "$out/summary.txt"
# drain waits until the stream has applied everything in the log and says how long that took.
drain() {
  local start=$(date +%s.%N) lag
  for _ in $(seq 1 1200); do
    lag=$(curl -s "$url/metrics" | awk '/^reco_stream_lag_records/ {s += $2} END {print s + 0}')
    [ "$lag" = 0 ] && break
    sleep 0.25
  done
  echo "stream caught up $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s after the scenario" | tee -a "$out/summary.txt"
}
drain
echo "== recommend, open loop 1000 req/s, 30 s" | tee -a "$out/summary.txt"
"$out/reco" bench --url "$url" --scenario recommend --rate 1000 --duration 30s 2>/dev/null | tee -a "$out/summary.txt"
echo "== ingest, 100 batches/s of 1000 events (100k events/s), 20 s" | tee -a "$out/summary.txt"
"$out/reco" bench --url "$url" --scenario events --rate 100 --batch-size 1000 --duration 20s 2>/dev/null | tee -a "$out/summary.txt"
drain
echo "== freshness, 20 probes/s, 20 s" | tee -a "$out/summary.txt"
"$out/reco" bench --url "$url" --scenario freshness --rate 20 --duration 20s 2>/dev/null | tee -a "$out/summary.txt"
kill $pid; wait $pid 2>/dev/null || true
echo "== Go benchmarks (server stopped)" | tee -a "$out/summary.txt"
go test -run '^$' -bench 'Replay' -benchtime 1000000x ./internal/app/ 2>&1 | grep Benchmark | tee -a "$out/summary.txt"
go test -run '^$' -bench 'Recommend' -benchtime 3000x -benchmem ./internal/recommend/ 2>&1 | grep Benchmark | tee -a "$out/summary.txt"
go test -run '^$' -bench 'Predict' -benchtime 200x ./internal/rank/gbdt/ 2>&1 | grep Benchmark | tee -a "$out/summary.txt"
go test -run '^$' -bench . -benchtime 2s ./internal/event/seglog/ 2>&1 | grep Benchmark | tee -a "$out/summary.txt"
