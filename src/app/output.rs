//! Output files (`--html`, `--write`), issue 14: checked and created before the analysis
//! starts, so a bad path costs nothing; written to a temporary file beside the target and
//! renamed into place only once complete, so an error, a full disk or an interrupt (SIGINT,
//! SIGTERM, SIGHUP) never leaves a partial file under the target's name; and never one of
//! the inputs, also when reached through another path (compared by device and inode).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use anyhow::{Context, Result, bail};

/// A file's identity: device and inode (two paths to one file have the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub fn of(meta: &fs::Metadata) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    /// The identity of the file at `path` (symbolic links followed).
    pub fn of_path(path: &Path) -> Option<FileId> {
        fs::metadata(path).ok().as_ref().and_then(FileId::of)
    }
}

/// Temporary files not yet renamed into place: removed by the signal handler.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// On SIGINT, SIGTERM or SIGHUP: remove the temporary files, exit 130 (128 + SIGINT).
fn install_handler() {
    HANDLER.call_once(|| {
        // A handler set elsewhere (an embedding program) is left alone: the temporary files
        // are then removed when their OutputFile is dropped.
        let _ = ctrlc::set_handler(|| {
            let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
            for path in pending.iter() {
                let _ = fs::remove_file(path);
            }
            std::process::exit(130);
        });
    });
}

fn forget(path: &Path) {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    pending.retain(|p| p != path);
}

/// An output file being written: its bytes go to `file`; `commit` puts it in place.
pub struct OutputFile {
    /// The path as the user gave it (for messages).
    pub shown: PathBuf,
    /// Where the file ends up (a symbolic link given as the target is resolved).
    target: PathBuf,
    /// The temporary file beside the target; `None` when writing to a character device
    /// (such as /dev/null) directly.
    temp: Option<PathBuf>,
    file: File,
}

impl OutputFile {
    /// Checks `path` for `option` and creates its temporary file. Refused: a directory, a
    /// FIFO, socket or block device (never opened, so nothing hangs), one of `inputs`.
    pub fn create(option: &str, path: &Path, inputs: &[FileId]) -> Result<OutputFile> {
        let shown = path.to_path_buf();
        let name = path.display();
        if path.as_os_str().is_empty() {
            bail!("{option}: the path is empty");
        }
        let existing = fs::metadata(path).ok();
        if let Some(meta) = &existing {
            let kind = meta.file_type();
            if kind.is_dir() {
                bail!("{option} {name}: is a directory");
            }
            if let Some(what) = special_kind(&kind).filter(|w| *w != "character device") {
                bail!("{option} {name}: is a {what}; give a regular file");
            }
            if FileId::of(meta).is_some_and(|id| inputs.contains(&id)) {
                bail!("{option} {name}: is one of the input captures; refusing to overwrite it");
            }
            if special_kind(&kind).is_some() {
                // A character device (/dev/null, a terminal): written directly.
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("{option} {name}: cannot open"))?;
                return Ok(OutputFile {
                    shown,
                    target: path.to_path_buf(),
                    temp: None,
                    file,
                });
            }
        }
        // Replace what a symbolic link points to, not the link.
        let target = match existing {
            Some(_) if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
                fs::canonicalize(path).with_context(|| format!("{option} {name}"))?
            }
            _ => path.to_path_buf(),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("{option} {name}: not a file name"))?;
        install_handler();
        let (temp, file) = create_temp(&dir, &base).with_context(|| {
            format!("{option} {name}: cannot create a file in {}", dir.display())
        })?;
        Ok(OutputFile {
            shown,
            target,
            temp: Some(temp),
            file,
        })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file is complete: flush it to disk and rename it into place.
    pub fn commit(mut self) -> Result<()> {
        let name = self.shown.display().to_string();
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let done = self
            .file
            .sync_all()
            .and_then(|()| fs::rename(&temp, &self.target));
        forget(&temp);
        if let Err(e) = done {
            let _ = fs::remove_file(&temp);
            return Err(e).with_context(|| format!("writing {name}"));
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    /// Not committed (an error, a panic): nothing is left behind.
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(&temp);
            forget(&temp);
        }
    }
}

