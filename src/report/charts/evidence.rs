//! TIME_WAIT evidence per server: every SYN sent into a 4-tuple the server held, at its own
//! gap (the first SYN's gap plus its retransmission offset). Ignored and challenged SYNs
//! stack above the axis, accepted ones below; the diagnosis's bracket (at least the longest
//! held gap, at most the shortest accepted one beyond it) is drawn over them.

use std::fmt::Write as _;

use super::bins::{EVIDENCE_PER_DECADE as PER, bin_text, edge_ns, shown_bins};
use super::gaps::window_line;
use super::input::{ChartInput, ServerEvidence};
use super::svg::{MIRROR, Plot, Scale, decade_ticks, escape, legend};
use crate::report::{human_secs, thousands};

/// Servers that get an evidence chart (most SYNs first).
pub const EVIDENCE_CHARTS: usize = 8;

pub fn charts(input: &ChartInput) -> String {
    let mut servers: Vec<&ServerEvidence> =
        input.evidence.iter().filter(|e| e.syns() > 0).collect();
    let mut html = String::new();
    if servers.is_empty() {
        html.push_str("<p class=\"muted\">No SYN was sent into a 4-tuple whose TIME_WAIT a server held (it closed the earlier connection first): the capture shows nothing of the servers' TIME_WAIT.</p>\n");
        return html;
    }
    servers.sort_by_key(|e| std::cmp::Reverse(e.syns()));
    html.push_str("<p class=\"muted\">Every SYN sent into a 4-tuple whose earlier connection the server closed first, at its own gap (first SYN's gap + its retransmission offset): ignored or challenged SYNs above the line, accepted ones below (each half on its own scale). The shaded band is the TIME_WAIT the diagnosis brackets from them.</p>\n");
    html.push_str(&legend(&[
        ("o-unanswered", "ignored"),
        ("o-challenge_ack", "challenged (ACK)"),
        ("o-established", "accepted"),
        ("bracket", "TIME_WAIT bracket"),
    ]));
    html.push_str("<div class=\"multiples\">\n");
    for e in servers.iter().take(EVIDENCE_CHARTS) {
        html.push_str(&chart(e, input.window_ns));
    }
    html.push_str("</div>\n");
    if servers.len() > EVIDENCE_CHARTS {
        let _ = writeln!(
            html,
            "<p class=\"muted\">{} more servers with fewer SYNs not drawn.</p>",
            thousands((servers.len() - EVIDENCE_CHARTS) as u64)
        );
    }
    if input.totals.evidence_left_out > 0 {
        let _ = writeln!(
            html,
            "<p class=\"muted\">{} SYNs to further servers were not counted (memory budget).</p>",
            thousands(input.totals.evidence_left_out)
        );
    }
    html
}

fn sum(m: &std::collections::BTreeMap<i32, u64>) -> u64 {
    m.values().sum()
}

/// The caption: what was seen and the bracket.
fn caption(e: &ServerEvidence) -> String {
    let server = e.server.map_or("?".to_string(), |s| s.to_string());
    let (ig, ch, ac) = (sum(&e.ignored), sum(&e.challenged), sum(&e.accepted));
    let mut text = format!(
        "<b>{}</b>: {} SYNs into its TIME_WAIT: {} ignored, {} challenged, {} accepted",
        escape(&server),
        thousands(ig + ch + ac),
        thousands(ig),
        thousands(ch),
        thousands(ac)
    );
    let bracket = match e.bracket {
        (Some(a), Some(b)) => format!(
            "; TIME_WAIT between {} and {}",
            human_secs(a),
            human_secs(b)
        ),
        (Some(a), None) => format!("; TIME_WAIT at least {}", human_secs(a)),
        (None, Some(b)) => format!("; TIME_WAIT at most {}", human_secs(b)),
        (None, None) => String::new(),
    };
    text.push_str(&escape(&bracket));
    text
}

fn chart(e: &ServerEvidence, w: i64) -> String {
    let keys = e
        .ignored
        .keys()
        .chain(e.challenged.keys())
        .chain(e.accepted.keys())
        .copied();
    let bracket_keys = [e.bracket.0, e.bracket.1]
        .into_iter()
        .flatten()
        .map(|g| super::bins::bin(g, w, PER));
    let (k0, k1) = shown_bins(keys.chain(bracket_keys));
    // A bin of room on each side, so that the bounds' labels fit.
    let (k0, k1) = (k0 - 1, k1 + 2);
    let x = Scale::log(
        (
            edge_ns(k0, w, PER) as f64 / 1e9,
            edge_ns(k1 + 1, w, PER) as f64 / 1e9,
        ),
        (0.0, 0.0),
    );
    let held_max = (k0..=k1)
        .map(|k| e.ignored.get(&k).unwrap_or(&0) + e.challenged.get(&k).unwrap_or(&0))
        .max()
        .unwrap_or(0);
    let acc_max = e.accepted.values().copied().max().unwrap_or(0);
    let server = e.server.map_or("?".to_string(), |s| s.to_string());
    let mut plot = Plot::new(
        &format!("TIME_WAIT evidence of {server}"),
        (700.0, 210.0),
        x,
        MIRROR,
    );
    plot.mirror_axes(
        &decade_ticks(x.lo, x.hi),
        (held_max, acc_max),
        "gap of the SYN (log scale)",
        ("not let in ↑", "accepted ↓"),
    );
    bracket_band(&mut plot, e.bracket);
    for k in k0..=k1 {
        let (ig, ch, ac) = (
            *e.ignored.get(&k).unwrap_or(&0),
            *e.challenged.get(&k).unwrap_or(&0),
            *e.accepted.get(&k).unwrap_or(&0),
        );
        if ig + ch + ac == 0 {
            continue;
        }
        let (a, b) = (
            edge_ns(k, w, PER) as f64 / 1e9,
            edge_ns(k + 1, w, PER) as f64 / 1e9,
        );
        let tip = format!(
            "{server}, SYNs at gap {}: {ig} ignored, {ch} challenged, {ac} accepted",
            bin_text(k, w, PER)
        );
        plot.mirror(
            (a, b),
            (&[("o-unanswered", ig), ("o-challenge_ack", ch)], held_max),
            (&[("o-established", ac)], acc_max),
            &tip,
        );
    }
    bracket_labels(&mut plot, e.bracket);
    window_line(&mut plot, w);
    format!(
        "<figure class=\"panel\"><figcaption>{}</figcaption>{}</figure>\n",
        caption(e),
        plot.finish()
    )
}

