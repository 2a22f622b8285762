//! Everything the detectors accumulate, attempt by attempt, in budgeted state: the part of
//! the findings that merges. Two tallies of disjoint parts of the input (shards split by
//! client address, or two files) merge into the tally of the whole; what does not merge
//! exactly is said where it is kept (sources.rs, relays.rs, cause.rs) and in README.

use std::net::IpAddr;

use super::asymmetry::{PortDirections, PortPair};
use super::bounded::{Bounded, Entry};
use super::cause::Cause;
use super::counts::{GapRange, OutcomeCounts};
use super::cross::Cross;
use super::relays::Relay;
use super::servers::ServerTally;
use super::sources::SourceTally;
use crate::FxIndexMap;
use crate::attempt::Attempt;
use crate::budget::Budgets;
use crate::tcp::Endpoint;
use crate::time::Ts;

/// Capacities of the diagnosis's structures, from the budget's share for hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    pub sources: usize,
    pub servers: usize,
    pub collisions: usize,
    pub port_pairs: usize,
    pub relay_legs: usize,
    pub relays: usize,
    pub flagged: usize,
}

/// Bytes one entry costs, with its hash-table share (estimates; the benchmark's peak RSS
/// figures check them).
mod cost {
    pub const SOURCE: u64 = 320;
    pub const SERVER: u64 = 2048;
    pub const COLLISION: u64 = 160;
    pub const PORT_PAIR: u64 = 160;
    pub const RELAY_LEG: u64 = 160;
    pub const FLAGGED: u64 = 320;
}

impl Capacities {
    pub fn from_budgets(b: &Budgets) -> Capacities {
        let bytes = b.hosts as u64 * 1024;
        let share = |percent: u64, cost: u64| ((bytes / 100 * percent / cost) as usize).max(64);
        Capacities {
            sources: share(45, cost::SOURCE),
            servers: share(15, cost::SERVER),
            collisions: share(5, cost::COLLISION),
            port_pairs: share(20, cost::PORT_PAIR),
            relay_legs: share(10, cost::RELAY_LEG),
            relays: 4096,
            flagged: share(5, cost::FLAGGED),
        }
    }
}

/// Failed attempts from one source whose cause was one server's TIME_WAIT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collision {
    pub outcomes: OutcomeCounts,
    pub gaps: GapRange,
}

impl Entry for Collision {
    fn rank(&self) -> u64 {
        self.outcomes.total()
    }
    fn merge(&mut self, o: &Collision) {
        self.outcomes.merge(&o.outcomes);
        self.gaps.merge(&o.gaps);
    }
}

/// Ranks: what matters first (a bit above everything), then failures, then attempts.
fn rank(matters: bool, failed: u64, attempts: u64) -> u64 {
    (u64::from(matters) << 63) | (failed.min(1 << 31) << 31) | attempts.min((1 << 31) - 1)
}

impl Entry for SourceTally {
    fn rank(&self) -> u64 {
        rank(self.time_wait_failures > 0, self.felt.failed, self.attempts)
    }
    fn merge(&mut self, o: &SourceTally) {
        SourceTally::merge(self, o)
    }
}

impl Entry for ServerTally {
    fn rank(&self) -> u64 {
        rank(
            self.matters(),
            self.outcomes.failed(),
            self.outcomes.total(),
        )
    }
    fn merge(&mut self, o: &ServerTally) {
        ServerTally::merge(self, o)
    }
}

impl Entry for PortDirections {
    fn rank(&self) -> u64 {
        let [a, b] = self.0;
        rank(
            self.both_ways(),
            a.failed() + b.failed(),
            a.attempts() + b.attempts(),
        )
    }
    fn merge(&mut self, o: &PortDirections) {
        PortDirections::merge(self, o)
    }
}

/// A flagged attempt kept for the tables, with its cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flagged {
    pub attempt: Attempt,
    pub cause: Option<Cause>,
}

#[derive(Clone, Debug)]
pub struct Tally {
    pub window_ns: i64,
    pub outcomes: OutcomeCounts,
    pub cross: Cross,
    /// Attempts by cause (indexed by `Cause as usize`).
    pub causes: [u64; 7],
    /// Of the `application_refused` ones, by form (`RefusalForm as usize`).
    pub refusal_forms: [u64; 4],
    pub syn_retransmits: u64,
    pub challenged_then_established: u64,
    pub flagged_total: u64,
    /// The first `flag_cap` flagged attempts, in order of first SYN.
    pub flagged: Vec<Flagged>,
    pub flag_cap: usize,
    pub sources: Bounded<IpAddr, SourceTally>,
    pub servers: Bounded<Endpoint, ServerTally>,
    pub collisions: Bounded<(IpAddr, Endpoint), Collision>,
    pub ports: Bounded<PortPair, PortDirections>,
    pub relays: FxIndexMap<Relay, u64>,
    pub relay_capacity: usize,
    /// Relay patterns not kept because the table was full.
    pub relays_dropped: u64,
    /// Relay legs that fitted more than one other leg.
    pub relays_ambiguous: u64,
    /// The first attempt's first SYN (per-minute series and sources are ordered by time).
    pub first_ts: Option<Ts>,
}

impl Tally {
    pub fn new(window_ns: i64, caps: &Capacities, flag_rows: usize) -> Tally {
        Tally {
            window_ns,
            outcomes: OutcomeCounts::default(),
            cross: Cross::default(),
            causes: [0; 7],
            refusal_forms: [0; 4],
            syn_retransmits: 0,
            challenged_then_established: 0,
            flagged_total: 0,
            flagged: Vec::new(),
            flag_cap: flag_rows.min(caps.flagged),
            sources: Bounded::new(caps.sources),
            servers: Bounded::new(caps.servers),
            collisions: Bounded::new(caps.collisions),
            ports: Bounded::new(caps.port_pairs),
            relays: FxIndexMap::default(),
            relay_capacity: caps.relays,
            relays_dropped: 0,
            relays_ambiguous: 0,
            first_ts: None,
        }
    }

    pub fn add_relay(&mut self, relay: Relay, n: u64) {
        if let Some(count) = self.relays.get_mut(&relay) {
            *count += n;
        } else if self.relays.len() < self.relay_capacity {
            self.relays.insert(relay, n);
        } else {
            self.relays_dropped += n;
        }
    }

    /// Adds another part of the input. Exact, but for the cases named in each detector.
    pub fn merge(&mut self, o: &Tally) {
        self.outcomes.merge(&o.outcomes);
        self.cross.merge(&o.cross);
        for (a, b) in self.causes.iter_mut().zip(o.causes) {
            *a += b;
        }
        for (a, b) in self.refusal_forms.iter_mut().zip(o.refusal_forms) {
            *a += b;
        }
        self.syn_retransmits += o.syn_retransmits;
        self.challenged_then_established += o.challenged_then_established;
        self.flagged_total += o.flagged_total;
        self.flagged.extend_from_slice(&o.flagged);
        self.flagged
            .sort_by_key(|f| (f.attempt.ts, f.attempt.frame.file, f.attempt.frame.number));
        self.flagged.truncate(self.flag_cap);
        self.sources.merge(&o.sources);
        self.servers.merge(&o.servers);
        self.collisions.merge(&o.collisions);
        self.ports.merge(&o.ports);
        for (relay, n) in &o.relays {
            self.add_relay(*relay, *n);
        }
        self.relays_dropped += o.relays_dropped;
        self.relays_ambiguous += o.relays_ambiguous;
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}
