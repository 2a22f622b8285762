#!/usr/bin/env python3
"""The benchmark behind bench/run.sh (python3 stdlib only; run.sh builds the binaries).

    bench.py --portreuse BIN --floor BIN [--quick] [--baseline BIN] [--rounds N]
             [--cache DIR] [--rss-cap-mib N] [--only NAME,...]

1. Generates (or reuses from --cache) the inputs: the three capture shapes of issue 12 (1 M
   packets NAT pool, 2.1 M packets with 34 k hosts, 1 M SYN flood), the NAT one also as
   pcapng and gzip, and the memory cases of issue 14. Generators are deterministic.
2. For each timing input, runs every command once untimed (warm-up; its output is kept for
   the correctness checks), then N rounds in which every command runs once, the order
   rotating from round to round. Per command: median wall time, the median over rounds of
   its time divided by the bare loop's time *in the same round* (paired ratio), the same
   against portreuse's table run, median CPU time (user + sys), and peak RSS (ru_maxrss from
   wait4, what GNU time prints as "Maximum resident set size"; for pipelines the largest
   process).
3. Runs the memory cases once each, stopped when their RSS passes --rss-cap-mib.
4. Prints PASS/FAIL for the ratio goals (issue 12), the memory goals (issue 14) and the
   correctness checks (counts against what the generators know), then a markdown summary.

Exit status: 0 when every correctness check passed (goals may fail: they are the yardstick),
1 when a correctness check failed, 2 when a tool or generator failed.
"""

import argparse
import ast
import datetime
import hashlib
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SYN_FILTER = "tcp[tcpflags] & tcp-syn != 0"
FORMATS = ["table", "json", "ndjson", "csv"]
MIB = 1024


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(2)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- running


class Run:
    __slots__ = ("wall", "cpu", "rss_kib", "rc", "stopped")

    def __init__(self, wall, cpu, rss_kib, rc, stopped):
        self.wall, self.cpu, self.rss_kib, self.rc, self.stopped = wall, cpu, rss_kib, rc, stopped


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


GNU_TIME = "/usr/bin/time"


def child_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def run(argv, stdout=None, stderr=None, cap_kib=None, timeout=None):
    """Runs argv under GNU time, which reports its peak RSS ("%M", ru_maxrss): a child forked
    by this python process would inherit python's own RSS as its starting high-water mark,
    GNU time's is ~2 MiB. Wall time from just before the fork to the exit (GNU time's own
    fork and exec included, the same ~1 ms for every command), CPU time (user + sys) from
    wait4. A watchdog thread kills the process group when the command's RSS passes cap_kib
    or it runs longer than timeout (stopped = "rss" / "timeout"). The child is waited for
    without being reaped first (WNOWAIT), so the watchdog never signals a recycled pid."""
    out = stdout if stdout is not None else subprocess.DEVNULL
    err = stderr if stderr is not None else subprocess.DEVNULL
    fd, rss_file = tempfile.mkstemp(prefix="portreuse-bench-rss.")
    os.close(fd)
    stopped = []
    done = threading.Event()
    t0 = time.perf_counter()
    p = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", rss_file] + argv, stdout=out,
                         stderr=err, start_new_session=True)

    def watch():
        cmd = None
        while not done.wait(0.05):
            cmd = cmd or child_of(p.pid)
            try:
                if cap_kib and cmd and vm_rss_kib(cmd) > cap_kib:
                    # Only the command: GNU time then still reports its peak RSS.
                    stopped.append("rss")
                    os.kill(cmd, 9)
                elif timeout and time.perf_counter() - t0 > timeout:
                    stopped.append("timeout")
                    os.killpg(p.pid, 9)
                else:
                    continue
            except OSError:
                pass
            return

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    while True:
        try:
            os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
            break
        except InterruptedError:
            continue
    t1 = time.perf_counter()
    done.set()
    w.join()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = 0
    try:
        with open(rss_file) as f:
            lines = f.read().split()
        rss = int(lines[-1]) if lines else 0
    except (OSError, ValueError):
        pass
    os.remove(rss_file)
    return Run(t1 - t0, ru.ru_utime + ru.ru_stime, rss, p.returncode,
               stopped[0] if stopped else None)


def sh(cmd):
    return ["sh", "-c", cmd]


def q(s):
    return "'" + s.replace("'", "'\\''") + "'"


# ----------------------------------------------------------------------------- inputs


