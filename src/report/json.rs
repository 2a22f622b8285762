//! `--format json`: one document, `schema_version` 2 (README "JSON output"). Attempts are
//! written as they are decided, one compact object per line; everything else follows from
//! `#[derive(Serialize)]` structs built from the findings, pretty-printed. Times and
//! addresses are formatted on the stack and every line is serialised into one reused buffer
//! (issue 12 item 3): no intermediate maps, no per-token virtual calls.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use serde_json::Value;

use super::Report;
use super::words;
use crate::attempt::{Attempt, Outcome, RETRANSMITS_KEPT};
use crate::detect::Judged;
use crate::detect::asymmetry::Direction;
use crate::detect::cause::Cause;
use crate::detect::counts::{DURATION_EDGES_S, Distribution, GapRange, OutcomeCounts};
use crate::detect::cross::CrossRow;
use crate::detect::findings::{ServerFinding, SourceFinding};
use crate::detect::fix::{Fix, RestBasis, rest_ms};
use crate::detect::gaps::syn_gaps;
use crate::detect::refusal::{RefusalForm, refusal};
use crate::detect::schedule::Schedule;
use crate::detect::sources::Pattern;
use crate::detect::time_wait::{KnownTimeWait, ResponseStyle, Verdict};
use crate::tcp::{Endpoint, FrameRef};
use crate::time::{NANOS_PER_SEC, Ts, secs};

pub const SCHEMA_VERSION: u32 = 2;

/// What the attempt lines need to know about the input files.
pub struct FileNames {
    pub names: Vec<String>,
    pub digits: Vec<u8>,
}

// ---------------------------------------------------------------------------------------
// Values formatted on the stack.

/// An endpoint as `ip:port` (`[ip]:port` for IPv6), formatted without `core::fmt` for IPv4.
struct Addr(Endpoint);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.ip {
            IpAddr::V4(ip) => {
                let mut buf = [0u8; 21];
                let mut n = 0;
                let mut put = |bytes: &[u8]| {
                    buf[n..n + bytes.len()].copy_from_slice(bytes);
                    n += bytes.len();
                };
                let mut ints = itoa::Buffer::new();
                for (i, octet) in ip.octets().iter().enumerate() {
                    if i > 0 {
                        put(b".");
                    }
                    put(ints.format(*octet).as_bytes());
                }
                put(b":");
                put(ints.format(self.0.port).as_bytes());
                s.serialize_str(std::str::from_utf8(&buf[..n]).unwrap_or("?"))
            }
            IpAddr::V6(_) => s.collect_str(&self.0),
        }
    }
}

/// An RFC 3339 UTC time with `digits` fractional digits, formatted on the stack.
pub struct Time(pub Ts, pub u8);

/// `YYYY-MM-DDTHH:MM:SS`.
const SECOND_TEXT: usize = 19;

thread_local! {
    /// The second `Time::write` wrote last, and its text up to the seconds: attempts come in
    /// time order, about a hundred a second on a busy capture, and the calendar arithmetic
    /// was half of each time written (issue 12).
    static LAST_SECOND: Cell<(i64, [u8; SECOND_TEXT])> =
        const { Cell::new((i64::MIN, [0; SECOND_TEXT])) };
}

impl Time {
    /// The text, into `buf`.
    pub fn write<'b>(&self, buf: &'b mut [u8; 40]) -> &'b str {
        let (ts, digits) = (self.0, self.1.min(9));
        let secs = ts.0.div_euclid(NANOS_PER_SEC);
        let nanos = ts.0.rem_euclid(NANOS_PER_SEC);
        let cached = LAST_SECOND.with(|last| {
            let (second, head) = last.get();
            (second == secs).then_some(head)
        });
        let head = match cached.or_else(|| Time::second_text(secs)) {
            Some(head) => head,
            None => {
                // Years outside 0000-9999: the general form.
                let text = ts.rfc3339(digits).to_string();
                let n = text.len().min(40);
                buf[..n].copy_from_slice(&text.as_bytes()[..n]);
                return std::str::from_utf8(&buf[..n]).unwrap_or("?");
            }
        };
        buf[..SECOND_TEXT].copy_from_slice(&head);
        let mut w = Cursor {
            buf,
            n: SECOND_TEXT,
        };
        if digits > 0 {
            w.byte(b'.');
            w.num(
                nanos / 10i64.pow(9 - u32::from(digits)),
                usize::from(digits),
            );
        }
        w.byte(b'Z');
        let n = w.n;
        std::str::from_utf8(&buf[..n]).unwrap_or("?")
    }

    /// `YYYY-MM-DDTHH:MM:SS` of the second `secs` since the epoch (kept for the next time
    /// written), if its year has four digits.
    fn second_text(secs: i64) -> Option<[u8; SECOND_TEXT]> {
        let (y, m, d) = crate::time::civil_from_days(secs.div_euclid(86_400));
        if !(0..=9999).contains(&y) {
            return None;
        }
        let rem = secs.rem_euclid(86_400);
        let mut buf = [0u8; 40];
        let mut w = Cursor {
            buf: &mut buf,
            n: 0,
        };
        w.num(y, 4);
        w.byte(b'-');
        w.num(i64::from(m), 2);
        w.byte(b'-');
        w.num(i64::from(d), 2);
        w.byte(b'T');
        w.num(rem / 3600, 2);
        w.byte(b':');
        w.num(rem % 3600 / 60, 2);
        w.byte(b':');
        w.num(rem % 60, 2);
        let mut head = [0u8; SECOND_TEXT];
        head.copy_from_slice(&buf[..SECOND_TEXT]);
        LAST_SECOND.with(|last| last.set((secs, head)));
        Some(head)
    }
}

/// Digits and bytes into a stack buffer.
struct Cursor<'b> {
    buf: &'b mut [u8; 40],
    n: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, b: u8) {
        self.buf[self.n] = b;
        self.n += 1;
    }
    /// `v` in exactly `width` digits, zero-padded.
    fn num(&mut self, mut v: i64, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.n + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.n += width;
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 40];
        s.serialize_str(self.write(&mut buf))
    }
}

/// Nanoseconds as seconds (f64: exact to the nanosecond below 10^7 s).
fn s(ns: i64) -> f64 {
    secs(ns)
}

/// The retransmission times an attempt kept, as seconds after the first SYN.
struct Retransmits<'a>(&'a [u32]);

impl Serialize for Retransmits<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for us in self.0 {
            seq.serialize_element(&(f64::from(*us) / 1e6))?;
        }
        seq.end()
    }
}

/// Nanosecond gaps as a sequence of seconds.
struct Seconds<'a>(&'a [i64]);

impl Serialize for Seconds<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for ns in self.0 {
            seq.serialize_element(&s(*ns))?;
        }
        seq.end()
    }
}

