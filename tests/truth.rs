//! The field report's scenario against the generator's own ground truth, snap-length
//! equivalence, and the checked-in fixtures' provenance.

mod common;

use std::fs::{self, File};
use std::io::BufWriter;

use portreuse::synth::{Case, PcapWriter, Scenario, Truth, generate};
use serde_json::Value;

fn write_case(case: Case, snaplen: u32, name: &str) -> (String, Truth) {
    let path = common::tmp(name);
    let mut w = PcapWriter::new(BufWriter::new(File::create(&path).unwrap()), snaplen).unwrap();
    let truth = generate(&Scenario::fixture(case), &mut w).unwrap();
    drop(w);
    (path.to_string_lossy().into_owned(), truth)
}

fn summary_number(doc: &Value, key: &str) -> u64 {
    doc["summary"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("summary.{key} missing"))
}

#[test]
fn checked_in_fixtures_are_what_the_generator_writes() {
    for (case, name) in [
        (Case::Broken, "isa2000-broken.pcap"),
        (Case::Fixed, "isa2000-fixed.pcap"),
    ] {
        let (path, _) = write_case(case, 65535, name);
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
        assert!(
            fs::read(&path).unwrap() == fs::read(format!("{fixture}{name}")).unwrap(),
            "{name} differs from the generator: regenerate it with examples/synth"
        );
    }
}

#[test]
fn checked_in_sister_and_one_direction_fixtures_are_what_the_generator_writes() {
    let fixture =
        |name: &str| fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for (both, name) in [
        (false, "x400-sister-external.pcap"),
        (true, "x400-sister-both-legs.pcap"),
    ] {
        let mut w = PcapWriter::new(Vec::new(), 65535).unwrap();
        portreuse::synth::sister(both, &mut w).unwrap();
        assert!(
            w.into_inner() == fixture(name),
            "{name} differs from the generator"
        );
    }
    let mut w = PcapWriter::new(Vec::new(), 65535).unwrap();
    portreuse::synth::one_direction(&Scenario::fixture(Case::Broken), &mut w).unwrap();
    assert!(w.into_inner() == fixture("isa2000-broken-one-direction.pcap"));
}

#[test]
fn broken_case_counts_equal_the_generator_truth() {
    let (path, truth) = write_case(Case::Broken, 65535, "broken-truth.pcap");
    let doc = common::json(&[&path]);
    assert_eq!(summary_number(&doc, "frames"), truth.frames);
    assert_eq!(summary_number(&doc, "syn_attempts"), truth.attempts);
    assert_eq!(summary_number(&doc, "established"), truth.established);
    assert_eq!(summary_number(&doc, "refused"), truth.refused);
    assert_eq!(summary_number(&doc, "unanswered"), truth.unanswered);
    assert_eq!(summary_number(&doc, "unknown"), truth.unknown);
    assert_eq!(summary_number(&doc, "challenge_ack"), 0);
    assert_eq!(
        summary_number(&doc, "syn_retransmits"),
        truth.syn_retransmits
    );
    assert_eq!(
        summary_number(&doc, "reused_in_window"),
        truth.reused_in_window
    );
    assert_eq!(
        summary_number(&doc, "unanswered_reused_in_window"),
        truth.unanswered_reused_in_window
    );
    assert!(
        truth.unanswered > 50 && truth.established > 100,
        "the scenario must show the problem: {truth:?}"
    );
}

