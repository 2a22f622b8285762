//! The NetMon reader on files written by a tiny writer here, on every truncated prefix and
//! on damage, and on the shared corpus against tshark.

use super::*;
use crate::capture::Source;
use crate::capture::frame::NOT_A_PACKET;
use crate::capture::info::Damage;
use crate::capture::input::Input;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;

/// 2026-11-23 00:31:40.825 (Monday), the corpus files' header SYSTEMTIME.
const START: [u16; 8] = [2026, 11, 1, 23, 0, 31, 40, 825];
const START_NS: i64 = 1_795_393_900_825_000_000;

/// A record as a tiny writer lays it out.
#[derive(Clone)]
struct Rec {
    /// 1.x: milliseconds; 2.x: the raw u64 "microseconds" field.
    delta: u64,
    orig_len: u32,
    data: Vec<u8>,
    /// 2.1+ trailer media type.
    media: u16,
    /// 2.3 trailer FILETIME.
    filetime: u64,
}

fn rec(delta: u64, data: &[u8]) -> Rec {
    Rec {
        delta,
        orig_len: data.len() as u32,
        data: data.to_vec(),
        media: 1,
        filetime: 0,
    }
}

/// How the writer places records and the frame table.
#[derive(Clone, Default)]
struct Layout {
    /// Bytes of padding after each record.
    gap: usize,
    /// Frame table right after the header (at 128) instead of at the end.
    table_first: bool,
    /// Frame table order (indices into the records); `None` = stored order.
    order: Option<Vec<usize>>,
    /// A comment section of this many bytes between the records and a trailing table.
    comments: usize,
}

fn encode(major: u8, minor: u8, r: &Rec) -> Vec<u8> {
    let mut out = Vec::new();
    if major == 1 {
        out.extend((r.delta as u32).to_le_bytes());
        out.extend((r.orig_len as u16).to_le_bytes());
        out.extend((r.data.len() as u16).to_le_bytes());
    } else {
        out.extend(r.delta.to_le_bytes());
        out.extend(r.orig_len.to_le_bytes());
        out.extend((r.data.len() as u32).to_le_bytes());
    }
    out.extend(&r.data);
    if major == 2 && minor >= 1 {
        out.extend(r.media.to_le_bytes());
    }
    if major == 2 && minor >= 2 {
        out.extend(0xFFFF_FFFFu32.to_le_bytes());
    }
    if major == 2 && minor >= 3 {
        out.extend(r.filetime.to_le_bytes());
        out.push(0);
    }
    out
}

fn write(major: u8, minor: u8, media: u16, recs: &[Rec], layout: &Layout) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = recs.iter().map(|r| encode(major, minor, r)).collect();
    let table_len = 4 * recs.len();
    let mut offsets = Vec::new();
    let mut at = 128 + if layout.table_first { table_len } else { 0 };
    for e in &encoded {
        offsets.push(at as u32);
        at += e.len() + layout.gap;
    }
    let comments_offset = at;
    let table_offset = if layout.table_first {
        128
    } else {
        at + layout.comments
    };
    let mut file = Vec::new();
    file.extend(if major == 1 { b"RTSS" } else { b"GMBU" });
    file.push(minor);
    file.push(major);
    file.extend(media.to_le_bytes());
    for field in START {
        file.extend(field.to_le_bytes());
    }
    file.extend((table_offset as u32).to_le_bytes());
    file.extend((table_len as u32).to_le_bytes());
    file.resize(40, 0);
    if layout.comments > 0 {
        file.extend((comments_offset as u32).to_le_bytes());
        file.extend((layout.comments as u32).to_le_bytes());
    }
    file.resize(128, 0);
    let table: Vec<u8> = match &layout.order {
        Some(order) => order
            .iter()
            .flat_map(|i| offsets[*i].to_le_bytes())
            .collect(),
        None => offsets.iter().flat_map(|o| o.to_le_bytes()).collect(),
    };
    if layout.table_first {
        file.extend(&table);
    }
    for e in &encoded {
        file.extend(e);
        file.extend(std::iter::repeat_n(0xEEu8, layout.gap));
    }
    if !layout.table_first {
        file.extend(std::iter::repeat_n(0x77u8, layout.comments));
        file.extend(&table);
    }
    file
}

