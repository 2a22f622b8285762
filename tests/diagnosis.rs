//! Issue 10's acceptance on the bundled captures: the diagnosis of the field report's
//! fixtures, the real Linux captures, the sister case and a one-direction capture; a window
//! shorter than what the server holds; a capture that starts mid-traffic; and findings of
//! shards split by client address that merge into the findings of the whole.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;

use portreuse::app::{EventRef, Judge, Keep, Options, Pipeline};
use portreuse::budget::Budgets;
use portreuse::decode::Decoded;
use portreuse::detect::Findings;
use portreuse::merge::{Item, Merger};
use portreuse::synth::{Case, PcapWriter, Scenario, generate};
use portreuse::tcp::FlowKey;
use portreuse::track::dedup::Fingerprints;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");

fn doc(args: &[&str], file: &str) -> Value {
    let path = format!("{DIR}{file}");
    let mut all = args.to_vec();
    all.push(&path);
    common::json(&all)
}

fn server<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == name)
        .unwrap()
}

fn verdict(server: &Value, name: &str) -> u64 {
    server["reuse_verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["verdict"] == name)
        .map_or(0, |v| v["count"].as_u64().unwrap())
}

#[test]
fn broken_case_is_pooled_with_the_generators_idle_time_and_windows_time_wait() {
    let mut w = PcapWriter::new(Vec::new(), 65535).unwrap();
    let truth = generate(&Scenario::fixture(Case::Broken), &mut w).unwrap();
    let d = doc(&[], "isa2000-broken.pcap");
    let source = &d["sources"][0];
    assert_eq!(source["ip"], "192.168.50.1");
    assert_eq!(source["pattern"], "pooled");
    // SYN to SYN stays as v1 measured it; the idle time is what MinTickBeforePortReuse sets.
    let min = source["min_reuse_interval_s"].as_f64().unwrap();
    assert!(
        (min - truth.min_reuse_interval_ns as f64 / 1e9).abs() < 1e-6,
        "{min} vs {truth:?}"
    );
    let idle = source["min_port_idle_s"].as_f64().unwrap();
    assert!(
        (idle - 1.2).abs() <= 0.05 * 1.2,
        "idle {idle} vs MinTickBeforePortReuse 1.2 s"
    );
    let pop3 = server(&d, "192.168.50.10:110");
    let tw = &pop3["time_wait"];
    let (lower, upper) = (
        tw["at_least_s"].as_f64().unwrap(),
        tw["at_most_s"].as_f64().unwrap(),
    );
    assert!(lower <= upper, "bracket {lower}..{upper}");
    assert_eq!(tw["consistent_with"], "windows_240s");
    assert_eq!(pop3["response_style"], "silent_drop");
    assert_eq!(verdict(pop3, "accepted_isn_advanced"), 0);
    assert_eq!(
        d["clients_felt"][0]["retransmission_schedules"]["windows"],
        118
    );
    // 117 silent attempts; 4 end too close to the capture's end to be decided (issue 9).
    assert_eq!(d["causes"]["server_time_wait"], 113);
    assert_eq!(d["causes"]["port_closed"], 8);
    assert_eq!(d["causes"]["no_answer"], 0);
    assert_eq!(d["fix"]["rest_ms"], 240_000);
    assert_eq!(d["fix"]["isa_default"], true);
    let head = d["headline"].as_array().unwrap();
    assert!(
        head.iter()
            .any(|l| l.as_str().unwrap().contains("none is unexplained"))
    );
    assert!(
        d["warnings"].as_array().unwrap().is_empty(),
        "{}",
        d["warnings"]
    );
}

#[test]
fn client_held_reuses_are_counted_apart_from_collisions() {
    let d = doc(&[], "isa2000-broken.pcap");
    let cross = &d["cross_table"];
    assert_eq!(cross["reused_in_server_time_wait"]["established"], 0);
    assert_eq!(cross["reused_in_client_time_wait"]["established"], 165);
    let web = server(&d, "192.168.50.21:80");
    assert_eq!(web["reused_in_server_time_wait"], 0);
    assert_eq!(web["reused_in_client_time_wait"], 90);
}

#[test]
fn a_window_shorter_than_the_servers_time_wait_is_warned_with_the_difference() {
    let d = doc(&["--time-wait", "60s"], "isa2000-broken.pcap");
    let warnings = d["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(
                "--time-wait 60 s is shorter than the TIME_WAIT 192.168.50.10:110 holds"
            )),
        "{warnings:?}"
    );
    let pop3 = server(&d, "192.168.50.10:110");
    assert!(pop3["time_wait"]["beyond_window_s"].as_f64().unwrap() > 60.0);
    // Failures beyond the short window are still the server's TIME_WAIT, and the fix is
    // not the 60 s the user assumed.
    assert_eq!(d["causes"]["server_time_wait"], 113);
    assert!(d["fix"]["rest_s"].as_f64().unwrap() > 60.0, "{}", d["fix"]);
}

