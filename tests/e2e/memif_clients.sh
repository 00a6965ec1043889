#!/usr/bin/env bash
# memif_clients.sh DEMI_ECHO [CLIENTS [MTU]]
# One catnip echo server over net_memif serves CLIENTS client processes, one after another, while
# a busy loop shares the server's core (so that the server is often preempted in the middle of a
# burst, which is when a peer's exit used to crash it: see "Leaving a memif link" in
# src/runtime/dpdk/dpdk_port.cc). Fails unless every client checks its bytes, the server is still
# alive at the end and exits cleanly, and it counted one announced leave per client. With an MTU
# above 1500 (jumbo frames on memif), the messages are up to 65000 B and the server must have
# received frames longer than 1514 B on average.
set -euo pipefail
echo_bin=$1
clients=${2:-12}
mtu=${3:-1500}
size=256
[ "$mtu" -gt 1500 ] && size=65000
work=$(mktemp -d)
server= hog=
cleanup() {
  for p in $server $hog; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cpus=$(nproc)
server_cpu=0
client_cpu=$((cpus > 1 ? 1 : 0))
sock=$work/memif.sock
common=(--libos catnip --set "dpdk.eal_args=[--no-pci, --no-huge, -m, '256']"
  --set dpdk.memory_mb=64 --set dpdk.memory_hugepages=false --set libos.log_level=info
  --set dpdk.mtu="$mtu" --set catnip.mtu="$mtu")

taskset -c "$server_cpu" "$echo_bin" server "${common[@]}" --proto tcp --addr 10.98.0.1:7 \
  --port-file "$work/port" \
  --set "dpdk.port=net_memif0,role=server,id=0,socket=$sock,socket-abstract=no" \
  --set dpdk.link_wait_ms=0 --set catnip.ipv4.address=10.98.0.1 2>"$work/server.err" &
server=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.05; done
if [ ! -s "$work/port" ]; then
  if ! kill -0 "$server" 2>/dev/null; then
    rc=0; wait "$server" || rc=$?; server=
    [ "$rc" -eq 77 ] && { echo "skip: catnip has no TCP in this build"; exit 77; }
  fi
  echo "server did not start"; cat "$work/server.err"; exit 1
fi
taskset -c "$server_cpu" sh -c 'while :; do :; done' &
hog=$!

for i in $(seq "$clients"); do
  if ! timeout 120 taskset -c "$client_cpu" "$echo_bin" client "${common[@]}" --proto tcp \
      --addr 10.98.0.1:7 --size "$size" --random-sizes --count 200 --timeout-ms 5000 \
      --set "dpdk.port=net_memif0,role=client,id=0,socket=$sock,socket-abstract=no" \
      --set dpdk.link_wait_ms=10000 --set catnip.ipv4.address=10.98.0.2 2>"$work/client.err" >/dev/null; then
    echo "client $i failed"; cat "$work/client.err"
    echo "--- server"; cat "$work/server.err"; exit 1
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    rc=0; wait "$server" || rc=$?; server=
    echo "the server died (exit $rc) after client $i left"; cat "$work/server.err"; exit 1
  fi
done
kill "$hog"; wait "$hog" 2>/dev/null || true; hog=
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
server=
if [ "$rc" -ne 0 ]; then echo "server exited with $rc"; cat "$work/server.err"; exit 1; fi
leaves=$(grep -o 'device.peer_leaves=[0-9]*' "$work/server.err" | cut -d= -f2)
if [ "${leaves:-0}" -ne "$clients" ]; then
  echo "the server counted ${leaves:-0} announced leaves for $clients clients"; cat "$work/server.err"; exit 1
fi
if [ "$mtu" -gt 1500 ]; then
  rxp=$(grep -o 'device.rx_packets=[0-9]*' "$work/server.err" | cut -d= -f2)
  rxb=$(grep -o 'device.rx_bytes=[0-9]*' "$work/server.err" | cut -d= -f2)
  if [ "$((rxb / rxp))" -le 1514 ]; then
    echo "MTU $mtu: the server's frames were $((rxb / rxp)) B on average: no jumbo frames"; cat "$work/server.err"; exit 1
  fi
  echo "memif MTU $mtu: frames of $((rxb / rxp)) B on average at the server"
fi
echo "memif: $clients clients came and left; the server counted $leaves leaves and exited cleanly"
