//! Per-4-tuple history: attempts (SYN with one ISN), their answers, the connection they opened
//! and how it ended. Attempts leave in order of their first SYN once nothing can change them.
//!
//! State is kept only for 4-tuples on which a SYN of interest was seen, and a 4-tuple idle for
//! longer than the retention horizon (twice the TIME_WAIT window) is dropped, so memory follows
//! the live 4-tuples, not the length of the capture.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use crate::attempt::{
    Answer, Attempt, Establishment, FIRST_CLOSE_WITHIN_NS, FirstClose, Holder, IcmpAnswer, Reuse,
    UNANSWERED_AFTER_NS,
};
use crate::budget::{Budgets, Dropped};
use crate::decode::IcmpError;
use crate::tcp::{Endpoint, FlowKey, FrameRef, Segment, Seq};
use crate::time::{NANOS_PER_SEC, Ts};

/// An unanswered attempt with no new SYN for this long is decided: Linux gives up after
/// 127 s (tcp_syn_retries = 6), Windows after 21 s. A SYN with its ISN after that is a new attempt.
const SETTLE_NS: i64 = 130 * NANOS_PER_SEC;
/// A refused attempt is decided once it has been quiet this long: Windows sends a refused
/// SYN again twice within about a second; Linux does not retry.
const REFUSED_NS: i64 = 5 * NANOS_PER_SEC;
/// Attempts held back while no server has sent a packet (a one-direction capture cannot tell
/// unanswered from unseen); past this many they are judged `unknown` as they come.
const ONE_WAY_HOLD: usize = 50_000;
/// How far (either way) a RST's sequence number may be from its sender's next sequence number
/// and still count: a receive window of 64 KiB, unscaled.
const RST_WINDOW: u32 = 65_535;
/// How often (in capture time) idle 4-tuples are swept out.
const SWEEP_EVERY_NS: i64 = 10 * NANOS_PER_SEC;

#[derive(Clone, Debug)]
pub struct Config {
    /// `--time-wait`: a reuse closer than this to the earlier connection's end is in the window.
    pub window_ns: i64,
    /// Which SYNs to analyse (sender, receiver); `None` means all.
    pub filter: Option<crate::filter::Filter>,
    /// Capacities: live 4-tuples above `flows` are dropped sooner than twice the window;
    /// past `pending` attempts waiting, the oldest is settled at once.
    pub budgets: Budgets,
}

mod ports;
pub mod seen;

use ports::{PortUse, PortUses};
use seen::Seen;

/// Frame counters the tracker keeps (SYN counts are over all TCP, before any filter).
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackStats {
    pub tcp_segments: u64,
    /// Frames with SYN and without ACK.
    pub syn_packets: u64,
    /// Frames with SYN and ACK.
    pub synack_packets: u64,
    /// ICMP/ICMPv6 errors that quote a TCP header.
    pub icmp_errors: u64,
    /// Of those, the ones whose quoted header has the SYN flag (tshark counts them as SYN
    /// frames: `tcp.flags.syn == 1` matches inside the ICMP payload).
    pub syn_quoted_in_icmp: u64,
    /// Packets from the server side of tracked 4-tuples (none: a one-direction capture).
    pub server_packets: u64,
    /// FIN or RST segments of 4-tuples whose SYN is not in the capture (it began mid-connection).
    pub ends_without_handshake: u64,
    /// Connections in which an ACK acknowledged data the capture never showed (drops).
    pub acks_of_unseen_data: u64,
    /// Most 4-tuples held at once (memory follows this).
    pub peak_flows: usize,
}

/// A connection that completed its handshake, as it ended: for the direction analysis (an
/// application that accepts TCP and then refuses the peer closes within a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEnd {
    pub client: Endpoint,
    pub server: Endpoint,
    pub syn_frame: FrameRef,
    pub established_ts: Ts,
    pub last_ts: Ts,
    /// The first FIN or RST: whether the server sent it, and how long after the SYN-ACK.
    pub first_end: Option<(bool, i64)>,
    pub reset: bool,
    pub client_bytes: u64,
    pub server_bytes: u64,
}

