//! A server's TIME_WAIT from the evidence of every SYN (issue 10 items 1 and 2): bracketed
//! by the longest gap at which it still held a SYN and the shortest gap at which it let one
//! in; the acceptance rule behind each reuse (verdicts); its response style; and what to say
//! when the evidence conflicts, when the capture cannot bound it, or when `--time-wait` is
//! shorter than what the server visibly holds.

use serde::Serialize;

use super::counts::{GapRange, min_opt};
use super::gaps::Handling;
use super::servers::TimeWaitEvidence;
use crate::tcp::FrameRef;
use crate::time::NANOS_PER_SEC;

/// Below this, a lower bound alone says nothing (Windows' TcpTimedWaitDelay minimum is 30 s,
/// Linux's TIME_WAIT is 60 s): the capture cannot bound TIME_WAIT.
pub const MEANINGFUL_LOWER_NS: i64 = 30 * NANOS_PER_SEC;

/// How far a measured gap may miss a TIME_WAIT length and still fit it: 2.5 %, at least
/// 0.5 s. The gaps are measured at the capture point, not at the server, and stacks reap
/// TIME_WAIT on timer ticks (Windows' TCP timers tick every 500 ms or more), so a SYN
/// ignored a second after 240 s is still a 240 s TIME_WAIT.
pub fn slack(ns: i64) -> i64 {
    (ns / 40).max(NANOS_PER_SEC / 2)
}

/// The TIME_WAIT lengths of common stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownTimeWait {
    /// Linux's TIME_WAIT, fixed at 60 s (TCP_TIMEWAIT_LEN).
    #[serde(rename = "linux_60s")]
    Linux60,
    /// Windows' TcpTimedWaitDelay default (240 s on Windows 2000/2003).
    #[serde(rename = "windows_240s")]
    Windows240,
    /// Both fit the bracket.
    #[serde(rename = "linux_60s_or_windows_240s")]
    Either,
}

impl KnownTimeWait {
    pub fn nanos(self) -> Option<i64> {
        match self {
            KnownTimeWait::Linux60 => Some(60 * NANOS_PER_SEC),
            KnownTimeWait::Windows240 => Some(240 * NANOS_PER_SEC),
            KnownTimeWait::Either => None,
        }
    }
}

/// How a server answers a SYN on a 4-tuple it holds in TIME_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStyle {
    /// Ignores it; the client retransmits (Windows).
    SilentDrop,
    /// A bare ACK; the client's RST clears TIME_WAIT and its retry gets in (Linux, RFC 5961).
    ChallengeAck,
    Rst,
    /// Lets it in when its ISN or timestamp advanced (RFC 1122 4.2.2.13, RFC 6191).
    Accept,
    IcmpUnreachable,
}

impl ResponseStyle {
    /// The TIME_WAIT the style implies, when the data cannot bound it.
    pub fn implies(self) -> Option<KnownTimeWait> {
        match self {
            ResponseStyle::ChallengeAck => Some(KnownTimeWait::Linux60),
            ResponseStyle::SilentDrop => Some(KnownTimeWait::Windows240),
            _ => None,
        }
    }
}

/// The held and accepted gaps that cannot both be true of one TIME_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// A SYN was still held at this gap...
    pub held_ns: i64,
    pub held_frame: Option<FrameRef>,
    /// ...but one was let in (not explained by an advanced ISN or timestamp) at this shorter one.
    pub accepted_ns: i64,
}

/// TIME_WAIT as the data bounds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bracket {
    /// The longest gap at which the server still held a SYN.
    pub at_least_ns: Option<i64>,
    pub at_least_frame: Option<FrameRef>,
    /// The shortest gap at which it let a SYN in that nothing but the end of TIME_WAIT explains.
    pub at_most_ns: Option<i64>,
    pub consistent_with: Option<KnownTimeWait>,
    pub conflict: Option<Conflict>,
    /// Whether the data bounds TIME_WAIT at all (an upper bound, or a lower one of at least
    /// MEANINGFUL_LOWER_NS).
    pub bounded: bool,
    /// When it does not: what the response style implies.
    pub implied: Option<KnownTimeWait>,
    /// How far beyond `--time-wait` the server visibly held SYNs (ignored or challenged).
    pub beyond_window_ns: Option<i64>,
}

