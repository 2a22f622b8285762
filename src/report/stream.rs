//! Output written while the capture is read: attempts as they are decided (JSON, NDJSON,
//! CSV), then what only the end knows; the table is written at the end only. Each attempt is
//! serialised into one reused buffer and written with one call. An error after output began
//! still ends the output well-formed (issue 14 item 3): the JSON document closes with an
//! `error` member, NDJSON ends with an error record, CSV with a comment-free error row.

use std::io::{self, Write};

use super::json::{
    FileNames, SCHEMA_VERSION, SummaryRecord, Time, answer_frame, attempt_line, endpoint_text,
    tail_doc, write_tail,
};
use super::{Format, Report};
use crate::attempt::Attempt;
use crate::detect::Judged;
use crate::detect::gaps::syn_gaps;
use crate::time::secs;

pub enum Stream {
    Table,
    Json {
        files: FileNames,
        count: u64,
        buf: Vec<u8>,
    },
    Ndjson {
        files: FileNames,
        buf: Vec<u8>,
    },
    Csv {
        files: FileNames,
        buf: Vec<u8>,
    },
    /// `--filter-only`: no attempts, the filter at the end.
    Nothing,
}

pub const CSV_HEADER: &str = "file,frame,time,src,dst,isn,syn_retransmits,wait_s,challenge_acks,outcome,cause,answer_frame,answered_syn,previous_attempt_frame,reused,gap_s,syn_gaps_s,in_window,open,time_wait_holder,isn_advanced,ts_advanced,port_idle_s,flagged";

impl Stream {
    pub fn begin(format: Format, files: FileNames, out: &mut dyn Write) -> io::Result<Stream> {
        let buf = Vec::with_capacity(1024);
        Ok(match format {
            Format::Table => Stream::Table,
            Format::Json => {
                write!(
                    out,
                    "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"attempts\": ["
                )?;
                Stream::Json {
                    files,
                    count: 0,
                    buf,
                }
            }
            Format::Ndjson => Stream::Ndjson { files, buf },
            Format::Csv => {
                write!(out, "{CSV_HEADER}\r\n")?;
                Stream::Csv { files, buf }
            }
        })
    }

    /// A decided attempt and what the detector judged of it.
    pub fn attempt(&mut self, out: &mut dyn Write, a: &Attempt, judged: &Judged) -> io::Result<()> {
        match self {
            Stream::Json { files, count, buf } => {
                let sep: &[u8] = if *count == 0 { b"\n    " } else { b",\n    " };
                *count += 1;
                attempt_line(buf, a, judged, files, None)?;
                out.write_all(sep)?;
                out.write_all(buf)
            }
            Stream::Ndjson { files, buf } => {
                attempt_line(buf, a, judged, files, Some("attempt"))?;
                buf.push(b'\n');
                out.write_all(buf)
            }
            Stream::Csv { files, buf } => {
                csv_row(buf, a, judged, files);
                out.write_all(buf)
            }
            Stream::Table | Stream::Nothing => Ok(()),
        }
    }

    pub fn finish(self, out: &mut dyn Write, report: &Report) -> io::Result<()> {
        match self {
            Stream::Json { count, .. } => {
                let close: &[u8] = if count == 0 { b"]," } else { b"\n  ]," };
                out.write_all(close)?;
                write_tail(out, report)?;
                out.write_all(b"\n")
            }
            Stream::Ndjson { .. } => {
                let record = SummaryRecord {
                    kind: "summary",
                    schema_version: SCHEMA_VERSION,
                    tail: tail_doc(report),
                };
                serde_json::to_writer(&mut *out, &record)?;
                out.write_all(b"\n")
            }
            Stream::Table => super::table::render(report, out),
            Stream::Csv { .. } | Stream::Nothing => Ok(()),
        }
    }

