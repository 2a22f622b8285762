//! Issue 6: machine outputs (NDJSON, CSV), batch mode, the Wireshark hand-off (display
//! filter, --write), completions and man page, absolute times.

mod common;

use std::fs;

use serde_json::Value;

const BROKEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-broken.pcap");

#[test]
fn ndjson_is_one_attempt_per_line_then_one_summary() {
    let (_, out) = common::run_in_process(&["--format", "ndjson", BROKEN]).unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 346);
    assert!(lines[..345].iter().all(|l| l["type"] == "attempt"));
    let summary = &lines[345];
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["summary"]["syn_attempts"], 345);
    // The same attempts as the JSON document, in the same order.
    let doc = common::json(&[BROKEN]);
    let mut first = lines[0].clone();
    first.as_object_mut().unwrap().remove("type");
    assert_eq!(first, doc["attempts"][0]);
}

#[test]
fn csv_has_a_header_and_a_row_per_attempt() {
    let (_, out) = common::run_in_process(&["--format", "csv", BROKEN]).unwrap();
    let rows: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 346);
    assert!(rows[0].starts_with("file,frame,time,src,dst,isn,"));
    let unanswered = rows.iter().filter(|r| r.contains(",unanswered,")).count();
    // 117 silent attempts; 4 end within 13.5 s of the capture's end, before the firewall's
    // next retransmission was due: unknown (issue 9).
    assert_eq!(unanswered, 113);
    assert_eq!(rows[0].split(',').count(), rows[8].split(',').count());
}

/// The CSV's `isn` is the JSON's, attempt by attempt: empty where the JSON has null (an ISN
/// no packet shows: an attempt implied by a server's challenge ACK).
#[test]
fn csv_isn_is_empty_where_the_json_has_null() {
    let capture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/linux-tw-never-let-in-server-only.pcap"
    );
    let (_, out) = common::run_in_process(&["--format", "csv", capture]).unwrap();
    let doc = common::json(&[capture]);
    let attempts = doc["attempts"].as_array().unwrap();
    let rows: Vec<&str> = out
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(rows.len(), attempts.len());
    let mut nulls = 0;
    for (row, a) in rows.iter().zip(attempts) {
        let isn = row.split(',').nth(5).unwrap();
        match a["isn"].as_u64() {
            Some(n) => assert_eq!(isn, n.to_string(), "{row}"),
            None => {
                nulls += 1;
                assert_eq!(isn, "", "{row}");
            }
        }
    }
    assert!(nulls > 0, "the capture has attempts whose ISN is unknown");
}

#[test]
fn each_reports_every_file_and_a_corrupt_one_does_not_stop_the_rest() {
    let dir = common::tmp("batch");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("sub")).unwrap();
    let fixtures = [
        "isa2000-broken.pcap",
        "isa2000-fixed.pcap",
        "x400-sister-external.pcap",
        "real/linux-tw-ts-on.pcap",
        "isa2000-broken-netmon2.cap",
    ];
    for i in 0..10 {
        for f in fixtures {
            let src = format!("{}/testdata/{f}", env!("CARGO_MANIFEST_DIR"));
            let name = format!("{i}-{}", f.replace('/', "-").replace(".pcap", ".trace"));
            fs::copy(src, dir.join("sub").join(name)).unwrap();
        }
    }
    fs::write(
        dir.join("broken-header.pcap"),
        [0xd4, 0xc3, 0xb2, 0xa1, 2, 0],
    )
    .unwrap();
    fs::write(dir.join("notes.txt"), "not a capture, skipped by magic").unwrap();
    let (code, out) =
        common::run_in_process(&["--each", "--format", "ndjson", dir.to_str().unwrap()]).unwrap();
    assert_eq!(code, 2, "the worst status of the files");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 51);
    let errors: Vec<&Value> = lines.iter().filter(|l| l["status"] == "error").collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("broken-header.pcap")
    );
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("ends inside its header")
    );
    let broken = lines
        .iter()
        .filter(|l| {
            l["file"]
                .as_str()
                .unwrap()
                .ends_with("isa2000-broken.trace")
        })
        .count();
    assert_eq!(broken, 10);
    assert!(
        lines
            .iter()
            .filter(|l| l["status"] == "ok")
            .all(|l| l["type"] == "file" && l["summary"]["frames"].as_u64() > Some(0))
    );
}

#[test]
fn display_filter_and_written_capture_hold_the_flagged_attempts() {
    let (_, filter) = common::run_in_process(&["--filter-only", BROKEN]).unwrap();
    let filter = filter.trim();
    assert!(filter.starts_with("(ip.addr==192.168.50.1 && ip.addr==192.168.50.10 && tcp.port=="));
    let tuples = filter.split(" || ").count();
    let out = common::tmp("flagged.pcapng");
    let out = out.to_str().unwrap();
    let (code, _) = common::run_in_process(&["--write", out, BROKEN]).unwrap();
    assert_eq!(code, 0);
    let small = fs::metadata(out).unwrap().len();
    assert!(
        small < fs::metadata(BROKEN).unwrap().len() / 4,
        "{small} bytes"
    );
    // The small capture reports the same flagged attempts: same 4-tuples, outcomes, gaps.
    let flagged = |doc: &Value| -> Vec<(String, String, String, String)> {
        doc["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["outcome"] != "established" && a["outcome"] != "unknown")
            .map(|a| {
                (
                    a["time"].to_string(),
                    a["src"].to_string(),
                    a["outcome"].to_string(),
                    a["reuse"]["gap_s"].to_string(),
                )
            })
            .collect()
    };
    let (whole, part) = (common::json(&[BROKEN]), common::json(&[out]));
    assert_eq!(flagged(&part), flagged(&whole));
    assert_eq!(part["summary"]["unanswered_reused_in_window"], 113);
    let (_, again) = common::run_in_process(&["--filter-only", out]).unwrap();
    assert_eq!(again.trim().split(" || ").count(), tuples);
}

#[test]
fn completions_man_page_and_help() {
    let run = |args: &[&str]| {
        String::from_utf8(common::bin().args(args).output().unwrap().stdout).unwrap()
    };
    assert!(run(&["completions", "bash"]).contains("_portreuse()"));
    assert!(run(&["completions", "zsh"]).contains("#compdef portreuse"));
    assert!(run(&["man"]).contains(".TH portreuse 1"));
    let help = common::bin().arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("--time-wait"));
}

#[test]
fn absolute_times_in_the_table() {
    let (_, out) =
        common::run_in_process(&["--time", "absolute", "--max-rows", "1", BROKEN]).unwrap();
    assert!(out.contains("| 2005-05-16T09:00:08.620452Z |"), "{out}");
}
