//! Golden files: the table and JSON output of every capture in testdata/ is checked in under
//! testdata/expected/, so any change of output shows up as a diff in review.
//! Re-bless after an intended change with `BLESS=1 cargo test --test golden`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() && name != "expected" {
            captures(&path, out);
        } else if [".pcap", ".pcapng", ".cap", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

/// Linux captures are judged with Linux's 60 s TIME_WAIT; the field report's with Windows' 240 s.
fn args_for(rel: &str) -> Vec<&'static str> {
    if rel.starts_with("testdata/real/") {
        vec!["--time-wait", "60s"]
    } else {
        vec![]
    }
}

#[test]
fn every_fixture_matches_its_golden_table_and_json() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let mut files = Vec::new();
    captures(Path::new("testdata"), &mut files);
    assert!(files.len() >= 6, "fixtures missing: {files:?}");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let rel = file.to_string_lossy().replace('\\', "/");
        let stem = rel.trim_start_matches("testdata/").replace('/', "__");
        for (format, ext) in [("table", "txt"), ("json", "json")] {
            let mut args = args_for(&rel);
            args.extend(["--format", format, rel.as_str()]);
            let (_, out) = common::run_in_process(&args).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let expected = Path::new("testdata/expected").join(format!("{stem}.{ext}"));
            if bless {
                fs::create_dir_all("testdata/expected").unwrap();
                fs::write(&expected, &out).unwrap();
            } else if fs::read_to_string(&expected).ok().as_deref() != Some(out.as_str()) {
                failures.push(format!(
                    "{} (diff it against: portreuse {})",
                    expected.display(),
                    args.join(" ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "output differs from golden files (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// One row of a real capture's expected account (testdata/real/*.expect.tsv).
struct Expected {
    frame: u64,
    client: String,
    server: String,
    outcome: String,
    cause: Option<String>,
}

fn expected(tsv: &Path) -> Vec<Expected> {
    fs::read_to_string(tsv)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Some(Expected {
                frame: f.first()?.parse().ok()?,
                client: f[1].to_string(),
                server: f[2].to_string(),
                outcome: f[6].to_string(),
                cause: (f[10] != "-").then(|| f[10].to_string()),
            })
        })
        .collect()
}

/// Where the outcome agrees with the real capture's expected account, the cause does too,
/// but for two readings this branch makes on purpose (README, "Causes"): a short reply then
/// FIN is not a cause on its own (only a direction asymmetry shows it is a refusal), and an
/// ICMP error is the cause `icmp_error` rather than none. Captures with duplicated frames
/// wait for the tracker's duplicate detection (issue 9).
#[test]
fn causes_agree_with_the_real_captures_expected_accounts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("testdata/real"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expect.tsv"))
        .collect();
    files.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for tsv in files {
        let name = tsv
            .to_string_lossy()
            .trim_end_matches(".expect.tsv")
            .to_string();
        if name.contains("/dup-") {
            continue;
        }
        let doc = common::json(&["--time-wait", "60s", &name]);
        for e in expected(&tsv) {
            let Some(a) = doc["attempts"].as_array().unwrap().iter().find(|a| {
                a["frame"] == e.frame
                    && a["src"] == e.client.as_str()
                    && a["dst"] == e.server.as_str()
            }) else {
                continue;
            };
            if a["outcome"] != e.outcome.as_str() {
                continue;
            }
            checked += 1;
            let got = a["cause"].as_str().map(str::to_string);
            let short = a["first_close"]["refusal"] == "short_reject_then_fin";
            let fine = got == e.cause
                || (short && e.cause.as_deref() == Some("application_refused") && got.is_none())
                || (e.outcome == "icmp_unreachable" && got.as_deref() == Some("icmp_error"));
            if !fine {
                failures.push(format!(
                    "{name} frame {}: expected {:?}, got {got:?}",
                    e.frame, e.cause
                ));
            }
        }
    }
    assert!(checked > 100, "only {checked} attempts compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 10 (10c): on the real-kernel asymmetry captures, the refusing side and the port are
/// named, and nothing else (no other asymmetry, no relay, no collision).
#[test]
fn real_asymmetry_captures_name_the_refusing_side_and_port_and_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for form in [
        "all-forms",
        "reject",
        "fin-nodata",
        "rst-after-data",
        "rst-before-data",
    ] {
        let path = root.join(format!("testdata/real/asym-x400-{form}.pcap"));
        let doc = common::json(&["--time-wait", "60s", path.to_str().unwrap()]);
        let asym = doc["asymmetries"].as_array().unwrap();
        assert_eq!(asym.len(), 1, "{form}: {asym:?}");
        assert_eq!(asym[0]["initiator"], "10.93.9.1", "{form}");
        assert_eq!(asym[0]["refuser"], "10.93.9.2", "{form}");
        assert_eq!(asym[0]["port"], 102, "{form}");
        assert_eq!(
            asym[0]["failing"]["refused_by_application"],
            asym[0]["failing"]["attempts"]
        );
        assert!(doc["relays"].as_array().unwrap().is_empty(), "{form}");
        assert!(doc["fix"].is_null(), "{form}");
        let head = doc["headline"].as_array().unwrap();
        assert!(
            head[0]
                .as_str()
                .unwrap()
                .contains("10.93.9.2 refuses connections from 10.93.9.1 on port 102")
        );
        assert!(
            !head
                .iter()
                .any(|l| l.as_str().unwrap().contains("TIME_WAIT")),
            "{form}: {head:?}"
        );
    }
}
