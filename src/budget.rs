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
/// hash table (buckets a power of two, at most 7/8 full) plus a 48-byte expiry entry; a
/// pending attempt 448 bytes in a ring buffer (a power of two); a long-memory record 160
/// bytes plus its 48-byte order entry; a port use 84 bytes plus a 32-byte order entry
/// (up to twice as many). The costs include that rounding, so that the tables stay within
/// their shares (1 M SYNs from distinct 4-tuples: under 256 MiB peak RSS).
mod cost {
    pub const FLOW: u64 = 320;
    pub const PENDING: u64 = 480;
    pub const ARCHIVE: u64 = 256;
    pub const PORT: u64 = 200;
    pub const EVIDENCE: u64 = 64;
    pub const HOST: u64 = 1024;
    pub const FINGERPRINT: u64 = 8;
}

impl Budgets {
    /// Capacities for a byte budget, split between the structures in fixed shares.
    pub fn from_bytes(bytes: u64) -> Budgets {
        let share = |percent: u64, cost: u64| -> usize {
            let n = bytes / 100 * percent / cost;
            usize::try_from(n.max(1024)).unwrap_or(usize::MAX)
        };
        Budgets {
            bytes,
            flows: share(30, cost::FLOW),
            pending: share(25, cost::PENDING),
            archive: share(15, cost::ARCHIVE),
            ports: share(10, cost::PORT),
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
        assert_eq!(small.flows, 1024);
        let default = Budgets::default();
        let double = Budgets::from_bytes(2 * DEFAULT_BYTES);
        assert!(double.flows >= 2 * default.flows - 1);
        assert!(default.pending > 100_000);
    }
}
