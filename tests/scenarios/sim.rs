//! The discrete-event simulation: clients behind the sources' allocators, the servers'
//! per-4-tuple state (open, TIME_WAIT until it expires or a RST ends it), and every packet at
//! the capture point. The truth is read off this state afterwards (truth.rs).
//!
//! Times: one clock in ns. A packet a source sends at `t` passes the capture point (next to
//! the servers) at `t + owd`; a server's packet passes it when sent and reaches the source
//! `owd` later.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::alloc::AllocState;
use super::model::{IsnMode, MS, Params, SEC, ServiceKind, Style, TsMode};
use super::pcap::{ACK, PSH, Packet, RST, SYN};
use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub client: ([u8; 4], u16),
    pub server: ([u8; 4], u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Windows,
    Linux(u32),
}

impl Os {
    /// Offsets of the SYN and its retransmissions after the first, and the give-up time.
    pub fn schedule(self) -> (Vec<f64>, f64) {
        match self {
            Os::Windows => (vec![0.0, 3.0, 9.0], 21.0),
            Os::Linux(r) => (
                (0..=r).map(|k| f64::from((1u32 << k) - 1)).collect(),
                super::model::give_up_s(r),
            ),
        }
    }
}

/// What a server did with one SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynResult {
    Pending,
    /// SYN-ACK. `prev`: the connection the 4-tuple last carried; `advanced`: it was let in
    /// during that connection's TIME_WAIT because its ISN or timestamp advanced.
    Accepted {
        prev: Option<usize>,
        advanced: bool,
    },
    /// Held by connection `conn`: in its TIME_WAIT (`open` false) or still open.
    Dropped {
        conn: usize,
    },
    Challenged {
        conn: usize,
        open: bool,
    },
    ResetInTimeWait {
        conn: usize,
    },
    ClosedPort,
    NoListener,
}

pub struct Syn {
    pub pkt: usize,
    /// Capture time.
    pub t: u64,
    pub tsval: Option<u32>,
    pub result: SynResult,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttState {
    Pending,
    Established,
    Refused,
    GaveUp,
}

pub struct Attempt {
    pub source: usize,
    pub service: usize,
    pub tuple: Tuple,
    pub isn: u32,
    pub ts_offset: Option<u32>,
    pub os: Os,
    /// NAT time of the first SYN.
    pub t0: u64,
    pub syns: Vec<Syn>,
    pub state: AttState,
    pub conn: Option<usize>,
    /// Packets answering SYNs (SYN-ACK, RST, challenge ACK) and the client's RSTs.
    pub synack: Option<usize>,
    pub resets: Vec<usize>,
    pub challenges: Vec<usize>,
    /// Every packet of this attempt and its connection.
    pub pkts: Vec<usize>,
    pub from_pool: bool,
    /// The previous use of this source port: its attempt and last packet (capture time).
    pub port_prev: Option<(usize, u64)>,
    generation: u32,
    rst_answers: u32,
}

/// An established connection as the server keeps it.
pub struct Conn {
    pub attempt: usize,
    /// Capture time of its last packet; `None` while the server keeps it open (abandoned).
    pub end: Option<u64>,
    pub last_pkt: usize,
    pub holder: Holder,
    pub server_tw_until: Option<u64>,
    /// A client RST (answering a challenge ACK) ended its TIME_WAIT or open state, or a SYN
    /// accepted in its TIME_WAIT replaced it.
    pub ended_early: Option<u64>,
    pub cli_nxt: u32,
    pub srv_nxt: u32,
    pub ts_recent: Option<u32>,
    pub refusal: Option<super::model::Refusal>,
    /// First packet of the application's refusal (reject, FIN or RST).
    pub refusal_pkt: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    Server,
    Client,
    Both,
    None,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Demand(usize),
    Busy(usize),
    SendSyn(usize, u32),
    SynArrive(usize, usize),
    SynAckArrive(usize),
    ChallengeArrive(usize, usize),
    ClientRstArrive(usize, usize),
    RstArrive(usize),
    GiveUp(usize, u32),
    Release(usize),
    Background,
}

pub struct Sim<'p> {
    pub p: &'p Params,
    pub(super) rng: Rng,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    order: u64,
    pub packets: Vec<Packet>,
    pub attempts: Vec<Attempt>,
    pub conns: Vec<Conn>,
    tuples: HashMap<Tuple, usize>,
    alloc: Vec<AllocState>,
    port_last: HashMap<(usize, u16), (usize, u64)>,
    busy: Vec<bool>,
    ts_base: Vec<u32>,
    /// A long-lived session (begun before the capture) that keeps the capture going to its
    /// end, as ordinary traffic does: client and server sequence numbers.
    background: (u32, u32),
}

