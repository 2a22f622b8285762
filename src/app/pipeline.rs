//! The stages after reading, fed one decoded frame at a time. Two parts joined by a stream of
//! [`Event`]s in order:
//! - [`Pipeline`] tracks: the tracker, and the early attempts held for the evidence of later
//!   packets. It hands on the ended connections and the decided attempts, each attempt with
//!   the [`Context`] the tracker had seen when it let it go.
//! - [`Judge`] judges: the detector, the `--write` selection, the charts, and the sink.
//!
//! The events carry everything the judging reads, so the two parts can run on one thread or
//! on two (src/app/stages.rs) with the same output, byte for byte. A shard of a capture (or
//! any stream of items) can be analysed with them on its own.

use std::collections::VecDeque;
use std::io;

use crate::FxIndexMap;
use crate::attempt::Attempt;
use crate::budget::Dropped;
use crate::decode::{Decoded, Skip};
use crate::detect::{self, Context, Detector, Findings, Judged};
use crate::export::Selection;
use crate::merge::Item;
use crate::report::charts::ChartBuilder;
use crate::time::Ts;
use crate::track::dedup::Fingerprints;
use crate::track::{Config, ConnEnd, TrackStats, Tracker};

use super::Options;

/// How long after its first SYN an early attempt that nothing explains yet may wait for the
/// evidence that would explain it, beyond the window: the tracker decides an unanswered
/// attempt 130 s after its last SYN, before later reuses can show that its source reuses
/// ports into that server's TIME_WAIT.
const HOLD_BEYOND_WINDOW_NS: i64 = 130 * 1_000_000_000;

/// Where each decided attempt goes, with what the detector judged of it.
pub type Sink<'a> = dyn FnMut(&Attempt, &Judged) -> io::Result<()> + 'a;

/// What the tracking hands the judging, in the order it happened, as it travels between
/// threads. An ended connection takes the room of an attempt: the events travel in batches
/// that are reused, where boxing the attempts would allocate once per attempt.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A connection ended (for relays).
    Ended(ConnEnd),
    /// A decided attempt, and what the tracker had seen of its hosts when it let it go.
    Decided(Attempt, Context),
}

/// An event as the tracking hands it on, borrowed: on one thread the judging reads it where
/// it lies (a flood's million attempts are not copied once more for it).
#[derive(Clone, Copy, Debug)]
pub enum EventRef<'e> {
    Ended(&'e ConnEnd),
    Decided(&'e Attempt, Context),
}

impl EventRef<'_> {
    pub fn to_owned(self) -> Event {
        match self {
            EventRef::Ended(end) => Event::Ended(*end),
            EventRef::Decided(attempt, cx) => Event::Decided(*attempt, cx),
        }
    }
}

impl Event {
    pub fn as_ref(&self) -> EventRef<'_> {
        match self {
            Event::Ended(end) => EventRef::Ended(end),
            Event::Decided(attempt, cx) => EventRef::Decided(attempt, *cx),
        }
    }
}

/// Where the tracking hands its events.
pub type Events<'a> = dyn FnMut(EventRef) -> io::Result<()> + 'a;

/// The tracking part: fed every item, hands on events.
pub struct Pipeline {
    tracker: Tracker,
    window_ns: i64,
    /// Decided attempts waiting for evidence (and the ones behind them, to keep the order).
    held: VecDeque<Attempt>,
    hold_cap: usize,
    /// The front of `held` was found waiting (`waits`): it goes on waiting while the
    /// tracker's evidence stays as it was then (`Seen::context_version`) and the capture has
    /// not reached its deadline. Found once, not after every frame (issue 12: `waits` judges
    /// the attempt, and on the NAT capture something was held for the first 370 s).
    front_waits: Option<(usize, Ts)>,
    pub frames: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub skipped: FxIndexMap<Skip, u64>,
}

