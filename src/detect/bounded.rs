//! A map with a capacity from the memory budget (issue 14 item 1): exact state for the
//! entries that matter, a summary for the rest. When it is full, the less important half is
//! folded into `others` (their counts stay in every total) and counted in `dropped`; what is
//! kept is what matters most (hosts with failures, then the busiest: a top-k). Eviction is
//! amortised O(log n) per insert, deterministic (ties go to the older entry), and never sized
//! from anything read from a file.

use std::hash::Hash;

use crate::FxIndexMap;

/// What a bounded map needs of its values.
pub trait Entry: Clone {
    /// Higher is kept longer.
    fn rank(&self) -> u64;
    fn merge(&mut self, other: &Self);
}

#[derive(Clone, Debug)]
pub struct Bounded<K, V> {
    map: FxIndexMap<K, V>,
    capacity: usize,
    /// Everything folded out of the map, merged into one value.
    pub others: Option<V>,
    /// Entries folded out.
    pub dropped: u64,
}

impl<K: Hash + Eq + Clone, V: Entry> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        Bounded {
            map: FxIndexMap::default(),
            capacity: capacity.max(2),
            others: None,
            dropped: 0,
        }
    }

    /// The entry for `key`, made with `new` if absent (evicting first when full).
    /// An entry already there costs one lookup (the judging makes a few per attempt: issue 12).
    pub fn entry(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        if let Some(at) = self.map.get_index_of(&key) {
            return &mut self.map[at];
        }
        if self.map.len() >= self.capacity {
            self.evict();
        }
        self.reserve_one();
        self.map.entry(key).or_insert_with(new)
    }

    /// Room for one more entry: the entries' vector doubles, but never past the capacity
    /// (a doubling to 64 k entries for 34 k hosts left 40 % of it unused, issue 14).
    fn reserve_one(&mut self) {
        let len = self.map.len();
        if len < self.map.capacity() {
            return;
        }
        self.map
            .reserve_exact(crate::budget::growth(len, self.capacity, 64));
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Takes the exact entries out, leaving the summary, the count and the capacity.
    pub fn take(&mut self) -> FxIndexMap<K, V> {
        std::mem::take(&mut self.map)
    }

    /// Puts entries taken out with `take` back (or any entries: past the capacity, the
    /// lower-ranked ones are folded into the summary).
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (K, V)>) {
        for (k, v) in entries {
            match self.map.get_mut(&k) {
                Some(mine) => mine.merge(&v),
                None => {
                    self.entry(k, || v);
                }
            }
        }
    }

    /// Folds the lower-ranked half into `others`.
    fn evict(&mut self) {
        let keep = self.capacity / 2;
        let mut ranks: Vec<(u64, usize)> = self
            .map
            .values()
            .enumerate()
            .map(|(i, v)| (v.rank(), usize::MAX - i))
            .collect();
        let cut = ranks.len() - keep;
        ranks.select_nth_unstable(cut);
        let threshold = ranks[cut];
        let mut index = 0;
        let (mut others, mut dropped) = (self.others.take(), 0);
        self.map.retain(|_, v| {
            let key = (v.rank(), usize::MAX - index);
            index += 1;
            let kept = key >= threshold;
            if !kept {
                dropped += 1;
                match others.as_mut() {
                    Some(o) => o.merge(v),
                    None => others = Some(v.clone()),
                }
            }
            kept
        });
        self.others = others;
        self.dropped += dropped;
    }

    /// Adds another map's entries (and summaries), evicting past the capacity.
    pub fn merge(&mut self, other: &Bounded<K, V>) {
        for (k, v) in &other.map {
            match self.map.get_mut(k) {
                Some(mine) => mine.merge(v),
                None => {
                    self.entry(k.clone(), || v.clone());
                }
            }
        }
        if let Some(o) = &other.others {
            match self.others.as_mut() {
                Some(mine) => mine.merge(o),
                None => self.others = Some(o.clone()),
            }
        }
        self.dropped += other.dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Entry for u64 {
        fn rank(&self) -> u64 {
            *self
        }
        fn merge(&mut self, other: &u64) {
            *self += other;
        }
    }

    #[test]
    fn a_full_map_keeps_the_heaviest_and_sums_the_rest() {
        let mut m: Bounded<u32, u64> = Bounded::new(10);
        for k in 0..1000u32 {
            *m.entry(k, || 0) += u64::from(k % 97 == 0) * 1000 + 1;
        }
        assert!(m.len() <= 10);
        // The heavy entries (multiples of 97) fill the kept half.
        assert!(m.iter().filter(|(_, v)| **v > 1).count() >= 5);
        let kept: u64 = m.iter().map(|(_, v)| *v).sum();
        assert_eq!(kept + m.others.unwrap(), 1000 + 11 * 1000);
        assert_eq!(m.dropped as usize + m.len(), 1000);
    }

    #[test]
    fn the_entries_vector_never_grows_past_the_capacity() {
        let mut m: Bounded<u32, u64> = Bounded::new(1000);
        for k in 0..5000u32 {
            *m.entry(k, || 0) += 1;
            assert!(m.map.capacity() <= 1000 + 64, "{k}: {}", m.map.capacity());
        }
    }
}
