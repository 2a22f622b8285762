//! The detect stage (issue 10): decided attempts and ended connections in, one typed
//! [`Findings`] value out. Everything is computed as the attempts stream in, in state with a
//! budget (issue 14), so that nothing slow runs after the last frame: finishing turns each
//! kept host's counters into its findings in constant time per host (issue 12). Nothing here
//! formats text; `report` words it.
//!
//! - [`cause`]: why an attempt failed or was challenged, decided with the attempt;
//! - [`gaps`]: every SYN of a reuse at its own gap, as TIME_WAIT evidence;
//! - [`cross`]: the cross table of reuse against outcome;
//! - [`sources`], [`schedule`]: source-port allocation, what the clients felt;
//! - [`servers`], [`time_wait`], [`minutes`]: per-server evidence, bracket, verdicts, history;
//! - [`refusal`], [`asymmetry`]: application refusals, direction asymmetry per service port;
//! - [`relays`]: both legs of relayed conversations;
//! - [`fix`]: the fix as data;
//! - [`bounded`], [`tally`], [`findings`]: budgeted state, what merges, what it amounts to.

pub mod asymmetry;
pub mod bounded;
pub mod cause;
pub mod counts;
pub mod cross;
pub mod findings;
pub mod fix;
pub mod gaps;
pub mod minutes;
pub mod refusal;
pub mod relays;
pub mod schedule;
pub mod servers;
pub mod sources;
pub mod tally;
pub mod time_wait;

pub use cause::{Cause, Context};
pub use findings::Findings;

use crate::attempt::{Attempt, Outcome};
use crate::budget::Budgets;
use crate::track::ConnEnd;
use relays::RelayFinder;
use sources::SourceTally;
use tally::{Capacities, Flagged, Tally};

/// What the detect stage needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// `--time-wait`.
    pub window_ns: i64,
    pub budgets: Budgets,
    /// Flagged attempts kept for the tables (the JSON streams all of them).
    pub flagged_rows: usize,
}

/// What the detector decided about one attempt, streamed with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub cause: Option<Cause>,
    pub flagged: bool,
}

/// The streaming detector: fed every decided attempt and ended connection.
pub struct Detector {
    tally: Tally,
    relays: RelayFinder,
}

impl Detector {
    pub fn new(config: &Config) -> Detector {
        let caps = Capacities::from_budgets(&config.budgets);
        Detector {
            tally: Tally::new(config.window_ns, &caps, config.flagged_rows),
            relays: RelayFinder::new(caps.relay_legs),
        }
    }

    /// Decides the attempt's cause and folds it in: constant work, a few hash lookups.
    pub fn add(&mut self, a: &Attempt, cx: &Context) -> Judged {
        let t = &mut self.tally;
        // The server's entry, looked up once: what it says so far decides the cause, and the
        // attempt goes into it (nothing else here touches the servers' table, so taking it
        // first, evicting if full, is what taking it at the end would do).
        let server = t.servers.entry(a.server, Default::default);
        // The shortest gap at which this server let in a SYN whose ISN and timestamp had not
        // advanced, so far (none for a server new to the table).
        let floor = server.time_wait.accepts[0][0].gaps.min();
        let cause = cause::cause_given(a, cx, floor);
        let time_wait = cause == Some(Cause::ServerTimeWait);
        t.first_ts = Some(t.first_ts.map_or(a.ts, |f| f.min(a.ts)));
        t.outcomes.add(a.outcome);
        t.cross.add(a);
        if let Some(c) = cause {
            t.causes[c as usize] += 1;
        }
        if cause == Some(Cause::ApplicationRefused)
            && let Some(form) = a.first_close.as_ref().and_then(refusal::refusal)
        {
            t.refusal_forms[form as usize] += 1;
        }
        t.syn_retransmits += u64::from(a.syn_retransmits);
        t.challenged_then_established +=
            u64::from(a.outcome == Outcome::Established && a.challenge_acks > 0);
        t.sources
            .entry(a.client.ip, || SourceTally::new(a.ts))
            .add(a, time_wait);
        // A RST or ICMP error says something about TIME_WAIT only inside the window.
        // Held beyond any common TIME_WAIT (MAX_TIME_WAIT_NS), a SYN was held for another
        // reason: not evidence of TIME_WAIT.
        let evidence = gaps::evidence(a).filter(|e| {
            e.held_gap.is_none_or(|g| g <= cause::MAX_TIME_WAIT_NS)
                && (!e.handling.is_refusal()
                    || (a.reuse.is_some_and(|r| r.in_window) && cause::below(e.held_gap, floor)))
        });
        server.add(a, cause, evidence.as_ref());
        if time_wait
            && a.outcome.is_failure()
            && let Some(r) = a.reuse
        {
            let c = t
                .collisions
                .entry((a.client.ip, a.server), Default::default);
            c.outcomes.add(a.outcome);
            c.gaps.add(r.gap_ns);
        }
        let (key, direction) = asymmetry::key(a);
        t.ports.entry(key, Default::default).0[direction].add(a);
        let flagged = a.is_flagged() || cause.is_some();
        if flagged {
            t.flagged_total += 1;
            if t.flagged.len() < t.flag_cap {
                t.flagged.push(Flagged { attempt: *a, cause });
            }
        }
        Judged { cause, flagged }
    }

    /// A connection that ended (for relays).
    pub fn add_end(&mut self, end: &ConnEnd) {
        if let Some(relay) = self.relays.add(end) {
            self.tally.add_relay(relay, 1);
        }
    }

    /// The findings so far: constant time per kept host.
    pub fn finish(mut self) -> Findings {
        self.tally.relays_ambiguous += self.relays.ambiguous;
        Findings::from_tally(self.tally)
    }
}
