//! Issue 11 items 5–7 and issue 14 items 3 and 5: the conventions of a command-line tool.
//! Help and man page, colour rules, --filter-only and --max-rows 0, --each at 120 columns,
//! progress only on a terminal, outputs checked before the analysis and written atomically,
//! an input refused as output, an unwritable stderr.

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use portreuse::app::colour_rule;
use portreuse::cli::ColorChoice;

const BROKEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-broken.pcap");
const FIXED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/isa2000-fixed.pcap");

fn fresh(name: &str) -> PathBuf {
    let dir = common::tmp(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn run(args: &[&str]) -> Output {
    common::bin()
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Runs `command` on a pseudo-terminal (util-linux `script`), or None without it.
fn on_terminal(command: &str, env: &[(&str, &str)]) -> Option<String> {
    let mut script = Command::new("script");
    script
        .args(["-qec", command, "/dev/null"])
        .env_remove("NO_COLOR");
    for (k, v) in env {
        script.env(k, v);
    }
    let out = script.stdin(Stdio::null()).output().ok()?;
    out.status.success().then(|| text(&out.stdout))
}

/// What follows the progress line's last clear and the cursor moves after it.
fn after_progress(screen: &str) -> &str {
    let mut after = screen.rsplit("\u{1b}[2K").next().unwrap();
    while let Some(rest) = ["\u{1b}[1A", "\u{1b}[1B", "\r"]
        .iter()
        .find_map(|p| after.strip_prefix(p))
    {
        after = rest;
    }
    after
}

#[test]
fn help_is_wrapped_to_the_terminal_width() {
    let help = |columns: &str| {
        let out = common::bin()
            .arg("--help")
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        text(&out.stdout)
    };
    assert!(widest(&help("80")) <= 80, "{}", help("80"));
    assert!(widest(&help("60")) <= 60);
    // Wide terminals: at most 100 columns, like clap recommends.
    assert!(widest(&help("300")) <= 100);
    let help = help("100");
    assert!(help.contains("Examples:") && help.contains("--memory <SIZE>"));
    assert!(help.contains("--color <WHEN>") && help.contains("--follow"));
}

#[test]
fn man_page_has_the_usual_sections_and_renders() {
    let out = common::bin().arg("man").output().unwrap();
    let roff = text(&out.stdout);
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH COMMANDS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH EXAMPLES",
        ".SH \"SEE ALSO\"",
    ] {
        assert!(roff.contains(section), "{section} missing");
    }
    assert!(!roff.contains(".SH EXTRA") && !roff.contains(".SH SUBCOMMANDS"));
    assert!(!roff.contains("portreuse\\-completions(1)") && !roff.contains("portreuse\\-man"));
    let page = common::tmp("portreuse.1");
    fs::write(&page, &roff).unwrap();
    let Ok(man) = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
    else {
        eprintln!("note: man not installed; rendering not checked");
        return;
    };
    assert!(man.status.success(), "{}", text(&man.stderr));
    // Bold and underline come as overstrikes (X BS X, _ BS X) when not on a terminal.
    let mut rendered = String::new();
    for c in text(&man.stdout).chars() {
        if c == '\u{8}' {
            rendered.pop();
        } else {
            rendered.push(c);
        }
    }
    for heading in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            rendered.lines().any(|l| l == heading),
            "{heading} not rendered"
        );
    }
    // Every example command whole, on one line.
    for (command, _) in portreuse::cli::EXAMPLE_LIST {
        assert!(
            rendered.lines().any(|l| l.trim() == command),
            "{command} is not one line in:\n{rendered}"
        );
    }
    // Only pages that exist are referred to (where man can look them up).
    for page in ["tshark", "tcpdump"] {
        let found = Command::new("man").args(["-w", page]).output();
        if found.is_ok_and(|f| f.status.success()) {
            assert!(rendered.contains(&format!("{page}(")));
        }
    }
}

