//! The frame a reader lends out, the per-file bookkeeping done as it is handed over, and the
//! byte-order helpers every reader shares. A leaf module: the readers depend on it, never
//! the other way round.

use super::info::FileInfo;
use crate::time::Ts;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based, as Wireshark numbers the frames of the file.
    pub number: u64,
    pub ts: Ts,
    pub linktype: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
    /// Byte offset of the frame's record in the (decompressed) input.
    pub offset: u64,
}

/// Link type given to records that are not packets (pcapng custom and journal blocks,
/// NetMon event and filter records).
pub const NOT_A_PACKET: u32 = u32::MAX;

/// A record as a reader found it, before it gets its frame number.
pub(crate) struct Record<'a> {
    pub ts: Ts,
    pub linktype: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// Numbers the record, keeps the per-file bookkeeping and lends the frame to `handle`.
/// `prev_ts` is the timestamp of the frame before (for frames that go back in time).
#[inline]
pub(crate) fn deliver<T>(
    info: &mut FileInfo,
    prev_ts: &mut Ts,
    rec: Record,
    offset: u64,
    handle: impl FnOnce(&Frame) -> T,
) -> T {
    let ts = rec.ts;
    if info.frames > 0 && ts < *prev_ts {
        info.out_of_order += 1;
    }
    *prev_ts = ts;
    info.cut_frames += u64::from(rec.data.len() < rec.orig_len as usize);
    info.first_ts.get_or_insert(ts);
    info.last_ts = Some(info.last_ts.map_or(ts, |t| t.max(ts)));
    info.frames += 1;
    handle(&Frame {
        number: info.frames,
        ts,
        linktype: rec.linktype,
        data: rec.data,
        orig_len: rec.orig_len,
        offset,
    })
}

/// A u16 at `at` in the given byte order (0 past the end of `data`).
#[inline]
pub(crate) fn u16_at(data: &[u8], at: usize, big_endian: bool) -> u16 {
    let raw: [u8; 2] = match data.get(at..at + 2) {
        Some(b) => [b[0], b[1]],
        None => [0; 2],
    };
    if big_endian {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    }
}

/// A u32 at `at` in the given byte order (0 past the end of `data`).
#[inline]
pub(crate) fn u32_at(data: &[u8], at: usize, big_endian: bool) -> u32 {
    let raw: [u8; 4] = match data.get(at..at + 4) {
        Some(b) => [b[0], b[1], b[2], b[3]],
        None => [0; 4],
    };
    if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    }
}

/// A u64 at `at` in the given byte order (0 past the end of `data`).
#[inline]
pub(crate) fn u64_at(data: &[u8], at: usize, big_endian: bool) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(b) = data.get(at..at + 8) {
        raw.copy_from_slice(b);
    }
    if big_endian {
        u64::from_be_bytes(raw)
    } else {
        u64::from_le_bytes(raw)
    }
}
