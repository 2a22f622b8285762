//! `--format json`: one document, written as the attempts are decided (one attempt object per
//! line, so memory does not grow with the capture and golden files diff line by line), then
//! the summary. Schema documented in README ("JSON output"); bump SCHEMA_VERSION on changes.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::Report;
use crate::attempt::{Attempt, Outcome, ReuseClass};
use crate::tcp::FrameRef;
use crate::time::secs;

pub const SCHEMA_VERSION: u32 = 1;

/// What the attempt lines need to know about the input files.
pub struct FileNames {
    pub names: Vec<String>,
    pub digits: Vec<u8>,
}

pub struct JsonWriter {
    files: FileNames,
    count: u64,
}

impl JsonWriter {
    pub fn begin(out: &mut dyn Write, files: FileNames) -> io::Result<JsonWriter> {
        write!(
            out,
            "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"attempts\": ["
        )?;
        Ok(JsonWriter { files, count: 0 })
    }

    pub fn attempt(&mut self, out: &mut dyn Write, a: &Attempt) -> io::Result<()> {
        let sep = if self.count == 0 { "" } else { "," };
        self.count += 1;
        let value = attempt_value(a, &self.files);
        write!(out, "{sep}\n    ")?;
        serde_json::to_writer(&mut *out, &value)?;
        Ok(())
    }

    pub fn finish(self, out: &mut dyn Write, report: &Report) -> io::Result<()> {
        let close = if self.count == 0 { "]" } else { "\n  ]" };
        out.write_all(close.as_bytes())?;
        for (key, value) in tail(report) {
            let pretty = serde_json::to_string_pretty(&value)?.replace('\n', "\n  ");
            write!(out, ",\n  \"{key}\": {pretty}")?;
        }
        out.write_all(b"\n}\n")
    }
}

fn frame_fields(
    map: &mut Map<String, Value>,
    key: &str,
    frame: FrameRef,
    files: &FileNames,
    own_file: u32,
) {
    map.insert(key.into(), json!(frame.number));
    if frame.file != own_file {
        let file_key = key.replace("frame", "file");
        map.insert(file_key, json!(files.names[frame.file as usize]));
    }
}

fn attempt_value(a: &Attempt, files: &FileNames) -> Value {
    let digits = files
        .digits
        .get(a.frame.file as usize)
        .copied()
        .unwrap_or(6);
    let mut m = Map::new();
    m.insert("file".into(), json!(files.names[a.frame.file as usize]));
    m.insert("frame".into(), json!(a.frame.number));
    m.insert("time".into(), json!(a.ts.rfc3339(digits).to_string()));
    m.insert("src".into(), json!(a.client.to_string()));
    m.insert("dst".into(), json!(a.server.to_string()));
    m.insert("isn".into(), json!(a.isn.0));
    m.insert("syn_retransmits".into(), json!(a.syn_retransmits));
    m.insert("wait_s".into(), json!(secs(a.last_syn_ts.since(a.ts))));
    m.insert("challenge_acks".into(), json!(a.challenge_acks));
    m.insert("outcome".into(), json!(a.outcome.name()));
    let icmp = a.icmp.map_or(Value::Null, |i| {
        json!({"frame": i.frame.number, "version": if i.v6 { 6 } else { 4 }, "type": i.icmp_type, "code": i.code})
    });
    m.insert("icmp".into(), icmp);
    let icmp_answer = a.icmp.map(|i| crate::attempt::Answer {
        frame: i.frame,
        ts: i.ts,
    });
    match a.syn_ack.or(a.rst).or(icmp_answer) {
        Some(answer) => frame_fields(&mut m, "answer_frame", answer.frame, files, a.frame.file),
        None => {
            m.insert("answer_frame".into(), Value::Null);
        }
    }
    match a.previous_attempt_frame {
        Some(f) => frame_fields(&mut m, "previous_attempt_frame", f, files, a.frame.file),
        None => {
            m.insert("previous_attempt_frame".into(), Value::Null);
        }
    }
    let reuse = a.reuse.map_or(Value::Null, |r| {
        let mut o = Map::new();
        frame_fields(
            &mut o,
            "previous_frame",
            r.previous_frame,
            files,
            a.frame.file,
        );
        frame_fields(
            &mut o,
            "previous_end_frame",
            r.previous_end_frame,
            files,
            a.frame.file,
        );
        o.insert("gap_s".into(), json!(secs(r.gap_ns)));
        o.insert("in_window".into(), json!(r.in_window));
        o.insert("open".into(), json!(r.open));
        o.insert("time_wait_holder".into(), json!(r.holder.name()));
        Value::Object(o)
    });
    m.insert("reuse".into(), reuse);
    Value::Object(m)
}