#[derive(Debug, PartialEq)]
struct Got {
    number: u64,
    ts: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
    offset: u64,
}

struct Outcome {
    frames: Vec<Got>,
    /// The cut (`truncated`), or the read error that ended the file.
    end: Result<Option<(u64, u64)>, CaptureError>,
    damage: Vec<Damage>,
}

fn read_from(input: Source) -> Result<(NetmonReader, Outcome), CaptureError> {
    let mut info = FileInfo::default();
    let mut reader = NetmonReader::new(Window::new(Input::Plain(input), &[]), &mut info)?;
    let mut frames = Vec::new();
    let end = loop {
        let next = reader.next(&mut info, |f| Got {
            number: f.number,
            ts: f.ts.0,
            linktype: f.linktype,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
            offset: f.offset,
        });
        match next {
            Ok(Some(got)) => frames.push(got),
            Ok(None) => break Ok(info.truncated),
            Err(e) => break Err(e),
        }
    };
    // The end is sticky.
    assert!(matches!(reader.next(&mut info, |_| ()), Ok(None)));
    let damage = info.damage.clone();
    Ok((
        reader,
        Outcome {
            frames,
            end,
            damage,
        },
    ))
}

fn read(bytes: &[u8]) -> Result<(NetmonReader, Outcome), CaptureError> {
    read_from(Box::new(Cursor::new(bytes.to_vec())))
}

fn read_ok(bytes: &[u8]) -> (NetmonReader, Vec<Got>) {
    let (reader, out) = read(bytes).expect("header");
    assert!(matches!(out.end, Ok(None)), "{:?}", out.end.err());
    assert!(out.damage.is_empty(), "{:?}", out.damage);
    (reader, out.frames)
}

/// The one damage note of a read, whose text contains `what`.
fn damage_with(out: &Outcome, what: &str) -> Damage {
    assert_eq!(out.damage.len(), 1, "{:?}", out.damage);
    let d = out.damage[0].clone();
    assert!(d.why.contains(what), "{}", d.why);
    d
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn sample(major: u8, minor: u8) -> Vec<Rec> {
    let mut recs = vec![rec(0, &payload(60, 1)), rec(1500, &payload(74, 2))];
    let mut cut = rec(2_000_000, &payload(128, 3));
    cut.orig_len = 1514;
    recs.push(cut);
    for (i, r) in recs.iter_mut().enumerate() {
        r.filetime = 134_000_000_000_000_000 + i as u64 * 12_345;
    }
    if major == 1 {
        recs[1].delta = 2;
        recs[2].delta = 2_000;
    }
    let _ = minor;
    recs
}

#[test]
fn systemtime_is_read_as_utc_and_normalised_like_mktime() {
    assert_eq!(
        systemtime_utc([2026, 11, 23, 0, 31, 40, 825]),
        i128::from(START_NS)
    );
    assert_eq!(systemtime_utc([1970, 1, 1, 0, 0, 0, 0]), 0);
    // Month 13 is January of the next year; day 0 is the last day of the month before.
    assert_eq!(
        systemtime_utc([2025, 13, 1, 0, 0, 0, 0]),
        systemtime_utc([2026, 1, 1, 0, 0, 0, 0])
    );
    assert_eq!(
        systemtime_utc([2024, 3, 0, 0, 0, 0, 0]),
        systemtime_utc([2024, 2, 29, 0, 0, 0, 0])
    );
    assert_eq!(
        systemtime_utc([2024, 0, 1, 25, 0, 0, 1500]),
        systemtime_utc([2023, 12, 2, 1, 0, 1, 500])
    );
    // Extreme fields do not overflow.
    let _ = systemtime_utc([u16::MAX; 7]);
    let _ = systemtime_utc([0; 7]);
}

#[test]
fn netmon_2_0_frames_times_and_offsets() {
    let recs = sample(2, 0);
    let file = write(2, 0, 1, &recs, &Layout::default());
    let (reader, frames) = read_ok(&file);
    assert_eq!(reader.version(), (2, 0));
    assert_eq!(reader.digits(), 6);
    assert_eq!(reader.format(), "netmon2");
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].number, 1);
    assert_eq!(frames[0].offset, 128);
    assert_eq!(frames[1].offset, 128 + 16 + 60);
    assert_eq!(frames[2].offset, 128 + 16 + 60 + 16 + 74);
    assert_eq!(frames[0].ts, START_NS);
    assert_eq!(frames[1].ts, START_NS + 1_500_000);
    assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
    assert_eq!(frames[2].data, payload(128, 3));
    assert_eq!(frames[2].orig_len, 1514);
    assert!(frames.iter().all(|f| f.linktype == 1));
}

