#!/usr/bin/env bash
# Regenerate testdata/tunnels/: real Linux TCP connections (SYN, SYN-ACK, data, FIN) through
# every tunnel we can make, captured on the underlay, and tshark's per-frame view of their SYNs.
#
# Two network namespaces joined by a veth pair (the underlay):
#     pr5a  pr5a-u 10.95.0.1/24 fd95::1/64  <---->  pr5b-u 10.95.0.2/24 fd95::2/64  pr5b
# and a tunnel device pr5a-t / pr5b-t in each, inner addresses 10.95.1.1 / 10.95.1.2 and
# fd95::1:1 / fd95::1:2 (host routes, so the underlay /64 does not claim them).
# tcpdump runs inside pr5b on pr5b-u. Nothing leaves the two namespaces.
#
# How the tunnel is made:
#   kernel    `ip link add ... type vxlan` (the only tunnel built into the kernel this was
#             written on; where gre, gretap, ip6gre, ip6gretap, ipip, sit, ip6tnl, geneve,
#             erspan, fou and l2tp are built in too, the same endpoint script can be replaced
#             by `ip link add ... type X`).
#   userspace a TUN (IP) or TAP (Ethernet) device whose packets a small Python endpoint
#             (written below, stdlib only) wraps in the tunnel's header and sends over a raw
#             IP socket or a UDP socket, and unwraps on the way back. The outer IP header is
#             the kernel's; the tunnel header follows the RFC (or the vendor's format) the way
#             the Linux driver of that name writes it. TCP is the kernel's, end to end.
# tshark is the judge of what the tunnel header means: syns.tsv is what it decodes.
#
# Usage: scripts/tunnel-captures.sh [MODE...]   (root; ip, tcpdump, tshark, python3)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/testdata/tunnels"
A=pr5a B=pr5b
die() { echo "tunnel-captures: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for t in ip tcpdump tshark python3; do command -v "$t" >/dev/null || die "missing tool: $t"; done

WORK=$(mktemp -d /tmp/pr5-tunnels.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap 'cleanup; [[ -n ${KEEP:-} ]] || rm -rf "$WORK"' EXIT

# --- the tunnel endpoint -------------------------------------------------------------------
cat >"$WORK/endpoint.py" <<'PY'
"""Userspace tunnel endpoint: TUN/TAP device <-> tunnel header <-> raw IP or UDP socket."""
import fcntl, hashlib, os, select, socket, struct, sys

mode, side, dev = sys.argv[1], sys.argv[2], sys.argv[3]
v6 = mode in ("ip6gre", "ip6gretap", "ip6erspan", "ip6ip6", "ipip6", "eoipv6", "geneve6-options")
local = ("fd95::1" if side == "a" else "fd95::2") if v6 else ("10.95.0.1" if side == "a" else "10.95.0.2")
remote = ("fd95::2" if side == "a" else "fd95::1") if v6 else ("10.95.0.2" if side == "a" else "10.95.0.1")

# mode -> transport: ("ip", protocol) or ("udp", source port, destination port)
GRE = ("ip", 47)
TRANSPORT = {
    "gre": GRE, "gre-csum-key-seq": GRE, "gretap": GRE, "ip6gre": GRE, "ip6gretap": GRE,
    "erspan-ii": GRE, "erspan-iii": GRE, "ip6erspan": GRE, "eoip": GRE, "aruba": GRE,
    "pptp": GRE, "wccp": GRE, "mpls-gre": GRE,
    "ipip": ("ip", 4), "sit": ("ip", 41), "ip6ip6": ("ip", 41), "ipip6": ("ip", 4),
    "etherip": ("ip", 97), "eoipv6": ("ip", 97),
    "geneve": ("udp", 40001, 6081), "geneve6-options": ("udp", 40001, 6081),
    "gre-in-udp": ("udp", 40002, 4754), "fou-ipip": ("udp", 40003, 42424),
    "gue": ("udp", 40004, 6080), "ayiya": ("udp", 5072, 5072),
    "mpls-udp": ("udp", 40005, 6635), "teredo": ("udp", 3544, 3544),
    "gtp-u": ("udp", 2152, 2152), "lisp": ("udp", 40006, 4341),
    "vxlan-gpe": ("udp", 40007, 4790), "l2tp": ("udp", 1701, 1701),
}
TAP = {"gretap", "ip6gretap", "erspan-ii", "erspan-iii", "ip6erspan", "eoip", "aruba",
       "etherip", "eoipv6", "geneve", "geneve6-options"}
seq = 0


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def gre(proto, body, key=None, sequence=None, checksum=False, version=0, ack=None):
    flags = ((0x8000 if checksum else 0) | (0x2000 if key is not None else 0)
             | (0x1000 if sequence is not None else 0) | (0x0080 if ack is not None else 0) | version)
    words = b""
    if key is not None:
        words += struct.pack("!I", key)
    if sequence is not None:
        words += struct.pack("!I", sequence)
    if ack is not None:
        words += struct.pack("!I", ack)
    if checksum:
        c = csum(struct.pack("!HHI", flags, proto, 0) + words + body)
        words = struct.pack("!HH", c, 0) + words
    return struct.pack("!HH", flags, proto) + words + body


def ethertype(ip):
    return 0x86DD if ip[0] >> 4 == 6 else 0x0800


def to_wifi(frame):
    """Ethernet -> 802.11 QoS data + LLC/SNAP, as an Aruba AP (a: to DS) or controller (b: from DS)."""
    da, sa, etype, payload = frame[0:6], frame[6:12], frame[12:14], frame[14:]
    bssid = b"\x02\x95\x00\x00\x00\x01"
    if side == "a":
        fc, addrs = b"\x88\x01", bssid + sa + da
    else:
        fc, addrs = b"\x88\x02", da + bssid + sa
    return fc + b"\0\0" + addrs + struct.pack("<H", (seq & 0xFFF) << 4) + b"\0\0" \
        + b"\xaa\xaa\x03\0\0\0" + etype + payload


def from_wifi(f):
    fc1 = f[1]
    a1, a2, a3 = f[4:10], f[10:16], f[16:22]
    da, sa = (a3, a2) if fc1 & 3 == 1 else (a1, a3)
    return da + sa + f[32:34] + f[34:]


def encap(inner):
    global seq
    seq += 1
    v = ethertype(inner) if mode not in TAP else 0
    if mode in ("gre", "ip6gre", "gre-in-udp"):
        return gre(v, inner)
    if mode == "gre-csum-key-seq":
        return gre(v, inner, key=42, sequence=seq, checksum=True)
    if mode in ("gretap", "ip6gretap"):
        return gre(0x6558, inner)
    if mode == "erspan-ii":  # version 1, VLAN 0, COS 0, En 0, T 0, session 123; index 7
        return gre(0x88BE, struct.pack("!HHI", 1 << 12, 123, 7) + inner, sequence=seq)
    if mode in ("erspan-iii", "ip6erspan"):  # version 2, session 123, timestamp, hw id 7
        h = struct.pack("!HHIHH", 2 << 12, 123, seq * 1000, 0, 7 << 4)
        return gre(0x22EB, h + inner, sequence=seq)
    if mode == "eoip":  # MikroTik: flags 0x2001, length (big-endian), tunnel ID (little-endian)
        return struct.pack("!HHH", 0x2001, 0x6400, len(inner)) + struct.pack("<H", 100) + inner
    if mode == "etherip":  # RFC 3378: version 3, 12 reserved bits
        return b"\x30\x00" + inner
    if mode == "eoipv6":  # MikroTik EoIPv6: EtherIP with the nibbles swapped, tunnel ID 100
        return b"\x03\x64" + inner
    if mode == "aruba":
        return gre(0x8200, to_wifi(inner))
    if mode == "pptp":  # GRE version 1, key = payload length + call ID; PPP, compressed by b
        ppp = (b"\xff\x03\x00\x21" if side == "a" else b"\x21") + inner
        flags = 0x3001 | (0x0080 if seq > 1 else 0)
        words = struct.pack("!HHI", len(ppp), 7 if side == "a" else 9, seq)
        if seq > 1:
            words += struct.pack("!I", seq - 1)
        return struct.pack("!HH", flags, 0x880B) + words + ppp
    if mode == "wccp":  # WCCPv2 redirect header (service 0, buckets 0)
        return gre(0x883E, b"\0\0\0\0" + inner)
    if mode in ("mpls-gre", "mpls-udp"):  # label 100, bottom of stack, TTL 64
        label = struct.pack("!I", (100 << 12) | (1 << 8) | 64)
        return gre(0x8847, label + inner) if mode == "mpls-gre" else label + inner
    if mode in ("ipip", "sit", "ip6ip6", "ipip6", "fou-ipip", "teredo"):
        return inner
    if mode == "geneve":  # RFC 8926: version 0, no options, Ethernet, VNI 42
        return struct.pack("!BBHI", 0, 0, 0x6558, 42 << 8) + inner
    if mode == "geneve6-options":  # two option words: class 0x0102, type 0x80, 4 bytes
        return struct.pack("!BBHI", 2, 0, 0x6558, 42 << 8) + struct.pack("!HBBI", 0x0102, 0x80, 1, seq) + inner
    if mode == "gue":  # draft-ietf-intarea-gue: version 0, no extension fields
        return struct.pack("!BBH", 0, 4 if inner[0] >> 4 == 4 else 41, 0) + inner
    if mode == "ayiya":  # 16-byte identity, SHA-1 signature, forward, next header
        nh = 4 if inner[0] >> 4 == 4 else 41
        ident = socket.inet_pton(socket.AF_INET6, "fd95::1:1" if side == "a" else "fd95::1:2")
        h = struct.pack("!BBBBI", 0x41, 0x52, 0x11, nh, 1700000000 + seq)
        return h + ident + hashlib.sha1(h + ident + inner).digest() + inner
    if mode == "gtp-u":  # version 1, GTP, a sequence number on a's packets, TEID 0x95
        if side == "a":
            return struct.pack("!BBHIHBB", 0x32, 0xFF, len(inner) + 4, 0x95, seq, 0, 0) + inner
        return struct.pack("!BBHI", 0x30, 0xFF, len(inner), 0x95) + inner
    if mode == "lisp":  # N bit and a nonce, instance 0
        return struct.pack("!II", 0x80000000 | seq, 0) + inner
    if mode == "vxlan-gpe":  # I and P flags, next protocol 1 (IPv4) or 2 (IPv6), VNI 42
        return struct.pack("!BBBBI", 0x0C, 0, 0, 1 if inner[0] >> 4 == 4 else 2, 42 << 8) + inner
    if mode == "l2tp":  # L2TPv2 data: a with length and sequence numbers, b minimal; PPP
        ppp = b"\xff\x03\x00\x21" + inner
        if side == "a":
            return struct.pack("!HHHHHH", 0x4802, 12 + len(ppp), 1, 1, seq, 0) + ppp
        return struct.pack("!HHH", 0x0002, 1, 1) + ppp
    raise SystemExit("unknown mode " + mode)


def gre_body(p):
    flags, version = p[0], p[1] & 7
    n = 4 + 4 * (bool(flags & 0xC0) + bool(flags & 0x20) + bool(flags & 0x10) + (version == 1 and bool(p[1] & 0x80)))
    return struct.unpack("!H", p[2:4])[0], p[n:]


def decap(p):
    if TRANSPORT[mode] == GRE:
        proto, body = gre_body(p)
        if mode == "erspan-ii":
            return body[8:]
        if mode in ("erspan-iii", "ip6erspan"):
            return body[12:]
        if mode == "aruba":
            return from_wifi(body)
        if mode == "pptp":
            body = body[2:] if body[:2] == b"\xff\x03" else body
            return body[1:] if body[0] & 1 else body[2:]
        if mode in ("wccp", "mpls-gre"):
            return body[4:]
        return body
    if mode in ("etherip", "eoipv6"):
        return p[2:]
    if mode == "gre-in-udp":
        return gre_body(p)[1]
    if mode in ("geneve", "geneve6-options"):
        return p[8 + 4 * (p[0] & 0x3F):]
    if mode in ("gue", "mpls-udp"):
        return p[4:]
    if mode == "ayiya":
        return p[8 + (1 << (p[0] >> 4)) + 4 * (p[1] >> 4):]
    if mode == "gtp-u":
        return p[12:] if p[0] & 7 else p[8:]
    if mode in ("lisp", "vxlan-gpe"):
        return p[8:]
    if mode == "l2tp":
        n = 6 + (2 if p[0] & 0x40 else 0) + (4 if p[0] & 0x08 else 0)
        return p[n + 4:]
    return p


TUNSETIFF, IFF_TUN, IFF_TAP, IFF_NO_PI = 0x400454CA, 1, 2, 0x1000
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", dev.encode(), (IFF_TAP if mode in TAP else IFF_TUN) | IFF_NO_PI))
family = socket.AF_INET6 if v6 else socket.AF_INET
kind = TRANSPORT[mode]
if kind[0] == "ip":
    s = socket.socket(family, socket.SOCK_RAW, kind[1])
    dest = (remote, 0)
else:
    s = socket.socket(family, socket.SOCK_DGRAM)
    sport, dport = kind[1], kind[2]
    if side == "b":
        sport, dport = dport, sport
    s.bind((local, sport))
    dest = (remote, dport)
print("ready", flush=True)
while True:
    ready, _, _ = select.select([tun, s], [], [])
    if tun in ready:
        s.sendto(encap(os.read(tun, 65535)), dest)
    if s in ready:
        p, addr = s.recvfrom(65535)
        if addr[0] != remote:
            continue
        if kind[0] == "ip" and not v6:
            p = p[(p[0] & 0x0F) * 4:]
        try:
            os.write(tun, decap(p))
        except OSError:
            pass  # the device is not up yet (router solicitations from the other side)
PY

# --- the TCP peers -------------------------------------------------------------------------
cat >"$WORK/peer.py" <<'PY'
"""server ADDR: accept, read 1000 bytes, echo them, close after the client; client ADDR: the other side."""
import socket, sys
role, addr = sys.argv[1], sys.argv[2]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
if role == "server":
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, 8080)); srv.listen(4)
    print("ready", flush=True)
    for _ in range(int(sys.argv[3])):
        c, _ = srv.accept()
        data = b""
        while len(data) < 1000:
            data += c.recv(1000 - len(data))
        c.sendall(data)
        c.recv(1)  # the client's FIN
        c.close()
