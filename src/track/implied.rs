//! Attempts seen from the server's side only (issue 13). A capture that holds a server's
//! packets but none of its clients' (a tap on one fibre, a filter `src host SERVER`,
//! asymmetric routing) still shows every SYN the server answered: a SYN-ACK acknowledges
//! ISN + 1, a RST with ACK and sequence number 0 answers a segment without ACK (a SYN, RFC
//! 9293 3.10.7.1), an ICMP error quotes it, and a bare ACK repeating the server's last ACK on
//! a 4-tuple it holds in TIME_WAIT is TIME_WAIT's answer to a new SYN (RFC 5961 4.2). Each
//! implies an attempt, at the answer's frame and time. SYNs that got no answer leave nothing
//! on this side: they cannot be seen, and nothing is counted as unanswered.
//!
//! Only a server never seen being sent a SYN is read so: where the capture holds the
//! clients' SYNs, an answer without its SYN is one ahead of it (merged capture points,
//! `EarlyAnswer`) or backscatter. An implied attempt whose SYN comes within a second after
//! all takes it as its first SYN (`Book::adopt`).

use crate::attempt::{Answer, Establishment, Holder};
use crate::decode::IcmpError;
use crate::tcp::{Flags, FlowKey, Segment, Seq};

use super::Book;
use super::flow::{Flow, Phase};
use super::queue::next_syn_due;
use super::seen::Seen;
use super::side::Side;

/// `seg` answers a SYN that the capture does not hold, and its sender was never seen being
/// sent a SYN: a SYN-ACK, or a RST with ACK and sequence number 0.
pub fn implies_syn(seen: &Seen, seg: &Segment) -> bool {
    let f = seg.flags;
    let answer = f.ack() && (f.syn() && !f.rst() || f.rst() && !f.syn() && seg.seq == Seq(0));
    answer && !seen.received_syn(seg.src.ip)
}

/// The ISN a SYN-ACK's or a SYN's RST's acknowledgment number implies.
fn isn_of(ack: Seq) -> Seq {
    Seq(ack.0.wrapping_sub(1))
}

impl Book {
    /// Starts the attempt implied by `seg`, from `side` (the server): its SYN from the other
    /// side with ISN `isn` (unknown: `None`), at `seg`'s frame and time. Returns its id.
    fn imply(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
        isn: Option<Seq>,
    ) -> u64 {
        let syn = Segment {
            src: seg.dst,
            dst: seg.src,
            flags: Flags(Flags::SYN),
            seq: isn.unwrap_or(Seq(0)),
            ack: Seq(0),
            payload_len: 0,
            tsval: None,
            ..*seg
        };
        let id = self.start_attempt(flow, key, &syn, side.other());
        if isn.is_none() {
            flow.isns = [flow.isns[1], None];
        }
        if let Some(p) = self.queue.get(id) {
            p.implied = true;
            p.attempt.isn_known = isn.is_some();
        }
        id
    }

    /// A server segment that implies a SYN (`implies_syn`): the attempt it answers, started
    /// (its id returned) or, implied by a challenge ACK earlier, given its ISN.
    pub fn implied_answer(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
    ) -> Option<u64> {
        let isn = isn_of(seg.ack);
        // ... while the client may still be sending that SYN: no later than its next one
        // was due after the last challenge.
        let waiting = flow.newest.filter(|&id| {
            self.queue.get(id).is_some_and(|p| {
                let a = &p.attempt;
                p.implied && !a.isn_known && !p.settled && seg.ts <= a.next_syn_due
            })
        });
        if seg.flags.syn()
            && let Some(conn) = self.conns.live_mut(flow)
            && !conn.heard.has(conn.client)
            && conn.past.is_open()
        {
            // A server that accepts a new SYN holds no connection on the 4-tuple (it would
            // answer with a challenge ACK, RFC 5961 4.2): the one before, open as far as the
            // server's packets go, was ended by a RST the capture does not hold (the
            // client's). No TIME_WAIT is left (`Inference::FinOrder`).
            conn.past.rst = true;
            conn.past.fin_inferred = true;
            flow.phase = Phase::Closed;
        }
        let (id, started) = match waiting {
            Some(id) => {
                if let Some(p) = self.queue.get(id) {
                    p.attempt.isn = isn;
                    p.attempt.isn_known = true;
                    p.client_end = isn + 1;
                }
                flow.remember_isn(isn);
                (id, None)
            }
            None => {
                let id = self.imply(flow, key, seg, side, Some(isn));
                (id, Some(id))
            }
        };
        let answer = Answer {
            frame: seg.frame,
            ts: seg.ts,
        };
        if seg.flags.syn() {
            self.establish(flow, key, id, answer, Establishment::SynAck, seg.seq + 1);
            if let Some(conn) = self.conns.get_mut(flow) {
                conn.past.tsval[side] = seg.tsval;
            }
        } else if let Some(p) = self.queue.get(id) {
            p.attempt.rst = Some(answer);
            p.attempt.answered_syn = Some(0);
            p.last_syn_answered = true;
            p.last_activity = p.last_activity.max(seg.ts);
        }
        started
    }

