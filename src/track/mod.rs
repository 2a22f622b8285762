//! Per-4-tuple history: attempts (SYN with one ISN), their answers, the connection they opened
//! and how it ended. Attempts leave in order of their first SYN once nothing can change them.
//!
//! State is kept only for 4-tuples on which a SYN of interest was seen. A 4-tuple idle for
//! longer than the retention horizon (twice the TIME_WAIT window, at least 130 s) leaves the
//! flow table from a time-ordered queue, and a closed one sooner when the table is large
//! (`closed_retention_ns`); a compact record of its last connection stays in the long reuse
//! memory (30 minutes) and any new flow on the 4-tuple takes it back, so memory follows the
//! live 4-tuples, not the length of the capture, and a late reuse is still seen.
//!
//! - [`side`]: `Side` and per-side `Pair`s;
//! - [`flow`]: the per-4-tuple state, its `Phase`, its connection and what a reuse needs;
//! - [`syn`]: one ISN, one attempt; [`answer`]: what came back, by acknowledgment number;
//! - [`queue`]: the attempts being decided and the one `settle` function;
//! - [`dedup`]: duplicated frames; [`archive`]: the long reuse memory; [`expiry`]: idle flows;
//! - [`dense`]: the packed hash map of the flow table, the long memory and the port uses;
//! - [`seen`]: evidence across attempts; [`ports`]: port idle times;
//! - [`infer`]: deciding an attempt, from one side when the capture holds only one (issue
//!   13); [`implied`]: attempts implied by a server's packets alone.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use crate::attempt::Attempt;
use crate::budget::{Budgets, Dropped};
use crate::decode::IcmpError;
use crate::tcp::{Endpoint, FlowKey, FrameRef, KeyHint, Segment};
use crate::time::Ts;

mod answer;
mod archive;
pub mod dedup;
mod dense;
mod expiry;
mod flow;
mod implied;
mod infer;
mod ports;
mod queue;
pub mod seen;
pub mod side;
mod syn;

use archive::{Archive, Record};
use dedup::{Copies, CopyRun, Exact, Fingerprints, RUNS_KEPT, Recent};
use dense::DenseMap;
use expiry::Expiry;
use flow::{Conn, Conns, EarlyAnswer, Flow, Phase};
pub use infer::OneSide;
use ports::{PortUse, PortUses};
use queue::{Chain, Queue, SETTLE_NS, Settle};
use seen::Seen;
pub use side::Side;
use syn::BACKWARDS_KEPT;

#[derive(Clone, Debug)]
pub struct Config {
    /// `--time-wait`: a reuse closer than this to the earlier connection's end is in the window.
    pub window_ns: i64,
    /// Which SYNs to analyse (sender, receiver); `None` means all.
    pub filter: Option<crate::filter::Filter>,
    /// Capacities: live 4-tuples above `flows` leave the flow table sooner than their horizon;
    /// past `pending` attempts waiting, the oldest is settled at once; `archive` records of
    /// the long reuse memory; `fingerprints` for exact copies of SYNs and SYN-ACKs.
    pub budgets: Budgets,
}

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
    /// Frames that were copies of an earlier frame (ignored).
    pub duplicate_frames: u64,
    /// Frames that may be copies but could not be checked: SYNs and SYN-ACKs whose
    /// fingerprint was overwritten, and other segments stamped earlier than their 4-tuple's
    /// last packet (only recent ones are remembered per 4-tuple).
    pub duplicates_unchecked: u64,
    /// Stretches where copies made at least half of the SYNs and SYN-ACKs, with at least
    /// `dedup::LONG_RUN` copies: a capture appended to itself, the same file given twice.
    pub copy_runs: u64,
    pub copy_run_frames: [Option<CopyRun>; RUNS_KEPT],
    /// SYNs with the ISN of an attempt already decided (counted, nothing changed).
    pub late_syns: u64,
    /// SYN-ACKs captured before their SYN (two capture points merged, clocks apart).
    pub syn_ack_before_syn: u64,
    /// Attempts whose handshake is proved by later packets, the SYN-ACK not being captured.
    pub syn_ack_missing: u64,
    /// SYNs earlier in time than the end of the connection before them on the 4-tuple
    /// (timestamps went backwards): not reuses. The first few as (SYN, that end).
    pub backwards_syns: u64,
    pub backwards: [Option<(FrameRef, FrameRef)>; BACKWARDS_KEPT],
    /// Reuses measured against the long reuse memory (the 4-tuple had left the flow table).
    pub reuses_from_memory: u64,
    /// Records in the long reuse memory at the end.
    pub remembered_4tuples: usize,
    /// What was inferred from one side of the conversation (issue 13).
    pub one_side: OneSide,
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

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// SYN-ACKs and RSTs kept waiting for their SYN at most.
const EARLY_KEPT: usize = 65_536;

