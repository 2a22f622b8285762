"""Raw-socket TCP senders for scripts/real/make.py (run inside the client namespace).

  raw.py syns --src IP --sport P --dst IP --dport P --at T1,T2,... [--isn N|random]
              [--ttl 64] [--seed S]
      SYNs without ACK at the given times (seconds after start), each with the ISN given
      or a fresh random one (a SYN storm on one 4-tuple).
  raw.py winclient --src IP --sport P --dst IP --dport P --at T1,T2,... --isn N --iface IF
      A Windows-like client: the same SYN (one ISN, Windows options, TTL 128) at each time
      until a SYN-ACK comes; then the handshake ACK, a request, ACKs of the reply, and a
      FIN after the server's.  Answers are read from an AF_PACKET socket on IF; the
      namespace's own kernel must be kept from answering (an nftables input drop).
  raw.py flood --srcnet A.B --dst IP --dport P --tuples N --reuse K --rate R --seed S
      A SYN flood: N distinct source ip:port pairs (A.B.x.y), R SYNs per second, then K of
      the same ip:port pairs again with a new ISN (ports reused).
Everything random is drawn from the seed, so a run sends the same packets each time.
"""
import argparse
import random
import socket
import struct
import sys
import time

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_packet(src, dst, sport, dport, seq, ack, flags, window=64240, opts=b"", payload=b"",
               ttl=64, ipid=0):
    off = (20 + len(opts)) // 4
    th = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + opts
    ps = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6,
                                                                      len(th) + len(payload))
    c = csum(ps + th + payload)
    th = th[:16] + struct.pack("!H", c) + th[18:]
    total = 20 + len(th) + len(payload)
    ih = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ipid, 0x4000, ttl, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ih = ih[:10] + struct.pack("!H", csum(ih)) + ih[12:]
    return ih + th + payload


WIN_OPTS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 8, 1, 1, 4, 2])     # MSS 1460, WS 8, SACK_PERM
LINUX_OPTS = bytes([2, 4, 0x05, 0xB4, 4, 2, 1, 1, 1, 3, 3, 7])   # MSS, SACK_PERM, WS 7


def sender():
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def send(s, pkt, dst):
    s.sendto(pkt, (dst, 0))


def times(spec):
    return [float(x) for x in spec.split(",") if x]


def sleep_until(t0, t):
    d = t0 + t - time.monotonic()
    if d > 0:
        time.sleep(d)


def cmd_syns(a):
    rng = random.Random(a.seed)
    s = sender()
    t0 = time.monotonic()
    for i, t in enumerate(times(a.at)):
        sleep_until(t0, t)
        isn = rng.getrandbits(32) if a.isn == "random" else int(a.isn)
        ipid = rng.getrandbits(16)
        send(s, tcp_packet(a.src, a.dst, a.sport, a.dport, isn, 0, SYN, window=64240,
                           opts=LINUX_OPTS, ttl=a.ttl, ipid=ipid), a.dst)
        print(f"SYN {i + 1} at t={time.monotonic() - t0:.3f}s isn={isn} ttl={a.ttl}", flush=True)


class Sniffer:
    def __init__(self, iface):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.s.bind((iface, 0))
        self.s.settimeout(0.05)

    def segments(self, a):
        """TCP segments from dst:dport to src:sport read so far (non-blocking-ish)."""
        out = []
        while True:
            try:
                frame, addr = self.s.recvfrom(65535)
            except socket.timeout:
                return out
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            ip = frame[14:]
            if ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            tcp = ip[ihl:]
            sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
            if (src, sport, dst, dport) != (a.dst, a.dport, a.src, a.sport):
                continue
            total = struct.unpack("!H", ip[2:4])[0]
            plen = total - ihl - (off >> 4) * 4
            out.append((flags, seq, ack, plen))


