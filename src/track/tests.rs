//! State transitions of the tracker, one behaviour per test (template segments, frames numbered
//! in the order they are fed).

use super::*;
use crate::attempt::{Establishment, Evidence, Holder, Inference, Outcome, ReuseClass};
use crate::decode::IcmpError;
use crate::tcp::{Endpoint, Flags, Seq};
use crate::time::NANOS_PER_SEC;

const S: u8 = Flags::SYN;
const A: u8 = Flags::ACK;
const F: u8 = Flags::FIN;
const R: u8 = Flags::RST;
const WINDOW_S: i64 = 240;

fn client() -> Endpoint {
    Endpoint {
        ip: "192.168.50.1".parse().unwrap(),
        port: 3000,
    }
}
fn server() -> Endpoint {
    Endpoint {
        ip: "192.168.50.10".parse().unwrap(),
        port: 110,
    }
}

/// A segment from `src` to `dst` (frame `number` of file 0) with the given flags.
#[allow(clippy::too_many_arguments)]
fn segment(
    number: u64,
    ts: Ts,
    src: Endpoint,
    dst: Endpoint,
    flags: u8,
    seq: u32,
    ack: u32,
    payload_len: u32,
) -> Segment {
    Segment {
        frame: FrameRef { file: 0, number },
        ts,
        src,
        dst,
        flags: Flags(flags),
        seq: Seq(seq),
        ack: Seq(ack),
        payload_len,
        tsval: None,
        ip_id: number as u16,
        checksum: 0,
    }
}

/// A tracker fed by hand: `c(..)` is a segment from the client, `s(..)` from the server.
struct Feed {
    tracker: Tracker,
    frame: u64,
    out: Vec<Attempt>,
    /// Every segment fed, for copies.
    fed: Vec<Segment>,
}

impl Feed {
    fn new() -> Feed {
        let config = Config {
            window_ns: WINDOW_S * NANOS_PER_SEC,
            filter: None,
            budgets: Budgets::default(),
        };
        Feed::with(config)
    }

    fn with(config: Config) -> Feed {
        Feed {
            tracker: Tracker::new(config),
            frame: 0,
            out: Vec::new(),
            fed: Vec::new(),
        }
    }

    fn window(window_s: i64) -> Feed {
        Feed::with(Config {
            window_ns: window_s * NANOS_PER_SEC,
            filter: None,
            budgets: Budgets::default(),
        })
    }

    fn feed(&mut self, seg: Segment) -> &mut Feed {
        self.tracker.on_segment(&seg);
        self.fed.push(seg);
        while let Some(a) = self.tracker.pop_decided() {
            self.out.push(a);
        }
        self
    }

    /// The `index`-th segment fed (0-based) again as a new frame; `ms` = None keeps its time.
    fn again(&mut self, index: usize, ms: Option<i64>) -> &mut Feed {
        self.frame += 1;
        let seg = Segment {
            frame: FrameRef {
                file: 0,
                number: self.frame,
            },
            ts: ms.map_or(self.fed[index].ts, |ms| Ts(ms * 1_000_000)),
            ..self.fed[index]
        };
        self.feed(seg)
    }

    fn seg(
        &mut self,
        ms: i64,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
    ) -> &mut Feed {
        self.frame += 1;
        let (src, dst) = if from_client {
            (client(), server())
        } else {
            (server(), client())
        };
        let seg = segment(
            self.frame,
            Ts(ms * 1_000_000),
            src,
            dst,
            flags,
            seq,
            ack,
            len,
        );
        self.feed(seg)
    }
    fn c(&mut self, ms: i64, flags: u8, seq: u32, ack: u32) -> &mut Feed {
        self.seg(ms, true, flags, seq, ack, 0)
    }
    fn s(&mut self, ms: i64, flags: u8, seq: u32, ack: u32) -> &mut Feed {
        self.seg(ms, false, flags, seq, ack, 0)
    }
    /// A whole connection with ISN `isn` starting at `ms`; `closer` sends the first FIN.
    fn connection(&mut self, ms: i64, isn: u32, server_closes: bool) -> &mut Feed {
        self.c(ms, S, isn, 0)
            .s(ms + 1, S | A, 9000, isn + 1)
            .c(ms + 2, A, isn + 1, 9001);
        if server_closes {
            self.s(ms + 3, F | A, 9001, isn + 1)
                .c(ms + 4, F | A, isn + 1, 9002)
                .s(ms + 5, A, 9002, isn + 2)
        } else {
            self.c(ms + 3, F | A, isn + 1, 9001)
                .s(ms + 4, F | A, 9001, isn + 2)
                .c(ms + 5, A, isn + 2, 9002)
        }
    }
    /// Another client (port 3999) connects and the server answers: the capture shows the
    /// server side, so silence elsewhere means unanswered. Its attempt is left out of `finish`.
    fn heard(&mut self, ms: i64) -> &mut Feed {
        let saved = self.frame;
        self.frame = 10_000;
        let other = Endpoint {
            port: 3999,
            ..client()
        };
        for (flags, src, dst, ack) in [(S, other, server(), 0), (S | A, server(), other, 2)] {
            self.frame += 1;
            let seg = segment(self.frame, Ts(ms * 1_000_000), src, dst, flags, 1, ack, 0);
            self.tracker.on_segment(&seg);
        }
        self.frame = saved;
        self
    }
    /// A frame that is not TCP at `ms`: it only moves the clock.
    fn tick(&mut self, ms: i64) -> &mut Feed {
        self.tracker.advance(Ts(ms * 1_000_000));
        while let Some(a) = self.tracker.pop_decided() {
            self.out.push(a);
        }
        self
    }
    fn finish(&mut self) -> Vec<Attempt> {
        self.tracker.finish();
        while let Some(a) = self.tracker.pop_decided() {
            self.out.push(a);
        }
        let mut out = std::mem::take(&mut self.out);
        out.retain(|a| a.client.port != 3999);
        out
    }
}

#[test]
fn syn_answered_by_syn_ack_for_isn_plus_one_is_established() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 500, 101)
        .c(2, A, 101, 501)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].outcome, Outcome::Established);
    assert_eq!(out[0].syn_ack.unwrap().frame.number, 2);
    assert_eq!(out[0].reuse, None);
}

#[test]
fn syn_ack_for_another_isn_does_not_establish() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 500, 77)
        .c(5000, A, 1, 1)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Unanswered);
}

#[test]
fn same_isn_again_is_a_retransmission_of_the_same_attempt() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(3000, S, 100, 0)
        .c(9000, S, 100, 0)
        .heard(30_000)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].syn_retransmits, 2);
    assert_eq!(out[0].last_syn_ts, Ts(9000 * 1_000_000));
    assert_eq!(out[0].outcome, Outcome::Unanswered);
}

