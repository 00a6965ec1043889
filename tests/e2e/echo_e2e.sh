#!/usr/bin/env bash
# echo_e2e.sh [--valgrind SANITIZERS] DEMI_ECHO PROTO CLIENT_ARGS...
# Starts `demi-echo server` on 127.0.0.1 (a free port), runs the client with CLIENT_ARGS, and
# fails unless the client checked every byte. With --valgrind both run under memcheck, and any
# error or definite leak fails the test (skipped in a sanitizer build, where ASan does that job).
set -euo pipefail
valgrind=()
if [ "$1" = "--valgrind" ]; then
  sanitize=$2
  shift 2
  if [ -n "$sanitize" ]; then echo "skip: a sanitizer build (valgrind and ASan do not mix)"; exit 77; fi
  if ! command -v valgrind >/dev/null; then echo "skip: valgrind is not installed"; exit 77; fi
  valgrind=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
            --show-leak-kinds=definite)
fi
echo_bin=$1 proto=$2
shift 2
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"${valgrind[@]}" "$echo_bin" server --libos posix --proto "$proto" --addr 127.0.0.1:0 --port-file "$work/port" \
  2>"$work/server.err" &
server=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "server did not start"; cat "$work/server.err"; exit 1; }
port=$(cat "$work/port")
# TCP: --timeout-ms is how long without progress counts as a hang. UDP: how long before a lost
# datagram is sent again (the client gives up after 20 in a row), so it is short.
if [ "$proto" = udp ]; then timeout_ms=1000; else timeout_ms=30000; fi
"${valgrind[@]}" "$echo_bin" client --libos posix --proto "$proto" --addr "127.0.0.1:$port" "$@" --timeout-ms "$timeout_ms"
# Stop the server the way an operator would; under valgrind its exit status carries any error.
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=
if [ "$status" -ne 0 ]; then
  echo "server exited with $status"
  cat "$work/server.err"
  exit 1
fi
echo "e2e $proto: server exited cleanly"
