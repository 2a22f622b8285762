//! What the charts draw, as plain data ([`ChartInput`]), and the adapter that builds it from
//! the decided attempts in bounded memory ([`ChartBuilder`]).
//!
//! The counts behind the histograms and the timeline are exact (every attempt is counted).
//! The points drawn one by one (the port lanes and the flagged table) keep every flagged
//! attempt up to [`MAX_FLAGGED_POINTS`] and an even sample of the others up to
//! [`MAX_OTHER_POINTS`]; what was left out is counted, so headings say "N of M shown".

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::FxIndexMap;
use crate::attempt::{Attempt, Holder, Outcome};
use crate::tcp::{Endpoint, FrameRef};
use crate::time::{NANOS_PER_SEC, Ts};

use super::bins;

/// Unflagged attempts kept as points (an even sample once there are more).
pub const MAX_OTHER_POINTS: usize = 100_000;
/// Flagged attempts kept as points: all of them up to this many.
pub const MAX_FLAGGED_POINTS: usize = 200_000;
/// Distinct clients, servers and sources the adapter tells apart (beyond: counted only).
pub const MAX_HOSTS: usize = 65_536;
/// Servers that get a TIME_WAIT evidence chart's counts.
pub const MAX_EVIDENCE_SERVERS: usize = 1_024;
/// Most buckets in the outcomes-over-time chart (the width grows to keep under it).
pub const MAX_TIME_BUCKETS: i64 = 60;
/// Cause names told apart (the detect stage has a handful).
const MAX_CAUSES: usize = 250;

/// Who held the 4-tuple's TIME_WAIT when it was reused: the gap histogram keeps them apart,
/// since only a server-held TIME_WAIT makes a collision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeldBy {
    /// The server closed first (or both did): the reuse inside the window is a collision.
    Server,
    /// The client closed first: its own stack allowed the reuse; harmless for the server.
    Client,
    /// The earlier connection ended with a RST: nobody holds TIME_WAIT.
    NoTimeWait,
    /// The end of the earlier connection is not in the capture.
    Unknown,
    /// The earlier connection had neither FIN nor RST: the 4-tuple was still open.
    Open,
}

impl HeldBy {
    pub const ALL: [HeldBy; 5] = [
        HeldBy::Server,
        HeldBy::Client,
        HeldBy::NoTimeWait,
        HeldBy::Unknown,
        HeldBy::Open,
    ];

    pub fn of(holder: Holder, open: bool) -> HeldBy {
        match (open, holder) {
            (true, _) => HeldBy::Open,
            (false, Holder::Server | Holder::Both) => HeldBy::Server,
            (false, Holder::Client) => HeldBy::Client,
            (false, Holder::None) => HeldBy::NoTimeWait,
            (false, Holder::Unknown) => HeldBy::Unknown,
        }
    }

    /// The short name the page's data uses.
    pub fn name(self) -> &'static str {
        match self {
            HeldBy::Server => "server",
            HeldBy::Client => "client",
            HeldBy::NoTimeWait => "none",
            HeldBy::Unknown => "unknown",
            HeldBy::Open => "still open",
        }
    }
}

/// How a reuse's attempt ended, as the gap histograms split it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Failed = 0,
    GotIn = 1,
    Undecided = 2,
}

impl Fate {
    pub fn of(o: Outcome) -> Fate {
        match o {
            Outcome::Established => Fate::GotIn,
            Outcome::Unknown => Fate::Undecided,
            _ => Fate::Failed,
        }
    }
}

/// The earlier connection a point's attempt reused the 4-tuple of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointReuse {
    /// First SYN of the earlier connection.
    pub previous_frame: FrameRef,
    /// Its last packet: the gap is measured from here, the link in the port chart starts here.
    pub previous_end_frame: FrameRef,
    pub gap_ns: i64,
    pub held: HeldBy,
    pub in_window: bool,
}

/// One attempt drawn as a mark (and listed in the table when flagged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    pub frame: FrameRef,
    pub ts: Ts,
    /// Index into [`ChartInput::clients`].
    pub client: u32,
    pub port: u16,
    /// Index into [`ChartInput::servers`].
    pub server: u32,
    pub outcome: Outcome,
    pub flagged: bool,
    pub syn_retransmits: u32,
    pub challenge_acks: u32,
    /// 0: none; i: [`ChartInput::causes`]`[i - 1]`.
    pub cause: u8,
    pub reuse: Option<PointReuse>,
}

