//! Issue 14 item 4: directory walking a user can trust, on temporary trees with symbolic link
//! loops, a FIFO, a socket, an unreadable directory, empty and damaged captures.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

const BROKEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-broken.pcap");
const FIXED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-fixed.pcap");

fn fresh(name: &str) -> PathBuf {
    let dir = common::tmp(name);
    if dir.exists() {
        // An earlier run may have left a directory without permissions.
        let _ = std::process::Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&dir)
            .status();
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The binary with a deadline: a FIFO opened by mistake would hang it.
fn run(args: &[&str]) -> Output {
    common::bin()
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn files(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let f = r["file"].as_str().unwrap();
            Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// tree/
///   a.pcap  b.pcapng  empty.pcap (0 bytes)  bad.cap (no magic)  ring1 (pcap, no extension)
///   notes.txt  fifo.pcap (FIFO)  sock (socket)
///   sub/c.pcap.gz  sub/up -> ..  sub/again -> ../sub  sub/a-link.pcap -> ../a.pcap
fn tree(name: &str) -> PathBuf {
    let dir = fresh(name);
    fs::copy(BROKEN, dir.join("a.pcap")).unwrap();
    fs::copy(FIXED, dir.join("b.pcapng")).unwrap();
    fs::write(dir.join("empty.pcap"), b"").unwrap();
    fs::write(dir.join("bad.cap"), b"this is not a capture at all").unwrap();
    fs::copy(FIXED, dir.join("ring1")).unwrap();
    fs::write(dir.join("notes.txt"), b"not a capture").unwrap();
    mkfifo(&dir.join("fifo.pcap"));
    let socket = UnixListener::bind(dir.join("sock")).unwrap();
    std::mem::forget(socket);
    fs::create_dir(dir.join("sub")).unwrap();
    let gz = std::process::Command::new("gzip")
        .arg("-c")
        .arg(FIXED)
        .output()
        .unwrap();
    fs::write(dir.join("sub/c.pcap.gz"), gz.stdout).unwrap();
    symlink("..", dir.join("sub/up")).unwrap();
    symlink("../sub", dir.join("sub/again")).unwrap();
    symlink("../a.pcap", dir.join("sub/a-link.pcap")).unwrap();
    dir
}

#[test]
fn every_capture_named_file_gets_a_row_and_the_rest_is_counted() {
    let dir = tree("walk-rows");
    let out = run(&["--each", "--format", "ndjson", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "two files are unreadable");
    let records = records(&out);
    assert_eq!(
        files(&records),
        [
            "a.pcap",
            "b.pcapng",
            "bad.cap",
            "empty.pcap",
            "ring1",
            "c.pcap.gz"
        ]
    );
    let error = |name: &str| {
        let r = records
            .iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .unwrap();
        assert_eq!(r["status"], "error");
        r["error"].as_str().unwrap().to_string()
    };
    assert_eq!(error("empty.pcap"), "empty file");
    assert!(error("bad.cap").starts_with("not a pcap, pcapng or Network Monitor file"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 other file not named or recognised as captures, 2 special files (FIFO, socket or device), 3 symbolic links (--follow follows them)"),
        "{stderr}"
    );
}

#[test]
fn symbolic_links_are_followed_only_when_asked_and_loops_end() {
    let dir = tree("walk-follow");
    // Two loops (sub/up -> .., sub/again -> ../sub) and a second path to a.pcap.
    let out = run(&[
        "--each",
        "--follow",
        "--format",
        "ndjson",
        dir.to_str().unwrap(),
    ]);
    let records = records(&out);
    assert_eq!(
        files(&records),
        [
            "a.pcap",
            "b.pcapng",
            "bad.cap",
            "empty.pcap",
            "ring1",
            "c.pcap.gz"
        ],
        "each file once"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 symbolic link loops not entered"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a-link.pcap is the same file as"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_subdirectory_is_an_error_row_and_the_walk_goes_on() {
    let dir = fresh("walk-unreadable");
    fs::copy(BROKEN, dir.join("a.pcap")).unwrap();
    fs::create_dir(dir.join("locked")).unwrap();
    fs::copy(BROKEN, dir.join("locked/hidden.pcap")).unwrap();
    fs::create_dir(dir.join("z")).unwrap();
    fs::copy(FIXED, dir.join("z/b.pcap")).unwrap();
    let chmod = |mode: &str, path: &Path| {
        std::process::Command::new("chmod")
            .arg(mode)
            .arg(path)
            .status()
            .unwrap();
    };
    chmod("a+rx", &dir);
    chmod("a+r", &dir.join("a.pcap"));
    chmod("0", &dir.join("locked"));
    // Root reads every directory: run as nobody (setpriv), like an ordinary user.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_portreuse"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_portreuse"))
    };
    // nobody must reach the tree: every directory above it is searchable by others?
    let reachable = dir.ancestors().all(|d| {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    });
    if root && !reachable {
        chmod("u+rwx", &dir.join("locked"));
        eprintln!("note: the test directory is not reachable for nobody; skipped");
        return;
    }
    let out = cmd
        .args(["--each", "--format", "ndjson"])
        .arg(&dir)
        .output()
        .unwrap();
    chmod("u+rwx", &dir.join("locked"));
    if root && out.status.code().is_none_or(|c| c > 2) {
        eprintln!("note: setpriv failed; skipped");
        return;
    }
    let records = records(&out);
    assert_eq!(files(&records), ["a.pcap", "locked", "b.pcap"]);
    assert_eq!(records[1]["status"], "error");
    assert!(
        records[1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read directory"),
        "{}",
        records[1]
    );
    assert_eq!(records[2]["status"], "ok", "the walk went on");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_empty_directory_or_one_without_captures_is_exit_2() {
    let dir = fresh("walk-empty");
    let out = run(&[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no capture files in this directory (it is empty)"),
        "{stderr}"
    );
    fs::write(dir.join("notes.txt"), b"text").unwrap();
    for each in [false, true] {
        let mut args = vec![dir.to_str().unwrap()];
        if each {
            args.push("--each");
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no capture files in this directory (1 other file skipped)"),
            "{stderr}"
        );
    }
}

#[test]
fn the_same_file_twice_is_read_once_with_a_warning() {
    let dir = fresh("walk-twice");
    let a = dir.join("a.pcap");
    fs::copy(BROKEN, &a).unwrap();
    fs::hard_link(&a, dir.join("hard.pcap")).unwrap();
    let a = a.to_str().unwrap();
    let hard = dir.join("hard.pcap");
    let out = run(&["--format", "json", a, a, hard.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["frames"], 2134, "frames are not doubled");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("is the same file as").count(), 2, "{stderr}");
    assert!(stderr.contains("read once"));
}

#[test]
fn a_fifo_never_hangs_the_walk_or_the_write() {
    let dir = fresh("walk-fifo");
    fs::copy(BROKEN, dir.join("a.pcap")).unwrap();
    mkfifo(&dir.join("trace.pcap"));
    let out = run(&["-q", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    // --write to a FIFO: refused before anything is read, without opening it.
    let fifo = dir.join("out.pcapng");
    mkfifo(&fifo);
    let out = run(&["--write", fifo.to_str().unwrap(), BROKEN]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is a FIFO; give a regular file"),
        "{stderr}"
    );
}
