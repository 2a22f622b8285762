//! What came back for an attempt, by acknowledgment number rather than by packet type
//! (issue 9), in the spirit of smoltcp's `State` handling: one `match` over what a segment
//! from the server side is, with a comment per arm; the client side proves a handshake too.

use crate::attempt::{Answer, Establishment, IcmpAnswer};
use crate::decode::IcmpError;
use crate::tcp::{FlowKey, Segment, Seq};

use super::Book;
use super::flow::{Conn, Flow, Past, Phase};
use super::queue::{Chain, Settle};
use super::side::{Pair, Side, Sides};

/// How far past ISN+1 a client segment may start and still be taken as this attempt's, when
/// no SYN-ACK proved the handshake (1 MiB: a random ISN of another attempt on the 4-tuple
/// matches by chance once in 4,096).
const CLIENT_DATA_WINDOW: u32 = 1 << 20;
/// A RST of the client's this soon after its SYN answers what came back for it (a challenge
/// ACK: Linux resets it at once); later, it is something else.
const CLIENT_RST_AFTER_SYN_NS: i64 = crate::time::NANOS_PER_SEC;

/// What a segment from the server side of the pending attempts is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// A SYN-ACK acknowledging ISN+1 (+ the SYN's data) of attempt `id`.
    SynAck(u64),
    /// An ACK of data the client sent on attempt `id`, beyond ISN+1, or server data
    /// acknowledging its SYN, with no SYN-ACK seen.
    AckedData(u64),
    /// A RST answering the SYN of attempt `id`.
    Refusal(u64),
    /// An ACK whose number is unrelated to every pending ISN, while attempt `id` waits.
    Challenge(u64),
    /// A SYN-ACK (or RST) that acknowledges no SYN seen: its SYN may come within a second.
    Early,
    /// A server segment in the sequence spaces of such an early SYN-ACK.
    EarlyFollower,
    /// Anything else: it belongs to the live connection, if any.
    Connection,
}

impl Book {
    /// Classifies a segment from `side`, the server side of the attempts it may answer.
    fn classify(&mut self, flow: &Flow, key: &FlowKey, seg: &Segment, side: Side) -> Verdict {
        let f = seg.flags;
        let live = self.conns.live(flow).copied();
        // The server's segments after a SYN-ACK that came ahead of its SYN are that SYN-ACK's
        // (their own, newest sequence space), not the older connection's.
        if !f.syn()
            && self
                .early_of(key, flow)
                .is_some_and(|e| e.follows(seg, side))
        {
            return Verdict::EarlyFollower;
        }
        if !f.syn() && live.is_some_and(|c| c.client != side && c.fits(seg, side)) {
            return Verdict::Connection;
        }
        let mut chain = Chain::from(flow.newest);
        let mut waiting = None;
        let mut related = false;
        // Attempts older than the one that got in are matched only by their own ISN: the
        // rest of the traffic belongs to the connection.
        let mut behind_conn = false;
        while let Some(id) = chain.next(&mut self.queue) {
            if self.settled_by(id, seg.ts) && !self.is_established(id) {
                continue;
            }
            let Some(p) = self.queue.get(id) else {
                continue;
            };
            if p.attempt.syn_ack.is_some() {
                if f.syn() && f.ack() && p.acks_syn(seg.ack) {
                    return Verdict::Connection; // a SYN-ACK sent again
                }
                behind_conn = true;
                continue;
            }
            // An answer stamped before the SYN answers something else (timestamps went back,
            // a copy of an older frame), except a SYN-ACK just ahead of it (merged capture
            // points, handled when the SYN comes).
            if p.client == side || seg.ts < p.attempt.ts || p.settled {
                continue;
            }
            // An attempt implied by its answer waits for nothing: its SYN is not in the
            // capture, and only an answer acknowledging its ISN is its own.
            let implied_known = p.implied && p.attempt.isn_known;
            if !behind_conn && !implied_known {
                waiting.get_or_insert(id);
            }
            let acks_syn = f.ack() && p.acks_syn(seg.ack);
            // Acknowledges what the client sent on this attempt after its SYN.
            let acks_data = f.ack() && seg.ack > p.after_syn() && seg.ack <= p.client_end;
            match (f.syn(), f.rst()) {
                (true, false) if acks_syn => return Verdict::SynAck(id),
                (false, true) if acks_syn => return Verdict::Refusal(id),
                (false, false) if acks_data || (acks_syn && seg.payload_len > 0) => {
                    return Verdict::AckedData(id);
                }
                _ => related |= acks_syn,
            }
        }
        match waiting {
            // A SYN-ACK for no pending ISN: one ahead of its SYN (merged capture points).
            _ if f.syn() && f.ack() => Verdict::Early,
            // A RST with an ACK number when no SYN waits: maybe ahead of its SYN too.
            None if f.rst() && f.ack() && (live.is_none() || flow.phase == Phase::Closed) => {
                Verdict::Early
            }
            // A RST without a matching ACK number still answers the newest SYN.
            Some(id) if f.rst() => Verdict::Refusal(id),
            // An ACK from another sequence space (typically the old connection's): TIME_WAIT's
            // challenge ACK (RFC 5961 4; Linux tcp_timewait_state_process).
            Some(id) if f.ack() && !f.syn() && !related => Verdict::Challenge(id),
            _ => Verdict::Connection,
        }
    }