impl Point {
    /// When the earlier connection's last packet was sent (the reuse's SYN minus the gap).
    pub fn previous_end(&self) -> Option<Ts> {
        self.reuse.map(|r| self.ts.add_nanos(-r.gap_ns))
    }
}

/// Attempts of one source (client address), counted exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceSeries {
    pub ip: Option<IpAddr>,
    pub attempts: u64,
    pub flagged: u64,
    pub failed: u64,
    /// Of them, kept as points.
    pub shown: u64,
}

/// TIME_WAIT evidence of one server: every SYN sent into a 4-tuple the server held (it had
/// closed the earlier connection first), at its own gap (first SYN's gap + its
/// retransmission offset), binned on [`bins::EVIDENCE_PER_DECADE`] bins per decade.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerEvidence {
    pub server: Option<Endpoint>,
    /// Bin → SYNs ignored (nothing came back to them).
    pub ignored: BTreeMap<i32, u64>,
    /// Bin → SYNs answered by a challenge ACK.
    pub challenged: BTreeMap<i32, u64>,
    /// Bin → SYNs the server accepted (the SYN-ACK followed that SYN).
    pub accepted: BTreeMap<i32, u64>,
    /// TIME_WAIT bracket from the diagnosis (at least, at most), in ns; the adapter leaves
    /// it empty: [`ChartInput::set_bracket`] fills it in.
    pub bracket: (Option<i64>, Option<i64>),
    /// Longest gap of a held SYN and shortest of an accepted one (exact, for captions).
    pub longest_held_ns: Option<i64>,
    pub shortest_accepted_ns: Option<i64>,
}

impl ServerEvidence {
    pub fn syns(&self) -> u64 {
        [&self.ignored, &self.challenged, &self.accepted]
            .iter()
            .flat_map(|m| m.values())
            .sum()
    }
}

/// Attempts per time bucket by outcome (exact), buckets `width_ns` wide from `anchor`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    pub width_ns: i64,
    pub anchor: Option<Ts>,
    /// Bucket index → counts by `Outcome as usize`.
    pub buckets: BTreeMap<i64, [u64; 6]>,
}

/// Bucket widths, each a multiple of the one before (so buckets merge exactly).
const WIDTHS_MS: [i64; 14] = [
    100, 200, 1_000, 2_000, 10_000, 20_000, 60_000, 120_000, 600_000, 1_200_000, 3_600_000,
    7_200_000, 21_600_000, 43_200_000,
];

impl Timeline {
    fn add(&mut self, ts: Ts, o: Outcome) {
        if self.width_ns == 0 {
            self.width_ns = WIDTHS_MS[0] * 1_000_000;
        }
        let anchor = *self.anchor.get_or_insert(ts);
        let i = ts.since(anchor).div_euclid(self.width_ns);
        self.buckets.entry(i).or_default()[o as usize] += 1;
        while self.span() > MAX_TIME_BUCKETS {
            self.widen();
        }
    }

    fn span(&self) -> i64 {
        match (self.buckets.keys().next(), self.buckets.keys().next_back()) {
            (Some(a), Some(b)) => b - a + 1,
            _ => 0,
        }
    }

    /// The next width (then whole days, doubling), merging the buckets into it.
    fn widen(&mut self) {
        let ms = self.width_ns / 1_000_000;
        let next = WIDTHS_MS
            .iter()
            .copied()
            .find(|w| *w > ms)
            .unwrap_or(if ms < 86_400_000 { 86_400_000 } else { ms * 2 });
        let factor = next / ms;
        let old = std::mem::take(&mut self.buckets);
        for (i, c) in old {
            let b = self.buckets.entry(i.div_euclid(factor)).or_default();
            for (n, m) in b.iter_mut().zip(c) {
                *n += m;
            }
        }
        self.width_ns = next * 1_000_000;
    }
}