#[test]
fn colour_follows_the_flag_no_color_and_dumb_terminals() {
    let dumb = Some(std::ffi::OsStr::new("dumb"));
    let xterm = Some(std::ffi::OsStr::new("xterm"));
    let set = Some(std::ffi::OsStr::new("1"));
    let empty = Some(std::ffi::OsStr::new(""));
    assert!(colour_rule(ColorChoice::Auto, true, xterm, None));
    assert!(
        colour_rule(ColorChoice::Auto, true, xterm, empty),
        "empty NO_COLOR"
    );
    assert!(
        !colour_rule(ColorChoice::Auto, false, xterm, None),
        "a pipe"
    );
    assert!(!colour_rule(ColorChoice::Auto, true, dumb, None));
    assert!(!colour_rule(ColorChoice::Auto, true, xterm, set));
    assert!(colour_rule(ColorChoice::Always, false, dumb, set));
    assert!(!colour_rule(ColorChoice::Never, true, xterm, None));
    assert_eq!(
        ColorChoice::from_str("always", false),
        Ok(ColorChoice::Always)
    );

    let escapes = |out: &Output| text(&out.stdout).contains('\u{1b}');
    assert!(escapes(&run(&[
        "--color",
        "always",
        "--max-rows",
        "3",
        BROKEN
    ])));
    assert!(!escapes(&run(&[
        "--color",
        "never",
        "--max-rows",
        "3",
        BROKEN
    ])));
    assert!(
        !escapes(&run(&["--max-rows", "3", BROKEN])),
        "auto in a pipe"
    );
    let command = format!("{} --max-rows 3 {BROKEN}", env!("CARGO_BIN_EXE_portreuse"));
    let Some(coloured) = on_terminal(&command, &[("TERM", "xterm")]) else {
        eprintln!("note: script(1) not available; terminal cases not run");
        return;
    };
    let report = |screen: &str| after_progress(screen).to_string();
    assert!(report(&coloured).contains("\u{1b}["), "auto on a terminal");
    let dumb = on_terminal(&command, &[("TERM", "dumb")]).unwrap();
    assert!(!dumb.contains('\u{1b}'), "TERM=dumb");
    let no_color = on_terminal(&command, &[("TERM", "xterm"), ("NO_COLOR", "1")]).unwrap();
    assert!(
        !report(&no_color).contains('\u{1b}'),
        "NO_COLOR: {no_color:?}"
    );
}

