//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use clap::Parser;
use portreuse::{app, cli::Cli};

/// Runs portreuse in-process (fast enough for thousands of files); Err is what exit 2 prints.
pub fn run_in_process(args: &[&str]) -> Result<(u8, String), String> {
    let mut argv = vec!["portreuse", "-q"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match app::run(&cli, &mut out) {
        Ok(status) => Ok((status.code(), String::from_utf8(out).expect("UTF-8 output"))),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The JSON document for a capture.
pub fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (_, out) = run_in_process(&all).expect("analysis runs");
    serde_json::from_str(&out).expect("valid JSON")
}

/// The binary as a plain std Command (for piping standard input).
pub fn bin_std() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_portreuse"))
}

pub fn bin() -> Command {
    Command::cargo_bin("portreuse").expect("binary built")
}

/// `../shared` beside the checkout (CI and developers have it); `None` when it is absent.
pub fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("note: ../shared/corpus not found; shared-corpus checks skipped");
        None
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portreuse-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
