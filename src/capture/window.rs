//! A sliding window over the input: records and blocks are parsed in place from one reused
//! buffer, refilled from the input as they are consumed, so no frame is copied and nothing
//! is allocated per frame. The buffer has a fixed size, not one read from the file; it
//! grows (to a fixed cap) only for the rare non-packet block larger than it.

use std::io::{self, Read};

use super::input::Input;

/// The buffer's usual size. Small enough that what the kernel just copied in is still in
/// the CPU's cache when the records are parsed (as pcap-parser's 64 KiB reader buffer is);
/// it grows for a larger record or block (a record is at most 256 KiB), then shrinks back.
pub(crate) const WINDOW: usize = 128 << 10;
/// Room that any record of any format fits in (with its headers), and the largest block a
/// reader skips in place.
pub(crate) const RECORD_ROOM: usize = 1 << 20;
/// The largest the window grows to (for a pcapng block that must be parsed whole).
pub(crate) const MAX_WINDOW: usize = 16 << 20;

pub(crate) struct Window {
    input: Input,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Input offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl Window {
    /// A window over `input`, whose first bytes (`head`) were already read from it.
    pub fn new(input: Input, head: &[u8]) -> Window {
        let mut buf = vec![0u8; WINDOW];
        buf[..head.len()].copy_from_slice(head);
        Window {
            input,
            buf,
            start: 0,
            end: head.len(),
            base: 0,
            eof: false,
        }
    }

    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Input offset of the first byte of [`Window::data`].
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The bytes read and not consumed yet.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    #[inline]
    pub fn available(&self) -> usize {
        self.end - self.start
    }

    /// Makes `n` bytes available in [`Window::data`]; false if the input ends first (what it
    /// held is still there). `n` above [`MAX_WINDOW`] is never available.
    #[inline]
    pub fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> io::Result<bool> {
        if n > MAX_WINDOW {
            return Ok(false);
        }
        // Move what is left to the front (a partial record: small), then read as much as
        // fits, so that reads stay large.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            self.buf.resize(n.next_power_of_two().min(MAX_WINDOW), 0);
        }
        while self.end < n && !self.eof {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end >= n)
    }

    /// Marks `n` available bytes as used.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.available());
        self.start += n.min(self.available());
    }

    /// Skips `n` bytes, also past what the window holds; how many there were.
    pub fn skip(&mut self, n: u64) -> io::Result<u64> {
        let here = (self.available() as u64).min(n);
        self.consume(here as usize);
        let mut skipped = here;
        while skipped < n && !self.eof {
            self.base += self.end as u64;
            self.start = 0;
            self.end = 0;
            let want = ((n - skipped) as usize).min(self.buf.len());
            match self.input.read(&mut self.buf[..want]) {
                Ok(0) => self.eof = true,
                Ok(got) => {
                    self.end = got;
                    self.consume(got);
                    skipped += got as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(skipped)
    }

    /// True when no byte is left.
    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(!self.fill(1)?)
    }

    /// Gives the buffer back to its normal size after a large block.
    pub fn shrink(&mut self) {
        if self.buf.len() > WINDOW && self.available() <= WINDOW {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(WINDOW);
            self.buf.shrink_to_fit();
        }
    }
}
