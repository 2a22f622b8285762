//! The same trace written in every supported input format gives the same analysis: pcap (µs
//! and ns), pcapng (two interfaces, ns resolution; little- and big-endian; power-of-two
//! resolution), gzip'd and zstd'd pcap, Linux SLL and SLL2, snap length 128, Network
//! Monitor 2.0 (written by our own writer), standard input.

mod common;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Stdio;

use portreuse::synth::{Case, Scenario, generate};
use portreuse::time::Ts;
use portreuse::write::{NetmonWriter, NgInterface, PcapNgWriter, PcapWriter};
use serde_json::Value;

struct Frame {
    ts: Ts,
    data: Vec<u8>,
    orig_len: u32,
}

fn broken_case_frames() -> Vec<Frame> {
    let path = common::tmp("formats-source.pcap");
    let mut w = PcapWriter::new(BufWriter::new(File::create(&path).unwrap()), 65535).unwrap();
    generate(&Scenario::fixture(Case::Broken), &mut w).unwrap();
    drop(w);
    let mut capture = portreuse::capture::open(&path).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = capture
        .next_frame(|f| Frame {
            ts: f.ts,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
        })
        .unwrap()
    {
        frames.push(f);
    }
    frames
}

/// Ethernet II -> Linux cooked v1 (16-byte header, protocol at 14) or v2 (20 bytes, at 0).
fn cooked(eth: &[u8], v2: bool) -> Vec<u8> {
    let (ether_type, payload) = (&eth[12..14], &eth[14..]);
    let mut out = Vec::with_capacity(eth.len() + 6);
    if v2 {
        out.extend_from_slice(ether_type);
        out.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
        out.extend_from_slice(&eth[6..12]);
        out.extend_from_slice(&[0, 0]);
    } else {
        out.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
        out.extend_from_slice(&eth[6..12]);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(ether_type);
    }
    out.extend_from_slice(payload);
    out
}

fn write_pcap(
    path: &Path,
    frames: &[Frame],
    snaplen: u32,
    linktype: u32,
    nanos: bool,
    map: impl Fn(&[u8]) -> Vec<u8>,
) {
    let mut w = PcapWriter::with_options(
        BufWriter::new(File::create(path).unwrap()),
        snaplen,
        linktype,
        nanos,
    )
    .unwrap();
    for f in frames {
        let data = map(&f.data);
        let extra = data.len() as u32 - f.data.len().min(data.len()) as u32;
        w.write_cut(f.ts, &data, f.orig_len + extra).unwrap();
    }
    w.into_inner().flush().unwrap();
}

fn write_pcapng(path: &Path, frames: &[Frame], big_endian: bool, tsresol: u8) {
    let eth = NgInterface {
        linktype: 1,
        snaplen: 262_144,
        tsresol,
    };
    let mut w = PcapNgWriter::new(
        BufWriter::new(File::create(path).unwrap()),
        big_endian,
        &[eth, eth],
    )
    .unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write((i % 2) as u32, f.ts, &f.data, f.orig_len).unwrap();
    }
    w.into_inner().flush().unwrap();
}

/// The parts of the JSON that must not depend on the format: attempts without `file`, and
/// the summary; times compared as instants (a ns file prints 9 digits, a µs file 6).
fn comparable(doc: &Value) -> (Value, Value) {
    let trim = |t: &str| t.trim_end_matches('Z').trim_end_matches('0').to_string();
    let mut attempts = doc["attempts"].clone();
    for a in attempts.as_array_mut().unwrap() {
        let a = a.as_object_mut().unwrap();
        a.remove("file");
        let t = trim(a["time"].as_str().unwrap());
        a.insert("time".into(), Value::String(t));
    }
    let mut summary = doc["summary"].clone();
    for key in ["first_time", "last_time"] {
        let t = trim(summary[key].as_str().unwrap());
        summary[key] = Value::String(t);
    }
    (attempts, summary)
}

/// Compares without dumping 345 attempts: the summary, then the first differing attempt.
fn assert_same(name: &str, got: &(Value, Value), want: &(Value, Value)) {
    assert_eq!(got.1, want.1, "{name}: summary differs");
    let (g, w) = (got.0.as_array().unwrap(), want.0.as_array().unwrap());
    assert_eq!(g.len(), w.len(), "{name}: number of attempts");
    if let Some((a, b)) = g.iter().zip(w).find(|(a, b)| a != b) {
        panic!("{name}: attempt differs:\n got {a}\nwant {b}");
    }
}

#[test]
fn every_format_gives_the_same_summary_and_attempts() {
    let frames = broken_case_frames();
    let dir = common::tmp("formats");
    fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name);
    let same = |d: &[u8]| d.to_vec();
    write_pcap(&p("us.pcap"), &frames, 65535, 1, false, same);
    write_pcap(&p("ns.pcap"), &frames, 65535, 1, true, same);
    write_pcap(&p("s128.pcap"), &frames, 128, 1, false, same);
    write_pcap(&p("sll.pcap"), &frames, 65535, 113, false, |d| {
        cooked(d, false)
    });
    write_pcap(&p("sll2.pcap"), &frames, 65535, 276, true, |d| {
        cooked(d, true)
    });
    write_pcapng(&p("le-ns.pcapng"), &frames, false, 9);
    write_pcapng(&p("be-ns.pcapng"), &frames, true, 9);
    write_pcapng(&p("le-pow2.pcapng"), &frames, false, 0x80 | 20);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&fs::read(p("us.pcap")).unwrap()).unwrap();
    fs::write(p("us.pcap.gz.bin"), gz.finish().unwrap()).unwrap();
    let pcap = fs::read(p("us.pcap")).unwrap();
    let zst = zstd::encode_all(&pcap[..], 1).unwrap();
    fs::write(p("us.pcap.zst.bin"), zst).unwrap();

    let mut netmon = NetmonWriter::new();
    for f in &frames {
        netmon.write(f.ts, &f.data, f.orig_len);
    }
    fs::write(p("netmon2.cap"), netmon.finish()).unwrap();

    let reference = comparable(&common::json(&[p("us.pcap").to_str().unwrap()]));
    assert_eq!(reference.0.as_array().unwrap().len(), 345);
    for name in [
        "ns.pcap",
        "s128.pcap",
        "sll.pcap",
        "sll2.pcap",
        "le-ns.pcapng",
        "be-ns.pcapng",
        "us.pcap.gz.bin",
        "us.pcap.zst.bin",
        "netmon2.cap",
    ] {
        let doc = common::json(&[p(name).to_str().unwrap()]);
        assert_same(name, &comparable(&doc), &reference);
    }
    // 2^-20 s cannot hold every microsecond exactly: outcomes and counts still agree.
    let pow2 = common::json(&[p("le-pow2.pcapng").to_str().unwrap()]);
    for key in [
        "syn_attempts",
        "established",
        "unanswered",
        "refused",
        "reused_in_window",
        "unanswered_reused_in_window",
    ] {
        assert_eq!(pow2["summary"][key], reference.1[key], "{key}");
    }

    // Standard input, gzip'd.
    let gz = fs::read(p("us.pcap.gz.bin")).unwrap();
    let mut child = common::bin_std()
        .args(["--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&gz).unwrap());
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_same("stdin", &comparable(&doc), &reference);
    assert_eq!(doc["files"][0]["compression"], "gzip");
}
