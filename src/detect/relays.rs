//! Conversations relayed through a proxy or firewall, seen on both legs (captures of both
//! sides merged), reported only on evidence that cannot be coincidence (issue 10 item 7).
//! Two connections are the two legs of one relayed conversation when all of these hold:
//! - the same service port, and the addresses fit a relay: the second leg comes from the
//!   first leg's server (a proxy's own address) or from the first leg's client towards
//!   another server (client-side transparency);
//! - both were established within RELAY_WITHIN_NS of each other and ended within it too;
//! - the bytes match exactly on both legs, each way (a relay forwards the payload as is), and
//!   are not both zero;
//! - the match is one-to-one: no other connection fits either leg.
//!
//! A relay (client, relay, server, port) is reported when at least RELAY_MIN_CONVERSATIONS
//! conversations matched and they are at least half of the client's established connections
//! to relay:port (a relay relays every conversation; coincidences touch a few). Busy ordinary
//! traffic (a NAT talking to two web servers with payloads drawn from a small set) gives none.
//!
//! Matching runs on connection ends (`ConnEnd`), as they come, through an index keyed by
//! (port, client bytes, server bytes): a lookup, not a scan. Merging two shards split by
//! client address adds the counts exactly for transparent relays (both legs have the same
//! client); a proxied conversation's legs have different clients, may fall into different
//! shards and are then not matched.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

use rustc_hash::FxHasher;

use crate::tcp::{Endpoint, FrameRef};
use crate::time::{NANOS_PER_SEC, Ts};
use crate::track::ConnEnd;

/// Both legs of one conversation start (and end) this close together.
pub const RELAY_WITHIN_NS: i64 = NANOS_PER_SEC / 5;
/// Matched conversations before a relay is reported.
pub const RELAY_MIN_CONVERSATIONS: u64 = 3;
/// Connections kept per index key (older ones are forgotten).
const PER_KEY: usize = 8;

/// How a relay carried conversations to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relay {
    pub client: IpAddr,
    pub relay: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    /// The second leg kept the client's address (client-side transparency).
    pub transparent: bool,
}

#[derive(Clone, Copy, Debug)]
struct Leg {
    client: Endpoint,
    server: Endpoint,
    syn_frame: FrameRef,
    established: Ts,
    last: Ts,
    key: Key,
    /// The previous leg with the same key (a chain through the ring, newest first).
    previous: Option<u64>,
    matched: bool,
}

type Key = (u16, u64, u64);
type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The recent connection ends, indexed for matching (transient: not part of the findings).
/// The legs sit in one ring, oldest first; the index holds each key's newest leg, and each
/// leg the one before it with the same key: no allocation per key.
pub struct RelayFinder {
    legs: VecDeque<Leg>,
    /// Id of `legs[0]`.
    base: u64,
    index: FxMap<Key, u64>,
    capacity: usize,
    /// Ends that fitted more than one other leg (not counted).
    pub ambiguous: u64,
}

impl RelayFinder {
    pub fn new(capacity: usize) -> RelayFinder {
        RelayFinder {
            legs: VecDeque::new(),
            base: 0,
            index: FxMap::default(),
            capacity: capacity.max(16),
            ambiguous: 0,
        }
    }

    fn get(&self, id: u64) -> Option<&Leg> {
        self.legs
            .get(usize::try_from(id.checked_sub(self.base)?).ok()?)
    }