#[test]
fn filter_only_with_nothing_flagged_prints_nothing_and_exits_1() {
    let out = run(&["--filter-only", FIXED]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{:?}", text(&out.stdout));
    assert!(text(&out.stderr).contains("nothing flagged"));
    let flagged = run(&["--filter-only", BROKEN]);
    assert_eq!(flagged.status.code(), Some(0));
    assert!(text(&flagged.stdout).starts_with("(ip.addr=="));
}

#[test]
fn max_rows_0_prints_no_flagged_table() {
    let (_, out) = common::run_in_process(&["--max-rows", "0", BROKEN]).unwrap();
    assert!(
        !out.contains("Flagged attempts") && !out.contains("| frame "),
        "{out}"
    );
    assert!(out.contains("Per server:"), "the rest of the report stays");
    let (_, one) = common::run_in_process(&["--max-rows", "1", BROKEN]).unwrap();
    assert!(one.contains("| frame "));
}

/// 50 captures (one of them cut short in the middle of a record) and a damaged one.
fn batch(dir: &Path) {
    let fixtures = [
        "isa2000-broken.pcap",
        "isa2000-fixed.pcap",
        "x400-sister-external.pcap",
        "real/linux-tw-ts-on.pcap",
        "isa2000-broken-netmon2.cap",
    ];
    let sub = dir.join("site-a/firewall-captures");
    fs::create_dir_all(&sub).unwrap();
    for i in 0..10 {
        for f in fixtures {
            let src = format!("{}/testdata/{f}", env!("CARGO_MANIFEST_DIR"));
            let name = format!("{i:02}-{}", f.replace('/', "-"));
            fs::copy(src, sub.join(name)).unwrap();
        }
    }
    let whole = fs::read(BROKEN).unwrap();
    fs::write(
        sub.join("00-isa2000-broken.pcap"),
        &whole[..whole.len() / 2 + 7],
    )
    .unwrap();
    fs::write(dir.join("damaged.pcap"), [0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).unwrap();
}

#[test]
fn each_over_50_files_fits_120_columns_and_says_what_is_cut() {
    let dir = fresh("each-120");
    batch(&dir);
    let (code, out) = common::run_in_process(&["--each", dir.to_str().unwrap()]).unwrap();
    assert_eq!(code, 2, "the damaged file");
    assert!(widest(&out) <= 120, "{} columns:\n{out}", widest(&out));
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 1 + 51, "header and one row per file");
    let cut = rows
        .iter()
        .find(|r| r.contains("00-isa2000-broken.pcap"))
        .unwrap();
    assert!(cut.contains("cut short in frame"), "{cut}");
    let damaged = rows.iter().find(|r| r.contains("damaged.pcap")).unwrap();
    assert!(
        damaged.contains("error: damaged: the file ends inside its header"),
        "{damaged}"
    );
    let broken = rows
        .iter()
        .find(|r| r.contains("01-isa2000-broken.pcap"))
        .unwrap();
    assert!(
        broken.contains(" hit 192.168.50.10:110's TIME_WAIT"),
        "{broken}"
    );
    assert!(out.contains("51 files, 1 unreadable, 1 cut short"), "{out}");
}

/// RFC 4180 records (CRLF, quoted fields with doubled quotes).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (_, '"') => quoted = !quoted,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (_, c) => field.push(c),
        }
    }
    records
}