/// A connection that completed its handshake (a SYN-ACK acknowledged its ISN+1).
#[derive(Clone, Copy, Debug)]
struct Conn {
    syn_frame: FrameRef,
    syn_ts: Ts,
    client: Endpoint,
    server: Endpoint,
    client_is_lo: bool,
    established_ts: Ts,
    /// Highest sequence number (plus length) each side sent, [lo, hi].
    seq_end: [Seq; 2],
    /// Last TSval each side sent, [lo, hi].
    tsval: [Option<u32>; 2],
    /// Payload bytes each side sent, [lo, hi].
    bytes: [u64; 2],
    /// The first FIN or RST: whether lo sent it, and when.
    first_end: Option<(bool, Ts)>,
    /// An ACK acknowledged data the capture never showed (the capture dropped packets).
    acked_unseen: bool,
    last_frame: FrameRef,
    last_ts: Ts,
    /// The sequence number of the first FIN and which side sent it (true = lo).
    first_fin: Option<(bool, Seq)>,
    second_fin_crossed: Option<bool>,
    rst: bool,
    /// Still the connection of the flow's newest attempt (packets extend it).
    active: bool,
    /// The pending-queue id of the attempt that opened it (for `Attempt::first_close`).
    attempt_id: u64,
}

impl Conn {
    fn touch(&mut self, seg: &Segment, from_lo: bool) {
        self.last_frame = seg.frame;
        self.last_ts = seg.ts;
        let (me, peer) = if from_lo { (0, 1) } else { (1, 0) };
        // A RST's sequence number may be anything (0 from some stacks): it moves nothing.
        let end = seg.seq + seg.seq_len();
        if !seg.flags.rst() && end > self.seq_end[me] {
            self.seq_end[me] = end;
        }
        if seg.flags.ack() && !seg.flags.rst() && seg.ack > self.seq_end[peer] {
            self.acked_unseen = true;
        }
        self.tsval[me] = seg.tsval.or(self.tsval[me]);
        self.bytes[me] += u64::from(seg.payload_len);
        if (seg.flags.fin() || seg.flags.rst()) && self.first_end.is_none() {
            self.first_end = Some((from_lo, seg.ts));
        }
    }

    /// What the connection looked like when it ended (or the capture did).
    fn end(&self) -> ConnEnd {
        let (client, server) = (self.client, self.server);
        let (c, s) = if self.client_is_lo { (0, 1) } else { (1, 0) };
        ConnEnd {
            client,
            server,
            syn_frame: self.syn_frame,
            established_ts: self.established_ts,
            last_ts: self.last_ts,
            first_end: self
                .first_end
                .map(|(lo, ts)| (lo != self.client_is_lo, ts.since(self.established_ts))),
            reset: self.rst,
            client_bytes: self.bytes[c],
            server_bytes: self.bytes[s],
        }
    }

    /// FIN bookkeeping: the first FIN names the active closer; a second FIN that does not
    /// acknowledge the first means the FINs crossed (RFC 9293 3.6, simultaneous close).
    fn on_fin(&mut self, from_lo: bool, seg: &Segment) {
        let fin_seq = seg.seq + seg.payload_len;
        match self.first_fin {
            None => self.first_fin = Some((from_lo, fin_seq)),
            Some((side, first)) if side != from_lo && self.second_fin_crossed.is_none() => {
                let acks_first = seg.flags.ack() && seg.ack > first;
                self.second_fin_crossed = Some(!acks_first);
            }
            Some(_) => {} // a retransmitted FIN
        }
    }

    /// Who holds TIME_WAIT, in terms of the roles of an attempt whose client is `client_is_lo`.
    fn holder(&self, client_is_lo: bool) -> Holder {
        if self.rst {
            return Holder::None;
        }
        match (self.first_fin, self.second_fin_crossed) {
            (None, _) => Holder::Unknown,
            (Some(_), Some(true)) => Holder::Both,
            (Some((lo_first, _)), _) if lo_first == client_is_lo => Holder::Client,
            (Some(_), _) => Holder::Server,
        }
    }

