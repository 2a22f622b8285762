//! The JSON a perfect reader would write for a scenario, built from its truth: the harness
//! must pass it on every property (a check of the checks, run with the generator's
//! self-test).

use serde_json::{Value, json};

use super::truth::Truth;

pub fn json(truth: &Truth, window_s: f64) -> Value {
    let servers: Vec<Value> = truth
        .servers
        .iter()
        .map(|s| {
            let style = match (s.held_syns, s.response_style) {
                (0, _) => Value::from("accept"),
                (_, style) => serde_json::to_value(style).expect("style"),
            };
            json!({
                "server": s.server,
                "time_wait": {"at_least_s": s.data_at_least_s, "at_most_s": s.data_at_most_s},
                "response_style": style,
            })
        })
        .collect();
    let sources: Vec<Value> = truth
        .sources
        .iter()
        .map(
            |s| json!({"ip": s.ip, "pattern": s.pattern, "min_port_idle_s": s.observed_min_idle_s}),
        )
        .collect();
    let attempts: Vec<Value> = truth
        .attempts
        .iter()
        .map(|a| {
            json!({
                "src": a.client, "dst": a.server, "frame": a.frame,
                "outcome": a.outcome.unwrap_or("unknown"), "cause": a.cause,
                "answered_syn": a.answered_syn,
            })
        })
        .collect();
    let beyond = truth.attempts.iter().any(|a| {
        a.blocker
            .as_ref()
            .is_some_and(|b| !b.open && b.end_frame.is_some())
            && a.syns.iter().any(|s| {
                matches!(s.result, "dropped" | "challenged")
                    && s.gap_s.is_some_and(|g| g > window_s)
            })
    });
    let warnings: Vec<&str> = if beyond {
        vec!["the server held SYNs beyond --time-wait"]
    } else {
        vec![]
    };
    json!({
        "schema_version": 2,
        "attempts": attempts,
        "servers": servers,
        "sources": sources,
        "warnings": warnings,
    })
}