#[test]
fn another_isn_is_a_new_attempt_that_names_the_previous_one() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(3000, S, 200, 0)
        .heard(9000)
        .finish();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].previous_attempt_frame.unwrap().number, 1);
    assert_eq!(out[0].outcome, Outcome::Unanswered);
    assert_eq!(out[1].outcome, Outcome::Unanswered);
}

#[test]
fn rst_answering_the_syn_is_refused() {
    // The capture goes on past the client's next SYN (a refusal is final only then).
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, R | A, 0, 101)
        .heard(4000)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Refused);
    assert_eq!(out[0].rst.unwrap().frame.number, 2);
}

#[test]
fn silence_is_unanswered_only_past_the_next_retransmission_due() {
    // The first SYN's retransmission is due 3 s later (+ an eighth for timer slack).
    let out = Feed::new().c(0, S, 100, 0).heard(3375).finish();
    assert_eq!(out[0].outcome, Outcome::Unknown);
    let out = Feed::new().c(0, S, 100, 0).heard(3376).finish();
    assert_eq!(out[0].outcome, Outcome::Unanswered);
}

#[test]
fn without_any_packet_from_a_server_outcomes_are_inferred_from_the_clients_behaviour() {
    // A one-direction capture (issue 13): a SYN retransmitted on Windows' timer, then
    // silence, was not answered; a SYN never retransmitted although the capture went on was
    // refused (the client gave up at once); each is marked as seen from the client's side.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(3000, S, 100, 0)
        .c(60_000, S, 200, 0)
        .c(90_000, A, 1, 1)
        .finish();
    let got: Vec<_> = out
        .iter()
        .map(|a| (a.outcome, a.evidence, a.inferred))
        .collect();
    assert_eq!(
        got,
        [
            (
                Outcome::Unanswered,
                Evidence::ClientSideOnly,
                Some(Inference::TimerRetransmissions)
            ),
            (
                Outcome::Refused,
                Evidence::ClientSideOnly,
                Some(Inference::NoRetransmission)
            ),
        ]
    );
}

#[test]
fn a_client_never_seen_retransmitting_is_not_read_as_refused_from_its_silence() {
    // A scanner or a spoofer sends each SYN once: with no packet from any server, a SYN it
    // never sent again says nothing (issue 13: `unknown` for anything else).
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(60_000, S, 200, 0)
        .c(90_000, A, 1, 1)
        .finish();
    let got: Vec<_> = out.iter().map(|a| (a.outcome, a.inferred)).collect();
    assert_eq!(got, [(Outcome::Unknown, None), (Outcome::Unknown, None)]);
}

#[test]
fn bare_ack_that_does_not_ack_the_syn_is_a_challenge_ack() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, A, 9002, 55)
        .c(2, R, 55, 0)
        .c(5000, A, 1, 1)
        .finish();
    assert_eq!(out[0].outcome, Outcome::ChallengeAck);
    assert_eq!(out[0].challenge_acks, 1);
}

#[test]
fn challenge_then_rst_then_retransmitted_syn_accepted_is_established_with_a_challenge() {
    // Linux: bare ACK, client RST kills TIME_WAIT, the SYN retransmitted 1 s later gets in.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, A, 9002, 55)
        .c(2, R, 55, 0)
        .c(1000, S, 100, 0)
        .s(1001, S | A, 700, 101)
        .c(1002, A, 101, 701)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (
            out[0].outcome,
            out[0].challenge_acks,
            out[0].syn_retransmits
        ),
        (Outcome::Established, 1, 1)
    );
}

#[test]
fn ack_of_isn_plus_one_without_syn_is_not_a_challenge() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, A, 9002, 101)
        .c(5000, A, 1, 1)
        .finish();
    assert_eq!(
        (out[0].outcome, out[0].challenge_acks),
        (Outcome::Unanswered, 0)
    );
}

#[test]
fn server_closing_first_holds_time_wait_and_the_reuse_is_in_window() {
    let out = Feed::new()
        .connection(0, 100, true)
        .c(1200, S, 5000, 0)
        .c(30_000, A, 1, 1)
        .finish();
    let reuse = out[1].reuse.unwrap();
    assert_eq!(reuse.holder, Holder::Server);
    assert_eq!(reuse.previous_frame.number, 1);
    assert_eq!(reuse.previous_end_frame.number, 6);
    assert_eq!(reuse.gap_ns, 1195 * 1_000_000);
    assert!(reuse.in_window && !reuse.open);
    assert_eq!(out[1].reuse_class(), ReuseClass::InWindow);
    assert_eq!(out[1].outcome, Outcome::Unanswered);
}

#[test]
fn client_closing_first_holds_time_wait() {
    let out = Feed::new()
        .connection(0, 100, false)
        .c(1200, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::Client);
}

#[test]
fn crossed_fins_mean_both_hold_time_wait() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 9000, 101)
        .c(2, A, 101, 9001)
        .c(3, F | A, 101, 9001)
        .s(3, F | A, 9001, 101) // does not acknowledge the client's FIN: crossed
        .c(4, A, 102, 9002)
        .s(4, A, 9002, 102)
        .c(100, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::Both);
}

#[test]
fn a_connection_ended_by_rst_leaves_no_time_wait() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 9000, 101)
        .c(2, A, 101, 9001)
        .c(3, R | A, 101, 9001)
        .c(100, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::None);
    assert_eq!(out[1].reuse.unwrap().previous_end_frame.number, 4);
}

#[test]
fn a_syn_on_a_connection_still_open_is_reuse_of_an_open_4_tuple() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 9000, 101)
        .c(2, A, 101, 9001)
        .c(50, S, 5000, 0)
        .finish();
    let reuse = out[1].reuse.unwrap();
    assert!(reuse.open && !reuse.in_window);
    assert_eq!(reuse.holder, Holder::Unknown);
    assert_eq!(out[1].reuse_class(), ReuseClass::Open);
}

#[test]
fn reuse_after_the_window_is_not_in_window() {
    let out = Feed::new()
        .connection(0, 100, true)
        .c(WINDOW_S * 1000 + 5, S, 5000, 0)
        .finish();
    let reuse = out[1].reuse.unwrap();
    assert_eq!(reuse.gap_ns, (WINDOW_S * 1000) * 1_000_000);
    assert!(!reuse.in_window);
    assert_eq!(out[1].reuse_class(), ReuseClass::AfterWindow);
}

#[test]
fn a_chain_of_failed_attempts_is_measured_against_the_blocking_connection() {
    let out = Feed::new()
        .connection(0, 100, true)
        .c(2000, S, 5000, 0)
        .c(30_000, S, 6000, 0)
        .c(60_000, A, 1, 1)
        .finish();
    assert_eq!(out[2].reuse.unwrap().previous_frame.number, 1);
    assert_eq!(out[2].reuse.unwrap().gap_ns, 29_995 * 1_000_000);
    assert_eq!(out[2].previous_attempt_frame.unwrap().number, 7);
}