    /// A segment from the server side of the 4-tuple's attempts (or of its connection).
    /// Returns the id of an attempt it implies (issue 13: the server's side only).
    pub fn on_server_segment(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
    ) -> Option<u64> {
        if self
            .early_of(key, flow)
            .is_some_and(|e| seg.ts.since(e.ts) > super::syn::EARLY_SYNACK_NS)
        {
            self.clear_early(key, flow);
        }
        match self.classify(flow, key, seg, side) {
            // The handshake's second step (RFC 9293 3.5); with TCP Fast Open the SYN-ACK
            // acknowledges the SYN's data too (RFC 7413).
            Verdict::SynAck(id) => {
                let answer = Answer {
                    frame: seg.frame,
                    ts: seg.ts,
                };
                self.establish(flow, key, id, answer, Establishment::SynAck, seg.seq + 1);
                if let Some(conn) = self.conns.get_mut(flow) {
                    conn.past.tsval[side] = seg.tsval;
                }
            }
            // The SYN-ACK is not in the capture, but the server acknowledged the client's data
            // (or sent its own): the handshake happened.
            Verdict::AckedData(id) => {
                let answer = Answer {
                    frame: seg.frame,
                    ts: seg.ts,
                };
                let how = Establishment::ServerAckedData;
                self.establish(flow, key, id, answer, how, seg.seq);
                self.settle(id, Settle::ClientMovedOn);
                self.extend_conn(flow, seg, side);
            }
            // A refusal: the first RST is the answer; the client may send the SYN again.
            Verdict::Refusal(id) => {
                self.implied_retry(id, seg);
                let p = self.queue.get(id)?;
                if p.attempt.rst.is_none() {
                    p.attempt.answered_syn = Some(p.attempt.syn_retransmits);
                    p.attempt.rst = Some(Answer {
                        frame: seg.frame,
                        ts: seg.ts,
                    });
                }
                p.last_activity = p.last_activity.max(seg.ts);
                p.last_syn_answered |= seg.ts >= p.attempt.last_syn_ts;
            }
            // Counted on the waiting attempt; evidence for the server's TIME_WAIT behaviour.
            Verdict::Challenge(id) => {
                self.implied_retry(id, seg);
                let p = self.queue.get(id)?;
                p.attempt.challenge_acks += 1;
                p.last_activity = p.last_activity.max(seg.ts);
                p.last_syn_answered |= seg.ts >= p.attempt.last_syn_ts;
                let a = p.attempt;
                if a.reuse
                    .is_some_and(|r| r.in_window && r.holder.server_holds())
                {
                    self.seen.note_challenge(a.server);
                }
            }
            // From a server never sent a SYN in the capture: the SYN it answers is implied
            // (the capture holds the server's side only, issue 13).
            Verdict::Early
                if super::implied::implies_syn(&self.seen, seg) && self.wanted_reply(seg) =>
            {
                return self.implied_answer(flow, key, seg, side);
            }
            // Kept on the flow for a second, in case its SYN comes (merged capture points).
            Verdict::Early => {
                self.set_early(key, flow, super::flow::EarlyAnswer::new(seg, side));
            }
            Verdict::EarlyFollower => {
                if let Some(early) = self.early.get_mut(key) {
                    early.add(seg);
                }
            }
            // TIME_WAIT's answer to a SYN that the capture does not hold (issue 13).
            Verdict::Connection if self.is_time_wait_challenge(flow, seg, side) => {
                return Some(self.implied_challenge(flow, key, seg, side));
            }
            // The server's own word beats the client's: its ACK of the client's data (or
            // its data) after a handshake only the client's side showed.
            Verdict::Connection => {
                self.server_confirms(flow, seg, side);
                self.extend_conn(flow, seg, side);
            }
        }
        None
    }

