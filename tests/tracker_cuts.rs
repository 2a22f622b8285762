//! A capture cut anywhere (its first N frames) never turns an attempt that the whole capture
//! shows established into a failure, and changes no outcome the whole capture decides
//! (issue 9): an attempt is judged a failure only once the capture has gone past the
//! client's next SYN retransmission due (a refusal at once for a client not seen sending a
//! refused SYN again), so a cut before that leaves it `unknown`. Checked on every fixture in testdata/, over
//! every cut point of the small ones and 150 spread over the large ones.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use portreuse::attempt::{Attempt, Evidence, Outcome};
use portreuse::budget::Budgets;
use portreuse::capture;
use portreuse::decode::Decoded;
use portreuse::merge::Merger;
use portreuse::time::NANOS_PER_SEC;
use portreuse::track::{Config, Tracker};

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() && name != "expected" {
            fixtures(&path, out);
        } else if [".pcap", ".pcapng", ".cap", ".gz"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            out.push(path);
        }
    }
}

/// The attempts of the first `limit` frames of `path` (all of them when `None`), with how
/// many frames were read.
fn attempts(path: &Path, window_s: i64, limit: Option<u64>) -> (Vec<Attempt>, u64) {
    let mut tracker = Tracker::new(Config {
        window_ns: window_s * NANOS_PER_SEC,
        filter: None,
        budgets: Budgets::default(),
    });
    let mut merger = Merger::new(
        vec![capture::open(path).unwrap()],
        tracker.new_fingerprints(),
    );
    let mut out = Vec::new();
    let mut frames = 0;
    while limit.is_none_or(|l| frames < l) {
        let Ok(Some(item)) = merger.next_item() else {
            break;
        };
        frames += 1;
        match item.decoded {
            Ok(Decoded::Segment(seg)) => tracker.on_segment(&seg),
            Ok(Decoded::Icmp(error)) => tracker.on_icmp(&error),
            Err(_) => tracker.advance(item.ts),
        }
        while let Some(a) = tracker.pop_decided() {
            out.push(a);
        }
    }
    tracker.finish();
    while let Some(a) = tracker.pop_decided() {
        out.push(a);
    }
    (out, frames)
}

#[test]
fn a_cut_anywhere_changes_no_decided_outcome() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    let mut violations = Vec::new();
    let mut cuts_checked = 0;
    for file in &files {
        let window_s = if file.to_string_lossy().contains("/real/") {
            60
        } else {
            240
        };
        let (whole, frames) = attempts(file, window_s, None);
        let full: HashMap<_, _> = whole.iter().map(|a| (a.frame, a.outcome)).collect();
        // An attempt implied by its answer (issue 13: a server never sent a SYN before) is
        // at the answer's frame until its SYN comes; the whole capture has it at its SYN.
        let by_isn: HashMap<_, _> = whole
            .iter()
            .map(|a| ((a.client, a.server, a.isn), a.outcome))
            .collect();
        let step = (frames / 150).max(1);
        for n in (1..frames).step_by(step as usize) {
            cuts_checked += 1;
            for a in attempts(file, window_s, Some(n)).0 {
                let implied = (a.evidence == Evidence::ServerSideOnly && a.isn_known)
                    .then(|| by_isn.get(&(a.client, a.server, a.isn)))
                    .flatten();
                let Some(&outcome) = full.get(&a.frame).or(implied) else {
                    // Only a copy of an attempt's SYN is a frame the whole capture has no
                    // attempt for; it cannot be its own attempt in a cut either.
                    violations.push(format!(
                        "{} cut {n}: new attempt {}",
                        file.display(),
                        a.frame.number
                    ));
                    continue;
                };
                // The whole capture knows more: where it leaves an attempt undecided (it saw
                // the client retry refused SYNs, say), a cut may still have decided it.
                let failure_instead = outcome == Outcome::Established && a.outcome.is_failure();
                let changed = a.outcome != Outcome::Unknown
                    && outcome != Outcome::Unknown
                    && a.outcome != outcome;
                if failure_instead || changed {
                    violations.push(format!(
                        "{} cut after frame {n}: attempt at frame {} is {} (whole capture: {})",
                        file.display(),
                        a.frame.number,
                        a.outcome.name(),
                        outcome.name()
                    ));
                }
            }
        }
    }
    assert!(cuts_checked > 1000, "{cuts_checked}");
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations[..violations.len().min(40)].join("\n")
    );
}