    fn is_open(&self) -> bool {
        self.first_fin.is_none() && !self.rst
    }
}

/// Everything known about one 4-tuple.
#[derive(Clone, Copy, Debug)]
struct Flow {
    last_seen: Ts,
    /// The attempt still being decided: its id in the pending queue.
    current: Option<u64>,
    /// Role and ISN of the newest attempt.
    client_is_lo: bool,
    isn: Seq,
    /// The newest connection on this 4-tuple that completed its handshake.
    conn: Option<Conn>,
    last_attempt_frame: Option<FrameRef>,
    last_attempt_ts: Ts,
    /// TSval of the newest attempt's SYN.
    syn_tsval: Option<u32>,
    /// The newest attempt completed its handshake.
    newest_established: bool,
}

impl Flow {
    /// When the newest use of this 4-tuple ended, given the time of its last packet: `None`
    /// while its connection is still open (no FIN or RST).
    fn use_end(&self, last_packet: Ts) -> Option<Ts> {
        match self.conn {
            Some(c) if self.newest_established && c.is_open() => None,
            _ => Some(last_packet),
        }
    }
}

struct Pending {
    attempt: Attempt,
    /// No further packet can change it (superseded, evicted, or the client moved on).
    settled: bool,
    last_activity: Ts,
    /// How long the attempt must be quiet before it is decided: SETTLE_NS, or REFUSED_NS
    /// once a RST answered it (a client may send the refused SYN again a few times).
    quiet_ns: i64,
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The attempts being decided, in order of first SYN; `base` is the id of the front.
struct Book {
    config: Config,
    pending: VecDeque<Pending>,
    base: u64,
    /// The capture's clock: the latest timestamp seen (timestamps may go back; this does not).
    now: Ts,
    /// Connections that have ended (or were superseded), for the direction analysis.
    ended: VecDeque<ConnEnd>,
    stats: TrackStats,
    seen: Seen,
    ports: PortUses,
    dropped: Dropped,
}

pub struct Tracker {
    flows: FxMap<FlowKey, Flow>,
    book: Book,
    next_sweep: Ts,
    finished: bool,
}

impl Tracker {
    pub fn new(config: Config) -> Tracker {
        let budgets = config.budgets;
        Tracker {
            flows: FxMap::default(),
            book: Book {
                config,
                pending: VecDeque::new(),
                base: 0,
                now: Ts(i64::MIN),
                ended: VecDeque::new(),
                stats: TrackStats::default(),
                seen: Seen::new(budgets.evidence),
                ports: PortUses::new(budgets.ports),
                dropped: Dropped::default(),
            },
            next_sweep: Ts(i64::MIN),
            finished: false,
        }
    }

    /// Advances the capture clock (call for every frame, TCP or not).
    pub fn advance(&mut self, ts: Ts) {
        self.book.seen.note_frame(ts);
        if ts > self.book.now {
            self.book.now = ts;
        }
        if self.book.now >= self.next_sweep {
            if self.next_sweep != Ts(i64::MIN) {
                self.sweep();
            }
            self.next_sweep = self.book.now.add_nanos(SWEEP_EVERY_NS);
        }
    }