#[test]
fn packets_after_a_new_syn_belong_to_the_new_attempt_not_the_old_connection() {
    // The server's challenge ACK after the new SYN must not move the old connection's end.
    let out = Feed::new()
        .connection(0, 100, true)
        .c(1000, S, 50, 0)
        .s(1001, A, 9002, 102)
        .c(1002, R, 102, 0)
        .c(2000, S, 50, 0)
        .c(3000, S, 60, 0)
        .finish();
    assert_eq!(out[1].challenge_acks, 1);
    assert_eq!(out[2].reuse.unwrap().previous_end_frame.number, 6);
}

#[test]
fn attempts_leave_in_order_of_first_syn_even_when_a_later_one_is_decided_first() {
    let mut feed = Feed::new();
    let other = Endpoint {
        ip: "192.168.50.2".parse().unwrap(),
        port: 3000,
    };
    let seg = segment(99, Ts(0), other, server(), S, 1, 0, 0);
    feed.tracker.on_segment(&seg); // never answered: decided only 3 s later
    feed.c(1, S, 100, 0).s(2, R | A, 0, 101); // refused at once, but must wait its turn
    assert!(feed.out.is_empty());
    let out = feed.heard(4000).finish();
    assert_eq!(
        out.iter().map(|a| a.frame.number).collect::<Vec<_>>(),
        vec![99, 1]
    );
    assert_eq!(
        (out[0].outcome, out[1].outcome),
        (Outcome::Unanswered, Outcome::Refused)
    );
}

#[test]
fn idle_4_tuples_are_dropped_after_twice_the_window_and_closed_ones_once_settled() {
    let mut feed = Feed::new();
    // As if the flow table were past an eighth of its budget.
    feed.tracker.closed_early_above = 0;
    // Open (no FIN): twice the window.
    feed.c(0, S, 100, 0)
        .s(1, S | A, 9000, 101)
        .c(2, A, 101, 9001);
    // Closed (both FINs): once its attempts can no longer change (SETTLE_NS, 130 s).
    let closed = Endpoint {
        port: 3001,
        ..client()
    };
    for (ms, src, dst, flags, seq, ack) in [
        (10, closed, server(), S, 500, 0),
        (11, server(), closed, S | A, 7000, 501),
        (12, closed, server(), A, 501, 7001),
        (13, server(), closed, F | A, 7001, 501),
        (14, closed, server(), F | A, 501, 7002),
        (15, server(), closed, A, 7002, 502),
    ] {
        feed.tracker.on_segment(&segment(
            20 + ms as u64,
            Ts(ms * 1_000_000),
            src,
            dst,
            flags,
            seq,
            ack,
            0,
        ));
    }
    assert_eq!(feed.tracker.live_flows(), 2);
    let later = Endpoint {
        ip: "192.168.50.3".parse().unwrap(),
        port: 1,
    };
    let tick = |ms: i64| segment(0, Ts(ms * 1_000_000), later, server(), A, 0, 0, 0);
    feed.tracker.on_segment(&tick(129_000));
    assert_eq!(feed.tracker.live_flows(), 2);
    feed.tracker.on_segment(&tick(131_000));
    assert_eq!(feed.tracker.live_flows(), 1);
    // Its record is in the long reuse memory.
    assert_eq!(feed.tracker.archive.len(), 1);
    feed.tracker.on_segment(&tick(2 * WINDOW_S * 1000 - 1000));
    assert_eq!(feed.tracker.live_flows(), 1);
    feed.tracker.on_segment(&tick(2 * WINDOW_S * 1000 + 20_000));
    assert_eq!(feed.tracker.live_flows(), 0);
    assert_eq!(feed.tracker.stats().peak_flows, 2);
}

#[test]
fn an_unwanted_sender_is_not_tracked() {
    let filter = crate::filter::Filter {
        sources: vec!["10.9.9.9".parse().unwrap()],
        servers: vec![],
    };
    let mut tracker = Tracker::new(Config {
        window_ns: WINDOW_S * NANOS_PER_SEC,
        filter: Some(filter),
        budgets: Budgets::default(),
    });
    let seg = segment(1, Ts(0), client(), server(), S, 1, 0, 0);
    tracker.on_segment(&seg);
    tracker.finish();
    assert_eq!(tracker.pop_decided(), None);
    assert_eq!(tracker.stats().syn_packets, 1);
}

#[test]
fn an_unanswered_attempt_is_settled_after_the_settle_horizon() {
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).heard(1);
    let other = Endpoint {
        ip: "192.168.50.4".parse().unwrap(),
        port: 9,
    };
    let seg = segment(0, Ts(131 * NANOS_PER_SEC), other, server(), A, 0, 0, 0);
    feed.tracker.on_segment(&seg);
    let decided = feed
        .tracker
        .pop_decided()
        .expect("decided before the capture ends");
    assert_eq!(decided.outcome, Outcome::Unanswered);
}

#[test]
fn an_icmp_error_quoting_the_syn_answers_it() {
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0);
    let error = IcmpError {
        frame: FrameRef { file: 0, number: 2 },
        ts: Ts(1_000_000),
        v6: false,
        icmp_type: 3,
        code: 1,
        src: client(),
        dst: server(),
        seq: Seq(100),
        flags: Some(Flags(S)),
    };
    feed.tracker.on_icmp(&error);
    feed.tracker.on_icmp(&IcmpError {
        seq: Seq(7),
        frame: FrameRef { file: 0, number: 3 },
        ..error
    });
    let out = feed.heard(4000).finish();
    assert_eq!(out[0].outcome, Outcome::IcmpUnreachable);
    let icmp = out[0].icmp.unwrap();
    assert_eq!((icmp.frame.number, icmp.icmp_type, icmp.code), (2, 3, 1));
    assert_eq!(
        (
            feed.tracker.stats().icmp_errors,
            feed.tracker.stats().syn_quoted_in_icmp
        ),
        (2, 2)
    );
}

#[test]
fn a_refused_syn_sent_again_with_the_same_isn_is_one_attempt() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, R | A, 0, 101)
        .c(500, S, 100, 0)
        .s(501, R | A, 0, 101)
        .c(1000, S, 100, 0)
        .s(1001, R | A, 0, 101)
        .heard(10_000)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].outcome, out[0].syn_retransmits),
        (Outcome::Refused, 2)
    );
    assert_eq!(out[0].rst.unwrap().frame.number, 2);
}

#[test]
fn a_short_window_does_not_split_the_retransmissions_of_an_attempt() {
    let config = Config {
        window_ns: NANOS_PER_SEC,
        filter: None,
        budgets: Budgets::default(),
    };
    let mut feed = Feed::with(config);
    feed.c(0, S, 100, 0)
        .c(3000, S, 100, 0)
        .c(9000, S, 100, 0)
        .heard(30_000);
    let out = feed.finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].syn_retransmits, 2);
}

