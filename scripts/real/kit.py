"""Shared parts of scripts/real/make.py: namespaces (lab.py), the expected account
(expect.py), notes per capture, tshark comparison, publishing."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expect  # noqa: E402
import lab as L  # noqa: E402
from lab import Lab, log, sh  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "testdata", "real")
GROUPS = {}


def group(name, cls, outputs):
    def deco(fn):
        GROUPS[name] = dict(fn=fn, cls=cls, outputs=outputs)
        return fn
    return deco


class Output:
    """One capture file to publish, with what the analysis must show."""

    def __init__(self, name, path, cls, how, kernel, spec=None, check=None, judgement="",
                 truth=None):
        self.name, self.path, self.cls = name, path, cls
        self.how, self.kernel = how, kernel
        self.spec = spec or {}
        self.check = check
        self.judgement = judgement
        self.truth = truth          # Output holding the two-direction truth, for halves


def outcomes(rows):
    return [r["outcome"] for r in rows]


def need(cond, what):
    if not cond:
        if isinstance(what, list) and what and isinstance(what[0], dict):
            what = [(r["first_syn_frame"], r["outcome"], r["expected_cause"]) for r in what]
        elif isinstance(what, dict):
            what = {k: v for k, v in what.items() if k != "at"}
        raise AssertionError(str(what)[:1500])


def editcap(*args):
    sh(["editcap"] + list(args))


def mergecap(*args):
    sh(["mergecap"] + list(args))


def tool_versions():
    tcpdump = sh(["tcpdump", "--version"]).splitlines()[0]
    tshark = sh(["tshark", "--version"]).splitlines()[0]
    return f"Linux {os.uname().release}, {tcpdump}, {tshark.split(' (')[0]}"


def frames_of(path):
    fr = expect.read_frames(path)
    expect.mark_duplicates(fr)
    return fr


# ------------------------------------------------------------------ analysis & notes --
def account(out):
    """Rows of the expected account for an Output (truth-mapped for halves)."""
    frames = frames_of(out.path)
    tuples, s, e, tw = expect.analyze(frames, out.spec)
    rows = expect.rows(tuples, s, e, tw, out.spec)
    if out.truth is not None:
        rows = map_halves(out, frames, rows)
    return frames, rows


def pkey(f):
    return (f.src, f.dst, f.sport, f.dport, f.flags, f.seq, f.ack, f.len, f.ipid, f.quoted)


def map_halves(out, frames, own_rows):
    """Rows for a one-direction (or SYN-ACK-less) capture: outcome, holder and cause are
    the truth from the two-direction capture made at the same time; frame numbers are this
    capture's; what this capture shows decides established_by."""
    tframes, trows = account(out.truth)
    here = {}
    for f in frames:
        if f.dup_of is None:
            here.setdefault(pkey(f), f.no)
    tmap = {f.no: here.get(pkey(f)) for f in tframes}
    own = {(r["client"], r["server"], r["isn"]): r for r in own_rows}
    rows, invisible = [], []
    for r in trows:
        at = r["at"]
        nums = [tmap.get(f.no) for f in at.frames]
        if not any(nums):
            invisible.append(r)
            continue
        syns = [tmap.get(f.no) for f in at.syns if tmap.get(f.no)]
        ans = at.answer()
        o = dict(r)
        o["first_syn_frame"] = str(syns[0]) if syns else "-"
        o["syn_frames"] = ",".join(map(str, syns)) or "-"
        o["answer_frame"] = str(tmap.get(ans.no)) if ans is not None and tmap.get(ans.no) else "-"
        mine = own.get((r["client"], r["server"], r["isn"]))
        o["established_by"] = mine["established_by"] if mine else "-"
        if r["outcome"] != "established":
            o["established_by"] = "-"
        pe = r["previous_connection_end_frame"]
        if pe != "-":
            pe_frame = next(f for f in tframes if f.no == int(pe))
            prev = pe_frame.attempt
            seen = [tmap.get(f.no) for f in prev.frames if tmap.get(f.no)
                    and f.t <= pe_frame.t]
            o["previous_connection_end_frame"] = str(max(seen)) if seen else "-"
        ev = []
        if not syns and at.icmps and o["answer_frame"] != "-":
            ev.append("SYN not in this capture (the ICMP error quotes it)")
        elif not syns and (at.synacks or at.rsts) and (o["answer_frame"] != "-"):
            ev.append("SYN not in this capture (implied by the answer's ack)")
        elif not syns:
            ev.append("SYN not in this capture; the ISN is the truth's: nothing here "
                      "acknowledges it (a challenge ACK acknowledges the old connection)")
        if o["answer_frame"] == "-" and ans is not None:
            ev.append(f"answer ({ans.role}) not in this capture")
            half_end = max(f.t for f in frames)
            last_syn_t = max((f.t for f in frames if f.no in set(syns)), default=half_end)
            if r["outcome"] in ("refused", "icmp_unreachable") and half_end - last_syn_t < 1.5:
                ev.append("from this side alone: the capture ends right after the SYN, so "
                          "nothing tells what answered it")
            elif r["outcome"] in ("refused", "icmp_unreachable") and len(syns) <= 2:
                ev.append(f"from this side alone: {len(syns)} SYN(s), then no retransmission "
                          "although the capture goes on, so something ended the attempt (a "
                          "silently dropped Linux SYN is retransmitted after 1 s); whether a "
                          "RST or an ICMP error cannot be told (Linux stops at a RST at once, "
                          "and at a port unreachable at once or at the next SYN)")
        o["notes"] = "; ".join(ev + ([f"truth: {out.truth.name} frame {r['first_syn_frame']}"]
                                     + ([r["notes"]] if r["notes"] else [])))
        over = out.spec.get("half_override", {}).get(r["first_syn_frame"])
        if over:
            o.update(over)
        rows.append(o)
    rows.sort(key=lambda o: min(int(x) for x in [o["first_syn_frame"], o["answer_frame"]]
                                if x != "-") if (o["first_syn_frame"] != "-" or
                                                 o["answer_frame"] != "-") else 0)
    out.invisible = invisible
    return rows


