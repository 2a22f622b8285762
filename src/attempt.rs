//! The unit of the report: one connection attempt (a SYN with one ISN), its outcome, and the
//! earlier connection on the same 4-tuple it may have collided with.

use crate::tcp::{Endpoint, FrameRef, Seq};
use crate::time::{NANOS_PER_SEC, Ts};

/// The shortest wait for a client's next SYN retransmission after its first SYN (Windows
/// retries after 3 s, Linux after 1 s): silence is `unanswered` only past the due time
/// (`Attempt::next_syn_due`, issue 9), until then `unknown`.
pub const UNANSWERED_AFTER_NS: i64 = 3 * NANOS_PER_SEC;
/// SYN retransmission times kept per attempt.
pub const RETRANSMITS_KEPT: usize = 6;

/// How an attempt ended (issue 3; the order is the precedence: a SYN-ACK wins over anything).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A SYN-ACK acknowledging ISN+1 came back, whatever happened afterwards.
    Established,
    /// A RST answered the SYN (and the capture goes on past the client's next SYN).
    Refused,
    /// An ICMP or ICMPv6 error quoting the SYN came back (destination unreachable, ...), and
    /// the capture goes on past the client's next SYN.
    IcmpUnreachable,
    /// Only ACKs without SYN whose acknowledgment number is unrelated to the ISN came back: a
    /// Linux server holding the 4-tuple in TIME_WAIT (RFC 5961 section 4 challenge ACK), and
    /// the capture goes on past the client's next SYN retransmission.
    ChallengeAck,
    /// Nothing came back and the capture goes on past the point where the client's next SYN
    /// retransmission was due (`Attempt::next_syn_due`).
    Unanswered,
    /// Nothing decisive came back, and the capture ends before the client would have retried.
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Established,
        Outcome::Refused,
        Outcome::IcmpUnreachable,
        Outcome::ChallengeAck,
        Outcome::Unanswered,
        Outcome::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Established => "established",
            Outcome::Refused => "refused",
            Outcome::IcmpUnreachable => "icmp_unreachable",
            Outcome::ChallengeAck => "challenge_ack",
            Outcome::Unanswered => "unanswered",
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcomes a user feels as a failed connection.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Refused
                | Outcome::IcmpUnreachable
                | Outcome::ChallengeAck
                | Outcome::Unanswered
        )
    }
}

/// Who sent the first FIN of a connection, so who holds its 4-tuple in TIME_WAIT (RFC 9293
/// section 3.6: the active closer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    Server,
    Client,
    /// The FINs crossed (simultaneous close): both sides enter TIME_WAIT.
    Both,
    /// Ended by RST: nobody holds TIME_WAIT.
    None,
    /// The end is not in the capture.
    Unknown,
}

impl Holder {
    pub fn name(self) -> &'static str {
        match self {
            Holder::Server => "server",
            Holder::Client => "client",
            Holder::Both => "both",
            Holder::None => "none",
            Holder::Unknown => "unknown",
        }
    }

    /// Whether the server side holds TIME_WAIT, so that it may ignore or challenge the SYN.
    pub fn server_holds(self) -> bool {
        matches!(self, Holder::Server | Holder::Both)
    }
}

/// The earlier connection on the same 4-tuple that completed its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reuse {
    /// First SYN of the earlier connection, and when it was sent.
    pub previous_frame: FrameRef,
    pub previous_ts: Ts,
    /// Last packet of the earlier connection (the gap is measured from here).
    pub previous_end_frame: FrameRef,
    /// This attempt's first SYN minus the earlier connection's last packet.
    pub gap_ns: i64,
    /// `gap < --time-wait` and the earlier connection was closed.
    pub in_window: bool,
    pub holder: Holder,
    /// The earlier connection had neither FIN nor RST: a SYN on an open 4-tuple.
    pub open: bool,
    /// The new ISN is above the last sequence number the client sent on the earlier
    /// connection (RFC 1122 4.2.2.13: what lets BSD and Linux accept a SYN in TIME_WAIT).
    pub isn_advanced: Option<bool>,
    /// The new SYN's TSval is above the last one the client sent (RFC 6191); `None` when
    /// either side of the comparison carried no timestamp.
    pub ts_advanced: Option<bool>,
}

/// How the earlier use of the 4-tuple relates to this attempt (rows of the cross table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReuseClass {
    InWindow,
    AfterWindow,
    Open,
    NotReused,
}

