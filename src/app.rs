//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! detect as the attempts are decided (and stream them out), then render; or, with --each,
//! analyse every capture on its own in parallel.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::FxIndexMap;
use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;

use crate::attempt::Attempt;
use crate::budget::{Budgets, Dropped};
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, Command, Format, TimeFormat};
use crate::decode::{Decoded, Skip};
use crate::detect::{self, Context, Detector, Findings, Judged};
use crate::export::Selection;
use crate::filter::Filter;
use crate::merge::{Item, Merger};
use crate::report::json::FileNames;
use crate::report::stream::Stream;
use crate::report::{self, FileMeta, RenderOptions, Report, TimeStyle, count, thousands, words};
use crate::time::Ts;
use crate::track::{Config, TrackStats, Tracker};

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
        Some(report_format(cli.format))
    };
    let mut stream = match format {
        Some(format) => Stream::begin(format, files, out)?,
        None => Stream::Nothing,
    };
    let options = Options::from_cli(cli);
    let mut analysis = match analyze(&options, names, captures, &mut |a, j| {
        stream.attempt(out, a, j)
    }) {
        Ok(analysis) => analysis,
        Err(err) => {
            // Output began: end it as a valid document (issue 14), then fail.
            if !is_broken_pipe(&err) {
                let _ = stream.fail(out, &format!("{err:#}"));
            }
            return Err(err);
        }
    };
    analysis.report.render = RenderOptions {
        time: match cli.time {
            TimeFormat::Relative => TimeStyle::Relative,
            TimeFormat::Absolute => TimeStyle::Absolute,
        },
        colour: cli.format == Format::Table && colour_wanted(),
    };
    let report = &analysis.report;
    if cli.filter_only {
        writeln!(out, "{}", report.display_filter)?;
    }
    stream.finish(out, report)?;
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
    Ok(analysis.status(cli))
}

fn report_format(f: Format) -> report::Format {
    match f {
        Format::Table => report::Format::Table,
        Format::Json => report::Format::Json,
        Format::Ndjson => report::Format::Ndjson,
        Format::Csv => report::Format::Csv,
    }
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
        let failed_reuse = self.report.findings.cross.in_window().failed() > 0;
        let damaged = self.report.files.iter().any(|f| f.info.truncated.is_some());
        if (cli.check && failed_reuse) || (cli.strict && damaged) {
            Status::Findings
        } else {
            Status::Ok
        }
    }
}

/// What one analysis needs to know: the window, which SYNs, the memory budget and what to
/// keep beyond the findings. The CLI is one way to fill it (`Options::from_cli`).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--time-wait`.
    pub window_ns: i64,
    /// Which SYNs to analyse (`--source`, `--server`); `None` means all.
    pub filter: Option<Filter>,
    pub budgets: Budgets,
    pub keep: Keep,
    /// Print warnings on standard error.
    pub warn: bool,
    /// A progress bar on standard error (only when it is a terminal).
    pub progress: bool,
}

/// What to keep beyond the findings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep {
    /// Flagged attempts listed in the table (`--max-rows`).
    pub flagged_rows: usize,
    /// A sample of attempts for the HTML charts (`--html`).
    pub chart: bool,
    /// Time ranges of the flagged 4-tuples (`--write`), not only the 4-tuples.
    pub write_ranges: bool,
}

impl Options {
    pub fn from_cli(cli: &Cli) -> Options {
        let filter = Filter {
            sources: cli.sources.clone(),
            servers: cli.servers.clone(),
        };
        let filter = (!filter.sources.is_empty() || !filter.servers.is_empty()).then_some(filter);
        Options {
            window_ns: cli.time_wait,
            filter,
            budgets: Budgets::default(),
            keep: Keep {
                flagged_rows: cli.max_rows,
                chart: cli.html.is_some(),
                write_ranges: cli.write.is_some(),
            },
            warn: !cli.quiet,
            progress: !cli.quiet,
        }
    }
}

