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
