//! Reading captures: classic pcap (both byte orders, micro/nanosecond, modified), pcapng and
//! Microsoft Network Monitor, each possibly gzip'd or zstd'd (detected by magic). One frame
//! at a time is lent to a callback, straight from the reader's buffer: no frame outlives it
//! and nothing is copied or allocated per frame.
//!
//! Damage does not end a capture: a record or block whose length is impossible is skipped
//! up to the next plausible one and reading goes on; a cut file, or a cut or damaged
//! compressed stream, gives every frame before the cut. What happened is kept in
//! [`FileInfo`] and worded by [`FileInfo::warnings`].
//!
//! ```text
//! source ─▶ input (plain / gzip / zstd) ─▶ window (one reused buffer)
//!        ─▶ pcap │ pcapng │ netmon ─Frame─▶
//! ```

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{CaptureError, ErrorKind};

mod compressed;
mod frame;
mod info;
mod input;
pub mod merge;
pub mod netmon;
mod pcap;
mod pcapng;
mod recover;
mod source;
mod window;

pub use frame::{Frame, NOT_A_PACKET};
pub use info::{DAMAGE_KEPT, Damage, FileInfo, StreamDamage, StreamFault};
pub use merge::{FileError, Item, Merger};
pub use source::Source;

use input::Input;
use netmon::NetmonReader;
use pcap::PcapReader;
use pcapng::NgReader;
use source::read_full;
use window::Window;

enum Reader {
    Pcap(PcapReader),
    Ng(NgReader),
    Netmon(Box<NetmonReader>),
}

/// A capture file being read, frame by frame.
pub struct Capture {
    reader: Reader,
    /// Size of the file on disk, when the input is a file.
    size: Option<u64>,
    /// The end of the input was reached (and what it says is in `info`).
    ended: bool,
    pub info: FileInfo,
}

/// Opens `path` (`-` is standard input), sniffing compression and the capture format by
/// magic.
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
pub fn open_reader(mut raw: Source) -> Result<Capture, CaptureError> {
    let io_err = |e| CaptureError::new(ErrorKind::Io(e), 0, 0);
    let mut head = [0u8; 4];
    let n = read_full(&mut raw, &mut head).map_err(io_err)?;
    if n == 0 {
        return Err(CaptureError::new(ErrorKind::Empty, 0, 0));
    }
    let mut input = Input::new(&head[..n], raw);
    let compression = input.compression();
    // The format's magic: the file's first bytes, or the decompressed stream's.
    let (magic, n) = match compression {
        None => (head, n),
        Some(_) => {
            let mut inner = [0u8; 4];
            let got = read_full(&mut input, &mut inner).map_err(io_err)?;
            if got == 0 {
                return Err(stream_error(&input));
            }
            (inner, got)
        }
    };
    let window = Window::new(input, &magic[..n]);
    let mut info = FileInfo {
        compression,
        ..FileInfo::default()
    };
    let reader = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1
            if n == 4 =>
        {
            Reader::Pcap(PcapReader::new(window, &mut info)?)
        }
        0x0a0d_0d0a if n == 4 => Reader::Ng(NgReader::new(window, &mut info)?),
        _ if n == 4 && (&magic == b"GMBU" || &magic == b"RTSS") => {
            Reader::Netmon(Box::new(NetmonReader::new(window, &mut info)?))
        }
        _ => return Err(CaptureError::new(ErrorKind::NotACapture(magic, n), 0, 0)),
    };
    Ok(Capture {
        reader,
        size: None,
        ended: false,
        info,
    })
}

/// The input ends inside the file header: cut there, or a compressed stream that is cut or
/// damaged that early.
fn header_cut(window: &Window) -> CaptureError {
    if window.input().damage().is_some() {
        return stream_error(window.input());
    }
    let why = "the file ends inside its header".to_string();
    CaptureError::new(ErrorKind::Damaged(why), 0, 0)
}

/// A compressed file whose stream gives no byte: empty, or cut or damaged before the first
/// block could be decompressed.
fn stream_error(input: &Input) -> CaptureError {
    let Some(d) = input.damage() else {
        return CaptureError::new(ErrorKind::Empty, 0, 0);
    };
    let kind = input.compression().unwrap_or("compressed");
    let how = match &d.kind {
        StreamFault::Corrupt(why) => format!("is damaged ({why})"),
        StreamFault::TrailingGarbage => "holds no data".into(),
        _ => "is cut short".into(),
    };
    let why = format!(
        "the {kind} stream {how} at compressed byte {}, after {} decompressed bytes, too few for a capture",
        d.compressed_offset, d.offset
    );
    CaptureError::new(ErrorKind::Damaged(why), 0, 0)
}

impl Capture {
    fn window(&self) -> &Window {
        match &self.reader {
            Reader::Pcap(r) => r.window(),
            Reader::Ng(r) => r.window(),
            Reader::Netmon(r) => r.window(),
        }
    }

    /// Bytes of the (decompressed) input consumed so far.
    pub fn position(&self) -> u64 {
        self.window().offset()
    }

    /// The input's size when it is an uncompressed file (for a progress bar).
    pub fn size_hint(&self) -> Option<u64> {
        self.size.filter(|_| self.info.compression.is_none())
    }

    /// Lends the next frame to `handle` and returns what it made of it; `None` at the end of
    /// the capture (a cut-off tail, or a cut or damaged compressed stream, also ends it,
    /// noted in `info`). The only errors are read errors of the input itself.
    #[inline]
    pub fn next_frame<T>(
        &mut self,
        handle: impl FnOnce(&Frame) -> T,
    ) -> Result<Option<T>, CaptureError> {
        let info = &mut self.info;
        let next = match &mut self.reader {
            Reader::Pcap(r) => r.next(info, handle),
            Reader::Ng(r) => r.next(info, handle),
            Reader::Netmon(r) => r.next(info, handle),
        };
        match next {
            Ok(None) if !self.ended => {
                self.ended = true;
                self.info.stream = self.window().input().damage().cloned();
                Ok(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    /// A capture can be read on another thread than the one that opened it (a pipeline
    /// stage).
    #[test]
    fn a_capture_is_send() {
        fn send<T: Send>() {}
        send::<super::Capture>();
    }
}