#[test]
fn each_csv_has_exit_status_finding_and_headline_columns() {
    let dir = fresh("each-csv");
    batch(&dir);
    let dir = dir.to_str().unwrap();
    let (_, out) = common::run_in_process(&["--each", "--format", "csv", dir]).unwrap();
    let rows = csv_records(&out);
    assert_eq!(
        rows[0],
        [
            "file",
            "status",
            "exit_status",
            "frames",
            "syn_attempts",
            "established",
            "unanswered",
            "refused",
            "challenge_ack",
            "reused_in_window",
            "failed_reused_in_window",
            "truncated_at_frame",
            "finding",
            "headline",
            "error"
        ]
    );
    assert_eq!(rows.len(), 52);
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    // The same as the JSON records: status, exit status, headline (joined), error.
    let (_, json) = common::run_in_process(&["--each", "--format", "json", dir]).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (row, record) in rows[1..].iter().zip(json["files"].as_array().unwrap()) {
        assert_eq!(row[0], record["file"].as_str().unwrap());
        assert_eq!(row[1], record["status"].as_str().unwrap());
        assert_eq!(row[2], record["exit_status"].to_string());
        let headline: Vec<&str> = record["headline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(row[13], headline.join(" "));
        assert_eq!(row[14], record["error"].as_str().unwrap_or(""));
    }
    let broken = rows
        .iter()
        .find(|r| r[0].ends_with("01-isa2000-broken.pcap"))
        .unwrap();
    assert_eq!(&broken[1..4], ["ok", "0", "2134"]);
    assert!(!broken[13].is_empty());
    let cut = rows
        .iter()
        .find(|r| r[0].ends_with("00-isa2000-broken.pcap"))
        .unwrap();
    assert!(!cut[11].is_empty(), "truncated_at_frame: {cut:?}");
    let damaged = rows
        .iter()
        .find(|r| r[0].ends_with("damaged.pcap"))
        .unwrap();
    assert_eq!(&damaged[1..3], ["error", "2"]);
}

#[test]
fn progress_appears_only_on_a_terminal_and_ends_cleanly() {
    // Not a terminal: nothing but the report's own warnings on stderr.
    let out = run(&[BROKEN]);
    assert!(out.stderr.is_empty(), "{:?}", text(&out.stderr));
    let out = run(&["--each", BROKEN, FIXED]);
    assert!(out.stderr.is_empty(), "{:?}", text(&out.stderr));
    // On a terminal, fed slowly through a FIFO so that the line is drawn.
    let Some(screen) = slowly_on_terminal("progress-xterm", "xterm") else {
        eprintln!("note: script(1) not available; terminal case not run");
        return;
    };
    assert!(
        screen.contains("slow.pcap") && screen.contains("frames"),
        "{screen:?}"
    );
    // The line is cleared: after the last clear, the report, and no bar.
    let after = after_progress(&screen);
    assert!(after.contains("192.168.50.10:110"), "{after:?}");
    assert!(
        !after.starts_with(['\r', '\n']),
        "no blank line left: {after:?}"
    );
    assert!(
        !after.contains('\u{2588}') && !after.contains("frames/s"),
        "{after:?}"
    );
    // A terminal that cannot redraw a line gets none.
    let dumb = slowly_on_terminal("progress-dumb", "dumb").unwrap();
    assert!(
        !dumb.contains("frames/s") && !dumb.contains('\u{1b}'),
        "{dumb:?}"
    );
}

/// The report of the broken case read from a FIFO fed in two parts 1.2 s apart, on a
/// terminal of type `term`.
fn slowly_on_terminal(name: &str, term: &str) -> Option<String> {
    let dir = fresh(name);
    let fifo = dir.join("slow.pcap");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let whole = fs::read(BROKEN).unwrap();
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = File::options().write(true).open(&fifo).unwrap();
            w.write_all(&whole[..50_000]).unwrap();
            std::thread::sleep(Duration::from_millis(1200));
            w.write_all(&whole[50_000..]).unwrap();
        })
    };
    let command = format!(
        "{} --max-rows 1 {}",
        env!("CARGO_BIN_EXE_portreuse"),
        fifo.display()
    );
    let screen = on_terminal(&command, &[("TERM", term)]);
    if screen.is_none() {
        // Unblock the feeder.
        let _ = File::open(&fifo).map(|mut f| std::io::copy(&mut f, &mut std::io::sink()));
    }
    feeder.join().unwrap();
    screen
}

#[test]
fn outputs_are_checked_before_the_analysis_and_errors_name_the_file() {
    // The input is a FIFO nobody writes to: opening it would hang, so a quick exit proves
    // that the output was checked first.
    let dir = fresh("outputs-first");
    let fifo = dir.join("never.pcap");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap();
    let started = Instant::now();
    let out = run(&["--html", "/nonexistent/dir/report.html", fifo]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "--html /nonexistent/dir/report.html: cannot create a file in /nonexistent/dir"
        ),
        "{}",
        text(&out.stderr)
    );
    let html_dir = dir.join("report.html");
    fs::create_dir(&html_dir).unwrap();
    let out = run(&["--html", html_dir.to_str().unwrap(), fifo]);
    assert!(text(&out.stderr).contains("report.html: is a directory"));
    let out = run(&[
        "--write",
        dir.join("w.pcapng").to_str().unwrap(),
        "--html",
        dir.join("w.pcapng").to_str().unwrap(),
        BROKEN,
    ]);
    assert!(text(&out.stderr).contains("--html and --write name the same file"));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        listing(&dir),
        ["never.pcap", "report.html"],
        "nothing left behind"
    );
}

