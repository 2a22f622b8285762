//! Why an attempt failed or was challenged (issue 10 item 4), decided when the attempt is,
//! from its own packets and the evidence the tracker gathered at packet time (`Seen`), so the
//! cause goes out with the attempt as it streams.

use serde::Serialize;

use super::gaps::{self, server_held};
use super::refusal::refusal;
use crate::attempt::{Attempt, Outcome};
use crate::time::{NANOS_PER_SEC, Ts};
use crate::track::seen::Seen;

/// No common stack holds TIME_WAIT longer (Windows' TcpTimedWaitDelay maximum; Linux is fixed
/// at 60 s). A server-held 4-tuple ignored or challenged beyond `--time-wait` but within this
/// is still the server's TIME_WAIT, and the window is reported as too short.
pub const MAX_TIME_WAIT_NS: i64 = 300 * NANOS_PER_SEC;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A connection in the capture whose TIME_WAIT the server still held.
    ServerTimeWait,
    /// An unanswered SYN early in the capture on a 4-tuple with no connection in it, from a
    /// source seen reusing ports into this server's TIME_WAIT, to a server seen dropping
    /// such SYNs: a TIME_WAIT of a connection closed before the capture began.
    TimeWaitBeforeCapture,
    /// A SYN on a 4-tuple whose connection was still open (no FIN or RST).
    #[serde(rename = "open_4tuple")]
    Open4Tuple,
    /// A RST to a SYN on a server port that accepted nothing in the capture.
    PortClosed,
    /// TCP accepted, then the application refused the peer within a second: a RST right
    /// after the handshake, or a FIN with no data (refusal.rs; a short reply then FIN is
    /// not a cause on its own).
    ApplicationRefused,
    /// An ICMP error (host or port unreachable, administratively prohibited) answered.
    IcmpError,
    /// Nothing in the capture explains it.
    NoAnswer,
}

impl Cause {
    pub const ALL: [Cause; 7] = [
        Cause::ServerTimeWait,
        Cause::TimeWaitBeforeCapture,
        Cause::Open4Tuple,
        Cause::PortClosed,
        Cause::ApplicationRefused,
        Cause::IcmpError,
        Cause::NoAnswer,
    ];

    /// The JSON value.
    pub fn name(self) -> &'static str {
        match self {
            Cause::ServerTimeWait => "server_time_wait",
            Cause::TimeWaitBeforeCapture => "time_wait_before_capture",
            Cause::Open4Tuple => "open_4tuple",
            Cause::PortClosed => "port_closed",
            Cause::ApplicationRefused => "application_refused",
            Cause::IcmpError => "icmp_error",
            Cause::NoAnswer => "no_answer",
        }
    }

    /// Whether it is an explanation (everything but `no_answer`).
    pub fn explains(self) -> bool {
        self != Cause::NoAnswer
    }
}

/// What a cause may use beyond the attempt itself: the options, and what the tracker had
/// seen of the attempt's hosts when it was handed on. The facts are read then, into this
/// plain value, so that the judging can run on a thread of its own (issue 12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `--time-wait`.
    pub window_ns: i64,
    /// The capture's first frame (for TIME_WAITs of connections closed before it).
    pub capture_start: Option<Ts>,
    /// The client was seen reusing ports into this server's TIME_WAIT, and the server seen
    /// ignoring SYNs on 4-tuples it held there. Read for unanswered attempts with no
    /// connection before them (the only ones it can explain); false for the others.
    pub reuser_of_silent_server: bool,
    /// The server was seen completing a handshake. Read for refused attempts (the only ones
    /// it can explain); false for the others.
    pub server_accepted: bool,
}

impl Context {
    /// The context of `a` as `seen` stands now.
    pub fn of(a: &Attempt, seen: &Seen, window_ns: i64) -> Context {
        let unexplained_silence = a.outcome == Outcome::Unanswered && a.reuse.is_none();
        Context {
            window_ns,
            capture_start: seen.capture_start(),
            reuser_of_silent_server: unexplained_silence
                && seen.reuses_into_time_wait(a.client.ip, a.server)
                && seen.drops_silently(a.server),
            server_accepted: a.outcome == Outcome::Refused && seen.accepted_any(a.server),
        }
    }
}

/// The attempt failed, was challenged, or waited on ignored SYNs before getting in.
fn troubled(a: &Attempt) -> bool {
    a.outcome.is_failure() || a.challenge_acks > 0
}

/// The cause of an attempt that failed, was challenged, was delayed by the server's
/// TIME_WAIT, or was refused by the application; `None` for attempts that simply worked (or
/// whose outcome is unknown).
pub fn cause(a: &Attempt, cx: &Context) -> Option<Cause> {
    cause_given(a, cx, None)
}