#[test]
fn broken_case_flags_every_unanswered_attempt_and_ties_it_to_the_server_time_wait() {
    let (path, _) = write_case(Case::Broken, 65535, "broken-flags.pcap");
    let doc = common::json(&[&path]);
    let attempts = doc["attempts"].as_array().unwrap();
    for a in attempts {
        match a["outcome"].as_str().unwrap() {
            "unanswered" => {
                let reuse = &a["reuse"];
                assert_eq!(reuse["in_window"], true, "{a}");
                assert_eq!(reuse["time_wait_holder"], "server", "{a}");
                assert_eq!(a["syn_retransmits"], 2, "{a}");
                assert!(reuse["previous_frame"].as_u64().unwrap() < a["frame"].as_u64().unwrap());
            }
            "established" | "refused" | "unknown" => {}
            other => panic!("unexpected outcome {other}: {a}"),
        }
    }
    // Attempts come in order of first SYN.
    let frames: Vec<u64> = attempts
        .iter()
        .map(|a| a["frame"].as_u64().unwrap())
        .collect();
    assert!(frames.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn fixed_case_reports_that_nothing_failed() {
    let (path, truth) = write_case(Case::Fixed, 65535, "fixed-truth.pcap");
    let doc = common::json(&[&path]);
    assert_eq!(summary_number(&doc, "syn_attempts"), truth.attempts);
    assert_eq!(summary_number(&doc, "established"), truth.attempts);
    assert_eq!(summary_number(&doc, "reused_in_window"), 0);
    let (code, table) = common::run_in_process(&["--check", &path]).unwrap();
    assert_eq!(code, 0);
    assert!(
        table.starts_with("Nothing failed: 346 connection attempts answered."),
        "{table}"
    );
}

#[test]
fn check_exits_1_on_the_broken_case() {
    let (path, _) = write_case(Case::Broken, 65535, "broken-check.pcap");
    let (code, table) = common::run_in_process(&["--check", &path]).unwrap();
    assert_eq!(code, 1);
    assert!(
        table.starts_with(
            "113 of 113 failed attempts from 192.168.50.1 to 192.168.50.10:110 (113 unanswered) hit its TIME_WAIT (240 s)"
        ),
        "{table}"
    );
}

#[test]
fn frames_cut_to_128_bytes_give_the_same_attempts() {
    let (full, _) = write_case(Case::Broken, 65535, "broken-full.pcap");
    let (cut, _) = write_case(Case::Broken, 128, "broken-s128.pcap");
    assert!(fs::metadata(&cut).unwrap().len() < fs::metadata(&full).unwrap().len());
    let strip = |mut doc: Value| {
        for a in doc["attempts"].as_array_mut().unwrap() {
            a.as_object_mut().unwrap().remove("file");
        }
        doc["attempts"].clone()
    };
    let (a, b) = (strip(common::json(&[&full])), strip(common::json(&[&cut])));
    assert_eq!(a.as_array().unwrap().len(), 345);
    assert_eq!(a, b);
}

#[test]
fn real_linux_time_wait_answers_are_classified() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");
    let outcome_of = |file: &str| -> Vec<(String, u64)> {
        let doc = common::json(&["--time-wait", "60s", &format!("{dir}{file}")]);
        doc["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["outcome"].as_str().unwrap().to_string(),
                    a["challenge_acks"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // Timestamps on: the reused SYN is accepted straight away (RFC 6191).
    let ts_on = outcome_of("linux-tw-ts-on.pcap");
    assert_eq!(ts_on.len(), 4);
    assert!(ts_on.iter().all(|(o, c)| o == "established" && *c == 0));
    // Timestamps off, big first transfer: bare ACK, client RST, retransmitted SYN gets in.
    assert_eq!(
        outcome_of("linux-tw-ts-off-bigxfer.pcap")[1],
        ("established".to_string(), 1)
    );
    // rfc1337 on the server: TIME_WAIT survives the RSTs and never lets the client in. The
    // capture ends 50 µs after the last challenge, before the client's next retransmission
    // would have been due, but that challenge answered the 7th SYN, the last its Linux stack
    // sends: no later answer can come (issue 13's decision rule).
    assert_eq!(
        outcome_of("linux-tw-never-let-in.pcap")[1],
        ("challenge_ack".to_string(), 6)
    );
    // The RST is the capture's last frame; Linux gives up on a RST (ECONNREFUSED), and this
    // client was never seen sending a refused SYN again: final.
    assert_eq!(outcome_of("linux-refused.pcap")[0].0, "refused");
}
