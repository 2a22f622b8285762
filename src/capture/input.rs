//! The bytes a reader parses: a file or pipe as it is, or the decompressed stream of a
//! gzip or zstd file. A compressed stream that is cut or damaged ends there, like a cut
//! file, and keeps what went wrong and where (in compressed bytes) for the warnings.

use std::io::{self, Read};

use super::compressed::{Gzip, Zstd};
use super::info::StreamDamage;
use super::source::{Counted, Source};

/// The input of a capture reader.
pub(crate) enum Input {
    Plain(Source),
    Gzip(Box<Gzip>),
    Zstd(Box<Zstd>),
}

impl Input {
    /// Reads `source`, decompressing it when its first bytes (`head`, already read from it)
    /// are a gzip (RFC 1952) or zstd (RFC 8878) magic. A plain input goes on after `head`
    /// (the caller keeps those bytes); a compressed one is decompressed from its start.
    pub fn new(head: &[u8], source: Source) -> Input {
        let whole = |source| -> Counted {
            Counted::new(Box::new(io::Cursor::new(head.to_vec()).chain(source)))
        };
        match head {
            [0x1f, 0x8b, ..] => Input::Gzip(Box::new(Gzip::new(whole(source)))),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Input::Zstd(Box::new(Zstd::new(whole(source)))),
            _ => Input::Plain(source),
        }
    }

    /// `gzip` or `zstd`.
    pub fn compression(&self) -> Option<&'static str> {
        match self {
            Input::Plain(_) => None,
            Input::Gzip(_) => Some("gzip"),
            Input::Zstd(_) => Some("zstd"),
        }
    }

    /// How the compressed stream ended, when not cleanly.
    pub fn damage(&self) -> Option<&StreamDamage> {
        match self {
            Input::Plain(_) => None,
            Input::Gzip(g) => g.damage(),
            Input::Zstd(z) => z.damage(),
        }
    }
}

impl Read for Input {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Gzip(g) => g.read(buf),
            Input::Zstd(z) => z.read(buf),
        }
    }
}
