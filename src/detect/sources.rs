//! Source-port allocation per SYN sender, in constant state per source (issue 12 item 2):
//! how many ports and how they step from one attempt to the next, how long a port rests
//! between the end of its previous use and its next SYN (the tracker measures both per
//! attempt), how fast the source opens connections; and from that the pattern.
//!
//! Merging is exact for shards split by client address (a source's attempts stay together).
//! Merging two files of the same source is not: the step between the last port of one and
//! the first of the other is lost, a port first used in each counts twice in
//! `distinct_ports`, and the busiest second or minute is taken per file.

use serde::Serialize;

use super::counts::{Distribution, GapRange, min_opt};
use super::schedule::{Schedule, Schedules};
use crate::attempt::Attempt;
use crate::time::{NANOS_PER_SEC, Ts};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Mostly small positive steps (1..8), wrapping at the end of the range: a normal stack.
    Sequential,
    /// Steps spread over the range (RFC 6056-style randomisation).
    Random,
    /// A small set of ports recycled, each back long before TIME_WAIT could have ended
    /// (ISA 2000's MinTickBeforePortReuse).
    Pooled,
}

/// Steps between consecutive attempts' source ports, as a signed 16-bit difference
/// (32-bit counts, saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deltas {
    pub zero: u32,
    /// +1 to +8.
    pub small_up: u32,
    /// +9 to +256.
    pub medium_up: u32,
    /// -1 to -256.
    pub small_down: u32,
    /// |step| > 256.
    pub large: u32,
}

impl Deltas {
    fn add(&mut self, from: u16, to: u16) {
        let n = match i32::from(to.wrapping_sub(from) as i16) {
            0 => &mut self.zero,
            1..=8 => &mut self.small_up,
            9..=256 => &mut self.medium_up,
            -256..=-1 => &mut self.small_down,
            _ => &mut self.large,
        };
        *n = n.saturating_add(1);
    }
    fn merge(&mut self, o: &Deltas) {
        self.zero = self.zero.saturating_add(o.zero);
        self.small_up = self.small_up.saturating_add(o.small_up);
        self.medium_up = self.medium_up.saturating_add(o.medium_up);
        self.small_down = self.small_down.saturating_add(o.small_down);
        self.large = self.large.saturating_add(o.large);
    }
    pub fn total(&self) -> u64 {
        [
            self.zero,
            self.small_up,
            self.medium_up,
            self.small_down,
            self.large,
        ]
        .iter()
        .map(|n| u64::from(*n))
        .sum()
    }
}

/// The busiest aligned interval of some width: the current one and the peak so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peak {
    index: i64,
    count: u32,
    peak: u32,
}

impl Peak {
    fn add(&mut self, ts: Ts, width_ns: i64) {
        let index = ts.0.div_euclid(width_ns);
        if self.index == index && self.count > 0 {
            self.count = self.count.saturating_add(1);
        } else if index > self.index || self.count == 0 {
            (self.index, self.count) = (index, 1);
        }
        self.peak = self.peak.max(self.count);
    }
    fn merge(&mut self, o: &Peak) {
        if self.index == o.index {
            self.count = self.count.saturating_add(o.count);
        } else if o.index > self.index {
            (self.index, self.count) = (o.index, o.count);
        }
        self.peak = self.peak.max(o.peak).max(self.count);
    }
    pub fn peak(&self) -> u64 {
        u64::from(self.peak)
    }
}

/// What one client felt on its failed or challenged attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Felt {
    pub failed: u64,
    pub max_wait_ns: i64,
    pub total_wait_ns: i64,
}

impl Felt {
    pub fn mean_wait_ns(&self) -> i64 {
        self.total_wait_ns / self.failed.max(1) as i64
    }
}

/// How soon a source's ports came back: kept only for sources that reuse ports at all
/// (allocated on the first reuse), so an ordinary client costs nothing here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returns {
    /// SYN to SYN on the same port, to any destination.
    pub reuse_interval: Distribution,
    /// SYN to SYN on the same 4-tuple.
    pub same_destination: GapRange,
    /// From the end of the port's previous use to its next SYN (issue 10 item 3).
    pub port_idle: Distribution,
}

const NO_RETURNS: Returns = Returns {
    reuse_interval: Distribution::EMPTY,
    same_destination: GapRange::EMPTY,
    port_idle: Distribution::EMPTY,
};

/// Everything kept per SYN sender: about 150 bytes, whatever its traffic (and 140 more for
/// one whose ports come back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceTally {
    pub attempts: u64,
    /// Attempts whose port the tracker had not seen this source use before.
    pub distinct_ports: u64,
    pub min_port: u16,
    pub max_port: u16,
    first_port: Option<u16>,
    last_port: Option<u16>,
    pub deltas: Deltas,
    pub per_second: Peak,
    pub per_minute: Peak,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub schedules: Schedules,
    pub felt: Felt,
    /// Failed attempts whose cause was the server's TIME_WAIT (challenged attempts that got
    /// in on a later SYN are not failures): a source that matters.
    pub time_wait_failures: u64,
    returns: Option<Box<Returns>>,
}

