#!/usr/bin/env bash
# Benchmark portreuse against tcpdump and tshark on synthetic captures of ~1 M and ~10 M
# packets, check its counts against the generator's ground truth, and measure its peak RSS.
#
# Usage: bench/compare.sh            (from anywhere; builds in the repository it lives in)
#
# Environment:
#   BENCH_DIR=/tmp/portreuse-bench  where the captures are written and reused
#   RUNS=11              timed runs of portreuse (table, json) and tcpdump on the 1 M file
#   TSHARK_RUNS=3        timed runs of tshark on the 1 M file (~10 s each on 2 cores)
#   SKIP_TSHARK=1        no tshark at all
#   SKIP_10M=1           no 10 M capture (no generation, no RSS at 10 M)
#   BENCH_TSHARK_10M=1   also tshark's peak RSS on the 10 M file (~10 GB of RAM, ~2.5 min)
#   BENCH_1M_ARGS, BENCH_10M_ARGS  generator parameters (defaults below)
#
# What it does:
#   1. cargo build --release (binary and the synth example); generates the captures with the
#      deterministic generator unless BENCH_DIR already holds them (cache key: the generator's
#      sources and parameters), and prints the generator's ground truth.
#   2. On the 1 M file, wall-clock timings (bash $EPOCHREALTIME, warm page cache) of
#        portreuse FILE > /dev/null
#        portreuse --format json FILE > /dev/null
#        tcpdump -nr FILE 'tcp[tcpflags] & tcp-syn != 0' > /dev/null
#        tshark -r FILE -Y tcp.analysis.reused_ports > /dev/null
#      interleaved round by round (the order rotates each round), so machine drift hits all
#      tools alike; median, min and max; ratios of medians; packets/s and MB/s (10^6 bytes).
#   3. Peak RSS (GNU time's "Maximum resident set size") of portreuse (table and json) on the
#      1 M and 10 M files, of tcpdump and tshark on the 1 M file.
#   4. PASS/FAIL: the JSON summary (and the table's frame and attempt counts) equal the
#      generator's truth on both files; the JSON lists one attempt line per attempt; the peak
#      RSS at 10 M is within 25% of the one at 1 M.
#   5. A markdown table of the figures, with nproc, CPU, and the tools' versions.
# Exit status: 0 when every check passed, 1 when one failed, 2 on a build or tool error.
set -euo pipefail
export LC_ALL=C   # $EPOCHREALTIME with a '.', tools' messages in English

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/portreuse-bench}
RUNS=${RUNS:-11}
TSHARK_RUNS=${TSHARK_RUNS:-3}
SKIP_TSHARK=${SKIP_TSHARK:-0}
SKIP_10M=${SKIP_10M:-0}
BENCH_TSHARK_10M=${BENCH_TSHARK_10M:-0}
# ~6.1 frames per connection attempt, ~42 attempts/s: 66 minutes give 1,000,067 frames and
# 660 minutes 9,982,713. The same rates for both, so the 10 M file is the 1 M one's traffic
# going on ten times longer: the state a streaming analyser holds should not change.
BENCH_1M_ARGS=${BENCH_1M_ARGS:---minutes 66 --pop3-every 0.06 --web-every 0.04}
BENCH_10M_ARGS=${BENCH_10M_ARGS:---minutes 660 --pop3-every 0.06 --web-every 0.04}

PORTREUSE=$REPO/target/release/portreuse
SYNTH=$REPO/target/release/examples/synth

die() { echo "compare.sh: $*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*"; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $TSHARK_RUNS =~ ^[0-9]+$ ]] || die "TSHARK_RUNS must be a non-negative integer"
command -v cargo >/dev/null || die "cargo not found"
command -v python3 >/dev/null || die "python3 not found"
command -v tcpdump >/dev/null || die "tcpdump not found (apt-get install -y tcpdump)"
if [[ $SKIP_TSHARK != 1 ]]; then
    command -v tshark >/dev/null || die "tshark not found (apt-get install -y tshark, or SKIP_TSHARK=1)"
fi
if [[ ! -x /usr/bin/time ]] && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "compare.sh: installing GNU time (apt-get install -y time)" >&2
    apt-get install -y time >/dev/null 2>&1 || true
fi