/// Everything but the flow table: the attempts being decided and what they report into.
pub struct Book {
    config: Config,
    queue: Queue,
    /// The capture's clock: the latest timestamp seen (timestamps may go back; this does not).
    now: Ts,
    /// Connections that have ended (or were superseded), for the direction analysis.
    ended: VecDeque<ConnEnd>,
    stats: TrackStats,
    seen: Seen,
    ports: PortUses,
    dropped: Dropped,
    /// The flows' connections.
    conns: Conns,
    /// SYN-ACKs and RSTs waiting (a second at most) for their SYN, by 4-tuple.
    early: FxMap<FlowKey, EarlyAnswer>,
}

pub struct Tracker {
    flows: DenseMap<FlowKey, Flow>,
    expiry: Expiry,
    /// Closed 4-tuples (both FINs, or a RST), which leave sooner: `closed_retention_ns`.
    closed: Expiry,
    archive: Archive,
    copies: Copies,
    /// Exact copies of SYNs for segments fed without the reading stage's verdict
    /// (`on_segment`); allocated only then.
    fingerprints: Fingerprints,
    book: Book,
    /// How long an idle 4-tuple keeps its full state.
    retention_ns: i64,
    /// How long a closed one does, once quiet, when the flow table holds more than
    /// `closed_early_above` 4-tuples: as long as its attempts can still be retransmitted or
    /// answered (SETTLE_NS). Then its record goes to the long reuse memory, which answers a
    /// reuse as the flow would have (issue 14: on 34 k hosts, most live 4-tuples were closed
    /// connections waiting out twice the window). Below that size the move is not worth its
    /// cost: a NAT pool's 16 k 4-tuples, reused every few minutes, went back and forth
    /// between the two for 20 % more time (issue 12).
    closed_retention_ns: i64,
    closed_early_above: usize,
    finished: bool,
    /// At the end, the 4-tuples whose connection is still open, latest SYN first, by their
    /// position in the flow table (which no longer changes: nothing is inserted or expires
    /// after `finish`): their ends are made one at a time as they are popped, not all at
    /// once (issue 14: no copy of every live connection after the last frame), and without
    /// a lookup each (issue 12: a third of the tracking thread's work after the last frame
    /// on the NAT capture).
    final_ends: Vec<(FrameRef, u32)>,
}

impl Tracker {
    pub fn new(config: Config) -> Tracker {
        let budgets = config.budgets;
        // Never sooner than an attempt can still be retransmitted (SETTLE_NS): a short
        // --time-wait must not split an attempt's SYN retransmissions.
        let retention_ns = config.window_ns.saturating_mul(2).max(SETTLE_NS);
        Tracker {
            flows: DenseMap::new(budgets.flows.saturating_add(2)),
            expiry: Expiry::default(),
            closed: Expiry::default(),
            archive: Archive::new(budgets.archive, config.window_ns),
            copies: Copies::default(),
            fingerprints: Fingerprints::new(budgets.fingerprints),
            book: Book {
                config,
                queue: Queue::default(),
                now: Ts(i64::MIN),
                ended: VecDeque::new(),
                stats: TrackStats::default(),
                seen: Seen::new(budgets.evidence),
                ports: PortUses::new(budgets.ports),
                dropped: Dropped::default(),
                conns: Conns::default(),
                early: FxMap::default(),
            },
            retention_ns,
            closed_retention_ns: SETTLE_NS.min(retention_ns),
            closed_early_above: budgets.flows / 8,
            finished: false,
            final_ends: Vec::new(),
        }
    }

