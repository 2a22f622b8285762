//! Deterministic synthetic captures for fixtures, tests and benchmarks, with their ground
//! truth computed by the generator itself (not by the analysis under test).
//!
//! The scenario is the field report's (../shared/seeds/isa2000-pop3-port-reuse.txt): an ISA
//! 2000 firewall (192.168.50.1) opens every connection from a pool of source ports that it
//! reuses once a port has been free for `MinTickBeforePortReuse` (1.2 s) and releases after
//! `MaxTimeInFreePool` (60 s). The POP3 server (192.168.50.10:110, Windows: 240 s TIME_WAIT,
//! ignores a SYN on a 4-tuple it holds in TIME_WAIT) closes first; the firewall retransmits
//! the SYN 3 s and 9 s after the first and gives up at 21 s. Web servers (.20, .21 port 80)
//! are closed by the client first; one port on .10 is closed (RST); some web connections end
//! with a RST. The fixed case sets MinTickBeforePortReuse to 240 s: ports increment.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};
use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use crate::time::{NANOS_PER_SEC, Ts};
pub use crate::write::PcapWriter;

/// Which case of the field report to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// MinTickBeforePortReuse = 1.2 s: pooled ports, POP3 SYNs hit the server's TIME_WAIT.
    Broken,
    /// MinTickBeforePortReuse = 240 s: incrementing ports, nothing fails.
    Fixed,
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub case: Case,
    /// Connections are started during this many seconds.
    pub duration_s: u64,
    /// Mean seconds between POP3 polls and between web requests.
    pub pop3_every_s: f64,
    pub web_every_s: f64,
    pub seed: u64,
}

impl Scenario {
    pub fn fixture(case: Case) -> Scenario {
        Scenario {
            case,
            duration_s: 420,
            pop3_every_s: 3.0,
            web_every_s: 2.0,
            seed: 2005,
        }
    }
}

/// What the generator knows happened: the numbers the analysis must reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    pub frames: u64,
    pub attempts: u64,
    pub established: u64,
    pub refused: u64,
    pub unanswered: u64,
    pub unknown: u64,
    pub syn_retransmits: u64,
    /// Attempts on a 4-tuple whose earlier connection ended less than 240 s before.
    pub reused_in_window: u64,
    pub unanswered_reused_in_window: u64,
    pub min_reuse_interval_ns: i64,
}

const FIREWALL: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 1);
const POP3: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 10);
const WEB: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 50, 20),
    Ipv4Addr::new(192, 168, 50, 21),
];
const TIME_WAIT_NS: i64 = 240 * NANOS_PER_SEC;
const MS: i64 = 1_000_000;

/// A tiny deterministic PRNG (SplitMix64), so fixtures are the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0.5, 1.5) x mean, in nanoseconds.
    fn around(&mut self, mean_s: f64) -> i64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((0.5 + unit) * mean_s * 1e9) as i64
    }
}

/// The firewall's port pool (the field report's registry values).
struct Pool {
    min_tick_ns: i64,
    max_free_ns: i64,
    free: Vec<(u16, Ts)>,
    next_port: u16,
}

impl Pool {
    fn take(&mut self, now: Ts) -> u16 {
        let max_free = self.max_free_ns;
        self.free.retain(|(_, freed)| now.since(*freed) <= max_free);
        let min_tick = self.min_tick_ns;
        let aged = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, (_, freed))| now.since(*freed) >= min_tick)
            .min_by_key(|(_, (_, freed))| *freed)
            .map(|(i, _)| i);
        match aged {
            Some(i) => self.free.swap_remove(i).0,
            None => {
                let port = self.next_port;
                self.next_port = if port >= 4999 { 3000 } else { port + 1 };
                port
            }
        }
    }
}

type Packet = (Reverse<(Ts, u64)>, Vec<u8>);

struct Sim {
    rng: Rng,
    heap: BinaryHeap<Packet>,
    seq: u64,
    truth: Truth,
    /// Per (port, server ip, server port): when the last completed connection ended, and
    /// whether the server holds TIME_WAIT for it.
    history: HashMap<(u16, Ipv4Addr, u16), (Ts, bool)>,
    last_use: HashMap<u16, Ts>,
    /// Unanswered attempts' last SYN, judged against the capture's end at the close.
    silent: Vec<(Ts, bool)>,
    last_written: Ts,
}

