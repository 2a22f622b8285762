//! How each server treats a SYN that reuses a 4-tuple it still holds in TIME_WAIT: the
//! TIME_WAIT length bracketed from the data, the acceptance rules it follows, its response
//! style, and how the share of failed attempts moves over time.

use crate::attempt::{Attempt, Outcome, ReuseClass};
use crate::time::{NANOS_PER_SEC, Ts};

/// What the server did with SYNs that reused a 4-tuple it held in TIME_WAIT (in the window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Responses {
    pub silent: u64,
    pub challenged: u64,
    pub challenged_then_accepted: u64,
    pub accepted: u64,
    pub refused: u64,
    pub icmp: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ServerBehaviour {
    pub responses: Responses,
    /// Longest gap of a reuse the server still treated as TIME_WAIT (it failed or was
    /// challenged): TIME_WAIT is at least this long.
    pub longest_held_ns: Option<i64>,
    /// Reuses the server accepted with no help from ISN or timestamp (gap, candidate upper
    /// bounds), and the same for those where the ISN or TSval had advanced.
    shortest_plain_accept_ns: Vec<i64>,
    accepts_with_advance_ns: Vec<i64>,
    /// A reuse with an advanced ISN was still ignored: the server does not use RFC 1122's rule.
    pub ignored_despite_isn: u64,
    /// Attempts and failures per minute of the capture (index = minute since the first).
    pub per_minute: Vec<(u64, u64)>,
    /// Reuses in the server's TIME_WAIT by the acceptance rule that explains them.
    pub verdicts: crate::FxIndexMap<&'static str, u64>,
}

impl ServerBehaviour {
    pub fn add(&mut self, a: &Attempt, origin: Ts) {
        let minute = (a.ts.since(origin).max(0) / (60 * NANOS_PER_SEC)) as usize;
        if minute < 100_000 {
            if self.per_minute.len() <= minute {
                self.per_minute.resize(minute + 1, (0, 0));
            }
            self.per_minute[minute].0 += 1;
            self.per_minute[minute].1 += u64::from(a.outcome.is_failure());
        }
        if let Some(v) = verdict(a) {
            *self.verdicts.entry(v).or_insert(0) += 1;
        }
        let Some(reuse) = a.reuse.filter(|r| !r.open && r.holder.server_holds()) else {
            return;
        };
        // Held in TIME_WAIT: ignored or challenged. A RST or an ICMP error says the port or
        // host refused, not how long TIME_WAIT lasts.
        let held = matches!(a.outcome, Outcome::Unanswered | Outcome::ChallengeAck)
            || a.challenge_acks > 0;
        let advanced = reuse.isn_advanced == Some(true) || reuse.ts_advanced == Some(true);
        if held {
            self.longest_held_ns = Some(
                self.longest_held_ns
                    .map_or(reuse.gap_ns, |m| m.max(reuse.gap_ns)),
            );
            if a.outcome == Outcome::Unanswered && reuse.isn_advanced == Some(true) {
                self.ignored_despite_isn += 1;
            }
        } else if a.outcome == Outcome::Established {
            let list = if advanced {
                &mut self.accepts_with_advance_ns
            } else {
                &mut self.shortest_plain_accept_ns
            };
            keep_smallest(list, reuse.gap_ns, self.longest_held_ns);
        }
        if a.reuse_class() == ReuseClass::InWindow {
            let r = &mut self.responses;
            match a.outcome {
                Outcome::Established if a.challenge_acks > 0 => r.challenged_then_accepted += 1,
                Outcome::Established => r.accepted += 1,
                Outcome::Refused => r.refused += 1,
                Outcome::IcmpUnreachable => r.icmp += 1,
                Outcome::ChallengeAck => r.challenged += 1,
                Outcome::Unanswered => r.silent += 1,
                Outcome::Unknown => {}
            }
        }
    }

    /// TIME_WAIT bracketed by the data: at least the longest gap the server still held, at
    /// most the shortest gap it accepted beyond that. Accepts helped by an advanced ISN or
    /// timestamp prove nothing about TIME_WAIT, unless the server ignored advanced ISNs too.
    pub fn time_wait_bracket(&self) -> (Option<i64>, Option<i64>) {
        let lower = self.longest_held_ns;
        let beyond = |g: &&i64| lower.is_none_or(|l| **g > l);
        let mut upper = self
            .shortest_plain_accept_ns
            .iter()
            .filter(beyond)
            .min()
            .copied();
        if self.ignored_despite_isn > 0 {
            let with_advance = self
                .accepts_with_advance_ns
                .iter()
                .filter(beyond)
                .min()
                .copied();
            upper = match (upper, with_advance) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (lower, upper)
    }

    /// The dominant way the server answered reused SYNs in its TIME_WAIT, if it was tested.
    pub fn response_style(&self) -> Option<&'static str> {
        let r = &self.responses;
        let styles = [
            (r.silent, "silent drop"),
            (
                r.challenged + r.challenged_then_accepted,
                "challenge ACK + RST + retry (Linux)",
            ),
            (r.accepted, "accept"),
            (r.refused, "RST"),
            (r.icmp, "ICMP unreachable"),
        ];
        styles
            .iter()
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n)
            .map(|(_, name)| *name)
    }
}

