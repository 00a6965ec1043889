#!/usr/bin/env bash
# 1 GiB (INTEROP_BULK_MB, default 1024) from a catnip client into a Linux sink (socat writing a
# file), checked by SHA-256 on both ends; the goodput is printed.
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
in_catnip timeout 240 "$BUILD/bin/demi-send" "${catnip_args[@]}" --addr "$LINUX_IP:5001" --file "$src" || rc=$?
[ "$rc" -eq 77 ] && skip "catnip has no TCP in this build"
[ "$rc" -eq 0 ] || fail "demi-send exited with $rc"
wait "$sink" || fail "the socat sink failed"
a=$(sha256sum <"$src" | cut -d' ' -f1)
b=$(sha256sum <"$dst" | cut -d' ' -f1)
note "sent   $mb MiB sha256 $a"
note "landed $(($(stat -c %s "$dst") >> 20)) MiB sha256 $b"
[ "$a" = "$b" ] || fail "SHA-256 differs"
echo "PASS"
