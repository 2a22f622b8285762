//! Several captures of one trace (ring-buffer files, or both sides of a firewall) merged into
//! one timeline by timestamp: a k-way merge over each file's next decoded frame.

use super::Capture;
use crate::decode::{Decoded, Skip, decode};
use crate::error::CaptureError;
use crate::time::Ts;

/// One frame after decoding, with where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub file: u32,
    pub frame: u64,
    pub ts: Ts,
    pub decoded: Result<Decoded, Skip>,
}

/// A capture error and the index of the file it happened in.
pub type FileError = (usize, CaptureError);

pub struct Merger {
    pub files: Vec<Capture>,
    heads: Vec<Option<Item>>,
    primed: bool,
}

impl Merger {
    pub fn new(files: Vec<Capture>) -> Merger {
        let heads = vec![None; files.len()];
        Merger {
            files,
            heads,
            primed: false,
        }
    }

    fn read(&mut self, index: usize) -> Result<(), FileError> {
        let file = index as u32;
        let item = self.files[index]
            .next_frame(|f| Item {
                file,
                frame: f.number,
                ts: f.ts,
                decoded: decode(f, file),
            })
            .map_err(|e| (index, e))?;
        self.heads[index] = item;
        Ok(())
    }

    /// The next frame in timestamp order (ties go to the file named first). Within one file
    /// the file's order is kept even where its timestamps go back.
    #[inline]
    pub fn next_item(&mut self) -> Result<Option<Item>, FileError> {
        if let [only] = self.files.as_mut_slice() {
            // One file: nothing to merge, no look-ahead; inlined into the caller's loop, so
            // the item is built in place rather than copied through each layer.
            return match only.next_frame(|f| Item {
                file: 0,
                frame: f.number,
                ts: f.ts,
                decoded: decode(f, 0),
            }) {
                Ok(item) => Ok(item),
                Err(e) => Err((0, e)),
            };
        }
        self.next_merged()
    }

    /// Several files: the earliest of their next frames.
    #[inline(never)]
    fn next_merged(&mut self) -> Result<Option<Item>, FileError> {
        if !self.primed {
            self.primed = true;
            for index in 0..self.files.len() {
                self.read(index)?;
            }
        }
        let mut best: Option<(usize, Ts)> = None;
        for (index, head) in self.heads.iter().enumerate() {
            if let Some(item) = head
                && best.is_none_or(|(_, ts)| item.ts < ts)
            {
                best = Some((index, item.ts));
            }
        }
        let Some((index, _)) = best else {
            return Ok(None);
        };
        let item = self.heads[index].take();
        self.read(index)?;
        Ok(item)
    }
}