impl<'p> Sim<'p> {
    pub fn run(p: &'p Params) -> Sim<'p> {
        let mut rng = Rng::new(p.seed).fork(99);
        let ts_base = (0..p.sources.len() + p.hosts.len())
            .map(|_| rng.u32())
            .collect();
        let mut sim = Sim {
            p,
            rng,
            queue: BinaryHeap::new(),
            order: 0,
            packets: Vec::new(),
            attempts: Vec::new(),
            conns: Vec::new(),
            tuples: HashMap::new(),
            alloc: p
                .sources
                .iter()
                .map(|s| AllocState::new(s.allocator))
                .collect(),
            port_last: HashMap::new(),
            busy: vec![true; p.sources.len()],
            ts_base,
            background: (0, 0),
        };
        sim.background = (sim.rng.u32(), sim.rng.u32());
        let first = sim.rng.range(0, SEC);
        sim.at(first, Ev::Background);
        for s in 0..p.sources.len() {
            let first = sim.rng.exp(1.0 / p.sources[s].busy_rate);
            sim.at((first * 1e9) as u64, Ev::Demand(s));
            if let Some((busy, _)) = p.sources[s].periods {
                let t = sim.rng.exp(busy);
                sim.at((t * 1e9) as u64, Ev::Busy(s));
            }
        }
        while let Some(Reverse((t, _, ev))) = sim.queue.pop() {
            if t > p.capture_end_ns + 200 * SEC {
                break;
            }
            sim.handle(t, ev);
        }
        sim
    }

    fn at(&mut self, t: u64, ev: Ev) {
        self.order += 1;
        self.queue.push(Reverse((t, self.order, ev)));
    }

    pub(super) fn emit(&mut self, att: usize, pkt: Packet) -> usize {
        let id = self.packets.len();
        self.packets.push(pkt);
        self.attempts[att].pkts.push(id);
        id
    }

    pub(super) fn client_ts(&self, att: usize, t: u64) -> Option<u32> {
        self.attempts[att]
            .ts_offset
            .map(|o| o.wrapping_add((t / MS) as u32))
    }

    pub(super) fn server_ts(&self, host: usize, t: u64) -> u32 {
        self.ts_base[self.p.sources.len() + host].wrapping_add((t / MS) as u32)
    }

    pub(super) fn owd(&self, att: usize) -> u64 {
        self.p.sources[self.attempts[att].source].owd_ns
    }

    fn handle(&mut self, t: u64, ev: Ev) {
        match ev {
            Ev::Demand(s) => self.demand(t, s),
            Ev::Busy(s) => {
                self.busy[s] = !self.busy[s];
                let (busy, quiet) = self.p.sources[s].periods.expect("on/off source");
                let mean = if self.busy[s] { busy } else { quiet };
                let next = t + (self.rng.exp(mean) * 1e9) as u64;
                self.at(next, Ev::Busy(s));
            }
            Ev::SendSyn(a, generation) if self.attempts[a].generation == generation => {
                self.send_syn(t, a)
            }
            Ev::SynArrive(a, k) => self.syn_arrive(t, a, k),
            Ev::SynAckArrive(a) => {
                if self.attempts[a].state == AttState::Pending {
                    self.attempts[a].state = AttState::Established;
                    self.attempts[a].generation += 1;
                    let release = self.connection(a, t);
                    self.at(release, Ev::Release(a));
                }
            }
            Ev::ChallengeArrive(a, conn) => self.answer_challenge(t, a, conn),
            Ev::ClientRstArrive(a, conn) => {
                let _ = a;
                let c = &mut self.conns[conn];
                if c.ended_early.is_none() {
                    c.ended_early = Some(t); // rfc1337 = 0: a RST ends TIME_WAIT
                }
            }
            Ev::RstArrive(a) => self.rst_arrive(t, a),
            Ev::GiveUp(a, generation) if self.attempts[a].generation == generation => {
                self.attempts[a].state = AttState::GaveUp;
                self.at(t, Ev::Release(a));
            }
            Ev::Release(a) => self.release(t, a),
            Ev::Background => self.background(t),
            Ev::SendSyn(..) | Ev::GiveUp(..) => {}
        }
    }

    /// One request (48 bytes) and its answer on the background session (an SSH-like
    /// monitoring session from 10.30.0.5 to the first server on port 22).
    fn background(&mut self, t: u64) {
        let (client, server) = (([10, 30, 0, 5], 40022), (self.p.hosts[0].ip, 22));
        let (cli, srv) = self.background;
        let mut pkt = Packet {
            t,
            src: client.0,
            dst: server.0,
            sport: client.1,
            dport: server.1,
            seq: cli,
            ack: srv,
            flags: PSH | ACK,
            window: 64240,
            syn_options: false,
            ts: None,
            payload_len: 48,
            text: None,
            ttl: 63,
        };
        self.packets.push(pkt.clone());
        pkt.t = t + self.p.hosts[0].delay_ns + 2 * MS;
        (pkt.src, pkt.dst, pkt.sport, pkt.dport) = (server.0, client.0, server.1, client.1);
        (pkt.seq, pkt.ack, pkt.ttl) = (srv, cli.wrapping_add(48), self.p.hosts[0].ttl);
        self.packets.push(pkt);
        self.background = (cli.wrapping_add(48), srv.wrapping_add(48));
        if t < self.p.capture_end_ns {
            let next = t + self.rng.range(SEC / 2, 5 * SEC);
            self.at(next, Ev::Background);
        }
    }

    fn demand(&mut self, t: u64, s: usize) {
        let src = &self.p.sources[s];
        let next = t + (self.rng.exp(1.0 / src.busy_rate) * 1e9) as u64;
        if next < self.p.demand_end_ns && self.attempts.len() < self.p.max_attempts {
            self.at(next, Ev::Demand(s));
        }
        // Thinning: candidates come at the busy rate, kept at the current rate.
        if !self.busy[s] && !self.rng.chance(src.quiet_rate / src.busy_rate) {
            return;
        }
        let service = self.rng.weighted(&src.weights);
        let Some(got) = self.alloc[s].allocate(t, &mut self.rng) else {
            return;
        };
        let svc = &self.p.services[service];
        let tuple = Tuple {
            client: (src.ip, got.port),
            server: (self.p.hosts[svc.host].ip, svc.port),
        };
        let isn = match src.isn {
            IsnMode::Random => self.rng.u32(),
            IsnMode::Clock => {
                let h = fnv(&tuple, self.ts_base[s]);
                h.wrapping_add((t / 4000) as u32)
            }
        };
        let ts_offset = match src.ts {
            TsMode::Off => None,
            TsMode::Monotonic => Some(self.ts_base[s]),
            TsMode::PerConnection => Some(self.rng.u32()),
        };
        let os = if self.rng.chance(src.windows_share) {
            Os::Windows
        } else {
            Os::Linux(src.linux_syn_retries)
        };
        let a = self.attempts.len();
        self.attempts.push(Attempt {
            source: s,
            service,
            tuple,
            isn,
            ts_offset,
            os,
            t0: t,
            syns: Vec::new(),
            state: AttState::Pending,
            conn: None,
            synack: None,
            resets: Vec::new(),
            challenges: Vec::new(),
            pkts: Vec::new(),
            from_pool: got.from_pool,
            port_prev: self.port_last.get(&(s, got.port)).copied(),
            generation: 0,
            rst_answers: 0,
        });
        self.send_syn(t, a);
    }

    /// The client sends its SYN (first or retransmission) and arms the next timer.
    fn send_syn(&mut self, t: u64, a: usize) {
        if self.attempts[a].state != AttState::Pending {
            return;
        }
        let owd = self.owd(a);
        let at = &self.attempts[a];
        let tsval = self.client_ts(a, t);
        let pkt = Packet {
            t: t + owd,
            src: at.tuple.client.0,
            dst: at.tuple.server.0,
            sport: at.tuple.client.1,
            dport: at.tuple.server.1,
            seq: at.isn,
            ack: 0,
            flags: SYN,
            window: 64240,
            syn_options: true,
            ts: tsval.map(|v| (v, 0)),
            payload_len: 0,
            text: None,
            ttl: 127,
        };
        let k = at.syns.len();
        let id = self.emit(a, pkt);
        self.attempts[a].syns.push(Syn {
            pkt: id,
            t: t + owd,
            tsval,
            result: SynResult::Pending,
        });
        self.at(t + owd, Ev::SynArrive(a, k));
        let at = &self.attempts[a];
        let generation = at.generation;
        if at.rst_answers > 0 {
            // A refused SYN sent again (Windows): give up if this one is not answered.
            self.at(t + 3 * SEC, Ev::GiveUp(a, generation));
            return;
        }
        let (offsets, give_up) = at.os.schedule();
        let jitter = self.rng.range(0, 3 * MS);
        match offsets.get(k + 1) {
            Some(off) => self.at(
                at.t0 + (off * 1e9) as u64 + jitter,
                Ev::SendSyn(a, generation),
            ),
            None => self.at(at.t0 + (give_up * 1e9) as u64, Ev::GiveUp(a, generation)),
        }
    }

    fn syn_arrive(&mut self, t: u64, a: usize, k: usize) {
        let at = &self.attempts[a];
        let svc = &self.p.services[at.service];
        let host = &self.p.hosts[svc.host];
        let reply_t = t + host.delay_ns;
        let result = match svc.kind {
            ServiceKind::Dead => SynResult::NoListener,
            ServiceKind::Closed => {
                self.server_rst(a, reply_t);
                SynResult::ClosedPort
            }
            ServiceKind::Normal | ServiceKind::Refuses(_) => self.listener(t, a, k),
        };
        self.attempts[a].syns[k].result = result;
    }

    /// A listening port: the 4-tuple's state decides.
    fn listener(&mut self, t: u64, a: usize, k: usize) -> SynResult {
        let tuple = self.attempts[a].tuple;
        let host = self.p.services[self.attempts[a].service].host;
        let style = self.p.hosts[host].style;
        let reply_t = t + self.p.hosts[host].delay_ns;
        let Some(&ci) = self.tuples.get(&tuple) else {
            return self.accept(t, a, k, None, false);
        };
        let c = &self.conns[ci];
        let alive = |until: Option<u64>| until.is_none_or(|u| t < u);
        let cut = c.ended_early.is_none_or(|e| t < e);
        if c.end.is_none() && cut {
            self.challenge(a, ci, reply_t);
            return SynResult::Challenged {
                conn: ci,
                open: true,
            };
        }
        let in_tw = c.server_tw_until.is_some() && alive(c.server_tw_until) && cut;
        if !in_tw {
            return self.accept(t, a, k, Some(ci), false);
        }
        // RFC 1122 4.2.2.13 / RFC 6191: a SYN whose ISN is above the old connection's last
        // sequence number, or whose timestamp advanced, may reopen the 4-tuple.
        let isn_adv = seq_gt(self.attempts[a].isn, c.cli_nxt);
        let ts_adv = match (self.attempts[a].syns[k].tsval, c.ts_recent) {
            (Some(new), Some(old)) => seq_gt(new, old),
            _ => false,
        };
        if self.p.hosts[host].accepts_advanced && (isn_adv || ts_adv) {
            self.conns[ci].ended_early = Some(t);
            return self.accept(t, a, k, Some(ci), true);
        }
        match style {
            Style::SilentDrop | Style::Accept => SynResult::Dropped { conn: ci },
            Style::ChallengeAck => {
                self.challenge(a, ci, reply_t);
                SynResult::Challenged {
                    conn: ci,
                    open: false,
                }
            }
            Style::Rst => {
                self.server_rst(a, reply_t);
                SynResult::ResetInTimeWait { conn: ci }
            }
        }
    }

    fn accept(
        &mut self,
        t: u64,
        a: usize,
        k: usize,
        prev: Option<usize>,
        advanced: bool,
    ) -> SynResult {
        let at = &self.attempts[a];
        let host = self.p.services[at.service].host;
        let reply_t = t + self.p.hosts[host].delay_ns;
        let iss = self.rng.u32();
        let ts = at.syns[k].tsval.map(|v| (self.server_ts(host, reply_t), v));
        let pkt = Packet {
            t: reply_t,
            src: at.tuple.server.0,
            dst: at.tuple.client.0,
            sport: at.tuple.server.1,
            dport: at.tuple.client.1,
            seq: iss,
            ack: at.isn.wrapping_add(1),
            flags: SYN | ACK,
            window: 65535,
            syn_options: true,
            ts,
            payload_len: 0,
            text: None,
            ttl: self.p.hosts[host].ttl,
        };
        let id = self.emit(a, pkt);
        self.attempts[a].synack = Some(id);
        let ci = self.conns.len();
        self.conns.push(Conn {
            attempt: a,
            end: Some(u64::MAX), // set when the connection is played out
            last_pkt: id,
            holder: Holder::Open,
            server_tw_until: None,
            ended_early: None,
            cli_nxt: self.attempts[a].isn.wrapping_add(1),
            srv_nxt: iss.wrapping_add(1),
            ts_recent: None,
            refusal: None,
            refusal_pkt: None,
        });
        self.attempts[a].conn = Some(ci);
        self.tuples.insert(self.attempts[a].tuple, ci);
        let owd = self.owd(a);
        self.at(reply_t + owd, Ev::SynAckArrive(a));
        SynResult::Accepted { prev, advanced }
    }

    fn server_rst(&mut self, a: usize, t: u64) {
        let at = &self.attempts[a];
        let ttl = self.p.hosts[self.p.services[at.service].host].ttl;
        let pkt = Packet {
            t,
            src: at.tuple.server.0,
            dst: at.tuple.client.0,
            sport: at.tuple.server.1,
            dport: at.tuple.client.1,
            seq: 0,
            ack: at.isn.wrapping_add(1),
            flags: RST | ACK,
            window: 0,
            syn_options: false,
            ts: None,
            payload_len: 0,
            text: None,
            ttl,
        };
        let id = self.emit(a, pkt);
        self.attempts[a].resets.push(id);
        let owd = self.owd(a);
        self.at(t + owd, Ev::RstArrive(a));
    }

    /// The server's bare ACK with the held connection's sequence numbers.
    fn challenge(&mut self, a: usize, ci: usize, t: u64) {
        let at = &self.attempts[a];
        let host = self.p.services[at.service].host;
        let c = &self.conns[ci];
        let ts = c.ts_recent.map(|r| (self.server_ts(host, t), r));
        let pkt = Packet {
            t,
            src: at.tuple.server.0,
            dst: at.tuple.client.0,
            sport: at.tuple.server.1,
            dport: at.tuple.client.1,
            seq: c.srv_nxt,
            ack: c.cli_nxt,
            flags: ACK,
            window: 65535,
            syn_options: false,
            ts,
            payload_len: 0,
            text: None,
            ttl: self.p.hosts[host].ttl,
        };
        let id = self.emit(a, pkt);
        self.attempts[a].challenges.push(id);
        let owd = self.owd(a);
        self.at(t + owd, Ev::ChallengeArrive(a, ci));
    }

    /// SYN-SENT receiving an unacceptable ACK sends a RST with seq = SEG.ACK (RFC 9293
    /// §3.10.7.3) and keeps waiting for its retransmission timer.
    fn answer_challenge(&mut self, t: u64, a: usize, ci: usize) {
        if self.attempts[a].state != AttState::Pending {
            return;
        }
        let owd = self.owd(a);
        let at = &self.attempts[a];
        let pkt = Packet {
            t: t + owd,
            src: at.tuple.client.0,
            dst: at.tuple.server.0,
            sport: at.tuple.client.1,
            dport: at.tuple.server.1,
            seq: self.conns[ci].cli_nxt,
            ack: 0,
            flags: RST,
            window: 0,
            syn_options: false,
            ts: None,
            payload_len: 0,
            text: None,
            ttl: 127,
        };
        let id = self.emit(a, pkt);
        self.attempts[a].resets.push(id);
        self.at(t + owd, Ev::ClientRstArrive(a, ci));
    }

    /// A RST answered the SYN: Linux gives up; Windows sends the SYN twice more, 0.5 s apart.
    fn rst_arrive(&mut self, t: u64, a: usize) {
        let at = &mut self.attempts[a];
        if at.state != AttState::Pending {
            return;
        }
        at.rst_answers += 1;
        at.generation += 1;
        if at.os == Os::Windows && at.rst_answers <= 2 {
            let generation = at.generation;
            self.at(t + SEC / 2, Ev::SendSyn(a, generation));
        } else {
            at.state = AttState::Refused;
            self.at(t, Ev::Release(a));
        }
    }

    fn release(&mut self, t: u64, a: usize) {
        let at = &self.attempts[a];
        let (s, port) = (at.source, at.tuple.client.1);
        let last = at
            .pkts
            .iter()
            .map(|&i| self.packets[i].t)
            .max()
            .unwrap_or(0);
        self.alloc[s].release(port, t);
        self.port_last.insert((s, port), (a, last));
    }
}

/// RFC 9293 sequence comparison: a is after b.
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn fnv(t: &Tuple, salt: u32) -> u32 {
    let mut h: u32 = 0x811C_9DC5 ^ salt;
    let bytes = t
        .client
        .0
        .iter()
        .chain(&t.client.1.to_be_bytes())
        .chain(&t.server.0)
        .chain(&t.server.1.to_be_bytes())
        .copied()
        .collect::<Vec<u8>>();
    for b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}
