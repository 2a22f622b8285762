//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! detect as the attempts are decided (and stream them out), then render; or, with --each,
//! analyse every capture on its own in parallel.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::FxIndexMap;
use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;
use output::OutputFile;
use walk::Entry;

use crate::attempt::Attempt;
use crate::budget::{Budgets, Dropped};
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, ColorChoice, Command, Format, TimeFormat};
use crate::decode::{Decoded, Skip};
use crate::detect::{self, Context, Detector, Findings, Judged};
use crate::export::{Selection, WriteError};
use crate::filter::Filter;
use crate::merge::{Item, Merger};
use crate::report::charts::ChartBuilder;
use crate::report::json::FileNames;
use crate::report::stream::Stream;
use crate::report::{self, FileMeta, RenderOptions, Report, TimeStyle, count, thousands, words};
use crate::time::Ts;
use crate::track::{Config, TrackStats, Tracker};

mod each;
mod man;
pub mod output;
mod progress;
mod stages;

pub use stages::threads_for;
pub mod surface;
pub mod walk;

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

/// Writes `portreuse: TEXT` to standard error. Errors are ignored: an unwritable standard
/// error (closed, a full disk) must never stop or panic the run (issue 14).
pub fn say(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "portreuse: {text}");
}

pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    match &cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "portreuse", out);
            return Ok(Status::Ok);
        }
        Some(Command::Man) => {
            man::render(out)?;
            return Ok(Status::Ok);
        }
        None => {}
    }
    let walk = walk::expand(&cli.captures, cli.follow);
    if !cli.quiet {
        for d in &walk.duplicates {
            say(&format!("warning: {d}"));
        }
    }
    let closing = |walk: &walk::Walk| {
        if let Some(line) = walk.closing_line().filter(|_| !cli.quiet) {
            say(&line);
        }
    };
    // Nothing to read at all (empty directories, directories without captures): exit 2
    // with the reason, in every mode.
    if let Some(Entry::Error { path, message }) = walk.entries.first().filter(|_| {
        walk.entries
            .iter()
            .all(|e| matches!(e, Entry::Error { .. }))
    }) {
        closing(&walk);
        bail!("{}: {message}", path.display());
    }
    if cli.each {
        let status = each::run(cli, &walk.entries, out);
        closing(&walk);
        return status;
    }
    let mut paths = Vec::with_capacity(walk.entries.len());
    for entry in &walk.entries {
        match entry {
            Entry::Capture { path, .. } => paths.push(path.clone()),
            Entry::Error { path, message } => bail!("{}: {message}", path.display()),
        }
    }
    if cli.write.is_some()
        && let Some(p) = paths.iter().find(|p| !rereadable(p))
    {
        bail!(
            "--write reads the captures a second time: {} is not a file (give files, not standard input or a pipe)",
            p.display()
        );
    }
    // Outputs are checked and created before anything is read (issue 14).
    let mut inputs = walk.ids();
    if paths.iter().any(|p| p.as_os_str() == "-") {
        inputs.extend(output::FileId::of_path(Path::new("/dev/stdin")));
    }
    let html = (cli.html.as_deref())
        .map(|p| OutputFile::create("--html", p, &inputs))
        .transpose()?;
    if let (Some(h), Some(w)) = (&cli.html, &cli.write)
        && (h == w
            || output::FileId::of_path(h).is_some_and(|id| Some(id) == output::FileId::of_path(w)))
    {
        bail!("--html and --write name the same file ({})", w.display());
    }
    let pcapng = (cli.write.as_deref())
        .map(|p| OutputFile::create("--write", p, &inputs))
        .transpose()?;

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
    // With two threads and a format written as the attempts are decided, the writing gets a
    // thread of its own too (stages::sink_apart): the tracking thread sets the pace.
    let threads = match stages::threads_for(cli.threads, &paths) {
        2 if matches!(
            format,
            Some(report::Format::Json | report::Format::Ndjson | report::Format::Csv)
        ) =>
        {
            3
        }
        n => n,
    };
    let mut analysis = match analyze_on(&options, threads, names, captures, &mut |a, j| {
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
        colour: cli.format == Format::Table && colour_wanted(cli.color),
    };
    let report = &analysis.report;
    let mut status = analysis.status(cli);
    if cli.filter_only {
        if report.display_filter.is_empty() {
            // Nothing on stdout: `wireshark -Y "$(portreuse --filter-only …)"` must not
            // get an empty filter, which shows every frame.
            if !cli.quiet {
                say("nothing flagged: no display filter");
            }
            status = status.max(Status::Findings);
        } else {
            writeln!(out, "{}", report.display_filter)?;
        }
    }
    // The document ends before the other outputs are written: an error writing them
    // leaves a valid document on standard output (issue 14).
    stream.finish(out, report)?;
    if let Some(file) = html {
        let name = file.shown.display().to_string();
        if let Some(builder) = analysis.chart.take() {
            let names = report.files.iter().map(|f| f.name.clone()).collect();
            let input = builder.finish(report.first_ts, report.last_ts, names);
            let mut w = io::BufWriter::new(file.file());
            report::page::render(report, input, &mut w)
                .and_then(|()| w.flush())
                .with_context(|| format!("writing {name}"))?;
        }
        file.commit()?;
    }
    if let Some(file) = pcapng {
        let name = file.shown.display().to_string();
        let inputs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let end = report
            .last_ts
            .max(declared_end(report.files.iter().map(|f| &f.info)));
        let span = report.first_ts.zip(end);
        let mut w = io::BufWriter::with_capacity(1 << 16, file.file());
        let written = analysis
            .selection
            .write_pcapng(&inputs, span, &mut w)
            .map_err(|e| match e {
                WriteError::Read(i, e) => anyhow::Error::new(e).context(format!(
                    "{}: reading it again for --write",
                    inputs[i].display()
                )),
                WriteError::Io(e) => anyhow::Error::new(e).context(format!("writing {name}")),
            })?;
        drop(w);
        file.commit()?;
        if !cli.quiet {
            say(&format!(
                "wrote {} of {} to {name}",
                count(written, "packet"),
                count(analysis.selection.len() as u64, "4-tuple"),
            ));
        }
    }
    if analysis.selection.left_out > 0 && !cli.quiet {
        say(&format!(
            "warning: the filter and --write cover the first {} flagged 4-tuples; {} on other 4-tuples left out",
            thousands(crate::export::MAX_TUPLES as u64),
            count(analysis.selection.left_out, "flagged attempt")
        ));
    }
    closing(&walk);
    Ok(status)
}

