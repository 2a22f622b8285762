"""Make the real-kernel captures of testdata/real/ (run as root; scripts/real-captures.sh
calls this).

    make.py [--list] [--keep-going] [GROUP...]     (default: all groups)

Each group builds fresh network namespaces (prefix pr3, addresses 10.93.N.0/24 and
fd93::N:0/64), runs real Linux TCP peers (scripts/real/peer.py) and, where a behaviour
needs it, raw-socket senders (scripts/real/raw.py) and nftables rules, captures with
tcpdump, and writes for every capture NAME:
    testdata/real/NAME                 the capture
    testdata/real/NAME.expect.tsv      one row per connection attempt (scripts/real/expect.py)
    testdata/real/NAME.expect.md       how it was made, what the kernel did, tshark's account
then re-writes testdata/real/README.md from all the .expect.md files (readme.py).  A group
whose result does not show the behaviour it was made for is run again (up to 3 times).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kit import *  # noqa: E402,F401,F403
import lab as L  # noqa: E402
from kit import GROUPS, Lab, Output, group, need, outcomes, std_how, editcap, mergecap, log, main  # noqa


REQ = "send:@HELO pr3\\n"
SERVER_FIRST_CLOSE = "recv,send:@250 hello from pr3s\\n,close"
CLIENT_TO_EOF = REQ + ",recv-eof,close"


# ------------------------------------------------------------------------- class A --
@group("dup", "A1", ["dup-bridge-all.pcap", "dup-bridge-syns.pcap", "dup-appended.pcap"])
def g_dup(d):
    with Lab(tag="1", bridge=True, net=1) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script=SERVER_FIRST_CLOSE)
        pc, ps = os.path.join(d, "port-c.pcap"), os.path.join(d, "port-s.pcap")
        pss = os.path.join(d, "port-s-syns.pcap")
        t1 = lab.tcpdump("b", "pr3-bp-c1", pc, snap=128)
        t2 = lab.tcpdump("b", "pr3-bp-s1", ps, snap=128)
        t3 = lab.tcpdump("b", "pr3-bp-s1", pss, snap=128,
                         filt="tcp and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, count=3, gap=1,
                   script=CLIENT_TO_EOF)
        lab.client(name="client-refused", dst=lab.sip, port=SPORT + 1, sport=40002,
                   script=CLIENT_TO_EOF)
        for t in (t1, t2, t3):
            lab.stop_tcpdump(t)
        how0 = std_how(lab, (
            f"The server ({lab.sip}:{SPORT}, peer.py script `{SERVER_FIRST_CLOSE}`) reads the "
            "request, answers one line and closes first, so it holds TIME_WAIT. The client "
            f"binds {lab.cip}:40001 with SO_REUSEADDR and connects 3 times 1 s apart "
            f"(`{CLIENT_TO_EOF}`), then once from 40002 to the closed port {SPORT + 1}. "
            "tcpdump -s 128 runs in the bridge namespace on both bridge ports "
            f"(`tcpdump -i pr3-bp-c1` and `tcpdump -i pr3-bp-s1`, filter `tcp`): every frame "
            "crosses both, so each is captured twice, a few microseconds apart, with the same "
            "IP ID: what a span port mirroring both switch ports gives."))
        kernel = ("Timestamps on: Linux accepts each reused SYN in TIME_WAIT (RFC 6191: the "
                  "timestamp advanced), so all three connections from 40001 are established "
                  "with one SYN each, and the SYN to the closed port gets RST/ACK.")
        all_ = os.path.join(d, "dup-bridge-all.pcap")
        mergecap("-F", "pcap", "-w", all_, pc, ps)
        syns = os.path.join(d, "dup-bridge-syns.pcap")
        mergecap("-F", "pcap", "-w", syns, pc, pss)
        app = os.path.join(d, "dup-appended.pcap")
        mergecap("-F", "pcap", "-a", "-w", app, pc, pc)
        n_once = len(frames_of(pc))

    def chk(rows, dup_expected):
        need(outcomes(rows) == ["established"] * 3 + ["refused"], outcomes(rows))
        need([r["time_wait_holder"] for r in rows] == ["-", "server", "server", "-"], rows)

    def chk_all(rows):
        chk(rows, None)

    outs = [
        Output("dup-bridge-all.pcap", all_, "A1", how0 + " `mergecap -F pcap -w "
               "dup-bridge-all.pcap port-c.pcap port-s.pcap`.", kernel
               + f" The capture holds every frame twice ({n_once} frames on each port).",
               check=chk_all),
        Output("dup-bridge-syns.pcap", syns, "A1", how0 + " The second tcpdump on pr3-bp-s1 "
               "kept only SYNs without ACK (filter `tcp and tcp[tcpflags] & (tcp-syn|tcp-ack) "
               "== tcp-syn`); `mergecap -F pcap -w dup-bridge-syns.pcap port-c.pcap "
               "port-s-syns.pcap`: each SYN appears twice, everything else once.", kernel,
               check=chk_all),
        Output("dup-appended.pcap", app, "A1", how0 + " Only the capture on pr3-bp-c1 is used, "
               "appended to itself: `mergecap -F pcap -a -w dup-appended.pcap port-c.pcap "
               f"port-c.pcap`. Frames {n_once + 1}..{2 * n_once} repeat frames 1..{n_once} "
               "exactly, timestamps included, so time jumps back at frame "
               f"{n_once + 1}.", kernel + " The second half of the file is a copy of the first: "
               "it adds no attempt and no reuse (an exact copy anywhere in the file is a "
               "duplicate).", check=chk_all),
    ]
    return outs



def drop_first_syns(lab, side, match, n, name="dropsyn"):
    """An nftables rule that drops SYNs matching `match` until its counter reaches n, then is
    deleted (a watcher polls the counter every 10 ms)."""
    lab.nft(side, f"""
table inet pr3 {{
    chain in {{
        type filter hook input priority 0; policy accept;
        {match} tcp flags & (syn|ack) == syn counter drop comment "{name}"
    }}
}}
""")

    def watch():
        import re
        while True:
            txt = lab.nft_cmd(side, "-a", "list", "chain", "inet", "pr3", "in")
            for line in txt.splitlines():
                if f'comment "{name}"' in line:
                    pk = int(re.search(r"packets (\d+)", line).group(1))
                    h = re.search(r"# handle (\d+)", line).group(1)
                    if pk >= n:
                        lab.nft_cmd(side, "delete", "rule", "inet", "pr3", "in", "handle", h)
                        return pk
            time.sleep(0.01)
    import threading
    th = threading.Thread(target=watch, daemon=True)
    th.start()
    return th


def input_drop(lab, side, match, table="pr3keep"):
    lab.nft(side, f"""
table inet {table} {{
    chain in {{
        type filter hook input priority 0; policy accept;
        {match} drop
    }}
}}
""")


def netstat(lab, side, keys):
    """TcpExt counters of a namespace (/proc/net/netstat)."""
    txt = lab.run_ns(lab.c if side == "c" else lab.s, ["cat", "/proc/net/netstat"])
    lines = txt.splitlines()
    vals = {}
    for h, v in zip(lines[::2], lines[1::2]):
        for k, x in zip(h.split()[1:], v.split()[1:]):
            vals[k] = x
    return {k: vals.get(k, "?") for k in keys}


@group("same-isn", "A2", ["win-same-isn-later.pcap"])
def g_same_isn(d):
    with Lab(tag="2", net=2) as lab:
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        # the client namespace's own kernel must not answer the raw client's SYN-ACK
        input_drop(lab, "c", "tcp dport { 49201, 49202 }")
        cap = os.path.join(d, "win-same-isn-later.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        t0 = time.monotonic()
        wa = lab.raw(name="win-a", background=True, args=[
            "winclient", "--src", lab.cip, "--sport", "49201", "--dst", lab.sip, "--dport",
            "8111", "--at", "0,0.5,1.0,13.0", "--isn", "3000000001", "--iface", lab.cif,
            "--linger", "3"])
        time.sleep(0.75)
        # the third SYN gets no answer: a firewall rule in the server namespace drops it
        lab.nft("s", """
