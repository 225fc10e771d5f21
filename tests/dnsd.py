#!/usr/bin/env python3
"""dnsd: a small DNS server over UDP for the resolver tests; never the real resolver.

    dnsd.py -l ADDR[:PORT] -z ZONEFILE [-p PORTFILE] [-q QUERYLOG]

Listens on ADDR:PORT (port 0 or none: the kernel picks one, written to PORTFILE once
listening). ZONEFILE is read again at every query, so a test changes behaviour by
rewriting it; one line per name, "NAME MODE [ARGS]":

    NAME answer IP[,IP...]          A records; with several, a different one each time
    NAME delay MS IP[,IP...]        the same, each answer sent MS milliseconds late
    NAME drop                       never answers
    NAME nxdomain                   NXDOMAIN

A query for a name not listed gets NXDOMAIN; AAAA and other types for a listed name
get an empty answer (NODATA), so families other than IPv4 find nothing. Every query is
logged as "MONOTONIC_S NAME TYPE ACTION" to QUERYLOG when given.
"""
import argparse
import os
import heapq
import ipaddress
import select
import socket
import struct
import time

QTYPE_A = 1
QTYPE_NAMES = {1: "A", 28: "AAAA"}


def read_zones(path):
    zones = {}
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and not words[0].startswith("#"):
                    zones[words[0].lower().rstrip(".")] = words[1:]
    except OSError:
        pass
    return zones


def parse_question(data):
    """Return (id, flags, name, qtype, end of question) or None."""
    if len(data) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", data[:6])
    if qdcount != 1:
        return None
    labels, i = [], 12
    while i < len(data):
        n = data[i]
        i += 1
        if n == 0:
            break
        if n > 63 or i + n > len(data):
            return None
        labels.append(data[i:i + n].decode("ascii", "replace"))
        i += n
    if i + 4 > len(data):
        return None
    qtype, _qclass = struct.unpack("!HH", data[i:i + 4])
    return qid, flags, ".".join(labels).lower(), qtype, i + 4


def reply(data, q, rcode, addrs):
    qid, flags, _name, _qtype, qend = q
    rd = flags & 0x0100
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(addrs), 0, 0)
    out = hdr + data[12:qend]
    for a in addrs:
        out += struct.pack("!HHHIH", 0xC00C, QTYPE_A, 1, 1, 4) + ipaddress.IPv4Address(a).packed
    return out


class Server:
    def __init__(self, zonefile, querylog):
        self.zonefile = zonefile
        self.log = open(querylog, "a", buffering=1) if querylog else None
        self.turn = {}
        self.later = []

    def note(self, name, qtype, action):
        if self.log:
            self.log.write("%.6f %s %s %s\n" % (time.monotonic(), name, QTYPE_NAMES.get(qtype, qtype), action))

    def answer(self, data):
        """Return (delay in seconds, packet) or None to drop."""
        q = parse_question(data)
        if not q:
            return None
        name, qtype = q[2], q[3]
        z = read_zones(self.zonefile).get(name)
        if not z or z[0] == "nxdomain":
            self.note(name, qtype, "nxdomain")
            return 0, reply(data, q, 3, [])
        if z[0] == "drop":
            self.note(name, qtype, "drop")
            return None
        delay, ips = (int(z[1]) / 1000.0, z[2]) if z[0] == "delay" else (0, z[1])
        if qtype != QTYPE_A:
            self.note(name, qtype, "nodata")
            return delay, reply(data, q, 0, [])
        ips = ips.split(",")
        k = self.turn.get(name, 0)
        self.turn[name] = k + 1
        ip = ips[k % len(ips)]
        self.note(name, qtype, "answer %s after %d ms" % (ip, delay * 1000))
        return delay, reply(data, q, 0, [ip])

    def serve(self, sock):
        while True:
            now = time.monotonic()
            while self.later and self.later[0][0] <= now:
                _due, _seq, pkt, peer = heapq.heappop(self.later)
                sock.sendto(pkt, peer)
            wait = max(0.0, self.later[0][0] - now) if self.later else None
            r, _, _ = select.select([sock], [], [], wait)
            if not r:
                continue
            data, peer = sock.recvfrom(4096)
            a = self.answer(data)
            if a is None:
                continue
            delay, pkt = a
            if delay <= 0:
                sock.sendto(pkt, peer)
            else:
                heapq.heappush(self.later, (time.monotonic() + delay, id(pkt), pkt, peer))


def main():
    ap = argparse.ArgumentParser(description="DNS server for the resolver tests")
    ap.add_argument("-l", "--listen", required=True)
    ap.add_argument("-z", "--zones", required=True)
    ap.add_argument("-p", "--portfile")
    ap.add_argument("-q", "--querylog")
    args = ap.parse_args()
    host, _, port = args.listen.partition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port or 0)))
    if args.portfile:
        with open(args.portfile + ".tmp", "w") as f:
            f.write("%d\n" % sock.getsockname()[1])
        os.rename(args.portfile + ".tmp", args.portfile)
    Server(args.zones, args.querylog).serve(sock)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