fn tail(r: &Report) -> Vec<(&'static str, Value)> {
    let s = &r.summary;
    let digits = r.digits();
    let time = |t: Option<crate::time::Ts>| {
        t.map_or(Value::Null, |t| json!(t.rfc3339(digits).to_string()))
    };
    let mut summary = Map::new();
    summary.insert("frames".into(), json!(r.frames));
    summary.insert("tcp_segments".into(), json!(r.track.tcp_segments));
    summary.insert("syn_packets".into(), json!(r.track.syn_packets));
    summary.insert("synack_packets".into(), json!(r.track.synack_packets));
    summary.insert("icmp_errors".into(), json!(r.track.icmp_errors));
    summary.insert(
        "syn_quoted_in_icmp".into(),
        json!(r.track.syn_quoted_in_icmp),
    );
    summary.insert("syn_attempts".into(), json!(s.attempts()));
    summary.insert("syn_retransmits".into(), json!(s.syn_retransmits));
    for o in Outcome::ALL {
        summary.insert(o.name().into(), json!(s.outcomes.get(o)));
    }
    summary.insert(
        "established_after_challenge".into(),
        json!(s.challenged_then_established),
    );
    summary.insert(
        "reused_in_window".into(),
        json!(s.reused(ReuseClass::InWindow)),
    );
    summary.insert(
        "reused_after_window".into(),
        json!(s.reused(ReuseClass::AfterWindow)),
    );
    summary.insert("reused_open".into(), json!(s.reused(ReuseClass::Open)));
    let in_window = &s.cross[ReuseClass::InWindow as usize];
    summary.insert(
        "unanswered_reused_in_window".into(),
        json!(in_window.get(Outcome::Unanswered)),
    );
    summary.insert("failed_reused_in_window".into(), json!(in_window.failed()));
    summary.insert("flagged".into(), json!(s.flagged_total));
    let not_decoded: Map<String, Value> = r
        .skipped
        .iter()
        .filter(|(k, _)| k.is_failure())
        .map(|(k, n)| (k.name(), json!(n)))
        .collect();
    summary.insert("frames_not_decoded".into(), Value::Object(not_decoded));
    summary.insert("frames_not_tcp".into(), json!(r.not_tcp()));
    summary.insert("first_time".into(), time(r.first_ts));
    summary.insert("last_time".into(), time(r.last_ts));
    summary.insert("time_wait_s".into(), json!(secs(r.window_ns)));
    summary.insert("peak_tracked_4tuples".into(), json!(r.track.peak_flows));

    let cross: Map<String, Value> = ReuseClass::ALL
        .iter()
        .map(|c| {
            let row: Map<String, Value> = Outcome::ALL
                .iter()
                .map(|o| (o.name().to_string(), json!(s.cross[*c as usize].get(*o))))
                .collect();
            (class_key(*c).to_string(), Value::Object(row))
        })
        .collect();

    let servers: Vec<Value> = s
        .servers
        .iter()
        .map(|(server, st)| {
            let mut o = Map::new();
            o.insert("server".into(), json!(server.to_string()));
            o.insert("attempts".into(), json!(st.outcomes.total()));
            for outcome in Outcome::ALL {
                o.insert(outcome.name().into(), json!(st.outcomes.get(outcome)));
            }
            o.insert("reused_in_window".into(), json!(st.reused_in_window));
            o.insert(
                "failed_in_server_time_wait".into(),
                json!(st.failed_server_time_wait),
            );
            o.insert("failed_gap_s".into(), gap_range(st.failed_gaps));
            o.insert(
                "established_in_window".into(),
                json!(st.established_in_window),
            );
            o.insert("established_gap_s".into(), gap_range(st.established_gaps));
            Value::Object(o)
        })
        .collect();

    let files: Vec<Value> = r
        .files
        .iter()
        .map(|f| {
            let i = &f.info;
            json!({
                "name": f.name,
                "format": i.format,
                "compression": i.compression,
                "frames": i.frames,
                "truncated_at_frame": i.truncated.map(|t| t.0),
                "out_of_order_frames": i.out_of_order,
                "frames_without_timestamp": i.without_timestamp,
                "interface_drops": i.dropped,
            })
        })
        .collect();

    vec![
        ("summary", Value::Object(summary)),
        ("cross_table", Value::Object(cross)),
        ("servers", Value::Array(servers)),
        ("files", Value::Array(files)),
        ("headline", json!(r.headline())),
        ("warnings", json!(r.warnings)),
    ]
}

fn gap_range(g: crate::summary::GapRange) -> Value {
    match (g.min, g.max) {
        (Some(min), Some(max)) => json!({"min": secs(min), "max": secs(max)}),
        _ => Value::Null,
    }
}

pub fn class_key(c: ReuseClass) -> &'static str {
    match c {
        ReuseClass::InWindow => "reused_in_window",
        ReuseClass::AfterWindow => "reused_after_window",
        ReuseClass::Open => "reused_open",
        ReuseClass::NotReused => "not_reused",
    }
}