else:
    c = socket.create_connection((addr, 8080), timeout=10)
    c.sendall(b"x" * 1000)
    got = b""
    while len(got) < 1000:
        got += c.recv(1000)
    c.close()
PY

wait_ready() { # FILE [WORD]: until the background process printed "ready" (or WORD)
    for _ in $(seq 100); do grep -q "${2:-ready}" "$1" 2>/dev/null && return 0; sleep 0.05; done
    die "not ready: $1"
}

underlay() {
    ip netns add "$A"; ip netns add "$B"
    ip link add "$A-u" netns "$A" type veth peer name "$B-u" netns "$B"
    for ns in "$A" "$B"; do ip -n "$ns" link set lo up; ip -n "$ns" link set "$ns-u" up; done
    ip -n "$A" addr add 10.95.0.1/24 dev "$A-u"; ip -n "$B" addr add 10.95.0.2/24 dev "$B-u"
    ip -n "$A" addr add fd95::1/64 dev "$A-u" nodad; ip -n "$B" addr add fd95::2/64 dev "$B-u" nodad
}

inner_addresses() { # ns x peer-x
    local ns=$1 me=$2 peer=$3
    ip -n "$ns" link set "$ns-t" mtu 1300 up
    ip -n "$ns" addr add "10.95.1.$me/24" dev "$ns-t"
    ip -n "$ns" addr add "fd95::1:$me/128" dev "$ns-t" nodad
    ip -n "$ns" route add "fd95::1:$peer/128" dev "$ns-t"
}

