//! Evidence the tracker gathers as packets arrive, for causes that an attempt's own packets
//! cannot give (issue 10): which sources reuse ports into which server's TIME_WAIT, which
//! servers drop or challenge SYNs in TIME_WAIT, which server ports accept connections at all.
//! The tracker sees these at SYN time, well before the attempts that need them are decided
//! (an unanswered attempt is decided only after a long quiet period), so a cause can use what
//! the capture showed after the attempt too. Bounded: past the budget, new entries are not
//! recorded and are counted.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

use rustc_hash::FxHasher;

use crate::tcp::Endpoint;
use crate::time::Ts;

type FxSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
pub struct Seen {
    /// (client ip, server): a SYN from the client reused, inside the window, a 4-tuple whose
    /// TIME_WAIT the server held.
    reusers: FxSet<(IpAddr, Endpoint)>,
    /// Servers that let a SYN on such a 4-tuple go unanswered until it was retransmitted.
    silent: FxSet<Endpoint>,
    /// Servers that answered a SYN on such a 4-tuple with a challenge ACK.
    challengers: FxSet<Endpoint>,
    /// Server endpoints that completed a handshake.
    accepted: FxSet<Endpoint>,
    /// Clients seen sending a SYN again after a RST or ICMP error answered it (Windows
    /// retries a refused connect twice, Linux and scanners do not).
    retry_after_refusal: FxSet<IpAddr>,
    /// IPs that were sent a SYN of interest: a server whose SYNs the capture never shows
    /// (yet) may be seen from its side only (issue 13).
    syn_receivers: FxSet<IpAddr>,
    /// Server IPs that sent a packet on a 4-tuple with an attempt: the capture holds their
    /// direction, so silence from them means something.
    heard: FxSet<IpAddr>,
    /// Server IPs with a handshake that only the client's packets proved while nothing of
    /// theirs had been seen: the capture lacks their direction (issue 13), rather than the
    /// server being silent.
    client_side_only: FxSet<IpAddr>,
    /// Clients seen sending a SYN again on a retransmission timer (at least 800 ms after the
    /// one before) or acknowledging a SYN-ACK: a TCP stack that retransmits an unanswered
    /// SYN, unlike a scanner or a spoofer, which sends each SYN once.
    stacks: FxSet<IpAddr>,
    /// The first frame's timestamp.
    first_ts: Option<Ts>,
    capacity: usize,
    /// Entries not recorded because the tables were full.
    pub dropped: u64,
}

impl Seen {
    pub fn new(capacity: usize) -> Seen {
        Seen {
            capacity,
            ..Seen::default()
        }
    }

    fn full(&self) -> bool {
        self.reusers.len()
            + self.silent.len()
            + self.challengers.len()
            + self.accepted.len()
            + self.retry_after_refusal.len()
            + self.syn_receivers.len()
            + self.heard.len()
            + self.client_side_only.len()
            + self.stacks.len()
            >= self.capacity
    }

    fn insert<T: std::hash::Hash + Eq>(set: &mut FxSet<T>, value: T, full: bool) -> u64 {
        if set.contains(&value) {
            0
        } else if full {
            1
        } else {
            set.insert(value);
            0
        }
    }

    pub fn note_frame(&mut self, ts: Ts) {
        self.first_ts.get_or_insert(ts);
    }

