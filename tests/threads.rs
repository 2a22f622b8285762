//! Issue 12 item 1: `--threads 2` (reading and decoding on a thread of their own) and
//! `--threads 3` (the tracking on a third, apart from the judging and the writing) give the
//! single-threaded run's output byte for byte, on every bundled fixture and every generated
//! capture of the shared corpus, alone and merged, in every format; from standard input and
//! compressed (gzip, zstd); and a read error in the middle of a capture surfaces the same
//! way, after the same attempts.

mod common;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use portreuse::cli::{Cli, Threads};
use portreuse::merge::Merger;
use portreuse::track::dedup::Fingerprints;
use portreuse::{app, capture};

/// Every bundled capture: testdata/*.pcap*, *.cap, testdata/real/*, testdata/tunnels/*
/// (not the README files nor the expected accounts beside them).
fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("real"), root.join("tunnels")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let capture = if dir == root {
                name.contains(".pcap") || name.ends_with(".cap")
            } else {
                name != "README.md"
            };
            if path.is_file() && capture && !name.contains(".expect.") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() > 20, "fixtures found: {out:?}");
    out
}

/// The run's exit status and standard output, or its error, with `--threads N` added.
fn run(threads: &str, args: &[&str]) -> Result<(u8, String), String> {
    let mut all = vec!["--threads", threads];
    all.extend_from_slice(args);
    common::run_in_process(&all)
}

fn same(args: &[&str]) {
    let one = run("1", args);
    for threads in ["2", "3"] {
        let more = run(threads, args);
        assert!(
            one == more,
            "--threads 1 and {threads} differ for {args:?}:\n1: {one:?}\n{threads}: {more:?}"
        );
    }
}

const FORMATS: [&str; 4] = ["table", "json", "ndjson", "csv"];

#[test]
fn every_fixture_gives_the_same_output_on_one_two_and_three_threads() {
    for path in fixtures() {
        let p = path.to_str().unwrap();
        for format in FORMATS {
            same(&["--format", format, p]);
            same(&["--format", format, "--time-wait", "60s", p]);
        }
    }
}

/// The generated captures of the shared corpus (other writers: dumpcap, editcap, NetMon,
/// hand-made edge cases, a cut file), when `../shared` is there.
fn generated() -> Vec<PathBuf> {
    let Some(root) = common::shared() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut dirs = vec![root.join("generated")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e != "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_generated_capture_gives_the_same_output_on_one_two_and_three_threads() {
    let all = generated();
    for path in &all {
        let p = path.to_str().unwrap();
        for format in FORMATS {
            same(&["--format", format, p]);
        }
    }
    let paths: Vec<&str> = all.iter().map(|p| p.to_str().unwrap()).collect();
    if !paths.is_empty() {
        for format in FORMATS {
            let mut args = vec!["--format", format];
            args.extend_from_slice(&paths);
            same(&args);
        }
    }
}

/// Compressed copies of a fixture (gzip and zstd) give what the plain file gives, on both
/// settings.
#[test]
fn compressed_input_gives_the_same_output_on_one_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let plain = root.join("isa2000-broken.pcap");
    let bytes = std::fs::read(&plain).unwrap();
    let gz = common::tmp("threads-isa2000-broken.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let zst = common::tmp("threads-isa2000-broken.pcap.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    for file in [&gz, &zst] {
        let f = file.to_str().unwrap();
        for format in FORMATS {
            same(&["--format", format, f]);
        }
        // What was read is what the plain file holds.
        let attempts = |p: &Path| {
            let mut doc = common::json(&[p.to_str().unwrap()]);
            let list = doc["attempts"].as_array_mut().unwrap();
            for a in list.iter_mut() {
                a.as_object_mut().unwrap().remove("file");
            }
            list.clone()
        };
        assert_eq!(attempts(file), attempts(&plain), "{f}");
    }
}

/// Standard input (alone, and merged with a file) gives the same bytes on both settings, in
/// the real binary: stage 1 reads the pipe.
#[test]
fn standard_input_gives_the_same_output_on_one_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let piped = root.join("real/linux-syn-flood.pcap.gz");
    let other = root.join("isa2000-fixed.pcap");
    let bytes = std::fs::read(&piped).unwrap();
    let output = |threads: &str, format: &str, with_file: bool| {
        let mut cmd = common::bin_std();
        cmd.args(["-q", "--threads", threads, "--format", format, "-"]);
        if with_file {
            cmd.arg(&other);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = bytes.clone();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        (out.status.code(), out.stdout)
    };
    for format in FORMATS {
        for with_file in [false, true] {
            let one = output("1", format, with_file);
            assert_eq!(one.0, Some(0), "{format}");
            assert!(!one.1.is_empty(), "{format}");
            for threads in ["2", "3"] {
                let more = output(threads, format, with_file);
                assert!(one == more, "{format}, {threads}, with a file: {with_file}");
            }
        }
    }
}

#[test]
fn merged_fixtures_give_the_same_output_on_one_two_and_three_threads() {
    let all = fixtures();
    let paths: Vec<&str> = all.iter().map(|p| p.to_str().unwrap()).collect();
    let top: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| !p.contains("/real/") && !p.contains("/tunnels/"))
        .collect();
    for format in FORMATS {
        let mut args = vec!["--format", format];
        args.extend_from_slice(&top);
        same(&args);
        let mut args = vec!["--format", format];
        args.extend_from_slice(&paths);
        same(&args);
    }
}