/// `.NAME.PID-N.tmp` beside the target, created exclusively (never an existing file).
fn create_temp(dir: &Path, base: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let temp = dir.join(format!(".{base}.{pid}-{n}.tmp"));
        // Registered before it exists, so that a signal in between removes it too.
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(temp.clone());
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) => {
                forget(&temp);
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "100 temporary names taken",
    ))
}

/// "FIFO", "socket", "block device", "character device", or None for files, directories
/// and symbolic links.
pub fn special_kind(kind: &fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("FIFO");
        }
        if kind.is_socket() {
            return Some("socket");
        }
        if kind.is_block_device() {
            return Some("block device");
        }
        if kind.is_char_device() {
            return Some("character device");
        }
    }
    let _ = kind;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test's own directory, removed when the test ends (passed or not).
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("portreuse-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn listing(d: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_target_appears_only_when_committed() {
        let d = dir("commit");
        let target = d.join("report.html");
        let out = OutputFile::create("--html", &target, &[]).unwrap();
        use std::io::Write;
        out.file().write_all(b"<html>").unwrap();
        assert!(!target.exists());
        assert_eq!(listing(&d).len(), 1, "one temporary file beside the target");
        out.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"<html>");
        assert_eq!(listing(&d), ["report.html"]);
    }

    #[test]
    fn an_abandoned_output_leaves_nothing_and_keeps_the_old_file() {
        let d = dir("abandon");
        let target = d.join("out.pcapng");
        fs::write(&target, b"old").unwrap();
        let out = OutputFile::create("--write", &target, &[]).unwrap();
        use std::io::Write;
        out.file().write_all(b"half a pcapng").unwrap();
        drop(out);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(listing(&d), ["out.pcapng"]);
    }

    #[test]
    fn an_input_is_refused_also_through_a_symbolic_link() {
        let d = dir("input");
        let input = d.join("trace.pcap");
        fs::write(&input, b"capture").unwrap();
        let link = d.join("link.pcap");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = d.join("hard.pcap");
        fs::hard_link(&input, &hard).unwrap();
        let ids = [FileId::of_path(&input).unwrap()];
        for path in [&input, &link, &hard] {
            let err = OutputFile::create("--write", path, &ids).err().unwrap();
            assert!(
                format!("{err:#}").contains("is one of the input captures"),
                "{err:#}"
            );
        }
        assert_eq!(fs::read(&input).unwrap(), b"capture");
    }

    #[test]
    fn a_symbolic_link_target_is_replaced_where_it_points() {
        let d = dir("link");
        let real = d.join("real.html");
        fs::write(&real, b"old").unwrap();
        let link = d.join("link.html");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let out = OutputFile::create("--html", &link, &[]).unwrap();
        use std::io::Write;
        out.file().write_all(b"new").unwrap();
        out.commit().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn directories_fifos_and_missing_directories_are_refused_before_anything_is_read() {
        let d = dir("refuse");
        let err = OutputFile::create("--html", &d, &[]).err().unwrap();
        assert!(format!("{err:#}").contains("is a directory"));
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = OutputFile::create("--write", &fifo, &[]).err().unwrap();
            assert!(format!("{err:#}").contains("is a FIFO"), "{err:#}");
        }
        let err = OutputFile::create("--html", &d.join("no/such/dir/r.html"), &[])
            .err()
            .unwrap();
        let text = format!("{err:#}");
        assert!(
            text.contains("r.html") && text.contains("cannot create"),
            "{text}"
        );
    }

    #[test]
    fn dev_null_is_written_directly() {
        let out = OutputFile::create("--html", Path::new("/dev/null"), &[]).unwrap();
        use std::io::Write;
        out.file().write_all(b"x").unwrap();
        out.commit().unwrap();
    }
}