    /// Feeds one TCP segment.
    pub fn on_segment(&mut self, seg: &Segment) {
        self.book.stats.tcp_segments += 1;
        self.advance(seg.ts);
        let (key, from_lo) = FlowKey::new(seg.src, seg.dst);
        let syn_only = seg.flags.syn() && !seg.flags.ack();
        if seg.flags.syn() {
            if seg.flags.ack() {
                self.book.stats.synack_packets += 1;
            } else {
                self.book.stats.syn_packets += 1;
            }
        }
        if let Some(flow) = self.flows.get_mut(&key) {
            let last_seen = flow.last_seen;
            let newest = flow.use_end(last_seen);
            if let Some(id) = self.book.on_flow_segment(flow, seg, from_lo, syn_only) {
                self.note_port_use(key, id, seg, newest);
            }
        } else if !syn_only && (seg.flags.fin() || seg.flags.rst()) {
            // The capture began after this connection's SYN (or the SYN was filtered out).
            let wanted = self.book.wanted(seg)
                || self.book.wanted(&Segment {
                    src: seg.dst,
                    dst: seg.src,
                    ..*seg
                });
            self.book.stats.ends_without_handshake += u64::from(wanted);
        } else if syn_only && self.book.wanted(seg) {
            let mut flow = Flow {
                last_seen: seg.ts,
                current: None,
                client_is_lo: from_lo,
                isn: seg.seq,
                conn: None,
                last_attempt_frame: None,
                last_attempt_ts: seg.ts,
                syn_tsval: None,
                newest_established: false,
            };
            let id = self.book.start_attempt(&mut flow, seg, from_lo);
            self.flows.insert(key, flow);
            self.book.stats.peak_flows = self.book.stats.peak_flows.max(self.flows.len());
            self.note_port_use(key, id, seg, None);
        }
    }

    /// A new attempt `id` from `seg.src`: how long its port rested since its previous use.
    /// `same_key_end` is when the previous use of this same 4-tuple ended (if it had ended),
    /// taken before the SYN touched the flow.
    fn note_port_use(&mut self, key: FlowKey, id: u64, seg: &Segment, same_key_end: Option<Ts>) {
        let this = PortUse {
            key,
            syn_ts: seg.ts,
            ended: None,
        };
        let Some(previous) = self.book.ports.replace(seg.src.ip, seg.src.port, this) else {
            return;
        };
        let ended = if previous.key == key {
            same_key_end
        } else {
            match self.flows.get(&previous.key) {
                Some(flow) => flow.use_end(flow.last_seen),
                None => previous.ended,
            }
        };
        let a = &mut self.book.slot(id).attempt;
        a.port_previous_syn_ns = Some(seg.ts.since(previous.syn_ts).max(0));
        a.port_idle_ns = ended.map(|e| seg.ts.since(e)).filter(|gap| *gap >= 0);
    }

    /// Feeds an ICMP error quoting a TCP segment: it answers the attempt whose SYN it quotes.
    pub fn on_icmp(&mut self, error: &IcmpError) {
        self.advance(error.ts);
        self.book.stats.icmp_errors += 1;
        self.book.stats.syn_quoted_in_icmp += u64::from(error.flags.is_some_and(|f| f.syn()));
        let (key, from_lo) = FlowKey::new(error.src, error.dst);
        if let Some(flow) = self.flows.get_mut(&key) {
            self.book.on_icmp(flow, error, from_lo);
        }
    }

    /// The next attempt whose outcome is final, in order of first SYN.
    pub fn pop_decided(&mut self) -> Option<Attempt> {
        self.book.pop_decided(self.finished)
    }

    /// Drops 4-tuples idle for longer than the retention horizon (twice the window) and
    /// settles their attempts. Past MAX_FLOWS live 4-tuples (a SYN flood, a port scan) the
    /// horizon shrinks to the window, then to SETTLE_NS, so memory stays bounded; only reuses
    /// after the window can then go unseen.
    fn sweep(&mut self) {
        // Never sooner than an attempt can still be retransmitted (SETTLE_NS): a short
        // --time-wait must not split an attempt's SYN retransmissions.
        let keep = self.book.config.window_ns.saturating_mul(2).max(SETTLE_NS);
        let max_flows = self.book.config.budgets.flows;
        for (i, keep_ns) in [keep, keep / 2, keep / 8].into_iter().enumerate() {
            let before = self.flows.len();
            self.sweep_older_than(keep_ns);
            if i > 0 {
                self.book.dropped.flows += (before - self.flows.len()) as u64;
            }
            if self.flows.len() <= max_flows {
                break;
            }
        }
    }