table inet pr3 {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp sport { 49201, 49202 } tcp flags & (syn|ack) == syn drop comment "third"
    }
}
""")
        time.sleep(0.75)
        lab.nft_cmd("s", "flush", "chain", "inet", "pr3", "in")
        wa.wait()
        lab.procs.remove(wa)
        t1 = time.monotonic() - t0
        wb = lab.raw(name="win-b", background=True, args=[
            "winclient", "--src", lab.cip, "--sport", "49202", "--dst", lab.sip, "--dport",
            "8112", "--at", "0,0.5,1.0,13.0", "--isn", "3100000001", "--iface", lab.cif,
            "--linger", "3"])
        time.sleep(0.75)
        lab.nft("s", """
table inet pr3 {
    chain in {
        tcp sport 49202 tcp flags & (syn|ack) == syn drop comment "third"
    }
}
""")
        time.sleep(0.75)
        lab.nft_cmd("s", "flush", "chain", "inet", "pr3", "in")
        time.sleep(4)
        # the service on 8112 starts before the fourth SYN
        lab.server(ip=lab.sip, port=8112, script="recv,send:@HTTP/1.0 200 OK\\r\\n\\r\\nhi\\n,close")
        wb.wait()
        lab.procs.remove(wb)
        for p, nm in ((wa, "win-a"), (wb, "win-b")):
            for line in open(p.logname).read().splitlines():
                log(f"  {nm}: {line}")
        time.sleep(3.5)
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            "A raw-socket client (scripts/real/raw.py winclient) emulates the Windows "
            "connect() seen in the field: one ISN, Windows SYN options (MSS 1460, NOP, WS 8, "
            "NOP, NOP, SACK_PERM), TTL 128, window 64240, the same SYN sent at +0, +0.5 s, "
            "+1.0 s and +13.0 s (Windows retries twice about 0.5 s apart after a RST; the "
            "field trace then showed the same ISN again 12 s later). The client namespace "
            "drops its own kernel's view of those ports (`nft ... input tcp dport { 49201, "
            "49202 } drop`) so that it sends no RST of its own; answers are read from an "
            "AF_PACKET socket. Attempt 1: 10.93.2.1:49201 -> 10.93.2.2:8111 (nothing listens). "
            "Attempt 2, after it: 10.93.2.1:49202 -> 10.93.2.2:8112, where peer.py starts "
            "listening (`recv,send:@HTTP/1.0 200 OK...,close`) about 6 s before the fourth "
            "SYN. For each, an nftables rule in the server namespace drops the third SYN "
            "(added between the 2nd and 3rd SYN, flushed before the 4th). tcpdump -s 128 on "
            "the server's veth (it sees the dropped SYN: the capture tap runs before "
            "netfilter)."))
        kernel = (
            "The server kernel answers the 1st and 2nd SYN of each attempt with RST/ACK "
            "(ack = ISN+1: nothing listens), never sees the 3rd (dropped), and answers the "
            "4th, 12 s later with the same ISN, with RST/ACK again on 8111 but with a SYN-ACK "
            "on 8112, where the listener now is; the raw client completes that handshake, "
            "sends a request, gets the reply and the server's FIN, and closes. Expected: two "
            "attempts of four SYNs each (one ISN, one attempt, however late the SYN), the "
            "first refused (port_closed), the second established on its 4th SYN (answered_syn "
            "3) with cause '-': nothing in a TIME_WAIT was involved.")

    def chk(rows):
        need(outcomes(rows) == ["refused", "established"], outcomes(rows))
        need(all(len(r["syn_frames"].split(",")) == 4 for r in rows), rows)
    return [Output("win-same-isn-later.pcap", cap, "A2", how, kernel, check=chk)]


@group("storm", "A3", ["linux-syn-storm-interleaved.pcap"])
def g_storm(d):
    import random
    with Lab(tag="3", net=3) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script="recv,send:@250 hello\\n,recv-eof,close")
        # storm SYNs carry TTL 77 and are always dropped; the real client's first 2 SYNs too
        input_drop(lab, "s", "ip ttl 77 tcp flags & (syn|ack) == syn")
        cap = os.path.join(d, "linux-syn-storm-interleaved.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        watcher = drop_first_syns(lab, "s", "ip ttl 64 tcp dport 8110", 2)
        rng = random.Random(9)
        storm = sorted(round(rng.uniform(0, 2.4), 3) for _ in range(21))
        st = lab.raw(name="storm", background=True, args=[
            "syns", "--src", lab.cip, "--sport", "40001", "--dst", lab.sip, "--dport", "8110",
            "--at", ",".join(map(str, storm)), "--ttl", "77", "--seed", "9"])
        time.sleep(0.5)
        cl = lab.client(background=True, ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001,
                        script="send:@HELO\\n,recv,sleep:3.5,close")
        watcher.join(10)
        # after the handshake (3rd SYN at +2 s): 3 SYNs with new ISNs on the open 4-tuple
        L.wait_for("handshake", lambda: "established" in open(cl.logname).read(), 10)
        time.sleep(0.4)
        op = lab.raw(name="open", args=[
            "syns", "--src", lab.cip, "--sport", "40001", "--dst", lab.sip, "--dport", "8110",
            "--at", "0,0.7,1.4", "--ttl", "64", "--seed", "10"])
        cl.wait()
        lab.procs.remove(cl)
        for line in open(cl.logname).read().splitlines():
            log("  client: " + line)
        st.wait()
        lab.procs.remove(st)
        time.sleep(3.5)
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 (`recv,send:@250 hello\\n,recv-eof,close`: the client "
            "closes first). nftables in the server namespace drops every SYN with TTL 77 and, "
            "through a counted rule deleted once its counter reaches 2, the first two SYNs "
            "with TTL 64 to port 8110. A raw socket in the client namespace (raw.py syns, seed "
            f"9) sends 21 SYNs with random ISNs and TTL 77 from {lab.cip}:40001 to "
            f"{lab.sip}:8110 at seeded random times over 2.4 s: {storm} (s after the storm "
            "start). 0.5 s after the storm starts the real client binds 40001 (SO_REUSEADDR) and "
            "connects (`send:@HELO\\n,recv,sleep:3,close`). About 0.6 s after its handshake the "
            "raw socket sends 3 more SYNs with new random ISNs and TTL 64 on the same, now "
            "open, 4-tuple, 0.7 s apart. tcpdump -s 128 on the server veth."))
        kernel = (
            "The real client's SYN is dropped twice and retransmitted at +1 s and +2 s (Linux "
            "linear SYN timeouts, tcp_syn_linear_timeouts=4); its 3rd SYN reaches the listener "
            "and is answered by a SYN-ACK, interleaved with the storm's SYNs, which never get "
            "an answer. The 3 SYNs sent while the connection is open each get a challenge ACK "
            "from the established socket (RFC 5961 4.2: ack = the connection's rcv_nxt, "
            "unrelated to the new ISN; 0.7 s apart, beyond the 0.5 s per-socket limit). The "
            "client kernel ignores these ACKs (they acknowledge what it sent). Expected: one "
            "established attempt with 3 SYNs (answered_syn 2), 21 unanswered storm attempts "
            "(no_answer: nothing explains them but the dropping firewall), 3 challenge_ack "
            "attempts with cause open_4tuple.")

    def chk(rows):
        o = outcomes(rows)
        need(o.count("established") == 1 and o.count("unanswered") == 21 and
             o.count("challenge_ack") == 3 and len(o) == 25, o)
        est = [r for r in rows if r["outcome"] == "established"][0]
        need(len(est["syn_frames"].split(",")) == 3, est)
        need(all(r["expected_cause"] == "open_4tuple" for r in rows
                 if r["outcome"] == "challenge_ack"), rows)
    return [Output("linux-syn-storm-interleaved.pcap", cap, "A3", how, kernel, check=chk)]


@group("tfo", "A4", ["linux-tfo.pcap"])
def g_tfo(d):
    with Lab(tag="4", net=4) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_fastopen=3")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_fastopen=3")
        lab.server(ip=lab.sip, port=SPORT, tfo=16, script=SERVER_FIRST_CLOSE)
        cap = os.path.join(d, "linux-tfo.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, tfo=1,
                   script=CLIENT_TO_EOF)
        time.sleep(0.5)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40002, tfo=1, count=2, gap=1,
                   script=CLIENT_TO_EOF)
        time.sleep(0.5)
        lab.client(name="client-closed", ip=lab.cip, dst=lab.sip, port=8111, sport=40003,
                   tfo=1, script=CLIENT_TO_EOF)
        time.sleep(3.5)
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 with TCP_FASTOPEN (queue 16), `{SERVER_FIRST_CLOSE}` "
            "(closes first). Client connects with sendto(MSG_FASTOPEN) carrying its 9-byte "
            "request: once from port 40001 (no cookie yet: the SYN asks for one, the SYN-ACK "
            "brings it, the data follows the handshake), then twice from 40002, 1 s apart (the "
            "second reuses the 4-tuple inside the server's TIME_WAIT), then once from 40003 to "
            "the closed port 8111, all with the cookie. tcpdump -s 128 on the server veth."))
        kernel = (
            "Attempt 1: SYN with a TFO cookie request and no data; SYN-ACK with the cookie, "
            "acking ISN+1; the request follows the handshake. Attempts 2 and 3: SYN with the "
            "cookie and the 9 request bytes; the server accepts the data with the SYN and its "
            "SYN-ACK acknowledges ISN+1+9. Attempt 3 lands in TIME_WAIT (timestamps on: "
            "accepted, RFC 6191) and is handled the same. Attempt 4: a SYN with cookie and data "
            "to a closed port; the RST/ACK acknowledges ISN+1+9 (Linux acks the SYN's data "
            "length in its reset). Expected: 3 established (syn_ack), 1 refused (port_closed).")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 3 + ["refused"], outcomes(rows))
        need([r["at"].syn_len for r in rows] == [0, 9, 9, 9], [r["at"].syn_len for r in rows])
    return [Output("linux-tfo.pcap", cap, "A4", how, kernel, check=chk)]


@group("no-synack", "A5", ["linux-synack-not-captured.pcap",
                          "linux-synack-not-captured-unfiltered.pcap"])
def g_no_synack(d):
    with Lab(tag="5", net=5) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script="recv,send:180,close")
        lab.server(name="server-first", ip=lab.sip, port=8025,
                   script="send:@220 pr3s ready\\r\\n,recv,send:@221 bye\\r\\n,close")
        full = os.path.join(d, "full.pcap")
        cap = os.path.join(d, "linux-synack-not-captured.pcap")
        t1 = lab.tcpdump("s", lab.sif, full, snap=128)
        t2 = lab.tcpdump("s", lab.sif, cap, snap=128, filt=(
            "tcp and not (tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack))"))
        get = "send:@GET / HTTP/1.0\\r\\n\\r\\n,recv-eof,close"
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, count=2, gap=1, script=get)
        lab.client(name="client-smtp", ip=lab.cip, dst=lab.sip, port=8025,
                   script="recv,send:@QUIT\\r\\n,recv-eof,close")
        lab.stop_tcpdump(t1)
        lab.stop_tcpdump(t2)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 (`recv,send:180,close`: a 180-byte response, closes "
            "first); server-speaks-first service on 8025 (`send:@220 pr3s ready...,recv,"
            "send:@221 bye...,close`). The client connects twice from 40001, 1 s apart (the "
            "second reuses the 4-tuple in the server's TIME_WAIT; timestamps on, accepted), "
            "with an 18-byte request, reading to EOF; then once from an ephemeral port to 8025, "
            "reading the greeting and sending QUIT. Two tcpdumps -s 128 run side by side on "
            "the server veth: one with filter `tcp` (the truth, not published) and the "
            "published one with `tcp and not (tcp[tcpflags] & (tcp-syn|tcp-ack) == "
            "(tcp-syn|tcp-ack))`: every SYN-ACK is missing, everything else is there."))
        kernel = (
            "All three connections are established normally (the unfiltered capture shows "
            "each SYN-ACK). In the published capture the handshake shows only through what "
            "follows: the client's handshake ACK (acking the server's ISN+1), its request, the "
            "server's ACK of that request (acking beyond the client's ISN+1), the server's "
            "data. Expected: 3 established, established_by server_acked_data (a server "
            "segment acknowledges client data beyond ISN+1; the client's handshake ACK and "
            "data are there too, see notes).")
        truth = Output("linux-synack-not-captured-unfiltered.pcap", full, "A5", how.replace(
            "and the published one with", "and the other one with").replace(
            "(the truth, not published)", "(this file, the truth for the filtered one)"),
            "All three connections are established normally, each with its SYN-ACK. "
            "Expected: 3 established (syn_ack).")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 3, outcomes(rows))
        need([r["established_by"] for r in rows] == ["server_acked_data"] * 3, rows)
        need([r["answer_frame"] for r in rows] == ["-"] * 3, rows)
    return [truth, Output("linux-synack-not-captured.pcap", cap, "A5", how.replace(
        "(the truth, not published)", "(published as linux-synack-not-captured-unfiltered.pcap, "
        "the truth)"), kernel, check=chk, truth=truth)]


@group("synack-first", "A6", ["linux-synack-before-syn.pcap",
                              "linux-synack-before-syn-unshifted.pcap"])
def g_synack_first(d):
    with Lab(tag="6", net=6) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script=SERVER_FIRST_CLOSE)
        pc, ps = os.path.join(d, "client-side.pcap"), os.path.join(d, "server-side.pcap")
        t1 = lab.tcpdump("c", lab.cif, pc, snap=128, filt=f"tcp and src host {lab.cip}")
        t2 = lab.tcpdump("s", lab.sif, ps, snap=128, filt=f"tcp and src host {lab.sip}")
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, count=3, gap=1,
                   script=CLIENT_TO_EOF)
        lab.client(name="client-refused", ip=lab.cip, dst=lab.sip, port=8111, sport=40002,
                   script=CLIENT_TO_EOF)
        lab.stop_tcpdump(t1)
        lab.stop_tcpdump(t2)
        shifted = os.path.join(d, "server-side-shifted.pcap")
        editcap("-t", "-0.1", ps, shifted)
        cap = os.path.join(d, "linux-synack-before-syn.pcap")
        mergecap("-F", "pcap", "-w", cap, pc, shifted)
        tr = os.path.join(d, "truth.pcap")
        mergecap("-F", "pcap", "-w", tr, pc, ps)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 (`{SERVER_FIRST_CLOSE}`); the client connects 3 times from "
            "40001, 1 s apart (reuses in the server's TIME_WAIT, accepted: timestamps on), then "
            "once from 40002 to the closed port 8111. Two capture points, each seeing one "
            f"direction: `tcpdump -s 128` on the client veth with `tcp and src host {lab.cip}` "
            f"and on the server veth with `tcp and src host {lab.sip}`. The server side's clock "
            "is set 100 ms back (`editcap -t -0.1 server-side.pcap server-side-shifted.pcap`) "
            "and the two are merged (`mergecap -F pcap -w linux-synack-before-syn.pcap "
            "client-side.pcap server-side-shifted.pcap`): every server frame sorts about 100 ms "
            "before the client frame it answers."))
        kernel = (
            "Nothing unusual happened on the wire: 3 established connections (one SYN each) "
            "and one RST/ACK for the closed port (the unshifted merge is the truth). In the "
            "published file each SYN-ACK (and the RST/ACK) comes ~100 ms before its SYN, the "
            "server's data and FIN before the request they answer. Expected: 3 established "
            "with established_by syn_ack_before_syn, 1 refused (its RST also precedes the "
            "SYN); the server holds TIME_WAIT after each connection (it closed first).")
        truth = Output("linux-synack-before-syn-unshifted.pcap", tr, "A6", how.split(
            " The server side's clock")[0] + " Merged without a shift (`mergecap -F pcap -w "
            "linux-synack-before-syn-unshifted.pcap client-side.pcap server-side.pcap`): the "
            "truth for the shifted merge.", "3 established connections (one SYN each) and one "
            "RST/ACK for the closed port; the server holds TIME_WAIT after each connection.")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 3 + ["refused"], outcomes(rows))
        need([r["established_by"] for r in rows] == ["syn_ack_before_syn"] * 3 + ["-"], rows)
    return [truth, Output("linux-synack-before-syn.pcap", cap, "A6", how, kernel, check=chk,
                          truth=truth)]


@group("cut", "A7", ["linux-syn-dropped-twice.pcap", "linux-syn-dropped-twice-cut.pcap"])
def g_cut(d):
    with Lab(tag="7", net=7) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script=SERVER_FIRST_CLOSE)
        cap = os.path.join(d, "linux-syn-dropped-twice.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40000, script=CLIENT_TO_EOF)
        time.sleep(0.5)
        w = drop_first_syns(lab, "s", "tcp sport 40001 tcp dport 8110", 2)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, script=CLIENT_TO_EOF)
        w.join(5)
        lab.stop_tcpdump(td)
        fr = frames_of(cap)
        syns = [f.no for f in fr if f.sport == 40001 and f.flags & 0x12 == 0x02]
        cut = os.path.join(d, "linux-syn-dropped-twice-cut.pcap")
        editcap("-r", cap, cut, f"1-{syns[1]}")
        how = std_how(lab, (
            f"Server {lab.sip}:8110 (`{SERVER_FIRST_CLOSE}`). One normal connection from "
            "40000; then an nftables rule in the server namespace (`tcp sport 40001 tcp dport "
            "8110 tcp flags & (syn|ack) == syn counter drop`, deleted by a watcher as soon as "
            "its counter reads 2) drops the first two SYNs from 40001, and the client connects "
            "from 40001. tcpdump -s 128 on the server veth (before netfilter: the dropped SYNs "
            "are in the capture)."))
        kernel = (
            "The client's SYN from 40001 is dropped, retransmitted after 1 s (dropped), and "
            "again after another 1 s (tcp_syn_linear_timeouts=4: the first retransmissions "
            "are 1 s apart); the third SYN gets the SYN-ACK and the connection runs normally. "
            "Expected: 2 established, the second with 3 SYNs (answered_syn 2), cause '-' (the "
            "4-tuple is fresh; the drops are the firewall's).")
        how_cut = how + (f" The cut: `editcap -r linux-syn-dropped-twice.pcap "
                         f"linux-syn-dropped-twice-cut.pcap 1-{syns[1]}` keeps frames up to the "
                         "2nd SYN from 40001: the capture ends right after it, 1 s before the "
                         "3rd SYN was due.")
        kernel_cut = (
            "As in the full capture, but the capture ends at the second SYN from 40001. The "
            "client's next retransmission (1 s later) is not in the capture, so the attempt "
            "cannot be decided: `unknown`, never a failure. Expected: 1 established, 1 "
            "unknown (cause '-').")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 2, outcomes(rows))
        need(len(rows[1]["syn_frames"].split(",")) == 3, rows[1])

    def chk_cut(rows):
        need(outcomes(rows) == ["established", "unknown"], outcomes(rows))
    return [Output("linux-syn-dropped-twice.pcap", cap, "A7", how, kernel, check=chk),
            Output("linux-syn-dropped-twice-cut.pcap", cut, "A7", how_cut, kernel_cut,
                   check=chk_cut)]


@group("flood", "A8", ["linux-syn-flood.pcap.gz"])
def g_flood(d):
    with Lab(tag="8", net=8) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_synack_retries=1",
                   "net.ipv4.tcp_syncookies=1", "net.ipv4.tcp_max_syn_backlog=128")
        lab.run_s(["ip", "route", "add", "10.93.128.0/17", "via", lab.cip])
        lab.server(ip=lab.sip, port=SPORT, backlog=64, script=SERVER_FIRST_CLOSE)
        raw = os.path.join(d, "flood.pcap")
        td = lab.tcpdump("s", lab.sif, raw, snap=96)
        fl = lab.raw(name="flood", background=True, args=[
            "flood", "--srcnet", "10.93", "--dst", lab.sip, "--dport", "8110", "--tuples",
            "2000", "--reuse", "100", "--rate", "1000", "--seed", "8"])
        time.sleep(0.5)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, count=3, gap=0.5, script=CLIENT_TO_EOF)
        fl.wait()
        lab.procs.remove(fl)
        for line in open(fl.logname).read().splitlines():
            log("  flood: " + line)
        time.sleep(3.5)
        lab.stop_tcpdump(td)
        ctr = netstat(lab, "s", ["SyncookiesSent", "ListenOverflows", "ListenDrops",
                                 "TCPReqQFullDoCookies", "TCPReqQFullDrop"])
        cap = os.path.join(d, "linux-syn-flood.pcap.gz")
        sh(f"sh -c 'gzip -9 -n -c {raw} > {cap}'")
        how = std_how(lab, (
            "A raw socket in the client namespace (raw.py flood, seed 8) sends 2,000 SYNs "
            "without options from 2,000 distinct spoofed source ip:port pairs in "
            "10.93.128.0/17 to 10.93.8.2:8110 at 1,000 per second (random ISN, window, TTL "
            "and IP ID), then 100 of those pairs again with a new ISN (ports reused). The "
            "server namespace routes 10.93.128.0/17 back to the client namespace, which drops "
            "the SYN-ACKs (not its addresses, no forwarding). Listener backlog 64, "
            "tcp_max_syn_backlog=128, tcp_syncookies=1, tcp_synack_retries=1. During the flood "
            "the real client makes 3 connections from ephemeral ports 0.5 s apart. tcpdump "
            "-s 96 on the server veth; the file is gzip -9 -n compressed (portreuse and "
            "tshark read it as is)."))
        kernel = (
            "The listener answers the first SYNs with SYN-ACKs from request sockets (each "
            "retransmitted once after 1 s, tcp_synack_retries=1) and, once its SYN queue is "
            "full, with SYN cookies (no state, no retransmission). A SYN with a new ISN on a "
            "4-tuple that still has a request socket is answered with a bare ACK for the old "
            "ISN (tcp_check_req: out-of-window SYN); on a cookie 4-tuple it gets a fresh "
            "SYN-ACK. The real client's 3 connections are established as usual (possibly via "
            "cookies). No spoofed handshake completes, so no attempt reuses a completed "
            f"connection. The server namespace's counters after the run (/proc/net/netstat): "
            + ", ".join(f"{k} {v}" for k, v in ctr.items()) + ".")

    def chk(rows):
        real = [r for r in rows if r["client"].startswith("10.93.8.1:")]
        need(len(real) == 3 and all(r["outcome"] == "established" for r in real), real)
        need(len(rows) == 2103, len(rows))
        need(all(r["previous_connection_end_frame"] == "-" for r in rows), "phantom reuse")
    return [Output("linux-syn-flood.pcap.gz", cap, "A8", how, kernel, check=chk)]


# ------------------------------------------------------------------------- class B --
BIND_REQ = "send:@X400-BIND mta=pr3c pw=secret01\\n"      # 31 bytes
FORMS = {
    # name: (B:102 server script, A client script, description)
    "reject": ("recv,send:@REFUSED 01\\n,close", BIND_REQ + ",recv-eof,close",
               "reads the 31-byte bind request, answers an 11-byte protocol reject "
               "(`REFUSED 01\\n`) and closes (FIN) at once"),
    "rst-before-data": ("rst", "sleep:0.3," + BIND_REQ + ",recv-eof,close",
                        "closes with SO_LINGER {1, 0} right after accept(): a RST before "
                        "the client's first data (the client waits 0.3 s before sending)"),
    "rst-after-data": ("recv,rst", BIND_REQ + ",recv-eof,close",
                       "reads the client's first data, then closes with SO_LINGER {1, 0}: a "
                       "RST right after it"),
    "fin-nodata": ("close", "recv-eof,close",
                   "closes right after accept(): a FIN with no data (the client waits for a "
                   "greeting and gets EOF)"),
}


def asym_run(lab, cap, forms, per_form):
    """A -> B:102 refused in the given forms, B -> A:102 working, A -> B:80 web, A -> B:81
    closed; returns a description of the sequence."""
    td = lab.tcpdump("s", lab.sif, cap, snap=128)
    seq = []
    for form in forms:
        srv, cli, _ = FORMS[form]
        p = lab.server(name=f"b102-{form}", ip=lab.sip, port=102, script=srv)
        lab.client(name=f"a-{form}", dst=lab.sip, port=102, count=per_form, gap=0.2, script=cli)
        lab.stop(p)
        seq.append(f"{per_form} x A -> B:102 ({form})")
        time.sleep(0.2)
    lab.client(name="b-to-a", side="s", dst=lab.cip, port=102, count=3, gap=0.2,
               script="send:@X400-BIND mta=pr3s pw=secret02\\n,recv:120,close")
    seq.append("3 x B -> A:102 (works)")
    time.sleep(0.2)
    lab.client(name="web", dst=lab.sip, port=80, count=2, gap=0.2,
               script="send:@GET / HTTP/1.1\\r\\nHost: b\\r\\n\\r\\n,recv:1500,close")
    seq.append("2 x A -> B:80 (web, works)")
    time.sleep(0.2)
    lab.client(name="closed", dst=lab.sip, port=81, count=2, gap=0.2,
               script="send:@x,recv-eof,close")
    seq.append("2 x A -> B:81 (closed: RST)")
    lab.stop_tcpdump(td)
    return ", then ".join(seq)


@group("asym", "B", ["asym-x400-all-forms.pcap"] + [f"asym-x400-{f}.pcap" for f in FORMS])
def g_asym(d):
    outs = []
    with Lab(tag="9", net=9) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        # A:102 (in A's namespace) works for B; B:80 is a web-like service; B:81 is closed
        lab.server(name="a102", side="c", ip=lab.cip, port=102,
                   script="recv,send:120,recv-eof,close")
        lab.server(name="b80", ip=lab.sip, port=80, script="recv,send:1500,recv-eof,close")
        common = std_how(lab, (
            f"Host A = {lab.cip} (namespace {lab.c}), host B = {lab.sip} (namespace {lab.s}). "
            "Services: on A:102 a peer.py server that reads a request, answers 120 bytes and "
            "waits for the client to close (`recv,send:120,recv-eof,close`); on B:80 a "
            "web-like one (`recv,send:1500,recv-eof,close`: the client reads 1500 bytes and "
            "closes first); nothing on B:81. On B:102 a server that refuses: {forms}. "
            "Clients use ephemeral ports, 0.2 s between connections: A sends a 31-byte "
            "bind request to B:102 (`" + BIND_REQ + "`) and reads to EOF; B sends a bind "
            "request to A:102 and reads the 120-byte answer, then closes; A sends a GET to "
            "B:80, reads 1500 bytes, closes; A connects to B:81. Sequence: {seq}. tcpdump -s 128 "
            "on B's veth."))
        spec = {"refusers": [[lab.sip, 102]]}
        kern = ("TCP accepts every connection to B:102; the application then {what}. A's "
                "connections to B:102 are established and refused by the application "
                "(application_refused), B's to A:102 work (data, client closes first: B holds "
                "TIME_WAIT), the web connections work (client closes first), the SYNs to B:81 "
                "get RST/ACK (port_closed). Expected diagnosis: an asymmetry on port 102, "
                "initiator A (10.93.9.1), refuser B (10.93.9.2), and nothing else: the web "
                "service and the closed port are other ports.")
        for form in FORMS:
            cap = os.path.join(d, f"asym-x400-{form}.pcap")
            seq = asym_run(lab, cap, [form], 3)

            def chk(rows, form=form):
                o = [(r["server"], r["outcome"], r["expected_cause"]) for r in rows]
                need(o == [(f"{lab.sip}:102", "established", "application_refused")] * 3
                     + [(f"{lab.cip}:102", "established", "-")] * 3
                     + [(f"{lab.sip}:80", "established", "-")] * 2
                     + [(f"{lab.sip}:81", "refused", "port_closed")] * 2, o)
            outs.append(Output(f"asym-x400-{form}.pcap", cap, "B",
                               common.replace("{forms}", FORMS[form][2]).replace("{seq}", seq),
                               kern.replace("{what}", FORMS[form][2]), spec=spec, check=chk))
        cap = os.path.join(d, "asym-x400-all-forms.pcap")
        seq = asym_run(lab, cap, list(FORMS), 2)

        def chk_all(rows):
            o = [(r["server"], r["outcome"], r["expected_cause"]) for r in rows]
            need(o == [(f"{lab.sip}:102", "established", "application_refused")] * 8
                 + [(f"{lab.cip}:102", "established", "-")] * 3
                 + [(f"{lab.sip}:80", "established", "-")] * 2
                 + [(f"{lab.sip}:81", "refused", "port_closed")] * 2, o)
        forms_txt = "; ".join(f"{k}: {v[2]}" for k, v in FORMS.items())
        outs.insert(0, Output("asym-x400-all-forms.pcap", cap, "B",
                              common.replace("{forms}", "in turn (a new server process per "
                                             "form) " + forms_txt).replace("{seq}", seq),
                              kern.replace("{what}", "refuses in each form in turn"),
                              spec=spec, check=chk_all))
    return outs


# ------------------------------------------------------------------------- class C --
MB16 = 16 * 1024 * 1024


def xfer(n):
    return f"send:{n},send:@\\n,recv-eof,close"


TW_SERVER = "recv-line,send:@250 hello from pr3s\\n,close"


@group("tw-ts-on", "C", ["linux-tw-gaps-ts-on.pcap"])
def g_tw_ts_on(d):
    gaps = [2, 30, 65, 90]
    with Lab(tag="10", net=10) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_rfc1337=0")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        cap = os.path.join(d, "linux-tw-gaps-ts-on.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001,
                   gaps=",".join(map(str, gaps)), script=xfer(1000))
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 reads a request up to its newline, answers one line and "
            f"closes first (`{TW_SERVER}`): it holds TIME_WAIT (60 s on Linux). The client "
            f"binds {lab.cip}:40001 (SO_REUSEADDR) and connects 5 times, sending 1000 bytes + "
            f"newline each time, pausing {gaps} s between the end of one connection and the "
            "next: two reuses inside the server's TIME_WAIT, two after it. tcpdump -s 128 on "
            "the server veth."))
        kernel = (
            "Timestamps on: the reuses at 2 s and 30 s land in TIME_WAIT and are accepted at "
            "once (the timestamp advanced, RFC 6191; the server's new ISN is the old "
            "connection's snd_nxt + 65537, Linux's tw_snd_nxt + 65535 + 2); those at 65 s and "
            "90 s find no TIME_WAIT and reach the listener. All 5 established with one SYN "
            "each; nothing failed, so no cause.")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 5, outcomes(rows))
        need(all(len(r["syn_frames"].split(",")) == 1 for r in rows), rows)
    return [Output("linux-tw-gaps-ts-on.pcap", cap, "C", how, kernel, check=chk)]


@group("tw-ts-off", "C", ["linux-tw-gaps-ts-off.pcap"])
def g_tw_ts_off(d):
    each = [xfer(MB16), xfer(MB16), xfer(1000), xfer(1000), xfer(1000)]
    gaps = [0.3, 3, 0.3, 65]
    with Lab(tag="11", net=11) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=0")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_rfc1337=0")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        cap = os.path.join(d, "linux-tw-gaps-ts-off.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=96)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001,
                   gaps=",".join(map(str, gaps)), each=";".join(each))
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 `{TW_SERVER}` (closes first, holds TIME_WAIT). The client "
            f"binds {lab.cip}:40001 and connects 5 times: 16 MiB, 16 MiB, 1000 B, 1000 B, "
            f"1000 B (each + newline), pausing {gaps} s between one connection's end and the "
            "next. tcpdump -s 96 on the server veth (headers only)."))
        kernel = (
            "Timestamps off, so TIME_WAIT accepts a SYN only when its ISN is after the old "
            "connection's rcv_nxt. Linux's ISN clock runs at 1 per 64 ns (~15.6 M/s): 0.3 s "
            "after a 16 MiB connection the new ISN is still behind rcv_nxt, so TIME_WAIT "
            "answers the 2nd connection's SYN with a bare ACK (challenge), the client's "
            "SYN_SENT answers that with a RST (seq = its ack), which ends TIME_WAIT "
            "(tcp_rfc1337=0), and the SYN retransmitted ~10 ms later reaches the listener: "
            "established with cause server_time_wait. 3 s after the second 16 MiB the clock "
            "has passed it: the 3rd SYN is accepted in TIME_WAIT at once; so is the 4th, 0.3 s "
            "after a 1000-byte connection. The 5th, 65 s later, finds no TIME_WAIT.")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 5, outcomes(rows))
        need([len(r["syn_frames"].split(",")) for r in rows] == [1, 2, 1, 1, 1], rows)
        need(rows[1]["expected_cause"] == "server_time_wait", rows[1])
    return [Output("linux-tw-gaps-ts-off.pcap", cap, "C", how, kernel, check=chk)]


@group("tw-rfc1337", "C", ["linux-tw-rfc1337-gaps.pcap"])
def g_tw_rfc1337(d):
    each = [xfer(MB16), xfer(1000), xfer(1000)]
    gaps = [0.3, 55]
    with Lab(tag="12", net=12) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=0")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_rfc1337=1")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        cap = os.path.join(d, "linux-tw-rfc1337-gaps.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=96)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, syn_retries=2,
                   gaps=",".join(map(str, gaps)), each=";".join(each))
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 `{TW_SERVER}` (closes first). tcp_rfc1337=1 on the server. "
            f"The client binds {lab.cip}:40001 with TCP_SYNCNT=2 and connects 3 times: 16 MiB, "
            f"then 1000 B 0.3 s after the first ended, then 1000 B again {gaps[1]} s after the "
            "second gave up (about 65 s after the first ended). tcpdump -s 96 on the server veth."))
        kernel = (
            "The second connection's SYN lands in TIME_WAIT with an ISN behind rcv_nxt: bare "
            "ACK, client RST, but with tcp_rfc1337=1 TIME_WAIT ignores RSTs, so every SYN "
            "retransmission meets the same TIME_WAIT (a bare ACK each, except the fast "
            "retransmission ~10 ms after the first RST, which the 0.5 s out-of-window ACK rate "
            "limit leaves unanswered) until connect() fails with ETIMEDOUT (TCP_SYNCNT=2 + "
            "tcp_syn_linear_timeouts=4 retransmissions). The third connection comes after the "
            "60 s TIME_WAIT and is established at once. Expected: established, challenge_ack "
            "(server_time_wait), established (gap beyond 60 s, no cause).")

    def chk(rows):
        need(outcomes(rows) == ["established", "challenge_ack", "established"], outcomes(rows))
        need(rows[1]["expected_cause"] == "server_time_wait", rows[1])
    return [Output("linux-tw-rfc1337-gaps.pcap", cap, "C", how, kernel, check=chk)]


@group("tw-mid", "C", ["linux-tw-mid-capture.pcap"])
def g_tw_mid(d):
    with Lab(tag="13", net=13) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=0")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_rfc1337=1")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, script=xfer(2 * MB16))
        cap = os.path.join(d, "linux-tw-mid-capture.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=96)
        lab.client(name="other", ip=lab.cip, dst=lab.sip, port=SPORT, sport=40002,
                   script=xfer(1000))
        lab.client(ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001, syn_retries=2,
                   script=xfer(1000))
        time.sleep(3.5)
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"Server {lab.sip}:8110 `{TW_SERVER}` (closes first); tcp_rfc1337=1 on the server. "
            f"Before the capture starts the client sends 32 MiB from {lab.cip}:40001; the "
            "server closes first and holds that 4-tuple in TIME_WAIT. Then tcpdump -s 96 "
            "starts on the server veth, the client makes one normal connection from 40002, "
            "and reconnects from 40001 (TCP_SYNCNT=2), about a second after the first "
            "connection ended."))
        kernel = (
            "The reused SYN from 40001 hits the TIME_WAIT of a connection the capture does not "
            "show: its ISN is behind that connection's rcv_nxt (32 MiB in ~1 s outruns the ISN "
            "clock), so TIME_WAIT answers with a bare ACK whose ack number belongs to the "
            "unseen connection; the client's RSTs are ignored (rfc1337=1); connect() fails "
            "with ETIMEDOUT after about 10 s. Expected: the 40002 connection established; "
            "the 40001 attempt challenge_ack with cause time_wait_before_capture (no earlier "
            "connection on the 4-tuple in the capture).")

    def chk(rows):
        need(outcomes(rows) == ["established", "challenge_ack"], outcomes(rows))
        need(rows[1]["expected_cause"] == "time_wait_before_capture", rows[1])
    return [Output("linux-tw-mid-capture.pcap", cap, "C", how, kernel, check=chk)]


# ------------------------------------------------------------------------- class D --
def three_captures(lab, d, base, snap):
    """Start the two-direction capture on the server veth and the one-direction ones
    (tcpdump -Q out on each side's veth)."""
    full = os.path.join(d, base + ".pcap")
    co = os.path.join(d, base + "-client-only.pcap")
    so = os.path.join(d, base + "-server-only.pcap")
    f = "tcp or icmp"
    tds = [lab.tcpdump("s", lab.sif, full, snap=snap, filt=f),
           lab.tcpdump("c", lab.cif, co, snap=snap, direction="out", filt=f),
           lab.tcpdump("s", lab.sif, so, snap=snap, direction="out", filt=f)]
    return (full, co, so), tds


def half_outputs(base, cls, paths, how, kernel, full_check, spec=None, half_checks=None):
    full, co, so = paths
    spec = spec or {}
    fo = Output(base + ".pcap", full, cls, how + " Published as the two-direction reference "
                "for the two one-direction captures made at the same time.", kernel,
                spec=spec, check=full_check)
    hc = half_checks or {}
    co_o = Output(base + "-client-only.pcap", co, cls, how + " This file: `tcpdump -Q out` on "
                  "the client's veth, in the client namespace, at the same time: only the "
                  "client's packets.", kernel + " Outcome, holder and cause in the expected "
                  "account are the truth from the two-direction capture; the capture itself "
                  "holds only the client's side of it.", spec=spec, truth=fo,
                  check=hc.get("client"))
    so_o = Output(base + "-server-only.pcap", so, cls, how + " This file: `tcpdump -Q out` on "
                  "the server's veth at the same time: only the server's packets.",
                  kernel + " Outcome, holder and cause in the expected account are the truth "
                  "from the two-direction capture; attempts the server never answered leave "
                  "nothing in this file (listed below).", spec=spec, truth=fo,
                  check=hc.get("server"))
    return [fo, co_o, so_o]


@group("mixed", "D", ["linux-mixed.pcap", "linux-mixed-client-only.pcap",
                      "linux-mixed-server-only.pcap"])
def g_mixed(d):
    with Lab(tag="14", net=14) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=0")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_rfc1337=0")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        lab.server(name="web", ip=lab.sip, port=8080, script="recv,send:500,recv-eof,close")
        lab.nft("s", """
table inet pr3rej {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp dport 8113 reject with icmp type port-unreachable
    }
}
""")
        paths, tds = three_captures(lab, d, "linux-mixed", 96)
        lab.client(name="normal", ip=lab.cip, dst=lab.sip, port=SPORT, count=2, gap=0.2,
                   script=xfer(1000))
        lab.client(name="web", ip=lab.cip, dst=lab.sip, port=8080, count=2, gap=0.2,
                   script="send:@GET / HTTP/1.1\\r\\n\\r\\n,recv:500,close")
        lab.client(name="refused", ip=lab.cip, dst=lab.sip, port=8111, sport=40003,
                   script=xfer(10))
        lab.client(name="icmp", ip=lab.cip, dst=lab.sip, port=8113, sport=40004,
                   script=xfer(10))
        w = drop_first_syns(lab, "s", "tcp sport 40005 tcp dport 8110", 2)
        lab.client(name="dropped-twice", ip=lab.cip, dst=lab.sip, port=SPORT, sport=40005,
                   script=xfer(1000))
        w.join(5)
        lab.client(name="challenge", ip=lab.cip, dst=lab.sip, port=SPORT, sport=40001,
                   gaps="0.3", each=xfer(MB16) + ";" + xfer(1000))
        time.sleep(0.5)
        for t in tds:
            lab.stop_tcpdump(t)
        how = std_how(lab, (
            f"Server {lab.sip}: 8110 `{TW_SERVER}` (closes first), 8080 web-like "
            "(`recv,send:500,recv-eof,close`: the client closes first), nothing on 8111, an "
            "nftables rule `tcp dport 8113 reject with icmp type port-unreachable`, and a "
            "counted nftables rule that drops the first two SYNs from port 40005. Client "
            f"{lab.cip}, in this order: 2 connections to 8110 from ephemeral ports (1000 B + "
            "newline); 2 to 8080 (GET, read 500 B, close); 40003 -> 8111; 40004 -> 8113; "
            "40005 -> 8110; 40001 -> 8110 with 16 MiB, and 0.3 s after it ended 40001 -> 8110 "
            "again with 1000 B. tcpdump -s 96, filter `tcp or icmp`."))
        kernel = (
            "Normal connections: established, the server holds TIME_WAIT on 8110, the client "
            "on 8080. 8111: RST/ACK (port_closed). 8113: the SYN is answered by ICMP port "
            "unreachable quoting it; Linux's connect() fails at once (ECONNREFUSED), so one "
            "SYN (icmp_unreachable). 40005: two SYNs dropped, the third (2 s "
            "later, linear timeouts) gets in. 40001 reuse: timestamps off and the ISN clock "
            "behind the 16 MiB: TIME_WAIT's bare ACK, the client's RST (ends TIME_WAIT, "
            "rfc1337=0), its SYN retransmitted ~10 ms later gets in: established, "
            "server_time_wait.")

        spec = {"override": {}}

        def chk(rows):
            need(outcomes(rows) == ["established"] * 4 + ["refused", "icmp_unreachable"] +
                 ["established"] * 3, outcomes(rows))
            need(rows[-1]["expected_cause"] == "server_time_wait", rows[-1])
            need([r["time_wait_holder"] for r in rows][-1] == "server", rows)
    return half_outputs("linux-mixed", "D", paths, how, kernel, chk, spec=spec)


