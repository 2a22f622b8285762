//! Memory budgets (issue 14): every structure that grows with the input (4-tuples, attempts
//! waiting to be decided, ports, hosts, servers, minutes) has a capacity in entries, derived
//! from one byte budget (`--memory`). A structure at its capacity drops or summarises its
//! oldest or least useful entries and counts what it dropped in [`Dropped`], so the report
//! can say so. No capacity is ever sized from a length or count read from a file.

/// The default byte budget for the analysis state.
pub const DEFAULT_BYTES: u64 = 192 << 20;

/// Capacities in entries. Each is the budget's share for that structure divided by what one
/// entry costs (measured, including hash-table overhead, rounded up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// The byte budget these capacities were derived from.
    pub bytes: u64,
    /// Live 4-tuples with full state (the tracker's flow table).
    pub flows: usize,
    /// Attempts waiting to be decided (the tracker's reorder queue).
    pub pending: usize,
    /// Compact records of ended connections kept for the long reuse memory.
    pub archive: usize,
    /// (client ip, port) uses remembered for port idle times.
    pub ports: usize,
    /// Evidence entries (who reused into whose TIME_WAIT, who dropped SYNs silently).
    pub evidence: usize,
    /// Hosts and servers with exact per-host state in the diagnosis.
    pub hosts: usize,
    /// Fingerprints of control segments kept to recognise exact copies (a fixed table).
    pub fingerprints: usize,
}

/// Bytes one entry of each structure costs (an estimate for sizing; the benchmark's peak
/// RSS figures check it).
///
/// Measured for the tracker's (issue 12): a flow is a 40-byte key and a 128-byte slot in a
/// hash table plus a 48-byte expiry entry and its 136-byte connection; a pending attempt 456
/// bytes in a ring buffer; a long-memory record 160 bytes plus its 48-byte order entry; a
/// port use 88 bytes plus a 32-byte order entry (up to twice as many).
///
/// The three hash tables that are churned for ever (flows, port uses, long memory: entries
/// removed as others come) are sized as [`table`] says, bucket by bucket: an estimate per
/// entry at 7/8 load was wrong by up to 3 times (issue 14: with 1 M source addresses the
/// flow table's 188 k entries took 127 MiB, not its 58 MiB share).
mod cost {
    /// Per bucket: key, value and control byte, rounded up to 8. Beside the table, each flow
    /// has a 48-byte expiry entry and, when connected, its 136-byte connection.
    pub const FLOW_SLOT: u64 = 176;
    pub const PENDING: u64 = 480;
    /// Beside the table, a 48-byte order entry per record.
    pub const ARCHIVE_SLOT: u64 = 168;
    /// Beside the table, a 32-byte order entry per use (up to twice as many).
    pub const PORT_SLOT: u64 = 96;
    pub const EVIDENCE: u64 = 64;
    pub const HOST: u64 = 1024;
    pub const FINGERPRINT: u64 = 8;
}

/// A hash table's bucket count is a power of two, and a table whose entries are removed and
/// inserted for ever (tombstones) keeps its size only while at most half its capacity (7/16
/// of its buckets) is used: past that, hashbrown's rehash doubles it instead of cleaning it
/// in place, and for a moment holds both. So a churned table's entries are capped at 7/16
/// of the largest bucket count whose slots fit its share: it grows up to that size and
/// never past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    /// Buckets the table reaches at most.
    pub buckets: u64,
    /// Most entries held.
    pub entries: usize,
}

impl Table {
    /// For slots of `slot` bytes within `bytes` (at least 2,048 buckets). Two entries of
    /// slack: a structure may insert before it evicts.
    pub fn within(bytes: u64, slot: u64) -> Table {
        let mut buckets: u64 = 2048;
        while (buckets * 2).saturating_mul(slot) <= bytes {
            buckets *= 2;
        }
        Table {
            buckets,
            entries: usize::try_from(buckets / 16 * 7 - 2).unwrap_or(usize::MAX),
        }
    }
}

impl Budgets {
    /// Capacities for a byte budget, split between the structures in fixed shares.
    pub fn from_bytes(bytes: u64) -> Budgets {
        let share = |percent: u64, cost: u64| -> usize {
            let n = bytes / 100 * percent / cost;
            usize::try_from(n.max(1024)).unwrap_or(usize::MAX)
        };
        let table = |percent: u64, slot: u64| -> usize {
            Table::within(bytes / 100 * percent, slot).entries
        };
        Budgets {
            bytes,
            flows: table(30, cost::FLOW_SLOT),
            pending: share(25, cost::PENDING),
            archive: table(15, cost::ARCHIVE_SLOT),
            ports: table(10, cost::PORT_SLOT),
            evidence: share(5, cost::EVIDENCE),
            hosts: share(15, cost::HOST),
            // Outside the shares above: a fixed table, 2 % of the budget.
            fingerprints: share(2, cost::FINGERPRINT),
        }
    }
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets::from_bytes(DEFAULT_BYTES)
    }
}

/// What the budgets made the analysis drop or decide early, per structure. Every non-zero
/// count is reported (capture quality, warnings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// 4-tuples evicted before their retention horizon (their later reuses go unseen).
    pub flows: u64,
    /// Attempts decided before their quiet period ended (a late retransmission is then a
    /// late SYN, counted on no attempt).
    pub pending: u64,
    /// Ended connections forgotten by the long reuse memory before its horizon.
    pub archive: u64,
    /// Port uses forgotten before their horizon (idle times not measured).
    pub ports: u64,
    /// Evidence not recorded because its table was full.
    pub evidence: u64,
    /// Hosts summarised instead of tracked exactly.
    pub hosts: u64,
}

impl Dropped {
    pub fn any(&self) -> bool {
        *self != Dropped::default()
    }

    /// Adds another shard's counts.
    pub fn merge(&mut self, other: &Dropped) {
        self.flows += other.flows;
        self.pending += other.pending;
        self.archive += other.archive;
        self.ports += other.ports;
        self.evidence += other.evidence;
        self.hosts += other.hosts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_grow_with_the_budget_and_never_vanish() {
        let small = Budgets::from_bytes(0);
        assert_eq!(small.flows, 894);
        assert_eq!(small.pending, 1024);
        let default = Budgets::default();
        let double = Budgets::from_bytes(2 * DEFAULT_BYTES);
        assert!(double.pending >= 2 * default.pending - 1);
        assert!(double.flows > default.flows);
        assert!(default.pending > 100_000);
    }

    #[test]
    fn a_churned_table_never_grows_past_the_buckets_of_its_share() {
        for bytes in [1u64 << 20, 58 << 20, 1 << 32] {
            let t = Table::within(bytes, 176);
            assert!(
                t.buckets * 176 <= bytes && t.buckets.is_power_of_two(),
                "{t:?}"
            );
        }
        // The same in hashbrown: churned far past its size at its cap, a table stays within
        // the buckets its share pays for.
        let t = Table::within(1 << 20, 16);
        let mut map = std::collections::HashMap::new();
        for i in 0..(20 * t.entries) {
            map.insert(i, i);
            if map.len() > t.entries {
                map.remove(&(i - t.entries));
            }
            // Right after a doubling its capacity would be 7/8 of twice the buckets.
            assert!(map.capacity() as u64 <= t.buckets / 8 * 7, "{i}: {t:?}");
        }
        assert!(t.buckets * 16 <= 1 << 20);
    }
}
