//! A progress bar on standard error while big inputs are read, only when standard error is a
//! terminal (and not with -q): CI logs and pipes stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::capture::Capture;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress bar if `wanted` and standard error is a terminal.
    pub fn when(wanted: bool, captures: &[Capture]) -> Progress {
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        // The total is known for uncompressed files; compressed input shows a byte counter.
        let total: Option<u64> = captures.iter().map(|c| c.size_hint()).sum();
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    pub fn update(&mut self, captures: &[Capture]) {
        if let Some(bar) = &self.bar {
            bar.set_position(captures.iter().map(Capture::position).sum());
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
