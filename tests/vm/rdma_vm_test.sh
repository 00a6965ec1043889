#!/usr/bin/env bash
# The rdma module on real soft-RoCE: boots Debian's kernel under qemu (software emulation, no
# KVM needed) with an initramfs assembled here, loads rdma_rxe, creates rxe0 on a veth, runs the
# rdma device tests and a 1,000-message byte-exact echo (1 B .. 4 MiB) inside, and checks the
# console for the verdict. Exit 77 (ctest: skipped) only if qemu cannot start at all.
#   rdma_vm_test.sh --build DIR --work DIR --bin FILE [--bin FILE ...] [--cache DIR]
# --bench OUT.json: instead of the tests, the same boot measures a 64 B TCP echo's RTT three ways
# inside the VM -- demi-echo over rdma (soft-RoCE), over posix (the VM kernel's TCP on the veth's
# address) and over catnip (net_memif between two processes) -- and writes the figures, or why a
# way could not run, to OUT.json (read by bench/bench.py). Under emulation these figures are a
# sign of health, not a performance claim. --count N / --warmup W: messages measured / before;
# --max-ms T: each way's measured part ends after T ms even if fewer than N were exchanged.
# --cache DIR: where Debian's kernel package is kept (default WORK/cache).
set -euo pipefail
BUILD= WORK= BINS=() BENCH= CACHE= COUNT=2000 WARMUP=200 MAXMS=10000
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --bin) BINS+=("$2"); shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --max-ms) MAXMS=$2; shift 2 ;;
    *) echo "rdma_vm: unknown argument $1"; exit 2 ;;
  esac
done
: "${WORK:?--work required}"
CACHE=${CACHE:-$WORK/cache}
T0=$(date +%s)
say() { echo "rdma_vm: $*"; }

# ---- qemu at all?
QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then say "SKIP: qemu-system-x86_64 is not installed (./run setup installs qemu-system-x86)"; exit 77; fi
mkdir -p "$WORK"
"$QEMU" -machine none -nodefaults -display none -S -monitor none -serial none </dev/null >/dev/null 2>"$WORK/qemu-probe.log" &
PROBE=$!; sleep 1
if ! kill -0 "$PROBE" 2>/dev/null; then
  wait "$PROBE" || true
  say "SKIP: qemu cannot start: $(head -c 300 "$WORK/qemu-probe.log" 2>/dev/null)"; exit 77
fi
kill "$PROBE"; wait "$PROBE" 2>/dev/null || true

# ---- Debian's kernel, downloaded once into the build tree and unpacked (never installed)
mkdir -p "$CACHE"
DEB=$(ls "$CACHE"/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$DEB" ]; then
  PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$PKG" ] || { say "FAIL: apt-cache does not know linux-image-amd64 (run apt-get update)"; exit 1; }
  say "downloading $PKG (cached in $CACHE)"
  chmod 777 "$CACHE"
  (cd "$CACHE" && apt-get download -q "$PKG") || { say "FAIL: apt-get download $PKG"; exit 1; }
  DEB=$(ls "$CACHE"/linux-image-[0-9]*-amd64_*.deb | head -n1)
fi
KDIR=$WORK/kernel
if [ ! -f "$KDIR/.unpacked" ] || [ "$KDIR/.unpacked" -ot "$DEB" ]; then
  rm -rf "$KDIR"; mkdir -p "$KDIR"
  dpkg-deb -x "$DEB" "$KDIR"
  touch "$KDIR/.unpacked"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n1)
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/lib/modules/$KVER

# ---- the initramfs
ROOT=$WORK/root
rm -rf "$ROOT"; mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,mods,test,etc}
cp /bin/busybox "$ROOT/bin/busybox"
# A file and every shared library it needs (ldd), at their own paths.
copy_with_libs() {
  local f=$1 dest=${2:-$1}
  mkdir -p "$ROOT$(dirname "$dest")"; cp -L "$f" "$ROOT$dest"
  ldd "$f" 2>/dev/null | grep -oE '(/[^ ]+)' | while read -r lib; do
    [ -e "$ROOT$lib" ] && continue
    mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"
  done
}
for tool in ip rdma; do
  p=$(command -v $tool || ls /sbin/$tool /usr/sbin/$tool /bin/$tool 2>/dev/null | head -n1)
  [ -n "$p" ] || { say "FAIL: iproute2's $tool is missing"; exit 1; }
  copy_with_libs "$p" "/sbin/$tool"
done
for b in "${BINS[@]}"; do
  [ -x "$b" ] || { say "note: $b not built; not in the VM"; continue; }
  # At its own absolute path, so that its rpath ($ORIGIN/../lib) finds libdemi as on the host.
  b=$(readlink -f "$b")
  copy_with_libs "$b"
  ln -sf "$b" "$ROOT/test/$(basename "$b")"