// ---------------------------------------------------------------------------------------
// One attempt.

#[derive(Serialize)]
struct AttemptLine<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    file: &'a str,
    frame: u64,
    time: Time,
    src: Addr,
    dst: Addr,
    /// Null when only a server's challenge ACK implied the attempt (issue 13).
    isn: Option<u32>,
    tsval: Option<u32>,
    syn_retransmits: u32,
    /// When each retransmission was sent, seconds after the first SYN (the first six).
    retransmit_s: Retransmits<'a>,
    wait_s: f64,
    challenge_acks: u32,
    outcome: &'static str,
    cause: Option<Cause>,
    flagged: bool,
    icmp: Option<IcmpLine>,
    answer_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer_file: Option<&'a str>,
    answered_syn: Option<u32>,
    established_by: Option<&'static str>,
    evidence: &'static str,
    syn_gaps_s: Option<Seconds<'a>>,
    port_idle_s: Option<f64>,
    port_previous_syn_s: Option<f64>,
    first_close: Option<FirstCloseLine>,
    syn_data_len: u32,
    late_syns: u32,
    duplicate_frames: u32,
    previous_attempt_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attempt_file: Option<&'a str>,
    previous_attempt_gap_s: Option<f64>,
    reuse: Option<ReuseLine<'a>>,
    /// The rule that inferred the outcome from one side (issue 13), or null.
    inferred: Option<&'static str>,
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
struct FirstCloseLine {
    by: &'static str,
    reset: bool,
    after_s: f64,
    server_bytes: u64,
    client_bytes: u64,
    refusal: Option<RefusalForm>,
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
    /// The holder was inferred from one side's FIN and ACK order (issue 13).
    time_wait_holder_inferred: bool,
    isn_advanced: Option<bool>,
    ts_advanced: Option<bool>,
}

/// The frame that decided the outcome (SYN-ACK, RST or ICMP error).
pub fn answer_frame(a: &Attempt) -> Option<FrameRef> {
    a.syn_ack
        .or(a.rst)
        .map(|x| x.frame)
        .or(a.icmp.map(|i| i.frame))
}

/// One attempt as a compact JSON object into `buf` (cleared first); `kind` adds a leading
/// `"type"` key (NDJSON). The values come from `AttemptLine` (the schema); they are written
/// by `AttemptLine::write`, byte for byte what serde would write (a test checks), without
/// serde's per-key escaping and dispatch.
pub fn attempt_line(
    buf: &mut Vec<u8>,
    a: &Attempt,
    judged: &Judged,
    files: &FileNames,
    kind: Option<&'static str>,
) -> io::Result<()> {
    buf.clear();
    let gaps = syn_gaps(a);
    attempt_record(a, judged, files, kind, gaps.as_ref()).write(buf);
    Ok(())
}

/// The same through serde (the reference the hand-written form is tested against).
pub fn attempt_line_serde(
    buf: &mut Vec<u8>,
    a: &Attempt,
    judged: &Judged,
    files: &FileNames,
    kind: Option<&'static str>,
) -> io::Result<()> {
    buf.clear();
    let gaps = syn_gaps(a);
    let line = attempt_record(a, judged, files, kind, gaps.as_ref());
    serde_json::to_writer(&mut *buf, &line).map_err(io::Error::from)
}

fn attempt_record<'a>(
    a: &'a Attempt,
    judged: &Judged,
    files: &'a FileNames,
    kind: Option<&'static str>,
    gaps: Option<&'a crate::detect::gaps::SynGaps>,
) -> AttemptLine<'a> {
    let own = a.frame.file;
    let name = |f: FrameRef| files.names.get(f.file as usize).map_or("?", String::as_str);
    let other_file = |f: FrameRef| (f.file != own).then(|| name(f));
    let answer = answer_frame(a);
    let digits = files.digits.get(own as usize).copied().unwrap_or(6);
    let retransmits = (a.syn_retransmits as usize).min(RETRANSMITS_KEPT);
    AttemptLine {
        kind,
        file: name(a.frame),
        frame: a.frame.number,
        time: Time(a.ts, digits),
        src: Addr(a.client),
        dst: Addr(a.server),
        isn: a.isn_known.then_some(a.isn.0),
        tsval: a.tsval,
        syn_retransmits: a.syn_retransmits,
        retransmit_s: Retransmits(&a.retransmit_us[..retransmits]),
        wait_s: s(a.last_syn_ts.since(a.ts)),
        challenge_acks: a.challenge_acks,
        outcome: a.outcome.name(),
        cause: judged.cause,
        flagged: judged.flagged,
        icmp: a.icmp.map(|i| IcmpLine {
            frame: i.frame.number,
            version: if i.v6 { 6 } else { 4 },
            icmp_type: i.icmp_type,
            code: i.code,
        }),
        answer_frame: answer.map(|f| f.number),
        answer_file: answer.and_then(other_file),
        answered_syn: a.answered_syn,
        established_by: a.established_by.map(|e| e.name()),
        evidence: a.evidence.name(),
        syn_gaps_s: gaps.map(|g| Seconds(g.as_slice())),
        port_idle_s: a.port_idle_ns.map(s),
        port_previous_syn_s: a.port_previous_syn_ns.map(s),
        first_close: a.first_close.map(|c| FirstCloseLine {
            by: if c.by_server { "server" } else { "client" },
            reset: c.reset,
            after_s: s(c.after_ns),
            server_bytes: c.server_bytes,
            client_bytes: c.client_bytes,
            refusal: refusal(&c),
        }),
        syn_data_len: a.syn_data_len,
        late_syns: a.late_syns,
        duplicate_frames: a.duplicate_frames,
        previous_attempt_frame: a.previous_attempt_frame.map(|f| f.number),
        previous_attempt_file: a.previous_attempt_frame.and_then(other_file),
        previous_attempt_gap_s: a.previous_attempt_gap_ns.map(s),
        reuse: a.reuse.map(|r| ReuseLine {
            previous_frame: r.previous_frame.number,
            previous_file: other_file(r.previous_frame),
            previous_end_frame: r.previous_end_frame.number,
            previous_end_file: other_file(r.previous_end_frame),
            gap_s: s(r.gap_ns),
            in_window: r.in_window,
            open: r.open,
            time_wait_holder: r.holder.name(),
            time_wait_holder_inferred: a.holder_inferred,
            isn_advanced: r.isn_advanced,
            ts_advanced: r.ts_advanced,
        }),
        inferred: a.inferred.map(|rule| rule.name()),
    }
}

/// `,"key":` as one constant copy (the key is a literal: known length, no escaping).
macro_rules! key {
    ($buf:expr, $k:literal) => {
        $buf.extend_from_slice(concat!(",\"", $k, "\":").as_bytes())
    };
}

