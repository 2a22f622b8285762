//! Per-4-tuple state: the phase of its newest use, the newest connection that completed its
//! handshake, and what a later attempt needs to know about it ([`Past`], which is also what
//! the long reuse memory keeps).

use crate::attempt::{FIRST_CLOSE_WITHIN_NS, FirstClose, Holder, Reuse};
use crate::tcp::{FlowKey, FrameRef, Segment, Seq};
use crate::time::Ts;

use super::ConnEnd;
use super::dedup::Recent;
use super::side::{Pair, Side};

/// How far (either way) a RST's sequence number may be from its sender's next sequence number
/// and still count: a receive window of 64 KiB, unscaled.
const RST_WINDOW: u32 = 65_535;

/// Where the newest use of a 4-tuple stands (RFC 9293's states, as seen from outside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The newest attempt has not (yet) completed its handshake: SYN-SENT.
    SynSent,
    /// Its handshake completed; no FIN or RST yet: ESTABLISHED.
    Established,
    /// A FIN was seen: FIN-WAIT / CLOSE-WAIT / CLOSING / LAST-ACK.
    Closing,
    /// Both FINs, or a RST in the window: TIME-WAIT (for whoever closed first) or CLOSED.
    Closed,
}

impl Phase {
    /// The newest connection is live: its packets extend it.
    pub fn connected(self) -> bool {
        !matches!(self, Phase::SynSent)
    }
}

/// What a later attempt on the 4-tuple needs of an earlier connection (the reuse it makes):
/// compact, so that the long reuse memory can keep it for many 4-tuples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Past {
    pub syn_frame: FrameRef,
    pub syn_ts: Ts,
    pub last_frame: FrameRef,
    pub last_ts: Ts,
    /// Highest sequence number (plus length) each side sent.
    pub seq_end: Pair<Seq>,
    /// Last TSval each side sent.
    pub tsval: Pair<Option<u32>>,
    /// Who sent the first FIN; whether the second FIN crossed it; whether a RST ended it.
    pub first_fin: Option<Side>,
    pub crossed: bool,
    pub rst: bool,
}

impl Past {
    /// Neither FIN nor RST: the connection was still open.
    pub fn is_open(&self) -> bool {
        self.first_fin.is_none() && !self.rst
    }

    /// Who holds TIME_WAIT, in the roles of an attempt whose client is `client`.
    pub fn holder(&self, client: Side) -> Holder {
        match (self.rst, self.first_fin, self.crossed) {
            (true, _, _) => Holder::None,
            (false, None, _) => Holder::Unknown,
            (false, Some(_), true) => Holder::Both,
            (false, Some(first), false) if first == client => Holder::Client,
            (false, Some(_), false) => Holder::Server,
        }
    }

    /// The reuse a SYN from `client` makes of this connection; `None` when the SYN is
    /// earlier in time than the connection's last packet (timestamps went backwards: it
    /// cannot be a reuse of something that comes later, and a gap is never negative).
    pub fn reuse(&self, seg: &Segment, client: Side, window_ns: i64) -> Option<Reuse> {
        let gap_ns = seg.ts.since(self.last_ts);
        if gap_ns < 0 {
            return None;
        }
        let open = self.is_open();
        Some(Reuse {
            previous_frame: self.syn_frame,
            previous_ts: self.syn_ts,
            previous_end_frame: self.last_frame,
            gap_ns,
            in_window: !open && gap_ns < window_ns,
            holder: self.holder(client),
            // RFC 1122 4.2.2.13: a SYN in TIME_WAIT may be accepted when its ISN is above the
            // old connection's last sequence number from that side; RFC 6191: or its TSval
            // is above the last one seen.
            isn_advanced: Some(seg.seq > self.seq_end[client]),
            ts_advanced: match (seg.tsval, self.tsval[client]) {
                (Some(new), Some(old)) => Some(Seq(new) > Seq(old)),
                _ => None,
            },
            open,
        })
    }
}

