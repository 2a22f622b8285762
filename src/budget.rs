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

/// Bytes one entry of each structure costs, all it brings with it included (an estimate for
/// sizing, checked against the types' sizes in `track::tests` and by the benchmark's peak RSS
/// figures).
///
/// The tracker's three large tables (flows, long memory, port uses) are dense maps
/// (`track::dense`): an entry is its key and value packed in one vector, plus about 12 bytes
/// of hash index and its 8-byte hash; their queues hold 16-byte (deadline, key hash) entries.
/// Measured:
/// - a flow: 168 bytes (key and state) + 20 + two queue entries (32) + its connection (136);
/// - a pending attempt: 456 bytes in a ring buffer;
/// - a long-memory record: 160 bytes + 20 + one order entry (16, up to twice as many);
/// - a port use: 88 bytes + 20 + one order entry (16, up to twice as many).
pub(crate) mod cost {
    pub const FLOW: u64 = 360;
    pub const PENDING: u64 = 480;
    pub const ARCHIVE: u64 = 216;
    pub const PORT: u64 = 144;
    pub const EVIDENCE: u64 = 64;
    pub const HOST: u64 = 1024;
    pub const FINGERPRINT: u64 = 8;
}

/// Shares of the budget, per mille. They add up to 855: the rest is for what is not counted
/// in entries (read buffers, the batches between the two threads, the output's buffers).
///
/// The long memory and the port uses get small shares: an entry is cheap, a capture with
/// many hosts fills them with 4-tuples and ports that never come back, and what they forget
/// is counted and said. 5 % still remembers 46 k ended connections (at 100 connections a
/// second, the last 8 minutes: twice the default window).
mod share {
    pub const FLOWS: u64 = 300;
    pub const PENDING: u64 = 250;
    pub const ARCHIVE: u64 = 50;
    pub const PORTS: u64 = 35;
    pub const EVIDENCE: u64 = 50;
    pub const HOSTS: u64 = 150;
    pub const FINGERPRINTS: u64 = 20;
}

impl Budgets {
    /// Capacities for a byte budget, split between the structures in fixed shares (at least
    /// 1,024 entries each, at most what a 32-bit position can name).
    pub fn from_bytes(bytes: u64) -> Budgets {
        let entries = |per_mille: u64, cost: u64| -> usize {
            let n = (bytes / 1000).saturating_mul(per_mille) / cost;
            usize::try_from(n.clamp(1024, u64::from(u32::MAX / 2))).unwrap_or(usize::MAX)
        };
        Budgets {
            bytes,
            flows: entries(share::FLOWS, cost::FLOW),
            pending: entries(share::PENDING, cost::PENDING),
            archive: entries(share::ARCHIVE, cost::ARCHIVE),
            ports: entries(share::PORTS, cost::PORT),
            evidence: entries(share::EVIDENCE, cost::EVIDENCE),
            hosts: entries(share::HOSTS, cost::HOST),
            fingerprints: entries(share::FINGERPRINTS, cost::FINGERPRINT),
        }
    }
}

/// How many entries a full vector of `len` entries makes room for: it doubles (from `first`),
/// but never past `limit` in one step, and past it by `first / 8` at a time. A doubling past
/// a structure's capacity would leave most of its last half unused, and hold both copies for
/// a moment (issue 14).
pub fn growth(len: usize, limit: usize, first: usize) -> usize {
    let room = limit.saturating_sub(len).max(first / 8).max(1);
    len.max(first).min(room).max(1)
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
        assert_eq!(
            (small.flows, small.pending, small.archive),
            (1024, 1024, 1024)
        );
        let default = Budgets::default();
        let double = Budgets::from_bytes(2 * DEFAULT_BYTES);
        assert!(double.pending >= 2 * default.pending - 1);
        assert!(double.flows >= 2 * default.flows - 1);
        assert!(default.pending > 100_000);
        // The default's long memory: 46 k ended connections.
        assert_eq!(default.archive, 46_603);
        // Positions in the dense maps are 32-bit.
        assert!(Budgets::from_bytes(u64::MAX).flows <= (u32::MAX / 2) as usize);
    }

    #[test]
    fn growth_doubles_up_to_the_limit_and_creeps_past_it() {
        assert_eq!(growth(0, 10_000, 1024), 1024);
        assert_eq!(growth(2048, 10_000, 1024), 2048);
        assert_eq!(growth(8192, 10_000, 1024), 1808);
        assert_eq!(growth(10_000, 10_000, 1024), 128);
        assert_eq!(growth(0, 0, 0), 1);
    }

    #[test]
    fn the_shares_leave_room_for_what_is_not_counted_in_entries() {
        let total = share::FLOWS
            + share::PENDING
            + share::ARCHIVE
            + share::PORTS
            + share::EVIDENCE
            + share::HOSTS
            + share::FINGERPRINTS;
        assert_eq!(total, 855);
    }
}