    fn sweep_older_than(&mut self, keep_ns: i64) {
        let horizon = self.book.now.add_nanos(-keep_ns);
        let book = &mut self.book;
        self.flows.retain(|key, flow| {
            let keep = flow.last_seen >= horizon;
            if !keep {
                let client = if flow.client_is_lo { key.lo } else { key.hi };
                book.ports.end(client.ip, client.port, *key, flow.last_seen);
                if let Some(id) = flow.current.filter(|id| book.is_open_attempt(*id)) {
                    book.slot(id).settled = true;
                }
                if let Some(conn) = flow.conn.filter(|c| c.active) {
                    book.ended.push_back(conn.end());
                }
            }
            keep
        });
    }

    /// The capture has ended: every attempt is decided against its last timestamp.
    pub fn finish(&mut self) {
        self.finished = true;
        let mut ends: Vec<ConnEnd> = self
            .flows
            .values()
            .filter_map(|f| f.conn.filter(|c| c.active))
            .map(|c| c.end())
            .collect();
        ends.sort_by_key(|e| e.syn_frame);
        self.book.ended.extend(ends);
    }

    /// Frame counters and capture-quality evidence.
    pub fn stats(&self) -> &TrackStats {
        &self.book.stats
    }

    /// The next connection that ended (in no particular order), for the direction analysis.
    pub fn pop_ended(&mut self) -> Option<ConnEnd> {
        self.book.ended.pop_front()
    }

    /// Evidence gathered so far for causes that need more than an attempt's own packets.
    pub fn seen(&self) -> &Seen {
        &self.book.seen
    }

    /// What the memory budgets made the tracker drop or decide early.
    pub fn dropped(&self) -> Dropped {
        let mut d = self.book.dropped;
        d.ports += self.book.ports.dropped;
        d.evidence += self.book.seen.dropped;
        d
    }

    /// 4-tuples currently held.
    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }

    /// The latest timestamp of the capture.
    pub fn end_ts(&self) -> Ts {
        self.book.now
    }
}

impl Book {
    fn wanted(&self, seg: &Segment) -> bool {
        self.config
            .filter
            .as_ref()
            .is_none_or(|f| f.wants(seg.src, seg.dst))
    }
    /// Feeds a segment of a known 4-tuple; returns the id of the attempt it started, if any.
    fn on_flow_segment(
        &mut self,
        flow: &mut Flow,
        seg: &Segment,
        from_lo: bool,
        syn_only: bool,
    ) -> Option<u64> {
        flow.last_seen = seg.ts;
        let current = flow
            .current
            .filter(|id| self.is_open_attempt(*id) && !self.settle_if_quiet(*id, seg.ts));
        let from_client = from_lo == flow.client_is_lo;
        self.stats.server_packets += u64::from(!from_client);
        match current {
            // The same SYN again: a retransmission of the attempt in progress.
            Some(id) if syn_only && from_client && seg.seq == flow.isn => {
                let p = self.slot(id);
                let n = p.attempt.syn_retransmits as usize;
                if let Some(slot) = p.attempt.retransmit_us.get_mut(n) {
                    *slot =
                        (seg.ts.since(p.attempt.ts) / 1_000).clamp(0, i64::from(u32::MAX)) as u32;
                }
                p.attempt.syn_retransmits += 1;
                p.attempt.last_syn_ts = seg.ts;
                p.last_activity = seg.ts;
                // Retransmitted without any answer into a TIME_WAIT the server holds: the
                // server drops such SYNs silently.
                let a = p.attempt;
                if a.waits_for_time()
                    && a.reuse
                        .is_some_and(|r| r.in_window && r.holder.server_holds())
                {
                    self.seen.note_silent_drop(a.server);
                }
            }
            // A SYN with another ISN, or from the other side: a new attempt.
            _ if syn_only => {
                if self.wanted(seg) {
                    return Some(self.start_attempt(flow, seg, from_lo));
                }
                self.extend_conn(flow, seg, from_lo);
            }
            Some(id) if !from_client => self.on_answer(flow, id, seg, from_lo),
            Some(id) => self.on_client_segment(flow, id, seg, from_lo),
            None => self.extend_conn(flow, seg, from_lo),
        }
        None
    }

