//! The raw bytes under every reader: any byte source, read whole into a buffer, or counted
//! as a decompressor consumes them. A leaf module: the compressed streams and the input
//! choice build on it, never the other way round.

use std::io::{self, BufRead, BufReader, Read};

/// Any byte source a capture can come from. `Send`, so that a capture can be read on
/// another thread.
pub type Source = Box<dyn Read + Send>;

/// Reads until `buf` is full or the input ends; how many bytes came.
pub(crate) fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The compressed bytes, buffered, counted as the decompressor consumes them (so that a
/// fault is located in the compressed file).
pub(crate) struct Counted {
    inner: BufReader<Source>,
    /// Compressed bytes consumed.
    pub pos: u64,
    /// The compressed input has ended.
    pub eof: bool,
}

impl Counted {
    pub fn new(source: Source) -> Counted {
        Counted {
            inner: BufReader::with_capacity(1 << 16, source),
            pos: 0,
            eof: false,
        }
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl BufRead for Counted {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            self.eof = true;
        }
        Ok(buf)
    }

    fn consume(&mut self, n: usize) {
        self.pos += n as u64;
        self.inner.consume(n);
    }
}
