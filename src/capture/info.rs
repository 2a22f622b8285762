//! What a file told us besides its frames: counts, cut and damaged places, the state of a
//! compressed stream, the span the capture declares. Also the wording of the warnings about
//! it, so that every output says the same thing.

use crate::time::Ts;

/// Damaged places kept for the warnings (the others are counted).
pub const DAMAGE_KEPT: usize = 8;

/// What a file told us besides its frames; reported in the summary and as warnings.
#[derive(Clone, Debug, Default)]
pub struct FileInfo {
    pub format: &'static str,
    /// `gzip` or `zstd` when the file was compressed.
    pub compression: Option<&'static str>,
    /// Fraction digits the file's timestamps carry (6 for µs pcap, 9 for ns).
    pub digits: u8,
    /// Frame numbers used: every frame read, and one for each damaged record skipped (so
    /// that numbers agree with the file `pcapfix` repairs, which keeps such a record).
    pub frames: u64,
    /// Set when the input ends inside a record: (the frame being read, the byte offset where
    /// its record begins).
    pub truncated: Option<(u64, u64)>,
    /// The first damaged places, in file order (`damaged_records` counts them all).
    pub damage: Vec<Damage>,
    /// Damaged records or blocks skipped.
    pub damaged_records: u64,
    /// Bytes skipped over damage (the damaged records and whatever lay up to the next
    /// plausible one).
    pub skipped_bytes: u64,
    /// Frames not analysed though their record was intact (their interface is unusable).
    pub skipped_frames: u64,
    /// A compressed input whose stream is cut, damaged, or lacks its trailer.
    pub stream: Option<StreamDamage>,
    /// Frames whose timestamp is earlier than the frame before them.
    pub out_of_order: u64,
    /// Frames from pcapng Simple Packet Blocks, which carry no timestamp.
    pub without_timestamp: u64,
    /// Sum of pcapng `isb_ifdrop` counters (packets the capturing interface dropped).
    pub dropped: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// The capture's span as the file declares it (pcapng Interface Statistics Blocks:
    /// earliest `isb_starttime`, latest `isb_endtime`), which can reach past its frames.
    pub declared_start: Option<Ts>,
    pub declared_end: Option<Ts>,
    /// Frames captured shorter than they were on the wire (a snap length).
    pub cut_frames: u64,
    /// Smallest snap length of the file's interfaces (0 = unknown).
    pub snaplen: u32,
}

/// A damaged record or block and what was skipped because of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The frame number the damaged record takes (the frames before it were analysed).
    pub frame: u64,
    /// Byte offset (of the decompressed input) where the damaged record begins.
    pub offset: u64,
    /// Bytes skipped from `offset`: up to the next plausible record, or to the end.
    pub skipped: u64,
    /// Reading went on at `offset + skipped`; false when nothing plausible followed.
    pub resumed: bool,
    /// What is wrong with it ("the record claims 2147483647 bytes ...").
    pub why: String,
}

/// How a compressed stream ended, when not cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDamage {
    pub kind: StreamFault,
    /// Byte offset in the compressed file where the fault was found.
    pub compressed_offset: u64,
    /// Bytes decompressed before it.
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamFault {
    /// The compressed data ends inside the stream.
    Cut,
    /// The compressed data does not decode (the decoder's reason).
    Corrupt(String),
    /// Everything decoded, but the 8-byte gzip trailer is missing or short.
    NoTrailer,
    /// Everything decoded, but the checksum does not match: damaged somewhere.
    Checksum,
    /// Bytes after the end of the compressed stream that are not another stream (ignored).
    TrailingGarbage,
}

impl FileInfo {
    /// Frames handed out for analysis.
    pub fn frames_read(&self) -> u64 {
        self.frames - self.damaged_frames()
    }

    /// Frame numbers that went to damaged records.
    fn damaged_frames(&self) -> u64 {
        self.damaged_records.min(self.frames)
    }

    /// Cut short, damaged, or with a compressed stream that did not end cleanly: what
    /// `--strict` turns into exit status 1.
    pub fn is_damaged(&self) -> bool {
        self.truncated.is_some()
            || self.damaged_records > 0
            || self.skipped_frames > 0
            || self
                .stream
                .as_ref()
                .is_some_and(|s| s.kind != StreamFault::TrailingGarbage)
    }

    /// Notes a damaged place (`frame` is the number it takes).
    pub(crate) fn add_damage(&mut self, damage: Damage) {
        self.damaged_records += 1;
        self.skipped_bytes = self.skipped_bytes.saturating_add(damage.skipped);
        if self.damage.len() < DAMAGE_KEPT {
            self.damage.push(damage);
        }
    }

