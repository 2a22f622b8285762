//! gzip (RFC 1952) and zstd (RFC 8878) streams decompressed as they are read, with every
//! way they can end told apart: cleanly, cut short, damaged, without the gzip trailer, with
//! a checksum that does not match, or followed by bytes that are not compressed data.
//!
//! Both decoders hand out every byte they have decoded before a fault (a cut or damaged
//! stream gives all the frames before the damage, as `zcat | portreuse -` would), then end
//! the stream and keep the fault, located in compressed bytes, for the warnings. Memory is
//! fixed: deflate's 32 KiB window; zstd's window as the frame declares it, which libzstd
//! caps at 128 MiB (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`) and refuses above.

use std::io::{self, BufRead, Read};

use flate2::{Crc, Decompress, FlushDecompress, Status};
use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

use super::info::{StreamDamage, StreamFault};
use super::source::{Counted, read_full};

/// The gzip member header flags (RFC 1952 2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gz {
    /// A member header is next (the first, or one after a trailer).
    Header,
    Body,
    Trailer,
    Done,
}

/// A (multi-member) gzip stream.
pub(crate) struct Gzip {
    source: Counted,
    inflate: Decompress,
    crc: Crc,
    state: Gz,
    /// Members begun (the second and later may be trailing garbage instead).
    members: u64,
    /// Bytes decompressed so far.
    out: u64,
    damage: Option<StreamDamage>,
}

impl Gzip {
    pub fn new(source: Counted) -> Gzip {
        Gzip {
            source,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            state: Gz::Header,
            members: 0,
            out: 0,
            damage: None,
        }
    }

    pub fn damage(&self) -> Option<&StreamDamage> {
        self.damage.as_ref()
    }

    /// Notes the fault (the first one counts) at the current compressed position.
    fn fault(&mut self, kind: StreamFault, stop: bool) {
        if self.damage.is_none() {
            self.damage = Some(StreamDamage {
                kind,
                compressed_offset: self.source.pos,
                offset: self.out,
            });
        }
        if stop {
            self.state = Gz::Done;
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                Gz::Header => self.header()?,
                Gz::Body => {
                    let n = self.inflate(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                Gz::Trailer => self.trailer()?,
                Gz::Done => return Ok(0),
            }
        }
    }

    /// Reads a member header (RFC 1952 2.3): on to the body, or the end of the stream.
    fn header(&mut self) -> io::Result<()> {
        if self.members > 0 {
            // After a member: the end, another member, or something else.
            let next = self.source.fill_buf()?;
            if next.is_empty() {
                self.state = Gz::Done;
                return Ok(());
            }
            if next[0] != 0x1f || next.get(1).is_some_and(|b| *b != 0x8b) {
                self.fault(StreamFault::TrailingGarbage, true);
                return Ok(());
            }
        }
        self.members += 1;
        let mut fixed = [0u8; 10];
        if read_full(&mut self.source, &mut fixed)? < fixed.len() {
            self.fault(StreamFault::Cut, true);
            return Ok(());
        }
        let (method, flags) = (fixed[2], fixed[3]);
        if fixed[..2] != [0x1f, 0x8b] || method != 8 || flags & RESERVED != 0 {
            let why = format!(
                "a member header with magic {:02x} {:02x}, method {method}, flags {flags:#04x} (only deflate, method 8, exists)",
                fixed[0], fixed[1]
            );
            self.fault(StreamFault::Corrupt(why), true);
            return Ok(());
        }
        let whole = (flags & FEXTRA == 0 || self.skip_extra()?)
            && (flags & FNAME == 0 || self.skip_string()?)
            && (flags & FCOMMENT == 0 || self.skip_string()?)
            && (flags & FHCRC == 0 || read_full(&mut self.source, &mut [0u8; 2])? == 2);
        if !whole {
            self.fault(StreamFault::Cut, true);
            return Ok(());
        }
        self.inflate.reset(false);
        self.crc.reset();
        self.state = Gz::Body;
        Ok(())
    }

    /// FEXTRA: a 2-byte length, then that many bytes; false if the input ends first.
    fn skip_extra(&mut self) -> io::Result<bool> {
        let mut len = [0u8; 2];
        if read_full(&mut self.source, &mut len)? < 2 {
            return Ok(false);
        }
        let len = u64::from(u16::from_le_bytes(len));
        let skipped = io::copy(&mut (&mut self.source).take(len), &mut io::sink())?;
        Ok(skipped == len)
    }

    /// FNAME, FCOMMENT: zero-terminated; false if the input ends first.
    fn skip_string(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.source.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match buf.iter().position(|b| *b == 0) {
                Some(end) => {
                    self.source.consume(end + 1);
                    return Ok(true);
                }
                None => {
                    let n = buf.len();
                    self.source.consume(n);
                }
            }
        }
    }