struct Seg<'a> {
    from_client: bool,
    flags: &'a str,
    seq: u32,
    ack: u32,
    payload: &'a [u8],
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            rng: Rng(seed),
            heap: BinaryHeap::new(),
            seq: 0,
            truth: Truth::default(),
            history: HashMap::new(),
            last_use: HashMap::new(),
            silent: Vec::new(),
            last_written: Ts::default(),
        }
    }

    fn push(&mut self, ts: Ts, client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), s: Seg) {
        let (src, dst) = if s.from_client {
            (client, server)
        } else {
            (server, client)
        };
        let mac_c = [0x00, 0x50, 0x56, 0x00, 0x00, 0x01];
        let mac_s = [0x00, 0x50, 0x56, 0x00, 0x00, 0x10];
        let (ms, md) = if s.from_client {
            (mac_c, mac_s)
        } else {
            (mac_s, mac_c)
        };
        let mut b = PacketBuilder::ethernet2(ms, md)
            .ipv4(src.0.octets(), dst.0.octets(), 128)
            .tcp(src.1, dst.1, s.seq, 64240);
        for f in s.flags.chars() {
            b = match f {
                'S' => b.syn(),
                'F' => b.fin(),
                'R' => b.rst(),
                'P' => b.psh(),
                'A' => b.ack(s.ack),
                _ => b,
            };
        }
        let mut buf = Vec::with_capacity(b.size(s.payload.len()));
        b.write(&mut buf, s.payload)
            .expect("writing to a Vec cannot fail");
        self.seq += 1;
        self.heap.push((Reverse((ts, self.seq)), buf));
    }

    fn isn(&mut self) -> u32 {
        self.rng.next() as u32
    }

    /// Records a new attempt in the truth and returns whether it reuses inside the window.
    fn note_attempt(&mut self, t: Ts, port: u16, server: (Ipv4Addr, u16)) -> (bool, bool) {
        self.truth.attempts += 1;
        if let Some(prev) = self.last_use.insert(port, t) {
            let interval = t.since(prev);
            if self.truth.min_reuse_interval_ns == 0 || interval < self.truth.min_reuse_interval_ns
            {
                self.truth.min_reuse_interval_ns = interval;
            }
        }
        match self.history.get(&(port, server.0, server.1)) {
            Some((end, server_holds)) if t.since(*end) < TIME_WAIT_NS => {
                self.truth.reused_in_window += 1;
                (true, *server_holds)
            }
            _ => (false, false),
        }
    }

    /// A POP3 poll: the server closes first. Returns when the firewall frees the port.
    fn pop3(&mut self, t: Ts, port: u16) -> Ts {
        let server = (POP3, 110);
        let client = (FIREWALL, port);
        let (in_window, server_holds) = self.note_attempt(t, port, server);
        let c = self.isn();
        if in_window && server_holds {
            // Windows ignores a SYN on a 4-tuple in TIME_WAIT; the client retries at +3 s, +9 s.
            for (i, delay) in [0, 3000, 9000].into_iter().enumerate() {
                let seg = Seg {
                    from_client: true,
                    flags: "S",
                    seq: c,
                    ack: 0,
                    payload: &[],
                };
                self.push(t.add_nanos(delay * MS), client, server, seg);
                self.truth.syn_retransmits += u64::from(i > 0);
            }
            self.silent.push((t.add_nanos(9000 * MS), true));
            return t.add_nanos(21_000 * MS);
        }
        let s = self.isn();
        let greet = b"+OK POP3 server ready\r\n";
        let quit = b"QUIT\r\n";
        let bye = b"+OK bye\r\n";
        let (c1, s1) = (c.wrapping_add(1), s.wrapping_add(1));
        let (g, q, y) = (greet.len() as u32, quit.len() as u32, bye.len() as u32);
        let [h0, h1, h2] = handshake(c, s);
        let segs = [
            h0,
            h1,
            h2,
            (
                6,
                Seg {
                    from_client: false,
                    flags: "PA",
                    seq: s1,
                    ack: c1,
                    payload: greet,
                },
            ),
            (
                9,
                Seg {
                    from_client: true,
                    flags: "PA",
                    seq: c1,
                    ack: s1 + g,
                    payload: quit,
                },
            ),
            (
                12,
                Seg {
                    from_client: false,
                    flags: "PA",
                    seq: s1 + g,
                    ack: c1 + q,
                    payload: bye,
                },
            ),
            (
                13,
                Seg {
                    from_client: false,
                    flags: "FA",
                    seq: s1 + g + y,
                    ack: c1 + q,
                    payload: &[],
                },
            ),
            (
                15,
                Seg {
                    from_client: true,
                    flags: "A",
                    seq: c1 + q,
                    ack: s1 + g + y + 1,
                    payload: &[],
                },
            ),
            (
                16,
                Seg {
                    from_client: true,
                    flags: "FA",
                    seq: c1 + q,
                    ack: s1 + g + y + 1,
                    payload: &[],
                },
            ),
            (
                18,
                Seg {
                    from_client: false,
                    flags: "A",
                    seq: s1 + g + y + 1,
                    ack: c1 + q + 1,
                    payload: &[],
                },
            ),
        ];
        for (ms, seg) in segs {
            self.push(t.add_nanos(ms * MS), client, server, seg);
        }
        self.truth.established += 1;
        let end = t.add_nanos(18 * MS);
        self.history.insert((port, server.0, server.1), (end, true));
        end
    }

    /// A web request: the client closes first (or aborts with RST every 17th time).
    fn web(&mut self, t: Ts, port: u16, server: (Ipv4Addr, u16), abort: bool) -> Ts {
        let client = (FIREWALL, port);
        self.note_attempt(t, port, server);
        let (c, s) = (self.isn(), self.isn());
        let get = b"GET / HTTP/1.1\r\nHost: intranet\r\n\r\n";
        let page = [b'x'; 900];
        let (c1, s1) = (c.wrapping_add(1), s.wrapping_add(1));
        let (g, p) = (get.len() as u32, page.len() as u32);
        let [h0, h1, h2] = handshake(c, s);
        let mut segs = vec![
            h0,
            h1,
            h2,
            (
                3,
                Seg {
                    from_client: true,
                    flags: "PA",
                    seq: c1,
                    ack: s1,
                    payload: get,
                },
            ),
            (
                8,
                Seg {
                    from_client: false,
                    flags: "PA",
                    seq: s1,
                    ack: c1 + g,
                    payload: &page,
                },
            ),
        ];
        let end_ms = if abort {
            segs.push((
                9,
                Seg {
                    from_client: true,
                    flags: "RA",
                    seq: c1 + g,
                    ack: s1 + p,
                    payload: &[],
                },
            ));
            9
        } else {
            segs.push((
                9,
                Seg {
                    from_client: true,
                    flags: "FA",
                    seq: c1 + g,
                    ack: s1 + p,
                    payload: &[],
                },
            ));
            segs.push((
                10,
                Seg {
                    from_client: false,
                    flags: "FA",
                    seq: s1 + p,
                    ack: c1 + g + 1,
                    payload: &[],
                },
            ));
            segs.push((
                11,
                Seg {
                    from_client: true,
                    flags: "A",
                    seq: c1 + g + 1,
                    ack: s1 + p + 1,
                    payload: &[],
                },
            ));
            11
        };
        for (ms, seg) in segs {
            self.push(t.add_nanos(ms * MS), client, server, seg);
        }
        self.truth.established += 1;
        let end = t.add_nanos(end_ms * MS);
        self.history
            .insert((port, server.0, server.1), (end, false));
        end
    }

    /// A SYN to a closed port: RST.
    fn refused(&mut self, t: Ts, port: u16) -> Ts {
        let server = (POP3, 995);
        let client = (FIREWALL, port);
        self.note_attempt(t, port, server);
        let c = self.isn();
        self.push(
            t,
            client,
            server,
            Seg {
                from_client: true,
                flags: "S",
                seq: c,
                ack: 0,
                payload: &[],
            },
        );
        let rst = Seg {
            from_client: false,
            flags: "RA",
            seq: 0,
            ack: c.wrapping_add(1),
            payload: &[],
        };
        self.push(t.add_nanos(MS / 2), client, server, rst);
        self.truth.refused += 1;
        t.add_nanos(MS)
    }

    fn flush_until<W: Write>(
        &mut self,
        until: Option<Ts>,
        w: &mut PcapWriter<W>,
    ) -> io::Result<()> {
        while let Some((Reverse((ts, _)), _)) = self.heap.peek() {
            if until.is_some_and(|u| *ts >= u) {
                break;
            }
            let (Reverse((ts, _)), bytes) = self.heap.pop().expect("peeked");
            w.write(ts, &bytes)?;
            self.truth.frames += 1;
            self.last_written = ts;
        }
        Ok(())
    }
}

