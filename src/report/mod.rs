//! The report stage: formats the findings, nothing more. The words live in [`words`], the
//! table rows in [`rows`] (shared by the table and the HTML), the JSON document in [`json`]
//! (from `#[derive(Serialize)]` structs), the streaming writers in [`stream`]. Nothing here
//! reads the command line: [`RenderOptions`] carries what the user chose.

pub mod charts;
pub mod json;
pub mod page;
pub mod rows;
pub mod stream;
pub mod table;
pub mod words;

pub use words::{count, human_secs, thousands};

use crate::budget::Dropped;
use crate::capture::FileInfo;
use crate::decode::Skip;
use crate::detect::Findings;
use crate::tcp::FrameRef;
use crate::time::Ts;
use crate::track::TrackStats;

/// One input file as the report names it.
#[derive(Clone, Debug)]
pub struct FileMeta {
    pub name: String,
    pub info: FileInfo,
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
}

/// Times in the table: seconds since the first frame (as Wireshark shows them) or RFC 3339.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeStyle {
    #[default]
    Relative,
    Absolute,
}

/// How the user wants the report rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub time: TimeStyle,
    /// Colour the table (stdout is a terminal and NO_COLOR is unset).
    pub colour: bool,
}

/// Everything a writer needs: what was read, and the findings.
pub struct Report {
    pub files: Vec<FileMeta>,
    pub frames: u64,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: crate::FxIndexMap<Skip, u64>,
    pub track: TrackStats,
    /// What the memory budgets made the tracker drop.
    pub dropped: Dropped,
    pub findings: Findings,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// Reading warnings, then the diagnosis's own.
    pub warnings: Vec<String>,
    pub render: RenderOptions,
    /// Wireshark display filter for the flagged attempts' 4-tuples (empty: none flagged).
    pub display_filter: String,
    /// How many 4-tuples the filter names.
    pub filter_tuples: usize,
}

impl Report {
    /// `--time-wait`.
    pub fn window_ns(&self) -> i64 {
        self.findings.window_ns
    }

    /// `frame 123`, or `ring_2.pcap#123` when several files were merged.
    pub fn frame_label(&self, frame: FrameRef) -> String {
        if self.files.len() > 1 {
            let name = self
                .files
                .get(frame.file as usize)
                .map_or("?", |f| f.name.as_str());
            format!("{name}#{}", frame.number)
        } else {
            frame.number.to_string()
        }
    }

    /// Fraction digits for times: the finest precision among the files.
    pub fn digits(&self) -> u8 {
        self.files.iter().map(|f| f.info.digits).max().unwrap_or(6)
    }

    pub fn not_tcp(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(s, _)| !s.is_failure())
            .map(|(_, n)| n)
            .sum()
    }

    /// What was read: frames and files with the time span, then the TCP counts.
    pub fn input_lines(&self) -> [String; 2] {
        words::input_lines(self)
    }

    /// The sentences that tie the findings together, most important first.
    pub fn headline(&self) -> Vec<String> {
        words::headline(self)
    }
}
