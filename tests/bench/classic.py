#!/usr/bin/env python3
"""The "classic" baseline of make bench: a multi-connection echo client in the style
mconnd descends from. N non-blocking sockets registered with selectors for read and
write for their whole life, as the classic client does; on writable, send the next
message; on readable, recv and count the bytes; when every byte has come back (and
matches), close and, to keep the load going, start the next connection at once. In
persistent mode one connection per slot resends its messages each time the echo is
complete. Like the original, it never stops asking for writability, so every select
returns every socket that is not busy reading: that is part of what it costs.

Prints one JSON line: {"ops":N,"failed":N,"secs":S,"cpu_s":S} for the measured
window after the warm-up, like limit.c.
"""
import argparse
import json
import resource
import selectors
import socket
import struct
import time
import types

CYCLE_MSGS = [b"Message 1 from client.", b"Message 2 from client."]
RT_MSGS = [b"mconn-bench-16b."]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-a", required=True, help="IP:PORT")
    ap.add_argument("-S", action="append", default=[], help="source IP (repeatable)")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("-m", default="cycle")
    ap.add_argument("-c", default="fin")
    ap.add_argument("-w", type=float, default=1.0)
    ap.add_argument("-d", type=float, default=5.0)
    args = ap.parse_args()
    host, port = args.a.rsplit(":", 1)
    addr = (host, int(port))
    persistent = args.m == "persistent"
    msgs = RT_MSGS if persistent else CYCLE_MSGS
    expect = b"".join(msgs)
    rst = struct.pack("ii", 1, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sel = selectors.DefaultSelector()
    stats = {"ops": 0, "failed": 0}

    def start_conn(connid):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.S:
            sock.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
            sock.bind((args.S[connid % len(args.S)], 0))
        sock.connect_ex(addr)
        data = types.SimpleNamespace(connid=connid, msg_total=len(expect), recv_total=0,
                                     messages=list(msgs), outb=b"", got=b"")
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)

    def close_conn(sock):
        sel.unregister(sock)
        if args.c == "rst":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
        sock.close()

    def service_connection(key, mask):
        sock = key.fileobj
        data = key.data
        if mask & selectors.EVENT_READ:
            try:
                recv_data = sock.recv(1024)
            except OSError:
                recv_data = None
            if recv_data:
                data.recv_total += len(recv_data)
                data.got += recv_data
            if not recv_data or data.recv_total >= data.msg_total:
                ok = data.got == expect
                stats["ops" if ok else "failed"] += 1
                if persistent and ok:
                    data.recv_total = 0
                    data.got = b""
                    data.messages = list(msgs)
                    return
                close_conn(sock)
                start_conn(data.connid)
                return
        if mask & selectors.EVENT_WRITE:
            if not data.outb and data.messages:
                data.outb = data.messages.pop(0)
            if data.outb:
                try:
                    sent = sock.send(data.outb)
                except OSError:
                    stats["failed"] += 1
                    close_conn(sock)
                    start_conn(data.connid)
                    return
                data.outb = data.outb[sent:]

    for i in range(args.n):
        start_conn(i)
    end = time.monotonic() + args.w
    counting = False
    base = (0, 0, 0.0, 0.0)
    while True:
        now = time.monotonic()
        if now >= end:
            if counting:
                break
            counting = True
            base = (stats["ops"], stats["failed"], time.process_time(), now)
            end = now + args.d
        for key, mask in sel.select(timeout=max(0.0, min(1.0, end - now))):
            service_connection(key, mask)
    now = time.monotonic()
    print(json.dumps({"ops": stats["ops"] - base[0], "failed": stats["failed"] - base[1],
                      "secs": round(now - base[3], 3),
                      "cpu_s": round(time.process_time() - base[2], 4)}))


if __name__ == "__main__":
    main()