impl SourceTally {
    pub fn new(ts: Ts) -> SourceTally {
        SourceTally {
            attempts: 0,
            distinct_ports: 0,
            min_port: u16::MAX,
            max_port: 0,
            first_port: None,
            last_port: None,
            deltas: Deltas::default(),
            per_second: Peak::default(),
            per_minute: Peak::default(),
            first_ts: ts,
            last_ts: ts,
            schedules: Schedules::default(),
            felt: Felt::default(),
            time_wait_failures: 0,
            returns: None,
        }
    }

    /// How soon ports came back (empty when none did).
    pub fn returns(&self) -> &Returns {
        self.returns.as_deref().unwrap_or(&NO_RETURNS)
    }

    fn returns_mut(&mut self) -> &mut Returns {
        self.returns.get_or_insert_with(|| Box::new(NO_RETURNS))
    }

    pub fn add(&mut self, a: &Attempt, time_wait: bool) {
        let (port, ts) = (a.client.port, a.ts);
        self.attempts += 1;
        self.first_ts = self.first_ts.min(ts);
        self.last_ts = self.last_ts.max(ts);
        self.distinct_ports += u64::from(a.port_previous_syn_ns.is_none());
        self.min_port = self.min_port.min(port);
        self.max_port = self.max_port.max(port);
        if let Some(prev) = self.last_port.replace(port) {
            self.deltas.add(prev, port);
        }
        self.first_port.get_or_insert(port);
        if let Some(interval) = a.port_previous_syn_ns {
            self.returns_mut().reuse_interval.add(interval);
        }
        if let Some(gap) = a.previous_attempt_gap_ns {
            self.returns_mut().same_destination.add(gap);
        }
        if let Some(idle) = a.port_idle_ns {
            self.returns_mut().port_idle.add(idle);
        }
        self.per_second.add(ts, NANOS_PER_SEC);
        self.per_minute.add(ts, 60 * NANOS_PER_SEC);
        if let Some(s) = Schedule::of(a) {
            self.schedules.add(s);
        }
        if a.outcome.is_failure() || a.challenge_acks > 0 {
            let wait = a.last_syn_ts.since(a.ts).max(0);
            self.felt.failed += 1;
            self.felt.max_wait_ns = self.felt.max_wait_ns.max(wait);
            self.felt.total_wait_ns = self.felt.total_wait_ns.saturating_add(wait);
        }
        self.time_wait_failures += u64::from(time_wait && a.outcome.is_failure());
    }

    /// Adds another part of the same source's attempts (a shard or a later file).
    pub fn merge(&mut self, o: &SourceTally) {
        // The step from the earlier part's last port to the later part's first.
        let (earlier_last, later_first) = if o.first_ts >= self.first_ts {
            (self.last_port, o.first_port)
        } else {
            (o.last_port, self.first_port)
        };
        if let (Some(a), Some(b)) = (earlier_last, later_first) {
            self.deltas.add(a, b);
        }
        if o.last_ts >= self.last_ts {
            self.last_port = o.last_port.or(self.last_port);
        }
        if o.first_ts < self.first_ts {
            self.first_port = o.first_port.or(self.first_port);
        }
        self.attempts += o.attempts;
        self.distinct_ports += o.distinct_ports;
        self.min_port = self.min_port.min(o.min_port);
        self.max_port = self.max_port.max(o.max_port);
        self.deltas.merge(&o.deltas);
        if let Some(r) = &o.returns {
            let mine = self.returns_mut();
            mine.reuse_interval.merge(&r.reuse_interval);
            mine.same_destination.merge(&r.same_destination);
            mine.port_idle.merge(&r.port_idle);
        }
        self.per_second.merge(&o.per_second);
        self.per_minute.merge(&o.per_minute);
        self.first_ts = self.first_ts.min(o.first_ts);
        self.last_ts = self.last_ts.max(o.last_ts);
        self.schedules.merge(&o.schedules);
        self.felt.failed += o.felt.failed;
        self.felt.max_wait_ns = self.felt.max_wait_ns.max(o.felt.max_wait_ns);
        self.felt.total_wait_ns = self.felt.total_wait_ns.saturating_add(o.felt.total_wait_ns);
        self.time_wait_failures += o.time_wait_failures;
    }

    /// Attempts per second at the busiest minute (the sustained rate R of the field report's
    /// rule `MinTickBeforePortReuse / 1000 × R ≤ MaxSocketsInAllPools`).
    pub fn sustained_rate(&self) -> f64 {
        let span = self.last_ts.since(self.first_ts) as f64 / NANOS_PER_SEC as f64;
        if span >= 60.0 {
            self.per_minute.peak() as f64 / 60.0
        } else if span > 0.0 {
            self.attempts as f64 / span.max(1.0)
        } else {
            self.attempts as f64
        }
    }

    /// Ports needed so that no port comes back within `rest_ns` at the sustained rate.
    pub fn pool_needed(&self, rest_ns: i64) -> u64 {
        (self.sustained_rate() * rest_ns as f64 / NANOS_PER_SEC as f64).ceil() as u64
    }

