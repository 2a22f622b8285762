//! `--each`: every capture analysed on its own, on all cores, one summary per file. A file
//! that cannot be read (or a directory that cannot be walked) is reported in its row and
//! does not stop the others; the exit status is the worst of the files.
//!
//! The table is for people (issue 11): it fits 120 columns, the finding shortened to its
//! essentials (the full headline stays in JSON and CSV), a file cut short says so in its row.

use std::io::Write;

use anyhow::Result;
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::walk::Entry;
use super::{Status, analyze, progress};
use crate::capture;
use crate::cli::{Cli, Format};
use crate::report::json::{SCHEMA_VERSION, tail};
use crate::report::stream::csv_field;
use crate::report::{count, thousands};

/// Width the table fits in.
pub const TABLE_WIDTH: usize = 120;

/// One file's result: its summary and headline, or the error that stopped it.
struct FileResult {
    name: String,
    status: Status,
    outcome: Result<Done, String>,
}

struct Done {
    summary: Map<String, Value>,
    headline: Vec<String>,
    /// The row's finding: a few words.
    finding: String,
    /// (frame being read, byte) where the file was cut short.
    truncated: Option<(u64, u64)>,
}

fn one(cli: &Cli, entry: &Entry) -> FileResult {
    let name = entry.path().display().to_string();
    let result = match entry {
        Entry::Error { message, .. } => Err(message.clone()),
        Entry::Capture { path, .. } => {
            capture::open(path)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    analyze(cli, vec![name.clone()], vec![c], &mut |_| Ok(()))
                        .map_err(|e| format!("{e:#}"))
                })
        }
    };
    match result {
        Ok(analysis) => {
            let status = analysis.status(cli);
            let report = &analysis.report;
            progress::batch_frames_done(report.frames);
            let mut headline = report.headline();
            headline.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
            let mut summary = Map::new();
            let mut servers = Vec::new();
            for (key, value) in tail(report) {
                match value {
                    Value::Object(o) if key == "summary" => summary = o,
                    Value::Array(a) if key == "servers" => servers = a,
                    _ => {}
                }
            }
            let truncated = report.files.first().and_then(|f| f.info.truncated);
            let finding = finding(&summary, &servers, truncated);
            FileResult {
                name,
                status,
                outcome: Ok(Done {
                    summary,
                    headline,
                    finding,
                    truncated,
                }),
            }
        }
        Err(e) => FileResult {
            name,
            status: Status::Unreadable,
            outcome: Err(e),
        },
    }
}

pub fn run(cli: &Cli, entries: &[Entry], out: &mut dyn Write) -> Result<Status> {
    let batch = progress::Batch::new(cli, entries.len() as u64);
    let results: Vec<FileResult> = entries
        .par_iter()
        .map(|e| {
            let r = one(cli, e);
            batch.file_done();
            r
        })
        .collect();
    batch.finish();
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
        Ok(d) => json!({
            "file": r.name, "status": "ok", "exit_status": r.status.code(), "error": null,
            "truncated_at_frame": d.truncated.map(|t| t.0),
            "finding": d.finding, "summary": d.summary, "headline": d.headline,
        }),
        Err(e) => json!({
            "file": r.name, "status": "error", "exit_status": r.status.code(), "error": e,
            "truncated_at_frame": null, "finding": format!("error: {e}"), "summary": null,
            "headline": [],
        }),
    }
}

/// Summary counts in the CSV (and JSON) record.
const COLUMNS: [&str; 7] = [
    "syn_attempts",
    "established",
    "unanswered",
    "refused",
    "challenge_ack",
    "reused_in_window",
    "failed_reused_in_window",
];

const FAILURES: [&str; 4] = ["refused", "icmp_unreachable", "challenge_ack", "unanswered"];

