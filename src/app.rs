//! Wires the stages for the CLI: open every capture, merge them by timestamp, decode, track,
//! fold the decided attempts into the summary (and stream them out), then render; or, with
//! --each, analyse every capture on its own in parallel.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::FxIndexMap;
use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use output::OutputFile;
use walk::Entry;

use crate::attempt::{Attempt, ReuseClass};
use crate::budget::Budgets;
use crate::capture::{self, Capture, FileInfo};
use crate::cli::{Cli, ColorChoice, Command, Format};
use crate::decode::Decoded;
use crate::export::{Selection, WriteError};
use crate::filter::Filter;
use crate::merge::Merger;
use crate::report::json::FileNames;
use crate::report::stream::Stream;
use crate::report::{self, FileMeta, Report, count, thousands};
use crate::summary::Summary;
use crate::time::Ts;
use crate::track::{Config, Tracker};

mod each;
mod man;
pub mod output;
mod progress;
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
        Some(cli.format)
    };
    let mut stream = match format {
        Some(format) => Stream::begin(format, files, out)?,
        None => Stream::Nothing,
    };
    let mut analysis = analyze(cli, names, captures, &mut |a| stream.attempt(out, a))?;
    analysis.report.colour = cli.format == Format::Table && colour_wanted(cli.color);
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
    if let Some(file) = html {
        let name = file.shown.display().to_string();
        if let Some(points) = &analysis.chart {
            let mut w = io::BufWriter::new(file.file());
            report::html::render(report, &points.points, &mut w)
                .and_then(|()| w.flush())
                .with_context(|| format!("writing {name}"))?;
        }
        file.commit()?;
    }
    if let Some(file) = pcapng {
        let name = file.shown.display().to_string();
        let inputs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let span = report.first_ts.zip(report.last_ts);
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
    stream.finish(out, report)?;
    closing(&walk);
    Ok(status)
}

/// Whether a capture can be read a second time (--write): a file, not standard input, a
/// FIFO or a device.
fn rereadable(path: &Path) -> bool {
    path.as_os_str() != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file())
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
        budgets: Budgets::from_bytes(cli.memory.0),
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
