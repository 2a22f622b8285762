//! Any bytes as a capture file: reading (every format, compressed or not), decoding,
//! tracking, the diagnosis and every report writer must never panic.
#![no_main]

use std::io::Cursor;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use portreuse::report::json::FileNames;
use portreuse::report::stream::Stream;
use portreuse::{app, capture, cli::Cli};

fuzz_target!(|data: &[u8]| {
    for format in ["table", "json", "ndjson", "csv"] {
        let Ok(capture) = capture::open_reader(Box::new(Cursor::new(data.to_vec()))) else {
            return;
        };
        let cli = Cli::parse_from(["portreuse", "-q", "--time-wait", "60s", "--format", format, "fuzz"]);
        let mut out = Vec::new();
        let files = FileNames { names: vec!["fuzz".into()], digits: vec![capture.info.digits] };
        let mut stream = Stream::begin(cli.format, files, &mut out).expect("writing to a Vec");
        if let Ok(analysis) = app::analyze(&cli, vec!["fuzz".into()], vec![capture], &mut |a| stream.attempt(&mut out, a)) {
            stream.finish(&mut out, &analysis.report).expect("writing to a Vec");
            let _ = analysis.selection.display_filter();
        }
    }
});