def cmd_winclient(a):
    rng = random.Random(a.seed)
    s = sender()
    sn = Sniffer(a.iface)
    ipid = rng.getrandbits(16)
    isn = int(a.isn)
    t0 = time.monotonic()

    def tx(seq, ack, flags, payload=b"", opts=b""):
        nonlocal ipid
        ipid = (ipid + 1) & 0xFFFF
        send(s, tcp_packet(a.src, a.dst, a.sport, a.dport, seq, ack, flags, window=64240 if
                           flags & SYN else 1026, opts=opts, payload=payload, ttl=128,
                           ipid=ipid), a.dst)

    srv = None
    for i, t in enumerate(times(a.at)):
        while time.monotonic() < t0 + t:
            for flags, seq, ack, plen in sn.segments(a):
                if flags & SYN and flags & ACK and ack == (isn + 1) % 2**32:
                    srv = seq
                elif flags & RST:
                    print(f"RST at t={time.monotonic() - t0:.3f}s", flush=True)
            if srv is not None:
                break
        if srv is not None:
            break
        tx(isn, 0, SYN, opts=WIN_OPTS)
        print(f"SYN {i + 1} (isn {isn}) at t={time.monotonic() - t0:.3f}s", flush=True)
    end = time.monotonic() + a.linger
    while srv is None and time.monotonic() < end:
        for flags, seq, ack, plen in sn.segments(a):
            if flags & SYN and flags & ACK and ack == (isn + 1) % 2**32:
                srv = seq
            elif flags & RST:
                print(f"RST at t={time.monotonic() - t0:.3f}s", flush=True)
    if srv is None:
        print("no SYN-ACK: gave up", flush=True)
        return
    print(f"SYN-ACK at t={time.monotonic() - t0:.3f}s", flush=True)
    snd = (isn + 1) % 2**32
    rcv = (srv + 1) % 2**32
    tx(snd, rcv, ACK)
    req = b"GET / HTTP/1.0\r\n\r\n"
    tx(snd, rcv, PSH | ACK, req)
    snd = (snd + len(req)) % 2**32
    end = time.monotonic() + 5
    got_fin = False
    while time.monotonic() < end and not got_fin:
        for flags, seq, ack, plen in sn.segments(a):
            if flags & RST:
                print("RST during the connection", flush=True)
                return
            if seq == rcv and (plen or flags & FIN):
                rcv = (rcv + plen + (1 if flags & FIN else 0)) % 2**32
                if flags & FIN:
                    got_fin = True
                    tx(snd, rcv, FIN | ACK)
                    snd = (snd + 1) % 2**32
                else:
                    tx(snd, rcv, ACK)
    time.sleep(0.2)
    print(f"closed at t={time.monotonic() - t0:.3f}s (server FIN seen: {got_fin})", flush=True)


def cmd_flood(a):
    rng = random.Random(a.seed)
    s = sender()
    pairs = []
    seen = set()
    while len(pairs) < a.tuples:
        ip = f"{a.srcnet}.{rng.randrange(128, 256)}.{rng.randrange(1, 255)}"
        port = rng.randrange(1024, 65536)
        if (ip, port) not in seen:
            seen.add((ip, port))
            pairs.append((ip, port))
    again = rng.sample(pairs, a.reuse)
    t0 = time.monotonic()
    n = 0
    for ip, port in pairs + again:
        sleep_until(t0, n / a.rate)
        isn = rng.getrandbits(32)
        send(s, tcp_packet(ip, a.dst, port, a.dport, isn, 0, SYN, window=rng.choice(
            [512, 1024, 8192, 64240]), ttl=rng.choice([64, 128, 255]),
            ipid=rng.getrandbits(16)), a.dst)
        n += 1
    print(f"sent {n} SYNs ({a.tuples} distinct ip:port, {a.reuse} reused with a new ISN) in "
          f"{time.monotonic() - t0:.3f}s", flush=True)


p = argparse.ArgumentParser()
sp = p.add_subparsers(dest="cmd", required=True)
for name in ("syns", "winclient"):
    q = sp.add_parser(name)
    q.add_argument("--src", required=True)
    q.add_argument("--sport", type=int, required=True)
    q.add_argument("--dst", required=True)
    q.add_argument("--dport", type=int, required=True)
    q.add_argument("--at", required=True)
    q.add_argument("--isn", default="random")
    q.add_argument("--ttl", type=int, default=64)
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--iface")
    q.add_argument("--linger", type=float, default=4.0)
q = sp.add_parser("flood")
q.add_argument("--srcnet", required=True)
q.add_argument("--dst", required=True)
q.add_argument("--dport", type=int, required=True)
q.add_argument("--tuples", type=int, default=2000)
q.add_argument("--reuse", type=int, default=100)
q.add_argument("--rate", type=float, default=1000)
q.add_argument("--seed", type=int, default=1)
a = p.parse_args()
{"syns": cmd_syns, "winclient": cmd_winclient, "flood": cmd_flood}[a.cmd](a)