/// What the tracking leaves when the input ends.
pub struct Tracked {
    pub track: TrackStats,
    pub dropped: Dropped,
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
            window_ns: o.window_ns,
            held: VecDeque::new(),
            hold_cap: (o.budgets.pending / 8).max(1024),
            front_waits: None,
            frames: 0,
            first_ts: None,
            last_ts: None,
            skipped: FxIndexMap::default(),
        }
    }

    /// A new table with which the reading stage judges SYNs (`Merger::new`).
    pub fn new_fingerprints(&self) -> Fingerprints {
        self.tracker.new_fingerprints()
    }

    /// One decoded frame.
    pub fn feed(&mut self, item: &Item, out: &mut Events) -> io::Result<()> {
        self.frames += 1;
        self.first_ts = Some(self.first_ts.map_or(item.ts, |t| t.min(item.ts)));
        self.last_ts = Some(self.last_ts.map_or(item.ts, |t| t.max(item.ts)));
        match item.decoded {
            Ok(Decoded::Segment(segment)) => match item.hint {
                Some(hint) => self.tracker.on_read_segment(&segment, hint, item.exact),
                None => self.tracker.on_segment(&segment),
            },
            Ok(Decoded::Icmp(error)) => self.tracker.on_icmp(&error),
            Err(skip) => {
                self.tracker.advance(item.ts);
                *self.skipped.entry(skip).or_insert(0u64) += 1;
            }
        }
        self.drain(out)
    }

    /// A frame of the capture that belongs to another shard: it only moves the clock, so a
    /// shard's attempts are decided against the whole capture's span (as the whole run's are).
    pub fn advance(&mut self, ts: Ts, out: &mut Events) -> io::Result<()> {
        self.tracker.advance(ts);
        self.drain(out)
    }

    /// Hands on what the tracker decided: ended connections, then decided attempts.
    #[inline]
    fn drain(&mut self, out: &mut Events) -> io::Result<()> {
        while let Some(end) = self.tracker.pop_ended() {
            out(EventRef::Ended(&end))?;
        }
        while self.tracker.decide_next() {
            let Some(attempt) = self.tracker.decided() else {
                break;
            };
            // With nothing held, an attempt that need not wait goes on at once (as `release`
            // would take it: the same order and context), read where it lies in the queue,
            // without copies through the ring (issue 12: a flood's million attempts).
            let sent = if self.held.is_empty() && !self.waits(attempt) {
                out(EventRef::Decided(attempt, self.context(attempt)))
            } else {
                self.held.push_back(*attempt);
                Ok(())
            };
            self.tracker.drop_decided();
            sent?;
        }
        if self.held.is_empty() {
            // As after most frames: nothing to release, and the ring's room went back when
            // it emptied.
            return Ok(());
        }
        self.release(false, out)
    }

    fn context(&self, a: &Attempt) -> Context {
        Context::of(a, self.tracker.seen(), self.window_ns)
    }

    /// An attempt early in the capture, on a 4-tuple with no connection in it, that failed
    /// with nothing to explain it yet (no answer, or a RST from a port that accepted nothing
    /// so far) waits for the evidence of later packets (issue 10's
    /// `time_wait_before_capture`, `port_closed`), up to the window plus the tracker's
    /// settling time. Attempts behind it wait too, so the output keeps the first-SYN order.
    fn waits(&self, a: &Attempt) -> bool {
        self.waits_until(a).is_some()
    }

    /// If `a` waits: until when at most (the capture reaching that time ends the wait; so
    /// may new evidence).
    fn waits_until(&self, a: &Attempt) -> Option<Ts> {
        let start = self.tracker.seen().capture_start()?;
        if a.reuse.is_some() || a.ts.since(start) >= self.window_ns {
            return None;
        }
        let deadline =
            a.ts.add_nanos(self.window_ns.saturating_add(HOLD_BEYOND_WINDOW_NS));
        let waits = self.tracker.end_ts() < deadline
            && matches!(
                detect::cause::cause(a, &self.context(a)),
                Some(detect::Cause::NoAnswer | detect::Cause::PortClosed)
            );
        waits.then_some(deadline)
    }

    /// `waits` for the front of the ring, from what was found the last time if nothing it
    /// depends on has changed since.
    fn front_waits(&mut self) -> bool {
        let version = self.tracker.seen().context_version();
        if let Some((seen, deadline)) = self.front_waits
            && seen == version
            && self.tracker.end_ts() < deadline
        {
            return true;
        }
        self.front_waits = self
            .held
            .front()
            .and_then(|front| self.waits_until(front))
            .map(|deadline| (version, deadline));
        self.front_waits.is_some()
    }

    /// Hands on the held attempts that need not wait (all of them with `all`), each with what
    /// the tracker has seen now, from where it lies in the ring.
    fn release(&mut self, all: bool, out: &mut Events) -> io::Result<()> {
        while !self.held.is_empty() {
            if !all && self.held.len() <= self.hold_cap && self.front_waits() {
                break;
            }
            let Some(front) = self.held.front() else {
                break;
            };
            out(EventRef::Decided(front, self.context(front)))?;
            self.held.pop_front();
            self.front_waits = None;
        }
        // Attempts are held early in the capture only: the ring's room goes back once they
        // have left (issue 14: 6 MiB kept for the rest of a 34 k-host capture).
        if self.held.capacity() > 4096 && self.held.len() < self.held.capacity() / 8 {
            self.held.shrink_to(self.held.len() * 2);
        }
        Ok(())
    }

    /// The input ended: decide what is left.
    pub fn finish(mut self, out: &mut Events) -> io::Result<Tracked> {
        self.tracker.finish();
        // One attempt at a time: every attempt still pending is decided now, and holding
        // them all before judging them would cost their whole queue again (issue 14).
        while let Some(end) = self.tracker.pop_ended() {
            out(EventRef::Ended(&end))?;
        }
        // What is held goes first; then every attempt as it is decided, where it lies.
        self.release(true, out)?;
        while self.tracker.decide_next() {
            let Some(attempt) = self.tracker.decided() else {
                break;
            };
            let sent = out(EventRef::Decided(attempt, self.context(attempt)));
            self.tracker.drop_decided();
            sent?;
        }
        Ok(Tracked {
            track: *self.tracker.stats(),
            dropped: self.tracker.dropped(),
            frames: self.frames,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            skipped: self.skipped,
        })
    }
}