impl ReuseClass {
    pub const ALL: [ReuseClass; 4] = [
        ReuseClass::InWindow,
        ReuseClass::AfterWindow,
        ReuseClass::Open,
        ReuseClass::NotReused,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ReuseClass::InWindow => "reused in TIME_WAIT window",
            ReuseClass::AfterWindow => "reused after window",
            ReuseClass::Open => "reused while still open",
            ReuseClass::NotReused => "not reused",
        }
    }
}

/// What came back for an attempt, decided by the first matching answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub frame: FrameRef,
    pub ts: Ts,
}

/// An ICMP error that quoted the attempt's SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpAnswer {
    pub frame: FrameRef,
    pub ts: Ts,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
}

/// Which sides of the attempt the capture holds (issue 13): values inferred from one side
/// are marked so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Evidence {
    /// Packets of both the client and the server are in the capture.
    #[default]
    BothSides,
    /// Only the client's packets: outcome and holder are inferred from its behaviour.
    ClientSideOnly,
    /// Only the server's packets: the SYN is implied by the answer's acknowledgment number.
    ServerSideOnly,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::BothSides => "both_sides",
            Evidence::ClientSideOnly => "client_side_only",
            Evidence::ServerSideOnly => "server_side_only",
        }
    }
}

/// What proved that the handshake completed (issue 9: answers by acknowledgment number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Establishment {
    /// A SYN-ACK acknowledging ISN+1 (+ the SYN's data, TCP Fast Open).
    SynAck,
    /// The same, captured up to a second before its SYN (two capture points merged).
    SynAckBeforeSyn,
    /// The SYN-ACK is not in the capture; a server segment acknowledged data beyond ISN+1.
    ServerAckedData,
    /// The SYN-ACK is not in the capture; the client sent its handshake ACK, then data.
    ClientHandshake,
}

impl Establishment {
    pub fn name(self) -> &'static str {
        match self {
            Establishment::SynAck => "syn_ack",
            Establishment::SynAckBeforeSyn => "syn_ack_before_syn",
            Establishment::ServerAckedData => "server_acked_data",
            Establishment::ClientHandshake => "client_handshake",
        }
    }

    /// The SYN-ACK itself is not in the capture.
    pub fn syn_ack_missing(self) -> bool {
        matches!(
            self,
            Establishment::ServerAckedData | Establishment::ClientHandshake
        )
    }
}

/// An established connection closed within this long of its handshake is reported with its
/// first FIN or RST (`Attempt::first_close`): how applications refuse a peer (issue 10).
pub const FIRST_CLOSE_WITHIN_NS: i64 = NANOS_PER_SEC;

/// The first FIN or RST of an established attempt's connection, when it came within
/// FIRST_CLOSE_WITHIN_NS of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstClose {
    /// The server (the SYN's receiver) sent it.
    pub by_server: bool,
    /// It was a RST (otherwise a FIN).
    pub reset: bool,
    /// Since the handshake completed (the SYN-ACK, or what proved it).
    pub after_ns: i64,
    /// Payload bytes each side had sent up to and including that segment.
    pub server_bytes: u64,
    pub client_bytes: u64,
}

/// One connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The first SYN.
    pub frame: FrameRef,
    pub ts: Ts,
    pub client: Endpoint,
    pub server: Endpoint,
    pub isn: Seq,
    pub syn_retransmits: u32,
    pub last_syn_ts: Ts,
    pub challenge_acks: u32,
    /// The SYN-ACK that acknowledged ISN+1 (+ the SYN's data); when the SYN-ACK is not in the
    /// capture, the segment that proved the handshake (`established_by` says which).
    pub syn_ack: Option<Answer>,
    /// The RST that answered the SYN.
    pub rst: Option<Answer>,
    /// The first ICMP error that quoted the SYN.
    pub icmp: Option<IcmpAnswer>,
    pub previous_attempt_frame: Option<FrameRef>,
    /// First SYN minus the previous attempt's first SYN on the same 4-tuple.
    pub previous_attempt_gap_ns: Option<i64>,
    /// TSval of the first SYN.
    pub tsval: Option<u32>,
    /// When each SYN retransmission was sent, in microseconds after the first SYN (the first
    /// RETRANSMITS_KEPT of them): the retransmission schedule tells the client's stack.
    pub retransmit_us: [u32; RETRANSMITS_KEPT],
    pub reuse: Option<Reuse>,
    /// Set once the attempt is decided (resolved against the capture's clock).
    pub outcome: Outcome,
    /// Payload carried by the SYN (TCP Fast Open, RFC 7413).
    pub syn_data_len: u32,
    /// What proved the handshake, when it completed.
    pub established_by: Option<Establishment>,
    /// Which SYN the answer (SYN-ACK, RST, ICMP error) followed: 0 the first,
    /// n the n-th retransmission.
    pub answered_syn: Option<u32>,
    /// SYNs with this ISN that came after the attempt was decided (counted, nothing changed).
    pub late_syns: u32,
    /// Frames of this attempt's 4-tuple that were copies of an earlier frame (ignored).
    pub duplicate_frames: u32,
    /// First SYN minus the last packet of the previous use of the client's ip:port (to any
    /// destination), when that use had ended (FIN, RST, or an attempt that never got in):
    /// the port's idle time before reuse, what a firewall's MinTickBeforePortReuse sets.
    pub port_idle_ns: Option<i64>,
    /// First SYN minus the previous first SYN from the client's ip:port, to any destination.
    pub port_previous_syn_ns: Option<i64>,
    /// The connection's first FIN or RST, when within FIRST_CLOSE_WITHIN_NS of the handshake.
    pub first_close: Option<FirstClose>,
    /// Which sides of the attempt the capture holds.
    pub evidence: Evidence,
    /// When the client's next SYN retransmission was due, from its schedule so far (twice the
    /// last interval, at least 3 s, plus an eighth): silence is `unanswered` only once the
    /// capture has gone past it. `Ts(i64::MAX)` when the client will not send it again (it
    /// acknowledged a SYN-ACK the capture does not show).
    pub next_syn_due: Ts,
}