#[test]
fn the_same_isn_after_the_quiet_period_is_a_late_syn_not_a_new_attempt() {
    // The front (another client's attempt) keeps the queue from settling by the clock; the
    // attempt behind it is settled when its 4-tuple is seen again after 130 s of quiet, and
    // the SYN with its ISN then is counted on it as late (RFC 6528: no new connection
    // reuses an ISN).
    let mut feed = Feed::new();
    let other = Endpoint {
        port: 3999,
        ..client()
    };
    feed.tracker
        .on_segment(&segment(50, Ts(0), other, server(), S, 7, 0, 0));
    feed.c(1, S, 100, 0).c(140_000, S, 100, 0).heard(150_000);
    let out = feed.finish();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].syn_retransmits, out[0].late_syns), (0, 1));
    assert_eq!(feed.tracker.stats().late_syns, 1);
}

#[test]
fn a_rst_far_outside_the_window_does_not_end_the_time_wait() {
    // Server closes first; then a stray RST with an unrelated sequence number (RFC 5961: a
    // stack ignores it), then the reused SYN: the server still holds TIME_WAIT.
    let out = Feed::new()
        .connection(0, 100, true)
        .c(10, R, 0x8000_0000, 0)
        .c(1200, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::Server);
    // The same RST in the window kills the TIME_WAIT (RFC 793, Linux's rfc1337 = 0).
    let out = Feed::new()
        .connection(0, 100, true)
        .c(10, R, 102, 0)
        .c(1200, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::None);
}

#[test]
fn a_port_reused_after_its_connection_ended_reports_its_idle_time() {
    // The server closes at 3..5 ms; the same port comes back at 1,205 ms.
    let out = Feed::new()
        .connection(0, 100, true)
        .connection(1_205, 5_000, true)
        .finish();
    assert_eq!(out[1].port_idle_ns, Some(1_200 * 1_000_000));
    assert_eq!(out[1].port_previous_syn_ns, Some(1_205 * 1_000_000));
    assert_eq!(out[0].port_idle_ns, None);
}

#[test]
fn a_port_still_open_elsewhere_has_no_idle_time() {
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).s(1, S | A, 500, 101).c(2, A, 101, 501);
    // The same client port to another server while the first connection is open.
    feed.frame += 1;
    let other = Endpoint {
        port: 995,
        ..server()
    };
    let syn = segment(feed.frame, Ts(10_000_000), client(), other, S, 7, 0, 0);
    feed.tracker.on_segment(&syn);
    let out = feed.finish();
    let second = out.iter().find(|a| a.server.port == 995).unwrap();
    assert_eq!(second.port_idle_ns, None);
    assert_eq!(second.port_previous_syn_ns, Some(10_000_000));
}

#[test]
fn the_answer_names_the_syn_it_followed() {
    let out = Feed::new()
        .heard(0)
        .c(0, S, 100, 0)
        .c(3_000, S, 100, 0)
        .s(3_001, S | A, 500, 101)
        .c(3_002, A, 101, 501)
        .finish();
    assert_eq!(out[0].answered_syn, Some(1));
    assert_eq!(out[0].established_by, Some(Establishment::SynAck));
}

#[test]
fn a_server_closing_right_after_the_handshake_is_on_the_attempt() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, S | A, 500, 101)
        .c(2, A, 101, 501)
        .seg(3, false, A, 501, 101, 11)
        .s(4, F | A, 512, 101)
        .finish();
    let close = out[0].first_close.expect("closed within a second");
    assert!(close.by_server && !close.reset);
    assert_eq!(close.server_bytes, 11);
    assert_eq!(close.after_ns, 3_000_000);
}

#[test]
fn evidence_records_reuse_into_the_servers_time_wait_and_its_silence() {
    let mut feed = Feed::new();
    feed.heard(0)
        .connection(0, 100, true)
        .c(2_000, S, 7_000, 0)
        .c(5_000, S, 7_000, 0);
    let seen = feed.tracker.seen();
    assert!(seen.reuses_into_time_wait(client().ip, server()));
    assert!(seen.drops_silently(server()));
    assert!(seen.accepted_any(server()));
    assert!(!seen.challenges(server()));
}

// Issue 9, one spec per class.

#[test]
fn a_span_port_copy_of_a_syn_is_a_duplicate_frame_not_a_new_attempt() {
    // The same SYN (same IP ID) 50 µs later, then the whole connection.
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).again(0, Some(0));
    let out = feed.s(1, S | A, 500, 101).c(2, A, 101, 501).finish();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].syn_retransmits, out[0].duplicate_frames), (0, 1));
    assert_eq!(feed.tracker.stats().duplicate_frames, 1);
}

#[test]
fn a_retransmission_with_a_new_ip_id_is_not_a_duplicate() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(5, S, 100, 0) // a fast retry: same seq, a new IP ID (frame numbers differ)
        .finish();
    assert_eq!((out[0].syn_retransmits, out[0].duplicate_frames), (1, 0));
}

#[test]
fn a_capture_appended_to_itself_adds_no_attempt_and_is_a_long_run_of_copies() {
    let once = |feed: &mut Feed| {
        for i in 0..20 {
            feed.connection(i * 2000, 100 + i as u32 * 1000, true);
        }
    };
    let mut plain = Feed::new();
    once(&mut plain);
    let expected = plain.finish();
    let mut feed = Feed::new();
    once(&mut feed);
    let originals = feed.fed.len();
    for i in 0..originals {
        feed.again(i, None); // timestamps jump back to the start
    }
    let out = feed.finish();
    let strip = |a: &Attempt| Attempt {
        duplicate_frames: 0,
        ..*a
    };
    assert_eq!(out.iter().map(strip).collect::<Vec<_>>(), expected);
    // The copy of every SYN and SYN-ACK is recognised anywhere (2 per connection); another
    // copy only while recent on its 4-tuple, and it cannot answer an attempt that came after.
    let stats = feed.tracker.stats();
    assert_eq!(stats.duplicate_frames, 2 * 20);
    assert_eq!(stats.copy_runs, 1);
    let run = stats.copy_run_frames[0].unwrap();
    assert_eq!(run.first.number, originals as u64 + 1);
}

#[test]
fn a_syn_earlier_than_the_connection_before_it_is_not_a_reuse() {
    // Timestamps go backwards: a SYN with a new ISN stamped before the previous end.
    let mut feed = Feed::new();
    feed.connection(10_000, 100, true);
    let out = feed.c(9_000, S, 7_000, 0).finish();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].reuse, None);
    let stats = feed.tracker.stats();
    assert_eq!(stats.backwards_syns, 1);
    assert_eq!(
        stats.backwards[0].map(|(syn, end)| (syn.number, end.number)),
        Some((7, 6))
    );
}

