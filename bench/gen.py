#!/usr/bin/env python3
"""Deterministic capture generators for bench/run.sh (python3 stdlib only).

    gen.py KIND OUT [--scale F] [--seed N]

KIND is one of:

  hosts    ordinary busy traffic: 34,000 hosts (33,992 clients, 8 servers on 80/443), 160,000
           HTTP-like connections over 30 minutes, ~2.1 M packets. Each client picks a random
           ephemeral port (32768-60999) for every connection and never reuses one, so no
           4-tuple is reused. 0.5 % of the attempts go to a closed port (8443) and are refused
           with RST-ACK; the others complete the handshake, do 1-3 request/response exchanges
           and close (either side first).
  flood    1,000,000 unanswered SYNs from distinct 4-tuples (1,000 sources x 1,000 ports, one
           server), 10,000 SYNs/s, plus an ordinary connection every 0.5 s to the same server
           (so the capture shows the server answering) that goes on 10 s after the flood.
  sources  the same, but every SYN comes from its own source address (1,000,000 addresses).
  sparse   one SYN, then 2,600 SYNs from the same client to 2,600 different ports of one
           server 99,999 minutes later (~210 KB). Nothing answers.
  netmon   a NetMon 2.0 file (Ethernet) of 200 ordinary connections whose header claims a
           2 GiB frame table; the table really holds one entry per record, then the file ends.
  huge     one ~280 MB connection (server to client bulk transfer, 1448-byte segments, the
           server closes first), then a SYN on the same 4-tuple 2 s after its end that gets no
           answer (retransmitted at +3 s and +9 s: Windows), then one more ordinary
           connection 30 s later. `portreuse --write` must write the whole 4-tuple.

--scale multiplies the sizes (counts of hosts, connections, SYNs, bytes; not the sparse case's
99,999 minutes nor the NetMon table claim). Output: a classic little-endian microsecond pcap
(netmon: a .cap), Ethernet/IPv4/TCP with correct IPv4 and TCP checksums, and OUT.truth.json:
what the generator knows (frames, attempts, established, refused, no_answer = unanswered +
unknown, unanswered when the capture goes on long enough to know, hosts, ...). The same
arguments always give the same bytes (random.Random(seed)).
"""

import argparse
import heapq
import json
import random
import struct
import sys

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MAC_CLIENT_SIDE = bytes.fromhex("02000000aa01")
MAC_SERVER_SIDE = bytes.fromhex("02000000bb02")
ETH_C2S = MAC_SERVER_SIDE + MAC_CLIENT_SIDE + b"\x08\x00"
ETH_S2C = MAC_CLIENT_SIDE + MAC_SERVER_SIDE + b"\x08\x00"
# MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted: 12 bytes.
SYN_OPTS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7, 1, 1, 4, 2])
START_US = 1_717_200_000 * 1_000_000  # 2024-06-01T00:00:00Z
M32 = 0xFFFFFFFF

HDR = struct.Struct("!14sBBHHHBBHIIHHIIBBHHH")  # Ethernet + IPv4 + TCP (no options)
REC = struct.Struct("<IIII")


def words(b):
    """Sum of the big-endian 16-bit words of b (odd length padded), not folded."""
    if len(b) & 1:
        b += b"\x00"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip(a, b, c, d):
    return (a << 24) | (b << 16) | (c << 8) | d


def ipw(x):
    return (x >> 16) + (x & 0xFFFF)


def ipstr(x):
    return "%d.%d.%d.%d" % (x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255)


SYN_OPTS_SUM = words(SYN_OPTS)


