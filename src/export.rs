//! Hand-off to Wireshark and colleagues: the flagged attempts and the connections they
//! collided with, as a Wireshark display filter and as a small pcapng of just their packets.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

use crate::FxIndexMap as IndexMap;

use crate::attempt::Attempt;
use crate::capture;
use crate::decode::{Decoded, decode};
use crate::error::CaptureError;
use crate::tcp::FlowKey;
use crate::time::Ts;
use crate::write::{NgInterface, PcapNgWriter};

/// Most 4-tuples a selection holds (a display filter longer than this is of no use).
pub const MAX_TUPLES: usize = 10_000;

/// Time ranges `[start, end)` per 4-tuple: from the first SYN of the connection a flagged
/// attempt collided with up to the next attempt on the 4-tuple that is not flagged. Time, not
/// frame numbers, so several files given in any order select the same packets.
#[derive(Debug, Default)]
pub struct Selection {
    tuples: IndexMap<FlowKey, Vec<(Ts, Ts)>>,
    /// Flagged attempts left out (on 4-tuples past MAX_TUPLES).
    pub left_out: u64,
    /// Keep the time ranges (for --write); without them only the 4-tuples are kept (for the
    /// display filter), so memory does not grow with the number of flagged attempts.
    ranges: bool,
}

const OPEN: Ts = Ts(i64::MAX);

impl Selection {
    /// A selection that keeps time ranges (`ranges`, for --write) or only the 4-tuples.
    pub fn new(ranges: bool) -> Selection {
        Selection {
            ranges,
            ..Selection::default()
        }
    }

    /// Called for every decided attempt, in order of first SYN.
    pub fn add(&mut self, a: &Attempt) {
        let (key, _) = FlowKey::new(a.client, a.server);
        if a.is_flagged() {
            let start = a.reuse.map_or(a.ts, |r| r.previous_ts);
            if !self.tuples.contains_key(&key) && self.tuples.len() >= MAX_TUPLES {
                self.left_out += 1;
                return;
            }
            let ranges = self.tuples.entry(key).or_default();
            if !self.ranges {
                return;
            }
            match ranges.last_mut() {
                Some(last) if last.1 == OPEN => last.0 = last.0.min(start),
                _ => ranges.push((start, OPEN)),
            }
        } else if let Some(last) = self
            .tuples
            .get_mut(&key)
            .and_then(|r| r.last_mut())
            .filter(|l| l.1 == OPEN)
        {
            last.1 = a.ts;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tuples.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tuples.len()
    }

    fn contains(&self, key: &FlowKey, ts: Ts) -> bool {
        self.tuples
            .get(key)
            .is_some_and(|ranges| ranges.iter().any(|(s, e)| *s <= ts && ts < *e))
    }

    /// A Wireshark display filter for the selected 4-tuples, in Wireshark's own
    /// conversation-filter form (`ip.addr==A && ip.addr==B && tcp.port==a && tcp.port==b`).
    pub fn display_filter(&self) -> String {
        let addr = |ip: IpAddr| if ip.is_ipv4() { "ip.addr" } else { "ipv6.addr" };
        self.tuples
            .keys()
            .map(|k| {
                format!(
                    "({}=={} && {}=={} && tcp.port=={} && tcp.port=={})",
                    addr(k.lo.ip),
                    k.lo.ip,
                    addr(k.hi.ip),
                    k.hi.ip,
                    k.lo.port,
                    k.hi.port
                )
            })
            .collect::<Vec<_>>()
            .join(" || ")
    }

    /// Reads the captures again and writes the selected packets (original bytes and
    /// timestamps, one pcapng interface per link type) to `out`. Returns the packets written.
    pub fn write_pcapng(&self, paths: &[&Path], out: &Path) -> Result<u64, WriteError> {
        let mut linktypes: Vec<u32> = Vec::new();
        let mut packets: Vec<(u32, crate::time::Ts, Vec<u8>, u32)> = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            let mut capture = capture::open(path).map_err(|e| WriteError::Read(index, e))?;
            let file = index as u32;
            loop {
                let kept = capture
                    .next_frame(|f| {
                        let Ok(Decoded::Segment(s)) = decode(f, file) else {
                            return None;
                        };
                        self.contains(&FlowKey::new(s.src, s.dst).0, f.ts)
                            .then(|| (f.linktype, f.ts, f.data.to_vec(), f.orig_len))
                    })
                    .map_err(|e| WriteError::Read(index, e))?;
                match kept {
                    None => break,
                    Some(Some(packet)) => packets.push(packet),
                    Some(None) => {}
                }
            }
        }
        // Several files merged: put their packets back in time order (stable within a file).
        packets.sort_by_key(|p| p.1);
        for p in &packets {
            if !linktypes.contains(&p.0) {
                linktypes.push(p.0);
            }
        }
        let interfaces: Vec<NgInterface> = linktypes
            .iter()
            .map(|lt| NgInterface {
                linktype: *lt as u16,
                snaplen: 262_144,
                tsresol: 9,
            })
            .collect();
        let file = File::create(out).map_err(WriteError::Io)?;
        let mut w =
            PcapNgWriter::new(BufWriter::new(file), false, &interfaces).map_err(WriteError::Io)?;
        for (linktype, ts, data, orig_len) in &packets {
            let iface = linktypes.iter().position(|l| l == linktype).unwrap_or(0) as u32;
            w.write(iface, *ts, data, *orig_len)
                .map_err(WriteError::Io)?;
        }
        w.into_inner().flush().map_err(WriteError::Io)?;
        Ok(packets.len() as u64)
    }
}

#[derive(Debug)]
pub enum WriteError {
    /// Reading input file `index` again failed.
    Read(usize, CaptureError),
    Io(std::io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Read(_, e) => write!(f, "{e}"),
            WriteError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WriteError {}
