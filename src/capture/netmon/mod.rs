//! Microsoft Network Monitor captures (`.cap`): format 1.x (magic `RTSS`) and 2.x (magic
//! `GMBU`, versions 2.0 to 2.3), read as a stream, one frame at a time, in place from the
//! window.
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
//! stored before the records is read first (at most 2^20 of its entries are held: the
//! table's own length is never trusted for memory) and then followed (forward skips over
//! gaps work). An input that ends before the frame table is truncated (Wireshark cannot
//! open such a file at all).
//!
//! Damage: a record longer than 256 KiB, or one that runs into the frame table, is skipped
//! up to the next plausible record (sane lengths, a time close to the last frame's, a known
//! media type, a frame that decodes, a sane record after it; see `recover`), with a
//! warning; the frame table is then not checked. A frame table that does not match, or
//! that the file ends inside, is a warning: every frame before it was read.
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

use super::frame::{Frame, Record, deliver, u16_at, u32_at, u64_at};
use super::info::{Damage, FileInfo};
use super::recover::{MAX_RECORD, close_in_time, looks_like_frame};
use super::window::Window;
use crate::error::{CaptureError, ErrorKind};
use crate::time::Ts;

mod media;
#[cfg(test)]
mod tests;

pub use media::NETMON_MEDIA;
use media::{FILETIME_UNIX_EPOCH, Media, clamp_ts, known_media, media, systemtime_utc};