/// Counts of what the page shows and what it left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub attempts: u64,
    pub flagged: u64,
    /// Flagged attempts kept as points (all, unless over MAX_FLAGGED_POINTS).
    pub flagged_shown: u64,
    /// Unflagged attempts kept as points (a sample of 1 in `stride`).
    pub other_shown: u64,
    pub stride: u64,
    /// Points left out because a host dictionary was full.
    pub hosts_left_out: u64,
    /// Attempts from sources beyond MAX_HOSTS (counted in no source).
    pub sources_left_out: u64,
    /// SYNs of servers beyond MAX_EVIDENCE_SERVERS.
    pub evidence_left_out: u64,
}

impl Totals {
    pub fn shown(&self) -> u64 {
        self.flagged_shown + self.other_shown
    }
}

/// Everything the charts and the flagged table draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartInput {
    /// `--time-wait`.
    pub window_ns: i64,
    /// The first and last frame of the capture (the time axis).
    pub origin: Ts,
    pub end: Ts,
    /// File names, for frame labels (`name#123` when there are several).
    pub files: Vec<String>,
    /// In time order.
    pub points: Vec<Point>,
    pub clients: Vec<IpAddr>,
    pub servers: Vec<Endpoint>,
    pub causes: Vec<String>,
    /// Busiest first (most flagged, then most attempts).
    pub sources: Vec<SourceSeries>,
    /// (who held TIME_WAIT, gap bin of [`bins::PER_DECADE`]) → reuses by [`Fate`].
    pub reuse_gaps: BTreeMap<(HeldBy, i32), [u64; 3]>,
    /// In order of their first evidence.
    pub evidence: Vec<ServerEvidence>,
    pub timeline: Timeline,
    pub totals: Totals,
}

impl ChartInput {
    /// Draws the diagnosis's TIME_WAIT bracket of `server` on its evidence chart.
    pub fn set_bracket(
        &mut self,
        server: Endpoint,
        at_least_ns: Option<i64>,
        at_most_ns: Option<i64>,
    ) {
        if let Some(e) = self.evidence.iter_mut().find(|e| e.server == Some(server)) {
            e.bracket = (at_least_ns, at_most_ns);
        }
    }

    /// `frame 12`, or `b.pcap#12` with several files.
    pub fn frame_label(&self, f: FrameRef) -> String {
        match self.files.get(f.file as usize) {
            Some(name) if self.files.len() > 1 => format!("{name}#{}", f.number),
            _ => f.number.to_string(),
        }
    }
}

/// Builds a [`ChartInput`] from decided attempts, one at a time, in bounded memory.
pub struct ChartBuilder {
    window_ns: i64,
    flagged: Vec<Point>,
    other: Vec<Point>,
    seen_other: u64,
    clients: crate::FxIndexMap<IpAddr, ()>,
    servers: crate::FxIndexMap<Endpoint, ()>,
    causes: Vec<String>,
    sources: FxIndexMap<IpAddr, SourceSeries>,
    reuse_gaps: BTreeMap<(HeldBy, i32), [u64; 3]>,
    evidence: FxIndexMap<Endpoint, ServerEvidence>,
    timeline: Timeline,
    totals: Totals,
}

impl ChartBuilder {
    pub fn new(window_ns: i64) -> ChartBuilder {
        ChartBuilder {
            window_ns: window_ns.max(1),
            flagged: Vec::new(),
            other: Vec::new(),
            seen_other: 0,
            clients: Default::default(),
            servers: Default::default(),
            causes: Vec::new(),
            sources: Default::default(),
            reuse_gaps: BTreeMap::new(),
            evidence: Default::default(),
            timeline: Timeline::default(),
            totals: Totals {
                stride: 1,
                ..Totals::default()
            },
        }
    }

    /// Adds an attempt flagged as `Attempt::is_flagged` says, without a cause.
    pub fn add(&mut self, a: &Attempt) {
        self.add_judged(a, a.is_flagged(), None);
    }

