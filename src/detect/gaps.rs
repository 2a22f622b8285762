//! Every SYN of an attempt that reused a 4-tuple, at its own gap from the previous
//! connection's end (issue 10 item 1): the first SYN at `reuse.gap_ns`, each retransmission
//! that much later. What the server did with each SYN bounds its TIME_WAIT: a SYN it ignored
//! or challenged was inside it, the SYN it let in was not.

use crate::attempt::{Attempt, Outcome, RETRANSMITS_KEPT, Reuse};

/// The gaps of an attempt's SYNs: the first, then each retransmission whose time the
/// tracker kept (the first RETRANSMITS_KEPT of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynGaps {
    gaps: [i64; RETRANSMITS_KEPT + 1],
    len: usize,
}

impl SynGaps {
    pub fn as_slice(&self) -> &[i64] {
        &self.gaps[..self.len]
    }
}

/// When SYN `index` (0 = the first) was sent, after the first SYN; `None` when the tracker
/// did not keep its time.
pub fn syn_offset(a: &Attempt, index: u32) -> Option<i64> {
    if index == 0 {
        Some(0)
    } else if index == a.syn_retransmits {
        Some(a.last_syn_ts.since(a.ts).max(0))
    } else {
        let us = a.retransmit_us.get(index as usize - 1)?;
        (index <= a.syn_retransmits).then_some(i64::from(*us) * 1_000)
    }
}

/// The gaps of every SYN whose time is known, when the attempt reused a 4-tuple.
pub fn syn_gaps(a: &Attempt) -> Option<SynGaps> {
    let reuse = a.reuse?;
    let mut out = SynGaps {
        gaps: [0; RETRANSMITS_KEPT + 1],
        len: 0,
    };
    let last = (a.syn_retransmits as usize).min(RETRANSMITS_KEPT);
    for index in 0..=last {
        if let Some(offset) = syn_offset(a, index as u32) {
            out.gaps[out.len] = reuse.gap_ns.saturating_add(offset);
            out.len += 1;
        }
    }
    Some(out)
}

/// What the server did with the SYNs of one attempt on a 4-tuple it held in TIME_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handling {
    /// Every SYN went unanswered.
    Ignored,
    /// The first SYNs went unanswered, a retransmission got in.
    IgnoredThenLetIn,
    /// Challenge ACKs only: never let in.
    Challenged,
    /// A challenge ACK, the client's RST cleared TIME_WAIT, a retransmission got in (Linux).
    ChallengedThenLetIn,
    /// The first SYN got in.
    Accepted,
    /// A RST answered.
    Refused,
    /// A RST answered the first SYNs, a retransmission got in once TIME_WAIT had ended.
    RefusedThenLetIn,
    /// An ICMP error answered.
    IcmpError,
}

impl Handling {
    /// A RST or ICMP error held the SYN (weaker evidence than silence or a challenge ACK).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Handling::Refused | Handling::RefusedThenLetIn | Handling::IcmpError
        )
    }
}

/// A new ISN on a 4-tuple this soon after the previous attempt's first SYN meets that
/// attempt still in progress (two clients behind one NAT, a flood), not the TIME_WAIT of the
/// connection before it: no client gives up on a SYN within 3 s.
const PREVIOUS_ATTEMPT_IN_PROGRESS_NS: i64 = 3 * crate::time::NANOS_PER_SEC;

/// One attempt as TIME_WAIT evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub handling: Handling,
    /// The largest gap at which one of its SYNs was held (ignored, challenged or refused).
    pub held_gap: Option<i64>,
    /// The gap of the SYN that got in, when no challenge ACK cleared the way: TIME_WAIT had
    /// ended by then (unless an advanced ISN or timestamp let it in early).
    pub admitted_gap: Option<i64>,
    /// Its ISN was above the old connection's last sequence number (RFC 1122 4.2.2.13).
    pub isn_advanced: bool,
    /// Its TSval was above the old connection's last one (RFC 6191).
    pub ts_advanced: bool,
}

/// The reuse, when it is of a closed 4-tuple whose TIME_WAIT the server held (it sent the
/// first FIN, or the FINs crossed).
pub fn server_held(a: &Attempt) -> Option<Reuse> {
    a.reuse
        .filter(|r| !r.open && r.holder.server_holds() && r.gap_ns >= 0)
}