def frame_table(frames, limit=80, only_control=False):
    t0 = frames[0].t if frames else 0
    lines = ["| frame | time (s) | from | to | flags | seq (raw) | ack (raw) | len | IP ID | "
             "expected account | tshark's expert info |",
             "| ---: | ---: | --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    shown = 0
    skipped = 0
    for f in frames:
        if only_control and f.dup_of is None and not (f.flags & (SYN | FIN | RST)) and \
                not f.icmp and "challenge" not in f.role and "handshake" not in f.role and \
                "acks client data" not in f.role:
            skipped += 1
            continue
        if shown >= limit:
            skipped += 1
            continue
        shown += 1
        role = f.role
        if f.dup_of is not None:
            role = f"copy of frame {f.dup_of}"
        elif f.attempt is not None:
            role += f" [attempt {f.attempt.idx}]" if hasattr(f.attempt, "idx") else ""
        if f.icmp:
            lines.append(f"| {f.no} | {f.t - t0:.6f} | {f.src} | {f.dst} | ICMP type {f.icmp} "
                         f"| | | | | {role} | {'; '.join(f.expert)} |")
            continue
        lines.append(f"| {f.no} | {f.t - t0:.6f} | {expect.ep(f.src, f.sport)} | "
                     f"{expect.ep(f.dst, f.dport)} | {f.fl()} | {f.seq} | "
                     f"{f.ack if f.flags & ACK else ''} | {f.len} | {f.ipid} | {role} | "
                     f"{'; '.join(f.expert)} |")
    if skipped:
        lines.append("")
        lines.append(f"({skipped} more frames not shown" +
                     (": data and pure ACKs of established connections" if only_control else "")
                     + ".)")
    return "\n".join(lines)


SYN, ACK, FIN, RST = expect.SYN, expect.ACK, expect.FIN, expect.RST
RETX = "This frame is a (suspected) retransmission"
REUSED = "A new tcp session is started with the same ports as an earlier session in this trace"


def tshark_compare(frames, rows):
    """Where tshark's tcp.analysis flags and stream split differ from the expected account."""
    notes = []
    live = [f for f in frames if f.dup_of is None]
    syns = [f for f in live if f.flags & SYN and not f.flags & ACK]
    by_at = {}
    for r in rows:
        by_at[(r["client"], r["server"], r["isn"])] = r
    new_but_retx = [f.no for f in syns if f.role.startswith("SYN") and "retrans" not in f.role
                    and RETX in f.expert]
    retx_but_new = [f.no for f in syns if "retrans" in f.role and RETX not in f.expert]
    reused_flag = [f for f in syns if REUSED in f.expert]
    reused_wrong = []
    for f in reused_flag:
        at = f.attempt
        r = by_at.get((expect.ep(*at.client), expect.ep(*at.server), str(at.isn))) if at else None
        if r is None or r["previous_connection_end_frame"] == "-":
            reused_wrong.append(f.no)
    reuse_missed = []
    first_syn = {}
    for f in syns:
        first_syn.setdefault((expect.ep(f.src, f.sport), expect.ep(f.dst, f.dport), str(f.seq)), f)
    for r in rows:
        f = first_syn.get((r["client"], r["server"], r["isn"]))
        if r["previous_connection_end_frame"] != "-" and f is not None and REUSED not in f.expert:
            reuse_missed.append(f.no)

    def lst(xs):
        xs = list(xs)
        s = ", ".join(map(str, xs[:12]))
        return s + (f" and {len(xs) - 12} more" if len(xs) > 12 else "")
    if new_but_retx:
        notes.append(f"tshark calls {len(new_but_retx)} SYN(s) with a new ISN a retransmission "
                     f"(frames {lst(new_but_retx)}); each starts an attempt of its own here. "
                     "Expected account right: a retransmitted SYN repeats its ISN.")
    if retx_but_new:
        notes.append(f"tshark does not flag {len(retx_but_new)} SYN(s) that repeat an earlier "
                     f"ISN as retransmissions (frames {lst(retx_but_new)}); here they belong "
                     f"to the attempt of that ISN. Expected account right: tshark compares a "
                     f"SYN only with the latest SYN of the 4-tuple, so a retransmission after a "
                     f"SYN with another ISN looks new to it.")
    if reused_wrong:
        notes.append(f"tshark flags {len(reused_wrong)} SYN(s) as 'new session with the same "
                     f"ports' (tcp.analysis.reused_ports) where no earlier connection on the "
                     f"4-tuple completed its handshake (frames {lst(reused_wrong)}). Both are "
                     f"right about different things: tshark's flag means only 'same ports, "
                     f"another ISN'; a reuse (of a connection, with a gap and a TIME_WAIT "
                     f"holder) needs an earlier completed connection, and there is none.")
    if reuse_missed:
        notes.append(f"tshark does not flag reused ports on {len(reuse_missed)} reuse(s) "
                     f"(frames {lst(reuse_missed)}).")
    dups = [f for f in frames if f.dup_of is not None]
    if dups:
        kinds = {}
        for f in dups:
            k = "; ".join(m for m in f.expert if m.startswith(("This frame", "Dup", "TCP", "A new",
                                                               "Previous", "ACKed", "The ")))
            kinds.setdefault(k or "(no flag)", []).append(f.no)
        parts = [f"{len(v)} as '{k}'" for k, v in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
        notes.append(f"{len(dups)} frames are copies of an earlier frame (same header fields, "
                     f"IP ID included, within {expect.DUP_WINDOW * 1000:.0f} ms or with the same "
                     f"timestamp); tshark labels them: " + ", ".join(parts) + ". Expected "
                     "account right: Linux gives every packet it sends, retransmissions "
                     "included, a new IP ID (and with timestamps a new TSval), so an "
                     "identical frame is the capture's copy, not a retransmission or a "
                     "duplicate ACK sent by a host; tshark has no notion of capture duplicates.")
    chal = [f for f in live if f.role.startswith("challenge ACK")]
    if chal:
        kinds = {}
        for f in chal:
            kinds.setdefault("; ".join(f.expert) or "(no flag)", []).append(f.no)
        notes.append("challenge ACKs: tshark labels " + ", ".join(
            f"{len(v)} as '{k}'" for k, v in kinds.items()) + "." + (
            " 'ACKed segment that wasn't captured' is wrong: the ACK acknowledges the "
            "previous connection's last sequence number (which tshark shows in another "
            "stream or which came before the capture), not a segment of the new SYN's "
            "stream that was missed." if any("wasn't captured" in k for k in kinds) else ""))
    # tshark's expert messages by the expected account's reading of the frame
    table = {}
    skip = ("Connection establish", "Connection finish", "This frame initiates",
            "This frame undergoes", "Connection reset (RST)")
    for f in frames:
        role = "copy" if f.dup_of is not None else (f.role.split(" (")[0].split(" [")[0]
                                                    or "-")
        for m in f.expert:
            if m.startswith(skip):
                continue
            m = "Duplicate ACK" if m.startswith("Duplicate ACK") else m
            table.setdefault((role, m), []).append(f.no)
    if table:
        notes.append("tshark's other expert messages, by the expected account's reading of "
                     "the frame: " + "; ".join(
                         f"{role}: '{m}' x{len(v)} (frames {lst(v)})"
                         for (role, m), v in sorted(table.items())) + ".")
    streams = {f.stream for f in frames if f.stream != ""}
    notes.append(f"tshark splits the TCP frames into {len(streams)} stream(s) (tcp.stream); the "
                 f"expected account has {len(rows)} attempt(s).")
    return notes


def summary(rows):
    c = {}
    for r in rows:
        c[r["outcome"]] = c.get(r["outcome"], 0) + 1
    return ", ".join(f"{c[o]} {o}" for o in expect.ORDER if o in c) or "none"


def cause_summary(rows):
    c = {}
    for r in rows:
        c[r["expected_cause"]] = c.get(r["expected_cause"], 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(c.items(), key=lambda kv: kv[0]))


# Judgements written by hand after reading tshark's account of each capture (the automatic
# bullets above them say who is right for the generic disagreements).
JUDGEMENTS = {
    "linux-synack-before-syn.pcap": (
        "tshark reads each SYN-ACK that sorts before its SYN against the previous session on "
        "the 4-tuple: it calls them 'TCP SYN-ACK accepting TFO data' (there is no TFO here: "
        "they acknowledge ISN+1 of a SYN that comes 100 ms later), 'ACKed segment that "
        "wasn't captured' and 'Previous segment(s) not captured' (nothing is missing), and a "
        "request that follows the server's early ACK of it a 'spurious retransmission'. All "
        "of these are artefacts of the shifted clock; the expected account (SYN-ACK matched "
        "to its SYN by acknowledgment number, established_by syn_ack_before_syn) is right."),
    "linux-synack-not-captured.pcap": (
        "tshark says nothing about the missing SYN-ACKs (no expert message on the handshake "
        "ACK or the data); it still puts each connection in its own stream. The expected "
        "account calls all three established from the server's ACK of the request."),
    "dup-appended.pcap": (
        "tshark starts 3 new streams at the copied SYNs (7 streams for 4 attempts) and flags "
        "them 'new session with the same ports'; the rest of the copy passes without a flag. "
        "The expected account is right: frames with the same header fields and the same "
        "timestamp are the file repeated, not new connections."),
    "linux-syn-storm-interleaved.pcap": (
        "tshark loses the real client's connection among the storm: its two retransmissions "
        "(frames 18 and 24) follow storm SYNs with other ISNs and become "
        "new streams instead of retransmissions; the challenge ACKs of the open connection "
        "are 'ACKed segment that wasn't captured' in the storm SYN's stream. The expected "
        "account (one ISN, one attempt, matched however late) is right."),
    "linux-syn-flood.pcap.gz": (
        "tshark agrees on the 2,103 attempts (2,103 streams). Its 'new session with the same "
        "ports' on the 100 second SYNs is true of the ports only: none of the spoofed "
        "handshakes completed, so none is a reuse of a connection. The 3 bare ACKs from "
        "request sockets in SYN_RECV carry no tshark flag."),
}
for _h in ("linux-tw-ts-on-server-only.pcap", "linux-mixed-server-only.pcap",
           "emu-silent-drop-mid-server-only.pcap", "linux-tw-never-let-in-server-only.pcap",
           "linux-tw-ts-off-bigxfer-server-only.pcap"):
    JUDGEMENTS[_h] = (
        "Without the client's SYNs tshark cannot see where a new connection on a reused "
        "4-tuple starts, so it runs several connections into one stream (fewer streams than "
        "attempts). The expected account takes the attempts from the SYN-ACKs' "
        "acknowledgment numbers and the truth from the two-direction capture.")


def write_notes(out, frames, rows, dest_dir):
    size = os.path.getsize(out.path)
    live = [f for f in frames if f.dup_of is None]
    md = [f"# {out.name}", "",
          f"Class {out.cls}. {size} bytes, {len(frames)} frames"
          + (f" ({len(frames) - len(live)} of them copies)" if len(frames) != len(live) else "")
          + f", {len(rows)} attempt(s): {summary(rows)}. Expected causes: {cause_summary(rows)}.",
          "", "## How it was made", "", out.how.strip(), "",
          "## What the kernel did", "", out.kernel.strip(), ""]
    meta = {"class": out.cls, "spec": out.spec, "judgement": out.judgement,
            "truth": out.truth.name if out.truth is not None else None}
    md.insert(1, "<!-- meta (read by make.py --renote): " + json.dumps(meta) + " -->")
    if getattr(out, "invisible", None):
        md += [f"Attempts of the two-direction capture that leave no frame in this one "
               f"({len(out.invisible)}): " + ", ".join(
                   f"{r['client']} ISN {r['isn']} ({r['outcome']})" for r in out.invisible[:20])
               + (" ..." if len(out.invisible) > 20 else "") + ".", ""]
    md += ["## Expected account", "",
           f"`{out.name}.expect.tsv`, one row per attempt (derived by scripts/real/expect.py "
           "from tshark's fields, checked by scripts/real/make.py against what the kernels "
           "were made to do):", ""]
    if len(rows) <= 40:
        md.append("| " + " | ".join(expect.COLS) + " |")
        md.append("|" + " --- |" * len(expect.COLS))
        for r in rows:
            md.append("| " + " | ".join(r[c] for c in expect.COLS) + " |")
    else:
        md.append(f"({len(rows)} rows; see the TSV.)")
    md += ["", "## tshark's analysis against the expected account", ""]
    md += [f"- {n}" for n in tshark_compare(frames, rows)]
    judgement = out.judgement or JUDGEMENTS.get(out.name, "")
    if judgement:
        md += ["", "Judgement: " + judgement.strip()]
    md += ["", "## Frame by frame", "",
           "tshark fields (`frame.number frame.time_relative ip.src tcp.srcport ip.dst "
           "tcp.dstport tcp.flags tcp.seq_raw tcp.ack_raw tcp.len ip.id _ws.expert.message`), "
           "with the expected account's reading of each frame.", ""]
    many = len(frames) > 80
    md.append(frame_table(frames, limit=120 if many else 80, only_control=many))
    with open(os.path.join(dest_dir, out.name + ".expect.md"), "w") as f:
        f.write("\n".join(md) + "\n")


# ----------------------------------------------------------------------------- helpers --
SPORT = 8110


def std_how(lab, extra=""):
    return (f"Namespaces `{lab.c}` (client {lab.cip}) and `{lab.s}` (server {lab.sip})"
            + (f" joined through the bridge namespace `{lab.b}`" if lab.bridge else
               " joined by a veth pair")
            + f". Sysctls set: {lab.describe_sysctls()}. " + extra)





# ------------------------------------------------------------------------------ main --
def run_group(name, stage):
    g = GROUPS[name]
    last = None
    for attempt in range(1, int(os.environ.get("PR3_TRIES", "3")) + 1):
        log(f"{name}: try {attempt}")
        gdir = os.path.join(stage, name)
        shutil.rmtree(gdir, ignore_errors=True)
        os.makedirs(gdir)
        try:
            outs = g["fn"](gdir)
            results = []
            for out in outs:
                frames, rows = account(out)
                for i, r in enumerate(rows):
                    r["at"].idx = i + 1
                if out.check:
                    out.check(rows)
                results.append((out, frames, rows))
            return results
        except Exception as e:  # noqa: BLE001
            last = e
            log(f"{name}: {type(e).__name__}: {e}")
            traceback.print_exc()
    raise RuntimeError(f"{name}: behaviour not seen after 3 tries: {last}")


def publish(results):
    for out, frames, rows in results:
        dst = os.path.join(OUT, out.name)
        shutil.copyfile(out.path, dst)
        os.chmod(dst, 0o644)
        expect.write_tsv(rows, os.path.join(OUT, out.name + ".expect.tsv"))
        write_notes(out, frames, rows, OUT)
        log(f"published {out.name}: {os.path.getsize(dst)} bytes, {len(frames)} frames, "
            f"{summary(rows)}")


def read_note(name):
    import re
    md = open(os.path.join(OUT, name + ".expect.md")).read()
    meta = json.loads(re.search(r"<!-- meta \(read by make.py --renote\): (.*) -->", md).group(1))

    def sec(title):
        m = re.search(rf"^## {re.escape(title)}\n\n(.*?)(?=^## |\Z)", md, re.S | re.M)
        return m.group(1).strip() if m else ""
    kernel = sec("What the kernel did").split("\n\nAttempts of the two-direction capture")[0]
    out = Output(name, os.path.join(OUT, name), meta["class"], sec("How it was made"), kernel,
                 spec=meta["spec"], judgement=meta.get("judgement", ""))
    if meta.get("truth"):
        out.truth = read_note(meta["truth"])
    return out


def renote(names):
    import glob
    names = names or sorted(os.path.basename(p)[:-len(".expect.md")]
                            for p in glob.glob(os.path.join(OUT, "*.expect.md")))
    for name in names:
        out = read_note(name)
        frames, rows = account(out)
        for i, r in enumerate(rows):
            r["at"].idx = i + 1
        expect.write_tsv(rows, os.path.join(OUT, name + ".expect.tsv"))
        write_notes(out, frames, rows, OUT)
        log(f"renoted {name}: {summary(rows)}")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "readme.py")],
                   check=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*")
    p.add_argument("--list", action="store_true")
    p.add_argument("--keep-going", action="store_true")
    p.add_argument("--describe", metavar="CAPTURE",
                   help="only write CAPTURE.expect.tsv/.md for a capture already in testdata/real "
                        "(scripts/real-captures.sh uses it for its own four)")
    p.add_argument("--class", dest="cls", default="C")
    p.add_argument("--renote", nargs="*", metavar="CAPTURE",
                   help="re-derive NAME.expect.tsv/.md of published captures (all if none named) "
                        "from the captures and their notes, without making anything")
    p.add_argument("--how-file")
    p.add_argument("--kernel-file")
    a = p.parse_args()
    if a.renote is not None:
        renote(a.renote)
        return
    if a.describe:
        out = Output(a.describe, os.path.join(OUT, a.describe), a.cls,
                     open(a.how_file).read(), open(a.kernel_file).read())
        frames, rows = account(out)
        for i, r in enumerate(rows):
            r["at"].idx = i + 1
        expect.write_tsv(rows, os.path.join(OUT, out.name + ".expect.tsv"))
        write_notes(out, frames, rows, OUT)
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "readme.py")],
                       check=True)
        return
    if a.list:
        for n, g in GROUPS.items():
            print(f"{n}\tclass {g['cls']}\t{' '.join(g['outputs'])}")
        return
    if os.geteuid() != 0:
        raise SystemExit("make.py: must run as root (network namespaces, tcpdump, nft)")
    names = a.names or list(GROUPS)
    for n in names:
        if n not in GROUPS:
            raise SystemExit(f"make.py: unknown group {n} (see --list)")
    stage = L.tempfile.mkdtemp(prefix="pr3-stage.")
    failed = []
    try:
        for n in names:
            try:
                publish(run_group(n, stage))
            except Exception as e:  # noqa: BLE001
                if not a.keep_going:
                    raise
                failed.append(n)
                log(f"{n} FAILED: {e}")
    finally:
        if os.environ.get("PR3_KEEP"):
            log(f"kept {stage}")
        else:
            shutil.rmtree(stage, ignore_errors=True)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "readme.py")],
                   check=True)
    if failed:
        raise SystemExit(f"failed: {' '.join(failed)}")


