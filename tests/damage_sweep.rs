//! A random-mutation sweep over the fixtures (issue 14): flipped bytes, overwritten length
//! fields, cuts, inserted and deleted runs, in every input form (pcap, pcapng, NetMon,
//! gzip, zstd). Each mutated file must be read without a panic or a hang, give valid JSON
//! when it is analysed, and never pass `--check` when the undamaged part before the first
//! mutated byte fails it.
//!
//! Ignored by default (it runs for a while):
//! `SWEEP_SECONDS=600 cargo test --release --test damage_sweep -- --ignored --nocapture`

mod common;

use std::fs;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portreuse::write::{NgInterface, PcapNgWriter};

/// xorshift64*: deterministic, seeded from SWEEP_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A fixture and whether its undamaged prefix can be analysed as a capture by itself.
struct Fixture {
    name: String,
    bytes: Vec<u8>,
    plain: bool,
}

fn fixtures() -> Vec<Fixture> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .chain(fs::read_dir(format!("{dir}/real")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "cap")))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(&path).unwrap();
        // The same frames as pcapng, gzip'd and zstd'd.
        let mut capture = portreuse::capture::open(&path).unwrap();
        let iface = NgInterface {
            linktype: 1,
            snaplen: 65535,
            tsresol: 6,
        };
        let mut ng = PcapNgWriter::new(Vec::new(), false, &[iface]).unwrap();
        while let Some(()) = capture
            .next_frame(|f| ng.write(0, f.ts, f.data, f.orig_len).unwrap())
            .unwrap()
        {}
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        out.push(Fixture {
            name: format!("{name}.gz"),
            bytes: gz.finish().unwrap(),
            plain: false,
        });
        out.push(Fixture {
            name: format!("{name}.zst"),
            bytes: zstd::encode_all(&bytes[..], 3).unwrap(),
            plain: false,
        });
        out.push(Fixture {
            name: format!("{name}.pcapng"),
            bytes: ng.into_inner(),
            plain: true,
        });
        out.push(Fixture {
            name,
            bytes,
            plain: true,
        });
    }
    out
}

/// Mutates `bytes`; returns the offset of the first byte changed.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> usize {
    let len = bytes.len();
    // Leave the first 24 bytes (file headers) alone most of the time.
    let at = if rng.below(10) == 0 {
        rng.below(len)
    } else {
        24 + rng.below(len - 24)
    };
    match rng.below(6) {
        0 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let i = at + rng.below(64).min(len - 1 - at);
                bytes[i] = rng.next() as u8;
            }
        }
        1 => {
            // A length-like field: a random u32, often small or near a record length.
            let v = match rng.below(3) {
                0 => rng.next() as u32,
                1 => rng.below(1 << 20) as u32,
                _ => rng.below(2000) as u32,
            };
            let end = (at + 4).min(len);
            bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
        }
        2 => bytes.truncate(at),
        3 => {
            let n = 1 + rng.below(3000);
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, junk);
        }
        4 => {
            let end = (at + 1 + rng.below(3000)).min(len);
            bytes.drain(at..end);
        }
        _ => {
            let end = (at + 1 + rng.below(3000)).min(len);
            let copy = bytes[at..end].to_vec();
            bytes.splice(end..end, copy);
        }
    }
    at
}

/// `--check --format json` on `bytes`: the exit status (2 for an error), with a limit on
/// time (a hang) and every panic caught.
fn check(path: &std::path::Path, bytes: &[u8]) -> Result<u8, String> {
    fs::write(path, bytes).unwrap();
    let name = path.to_str().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(|| {
            common::run_in_process(&["--check", "--format", "json", &name])
        });
        let _ = tx.send(result);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Err(_) => Err("hang (over 60 s)".into()),
        Ok(Err(_)) => Err("panic".into()),
        Ok(Ok(Err(e))) => {
            if std::env::var_os("SWEEP_VERBOSE").is_some() {
                eprintln!("exit 2: {e}");
            }
            Ok(2)
        }
        Ok(Ok(Ok((code, out)))) => match serde_json::from_str::<serde_json::Value>(&out) {
            Ok(_) => Ok(code),
            Err(e) => Err(format!("invalid JSON: {e}")),
        },
    }
}

#[test]
#[ignore]
fn mutation_sweep() {
    let seconds: u64 = std::env::var("SWEEP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("SWEEP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let mut rng = Rng(seed | 1);
    let fixtures = fixtures();
    let path = common::tmp("sweep-input");
    let prefix_path = common::tmp("sweep-prefix");
    let start = Instant::now();
    let (mut runs, mut by_code, mut prefix_checks, mut prefix_failed) = (0u64, [0u64; 3], 0, 0);
    let mut problems: Vec<String> = Vec::new();
    while start.elapsed() < Duration::from_secs(seconds) {
        let f = &fixtures[rng.below(fixtures.len())];
        let mut bytes = f.bytes.clone();
        let at = mutate(&mut rng, &mut bytes);
        runs += 1;
        let code = match check(&path, &bytes) {
            Ok(code) => code,
            Err(why) => {
                let keep = common::tmp(&format!("sweep-problem-{runs}-{}", f.name));
                fs::write(&keep, &bytes).unwrap();
                problems.push(format!("{}: {why} (kept as {})", f.name, keep.display()));
                if why.starts_with("hang") {
                    break;
                }
                continue;
            }
        };
        by_code[code as usize] += 1;
        // The undamaged part: the original up to the first changed byte.
        if f.plain && code != 1 && at > 24 {
            prefix_checks += 1;
            if let Ok(1) = check(&prefix_path, &f.bytes[..at]) {
                prefix_failed += 1;
                let keep = common::tmp(&format!("sweep-check-{runs}-{}", f.name));
                fs::write(&keep, &bytes).unwrap();
                problems.push(format!(
                    "{}: --check passes (status {code}) but the undamaged {at} bytes before the damage fail it (kept as {})",
                    f.name,
                    keep.display()
                ));
            }
        }
    }
    eprintln!(
        "mutation sweep: {runs} mutated files in {:.0} s over {} fixtures (seed {seed:#x}); exit 0: {}, 1: {}, 2: {}; \
         {prefix_checks} passing or unreadable files checked against their undamaged prefix, {prefix_failed} of those prefixes fail --check; {} problems",
        start.elapsed().as_secs_f64(),
        fixtures.len(),
        by_code[0],
        by_code[1],
        by_code[2],
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
