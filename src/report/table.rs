//! `--format table`: the report for people. comfy-table with a fixed preset and no terminal
//! width detection, so the output is the same on a terminal, in a pipe and in tests. The
//! rows come from `rows`, the sentences from `words`.

use std::io::{self, Write};

use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};

use super::Report;
use super::rows::{self, Align, Rows};
use super::words::{self, human_secs, thousands};
use crate::attempt::Outcome;

pub fn render(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for line in r.headline() {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    for line in r.input_lines() {
        writeln!(out, "{line}")?;
    }
    let f = &r.findings;
    if f.attempts() == 0 {
        return write_quality(r, out);
    }
    writeln!(
        out,
        "\nAttempts by reuse of the 4-tuple and outcome (window {}):",
        human_secs(r.window_ns())
    )?;
    writeln!(out, "{}", table(r, &rows::cross(r)))?;
    if f.flagged_total > 0 && !f.flagged.is_empty() {
        writeln!(
            out,
            "\nFlagged attempts (failed, challenged, delayed, or reusing a 4-tuple the server held inside the window):"
        )?;
        let flagged = rows::flagged(r);
        writeln!(out, "{}", table(r, &flagged))?;
        if flagged.more > 0 {
            writeln!(
                out,
                "... and {} more (--max-rows, or --format json for all).",
                thousands(flagged.more)
            )?;
        }
    }
    if r.filter_tuples > 0 && r.filter_tuples <= 20 {
        writeln!(
            out,
            "\nWireshark display filter for them and the connections they collided with:\n{}",
            r.display_filter
        )?;
    } else if r.filter_tuples > 20 {
        writeln!(
            out,
            "\nWireshark display filter: {} 4-tuples; `portreuse --filter-only` prints it.",
            thousands(r.filter_tuples as u64)
        )?;
    }
    writeln!(out, "\nPer server:")?;
    let servers = rows::servers(r);
    writeln!(out, "{}", table(r, &servers))?;
    if servers.more > 0 {
        writeln!(
            out,
            "... and {} more servers (--format json for all).",
            thousands(servers.more)
        )?;
    }
    for (title, lines) in words::sections(r) {
        writeln!(out, "\n{title}:")?;
        for line in lines {
            writeln!(out, "- {}", line.text)?;
            for detail in line.details {
                writeln!(out, "    {detail}")?;
            }
        }
    }
    write_quality(r, out)
}

/// The outcome, coloured when the table goes to a terminal (red failures, yellow unknown).
fn outcome_cell(colour: bool, outcome: Outcome, text: &str) -> Cell {
    let cell = Cell::new(text);
    if !colour {
        return cell;
    }
    match outcome {
        Outcome::Established => cell.fg(Color::Green),
        Outcome::Unknown => cell.fg(Color::Yellow),
        _ => cell.fg(Color::Red),
    }
}

/// A computed table in the fixed preset, with no width detection; styled only when colour
/// is on (the outcome column of attempt rows is coloured).
fn table(r: &Report, rows: &Rows) -> Table {
    let mut t = Table::new();
    t.load_style(ASCII_MARKDOWN)
        .set_content_arrangement(ContentArrangement::Disabled);
    if r.render.colour {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(rows.header.iter().map(Cell::new));
    let outcome_column = rows.header.iter().position(|h| *h == "outcome");
    for (cells, outcome) in rows.rows.iter().zip(&rows.outcomes) {
        let row: Vec<Cell> = cells
            .iter()
            .zip(&rows.align)
            .enumerate()
            .map(|(i, (text, align))| {
                let cell = match (outcome, Some(i) == outcome_column) {
                    (Some(o), true) => outcome_cell(r.render.colour, *o, text),
                    _ => Cell::new(text),
                };
                match align {
                    Align::Right => cell.set_alignment(CellAlignment::Right),
                    Align::Left => cell,
                }
            })
            .collect();
        t.add_row(row);
    }
    t
}

fn write_quality(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let lines = words::quality_lines(r);
    if !lines.is_empty() {
        writeln!(out, "\nCapture quality:")?;
    }
    for line in lines {
        writeln!(out, "- {line}")?;
    }
    Ok(())
}
