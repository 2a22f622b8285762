//! Output written while the capture is read: attempts as they are decided (JSON, NDJSON,
//! CSV), then what only the end knows. The table is written at the end only.

use std::io::{self, Write};

use serde_json::{Map, Value};

use super::Report;
use super::json::{FileNames, JsonWriter, tail, write_attempt};
use crate::attempt::Attempt;
use crate::cli::Format;
use crate::time::secs;

pub enum Stream {
    Table,
    Json(JsonWriter),
    Ndjson(FileNames),
    Csv(FileNames),
    /// `--filter-only`: no attempts, the filter at the end.
    Nothing,
}

const CSV_HEADER: &str = "file,frame,time,src,dst,isn,syn_retransmits,wait_s,challenge_acks,outcome,answer_frame,previous_attempt_frame,reused,gap_s,in_window,open,time_wait_holder,isn_advanced,ts_advanced";

impl Stream {
    pub fn begin(format: Format, files: FileNames, out: &mut dyn Write) -> io::Result<Stream> {
        Ok(match format {
            Format::Table => Stream::Table,
            Format::Json => Stream::Json(JsonWriter::begin(out, files)?),
            Format::Ndjson => Stream::Ndjson(files),
            Format::Csv => {
                write!(out, "{CSV_HEADER}\r\n")?;
                Stream::Csv(files)
            }
        })
    }

    pub fn attempt(&mut self, out: &mut dyn Write, a: &Attempt) -> io::Result<()> {
        match self {
            Stream::Json(w) => w.attempt(out, a),
            Stream::Ndjson(files) => {
                write_attempt(out, a, files, Some("attempt"))?;
                out.write_all(b"\n")
            }
            Stream::Csv(files) => csv_row(out, a, files),
            Stream::Table | Stream::Nothing => Ok(()),
        }
    }

    pub fn finish(self, out: &mut dyn Write, report: &Report) -> io::Result<()> {
        match self {
            Stream::Json(w) => w.finish(out, report),
            Stream::Ndjson(_) => {
                let mut summary = Map::new();
                summary.insert("type".into(), Value::String("summary".into()));
                summary.insert("schema_version".into(), super::json::SCHEMA_VERSION.into());
                summary.extend(tail(report).into_iter().map(|(k, v)| (k.to_string(), v)));
                serde_json::to_writer(&mut *out, &summary)?;
                out.write_all(b"\n")
            }
            Stream::Table => super::table::render(report, out),
            Stream::Csv(_) | Stream::Nothing => Ok(()),
        }
    }
}

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
pub fn csv_field(out: &mut dyn Write, field: &str) -> io::Result<()> {
    if field.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", field.replace('"', "\"\""))
    } else {
        out.write_all(field.as_bytes())
    }
}

fn csv_row(out: &mut dyn Write, a: &Attempt, files: &FileNames) -> io::Result<()> {
    let own = a.frame.file as usize;
    let digits = files.digits.get(own).copied().unwrap_or(6);
    let opt = |v: Option<String>| v.unwrap_or_default();
    let answer = a
        .syn_ack
        .or(a.rst)
        .map(|x| x.frame.number)
        .or(a.icmp.map(|i| i.frame.number));
    let r = a.reuse;
    let fields = [
        files.names.get(own).cloned().unwrap_or_default(),
        a.frame.number.to_string(),
        a.ts.rfc3339(digits).to_string(),
        a.client.to_string(),
        a.server.to_string(),
        a.isn.0.to_string(),
        a.syn_retransmits.to_string(),
        secs(a.last_syn_ts.since(a.ts)).to_string(),
        a.challenge_acks.to_string(),
        a.outcome.name().to_string(),
        opt(answer.map(|n| n.to_string())),
        opt(a.previous_attempt_frame.map(|f| f.number.to_string())),
        r.is_some().to_string(),
        opt(r.map(|r| secs(r.gap_ns).to_string())),
        opt(r.map(|r| r.in_window.to_string())),
        opt(r.map(|r| r.open.to_string())),
        opt(r.map(|r| r.holder.name().to_string())),
        opt(r.and_then(|r| r.isn_advanced).map(|b| b.to_string())),
        opt(r.and_then(|r| r.ts_advanced).map(|b| b.to_string())),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        csv_field(out, field)?;
    }
    out.write_all(b"\r\n")
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
