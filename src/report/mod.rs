//! The report stage: everything the run found, and the writers that format it. This is the
//! only module that formats text for the user.

pub mod diagnosis;
pub mod html;
pub mod json;
pub mod stream;
pub mod table;

use crate::capture::FileInfo;
use crate::decode::Skip;
use crate::summary::Summary;
use crate::tcp::FrameRef;
use crate::time::{Ts, secs};
use crate::track::TrackStats;

/// One input file as the report names it.
#[derive(Clone, Debug)]
pub struct FileMeta {
    pub name: String,
    pub info: FileInfo,
}

/// Everything a writer needs.
pub struct Report {
    pub files: Vec<FileMeta>,
    pub window_ns: i64,
    pub frames: u64,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: crate::FxIndexMap<Skip, u64>,
    pub track: TrackStats,
    pub summary: Summary,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub warnings: Vec<String>,
    /// Times in the table: relative to the first frame or absolute.
    pub time_format: crate::cli::TimeFormat,
    /// Colour the table (stdout is a terminal and NO_COLOR is unset).
    pub colour: bool,
    /// Wireshark display filter for the flagged attempts' 4-tuples (empty: none flagged).
    pub display_filter: String,
    /// How many 4-tuples the filter names.
    pub filter_tuples: usize,
}

impl Report {
    /// `frame 123`, or `ring_2.pcap#123` when several files were merged.
    pub fn frame_label(&self, frame: FrameRef) -> String {
        if self.files.len() > 1 {
            let name = self
                .files
                .get(frame.file as usize)
                .map_or("?", |f| f.name.as_str());
            format!("{name}#{}", frame.number)
        } else {
            frame.number.to_string()
        }
    }

    /// Fraction digits for times: the finest precision among the files.
    pub fn digits(&self) -> u8 {
        self.files.iter().map(|f| f.info.digits).max().unwrap_or(6)
    }

    pub fn not_decoded(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(s, _)| s.is_failure())
            .map(|(_, n)| n)
            .sum()
    }

    pub fn not_tcp(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(s, _)| !s.is_failure())
            .map(|(_, n)| n)
            .sum()
    }

    /// What was read: frames and files with the time span, then the TCP counts.
    pub fn input_lines(&self) -> [String; 2] {
        let span = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => {
                format!(
                    ", {} to {} ({})",
                    a.rfc3339(self.digits()),
                    b.rfc3339(self.digits()),
                    human_secs(b.since(a))
                )
            }
            _ => String::new(),
        };
        let names: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
        let t = &self.track;
        [
            format!(
                "Read {} from {}{span}.",
                count(self.frames, "frame"),
                names.join(", ")
            ),
            format!(
                "{}: {} SYN, {} SYN-ACK; {} of interest.",
                count(t.tcp_segments, "TCP segment"),
                thousands(t.syn_packets),
                thousands(t.synack_packets),
                count(self.summary.attempts(), "connection attempt")
            ),
        ]
    }

    /// The sentences that tie the findings together, most important first.
    pub fn headline(&self) -> Vec<String> {
        headline(self)
    }
}

/// Formats a count with thousands separators (tables only; JSON keeps plain numbers).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds for people: `1.2 s`, `118 s`, `0.004 s`, `0.31 ms`.
pub fn human_secs(nanos: i64) -> String {
    let s = secs(nanos);
    if s.abs() < 0.01 && nanos != 0 {
        return format!("{} ms", trim_zeros(format!("{:.3}", s * 1000.0)));
    }
    let text = if s.abs() >= 100.0 {
        format!("{s:.0}")
    } else if s.abs() >= 10.0 {
        format!("{s:.1}")
    } else if s.abs() >= 1.0 {
        format!("{s:.2}")
    } else {
        format!("{s:.3}")
    };
    format!("{} s", trim_zeros(text))
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `1 attempt`, `2 attempts` (with thousands separators).
pub fn count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}

fn range_text(min: i64, max: i64) -> String {
    let (a, b) = (human_secs(min), human_secs(max));
    if a == b {
        a
    } else if a.ends_with(" ms") != b.ends_with(" ms") {
        format!("{a} – {b}")
    } else {
        format!("{}–{b}", a.trim_end_matches(" s").trim_end_matches(" ms"))
    }
}