#[test]
fn netmon_1_x_milliseconds_and_16_bit_lengths() {
    let recs = sample(1, 1);
    let file = write(1, 1, 1, &recs, &Layout::default());
    let (reader, frames) = read_ok(&file);
    assert_eq!(reader.version(), (1, 1));
    assert_eq!(reader.digits(), 3);
    assert_eq!(reader.format(), "netmon1");
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].offset, 128 + 8 + 60);
    assert_eq!(frames[1].ts, START_NS + 2_000_000);
    assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
    assert_eq!(frames[2].orig_len, 1514);
    assert_eq!(frames[2].data.len(), 128);
}

#[test]
fn netmon_2_0_offsets_wrap_to_negative_like_wireshark() {
    // (2^64 - 6) / 10 "microseconds" times 10 is -6 in 100 ns units.
    let recs = [rec(1_844_674_407_370_955_161, b"x")];
    let file = write(2, 0, 1, &recs, &Layout::default());
    let (_, frames) = read_ok(&file);
    assert_eq!(frames[0].ts, START_NS - 600);
}

#[test]
fn netmon_2_3_filetime_replaces_the_header_time() {
    let recs = sample(2, 3);
    let file = write(2, 3, 1, &recs, &Layout::default());
    let (reader, frames) = read_ok(&file);
    assert_eq!(reader.digits(), 7);
    assert_eq!(frames[1].offset, 128 + 16 + 60 + 15);
    let unix = |ft: u64| (i64::try_from(ft).unwrap() - 116_444_736_000_000_000) * 100;
    for (f, r) in frames.iter().zip(&recs) {
        assert_eq!(f.ts, unix(r.filetime));
    }
    // 2.2: 6-byte trailer, header time plus offset.
    let file = write(2, 2, 1, &recs, &Layout::default());
    let (reader, frames) = read_ok(&file);
    assert_eq!(reader.digits(), 6);
    assert_eq!(frames[1].offset, 128 + 16 + 60 + 6);
    assert_eq!(frames[2].ts, START_NS + 2_000_000_000);
    // A FILETIME beyond what i64 nanoseconds hold saturates instead of wrapping.
    let mut far = rec(0, b"x");
    far.filetime = u64::MAX;
    let (_, frames) = read_ok(&write(2, 3, 1, &[far], &Layout::default()));
    assert_eq!(frames[0].ts, i64::MAX);
}