#[test]
fn a_syn_sent_again_long_after_two_refusals_is_still_the_same_attempt() {
    // Windows: SYN, RST, SYN, RST, SYN (no answer), the same ISN again 12 s later.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, R | A, 0, 101)
        .c(500, S, 100, 0)
        .s(501, R | A, 0, 101)
        .c(1000, S, 100, 0)
        .c(13_000, S, 100, 0)
        .heard(60_000)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].outcome, out[0].syn_retransmits),
        (Outcome::Refused, 3)
    );
    assert_eq!(out[0].last_syn_ts, Ts(13_000 * 1_000_000));
}

#[test]
fn retransmissions_interleaved_with_a_syn_storm_stay_with_their_own_isn() {
    // The real client's ISN 100 at 0, +1 s, +3 s; random ISNs every 200 ms between.
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0);
    for i in 1..=20u32 {
        feed.c(i64::from(i) * 190, S, 0x4000_0000 + i * 7919, 0);
        if i == 5 {
            feed.c(1000, S, 100, 0);
        }
        if i == 15 {
            feed.c(3000, S, 100, 0);
        }
    }
    let out = feed
        .s(3001, S | A, 500, 101)
        .c(3002, A, 101, 501)
        .heard(20_000)
        .finish();
    assert_eq!(out.len(), 21);
    let real = out.iter().find(|a| a.isn == Seq(100)).unwrap();
    assert_eq!(
        (real.outcome, real.syn_retransmits, real.answered_syn),
        (Outcome::Established, 2, Some(2))
    );
    assert!(
        out.iter()
            .filter(|a| a.isn != Seq(100))
            .all(|a| a.outcome == Outcome::Unanswered)
    );
}

#[test]
fn a_syn_ack_acknowledging_the_fast_open_data_establishes_the_attempt() {
    // TCP Fast Open (RFC 7413): the SYN carries 10 bytes, the SYN-ACK acknowledges ISN+11.
    let out = Feed::new()
        .seg(0, true, S, 100, 0, 10)
        .s(1, S | A, 500, 111)
        .c(2, A, 111, 501)
        .s(3, A, 501, 111)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Established);
    assert_eq!((out[0].syn_data_len, out[0].challenge_acks), (10, 0));
    assert_eq!(out[0].established_by, Some(Establishment::SynAck));
}

#[test]
fn a_server_ack_of_the_clients_data_proves_the_handshake_without_its_syn_ack() {
    let mut feed = Feed::new();
    let out = feed
        .c(0, S, 100, 0)
        .seg(2, true, A, 101, 501, 40) // request; the SYN-ACK and handshake ACK not captured
        .s(3, A, 501, 141)
        .heard(30_000)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Established);
    assert_eq!(out[0].established_by, Some(Establishment::ServerAckedData));
    assert_eq!(out[0].answered_syn, None);
    assert_eq!(feed.tracker.stats().syn_ack_missing, 1);
}

#[test]
fn the_clients_handshake_ack_then_data_proves_the_handshake_without_its_syn_ack() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(2, A, 101, 501)
        .seg(3, true, A, 101, 501, 20)
        .heard(30_000)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Established);
    assert_eq!(out[0].established_by, Some(Establishment::ClientHandshake));
}

#[test]
fn a_handshake_ack_alone_is_unknown_not_unanswered() {
    // The capture holds the server's direction (it answered another client): its SYN-ACK
    // should be here too, and data must follow the ACK to prove the handshake.
    let out = Feed::new()
        .heard(0)
        .c(1, S, 100, 0)
        .c(2, A, 101, 501)
        .heard(30_000)
        .finish();
    assert_eq!(out[0].outcome, Outcome::Unknown);
}

#[test]
fn a_syn_ack_captured_before_its_syn_is_matched_to_it() {
    // Two capture points merged: the server's SYN-ACK is stamped 100 ms before the SYN.
    let mut feed = Feed::new();
    let out = feed
        .s(0, S | A, 500, 101)
        .c(100, S, 100, 0)
        .c(101, A, 101, 501)
        .s(102, F | A, 501, 101)
        .finish();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].outcome, Outcome::Established);
    assert_eq!(out[0].established_by, Some(Establishment::SynAckBeforeSyn));
    assert_eq!(out[0].challenge_acks, 0);
    assert_eq!(feed.tracker.stats().syn_ack_before_syn, 1);
}

#[test]
fn only_acks_unrelated_to_the_new_isn_are_challenge_acks() {
    // An ACK of ISN+1 is related; an ACK from the old sequence space is a challenge.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .s(1, A, 9002, 101)
        .s(2, A, 9002, 55)
        .heard(30_000)
        .finish();
    assert_eq!(
        (out[0].outcome, out[0].challenge_acks),
        (Outcome::ChallengeAck, 1)
    );
}

#[test]
fn an_answer_goes_to_the_pending_attempt_whose_isn_it_acknowledges() {
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(10, S, 200, 0)
        .s(11, S | A, 500, 101) // answers the first
        .c(12, A, 101, 501)
        .heard(30_000)
        .finish();
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].outcome, out[1].outcome),
        (Outcome::Established, Outcome::Unanswered)
    );
}

#[test]
fn a_capture_cut_before_the_next_retransmission_is_unknown_not_a_failure() {
    // Windows: SYN, +3 s SYN; the capture stops at +5 s; the +9 s SYN would get in.
    let cut = Feed::new()
        .heard(0)
        .c(0, S, 100, 0)
        .c(3_000, S, 100, 0)
        .heard(5_000)
        .finish();
    assert_eq!(cut[0].outcome, Outcome::Unknown);
    // A challenge ACK followed by a capture cut: the fast retry may still get in.
    let cut = Feed::new()
        .c(0, S, 100, 0)
        .s(1, A, 9002, 55)
        .c(2, R, 55, 0)
        .finish();
    assert_eq!(cut[0].outcome, Outcome::Unknown);
}

#[test]
fn a_reuse_of_a_closed_4_tuple_after_it_left_the_flow_table_is_measured_as_if_it_were_live() {
    // Closed and quiet for 130 s (in a flow table past an eighth of its budget), the
    // 4-tuple's record is in the long memory; a reuse at
    // 200 s is still in the 240 s window of the server's TIME_WAIT, and ignored (Windows).
    let mut feed = Feed::new();
    feed.tracker.closed_early_above = 0;
    feed.connection(0, 100, true);
    feed.c(200_005, S, 50, 0)
        .c(203_005, S, 50, 0)
        .c(209_005, S, 50, 0);
    let out = feed.heard(230_000).finish();
    assert_eq!(feed.tracker.stats().reuses_from_memory, 1);
    let reuse = out[1].reuse.expect("remembered");
    assert_eq!(reuse.gap_ns, 200_000 * 1_000_000);
    assert!(reuse.in_window && !reuse.open);
    assert_eq!(reuse.holder, Holder::Server);
    // The ISN is below the old connection's last sequence number from the client.
    assert_eq!(reuse.isn_advanced, Some(false));
    assert_eq!(out[1].outcome, Outcome::Unanswered);
    assert_eq!(out[1].syn_retransmits, 2);
    assert_eq!(out[1].previous_attempt_frame.map(|f| f.number), Some(1));
}