fn number(summary: &Map<String, Value>, key: &str) -> u64 {
    summary.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn failed(summary: &Map<String, Value>) -> u64 {
    FAILURES.iter().map(|k| number(summary, k)).sum()
}

/// The finding in a few words: what failed and where, and any damage.
fn finding(
    summary: &Map<String, Value>,
    servers: &[Value],
    truncated: Option<(u64, u64)>,
) -> String {
    let mut parts = Vec::new();
    if let Some((frame, _)) = truncated {
        parts.push(format!("cut short in frame {}", thousands(frame)));
    }
    let (attempts, failed) = (number(summary, "syn_attempts"), failed(summary));
    let in_time_wait = number(summary, "failed_reused_in_window");
    if number(summary, "frames") == 0 {
        parts.push("no packets".into());
    } else if attempts == 0 {
        parts.push("no SYNs".into());
    } else if in_time_wait > 0 {
        // The server whose TIME_WAIT most failed attempts hit.
        let worst = servers
            .iter()
            .filter_map(|s| {
                let n = s.get("failed_in_server_time_wait")?.as_u64()?;
                Some((n, s.get("server")?.as_str()?))
            })
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n);
        parts.push(match worst {
            Some((n, server)) if n == in_time_wait => {
                format!("{} hit {server}'s TIME_WAIT", thousands(n))
            }
            Some((n, server)) => format!(
                "{} hit a TIME_WAIT ({} at {server})",
                thousands(in_time_wait),
                thousands(n)
            ),
            None => format!("{} hit a TIME_WAIT", thousands(in_time_wait)),
        });
        if failed > in_time_wait {
            parts.push(format!(
                "{} other failures",
                thousands(failed - in_time_wait)
            ));
        }
    } else if failed > 0 {
        parts.push(format!("{} failed, not in a TIME_WAIT", thousands(failed)));
    } else {
        parts.push("nothing failed".into());
    }
    parts.join("; ")
}

/// `…` and the last `width - 1` characters (a path's end tells files apart).
fn shorten_left(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let keep: String = text.chars().skip(n - width.saturating_sub(1)).collect();
    format!("…{keep}")
}

/// The first `width - 1` characters and `…`.
fn shorten_right(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let keep: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{keep}…")
}

/// The directory all `names` are in (when there are several), so that rows can name the
/// files below it.
fn common_dir(names: &[&str]) -> Option<String> {
    if names.len() < 2 {
        return None;
    }
    let mut prefix = names[0].rsplit_once('/')?.0.to_string();
    for name in &names[1..] {
        while !(name.starts_with(&prefix) && name[prefix.len()..].starts_with('/')) {
            prefix = prefix.rsplit_once('/')?.0.to_string();
        }
    }
    (!prefix.is_empty()).then_some(prefix)
}

/// A Markdown-style table (like the report's), numbers right-aligned, at most TABLE_WIDTH
/// columns: long file names give way (their ends are kept), then the findings.
fn table(results: &[FileResult], out: &mut dyn Write) -> std::io::Result<()> {
    const HEADER: [&str; 4] = ["file", "frames", "failed/attempts", "finding"];
    /// The finding gets up to this much before the file names give way.
    const FINDING: usize = 55;
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    let dir = common_dir(&names);
    if let Some(dir) = &dir {
        writeln!(out, "Files in {dir}/:")?;
    }
    let shown = |name: &str| match &dir {
        Some(dir) => name[dir.len() + 1..].to_string(),
        None => name.to_string(),
    };
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|r| match &r.outcome {
            Ok(d) => [
                shown(&r.name),
                thousands(number(&d.summary, "frames")),
                format!(
                    "{}/{}",
                    thousands(failed(&d.summary)),
                    thousands(number(&d.summary, "syn_attempts"))
                ),
                d.finding.clone(),
            ],
            Err(e) => [
                shown(&r.name),
                "-".into(),
                "-".into(),
                format!("error: {e}"),
            ],
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // `| a | b |`: 3 characters per column and one more.
    let frame = 3 * HEADER.len() + 1;
    let numbers: usize = widths[1..3].iter().sum();
    let room = TABLE_WIDTH.saturating_sub(frame + numbers).max(40);
    widths[0] = widths[0].min(room.saturating_sub(widths[3].min(FINDING)));
    widths[3] = widths[3].min(room - widths[0]);
    let line = |cells: [&str; 4], out: &mut dyn Write| -> std::io::Result<()> {
        let mut text = String::from("|");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let cell = match i {
                0 => shorten_left(cell, w),
                3 => shorten_right(cell, w),
                _ => cell.to_string(),
            };
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            if (1..3).contains(&i) {
                text.push_str(&format!(" {pad}{cell} |"));
            } else {
                text.push_str(&format!(" {cell}{pad} |"));
            }
        }
        writeln!(out, "{text}")
    };
    line(HEADER, out)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for row in &rows {
        line(row.each_ref().map(String::as_str), out)?;
    }
    let errors = results.iter().filter(|r| r.outcome.is_err()).count() as u64;
    let cut = results
        .iter()
        .filter(|r| r.outcome.as_ref().is_ok_and(|d| d.truncated.is_some()))
        .count() as u64;
    let mut tail = count(results.len() as u64, "file");
    if errors > 0 {
        tail.push_str(&format!(", {} unreadable", thousands(errors)));
    }
    if cut > 0 {
        tail.push_str(&format!(", {} cut short", thousands(cut)));
    }
    writeln!(
        out,
        "{tail}; --format json or csv has each file's full headline and error."
    )
}

