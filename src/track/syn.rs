//! SYNs: one ISN, one attempt (issue 9). A SYN whose ISN is already known on the 4-tuple
//! belongs to that attempt however late it comes and whatever answered it before (RFC 6528:
//! a new connection never reuses its ISN); any other ISN starts a new attempt, and several
//! attempts may be pending on one 4-tuple at once.

use crate::attempt::{Answer, Attempt, Establishment};
use crate::tcp::{FlowKey, Segment};
use crate::time::NANOS_PER_SEC;

use super::Book;
use super::flow::{Flow, Phase};
use super::queue::{Chain, Pending, next_syn_due};
use super::side::Side;

/// A SYN-ACK captured up to this long before its SYN is matched to it (two capture points
/// merged, their clocks apart).
pub const EARLY_SYNACK_NS: i64 = NANOS_PER_SEC;
/// Backwards reuses whose frames are named in the warning.
pub const BACKWARDS_KEPT: usize = 4;

impl Book {
    /// A SYN without ACK on a known 4-tuple; returns the id of the attempt it started, if any.
    pub fn on_syn(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
    ) -> Option<u64> {
        let mut chain = Chain::from(flow.newest);
        while let Some(id) = chain.next(&mut self.queue) {
            let Some(p) = self.queue.get(id) else {
                continue;
            };
            if p.client != side || p.attempt.isn != seg.seq || !p.attempt.isn_known {
                continue;
            }
            if p.implied && seg.ts.since(p.attempt.ts) <= EARLY_SYNACK_NS {
                self.adopt(flow, id, seg);
                return None;
            }
            if self.settled_by(id, seg.ts) {
                self.late_syn(Some(id));
            } else {
                self.retransmission(id, seg);
            }
            return None;
        }
        if side == flow.client && flow.knows_isn(seg.seq) {
            // Its attempt has left the queue: counted, nothing changes.
            self.late_syn(None);
            return None;
        }
        if !self.wanted(seg) {
            self.extend_conn(flow, seg, side);
            return None;
        }
        self.seen.note_syn_to(seg.dst.ip);
        Some(self.start_attempt(flow, key, seg, side))
    }

    fn late_syn(&mut self, id: Option<u64>) {
        self.stats.late_syns += 1;
        if let Some(p) = id.and_then(|id| self.queue.get(id)) {
            p.attempt.late_syns += 1;
        }
    }

    /// The same SYN again while its attempt is open: a retransmission.
    fn retransmission(&mut self, id: u64, seg: &Segment) {
        let Some(p) = self.queue.get(id) else {
            return;
        };
        let a = &mut p.attempt;
        let n = a.syn_retransmits as usize;
        if let Some(slot) = a.retransmit_us.get_mut(n) {
            *slot = (seg.ts.since(a.ts) / 1_000).clamp(0, i64::from(u32::MAX)) as u32;
        }
        if a.rst.is_some() || a.icmp.is_some() {
            self.seen.note_retry_after_refusal(a.client.ip);
        }
        p.rst_retried |= p.client_rsts > 0;
        if seg.ts.since(a.last_syn_ts) >= super::infer::TIMER_FIRST_NS {
            self.seen.note_stack(a.client.ip);
        }
        a.syn_retransmits += 1;
        if seg.ts >= a.last_syn_ts {
            a.next_syn_due = next_syn_due(Some(a.last_syn_ts), seg.ts);
            a.last_syn_ts = seg.ts;
            p.last_syn_answered = false;
        }
        p.last_activity = p.last_activity.max(seg.ts);
        // Retransmitted without any answer into a TIME_WAIT the server holds: the server
        // drops such SYNs silently.
        let a = *a;
        let no_answer =
            a.syn_ack.is_none() && a.rst.is_none() && a.icmp.is_none() && a.challenge_acks == 0;
        if no_answer
            && a.reuse
                .is_some_and(|r| r.in_window && r.holder.server_holds())
        {
            self.seen.note_silent_drop(a.server);
        }
    }