/// The same, knowing the shortest gap at which the server has let a SYN in so far with no
/// advanced ISN or timestamp to help it (`accept_floor_ns`): a RST or ICMP error at a longer
/// gap than that is not its TIME_WAIT (the server answers such SYNs at random).
pub fn cause_given(a: &Attempt, cx: &Context, accept_floor_ns: Option<i64>) -> Option<Cause> {
    if a.outcome == Outcome::Unknown {
        return None;
    }
    if a.reuse.is_some_and(|r| r.open) && troubled(a) {
        return Some(Cause::Open4Tuple);
    }
    if in_server_time_wait(a, cx.window_ns, accept_floor_ns) {
        return Some(Cause::ServerTimeWait);
    }
    let early = cx
        .capture_start
        .is_some_and(|start| a.ts.since(start) < cx.window_ns);
    let no_connection = a.reuse.is_none();
    match a.outcome {
        // A challenge ACK on a 4-tuple with no connection in the capture: the server holds
        // state for it that the capture does not show; early in the capture, a TIME_WAIT
        // of a connection closed before it began (a challenge ACK is what Linux's TIME_WAIT
        // sends, RFC 5961 4.2).
        Outcome::Established if a.challenge_acks > 0 => {
            Some(before_capture(early && no_connection))
        }
        Outcome::Established => a
            .first_close
            .and_then(|c| refusal(&c))
            .filter(|form| form.unambiguous())
            .map(|_| Cause::ApplicationRefused),
        Outcome::Unanswered => Some(before_capture(
            early && no_connection && cx.reuser_of_silent_server,
        )),
        Outcome::ChallengeAck => Some(before_capture(early && no_connection)),
        Outcome::Refused if !cx.server_accepted => Some(Cause::PortClosed),
        Outcome::Refused => Some(Cause::NoAnswer),
        Outcome::IcmpUnreachable => Some(Cause::IcmpError),
        Outcome::Unknown => None,
    }
}

fn before_capture(yes: bool) -> Cause {
    if yes {
        Cause::TimeWaitBeforeCapture
    } else {
        Cause::NoAnswer
    }
}

/// A SYN the server held in the TIME_WAIT of a connection in the capture: ignored or
/// challenged (at any gap up to MAX_TIME_WAIT_NS, also beyond a too short `--time-wait`),
/// refused or answered by ICMP inside the window, or let in only on a retransmission.
fn in_server_time_wait(a: &Attempt, window_ns: i64, accept_floor_ns: Option<i64>) -> bool {
    let Some(reuse) = server_held(a) else {
        return false;
    };
    let within = reuse.gap_ns < window_ns.max(MAX_TIME_WAIT_NS);
    match gaps::evidence(a) {
        Some(e) if e.handling.is_refusal() => reuse.in_window && below(e.held_gap, accept_floor_ns),
        Some(e) if e.handling == gaps::Handling::Accepted => false,
        Some(_) => within,
        None => false,
    }
}

/// A held gap below the floor of plain accepts (or no floor yet).
pub fn below(gap: Option<i64>, floor: Option<i64>) -> bool {
    match (gap, floor) {
        (Some(g), Some(f)) => g < f,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::gaps::tests::{S, reusing};

    /// The context of `a` in a capture that began at 990 s, as `seen` stands.
    fn cx(a: &Attempt, seen: &Seen) -> Context {
        Context {
            capture_start: Some(Ts(990 * S)),
            ..Context::of(a, seen, 240 * S)
        }
    }

    #[test]
    fn reuses_into_the_servers_time_wait_are_server_time_wait_also_beyond_a_short_window() {
        let seen = Seen::new(100);
        let a = reusing(5.0, &[3.0, 9.0], Outcome::Unanswered);
        assert_eq!(cause(&a, &cx(&a, &seen)), Some(Cause::ServerTimeWait));
        let short = |a: &Attempt| Context {
            window_ns: 60 * S,
            ..cx(a, &seen)
        };
        let b = reusing(200.0, &[3.0, 9.0], Outcome::Unanswered);
        assert_eq!(cause(&b, &short(&b)), Some(Cause::ServerTimeWait));
        let c = reusing(400.0, &[3.0, 9.0], Outcome::Unanswered);
        assert_eq!(cause(&c, &short(&c)), Some(Cause::NoAnswer));
    }

    #[test]
    fn an_early_unanswered_syn_with_no_connection_is_a_time_wait_from_before_the_capture() {
        let mut seen = Seen::new(100);
        let mut a = reusing(5.0, &[3.0, 9.0], Outcome::Unanswered);
        a.reuse = None;
        assert_eq!(cause(&a, &cx(&a, &seen)), Some(Cause::NoAnswer));
        seen.note_reuse_into_time_wait(a.client.ip, a.server);
        seen.note_silent_drop(a.server);
        assert_eq!(
            cause(&a, &cx(&a, &seen)),
            Some(Cause::TimeWaitBeforeCapture)
        );
        a.ts = Ts(1_300 * S); // past the window after the capture's start
        assert_eq!(cause(&a, &cx(&a, &seen)), Some(Cause::NoAnswer));
    }

    #[test]
    fn a_rst_from_a_port_that_never_accepted_is_port_closed() {
        let mut seen = Seen::new(100);
        let mut a = reusing(5.0, &[], Outcome::Refused);
        a.reuse = None;
        assert_eq!(cause(&a, &cx(&a, &seen)), Some(Cause::PortClosed));
        seen.note_accept(a.server);
        assert_eq!(cause(&a, &cx(&a, &seen)), Some(Cause::NoAnswer));
    }

    #[test]
    fn attempts_that_simply_worked_have_no_cause() {
        let seen = Seen::new(100);
        let a = reusing(300.0, &[], Outcome::Established);
        assert_eq!(cause(&a, &cx(&a, &seen)), None);
        let mut delayed = reusing(238.0, &[3.0], Outcome::Established);
        delayed.answered_syn = Some(1);
        assert_eq!(
            cause(&delayed, &cx(&delayed, &seen)),
            Some(Cause::ServerTimeWait)
        );
    }
}
