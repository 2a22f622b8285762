//! Wording and structure of the diagnosis sections (issue 5), shared by the table and the
//! JSON writers: source-port patterns, inferred TIME_WAIT, acceptance rules, what users felt,
//! direction asymmetry, relayed conversations and capture quality.

use serde_json::{Value, json};

use super::{Report, count, human_secs, thousands};
use crate::attempt::Outcome;
use crate::diagnose::directions::Asymmetry;
use crate::diagnose::ports::{INTERVAL_BUCKETS_S, SourcePorts};
use crate::diagnose::servers::known_default;
use crate::time::secs;

/// A source worth a sentence: enough attempts to see a pattern.
pub fn source_sentence(r: &Report, s: &SourcePorts) -> Option<String> {
    let pattern = s.pattern(r.window_ns)?;
    let rate = s.sustained_rate();
    let pool = s.pool_needed(r.window_ns);
    let window = human_secs(r.window_ns);
    let mut line = format!(
        "{}: {} ports ({}–{}) over {}; {} pattern",
        s.ip,
        thousands(u64::from(s.distinct_ports)),
        s.min_port,
        s.max_port,
        count(s.attempts, "attempt"),
        pattern.name()
    );
    if let Some(min) = s.min_reuse_interval_ns {
        line.push_str(&format!("; ports return after {}", human_secs(min)));
    }
    // The longest TIME_WAIT seen at the servers this source talked to.
    let held = r
        .summary
        .pairs
        .keys()
        .filter(|(client, _)| *client == s.ip)
        .filter_map(|(_, server)| r.summary.diagnosis.servers.get(server)?.longest_held_ns)
        .max();
    if let Some(held) = held.filter(|_| s.min_reuse_interval_ns.is_some_and(|m| m < r.window_ns)) {
        line.push_str(&format!(
            "; the server holds TIME_WAIT ≥ {}",
            human_secs(held)
        ));
    }
    if s.min_reuse_interval_ns.is_some_and(|m| m < r.window_ns) {
        line.push_str(&format!(
            "; a reuse interval ≥ {window} or a pool of ≥ {} ports at {:.2} conn/s avoids the collisions",
            thousands(pool),
            rate
        ));
    }
    line.push('.');
    Some(line)
}

pub fn sources_json(r: &Report) -> Value {
    let sources: Vec<Value> = r
        .summary
        .diagnosis
        .sources
        .values()
        .map(|s| {
            let intervals: serde_json::Map<String, Value> = INTERVAL_BUCKETS_S
                .iter()
                .map(|b| format!("lt_{b}s"))
                .chain(std::iter::once(format!("ge_{}s", INTERVAL_BUCKETS_S[INTERVAL_BUCKETS_S.len() - 1])))
                .zip(s.reuse_intervals.iter())
                .map(|(k, v)| (k, json!(v)))
                .collect();
            let d = s.deltas;
            json!({
                "ip": s.ip.to_string(),
                "attempts": s.attempts,
                "pattern": s.pattern(r.window_ns).map(|p| p.name()),
                "distinct_ports": s.distinct_ports,
                "port_range": [s.min_port, s.max_port],
                "min_reuse_interval_s": s.min_reuse_interval_ns.map(secs),
                "min_reuse_interval_same_destination_s": s.min_same_destination_ns.map(secs),
                "reuse_intervals": intervals,
                "port_deltas": {"zero": d.zero, "up_1_8": d.small_up, "up_9_256": d.medium_up, "down_1_256": d.small_down, "large": d.large},
                "rate_peak_per_s": s.peak_per_1s,
                "rate_peak_per_60s": s.peak_per_60s,
                "rate_sustained_per_s": s.sustained_rate(),
                "pool_needed": s.pool_needed(r.window_ns),
                "summary": source_sentence(r, s),
            })
        })
        .collect();
    Value::Array(sources)
}

/// "between 118 s and 245 s: consistent with Windows' 240 s default"
pub fn bracket_text(lower: Option<i64>, upper: Option<i64>) -> Option<String> {
    let text = match (lower, upper) {
        (Some(l), Some(u)) => format!("between {} and {}", human_secs(l), human_secs(u)),
        (Some(l), None) => format!("at least {}", human_secs(l)),
        (None, Some(u)) => format!("at most {}", human_secs(u)),
        (None, None) => return None,
    };
    Some(match known_default(lower, upper) {
        Some(name) => format!("{text}: consistent with {name}"),
        None => text,
    })
}

