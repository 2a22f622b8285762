//! The rows of the report's tables, computed once from the findings and placed by every
//! writer that shows tables (the terminal table and the HTML page), as hyperfine's exporters
//! share their rows. Cells are text; `Align` says how a writer should align a column.

use super::Report;
use super::words::{cause_cell, cross_label, human_secs, thousands};
use crate::attempt::Outcome;
use crate::detect::cross::CrossRow;
use crate::time::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: its header, how each column aligns, and its rows (with the outcome of each
/// row's attempt, for colouring, where there is one).
pub struct Rows {
    pub header: Vec<&'static str>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
    pub outcomes: Vec<Option<Outcome>>,
    /// Rows left out (the JSON has them all).
    pub more: u64,
}

/// Servers listed in the tables.
pub const SERVER_ROWS: usize = 50;

/// Attempts by reuse of the 4-tuple (rows) and outcome (columns), with totals.
pub fn cross(r: &Report) -> Rows {
    let f = &r.findings;
    let mut header = vec![""];
    header.extend(Outcome::ALL.iter().map(|o| o.name()));
    header.push("total");
    let mut align = vec![Align::Left];
    align.extend(std::iter::repeat_n(Align::Right, Outcome::ALL.len() + 1));
    let row = |label: &str, c: &crate::detect::counts::OutcomeCounts| {
        let mut cells = vec![label.to_string()];
        cells.extend(Outcome::ALL.iter().map(|o| thousands(c.get(*o))));
        cells.push(thousands(c.total()));
        cells
    };
    let mut rows: Vec<Vec<String>> = CrossRow::ALL
        .iter()
        .map(|c| row(cross_label(*c), f.cross.row(*c)))
        .collect();
    rows.push(row("total", &f.outcomes));
    let outcomes = vec![None; rows.len()];
    Rows {
        header,
        align,
        rows,
        outcomes,
        more: 0,
    }
}

/// A time as the table shows it: seconds since the first frame, or RFC 3339, at the
/// capture's precision.
pub fn time_cell(r: &Report, ts: Ts) -> String {
    let digits = usize::from(r.digits());
    match r.render.time {
        super::TimeStyle::Relative => {
            let origin = r.first_ts.unwrap_or_default();
            let ns = ts.since(origin);
            let (s, frac) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
            if digits == 0 {
                s.to_string()
            } else {
                let frac = frac / 10i64.pow(9 - digits as u32);
                format!("{s}.{frac:0digits$}")
            }
        }
        super::TimeStyle::Absolute => ts.rfc3339(r.digits()).to_string(),
    }
}

/// The flagged attempts kept for the tables.
pub fn flagged(r: &Report) -> Rows {
    let header = vec![
        "frame",
        "time",
        "client",
        "server",
        "SYN rtx",
        "outcome",
        "cause",
        "chall. ACKs",
        "prev. conn",
        "gap",
        "TIME_WAIT holder",
    ];
    use Align::{Left as L, Right as R};
    let align = vec![R, R, L, L, R, L, L, R, R, R, L];
    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for flagged in &r.findings.flagged {
        let a = &flagged.attempt;
        let (prev, gap, holder) = match a.reuse {
            Some(reuse) => (
                r.frame_label(reuse.previous_frame),
                human_secs(reuse.gap_ns),
                if reuse.open {
                    "still open".to_string()
                } else {
                    reuse.holder.name().to_string()
                },
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        rows.push(vec![
            r.frame_label(a.frame),
            time_cell(r, a.ts),
            a.client.to_string(),
            a.server.to_string(),
            a.syn_retransmits.to_string(),
            a.outcome.name().to_string(),
            cause_cell(flagged.cause).to_string(),
            a.challenge_acks.to_string(),
            prev,
            gap,
            holder,
        ]);
        outcomes.push(Some(a.outcome));
    }
    Rows {
        header,
        align,
        rows,
        outcomes,
        more: r.findings.flagged_total - r.findings.flagged.len() as u64,
    }
}

/// One row per server: attempts, failures, reuses held by the server apart from harmless
/// client-held ones, failures in its TIME_WAIT and their gaps.
pub fn servers(r: &Report) -> Rows {
    let header = vec![
        "server",
        "attempts",
        "established",
        "failed",
        "reused in its TIME_WAIT",
        "client-held reuses (harmless)",
        "failed in its TIME_WAIT",
        "gaps of those",
    ];
    let mut align = vec![Align::Left];
    align.extend(std::iter::repeat_n(Align::Right, 7));
    let rows: Vec<Vec<String>> = r
        .findings
        .servers
        .iter()
        .take(SERVER_ROWS)
        .map(|s| {
            let t = &s.tally;
            let gaps = match t.failed_gaps.both() {
                Some((a, b)) => format!("{} – {}", human_secs(a), human_secs(b)),
                None => "-".into(),
            };
            vec![
                s.server.to_string(),
                thousands(t.outcomes.total()),
                thousands(t.outcomes.get(Outcome::Established)),
                thousands(t.outcomes.failed()),
                thousands(t.reused_in_server_time_wait),
                thousands(t.reused_harmless),
                thousands(t.failed_in_time_wait),
                gaps,
            ]
        })
        .collect();
    let outcomes = vec![None; rows.len()];
    Rows {
        header,
        align,
        rows,
        outcomes,
        more: r.findings.servers.len().saturating_sub(SERVER_ROWS) as u64,
    }
}