#[test]
fn netmon_2_1_per_record_media_types() {
    let cases: [(u16, Option<u32>); 16] = [
        (0, Some(1)),
        (1, Some(1)),
        (2, Some(6)),
        (3, Some(10)),
        (4, Some(NETMON_MEDIA | 4)),
        (5, Some(NETMON_MEDIA | 5)),
        (6, Some(NETMON_MEDIA | 6)),
        (9, Some(101)),
        (0xE000 | 113, Some(113)),
        (0xE080, Some(105)),
        (0xE083, Some(NETMON_MEDIA | 0xE083)),
        (0xFFE0, Some(NOT_A_PACKET)),
        (0xFFFD, None),
        (0xFFFE, None),
        (0xFFFF, Some(NOT_A_PACKET)),
        (0x1234, Some(NETMON_MEDIA | 0x1234)),
    ];
    let recs: Vec<Rec> = cases
        .iter()
        .map(|(m, _)| Rec {
            media: *m,
            ..rec(u64::from(*m), &[*m as u8; 20])
        })
        .collect();
    let file = write(2, 1, 1, &recs, &Layout::default());
    let (_, frames) = read_ok(&file);
    let expected: Vec<(u64, u32, u8)> = cases
        .iter()
        .filter_map(|(m, lt)| lt.map(|lt| (*m as u8, lt)))
        .enumerate()
        .map(|(i, (byte, lt))| (i as u64 + 1, lt, byte))
        .collect();
    let got: Vec<(u64, u32, u8)> = frames
        .iter()
        .map(|f| (f.number, f.linktype, f.data[0]))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn file_media_type_for_1_x_and_2_0() {
    let recs = sample(2, 0);
    for (media, linktype) in [
        (2, 6),
        (3, 10),
        (7, 101),
        (6, NETMON_MEDIA | 6),
        (40, NETMON_MEDIA | 40),
    ] {
        let (_, frames) = read_ok(&write(2, 0, media, &recs, &Layout::default()));
        assert!(frames.iter().all(|f| f.linktype == linktype), "{media}");
    }
    // 2.1+ ignore the header's media type.
    let (_, frames) = read_ok(&write(2, 1, 2, &recs, &Layout::default()));
    assert!(frames.iter().all(|f| f.linktype == 1));
}

#[test]
fn atm_pseudo_header_is_stripped() {
    let mut r = rec(0, &payload(40, 9));
    r.orig_len = 100;
    let (_, frames) = read_ok(&write(1, 1, 4, &[r.clone()], &Layout::default()));
    assert_eq!(frames[0].linktype, NETMON_MEDIA | 4);
    assert_eq!(frames[0].data, payload(40, 9)[16..]);
    assert_eq!(frames[0].orig_len, 84);
    let short = rec(0, &[0; 10]);
    let (_, out) = read(&write(2, 0, 4, &[r.clone(), short, r], &Layout::default())).unwrap();
    // The short record is skipped alone (it takes frame number 2); the next one is read.
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.frames[1].number, 3);
    let d = damage_with(&out, "pseudo-header");
    assert_eq!((d.frame, d.offset), (2, 128 + 16 + 40));
}

#[test]
fn table_before_the_records_is_followed_across_gaps() {
    let recs = sample(2, 1);
    let layout = Layout {
        gap: 5,
        table_first: true,
        ..Layout::default()
    };
    let (_, frames) = read_ok(&write(2, 1, 1, &recs, &layout));
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].offset, 128 + 12);
    assert_eq!(frames[1].offset, 128 + 12 + 16 + 60 + 2 + 5);
    assert_eq!(frames[2].data, payload(128, 3));
    // A table going backwards cannot be followed in a stream.
    let layout = Layout {
        table_first: true,
        order: Some(vec![1, 0, 2]),
        ..Layout::default()
    };
    let (_, out) = read(&write(2, 1, 1, &recs, &layout)).unwrap();
    assert_eq!(out.frames.len(), 1);
    let d = damage_with(&out, "random access");
    assert_eq!(d.frame, 1);
}

#[test]
fn gaps_or_reordering_before_a_trailing_table_are_reported() {
    let recs = sample(2, 0);
    let gaps = Layout {
        gap: 20,
        ..Layout::default()
    };
    let (_, out) = read(&write(2, 0, 1, &recs, &gaps)).unwrap();
    assert!(!out.damage.is_empty());
    let reordered = Layout {
        order: Some(vec![0, 2, 1]),
        ..Layout::default()
    };
    let (_, out) = read(&write(2, 0, 1, &recs, &reordered)).unwrap();
    assert_eq!(out.frames.len(), 3);
    damage_with(&out, "does not match");
    // Fewer table entries than records.
    let mut file = write(2, 0, 1, &recs, &Layout::default());
    file[28] = 8;
    file.truncate(file.len() - 4);
    let (_, out) = read(&file).unwrap();
    damage_with(&out, "lists 2 records");
    // A record running into the table: skipped (it takes frame number 3), and then the
    // table is not checked.
    let mut file = write(2, 0, 1, &recs, &Layout::default());
    file[24] -= 1;
    let (_, out) = read(&file).unwrap();
    assert_eq!(out.frames.len(), 2);
    let d = damage_with(&out, "runs into the frame table");
    assert_eq!(d.frame, 3);
    assert!(!d.resumed);
}

