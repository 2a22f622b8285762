//! Bad input: one line on stderr naming the file (and frame and byte offset where there is
//! one), exit status 2, never a panic; a cut-off tail or a damaged record is analysed past
//! with a warning (tests/damage.rs has every kind of damage).

mod common;

use std::fs;

use predicates::prelude::*;

#[test]
fn empty_file_is_exit_2() {
    let path = common::tmp("empty.pcap");
    fs::write(&path, b"").unwrap();
    common::bin()
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::ends_with("empty.pcap: empty file\n"));
}

#[test]
fn a_file_that_is_no_capture_names_its_first_bytes() {
    let path = common::tmp("page.html");
    fs::write(&path, b"<!DOCTYPE html>").unwrap();
    common::bin()
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "page.html: not a pcap, pcapng or Network Monitor file: first bytes 3c 21 44 4f\n",
        ));
}

#[test]
fn a_missing_file_is_exit_2() {
    common::bin()
        .arg("no/such.pcap")
        .assert()
        .code(2)
        .stderr("portreuse: no/such.pcap: cannot open: No such file or directory (os error 2)\n");
}

#[test]
fn usage_errors_are_exit_2() {
    common::bin().assert().code(2);
    common::bin()
        .args(["--time-wait", "4 parsecs", "x.pcap"])
        .assert()
        .code(2);
    common::bin()
        .args(["--server", "10.0.0.0/99", "x.pcap"])
        .assert()
        .code(2);
}

/// Byte offsets of the records of a little-endian classic pcap.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        out.push(at);
        at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    out
}

#[test]
fn a_cut_off_tail_is_analysed_with_a_warning_and_strict_makes_it_exit_1() {
    let src = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/linux-tw-ts-on.pcap"
    ))
    .unwrap();
    let path = common::tmp("cut.pcap");
    fs::write(&path, &src[..src.len() - 10]).unwrap();
    // The offset named is where the cut record begins, not where the file ends.
    let last = *record_offsets(&src).last().unwrap();
    let warning = format!(
        "portreuse: warning: {}: cut short inside frame 32 (its record begins at byte {}); analysed the 31 frames before it\n",
        path.display(),
        portreuse::report::thousands(last as u64)
    );
    common::bin()
        .arg(&path)
        .assert()
        .code(0)
        .stderr(warning.clone())
        .stdout(predicate::str::contains("Read 31 frames"));
    common::bin()
        .arg("--strict")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(warning);
    common::bin()
        .args(["-q"])
        .arg(&path)
        .assert()
        .code(0)
        .stderr("");
}

#[test]
fn an_absurd_record_length_is_damage_named_by_frame_and_offset_and_reading_goes_on() {
    let mut bytes = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/linux-tw-ts-on.pcap"
    ))
    .unwrap();
    let third = record_offsets(&bytes)[2];
    let fourth = record_offsets(&bytes)[3];
    bytes[third + 8..third + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let path = common::tmp("bad-caplen.pcap");
    fs::write(&path, &bytes).unwrap();
    let name = path.display();
    let warnings = format!(
        "portreuse: warning: {name}: damaged record at byte {third} (frame 3): the record claims 2147483647 bytes (at most 262144 are possible); skipped {} bytes to the next plausible record at byte {fourth} and read on\n\
         portreuse: warning: {name}: analysed the 31 frames that could be read\n",
        fourth - third
    );
    common::bin()
        .arg(&path)
        .assert()
        .code(0)
        .stderr(warnings.clone())
        .stdout(predicate::str::contains("Read 31 frames"));
    common::bin()
        .arg("--strict")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(warnings);
}

#[test]
fn a_capture_without_packets_says_so() {
    let path = common::tmp("header-only.pcap");
    let src = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/linux-refused.pcap"
    ))
    .unwrap();
    fs::write(&path, &src[..24]).unwrap();
    common::bin()
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "The capture holds no packets.\n",
        ));
}

#[test]
fn every_prefix_of_a_capture_reads_without_panicking() {
    let src = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/linux-tw-ts-on.pcap"
    ))
    .unwrap();
    let path = common::tmp("prefix.pcap");
    let name = path.to_string_lossy().into_owned();
    // Every prefix through the first records, then every 7th (a debug build is slow).
    for len in (0..src.len()).filter(|n| *n < 400 || n % 7 == 0) {
        fs::write(&path, &src[..len]).unwrap();
        match common::run_in_process(&["--format", "json", &name]) {
            Ok((code, out)) => {
                assert_eq!(code, 0);
                serde_json::from_str::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("prefix {len}: {e}"));
            }
            Err(e) => assert!(len < 24, "prefix {len} failed: {e}"),
        }
    }
}

#[test]
fn several_files_merge_into_one_timeline_with_per_file_frames() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");
    let a = format!("{dir}linux-tw-ts-on.pcap");
    let b = format!("{dir}linux-refused.pcap");
    let doc = common::json(&["--time-wait", "60s", &b, &a]);
    let attempts = doc["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    let times: Vec<&str> = attempts
        .iter()
        .map(|x| x["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(attempts[0]["file"], a.as_str());
    assert_eq!(attempts[4]["file"], b.as_str());
    assert_eq!(attempts[4]["frame"], 1);
}

/// Inputs the fuzzer (fuzz/, `cargo fuzz run capture`) found crashing, kept as regressions:
/// each is read in every output format, in this debug build with overflow checks on.
#[test]
fn fuzz_regressions_read_without_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in &files {
        let name = path.to_str().unwrap();
        for format in ["table", "json", "ndjson", "csv"] {
            match common::run_in_process(&["--format", format, name]) {
                Ok((code, _)) => assert_eq!(code, 0, "{name}"),
                Err(e) => assert!(
                    e.contains("damaged") || e.contains("not a pcap") || e.contains("empty file"),
                    "{name}: {e}"
                ),
            }
        }
    }
}