    pub fn note_reuse_into_time_wait(&mut self, client: IpAddr, server: Endpoint) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.reusers, (client, server), full);
    }

    pub fn note_silent_drop(&mut self, server: Endpoint) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.silent, server, full);
    }

    pub fn note_challenge(&mut self, server: Endpoint) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.challengers, server, full);
    }

    pub fn note_accept(&mut self, server: Endpoint) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.accepted, server, full);
    }

    pub fn note_retry_after_refusal(&mut self, client: IpAddr) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.retry_after_refusal, client, full);
    }

    pub fn note_syn_to(&mut self, server: IpAddr) {
        if !self.syn_receivers.contains(&server) {
            let full = self.full();
            self.dropped += Self::insert(&mut self.syn_receivers, server, full);
        }
    }

    pub fn note_heard(&mut self, server: IpAddr) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.heard, server, full);
    }

    pub fn note_stack(&mut self, client: IpAddr) {
        if !self.stacks.contains(&client) {
            let full = self.full();
            self.dropped += Self::insert(&mut self.stacks, client, full);
        }
    }

    /// `client` was seen retransmitting a SYN on a timer or completing a handshake.
    pub fn retransmitting_stack(&self, client: IpAddr) -> bool {
        self.stacks.contains(&client)
    }

    pub fn note_client_side_only(&mut self, server: IpAddr) {
        let full = self.full();
        self.dropped += Self::insert(&mut self.client_side_only, server, full);
    }

    /// A SYN to `ip` was seen (a server never sent one may be seen from its side only).
    pub fn received_syn(&self, ip: IpAddr) -> bool {
        self.syn_receivers.contains(&ip)
    }

    /// The capture holds packets from server `ip`.
    pub fn heard_from(&self, ip: IpAddr) -> bool {
        self.heard.contains(&ip)
    }

    /// The capture holds packets from some server.
    pub fn heard_any(&self) -> bool {
        !self.heard.is_empty()
    }

    /// Only the client's side of server `ip`'s connections is in the capture (issue 13): a
    /// handshake was proved by the client's packets alone and nothing came from `ip`, or no
    /// server at all has been heard.
    pub fn client_side_only(&self, ip: IpAddr) -> bool {
        !self.heard.contains(&ip) && (self.heard.is_empty() || self.client_side_only.contains(&ip))
    }

    /// Server IPs seen from one side only: (the clients' side only, the server's side only).
    pub fn one_side_servers(&self) -> (u64, u64) {
        let client = if self.heard.is_empty() {
            self.syn_receivers.len()
        } else {
            self.client_side_only
                .iter()
                .filter(|ip| !self.heard.contains(ip))
                .count()
        };
        let server = self
            .heard
            .iter()
            .filter(|ip| !self.syn_receivers.contains(ip))
            .count();
        (client as u64, server as u64)
    }

    /// The client was seen sending a refused SYN again: a refusal is not final for it until
    /// its next retransmission was due (issue 9).
    pub fn retries_after_refusal(&self, client: IpAddr) -> bool {
        self.retry_after_refusal.contains(&client)
    }

    /// The client was seen reusing, inside the window, 4-tuples this server held in TIME_WAIT.
    pub fn reuses_into_time_wait(&self, client: IpAddr, server: Endpoint) -> bool {
        self.reusers.contains(&(client, server))
    }

    /// The server was seen ignoring SYNs on 4-tuples it held in TIME_WAIT.
    pub fn drops_silently(&self, server: Endpoint) -> bool {
        self.silent.contains(&server)
    }

    /// The server was seen answering SYNs on 4-tuples it held in TIME_WAIT with a challenge ACK.
    pub fn challenges(&self, server: Endpoint) -> bool {
        self.challengers.contains(&server)
    }

    /// The server endpoint completed at least one handshake.
    pub fn accepted_any(&self, server: Endpoint) -> bool {
        self.accepted.contains(&server)
    }

    /// Changes whenever something `detect::Context::of` reads changes: the reusers, the
    /// silent servers and the accepting ones (the capture's start is set once). The sets only
    /// grow, so the sum of their sizes is such a counter.
    pub fn context_version(&self) -> usize {
        self.reusers.len() + self.silent.len() + self.accepted.len()
    }

    /// The capture's first timestamp.
    pub fn capture_start(&self) -> Option<Ts> {
        self.first_ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port,
        }
    }

    #[test]
    fn evidence_is_kept_until_the_tables_are_full_then_counted() {
        let mut seen = Seen::new(2);
        seen.note_accept(ep(80));
        seen.note_accept(ep(80)); // already known: no cost
        seen.note_silent_drop(ep(110));
        seen.note_challenge(ep(111)); // full
        assert!(seen.accepted_any(ep(80)));
        assert!(seen.drops_silently(ep(110)));
        assert!(!seen.challenges(ep(111)));
        assert_eq!(seen.dropped, 1);
    }
}
