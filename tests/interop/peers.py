#!/usr/bin/env python3
"""Linux-side peers of the interop tests, on the kernel's own sockets. Every mode is bounded in
time and count, checks every byte, and exits non-zero with the reason on the first mismatch.

  peers.py udp-client HOST PORT COUNT MAXSIZE SEED     random-size datagrams, each echo checked
  peers.py udp-echo PORT SECONDS                        a UDP echo server
  peers.py tcp-clients HOST PORT CONNS MAXSIZE SEED     CONNS connections at once, one message each
                                                        of a random size up to MAXSIZE, echo checked
  peers.py tcp-sink PORT FILE SECONDS                   accepts one connection, writes what comes to FILE
  peers.py tcp-echo PORT SECONDS                        a TCP echo server for any number of connections
                                                        that never blocks (socat's PIPE can deadlock: it
                                                        blocks writing its own full pipe)
"""
import os
import random
import selectors
import socket
import sys
import time


def die(msg):
    print(f"peers.py: {msg}", file=sys.stderr)
    sys.exit(1)


def udp_client(host, port, count, maxsize, seed):
    rng = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    retries = 0
    for i in range(count):
        size = rng.randint(1, maxsize)
        msg = rng.randbytes(size)
        for attempt in range(4):
            s.sendto(msg, (host, port))
            try:
                while True:
                    data, _ = s.recvfrom(70000)
                    if data == msg:
                        break
                    # An echo of an earlier try of the same message is a duplicate, not an error.
                    if len(data) != len(msg):
                        die(f"datagram {i}: {len(data)} bytes came back for {len(msg)}")
                    die(f"datagram {i} of {size} bytes came back with other bytes")
                break
            except socket.timeout:
                retries += 1
        else:
            die(f"datagram {i} of {size} bytes: no echo after 4 tries")
    print(f"udp-client: {count} datagrams of 1..{maxsize} bytes echoed byte-exact ({retries} retries)")


def udp_echo(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.5)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(70000)
        except socket.timeout:
            continue
        s.sendto(data, peer)
        n += 1
    print(f"udp-echo: {n} datagrams echoed")


def tcp_clients(host, port, conns, maxsize, seed):
    rng = random.Random(seed)
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(conns):
        c = socket.create_connection((host, port), timeout=10)
        c.setblocking(False)
        size = rng.randint(1, maxsize)
        msg = rng.randbytes(size)
        state[c] = {"i": i, "msg": msg, "sent": 0, "got": bytearray()}
        sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE)
    deadline = time.monotonic() + 120
    done = 0
    total = 0
    while done < conns:
        if time.monotonic() > deadline:
            die(f"only {done} of {conns} connections finished in 120 s")
        for key, ev in sel.select(timeout=1.0):
            c = key.fileobj
            st = state[c]
            if ev & selectors.EVENT_WRITE and st["sent"] < len(st["msg"]):
                st["sent"] += c.send(st["msg"][st["sent"]:st["sent"] + 65536])
                if st["sent"] == len(st["msg"]):
                    sel.modify(c, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                data = c.recv(1 << 20)
                if not data:
                    die(f"connection {st['i']}: closed by the server after {len(st['got'])} bytes")
                st["got"] += data
                if len(st["got"]) > len(st["msg"]):
                    die(f"connection {st['i']}: more bytes came back than were sent")
                if len(st["got"]) == len(st["msg"]):
                    if bytes(st["got"]) != st["msg"]:
                        die(f"connection {st['i']}: the echo of {len(st['msg'])} bytes differs")
                    total += len(st["msg"])
                    sel.unregister(c)
                    c.close()
                    done += 1
    print(f"tcp-clients: {conns} connections, {total} bytes echoed byte-exact")


def tcp_sink(port, path, seconds):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    ls.settimeout(seconds)
    c, _ = ls.accept()
    c.settimeout(seconds)
    n = 0
    with open(path, "wb") as f:
        while True:
            data = c.recv(1 << 20)
            if not data:
                break
            f.write(data)
            n += len(data)
    print(f"tcp-sink: {n} bytes")


def tcp_echo(port, seconds):
    """Echoes every connection without ever blocking: what a connection sends waits in its own
    buffer until the socket can take it; a connection stops being read while more than 4 MiB of
    its echo wait (the client must read its echoes), and reading resumes as they drain."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(128)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    pending = {}  # socket -> bytearray of echo not yet written
    limit = 4 << 20
    end = time.monotonic() + seconds
    conns = echoed = 0
    while time.monotonic() < end:
        for key, events in sel.select(timeout=0.2):
            if key.data is None:
                c, _ = ls.accept()
                c.setblocking(False)
                pending[c] = bytearray()
                sel.register(c, selectors.EVENT_READ, "conn")
                conns += 1
                continue
            c = key.fileobj
            buf = pending[c]
            closed = False
            if events & selectors.EVENT_READ and len(buf) < limit:
                try:
                    data = c.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    closed = True
                elif data:
                    buf += data
            if buf:
                try:
                    n = c.send(buf)
                    del buf[:n]
                    echoed += n
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    closed = True
            if closed:
                sel.unregister(c)
                c.close()
                del pending[c]
                continue
            want = (selectors.EVENT_READ if len(buf) < limit else 0) | (selectors.EVENT_WRITE if buf else 0)
            sel.modify(c, want or selectors.EVENT_READ, "conn")
    print(f"tcp-echo: {conns} connections, {echoed} bytes echoed")


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    mode, a = argv[1], argv[2:]
    if mode == "udp-client":
        udp_client(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "udp-echo":
        udp_echo(int(a[0]), float(a[1]))
    elif mode == "tcp-clients":
        tcp_clients(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "tcp-sink":
        tcp_sink(int(a[0]), a[1], float(a[2]))
    elif mode == "tcp-echo":
        tcp_echo(int(a[0]), float(a[1]))
    else:
        die(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