    /// Deflate data into `buf`; 0 when the member's data ended (then the trailer is next)
    /// or the stream is cut or damaged (then it is done).
    fn inflate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let input = self.source.fill_buf()?;
            let eof = input.is_empty();
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self.inflate.decompress(input, buf, FlushDecompress::None);
            let consumed = (self.inflate.total_in() - before_in) as usize;
            let produced = (self.inflate.total_out() - before_out) as usize;
            self.source.consume(consumed);
            self.crc.update(&buf[..produced]);
            self.out += produced as u64;
            match status {
                Ok(Status::StreamEnd) => {
                    self.state = Gz::Trailer;
                    return Ok(produced);
                }
                Ok(_) if produced > 0 => return Ok(produced),
                Ok(_) if eof => {
                    self.fault(StreamFault::Cut, true);
                    return Ok(0);
                }
                // Input was there and nothing came of it: no progress is possible.
                Ok(_) if consumed == 0 => {
                    self.fault(StreamFault::Corrupt("deflate data stalls".into()), true);
                    return Ok(0);
                }
                Ok(_) => {}
                Err(e) => {
                    let why = format!("invalid deflate data: {e}");
                    self.fault(StreamFault::Corrupt(why), true);
                    return Ok(0);
                }
            }
        }
    }

    /// The 8-byte trailer: CRC-32 and length (mod 2^32) of the member's data.
    fn trailer(&mut self) -> io::Result<()> {
        let mut trailer = [0u8; 8];
        if read_full(&mut self.source, &mut trailer)? < trailer.len() {
            self.fault(StreamFault::NoTrailer, true);
            return Ok(());
        }
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let len = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if crc != self.crc.sum() || len != self.crc.amount() {
            // The data was handed out already; say so, and read the next member.
            self.fault(StreamFault::Checksum, false);
        }
        self.state = Gz::Header;
        Ok(())
    }
}

/// Compressed bytes given to libzstd at a time, and room for what it decodes: given a whole
/// frame and room for all its content, libzstd decodes it in one pass and, on damage, hands
/// out nothing of it; given room for less than a block (128 KiB), it can stop short of data
/// it decoded. So: small pieces in, whole blocks out.
const ZSTD_PIECE: usize = 16 << 10;
const ZSTD_OUT: usize = 128 << 10;

/// Zstandard frames (and skippable frames) one after another, through libzstd.
pub(crate) struct Zstd {
    source: Counted,
    decoder: Option<Decoder<'static>>,
    /// Decoded bytes not handed out yet: `out[start..end]`.
    out: Vec<u8>,
    start: usize,
    end: usize,
    /// Inside a frame (false at a frame boundary, where the input may end cleanly).
    in_frame: bool,
    /// A decoding error found while output was being decoded, reported once it is out.
    pending: Option<String>,
    done: bool,
    /// Bytes decompressed so far.
    total: u64,
    damage: Option<StreamDamage>,
}

impl Zstd {
    pub fn new(source: Counted) -> Zstd {
        Zstd {
            source,
            decoder: None,
            out: Vec::new(),
            start: 0,
            end: 0,
            in_frame: true,
            pending: None,
            done: false,
            total: 0,
            damage: None,
        }
    }

    pub fn damage(&self) -> Option<&StreamDamage> {
        self.damage.as_ref()
    }

    fn fault(&mut self, kind: StreamFault) {
        self.damage.get_or_insert(StreamDamage {
            kind,
            compressed_offset: self.source.pos,
            offset: self.total - (self.end - self.start) as u64,
        });
        self.done = true;
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && !self.done {
            self.decode()?;
        }
        let n = buf.len().min(self.end - self.start);
        buf[..n].copy_from_slice(&self.out[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }

    /// Decodes the next bytes into `out` (none at the end or at a fault).
    fn decode(&mut self) -> io::Result<()> {
        if let Some(why) = self.pending.take() {
            self.fault(StreamFault::Corrupt(why));
            return Ok(());
        }
        if self.decoder.is_none() {
            match Decoder::new() {
                Ok(d) => self.decoder = Some(d),
                Err(e) => {
                    self.fault(StreamFault::Corrupt(format!("zstd: {e}")));
                    return Ok(());
                }
            }
            self.out = vec![0u8; ZSTD_OUT];
        }
        self.start = 0;
        self.end = 0;
        loop {
            let input = self.source.fill_buf()?;
            if input.is_empty() {
                if self.in_frame {
                    self.fault(StreamFault::Cut);
                }
                self.done = true;
                return Ok(());
            }
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(());
            };
            let input = &input[..input.len().min(ZSTD_PIECE)];
            // `run` (not `run_on_buffers`): what it wrote before an error still counts.
            let mut src = InBuffer::around(input);
            let mut dst = OutBuffer::around(&mut self.out[..]);
            let result = decoder.run(&mut src, &mut dst);
            let (read, written) = (src.pos(), dst.pos());
            self.source.consume(read);
            self.end = written;
            self.total += written as u64;
            match result {
                Err(e) if written > 0 => {
                    // Hand out what was decoded; the fault comes after it.
                    self.pending = Some(format!("zstd: {e}"));
                    return Ok(());
                }
                Ok(remaining) => {
                    // `remaining` is 0 exactly when a frame is complete and flushed.
                    self.in_frame = remaining != 0;
                    if written > 0 {
                        return Ok(());
                    }
                    if read == 0 {
                        self.fault(StreamFault::Corrupt("zstd data stalls".into()));
                        return Ok(());
                    }
                }
                Err(e) => {
                    // At a frame boundary, bytes that do not start a frame are not zstd.
                    let kind = if self.in_frame {
                        StreamFault::Corrupt(format!("zstd: {e}"))
                    } else {
                        StreamFault::TrailingGarbage
                    };
                    self.fault(kind);
                    return Ok(());
                }
            }
        }
    }
}
