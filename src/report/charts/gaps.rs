//! Reuse gaps against the TIME_WAIT window: log-scale bins anchored at the window, so that
//! one bin edge is exactly the window and no bin straddles the dashed line; one histogram per
//! holder of TIME_WAIT, since only a server-held TIME_WAIT makes a collision (issue 11).

use std::fmt::Write as _;

use super::bins::{PER_DECADE, bin_text, edge_ns, shown_bins};
use super::input::{ChartInput, Fate, HeldBy};
use super::svg::{MIRROR, Plot, Scale, TOP, decade_ticks, escape, legend};
use crate::report::{human_secs, thousands};

/// What each holder's histogram is called, and what its reuses mean.
fn panel_title(h: HeldBy) -> &'static str {
    match h {
        HeldBy::Server => {
            "the server held TIME_WAIT (it closed first): inside the window, a collision"
        }
        HeldBy::Client => "the client held TIME_WAIT (it closed first): harmless for the server",
        HeldBy::NoTimeWait => "no TIME_WAIT (the earlier connection ended with a RST)",
        HeldBy::Unknown => "holder unknown (the earlier connection's end is not in the capture)",
        HeldBy::Open => "the earlier connection was still open (no FIN or RST)",
    }
}

const CLASSES: [&str; 3] = ["o-unanswered", "o-established", "o-unknown"];

/// The histograms (HTML: a caption, a legend, one small SVG per holder with reuses).
pub fn histograms(input: &ChartInput) -> String {
    let w = input.window_ns;
    let total: u64 = input.reuse_gaps.values().flatten().sum();
    let mut html = String::new();
    if total == 0 {
        html.push_str("<p class=\"muted\">No attempt reused a 4-tuple on which an earlier connection completed its handshake in the capture.</p>\n");
        return html;
    }
    let (k0, k1) = shown_bins(input.reuse_gaps.keys().map(|k| k.1));
    let x = Scale::log(
        (
            edge_ns(k0, w, PER_DECADE) as f64 / 1e9,
            edge_ns(k1 + 1, w, PER_DECADE) as f64 / 1e9,
        ),
        (0.0, 0.0),
    );
    let _ = writeln!(
        html,
        "<p class=\"muted\">{} reuses of a 4-tuple, by who held its TIME_WAIT; gap from the earlier connection's last packet to the new SYN, {PER_DECADE} bins per decade with an edge at the {} window (dashed): bars left of it are inside the window. Failures are drawn below the line on their own scale, so that a few show beside many that got in. Every reuse is counted.</p>",
        thousands(total),
        human_secs(w)
    );
    html.push_str(&legend(&[
        (
            CLASSES[0],
            "failed (unanswered, refused, ICMP, challenge ACK)",
        ),
        (CLASSES[1], "got in (established)"),
        (CLASSES[2], "undecided (unknown)"),
    ]));
    html.push_str("<div class=\"multiples\">\n");
    for h in HeldBy::ALL {
        let bins: Vec<(i32, [u64; 3])> = input
            .reuse_gaps
            .range((h, i32::MIN)..=(h, i32::MAX))
            .map(|(k, c)| (k.1, *c))
            .collect();
        let n: u64 = bins.iter().flat_map(|b| b.1).sum();
        if n == 0 {
            continue;
        }
        let failed: u64 = bins.iter().map(|b| b.1[Fate::Failed as usize]).sum();
        let inside: u64 = bins.iter().filter(|b| b.0 < 0).flat_map(|b| b.1).sum();
        let _ = writeln!(
            html,
            "<figure class=\"panel\"><figcaption><b>{}</b>: {} reuses, {} inside the window, {} failed</figcaption>",
            escape(panel_title(h)),
            thousands(n),
            thousands(inside),
            thousands(failed)
        );
        html.push_str(&panel(h, &bins, x, w));
        html.push_str("</figure>\n");
    }
    html.push_str("</div>\n");
    html
}

fn panel(h: HeldBy, bins: &[(i32, [u64; 3])], x: Scale, w: i64) -> String {
    let max = |f: &dyn Fn(&[u64; 3]) -> u64| bins.iter().map(|b| f(&b.1)).max().unwrap_or(0);
    let up_max = max(&|c| c[1] + c[2]);
    let down_max = max(&|c| c[0]);
    let label = format!(
        "histogram of reuse gaps where the TIME_WAIT holder is {}",
        h.name()
    );
    let mut plot = Plot::new(&label, (700.0, 190.0), x, MIRROR);
    plot.mirror_axes(
        &decade_ticks(x.lo, x.hi),
        (up_max, down_max),
        "gap (log scale)",
        ("got in ↑", "failed ↓"),
    );
    for (k, c) in bins {
        let (a, b) = (
            edge_ns(*k, w, PER_DECADE) as f64 / 1e9,
            edge_ns(k + 1, w, PER_DECADE) as f64 / 1e9,
        );
        let tip = format!(
            "{} held, gap {}: {} failed, {} got in, {} undecided",
            h.name(),
            bin_text(*k, w, PER_DECADE),
            c[0],
            c[1],
            c[2]
        );
        plot.mirror(
            (a, b),
            (&[(CLASSES[1], c[1]), (CLASSES[2], c[2])], up_max),
            (&[(CLASSES[0], c[0])], down_max),
            &tip,
        );
    }
    window_line(&mut plot, w);
    plot.finish()
}

/// The dashed TIME_WAIT window line with its label.
pub fn window_line(plot: &mut Plot, window_ns: i64) {
    let x = plot.x.at(window_ns as f64 / 1e9);
    plot.line("win", (x, TOP - 8.0), (x, plot.y.from));
    let text = format!("window {}", human_secs(window_ns));
    // Right of the line, unless that runs off the plot.
    if x + 100.0 < plot.width {
        plot.text((x + 4.0, TOP - 2.0), "start", "wintext", &text);
    } else {
        plot.text((x - 4.0, TOP - 2.0), "end", "wintext", &text);
    }
}
