# Shared set-up of the interop tests: catnip (demi's stack, on DPDK's net_af_packet or net_af_xdp)
# in one network namespace, the Linux kernel in another, one veth pair between them. Every name
# carries this shell's pid, so that runs in parallel (other engineers, ctest -j) never meet, and
# everything is removed on exit, whatever happened.
#
# usage (from a test script):  . lib.sh; interop_setup BUILD_DIR [af_packet|af_xdp]
# then: in_catnip CMD..., in_linux CMD..., catnip_args (an array of demi-echo arguments),
# CATNIP_IP, LINUX_IP, and skip "reason" / fail "reason".
set -euo pipefail

# Leaks of third-party code that demi cannot free (see the file) do not fail an ASan run.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "interop: $*"; }

CATNIP_IP=10.77.0.1
LINUX_IP=10.77.0.2
NS_C=demi-ic-$$
NS_L=demi-il-$$
IF_C=dic$$
IF_L=dil$$
INTEROP_WORK=
_bg_pids=()

interop_cleanup() {
  local p
  for p in "${_bg_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${_bg_pids[@]}"; do
    # Bounded: a process that ignores TERM is killed.
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # Whatever still runs in the namespaces (socat's forked children, for instance, which hold
  # connections a catnip process left without a FIN) goes too, or ctest waits for them forever.
  for ns in "$NS_C" "$NS_L"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  ip netns del "$NS_C" 2>/dev/null || true
  ip netns del "$NS_L" 2>/dev/null || true
  [ -n "$INTEROP_WORK" ] && rm -rf "$INTEROP_WORK"
  return 0
}

# Remembers a background process so that cleanup ends it.
track() { _bg_pids+=("$1"); }

in_catnip() { ip netns exec "$NS_C" "$@"; }
in_linux() { ip netns exec "$NS_L" "$@"; }

interop_setup() {
  BUILD=${1:?build dir}
  PMD=${2:-af_packet}
  ECHO_BIN=$BUILD/bin/demi-echo
  [ -x "$ECHO_BIN" ] || fail "no $ECHO_BIN"
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces and veth pairs)"
  command -v ip >/dev/null || skip "no iproute2 'ip' command"
  trap interop_cleanup EXIT
  ip netns add "$NS_C" 2>/dev/null || skip "cannot create a network namespace here"
  ip netns add "$NS_L" || fail "second namespace"
  ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_L" netns "$NS_L" 2>/dev/null ||
    skip "cannot create a veth pair here"
  INTEROP_WORK=$(mktemp -d)
  # The catnip side's kernel must stay silent on this link: no address, no IPv6.
  in_catnip sysctl -qw "net.ipv6.conf.$IF_C.disable_ipv6=1" || true
  in_linux sysctl -qw "net.ipv6.conf.$IF_L.disable_ipv6=1" || true
  in_catnip ip link set lo up
  in_linux ip link set lo up
  in_linux ip addr add "$LINUX_IP/24" dev "$IF_L"
  in_catnip ip link set "$IF_C" up
  in_linux ip link set "$IF_L" up
  # veth leaves the checksums of Linux's own packets to "hardware" that does not exist
  # (CHECKSUM_PARTIAL); a raw-socket reader such as af_packet would see them unfinished.
  if command -v ethtool >/dev/null; then
    in_linux ethtool -K "$IF_L" tx off >/dev/null 2>&1 || true
    in_catnip ethtool -K "$IF_C" tx off >/dev/null 2>&1 || true
  fi
  CATNIP_MAC=$(in_catnip cat "/sys/class/net/$IF_C/address")
  case $PMD in
    af_packet) port="net_af_packet0,iface=$IF_C" ;;
    af_xdp)
      mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
      port="net_af_xdp0,iface=$IF_C,start_queue=0,queue_count=1" ;;
    *) fail "unknown PMD $PMD" ;;
  esac
  catnip_args=(--libos catnip
    --set "dpdk.eal_args=[--no-pci, --no-huge, -m, '256']"
    --set dpdk.memory_mb=64 --set dpdk.memory_hugepages=false
    --set "dpdk.port=$port" --set dpdk.link_wait_ms=5000
    --set "catnip.ipv4.address=$CATNIP_IP" --set catnip.ipv4.netmask=255.255.255.0
    --set libos.log_level=warn)
  note "namespaces $NS_C (catnip on $PMD over $IF_C, $CATNIP_IP, $CATNIP_MAC) and $NS_L (Linux, $LINUX_IP)"
}

# Starts a catnip demi-echo server in the catnip namespace: start_catnip_server PROTO PORT.
# Returns 0 once it serves, 77 if it exited with 77 (no TCP in this build); fails otherwise.
start_catnip_server() {
  local proto=$1 port=$2 pf=$INTEROP_WORK/server.port
  rm -f "$pf"
  ip netns exec "$NS_C" timeout 300 "$ECHO_BIN" server "${catnip_args[@]}" --proto "$proto" --addr "$CATNIP_IP:$port" \
    --port-file "$pf" >"$INTEROP_WORK/server.out" 2>"$INTEROP_WORK/server.err" &
  SERVER_PID=$!
  track "$SERVER_PID"
  for _ in $(seq 200); do
    [ -s "$pf" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      local rc=0
      wait "$SERVER_PID" || rc=$?
      [ "$rc" -eq 77 ] && return 77
      cat "$INTEROP_WORK/server.err" >&2
      fail "the catnip server exited with $rc"
    fi
    sleep 0.05
  done
  cat "$INTEROP_WORK/server.err" >&2
  fail "the catnip server did not start"
}

# Stops the catnip server and prints its counters (from its exit report).
stop_catnip_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  wait "$SERVER_PID" 2>/dev/null || true
  grep -h "counters:" "$INTEROP_WORK/server.err" || { echo "(no counters from the server:)"; tail -5 "$INTEROP_WORK/server.err"; }
}

# The TCP tests first ask catnip for a TCP socket. The answer is the real socket() call's: a
# build whose catnip has no TCP skips them, with this message.
require_catnip_tcp_server() {
  local rc=0
  start_catnip_server tcp "$1" || rc=$?
  if [ "$rc" -eq 77 ]; then
    grep -h "no TCP" "$INTEROP_WORK/server.err" >&2 || true
    skip "catnip has no TCP in this build"
  fi
}
