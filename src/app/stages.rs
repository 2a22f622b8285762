//! Both cores for one capture (issue 12), in up to three stages:
//! 1. on a thread of its own, read, decode and merge the files;
//! 2. track (src/app/pipeline.rs's `Pipeline`);
//! 3. judge and hand the decided attempts to the sink (`Judge`), on the calling thread.
//!
//! With two threads ([`run`]), stages 2 and 3 share the calling thread; with three
//! ([`judge_apart`]), stage 2 gets a thread of its own. Decoded items (owned, `Copy` data:
//! nothing borrows the reader's buffer) and the tracking's events travel in fixed-size
//! batches through bounded channels; emptied batches come back through a second channel
//! each, so that the steady state allocates nothing. Every stage takes its input in the order
//! the one before made it, so the output is the single-threaded run's, byte for byte, and a
//! read error surfaces after every item before it, as it does there.
//!
//! `--write` needs no frame bytes here: it reads the captures a second time after the
//! analysis, so it works with either setting.

use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context as _, Result};

use super::progress::Progress;
use super::{Event, EventRef, Events, Judge, Pipeline, Sink, Tracked};
use crate::capture::Capture;
use crate::cli::Threads;
use crate::merge::{FileError, Item, Merger};

/// Items per batch: 4,096 × 136 B (544 KiB) stays in a core's 1 MiB L2 cache; a quarter of that
/// size woke the reading thread four times as often, 7 % of the run on the 1 M NAT capture.
pub const BATCH: usize = 4096;

/// Batches in flight: one being filled, the others queued or being analysed.
const BUFFERS: usize = 4;

/// Events per batch handed from the tracking thread to the judging one ([`judge_apart`]):
/// 256 × 448 B. Batches of 1,024 took 1.3 MiB more at the peak of the 34 k-host capture,
/// close to its 64 MiB goal (issue 14), for no gain beyond the noise.
const EVENTS: usize = 256;

/// Frames between two updates of the progress line.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Up to this many bytes of input a second thread is not worth starting (by default): a few
/// milliseconds of work, where the threads' start and hand-over weigh as much as the overlap
/// can save.
pub const THREADS_FROM_BYTES: u64 = 4 << 20;

/// The threads for one analysis: `--threads N` if given; for `auto`, 3 when the machine has
/// two cores or more and the captures hold more than [`THREADS_FROM_BYTES`] on disk (or
/// their size is unknown: standard input, a pipe), else 1. Three stages on two cores beat
/// two: the tracking sets the pace, and the reading and the judging share the other core
/// (on the 1 M-SYN flood 0.86 of the two-thread run, on 34 k hosts 0.87, on the NAT 0.91).
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
            _ => return 3,
        }
    }
    if bytes > THREADS_FROM_BYTES { 3 } else { 1 }
}

/// The channel that brings emptied batches back, holding [`BUFFERS`] empty batches of
/// `capacity` to begin with: the steady state allocates nothing.
fn recycling<T>(capacity: usize) -> (SyncSender<Vec<T>>, Receiver<Vec<T>>) {
    let (tx, rx) = sync_channel::<Vec<T>>(BUFFERS);
    for _ in 0..BUFFERS {
        // The channel holds BUFFERS: these never block or fail.
        let _ = tx.send(Vec::with_capacity(capacity));
    }
    (tx, rx)
}

/// What stage 1 hands on: a batch of items in merge order, or the read error that ended it.
type Message = Result<Vec<Item>, FileError>;

/// Runs stage 1 on a thread of its own over `captures`, feeding `pipeline` on this one, which
/// hands its events to `out`; gives back the captures (their `info` now complete) and the
/// progress line, as the single-threaded loop leaves them.
pub(super) fn run(
    names: &[String],
    captures: Vec<Capture>,
    progress: Progress,
    pipeline: &mut Pipeline,
    out: &mut Events,
) -> Result<(Vec<Capture>, Progress)> {
    let (full_tx, full_rx) = sync_channel::<Message>(BUFFERS + 1);
    let (free_tx, free_rx) = recycling::<Item>(BATCH);
    let merger = Merger::new(captures, pipeline.new_fingerprints());
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("portreuse-read".into())
            .spawn_scoped(scope, move || read(merger, progress, full_tx, free_rx))
            .context("starting the reading thread (--threads 1 reads on one thread)")?;
        // Stage 2 owns its ends of both channels: when it stops early (an error writing the
        // output), they close and stage 1 stops at its next batch.
        let fed = feed(names, full_rx, free_tx, pipeline, out);
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
    mut merger: Merger,
    mut progress: Progress,
    full: SyncSender<Message>,
    free: Receiver<Vec<Item>>,
) -> (Vec<Capture>, Progress) {
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
    out: &mut Events,
) -> Result<()> {
    for message in full {
        let batch = message.map_err(|(i, e)| anyhow::Error::new(e).context(names[i].clone()))?;
        for item in &batch {
            pipeline.feed(item, out)?;
        }
        // Stage 1 may have finished and gone: then the batch is simply dropped.
        let _ = free.send(batch);
    }
    Ok(())
}

/// The run of [`run`], and then the end of the tracking, on a thread of their own (which
/// starts stage 1's), while this thread judges their events in their order and hands the
/// attempts to `sink`: the detector and the output's formatting (JSON, NDJSON, CSV) are then
/// off the tracking thread, which sets the pace. The events travel in batches of
/// [`EVENTS`], the emptied batches come back.
///
/// An error of the sink stops the analysis (its channels close) and is the error returned;
/// a read error comes after every attempt decided before it, as on one thread.
pub(super) fn judge_apart(
    names: &[String],
    captures: Vec<Capture>,
    progress: Progress,
    pipeline: Pipeline,
    judge: &mut Judge,
    sink: &mut Sink,
) -> Result<(Vec<Capture>, Progress, Tracked)> {
    let (out_tx, out_rx) = sync_channel::<Vec<Event>>(BUFFERS);
    let (back_tx, back_rx) = recycling::<Event>(EVENTS);
    std::thread::scope(|scope| {
        let tracker = std::thread::Builder::new()
            .name("portreuse-track".into())
            .spawn_scoped(scope, move || {
                let gone = || io::Error::other("the output stopped");
                let mut pending: Vec<Event> = Vec::with_capacity(EVENTS);
                let mut ship = |event: EventRef| -> io::Result<()> {
                    pending.push(event.to_owned());
                    if pending.len() >= EVENTS {
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
        'batches: for mut batch in out_rx.iter() {
            for event in &batch {
                if let Err(e) = judge.take(event.as_ref(), sink) {
                    failed = Some(e);
                    break 'batches;
                }
            }
            batch.clear();
            let _ = back_tx.send(batch);
        }
        // Closing both ends stops the tracking thread at its next batch.
        drop(out_rx);
        drop(back_tx);
        let result = match tracker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failed {
            Some(e) => Err(e.into()),
            None => result,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_items_is_the_size_its_comment_gives() {
        assert_eq!(std::mem::size_of::<Item>(), 136);
    }
}
