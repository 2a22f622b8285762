//! The cross table: how each attempt's 4-tuple was used before (reused inside the server's
//! TIME_WAIT, inside the client's only, after a RST, after the window, while still open, not
//! at all) against its outcome. Reuses inside a TIME_WAIT that only the client held are
//! normal (the client's stack or SO_REUSEADDR allowed them) and have their own row, so they
//! never read as collisions that survived (issue 10 item 5).

use super::counts::OutcomeCounts;
use crate::attempt::{Attempt, Holder};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrossRow {
    /// Inside the window, on a 4-tuple whose TIME_WAIT the server held (it closed first, or
    /// both did): a collision.
    InServerTimeWait,
    /// Inside the window, on a 4-tuple only the client held in TIME_WAIT: harmless.
    InClientTimeWait,
    /// Inside the window, after a connection ended by RST: no TIME_WAIT at all.
    AfterReset,
    AfterWindow,
    /// The earlier connection had neither FIN nor RST.
    Open,
    NotReused,
}

impl CrossRow {
    pub const ALL: [CrossRow; 6] = [
        CrossRow::InServerTimeWait,
        CrossRow::InClientTimeWait,
        CrossRow::AfterReset,
        CrossRow::AfterWindow,
        CrossRow::Open,
        CrossRow::NotReused,
    ];

    pub fn of(a: &Attempt) -> CrossRow {
        match a.reuse {
            None => CrossRow::NotReused,
            Some(r) if r.open => CrossRow::Open,
            Some(r) if !r.in_window => CrossRow::AfterWindow,
            Some(r) => match r.holder {
                Holder::Server | Holder::Both | Holder::Unknown => CrossRow::InServerTimeWait,
                Holder::Client => CrossRow::InClientTimeWait,
                Holder::None => CrossRow::AfterReset,
            },
        }
    }

    /// A reuse inside the `--time-wait` window, whoever held it.
    pub fn in_window(self) -> bool {
        matches!(
            self,
            CrossRow::InServerTimeWait | CrossRow::InClientTimeWait | CrossRow::AfterReset
        )
    }

    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            CrossRow::InServerTimeWait => "reused_in_server_time_wait",
            CrossRow::InClientTimeWait => "reused_in_client_time_wait",
            CrossRow::AfterReset => "reused_after_reset",
            CrossRow::AfterWindow => "reused_after_window",
            CrossRow::Open => "reused_open",
            CrossRow::NotReused => "not_reused",
        }
    }
}

/// Counts by row and outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cross(pub [OutcomeCounts; 6]);

impl Cross {
    pub fn add(&mut self, a: &Attempt) {
        self.0[CrossRow::of(a) as usize].add(a.outcome);
    }
    pub fn row(&self, r: CrossRow) -> &OutcomeCounts {
        &self.0[r as usize]
    }
    pub fn merge(&mut self, o: &Cross) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            a.merge(b);
        }
    }
    /// All reuses inside the window, whoever held the 4-tuple.
    pub fn in_window(&self) -> OutcomeCounts {
        let mut all = OutcomeCounts::default();
        for r in CrossRow::ALL.into_iter().filter(|r| r.in_window()) {
            all.merge(self.row(r));
        }
        all
    }
}
