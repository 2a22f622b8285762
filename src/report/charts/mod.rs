//! The HTML report's charts and its interactive page (issue 11, items 2 and 3): one
//! self-contained file (inline CSS, SVG and script; nothing fetched).
//!
//! - [`input`]: what the charts draw ([`ChartInput`]) and the adapter that builds it from
//!   the decided attempts in bounded memory ([`ChartBuilder`]);
//! - [`lanes`]: source port over time, one lane per port, each collision a link from the
//!   end of the connection whose TIME_WAIT it hit to the SYN (drawn by the page script);
//! - [`gaps`]: reuse gaps by who held TIME_WAIT, with a bin edge at the window;
//! - [`evidence`]: ignored, challenged and accepted SYNs per server against their gap, with
//!   the TIME_WAIT bracket;
//! - [`timeline`]: outcomes over time;
//! - [`svg`]: the SVG helpers.
//!
//! The page takes its words ready-made ([`Page`]: headline, sections, tables): this module
//! draws and lays out, it does not word findings.

pub mod bins;
pub mod evidence;
pub mod gaps;
pub mod input;
pub mod lanes;
pub mod svg;
pub mod timeline;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

pub use input::{ChartBuilder, ChartInput, HeldBy, Point, ServerEvidence, SourceSeries};

use crate::attempt::Outcome;
use crate::report::thousands;
use svg::escape;

const SCRIPT: &str = include_str!("script.js");
const STYLE: &str = include_str!("style.css");

/// A table whose rows are already computed (the same rows the terminal table prints).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    /// Right-aligned columns (numbers).
    pub right: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    /// A line under the table (e.g. "12 more servers in the JSON"); empty for none.
    pub note: String,
}

/// One line of a diagnosis section, with its detail lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    pub text: String,
    pub details: Vec<String>,
}

/// A titled diagnosis section ("Source ports", "Servers and their TIME_WAIT", ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub items: Vec<Item>,
}

/// The page's words, already worded by the report stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The files read (the page's title).
    pub title: String,
    /// Cause, evidence, fix: at most a few sentences.
    pub headline: Vec<String>,
    /// What was read ("Read 2,134 frames from ...").
    pub intro: Vec<String>,
    /// The Wireshark display filter for the flagged attempts and the connections they hit.
    pub display_filter: String,
    /// How many 4-tuples the filter names.
    pub filter_tuples: usize,
    /// The diagnosis's sentence about each source, shown above its port chart.
    pub source_notes: Vec<(IpAddr, String)>,
    pub sections: Vec<Section>,
    /// Cross table, per server, ...
    pub tables: Vec<Table>,
    /// Capture quality lines and warnings.
    pub quality: Vec<String>,
    /// Times in the flagged table: RFC 3339 instead of seconds since the first frame.
    pub absolute_times: bool,
    /// Fraction digits of times (the capture's precision).
    pub digits: u8,
}

/// Colours of the outcomes (marks, bars, legend); the script reads them from the CSS.
pub fn colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Established => "#2ca02c",
        Outcome::Refused => "#ff7f0e",
        Outcome::IcmpUnreachable => "#9467bd",
        Outcome::ChallengeAck => "#1f77b4",
        Outcome::Unanswered => "#d62728",
        Outcome::Unknown => "#999999",
    }
}

/// Writes the page.
pub fn render(page: &Page, input: &ChartInput, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(page_html(page, input).as_bytes())
}

/// The page as a string.
pub fn page_html(page: &Page, input: &ChartInput) -> String {
    let mut css = STYLE.to_string();
    for o in Outcome::ALL {
        let (name, c) = (o.name(), colour(o));
        let _ = writeln!(
            css,
            ".o-{name}{{fill:{c};stroke:{c};background:{c};color:{c}}}"
        );
    }
    let mut h = String::with_capacity(64 * 1024 + input.points.len() * 80);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>portreuse: {}</title>\n<style>\n{css}</style></head>\n<body><main>\n<header><h1>portreuse report</h1><p class=\"muted files\">{}</p></header>\n",
        escape(&page.title),
        escape(&page.title)
    );
    h.push_str(&headline(page));
    for line in &page.intro {
        let _ = writeln!(h, "<p class=\"intro\">{}</p>", escape(line));
    }
    let attempts = input.totals.attempts;
    if attempts > 0 {
        h.push_str(&nav(page));
        h.push_str(&port_section(page, input));
        h.push_str(&flagged_section(page, input));
        let _ = writeln!(
            h,
            "<h2 id=\"gaps\">Reuse gaps and the TIME_WAIT window</h2>\n{}",
            gaps::histograms(input)
        );
        let _ = writeln!(
            h,
            "<h2 id=\"evidence\">The servers' TIME_WAIT, SYN by SYN</h2>\n{}",
            evidence::charts(input)
        );
        let _ = writeln!(
            h,
            "<h2 id=\"time\">Outcomes over time</h2>\n<p class=\"muted\">All {} attempts, by outcome.</p>\n{}{}",
            thousands(attempts),
            outcome_legend(),
            timeline::chart(input)
        );
    }
    h.push_str(&sections_html(page));
    for (i, t) in page.tables.iter().enumerate() {
        h.push_str(&table_html(t, if i == 0 { " id=\"tables\"" } else { "" }));
    }
    if !page.quality.is_empty() {
        h.push_str("<h2 id=\"quality\">Capture quality</h2>\n<ul>\n");
        for q in &page.quality {
            let _ = writeln!(h, "<li>{}</li>", escape(q));
        }
        h.push_str("</ul>\n");
    }
    let version = env!("CARGO_PKG_VERSION");
    let _ = write!(
        h,
        "<footer class=\"muted\">portreuse {version}</footer>\n</main>\n<div id=\"tip\" role=\"tooltip\"></div>\n<script type=\"application/json\" id=\"data\">{}</script>\n<script>\n{SCRIPT}</script>\n</body></html>\n",
        lanes::embed(&lanes::data(input, page.absolute_times, page.digits))
    );
    h
}

