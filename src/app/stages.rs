//! Both cores for one capture (issue 12): stage 1, on a thread of its own, reads, decodes and
//! merges the files; stage 2, on the calling thread, tracks, detects and hands the decided
//! attempts to the sink. Decoded items (owned, `Copy` data: nothing borrows the reader's
//! buffer) travel in fixed-size batches through a bounded channel; emptied batches come back
//! through a second channel, so that the steady state allocates nothing. Stage 2 feeds the
//! items in the order stage 1 made them, so the output is the single-threaded run's, byte
//! for byte, and a read error surfaces after every item before it, as it does there.
//!
//! `--write` needs no frame bytes here: it reads the captures a second time after the
//! analysis, so it works with either setting.

use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context as _, Result};

use super::progress::Progress;
use super::{Finished, Pipeline, Sink};
use crate::attempt::Attempt;
use crate::capture::Capture;
use crate::cli::Threads;
use crate::detect::Judged;
use crate::merge::{FileError, Item, Merger};

/// Items per batch: 4,096 × 112 B (448 KiB) stays in a core's L2 cache; a quarter of that
/// size woke the reading thread four times as often, 7 % of the run on the 1 M NAT capture.
pub const BATCH: usize = 4096;

/// Batches in flight: one being filled, the others queued or being analysed.
const BUFFERS: usize = 4;

/// Decided attempts per batch handed to the calling thread's sink ([`sink_apart`]).
const ATTEMPTS: usize = 256;

/// Frames between two updates of the progress line.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Up to this many bytes of input a second thread is not worth starting (by default): a few
/// milliseconds of work, where the threads' start and hand-over weigh as much as the overlap
/// can save.
pub const THREADS_FROM_BYTES: u64 = 4 << 20;

/// The threads for one analysis: `--threads N` if given; for `auto`, 2 when the machine has
/// two cores or more and the captures hold more than [`THREADS_FROM_BYTES`] on disk (or
/// their size is unknown: standard input, a pipe), else 1.
pub fn threads_for(choice: Threads, paths: &[PathBuf]) -> usize {
    if let Threads::Fixed(n) = choice {
        return usize::from(n.max(1));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return 1;
    }
    let mut bytes = 0u64;
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => bytes = bytes.saturating_add(m.len()),
            _ => return 2,
        }
    }
    if bytes > THREADS_FROM_BYTES { 2 } else { 1 }
}

/// What stage 1 hands on: a batch of items in merge order, or the read error that ended it.
type Message = Result<Vec<Item>, FileError>;

/// Runs both stages over `captures`, feeding `pipeline`; gives back the captures (their
/// `info` now complete) and the progress line, as the single-threaded loop leaves them.
pub(super) fn run(
    names: &[String],
    captures: Vec<Capture>,
    progress: Progress,
    pipeline: &mut Pipeline,
    sink: &mut Sink,
) -> Result<(Vec<Capture>, Progress)> {
    let (full_tx, full_rx) = sync_channel::<Message>(BUFFERS + 1);
    let (free_tx, free_rx) = sync_channel::<Vec<Item>>(BUFFERS);
    for _ in 0..BUFFERS {
        // The channel holds BUFFERS: these never block or fail.
        let _ = free_tx.send(Vec::with_capacity(BATCH));
    }
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("portreuse-read".into())
            .spawn_scoped(scope, move || read(captures, progress, full_tx, free_rx))
            .context("starting the reading thread (--threads 1 reads on one thread)")?;
        // Stage 2 owns its ends of both channels: when it stops early (an error writing the
        // output), they close and stage 1 stops at its next batch.
        let fed = feed(names, full_rx, free_tx, pipeline, sink);
        let done = match reader.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        fed.map(|()| done)
    })
}

