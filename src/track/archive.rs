//! The long reuse memory (issue 9): once a 4-tuple has been idle long enough that its full
//! state is dropped, a compact record of its last connection (when it ended, who holds
//! TIME_WAIT, its frames, the client's last sequence number and TSval) and of its last
//! attempt is kept for a horizon well beyond the window (30 minutes, or twice the window),
//! so that a reuse after the window is still reported with its gap, however long. Bounded:
//! past its budget the oldest record is forgotten, and counted.

use std::collections::VecDeque;

use crate::tcp::{FlowKey, FrameRef, Segment, Seq};
use crate::time::{NANOS_PER_SEC, Ts};

use super::dense::{DenseMap, hash_of};
use super::flow::Past;
use super::side::Side;

/// How long a record is kept at least.
pub const HORIZON_NS: i64 = 30 * 60 * NANOS_PER_SEC;

/// What is kept of a 4-tuple whose full state was dropped.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    /// The last connection that completed its handshake.
    pub past: Past,
    /// The last attempt: its first SYN, its client and its ISN (a SYN with that ISN again is
    /// a late SYN, not a new attempt).
    pub attempt: (FrameRef, Ts),
    pub client: Side,
    pub isn: Seq,
    /// When it was archived (capture time): matches its entry in the eviction order.
    pub archived_at: Ts,
}

pub struct Archive {
    records: DenseMap<FlowKey, Record>,
    /// Keys (their hashes) in the order they were archived, with the time they were (entries
    /// whose record was taken back or replaced since are stale: checked on pop).
    order: VecDeque<(u64, Ts)>,
    capacity: usize,
    horizon_ns: i64,
    /// Records forgotten before their horizon because the budget was full.
    pub dropped: u64,
}

impl Archive {
    pub fn new(capacity: usize, window_ns: i64) -> Archive {
        Archive {
            records: DenseMap::new(capacity.saturating_add(2)),
            order: VecDeque::new(),
            capacity,
            horizon_ns: HORIZON_NS.max(window_ns.saturating_mul(2)),
            dropped: 0,
        }
    }

    /// Keeps `record` for `key`, archived at capture time `now`.
    pub fn put(&mut self, key: FlowKey, record: Record, now: Ts) {
        self.expire(now);
        let hash = hash_of(&key);
        self.records.insert_hashed(
            hash,
            key,
            Record {
                archived_at: now,
                ..record
            },
        );
        self.order.push_back((hash, now));
        while self.records.len() > self.capacity {
            let Some((old, at)) = self.order.pop_front() else {
                break;
            };
            self.dropped += self.records.remove_with_hash(old, |r| r.archived_at == at);
        }
        if self.order.len() > 2 * self.capacity.max(1) {
            let records = &self.records;
            self.order
                .retain(|&(h, at)| records.any_with_hash(h, |r| r.archived_at == at));
        }
    }

    /// Takes the record of `key` back (its 4-tuple is live again), if it is within the horizon.
    pub fn take(&mut self, key: &FlowKey, now: Ts) -> Option<Record> {
        if self.records.is_empty() {
            return None;
        }
        let record = self.records.remove(key)?;
        (now.since(record.past.last_ts) <= self.horizon_ns).then_some(record)
    }

    /// A FIN or RST of an archived connection (it went quiet, then closed): its end moves.
    /// Returns whether `key` was known.
    pub fn note_end(&mut self, key: &FlowKey, side: Side, seg: &Segment) -> bool {
        if self.records.is_empty() {
            return false;
        }
        let Some(r) = self.records.get_mut(key) else {
            return false;
        };
        let p = &mut r.past;
        if seg.ts >= p.last_ts {
            p.last_ts = seg.ts;
            p.last_frame = seg.frame;
        }
        if seg.flags.rst() {
            p.rst = true;
        } else if p.first_fin.is_none() {
            p.first_fin = Some(side);
        }
        true
    }

    /// The capture has ended: no SYN will look a record up again. Its tables are freed
    /// before the end's own work (the counts stay).
    pub fn free(&mut self) {
        self.records = DenseMap::new(0);
        self.order = VecDeque::new();
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Forgets records past the horizon (not counted: they are as old as promised).
    fn expire(&mut self, now: Ts) {
        while let Some(&(hash, at)) = self.order.front() {
            if now.since(at) <= self.horizon_ns {
                break;
            }
            self.order.pop_front();
            self.records.remove_with_hash(hash, |r| r.archived_at == at);
        }
    }
}