    /// Advances the capture clock (call for every frame, TCP or not).
    pub fn advance(&mut self, ts: Ts) {
        self.book.seen.note_frame(ts);
        if ts > self.book.now {
            self.book.now = ts;
            while let Some(hash) = self.expiry.pop_due(ts) {
                if let Some(at) = self.flows.position_with_hash(hash) {
                    self.expire(at, hash);
                }
            }
            while let Some(hash) = self.closed.pop_due(ts) {
                if self.flows.len() <= self.closed_early_above {
                    // They stay for the ordinary horizon.
                    continue;
                }
                if let Some(at) = self.flows.position_with_hash(hash) {
                    self.expire_closed(at, hash);
                }
            }
        }
    }

    /// A new table of exact copies of SYNs for the reading stage, at this tracker's budget:
    /// it judges the segments in the order they are fed, for `on_read_segment`.
    pub fn new_fingerprints(&self) -> Fingerprints {
        Fingerprints::new(self.book.config.budgets.fingerprints)
    }

    /// Feeds one TCP segment.
    pub fn on_segment(&mut self, seg: &Segment) {
        let hint = KeyHint::of(seg.src, seg.dst);
        let side = Side::sending(hint.src_is_lo);
        let exact = seg
            .flags
            .syn()
            .then(|| self.fingerprints.check(side, seg, seg.ts < self.book.now));
        self.on_read_segment(seg, hint, exact);
    }

    /// Feeds one TCP segment whose key hint, and for a SYN or SYN-ACK whether it is an exact
    /// copy (`Fingerprints::frame`), the reading stage worked out.
    pub fn on_read_segment(&mut self, seg: &Segment, hint: KeyHint, exact: Option<Exact>) {
        let stats = &mut self.book.stats;
        stats.tcp_segments += 1;
        if seg.flags.syn() {
            if seg.flags.ack() {
                stats.synack_packets += 1;
            } else {
                stats.syn_packets += 1;
            }
        }
        self.advance(seg.ts);
        let key = FlowKey::with_hint(seg.src, seg.dst, hint);
        let side = Side::sending(hint.src_is_lo);
        // SYN and SYN-ACK: checked for exact copies anywhere in the file (`dedup`).
        let control = seg.flags.syn();
        self.copies.unchecked += u64::from(exact == Some(Exact::Unchecked));
        let exact = exact == Some(Exact::Copy);
        // One hash: it serves both the lookup and, for a new 4-tuple, the insertion.
        let hash = hint.hash;
        let flow = match self.flows.position(hash, &key) {
            Some(position) => self.flows.at_mut(position),
            None => {
                if control {
                    self.copies.note_control(seg.frame, exact);
                }
                if exact {
                    self.book.duplicate(None);
                    return;
                }
                let Some((flow, started)) =
                    Tracker::new_flow(&mut self.book, &mut self.archive, &key, side, seg)
                else {
                    return;
                };
                self.flows.insert_new(hash, key, flow);
                self.inserted(key, hash);
                if let Some(id) = started {
                    self.note_port_use(key, id, None);
                }
                return;
            }
        };
        let copy = flow.recent.is_copy(seg, side) || exact;
        if control {
            self.copies.note_control(seg.frame, copy);
        }
        if copy {
            self.book.duplicate(flow.newest);
            return;
        }
        if !control && seg.ts < flow.last_seen {
            // Earlier than its 4-tuple's last packet: it may be a copy of one long gone
            // from the ring (data and ACKs are not in the file-wide table).
            self.copies.unchecked += 1;
        }
        let end_before = flow.use_end(flow.last_seen);
        let was_closed = flow.phase == Phase::Closed;
        flow.last_seen = flow.last_seen.max(seg.ts);
        let started = if seg.flags.syn() && !seg.flags.ack() {
            self.book.on_syn(flow, &key, seg, side)
        } else if side == flow.client {
            self.book.on_client_segment(flow, &key, seg, side);
            None
        } else {
            // Only 4-tuples with an attempt say whether the capture holds the servers' side
            // (a SYN-ACK without its SYN, as backscatter, does not).
            if flow.last_attempt.is_some() {
                self.book.stats.server_packets += 1;
                if !flow.server_heard {
                    flow.server_heard = true;
                    self.book.seen.note_heard(seg.src.ip);
                }
            }
            self.book.on_server_segment(flow, &key, seg, side)
        };
        // Bounded by the flow budget (a storm of connections closed and reopened on one
        // 4-tuple adds an entry each time): past it, a closing flow keeps the ordinary horizon.
        if flow.phase == Phase::Closed
            && !was_closed
            && self.closed.len() < self.book.config.budgets.flows
        {
            self.closed
                .push(hash, self.book.now.add_nanos(self.closed_retention_ns));
        }
        if let Some(id) = started {
            self.note_port_use(key, id, end_before);
        }
    }