    /// A connection ended; returns the relay it proves a leg of, if it completes a match.
    pub fn add(&mut self, end: &ConnEnd) -> Option<Relay> {
        if end.client_bytes == 0 && end.server_bytes == 0 {
            return None;
        }
        let key = (end.server.port, end.client_bytes, end.server_bytes);
        let id = self.base + self.legs.len() as u64;
        let leg = Leg {
            client: end.client,
            server: end.server,
            syn_frame: end.syn_frame,
            established: end.established_ts,
            last: end.last_ts,
            key,
            // The key now names this leg (one lookup: the walk below reads only the ring).
            previous: self.index.insert(key, id),
            matched: false,
        };
        let (mut found, mut fits) = (None, 0);
        let mut at = leg.previous;
        for _ in 0..PER_KEY {
            let Some(other) = at.and_then(|id| self.get(id)) else {
                break;
            };
            if let Some(relay) = pair(other, &leg) {
                fits += 1;
                if !other.matched {
                    found = at.map(|id| (id, relay));
                }
            }
            at = other.previous;
        }
        // The ring doubles, but not past its capacity (a doubling to 32 k legs for a
        // capacity of 18 k was 1.7 MiB unused, issue 14).
        let len = self.legs.len();
        if len == self.legs.capacity() && len <= self.capacity {
            self.legs
                .reserve_exact(crate::budget::growth(len, self.capacity + 1, 64));
        }
        self.legs.push_back(leg);
        let result = match found {
            Some((other, relay)) if fits == 1 => {
                for x in [other, id] {
                    if let Some(i) = x.checked_sub(self.base)
                        && let Some(l) = self.legs.get_mut(i as usize)
                    {
                        l.matched = true;
                    }
                }
                Some(relay)
            }
            _ => {
                self.ambiguous += u64::from(fits > 1);
                None
            }
        };
        while self.legs.len() > self.capacity {
            let Some(old) = self.legs.pop_front() else {
                break;
            };
            // Unless a later leg has the key: one lookup either way.
            if let Entry::Occupied(e) = self.index.entry(old.key)
                && *e.get() == self.base
            {
                e.remove();
            }
            self.base += 1;
        }
        result
    }
}

/// The relay two connections with the same port and bytes would be the legs of.
fn pair(a: &Leg, b: &Leg) -> Option<Relay> {
    if a.syn_frame == b.syn_frame
        || a.established.since(b.established).abs() > RELAY_WITHIN_NS
        || a.last.since(b.last).abs() > RELAY_WITHIN_NS
    {
        return None;
    }
    let (first, second) = if (a.established, a.syn_frame) <= (b.established, b.syn_frame) {
        (a, b)
    } else {
        (b, a)
    };
    let port = first.server.port;
    let proxied = second.client.ip == first.server.ip && second.server.ip != first.client.ip;
    let transparent = second.client.ip == first.client.ip && second.server.ip != first.server.ip;
    (proxied || transparent).then_some(Relay {
        client: first.client.ip,
        relay: first.server.ip,
        server: second.server.ip,
        port,
        transparent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn end(
        client: &str,
        cport: u16,
        server: &str,
        start_ms: i64,
        frame: u64,
        bytes: (u64, u64),
    ) -> ConnEnd {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        ConnEnd {
            client: ep(client, cport),
            server: ep(server, 102),
            syn_frame: FrameRef {
                file: 0,
                number: frame,
            },
            established_ts: Ts(start_ms * MS),
            last_ts: Ts((start_ms + 8) * MS),
            first_end: Some((true, 6 * MS)),
            reset: false,
            client_bytes: bytes.0,
            server_bytes: bytes.1,
        }
    }

    #[test]
    fn both_legs_of_a_transparent_relay_match_one_to_one() {
        let mut f = RelayFinder::new(1000);
        assert_eq!(
            f.add(&end("172.16.5.20", 1100, "172.16.5.1", 0, 1, (300, 12))),
            None
        );
        let r = f
            .add(&end("172.16.5.20", 40000, "10.1.1.10", 2, 9, (300, 12)))
            .unwrap();
        assert!(r.transparent);
        assert_eq!(
            (r.relay.to_string(), r.server.to_string()),
            ("172.16.5.1".into(), "10.1.1.10".into())
        );
    }

    #[test]
    fn different_bytes_late_starts_and_ambiguous_legs_do_not_match() {
        let mut f = RelayFinder::new(1000);
        f.add(&end("10.0.0.1", 1, "10.0.0.9", 0, 1, (300, 12)));
        assert_eq!(
            f.add(&end("10.0.0.1", 2, "10.0.0.8", 2, 2, (301, 12))),
            None
        );
        assert_eq!(
            f.add(&end("10.0.0.1", 3, "10.0.0.8", 500, 3, (300, 12))),
            None
        );
        f.add(&end("10.0.0.1", 4, "10.0.0.7", 1, 4, (300, 12)));
        assert_eq!(
            f.add(&end("10.0.0.1", 5, "10.0.0.6", 3, 5, (300, 12))),
            None
        );
        assert!(f.ambiguous > 0);
    }
}