/// Stage 1: merge and decode into batches until the input ends, a file fails to read, or
/// stage 2 has gone.
fn read(
    captures: Vec<Capture>,
    mut progress: Progress,
    full: SyncSender<Message>,
    free: Receiver<Vec<Item>>,
) -> (Vec<Capture>, Progress) {
    let mut merger = Merger::new(captures);
    let mut frames = 0u64;
    while let Ok(mut batch) = free.recv() {
        batch.clear();
        let filled = merger.fill(&mut batch, BATCH);
        let before = frames;
        frames += batch.len() as u64;
        if frames / PROGRESS_EVERY != before / PROGRESS_EVERY {
            progress.update(&merger.files);
        }
        let (ended, failed) = match filled {
            Ok(ended) => (ended, None),
            Err(e) => (true, Some(e)),
        };
        if !batch.is_empty() && full.send(Ok(batch)).is_err() {
            break;
        }
        if let Some(e) = failed {
            let _ = full.send(Err(e));
            break;
        }
        if ended {
            break;
        }
    }
    (merger.files, progress)
}

/// Stage 2: every batch into the pipeline, in order; the batch goes back to stage 1.
fn feed(
    names: &[String],
    full: Receiver<Message>,
    free: SyncSender<Vec<Item>>,
    pipeline: &mut Pipeline,
    sink: &mut Sink,
) -> Result<()> {
    for message in full {
        let batch = message.map_err(|(i, e)| anyhow::Error::new(e).context(names[i].clone()))?;
        for item in &batch {
            pipeline.feed(item, sink)?;
        }
        // Stage 1 may have finished and gone: then the batch is simply dropped.
        let _ = free.send(batch);
    }
    Ok(())
}

/// A decided attempt and what the detector judged of it, on its way to the sink.
type Decided = (Attempt, Judged);

/// The run of [`run`], and then the end of the analysis, on a thread of their own (which
/// starts stage 1's), while this thread hands the decided attempts to `sink` in their order:
/// formatting the output (JSON, NDJSON, CSV) is then off the tracking thread, which sets the
/// pace. The attempts travel in batches of [`ATTEMPTS`], the emptied batches come back.
///
/// An error of the sink stops the analysis (its channels close) and is the error returned;
/// a read error comes after every attempt decided before it, as on one thread.
pub(super) fn sink_apart(
    names: &[String],
    captures: Vec<Capture>,
    progress: Progress,
    pipeline: Pipeline,
    sink: &mut Sink,
) -> Result<(Vec<Capture>, Progress, Finished)> {
    let (out_tx, out_rx) = sync_channel::<Vec<Decided>>(BUFFERS);
    let (back_tx, back_rx) = sync_channel::<Vec<Decided>>(BUFFERS);
    for _ in 0..BUFFERS {
        // The channel holds BUFFERS: these never block or fail.
        let _ = back_tx.send(Vec::with_capacity(ATTEMPTS));
    }
    std::thread::scope(|scope| {
        let analyser = std::thread::Builder::new()
            .name("portreuse-track".into())
            .spawn_scoped(scope, move || {
                let gone = || io::Error::other("the output stopped");
                let mut pending: Vec<Decided> = Vec::with_capacity(ATTEMPTS);
                let mut ship = |a: &Attempt, j: &Judged| -> io::Result<()> {
                    pending.push((*a, *j));
                    if pending.len() >= ATTEMPTS {
                        let next = back_rx.recv().map_err(|_| gone())?;
                        let full = std::mem::replace(&mut pending, next);
                        out_tx.send(full).map_err(|_| gone())?;
                    }
                    Ok(())
                };
                let result =
                    super::read_and_finish(2, names, captures, progress, pipeline, &mut ship);
                // What was decided before an error goes out too.
                if !pending.is_empty() {
                    let _ = out_tx.send(pending);
                }
                result
            })
            .context("starting the tracking thread (--threads 1 analyses on one thread)")?;
        let mut failed = None;
        for mut batch in out_rx.iter() {
            for (a, j) in &batch {
                if let Err(e) = sink(a, j) {
                    failed = Some(e);
                    break;
                }
            }
            if failed.is_some() {
                break;
            }
            batch.clear();
            let _ = back_tx.send(batch);
        }
        // Closing both ends stops the tracking thread at its next batch.
        drop(out_rx);
        drop(back_tx);
        let result = match analyser.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failed {
            Some(e) => Err(e.into()),
            None => result,
        }
    })
}
