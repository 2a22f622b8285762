//! Reading captures: classic pcap (both byte orders, micro/nanosecond, modified) and pcapng
//! through pcap-parser's streaming readers, gzip detected by magic. One frame at a time is
//! lent to a callback, so no frame outlives the reader's buffer and nothing is copied.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use crate::error::{CaptureError, ErrorKind};
use crate::netmon::NetmonReader;
use crate::time::Ts;

/// Reader buffer. 1 MiB holds the largest legal pcap record (262,144 bytes, Wireshark's
/// `WTAP_MAX_PACKET_SIZE_STANDARD`) many times over, so a record that does not fit is damaged.
const BUFFER: usize = 1 << 20;
/// Largest record a classic pcap may hold (Wireshark and libpcap's limit).
const MAX_RECORD: u64 = 262_144;
/// Largest pcapng block we grow the buffer for (name resolution or secrets blocks can be big).
const MAX_BLOCK: u64 = 64 << 20;

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

/// What a file told us besides its frames; reported in the summary and as warnings.
#[derive(Clone, Debug, Default)]
pub struct FileInfo {
    pub format: &'static str,
    /// `gzip` or `zstd` when the file was compressed.
    pub compression: Option<&'static str>,
    /// Fraction digits the file's timestamps carry (6 for µs pcap, 9 for ns).
    pub digits: u8,
    pub frames: u64,
    /// Set when the file ends inside a record: (frame being read, byte where the input ends).
    pub truncated: Option<(u64, u64)>,
    /// Frames whose timestamp is earlier than the frame before them.
    pub out_of_order: u64,
    /// Frames from pcapng Simple Packet Blocks, which carry no timestamp.
    pub without_timestamp: u64,
    /// Sum of pcapng `isb_ifdrop` counters (packets the capturing interface dropped).
    pub dropped: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// Frames captured shorter than they were on the wire (a snap length).
    pub cut_frames: u64,
    /// Smallest snap length of the file's interfaces (0 = unknown).
    pub snaplen: u32,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    units: u64,
    offset_secs: i64,
    snaplen: u32,
    /// The interface's latest `isb_ifdrop` (a running total).
    dropped: u64,
}

enum Format {
    Netmon(Box<NetmonReader>),
    Legacy {
        reader: LegacyPcapReader<Box<dyn Read>>,
        linktype: u32,
        nanos: bool,
        big_endian: bool,
    },
    Ng {
        reader: PcapNGReader<Box<dyn Read>>,
        interfaces: Vec<Interface>,
        big_endian: bool,
    },
}

/// A capture file being read, frame by frame.
pub struct Capture {
    format: Format,
    /// Bytes consumed so far (the offset of the next record).
    offset: u64,
    last_ts: Ts,
    /// Size of the file on disk, when the input is a file.
    size: Option<u64>,
    pub info: FileInfo,
}

/// Opens `path` (`-` is standard input), sniffing gzip and the capture format by magic.
pub fn open(path: &Path) -> Result<Capture, CaptureError> {
    if path.as_os_str() == "-" {
        return open_reader(Box::new(io::stdin()));
    }
    let file = File::open(path).map_err(|e| CaptureError::new(ErrorKind::Open(e), 0, 0))?;
    let size = file.metadata().ok().map(|m| m.len());
    let mut capture = open_reader(Box::new(file))?;
    capture.size = size;
    Ok(capture)
}

/// Reads a capture from any byte stream (a file, standard input, a buffer in a test or a
/// fuzzer), sniffing compression and format by magic.
pub fn open_reader(raw: Box<dyn Read>) -> Result<Capture, CaptureError> {
    let io_err = |e| CaptureError::new(ErrorKind::Io(e), 0, 0);
    let mut input = BufReader::with_capacity(1 << 16, raw);
    let magic = peek(&mut input).map_err(io_err)?;
    if magic.1 == 0 {
        return Err(CaptureError::new(ErrorKind::Empty, 0, 0));
    }
    // Compressed captures, recognised by their magic (RFC 1952 gzip; RFC 8878 zstd).
    let inflated: Box<dyn Read> = match magic.0 {
        [0x1f, 0x8b, ..] => Box::new(MultiGzDecoder::new(input)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            let zstd = ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|e| CaptureError::new(ErrorKind::Damaged(format!("zstd: {e}")), 0, 0))?;
            Box::new(zstd)
        }
        _ => return Capture::from_reader(Box::new(input), magic),
    };
    let compression = if magic.0[0] == 0x1f { "gzip" } else { "zstd" };
    let mut inflated = BufReader::with_capacity(1 << 16, inflated);
    let magic = peek(&mut inflated).map_err(io_err)?;
    if magic.1 == 0 {
        return Err(CaptureError::new(ErrorKind::Empty, 0, 0));
    }
    let mut capture = Capture::from_reader(Box::new(inflated), magic)?;
    capture.info.compression = Some(compression);
    Ok(capture)
}

