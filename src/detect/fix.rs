//! The fix for a source whose reused ports collided with a server's TIME_WAIT, as data
//! (issue 10 item 3, issue 11 item 1): how long its ports rest now (from the end of a port's
//! previous connection to its next SYN: what ISA 2000's MinTickBeforePortReuse sets), how long
//! they must rest (the server's TIME_WAIT as the data bounds it), and the pool that would
//! let them rest that long at the source's busiest rate (the field report's rule
//! `MinTickBeforePortReuse / 1000 × R ≤ MaxSocketsInAllPools`, turned around).

use std::net::IpAddr;

use serde::Serialize;

use super::sources::SourceTally;
use super::time_wait::{Bracket, KnownTimeWait};
use crate::tcp::Endpoint;
use crate::time::NANOS_PER_SEC;

/// ISA 2000's MinTickBeforePortReuse default (ms), named when a source's idle time matches it.
pub const ISA_MIN_TICK_DEFAULT_MS: i64 = 1_200;

/// Where the required rest comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestBasis {
    /// The bracket fits a known TIME_WAIT (Windows' 240 s, Linux's 60 s).
    KnownDefault,
    /// The shortest gap at which the server let a SYN in.
    UpperBound,
    /// The data bounds nothing, but the server's response style names its stack: Linux's
    /// challenge ACKs (a fixed 60 s), Windows' silent drop (240 s by default).
    ImpliedByStyle,
    /// The longest gap at which the server still held a SYN (the data gives no upper bound).
    LowerBound,
    /// `--time-wait` (the data bounds nothing better).
    Window,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fix {
    pub source: IpAddr,
    /// The server whose TIME_WAIT most of the source's failures hit.
    pub server: Endpoint,
    /// Failed attempts from the source whose cause was a server's TIME_WAIT.
    pub failures: u64,
    /// The shortest time a port rested before reuse now.
    pub port_idle_ns: Option<i64>,
    /// The idle time matches ISA 2000's MinTickBeforePortReuse default (within 10 %).
    pub isa_default: bool,
    /// Ports should rest at least this long.
    pub rest_ns: i64,
    pub rest_basis: RestBasis,
    /// Or the pool should hold at least this many ports (at `rate_per_s`).
    pub pool_ports: u64,
    pub pool_now: u64,
    pub rate_per_s: f64,
    /// The source allocates from a pool (the registry setting and pool size apply).
    pub pooled: bool,
}

/// The rest a server's TIME_WAIT requires, and what it is based on.
pub fn rest_needed(b: &Bracket, window_ns: i64) -> (i64, RestBasis) {
    if let Some(known) = b.consistent_with.and_then(KnownTimeWait::nanos) {
        return (known, RestBasis::KnownDefault);
    }
    if b.conflict.is_none()
        && let Some(upper) = b.at_most_ns
    {
        return (upper, RestBasis::UpperBound);
    }
    if let Some(implied) = b.implied.and_then(KnownTimeWait::nanos)
        && b.at_least_ns.is_none_or(|lower| lower <= implied)
    {
        return (implied, RestBasis::ImpliedByStyle);
    }
    match b.at_least_ns {
        Some(lower) if lower > window_ns => (lower, RestBasis::LowerBound),
        _ => (window_ns, RestBasis::Window),
    }
}

pub fn fix(
    source: IpAddr,
    s: &SourceTally,
    server: Endpoint,
    failures: u64,
    bracket: &Bracket,
    window_ns: i64,
) -> Fix {
    let (rest_ns, rest_basis) = rest_needed(bracket, window_ns);
    let idle = s.returns().port_idle.range.min();
    let pooled = s.pattern(window_ns) == Some(super::sources::Pattern::Pooled);
    let isa_default = pooled
        && idle.is_some_and(|i| {
            let ms = i as f64 / 1e6;
            (ms - ISA_MIN_TICK_DEFAULT_MS as f64).abs() <= ISA_MIN_TICK_DEFAULT_MS as f64 * 0.1
        });
    Fix {
        source,
        server,
        failures,
        port_idle_ns: idle,
        isa_default,
        rest_ns,
        rest_basis,
        pool_ports: s.pool_needed(rest_ns),
        pool_now: s.distinct_ports,
        rate_per_s: s.sustained_rate(),
        pooled,
    }
}

/// Milliseconds for the registry value (MinTickBeforePortReuse is in ms).
pub fn rest_ms(f: &Fix) -> i64 {
    (f.rest_ns + NANOS_PER_SEC / 2000) / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    fn bracket(at_least_s: Option<i64>, implied: Option<KnownTimeWait>) -> Bracket {
        Bracket {
            at_least_ns: at_least_s.map(|s| s * S),
            at_least_frame: None,
            at_most_ns: None,
            consistent_with: None,
            conflict: None,
            bounded: false,
            implied,
            beyond_window_ns: None,
        }
    }

    #[test]
    fn an_unbounded_time_wait_rests_as_long_as_the_response_style_implies() {
        // Linux's challenge ACKs: a fixed 60 s, whatever the window.
        let linux = bracket(Some(6), Some(KnownTimeWait::Linux60));
        assert_eq!(
            rest_needed(&linux, 240 * S),
            (60 * S, RestBasis::ImpliedByStyle)
        );
        // A server seen holding SYNs longer than its style implies: the data wins.
        let longer = bracket(Some(90), Some(KnownTimeWait::Linux60));
        assert_eq!(
            rest_needed(&longer, 60 * S),
            (90 * S, RestBasis::LowerBound)
        );
        // No style and no bound: the window.
        assert_eq!(
            rest_needed(&bracket(None, None), 240 * S),
            (240 * S, RestBasis::Window)
        );
        // A known default fitted by the data comes first.
        let known = Bracket {
            consistent_with: Some(KnownTimeWait::Windows240),
            ..bracket(Some(232), Some(KnownTimeWait::Linux60))
        };
        assert_eq!(
            rest_needed(&known, 60 * S),
            (240 * S, RestBasis::KnownDefault)
        );
    }
}
