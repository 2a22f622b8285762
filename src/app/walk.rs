//! Capture arguments (issue 14, "directory walking a user can trust"): files as given,
//! directories walked in sorted order. In a directory:
//! - every file named like a capture (.pcap, .pcapng, .cap, .ntar, each also with .gz or
//!   .zst) is an input, even when it is empty or its magic is damaged, so that it gets a row
//!   or an error; other files are inputs when they start like a capture;
//! - symbolic links are followed only with --follow, and then a link back to a directory
//!   being walked is a loop, counted and not entered;
//! - FIFOs, sockets and devices are never opened (a FIFO would hang), only counted;
//! - an unreadable subdirectory is an error entry and the walk goes on.
//!
//! The same file reached twice (given twice, or through a link) is read once.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;

use super::output::{FileId, special_kind};
use crate::report::count;

/// One input: a capture to read, or a path that could not be walked.
#[derive(Debug)]
pub enum Entry {
    Capture { path: PathBuf, id: Option<FileId> },
    Error { path: PathBuf, message: String },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::Capture { path, .. } | Entry::Error { path, .. } => path,
        }
    }
}

/// What the walk found and what it left out (for the closing line).
#[derive(Debug, Default)]
pub struct Walk {
    pub entries: Vec<Entry>,
    /// Files in walked directories that are not captures.
    pub other_files: u64,
    /// FIFOs, sockets and devices in walked directories.
    pub special: u64,
    /// Symbolic links not followed (no --follow).
    pub links: u64,
    /// Symbolic links that lead back into a directory being walked (with --follow).
    pub loops: u64,
    /// "b.pcap is the same file as a.pcap; read once".
    pub duplicates: Vec<String>,
}

impl Walk {
    /// Inputs that are captures (with their identities, to refuse them as outputs).
    pub fn ids(&self) -> Vec<FileId> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Capture { id, .. } => *id,
                Entry::Error { .. } => None,
            })
            .collect()
    }

    /// What the walk left out, when it left anything out: `3 other files, 1 FIFO, socket or
    /// device, 2 symbolic links (--follow follows them)`.
    pub fn closing_line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.other_files > 0 {
            parts.push(format!(
                "{} not named or recognised as captures",
                count(self.other_files, "other file")
            ));
        }
        if self.special > 0 {
            parts.push(format!(
                "{} (FIFO, socket or device)",
                count(self.special, "special file")
            ));
        }
        if self.links > 0 {
            parts.push(format!(
                "{} (--follow follows them)",
                count(self.links, "symbolic link")
            ));
        }
        if self.loops > 0 {
            parts.push(format!(
                "{} not entered",
                count(self.loops, "symbolic link loop")
            ));
        }
        (!parts.is_empty()).then(|| format!("skipped {}", parts.join(", ")))
    }
}

/// Names capture tools give their files, also compressed.
pub fn named_like_capture(path: &Path) -> bool {
    let Some(name) = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
    else {
        return false;
    };
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    [".pcap", ".pcapng", ".cap", ".ntar"]
        .iter()
        .any(|ext| name.ends_with(ext) && name.len() > ext.len())
}

/// First bytes of the capture formats portreuse reads: pcap (4 variants, both byte orders),
/// pcapng, Network Monitor 1.x and 2.x.
const MAGICS: [&[u8]; 9] = [
    &[0xd4, 0xc3, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0xc3, 0xd4],
    &[0x4d, 0x3c, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0x3c, 0x4d],
    &[0x34, 0xcd, 0xb2, 0xa1],
    &[0xa1, 0xb2, 0xcd, 0x34],
    &[0x0a, 0x0d, 0x0d, 0x0a],
    b"RTSS",
    b"GMBU",
];

/// A regular file not named like a capture that is one anyway (ring-buffer files such as
/// `trace1`): by its magic, or, when gzip'd or zstd'd, by the magic inside.
fn starts_like_capture(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let n = file.read(&mut head).unwrap_or(0);
    if n < 4 {
        return false;
    }
    if MAGICS.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    let compressed = head.starts_with(&[0x1f, 0x8b]) || head == [0x28, 0xb5, 0x2f, 0xfd];
    compressed && crate::capture::open(path).is_ok()
}