#[test]
fn a_reuse_130_s_after_the_connection_with_a_60_s_window_is_after_the_window() {
    // The 4-tuple leaves the flow table after 130 s idle; the long memory still has it.
    let mut feed = Feed::window(60);
    feed.connection(0, 100, true);
    let out = feed.c(130_005, S, 9_000, 0).finish();
    assert_eq!(feed.tracker.stats().reuses_from_memory, 1);
    let reuse = out[1].reuse.expect("remembered");
    assert_eq!(reuse.gap_ns, 130_000 * 1_000_000);
    assert!(!reuse.in_window);
    assert_eq!(reuse.holder, Holder::Server);
    assert_eq!(out[1].reuse_class(), ReuseClass::AfterWindow);
    assert_eq!(out[1].previous_attempt_frame.map(|f| f.number), Some(1));
}

#[test]
fn the_long_memory_forgets_the_oldest_past_its_budget_and_counts_it() {
    let budgets = Budgets {
        archive: 2,
        ..Budgets::default()
    };
    let mut feed = Feed::with(Config {
        window_ns: 60 * NANOS_PER_SEC,
        filter: None,
        budgets,
    });
    for port in 0..4u16 {
        let c = Endpoint {
            port: 4000 + port,
            ..client()
        };
        let t = |ms: i64| Ts(ms * 1_000_000);
        feed.feed(segment(1, t(0), c, server(), S, 1, 0, 0));
        feed.feed(segment(2, t(1), server(), c, S | A, 9, 2, 0));
        feed.feed(segment(3, t(2), c, server(), R, 2, 0, 0));
    }
    feed.heard(200_000);
    assert_eq!(feed.tracker.live_flows(), 1);
    assert_eq!(feed.tracker.dropped().archive, 2);
}

#[test]
fn a_flow_slot_and_a_pending_attempt_stay_compact() {
    // Issue 12: a flow slot was 281 B and a pending attempt 336 B. Measured: a flow without a
    // connection (a SYN flood) is 128 B beside its 40-byte key, its connection (136 B) lives
    // apart; a pending attempt is the 408-byte Attempt plus 48 (issue 13 added what the
    // one-side inference needs: 8 bytes). budget.rs sizes from these (480 B a pending one).
    assert!(std::mem::size_of::<Flow>() <= 128);
    assert!(std::mem::size_of::<flow::Conn>() <= 136);
    assert!(std::mem::size_of::<queue::Pending>() <= 456);
    assert!(std::mem::size_of::<archive::Record>() <= 120);
}

#[test]
fn a_refusal_at_the_end_is_final_unless_the_client_sends_refused_syns_again() {
    // A RST and then the end of the capture: final for a client that gives up on a RST.
    let out = Feed::new().c(0, S, 100, 0).s(1, R | A, 0, 101).finish();
    assert_eq!(out[0].outcome, Outcome::Refused);
    // This client sent a refused SYN again earlier (Windows): its next SYN may still get in.
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).s(1, R | A, 0, 101).c(500, S, 100, 0);
    let later = Endpoint {
        port: 3001,
        ..client()
    };
    feed.feed(segment(90, Ts(20_000_000_000), later, server(), S, 7, 0, 0));
    feed.feed(segment(
        91,
        Ts(20_001_000_000),
        server(),
        later,
        R | A,
        0,
        8,
        0,
    ));
    let out = feed.finish();
    let last = out.iter().find(|a| a.client.port == 3001).unwrap();
    assert_eq!(
        (last.outcome, last.rst.map(|r| r.frame.number)),
        (Outcome::Unknown, Some(91))
    );
}

// Issue 13: half a conversation.

/// Linux's classic schedule: SYNs at 0, 1, 3, 7, 15, 31, 63 s (ms).
const LINUX_SYNS_MS: [i64; 7] = [0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000];

#[test]
fn the_last_syn_of_a_recognised_stack_refused_or_challenged_is_decided_at_the_capture_end() {
    // Linux's 7th SYN (tcp_syn_retries = 6) challenged, the capture ending right after:
    // no later answer can come.
    let mut feed = Feed::new();
    for ms in LINUX_SYNS_MS {
        feed.c(ms, S, 100, 0).s(ms + 1, A, 9002, 5000);
    }
    let out = feed.heard(63_002).finish();
    assert_eq!(
        (out[0].outcome, out[0].challenge_acks),
        (Outcome::ChallengeAck, 7)
    );
    // Windows' third SYN (+3 s, +9 s) refused, by a client that sends refused SYNs again
    // (so a refusal is otherwise not final before its next SYN is due): the same.
    let windows = |syns: &[i64]| {
        let mut feed = Feed::new();
        for ms in syns {
            feed.c(*ms, S, 100, 0).s(ms + 1, R | A, 0, 101);
        }
        feed.finish()[0].outcome
    };
    assert_eq!(windows(&[0, 3_000, 9_000]), Outcome::Refused);
    assert_eq!(windows(&[0, 3_000]), Outcome::Unknown);
    // The 6th SYN challenged at the end: the 7th may still come.
    let mut feed = Feed::new();
    for ms in &LINUX_SYNS_MS[..6] {
        feed.c(*ms, S, 100, 0).s(ms + 1, A, 9002, 5000);
    }
    assert_eq!(feed.finish()[0].outcome, Outcome::Unknown);
}

#[test]
fn silence_after_the_last_syn_of_its_stack_still_waits_for_the_next_one_due() {
    // A SYN-ACK may still come for the 7th SYN.
    let mut feed = Feed::new();
    for ms in LINUX_SYNS_MS {
        feed.c(ms, S, 100, 0);
    }
    let out = feed.heard(63_002).finish();
    assert_eq!(out[0].outcome, Outcome::Unknown);
}

#[test]
fn from_the_clients_side_a_reset_after_the_syn_then_a_retry_is_a_challenge_ack() {
    // Linux answers a challenge ACK with a RST (the old connection's sequence number), then
    // sends the SYN again: from its side alone, challenged, and let in once the RST
    // cleared the server's TIME_WAIT.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(1, R, 7777, 0)
        .c(1_000, S, 100, 0)
        .c(1_001, R, 7777, 0)
        .c(20_000, S, 300, 0) // the capture goes on
        .c(20_001, A, 301, 41)
        .c(20_002, A, 301, 41)
        .finish();
    assert_eq!(
        (out[0].outcome, out[0].challenge_acks, out[0].inferred),
        (Outcome::ChallengeAck, 2, Some(Inference::ClientReset))
    );
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(1, R, 7777, 0)
        .c(12, S, 100, 0)
        .c(13, A, 101, 501)
        .seg(14, true, A, 101, 501, 10)
        .finish();
    assert_eq!(
        (out[0].outcome, out[0].challenge_acks, out[0].evidence),
        (Outcome::Established, 1, Evidence::ClientSideOnly)
    );
}

