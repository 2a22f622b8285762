"""The expected account of a capture, from tshark's fields and the definitions in the issues
(attempt = SYN without ACK with one ISN on a 4-tuple; outcome precedence; end of a connection
and its TIME_WAIT holder; reuse), written without reading or running portreuse.

    expect.py analyze CAPTURE [--spec SPEC.json] [--tsv OUT.tsv]  -> JSON on stdout

Frames are read with tshark (frame number, time, addresses, ports, flags, raw seq/ack, TCP
length, IP ID, TCP checksum, tshark's stream index and expert messages; for ICMP errors the
quoted headers).  The spec (written by make.py, which knows what it did to the kernels) adds
what a capture cannot say: the TIME_WAIT length to judge gaps with, the refusing services,
causes and notes fixed by construction, and, for one-direction and SYN-ACK-less captures,
the two-direction capture taken at the same time that holds the truth.
"""
import argparse
import json
import subprocess
import sys
from collections import defaultdict

M32 = 1 << 32
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
DUP_WINDOW = 0.002        # a copy of a frame within 2 ms (span port, two bridge ports)
SLACK = 256 * 1024        # how far beyond the highest seen byte a segment may start
ORDER = ["established", "refused", "icmp_unreachable", "challenge_ack", "unanswered", "unknown"]

FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "ip.id", "tcp.checksum", "tcp.stream", "icmp.type", "icmpv6.type",
          "tcp.options.tfo.request", "tcp.options.tfo.cookie", "tcp.seq", "_ws.expert.message"]


def sub(a, b):
    """a - b in sequence space, in [0, 2^32)."""
    return (a - b) % M32


def ep(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class Frame:
    __slots__ = ("no", "t", "src", "dst", "sport", "dport", "flags", "seq", "ack", "len",
                 "ipid", "csum", "stream", "expert", "icmp", "quoted", "tfo", "dup_of",
                 "role", "attempt", "ttl_hint")

    def fl(self):
        x = self.flags
        return "".join(n for b, n in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"),
                                      (ACK, ".")) if x & b) or "-"


