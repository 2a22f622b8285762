#!/usr/bin/env python3
"""Generated inputs for the diagnosis's memory and speed goals (issues 12 and 14).

Usage: gen-memory-cases.py CASE OUT.pcap [--seed S]
  many-hosts    ~2.1 M packets: 34,000 ordinary clients (random ephemeral ports, one to
                nine connections each) to 4 servers, request/response, server closes first
                on one server, client first on the others; nothing fails, nothing is relayed.
  sources-1m    1,000,000 SYNs, each from its own source IP, to one server (unanswered).
  sparse-minute one SYN, then 5,000 SYNs to 5,000 server ports 99,999 minutes later.

Classic little-endian microsecond pcap, Ethernet, IPv4; deterministic (random.Random(seed));
checksums are zero (portreuse does not check them). Stdlib only.
"""
import random
import struct
import sys

IP = struct.Struct("!BBHHHBBH4s4s")
TCP = struct.Struct("!HHIIBBHHH")
REC = struct.Struct("<IIII")
ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
SYN, ACK, FIN, PSH, RST = 0x02, 0x10, 0x01, 0x08, 0x04


def packet(src, dst, sport, dport, seq, ack, flags, payload=0):
    ip = IP.pack(0x45, 0, 40 + payload, 0, 0x4000, 64, 6, 0, src, dst)
    tcp = TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    return ETH + ip + tcp + b"\x00" * payload


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.n = 0

    def put(self, t_us, frame):
        self.f.write(REC.pack(t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)
        self.n += 1


def ip4(n):
    return struct.pack("!I", n)


def many_hosts(w, rng):
    servers = [(ip4(0xC6336414 + i), port) for i, port in enumerate([80, 443, 8080, 110])]
    events = []
    t0 = 1_700_000_000 * 1_000_000
    span_us = 600 * 1_000_000
    for c in range(34_000):
        client = ip4(0x0A000000 + 0x100 + c * 7)
        for _ in range(rng.randint(1, 9)):
            events.append((t0 + rng.randrange(span_us), client, rng.randrange(4)))
    events.sort()
    heap = []
    import heapq
    for start, client, si in events:
        while heap and heap[0][0] <= start:
            t, _, frame = heapq.heappop(heap)
            w.put(t, frame)
        sip, dport = servers[si]
        sport = rng.randrange(32768, 61000)
        c, s = rng.getrandbits(32), rng.getrandbits(32)
        rtt = rng.randint(1000, 40000)
        q, r = rng.randint(60, 400), rng.randint(600, 1400)
        t = start
        seq = []
        seq.append((t, packet(client, sip, sport, dport, c, 0, SYN)))
        seq.append((t + rtt // 2, packet(sip, client, dport, sport, s, c + 1, SYN | ACK)))
        seq.append((t + rtt, packet(client, sip, sport, dport, c + 1, s + 1, ACK)))
        seq.append((t + rtt + 100, packet(client, sip, sport, dport, c + 1, s + 1, PSH | ACK, q)))
        seq.append((t + 2 * rtt, packet(sip, client, dport, sport, s + 1, c + 1 + q, PSH | ACK, r)))
        seq.append((t + 2 * rtt + 200, packet(client, sip, sport, dport, c + 1 + q, s + 1 + r, ACK)))
        end = t + 2 * rtt + rng.randint(1000, 2_000_000)
        if si == 3:  # the server closes first
            a, b = (sip, dport, s + 1 + r, c + 1 + q), (client, sport, c + 1 + q, s + 1 + r)
        else:
            a, b = (client, sport, c + 1 + q, s + 1 + r), (sip, dport, s + 1 + r, c + 1 + q)
        pa, pb = (b[0], b[1]), (a[0], a[1])
        seq.append((end, packet(a[0], pa[0], a[1], pa[1], a[2], a[3], FIN | ACK)))
        seq.append((end + rtt // 2, packet(b[0], pb[0], b[1], pb[1], b[2], a[2] + 1, ACK)))
        seq.append((end + rtt // 2 + 50, packet(b[0], pb[0], b[1], pb[1], b[2], a[2] + 1, FIN | ACK)))
        seq.append((end + rtt, packet(a[0], pa[0], a[1], pa[1], a[2] + 1, b[2] + 1, ACK)))
        for i, (tt, frame) in enumerate(seq):
            heapq.heappush(heap, (tt, (start, i, rng.random()), frame))
    while heap:
        t, _, frame = heapq.heappop(heap)
        w.put(t, frame)


def sources_1m(w, rng):
    t = 1_700_000_000 * 1_000_000
    server = ip4(0xC0000201)
    for i in range(1_000_000):
        client = ip4(0x0A000000 + i * 3 + 1)
        w.put(t + i * 10, packet(client, server, 40000 + i % 20000, 80, rng.getrandbits(32), 0, SYN))


def sparse_minute(w, rng):
    t = 1_000_000_000 * 1_000_000
    client, server = ip4(0x0A000001), ip4(0xC0000201)
    w.put(t, packet(client, server, 40000, 80, 1, 0, SYN))
    later = t + 99_999 * 60 * 1_000_000
    for i in range(5_000):
        w.put(later + i * 100, packet(client, server, 40001 + i, 1 + i, rng.getrandbits(32), 0, SYN))


def main():
    case, out = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--seed" else 1
    rng = random.Random(seed)
    w = Writer(out)
    {"many-hosts": many_hosts, "sources-1m": sources_1m, "sparse-minute": sparse_minute}[case](w, rng)
    w.f.close()
    print(f"{out}: {w.n} packets", file=sys.stderr)


if __name__ == "__main__":
    main()