#[test]
fn sections_between_records_and_table_are_skipped_from_2_2_on() {
    let layout = Layout {
        comments: 300,
        ..Layout::default()
    };
    for minor in [2, 3] {
        let (_, frames) = read_ok(&write(2, minor, 1, &sample(2, minor), &layout));
        assert_eq!(frames.len(), 3);
    }
    // Before 2.2 the header's section fields are not trusted, so the section reads as a
    // record and the damage shows.
    let (_, out) = read(&write(2, 1, 1, &sample(2, 1), &layout)).unwrap();
    assert_eq!(out.frames.len(), 3);
    assert!(!out.damage.is_empty());
}

#[test]
fn padding_before_a_trailing_table_is_skipped() {
    let recs = sample(2, 0);
    let mut file = write(2, 0, 1, &recs, &Layout::default());
    let table_at = u32_at(&file, 24, false) as usize;
    file.splice(table_at..table_at, [0u8; 3]);
    file[24..28].copy_from_slice(&(table_at as u32 + 3).to_le_bytes());
    let (_, frames) = read_ok(&file);
    assert_eq!(frames.len(), 3);
}

#[test]
fn empty_capture_and_bad_headers() {
    let (_, frames) = read_ok(&write(2, 0, 1, &[], &Layout::default()));
    assert!(frames.is_empty());
    let good = write(2, 0, 1, &sample(2, 0), &Layout::default());
    let mut bad = good.clone();
    bad[5] = 3;
    assert!(matches!(
        read(&bad).err().unwrap().kind,
        ErrorKind::Damaged(_)
    ));
    let mut bad = good.clone();
    bad[28] = 13;
    assert!(read(&bad).is_err());
    let mut bad = good.clone();
    bad[24..28].copy_from_slice(&10u32.to_le_bytes());
    assert!(read(&bad).is_err());
    let mut bad = good.clone();
    bad[28..32].copy_from_slice(&u32::MAX.wrapping_sub(3).to_le_bytes());
    assert!(matches!(
        read(&bad).err().unwrap().kind,
        ErrorKind::AbsurdLength { .. }
    ));
    assert!(matches!(
        read(b"pcap").err().unwrap().kind,
        ErrorKind::NotACapture(_, 4)
    ));
    assert!(matches!(
        read(b"GM").err().unwrap().kind,
        ErrorKind::NotACapture(_, 2)
    ));
}

#[test]
fn absurd_record_length_is_located_and_reading_goes_on() {
    for (major, minor) in [(1, 1), (2, 0), (2, 1), (2, 3)] {
        let recs = sample(major, minor);
        let mut file = write(major, minor, 1, &recs, &Layout::default());
        let (_, all) = read_ok(&file);
        let second = all[1].offset as usize;
        let at = if major == 1 { second + 6 } else { second + 12 };
        file[at..at + 2].copy_from_slice(&[0xff, 0x7f]);
        if major == 2 {
            file[at + 2..at + 4].copy_from_slice(&[0xff, 0x7f]);
        }
        let (_, out) = read(&file).unwrap();
        // Frame 2 is lost to the damage; frame 3 is found again and read.
        assert_eq!(out.frames.len(), 2, "{major}.{minor}");
        assert_eq!(out.frames[1], all[2], "{major}.{minor}");
        // 1.x lengths are 16-bit: under 256 KiB, but still past the table.
        let d = damage_with(&out, if major == 1 { "runs into" } else { "claims" });
        assert_eq!((d.frame, d.offset), (2, second as u64));
        assert_eq!(d.skipped, all[2].offset - second as u64);
        assert!(d.resumed);
        assert!(matches!(out.end, Ok(None)));
    }
}

#[test]
fn a_bad_length_that_runs_into_the_table_is_found_and_read_past() {
    // Lengths under 256 KiB that are still wrong: the next record is found again.
    let mut recs = sample(2, 0);
    recs.extend(sample(2, 0));
    let mut file = write(2, 0, 1, &recs, &Layout::default());
    let (_, all) = read_ok(&file);
    let second = all[1].offset as usize;
    file[second + 12..second + 16].copy_from_slice(&100_000u32.to_le_bytes());
    let (_, out) = read(&file).unwrap();
    assert_eq!(out.frames.len(), all.len() - 1);
    assert_eq!(out.frames[1..], all[2..]);
    let d = damage_with(&out, "runs into the frame table");
    assert_eq!((d.frame, d.offset), (2, second as u64));
}