/// The first four bytes without consuming them, and how many there are.
fn peek<R: BufRead>(input: &mut R) -> io::Result<([u8; 4], usize)> {
    let mut magic = [0u8; 4];
    // BufReader returns what one read() gave; four bytes come at once but from a pipe.
    let buf = input.fill_buf()?;
    let n = buf.len().min(4);
    magic[..n].copy_from_slice(&buf[..n]);
    Ok((magic, n))
}

impl Capture {
    fn from_reader(
        input: Box<dyn Read>,
        (magic, n): ([u8; 4], usize),
    ) -> Result<Capture, CaptureError> {
        let le = u32::from_le_bytes(magic);
        let damaged = |e: PcapError<&[u8]>| {
            let why = match e {
                PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                    "the file ends inside its header".to_string()
                }
                other => format!("file header: {}", describe(&other)),
            };
            CaptureError::new(ErrorKind::Damaged(why), 0, 0)
        };
        let (format, info) = match le {
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1
                if n == 4 =>
            {
                let reader = LegacyPcapReader::new(BUFFER, input).map_err(damaged)?;
                let (linktype, nanos, big_endian, snaplen) = legacy_header(&reader);
                let digits = if nanos { 9 } else { 6 };
                let format = Format::Legacy {
                    reader,
                    linktype,
                    nanos,
                    big_endian,
                };
                (
                    format,
                    FileInfo {
                        format: "pcap",
                        digits,
                        snaplen,
                        ..FileInfo::default()
                    },
                )
            }
            0x0a0d_0d0a if n == 4 => {
                let reader = PcapNGReader::new(BUFFER, input).map_err(damaged)?;
                let format = Format::Ng {
                    reader,
                    interfaces: Vec::new(),
                    big_endian: false,
                };
                (
                    format,
                    FileInfo {
                        format: "pcapng",
                        digits: 6,
                        ..FileInfo::default()
                    },
                )
            }
            _ if n == 4 && (&magic == b"GMBU" || &magic == b"RTSS") => {
                let reader = NetmonReader::new(input)?;
                let info = FileInfo {
                    format: reader.format(),
                    digits: reader.digits(),
                    ..FileInfo::default()
                };
                (Format::Netmon(Box::new(reader)), info)
            }
            _ => return Err(CaptureError::new(ErrorKind::NotACapture(magic, n), 0, 0)),
        };
        Ok(Capture {
            format,
            offset: 0,
            last_ts: Ts::default(),
            size: None,
            info,
        })
    }

    /// Bytes of the (decompressed) input consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The input's size when it is an uncompressed file (for a progress bar).
    pub fn size_hint(&self) -> Option<u64> {
        self.size.filter(|_| self.info.compression.is_none())
    }

    /// Lends the next frame to `handle` and returns what it made of it; `None` at the end of
    /// the capture (a cut-off tail also ends it, noted in `info.truncated`).
    pub fn next_frame<T>(
        &mut self,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        let mut handle = Some(handle);
        loop {
            let step = match &mut self.format {
                Format::Netmon(reader) => {
                    step_netmon(reader, &mut self.info, &mut self.last_ts, &mut handle)?
                }
                Format::Legacy {
                    reader,
                    linktype,
                    nanos,
                    big_endian,
                } => step_legacy(
                    reader,
                    *linktype,
                    *nanos,
                    *big_endian,
                    &mut self.offset,
                    &mut self.info,
                    &mut self.last_ts,
                    &mut handle,
                )?,
                Format::Ng {
                    reader,
                    interfaces,
                    big_endian,
                } => step_ng(
                    reader,
                    interfaces,
                    big_endian,
                    &mut self.offset,
                    &mut self.info,
                    &mut self.last_ts,
                    &mut handle,
                )?,
            };
            match step {
                Step::Frame(t) => return Ok(Some(t)),
                Step::End => return Ok(None),
                Step::Again => continue,
            }
        }
    }
}

