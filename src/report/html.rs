//! `--html REPORT.html`: one self-contained page (no network access needed to view it) with
//! the report and charts. (Stub: the charts are being written.)

use std::io::{self, Write};

use super::Report;
use crate::attempt::Attempt;

pub fn render(r: &Report, attempts: &[Attempt], out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>portreuse</title></head><body><pre>"
    )?;
    for line in r.headline() {
        writeln!(out, "{}", escape(&line))?;
    }
    writeln!(out, "{} attempts</pre></body></html>", attempts.len())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