/// The judging part: fed the tracking's events in order, calls the sink for every attempt.
pub struct Judge {
    detector: Detector,
    selection: Selection,
    chart: Option<ChartBuilder>,
}

/// What the judging leaves when the events end.
pub struct Verdicts {
    pub findings: Findings,
    pub selection: Selection,
    pub chart: Option<ChartBuilder>,
}

impl Judge {
    pub fn new(o: &Options) -> Judge {
        Judge {
            detector: Detector::new(&detect::Config {
                window_ns: o.window_ns,
                budgets: o.budgets,
                flagged_rows: o.keep.flagged_rows,
            }),
            selection: Selection::new(o.keep.write_ranges),
            chart: o.keep.chart.then(|| ChartBuilder::new(o.window_ns)),
        }
    }

    /// One event: an ended connection goes to the detector; a decided attempt is judged
    /// and goes to the findings, the `--write` selection, the charts and `sink`.
    pub fn take(&mut self, event: EventRef, sink: &mut Sink) -> io::Result<()> {
        match event {
            EventRef::Ended(end) => {
                self.detector.add_end(end);
                Ok(())
            }
            EventRef::Decided(attempt, cx) => {
                let judged = self.detector.add(attempt, &cx);
                self.selection.add(attempt);
                if let Some(chart) = self.chart.as_mut() {
                    chart.add_judged(attempt, judged.flagged, judged.cause.map(|c| c.name()));
                }
                sink(attempt, &judged)
            }
        }
    }

    /// The events ended: compute the findings.
    pub fn finish(self) -> Verdicts {
        Verdicts {
            findings: self.detector.finish(),
            selection: self.selection,
            chart: self.chart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_the_size_the_batches_are_sized_for() {
        assert!(
            std::mem::size_of::<Event>() <= 448,
            "{}",
            std::mem::size_of::<Event>()
        );
        assert!(
            std::mem::size_of::<Event>() > 400,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
