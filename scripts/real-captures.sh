#!/usr/bin/env bash
# Regenerate testdata/real/*: real captures of the Linux TCP stack.
#
#   sudo scripts/real-captures.sh            everything: the four captures below, then every
#                                            group of scripts/real/make.py (--list names them)
#   sudo scripts/real-captures.sh legacy     only the four captures below
#   sudo scripts/real-captures.sh GROUP...   only those make.py groups
#
# Every capture NAME gets NAME.expect.tsv and NAME.expect.md (scripts/real/expect.py, the
# expected account from tshark's fields), and testdata/real/README.md is rebuilt from all
# the .expect.md notes (scripts/real/readme.py).  The rest of this comment is about the
# four captures made here; scripts/real/make.py documents its own.
#
# Two network namespaces joined by a veth pair:
#     pr3c (client) pr3-veth-c 10.99.0.1/24  <---->  pr3-veth-s 10.99.0.2/24 pr3s (server)
# tcpdump runs inside prs on veth-s.  No traffic leaves the two namespaces.
# Each capture gets freshly created namespaces, so no TIME_WAIT survives
# from one capture to the next.  The Python peers are written to a temp dir.
#
# Captures (see testdata/real/README.md and NAME.expect.md):
#   linux-tw-ts-on.pcap           timestamps on, reuse accepted in TIME_WAIT
#   linux-tw-ts-off-bigxfer.pcap  timestamps off, SYN answered by a bare ACK,
#                                 client RST kills TIME_WAIT, SYN retransmit gets in
#   linux-tw-never-let-in.pcap    as above but tcp_rfc1337=1 on the server:
#                                 TIME_WAIT survives the RSTs, client gives up
#   linux-refused.pcap            connect to a closed port -> RST/ACK
#
# Needs root, ip, tcpdump, tshark, editcap, mergecap, nft (nftables), python3.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/testdata/real"

LEGACY=1 MAKE_GROUPS=()
if [[ $# -gt 0 ]]; then
    LEGACY=0
    for a in "$@"; do
        if [[ $a == legacy ]]; then LEGACY=1; else MAKE_GROUPS+=("$a"); fi
    done
fi

CNS=pr3c SNS=pr3s
CIF=pr3-veth-c SIF=pr3-veth-s
CIP=10.99.0.1 SIP=10.99.0.2
CPORT=40001          # fixed client source port, reused on purpose
SPORT=8110           # server port
CLOSED_PORT=8111     # nothing listens here
GREETING="hello from prs"

BIG_XFER=$((16 * 1024 * 1024))   # capture 2: client->server bytes on the first connection
BIG_GAP=0.5                      # capture 2: pause between close and re-connect (s)
MID_XFER=$((192 * 1024))         # capture 3: client->server bytes (full snaplen, so kept small)
MAX_TRIES=3

die() { echo "real-captures: $*" >&2; exit 1; }
log() { echo "real-captures: $*" >&2; }

[[ $EUID -eq 0 ]] || die "must run as root (network namespaces, tcpdump)"
for t in ip tcpdump tshark editcap mergecap nft python3; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done

WORK=$(mktemp -d /tmp/real-captures.XXXXXX)
BG_PIDS=()

ns_del() {
    ip netns del "$CNS" 2>/dev/null || true
    ip netns del "$SNS" 2>/dev/null || true
}

cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    ns_del
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local p keep=()
    for p in "${BG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- peers ----
cat >"$WORK/peer.py" <<'PY'
"""Tiny TCP peers for scripts/real-captures.sh (run inside the namespaces)."""
import argparse, errno, socket, sys, time

def server(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.ip, a.port))
    ls.listen(16)
    with open(a.ready, "w") as f:
        f.write("ready\n")
    while True:
        c, _ = ls.accept()
        got = 0                      # read exactly --sink bytes (never close with
        while got < a.sink:          # unread data: that would send RST, not FIN)
            b = c.recv(min(1 << 20, a.sink - got))
            if not b:
                break
            got += len(b)
        c.sendall(a.greeting.encode() + b"\n")
        c.close()                    # server closes first -> server holds TIME_WAIT

def client(a):
    t0 = time.monotonic()
    payload = b"x" * a.send
    for i in range(1, a.count + 1):
        if i > 1:
            time.sleep(a.gap)
        start = time.monotonic()
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a.ip, a.sport))  # the same source port every time
            if a.timeout:
                s.settimeout(a.timeout)
            try:
                s.connect((a.dst, a.port))
                err = None
                break
            except OSError as e:
                s.close()
                # the previous incarnation may still be in LAST_ACK for a few
                # microseconds; wait for its final ACK and try again
                if e.errno == errno.EADDRNOTAVAIL and time.monotonic() - start < 2:
                    time.sleep(0.001)
                    continue
                err = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
                break
        took = time.monotonic() - start
        if err:
            print(f"connection {i}: connect() failed {err} after {took:.3f}s "
                  f"(started at t={start - t0:.3f}s)", flush=True)
            continue
        print(f"connection {i}: established after {took:.3f}s (started at t={start - t0:.3f}s)",
              flush=True)
        if payload:
            s.sendall(payload)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        print(f"connection {i}: sent {len(payload)} bytes, got {data!r}, closed at "
              f"t={time.monotonic() - t0:.3f}s", flush=True)