/// Accept gaps kept per server to find the shortest one above the lower bound.
const ACCEPTS_KEPT: usize = 4096;

/// Keeps accept gaps that can still be the upper bound: the lower bound only grows, so a gap
/// at or below it never can. Past ACCEPTS_KEPT, the largest go (exact unless a server accepted
/// thousands of reuses at gaps shorter than one it still held, when no bracket makes sense).
fn keep_smallest(list: &mut Vec<i64>, value: i64, lower: Option<i64>) {
    if lower.is_some_and(|l| value <= l) {
        return;
    }
    list.push(value);
    if list.len() > ACCEPTS_KEPT {
        list.retain(|g| lower.is_none_or(|l| *g > l));
        list.sort_unstable();
        list.truncate(ACCEPTS_KEPT);
    }
}

/// What a known TIME_WAIT default a bracket is consistent with.
pub fn known_default(lower: Option<i64>, upper: Option<i64>) -> Option<&'static str> {
    let fits = |secs: i64| {
        lower.is_none_or(|l| l <= secs * NANOS_PER_SEC)
            && upper.is_none_or(|u| u >= secs * NANOS_PER_SEC)
    };
    // A bracket that leaves both defaults open says nothing.
    if upper.is_none() && lower.is_none_or(|l| l <= 60 * NANOS_PER_SEC) {
        None
    } else if fits(240) && !fits(60) {
        Some("Windows' 240 s default")
    } else if fits(60) && !fits(240) {
        Some("Linux's fixed 60 s")
    } else if fits(60) && fits(240) {
        Some("Linux's 60 s or Windows' 240 s")
    } else {
        None
    }
}

/// Why a reuse in the server's TIME_WAIT ended as it did, from the acceptance rules.
pub fn verdict(a: &Attempt) -> Option<&'static str> {
    let reuse = a.reuse.filter(|r| r.in_window && r.holder.server_holds())?;
    let isn = reuse.isn_advanced == Some(true);
    let ts = reuse.ts_advanced == Some(true);
    Some(match a.outcome {
        Outcome::Established if a.challenge_acks > 0 => {
            "challenged, then let in once the client's RST cleared TIME_WAIT"
        }
        Outcome::Established if ts => "accepted: timestamp advanced (RFC 6191)",
        Outcome::Established if isn => {
            "accepted: ISN advanced, as Linux and BSD allow (RFC 1122 4.2.2.13)"
        }
        Outcome::Established => "accepted although neither ISN nor timestamp advanced",
        Outcome::ChallengeAck if !isn && !ts => {
            "challenged: ISN not above the old connection's last sequence number, no newer timestamp"
        }
        Outcome::ChallengeAck => "challenged",
        Outcome::Unanswered if isn => {
            "ignored although ISN advanced: the server does not accept SYNs in TIME_WAIT, like Windows 2000/2003"
        }
        Outcome::Unanswered => "ignored",
        Outcome::Refused => "refused (RST)",
        Outcome::IcmpUnreachable => "ICMP error",
        Outcome::Unknown => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    #[test]
    fn bracket_from_held_and_accepted_gaps() {
        let mut b = ServerBehaviour {
            longest_held_ns: Some(118 * S),
            ..Default::default()
        };
        keep_smallest(&mut b.shortest_plain_accept_ns, 245 * S, b.longest_held_ns);
        keep_smallest(&mut b.shortest_plain_accept_ns, 100 * S, b.longest_held_ns); // below the bound
        b.shortest_plain_accept_ns.push(90 * S); // kept before the bound grew: ignored when read
        assert_eq!(b.time_wait_bracket(), (Some(118 * S), Some(245 * S)));
        assert_eq!(
            known_default(Some(118 * S), Some(245 * S)),
            Some("Windows' 240 s default")
        );
        assert_eq!(
            known_default(Some(30 * S), Some(61 * S)),
            Some("Linux's fixed 60 s")
        );
    }

    #[test]
    fn accepts_helped_by_an_advanced_isn_do_not_bound_time_wait() {
        let mut b = ServerBehaviour {
            longest_held_ns: Some(10 * S),
            ..Default::default()
        };
        keep_smallest(&mut b.accepts_with_advance_ns, 20 * S, b.longest_held_ns);
        assert_eq!(b.time_wait_bracket(), (Some(10 * S), None));
        b.ignored_despite_isn = 1;
        assert_eq!(b.time_wait_bracket(), (Some(10 * S), Some(20 * S)));
    }
}
