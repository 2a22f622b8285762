//! The charts page (`report::charts`) rendered from every bundled capture's attempts, and
//! loaded in headless Chromium at 800 and 1400 px: no console errors, no network request,
//! the script drew the lanes and the table. Screenshots go to target/charts-screenshots/ for
//! people to look at. CI=true without Chromium fails.
//!
//! `CHARTS_CAPTURE=big.pcap cargo test --test charts -- --ignored` renders and screenshots
//! any capture the same way (e.g. one from ../shared/perf/gen_capture.py).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use portreuse::attempt::Attempt;
use portreuse::report::charts::{self, ChartBuilder, ChartInput, Page};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(240);
const WIDTHS: [u32; 2] = [800, 1400];

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// The page and the chart input for a capture, through the public API: every decided
/// attempt goes to the adapter; the words come from the report.
fn analyse(capture: &Path, extra: &[&str]) -> (Page, ChartInput) {
    let path = capture.to_str().expect("UTF-8 path");
    let mut argv = vec!["portreuse", "-q"];
    argv.extend_from_slice(extra);
    argv.push(path);
    let cli = portreuse::cli::Cli::try_parse_from(&argv).expect("arguments");
    let opened = portreuse::capture::open(capture).expect("capture opens");
    let mut builder = ChartBuilder::new(cli.time_wait);
    let mut sink = |a: &Attempt, judged: &portreuse::detect::Judged| {
        builder.add_judged(a, judged.flagged, judged.cause.map(|c| c.name()));
        Ok(())
    };
    let options = portreuse::app::Options::from_cli(&cli);
    let analysis =
        portreuse::app::analyze(&options, vec![path.to_string()], vec![opened], &mut sink)
            .expect("analysis runs");
    let r = &analysis.report;
    let mut input = builder.finish(r.first_ts, r.last_ts, vec![path.to_string()]);
    portreuse::report::page::add_brackets(r, &mut input);
    (portreuse::report::page::page(r), input)
}

/// The embedded data, parsed back.
fn data_of(html: &str) -> serde_json::Value {
    let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// Renders the page for a capture; checks what it must be; returns its path and text.
fn render(capture: &Path, extra: &[&str], name: &str) -> (PathBuf, String, ChartInput) {
    let (page, input) = analyse(capture, extra);
    let html = charts::page_html(&page, &input);
    let out = common::tmp(&format!("charts-{name}.html"));
    std::fs::write(&out, &html).unwrap();
    assert_self_contained(&html, &page.title);
    // Every flagged attempt is in the page's data (none were over the budget here).
    let t = input.totals;
    assert_eq!(
        t.flagged, t.flagged_shown,
        "{name}: a flagged attempt was left out"
    );
    let data = data_of(&html);
    let fl = data["p"]["fl"].as_array().unwrap();
    assert_eq!(
        fl.iter().filter(|v| v.as_i64() == Some(1)).count() as u64,
        t.flagged
    );
    assert_eq!(data["totals"]["attempts"], t.attempts);
    (out, html, input)
}

/// One file that needs nothing from elsewhere.
fn assert_self_contained(html: &str, title: &str) {
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    let html = html.replace(title, "");
    for bad in [
        "http://",
        "https://",
        "<link",
        "<iframe",
        "@import",
        "src=",
        "fetch(",
        "XMLHttpRequest",
        "url(h",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
}

/// Every bundled capture renders, with the numbers of its analysis; the broken case shows
/// its collisions.
#[test]
fn pages_of_every_bundled_capture() {
    let mut captures = vec![];
    for dir in ["", "real"] {
        for entry in std::fs::read_dir(testdata(dir)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["pcap", "cap", "pcapng"].contains(&ext) {
                captures.push((path, dir == "real"));
            }
        }
    }
    captures.sort();
    assert!(captures.len() > 10);
    for (path, real) in &captures {
        let extra: &[&str] = if *real { &["--time-wait", "60s"] } else { &[] };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, html, input) = render(path, extra, &name);
        let n = input.totals.attempts;
        if n > 0 {
            assert!(
                html.contains(&format!(
                    "All {} attempts, by outcome.",
                    portreuse::report::thousands(n)
                )),
                "{name}"
            );
        }
    }
    let (_, html, input) = render(&testdata("isa2000-broken.pcap"), &[], "broken");
    assert_eq!(input.totals.attempts, 345);
    assert!(html.contains("192.168.50.1 <span class=\"muted\">(345 attempts, all shown;"));
    // The server-held reuses apart from the client-held ones; the bracket drawn.
    assert!(html.contains("the server held TIME_WAIT (it closed first)"));
    assert!(html.contains("the client held TIME_WAIT (it closed first)"));
    assert!(
        html.contains(">241 s – 247 s</text>"),
        "one label for close bounds"
    );
    let e = input
        .evidence
        .iter()
        .find(|e| e.server.is_some_and(|s| s.port == 110))
        .unwrap();
    // Every SYN of an unanswered reuse of a server-held 4-tuple is an ignored SYN (the
    // field report's Windows schedule: 0, +3, +9 s), as the JSON lists them.
    let json = common::json(&[testdata("isa2000-broken.pcap").to_str().unwrap()]);
    let ignored: u64 = json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "unanswered" && a["reuse"]["time_wait_holder"] == "server")
        .map(|a| 1 + a["syn_retransmits"].as_u64().unwrap())
        .sum();
    assert!(ignored > 300, "{ignored}");
    assert_eq!(e.ignored.values().sum::<u64>(), ignored);
}