/// A connection that completed its handshake.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub past: Past,
    pub client: Side,
    /// When the handshake completed (the SYN-ACK, or what proved it).
    pub established_ts: Ts,
    /// Payload bytes each side sent.
    pub bytes: Pair<u64>,
    /// The first FIN or RST: who sent it and when.
    pub first_end: Option<(Side, Ts)>,
    /// An ACK acknowledged data the capture never showed (the capture dropped packets).
    pub acked_unseen: bool,
    /// The queue id of the attempt that opened it (for `Attempt::first_close`).
    pub attempt_id: u64,
    /// The sequence number of the first FIN, and whether the other side's FIN was seen.
    pub first_fin_seq: Seq,
    pub second_fin: bool,
}

impl Conn {
    /// What an extended segment did, for the caller's bookkeeping.
    pub fn touch(&mut self, seg: &Segment, side: Side) -> Touch {
        let p = &mut self.past;
        if seg.ts >= p.last_ts {
            p.last_frame = seg.frame;
            p.last_ts = seg.ts;
        }
        // A RST's sequence number may be anything (0 from some stacks): it moves nothing.
        let end = seg.seq + seg.seq_len();
        if !seg.flags.rst() && end > p.seq_end[side] {
            p.seq_end[side] = end;
        }
        let newly_unseen = !self.acked_unseen
            && seg.flags.ack()
            && !seg.flags.rst()
            && seg.ack > p.seq_end[side.other()];
        self.acked_unseen |= newly_unseen;
        if let Some(ts) = seg.tsval
            && p.tsval[side].is_none_or(|old| Seq(ts) > Seq(old))
        {
            p.tsval[side] = Some(ts);
        }
        self.bytes[side] += u64::from(seg.payload_len);
        let mut first_close = None;
        if (seg.flags.fin() || seg.flags.rst()) && self.first_end.is_none() {
            self.first_end = Some((side, seg.ts));
            let after_ns = seg.ts.since(self.established_ts);
            first_close = (after_ns <= FIRST_CLOSE_WITHIN_NS).then_some(FirstClose {
                by_server: side != self.client,
                reset: seg.flags.rst(),
                after_ns,
                server_bytes: self.bytes[self.client.other()],
                client_bytes: self.bytes[self.client],
            });
        }
        // A RST ends the connection (and a TIME_WAIT it hits, RFC 793 / Linux's default
        // rfc1337 = 0) only if its sequence number is near what its sender has sent; stacks
        // ignore one far out of the window (RFC 5961 section 3).
        let near = seg
            .seq
            .0
            .wrapping_sub(p.seq_end[side].0)
            .wrapping_add(RST_WINDOW)
            <= 2 * RST_WINDOW;
        if seg.flags.rst() && near {
            p.rst = true;
        }
        if seg.flags.fin() {
            self.on_fin(side, seg);
        }
        Touch {
            newly_unseen,
            first_close,
        }
    }

    /// FIN bookkeeping: the first FIN names the active closer; a second FIN that does not
    /// acknowledge the first means the FINs crossed (RFC 9293 3.6, simultaneous close).
    fn on_fin(&mut self, side: Side, seg: &Segment) {
        let fin_seq = seg.seq + seg.payload_len;
        match self.past.first_fin {
            None => {
                self.past.first_fin = Some(side);
                self.first_fin_seq = fin_seq;
            }
            Some(first) if first != side && !self.second_fin => {
                let acks_first = seg.flags.ack() && seg.ack > self.first_fin_seq;
                self.past.crossed = !acks_first;
                self.second_fin = true;
            }
            Some(_) => {} // a retransmitted FIN
        }
    }

    /// A connection the long reuse memory gave back: only what a reuse needs.
    pub fn remembered(past: Past, client: Side) -> Conn {
        Conn {
            past,
            client,
            established_ts: past.syn_ts,
            bytes: Pair::default(),
            first_end: None,
            acked_unseen: false,
            attempt_id: u64::MAX,
            first_fin_seq: Seq(0),
            second_fin: false,
        }
    }

