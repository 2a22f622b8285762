//! pcapng, read in place from the window, block by block: this module frames the blocks,
//! judges them sound or damaged and reads on after damage; `packet` reads the packet blocks
//! (without building anything per packet), `interface` the interface descriptions and
//! statistics, `fields` their options and timestamps.
//!
//! A block is sound when its length is at least 12, within the bounds for its type, and
//! equal to the copy at its end (pcapng 3.1). Any other block is damage: the reader looks
//! byte by byte for the next sound block of a known type, as `pcapfix` does, whose own
//! fields are plausible too (a packet block's interface exists, its timestamp is close to
//! the last frame's, its frame decodes), warns, and reads on from there. A sound block
//! whose contents are impossible (a packet longer than its block, an interface the section
//! does not describe) is skipped alone.

use super::frame::{Frame, NOT_A_PACKET, Record, deliver, u32_at};
use super::info::{Damage, FileInfo};
use super::recover::{self, MAX_RECORD, Resync, close_in_time, looks_like_frame};
use super::window::{MAX_WINDOW, RECORD_ROOM, Window};
use crate::error::{CaptureError, ErrorKind};
use crate::time::Ts;

mod fields;
mod interface;
mod packet;

use fields::{split_ts, ts_from_units};
use interface::{Interface, idb, isb};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
/// The obsolete Packet Block.
const PB: u32 = 2;
const SPB: u32 = 3;
const NRB: u32 = 4;
const ISB: u32 = 5;
const EPB: u32 = 6;
const SJE: u32 = 9;
const DSB: u32 = 10;
const CB: u32 = 0x0000_0bad;
const DCB: u32 = 0x4000_0bad;
const BYTE_ORDER: u32 = 0x1a2b_3c4d;

/// Largest packet block (a 256 KiB record, its fields and options fit many times over).
const MAX_PACKET_BLOCK: u32 = RECORD_ROOM as u32;
/// Largest section header, interface description or statistics block (parsed whole).
const MAX_PARSED_BLOCK: u32 = MAX_WINDOW as u32;
/// Largest block of any other type (skipped as a stream when it exceeds the window).
const MAX_BLOCK: u32 = 64 << 20;

pub(crate) struct NgReader {
    window: Window,
    big_endian: bool,
    interfaces: Vec<Interface>,
    prev_ts: Ts,
    /// Time of the last frame handed out (for plausibility after damage).
    last_good: Option<Ts>,
    done: bool,
}

/// Why a sound packet block is not analysed.
enum Bad {
    /// Its contents are impossible.
    Damage(String),
    /// Its interface's times cannot be read (said once, at the interface).
    Unusable,
}

/// What a block's first bytes say about it.
#[derive(Clone, Copy)]
struct Head {
    kind: u32,
    len: u32,
}

impl Head {
    /// "a block of type 0x00000006 claims 80 bytes" and `rest`: the start of every warning
    /// about a block's length.
    #[cold]
    fn claims(self, rest: &str) -> String {
        format!(
            "a block of type {:#010x} claims {} bytes{rest}",
            self.kind, self.len
        )
    }
}

fn is_packet(kind: u32) -> bool {
    matches!(kind, EPB | SPB | PB)
}

/// Blocks parsed whole (the others are only skipped, so they may exceed the window).
fn is_parsed(kind: u32) -> bool {
    matches!(kind, SHB | IDB | ISB)
}

/// The largest length a block of this type may have.
fn max_len(kind: u32) -> u32 {
    match kind {
        EPB | SPB | PB => MAX_PACKET_BLOCK,
        SHB | IDB | ISB => MAX_PARSED_BLOCK,
        _ => MAX_BLOCK,
    }
}

