#!/usr/bin/env bash
# The benchmark of issues 12 and 14 in one run: portreuse in every output format against the
# bare loop (../shared/perf/rustfloor, built outside the repository), tcpdump's SYN pass and
# cat, side by side and interleaved, on the three capture shapes (+ pcapng and gzip forms);
# peak RSS of everything; the memory cases; PASS/FAIL per goal; counts checked against the
# generators. See bench/README.md.
#
# Usage: bench/run.sh [--quick] [--baseline BIN] [--rounds N] [--only nat,hosts,...]
#                     [--rss-cap-mib N] [--markdown FILE]      (all options: bench/bench.py -h)
#
# Environment:
#   BENCH_DIR=/tmp/portreuse-bench   inputs (cached, keyed on the generators' sources) and the
#                                    bare loop's build
#   PORTREUSE=BIN                    time this binary instead of building the repository's
#   PERF_DIR=../shared/perf          where rustfloor/ and gen_capture.py are
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/portreuse-bench}
PERF_DIR=${PERF_DIR:-$REPO/../shared/perf}
die() { echo "run.sh: $*" >&2; exit 2; }

command -v python3 >/dev/null || die "python3 not found"
command -v cargo >/dev/null || die "cargo not found"
[[ -x /usr/bin/time ]] || die "GNU time not found (Debian: apt-get install -y time)"
for t in tcpdump editcap gzip; do
    command -v $t >/dev/null || die "$t not found (Debian: apt-get install -y tcpdump wireshark-common gzip)"
done
[[ -d $PERF_DIR/rustfloor && -f $PERF_DIR/gen_capture.py ]] \
    || die "no rustfloor/ and gen_capture.py in $PERF_DIR (set PERF_DIR)"
mkdir -p "$BENCH_DIR"

# portreuse, release build of this checkout.
if [[ -z ${PORTREUSE:-} ]]; then
    echo "run.sh: cargo build --release" >&2
    (cd "$REPO" && cargo build --release --quiet) || die "cargo build failed"
    PORTREUSE=$REPO/target/release/portreuse
fi
[[ -x $PORTREUSE ]] || die "no portreuse binary at $PORTREUSE"

# The bare loop: a copy of rustfloor outside the repository, rebuilt when its sources change.
key=$(cd "$PERF_DIR/rustfloor" && find . -type f -not -path './target/*' | sort | xargs cat \
    | sha256sum | cut -c1-16)
FLOOR_DIR=$BENCH_DIR/rustfloor-$key
FLOOR=$FLOOR_DIR/target/release/rustfloor
if [[ ! -x $FLOOR ]]; then
    echo "run.sh: building the bare loop in $FLOOR_DIR" >&2
    rm -rf "$FLOOR_DIR"
    mkdir -p "$FLOOR_DIR"
    (cd "$PERF_DIR/rustfloor" && tar --exclude=./target -cf - .) | (cd "$FLOOR_DIR" && tar -xf -)
    chmod -R u+w "$FLOOR_DIR"
    (cd "$FLOOR_DIR" && env -u CARGO_TARGET_DIR cargo build --release --quiet) \
        || die "building rustfloor failed"
fi

exec python3 "$REPO/bench/bench.py" --portreuse "$PORTREUSE" --floor "$FLOOR" \
    --cache "$BENCH_DIR" --perf-dir "$PERF_DIR" "$@"