done
# The verbs provider for rxe and its driver file.
mkdir -p "$ROOT/etc/libibverbs.d"
cp /etc/libibverbs.d/rxe.driver "$ROOT/etc/libibverbs.d/"
for p in /usr/lib/x86_64-linux-gnu/libibverbs/librxe-*.so; do copy_with_libs "$p"; done
# Kernel modules in load order (rdma_rxe asks for crc32 at run time without declaring it).
ORDER="crc32_generic ib_core ib_uverbs udp_tunnel ip6_udp_tunnel rdma_rxe ib_cm iw_cm configfs rdma_cm rdma_ucm veth"
LOAD=
for m in $ORDER; do
  ko=$(find "$MODDIR" -name "$m.ko" | head -n1)
  if [ -n "$ko" ]; then cp "$ko" "$ROOT/mods/"; LOAD="$LOAD $m"
  elif ! grep -q "/$m.ko" "$MODDIR/modules.builtin" 2>/dev/null; then say "FAIL: kernel module $m not found"; exit 1; fi
done

# ---- bench mode: catnip needs DPDK's drivers, which the EAL loads from its plugin directory
# (not in ldd's list): the vdev bus, the ring mempool and memif, with their libraries. Catnip
# runs over net_memif between two processes; without DPDK it is reported as not available.
CATNIP_WHY=
if [ -n "$BENCH" ]; then
  EAL=$(ldd "$(readlink -f "$ROOT/test/demi-echo")" 2>/dev/null | awk '/librte_eal/ {print $3}')
  PMDS=$( [ -n "$EAL" ] && ls -d "$(dirname "$(readlink -f "$EAL")")"/dpdk/pmds-* 2>/dev/null | head -n1 || true)
  if [ -z "$EAL" ]; then CATNIP_WHY="demi-echo is built without DPDK"
  elif [ -z "$PMDS" ]; then CATNIP_WHY="DPDK's driver directory next to $EAL is missing"
  else
    mkdir -p "$ROOT$PMDS"
    LIBDIR=$(dirname "$EAL")
    for drv in bus_vdev mempool_ring net_memif; do
      real=$(readlink -f "$PMDS/librte_$drv.so")
      [ -f "$real" ] || { CATNIP_WHY="DPDK driver librte_$drv is missing in $PMDS"; break; }
      # One file per driver, where ldd puts the libraries (memif links the vdev bus by name), and
      # one link to it in the drivers' directory: two copies of the vdev bus would each keep
      # their own list of drivers, and the bus that probes would not know memif.
      lib=$LIBDIR/$(basename "${real%.*}")
      copy_with_libs "$real" "$lib"
      ln -sf "$lib" "$ROOT$PMDS/librte_$drv.so"
    done
  fi
  if [ -z "$CATNIP_WHY" ]; then
    # Small memory (the VM has 1 GiB for both processes) and no hugepages.
    for role in server client; do
      [ $role = server ] && ip=10.78.0.1 wait=0 || ip=10.78.0.2 wait=10000
      cat > "$ROOT/test/memif-$role.yaml" <<YAML
dpdk:
  port: net_memif0,role=$role,id=0,socket=/tmp/memif.sock,socket-abstract=no
  link_wait_ms: $wait
  eal_args: [--no-pci, --no-huge, "-m", "128"]
  memory_mb: 32
  memory_hugepages: false
catnip:
  ipv4:
    address: $ip
YAML
    done
  fi
fi

cat > "$ROOT/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin LD_LIBRARY_PATH=
# No tmpfs on /tmp: the initramfs is writable already, and the binaries may live under /tmp (a
# clone in /tmp) at their absolute paths.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "DEMI-VM-BOOTED"
verdict() { echo "DEMI-VM-RESULT: \$1"; sync; poweroff -f; }
for m in $LOAD; do insmod /mods/\$m.ko || verdict "FAIL insmod \$m"; done
/sbin/ip link add veth0 type veth peer name veth1 || verdict "FAIL veth"
/sbin/ip addr add 10.77.0.1/24 dev veth0
/sbin/ip link set veth0 up; /sbin/ip link set veth1 up; /sbin/ip link set lo up
/sbin/rdma link add rxe0 type rxe netdev veth0 || verdict "FAIL rdma link add"
/sbin/rdma link show
ulimit -l unlimited
export GTEST_COLOR=no
export DEMI_RDMA_TEST_ADDR=10.77.0.1 DEMI_RDMA_TEST_ABSENT_ADDR=10.77.0.99
cd /test
INIT
if [ -n "$BENCH" ]; then
  cat >> "$ROOT/init" <<INIT
