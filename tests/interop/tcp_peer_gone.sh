#!/usr/bin/env bash
# The peer disappears mid-stream: a catnip client streams into a Linux sink, then the sink is
# killed and its namespace deleted (the veth pair goes with it). catnip's pushes must fail with
# ETIMEDOUT or ECONNRESET within the configured retransmission limits, and nothing may hang.
# usage: tcp_peer_gone.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v socat >/dev/null || skip "no socat"
# Does catnip have TCP? Its socket() answers (a connection to a closed port is fine here).
rc=0
in_catnip timeout 60 "$ECHO_BIN" client "${catnip_args[@]}" --proto tcp --addr "$LINUX_IP:9" --count 1 \
  --timeout-ms 2000 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
ip netns exec "$NS_L" socat -u TCP4-LISTEN:5001,reuseaddr OPEN:/dev/null &
sink=$!
track "$sink"
sleep 0.3
# Short retransmission limits, so that the failure comes within seconds (the point is that it comes).
ip netns exec "$NS_C" timeout 120 "$BUILD/bin/demi-send" "${catnip_args[@]}" --set catnip.tcp.data_retries=4 \
  --set catnip.tcp.rto_max_ms=2000 --addr "$LINUX_IP:5001" --file /dev/zero --bytes $((64 << 30)) \
  --timeout-ms 60000 2>"$INTEROP_WORK/send.err" &
sender=$!
track "$sender"
sleep 2
if ! kill -0 "$sender" 2>/dev/null; then
  rc=0
  wait "$sender" || rc=$?
  cat "$INTEROP_WORK/send.err"
  [ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
  fail "demi-send ended before the peer left ($rc)"
fi
kill -9 "$sink" 2>/dev/null || true
ip netns del "$NS_L"
t0=$(date +%s)
rc=0
wait "$sender" || rc=$?
t1=$(date +%s)
cat "$INTEROP_WORK/send.err"
[ "$rc" -ne 124 ] || fail "demi-send hung (killed by timeout)"
[ "$rc" -ne 0 ] || fail "demi-send succeeded although its peer was gone"
grep -Eq "Connection timed out|Connection reset" "$INTEROP_WORK/send.err" || fail "not ETIMEDOUT/ECONNRESET"
note "the push failed $((t1 - t0)) s after the peer left"
echo "PASS"
