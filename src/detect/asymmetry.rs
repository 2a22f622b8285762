//! Direction asymmetry per service port (issue 10 item 6; the second field report: X.400
//! through a firewall with client-side transparency): A → B:p fails while B → A:p works, on
//! the same port p. Traffic between A and B on other ports neither hides nor creates it, and
//! a port refused one way that nobody uses the other way is not an asymmetry.
//!
//! A direction fails when at least 80 % of its attempts failed at the TCP level or were
//! refused by the application (refusal.rs), over at least 2 attempts; it works when at
//! least 80 % succeeded, over at least 1. Shards split by client address merge exactly: the
//! two directions of a port come from different clients, and their counts add.

use std::net::IpAddr;

use super::counts::OutcomeCounts;
use super::refusal::{RefusalForm, refusal};
use crate::attempt::{Attempt, Outcome};

/// Attempts opened in one direction on one service port (32-bit counts, saturating: one
/// entry per host pair and port must stay small).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Direction {
    /// By outcome (`Outcome as usize`).
    counts: [u32; 6],
    /// Established, then refused by the application, by form (`RefusalForm as usize`).
    pub refusals: [u32; 4],
}

impl Direction {
    pub fn add(&mut self, a: &Attempt) {
        let n = &mut self.counts[a.outcome as usize];
        *n = n.saturating_add(1);
        if a.outcome == Outcome::Established
            && let Some(form) = a.first_close.as_ref().and_then(refusal)
        {
            let n = &mut self.refusals[form as usize];
            *n = n.saturating_add(1);
        }
    }
    pub fn merge(&mut self, o: &Direction) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.refusals.iter_mut().zip(o.refusals) {
            *a = a.saturating_add(b);
        }
    }
    pub fn outcomes(&self) -> OutcomeCounts {
        OutcomeCounts(self.counts.map(u64::from))
    }
    pub fn attempts(&self) -> u64 {
        self.outcomes().total()
    }
    pub fn refused_by_application(&self) -> u64 {
        self.refusals.iter().map(|n| u64::from(*n)).sum()
    }
    /// Attempts that failed at the TCP level or were refused by the application.
    pub fn failed(&self) -> u64 {
        self.outcomes().failed() + self.refused_by_application()
    }
    pub fn succeeded(&self) -> u64 {
        self.outcomes()
            .get(Outcome::Established)
            .saturating_sub(self.refused_by_application())
    }
    pub fn forms(&self) -> impl Iterator<Item = (RefusalForm, u64)> + '_ {
        RefusalForm::ALL
            .into_iter()
            .map(|f| (f, u64::from(self.refusals[f as usize])))
            .filter(|(_, n)| *n > 0)
    }
    fn fails(&self) -> bool {
        self.attempts() >= 2 && self.failed() * 5 >= self.attempts() * 4
    }
    fn works(&self) -> bool {
        self.attempts() >= 1 && self.succeeded() * 5 >= self.attempts() * 4
    }
}

/// The key of a service port between two hosts: (lower address, higher address, port).
pub type PortPair = (IpAddr, IpAddr, u16);

/// Both directions on one service port; `[0]` is from the lower address to the higher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortDirections(pub [Direction; 2]);

/// The key and direction index of an attempt.
pub fn key(a: &Attempt) -> (PortPair, usize) {
    let (c, s) = (a.client.ip, a.server.ip);
    if c <= s {
        ((c, s, a.server.port), 0)
    } else {
        ((s, c, a.server.port), 1)
    }
}

impl PortDirections {
    pub fn merge(&mut self, o: &PortDirections) {
        self.0[0].merge(&o.0[0]);
        self.0[1].merge(&o.0[1]);
    }

    /// Whether both directions were tried (only those can become an asymmetry).
    pub fn both_ways(&self) -> bool {
        self.0[0].attempts() > 0 && self.0[1].attempts() > 0
    }

    pub fn asymmetry(&self, (low, high, port): PortPair) -> Option<Asymmetry> {
        let [a, b] = self.0;
        let (initiator, refuser, failing, working) = if a.fails() && b.works() {
            (low, high, a, b)
        } else if b.fails() && a.works() {
            (high, low, b, a)
        } else {
            return None;
        };
        Some(Asymmetry {
            initiator,
            refuser,
            port,
            failing,
            working,
        })
    }
}

/// One service port where one direction fails while the other works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asymmetry {
    /// The host whose connections to `refuser:port` fail.
    pub initiator: IpAddr,
    pub refuser: IpAddr,
    pub port: u16,
    pub failing: Direction,
    /// `refuser` → `initiator:port`.
    pub working: Direction,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::FirstClose;
    use crate::tcp::{Endpoint, FrameRef, Seq};
    use crate::time::Ts;

    fn attempt(from: &str, to: &str, port: u16, outcome: Outcome, refused: bool) -> Attempt {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        let mut a = Attempt::from_syn(
            FrameRef::default(),
            Ts(0),
            ep(from, 40000),
            ep(to, port),
            Seq(0),
        );
        a.outcome = outcome;
        a.first_close = refused.then_some(FirstClose {
            by_server: true,
            reset: false,
            after_ns: 5_000_000,
            server_bytes: 11,
            client_bytes: 200,
        });
        a
    }

    fn judge(list: &[Attempt]) -> Vec<Asymmetry> {
        let mut map = std::collections::BTreeMap::<PortPair, PortDirections>::new();
        for a in list {
            let (k, d) = key(a);
            map.entry(k).or_default().0[d].add(a);
        }
        map.iter().filter_map(|(k, v)| v.asymmetry(*k)).collect()
    }

    #[test]
    fn a_port_refused_one_way_and_working_the_other_is_named_other_ports_do_not_dilute_it() {
        let (e, f) = ("10.0.0.5", "10.0.0.6");
        let mut list = Vec::new();
        for _ in 0..10 {
            list.push(attempt(e, f, 102, Outcome::Established, true));
            list.push(attempt(f, e, 102, Outcome::Established, false));
            list.push(attempt(e, f, 80, Outcome::Established, false));
            list.push(attempt(e, f, 80, Outcome::Established, false));
            list.push(attempt(e, f, 81, Outcome::Refused, false));
        }
        let found = judge(&list);
        assert_eq!(found.len(), 1);
        let a = found[0];
        assert_eq!(
            (a.initiator.to_string(), a.refuser.to_string(), a.port),
            (e.into(), f.into(), 102)
        );
        assert_eq!(a.failing.refused_by_application(), 10);
    }

    #[test]
    fn a_port_closed_one_way_that_nobody_uses_the_other_way_is_not_an_asymmetry() {
        let list: Vec<Attempt> = (0..5)
            .flat_map(|_| {
                [
                    attempt("10.0.0.5", "10.0.0.6", 81, Outcome::Refused, false),
                    attempt("10.0.0.6", "10.0.0.5", 80, Outcome::Established, false),
                ]
            })
            .collect();
        assert!(judge(&list).is_empty());
    }
}
