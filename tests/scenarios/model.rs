//! The parameters of one scenario, drawn from its seed.
//!
//! A capture point on the servers' segment sees one or more sources (a NAT or firewall
//! address, with the clients behind it) connect to one or more servers. Every parameter the
//! issue names is drawn here; `describe` prints them in one line for a failure summary.

use serde::Serialize;

use super::rng::Rng;

pub const MS: u64 = 1_000_000;
pub const SEC: u64 = 1_000_000_000;

/// What a server does with a SYN on a 4-tuple it holds in TIME_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Ignore it (Windows).
    SilentDrop,
    /// Bare ACK with the old connection's sequence numbers (Linux, RFC 5961 §4).
    ChallengeAck,
    Rst,
    /// Accept it when the ISN is above the old connection's last sequence number or the TCP
    /// timestamp advanced (RFC 1122 4.2.2.13, RFC 6191); otherwise ignore it.
    Accept,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolChoice {
    Lifo,
    Random,
}

#[derive(Clone, Copy, Debug)]
pub enum Allocator {
    Pool {
        min_idle_ns: u64,
        choice: PoolChoice,
        max_in_pool_ns: Option<u64>,
        first_port: u16,
    },
    Sequential {
        lo: u16,
        hi: u16,
        start: u16,
    },
    Random {
        lo: u16,
        hi: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TsMode {
    Off,
    /// One TCP stack (a proxy): one timestamp clock for all connections.
    Monotonic,
    /// A random offset per connection (Linux ≥ 4.10 behind a NAT): advances half the time.
    PerConnection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IsnMode {
    Random,
    /// RFC 6528: a per-4-tuple offset plus a 4 µs clock, so a reuse's ISN advances.
    Clock,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A short protocol-level reject (tens of bytes), then FIN.
    RejectThenFin,
    /// RST right after the handshake (SO_LINGER 0).
    Reset,
    /// RST after the client's first data.
    ResetAfterData,
    FinNoData,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    Normal,
    Refuses(Option<Refusal>), // None: a mix of the forms
    Closed,
    Dead,
}

pub struct Source {
    pub ip: [u8; 4],
    pub allocator: Allocator,
    /// One-way delay between the capture point and the source.
    pub owd_ns: u64,
    /// Share of connections whose client retransmits like Windows (+3 s, +9 s); the others
    /// like Linux (1, 2, 4 s apart, `linux_syn_retries` of them).
    pub windows_share: f64,
    pub linux_syn_retries: u32,
    pub ts: TsMode,
    pub isn: IsnMode,
    /// Connections per second while busy, and while quiet (on/off demand when `periods`).
    pub busy_rate: f64,
    pub quiet_rate: f64,
    pub periods: Option<(f64, f64)>,
    /// Weight of each service (index into `Params::services`).
    pub weights: Vec<f64>,
    /// Share of connections abandoned without FIN or RST (the client vanished; the NAT
    /// released the port), which the server keeps open.
    pub abandon: f64,
}

pub struct Host {
    pub ip: [u8; 4],
    pub time_wait_s: u32,
    pub style: Style,
    /// Lets in a SYN whose ISN or timestamp advanced (always for `Accept`; for half the
    /// challenge-ACK servers, as Linux does; never for the others).
    pub accepts_advanced: bool,
    pub ttl: u8,
    pub delay_ns: u64,
}

pub struct Service {
    pub host: usize,
    pub port: u16,
    pub kind: ServiceKind,
    /// Share of connections the server closes first (it then holds TIME_WAIT); of the others
    /// `crossed` have both FINs cross, the rest are closed by the client first.
    pub server_closes: f64,
    pub crossed: f64,
    pub duration_s: (f64, f64),
}

pub struct Params {
    pub seed: u64,
    pub epoch_s: u64,
    pub nanosecond: bool,
    pub pad_to_60: bool,
    pub capture_start_ns: u64,
    pub capture_end_ns: u64,
    pub demand_end_ns: u64,
    pub max_attempts: usize,
    pub sources: Vec<Source>,
    pub hosts: Vec<Host>,
    pub services: Vec<Service>,
}

const PORTS: [u16; 12] = [80, 110, 25, 443, 102, 143, 993, 995, 389, 1433, 3306, 5432];

impl Params {
    pub fn draw(seed: u64) -> Params {
        let mut rng = Rng::new(seed);
        let hosts = draw_hosts(&mut rng.fork(1));
        let services = draw_services(&mut rng.fork(2), &hosts);
        let mut r = rng.fork(3);
        let capture_len = r.uniform(90.0, 420.0);
        let capture_start = if r.chance(0.55) {
            r.uniform(60.0, 300.0)
        } else {
            0.0
        };
        let capture_end = capture_start + capture_len;
        let target = r.log_uniform(40.0, 300.0);
        let n_sources = 1 + r.weighted(&[0.5, 0.3, 0.2]);
        let mut sr = rng.fork(4);
        let mut sources: Vec<Source> = (0..n_sources)
            .map(|i| draw_source(&mut sr.fork(i as u64), i, &services))
            .collect();
        // Stop new demand once every attempt can be decided (the longest give-up), except in
        // a quarter of the scenarios, whose last attempts are still pending at the end.
        let tail = if r.chance(0.75) {
            let longest = sources
                .iter()
                .map(|s| give_up_s(s.linux_syn_retries).max(21.0))
                .fold(0.0, f64::max);
            longest + 5.0
        } else {
            0.0
        };
        let demand_end = (capture_end - tail).max(capture_start + 30.0);
        let rate = target / (demand_end - capture_start) / n_sources as f64;
        for s in &mut sources {
            let boost = match s.allocator {
                Allocator::Pool { .. } if r.chance(0.5) => r.uniform(2.0, 5.0),
                _ => 1.0,
            };
            let mean = rate * boost;
            match s.periods {
                Some((busy, quiet)) => {
                    s.busy_rate = mean * (busy + quiet) / (busy + 0.05 * quiet);
                    s.quiet_rate = 0.05 * s.busy_rate;
                }
                None => {
                    s.busy_rate = mean;
                    s.quiet_rate = mean;
                }
            }
        }
        Params {
            seed,
            epoch_s: 1_115_000_000 + (seed % 10_000) * 86_400,
            nanosecond: r.chance(0.3),
            pad_to_60: r.chance(0.5),
            capture_start_ns: (capture_start * 1e9) as u64,
            capture_end_ns: (capture_end * 1e9) as u64,
            demand_end_ns: (demand_end * 1e9) as u64,
            max_attempts: 800,
            sources,
            hosts,
            services,
        }
    }

    /// One line: what was drawn, for failure summaries.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "capture {:.0}–{:.0} s{}",
            self.capture_start_ns as f64 / 1e9,
            self.capture_end_ns as f64 / 1e9,
            if self.capture_start_ns > 0 {
                " (mid-traffic)"
            } else {
                ""
            }
        );
        for h in &self.hosts {
            let ports: Vec<String> = self
                .services
                .iter()
                .filter(|v| std::ptr::eq(&self.hosts[v.host], h))
                .map(|v| format!("{}{}", v.port, service_tag(v)))
                .collect();
            s += &format!(
                "; server {} TW {} s {:?}{} ports {}",
                ip(h.ip),
                h.time_wait_s,
                h.style,
                if h.accepts_advanced && h.style != Style::Accept {
                    " (accepts advanced)"
                } else {
                    ""
                },
                ports.join(",")
            );
        }
        for src in &self.sources {
            let alloc = match src.allocator {
                Allocator::Pool {
                    min_idle_ns,
                    choice,
                    max_in_pool_ns,
                    ..
                } => format!(
                    "pool {:?} min idle {:.3} s{}",
                    choice,
                    min_idle_ns as f64 / 1e9,
                    if max_in_pool_ns.is_some() {
                        " max 60 s"
                    } else {
                        ""
                    }
                ),
                Allocator::Sequential { lo, hi, .. } => format!("sequential {lo}–{hi}"),
                Allocator::Random { lo, hi } => format!("random {lo}–{hi}"),
            };
            s += &format!(
                "; source {} {} {:.2}/s{} win {:.0}% linux r{} ts {:?} isn {:?}{}",
                ip(src.ip),
                alloc,
                src.busy_rate,
                if src.periods.is_some() { " on/off" } else { "" },
                src.windows_share * 100.0,
                src.linux_syn_retries,
                src.ts,
                src.isn,
                if src.abandon > 0.0 { " abandons" } else { "" }
            );
        }
        s
    }
}

fn service_tag(v: &Service) -> &'static str {
    match v.kind {
        ServiceKind::Normal if v.server_closes >= 1.0 => "",
        ServiceKind::Normal if v.server_closes <= 0.0 => "(client closes)",
        ServiceKind::Normal => "(mixed close)",
        ServiceKind::Refuses(_) => "(refuses)",
        ServiceKind::Closed => "(closed)",
        ServiceKind::Dead => "(dead)",
    }
}