    /// A bare ACK from the server that repeats its last ACK, later, on a 4-tuple whose
    /// connection it closed first and whose client the capture never showed: TIME_WAIT's
    /// challenge ACK to a SYN not in the capture (or its ACK of a retransmitted FIN: the
    /// same packet).
    pub fn is_time_wait_challenge(&self, flow: &Flow, seg: &Segment, side: Side) -> bool {
        let f = seg.flags;
        if flow.phase != Phase::Closed || f.syn() || f.fin() || f.rst() || !f.ack() {
            return false;
        }
        let Some(conn) = self.conns.live(flow) else {
            return false;
        };
        let client = conn.client;
        let p = &conn.past;
        client != side
            && !conn.heard.has(client)
            && seg.payload_len == 0
            && p.holder(client) == Holder::Server
            && seg.seq == p.seq_end[side]
            && seg.ack == p.seq_end[client]
            && seg.ts > p.last_ts
    }

    /// Starts the attempt a TIME_WAIT challenge ACK implies (`is_time_wait_challenge`), its
    /// ISN unknown until a SYN-ACK or RST acknowledges it. Returns its id.
    pub fn implied_challenge(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        seg: &Segment,
        side: Side,
    ) -> u64 {
        let id = self.imply(flow, key, seg, side, None);
        if let Some(p) = self.queue.get(id) {
            p.attempt.challenge_acks = 1;
            p.last_syn_answered = true;
            let a = p.attempt;
            if a.reuse
                .is_some_and(|r| r.in_window && r.holder.server_holds())
            {
                self.seen.note_challenge(a.server);
            }
        }
        id
    }

    /// One more answer (RST or challenge ACK) to an implied attempt: it implies one more SYN,
    /// not seen, so the next retransmission is due after this one.
    pub fn implied_retry(&mut self, id: u64, seg: &Segment) {
        let Some(p) = self.queue.get(id) else {
            return;
        };
        if !p.implied || seg.ts <= p.attempt.last_syn_ts {
            return;
        }
        let a = &mut p.attempt;
        a.next_syn_due = next_syn_due(Some(a.last_syn_ts), seg.ts);
        a.last_syn_ts = seg.ts;
        if a.rst.is_some() && seg.flags.rst() {
            // The client sent the refused SYN again (Windows does).
            let client = a.client.ip;
            self.seen.note_retry_after_refusal(client);
        }
    }

    /// An ICMP error quoting a SYN that the capture does not hold, sent to a server never
    /// seen being sent a SYN: the attempt it answers. Returns its id.
    pub fn implied_icmp(
        &mut self,
        flow: &mut Flow,
        key: &FlowKey,
        error: &IcmpError,
        quoted: Side,
    ) -> Option<u64> {
        let syn = error.flags.is_some_and(|f| f.syn() && !f.ack());
        if !syn || self.seen.received_syn(error.dst.ip) {
            return None;
        }
        // The answer as if the server had sent it: the attempt's SYN is the quoted one.
        let answer = Segment {
            frame: error.frame,
            ts: error.ts,
            src: error.dst,
            dst: error.src,
            flags: Flags(Flags::ACK),
            seq: Seq(0),
            ack: error.seq + 1,
            payload_len: 0,
            tsval: None,
            ip_id: 0,
            checksum: 0,
        };
        let id = self.imply(flow, key, &answer, quoted.other(), Some(error.seq));
        self.on_icmp(flow, error, quoted);
        Some(id)
    }
}