/// What an attempt says about the server's TIME_WAIT; `None` when it did not reuse a
/// 4-tuple the server held, or its outcome is not known yet.
pub fn evidence(a: &Attempt) -> Option<Evidence> {
    let reuse = server_held(a)?;
    // The previous attempt had not ended (the port's previous use had no end) and began
    // less than 3 s before.
    if a.previous_attempt_frame != Some(reuse.previous_frame)
        && a.port_idle_ns.is_none()
        && a.previous_attempt_gap_ns
            .is_some_and(|g| g < PREVIOUS_ATTEMPT_IN_PROGRESS_NS)
    {
        return None;
    }
    let gap = |index: u32| syn_offset(a, index).map(|o| reuse.gap_ns.saturating_add(o));
    // The last SYN before the answer, or the last SYN of all when nothing came back. Past
    // the kept retransmission times, the last kept one still bounds from below.
    let last_known =
        |index: u32| gap(index).or_else(|| gap(a.syn_retransmits.min(RETRANSMITS_KEPT as u32)));
    let answered = a.answered_syn.unwrap_or(a.syn_retransmits);
    let before_answer = answered.checked_sub(1).and_then(last_known);
    let (handling, held_gap, admitted_gap) = match a.outcome {
        Outcome::Established if a.challenge_acks > 0 => (
            Handling::ChallengedThenLetIn,
            before_answer.or(gap(0)),
            None,
        ),
        Outcome::Established if answered > 0 && a.rst.is_some() => {
            (Handling::RefusedThenLetIn, before_answer, gap(answered))
        }
        Outcome::Established if answered > 0 => {
            (Handling::IgnoredThenLetIn, before_answer, gap(answered))
        }
        Outcome::Established => (Handling::Accepted, None, gap(0)),
        Outcome::Unanswered => (Handling::Ignored, gap(a.syn_retransmits), None),
        Outcome::ChallengeAck => (Handling::Challenged, gap(a.syn_retransmits), None),
        Outcome::Refused => (Handling::Refused, gap(answered).or(gap(0)), None),
        Outcome::IcmpUnreachable => (Handling::IcmpError, gap(answered).or(gap(0)), None),
        // Not decided yet (the capture ended before the client's next SYN was due), but
        // every SYN it sent again was not let in: a challenged one was held at its gap, an
        // unanswered one followed by its retransmission was ignored. The last SYN proves
        // nothing yet.
        Outcome::Unknown if a.syn_ack.is_some() || a.rst.is_some() || a.icmp.is_some() => {
            return None;
        }
        Outcome::Unknown if a.challenge_acks > 0 => {
            (Handling::Challenged, gap(a.syn_retransmits), None)
        }
        Outcome::Unknown => (
            Handling::Ignored,
            a.syn_retransmits.checked_sub(1).and_then(last_known),
            None,
        ),
    };
    if handling == Handling::Ignored && held_gap.is_none() {
        return None;
    }
    Some(Evidence {
        handling,
        held_gap,
        admitted_gap,
        isn_advanced: reuse.isn_advanced == Some(true),
        ts_advanced: reuse.ts_advanced == Some(true),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attempt::Holder;
    use crate::tcp::{Endpoint, FrameRef, Seq};
    use crate::time::{NANOS_PER_SEC, Ts};

    pub const S: i64 = NANOS_PER_SEC;

    /// An attempt reusing a 4-tuple the server held, first SYN `gap_s` after its end, with
    /// retransmissions at `rtx_s` after the first SYN.
    pub fn reusing(gap_s: f64, rtx_s: &[f64], outcome: Outcome) -> Attempt {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        let mut a = Attempt::from_syn(
            FrameRef {
                file: 0,
                number: 100,
            },
            Ts(1_000 * S),
            ep("10.0.0.1", 3000),
            ep("10.0.0.2", 110),
            Seq(7),
        );
        for (i, r) in rtx_s.iter().enumerate() {
            a.retransmit_us[i] = (r * 1e6) as u32;
            a.last_syn_ts = a.ts.add_nanos((r * 1e9) as i64);
        }
        a.syn_retransmits = rtx_s.len() as u32;
        a.outcome = outcome;
        a.reuse = Some(Reuse {
            previous_frame: FrameRef { file: 0, number: 1 },
            previous_ts: Ts(0),
            previous_end_frame: FrameRef { file: 0, number: 9 },
            gap_ns: (gap_s * 1e9) as i64,
            in_window: gap_s < 240.0,
            holder: Holder::Server,
            open: false,
            isn_advanced: Some(true),
            ts_advanced: None,
        });
        a
    }

    #[test]
    fn a_retransmission_let_in_after_time_wait_bounds_it_at_its_own_gap() {
        // Issue 10: first SYN at 235 s ignored, the +3 s one too, the +9 s one got in.
        let mut a = reusing(235.0, &[3.0, 9.0], Outcome::Established);
        a.answered_syn = Some(2);
        let e = evidence(&a).unwrap();
        assert_eq!(e.handling, Handling::IgnoredThenLetIn);
        assert_eq!(e.held_gap, Some(238 * S));
        assert_eq!(e.admitted_gap, Some(244 * S));
        assert_eq!(
            syn_gaps(&a).unwrap().as_slice(),
            [235 * S, 238 * S, 244 * S]
        );
    }

    #[test]
    fn an_unanswered_attempt_is_held_at_its_last_retransmission() {
        let a = reusing(100.0, &[3.0, 9.0], Outcome::Unanswered);
        let e = evidence(&a).unwrap();
        assert_eq!((e.handling, e.held_gap), (Handling::Ignored, Some(109 * S)));
        assert_eq!(e.admitted_gap, None);
    }

    #[test]
    fn an_undecided_attempt_was_held_at_every_syn_it_sent_again() {
        // Issue 10: a capture ending before the client's next SYN was due still shows the
        // server ignored the SYNs before the last.
        let a = reusing(100.0, &[3.0, 9.0], Outcome::Unknown);
        let e = evidence(&a).unwrap();
        assert_eq!((e.handling, e.held_gap), (Handling::Ignored, Some(103 * S)));
        assert!(evidence(&reusing(100.0, &[], Outcome::Unknown)).is_none());
    }

    #[test]
    fn a_challenge_cleared_by_the_clients_rst_bounds_nothing_from_above() {
        let mut a = reusing(0.5, &[0.01], Outcome::Established);
        a.challenge_acks = 1;
        a.answered_syn = Some(1);
        let e = evidence(&a).unwrap();
        assert_eq!(e.handling, Handling::ChallengedThenLetIn);
        assert_eq!((e.held_gap, e.admitted_gap), (Some(S / 2), None));
    }
}
