#!/usr/bin/env bash
# The demo: a demi echo server and client, and the numbers they measure.
#  1. catnip (demi's own stack) on DPDK: server and client are two processes joined by net_memif,
#     each pinned to its own core; TCP when catnip has it in this build, else UDP (said below);
#  2. the same exchange over the Linux kernel on loopback (the posix module), in the same run;
#  3. the posix module's own exchanges, as before.
# usage: apps/demo.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
echo_bin=$build/bin/demi-echo
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Two cores when there are two: the server on the first, the client on the second (both spin).
cpus=$(nproc)
server_cpu=0
client_cpu=$((cpus > 1 ? 1 : 0))

# A memif socket file unique to this run: other DPDK users on the machine must not meet it.
memif_sock=/tmp/demi-demo-$$.sock
catnip_common=(--libos catnip
  --set "dpdk.eal_args=[--no-pci, --no-huge, -m, '256']"
  --set dpdk.memory_mb=64 --set dpdk.memory_hugepages=false
  --set libos.log_level=warn)
catnip_server=("${catnip_common[@]}"
  --set "dpdk.port=net_memif0,role=server,id=0,socket=$memif_sock,socket-abstract=no"
  --set dpdk.link_wait_ms=0 --set catnip.ipv4.address=10.99.0.1)
catnip_client=("${catnip_common[@]}"
  --set "dpdk.port=net_memif0,role=client,id=0,socket=$memif_sock,socket-abstract=no"
  --set dpdk.link_wait_ms=5000 --set catnip.ipv4.address=10.99.0.2)

# start_server CPU PORTFILE ARGS...: starts a demi-echo server; 0 once it listens, 77 when it
# exited with 77 (no TCP in this build), 1 if it failed.
start_server() {
  local cpu=$1 portfile=$2
  shift 2
  rm -f "$portfile"
  taskset -c "$cpu" "$echo_bin" server --port-file "$portfile" "$@" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 200); do
    [ -s "$portfile" ] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      local rc=0
      wait "$server_pid" || rc=$?
      server_pid=
      [ "$rc" -eq 77 ] && return 77
      cat "$work/server.err" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "demo: the server did not start" >&2
  cat "$work/server.err" >&2
  return 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  # Its counters, printed at exit.
  grep -h "counters:" "$work/server.err" | sed 's/^/    /' || true
}

# catnip_pair PROTO SIZE COUNT: the catnip exchange; the client's JSON line goes to stdout.
catnip_pair() {
  local proto=$1 size=$2 count=$3 rc=0
  start_server "$server_cpu" "$work/cport" "${catnip_server[@]}" --proto "$proto" --addr 10.99.0.1:7 || rc=$?
  [ "$rc" -eq 0 ] || return "$rc"
  timeout 120 taskset -c "$client_cpu" "$echo_bin" client "${catnip_client[@]}" --proto "$proto" \
    --addr 10.99.0.1:7 --size "$size" --count "$count" --timeout-ms 200 --json 2>"$work/client.err" || rc=$?
  grep -h "counters:" "$work/client.err" | sed 's/^/    /' >&2 || true
  stop_server >&2
  if [ "$rc" -ne 0 ]; then
    cat "$work/client.err" >&2
    return 1
  fi
}

# posix_pair PROTO SIZE COUNT [--json]: the same over the kernel on loopback, same cores.
posix_pair() {
  local proto=$1 size=$2 count=$3
  shift 3
  start_server "$server_cpu" "$work/pport" --libos posix --proto "$proto" --addr 127.0.0.1:0
  timeout 120 taskset -c "$client_cpu" "$echo_bin" client --libos posix --proto "$proto" \
    --addr "127.0.0.1:$(cat "$work/pport")" --size "$size" --count "$count" "$@"
  stop_server >/dev/null
}

summary() {  # summary LABEL JSON
  python3 -c 'import json, sys
j = json.loads(sys.argv[2])
print("  %-32s %4s %6d B x%-6d RTT p50 %8.2f us  p99 %8.2f us  %9.0f msgs/s"
      % (sys.argv[1], j["proto"], j["size"], j["count"], j["p50_us"], j["p99_us"], j["msgs_per_s"]))' "$1" "$2"
}

echo "demi demo 1: catnip on DPDK (two processes over net_memif, cores $server_cpu and $client_cpu)"
echo "             next to the Linux kernel on loopback (posix module), measured in this run"
proto=tcp
rc=0
catnip_tcp=$(catnip_pair tcp 64 1) || rc=$?
if [ "$rc" -eq 77 ]; then
  proto=udp
  echo "  catnip has no TCP in this build (its socket(SOCK_STREAM) was refused): the exchange is UDP"
elif [ "$rc" -ne 0 ]; then
  echo "demo: the catnip TCP probe failed" >&2
  exit 1
else
  echo "  catnip has TCP in this build: the exchange is TCP"
fi
for spec in "64 20000" "1024 10000"; do
  read -r size count <<<"$spec"
  c=$(catnip_pair "$proto" "$size" "$count")
  p=$(posix_pair "$proto" "$size" "$count" --json)
  summary "catnip / DPDK net_memif" "$c"
  summary "Linux kernel / loopback (posix)" "$p"
done

echo
echo "demi demo 2: echo over the POSIX module (the Linux kernel's sockets on loopback)"
posix_pair tcp 64 20000
posix_pair udp 64 20000
posix_pair tcp 65536 2000
