//! The attempts being decided, in order of first SYN, and the one function that settles an
//! attempt. An attempt leaves the queue once it is settled (no packet can change it any
//! more) and its outcome no longer depends on how long the capture goes on.

use std::collections::VecDeque;

use crate::attempt::{Attempt, FIRST_CLOSE_WITHIN_NS, Outcome, UNANSWERED_AFTER_NS};
use crate::tcp::Seq;
use crate::time::{NANOS_PER_SEC, Ts};

use super::Book;
use super::side::Side;

/// An attempt with no new SYN or answer for this long is settled: Linux gives up after 127 s
/// (tcp_syn_retries = 6), Windows after 21 s. A SYN with its ISN after that is a late SYN.
pub const SETTLE_NS: i64 = 130 * NANOS_PER_SEC;

/// When the client's next SYN retransmission is due, from its schedule so far: twice the
/// last interval (Linux doubles; Windows sends at +3 s and +9 s), at least 3 s, plus an
/// eighth for timer slack (issue 9).
pub fn next_syn_due(previous_syn: Option<Ts>, last_syn: Ts) -> Ts {
    let interval = previous_syn.map_or(0, |p| last_syn.since(p).max(0));
    let wait = interval.saturating_mul(2).max(UNANSWERED_AFTER_NS);
    last_syn.add_nanos(wait.saturating_add(wait / 8))
}

/// One attempt in the queue and what the tracker needs to decide it.
pub struct Pending {
    pub attempt: Attempt,
    /// The side that sent the SYN.
    pub client: Side,
    /// No further packet can change it.
    pub settled: bool,
    pub last_activity: Ts,
    /// The next older attempt on the same 4-tuple still in the queue (a chain per flow).
    pub older: Option<u64>,
    /// Highest sequence number (plus length) the client sent on this attempt: an ACK from the
    /// server up to here acknowledges its data, beyond ISN+1 (issue 9).
    pub client_end: Seq,
    /// The client acknowledged a SYN-ACK the capture does not show (its first ACK number).
    pub handshake_ack: Option<Seq>,
    /// That ACK was the bare handshake ACK (ISN+1, no data): data after it proves the
    /// handshake (`Establishment::ClientHandshake`).
    pub pure_handshake_ack: bool,
    /// The attempt was implied by a server's packet, its SYN not (yet) seen (issue 13).
    pub implied: bool,
    /// RSTs the client sent right after a SYN of this attempt, outside its sequence space
    /// (how Linux answers a challenge ACK), and whether it sent the SYN again after one.
    pub client_rsts: u8,
    pub rst_retried: bool,
    /// Another attempt on the 4-tuple began before this one's next SYN was due: whatever
    /// ended this one, its client's side does not tell (a SYN storm, a raw tool).
    pub superseded: bool,
    /// The latest SYN was refused or challenged: a RST or challenge ACK from the server, or a
    /// RST of the client's answering one, came after it.
    pub last_syn_answered: bool,
}

impl Pending {
    /// The sequence number right after the SYN (and the data it carried, TCP Fast Open).
    pub fn after_syn(&self) -> Seq {
        self.attempt.isn + 1 + self.attempt.syn_data_len
    }

    /// `ack` acknowledges the SYN: ISN+1, or ISN+1+data when the server took the SYN's data.
    pub fn acks_syn(&self, ack: Seq) -> bool {
        ack == self.attempt.isn + 1 || ack == self.after_syn()
    }

    /// Whether the outcome still depends on how long the capture goes on.
    fn waits_for_time(&self, now: Ts) -> bool {
        self.attempt.waits_for_time()
            && self.handshake_ack.is_none()
            && now <= self.attempt.next_syn_due
    }

    /// Until when a waiting attempt goes on waiting as the clock moves and nothing else
    /// touches it: the first moment one of the reasons it waits at `now` can lapse (its
    /// quiet period ends and it settles; its next SYN was due; its first second is over).
    /// `first_second`: whether it waits for its first second at `now`.
    fn waits_until(&self, now: Ts, first_second: bool) -> Ts {
        let mut until = Ts(i64::MAX);
        if !self.settled {
            until = until.min(self.last_activity.add_nanos(SETTLE_NS));
        }
        if self.waits_for_time(now) {
            until = until.min(self.attempt.next_syn_due);
        }
        if first_second && let Some(answer) = self.attempt.syn_ack {
            until = until.min(answer.ts.add_nanos(FIRST_CLOSE_WITHIN_NS));
        }
        until
    }
}