/// Failure share per minute, as `12%` figures, for servers where something failed.
pub fn per_minute_text(per_minute: &[(u64, u64)]) -> String {
    per_minute
        .iter()
        .take(30)
        .map(|(n, f)| {
            if *n == 0 {
                "-".to_string()
            } else {
                format!("{}%", f * 100 / n)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn asymmetries(r: &Report) -> Vec<Asymmetry> {
    r.summary
        .diagnosis
        .pairs
        .iter()
        .filter_map(|((low, high), pair)| pair.asymmetry(*low, *high))
        .collect()
}

pub fn asymmetry_sentence(a: &Asymmetry) -> String {
    let f = &a.failing;
    let how = {
        let mut parts = Vec::new();
        for o in Outcome::ALL.iter().filter(|o| o.is_failure()) {
            let n = f.outcomes.get(*o);
            if n > 0 {
                parts.push(format!("{} {}", thousands(n), o.name().replace('_', " ")));
            }
        }
        if f.refused_by_application > 0 {
            parts.push(format!(
                "{} accepted by TCP, then closed by {} within a second with almost no data",
                thousands(f.refused_by_application),
                a.refuser
            ));
        }
        parts.join(", ")
    };
    format!(
        "{} → {}: {} of {} fail ({how}), while {} → {} works ({} of {} succeed): {} refuses connections from {}.",
        a.initiator,
        a.refuser,
        thousands(f.failed()),
        count(f.attempts(), "attempt"),
        a.refuser,
        a.initiator,
        thousands(a.working.succeeded()),
        thousands(a.working.attempts()),
        a.refuser,
        a.initiator
    )
}

pub fn relay_sentences(r: &Report) -> Vec<String> {
    r.summary
        .diagnosis
        .relays
        .iter()
        .map(|(relay, n)| {
            if relay.transparent {
                format!(
                    "{} from {} to {}:{} went on as {} → {}:{} with the client's own address: {} relays transparently (client-side transparency), so {} sees {}, not the relay.",
                    count(*n, "conversation"), relay.client, relay.relay, relay.port, relay.client, relay.server, relay.port, relay.relay, relay.server, relay.client
                )
            } else {
                format!(
                    "{}: {} → {}:{} relayed as {} → {}:{} (the relay's own address on the second leg).",
                    count(*n, "conversation"), relay.client, relay.relay, relay.port, relay.relay, relay.server, relay.port
                )
            }
        })
        .collect()
}

/// Limits of what the capture can show, as sentences (empty when there are none).
pub fn quality_notes(r: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    let s = &r.summary;
    let t = &r.track;
    let nothing_inferred = s.outcomes.get(Outcome::Unknown) == s.attempts();
    if s.attempts() > 0 && t.server_packets == 0 && nothing_inferred {
        notes.push(format!(
            "No packet from any server: a one-direction capture cannot tell unanswered from unseen, so its {} are reported unknown, not unanswered.",
            count(s.attempts(), "attempt")
        ));
    } else {
        notes.extend(one_side_note(t));
        for (server, st) in &s.servers {
            let answered = st.outcomes.total()
                - st.outcomes.get(Outcome::Unanswered)
                - st.outcomes.get(Outcome::Unknown);
            if answered == 0 && st.outcomes.total() >= 3 {
                notes.push(format!(
                    "{server} answered none of its {}: it was down, filtered, or outside the capture's view.",
                    count(st.outcomes.total(), "attempt")
                ));
            }
        }
    }
    if t.ends_without_handshake > 0 {
        notes.push(format!(
            "{} belong to connections whose SYN is not in the capture (it began mid-connection): their TIME_WAIT holder is unknown and reuses of them are not seen.",
            count(t.ends_without_handshake, "FIN or RST segment")
        ));
    }
    let drops: u64 = r.files.iter().map(|f| f.info.dropped).sum();
    if drops > 0 {
        notes.push(format!(
            "The capturing interface dropped {} (pcapng statistics).",
            count(drops, "packet")
        ));
    }
    if t.acks_of_unseen_data > 0 {
        notes.push(format!(
            "In {} an ACK acknowledges data the capture never showed: the capture missed packets.",
            count(t.acks_of_unseen_data, "connection")
        ));
    }
    let cut: u64 = r.files.iter().map(|f| f.info.cut_frames).sum();
    if cut > 0 {
        let snap = r
            .files
            .iter()
            .map(|f| f.info.snaplen)
            .filter(|s| *s > 0)
            .min();
        let snap = snap
            .map(|s| format!(" (snap length {s})"))
            .unwrap_or_default();
        notes.push(format!(
            "{} were cut short{snap}: TCP headers were still read; payload lengths come from the IP headers.",
            count(cut, "frame")
        ));
    }
    let no_ts: u64 = r.files.iter().map(|f| f.info.without_timestamp).sum();
    if no_ts > 0 {
        notes.push(format!(
            "{} have no timestamp (pcapng Simple Packet Blocks).",
            count(no_ts, "frame")
        ));
    }
    notes
}

/// What was inferred from one side of the conversation (issue 13), rule by rule with how
/// far it can be trusted. (A minimal sentence: the report's wording is being rewritten.)
fn one_side_note(t: &crate::track::TrackStats) -> Option<String> {
    use crate::attempt::{Evidence, Inference, Reliability};
    let o = &t.one_side;
    let (client, server) = (
        o.attempts(Evidence::ClientSideOnly),
        o.attempts(Evidence::ServerSideOnly),
    );
    if client + server == 0 {
        return None;
    }
    let rules: Vec<String> = Inference::ALL
        .iter()
        .filter(|rule| o.rule(**rule) > 0)
        .map(|rule| {
            let trust = match rule.reliability() {
                Reliability::Certain => "certain",
                Reliability::High => "reliable",
                Reliability::Medium => "a guess",
            };
            format!("{} {} ({trust})", thousands(o.rule(*rule)), rule.name())
        })
        .collect();
    let mut line = format!(
        "Seen from one side only: {} from the clients' packets alone, {} from the servers' alone; inferred: {}.",
        count(client, "attempt"),
        thousands(server),
        rules.join(", ")
    );
    if server > 0 {
        line.push_str(" From a server's side, SYNs it did not answer are not seen: none is counted as unanswered.");
    }
    Some(line)
}

pub fn quality_json(r: &Report) -> Value {
    let t = &r.track;
    let o = &t.one_side;
    let rules: serde_json::Map<String, Value> = crate::attempt::Inference::ALL
        .iter()
        .filter(|rule| o.rule(**rule) > 0)
        .map(|rule| (rule.name().to_string(), json!(o.rule(*rule))))
        .collect();
    json!({
        "one_direction": r.summary.attempts() > 0 && t.server_packets == 0,
        "one_side": {
            "both_sides": o.attempts(crate::attempt::Evidence::BothSides),
            "client_side_only": o.attempts(crate::attempt::Evidence::ClientSideOnly),
            "server_side_only": o.attempts(crate::attempt::Evidence::ServerSideOnly),
            "client_side_unknown": o.client_side_unknown,
            "client_side_servers": o.client_side_servers,
            "server_side_servers": o.server_side_servers,
            "inferred": rules,
        },
        "server_packets": t.server_packets,
        "ends_without_handshake": t.ends_without_handshake,
        "acks_of_unseen_data": t.acks_of_unseen_data,
        "interface_drops": r.files.iter().map(|f| f.info.dropped).sum::<u64>(),
        "frames_cut_by_snaplen": r.files.iter().map(|f| f.info.cut_frames).sum::<u64>(),
        "out_of_order_frames": r.files.iter().map(|f| f.info.out_of_order).sum::<u64>(),
        "notes": quality_notes(r),
    })
}

pub fn felt_json(r: &Report) -> Value {
    let d = &r.summary.diagnosis;
    let clients: Vec<Value> = d
        .felt
        .iter()
        .map(|(ip, f)| {
            let schedules: serde_json::Map<String, Value> = d
                .schedules
                .get(ip)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.name().to_string(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "ip": ip.to_string(),
                "failed_or_challenged": f.failed,
                "max_wait_s": secs(f.max_wait_ns),
                "mean_wait_s": secs(f.total_wait_ns / f.failed.max(1) as i64),
                "retransmission_schedules": schedules,
            })
        })
        .collect();
    Value::Array(clients)
}

pub fn asymmetries_json(r: &Report) -> Value {
    let list: Vec<Value> = asymmetries(r)
        .iter()
        .map(|a| {
            let dir = |d: &crate::diagnose::directions::Direction| {
                let mut o = serde_json::Map::new();
                o.insert("attempts".into(), json!(d.attempts()));
                for outcome in Outcome::ALL {
                    o.insert(outcome.name().into(), json!(d.outcomes.get(outcome)));
                }
                o.insert(
                    "refused_by_application".into(),
                    json!(d.refused_by_application),
                );
                Value::Object(o)
            };
            json!({
                "initiator": a.initiator.to_string(),
                "refuser": a.refuser.to_string(),
                "failing": dir(&a.failing),
                "working": dir(&a.working),
                "summary": asymmetry_sentence(a),
            })
        })
        .collect();
    Value::Array(list)
}

pub fn relays_json(r: &Report) -> Value {
    let list: Vec<Value> = r
        .summary
        .diagnosis
        .relays
        .iter()
        .map(|(x, n)| {
            json!({"client": x.client.to_string(), "relay": x.relay.to_string(), "server": x.server.to_string(), "port": x.port, "transparent": x.transparent, "conversations": n})
        })
        .collect();
    Value::Array(list)
}

/// One line of a diagnosis section, with the lines that detail it (a server's verdicts).
pub struct Line {
    pub text: String,
    pub details: Vec<String>,
}

impl Line {
    fn plain(text: String) -> Line {
        Line {
            text,
            details: Vec::new(),
        }
    }
}

/// The diagnosis sections that have something to say, titled, in report order. The table and
/// the HTML report both render these, so the wording lives here once.
pub fn sections(r: &Report) -> Vec<(&'static str, Vec<Line>)> {
    let d = &r.summary.diagnosis;
    let sources = d
        .sources
        .values()
        .filter_map(|s| source_sentence(r, s))
        .map(Line::plain)
        .collect();
    let servers = d
        .servers
        .iter()
        .filter_map(|(server, b)| {
            let (lower, upper) = b.time_wait_bracket();
            let style = b
                .response_style()
                .map(|s| format!("answers SYNs in its TIME_WAIT with {s}"));
            let bracket = bracket_text(lower, upper).map(|b| format!("TIME_WAIT {b}"));
            let parts: Vec<String> = style.into_iter().chain(bracket).collect();
            (!parts.is_empty()).then(|| Line {
                text: format!("{server}: {}", parts.join("; ")),
                details: b
                    .verdicts
                    .iter()
                    .map(|(v, n)| format!("{} {v}", thousands(*n)))
                    .collect(),
            })
        })
        .collect();
    let mut felt: Vec<Line> = d
        .felt
        .iter()
        .map(|(ip, f)| {
            let schedules: Vec<String> = d
                .schedules
                .get(ip)
                .map(|m| {
                    m.iter()
                        .map(|(k, n)| format!("{} {}", thousands(*n), k.name()))
                        .collect()
                })
                .unwrap_or_default();
            let how = if schedules.is_empty() {
                String::new()
            } else {
                format!("; retransmissions: {}", schedules.join(", "))
            };
            Line::plain(format!(
                "{ip}: {} failed or challenged, waiting up to {} (mean {}){how}.",
                count(f.failed, "attempt"),
                human_secs(f.max_wait_ns),
                human_secs(f.total_wait_ns / f.failed.max(1) as i64),
            ))
        })
        .collect();
    if !felt.is_empty() {
        for (server, b) in &d.servers {
            if b.per_minute.iter().any(|(_, f)| *f > 0) && b.per_minute.len() > 1 {
                felt.push(Line::plain(format!(
                    "{server}, share of attempts failed per minute: {}",
                    per_minute_text(&b.per_minute)
                )));
            }
        }
    }
    let asymmetries = asymmetries(r)
        .iter()
        .map(|a| Line::plain(asymmetry_sentence(a)))
        .collect();
    let relays = relay_sentences(r).into_iter().map(Line::plain).collect();
    let all: [(&'static str, Vec<Line>); 5] = [
        ("Source ports", sources),
        ("Servers and their TIME_WAIT", servers),
        ("What the clients felt", felt),
        ("Direction asymmetry", asymmetries),
        ("Relayed conversations (both legs in the capture)", relays),
    ];
    all.into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// The capture-quality lines: limits of the capture, frames not decoded, reading warnings.
pub fn quality_lines(r: &Report) -> Vec<String> {
    let mut lines = quality_notes(r);
    lines.extend(
        r.skipped
            .iter()
            .filter(|(k, _)| k.is_failure())
            .map(|(k, n)| format!("{} {}", count(*n, "frame"), k.describe())),
    );
    lines.extend(r.warnings.iter().cloned());
    lines
}
