#!/usr/bin/env python3
"""demi's benchmark driver (run through bench/run_bench.sh, or `./run bench`).

Every measured row is declared once, in ROWS below: its name, its group, the server and client
command lines (templates), and the row it is compared with in the same run (its yardstick).
A row whose module this build does not have is reported "not available" -- found by trying it:
the server or client refuses with "unknown libos" -- never skipped silently or faked.

Each row runs `repeats` times with fresh processes; each figure is the median of the repeats
with its spread ((max - min) / median). Server and client are pinned to their own cores with
taskset. Warm-up is excluded by every tool (demi-echo --warmup, rawping --warmup, sockperf's own
warm-up, iperf3 -O, demi-stream --warmup-seconds). Every command line run is kept in the JSON.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---------------------------------------------------------------------------------------------
# Run-size presets. Latency rows stop at `count` messages or after `max_ms` of measuring,
# whichever comes first (many_ms for the 1,000-connection rows), so the run stays bounded on a
# loaded machine. full: the default (< 10 min); quick: every row, smaller (~1-2 min);
# smoke: tiny counts, for the ctest that checks the harness (< 60 s).
PRESETS = {
    "full":  dict(repeats=3, count=20000, count_big=4000, warmup=2000, seconds=2, tput_seconds=2,
                  tput_warmup=0.5, many_count=100000, many_warmup=5000, stall_seconds=1.0, max_ms=1500, many_ms=3000,
                  alloc_counts=(2000, 12000), cg_counts=(500, 2500), sim_counts=(2000, 12000), vm_count=2000, vm_warmup=200, vm_max_ms=5000),
    "quick": dict(repeats=2, count=5000, count_big=1000, warmup=300, seconds=1, tput_seconds=1,
                  tput_warmup=0.3, many_count=30000, many_warmup=3000, stall_seconds=0.5, max_ms=300, many_ms=1000,
                  alloc_counts=(1000, 4000), cg_counts=(100, 400), sim_counts=(1000, 4000), vm_count=1000, vm_warmup=100, vm_max_ms=3000),
    "smoke": dict(repeats=2, count=300, count_big=50, warmup=50, seconds=1, tput_seconds=1,
                  tput_warmup=0.1, many_count=2000, many_warmup=200, stall_seconds=0.1, max_ms=300, many_ms=500,
                  alloc_counts=(100, 300), cg_counts=(30, 90), sim_counts=(200, 600), vm_count=300, vm_warmup=50, vm_max_ms=1000),
}
# In smoke mode only these rows run (one per kind of row, catnip's included, so that "not
# available" is exercised too, and lwip's echo), to stay well under a minute. catnip's
# allocation row needs the memif server's clean exit after its client has left (which the memif
# leave handshake in DpdkPort made reliable).
SMOKE_ROWS = re.compile(r"^(raw memif 64 B|kernel tcp busy-poll 64 B|demi posix (tcp|udp) 64 B|demi catnip tcp 64 B$|demi lwip tcp 64 B$|"
                        r"kernel tcp 1 MiB|demi posix tcp 1 MiB|kernel epoll server, |demi posix server, |"
                        r"demi posix tcp 64 B: |demi catnip tcp 64 B: allocations|catnip tcp 64 B echo on the simulator)")

KIB = 1024
# The largest message: 65000 B, not 64 KiB, for TCP too -- sockperf takes at most 65507 B (its
# UDP limit, for both protocols), and every row of a size must compare the same exchange.
BIG = 65000
LAT_SIZES = [64, KIB, 8 * KIB, BIG]
RAW_SIZES = [64, KIB, 8 * KIB, BIG]
MANY_CONNS = 1000

# ---------------------------------------------------------------------------------------------
# The rows. Placeholders filled per run: {bin} build/bin, {port} a free TCP/UDP port, {portfile},
# {ready} a path that exists once the server is ready, {scfg}/{ccfg} server/client config files,
# {samples} the raw-RTT file, {count} {warmup} {seconds} {tput_seconds} {tput_warmup} {many_count}
# {many_warmup}. sockperf's -t and iperf3's -t take whole seconds; iperf3 runs -O more. Each row: kind (which parser), group, size, yardsticks (names of rows of the same
# run to divide by), net ("loopback" or memif settings), server and client argv templates.


def size_label(n):
    return f"{n // KIB} KiB" if n >= KIB and n % KIB == 0 else f"{n} B"


def echo_count(size):
    return "{count_big}" if size >= BIG else "{count}"


def rawping_row(size):
    # A message larger than one frame goes as several (MTU 1500: 8 KiB is 6 frames each way), as
    # the stacks send it: memif in DPDK 22.11 has no jumbo frames.
    return dict(name=f"raw memif {size_label(size)}", kind="rawping", group="latency", size=size,
                net=dict(memif=True), yardsticks=[],
                server=["{bin}/demi-rawping", "server", "--config", "{scfg}"],
                client=["{bin}/demi-rawping", "client", "--config", "{ccfg}", "--size", str(size),
                        "--count", "{count}", "--warmup", "{warmup}", "--json", "--samples", "{samples}"],
                ready="{memif_sock}",
                # Exit 1 with its figures: some frames got no answer within 100 ms (on a loaded
                # machine, a stalled peer); they are counted ("lost") and the rest measured.
                accept_exit=(0, 1))


def sockperf_row(proto, size, busy):
    mode = "busy-poll" if busy else "blocking"
    tcp = ["--tcp"] if proto == "tcp" else []
    poll_s = ["--nonblocked", "--timeout", "0"] if busy else []
    poll_c = ["--nonblocked"] if busy else []
    return dict(name=f"kernel {proto} {mode} {size_label(size)}", kind="sockperf", group="latency", size=size,
                net=dict(), yardsticks=[],
                server=["sockperf", "server", *tcp, "-i", "127.0.0.1", "-p", "{port}", *poll_s],
                client=["sockperf", "ping-pong", *tcp, "-i", "127.0.0.1", "-p", "{port}", "-m", str(size),
                        "-t", "{seconds}", "--full-rtt", "--dontwarmup", *poll_c, "--full-log", "{samples}"],
                ready=f"bound:{proto}:{{port}}")


def echo_row(libos, proto, size, busy=False, memif=False, extra="", mtu=None):
    """demi-echo over a module: posix on loopback, catnip (or lwip) over net_memif (at MTU mtu)."""
    if mtu:
        extra += f" (MTU {mtu})"
    mode = " busy-poll" if busy else ""
    addr = "10.77.0.1:7000" if memif else "127.0.0.1:0"
    caddr = "10.77.0.1:7000" if memif else "127.0.0.1:{port_from_file}"
    kernel = f"kernel {proto} {'busy-poll' if busy or memif else 'blocking'} {size_label(size)}"
    yard = [kernel] + ([f"raw memif {size_label(size)}"] if memif and size in RAW_SIZES else [])
    if libos == "lwip":  # lwIP is measured against catnip on the same device (issue 7)
        yard.append(f"demi catnip {proto} {size_label(size)}")
    cfg = ["--config", "{scfg}"] if (memif or busy) else []
    ccfg = ["--config", "{ccfg}"] if (memif or busy) else []
    return dict(name=f"demi {libos} {proto}{mode} {size_label(size)}{extra}", kind="echo", group="latency", size=size,
                net=dict(memif=memif, busy=busy, libos=libos, mtu=mtu), yardsticks=yard,
                server=["{bin}/demi-echo", "server", "--libos", libos, "--proto", proto, "--addr", addr,
                        "--port-file", "{portfile}", *cfg],
                client=["{bin}/demi-echo", "client", "--libos", libos, "--proto", proto, "--addr", caddr,
                        "--size", str(size), "--count", echo_count(size), "--warmup", "{warmup}", "--json",
                        "--samples", "{samples}", "--timeout-ms", "5000", "--max-ms", "{max_ms}", *ccfg],
                ready="{portfile}")


def stream_row(libos, mtu=None):
    memif = libos != "posix"
    label = f"demi {libos} tcp 1 MiB pushes" + (f" (MTU {mtu})" if mtu else "")
    addr = "10.77.0.1:7001" if memif else "127.0.0.1:0"
    caddr = "10.77.0.1:7001" if memif else "127.0.0.1:{port_from_file}"
    cfg = ["--config", "{scfg}"]
    ccfg = ["--config", "{ccfg}"]
    return dict(name=label, kind="stream", config="posix:\n  recv_size: 1048576\n", group="throughput", size=1 << 20,
                net=dict(memif=memif, mtu=mtu, libos=libos), yardsticks=["kernel tcp 1 MiB writes (iperf3)"],
                server=["{bin}/demi-stream", "server", "--libos", libos, "--addr", addr, "--port-file", "{portfile}",
                        "--warmup-seconds", "{tput_warmup}", *cfg],
                client=["{bin}/demi-stream", "client", "--libos", libos, "--addr", caddr, "--size", "1048576",
                        "--window", "4", "--seconds", "{tput_seconds}", "--warmup-seconds", "{tput_warmup}", *ccfg],
                ready="{portfile}", server_ends=True)


def iperf_row():
    return dict(name="kernel tcp 1 MiB writes (iperf3)", kind="iperf3", group="throughput", size=1 << 20,
                net=dict(), yardsticks=[],
                server=["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", "{port}"],
                client=["iperf3", "-c", "127.0.0.1", "-p", "{port}", "-l", "1M", "-t", "{tput_seconds}",
                        "-O", "{tput_warmup}", "--json"],
                ready="bound:tcp:{port}", server_ends=True)


def many_row(server_kind, libos="posix"):
    memif = libos != "posix"
    addr = "10.77.0.1:7002" if memif else "127.0.0.1:0"
    caddr = "10.77.0.1:7002" if memif else "127.0.0.1:{port_from_file}"
    cfg = ["--config", "{scfg}"] if memif else []
    ccfg = ["--config", "{ccfg}"] if memif else []
    if server_kind == "epoll":
        name, server = f"kernel epoll server, {MANY_CONNS} conns", [
            "{bin}/demi-epoll-echo", "--addr", "127.0.0.1:0", "--port-file", "{portfile}",
            "--max-conns", str(MANY_CONNS)]
        yard = []
    else:
        name, server = f"demi {libos} server, {MANY_CONNS} conns", [
            "{bin}/demi-echo", "server", "--libos", libos, "--proto", "tcp", "--addr", addr,
            "--port-file", "{portfile}", "--max-conns", str(MANY_CONNS), *cfg]
        yard = [f"kernel epoll server, {MANY_CONNS} conns"]
    # The client is demi-echo over posix for the kernel rows (the same client for both servers).
    client_libos = libos if memif else "posix"
    return dict(name=name, kind="many", group="many connections", size=64, net=dict(memif=memif, libos=libos),
                yardsticks=yard, server=server,
                client=["{bin}/demi-echo", "client", "--libos", client_libos, "--proto", "tcp", "--addr", caddr,
                        "--size", "64", "--conns", str(MANY_CONNS), "--count", "{many_count}",
                        "--warmup", "{many_warmup}", "--json", "--timeout-ms", "10000", "--max-ms", "{many_ms}",
                        *ccfg],
                ready="{portfile}", server_ends=True)


VM_GROUP = "emulated VM (not a performance claim)"
VM_KERNEL = "VM: kernel tcp 64 B (demi posix)"


def vm_row(way, name, yardsticks):
    """One of the three ways measured in one boot of tests/vm/rdma_vm_test.sh --bench (Debian's
    kernel under qemu's software emulation): a 64 B TCP echo inside the VM. The figures show that
    the path works and its order of magnitude in emulation, nothing about real hardware."""
    return dict(name=name, kind="vm-echo", group=VM_GROUP, size=64, net=dict(vm=way), yardsticks=yardsticks,
                server=[], client=[], ready="")


def cost_row(libos, proto, what, server="echo"):
    """Cost per 64 B request: 'allocs' (heap allocations, LD_PRELOAD counter) or 'instructions'
    (callgrind), each by two runs of different lengths: (B - A) / (messages_B - messages_A)."""
    memif = libos != "posix"
    addr = "10.77.0.1:7003" if memif else "127.0.0.1:0"
    caddr = "10.77.0.1:7003" if memif else "127.0.0.1:{port_from_file}"
    cfg = ["--config", "{scfg}"] if memif else []
    ccfg = ["--config", "{ccfg}"] if memif else []
    if server == "epoll":
        srv = ["{bin}/demi-epoll-echo", "--addr", "127.0.0.1:0", "--port-file", "{portfile}"]
        name = f"kernel epoll server tcp 64 B: {what} per request"
    else:
        srv = ["{bin}/demi-echo", "server", "--libos", libos, "--proto", proto, "--addr", addr,
               "--port-file", "{portfile}", *cfg]
        name = f"demi {libos} {proto} 64 B: {what} per request"
    return dict(name=name, kind=what, group="cost per request", size=64, net=dict(memif=memif, libos=libos),
                yardsticks=[], server=srv,
                client=["{bin}/demi-echo", "client", "--libos", libos if memif else "posix", "--proto", proto,
                        "--addr", caddr, "--size", "64", "--count", "{cost_count}", "--json", "--timeout-ms", "10000",
                        *ccfg],
                ready="{portfile}")


def sim_instr_row():
    """Instructions per 64 B TCP echo round trip through two Catnip stacks on the simulator (one
    process, virtual time): callgrind totals of two run lengths, differenced."""
    return dict(name="catnip tcp 64 B echo on the simulator: instructions per round trip", kind="siminstr",
                group="simulator", size=64, net=dict(), yardsticks=[],
                argv=["{bin}/demi-simbench", "echo", "--size", "64", "--count", "{count}"])


def sim_goodput_row(cc, loss):
    """One TCP flow of 16 MiB through a 100 Mbit/s link with 5 ms of one-way delay, a queue of one
    bandwidth-delay product and `loss` of the frames dropped each way, in virtual time."""
    return dict(name=f"catnip {cc} goodput, 100 Mbit/s link, 10 ms RTT, {loss * 100:g}% loss", kind="simgoodput",
                group="simulator", size=16 << 20, net=dict(), yardsticks=[],
                argv=["{bin}/demi-simbench", "goodput", "--cc", cc, "--loss", str(loss), "--mbps", "100",
                      "--delay-us", "5000", "--bytes", str(16 << 20), "--seed", "{seed}"])


ROWS = [
    # The limit: bare frames over net_memif, no stack.
    *[rawping_row(s) for s in RAW_SIZES],
    # Linux on loopback, measured by sockperf: blocking and busy-polling.
    *[sockperf_row(p, s, busy) for p in ("tcp", "udp") for busy in (False, True) for s in LAT_SIZES],
    # demi's posix module (the kernel's sockets under the queues): the libOS's own overhead.
    *[echo_row("posix", p, s) for p in ("tcp", "udp") for s in LAT_SIZES],
    echo_row("posix", "tcp", 64, busy=True),
    echo_row("posix", "udp", 64, busy=True),
    # Catnip over net_memif (two processes); "not available" until this build has the module.
    *[echo_row("catnip", p, s, memif=True) for p in ("udp", "tcp") for s in LAT_SIZES],
    # The large messages again with jumbo frames on the same memif (one frame for 8 KiB, not six).
    *[echo_row("catnip", "tcp", s, memif=True, mtu=9000) for s in (8 * KIB, BIG)],
    # lwIP over the same net_memif, when the module exists (issue 7).
    echo_row("lwip", "tcp", 64, memif=True),
    echo_row("lwip", "udp", 64, memif=True),
    echo_row("lwip", "tcp", KIB, memif=True),
    # One TCP flow, 1 MiB pushes.
    iperf_row(),
    stream_row("posix"),
    stream_row("catnip", mtu=1500),
    stream_row("catnip", mtu=9000),
    # Many connections: requests/s per server core.
    many_row("epoll"),
    many_row("demi", "posix"),
    many_row("demi", "catnip"),
    # Cost per request.
    cost_row("posix", "tcp", "allocations"),
    cost_row("posix", "udp", "allocations"),
    cost_row("catnip", "tcp", "allocations"),
    cost_row("catnip", "udp", "allocations"),
    cost_row("lwip", "tcp", "allocations"),
    cost_row("lwip", "udp", "allocations"),
    cost_row("posix", "tcp", "instructions", server="epoll"),
    cost_row("posix", "tcp", "instructions"),
    cost_row("posix", "udp", "instructions"),
    # Catnip on the simulated network: its own cost, and its congestion control on a lossy link.
    sim_instr_row(),
    *[sim_goodput_row(cc, loss) for cc in ("cubic", "newreno") for loss in (0.0, 0.01)],
    # Inside one emulated VM (full bench only: the boot takes ~30 s): rdma over soft-RoCE beside
    # the VM kernel's TCP and catnip (issue 8).
    vm_row("rdma", "VM: demi rdma tcp 64 B (soft-RoCE)", [VM_KERNEL]),
    vm_row("kernel", VM_KERNEL, []),
    vm_row("catnip", "VM: demi catnip tcp 64 B (memif)", [VM_KERNEL]),
]

# The headline ratios of the run (issue 6's targets), each a row's figure over another's.
HEADLINES = [
    ("demi catnip tcp 64 B", "kernel tcp busy-poll 64 B", "p50_us", "catnip TCP p50 / Linux busy-poll TCP p50 (goal <= 0.1)"),
    ("demi catnip tcp 64 B", "raw memif 64 B", "p50_us", "catnip TCP p50 / raw memif p50 (goal <= 3)"),
    ("demi lwip tcp 64 B", "demi catnip tcp 64 B", "p50_us", "lwIP TCP p50 / catnip TCP p50 (same memif device)"),
    ("demi lwip udp 64 B", "demi catnip udp 64 B", "p50_us", "lwIP UDP p50 / catnip UDP p50 (same memif device)"),
    ("demi lwip tcp 64 B", "demi catnip tcp 64 B", "msgs_per_s", "lwIP TCP msgs/s / catnip TCP msgs/s"),
    ("demi posix tcp 64 B", "kernel tcp blocking 64 B", "p50_us", "demi posix TCP p50 / Linux blocking TCP p50"),
    ("demi posix tcp busy-poll 64 B", "kernel tcp busy-poll 64 B", "p50_us", "demi posix busy-poll TCP p50 / Linux busy-poll TCP p50"),
    ("demi posix tcp 1 MiB pushes", "kernel tcp 1 MiB writes (iperf3)", "gbit_s", "demi posix goodput / Linux goodput"),
    ("demi catnip tcp 1 MiB pushes (MTU 1500)", "kernel tcp 1 MiB writes (iperf3)", "gbit_s", "catnip goodput / Linux goodput (goal >= 0.5)"),
    ("demi catnip tcp 1 MiB pushes (MTU 9000)", "kernel tcp 1 MiB writes (iperf3)", "gbit_s", "catnip goodput at MTU 9000 / Linux goodput (loopback: 64 KiB MTU)"),
    ("demi catnip tcp 8 KiB (MTU 9000)", "kernel tcp busy-poll 8 KiB", "p50_us", "catnip TCP 8 KiB p50 at MTU 9000 / Linux busy-poll TCP 8 KiB p50"),
    (f"demi posix server, {MANY_CONNS} conns", f"kernel epoll server, {MANY_CONNS} conns", "req_per_server_core_s", "demi posix req/s per server core / epoll server's"),
]

# Which figure of a kind is "the" figure (for ratios to yardsticks and the baseline), and whether
# bigger is better.
MAIN_METRIC = {"rawping": "p50_us", "sockperf": "p50_us", "echo": "p50_us", "vm-echo": "p50_us", "stream": "gbit_s",
               "iperf3": "gbit_s", "many": "req_per_server_core_s", "allocations": "per_request",
               "instructions": "per_request", "siminstr": "per_round_trip", "simgoodput": "ratio_to_link"}
HIGHER_IS_BETTER = {"gbit_s", "msgs_per_s", "req_per_s", "req_per_server_core_s", "goodput_mbps", "ratio_to_link"}


class NotAvailable(Exception):
    pass


class RowFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A pinned child whose stdout/stderr go to files and whose CPU time is read by wait4."""

    def __init__(self, argv, core, workdir, tag, env=None):
        self.argv = argv
        self.full = (["taskset", "-c", str(core)] if core is not None else []) + argv
        self.out_path = os.path.join(workdir, f"{tag}.out")
        self.err_path = os.path.join(workdir, f"{tag}.err")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(self.full, stdout=self.out, stderr=self.err, env=e, start_new_session=True)
        self.code = None
        self.cpu_s = None
        self.started = time.monotonic()

    def poll(self):
        if self.code is not None:
            return self.code
        pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
        if pid == 0:
            return None
        self._reaped(status, ru)
        return self.code

    def _reaped(self, status, ru):
        self.code = os.waitstatus_to_exitcode(status)
        self.p.returncode = self.code
        self.cpu_s = ru.ru_utime + ru.ru_stime
        self.out.close()
        self.err.close()

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        return self.code

    def stop(self, grace=2.0):
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(grace) is None:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(5)
        return self.code

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")


def not_available_reason(text):
    """A module this build lacks (demi-echo: "unknown libos"), or a tool saying so itself."""
    m = re.search(r"unknown libos[^\n]*", text) or re.search(r"not available: ([^\n]*)", text)
    if m:
        return (m.group(1) if m.re.groups else m.group(0)).strip()
    # A device whose frames cannot be as large as the row asks (net_memif in DPDK 22.11 reports
    # 1518 B at most: no jumbo frames).
    m = re.search(r"Frame size \((\d+)\) > device max frame size \((\d+)\)", text)
    if m:
        return f"the device takes frames of at most {m.group(2)} B, not {m.group(1)} (no jumbo frames on it)"
    return None


def tail(text, n=3):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])