/// The arguments with every directory replaced by the captures below it. Arguments are
/// taken as given (a symbolic link or a FIFO named on the command line is opened: `<(zcat
/// x.gz)` works); only what a walk finds is filtered.
pub fn expand(args: &[PathBuf], follow: bool) -> Walk {
    let mut walk = Walk::default();
    for arg in args {
        let meta = (arg.as_os_str() != "-")
            .then(|| fs::metadata(arg).ok())
            .flatten();
        match meta {
            Some(meta) if meta.is_dir() => {
                let before = walk.entries.len();
                let others = walk.other_files + walk.special + walk.links;
                let mut ancestors = Vec::new();
                let mut visited = FxHashSet::default();
                if let Some(id) = FileId::of(&meta) {
                    ancestors.push(id);
                    visited.insert(id);
                }
                walk_dir(arg, follow, &mut ancestors, &mut visited, &mut walk);
                if walk.entries.len() == before {
                    let skipped = walk.other_files + walk.special + walk.links - others;
                    let message = if skipped == 0 {
                        "no capture files in this directory (it is empty)".to_string()
                    } else {
                        format!(
                            "no capture files in this directory ({} skipped)",
                            count(skipped, "other file")
                        )
                    };
                    walk.entries.push(Entry::Error {
                        path: arg.clone(),
                        message,
                    });
                }
            }
            meta => walk.entries.push(Entry::Capture {
                path: arg.clone(),
                id: meta.as_ref().and_then(FileId::of),
            }),
        }
    }
    dedupe(&mut walk);
    walk
}

fn walk_dir(
    dir: &Path,
    follow: bool,
    ancestors: &mut Vec<FileId>,
    visited: &mut FxHashSet<FileId>,
    walk: &mut Walk,
) {
    let listing = fs::read_dir(dir).and_then(|entries| {
        let mut v: Vec<(PathBuf, fs::FileType)> = Vec::new();
        for e in entries {
            let e = e?;
            v.push((e.path(), e.file_type()?));
        }
        Ok(v)
    });
    let mut entries = match listing {
        Ok(entries) => entries,
        Err(e) => {
            walk.entries.push(Entry::Error {
                path: dir.to_path_buf(),
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let meta = if kind.is_symlink() {
            if !follow {
                walk.links += 1;
                continue;
            }
            match fs::metadata(&path) {
                Ok(meta) => meta,
                // A dangling link named like a capture gets its row ("cannot open").
                Err(_) if named_like_capture(&path) => {
                    walk.entries.push(Entry::Capture { path, id: None });
                    continue;
                }
                Err(_) => {
                    walk.other_files += 1;
                    continue;
                }
            }
        } else {
            match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    walk.entries.push(Entry::Error {
                        path,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            }
        };
        let id = FileId::of(&meta);
        let kind = meta.file_type();
        if kind.is_dir() {
            if let Some(id) = id {
                if ancestors.contains(&id) {
                    walk.loops += 1;
                    continue;
                }
                if !visited.insert(id) {
                    // Reached before through another link: its files are already in.
                    continue;
                }
                ancestors.push(id);
            }
            walk_dir(&path, follow, ancestors, visited, walk);
            if id.is_some() {
                ancestors.pop();
            }
        } else if special_kind(&kind).is_some() {
            walk.special += 1;
        } else if named_like_capture(&path) || starts_like_capture(&path) {
            walk.entries.push(Entry::Capture { path, id });
        } else {
            walk.other_files += 1;
        }
    }
}

/// The same file twice (by device and inode): read once, with a warning.
fn dedupe(walk: &mut Walk) {
    let mut first: rustc_hash::FxHashMap<FileId, PathBuf> = Default::default();
    let mut duplicates = Vec::new();
    walk.entries.retain(|e| {
        let Entry::Capture { path, id: Some(id) } = e else {
            return true;
        };
        match first.get(id) {
            Some(earlier) => {
                duplicates.push(format!(
                    "{} is the same file as {}; read once",
                    path.display(),
                    earlier.display()
                ));
                false
            }
            None => {
                first.insert(*id, path.clone());
                true
            }
        }
    });
    walk.duplicates = duplicates;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_also_compressed() {
        for name in [
            "a.pcap",
            "a.PCAPNG",
            "b.cap",
            "c.ntar",
            "d.pcap.gz",
            "e.pcapng.zst",
            "f.cap.gz",
        ] {
            assert!(named_like_capture(Path::new(name)), "{name}");
        }
        for name in [
            "notes.txt",
            "a.gz",
            "pcap",
            ".pcap",
            "a.pcap.txt",
            "a.tar.zst",
        ] {
            assert!(!named_like_capture(Path::new(name)), "{name}");
        }
    }
}
