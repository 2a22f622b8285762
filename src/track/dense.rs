//! A hash map for the tracker's large tables (issue 14): the entries live in one dense
//! vector, and the hash table holds only their 4-byte positions.
//!
//! A table whose entries come and go for ever cannot be filled past half its buckets (the
//! tombstones make hashbrown double it), so a map that keeps a 160-byte record in every
//! bucket pays about 380 bytes per record. Here a bucket is 5 bytes (a position and its
//! control byte) and the records are packed: about 12 bytes per record on top of the record
//! itself, plus its 8-byte hash, kept beside it so that nothing is hashed twice (a removal
//! moves the last record into the hole and fixes its one position by that hash; the queues
//! that hold hashes instead of keys find their entries by it; a resize rehashes nothing).
//! The vector grows in steps that never pass `limit` entries, so a full map is never a
//! doubling past its budget.

use std::hash::Hash;

use hashbrown::HashTable;

pub struct DenseMap<K, V> {
    index: HashTable<u32>,
    slots: Vec<(K, V)>,
    /// `hashes[i]` is the hash of `slots[i].0`.
    hashes: Vec<u64>,
    /// Most entries the map is expected to hold (the vector is not grown past it at once;
    /// more is allowed, one step at a time).
    limit: usize,
}

pub use crate::hash_of;

/// Entries the vector grows by at least (and starts with).
const FIRST_STEP: usize = 1024;

