//! Microsoft Network Monitor captures (`.cap`): format 1.x (magic `RTSS`) and 2.x (magic
//! `GMBU`, versions 2.0 to 2.3), read as a stream from any `Read`, one frame at a time.
//!
//! Layout (all integers little-endian; Wireshark's `wiretap/netmon.c` is the reference):
//!
//! ```text
//! 0    magic[4] ver_minor u8 ver_major u8 media u16 SYSTEMTIME[16] (capture start)
//! 24   frame table offset u32, frame table length u32 (bytes), then offset and size of
//!      user data, comments, process info, extended info; header padded to 128 bytes
//! 128  records: 1.x  ts_delta u32 (ms)  orig_len u16  incl_len u16  data
//!               2.x  ts_delta u64 (µs)  orig_len u32  incl_len u32  data  [trailer]
//!      trailer:  2.1 media u16 | 2.2 + process index u32 | 2.3 + FILETIME u64 (UTC), tz u8
//! ...  frame table: one u32 file offset per record, in frame order (normally at the end)
//! ```
//!
//! Wireshark seeks to every offset of the frame table. A stream cannot, so records are
//! read one after another from byte 128 up to the frame table (or, from 2.2 on, up to the
//! first other section the header places before it, skipping those sections), and when the
//! table is reached it is checked against the records read (count, and a hash of their
//! offsets in order): a file with gaps between records or with records stored out of table
//! order is reported as damaged instead of being read wrongly in silence. A frame table
//! stored before the records is read first and then followed (forward skips over gaps
//! work). Memory stays O(1) in the number of frames, apart from a frame table that precedes
//! its records. An input that ends before the frame table is truncated (Wireshark cannot
//! open such a file at all).
//!
//! Media types map to pcap link types as `netmon.c` maps them to its encapsulations (see
//! `media()`); records Wireshark skips without a frame number (reassembly payload headers,
//! network info, DNS cache) are skipped here too, so frame numbers agree. Unlike Wireshark,
//! an unknown media type does not stop the file: its frames get `NETMON_MEDIA | type`.
//!
//! Timestamps: NetMon 1.x and 2.0–2.2 store the capture start as a SYSTEMTIME in the *local
//! time of the writer*, with no time zone, plus a per-record offset. Wireshark converts that
//! SYSTEMTIME with `mktime`, i.e. as the reading machine's local time, so its output depends
//! on `TZ`. This reader takes the SYSTEMTIME as UTC: every time equals what
//! `TZ=UTC tshark` prints. NetMon 2.3 (and later minors) records carry a FILETIME in UTC;
//! like Wireshark, it replaces the header time plus offset entirely.

use std::io::{self, Read};

use crate::capture::{Frame, NOT_A_PACKET};
use crate::error::{CaptureError, ErrorKind};
use crate::time::Ts;

/// Magic, version, media type, SYSTEMTIME and the ten u32 offsets and lengths.
const HEADER_LEN: usize = 64;
/// The header is padded to this size; records start here in every writer we know of.
const FIRST_RECORD: u64 = 128;
/// Wireshark refuses records with more captured bytes (`WTAP_MAX_PACKET_SIZE_STANDARD`).
const MAX_RECORD: u64 = 262_144;
/// Wireshark's limit on frame table entries (a 4 GiB file of 8-byte 1.x records).
const MAX_TABLE_ENTRIES: u64 = 512 * 1024 * 1024;
/// Link type given to NetMon media types with no pcap equivalent: `NETMON_MEDIA | media`.
pub const NETMON_MEDIA: u32 = 0x4E4D_0000;
/// NetMon's ATM records (media type 4, "NDIS WAN") start with this pseudo-header, which
/// Wireshark strips from the frame (destination[6], source[6], VPI, VCI).
const ATM_HEADER_LEN: usize = 16;
/// 100-nanosecond FILETIME units from 1601-01-01 to 1970-01-01.
const FILETIME_UNIX_EPOCH: i128 = 116_444_736_000_000_000;

/// pcap link types the NetMon media types map to.
mod linktype {
    pub const ETHERNET: u32 = 1;
    pub const TOKEN_RING: u32 = 6;
    pub const FDDI: u32 = 10;
    pub const RAW: u32 = 101;
    pub const IEEE802_11: u32 = 105;
}

/// What a record's media type makes of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Media {
    /// A frame with this pcap link type (or `NETMON_MEDIA | type`, or `NOT_A_PACKET`).
    Frame(u32),
    /// Metadata Wireshark reads past without giving it a frame number.
    Hidden,
}

/// A NetMon media type (file header, or 2.1+ record trailer) as `netmon.c` reads it.
fn media(kind: u16) -> Media {
    let netmon = NETMON_MEDIA | u32::from(kind);
    Media::Frame(match kind {
        // 0 is what NetMon 3.4 writes for some VPN captures of Ethernet frames.
        0 | 1 => linktype::ETHERNET,
        2 => linktype::TOKEN_RING,
        // Wireshark reads it as bit-swapped FDDI: only the MAC addresses differ.
        3 => linktype::FDDI,
        // 4: "NDIS WAN", which NetMon uses for ATM; in 1.x and 2.0 files Wireshark strips a
        //    16-byte pseudo-header from each record (done below), in 2.1+ records it does not.
        // 6: 802.11 preceded by NetMon's own radio metadata header, which is not
        //    LINKTYPE_IEEE802_11, so it keeps its NetMon number.
        // 5, 10, 11 and above: unknown to Wireshark.
        7..=9 => linktype::RAW,
        0xE080 => linktype::IEEE802_11,
        // Message Analyzer types (WFP captures, ETW Wi-Fi, Fiddler...).
        0xE081..=0xE08A => netmon,
        // A converted pcap file: the low 12 bits are the pcap link type.
        0xE000..=0xEFFF => u32::from(kind & 0x0FFF),
        // NetEvent (ETW), extended network info, capture or display filter string.
        0xFFE0 | 0xFFFB | 0xFFFF => NOT_A_PACKET,
        // Payload header of a reassembled frame, network info, DNS cache.
        0xFFFC..=0xFFFE => return Media::Hidden,
        _ => netmon,
    })
}

/// Where the reader is in the file.
enum Phase {
    /// Records follow one another; the frame table is still ahead.
    Sequential,
    /// The frame table has been read; `rest` holds the offsets of records not read yet.
    Table { rest: Vec<u32>, next: usize },
    /// End of the capture (or of what the input holds).
    Done,
}

