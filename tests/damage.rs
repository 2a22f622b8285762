//! Damage keeps what was read, and goes on (issue 14): every kind of damage analysed as the
//! undamaged part of the file is (the same attempts, outcomes, `--check` status), with a
//! warning that names the file, the frame and the byte offset where the damage begins.

mod common;

use std::fs;
use std::io::{Read, Write};

use portreuse::time::Ts;
use portreuse::write::{NetmonWriter, NgInterface, PcapNgWriter, PcapWriter};
use serde_json::Value;

/// (time, data, original length) of every frame of the broken-case fixture.
fn fixture() -> Vec<(Ts, Vec<u8>, u32)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-broken.pcap");
    let mut capture = portreuse::capture::open(std::path::Path::new(path)).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = capture
        .next_frame(|f| (f.ts, f.data.to_vec(), f.orig_len))
        .unwrap()
    {
        frames.push(f);
    }
    assert_eq!(frames.len(), 2134);
    frames
}

/// A little-endian microsecond pcap of `frames` (snap length 65535).
fn pcap(frames: &[(Ts, Vec<u8>, u32)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 65535).unwrap();
    for (ts, data, orig) in frames {
        w.write_cut(*ts, data, *orig).unwrap();
    }
    w.into_inner()
}

/// Byte offsets of the records of a little-endian pcap.
fn records(bytes: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        out.push(at);
        at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    out
}

/// The `--check` status, the analysis without frame numbers (they differ by the damaged
/// record's number) and the warnings of `bytes` written as `name`.
struct Analysis {
    check: u8,
    attempts: Value,
    summary: Value,
    cross: Value,
    warnings: Vec<String>,
    path: String,
}

fn analyse(name: &str, bytes: &[u8]) -> Analysis {
    let path = common::tmp(name);
    fs::write(&path, bytes).unwrap();
    let path = path.to_str().unwrap().to_string();
    let (check, out) =
        common::run_in_process(&["--check", "--format", "json", &path]).expect("analysed");
    let doc: Value = serde_json::from_str(&out).expect("valid JSON");
    let mut attempts = doc["attempts"].clone();
    strip_frames(&mut attempts);
    let warnings = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    Analysis {
        check,
        attempts,
        summary: doc["summary"].clone(),
        cross: doc["cross_table"].clone(),
        warnings,
        path,
    }
}

/// Drops file names and frame numbers (`frame`, `answer_frame`, `previous_frame`, ...).
fn strip_frames(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| k != "file" && !k.ends_with("frame"));
            o.values_mut().for_each(strip_frames);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_frames),
        _ => {}
    }
}

/// The damaged file's analysis equals the reference's.
fn assert_same(got: &Analysis, want: &Analysis) {
    assert_eq!(got.summary, want.summary, "{}: summary", got.path);
    assert_eq!(got.cross, want.cross, "{}: cross table", got.path);
    assert_eq!(got.check, want.check, "{}: --check status", got.path);
    let (g, w) = (
        got.attempts.as_array().unwrap(),
        want.attempts.as_array().unwrap(),
    );
    assert_eq!(g.len(), w.len(), "{}: attempts", got.path);
    if let Some((a, b)) = g.iter().zip(w).find(|(a, b)| a != b) {
        panic!("{}: attempt differs:\n got {a}\nwant {b}", got.path);
    }
}

/// The one warning that contains `what`.
fn warning<'a>(a: &'a Analysis, what: &str) -> &'a str {
    let found: Vec<&String> = a.warnings.iter().filter(|w| w.contains(what)).collect();
    assert_eq!(found.len(), 1, "{what:?} in {:?}", a.warnings);
    assert!(
        found[0].starts_with(&format!("{}: ", a.path)),
        "{}",
        found[0]
    );
    found[0]
}

fn thousands(n: usize) -> String {
    portreuse::report::thousands(n as u64)
}

/// Record `k` (0-based) of the fixture damaged by `damage`, against the fixture without it.
fn damaged_record(name: &str, k: usize, damage: impl Fn(&mut [u8], usize)) -> Analysis {
    let frames = fixture();
    let mut bytes = pcap(&frames);
    let at = records(&bytes)[k];
    damage(&mut bytes, at);
    let got = analyse(&format!("{name}.pcap"), &bytes);
    let mut rest = frames.clone();
    rest.remove(k);
    let want = analyse(&format!("{name}-reference.pcap"), &pcap(&rest));
    assert_same(&got, &want);
    let next = records(&pcap(&frames))[k + 1];
    let w = warning(&got, "damaged record at byte");
    assert!(
        w.contains(&format!(
            "damaged record at byte {} (frame {}): ",
            thousands(at),
            thousands(k + 1)
        )),
        "{w}"
    );
    assert!(
        w.ends_with(&format!(
            "skipped {} bytes to the next plausible record at byte {} and read on",
            thousands(next - at),
            thousands(next)
        )),
        "{w}"
    );
    got
}

