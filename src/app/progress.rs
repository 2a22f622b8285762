//! Progress on standard error, only when it is a terminal that can redraw a line (not
//! TERM=dumb) and not with -q: CI logs and pipes stay clean. One line, cleared when done:
//! - one analysis: the file name, frames read, frames/s, and for uncompressed files bytes
//!   and the time left;
//! - `--each`: one line for the batch, files done / total and frames/s over all files (the
//!   per-file analyses only count their frames into it).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::capture::Capture;
use crate::cli::Cli;
use crate::report::thousands;

/// Frames of the files still being read in an `--each` batch, and of the files done.
static BATCH_LIVE: AtomicU64 = AtomicU64::new(0);
static BATCH_DONE: AtomicU64 = AtomicU64::new(0);

/// Whether progress may be drawn: stderr is a terminal that can redraw a line.
fn wanted(cli: &Cli) -> bool {
    !cli.quiet
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// `1.2 M frames/s`: a rate for people.
pub fn rate(frames: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 0.05 {
        return "- frames/s".into();
    }
    let per_sec = frames as f64 / secs;
    if per_sec >= 1e6 {
        format!("{:.1} M frames/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.0} k frames/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0} frames/s")
    }
}

/// The name shown for the input: the argument when one file is read, else `N files`.
fn label(cli: &Cli, files: usize) -> String {
    let name = match (cli.captures.as_slice(), files) {
        ([one], 1) => one.display().to_string(),
        (_, n) => format!("{n} files"),
    };
    let n = name.chars().count();
    if n > 30 {
        let tail: String = name.chars().skip(n - 29).collect();
        format!("…{tail}")
    } else {
        name
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    frames: Arc<AtomicU64>,
    /// In an `--each` batch: frames counted into BATCH_LIVE so far.
    batch: Option<u64>,
}

impl Progress {
    pub fn new(cli: &Cli, captures: &[Capture]) -> Progress {
        let frames = Arc::new(AtomicU64::new(0));
        if cli.each {
            return Progress {
                bar: None,
                frames,
                batch: Some(0),
            };
        }
        if !wanted(cli) {
            return Progress {
                bar: None,
                frames,
                batch: None,
            };
        }
        let counted = Arc::clone(&frames);
        let frames_key = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let n = counted.load(Ordering::Relaxed);
            let _ = write!(w, "{} frames, {}", thousands(n), rate(n, state.elapsed()));
        };
        // The total is known for uncompressed files; compressed input shows bytes read.
        // (A FIFO or device has size 0: shown like compressed input.)
        let total: Option<u64> = captures
            .iter()
            .map(|c| c.size_hint())
            .sum::<Option<u64>>()
            .filter(|t| *t > 0);
        let template = match total {
            Some(_) => "{prefix} {wide_bar} {frames}, {percent}%, {eta} left",
            None => "{prefix} {spinner} {frames}, {bytes} read",
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("frames", frames_key);
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        }
        .with_style(style)
        .with_prefix(label(cli, captures.len()));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar: Some(bar),
            frames,
            batch: None,
        }
    }

    pub fn update(&mut self, captures: &[Capture]) {
        let frames: u64 = captures.iter().map(|c| c.info.frames).sum();
        if let Some(counted) = self.batch.as_mut() {
            BATCH_LIVE.fetch_add(frames.saturating_sub(*counted), Ordering::Relaxed);
            *counted = frames.max(*counted);
        }
        if let Some(bar) = &self.bar {
            self.frames.store(frames, Ordering::Relaxed);
            bar.set_position(captures.iter().map(Capture::position).sum());
        }
    }

    /// Clears the line: nothing is left above the report.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
        // The file's frames move from the live count to the done count (batch_frames_done),
        // also when its analysis stopped on an error.
        if let Some(counted) = self.batch.take() {
            let _ = BATCH_LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(counted))
            });
        }
    }
}

/// An `--each` file is done: its frames count in the batch's total.
pub fn batch_frames_done(frames: u64) {
    BATCH_DONE.fetch_add(frames, Ordering::Relaxed);
}

/// The batch's progress line.
pub struct Batch {
    bar: Option<ProgressBar>,
}

impl Batch {
    pub fn new(cli: &Cli, files: u64) -> Batch {
        BATCH_LIVE.store(0, Ordering::Relaxed);
        BATCH_DONE.store(0, Ordering::Relaxed);
        if !wanted(cli) {
            return Batch { bar: None };
        }
        let frames_key = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let n = BATCH_LIVE.load(Ordering::Relaxed) + BATCH_DONE.load(Ordering::Relaxed);
            let _ = write!(w, "{} frames, {}", thousands(n), rate(n, state.elapsed()));
        };
        let style = ProgressStyle::with_template("{wide_bar} {pos}/{len} files, {frames}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("frames", frames_key);
        let bar = ProgressBar::new(files).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Batch { bar: Some(bar) }
    }

    pub fn file_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_for_people() {
        assert_eq!(rate(4_400_000, Duration::from_secs(2)), "2.2 M frames/s");
        assert_eq!(rate(90_000, Duration::from_secs(1)), "90 k frames/s");
        assert_eq!(rate(12, Duration::from_secs(1)), "12 frames/s");
        assert_eq!(rate(12, Duration::from_millis(1)), "- frames/s");
    }

    #[test]
    fn the_label_is_the_file_or_a_count() {
        use clap::Parser;
        let cli = Cli::parse_from(["portreuse", "trace.pcap"]);
        assert_eq!(label(&cli, 1), "trace.pcap");
        let cli = Cli::parse_from(["portreuse", "a.pcap", "b.pcap"]);
        assert_eq!(label(&cli, 2), "2 files");
        let long = format!("{}/trace.pcap", "d".repeat(60));
        let cli = Cli::parse_from(["portreuse", &long]);
        assert!(label(&cli, 1).ends_with("dd/trace.pcap"));
        assert_eq!(label(&cli, 1).chars().count(), 30);
    }
}