fn headline(r: &Report) -> Vec<String> {
    let s = &r.summary;
    let mut lines = Vec::new();
    if s.attempts() == 0 {
        lines.push(if r.frames == 0 {
            "The capture holds no packets.".to_string()
        } else {
            format!(
                "No connection attempts (SYNs) of interest among {} frames.",
                thousands(r.frames)
            )
        });
        return lines;
    }
    let window = human_secs(r.window_ns);
    if r.track.server_packets == 0 {
        lines.push(format!(
            "No packet from any server is in the capture (one direction only): the {} cannot be judged answered or not, and are reported unknown.",
            count(s.attempts(), "attempt")
        ));
        let in_window = s.reused(crate::attempt::ReuseClass::InWindow);
        if in_window > 0 {
            lines.push(format!("{} reused a 4-tuple inside the {window} window; capture both directions to see whether they failed.", count(in_window, "attempt")));
        }
        return lines;
    }
    for ((client, server), pair) in &s.pairs {
        let hit = pair.failed_server_time_wait.total();
        if hit == 0 {
            continue;
        }
        let failed = pair.outcomes.failed();
        let (Some(min), Some(max)) = (pair.gaps.min, pair.gaps.max) else {
            continue;
        };
        lines.push(format!(
            "{} of {} from {client} to {server} ({}) reused a 4-tuple that {server} still held in TIME_WAIT (closed {} before; window {window}).",
            thousands(hit),
            count(failed, "failed attempt"),
            outcome_list(&pair.outcomes),
            range_text(min, max),
        ));
    }
    let failed = s.outcomes.failed();
    let explained: u64 = s
        .pairs
        .values()
        .map(|p| p.failed_server_time_wait.total())
        .sum();
    if failed > explained {
        lines.push(format!(
            "{} did not hit a TIME_WAIT that the capture shows ({}).",
            count(failed - explained, "failed attempt"),
            outcome_list(&unexplained(s)),
        ));
    }
    if s.challenged_then_established > 0 {
        lines.push(format!(
            "{} got in only after a challenge ACK from a server still holding the 4-tuple: a collision felt as a delay.",
            count(s.challenged_then_established, "attempt")
        ));
    }
    let asymmetries = diagnosis::asymmetries(r);
    lines.extend(asymmetries.iter().map(diagnosis::asymmetry_sentence));
    if failed == 0 && s.challenged_then_established == 0 && asymmetries.is_empty() {
        let in_window = s.cross[crate::attempt::ReuseClass::InWindow as usize]
            .get(crate::attempt::Outcome::Established);
        let mut line = format!(
            "Nothing failed: {} answered",
            count(s.attempts(), "connection attempt")
        );
        let unknown = s.outcomes.get(crate::attempt::Outcome::Unknown);
        if unknown > 0 {
            line.push_str(&format!(
                " or are too close to the end of the capture to judge ({} unknown)",
                thousands(unknown)
            ));
        }
        line.push('.');
        if in_window > 0 {
            line.push_str(&format!(
                " {} reused a 4-tuple inside the {window} window and got in.",
                count(in_window, "attempt")
            ));
        }
        lines.push(line);
    }
    lines
}

fn unexplained(s: &Summary) -> crate::summary::OutcomeCounts {
    let mut left = s.outcomes;
    for pair in s.pairs.values() {
        for (i, n) in pair.failed_server_time_wait.0.iter().enumerate() {
            left.0[i] -= n;
        }
    }
    left.0[crate::attempt::Outcome::Established as usize] = 0;
    left.0[crate::attempt::Outcome::Unknown as usize] = 0;
    left
}

fn outcome_list(counts: &crate::summary::OutcomeCounts) -> String {
    crate::attempt::Outcome::ALL
        .iter()
        .filter(|o| o.is_failure() && counts.get(**o) > 0)
        .map(|o| {
            format!(
                "{} {}",
                thousands(counts.get(*o)),
                o.name().replace('_', " ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_058), "1,058");
        assert_eq!(thousands(10_241_000), "10,241,000");
    }

    #[test]
    fn human_seconds() {
        assert_eq!(human_secs(1_200_000_000), "1.2 s");
        assert_eq!(human_secs(118_000_000_000), "118 s");
        assert_eq!(human_secs(4_000_000), "4 ms");
        assert_eq!(human_secs(40_000_000), "0.04 s");
        assert_eq!(human_secs(240_000_000_000), "240 s");
        assert_eq!(range_text(1_300_000_000, 118_000_000_000), "1.3–118 s");
        assert_eq!(human_secs(310_000), "0.31 ms");
        assert_eq!(human_secs(0), "0 s");
        assert_eq!(count(1, "attempt"), "1 attempt");
        assert_eq!(count(1_089, "attempt"), "1,089 attempts");
    }
}
