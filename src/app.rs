//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! fold the decided attempts into the summary (and stream them out), then render; or, with
//! --each, analyse every capture on its own in parallel.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::FxIndexMap;
use anyhow::{Context, Result, bail};
use clap::CommandFactory;

use crate::attempt::{Attempt, ReuseClass};
use crate::budget::Budgets;
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, Command, Format};
use crate::decode::Decoded;
use crate::export::Selection;
use crate::filter::Filter;
use crate::merge::Merger;
use crate::report::json::FileNames;
use crate::report::stream::Stream;
use crate::report::{self, FileMeta, Report, count, thousands};
use crate::summary::Summary;
use crate::time::Ts;
use crate::track::{Config, Tracker};

mod each;
mod progress;
mod walk;

/// How the run ended, for the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The analysis ran (and --check found nothing).
    Ok,
    /// --check: an attempt that reused a 4-tuple inside the window failed; or --strict and a
    /// capture was damaged.
    Findings,
    /// A capture could not be read (with --each: the run went on with the others).
    Unreadable,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Findings => 1,
            Status::Unreadable => 2,
        }
    }
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    match &cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "portreuse", out);
            return Ok(Status::Ok);
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
            return Ok(Status::Ok);
        }
        None => {}
    }
    let paths = walk::expand(&cli.captures)?;
    if cli.each {
        return each::run(cli, &paths, out);
    }
    if cli.write.is_some() && paths.iter().any(|p| p.as_os_str() == "-") {
        bail!("--write reads the captures a second time: give files, not standard input");
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut captures = Vec::with_capacity(names.len());
    for (path, name) in paths.iter().zip(&names) {
        captures.push(capture::open(path).with_context(|| name.clone())?);
    }
    let files = FileNames {
        names: names.clone(),
        digits: captures.iter().map(|c| c.info.digits).collect(),
    };
    let format = if cli.filter_only {
        None
    } else {
        Some(cli.format)
    };
    let mut stream = match format {
        Some(format) => Stream::begin(format, files, out)?,
        None => Stream::Nothing,
    };
    let mut analysis = analyze(cli, names, captures, &mut |a| stream.attempt(out, a))?;
    analysis.report.colour = cli.format == Format::Table && colour_wanted();
    let report = &analysis.report;
    if cli.filter_only {
        writeln!(out, "{}", report.display_filter)?;
    }
    if let (Some(path), Some(points)) = (&cli.html, &analysis.chart) {
        let file =
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        let mut html = io::BufWriter::new(file);
        report::html::render(report, &points.points, &mut html)?;
        html.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(target) = &cli.write {
        let inputs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let written = analysis
            .selection
            .write_pcapng(&inputs, target)
            .with_context(|| format!("writing {}", target.display()))?;
        if !cli.quiet {
            eprintln!(
                "portreuse: wrote {} of {} to {}",
                count(written, "packet"),
                count(analysis.selection.len() as u64, "4-tuple"),
                target.display()
            );
        }
    }
    if analysis.selection.left_out > 0 && !cli.quiet {
        eprintln!(
            "portreuse: warning: the filter and --write cover the first {} flagged 4-tuples; {} on other 4-tuples left out",
            thousands(crate::export::MAX_TUPLES as u64),
            count(analysis.selection.left_out, "flagged attempt")
        );
    }
    stream.finish(out, report)?;
    Ok(analysis.status(cli))
}

/// Everything one analysis produced.
pub struct Analysis {
    pub report: Report,
    /// Attempts kept for the HTML charts (with --html).
    pub chart: Option<ChartSample>,
    /// The flagged attempts' 4-tuples, for --filter-only and --write.
    pub selection: Selection,
}

impl Analysis {
    pub fn status(&self, cli: &Cli) -> Status {
        let failed_reuse = self.report.summary.cross[ReuseClass::InWindow as usize].failed() > 0;
        let damaged = self.report.files.iter().any(|f| f.info.is_damaged());
        if (cli.check && failed_reuse) || (cli.strict && damaged) {
            Status::Findings
        } else {
            Status::Ok
        }
    }
}

/// The analysis of captures already opened (`names` label them in the report): merge,
/// decode, track, summarise. Every decided attempt is also handed to `sink`, in order.
pub fn analyze(
    cli: &Cli,
    names: Vec<String>,
    captures: Vec<Capture>,
    sink: &mut dyn FnMut(&Attempt) -> io::Result<()>,
) -> Result<Analysis> {
    let filter = Filter {
        sources: cli.sources.clone(),
        servers: cli.servers.clone(),
    };
    let filter = (!filter.sources.is_empty() || !filter.servers.is_empty()).then_some(filter);
    let mut tracker = Tracker::new(Config {
        window_ns: cli.time_wait,
        filter,
        budgets: Budgets::default(),
    });
    let mut summary = Summary::new(cli.max_rows);
    let mut selection = Selection::new(cli.write.is_some());
    let mut chart = cli.html.as_ref().map(|_| ChartSample::new());
    let mut progress = progress::Progress::new(cli, &captures);
    let mut merger = Merger::new(captures);
    let mut skipped = FxIndexMap::default();
    let (mut frames, mut first_ts, mut last_ts) = (0u64, None::<Ts>, None::<Ts>);
    let mut decided = |tracker: &mut Tracker, summary: &mut Summary| -> io::Result<()> {
        while let Some(end) = tracker.pop_ended() {
            summary.add_end(&end);
        }
        while let Some(attempt) = tracker.pop_decided() {
            summary.add(&attempt);
            selection.add(&attempt);
            if let Some(sample) = chart.as_mut() {
                sample.add(attempt);
            }
            sink(&attempt)?;
        }
        Ok(())
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
        decided(&mut tracker, &mut summary)?;
        if frames % 65_536 == 0 {
            progress.update(&merger.files);
        }
    }
    tracker.finish();
    decided(&mut tracker, &mut summary)?;
    progress.finish();

    let infos: Vec<FileInfo> = merger.files.iter().map(|c| c.info.clone()).collect();
    let mut warnings = warnings(&names, &infos);
    warnings.extend(track_warnings(&names, tracker.stats()));
    if !cli.quiet {
        for w in &warnings {
            eprintln!("portreuse: warning: {w}");
        }
    }
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
        time_format: cli.time,
        colour: false,
        display_filter: selection.display_filter(),
        filter_tuples: selection.len(),
    };
    Ok(Analysis {
        report,
        chart,
        selection,
    })
}

