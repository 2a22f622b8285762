//! Attempts and failures over time per server, sparse and bounded (issue 14: histories sized
//! by capture time). Buckets are aligned to the Unix epoch and hold whole minutes, doubled in
//! width whenever more than MAX_BUCKETS have attempts, so one SYN now and one 99,999 minutes
//! later cost two buckets, not 100,000. Two series merge exactly: the wider width wins, then
//! buckets add (the whole run's series would have reached the same width).

use crate::time::{NANOS_PER_SEC, Ts};

/// Most non-empty buckets a series keeps before it doubles its bucket width.
pub const MAX_BUCKETS: usize = 64;
const MINUTE_NS: i64 = 60 * NANOS_PER_SEC;

/// One bucket: its start (in minutes since the epoch), attempts and failed attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub minute: i64,
    pub attempts: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Minutes {
    /// Width of a bucket: 2^level minutes.
    level: u32,
    /// Non-empty buckets, in time order (attempts arrive nearly in order: the last buckets
    /// are searched from the end).
    buckets: Vec<Bucket>,
}

impl Minutes {
    pub fn width_minutes(&self) -> i64 {
        1 << self.level
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    fn start(&self, minute: i64) -> i64 {
        minute.div_euclid(self.width_minutes()) * self.width_minutes()
    }

    pub fn add(&mut self, ts: Ts, failed: bool) {
        let minute = ts.0.div_euclid(MINUTE_NS);
        self.put(Bucket {
            minute,
            attempts: 1,
            failed: u64::from(failed),
        });
    }

    fn put(&mut self, b: Bucket) {
        let start = self.start(b.minute);
        // Search from the end: the bucket is almost always the last one.
        let at = self.buckets.iter().rposition(|x| x.minute <= start);
        match at {
            Some(i) if self.buckets[i].minute == start => {
                self.buckets[i].attempts += b.attempts;
                self.buckets[i].failed += b.failed;
            }
            at => {
                let index = at.map_or(0, |i| i + 1);
                self.buckets.insert(index, Bucket { minute: start, ..b });
                while self.buckets.len() > MAX_BUCKETS {
                    self.coarsen();
                }
            }
        }
    }

    /// Doubles the bucket width, adding neighbours that now share a bucket.
    fn coarsen(&mut self) {
        self.level += 1;
        let old = std::mem::take(&mut self.buckets);
        for b in old {
            let start = self.start(b.minute);
            match self.buckets.last_mut() {
                Some(last) if last.minute == start => {
                    last.attempts += b.attempts;
                    last.failed += b.failed;
                }
                _ => self.buckets.push(Bucket { minute: start, ..b }),
            }
        }
    }

    pub fn merge(&mut self, other: &Minutes) {
        while self.level < other.level {
            self.coarsen();
        }
        for b in &other.buckets {
            self.put(*b);
        }
    }

    pub fn any_failed(&self) -> bool {
        self.buckets.iter().any(|b| b.failed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_minute(m: i64) -> Ts {
        Ts(m * MINUTE_NS + 1)
    }

    #[test]
    fn a_sparse_history_costs_its_non_empty_buckets_only() {
        let mut m = Minutes::default();
        m.add(at_minute(0), false);
        for port in 0..5_000 {
            m.add(at_minute(99_999).add_nanos(port), true);
        }
        assert_eq!(m.buckets().len(), 2);
        assert_eq!(m.buckets()[1].failed, 5_000);
    }

    #[test]
    fn a_long_history_doubles_its_width_and_merges_exactly() {
        let (mut whole, mut a, mut b) =
            (Minutes::default(), Minutes::default(), Minutes::default());
        for minute in 0..500 {
            let part = if minute % 3 == 0 { &mut a } else { &mut b };
            part.add(at_minute(minute), minute % 7 == 0);
            whole.add(at_minute(minute), minute % 7 == 0);
        }
        assert!(whole.buckets().len() <= MAX_BUCKETS);
        assert_eq!(whole.width_minutes(), 8);
        a.merge(&b);
        assert_eq!(a, whole);
    }
}