/// Why an attempt is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// The client answered the SYN-ACK (or sent data): it will not send this SYN again.
    ClientMovedOn,
    /// Nothing for SETTLE_NS.
    Quiet,
    /// Its 4-tuple left the flow table (idle, or over the flow budget).
    FlowGone,
    /// The queue is over its budget: decided before its quiet period ended.
    OverBudget,
}

/// The queue; ids count from 0 in order of first SYN, `base` is the id of the front.
#[derive(Default)]
pub struct Queue {
    pending: VecDeque<Pending>,
    base: u64,
    /// While the clock is at or before this, the front attempt is still waiting: nothing that
    /// time alone changes lets it leave before then, and whatever else could (a packet on its
    /// 4-tuple, a settling) goes through `get`, which clears it. `decide_front` then need not
    /// look at the front at all: it runs after every frame (issue 12).
    front_waits_until: Option<Ts>,
    /// The front attempt is decided, where it lies, and waits to be taken (`decided`,
    /// `drop_decided`): it is read in place, not copied out (issue 12: on a flood two
    /// copies of every attempt on the way out were a tenth of the tracking thread).
    front_decided: bool,
}

impl Queue {
    /// Adds an attempt. The ring grows by doubling, but not past `limit` (the pending
    /// budget and a little room) in one step: its last doubling would take up to twice the
    /// budget's share (issue 14). Past the limit it grows as it must.
    pub fn push(&mut self, p: Pending, limit: usize) -> u64 {
        let capacity = self.pending.capacity();
        if self.pending.len() == capacity && capacity < limit && capacity.saturating_mul(2) > limit
        {
            self.pending.reserve_exact(limit - capacity);
        }
        self.pending.push_back(p);
        self.base + self.pending.len() as u64 - 1
    }

    /// The attempt `id`, while it is in the queue (settled or not).
    pub fn get(&mut self, id: u64) -> Option<&mut Pending> {
        let index = usize::try_from(id.checked_sub(self.base)?).ok()?;
        if index == 0 {
            debug_assert!(
                !self.front_decided,
                "a decided attempt is taken before it changes"
            );
            self.front_waits_until = None;
        }
        self.pending.get_mut(index)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }
}

impl Book {
    /// The outcome as far as the capture goes (`Attempt::resolve`: a failure only once the
    /// client's next SYN was due), except that a refusal (RST or ICMP error) is final at
    /// once for a client never seen sending a refused SYN again: Linux gives up on a RST
    /// (ECONNREFUSED), and so do scanners; Windows retries, and then it waits.
    pub fn outcome(&self, a: &Attempt, now: Ts, heard: bool) -> Outcome {
        let outcome = a.resolve(now, heard);
        if outcome != Outcome::Unknown || self.seen.retries_after_refusal(a.client.ip) {
            return outcome;
        }
        if a.rst.is_some() {
            Outcome::Refused
        } else if a.icmp.is_some() {
            Outcome::IcmpUnreachable
        } else {
            outcome
        }
    }
}

/// Attempts chained on one 4-tuple that are looked at for a match (a SYN storm can put more
/// on one 4-tuple; the oldest are then not matched).
pub const CHAIN: usize = 32;

/// The attempts chained on one 4-tuple that are still in the queue, newest first, at most
/// [`CHAIN`] of them, walked one at a time: `while let Some(id) = chain.next(&mut queue)`.
/// Nothing a walk's body does changes the links (`older` is set when an attempt starts, and
/// attempts leave only from the front, by `drop_decided`, between frames), so this yields
/// the ids a copy of the chain taken first would hold; the copy (32 ids, written and
/// copied on every server segment) was 7 % of the tracking thread on the NAT capture
/// (issue 12).
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    next: Option<u64>,
    left: usize,
}

impl Chain {
    pub fn from(newest: Option<u64>) -> Chain {
        Chain {
            next: newest,
            left: CHAIN,
        }
    }

    /// The next id of the chain, if it is still in `queue` and fewer than CHAIN came before.
    pub fn next(&mut self, queue: &mut Queue) -> Option<u64> {
        let id = self.next.take().filter(|_| self.left > 0)?;
        self.next = queue.get(id)?.older;
        self.left -= 1;
        Some(id)
    }
}

impl Book {
    /// The one place an attempt becomes settled.
    pub fn settle(&mut self, id: u64, why: Settle) {
        let Some(p) = self.queue.get(id) else {
            return;
        };
        if p.settled {
            return;
        }
        p.settled = true;
        self.dropped.pending += u64::from(why == Settle::OverBudget);
    }

