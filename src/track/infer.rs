//! Deciding an attempt, and inferring what one side of the conversation implies about the
//! other (issue 13). Which sides the capture holds is decided per attempt, from its own
//! packets and its server's: an attempt whose server sent nothing on it is judged from the
//! client's behaviour when the capture lacks that server's direction (nothing from any
//! server, or a handshake only the client's packets proved while nothing of that server's
//! was seen); a server that is merely silent in a capture holding its direction leaves the
//! usual reading (`unanswered`). Attempts implied by a server's packets (`implied.rs`) are
//! judged from the server's side, which cannot show an unanswered SYN.
//!
//! From the client's side (each rule is an [`Inference`], documented there with what else
//! the packets could mean):
//! - established: its handshake ACK, then its data or its ACK of the server's data;
//! - challenge_ack: its RST right after its SYN, then the SYN again;
//! - refused: the SYN sent again 0.25-0.8 s later (Windows after a RST), or never
//!   retransmitted although the capture went on past the first retransmission due, by a
//!   client seen elsewhere retransmitting on a timer or completing a handshake (a scanner
//!   or a spoofer sends each SYN once);
//! - unanswered: retransmissions on a timer's schedule, then silence past the next one due;
//! - unknown: anything else.
//!
//! A failure is decided only past the client's next SYN due, or at the end of the capture
//! once the client sent the last SYN its stack sends and that SYN was refused or challenged
//! (no later answer can come; silence after it still waits: a SYN-ACK may still come).

use crate::attempt::{Attempt, Establishment, Evidence, Inference, Outcome, RETRANSMITS_KEPT};
use crate::time::Ts;

use super::Book;
use super::queue::Pending;

const MS: i64 = 1_000_000;
/// A retransmission timer's first SYN retransmission comes after at least this long (Linux
/// and BSD 1 s, Windows 3 s): a SYN sent again sooner was prompted by an answer.
pub(super) const TIMER_FIRST_NS: i64 = 800 * MS;
/// Sooner than this, a SYN sent again is Linux's fast retry after an unacceptable ACK (a
/// challenge ACK: TCP_TIMEOUT_MIN) or a copy, not Windows' retry after a RST.
const SHORT_RETRY_MIN_NS: i64 = 250 * MS;
/// Linux's fast retry after an unacceptable ACK (`tcp_rcv_synsent_state_process`).
const FAST_RETRY_NS: i64 = 100 * MS;

/// What the one-side inference produced (issue 13), for the report: attempts by the sides
/// the capture holds, values by the rule that inferred them, servers seen from one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OneSide {
    /// Attempts by `Evidence` (`Evidence as usize`: both sides, client side only, server
    /// side only).
    pub attempts: [u64; 3],
    /// Values inferred, by rule (`Inference as usize`): outcomes, and TIME_WAIT holders of
    /// reuses (`FinOrder`).
    pub by_rule: [u64; Inference::ALL.len()],
    /// Client-side-only attempts whose outcome stayed `unknown` (no rule applied, or the
    /// capture ended before it could).
    pub client_side_unknown: u64,
    /// Server IPs the capture holds only the clients' side of, and only the server's side of.
    pub client_side_servers: u64,
    pub server_side_servers: u64,
}

impl OneSide {
    pub fn rule(&self, rule: Inference) -> u64 {
        self.by_rule[rule as usize]
    }

    /// The rules that inferred something, with how many values each, in `Inference::ALL`
    /// order.
    pub fn fired(&self) -> impl Iterator<Item = (Inference, u64)> + '_ {
        Inference::ALL
            .iter()
            .map(|rule| (*rule, self.rule(*rule)))
            .filter(|(_, n)| *n > 0)
    }

    pub fn attempts(&self, evidence: Evidence) -> u64 {
        self.attempts[evidence as usize]
    }
}

/// The intervals between an attempt's SYNs (the first RETRANSMITS_KEPT), in nanoseconds.
fn intervals(a: &Attempt) -> ([i64; RETRANSMITS_KEPT], usize) {
    let n = (a.syn_retransmits as usize).min(RETRANSMITS_KEPT);
    let mut out = [0; RETRANSMITS_KEPT];
    let mut before = 0;
    for (slot, us) in out.iter_mut().zip(&a.retransmit_us[..n]) {
        let at = i64::from(*us) * 1_000;
        *slot = at - before;
        before = at;
    }
    (out, n)
}

/// Intervals a retransmission timer produces: the first at least TIMER_FIRST_NS, each next
/// the same (linear timeouts) or doubled (exponential back-off), within timer slack.
fn timer_schedule(intervals: &[i64]) -> bool {
    let Some(first) = intervals.first() else {
        return false;
    };
    *first >= TIMER_FIRST_NS && back_off(intervals)
}