#[test]
fn a_frame_table_claiming_2_gib_allocates_nothing_for_it() {
    // A table stored first, claiming 2 GiB - 4, followed by 4 MiB of climbing offsets and then
    // nothing: the entries held are bounded, and reading stops at the budget.
    let mut header = write(2, 0, 1, &[], &Layout::default());
    header.truncate(128);
    header[24..28].copy_from_slice(&128u32.to_le_bytes());
    header[28..32].copy_from_slice(&(0x8000_0000u32 - 4).to_le_bytes());
    let table_end = 128 + 0x8000_0000u64 - 4;
    let climbing =
        (0..(MAX_HELD as u64 + 10)).flat_map(|i| ((table_end + 64 * i) as u32).to_le_bytes());
    let input = Cursor::new(header).chain(Cursor::new(climbing.collect::<Vec<u8>>()));
    let (reader, out) = read_from(Box::new(input)).unwrap();
    assert!(out.frames.is_empty());
    damage_with(&out, "more than 1048576 records");
    if let Phase::Table { rest, .. } = &reader.phase {
        assert!(rest.capacity() <= 2 * MAX_HELD);
    }
    // Zero entries (a sparse or zero-filled table): the first entry already stops it.
    let mut header = write(2, 0, 1, &[], &Layout::default());
    header.truncate(128);
    header[24..28].copy_from_slice(&128u32.to_le_bytes());
    header[28..32].copy_from_slice(&(0x8000_0000u32 - 4).to_le_bytes());
    let input = Cursor::new(header).chain(io::repeat(0).take(1 << 30));
    let (_, out) = read_from(Box::new(input)).unwrap();
    damage_with(&out, "random access");
}

/// Hands out at most `step` bytes per read, with an `Interrupted` now and then.
struct Trickle {
    data: Cursor<Vec<u8>>,
    step: usize,
    calls: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.step);
        self.data.read(&mut buf[..n])
    }
}

struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }
}

#[test]
fn short_reads_and_io_errors() {
    let file = write(2, 3, 1, &sample(2, 3), &Layout::default());
    let (_, reference) = read_ok(&file);
    for step in [1, 3, 17] {
        let input = Trickle {
            data: Cursor::new(file.clone()),
            step,
            calls: 0,
        };
        let (_, out) = read_from(Box::new(input)).unwrap();
        assert!(matches!(out.end, Ok(None)));
        assert_eq!(out.frames, reference);
    }
    let input = Cursor::new(file[..100].to_vec()).chain(Failing);
    let err = read_from(Box::new(input)).err().unwrap();
    assert!(matches!(err.kind, ErrorKind::Io(_)));
    let input = Cursor::new(file[..300].to_vec()).chain(Failing);
    let (_, out) = read_from(Box::new(input)).unwrap();
    let err = out.end.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Io(_)));
    assert_eq!(err.frame, 2);
    assert_eq!(out.frames.len(), 1);
}

/// Frames whose records lie wholly inside the first `len` bytes.
fn whole_records(frames: &[Got], len: usize, record_len: impl Fn(&Got) -> u64) -> usize {
    frames
        .iter()
        .take_while(|f| f.offset + record_len(f) <= len as u64)
        .count()
}

