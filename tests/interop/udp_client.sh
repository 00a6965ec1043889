#!/usr/bin/env bash
# A catnip UDP client -> a Linux UDP echo server: random sizes, every echo checked by demi-echo.
# usage: udp_client.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"

ip netns exec "$NS_L" /usr/bin/python3 "$here/peers.py" udp-echo 7 60 >"$INTEROP_WORK/echo.out" &
track $!
sleep 0.3
# Random sizes up to one frame (1472 B), then up to the UDP maximum (65,507 B: 45 IPv4 fragments
# each way). On net_af_packet only the first: DPDK's af_packet PMD (22.11) joins its socket to a
# fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel hands it every fragmented datagram
# already reassembled, and a whole datagram larger than the PMD's 2048-byte ring frame arrives cut
# to the frame (catnip counts it in ipv4.drop.malformed). No setting fixes that: the PMD takes no
# scattered mbufs and an mbuf holds at most 65,535 bytes. See docs/dpdk.md. Catnip's own
# fragments leave fine through af_packet; only the reassembled echo cannot come back.
sizes="1472 65507"
[ "$PMD" = af_packet ] && sizes=1472
for max in $sizes; do
  in_catnip timeout 90 "$ECHO_BIN" client "${catnip_args[@]}" --proto udp --addr "$LINUX_IP:7" --size "$max" \
    --random-sizes --seed $$ --count 500 --timeout-ms 300 || fail "catnip client, sizes 1..$max"
done
echo "PASS"