pub fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// When a Linux client with `retries` SYN retransmissions gives up, seconds after its first
/// SYN (initial RTO 1 s, doubling: 2^(retries+1) − 1).
pub fn give_up_s(retries: u32) -> f64 {
    f64::from((1u32 << (retries + 1)) - 1)
}

fn draw_hosts(r: &mut Rng) -> Vec<Host> {
    let n = 1 + r.weighted(&[0.45, 0.35, 0.2]);
    (0..n)
        .map(|i| {
            let style = *r.pick(&[
                Style::SilentDrop,
                Style::SilentDrop,
                Style::ChallengeAck,
                Style::ChallengeAck,
                Style::Rst,
                Style::Accept,
                Style::Accept,
            ]);
            // A challenge ACK is Linux (fixed 60 s) most of the time; BSDs send it too with
            // other 2MSL settings.
            let time_wait_s = if style == Style::ChallengeAck && r.chance(0.7) {
                60
            } else {
                *r.pick(&[30, 60, 120, 240])
            };
            Host {
                ip: [10, 20, 0, 10 + i as u8],
                time_wait_s,
                style,
                accepts_advanced: style == Style::Accept
                    || (style == Style::ChallengeAck && r.chance(0.5)),
                ttl: if style == Style::ChallengeAck {
                    64
                } else {
                    128
                },
                delay_ns: r.range(30_000, 300_000),
            }
        })
        .collect()
}

