//! What the tally amounts to, computed once when the capture ends (constant time per kept
//! host: no scans across hosts) and read by every writer. `Findings::merge` merges two
//! partial results through their tallies.

use std::net::IpAddr;

use super::asymmetry::Asymmetry;
use super::cause::Cause;
use super::counts::{GapRange, OutcomeCounts};
use super::cross::Cross;
use super::fix::{Fix, fix};
use super::relays::{RELAY_MIN_CONVERSATIONS, Relay};
use super::servers::ServerTally;
use super::sources::{Pattern, SourceTally};
use super::tally::{Collision, Flagged, Tally};
use super::time_wait::{Judgement, judge};
use crate::attempt::Outcome;
use crate::tcp::Endpoint;
use rustc_hash::FxHashMap;

#[derive(Clone, Debug, PartialEq)]
pub struct ServerFinding {
    pub server: Endpoint,
    pub tally: ServerTally,
    pub judgement: Judgement,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceFinding {
    pub ip: IpAddr,
    pub tally: SourceTally,
    pub pattern: Option<Pattern>,
    /// When the source's ports collided with a server's TIME_WAIT: what would avoid it.
    pub fix: Option<Fix>,
}

/// One source's failures in one server's TIME_WAIT (a headline line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CollisionFinding {
    pub source: IpAddr,
    pub server: Endpoint,
    /// The source's failed attempts to that server, all causes.
    pub failed: OutcomeCounts,
    /// Of those, the ones whose cause was the server's TIME_WAIT.
    pub in_time_wait: OutcomeCounts,
    pub gaps: GapRange,
}

/// What the budgets made the diagnosis summarise instead of keep exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summarised {
    pub sources: u64,
    /// Attempts of the summarised sources (they are in every total).
    pub source_attempts: u64,
    pub servers: u64,
    pub server_attempts: u64,
    pub collisions: u64,
    pub port_pairs: u64,
    pub relays: u64,
    /// Flagged attempts beyond the rows kept for the tables.
    pub flagged_rows: u64,
}

impl Summarised {
    pub fn any_host(&self) -> bool {
        self.sources + self.servers + self.collisions + self.port_pairs + self.relays > 0
    }
}

#[derive(Clone, Debug)]
pub struct Findings {
    pub window_ns: i64,
    pub outcomes: OutcomeCounts,
    pub cross: Cross,
    /// Attempts by cause (indexed by `Cause as usize`).
    pub causes: [u64; 7],
    /// Of the `application_refused` attempts, by form (`RefusalForm as usize`).
    pub refusal_forms: [u64; 4],
    pub syn_retransmits: u64,
    pub challenged_then_established: u64,
    pub flagged_total: u64,
    pub flagged: Vec<Flagged>,
    /// In order of each one's first attempt.
    pub servers: Vec<ServerFinding>,
    pub sources: Vec<SourceFinding>,
    /// Most failures first.
    pub collisions: Vec<CollisionFinding>,
    pub asymmetries: Vec<Asymmetry>,
    pub relays: Vec<(Relay, u64)>,
    pub relays_ambiguous: u64,
    /// The fix for the source with the most failures in a server's TIME_WAIT.
    pub fix: Option<Fix>,
    pub summarised: Summarised,
    server_index: FxHashMap<Endpoint, usize>,
    tally: Tally,
}

/// Equal findings: every derived field (the tallies they came from may differ in what was
/// summarised, and in the order hosts were first seen).
impl PartialEq for Findings {
    fn eq(&self, o: &Findings) -> bool {
        self.window_ns == o.window_ns
            && self.outcomes == o.outcomes
            && self.cross == o.cross
            && self.causes == o.causes
            && self.refusal_forms == o.refusal_forms
            && self.syn_retransmits == o.syn_retransmits
            && self.challenged_then_established == o.challenged_then_established
            && self.flagged_total == o.flagged_total
            && self.flagged == o.flagged
            && self.servers == o.servers
            && self.sources == o.sources
            && self.collisions == o.collisions
            && self.asymmetries == o.asymmetries
            && self.relays == o.relays
            && self.relays_ambiguous == o.relays_ambiguous
            && self.fix == o.fix
            && self.summarised == o.summarised
    }
}

impl Findings {
    pub fn attempts(&self) -> u64 {
        self.outcomes.total()
    }

    pub fn cause_count(&self, c: Cause) -> u64 {
        self.causes[c as usize]
    }