def file_hash(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


class Inputs:
    def __init__(self, cache, perf_dir, quick):
        self.cache = cache
        self.perf_dir = perf_dir
        self.quick = quick
        self.gen_key = file_hash(os.path.join(HERE, "gen.py"))
        self.nat_key = file_hash(os.path.join(perf_dir, "gen_capture.py"))
        os.makedirs(cache, exist_ok=True)

    def cached(self, path, key, make):
        """Path, (re)made by make(tmp) unless path.key holds key."""
        kf = path + ".key"
        if os.path.exists(path) and os.path.exists(kf) and open(kf).read().strip() == key:
            return path
        log("generating %s ..." % path)
        tmp = path + ".tmp"
        t0 = time.perf_counter()
        make(tmp)
        for suffix in ["", ".truth.json"]:
            if os.path.exists(tmp + suffix):
                os.replace(tmp + suffix, path + suffix)
        with open(kf, "w") as f:
            f.write(key + "\n")
        log("  done in %.1f s, %s MB" % (time.perf_counter() - t0,
                                          f"{os.path.getsize(path) / 1e6:,.1f}"))
        return path

    def gen(self, kind, scale, ext="pcap"):
        name = "%s-x%s.%s" % (kind, ("%g" % scale).replace(".", "_"), ext)
        path = os.path.join(self.cache, name)

        def make(tmp):
            r = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), kind, tmp,
                                "--scale", str(scale)], stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                die("gen.py %s failed: %s" % (kind, r.stderr))

        self.cached(path, "gen %s %s %s" % (self.gen_key, kind, scale), make)
        return path, json.load(open(path + ".truth.json"))

    def nat(self, connections):
        path = os.path.join(self.cache, "nat-%d.pcap" % connections)

        def make(tmp):
            r = subprocess.run([sys.executable, os.path.join(self.perf_dir, "gen_capture.py"),
                                tmp, "--connections", str(connections)],
                               stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                die("gen_capture.py failed: %s" % r.stderr)
            m = re.search(r"(\d+) packets, (\d+) bytes, connections (\{.*\})", r.stderr)
            if not m:
                die("gen_capture.py printed no summary: %s" % r.stderr)
            kinds = ast.literal_eval(m.group(3))
            truth = dict(kind="nat", connections=connections, frames=int(m.group(1)),
                         bytes=int(m.group(2)), attempts=sum(kinds.values()),
                         established=kinds["normal"], refused=kinds["refused"],
                         no_answer=kinds["reuse_unanswered"], generator=kinds)
            with open(tmp + ".truth.json", "w") as f:
                json.dump(truth, f, indent=1)

        self.cached(path, "nat %s %d" % (self.nat_key, connections), make)
        return path, json.load(open(path + ".truth.json"))

    def derived(self, src, truth, ext, argv_of):
        path = src + "." + ext
        key = "derived %s %s %s" % (open(src + ".key").read().strip(), ext, " ".join(
            argv_of("IN", "OUT")))

        def make(tmp):
            argv = argv_of(src, tmp)
            r = subprocess.run(argv if isinstance(argv, list) else sh(argv),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                die("%s failed: %s" % (argv, r.stderr))

        self.cached(path, key, make)
        with open(path + ".truth.json", "w") as f:
            json.dump(truth, f, indent=1)
        return path, truth


# ----------------------------------------------------------------------------- output checks


def read_table(path):
    """Counts from the table report: frames read, attempts, and the cross table's total row."""
    text = open(path, errors="replace").read()
    got = {}
    m = re.search(r"Read ([\d,]+) frames", text)
    if m:
        got["frames"] = int(m.group(1).replace(",", ""))
    m = re.search(r"([\d,]+) connection attempts of interest", text)
    if m:
        got["syn_attempts"] = int(m.group(1).replace(",", ""))
    header = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "established" in cells and "unanswered" in cells:
            header = cells
        elif header and cells and cells[0] == "total" and len(cells) == len(header):
            for name, value in zip(header[1:], cells[1:]):
                if value.replace(",", "").isdigit():
                    got[name] = int(value.replace(",", ""))
            break
    return got


def read_json(path):
    """(summary, attempt lines) from a --format json document, without loading it whole:
    attempts are one per line, and the summary object is cut out of the text."""
    summary_lines = None
    summary = None
    n = 0
    in_attempts = False
    with open(path, errors="replace") as f:
        for line in f:
            if in_attempts:
                if line.startswith("    {"):
                    n += 1
                    continue
                in_attempts = False
            if line.startswith('  "attempts": ['):
                in_attempts = not line.rstrip().endswith("]")
                continue
            if summary_lines is not None:
                summary_lines.append(line)
                if line.rstrip() in ("  }", "  },"):
                    summary = json.loads("".join(summary_lines).rstrip().rstrip(","))
                    summary_lines = None
            elif line.startswith('  "summary": '):
                rest = line[len('  "summary": '):]
                if rest.rstrip().rstrip(",").endswith("}"):
                    summary = json.loads(rest.rstrip().rstrip(","))
                else:
                    summary_lines = [rest]
    return summary, n


def read_ndjson(path):
    summary, n = None, 0
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith('{"type":"attempt"'):
                n += 1
            elif line.startswith('{"type":"summary"'):
                summary = json.loads(line).get("summary")
    return summary, n


def read_csv(path):
    with open(path, "rb") as f:
        n = sum(1 for _ in f)
    return max(n - 1, 0)


def compare(truth, summary):
    """Mismatches between what the generator knows and portreuse's summary counts."""
    if not summary:
        return ["no summary found"]
    want = [("frames", "frames"), ("attempts", "syn_attempts"),
            ("established", "established"), ("refused", "refused")]
    bad = ["%s: truth %s, portreuse %s" % (jk, truth[tk], summary.get(jk))
           for tk, jk in want if tk in truth and summary.get(jk) != truth[tk]]
    if "no_answer" in truth:
        got = (summary.get("unanswered") or 0) + (summary.get("unknown") or 0)
        if "unanswered" not in summary or got != truth["no_answer"]:
            bad.append("unanswered + unknown: truth %d, portreuse %s + %s" % (
                truth["no_answer"], summary.get("unanswered"), summary.get("unknown")))
    if "unanswered" in truth and summary.get("unanswered") != truth["unanswered"]:
        bad.append("unanswered: truth %d, portreuse %s" % (truth["unanswered"],
                                                           summary.get("unanswered")))
    return bad


def pcapng_packets(path):
    """Enhanced/simple/obsolete packet blocks in a pcapng file (both byte orders)."""
    n = 0
    with open(path, "rb") as f:
        endian = "<"
        while True:
            head = f.read(8)
            if len(head) < 8:
                return n
            btype, blen = struct.unpack(endian + "II", head)
            if btype == 0x0A0D0D0A:
                bom = f.read(4)
                endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(endian + "I", head[4:])[0]
                f.seek(blen - 12, 1)
                continue
            if btype in (2, 3, 6):
                n += 1
            if blen < 12:
                return n
            f.seek(blen - 8, 1)


class Checks:
    def __init__(self):
        self.items = []

    def add(self, name, ok, detail):
        """ok: True (PASS), False (FAIL) or None (SKIP: the run was stopped at a cap, which
        its memory goal reports)."""
        self.items.append((name, ok, detail))
        log("  %s  %s: %s" % (verdict(ok), name, detail))

    def failed(self):
        return [c for c in self.items if c[1] is False]


def verdict(ok):
    return "SKIP" if ok is None else "PASS" if ok else "FAIL"


def check_output(checks, name, fmt, path, truth, rc, stopped):
    """The correctness check of one portreuse output file against the generator's truth."""
    if stopped:
        checks.add(name, None, "not checked: stopped at the %s cap" % (
            "RSS" if stopped == "rss" else "time"))
        return
    if rc != 0:
        checks.add(name, False, "exit status %d" % rc)
        return
    if fmt == "table":
        got = read_table(path)
        bad = compare(truth, got)
        detail = ", ".join("%s=%s" % (k, got.get(k)) for k in
                           ["frames", "syn_attempts", "established", "refused", "unanswered",
                            "unknown"])
    elif fmt in ("json", "ndjson"):
        summary, n = (read_json if fmt == "json" else read_ndjson)(path)
        bad = compare(truth, summary)
        if n != truth["attempts"]:
            bad.append("%d attempt records, truth %d attempts" % (n, truth["attempts"]))
        detail = "%d attempt records" % n
    else:
        n = read_csv(path)
        bad = [] if n == truth["attempts"] else [
            "%d rows, truth %d attempts" % (n, truth["attempts"])]
        detail = "%d rows" % n
    checks.add(name, not bad, "; ".join(bad) if bad else detail)


# ----------------------------------------------------------------------------- timing


def median(xs):
    return statistics.median(xs) if xs else None


class Shape:
    def __init__(self, key, title, path, truth, rounds, gz=False, short=None):
        self.key, self.title, self.path, self.truth, self.rounds, self.gz = (
            key, title, path, truth, rounds, gz)
        self.short = short or key
        self.cmds = []  # (label, argv)
        self.runs = {}  # label -> [Run] of the timed rounds
        self.warm = {}  # label -> Run
        self.order = []

    def rss_mib(self, label):
        rs = self.runs.get(label, []) + ([self.warm[label]] if label in self.warm else [])
        return max(r.rss_kib for r in rs) / MIB if rs else None

    def stopped(self, label):
        rs = self.runs.get(label, []) + ([self.warm[label]] if label in self.warm else [])
        return next((r.stopped for r in rs if r.stopped), None)

    def walls(self, label):
        return [r.wall for r in self.runs.get(label, [])]

    def paired(self, label, ref):
        a, b = self.runs.get(label, []), self.runs.get(ref, [])
        return [x.wall / y.wall for x, y in zip(a, b) if not x.stopped and not y.stopped
                and y.wall > 0]

    def ratio(self, label, ref):
        return median(self.paired(label, ref))


def build_commands(shape, tools):
    f = shape.path
    pr = tools["portreuse"]
    cmds = []
    if shape.gz:
        cmds.append(("cat", sh("gzip -dc %s > /dev/null" % q(f))))
        cmds.append(("loop", sh("gzip -dc %s | %s /dev/stdin" % (q(f), q(tools["floor"])))))
        cmds.append(("tcpdump", sh("gzip -dc %s | tcpdump -nr - %s 2>/dev/null" % (
            q(f), q(SYN_FILTER)))))
    else:
        cmds.append(("cat", ["cat", f]))
        cmds.append(("loop", [tools["floor"], f]))
        cmds.append(("tcpdump", ["tcpdump", "-nr", f, SYN_FILTER]))
    for fmt in FORMATS:
        cmds.append((fmt, [pr] + ([] if fmt == "table" else ["--format", fmt]) + [f]))
    if tools["threads"]:
        for fmt in ["table", "json"]:
            cmds.append((fmt + " -t1", [pr, "--threads", "1"]
                         + ([] if fmt == "table" else ["--format", fmt]) + [f]))
    if tools.get("baseline"):
        for fmt in ["table", "json"]:
            cmds.append(("base " + fmt, [tools["baseline"]]
                         + ([] if fmt == "table" else ["--format", fmt]) + [f]))
    shape.cmds = cmds


def time_shape(shape, work, checks, cap_kib, timeout, slow_s, slow_rounds):
    log("\n== %s: %s (%s frames, %s MB): warm-up + %d rounds of %d commands" % (
        shape.key, shape.title, f"{shape.truth['frames']:,}",
        f"{os.path.getsize(shape.path) / 1e6:,.0f}", shape.rounds, len(shape.cmds)))
    subprocess.run(["cat", shape.path], stdout=subprocess.DEVNULL)  # page cache
    # Warm-up: first-run effects hit no timed run; the outputs are checked.
    for label, argv in shape.cmds:
        out = os.path.join(work, "out")
        with open(out, "wb") as o, open(out + ".err", "wb") as e:
            r = run(argv, stdout=o, stderr=e, cap_kib=cap_kib, timeout=timeout)
        shape.warm[label] = r
        fmt = label.split()[-1] if label.startswith("base ") else label.split()[0]
        if label == "loop":
            text = open(out, errors="replace").read()
            m = re.search(r"frames=(\d+)", text)
            ok = r.rc == 0 and m and int(m.group(1)) == shape.truth["frames"]
            checks.add("%s bare loop frames" % shape.key, bool(ok),
                       "frames=%s, truth %d" % (m.group(1) if m else "?",
                                               shape.truth["frames"]))
        elif fmt in FORMATS:
            check_output(checks, "%s %s counts" % (shape.key, label), fmt, out, shape.truth,
                         r.rc, r.stopped)
        elif r.rc != 0 and not r.stopped:
            die("%s failed (exit %d): %s\n%s" % (label, r.rc, argv,
                                                 open(out + ".err", errors="replace").read()))
        os.remove(out)
        os.remove(out + ".err")
    labels = [label for label, _ in shape.cmds]
    argv_of = dict(shape.cmds)
    # A reference command (cat, tcpdump) slower than slow_s in the warm-up (tcpdump on the
    # 34 k-host capture: over a minute) runs only in slow_rounds rounds spread over the run,
    # to keep the total time. The bare loop and portreuse always run in every round.
    spread = sorted({round(k * (shape.rounds - 1) / max(slow_rounds - 1, 1))
                     for k in range(min(slow_rounds, shape.rounds))})
    for i in range(shape.rounds):
        order = labels[i % len(labels):] + labels[:i % len(labels)]
        ran = set()
        for label in order:
            if shape.warm[label].stopped:
                continue  # stopped at the cap in the warm-up: not timed again
            if label in ("cat", "tcpdump") and shape.warm[label].wall > slow_s \
                    and i not in spread:
                continue
            r = run(argv_of[label], cap_kib=cap_kib, timeout=timeout)
            shape.runs.setdefault(label, []).append(r)
            ran.add(label)
        log("  round %d/%d: %s" % (i + 1, shape.rounds, " ".join(
            "%s %.3f" % (lb, shape.runs[lb][-1].wall) for lb in labels if lb in ran)))


# ----------------------------------------------------------------------------- report


def fmt_ratio(x):
    return "-" if x is None else ("%.2f" % x if x < 10 else "%.1f" % x)


def fmt_mib(x, stopped=None):
    if stopped == "rss":
        return "stopped at %s" % ("{:,.0f}".format(x) if x else "?")
    if x is None:
        return "-"
    return "%.1f" % x if x < 100 else "{:,.0f}".format(x)


def print_shape(shape):
    print("\n### %s\n" % shape.title)
    print("%s frames, %s MB; %d rounds (medians; \"x loop\" and \"x table\" are medians of "
          "the ratios within each round, [min-max] of those)\n" % (
              f"{shape.truth['frames']:,}", f"{os.path.getsize(shape.path) / 1e6:,.0f}",
              shape.rounds))
    print("%-12s %4s %10s %8s %16s %8s %9s %8s %10s" % (
        "command", "runs", "median s", "x loop", "[min-max]", "x table", "cpu s", "cpu x",
        "RSS MiB"))
    loop_cpu = median([r.cpu for r in shape.runs.get("loop", [])])
    for label, _ in shape.cmds:
        st = shape.stopped(label)
        if label not in shape.runs:
            print("%-12s %4d %10s %8s %16s %8s %9s %8s %10s" % (
                label, 0, "stopped", "-", "-", "-", "-", "-",
                fmt_mib(shape.rss_mib(label), st)))
            continue
        pr = shape.paired(label, "loop")
        cpu = median([r.cpu for r in shape.runs[label]])
        print("%-12s %4d %10.3f %8s %16s %8s %9.3f %8s %10s" % (
            label, len(shape.runs[label]), median(shape.walls(label)), fmt_ratio(median(pr)),
            "[%s-%s]" % (fmt_ratio(min(pr)), fmt_ratio(max(pr))) if pr else "-",
            fmt_ratio(shape.ratio(label, "table")), cpu,
            fmt_ratio(cpu / loop_cpu if loop_cpu else None), fmt_mib(shape.rss_mib(label), st)))


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    return "%d CPUs (nproc), %s, %s, Linux %s" % (os.cpu_count(), cpu, mem,
                                                  os.uname().release)


def version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
        return (r.stdout or r.stderr).splitlines()[0].strip()
    except (OSError, IndexError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portreuse", required=True)
    ap.add_argument("--floor", required=True, help="the rustfloor binary (built outside the repo)")
    ap.add_argument("--baseline", help="another portreuse binary to time side by side")
    ap.add_argument("--quick", action="store_true", help="inputs 1/10 the size, 3 rounds")
    ap.add_argument("--rounds", type=int, help="rounds for every shape")
    ap.add_argument("--cache", default=os.environ.get("BENCH_DIR", "/tmp/portreuse-bench"))
    ap.add_argument("--perf-dir", default=os.path.join(HERE, "..", "..", "shared", "perf"))
    ap.add_argument("--rss-cap-mib", type=int, default=1024,
                    help="memory cases are stopped above this RSS (default 1024 = 4 x 256)")
    ap.add_argument("--timing-cap-mib", type=int, default=6144,
                    help="timed commands are stopped above this RSS (default 6144)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per command")
    ap.add_argument("--slow-s", type=float, default=20,
                    help="cat or tcpdump slower than this in the warm-up run in only "
                         "--slow-rounds rounds")
    ap.add_argument("--slow-rounds", type=int, default=2)
    ap.add_argument("--only", help="comma-separated subset: nat,pcapng,gzip,hosts,flood,memory")
    ap.add_argument("--markdown", help="also write the markdown summary to this file")
    a = ap.parse_args()
    t_start = time.time()
    only = set(a.only.split(",")) if a.only else None
    unknown = (only or set()) - {"nat", "pcapng", "gzip", "hosts", "flood", "memory"}
    if unknown:
        die("--only: unknown %s (choose from nat, pcapng, gzip, hosts, flood, memory)" % (
            ", ".join(sorted(unknown))))
    want = lambda k: only is None or k in only  # noqa: E731

    for tool in ["cat", "gzip", "tcpdump", "editcap", "sh"]:
        if not shutil.which(tool):
            die("%s not found" % tool)
    if not os.access(GNU_TIME, os.X_OK):
        die("GNU time not found at %s (Debian: apt-get install -y time)" % GNU_TIME)
    help_text = subprocess.run([a.portreuse, "--help"], capture_output=True, text=True).stdout
    tools = dict(portreuse=a.portreuse, floor=a.floor, baseline=a.baseline,
                 threads="--threads" in help_text)
    quick = a.quick
    scale = 0.1 if quick else 1.0
    r_nat = a.rounds or (3 if quick else 11)
    r_big = a.rounds or (3 if quick else 5)
    inputs = Inputs(a.cache, a.perf_dir, quick)
    work = tempfile.mkdtemp(prefix="portreuse-bench-run.")
    checks = Checks()
    goals = []  # (name, ok, detail)
    load_before = open("/proc/loadavg").read().split()[:3]

    try:
        # ------------------------------------------------------------- inputs
        nat_n = 8300 if quick else 83000
        shapes = []
        nat_path, nat_truth = inputs.nat(nat_n)
        mp = "%s M" % ("0.1" if quick else "1")
        if want("nat"):
            shapes.append(Shape("nat", "%s packets, NAT pool, 4 servers (gen_capture.py "
                                "--connections %d)" % (mp, nat_n), nat_path, nat_truth, r_nat,
                                short="%s NAT pool, 4 servers" % mp))
        if want("pcapng"):
            p, t = inputs.derived(nat_path, nat_truth, "pcapng",
                                  lambda i, o: ["editcap", "-F", "pcapng", i, o])
            shapes.append(Shape("pcapng", "the same as pcapng (editcap -F pcapng)", p, t, r_nat,
                                short="same, pcapng"))
        if want("gzip"):
            p, t = inputs.derived(nat_path, nat_truth, "gz",
                                  lambda i, o: "gzip -c %s > %s" % (q(i), q(o)))
            shapes.append(Shape("gzip", "the same, gzip'd (gzip -6); cat, loop and tcpdump "
                                "read gzip -dc through a pipe", p, t, r_big, gz=True,
                                short="same, gzip (pipe for cat, loop, tcpdump)"))
        if want("hosts"):
            p, t = inputs.gen("hosts", scale)
            shapes.append(Shape("hosts", "%s packets, %s hosts, %s attempts (gen.py hosts)" % (
                "%.2g M" % (t["frames"] / 1e6), f"{t['hosts']:,}", f"{t['attempts']:,}"),
                p, t, r_big, short="%.2g M, %s hosts, %s attempts" % (
                    t["frames"] / 1e6, f"{t['hosts']:,}", f"{t['attempts']:,}")))
        if want("flood"):
            p, t = inputs.gen("flood", scale)
            shapes.append(Shape("flood", "%s SYNs from distinct 4-tuples, unanswered (gen.py "
                                "flood)" % f"{t['flood_syns']:,}", p, t, r_big,
                                short="%s SYN flood" % f"{t['flood_syns']:,}"))
        memory = []
        if want("memory"):
            for kind, sc, ext in [("sources", scale, "pcap"), ("sparse", 1.0, "pcap"),
                                  ("netmon", 1.0, "cap"), ("huge", scale, "pcap")]:
                memory.append((kind,) + inputs.gen(kind, sc, ext))

        # ------------------------------------------------------------- timing
        for s in shapes:
            build_commands(s, tools)
            time_shape(s, work, checks, a.timing_cap_mib * MIB, a.timeout, a.slow_s,
                       a.slow_rounds)

        # ------------------------------------------------------------- memory cases
        mem_results = []  # (goal name, [(label, rss MiB or None, stopped)], limit MiB, note)
        cap = a.rss_cap_mib * MIB
        by_key = {s.key: s for s in shapes}
        if "flood" in by_key:
            s = by_key["flood"]
            mem_results.append(("%s SYNs from distinct 4-tuples" % f"{s.truth['flood_syns']:,}",
                                [(f, s.rss_mib(f), s.stopped(f)) for f in FORMATS], 256))
        for kind, path, truth in memory:
            log("\n== memory case %s (%s)" % (kind, path))
            runs = []
            if kind == "huge":
                outp = os.path.join(work, "written.pcapng")
                variants = [("table --write", ["--write", outp], "table")]
            else:
                variants = [("table", [], "table"), ("json", ["--format", "json"], "json")]
            for label, extra, fmt in variants:
                out = os.path.join(work, "out")
                with open(out, "wb") as o, open(out + ".err", "wb") as e:
                    r = run([a.portreuse] + extra + [path], stdout=o, stderr=e, cap_kib=cap,
                            timeout=a.timeout)
                log("  %s: peak RSS %.1f MiB, %.2f s%s" % (
                    label, r.rss_kib / MIB, r.wall, ", stopped: " + r.stopped
                    if r.stopped else ""))
                check_output(checks, "memory %s %s counts" % (kind, label), fmt, out, truth,
                             r.rc, r.stopped)
                if kind == "huge" and not r.stopped and r.rc == 0:
                    n = pcapng_packets(outp)
                    checks.add("memory huge --write frames", n == truth["write_frames"],
                               "%s packets written, the 4-tuple has %s" % (
                                   f"{n:,}", f"{truth['write_frames']:,}"))
                runs.append((label, r.rss_kib / MIB, r.stopped))
                for p in [out, out + ".err", os.path.join(work, "written.pcapng")]:
                    if os.path.exists(p):
                        os.remove(p)
            name = {
                "sources": lambda: "SYNs from %s distinct source IPs" % (
                    f"{truth['flood_sources']:,}"),
                "sparse": lambda: "sparse per-minute: 1 SYN, then %s SYNs to other ports "
                                  "99,999 min later" % f"{truth['attempts'] - 1:,}",
                "netmon": lambda: "NetMon 2.0 file whose frame table claims 2 GiB",
                "huge": lambda: "--write of one %s MB connection" % (
                    f"{os.path.getsize(path) / 1e6:,.0f}"),
            }[kind]()
            mem_results.append((name, runs, 256))
        if "hosts" in by_key:
            s = by_key["hosts"]
            mem_results.append(("ordinary %s packets, %s hosts, every format" % (
                f"{s.truth['frames']:,}", f"{s.truth['hosts']:,}"),
                [(f, s.rss_mib(f), s.stopped(f)) for f in FORMATS], 64))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ----------------------------------------------------------------- goals
    def goal(name, value, limit, detail=""):
        ok = value is not None and value <= limit
        goals.append((name, ok, "%s (goal <= %s)%s" % (fmt_ratio(value), limit, detail)))

    if "nat" in by_key:
        s = by_key["nat"]
        goal("NAT %s: table / bare loop" % mp, s.ratio("table", "loop"), 1.0)
        for f in ["json", "ndjson", "csv"]:
            goal("NAT %s: %s / table" % (mp, f), s.ratio(f, "table"), 1.15)
    if "hosts" in by_key:
        goal("%s hosts: table / bare loop" % f"{by_key['hosts'].truth['hosts']:,}",
             by_key["hosts"].ratio("table", "loop"), 1.3)
    if "flood" in by_key:
        goal("flood: table / bare loop", by_key["flood"].ratio("table", "loop"), 2.0)
    if a.baseline:
        for s in shapes:
            for f in ["table", "json"]:
                goal("%s: %s / baseline %s (never slower than today; 5 %% for noise)" % (
                    s.key, f, f), s.ratio(f, "base " + f), 1.05)
    mem_goals = []
    for name, runs, limit in mem_results:
        ok = all(rss is not None and not st and rss <= limit for _, rss, st in runs)
        mem_goals.append((name, ok, ", ".join(
            "%s %s MiB%s" % (lb, fmt_mib(rss, st), " (the cap)" if st else "")
            for lb, rss, st in runs), limit))

    # ----------------------------------------------------------------- report
    load_after = open("/proc/loadavg").read().split()[:3]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vers = [("portreuse", version([a.portreuse, "--version"])),
            ("tcpdump", version(["tcpdump", "--version"])),
            ("rustc", version(["rustc", "--version"]))]
    print("\n## portreuse benchmark (%s mode), %s" % ("quick" if quick else "full", when))
    print("Machine: %s. Load average before %s, after %s." % (
        machine(), "/".join(load_before), "/".join(load_after)))
    print("Versions: %s. --threads option: %s. Runtime %.0f s." % (
        "; ".join("%s %s" % v for v in vers), "yes" if tools["threads"] else "absent (skipped)",
        time.time() - t_start))
    for s in shapes:
        print_shape(s)
    print("\n### Ratio goals (issue 12)\n")
    for name, ok, detail in goals:
        print("%s  %s: %s" % ("PASS" if ok else "FAIL", name, detail))
    print("\n### Memory goals (issue 14): peak RSS, stopped above %d MiB\n" % a.rss_cap_mib)
    for name, ok, detail, limit in mem_goals:
        print("%s  %s <= %d MiB: %s" % ("PASS" if ok else "FAIL", name, limit, detail))
    print("\n### Correctness (counts against the generators' truth)\n")
    for name, ok, detail in checks.items:
        print("%s  %s: %s" % (verdict(ok), name, detail))

    md = markdown(shapes, goals, mem_goals, checks, quick, when, vers, tools, a, load_before,
                  load_after)
    print("\n### Markdown\n")
    print(md)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md + "\n")
    failed = checks.failed()
    print("\n%d/%d ratio goals, %d/%d memory goals passed; correctness checks: %d passed, "
          "%d failed, %d skipped." % (
              sum(g[1] for g in goals), len(goals), sum(g[1] for g in mem_goals),
              len(mem_goals), sum(c[1] is True for c in checks.items), len(failed),
              sum(c[1] is None for c in checks.items)))
    sys.exit(1 if failed else 0)


def markdown(shapes, goals, mem_goals, checks, quick, when, vers, tools, a, lb, la):
    out = []
    labels = []
    for s in shapes:
        for label, _ in s.cmds:
            if label not in labels:
                labels.append(label)
    names = {"cat": "`cat`", "loop": "bare loop", "tcpdump": "tcpdump SYN filter",
             "table": "table", "json": "json", "ndjson": "ndjson", "csv": "csv"}
    out.append("%s mode, %s. %s. Each cell: median over rounds of (command time / bare loop "
               "time in the same round); the bare loop's own median in seconds for scale "
               "only. Commands interleaved, order rotating, warm page cache, output to "
               "/dev/null." % ("Quick" if quick else "Full", when, machine()))
    out.append("")
    out.append("| capture | rounds | " + " | ".join(names.get(lb, lb) for lb in labels) + " |")
    out.append("|---|---:|" + "---:|" * len(labels))
    for s in shapes:
        cells = []
        for lb in labels:
            if lb == "loop" and s.walls("loop"):
                cells.append("1 (%.3f s)" % median(s.walls("loop")))
            elif lb in s.runs:
                cells.append("%s×" % fmt_ratio(s.ratio(lb, "loop")))
            elif s.stopped(lb):
                cells.append("stopped")
            else:
                cells.append("–")
        out.append("| %s | %d | %s |" % (s.short, s.rounds, " | ".join(cells)))
    out.append("")
    out.append("Peak RSS (MiB; ru_maxrss, the largest process of a pipeline):")
    out.append("")
    out.append("| capture | " + " | ".join(names.get(lb, lb) for lb in labels) + " |")
    out.append("|---|" + "---:|" * len(labels))
    for s in shapes:
        out.append("| %s | %s |" % (s.short, " | ".join(
            fmt_mib(s.rss_mib(lb), s.stopped(lb)) for lb in labels)))
    out.append("")
    out.append("| goal | result | measured |")
    out.append("|---|---|---|")
    for name, ok, detail in goals:
        out.append("| %s | %s | %s |" % (name, "PASS" if ok else "FAIL", detail))
    for name, ok, detail, limit in mem_goals:
        out.append("| %s: peak RSS <= %d MiB | %s | %s |" % (name, limit,
                                                              "PASS" if ok else "FAIL", detail))
    failed = checks.failed()
    out.append("")
    by_detail = {}
    for n, _, d in failed:
        by_detail.setdefault(d, []).append(n)
    out.append("Correctness: %d/%d checks passed, %d skipped (stopped at the RSS cap)%s" % (
        sum(c[1] is True for c in checks.items), len(checks.items),
        sum(c[1] is None for c in checks.items),
        "; failed: " + "; ".join("%s (%s)" % (", ".join(ns), d) for d, ns in by_detail.items())
        if failed else "."))
    out.append("Versions: %s. `--threads`: %s." % (
        "; ".join("%s %s" % v for v in vers), "present" if tools["threads"] else "absent"))
    return "\n".join(out)


if __name__ == "__main__":
    main()
