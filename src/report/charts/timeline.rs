//! Outcomes over time: every attempt counted (not the sample), stacked by outcome per bucket.

use super::input::{ChartInput, secs};
use super::svg::{Plot, Scale, ticks, y_top};
use crate::attempt::Outcome;
use crate::report::{human_secs, thousands};

pub fn chart(input: &ChartInput) -> String {
    let t = &input.timeline;
    let Some(anchor) = t.anchor else {
        return String::new();
    };
    let w = t.width_ns;
    let start = |i: i64| secs(anchor.since(input.origin) + i * w);
    let span = secs(input.end.since(input.origin));
    let first = t.buckets.keys().next().map_or(0.0, |i| start(*i)).min(0.0);
    let last = t
        .buckets
        .keys()
        .next_back()
        .map_or(0.0, |i| start(i + 1))
        .max(span)
        .max(first + 1.0);
    let ymax = y_top(t.buckets.values().map(|c| c.iter().sum()));
    let mut plot = Plot::new(
        "outcomes over time",
        (700.0, 230.0),
        Scale::linear((first, last), (0.0, 0.0)),
        (0.0, ymax),
    );
    let xlabel = format!("seconds since the first frame ({} buckets)", human_secs(w));
    plot.axes(
        &ticks(first, last, 8, secs(w)),
        &ticks(0.0, ymax, 5, 1.0),
        &xlabel,
        "attempts",
    );
    let classes = Outcome::ALL.map(|o| format!("o-{}", o.name()));
    for (i, c) in &t.buckets {
        let x = (start(*i), start(i + 1));
        let parts: Vec<(&str, u64)> = Outcome::ALL
            .iter()
            .map(|o| (classes[*o as usize].as_str(), c[*o as usize]))
            .collect();
        let list: Vec<String> = Outcome::ALL
            .iter()
            .filter(|o| c[**o as usize] > 0)
            .map(|o| format!("{} {}", thousands(c[*o as usize]), o.name()))
            .collect();
        let tip = format!("{:.1}–{:.1} s: {}", x.0, x.1, list.join(", "));
        plot.stack(x, 0.0, &parts, &tip, false);
    }
    plot.finish()
}
