//! Typed, located capture errors: what went wrong, at which 1-based frame and which 0-based
//! byte offset of the (decompressed) input.

use std::fmt;
use std::io;

/// A capture that cannot be read on. `frame` is the 1-based number of the frame being read
/// (Wireshark's numbering); `offset` the 0-based byte offset where the bad record starts.
#[derive(Debug)]
pub struct CaptureError {
    pub kind: ErrorKind,
    pub frame: u64,
    pub offset: u64,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// The file could not be opened.
    Open(io::Error),
    /// The input has no bytes at all.
    Empty,
    /// The first bytes match no supported format.
    NotACapture([u8; 4], usize),
    /// A record or block claims a length no capture tool writes.
    AbsurdLength {
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// A block or header that does not parse.
    Damaged(String),
    Io(io::Error),
}

impl CaptureError {
    pub fn new(kind: ErrorKind, frame: u64, offset: u64) -> CaptureError {
        CaptureError {
            kind,
            frame,
            offset,
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>| match self.frame {
            0 => write!(f, " (byte offset {}, before the first frame)", self.offset),
            frame => write!(f, " (frame {frame}, byte offset {})", self.offset),
        };
        match &self.kind {
            ErrorKind::Open(e) => write!(f, "cannot open: {e}"),
            ErrorKind::Empty => f.write_str("empty file"),
            ErrorKind::NotACapture(bytes, n) => {
                f.write_str("not a pcap, pcapng or Network Monitor file: first bytes")?;
                for b in &bytes[..*n] {
                    write!(f, " {b:02x}")?;
                }
                Ok(())
            }
            ErrorKind::AbsurdLength { what, len, max } => {
                write!(
                    f,
                    "damaged: {what} claims {len} bytes (at most {max} are possible)"
                )?;
                at(f)
            }
            ErrorKind::Damaged(why) => {
                write!(f, "damaged: {why}")?;
                at(f)
            }
            ErrorKind::Io(e) => {
                write!(f, "read error: {e}")?;
                at(f)
            }
        }
    }
}

impl std::error::Error for CaptureError {}