    /// The analysis failed after output began: end it as a valid document.
    pub fn fail(self, out: &mut dyn Write, error: &str) -> io::Result<()> {
        let message = serde_json::to_string(error)?;
        match self {
            Stream::Json { count, .. } => {
                let close = if count == 0 { "]" } else { "\n  ]" };
                write!(out, "{close},\n  \"error\": {message}\n}}\n")
            }
            Stream::Ndjson { .. } => {
                writeln!(
                    out,
                    "{{\"type\":\"error\",\"schema_version\":{SCHEMA_VERSION},\"error\":{message}}}"
                )
            }
            Stream::Csv { .. } => {
                csv_field(out, &format!("error: {error}"))?;
                out.write_all(b"\r\n")
            }
            Stream::Table | Stream::Nothing => Ok(()),
        }
    }
}

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
pub fn csv_field(out: &mut dyn Write, field: &str) -> io::Result<()> {
    let mut buf = Vec::with_capacity(field.len() + 2);
    push_field(&mut buf, field);
    out.write_all(&buf)
}

fn push_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn push_secs(out: &mut Vec<u8>, ns: i64) {
    // serde_json's float formatting (shortest round trip), without a Value.
    use serde_json::ser::Formatter;
    let _ = serde_json::ser::CompactFormatter.write_f64(out, secs(ns));
}

fn push_bool(out: &mut Vec<u8>, b: Option<bool>) {
    if let Some(b) = b {
        out.extend_from_slice(if b { b"true" } else { b"false" });
    }
}

/// One attempt as a CSV row into `out` (cleared first).
fn csv_row(out: &mut Vec<u8>, a: &Attempt, judged: &Judged, files: &FileNames) {
    out.clear();
    let own = a.frame.file as usize;
    let digits = files.digits.get(own).copied().unwrap_or(6);
    push_field(out, files.names.get(own).map_or("", String::as_str));
    out.push(b',');
    push_u64(out, a.frame.number);
    out.push(b',');
    let mut time = [0u8; 40];
    out.extend_from_slice(Time(a.ts, digits).write(&mut time).as_bytes());
    out.push(b',');
    endpoint_text(out, a.client);
    out.push(b',');
    endpoint_text(out, a.server);
    out.push(b',');
    // Empty where the JSON has null: an ISN that no packet in the capture shows.
    if a.isn_known {
        push_u64(out, u64::from(a.isn.0));
    }
    out.push(b',');
    push_u64(out, u64::from(a.syn_retransmits));
    out.push(b',');
    push_secs(out, a.last_syn_ts.since(a.ts));
    out.push(b',');
    push_u64(out, u64::from(a.challenge_acks));
    out.push(b',');
    out.extend_from_slice(a.outcome.name().as_bytes());
    out.push(b',');
    if let Some(c) = judged.cause {
        out.extend_from_slice(c.name().as_bytes());
    }
    out.push(b',');
    if let Some(f) = answer_frame(a) {
        push_u64(out, f.number);
    }
    out.push(b',');
    if let Some(n) = a.answered_syn {
        push_u64(out, u64::from(n));
    }
    out.push(b',');
    if let Some(f) = a.previous_attempt_frame {
        push_u64(out, f.number);
    }
    out.push(b',');
    let r = a.reuse;
    push_bool(out, Some(r.is_some()));
    out.push(b',');
    if let Some(r) = r {
        push_secs(out, r.gap_ns);
    }
    out.push(b',');
    if let Some(gaps) = syn_gaps(a) {
        // Space-separated, so the field needs no quoting.
        for (i, g) in gaps.as_slice().iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            push_secs(out, *g);
        }
    }
    out.push(b',');
    push_bool(out, r.map(|r| r.in_window));
    out.push(b',');
    push_bool(out, r.map(|r| r.open));
    out.push(b',');
    if let Some(r) = r {
        out.extend_from_slice(r.holder.name().as_bytes());
    }
    out.push(b',');
    push_bool(out, r.and_then(|r| r.isn_advanced));
    out.push(b',');
    push_bool(out, r.and_then(|r| r.ts_advanced));
    out.push(b',');
    if let Some(idle) = a.port_idle_ns {
        push_secs(out, idle);
    }
    out.push(b',');
    push_bool(out, Some(judged.flagged));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_per_rfc_4180() {
        let mut out = Vec::new();
        for f in ["plain", "a,b", "say \"hi\"", "line\nbreak"] {
            csv_field(&mut out, f).unwrap();
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"line\nbreak\"|"
        );
    }
}