/// How long after its first SYN an early attempt that nothing explains yet may wait for the
/// evidence that would explain it, beyond the window: the tracker decides an unanswered
/// attempt 130 s after its last SYN, before later reuses can show that its source reuses
/// ports into that server's TIME_WAIT.
const HOLD_BEYOND_WINDOW_NS: i64 = 130 * 1_000_000_000;

/// Where each decided attempt goes, with what the detector judged of it.
pub type Sink<'a> = dyn FnMut(&Attempt, &Judged) -> io::Result<()> + 'a;

/// The stages after reading, fed one decoded frame at a time: track, detect, select. A
/// shard of a capture (or any stream of items) can be analysed with it on its own.
pub struct Pipeline {
    tracker: Tracker,
    detector: Detector,
    selection: Selection,
    chart: Option<ChartSample>,
    window_ns: i64,
    /// Decided attempts waiting for evidence (and the ones behind them, to keep the order).
    held: VecDeque<Attempt>,
    hold_cap: usize,
    pub frames: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub skipped: FxIndexMap<Skip, u64>,
}

/// What a pipeline leaves when the input ends.
pub struct Finished {
    pub findings: Findings,
    pub track: TrackStats,
    pub dropped: Dropped,
    pub selection: Selection,
    pub chart: Option<ChartSample>,
    pub frames: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub skipped: FxIndexMap<Skip, u64>,
}

impl Pipeline {
    pub fn new(o: &Options) -> Pipeline {
        Pipeline {
            tracker: Tracker::new(Config {
                window_ns: o.window_ns,
                filter: o.filter.clone(),
                budgets: o.budgets,
            }),
            detector: Detector::new(&detect::Config {
                window_ns: o.window_ns,
                budgets: o.budgets,
                flagged_rows: o.keep.flagged_rows,
            }),
            selection: Selection::new(o.keep.write_ranges),
            chart: o.keep.chart.then(ChartSample::new),
            window_ns: o.window_ns,
            held: VecDeque::new(),
            hold_cap: (o.budgets.pending / 8).max(1024),
            frames: 0,
            first_ts: None,
            last_ts: None,
            skipped: FxIndexMap::default(),
        }
    }

    /// One decoded frame.
    pub fn feed(&mut self, item: &Item, sink: &mut Sink) -> io::Result<()> {
        self.frames += 1;
        self.first_ts = Some(self.first_ts.map_or(item.ts, |t| t.min(item.ts)));
        self.last_ts = Some(self.last_ts.map_or(item.ts, |t| t.max(item.ts)));
        match item.decoded {
            Ok(Decoded::Segment(segment)) => self.tracker.on_segment(&segment),
            Ok(Decoded::Icmp(error)) => self.tracker.on_icmp(&error),
            Err(skip) => {
                self.tracker.advance(item.ts);
                *self.skipped.entry(skip).or_insert(0u64) += 1;
            }
        }
        self.drain(sink)
    }

    /// A frame of the capture that belongs to another shard: it only moves the clock, so a
    /// shard's attempts are decided against the whole capture's span (as the whole run's are).
    pub fn advance(&mut self, ts: Ts, sink: &mut Sink) -> io::Result<()> {
        self.tracker.advance(ts);
        self.drain(sink)
    }

    /// Hands on what the tracker decided: ended connections, then decided attempts.
    fn drain(&mut self, sink: &mut Sink) -> io::Result<()> {
        while let Some(end) = self.tracker.pop_ended() {
            self.detector.add_end(&end);
        }
        while let Some(attempt) = self.tracker.pop_decided() {
            self.held.push_back(attempt);
        }
        self.release(false, sink)
    }

