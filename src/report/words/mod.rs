//! Every sentence and label the user reads, in one module (issue 10 item 9): the writers
//! (table, JSON, HTML) only place them. Numbers are formatted here for people (thousands
//! separators, `1.2 s`); the JSON keeps plain numbers beside the sentences.

mod diagnosis;
mod headline;
mod quality;

pub use diagnosis::{
    Line, asymmetry_sentence, bracket_text, fix_sentence, relay_sentence, remedy_sentence,
    reuse_text, sections, server_sentence, source_sentence, verdict_text,
};
pub use headline::window_warning;
pub use headline::{fix_lines, headline};
pub use quality::{detect_warnings, quality_lines, quality_notes};

use crate::attempt::Outcome;
use crate::detect::cause::Cause;
use crate::detect::counts::OutcomeCounts;
use crate::detect::cross::CrossRow;
use crate::detect::refusal::RefusalForm;
use crate::detect::schedule::Schedule;
use crate::detect::sources::Pattern;
use crate::detect::time_wait::{KnownTimeWait, ResponseStyle};
use crate::time::secs;

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

/// `2.74–232 s`, or one value when both ends read the same.
pub fn range_text(min: i64, max: i64) -> String {
    let (a, b) = (human_secs(min), human_secs(max));
    if a == b {
        a
    } else if a.ends_with(" ms") != b.ends_with(" ms") {
        format!("{a} – {b}")
    } else {
        format!("{}–{b}", a.trim_end_matches(" s").trim_end_matches(" ms"))
    }
}

/// `117 unanswered, 8 refused`: the failed outcomes of some counts.
pub fn outcome_list(counts: &OutcomeCounts) -> String {
    Outcome::ALL
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

/// The cross table's row labels.
pub fn cross_label(r: CrossRow) -> &'static str {
    match r {
        CrossRow::InServerTimeWait => "reused in the server's TIME_WAIT",
        CrossRow::InClientTimeWait => "reused, client-held TIME_WAIT (harmless)",
        CrossRow::AfterReset => "reused after a RST (no TIME_WAIT)",
        CrossRow::AfterWindow => "reused after window",
        CrossRow::Open => "reused while still open",
        CrossRow::NotReused => "not reused",
    }
}

/// What a cause did, as a verb phrase after a count ("117 hit a server's TIME_WAIT").
pub fn cause_phrase(c: Cause, n: u64) -> &'static str {
    let one = n == 1;
    match c {
        Cause::ServerTimeWait => "hit a server's TIME_WAIT",
        Cause::TimeWaitBeforeCapture => {
            "hit a TIME_WAIT of a connection closed before the capture began"
        }
        Cause::Open4Tuple => "reused a 4-tuple whose connection was still open",
        Cause::PortClosed if one => "was refused by a closed port",
        Cause::PortClosed => "were refused by a closed port",
        Cause::ApplicationRefused if one => "was accepted by TCP, then refused by the application",
        Cause::ApplicationRefused => "were accepted by TCP, then refused by the application",
        Cause::IcmpError => "got an ICMP error",
        Cause::NoAnswer if one => "has nothing in the capture to explain it",
        Cause::NoAnswer => "have nothing in the capture to explain them",
    }
}

/// A short cause name for table cells.
pub fn cause_cell(c: Option<Cause>) -> &'static str {
    c.map_or("-", Cause::name)
}

pub fn pattern_name(p: Pattern) -> &'static str {
    match p {
        Pattern::Sequential => "sequential",
        Pattern::Random => "random",
        Pattern::Pooled => "pooled",
    }
}

pub fn style_name(s: ResponseStyle) -> &'static str {
    match s {
        ResponseStyle::SilentDrop => "silent drop",
        ResponseStyle::ChallengeAck => "challenge ACK + RST + retry (Linux)",
        ResponseStyle::Rst => "RST",
        ResponseStyle::Accept => "accept (when the ISN or timestamp advanced)",
        ResponseStyle::IcmpUnreachable => "ICMP unreachable",
    }
}

pub fn known_name(k: KnownTimeWait) -> &'static str {
    match k {
        KnownTimeWait::Linux60 => "Linux's fixed 60 s",
        KnownTimeWait::Windows240 => "Windows' 240 s default",
        KnownTimeWait::Either => "Linux's 60 s or Windows' 240 s",
    }
}

pub fn schedule_name(s: Schedule) -> &'static str {
    match s {
        Schedule::Windows => "Windows (+3 s, +9 s)",
        Schedule::LinuxExponential => "Linux (1, 2, 4 s apart)",
        Schedule::LinuxLinear => "Linux linear timeouts (1 s apart)",
        Schedule::LinuxFastRetry => "Linux fast retry after a challenge ACK",
        Schedule::Other => "other",
    }
}

pub fn refusal_name(f: RefusalForm) -> &'static str {
    match f {
        RefusalForm::ShortRejectThenFin => "with a short reject, then FIN",
        RefusalForm::ResetBeforeData => "with a RST before the client's data",
        RefusalForm::ResetAfterData => "with a RST after the client's data",
        RefusalForm::FinWithoutData => "with a FIN and no data",
    }
}

/// What was read: frames and files with the time span, then the TCP counts.
pub fn input_lines(r: &crate::report::Report) -> [String; 2] {
    let span = match (r.first_ts, r.last_ts) {
        (Some(a), Some(b)) => format!(
            ", {} to {} ({})",
            a.rfc3339(r.digits()),
            b.rfc3339(r.digits()),
            human_secs(b.since(a))
        ),
        _ => String::new(),
    };
    let names: Vec<&str> = r.files.iter().map(|f| f.name.as_str()).collect();
    let t = &r.track;
    [
        format!(
            "Read {} from {}{span}.",
            count(r.frames, "frame"),
            names.join(", ")
        ),
        format!(
            "{}: {} SYN, {} SYN-ACK; {} of interest.",
            count(t.tcp_segments, "TCP segment"),
            thousands(t.syn_packets),
            thousands(t.synack_packets),
            count(r.findings.attempts(), "connection attempt")
        ),
    ]
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
