#!/usr/bin/env bash
# Starts a throwaway ClickHouse server for tests, on loopback only.
#
#   eval "$(bash scripts/clickhouse-test-server.sh)"   # exports RECO_TEST_CLICKHOUSE_URL and RECO_TEST_CLICKHOUSE_STOP
#   go test ./internal/analytics/...
#   eval "$RECO_TEST_CLICKHOUSE_STOP"
#
# Installs Debian's clickhouse-server (18.16) with apt-get when it is missing
# (root on Debian only). Writes a config into a temp dir (data, tmp, user files
# and logs all under it), starts the server as a daemon, polls /ping and
# prints two shell assignments on stdout:
#
#   RECO_TEST_CLICKHOUSE_URL=http://127.0.0.1:PORT
#   RECO_TEST_CLICKHOUSE_STOP='kill PID; rm -rf DIR'
#
# Environment: CH_DIR (default: mktemp -d), CH_HTTP_PORT (default: a free
# port), CH_TCP_PORT (default: a free port). Everything else goes to stderr.
set -euo pipefail

log() { echo "clickhouse-test-server: $*" >&2; }

if ! command -v clickhouse-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "clickhouse-server is missing; install it (apt-get install clickhouse-server) or run as root on Debian"
    exit 1
  fi
  log "installing clickhouse-server"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  fi
fi

free_port() {
  # Ask the kernel for a free loopback port.
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    echo $((20000 + RANDOM % 20000))
  fi
}

dir="${CH_DIR:-$(mktemp -d /tmp/reco-clickhouse.XXXXXX)}"
http_port="${CH_HTTP_PORT:-$(free_port)}"
tcp_port="${CH_TCP_PORT:-$(free_port)}"
while [ "$tcp_port" = "$http_port" ]; do tcp_port="$(free_port)"; done
mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log" "$dir/format_schemas"

# The server's own users.xml gives the "default" user without a password;
# it is copied so that the config is self-contained.
if [ -f /etc/clickhouse-server/users.xml ]; then
  cp /etc/clickhouse-server/users.xml "$dir/users.xml"
else
  cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
fi

# No double hyphens inside XML comments: they break the config (and with
# daemon mode the server would fail silently).
cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$dir/log/clickhouse-server.log</log>
    <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
XML

clickhouse-server --config-file="$dir/config.xml" --pid-file="$dir/ch.pid" --daemon >"$dir/log/stdout.log" 2>&1 || true

url="http://127.0.0.1:$http_port"
ping() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS "$url/ping" 2>/dev/null || true
  else # bash alone, for machines without curl
    { exec 3<>"/dev/tcp/127.0.0.1/$http_port" &&
      printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
      tail -n 1 <&3; exec 3>&-; } 2>/dev/null || true
  fi
}
for _ in $(seq 1 150); do
  if [ "$(ping | tr -d '\r\n')" = "Ok." ]; then
    pid="$(cat "$dir/ch.pid" 2>/dev/null || true)"
    log "ready at $url (pid $pid, dir $dir)"
    echo "RECO_TEST_CLICKHOUSE_URL=$url"
    echo "RECO_TEST_CLICKHOUSE_STOP='kill $pid; rm -rf $dir'"
    exit 0
  fi
  sleep 0.1
done
log "no answer from $url/ping after 15 s; the server's logs:"
tail -n 40 "$dir/log/stdout.log" "$dir/log/clickhouse-server.err.log" "$dir/log/clickhouse-server.log" >&2 2>/dev/null || true
exit 1