def port_bound(proto, port):
    """True when a socket is bound to the port (a TCP one listening), read from /proc/net: no probe
    connection, which a one-shot server (iperf3 -1) would take for its client."""
    want = f":{port:04X}"
    try:
        with open(f"/proc/net/{proto}") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(want) and (proto == "udp" or parts[3] == "0A"):
                    return True
    except OSError:
        pass
    return False


def wait_ready(ready, server, timeout=10.0):
    """Waits until the server is ready: a socket is bound (bound:PROTO:PORT) or a file exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        if ready.startswith("bound:"):
            _, proto, port = ready.split(":")
            if port_bound(proto, int(port)):
                return True
        elif os.path.exists(ready) and (not ready.endswith(".port") or os.path.getsize(ready) > 0):
            return True
        time.sleep(0.01)
    return False


def memif_configs(workdir, tag, mtu=None, busy=False):
    sock = os.path.join(workdir, f"{tag}-memif.sock")
    cfgs = {}
    for role, ip in (("server", "10.77.0.1"), ("client", "10.77.0.2")):
        path = os.path.join(workdir, f"{tag}-{role}.yaml")
        lines = ["dpdk:", f"  port: net_memif0,role={role},id=0,socket={sock},socket-abstract=no"]
        # The server's link comes up only when the client attaches, which happens after the server
        # is ready: the server must not wait for it; the client does.
        lines.append("  link_wait_ms: 0" if role == "server" else "  link_wait_ms: 10000")
        if mtu:
            lines.append(f"  mtu: {mtu}")
        lines += ["catnip:", "  ipv4:", f"    address: {ip}"]
        if mtu:
            lines.append(f"  mtu: {mtu}")
        # The same host address for the lwip module (which requires its own key), so that a row
        # for either module runs on the same file.
        lines += ["lwip:", f"  address: {ip}"]
        if mtu:
            lines.append(f"  mtu: {mtu}")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        cfgs[role] = path
    return cfgs["server"], cfgs["client"], sock


def busy_config(workdir, tag):
    path = os.path.join(workdir, f"{tag}-busy.yaml")
    with open(path, "w") as f:
        f.write("libos:\n  busy_poll: true\n")
    return path


# ---------------------------------------------------------------------------------------------
# Parsers: each returns (metrics dict, samples file or None)


def parse_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RowFailed(f"no JSON line in the output: {tail(text)}")


def parse_sockperf(text):
    m = {}
    for key, pct in (("p50_us", "50.000"), ("p99_us", "99.000"), ("p999_us", "99.900")):
        r = re.search(r"percentile " + re.escape(pct) + r" =\s*([0-9.]+)", text)
        if not r:
            raise RowFailed(f"sockperf printed no percentile {pct}: {tail(text)}")
        m[key] = float(r.group(1))
    v = re.search(r"\[Valid Duration\] RunTime=([0-9.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)", text)
    if v:
        m["msgs_per_s"] = int(v.group(3)) / float(v.group(1))
    return m


def sockperf_samples(path, dest):
    """sockperf's --full-log CSV -> one RTT (us) a line."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split(",")
            if len(parts) == 4 and re.match(r"^\s*\d+$", parts[0]):
                try:
                    out.append(float(parts[3]))
                except ValueError:
                    pass
    with open(dest, "w") as f:
        f.write("".join(f"{x:.3f}\n" for x in out))
    return dest


