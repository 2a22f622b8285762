//! Source port over time, one lane per port: the data the page script draws the lanes
//! from (compact, column by column), and the sections it draws them into.
//!
//! Each collision is a link from the end of the connection whose TIME_WAIT it hit (the
//! reusing SYN minus its gap) to the reusing SYN, on the port's lane, coloured by the
//! attempt's outcome; the script pages through the ports (busiest first when there are
//! more than fit) and zooms in time, and the flagged table jumps to any attempt's lane.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::input::{ChartInput, HeldBy, Point};
use super::svg::escape;
use crate::attempt::Outcome;
use crate::report::{count, thousands};

/// Sources that get a port chart (most flagged attempts first).
pub const LANE_SOURCES: usize = 4;

/// The sources drawn: those with points, busiest first.
pub fn drawn_sources(input: &ChartInput) -> Vec<(usize, u32)> {
    input
        .sources
        .iter()
        .enumerate()
        .filter(|(_, s)| s.shown > 0)
        .filter_map(|(i, s)| {
            let ip = s.ip?;
            let c = input.clients.iter().position(|c| *c == ip)?;
            Some((i, c as u32))
        })
        .take(LANE_SOURCES)
        .collect()
}

/// The HTML sections the script fills: a heading whose numbers agree with what is drawn,
/// the diagnosis's sentence about the source (`note`), and an empty chart container.
pub fn sections(input: &ChartInput, notes: &[(std::net::IpAddr, String)]) -> String {
    let mut html = String::new();
    let drawn = drawn_sources(input);
    for (i, client) in &drawn {
        let s = &input.sources[*i];
        let ip = s.ip.map(|ip| ip.to_string()).unwrap_or_default();
        let shown = if s.shown == s.attempts {
            format!("{}, all shown", count(s.attempts, "attempt"))
        } else {
            format!(
                "{} of {} shown: every flagged one kept{}",
                thousands(s.shown),
                count(s.attempts, "attempt"),
                if input.totals.stride > 1 {
                    format!(", 1 in {} of the others", input.totals.stride)
                } else {
                    String::new()
                }
            )
        };
        let _ = writeln!(
            html,
            "<section class=\"source\"><h3>{} <span class=\"muted\">({}; {} flagged)</span></h3>",
            escape(&ip),
            escape(&shown),
            thousands(s.flagged)
        );
        if let Some(note) = s.ip.and_then(|ip| notes.iter().find(|n| n.0 == ip)) {
            let _ = writeln!(html, "<p class=\"muted\">{}</p>", escape(&note.1));
        }
        let _ = writeln!(
            html,
            "<div class=\"lanes\" data-client=\"{client}\"><noscript><p class=\"muted\">The port chart is drawn by the page's script.</p></noscript></div></section>"
        );
    }
    let rest = input
        .sources
        .iter()
        .filter(|s| s.shown > 0)
        .count()
        .saturating_sub(drawn.len());
    if rest > 0 {
        let _ = writeln!(
            html,
            "<p class=\"muted\">{} with fewer flagged attempts not drawn (their flagged attempts are in the table).</p>",
            count(rest as u64, "more source")
        );
    }
    html
}

fn outcome_index(o: Outcome) -> i64 {
    o as i64
}

fn held_index(h: HeldBy) -> i64 {
    HeldBy::ALL.iter().position(|x| *x == h).unwrap_or(0) as i64
}

/// The page's data: the points column by column (times in ns since the first frame),
/// dictionaries for addresses, and what the script needs to label them.
pub fn data(input: &ChartInput, absolute: bool, digits: u8) -> Value {
    let origin = input.origin;
    let col = |f: &dyn Fn(&Point) -> i64| -> Vec<i64> { input.points.iter().map(f).collect() };
    let reuse = |f: &dyn Fn(&super::input::PointReuse) -> i64| -> Vec<i64> {
        input
            .points
            .iter()
            .map(|p| p.reuse.as_ref().map_or(-1, f))
            .collect()
    };
    let several = input.files.len() > 1;
    let mut p = json!({
        "t": col(&|p| p.ts.since(origin)),
        "c": col(&|p| i64::from(p.client)),
        "port": col(&|p| i64::from(p.port)),
        "s": col(&|p| i64::from(p.server)),
        "o": col(&|p| outcome_index(p.outcome)),
        "fl": col(&|p| i64::from(p.flagged)),
        "rt": col(&|p| i64::from(p.syn_retransmits)),
        "ch": col(&|p| i64::from(p.challenge_acks)),
        "ca": col(&|p| i64::from(p.cause)),
        "f": col(&|p| p.frame.number as i64),
        "g": reuse(&|r| r.gap_ns),
        "h": reuse(&|r| held_index(r.held)),
        "w": reuse(&|r| i64::from(r.in_window)),
        "pf": reuse(&|r| r.previous_frame.number as i64),
        "pe": reuse(&|r| r.previous_end_frame.number as i64),
    });
    if several {
        p["fi"] = json!(col(&|p| i64::from(p.frame.file)));
        p["pfi"] = json!(reuse(&|r| i64::from(r.previous_frame.file)));
        p["pei"] = json!(reuse(&|r| i64::from(r.previous_end_frame.file)));
    }
    let drawn: Vec<u32> = drawn_sources(input).into_iter().map(|d| d.1).collect();
    let t = &input.totals;
    json!({
        "window": input.window_ns,
        "origin": [origin.0.div_euclid(1_000_000_000), origin.0.rem_euclid(1_000_000_000)],
        "span": input.end.since(origin),
        "digits": digits.min(9),
        "absolute": absolute,
        "files": input.files,
        "clients": input.clients.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "servers": input.servers.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "causes": input.causes,
        "outcomes": Outcome::ALL.map(|o| o.name()),
        "colours": Outcome::ALL.map(super::colour),
        "held": HeldBy::ALL.map(|h| h.name()),
        "drawn": drawn,
        "totals": {
            "attempts": t.attempts,
            "flagged": t.flagged,
            "flagged_shown": t.flagged_shown,
            "shown": t.shown(),
        },
        "p": p,
    })
}

/// JSON for a `<script type="application/json">` element: `</` cannot end the element.
pub fn embed(value: &Value) -> String {
    value.to_string().replace("</", "<\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_element() {
        let v = json!({"a": "</script><b>"});
        let text = embed(&v);
        assert!(!text.contains("</"));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
