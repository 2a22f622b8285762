//! Issue 11 item 4, issue 14 item 3: `--write` as a real hand-off. The written pcapng
//! re-analyses to the same attempts and outcomes, carries the verdicts as packet comments
//! (Wireshark's `frame.comment`) and the capture's span in Interface Statistics Blocks, and
//! is streamed (peak memory does not follow the size of the selected connections).

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use etherparse::PacketBuilder;
use pcap_parser::{Block, PcapBlockOwned, PcapNGSlice};
use portreuse::time::{NANOS_PER_SEC, Ts};
use portreuse::write::PcapWriter;
use serde_json::Value;

const BROKEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-broken.pcap");
const MS: i64 = 1_000_000;

/// A TCP frame on Ethernet: flags as letters (S, A, F, R, P).
fn tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: &str,
    len: usize,
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 65_535);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(ack);
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    if flags.contains('P') {
        b = b.psh();
    }
    let payload = vec![0x61u8; len];
    let mut out = Vec::with_capacity(b.size(len));
    b.write(&mut out, &payload).unwrap();
    out
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

/// One connection the server closes first (so it holds TIME_WAIT): handshake, `segments`
/// server segments of `size` bytes, FINs. Returns the time after it.
fn connection(
    w: &mut PcapWriter<fs::File>,
    t: i64,
    port: u16,
    isn: u32,
    segments: u32,
    size: usize,
) -> i64 {
    let (c, s) = ((CLIENT, port), (SERVER, 110));
    let server_isn = 7_000_000u32;
    let mut t = t;
    let mut at = |w: &mut PcapWriter<fs::File>, step: i64, frame: Vec<u8>| {
        t += step;
        w.write(Ts(t), &frame).unwrap();
    };
    at(w, 0, tcp(c, s, isn, 0, "S", 0));
    at(w, MS, tcp(s, c, server_isn, isn + 1, "SA", 0));
    at(w, MS, tcp(c, s, isn + 1, server_isn + 1, "A", 0));
    let mut seq = server_isn + 1;
    for _ in 0..segments {
        at(w, 10_000, tcp(s, c, seq, isn + 1, "PA", size));
        seq = seq.wrapping_add(size as u32);
    }
    at(w, 10 * MS, tcp(s, c, seq, isn + 1, "FA", 0));
    at(w, MS, tcp(c, s, isn + 1, seq + 1, "FA", 0));
    at(w, MS, tcp(s, c, seq + 1, isn + 2, "A", 0));
    t
}

/// A SYN into the TIME_WAIT of the connection before it on the same 4-tuple, sent again
/// 3 s and 9 s later (Windows) and never answered.
fn unanswered_reuse(w: &mut PcapWriter<fs::File>, t: i64, port: u16, isn: u32) -> i64 {
    for after in [0, 3, 9] {
        let syn = tcp((CLIENT, port), (SERVER, 110), isn, 0, "S", 0);
        w.write(Ts(t + after * NANOS_PER_SEC), &syn).unwrap();
    }
    t + 9 * NANOS_PER_SEC
}

/// Ordinary traffic to another server that goes on until `until` (not flagged).
fn background(w: &mut PcapWriter<fs::File>, from: i64, until: i64) {
    let mut t = from;
    let mut port = 20_000;
    while t < until {
        let (c, s) = (([10, 0, 0, 3], port), ([10, 0, 0, 4], 80));
        w.write(Ts(t), &tcp(c, s, 1, 0, "S", 0)).unwrap();
        w.write(Ts(t + MS), &tcp(s, c, 9, 2, "SA", 0)).unwrap();
        w.write(Ts(t + 2 * MS), &tcp(c, s, 2, 10, "FA", 0)).unwrap();
        w.write(Ts(t + 3 * MS), &tcp(s, c, 10, 3, "FA", 0)).unwrap();
        w.write(Ts(t + 4 * MS), &tcp(c, s, 3, 11, "A", 0)).unwrap();
        t += 2 * NANOS_PER_SEC;
        port += 1;
    }
}

/// The attempts of a JSON document by (time, client, server, ISN) with their outcomes.
fn attempts(doc: &Value) -> Vec<((String, String, String, u64), String)> {
    doc["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let key = (
                a["time"].as_str().unwrap().to_string(),
                a["src"].as_str().unwrap().to_string(),
                a["dst"].as_str().unwrap().to_string(),
                a["isn"].as_u64().unwrap(),
            );
            (key, a["outcome"].as_str().unwrap().to_string())
        })
        .collect()
}