#[test]
fn an_input_is_never_overwritten_also_through_another_path() {
    let dir = fresh("input-as-output");
    let input = dir.join("trace.pcap");
    fs::copy(BROKEN, &input).unwrap();
    std::os::unix::fs::symlink(&input, dir.join("link.pcap")).unwrap();
    fs::hard_link(&input, dir.join("hard.pcap")).unwrap();
    let before = fs::read(&input).unwrap();
    let i = input.to_str().unwrap();
    for target in ["trace.pcap", "link.pcap", "hard.pcap"] {
        let target = dir.join(target);
        for option in ["--write", "--html"] {
            let out = run(&[option, target.to_str().unwrap(), i]);
            assert_eq!(out.status.code(), Some(2), "{option} {}", target.display());
            assert!(text(&out.stderr).contains("is one of the input captures"));
        }
    }
    // A directory given as input: its captures are inputs too.
    let out = run(&["--write", i, dir.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("is one of the input captures"));
    assert_eq!(fs::read(&input).unwrap(), before);
    assert_eq!(listing(&dir), ["hard.pcap", "link.pcap", "trace.pcap"]);
}

#[test]
fn a_failed_or_interrupted_run_leaves_no_partial_file() {
    let dir = fresh("atomic");
    // An analysis that fails (a damaged capture): no report, no temporary file.
    let damaged = dir.join("damaged.pcap");
    fs::write(&damaged, b"<html>not a capture</html>").unwrap();
    let report = dir.join("report.html");
    let out = run(&[
        "--html",
        report.to_str().unwrap(),
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(listing(&dir), ["damaged.pcap"]);
    // A good run puts the file in place, with nothing beside it.
    let out = run(&[
        "-q",
        "--html",
        report.to_str().unwrap(),
        "--write",
        dir.join("hits.pcapng").to_str().unwrap(),
        BROKEN,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        listing(&dir),
        ["damaged.pcap", "hits.pcapng", "report.html"]
    );
    fs::remove_file(&report).unwrap();
    // Interrupted (SIGINT) while reading: the temporary file is removed.
    let fifo = dir.join("live.pcap");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_portreuse"))
        .args(["-q", "--html"])
        .arg(&report)
        .arg(&fifo)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Opening the FIFO waits for the reader, which opens it after creating its outputs.
    let mut feed = File::options().write(true).open(&fifo).unwrap();
    feed.write_all(&fs::read(BROKEN).unwrap()[..20_000])
        .unwrap();
    let temp = listing(&dir)
        .into_iter()
        .find(|n| n.starts_with(".report.html."));
    assert!(temp.is_some(), "{:?}", listing(&dir));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(killed.unwrap().success());
    let status = child.wait().unwrap();
    drop(feed);
    assert_eq!(status.code(), Some(130));
    assert_eq!(listing(&dir), ["damaged.pcap", "hits.pcapng", "live.pcap"]);
}

#[test]
fn an_unwritable_stderr_never_panics() {
    let whole = fs::read(BROKEN).unwrap();
    let cut = common::tmp("stderr-cut.pcap");
    fs::write(&cut, &whole[..whole.len() - 10]).unwrap();
    let cut = cut.to_str().unwrap();
    let full = || Stdio::from(File::options().write(true).open("/dev/full").unwrap());
    // A warning (cut short), a notice (--filter-only), an error: statuses as usual.
    for (args, code) in [
        (vec![cut], 0),
        (vec!["--filter-only", FIXED], 1),
        (vec!["/nonexistent.pcap"], 2),
        (vec!["--no-such-option"], 2),
    ] {
        let out = common::bin_std()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?} with stderr on /dev/full"
        );
        let closed = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&-")
            .arg(env!("CARGO_BIN_EXE_portreuse"))
            .args(&args)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            closed.status.code(),
            Some(code),
            "{args:?} with stderr closed"
        );
    }
}

#[test]
fn memory_takes_a_size() {
    let (code, _) =
        common::run_in_process(&["--memory", "64M", "--max-rows", "1", BROKEN]).unwrap();
    assert_eq!(code, 0);
    let err = common::run_in_process(&["--memory", "lots", BROKEN]).unwrap_err();
    assert!(err.contains("'lots' is not a size"), "{err}");
}