    /// A segment from the server side while the attempt is being decided.
    fn on_answer(&mut self, flow: &mut Flow, id: u64, seg: &Segment, from_lo: bool) {
        let expected = flow.isn + 1;
        let established = self.slot(id).attempt.syn_ack.is_some();
        let f = seg.flags;
        match () {
            // SYN-ACK acknowledging ISN+1: the handshake's second step (RFC 9293 3.5).
            _ if f.syn() && f.ack() && seg.ack == expected && !established => {
                self.seen.note_accept(seg.src);
                flow.newest_established = true;
                let p = self.slot(id);
                p.attempt.syn_ack = Some(Answer {
                    frame: seg.frame,
                    ts: seg.ts,
                });
                p.attempt.established_by = Some(Establishment::SynAck);
                p.attempt.answered_syn = Some(p.attempt.syn_retransmits);
                p.last_activity = seg.ts;
                let (syn_frame, syn_ts) = (p.attempt.frame, p.attempt.ts);
                let (c, s) = if flow.client_is_lo { (0, 1) } else { (1, 0) };
                let mut seq_end = [Seq(0); 2];
                seq_end[c] = flow.isn + 1;
                seq_end[s] = seg.seq + 1;
                let mut tsval = [None; 2];
                tsval[c] = flow.syn_tsval;
                tsval[s] = seg.tsval;
                flow.conn = Some(Conn {
                    syn_frame,
                    syn_ts,
                    client: seg.dst,
                    server: seg.src,
                    client_is_lo: flow.client_is_lo,
                    established_ts: seg.ts,
                    seq_end,
                    tsval,
                    bytes: [0; 2],
                    first_end: None,
                    acked_unseen: false,
                    last_frame: seg.frame,
                    last_ts: seg.ts,
                    first_fin: None,
                    second_fin_crossed: None,
                    rst: false,
                    active: true,
                    attempt_id: id,
                });
            }
            // After the SYN-ACK, the server's packets belong to the connection.
            _ if established => self.extend_conn(flow, seg, from_lo),
            // RST before any SYN-ACK: the SYN was refused.
            _ if f.rst() => {
                let p = self.slot(id);
                if p.attempt.rst.is_none() {
                    p.attempt.answered_syn = Some(p.attempt.syn_retransmits);
                }
                p.attempt.rst.get_or_insert(Answer {
                    frame: seg.frame,
                    ts: seg.ts,
                });
                p.last_activity = seg.ts;
                p.quiet_ns = REFUSED_NS;
            }
            // A bare ACK that does not acknowledge our SYN: TIME_WAIT's challenge ACK.
            _ if f.ack() && !f.syn() && seg.ack != expected => {
                let p = self.slot(id);
                p.attempt.challenge_acks += 1;
                p.last_activity = seg.ts;
                let a = p.attempt;
                if a.reuse
                    .is_some_and(|r| r.in_window && r.holder.server_holds())
                {
                    self.seen.note_challenge(a.server);
                }
            }
            // Anything else (a SYN-ACK for another ISN, data without ACK): no answer to this SYN.
            _ => {}
        }
    }

    /// An ICMP error quoting the client's SYN (same sender, same ISN) answers the attempt.
    fn on_icmp(&mut self, flow: &mut Flow, error: &IcmpError, quoted_from_lo: bool) {
        let Some(id) = flow.current.filter(|id| self.is_open_attempt(*id)) else {
            return;
        };
        if quoted_from_lo != flow.client_is_lo || error.seq != flow.isn {
            return;
        }
        let p = self.slot(id);
        if p.attempt.icmp.is_none() {
            p.attempt.answered_syn = Some(p.attempt.syn_retransmits);
        }
        p.attempt.icmp.get_or_insert(IcmpAnswer {
            frame: error.frame,
            ts: error.ts,
            v6: error.v6,
            icmp_type: error.icmp_type,
            code: error.code,
        });
        p.last_activity = error.ts;
    }

