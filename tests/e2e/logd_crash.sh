#!/usr/bin/env bash
# logd_crash.sh DEMI_LOGD
# demi-logd acknowledges only durable records. Three clients load the server; it is killed with
# SIGKILL mid-load; a torn half record is appended to the log as a crash mid-write would leave it;
# the server restarts (it must cut the torn tail), more records go in, and `verify` checks that
# every record any client saw acknowledged is in the log, intact and once.
set -euo pipefail
logd=$1
work=$(mktemp -d)
server=
clients=()
cleanup() {
  for p in $server "${clients[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {
  rm -f "$work/port"
  "$logd" server --libos posix --dir "$work" --addr 127.0.0.1:0 --port-file "$work/port" >>"$work/server.out" 2>&1 &
  server=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "server did not start"; cat "$work/server.out"; exit 1; }
  port=$(cat "$work/port")
}

start_server
for c in 1 2 3; do
  "$logd" client --libos posix --addr "127.0.0.1:$port" --client-id "$c" --count 1000000 --size $((100 * c)) \
    --window 16 --acked "$work/acked$c" >"$work/client$c.out" 2>&1 &
  clients+=($!)
done
# Let some hundreds of records be acknowledged (bounded: 30 s), then pull the plug.
for _ in $(seq 300); do
  n=$( (cat "$work"/acked* 2>/dev/null || true) | wc -l)
  [ "$n" -ge 300 ] && break
  sleep 0.1
done
kill -KILL "$server"
wait "$server" 2>/dev/null || true
server=
for p in "${clients[@]}"; do
  rc=0; wait "$p" || rc=$?
  # The clients must notice the server is gone (status 3), not hang and not claim success.
  [ "$rc" -eq 3 ] || { echo "a client ended with status $rc, expected 3 (server gone)"; cat "$work"/client*.out; exit 1; }
done
clients=()
echo "acknowledged before the crash: $(cat "$work"/acked* | wc -l) records"

# A crash in the middle of a write leaves at most a torn record at the end: make one.
printf '\x40\x00\x00\x00\xde\xad\xbe\xefhalf a record' >>"$work/log"

start_server
grep -q "cutting a torn tail" "$work/server.out" || { echo "the torn tail was not cut"; cat "$work/server.out"; exit 1; }
"$logd" client --libos posix --addr "127.0.0.1:$port" --client-id 4 --count 200 --size 1000 --acked "$work/acked4"
kill -TERM "$server"
wait "$server"
server=
cat "$work/server.out"
"$logd" verify --dir "$work" --acked "$work/acked1" --acked "$work/acked2" --acked "$work/acked3" --acked "$work/acked4"
