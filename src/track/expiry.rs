//! Idle 4-tuples leave the flow table from a time-ordered queue (issue 12), not by walking
//! every flow: each live flow has one entry, with the capture time after which it may be
//! idle long enough. An entry that comes due for a flow seen since is pushed back with its
//! new deadline (lazily: one push per flow per idle period, none per packet).

use std::collections::VecDeque;

use crate::tcp::FlowKey;
use crate::time::Ts;

#[derive(Default)]
pub struct Expiry {
    /// (deadline, key), deadlines never decreasing.
    queue: VecDeque<(Ts, FlowKey)>,
}

impl Expiry {
    /// Schedules `key` for `deadline`, or for the latest deadline queued if that is later
    /// (so the queue stays sorted; a flow may stay a little longer, never shorter).
    pub fn push(&mut self, key: FlowKey, deadline: Ts) {
        let deadline = self.queue.back().map_or(deadline, |b| b.0.max(deadline));
        self.queue.push_back((deadline, key));
    }

    /// The next flow whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Ts) -> Option<FlowKey> {
        if self.queue.front()?.0 > now {
            return None;
        }
        self.queue.pop_front().map(|(_, key)| key)
    }

    /// The flow with the earliest deadline, due or not (the flow table is over its budget).
    pub fn pop_oldest(&mut self) -> Option<FlowKey> {
        self.queue.pop_front().map(|(_, key)| key)
    }
}
