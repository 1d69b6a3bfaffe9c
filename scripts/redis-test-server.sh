#!/usr/bin/env bash
# Starts throwaway Redis servers for tests, on loopback only: one standalone
# node and a 3-master Redis Cluster. Prints shell assignments on stdout:
#
#   RECO_TEST_REDIS_ADDR=127.0.0.1:P
#   RECO_TEST_REDIS_CLUSTER=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#   RECO_TEST_REDIS_STOP='kill ...; rm -rf DIR'
#
# Installs Debian's redis-server with apt-get when it is missing (root on
# Debian only). Everything else goes to stderr.
set -euo pipefail
log() { echo "redis-test-server: $*" >&2; }

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "redis-server is missing; install it (apt-get install redis-server) or run as root on Debian"
    exit 1
  fi
  log "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq redis-server >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq redis-server >/dev/null; }
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A cluster node also listens on its port + 10000 (the cluster bus), so its
# port must be at most 55535, and the bus port must be free too.
cluster_port() {
  local p
  while :; do
    p=$(free_port)
    if [ "$p" -le 55000 ] && python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' $((p + 10000)) 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

dir="$(mktemp -d /tmp/reco-redis.XXXXXX)"
start() { # start NAME PORT [extra args...]
  local name=$1 port=$2
  shift 2
  mkdir -p "$dir/$name"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/$name/redis.pid" --logfile "$dir/$name/redis.log" --dir "$dir/$name" "$@" >&2
}
wait_ping() {
  for _ in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  log "redis on port $1 did not answer"; cat "$dir"/*/redis.log >&2; return 1
}

single=$(free_port)
start single "$single"
ports=()
for i in 1 2 3; do
  p=$(cluster_port)
  while [ "$p" = "$single" ] || [[ " ${ports[*]-} " == *" $p "* ]]; do p=$(cluster_port); done
  ports+=("$p")
  start "node$i" "$p" --cluster-enabled yes --cluster-config-file "$dir/node$i/nodes.conf" --cluster-node-timeout 2000
done
wait_ping "$single"
for p in "${ports[@]}"; do wait_ping "$p"; done
redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" \
  --cluster-replicas 0 --cluster-yes >/dev/null 2>&1
for _ in $(seq 1 100); do
  redis-cli -p "${ports[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
  sleep 0.05
done

pids="$(cat "$dir"/*/redis.pid | tr '\n' ' ')"
echo "RECO_TEST_REDIS_ADDR=127.0.0.1:$single"
echo "RECO_TEST_REDIS_CLUSTER=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
echo "RECO_TEST_REDIS_STOP='kill $pids; sleep 0.2; rm -rf $dir'"
