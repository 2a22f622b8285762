//! `--html REPORT.html`: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) with the report's text and tables and three charts drawn here: source port
//! against time per source, reuse gaps against the TIME_WAIT window, outcomes over time.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::IpAddr;

use indexmap::IndexMap;

use super::rows::{self, Align, Rows};
use super::{Report, count, human_secs, thousands, words};
use crate::attempt::{Attempt, Outcome};
use crate::detect::counts::OutcomeCounts;
use crate::time::{Ts, secs};

/// Sources that get a port chart (the busiest).
const PORT_CHARTS: usize = 6;
/// Most bars in the outcomes-over-time chart.
const TIME_BUCKETS: f64 = 60.0;
/// Bins per decade of the reuse-gap histogram.
const PER_DECADE: i32 = 4;
/// Chart size and margins (pixels).
const WIDTH: f64 = 1000.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 42.0;

const CSS: &str = "body{margin:0;background:#fff;color:#222;font:14px/1.45 'Helvetica Neue',Helvetica,Arial,sans-serif}
main{width:1000px;margin:0 auto;padding:12px 0 40px}h1{font-size:22px;margin:8px 0}
h2{font-size:17px;margin:26px 0 6px;border-bottom:1px solid #ddd;padding-bottom:3px}h3{font-size:14px;margin:14px 0 2px}
.headline{background:#fff6e0;border-left:4px solid #e0a000;padding:6px 12px;margin:10px 0}
.headline p{margin:4px 0;font-weight:600}.muted{color:#666;font-size:12.5px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}th,td{border:1px solid #ddd;padding:2px 7px;white-space:nowrap}
th{background:#f3f3f3}td.r{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafafa}
pre{background:#f6f6f6;padding:6px 8px;white-space:pre-wrap;word-break:break-all;font-size:12px}
.legend{font-size:12.5px;margin:4px 0}.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:4px;vertical-align:-1px}
svg{display:block;margin:2px 0}svg text{font-size:11px;fill:#333}.grid{stroke:#ebebeb}.axis{stroke:#666;fill:none}
.tick{stroke:#666}.win{stroke:#222;stroke-width:1.5;stroke-dasharray:6 4}.join{stroke-width:1;opacity:.45}
circle:hover,rect:hover{stroke:#000;stroke-width:1.5}ul{margin:4px 0;padding-left:22px}li{margin:2px 0}
";

/// Colours of the outcomes (marks, bars, legend).
fn colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Established => "#2ca02c",
        Outcome::Refused => "#ff7f0e",
        Outcome::IcmpUnreachable => "#9467bd",
        Outcome::ChallengeAck => "#1f77b4",
        Outcome::Unanswered => "#d62728",
        Outcome::Unknown => "#999999",
    }
}

pub fn render(r: &Report, attempts: &[Attempt], out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<&str> = r.files.iter().map(|f| f.name.as_str()).collect();
    let mut css = CSS.to_string();
    for o in Outcome::ALL {
        let (name, c) = (o.name(), colour(o));
        css.push_str(&format!(".o-{name}{{fill:{c};stroke:{c}}}\n"));
    }
    let title = escape(&names.join(", "));
    let mut p = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>portreuse: {title}</title>\n<style>\n{css}</style></head>\n<body><main>\n<h1>portreuse report</h1>\n<div class=\"headline\">\n"
    );
    for line in r.headline() {
        p.push_str(&format!("<p>{}</p>\n", escape(&line)));
    }
    p.push_str("</div>\n");
    for line in r.input_lines() {
        p.push_str(&format!("<p>{}</p>\n", escape(&line)));
    }
    if r.findings.attempts() > 0 {
        let (shown, all) = (attempts.len() as u64, r.findings.attempts());
        let sample = if shown < all {
            format!(
                " (sample: {} of {})",
                thousands(shown),
                count(all, "attempt")
            )
        } else {
            String::new()
        };
        let origin = r.first_ts.unwrap_or_default();
        let last = r.last_ts.map_or(0.0, |l| secs(l.since(origin)));
        let span = attempts
            .iter()
            .map(|a| secs(a.ts.since(origin)))
            .fold(last, f64::max)
            .max(1.0);
        let outcomes = legend(&Outcome::ALL.map(|o| (colour(o), o.name())));
        p.push_str(&format!("<h2>Source ports over time{sample}</h2>\n<p class=\"muted\">One mark per connection attempt, coloured by outcome; a thin line joins an attempt that reused a 4-tuple inside the TIME_WAIT window (or still open) to the earlier connection on it. Hover a mark for its frame.</p>\n{outcomes}"));
        p.push_str(&port_charts(r, attempts, origin, span));
        p.push_str(&format!(
            "<h2>Reuse gaps and the TIME_WAIT window{sample}</h2>\n"
        ));
        p.push_str(&gap_chart(r, attempts));
        p.push_str(&format!("<h2>Outcomes over time{sample}</h2>\n{outcomes}"));
        p.push_str(&timeline_chart(attempts, origin, span));
        p.push_str(&tables(r));
        p.push_str(&diagnosis_html(r));
    }
    p.push_str(&quality_html(r));
    let version = env!("CARGO_PKG_VERSION");
    p.push_str(&format!(
        "<p class=\"muted\">portreuse {version}</p>\n</main></body></html>\n"
    ));
    out.write_all(p.as_bytes())
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn legend(items: &[(&str, &str)]) -> String {
    let spans: String = items
        .iter()
        .map(|(c, name)| {
            format!(
                "<span><i style=\"background:{c}\"></i>{}</span>",
                escape(name)
            )
        })
        .collect();
    format!("<div class=\"legend\">{spans}</div>\n")
}

/// A linear or log mapping from data values (`lo..hi`) to pixels (`from..to`).
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
    log: bool,
}

impl Scale {
    fn new((lo, hi): (f64, f64), (from, to): (f64, f64), log: bool) -> Scale {
        Scale {
            lo,
            hi,
            from,
            to,
            log,
        }
    }

    fn at(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.max(1e-12).log10() } else { x };
        let (v, lo, hi) = (f(v.clamp(self.lo, self.hi)), f(self.lo), f(self.hi));
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        self.from + t * (self.to - self.from)
    }
}

/// One chart: its scales and the SVG under construction.
struct Plot {
    x: Scale,
    y: Scale,
    height: f64,
    svg: String,
}

impl Plot {
    fn new(label: &str, height: f64, x: (f64, f64, bool), y: (f64, f64)) -> Plot {
        let label = escape(label);
        Plot {
            x: Scale::new((x.0, x.1), (LEFT, WIDTH - RIGHT), x.2),
            y: Scale::new(y, (height - BOTTOM, TOP), false),
            height,
            svg: format!(
                "<svg width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{label}\">\n"
            ),
        }
    }

    fn text(&mut self, x: f64, y: f64, anchor: &str, text: &str) {
        let text = escape(text);
        self.svg.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{text}</text>\n"
        ));
    }

    fn line(&mut self, class: &str, (x1, y1): (f64, f64), (x2, y2): (f64, f64)) {
        self.svg.push_str(&format!("<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"/>\n"));
    }

    /// Grid lines and labels for the y ticks, tick marks and labels on x, the axis titles.
    fn axes(&mut self, xt: &[(f64, String)], yt: &[(f64, String)], xlabel: &str, ylabel: &str) {
        let (x0, x1, y0) = (self.x.from, self.x.to, self.y.from);
        for (v, label) in yt {
            let y = self.y.at(*v);
            self.line("grid", (x0, y), (x1, y));
            self.text(x0 - 6.0, y + 4.0, "end", label);
        }
        for (v, label) in xt {
            let x = self.x.at(*v);
            self.line("tick", (x, y0), (x, y0 + 5.0));
            self.text(x, y0 + 17.0, "middle", label);
        }
        self.svg.push_str(&format!(
            "<path class=\"axis\" d=\"M{x0} {TOP}V{y0}H{x1}\"/>\n"
        ));
        self.text((x0 + x1) / 2.0, self.height - 6.0, "middle", xlabel);
        let (mid, ylabel) = ((TOP + y0) / 2.0, escape(ylabel));
        self.svg.push_str(&format!("<text transform=\"translate(14 {mid:.1}) rotate(-90)\" text-anchor=\"middle\">{ylabel}</text>\n"));
    }

    /// Bars stacked from 0 over `x0..x1` (data units), one per (class, count), with a tooltip.
    fn stack(&mut self, (x0, x1): (f64, f64), parts: &[(&str, u64)], title: &str) {
        let (left, right) = (self.x.at(x0) + 0.5, self.x.at(x1) - 0.5);
        let (w, title) = ((right - left).max(1.0), escape(title));
        let mut base = 0.0;
        for (class, n) in parts.iter().filter(|p| p.1 > 0) {
            let (bottom, top) = (self.y.at(base), self.y.at(base + *n as f64));
            let h = (bottom - top).max(0.5);
            self.svg.push_str(&format!("<rect class=\"{class}\" x=\"{left:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{title}</title></rect>\n"));
            base += *n as f64;
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

/// Round tick values (steps of 1, 2 or 5 × 10^k, at least `min_step`) inside `lo..=hi`.
fn ticks(lo: f64, hi: f64, most: usize, min_step: f64) -> Vec<(f64, String)> {
    let raw = ((hi - lo) / most as f64).max(min_step).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * mag);
    let (first, last) = (
        (lo / step - 1e-9).ceil() as i64,
        (hi / step + 1e-9).floor() as i64,
    );
    (first..=last)
        .map(|k| (k as f64 * step, number(k as f64 * step)))
        .collect()
}

/// `3000`, `0.5`, `12,000`: tick labels.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        let n = v.round() as i64;
        let sign = if n < 0 { "-" } else { "" };
        return format!("{sign}{}", thousands(n.unsigned_abs()));
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The highest bar's height, with room above it for labels.
fn y_top(counts: impl Iterator<Item = u64>) -> f64 {
    counts.max().unwrap_or(0).max(1) as f64 * 1.2
}

/// One port chart per source, busiest first (at most PORT_CHARTS).
fn port_charts(r: &Report, attempts: &[Attempt], origin: Ts, span: f64) -> String {
    let mut by_source: IndexMap<IpAddr, Vec<&Attempt>> = IndexMap::new();
    for a in attempts {
        by_source.entry(a.client.ip).or_default().push(a);
    }
    let mut sources: Vec<(IpAddr, Vec<&Attempt>)> = by_source.into_iter().collect();
    sources.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut html = String::new();
    for (ip, list) in sources.iter().take(PORT_CHARTS) {
        let n = count(list.len() as u64, "attempt");
        html.push_str(&format!("<h3>{} ({n})</h3>\n", escape(&ip.to_string())));
        let source = r.findings.sources.iter().find(|s| s.ip == *ip);
        if let Some(line) = source.and_then(|s| words::source_sentence(s, r.window_ns())) {
            html.push_str(&format!("<p class=\"muted\">{}</p>\n", escape(&line)));
        }
        html.push_str(&port_chart(r, ip, list, origin, span));
    }
    if sources.len() > PORT_CHARTS {
        let rest = count((sources.len() - PORT_CHARTS) as u64, "source");
        html.push_str(&format!("<p class=\"muted\">{rest} more not drawn.</p>\n"));
    }
    html
}

/// Source port (y) against seconds since the first frame (x) for one source.
fn port_chart(r: &Report, ip: &IpAddr, list: &[&Attempt], origin: Ts, span: f64) -> String {
    let min = f64::from(list.iter().map(|a| a.client.port).min().unwrap_or(0));
    let max = f64::from(list.iter().map(|a| a.client.port).max().unwrap_or(0));
    let pad = ((max - min) * 0.04).max(1.0);
    let (lo, hi) = (min - pad, max + pad);
    let mut plot = Plot::new(
        &format!("source port against time for {ip}"),
        250.0,
        (0.0, span, false),
        (lo, hi),
    );
    // Ports without thousands separators.
    let yt: Vec<(f64, String)> = ticks(lo, hi, 8, 1.0)
        .into_iter()
        .map(|(v, _)| (v, (v as i64).to_string()))
        .collect();
    plot.axes(
        &ticks(0.0, span, 12, 0.001),
        &yt,
        "seconds since the first frame",
        "source port",
    );
    let (xs, ys) = (plot.x, plot.y);
    let point = |a: &Attempt| {
        (
            xs.at(secs(a.ts.since(origin))),
            ys.at(f64::from(a.client.port)),
        )
    };
    let at: HashMap<_, _> = list.iter().map(|a| (a.frame, point(a))).collect();
    // Marks (and joins) that land in the same cell with the same outcome are drawn once, the
    // tooltip counting the others: the page stays small for huge inputs.
    let (cell, radius) = if list.len() > 3000 {
        (2.0, 2.0)
    } else {
        (0.5, 3.5)
    };
    let key = |(x, y): (f64, f64)| ((x / cell).round() as i64, (y / cell).round() as i64);
    let mut joins = HashSet::new();
    for a in list {
        let Some(u) = a.reuse.filter(|u| u.in_window || u.open) else {
            continue;
        };
        let Some(&from) = at.get(&u.previous_frame) else {
            continue;
        };
        if joins.insert((key(from), key(point(a)), a.outcome)) {
            plot.line(&format!("join o-{}", a.outcome.name()), from, point(a));
        }
    }
    // Failures last, so that they stay on top of the established marks.
    let mut marks: IndexMap<_, (&Attempt, u64)> = IndexMap::new();
    let (ok, bad): (Vec<&&Attempt>, Vec<_>) =
        list.iter().partition(|a| a.outcome == Outcome::Established);
    for a in ok.into_iter().chain(bad) {
        marks.entry((key(point(a)), a.outcome)).or_insert((a, 0)).1 += 1;
    }
    for (a, n) in marks.values() {
        let ((x, y), name) = (point(a), a.outcome.name());
        let mut title = mark_title(r, a, origin);
        if *n > 1 {
            title.push_str(&format!("\n(and {} more {name} here)", n - 1));
        }
        let title = escape(&title);
        plot.svg.push_str(&format!("<circle class=\"o-{name}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\"><title>{title}</title></circle>\n"));
    }
    plot.finish()
}

fn mark_title(r: &Report, a: &Attempt, origin: Ts) -> String {
    let (frame, t) = (r.frame_label(a.frame), secs(a.ts.since(origin)));
    let mut title = format!(
        "frame {frame}, {t:.6} s\n{} → {}\n{}",
        a.client,
        a.server,
        a.outcome.name()
    );
    if a.syn_retransmits > 0 {
        title.push_str(&format!(" ({} SYN retransmitted)", a.syn_retransmits));
    }
    if let Some(u) = a.reuse {
        let class = match (u.open, u.in_window) {
            (true, _) => "still open",
            (false, true) => "inside the window",
            (false, false) => "after the window",
        };
        let (gap, prev, holder) = (
            human_secs(u.gap_ns),
            r.frame_label(u.previous_frame),
            u.holder.name(),
        );
        title.push_str(&format!(
            "\ngap {gap} after frame {prev} ({class}; TIME_WAIT holder {holder})"
        ));
    }
    title
}

/// Histogram of reuse gaps on log-scale bins, failed and succeeded stacked, with the window.
fn gap_chart(r: &Report, attempts: &[Attempt]) -> String {
    let gaps: Vec<(f64, Outcome)> = attempts
        .iter()
        .filter_map(|a| a.reuse.map(|u| (secs(u.gap_ns), a.outcome)))
        .collect();
    let window = secs(r.window_ns());
    let top = gaps.iter().map(|g| g.0).fold(window, f64::max);
    let low = gaps.iter().map(|g| g.0).fold(0.1, f64::min).max(0.001);
    let (d0, d1) = (
        low.log10().floor() as i32,
        (top.log10().floor() as i32 + 1).max(3),
    );
    let bins = ((d1 - d0) * PER_DECADE) as usize;
    let edge = |i: usize| 10f64.powf(f64::from(d0) + i as f64 / f64::from(PER_DECADE));
    // Per bin: succeeded, failed, undecided.
    let mut counts = vec![[0u64; 3]; bins];
    for (gap, outcome) in &gaps {
        let i = ((gap.max(edge(0)).log10() - f64::from(d0)) * f64::from(PER_DECADE)).floor();
        let kind = match outcome {
            Outcome::Established => 0,
            Outcome::Unknown => 2,
            _ => 1,
        };
        counts[(i.max(0.0) as usize).min(bins - 1)][kind] += 1;
    }
    let ymax = y_top(counts.iter().map(|c| c.iter().sum()));
    let mut plot = Plot::new(
        "histogram of reuse gaps",
        260.0,
        (edge(0), edge(bins), true),
        (0.0, ymax),
    );
    let xt: Vec<(f64, String)> = (d0..=d1)
        .map(|d| (10f64.powi(d), format!("{} s", number(10f64.powi(d)))))
        .collect();
    let xlabel = "gap between the earlier connection's last packet and the new SYN (log scale)";
    plot.axes(&xt, &ticks(0.0, ymax, 5, 1.0), xlabel, "reuses");
    let classes = ["o-established", "o-unanswered", "o-unknown"];
    for (i, c) in counts.iter().enumerate() {
        let (a, b) = (number(sig2(edge(i))), number(sig2(edge(i + 1))));
        let title = format!(
            "{a}–{b} s: {} succeeded, {} failed, {} undecided",
            c[0], c[1], c[2]
        );
        let parts: Vec<(&str, u64)> = classes.iter().copied().zip(c.iter().copied()).collect();
        plot.stack((edge(i), edge(i + 1)), &parts, &title);
    }
    let x = plot.x.at(window);
    plot.line("win", (x, TOP), (x, plot.y.from));
    plot.text(
        x - 5.0,
        TOP + 12.0,
        "end",
        &format!("TIME_WAIT window {}", human_secs(r.window_ns())),
    );
    if gaps.is_empty() {
        let text = "No attempt reused a 4-tuple seen earlier in the capture.";
        plot.text(WIDTH / 2.0, plot.y.at(ymax / 2.0), "middle", text);
    }
    let items = [
        (colour(Outcome::Established), "succeeded (established)"),
        (
            colour(Outcome::Unanswered),
            "failed (unanswered, refused, ICMP, challenge ACK)",
        ),
        (colour(Outcome::Unknown), "undecided (unknown)"),
    ];
    let (n, of) = (
        thousands(gaps.len() as u64),
        count(attempts.len() as u64, "attempt"),
    );
    format!(
        "<p class=\"muted\">{n} of {of} reused a 4-tuple; left of the dashed line they fell inside the window.</p>\n{}{}",
        legend(&items),
        plot.finish()
    )
}

/// Two significant digits, for bin edges (0.18, 5.6, 320).
fn sig2(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor() - 1.0);
    (v / mag).round() * mag
}

/// A bucket width that gives at most TIME_BUCKETS buckets over `span` seconds.
fn bucket_secs(span: f64) -> f64 {
    const NICE: [f64; 21] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 600.0, 900.0,
        1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
    ];
    let days = || (span / TIME_BUCKETS / 86400.0).ceil() * 86400.0;
    NICE.iter()
        .copied()
        .find(|w| span / w <= TIME_BUCKETS)
        .unwrap_or_else(days)
}

/// Attempts per time bucket, stacked by outcome.
fn timeline_chart(attempts: &[Attempt], origin: Ts, span: f64) -> String {
    let width = bucket_secs(span);
    let n = ((span / width).ceil() as usize).max(1);
    let mut counts = vec![OutcomeCounts::default(); n];
    for a in attempts {
        let i = (secs(a.ts.since(origin)).max(0.0) / width) as usize;
        counts[i.min(n - 1)].add(a.outcome);
    }
    let ymax = y_top(counts.iter().map(OutcomeCounts::total));
    let end = n as f64 * width;
    let mut plot = Plot::new("outcomes over time", 250.0, (0.0, end, false), (0.0, ymax));
    let xlabel = format!(
        "seconds since the first frame ({} buckets)",
        human_secs((width * 1e9) as i64)
    );
    plot.axes(
        &ticks(0.0, end, 12, width),
        &ticks(0.0, ymax, 5, 1.0),
        &xlabel,
        "attempts",
    );
    let classes = Outcome::ALL.map(|o| format!("o-{}", o.name()));
    for (i, c) in counts.iter().enumerate() {
        let x = (i as f64 * width, (i + 1) as f64 * width);
        let parts: Vec<(&str, u64)> = Outcome::ALL
            .iter()
            .map(|o| (classes[*o as usize].as_str(), c.get(*o)))
            .collect();
        let list: Vec<String> = Outcome::ALL
            .iter()
            .filter(|o| c.get(**o) > 0)
            .map(|o| format!("{} {}", c.get(*o), o.name()))
            .collect();
        let title = format!("{}–{} s: {}", number(x.0), number(x.1), list.join(", "));
        plot.stack(x, &parts, &title);
    }
    plot.finish()
}

/// A computed table (the same rows as the terminal table).
fn table(rows: &Rows) -> String {
    let ths: String = rows
        .header
        .iter()
        .map(|h| format!("<th>{}</th>", escape(h)))
        .collect();
    let mut t = format!("<table><tr>{ths}</tr>\n");
    for row in &rows.rows {
        let tds: String = row
            .iter()
            .zip(&rows.align)
            .map(|(cell, a)| {
                format!(
                    "<td{}>{}</td>",
                    if *a == Align::Right {
                        " class=\"r\""
                    } else {
                        ""
                    },
                    escape(cell)
                )
            })
            .collect();
        t.push_str(&format!("<tr>{tds}</tr>\n"));
    }
    t + "</table>\n"
}

/// The cross table, the flagged attempts (capped as in the table report) and the servers.
fn tables(r: &Report) -> String {
    let f = &r.findings;
    let window = escape(&human_secs(r.window_ns()));
    let mut html =
        format!("<h2>Attempts by reuse of the 4-tuple and outcome (window {window})</h2>\n");
    html.push_str(&table(&rows::cross(r)));
    if f.flagged_total > 0 && !f.flagged.is_empty() {
        html.push_str("<h2>Flagged attempts (failed, challenged, delayed, or reusing a 4-tuple the server held inside the window)</h2>\n");
        let flagged = rows::flagged(r);
        html.push_str(&table(&flagged));
        if flagged.more > 0 {
            let rest = thousands(flagged.more);
            html.push_str(&format!("<p class=\"muted\">... and {rest} more (--max-rows, or --format json for all).</p>\n"));
        }
    }
    if r.filter_tuples > 0 && r.filter_tuples <= 20 {
        let filter = escape(&r.display_filter);
        html.push_str(&format!("<h3>Wireshark display filter for them and the connections they collided with</h3>\n<pre>{filter}</pre>\n"));
    } else if r.filter_tuples > 20 {
        let n = thousands(r.filter_tuples as u64);
        html.push_str(&format!("<p class=\"muted\">Wireshark display filter: {n} 4-tuples; <code>portreuse --filter-only</code> prints it.</p>\n"));
    }
    html.push_str("<h2>Per server</h2>\n");
    html + &table(&rows::servers(r))
}

/// A titled list of items (already HTML); nothing when there are none.
fn section(title: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lis: String = items.iter().map(|i| format!("<li>{i}</li>\n")).collect();
    format!("<h3>{}</h3>\n<ul>\n{lis}</ul>\n", escape(title))
}

fn escape_all(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| escape(l)).collect()
}

/// The diagnosis sections, worded as in the table report.
fn diagnosis_html(r: &Report) -> String {
    let body: String = words::sections(r)
        .into_iter()
        .map(|(title, lines)| {
            let items: Vec<String> = lines
                .iter()
                .map(|line| {
                    let details: String = line
                        .details
                        .iter()
                        .map(|d| format!("<li>{}</li>", escape(d)))
                        .collect();
                    let details = if details.is_empty() {
                        details
                    } else {
                        format!("<ul>{details}</ul>")
                    };
                    format!("{}{details}", escape(&line.text))
                })
                .collect();
            section(title, &items)
        })
        .collect();
    if body.is_empty() {
        body
    } else {
        format!("<h2>Diagnosis</h2>\n{body}")
    }
}

/// Capture quality: limits of what the capture shows, undecoded frames, warnings.
fn quality_html(r: &Report) -> String {
    section("Capture quality", &escape_all(&words::quality_lines(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::{Holder, Reuse};
    use crate::budget::Budgets;
    use crate::capture::FileInfo;
    use crate::detect::{self, Context, Detector};
    use crate::report::FileMeta;
    use crate::tcp::{Endpoint, FrameRef, Seq};
    use crate::time::NANOS_PER_SEC;
    use crate::track::seen::Seen;

    const S: i64 = NANOS_PER_SEC;

    /// Attempt `i` (frame i+1) from port 3000 + i % 2, 3 s apart, each reusing the 4-tuple of
    /// the attempt two before it inside the window; every third one established.
    fn pooled() -> Vec<Attempt> {
        let frame = |number| FrameRef { file: 0, number };
        let ip = |s: &str| s.parse().unwrap();
        (0..20u64)
            .map(|i| {
                let client = Endpoint {
                    ip: ip("10.0.0.1"),
                    port: 3000 + (i % 2) as u16,
                };
                let server = Endpoint {
                    ip: ip("10.0.0.2"),
                    port: 110,
                };
                let ts = Ts(i as i64 * 3 * S);
                let mut a = Attempt::from_syn(frame(i + 1), ts, client, server, Seq(0));
                a.previous_attempt_frame = i.checked_sub(2).map(|p| frame(p + 1));
                a.reuse = i.checked_sub(2).map(|p| Reuse {
                    previous_frame: frame(p + 1),
                    previous_ts: Ts(p as i64 * 3 * S),
                    previous_end_frame: frame(p + 1),
                    gap_ns: 2 * S,
                    in_window: true,
                    holder: Holder::Server,
                    open: false,
                    isn_advanced: None,
                    ts_advanced: None,
                });
                a.outcome = if i % 3 == 0 {
                    Outcome::Established
                } else {
                    Outcome::Unanswered
                };
                a
            })
            .collect()
    }

    /// The page for `attempts`, of which the charts get `shown`.
    fn page_of(attempts: &[Attempt], shown: &[Attempt], name: &str) -> String {
        let mut detector = Detector::new(&detect::Config {
            window_ns: 240 * S,
            budgets: Budgets::default(),
            flagged_rows: 50,
        });
        let seen = Seen::new(100);
        let cx = Context {
            seen: &seen,
            window_ns: 240 * S,
            capture_start: Some(Ts(0)),
        };
        attempts.iter().for_each(|a| {
            detector.add(a, &cx);
        });
        let info = FileInfo {
            digits: 6,
            ..Default::default()
        };
        let r = Report {
            files: vec![FileMeta {
                name: name.to_string(),
                info,
            }],
            frames: 100,
            skipped: Default::default(),
            track: crate::track::TrackStats {
                server_packets: 10,
                ..Default::default()
            },
            dropped: Default::default(),
            findings: detector.finish(),
            first_ts: Some(Ts(0)),
            last_ts: Some(Ts(60 * S)),
            warnings: vec![],
            render: Default::default(),
            display_filter: String::new(),
            filter_tuples: 0,
        };
        let mut out = Vec::new();
        render(&r, shown, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn page(attempts: &[Attempt], name: &str) -> String {
        page_of(attempts, attempts, name)
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        let html = page(&pooled(), "<script>alert(1)</script>.pcap");
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.pcap"));
    }

    #[test]
    fn fetches_nothing_beyond_what_the_user_named() {
        let name = "http://example.com/x.pcap";
        let html = page(&pooled(), name).replace(name, "");
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("url("));
    }

    #[test]
    fn every_chart_and_table_is_present() {
        let html = page(&pooled(), "a.pcap");
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("aria-label=\"source port against time for 10.0.0.1\""));
        assert!(html.contains("aria-label=\"histogram of reuse gaps\""));
        assert!(html.contains("aria-label=\"outcomes over time\""));
        assert!(html.contains("class=\"win\"") && html.contains("TIME_WAIT window 240 s"));
        assert_eq!(html.matches("<circle").count(), 20);
        // Every reuse whose earlier connection is in the slice is joined to it.
        assert_eq!(html.matches("class=\"join").count(), 18);
        assert!(html.contains("Flagged attempts") && html.contains("Per server"));
        assert!(html.contains("<title>frame 5, 12.000000 s\n10.0.0.1:3000 → 10.0.0.2:110\nunanswered\ngap 2 s after frame 3"));
        assert!(!html.contains("(sample"));
    }

    #[test]
    fn a_thinned_slice_says_sample_and_skips_missing_joins() {
        let all = pooled();
        let html = page_of(&all, &all[10..], "a.pcap");
        assert!(html.contains("(sample: 10 of 20 attempts)"));
        assert_eq!(html.matches("class=\"join").count(), 8);
    }

    #[test]
    fn ticks_and_buckets_are_round() {
        let t: Vec<f64> = ticks(2999.0, 3011.0, 8, 1.0).iter().map(|t| t.0).collect();
        assert_eq!(t, [3000.0, 3002.0, 3004.0, 3006.0, 3008.0, 3010.0]);
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(12_000.0), "12,000");
        assert_eq!(bucket_secs(426.0), 10.0);
        assert!(bucket_secs(1e6) * TIME_BUCKETS >= 1e6);
        assert_eq!(sig2(10f64.powf(0.25)), 1.8);
    }

    #[test]
    fn no_attempts_gives_a_page_without_charts() {
        let html = page(&[], "empty.pcap");
        assert!(html.contains("No connection attempts"));
        assert_eq!(html.matches("<svg").count(), 0);
    }
}
