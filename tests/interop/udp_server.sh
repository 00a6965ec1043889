#!/usr/bin/env bash
# A catnip UDP echo server <- Linux clients: socat (one datagram per run) and a Python socket
# client, random sizes (up to 1472 B: one frame; and up to 65,507 B, the UDP maximum: IPv4
# fragments both ways), every echo compared byte for byte. Not the fragments on net_af_packet:
# its PMD has the kernel reassemble them and cuts the datagram to its 2048-byte ring frame (see
# udp_client.sh and docs/dpdk.md).
# usage: udp_server.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v socat >/dev/null || skip "no socat"

start_catnip_server udp 7
RANDOM=$$
for i in $(seq 10); do
  size=$((RANDOM % 1472 + 1))
  head -c "$size" /dev/urandom >"$INTEROP_WORK/in"
  in_linux timeout 10 socat -b 65536 -T 2 -t 1 - "UDP4:$CATNIP_IP:7" <"$INTEROP_WORK/in" >"$INTEROP_WORK/out" || true
  cmp -s "$INTEROP_WORK/in" "$INTEROP_WORK/out" ||
    fail "socat datagram $i of $size bytes: echo differs ($(stat -c %s "$INTEROP_WORK/out") bytes back)"
done
note "socat: 10 datagrams of random sizes echoed byte-exact"
in_linux timeout 120 /usr/bin/python3 "$here/peers.py" udp-client "$CATNIP_IP" 7 300 1472 $$ || fail "python client (one frame)"
[ "$PMD" = af_packet ] || in_linux timeout 120 /usr/bin/python3 "$here/peers.py" udp-client "$CATNIP_IP" 7 100 65507 $(($$ + 1)) ||
  fail "python client (fragments, up to 65,507 B)"
stop_catnip_server
echo "PASS"
