//! The truth of one scenario, read off the simulator's own state (never off the pcap): per
//! attempt the outcome the capture shows and the real cause, per server its TIME_WAIT and
//! response style, per source its allocator.

use serde::Serialize;

use super::model::{Allocator, Params, ServiceKind, Style, ip};
use super::sim::{AttState, Os, Sim, SynResult};

/// Where the connection that held a 4-tuple lies relative to the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Its handshake is in the capture.
    InCapture,
    /// Handshake before the capture's start, later packets in it.
    StraddlesStart,
    /// Entirely before the capture.
    BeforeCapture,
}

#[derive(Clone, Debug, Serialize)]
pub struct Blocker {
    /// Frame of its SYN-ACK and of its last packet (null when outside the capture).
    pub handshake_frame: Option<u32>,
    pub end_frame: Option<u32>,
    pub visibility: Visibility,
    /// Still open at the server (no FIN or RST); otherwise its TIME_WAIT.
    pub open: bool,
    /// How the server treated the SYNs it held: dropped, challenged or reset.
    pub how: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct SynTruth {
    pub frame: u32,
    /// What the server did: accepted, accepted_advanced, dropped, challenged, reset_in_time_wait,
    /// closed_port, no_listener.
    pub result: &'static str,
    /// Gap from the held (or previous) connection's last packet, seconds.
    pub gap_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttemptTruth {
    pub client: String,
    pub server: String,
    /// Frame of the first SYN in the capture.
    pub frame: u32,
    /// Seconds after the capture's first frame.
    pub time_s: f64,
    pub isn: u32,
    pub os: &'static str,
    pub syns_before_capture: usize,
    pub syns: Vec<SynTruth>,
    /// The outcome the capture shows; null when the capture ends too close to the client's
    /// next retransmission to call it.
    pub outcome: Option<&'static str>,
    /// schema v2 cause; null when it simply worked.
    pub cause: Option<&'static str>,
    /// False when the outcome is not settled in the capture (cause not checked).
    pub decided: bool,
    /// Index (among the SYNs in the capture) of the SYN that got in.
    pub answered_syn: Option<usize>,
    pub blocker: Option<Blocker>,
    pub app_refusal: Option<super::model::Refusal>,
    /// Port came back from the pool; idle since its previous use ended (both in the capture).
    pub from_pool: bool,
    pub port_idle_s: Option<f64>,
    /// A short label for count tables.
    pub kind: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerTruth {
    pub server: String,
    pub time_wait_s: u32,
    pub response_style: Style,
    pub kind: &'static str,
    pub server_closes: f64,
    pub attempts: usize,
    /// SYNs in the capture the server held in TIME_WAIT (dropped, challenged or reset).
    pub held_syns: usize,
    pub accepted_advanced_syns: usize,
    /// The bracket the capture itself supports, from connections wholly in it: the longest
    /// gap of a held SYN, the shortest gap of a SYN let in after being held.
    pub data_at_least_s: Option<f64>,
    pub data_at_most_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceTruth {
    pub ip: String,
    pub allocator: &'static str,
    /// pooled | sequential | random; null under 8 attempts.
    pub pattern: Option<&'static str>,
    /// False for a pool whose ports hardly recur in the capture (more than 3 distinct
    /// ports per 4 attempts): the capture cannot show the pool, any pattern is accepted.
    pub pattern_clear: bool,
    pub pool_choice: Option<super::model::PoolChoice>,
    pub min_idle_s: Option<f64>,
    pub max_in_pool_s: Option<f64>,
    /// A port came back within 4 % of the minimum idle in the capture.
    pub min_idle_exercised: bool,
    pub observed_min_idle_s: Option<f64>,
    pub attempts: usize,
    pub pool_reuses: usize,
    pub distinct_ports: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub frames: usize,
    pub syn: usize,
    pub synack: usize,
    pub rst: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub params: String,
    pub capture_start_s: f64,
    pub capture_len_s: f64,
    /// The longest true TIME_WAIT (the "right" --time-wait).
    pub max_time_wait_s: u32,
    pub counts: Counts,
    pub servers: Vec<ServerTruth>,
    pub sources: Vec<SourceTruth>,
    pub attempts: Vec<AttemptTruth>,
}

const EXERCISED: f64 = 1.04;

pub fn build(sim: &Sim, frame_of: &[u32]) -> Truth {
    let p = sim.p;
    // The capture goes on as far as its last frame (the reader cannot know of silence after).
    let times = || {
        (0..frame_of.len())
            .filter(|&i| frame_of[i] != 0)
            .map(|i| sim.packets[i].t)
    };
    let first_frame_t = times().min().unwrap_or(p.capture_start_ns);
    let last_frame_t = times().max().unwrap_or(p.capture_start_ns);
    let start = p.capture_start_ns;
    let secs = |t: u64| (t as f64 - start as f64) / 1e9;
    let vis = |id: usize| frame_of[id] != 0;
    let mut counts = Counts {
        frames: frame_of.iter().filter(|&&f| f != 0).count(),
        ..Counts::default()
    };
    let mut attempts = Vec::new();
    let mut index_of = vec![usize::MAX; sim.attempts.len()];
    for (ai, a) in sim.attempts.iter().enumerate() {
        counts.syn += a.syns.iter().filter(|s| vis(s.pkt)).count();
        counts.synack += a.synack.iter().filter(|&&id| vis(id)).count();
        counts.rst += a.resets.iter().filter(|&&id| vis(id)).count();
        if let Some(t) = attempt(sim, frame_of, ai, (first_frame_t, last_frame_t)) {
            index_of[ai] = attempts.len();
            attempts.push(t);
        }
    }
    let servers = p
        .services
        .iter()
        .map(|svc| server(p, svc, &attempts))
        .collect();
    let sources = (0..p.sources.len())
        .map(|s| source(sim, s, &attempts, &index_of))
        .collect();
    Truth {
        seed: p.seed,
        params: p.describe(),
        capture_start_s: start as f64 / 1e9,
        capture_len_s: secs(last_frame_t),
        max_time_wait_s: p.hosts.iter().map(|h| h.time_wait_s).max().unwrap_or(240),
        counts,
        servers,
        sources,
        attempts,
    }
}

fn endpoint(e: ([u8; 4], u16)) -> String {
    format!("{}:{}", ip(e.0), e.1)
}

/// One attempt as the capture shows it; `(begin, end)`: the first and last frame's times.
fn attempt(
    sim: &Sim,
    frame_of: &[u32],
    ai: usize,
    (begin, end): (u64, u64),
) -> Option<AttemptTruth> {
    let p = sim.p;
    let a = &sim.attempts[ai];
    let vis = |id: usize| frame_of[id] != 0;
    let visible: Vec<usize> = (0..a.syns.len()).filter(|&k| vis(a.syns[k].pkt)).collect();
    let &first = visible.first()?;
    let owd = p.sources[a.source].owd_ns;
    let from_server = |id: usize| sim.packets[id].src == a.tuple.server.0;
    // The outcome as the capture shows it (precedence established > refused > challenge).
    let outcome = if a.synack.is_some_and(vis) {
        Some("established")
    } else if a.resets.iter().any(|&id| vis(id) && from_server(id)) {
        Some("refused")
    } else if a.challenges.iter().any(|&id| vis(id)) {
        Some("challenge_ack")
    } else {
        // Unanswered once the capture goes past the client's next SYN (or its giving up).
        // A reader estimates that moment from the SYNs it sees (the schedule, or twice the
        // last interval, or 3 s after a lone SYN); where its estimate and the truth straddle
        // the capture's end the outcome cannot be told, and is not checked.
        let last = *visible.last().expect("visible SYN");
        let (offsets, give_up) = a.os.schedule();
        let due = match a.syns.get(last + 1) {
            Some(s) => s.t,
            None => a.t0 + owd + (offsets.get(last + 1).copied().unwrap_or(give_up) * 1e9) as u64,
        };
        let t_last = a.syns[last].t;
        let estimate = match visible.len() {
            1 => t_last + 3 * super::model::SEC,
            n => t_last + 2 * (t_last - a.syns[visible[n - 2]].t),
        };
        let margin = 500_000_000;
        if due.max(estimate) + margin < end {
            Some("unanswered")
        } else if due.min(estimate) > end + margin {
            Some("unknown")
        } else {
            None
        }
    };
    let svc = &p.services[a.service];
    let held = a.syns.iter().find_map(|s| match s.result {
        SynResult::Dropped { conn } => Some((conn, false, "dropped")),
        SynResult::Challenged { conn, open } => Some((conn, open, "challenged")),
        SynResult::ResetInTimeWait { conn } => Some((conn, false, "reset")),
        _ => None,
    });
    let blocker = held.map(|(ci, open, how)| {
        let c = &sim.conns[ci];
        let handshake = sim.attempts[c.attempt].synack.filter(|&id| vis(id));
        let last_visible = vis(c.last_pkt);
        Blocker {
            handshake_frame: handshake.map(|id| frame_of[id]),
            end_frame: last_visible.then(|| frame_of[c.last_pkt]),
            visibility: match (handshake.is_some(), last_visible) {
                (true, _) => Visibility::InCapture,
                (false, true) => Visibility::StraddlesStart,
                (false, false) => Visibility::BeforeCapture,
            },
            open,
            how,
        }
    });
    let conn = a.conn.map(|ci| &sim.conns[ci]);
    let refusal = conn.and_then(|c| c.refusal.filter(|_| c.refusal_pkt.is_some_and(vis)));
    let cause = match (&blocker, svc.kind) {
        (Some(b), _) if b.open => Some("open_4tuple"),
        (Some(b), _) if b.visibility == Visibility::InCapture => Some("server_time_wait"),
        (Some(b), _) if b.visibility == Visibility::StraddlesStart => Some("server_time_wait"),
        (Some(_), _) => Some("time_wait_before_capture"),
        (None, ServiceKind::Closed) => Some("port_closed"),
        (None, ServiceKind::Dead) => Some("no_answer"),
        (None, _) if refusal.is_some() => Some("application_refused"),
        _ => None,
    };
    let app_refusal_pending = conn.is_some_and(|c| c.refusal.is_some()) && refusal.is_none();
    let decided = outcome.is_some_and(|o| o != "unknown") && !app_refusal_pending;
    let syns = visible
        .iter()
        .map(|&k| syn_truth(sim, frame_of, ai, k))
        .collect();
    let answered_syn = a.synack.filter(|&id| vis(id)).and_then(|_| {
        visible
            .iter()
            .position(|&k| matches!(a.syns[k].result, SynResult::Accepted { .. }))
    });
    // Port idle where the capture shows both uses whole (the previous one from its first
    // SYN to its end; an abandoned one never ended).
    let port_idle_s = a.port_prev.and_then(|(prev, last_t)| {
        let pa = &sim.attempts[prev];
        let prev_open = pa.conn.is_some_and(|ci| sim.conns[ci].end.is_none());
        let prev_whole = vis(pa.syns[0].pkt) && last_t < end;
        let in_capture = prev_whole && first == 0 && !prev_open;
        in_capture.then(|| (a.syns[0].t - last_t) as f64 / 1e9)
    });
    let kind = kind_label(a.state, outcome, cause, &blocker, first);
    Some(AttemptTruth {
        client: endpoint(a.tuple.client),
        server: endpoint(a.tuple.server),
        frame: frame_of[a.syns[first].pkt],
        time_s: (a.syns[first].t - begin) as f64 / 1e9,
        isn: a.isn,
        os: match a.os {
            Os::Windows => "windows",
            Os::Linux(_) => "linux",
        },
        syns_before_capture: first,
        syns,
        outcome,
        cause,
        decided,
        answered_syn,
        blocker,
        app_refusal: refusal,
        from_pool: a.from_pool,
        port_idle_s,
        kind,
    })
}

fn syn_truth(sim: &Sim, frame_of: &[u32], ai: usize, k: usize) -> SynTruth {
    let s = &sim.attempts[ai].syns[k];
    let (result, conn) = match s.result {
        SynResult::Accepted { prev, advanced } => (
            if advanced {
                "accepted_advanced"
            } else {
                "accepted"
            },
            prev,
        ),
        SynResult::Dropped { conn } => ("dropped", Some(conn)),
        SynResult::Challenged { conn, .. } => ("challenged", Some(conn)),
        SynResult::ResetInTimeWait { conn } => ("reset_in_time_wait", Some(conn)),
        SynResult::ClosedPort => ("closed_port", None),
        SynResult::NoListener => ("no_listener", None),
        SynResult::Pending => ("pending", None),
    };
    // From the connection's last packet (an open one's last packet so far).
    let gap_s = conn
        .map(|ci| &sim.conns[ci])
        .and_then(|c| {
            c.end
                .or(Some(sim.packets[c.last_pkt].t))
                .filter(|&e| e <= s.t)
        })
        .map(|e| (s.t - e) as f64 / 1e9);
    SynTruth {
        frame: frame_of[s.pkt],
        result,
        gap_s,
    }
}

fn kind_label(
    state: AttState,
    outcome: Option<&str>,
    cause: Option<&str>,
    blocker: &Option<Blocker>,
    syns_before: usize,
) -> String {
    let mut k = match (cause, blocker) {
        (_, Some(b)) => format!(
            "{}{}_{}",
            if b.open { "open_" } else { "tw_" },
            b.how,
            match state {
                AttState::Established => "then_in",
                _ => outcome.unwrap_or("undecided"),
            }
        ),
        (Some(c), None) => c.to_string(),
        (None, None) => "worked".to_string(),
    };
    match blocker.as_ref().map(|b| b.visibility) {
        Some(Visibility::StraddlesStart) => k += "(prev straddles start)",
        Some(Visibility::BeforeCapture) => k += "(prev before capture)",
        _ => {}
    }
    if syns_before > 0 {
        k += "(first SYN before capture)";
    }
    k
}

fn server(p: &Params, svc: &super::model::Service, attempts: &[AttemptTruth]) -> ServerTruth {
    let host = &p.hosts[svc.host];
    let name = format!("{}:{}", ip(host.ip), svc.port);
    let mine: Vec<&AttemptTruth> = attempts.iter().filter(|a| a.server == name).collect();
    let held = |s: &SynTruth| matches!(s.result, "dropped" | "challenged" | "reset_in_time_wait");
    let tw_held = |a: &AttemptTruth| {
        a.blocker
            .as_ref()
            .is_some_and(|b| !b.open && b.visibility == Visibility::InCapture)
    };
    let data_at_least_s = mine
        .iter()
        .filter(|a| tw_held(a))
        .flat_map(|a| a.syns.iter().filter(|s| held(s)).filter_map(|s| s.gap_s))
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
    // Let in after the TIME_WAIT ran out: a later SYN of an attempt the server had held,
    // with no client RST in between (challenge style clears it with the RST).
    let data_at_most_s = mine
        .iter()
        .filter(|a| tw_held(a) && a.blocker.as_ref().is_some_and(|b| b.how == "dropped"))
        .flat_map(|a| {
            a.syns
                .iter()
                .filter(|s| s.result == "accepted")
                .filter_map(|s| s.gap_s)
        })
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.min(g))));
    ServerTruth {
        server: name,
        time_wait_s: host.time_wait_s,
        response_style: host.style,
        kind: match svc.kind {
            ServiceKind::Normal => "normal",
            ServiceKind::Refuses(_) => "refuses",
            ServiceKind::Closed => "closed",
            ServiceKind::Dead => "dead",
        },
        server_closes: svc.server_closes,
        attempts: mine.len(),
        held_syns: mine
            .iter()
            .filter(|a| a.blocker.as_ref().is_some_and(|b| !b.open))
            .map(|a| a.syns.iter().filter(|s| held(s)).count())
            .sum(),
        accepted_advanced_syns: mine
            .iter()
            .flat_map(|a| &a.syns)
            .filter(|s| s.result == "accepted_advanced")
            .count(),
        data_at_least_s,
        data_at_most_s,
    }
}

fn source(sim: &Sim, s: usize, attempts: &[AttemptTruth], index_of: &[usize]) -> SourceTruth {
    let src = &sim.p.sources[s];
    let name = ip(src.ip);
    let mine: Vec<&AttemptTruth> = (0..sim.attempts.len())
        .filter(|&ai| sim.attempts[ai].source == s && index_of[ai] != usize::MAX)
        .map(|ai| &attempts[index_of[ai]])
        .collect();
    let pool_reuses = mine.iter().filter(|a| a.from_pool).count();
    let mut ports: Vec<&str> = mine.iter().map(|a| a.client.as_str()).collect();
    ports.sort_unstable();
    ports.dedup();
    let observed = mine
        .iter()
        .filter_map(|a| a.port_idle_s)
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.min(g))));
    let enough = mine.len() >= 8;
    let (allocator, pattern, pattern_clear, min_idle_s) = match src.allocator {
        Allocator::Pool { min_idle_ns, .. } => {
            let recur = 4 * ports.len() <= 3 * mine.len();
            (
                "pool",
                enough.then_some("pooled"),
                recur,
                Some(min_idle_ns as f64 / 1e9),
            )
        }
        Allocator::Sequential { .. } => ("sequential", enough.then_some("sequential"), true, None),
        Allocator::Random { .. } => ("random", enough.then_some("random"), true, None),
    };
    let (pool_choice, max_in_pool_s) = match src.allocator {
        Allocator::Pool {
            choice,
            max_in_pool_ns,
            ..
        } => (Some(choice), max_in_pool_ns.map(|n| n as f64 / 1e9)),
        _ => (None, None),
    };
    let pool_observed = mine
        .iter()
        .filter(|a| a.from_pool)
        .filter_map(|a| a.port_idle_s)
        .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.min(g))));
    SourceTruth {
        ip: name,
        allocator,
        pattern,
        pattern_clear,
        pool_choice,
        min_idle_s,
        max_in_pool_s,
        min_idle_exercised: match (min_idle_s, pool_observed) {
            (Some(m), Some(o)) => o <= m * EXERCISED,
            _ => false,
        },
        observed_min_idle_s: observed,
        attempts: mine.len(),
        pool_reuses,
        distinct_ports: ports.len(),
    }
}