/// Each interval the same as the one before or twice it (within timer slack).
fn back_off(intervals: &[i64]) -> bool {
    intervals.windows(2).all(|w| {
        let ratio = w[1] as f64 / w[0].max(1) as f64;
        (0.8..=1.25).contains(&ratio) || (1.6..=2.5).contains(&ratio)
    })
}

/// Some SYN came again sooner than any timer sends it, yet not as Linux's fast retry.
fn short_retry(intervals: &[i64]) -> bool {
    intervals
        .iter()
        .any(|i| (SHORT_RETRY_MIN_NS..TIMER_FIRST_NS).contains(i))
}

/// The attempt's last SYN is the last its stack sends, so that nothing can answer it later:
/// Windows' third (TcpMaxConnectRetransmissions = 2: +3 s, +9 s), or Linux's seventh
/// (tcp_syn_retries = 6), its first retransmission after 1 s or Linux's fast retry after a
/// challenge ACK, then 1 s apart or doubling. (Linux with tcp_syn_linear_timeouts, 6.x,
/// sends tcp_syn_retries + 4 retransmissions: with defaults the 7th SYN is not its last.
/// The rule is used only at the end of a capture, where it decides rather than waits.)
pub fn last_syn_of_its_stack(a: &Attempt) -> bool {
    let (iv, n) = intervals(a);
    let near = |x: i64, s: f64| (x as f64 - s * 1e9).abs() <= s * 0.2e9;
    match n {
        2 => near(iv[0], 3.0) && near(iv[1], 6.0),
        6 => {
            let first = iv[0] < FAST_RETRY_NS || near(iv[0], 1.0);
            first && iv[1] >= TIMER_FIRST_NS && back_off(&iv[1..n])
        }
        _ => false,
    }
}

/// The outcome from the client's packets alone (the server's direction is not in the
/// capture), and the rule that gave it.
/// `stack`: the client was seen retransmitting on a timer or completing a handshake, so a
/// SYN it never sent again was answered (a scanner or a spoofer sends each SYN once: its
/// silence says nothing).
fn client_side(p: &Pending, now: Ts, finished: bool, stack: bool) -> (Outcome, Option<Inference>) {
    let a = &p.attempt;
    if a.syn_ack.is_some() {
        let by_client = a.established_by == Some(Establishment::ClientHandshake);
        return (
            Outcome::Established,
            by_client.then_some(Inference::ClientHandshake),
        );
    }
    let passed = now > a.next_syn_due;
    let (iv, n) = intervals(a);
    if p.client_rsts > 0 {
        let last_answered = p.last_syn_answered;
        let decided = passed || finished && last_answered && last_syn_of_its_stack(a);
        return if decided && p.rst_retried {
            (Outcome::ChallengeAck, Some(Inference::ClientReset))
        } else {
            (Outcome::Unknown, None)
        };
    }
    if !passed || p.handshake_ack.is_some() {
        (Outcome::Unknown, None)
    } else if short_retry(&iv[..n]) {
        (Outcome::Refused, Some(Inference::ShortRetry))
    } else if a.syn_retransmits == 0 && !p.superseded && stack {
        (Outcome::Refused, Some(Inference::NoRetransmission))
    } else if timer_schedule(&iv[..n]) {
        (Outcome::Unanswered, Some(Inference::TimerRetransmissions))
    } else {
        (Outcome::Unknown, None)
    }
}

/// The rule behind an implied attempt's outcome.
fn server_rule(a: &Attempt) -> Option<Inference> {
    match a.outcome {
        Outcome::Established => Some(Inference::ServerSynAck),
        Outcome::Refused => Some(Inference::ServerReset),
        Outcome::IcmpUnreachable => Some(Inference::ServerIcmp),
        Outcome::ChallengeAck => Some(Inference::ServerChallenge),
        Outcome::Unanswered | Outcome::Unknown => None,
    }
}

impl Book {
    /// Which sides of attempt `p` the capture holds, as far as it has gone.
    fn sides(&self, p: &Pending) -> Evidence {
        let a = &p.attempt;
        if p.implied {
            return Evidence::ServerSideOnly;
        }
        let by_server = a.rst.is_some()
            || a.icmp.is_some()
            || a.challenge_acks > 0
            || a.established_by
                .is_some_and(|e| e != Establishment::ClientHandshake);
        if by_server || !self.seen.client_side_only(a.server.ip) {
            Evidence::BothSides
        } else {
            Evidence::ClientSideOnly
        }
    }