COUNT=$COUNT WARMUP=$WARMUP MAXMS=$MAXMS
INIT
  cat >> "$ROOT/init" <<'INIT'
# row NAME SERVER... -- CLIENT...: the server on CPU 1 writes its port to a file; the client on
# CPU 0 connects to that port (PORT in its arguments) and prints one JSON line of figures.
row() {
  name=$1; shift
  server=; while [ "$1" != "--" ]; do server="$server $1"; shift; done; shift
  rm -f /tmp/port
  echo "DEMI-VM-BENCH-SERVER $name:$server --port-file /tmp/port"
  taskset -c 1 $server --port-file /tmp/port > /tmp/$name-server.log 2>&1 &
  spid=$!
  for i in $(seq 1 300); do [ -s /tmp/port ] && break; kill -0 $spid 2>/dev/null || break; sleep 0.1; done
  if [ ! -s /tmp/port ]; then
    tail -n 40 /tmp/$name-server.log
    echo "DEMI-VM-BENCH-FAIL $name: the server did not start: $(tail -n 3 /tmp/$name-server.log | tr '\n' ' ')"
    kill $spid 2>/dev/null; wait $spid 2>/dev/null; return
  fi
  client=$(echo "$*" | sed "s/PORT/$(cat /tmp/port)/")
  echo "DEMI-VM-BENCH-CLIENT $name: $client"
  taskset -c 0 $client > /tmp/$name-client.out 2> /tmp/$name-client.err
  rc=$?
  json=$(grep '^{' /tmp/$name-client.out | tail -n 1)
  if [ $rc -eq 0 ] && [ -n "$json" ]; then echo "DEMI-VM-BENCH-RESULT $name $json"
  else echo "DEMI-VM-BENCH-FAIL $name: the client failed (exit $rc): $(tail -n 3 /tmp/$name-client.err | tr '\n' ' ')"; fi
  kill $spid 2>/dev/null; wait $spid 2>/dev/null
}
mkdir -p /var/run  # DPDK's EAL keeps its runtime directory there
E="--size 64 --count $COUNT --warmup $WARMUP --json --timeout-ms 10000 --max-ms $MAXMS"
echo "==== bench: 64 B TCP echo RTT, $COUNT messages after $WARMUP, server on CPU 1, client on CPU 0"
row rdma ./demi-echo server --libos rdma --proto tcp --addr 10.77.0.1:7300 \
  -- ./demi-echo client --libos rdma --proto tcp --addr 10.77.0.1:PORT $E
row kernel ./demi-echo server --libos posix --proto tcp --addr 10.77.0.1:0 \
  -- ./demi-echo client --libos posix --proto tcp --addr 10.77.0.1:PORT $E
if [ -f /test/memif-server.yaml ]; then
  row catnip ./demi-echo server --libos catnip --proto tcp --addr 10.78.0.1:7000 --config /test/memif-server.yaml \
    -- ./demi-echo client --libos catnip --proto tcp --addr 10.78.0.1:PORT --config /test/memif-client.yaml $E
fi
echo "DEMI-VM-RESULT: BENCH-DONE"; sync; poweroff -f
INIT
else
  cat >> "$ROOT/init" <<INIT
FAILED=
echo "==== rdma_device_tests"
./rdma_device_tests || FAILED="\$FAILED device-tests"
echo "==== rdma_echo: 1000 messages, 1 B .. 4 MiB"
./rdma_echo server 10.77.0.1:7100 --once > /tmp/server.log 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q listening /tmp/server.log && break; sleep 1; done
./rdma_echo client 10.77.0.1:7100 --count 1000 --max-size 4194304 || FAILED="\$FAILED echo"
wait
echo "==== demi-echo --libos rdma through the C API: 1000 messages of 1 B .. 64 KiB, then 20 of 1 B .. 4 MiB"
./demi-echo server --libos rdma --proto tcp --addr 10.77.0.1:7200 --max-conns 2 > /tmp/de.log 2>&1 &
sleep 2
./demi-echo client --libos rdma --proto tcp --addr 10.77.0.1:7200 --size 65536 --random-sizes --count 1000 \
  || { FAILED="\$FAILED demi-echo"; cat /tmp/de.log; }
./demi-echo client --libos rdma --proto tcp --addr 10.77.0.1:7200 --size 4194304 --random-sizes --count 20 \
  || { FAILED="\$FAILED demi-echo-4MiB"; cat /tmp/de.log; }
kill %1 2>/dev/null; wait 2>/dev/null
[ -z "\$FAILED" ] && verdict PASS || verdict "FAIL:\$FAILED"
INIT
fi
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
say "initramfs $(du -h "$WORK/initrd.gz" | cut -f1), kernel $KVER, assembled in $(( $(date +%s) - T0 )) s"