/// `--html` writes exactly the page the adapter builds from the same analysis: the words and
/// rows of the report, the charts of every decided attempt.
#[test]
fn the_html_option_writes_the_adapters_page() {
    for (file, extra) in [
        ("isa2000-broken.pcap", &[][..]),
        ("isa2000-fixed.pcap", &[]),
        ("real/linux-tw-never-let-in.pcap", &["--time-wait", "60s"]),
    ] {
        let capture = testdata(file);
        let path = capture.to_str().unwrap();
        let out = common::tmp(&format!("cli-{}.html", file.replace('/', "_")));
        let mut argv = vec!["--html", out.to_str().unwrap()];
        argv.extend_from_slice(extra);
        argv.push(path);
        let (status, _) = common::run_in_process(&argv).expect("analysis runs");
        assert!(status <= 1, "{file}: exit {status}");
        let written = std::fs::read_to_string(&out).expect("the page was written");
        let (page, input) = analyse(&capture, extra);
        assert_eq!(written, charts::page_html(&page, &input), "{file}");
        // The page carries what the terminal does: the headline, every section and table.
        let (_, table) = common::run_in_process(&[extra, &[path]].concat()).unwrap();
        for line in table.lines().take_while(|l| !l.is_empty()) {
            let escaped = charts::svg::escape(line);
            assert!(written.contains(&escaped), "{file}: headline line {line:?}");
        }
        for heading in ["Per server", "Attempts by reuse of the 4-tuple and outcome"] {
            assert!(written.contains(heading), "{file}: {heading}");
        }
    }
}

#[test]
fn bundled_pages_in_chromium() {
    let cases: [(&str, &[&str]); 8] = [
        ("isa2000-broken.pcap", &[]),
        ("isa2000-fixed.pcap", &[]),
        ("isa2000-broken-netmon2.cap", &[]),
        ("isa2000-broken-one-direction.pcap", &[]),
        ("x400-sister-external.pcap", &[]),
        ("x400-sister-both-legs.pcap", &[]),
        ("real/linux-tw-never-let-in.pcap", &["--time-wait", "60s"]),
        ("real/linux-tw-ts-off-bigxfer.pcap", &["--time-wait", "60s"]),
    ];
    if !chromium_present() {
        return;
    }
    for (file, extra) in cases {
        let name = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (page, html, input) = render(&testdata(file), extra, &name);
        in_chromium(&page, &name, &html, &input);
    }
}