impl NgReader {
    /// The reader for a window that starts with a Section Header Block.
    pub fn new(mut window: Window, info: &mut FileInfo) -> Result<NgReader, CaptureError> {
        let damaged = |why: String| CaptureError::new(ErrorKind::Damaged(why), 0, 0);
        let io = |e| CaptureError::new(ErrorKind::Io(e), 0, 0);
        if !window.fill(12).map_err(io)? {
            return Err(super::header_cut(&window));
        }
        let Some(big_endian) = byte_order(window.data()) else {
            return Err(damaged(bad_byte_order(window.data())));
        };
        info.format = "pcapng";
        info.digits = 6;
        Ok(NgReader {
            window,
            big_endian,
            interfaces: Vec::new(),
            prev_ts: Ts::default(),
            last_good: None,
            done: false,
        })
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The type and length of the block at the window's start (at least 12 bytes there).
    #[inline]
    fn head(&mut self) -> Head {
        let data = self.window.data();
        if u32_at(data, 0, false) == SHB
            && let Some(big_endian) = byte_order(data)
        {
            // A new section: its byte order is the one its header says.
            self.big_endian = big_endian;
        }
        Head {
            kind: u32_at(data, 0, self.big_endian),
            len: u32_at(data, 4, self.big_endian),
        }
    }

    /// Lends the next frame to `handle`; `None` at the end of the capture.
    #[inline]
    pub fn next<T>(
        &mut self,
        info: &mut FileInfo,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        let mut handle = Some(handle);
        loop {
            if self.done {
                return Ok(None);
            }
            let at = self.window.offset();
            let frame = info.frames + 1;
            let io = move |e| CaptureError::new(ErrorKind::Io(e), frame, at);
            if !self.window.fill(12).map_err(io)? {
                self.done = true;
                if self.window.available() > 0 {
                    info.truncated = Some((info.frames + 1, at));
                }
                return Ok(None);
            }
            let head = self.head();
            let len = head.len as usize;
            if let Some(why) = self.impossible(head) {
                self.resync(info, why, false).map_err(io)?;
                continue;
            }
            if len > RECORD_ROOM && !is_parsed(head.kind) {
                self.skip_large(info, head).map_err(io)?;
                continue;
            }
            if !self.window.fill(len).map_err(io)? {
                // The input ends inside the block: a cut, unless a sound block follows in
                // what is left (then the length was damaged).
                let why = head.claims(", more than the file holds");
                self.resync(info, why, true).map_err(io)?;
                continue;
            }
            let trailer = u32_at(self.window.data(), len - 4, self.big_endian);
            if trailer != head.len {
                let why = head.claims(&format!(", but its closing length says {trailer}"));
                self.resync(info, why, false).map_err(io)?;
                continue;
            }
            let out = self.block(info, head, at, &mut handle);
            self.window.consume(len);
            if len > RECORD_ROOM {
                self.window.shrink();
            }
            if let Some(out) = out {
                return Ok(Some(out));
            }
        }
    }

    /// What makes the block at the window's start impossible, from its first 12 bytes: a
    /// section header in neither byte order, or a length out of bounds for its type.
    #[inline]
    fn impossible(&self, head: Head) -> Option<String> {
        // The usual block (a packet of a sane length) without a call: the wording is cold.
        if head.kind != SHB && head.len >= 12 && head.len <= max_len(head.kind) {
            return None;
        }
        self.why_impossible(head)
    }

    #[cold]
    #[inline(never)]
    fn why_impossible(&self, head: Head) -> Option<String> {
        if head.kind == SHB && byte_order(self.window.data()).is_none() {
            return Some(bad_byte_order(self.window.data()));
        }
        if head.len < 12 {
            return Some(head.claims(" (every block has at least 12)"));
        }
        let max = max_len(head.kind);
        if head.len > max {
            return Some(head.claims(&format!(" (at most {max} are possible)")));
        }
        None
    }

    /// Reads one sound block (whole in the window); a frame for packet-like blocks.
    #[inline]
    fn block<T, F: FnOnce(&Frame) -> T>(
        &mut self,
        info: &mut FileInfo,
        head: Head,
        at: u64,
        handle: &mut Option<F>,
    ) -> Option<T> {
        let be = self.big_endian;
        let block = &self.window.data()[..head.len as usize];
        let body = &block[8..block.len() - 4];
        let rec = match head.kind {
            EPB => match self.epb(body) {
                Ok(rec) => rec,
                Err(bad) => return self.skip(info, at, head, bad),
            },
            SPB => match self.spb(body) {
                Ok(rec) => {
                    info.without_timestamp += 1;
                    rec
                }
                Err(bad) => return self.skip(info, at, head, bad),
            },
            PB => match self.packet_block(body) {
                Ok(rec) => rec,
                Err(bad) => return self.skip(info, at, head, bad),
            },
            // Wireshark shows custom and systemd journal blocks as frames of their own, so
            // they take a frame number (and decode as "not a packet").
            CB | DCB | SJE => Record {
                ts: self.prev_ts,
                linktype: NOT_A_PACKET,
                data: &[],
                orig_len: 0,
            },
            SHB => {
                // Interface ids restart with every section (pcapng 4.1).
                self.interfaces.clear();
                return None;
            }
            IDB => {
                idb(&mut self.interfaces, be, info, at, body);
                return None;
            }
            ISB => {
                isb(&mut self.interfaces, be, info, body);
                return None;
            }
            _ => return None,
        };
        let ts = rec.ts;
        let out = handle
            .take()
            .map(|h| deliver(info, &mut self.prev_ts, rec, at, h));
        self.last_good = Some(ts);
        out
    }

    /// Skips a sound block whose contents are impossible; a packet block takes its frame
    /// number.
    fn skip<T>(&mut self, info: &mut FileInfo, at: u64, head: Head, bad: Bad) -> Option<T> {
        if is_packet(head.kind) {
            info.frames += 1;
        }
        match bad {
            Bad::Unusable => info.skipped_frames += 1,
            Bad::Damage(why) => info.add_damage(Damage {
                frame: info.frames,
                offset: at,
                skipped: u64::from(head.len),
                resumed: true,
                why,
            }),
        }
        None
    }

    /// A sound block too large for the window, of a type not parsed: skipped as a stream,
    /// then its closing length checked.
    fn skip_large(&mut self, info: &mut FileInfo, head: Head) -> std::io::Result<()> {
        let at = self.window.offset();
        let body = u64::from(head.len) - 4;
        if self.window.skip(body)? < body || !self.window.fill(4)? {
            self.done = true;
            info.truncated = Some((info.frames + 1, at));
            return Ok(());
        }
        let trailer = u32_at(self.window.data(), 0, self.big_endian);
        if trailer != head.len {
            // The bytes are gone: read on from here.
            info.add_damage(Damage {
                frame: info.frames + 1,
                offset: at,
                skipped: u64::from(head.len),
                resumed: true,
                why: head.claims(&format!(", but its closing length says {trailer}")),
            });
            return Ok(());
        }
        self.window.consume(4);
        Ok(())
    }

    /// Skips the damaged block at the window's start up to the next plausible block (or the
    /// end of the input); see [`recover::resync`].
    fn resync(&mut self, info: &mut FileInfo, why: String, or_cut: bool) -> std::io::Result<()> {
        self.done = recover::resync(self, info, why, or_cut)?;
        Ok(())
    }
}

impl Resync for NgReader {
    fn window_mut(&mut self) -> &mut Window {
        &mut self.window
    }