#[test]
fn the_default_and_the_flag_parse() {
    assert!(Cli::try_parse_from(["portreuse", "--threads", "4", "a.pcap"]).is_err());
    assert!(Cli::try_parse_from(["portreuse", "--threads", "0", "a.pcap"]).is_err());
    let cli = Cli::try_parse_from(["portreuse", "a.pcap"]).unwrap();
    assert_eq!(cli.threads, Threads::Auto);
    let cli = Cli::try_parse_from(["portreuse", "--threads", "auto", "a.pcap"]).unwrap();
    assert_eq!(cli.threads, Threads::Auto);
    let cli = Cli::try_parse_from(["portreuse", "--threads", "2", "a.pcap"]).unwrap();
    assert_eq!(cli.threads, Threads::Fixed(2));
    let cli = Cli::try_parse_from(["portreuse", "--threads", "3", "a.pcap"]).unwrap();
    assert_eq!(cli.threads, Threads::Fixed(3));
    // auto: one thread for a small file, three for standard input; a number is kept.
    let small = fixtures().into_iter().next().unwrap();
    assert_eq!(
        app::threads_for(Threads::Auto, std::slice::from_ref(&small)),
        1
    );
    let staged = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        3
    } else {
        1
    };
    assert_eq!(app::threads_for(Threads::Auto, &["-".into()]), staged);
    assert_eq!(
        app::threads_for(Threads::Fixed(2), std::slice::from_ref(&small)),
        2
    );
    assert_eq!(app::threads_for(Threads::Fixed(1), &["-".into()]), 1);
    // Without the flag the result is the same as with either setting.
    let path = fixtures().into_iter().next().unwrap();
    let p = path.to_str().unwrap();
    assert_eq!(common::run_in_process(&[p]), run("1", &[p]));
}

/// A byte source that gives `bytes[..cut]` and then fails.
struct FailsAt {
    bytes: Vec<u8>,
    pos: usize,
    cut: usize,
}

impl Read for FailsAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.cut {
            return Err(io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.cut - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The attempts handed to the sink and the error, for a capture whose reads fail at `cut`,
/// merged with a second file that reads fine.
fn failing(threads: usize, bytes: &[u8], cut: usize, other: &Path) -> (Vec<String>, String) {
    let cli = Cli::try_parse_from(["portreuse", "-q", "x.pcap"]).unwrap();
    let options = app::Options::from_cli(&cli);
    let source = FailsAt {
        bytes: bytes.to_vec(),
        pos: 0,
        cut,
    };
    let captures = vec![
        capture::open(other).unwrap(),
        capture::open_reader(Box::new(source)).unwrap(),
    ];
    let names = vec![other.display().to_string(), "broken.pcap".to_string()];
    let mut seen = Vec::new();
    let result = app::analyze_on(&options, threads, names, captures, &mut |a, j| {
        seen.push(format!("{a:?} {j:?}"));
        Ok(())
    });
    let err = result.err().expect("the read error surfaces");
    (seen, format!("{err:#}"))
}

/// Frames of file `of` that `captures`, merged, give before the first read error.
fn frames_before_the_error(captures: Vec<capture::Capture>, of: u32) -> u64 {
    let mut merger = Merger::new(captures, Fingerprints::new(1 << 10));
    let mut frames = 0;
    loop {
        match merger.next_item() {
            Ok(Some(item)) => frames += u64::from(item.file == of),
            Ok(None) => panic!("the input ended without the read error"),
            Err(_) => return frames,
        }
    }
}

#[test]
fn merged_with_another_file_a_failing_capture_gives_every_frame_read_before_the_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let bytes = std::fs::read(root.join("isa2000-fixed.pcap")).unwrap();
    let source = |cut| {
        let source = FailsAt {
            bytes: bytes.clone(),
            pos: 0,
            cut,
        };
        capture::open_reader(Box::new(source)).unwrap()
    };
    for cut in [100_000, bytes.len() / 2, bytes.len() - 10] {
        let alone = frames_before_the_error(vec![source(cut)], 0);
        let other = capture::open(&root.join("isa2000-broken.pcap")).unwrap();
        let merged = frames_before_the_error(vec![other, source(cut)], 1);
        assert!(alone > 0);
        assert_eq!(merged, alone, "cut at {cut}");
    }
}

#[test]
fn a_read_error_midway_surfaces_the_same_after_the_same_attempts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let bytes = std::fs::read(root.join("isa2000-fixed.pcap")).unwrap();
    let other = root.join("isa2000-broken.pcap");
    for cut in [4096, 100_000, bytes.len() / 2, bytes.len() - 10] {
        let one = failing(1, &bytes, cut, &other);
        let two = failing(2, &bytes, cut, &other);
        // 3: the judging and the sink on the calling thread, tracking on a third.
        let three = failing(3, &bytes, cut, &other);
        assert!(one.1.starts_with("broken.pcap: "), "{}", one.1);
        assert!(one.1.contains("the disk went away"), "{}", one.1);
        assert_eq!(one, two, "cut at {cut}");
        assert_eq!(one, three, "cut at {cut}");
    }
    for threads in [2, 3] {
        let late = failing(threads, &bytes, bytes.len() - 10, &other);
        assert!(
            !late.0.is_empty(),
            "attempts before the error are handed on"
        );
    }
}

