//! Deeper diagnosis (issue 5): who reuses ports and how fast, how long each server really
//! holds TIME_WAIT and what it does with a SYN in it, what the client felt, which direction
//! between two hosts fails. Pure data, fed attempt by attempt; nothing here prints.

pub mod directions;
pub mod ports;
pub mod servers;

use std::net::IpAddr;

use crate::FxIndexMap as IndexMap;

use crate::attempt::Attempt;
use crate::tcp::Endpoint;
use crate::time::{NANOS_PER_SEC, Ts};
use crate::track::ConnEnd;
use directions::{HostPair, Relay, RelayFinder, pair_key, refused_by_application};
use ports::SourcePorts;
use servers::ServerBehaviour;

/// The client's SYN retransmission schedule, which names its TCP stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Schedule {
    /// Retransmissions 3 s and 9 s after the first SYN (Windows 2000 to 10).
    Windows,
    /// 1, 2, 4 s apart: the exponential back-off of classic Linux.
    LinuxExponential,
    /// 1 s apart: recent Linux kernels' `tcp_syn_linear_timeouts`.
    LinuxLinear,
    /// A retransmission within 100 ms: Linux after an unacceptable ACK (a challenge ACK).
    LinuxFastRetry,
    Other,
}

impl Schedule {
    pub fn of(a: &Attempt) -> Option<Schedule> {
        let n = (a.syn_retransmits as usize).min(a.retransmit_us.len());
        let offsets: Vec<f64> = a.retransmit_us[..n]
            .iter()
            .map(|us| f64::from(*us) / 1e6)
            .collect();
        let near = |x: f64, target: f64| (x - target).abs() <= target * 0.2 + 0.05;
        Some(match offsets.as_slice() {
            [] => return None,
            [first, ..] if *first < 0.1 => Schedule::LinuxFastRetry,
            [first, second, ..] if near(*first, 3.0) && near(*second, 9.0) => Schedule::Windows,
            [first] if near(*first, 3.0) => Schedule::Windows,
            [first, second, ..] if near(*first, 1.0) && near(*second, 3.0) => {
                Schedule::LinuxExponential
            }
            [first, second, ..] if near(*first, 1.0) && near(*second, 2.0) => Schedule::LinuxLinear,
            _ => Schedule::Other,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Schedule::Windows => "Windows (+3 s, +9 s)",
            Schedule::LinuxExponential => "Linux (1, 2, 4 s apart)",
            Schedule::LinuxLinear => "Linux linear timeouts (1 s apart)",
            Schedule::LinuxFastRetry => "Linux fast retry after a challenge ACK",
            Schedule::Other => "other",
        }
    }
}

/// What the failed attempts of one client felt: how they retried and how long they waited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Felt {
    pub failed: u64,
    pub max_wait_ns: i64,
    pub total_wait_ns: i64,
}

#[derive(Default)]
pub struct Diagnosis {
    origin: Option<Ts>,
    pub sources: IndexMap<IpAddr, SourcePorts>,
    pub servers: IndexMap<Endpoint, ServerBehaviour>,
    pub pairs: IndexMap<(IpAddr, IpAddr), HostPair>,
    /// Per client IP: retransmission schedules seen, and what failed attempts felt.
    pub schedules: IndexMap<IpAddr, IndexMap<Schedule, u64>>,
    pub felt: IndexMap<IpAddr, Felt>,
    pub relays: IndexMap<Relay, u64>,
    relay_finder: RelayFinder,
}

impl Diagnosis {
    pub fn add(&mut self, a: &Attempt) {
        let origin = *self.origin.get_or_insert(a.ts);
        self.sources
            .entry(a.client.ip)
            .or_insert_with(|| SourcePorts::new(a.client.ip, a.ts))
            .add(a);
        self.servers.entry(a.server).or_default().add(a, origin);
        let (key, dir) = pair_key(a.client.ip, a.server.ip);
        self.pairs.entry(key).or_default().directions[dir]
            .outcomes
            .add(a.outcome);
        if let Some(schedule) = Schedule::of(a) {
            *self
                .schedules
                .entry(a.client.ip)
                .or_default()
                .entry(schedule)
                .or_insert(0) += 1;
        }
        if a.outcome.is_failure() || a.challenge_acks > 0 {
            let felt = self.felt.entry(a.client.ip).or_default();
            let wait = a.last_syn_ts.since(a.ts).max(0);
            felt.failed += 1;
            felt.max_wait_ns = felt.max_wait_ns.max(wait);
            felt.total_wait_ns = felt.total_wait_ns.saturating_add(wait);
        }
        if let Some(relay) = self.relay_finder.add(a) {
            *self.relays.entry(relay).or_insert(0) += 1;
        }
    }

    pub fn add_end(&mut self, end: &ConnEnd) {
        if refused_by_application(end) {
            let (key, dir) = pair_key(end.client.ip, end.server.ip);
            self.pairs.entry(key).or_default().directions[dir].refused_by_application += 1;
        }
    }

    /// Seconds from the first attempt, for per-minute series.
    pub fn origin(&self) -> Option<Ts> {
        self.origin
    }
}

/// Nanoseconds as whole seconds for sentences.
pub fn whole_secs(ns: i64) -> i64 {
    ns / NANOS_PER_SEC
}