/// Whether a capture can be read a second time (--write): a file, not standard input, a
/// FIFO or a device.
fn rereadable(path: &Path) -> bool {
    path.as_os_str() != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file())
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
    /// What the HTML charts draw, gathered from the decided attempts (with --html).
    pub chart: Option<ChartBuilder>,
    /// The flagged attempts' 4-tuples, for --filter-only and --write.
    pub selection: Selection,
}

impl Analysis {
    pub fn status(&self, cli: &Cli) -> Status {
        let failed_reuse = self.report.findings.cross.in_window().failed() > 0;
        let damaged = self.report.files.iter().any(|f| f.info.is_damaged());
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
    /// The progress line on standard error.
    pub progress: progress::Choice,
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
            budgets: Budgets::from_bytes(cli.memory.0),
            keep: Keep {
                flagged_rows: cli.max_rows,
                chart: cli.html.is_some(),
                write_ranges: cli.write.is_some(),
            },
            warn: !cli.quiet,
            progress: progress::Choice::from_cli(cli),
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
    chart: Option<ChartBuilder>,
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
    pub chart: Option<ChartBuilder>,
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
            chart: o.keep.chart.then(|| ChartBuilder::new(o.window_ns)),
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
            // With nothing held, an attempt that need not wait goes on at once (as `release`
            // would take it: the same order and context), without two copies through the
            // ring (issue 12: a flood's million attempts).
            if self.held.is_empty() && !self.waits(&attempt) {
                self.hand_on(&attempt, sink)?;
            } else {
                self.held.push_back(attempt);
            }
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
            self.hand_on(&attempt, sink)?;
        }
        // Attempts are held early in the capture only: the ring's room goes back once they
        // have left (issue 14: 6 MiB kept for the rest of a 34 k-host capture).
        if self.held.capacity() > 4096 && self.held.len() < self.held.capacity() / 8 {
            self.held.shrink_to(self.held.len() * 2);
        }
        Ok(())
    }

    /// Judges a decided attempt and hands it on: the findings, the `--write` selection, the
    /// charts and the output.
    fn hand_on(&mut self, attempt: &Attempt, sink: &mut Sink) -> io::Result<()> {
        let cx = Context {
            seen: self.tracker.seen(),
            window_ns: self.window_ns,
            capture_start: self.tracker.seen().capture_start(),
        };
        let judged = self.detector.add(attempt, &cx);
        self.selection.add(attempt);
        if let Some(chart) = self.chart.as_mut() {
            chart.add_judged(attempt, judged.flagged, judged.cause.map(|c| c.name()));
        }
        sink(attempt, &judged)
    }

    /// The input ended: decide what is left and compute the findings.
    pub fn finish(mut self, sink: &mut Sink) -> io::Result<Finished> {
        self.tracker.finish();
        // One attempt at a time: every attempt still pending is decided now, and holding
        // them all before judging them would cost their whole queue again (issue 14).
        while let Some(end) = self.tracker.pop_ended() {
            self.detector.add_end(&end);
        }
        while let Some(attempt) = self.tracker.pop_decided() {
            self.held.push_back(attempt);
            self.release(true, sink)?;
        }
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
    analyze_on(options, 1, names, captures, sink)
}

