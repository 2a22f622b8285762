//! Cuts a two-direction capture into the halves a capture of one direction would hold
//! (issue 13): the client-only half keeps what the clients sent, the server-only half what
//! the servers sent, frames and timestamps as they were. The client of a 4-tuple is the
//! sender of its first SYN (else the receiver of its first SYN-ACK, else the higher port);
//! an ICMP error goes with the server's side (it travels towards the quoted SYN's sender);
//! frames that are not TCP stay in both halves.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use clap::Parser;
use portreuse::attempt::Attempt;
use portreuse::capture::{self, Capture};
use portreuse::decode::{self, Decoded};
use portreuse::tcp::{Endpoint, FlowKey};
use portreuse::write::PcapWriter;
use portreuse::{app, cli::Cli};

/// The two-direction fixtures: every capture in testdata/ and testdata/real/ except the
/// one-direction ones (and their truth, whose halves are committed), the same capture in
/// another format, and the SYN flood (spoofed SYNs: no conversation to halve).
pub fn fixtures() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for dir in ["", "real/"] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".pcap"))
            .filter(|n| !n.contains("-client-only") && !n.contains("-server-only"))
            .filter(|n| !n.contains("one-direction"))
            .map(|n| format!("{dir}{n}"))
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

/// Linux captures are judged with Linux's 60 s TIME_WAIT, the field report's with 240 s.
pub fn window(fixture: &str) -> &'static str {
    if fixture.starts_with("real/") {
        "60s"
    } else {
        "240s"
    }
}

/// A frame's time, link type, bytes, length on the wire, and what it decodes to.
type Frame = (portreuse::time::Ts, u32, Vec<u8>, u32, Option<Decoded>);

/// Every frame of `path` (copied: fixtures are small).
fn frames(path: &Path) -> Vec<Frame> {
    let mut capture = capture::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(item) = capture
        .next_frame(|f| {
            let decoded = decode::decode(f, 0).ok();
            (f.ts, f.linktype, f.data.to_vec(), f.orig_len, decoded)
        })
        .unwrap()
    {
        out.push(item);
    }
    out
}

/// (client-only, server-only) halves of the capture at `path`, as pcap files in memory.
pub fn halves(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let frames = frames(path);
    // The client of each 4-tuple: its first SYN's sender, else its first SYN-ACK's receiver.
    let mut by_syn: HashMap<FlowKey, Endpoint> = HashMap::new();
    let mut by_syn_ack: HashMap<FlowKey, Endpoint> = HashMap::new();
    for (_, _, _, _, decoded) in &frames {
        if let Some(Decoded::Segment(s)) = decoded
            && s.flags.syn()
        {
            let (key, _) = FlowKey::new(s.src, s.dst);
            if s.flags.ack() {
                by_syn_ack.entry(key).or_insert(s.dst);
            } else {
                by_syn.entry(key).or_insert(s.src);
            }
        }
    }
    let linktype = frames.first().map_or(1, |f| f.1);
    assert!(
        frames.iter().all(|f| f.1 == linktype),
        "{}: several link types",
        path.display()
    );
    let writer = || PcapWriter::with_options(Vec::new(), 262_144, linktype, true).unwrap();
    let (mut c, mut s) = (writer(), writer());
    for (ts, _, data, orig_len, decoded) in &frames {
        let from_client = match decoded {
            Some(Decoded::Segment(seg)) => {
                let (key, _) = FlowKey::new(seg.src, seg.dst);
                match by_syn.get(&key).or(by_syn_ack.get(&key)) {
                    Some(c) => Some(*c == seg.src),
                    None => Some(seg.src.port > seg.dst.port),
                }
            }
            Some(Decoded::Icmp(_)) => Some(false),
            None => None,
        };
        if from_client != Some(false) {
            c.write_cut(*ts, data, *orig_len).unwrap();
        }
        if from_client != Some(true) {
            s.write_cut(*ts, data, *orig_len).unwrap();
        }
    }
    (c.into_inner(), s.into_inner())
}

/// Analyses a capture given as bytes with the CLI's defaults and `--time-wait window`,
/// keeping every attempt; also returns the report.
pub fn analyse(name: &str, bytes: Vec<u8>, window: &str) -> (Vec<Attempt>, app::Analysis) {
    let cli = Cli::try_parse_from(["portreuse", "-q", "--time-wait", window, name]).unwrap();
    let capture: Capture = capture::open_reader(Box::new(Cursor::new(bytes))).unwrap();
    let mut out = Vec::new();
    let options = app::Options::from_cli(&cli);
    let analysis = app::analyze(
        &options,
        vec![name.to_string()],
        vec![capture],
        &mut |a, _| {
            out.push(*a);
            Ok(())
        },
    )
    .unwrap();
    (out, analysis)
}
