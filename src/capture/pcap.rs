//! Classic pcap: both byte orders, micro- and nanosecond magics, and Kuznetzov's "modified"
//! format (24-byte record headers), read in place from the window.
//!
//! Damage: a record longer than 256 KiB is impossible. One longer than the snap length or
//! than its original length, or cut to a length other than the snap length, is suspect:
//! Wireshark reads such records (some writers make them by the thousand, "not a fatal
//! error"), so a suspect record is kept when the next record header sits where its length
//! says and is sane too. Otherwise it is damage: the reader looks for the next plausible
//! record (see `recover`), warns, and reads on from there.

use super::frame::{Frame, Record, deliver, u32_at};
use super::header_cut;
use super::info::FileInfo;
use super::recover::{self, MAX_ORIG_LEN, MAX_RECORD, Resync, close_in_time, looks_like_frame};
use super::window::{RECORD_ROOM, Window};
use crate::error::{CaptureError, ErrorKind};
use crate::time::Ts;

/// The file header's length.
pub(crate) const HEADER_LEN: usize = 24;

pub(crate) struct PcapReader {
    window: Window,
    big_endian: bool,
    nanos: bool,
    /// 16, or 24 in the modified format.
    header_len: usize,
    linktype: u32,
    snaplen: u32,
    prev_ts: Ts,
    /// The last frame handed out had this time (for plausibility after damage).
    last_good: Option<Ts>,
    /// The file has shown records longer than the snap length (or than their original
    /// length) that chained correctly: such records are then no sign of damage.
    over_snaplen: bool,
    over_orig_len: bool,
    /// The file has shown timestamp fractions out of range (a nanosecond count in a
    /// microsecond file): such fractions are then no sign of damage either.
    bad_fractions: bool,
    done: bool,
}

/// A record header.
#[derive(Clone, Copy)]
struct Header {
    ts: Ts,
    frac_ok: bool,
    caplen: u32,
    orig_len: u32,
}

impl PcapReader {
    /// The reader for a window whose first 24 bytes are a pcap file header; the link type,
    /// precision and snap length go into `info`.
    pub fn new(mut window: Window, info: &mut FileInfo) -> Result<PcapReader, CaptureError> {
        let io = |e| CaptureError::new(ErrorKind::Io(e), 0, 0);
        if !window.fill(HEADER_LEN).map_err(io)? {
            return Err(header_cut(&window));
        }
        let head = window.data();
        let magic = u32_at(head, 0, false);
        let big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1);
        let nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
        let modified = matches!(magic, 0xa1b2_cd34 | 0x34cd_b2a1);
        let snaplen = u32_at(head, 16, big_endian);
        // Bits 16 and up of the link-type field carry FCS information (libpcap LT_LINKTYPE).
        let linktype = u32_at(head, 20, big_endian) & 0xffff;
        window.consume(HEADER_LEN);
        info.format = "pcap";
        info.digits = if nanos { 9 } else { 6 };
        info.snaplen = snaplen;
        Ok(PcapReader {
            window,
            big_endian,
            nanos,
            header_len: if modified { 24 } else { 16 },
            linktype,
            snaplen,
            prev_ts: Ts::default(),
            last_good: None,
            over_snaplen: false,
            over_orig_len: false,
            bad_fractions: false,
            done: false,
        })
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    #[inline]
    fn header(&self, data: &[u8]) -> Header {
        let word = |at| u32_at(data, at, self.big_endian);
        let frac = word(4);
        let (nanos, frac_ok) = if self.nanos {
            (i64::from(frac), frac < 1_000_000_000)
        } else {
            (i64::from(frac) * 1000, frac < 1_000_000)
        };
        Header {
            ts: Ts::from_parts(i64::from(word(0)), nanos),
            frac_ok,
            caplen: word(8),
            orig_len: word(12),
        }
    }