/// Link type, nanosecond magic, byte order and snap length of a classic pcap header.
fn legacy_header(reader: &LegacyPcapReader<Box<dyn Read>>) -> (u32, bool, bool, u32) {
    // The header is the reader's first "block"; pcap-parser also keeps it, but only lends it
    // through next(), so read the 24 bytes' meaning from its magic here.
    let data = reader.data();
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1);
    let nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
    let word = |at| u32_at(data, at, big_endian).unwrap_or(0);
    // Bits 16 and up of the link-type field carry FCS information (libpcap LT_LINKTYPE).
    (word(20) & 0xffff, nanos, big_endian, word(16))
}

enum Step<T> {
    Frame(T),
    End,
    Again,
}

struct Record<'a> {
    ts: Ts,
    linktype: u32,
    data: &'a [u8],
    orig_len: u32,
}

/// Network Monitor: the reader numbers its frames itself (some media types get none).
fn step_netmon<T, F: FnOnce(&Frame) -> T>(
    reader: &mut NetmonReader,
    info: &mut FileInfo,
    last_ts: &mut Ts,
    handle: &mut Option<F>,
) -> Result<Step<T>, CaptureError> {
    let Some(handle) = handle.take() else {
        return Ok(Step::End);
    };
    let out = reader.next_frame(|f| {
        note(info, last_ts, f.ts, f.data.len() < f.orig_len as usize);
        info.frames = f.number;
        handle(f)
    })?;
    info.truncated = reader.truncated();
    Ok(out.map_or(Step::End, Step::Frame))
}

/// Per-file bookkeeping for a frame about to be handed out.
fn note(info: &mut FileInfo, last_ts: &mut Ts, ts: Ts, cut: bool) {
    if info.frames > 0 && ts < *last_ts {
        info.out_of_order += 1;
    }
    *last_ts = ts;
    info.cut_frames += u64::from(cut);
    info.first_ts.get_or_insert(ts);
    info.last_ts = Some(info.last_ts.map_or(ts, |t| t.max(ts)));
}

/// Hands one record to the caller's closure and keeps the per-file bookkeeping.
fn deliver<T, F: FnOnce(&Frame) -> T>(
    rec: Record,
    offset: u64,
    info: &mut FileInfo,
    last_ts: &mut Ts,
    handle: &mut Option<F>,
) -> Option<T> {
    note(
        info,
        last_ts,
        rec.ts,
        rec.data.len() < rec.orig_len as usize,
    );
    info.frames += 1;
    let frame = Frame {
        number: info.frames,
        ts: rec.ts,
        linktype: rec.linktype,
        data: rec.data,
        orig_len: rec.orig_len,
        offset,
    };
    handle.take().map(|f| f(&frame))
}

/// What to do with a reader error: refill, stop at a cut-off tail, or fail.
/// A reader error without its borrow of the buffer.
enum ReadError {
    Eof,
    Incomplete,
    UnexpectedEof,
    BufferTooSmall,
    Other(String),
}

impl ReadError {
    fn from(err: PcapError<&[u8]>) -> ReadError {
        match err {
            PcapError::Eof => ReadError::Eof,
            PcapError::Incomplete(_) => ReadError::Incomplete,
            PcapError::UnexpectedEof => ReadError::UnexpectedEof,
            PcapError::BufferTooSmall => ReadError::BufferTooSmall,
            other => ReadError::Other(describe(&other)),
        }
    }
}

/// Where a record's length sits in its header, to judge a record that does not fit.
struct LengthField {
    at: usize,
    big_endian: bool,
    what: &'static str,
    max: u64,
}

