//! The whole command-line surface driven by arbitrary bytes (issue 14 item 6), for the
//! `surface` fuzz target and its regression test: the bytes become up to three capture
//! files in a temporary tree (with an empty capture, a file that is no capture and a
//! symbolic link loop beside them), then portreuse runs over the tree merged with --html and
//! --write, reads its own --write output back, and runs --each with and without --follow.
//!
//! What must hold: no panic (the harness's caller sees it), a JSON document that parses
//! whenever a run succeeds, a written pcapng that reads back without error, and no file
//! left beside the outputs.

use std::fs;
use std::path::Path;

use clap::Parser;

use super::{Status, run};
use crate::cli::Cli;

/// Splits `data`: byte 0 picks the options, bytes 1..9 are two cut points (u32 LE, each
/// taken modulo the length of the rest), the rest is the files' bytes.
fn parts(data: &[u8]) -> (u8, [&[u8]; 3]) {
    let (&control, rest) = data.split_first().unwrap_or((&0, &[]));
    let (cuts, body) = rest.split_at(rest.len().min(8));
    let at = |i: usize| {
        let mut word = [0xffu8; 4];
        for (w, b) in word.iter_mut().zip(cuts.iter().skip(4 * i)) {
            *w = *b;
        }
        u32::from_le_bytes(word) as usize % (body.len() + 1)
    };
    let (a, b) = (at(0).min(at(1)), at(0).max(at(1)));
    (control, [&body[..a], &body[a..b], &body[b..]])
}

/// A name for a part, by its magic, so that every reader gets its share.
fn name(part: &[u8], stem: &str) -> String {
    let ext = match part {
        [0x1f, 0x8b, ..] => "pcap.gz",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "pcapng.zst",
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => "pcapng",
        [b'G', b'M', b'B', b'U', ..] | [b'R', b'T', b'S', b'S', ..] => "cap",
        _ => "pcap",
    };
    format!("{stem}.{ext}")
}

/// Runs the surface on `data` inside `scratch` (emptied first). Panics when a property
/// fails; errors of the input's making are fine.
pub fn exercise(data: &[u8], scratch: &Path) {
    let _ = fs::remove_dir_all(scratch);
    let tree = scratch.join("tree");
    let outputs = scratch.join("out");
    fs::create_dir_all(tree.join("sub")).expect("scratch directory");
    fs::create_dir_all(&outputs).expect("scratch directory");
    let (control, files) = parts(data);
    for (part, (dir, stem)) in files.iter().zip([("", "a"), ("sub", "b"), ("sub", "c")]) {
        if !part.is_empty() || control & 0x80 != 0 {
            fs::write(tree.join(dir).join(name(part, stem)), part).expect("writing a part");
        }
    }
    fs::write(tree.join("notes.txt"), b"not a capture").expect("writing");
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink("..", tree.join("sub/up"));
    let format = ["json", "ndjson", "csv", "table"][usize::from(control & 3)];
    let time_wait = if control & 4 != 0 { "60s" } else { "240s" };
    let (html, pcapng) = (outputs.join("report.html"), outputs.join("hits.pcapng"));
    let tree_arg = tree.to_string_lossy().into_owned();
    let merged = [
        "--format",
        format,
        "--time-wait",
        time_wait,
        "--memory",
        "32M",
        "--html",
        &html.to_string_lossy(),
        "--write",
        &pcapng.to_string_lossy(),
        &tree_arg,
    ]
    .map(str::to_string);
    if let Some(Status::Ok | Status::Findings) = one(&merged) {
        let back = ["--format", "json", &pcapng.to_string_lossy()].map(str::to_string);
        if pcapng.exists() {
            assert!(
                one(&back).is_some(),
                "the pcapng --write made does not read back"
            );
        }
    }
    let mut names: Vec<String> = fs::read_dir(&outputs)
        .expect("listing")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names
            .iter()
            .all(|n| n == "report.html" || n == "hits.pcapng"),
        "left beside the outputs: {names:?}"
    );
    // An empty capture: an error row of its own (it would stop a merged run).
    fs::write(tree.join("empty.pcap"), b"").expect("writing");
    let follow = if control & 8 != 0 {
        "--follow"
    } else {
        "--color=never"
    };
    let _ = one(&["--each", "--format", format, follow, &tree_arg].map(str::to_string));
}

/// One run, in-process, on a buffer; Some(status) when it ran. A JSON document must parse.
fn one(args: &[String]) -> Option<Status> {
    let cli = Cli::try_parse_from(
        ["portreuse", "-q"]
            .into_iter()
            .map(String::from)
            .chain(args.iter().cloned()),
    )
    .expect("the harness's own arguments parse");
    let mut out = Vec::new();
    let status = run(&cli, &mut out).ok()?;
    if args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
    {
        serde_json::from_slice::<serde_json::Value>(&out).expect("a JSON document");
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_input() {
        let data = [3u8, 2, 0, 0, 0, 5, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        let (control, [a, b, c]) = parts(&data);
        assert_eq!(control, 3);
        assert_eq!((a, b, c.len()), (&[1, 2][..], &[3, 4, 5][..], 3));
        assert_eq!(parts(&[]).1.iter().map(|p| p.len()).sum::<usize>(), 0);
    }
}
