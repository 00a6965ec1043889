#!/usr/bin/env bash
# The demo: a demi echo server and client, and the numbers they measure.
# usage: apps/demo.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
echo_bin=$build/bin/demi-echo
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# run_pair LIBOS PROTO SIZE COUNT: one server, one client, bounded; prints the client's report.
run_pair() {
  local libos=$1 proto=$2 size=$3 count=$4
  rm -f "$work/port"
  "$echo_bin" server --libos "$libos" --proto "$proto" --addr 127.0.0.1:0 --port-file "$work/port" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "demo: server did not start" >&2; exit 1; }
  echo "--- $libos $proto: $count messages of $size B"
  timeout 120 "$echo_bin" client --libos "$libos" --proto "$proto" --addr "127.0.0.1:$(cat "$work/port")" \
    --size "$size" --count "$count"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

echo "demi demo: echo over the POSIX module (the Linux kernel's sockets on loopback)"
run_pair posix tcp 64 20000
run_pair posix udp 64 20000
run_pair posix tcp 65536 2000
