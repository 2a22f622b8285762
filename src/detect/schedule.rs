//! The client's SYN retransmission schedule, which names its TCP stack (what the user felt
//! while waiting).

use serde::Serialize;

use crate::attempt::Attempt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Retransmissions 3 s and 9 s after the first SYN (Windows 2000 to 10).
    Windows,
    /// 1, 2, 4 s apart: the exponential back-off of classic Linux.
    LinuxExponential,
    /// 1 s apart: recent Linux kernels' `tcp_syn_linear_timeouts`.
    LinuxLinear,
    /// A retransmission within 100 ms: Linux after an unacceptable ACK (a challenge ACK).
    LinuxFastRetry,
    Other,
}

impl Schedule {
    pub const ALL: [Schedule; 5] = [
        Schedule::Windows,
        Schedule::LinuxExponential,
        Schedule::LinuxLinear,
        Schedule::LinuxFastRetry,
        Schedule::Other,
    ];

    /// The schedule of an attempt's retransmissions; `None` without any.
    pub fn of(a: &Attempt) -> Option<Schedule> {
        let n = (a.syn_retransmits as usize).min(a.retransmit_us.len());
        let at = |i: usize| f64::from(a.retransmit_us[i]) / 1e6;
        let near = |x: f64, target: f64| (x - target).abs() <= target * 0.2 + 0.05;
        Some(match n {
            0 => return None,
            _ if at(0) < 0.1 => Schedule::LinuxFastRetry,
            1 if near(at(0), 3.0) => Schedule::Windows,
            1 => Schedule::Other,
            _ if near(at(0), 3.0) && near(at(1), 9.0) => Schedule::Windows,
            _ if near(at(0), 1.0) && near(at(1), 3.0) => Schedule::LinuxExponential,
            _ if near(at(0), 1.0) && near(at(1), 2.0) => Schedule::LinuxLinear,
            _ => Schedule::Other,
        })
    }
}

/// Counts per schedule (indexed by `Schedule as usize`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedules(pub [u32; 5]);

impl Schedules {
    pub fn add(&mut self, s: Schedule) {
        let n = &mut self.0[s as usize];
        *n = n.saturating_add(1);
    }
    pub fn merge(&mut self, other: &Schedules) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_add(b);
        }
    }
    /// The schedules seen, with their counts, in enum order.
    pub fn seen(&self) -> impl Iterator<Item = (Schedule, u64)> + '_ {
        Schedule::ALL
            .into_iter()
            .map(|s| (s, u64::from(self.0[s as usize])))
            .filter(|(_, n)| *n > 0)
    }
}