# MODE FAMILIES(4, 6 or 46) NOTE: one capture, testdata/tunnels/MODE.pcap
capture() {
    local mode=$1 families=$2
    cleanup; PIDS=()
    rm -f "$WORK"/ep-* "$WORK/srv" "$WORK/tcpdump"
    underlay
    case $mode in
        vxlan|vxlan6)
            local lo=10.95.0.1 re=10.95.0.2
            [[ $mode == vxlan6 ]] && lo=fd95::1 re=fd95::2
            ip -n "$A" link add "$A-t" type vxlan id 42 local "$lo" remote "$re" dstport 4789 dev "$A-u"
            [[ $mode == vxlan6 ]] && { lo=fd95::2; re=fd95::1; } || { lo=10.95.0.2; re=10.95.0.1; }
            ip -n "$B" link add "$B-t" type vxlan id 42 local "$lo" remote "$re" dstport 4789 dev "$B-u"
            ;;
        *)
            local tap=tun
            case $mode in gretap|ip6gretap|erspan-ii|erspan-iii|ip6erspan|eoip|aruba|etherip|eoipv6|geneve|geneve6-options) tap=tap ;; esac
            for side in a b; do
                local ns=pr5$side
                ip -n "$ns" tuntap add dev "$ns-t" mode "$tap"
                ip netns exec "$ns" python3 "$WORK/endpoint.py" "$mode" "$side" "$ns-t" >"$WORK/ep-$side" 2>&1 &
                PIDS+=($!)
                wait_ready "$WORK/ep-$side"
            done
            ;;
    esac
    inner_addresses "$A" 1 2; inner_addresses "$B" 2 1
    local out="$OUT/$mode.pcap" n=${#families}
    ip netns exec "$B" tcpdump -i "$B-u" -s 0 -U -w "$out" 2>"$WORK/tcpdump" &
    PIDS+=($!); local dump=$!
    wait_ready "$WORK/tcpdump" listening
    for fam in $(grep -o . <<<"$families"); do
        local addr=10.95.1.2
        [[ $fam == 6 ]] && addr=fd95::1:2
        rm -f "$WORK/srv"
        ip netns exec "$B" python3 "$WORK/peer.py" server "$addr" 1 >"$WORK/srv" 2>&1 &
        local srv=$!
        wait_ready "$WORK/srv"
        ip netns exec "$A" python3 "$WORK/peer.py" client "$addr" || die "$mode: IPv$fam connection failed"
        wait "$srv"
    done
    sleep 1 # the last ACK, and tcpdump reading its buffer on a busy machine
    kill -INT "$dump"; wait "$dump" || true
    # tcpdump's closing lines: every packet the filter received must be in the file.
    local captured received
    captured=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump")
    received=$(awk '/packets received by filter/ {print $1}' "$WORK/tcpdump")
    [[ -n $captured && $captured == "$received" ]] || return 1
    echo "tunnel-captures: $mode.pcap ($n connection(s), $captured frames)" >&2
}