    /// Decides attempt `p` as the capture stands at `now` (`finished`: the capture ended):
    /// its evidence, its outcome and the rule that inferred it.
    pub fn decide(&mut self, p: &mut Pending, now: Ts, finished: bool) {
        let evidence = self.sides(p);
        p.attempt.evidence = evidence;
        match evidence {
            Evidence::BothSides => {
                let a = &p.attempt;
                let refused_last = (a.rst.is_some() || a.challenge_acks > 0)
                    && p.last_syn_answered
                    && finished
                    && last_syn_of_its_stack(a);
                let until = if refused_last { Ts(i64::MAX) } else { now };
                p.attempt.outcome = self.outcome(&p.attempt, until, true);
            }
            Evidence::ClientSideOnly => {
                let stack = self.seen.retransmitting_stack(p.attempt.client.ip);
                let (outcome, rule) = client_side(p, now, finished, stack);
                let a = &mut p.attempt;
                a.outcome = outcome;
                a.inferred = rule;
                // What the client's RSTs show: challenge ACKs the capture does not hold.
                a.challenge_acks = a.challenge_acks.max(u32::from(p.client_rsts));
                self.stats.one_side.client_side_unknown += u64::from(outcome == Outcome::Unknown);
            }
            Evidence::ServerSideOnly => {
                // Silence is never read from this side: no SYN is seen.
                p.attempt.outcome = self.outcome(&p.attempt, now, false);
                p.attempt.inferred = server_rule(&p.attempt);
            }
        }
        let a = &p.attempt;
        let one = &mut self.stats.one_side;
        one.attempts[evidence as usize] += 1;
        if let Some(rule) = a.inferred {
            one.by_rule[rule as usize] += 1;
        }
        if a.holder_inferred && a.reuse.is_some_and(|r| !r.open) {
            one.by_rule[Inference::FinOrder as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Endpoint, FrameRef, Seq};
    use crate::time::NANOS_PER_SEC;

    /// An attempt whose SYNs were sent at these seconds after the first.
    fn sent_at(retransmits_s: &[f64]) -> Attempt {
        let ep = |port| Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port,
        };
        let mut a = Attempt::from_syn(FrameRef::default(), Ts(0), ep(1), ep(2), Seq(7));
        for (i, s) in retransmits_s.iter().enumerate() {
            if let Some(slot) = a.retransmit_us.get_mut(i) {
                *slot = (s * 1e6) as u32;
            }
        }
        a.syn_retransmits = retransmits_s.len() as u32;
        a
    }

    fn schedule(retransmits_s: &[f64]) -> bool {
        let a = sent_at(retransmits_s);
        let (iv, n) = intervals(&a);
        timer_schedule(&iv[..n])
    }

    #[test]
    fn linux_windows_and_linear_timers_are_schedules_and_early_retries_are_not() {
        assert!(schedule(&[1.0, 3.0, 7.0])); // Linux 1, 2, 4 s
        assert!(schedule(&[3.0, 9.0])); // Windows +3 s, +9 s
        assert!(schedule(&[1.0, 2.0, 3.0, 4.0, 6.0])); // linear, then doubling
        assert!(!schedule(&[0.5, 1.0])); // Windows after a RST
        assert!(!schedule(&[0.01, 1.0])); // Linux's fast retry after a challenge ACK
        assert!(!schedule(&[1.0, 9.0])); // no timer does this
        assert!(!schedule(&[]));
    }

    #[test]
    fn the_last_syn_is_windows_third_or_linuxs_seventh() {
        assert!(last_syn_of_its_stack(&sent_at(&[3.0, 9.0])));
        assert!(last_syn_of_its_stack(&sent_at(&[
            1.0, 3.0, 7.0, 15.0, 31.0, 63.0
        ])));
        // linux-tw-never-let-in: a fast retry, 1 s linear timeouts, then doubling.
        assert!(last_syn_of_its_stack(&sent_at(&[
            0.012, 1.018, 2.042, 3.066, 4.090, 6.106
        ])));
        assert!(!last_syn_of_its_stack(&sent_at(&[1.0, 3.0, 7.0])));
        assert!(!last_syn_of_its_stack(&sent_at(&[3.0])));
        assert!(!last_syn_of_its_stack(&sent_at(&[0.5, 1.0])));
    }

    #[test]
    fn a_syn_sent_again_half_a_second_later_is_a_short_retry() {
        let a = sent_at(&[0.5, 1.0, 13.0]);
        let (iv, n) = intervals(&a);
        assert!(short_retry(&iv[..n]));
        let a = sent_at(&[0.012, 1.0]);
        let (iv, n) = intervals(&a);
        assert!(!short_retry(&iv[..n]));
        assert_eq!(NANOS_PER_SEC, 1000 * MS);
    }
}
