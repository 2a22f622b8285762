//! Compares portreuse's JSON (schema v2, DESIGN.md) with a scenario's truth, property by
//! property, and keeps a count table and the first mismatches for the summary.
//!
//! Where the JSON is still schema v1, the v1 key with the nearest meaning is read instead
//! (`time_wait_bracket_s`, `min_reuse_interval_s`, the v1 response-style strings) and the
//! report says so; v2-only keys (`cause`, `answered_syn`) count as "no key".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::model::Style;
use super::truth::{AttemptTruth, Truth, Visibility};

/// Required by issue 10 (10b); the others are reported for information.
pub const REQUIRED: [&str; 4] = ["bracket", "min_port_idle", "pattern", "cause"];

#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub checked: usize,
    pub failed: usize,
    pub no_key: usize,
}

#[derive(Default)]
pub struct Report {
    pub tallies: BTreeMap<&'static str, Tally>,
    /// Cause checks per attempt kind: (checked, failed).
    pub cause_by_kind: BTreeMap<String, (usize, usize)>,
    pub failures: Vec<String>,
    pub failing_runs: usize,
    pub v1_equivalents: BTreeSet<&'static str>,
    pub runs: usize,
    /// (property, "true → reported") → count, for the mismatches.
    pub confusion: BTreeMap<(&'static str, String), usize>,
}

pub struct Run<'a> {
    pub variant: &'static str,
    pub window_s: f64,
    pub json: &'a Value,
}

struct Ctx<'a> {
    report: &'a mut Report,
    mismatches: BTreeMap<&'static str, Vec<String>>,
}

impl Ctx<'_> {
    fn check(&mut self, property: &'static str, ok: bool, detail: impl FnOnce() -> String) {
        let t = self.report.tallies.entry(property).or_default();
        t.checked += 1;
        if !ok {
            t.failed += 1;
            let list = self.mismatches.entry(property).or_default();
            if list.len() < 3 {
                list.push(detail());
            }
        }
    }

    fn confused(
        &mut self,
        property: &'static str,
        truth: impl std::fmt::Debug,
        got: impl std::fmt::Debug,
    ) {
        let k = (property, format!("{truth:?} → {got:?}"));
        *self.report.confusion.entry(k).or_default() += 1;
    }

    fn no_key(&mut self, property: &'static str) {
        self.report.tallies.entry(property).or_default().no_key += 1;
    }
}