    /// `seg` (from `side`) is in this connection's sequence spaces.
    pub fn fits(&self, seg: &Segment, side: Side) -> bool {
        near(seg.seq, self.past.seq_end[side])
            && (!seg.flags.ack() || near(seg.ack, self.past.seq_end[side.other()]))
    }

    /// The server's segments that came before the SYN (merged capture points).
    pub fn absorb(&mut self, early: &EarlyAnswer) {
        let server = early.side;
        if early.seq_end > self.past.seq_end[server] {
            self.past.seq_end[server] = early.seq_end;
        }
        self.bytes[server] += early.bytes;
        if let Some((ts, fin_seq)) = early.fin {
            self.past.first_fin = Some(server);
            self.first_fin_seq = fin_seq;
            self.first_end = Some((server, ts));
        }
        if early.reset {
            self.past.rst = true;
            self.first_end.get_or_insert((server, early.ts));
        }
    }

    /// The phase after this segment.
    pub fn phase(&self) -> Phase {
        if self.past.rst || self.second_fin {
            Phase::Closed
        } else if self.past.first_fin.is_some() {
            Phase::Closing
        } else {
            Phase::Established
        }
    }

    /// What the connection looked like when it ended (or the capture did).
    pub fn end(&self, key: &FlowKey) -> ConnEnd {
        ConnEnd {
            client: self.client.endpoint(key),
            server: self.client.other().endpoint(key),
            syn_frame: self.past.syn_frame,
            established_ts: self.established_ts,
            last_ts: self.past.last_ts,
            first_end: self
                .first_end
                .map(|(side, ts)| (side != self.client, ts.since(self.established_ts))),
            reset: self.past.rst,
            client_bytes: self.bytes[self.client],
            server_bytes: self.bytes[self.client.other()],
        }
    }
}

/// What [`Conn::touch`] changed that the tracker counts or passes on.
pub struct Touch {
    pub newly_unseen: bool,
    pub first_close: Option<FirstClose>,
}

/// A SYN-ACK or RST seen before any SYN it could answer: two capture points merged, with the
/// server's side ahead (issue 9). Kept for a second in case its SYN follows, with a summary of
/// the server's segments that followed it in its own sequence space.
#[derive(Clone, Copy, Debug)]
pub struct EarlyAnswer {
    pub frame: FrameRef,
    pub ts: Ts,
    /// The answer's sender (the server).
    pub side: Side,
    /// A RST (a refusal) rather than a SYN-ACK.
    pub rst: bool,
    pub seq: Seq,
    pub ack: Seq,
    pub tsval: Option<u32>,
    /// The server's segments after it (before the SYN): the last one, the sequence space and
    /// bytes they covered, and their first FIN or RST.
    pub last: Option<(FrameRef, Ts)>,
    pub seq_end: Seq,
    pub bytes: u64,
    pub fin: Option<(Ts, Seq)>,
    pub reset: bool,
}

impl EarlyAnswer {
    pub fn new(seg: &Segment, side: Side) -> EarlyAnswer {
        EarlyAnswer {
            frame: seg.frame,
            ts: seg.ts,
            side,
            rst: seg.flags.rst(),
            seq: seg.seq,
            ack: seg.ack,
            tsval: seg.tsval,
            last: None,
            seq_end: seg.seq + 1,
            bytes: 0,
            fin: None,
            reset: false,
        }
    }

    /// A later server segment in the SYN-ACK's sequence spaces (its data, its FIN).
    pub fn follows(&self, seg: &Segment, side: Side) -> bool {
        !self.rst && side == self.side && near(seg.seq, self.seq_end) && near(seg.ack, self.ack)
    }

    pub fn add(&mut self, seg: &Segment) {
        self.last = Some((seg.frame, seg.ts));
        let end = seg.seq + seg.seq_len();
        if end > self.seq_end {
            self.seq_end = end;
        }
        self.bytes += u64::from(seg.payload_len);
        if seg.flags.fin() && self.fin.is_none() {
            self.fin = Some((seg.ts, seg.seq + seg.payload_len));
        }
        self.reset |= seg.flags.rst();
    }
}

