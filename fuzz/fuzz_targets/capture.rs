//! Any bytes as a capture file: reading (every format, compressed or not), decoding,
//! tracking and both report writers must never panic.
#![no_main]

use std::io::Cursor;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use portreuse::{app, capture, cli::Cli};

fuzz_target!(|data: &[u8]| {
    for format in ["table", "json"] {
        let Ok(capture) = capture::open_reader(Box::new(Cursor::new(data.to_vec()))) else {
            return;
        };
        let cli = Cli::parse_from(["portreuse", "-q", "--time-wait", "60s", "--format", format, "fuzz"]);
        let mut out = Vec::new();
        let _ = app::analyze(&cli, vec!["fuzz".into()], vec![capture], &mut out);
    }
});
