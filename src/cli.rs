//! Command-line interface. The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::filter::{Cidr, ServerSpec};
use crate::time::parse_duration;

/// Explain failing TCP connections caused by source-port reuse inside TIME_WAIT.
///
/// Reads pcap, pcapng and Network Monitor captures (gzip'd or zstd'd or not), follows every
/// 4-tuple, and ties SYNs that got no answer, a refusal or a challenge ACK to the earlier
/// connection on the same 4-tuple whose TIME_WAIT they hit. Several captures are merged into
/// one timeline by timestamp (or analysed one by one with --each).
#[derive(Debug, Parser)]
#[command(
    name = "portreuse",
    version,
    after_help = EXAMPLES,
    max_term_width = 100,
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Capture files or directories; `-` reads standard input. Directories are walked for
    /// files named like captures (.pcap, .pcapng, .cap, .ntar, also .gz or .zst) or starting
    /// like one; symbolic links in them are followed only with --follow.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Follow symbolic links found while walking directories (loops are detected).
    #[arg(long)]
    pub follow: bool,

    /// Only SYNs sent by this address or block (repeatable; default: all senders).
    #[arg(long = "source", value_name = "IP|CIDR", value_parser = parse_cidr)]
    pub sources: Vec<Cidr>,

    /// Only SYNs sent to this server (repeatable; IP, IP:PORT, [IPv6]:PORT or CIDR).
    #[arg(long = "server", value_name = "IP[:PORT]|CIDR", value_parser = parse_server)]
    pub servers: Vec<ServerSpec>,

    /// How long a server holds TIME_WAIT (2 x MSL): 240s on Windows, 60s on Linux.
    #[arg(long, value_name = "DURATION", default_value = "240s", value_parser = parse_duration)]
    pub time_wait: i64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Exit with status 1 when an attempt that reused a 4-tuple inside the window failed
    /// (unanswered, refused or challenged).
    #[arg(long)]
    pub check: bool,

    /// Exit with status 1 when a capture is damaged (cut short) even if it was analysed.
    #[arg(long)]
    pub strict: bool,

    /// Also write a self-contained HTML report with charts (port against time per source,
    /// reuse gaps against the TIME_WAIT window, outcomes over time) to this file.
    #[arg(long, value_name = "REPORT.html")]
    pub html: Option<PathBuf>,

    /// Analyse every capture on its own, in parallel, and print one summary per file (a table
    /// row, or one JSON/NDJSON/CSV record). A file that cannot be read is reported in its row.
    #[arg(long, conflicts_with_all = ["filter_only", "write", "html"])]
    pub each: bool,

    /// Print only a Wireshark display filter selecting the flagged attempts and the
    /// connections they collided with (for `wireshark -Y`).
    #[arg(long)]
    pub filter_only: bool,

    /// Also write the packets of the flagged attempts and of the connections they collided
    /// with, with their original timestamps, to this pcapng file.
    #[arg(long, value_name = "OUT.pcapng")]
    pub write: Option<PathBuf>,

    /// Times in the table: relative to the first frame (like Wireshark) or absolute UTC.
    #[arg(long, value_enum, default_value_t = TimeFormat::Relative)]
    pub time: TimeFormat,

    /// Most flagged attempts listed in the table (the JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_rows: usize,

    /// Memory budget for the analysis state (4-tuples, pending attempts, per-host tables),
    /// e.g. 64M or 1G. Past it the oldest or least useful state is dropped, and the report
    /// says what was dropped.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(crate::budget::DEFAULT_BYTES))]
    pub memory: ByteSize,

    /// Threads for the analysis of one capture: 1 reads, decodes, tracks and judges on one
    /// thread; 2 reads and decodes on one while the other does the rest; 3 also gives the
    /// tracking a thread of its own, apart from the judging and the writing. Every setting
    /// gives the same output, byte for byte. auto takes 3 when the machine has two cores or
    /// more and the captures are over 4 MiB on disk or of unknown size (standard input, a
    /// pipe), else 1. With --each every file gets one thread, the files side by side.
    #[arg(long, value_name = "auto|1|2|3", default_value_t = Threads::Auto)]
    pub threads: Threads,

    /// Colour in the table: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always
    /// or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print no warnings on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal, NO_COLOR is unset and TERM is not dumb.
    Auto,
    /// Colour, also in a pipe and with NO_COLOR set.
    Always,
    /// No colour.
    Never,
}

/// A size in bytes, written and parsed with binary suffixes: 192M = 192 MiB, 1G = 1 GiB
/// (K, M, G, T; an optional `iB` or `B` after the letter; a plain number is bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a size (examples: 64M, 512MiB, 1G)"))?;
        let unit = unit.trim().to_ascii_uppercase();
        let unit = unit.trim_end_matches("IB").trim_end_matches('B');
        let shift = match unit {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{text}' (use K, M or G)"
                ));
            }
        };
        let bytes = value * (1u64 << shift) as f64;
        if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
            return Err(format!("'{text}' is out of range"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            if n >= 1 << shift && n.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}")
    }
}

