//! Robustness and agreement with tshark over ../shared/corpus: every public capture is read
//! without panic (exit 0 or 2), and where tshark reads a file cleanly, portreuse counts the
//! same frames and the same frames with the SYN flag (SYN + SYN-ACK). Files where portreuse
//! decodes less than tshark are listed, with the reason, in tests/corpus-known-gaps.tsv.

mod common;

use std::collections::BTreeMap;
use std::fs;

/// path -> (our SYN frames, tshark's, reason), from tests/corpus-known-gaps.tsv.
fn known_gaps() -> BTreeMap<String, (u64, u64, String)> {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus-known-gaps.tsv"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "bad line in corpus-known-gaps.tsv: {l}");
            (
                f[0].to_string(),
                (
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].to_string(),
                ),
            )
        })
        .collect()
}

/// (frames, SYN-flag frames) portreuse reads, or the one-line error.
fn counts(path: &str) -> Result<(u64, u64), String> {
    let (_, out) = common::run_in_process(&["--format", "json", path])?;
    let doc: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let s = &doc["summary"];
    let n = |k: &str| s[k].as_u64().unwrap();
    // tshark's tcp.flags.syn also matches TCP headers quoted inside ICMP errors.
    Ok((
        n("frames"),
        n("syn_packets") + n("synack_packets") + n("syn_quoted_in_icmp"),
    ))
}

/// The warnings portreuse gives about a capture.
fn warnings(path: &str) -> Vec<String> {
    let (_, out) = common::run_in_process(&["--format", "json", path]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn public_corpus_is_read_without_panic_and_agrees_with_tshark() {
    let Some(corpus) = common::shared() else {
        return;
    };
    let base = corpus.join("public");
    let baseline = fs::read_to_string(base.join("tshark_baseline.tsv")).unwrap();
    let gaps = known_gaps();
    let (mut read, mut errors, mut agree) = (0, 0, 0);
    let mut problems = Vec::new();
    for line in baseline.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, readable, packets, syns) = (f[0], f[1] == "yes", f[2], f[3]);
        let path = base.join(file).to_string_lossy().into_owned();
        match counts(&path) {
            Err(e) => {
                errors += 1;
                if readable {
                    problems.push(format!("{file}: tshark reads it, portreuse says: {e}"));
                }
            }
            Ok((frames, syn)) => {
                read += 1;
                if !readable {
                    continue;
                }
                let expected: (u64, u64) = (packets.parse().unwrap(), syns.parse().unwrap());
                match gaps.get(file) {
                    Some((ours, theirs, why))
                        if (frames, syn) == (expected.0, *ours) && expected.1 == *theirs =>
                    {
                        let _ = why;
                    }
                    Some(_) if (frames, syn) == expected => problems.push(format!(
                        "{file}: now agrees with tshark; remove it from corpus-known-gaps.tsv"
                    )),
                    _ if (frames, syn) == expected => agree += 1,
                    _ => problems.push(format!(
                        "{file}: frames/SYN {frames}/{syn}, tshark {}/{}",
                        expected.0, expected.1
                    )),
                }
            }
        }
    }
    eprintln!(
        "public corpus: {read} read, {errors} errors, {agree} agree with tshark, {} known gaps",
        gaps.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn generated_edge_cases_agree_with_tshark() {
    let Some(corpus) = common::shared() else {
        return;
    };
    let base = corpus.join("generated");
    let readme = fs::read_to_string(base.join("README.md")).unwrap();
    let mut checked = 0;
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        let numbers: Vec<&str> = cells[3].split('/').map(str::trim).collect();
        let (rc, packets, syn) = (numbers[0], numbers[1], numbers[2]);
        let path = base.join(file).to_string_lossy().into_owned();
        let result = counts(&path);
        match (rc, result) {
            ("0", Ok((frames, syns))) => {
                assert_eq!(
                    (frames, syns),
                    (packets.parse().unwrap(), syn.parse().unwrap()),
                    "{file}"
                );
            }
            // tshark stops at a cut-off tail with an error after reading what was there.
            (r, Ok((frames, syns))) if r.starts_with("2 (\"cut short") => {
                assert_eq!(
                    (frames, syns),
                    (packets.parse().unwrap(), syn.parse().unwrap()),
                    "{file}"
                );
            }
            // tshark stops at damage; portreuse reads on past it (issue 14), with a warning.
            (r, Ok((frames, _))) if r.starts_with("2 (\"damaged") => {
                assert!(
                    frames >= packets.parse().unwrap(),
                    "{file}: {frames} frames"
                );
                let warnings = warnings(&path);
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.contains("damaged record at byte")),
                    "{file}: {warnings:?}"
                );
            }
            (r, other) => panic!("{file}: tshark rc {r}, portreuse {other:?}"),
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} rows checked: README format changed?"
    );
}

/// The pcapng test generator writes every file in both byte orders: portreuse must read the
/// two alike (timestamps, options such as if_tsoffset and isb_ifdrop included).
#[test]
fn pcapng_little_and_big_endian_twins_read_alike() {
    let Some(corpus) = common::shared() else {
        return;
    };
    let base = corpus.join("public/pcapng-test-generator");
    let mut pairs = 0;
    for kind in ["basic", "advanced", "difficult"] {
        let Ok(entries) = fs::read_dir(base.join("output_le").join(kind)) else {
            continue;
        };
        for entry in entries {
            let le = entry.unwrap().path();
            let be = base
                .join("output_be")
                .join(kind)
                .join(le.file_name().unwrap());
            let doc = |p: &std::path::Path| {
                common::run_in_process(&["--format", "json", p.to_str().unwrap()])
            };
            match (doc(&le), doc(&be)) {
                (Ok((_, a)), Ok((_, b))) => {
                    let (a, b): (serde_json::Value, serde_json::Value) = (
                        serde_json::from_str(&a).unwrap(),
                        serde_json::from_str(&b).unwrap(),
                    );
                    assert_eq!(a["summary"], b["summary"], "{}", le.display());
                    assert_eq!(
                        a["files"][0]["interface_drops"],
                        b["files"][0]["interface_drops"],
                        "{}",
                        le.display()
                    );
                    pairs += 1;
                }
                (Err(a), Err(b)) => assert_eq!(
                    a.split(": ").last(),
                    b.split(": ").last(),
                    "{}",
                    le.display()
                ),
                (a, b) => panic!("{}: {a:?} vs {b:?}", le.display()),
            }
        }
    }
    assert!(pairs >= 20, "{pairs} pairs");
}