class Frames:
    """Builds Ethernet/IPv4/TCP frames with correct checksums."""

    def __init__(self):
        self.ip_id = 1

    def tcp(self, c2s, src, dst, sport, dport, seq, ack, flags, payload=(b"", 0),
            opts=b"", osum=0):
        data, psum = payload
        tcp_len = 20 + len(opts) + len(data)
        doff = 5 + len(opts) // 4
        win = 64240 if c2s else 65160
        seq &= M32
        ack &= M32
        sw, dw = ipw(src), ipw(dst)
        s = (sw + dw + 6 + tcp_len + sport + dport + (seq >> 16) + (seq & 0xFFFF)
             + (ack >> 16) + (ack & 0xFFFF) + ((doff << 12) | flags) + win + osum + psum)
        tsum = ~fold(s) & 0xFFFF
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        total = 20 + tcp_len
        ttl = 64 if c2s else 57
        isum = ~fold(0x4500 + total + self.ip_id + 0x4000 + ((ttl << 8) | 6) + sw + dw) & 0xFFFF
        return HDR.pack(ETH_C2S if c2s else ETH_S2C, 0x45, 0, total, self.ip_id, 0x4000, ttl, 6,
                        isum, src, dst, sport, dport, seq, ack, doff << 4, flags, win, tsum,
                        0) + opts + data