    fn context(&self) -> Context<'_> {
        Context {
            seen: self.tracker.seen(),
            window_ns: self.window_ns,
            capture_start: self.tracker.seen().capture_start(),
        }
    }

    /// An attempt early in the capture, on a 4-tuple with no connection in it, that failed
    /// with nothing to explain it yet (no answer, or a RST from a port that accepted nothing
    /// so far) waits for the evidence of later packets (issue 10's
    /// `time_wait_before_capture`, `port_closed`), up to the window plus the tracker's
    /// settling time. Attempts behind it wait too, so the output keeps the first-SYN order.
    fn waits(&self, a: &Attempt) -> bool {
        let cx = self.context();
        let Some(start) = cx.capture_start else {
            return false;
        };
        if a.reuse.is_some() || a.ts.since(start) >= self.window_ns {
            return false;
        }
        let deadline =
            a.ts.add_nanos(self.window_ns.saturating_add(HOLD_BEYOND_WINDOW_NS));
        self.tracker.end_ts() < deadline
            && matches!(
                detect::cause::cause(a, &cx),
                Some(detect::Cause::NoAnswer | detect::Cause::PortClosed)
            )
    }

    /// Judges and hands on the held attempts that need not wait (all of them with `all`).
    fn release(&mut self, all: bool, sink: &mut Sink) -> io::Result<()> {
        while let Some(front) = self.held.front() {
            if !all && self.held.len() <= self.hold_cap && self.waits(front) {
                break;
            }
            let Some(attempt) = self.held.pop_front() else {
                break;
            };
            let cx = Context {
                seen: self.tracker.seen(),
                window_ns: self.window_ns,
                capture_start: self.tracker.seen().capture_start(),
            };
            let judged = self.detector.add(&attempt, &cx);
            self.selection.add(&attempt);
            if let Some(sample) = self.chart.as_mut() {
                sample.add(attempt);
            }
            sink(&attempt, &judged)?;
        }
        Ok(())
    }

    /// The input ended: decide what is left and compute the findings.
    pub fn finish(mut self, sink: &mut Sink) -> io::Result<Finished> {
        self.tracker.finish();
        self.drain(sink)?;
        self.release(true, sink)?;
        Ok(Finished {
            track: *self.tracker.stats(),
            dropped: self.tracker.dropped(),
            findings: self.detector.finish(),
            selection: self.selection,
            chart: self.chart,
            frames: self.frames,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            skipped: self.skipped,
        })
    }
}

/// The analysis of captures already opened (`names` label them in the report): merge,
/// decode, track, detect. Every decided attempt is also handed to `sink`, in order.
pub fn analyze(
    options: &Options,
    names: Vec<String>,
    captures: Vec<Capture>,
    sink: &mut Sink,
) -> Result<Analysis> {
    let mut progress = progress::Progress::when(options.progress, &captures);
    let mut merger = Merger::new(captures);
    let mut pipeline = Pipeline::new(options);
    loop {
        let item = merger
            .next_item()
            .map_err(|(i, e)| anyhow::Error::new(e).context(names[i].clone()))?;
        let Some(item) = item else { break };
        pipeline.feed(&item, sink)?;
        if pipeline.frames.is_multiple_of(65_536) {
            progress.update(&merger.files);
        }
    }
    let done = pipeline.finish(sink)?;
    progress.finish();

    let infos: Vec<FileInfo> = merger.files.iter().map(|c| c.info.clone()).collect();
    let mut warnings = warnings(&names, &infos);
    warnings.extend(words::detect_warnings(&done.findings, &done.dropped));
    if options.warn {
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
        frames: done.frames,
        skipped: done.skipped,
        track: done.track,
        dropped: done.dropped,
        findings: done.findings,
        first_ts: done.first_ts,
        last_ts: done.last_ts,
        warnings,
        render: RenderOptions::default(),
        display_filter: done.selection.display_filter(),
        filter_tuples: done.selection.len(),
    };
    Ok(Analysis {
        report,
        chart: done.chart,
        selection: done.selection,
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

impl Default for ChartSample {
    fn default() -> ChartSample {
        ChartSample::new()
    }
}

impl ChartSample {
    pub fn new() -> ChartSample {
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
            let verb = if i.out_of_order == 1 { "has" } else { "have" };
            out.push(format!(
                "{name}: {} {verb} a timestamp earlier than the frame before (kept in file order)",
                count(i.out_of_order, "frame")
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