#[test]
fn a_mid_file_absurd_length_is_skipped_and_the_rest_analysed() {
    let got = damaged_record("absurd", 1000, |b, at| {
        b[at + 8..at + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes())
    });
    assert_eq!(got.check, 1);
    warning(
        &got,
        "the record claims 2147483647 bytes (at most 262144 are possible)",
    );
}

/// Issue 14: a bad length under 1 MiB was "cut short", the rest skipped, and `--check`
/// passed although failures followed.
#[test]
fn a_bad_length_under_1_mib_early_in_the_file_no_longer_hides_the_failures_after_it() {
    let prefix = analyse("prefix.pcap", &pcap(&fixture()[..12]));
    assert_eq!(
        prefix.check, 0,
        "the frames before the damage show no failure"
    );
    // Longer than the snap length, but under 256 KiB.
    let got = damaged_record("over-snaplen", 12, |b, at| {
        b[at + 8..at + 12].copy_from_slice(&100_000u32.to_le_bytes())
    });
    assert_eq!(got.check, 1);
    warning(&got, "the record is longer than the file's snap length");
    // Within the snap length, but longer than the packet was.
    let got = damaged_record("over-orig", 12, |b, at| {
        let caplen = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap());
        b[at + 8..at + 12].copy_from_slice(&(caplen + 300).to_le_bytes())
    });
    warning(&got, "longer than the packet was on the wire");
    // Shorter than the packet, yet not cut to the snap length.
    let got = damaged_record("short", 12, |b, at| {
        let caplen = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap());
        b[at + 8..at + 12].copy_from_slice(&(caplen - 20).to_le_bytes())
    });
    warning(&got, "cut, but not to the file's snap length");
}

