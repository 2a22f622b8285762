//! `--format json`: one document, written as the attempts are decided (one attempt object per
//! line, so memory does not grow with the capture and golden files diff line by line), then
//! the summary. Schema documented in README ("JSON output"); bump SCHEMA_VERSION on changes.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::Report;
use crate::attempt::{Attempt, Outcome, ReuseClass};
use crate::tcp::{Endpoint, FrameRef};
use crate::time::Rfc3339;
use crate::time::secs;
use serde::{Serialize, Serializer};

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
        write!(out, "{sep}\n    ")?;
        write_attempt(out, a, &self.files, None)
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

/// One attempt, serialised straight from borrowed data (no intermediate `Value`, no
/// temporary strings: addresses and times are written through their `Display`).
#[derive(Serialize)]
struct AttemptLine<'a> {
    file: &'a str,
    frame: u64,
    #[serde(serialize_with = "display")]
    time: Rfc3339,
    #[serde(serialize_with = "display")]
    src: Endpoint,
    #[serde(serialize_with = "display")]
    dst: Endpoint,
    isn: u32,
    tsval: Option<u32>,
    syn_retransmits: u32,
    /// When each retransmission was sent, seconds after the first SYN (the first six).
    retransmit_s: Vec<f64>,
    wait_s: f64,
    challenge_acks: u32,
    outcome: &'static str,
    icmp: Option<IcmpLine>,
    answer_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer_file: Option<&'a str>,
    previous_attempt_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attempt_file: Option<&'a str>,
    previous_attempt_gap_s: Option<f64>,
    reuse: Option<ReuseLine<'a>>,
}

#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    line: T,
}

#[derive(Serialize)]
struct IcmpLine {
    frame: u64,
    version: u8,
    #[serde(rename = "type")]
    icmp_type: u8,
    code: u8,
}

#[derive(Serialize)]
struct ReuseLine<'a> {
    previous_frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_file: Option<&'a str>,
    previous_end_frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_end_file: Option<&'a str>,
    gap_s: f64,
    in_window: bool,
    open: bool,
    time_wait_holder: &'static str,
    isn_advanced: Option<bool>,
    ts_advanced: Option<bool>,
}

fn display<T: std::fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// One attempt as a compact JSON object; `kind` adds a leading `"type"` key (NDJSON).
pub fn write_attempt(
    out: &mut dyn Write,
    a: &Attempt,
    files: &FileNames,
    kind: Option<&str>,
) -> io::Result<()> {
    let own = a.frame.file;
    let name = |f: FrameRef| files.names.get(f.file as usize).map_or("?", String::as_str);
    let other_file = |f: FrameRef| (f.file != own).then(|| name(f));
    let answer = a
        .syn_ack
        .or(a.rst)
        .map(|x| x.frame)
        .or(a.icmp.map(|i| i.frame));
    let digits = files.digits.get(own as usize).copied().unwrap_or(6);
    let retransmits = (a.syn_retransmits as usize).min(a.retransmit_us.len());
    let line = AttemptLine {
        file: name(a.frame),
        frame: a.frame.number,
        time: a.ts.rfc3339(digits),
        src: a.client,
        dst: a.server,
        isn: a.isn.0,
        tsval: a.tsval,
        syn_retransmits: a.syn_retransmits,
        retransmit_s: a.retransmit_us[..retransmits]
            .iter()
            .map(|us| f64::from(*us) / 1e6)
            .collect(),
        wait_s: secs(a.last_syn_ts.since(a.ts)),
        challenge_acks: a.challenge_acks,
        outcome: a.outcome.name(),
        icmp: a.icmp.map(|i| IcmpLine {
            frame: i.frame.number,
            version: if i.v6 { 6 } else { 4 },
            icmp_type: i.icmp_type,
            code: i.code,
        }),
        answer_frame: answer.map(|f| f.number),
        answer_file: answer.and_then(other_file),
        previous_attempt_frame: a.previous_attempt_frame.map(|f| f.number),
        previous_attempt_file: a.previous_attempt_frame.and_then(other_file),
        previous_attempt_gap_s: a.previous_attempt_gap_ns.map(secs),
        reuse: a.reuse.map(|r| ReuseLine {
            previous_frame: r.previous_frame.number,
            previous_file: other_file(r.previous_frame),
            previous_end_frame: r.previous_end_frame.number,
            previous_end_file: other_file(r.previous_end_frame),
            gap_s: secs(r.gap_ns),
            in_window: r.in_window,
            open: r.open,
            time_wait_holder: r.holder.name(),
            isn_advanced: r.isn_advanced,
            ts_advanced: r.ts_advanced,
        }),
    };
    match kind {
        Some(kind) => serde_json::to_writer(out, &Typed { kind, line }),
        None => serde_json::to_writer(out, &line),
    }
    .map_err(io::Error::from)
}