    /// Failed attempts (and challenged or delayed ones) by cause, in enum order.
    pub fn by_cause(&self) -> impl Iterator<Item = (Cause, u64)> + '_ {
        Cause::ALL
            .into_iter()
            .map(|c| (c, self.cause_count(c)))
            .filter(|(_, n)| *n > 0)
    }

    pub fn server(&self, e: &Endpoint) -> Option<&ServerFinding> {
        self.servers.get(*self.server_index.get(e)?)
    }

    /// The tally these findings came from (for merging).
    fn tally(&self) -> Tally {
        let mut t = self.tally.clone();
        t.sources
            .restore(self.sources.iter().map(|s| (s.ip, s.tally.clone())));
        t.servers
            .restore(self.servers.iter().map(|s| (s.server, s.tally.clone())));
        t
    }

    /// Merges two partial results (shards split by client address, or two files).
    pub fn merge(a: &Findings, b: &Findings) -> Findings {
        let mut tally = a.tally();
        tally.merge(&b.tally());
        Findings::from_tally(tally)
    }

    /// What the tally amounts to. The per-host tallies move into the findings (nothing is
    /// copied); the rest of the tally stays for merging.
    pub fn from_tally(mut tally: Tally) -> Findings {
        let window = tally.window_ns;
        let mut servers: Vec<ServerFinding> = tally
            .servers
            .take()
            .into_iter()
            .map(|(server, t)| ServerFinding {
                server,
                judgement: judge(&t.time_wait, window),
                tally: t,
            })
            .collect();
        servers.sort_by_key(|s| (s.tally.first_ts, s.server));
        let mut collisions: Vec<CollisionFinding> = tally
            .collisions
            .iter()
            .map(|((source, server), c)| collision(&tally, *source, *server, c))
            .collect();
        collisions.sort_by(|a, b| {
            b.in_time_wait
                .total()
                .cmp(&a.in_time_wait.total())
                .then((a.source, a.server).cmp(&(b.source, b.server)))
        });
        let server_index: FxHashMap<Endpoint, usize> = servers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.server, i))
            .collect();
        // Each source's largest collision (collisions are sorted, largest first).
        let mut worst: FxHashMap<IpAddr, &CollisionFinding> = FxHashMap::default();
        for c in &collisions {
            worst.entry(c.source).or_insert(c);
        }
        let mut sources: Vec<SourceFinding> = tally
            .sources
            .take()
            .into_iter()
            .map(|(ip, t)| {
                let fix = worst.get(&ip).and_then(|c| {
                    let s = &servers[*server_index.get(&c.server)?];
                    let failures = t.time_wait_failures;
                    Some(fix(
                        ip,
                        &t,
                        c.server,
                        failures,
                        &s.judgement.bracket,
                        window,
                    ))
                });
                SourceFinding {
                    ip,
                    pattern: t.pattern(window),
                    fix,
                    tally: t,
                }
            })
            .collect();
        sources.sort_by_key(|s| (s.tally.first_ts, s.ip));
        let mut asymmetries: Vec<Asymmetry> = tally
            .ports
            .iter()
            .filter(|(_, d)| d.both_ways())
            .filter_map(|(k, d)| d.asymmetry(*k))
            .collect();
        asymmetries.sort_by_key(|a| (a.initiator, a.refuser, a.port));
        let mut relays: Vec<(Relay, u64)> = tally
            .relays
            .iter()
            .filter(|(r, n)| **n >= RELAY_MIN_CONVERSATIONS && relayed_most(&tally, r, **n))
            .map(|(r, n)| (*r, *n))
            .collect();
        relays.sort();
        let fix = sources
            .iter()
            .filter_map(|s| s.fix)
            .max_by(|a, b| a.failures.cmp(&b.failures).then(b.source.cmp(&a.source)));
        let summarised = Summarised {
            sources: tally.sources.dropped,
            source_attempts: tally.sources.others.as_ref().map_or(0, |o| o.attempts),
            servers: tally.servers.dropped,
            server_attempts: tally
                .servers
                .others
                .as_ref()
                .map_or(0, |o| o.outcomes.total()),
            collisions: tally.collisions.dropped,
            port_pairs: tally.ports.dropped,
            relays: tally.relays_dropped,
            flagged_rows: tally.flagged_total - tally.flagged.len() as u64,
        };
        Findings {
            window_ns: window,
            outcomes: tally.outcomes,
            cross: tally.cross,
            causes: tally.causes,
            refusal_forms: tally.refusal_forms,
            syn_retransmits: tally.syn_retransmits,
            challenged_then_established: tally.challenged_then_established,
            flagged_total: tally.flagged_total,
            flagged: tally.flagged.clone(),
            servers,
            sources,
            collisions,
            asymmetries,
            relays,
            relays_ambiguous: tally.relays_ambiguous,
            fix,
            summarised,
            server_index,
            tally,
        }
    }
}

fn collision(t: &Tally, source: IpAddr, server: Endpoint, c: &Collision) -> CollisionFinding {
    // All of the source's failures to that server: the port-pair directions hold them.
    let (key, direction) = if source <= server.ip {
        ((source, server.ip, server.port), 0)
    } else {
        ((server.ip, source, server.port), 1)
    };
    let mut failed = t
        .ports
        .get(&key)
        .map_or(c.outcomes, |d| d.0[direction].outcomes());
    failed.0[Outcome::Established as usize] = 0;
    failed.0[Outcome::Unknown as usize] = 0;
    CollisionFinding {
        source,
        server,
        failed,
        in_time_wait: c.outcomes,
        gaps: c.gaps,
    }
}

/// The matched conversations are at least half of the client's established connections to
/// relay:port (a relay relays every conversation; coincidences touch few).
fn relayed_most(t: &Tally, r: &Relay, matched: u64) -> bool {
    let (key, direction) = if r.client <= r.relay {
        ((r.client, r.relay, r.port), 0)
    } else {
        ((r.relay, r.client, r.port), 1)
    };
    t.ports.get(&key).is_some_and(|d| {
        let established = d.0[direction].outcomes().get(Outcome::Established);
        matched * 2 >= established
    })
}
