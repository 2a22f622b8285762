//! What the capture cannot show, what the memory budget summarised, and warnings about the
//! diagnosis itself (a `--time-wait` shorter than what a server visibly holds).

use super::headline::window_warning;
use super::{count, thousands};
use crate::attempt::Outcome;
use crate::budget::Dropped;
use crate::detect::Findings;
use crate::report::Report;

/// Warnings the diagnosis adds to the reading warnings (stderr, JSON `warnings`, the
/// report's capture-quality list).
pub fn detect_warnings(f: &Findings, dropped: &Dropped) -> Vec<String> {
    let mut out = Vec::new();
    for s in &f.servers {
        let b = &s.judgement.bracket;
        if let Some(beyond) = b.beyond_window_ns {
            out.push(window_warning(
                &s.server.to_string(),
                b.at_least_ns.unwrap_or(0),
                beyond,
                f.window_ns,
            ));
        }
    }
    let m = &f.summarised;
    if m.sources > 0 {
        out.push(format!(
            "the memory budget kept {} exactly; {} in all were summarised, from {} (a source summarised and seen again is listed with its later attempts only; all are in every total)",
            count(f.sources.len() as u64, "source"),
            count(m.source_attempts, "attempt"),
            entries(m.sources, "source")
        ));
    }
    if m.servers > 0 {
        out.push(format!(
            "the memory budget kept {} exactly; {} in all were summarised, from {} (a server summarised and seen again is listed with its later attempts only; all are in every total)",
            count(f.servers.len() as u64, "server"),
            count(m.server_attempts, "attempt"),
            entries(m.servers, "server")
        ));
    }
    if m.port_pairs + m.collisions + m.relays > 0 {
        out.push(format!(
            "the memory budget summarised {} host pairs (direction asymmetry), {} collision pairs and {} relay patterns; findings about them may be missing",
            thousands(m.port_pairs),
            thousands(m.collisions),
            thousands(m.relays)
        ));
    }
    if dropped.any() {
        out.push(format!(
            "the memory budget made the tracker forget {} 4-tuples, decide {} attempts early and forget {} port uses and {} ended connections before their time; reuses of those are not seen",
            thousands(dropped.flows),
            thousands(dropped.pending),
            thousands(dropped.ports),
            thousands(dropped.archive)
        ));
    }
    out
}

/// What was inferred from one side of the conversation (issue 13), rule by rule with how
/// far it can be trusted.
fn one_side_note(t: &crate::track::TrackStats) -> Option<String> {
    use crate::attempt::{Evidence, Reliability};
    let o = &t.one_side;
    let (client, server) = (
        o.attempts(Evidence::ClientSideOnly),
        o.attempts(Evidence::ServerSideOnly),
    );
    if client + server == 0 {
        return None;
    }
    let rules: Vec<String> = o
        .fired()
        .map(|(rule, n)| {
            let trust = match rule.reliability() {
                Reliability::Certain => "certain",
                Reliability::High => "reliable",
                Reliability::Medium => "a guess",
            };
            format!("{} {} ({trust})", thousands(n), rule.name())
        })
        .collect();
    let mut line = format!(
        "Seen from one side only: {} from the clients' packets alone, {} from the servers' alone; inferred: {}.",
        count(client, "attempt"),
        thousands(server),
        rules.join(", ")
    );
    if server > 0 {
        line.push_str(
            " From a server's side, SYNs it did not answer are not seen: none is counted as unanswered. \
             An answer whose SYN is not in the capture can also be backscatter, the reply to a SYN \
             spoofed in the client's name (a SYN flood or a reflection attack): this capture cannot \
             tell the two apart.",
        );
    }
    Some(line)
}

/// Limits of what the capture can show, as sentences (empty when there are none).
pub fn quality_notes(r: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    let f = &r.findings;
    let t = &r.track;
    let nothing_inferred = f.outcomes.get(Outcome::Unknown) == f.attempts();
    if f.attempts() > 0 && t.server_packets == 0 && nothing_inferred {
        notes.push(format!(
            "No packet from any server: a one-direction capture cannot tell unanswered from unseen, so its {} are reported unknown, not unanswered.",
            count(f.attempts(), "attempt")
        ));
    } else {
        notes.extend(one_side_note(t));
        for s in &f.servers {
            let o = &s.tally.outcomes;
            let answered = o.total() - o.get(Outcome::Unanswered) - o.get(Outcome::Unknown);
            if answered == 0 && o.total() >= 3 {
                notes.push(format!(
                    "{} answered none of its {}: it was down, filtered, or outside the capture's view.",
                    s.server,
                    count(o.total(), "attempt")
                ));
            }
        }
    }
    if t.ends_without_handshake > 0 {
        notes.push(format!(
            "{} belong to connections whose SYN is not in the capture (it began mid-connection): their TIME_WAIT holder is unknown and reuses of them are not seen.",
            count(t.ends_without_handshake, "FIN or RST segment")
        ));
    }
    let drops: u64 = r.files.iter().map(|f| f.info.dropped).sum();
    if drops > 0 {
        notes.push(format!(
            "The capturing interface dropped {} (pcapng statistics).",
            count(drops, "packet")
        ));
    }
    if t.acks_of_unseen_data > 0 {
        notes.push(format!(
            "In {} an ACK acknowledges data the capture never showed: the capture missed packets.",
            count(t.acks_of_unseen_data, "connection")
        ));
    }
    let cut: u64 = r.files.iter().map(|f| f.info.cut_frames).sum();
    if cut > 0 {
        let snap = r
            .files
            .iter()
            .map(|f| f.info.snaplen)
            .filter(|s| *s > 0)
            .min();
        let snap = snap
            .map(|s| format!(" (snap length {s})"))
            .unwrap_or_default();
        notes.push(format!(
            "{} were cut short{snap}: TCP headers were still read; payload lengths come from the IP headers.",
            count(cut, "frame")
        ));
    }
    let no_ts: u64 = r.files.iter().map(|f| f.info.without_timestamp).sum();
    if no_ts > 0 {
        notes.push(format!(
            "{} have no timestamp (pcapng Simple Packet Blocks).",
            count(no_ts, "frame")
        ));
    }
    notes
}

/// The capture-quality lines: limits of the capture, frames not decoded, warnings.
pub fn quality_lines(r: &Report) -> Vec<String> {
    let mut lines = quality_notes(r);
    lines.extend(
        r.skipped
            .iter()
            .filter(|(k, _)| k.is_failure())
            .map(|(k, n)| format!("{} {}", count(*n, "frame"), k.describe())),
    );
    lines.extend(r.warnings.iter().cloned());
    lines
}

/// `1 source entry`, `3 source entries`.
fn entries(n: u64, what: &str) -> String {
    let noun = if n == 1 { "entry" } else { "entries" };
    format!("{} {what} {noun}", thousands(n))
}