fn write(input: &str, out: &Path) {
    let (code, _) = common::run_in_process(&["--write", out.to_str().unwrap(), input]).unwrap();
    assert_eq!(code, 0);
}

/// Every attempt of the written file is one of the original's with the same outcome, and
/// every flagged attempt of the original is in the written file.
fn same_attempts_and_outcomes(original: &str, written: &Path) {
    let whole = common::json(&[original]);
    let part = common::json(&[written.to_str().unwrap()]);
    let all: std::collections::HashMap<_, _> = attempts(&whole).into_iter().collect();
    let kept = attempts(&part);
    for (key, outcome) in &kept {
        assert_eq!(all.get(key), Some(outcome), "{key:?} in the written file");
    }
    let failed = |list: &[(_, String)]| -> Vec<_> {
        list.iter()
            .filter(|(_, o)| o != "established" && o != "unknown")
            .map(|(k, o): &((String, String, String, u64), String)| (k.clone(), o.clone()))
            .collect()
    };
    assert_eq!(
        failed(&kept),
        failed(&attempts(&whole)),
        "every failed attempt is in the written file, in order"
    );
    assert!(!kept.is_empty());
}

#[test]
fn re_analysing_a_written_file_gives_the_same_attempts_and_outcomes() {
    let out = common::tmp("write-roundtrip.pcapng");
    write(BROKEN, &out);
    same_attempts_and_outcomes(BROKEN, &out);
}

/// The capture goes on for a minute after the last flagged SYN, but the written file holds
/// only that 4-tuple: without the span the last attempt would be `unknown` there.
#[test]
#[ignore = "needs the capture reader to expose isb_endtime (FileInfo::declared_end) and the analysis to advance its clock to it (branches capture, detect)"]
fn the_written_span_keeps_a_late_unanswered_attempt_unanswered() {
    let input = common::tmp("write-span.pcap");
    let mut w = PcapWriter::new(fs::File::create(&input).unwrap(), 65_535).unwrap();
    let t0 = 1_000 * NANOS_PER_SEC;
    let t = connection(&mut w, t0, 40_000, 1_000, 3, 100);
    let end = unanswered_reuse(&mut w, t + 3 * NANOS_PER_SEC, 40_000, 900_000);
    background(&mut w, end + NANOS_PER_SEC, end + 60 * NANOS_PER_SEC);
    drop(w);
    let input = input.to_str().unwrap();
    let doc = common::json(&[input]);
    assert_eq!(
        doc["summary"]["unanswered"], 1,
        "the capture goes on long enough"
    );
    let out = common::tmp("write-span.pcapng");
    write(input, &out);
    same_attempts_and_outcomes(input, &out);
}

type Pcapng = (Vec<(u64, Vec<String>)>, Vec<(u32, u64, u64)>, u64);

/// Comments (opt_comment) per frame, the statistics blocks' (if_id, starttime, endtime) in
/// nanoseconds (if_tsresol 9), and the number of packets.
fn read_pcapng(path: &Path) -> Pcapng {
    let data = fs::read(path).unwrap();
    let mut comments = Vec::new();
    let mut stats = Vec::new();
    let mut frames = 0;
    let word = |v: &[u8]| {
        let high = u32::from_le_bytes(v[..4].try_into().unwrap());
        let low = u32::from_le_bytes(v[4..8].try_into().unwrap());
        (u64::from(high) << 32) | u64::from(low)
    };
    for block in PcapNGSlice::from_slice(&data).unwrap() {
        match block.unwrap() {
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                frames += 1;
                let texts: Vec<String> = epb
                    .options
                    .iter()
                    .filter(|o| o.code.0 == 1)
                    .map(|o| o.as_str().unwrap().to_string())
                    .collect();
                if !texts.is_empty() {
                    comments.push((frames, texts));
                }
            }
            PcapBlockOwned::NG(Block::InterfaceStatistics(isb)) => {
                let opt = |code| {
                    isb.options
                        .iter()
                        .find(|o| o.code.0 == code)
                        .map(|o| word(o.value()))
                };
                stats.push((isb.if_id, opt(2).unwrap(), opt(3).unwrap()));
            }
            _ => {}
        }
    }
    (comments, stats, frames)
}

