//! Per server endpoint: outcomes, reuses (server-held apart from harmless client-held ones),
//! causes, the TIME_WAIT evidence of every SYN on a 4-tuple it held, and a sparse
//! per-minute history. Constant state per server (the history is bounded), and every field
//! merges exactly: counts add, ranges take min/max.

use super::cause::Cause;
use super::counts::{GapRange, OutcomeCounts, max_opt};
use super::gaps::{Evidence, Handling};
use super::minutes::Minutes;
use crate::attempt::{Attempt, Holder, Outcome, ReuseClass};
use crate::tcp::FrameRef;
use crate::time::Ts;

/// Accepted reuses of one kind (by what advanced): how many, at which gaps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepts {
    pub count: u64,
    pub gaps: GapRange,
}

impl Accepts {
    fn add(&mut self, gap: Option<i64>) {
        self.count += 1;
        if let Some(g) = gap {
            self.gaps.add(g);
        }
    }
    fn merge(&mut self, o: &Accepts) {
        self.count += o.count;
        self.gaps.merge(&o.gaps);
    }
}

/// The largest gap at which the server still held a SYN, and the frame of that attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Longest {
    pub gap_ns: Option<i64>,
    pub frame: Option<FrameRef>,
}

impl Longest {
    fn add(&mut self, gap: i64, frame: FrameRef) {
        if self.gap_ns.is_none_or(|g| gap > g) {
            *self = Longest {
                gap_ns: Some(gap),
                frame: Some(frame),
            };
        }
    }
    fn merge(&mut self, o: &Longest) {
        if let (Some(g), Some(f)) = (o.gap_ns, o.frame) {
            self.add(g, f);
        }
    }
}

/// What the server did with SYNs on 4-tuples it held in TIME_WAIT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWaitEvidence {
    /// Attempts by handling (indexed by `Handling as usize`).
    pub handled: [u64; 8],
    /// Ignored or challenged SYNs: TIME_WAIT is longer than these gaps (a RST or ICMP error
    /// says less: kept apart).
    pub held: Longest,
    pub refused_held: Longest,
    /// Held SYNs whose ISN (resp. TSval) had advanced: the server does not let those in early.
    pub held_isn_advanced: u64,
    pub held_ts_advanced: u64,
    /// Of the ignored attempts, those whose ISN had advanced (what Windows 2000/2003 do).
    pub ignored_isn_advanced: u64,
    /// Accepted first SYNs, by [isn advanced][ts advanced].
    pub accepts: [[Accepts; 2]; 2],
    /// Retransmissions let in after the first SYNs were ignored: TIME_WAIT had ended.
    pub let_in: Accepts,
    /// The same after the first SYNs were refused (a RST-style server).
    pub refused_let_in: Accepts,
}

impl TimeWaitEvidence {
    fn add(&mut self, e: &Evidence, frame: FrameRef) {
        self.handled[e.handling as usize] += 1;
        match e.handling {
            Handling::Accepted => {
                self.accepts[usize::from(e.isn_advanced)][usize::from(e.ts_advanced)]
                    .add(e.admitted_gap);
            }
            Handling::Refused | Handling::IcmpError | Handling::RefusedThenLetIn => {
                if let Some(g) = e.held_gap {
                    self.refused_held.add(g, frame);
                }
                if e.handling == Handling::RefusedThenLetIn {
                    self.refused_let_in.add(e.admitted_gap);
                }
            }
            _ => {
                if let Some(g) = e.held_gap {
                    self.held.add(g, frame);
                    self.held_isn_advanced += u64::from(e.isn_advanced);
                    self.held_ts_advanced += u64::from(e.ts_advanced);
                }
                if e.handling == Handling::Ignored {
                    self.ignored_isn_advanced += u64::from(e.isn_advanced);
                }
                if e.handling == Handling::IgnoredThenLetIn {
                    self.let_in.add(e.admitted_gap);
                }
            }
        }
    }