    /// The warnings about this file, each a sentence naming `name`.
    pub fn warnings(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.damage_warnings(name, &mut out);
        self.stream_warnings(name, &mut out);
        if self
            .stream
            .as_ref()
            .is_none_or(|s| s.kind != StreamFault::Cut)
            && let Some((frame, at)) = self.truncated
        {
            out.push(format!(
                "{name}: cut short inside frame {} (its record begins at byte {}); analysed the {} before it",
                thousands(frame),
                thousands(at),
                count(self.frames_read(), "frame")
            ));
        }
        if self.out_of_order > 0 {
            let verb = if self.out_of_order == 1 {
                "has"
            } else {
                "have"
            };
            out.push(format!(
                "{name}: {} {verb} a timestamp earlier than the frame before (kept in file order)",
                count(self.out_of_order, "frame")
            ));
        }
        if self.without_timestamp > 0 {
            out.push(format!(
                "{name}: {} from Simple Packet Blocks, which carry no timestamp; given the time of the frame before",
                count(self.without_timestamp, "frame")
            ));
        }
        if self.dropped > 0 {
            out.push(format!(
                "{name}: the capturing interface dropped {} (pcapng interface statistics)",
                count(self.dropped, "packet")
            ));
        }
        out
    }

    fn damage_warnings(&self, name: &str, out: &mut Vec<String>) {
        for d in &self.damage {
            if d.skipped == 0 {
                // Nothing was skipped: a note about the file's structure.
                out.push(format!(
                    "{name}: damage at byte {} (before frame {}): {}",
                    thousands(d.offset),
                    thousands(d.frame),
                    d.why
                ));
                continue;
            }
            let next = if d.resumed {
                format!(
                    "skipped {} to the next plausible record at byte {} and read on",
                    count(d.skipped, "byte"),
                    thousands(d.offset + d.skipped)
                )
            } else {
                format!(
                    "nothing plausible follows: skipped the last {}",
                    count(d.skipped, "byte")
                )
            };
            out.push(format!(
                "{name}: damaged record at byte {} (frame {}): {}; {next}",
                thousands(d.offset),
                thousands(d.frame),
                d.why
            ));
        }
        let more = self
            .damaged_records
            .saturating_sub(self.damage.len() as u64);
        if more > 0 {
            out.push(format!(
                "{name}: {} more damaged {}; {} skipped over damage in all",
                thousands(more),
                if more == 1 { "record" } else { "records" },
                count(self.skipped_bytes, "byte")
            ));
        }
        if self.skipped_frames > 0 {
            out.push(format!(
                "{name}: {} not analysed: their interface is unusable (see above)",
                count(self.skipped_frames, "frame")
            ));
        }
        if self.damaged_records > 0 {
            out.push(format!(
                "{name}: analysed the {} that could be read",
                count(self.frames_read(), "frame")
            ));
        }
    }

    fn stream_warnings(&self, name: &str, out: &mut Vec<String>) {
        let (Some(s), Some(kind)) = (&self.stream, self.compression) else {
            return;
        };
        let at = format!(
            "at compressed byte {} (after {} decompressed)",
            thousands(s.compressed_offset),
            count(s.offset, "byte")
        );
        // Where the frames stopped: inside a frame the cut stream left incomplete, or
        // between two frames.
        let frame = match self.truncated {
            Some((frame, _)) => format!("inside frame {}", thousands(frame)),
            None => format!("after frame {}", thousands(self.frames)),
        };
        let read = count(self.frames_read(), "frame");
        out.push(match &s.kind {
            StreamFault::Cut => format!(
                "{name}: the {kind} stream is cut short {at}, {frame}; analysed the {read} decompressed before it"
            ),
            StreamFault::Corrupt(why) => format!(
                "{name}: the {kind} stream is damaged {at} ({why}), {frame}; analysed the {read} decompressed before it"
            ),
            StreamFault::NoTrailer => format!(
                "{name}: the gzip stream ends without its 8-byte trailer (CRC-32 and length) {at}, so the data cannot be checked; analysed all {read}"
            ),
            StreamFault::Checksum => format!(
                "{name}: the {kind} checksum does not match the decompressed data, found {at}: the data is damaged somewhere; analysed the {read} read"
            ),
            StreamFault::TrailingGarbage => format!(
                "{name}: the bytes from compressed byte {} on are not {kind} data (ignored)",
                thousands(s.compressed_offset)
            ),
        });
    }
}

/// `1234567` as `1,234,567` (as the report writes numbers in sentences).
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3 frames`, `1 frame`.
fn count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}