#[test]
fn from_the_clients_side_a_syn_sent_again_half_a_second_later_was_refused() {
    // Windows retries a refused connect about 0.5 s apart; no timer does.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(500, S, 100, 0)
        .c(1_000, S, 100, 0)
        .c(30_000, S, 300, 0)
        .finish();
    assert_eq!(
        (out[0].outcome, out[0].inferred),
        (Outcome::Refused, Some(Inference::ShortRetry))
    );
}

#[test]
fn from_one_side_the_fin_and_ack_order_names_who_closed_first() {
    // The client acknowledges the server's FIN (its ACK advances), then sends its own FIN:
    // the server closed first and holds TIME_WAIT.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(2, A, 101, 9001)
        .seg(3, true, A, 101, 9001, 10)
        .c(5, A, 111, 9012) // acknowledges 10 bytes and the server's FIN
        .c(6, F | A, 111, 9012)
        .c(2_000, S, 5000, 0)
        .finish();
    let r = out[1].reuse.unwrap();
    assert_eq!((r.holder, out[1].holder_inferred), (Holder::Server, true));
    // The client's FIN first, then its ACK of the server's later FIN: the client holds it.
    let out = Feed::new()
        .c(0, S, 100, 0)
        .c(2, A, 101, 9001)
        .seg(3, true, A, 101, 9001, 10)
        .c(4, F | A, 111, 9001)
        .c(6, A, 112, 9002)
        .c(2_000, S, 5000, 0)
        .finish();
    assert_eq!(out[1].reuse.unwrap().holder, Holder::Client);
}

#[test]
fn from_the_servers_side_a_syn_ack_or_a_reset_implies_the_syn_and_silence_counts_for_nothing() {
    let other = Endpoint {
        port: 3001,
        ..client()
    };
    let mut feed = Feed::new();
    feed.s(0, S | A, 9000, 101).s(3, A, 9001, 111);
    feed.feed(segment(
        50,
        Ts(5_000_000),
        server(),
        other,
        R | A,
        0,
        701,
        0,
    ));
    let out = feed.finish();
    let got: Vec<_> = out
        .iter()
        .map(|a| (a.isn.0, a.outcome, a.evidence, a.inferred))
        .collect();
    let side = Evidence::ServerSideOnly;
    assert_eq!(
        got,
        [
            (
                100,
                Outcome::Established,
                side,
                Some(Inference::ServerSynAck)
            ),
            (700, Outcome::Refused, side, Some(Inference::ServerReset)),
        ]
    );
}

#[test]
fn from_the_servers_side_its_last_ack_repeated_in_time_wait_is_a_challenge_to_an_unseen_syn() {
    // The server closes first (its FIN, then its ACK of the client's FIN), then repeats that
    // ACK 300 ms later: TIME_WAIT's answer to a new SYN; a SYN-ACK 12 ms after gives it its
    // ISN. As linux-mixed's last attempt from the server's side.
    let out = Feed::new()
        .s(0, S | A, 9000, 101)
        .s(3, F | A, 9001, 101)
        .s(5, A, 9002, 102)
        .s(300, A, 9002, 102)
        .s(312, S | A, 4000, 601)
        .finish();
    assert_eq!(out.len(), 2);
    let a = &out[1];
    assert_eq!(
        (a.isn.0, a.isn_known, a.outcome, a.challenge_acks),
        (600, true, Outcome::Established, 1)
    );
    assert_eq!(a.reuse.unwrap().holder, Holder::Server);
    // Never answered otherwise: challenged (its ISN unknown), decided past the next SYN due.
    let out = Feed::new()
        .s(0, S | A, 9000, 101)
        .s(3, F | A, 9001, 101)
        .s(5, A, 9002, 102)
        .s(300, A, 9002, 102)
        .s(30_000, S | A, 4000, 601)
        .finish();
    assert_eq!(
        (out[1].outcome, out[1].isn_known, out[1].inferred),
        (
            Outcome::ChallengeAck,
            false,
            Some(Inference::ServerChallenge)
        )
    );
}

#[test]
fn each_server_is_judged_by_whether_the_capture_holds_its_direction() {
    // Server A (both directions) ignores a SYN: unanswered. Server B's direction is not in
    // the capture (a handshake only the client's side proves): its unanswered-looking SYN is
    // read from the client's behaviour. Server C, never heard and never proved one-sided,
    // is a silent server in a capture that holds servers' packets: unanswered, not refused.
    let ep = |ip: &str, port| Endpoint {
        ip: ip.parse().unwrap(),
        port,
    };
    let (b, c) = (ep("192.168.50.20", 80), ep("192.168.50.30", 80));
    let cl = |port| Endpoint { port, ..client() };
    let mut feed = Feed::new();
    feed.heard(0).c(10, S, 100, 0);
    let t = |ms: i64| Ts(ms * 1_000_000);
    feed.feed(segment(40, t(20), cl(3100), b, S, 500, 0, 0));
    feed.feed(segment(41, t(21), cl(3100), b, A, 501, 77, 0));
    feed.feed(segment(42, t(22), cl(3100), b, A, 501, 77, 5));
    feed.feed(segment(43, t(30), cl(3101), b, S, 900, 0, 0));
    feed.feed(segment(44, t(40), cl(3102), c, S, 1200, 0, 0));
    feed.heard(20_000);
    let out = feed.finish();
    let got: Vec<_> = out.iter().map(|a| (a.outcome, a.evidence)).collect();
    assert_eq!(
        got,
        [
            (Outcome::Unanswered, Evidence::BothSides),
            (Outcome::Established, Evidence::ClientSideOnly),
            (Outcome::Refused, Evidence::ClientSideOnly),
            (Outcome::Unanswered, Evidence::BothSides),
        ]
    );
}

#[test]
fn an_implied_attempt_takes_its_syn_when_it_comes_within_a_second() {
    // Two capture points merged, the server's side 100 ms ahead, from the capture's start.
    let out = Feed::new()
        .s(0, S | A, 9000, 101)
        .c(100, S, 100, 0)
        .c(101, A, 101, 9001)
        .finish();
    assert_eq!(out.len(), 1);
    let a = &out[0];
    assert_eq!(
        (a.frame.number, a.established_by, a.evidence),
        (2, Some(Establishment::SynAckBeforeSyn), Evidence::BothSides)
    );
}