p = argparse.ArgumentParser()
p.add_argument("role", choices=["server", "client"])
p.add_argument("--ip", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--dst")
p.add_argument("--sport", type=int)
p.add_argument("--sink", type=int, default=0)
p.add_argument("--send", type=int, default=0)
p.add_argument("--count", type=int, default=1)
p.add_argument("--gap", type=float, default=0)
p.add_argument("--timeout", type=float, default=0)
p.add_argument("--ready")
p.add_argument("--greeting", default="hello")
a = p.parse_args()
server(a) if a.role == "server" else client(a)
PY

# ------------------------------------------------------------- analysis ----
cat >"$WORK/analyze.py" <<'PY'
"""Split the reused 4-tuple of a capture into attempts and check expectations.

attempt = a SYN without ACK carrying one ISN; retransmissions with the same
ISN belong to it.  Prints a frame table, and with --readme a README line."""
import json, subprocess, sys

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

def frames(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-o", "tcp.relative_sequence_numbers:FALSE", "-T", "fields",
         "-E", "separator=\t", "-e", "frame.number", "-e", "frame.time_relative",
         "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport",
         "-e", "tcp.flags", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.len"],
        check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split("\t")
        yield dict(no=int(f[0]), t=float(f[1]), src=f"{f[2]}:{f[3]}", dst=f"{f[4]}:{f[5]}",
                   flags=int(f[6], 16), seq=int(f[7]), ack=int(f[8] or 0), len=int(f[9]))

def fl(x):
    return "".join(n for b, n in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."))
                   if x & b) or "-"

def analyze(path, client):
    attempts, cur, ctl = [], None, []
    for f in frames(path):
        from_client = f["src"] == client
        if client not in (f["src"], f["dst"]):
            continue
        x, role = f["flags"], None
        if from_client and x & SYN and not x & ACK:
            cur = next((a for a in attempts if a["isn"] == f["seq"]), None)
            if cur is None:
                cur = dict(n=len(attempts) + 1, isn=f["seq"], syn=[], synack=[], challenge=[],
                           client_rst=[], server_rst=[], fin=[], server_isn=None)
                attempts.append(cur)
                role = "SYN"
            else:
                role = "SYN retransmission"
            cur["syn"].append(f["no"])
        elif cur is None:
            continue
        elif not from_client and x & SYN and x & ACK and f["ack"] == (cur["isn"] + 1) % 2**32:
            cur["synack"].append(f["no"]); cur["server_isn"] = f["seq"]; role = "SYN-ACK"
        elif not from_client and x & RST:
            cur["server_rst"].append(f["no"]); role = "RST from server"
        elif from_client and x & RST:
            cur["client_rst"].append(f["no"]); role = "RST from client"
        elif x & FIN:
            cur["fin"].append(f["no"]); role = "FIN from " + ("client" if from_client else "server")
            if not from_client:
                cur["server_fin_seq"] = f["seq"]
        elif not from_client and not cur["synack"] and x == ACK and f["len"] == 0:
            cur["challenge"].append(f["no"]); role = "bare ACK answering the SYN"
        elif from_client and x == ACK and f["len"] == 0 and cur["server_isn"] is not None \
                and f["ack"] == (cur["server_isn"] + 1) % 2**32 and f["seq"] == (cur["isn"] + 1) % 2**32 \
                and not cur.get("hs_ack"):
            cur["hs_ack"] = f["no"]; role = "handshake ACK"
        elif x == ACK and f["len"] == 0 and len(cur["fin"]) >= 2 and not cur.get("last_ack"):
            cur["last_ack"] = f["no"]; role = "last ACK (after both FINs)"
        if role:
            ctl.append(dict(f, role=role, attempt=cur["n"]))
    for a in attempts:
        a["outcome"] = ("established" if a["synack"] else "refused" if a["server_rst"]
                        else "challenge_ack" if a["challenge"] else "unanswered")
    # TIME_WAIT recycle: Linux gives the new incarnation ISN = old snd_nxt + 65535 + 2
    for prev, a in zip(attempts, attempts[1:]):
        if a["server_isn"] is not None and prev.get("server_fin_seq") is not None:
            a["isn_from_tw"] = a["server_isn"] == (prev["server_fin_seq"] + 1 + 65537) % 2**32
    return attempts, ctl

def check(kind, attempts):
    o = [a["outcome"] for a in attempts]
    if kind == "ts-on":
        return (len(attempts) == 4 and o == ["established"] * 4
                and all(len(a["syn"]) == 1 and not a["challenge"] and not a["client_rst"] for a in attempts))
    if kind == "bigxfer":
        if len(attempts) != 2 or o != ["established"] * 2:
            return False
        a = attempts[1]
        return (len(a["syn"]) >= 2 and a["challenge"] and a["client_rst"]
                and a["syn"][0] < a["challenge"][0] < a["client_rst"][0] < a["syn"][1] < a["synack"][0])
    if kind == "never":
        return (len(attempts) == 2 and o == ["established", "challenge_ack"]
                and len(attempts[1]["challenge"]) >= 2)
    if kind == "refused":
        return len(attempts) == 1 and o == ["refused"]
    raise SystemExit(f"unknown kind {kind}")

def nums(xs):
    return ",".join(map(str, xs)) if xs else "none"

SHORT = {"SYN": "SYN", "SYN retransmission": "SYN retransmission", "SYN-ACK": "SYN-ACK",
         "bare ACK answering the SYN": "bare ACK", "RST from client": "RST (client)",
         "RST from server": "RST/ACK (server)"}

def readme_line(name, how, attempts, ctl, client_log):
    parts = []
    for a in attempts:
        ev = [c for c in ctl if c["attempt"] == a["n"] and c["role"] in SHORT]
        t0 = ev[0]["t"]
        words = []
        for i, c in enumerate(ev):
            w = f"{SHORT[c['role']]} {c['no']}"
            if c["role"] == "SYN retransmission":
                w += f" (+{(c['t'] - t0) * 1000:.0f} ms)"
            if c["role"].startswith("SYN") and c["role"] != "SYN-ACK" and (
                    i + 1 == len(ev) or ev[i + 1]["role"].startswith("SYN retrans")):
                w += " unanswered"
            words.append(w)
        s = f"#{a['n']} (ISN {a['isn']}): " + ", ".join(words)
        if a.get("isn_from_tw"):
            s += " (server ISN = previous incarnation's snd_nxt + 65537)"
        if a["synack"]:
            dt = next(c["t"] for c in ev if c["role"] == "SYN-ACK") - t0
            s += f" -> established" + (f" {dt * 1000:.1f} ms after its first SYN" if dt > 0.001 else "")
        else:
            s += f" -> {a['outcome']}"
        parts.append(s)
    return (f"- `{name}`: {how} On 10.99.0.1:40001: {len(attempts)} attempt(s): "
            + "; ".join(parts) + ". Client: " + "; ".join(client_log) + ".")

def main():
    kind, path, client = sys.argv[1], sys.argv[2], sys.argv[3]
    attempts, ctl = analyze(path, client)
    if len(sys.argv) > 4 and sys.argv[4] == "--readme":
        how = sys.argv[5]
        clog = [l.split(" (started")[0].strip() for l in open(sys.argv[6])
                if "established after" in l or "failed" in l]
        print(readme_line(path.rsplit("/", 1)[-1], how, attempts, ctl, clog))
        return
    for c in ctl:
        print(f"  #{c['attempt']} frame {c['no']:>5} t={c['t']:.6f} {c['src']:>16} -> {c['dst']:<16} "
              f"{fl(c['flags']):<4} seq={c['seq']:<10} ack={c['ack']:<10} len={c['len']:<6} {c['role']}")
    for a in attempts:
        print("  attempt " + json.dumps({k: v for k, v in a.items()}))
    ok = check(kind, attempts)
    print(f"  expectation '{kind}': {'OK' if ok else 'NOT MET'}")
    sys.exit(0 if ok else 1)

main()
PY

# ------------------------------------------------------------ plumbing -----
ns_setup() {
    ns_del
    ip netns add "$CNS"
    ip netns add "$SNS"
    ip link add "$CIF" netns "$CNS" type veth peer name "$SIF" netns "$SNS"
    local ns
    for ns in "$CNS" "$SNS"; do
        # no IPv6 link-local chatter (the capture filter is "tcp" anyway)
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
        ip -n "$ns" link set lo up
    done
    ip -n "$CNS" addr add "$CIP/24" dev "$CIF"
    ip -n "$SNS" addr add "$SIP/24" dev "$SIF"
    ip -n "$CNS" link set "$CIF" up
    ip -n "$SNS" link set "$SIF" up
}

# ns_sysctl NS key=value...
ns_sysctl() {
    local ns=$1; shift
    local kv
    for kv in "$@"; do ip netns exec "$ns" sysctl -qw "$kv"; done
}

wait_for() {   # wait_for DESCRIPTION COMMAND...  (up to 10 s)
    local what=$1 i; shift
    for ((i = 0; i < 200; i++)); do
        if "$@"; then return 0; fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

SERVER_PID= TCPDUMP_PID= DROPPED=unknown
start_server() {   # start_server SINK_BYTES
    rm -f "$WORK/server.ready"
    ip netns exec "$SNS" python3 "$WORK/peer.py" server --ip "$SIP" --port "$SPORT" \
        --sink "$1" --greeting "$GREETING" --ready "$WORK/server.ready" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    BG_PIDS+=("$SERVER_PID")
    wait_for "server" test -f "$WORK/server.ready"
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    forget_pid "$SERVER_PID"
    SERVER_PID=
}

start_capture() {   # start_capture FILE SNAPLEN
    : >"$WORK/tcpdump.log"
    # --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over
    # only when a block fills or its 1 s timeout expires, and whatever sits in
    # the current block when SIGINT arrives is lost (seen: whole connections
    # missing from the file).
    ip netns exec "$SNS" tcpdump -i "$SIF" -U --immediate-mode -B 8192 -n -Z root \
        -s "$2" -w "$1" tcp 2>"$WORK/tcpdump.log" &
    TCPDUMP_PID=$!
    BG_PIDS+=("$TCPDUMP_PID")
    wait_for "tcpdump" grep -q "listening on" "$WORK/tcpdump.log"
    sleep 0.2
}

stop_capture() {
    sleep 1                        # let the last segments arrive and be flushed
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    forget_pid "$TCPDUMP_PID"
    TCPDUMP_PID=
    grep -E "packets (captured|dropped)" "$WORK/tcpdump.log" | sed 's/^/    tcpdump: /' >&2 || true
    DROPPED=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$WORK/tcpdump.log")
    DROPPED=${DROPPED:-unknown}
    [[ $DROPPED == 0 ]] || log "tcpdump dropped $DROPPED packets"
}

client() {   # client LOGFILE ARGS...
    local logf=$1; shift
    ip netns exec "$CNS" python3 "$WORK/peer.py" client --ip "$CIP" --sport "$CPORT" \
        --dst "$SIP" "$@" >"$logf" 2>&1
    sed 's/^/    client: /' "$logf" >&2
}

sysctl_summary() {   # sysctl_summary NS
    local k v out=()
    for k in tcp_timestamps tcp_rfc1337 tcp_syn_retries tcp_syn_linear_timeouts tcp_invalid_ratelimit; do
        v=$(ip netns exec "$1" sysctl -n "net.ipv4.$k" 2>/dev/null) || continue
        out+=("$k=$v")
    done
    echo "${out[*]}"
}

declare -A HOW
README_LINES=()

# run_capture NAME KIND SNAPLEN BODY_FUNCTION
run_capture() {
    local name=$1 kind=$2 snap=$3 body=$4 try
    for ((try = 1; try <= MAX_TRIES; try++)); do
        log "$name (try $try)"
        ns_setup
        local tmp="$WORK/$name"
        rm -f "$tmp"
        DROPPED=unknown
        "$body" "$tmp" "$snap"
        if [[ $DROPPED == 0 ]] &&
            python3 "$WORK/analyze.py" "$kind" "$tmp" "$CIP:$CPORT" >"$WORK/$name.check"; then
            sed 's/^/  /' "$WORK/$name.check" >&2
            local how="${HOW[$kind]} Effective sysctls: client ns $(sysctl_summary "$CNS"); server ns $(sysctl_summary "$SNS")."
            README_LINES+=("$(python3 "$WORK/analyze.py" "$kind" "$tmp" "$CIP:$CPORT" --readme \
                "$how" "$WORK/$name.client")")
            mv -f "$tmp" "$STAGE/$name"    # published with the README at the very end
            ns_del
            return 0
        fi
        [[ -f $WORK/$name.check ]] && sed 's/^/  /' "$WORK/$name.check" >&2
        rm -f "$WORK/$name.check"
        log "$name: expected pattern not seen, retrying"
        ns_del
    done
    die "$name: expected pattern not seen after $MAX_TRIES tries"
}

# ------------------------------------------------------------ captures -----
HOW[ts-on]="tcp_timestamps=1 in both namespaces, full snaplen. Server $SIP:$SPORT accepts, sends \"$GREETING\\n\" and closes first (server holds TIME_WAIT); client binds $CIP:$CPORT (SO_REUSEADDR), reads to EOF, closes, waits 1 s and reconnects from the same port, 4 connections in all. Linux accepts each SYN in TIME_WAIT (ISN advanced, TSval advanced: RFC 6191)."
cap_ts_on() {
    ns_sysctl "$CNS" net.ipv4.tcp_timestamps=1
    ns_sysctl "$SNS" net.ipv4.tcp_timestamps=1 net.ipv4.tcp_rfc1337=0
    start_server 0
    start_capture "$1" "$2"
    client "$WORK/linux-tw-ts-on.pcap.client" --port "$SPORT" --count 4 --gap 1
    stop_capture
    stop_server
}

HOW[bigxfer]="tcp_timestamps=0 in both namespaces, snaplen 96 (headers only: the payload is cut, frame lengths stay real). Client binds $CIP:$CPORT, sends $BIG_XFER bytes to $SIP:$SPORT, server reads them, sends \"$GREETING\\n\" and closes first; client reads to EOF, closes, waits ${BIG_GAP} s and reconnects from the same port with the same payload. The client's ISN clock (64 ns per tick, ~15.6 MB/s) has not caught up with the $BIG_XFER bytes it sent, so the new ISN is not after the server's TIME_WAIT rcv_nxt: TIME_WAIT answers the SYN with a bare ACK, the client's SYN_SENT answers that with RST (seq = its ack), which kills TIME_WAIT (tcp_rfc1337=0), and the client's SYN retransmission (fired ~10 ms later, not after the 1 s RTO: Linux re-arms the SYN timer at TCP_TIMEOUT_MIN after an unacceptable ACK in SYN_SENT) reaches the listener and gets a SYN-ACK."
cap_bigxfer() {
    ns_sysctl "$CNS" net.ipv4.tcp_timestamps=0
    ns_sysctl "$SNS" net.ipv4.tcp_timestamps=0 net.ipv4.tcp_rfc1337=0
    start_server "$BIG_XFER"
    start_capture "$1" "$2"
    client "$WORK/linux-tw-ts-off-bigxfer.pcap.client" --port "$SPORT" --count 2 \
        --gap "$BIG_GAP" --send "$BIG_XFER"
    stop_capture
    stop_server
}

HOW[never]="tcp_timestamps=0 in both namespaces, tcp_rfc1337=1 in the server namespace, tcp_syn_retries=2 in the client namespace, full snaplen. Client binds $CIP:$CPORT, sends $MID_XFER bytes to $SIP:$SPORT, server reads them, sends \"$GREETING\\n\" and closes first; the client closes and reconnects from the same port at once (~1 ms later; its ISN clock advanced far less than $MID_XFER bytes). TIME_WAIT answers each SYN with a bare ACK; the client's RSTs are ignored (rfc1337=1) so TIME_WAIT survives; the fast SYN retransmission ~10 ms after the first RST gets no answer at all (TIME_WAIT's out-of-window ACK rate limit, tcp_invalid_ratelimit=500 ms); the kernel gives up after syn_retries + syn_linear_timeouts retransmissions (1 s linear timeouts, then exponential) and connect() fails with ETIMEDOUT."
cap_never() {
    ns_sysctl "$CNS" net.ipv4.tcp_timestamps=0 net.ipv4.tcp_syn_retries=2
    ns_sysctl "$SNS" net.ipv4.tcp_timestamps=0 net.ipv4.tcp_rfc1337=1
    start_server "$MID_XFER"
    start_capture "$1" "$2"
    client "$WORK/linux-tw-never-let-in.pcap.client" --port "$SPORT" --count 2 --gap 0 \
        --send "$MID_XFER" --timeout 60
    stop_capture
    stop_server
}

HOW[refused]="tcp_timestamps=1 in both namespaces, full snaplen. Client binds $CIP:$CPORT and connects to $SIP:$CLOSED_PORT where nothing listens; the server kernel answers RST/ACK (ack = ISN+1) and connect() fails with ECONNREFUSED."
cap_refused() {
    ns_sysctl "$CNS" net.ipv4.tcp_timestamps=1
    ns_sysctl "$SNS" net.ipv4.tcp_timestamps=1
    start_capture "$1" "$2"
    client "$WORK/linux-refused.pcap.client" --port "$CLOSED_PORT" --count 1
    stop_capture
}

STAGE="$WORK/out"
mkdir -p "$OUT" "$STAGE"
if [[ $LEGACY == 1 ]]; then
    run_capture linux-tw-ts-on.pcap          ts-on   262144 cap_ts_on
    run_capture linux-tw-ts-off-bigxfer.pcap bigxfer 96     cap_bigxfer
    run_capture linux-tw-never-let-in.pcap   never   262144 cap_never
    run_capture linux-refused.pcap           refused 262144 cap_refused

    # publish the four together, then describe each (NAME.expect.tsv / .expect.md)
    chmod 644 "$STAGE"/*
    mv -f "$STAGE"/* "$OUT"/
    common="Made by the first part of \`scripts/real-captures.sh\` on Linux $(uname -r) with $(tcpdump --version 2>&1 | head -1): two network namespaces joined by a veth pair, client \`$CNS\` $CIP, server \`$SNS\` $SIP; tcpdump runs in the server namespace on \`$SIF\` with \`-U --immediate-mode\` and the filter \`tcp\`. Whenever a connection gets established the server closes first, so the server holds TIME_WAIT. Capturing on the receiving veth shows GSO/GRO super-segments (up to ~64 KB of payload per frame)."
    for line in "${README_LINES[@]}"; do
        name=${line#- \`}; name=${name%%\`*}
        rest=${line#*\`: }
        printf '%s %s\n' "$common" "${rest%% On $CIP:$CPORT: *}" >"$WORK/$name.how"
        printf 'As the script recorded it: on %s:%s: %s\n' "$CIP" "$CPORT" "${rest#* On $CIP:$CPORT: }" >"$WORK/$name.kernel"
        python3 "$REPO/scripts/real/make.py" --describe "$name" --class C \
            --how-file "$WORK/$name.how" --kernel-file "$WORK/$name.kernel"
    done
fi
if [[ $LEGACY == 1 && $# -eq 0 ]]; then
    python3 "$REPO/scripts/real/make.py"
elif [[ ${#MAKE_GROUPS[@]} -gt 0 ]]; then
    python3 "$REPO/scripts/real/make.py" "${MAKE_GROUPS[@]}"
fi

log "done:"
ls -l "$OUT" >&2