@group("silent-drop", "D", ["emu-silent-drop-mid.pcap", "emu-silent-drop-mid-client-only.pcap",
                            "emu-silent-drop-mid-server-only.pcap"])
def g_silent(d):
    with Lab(tag="15", net=15) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip, port=SPORT, script=TW_SERVER)
        lab.nft("s", """
table inet pr3tw {
    set tw {
        type ipv4_addr . inet_service
        flags timeout
        timeout 30s
    }
    chain out {
        type filter hook output priority 0; policy accept;
        tcp sport 8110 tcp flags & fin == fin add @tw { ip daddr . tcp dport }
    }
    chain in {
        type filter hook input priority 0; policy accept;
        tcp dport 8110 tcp flags & (syn|ack) == syn ip saddr . tcp sport @tw counter drop
    }
}
""")
        clients = []
        t0 = time.monotonic()
        clients.append(lab.client(name="p40001", background=True, ip=lab.cip, dst=lab.sip,
                                  port=SPORT, sport=40001, syn_retries=1, gaps="3,30",
                                  script=xfer(1000)))
        L.wait_for("first connection", lambda: "closed" in open(clients[0].logname).read(), 5)
        paths, tds = three_captures(lab, d, "emu-silent-drop-mid", 128)
        for i, port in enumerate((40002, 40003)):
            clients.append(lab.client(name=f"p{port}", background=True, ip=lab.cip,
                                      dst=lab.sip, port=SPORT, sport=port, syn_retries=1,
                                      gaps="3,30", script=xfer(1000)))
            time.sleep(1.0)
        for c in clients:
            c.wait()
            lab.procs.remove(c)
            for line in open(c.logname).read().splitlines():
                log(f"  {os.path.basename(c.logname)}: {line}")
        time.sleep(3.5)
        for t in tds:
            lab.stop_tcpdump(t)
        log(f"silent-drop took {time.monotonic() - t0:.1f}s")
        drops = lab.nft_cmd("s", "list", "chain", "inet", "pr3tw", "in")
        how = std_how(lab, (
            "EMULATED silent drop: Linux answers a SYN it will not accept in TIME_WAIT with "
            "a bare ACK; Windows (2000/2003 era) ignores it. To emulate the Windows server, "
            "nftables in the server namespace remembers each 4-tuple on which the server sent "
            "a FIN (`tcp sport 8110 tcp flags & fin == fin add @tw { ip daddr . tcp dport }`, "
            "set timeout 30 s: an emulated 30 s TIME_WAIT) and drops SYNs from those "
            "4-tuples (`tcp dport 8110 tcp flags & (syn|ack) == syn ip saddr . tcp sport @tw "
            f"drop`). Server {lab.sip}:8110 `{TW_SERVER}` (closes first). Three pooled-port "
            f"clients, 40001, 40002, 40003 (started 1 s apart), each with TCP_SYNCNT=1: "
            "connect + 1000 B, then 3 s later the same port again, then 30 s after that "
            "attempt gave up the same port again. The capture starts after 40001's first "
            "connection has ended (mid-traffic), before 40002's and 40003's first connections."))
        kernel = (
            "Each port's second connect (3 s after its first ended) meets the emulated "
            "TIME_WAIT: its 3 SYNs (1 s apart: with TCP_SYNCNT=1 this kernel sends the SYN and "
            "2 retransmissions) are dropped without answer and connect() fails with ETIMEDOUT "
            "after ~3 s. The third connect, ~36 s after the first connection ended, is past "
            "the emulated 30 s; the real Linux TIME_WAIT (60 "
            "s) still holds the 4-tuple and accepts the SYN (timestamps on). Expected: "
            "40002/40003: established, unanswered (server_time_wait), established (no cause: "
            "answered at once). 40001: its first connection is not in the capture, so its "
            "unanswered attempt is time_wait_before_capture (the same source is seen reusing "
            "ports into this server's TIME_WAIT and the server is seen silently dropping "
            "them); its third is established. nft drop counter at the end: "
            + (next((ln.strip() for ln in drops.splitlines() if "counter" in ln), "?")) + ".")

        def chk(rows):
            by = {}
            for r in rows:
                by.setdefault(r["client"].split(":")[1], []).append(
                    (r["outcome"], r["expected_cause"]))
            need(by.get("40001") == [("unanswered", "time_wait_before_capture"),
                                     ("established", "-")], by)
            for p in ("40002", "40003"):
                need(by.get(p) == [("established", "-"), ("unanswered", "server_time_wait"),
                                   ("established", "-")], by)
    return half_outputs("emu-silent-drop-mid", "D", paths, how, kernel, chk)