    /// The shortest time a port rested before its next SYN, else the shortest SYN-to-SYN.
    pub fn fastest_return_ns(&self) -> Option<i64> {
        min_opt(
            self.returns().port_idle.range.min(),
            self.returns().reuse_interval.range.min(),
        )
    }

    /// The allocation pattern, judged only with enough attempts to see one (8 or more).
    ///
    /// Pooled: ports come back while TIME_WAITs could still hold them, again and again. At
    /// least a tenth of the attempts (and 3) reuse a port the source used before, most of
    /// those reuses come within 60 s of the port's previous connection (Linux's TIME_WAIT,
    /// the shortest common one) and the fastest within 30 s (Windows' shortest). An
    /// operating system's allocator brings a port back only after cycling its range (a
    /// sequential one) or by chance (a random one: reuses are rare and spread out), so
    /// neither looks like this unless it cycles a small range in seconds, which collides
    /// the same way. Judged without `--time-wait`, so a wrong window does not change it.
    pub fn pattern(&self, _window_ns: i64) -> Option<Pattern> {
        if self.attempts < 8 {
            return None;
        }
        let repeats = self.attempts.saturating_sub(self.distinct_ports);
        let idle = &self.returns().port_idle;
        let within = |secs: f64| -> u64 {
            super::counts::DURATION_EDGES_S
                .iter()
                .zip(idle.histogram.0)
                .filter(|(edge, _)| **edge <= secs)
                .map(|(_, n)| u64::from(n))
                .sum()
        };
        let quick = idle.count() > 0 && within(60.0) * 2 >= idle.count();
        let fastest = self
            .fastest_return_ns()
            .is_some_and(|m| m < 30 * NANOS_PER_SEC);
        let steps = self.deltas.total().max(1) as f64;
        if repeats >= 3 && repeats * 10 >= self.attempts && quick && fastest {
            Some(Pattern::Pooled)
        } else if self.deltas.small_up as f64 / steps >= 0.6 {
            Some(Pattern::Sequential)
        } else {
            Some(Pattern::Random)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::Outcome;
    use crate::tcp::{Endpoint, FrameRef, Seq};
    use std::collections::HashMap;

    const WINDOW: i64 = 240 * NANOS_PER_SEC;

    /// Attempts (port, ms); each port's previous use ended 100 ms after its SYN.
    fn source(ports: impl Iterator<Item = (u16, i64)>) -> SourceTally {
        let mut last: HashMap<u16, i64> = HashMap::new();
        let mut s = SourceTally::new(Ts(0));
        for (port, ms) in ports {
            let ts = Ts(ms * 1_000_000);
            let ep = |ip: &str, port| Endpoint {
                ip: ip.parse().unwrap(),
                port,
            };
            let mut a = Attempt::from_syn(
                FrameRef::default(),
                ts,
                ep("10.0.0.1", port),
                ep("10.0.0.2", 110),
                Seq(0),
            );
            a.outcome = Outcome::Established;
            if let Some(prev) = last.insert(port, ms) {
                a.port_previous_syn_ns = Some((ms - prev) * 1_000_000);
                a.port_idle_ns = Some((ms - prev - 100) * 1_000_000);
            }
            s.add(&a, false);
        }
        s
    }

    #[test]
    fn incrementing_ports_are_sequential_even_across_the_wrap() {
        let s = source((0..100).map(|i| (65_500u16.wrapping_add(i * 2), i64::from(i) * 500)));
        assert_eq!(s.pattern(WINDOW), Some(Pattern::Sequential));
        assert_eq!(s.distinct_ports, 100);
        assert_eq!(s.returns().reuse_interval.range.min(), None);
    }

    #[test]
    fn a_small_recycled_set_is_pooled_with_its_idle_time() {
        let s = source((0..100).map(|i| (3000 + (i % 5) as u16 * 7, i64::from(i) * 300)));
        assert_eq!(s.pattern(WINDOW), Some(Pattern::Pooled));
        assert_eq!(s.returns().reuse_interval.range.min(), Some(1_500_000_000));
        assert_eq!(s.returns().port_idle.range.min(), Some(1_400_000_000));
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
        assert_eq!(s.per_second.peak(), 2);
        assert_eq!(s.per_minute.peak(), 120);
        assert_eq!(s.pool_needed(WINDOW), 480);
    }

    #[test]
    fn two_halves_merge_into_the_whole() {
        let all: Vec<(u16, i64)> = (0..100)
            .map(|i| (3000 + (i % 5) as u16, i64::from(i) * 700))
            .collect();
        let whole = source(all.iter().copied());
        let mut first = source(all[..50].iter().copied());
        // The second half as a later file would see it: ports first used again count anew,
        // so compare what does merge exactly.
        let second = source(all[50..].iter().copied());
        first.merge(&second);
        assert_eq!(first.attempts, whole.attempts);
        assert_eq!(first.deltas, whole.deltas);
        // The busiest minute straddles the two parts: taken per part (documented above).
        assert!(first.per_minute.peak() <= whole.per_minute.peak());
        assert_eq!(
            (first.min_port, first.max_port),
            (whole.min_port, whole.max_port)
        );
    }
}
