//! Capture writers: classic pcap and pcapng. Used by the fixture generator, by the tests that
//! check every input format gives the same analysis, and by anything that writes packets out.

use std::io::{self, Write};

use crate::time::{NANOS_PER_SEC, Ts};

/// Classic pcap, little-endian, microsecond or nanosecond timestamps, frames cut to
/// `snaplen` like `tcpdump -s N` (the original length is kept).
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    nanos: bool,
    pub frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Microsecond pcap of link type `linktype`.
    pub fn new(out: W, snaplen: u32) -> io::Result<PcapWriter<W>> {
        PcapWriter::with_options(out, snaplen, 1, false)
    }

    pub fn with_options(
        mut out: W,
        snaplen: u32,
        linktype: u32,
        nanos: bool,
    ) -> io::Result<PcapWriter<W>> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            snaplen,
            nanos,
            frames: 0,
        })
    }

    pub fn write(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
        self.write_cut(ts, frame, frame.len() as u32)
    }

    /// Writes `frame` whose original length on the wire was `orig_len`.
    pub fn write_cut(&mut self, ts: Ts, frame: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = frame.len().min(self.snaplen as usize);
        let secs = ts.0.div_euclid(NANOS_PER_SEC) as u32;
        let frac = ts.0.rem_euclid(NANOS_PER_SEC);
        let frac = if self.nanos { frac } else { frac / 1000 } as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&(caplen as u32).to_le_bytes())?;
        self.out.write_all(&orig_len.to_le_bytes())?;
        self.out.write_all(&frame[..caplen])?;
        self.frames += 1;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One interface of a pcapng section.
#[derive(Clone, Copy, Debug)]
pub struct NgInterface {
    pub linktype: u16,
    pub snaplen: u32,
    /// `if_tsresol`: 6 (µs), 9 (ns), or 0x80 | k for 2^-k s.
    pub tsresol: u8,
}

/// pcapng writer: one section of the chosen byte order, Enhanced Packet Blocks (with
/// packet comments if wanted), interfaces declared up front or as they are needed, and
/// Interface Statistics Blocks that record the span the capture covered.
pub struct PcapNgWriter<W: Write> {
    out: W,
    big_endian: bool,
    interfaces: Vec<NgInterface>,
    /// One block's body, reused (no allocation per packet).
    body: Vec<u8>,
    pub frames: u64,
}

/// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
const SECTION_HEADER: u32 = 0x0a0d_0d0a;
const INTERFACE_DESCRIPTION: u32 = 1;
const INTERFACE_STATISTICS: u32 = 5;
const ENHANCED_PACKET: u32 = 6;
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const IF_TSRESOL: u16 = 9;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;

impl<W: Write> PcapNgWriter<W> {
    pub fn new(
        out: W,
        big_endian: bool,
        interfaces: &[NgInterface],
    ) -> io::Result<PcapNgWriter<W>> {
        let mut w = PcapNgWriter {
            out,
            big_endian,
            interfaces: Vec::new(),
            body: Vec::with_capacity(1 << 16),
            frames: 0,
        };
        // Section Header Block: byte-order magic, version 1.0, section length unknown (-1).
        let mut body = std::mem::take(&mut w.body);
        body.clear();
        body.extend_from_slice(&w.u32(0x1a2b_3c4d));
        body.extend_from_slice(&w.u16(1));
        body.extend_from_slice(&w.u16(0));
        body.extend_from_slice(&w.u64(u64::MAX));
        w.body = body;
        w.flush_block(SECTION_HEADER)?;
        for iface in interfaces.iter().copied() {
            w.add_interface(iface)?;
        }
        Ok(w)
    }