W=$(mktemp -d /tmp/portreuse-bench-run.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$BENCH_DIR"

# ---------------------------------------------------------------------------------------------
# Helpers

now_us() {  # microseconds since the epoch
    local t=$EPOCHREALTIME
    echo $((10#${t/./}))
}

# peak_rss OUT_KB_FILE CMD...: runs CMD (stdout/stderr inherited), writes its peak RSS in KiB.
peak_rss() {
    local out=$1
    shift
    if [[ -x /usr/bin/time ]]; then
        local rc=0
        /usr/bin/time -f '%M' -o "$out.raw" "$@" || rc=$?
        tail -n 1 "$out.raw" > "$out"
        return $rc
    fi
    # Fallback without GNU time: the largest ru_maxrss of the (only) waited-for child.
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$out" "$@"
}

# timed NAME CMD...: one wall-clock run, stdout to /dev/null, appended to $W/NAME.us.
timed() {
    local name=$1
    shift
    local t0 t1 rc=0
    t0=$(now_us)
    "$@" > /dev/null 2> "$W/$name.err" || rc=$?
    t1=$(now_us)
    if [[ $rc -ne 0 ]]; then
        cat "$W/$name.err" >&2
        die "$name failed (exit $rc): $*"
    fi
    echo $((t1 - t0)) >> "$W/$name.us"
}

# tshark's timed runs also record its peak RSS (GNU time's fork/exec is ~1 ms of ~15 s).
timed_tshark() {
    local t0 t1 rc=0
    t0=$(now_us)
    peak_rss "$W/rss.tshark1M.$1" tshark -r "$F1" -Y tcp.analysis.reused_ports \
        > /dev/null 2> "$W/tshark.err" || rc=$?
    t1=$(now_us)
    if [[ $rc -ne 0 ]]; then
        cat "$W/tshark.err" >&2
        die "tshark failed (exit $rc)"
    fi
    echo $((t1 - t0)) >> "$W/tshark.us"
}

# gen LABEL ARGS: path of the capture for these generator arguments, generated if missing.
gen() {
    local label=$1 args=$2
    local tag key file truth
    tag=$(echo "$args" | tr -s ' -' '__' | tr -cd 'A-Za-z0-9_.')
    file=$BENCH_DIR/broken$tag.pcap
    truth=$file.truth
    key=$(cat "$REPO/examples/synth.rs" "$REPO/src/synth.rs" "$REPO/src/time.rs" \
        | sha256sum | cut -c1-16)
    if [[ -s $file && -s $truth ]] && [[ $(head -n 1 "$truth") == "key $key $args" ]]; then
        echo "$label: reusing $file" >&2
    else
        echo "$label: generating $file (synth broken $args)" >&2
        local t0 t1
        t0=$(now_us)
        # shellcheck disable=SC2086  # $args is a list of flags
        peak_rss "$W/rss.synth.$label" "$SYNTH" broken "$file.tmp" $args > "$W/truth.$label" \
            || die "generator failed"
        t1=$(now_us)
        mv "$file.tmp" "$file"
        { echo "key $key $args"; cat "$W/truth.$label"; } > "$truth"
        local ds=$(((t1 - t0) / 100000))
        echo "$label: generated in $((ds / 10)).$((ds % 10)) s," \
            "generator peak RSS $(cat "$W/rss.synth.$label") KiB" >&2
    fi
    echo "$file"
}

# ---------------------------------------------------------------------------------------------
say "build"
(cd "$REPO" && cargo build --release --quiet && cargo build --release --quiet --example synth) \
    || die "cargo build failed"
[[ -x $PORTREUSE && -x $SYNTH ]] || die "missing $PORTREUSE or $SYNTH after the build"

say "captures (BENCH_DIR=$BENCH_DIR)"
F1=$(gen 1M "$BENCH_1M_ARGS")
echo "1M  truth: $(tail -n 1 "$F1.truth")"
F10=
if [[ $SKIP_10M != 1 ]]; then
    F10=$(gen 10M "$BENCH_10M_ARGS")
    echo "10M truth: $(tail -n 1 "$F10.truth")"
fi
ls -l "$F1" ${F10:+"$F10"}

# ---------------------------------------------------------------------------------------------
say "timings on the 1 M file: $RUNS rounds"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$F1" > /dev/null    # page cache
# Warm-up (untimed): first-run effects (page faults in the binaries, libraries) hit no tool.
"$PORTREUSE" "$F1" > /dev/null
"$PORTREUSE" --format json "$F1" > /dev/null
tcpdump -nr "$F1" 'tcp[tcpflags] & tcp-syn != 0' > /dev/null 2>&1

tools=(portreuse portreuse_json tcpdump)
n_tshark=0
[[ $SKIP_TSHARK == 1 ]] || n_tshark=$TSHARK_RUNS
for ((i = 0; i < RUNS; i++)); do
    printf 'round %d/%d:' $((i + 1)) "$RUNS"
    for ((j = 0; j < ${#tools[@]}; j++)); do
        t=${tools[$(((i + j) % ${#tools[@]}))]}
        printf ' %s' "$t"
        case $t in
            portreuse) timed portreuse "$PORTREUSE" "$F1" ;;
            portreuse_json) timed portreuse_json "$PORTREUSE" --format json "$F1" ;;
            tcpdump) timed tcpdump tcpdump -nr "$F1" 'tcp[tcpflags] & tcp-syn != 0' ;;
        esac
    done
    # tshark in n_tshark rounds spread over the RUNS rounds.
    if ((n_tshark > 0 && (i * n_tshark) / RUNS != ((i + 1) * n_tshark) / RUNS)); then
        printf ' tshark'
        timed_tshark "$i"
    fi
    echo
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average (1/5/15 min) before the timings: $load_before; after: $load_after"

# ---------------------------------------------------------------------------------------------
say "peak RSS and ground-truth checks"
# json_summary PREFIX: reads the JSON document on stdin, keeps what follows the attempts
# (summary, cross table, ...) as PREFIX.json and the number of attempt lines as PREFIX.lines.
json_summary() {
    awk -v lines="$1.lines" '
        /^  "summary": / { tail = 1; print "{" }
        tail { print; next }
        /^    \{/ { n++ }
        END { print n + 0 > lines }' > "$1.json"
}

measure() {  # measure LABEL FILE: table and json runs under peak_rss, outputs kept for checks
    local label=$1 file=$2 t0 t1
    t0=$(now_us)
    peak_rss "$W/rss.portreuse.$label" "$PORTREUSE" "$file" > "$W/table.$label.txt" \
        || die "portreuse $file failed"
    t1=$(now_us)
    echo $((t1 - t0)) > "$W/single.portreuse.$label.us"
    t0=$(now_us)
    if ! peak_rss "$W/rss.portreuse_json.$label" "$PORTREUSE" --format json "$file" \
        | json_summary "$W/json.$label"; then
        die "portreuse --format json $file failed"
    fi
    t1=$(now_us)
    echo $((t1 - t0)) > "$W/single.portreuse_json.$label.us"
    echo "$label: portreuse peak RSS table $(cat "$W/rss.portreuse.$label") KiB," \
        "json $(cat "$W/rss.portreuse_json.$label") KiB"
}
measure 1M "$F1"
peak_rss "$W/rss.tcpdump.1M" tcpdump -nr "$F1" 'tcp[tcpflags] & tcp-syn != 0' \
    > /dev/null 2>&1 || die "tcpdump failed"
if [[ -n $F10 ]]; then
    cat "$F10" > /dev/null    # page cache (the single 10 M runs are timed too)
    measure 10M "$F10"
    if [[ $BENCH_TSHARK_10M == 1 && $SKIP_TSHARK != 1 ]]; then
        echo "10M: tshark (BENCH_TSHARK_10M=1; needs ~10 GB of RAM) ..."
        t0=$(now_us)
        peak_rss "$W/rss.tshark.10M" tshark -r "$F10" -Y tcp.analysis.reused_ports \
            > /dev/null 2> "$W/tshark10.err" || { cat "$W/tshark10.err" >&2; die "tshark 10M failed"; }
        t1=$(now_us)
        echo $((t1 - t0)) > "$W/single.tshark.10M.us"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Versions and machine, for the report.
{
    echo "portreuse=$("$PORTREUSE" --version) ($(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo '?'))"
    echo "rustc=$(rustc --version)"
    echo "tcpdump=$(tcpdump --version 2>&1 | sed -n 1p), $(tcpdump --version 2>&1 | sed -n 2p)"
    [[ $SKIP_TSHARK == 1 ]] || echo "tshark=$(tshark --version 2>/dev/null | sed -n 1p)"
    echo "nproc=$(nproc)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sort -u | head -n 1)"
    echo "mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "load=$load_before before, $load_after after the timings"
    echo "time_tool=$([[ -x /usr/bin/time ]] && echo 'GNU time %M' || echo 'python3 getrusage')"
} > "$W/versions"

F1="$F1" F10="$F10" RUNS="$RUNS" BENCH_1M_ARGS="$BENCH_1M_ARGS" BENCH_10M_ARGS="$BENCH_10M_ARGS" \
    python3 - "$W" <<'PY'
import json, os, re, statistics, sys

w = sys.argv[1]
path = lambda *p: os.path.join(w, *p)

def read(name, default=None):
    try:
        with open(path(name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default

def samples(tool):
    s = read(tool + ".us")
    return [int(x) / 1e6 for x in s.split()] if s else []

def kib(name):
    s = read(name)
    return int(s) if s else None

def truth_of(file):
    with open(file + ".truth") as f:
        line = f.read().splitlines()[-1]
    return {k: int(v) for k, v in re.findall(r"(\w+): (-?\d+)", line)}

versions = {k: v.rstrip(".") for k, v in (l.split("=", 1) for l in read("versions").splitlines())}
files = {"1M": os.environ["F1"]}
if os.environ.get("F10"):
    files["10M"] = os.environ["F10"]
args = {"1M": os.environ["BENCH_1M_ARGS"], "10M": os.environ["BENCH_10M_ARGS"]}
truth = {k: truth_of(f) for k, f in files.items()}
size = {k: os.path.getsize(f) for k, f in files.items()}

# ----------------------------------------------------------------------------- timings (1 M)
stats = {}
for tool in ["portreuse", "portreuse_json", "tcpdump", "tshark"]:
    s = samples(tool)
    if s:
        stats[tool] = dict(n=len(s), med=statistics.median(s), min=min(s), max=max(s))
frames1 = truth["1M"]["frames"]
base = stats["portreuse"]["med"]
print("\n== results: 1 M file, %s frames, %.1f MB" % (f"{frames1:,}", size["1M"] / 1e6))
print("%-16s %5s %9s %9s %9s %10s %12s %9s" % (
    "tool", "runs", "median s", "min s", "max s", "x portre.", "packets/s", "MB/s"))
for tool, st in stats.items():
    print("%-16s %5d %9.3f %9.3f %9.3f %10.1f %12s %9.0f" % (
        tool, st["n"], st["med"], st["min"], st["max"], st["med"] / base,
        f"{frames1 / st['med']:,.0f}", size["1M"] / 1e6 / st["med"]))
if "tcpdump" in stats:
    print("tcpdump/portreuse (median ratio): %.2f x" % (stats["tcpdump"]["med"] / base))
    print("tcpdump/portreuse --format json:  %.2f x" % (
        stats["tcpdump"]["med"] / stats["portreuse_json"]["med"]))
if "tshark" in stats:
    print("tshark/portreuse (median ratio):  %.1f x" % (stats["tshark"]["med"] / base))
print("portreuse: %s packets/s, %.0f MB/s (table); json: %s packets/s, %.0f MB/s" % (
    f"{frames1 / base:,.0f}", size["1M"] / 1e6 / base,
    f"{frames1 / stats['portreuse_json']['med']:,.0f}",
    size["1M"] / 1e6 / stats["portreuse_json"]["med"]))

# ----------------------------------------------------------------------------- RSS
rss = {}
for label in files:
    for tool in ["portreuse", "portreuse_json", "tcpdump"]:
        rss[(tool, label)] = kib(f"rss.{tool}.{label}")
ts = [kib(n) for n in os.listdir(w) if n.startswith("rss.tshark1M.") and not n.endswith(".raw")]
rss[("tshark", "1M")] = max(ts) if ts else None
rss[("tshark", "10M")] = kib("rss.tshark.10M")
print("\n== peak RSS (KiB)")
print("%-16s %12s %12s" % ("tool", "1 M", "10 M"))
for tool in ["portreuse", "portreuse_json", "tcpdump", "tshark"]:
    a, b = rss.get((tool, "1M")), rss.get((tool, "10M"))
    if a or b:
        print("%-16s %12s %12s" % (tool, f"{a:,}" if a else "-", f"{b:,}" if b else "-"))

# ----------------------------------------------------------------------------- checks
checks = []
def check(name, ok, detail):
    checks.append(ok)
    print("%s  %s  %s" % ("PASS" if ok else "FAIL", name, detail))

print("\n== checks against the generator's ground truth")
pairs = [("frames", "frames"), ("attempts", "syn_attempts"), ("established", "established"),
         ("refused", "refused"), ("unanswered", "unanswered"), ("unknown", "unknown"),
         ("syn_retransmits", "syn_retransmits"), ("reused_in_window", "reused_in_window"),
         ("unanswered_reused_in_window", "unanswered_reused_in_window")]
for label in files:
    t = truth[label]
    try:
        with open(path(f"json.{label}.json")) as f:
            summary = json.load(f)["summary"]
    except (OSError, ValueError, KeyError) as e:
        check(f"{label} json summary", False, f"unreadable: {e}")
        continue
    bad = [f"{tk}: truth {t[tk]} json {summary.get(jk)}" for tk, jk in pairs if summary.get(jk) != t[tk]]
    check(f"{label} json summary = truth", not bad,
          "; ".join(bad) if bad else ", ".join(f"{jk}={summary[jk]}" for _, jk in pairs))
    lines = int(read(f"json.{label}.lines", "0"))
    check(f"{label} json attempt lines = attempts", lines == t["attempts"],
          f"{lines} lines, truth {t['attempts']}")
    table = read(f"table.{label}.txt", "")
    want = [f"Read {t['frames']:,} frames", f"{t['attempts']:,} connection attempts"]
    missing = [s for s in want if s not in table]
    check(f"{label} table counts = truth", not missing,
          ("missing: " + "; ".join(missing)) if missing else "; ".join(want))
if "10M" in files:
    for tool in ["portreuse", "portreuse_json"]:
        a, b = rss[(tool, "1M")], rss[(tool, "10M")]
        check(f"{tool} peak RSS flat (10 M vs 1 M)", b <= a * 1.25,
              f"{a:,} KiB -> {b:,} KiB ({b / a:.2f} x for {truth['10M']['frames'] / frames1:.1f} x the frames)")

# ----------------------------------------------------------------------------- markdown
def ms(x):
    return f"{x * 1000:,.0f} ms" if x < 10 else f"{x:,.1f} s"
def mib(k):
    return f"{k / 1024:,.1f} MiB" if k else "–"
cmds = {
    "portreuse": "`portreuse FILE`",
    "portreuse_json": "`portreuse --format json FILE`",
    "tcpdump": "`tcpdump -nr FILE 'tcp[tcpflags] & tcp-syn != 0'`",
    "tshark": "`tshark -r FILE -Y tcp.analysis.reused_ports`",
}
print("\n== markdown\n")
f10 = truth.get("10M")
print(f"Synthetic captures (`cargo run --release --example synth -- broken OUT.pcap ARGS`): "
      f"1 M = `{args['1M']}` ({frames1:,} frames, {size['1M'] / 1e6:,.0f} MB)"
      + (f"; 10 M = `{args['10M']}` ({f10['frames']:,} frames, {size['10M'] / 1e6:,.0f} MB)" if f10 else "")
      + ". Output to /dev/null, warm page cache, wall clock, runs interleaved.\n")
print("| command | runs | median (1 M) | min – max | time / portreuse | packets/s | MB/s | peak RSS 1 M | peak RSS 10 M |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for tool, st in stats.items():
    print(f"| {cmds[tool]} | {st['n']} | {ms(st['med'])} | {ms(st['min'])} – {ms(st['max'])} | "
          f"{st['med'] / base:.1f} x | {frames1 / st['med']:,.0f} | {size['1M'] / 1e6 / st['med']:,.0f} | "
          f"{mib(rss.get((tool, '1M')))} | {mib(rss.get((tool, '10M')))} |")
single = {t: read(f"single.{t}.10M.us") for t in ["portreuse", "portreuse_json", "tshark"]}
if f10 and single["portreuse"]:
    parts = []
    for t in ["portreuse", "portreuse_json", "tshark"]:
        if single[t]:
            s = int(single[t]) / 1e6
            parts.append(f"{cmds[t]} {ms(s)} ({f10['frames'] / s:,.0f} packets/s)")
    print("\n10 M file, one run each (under the RSS wrapper; the json output piped to awk for "
          "the checks): " + "; ".join(parts) + ".")
print(f"\nMachine: {versions['nproc']} CPUs (nproc), {versions['cpu']}, {versions['mem']}, "
      f"Linux {versions['kernel']}. Versions: {versions['portreuse']}; {versions['rustc']}; "
      f"{versions['tcpdump']}" + (f"; {versions['tshark']}" if "tshark" in versions else "")
      + f". Peak RSS: {versions['time_tool']}. Load average (1/5/15 min): {versions['load']}.")
print(f"\nGround truth: {'PASS' if all(checks) else 'FAIL'} "
      f"({sum(checks)}/{len(checks)} checks).")
sys.exit(0 if all(checks) else 1)
PY
