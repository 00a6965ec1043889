#!/usr/bin/env bash
# 1 GiB (INTEROP_BULK_MB, default 1024) from a catnip client into a Linux sink (socat writing a
# file), checked by SHA-256 on both ends; the goodput is printed. demi-send closes its queue and
# exits at once: the stream ends only because catnip's shutdown linger (catnip.tcp.shutdown_linger_ms)
# delivers the last bytes and the FIN at exit. Two goodputs: demi-send's own (pushes completed,
# the last ones only queued) and end to end (from the connect to the sink's EOF, linger included).
# Measured on a 2-core VM: the GiB goes in 10-16 s in the g++ Debug build and in 12-16 s under
# ASan + UBSan (af_packet's copies dominate, not demi's code), so the sanitizer build runs the
# whole GiB too; INTEROP_BULK_MB scales it by hand. Bounded: demi-send by `timeout 240`, the
# sink by `timeout 300`, the test by ctest's 600 s.
# usage: tcp_bulk.sh BUILD_DIR [af_packet|af_xdp]
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_setup "$@"
command -v socat >/dev/null || skip "no socat"
mb=${INTEROP_BULK_MB:-1024}
src=$INTEROP_WORK/src
dst=$INTEROP_WORK/dst
head -c $((mb << 20)) /dev/urandom >"$src"
ip netns exec "$NS_L" timeout 300 socat -u TCP4-LISTEN:5001,reuseaddr "CREATE:$dst" &
sink=$!
track "$sink"
sleep 0.3
rc=0
t0=$(date +%s.%N)
in_catnip timeout 240 "$BUILD/bin/demi-send" "${catnip_args[@]}" --addr "$LINUX_IP:5001" --file "$src" || rc=$?
[ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
[ "$rc" -eq 0 ] || fail "demi-send exited with $rc"
wait "$sink" || fail "the socat sink failed (no end of stream: catnip did not finish its connection at exit?)"
t1=$(date +%s.%N)
note "$(awk -v mb="$mb" -v t="$t0" -v u="$t1" 'BEGIN { s = u - t; printf "end to end: %d MiB in %.3f s: goodput %.3f Gbit/s (demi-send start to the sink'"'"'s EOF)", mb, s, mb * 8388608 / s / 1e9 }')"
a=$(sha256sum <"$src" | cut -d' ' -f1)
b=$(sha256sum <"$dst" | cut -d' ' -f1)
note "sent   $mb MiB sha256 $a"
note "landed $(($(stat -c %s "$dst") >> 20)) MiB sha256 $b"
[ "$a" = "$b" ] || fail "SHA-256 differs"
echo "PASS"
