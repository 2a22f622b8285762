//! Duplicated frames (issue 9): a span port or a capture on two interfaces shows one packet
//! twice; a capture appended to itself, or the same file given twice, shows every packet
//! twice. A copy changes nothing: it is counted (`duplicate_frames`) and dropped.
//!
//! Two checks, both in fixed memory:
//! - per 4-tuple, a ring of the last few segments' signatures (flags, seq, ack, IP ID,
//!   payload length, checksum, TSval, direction) with their times: the same signature again
//!   within a short time is a copy;
//! - for segments with SYN (SYN, SYN-ACK: a copy of one would be a phantom attempt or
//!   answer), a direct-mapped table of fingerprints that include the timestamp: an exact copy
//!   anywhere in the file. An entry overwritten before its copy could come is counted as not
//!   checkable. This one needs nothing the tracker holds: the reading stage runs it. (FIN and RST copies far apart change nothing: their connection already has
//!   its first FIN or RST. Checking every segment would cost a cache miss per packet.)

use std::net::IpAddr;

use crate::tcp::{FrameRef, Segment};
use crate::time::{NANOS_PER_SEC, Ts};

use super::side::Side;

/// Signatures kept per 4-tuple.
const RING: usize = 4;
/// Time unit of the ring (2^10 ns, about a microsecond): 32 bits of it wrap after 73 minutes.
const UNIT_SHIFT: u32 = 10;
/// Within this long the same signature is a copy when the IPv4 identification is set: a
/// retransmission carries a new IP ID (each stack counts them up per socket or per host).
const COPY_WITHIN_NS: i64 = NANOS_PER_SEC;
/// Without an IP ID (IPv6, or a stack that sends 0 with DF), only this close: Linux can send
/// a SYN again 2 ms after a challenge ACK (TCP_TIMEOUT_MIN at HZ = 1000).
const COPY_WITHIN_NO_ID_NS: i64 = 1_000_000;
/// A run of at least this many copies of SYN segments (SYN, SYN-ACK), with no more
/// originals than copies among them, is reported as a long run: a file appended to itself,
/// the same file given twice, a span port mirroring both directions. Sporadic duplicates
/// make runs of one or two.
pub const LONG_RUN: u64 = 4;
/// Long runs described by frame numbers (more are counted).
pub const RUNS_KEPT: usize = 4;

/// A 4-tuple's last segments.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recent {
    sigs: [u32; RING],
    times: [u32; RING],
    next: u8,
}

impl Recent {
    /// The ring of a new 4-tuple, holding its first segment `seg` (from `side`): what
    /// `is_copy` on an empty ring leaves, without reading the new ring back.
    pub fn starting_with(seg: &Segment, side: Side) -> Recent {
        let mut recent = Recent::default();
        recent.sigs[0] = signature(seg, side) as u32 | 1;
        recent.times[0] = (seg.ts.0 >> UNIT_SHIFT) as u32;
        recent.next = 1;
        recent
    }

    /// Whether `seg` (from `side`) repeats one of the last segments within the short time;
    /// if not, it is remembered.
    pub fn is_copy(&mut self, seg: &Segment, side: Side) -> bool {
        let sig = signature(seg, side) as u32 | 1;
        let now = (seg.ts.0 >> UNIT_SHIFT) as u32;
        let within = if seg.ip_id != 0 {
            COPY_WITHIN_NS
        } else {
            COPY_WITHIN_NO_ID_NS
        };
        let within = (within >> UNIT_SHIFT) as u32;
        for i in 0..RING {
            // Wrapping distance both ways: a copy may carry an earlier timestamp.
            let d = now.wrapping_sub(self.times[i]);
            if self.sigs[i] == sig && (d <= within || d.wrapping_neg() <= within) {
                return true;
            }
        }
        let slot = usize::from(self.next) % RING;
        self.sigs[slot] = sig;
        self.times[slot] = now;
        self.next = self.next.wrapping_add(1);
        false
    }
}

/// One multiply-xorshift round (cheap: this runs for every segment).
fn mix(h: u64, v: u64) -> u64 {
    let h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

fn ip_bits(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let x = u128::from(a);
            (x as u64) ^ ((x >> 64) as u64).rotate_left(23) ^ 1 << 63
        }
    }
}

/// What identifies a segment apart from its time.
fn signature(seg: &Segment, side: Side) -> u64 {
    let h = mix(0, (side as u64) << 8 | u64::from(seg.flags.0));
    let h = mix(h, u64::from(seg.seq.0) << 32 | u64::from(seg.ack.0));
    let h = mix(
        h,
        u64::from(seg.ip_id) << 48 | u64::from(seg.checksum) << 32 | u64::from(seg.payload_len),
    );
    mix(h, seg.tsval.map_or(u64::MAX, u64::from))
}