fn headline(page: &Page) -> String {
    if page.headline.is_empty() {
        return String::new();
    }
    let mut h = String::from("<div class=\"headline\">\n");
    for line in &page.headline {
        let _ = writeln!(h, "<p>{}</p>", escape(line));
    }
    h + "</div>\n"
}

fn nav(page: &Page) -> String {
    let mut links = vec![("ports", "Port chart"), ("flagged", "Flagged attempts")];
    links.extend([
        ("gaps", "Reuse gaps"),
        ("evidence", "TIME_WAIT evidence"),
        ("time", "Over time"),
    ]);
    if !page.sections.is_empty() {
        links.push(("diagnosis", "Diagnosis"));
    }
    if !page.tables.is_empty() {
        links.push(("tables", "Tables"));
    }
    let a: String = links
        .iter()
        .map(|(id, name)| format!("<a href=\"#{id}\">{name}</a>"))
        .collect();
    format!("<nav>{a}</nav>\n")
}

fn outcome_legend() -> String {
    let items: Vec<(String, &str)> = Outcome::ALL
        .iter()
        .map(|o| (format!("o-{}", o.name()), o.name()))
        .collect();
    let items: Vec<(&str, &str)> = items.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    svg::legend(&items)
}

fn port_section(page: &Page, input: &ChartInput) -> String {
    let mut h = String::from("<h2 id=\"ports\">Source ports over time</h2>\n");
    h.push_str("<p class=\"muted\">One lane per source port. A mark is a connection attempt at its first SYN, coloured by outcome; a grey bar is a connection up to its last packet. A collision is an arc from the end of the connection whose TIME_WAIT it hit (|) to the reusing SYN, coloured by the new attempt's outcome, over the server's TIME_WAIT (shaded). Hover a mark for its frame; drag across the lanes to zoom in time.</p>\n");
    h.push_str(&outcome_legend());
    h.push_str(&lanes::sections(input, &page.source_notes));
    h
}

fn flagged_section(page: &Page, input: &ChartInput) -> String {
    let t = &input.totals;
    let mut h = String::from("<h2 id=\"flagged\">Flagged attempts</h2>\n");
    let kept = if t.flagged_shown == t.flagged {
        format!("all {}", thousands(t.flagged))
    } else {
        format!(
            "{} of {} (the rest exceeded the page's budget; the JSON output has them all)",
            thousands(t.flagged_shown),
            thousands(t.flagged)
        )
    };
    let _ = writeln!(
        h,
        "<p class=\"muted\">Failed, challenged, or reusing a 4-tuple that was still open or that the server held in TIME_WAIT: {kept}. Click a column to sort, type to filter, click a row to see it in the port chart.</p>"
    );
    h.push_str("<div id=\"flagged-table\"><noscript><p class=\"muted\">The table is drawn by the page's script; <code>portreuse --format json</code> lists every attempt.</p></noscript></div>\n");
    if !page.display_filter.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Wireshark display filter <span class=\"muted\">({} 4-tuples: the flagged attempts and the connections they collided with)</span> <button type=\"button\" id=\"copy-filter\">Copy</button> <span id=\"copied\" class=\"muted\"></span></h3>\n<pre id=\"filter\" class=\"filter\">{}</pre>",
            thousands(page.filter_tuples as u64),
            escape(&page.display_filter)
        );
    }
    h
}

fn sections_html(page: &Page) -> String {
    if page.sections.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2 id=\"diagnosis\">Diagnosis</h2>\n");
    for s in &page.sections {
        let _ = writeln!(h, "<h3>{}</h3>\n<ul>", escape(&s.title));
        for item in &s.items {
            let _ = write!(h, "<li>{}", escape(&item.text));
            if !item.details.is_empty() {
                h.push_str("<ul>");
                for d in &item.details {
                    let _ = write!(h, "<li>{}</li>", escape(d));
                }
                h.push_str("</ul>");
            }
            h.push_str("</li>\n");
        }
        h.push_str("</ul>\n");
    }
    h
}

fn table_html(t: &Table, id: &str) -> String {
    let mut h = format!(
        "<h2{id}>{}</h2>\n<div class=\"scroll\"><table><thead><tr>",
        escape(&t.title)
    );
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if t.right.get(i).copied().unwrap_or(false) {
                " class=\"r\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    if !t.note.is_empty() {
        let _ = writeln!(h, "<p class=\"muted\">{}</p>", escape(&t.note));
    }
    h
}

#[cfg(test)]
mod tests;