fn csv(results: &[FileResult], out: &mut dyn Write) -> std::io::Result<()> {
    write!(
        out,
        "file,status,exit_status,frames,{},truncated_at_frame,finding,headline,error\r\n",
        COLUMNS.join(",")
    )?;
    for r in results {
        csv_field(out, &r.name)?;
        match &r.outcome {
            Ok(d) => {
                write!(
                    out,
                    ",ok,{},{}",
                    r.status.code(),
                    number(&d.summary, "frames")
                )?;
                for c in COLUMNS {
                    write!(out, ",{}", number(&d.summary, c))?;
                }
                out.write_all(b",")?;
                if let Some((frame, _)) = d.truncated {
                    write!(out, "{frame}")?;
                }
                out.write_all(b",")?;
                csv_field(out, &d.finding)?;
                out.write_all(b",")?;
                csv_field(out, &d.headline.join(" "))?;
                out.write_all(b",\r\n")?;
            }
            Err(e) => {
                write!(out, ",error,{}", r.status.code())?;
                out.write_all(",".repeat(COLUMNS.len() + 3).as_bytes())?;
                out.write_all(b",,")?;
                csv_field(out, e)?;
                out.write_all(b"\r\n")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_keeps_the_ends_that_tell_apart() {
        assert_eq!(shorten_left("captures/a/b/trace.pcap", 12), "…/trace.pcap");
        assert_eq!(shorten_right("117 failed in x", 8), "117 fai…");
        assert_eq!(shorten_left("short", 12), "short");
    }

    #[test]
    fn rows_name_files_below_their_common_directory() {
        assert_eq!(
            common_dir(&["/a/b/c/x.pcap", "/a/b/y.pcap", "/a/b/c/d/z.pcap"]).as_deref(),
            Some("/a/b")
        );
        assert_eq!(
            common_dir(&["caps/x.pcap", "caps/y.pcap"]).as_deref(),
            Some("caps")
        );
        assert_eq!(common_dir(&["/ab/x.pcap", "/a/y.pcap"]), None);
        assert_eq!(common_dir(&["x.pcap", "y.pcap"]), None);
        assert_eq!(common_dir(&["/d/x.pcap"]), None);
    }

    #[test]
    fn findings_name_the_server_and_the_cut() {
        let summary: Map<String, Value> = serde_json::from_value(json!({
            "frames": 100, "syn_attempts": 10, "unanswered": 5, "refused": 2,
            "failed_reused_in_window": 5
        }))
        .unwrap();
        let servers = vec![json!({"server": "10.0.0.1:110", "failed_in_server_time_wait": 5})];
        assert_eq!(
            finding(&summary, &servers, Some((41, 9000))),
            "cut short in frame 41; 5 hit 10.0.0.1:110's TIME_WAIT; 2 other failures"
        );
    }
}