class PcapOut:
    """A classic pcap (µs, Ethernet), written in large chunks."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.chunk = []
        self.frames = 0
        self.bytes = 24

    def write(self, ts_us, frame):
        n = len(frame)
        self.chunk.append(REC.pack(ts_us // 1_000_000, ts_us % 1_000_000, n, n))
        self.chunk.append(frame)
        self.frames += 1
        self.bytes += 16 + n
        if len(self.chunk) >= 65536:
            self.f.write(b"".join(self.chunk))
            self.chunk = []

    def close(self):
        self.f.write(b"".join(self.chunk))
        self.f.close()


class Timeline:
    """Packets of overlapping connections, emitted in timestamp order. Connections must be
    added in order of their first packet."""

    def __init__(self, out):
        self.out = out
        self.heap = []
        self.n = 0

    def add(self, packets):
        """packets: list of (ts_us, frame); the first has the smallest timestamp."""
        self.flush(packets[0][0])
        for ts, frame in packets:
            heapq.heappush(self.heap, (ts, self.n, frame))
            self.n += 1

    def flush(self, before=1 << 62):
        heap, out = self.heap, self.out
        while heap and heap[0][0] < before:
            ts, _, frame = heapq.heappop(heap)
            out.write(ts, frame)


def payload_pool(rng, lo, hi, count=256):
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 /:.-\r\n"
    big = bytes(rng.choice(alphabet) for _ in range(hi + count))
    pool = []
    for i in range(count):
        p = big[i:i + rng.randint(lo, hi)]
        pool.append((p, words(p)))
    return pool


def connection(fr, rng, t, cip, cport, sip, sport, exchanges, requests, responses):
    """An ordinary connection: handshake, request/response exchanges, close by either side.
    Returns the packets [(ts_us, frame)]."""
    pk = []
    rtt = rng.randint(2_000, 80_000)
    half = rtt // 2
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)

    def c(ts, flags, pay=(b"", 0), opts=b"", osum=0):
        pk.append((ts, fr.tcp(True, cip, sip, cport, sport, cs, ss if flags & ACK else 0, flags,
                              pay, opts, osum)))
        return len(pay[0])

    def s(ts, flags, pay=(b"", 0), opts=b"", osum=0):
        pk.append((ts, fr.tcp(False, sip, cip, sport, cport, ss, cs, flags, pay, opts, osum)))
        return len(pay[0])

    c(t, SYN, opts=SYN_OPTS, osum=SYN_OPTS_SUM)
    cs += 1
    t += half
    s(t, SYN | ACK, opts=SYN_OPTS, osum=SYN_OPTS_SUM)
    ss += 1
    t += half
    c(t, ACK)
    for _ in range(exchanges):
        t += rng.randint(200, 30_000)
        cs += c(t, PSH | ACK, rng.choice(requests))
        t += half + rng.randint(500, 20_000)
        ss += s(t, PSH | ACK, rng.choice(responses))
        t += half
        c(t, ACK)
    t += rng.randint(1_000, 20_000)
    if rng.random() < 0.5:  # the server closes first
        s(t, FIN | ACK)
        ss += 1
        t += half
        c(t, ACK)
        t += rng.randint(100, 5_000)
        c(t, FIN | ACK)
        cs += 1
        t += half
        s(t, ACK)
    else:
        c(t, FIN | ACK)
        cs += 1
        t += half
        s(t, ACK)
        t += rng.randint(100, 5_000)
        s(t, FIN | ACK)
        ss += 1
        t += half
        c(t, ACK)
    return pk


def gen_hosts(out, scale, seed):
    rng = random.Random(seed)
    fr = Frames()
    n_servers = 8
    n_hosts = max(int(34_000 * scale), 100)
    n_clients = n_hosts - n_servers
    attempts = max(int(160_000 * scale), n_clients)
    duration_us = 1_800 * 1_000_000
    servers = [(ip(198, 18, 0, 10 + i), 80 if i < 4 else 443) for i in range(n_servers)]
    clients = [ip(10, 0, 1 + j // 254, 1 + j % 254) if j < 254 * 254 else
               ip(10, 1 + j // (254 * 254), 1 + (j // 254) % 254, 1 + j % 254)
               for j in range(n_clients)]
    order = list(range(n_clients))
    rng.shuffle(order)
    requests = payload_pool(rng, 80, 500)
    responses = payload_pool(rng, 200, 1448)
    used = set()
    w = PcapOut(out)
    tl = Timeline(w)
    t = START_US
    gap = duration_us / attempts
    refused = 0
    hosts = set()
    for i in range(attempts):
        t += int(rng.expovariate(1.0) * gap) + 1
        ci = order[i] if i < n_clients else rng.randrange(n_clients)
        cip = clients[ci]
        while True:
            cport = rng.randint(32768, 60999)
            if (ci, cport) not in used:
                used.add((ci, cport))
                break
        hosts.add(cip)
        if rng.random() < 0.005:
            sip, sport = servers[0][0], 8443
            hosts.add(sip)
            isn = rng.getrandbits(32)
            rtt = rng.randint(2_000, 80_000)
            tl.add([(t, fr.tcp(True, cip, sip, cport, sport, isn, 0, SYN, opts=SYN_OPTS,
                               osum=SYN_OPTS_SUM)),
                    (t + rtt // 2, fr.tcp(False, sip, cip, sport, cport, 0, isn + 1, RST | ACK))])
            refused += 1
            continue
        sip, sport = servers[rng.randrange(n_servers)]
        hosts.add(sip)
        tl.add(connection(fr, rng, t, cip, cport, sip, sport, rng.randint(1, 3), requests,
                          responses))
    tl.flush()
    w.close()
    return dict(frames=w.frames, bytes=w.bytes, attempts=attempts,
                established=attempts - refused, refused=refused, no_answer=0, unanswered=0,
                hosts=len(hosts), clients=n_clients, servers=n_servers)


def gen_flood(out, scale, seed, distinct_sources):
    """SYNs nobody answers from distinct 4-tuples, plus ordinary connections to the same server
    (one every 0.5 s, going on 10 s after the flood)."""
    rng = random.Random(seed)
    fr = Frames()
    n = max(int(1_000_000 * scale), 1000)
    step_us = 100  # 10,000 SYNs/s
    server = (ip(198, 18, 0, 80), 443 if distinct_sources else 80)
    legit_client = ip(198, 19, 0, 10)
    requests = payload_pool(rng, 80, 300, 16)
    responses = payload_pool(rng, 200, 1448, 16)
    w = PcapOut(out)
    tl = Timeline(w)
    end_us = START_US + n * step_us + 10_000_000
    legit_t = START_US + 50_000
    legit = 0
    sources = set()
    for i in range(n):
        t = START_US + i * step_us
        while legit_t <= t:
            tl.add(connection(fr, rng, legit_t, legit_client, 40000 + legit, *server, 1,
                              requests, responses))
            legit += 1
            legit_t += 500_000
        if distinct_sources:
            k = i + 1
            src = ip(11, (k >> 16) & 255, (k >> 8) & 255, k & 255)
            sport = rng.randint(1024, 65535)
        else:
            src = ip(100, 64, 1 + (i % 1000) // 250, 1 + (i % 1000) % 250)
            sport = 1024 + i // 1000
        sources.add(src)
        tl.add([(t, fr.tcp(True, src, server[0], sport, server[1], rng.getrandbits(32), 0, SYN))])
    while legit_t <= end_us:
        tl.add(connection(fr, rng, legit_t, legit_client, 40000 + legit, *server, 1, requests,
                          responses))
        legit += 1
        legit_t += 500_000
    tl.flush()
    w.close()
    return dict(frames=w.frames, bytes=w.bytes, attempts=n + legit, established=legit,
                refused=0, no_answer=n, unanswered=n, flood_syns=n,
                flood_sources=len(sources), hosts=len(sources) + 2)


def gen_sparse(out, scale, seed):
    rng = random.Random(seed)
    fr = Frames()
    n = 2_600
    cip, sip = ip(198, 19, 0, 10), ip(198, 18, 0, 1)
    w = PcapOut(out)
    w.write(START_US, fr.tcp(True, cip, sip, 40000, 80, rng.getrandbits(32), 0, SYN,
                             opts=SYN_OPTS, osum=SYN_OPTS_SUM))
    later = START_US + 99_999 * 60 * 1_000_000
    for j in range(n):
        w.write(later + j * 1_000, fr.tcp(True, cip, sip, 40001 + j, 1000 + j,
                                          rng.getrandbits(32), 0, SYN, opts=SYN_OPTS,
                                          osum=SYN_OPTS_SUM))
    w.close()
    return dict(frames=w.frames, bytes=w.bytes, attempts=n + 1, established=0, refused=0,
                no_answer=n + 1, servers=n + 1, minutes=99_999)


class FrameList:
    """Collects (ts_us, frame) like PcapOut, for writers of other formats."""

    def __init__(self):
        self.items = []

    def write(self, ts_us, frame):
        self.items.append((ts_us, frame))


def gen_netmon(out, scale, seed):
    """NetMon 2.0: 128-byte header (magic GMBU, version 2.0, media 1 = Ethernet, SYSTEMTIME of
    the capture start, frame table offset and length), records (ts delta u64 µs, orig_len u32,
    incl_len u32, data), then the frame table (one u32 file offset per record). The header
    claims a frame table of 2 GiB (512 Mi entries, the most Wireshark accepts); the file holds
    one entry per record and ends there."""
    rng = random.Random(seed)
    fr = Frames()
    fl = FrameList()
    tl = Timeline(fl)
    requests = payload_pool(rng, 80, 300, 16)
    responses = payload_pool(rng, 200, 1448, 16)
    n = 200
    t = START_US
    for k in range(n):
        t += rng.randint(10_000, 200_000)
        tl.add(connection(fr, rng, t, ip(198, 19, 0, 10 + k % 20), 40000 + k,
                          ip(198, 18, 0, 1), 80, rng.randint(1, 3), requests, responses))
    tl.flush()
    body = []
    offsets = []
    pos = 128
    for ts, frame in fl.items:
        offsets.append(pos)
        rec = struct.pack("<QII", ts - START_US, len(frame), len(frame)) + frame
        body.append(rec)
        pos += len(rec)
    claimed = 2 * 1024 * 1024 * 1024  # bytes: 512 Mi entries
    # SYSTEMTIME: year, month, day of week, day, hour, minute, second, millisecond
    # (2024-06-01 is a Saturday = 6), taken as UTC by portreuse.
    header = (b"GMBU" + bytes([0, 2]) + struct.pack("<H", 1)
              + struct.pack("<8H", 2024, 6, 6, 1, 0, 0, 0, 0)
              + struct.pack("<II", pos, claimed) + bytes(32))
    header += bytes(128 - len(header))
    with open(out, "wb") as f:
        f.write(header)
        f.write(b"".join(body))
        f.write(struct.pack("<%dI" % len(offsets), *offsets))
    return dict(frames=len(offsets), bytes=pos + 4 * len(offsets), attempts=n, established=n,
                refused=0, no_answer=0, unanswered=0, claimed_table_bytes=claimed,
                real_table_bytes=4 * len(offsets))


def gen_huge(out, scale, seed):
    rng = random.Random(seed)
    fr = Frames()
    target = int(280_000_000 * scale)
    cip, cport, sip, sport = ip(198, 19, 0, 20), 50000, ip(198, 18, 0, 2), 110
    seg = bytes(rng.randrange(32, 127) for _ in range(1448))
    pay = (seg, words(seg))
    per_pair = 2 * (16 + 54 + 1448) + (16 + 54)  # two data segments and one client ACK
    pairs = max(target // per_pair, 10)
    w = PcapOut(out)
    t = START_US
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)

    def c(flags, opts=b"", osum=0, isn=None):
        w.write(t, fr.tcp(True, cip, sip, cport, sport, cs if isn is None else isn,
                          ss if flags & ACK else 0, flags, (b"", 0), opts, osum))

    def s(flags, payload=(b"", 0), opts=b"", osum=0):
        w.write(t, fr.tcp(False, sip, cip, sport, cport, ss, cs, flags, payload, opts, osum))

    c(SYN, SYN_OPTS, SYN_OPTS_SUM)
    cs += 1
    t += 500
    s(SYN | ACK, opts=SYN_OPTS, osum=SYN_OPTS_SUM)
    ss += 1
    t += 500
    c(ACK)
    for _ in range(pairs):  # ~100 Mbit/s
        t += 120
        s(ACK, pay)
        ss += 1448
        t += 120
        s(PSH | ACK, pay)
        ss += 1448
        t += 20
        c(ACK)
    t += 1_000
    s(FIN | ACK)  # the server closes first: it holds the TIME_WAIT
    ss += 1
    t += 500
    c(ACK)
    t += 1_000
    c(FIN | ACK)
    cs += 1
    t += 500
    s(ACK)
    conn_frames = w.frames
    isn = rng.getrandbits(32)
    t += 2_000_000
    for _ in range(3):  # first SYN, +3 s, +9 s: nothing answers
        c(SYN, SYN_OPTS, SYN_OPTS_SUM, isn=isn)
        t += 3_000_000 if _ == 0 else 6_000_000
    t += 30_000_000
    for ts, frame in connection(fr, rng, t, ip(198, 19, 0, 21), 50001, sip, sport, 1,
                                [pay], [pay]):
        w.write(ts, frame)
    w.close()
    return dict(frames=w.frames, bytes=w.bytes, attempts=3, established=2, refused=0,
                no_answer=1, unanswered=1, huge_connection_frames=conn_frames,
                write_frames=conn_frames + 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["hosts", "flood", "sources", "sparse", "netmon", "huge"])
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=12)
    a = ap.parse_args()
    fn = {
        "hosts": gen_hosts,
        "flood": lambda o, s, r: gen_flood(o, s, r, False),
        "sources": lambda o, s, r: gen_flood(o, s, r, True),
        "sparse": gen_sparse,
        "netmon": gen_netmon,
        "huge": gen_huge,
    }[a.kind]
    truth = fn(a.out, a.scale, a.seed)
    truth = dict(kind=a.kind, scale=a.scale, seed=a.seed, **truth)
    with open(a.out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print(json.dumps(truth), file=sys.stderr)


if __name__ == "__main__":
    main()
