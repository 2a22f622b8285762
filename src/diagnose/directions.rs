//! Direction asymmetry (the sister problem in ../shared/seeds/: through a firewall with
//! client-side transparency, connections from one side are refused while the other side's
//! go through) and relayed conversations seen on both legs of a proxy.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::attempt::{Attempt, Outcome};
use crate::summary::OutcomeCounts;
use crate::tcp::Endpoint;
use crate::time::{NANOS_PER_SEC, Ts};
use crate::track::ConnEnd;

/// An application that accepts the TCP connection and then refuses the peer closes or
/// resets it this soon after the handshake...
pub const REFUSAL_WITHIN_NS: i64 = NANOS_PER_SEC;
/// ...having sent less than this much.
pub const REFUSAL_MAX_BYTES: u64 = 1024;

/// Connections opened in one direction between two hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Direction {
    pub outcomes: OutcomeCounts,
    /// Established, then closed or reset by the responder within a second with (almost) no
    /// data: refused by the application rather than by TCP.
    pub refused_by_application: u64,
}

impl Direction {
    pub fn attempts(&self) -> u64 {
        self.outcomes.total()
    }
    /// Attempts that failed at the TCP level or were refused by the application.
    pub fn failed(&self) -> u64 {
        self.outcomes.failed() + self.refused_by_application
    }
    pub fn succeeded(&self) -> u64 {
        self.outcomes
            .get(Outcome::Established)
            .saturating_sub(self.refused_by_application)
    }
}

/// Both directions between a pair of hosts; `[0]` is from `low` to `high`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostPair {
    pub directions: [Direction; 2],
}

/// A pair where one direction fails consistently while the other works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asymmetry {
    /// The host whose connections fail, and the host that refuses them.
    pub initiator: IpAddr,
    pub refuser: IpAddr,
    pub failing: Direction,
    pub working: Direction,
}

impl HostPair {
    pub fn asymmetry(&self, low: IpAddr, high: IpAddr) -> Option<Asymmetry> {
        let [a, b] = self.directions;
        let fails = |d: &Direction| d.attempts() >= 2 && d.failed() * 5 >= d.attempts() * 4;
        let works = |d: &Direction| d.attempts() >= 1 && d.succeeded() * 5 >= d.attempts() * 4;
        if fails(&a) && works(&b) {
            Some(Asymmetry {
                initiator: low,
                refuser: high,
                failing: a,
                working: b,
            })
        } else if fails(&b) && works(&a) {
            Some(Asymmetry {
                initiator: high,
                refuser: low,
                failing: b,
                working: a,
            })
        } else {
            None
        }
    }
}

/// The pair key and which direction `client -> server` is.
pub fn pair_key(client: IpAddr, server: IpAddr) -> ((IpAddr, IpAddr), usize) {
    if client <= server {
        ((client, server), 0)
    } else {
        ((server, client), 1)
    }
}

/// Whether a connection's end shows the application refusing the peer.
pub fn refused_by_application(end: &ConnEnd) -> bool {
    matches!(end.first_end, Some((true, after)) if after <= REFUSAL_WITHIN_NS)
        && end.server_bytes < REFUSAL_MAX_BYTES
}

/// One conversation seen on both legs of a relay (proxy or firewall) within this long.
const RELAY_WITHIN_NS: i64 = NANOS_PER_SEC / 5;

/// How a relay carried a conversation to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relay {
    pub client: IpAddr,
    pub relay: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    /// The second leg kept the client's address (client-side transparency) instead of the
    /// relay's own.
    pub transparent: bool,
}

/// Finds conversations that appear twice: client -> relay:port, then (within 200 ms)
/// relay -> server:port or client -> server:port on the same port.
#[derive(Default)]
pub struct RelayFinder {
    recent: VecDeque<(Ts, Endpoint, Endpoint)>,
}

impl RelayFinder {
    pub fn add(&mut self, a: &Attempt) -> Option<Relay> {
        while self
            .recent
            .front()
            .is_some_and(|(ts, _, _)| a.ts.since(*ts) > RELAY_WITHIN_NS)
        {
            self.recent.pop_front();
        }
        let found = self.recent.iter().rev().find_map(|(_, client, relay)| {
            let same_port = relay.port == a.server.port && relay.ip != a.server.ip;
            let proxied = a.client.ip == relay.ip && a.client.ip != client.ip;
            let transparent = a.client.ip == client.ip;
            (same_port && (proxied || transparent)).then_some(Relay {
                client: client.ip,
                relay: relay.ip,
                server: a.server.ip,
                port: a.server.port,
                transparent,
            })
        });
        if self.recent.len() >= 256 {
            self.recent.pop_front();
        }
        self.recent.push_back((a.ts, a.client, a.server));
        found
    }
}
