//! An established connection played out: request, response, close (RFC 9293 §3.6), or the
//! application's refusal right after the handshake, or abandonment (no FIN, no RST).

use super::model::{MS, Refusal, ServiceKind};
use super::pcap::{ACK, FIN, PSH, Packet, RST};
use super::sim::{Holder, Sim};

/// Protocol-level rejects of tens of bytes: an ISO transport disconnect request (X.400 over
/// RFC 1006, 11 bytes), a POP3 and an SMTP refusal.
const REJECTS: [&[u8]; 3] = [
    b"\x03\x00\x00\x0b\x06\x80\x00\x00\x00\x01\x00",
    b"-ERR access denied\r\n",
    b"554 5.7.1 Access denied\r\n",
];

/// The running state of one connection while it is played out.
struct Flow {
    a: usize,
    owd: u64,
    cli: u32,
    srv: u32,
    cli_ts: Option<u32>,
    srv_ts: Option<u32>,
    /// The last packet (id, capture time, sent by the server) so far.
    last: (usize, u64, bool),
}

impl Sim<'_> {
    /// Plays out attempt `a`'s connection from the moment (source time `n`) its SYN-ACK
    /// arrived; returns when the source releases the port.
    pub(super) fn connection(&mut self, a: usize, n: u64) -> u64 {
        let ci = self.attempts[a].conn.expect("accepted attempt");
        let svc = &self.p.services[self.attempts[a].service];
        let (kind, host) = (svc.kind, svc.host);
        let (lo, hi) = svc.duration_s;
        let (server_closes, crossed) = (svc.server_closes, svc.crossed);
        let mut f = Flow {
            a,
            owd: self.owd(a),
            cli: self.attempts[a].isn.wrapping_add(1),
            srv: self.conns[ci].srv_nxt,
            cli_ts: self.attempts[a].syns.last().and_then(|s| s.tsval),
            srv_ts: self.attempts[a]
                .synack
                .and_then(|id| self.packets[id].ts.map(|(v, _)| v)),
            last: (0, 0, true),
        };
        let a1 = self.client(&mut f, n, ACK, 0, None);
        let holder = match kind {
            ServiceKind::Refuses(form) => {
                let form = form.unwrap_or_else(|| {
                    *self.rng.pick(&[
                        Refusal::RejectThenFin,
                        Refusal::Reset,
                        Refusal::ResetAfterData,
                        Refusal::FinNoData,
                    ])
                });
                self.refuse(&mut f, form, ci, a1)
            }
            ServiceKind::Normal => {
                let d = (self.rng.log_uniform(lo, hi.max(lo * 1.0001)) * 1e9) as u64;
                let last = self.exchange(&mut f, a1, d);
                let abandon = self.p.sources[self.attempts[a].source].abandon;
                let close_at = (a1 + d).max(last + MS);
                let x = self.rng.f64();
                if self.rng.chance(abandon) {
                    Holder::Open
                } else if x < crossed {
                    self.close_crossed(&mut f, close_at)
                } else if x < crossed + (1.0 - crossed) * server_closes {
                    self.close_server_first(&mut f, close_at)
                } else {
                    self.close_client_first(&mut f, close_at)
                }
            }
            ServiceKind::Closed | ServiceKind::Dead => unreachable!("no handshake"),
        };
        let tw_s = u64::from(self.p.hosts[host].time_wait_s);
        let (last_id, last_t, by_server) = f.last;
        let c = &mut self.conns[ci];
        c.last_pkt = last_id;
        c.holder = holder;
        c.end = (holder != Holder::Open).then_some(last_t);
        c.server_tw_until = matches!(holder, Holder::Server | Holder::Both)
            .then_some(last_t + tw_s * super::model::SEC);
        c.cli_nxt = f.cli;
        c.srv_nxt = f.srv;
        c.ts_recent = f.cli_ts;
        if by_server {
            last_t + f.owd
        } else {
            last_t - f.owd
        }
    }

    /// Request, then a response of 1,100 to 4,400 bytes (so no ordinary connection looks
    /// like an application's refusal: those send less than 1 KiB), then the client's ACK.
    fn exchange(&mut self, f: &mut Flow, a1: u64, d: u64) -> u64 {
        let q = self.rng.range(20, 400) as u16;
        let wait = self.rng.range(100_000, 2 * MS);
        let r = self.client(f, a1 - f.owd + wait, PSH | ACK, q, None);
        let think = (d / 3).min(self.rng.range(MS, 200 * MS));
        let mut left = self.rng.range(1100, 4400) as u16;
        let mut t = r + think;
        while left > 0 {
            let len = left.min(1460);
            left -= len;
            let flags = if left == 0 { PSH | ACK } else { ACK };
            self.server(f, t, flags, len, None);
            t += 100_000;
        }
        self.client(f, t + 200_000, ACK, 0, None)
    }

    fn refuse(&mut self, f: &mut Flow, form: Refusal, ci: usize, a1: u64) -> Holder {
        let mut t = a1 + self.rng.range(200_000, 10 * MS);
        let data_first = match form {
            Refusal::ResetAfterData => true,
            Refusal::RejectThenFin => self.rng.chance(0.5),
            Refusal::Reset | Refusal::FinNoData => false,
        };
        if data_first {
            let q = self.rng.range(20, 200) as u16;
            let r = self.client(f, a1 - f.owd + 100_000, PSH | ACK, q, None);
            t = r + self.rng.range(MS, 20 * MS);
        }
        self.conns[ci].refusal = Some(form);
        let first = self.packets.len();
        self.conns[ci].refusal_pkt = Some(first);
        match form {
            Refusal::Reset | Refusal::ResetAfterData => {
                self.server(f, t, RST | ACK, 0, None);
                self.attempts[f.a].resets.push(first);
                Holder::None
            }
            Refusal::RejectThenFin => {
                let text = *self.rng.pick(&REJECTS);
                self.server(f, t, PSH | ACK, text.len() as u16, Some(text));
                self.close_server_first(f, t + 50_000)
            }
            Refusal::FinNoData => self.close_server_first(f, t),
        }
    }

    fn close_server_first(&mut self, f: &mut Flow, t: u64) -> Holder {
        let at_client = self.server(f, t, FIN | ACK, 0, None);
        if self.rng.chance(0.5) {
            self.client(f, at_client + 50_000, ACK, 0, None);
        }
        let gap = self.rng.range(50_000, 2 * MS);
        let fin = self.client(f, at_client + gap, FIN | ACK, 0, None);
        self.server(f, fin + 20_000, ACK, 0, None);
        Holder::Server
    }

    fn close_client_first(&mut self, f: &mut Flow, t: u64) -> Holder {
        let fin = self.client(f, t - f.owd, FIN | ACK, 0, None);
        let mut s = fin + 20_000;
        if self.rng.chance(0.5) {
            self.server(f, s, ACK, 0, None);
            s += self.rng.range(50_000, 5 * MS);
        }
        let at_client = self.server(f, s, FIN | ACK, 0, None);
        self.client(f, at_client + 20_000, ACK, 0, None);
        Holder::Client
    }

    /// Both send FIN before seeing the other's: the client's FIN does not acknowledge the
    /// server's (RFC 9293 §3.6, simultaneous close); both hold TIME_WAIT.
    fn close_crossed(&mut self, f: &mut Flow, t: u64) -> Holder {
        let srv_before_fin = f.srv;
        let at_client = self.server(f, t, FIN | ACK, 0, None);
        let srv_after_fin = f.srv;
        f.srv = srv_before_fin;
        let fin = self.client(f, at_client - f.owd / 2, FIN | ACK, 0, None);
        f.srv = srv_after_fin;
        self.server(f, fin + 20_000, ACK, 0, None);
        self.client(f, at_client + 10_000, ACK, 0, None);
        Holder::Both
    }

    /// The client sends at source time `t`; returns the capture time.
    fn client(
        &mut self,
        f: &mut Flow,
        t: u64,
        flags: u8,
        len: u16,
        text: Option<&'static [u8]>,
    ) -> u64 {
        let at = &self.attempts[f.a];
        let tsval = self.client_ts(f.a, t);
        let pkt = Packet {
            t: t + f.owd,
            src: at.tuple.client.0,
            dst: at.tuple.server.0,
            sport: at.tuple.client.1,
            dport: at.tuple.server.1,
            seq: f.cli,
            ack: f.srv,
            flags,
            window: 64240,
            syn_options: false,
            ts: tsval.map(|v| (v, f.srv_ts.unwrap_or(0))),
            payload_len: len,
            text,
            ttl: 127,
        };
        f.cli_ts = tsval.or(f.cli_ts);
        f.cli = f
            .cli
            .wrapping_add(u32::from(len) + u32::from(flags & FIN != 0));
        let id = self.emit(f.a, pkt);
        if t + f.owd >= f.last.1 {
            f.last = (id, t + f.owd, false);
        }
        t + f.owd
    }

    /// The server sends at capture time `t`; returns when the source receives it.
    fn server(
        &mut self,
        f: &mut Flow,
        t: u64,
        flags: u8,
        len: u16,
        text: Option<&'static [u8]>,
    ) -> u64 {
        let at = &self.attempts[f.a];
        let host = self.p.services[at.service].host;
        let uses_ts = at.syns.iter().any(|s| s.tsval.is_some());
        let tsval = uses_ts.then(|| self.server_ts(host, t));
        let pkt = Packet {
            t,
            src: at.tuple.server.0,
            dst: at.tuple.client.0,
            sport: at.tuple.server.1,
            dport: at.tuple.client.1,
            seq: f.srv,
            ack: if flags & RST != 0 && flags & ACK == 0 {
                0
            } else {
                f.cli
            },
            flags,
            window: 65535,
            syn_options: false,
            ts: tsval.map(|v| (v, f.cli_ts.unwrap_or(0))),
            payload_len: len,
            text,
            ttl: self.p.hosts[host].ttl,
        };
        f.srv_ts = tsval.or(f.srv_ts);
        f.srv = f
            .srv
            .wrapping_add(u32::from(len) + u32::from(flags & FIN != 0));
        let id = self.emit(f.a, pkt);
        if t >= f.last.1 {
            f.last = (id, t, true);
        }
        t + f.owd
    }
}