    /// Adds an attempt with the detect stage's judgement: flagged, and its cause's name.
    pub fn add_judged(&mut self, a: &Attempt, flagged: bool, cause: Option<&str>) {
        let t = &mut self.totals;
        t.attempts += 1;
        t.flagged += u64::from(flagged);
        self.timeline.add(a.ts, a.outcome);
        self.count_source(a, flagged);
        if let Some(r) = a.reuse {
            let held = HeldBy::of(r.holder, r.open);
            let bin = bins::bin(r.gap_ns, self.window_ns, bins::PER_DECADE);
            self.reuse_gaps.entry((held, bin)).or_default()[Fate::of(a.outcome) as usize] += 1;
            if held == HeldBy::Server {
                self.add_evidence(a, r.gap_ns);
            }
        }
        if flagged {
            if self.flagged.len() < MAX_FLAGGED_POINTS
                && let Some(p) = self.point(a, true, cause)
            {
                self.flagged.push(p);
            }
        } else {
            self.add_other(a);
        }
    }

    fn count_source(&mut self, a: &Attempt, flagged: bool) {
        let full = self.sources.len() >= MAX_HOSTS;
        let s = match self.sources.get_mut(&a.client.ip) {
            Some(s) => s,
            None if full => {
                self.totals.sources_left_out += 1;
                return;
            }
            None => self.sources.entry(a.client.ip).or_insert(SourceSeries {
                ip: Some(a.client.ip),
                ..Default::default()
            }),
        };
        s.attempts += 1;
        s.flagged += u64::from(flagged);
        s.failed += u64::from(a.outcome.is_failure());
    }

    /// Every SYN of an attempt into a server-held 4-tuple, at its own gap: the ones before
    /// the answered SYN were ignored (or challenged), the answered one accepted.
    fn add_evidence(&mut self, a: &Attempt, gap_ns: i64) {
        let (held_syns, accepted_syn) = match a.outcome {
            Outcome::Established => match a.answered_syn {
                Some(n) => (n.min(a.syn_retransmits), Some(n.min(a.syn_retransmits))),
                // Which SYN got in is not known: only the last one is evidence.
                None => (0, Some(a.syn_retransmits)),
            },
            Outcome::Unanswered | Outcome::ChallengeAck => (a.syn_retransmits + 1, None),
            _ => return,
        };
        let full = self.evidence.len() >= MAX_EVIDENCE_SERVERS;
        let e = match self.evidence.get_mut(&a.server) {
            Some(e) => e,
            None if full => {
                self.totals.evidence_left_out += u64::from(held_syns) + 1;
                return;
            }
            None => self.evidence.entry(a.server).or_insert(ServerEvidence {
                server: Some(a.server),
                ..Default::default()
            }),
        };
        let at = |k: u32| -> Option<i64> {
            let offset_us = match k {
                0 => 0,
                k => *a.retransmit_us.get(k as usize - 1)?,
            };
            // Retransmissions past the kept schedule have no time: not drawn.
            (k == 0 || offset_us > 0).then(|| gap_ns.saturating_add(i64::from(offset_us) * 1000))
        };
        let challenged = a.challenge_acks > 0;
        let per = bins::EVIDENCE_PER_DECADE;
        for k in 0..held_syns {
            let Some(g) = at(k) else { continue };
            let map = if challenged {
                &mut e.challenged
            } else {
                &mut e.ignored
            };
            *map.entry(bins::bin(g, self.window_ns, per)).or_default() += 1;
            e.longest_held_ns = Some(e.longest_held_ns.map_or(g, |m| m.max(g)));
        }
        if let Some(g) = accepted_syn.and_then(at) {
            *e.accepted
                .entry(bins::bin(g, self.window_ns, per))
                .or_default() += 1;
            e.shortest_accepted_ns = Some(e.shortest_accepted_ns.map_or(g, |m| m.min(g)));
        }
    }

    /// An even sample of the unflagged attempts: past MAX_OTHER_POINTS every other point is
    /// dropped and from then on only every 2nd, 4th, ... attempt is taken.
    fn add_other(&mut self, a: &Attempt) {
        let index = self.seen_other;
        self.seen_other += 1;
        let stride = self.totals.stride;
        if !index.is_multiple_of(stride) {
            return;
        }
        if self.other.len() >= MAX_OTHER_POINTS {
            let mut i = 0;
            self.other.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.totals.stride = stride * 2;
            if !index.is_multiple_of(stride * 2) {
                return;
            }
        }
        if let Some(p) = self.point(a, false, None) {
            self.other.push(p);
        }
    }