/// A NetMon 1.x or 2.x capture being read, frame by frame.
pub struct NetmonReader {
    input: Box<dyn Read>,
    major: u8,
    minor: u8,
    /// Capture start from the header SYSTEMTIME, read as UTC, in ns since the epoch.
    start: i128,
    /// The file's link type (1.x and 2.0); `None` when each record carries its own (2.1+).
    file_media: Option<Media>,
    /// 1.x / 2.0 ATM file: each record starts with a 16-byte pseudo-header.
    atm: bool,
    record_header_len: usize,
    trailer_len: usize,
    table_offset: u64,
    table_entries: u64,
    /// Where the records stored before the frame table end: the table, or the first other
    /// section the header places between byte 128 and the table (what, offset).
    records_end: (&'static str, u64),
    /// Bytes consumed so far.
    pos: u64,
    /// Records read, hidden ones included (they have frame table entries too).
    records: u64,
    /// FNV-1a over the offsets of the records read before the frame table.
    layout_hash: u64,
    /// Frames handed out (the last frame number).
    frames: u64,
    phase: Phase,
    /// Frame data, reused for every frame.
    buf: Vec<u8>,
    truncated: Option<(u64, u64)>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(hash: u64, offset: u32) -> u64 {
    offset
        .to_le_bytes()
        .iter()
        .fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut raw = [0u8; 2];
    if let Some(src) = bytes.get(at..at + 2) {
        raw.copy_from_slice(src);
    }
    u16::from_le_bytes(raw)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        raw.copy_from_slice(src);
    }
    u32::from_le_bytes(raw)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        raw.copy_from_slice(src);
    }
    u64::from_le_bytes(raw)
}

/// Reads until `buf` is full or the input ends; how many bytes came.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got = (got + n).min(buf.len()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A SYSTEMTIME (year, month, day, hour, minute, second, millisecond; day of week ignored)
/// as nanoseconds since the epoch, taking it as UTC. Out-of-range fields carry over the way
/// `mktime` normalises them (month 13 is January of the next year, day 0 the last day of
/// the month before), so the result is `TZ=UTC` Wireshark's.
fn systemtime_utc(fields: [u16; 7]) -> i128 {
    let [year, month, day, hour, min, sec, ms] = fields.map(i64::from);
    let months = month - 1;
    let days =
        days_from_civil(year + months.div_euclid(12), months.rem_euclid(12) + 1, 1) + day - 1;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    i128::from(secs) * 1_000_000_000 + i128::from(ms) * 1_000_000
}