/// [`analyze`] on `threads` threads: with 2, reading and decoding run on a thread of their
/// own (src/app/stages.rs), with the same output byte for byte; with 3, tracking and
/// detection move to a third thread and `sink` is called on this one, in the same order (for
/// a sink that does real work: the JSON, NDJSON and CSV writers); 1 is the loop below.
pub fn analyze_on(
    options: &Options,
    threads: usize,
    names: Vec<String>,
    captures: Vec<Capture>,
    sink: &mut Sink,
) -> Result<Analysis> {
    let progress = progress::Progress::with(&options.progress, &captures);
    let pipeline = Pipeline::new(options);
    let (files, mut progress, done) = if threads >= 3 {
        stages::sink_apart(&names, captures, progress, pipeline, sink)?
    } else {
        read_and_finish(threads, &names, captures, progress, pipeline, sink)?
    };
    progress.finish();

    let infos: Vec<FileInfo> = files.iter().map(|c| c.info.clone()).collect();
    let mut warnings = warnings(&names, &infos);
    warnings.extend(track_warnings(&names, &done.track));
    warnings.extend(words::detect_warnings(&done.findings, &done.dropped));
    if options.warn {
        for w in &warnings {
            say(&format!("warning: {w}"));
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

/// Reads every item into `pipeline` (on `threads` threads: 1 or 2), then decides what is
/// left: the analysis up to its findings.
fn read_and_finish(
    threads: usize,
    names: &[String],
    captures: Vec<Capture>,
    mut progress: progress::Progress,
    mut pipeline: Pipeline,
    sink: &mut Sink,
) -> Result<(Vec<Capture>, progress::Progress, Finished)> {
    let files = if threads >= 2 {
        let (files, rest) = stages::run(names, captures, progress, &mut pipeline, sink)?;
        progress = rest;
        files
    } else {
        // Read in batches as stage 1 does (one loop that decodes into memory that stays in
        // the cache), then analyse them: the items before a read error are analysed first.
        let mut merger = Merger::new(captures);
        let mut batch = Vec::with_capacity(stages::BATCH);
        loop {
            batch.clear();
            let filled = merger.fill(&mut batch, stages::BATCH);
            for item in &batch {
                pipeline.feed(item, sink)?;
                if pipeline.frames.is_multiple_of(stages::PROGRESS_EVERY) {
                    progress.update(&merger.files);
                }
            }
            let ended = filled.map_err(|(i, e)| anyhow::Error::new(e).context(names[i].clone()))?;
            if ended {
                break;
            }
        }
        merger.files
    };
    // A capture written by --write records the original capture's span (isb_endtime): that
    // capture went on until then, so its attempts are judged against that end (issue 11).
    if let Some(end) = declared_end(files.iter().map(|c| &c.info)) {
        pipeline.advance(end, sink)?;
    }
    let done = pipeline.finish(sink)?;
    Ok((files, progress, done))
}

/// Colour for standard output, by `--color` (issue 11).
pub fn colour_wanted(choice: ColorChoice) -> bool {
    colour_rule(
        choice,
        io::stdout().is_terminal(),
        std::env::var_os("TERM").as_deref(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// `always` and `never` are what they say; `auto` colours a terminal, unless NO_COLOR is set
/// to anything non-empty (no-color.org) or TERM is `dumb` (a terminal that shows escape
/// sequences as text).
pub fn colour_rule(
    choice: ColorChoice,
    terminal: bool,
    term: Option<&std::ffi::OsStr>,
    no_color: Option<&std::ffi::OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
        }
    }
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

/// The latest end of capture that the files declare (pcapng isb_endtime), if any.
fn declared_end<'a>(infos: impl Iterator<Item = &'a FileInfo>) -> Option<Ts> {
    infos.filter_map(|i| i.declared_end).max()
}