    fn point(&mut self, a: &Attempt, flagged: bool, cause: Option<&str>) -> Option<Point> {
        let (Some(client), Some(server)) = (
            intern(&mut self.clients, a.client.ip),
            intern(&mut self.servers, a.server),
        ) else {
            self.totals.hosts_left_out += 1;
            return None;
        };
        let cause = cause.map_or(0, |c| self.cause_index(c));
        Some(Point {
            frame: a.frame,
            ts: a.ts,
            client,
            port: a.client.port,
            server,
            outcome: a.outcome,
            flagged,
            syn_retransmits: a.syn_retransmits,
            challenge_acks: a.challenge_acks,
            cause,
            reuse: a.reuse.map(|r| PointReuse {
                previous_frame: r.previous_frame,
                previous_end_frame: r.previous_end_frame,
                gap_ns: r.gap_ns,
                held: HeldBy::of(r.holder, r.open),
                in_window: r.in_window,
            }),
        })
    }

    fn cause_index(&mut self, cause: &str) -> u8 {
        if let Some(i) = self.causes.iter().position(|c| c == cause) {
            return (i + 1) as u8;
        }
        if self.causes.len() >= MAX_CAUSES {
            return 0;
        }
        self.causes.push(cause.to_string());
        self.causes.len() as u8
    }

    /// The input for the page; `origin` and `end` are the capture's first and last frame
    /// (the attempts' own span when not given).
    pub fn finish(self, origin: Option<Ts>, end: Option<Ts>, files: Vec<String>) -> ChartInput {
        let mut points = self.flagged;
        points.extend(self.other);
        points.sort_by_key(|p| (p.ts, p.frame.file, p.frame.number));
        let first = points.first().map(|p| p.ts);
        let last = points.last().map(|p| p.ts);
        let origin = origin.or(first).unwrap_or_default();
        let end = end.or(last).unwrap_or(origin).max(origin);
        let clients: Vec<IpAddr> = self.clients.into_keys().collect();
        let mut sources: Vec<SourceSeries> = self.sources.into_values().collect();
        let mut shown: FxIndexMap<u32, u64> = FxIndexMap::default();
        for p in &points {
            *shown.entry(p.client).or_default() += 1;
        }
        for s in &mut sources {
            let i = s.ip.and_then(|ip| clients.iter().position(|c| *c == ip));
            s.shown = i.and_then(|i| shown.get(&(i as u32)).copied()).unwrap_or(0);
        }
        sources.sort_by(|a, b| {
            (b.flagged, b.attempts)
                .cmp(&(a.flagged, a.attempts))
                .then(a.ip.cmp(&b.ip))
        });
        let mut totals = self.totals;
        totals.flagged_shown = points.iter().filter(|p| p.flagged).count() as u64;
        totals.other_shown = points.len() as u64 - totals.flagged_shown;
        ChartInput {
            window_ns: self.window_ns,
            origin,
            end,
            files,
            points,
            clients,
            servers: self.servers.into_keys().collect(),
            causes: self.causes,
            sources,
            reuse_gaps: self.reuse_gaps,
            evidence: self.evidence.into_values().collect(),
            timeline: self.timeline,
            totals,
        }
    }
}

fn intern<K: std::hash::Hash + Eq>(map: &mut crate::FxIndexMap<K, ()>, key: K) -> Option<u32> {
    if let Some(i) = map.get_index_of(&key) {
        return Some(i as u32);
    }
    if map.len() >= MAX_HOSTS * 4 {
        return None;
    }
    Some(map.insert_full(key, ()).0 as u32)
}

