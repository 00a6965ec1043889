#!/usr/bin/env bash
# A catnip TCP client -> an echo server on Linux (peers.py tcp-echo, on the kernel's sockets):
# 8 connections, random sizes to 256 KiB, every echo checked by demi-echo. Not socat's PIPE
# echo: it blocks writing its own pipe when that is full, and with 256 KiB messages it
# deadlocked about one run in three (the capture showed Linux acknowledging every byte and
# echoing 80 KiB of them).
# usage: tcp_client.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v python3 >/dev/null || skip "no python3"
ip netns exec "$NS_L" python3 "$here/peers.py" tcp-echo 7 150 &
track $!
sleep 0.5
rc=0
in_catnip timeout 120 "$ECHO_BIN" client "${catnip_args[@]}" --proto tcp --addr "$LINUX_IP:7" --conns 8 \
  --size $((256 << 10)) --random-sizes --seed $$ --count 400 --timeout-ms 10000 || rc=$?
[ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
[ "$rc" -eq 0 ] || fail "catnip client exited with $rc"
echo "PASS"