    /// A new attempt: measured against the newest connection on the 4-tuple, which it ends.
    /// Returns its id in the queue.
    pub fn start_attempt(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
    ) -> u64 {
        let window = self.config.window_ns;
        let previous = self.conns.previous(flow);
        let reuse = previous.and_then(|past| past.reuse(seg, side, window));
        if let (Some(past), None) = (previous, reuse) {
            // Timestamps went backwards: not a reuse of a connection that comes later.
            let n = self.stats.backwards_syns as usize;
            if let Some(slot) = self.stats.backwards.get_mut(n) {
                *slot = Some((seg.frame, past.last_frame));
            }
            self.stats.backwards_syns += 1;
        }
        if let Some(conn) = self.conns.live(flow) {
            self.ended.push_back(conn.end(key));
        }
        flow.phase = Phase::SynSent;
        if reuse.is_some_and(|r| r.in_window && r.holder.server_holds()) {
            self.seen.note_reuse_into_time_wait(seg.src.ip, seg.dst);
        }
        if let Some(p) = flow.newest.and_then(|id| self.queue.get(id))
            && p.client == side
            && seg.ts <= p.attempt.next_syn_due
        {
            p.superseded = true;
        }
        let mut attempt = Attempt::from_syn(seg.frame, seg.ts, seg.src, seg.dst, seg.seq);
        attempt.holder_inferred = reuse.is_some() && previous.is_some_and(|p| p.fin_inferred);
        attempt.previous_attempt_frame = flow.last_attempt.map(|(frame, _)| frame);
        attempt.previous_attempt_gap_ns = flow.last_attempt.map(|(_, ts)| seg.ts.since(ts));
        attempt.tsval = seg.tsval;
        attempt.reuse = reuse;
        attempt.syn_data_len = seg.payload_len;
        attempt.next_syn_due = next_syn_due(None, seg.ts);
        // Room over the budget: the over-full queue is settled one attempt per pop.
        let limit = self.config.budgets.pending.saturating_add(1024);
        let id = self.queue.push(
            Pending {
                attempt,
                client: side,
                settled: false,
                last_activity: seg.ts,
                older: flow.newest,
                client_end: seg.seq + 1 + seg.payload_len,
                handshake_ack: None,
                pure_handshake_ack: false,
                implied: false,
                client_rsts: 0,
                rst_retried: false,
                superseded: false,
                last_syn_answered: false,
            },
            limit,
        );
        flow.newest = Some(id);
        flow.client = side;
        flow.last_attempt = Some((seg.frame, seg.ts));
        flow.syn_tsval = seg.tsval;
        flow.remember_isn(seg.seq);
        self.match_early_synack(flow, key, id, seg);
        id
    }

    /// The SYN of an attempt implied by its answer (a server never sent a SYN before, issue
    /// 13) comes after all, within a second: the two capture points' clocks are apart. It
    /// becomes the attempt's first SYN, as if the answer had waited for it (`EarlyAnswer`).
    fn adopt(&mut self, flow: &mut Flow, id: u64, seg: &Segment) {
        self.seen.note_syn_to(seg.dst.ip);
        let Some(p) = self.queue.get(id) else {
            return;
        };
        p.implied = false;
        p.client_end = seg.seq + 1 + seg.payload_len;
        p.last_activity = p.last_activity.max(seg.ts);
        let a = &mut p.attempt;
        let moved = seg.ts.since(a.ts);
        a.frame = seg.frame;
        a.ts = seg.ts;
        a.last_syn_ts = seg.ts;
        a.next_syn_due = next_syn_due(None, seg.ts);
        a.tsval = seg.tsval;
        a.syn_data_len = seg.payload_len;
        if let Some(r) = a.reuse.as_mut() {
            r.gap_ns = r.gap_ns.saturating_add(moved);
        }
        let established = a.syn_ack.is_some();
        if established {
            a.established_by = Some(Establishment::SynAckBeforeSyn);
        }
        self.stats.syn_ack_before_syn += 1;
        flow.syn_tsval = seg.tsval;
        if flow.newest == Some(id) {
            flow.last_attempt = Some((seg.frame, seg.ts));
        }
        if let Some(conn) = self.conns.get_mut(flow).filter(|c| c.attempt_id == id) {
            conn.past.syn_frame = seg.frame;
            conn.past.syn_ts = seg.ts;
            let client = conn.client;
            conn.touch(seg, client);
            flow.phase = conn.phase();
        }
    }

    /// A SYN-ACK (or RST) seen up to a second before this SYN, acknowledging it: the two
    /// capture points' clocks are apart (counted in capture quality).
    fn match_early_synack(&mut self, flow: &mut Flow, key: &FlowKey, id: u64, syn: &Segment) {
        let Some(early) = self.early_of(key, flow) else {
            return;
        };
        let ahead = syn.ts.since(early.ts);
        if ahead > EARLY_SYNACK_NS {
            self.clear_early(key, flow);
            return;
        }
        let acks = self.queue.get(id).is_some_and(|p| p.acks_syn(early.ack));
        if early.side == flow.client || !acks || ahead < 0 {
            return;
        }
        self.clear_early(key, flow);
        self.stats.syn_ack_before_syn += 1;
        let answer = Answer {
            frame: early.frame,
            ts: early.ts,
        };
        if early.rst {
            // Counted as an end without handshake when it came; it is this SYN's refusal.
            self.stats.ends_without_handshake = self.stats.ends_without_handshake.saturating_sub(1);
            if let Some(p) = self.queue.get(id) {
                p.attempt.rst = Some(answer);
                p.attempt.answered_syn = Some(0);
            }
            return;
        }
        let server_next = early.seq + 1;
        self.establish(
            flow,
            key,
            id,
            answer,
            Establishment::SynAckBeforeSyn,
            server_next,
        );
        let client = flow.client;
        if let Some(conn) = self.conns.get_mut(flow) {
            conn.past.tsval[early.side] = early.tsval;
            conn.absorb(&early);
            conn.touch(syn, client);
            flow.phase = conn.phase();
        }
    }
}