/// Why the server ended reuses of 4-tuples it held as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ignored,
    /// Ignored although the ISN advanced: the server does not let SYNs into TIME_WAIT early
    /// (Windows 2000/2003).
    IgnoredDespiteIsn,
    /// Ignored, then a retransmission got in once TIME_WAIT had ended.
    IgnoredThenLetIn,
    Challenged,
    /// Challenged, then let in once the client's RST cleared TIME_WAIT (Linux).
    ChallengedThenLetIn,
    /// Let in early because the TSval advanced (RFC 6191).
    AcceptedTimestampAdvanced,
    /// Let in early because the ISN advanced (RFC 1122 4.2.2.13).
    AcceptedIsnAdvanced,
    /// Let in at gaps beyond every held one: TIME_WAIT had ended.
    AcceptedAfterTimeWait,
    /// Let in at a gap at or below one at which another SYN was still held, with no advance
    /// to explain it: the evidence conflicts.
    AcceptedConflicting,
    Refused,
    /// Refused (RST), then a retransmission got in once TIME_WAIT had ended.
    RefusedThenLetIn,
    IcmpError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictCount {
    pub verdict: Verdict,
    pub count: u64,
    /// The gaps of the SYNs that got in (accepted verdicts only).
    pub gaps: GapRange,
}

/// What one server's evidence amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub bracket: Bracket,
    pub style: Option<ResponseStyle>,
    pub verdicts: Vec<VerdictCount>,
}

/// Accepts explained by an advanced timestamp or ISN, and those only the end of TIME_WAIT
/// explains (plain), given what the server showed it does with advanced SYNs.
struct Accepted {
    timestamp: u64,
    isn: u64,
    plain: super::servers::Accepts,
}

fn accepted(e: &TimeWaitEvidence) -> Accepted {
    // A server seen holding a SYN whose ISN (TSval) advanced does not let such SYNs in
    // early: its accepts of them are plain.
    let honours_ts = e.held_ts_advanced == 0;
    let honours_isn = e.held_isn_advanced == 0;
    let mut out = Accepted {
        timestamp: 0,
        isn: 0,
        plain: Default::default(),
    };
    for (isn, row) in e.accepts.iter().enumerate() {
        for (ts, a) in row.iter().enumerate() {
            if ts == 1 && honours_ts {
                out.timestamp += a.count;
            } else if isn == 1 && honours_isn {
                out.isn += a.count;
            } else {
                out.plain.count += a.count;
                out.plain.gaps.merge(&a.gaps);
            }
        }
    }
    out
}

pub fn judge(e: &TimeWaitEvidence, window_ns: i64) -> Judgement {
    let accepted = accepted(e);
    let held = e.held.gap_ns;
    let lower = match (held, e.refused_held.gap_ns) {
        (Some(h), Some(r)) => Some(h.max(r)),
        (h, r) => h.or(r),
    };
    let lower_frame = match (held, e.refused_held.gap_ns) {
        (Some(h), Some(r)) if r > h => e.refused_held.frame,
        (Some(_), _) => e.held.frame,
        _ => e.refused_held.frame,
    };
    let upper = min_opt(
        accepted.plain.gaps.min(),
        min_opt(e.let_in.gaps.min(), e.refused_let_in.gaps.min()),
    );
    let conflict = match (lower, upper) {
        (Some(l), Some(u)) if u <= l => Some(Conflict {
            held_ns: l,
            held_frame: lower_frame,
            accepted_ns: u,
        }),
        _ => None,
    };
    let style = style(e, &accepted);
    let bounded = upper.is_some() || lower.is_some_and(|l| l >= MEANINGFUL_LOWER_NS);
    let bracket = Bracket {
        at_least_ns: lower,
        at_least_frame: lower_frame,
        at_most_ns: upper,
        consistent_with: if bounded && conflict.is_none() {
            known_default(lower, upper)
        } else {
            None
        },
        conflict,
        bounded,
        implied: if bounded {
            None
        } else {
            style.and_then(ResponseStyle::implies)
        },
        beyond_window_ns: held
            .map(|h| h - window_ns)
            .filter(|d| *d > slack(window_ns)),
    };
    Judgement {
        bracket,
        style,
        verdicts: verdicts(e, &accepted, lower),
    }
}