impl<K: Hash + Eq, V> DenseMap<K, V> {
    /// A map for at most about `limit` entries (the budget's capacity).
    pub fn new(limit: usize) -> DenseMap<K, V> {
        DenseMap {
            index: HashTable::new(),
            slots: Vec::new(),
            hashes: Vec::new(),
            // Positions are u32.
            limit: limit.min(u32::MAX as usize / 2),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Entries the vector has room for.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The position of `key`'s entry, found with its hash `hash`.
    pub fn position(&self, hash: u64, key: &K) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| slots[i as usize].0 == *key)
            .map(|&i| i as usize)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let i = self.position(hash_of(key), key)?;
        Some(&self.slots[i].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.position(hash_of(key), key)?;
        Some(&mut self.slots[i].1)
    }

    /// The entry at a position `position` returned (valid until the next insert or remove).
    pub fn at_mut(&mut self, position: usize) -> &mut V {
        &mut self.slots[position].1
    }

    /// Inserts `key`, known to be absent (its hash is `hash`); returns its value.
    pub fn insert_new(&mut self, hash: u64, key: K, value: V) -> &mut V {
        let position = self.slots.len();
        self.reserve_one();
        self.slots.push((key, value));
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.index
            .insert_unique(hash, position as u32, |&i| hashes[i as usize]);
        &mut self.slots[position].1
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_hashed(hash_of(&key), key, value)
    }

    /// `insert`, for a caller that has the key's hash already.
    pub fn insert_hashed(&mut self, hash: u64, key: K, value: V) -> Option<V> {
        match self.position(hash, &key) {
            Some(i) => Some(std::mem::replace(&mut self.slots[i].1, value)),
            None => {
                self.insert_new(hash, key, value);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slots = &self.slots;
        let found = self
            .index
            .find_entry(hash_of(key), |&i| slots[i as usize].0 == *key)
            .ok()?;
        let (position, _) = found.remove();
        Some(self.unlink(position as usize).1)
    }

    /// Removes the entry at `position`; the last entry moves into its place.
    pub fn remove_at(&mut self, position: usize) -> (K, V) {
        if let Ok(found) = self
            .index
            .find_entry(self.hashes[position], |&i| i as usize == position)
        {
            found.remove();
        }
        self.unlink(position)
    }

    /// Takes the entry at `position` (no longer indexed) out of the vector: the last entry
    /// moves into the hole, and its one index entry follows it.
    fn unlink(&mut self, position: usize) -> (K, V) {
        let last = self.slots.len() - 1;
        if position != last
            && let Some(i) = self
                .index
                .find_mut(self.hashes[last], |&i| i as usize == last)
        {
            *i = position as u32;
        }
        self.hashes.swap_remove(position);
        self.slots.swap_remove(position)
    }

    /// The position of an entry whose key hashes to `hash` and whose value passes `test`
    /// (for queues that hold a key's 8-byte hash instead of the key). The probe stops at the
    /// first match: a scan for every match would run each probe sequence to its end, which in
    /// a table churned under a flood is long (15 % of the flood's time).
    fn find_with_hash(&self, hash: u64, mut test: impl FnMut(&V) -> bool) -> Option<usize> {
        let (hashes, slots) = (&self.hashes, &self.slots);
        self.index
            .find(hash, |&i| {
                hashes[i as usize] == hash && test(&slots[i as usize].1)
            })
            .map(|&i| i as usize)
    }

    /// The position of an entry whose key hashes to `hash`. Two keys sharing all 64 bits of a
    /// hash are not expected; if they were, a queue entry would find one of them, and the
    /// flow it names is checked on its own deadline either way.
    pub fn position_with_hash(&self, hash: u64) -> Option<usize> {
        self.find_with_hash(hash, |_| true)
    }

    /// The entry at a position `position` or `position_with_hash` returned.
    pub fn at(&self, position: usize) -> (&K, &V) {
        let (k, v) = &self.slots[position];
        (k, v)
    }

    /// Whether an entry whose key hashes to `hash` satisfies `test`.
    pub fn any_with_hash(&self, hash: u64, test: impl FnMut(&V) -> bool) -> bool {
        self.find_with_hash(hash, test).is_some()
    }

    /// Removes the entries whose key hashes to `hash` and whose value satisfies `test`;
    /// returns how many.
    pub fn remove_with_hash(&mut self, hash: u64, mut test: impl FnMut(&V) -> bool) -> u64 {
        let mut removed = 0;
        while let Some(i) = self.find_with_hash(hash, &mut test) {
            self.remove_at(i);
            removed += 1;
        }
        removed
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|(k, v)| (k, v))
    }

    /// Room for one more entry, growing by at most the current size and not past `limit` in
    /// one step (a doubling past the budget would hold both copies for a moment).
    fn reserve_one(&mut self) {
        if self.slots.len() < self.slots.capacity() {
            return;
        }
        let step = crate::budget::growth(self.slots.len(), self.limit, FIRST_STEP);
        self.slots.reserve_exact(step);
        self.hashes.reserve_exact(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_hint_carries_the_hash_the_tables_index_by() {
        use crate::tcp::{Endpoint, FlowKey, KeyHint};
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        for (a, b) in [
            (ep("10.0.0.2", 40000), ep("10.0.0.1", 110)),
            (ep("10.0.0.1", 110), ep("10.0.0.2", 40000)),
            (ep("fe80::1", 5), ep("10.0.0.1", 5)),
        ] {
            let (key, src_is_lo) = FlowKey::new(a, b);
            let hint = KeyHint::of(a, b);
            assert_eq!(hint.hash, hash_of(&key));
            assert_eq!(hint.src_is_lo, src_is_lo);
            assert_eq!(FlowKey::with_hint(a, b, hint), key);
        }
    }

    #[test]
    fn entries_are_found_replaced_and_removed_with_the_moved_one_still_found() {
        let mut m: DenseMap<u32, u64> = DenseMap::new(100);
        for k in 0..50 {
            assert_eq!(m.insert(k, u64::from(k) * 10), None);
        }
        assert_eq!(m.insert(7, 1), Some(70));
        assert_eq!(m.len(), 50);
        // Removing from the middle moves the last entry (49) into the hole.
        assert_eq!(m.remove(&3), Some(30));
        assert_eq!(m.get(&49), Some(&490));
        assert_eq!(m.get(&3), None);
        assert_eq!(m.remove(&3), None);
        // Removing the last one moves nothing.
        let last = *m.iter().last().unwrap().0;
        assert!(m.remove(&last).is_some());
        for k in (0..50).filter(|k| *k != 3 && *k != last) {
            let want = if k == 7 { 1 } else { u64::from(k) * 10 };
            assert_eq!(m.get(&k), Some(&want), "key {k}");
        }
        assert_eq!(m.len(), 48);
        // By hash: only the entries whose value passes the test.
        let h = hash_of(&7u32);
        assert!(m.any_with_hash(h, |v| *v == 1));
        assert!(!m.any_with_hash(h, |v| *v == 2));
        assert_eq!(m.remove_with_hash(h, |v| *v == 2), 0);
        let at = m.position_with_hash(h).unwrap();
        assert_eq!(m.at(at), (&7, &1));
        assert_eq!(m.remove_with_hash(h, |v| *v == 1), 1);
        assert_eq!(m.get(&7), None);
    }

    #[test]
    fn churn_past_the_limit_keeps_every_key_findable_and_the_vector_near_the_limit() {
        let limit = 3000;
        let mut m: DenseMap<u64, u64> = DenseMap::new(limit);
        for k in 0..200_000u64 {
            m.insert(k, k);
            if k >= limit as u64 {
                assert_eq!(m.remove(&(k - limit as u64)), Some(k - limit as u64));
            }
        }
        assert_eq!(m.len(), limit);
        for k in 200_000 - limit as u64..200_000 {
            assert_eq!(m.get(&k), Some(&k));
        }
        assert!(m.capacity() <= limit + FIRST_STEP);
    }
}