MODES=(vxlan vxlan6 gre gre-csum-key-seq gretap ip6gre ip6gretap ipip sit ip6ip6 ipip6
       geneve geneve6-options erspan-ii erspan-iii ip6erspan gre-in-udp fou-ipip gue
       eoip etherip eoipv6 aruba pptp wccp mpls-gre mpls-udp ayiya teredo gtp-u lisp
       vxlan-gpe l2tp)
declare -A FAMILIES=([ipip]=4 [ipip6]=4 [sit]=6 [ip6ip6]=6 [teredo]=6 [fou-ipip]=4
                     [pptp]=4 [wccp]=4 [l2tp]=4 [mpls-gre]=4 [mpls-udp]=4)
[[ $# -gt 0 ]] && MODES=("$@")
mkdir -p "$OUT"
for mode in "${MODES[@]}"; do
    for try in 1 2 3 0; do
        [[ $try == 0 ]] && die "$mode: tcpdump lost frames three times"
        capture "$mode" "${FAMILIES[$mode]:-46}" && break
        echo "tunnel-captures: $mode: tcpdump lost frames, again" >&2
    done
done
cleanup

# --- tshark's view -------------------------------------------------------------------------
{
    echo "# tshark $(tshark -v 2>/dev/null | head -1 | awk '{print $3}'): frames whose TCP header has the SYN flag"
    echo "# (tshark -r F -Y tcp.flags.syn==1 -T fields -e frame.number -e tcp.flags); 'none' when there are none"
    echo -e "# capture\tframe\ttcp.flags"
    for f in "$OUT"/*.pcap; do
        name=$(basename "$f")
        rows=$(tshark -n -r "$f" -Y 'tcp.flags.syn==1' -T fields -e frame.number -e tcp.flags 2>/dev/null)
        if [[ -z $rows ]]; then echo -e "$name\tnone\tnone"; else sed "s|^|$name\t|" <<<"$rows"; fi
    done
} >"$OUT/syns.tsv"
{
    echo -e "capture\tframes\ttshark SYN frames\ttshark protocols of the first SYN"
    for f in "$OUT"/*.pcap; do
        name=$(basename "$f")
        frames=$(tshark -n -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
        syns=$(tshark -n -r "$f" -Y 'tcp.flags.syn==1' -T fields -e frame.number 2>/dev/null | wc -l)
        proto=$(tshark -n -r "$f" -Y 'tcp.flags.syn==1' -T fields -e frame.protocols 2>/dev/null | head -1)
        echo -e "$name\t$frames\t$syns\t${proto:--}"
    done
} >"$WORK/table.tsv"
cat "$WORK/table.tsv"
cp "$WORK/table.tsv" "$OUT/tshark-view.tsv"
