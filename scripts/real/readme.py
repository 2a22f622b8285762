"""Re-write testdata/real/README.md from the NAME.expect.md note of every capture there."""
import glob
import os
import re
import subprocess

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "testdata", "real")

HEAD = """# Real Linux captures

Every capture here was made from real Linux TCP stacks in network namespaces created for it
(nothing leaves them), by `sudo scripts/real-captures.sh` (all of them) or
`sudo scripts/real-captures.sh GROUP...` (see `scripts/real/make.py --list`). Made on
{versions}. Needs root, iproute2, nftables, tcpdump, tshark, editcap, mergecap, python3.

Each capture `NAME` comes with:
- `NAME.expect.tsv`: the expected account, one row per connection attempt (a SYN without ACK
  with one ISN on a 4-tuple; every later SYN with that ISN belongs to it). Derived by
  `scripts/real/expect.py` from tshark's fields (raw seq/ack, flags, lengths, IP ID), from
  the definitions of the issues, never from portreuse; checked by `scripts/real/make.py`
  against what the kernels were made to do, and by eye.
- `NAME.expect.md`: how it was made (commands, sysctls), what the kernels did, the expected
  account as a table, where tshark's own analysis (tcp.analysis.*, tcp.stream) disagrees and
  who is right, and tshark's frame-by-frame account.

Columns of the TSV:
`first_syn_frame` (frame numbers are tshark's, 1-based; `-` when the SYN is not in the
capture), `client`, `server` (ip:port, IPv6 as [ip]:port), `isn` (raw), `syn_frames`,
`answer_frame` (the SYN-ACK / RST / ICMP error / first challenge ACK, in that precedence, or
`-`), `outcome` (established > refused > icmp_unreachable > challenge_ack > unanswered >
unknown; `unanswered` only when the capture goes on at least max(3 s, 2 x the last SYN
interval) after the last SYN, else `unknown`), `established_by` (syn_ack |
syn_ack_before_syn | server_acked_data | client_handshake | -),
`previous_connection_end_frame` (last packet, before this attempt's first SYN, of the latest
earlier connection on the same 4-tuple that had completed its handshake by then),
`time_wait_holder` of that connection (the side that sent the first FIN; both when the FINs
crossed; none when a RST ended it; `-` when there is none or it was still open),
`expected_cause` (server_time_wait | time_wait_before_capture | open_4tuple | port_closed |
application_refused | no_answer | `-` for attempts that simply worked or are undecided),
`notes`.

For one-direction captures (`*-client-only.pcap`, `*-server-only.pcap`) and captures with
frames filtered out, outcome, holder and cause are the truth taken from the two-direction
capture made at the same moment (named in the notes); frame numbers are the capture's own,
and `-` where a frame is not in it. Attempts that leave no frame at all in a one-direction
capture (unanswered SYNs seen from the server side) have no row; the .expect.md lists them.

The Linux captures are judged with Linux's 60 s TIME_WAIT (`--time-wait 60s`).

## The captures

| capture | class | bytes | frames | attempts | outcomes | causes |
| --- | --- | ---: | ---: | ---: | --- | --- |
"""


def section(md, title):
    m = re.search(rf"^## {re.escape(title)}\n\n(.*?)(?=^## |\Z)", md, re.S | re.M)
    return m.group(1).strip() if m else ""


def main():
    notes = sorted(glob.glob(os.path.join(OUT, "*.expect.md")))
    tool = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    tcpd = subprocess.run(["tcpdump", "--version"], capture_output=True, text=True).stdout
    versions = (f"Linux {os.uname().release}, {tcpd.splitlines()[0]}, "
                f"{tool.splitlines()[0].split(' (')[0]}")
    rows = []
    for path in notes:
        md = open(path).read()
        name = os.path.basename(path)[:-len(".expect.md")]
        first = md.split("\n\n", 2)[1]
        m = re.match(r"Class (\S+)\. (\d+) bytes, (\d+) frames(?: \([^)]*\))?, (\d+) attempt\(s\): "
                     r"(.*?)\. Expected causes: (.*?)\.$", first.strip())
        if not m:
            raise SystemExit(f"readme: cannot read the summary line of {path}")
        cls, size, frames, n, outc, causes = m.groups()
        rows.append((cls, name, size, frames, n, outc, causes,
                     f"### {name}\n\nClass {cls}. {first.split('. ', 1)[1].strip()}\n\n"
                     f"**How it was made.** {section(md, 'How it was made')}\n\n"
                     f"**What the kernel did.** {section(md, 'What the kernel did')}\n\n"
                     f"Expected account: [`{name}.expect.tsv`]({name}.expect.tsv); tshark "
                     f"frame by frame and where it disagrees: [`{name}.expect.md`]"
                     f"({name}.expect.md).\n"))
    rows.sort(key=lambda r: (r[0], r[1]))
    text = HEAD.format(versions=versions)
    for cls, name, size, frames, n, outc, causes, _ in rows:
        text += f"| `{name}` | {cls} | {size} | {frames} | {n} | {outc} | {causes} |\n"
    text += "\n## Per capture\n\n" + "\n".join(r[7] for r in rows)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
