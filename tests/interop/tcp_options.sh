#!/usr/bin/env bash
# Window scaling, SACK and timestamps negotiated between catnip and Linux, both ways, read from a
# tcpdump capture of the handshakes: Linux -> catnip server, catnip client -> Linux server.
# usage: tcp_options.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v tcpdump >/dev/null || skip "no tcpdump"
command -v socat >/dev/null || skip "no socat"
cap=$INTEROP_WORK/syn.pcap
# --immediate-mode: without it libpcap hands packets over a ring block at a time (or after its
# 1 s timeout), and the kill below lost the last handshake still in the kernel's ring ("4 packets
# received by filter", 2 captured) whenever the catnip client finished within the second.
ip netns exec "$NS_L" timeout 60 tcpdump -i "$IF_L" -nn -U --immediate-mode -w "$cap" 'tcp[tcpflags] & tcp-syn != 0' \
  2>"$INTEROP_WORK/dump.err" &
dump=$!
track "$dump"
# Until tcpdump says it listens, at most 10 s (rather than a fixed 0.5 s).
for _ in $(seq 100); do grep -q "listening on" "$INTEROP_WORK/dump.err" 2>/dev/null && break; sleep 0.1; done
require_catnip_tcp_server 7
echo hello | in_linux timeout 10 socat -T 3 - "TCP4:$CATNIP_IP:7" >/dev/null || fail "Linux -> catnip connection"
stop_catnip_server
ip netns exec "$NS_L" socat TCP4-LISTEN:7,reuseaddr,fork PIPE &
track $!
sleep 0.3
in_catnip timeout 30 "$ECHO_BIN" client "${catnip_args[@]}" --proto tcp --addr "$LINUX_IP:7" --count 10 \
  --size 100 || fail "catnip -> Linux connection"
sleep 0.5
kill "$dump" 2>/dev/null || true
wait "$dump" 2>/dev/null || true
tcpdump -r "$cap" -nn -v 2>/dev/null | tr '\n' ' ' | sed 's/ IP /\nIP /g' | grep -o 'Flags \[S\.*\].*options \[[^]]*\]' |
  sed 's/seq.*options/options/' >"$INTEROP_WORK/syns"
cat "$INTEROP_WORK/syns"
[ "$(wc -l <"$INTEROP_WORK/syns")" -ge 4 ] || fail "expected 4 handshake segments (2 SYN, 2 SYN-ACK) in the capture"
while read -r line; do
  for opt in sackOK "TS val" wscale; do
    grep -q "$opt" <<<"$line" || fail "no $opt in: $line"
  done
done <"$INTEROP_WORK/syns"
note "every SYN and SYN-ACK carried window scaling, SACK-permitted and timestamps"
echo "PASS"
