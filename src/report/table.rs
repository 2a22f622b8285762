//! `--format table`: the report for people. comfy-table with a fixed preset and no terminal
//! width detection, so the output is the same on a terminal, in a pipe and in tests.

use std::io::{self, Write};

use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table};

use super::{Report, diagnosis, human_secs, thousands};
use crate::attempt::{Outcome, ReuseClass};
use crate::cli::TimeFormat;
use crate::time::secs;

pub fn render(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for line in r.headline() {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    write_inputs(r, out)?;
    let s = &r.summary;
    if s.attempts() == 0 {
        return write_warnings(r, out);
    }
    writeln!(
        out,
        "\nAttempts by reuse of the 4-tuple and outcome (window {}):",
        human_secs(r.window_ns)
    )?;
    writeln!(out, "{}", cross_table(r))?;
    // `--max-rows 0` keeps no rows: no table at all, not an empty header.
    if !s.flagged.is_empty() {
        writeln!(
            out,
            "\nFlagged attempts (failed, challenged, or reusing a 4-tuple inside the window):"
        )?;
        writeln!(out, "{}", flagged_table(r))?;
        let rest = s.flagged_total - s.flagged.len() as u64;
        if rest > 0 {
            writeln!(
                out,
                "... and {} more (--max-rows, or --format json for all).",
                thousands(rest)
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
    writeln!(out, "{}", server_table(r))?;
    write_diagnosis(r, out)?;
    write_warnings(r, out)
}

/// The diagnosis sections; each appears only when it has something to say.
fn write_diagnosis(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for (title, lines) in diagnosis::sections(r) {
        writeln!(out, "\n{title}:")?;
        for line in lines {
            writeln!(out, "- {}", line.text)?;
            for detail in line.details {
                writeln!(out, "    {detail}")?;
            }
        }
    }
    Ok(())
}

/// The outcome, coloured when the table goes to a terminal (red failures, yellow unknown).
fn outcome_cell(r: &Report, outcome: Outcome) -> Cell {
    let cell = Cell::new(outcome.name());
    if !r.colour {
        return cell;
    }
    match outcome {
        Outcome::Established => cell.fg(Color::Green),
        Outcome::Unknown => cell.fg(Color::Yellow),
        _ => cell.fg(Color::Red),
    }
}

/// A table with the fixed preset and no width detection; styled only when `colour`.
fn new_table(colour: bool, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(ASCII_MARKDOWN)
        .set_content_arrangement(ContentArrangement::Disabled);
    if colour {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(header.iter().map(Cell::new));
    t
}

fn right(text: impl ToString) -> Cell {
    Cell::new(text.to_string()).set_alignment(CellAlignment::Right)
}

fn write_inputs(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for line in r.input_lines() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn cross_table(r: &Report) -> Table {
    let mut header = vec![""];
    header.extend(Outcome::ALL.iter().map(|o| o.name()));
    header.push("total");
    let mut t = new_table(r.colour, &header);
    for class in ReuseClass::ALL {
        let row = &r.summary.cross[class as usize];
        let mut cells = vec![Cell::new(class.label())];
        cells.extend(Outcome::ALL.iter().map(|o| right(thousands(row.get(*o)))));
        cells.push(right(thousands(row.total())));
        t.add_row(cells);
    }
    let all = &r.summary.outcomes;
    let mut cells = vec![Cell::new("total")];
    cells.extend(Outcome::ALL.iter().map(|o| right(thousands(all.get(*o)))));
    cells.push(right(thousands(all.total())));
    t.add_row(cells);
    t
}

fn flagged_table(r: &Report) -> Table {
    let mut t = new_table(
        r.colour,
        &[
            "frame",
            "time",
            "client",
            "server",
            "SYN rtx",
            "outcome",
            "chall. ACKs",
            "prev. conn",
            "gap",
            "TIME_WAIT holder",
        ],
    );
    let origin = r.first_ts.unwrap_or_default();
    let time = |ts: crate::time::Ts| match r.time_format {
        TimeFormat::Relative => format!("{:.6}", secs(ts.since(origin))),
        TimeFormat::Absolute => ts.rfc3339(r.digits()).to_string(),
    };
    for a in &r.summary.flagged {
        let (prev, gap, holder) = match a.reuse {
            Some(reuse) => {
                let holder = if reuse.open {
                    "still open".to_string()
                } else {
                    reuse.holder.name().to_string()
                };
                (
                    r.frame_label(reuse.previous_frame),
                    human_secs(reuse.gap_ns),
                    holder,
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        t.add_row(vec![
            right(r.frame_label(a.frame)),
            right(time(a.ts)),
            Cell::new(a.client),
            Cell::new(a.server),
            right(a.syn_retransmits),
            outcome_cell(r, a.outcome),
            right(a.challenge_acks),
            right(prev),
            right(gap),
            Cell::new(holder),
        ]);
    }
    t
}

fn server_table(r: &Report) -> Table {
    let mut t = new_table(
        r.colour,
        &[
            "server",
            "attempts",
            "established",
            "failed",
            "reused in window",
            "failed in its TIME_WAIT",
            "gaps of those",
        ],
    );
    for (server, st) in &r.summary.servers {
        let gaps = match (st.failed_gaps.min, st.failed_gaps.max) {
            (Some(a), Some(b)) => format!("{} – {}", human_secs(a), human_secs(b)),
            _ => "-".into(),
        };
        t.add_row(vec![
            Cell::new(server),
            right(thousands(st.outcomes.total())),
            right(thousands(st.outcomes.get(Outcome::Established))),
            right(thousands(st.outcomes.failed())),
            right(thousands(st.reused_in_window)),
            right(thousands(st.failed_server_time_wait)),
            right(gaps),
        ]);
    }
    t
}

fn write_warnings(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let lines = diagnosis::quality_lines(r);
    if !lines.is_empty() {
        writeln!(out, "\nCapture quality:")?;
    }
    for line in lines {
        writeln!(out, "- {line}")?;
    }
    Ok(())
}