impl Attempt {
    /// A new attempt from its first SYN; everything else starts empty.
    pub fn from_syn(
        frame: FrameRef,
        ts: Ts,
        client: Endpoint,
        server: Endpoint,
        isn: Seq,
    ) -> Attempt {
        Attempt {
            frame,
            ts,
            client,
            server,
            isn,
            syn_retransmits: 0,
            last_syn_ts: ts,
            challenge_acks: 0,
            syn_ack: None,
            rst: None,
            icmp: None,
            previous_attempt_frame: None,
            previous_attempt_gap_ns: None,
            tsval: None,
            retransmit_us: [0; RETRANSMITS_KEPT],
            reuse: None,
            outcome: Outcome::Unknown,
            syn_data_len: 0,
            established_by: None,
            answered_syn: None,
            late_syns: 0,
            duplicate_frames: 0,
            port_idle_ns: None,
            port_previous_syn_ns: None,
            first_close: None,
            evidence: Evidence::BothSides,
            next_syn_due: ts.add_nanos(UNANSWERED_AFTER_NS + UNANSWERED_AFTER_NS / 8),
        }
    }

    /// The outcome, given the time up to which the capture is known to go on and whether
    /// any server has been heard at all (if not, silence proves nothing: `unknown`). A
    /// failure (refusal, ICMP error, challenge ACK, silence) is decided only once the client
    /// would have retried by then (issue 9): a capture cut earlier must not turn an attempt
    /// that got in on a later SYN with the same ISN into a failure.
    pub fn resolve(&self, capture_goes_on_until: Ts, servers_heard: bool) -> Outcome {
        let retry_passed = capture_goes_on_until > self.next_syn_due;
        if self.syn_ack.is_some() {
            Outcome::Established
        } else if !retry_passed {
            Outcome::Unknown
        } else if self.rst.is_some() {
            Outcome::Refused
        } else if self.icmp.is_some() {
            Outcome::IcmpUnreachable
        } else if self.challenge_acks > 0 {
            Outcome::ChallengeAck
        } else if servers_heard {
            Outcome::Unanswered
        } else {
            Outcome::Unknown
        }
    }

    /// Whether `resolve` can still change as the capture goes on without new packets for it.
    pub fn waits_for_time(&self) -> bool {
        self.syn_ack.is_none()
    }

    pub fn reuse_class(&self) -> ReuseClass {
        match self.reuse {
            None => ReuseClass::NotReused,
            Some(r) if r.open => ReuseClass::Open,
            Some(r) if r.in_window => ReuseClass::InWindow,
            Some(_) => ReuseClass::AfterWindow,
        }
    }

    /// Flagged in the report: it failed or was challenged, or it reused a 4-tuple that was
    /// still open or that the server (as far as the capture shows) still held in TIME_WAIT.
    /// A reuse inside the window whose TIME_WAIT only the client held is normal (the client's
    /// own stack or SO_REUSEADDR allowed it) and is not flagged; the JSON still lists it.
    pub fn is_flagged(&self) -> bool {
        let risky_reuse = self.reuse.is_some_and(|r| {
            r.open
                || (r.in_window
                    && matches!(r.holder, Holder::Server | Holder::Both | Holder::Unknown))
        });
        self.outcome.is_failure() || self.challenge_acks > 0 || risky_reuse
    }
}
