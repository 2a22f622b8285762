//! portreuse: explain failing TCP connections caused by source-port reuse.
//!
//! ```text
//! capture ──Frame<'a>──▶ decode ──Segment (Copy)──▶ track ──Attempt + ConnEnd──▶ detect ──Findings──▶ report
//!  (I/O)                 (pure)                    (state)                      (state)            (writes)
//! ```
//! - [`capture`]: pcap / pcapng / gzip streaming readers, frame numbers and byte offsets.
//! - [`decode`]: link layer to TCP, laxly (snap-length-cut frames keep their TCP header).
//! - [`track`]: per-4-tuple attempts, answers, connections and their ends.
//! - [`detect`]: causes, cross table, sources, servers' TIME_WAIT, asymmetry, relays, the
//!   fix: one typed `Findings` value, computed as the attempts stream in.
//! - [`report`]: the words, and the table, JSON, NDJSON, CSV and HTML writers.
//! - [`app`]: wires the stages for the CLI (merging several files by timestamp).
#![forbid(unsafe_code)]

/// Maps keyed by addresses and 4-tuples, hashed with FxHash (fast, deterministic) and kept
/// in first-inserted order, so the output is stable.
pub type FxIndexMap<K, V> =
    indexmap::IndexMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// The hash the tracker's tables index a key by (FxHash), computed once per operation; for
/// a segment's 4-tuple the reading stage computes it ahead (`tcp::KeyHint`).
pub fn hash_of<K: std::hash::Hash>(key: &K) -> u64 {
    std::hash::BuildHasher::hash_one(&rustc_hash::FxBuildHasher, key)
}

pub mod app;
pub mod attempt;
pub mod budget;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod detect;
pub mod error;
pub mod export;
pub mod filter;
pub mod report;
pub mod synth;
pub mod tcp;
pub mod time;
pub mod track;
pub mod write;

// Readers that moved into `capture`, at their old paths.
pub use capture::{merge, netmon};