/// A stretch of the capture where copies make at least half of the SYN segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyRun {
    pub first: FrameRef,
    pub last: FrameRef,
    pub copies: u64,
}

/// What the file-wide table says of a segment with SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exact {
    /// Not a copy of an earlier SYN or SYN-ACK.
    Original,
    /// An exact copy of one, timestamp included.
    Copy,
    /// Stamped before the capture's clock, so it could be a copy, but its original may have
    /// been overwritten (the table has taken more than it holds): not known to be one.
    Unchecked,
}

/// The file-wide table of SYN segments' fingerprints. It sees every frame in the order the
/// tracker takes them (for the capture's clock) and judges only SYNs and SYN-ACKs, whose
/// verdict depends on nothing the tracker holds: the reading stage runs it, off the tracking
/// thread, which sets the pace (issue 12: 5 % of it on the NAT capture), and hands the
/// verdict on with the segment.
pub struct Fingerprints {
    table: Vec<u64>,
    capacity: usize,
    /// Fingerprints written so far.
    inserted: u64,
    /// The latest time of the frames so far: the tracker's clock.
    clock: Ts,
}

impl Fingerprints {
    /// `capacity` entries (rounded down to a power of two); allocated on first use, so a
    /// capture without control segments costs nothing.
    pub fn new(capacity: usize) -> Fingerprints {
        Fingerprints {
            table: Vec::new(),
            capacity: 1 << (usize::BITS - 1 - capacity.max(2).leading_zeros()),
            inserted: 0,
            clock: Ts(i64::MIN),
        }
    }

    /// No segment will be checked again: frees the table.
    pub fn free(&mut self) {
        self.table = Vec::new();
    }

    /// Takes the next frame, at `ts`; for a segment (sent from `side` of its 4-tuple) with
    /// SYN, says whether it is an exact copy of an earlier one.
    #[inline]
    pub fn frame(&mut self, ts: Ts, segment: Option<(&Segment, Side)>) -> Option<Exact> {
        let earlier = ts < self.clock;
        self.clock = self.clock.max(ts);
        match segment {
            Some((seg, side)) if seg.flags.syn() => Some(self.check(side, seg, earlier)),
            _ => None,
        }
    }

    /// Whether `seg` (with SYN) is an exact copy of an earlier one, for a caller that keeps
    /// the clock itself (`Tracker::on_segment`). `earlier`: `seg` is stamped before the
    /// capture's clock. An exact copy carries its original's timestamp, which came first, so
    /// only such a segment (or one at the same instant, which the 4-tuple's ring catches) can
    /// be one: the table is read only then, and otherwise just written (a store, which does
    /// not wait for the cache line).
    pub fn check(&mut self, side: Side, seg: &Segment, earlier: bool) -> Exact {
        if self.table.is_empty() {
            self.table = vec![0; self.capacity];
        }
        let h = mix(signature(seg, side), ip_bits(seg.src.ip));
        let h = mix(h, ip_bits(seg.dst.ip));
        let h = mix(h, u64::from(seg.src.port) << 16 | u64::from(seg.dst.port));
        let fp = mix(h, seg.ts.0 as u64) | 1;
        let slot = (fp >> 32) as usize & (self.table.len() - 1);
        let mut verdict = Exact::Original;
        if earlier {
            if self.table[slot] == fp {
                return Exact::Copy;
            }
            if self.inserted > self.table.len() as u64 {
                verdict = Exact::Unchecked;
            }
        }
        self.table[slot] = fp;
        self.inserted += 1;
        verdict
    }
}

/// The runs of copies among SYN segments, and the segments that could not be checked.
#[derive(Default)]
pub struct Copies {
    /// Segments that could be copies but could not be checked.
    pub unchecked: u64,
    run: Option<(CopyRun, u64)>,
    /// The first long runs, and how many there were.
    pub runs: [Option<CopyRun>; RUNS_KEPT],
    pub long_runs: u64,
}

impl Copies {
    /// Notes whether a SYN segment was a copy (by either check), for the runs.
    pub fn note_control(&mut self, frame: FrameRef, copy: bool) {
        match (&mut self.run, copy) {
            (None, true) => {
                let run = CopyRun {
                    first: frame,
                    last: frame,
                    copies: 1,
                };
                self.run = Some((run, 0));
            }
            (None, false) => {}
            (Some((run, _)), true) => {
                run.last = frame;
                run.copies += 1;
            }
            (Some((run, originals)), false) => {
                *originals += 1;
                if *originals > run.copies {
                    self.end_run();
                }
            }
        }
    }