#[test]
fn flagged_syns_and_the_ends_they_collided_with_carry_comments_and_the_span_is_recorded() {
    let out = common::tmp("write-comments.pcapng");
    write(BROKEN, &out);
    let (comments, stats, frames) = read_pcapng(&out);
    let part = common::json(&[out.to_str().unwrap()]);
    let flagged_syns: Vec<u64> = part["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "unanswered" || a["outcome"] == "refused")
        .map(|a| a["frame"].as_u64().unwrap())
        .collect();
    let syn_comment = |frame: u64| {
        comments
            .iter()
            .find(|(f, _)| *f == frame)
            .and_then(|(_, t)| t.iter().find(|t| t.starts_with("portreuse: SYN")))
    };
    for frame in &flagged_syns {
        assert!(
            syn_comment(*frame).is_some(),
            "frame {frame} has no verdict"
        );
    }
    // The first collision, as issue 11 words it: the frame named is the written file's.
    let first = syn_comment(flagged_syns[0]).unwrap();
    assert!(
        first.starts_with(
            "portreuse: SYN into 192.168.50.10:110's TIME_WAIT; previous connection ended at frame "
        ) && first.ends_with(", 5.22 s before; unanswered"),
        "{first}"
    );
    let named: u64 = first
        .split("ended at frame ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let end = comments
        .iter()
        .find(|(f, _)| *f == named)
        .map(|(_, t)| &t[0]);
    assert!(
        end.is_some_and(|t| t.starts_with("portreuse: last packet of this connection; 5.22 s later: SYN into 192.168.50.10:110's TIME_WAIT")),
        "{end:?}"
    );
    // One statistics block, with the whole capture's span (2005-05-16T09:00:02.420600Z to
    // 09:07:08.917341Z), not the written packets'.
    let whole = common::json(&[BROKEN]);
    assert_eq!(
        whole["summary"]["first_time"],
        "2005-05-16T09:00:02.420600Z"
    );
    assert_eq!(
        stats,
        [(0, 1_116_234_002_420_600_000, 1_116_234_428_917_341_000)]
    );
    assert_eq!(frames, part["summary"]["frames"].as_u64().unwrap());
    // Wireshark shows them: `tshark -Y 'frame.comment contains "portreuse"'`.
    let tshark = Command::new("tshark")
        .args([
            "-r",
            out.to_str().unwrap(),
            "-Y",
            "frame.comment contains \"portreuse\"",
        ])
        .output();
    match tshark {
        Ok(run) if run.status.success() => {
            let lines = String::from_utf8_lossy(&run.stdout).lines().count();
            assert_eq!(lines, comments.len(), "tshark shows every commented frame");
        }
        _ => eprintln!("note: tshark not found; frame.comment check skipped"),
    }
}

/// Peak RSS in KiB of a command (GNU time), or None without it.
fn peak_rss_kib(args: &[&str]) -> Option<u64> {
    let run = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(env!("CARGO_BIN_EXE_portreuse"))
        .args(args)
        .output()
        .ok()?;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn writing_a_big_connection_streams_it() {
    // 60,000 segments of 1,400 bytes (88 MB) on the connection a later SYN collides with:
    // all of it is selected, none of it is held.
    let input = common::tmp("write-big.pcap");
    let mut w = PcapWriter::new(fs::File::create(&input).unwrap(), 65_535).unwrap();
    let t = connection(&mut w, 1_000 * NANOS_PER_SEC, 41_000, 5, 60_000, 1_400);
    let end = unanswered_reuse(&mut w, t + NANOS_PER_SEC, 41_000, 99_000);
    background(&mut w, end + NANOS_PER_SEC, end + 10 * NANOS_PER_SEC);
    drop(w);
    let size = fs::metadata(&input).unwrap().len();
    assert!(size > 80 << 20, "{size}");
    let out = common::tmp("write-big.pcapng");
    let _ = fs::remove_file(&out);
    let args = [
        "-q",
        "--write",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let Some(rss) = peak_rss_kib(&args) else {
        eprintln!("note: GNU time not found; peak RSS not measured");
        return;
    };
    let written = fs::metadata(&out).unwrap().len();
    assert!(written > size * 9 / 10, "{written} of {size} bytes");
    assert!(
        rss < 48 * 1024,
        "peak RSS {rss} KiB while writing {written} bytes"
    );
    fs::remove_file(&input).unwrap();
    fs::remove_file(&out).unwrap();
}