def read_frames(path):
    argv = ["tshark", "-r", path, "-n", "-o", "tcp.relative_sequence_numbers:FALSE",
            "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    frames = []
    for line in out.splitlines():
        v = line.split("\t")
        d = dict(zip(FIELDS, v))
        f = Frame()
        f.no = int(d["frame.number"])
        f.t = float(d["frame.time_epoch"])
        srcs = (d["ip.src"] or d["ipv6.src"]).split("|")
        dsts = (d["ip.dst"] or d["ipv6.dst"]).split("|")
        sports, dports = d["tcp.srcport"].split("|"), d["tcp.dstport"].split("|")
        seqs, acks = d["tcp.seq_raw"].split("|"), d["tcp.ack_raw"].split("|")
        f.expert = [m for m in d["_ws.expert.message"].split("|") if m]
        f.dup_of = None
        f.role = ""
        f.attempt = None
        f.tfo = bool(d["tcp.options.tfo.request"] or d["tcp.options.tfo.cookie"])
        if d["icmp.type"] or d["icmpv6.type"]:
            # an ICMP error: outer addresses, then the quoted IP/TCP header
            f.icmp = (d["icmp.type"] or d["icmpv6.type"]).split("|")[0]
            f.src, f.dst = srcs[0], dsts[0]
            f.sport = f.dport = 0
            f.flags = f.seq = f.ack = f.len = 0
            f.ipid, f.csum, f.stream = "", "", ""
            f.quoted = None
            qseq = seqs[0] or d["tcp.seq"].split("|")[0]
            if len(srcs) > 1 and sports[0] and qseq:
                f.quoted = (srcs[1], int(sports[0]), dsts[1], int(dports[0]), int(qseq))
            frames.append(f)
            continue
        if not d["tcp.srcport"]:
            continue
        f.icmp = None
        f.quoted = None
        f.src, f.dst = srcs[0], dsts[0]
        f.sport, f.dport = int(sports[0]), int(dports[0])
        f.flags = int(d["tcp.flags"], 16)
        f.seq, f.ack = int(seqs[0]), int(acks[0] or 0)
        f.len = int(d["tcp.len"] or 0)
        f.ipid, f.csum, f.stream = d["ip.id"], d["tcp.checksum"], d["tcp.stream"]
        frames.append(f)
    return frames


def mark_duplicates(frames):
    """A frame equal in every header field to an earlier one within DUP_WINDOW, or with the
    same timestamp anywhere (a file appended to itself), is a copy."""
    last = {}
    exact = {}
    n = 0
    for f in frames:
        if f.icmp:
            key = ("icmp", f.src, f.dst, f.quoted)
        else:
            key = (f.src, f.dst, f.sport, f.dport, f.flags, f.seq, f.ack, f.len, f.ipid, f.csum)
        prev = last.get(key)
        if (key, f.t) in exact:
            f.dup_of = exact[(key, f.t)]
        elif prev is not None and abs(f.t - prev[0]) <= DUP_WINDOW:
            f.dup_of = prev[1]
        if f.dup_of is not None:
            n += 1
            continue
        last[key] = (f.t, f.no)
        exact[(key, f.t)] = f.no
    return n


class Attempt:
    def __init__(self, tup, isn, syn_len=0):
        self.client, self.server = tup
        self.isn = isn
        self.syn_len = syn_len
        self.syns = []            # frames
        self.synacks = []
        self.rsts = []            # server RSTs answering the SYN
        self.icmps = []
        self.challenges = []
        self.client_rst_to_challenge = []
        self.frames = []          # every frame of this attempt's connection
        self.snd_max = (isn + 1 + syn_len) % M32   # client's highest sequence sent
        self.server_isn = None
        self.srv_max = None
        self.hs_ack = None        # client's handshake ACK
        self.server_acked = None  # first server segment acking beyond ISN+1+syn_len
        self.client_data = None   # first client segment with data after the SYN
        self.fins = []            # (frame, side)
        self.resets = []          # RSTs ending the connection (frame, side)
        self.before_syn = False

    @property
    def first_t(self):
        return self.syns[0].t if self.syns else min(f.t for f in self.frames)

    @property
    def first_no(self):
        return self.syns[0].no if self.syns else min(f.no for f in self.frames)

    def established(self):
        return bool(self.synacks or self.server_acked or (self.hs_ack and self.client_data))

    def completed(self, before=None):
        """The handshake completed (before time `before`): the client acknowledged the
        SYN-ACK or data flowed."""
        t = self.completed_at()
        return t is not None and (before is None or t <= before)

    def completed_at(self):
        cands = []
        if self.synacks and (self.hs_ack or self.client_data):
            cands.append(min(f.t for f in (self.hs_ack, self.client_data) if f is not None))
        if self.server_acked:
            cands.append(self.server_acked.t)
        if self.hs_ack and self.client_data:
            cands.append(max(self.hs_ack.t, self.client_data.t))
        return min(cands) if cands else None

    def answer(self):
        """The first SYN-ACK / RST / ICMP / challenge ACK, in that precedence."""
        for xs in (self.synacks, self.rsts, self.icmps, self.challenges):
            if xs:
                return xs[0]
        return None


def in_range(x, lo, hi):
    """lo <= x <= hi in sequence space (hi - lo < 2^31)."""
    return sub(x, lo) <= sub(hi, lo)


def analyze(frames, spec):
    tw = spec.get("time_wait_s", 60.0)
    tuples = defaultdict(list)       # (client, server) -> attempts in order of appearance
    roles = {}                       # canonical 4-tuple -> (client, server)
    pending_synacks = defaultdict(list)
    last_client = {}
    live = [f for f in frames if f.dup_of is None]
    capture_end = max((f.t for f in frames), default=0.0)
    capture_start = min((f.t for f in frames), default=0.0)

    def canon(a, b):
        return (a, b) if a < b else (b, a)

    # pass 1: who is the client of each 4-tuple (sender of a bare SYN, or receiver of SYN-ACK)
    for f in live:
        if f.icmp:
            continue
        a, b = (f.src, f.sport), (f.dst, f.dport)
        k = canon(a, b)
        if k in roles:
            continue
        if f.flags & SYN and not f.flags & ACK:
            roles[k] = (a, b)
        elif f.flags & SYN and f.flags & ACK:
            roles[k] = (b, a)
    for f in live:
        if f.icmp:
            if f.quoted:
                qs, qsp, qd, qdp, qseq = f.quoted
                tup = ((qs, qsp), (qd, qdp))
                for at in tuples.get(tup, []):
                    if at.isn == qseq:
                        at.icmps.append(f)
                        at.frames.append(f)
                        f.role, f.attempt = "ICMP error quoting the SYN", at
            continue
        a, b = (f.src, f.sport), (f.dst, f.dport)
        k = canon(a, b)
        if k not in roles:
            f.role = "(no SYN or SYN-ACK on this 4-tuple)"
            continue
        client, server = roles[k]
        tup = (client, server)
        ats = tuples[tup]
        from_client = a == client
        x = f.flags
        if from_client:
            last_client[tup] = f
        if from_client and x & SYN and not x & ACK:
            at = next((t for t in ats if t.isn == f.seq), None)
            if at is None:
                at = Attempt(tup, f.seq, f.len)
                ats.append(at)
                f.role = "SYN" + (f" with {f.len} bytes of data" if f.len else "")
                # a SYN-ACK captured before its SYN (two capture points merged)
                for sa in list(pending_synacks[tup]):
                    if sa.ack in ((f.seq + 1) % M32, (f.seq + 1 + f.len) % M32) and \
                            0 <= f.t - sa.t <= 1.0:
                        pending_synacks[tup].remove(sa)
                        at.synacks.append(sa)
                        at.frames.append(sa)
                        at.before_syn = True
                        at.server_isn = sa.seq
                        at.srv_max = (sa.seq + 1) % M32
                        sa.attempt = at
                        sa.role = f"SYN-ACK (captured {1000 * (f.t - sa.t):.1f} ms before its SYN)"
            else:
                f.role = "SYN retransmission"
            at.syns.append(f)
            at.frames.append(f)
            f.attempt = at
            continue
        if not from_client and x & SYN and x & ACK:
            at = next((t for t in ats if f.ack in ((t.isn + 1) % M32,
                                                    (t.isn + 1 + t.syn_len) % M32)), None)
            if at is None:
                pending_synacks[tup].append(f)
                f.role = "SYN-ACK (no SYN yet)"
                continue
            if at.synacks:
                f.role = "SYN-ACK retransmission"
            else:
                f.role = "SYN-ACK" + (f" (acks {f.len} + SYN data)" if at.syn_len and
                                      f.ack == (at.isn + 1 + at.syn_len) % M32 else "")
                at.server_isn = f.seq
                at.srv_max = (f.seq + 1) % M32
            at.synacks.append(f)
            at.frames.append(f)
            f.attempt = at
            continue
        if from_client:
            # the client's RST answering a challenge ACK: seq = the challenge's ack
            if x & RST and not x & ACK:
                at = next((t for t in reversed(ats) if t.challenges and
                           t.challenges[-1].ack == f.seq and not t.established()), None)
                if at is not None:
                    at.client_rst_to_challenge.append(f)
                    at.frames.append(f)
                    f.role, f.attempt = "RST (client, answers the challenge ACK)", at
                    continue
            at = None
            for t in reversed(ats):
                if in_range(f.seq, (t.isn + 1) % M32, (t.snd_max + SLACK) % M32):
                    at = t
                    break
            if at is None:
                f.role = "client segment of no attempt"
                continue
            end = (f.seq + f.len + (1 if x & FIN else 0)) % M32
            if sub(end, at.snd_max) < M32 // 2:
                at.snd_max = end
            at.frames.append(f)
            f.attempt = at
            if x & RST:
                at.resets.append((f, "client"))
                f.role = "RST (client)"
            elif x & FIN:
                at.fins.append((f, "client"))
                f.role = "FIN (client)"
            elif f.len and at.client_data is None:
                at.client_data = f
                f.role = "client data"
            elif x & ACK and at.hs_ack is None and f.len == 0 and \
                    f.seq == (at.isn + 1 + at.syn_len) % M32 and \
                    (at.server_isn is None or f.ack == (at.server_isn + 1) % M32):
                at.hs_ack = f
                f.role = "handshake ACK"
            if f.len and at.client_data is None:
                at.client_data = f
            if not f.role:
                f.role = "client data" if f.len else "client ACK"
            continue
        # from the server, not a SYN-ACK
        match = None
        for t in reversed(ats):
            if x & ACK and in_range(f.ack, (t.isn + 1) % M32, t.snd_max):
                match = t
                break
        newest_pending = next((t for t in reversed(ats) if not t.established()), None)
        if x & RST:
            pend = next((t for t in reversed(ats) if not t.established() and
                         f.ack in ((t.isn + 1) % M32, (t.isn + 1 + t.syn_len) % M32)), None)
            if pend is not None:
                pend.rsts.append(f)
                pend.frames.append(f)
                f.role, f.attempt = "RST/ACK (server, refuses the SYN)", pend
                continue
            if match is None:
                f.role = "server RST of no attempt"
                continue
            match.resets.append((f, "server"))
            match.frames.append(f)
            f.role, f.attempt = "RST (server)", match
            continue
        lc = last_client.get(tup)
        if newest_pending is not None and newest_pending.syns and \
                (match is None or match is not newest_pending) and f.len == 0 and \
                not x & FIN and lc is not None and lc.attempt is newest_pending and \
                lc.flags & SYN and not lc.flags & ACK:
            newest_pending.challenges.append(f)
            newest_pending.frames.append(f)
            f.role = "challenge ACK (acks " + ("the previous connection" if match else
                                               "nothing of this attempt") + ")"
            f.attempt = newest_pending
            continue
        if match is None:
            f.role = "server segment of no attempt"
            continue
        at = match
        at.frames.append(f)
        f.attempt = at
        if at.server_acked is None and sub(f.ack, (at.isn + 1 + at.syn_len) % M32) not in (0,) \
                and sub(f.ack, (at.isn + 1 + at.syn_len) % M32) < M32 // 2 and not at.synacks:
            at.server_acked = f
        if x & FIN:
            at.fins.append((f, "server"))
            f.role = "FIN (server)"
        elif f.len:
            f.role = "server data"
        else:
            f.role = "server ACK"
        if at.server_acked is f:
            f.role += " (acks client data: the handshake happened)"
    # SYN-ACKs whose SYN never showed up: the attempt is implied by the acknowledgment number
    for tup, sas in pending_synacks.items():
        for sa in sas:
            at = next((t for t in tuples[tup] if t.isn == (sa.ack - 1) % M32), None)
            if at is None:
                at = Attempt(tup, (sa.ack - 1) % M32)
                tuples[tup].append(at)
            at.synacks.append(sa)
            at.frames.append(sa)
            sa.attempt = at
            sa.role = "SYN-ACK (its SYN is not in the capture)"
    return tuples, capture_start, capture_end, tw


def holder(at, before=None):
    """Who holds TIME_WAIT after this connection (as of time `before`): the first FIN's
    sender; both if the FINs crossed; none if a RST ended it; None while it is open."""
    resets = [r for r in at.resets if before is None or r[0].t <= before]
    fins = [x for x in at.fins if before is None or x[0].t <= before]
    if resets:
        return "none", resets
    if not fins:
        return None, None
    first, side = fins[0]
    other = next(((f, s) for f, s in fins if s != side), None)
    if other is None:
        return side, None
    f2 = other[0]
    if f2.flags & ACK and sub(f2.ack, (first.seq + first.len + 1) % M32) < M32 // 2:
        return side, None
    return "both", None


def next_due(at):
    """When the client's next retransmission would be due: 2 x the last interval, at least
    3 s after the last SYN (a Linux client's 1 s linear steps fall well inside)."""
    ts = [f.t for f in at.syns]
    last = ts[-1]
    iv = ts[-1] - ts[-2] if len(ts) > 1 else 0
    return last + max(3.0, 2 * iv)


def rows(tuples, start, end, tw, spec):
    refusers = {tuple(x) for x in spec.get("refusers", [])}   # (ip, port) of refusing services
    accepted = defaultdict(bool)
    for tup, ats in tuples.items():
        for at in ats:
            if at.synacks or at.server_acked:
                accepted[at.server] = True
    # evidence for time_wait_before_capture: servers seen silently dropping reused SYNs,
    # clients seen reusing ports into a server's TIME_WAIT
    out = []
    all_ats = [at for ats in tuples.values() for at in ats]
    all_ats.sort(key=lambda a: (a.first_no))
    index = {id(a): i for i, a in enumerate(all_ats)}
    info = {}
    for tup, ats in tuples.items():
        for i, at in enumerate(ats):
            prev = None
            for p in reversed(ats[:i]):
                if p.completed(before=at.first_t):
                    prev = p
                    break
            r = dict(at=at, prev=prev, half_open=any(p.synacks and not p.completed()
                                                     for p in ats[:i]))
            if prev is not None:
                before = [f for f in prev.frames if f.t <= at.first_t]
                endf = max(before, key=lambda f: (f.t, f.no)) if before else None
                h, _ = holder(prev, before=at.first_t)
                r["prev_end"] = endf
                r["holder"] = h or "-"
                r["open"] = h is None   # no FIN or RST yet: still open
                r["gap"] = at.first_t - endf.t if endf else None
            info[id(at)] = r
    silent = set()
    reusers = set()
    for at in all_ats:
        r = info[id(at)]
        if r["prev"] is not None and r["holder"] in ("server", "both") and r["gap"] is not None \
                and r["gap"] < tw:
            reusers.add(at.client[0])
            if not (at.synacks or at.rsts or at.icmps or at.challenges) and len(at.syns) > 1:
                silent.add(at.server)
    for at in all_ats:
        r = info[id(at)]
        ans = at.answer()
        if at.established():
            outcome = "established"
        elif at.rsts:
            outcome = "refused"
        elif at.icmps:
            outcome = "icmp_unreachable"
        elif at.challenges:
            outcome = "challenge_ack"
        elif at.syns and end >= next_due(at):
            outcome = "unanswered"
        else:
            outcome = "unknown"
        if at.synacks:
            eb = "syn_ack_before_syn" if at.before_syn else "syn_ack"
        elif at.server_acked:
            eb = "server_acked_data"
        elif at.hs_ack and at.client_data:
            eb = "client_handshake"
        else:
            eb = "-"
        prev = r["prev"]
        in_tw = prev is not None and r["holder"] in ("server", "both") and r["gap"] is not None \
            and r["gap"] < tw
        ignored_syns = ans is not None and at.syns and ans.t > at.syns[0].t and \
            at.syns.index(max((s for s in at.syns if s.t <= ans.t), key=lambda s: s.t)) > 0
        cause = "-"
        if outcome == "established":
            if at.server in refusers:
                cause = "application_refused"
            elif in_tw and (at.challenges or ignored_syns):
                cause = "server_time_wait"
        elif outcome == "refused":
            cause = "port_closed" if not accepted[at.server] else "application_refused"
        elif outcome in ("challenge_ack", "unanswered"):
            if prev is not None and r["open"]:
                cause = "open_4tuple"
            elif in_tw:
                cause = "server_time_wait"
            elif outcome == "challenge_ack" and prev is None and r["half_open"]:
                cause = "open_4tuple"
            elif outcome == "challenge_ack" and prev is None:
                cause = "time_wait_before_capture"
            elif outcome == "unanswered" and prev is None and at.first_t - start < tw and \
                    at.client[0] in reusers and at.server in silent:
                cause = "time_wait_before_capture"
            elif outcome == "unanswered":
                cause = "no_answer"
        elif outcome == "unknown" and in_tw:
            cause = "server_time_wait"
        if outcome == "icmp_unreachable":
            notes_icmp = ("ICMP error: no cause value is defined for ICMP errors yet (the schema "
                          "allows adding one; port_closed is the nearest for a port unreachable "
                          "from the server itself)")
        else:
            notes_icmp = None
        notes = []
        if len(at.syns) > 1:
            notes.append(f"{len(at.syns)} SYNs")
        if ans is not None and at.syns:
            k = at.syns.index(max((s for s in at.syns if s.t <= ans.t), key=lambda s: s.t,
                                  default=at.syns[0]))
            if k:
                notes.append(f"answer followed SYN #{k} (0 = first)")
        if at.syn_len:
            notes.append(f"SYN carries {at.syn_len} bytes (TFO)")
        if at.challenges and at.established():
            notes.append(f"{len(at.challenges)} challenge ACK(s) before the SYN-ACK")
        if at.client_rst_to_challenge:
            notes.append("client RST " + ",".join(str(f.no) for f in at.client_rst_to_challenge))
        if eb == "server_acked_data":
            notes.append(f"SYN-ACK not captured; server frame {at.server_acked.no} acks data")
        if eb == "client_handshake":
            notes.append(f"SYN-ACK not captured; handshake ACK {at.hs_ack.no}, data "
                         f"{at.client_data.no}")
        if prev is not None and r["open"]:
            notes.append(f"previous connection still open (last frame {r['prev_end'].no})")
        elif prev is not None and r["gap"] is not None:
            notes.append(f"gap {r['gap']:.6f} s")
        if at.established() and not at.completed():
            notes.append("handshake never completed (no ACK from the client)")
        if not at.syns:
            notes.append("SYN not in the capture")
        if notes_icmp:
            notes.append(notes_icmp)
        out.append(dict(
            at=at,
            first_syn_frame=str(at.syns[0].no) if at.syns else "-",
            client=ep(*at.client), server=ep(*at.server), isn=str(at.isn),
            syn_frames=",".join(str(f.no) for f in at.syns) or "-",
            answer_frame=str(ans.no) if ans is not None else "-",
            outcome=outcome, established_by=eb,
            previous_connection_end_frame=str(r["prev_end"].no) if prev is not None and
            r.get("prev_end") is not None else "-",
            time_wait_holder=r["holder"] if prev is not None else "-",
            expected_cause=cause, notes="; ".join(notes)))
    for o in out:
        over = spec.get("override", {}).get(o["first_syn_frame"]) or \
            spec.get("override", {}).get(o["isn"])
        if over:
            for k, v in over.items():
                if k == "notes+":
                    o["notes"] = (o["notes"] + "; " if o["notes"] else "") + v
                else:
                    o[k] = v
    return out


COLS = ["first_syn_frame", "client", "server", "isn", "syn_frames", "answer_frame", "outcome",
        "established_by", "previous_connection_end_frame", "time_wait_holder", "expected_cause",
        "notes"]


def write_tsv(out, path):
    with open(path, "w") as f:
        f.write("\t".join(COLS) + "\n")
        for o in out:
            f.write("\t".join(o[c] for c in COLS) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("capture")
    p.add_argument("--spec")
    p.add_argument("--tsv")
    a = p.parse_args()
    spec = json.load(open(a.spec)) if a.spec else {}
    frames = read_frames(a.capture)
    mark_duplicates(frames)
    tuples, s, e, tw = analyze(frames, spec)
    out = rows(tuples, s, e, tw, spec)
    if a.tsv:
        write_tsv(out, a.tsv)
    else:
        sys.stdout.write("\t".join(COLS) + "\n")
        for o in out:
            sys.stdout.write("\t".join(o[c] for c in COLS) + "\n")


if __name__ == "__main__":
    main()