# ---- boot
CONSOLE=$WORK/console.log
T1=$(date +%s)
LIMIT=600
[ -n "$BENCH" ] && LIMIT=300
# A boot under software emulation has been seen to stall before the kernel printed anything
# (once in some dozen boots; the same boot again took 16 s): when init has not said it runs
# within BOOT_LIMIT seconds, the VM is stopped and booted once more, and this says so.
BOOT_LIMIT=${DEMI_VM_BOOT_LIMIT:-120}
boot() {
  : >"$CONSOLE"
  timeout $LIMIT "$QEMU" -nographic -nic none -m 1024 -smp 2 -cpu max -no-reboot \
    -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$CONSOLE" 2>&1 &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q "DEMI-VM-BOOTED" "$CONSOLE"; then
      wait "$pid"
      return $?
    fi
    if [ "$waited" -ge "$BOOT_LIMIT" ]; then
      kill "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 200
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait "$pid"
}
STALLED=
set +e
boot
RC=$?
if [ "$RC" -eq 200 ]; then
  cp "$CONSOLE" "$CONSOLE.stalled"
  say "the VM's init did not start within $BOOT_LIMIT s (a stalled boot under software emulation; console: $CONSOLE.stalled): booting it again"
  boot
  RC=$?
  if [ "$RC" -eq 200 ]; then
    say "FAIL: the VM's init did not start within $BOOT_LIMIT s, twice"
    RC=124 STALLED=1
  fi
fi
set -e
ELAPSED=$(( $(date +%s) - T1 ))
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && ! grep -q "Linux version\|DEMI-VM-RESULT\|Run /init" "$CONSOLE"; then
  say "SKIP: qemu could not start (exit $RC): $(head -c 400 "$CONSOLE")"; exit 77
fi
if [ -n "$BENCH" ]; then
  grep -aE "==== bench|DEMI-VM-BENCH|DEMI-VM-RESULT" "$CONSOLE" | tr -d '\r' || true
  # The console's lines -> OUT.json: per way, the commands run inside the VM and the client's
  # figures, or why there are none.
  python3 - "$CONSOLE" "$BENCH" "$KVER" "$ELAPSED" "$CATNIP_WHY" "$("$QEMU" --version | head -n1)" "$COUNT" "$WARMUP" "$MAXMS" <<'PY'
import json, re, sys
console, out, kver, elapsed, catnip_why, qemu, count, warmup, max_ms = sys.argv[1:]
rows = {name: dict(status="failed", reason="the VM did not get to it (see the console)") for name in ("rdma", "kernel", "catnip")}
if catnip_why:
    rows["catnip"] = dict(status="not available", reason=catnip_why)
with open(console, errors="replace") as f:
    for line in f:
        line = line.rstrip("\r\n")
        m = re.search(r"DEMI-VM-BENCH-(SERVER|CLIENT|RESULT|FAIL) (\w+)[: ](.*)$", line)
        if not m:
            continue
        what, name, rest = m.group(1), m.group(2), m.group(3).strip()
        r = rows.setdefault(name, {})
        if what in ("SERVER", "CLIENT"):
            r[what.lower()] = rest
        elif what == "RESULT":
            r.update(status="measured", figures=json.loads(rest))
            r.pop("reason", None)
        else:
            r.update(status="failed", reason=rest)
doc = dict(kernel=kver, qemu=qemu, accel="tcg (software emulation, no KVM)", vm="qemu -smp 2 -m 1024 -cpu max",
           boot_seconds=int(elapsed), count=int(count), warmup=int(warmup), max_ms=int(max_ms), rows=rows)
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
PY
  if grep -q "DEMI-VM-RESULT: BENCH-DONE" "$CONSOLE"; then
    say "bench done in ${ELAPSED} s of VM time: $BENCH (console: $CONSOLE)"; exit 0
  fi
  [ "$RC" -eq 124 ] && [ -z "$STALLED" ] && say "FAIL: the VM did not finish within $LIMIT s"
  say "FAIL: the bench did not finish (console: $CONSOLE)"; tail -n 40 "$CONSOLE"; exit 1
fi
grep -E "^\[ *(OK|FAILED|  PASSED|  SKIPPED) |rdma_echo: |demi-echo|DEMI-VM-RESULT|tests? ran|FAIL" "$CONSOLE" | tr -d '\r' || true
if grep -q "DEMI-VM-RESULT: PASS" "$CONSOLE"; then
  say "PASS in ${ELAPSED} s of VM time (console: $CONSOLE)"; exit 0
fi
[ "$RC" -eq 124 ] && [ -z "$STALLED" ] && say "FAIL: the VM did not finish within $LIMIT s"
say "FAIL (console: $CONSOLE)"; tail -n 40 "$CONSOLE"; exit 1