#[test]
fn fixed_case_is_sequential() {
    let d = doc(&[], "isa2000-fixed.pcap");
    assert_eq!(d["sources"][0]["pattern"], "sequential");
    assert_eq!(d["sources"][0]["min_reuse_interval_s"], Value::Null);
    assert_eq!(d["fix"], Value::Null);
}

#[test]
fn real_linux_reuses_are_explained_by_the_acceptance_rules() {
    let ts_on = doc(&["--time-wait", "60s"], "real/linux-tw-ts-on.pcap");
    let s = server(&ts_on, "10.99.0.2:8110");
    assert_eq!(verdict(s, "accepted_timestamp_advanced"), 3);
    assert_eq!(s["response_style"], "accept");
    for a in &ts_on["attempts"].as_array().unwrap()[1..] {
        assert_eq!(a["reuse"]["ts_advanced"], true);
        assert_eq!(a["cause"], Value::Null);
    }

    let challenged = doc(&["--time-wait", "60s"], "real/linux-tw-ts-off-bigxfer.pcap");
    let s = server(&challenged, "10.99.0.2:8110");
    assert_eq!(s["response_style"], "challenge_ack");
    assert_eq!(verdict(s, "challenged_then_let_in"), 1);
    // A 0.5 s capture cannot bound a 60 s TIME_WAIT: it says so and what Linux implies.
    assert_eq!(s["time_wait"]["bounded"], false);
    assert_eq!(s["time_wait"]["implied_by_response_style"], "linux_60s");
    let a = &challenged["attempts"][1];
    assert_eq!(a["reuse"]["isn_advanced"], false);
    assert_eq!(a["cause"], "server_time_wait");
    assert_eq!(a["answered_syn"], 1);
    let wait = a["wait_s"].as_f64().unwrap();
    assert!(
        wait > 0.0 && wait < 0.1,
        "the client's RST cleared TIME_WAIT within milliseconds: {wait}"
    );

    let never = doc(&["--time-wait", "60s"], "real/linux-tw-never-let-in.pcap");
    let a = &never["attempts"][1];
    // The capture ends right after the 6th challenge, before the client's next SYN was due,
    // but that was the 7th SYN, its stack's last: no later answer can come.
    assert_eq!(a["outcome"], "challenge_ack");
    assert_eq!(a["challenge_acks"], 6);
    assert!(
        a["wait_s"].as_f64().unwrap() > 5.0,
        "seconds of retries that never got in"
    );
    let felt = &never["clients_felt"][0]["retransmission_schedules"];
    assert_eq!(felt["linux_fast_retry"], 1);

    let refused = doc(&["--time-wait", "60s"], "real/linux-refused.pcap");
    assert_eq!(refused["attempts"][0]["cause"], "port_closed");
}

#[test]
fn sister_case_is_a_direction_asymmetry_naming_the_refusing_side_and_port() {
    let d = doc(&[], "x400-sister-external.pcap");
    let asym = d["asymmetries"].as_array().unwrap();
    assert_eq!(asym.len(), 1);
    assert_eq!(asym[0]["initiator"], "172.16.5.20");
    assert_eq!(asym[0]["refuser"], "172.16.5.1");
    assert_eq!(asym[0]["port"], 102);
    assert_eq!(asym[0]["failing"]["refused_by_application"], 12);
    assert_eq!(
        asym[0]["failing"]["refusal_forms"]["short_reject_then_fin"],
        12
    );
    assert_eq!(asym[0]["working"]["established"], 12);
    assert!(
        d["headline"][0]
            .as_str()
            .unwrap()
            .contains("172.16.5.1 refuses connections from 172.16.5.20 on port 102")
    );

    let both = doc(&[], "x400-sister-both-legs.pcap");
    let relays = both["relays"].as_array().unwrap();
    assert_eq!(relays.len(), 1);
    assert_eq!(
        (relays[0]["client"].as_str(), relays[0]["relay"].as_str()),
        (Some("172.16.5.20"), Some("172.16.5.1"))
    );
    assert_eq!(
        (
            relays[0]["server"].as_str(),
            relays[0]["transparent"].as_bool()
        ),
        (Some("10.1.1.10"), Some(true))
    );
    assert_eq!(relays[0]["conversations"], 12);
}