    /// Closes the current run (also at the end of the capture).
    pub fn end_run(&mut self) {
        let Some((run, _)) = self.run.take() else {
            return;
        };
        if run.copies >= LONG_RUN {
            if let Some(slot) = self.runs.iter_mut().find(|r| r.is_none()) {
                *slot = Some(run);
            }
            self.long_runs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{Endpoint, Flags, Seq};

    fn seg(ts_ns: i64, ip_id: u16) -> Segment {
        let ep = |port| Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port,
        };
        Segment {
            frame: FrameRef::default(),
            ts: Ts(ts_ns),
            src: ep(1),
            dst: ep(2),
            flags: Flags(Flags::SYN),
            seq: Seq(5),
            ack: Seq(0),
            payload_len: 0,
            tsval: None,
            ip_id,
            checksum: 0,
        }
    }

    #[test]
    fn the_same_segment_soon_again_is_a_copy_but_not_with_a_new_ip_id_or_much_later() {
        let mut r = Recent::default();
        assert!(!r.is_copy(&seg(0, 7), Side::Lo));
        assert!(r.is_copy(&seg(1_000, 7), Side::Lo));
        assert!(!r.is_copy(&seg(1_000, 8), Side::Lo));
        assert!(!r.is_copy(&seg(1_000, 7), Side::Hi));
        assert!(!r.is_copy(&seg(3 * NANOS_PER_SEC, 7), Side::Lo));
        // Without an IP ID only a copy within a millisecond counts.
        assert!(!r.is_copy(&seg(0, 0), Side::Lo));
        assert!(r.is_copy(&seg(500_000, 0), Side::Lo));
        assert!(!r.is_copy(&seg(10_000_000, 0), Side::Lo));
    }

    #[test]
    fn a_new_ring_holds_what_its_first_check_would_have_left() {
        for (ts, side) in [(0, Side::Lo), (3 * NANOS_PER_SEC + 7, Side::Hi)] {
            let s = seg(ts, 9);
            let mut checked = Recent::default();
            assert!(!checked.is_copy(&s, side));
            let mut started = Recent::starting_with(&s, side);
            assert_eq!(format!("{started:?}"), format!("{checked:?}"));
            assert!(started.is_copy(&seg(ts + 1_000, 9), side));
        }
    }

    #[test]
    fn an_exact_copy_is_found_anywhere_and_runs_of_copies_are_counted() {
        let mut f = Fingerprints::new(1 << 12);
        let mut c = Copies::default();
        let (_, side) = Side::of(seg(0, 1).src, seg(0, 1).dst);
        for i in 0..100 {
            let s = seg(i, 1);
            assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Original));
            c.note_control(FrameRef::default(), false);
        }
        // A later frame, of any kind, moves the clock: the copies come before it.
        assert_eq!(f.frame(Ts(1_000), None), None);
        for i in 0..100 {
            let frame = FrameRef {
                file: 0,
                number: 100 + i as u64,
            };
            let s = seg(i, 1);
            assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Copy));
            c.note_control(frame, true);
        }
        // Not a SYN: not judged here.
        let mut data = seg(5, 1);
        data.flags = Flags(Flags::ACK);
        assert_eq!(f.frame(data.ts, Some((&data, side))), None);
        c.end_run();
        assert_eq!(c.long_runs, 1);
        let run = c.runs[0].unwrap();
        assert_eq!(
            (run.first.number, run.last.number, run.copies),
            (100, 199, 100)
        );
    }

    #[test]
    fn an_earlier_syn_is_unchecked_once_the_table_has_taken_more_than_it_holds() {
        let mut f = Fingerprints::new(4);
        let (_, side) = Side::of(seg(0, 1).src, seg(0, 1).dst);
        let mut s = seg(100, 1);
        assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Original));
        // Earlier than the clock, but the table has room: an original for certain.
        s.ts = Ts(50);
        s.seq = Seq(6);
        assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Original));
        for i in 0..4 {
            s.ts = Ts(200 + i);
            s.seq = Seq(10 + i as u32);
            assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Original));
        }
        s.ts = Ts(60);
        s.seq = Seq(99);
        assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Unchecked));
        // At the clock's time, not earlier: written, not read.
        s.ts = Ts(203);
        s.seq = Seq(98);
        assert_eq!(f.frame(s.ts, Some((&s, side))), Some(Exact::Original));
    }
}
