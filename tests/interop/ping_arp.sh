#!/usr/bin/env bash
# Linux pings a catnip host; ARP both ways: Linux learns catnip's address from catnip's reply,
# catnip learns Linux's from Linux's reply (seen in catnip's counters and by the exchange working).
# usage: ping_arp.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v ping >/dev/null || skip "no ping (iputils-ping)"

start_catnip_server udp 7
# Linux -> catnip: ARP request from Linux, reply from catnip, then ICMP echo.
in_linux ping -c 5 -i 0.2 -W 2 "$CATNIP_IP" || fail "Linux's ping to catnip failed"
learned=$(in_linux ip neigh show "$CATNIP_IP" dev "$IF_L" | awk '{print $3}')
[ "$learned" = "$CATNIP_MAC" ] || fail "Linux learned '$learned' for $CATNIP_IP, expected catnip's $CATNIP_MAC"
note "Linux resolved $CATNIP_IP to $learned (catnip answered its ARP request)"
counters=$(stop_catnip_server)
echo "$counters"
grep -q "arp.replies_sent=[1-9]" <<<"$counters" || fail "catnip counted no ARP reply"
grep -q "icmp.*echo.*=[5-9]" <<<"$counters" || note "(no per-echo ICMP counter to check: $counters)"

# catnip -> Linux: catnip must resolve Linux's address itself before its datagrams can go out.
in_linux ip neigh flush dev "$IF_L"
ip netns exec "$NS_L" /usr/bin/python3 "$here/peers.py" udp-echo 7 30 >"$INTEROP_WORK/echo.out" &
track $!
sleep 0.3
in_catnip timeout 60 "$ECHO_BIN" client "${catnip_args[@]}" --proto udp --addr "$LINUX_IP:7" --size 100 \
  --count 10 --timeout-ms 500 2>"$INTEROP_WORK/client.err" || { cat "$INTEROP_WORK/client.err"; fail "catnip client"; }
cat "$INTEROP_WORK/client.err"
grep -q "arp.requests_sent=[1-9]" "$INTEROP_WORK/client.err" || fail "catnip sent no ARP request"
grep -q "arp.replies_received=[1-9]" "$INTEROP_WORK/client.err" || fail "catnip got no ARP reply from Linux"
note "catnip resolved $LINUX_IP through ARP and exchanged 10 datagrams"
echo "PASS"