    /// Settles `id` if it has been quiet for SETTLE_NS by `now`; returns whether it is settled.
    /// Only the front is settled by the clock in `decide_front`, so the attempts behind it are
    /// checked when their 4-tuple is seen again.
    pub fn settled_by(&mut self, id: u64, now: Ts) -> bool {
        let Some(p) = self.queue.get(id) else {
            return true;
        };
        if !p.settled && now.since(p.last_activity) > SETTLE_NS {
            self.settle(id, Settle::Quiet);
        }
        self.queue.get(id).is_none_or(|p| p.settled)
    }

    /// The next attempt whose outcome is final, in order of first SYN, copied out
    /// (`decide_front`, `decided` and `drop_decided` read it where it lies).
    pub fn pop_decided(&mut self, finished: bool) -> Option<Attempt> {
        if !self.decide_front(finished) {
            return None;
        }
        let attempt = self.decided().copied();
        self.drop_decided();
        attempt
    }

    /// Whether the front attempt is decided (now or before): it is then `decided()`, until
    /// `drop_decided`.
    #[inline]
    pub fn decide_front(&mut self, finished: bool) -> bool {
        if self.queue.front_decided {
            return true;
        }
        // Over the budget the front leaves at once, whatever the clock says.
        let overfull = self.queue.len() > self.config.budgets.pending;
        let waits = self.queue.front_waits_until.is_some_and(|t| self.now <= t);
        if waits && !finished && !overfull {
            return false;
        }
        self.look_at_front(finished, overfull)
    }

    /// The front attempt, decided (`decide_front`).
    pub fn decided(&self) -> Option<&Attempt> {
        self.queue
            .pending
            .front()
            .filter(|_| self.queue.front_decided)
            .map(|p| &p.attempt)
    }

    /// The decided front attempt leaves the queue.
    pub fn drop_decided(&mut self) {
        if !self.queue.front_decided {
            return;
        }
        self.queue.pending.pop_front();
        self.queue.base += 1;
        self.queue.front_decided = false;
        self.queue.front_waits_until = None;
    }

    #[inline(never)]
    fn look_at_front(&mut self, finished: bool, overfull: bool) -> bool {
        let now = self.now;
        let base = self.queue.base;
        let Some(front) = self.queue.pending.front() else {
            return false;
        };
        // Settle the oldest attempt when it has been quiet long enough, or when the queue is
        // so long (a SYN flood) that memory must win over a late retransmission.
        let mut counted = false;
        if !front.settled && now.since(front.last_activity) > SETTLE_NS {
            self.settle(base, Settle::Quiet);
        } else if !front.settled && overfull {
            self.settle(base, Settle::OverBudget);
            counted = true;
        }
        let Some(front) = self.queue.pending.front() else {
            return false;
        };
        // An established connection is held for its first second, so that a refusal by the
        // application (a FIN or RST right after the handshake) is on the attempt.
        let first_second = front.attempt.first_close.is_none()
            && !overfull
            && front
                .attempt
                .syn_ack
                .is_some_and(|a| now.since(a.ts) <= FIRST_CLOSE_WITHIN_NS);
        let waiting = !front.settled || front.waits_for_time(now) || first_second;
        if waiting && !finished {
            if !overfull {
                self.queue.front_waits_until = Some(front.waits_until(now, first_second));
                return false;
            }
            // Over the budget (a SYN flood): decided now, as far as the capture has gone.
            self.dropped.pending += u64::from(!counted);
        }
        // Decided in place: the queue is set aside meanwhile (deciding reads the evidence,
        // never the queue).
        let mut pending = std::mem::take(&mut self.queue.pending);
        if let Some(p) = pending.front_mut() {
            self.decide(p, now, finished);
        }
        self.queue.pending = pending;
        self.queue.front_decided = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_retransmission_is_due_after_twice_the_last_interval_at_least_3_s() {
        let s = |secs: f64| Ts((secs * 1e9) as i64);
        // First SYN: 3 s (+ slack). Windows +3 s: next at +9 s. Linux +1, +3: next at +7 s.
        assert_eq!(next_syn_due(None, s(0.0)), s(3.375));
        assert_eq!(next_syn_due(Some(s(0.0)), s(3.0)), s(9.75));
        assert_eq!(next_syn_due(Some(s(1.0)), s(3.0)), s(7.5));
        // Linear 1 s timeouts and a fast retry after a challenge ACK: still 3 s.
        assert_eq!(next_syn_due(Some(s(2.0)), s(3.0)), s(6.375));
    }
}