    /// A segment of a 4-tuple without live state: the flow it starts (a SYN of interest, or
    /// an answer that may be ahead of its SYN), with the attempt it started, if any.
    fn new_flow(
        book: &mut Book,
        archive: &mut Archive,
        key: &FlowKey,
        side: Side,
        seg: &Segment,
    ) -> Option<(Flow, Option<u64>)> {
        let f = seg.flags;
        let reversed = Segment {
            src: seg.dst,
            dst: seg.src,
            ..*seg
        };
        if f.syn() && !f.ack() && book.wanted(seg) {
            let mut flow = Flow::new(seg.ts, side);
            flow.recent = Recent::starting_with(seg, side);
            let remembered = Tracker::remembered(book, archive, key, &mut flow);
            let id = book.on_syn(&mut flow, key, seg, side);
            book.count_reuse_from_memory(id, remembered);
            Some((flow, id))
        } else if implied::implies_syn(&book.seen, seg) && book.wanted(&reversed) {
            // From a server never sent a SYN in the capture: the SYN it answers is implied
            // (the capture holds the server's side only, issue 13).
            let mut flow = Flow::new(seg.ts, side.other());
            flow.recent = Recent::starting_with(seg, side);
            let remembered = Tracker::remembered(book, archive, key, &mut flow);
            let id = book.implied_answer(&mut flow, key, seg, side);
            book.count_reuse_from_memory(id, remembered);
            book.stats.server_packets += 1;
            flow.server_heard = true;
            book.seen.note_heard(seg.src.ip);
            Some((flow, id))
        } else if f.ack() && (f.syn() || f.rst()) && book.wanted(&reversed) {
            // Possibly ahead of its SYN (two capture points merged): kept for a second.
            let mut flow = Flow::new(seg.ts, side.other());
            flow.recent = Recent::starting_with(seg, side);
            Tracker::remembered(book, archive, key, &mut flow);
            book.set_early(key, &mut flow, EarlyAnswer::new(seg, side));
            book.stats.ends_without_handshake += u64::from(f.rst());
            Some((flow, None))
        } else {
            // A server sent SYNs in the capture also talks on a connection the capture joined
            // midway: its direction is in the capture (it is not seen from the clients' side
            // only, issue 13).
            let src = seg.src.ip;
            if !book.seen.heard_from(src) && book.seen.received_syn(src) {
                book.seen.note_heard(src);
            }
            if (f.fin() || f.rst()) && !f.syn() && !archive.note_end(key, side, seg) {
                // The capture began after this connection's SYN (or the SYN was filtered out).
                let wanted = book.wanted(seg) || book.wanted(&reversed);
                book.stats.ends_without_handshake += u64::from(wanted);
            }
            None
        }
    }