/// A u32 at `at` in the given byte order, if `data` holds it.
fn u32_at(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

fn on_error<R: PcapReaderIterator>(
    reader: &mut R,
    err: ReadError,
    offset: u64,
    info: &mut FileInfo,
    length: LengthField,
) -> Result<Step<()>, CaptureError> {
    let frame = info.frames + 1;
    match err {
        ReadError::Eof => Ok(Step::End),
        ReadError::Incomplete => {
            reader.refill().map_err(|_| {
                CaptureError::new(
                    ErrorKind::Io(io::Error::other("read failed")),
                    frame,
                    offset,
                )
            })?;
            Ok(Step::Again)
        }
        ReadError::UnexpectedEof => {
            let end = offset + reader.data().len() as u64;
            info.truncated = Some((frame, end));
            Ok(Step::End)
        }
        ReadError::BufferTooSmall => {
            match u32_at(reader.data(), length.at, length.big_endian).map(u64::from) {
                Some(len) if len > length.max => Err(CaptureError::new(
                    ErrorKind::AbsurdLength {
                        what: length.what,
                        len,
                        max: length.max,
                    },
                    frame,
                    offset,
                )),
                Some(len) if reader.grow(len as usize + 64) => Ok(Step::Again),
                _ => Err(CaptureError::new(
                    ErrorKind::Damaged("record larger than the read buffer".into()),
                    frame,
                    offset,
                )),
            }
        }
        ReadError::Other(why) => Err(CaptureError::new(ErrorKind::Damaged(why), frame, offset)),
    }
}

fn describe(err: &PcapError<&[u8]>) -> String {
    match err {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("record does not parse ({kind:?})")
        }
        other => format!("{other}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn step_legacy<T, F: FnOnce(&Frame) -> T>(
    reader: &mut LegacyPcapReader<Box<dyn Read>>,
    linktype: u32,
    nanos: bool,
    big_endian: bool,
    offset: &mut u64,
    info: &mut FileInfo,
    last_ts: &mut Ts,
    handle: &mut Option<F>,
) -> Result<Step<T>, CaptureError> {
    match reader.next() {
        Ok((len, PcapBlockOwned::Legacy(b))) => {
            let frac = if nanos {
                i64::from(b.ts_usec)
            } else {
                i64::from(b.ts_usec) * 1000
            };
            let rec = Record {
                ts: Ts::from_parts(i64::from(b.ts_sec), frac),
                linktype,
                data: b.data,
                orig_len: b.origlen,
            };
            let out = deliver(rec, *offset, info, last_ts, handle);
            reader.consume(len);
            *offset += len as u64;
            Ok(out.map_or(Step::Again, Step::Frame))
        }
        Ok((len, _header)) => {
            reader.consume(len);
            *offset += len as u64;
            Ok(Step::Again)
        }
        Err(e) => {
            let e = ReadError::from(e);
            let length = LengthField {
                at: 8,
                big_endian,
                what: "the record",
                max: MAX_RECORD,
            };
            Ok(match on_error(reader, e, *offset, info, length)? {
                Step::End => Step::End,
                _ => Step::Again,
            })
        }
    }
}

fn step_ng<T, F: FnOnce(&Frame) -> T>(
    reader: &mut PcapNGReader<Box<dyn Read>>,
    interfaces: &mut Vec<Interface>,
    big_endian: &mut bool,
    offset: &mut u64,
    info: &mut FileInfo,
    last_ts: &mut Ts,
    handle: &mut Option<F>,
) -> Result<Step<T>, CaptureError> {
    check_block_length(reader.data(), *big_endian, *offset, info)?;
    match reader.next() {
        Ok((len, PcapBlockOwned::NG(block))) => {
            let at = *offset;
            let rec = match &block {
                Block::SectionHeader(shb) => {
                    // Interface ids restart with every section (pcapng spec 4.1).
                    interfaces.clear();
                    *big_endian = shb.big_endian();
                    None
                }
                Block::InterfaceDescription(idb) => {
                    let (tsresol, offset_secs) = time_options(&idb.options, *big_endian);
                    let units = units_of(tsresol).ok_or_else(|| {
                        CaptureError::new(
                            ErrorKind::Damaged(format!(
                                "if_tsresol {tsresol:#04x} is out of range"
                            )),
                            info.frames + 1,
                            at,
                        )
                    })?;
                    info.digits = info.digits.max(digits_of(tsresol));
                    if idb.snaplen > 0 {
                        info.snaplen = if info.snaplen == 0 {
                            idb.snaplen
                        } else {
                            info.snaplen.min(idb.snaplen)
                        };
                    }
                    interfaces.push(Interface {
                        linktype: u32::from(idb.linktype.0 as u16),
                        units,
                        offset_secs,
                        snaplen: idb.snaplen,
                        dropped: 0,
                    });
                    None
                }
                Block::EnhancedPacket(epb) => {
                    let iface = interface(interfaces, epb.if_id, info, at)?;
                    let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let ts = ts_from_units(raw, iface.units, iface.offset_secs);
                    Some(Record {
                        ts,
                        linktype: iface.linktype,
                        data: epb.packet_data(),
                        orig_len: epb.origlen,
                    })
                }
                Block::SimplePacket(spb) => {
                    let iface = interface(interfaces, 0, info, at)?;
                    info.without_timestamp += 1;
                    let data = spb.packet_data();
                    let cut = if iface.snaplen > 0 {
                        data.len().min(iface.snaplen as usize)
                    } else {
                        data.len()
                    };
                    Some(Record {
                        ts: *last_ts,
                        linktype: iface.linktype,
                        data: &data[..cut],
                        orig_len: spb.origlen,
                    })
                }
                Block::Unknown(pb) if pb.block_type == OBSOLETE_PACKET_BLOCK => {
                    let (if_id, ts, caplen, orig_len) =
                        obsolete_packet_header(pb.data, *big_endian).ok_or_else(|| {
                            CaptureError::new(
                                ErrorKind::Damaged("Packet Block too short".into()),
                                info.frames + 1,
                                at,
                            )
                        })?;
                    let iface = interface(interfaces, if_id, info, at)?;
                    let data = pb.data.get(20..20 + caplen as usize).ok_or_else(|| {
                        CaptureError::new(
                            ErrorKind::Damaged("Packet Block data longer than the block".into()),
                            info.frames + 1,
                            at,
                        )
                    })?;
                    let ts = ts_from_units(ts, iface.units, iface.offset_secs);
                    Some(Record {
                        ts,
                        linktype: iface.linktype,
                        data,
                        orig_len,
                    })
                }
                // Wireshark shows custom and systemd journal blocks as frames of their own, so
                // they take a frame number (and decode as "not a packet").
                Block::Custom(_) | Block::SystemdJournalExport(_) => Some(Record {
                    ts: *last_ts,
                    linktype: NOT_A_PACKET,
                    data: &[],
                    orig_len: 0,
                }),
                Block::InterfaceStatistics(isb) => {
                    // isb_ifdrop (option 5) is a running total per interface: add what is
                    // new since the interface's previous statistics block. (Read here in
                    // the section's byte order; pcap-parser 0.17 reads it little-endian.)
                    let dropped = isb.options.iter().find(|o| o.code.0 == 5).and_then(|o| {
                        let raw: [u8; 8] = o.value().get(..8)?.try_into().ok()?;
                        Some(if *big_endian {
                            u64::from_be_bytes(raw)
                        } else {
                            u64::from_le_bytes(raw)
                        })
                    });
                    if let (Some(dropped), Some(iface)) =
                        (dropped, interfaces.get_mut(isb.if_id as usize))
                    {
                        info.dropped = info
                            .dropped
                            .saturating_add(dropped.saturating_sub(iface.dropped));
                        iface.dropped = iface.dropped.max(dropped);
                    }
                    None
                }
                _ => None,
            };
            let out = rec.and_then(|rec| deliver(rec, at, info, last_ts, handle));
            reader.consume(len);
            *offset += len as u64;
            Ok(out.map_or(Step::Again, Step::Frame))
        }
        Ok((len, _)) => {
            reader.consume(len);
            *offset += len as u64;
            Ok(Step::Again)
        }
        Err(e) => {
            let e = ReadError::from(e);
            let length = LengthField {
                at: 4,
                big_endian: *big_endian,
                what: "the block",
                max: MAX_BLOCK,
            };
            Ok(match on_error(reader, e, *offset, info, length)? {
                Step::End => Step::End,
                _ => Step::Again,
            })
        }
    }
}

/// Every pcapng block has at least its type and two lengths (12 bytes). pcap-parser 0.17
/// subtracts 12 from the length of some block types (Process Information) without checking
/// it first, so a shorter length is reported here as damage before it reaches the parser.
fn check_block_length(
    data: &[u8],
    big_endian: bool,
    offset: u64,
    info: &FileInfo,
) -> Result<(), CaptureError> {
    const SECTION_HEADER: u32 = 0x0a0d_0d0a;
    let (Some(kind), Some(len)) = (u32_at(data, 0, big_endian), u32_at(data, 4, big_endian)) else {
        return Ok(());
    };
    if kind != SECTION_HEADER && kind.swap_bytes() != SECTION_HEADER && len < 12 {
        let why =
            format!("block of type {kind:#010x} claims {len} bytes (every block has at least 12)");
        return Err(CaptureError::new(
            ErrorKind::Damaged(why),
            info.frames + 1,
            offset,
        ));
    }
    Ok(())
}

/// pcapng's obsolete Packet Block (type 2): interface id (u16), drops (u16), timestamp
/// high/low, captured and original length, then the data.
const OBSOLETE_PACKET_BLOCK: u32 = 2;

/// Link type given to pcapng records that are not packets (custom and journal blocks).
pub const NOT_A_PACKET: u32 = u32::MAX;

fn obsolete_packet_header(body: &[u8], big_endian: bool) -> Option<(u32, u64, u32, u32)> {
    let raw_id: [u8; 2] = body.get(0..2)?.try_into().ok()?;
    let if_id = if big_endian {
        u16::from_be_bytes(raw_id)
    } else {
        u16::from_le_bytes(raw_id)
    };
    let word = |at| u32_at(body, at, big_endian);
    let ts = (u64::from(word(4)?) << 32) | u64::from(word(8)?);
    Some((u32::from(if_id), ts, word(12)?, word(16)?))
}

fn interface(
    interfaces: &[Interface],
    id: u32,
    info: &FileInfo,
    at: u64,
) -> Result<Interface, CaptureError> {
    interfaces.get(id as usize).copied().ok_or_else(|| {
        let why = format!(
            "packet block names interface {id}, but the section describes {}",
            interfaces.len()
        );
        CaptureError::new(ErrorKind::Damaged(why), info.frames + 1, at)
    })
}

/// `if_tsresol` (default 6) and `if_tsoffset` (default 0) of an IDB, in the section's byte
/// order. (pcap-parser 0.17 reads if_tsoffset as little-endian and rejects power-of-two
/// resolutions, so these two options are read here.)
fn time_options(options: &[pcap_parser::PcapNGOption], big_endian: bool) -> (u8, i64) {
    let (mut tsresol, mut offset) = (6u8, 0i64);
    for opt in options {
        let value = opt.value();
        match opt.code.0 {
            9 if !value.is_empty() => tsresol = value[0],
            14 if value.len() >= 8 => {
                let raw: [u8; 8] = value[..8].try_into().unwrap_or_default();
                offset = if big_endian {
                    i64::from_be_bytes(raw)
                } else {
                    i64::from_le_bytes(raw)
                };
            }
            _ => {}
        }
    }
    (tsresol, offset)
}

/// Timestamp units per second for an `if_tsresol` value.
fn units_of(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))
    } else {
        1u64.checked_shl(u32::from(tsresol & 0x7f))
            .filter(|u| *u > 0 && tsresol & 0x7f < 64)
    }
}