/// Everything after the attempts, as (key, value) pairs in document order.
pub fn tail(r: &Report) -> Vec<(&'static str, Value)> {
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
            let behaviour = r.summary.diagnosis.servers.get(server);
            o.insert("server".into(), json!(server.to_string()));
            o.insert("ip".into(), json!(server.ip.to_string()));
            o.insert("port".into(), json!(server.port));
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
            if let Some(b) = behaviour {
                let (lower, upper) = b.time_wait_bracket();
                let bracket = (lower.is_some() || upper.is_some())
                    .then(|| json!({"lower": lower.map(secs), "upper": upper.map(secs)}));
                o.insert("time_wait_bracket_s".into(), json!(bracket));
                o.insert(
                    "time_wait_judgement".into(),
                    json!(super::diagnosis::bracket_text(lower, upper)),
                );
                o.insert("response_style".into(), json!(b.response_style()));
                let verdicts: Map<String, Value> = b
                    .verdicts
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                o.insert("reuse_verdicts".into(), Value::Object(verdicts));
                let minutes: Vec<Value> = b.per_minute.iter().map(|(n, f)| json!([n, f])).collect();
                o.insert("attempts_failed_per_minute".into(), Value::Array(minutes));
            }
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
        ("sources", super::diagnosis::sources_json(r)),
        ("clients_felt", super::diagnosis::felt_json(r)),
        ("asymmetries", super::diagnosis::asymmetries_json(r)),
        ("relays", super::diagnosis::relays_json(r)),
        ("capture_quality", capture_quality(r)),
        ("files", Value::Array(files)),
        ("headline", json!(r.headline())),
        ("wireshark_filter", json!(r.display_filter)),
        ("warnings", json!(r.warnings)),
    ]
}

/// The diagnosis's capture-quality object, with the tracker's counters added (issue 9).
fn capture_quality(r: &Report) -> Value {
    let mut q = super::diagnosis::quality_json(r);
    let t = &r.track;
    if let Value::Object(map) = &mut q {
        let runs: Vec<Value> = t
            .copy_run_frames
            .iter()
            .flatten()
            .map(|run| {
                json!({
                    "first_frame": run.first.number,
                    "last_frame": run.last.number,
                    "copies": run.copies,
                })
            })
            .collect();
        let backwards: Vec<Value> = t
            .backwards
            .iter()
            .flatten()
            .map(|(syn, end)| json!({"syn_frame": syn.number, "previous_end_frame": end.number}))
            .collect();
        for (key, value) in [
            ("duplicate_frames", json!(t.duplicate_frames)),
            ("duplicates_unchecked", json!(t.duplicates_unchecked)),
            ("copy_runs", json!(t.copy_runs)),
            ("copy_run_frames", Value::Array(runs)),
            ("late_syns", json!(t.late_syns)),
            ("syn_ack_before_syn", json!(t.syn_ack_before_syn)),
            ("syn_ack_missing", json!(t.syn_ack_missing)),
            ("backwards_syns", json!(t.backwards_syns)),
            ("backwards_syn_frames", Value::Array(backwards)),
            ("reuses_from_memory", json!(t.reuses_from_memory)),
        ] {
            map.insert(key.to_string(), value);
        }
    }
    q
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