    /// What is odd about a record header, if anything (impossible: `Err`; suspect:
    /// `Ok(Some)`).
    #[inline]
    fn judge(&self, h: &Header) -> Result<Option<&'static str>, String> {
        if h.caplen > MAX_RECORD {
            return Err(format!(
                "the record claims {} bytes (at most {MAX_RECORD} are possible)",
                h.caplen
            ));
        }
        let over_snaplen = self.snaplen > 0 && h.caplen > self.snaplen;
        Ok(if over_snaplen && !self.over_snaplen {
            Some("the record is longer than the file's snap length")
        } else if h.caplen > h.orig_len && !self.over_orig_len {
            Some("the record is longer than the packet was on the wire")
        } else if h.caplen < h.orig_len && h.caplen != self.snaplen && !over_snaplen {
            Some("the record is cut, but not to the file's snap length")
        } else {
            None
        })
    }

    /// Lends the next frame to `handle`; `None` at the end of the capture.
    #[inline]
    pub fn next<T>(
        &mut self,
        info: &mut FileInfo,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let at = self.window.offset();
            let hl = self.header_len;
            let frame = info.frames + 1;
            let io = move |e| CaptureError::new(ErrorKind::Io(e), frame, at);
            if !self.window.fill(hl).map_err(io)? {
                self.done = true;
                if self.window.available() > 0 {
                    info.truncated = Some((info.frames + 1, at));
                }
                return Ok(None);
            }
            let h = self.header(self.window.data());
            match self.judge(&h) {
                Ok(None) => {}
                Ok(Some(why)) => match self.chains(&h).map_err(io)? {
                    Chain::Sane => {
                        // Consistent after all: records like it are no sign of damage here.
                        self.over_snaplen |= self.snaplen > 0 && h.caplen > self.snaplen;
                        self.over_orig_len |= h.caplen > h.orig_len;
                    }
                    Chain::Broken => {
                        self.resync(info, why.to_string(), false).map_err(io)?;
                        continue;
                    }
                    // The input ends inside the record: a cut, unless a plausible record
                    // follows in what is left.
                    Chain::Cut => {
                        self.resync(info, why.to_string(), true).map_err(io)?;
                        continue;
                    }
                },
                Err(why) => {
                    self.resync(info, why, false).map_err(io)?;
                    continue;
                }
            }
            let total = hl + h.caplen as usize;
            if !self.window.fill(total).map_err(io)? {
                self.done = true;
                info.truncated = Some((info.frames + 1, at));
                return Ok(None);
            }
            let rec = Record {
                ts: h.ts,
                linktype: self.linktype,
                data: &self.window.data()[hl..total],
                orig_len: h.orig_len,
            };
            let out = deliver(info, &mut self.prev_ts, rec, at, handle);
            self.last_good = Some(h.ts);
            self.bad_fractions |= !h.frac_ok;
            self.window.consume(total);
            return Ok(Some(out));
        }
    }

    /// Whether the record header after a record with header `h` (at the window's start) is
    /// sane, or the input ends exactly after it, or inside it.
    fn chains(&mut self, h: &Header) -> std::io::Result<Chain> {
        let hl = self.header_len;
        let next = hl + h.caplen as usize;
        if !self.window.fill(next + hl)? {
            return Ok(match self.window.available() {
                n if n == next => Chain::Sane,
                n if n < next => Chain::Cut,
                _ => Chain::Broken,
            });
        }
        // The next record: a time close to this record's, and a frame that decodes...
        let n = self.header(&self.window.data()[next..]);
        let data = &self.window.data()[next + hl..];
        let data = &data[..data.len().min(n.caplen as usize)];
        if n.caplen <= MAX_RECORD
            && (n.frac_ok || self.bad_fractions)
            && close_in_time(n.ts, Some(h.ts))
            && looks_like_frame(self.linktype, data)
        {
            return Ok(Chain::Sane);
        }
        // ... or sane lengths for several records on (odd files, fuzzed ones among them,
        // whose times and contents are garbage but whose lengths are not; tshark reads
        // them). Packet bytes taken for headers rarely hold up four records long.
        let mut at = next;
        for _ in 0..4 {
            if at + hl > RECORD_ROOM || !self.window.fill(at + hl)? {
                return Ok(Chain::Sane);
            }
            let n = self.header(&self.window.data()[at..]);
            if n.caplen > MAX_RECORD || n.orig_len > MAX_ORIG_LEN {
                return Ok(Chain::Broken);
            }
            at += hl + n.caplen as usize;
        }
        Ok(Chain::Sane)
    }

    /// Skips the damaged record at the window's start up to the next plausible record (or
    /// the end of the input); see [`recover::resync`].
    fn resync(&mut self, info: &mut FileInfo, why: String, or_cut: bool) -> std::io::Result<()> {
        self.done = recover::resync(self, info, why, or_cut)?;
        Ok(())
    }
}

impl Resync for PcapReader {
    fn window_mut(&mut self) -> &mut Window {
        &mut self.window
    }

    /// A record that could begin at the window's start: sane lengths, a close timestamp, a
    /// frame that decodes, and a sane record after it (or the end of the input).
    fn plausible(&mut self) -> std::io::Result<bool> {
        let hl = self.header_len;
        if !self.window.fill(hl)? {
            return Ok(false);
        }
        let h = self.header(self.window.data());
        let sane = h.caplen > 0
            && h.caplen <= MAX_RECORD
            && h.orig_len <= MAX_RECORD
            && (h.frac_ok || self.bad_fractions)
            && (h.caplen <= h.orig_len || self.over_orig_len)
            && (self.snaplen == 0 || h.caplen <= self.snaplen || self.over_snaplen)
            && close_in_time(h.ts, self.last_good);
        if !sane {
            return Ok(false);
        }
        let end = hl + h.caplen as usize;
        let whole = self.window.fill(end)?;
        let data = &self.window.data()[hl..end.min(self.window.available())];
        if !looks_like_frame(self.linktype, data) {
            return Ok(false);
        }
        // A record the input ends inside is plausible: the reader then reports the cut.
        Ok(!whole || self.chains(&h)? == Chain::Sane)
    }
}

/// What follows a suspect record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Chain {
    /// A sane record header, or the end of the input right after the record.
    Sane,
    /// Something that is no record header.
    Broken,
    /// The input ends inside the record.
    Cut,
}