    /// A segment from the client side (other than its SYN) while the attempt is being decided.
    fn on_client_segment(&mut self, flow: &mut Flow, id: u64, seg: &Segment, from_lo: bool) {
        if self.slot(id).attempt.syn_ack.is_some() {
            // The client answered the SYN-ACK: it will not send this SYN again.
            self.slot(id).settled = true;
            flow.current = None;
            self.extend_conn(flow, seg, from_lo);
        }
        // Before a SYN-ACK the client may RST a challenge ACK; that is not an answer.
    }

    /// Extends the newest connection with a packet that belongs to it.
    fn extend_conn(&mut self, flow: &mut Flow, seg: &Segment, from_lo: bool) {
        let Some(conn) = flow.conn.as_mut().filter(|c| c.active) else {
            return;
        };
        let saw_unseen = conn.acked_unseen;
        let had_end = conn.first_end.is_some();
        conn.touch(seg, from_lo);
        self.stats.acks_of_unseen_data += u64::from(conn.acked_unseen && !saw_unseen);
        if !had_end && let Some((lo, ts)) = conn.first_end {
            let after_ns = ts.since(conn.established_ts);
            let (c, s) = if conn.client_is_lo { (0, 1) } else { (1, 0) };
            let close = FirstClose {
                by_server: lo != conn.client_is_lo,
                reset: seg.flags.rst(),
                after_ns,
                server_bytes: conn.bytes[s],
                client_bytes: conn.bytes[c],
            };
            if after_ns <= FIRST_CLOSE_WITHIN_NS
                && let Some(p) = self.queued(conn.attempt_id)
            {
                p.attempt.first_close = Some(close);
            }
        }
        // A RST ends the connection (and a TIME_WAIT it hits, RFC 793 / Linux's default
        // rfc1337 = 0) only if its sequence number is near what its sender has sent; stacks
        // ignore one far out of the window (RFC 5961 section 3).
        let me = usize::from(!from_lo);
        if seg.flags.rst()
            && seg
                .seq
                .0
                .wrapping_sub(conn.seq_end[me].0)
                .wrapping_add(RST_WINDOW)
                <= 2 * RST_WINDOW
        {
            conn.rst = true;
        }
        if seg.flags.fin() {
            conn.on_fin(from_lo, seg);
        }
    }

    /// A new attempt: settle the one before, measure the reuse against the newest connection.
    /// Returns its id in the pending queue.
    fn start_attempt(&mut self, flow: &mut Flow, seg: &Segment, from_lo: bool) -> u64 {
        if let Some(id) = flow.current.take().filter(|id| self.is_open_attempt(*id)) {
            self.slot(id).settled = true;
        }
        let reuse = flow.conn.map(|conn| self.reuse(&conn, seg, from_lo));
        if let Some(conn) = flow.conn.as_mut().filter(|c| c.active) {
            conn.active = false;
            self.ended.push_back(conn.end());
        }
        if reuse.is_some_and(|r| r.in_window && r.holder.server_holds()) {
            self.seen.note_reuse_into_time_wait(seg.src.ip, seg.dst);
        }
        let mut attempt = Attempt::from_syn(seg.frame, seg.ts, seg.src, seg.dst, seg.seq);
        attempt.previous_attempt_frame = flow.last_attempt_frame;
        attempt.previous_attempt_gap_ns = flow
            .last_attempt_frame
            .map(|_| seg.ts.since(flow.last_attempt_ts));
        attempt.tsval = seg.tsval;
        attempt.reuse = reuse;
        attempt.syn_data_len = seg.payload_len;
        let id = self.base + self.pending.len() as u64;
        flow.current = Some(id);
        flow.client_is_lo = from_lo;
        flow.isn = seg.seq;
        flow.last_attempt_frame = Some(seg.frame);
        flow.last_attempt_ts = seg.ts;
        flow.syn_tsval = seg.tsval;
        flow.newest_established = false;
        self.pending.push_back(Pending {
            attempt,
            settled: false,
            last_activity: seg.ts,
            quiet_ns: SETTLE_NS,
        });
        id
    }