#[test]
fn a_one_direction_capture_is_reported_as_such_and_read_from_the_clients_side() {
    let d = doc(&[], "isa2000-broken-one-direction.pcap");
    assert_eq!(d["capture_quality"]["one_direction"], true);
    // Issue 13: the client's handshake ACK then data proves 219 handshakes, its Windows
    // retransmissions then silence 113 unanswered SYNs, a SYN never sent again 8 refusals;
    // as in the two-direction capture.
    let full = doc(&[], "isa2000-broken.pcap");
    for key in ["established", "unanswered", "refused", "unknown"] {
        assert_eq!(d["summary"][key], full["summary"][key], "{key}");
    }
    assert_eq!(d["capture_quality"]["one_side"]["client_side_only"], 345);
    assert!(
        d["capture_quality"]["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("Seen from one side only")
    );
}

/// The broken case's pcap without its records before `skip_s` seconds (a capture started
/// in the middle of the firewall's traffic). Little-endian microsecond pcap.
fn cut_pcap(bytes: &[u8], skip_s: u32) -> Vec<u8> {
    let mut out = bytes[..24].to_vec();
    let (mut at, mut first) = (24, None);
    while at + 16 <= bytes.len() {
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let (secs, len) = (u32_at(at), u32_at(at + 8) as usize);
        let start = *first.get_or_insert(secs);
        if secs >= start + skip_s {
            out.extend_from_slice(&bytes[at..at + 16 + len]);
        }
        at += 16 + len;
    }
    out
}

#[test]
fn a_capture_that_starts_mid_traffic_attributes_its_early_failures_to_time_wait_before_capture() {
    let whole = std::fs::read(format!("{DIR}isa2000-broken.pcap")).unwrap();
    let path = common::tmp("mid-traffic.pcap");
    std::fs::write(&path, cut_pcap(&whole, 60)).unwrap();
    let d = common::json(&[path.to_str().unwrap()]);
    let attempts = d["attempts"].as_array().unwrap();
    let early: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["outcome"] == "unanswered" && a["reuse"].is_null())
        .collect();
    assert!(!early.is_empty());
    for a in &early {
        assert_eq!(a["cause"], "time_wait_before_capture", "{a}");
    }
    assert_eq!(d["causes"]["no_answer"], 0, "{}", d["causes"]);
}

/// The options of a default run.
fn options(window_s: i64) -> Options {
    Options {
        window_ns: window_s * 1_000_000_000,
        filter: None,
        budgets: Budgets::default(),
        keep: Keep {
            flagged_rows: 50,
            chart: false,
            write_ranges: false,
        },
        warn: false,
        progress: Default::default(),
    }
}

/// Every decoded frame of the captures, merged.
fn items(files: &[&str]) -> Vec<Item> {
    let captures = files
        .iter()
        .map(|f| portreuse::capture::open(std::path::Path::new(&format!("{DIR}{f}"))).unwrap())
        .collect();
    let mut merger = Merger::new(captures, Fingerprints::new(Budgets::default().fingerprints));
    let mut out = Vec::new();
    while let Some(item) = merger.next_item().unwrap() {
        out.push(item);
    }
    out
}

/// The findings of a run over `items`; frames for which `mine` is false only move the clock.
fn findings(items: &[Item], window_s: i64, mine: &dyn Fn(&Item) -> bool) -> Findings {
    let mut p = Pipeline::new(&options(window_s));
    let mut judge = Judge::new(&options(window_s));
    let out = &mut |event: EventRef| judge.take(event, &mut |_, _| Ok(()));
    for item in items {
        if mine(item) {
            p.feed(item, out).unwrap();
        } else {
            p.advance(item.ts, out).unwrap();
        }
    }
    p.finish(out).unwrap();
    judge.finish().findings
}

/// The client of each 4-tuple: the sender of its first SYN (else the lower address).
fn clients(items: &[Item]) -> HashMap<FlowKey, IpAddr> {
    let mut out = HashMap::new();
    for item in items {
        if let Ok(Decoded::Segment(s)) = item.decoded {
            let (key, _) = FlowKey::new(s.src, s.dst);
            let syn = s.flags.syn() && !s.flags.ack();
            if syn {
                out.entry(key).or_insert(s.src.ip);
            }
        }
    }
    out
}

#[test]
fn shards_split_by_client_address_merge_into_the_findings_of_the_whole() {
    let cases: [(&[&str], i64); 5] = [
        (&["isa2000-broken.pcap"], 240),
        (&["x400-sister-external.pcap"], 240),
        (&["x400-sister-both-legs.pcap"], 240),
        (&["real/linux-tw-ts-off-bigxfer.pcap"], 60),
        (
            &[
                "isa2000-broken.pcap",
                "x400-sister-both-legs.pcap",
                "isa2000-fixed.pcap",
            ],
            240,
        ),
    ];
    for (files, window) in cases {
        let items = items(files);
        let client = clients(&items);
        let client_of = |item: &Item| -> Option<IpAddr> {
            match item.decoded {
                Ok(Decoded::Segment(s)) => {
                    let (key, _) = FlowKey::new(s.src, s.dst);
                    Some(*client.get(&key).unwrap_or(&s.src.ip.min(s.dst.ip)))
                }
                Ok(Decoded::Icmp(e)) => {
                    let (key, _) = FlowKey::new(e.src, e.dst);
                    client.get(&key).copied()
                }
                Err(_) => None,
            }
        };
        let whole = findings(&items, window, &|_| true);
        let mut ips: Vec<IpAddr> = client.values().copied().collect();
        ips.sort();
        ips.dedup();
        let shard_of =
            |item: &Item| client_of(item).map(|ip| ips.iter().position(|x| *x == ip).unwrap() % 2);
        let a = findings(&items, window, &|item| shard_of(item) == Some(0));
        let b = findings(&items, window, &|item| shard_of(item) == Some(1));
        let merged = Findings::merge(&a, &b);
        assert!(
            merged == whole,
            "{files:?}: merged shards differ from the whole:\n{merged:#?}\n---\n{whole:#?}"
        );
    }
}