    /// A segment (not a SYN) from the client side of the 4-tuple's attempts.
    pub fn on_client_segment(&mut self, flow: &mut Flow, key: &FlowKey, seg: &Segment, side: Side) {
        let f = seg.flags;
        if let Some(conn) = self.conns.live(flow).copied().filter(|c| c.client == side)
            && conn.fits(seg, side)
        {
            // The client answered the SYN-ACK: it will not send this SYN again (and an
            // attempt implied by the server's side has its client's side in the capture).
            if let Some(p) = self.queue.get(conn.attempt_id) {
                p.implied = false;
            }
            self.settle(conn.attempt_id, Settle::ClientMovedOn);
            self.extend_conn(flow, seg, side);
            return;
        }
        let mut chain = Chain::from(flow.newest);
        while let Some(id) = chain.next(&mut self.queue) {
            let Some(p) = self.queue.get(id) else {
                continue;
            };
            if p.client != side || p.settled || seg.ts < p.attempt.ts || p.attempt.syn_ack.is_some()
            {
                continue;
            }
            // Before a SYN-ACK the client may RST a challenge ACK; that is not an answer. Only
            // a segment in this attempt's own sequence space (just after its SYN) counts.
            let offset = seg.seq.0.wrapping_sub(p.after_syn().0);
            if f.rst() && offset != 0 {
                // What the client's side shows of a challenge ACK (issue 13): its RST right
                // after the SYN, with the challenge's acknowledgment number (the old
                // connection's sequence space), not the attempt's ISN + 1.
                if seg.ts.since(p.attempt.last_syn_ts) <= CLIENT_RST_AFTER_SYN_NS {
                    self.client_reset(id, seg);
                }
                break;
            }
            if f.rst() || !f.ack() || offset >= CLIENT_DATA_WINDOW {
                continue;
            }
            let end = seg.seq + seg.payload_len;
            if end > p.client_end {
                p.client_end = end;
            }
            // An ACK from the client after its SYN: it saw a SYN-ACK the capture does not
            // show, so it will not retransmit the SYN (silence is no longer `unanswered`).
            if p.handshake_ack.is_none() {
                p.handshake_ack = Some(seg.ack);
                p.attempt.next_syn_due = crate::time::Ts(i64::MAX);
                self.seen.note_stack(p.attempt.client.ip);
            }
            let acks_server_data = p.handshake_ack.is_some_and(|h| seg.ack > h);
            if p.pure_handshake_ack && (seg.payload_len > 0 || acks_server_data) {
                // Data after the handshake ACK (the client's, or the server's that the client
                // acknowledges): both ends are in ESTABLISHED.
                let answer = Answer {
                    frame: seg.frame,
                    ts: seg.ts,
                };
                let server_next = p.handshake_ack.unwrap_or(seg.ack);
                let how = Establishment::ClientHandshake;
                self.establish(flow, key, id, answer, how, server_next);
                self.settle(id, Settle::ClientMovedOn);
            } else if offset == 0 {
                // The handshake's third step (with TCP Fast Open it may carry data). A client
                // sends an ACK in its attempt's sequence space only once a SYN-ACK for its
                // ISN came (RFC 9293 3.10.7.3): from a server nothing of whose has been
                // seen, that is the proof there is (issue 13); otherwise data must follow.
                p.pure_handshake_ack |= seg.payload_len == 0;
                if !self.seen.heard_from(p.attempt.server.ip) {
                    let answer = Answer {
                        frame: seg.frame,
                        ts: seg.ts,
                    };
                    let how = Establishment::ClientHandshake;
                    self.establish(flow, key, id, answer, how, seg.ack);
                    self.settle(id, Settle::ClientMovedOn);
                }
            }
            break;
        }
        self.extend_conn(flow, seg, side);
    }

    /// A RST of the client's right after a SYN of attempt `id`, before any answer.
    fn client_reset(&mut self, id: u64, seg: &Segment) {
        let Some(p) = self.queue.get(id) else {
            return;
        };
        p.client_rsts = p.client_rsts.saturating_add(1);
        p.last_syn_answered |= seg.ts >= p.attempt.last_syn_ts;
        p.last_activity = p.last_activity.max(seg.ts);
        let a = p.attempt;
        if a.reuse
            .is_some_and(|r| r.in_window && r.holder.server_holds())
        {
            self.seen.note_challenge(a.server);
        }
    }

    fn server_confirms(&mut self, flow: &Flow, seg: &Segment, side: Side) {
        let Some(conn) = self.conns.live(flow).copied().filter(|c| c.client != side) else {
            return;
        };
        let Some(p) = self.queue.get(conn.attempt_id) else {
            return;
        };
        if p.implied && !seg.flags.syn() {
            // The server went on past its SYN-ACK: the implied attempt is settled (its
            // client's SYN retransmissions, if any, are not in the capture).
            self.settle(conn.attempt_id, Settle::ClientMovedOn);
            return;
        }
        let acks_beyond = seg.flags.ack() && seg.ack > p.after_syn();
        if p.attempt.established_by == Some(Establishment::ClientHandshake)
            && (acks_beyond || seg.payload_len > 0)
        {
            p.attempt.established_by = Some(Establishment::ServerAckedData);
            p.attempt.syn_ack = Some(Answer {
                frame: seg.frame,
                ts: seg.ts,
            });
        }
    }

