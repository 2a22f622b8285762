//! Source-port allocators of the NAT/firewall in front of the clients.
//!
//! - pool: ISA 2000's socket pool. A released port may be handed out again once it has been
//!   idle for the minimum (MinTickBeforePortReuse), counted from the moment its previous
//!   connection ended; LIFO (the most recently released eligible port) or a random eligible
//!   port. When no port is eligible a fresh one is taken from the OS (sequential ephemeral
//!   ports). Ports idle longer than MaxTimeInFreePool, when set, leave the pool.
//! - sequential: the next free port after the last one, wrapping within the range.
//! - random: uniform over the range (RFC 6056 algorithm 1), skipping ports in use.

use std::collections::HashSet;

use super::model::{Allocator, PoolChoice};
use super::rng::Rng;

pub struct AllocState {
    kind: Allocator,
    in_use: HashSet<u16>,
    /// Pool only: released ports and when they were released (NAT time, ns).
    free: Vec<(u16, u64)>,
    /// Sequential counter (sequential allocator, and the pool's fresh ports).
    next: u16,
}

/// A port handed out, and whether it came back from the pool (not fresh).
pub struct Allocation {
    pub port: u16,
    pub from_pool: bool,
}

impl AllocState {
    pub fn new(kind: Allocator) -> AllocState {
        let next = match kind {
            Allocator::Pool { first_port, .. } => first_port,
            Allocator::Sequential { start, .. } => start,
            Allocator::Random { lo, .. } => lo,
        };
        AllocState {
            kind,
            in_use: HashSet::new(),
            free: Vec::new(),
            next,
        }
    }

    pub fn allocate(&mut self, now: u64, rng: &mut Rng) -> Option<Allocation> {
        let got = match self.kind {
            Allocator::Pool {
                min_idle_ns,
                choice,
                max_in_pool_ns,
                ..
            } => {
                if let Some(max) = max_in_pool_ns {
                    self.free.retain(|&(_, at)| now - at <= max);
                }
                let eligible: Vec<usize> = (0..self.free.len())
                    .filter(|&i| now - self.free[i].1 >= min_idle_ns)
                    .collect();
                let chosen = match choice {
                    _ if eligible.is_empty() => None,
                    PoolChoice::Lifo => eligible.iter().copied().max_by_key(|&i| self.free[i].1),
                    PoolChoice::Random => Some(*rng.pick(&eligible)),
                };
                match chosen {
                    Some(i) => Some(Allocation {
                        port: self.free.swap_remove(i).0,
                        from_pool: true,
                    }),
                    None => self.sequential(1025, 65535).map(|port| Allocation {
                        port,
                        from_pool: false,
                    }),
                }
            }
            Allocator::Sequential { lo, hi, .. } => {
                self.sequential(lo, hi).map(|port| Allocation {
                    port,
                    from_pool: false,
                })
            }
            Allocator::Random { lo, hi } => (0..200)
                .map(|_| rng.range(u64::from(lo), u64::from(hi)) as u16)
                .find(|p| !self.in_use.contains(p))
                .map(|port| Allocation {
                    port,
                    from_pool: false,
                }),
        }?;
        self.in_use.insert(got.port);
        Some(got)
    }

    /// The next port from the counter that is neither in use nor waiting in the pool.
    fn sequential(&mut self, lo: u16, hi: u16) -> Option<u16> {
        for _ in 0..=(hi - lo) {
            let port = if (lo..=hi).contains(&self.next) {
                self.next
            } else {
                lo
            };
            self.next = if port == hi { lo } else { port + 1 };
            if !self.in_use.contains(&port) && !self.free.iter().any(|&(p, _)| p == port) {
                return Some(port);
            }
        }
        None
    }

    pub fn release(&mut self, port: u16, now: u64) {
        self.in_use.remove(&port);
        if matches!(self.kind, Allocator::Pool { .. }) {
            self.free.push((port, now));
        }
    }
}
