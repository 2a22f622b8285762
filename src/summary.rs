//! The detect stage: folds decided attempts into the counts, groups and flagged list that the
//! report shows. Pure data; nothing here prints.

use std::net::IpAddr;

use crate::FxIndexMap as IndexMap;

use crate::attempt::{Attempt, Outcome, ReuseClass};
use crate::diagnose::Diagnosis;
use crate::tcp::Endpoint;
use crate::track::ConnEnd;

/// Counts over a set of attempts, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts(pub [u64; 6]);

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        self.0[outcome as usize] += 1;
    }
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn failed(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| self.get(*o))
            .sum()
    }
}

/// A range of gaps (nanoseconds) seen for some class of reuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GapRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl GapRange {
    pub fn add(&mut self, gap: i64) {
        self.min = Some(self.min.map_or(gap, |m| m.min(gap)));
        self.max = Some(self.max.map_or(gap, |m| m.max(gap)));
    }
}

/// Per server endpoint (the SYN's destination).
#[derive(Clone, Debug, Default)]
pub struct ServerStats {
    pub outcomes: OutcomeCounts,
    pub reused_in_window: u64,
    /// Failed attempts that reused, inside the window, a 4-tuple this server held in TIME_WAIT.
    pub failed_server_time_wait: u64,
    pub failed_gaps: GapRange,
    /// Established attempts whose 4-tuple was reused in the window (the server let them in).
    pub established_in_window: u64,
    pub established_gaps: GapRange,
    pub challenged_then_established: u64,
}

/// Per (SYN sender IP, server endpoint): the unit of the headline sentences.
#[derive(Clone, Debug, Default)]
pub struct PairStats {
    pub outcomes: OutcomeCounts,
    pub failed_server_time_wait: OutcomeCounts,
    pub gaps: GapRange,
}

pub struct Summary {
    pub outcomes: OutcomeCounts,
    /// Cross table: reuse class x outcome.
    pub cross: [OutcomeCounts; 4],
    pub challenged_then_established: u64,
    pub syn_retransmits: u64,
    pub servers: IndexMap<Endpoint, ServerStats>,
    pub pairs: IndexMap<(IpAddr, Endpoint), PairStats>,
    /// The first `flag_cap` flagged attempts, in order of first SYN.
    pub flagged: Vec<Attempt>,
    pub flagged_total: u64,
    pub flag_cap: usize,
    pub diagnosis: Diagnosis,
}

impl Summary {
    pub fn new(flag_cap: usize) -> Summary {
        Summary {
            outcomes: OutcomeCounts::default(),
            cross: [OutcomeCounts::default(); 4],
            challenged_then_established: 0,
            syn_retransmits: 0,
            servers: IndexMap::default(),
            pairs: IndexMap::default(),
            flagged: Vec::new(),
            flagged_total: 0,
            flag_cap,
            diagnosis: Diagnosis::default(),
        }
    }

    pub fn attempts(&self) -> u64 {
        self.outcomes.total()
    }

    pub fn reused(&self, class: ReuseClass) -> u64 {
        self.cross[class as usize].total()
    }

    /// Failed attempts that reused a 4-tuple inside the window (any holder).
    pub fn failed_in_window(&self) -> u64 {
        self.cross[ReuseClass::InWindow as usize].failed()
    }

    /// A connection that ended (for the direction analysis).
    pub fn add_end(&mut self, end: &ConnEnd) {
        self.diagnosis.add_end(end);
    }

    pub fn add(&mut self, a: &Attempt) {
        self.diagnosis.add(a);
        let class = a.reuse_class();
        self.outcomes.add(a.outcome);
        self.cross[class as usize].add(a.outcome);
        self.syn_retransmits += u64::from(a.syn_retransmits);
        let challenged = a.outcome == Outcome::Established && a.challenge_acks > 0;
        self.challenged_then_established += u64::from(challenged);

        let server = self.servers.entry(a.server).or_default();
        server.outcomes.add(a.outcome);
        server.challenged_then_established += u64::from(challenged);
        let in_window = a.reuse.filter(|_| class == ReuseClass::InWindow);
        let pair = self.pairs.entry((a.client.ip, a.server)).or_default();
        pair.outcomes.add(a.outcome);
        if let Some(reuse) = in_window {
            server.reused_in_window += 1;
            if a.outcome.is_failure() && reuse.holder.server_holds() {
                server.failed_server_time_wait += 1;
                server.failed_gaps.add(reuse.gap_ns);
                pair.failed_server_time_wait.add(a.outcome);
                pair.gaps.add(reuse.gap_ns);
            } else if a.outcome == Outcome::Established {
                server.established_in_window += 1;
                server.established_gaps.add(reuse.gap_ns);
            }
        }
        if a.is_flagged() {
            self.flagged_total += 1;
            if self.flagged.len() < self.flag_cap {
                self.flagged.push(*a);
            }
        }
    }
}