@group("halves-legacy", "D", [f"{n}-{h}.pcap" for n in ("linux-tw-ts-on", "linux-tw-ts-off-bigxfer",
                                                         "linux-tw-never-let-in", "linux-refused",
                                                         "win-same-isn-later")
                              for h in ("client-only", "server-only")])
def g_halves_legacy(d):
    outs = []
    for n, cip, sip in (("linux-tw-ts-on", "10.99.0.1", "10.99.0.2"),
                        ("linux-tw-ts-off-bigxfer", "10.99.0.1", "10.99.0.2"),
                        ("linux-tw-never-let-in", "10.99.0.1", "10.99.0.2"),
                        ("linux-refused", "10.99.0.1", "10.99.0.2"),
                        ("win-same-isn-later", "10.93.2.1", "10.93.2.2")):
        src = os.path.join(OUT, n + ".pcap")
        truth = Output(n + ".pcap", src, "C", "", "")
        for half, host in (("client-only", cip), ("server-only", sip)):
            dst = os.path.join(d, f"{n}-{half}.pcap")
            tmp = dst + ".full"
            L.sh(["tcpdump", "-r", src, "-w", tmp, "src", "host", host])
            editcap("-s", "128", tmp, dst)
            how = (f"A direction filter applied to `{n}.pcap` (see its note): `tcpdump -r {n}.pcap -w half.pcap src host {host}`, then "
                   f"`editcap -s 128 half.pcap {n}-{half}.pcap` (payload cut, lengths kept): "
                   f"only the {'client' if half == 'client-only' else 'server'}'s packets, "
                   "timestamps unchanged.")
            kernel = (f"As in `{n}.pcap`; outcome, holder and cause in the expected account are "
                      f"that capture's (the truth), frame numbers this file's.")
            outs.append(Output(f"{n}-{half}.pcap", dst, "D", how, kernel, truth=truth))
    return outs