/// The bracket as a shaded band (open-ended towards the plot's edge when one bound is
/// missing); `bracket_labels` draws its bounds over the bars.
fn bracket_band(plot: &mut Plot, (lo, hi): (Option<i64>, Option<i64>)) {
    if lo.is_none() && hi.is_none() {
        return;
    }
    let xa = lo.map_or(plot.x.from, |g| plot.x.at(g as f64 / 1e9));
    let xb = hi.map_or(plot.x.to, |g| plot.x.at(g as f64 / 1e9));
    let (top, bottom) = (plot.y.to, plot.y.from);
    let tip = match (lo, hi) {
        (Some(a), Some(b)) => format!("TIME_WAIT between {} and {}", human_secs(a), human_secs(b)),
        (Some(a), None) => format!("TIME_WAIT at least {}", human_secs(a)),
        (None, Some(b)) => format!("TIME_WAIT at most {}", human_secs(b)),
        (None, None) => unreachable!(),
    };
    plot.rect(
        "bracket",
        (xa, top),
        ((xb - xa).max(2.0), bottom - top),
        &tip,
    );
}

/// The bounds' lines and labels, drawn over the bars (the labels have a halo).
fn bracket_labels(plot: &mut Plot, (lo, hi): (Option<i64>, Option<i64>)) {
    let (top, bottom) = (plot.y.to, plot.y.from);
    if let (Some(a), Some(b)) = (lo, hi) {
        // Bounds too close for two labels: one, right of the band.
        let (xa, xb) = (plot.x.at(a as f64 / 1e9), plot.x.at(b as f64 / 1e9));
        if xb - xa < 80.0 {
            plot.line("bound", (xa, top), (xa, bottom));
            plot.line("bound", (xb, top), (xb, bottom));
            let (a, b) = (human_secs(a), human_secs(b));
            let text = if a == b {
                format!("= {a}")
            } else {
                format!("{a} – {b}")
            };
            plot.text((xb + 3.0, bottom - 4.0), "start", "boundtext", &text);
            return;
        }
    }
    if let Some(a) = lo {
        let x = plot.x.at(a as f64 / 1e9);
        plot.line("bound", (x, top), (x, bottom));
        plot.text(
            (x - 3.0, bottom - 4.0),
            "end",
            "boundtext",
            &format!("≥ {}", human_secs(a)),
        );
    }
    if let Some(b) = hi {
        let x = plot.x.at(b as f64 / 1e9);
        plot.line("bound", (x, top), (x, bottom));
        plot.text(
            (x + 3.0, bottom - 4.0),
            "start",
            "boundtext",
            &format!("≤ {}", human_secs(b)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::Endpoint;

    #[test]
    fn bracket_and_counts_are_drawn() {
        let mut e = ServerEvidence {
            server: Some(Endpoint {
                ip: "10.0.0.2".parse().unwrap(),
                port: 110,
            }),
            ..Default::default()
        };
        let w = 240_000_000_000;
        e.ignored
            .insert(super::super::bins::bin(5_000_000_000, w, PER), 3);
        e.accepted
            .insert(super::super::bins::bin(250_000_000_000, w, PER), 1);
        e.bracket = (Some(232_000_000_000), Some(247_000_000_000));
        let html = chart(&e, w);
        assert!(html.contains("3 ignored, 0 challenged, 1 accepted"));
        assert!(html.contains("TIME_WAIT between 232 s and 247 s"));
        assert!(
            html.contains(">232 s – 247 s</text>"),
            "one label for close bounds"
        );
        assert_eq!(html.matches("class=\"bracket\"").count(), 1);
        assert_eq!(html.matches("class=\"o-unanswered\"").count(), 1);
        assert_eq!(html.matches("class=\"o-established\"").count(), 1);
        e.bracket = (Some(2_000_000_000), Some(200_000_000_000));
        let html = chart(&e, w);
        assert!(
            html.contains("≥ 2 s") && html.contains("≤ 200 s"),
            "a label at each bound"
        );
        e.bracket = (None, None);
        assert!(!chart(&e, w).contains("class=\"bracket\""));
    }
}