/// Clicks and hovers in the page, run by Chromium after the page's own script; it writes
/// what it found into `<pre id="selftest">`, which the test reads from the dumped DOM.
const SELF_TEST: &str = r#"<script>
(function () {
  var out = [];
  function ok(name, cond) { out.push((cond ? 'ok ' : 'FAIL ') + name); }
  function col(name) {
    var ths = document.querySelectorAll('#flagged-table th');
    for (var k = 0; k < ths.length; k++) if (ths[k].textContent === name) return k;
    return -1;
  }
  function cell(row, name) { return document.querySelectorAll('#flagged-table tbody tr')[row].children[col(name)].textContent; }
  try {
    var m = document.querySelector('.lanes circle.o-unanswered');
    var r = m.getBoundingClientRect();
    m.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + 2, clientY: r.top + 2 }));
    var tip = document.getElementById('tip');
    ok('hover shows the text', tip.style.display === 'block');
    ok('the text names the frame', /^frame \d+, /.test(tip.textContent));
    ok('the text names the 4-tuple', tip.textContent.indexOf(' → 192.168.50.10:110') > 0);
    ok('the text names the gap', /, [0-9.]+ s after its last packet \(frame \d+\)/.test(tip.textContent));
    ok('the text names the outcome', tip.textContent.indexOf('unanswered') > 0);
    m.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
    ok('hover lights its link', document.querySelectorAll('.lanes path.link.hl').length === 1);
    var gap = document.querySelectorAll('#flagged-table th')[col('gap')];
    gap.click(); gap.click();
    ok('sorted by gap, longest first', cell(0, 'gap') === '232 s');
    var q = document.querySelector('#flagged-table .q');
    q.value = ':3005 unanswered';
    q.dispatchEvent(new Event('input'));
    var rows = document.querySelectorAll('#flagged-table tbody tr');
    var all = true;
    for (var k = 0; k < rows.length; k++) all = all && cell(k, 'client') === '192.168.50.1:3005' && cell(k, 'outcome') === 'unanswered';
    ok('filtered to port 3005 (' + rows.length + ' rows)', rows.length === PORT_ROWS && all);
    ok('the pager counts the filtered rows', document.querySelector('#flagged-table .range').textContent.indexOf(' of ' + PORT_ROWS + ' (of ' + FLAGGED + ')') >= 0);
    rows[0].click();
    ok('a row shows its attempt in the lanes', document.querySelectorAll('.lanes circle.flash').length === 1);
    q.value = ''; q.dispatchEvent(new Event('input'));
    document.querySelector('#flagged-table .next').click();
    ok('the next page', document.querySelector('#flagged-table .range').textContent === ' rows 51\u2013100 of ' + FLAGGED + ' ');
  } catch (e) {
    out.push('FAIL exception ' + e);
  }
  var pre = document.createElement('pre');
  pre.id = 'selftest';
  pre.textContent = out.join('\n');
  document.body.appendChild(pre);
})();
</script>"#;

/// Hover, sort, filter, page and jump on the broken case's page, in Chromium.
#[test]
fn broken_page_reacts_to_the_mouse() {
    if !chromium_present() {
        return;
    }
    let capture = testdata("isa2000-broken.pcap");
    let (page, html, input) = render(&capture, &[], "broken-selftest");
    // What the filter and the pager must find, from the JSON.
    let json = common::json(&[capture.to_str().unwrap()]);
    let port_rows = json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["src"] == "192.168.50.1:3005" && a["outcome"] == "unanswered")
        .count();
    let expected = format!(
        "<script>var PORT_ROWS = {port_rows}, FLAGGED = {};</script>",
        input.totals.flagged
    );
    let html = html.replace("</body>", &format!("{expected}{SELF_TEST}</body>"));
    std::fs::write(&page, html).unwrap();
    let url = format!("file://{}", std::fs::canonicalize(&page).unwrap().display());
    let (dom, stderr) = run_chromium("selftest", &["--window-size=1400,3000", "--dump-dom", &url]);
    check_console(&stderr, &page);
    let start = dom
        .find("<pre id=\"selftest\">")
        .expect("the self-test ran");
    let report = &dom[start..];
    let report = &report[..report.find("</pre>").unwrap()];
    assert!(
        !report.contains("FAIL") && report.matches("ok ").count() == 11,
        "{report}"
    );
    // Absolute times, at the capture's precision: frame 61 is 6.199852 s after the first
    // frame, 2005-05-16T09:00:02.420600Z.
    let (mut p, input) = analyse(&testdata("isa2000-broken.pcap"), &[]);
    p.absolute_times = true;
    std::fs::write(&page, charts::page_html(&p, &input)).unwrap();
    let (dom, _) = run_chromium("absolute", &["--dump-dom", &url]);
    assert!(dom.contains("<td class=\"r\">2005-05-16T09:00:08.620452Z</td>"));
}

#[test]
#[ignore = "set CHARTS_CAPTURE to a capture"]
fn any_capture_in_chromium() {
    let Ok(capture) = std::env::var("CHARTS_CAPTURE") else {
        return;
    };
    let capture = PathBuf::from(capture);
    let name = capture.file_stem().unwrap().to_string_lossy().into_owned();
    let (page, html, input) = render(&capture, &[], &name);
    eprintln!(
        "{}: {} bytes, {:?}",
        page.display(),
        html.len(),
        input.totals
    );
    if chromium_present() {
        in_chromium(&page, &name, &html, &input);
    }
}