/// Attempts kept for the HTML charts (a point each). Past this many the sample is thinned
/// to every other point and from then on only every 2nd, 4th, ... attempt is taken: an
/// unbiased sample in constant memory and linear time.
const HTML_POINTS: usize = 100_000;

/// An evenly spaced sample of the attempts, for the charts.
pub struct ChartSample {
    pub points: Vec<Attempt>,
    stride: u64,
    seen: u64,
}

impl ChartSample {
    fn new() -> ChartSample {
        ChartSample {
            points: Vec::new(),
            stride: 1,
            seen: 0,
        }
    }

    fn add(&mut self, attempt: Attempt) {
        let index = self.seen;
        self.seen += 1;
        if !index.is_multiple_of(self.stride) {
            return;
        }
        if self.points.len() >= HTML_POINTS {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
            if !index.is_multiple_of(self.stride) {
                return;
            }
        }
        self.points.push(attempt);
    }
}

/// Stdout is a terminal and NO_COLOR is unset (https://no-color.org).
pub fn colour_wanted() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What the user must know about the input (also listed in the report).
fn warnings(names: &[String], infos: &[FileInfo]) -> Vec<String> {
    names
        .iter()
        .zip(infos)
        .flat_map(|(name, info)| info.warnings(name))
        .collect()
}

/// What the tracker saw in the input that the user must know (issue 9): long runs of copied
/// frames, SYNs stamped earlier than the connection before them, copies it could not check.
fn track_warnings(names: &[String], t: &crate::track::TrackStats) -> Vec<String> {
    let frame = |f: crate::tcp::FrameRef| -> String {
        if names.len() > 1 {
            let name = names.get(f.file as usize).map_or("?", String::as_str);
            format!("{name}#{}", thousands(f.number))
        } else {
            thousands(f.number)
        }
    };
    let mut out = Vec::new();
    let runs: Vec<String> = t
        .copy_run_frames
        .iter()
        .flatten()
        .map(|r| {
            format!(
                "frames {}–{} ({} copied SYNs and SYN-ACKs)",
                frame(r.first),
                frame(r.last),
                thousands(r.copies)
            )
        })
        .collect();
    if t.copy_runs > 0 {
        let more = t.copy_runs.saturating_sub(runs.len() as u64);
        let more = if more > 0 {
            format!(" and {} more", count(more, "run"))
        } else {
            String::new()
        };
        out.push(format!(
            "{} of copied frames: {}{more}; the capture holds these packets twice (a file appended to itself, the same file given twice, or a span port mirroring both directions); the copies are counted as duplicates and change nothing",
            count(t.copy_runs, "stretch").replace("stretchs", "stretches"),
            runs.join(", ")
        ));
    }
    if t.backwards_syns > 0 {
        let pairs: Vec<String> = t
            .backwards
            .iter()
            .flatten()
            .map(|(syn, end)| format!("frame {} (before frame {})", frame(*syn), frame(*end)))
            .collect();
        let more = t.backwards_syns.saturating_sub(pairs.len() as u64);
        let more = if more > 0 {
            format!(" and {} more", thousands(more))
        } else {
            String::new()
        };
        out.push(format!(
            "timestamps go backwards: {} stamped earlier than the end of the connection before it on its 4-tuple: {}{more}; not counted as reuses",
            count(t.backwards_syns, "SYN"),
            pairs.join(", ")
        ));
    }
    if t.duplicates_unchecked > 0 && t.copy_runs > 0 {
        out.push(format!(
            "{} could not be checked for copies (stamped earlier than their 4-tuple's last packet, or the fingerprint table was full)",
            count(t.duplicates_unchecked, "frame")
        ));
    }
    out
}