fn style(e: &TimeWaitEvidence, accepted: &Accepted) -> Option<ResponseStyle> {
    let challenged = e.count(Handling::Challenged) + e.count(Handling::ChallengedThenLetIn);
    let silent = e.count(Handling::Ignored) + e.count(Handling::IgnoredThenLetIn);
    let refused = e.count(Handling::Refused) + e.count(Handling::RefusedThenLetIn);
    let icmp = e.count(Handling::IcmpError);
    // The way it held most SYNs; a server that challenged SYNs is never "accept" (issue
    // 10 item 2), and challenges win ties (a Linux server lets some SYNs go unanswered
    // when it rate-limits its challenge ACKs).
    let held = [
        (challenged, ResponseStyle::ChallengeAck),
        (silent, ResponseStyle::SilentDrop),
        (refused, ResponseStyle::Rst),
        (icmp, ResponseStyle::IcmpUnreachable),
    ];
    let most = held.iter().map(|(n, _)| *n).max().unwrap_or(0);
    if most > 0 {
        return held.iter().find(|(n, _)| *n == most).map(|(_, s)| *s);
    }
    (accepted.timestamp + accepted.isn > 0).then_some(ResponseStyle::Accept)
}

fn verdicts(e: &TimeWaitEvidence, accepted: &Accepted, lower: Option<i64>) -> Vec<VerdictCount> {
    let none = GapRange::default();
    let plain_verdict = match (accepted.plain.gaps.min(), lower) {
        (Some(min), Some(l)) if min <= l => Verdict::AcceptedConflicting,
        _ => Verdict::AcceptedAfterTimeWait,
    };
    let ignored = e.count(Handling::Ignored);
    let list = [
        (
            Verdict::Ignored,
            ignored - e.ignored_isn_advanced.min(ignored),
            none,
        ),
        (
            Verdict::IgnoredDespiteIsn,
            e.ignored_isn_advanced.min(ignored),
            none,
        ),
        (Verdict::IgnoredThenLetIn, e.let_in.count, e.let_in.gaps),
        (Verdict::Challenged, e.count(Handling::Challenged), none),
        (
            Verdict::ChallengedThenLetIn,
            e.count(Handling::ChallengedThenLetIn),
            none,
        ),
        (Verdict::AcceptedTimestampAdvanced, accepted.timestamp, none),
        (Verdict::AcceptedIsnAdvanced, accepted.isn, none),
        (plain_verdict, accepted.plain.count, accepted.plain.gaps),
        (Verdict::Refused, e.count(Handling::Refused), none),
        (
            Verdict::RefusedThenLetIn,
            e.refused_let_in.count,
            e.refused_let_in.gaps,
        ),
        (Verdict::IcmpError, e.count(Handling::IcmpError), none),
    ];
    list.into_iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|(verdict, count, gaps)| VerdictCount {
            verdict,
            count,
            gaps,
        })
        .collect()
}

