#!/usr/bin/env bash
# A catnip TCP client -> a socat echo server on Linux: 8 connections, random sizes to 256 KiB,
# every echo checked by demi-echo.
# usage: tcp_client.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v socat >/dev/null || skip "no socat"
ip netns exec "$NS_L" socat TCP4-LISTEN:7,reuseaddr,fork PIPE &
track $!
sleep 0.3
rc=0
in_catnip timeout 120 "$ECHO_BIN" client "${catnip_args[@]}" --proto tcp --addr "$LINUX_IP:7" --conns 8 \
  --size $((256 << 10)) --random-sizes --seed $$ --count 400 --timeout-ms 10000 || rc=$?
[ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
[ "$rc" -eq 0 ] || fail "catnip client exited with $rc"
echo "PASS"
