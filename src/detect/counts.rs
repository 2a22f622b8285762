//! Small mergeable accumulators the detectors share: counts by outcome, ranges of gaps and
//! log-scaled histograms. Each `merge` is exact: counts add, ranges take min/max.

use crate::attempt::Outcome;
use crate::time::NANOS_PER_SEC;

/// Counts over a set of attempts, by outcome (indexed by `Outcome as usize`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts(pub [u64; 6]);

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        self.0[outcome as usize] += 1;
    }
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    /// Attempts a user feels as failed (refused, ICMP error, challenged, unanswered).
    pub fn failed(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| self.get(*o))
            .sum()
    }
    pub fn merge(&mut self, other: &OutcomeCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

/// The smallest and largest of some gaps (nanoseconds); 16 bytes (no `Option`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GapRange {
    lo: i64,
    hi: i64,
}

impl Default for GapRange {
    fn default() -> GapRange {
        GapRange {
            lo: i64::MAX,
            hi: i64::MIN,
        }
    }
}

impl GapRange {
    pub const EMPTY: GapRange = GapRange {
        lo: i64::MAX,
        hi: i64::MIN,
    };

    pub fn add(&mut self, gap: i64) {
        self.lo = self.lo.min(gap);
        self.hi = self.hi.max(gap);
    }
    pub fn merge(&mut self, other: &GapRange) {
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
    }
    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }
    pub fn min(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.lo)
    }
    pub fn max(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.hi)
    }
    pub fn both(&self) -> Option<(i64, i64)> {
        (!self.is_empty()).then_some((self.lo, self.hi))
    }
}

/// `min` of two optional values (None is "nothing seen").
pub fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `max` of two optional values.
pub fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Upper bounds (seconds) of the buckets of a duration histogram; the last bucket is
/// "this long or longer". Fixed edges, so two histograms always merge exactly.
pub const DURATION_EDGES_S: [f64; 10] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 240.0];

/// How many durations fell in each bucket of DURATION_EDGES_S (plus one for the rest);
/// 32-bit counts (saturating), to keep per-host state small.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Histogram(pub [u32; DURATION_EDGES_S.len() + 1]);

impl Histogram {
    pub fn add(&mut self, nanos: i64) {
        let b = &mut self.0[bucket(nanos)];
        *b = b.saturating_add(1);
    }
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_add(b);
        }
    }
    pub fn total(&self) -> u64 {
        self.0.iter().map(|n| u64::from(*n)).sum()
    }
}

fn bucket(nanos: i64) -> usize {
    DURATION_EDGES_S
        .iter()
        .position(|edge| (nanos as f64) < edge * NANOS_PER_SEC as f64)
        .unwrap_or(DURATION_EDGES_S.len())
}

/// A distribution of durations: how many, the extremes, and the histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Distribution {
    pub range: GapRange,
    pub histogram: Histogram,
}

impl Distribution {
    pub const EMPTY: Distribution = Distribution {
        range: GapRange::EMPTY,
        histogram: Histogram([0; DURATION_EDGES_S.len() + 1]),
    };

    pub fn add(&mut self, nanos: i64) {
        self.range.add(nanos);
        self.histogram.add(nanos);
    }
    pub fn merge(&mut self, other: &Distribution) {
        self.range.merge(&other.range);
        self.histogram.merge(&other.histogram);
    }
    pub fn count(&self) -> u64 {
        self.histogram.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    #[test]
    fn merged_accumulators_equal_one_fed_with_everything() {
        let (mut a, mut b, mut all) = (
            Distribution::default(),
            Distribution::default(),
            Distribution::default(),
        );
        for (i, gap) in [S / 20, 3 * S, 250 * S, S, 45 * S].into_iter().enumerate() {
            if i % 2 == 0 {
                a.add(gap)
            } else {
                b.add(gap)
            }
            all.add(gap);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(all.range.both(), Some((S / 20, 250 * S)));
        assert_eq!(all.histogram.0[0], 1u32);
        assert_eq!(all.histogram.0[DURATION_EDGES_S.len()], 1);
    }
}