#[test]
fn a_flood_from_distinct_sources_keeps_the_flow_table_within_its_buckets_and_every_attempt() {
    // Issue 14: 1 M SYNs, each from its own source address. The flow table stays at its
    // capacity and its entries' vector never grows past it by more than one step (dense.rs);
    // every attempt still comes out, exactly once.
    let budgets = Budgets::from_bytes(8 << 20);
    let mut feed = Feed::with(Config {
        window_ns: WINDOW_S * NANOS_PER_SEC,
        filter: None,
        budgets,
    });
    let n = 20 * budgets.flows as u32;
    for i in 0..n {
        let c = Endpoint {
            ip: std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i)),
            port: 40_000,
        };
        feed.feed(segment(
            u64::from(i) + 1,
            Ts(i64::from(i) * 1_000_000),
            c,
            server(),
            S,
            i,
            0,
            0,
        ));
        assert!(feed.tracker.live_flows() <= budgets.flows);
        // A doubling would be twice the budget.
        assert!(
            feed.tracker.flows.capacity() <= budgets.flows + 2 + 1024,
            "{i}"
        );
    }
    let live = feed.tracker.live_flows() as u64;
    feed.tracker.finish();
    while let Some(a) = feed.tracker.pop_decided() {
        feed.out.push(a);
    }
    assert_eq!(feed.out.len() as u64, u64::from(n));
    let mut frames: Vec<u64> = feed.out.iter().map(|a| a.frame.number).collect();
    frames.sort_unstable();
    frames.dedup();
    assert_eq!(frames.len() as u64, u64::from(n));
    // Every 4-tuple evicted was evicted before its horizon (20 s of capture), and counted.
    assert_eq!(feed.tracker.dropped().flows, u64::from(n) - live);
    assert_eq!(feed.tracker.stats().peak_flows, budgets.flows);
}

#[test]
fn the_budgets_costs_cover_what_an_entry_really_takes() {
    use crate::budget::cost;
    use std::mem::size_of;
    // Hash index of a dense map: a 4-byte position and a control byte per bucket, buckets
    // at least 8/7 of the entries and at most twice that after a doubling; and the entry's
    // hash, kept beside it.
    let index = 12 + 8;
    let queue_entry = size_of::<(Ts, u64)>();
    let flow = size_of::<(FlowKey, Flow)>() + index + 2 * queue_entry + size_of::<Conn>();
    assert!(flow as u64 <= cost::FLOW, "flow {flow}");
    let record = size_of::<(FlowKey, archive::Record)>() + index + 2 * queue_entry;
    assert!(record as u64 <= cost::ARCHIVE, "record {record}");
    let port = size_of::<((std::net::IpAddr, u16), PortUse)>() + index + 2 * queue_entry;
    assert!(port as u64 <= cost::PORT, "port use {port}");
    let pending = size_of::<queue::Pending>();
    assert!(pending as u64 <= cost::PENDING, "pending {pending}");
}

#[test]
fn the_closed_queue_never_holds_more_entries_than_the_flow_budget() {
    // One 4-tuple opened and reset 5,000 times: each close would add an entry.
    let budgets = Budgets::from_bytes(0);
    let mut feed = Feed::with(Config {
        window_ns: WINDOW_S * NANOS_PER_SEC,
        filter: None,
        budgets,
    });
    for i in 0..5_000u32 {
        let ms = i64::from(i) * 10;
        let isn = 1_000 + i * 100_000;
        feed.c(ms, S, isn, 0)
            .s(ms + 1, S | A, 7_000, isn + 1)
            .c(ms + 2, A, isn + 1, 7_001)
            .c(ms + 3, R | A, isn + 1, 7_001);
        assert!(feed.tracker.closed.len() <= budgets.flows, "{i}");
    }
    assert_eq!(feed.tracker.closed.len(), budgets.flows);
}

/// The queue looks at its front only when the clock could let it go or a packet touched it
/// (`Queue::front_waits_until`); asked after every frame, it still lets it go at the first
/// frame that may.
#[test]
fn a_waiting_attempt_leaves_at_the_first_frame_past_its_wait_however_often_it_is_asked() {
    // Unanswered, its SYN sent again at 3 s: quiet for 130 s at 133 s.
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).heard(1).c(3000, S, 100, 0);
    for ms in (2..=133).map(|s| s * 1000) {
        assert!(feed.tick(ms).out.is_empty(), "left at {ms} ms");
    }
    let out: Vec<_> = feed
        .tick(133_001)
        .out
        .iter()
        .filter(|a| a.client.port != 3999)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].outcome, out[0].syn_retransmits),
        (Outcome::Unanswered, 1)
    );

    // Established: held for its first second after the SYN-ACK (at 1 ms).
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0)
        .s(1, S | A, 9000, 101)
        .c(2, A, 101, 9001);
    assert!(feed.tick(500).tick(1001).out.is_empty());
    assert_eq!(feed.tick(1002).out.len(), 1);
}

#[test]
fn a_packet_on_the_waiting_front_attempt_is_looked_at_before_its_wait_is_over() {
    // Found waiting until its next SYN is due (3.375 s); answered at 2 s, it waits for its
    // first second after the SYN-ACK instead, and leaves at the first frame after 3 s.
    let mut feed = Feed::new();
    feed.c(0, S, 100, 0).heard(1);
    assert!(feed.tick(1000).out.is_empty());
    feed.s(2000, S | A, 9000, 101).c(2001, A, 101, 9001);
    assert!(feed.tick(3000).out.is_empty());
    let out: Vec<_> = feed
        .tick(3001)
        .out
        .iter()
        .filter(|a| a.client.port != 3999)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].outcome, Outcome::Established);
}

#[test]
fn a_decided_attempt_is_read_where_it_lies_until_it_is_dropped() {
    let mut feed = Feed::new();
    feed.tracker
        .on_segment(&segment(1, Ts(0), client(), server(), S, 100, 0, 0));
    let t = &mut feed.tracker;
    assert!(!t.decide_next() && t.decided().is_none());
    // Nothing decided: dropping takes nothing.
    t.drop_decided();
    t.on_segment(&segment(
        2,
        Ts(1_000_000),
        server(),
        client(),
        R | A,
        0,
        101,
        0,
    ));
    t.finish();
    assert!(t.decide_next());
    let first = *t.decided().expect("decided");
    // Asked again before it is dropped: the same attempt, decided once.
    assert!(t.decide_next());
    assert_eq!(
        t.decided().map(|a| (a.frame, a.outcome)),
        Some((first.frame, first.outcome))
    );
    assert_eq!((first.frame.number, first.outcome), (1, Outcome::Refused));
    t.drop_decided();
    assert!(!t.decide_next() && t.decided().is_none() && t.pop_decided().is_none());
}