    fn reuse(&self, conn: &Conn, seg: &Segment, from_lo: bool) -> Reuse {
        let gap_ns = seg.ts.since(conn.last_ts);
        let open = conn.is_open();
        Reuse {
            previous_frame: conn.syn_frame,
            previous_ts: conn.syn_ts,
            previous_end_frame: conn.last_frame,
            gap_ns,
            in_window: !open && gap_ns < self.config.window_ns,
            holder: conn.holder(from_lo),
            // RFC 1122 4.2.2.13: a SYN in TIME_WAIT may be accepted when its ISN is above the
            // old connection's last sequence number from that side; RFC 6191: or its TSval
            // is above the last one seen.
            isn_advanced: Some(seg.seq > conn.seq_end[usize::from(!from_lo)]),
            ts_advanced: match (seg.tsval, conn.tsval[usize::from(!from_lo)]) {
                (Some(new), Some(old)) => Some(Seq(new) > Seq(old)),
                _ => None,
            },
            open,
        }
    }

    /// Settles the attempt if it has been quiet for its whole quiet period by `now`; returns
    /// whether it is (now) settled. Only the front of the queue is settled by the clock in
    /// `pop_decided`, so attempts behind it are checked here when their 4-tuple is seen again.
    fn settle_if_quiet(&mut self, id: u64, now: Ts) -> bool {
        let p = self.slot(id);
        if now.since(p.last_activity) > p.quiet_ns {
            p.settled = true;
        }
        p.settled
    }

    fn is_open_attempt(&self, id: u64) -> bool {
        id >= self.base
            && self
                .pending
                .get((id - self.base) as usize)
                .is_some_and(|p| !p.settled)
    }

    fn slot(&mut self, id: u64) -> &mut Pending {
        let index = (id - self.base) as usize;
        &mut self.pending[index]
    }

    /// The attempt `id`, if it is still in the queue (decided or not).
    fn queued(&mut self, id: u64) -> Option<&mut Pending> {
        let index = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.pending.get_mut(index)
    }

    fn pop_decided(&mut self, finished: bool) -> Option<Attempt> {
        let now = self.now;
        let held = self.pending.len();
        let front = self.pending.front_mut()?;
        // Settle the oldest attempt when it has been quiet long enough, or when the queue is
        // so long (a SYN flood) that memory must win over a late retransmission.
        let overfull = held > self.config.budgets.pending;
        if !front.settled && (now.since(front.last_activity) > front.quiet_ns || overfull) {
            front.settled = true;
            self.dropped.pending += u64::from(overfull);
        }
        // Until a server has answered anything, the capture may show one direction only: an
        // attempt without answer is held (up to ONE_WAY_HOLD of them) rather than judged.
        let heard = self.stats.server_packets > 0;
        let hold = !heard && held < ONE_WAY_HOLD;
        let waiting = front.attempt.waits_for_time()
            && (hold || now.since(front.attempt.last_syn_ts) < UNANSWERED_AFTER_NS);
        // An established connection is held for its first second, so that a refusal by the
        // application (a FIN or RST right after the handshake) is on the attempt.
        let first_second = front.attempt.first_close.is_none()
            && !overfull
            && front
                .attempt
                .syn_ack
                .is_some_and(|a| now.since(a.ts) <= FIRST_CLOSE_WITHIN_NS);
        let waiting = waiting || first_second;
        if !finished && (!front.settled || waiting) {
            return None;
        }
        let mut pending = self.pending.pop_front()?;
        self.base += 1;
        pending.attempt.outcome = pending.attempt.resolve(now, heard);
        Some(pending.attempt)
    }
}

#[cfg(test)]
mod tests;