/// Output that can no longer be written (a closed pipe) stops the analysis: the reading
/// (and tracking) threads stop too, and the error is the sink's.
#[test]
fn a_failing_sink_stops_both_stages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let path = root.join("isa2000-fixed.pcap");
    let cli = Cli::try_parse_from(["portreuse", "-q", "x.pcap"]).unwrap();
    let options = app::Options::from_cli(&cli);
    for threads in [1, 2, 3] {
        let captures = vec![capture::open(&path).unwrap()];
        let mut calls = 0;
        let result = app::analyze_on(
            &options,
            threads,
            vec!["x".into()],
            captures,
            &mut |_, _| {
                calls += 1;
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            },
        );
        let err = result.err().expect("the sink's error surfaces");
        assert!(app::is_broken_pipe(&err), "{err:#}");
        assert_eq!(calls, 1);
    }
}

/// A sink that fails after many attempts (past the first batches handed between threads)
/// was called as often on every setting, with the same attempts.
#[test]
fn a_sink_failing_midway_stops_after_the_same_attempts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let path = root.join("real/linux-syn-flood.pcap.gz");
    let cli = Cli::try_parse_from(["portreuse", "-q", "x.pcap"]).unwrap();
    let options = app::Options::from_cli(&cli);
    for fail_at in [1, 255, 1023, 1024, 1025, 2000] {
        let mut seen = Vec::new();
        for threads in [1, 2, 3] {
            let captures = vec![capture::open(&path).unwrap()];
            let mut got = Vec::new();
            let result = app::analyze_on(
                &options,
                threads,
                vec!["x".into()],
                captures,
                &mut |a, j| {
                    got.push(format!("{a:?} {j:?}"));
                    if got.len() == fail_at {
                        return Err(io::Error::from(io::ErrorKind::BrokenPipe));
                    }
                    Ok(())
                },
            );
            let err = result.err().expect("the sink's error surfaces");
            assert!(app::is_broken_pipe(&err), "{err:#}");
            assert_eq!(got.len(), fail_at);
            seen.push(got);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "fail at {fail_at}");
    }
}

/// The other outputs too: the HTML page and the `--write` file (built from the analysis on
/// the tracking thread), beside JSON on standard output, and `--filter-only`.
#[test]
fn html_write_and_filter_only_are_the_same_on_one_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for fixture in ["isa2000-broken.pcap", "real/linux-syn-flood.pcap.gz"] {
        let path = root.join(fixture);
        let p = path.to_str().unwrap();
        let outputs = |threads: &str| {
            let html = common::tmp(&format!("threads-{threads}.html"));
            let pcapng = common::tmp(&format!("threads-{threads}.pcapng"));
            let (h, w) = (html.to_str().unwrap(), pcapng.to_str().unwrap());
            let out = run(threads, &["--format", "json", "--html", h, "--write", w, p]);
            let filter = run(threads, &["--filter-only", p]);
            let files = (
                std::fs::read(&html).unwrap(),
                std::fs::read(&pcapng).unwrap(),
            );
            (out, filter, files)
        };
        let one = outputs("1");
        assert!(!one.2.0.is_empty() && !one.2.1.is_empty(), "{fixture}");
        for threads in ["2", "3"] {
            assert!(one == outputs(threads), "{fixture}, {threads}");
        }
    }
}
