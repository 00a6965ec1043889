#!/usr/bin/env bash
# The rdma module on real soft-RoCE: boots Debian's kernel under qemu (software emulation, no
# KVM needed) with an initramfs assembled here, loads rdma_rxe, creates rxe0 on a veth, runs the
# rdma device tests and a 1,000-message byte-exact echo (1 B .. 4 MiB) inside, and checks the
# console for the verdict. Exit 77 (ctest: skipped) only if qemu cannot start at all.
#   rdma_vm_test.sh --build DIR --work DIR --bin FILE [--bin FILE ...]
set -euo pipefail
BUILD= WORK= BINS=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --bin) BINS+=("$2"); shift 2 ;;
    *) echo "rdma_vm: unknown argument $1"; exit 2 ;;
  esac
done
: "${WORK:?--work required}"
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
mkdir -p "$WORK/cache"
DEB=$(ls "$WORK"/cache/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$DEB" ]; then
  PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$PKG" ] || { say "FAIL: apt-cache does not know linux-image-amd64 (run apt-get update)"; exit 1; }
  say "downloading $PKG (cached in $WORK/cache)"
  chmod 777 "$WORK/cache"
  (cd "$WORK/cache" && apt-get download -q "$PKG") || { say "FAIL: apt-get download $PKG"; exit 1; }
  DEB=$(ls "$WORK"/cache/linux-image-[0-9]*-amd64_*.deb | head -n1)
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

cat > "$ROOT/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin LD_LIBRARY_PATH=
# No tmpfs on /tmp: the initramfs is writable already, and the binaries may live under /tmp (a
# clone in /tmp) at their absolute paths.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
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
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
say "initramfs $(du -h "$WORK/initrd.gz" | cut -f1), kernel $KVER, assembled in $(( $(date +%s) - T0 )) s"

# ---- boot
CONSOLE=$WORK/console.log
T1=$(date +%s)
set +e
timeout 600 "$QEMU" -nographic -nic none -m 1024 -smp 2 -cpu max -no-reboot \
  -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$CONSOLE" 2>&1
RC=$?
set -e
ELAPSED=$(( $(date +%s) - T1 ))
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && ! grep -q "Linux version\|DEMI-VM-RESULT\|Run /init" "$CONSOLE"; then
  say "SKIP: qemu could not start (exit $RC): $(head -c 400 "$CONSOLE")"; exit 77
fi
grep -E "^\[ *(OK|FAILED|  PASSED|  SKIPPED) |rdma_echo: |demi-echo|DEMI-VM-RESULT|tests? ran|FAIL" "$CONSOLE" | tr -d '\r' || true
if grep -q "DEMI-VM-RESULT: PASS" "$CONSOLE"; then
  say "PASS in ${ELAPSED} s of VM time (console: $CONSOLE)"; exit 0
fi
[ "$RC" -eq 124 ] && say "FAIL: the VM did not finish within 240 s"
say "FAIL (console: $CONSOLE)"; tail -n 40 "$CONSOLE"; exit 1