    fn is_established(&mut self, id: u64) -> bool {
        self.queue
            .get(id)
            .is_some_and(|p| p.attempt.syn_ack.is_some())
    }

    /// Attempt `id` completed its handshake (as `how` proved, by `answer`): it opens the
    /// 4-tuple's connection. `server_next` is the server's next sequence number.
    pub fn establish(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        id: u64,
        answer: Answer,
        how: Establishment,
        server_next: Seq,
    ) {
        let Some(p) = self.queue.get(id) else {
            return;
        };
        let after_syn = p.after_syn();
        let a = &mut p.attempt;
        a.syn_ack = Some(answer);
        a.established_by = Some(how);
        a.answered_syn = (!how.syn_ack_missing()).then_some(a.syn_retransmits);
        p.last_activity = p.last_activity.max(answer.ts);
        let client = p.client;
        let mut seq_end = Pair::default();
        seq_end[client] = after_syn;
        seq_end[client.other()] = server_next;
        let mut tsval = Pair::default();
        tsval[client] = flow.syn_tsval;
        let (syn_frame, syn_ts, server) = (a.frame, a.ts, a.server);
        let implied = p.implied;
        self.stats.syn_ack_missing += u64::from(how.syn_ack_missing());
        self.seen.note_accept(server);
        let mut heard = Sides::default();
        if how == Establishment::ClientHandshake {
            heard.add(client);
            if !self.seen.heard_from(server.ip) {
                // A handshake only the client's side shows: this server's direction is not
                // in the capture (issue 13).
                self.seen.note_client_side_only(server.ip);
            }
        } else {
            heard.add(client.other());
            if !implied {
                heard.add(client);
            }
        }
        if let Some(old) = self.conns.live(flow) {
            // Another attempt on the 4-tuple had the live connection (a SYN storm).
            self.ended.push_back(old.end(key));
        }
        flow.phase = Phase::Established;
        let conn = Conn {
            past: Past {
                syn_frame,
                syn_ts,
                last_frame: answer.frame,
                last_ts: answer.ts.max(syn_ts),
                seq_end,
                tsval,
                first_fin: None,
                crossed: false,
                rst: false,
                fin_inferred: false,
            },
            client,
            established_ts: answer.ts,
            bytes: Pair::default(),
            first_end: None,
            acked_unseen: false,
            attempt_id: id,
            first_fin_seq: Seq(0),
            second_fin: false,
            heard,
        };
        self.conns.put(flow, conn);
    }

    /// Extends the live connection with a packet that belongs to it.
    pub fn extend_conn(&mut self, flow: &mut Flow, seg: &Segment, side: Side) {
        let Some(conn) = self.conns.live_mut(flow) else {
            return;
        };
        if seg.ts < conn.past.last_ts && !conn.fits(seg, side) {
            return; // from the past and another sequence space: not this connection's
        }
        let touch = conn.touch(seg, side);
        let (attempt_id, phase) = (conn.attempt_id, conn.phase());
        flow.phase = phase;
        self.stats.acks_of_unseen_data += u64::from(touch.newly_unseen);
        if let Some(close) = touch.first_close
            && let Some(p) = self.queue.get(attempt_id)
        {
            p.attempt.first_close = Some(close);
        }
    }

    /// An ICMP error quoting the client's SYN (same sender, same ISN) answers its attempt;
    /// returns whether it did.
    pub fn on_icmp(&mut self, flow: &mut Flow, error: &IcmpError, quoted: Side) -> bool {
        let mut chain = Chain::from(flow.newest);
        while let Some(id) = chain.next(&mut self.queue) {
            if self.settled_by(id, error.ts) {
                continue;
            }
            let Some(p) = self.queue.get(id) else {
                continue;
            };
            if p.client != quoted || p.attempt.isn != error.seq {
                continue;
            }
            if p.attempt.icmp.is_none() {
                p.attempt.answered_syn = Some(p.attempt.syn_retransmits);
                p.attempt.icmp = Some(IcmpAnswer {
                    frame: error.frame,
                    ts: error.ts,
                    v6: error.v6,
                    icmp_type: error.icmp_type,
                    code: error.code,
                });
            }
            p.last_activity = p.last_activity.max(error.ts);
            return true;
        }
        false
    }
}