/// Within 16 MiB either way: the same sequence space.
pub fn near(a: Seq, b: Seq) -> bool {
    const W: u32 = 1 << 24;
    a.0.wrapping_sub(b.0).wrapping_add(W) <= 2 * W
}

/// Everything known about one 4-tuple.
#[derive(Clone, Copy, Debug)]
pub struct Flow {
    pub last_seen: Ts,
    pub phase: Phase,
    /// The client (SYN sender) of the newest attempt.
    pub client: Side,
    /// The newest attempt still in the queue; older ones on this 4-tuple are chained from it
    /// (`Pending::older`).
    pub newest: Option<u64>,
    /// The newest connection on this 4-tuple that completed its handshake (its slot in
    /// [`Conns`]; also a connection the long reuse memory gave back, not live).
    pub conn: Option<u32>,
    /// First SYN of the newest attempt.
    pub last_attempt: Option<(FrameRef, Ts)>,
    /// ISNs of the newest attempts (newest first): a SYN with one of them after its attempt
    /// left the queue is a late SYN, not a new attempt.
    pub isns: [Option<Seq>; 2],
    /// TSval of the newest attempt's SYN.
    pub syn_tsval: Option<u32>,
    pub recent: Recent,
    /// An [`EarlyAnswer`] waits for this 4-tuple's SYN (kept beside the flow table).
    pub early: bool,
}

impl Flow {
    pub fn new(ts: Ts, client: Side) -> Flow {
        Flow {
            last_seen: ts,
            phase: Phase::SynSent,
            client,
            newest: None,
            conn: None,
            last_attempt: None,
            isns: [None; 2],
            syn_tsval: None,
            recent: Recent::default(),
            early: false,
        }
    }

    /// When the newest use of this 4-tuple ended, given the time of its last packet: `None`
    /// while its connection is still open (no FIN or RST).
    pub fn use_end(&self, last_packet: Ts) -> Option<Ts> {
        match self.phase {
            Phase::Established => None,
            _ => Some(last_packet),
        }
    }

    pub fn remember_isn(&mut self, isn: Seq) {
        self.isns = [Some(isn), self.isns[0]];
    }

    pub fn knows_isn(&self, isn: Seq) -> bool {
        self.isns.contains(&Some(isn))
    }
}

/// The connections of the flow table, apart from it, so that a flow without one (a SYN
/// flood) stays small. Slots are reused; nothing is allocated per packet.
#[derive(Default)]
pub struct Conns {
    slots: Vec<Conn>,
    free: Vec<u32>,
}

impl Conns {
    /// Stores `conn` as `flow`'s connection (replacing the one it had).
    pub fn put(&mut self, flow: &mut Flow, conn: Conn) {
        if let Some(slot) = flow.conn.and_then(|i| self.slots.get_mut(i as usize)) {
            *slot = conn;
            return;
        }
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = conn;
                i
            }
            None => {
                self.slots.push(conn);
                (self.slots.len() - 1) as u32
            }
        };
        flow.conn = Some(index);
    }

    pub fn get(&self, flow: &Flow) -> Option<&Conn> {
        flow.conn.and_then(|i| self.slots.get(i as usize))
    }

    pub fn get_mut(&mut self, flow: &Flow) -> Option<&mut Conn> {
        flow.conn.and_then(|i| self.slots.get_mut(i as usize))
    }

    /// The live connection, if the newest attempt opened one.
    pub fn live(&self, flow: &Flow) -> Option<&Conn> {
        self.get(flow).filter(|_| flow.phase.connected())
    }

    pub fn live_mut(&mut self, flow: &Flow) -> Option<&mut Conn> {
        self.get_mut(flow).filter(|_| flow.phase.connected())
    }

    /// The earlier connection a new attempt on `flow` is measured against.
    pub fn previous(&self, flow: &Flow) -> Option<Past> {
        self.get(flow).map(|c| c.past)
    }

    /// `flow` leaves the flow table: its slot is free again.
    pub fn release(&mut self, flow: &mut Flow) {
        if let Some(i) = flow.conn.take() {
            self.free.push(i);
        }
    }
}
