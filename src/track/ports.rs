//! The last use of every (client ip, source port), to any destination: how long a port rested
//! between the end of its previous use and its next SYN (what a firewall's
//! MinTickBeforePortReuse sets, issue 10), and SYN-to-SYN. Bounded: past the budget the
//! oldest uses are forgotten (their next reuse has no idle time) and counted.

use std::collections::VecDeque;

use crate::tcp::{Endpoint, FlowKey};
use crate::time::Ts;

use super::dense::{DenseMap, hash_of};

/// One use of a port: the 4-tuple it went to and when its first SYN was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortUse {
    pub key: FlowKey,
    pub syn_ts: Ts,
    /// When the use ended, once the tracker knows (FIN or RST seen, the attempt failed, or its
    /// 4-tuple was dropped): the time of its last packet.
    pub ended: Option<Ts>,
}

pub struct PortUses {
    /// By (client ip, source port), as an `Endpoint`: an IPv4 one hashes as one word.
    uses: DenseMap<Endpoint, PortUse>,
    /// Insertion order (hashes of the keys), for oldest-first eviction (entries may be stale:
    /// checked on pop).
    order: VecDeque<(u64, Ts)>,
    capacity: usize,
    pub dropped: u64,
}

impl PortUses {
    pub fn new(capacity: usize) -> PortUses {
        PortUses {
            uses: DenseMap::new(capacity.saturating_add(2)),
            order: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Records a new use of the client's (ip, port) and returns the previous one.
    pub fn replace(&mut self, client: Endpoint, now: PortUse) -> Option<PortUse> {
        let hash = hash_of(&client);
        let previous = self.uses.insert_hashed(hash, client, now);
        self.order.push_back((hash, now.syn_ts));
        while self.uses.len() > self.capacity {
            let Some((hash, ts)) = self.order.pop_front() else {
                break;
            };
            // Only the newest record of a port is live; older order entries are stale.
            self.dropped += self.uses.remove_with_hash(hash, |u| u.syn_ts == ts);
        }
        if self.order.len() > 2 * self.capacity.max(1) {
            let uses = &self.uses;
            self.order
                .retain(|&(hash, ts)| uses.any_with_hash(hash, |u| u.syn_ts == ts));
        }
        previous
    }

    /// The capture has ended: no attempt will ask for a previous use. Frees the tables (the
    /// count stays).
    pub fn free(&mut self) {
        self.uses = DenseMap::new(0);
        self.order = VecDeque::new();
    }

    /// Marks the use of the client's (ip, port) on `key` as ended at `ts`, if it is still
    /// the newest.
    pub fn end(&mut self, client: Endpoint, key: FlowKey, ts: Ts) {
        if let Some(u) = self.uses.get_mut(&client).filter(|u| u.key == key) {
            u.ended = Some(ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        let ep = |p| Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: p,
        };
        FlowKey::new(ep(port), ep(80)).0
    }

    #[test]
    fn the_previous_use_comes_back_and_the_oldest_is_forgotten_past_capacity() {
        let ip = "10.0.0.1".parse().unwrap();
        let at = |port| Endpoint { ip, port };
        let mut ports = PortUses::new(2);
        let use_at = |port, s| PortUse {
            key: key(port),
            syn_ts: Ts(s),
            ended: None,
        };
        assert_eq!(ports.replace(at(1), use_at(1, 1)), None);
        ports.end(at(1), key(1), Ts(5));
        let previous = ports.replace(at(1), use_at(1, 9)).unwrap();
        assert_eq!(previous.ended, Some(Ts(5)));
        ports.replace(at(2), use_at(2, 10));
        ports.replace(at(3), use_at(3, 11)); // over capacity: port 1 goes
        assert_eq!(ports.dropped, 1);
        assert_eq!(ports.replace(at(1), use_at(1, 12)), None);
    }
}
