//! Idle 4-tuples leave the flow table from a time-ordered queue (issue 12), not by walking
//! every flow: each live flow has one entry, with the capture time after which it may be
//! idle long enough. An entry that comes due for a flow seen since is pushed back with its
//! new deadline (lazily: one push per flow per idle period, none per packet).
//!
//! An entry holds the 8-byte hash of its 4-tuple, not the 40-byte key (issue 14); the flow
//! table finds the flow by it (`DenseMap::position_with_hash`), checks the deadline on the
//! flow itself, and retires it at that position: one lookup per entry.

use std::collections::VecDeque;

use crate::time::Ts;

#[derive(Default)]
pub struct Expiry {
    /// (deadline, hash of the key), deadlines never decreasing.
    queue: VecDeque<(Ts, u64)>,
}

impl Expiry {
    /// Schedules `key` for `deadline`, or for the latest deadline queued if that is later
    /// (so the queue stays sorted; a flow may stay a little longer, never shorter).
    pub fn push(&mut self, hash: u64, deadline: Ts) {
        let deadline = self.queue.back().map_or(deadline, |b| b.0.max(deadline));
        self.queue.push_back((deadline, hash));
    }

    /// The next flow whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Ts) -> Option<u64> {
        if self.queue.front()?.0 > now {
            return None;
        }
        self.queue.pop_front().map(|(_, hash)| hash)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The flow with the earliest deadline, due or not (the flow table is over its budget).
    pub fn pop_oldest(&mut self) -> Option<u64> {
        self.queue.pop_front().map(|(_, hash)| hash)
    }
}