@group("win-cut", "A7", ["win-syn-dropped-twice.pcap", "win-syn-dropped-twice-cut.pcap"])
def g_win_cut(d):
    with Lab(tag="16", net=16) as lab:
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        input_drop(lab, "c", "tcp dport 49301")
        lab.server(ip=lab.sip, port=SPORT, script="recv,send:@HTTP/1.0 200 OK\\r\\n\\r\\nhi\\n,close")
        cap = os.path.join(d, "win-syn-dropped-twice.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128)
        w = drop_first_syns(lab, "s", "tcp sport 49301 tcp dport 8110", 2)
        t0 = time.monotonic()
        wc = lab.raw(name="win", background=True, args=[
            "winclient", "--src", lab.cip, "--sport", "49301", "--dst", lab.sip, "--dport",
            "8110", "--at", "0,3,9", "--isn", "3300000001", "--iface", lab.cif, "--linger", "3"])
        time.sleep(max(0, t0 + 6.5 - time.monotonic()))
        lab.client(name="other", ip=lab.cip, dst=lab.sip, port=SPORT, sport=40010,
                   script="send:@GET / HTTP/1.0\\r\\n\\r\\n,recv-eof,close")
        wc.wait()
        lab.procs.remove(wc)
        for line in open(wc.logname).read().splitlines():
            log("  win: " + line)
        w.join(5)
        time.sleep(1)
        lab.stop_tcpdump(td)
        fr = frames_of(cap)
        t_first = fr[0].t
        last = max(f.no for f in fr if f.t - t_first < 8.0)
        cut = os.path.join(d, "win-syn-dropped-twice-cut.pcap")
        editcap("-r", cap, cut, f"1-{last}")
        how = std_how(lab, (
            "A raw-socket client (raw.py winclient) emulates a Windows connect(): one ISN, "
            "Windows SYN options, TTL 128, SYNs at +0, +3 s and +9 s (the Windows schedule) "
            f"from {lab.cip}:49301 to {lab.sip}:8110; the client namespace drops its own "
            "kernel's view of port 49301 so it sends no RST of its own. A counted nftables rule "
            "in the server namespace drops the first two of those SYNs. 6.5 s after the first "
            "SYN a real Linux client makes one normal connection from port 40010. tcpdump -s "
            "128 on the server veth."))
        kernel = (
            "The first two SYNs (+0, +3 s) are dropped; the third (+9 s) reaches the listener, "
            "gets a SYN-ACK, and the raw client completes the exchange (request, reply, "
            "server FIN, its FIN). Expected: the Windows-like attempt established on its 3rd "
            "SYN (answered_syn 2), the Linux connection established.")
        syn2 = [f.t for f in fr if f.sport == 49301 and f.flags & 0x12 == 0x02][1]
        end_t = max(f.t for f in fr if f.no <= last)
        how_cut = how + (f" The cut: `editcap -r win-syn-dropped-twice.pcap "
                         f"win-syn-dropped-twice-cut.pcap 1-{last}` keeps the frames of the "
                         f"first 8 s: the capture ends with the Linux connection, "
                         f"{end_t - syn2:.1f} s after the second SYN and before the third "
                         "(+9 s).")
        kernel_cut = (
            "As in the full capture, but the capture ends before the third SYN. After SYNs at "
            "+0 and +3 s the client's next retransmission (Windows: +9 s; by the rule 2 x the "
            "last interval = 6 s after the last SYN) is not yet due when the capture ends, "
            "although more than 3 s have passed since the last SYN: the attempt is `unknown`, "
            "not `unanswered` (a 3 s rule would call it a failure; the full capture shows it "
            "established). Expected: the Linux connection established, the Windows-like "
            "attempt unknown.")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 2, outcomes(rows))
        need(len(rows[0]["syn_frames"].split(",")) == 3, rows[0])

    def chk_cut(rows):
        need(outcomes(rows) == ["unknown", "established"], outcomes(rows))
    return [Output("win-syn-dropped-twice.pcap", cap, "A7", how, kernel, check=chk),
            Output("win-syn-dropped-twice-cut.pcap", cut, "A7", how_cut, kernel_cut,
                   check=chk_cut)]