/// SYN, SYN-ACK and ACK at 0, 1 and 2 ms, for client ISN `c` and server ISN `s`.
fn handshake<'a>(c: u32, s: u32) -> [(i64, Seg<'a>); 3] {
    let (c1, s1) = (c.wrapping_add(1), s.wrapping_add(1));
    let seg = |from_client, flags, seq, ack| Seg {
        from_client,
        flags,
        seq,
        ack,
        payload: &[],
    };
    [
        (0, seg(true, "S", c, 0)),
        (1, seg(false, "SA", s, c1)),
        (2, seg(true, "A", c1, s1)),
    ]
}

/// Generates the scenario into `w` and returns the ground truth.
pub fn generate<W: Write>(scn: &Scenario, w: &mut PcapWriter<W>) -> io::Result<Truth> {
    let min_tick_ns = match scn.case {
        Case::Broken => 1200 * MS,
        Case::Fixed => TIME_WAIT_NS,
    };
    let mut pool = Pool {
        min_tick_ns,
        max_free_ns: 60 * NANOS_PER_SEC,
        free: Vec::new(),
        next_port: 3000,
    };
    let mut sim = Sim::new(scn.seed);
    let start = Ts::from_parts(1_116_234_000, 0); // 2005-05-16, the field report's month
    let end = start.add_nanos(scn.duration_s as i64 * NANOS_PER_SEC);
    let mut next_pop3 = start.add_nanos(sim.rng.around(scn.pop3_every_s));
    let mut next_web = start.add_nanos(sim.rng.around(scn.web_every_s));
    let mut releases: Vec<(Ts, u16)> = Vec::new();
    let mut n = 0u64;
    loop {
        let t = next_pop3.min(next_web);
        if t >= end {
            break;
        }
        // Ports whose connection is over go back to the pool at their release time.
        releases.sort_unstable();
        let due = releases.partition_point(|(at, _)| *at <= t);
        for (at, port) in releases.drain(..due) {
            pool.free.push((port, at));
        }
        let port = pool.take(t);
        n += 1;
        let freed = if t == next_pop3 {
            next_pop3 = t.add_nanos(sim.rng.around(scn.pop3_every_s));
            sim.pop3(t, port)
        } else {
            next_web = t.add_nanos(sim.rng.around(scn.web_every_s));
            if scn.case == Case::Broken && n.is_multiple_of(23) {
                sim.refused(t, port)
            } else {
                let server = (WEB[(n % 2) as usize], 80);
                sim.web(t, port, server, n.is_multiple_of(17))
            }
        };
        releases.push((freed, port));
        sim.flush_until(Some(t), w)?;
    }
    sim.flush_until(None, w)?;
    let capture_end = sim.last_written;
    // Unanswered once the capture goes on past the firewall's next retransmission due after
    // its last SYN (+9 s): twice the last interval (6 s), plus an eighth for timer slack.
    let next_due_ns = 2 * 6 * NANOS_PER_SEC * 9 / 8;
    for (last_syn, in_window) in std::mem::take(&mut sim.silent) {
        if capture_end.since(last_syn) > next_due_ns {
            sim.truth.unanswered += 1;
            sim.truth.unanswered_reused_in_window += u64::from(in_window);
        } else {
            sim.truth.unknown += 1;
        }
    }
    Ok(sim.truth)
}

