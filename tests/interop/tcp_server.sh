#!/usr/bin/env bash
# A catnip TCP echo server <- Linux clients: 100 connections at once from a Python client, one
# message each of a random size up to 1 MiB, and socat clients; every echo byte-exact.
# usage: tcp_server.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
require_catnip_tcp_server 7
in_linux timeout 150 /usr/bin/python3 "$here/peers.py" tcp-clients "$CATNIP_IP" 7 100 $((1 << 20)) $$ ||
  fail "100 Python connections"
if command -v socat >/dev/null; then
  RANDOM=$$
  for i in $(seq 5); do
    size=$((RANDOM * 32 + 1))
    head -c "$size" /dev/urandom >"$INTEROP_WORK/in"
    in_linux timeout 30 socat -T 10 - "TCP4:$CATNIP_IP:7" <"$INTEROP_WORK/in" >"$INTEROP_WORK/out" ||
      fail "socat connection $i"
    cmp -s "$INTEROP_WORK/in" "$INTEROP_WORK/out" || fail "socat connection $i: the echo of $size bytes differs"
  done
  note "socat: 5 connections echoed byte-exact"
fi
stop_catnip_server
echo "PASS"