@group("v6", "C", ["linux-tw-ts-on-ipv6.pcap"])
def g_v6(d):
    with Lab(tag="17", net=17, v6=True) as lab:
        lab.sysctl("c", "net.ipv4.tcp_timestamps=1")
        lab.sysctl("s", "net.ipv4.tcp_timestamps=1")
        lab.server(ip=lab.sip6, port=SPORT, script=TW_SERVER)
        cap = os.path.join(d, "linux-tw-ts-on-ipv6.pcap")
        td = lab.tcpdump("s", lab.sif, cap, snap=128, filt="tcp")
        lab.client(ip=lab.cip6, dst=lab.sip6, port=SPORT, sport=40001, count=3, gap=1,
                   script=xfer(1000))
        lab.client(name="closed", ip=lab.cip6, dst=lab.sip6, port=8111, sport=40002,
                   script=xfer(10))
        lab.stop_tcpdump(td)
        how = std_how(lab, (
            f"IPv6: client [{lab.cip6}], server [{lab.sip6}] (fd93::/64, no DAD). Server port "
            f"8110 `{TW_SERVER}` (closes first). The client binds [{lab.cip6}]:40001 and "
            "connects 3 times 1 s apart (1000 B + newline), then once from 40002 to the closed "
            "port 8111. net.ipv4.tcp_timestamps also governs IPv6. tcpdump -s 128 on the "
            "server veth, filter `tcp`."))
        kernel = (
            "As over IPv4: timestamps on, each reuse of the 4-tuple lands in the server's "
            "TIME_WAIT and is accepted (RFC 6191); the closed port answers RST/ACK. Expected: "
            "3 established (two reuses, server holds TIME_WAIT), 1 refused (port_closed).")

    def chk(rows):
        need(outcomes(rows) == ["established"] * 3 + ["refused"], outcomes(rows))
        need(rows[0]["client"].startswith("[fd93::17:1]:"), rows[0])
    return [Output("linux-tw-ts-on-ipv6.pcap", cap, "C", how, kernel, check=chk)]

if __name__ == "__main__":
    main()