/// The sister problem of the field report (../shared/seeds/exchange-x400-raptor-transparency.txt):
/// X.400 MTAs on TCP 102 through a Raptor firewall with client-side transparency. The
/// external MTA (172.16.5.20) connects to the firewall (172.16.5.1); the firewall passes the
/// connection on with the external MTA's own address, and the internal MTA (10.1.1.10), which
/// accepts only the firewall's internal address (10.1.1.1), refuses the association: TCP is
/// accepted, then closed within a few milliseconds after a short refusal. Connections the
/// internal MTA opens (to 10.1.1.1, relayed as 172.16.5.1 -> 172.16.5.20) work.
///
/// `both_legs` = false: the capture of the external segment only. true: the external and the
/// internal segment merged into one file. Returns the number of frames written.
pub fn sister<W: Write>(both_legs: bool, w: &mut PcapWriter<W>) -> io::Result<u64> {
    let external = Ipv4Addr::new(172, 16, 5, 20);
    let fw_outside = Ipv4Addr::new(172, 16, 5, 1);
    let fw_inside = Ipv4Addr::new(10, 1, 1, 1);
    let internal = Ipv4Addr::new(10, 1, 1, 10);
    let mut sim = Sim::new(1998);
    let start = Ts::from_parts(902_000_000, 0); // 1998
    for i in 0..12u16 {
        let t = start.add_nanos(i64::from(i) * 30 * NANOS_PER_SEC);
        // Inbound: refused by the internal MTA, the refusal relayed to the external MTA.
        let port = 1100 + i;
        sim.session(
            t,
            (external, port),
            (fw_outside, 102),
            300,
            12,
            Closer::Server,
        );
        if both_legs {
            let inner = (external, 40_000 + i);
            sim.session(
                t.add_nanos(2 * MS),
                inner,
                (internal, 102),
                300,
                12,
                Closer::Server,
            );
        }
        // Outbound, 15 s later: the internal MTA delivers its queue, and that works.
        let t = t.add_nanos(15 * NANOS_PER_SEC);
        if both_legs {
            sim.session(
                t,
                (internal, 2000 + i),
                (fw_inside, 102),
                4000,
                900,
                Closer::Client,
            );
        }
        let relayed = (fw_outside, 50_000 + i);
        sim.session(
            t.add_nanos(2 * MS),
            relayed,
            (external, 102),
            4000,
            900,
            Closer::Client,
        );
    }
    sim.flush_until(None, w)?;
    Ok(sim.truth.frames)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Closer {
    Client,
    Server,
}

impl Sim {
    /// A whole TCP session: handshake, `up` bytes from the client, `down` bytes back, then the
    /// `closer` closes (FIN exchange) within a few milliseconds.
    fn session(
        &mut self,
        t: Ts,
        client: (Ipv4Addr, u16),
        server: (Ipv4Addr, u16),
        up: u32,
        down: u32,
        closer: Closer,
    ) {
        let (c, s) = (self.isn(), self.isn());
        let (c1, s1) = (c.wrapping_add(1), s.wrapping_add(1));
        let up_data = vec![0x60u8; up as usize];
        let down_data = vec![0x61u8; down as usize];
        let seg = |from_client, flags, seq, ack, payload| Seg {
            from_client,
            flags,
            seq,
            ack,
            payload,
        };
        let mut segs: Vec<(i64, Seg)> = handshake(c, s).into();
        segs.extend([
            (3, seg(true, "PA", c1, s1, &up_data[..])),
            (5, seg(false, "PA", s1, c1.wrapping_add(up), &down_data[..])),
        ]);
        let (cu, sd) = (c1.wrapping_add(up), s1.wrapping_add(down));
        match closer {
            Closer::Server => segs.extend([
                (6, seg(false, "FA", sd, cu, &[][..])),
                (7, seg(true, "FA", cu, sd.wrapping_add(1), &[][..])),
                (
                    8,
                    seg(false, "A", sd.wrapping_add(1), cu.wrapping_add(1), &[][..]),
                ),
            ]),
            Closer::Client => segs.extend([
                (6, seg(true, "FA", cu, sd, &[][..])),
                (7, seg(false, "FA", sd, cu.wrapping_add(1), &[][..])),
                (
                    8,
                    seg(true, "A", cu.wrapping_add(1), sd.wrapping_add(1), &[][..]),
                ),
            ]),
        }
        for (ms, s) in segs {
            self.push(t.add_nanos(ms * MS), client, server, s);
        }
    }
}

/// Keeps only the frames a capture filter `src host HOST` would: a one-direction capture.
pub fn one_direction<W: Write>(scn: &Scenario, w: &mut PcapWriter<W>) -> io::Result<Truth> {
    let mut all = PcapWriter::new(Vec::new(), 65535)?;
    let truth = generate(scn, &mut all)?;
    let bytes = all.into_inner();
    // Re-read the records and keep those sent by the firewall (source IP at Ethernet + 12).
    let mut at = 24;
    while let Some(header) = bytes.get(at..at + 16) {
        let caplen = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
        let orig = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
        let ts = Ts::from_parts(
            i64::from(u32::from_le_bytes([
                header[0], header[1], header[2], header[3],
            ])),
            i64::from(u32::from_le_bytes([
                header[4], header[5], header[6], header[7],
            ])) * 1000,
        );
        let frame = &bytes[at + 16..at + 16 + caplen];
        if frame.get(26..30) == Some(&FIREWALL.octets()[..]) {
            w.write_cut(ts, frame, orig)?;
        }
        at += 16 + caplen;
    }
    Ok(truth)
}
