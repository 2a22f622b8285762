//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! detect as the attempts are decided (and stream them out), then render; or, with --each,
//! analyse every capture on its own in parallel.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;
use output::OutputFile;
use walk::Entry;

use crate::budget::Budgets;
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, ColorChoice, Command, Format, TimeFormat};
use crate::export::{Selection, WriteError};
use crate::filter::Filter;
use crate::merge::Merger;
use crate::report::charts::ChartBuilder;
use crate::report::json::FileNames;
use crate::report::stream::Stream;
use crate::report::{self, FileMeta, RenderOptions, Report, TimeStyle, count, thousands, words};
use crate::time::Ts;

mod each;
mod man;
pub mod output;
mod pipeline;
mod progress;
mod stages;

pub use pipeline::{Event, EventRef, Events, Judge, Pipeline, Sink, Tracked, Verdicts};
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
    let threads = stages::threads_for(cli.threads, &paths);
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
/// own (src/app/stages.rs), with the same output byte for byte; with 3, tracking moves to a
/// third thread, and the judging and `sink` run on this one, in the same order; 1 is the
/// loop below.
pub fn analyze_on(
    options: &Options,
    threads: usize,
    names: Vec<String>,
    captures: Vec<Capture>,
    sink: &mut Sink,
) -> Result<Analysis> {
    let progress = progress::Progress::with(&options.progress, &captures);
    let pipeline = Pipeline::new(options);
    let mut judge = Judge::new(options);
    let (files, mut progress, done) = if threads >= 3 {
        stages::judge_apart(&names, captures, progress, pipeline, &mut judge, sink)?
    } else {
        read_and_finish(
            threads,
            &names,
            captures,
            progress,
            pipeline,
            &mut |event| judge.take(event, sink),
        )?
    };
    let verdicts = judge.finish();
    progress.finish();

    let infos: Vec<FileInfo> = files.iter().map(|c| c.info.clone()).collect();
    let mut warnings = warnings(&names, &infos);
    warnings.extend(track_warnings(&names, &done.track));
    warnings.extend(words::detect_warnings(&verdicts.findings, &done.dropped));
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
        findings: verdicts.findings,
        first_ts: done.first_ts,
        last_ts: done.last_ts,
        warnings,
        render: RenderOptions::default(),
        display_filter: verdicts.selection.display_filter(),
        filter_tuples: verdicts.selection.len(),
    };
    Ok(Analysis {
        report,
        chart: verdicts.chart,
        selection: verdicts.selection,
    })
}

/// Reads every item into `pipeline` (on `threads` threads: 1 or 2), then decides what is
/// left; every event goes to `out`.
fn read_and_finish(
    threads: usize,
    names: &[String],
    captures: Vec<Capture>,
    mut progress: progress::Progress,
    mut pipeline: Pipeline,
    out: &mut Events,
) -> Result<(Vec<Capture>, progress::Progress, Tracked)> {
    let files = if threads >= 2 {
        let (files, rest) = stages::run(names, captures, progress, &mut pipeline, out)?;
        progress = rest;
        files
    } else {
        // Read in batches as stage 1 does (one loop that decodes into memory that stays in
        // the cache), then analyse them: the items before a read error are analysed first.
        let mut merger = Merger::new(captures, pipeline.new_fingerprints());
        let mut batch = Vec::with_capacity(stages::BATCH);
        loop {
            batch.clear();
            let filled = merger.fill(&mut batch, stages::BATCH);
            for item in &batch {
                pipeline.feed(item, out)?;
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
        pipeline.advance(end, out)?;
    }
    let done = pipeline.finish(out)?;
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
