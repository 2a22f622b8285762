//! The page as a whole: self-contained, escaped, numbers that agree with what is drawn.

use super::*;
use crate::attempt::{Attempt, Holder, Reuse};
use crate::tcp::{Endpoint, FrameRef, Seq};
use crate::time::{NANOS_PER_SEC, Ts};

const S: i64 = NANOS_PER_SEC;

/// Attempt `i` (frame i+1) from port 3000 + i % 2, 3 s apart, each reusing the 4-tuple of
/// the attempt two before it 2 s after that one ended; every third one established.
fn pooled(n: u64) -> Vec<Attempt> {
    let frame = |number| FrameRef { file: 0, number };
    (0..n)
        .map(|i| {
            let client = Endpoint {
                ip: "10.0.0.1".parse().unwrap(),
                port: 3000 + (i % 2) as u16,
            };
            let server = Endpoint {
                ip: "10.0.0.2".parse().unwrap(),
                port: 110,
            };
            let ts = Ts(i as i64 * 3 * S);
            let mut a = Attempt::from_syn(frame(i + 1), ts, client, server, Seq(0));
            a.reuse = i.checked_sub(2).map(|p| Reuse {
                previous_frame: frame(p + 1),
                previous_ts: Ts(p as i64 * 3 * S),
                previous_end_frame: frame(p + 1),
                gap_ns: 2 * S,
                in_window: true,
                holder: Holder::Server,
                open: false,
                isn_advanced: None,
                ts_advanced: None,
            });
            a.outcome = if i % 3 == 0 {
                Outcome::Established
            } else {
                Outcome::Unanswered
            };
            a
        })
        .collect()
}

fn input_of(attempts: &[Attempt], files: &[&str]) -> ChartInput {
    let mut b = ChartBuilder::new(240 * S);
    attempts.iter().for_each(|a| b.add(a));
    let files = files.iter().map(|f| f.to_string()).collect();
    b.finish(Some(Ts(0)), Some(Ts(60 * S)), files)
}

fn page_for(title: &str) -> Page {
    Page {
        title: title.to_string(),
        headline: vec!["13 of 13 failed attempts <hit> a TIME_WAIT.".into()],
        intro: vec!["Read 100 frames.".into()],
        display_filter: "(ip.addr==10.0.0.1 && tcp.port==3000)".into(),
        filter_tuples: 2,
        sections: vec![Section {
            title: "Source ports".into(),
            items: vec![Item {
                text: "10.0.0.1: pooled".into(),
                details: vec!["detail".into()],
            }],
        }],
        tables: vec![Table {
            title: "Per server".into(),
            header: vec!["server".into(), "attempts".into()],
            right: vec![false, true],
            rows: vec![vec!["10.0.0.2:110".into(), "20".into()]],
            note: String::new(),
        }],
        digits: 6,
        ..Page::default()
    }
}

/// The embedded data, parsed back.
fn data_of(html: &str) -> serde_json::Value {
    let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn the_page_needs_nothing_from_elsewhere() {
    let name = "http://example.com/<x>.pcap";
    let html = page_html(&page_for(name), &input_of(&pooled(20), &["a.pcap"]));
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("&lt;x&gt;.pcap") && !html.contains("<x>"));
    let html = html.replace(&escape(name), "");
    for bad in [
        "http://",
        "https://",
        "<link",
        "<iframe",
        "url(http",
        "@import",
        "src=",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    assert_eq!(
        html.matches("<script").count(),
        2,
        "the data and the inline script"
    );
    assert!(html.contains("13 of 13 failed attempts &lt;hit&gt; a TIME_WAIT."));
    assert!(html.contains("<meta name=\"viewport\""));
}

#[test]
fn every_flagged_attempt_is_in_the_data_and_the_headings_agree() {
    let attempts = pooled(20);
    let html = page_html(&page_for("a.pcap"), &input_of(&attempts, &["a.pcap"]));
    let data = data_of(&html);
    let flagged = attempts.iter().filter(|a| a.is_flagged()).count();
    let fl = data["p"]["fl"].as_array().unwrap();
    assert_eq!(fl.len(), 20);
    assert_eq!(fl.iter().filter(|v| v.as_i64() == Some(1)).count(), flagged);
    assert_eq!(data["totals"]["flagged"], flagged as u64);
    assert!(
        html.contains("10.0.0.1 <span class=\"muted\">(20 attempts, all shown; 19 flagged)</span>")
    );
    assert!(html.contains(&format!("all {flagged}")));
    // The gaps: one server-held panel, 18 reuses inside the window, 12 failed.
    assert!(html.contains("18 reuses, 18 inside the window, 12 failed"));
    assert!(
        html.contains("id=\"copy-filter\"")
            && html.contains("(ip.addr==10.0.0.1 &amp;&amp; tcp.port==3000)")
    );
    assert!(html.contains("<h3>Source ports</h3>") && html.contains("<li>detail</li>"));
    assert!(html.contains("<td class=\"r\">20</td>"));
    // Evidence: 12 unanswered attempts, one SYN each, at 2 s; 6 accepted.
    assert!(html.contains("18 SYNs into its TIME_WAIT: 12 ignored, 0 challenged, 6 accepted"));
}

#[test]
fn a_sampled_source_says_how_many_are_shown() {
    let attempts = pooled(20);
    let mut input = input_of(&attempts, &["a.pcap"]);
    input.sources[0].shown = 15;
    input.totals.stride = 2;
    let html = page_html(&page_for("a.pcap"), &input);
    assert!(html.contains("15 of 20 attempts shown: every flagged one kept, 1 in 2 of the others"));
}

#[test]
fn several_files_label_frames_with_their_file() {
    let html = page_html(
        &page_for("a, b"),
        &input_of(&pooled(4), &["a.pcap", "b.pcap"]),
    );
    let data = data_of(&html);
    assert!(data["p"]["fi"].is_array() && data["p"]["pfi"].is_array());
    let input = input_of(&pooled(4), &["a.pcap", "b.pcap"]);
    assert_eq!(
        input.frame_label(FrameRef { file: 1, number: 7 }),
        "b.pcap#7"
    );
}

#[test]
fn the_bracket_set_by_the_diagnosis_is_drawn() {
    let mut input = input_of(&pooled(20), &["a.pcap"]);
    let server = input.servers[0];
    input.set_bracket(server, Some(2 * S), None);
    let html = page_html(&page_for("a.pcap"), &input);
    assert!(html.contains("TIME_WAIT at least 2 s"));
    assert!(html.contains("class=\"bracket\""));
}

#[test]
fn no_attempts_gives_a_page_without_charts() {
    let html = page_html(&page_for("empty.pcap"), &input_of(&[], &["empty.pcap"]));
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 0);
    assert!(!html.contains("id=\"flagged-table\""));
    assert!(html.contains("Read 100 frames."));
}
