//! portreuse: explain failing TCP connections caused by source-port reuse.
//!
//! ```text
//! capture ──Frame<'a>──▶ decode ──Segment (Copy)──▶ track ──Attempt──▶ summary ──▶ report
//!  (I/O)                 (pure)                    (state)            (detect)      (writes)
//! ```
//! - [`capture`]: pcap / pcapng / gzip streaming readers, frame numbers and byte offsets.
//! - [`decode`]: link layer to TCP, laxly (snap-length-cut frames keep their TCP header).
//! - [`track`]: per-4-tuple attempts, answers, connections and their ends.
//! - [`summary`]: counts, cross table, per-server and per-pair groups, flagged attempts.
//! - [`report`]: table and JSON writers.
//! - [`app`]: wires the stages for the CLI (merging several files by timestamp).
#![forbid(unsafe_code)]

/// Maps keyed by addresses and 4-tuples, hashed with FxHash (fast, deterministic) and kept
/// in first-inserted order, so the output is stable.
pub type FxIndexMap<K, V> =
    indexmap::IndexMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

pub mod app;
pub mod attempt;
pub mod budget;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod error;
pub mod export;
pub mod filter;
pub mod report;
pub mod summary;
pub mod synth;
pub mod tcp;
pub mod time;
pub mod track;
pub mod write;

// Readers that moved into `capture`, at their old paths.
pub use capture::{merge, netmon};
