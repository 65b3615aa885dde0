#!/usr/bin/env bash
# CI: make sure a Redis answers on 127.0.0.1:${REDIS_PORT:-6379} before the tests run.
# Starts a non-persistent redis-server if `redis-cli ping` fails; does nothing when one is running.
set -euo pipefail

port="${REDIS_PORT:-6379}"
ping() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

if ping; then
  echo "redis: already running on 127.0.0.1:$port"
  exit 0
fi
if ! command -v redis-server >/dev/null; then
  echo "redis: redis-server is not installed (apt-get install redis-server)" >&2
  exit 1
fi

dir="${REDIS_DIR:-/var/lib/redis}"
logdir="${REDIS_LOG_DIR:-/var/log/redis}"
mkdir -p "$dir" "$logdir" 2>/dev/null || { dir="$(mktemp -d)"; logdir="$dir"; }
echo "redis: starting redis-server on 127.0.0.1:$port (dir $dir)"
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
  --dir "$dir" --logfile "$logdir/ci.log"

for _ in $(seq 1 50); do
  if ping; then
    echo "redis: up"
    exit 0
  fi
  sleep 0.1
done
echo "redis: did not answer within 5 s; see $logdir/ci.log" >&2
exit 1
