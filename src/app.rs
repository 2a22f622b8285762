//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! fold the decided attempts into the summary (and stream them out as JSON), then render.

use std::io::{self, Write};

use anyhow::{Context, Result};
use indexmap::IndexMap;

use crate::attempt::{Attempt, ReuseClass};
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, Format};
use crate::decode::Decoded;
use crate::filter::Filter;
use crate::merge::Merger;
use crate::report::json::{FileNames, JsonWriter};
use crate::report::{self, FileMeta, Report, count, thousands};
use crate::summary::Summary;
use crate::time::Ts;
use crate::track::{Config, Tracker};

/// How the run ended, for the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The analysis ran (and --check found nothing).
    Ok,
    /// --check: an attempt that reused a 4-tuple inside the window failed; or --strict and a
    /// capture was damaged.
    Findings,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Findings => 1,
        }
    }
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    let names: Vec<String> = cli
        .captures
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut captures = Vec::with_capacity(names.len());
    for (path, name) in cli.captures.iter().zip(&names) {
        captures.push(capture::open(path).with_context(|| name.clone())?);
    }
    analyze(cli, names, captures, out)
}

/// The analysis of captures already opened (`names` label them in the report): merge,
/// decode, track, summarise, render.
pub fn analyze(
    cli: &Cli,
    names: Vec<String>,
    captures: Vec<Capture>,
    out: &mut dyn Write,
) -> Result<Status> {
    let filter = Filter {
        sources: cli.sources.clone(),
        servers: cli.servers.clone(),
    };
    let filter = (!filter.sources.is_empty() || !filter.servers.is_empty()).then_some(filter);
    let mut tracker = Tracker::new(Config {
        window_ns: cli.time_wait,
        filter,
    });
    let mut summary = Summary::new(cli.max_rows);
    let mut merger = Merger::new(captures);
    let mut skipped = IndexMap::new();
    let (mut frames, mut first_ts, mut last_ts) = (0u64, None::<Ts>, None::<Ts>);

    let mut chart = cli.html.as_ref().map(|_| Vec::new());
    let mut json = match cli.format {
        Format::Json => {
            let digits = merger.files.iter().map(|c| c.info.digits).collect();
            Some(JsonWriter::begin(
                out,
                FileNames {
                    names: names.clone(),
                    digits,
                },
            )?)
        }
        Format::Table => None,
    };
    loop {
        let item = merger
            .next_item()
            .map_err(|(i, e)| anyhow::Error::new(e).context(names[i].clone()))?;
        let Some(item) = item else { break };
        frames += 1;
        first_ts = Some(first_ts.map_or(item.ts, |t| t.min(item.ts)));
        last_ts = Some(last_ts.map_or(item.ts, |t| t.max(item.ts)));
        match item.decoded {
            Ok(Decoded::Segment(segment)) => tracker.on_segment(&segment),
            Ok(Decoded::Icmp(error)) => tracker.on_icmp(&error),
            Err(skip) => {
                tracker.advance(item.ts);
                *skipped.entry(skip).or_insert(0u64) += 1;
            }
        }
        drain(&mut tracker, &mut summary, &mut chart, &mut json, out)?;
    }
    tracker.finish();
    drain(&mut tracker, &mut summary, &mut chart, &mut json, out)?;

    let infos: Vec<FileInfo> = merger.files.iter().map(|c| c.info.clone()).collect();
    let warnings = warnings(&names, &infos);
    if !cli.quiet {
        for w in &warnings {
            eprintln!("portreuse: warning: {w}");
        }
    }
    let damaged = infos.iter().any(|i| i.truncated.is_some());
    let files = names
        .into_iter()
        .zip(infos)
        .map(|(name, info)| FileMeta { name, info })
        .collect();
    let report = Report {
        files,
        window_ns: cli.time_wait,
        frames,
        skipped,
        track: *tracker.stats(),
        summary,
        first_ts,
        last_ts,
        warnings,
    };
    if let (Some(path), Some(points)) = (&cli.html, &chart) {
        let file =
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        let mut html = io::BufWriter::new(file);
        report::html::render(&report, points, &mut html)?;
        html.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match json {
        Some(writer) => writer.finish(out, &report)?,
        None => report::table::render(&report, out)?,
    }
    let failed_reuse = report.summary.cross[ReuseClass::InWindow as usize].failed() > 0;
    Ok(if (cli.check && failed_reuse) || (cli.strict && damaged) {
        Status::Findings
    } else {
        Status::Ok
    })
}

/// Hands every decided attempt to the summary and, for JSON, to the output.
/// Attempts kept for the HTML charts (a point each); beyond this many, every n-th is kept.
const HTML_POINTS: usize = 100_000;

fn drain(
    tracker: &mut Tracker,
    summary: &mut Summary,
    chart: &mut Option<Vec<Attempt>>,
    json: &mut Option<JsonWriter>,
    out: &mut dyn Write,
) -> io::Result<()> {
    while let Some(end) = tracker.pop_ended() {
        summary.add_end(&end);
    }
    while let Some(attempt) = tracker.pop_decided() {
        summary.add(&attempt);
        if let Some(points) = chart.as_mut() {
            // Keep every attempt up to the cap, then thin out older ones evenly; flagged
            // attempts are always kept so the collisions stay visible.
            if points.len() >= HTML_POINTS {
                let mut i = 0;
                points.retain(|a| {
                    i += 1;
                    i % 2 == 0 || a.is_flagged()
                });
            }
            points.push(attempt);
        }
        if let Some(writer) = json.as_mut() {
            writer.attempt(out, &attempt)?;
        }
    }
    Ok(())
}

/// What the user must know about the input (also listed in the report).
fn warnings(names: &[String], infos: &[FileInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, i) in names.iter().zip(infos) {
        if let Some((frame, byte)) = i.truncated {
            out.push(format!(
                "{name}: cut short in the middle of frame {} at byte {}; analysed the {} before it",
                thousands(frame),
                thousands(byte),
                count(i.frames, "frame")
            ));
        }
        if i.out_of_order > 0 {
            out.push(format!(
                "{name}: {} earlier than the frame before",
                count(i.out_of_order, "frame has a timestamp").replace("frames has", "frames have")
            ));
        }
        if i.without_timestamp > 0 {
            out.push(format!(
                "{name}: {} from Simple Packet Blocks, which carry no timestamp; given the time of the frame before",
                count(i.without_timestamp, "frame")
            ));
        }
        if i.dropped > 0 {
            out.push(format!(
                "{name}: the capturing interface dropped {} (pcapng interface statistics)",
                count(i.dropped, "packet")
            ));
        }
    }
    out
}