    /// Declares one more interface (an Interface Description Block) and returns its id.
    pub fn add_interface(&mut self, iface: NgInterface) -> io::Result<u32> {
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        body.extend_from_slice(&self.u16(iface.linktype));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(iface.snaplen));
        self.option(&mut body, IF_TSRESOL, &[iface.tsresol]);
        self.option(&mut body, OPT_ENDOFOPT, &[]);
        self.body = body;
        self.flush_block(INTERFACE_DESCRIPTION)?;
        self.interfaces.push(iface);
        Ok(self.interfaces.len() as u32 - 1)
    }

    pub fn interfaces(&self) -> &[NgInterface] {
        &self.interfaces
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u64(&self, v: u64) -> [u8; 8] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Appends an option (code, length, value padded to 32 bits) to `body`.
    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        body.extend_from_slice(&self.u16(code));
        body.extend_from_slice(&self.u16(value.len() as u16));
        body.extend_from_slice(value);
        pad(body);
    }

    /// Writes `self.body` as a block of type `kind` (padded, both lengths).
    fn flush_block(&mut self, kind: u32) -> io::Result<()> {
        pad(&mut self.body);
        let total = (12 + self.body.len()) as u32;
        let (kind, total_bytes) = (self.u32(kind), self.u32(total));
        self.out.write_all(&kind)?;
        self.out.write_all(&total_bytes)?;
        self.out.write_all(&self.body)?;
        self.out.write_all(&total_bytes)
    }

    fn interface(&self, iface: u32) -> io::Result<NgInterface> {
        self.interfaces
            .get(iface as usize)
            .copied()
            .ok_or_else(|| io::Error::other("no such interface"))
    }

    /// A timestamp in the interface's units, as the two 32-bit words pcapng stores.
    fn raw_ts(&self, desc: NgInterface, ts: Ts) -> [[u8; 4]; 2] {
        let units = if desc.tsresol & 0x80 == 0 {
            10u128.pow(u32::from(desc.tsresol))
        } else {
            1u128 << (desc.tsresol & 0x7f)
        };
        let raw = (ts.0 as i128 * units as i128 / i128::from(NANOS_PER_SEC)) as u64;
        [self.u32((raw >> 32) as u32), self.u32(raw as u32)]
    }

    /// An Enhanced Packet Block on interface `iface` (cut to its snap length).
    pub fn write(&mut self, iface: u32, ts: Ts, frame: &[u8], orig_len: u32) -> io::Result<()> {
        self.write_commented(iface, ts, frame, orig_len, &[])
    }

    /// An Enhanced Packet Block with packet comments (`opt_comment`, UTF-8), which
    /// Wireshark shows as `frame.comment`. Comments longer than an option can hold are cut.
    pub fn write_commented(
        &mut self,
        iface: u32,
        ts: Ts,
        frame: &[u8],
        orig_len: u32,
        comments: &[&str],
    ) -> io::Result<()> {
        let desc = self.interface(iface)?;
        let caplen = frame.len().min(desc.snaplen as usize);
        let [high, low] = self.raw_ts(desc, ts);
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        body.extend_from_slice(&self.u32(iface));
        body.extend_from_slice(&high);
        body.extend_from_slice(&low);
        body.extend_from_slice(&self.u32(caplen as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(&frame[..caplen]);
        pad(&mut body);
        for comment in comments {
            self.option(
                &mut body,
                OPT_COMMENT,
                utf8_prefix(comment, 65_532).as_bytes(),
            );
        }
        if !comments.is_empty() {
            self.option(&mut body, OPT_ENDOFOPT, &[]);
        }
        self.body = body;
        self.flush_block(ENHANCED_PACKET)?;
        self.frames += 1;
        Ok(())
    }

    /// An Interface Statistics Block for `iface` at `end`, with `isb_starttime` and
    /// `isb_endtime`: the span the capture covered, which may go on past its last packet.
    pub fn statistics(&mut self, iface: u32, start: Ts, end: Ts) -> io::Result<()> {
        let desc = self.interface(iface)?;
        let [high, low] = self.raw_ts(desc, end);
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        body.extend_from_slice(&self.u32(iface));
        body.extend_from_slice(&high);
        body.extend_from_slice(&low);
        for (code, ts) in [(ISB_STARTTIME, start), (ISB_ENDTIME, end)] {
            let [high, low] = self.raw_ts(desc, ts);
            self.option(&mut body, code, &[high, low].concat());
        }
        self.option(&mut body, OPT_ENDOFOPT, &[]);
        self.body = body;
        self.flush_block(INTERFACE_STATISTICS)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Zero bytes up to the next multiple of 4.
fn pad(body: &mut Vec<u8>) {
    body.resize(body.len().div_ceil(4) * 4, 0);
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn utf8_prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Microsoft Network Monitor 2.0 (`GMBU`), Ethernet, built in memory (the frame table at the
/// end needs every record's offset, and the header needs the table's). For fixtures and tests.
pub struct NetmonWriter {
    buf: Vec<u8>,
    table: Vec<u32>,
    start: Option<Ts>,
}

impl Default for NetmonWriter {
    fn default() -> Self {
        NetmonWriter::new()
    }
}

impl NetmonWriter {
    pub fn new() -> NetmonWriter {
        NetmonWriter {
            buf: vec![0u8; 128],
            table: Vec::new(),
            start: None,
        }
    }

    /// One frame. The first frame's time, to the millisecond, becomes the capture start;
    /// the others are stored as microsecond offsets from it.
    pub fn write(&mut self, ts: Ts, frame: &[u8], orig_len: u32) {
        let start = *self
            .start
            .get_or_insert(Ts(ts.0 - ts.0.rem_euclid(1_000_000)));
        self.table.push(self.buf.len() as u32);
        let micros = (ts.0 - start.0) / 1000;
        self.buf.extend_from_slice(&(micros as u64).to_le_bytes());
        self.buf.extend_from_slice(&orig_len.to_le_bytes());
        self.buf
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(frame);
    }

    pub fn finish(mut self) -> Vec<u8> {
        let table_offset = self.buf.len() as u32;
        for offset in &self.table {
            self.buf.extend_from_slice(&offset.to_le_bytes());
        }
        let start = self.start.unwrap_or_default().0;
        let secs = start.div_euclid(NANOS_PER_SEC);
        let (year, month, day) = crate::time::civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        let dow = (secs.div_euclid(86_400) + 4).rem_euclid(7); // 1970-01-01 was a Thursday
        let millis = start.rem_euclid(NANOS_PER_SEC) / 1_000_000;
        let fields = [
            year,
            i64::from(month),
            dow,
            i64::from(day),
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            millis,
        ];
        let h = &mut self.buf[..128];
        h[..4].copy_from_slice(b"GMBU");
        h[4] = 0; // minor
        h[5] = 2; // major
        h[6..8].copy_from_slice(&1u16.to_le_bytes()); // media type 1: Ethernet
        for (i, v) in fields.iter().enumerate() {
            h[8 + 2 * i..10 + 2 * i].copy_from_slice(&(*v as u16).to_le_bytes());
        }
        h[24..28].copy_from_slice(&table_offset.to_le_bytes());
        h[28..32].copy_from_slice(&(4 * self.table.len() as u32).to_le_bytes());
        self.buf
    }
}