# ---------------------------------------------------------------------------------------------
# The bench


class Bench:
    def __init__(self, args):
        self.args = args
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        self.p = dict(PRESETS[self.mode])
        if args.repeats:
            self.p["repeats"] = args.repeats
        self.bin = os.path.join(os.path.abspath(args.build_dir), "bin")
        self.lib = os.path.abspath(args.build_dir)
        self.work = tempfile.mkdtemp(prefix=f"demi-bench-{os.getpid()}-")
        self.samples_dir = None
        ncpu = os.cpu_count() or 1
        # The machine has (at least) 2 cores: the server on one, the client on the other.
        self.server_core = 1 if ncpu >= 2 else None
        self.client_core = 0 if ncpu >= 2 else None
        self.sanitized = self._sanitized()
        self.results = []
        self.seq = 0
        self.sim_seeds = {}  # row name -> the seed its latest repeat ran
        self.vm = None  # the VM bench's outcome, shared by its rows: (document, command) or an exception

    def _sanitized(self):
        cache = os.path.join(self.args.build_dir, "CMakeCache.txt")
        try:
            with open(cache) as f:
                for line in f:
                    if line.startswith("DEMI_SANITIZE:") and line.strip().split("=", 1)[1]:
                        return True
        except OSError:
            pass
        return False

    def log(self, msg):
        print(msg, flush=True)

    # --- one server/client exchange
    def subst(self, argv, ctx):
        return [a.format(**ctx) for a in argv]

    def exchange(self, row, ctx, server_env=None, client_env=None, wrap=None, client_timeout=120):
        """Runs one server + one client; returns (server Proc, client Proc, commands)."""
        self.seq += 1
        tag = f"r{self.seq}"
        ctx = dict(ctx)
        ctx["portfile"] = os.path.join(self.work, f"{tag}.port")
        ctx["samples"] = os.path.join(self.work, f"{tag}.samples")
        ctx["port"] = str(free_port())
        if row["net"].get("memif"):
            ctx["scfg"], ctx["ccfg"], ctx["memif_sock"] = memif_configs(self.work, tag, row["net"].get("mtu"))
        elif row["net"].get("busy"):
            ctx["scfg"] = ctx["ccfg"] = busy_config(self.work, tag)
        else:
            ctx["scfg"] = ctx["ccfg"] = os.path.join(self.work, f"{tag}.yaml")
            with open(ctx["scfg"], "w") as f:
                f.write(row.get("config", ""))
        ctx.setdefault("port_from_file", "{port_from_file}")
        sargv = self.subst(row["server"], ctx)
        ready = row["ready"].format(**ctx)
        if wrap:
            sargv = wrap(sargv, f"{tag}-server")
        for argv in (sargv, row["client"]):
            if "/" not in argv[0] and not shutil.which(argv[0]):
                raise NotAvailable(f"{argv[0]} is not installed (./run setup)")
        server = Proc(sargv, self.server_core, self.work, f"{tag}-server", server_env)
        commands = {"server": " ".join(server.full)}
        try:
            if not wait_ready(ready, server, 60 if wrap else 10):
                server.stop()
                text = server.stderr() + server.stdout()
                why = not_available_reason(text)
                if why:
                    raise NotAvailable(why)
                raise RowFailed(f"server did not start (exit {server.code}): {tail(text)}")
            if os.path.exists(ctx["portfile"]):
                with open(ctx["portfile"]) as f:
                    ctx["port_from_file"] = f.read().strip()
            cargv = self.subst(row["client"], ctx)
            cargv = [a.replace("{port_from_file}", ctx["port_from_file"]) for a in cargv]
            if wrap:
                cargv = wrap(cargv, f"{tag}-client")
            client = Proc(cargv, self.client_core, self.work, f"{tag}-client", client_env)
            commands["client"] = " ".join(client.full)
            if client.wait(client_timeout) is None:
                client.stop()
                raise RowFailed(f"client timed out after {client_timeout} s: {tail(client.stderr())}")
            if client.code != 0 and not (client.code in row.get("accept_exit", ()) and '"lost"' in client.stdout()):
                text = client.stderr() + client.stdout()
                why = not_available_reason(text)
                if why:
                    raise NotAvailable(why)
                raise RowFailed(f"client failed (exit {client.code}): {tail(text)}")
            # Servers that end by themselves (--max-conns, iperf3 -1, demi-stream) get time to do so;
            # the others are asked to stop (SIGTERM: demi-echo and the epoll server exit cleanly,
            # so that the malloc counter and callgrind write their figures).
            if row.get("server_ends"):
                server.wait(15)
        finally:
            if server.poll() is None:
                server.stop(grace=30 if wrap else 10)
        ctx["commands"] = commands
        return server, client, ctx

    # --- kinds
    def measure_once(self, row):
        p = self.p
        ctx = {k: str(v) for k, v in p.items() if not isinstance(v, tuple)}
        ctx["bin"] = self.bin
        ctx["memif_sock"] = ""
        kind = row["kind"]
        if kind in ("allocations", "instructions"):
            return self.measure_cost(row, ctx)
        if kind in ("siminstr", "simgoodput"):
            return self.measure_sim(row, ctx)
        if kind == "vm-echo":
            return self.measure_vm(row)
        server, client, ctx = self.exchange(row, ctx)
        out = client.stdout()
        samples = None
        if kind in ("rawping", "echo"):
            j = parse_json_line(out)
            m = {k: j[k] for k in ("p50_us", "p99_us", "p999_us", "msgs_per_s", "lost") if k in j}
            samples = ctx["samples"]
        elif kind == "sockperf":
            m = parse_sockperf(out)
            samples = sockperf_samples(ctx["samples"], ctx["samples"] + ".txt")
        elif kind == "stream":
            j = parse_json_line(server.stdout())
            cpu = server.cpu_s + client.cpu_s
            m = {"gbit_s": j["gbit_s"], "cpu_s": cpu, "total_bytes": j["total_bytes"],
                 "cycles_per_byte": cpu * self.hz / j["total_bytes"]}
        elif kind == "iperf3":
            j = json.loads(out)
            total = sum(iv["sum"]["bytes"] for iv in j["intervals"])
            cpu = server.cpu_s + client.cpu_s
            m = {"gbit_s": j["end"]["sum_received"]["bits_per_second"] / 1e9, "cpu_s": cpu, "total_bytes": total,
                 "cycles_per_byte": cpu * self.hz / total}
        elif kind == "many":
            j = parse_json_line(out)
            total_msgs = j["count"] + int(ctx["many_warmup"])  # the server's CPU time covers the warm-up too
            m = {"req_per_s": j["msgs_per_s"], "p50_us": j["p50_us"], "p99_us": j["p99_us"],
                 "server_cpu_s": server.cpu_s, "req_per_server_core_s": total_msgs / max(server.cpu_s, 1e-9)}
        else:
            raise RowFailed(f"unknown kind {kind}")
        return m, samples, [ctx["commands"]]

    def measure_cost(self, row, ctx):
        """Two runs of different lengths; the difference per message is the cost per request."""
        if self.sanitized:
            raise NotAvailable("sanitizer build (LD_PRELOAD and valgrind need a plain build)")
        counts = self.p["alloc_counts"] if row["kind"] == "allocations" else self.p["cg_counts"]
        figures = {}
        commands = []
        for count in counts:
            c = dict(ctx)
            c["cost_count"] = str(count)
            if row["kind"] == "allocations":
                lib = os.path.join(self.lib, "lib", "libdemi-malloc-count.so")
                if not os.path.exists(lib):
                    raise RowFailed(f"{lib} is not built")
                sfile = os.path.join(self.work, f"alloc-{self.seq}-{count}-server.txt")
                cfile = os.path.join(self.work, f"alloc-{self.seq}-{count}-client.txt")
                server, client, c = self.exchange(
                    row, c, server_env={"LD_PRELOAD": lib, "DEMI_MALLOC_COUNT_FILE": sfile},
                    client_env={"LD_PRELOAD": lib, "DEMI_MALLOC_COUNT_FILE": cfile})
                if server.code != 0:
                    raise RowFailed(f"server exit {server.code}: {tail(server.stderr())}")
                figures[count] = {"server": read_count(sfile), "client": read_count(cfile)}
            else:
                if not shutil.which("valgrind"):
                    raise NotAvailable("valgrind is not installed")
                outs = {}

                def wrap(argv, tag, outs=outs):
                    outs[tag.split("-")[-1]] = path = os.path.join(self.work, f"{tag}.callgrind")
                    return ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={path}", *argv]

                server, client, c = self.exchange(row, c, wrap=wrap, client_timeout=180)
                if server.code != 0:
                    raise RowFailed(f"server exit {server.code}: {tail(server.stderr())}")
                figures[count] = {"server": read_callgrind(outs["server"]), "client": read_callgrind(outs["client"])}
            commands.append(c["commands"])
        a, b = counts
        per = {side: (figures[b][side] - figures[a][side]) / (b - a) for side in ("server", "client")}
        m = {"per_request": per["server"], "client_per_request": per["client"],
             "server_total_long_run": figures[b]["server"], "client_total_long_run": figures[b]["client"]}
        return m, None, commands

    def measure_sim(self, row, ctx):
        """One process on the simulated network: deterministic, so its figures do not move with
        the machine's load. siminstr: callgrind over two echo counts; simgoodput: one flow per
        seed (the repeats use different seeds, so the spread is the seeds', not the machine's)."""
        self.seq += 1
        if not os.path.exists(os.path.join(self.bin, "demi-simbench")):
            raise NotAvailable("demi-simbench is not built (a build without catnip's TCP)")
        if row["kind"] == "siminstr":
            if self.sanitized:
                raise NotAvailable("sanitizer build (valgrind needs a plain build)")
            if not shutil.which("valgrind"):
                raise NotAvailable("valgrind is not installed")
            totals, commands = {}, []
            for count in self.p["sim_counts"]:
                out = os.path.join(self.work, f"sim-{self.seq}-{count}.callgrind")
                argv = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
                        *[a.format(bin=self.bin, count=count) for a in row["argv"]]]
                pr = self.run_sim(argv, f"sim-{self.seq}-{count}", "demi-simbench echo under callgrind")
                totals[count] = read_callgrind(out)
                commands.append({"command": " ".join(pr.full)})
            a, b = self.p["sim_counts"]
            return {"per_round_trip": (totals[b] - totals[a]) / (b - a), "total_long_run": totals[b]}, None, commands
        # Repeat i of a row runs seed i (from 1).
        seed = self.sim_seeds[row["name"]] = self.sim_seeds.get(row["name"], 0) + 1
        argv = [a.format(bin=self.bin, seed=seed) for a in row["argv"]]
        pr = self.run_sim(argv, f"sim-{self.seq}", "demi-simbench goodput")
        j = parse_json_line(pr.stdout())
        m = {k: j[k] for k in ("goodput_mbps", "ratio_to_link", "retransmits", "timeouts", "virtual_s")}
        return m, None, [{"command": " ".join(pr.full)}]

    def run_sim(self, argv, tag, what):
        """One simulator process, pinned, bounded to 300 s; the finished Proc, or RowFailed."""
        pr = Proc(argv, self.client_core, self.work, tag)
        if pr.wait(300) is None:
            pr.stop()
            raise RowFailed(f"{what} timed out")
        if pr.code != 0:
            raise RowFailed(f"{what} exit {pr.code}: {tail(pr.stderr())}")
        return pr

    def vm_bench(self):
        """Boots the VM once for all the VM rows; the outcome is kept for the other rows."""
        if self.vm is None:
            build = os.path.abspath(self.args.build_dir)
            out = os.path.join(self.work, "vm-bench.json")
            argv = ["bash", os.path.join(ROOT, "tests", "vm", "rdma_vm_test.sh"), "--build", build,
                    "--work", os.path.join(build, "vm-bench"), "--cache", os.path.join(build, "vm", "cache"),
                    "--bin", os.path.join(self.bin, "demi-echo"), "--bench", out,
                    "--count", str(self.p["vm_count"]), "--warmup", str(self.p["vm_warmup"]),
                    "--max-ms", str(self.p["vm_max_ms"])]
            self.log(f"  (booting the VM for the {VM_GROUP} rows: {' '.join(argv)})")
            pr = Proc(argv, None, self.work, "vm-bench")
            if pr.wait(420) is None:
                pr.stop()
                self.vm = RowFailed(f"the VM bench did not end within 420 s: {tail(pr.stdout())}")
            elif pr.code == 77:
                m = re.search(r"SKIP: ([^\n]*)", pr.stdout())
                self.vm = NotAvailable(m.group(1) if m else tail(pr.stdout()))
            elif not os.path.exists(out):
                text = pr.stdout() + pr.stderr()
                # Without Debian's kernel package (no apt, no network) there is no VM to boot.
                m = re.search(r"FAIL: (apt-[^\n]*)", text)
                self.vm = (NotAvailable(f"no kernel for the VM: {m.group(1)}") if m else
                           RowFailed(f"the VM bench failed (exit {pr.code}): {tail(text)}"))
            else:
                with open(out) as f:
                    self.vm = (json.load(f), " ".join(argv))
        if isinstance(self.vm, Exception):
            raise self.vm
        return self.vm

    def measure_vm(self, row):
        doc, command = self.vm_bench()
        r = doc["rows"].get(row["net"]["vm"])
        if not r:
            raise RowFailed("the VM bench has no figures for this row")
        if r["status"] != "measured":
            why = not_available_reason(r.get("reason", "")) if r["status"] == "failed" else r.get("reason")
            if r["status"] == "not available" or why:
                raise NotAvailable(why or "?")
            raise RowFailed(r.get("reason", "?"))
        j = r["figures"]
        # count: the round trips measured (fewer than asked when --max-ms ended the run first)
        m = {k: j[k] for k in ("p50_us", "p99_us", "p999_us", "msgs_per_s", "count") if k in j}
        vm = {k: doc.get(k) for k in ("kernel", "qemu", "accel", "vm", "boot_seconds", "count", "warmup", "max_ms")}
        return m, None, [dict(vm=command, server=f"(inside the VM) {r.get('server', '?')}",
                              client=f"(inside the VM) {r.get('client', '?')}", vm_info=vm)]

    # --- rows
    def run_row(self, row):
        res = dict(name=row["name"], kind=row["kind"], group=row["group"], size=row["size"],
                   yardsticks=row["yardsticks"], status="measured", runs=[], commands=[])
        if self.mode == "smoke" and not SMOKE_ROWS.match(row["name"]):
            res["status"] = "skipped (smoke)"
            return res
        if row["kind"] == "vm-echo" and self.mode != "full" and not self.args.only:
            res["status"] = f"skipped ({self.mode}: the VM boot takes ~30 s; the full bench or --only runs it)"
            return res
        # One run of the cost rows (each is two runs already), of the simulator's instruction count
        # (deterministic) and of the VM rows (one boot).
        repeats = self.p["repeats"] if row["kind"] not in ("allocations", "instructions", "siminstr", "vm-echo") else 1
        t0 = time.monotonic()
        for i in range(repeats):
            try:
                m, samples, cmds = self.measure_once(row)
            except NotAvailable as e:
                res["status"] = "not available"
                res["reason"] = str(e)
                break
            except RowFailed as e:
                res["status"] = "failed"
                res["reason"] = str(e)
                break
            res["runs"].append(m)
            res["commands"] += cmds
            if samples and os.path.exists(samples):
                res["samples_file"] = samples  # the last repeat's raw RTTs, for the CDF plot
        res["seconds"] = round(time.monotonic() - t0, 2)
        if res["runs"]:
            res["figures"] = summarize(res["runs"])
            if res["status"] != "measured":  # failed after some repeats: keep what was measured, say so
                res["status"] = f"partial ({res['status']})"
        return res

    def stalls(self, label):
        out = []
        for core in (self.client_core, self.server_core):
            pr = Proc([os.path.join(self.bin, "demi-stallprobe"), "--seconds", str(self.p["stall_seconds"]), "--json"],
                      core, self.work, f"stall-{label}-{core}")
            pr.wait(60)
            if pr.code == 0:
                j = parse_json_line(pr.stdout())
                j.update(core=core, when=label, command=" ".join(pr.full))
                out.append(j)
        return out

    def run(self):
        t_start = time.monotonic()
        self.hz = cpu_hz()
        load0, stat0 = os.getloadavg(), read_proc_stat()
        self.log(f"demi bench ({self.mode}): {self.p['repeats']} repeats per row; server on core {self.server_core}, "
                 f"client on core {self.client_core}; load average {load0[0]:.2f}")
        stalls = self.stalls("start")
        only = re.compile(self.args.only) if self.args.only else None
        for row in ROWS:
            if only and not only.search(row["name"]):
                continue
            r = self.run_row(row)
            self.results.append(r)
            self.log(f"  {describe(r)}")
        stalls += self.stalls("end")
        load1, stat1 = os.getloadavg(), read_proc_stat()
        add_ratios(self.results)
        elapsed = time.monotonic() - t_start
        run = dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), mode=self.mode,
                   repeats=self.p["repeats"], preset=self.p, seconds=round(elapsed, 1),
                   commit=git("rev-parse", "HEAD"), commit_short=git("rev-parse", "--short", "HEAD"),
                   dirty=bool(git("status", "--porcelain", "--untracked-files=no")),
                   build_dir=os.path.abspath(self.args.build_dir), sanitized=self.sanitized,
                   cores=dict(server=self.server_core, client=self.client_core),
                   machine=machine_info(self.hz),
                   load=dict(loadavg_start=load0, loadavg_end=load1,
                             machine_busy_fraction=busy_fraction(stat0, stat1)))
        return dict(run=run, stalls=stalls, rows=self.results, headlines=headlines(self.results))


