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
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Capture files or directories (walked for captures, recognised by their first bytes);
    /// `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

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

    /// Print no warnings on standard error.
    #[arg(short, long)]
    pub quiet: bool,
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

const EXAMPLES: &str = "\
Examples:
  portreuse trace.pcap
  portreuse --html report.html --write collisions.pcapng trace.pcapng
  wireshark -r trace.pcapng -Y \"$(portreuse --filter-only trace.pcapng)\"
  portreuse --each --format ndjson captures/ > triage.ndjson
  portreuse --source 192.168.50.1 --server 192.168.50.10:110 trace.pcapng
  portreuse --time-wait 60s --format json ring_*.pcap | jq .summary
  portreuse --check --format json fixture.pcap > /dev/null || echo 'collisions found'

Exit status: 0 analysed; 1 --check found failed reuses (or --strict and a damaged file);
2 usage error or unreadable input (with --each: the worst of the files).";