fn draw_services(r: &mut Rng, hosts: &[Host]) -> Vec<Service> {
    let mut services = Vec::new();
    let ports_of = |r: &mut Rng, host: usize, services: &Vec<Service>| loop {
        let port = *r.pick(&PORTS);
        if !services
            .iter()
            .any(|s: &Service| s.host == host && s.port == port)
        {
            return port;
        }
    };
    for host in 0..hosts.len() {
        for _ in 0..1 + r.weighted(&[0.7, 0.3]) {
            let port = ports_of(r, host, &services);
            let (a, b) = (r.log_uniform(0.05, 60.0), r.log_uniform(0.05, 60.0));
            services.push(Service {
                host,
                port,
                kind: ServiceKind::Normal,
                server_closes: *r.pick(&[1.0, 1.0, 0.0, 0.5]),
                crossed: if r.chance(0.2) { 0.1 } else { 0.0 },
                duration_s: (a.min(b), a.max(b)),
            });
        }
    }
    let extra = [
        (0.25, ServiceKind::Refuses(None)),
        (0.3, ServiceKind::Closed),
        (0.15, ServiceKind::Dead),
    ];
    for (p, kind) in extra {
        if !r.chance(p) {
            continue;
        }
        let host = r.range(0, hosts.len() as u64 - 1) as usize;
        let kind = match kind {
            ServiceKind::Refuses(_) if r.chance(0.6) => ServiceKind::Refuses(Some(*r.pick(&[
                Refusal::RejectThenFin,
                Refusal::Reset,
                Refusal::ResetAfterData,
                Refusal::FinNoData,
            ]))),
            k => k,
        };
        let port = ports_of(r, host, &services);
        services.push(Service {
            host,
            port,
            kind,
            server_closes: 1.0,
            crossed: 0.0,
            duration_s: (0.05, 0.05),
        });
    }
    services
}

fn draw_source(r: &mut Rng, i: usize, services: &[Service]) -> Source {
    let allocator = match r.weighted(&[0.5, 0.25, 0.25]) {
        0 => Allocator::Pool {
            min_idle_ns: (r.uniform(0.5, 5.0) * 1e9) as u64,
            choice: if r.chance(0.5) {
                PoolChoice::Lifo
            } else {
                PoolChoice::Random
            },
            max_in_pool_ns: r.chance(0.5).then_some(60 * SEC),
            first_port: r.range(1025, 4000) as u16,
        },
        1 => {
            let (lo, hi) = *r.pick(&[
                (20000, 20999), // a NAT's port block
                (1025, 5000),   // Windows XP
                (49152, 65535), // Windows Vista and later
                (32768, 60999), // Linux
            ]);
            Allocator::Sequential {
                lo,
                hi,
                start: r.range(u64::from(lo), u64::from(hi)) as u16,
            }
        }
        _ => {
            let (lo, hi) = *r.pick(&[(32768, 60999), (1024, 65535)]);
            Allocator::Random { lo, hi }
        }
    };
    let weights = services
        .iter()
        .map(|s| match s.kind {
            ServiceKind::Normal => r.uniform(0.2, 1.0),
            ServiceKind::Refuses(_) => r.uniform(0.05, 0.3),
            ServiceKind::Closed | ServiceKind::Dead => r.uniform(0.02, 0.1),
        })
        .collect();
    Source {
        ip: [192, 168, 50 + i as u8, 1 + r.range(0, 200) as u8],
        allocator,
        owd_ns: r.log_uniform(50_000.0, 3_000_000.0) as u64,
        windows_share: *r.pick(&[1.0, 0.0, 0.5]),
        linux_syn_retries: *r.pick(&[3, 6, 6]),
        ts: *r.pick(&[
            TsMode::Off,
            TsMode::Off,
            TsMode::Monotonic,
            TsMode::PerConnection,
        ]),
        isn: *r.pick(&[IsnMode::Random, IsnMode::Random, IsnMode::Clock]),
        busy_rate: 0.0,
        quiet_rate: 0.0,
        periods: r
            .chance(0.5)
            .then(|| (r.uniform(20.0, 90.0), r.uniform(20.0, 150.0))),
        weights,
        abandon: if r.chance(0.2) { 0.03 } else { 0.0 },
    }
}
