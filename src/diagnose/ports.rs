//! Source-port allocation per SYN sender: how many ports, how they step from one attempt to
//! the next, how soon a port comes back, how fast connections are opened; and from that the
//! pattern (`sequential`, `random`, `pooled`) and the pool size that would avoid collisions.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;
use std::net::IpAddr;

use crate::attempt::Attempt;
use crate::time::{NANOS_PER_SEC, Ts};

/// Upper bounds (seconds) of the reuse-interval histogram buckets; the last is "longer".
pub const INTERVAL_BUCKETS_S: [f64; 6] = [1.0, 2.0, 10.0, 60.0, 120.0, 240.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Mostly small positive steps (1..8), wrapping at the end of the range: a normal stack.
    Sequential,
    /// Steps spread over the range (RFC 6056-style randomisation).
    Random,
    /// A small set of ports recycled, each back long before TIME_WAIT could have ended.
    Pooled,
}

impl Pattern {
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Sequential => "sequential",
            Pattern::Random => "random",
            Pattern::Pooled => "pooled",
        }
    }
}

/// Steps between consecutive attempts' source ports, as a signed 16-bit difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deltas {
    pub zero: u64,
    /// +1 to +8.
    pub small_up: u64,
    /// +9 to +256.
    pub medium_up: u64,
    /// -1 to -256.
    pub small_down: u64,
    /// |step| > 256.
    pub large: u64,
}

impl Deltas {
    fn add(&mut self, from: u16, to: u16) {
        let d = i32::from(to.wrapping_sub(from) as i16);
        match d {
            0 => self.zero += 1,
            1..=8 => self.small_up += 1,
            9..=256 => self.medium_up += 1,
            -256..=-1 => self.small_down += 1,
            _ => self.large += 1,
        }
    }
    pub fn total(&self) -> u64 {
        self.zero + self.small_up + self.medium_up + self.small_down + self.large
    }
}

/// What one SYN sender's attempts show.
#[derive(Clone, Debug)]
pub struct SourcePorts {
    pub ip: IpAddr,
    pub attempts: u64,
    pub distinct_ports: u32,
    pub min_port: u16,
    pub max_port: u16,
    pub deltas: Deltas,
    /// Time between two uses of the same port, to any destination.
    pub min_reuse_interval_ns: Option<i64>,
    pub reuse_intervals: [u64; INTERVAL_BUCKETS_S.len() + 1],
    /// Time between two attempts on the same 4-tuple (same destination).
    pub min_same_destination_ns: Option<i64>,
    pub peak_per_1s: u64,
    pub peak_per_60s: u64,
    pub first_ts: Ts,
    pub last_ts: Ts,
    ports_seen: Box<[u64; 1024]>,
    last_use: HashMap<u16, Ts, BuildHasherDefault<FxHasher>>,
    last_port: Option<u16>,
    window_1s: VecDeque<Ts>,
    window_60s: VecDeque<Ts>,
}

impl SourcePorts {
    pub fn new(ip: IpAddr, ts: Ts) -> SourcePorts {
        SourcePorts {
            ip,
            attempts: 0,
            distinct_ports: 0,
            min_port: u16::MAX,
            max_port: 0,
            deltas: Deltas::default(),
            min_reuse_interval_ns: None,
            reuse_intervals: [0; INTERVAL_BUCKETS_S.len() + 1],
            min_same_destination_ns: None,
            peak_per_1s: 0,
            peak_per_60s: 0,
            first_ts: ts,
            last_ts: ts,
            ports_seen: Box::new([0; 1024]),
            last_use: HashMap::default(),
            last_port: None,
            window_1s: VecDeque::new(),
            window_60s: VecDeque::new(),
        }
    }

    pub fn add(&mut self, a: &Attempt) {
        let (port, ts) = (a.client.port, a.ts);
        self.attempts += 1;
        self.last_ts = self.last_ts.max(ts);
        let (word, bit) = (usize::from(port / 64), 1u64 << (port % 64));
        if self.ports_seen[word] & bit == 0 {
            self.ports_seen[word] |= bit;
            self.distinct_ports += 1;
        }
        self.min_port = self.min_port.min(port);
        self.max_port = self.max_port.max(port);
        if let Some(prev) = self.last_port.replace(port) {
            self.deltas.add(prev, port);
        }
        if let Some(prev) = self.last_use.insert(port, ts) {
            let interval = ts.since(prev);
            self.min_reuse_interval_ns = Some(
                self.min_reuse_interval_ns
                    .map_or(interval, |m| m.min(interval)),
            );
            let secs = interval as f64 / NANOS_PER_SEC as f64;
            let bucket = INTERVAL_BUCKETS_S
                .iter()
                .position(|b| secs < *b)
                .unwrap_or(INTERVAL_BUCKETS_S.len());
            self.reuse_intervals[bucket] += 1;
        }
        if let Some(gap) = a.previous_attempt_gap_ns {
            self.min_same_destination_ns =
                Some(self.min_same_destination_ns.map_or(gap, |m| m.min(gap)));
        }
        self.peak_per_1s = self
            .peak_per_1s
            .max(slide(&mut self.window_1s, ts, NANOS_PER_SEC));
        self.peak_per_60s =
            self.peak_per_60s
                .max(slide(&mut self.window_60s, ts, 60 * NANOS_PER_SEC));
    }

