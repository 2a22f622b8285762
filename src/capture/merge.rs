//! Several captures of one trace (ring-buffer files, or both sides of a firewall) merged into
//! one timeline by timestamp: a k-way merge over each file's next decoded frame.
//!
//! What the tracker needs of a frame that depends on no state of its own is worked out here,
//! on the reading thread (issue 12: the tracking one sets the pace): the key hint of a
//! segment's 4-tuple, and whether a SYN or SYN-ACK is an exact copy of an earlier one (the
//! file-wide table of `track::dedup::Fingerprints`, which takes the frames in merge order).

use super::{Capture, Frame};
use crate::decode::{Decoded, Skip, decode};
use crate::error::CaptureError;
use crate::tcp::KeyHint;
use crate::time::Ts;
use crate::track::dedup::{Exact, Fingerprints};
use crate::track::side::Side;

/// One frame after decoding, with where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub file: u32,
    pub frame: u64,
    pub ts: Ts,
    pub decoded: Result<Decoded, Skip>,
    /// A segment's key hint, computed here: on the reading thread, not the tracking one.
    pub hint: Option<KeyHint>,
    /// A SYN or SYN-ACK's verdict from the file-wide table of exact copies.
    pub exact: Option<Exact>,
}

impl Item {
    /// Frame `f` of file `file`, decoded; `fingerprints` judges it if it comes next in merge
    /// order (else it is judged when it does, by [`Item::judged`]).
    #[inline(always)]
    fn of(file: u32, f: &Frame, fingerprints: Option<&mut Fingerprints>) -> Item {
        let decoded = decode(f, file);
        let (hint, exact) = match &decoded {
            Ok(Decoded::Segment(s)) => {
                let hint = KeyHint::of(s.src, s.dst);
                let side = Side::sending(hint.src_is_lo);
                let exact = fingerprints.and_then(|t| t.frame(f.ts, Some((s, side))));
                (Some(hint), exact)
            }
            _ => {
                if let Some(t) = fingerprints {
                    t.frame(f.ts, None);
                }
                (None, None)
            }
        };
        Item {
            file,
            frame: f.number,
            ts: f.ts,
            decoded,
            hint,
            exact,
        }
    }

    /// This item, read ahead, judged by `fingerprints` now that it comes next.
    fn judged(mut self, fingerprints: &mut Fingerprints) -> Item {
        let segment = match (&self.decoded, self.hint) {
            (Ok(Decoded::Segment(s)), Some(hint)) => Some((s, Side::sending(hint.src_is_lo))),
            _ => None,
        };
        self.exact = fingerprints.frame(self.ts, segment);
        self
    }
}

/// A capture error and the index of the file it happened in.
pub type FileError = (usize, CaptureError);

pub struct Merger {
    pub files: Vec<Capture>,
    heads: Vec<Option<Item>>,
    primed: bool,
    fingerprints: Fingerprints,
    /// A read error met reading ahead, returned after the frame taken before it.
    failed: Option<FileError>,
}

impl Merger {
    /// The merge of `files`, whose SYNs `fingerprints` judges (`Tracker::new_fingerprints`).
    pub fn new(files: Vec<Capture>, fingerprints: Fingerprints) -> Merger {
        let heads = vec![None; files.len()];
        Merger {
            files,
            heads,
            primed: false,
            fingerprints,
            failed: None,
        }
    }

    fn read(&mut self, index: usize) -> Result<(), FileError> {
        let file = index as u32;
        let item = self.files[index]
            .next_frame(|f| Item::of(file, f, None))
            .map_err(|e| (index, e))?;
        self.heads[index] = item;
        Ok(())
    }

    /// The next frame in timestamp order (ties go to the file named first). Within one file
    /// the file's order is kept even where its timestamps go back.
    #[inline]
    pub fn next_item(&mut self) -> Result<Option<Item>, FileError> {
        if let [only] = self.files.as_mut_slice() {
            let fingerprints = &mut self.fingerprints;
            return only
                .next_frame(|f| Item::of(0, f, Some(fingerprints)))
                .map_err(|e| (0, e));
        }
        self.next_merged()
    }

    /// Appends the next frames, in [`Merger::next_item`]'s order, to `batch` until it holds
    /// `up_to` items or the input ends (then true). A read error comes after the items read
    /// before it, which are in `batch`.
    ///
    /// With one file each item is decoded straight into the batch's memory: no item is
    /// returned through the `Result`/`Option` layers of the reader and copied on (that copy
    /// was the top function of the run, issue 12).
    pub fn fill(&mut self, batch: &mut Vec<Item>, up_to: usize) -> Result<bool, FileError> {
        batch.reserve(up_to.saturating_sub(batch.len()));
        if let [only] = self.files.as_mut_slice() {
            let fingerprints = &mut self.fingerprints;
            while batch.len() < up_to {
                let pushed = only
                    .next_frame(|f| batch.push(Item::of(0, f, Some(&mut *fingerprints))))
                    .map_err(|e| (0, e))?;
                if pushed.is_none() {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        while batch.len() < up_to {
            match self.next_merged()? {
                Some(item) => batch.push(item),
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    /// Several files: the earliest of their next frames.
    #[inline(never)]
    fn next_merged(&mut self) -> Result<Option<Item>, FileError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
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
        // The frame taken was read before the file failed: it comes first, as in one file.
        if let Err(e) = self.read(index) {
            self.failed = Some(e);
        }
        Ok(item.map(|i| i.judged(&mut self.fingerprints)))
    }
}