fn clamp_ts(nanos: i128) -> Ts {
    Ts(nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

impl NetmonReader {
    /// Reads the file header from `input`, which starts at byte 0 of the (decompressed)
    /// file: the magic (`GMBU` or `RTSS`) has been identified but not consumed.
    pub fn new(mut input: Box<dyn Read>) -> Result<NetmonReader, CaptureError> {
        let at0 = |kind| CaptureError::new(kind, 0, 0);
        let mut header = [0u8; HEADER_LEN];
        let got = read_full(&mut *input, &mut header).map_err(|e| at0(ErrorKind::Io(e)))?;
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&header[..4]);
        if got < 4 || (&magic != b"GMBU" && &magic != b"RTSS") {
            return Err(at0(ErrorKind::NotACapture(magic, got.min(4))));
        }
        if got < HEADER_LEN {
            return Err(at0(ErrorKind::Damaged(format!(
                "Network Monitor file header cut short: {got} of {HEADER_LEN} bytes"
            ))));
        }
        let (minor, major) = (header[4], header[5]);
        if major != 1 && major != 2 {
            return Err(at0(ErrorKind::Damaged(format!(
                "Network Monitor format version {major}.{minor} does not exist (only 1.x and 2.x)"
            ))));
        }
        let file_media = u16_at(&header, 6);
        let systemtime = [8, 10, 14, 16, 18, 20, 22].map(|at| u16_at(&header, at));
        let table_offset = u64::from(u32_at(&header, 24));
        let table_len = u64::from(u32_at(&header, 28));
        if table_len % 4 != 0 {
            return Err(at0(ErrorKind::Damaged(format!(
                "frame table length {table_len} is not a multiple of 4"
            ))));
        }
        if table_len / 4 > MAX_TABLE_ENTRIES {
            return Err(at0(ErrorKind::AbsurdLength {
                what: "the frame table",
                len: table_len,
                max: MAX_TABLE_ENTRIES * 4,
            }));
        }
        if table_offset < HEADER_LEN as u64 {
            return Err(at0(ErrorKind::Damaged(format!(
                "frame table offset {table_offset} lies inside the file header"
            ))));
        }
        let mut records_end = ("frame table", table_offset);
        if major == 2 && minor >= 2 {
            // NetMon 3.x headers also locate user data, comments, process info and extended
            // info (older writers leave these fields uninitialised, says netmon.c). Records
            // cannot run on into them.
            for (what, at) in [
                ("user data", 32),
                ("comment table", 40),
                ("process info table", 48),
                ("extended info", 56),
            ] {
                let (offset, size) = (u64::from(u32_at(&header, at)), u32_at(&header, at + 4));
                if size > 0 && (FIRST_RECORD..records_end.1).contains(&offset) {
                    records_end = (what, offset);
                }
            }
        }
        let per_packet = major == 2 && minor >= 1;
        let file_media = if per_packet {
            None
        } else if file_media < 12 {
            Some(media(file_media))
        } else {
            Some(Media::Frame(NETMON_MEDIA | u32::from(file_media)))
        };
        let trailer_len = match (major, minor) {
            (2, 1) => 2,
            (2, 2) => 6,
            (2, 3..) => 15,
            _ => 0,
        };
        let mut reader = NetmonReader {
            input,
            major,
            minor,
            start: systemtime_utc(systemtime),
            atm: file_media == Some(Media::Frame(NETMON_MEDIA | 4)),
            file_media,
            record_header_len: if major == 1 { 8 } else { 16 },
            trailer_len,
            table_offset,
            table_entries: table_len / 4,
            records_end,
            pos: HEADER_LEN as u64,
            records: 0,
            layout_hash: FNV_OFFSET,
            frames: 0,
            phase: Phase::Sequential,
            buf: Vec::new(),
            truncated: None,
        };
        // Skip the header's padding, unless the frame table sits inside it.
        reader.skip_to(FIRST_RECORD.min(table_offset))?;
        Ok(reader)
    }

    /// Fraction digits of the timestamps: 3 for 1.x (ms), 6 for 2.0–2.2 (µs), 7 for 2.3
    /// (100 ns FILETIMEs).
    pub fn digits(&self) -> u8 {
        match (self.major, self.minor) {
            (1, _) => 3,
            (_, 0..=2) => 6,
            _ => 7,
        }
    }

    /// (major, minor) format version from the file header.
    pub fn version(&self) -> (u8, u8) {
        (self.major, self.minor)
    }

    /// Format name for reports ("netmon1" / "netmon2", as editcap names them).
    pub fn format(&self) -> &'static str {
        if self.major == 1 {
            "netmon1"
        } else {
            "netmon2"
        }
    }

    /// Set when the input ends before the capture does (inside a record, or before the frame
    /// table): (frame being read, byte offset where the input ended).
    pub fn truncated(&self) -> Option<(u64, u64)> {
        self.truncated
    }

    /// Lends the next frame to `handle` and returns what it made of it; `None` at the end.
    /// A cut-off file ends with `Ok(None)` and sets [`NetmonReader::truncated`]. After an
    /// error the reader stays at its end.
    pub fn next_frame<T>(
        &mut self,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        let mut handle = Some(handle);
        loop {
            match self.step(&mut handle) {
                Ok(Step::Frame(out)) => return Ok(Some(out)),
                Ok(Step::Hidden) => continue,
                Ok(Step::End) => {
                    self.phase = Phase::Done;
                    return Ok(None);
                }
                Err(e) => {
                    self.phase = Phase::Done;
                    return Err(e);
                }
            }
        }
    }

    /// One record (or the frame table) further.
    fn step<T, F: FnOnce(&Frame) -> T>(
        &mut self,
        handle: &mut Option<F>,
    ) -> Result<Step<T>, CaptureError> {
        let limit = match &mut self.phase {
            Phase::Done => return Ok(Step::End),
            Phase::Sequential => {
                let (_, end) = self.records_end;
                if end.saturating_sub(self.pos) < self.record_header_len as u64 {
                    // No room for another record: padding, other sections, or the table.
                    if !self.skip_to(self.table_offset)? {
                        return Ok(Step::End);
                    }
                    self.read_table()?;
                    return Ok(Step::Hidden);
                }
                Some(self.records_end)
            }
            Phase::Table { rest, next } => {
                let Some(&offset) = rest.get(*next) else {
                    return Ok(Step::End);
                };
                *next += 1;
                let offset = u64::from(offset);
                if offset < self.pos {
                    return Err(self.error(ErrorKind::Damaged(format!(
                        "the frame table puts record {} at byte {offset}, before byte {} \
                         already read; such a file needs random access (a seekable, \
                         uncompressed file)",
                        self.records + 1,
                        self.pos
                    ))));
                }
                if !self.skip_to(offset)? {
                    return Ok(Step::End);
                }
                None
            }
        };
        self.read_record(limit, handle)
    }

    /// An error about the frame being read, at the current position.
    fn error(&self, kind: ErrorKind) -> CaptureError {
        CaptureError::new(kind, self.frames + 1, self.pos)
    }

    /// Notes that the input ended at `self.pos`, inside the frame being read.
    fn cut(&mut self) {
        self.truncated = Some((self.frames + 1, self.pos));
        self.phase = Phase::Done;
    }

    /// Reads exactly `dst.len()` bytes; `false` if the input ends first (then truncated).
    fn read_exact(&mut self, dst: &mut [u8], at: u64) -> Result<bool, CaptureError> {
        let got = read_full(&mut *self.input, dst)
            .map_err(|e| CaptureError::new(ErrorKind::Io(e), self.frames + 1, at))?;
        self.pos += got as u64;
        if got < dst.len() {
            self.cut();
            return Ok(false);
        }
        Ok(true)
    }

    /// Discards input up to byte `target`; `false` if the input ends first (then truncated).
    fn skip_to(&mut self, target: u64) -> Result<bool, CaptureError> {
        let Some(n) = target.checked_sub(self.pos).filter(|n| *n > 0) else {
            return Ok(true);
        };
        let at = self.pos;
        let skipped = io::copy(&mut (&mut self.input).take(n), &mut io::sink())
            .map_err(|e| CaptureError::new(ErrorKind::Io(e), self.frames + 1, at))?;
        self.pos += skipped;
        if skipped < n {
            self.cut();
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads the frame table at `self.pos`. Its first entries must be the offsets of the
    /// records read so far, in order; the others are the records still to read.
    fn read_table(&mut self) -> Result<(), CaptureError> {
        let at = self.pos;
        let mut hash = FNV_OFFSET;
        let mut rest = Vec::new();
        let mut index = 0u64;
        let mut chunk = [0u8; 4096];
        while index < self.table_entries {
            let n = (self.table_entries - index).min(chunk.len() as u64 / 4) as usize;
            let bytes = &mut chunk[..n * 4];
            if !self.read_exact(bytes, self.pos)? {
                return Ok(());
            }
            for entry in bytes.chunks_exact(4) {
                let offset = u32_at(entry, 0);
                if index < self.records {
                    hash = fnv(hash, offset);
                } else {
                    rest.push(offset);
                }
                index += 1;
            }
        }
        let damaged = |why: String| CaptureError::new(ErrorKind::Damaged(why), self.frames + 1, at);
        if self.table_entries < self.records {
            return Err(damaged(format!(
                "the frame table lists {} records, but {} are stored before it",
                self.table_entries, self.records
            )));
        }
        if hash != self.layout_hash {
            return Err(damaged(format!(
                "the frame table does not match the {} records stored before it: the file has \
                 gaps between records or stores them out of frame order, which needs random \
                 access (a seekable, uncompressed file)",
                self.records
            )));
        }
        self.phase = Phase::Table { rest, next: 0 };
        Ok(())
    }

    /// Reads the record at `self.pos`, which must end by `limit` (the frame table or another
    /// section) if given.
    fn read_record<T, F: FnOnce(&Frame) -> T>(
        &mut self,
        limit: Option<(&'static str, u64)>,
        handle: &mut Option<F>,
    ) -> Result<Step<T>, CaptureError> {
        let at = self.pos;
        let number = self.frames + 1;
        let located = |kind| CaptureError::new(kind, number, at);
        let mut header = [0u8; 16];
        let header = &mut header[..self.record_header_len];
        if !self.read_exact(header, at)? {
            return Ok(Step::End);
        }
        let (delta, mut orig_len, incl_len) = if self.major == 1 {
            let ms = u32_at(header, 0);
            let lens = (u16_at(header, 4), u16_at(header, 6));
            (
                i128::from(ms) * 1_000_000,
                u32::from(lens.0),
                u32::from(lens.1),
            )
        } else {
            // netmon.c: "microseconds" that Microsoft says to multiply by 10 and then read as
            // a signed count of 100 ns units, so a record can precede the capture start.
            let units = u64_at(header, 0).wrapping_mul(10) as i64;
            (
                i128::from(units) * 100,
                u32_at(header, 8),
                u32_at(header, 12),
            )
        };
        if u64::from(incl_len) > MAX_RECORD {
            return Err(located(ErrorKind::AbsurdLength {
                what: "the record",
                len: u64::from(incl_len),
                max: MAX_RECORD,
            }));
        }
        let record_len = (self.record_header_len + self.trailer_len) as u64 + u64::from(incl_len);
        if let Some((what, limit)) = limit
            && at + record_len > limit
        {
            return Err(located(ErrorKind::Damaged(format!(
                "the record ({record_len} bytes) runs into the {what} at byte {limit}"
            ))));
        }
        let mut data_len = incl_len as usize;
        if self.atm {
            if data_len < ATM_HEADER_LEN {
                return Err(located(ErrorKind::Damaged(format!(
                    "ATM record of {data_len} bytes is shorter than its {ATM_HEADER_LEN}-byte \
                     pseudo-header"
                ))));
            }
            let mut atm = [0u8; ATM_HEADER_LEN];
            if !self.read_exact(&mut atm, at)? {
                return Ok(Step::End);
            }
            data_len -= ATM_HEADER_LEN;
            orig_len = orig_len.saturating_sub(ATM_HEADER_LEN as u32);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(data_len, 0);
        let whole = self.read_exact(&mut buf, at);
        self.buf = buf;
        if !whole? {
            return Ok(Step::End);
        }
        let mut trailer = [0u8; 15];
        let trailer = &mut trailer[..self.trailer_len];
        if !self.read_exact(trailer, at)? {
            return Ok(Step::End);
        }
        self.records += 1;
        self.layout_hash = fnv(self.layout_hash, u32::try_from(at).unwrap_or(u32::MAX));
        let linktype = match self.file_media.unwrap_or_else(|| media(u16_at(trailer, 0))) {
            Media::Frame(linktype) => linktype,
            Media::Hidden => return Ok(Step::Hidden),
        };
        let ts = if self.trailer_len >= 14 {
            // 2.3: a FILETIME in UTC (100 ns units since 1601) replaces start + offset.
            let filetime = i128::from(u64_at(trailer, 6));
            clamp_ts((filetime - FILETIME_UNIX_EPOCH) * 100)
        } else {
            clamp_ts(self.start + delta)
        };
        self.frames += 1;
        let frame = Frame {
            number: self.frames,
            ts,
            linktype,
            data: &self.buf,
            orig_len,
            offset: at,
        };
        Ok(match handle.take() {
            Some(handle) => Step::Frame(handle(&frame)),
            None => Step::Hidden,
        })
    }
}

/// What one step of the reader found.
enum Step<T> {
    Frame(T),
    /// A record Wireshark does not number, or the frame table: read on.
    Hidden,
    End,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::PathBuf;

    /// 2026-11-23 00:31:40.825 (Monday), the corpus files' header SYSTEMTIME.
    const START: [u16; 8] = [2026, 11, 1, 23, 0, 31, 40, 825];
    const START_NS: i64 = 1_795_393_900_825_000_000;

    /// A record as a tiny writer lays it out.
    #[derive(Clone)]
    struct Rec {
        /// 1.x: milliseconds; 2.x: the raw u64 "microseconds" field.
        delta: u64,
        orig_len: u32,
        data: Vec<u8>,
        /// 2.1+ trailer media type.
        media: u16,
        /// 2.3 trailer FILETIME.
        filetime: u64,
    }

    fn rec(delta: u64, data: &[u8]) -> Rec {
        Rec {
            delta,
            orig_len: data.len() as u32,
            data: data.to_vec(),
            media: 1,
            filetime: 0,
        }
    }

    /// How the writer places records and the frame table.
    #[derive(Clone, Default)]
    struct Layout {
        /// Bytes of padding after each record.
        gap: usize,
        /// Frame table right after the header (at 128) instead of at the end.
        table_first: bool,
        /// Frame table order (indices into the records); `None` = stored order.
        order: Option<Vec<usize>>,
        /// A comment section of this many bytes between the records and a trailing table.
        comments: usize,
    }

    fn encode(major: u8, minor: u8, r: &Rec) -> Vec<u8> {
        let mut out = Vec::new();
        if major == 1 {
            out.extend((r.delta as u32).to_le_bytes());
            out.extend((r.orig_len as u16).to_le_bytes());
            out.extend((r.data.len() as u16).to_le_bytes());
        } else {
            out.extend(r.delta.to_le_bytes());
            out.extend(r.orig_len.to_le_bytes());
            out.extend((r.data.len() as u32).to_le_bytes());
        }
        out.extend(&r.data);
        if major == 2 && minor >= 1 {
            out.extend(r.media.to_le_bytes());
        }
        if major == 2 && minor >= 2 {
            out.extend(0xFFFF_FFFFu32.to_le_bytes());
        }
        if major == 2 && minor >= 3 {
            out.extend(r.filetime.to_le_bytes());
            out.push(0);
        }
        out
    }

    fn write(major: u8, minor: u8, media: u16, recs: &[Rec], layout: &Layout) -> Vec<u8> {
        let encoded: Vec<Vec<u8>> = recs.iter().map(|r| encode(major, minor, r)).collect();
        let table_len = 4 * recs.len();
        let mut offsets = Vec::new();
        let mut at = 128 + if layout.table_first { table_len } else { 0 };
        for e in &encoded {
            offsets.push(at as u32);
            at += e.len() + layout.gap;
        }
        let comments_offset = at;
        let table_offset = if layout.table_first {
            128
        } else {
            at + layout.comments
        };
        let mut file = Vec::new();
        file.extend(if major == 1 { b"RTSS" } else { b"GMBU" });
        file.push(minor);
        file.push(major);
        file.extend(media.to_le_bytes());
        for field in START {
            file.extend(field.to_le_bytes());
        }
        file.extend((table_offset as u32).to_le_bytes());
        file.extend((table_len as u32).to_le_bytes());
        file.resize(40, 0);
        if layout.comments > 0 {
            file.extend((comments_offset as u32).to_le_bytes());
            file.extend((layout.comments as u32).to_le_bytes());
        }
        file.resize(128, 0);
        let table: Vec<u8> = match &layout.order {
            Some(order) => order
                .iter()
                .flat_map(|i| offsets[*i].to_le_bytes())
                .collect(),
            None => offsets.iter().flat_map(|o| o.to_le_bytes()).collect(),
        };
        if layout.table_first {
            file.extend(&table);
        }
        for e in &encoded {
            file.extend(e);
            file.extend(std::iter::repeat_n(0xEEu8, layout.gap));
        }
        if !layout.table_first {
            file.extend(std::iter::repeat_n(0x77u8, layout.comments));
            file.extend(&table);
        }
        file
    }

    #[derive(Debug, PartialEq)]
    struct Got {
        number: u64,
        ts: i64,
        linktype: u32,
        data: Vec<u8>,
        orig_len: u32,
        offset: u64,
    }

    struct Outcome {
        frames: Vec<Got>,
        end: Result<Option<(u64, u64)>, CaptureError>,
    }

    fn read_from(input: Box<dyn Read>) -> Result<(NetmonReader, Outcome), CaptureError> {
        let mut reader = NetmonReader::new(input)?;
        let mut frames = Vec::new();
        let end = loop {
            let next = reader.next_frame(|f| Got {
                number: f.number,
                ts: f.ts.0,
                linktype: f.linktype,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
                offset: f.offset,
            });
            match next {
                Ok(Some(got)) => frames.push(got),
                Ok(None) => break Ok(reader.truncated()),
                Err(e) => break Err(e),
            }
        };
        // The end is sticky.
        assert!(matches!(reader.next_frame(|_| ()), Ok(None)));
        Ok((reader, Outcome { frames, end }))
    }

    fn read(bytes: &[u8]) -> Result<(NetmonReader, Outcome), CaptureError> {
        read_from(Box::new(Cursor::new(bytes.to_vec())))
    }

    fn read_ok(bytes: &[u8]) -> (NetmonReader, Vec<Got>) {
        let (reader, out) = read(bytes).expect("header");
        assert!(matches!(out.end, Ok(None)), "{:?}", out.end.err());
        (reader, out.frames)
    }

    fn payload(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect()
    }

    fn sample(major: u8, minor: u8) -> Vec<Rec> {
        let mut recs = vec![rec(0, &payload(60, 1)), rec(1500, &payload(74, 2))];
        let mut cut = rec(2_000_000, &payload(128, 3));
        cut.orig_len = 1514;
        recs.push(cut);
        for (i, r) in recs.iter_mut().enumerate() {
            r.filetime = 134_000_000_000_000_000 + i as u64 * 12_345;
        }
        if major == 1 {
            recs[1].delta = 2;
            recs[2].delta = 2_000;
        }
        let _ = minor;
        recs
    }

    #[test]
    fn systemtime_is_read_as_utc_and_normalised_like_mktime() {
        assert_eq!(
            systemtime_utc([2026, 11, 23, 0, 31, 40, 825]),
            i128::from(START_NS)
        );
        assert_eq!(systemtime_utc([1970, 1, 1, 0, 0, 0, 0]), 0);
        // Month 13 is January of the next year; day 0 is the last day of the month before.
        assert_eq!(
            systemtime_utc([2025, 13, 1, 0, 0, 0, 0]),
            systemtime_utc([2026, 1, 1, 0, 0, 0, 0])
        );
        assert_eq!(
            systemtime_utc([2024, 3, 0, 0, 0, 0, 0]),
            systemtime_utc([2024, 2, 29, 0, 0, 0, 0])
        );
        assert_eq!(
            systemtime_utc([2024, 0, 1, 25, 0, 0, 1500]),
            systemtime_utc([2023, 12, 2, 1, 0, 1, 500])
        );
        // Extreme fields do not overflow.
        let _ = systemtime_utc([u16::MAX; 7]);
        let _ = systemtime_utc([0; 7]);
    }

    #[test]
    fn netmon_2_0_frames_times_and_offsets() {
        let recs = sample(2, 0);
        let file = write(2, 0, 1, &recs, &Layout::default());
        let (reader, frames) = read_ok(&file);
        assert_eq!(reader.version(), (2, 0));
        assert_eq!(reader.digits(), 6);
        assert_eq!(reader.format(), "netmon2");
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].number, 1);
        assert_eq!(frames[0].offset, 128);
        assert_eq!(frames[1].offset, 128 + 16 + 60);
        assert_eq!(frames[2].offset, 128 + 16 + 60 + 16 + 74);
        assert_eq!(frames[0].ts, START_NS);
        assert_eq!(frames[1].ts, START_NS + 1_500_000);
        assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
        assert_eq!(frames[2].data, payload(128, 3));
        assert_eq!(frames[2].orig_len, 1514);
        assert!(frames.iter().all(|f| f.linktype == 1));
    }

    #[test]
    fn netmon_1_x_milliseconds_and_16_bit_lengths() {
        let recs = sample(1, 1);
        let file = write(1, 1, 1, &recs, &Layout::default());
        let (reader, frames) = read_ok(&file);
        assert_eq!(reader.version(), (1, 1));
        assert_eq!(reader.digits(), 3);
        assert_eq!(reader.format(), "netmon1");
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].offset, 128 + 8 + 60);
        assert_eq!(frames[1].ts, START_NS + 2_000_000);
        assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
        assert_eq!(frames[2].orig_len, 1514);
        assert_eq!(frames[2].data.len(), 128);
    }

    #[test]
    fn netmon_2_0_offsets_wrap_to_negative_like_wireshark() {
        // (2^64 - 6) / 10 "microseconds" times 10 is -6 in 100 ns units.
        let recs = [rec(1_844_674_407_370_955_161, b"x")];
        let file = write(2, 0, 1, &recs, &Layout::default());
        let (_, frames) = read_ok(&file);
        assert_eq!(frames[0].ts, START_NS - 600);
    }

    #[test]
    fn netmon_2_3_filetime_replaces_the_header_time() {
        let recs = sample(2, 3);
        let file = write(2, 3, 1, &recs, &Layout::default());
        let (reader, frames) = read_ok(&file);
        assert_eq!(reader.digits(), 7);
        assert_eq!(frames[1].offset, 128 + 16 + 60 + 15);
        let unix = |ft: u64| (i64::try_from(ft).unwrap() - 116_444_736_000_000_000) * 100;
        for (f, r) in frames.iter().zip(&recs) {
            assert_eq!(f.ts, unix(r.filetime));
        }
        // 2.2: 6-byte trailer, header time plus offset.
        let file = write(2, 2, 1, &recs, &Layout::default());
        let (reader, frames) = read_ok(&file);
        assert_eq!(reader.digits(), 6);
        assert_eq!(frames[1].offset, 128 + 16 + 60 + 6);
        assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
        // A FILETIME beyond what i64 nanoseconds hold saturates instead of wrapping.
        let mut far = rec(0, b"x");
        far.filetime = u64::MAX;
        let (_, frames) = read_ok(&write(2, 3, 1, &[far], &Layout::default()));
        assert_eq!(frames[0].ts, i64::MAX);
    }

    #[test]
    fn netmon_2_1_per_record_media_types() {
        let cases: [(u16, Option<u32>); 16] = [
            (0, Some(1)),
            (1, Some(1)),
            (2, Some(6)),
            (3, Some(10)),
            (4, Some(NETMON_MEDIA | 4)),
            (5, Some(NETMON_MEDIA | 5)),
            (6, Some(NETMON_MEDIA | 6)),
            (9, Some(101)),
            (0xE000 | 113, Some(113)),
            (0xE080, Some(105)),
            (0xE083, Some(NETMON_MEDIA | 0xE083)),
            (0xFFE0, Some(NOT_A_PACKET)),
            (0xFFFD, None),
            (0xFFFE, None),
            (0xFFFF, Some(NOT_A_PACKET)),
            (0x1234, Some(NETMON_MEDIA | 0x1234)),
        ];
        let recs: Vec<Rec> = cases
            .iter()
            .map(|(m, _)| Rec {
                media: *m,
                ..rec(u64::from(*m), &[*m as u8; 20])
            })
            .collect();
        let file = write(2, 1, 1, &recs, &Layout::default());
        let (_, frames) = read_ok(&file);
        let expected: Vec<(u64, u32, u8)> = cases
            .iter()
            .filter_map(|(m, lt)| lt.map(|lt| (*m as u8, lt)))
            .enumerate()
            .map(|(i, (byte, lt))| (i as u64 + 1, lt, byte))
            .collect();
        let got: Vec<(u64, u32, u8)> = frames
            .iter()
            .map(|f| (f.number, f.linktype, f.data[0]))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn file_media_type_for_1_x_and_2_0() {
        let recs = sample(2, 0);
        for (media, linktype) in [
            (2, 6),
            (3, 10),
            (7, 101),
            (6, NETMON_MEDIA | 6),
            (40, NETMON_MEDIA | 40),
        ] {
            let (_, frames) = read_ok(&write(2, 0, media, &recs, &Layout::default()));
            assert!(frames.iter().all(|f| f.linktype == linktype), "{media}");
        }
        // 2.1+ ignore the header's media type.
        let (_, frames) = read_ok(&write(2, 1, 2, &recs, &Layout::default()));
        assert!(frames.iter().all(|f| f.linktype == 1));
    }

    #[test]
    fn atm_pseudo_header_is_stripped() {
        let mut r = rec(0, &payload(40, 9));
        r.orig_len = 100;
        let (_, frames) = read_ok(&write(1, 1, 4, &[r.clone()], &Layout::default()));
        assert_eq!(frames[0].linktype, NETMON_MEDIA | 4);
        assert_eq!(frames[0].data, payload(40, 9)[16..]);
        assert_eq!(frames[0].orig_len, 84);
        let short = rec(0, &[0; 10]);
        let (_, out) = read(&write(2, 0, 4, &[r, short], &Layout::default())).unwrap();
        assert_eq!(out.frames.len(), 1);
        let err = out.end.unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Damaged(_)), "{err}");
        assert_eq!((err.frame, err.offset), (2, 128 + 16 + 40));
    }

    #[test]
    fn table_before_the_records_is_followed_across_gaps() {
        let recs = sample(2, 1);
        let layout = Layout {
            gap: 5,
            table_first: true,
            ..Layout::default()
        };
        let (_, frames) = read_ok(&write(2, 1, 1, &recs, &layout));
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].offset, 128 + 12);
        assert_eq!(frames[1].offset, 128 + 12 + 16 + 60 + 2 + 5);
        assert_eq!(frames[2].data, payload(128, 3));
        // A table going backwards cannot be followed in a stream.
        let layout = Layout {
            table_first: true,
            order: Some(vec![1, 0, 2]),
            ..Layout::default()
        };
        let (_, out) = read(&write(2, 1, 1, &recs, &layout)).unwrap();
        assert_eq!(out.frames.len(), 1);
        let err = out.end.unwrap_err();
        assert!(err.to_string().contains("before byte"), "{err}");
        assert_eq!(err.frame, 2);
    }

    #[test]
    fn gaps_or_reordering_before_a_trailing_table_are_reported() {
        let recs = sample(2, 0);
        let gaps = Layout {
            gap: 20,
            ..Layout::default()
        };
        let (_, out) = read(&write(2, 0, 1, &recs, &gaps)).unwrap();
        assert!(out.end.is_err());
        let reordered = Layout {
            order: Some(vec![0, 2, 1]),
            ..Layout::default()
        };
        let (_, out) = read(&write(2, 0, 1, &recs, &reordered)).unwrap();
        assert_eq!(out.frames.len(), 3);
        let err = out.end.unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        // Fewer table entries than records.
        let mut file = write(2, 0, 1, &recs, &Layout::default());
        file[28] = 8;
        file.truncate(file.len() - 4);
        let (_, out) = read(&file).unwrap();
        assert!(out.end.unwrap_err().to_string().contains("lists 2 records"));
        // A record running into the table.
        let mut file = write(2, 0, 1, &recs, &Layout::default());
        file[24] -= 1;
        let (_, out) = read(&file).unwrap();
        let err = out.end.unwrap_err();
        assert!(
            err.to_string().contains("runs into the frame table"),
            "{err}"
        );
        assert_eq!(err.frame, 3);
    }

    #[test]
    fn sections_between_records_and_table_are_skipped_from_2_2_on() {
        let layout = Layout {
            comments: 300,
            ..Layout::default()
        };
        for minor in [2, 3] {
            let (_, frames) = read_ok(&write(2, minor, 1, &sample(2, minor), &layout));
            assert_eq!(frames.len(), 3);
        }
        // Before 2.2 the header's section fields are not trusted, so the section reads as a
        // record and the damage shows.
        let (_, out) = read(&write(2, 1, 1, &sample(2, 1), &layout)).unwrap();
        assert_eq!(out.frames.len(), 3);
        assert!(out.end.is_err());
    }

    #[test]
    fn padding_before_a_trailing_table_is_skipped() {
        let recs = sample(2, 0);
        let mut file = write(2, 0, 1, &recs, &Layout::default());
        let table_at = u32_at(&file, 24) as usize;
        file.splice(table_at..table_at, [0u8; 3]);
        file[24..28].copy_from_slice(&(table_at as u32 + 3).to_le_bytes());
        let (_, frames) = read_ok(&file);
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn empty_capture_and_bad_headers() {
        let (_, frames) = read_ok(&write(2, 0, 1, &[], &Layout::default()));
        assert!(frames.is_empty());
        let good = write(2, 0, 1, &sample(2, 0), &Layout::default());
        let mut bad = good.clone();
        bad[5] = 3;
        assert!(matches!(
            read(&bad).err().unwrap().kind,
            ErrorKind::Damaged(_)
        ));
        let mut bad = good.clone();
        bad[28] = 13;
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[24..28].copy_from_slice(&10u32.to_le_bytes());
        assert!(read(&bad).is_err());
        let mut bad = good.clone();
        bad[28..32].copy_from_slice(&u32::MAX.wrapping_sub(3).to_le_bytes());
        assert!(matches!(
            read(&bad).err().unwrap().kind,
            ErrorKind::AbsurdLength { .. }
        ));
        assert!(matches!(
            read(b"pcap").err().unwrap().kind,
            ErrorKind::NotACapture(_, 4)
        ));
        assert!(matches!(
            read(b"GM").err().unwrap().kind,
            ErrorKind::NotACapture(_, 2)
        ));
    }

    #[test]
    fn absurd_record_length_is_located() {
        let mut file = write(2, 0, 1, &sample(2, 0), &Layout::default());
        let second = 128 + 16 + 60;
        file[second + 12..second + 16].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let (_, out) = read(&file).unwrap();
        assert_eq!(out.frames.len(), 1);
        let err = out.end.unwrap_err();
        assert!(matches!(
            err.kind,
            ErrorKind::AbsurdLength {
                len: 0x7fff_ffff,
                ..
            }
        ));
        assert_eq!((err.frame, err.offset), (2, second as u64));
    }

    /// Hands out at most `step` bytes per read, with an `Interrupted` now and then.
    struct Trickle {
        data: Cursor<Vec<u8>>,
        step: usize,
        calls: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(7) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.step);
            self.data.read(&mut buf[..n])
        }
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn short_reads_and_io_errors() {
        let file = write(2, 3, 1, &sample(2, 3), &Layout::default());
        let (_, reference) = read_ok(&file);
        for step in [1, 3, 17] {
            let input = Trickle {
                data: Cursor::new(file.clone()),
                step,
                calls: 0,
            };
            let (_, out) = read_from(Box::new(input)).unwrap();
            assert!(matches!(out.end, Ok(None)));
            assert_eq!(out.frames, reference);
        }
        let input = Cursor::new(file[..100].to_vec()).chain(Failing);
        let err = read_from(Box::new(input)).err().unwrap();
        assert!(matches!(err.kind, ErrorKind::Io(_)));
        let input = Cursor::new(file[..300].to_vec()).chain(Failing);
        let (_, out) = read_from(Box::new(input)).unwrap();
        let err = out.end.unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Io(_)));
        assert_eq!(err.frame, 2);
    }

    /// Frames whose records lie wholly inside the first `len` bytes.
    fn whole_records(
        frames: &[Got],
        file_len: usize,
        len: usize,
        record_len: impl Fn(&Got) -> u64,
    ) -> usize {
        let _ = file_len;
        frames
            .iter()
            .take_while(|f| f.offset + record_len(f) <= len as u64)
            .count()
    }

    #[test]
    fn every_truncated_prefix_ends_cleanly() {
        let layouts = [
            Layout::default(),
            Layout {
                gap: 3,
                table_first: true,
                ..Layout::default()
            },
            Layout {
                comments: 7,
                ..Layout::default()
            },
        ];
        for (major, minor) in [(1, 1), (2, 0), (2, 1), (2, 2), (2, 3)] {
            for layout in &layouts {
                let recs = sample(major, minor);
                let file = write(major, minor, 1, &recs, layout);
                let (_, all) = read_ok(&file);
                let overhead = match (major, minor) {
                    (1, _) => 8,
                    (_, 0) => 16,
                    (_, 1) => 18,
                    (_, 2) => 22,
                    _ => 31,
                };
                let record_len = |f: &Got| overhead + f.data.len() as u64;
                for len in 0..file.len() {
                    let result = read(&file[..len]);
                    if len < HEADER_LEN {
                        assert!(result.is_err(), "{major}.{minor} prefix {len}");
                        continue;
                    }
                    let (_, out) = result.unwrap_or_else(|e| panic!("prefix {len}: {e}"));
                    let end = out.end.unwrap_or_else(|e| panic!("prefix {len}: {e}"));
                    if layout.table_first && len >= file.len() - layout.gap {
                        // Only the padding after the last record is missing: not needed.
                        assert_eq!((end, &out.frames), (None, &all));
                        continue;
                    }
                    let Some((frame, at)) = end else {
                        panic!(
                            "{major}.{minor} prefix {len} of {} not truncated",
                            file.len()
                        )
                    };
                    assert_eq!(at, len as u64, "{major}.{minor} prefix {len}");
                    let whole = whole_records(&all, file.len(), len, record_len);
                    assert_eq!(out.frames.len(), whole, "{major}.{minor} prefix {len}");
                    assert_eq!(out.frames[..], all[..whole]);
                    assert_eq!(frame, whole as u64 + 1);
                }
            }
        }
    }

    #[test]
    fn damaged_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (major, minor) in [(1, 1), (2, 0), (2, 1), (2, 3)] {
            let mut recs = sample(major, minor);
            recs[1].media = 0xFFFD;
            let file = write(major, minor, 1, &recs, &Layout::default());
            for _ in 0..3000 {
                let mut bad = file.clone();
                for _ in 0..(next() % 4 + 1) {
                    let at = (next() % bad.len() as u64) as usize;
                    bad[at] = next() as u8;
                }
                let len = if next() % 4 == 0 {
                    (next() % bad.len() as u64) as usize
                } else {
                    bad.len()
                };
                let _ = read(&bad[..len]);
            }
        }
    }

    // --- The shared corpus, checked against tshark 4.0.17 (TZ=UTC) ---

    fn corpus() -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/generated");
        dir.join("netmon").is_dir().then_some(dir)
    }

    fn read_file(path: &std::path::Path) -> Vec<Got> {
        let file = std::fs::File::open(path).unwrap();
        let (_, out) = read_from(Box::new(io::BufReader::new(file))).unwrap();
        assert!(matches!(out.end, Ok(None)), "{}", path.display());
        out.frames
    }

    /// (ts ns, orig_len, data) of each record of a little-endian microsecond pcap.
    fn pcap_records(path: &std::path::Path) -> Vec<(i64, u32, Vec<u8>)> {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(u32_at(&bytes, 0), 0xa1b2_c3d4);
        let mut at = 24;
        let mut out = Vec::new();
        while at + 16 <= bytes.len() {
            let ts = i64::from(u32_at(&bytes, at)) * 1_000_000_000
                + i64::from(u32_at(&bytes, at + 4)) * 1000;
            let incl = u32_at(&bytes, at + 8) as usize;
            let orig = u32_at(&bytes, at + 12);
            out.push((ts, orig, bytes[at + 16..at + 16 + incl].to_vec()));
            at += 16 + incl;
        }
        out
    }

    /// tshark's `frame.number frame.time_epoch frame.len frame.cap_len` for a few frames.
    type Tshark = (u64, i64, u32, usize);

    fn check(frames: &[Got], count: usize, samples: &[Tshark]) {
        assert_eq!(frames.len(), count);
        for &(number, ts, len, cap_len) in samples {
            let f = &frames[number as usize - 1];
            assert_eq!(
                (f.number, f.ts, f.orig_len, f.data.len()),
                (number, ts, len, cap_len)
            );
        }
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.number, i as u64 + 1);
        }
    }

    #[test]
    fn corpus_matches_tshark() {
        let Some(dir) = corpus() else {
            eprintln!("shared corpus not found; skipped");
            return;
        };
        let pcap = pcap_records(&dir.join("loopback/lo-http-reuse-s128.pcap"));
        assert_eq!(pcap.len(), 75);
        let netmon = dir.join("netmon");

        // NetMon 2.0 written under TZ=UTC: tshark's times are the pcap's.
        let frames = read_file(&netmon.join("lo-http-reuse-netmon2.0.cap"));
        check(
            &frames,
            75,
            &[
                (1, 1_795_393_900_825_631_000, 74, 74),
                (4, 1_795_393_900_826_301_000, 144, 128),
                (75, 1_795_393_901_712_282_000, 66, 66),
            ],
        );
        for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
            assert_eq!(
                (f.ts, f.orig_len, &f.data, f.linktype),
                (*ts, *orig, data, 1)
            );
        }
        assert_eq!(frames[1].offset, 128 + 16 + 74);

        // Written under TZ=America/New_York: the header holds local time, read here as UTC,
        // so every time is 5 h early, exactly as `TZ=UTC tshark` shows it.
        let frames =
            read_file(&netmon.join("lo-http-reuse-netmon2.0-written-in-TZ-America_New_York.cap"));
        check(
            &frames,
            75,
            &[
                (1, 1_795_375_900_825_631_000, 74, 74),
                (67, 1_795_375_901_711_213_000, 455, 128),
                (75, 1_795_375_901_712_282_000, 66, 66),
            ],
        );
        for (f, (ts, _, data)) in frames.iter().zip(&pcap) {
            assert_eq!((f.ts, &f.data), (ts - 5 * 3600 * 1_000_000_000, data));
        }

        // NetMon 1.1: start cut to the millisecond, offsets rounded to milliseconds.
        let frames = read_file(&netmon.join("lo-http-reuse-netmon1.1.cap"));
        check(
            &frames,
            75,
            &[
                (1, 1_795_393_900_826_000_000, 74, 74),
                (16, 1_795_393_900_841_000_000, 144, 128),
                (75, 1_795_393_901_712_000_000, 66, 66),
            ],
        );
        let start = pcap[0].0 / 1_000_000 * 1_000_000;
        for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
            let rounded = start + (ts - start + 500_000) / 1_000_000 * 1_000_000;
            assert_eq!((f.ts, f.orig_len, &f.data), (rounded, *orig, data));
        }

        // NetMon 2.3 with UTC FILETIME trailers: the first 12 pcap frames, times as the pcap.
        let frames = read_file(&netmon.join("handmade-netmon2.3-utc-trailer.cap"));
        check(
            &frames,
            12,
            &[
                (1, 1_795_393_900_825_631_000, 74, 74),
                (6, 1_795_393_900_831_752_000, 250, 128),
                (12, 1_795_393_900_831_936_000, 66, 66),
            ],
        );
        for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
            assert_eq!(
                (f.ts, f.orig_len, &f.data, f.linktype),
                (*ts, *orig, data, 1)
            );
        }

        // NetMon 2.1 with per-record media types: 6 Ethernet frames and one Token Ring.
        let frames = read_file(&netmon.join("eth-tokenring-netmon2.1-per-packet.cap"));
        check(
            &frames,
            7,
            &[
                (1, 1_795_393_900_825_631_000, 74, 74),
                (6, 1_795_393_900_831_752_000, 250, 128),
                (7, 1_795_393_900_831_753_000, 82, 82),
            ],
        );
        let linktypes: Vec<u32> = frames.iter().map(|f| f.linktype).collect();
        assert_eq!(linktypes, [1, 1, 1, 1, 1, 1, 6]);
    }
}