    /// Attempts per second at the busiest minute (the sustained rate R of the field report's
    /// rule `MinTickBeforePortReuse / 1000 × R ≤ MaxSocketsInAllPools`).
    pub fn sustained_rate(&self) -> f64 {
        let span = self.last_ts.since(self.first_ts) as f64 / NANOS_PER_SEC as f64;
        if span >= 60.0 {
            self.peak_per_60s as f64 / 60.0
        } else if span > 0.0 {
            self.attempts as f64 / span.max(1.0)
        } else {
            self.attempts as f64
        }
    }

    /// Ports needed so that no port comes back inside TIME_WAIT at the sustained rate.
    pub fn pool_needed(&self, window_ns: i64) -> u64 {
        (self.sustained_rate() * window_ns as f64 / NANOS_PER_SEC as f64).ceil() as u64
    }

    /// The allocation pattern, judged only with enough attempts to see one (8 or more).
    pub fn pattern(&self, window_ns: i64) -> Option<Pattern> {
        if self.attempts < 8 {
            return None;
        }
        let recycled = u64::from(self.distinct_ports) * 2 <= self.attempts;
        let fast_return = self
            .min_reuse_interval_ns
            .is_some_and(|i| i < window_ns / 10);
        let steps = self.deltas.total().max(1) as f64;
        if recycled && fast_return {
            Some(Pattern::Pooled)
        } else if self.deltas.small_up as f64 / steps >= 0.6 {
            Some(Pattern::Sequential)
        } else {
            Some(Pattern::Random)
        }
    }
}

/// Pushes `ts` into a sliding window of `width` and returns how many timestamps it holds.
fn slide(window: &mut VecDeque<Ts>, ts: Ts, width: i64) -> u64 {
    window.push_back(ts);
    while window
        .front()
        .is_some_and(|first| ts.since(*first) >= width)
    {
        window.pop_front();
    }
    window.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::Outcome;
    use crate::tcp::{Endpoint, FrameRef, Seq};

    fn attempt(port: u16, ms: i64) -> Attempt {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let server = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 110,
        };
        let mut a = Attempt::from_syn(
            FrameRef::default(),
            Ts(ms * 1_000_000),
            Endpoint { ip, port },
            server,
            Seq(0),
        );
        a.outcome = Outcome::Established;
        a
    }

    fn source(ports: impl Iterator<Item = (u16, i64)>) -> SourcePorts {
        let mut s = SourcePorts::new("10.0.0.1".parse().unwrap(), Ts(0));
        for (port, ms) in ports {
            s.add(&attempt(port, ms));
        }
        s
    }

    const WINDOW: i64 = 240 * NANOS_PER_SEC;

    #[test]
    fn incrementing_ports_are_sequential_even_across_the_wrap() {
        let s = source((0..100).map(|i| (65_500u16.wrapping_add(i * 2), i64::from(i) * 500)));
        assert_eq!(s.pattern(WINDOW), Some(Pattern::Sequential));
        assert_eq!(s.distinct_ports, 100);
        assert_eq!(s.min_reuse_interval_ns, None);
    }

    #[test]
    fn a_small_recycled_set_is_pooled_with_its_minimum_interval() {
        let s = source((0..100).map(|i| (3000 + (i % 5) as u16 * 7, i64::from(i) * 300)));
        assert_eq!(s.pattern(WINDOW), Some(Pattern::Pooled));
        assert_eq!(s.min_reuse_interval_ns, Some(1_500_000_000));
        assert_eq!(s.distinct_ports, 5);
    }

    #[test]
    fn spread_ports_are_random() {
        let mut x = 12345u32;
        let s = source((0..200).map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (32768 + (x >> 17) as u16 % 28000, i64::from(i) * 100)
        }));
        assert_eq!(s.pattern(WINDOW), Some(Pattern::Random));
    }

    #[test]
    fn peak_rates_and_the_pool_needed() {
        // 2 attempts a second for 2 minutes.
        let s = source((0..240).map(|i| (1000 + i as u16, i64::from(i) * 500)));
        assert_eq!(s.peak_per_1s, 2);
        assert_eq!(s.peak_per_60s, 120);
        assert_eq!(s.pool_needed(WINDOW), 480);
    }
}