pub fn check(truth: &Truth, run: &Run, report: &mut Report) {
    report.runs += 1;
    let mut cx = Ctx {
        report,
        mismatches: BTreeMap::new(),
    };
    let v1 = run.json["schema_version"].as_u64() == Some(1);
    servers(truth, run, v1, &mut cx);
    sources(truth, run, v1, &mut cx);
    attempts(truth, run, &mut cx);
    if run.variant == "short-window" {
        window_warning(truth, run, &mut cx);
    }
    if cx.mismatches.is_empty() {
        return;
    }
    cx.report.failing_runs += 1;
    let keep = std::env::var("PORTREUSE_SCENARIOS_FAILURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    if cx.report.failures.len() < keep {
        let mut s = format!(
            "seed {} [{} --time-wait {} s]: {}\n",
            truth.seed, run.variant, run.window_s, truth.params
        );
        for (prop, list) in &cx.mismatches {
            for m in list {
                let _ = writeln!(s, "    {prop}: {m}");
            }
        }
        cx.report.failures.push(s);
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn servers(truth: &Truth, run: &Run, v1: bool, cx: &mut Ctx) {
    let by_name: HashMap<&str, &Value> = run.json["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["server"].as_str()?, s)))
        .collect();
    for st in truth.servers.iter().filter(|s| s.attempts > 0) {
        let Some(js) = by_name.get(st.server.as_str()) else {
            cx.check("bracket", false, || {
                format!("{} missing from servers[]", st.server)
            });
            continue;
        };
        let (lo, hi) = if js.get("time_wait").is_some() {
            let tw = &js["time_wait"];
            (num(&tw["at_least_s"]), num(&tw["at_most_s"]))
        } else if v1 && js.get("time_wait_bracket_s").is_some() {
            cx.report
                .v1_equivalents
                .insert("servers[].time_wait_bracket_s");
            let b = &js["time_wait_bracket_s"];
            (num(&b["lower"]), num(&b["upper"]))
        } else {
            cx.no_key("bracket");
            continue;
        };
        let tw = f64::from(st.time_wait_s);
        let (lo_ok, hi_ok) = (
            lo.is_none_or(|l| l <= tw + 1e-3),
            hi.is_none_or(|h| h >= tw - 1e-3),
        );
        let ok = lo_ok && hi_ok;
        if !ok {
            let wrong = if lo_ok {
                "at_most below"
            } else {
                "at_least above"
            };
            cx.confused(
                "bracket",
                st.response_style,
                format!("{wrong} the true TIME_WAIT"),
            );
        }
        cx.check("bracket", ok, || {
            format!(
                "{} true TIME_WAIT {} s ({:?}), reported [{:?}, {:?}] (data supports [{:?}, {:?}])",
                st.server,
                st.time_wait_s,
                st.response_style,
                lo,
                hi,
                st.data_at_least_s,
                st.data_at_most_s
            )
        });
        // Informative: a bound wherever the capture supports one.
        if st.data_at_least_s.is_some() || st.data_at_most_s.is_some() {
            let ok = (st.data_at_least_s.is_none() || lo.is_some())
                && (st.data_at_most_s.is_none() || hi.is_some());
            cx.check("bracket_bounded", ok, || {
                format!(
                    "{}: data supports [{:?}, {:?}], reported [{lo:?}, {hi:?}]",
                    st.server, st.data_at_least_s, st.data_at_most_s
                )
            });
        }
        if st.held_syns + st.accepted_advanced_syns > 0 {
            style(st, js, v1, cx);
        }
    }
}

fn style(st: &super::truth::ServerTruth, js: &Value, v1: bool, cx: &mut Ctx) {
    let Some(got) = js["response_style"].as_str().map(|s| match s {
        "silent drop" => "silent_drop",
        "challenge ACK + RST + retry (Linux)" => "challenge_ack",
        "RST" => "rst",
        "ICMP unreachable" => "icmp_unreachable",
        other => other,
    }) else {
        cx.confused("response_style", st.response_style, "null");
        cx.check("response_style", false, || {
            format!("{} response_style null", st.server)
        });
        return;
    };
    if v1 {
        cx.report
            .v1_equivalents
            .insert("servers[].response_style (v1 strings)");
    }
    // A server seen only letting in advanced SYNs shows "accept", whatever it does otherwise.
    let ok: &[&str] = match st.response_style {
        _ if st.held_syns == 0 => &["accept"],
        Style::SilentDrop => &["silent_drop"],
        Style::ChallengeAck => &["challenge_ack"],
        Style::Rst => &["rst"],
        Style::Accept => &["accept", "silent_drop"],
    };
    if !ok.contains(&got) {
        cx.confused("response_style", st.response_style, got);
    }
    cx.check("response_style", ok.contains(&got), || {
        format!("{} true {:?}, reported {got}", st.server, st.response_style)
    });
}

fn sources(truth: &Truth, run: &Run, v1: bool, cx: &mut Ctx) {
    let by_ip: HashMap<&str, &Value> = run.json["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["ip"].as_str()?, s)))
        .collect();
    for st in truth.sources.iter().filter(|s| s.attempts > 0) {
        let Some(js) = by_ip.get(st.ip.as_str()) else {
            cx.check("pattern", false, || {
                format!("{} missing from sources[]", st.ip)
            });
            continue;
        };
        let got = js["pattern"].as_str();
        let ok = got == st.pattern || (got.is_some() && st.pattern.is_some() && !st.pattern_clear);
        if !ok {
            cx.confused("pattern", st.pattern, got);
        }
        cx.check("pattern", ok, || {
            format!(
                "{} ({} attempts, {} ports, {} from the pool): true {:?}, reported {:?}",
                st.ip, st.attempts, st.distinct_ports, st.pool_reuses, st.pattern, got
            )
        });
        let Some(m) = st.min_idle_s else { continue };
        let got = if js.get("min_port_idle_s").is_some() {
            num(&js["min_port_idle_s"])
        } else if v1 {
            cx.report
                .v1_equivalents
                .insert("sources[].min_reuse_interval_s (SYN to SYN)");
            num(&js["min_reuse_interval_s"])
        } else {
            cx.no_key("min_port_idle");
            continue;
        };
        if st.min_idle_exercised {
            let ok = got.is_some_and(|g| (g - m).abs() <= 0.05 * m);
            cx.check("min_port_idle", ok, || {
                format!(
                    "{} true minimum idle {m:.3} s (observed {:?}), reported {got:?}",
                    st.ip, st.observed_min_idle_s
                )
            });
        }
        if let Some(g) = got {
            cx.check("min_port_idle_floor", g >= 0.95 * m, || {
                format!(
                    "{} reported {g:.3} s below the pool's minimum {m:.3} s",
                    st.ip
                )
            });
        }
    }
}

fn key(a: &Value) -> Option<(String, String, u64)> {
    Some((
        a["src"].as_str()?.to_string(),
        a["dst"].as_str()?.to_string(),
        a["frame"].as_u64()?,
    ))
}

fn attempts(truth: &Truth, run: &Run, cx: &mut Ctx) {
    let mut by_key: HashMap<(String, String, u64), &Value> = run.json["attempts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((key(a)?, a)))
        .collect();
    for at in &truth.attempts {
        let k = (at.client.clone(), at.server.clone(), u64::from(at.frame));
        let Some(ja) = by_key.remove(&k) else {
            cx.check("attempts_matched", false, || {
                format!("{} {} frame {} missing", at.client, at.server, at.frame)
            });
            continue;
        };
        cx.check("attempts_matched", true, String::new);
        if let Some(o) = at.outcome {
            let got = ja["outcome"].as_str();
            if got != Some(o) {
                cx.confused("outcome", (o, &at.kind), got);
            }
            cx.check("outcome", got == Some(o), || {
                format!(
                    "frame {} {}→{} ({}): true {o}, reported {got:?}",
                    at.frame, at.client, at.server, at.kind
                )
            });
        }
        if let Some(i) = at.answered_syn {
            match ja.get("answered_syn") {
                Some(v) => cx.check("answered_syn", v.as_u64() == Some(i as u64), || {
                    format!("frame {} ({}): true {i}, reported {v}", at.frame, at.kind)
                }),
                None => cx.no_key("answered_syn"),
            }
        }
        if at.decided {
            cause(truth, at, ja, run.window_s, cx);
        }
    }
    let mut extra: Vec<_> = by_key.into_keys().collect();
    extra.sort_unstable();
    for k in extra {
        cx.check("attempts_matched", false, || {
            format!(
                "reported attempt {} {} frame {} not in the truth",
                k.0, k.1, k.2
            )
        });
    }
}

fn cause(truth: &Truth, at: &AttemptTruth, ja: &Value, window_s: f64, cx: &mut Ctx) {
    let Some(v) = ja.get("cause") else {
        cx.no_key("cause");
        return;
    };
    let got = v.as_str();
    let ok_set = acceptable(truth, at, window_s);
    let ok = ok_set.contains(&got);
    if !ok {
        cx.confused("cause", at.cause, got);
    }
    let label = match ok_set.len() {
        1 => at.kind.clone(),
        n => format!("{} [any of {n}]", at.kind),
    };
    let entry = cx.report.cause_by_kind.entry(label).or_default();
    entry.0 += 1;
    entry.1 += usize::from(!ok);
    cx.check("cause", ok, || {
        format!(
            "frame {} {}→{} ({}, outcome {:?}): true {:?} (accepted {:?}), reported {got:?}",
            at.frame, at.client, at.server, at.kind, at.outcome, at.cause, ok_set
        )
    });
}

/// The causes a correct reading of this capture may give. The true cause always; when the
/// connection that held the 4-tuple is not (wholly) in the capture, also what the capture
/// still supports (issue 10's conditions for `time_wait_before_capture`).
pub fn acceptable(truth: &Truth, at: &AttemptTruth, window_s: f64) -> Vec<Option<&'static str>> {
    let mut ok = vec![at.cause];
    let Some(b) = &at.blocker else { return ok };
    if at.app_refusal.is_some() {
        ok.push(Some("application_refused"));
    }
    if b.visibility == Visibility::InCapture {
        return ok;
    }
    if b.visibility == Visibility::StraddlesStart {
        ok.extend([Some("server_time_wait"), Some("time_wait_before_capture")]);
    }
    let source_ip = at.client.rsplit_once(':').map_or("", |(ip, _)| ip);
    let server_drops = truth.attempts.iter().any(|o| {
        o.server == at.server
            && o.blocker.as_ref().is_some_and(|ob| {
                ob.visibility == Visibility::InCapture && !ob.open && ob.how == "dropped"
            })
    });
    let source_reuses = truth.attempts.iter().any(|o| {
        o.server == at.server
            && o.client.rsplit_once(':').map(|(ip, _)| ip) == Some(source_ip)
            && o.blocker
                .as_ref()
                .is_some_and(|ob| ob.visibility == Visibility::InCapture && !ob.open)
    });
    let evidence =
        source_reuses && server_drops && at.time_s <= window_s && at.outcome == Some("unanswered");
    ok.push(Some("time_wait_before_capture"));
    match (b.open, b.how) {
        (true, _) | (false, "challenged") => {
            ok.extend([Some("open_4tuple"), Some("no_answer")]);
        }
        (false, "reset") => {
            ok.push(Some("no_answer"));
            let accepted_any = truth
                .attempts
                .iter()
                .any(|o| o.server == at.server && o.outcome == Some("established"));
            if !accepted_any {
                ok.push(Some("port_closed"));
            }
        }
        _ if !evidence => {
            ok.push(Some("no_answer"));
            if at.outcome == Some("established") {
                ok.push(None);
            }
        }
        _ => {}
    }
    ok.sort_unstable();
    ok.dedup();
    ok
}

fn window_warning(truth: &Truth, run: &Run, cx: &mut Ctx) {
    let beyond = truth.attempts.iter().any(|a| {
        a.blocker
            .as_ref()
            .is_some_and(|b| !b.open && b.end_frame.is_some())
            && a.syns.iter().any(|s| {
                matches!(s.result, "dropped" | "challenged")
                    && s.gap_s.is_some_and(|g| g > run.window_s)
            })
    });
    if !beyond {
        return;
    }
    let warnings: Vec<&str> = run.json["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let ok = warnings.iter().any(|w| {
        let w = w.to_lowercase();
        w.contains("time-wait") || w.contains("window")
    });
    cx.check("window_warning", ok, || {
        format!(
            "SYNs held beyond --time-wait {} s, warnings {:?}",
            run.window_s, warnings
        )
    });
}

impl Report {
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} runs, {} with a mismatch\nproperty              checked   failed   no key  {}\n",
            self.runs, self.failing_runs, ""
        );
        for (name, t) in &self.tallies {
            let req = if REQUIRED.contains(name) {
                "(required)"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "{name:<20} {:>9} {:>8} {:>8}  {req}",
                t.checked, t.failed, t.no_key
            );
        }
        if !self.v1_equivalents.is_empty() {
            let _ = writeln!(
                s,
                "schema v1 keys read in place of v2: {:?}",
                self.v1_equivalents
            );
        }
        if !self.confusion.is_empty() {
            let _ = writeln!(s, "mismatches, true → reported:");
            for ((prop, pair), n) in &self.confusion {
                let _ = writeln!(s, "  {prop:<15} {pair:<75} {n:>6}");
            }
        }
        if !self.cause_by_kind.is_empty() {
            let _ = writeln!(s, "cause by attempt kind (checked, failed):");
            for (kind, (c, f)) in &self.cause_by_kind {
                let _ = writeln!(s, "  {kind:<60} {c:>6} {f:>6}");
            }
        }
        s
    }

    pub fn required_ok(&self) -> bool {
        REQUIRED.iter().all(|p| {
            self.tallies
                .get(p)
                .is_some_and(|t| t.failed == 0 && t.no_key == 0 && t.checked > 0)
        })
    }
}