    /// A sound block of a known type at the window's start, whose fields are plausible.
    fn plausible(&mut self) -> std::io::Result<bool> {
        if !self.window.fill(12)? {
            return Ok(false);
        }
        let data = self.window.data();
        let kind_le = u32_at(data, 0, false);
        let be = match kind_le {
            SHB => match byte_order(data) {
                Some(be) => be,
                None => return Ok(false),
            },
            _ => self.big_endian,
        };
        let kind = u32_at(data, 0, be);
        let len = u32_at(data, 4, be);
        let known = matches!(
            kind,
            SHB | IDB | PB | SPB | NRB | ISB | EPB | SJE | DSB | CB | DCB
        );
        if !known || len < 12 || !len.is_multiple_of(4) || len > MAX_PACKET_BLOCK {
            return Ok(false);
        }
        let len = len as usize;
        let whole = self.window.fill(len)?;
        let data = self.window.data();
        if whole && u32_at(data, len - 4, be) != len as u32 {
            return Ok(false);
        }
        if !whole && kind != EPB {
            return Ok(false);
        }
        if kind != EPB {
            return Ok(true);
        }
        // A packet: its interface exists, its time is close, its frame decodes. One the
        // input ends inside is plausible too (the reader then reports the cut).
        let body = &data[8..data.len().min(len - 4)];
        let caplen = u32_at(body, 12, be);
        let Ok(iface) = self.interface(u32_at(body, 0, be)) else {
            return Ok(false);
        };
        let ts = ts_from_units(split_ts(body, 4, be), iface.units, iface.offset_secs);
        let start = 20.min(body.len());
        let frame = &body[start..body.len().min(20 + caplen as usize)];
        Ok(caplen <= MAX_RECORD
            && (20 + caplen as usize) <= len - 12
            && close_in_time(ts, self.last_good)
            && looks_like_frame(iface.linktype, frame))
    }
}

/// The byte order a Section Header Block's magic (at 8) gives: `Some(true)` big-endian.
fn byte_order(data: &[u8]) -> Option<bool> {
    match u32_at(data, 8, false) {
        BYTE_ORDER => Some(false),
        m if m.swap_bytes() == BYTE_ORDER => Some(true),
        _ => None,
    }
}

#[cold]
fn bad_byte_order(data: &[u8]) -> String {
    format!(
        "section header byte-order magic {:#010x} is not 1a2b3c4d in either byte order",
        u32_at(data, 8, false)
    )
}