    fn merge(&mut self, o: &TimeWaitEvidence) {
        for (a, b) in self.handled.iter_mut().zip(o.handled) {
            *a += b;
        }
        self.held.merge(&o.held);
        self.refused_held.merge(&o.refused_held);
        self.held_isn_advanced += o.held_isn_advanced;
        self.held_ts_advanced += o.held_ts_advanced;
        self.ignored_isn_advanced += o.ignored_isn_advanced;
        for (row, orow) in self.accepts.iter_mut().zip(&o.accepts) {
            for (a, b) in row.iter_mut().zip(orow) {
                a.merge(b);
            }
        }
        self.let_in.merge(&o.let_in);
        self.refused_let_in.merge(&o.refused_let_in);
    }

    pub fn count(&self, h: Handling) -> u64 {
        self.handled[h as usize]
    }

    pub fn any(&self) -> bool {
        self.handled.iter().any(|n| *n > 0)
    }
}

/// Everything kept per server endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTally {
    pub outcomes: OutcomeCounts,
    /// Reuses inside the window of a 4-tuple the server held (it closed first, or both did).
    pub reused_in_server_time_wait: u64,
    /// Reuses inside the window of a 4-tuple only the client held, or that a RST ended:
    /// normal, harmless (issue 10 item 5).
    pub reused_harmless: u64,
    /// Failed attempts whose cause was this server's TIME_WAIT, and their first SYN's gaps.
    pub failed_in_time_wait: u64,
    pub failed_gaps: GapRange,
    /// Established reuses inside the server's TIME_WAIT window (the server let them in).
    pub established_in_time_wait: u64,
    pub established_gaps: GapRange,
    pub challenged_then_established: u64,
    /// Attempts by cause (indexed by `Cause as usize`).
    pub causes: [u64; 7],
    pub time_wait: TimeWaitEvidence,
    pub minutes: Minutes,
    /// The first attempt's first SYN (servers are listed in that order).
    pub first_ts: Option<Ts>,
}

impl ServerTally {
    pub fn add(&mut self, a: &Attempt, cause: Option<Cause>, evidence: Option<&Evidence>) {
        self.outcomes.add(a.outcome);
        self.first_ts = Some(self.first_ts.map_or(a.ts, |t| t.min(a.ts)));
        self.challenged_then_established +=
            u64::from(a.outcome == Outcome::Established && a.challenge_acks > 0);
        if let Some(c) = cause {
            self.causes[c as usize] += 1;
        }
        if let Some(r) = a.reuse.filter(|_| a.reuse_class() == ReuseClass::InWindow) {
            if r.holder.server_holds() {
                self.reused_in_server_time_wait += 1;
                if a.outcome == Outcome::Established {
                    self.established_in_time_wait += 1;
                    self.established_gaps.add(r.gap_ns);
                }
            } else if matches!(r.holder, Holder::Client | Holder::None) {
                self.reused_harmless += 1;
            }
        }
        if cause == Some(Cause::ServerTimeWait)
            && a.outcome.is_failure()
            && let Some(r) = a.reuse
        {
            self.failed_in_time_wait += 1;
            self.failed_gaps.add(r.gap_ns);
        }
        if let Some(e) = evidence {
            self.time_wait.add(e, a.frame);
        }
        self.minutes.add(a.ts, a.outcome.is_failure());
    }

    pub fn merge(&mut self, o: &ServerTally) {
        self.outcomes.merge(&o.outcomes);
        self.reused_in_server_time_wait += o.reused_in_server_time_wait;
        self.reused_harmless += o.reused_harmless;
        self.failed_in_time_wait += o.failed_in_time_wait;
        self.failed_gaps.merge(&o.failed_gaps);
        self.established_in_time_wait += o.established_in_time_wait;
        self.established_gaps.merge(&o.established_gaps);
        self.challenged_then_established += o.challenged_then_established;
        for (a, b) in self.causes.iter_mut().zip(o.causes) {
            *a += b;
        }
        self.time_wait.merge(&o.time_wait);
        self.minutes.merge(&o.minutes);
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// A server that matters: something failed there, or it held a 4-tuple in TIME_WAIT.
    pub fn matters(&self) -> bool {
        self.outcomes.failed() > 0 || self.time_wait.any()
    }

    /// The longest gap at which the server held a SYN (ignored or challenged).
    pub fn longest_held_ns(&self) -> Option<i64> {
        max_opt(self.time_wait.held.gap_ns, None)
    }
}