    /// A new flow for `key` takes back what the long reuse memory kept of its 4-tuple, so
    /// that it goes on as the flow it replaces would have; returns whether there was a record.
    fn remembered(book: &mut Book, archive: &mut Archive, key: &FlowKey, flow: &mut Flow) -> bool {
        let Some(r) = archive.take(key, book.now) else {
            return false;
        };
        book.conns.put(flow, Conn::remembered(r.past, r.client));
        flow.last_attempt = Some(r.attempt);
        flow.client = r.client;
        flow.remember_isn(r.isn);
        true
    }

    /// Bookkeeping for a flow just inserted: its expiry, the flow budget, the peak.
    fn inserted(&mut self, key: FlowKey, hash: u64) {
        self.expiry
            .push(hash, self.book.now.add_nanos(self.retention_ns));
        let cap = self.book.config.budgets.flows;
        while self.flows.len() > cap {
            let Some(oldest) = self.expiry.pop_oldest() else {
                break;
            };
            match self.flows.position_with_hash(oldest) {
                Some(at) if *self.flows.at(at).0 != key => self.retire(at, true),
                Some(_) => self
                    .expiry
                    .push(hash, self.book.now.add_nanos(self.retention_ns)),
                None => {}
            }
        }
        let stats = &mut self.book.stats;
        stats.peak_flows = stats.peak_flows.max(self.flows.len());
    }

    /// The expiry queue says the flow at `at` (its key's hash `hash`) may have been idle for
    /// the retention horizon.
    fn expire(&mut self, at: usize, hash: u64) {
        let deadline = self.flows.at(at).1.last_seen.add_nanos(self.retention_ns);
        if deadline > self.book.now {
            self.expiry.push(hash, deadline);
        } else {
            self.retire(at, false);
        }
    }

    /// The closed-flow queue says the flow at `at` may have been quiet for
    /// `closed_retention_ns`. (`advance` calls it only while the flow table is past
    /// `closed_early_above`.)
    fn expire_closed(&mut self, at: usize, hash: u64) {
        let flow = self.flows.at(at).1;
        if flow.phase != Phase::Closed {
            // A new attempt reopened it: the ordinary horizon applies.
            return;
        }
        let deadline = flow.last_seen.add_nanos(self.closed_retention_ns);
        if deadline > self.book.now {
            self.closed.push(hash, deadline);
        } else {
            self.retire(at, false);
        }
    }

    /// Drops the full state of the flow at `at` (idle, or `early` because the flow table is
    /// over its budget): its attempts are settled, its connection ends, a compact record stays.
    fn retire(&mut self, at: usize, early: bool) {
        let (key, mut flow) = self.flows.remove_at(at);
        let book = &mut self.book;
        if flow.early {
            book.early.remove(&key);
        }
        let previous = book.conns.previous(&flow);
        let live = book.conns.live(&flow).copied();
        book.conns.release(&mut flow);
        let client = flow.client.endpoint(&key);
        book.ports.end(client, key, flow.last_seen);
        let mut chain = Chain::from(flow.newest);
        while let Some(id) = chain.next(&mut book.queue) {
            book.settle(id, Settle::FlowGone);
        }
        if let Some(conn) = live {
            book.ended.push_back(conn.end(&key));
        }
        let now = book.now;
        let idle = now.since(flow.last_seen) >= self.retention_ns;
        book.dropped.flows += u64::from(early && !idle);
        if let (Some(past), Some(attempt), Some(isn)) = (previous, flow.last_attempt, flow.isns[0])
        {
            let record = Record {
                past,
                attempt,
                client: flow.client,
                isn,
                archived_at: now,
            };
            self.archive.put(key, record, now);
        }
    }