#[test]
fn every_truncated_prefix_ends_cleanly() {
    let layouts = [
        Layout::default(),
        Layout {
            gap: 3,
            table_first: true,
            ..Layout::default()
        },
        Layout {
            comments: 7,
            ..Layout::default()
        },
    ];
    for (major, minor) in [(1, 1), (2, 0), (2, 1), (2, 2), (2, 3)] {
        for layout in &layouts {
            let recs = sample(major, minor);
            let file = write(major, minor, 1, &recs, layout);
            let (_, all) = read_ok(&file);
            let overhead = match (major, minor) {
                (1, _) => 8,
                (_, 0) => 16,
                (_, 1) => 18,
                (_, 2) => 22,
                _ => 31,
            };
            let record_len = |f: &Got| overhead + f.data.len() as u64;
            let table_at = u32_at(&file, 24, false) as usize;
            let table_end = table_at + 4 * recs.len();
            for len in 0..file.len() {
                let result = read(&file[..len]);
                if len < HEADER_LEN {
                    assert!(result.is_err(), "{major}.{minor} prefix {len}");
                    continue;
                }
                let (_, out) = result.unwrap_or_else(|e| panic!("prefix {len}: {e}"));
                let end = match &out.end {
                    Ok(end) => *end,
                    Err(e) => panic!("prefix {len}: {e}"),
                };
                let whole = whole_records(&all, len, record_len);
                let in_table = (table_at..table_end).contains(&len);
                if layout.table_first && len >= file.len() - layout.gap {
                    // Only the padding after the last record is missing: not needed.
                    assert_eq!((end, &out.frames), (None, &all));
                    continue;
                }
                if in_table {
                    // Cut inside the frame table: every record before it was read.
                    assert_eq!(end, None, "{major}.{minor} prefix {len}");
                    assert_eq!(out.frames[..], all[..whole]);
                    damage_with(&out, "into its frame table");
                    continue;
                }
                assert!(
                    out.damage.is_empty(),
                    "{major}.{minor} prefix {len}: {:?}",
                    out.damage
                );
                let Some((frame, at)) = end else {
                    panic!(
                        "{major}.{minor} prefix {len} of {} not truncated",
                        file.len()
                    )
                };
                assert_eq!(out.frames.len(), whole, "{major}.{minor} prefix {len}");
                assert_eq!(out.frames[..], all[..whole]);
                assert_eq!(frame, whole as u64 + 1);
                // The cut is named where the record (or gap) it falls in begins.
                let floor = match whole {
                    0 => HEADER_LEN as u64,
                    n => all[n - 1].offset + record_len(&all[n - 1]),
                };
                assert!(
                    (floor..=len as u64).contains(&at),
                    "{major}.{minor} prefix {len}: cut named at {at}, not in {floor}..={len}"
                );
            }
        }
    }
}

#[test]
fn damaged_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (major, minor) in [(1, 1), (2, 0), (2, 1), (2, 3)] {
        let mut recs = sample(major, minor);
        recs[1].media = 0xFFFD;
        let file = write(major, minor, 1, &recs, &Layout::default());
        for _ in 0..3000 {
            let mut bad = file.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % bad.len() as u64) as usize;
                bad[at] = next() as u8;
            }
            let len = if next() % 4 == 0 {
                (next() % bad.len() as u64) as usize
            } else {
                bad.len()
            };
            let _ = read(&bad[..len]);
        }
    }
}

// --- The shared corpus, checked against tshark 4.0.17 (TZ=UTC) ---

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/generated");
    dir.join("netmon").is_dir().then_some(dir)
}

fn read_file(path: &std::path::Path) -> Vec<Got> {
    let file = std::fs::File::open(path).unwrap();
    let (_, out) = read_from(Box::new(io::BufReader::new(file))).unwrap();
    assert!(matches!(out.end, Ok(None)), "{}", path.display());
    assert!(out.damage.is_empty(), "{}", path.display());
    out.frames
}

/// (ts ns, orig_len, data) of each record of a little-endian microsecond pcap.
fn pcap_records(path: &std::path::Path) -> Vec<(i64, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(u32_at(&bytes, 0, false), 0xa1b2_c3d4);
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let ts = i64::from(u32_at(&bytes, at, false)) * 1_000_000_000
            + i64::from(u32_at(&bytes, at + 4, false)) * 1000;
        let incl = u32_at(&bytes, at + 8, false) as usize;
        let orig = u32_at(&bytes, at + 12, false);
        out.push((ts, orig, bytes[at + 16..at + 16 + incl].to_vec()));
        at += 16 + incl;
    }
    out
}

/// tshark's `frame.number frame.time_epoch frame.len frame.cap_len` for a few frames.
type Tshark = (u64, i64, u32, usize);