/// Magic, version, media type, SYSTEMTIME and the ten u32 offsets and lengths.
const HEADER_LEN: usize = 64;
/// The header is padded to this size; records start here in every writer we know of.
const FIRST_RECORD: u64 = 128;
/// Wireshark's limit on frame table entries (a 4 GiB file of 8-byte 1.x records).
const MAX_TABLE_ENTRIES: u64 = 512 * 1024 * 1024;
/// Frame table entries held for records stored after the table (a budget: 4 MiB).
const MAX_HELD: usize = 1 << 20;
/// NetMon's ATM records (media type 4, "NDIS WAN") start with this pseudo-header, which
/// Wireshark strips from the frame (destination[6], source[6], VPI, VCI).
const ATM_HEADER_LEN: usize = 16;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(hash: u64, offset: u32) -> u64 {
    offset
        .to_le_bytes()
        .iter()
        .fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
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

/// What one step of the reader found.
enum Step<T> {
    Frame(T),
    /// A record Wireshark does not number, the frame table, or damage: read on.
    Again,
    End,
}

/// A record header's fields.
#[derive(Clone, Copy)]
struct RecordHead {
    /// Offset from the capture start, in nanoseconds.
    delta: i128,
    orig_len: u32,
    incl_len: u32,
}

/// A NetMon 1.x or 2.x capture being read, frame by frame.
pub(crate) struct NetmonReader {
    window: Window,
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
    /// Records read, hidden ones included (they have frame table entries too).
    records: u64,
    /// FNV-1a over the offsets of the records read before the frame table.
    layout_hash: u64,
    phase: Phase,
    prev_ts: Ts,
    /// Time of the last frame handed out (for plausibility after damage).
    last_good: Option<Ts>,
    /// Damage was skipped: the frame table cannot match what was read any more.
    damaged: bool,
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    u16_at(bytes, at, false)
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32_at(bytes, at, false)
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64_at(bytes, at, false)
}

impl NetmonReader {
    /// Reads the file header from the window, which starts at byte 0 of the (decompressed)
    /// file: the magic (`GMBU` or `RTSS`) has been identified.
    pub fn new(mut window: Window, info: &mut FileInfo) -> Result<NetmonReader, CaptureError> {
        let at0 = |kind| CaptureError::new(kind, 0, 0);
        window.fill(HEADER_LEN).map_err(|e| at0(ErrorKind::Io(e)))?;
        let got = window.available().min(HEADER_LEN);
        let mut header = [0u8; HEADER_LEN];
        header[..got].copy_from_slice(&window.data()[..got]);
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
        window.consume(HEADER_LEN);
        let (minor, major) = (header[4], header[5]);
        if major != 1 && major != 2 {
            return Err(at0(ErrorKind::Damaged(format!(
                "Network Monitor format version {major}.{minor} does not exist (only 1.x and 2.x)"
            ))));
        }
        let file_media = le16(&header, 6);
        let systemtime = [8, 10, 14, 16, 18, 20, 22].map(|at| le16(&header, at));
        let table_offset = u64::from(le32(&header, 24));
        let table_len = u64::from(le32(&header, 28));
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
                let (offset, size) = (u64::from(le32(&header, at)), le32(&header, at + 4));
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
            window,
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
            records: 0,
            layout_hash: FNV_OFFSET,
            phase: Phase::Sequential,
            prev_ts: Ts::default(),
            last_good: None,
            damaged: false,
        };
        info.format = reader.format();
        info.digits = reader.digits();
        // Skip the header's padding, unless the frame table sits inside it.
        reader.skip_to(info, FIRST_RECORD.min(table_offset))?;
        Ok(reader)
    }

    pub fn window(&self) -> &Window {
        &self.window
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
    #[cfg(test)]
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

    fn pos(&self) -> u64 {
        self.window.offset()
    }

    /// Lends the next frame to `handle` and returns what it made of it; `None` at the end.
    /// After an error the reader stays at its end.
    pub fn next<T>(
        &mut self,
        info: &mut FileInfo,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        let mut handle = Some(handle);
        loop {
            match self.step(info, &mut handle) {
                Ok(Step::Frame(out)) => return Ok(Some(out)),
                Ok(Step::Again) => continue,
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
        info: &mut FileInfo,
        handle: &mut Option<F>,
    ) -> Result<Step<T>, CaptureError> {
        let pos = self.pos();
        let limit = match &mut self.phase {
            Phase::Done => return Ok(Step::End),
            Phase::Sequential => {
                let (_, end) = self.records_end;
                if end.saturating_sub(pos) < self.record_header_len as u64 {
                    // No room for another record: padding, other sections, or the table.
                    if !self.skip_to(info, self.table_offset)? {
                        return Ok(Step::End);
                    }
                    self.read_table(info)?;
                    return Ok(Step::Again);
                }
                Some(self.records_end)
            }
            Phase::Table { rest, next } => {
                let Some(&offset) = rest.get(*next) else {
                    return Ok(Step::End);
                };
                *next += 1;
                let offset = u64::from(offset);
                if offset < pos {
                    let why = format!(
                        "the frame table puts record {} at byte {offset}, inside the record before it (which ends at byte {pos})",
                        self.records + 1
                    );
                    self.note(info, pos, 0, false, why);
                    return Ok(Step::End);
                }
                if !self.skip_to(info, offset)? {
                    return Ok(Step::End);
                }
                None
            }
        };
        self.read_record(info, limit, handle)
    }

    /// Notes damage at `at` (it takes no frame number: no record is lost to it).
    fn note(&mut self, info: &mut FileInfo, at: u64, skipped: u64, resumed: bool, why: String) {
        info.add_damage(Damage {
            frame: info.frames + 1,
            offset: at,
            skipped,
            resumed,
            why,
        });
    }

    /// Notes that the input ended inside the record (or gap) that begins at `at`.
    fn cut(&mut self, info: &mut FileInfo, at: u64) {
        info.truncated = Some((info.frames + 1, at));
        self.phase = Phase::Done;
    }

    /// Discards input up to byte `target`; `false` if the input ends first (then cut).
    fn skip_to(&mut self, info: &mut FileInfo, target: u64) -> Result<bool, CaptureError> {
        let at = self.pos();
        let Some(n) = target.checked_sub(at).filter(|n| *n > 0) else {
            return Ok(true);
        };
        let skipped = self
            .window
            .skip(n)
            .map_err(|e| CaptureError::new(ErrorKind::Io(e), info.frames + 1, at))?;
        if skipped < n {
            self.cut(info, at);
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads the frame table at the current position. Its first entries must be the offsets
    /// of the records read so far, in order; the others are the records still to read.
    fn read_table(&mut self, info: &mut FileInfo) -> Result<(), CaptureError> {
        let at = self.pos();
        let table_len = self.table_entries * 4;
        let table_end = at + table_len;
        let frame = info.frames + 1;
        let io = move |e| CaptureError::new(ErrorKind::Io(e), frame, at);
        let mut hash = FNV_OFFSET;
        let mut rest: Vec<u32> = Vec::new();
        let mut index = 0u64;
        let mut problem = None;
        while index < self.table_entries && problem.is_none() {
            let want = ((self.table_entries - index) * 4).min(1 << 16) as usize;
            let whole = self.window.fill(want).map_err(io)?;
            let got = if whole {
                want
            } else {
                self.window.available() / 4 * 4
            };
            for entry in self.window.data()[..got].chunks_exact(4) {
                let offset = le32(entry, 0);
                if index < self.records {
                    hash = fnv(hash, offset);
                } else if self.damaged {
                    // After damage the table's other entries are not followed.
                } else if u64::from(offset) < table_end || rest.last().is_some_and(|l| offset <= *l)
                {
                    problem = Some(format!(
                        "the frame table puts record {} at byte {offset}, before the table's end or the record listed before it; following it needs random access (a seekable, uncompressed file)",
                        index + 1
                    ));
                    break;
                } else if rest.len() >= MAX_HELD {
                    problem = Some(format!(
                        "the frame table lists more than {MAX_HELD} records stored after it; only the first {MAX_HELD} are read"
                    ));
                    break;
                } else {
                    rest.push(offset);
                }
                index += 1;
            }
            self.window.consume(got);
            if !whole && problem.is_none() {
                let have = self.pos() - at + self.window.available() as u64;
                let why = format!(
                    "the file ends {have} bytes into its frame table of {table_len} bytes (every record before the table was read)"
                );
                self.note(info, at, 0, false, why);
                self.phase = Phase::Done;
                return Ok(());
            }
        }
        if let Some(why) = problem {
            self.note(info, at, 0, true, why);
        }
        if !self.damaged {
            let records = self.records;
            if self.table_entries < records {
                let why = format!(
                    "the frame table lists {} records, but {records} are stored before it",
                    self.table_entries
                );
                self.note(info, at, 0, false, why);
            } else if hash != self.layout_hash {
                let why = format!(
                    "the frame table does not match the {records} records stored before it: the file has gaps between records or stores them out of frame order, which needs random access (a seekable, uncompressed file)"
                );
                self.note(info, at, 0, false, why);
            }
        }
        self.phase = Phase::Table { rest, next: 0 };
        Ok(())
    }

    fn record_head(&self, header: &[u8]) -> RecordHead {
        if self.major == 1 {
            RecordHead {
                delta: i128::from(le32(header, 0)) * 1_000_000,
                orig_len: u32::from(le16(header, 4)),
                incl_len: u32::from(le16(header, 6)),
            }
        } else {
            // netmon.c: "microseconds" that Microsoft says to multiply by 10 and then read as
            // a signed count of 100 ns units, so a record can precede the capture start.
            let units = le64(header, 0).wrapping_mul(10) as i64;
            RecordHead {
                delta: i128::from(units) * 100,
                orig_len: le32(header, 8),
                incl_len: le32(header, 12),
            }
        }
    }

    fn record_len(&self, incl_len: u32) -> usize {
        self.record_header_len + self.trailer_len + incl_len as usize
    }

    /// A record's time: 2.3's FILETIME (UTC) replaces the capture start plus offset.
    fn ts(&self, delta: i128, trailer: &[u8]) -> Ts {
        if self.trailer_len >= 14 {
            let filetime = i128::from(le64(trailer, 6));
            clamp_ts((filetime - FILETIME_UNIX_EPOCH) * 100)
        } else {
            clamp_ts(self.start + delta)
        }
    }

    /// Reads the record at the current position, which must end by `limit` (the frame table
    /// or another section) if given.
    fn read_record<T, F: FnOnce(&Frame) -> T>(
        &mut self,
        info: &mut FileInfo,
        limit: Option<(&'static str, u64)>,
        handle: &mut Option<F>,
    ) -> Result<Step<T>, CaptureError> {
        let at = self.pos();
        let hl = self.record_header_len;
        let frame = info.frames + 1;
        let io = move |e| CaptureError::new(ErrorKind::Io(e), frame, at);
        if !self.window.fill(hl).map_err(io)? {
            self.cut(info, at);
            return Ok(Step::End);
        }
        let head = self.record_head(self.window.data());
        if head.incl_len > MAX_RECORD {
            let why = format!(
                "the record claims {} bytes (at most {MAX_RECORD} are possible)",
                head.incl_len
            );
            self.damaged_record(info, at, why, limit).map_err(io)?;
            return Ok(Step::Again);
        }
        let len = self.record_len(head.incl_len);
        if let Some((what, end)) = limit
            && at + len as u64 > end
        {
            let why = format!("the record ({len} bytes) runs into the {what} at byte {end}");
            self.damaged_record(info, at, why, limit).map_err(io)?;
            return Ok(Step::Again);
        }
        let atm = if self.atm { ATM_HEADER_LEN } else { 0 };
        if (head.incl_len as usize) < atm {
            // Its length is sound: skip it alone.
            info.frames += 1;
            let why = format!(
                "ATM record of {} bytes is shorter than its {ATM_HEADER_LEN}-byte pseudo-header",
                head.incl_len
            );
            info.add_damage(Damage {
                frame: info.frames,
                offset: at,
                skipped: len as u64,
                resumed: true,
                why,
            });
            self.records += 1;
            self.damaged = true;
            self.window.skip(len as u64).map_err(io)?;
            return Ok(Step::Again);
        }
        if !self.window.fill(len).map_err(io)? {
            self.cut(info, at);
            return Ok(Step::End);
        }
        self.records += 1;
        self.layout_hash = fnv(self.layout_hash, u32::try_from(at).unwrap_or(u32::MAX));
        let data = self.window.data();
        let incl = head.incl_len as usize;
        let trailer = &data[hl + incl..len];
        let linktype = match self.file_media.unwrap_or_else(|| media(le16(trailer, 0))) {
            Media::Frame(linktype) => linktype,
            Media::Hidden => {
                self.window.consume(len);
                return Ok(Step::Again);
            }
        };
        let ts = self.ts(head.delta, trailer);
        let rec = Record {
            ts,
            linktype,
            data: &data[hl + atm..hl + incl],
            orig_len: head.orig_len.saturating_sub(atm as u32),
        };
        let out = handle
            .take()
            .map(|h| deliver(info, &mut self.prev_ts, rec, at, h));
        self.last_good = Some(ts);
        self.window.consume(len);
        Ok(out.map_or(Step::Again, Step::Frame))
    }

    /// A record whose length is impossible: read on from the next plausible record before
    /// `limit` (records stored one after another), or from the next frame table entry.
    fn damaged_record(
        &mut self,
        info: &mut FileInfo,
        at: u64,
        why: String,
        limit: Option<(&'static str, u64)>,
    ) -> std::io::Result<()> {
        self.damaged = true;
        let Some((_, end)) = limit else {
            // The frame table says where the next record is.
            self.note(info, at, self.record_header_len as u64, true, why);
            return Ok(());
        };
        let hl = self.record_header_len as u64;
        self.window.consume(1);
        let found = loop {
            if self.pos() + hl > end {
                break false;
            }
            if self.plausible(end)? {
                break true;
            }
            if self.window.available() == 0 && self.window.at_end()? {
                break false;
            }
            self.window.consume(1);
        };
        info.frames += 1;
        info.add_damage(Damage {
            frame: info.frames,
            offset: at,
            skipped: self.pos() - at,
            resumed: found,
            why,
        });
        Ok(())
    }

    /// A record that could begin at the current position and end by `end`: sane lengths, a
    /// known media type, a close time, a frame that decodes, and a sane record (or the end
    /// of the records) after it.
    fn plausible(&mut self, end: u64) -> std::io::Result<bool> {
        let hl = self.record_header_len;
        if !self.window.fill(hl)? {
            return Ok(false);
        }
        let pos = self.pos();
        let head = self.record_head(self.window.data());
        let len = self.record_len(head.incl_len);
        let atm = if self.atm { ATM_HEADER_LEN } else { 0 };
        if head.incl_len as usize <= atm
            || head.incl_len > MAX_RECORD
            || (head.orig_len < head.incl_len && atm == 0)
            || pos + len as u64 > end
        {
            return Ok(false);
        }
        if !self.window.fill(len)? {
            // The input ends inside it: plausible (the reader then reports the cut).
            return Ok(
                self.trailer_len < 14 && close_in_time(self.ts(head.delta, &[]), self.last_good)
            );
        }
        let data = self.window.data();
        let incl = head.incl_len as usize;
        let trailer = &data[hl + incl..len];
        let linktype = match self.file_media {
            Some(Media::Frame(linktype)) => linktype,
            _ if !known_media(le16(trailer, 0)) => return Ok(false),
            _ => match media(le16(trailer, 0)) {
                Media::Frame(linktype) => linktype,
                Media::Hidden => NOT_FRAME,
            },
        };
        if !close_in_time(self.ts(head.delta, trailer), self.last_good)
            || (linktype != NOT_FRAME && !looks_like_frame(linktype, &data[hl + atm..hl + incl]))
        {
            return Ok(false);
        }
        // The record after it.
        let next = pos + len as u64;
        if end - next < hl as u64 || !self.window.fill(len + hl)? {
            return Ok(true);
        }
        let after = self.record_head(&self.window.data()[len..]);
        Ok(after.incl_len <= MAX_RECORD && next + self.record_len(after.incl_len) as u64 <= end)
    }
}

/// A hidden record's "link type" while judging plausibility (no frame to decode).
const NOT_FRAME: u32 = u32::MAX - 1;