    /// A new attempt `id`: how long its client's port rested since its previous use.
    /// `same_key_end` is when the previous use of this same 4-tuple ended (if it had ended),
    /// taken before the SYN touched the flow.
    fn note_port_use(&mut self, key: FlowKey, id: u64, same_key_end: Option<Ts>) {
        let Some((client, syn_ts)) = self
            .book
            .queue
            .get(id)
            .map(|p| (p.attempt.client, p.attempt.ts))
        else {
            return;
        };
        let this = PortUse {
            key,
            syn_ts,
            ended: None,
        };
        let Some(previous) = self.book.ports.replace(client, this) else {
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
        let Some(p) = self.book.queue.get(id) else {
            return;
        };
        let a = &mut p.attempt;
        a.port_previous_syn_ns = Some(syn_ts.since(previous.syn_ts).max(0));
        a.port_idle_ns = ended.map(|e| syn_ts.since(e)).filter(|gap| *gap >= 0);
    }

    /// Feeds an ICMP error quoting a TCP segment: it answers the attempt whose SYN it quotes.
    pub fn on_icmp(&mut self, error: &IcmpError) {
        self.advance(error.ts);
        self.book.stats.icmp_errors += 1;
        self.book.stats.syn_quoted_in_icmp += u64::from(error.flags.is_some_and(|f| f.syn()));
        let (key, quoted) = Side::of(error.src, error.dst);
        if let Some(flow) = self.flows.get_mut(&key) {
            if self.book.on_icmp(flow, error, quoted) {
                return;
            }
            if let Some(id) = self.book.implied_icmp(flow, &key, error, quoted) {
                self.note_port_use(key, id, None);
            }
            return;
        }
        let reversed = Segment {
            frame: error.frame,
            ts: error.ts,
            src: error.src,
            dst: error.dst,
            flags: crate::tcp::Flags(crate::tcp::Flags::SYN),
            seq: error.seq,
            ack: crate::tcp::Seq(0),
            payload_len: 0,
            tsval: None,
            ip_id: 0,
            checksum: 0,
        };
        if !self.book.wanted(&reversed) {
            return;
        }
        // The SYN it quotes is not in the capture: from the server's side only (issue 13).
        let mut flow = Flow::new(error.ts, quoted);
        let remembered = Tracker::remembered(&mut self.book, &mut self.archive, &key, &mut flow);
        let id = self.book.implied_icmp(&mut flow, &key, error, quoted);
        self.book.count_reuse_from_memory(id, remembered);
        if let Some(id) = id {
            self.flows.insert(key, flow);
            self.inserted(key, dense::hash_of(&key));
            self.note_port_use(key, id, None);
        }
    }

    /// The next attempt whose outcome is final, in order of first SYN.
    pub fn pop_decided(&mut self) -> Option<Attempt> {
        self.book.pop_decided(self.finished)
    }

    /// Whether the next attempt in order is final: it is then `decided()`, read where it
    /// lies in the queue, until `drop_decided` (`pop_decided` without the copy).
    #[inline]
    pub fn decide_next(&mut self) -> bool {
        self.book.decide_front(self.finished)
    }

    /// The attempt `decide_next` decided.
    pub fn decided(&self) -> Option<&Attempt> {
        self.book.decided()
    }

    /// The attempt `decide_next` decided leaves the queue.
    pub fn drop_decided(&mut self) {
        self.book.drop_decided();
    }

    /// The capture has ended: every attempt is decided against its last timestamp.
    pub fn finish(&mut self) {
        self.finished = true;
        // Issue 14: what only new packets use goes before the end's own work (the open
        // connections' ends, the attempts still pending, the findings), so that the peak is
        // the capture's, not the capture's plus the end's (on 34 k hosts: 48 MiB freed).
        let remembered = self.archive.len();
        self.archive.free();
        self.book.ports.free();
        self.expiry = Expiry::default();
        self.closed = Expiry::default();
        self.copies.end_run();
        self.fingerprints.free();
        let conns = &self.book.conns;
        let flows = &self.flows;
        self.final_ends = flows
            .iter()
            .enumerate()
            .filter_map(|(at, (_, f))| conns.live(f).map(|c| (c.past.syn_frame, at as u32)))
            .collect();
        // Latest first: `pop_ended` takes them from the back, in order of SYN frame (one
        // vector: a second one, of keys only, was 4.5 MiB more at the peak on 34 k hosts).
        self.final_ends
            .sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        let stats = &mut self.book.stats;
        stats.duplicates_unchecked = self.copies.unchecked;
        stats.copy_runs = self.copies.long_runs;
        stats.copy_run_frames = self.copies.runs;
        stats.remembered_4tuples = remembered;
        let (client_side, server_side) = self.book.seen.one_side_servers();
        stats.one_side.client_side_servers = client_side;
        stats.one_side.server_side_servers = server_side;
    }

    /// Frame counters and capture-quality evidence (complete after `finish`).
    pub fn stats(&self) -> &TrackStats {
        &self.book.stats
    }

    /// The next connection that ended (in no particular order), for the direction analysis.
    #[inline]
    pub fn pop_ended(&mut self) -> Option<ConnEnd> {
        if let Some(end) = self.book.ended.pop_front() {
            return Some(end);
        }
        if self.final_ends.is_empty() {
            return None;
        }
        self.pop_final_end()
    }

    /// The next end of a connection still open when the capture ended.
    #[inline(never)]
    fn pop_final_end(&mut self) -> Option<ConnEnd> {
        while let Some((syn_frame, at)) = self.final_ends.pop() {
            let (key, flow) = self.flows.at(at as usize);
            if let Some(conn) = self.book.conns.live(flow) {
                debug_assert_eq!(conn.past.syn_frame, syn_frame, "the flow table moved");
                return Some(conn.end(key));
            }
        }
        None
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
        d.archive += self.archive.dropped;
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

    /// `seg`'s reply direction is wanted: it may answer a SYN of interest.
    fn wanted_reply(&self, seg: &Segment) -> bool {
        self.config
            .filter
            .as_ref()
            .is_none_or(|f| f.wants(seg.dst, seg.src))
    }

    /// The SYN-ACK or RST waiting on `flow` for its SYN.
    fn early_of(&self, key: &FlowKey, flow: &Flow) -> Option<EarlyAnswer> {
        if flow.early {
            self.early.get(key).copied()
        } else {
            None
        }
    }

    fn set_early(&mut self, key: &FlowKey, flow: &mut Flow, early: EarlyAnswer) {
        // Bounded: past this many (a SYN-ACK flood), no more are kept.
        if self.early.len() < EARLY_KEPT || flow.early {
            self.early.insert(*key, early);
            flow.early = true;
        }
    }

    fn clear_early(&mut self, key: &FlowKey, flow: &mut Flow) {
        if flow.early {
            self.early.remove(key);
            flow.early = false;
        }
    }

    /// Attempt `id` (if one started) on a flow the long reuse memory gave back: a reuse
    /// measured against that memory is counted.
    fn count_reuse_from_memory(&mut self, id: Option<u64>, remembered: bool) {
        if let (Some(id), true) = (id, remembered) {
            let reused = self
                .queue
                .get(id)
                .is_some_and(|p| p.attempt.reuse.is_some());
            self.stats.reuses_from_memory += u64::from(reused);
        }
    }

    /// A copy of an earlier frame: counted on the 4-tuple's newest attempt, nothing else.
    fn duplicate(&mut self, newest: Option<u64>) {
        self.stats.duplicate_frames += 1;
        if let Some(p) = newest.and_then(|id| self.queue.get(id)) {
            p.attempt.duplicate_frames += 1;
        }
    }
}

#[cfg(test)]
mod tests;