/// Which known TIME_WAIT a bracket is consistent with.
pub fn known_default(lower: Option<i64>, upper: Option<i64>) -> Option<KnownTimeWait> {
    let fits = |secs: i64| {
        let ns = secs * NANOS_PER_SEC;
        lower.is_none_or(|l| l < ns + slack(ns)) && upper.is_none_or(|u| u >= ns - slack(ns))
    };
    // A bracket that leaves both defaults open says nothing.
    if upper.is_none() && lower.is_none_or(|l| l < 60 * NANOS_PER_SEC) {
        None
    } else if fits(240) && !fits(60) {
        Some(KnownTimeWait::Windows240)
    } else if fits(60) && !fits(240) {
        Some(KnownTimeWait::Linux60)
    } else if fits(60) && fits(240) {
        Some(KnownTimeWait::Either)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::Outcome;
    use crate::detect::gaps::{evidence, tests::reusing};
    use crate::detect::servers::ServerTally;

    const S: i64 = NANOS_PER_SEC;

    fn server(attempts: &[crate::attempt::Attempt]) -> ServerTally {
        let mut s = ServerTally::default();
        for a in attempts {
            s.add(a, None, evidence(a).as_ref());
        }
        s
    }

    #[test]
    fn retransmissions_let_in_after_240_s_bracket_a_windows_server_around_240_s() {
        // Issue 10: first SYNs at 231..239 s ignored, let in 3 or 9 s later.
        let mut list = Vec::new();
        for gap in [231.0, 234.5, 239.0] {
            let mut a = reusing(gap, &[3.0, 9.0], Outcome::Established);
            a.answered_syn = Some(if gap + 3.0 >= 240.0 { 1 } else { 2 });
            list.push(a);
        }
        list.push(reusing(120.0, &[3.0, 9.0], Outcome::Unanswered));
        let j = judge(&server(&list).time_wait, 240 * S);
        assert_eq!(j.bracket.at_least_ns, Some(239 * S));
        assert_eq!(j.bracket.at_most_ns, Some(240 * S));
        assert_eq!(j.bracket.conflict, None);
        assert_eq!(j.bracket.consistent_with, Some(KnownTimeWait::Windows240));
        assert_eq!(j.style, Some(ResponseStyle::SilentDrop));
        // The accepts followed ignored SYNs whose ISN advanced: never "ISN advanced".
        assert!(
            j.verdicts
                .iter()
                .all(|v| v.verdict != Verdict::AcceptedIsnAdvanced)
        );
    }

    #[test]
    fn an_isn_advanced_accept_at_a_server_that_ignores_advanced_isns_is_plain() {
        let list = [
            reusing(100.0, &[3.0, 9.0], Outcome::Unanswered),
            reusing(250.0, &[], Outcome::Established),
        ];
        let j = judge(&server(&list).time_wait, 240 * S);
        assert_eq!(j.bracket.at_most_ns, Some(250 * S));
        let v: Vec<Verdict> = j.verdicts.iter().map(|v| v.verdict).collect();
        assert_eq!(
            v,
            [Verdict::IgnoredDespiteIsn, Verdict::AcceptedAfterTimeWait]
        );
    }

    #[test]
    fn conflicting_evidence_is_said_with_its_numbers() {
        let mut accepted = reusing(50.0, &[], Outcome::Established);
        accepted.reuse.as_mut().unwrap().isn_advanced = Some(false);
        let list = [reusing(100.0, &[3.0, 9.0], Outcome::Unanswered), accepted];
        let j = judge(&server(&list).time_wait, 240 * S);
        let c = j.bracket.conflict.unwrap();
        assert_eq!((c.held_ns, c.accepted_ns), (109 * S, 50 * S));
        assert_eq!(j.bracket.consistent_with, None);
        assert!(
            j.verdicts
                .iter()
                .any(|v| v.verdict == Verdict::AcceptedConflicting)
        );
    }

    #[test]
    fn a_short_capture_cannot_bound_time_wait_and_a_challenger_is_never_accept() {
        let mut a = reusing(0.495, &[0.01], Outcome::Established);
        a.challenge_acks = 1;
        a.answered_syn = Some(1);
        let mut b = reusing(1.0, &[], Outcome::Established);
        b.reuse.as_mut().unwrap().ts_advanced = Some(true);
        let j = judge(&server(&[a, b, b, b]).time_wait, 60 * S);
        assert_eq!(j.style, Some(ResponseStyle::ChallengeAck));
        assert!(!j.bracket.bounded);
        assert_eq!(j.bracket.implied, Some(KnownTimeWait::Linux60));
    }

    #[test]
    fn a_window_shorter_than_what_the_server_holds_is_measured() {
        let list = [reusing(100.0, &[3.0, 9.0], Outcome::Unanswered)];
        let j = judge(&server(&list).time_wait, 60 * S);
        assert_eq!(j.bracket.beyond_window_ns, Some(49 * S));
        // A second beyond a 240 s window is the timer's tick, not a longer TIME_WAIT.
        let tick = [reusing(232.0, &[3.0, 9.0], Outcome::Unanswered)];
        let j = judge(&server(&tick).time_wait, 240 * S);
        assert_eq!(j.bracket.beyond_window_ns, None);
        assert_eq!(
            known_default(Some(241 * S), Some(247 * S)),
            Some(KnownTimeWait::Windows240)
        );
    }
}
