//! Tunnels against tshark: testdata/tunnels/ holds small captures of real TCP connections
//! through every tunnel Linux can make (scripts/tunnel-captures.sh), and syns.tsv the frames
//! in which tshark found a TCP header with the SYN flag. portreuse's decoder must find exactly
//! those frames, with the same flags (SYN or SYN-ACK). tshark is not needed here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use portreuse::capture;
use portreuse::decode::{Decoded, decode};

/// Counts this thread's allocations, so a test can tell that decoding allocates nothing.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tunnels")
}

/// Frame number -> TCP flags byte, for every frame whose decoded TCP header (or the TCP
/// header an ICMP error quotes, which tshark's `tcp.flags.syn` matches too) has the SYN flag.
/// A read error ends the list (the frames before it stay).
fn syn_frames(path: &Path) -> BTreeMap<u64, u8> {
    tcp_frames(path, true)
}

/// Frame number -> TCP flags for the frames with a TCP header (only SYNs if `syn_only`).
fn tcp_frames(path: &Path, syn_only: bool) -> BTreeMap<u64, u8> {
    let mut syns = BTreeMap::new();
    let Ok(mut capture) = capture::open(path) else {
        return syns;
    };
    while let Ok(Some(found)) = capture.next_frame(|f| {
        let flags = match decode(f, 0) {
            Ok(Decoded::Segment(s)) => Some(s.flags.0),
            // A quote of 8 bytes has ports but no flags: a TCP header all the same.
            Ok(Decoded::Icmp(e)) => e.flags.map(|fl| fl.0).or((!syn_only).then_some(0)),
            Err(_) => None,
        };
        (f.number, flags.filter(|&fl| !syn_only || fl & 0x02 != 0))
    }) {
        if let (number, Some(flags)) = found {
            syns.insert(number, flags);
        }
    }
    syns
}

/// syns.tsv: capture, frame, flags as tshark prints them (0x0002 SYN, 0x0012 SYN-ACK).
fn tshark_view() -> BTreeMap<String, BTreeMap<u64, u8>> {
    let text = fs::read_to_string(dir().join("syns.tsv")).unwrap();
    let mut view: BTreeMap<String, BTreeMap<u64, u8>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "bad line in syns.tsv: {line}");
        let frames = view.entry(f[0].to_string()).or_default();
        if f[1] == "none" {
            continue; // tshark found no SYN in this capture
        }
        let flags = u16::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap();
        frames.insert(f[1].parse().unwrap(), flags as u8);
    }
    view
}

#[test]
fn every_tunnel_capture_decodes_the_syns_tshark_decodes() {
    let view = tshark_view();
    let (mut captures, mut wrong) = (0, Vec::new());
    for entry in fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".pcap") && !name.ends_with(".pcapng") {
            continue;
        }
        let theirs = view
            .get(&name)
            .unwrap_or_else(|| panic!("{name}: not in syns.tsv"));
        let ours = syn_frames(&path);
        if &ours != theirs {
            wrong.push(format!("{name}: portreuse {ours:?}, tshark {theirs:?}"));
        }
        captures += 1;
    }
    assert!(wrong.is_empty(), "frame -> flags:\n{}", wrong.join("\n"));
    assert_eq!(
        captures,
        view.len(),
        "syns.tsv names a capture that is missing"
    );
}

#[test]
fn decoding_a_tunnelled_frame_allocates_nothing() {
    let before = allocations();
    drop(std::hint::black_box(vec![1u8]));
    assert!(allocations() > before, "the counting allocator counts");
    let mut frames = 0;
    for entry in fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pcap") {
            continue;
        }
        let mut capture = capture::open(&path).unwrap();
        while let Some(allocated) = capture
            .next_frame(|f| {
                // Every prefix too: the truncated paths must not allocate either.
                let before = allocations();
                for len in 0..=f.data.len() {
                    let cut = portreuse::capture::Frame {
                        data: &f.data[..len],
                        ..*f
                    };
                    let _ = std::hint::black_box(decode(&cut, 0));
                }
                allocations() - before
            })
            .unwrap()
        {
            assert_eq!(
                allocated,
                0,
                "{}: frame {}",
                path.display(),
                capture.info.frames
            );
            frames += 1;
        }
    }
    assert!(frames > 500, "{frames} frames");
}

/// Development aid, not a check: prints `path<TAB>frame<TAB>flags` for each frame with a
/// SYN in the captures named by PORTREUSE_SYN_DUMP (colon-separated), to compare with
/// `tshark -r F -Y tcp.flags.syn==1 -T fields -e frame.number -e tcp.flags`; with
/// PORTREUSE_DUMP_ALL=1, every frame with a TCP header (compare with `-Y tcp`).
#[test]
#[ignore]
fn dump_syn_frames() {
    let Ok(paths) = std::env::var("PORTREUSE_SYN_DUMP") else {
        return;
    };
    for path in paths.split(':').filter(|p| !p.is_empty()) {
        let all = std::env::var_os("PORTREUSE_DUMP_ALL").is_some();
        for (number, flags) in tcp_frames(Path::new(path), !all) {
            println!("{path}\t{number}\t0x{flags:04x}");
        }
    }
}