fn put_u64(buf: &mut Vec<u8>, v: u64) {
    // Most counts are 0 or a single digit: one byte, no copy of itoa's buffer.
    if v < 10 {
        buf.push(b'0' + v as u8);
    } else {
        buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
}

fn put_opt_u64(buf: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => put_u64(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

fn put_opt_f64(buf: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => float(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

fn put_bool(buf: &mut Vec<u8>, v: bool) {
    buf.extend_from_slice(if v { b"true" } else { b"false" });
}

fn put_opt_bool(buf: &mut Vec<u8>, v: Option<bool>) {
    match v {
        Some(v) => put_bool(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

fn put_opt_name(buf: &mut Vec<u8>, v: Option<&'static str>) {
    match v {
        Some(v) => name(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

fn put_seconds(buf: &mut Vec<u8>, values: impl Iterator<Item = f64>) {
    buf.push(b'[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        float(buf, v);
    }
    buf.push(b']');
}

fn float(buf: &mut Vec<u8>, v: f64) {
    use serde_json::ser::Formatter;
    if v.to_bits() == 0 {
        // +0.0, the most common value (no wait, no retransmission), as serde writes it.
        buf.extend_from_slice(b"0.0");
    } else if v.is_finite() {
        let _ = serde_json::ser::CompactFormatter.write_f64(buf, v);
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// A name of the report's vocabulary (an outcome, a cause, a side: the `name()` of one of
/// this crate's enums) as a JSON string: plain ASCII, nothing to escape or scan for (five of
/// them on every attempt line).
fn name(buf: &mut Vec<u8>, v: &'static str) {
    debug_assert!(
        v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'),
        "{v:?}"
    );
    buf.push(b'"');
    buf.extend_from_slice(v.as_bytes());
    buf.push(b'"');
}

/// A JSON string, escaped as serde_json escapes: `"`, `\\` and control characters.
fn string(buf: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    // Most strings need no escaping: one quick pass (without an early exit, so that it is
    // vectorised: the file name is scanned for every attempt), one copy.
    let plain = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        buf.reserve(bytes.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    buf.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xF)]);
        } else {
            buf.extend_from_slice(escape);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

impl AttemptLine<'_> {
    /// This attempt as serde would write it, written directly: each key one constant copy,
    /// numbers through itoa and serde_json's float formatter.
    fn write(&self, b: &mut Vec<u8>) {
        b.reserve(1024);
        b.push(b'{');
        if let Some(kind) = self.kind {
            b.extend_from_slice(b"\"type\":");
            name(b, kind);
            b.push(b',');
        }
        b.extend_from_slice(b"\"file\":");
        string(b, self.file);
        key!(b, "frame");
        put_u64(b, self.frame);
        key!(b, "time");
        let mut t = [0u8; 40];
        b.push(b'"');
        b.extend_from_slice(self.time.write(&mut t).as_bytes());
        b.push(b'"');
        key!(b, "src");
        endpoint(b, self.src.0);
        key!(b, "dst");
        endpoint(b, self.dst.0);
        key!(b, "isn");
        put_opt_u64(b, self.isn.map(u64::from));
        key!(b, "tsval");
        put_opt_u64(b, self.tsval.map(u64::from));
        key!(b, "syn_retransmits");
        put_u64(b, u64::from(self.syn_retransmits));
        key!(b, "retransmit_s");
        put_seconds(b, self.retransmit_s.0.iter().map(|us| f64::from(*us) / 1e6));
        key!(b, "wait_s");
        float(b, self.wait_s);
        key!(b, "challenge_acks");
        put_u64(b, u64::from(self.challenge_acks));
        key!(b, "outcome");
        name(b, self.outcome);
        key!(b, "cause");
        put_opt_name(b, self.cause.map(Cause::name));
        key!(b, "flagged");
        put_bool(b, self.flagged);
        key!(b, "icmp");
        match &self.icmp {
            Some(i) => {
                b.extend_from_slice(b"{\"frame\":");
                put_u64(b, i.frame);
                key!(b, "version");
                put_u64(b, u64::from(i.version));
                key!(b, "type");
                put_u64(b, u64::from(i.icmp_type));
                key!(b, "code");
                put_u64(b, u64::from(i.code));
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        key!(b, "answer_frame");
        put_opt_u64(b, self.answer_frame);
        if let Some(f) = self.answer_file {
            key!(b, "answer_file");
            string(b, f);
        }
        key!(b, "answered_syn");
        put_opt_u64(b, self.answered_syn.map(u64::from));
        key!(b, "established_by");
        put_opt_name(b, self.established_by);
        key!(b, "evidence");
        name(b, self.evidence);
        key!(b, "syn_gaps_s");
        match &self.syn_gaps_s {
            Some(g) => put_seconds(b, g.0.iter().map(|ns| s(*ns))),
            None => b.extend_from_slice(b"null"),
        }
        key!(b, "port_idle_s");
        put_opt_f64(b, self.port_idle_s);
        key!(b, "port_previous_syn_s");
        put_opt_f64(b, self.port_previous_syn_s);
        key!(b, "first_close");
        match &self.first_close {
            Some(c) => {
                b.extend_from_slice(b"{\"by\":");
                name(b, c.by);
                key!(b, "reset");
                put_bool(b, c.reset);
                key!(b, "after_s");
                float(b, c.after_s);
                key!(b, "server_bytes");
                put_u64(b, c.server_bytes);
                key!(b, "client_bytes");
                put_u64(b, c.client_bytes);
                key!(b, "refusal");
                put_opt_name(b, c.refusal.map(RefusalForm::name));
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        key!(b, "syn_data_len");
        put_u64(b, u64::from(self.syn_data_len));
        key!(b, "late_syns");
        put_u64(b, u64::from(self.late_syns));
        key!(b, "duplicate_frames");
        put_u64(b, u64::from(self.duplicate_frames));
        key!(b, "previous_attempt_frame");
        put_opt_u64(b, self.previous_attempt_frame);
        if let Some(f) = self.previous_attempt_file {
            key!(b, "previous_attempt_file");
            string(b, f);
        }
        key!(b, "previous_attempt_gap_s");
        put_opt_f64(b, self.previous_attempt_gap_s);
        key!(b, "reuse");
        match &self.reuse {
            Some(r) => {
                b.extend_from_slice(b"{\"previous_frame\":");
                put_u64(b, r.previous_frame);
                if let Some(f) = r.previous_file {
                    key!(b, "previous_file");
                    string(b, f);
                }
                key!(b, "previous_end_frame");
                put_u64(b, r.previous_end_frame);
                if let Some(f) = r.previous_end_file {
                    key!(b, "previous_end_file");
                    string(b, f);
                }
                key!(b, "gap_s");
                float(b, r.gap_s);
                key!(b, "in_window");
                put_bool(b, r.in_window);
                key!(b, "open");
                put_bool(b, r.open);
                key!(b, "time_wait_holder");
                name(b, r.time_wait_holder);
                key!(b, "time_wait_holder_inferred");
                put_bool(b, r.time_wait_holder_inferred);
                key!(b, "isn_advanced");
                put_opt_bool(b, r.isn_advanced);
                key!(b, "ts_advanced");
                put_opt_bool(b, r.ts_advanced);
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        key!(b, "inferred");
        put_opt_name(b, self.inferred);
        b.push(b'}');
    }
}

/// `"ip:port"` (IPv6 `"[ip]:port"`), formatted on the stack for IPv4.
pub fn endpoint(buf: &mut Vec<u8>, e: Endpoint) {
    match e.ip {
        IpAddr::V4(_) => {
            buf.push(b'"');
            endpoint_text(buf, e);
            buf.push(b'"');
        }
        IpAddr::V6(_) => string(buf, &e.to_string()),
    }
}

/// `ip:port` (IPv6 `[ip]:port`) unquoted, formatted on the stack for IPv4.
pub fn endpoint_text(buf: &mut Vec<u8>, e: Endpoint) {
    match e.ip {
        IpAddr::V4(ip) => {
            // `255.255.255.255:65535` is 21 bytes: built on the stack, one copy.
            let mut text = [0u8; 21];
            let mut n = ipv4_digits(&mut text, ip);
            text[n] = b':';
            n += 1;
            n += digits(&mut text[n..], u32::from(e.port));
            buf.extend_from_slice(&text[..n]);
        }
        IpAddr::V6(_) => buf.extend_from_slice(e.to_string().as_bytes()),
    }
}

/// An address as `Display` writes it, formatted on the stack for IPv4.
pub fn ip_text(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => {
            let mut text = [0u8; 15];
            let n = ipv4_digits(&mut text, ip);
            buf.extend_from_slice(&text[..n]);
        }
        IpAddr::V6(_) => buf.extend_from_slice(ip.to_string().as_bytes()),
    }
}

/// Each octet's decimal digits, their count first (and zeros after them).
const OCTET_TEXT: [[u8; 4]; 256] = {
    let mut table = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let (h, t, o) = (
            b'0' + (i / 100) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
        );
        table[i] = match i {
            0..=9 => [1, o, 0, 0],
            10..=99 => [2, t, o, 0],
            _ => [3, h, t, o],
        };
        i += 1;
    }
    table
};

/// `ip` in dotted decimal at the start of `out` (15 bytes at most, and `out` holds at least
/// 15); how many bytes. Each octet's text comes from a table, three bytes copied whatever
/// its length (the next octet or the caller writes over the rest): no divisions, no
/// per-digit bounds checks (issue 12: two addresses on every JSON, NDJSON and CSV line).
fn ipv4_digits(out: &mut [u8], ip: std::net::Ipv4Addr) -> usize {
    let mut n = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out[n] = b'.';
            n += 1;
        }
        let text = &OCTET_TEXT[usize::from(octet)];
        out[n..n + 3].copy_from_slice(&text[1..]);
        n += usize::from(text[0]);
    }
    n
}

/// A port in decimal, as `Display` writes it.
pub fn port_text(buf: &mut Vec<u8>, port: u16) {
    let mut text = [0u8; 5];
    let n = digits(&mut text, u32::from(port));
    buf.extend_from_slice(&text[..n]);
}

/// `v` (below 100,000) in decimal at the start of `out`; how many digits.
#[inline]
fn digits(out: &mut [u8], v: u32) -> usize {
    let n = match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    };
    let mut v = v;
    for i in (0..n).rev() {
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    n
}

// ---------------------------------------------------------------------------------------
// Everything after the attempts.

#[derive(Serialize)]
struct Outcomes {
    established: u64,
    refused: u64,
    icmp_unreachable: u64,
    challenge_ack: u64,
    unanswered: u64,
    unknown: u64,
}

fn outcomes(c: &OutcomeCounts) -> Outcomes {
    Outcomes {
        established: c.get(Outcome::Established),
        refused: c.get(Outcome::Refused),
        icmp_unreachable: c.get(Outcome::IcmpUnreachable),
        challenge_ack: c.get(Outcome::ChallengeAck),
        unanswered: c.get(Outcome::Unanswered),
        unknown: c.get(Outcome::Unknown),
    }
}

#[derive(Serialize)]
struct Range {
    min: f64,
    max: f64,
}

fn range(g: &GapRange) -> Option<Range> {
    g.both().map(|(a, b)| Range {
        min: s(a),
        max: s(b),
    })
}

/// Causes as an object with every cause's key, and the count nothing explains.
#[derive(Serialize)]
struct Causes {
    server_time_wait: u64,
    time_wait_before_capture: u64,
    #[serde(rename = "open_4tuple")]
    open_4tuple: u64,
    port_closed: u64,
    application_refused: u64,
    icmp_error: u64,
    no_answer: u64,
}

fn causes(c: &[u64; 7]) -> Causes {
    let n = |cause: Cause| c[cause as usize];
    Causes {
        server_time_wait: n(Cause::ServerTimeWait),
        time_wait_before_capture: n(Cause::TimeWaitBeforeCapture),
        open_4tuple: n(Cause::Open4Tuple),
        port_closed: n(Cause::PortClosed),
        application_refused: n(Cause::ApplicationRefused),
        icmp_error: n(Cause::IcmpError),
        no_answer: n(Cause::NoAnswer),
    }
}

#[derive(Serialize)]
struct Summary {
    frames: u64,
    tcp_segments: u64,
    syn_packets: u64,
    synack_packets: u64,
    icmp_errors: u64,
    syn_quoted_in_icmp: u64,
    syn_attempts: u64,
    syn_retransmits: u64,
    #[serde(flatten)]
    outcomes: Outcomes,
    established_after_challenge: u64,
    reused_in_window: u64,
    reused_in_server_time_wait: u64,
    reused_in_client_time_wait: u64,
    reused_after_window: u64,
    reused_open: u64,
    unanswered_reused_in_window: u64,
    failed_reused_in_window: u64,
    flagged: u64,
    /// Attempts with a cause (failed, challenged, delayed or refused by the application).
    caused: u64,
    unexplained: u64,
    frames_not_decoded: serde_json::Map<String, Value>,
    frames_not_tcp: u64,
    first_time: Option<Time>,
    last_time: Option<Time>,
    time_wait_s: f64,
    peak_tracked_4tuples: usize,
}

fn summary(r: &Report) -> Summary {
    let f = &r.findings;
    let t = &r.track;
    let in_window = f.cross.in_window();
    let digits = r.digits();
    Summary {
        frames: r.frames,
        tcp_segments: t.tcp_segments,
        syn_packets: t.syn_packets,
        synack_packets: t.synack_packets,
        icmp_errors: t.icmp_errors,
        syn_quoted_in_icmp: t.syn_quoted_in_icmp,
        syn_attempts: f.attempts(),
        syn_retransmits: f.syn_retransmits,
        outcomes: outcomes(&f.outcomes),
        established_after_challenge: f.challenged_then_established,
        reused_in_window: in_window.total(),
        reused_in_server_time_wait: f.cross.row(CrossRow::InServerTimeWait).total(),
        reused_in_client_time_wait: f.cross.row(CrossRow::InClientTimeWait).total(),
        reused_after_window: f.cross.row(CrossRow::AfterWindow).total(),
        reused_open: f.cross.row(CrossRow::Open).total(),
        unanswered_reused_in_window: in_window.get(Outcome::Unanswered),
        failed_reused_in_window: in_window.failed(),
        flagged: f.flagged_total,
        caused: f.causes.iter().sum(),
        unexplained: f.cause_count(Cause::NoAnswer),
        frames_not_decoded: r
            .skipped
            .iter()
            .filter(|(k, _)| k.is_failure())
            .map(|(k, n)| (k.name(), Value::from(*n)))
            .collect(),
        frames_not_tcp: r.not_tcp(),
        first_time: r.first_ts.map(|t| Time(t, digits)),
        last_time: r.last_ts.map(|t| Time(t, digits)),
        time_wait_s: s(f.window_ns),
        peak_tracked_4tuples: t.peak_flows,
    }
}

#[derive(Serialize)]
struct TimeWaitLine {
    at_least_s: Option<f64>,
    at_least_frame: Option<u64>,
    at_most_s: Option<f64>,
    consistent_with: Option<KnownTimeWait>,
    conflict: Option<String>,
    bounded: bool,
    implied_by_response_style: Option<KnownTimeWait>,
    beyond_window_s: Option<f64>,
    judgement: Option<String>,
}

#[derive(Serialize)]
struct VerdictLine {
    verdict: Verdict,
    count: u64,
    gap_s: Option<Range>,
    text: String,
}

#[derive(Serialize)]
struct Minutes {
    width_minutes: i64,
    /// [start (RFC 3339), attempts, failed] per non-empty bucket.
    buckets: Vec<(Time, u64, u64)>,
}

#[derive(Serialize)]
struct ServerLine {
    server: Addr,
    ip: String,
    port: u16,
    attempts: u64,
    #[serde(flatten)]
    outcomes: Outcomes,
    reused_in_window: u64,
    reused_in_server_time_wait: u64,
    reused_in_client_time_wait: u64,
    failed_in_server_time_wait: u64,
    failed_gap_s: Option<Range>,
    established_in_window: u64,
    established_gap_s: Option<Range>,
    established_after_challenge: u64,
    causes: Causes,
    time_wait: TimeWaitLine,
    response_style: Option<ResponseStyle>,
    reuse_verdicts: Vec<VerdictLine>,
    attempts_failed_per_minute: Minutes,
    summary: Option<String>,
}

fn server_line(x: &ServerFinding) -> ServerLine {
    let t = &x.tally;
    let j = &x.judgement;
    let b = &j.bracket;
    ServerLine {
        server: Addr(x.server),
        ip: x.server.ip.to_string(),
        port: x.server.port,
        attempts: t.outcomes.total(),
        outcomes: outcomes(&t.outcomes),
        reused_in_window: t.reused_in_server_time_wait + t.reused_harmless,
        reused_in_server_time_wait: t.reused_in_server_time_wait,
        reused_in_client_time_wait: t.reused_harmless,
        failed_in_server_time_wait: t.failed_in_time_wait,
        failed_gap_s: range(&t.failed_gaps),
        established_in_window: t.established_in_time_wait,
        established_gap_s: range(&t.established_gaps),
        established_after_challenge: t.challenged_then_established,
        causes: causes(&t.causes),
        time_wait: TimeWaitLine {
            at_least_s: b.at_least_ns.map(s),
            at_least_frame: b.at_least_frame.map(|f| f.number),
            at_most_s: b.at_most_ns.map(s),
            consistent_with: b.consistent_with,
            conflict: b.conflict.and_then(|_| words::bracket_text(b, j.style)),
            bounded: b.bounded,
            implied_by_response_style: b.implied,
            beyond_window_s: b.beyond_window_ns.map(s),
            judgement: words::bracket_text(b, j.style),
        },
        response_style: j.style,
        reuse_verdicts: j
            .verdicts
            .iter()
            .map(|v| VerdictLine {
                verdict: v.verdict,
                count: v.count,
                gap_s: range(&v.gaps),
                text: words::verdict_text(v, b),
            })
            .collect(),
        attempts_failed_per_minute: Minutes {
            width_minutes: t.minutes.width_minutes(),
            buckets: t
                .minutes
                .buckets()
                .iter()
                .map(|m| {
                    (
                        Time(Ts(m.minute * 60 * NANOS_PER_SEC), 0),
                        m.attempts,
                        m.failed,
                    )
                })
                .collect(),
        },
        summary: words::server_sentence(x),
    }
}

/// A duration histogram keyed by bucket (`lt_0.1s` ... `ge_240s`).
struct Buckets<'a>(&'a [u32]);

/// The keys of a duration histogram, one per bucket of DURATION_EDGES_S and the rest.
const BUCKET_KEYS: [&str; DURATION_EDGES_S.len() + 1] = [
    "lt_0.1s", "lt_0.5s", "lt_1s", "lt_2s", "lt_5s", "lt_10s", "lt_30s", "lt_60s", "lt_120s",
    "lt_240s", "ge_240s",
];

impl Serialize for Buckets<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = ser.serialize_map(Some(self.0.len()))?;
        for (key, n) in BUCKET_KEYS.iter().zip(self.0) {
            map.serialize_entry(key, n)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct DistributionLine<'a> {
    count: u64,
    min: Option<f64>,
    max: Option<f64>,
    histogram: Buckets<'a>,
}

fn distribution(d: &Distribution) -> DistributionLine<'_> {
    DistributionLine {
        count: d.count(),
        min: d.range.min().map(s),
        max: d.range.max().map(s),
        histogram: Buckets(&d.histogram.0),
    }
}

#[derive(Serialize)]
struct Deltas {
    zero: u32,
    up_1_8: u32,
    up_9_256: u32,
    down_1_256: u32,
    large: u32,
}

#[derive(Serialize)]
struct FixLine {
    source: String,
    server: Addr,
    failures: u64,
    port_idle_s: Option<f64>,
    isa_default: bool,
    rest_s: f64,
    rest_ms: i64,
    rest_basis: RestBasis,
    pool_ports: u64,
    pool_now: u64,
    rate_per_s: f64,
    pooled: bool,
    /// The top-level fix only: how many sources collided (each has its own `sources[].fix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<u64>,
    text: String,
}

fn fix_line(f: &Fix) -> FixLine {
    FixLine {
        source: f.source.to_string(),
        server: Addr(f.server),
        failures: f.failures,
        port_idle_s: f.port_idle_ns.map(s),
        isa_default: f.isa_default,
        rest_s: s(f.rest_ns),
        rest_ms: rest_ms(f),
        rest_basis: f.rest_basis,
        pool_ports: f.pool_ports,
        pool_now: f.pool_now,
        rate_per_s: f.rate_per_s,
        pooled: f.pooled,
        sources: None,
        text: words::fix_sentence(f),
    }
}

/// The top-level fix: the headline's second and third lines as its text (issue 11 item 1),
/// so that it says what the table and the HTML say, also when several sources are grouped.
fn top_fix_line(r: &Report, f: &Fix) -> FixLine {
    FixLine {
        sources: Some(
            r.findings
                .sources
                .iter()
                .filter(|s| s.fix.is_some())
                .count()
                .max(1) as u64,
        ),
        text: words::fix_lines(r).join(" "),
        ..fix_line(f)
    }
}

#[derive(Serialize)]
struct SourceLine<'a> {
    ip: String,
    attempts: u64,
    pattern: Option<Pattern>,
    distinct_ports: u64,
    port_range: [u16; 2],
    min_port_idle_s: Option<f64>,
    port_idle_s: DistributionLine<'a>,
    min_reuse_interval_s: Option<f64>,
    min_reuse_interval_same_destination_s: Option<f64>,
    reuse_intervals: DistributionLine<'a>,
    port_deltas: Deltas,
    rate_peak_per_s: u64,
    rate_peak_per_60s: u64,
    rate_sustained_per_s: f64,
    pool_needed: u64,
    failed_in_server_time_wait: u64,
    fix: Option<FixLine>,
    summary: Option<String>,
}

fn source_line(x: &SourceFinding, window_ns: i64) -> SourceLine<'_> {
    let t = &x.tally;
    let d = &t.deltas;
    SourceLine {
        ip: x.ip.to_string(),
        attempts: t.attempts,
        pattern: x.pattern,
        distinct_ports: t.distinct_ports,
        port_range: [t.min_port, t.max_port],
        min_port_idle_s: t.returns().port_idle.range.min().map(s),
        port_idle_s: distribution(&t.returns().port_idle),
        min_reuse_interval_s: t.returns().reuse_interval.range.min().map(s),
        min_reuse_interval_same_destination_s: t.returns().same_destination.min().map(s),
        reuse_intervals: distribution(&t.returns().reuse_interval),
        port_deltas: Deltas {
            zero: d.zero,
            up_1_8: d.small_up,
            up_9_256: d.medium_up,
            down_1_256: d.small_down,
            large: d.large,
        },
        rate_peak_per_s: t.per_second.peak(),
        rate_peak_per_60s: t.per_minute.peak(),
        rate_sustained_per_s: t.sustained_rate(),
        pool_needed: x.fix.map_or(t.pool_needed(window_ns), |f| f.pool_ports),
        failed_in_server_time_wait: t.time_wait_failures,
        fix: x.fix.as_ref().map(fix_line),
        summary: words::source_sentence(x, window_ns),
    }
}

/// The sources, serialised one by one (no list of lines held at once).
struct Sources<'a>(&'a Report);

impl Serialize for Sources<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let f = &self.0.findings;
        let mut seq = ser.serialize_seq(Some(f.sources.len()))?;
        for x in &f.sources {
            seq.serialize_element(&source_line(x, f.window_ns))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct FeltLine {
    ip: String,
    failed_or_challenged: u64,
    max_wait_s: f64,
    mean_wait_s: f64,
    retransmission_schedules: ScheduleCounts,
}

struct ScheduleCounts([u32; 5]);

impl Serialize for ScheduleCounts {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let seen: Vec<Schedule> = Schedule::ALL
            .into_iter()
            .filter(|x| self.0[*x as usize] > 0)
            .collect();
        let mut map = ser.serialize_map(Some(seen.len()))?;
        for x in seen {
            map.serialize_entry(&x, &self.0[x as usize])?;
        }
        map.end()
    }
}

fn felt_lines(r: &Report) -> impl Iterator<Item = FeltLine> + '_ {
    r.findings
        .sources
        .iter()
        .filter(|x| x.tally.felt.failed > 0)
        .map(|x| {
            let t = &x.tally;
            FeltLine {
                ip: x.ip.to_string(),
                failed_or_challenged: t.felt.failed,
                max_wait_s: s(t.felt.max_wait_ns),
                mean_wait_s: s(t.felt.mean_wait_ns()),
                retransmission_schedules: ScheduleCounts(t.schedules.0),
            }
        })
}

struct Felt<'a>(&'a Report);

impl Serialize for Felt<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(None)?;
        for line in felt_lines(self.0) {
            seq.serialize_element(&line)?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct RefusalCounts {
    short_reject_then_fin: u64,
    reset_before_data: u64,
    reset_after_data: u64,
    fin_without_data: u64,
}

#[derive(Serialize)]
struct DirectionLine {
    attempts: u64,
    #[serde(flatten)]
    outcomes: Outcomes,
    refused_by_application: u64,
    refusal_forms: RefusalCounts,
}

fn direction(d: &Direction) -> DirectionLine {
    let n = |f: RefusalForm| u64::from(d.refusals[f as usize]);
    DirectionLine {
        attempts: d.attempts(),
        outcomes: outcomes(&d.outcomes()),
        refused_by_application: d.refused_by_application(),
        refusal_forms: RefusalCounts {
            short_reject_then_fin: n(RefusalForm::ShortRejectThenFin),
            reset_before_data: n(RefusalForm::ResetBeforeData),
            reset_after_data: n(RefusalForm::ResetAfterData),
            fin_without_data: n(RefusalForm::FinWithoutData),
        },
    }
}

#[derive(Serialize)]
struct AsymmetryLine {
    initiator: String,
    refuser: String,
    port: u16,
    failing: DirectionLine,
    working: DirectionLine,
    summary: String,
}

#[derive(Serialize)]
struct RelayLine {
    client: String,
    relay: String,
    server: String,
    port: u16,
    transparent: bool,
    conversations: u64,
    summary: String,
}

#[derive(Serialize)]
struct Summarised {
    sources: u64,
    source_attempts: u64,
    servers: u64,
    server_attempts: u64,
    collision_pairs: u64,
    port_pairs: u64,
    relay_patterns: u64,
    tracker_flows: u64,
    tracker_pending: u64,
    tracker_ports: u64,
    tracker_evidence: u64,
    tracker_archive: u64,
}

#[derive(Serialize)]
struct OneSideLine {
    both_sides: u64,
    client_side_only: u64,
    server_side_only: u64,
    client_side_unknown: u64,
    client_side_servers: u64,
    server_side_servers: u64,
    /// Attempts per inference rule (issue 13), only the rules that fired.
    inferred: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct Quality {
    one_direction: bool,
    one_side: OneSideLine,
    server_packets: u64,
    ends_without_handshake: u64,
    acks_of_unseen_data: u64,
    interface_drops: u64,
    frames_cut_by_snaplen: u64,
    out_of_order_frames: u64,
    summarised: Summarised,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct FileLine<'a> {
    name: &'a str,
    format: &'a str,
    compression: Option<&'a str>,
    frames: u64,
    truncated_at_frame: Option<u64>,
    out_of_order_frames: u64,
    frames_without_timestamp: u64,
    interface_drops: u64,
}

/// Everything after the attempts, in document order.
#[derive(Serialize)]
pub struct Tail<'a> {
    summary: Summary,
    cross_table: CrossTable,
    causes: Causes,
    servers: Vec<ServerLine>,
    sources: Sources<'a>,
    clients_felt: Felt<'a>,
    asymmetries: Vec<AsymmetryLine>,
    relays: Vec<RelayLine>,
    capture_quality: Quality,
    files: Vec<FileLine<'a>>,
    headline: Vec<String>,
    fix: Option<FixLine>,
    wireshark_filter: &'a str,
    warnings: &'a [String],
}

struct CrossTable([OutcomeCounts; 6]);

impl Serialize for CrossTable {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = ser.serialize_map(Some(CrossRow::ALL.len()))?;
        for row in CrossRow::ALL {
            map.serialize_entry(row.key(), &outcomes(&self.0[row as usize]))?;
        }
        map.end()
    }
}

pub fn tail_doc(r: &Report) -> Tail<'_> {
    let f = &r.findings;
    let t = &r.track;
    let files = r
        .files
        .iter()
        .map(|x| {
            let i = &x.info;
            FileLine {
                name: &x.name,
                format: i.format,
                compression: i.compression,
                frames: i.frames,
                truncated_at_frame: i.truncated.map(|t| t.0),
                out_of_order_frames: i.out_of_order,
                frames_without_timestamp: i.without_timestamp,
                interface_drops: i.dropped,
            }
        })
        .collect();
    let m = &f.summarised;
    let d = &r.dropped;
    Tail {
        summary: summary(r),
        cross_table: CrossTable(f.cross.0),
        causes: causes(&f.causes),
        servers: f.servers.iter().map(server_line).collect(),
        sources: Sources(r),
        clients_felt: Felt(r),
        asymmetries: f
            .asymmetries
            .iter()
            .map(|a| AsymmetryLine {
                initiator: a.initiator.to_string(),
                refuser: a.refuser.to_string(),
                port: a.port,
                failing: direction(&a.failing),
                working: direction(&a.working),
                summary: words::asymmetry_sentence(a),
            })
            .collect(),
        relays: f
            .relays
            .iter()
            .map(|(x, n)| RelayLine {
                client: x.client.to_string(),
                relay: x.relay.to_string(),
                server: x.server.to_string(),
                port: x.port,
                transparent: x.transparent,
                conversations: *n,
                summary: words::relay_sentence(x, *n),
            })
            .collect(),
        capture_quality: Quality {
            one_direction: f.attempts() > 0 && t.server_packets == 0,
            one_side: one_side(t),
            server_packets: t.server_packets,
            ends_without_handshake: t.ends_without_handshake,
            acks_of_unseen_data: t.acks_of_unseen_data,
            interface_drops: r.files.iter().map(|f| f.info.dropped).sum(),
            frames_cut_by_snaplen: r.files.iter().map(|f| f.info.cut_frames).sum(),
            out_of_order_frames: r.files.iter().map(|f| f.info.out_of_order).sum(),
            summarised: Summarised {
                sources: m.sources,
                source_attempts: m.source_attempts,
                servers: m.servers,
                server_attempts: m.server_attempts,
                collision_pairs: m.collisions,
                port_pairs: m.port_pairs,
                relay_patterns: m.relays,
                tracker_flows: d.flows,
                tracker_pending: d.pending,
                tracker_ports: d.ports,
                tracker_evidence: d.evidence,
                tracker_archive: d.archive,
            },
            notes: words::quality_notes(r),
        },
        files,
        headline: r.headline(),
        fix: f.fix.as_ref().map(|x| top_fix_line(r, x)),
        wireshark_filter: &r.display_filter,
        warnings: &r.warnings,
    }
}

/// The document's members after the attempts, as values (for `--each`).
pub fn tail(r: &Report) -> Vec<(String, Value)> {
    match serde_json::to_value(tail_doc(r)) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Writes one member of the document (`,\n  "key": value`), the value pretty-printed at
/// the document's second level.
fn member<T: Serialize>(buf: &mut Vec<u8>, key: &str, value: &T) -> io::Result<()> {
    buf.extend_from_slice(b",\n  ");
    string(buf, key);
    buf.extend_from_slice(b": ");
    let start = buf.len();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *buf,
        serde_json::ser::PrettyFormatter::with_indent(b"  "),
    );
    value.serialize(&mut ser).map_err(io::Error::from)?;
    // One level deeper: every line break inside the value gains two spaces (JSON strings
    // hold no raw line breaks, so only the formatter's own are touched).
    let tail = buf.split_off(start);
    for b in tail {
        buf.push(b);
        if b == b'\n' {
            buf.extend_from_slice(b"  ");
        }
    }
    Ok(())
}

/// Writes a list as one compact object per line, like the attempts (long lists of hosts
/// stay readable and small).
fn lines<T: Serialize>(
    buf: &mut Vec<u8>,
    out: &mut dyn Write,
    key: &str,
    items: impl Iterator<Item = T>,
) -> io::Result<()> {
    buf.extend_from_slice(b",\n  ");
    string(buf, key);
    buf.extend_from_slice(b": [");
    let mut any = false;
    for item in items {
        buf.extend_from_slice(if any { b",\n    " } else { b"\n    " });
        any = true;
        serde_json::to_writer(&mut *buf, &item).map_err(io::Error::from)?;
        if buf.len() > 1 << 16 {
            out.write_all(buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(if any { b"\n  ]" } else { b"]" });
    Ok(())
}

/// Writes the tail as the rest of the document (after the attempts' `]`): small members
/// pretty-printed, the per-host lists one host per line.
pub fn write_tail(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let t = tail_doc(r);
    let f = &r.findings;
    let mut buf = Vec::with_capacity(1 << 17);
    // The first member follows the attempts' `]` directly: drop its leading comma.
    member(&mut buf, "summary", &t.summary)?;
    buf.remove(0);
    member(&mut buf, "cross_table", &t.cross_table)?;
    member(&mut buf, "causes", &t.causes)?;
    lines(&mut buf, out, "servers", t.servers.iter())?;
    lines(
        &mut buf,
        out,
        "sources",
        f.sources.iter().map(|x| source_line(x, f.window_ns)),
    )?;
    lines(&mut buf, out, "clients_felt", felt_lines(r))?;
    member(&mut buf, "asymmetries", &t.asymmetries)?;
    member(&mut buf, "relays", &t.relays)?;
    member(&mut buf, "capture_quality", &t.capture_quality)?;
    member(&mut buf, "files", &t.files)?;
    member(&mut buf, "headline", &t.headline)?;
    member(&mut buf, "fix", &t.fix)?;
    member(&mut buf, "wireshark_filter", &t.wireshark_filter)?;
    member(&mut buf, "warnings", &t.warnings)?;
    buf.extend_from_slice(b"\n}");
    out.write_all(&buf)
}

/// The NDJSON closing record: `{"type": "summary", "schema_version", ...}` on one line.
#[derive(Serialize)]
pub struct SummaryRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema_version: u32,
    #[serde(flatten)]
    pub tail: Tail<'a>,
}

fn one_side(t: &crate::track::TrackStats) -> OneSideLine {
    use crate::attempt::Evidence;
    let o = &t.one_side;
    OneSideLine {
        both_sides: o.attempts(Evidence::BothSides),
        client_side_only: o.attempts(Evidence::ClientSideOnly),
        server_side_only: o.attempts(Evidence::ServerSideOnly),
        client_side_unknown: o.client_side_unknown,
        client_side_servers: o.client_side_servers,
        server_side_servers: o.server_side_servers,
        inferred: o.fired().map(|(rule, n)| (rule.name(), n)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Cause;
    use crate::detect::gaps::tests::reusing;

    #[test]
    fn bucket_keys_name_the_edges() {
        for (i, edge) in DURATION_EDGES_S.iter().enumerate() {
            assert_eq!(BUCKET_KEYS[i], format!("lt_{edge}s"));
        }
        let last = DURATION_EDGES_S[DURATION_EDGES_S.len() - 1];
        assert_eq!(BUCKET_KEYS[DURATION_EDGES_S.len()], format!("ge_{last}s"));
    }

    #[test]
    fn times_written_from_the_last_second_are_what_display_writes() {
        // Same second again (cached), other digits, the next second, a second before the
        // epoch, the ends of the clock's range, and back.
        let base = Ts::from_parts(1_700_000_000, 3_659_000);
        let times = [
            (base, 6),
            (base.add_nanos(999_000_000), 6),
            (base.add_nanos(999_000_000), 9),
            (base.add_nanos(999_000_000), 0),
            (base.add_nanos(1_000_000_000), 3),
            (Ts(-1), 9),
            (Ts(-1), 2),
            (Ts(i64::MAX), 9),
            (Ts(i64::MIN), 9),
            (base, 6),
            (Ts(0), 0),
        ];
        for (ts, digits) in times {
            let mut buf = [0u8; 40];
            assert_eq!(
                Time(ts, digits).write(&mut buf),
                ts.rfc3339(digits).to_string(),
                "{ts:?} {digits}"
            );
        }
    }

    #[test]
    fn endpoints_written_by_hand_are_what_display_writes() {
        for (ip, port) in [
            ([0, 0, 0, 0], 0),
            ([255, 255, 255, 255], 65535),
            ([10, 0, 0, 1], 40000),
            ([1, 22, 133, 9], 9),
            ([192, 0, 2, 10], 80),
            ([100, 99, 10, 255], 1000),
        ] {
            let e = Endpoint {
                ip: IpAddr::from(ip),
                port,
            };
            let mut hand = Vec::new();
            endpoint_text(&mut hand, e);
            assert_eq!(String::from_utf8(hand).unwrap(), e.to_string());
        }
    }

    #[test]
    fn every_octet_in_every_place_is_written_as_display_writes_it() {
        for octet in 0..=255u8 {
            for place in 0..4 {
                let mut octets = [7, 70, 255, 1];
                octets[place] = octet;
                let ip = IpAddr::from(octets);
                let mut hand = Vec::new();
                ip_text(&mut hand, ip);
                assert_eq!(String::from_utf8(hand).unwrap(), ip.to_string());
            }
        }
    }

    #[test]
    fn floats_written_by_hand_are_what_serde_writes() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.13659,
            1e-7,
            123_456_789.123,
            1e21,
            f64::NAN,
        ] {
            let mut hand = Vec::new();
            float(&mut hand, v);
            let serde = serde_json::to_string(&v).unwrap();
            assert_eq!(String::from_utf8(hand).unwrap(), serde, "{v}");
        }
    }

    #[test]
    fn attempts_written_by_hand_are_what_serde_writes() {
        let files = FileNames {
            names: vec!["we\"ird\\name\n\u{1}é.pcap".into(), "other.pcap".into()],
            digits: vec![9, 6],
        };
        let mut a = reusing(235.0, &[3.0, 9.0], Outcome::Established);
        a.answered_syn = Some(2);
        a.tsval = Some(7);
        a.first_close = Some(crate::attempt::FirstClose {
            by_server: true,
            reset: false,
            after_ns: 6_000_000,
            server_bytes: 11,
            client_bytes: 300,
        });
        a.syn_ack = Some(crate::attempt::Answer {
            frame: FrameRef { file: 1, number: 9 },
            ts: a.ts,
        });
        let mut b = reusing(5.0, &[], Outcome::Unanswered);
        b.reuse = None;
        b.client.ip = "2001:db8::1".parse().unwrap();
        for (x, judged) in [
            (
                a,
                Judged {
                    cause: Some(Cause::ServerTimeWait),
                    flagged: true,
                },
            ),
            (
                b,
                Judged {
                    cause: None,
                    flagged: false,
                },
            ),
        ] {
            for kind in [None, Some("attempt")] {
                let (mut hand, mut serde) = (Vec::new(), Vec::new());
                attempt_line(&mut hand, &x, &judged, &files, kind).unwrap();
                attempt_line_serde(&mut serde, &x, &judged, &files, kind).unwrap();
                assert_eq!(
                    String::from_utf8(hand).unwrap(),
                    String::from_utf8(serde).unwrap()
                );
            }
        }
    }
}