fn chromium_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{CHROMIUM} is missing: CI must install it (see .ci/run)"
    );
    eprintln!("note: {CHROMIUM} not found; the pages were not opened in a browser");
    false
}

/// Loads the page: once for its DOM after the script ran, then a screenshot per width.
fn in_chromium(page: &Path, name: &str, html: &str, input: &ChartInput) {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let shots = tmp.parent().expect("target dir").join("charts-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let page = std::fs::canonicalize(page).unwrap();
    let url = format!("file://{}", page.display());
    // The DOM once the script has run: the table rows and the lanes are there.
    let (dom, stderr) = run_chromium(name, &["--dump-dom", &url]);
    check_console(&stderr, &page);
    let flagged = input.totals.flagged;
    if flagged > 0 {
        // Rows drawn (the script's own text has the pattern too, without a number).
        let rows = dom
            .match_indices("<tr data-i=\"")
            .filter(|(at, m)| dom[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
            .count() as u64;
        assert_eq!(rows, flagged.min(50), "{name}: the table's first page");
        let range = format!("of {} ", portreuse::report::thousands(flagged));
        assert!(dom.contains(&range), "{name}: pager says {range:?}");
    }
    if html.contains("class=\"lanes\"") {
        assert!(
            dom.contains("aria-label=\"source port against time for"),
            "{name}: no lanes drawn"
        );
        let marks = dom
            .match_indices("<circle class=\"o-")
            .filter(|(at, m)| dom[at + m.len()..].starts_with(|c: char| c.is_ascii_lowercase()))
            .count();
        assert!(marks > 0, "{name}: no marks in the lanes");
    }
    for width in WIDTHS {
        let png = shots.join(format!("{name}-{width}.png"));
        let netlog = tmp.join(format!("charts-netlog-{name}-{width}.json"));
        for old in [&png, &netlog] {
            let _ = std::fs::remove_file(old);
        }
        let (_, stderr) = run_chromium(
            name,
            &[
                &format!("--log-net-log={}", netlog.display()),
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={width},3200"),
                &url,
            ],
        );
        check_console(&stderr, &page);
        let requests = page_requests(&netlog);
        assert!(
            requests.is_empty(),
            "{name}: the page made network requests: {requests:?}"
        );
        let bytes = std::fs::read(&png).expect("the screenshot was written");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let dims = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((dims(16), dims(20)), (width, 3200), "screenshot size");
        assert!(bytes.len() > 10 * 1024, "screenshot is nearly blank");
        eprintln!("screenshot: {} ({} bytes)", png.display(), bytes.len());
    }
}

/// Any console message from the page, or an uncaught error, is a fault.
fn check_console(stderr: &str, page: &Path) {
    let page_name = page.file_name().unwrap().to_string_lossy().into_owned();
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .filter(|l| l.contains("Uncaught") || l.contains("rror") || l.contains(&page_name))
        .collect();
    assert!(
        console.is_empty(),
        "console messages from the page:\n{}",
        console.join("\n")
    );
}

/// Runs Chromium with a fresh profile and a time limit; returns (stdout, stderr).
fn run_chromium(name: &str, args: &[&str]) -> (String, String) {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let profile = tmp.join(format!("charts-chromium-profile-{name}"));
    let _ = std::fs::remove_dir_all(&profile);
    let mut all = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--hide-scrollbars".into(),
        "--host-resolver-rules=MAP * ~NOTFOUND".into(),
        format!("--user-data-dir={}", profile.display()),
        "--enable-logging=stderr".into(),
        "--v=0".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let mut child = Command::new(CHROMIUM)
        .args(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (stdout, stderr)
}

/// URLs the page itself asked for, from Chromium's net log: requests started on behalf of
/// a file:// document.
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("the net log was written");
    let log: serde_json::Value = serde_json::from_str(&text).expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    assert!(
        start_job.is_number(),
        "net log without URL_REQUEST_START_JOB"
    );
    log["events"]
        .as_array()
        .expect("net log events")
        .iter()
        .filter(|e| e["type"] == start_job)
        .map(|e| &e["params"])
        .filter(|p| {
            ["network_isolation_key", "site_for_cookies", "initiator"]
                .iter()
                .any(|k| p[k].as_str().is_some_and(|v| v.contains("file://")))
        })
        .map(|p| p["url"].as_str().unwrap_or("?").to_string())
        .collect()
}