#[test]
fn garbage_where_records_should_be_is_skipped() {
    let frames = fixture();
    let clean = pcap(&frames);
    let at = records(&clean)[500];
    let mut bytes = clean[..at].to_vec();
    bytes.extend(std::iter::repeat_n(0xa5, 3000));
    bytes.extend(&clean[at..]);
    let got = analyse("garbage.pcap", &bytes);
    let want = analyse("garbage-reference.pcap", &clean);
    assert_eq!(got.summary, want.summary);
    assert_eq!(got.check, want.check);
    let w = warning(&got, "damaged record at byte");
    assert!(w.contains("skipped 3,000 bytes"), "{w}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// What a decoder gives before it fails: the reference for a damaged compressed file.
fn readable(mut decoder: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = decoder.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn a_gzip_file_missing_only_its_trailer_is_analysed_whole_with_a_warning() {
    let plain = pcap(&fixture());
    let gz = gzip(&plain);
    let got = analyse("no-trailer.pcap.gz", &gz[..gz.len() - 8]);
    let want = analyse("no-trailer-reference.pcap", &plain);
    assert_same(&got, &want);
    let w = warning(&got, "without its 8-byte trailer");
    assert!(
        w.contains(&format!("at compressed byte {}", thousands(gz.len() - 8))),
        "{w}"
    );
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    // It is damage for --strict.
    let (code, _) = common::run_in_process(&["--strict", &got.path]).unwrap();
    assert_eq!(code, 1);
}

/// A compressed file cut or damaged: every frame decompressed before the fault, and a
/// warning with the compressed offset and the frame.
fn compressed_fault(name: &str, damaged: &[u8], reference: Vec<u8>, what: &str, offset: usize) {
    let got = analyse(name, damaged);
    let want = analyse(&format!("{name}-reference.pcap"), &reference);
    assert_eq!(got.summary, want.summary, "{name}");
    assert_eq!(got.cross, want.cross, "{name}");
    assert!(got.summary["frames"].as_u64().unwrap() > 100, "{name}");
    let w = warning(&got, what);
    assert!(
        w.contains(&format!("compressed byte {}", thousands(offset))),
        "{name}: {w}"
    );
    // Records wholly decompressed, and whether the stream stopped inside the next one.
    let starts = records(&reference);
    let end = |at: usize| {
        at + 16 + u32::from_le_bytes(reference[at + 8..at + 12].try_into().unwrap()) as usize
    };
    let whole = starts
        .iter()
        .filter(|at| end(**at) <= reference.len())
        .count();
    let place = if reference.len() > starts.last().map_or(24, |at| end(*at)) || whole < starts.len()
    {
        format!("inside frame {}", thousands(whole + 1))
    } else {
        format!("after frame {}", thousands(whole))
    };
    assert!(
        w.contains(&place),
        "{name}: {w} (wanted {place}, {} bytes)",
        reference.len()
    );
    assert!(
        w.ends_with(&format!(
            "analysed the {} frames decompressed before it",
            thousands(whole)
        )),
        "{name}: {w}"
    );
}

#[test]
fn a_cut_or_damaged_gzip_stream_gives_every_frame_before_the_damage() {
    let gz = gzip(&pcap(&fixture()));
    let cut = &gz[..gz.len() / 2];
    let reference = readable(flate2::read::GzDecoder::new(cut));
    compressed_fault(
        "cut.pcap.gz",
        cut,
        reference,
        "gzip stream is cut short",
        cut.len(),
    );
    let mut bad = gz.clone();
    let middle = bad.len() / 2;
    bad[middle..middle + 64].fill(0xff);
    let reference = readable(flate2::read::GzDecoder::new(&bad[..]));
    let got = analyse("damaged.pcap.gz", &bad);
    // Deflate data either fails to decode, or decodes to garbage that the CRC-32 catches.
    let found = got.warnings.iter().any(|w| {
        w.contains("gzip stream is damaged at compressed byte") && w.contains("invalid deflate")
            || w.contains("gzip checksum does not match")
    });
    assert!(found, "{:?}", got.warnings);
    let want = analyse("damaged-reference.pcap", &reference);
    assert_eq!(got.summary, want.summary);
    assert!(got.summary["frames"].as_u64().unwrap() > 1000);
}

#[test]
fn a_cut_or_damaged_zstd_stream_gives_every_frame_before_the_damage() {
    let zst = zstd::encode_all(&pcap(&fixture())[..], 3).unwrap();
    // (libzstd decodes whole blocks of up to 128 KiB: a cut in the first gives nothing.)
    for cut_at in [zst.len() / 2, zst.len() * 3 / 4, zst.len() - 5] {
        let cut = &zst[..cut_at];
        let reference = readable(zstd::stream::read::Decoder::new(cut).unwrap());
        let name = format!("cut-{cut_at}.pcap.zst");
        compressed_fault(&name, cut, reference, "zstd stream is cut short", cut_at);
    }
    let mut bad = zst.clone();
    let late = bad.len() * 3 / 4;
    bad[late..late + 64].fill(0x55);
    let got = analyse("damaged.pcap.zst", &bad);
    let w = warning(&got, "zstd stream is damaged at compressed byte");
    let reference = readable(zstd::stream::read::Decoder::new(&bad[..]).unwrap());
    let want = analyse("damaged-reference.zst.pcap", &reference);
    assert_eq!(got.summary, want.summary, "{w}");
    assert!(got.summary["frames"].as_u64().unwrap() > 100, "{w}");
    // A cut inside the first block leaves nothing to analyse: exit 2, located.
    let path = common::tmp("cut-early.pcap.zst");
    fs::write(&path, &zst[..1000]).unwrap();
    let err = common::run_in_process(&[path.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("the zstd stream is cut short at compressed byte 1000"),
        "{err}"
    );
}

/// The fixture as pcapng with `interfaces` Ethernet interfaces, packets on interface 0.
fn pcapng(frames: &[(Ts, Vec<u8>, u32)], interfaces: usize) -> Vec<u8> {
    let iface = NgInterface {
        linktype: 1,
        snaplen: 65535,
        tsresol: 6,
    };
    let mut w = PcapNgWriter::new(Vec::new(), false, &vec![iface; interfaces]).unwrap();
    for (ts, data, orig) in frames {
        w.write(0, *ts, data, *orig).unwrap();
    }
    w.into_inner()
}

/// Offsets of the Enhanced Packet Blocks of a little-endian pcapng.
fn blocks(bytes: &[u8]) -> Vec<usize> {
    let (mut at, mut out) = (0, Vec::new());
    while at + 8 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        if kind == 6 {
            out.push(at);
        }
        at += u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    out
}

#[test]
fn a_damaged_pcapng_block_is_skipped_and_the_rest_analysed() {
    let frames = fixture();
    let clean = pcapng(&frames, 1);
    let mut rest = frames.clone();
    rest.remove(700);
    let want = analyse("ng-reference.pcapng", &pcapng(&rest, 1));
    let at = blocks(&clean)[700];
    let next = blocks(&clean)[701];
    for (name, field, value) in [
        ("ng-length.pcapng", 4, 0x0010_0000u32),
        ("ng-small.pcapng", 4, 8),
        ("ng-caplen.pcapng", 20, 60_000),
    ] {
        let mut bytes = clean.clone();
        bytes[at + field..at + field + 4].copy_from_slice(&value.to_le_bytes());
        let got = analyse(name, &bytes);
        assert_same(&got, &want);
        let w = warning(&got, "damaged record at byte");
        assert!(
            w.contains(&format!("at byte {} (frame 701)", thousands(at))),
            "{name}: {w}"
        );
        assert!(
            w.contains(&format!("skipped {} bytes", thousands(next - at))),
            "{name}: {w}"
        );
    }
}

#[test]
fn a_packet_naming_an_undescribed_interface_is_skipped_and_said_plainly() {
    let frames = fixture();
    for (interfaces, described) in [
        (1, "only interface 0"),
        (3, "interfaces 0\u{2013}2"),
        (100_000, "interfaces 0\u{2013}99999"),
    ] {
        let mut bytes = pcapng(&frames[..50], interfaces);
        let at = blocks(&bytes)[9];
        bytes[at + 8..at + 12].copy_from_slice(&100_000u32.to_le_bytes());
        let got = analyse(&format!("ng-iface-{interfaces}.pcapng"), &bytes);
        let w = warning(&got, "names interface");
        assert!(
            w.contains(&format!(
                "at byte {} (frame 10): the packet block names interface 100000, but the section describes {described}; skipped",
                thousands(at)
            )),
            "{w}"
        );
        assert_eq!(got.summary["frames"], 49);
    }
}

#[test]
fn a_netmon_frame_table_claiming_2_gib_is_a_warning_and_every_frame_is_read() {
    let frames = fixture();
    let mut netmon = NetmonWriter::new();
    for (ts, data, orig) in &frames {
        netmon.write(*ts, data, *orig);
    }
    let clean = netmon.finish();
    let mut bytes = clean.clone();
    bytes[28..32].copy_from_slice(&(0x8000_0000u32 - 4).to_le_bytes());
    let got = analyse("huge-table.cap", &bytes);
    let want = analyse("huge-table-reference.cap", &clean);
    assert_same(&got, &want);
    warning(&got, "into its frame table of 2147483644 bytes");
}

/// A pcapng whose Interface Statistics Block declares a span past its last packet (as
/// `--write` files do): the reader exposes it.
#[test]
fn an_isb_declares_the_capture_span() {
    let frames = fixture();
    let mut bytes = pcapng(&frames[..3], 1);
    let end = frames[2].0.0 / 1000 + 90_000_000; // 90 s after the last frame, in µs
    let start = frames[0].0.0 / 1000 - 5_000_000;
    let mut body = Vec::new();
    body.extend(0u32.to_le_bytes()); // interface 0
    body.extend(((end as u64 >> 32) as u32).to_le_bytes());
    body.extend((end as u32).to_le_bytes());
    for (code, ts) in [(2u16, start as u64), (3, end as u64)] {
        body.extend(code.to_le_bytes());
        body.extend(8u16.to_le_bytes());
        body.extend(((ts >> 32) as u32).to_le_bytes());
        body.extend((ts as u32).to_le_bytes());
    }
    body.extend([0u8; 4]); // opt_endofopt
    let len = (12 + body.len()) as u32;
    bytes.extend(5u32.to_le_bytes());
    bytes.extend(len.to_le_bytes());
    bytes.extend(&body);
    bytes.extend(len.to_le_bytes());
    let path = common::tmp("isb-span.pcapng");
    fs::write(&path, &bytes).unwrap();
    let mut capture = portreuse::capture::open(&path).unwrap();
    while capture.next_frame(|_| ()).unwrap().is_some() {}
    assert_eq!(capture.info.frames, 3);
    assert_eq!(capture.info.declared_end, Some(Ts(end * 1000)));
    assert_eq!(capture.info.declared_start, Some(Ts(start * 1000)));
    assert!(!capture.info.is_damaged());
}

/// Concatenated gzip members and zstd frames (pigz, pzstd, `cat a.gz b.gz`) read as one
/// stream; bytes after the end that are not compressed data are a warning only.
#[test]
fn several_members_or_frames_read_on_and_trailing_garbage_is_a_warning() {
    let plain = pcap(&fixture());
    let want = analyse("members-reference.pcap", &plain);
    let half = records(&plain)[1000];
    let mut gz = gzip(&plain[..half]);
    gz.extend(gzip(&plain[half..]));
    let got = analyse("members.pcap.gz", &gz);
    assert_same(&got, &want);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let mut zst = zstd::encode_all(&plain[..half], 3).unwrap();
    zst.extend(zstd::encode_all(&plain[half..], 3).unwrap());
    let got = analyse("frames.pcap.zst", &zst);
    assert_same(&got, &want);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    for (name, mut bytes) in [("garbage.pcap.gz", gzip(&plain)), ("garbage.pcap.zst", zst)] {
        let end = bytes.len();
        bytes.extend(b"not compressed at all");
        let got = analyse(name, &bytes);
        assert_same(&got, &want);
        let w = warning(&got, "are not");
        assert!(
            w.contains(&format!("from compressed byte {} on", thousands(end))),
            "{w}"
        );
        let (code, _) = common::run_in_process(&["--strict", &got.path]).unwrap();
        assert_eq!(code, 0, "trailing garbage is no damage to the capture");
    }
}