fn check(frames: &[Got], count: usize, samples: &[Tshark]) {
    assert_eq!(frames.len(), count);
    for &(number, ts, len, cap_len) in samples {
        let f = &frames[number as usize - 1];
        assert_eq!(
            (f.number, f.ts, f.orig_len, f.data.len()),
            (number, ts, len, cap_len)
        );
    }
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.number, i as u64 + 1);
    }
}

#[test]
fn corpus_matches_tshark() {
    let Some(dir) = corpus() else {
        eprintln!("shared corpus not found; skipped");
        return;
    };
    let pcap = pcap_records(&dir.join("loopback/lo-http-reuse-s128.pcap"));
    assert_eq!(pcap.len(), 75);
    let netmon = dir.join("netmon");

    // NetMon 2.0 written under TZ=UTC: tshark's times are the pcap's.
    let frames = read_file(&netmon.join("lo-http-reuse-netmon2.0.cap"));
    check(
        &frames,
        75,
        &[
            (1, 1_795_393_900_825_631_000, 74, 74),
            (4, 1_795_393_900_826_301_000, 144, 128),
            (75, 1_795_393_901_712_282_000, 66, 66),
        ],
    );
    for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
        assert_eq!(
            (f.ts, f.orig_len, &f.data, f.linktype),
            (*ts, *orig, data, 1)
        );
    }
    assert_eq!(frames[1].offset, 128 + 16 + 74);

    // Written under TZ=America/New_York: the header holds local time, read here as UTC,
    // so every time is 5 h early, exactly as `TZ=UTC tshark` shows it.
    let frames =
        read_file(&netmon.join("lo-http-reuse-netmon2.0-written-in-TZ-America_New_York.cap"));
    check(
        &frames,
        75,
        &[
            (1, 1_795_375_900_825_631_000, 74, 74),
            (67, 1_795_375_901_711_213_000, 455, 128),
            (75, 1_795_375_901_712_282_000, 66, 66),
        ],
    );
    for (f, (ts, _, data)) in frames.iter().zip(&pcap) {
        assert_eq!((f.ts, &f.data), (ts - 5 * 3600 * 1_000_000_000, data));
    }

    // NetMon 1.1: start cut to the millisecond, offsets rounded to milliseconds.
    let frames = read_file(&netmon.join("lo-http-reuse-netmon1.1.cap"));
    check(
        &frames,
        75,
        &[
            (1, 1_795_393_900_826_000_000, 74, 74),
            (16, 1_795_393_900_841_000_000, 144, 128),
            (75, 1_795_393_901_712_000_000, 66, 66),
        ],
    );
    let start = pcap[0].0 / 1_000_000 * 1_000_000;
    for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
        let rounded = start + (ts - start + 500_000) / 1_000_000 * 1_000_000;
        assert_eq!((f.ts, f.orig_len, &f.data), (rounded, *orig, data));
    }

    // NetMon 2.3 with UTC FILETIME trailers: the first 12 pcap frames, times as the pcap.
    let frames = read_file(&netmon.join("handmade-netmon2.3-utc-trailer.cap"));
    check(
        &frames,
        12,
        &[
            (1, 1_795_393_900_825_631_000, 74, 74),
            (6, 1_795_393_900_831_752_000, 250, 128),
            (12, 1_795_393_900_831_936_000, 66, 66),
        ],
    );
    for (f, (ts, orig, data)) in frames.iter().zip(&pcap) {
        assert_eq!(
            (f.ts, f.orig_len, &f.data, f.linktype),
            (*ts, *orig, data, 1)
        );
    }

    // NetMon 2.1 with per-record media types: 6 Ethernet frames and one Token Ring.
    let frames = read_file(&netmon.join("eth-tokenring-netmon2.1-per-packet.cap"));
    check(
        &frames,
        7,
        &[
            (1, 1_795_393_900_825_631_000, 74, 74),
            (6, 1_795_393_900_831_752_000, 250, 128),
            (7, 1_795_393_900_831_753_000, 82, 82),
        ],
    );
    let linktypes: Vec<u32> = frames.iter().map(|f| f.linktype).collect();
    assert_eq!(linktypes, [1, 1, 1, 1, 1, 1, 6]);
}
