//! `--each`: every capture analysed on its own, on all cores, one summary per file. A file
//! that cannot be read is reported in its row and does not stop the others; the exit status
//! is the worst of the files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::{Options, Status, analyze};
use crate::capture;
use crate::cli::{Cli, Format};
use crate::report::json::{SCHEMA_VERSION, tail};
use crate::report::stream::csv_field;
use crate::report::thousands;

/// One file's result: its summary and headline, or the error that stopped it.
struct FileResult {
    name: String,
    status: Status,
    outcome: Result<(Map<String, Value>, Vec<String>), String>,
}

fn one(cli: &Cli, path: &Path) -> FileResult {
    let name = path.display().to_string();
    let result = capture::open(path)
        .map_err(|e| e.to_string())
        .and_then(|c| {
            analyze(
                &Options::from_cli(cli),
                vec![name.clone()],
                vec![c],
                &mut |_, _| Ok(()),
            )
            .map_err(|e| format!("{e:#}"))
        });
    match result {
        Ok(analysis) => {
            let status = analysis.status(cli);
            let mut headline = analysis.report.headline();
            headline.extend(
                analysis
                    .report
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {w}")),
            );
            let summary = tail(&analysis.report)
                .into_iter()
                .find_map(|(key, value)| match value {
                    Value::Object(o) if key == "summary" => Some(o),
                    _ => None,
                })
                .unwrap_or_default();
            FileResult {
                name,
                status,
                outcome: Ok((summary, headline)),
            }
        }
        Err(e) => FileResult {
            name,
            status: Status::Unreadable,
            outcome: Err(e),
        },
    }
}

pub fn run(cli: &Cli, paths: &[PathBuf], out: &mut dyn Write) -> Result<Status> {
    let results: Vec<FileResult> = paths.par_iter().map(|p| one(cli, p)).collect();
    match cli.format {
        Format::Table => table(&results, out)?,
        Format::Json => {
            let files: Vec<Value> = results.iter().map(record).collect();
            let doc = json!({"schema_version": SCHEMA_VERSION, "files": files});
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            for r in &results {
                let mut line = Map::new();
                line.insert("type".into(), json!("file"));
                if let Value::Object(o) = record(r) {
                    line.extend(o);
                }
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)?;
            }
        }
        Format::Csv => csv(&results, out)?,
    }
    Ok(results.iter().map(|r| r.status).max().unwrap_or(Status::Ok))
}

fn record(r: &FileResult) -> Value {
    match &r.outcome {
        Ok((summary, headline)) => json!({
            "file": r.name, "status": "ok", "exit_status": r.status.code(), "error": null,
            "summary": summary, "headline": headline,
        }),
        Err(e) => {
            json!({"file": r.name, "status": "error", "exit_status": r.status.code(), "error": e, "summary": null, "headline": []})
        }
    }
}

const COLUMNS: [&str; 7] = [
    "syn_attempts",
    "established",
    "unanswered",
    "refused",
    "challenge_ack",
    "reused_in_window",
    "failed_reused_in_window",
];

fn number(summary: &Map<String, Value>, key: &str) -> u64 {
    summary.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn table(results: &[FileResult], out: &mut dyn Write) -> std::io::Result<()> {
    let mut t = Table::new();
    t.load_style(ASCII_MARKDOWN)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    let mut header = vec!["file", "frames"];
    header.extend(COLUMNS.iter().map(|c| c.trim_start_matches("syn_")));
    header.push("finding");
    t.set_header(header);
    for r in results {
        let mut row = vec![Cell::new(&r.name)];
        match &r.outcome {
            Ok((summary, headline)) => {
                row.push(
                    Cell::new(thousands(number(summary, "frames")))
                        .set_alignment(CellAlignment::Right),
                );
                for c in COLUMNS {
                    row.push(
                        Cell::new(thousands(number(summary, c)))
                            .set_alignment(CellAlignment::Right),
                    );
                }
                row.push(Cell::new(headline.first().map_or("", String::as_str)));
            }
            Err(e) => {
                row.extend((0..=COLUMNS.len()).map(|_| Cell::new("-")));
                row.push(Cell::new(format!("error: {e}")));
            }
        }
        t.add_row(row);
    }
    writeln!(out, "{t}")
}

fn csv(results: &[FileResult], out: &mut dyn Write) -> std::io::Result<()> {
    write!(out, "file,status,frames,{},error\r\n", COLUMNS.join(","))?;
    for r in results {
        csv_field(out, &r.name)?;
        match &r.outcome {
            Ok((summary, _)) => {
                write!(out, ",ok,{}", number(summary, "frames"))?;
                for c in COLUMNS {
                    write!(out, ",{}", number(summary, c))?;
                }
                out.write_all(b",\r\n")?;
            }
            Err(e) => {
                out.write_all(b",error")?;
                out.write_all(",".repeat(COLUMNS.len() + 2).as_bytes())?;
                csv_field(out, e)?;
                out.write_all(b"\r\n")?;
            }
        }
    }
    Ok(())
}
