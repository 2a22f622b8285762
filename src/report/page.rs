//! `--html`: the report's words and rows handed to the charts page. The tables are the rows
//! the terminal table prints ([`rows`]), the sentences those of [`words`]: the page carries
//! what the terminal does, computed once (issue 11, items 3 and 8).

use std::io::{self, Write};

use super::Report;
use super::charts::{self, ChartInput, Item, Page, Section, Table};
use super::rows::{self, Align, Rows};
use super::words::{self, thousands};

/// The page's words for a report.
pub fn page(r: &Report) -> Page {
    let sections = words::sections(r)
        .into_iter()
        .map(|(title, lines)| Section {
            title: title.to_string(),
            items: lines
                .into_iter()
                .map(|l| Item {
                    text: l.text,
                    details: l.details,
                })
                .collect(),
        })
        .collect();
    let source_notes = r
        .findings
        .sources
        .iter()
        .filter_map(|s| Some((s.ip, words::source_sentence(s, r.window_ns())?)))
        .collect();
    let cross = format!(
        "Attempts by reuse of the 4-tuple and outcome (window {})",
        words::human_secs(r.window_ns())
    );
    let servers = rows::servers(r);
    let servers_note = if servers.more > 0 {
        format!(
            "... and {} more servers (--format json for all).",
            thousands(servers.more)
        )
    } else {
        String::new()
    };
    Page {
        title: r
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        headline: r.headline(),
        intro: r.input_lines().to_vec(),
        display_filter: r.display_filter.clone(),
        filter_tuples: r.filter_tuples,
        source_notes,
        sections,
        tables: vec![
            table(cross, &rows::cross(r), String::new()),
            table("Per server".to_string(), &servers, servers_note),
        ],
        quality: words::quality_lines(r),
        absolute_times: r.render.time == super::TimeStyle::Absolute,
        digits: r.digits(),
    }
}

fn table(title: String, rows: &Rows, note: String) -> Table {
    Table {
        title,
        header: rows.header.iter().map(|h| h.to_string()).collect(),
        right: rows.align.iter().map(|a| *a == Align::Right).collect(),
        rows: rows.rows.clone(),
        note,
    }
}

/// Gives the chart input the TIME_WAIT bracket the findings put on each server.
pub fn add_brackets(r: &Report, input: &mut ChartInput) {
    for s in &r.findings.servers {
        let b = &s.judgement.bracket;
        input.set_bracket(s.server, b.at_least_ns, b.at_most_ns);
    }
}

/// Writes the page for `r`, with the charts drawn from `input`.
pub fn render(r: &Report, mut input: ChartInput, out: &mut dyn Write) -> io::Result<()> {
    add_brackets(r, &mut input);
    charts::render(&page(r), &input, out)
}
