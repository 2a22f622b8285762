//! Capture arguments: files as given, directories walked (sorted, recursively) for files
//! that start like a capture (by their first bytes, not their names).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// First bytes of the formats portreuse reads: pcap (4 variants, both byte orders), pcapng,
/// Network Monitor 1.x and 2.x, gzip, zstd.
const MAGICS: [&[u8]; 12] = [
    &[0xd4, 0xc3, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0xc3, 0xd4],
    &[0x4d, 0x3c, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0x3c, 0x4d],
    &[0x34, 0xcd, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0xcd, 0x34],
    &[0x0a, 0x0d, 0x0d, 0x0a],
    b"RTSS",
    b"GMBU",
    &[0x1f, 0x8b],
    &[0x28, 0xb5, 0x2f, 0xfd],
    &[0x0a, 0x0d, 0x0d, 0x0a],
];

pub fn looks_like_capture(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let n = file.read(&mut head).unwrap_or(0);
    MAGICS.iter().any(|m| n >= m.len() && head.starts_with(m))
}

/// The arguments with every directory replaced by the captures below it.
pub fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if arg.is_dir() {
            walk(arg, &mut out).with_context(|| arg.display().to_string())?;
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if looks_like_capture(&path) {
            out.push(path);
        }
    }
    Ok(())
}