/// Seconds of a nanosecond count, for the page's numbers.
pub fn secs(ns: i64) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::Reuse;
    use crate::tcp::Seq;

    const S: i64 = NANOS_PER_SEC;

    fn frame(number: u64) -> FrameRef {
        FrameRef { file: 0, number }
    }

    fn attempt(i: u64, port: u16, outcome: Outcome, reuse_gap_s: Option<f64>) -> Attempt {
        let client = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port,
        };
        let server = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 110,
        };
        let mut a = Attempt::from_syn(frame(i), Ts(i as i64 * S), client, server, Seq(0));
        a.outcome = outcome;
        a.reuse = reuse_gap_s.map(|g| Reuse {
            previous_frame: frame(1),
            previous_ts: Ts(0),
            previous_end_frame: frame(2),
            gap_ns: (g * S as f64) as i64,
            in_window: g < 240.0,
            holder: Holder::Server,
            open: false,
            isn_advanced: None,
            ts_advanced: None,
        });
        a
    }

    #[test]
    fn every_flagged_attempt_is_kept_and_the_rest_sampled_evenly() {
        let mut b = ChartBuilder::new(240 * S);
        let n = (MAX_OTHER_POINTS * 3) as u64;
        for i in 0..n {
            let failed = i % 1000 == 7;
            let o = if failed {
                Outcome::Unanswered
            } else {
                Outcome::Established
            };
            b.add(&attempt(i + 10, 3000 + (i % 50) as u16, o, None));
        }
        let input = b.finish(None, None, vec![]);
        let t = input.totals;
        assert_eq!(t.attempts, n);
        assert_eq!((t.flagged, t.flagged_shown), (300, 300));
        assert!(t.other_shown <= MAX_OTHER_POINTS as u64, "{t:?}");
        assert!(t.other_shown >= MAX_OTHER_POINTS as u64 / 2, "{t:?}");
        assert_eq!(t.stride, 4);
        assert_eq!(t.shown(), input.points.len() as u64);
        assert!(input.points.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert_eq!(input.sources.len(), 1);
        assert_eq!(input.sources[0].shown, t.shown());
        assert_eq!(input.sources[0].attempts, n);
        // The timeline counts every attempt, not the sample.
        let counted: u64 = input.timeline.buckets.values().flatten().sum();
        assert_eq!(counted, n);
        assert!(input.timeline.buckets.len() as i64 <= MAX_TIME_BUCKETS);
    }

    #[test]
    fn flagged_points_beyond_the_budget_are_counted_not_kept() {
        let mut b = ChartBuilder::new(240 * S);
        for i in 0..(MAX_FLAGGED_POINTS + 5) as u64 {
            b.add(&attempt(i, 3000, Outcome::Unanswered, None));
        }
        let t = b.finish(None, None, vec![]).totals;
        assert_eq!(t.flagged - t.flagged_shown, 5);
    }

    #[test]
    fn timeline_widths_merge_exactly() {
        let mut t = Timeline::default();
        for s in 0..1000 {
            t.add(Ts(s * S), Outcome::Established);
        }
        assert_eq!(t.width_ns, 20 * S, "1000 s in at most 60 buckets");
        assert_eq!(t.buckets.len(), 50);
        assert!(t.buckets.values().all(|c| c[0] == 20));
    }

    #[test]
    fn evidence_puts_each_syn_at_its_own_gap() {
        let mut b = ChartBuilder::new(240 * S);
        // Ignored three times (at 5, 8 and 14 s), then nothing.
        let mut a = attempt(100, 3000, Outcome::Unanswered, Some(5.0));
        a.syn_retransmits = 2;
        a.retransmit_us[..2].copy_from_slice(&[3_000_000, 9_000_000]);
        b.add(&a);
        // Ignored at 250 s, accepted at its retransmission 253 s.
        let mut a = attempt(101, 3001, Outcome::Established, Some(250.0));
        a.syn_retransmits = 1;
        a.answered_syn = Some(1);
        a.retransmit_us[0] = 3_000_000;
        b.add(&a);
        // A client-held reuse is no evidence about the server.
        let mut a = attempt(102, 3002, Outcome::Established, Some(1.0));
        a.reuse.as_mut().unwrap().holder = Holder::Client;
        b.add(&a);
        let input = b.finish(None, None, vec![]);
        let e = &input.evidence[0];
        assert_eq!(e.syns(), 5);
        assert_eq!(e.ignored.values().sum::<u64>(), 4);
        assert_eq!(e.longest_held_ns, Some(250 * S));
        assert_eq!(e.shortest_accepted_ns, Some(253 * S));
        let per = bins::EVIDENCE_PER_DECADE;
        assert!(e.ignored.contains_key(&bins::bin(14 * S, 240 * S, per)));
        assert_eq!(input.reuse_gaps.len(), 3);
        assert!(input.reuse_gaps.keys().any(|k| k.0 == HeldBy::Client));
    }
}
