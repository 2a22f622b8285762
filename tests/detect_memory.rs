//! The diagnosis's per-host state has a budget (issue 14 item 1): fed attempts from far more
//! distinct sources, servers and port pairs than its capacities, the detector keeps at most
//! its capacities exactly, keeps the hosts that matter (those with failures), counts what it
//! summarised, and every total stays exact.

use std::net::{IpAddr, Ipv4Addr};

use portreuse::attempt::{Attempt, Outcome};
use portreuse::budget::Budgets;
use portreuse::detect::tally::Capacities;
use portreuse::detect::{Config, Context, Detector};
use portreuse::tcp::{Endpoint, FrameRef, Seq};
use portreuse::time::{NANOS_PER_SEC, Ts};

const SOURCES: u32 = 200_000;
/// Every this many sources, one whose attempts fail: a host that matters.
const FAILING_EVERY: u32 = 1_000;

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n))
}

#[test]
fn many_distinct_hosts_stay_within_the_detect_budgets() {
    let budgets = Budgets::from_bytes(4 << 20);
    let caps = Capacities::from_budgets(&budgets);
    assert!(caps.sources < SOURCES as usize / 10, "{caps:?}");
    let mut detector = Detector::new(&Config {
        window_ns: 240 * NANOS_PER_SEC,
        budgets,
        flagged_rows: 100,
    });
    // Nothing seen of any host: every fact of the context is false.
    let cx = Context {
        window_ns: 240 * NANOS_PER_SEC,
        capture_start: Some(Ts(0)),
        ..Context::default()
    };
    let (mut attempts, mut failed) = (0u64, 0u64);
    for n in 0..SOURCES {
        // Two attempts each, to one of 5,000 servers: every host is new to the detector.
        for k in 0..2u64 {
            let ts = Ts(i64::from(n) * 1_000_000 + k as i64);
            let client = Endpoint {
                ip: ip(n),
                port: 32_768 + (n % 28_000) as u16 + k as u16,
            };
            let server = Endpoint {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, (n % 5_000 / 250) as u8, 1)),
                port: 1_000 + (n % 250) as u16,
            };
            let frame = FrameRef {
                file: 0,
                number: u64::from(n) * 2 + k + 1,
            };
            let mut a = Attempt::from_syn(frame, ts, client, server, Seq(n));
            a.outcome = if n % FAILING_EVERY == 0 {
                failed += 1;
                Outcome::Unanswered
            } else {
                Outcome::Established
            };
            detector.add(&a, &cx);
            attempts += 1;
        }
    }
    let f = detector.finish();
    let m = f.summarised;
    // Totals are exact whatever was summarised.
    assert_eq!(f.attempts(), attempts);
    assert_eq!(f.outcomes.failed(), failed);
    // Kept state is within the capacities; the rest is counted.
    assert!(
        f.sources.len() <= caps.sources,
        "{} sources",
        f.sources.len()
    );
    assert!(
        f.servers.len() <= caps.servers,
        "{} servers",
        f.servers.len()
    );
    assert!(
        m.sources >= u64::from(SOURCES) - caps.sources as u64,
        "{m:?}"
    );
    assert!(m.servers > 0 && m.port_pairs > 0, "{m:?}");
    let kept: u64 = f.sources.iter().map(|s| s.tally.attempts).sum();
    assert_eq!(kept + m.source_attempts, attempts);
    let kept: u64 = f.servers.iter().map(|s| s.tally.outcomes.total()).sum();
    assert_eq!(kept + m.server_attempts, attempts);
    // The sources that failed are the ones kept exactly, all of them.
    let failing = f.sources.iter().filter(|s| s.tally.felt.failed > 0).count();
    assert_eq!(failing as u32, SOURCES / FAILING_EVERY);
    // Flagged rows are bounded too, their total counted.
    assert!(f.flagged.len() <= 100);
    assert_eq!(f.flagged_total, failed);
}