def read_count(path):
    with open(path) as f:
        for line in f:
            if line.startswith("allocations"):
                return int(line.split()[1])
    raise RowFailed(f"no allocation count in {path}")


def read_callgrind(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RowFailed(f"no totals in {path}")


def summarize(runs):
    figs = {}
    for key in runs[0]:
        vals = [r[key] for r in runs if key in r and isinstance(r[key], (int, float))]
        if not vals:
            continue
        med = statistics.median(vals)
        spread = (max(vals) - min(vals)) / abs(med) if med else 0.0
        figs[key] = dict(median=med, min=min(vals), max=max(vals), spread=spread, values=vals)
    return figs


def add_ratios(results):
    by_name = {r["name"]: r for r in results}
    for r in results:
        key = MAIN_METRIC.get(r["kind"])
        r["ratios"] = {}
        for y in r["yardsticks"]:
            other = by_name.get(y)
            if key and other and "figures" in r and "figures" in other and key in r["figures"] and key in other["figures"]:
                r["ratios"][y] = r["figures"][key]["median"] / other["figures"][key]["median"]


def headlines(results):
    by_name = {r["name"]: r for r in results}
    out = []
    for a, b, key, label in HEADLINES:
        ra, rb = by_name.get(a), by_name.get(b)
        if ra and rb and key in ra.get("figures", {}) and key in rb.get("figures", {}):
            out.append(dict(label=label, value=ra["figures"][key]["median"] / rb["figures"][key]["median"],
                            numerator=a, denominator=b, metric=key))
        else:
            why = [n for n, r in ((a, ra), (b, rb)) if not r or key not in r.get("figures", {})]
            out.append(dict(label=label, value=None, missing=why))
    return out


def describe(r):
    if "figures" not in r:
        return f"{r['name']}: {r['status']}" + (f" ({r['reason']})" if r.get("reason") else "")
    f = r["figures"]
    key = MAIN_METRIC[r["kind"]]
    parts = [f"{key} {fmt(f[key]['median'])} (spread {100 * f[key]['spread']:.0f}%)"]
    for k in ("p99_us", "p999_us", "msgs_per_s", "cycles_per_byte", "req_per_s", "client_per_request", "goodput_mbps",
              "retransmits", "timeouts"):
        if k in f and k != key:
            parts.append(f"{k} {fmt(f[k]['median'])}")
    return f"{r['name']}: " + ", ".join(parts) + f"  [{r['seconds']} s]"


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return "unknown"


def cpu_hz():
    """The nominal clock (no PMU on this machine for perf's cycles): cycles = CPU time x clock."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return 1e9


def read_proc_stat():
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals), idle


def busy_fraction(a, b):
    total, idle = b[0] - a[0], b[1] - a[1]
    return round(1 - idle / total, 3) if total > 0 else None


def machine_info(hz):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), clock_hz=hz, kernel=platform.release(),
                hostname=platform.node(), python=platform.python_version(),
                tools={t: tool_version(t) for t in ("sockperf", "iperf3", "valgrind")})


def tool_version(t):
    if not shutil.which(t):
        return None
    try:
        r = subprocess.run([t, "--version"], capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


# ---------------------------------------------------------------------------------------------
# Baseline


def baseline_figures(doc):
    out = {}
    for r in doc["rows"]:
        for key, f in r.get("figures", {}).items():
            if key in ("values",):
                continue
            out[f"{r['name']} | {key}"] = dict(value=f["median"], spread=f["spread"])
    return out


def compare_baseline(doc, baseline):
    base = baseline.get("figures", {})
    out = []
    for name, cur in baseline_figures(doc).items():
        b = base.get(name)
        if not b or not b["value"]:
            continue
        ratio = cur["value"] / b["value"]
        noise = max(cur["spread"], b["spread"], 0.02)
        out.append(dict(figure=name, value=cur["value"], baseline=b["value"], ratio=ratio, noise=noise,
                        flagged=abs(ratio - 1) > noise))
    return out


# ---------------------------------------------------------------------------------------------
# Output: Markdown and plots

LAT_COLS = [("p50_us", "p50 us"), ("p99_us", "p99 us"), ("p999_us", "p99.9 us"), ("msgs_per_s", "msgs/s")]


def cell(r, key):
    f = r.get("figures", {}).get(key)
    if not f:
        return "-"
    s = fmt(f["median"])
    if len(f["values"]) > 1:
        s += f" ±{100 * f['spread'] / 2:.0f}%"
    return s


def status_cell(r):
    return r["status"] + (f": {r['reason']}" if r.get("reason") else "")


def markdown(doc, cmp):
    run = doc["run"]
    base = {c["figure"]: c for c in cmp}
    lines = [f"# demi bench {run['date']} ({run['mode']}), commit {run['commit_short']}{' (dirty)' if run['dirty'] else ''}",
             "",
             f"Machine: {run['machine']['cpu']}, {run['machine']['cores']} cores, Linux {run['machine']['kernel']}; "
             f"load average {run['load']['loadavg_start'][0]:.2f} at the start, {run['load']['loadavg_end'][0]:.2f} at the end; "
             f"the machine's cores were {100 * (run['load']['machine_busy_fraction'] or 0):.0f}% busy during the run "
             f"(this bench included). Each figure: the median of {run['repeats']} runs, ± half the spread "
             f"(max - min) of the repeats. Server on core {run['cores']['server']}, client on core {run['cores']['client']}. "
             f"Run time {run['seconds']:.0f} s.",
             ""]

    def vs_base(r, key):
        c = base.get(f"{r['name']} | {key}")
        if not c:
            return "-"
        return f"{c['ratio']:.2f}" + (" **!**" if c["flagged"] else "")

    def yard(r):
        if not r.get("ratios"):
            return "-"
        return "; ".join(f"{v:.2f} x {k}" for k, v in r["ratios"].items())

    groups = [("latency", "Round trips (RTT, echo of one message)", LAT_COLS),
              ("throughput", "One TCP flow", [("gbit_s", "Gbit/s"), ("cycles_per_byte", "cycles/byte (both ends)")]),
              ("many connections", f"{MANY_CONNS} concurrent TCP echo connections, 64 B",
               [("req_per_s", "requests/s"), ("req_per_server_core_s", "requests/s per server core"),
                ("p50_us", "p50 us"), ("p99_us", "p99 us")]),
              ("cost per request", "Cost per 64 B request (difference of two run lengths)",
               [("per_request", "server process"), ("client_per_request", "client process")]),
              ("simulator", "Catnip on the simulated network (virtual time; deterministic)",
               [("per_round_trip", "instructions per round trip (both stacks + the simulated wire)"),
                ("goodput_mbps", "goodput Mbit/s"), ("ratio_to_link", "goodput / link rate"),
                ("retransmits", "retransmitted segments"), ("timeouts", "RTO expiries")]),
              (VM_GROUP, "Emulated VM: 64 B TCP echo RTT inside one qemu VM without KVM (software emulation) -- "
               "a sign of health, not a performance claim", LAT_COLS)]
    for group, title, cols in groups:
        rows = [r for r in doc["rows"] if r["group"] == group]
        if not rows:
            continue
        main = cols[0][0]
        lines += [f"## {title}", "", "| row | " + " | ".join(c[1] for c in cols) + " | ratio to yardstick | vs baseline |",
                  "|---|" + "---|" * (len(cols) + 2)]
        for r in rows:
            if "figures" not in r:
                lines.append(f"| {r['name']} | " + status_cell(r) + " |" * (len(cols) + 2))
                continue
            key = MAIN_METRIC.get(r["kind"], main)
            lines.append(f"| {r['name']} | " + " | ".join(cell(r, c[0]) for c in cols) + f" | {yard(r)} | {vs_base(r, key)} |")
        lines.append("")
        vm = next((c for r in rows for c in r.get("commands", []) if "vm_info" in c), None)
        if vm:
            i = vm["vm_info"]
            lines += [f"One boot of Linux {i['kernel']} under {i['qemu']}, {i['accel']} ({i['vm']}), {i['boot_seconds']} s "
                      f"in all; each way {i['count']} round trips (or {i['max_ms']} ms) after {i['warmup']} of warm-up, server on the VM's "
                      f"CPU 1, client on its CPU 0: `{vm['vm']}`", ""]
    lines += ["## Headline ratios (same run)", "", "| ratio | value |", "|---|---|"]
    for h in doc["headlines"]:
        v = f"{h['value']:.3f}" if h["value"] is not None else "not measured (" + ", ".join(h["missing"]) + ")"
        lines.append(f"| {h['label']} | {v} |")
    lines += ["", "## The machine's own stalls (pinned busy loop, demi-stallprobe)", "",
              "| when | core | seconds | max gap us | gaps >= 10 us | gaps >= 100 us | gaps >= 1 ms | time lost |",
              "|---|---|---|---|---|---|---|---|"]
    for s in doc["stalls"]:
        lines.append(f"| {s['when']} | {s['core']} | {s['seconds']:.2f} | {s['max_gap_us']:.0f} | {s['gaps_ge_10us']} | "
                     f"{s['gaps_ge_100us']} | {s['gaps_ge_1ms']} | {100 * s['lost_fraction']:.3f}% |")
    flagged = [c for c in cmp if c["flagged"]]
    lines += ["", f"Baseline: {doc.get('baseline_source') or 'none'}; {len(cmp)} figures compared, {len(flagged)} flagged "
              "(**!**: beyond the noise of the repeats, max of this run's and the baseline's spread, at least 2%)."]
    return "\n".join(lines) + "\n"


def plots(doc, stem):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: no plots: python3-matplotlib is missing for this python (./run setup; bench/run_bench.sh "
              "uses Debian's /usr/bin/python3)")
        return []
    made = []
    sizes = sorted({r["size"] for r in doc["rows"] if r["group"] == "latency" and r.get("samples_file")})
    if sizes:
        fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), squeeze=False)
        for ax, size in zip(axes[0], sizes):
            for r in doc["rows"]:
                if r["group"] != "latency" or r["size"] != size or not r.get("samples_file"):
                    continue
                with open(r["samples_file"]) as f:
                    xs = sorted(float(l) for l in f if l.strip())
                if not xs:
                    continue
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.plot(xs, ys, label=r["name"], linewidth=1)
            ax.set_xscale("log")
            ax.set_xlabel("RTT (us)")
            ax.set_ylabel("fraction of round trips")
            ax.set_title(f"RTT CDF, {size_label(size)}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
        fig.tight_layout()
        path = stem + "-rtt-cdf.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    bars = [r for r in doc["rows"] if r["group"] in ("throughput", "many connections") and "figures" in r]
    if bars:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, group, key, label in ((axes[0], "throughput", "gbit_s", "Gbit/s, one TCP flow"),
                                      (axes[1], "many connections", "req_per_server_core_s",
                                       "requests/s per server core")):
            rs = [r for r in bars if r["group"] == group and key in r["figures"]]
            names = [r["name"] for r in rs]
            med = [r["figures"][key]["median"] for r in rs]
            err = [[m - r["figures"][key]["min"] for m, r in zip(med, rs)],
                   [r["figures"][key]["max"] - m for m, r in zip(med, rs)]]
            ax.bar(range(len(rs)), med, yerr=err, capsize=4)
            ax.set_xticks(range(len(rs)))
            ax.set_xticklabels(names, rotation=20, ha="right", fontsize=7)
            ax.set_title(label)
            ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        path = stem + "-throughput.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--quick", action="store_true", help="every row, smaller counts (~1-2 min)")
    ap.add_argument("--smoke", action="store_true", help="tiny counts, one size per family (< 60 s): checks the harness")
    ap.add_argument("--repeats", type=int, help="runs per row (default by mode)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline.json"))
    ap.add_argument("--update-baseline", action="store_true", help="write this run's figures as the baseline")
    ap.add_argument("--only", help="run only the rows whose name matches this regular expression")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()

    for tool in ("taskset",):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (./run setup)")
    bench = Bench(args)
    try:
        doc = bench.run()
        os.makedirs(args.out_dir, exist_ok=True)
        day = datetime.date.today().isoformat()
        stem = os.path.join(args.out_dir, f"{day}-{doc['run']['commit_short']}" + ("" if bench.mode == "full" else f"-{bench.mode}"))
        baseline = None
        if os.path.exists(args.baseline):
            with open(args.baseline) as f:
                baseline = json.load(f)
        cmp = compare_baseline(doc, baseline) if baseline else []
        doc["baseline_source"] = baseline.get("source") if baseline else None
        doc["baseline_comparison"] = cmp
        doc["plots"] = [] if args.no_plots else [os.path.basename(p) for p in plots(doc, stem)]
        for r in doc["rows"]:
            r.pop("samples_file", None)  # temporary files: the plots hold what they showed
        md = markdown(doc, cmp)
        with open(stem + ".json", "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        with open(stem + ".md", "w") as f:
            f.write(md)
        print()
        print(md)
        print(f"bench: wrote {stem}.json, {stem}.md" + "".join(f", {os.path.join(args.out_dir, p)}" for p in doc["plots"]))
        if args.update_baseline:
            with open(args.baseline, "w") as f:
                json.dump(dict(source=os.path.relpath(stem + ".json", ROOT), date=doc["run"]["date"],
                               commit=doc["run"]["commit"], figures=baseline_figures(doc)), f, indent=1)
                f.write("\n")
            print(f"bench: baseline {args.baseline} updated from this run")
        flagged = [c for c in cmp if c["flagged"]]
        if flagged:
            print(f"bench: {len(flagged)} figure(s) moved beyond the noise against the baseline:")
            for c in flagged:
                print(f"  {c['figure']}: {fmt(c['value'])} vs {fmt(c['baseline'])} (x{c['ratio']:.2f}, noise {100 * c['noise']:.0f}%)")
        failed = [r["name"] for r in doc["rows"] if r["status"].startswith("failed") or r["status"].startswith("partial")]
        if failed:
            print(f"bench: {len(failed)} row(s) failed: {', '.join(failed)}")
        return 1 if failed else 0
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