/// `--threads`: automatic, or a number of threads (1 to 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    Auto,
    Fixed(u8),
}

impl std::str::FromStr for Threads {
    type Err = String;

    fn from_str(text: &str) -> Result<Threads, String> {
        match text {
            "auto" => Ok(Threads::Auto),
            "1" => Ok(Threads::Fixed(1)),
            "2" => Ok(Threads::Fixed(2)),
            "3" => Ok(Threads::Fixed(3)),
            _ => Err("expected auto, 1, 2 or 3".into()),
        }
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threads::Auto => f.write_str("auto"),
            Threads::Fixed(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people: headline, cross table, flagged attempts, per-server summary.
    Table,
    /// One JSON document with every attempt (schema in README).
    Json,
    /// One JSON object per line: every attempt (`"type": "attempt"`), then the summary.
    Ndjson,
    /// The attempts as CSV (RFC 4180), with a header row.
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeFormat {
    /// Seconds since the first frame, as Wireshark shows them.
    Relative,
    /// RFC 3339 UTC with the capture's precision.
    Absolute,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

fn parse_cidr(text: &str) -> Result<Cidr, String> {
    text.parse()
}

fn parse_server(text: &str) -> Result<ServerSpec, String> {
    text.parse()
}

/// Example commands with what each does (--help and the man page). Each command is kept
/// under 72 columns so that no terminal wraps it.
pub const EXAMPLE_LIST: [(&str, &str); 7] = [
    ("portreuse trace.pcap", "The report on one capture."),
    (
        "portreuse --html report.html --write hits.pcapng trace.pcapng",
        "Also an HTML page with charts, and a small pcapng of the collisions (with packet comments) for Wireshark.",
    ),
    (
        "wireshark -r trace.pcapng -Y \"$(portreuse --filter-only trace.pcapng)\"",
        "Open the flagged connections in Wireshark.",
    ),
    (
        "portreuse --each --format csv captures/ > triage.csv",
        "One row per capture below a directory.",
    ),
    (
        "portreuse --source 192.168.50.1 --server 192.168.50.10:110 t.pcapng",
        "Only the SYNs from one firewall to one server.",
    ),
    (
        "portreuse --time-wait 60s --format json ring_*.pcap | jq .summary",
        "Several ring-buffer files merged, against a Linux server (60 s TIME_WAIT).",
    ),
    (
        "portreuse --check fixture.pcap > /dev/null || echo collisions",
        "Exit status 1 when a reuse inside the window failed.",
    ),
];

/// The exit statuses (--help and the man page).
pub const EXIT_STATUS: [(u8, &str); 3] = [
    (
        0,
        "The analysis ran (with --check: no failed reuse inside the window).",
    ),
    (
        1,
        "--check found a failed attempt that reused a 4-tuple inside the window; --strict and a capture was cut short; --filter-only and nothing was flagged.",
    ),
    (
        2,
        "Usage error, or unreadable input or output (with --each: a file that could not be read; the status is the worst of the files).",
    ),
];

const EXAMPLES: &str = "\
Examples:
  portreuse trace.pcap
  portreuse --html report.html --write hits.pcapng trace.pcapng
  wireshark -r trace.pcapng -Y \"$(portreuse --filter-only trace.pcapng)\"
  portreuse --each --format csv captures/ > triage.csv
  portreuse --time-wait 60s --format json ring_*.pcap | jq .summary

Exit status: 0 analysed; 1 --check found failed reuses (or --strict and a damaged file, or
--filter-only and nothing flagged); 2 usage error or unreadable input or output.

`portreuse man | man -l -` shows the manual.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes_and_print_back() {
        let parse = |t: &str| t.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(parse("256M"), Ok(256 << 20));
        assert_eq!(parse("1G"), Ok(1 << 30));
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("64k"), Ok(64 << 10));
        assert_eq!(parse("1.5G"), Ok(3 << 29));
        assert_eq!(parse("1000"), Ok(1000));
        assert!(parse("12 parsecs").is_err());
        assert!(parse("0").is_err());
        assert!(parse("-1M").is_err());
        let default = ByteSize(crate::budget::DEFAULT_BYTES);
        assert_eq!(default.to_string().parse(), Ok(default));
        assert_eq!(ByteSize(1 << 30).to_string(), "1G");
        assert_eq!(ByteSize(1000).to_string(), "1000");
    }

    #[test]
    fn example_commands_fit_a_narrow_terminal() {
        for (command, _) in EXAMPLE_LIST {
            assert!(command.len() <= 72, "{command}");
        }
    }
}