/// Fraction digits that a pcapng `if_tsresol` gives (power of 10, or power of 2 with the high bit).
fn digits_of(tsresol: u8) -> u8 {
    if tsresol & 0x80 == 0 {
        tsresol.min(9)
    } else {
        // 2^-k seconds needs ceil(k * log10 2) decimal digits.
        let k = u32::from(tsresol & 0x7f);
        ((k * 30103).div_ceil(100_000) as u8).min(9)
    }
}

/// A pcapng timestamp in interface units to nanoseconds since the epoch.
fn ts_from_units(raw: u64, units: u64, offset_secs: i64) -> Ts {
    let units = units.max(1);
    let secs = (raw / units) as i64;
    let frac = u128::from(raw % units) * 1_000_000_000 / u128::from(units);
    Ts::from_parts(secs.saturating_add(offset_secs), frac as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_digits() {
        assert_eq!(digits_of(6), 6);
        assert_eq!(digits_of(9), 9);
        assert_eq!(digits_of(12), 9);
        assert_eq!(digits_of(0x94), 7); // 2^-20 s = 0.95 µs
        assert_eq!(digits_of(0x80), 0);
        assert_eq!(digits_of(0), 0); // whole seconds
    }

    #[test]
    fn tsresol_units() {
        assert_eq!(units_of(6), Some(1_000_000));
        assert_eq!(units_of(9), Some(1_000_000_000));
        assert_eq!(units_of(0x94), Some(1 << 20));
        assert_eq!(units_of(20), None);
        assert_eq!(units_of(0xc0), None);
    }

    #[test]
    fn pcapng_units_and_offset() {
        assert_eq!(
            ts_from_units(3_500_000, 1_000_000, 0),
            Ts::from_parts(3, 500_000_000)
        );
        assert_eq!(
            ts_from_units(5_000_000_123, 1_000_000_000, 1_000_000_000),
            Ts::from_parts(1_000_000_005, 123)
        );
        assert_eq!(
            ts_from_units(3 << 20 | 1 << 19, 1 << 20, 0),
            Ts::from_parts(3, 500_000_000)
        );
    }
}
