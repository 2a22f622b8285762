//! The diagnosis sections: source ports, servers and their TIME_WAIT, what the clients felt,
//! direction asymmetry, relayed conversations; and the fix.

use super::{
    count, human_secs, known_name, pattern_name, range_text, refusal_name, schedule_name,
    style_name, thousands,
};
use crate::attempt::Outcome;
use crate::detect::asymmetry::Asymmetry;
use crate::detect::findings::{ServerFinding, SourceFinding};
use crate::detect::fix::{Fix, RestBasis, rest_ms};
use crate::detect::minutes::Minutes;
use crate::detect::relays::Relay;
use crate::detect::time_wait::{Bracket, KnownTimeWait, ResponseStyle, Verdict, VerdictCount};
use crate::report::Report;

/// Lines listed per section in the table and HTML (the JSON lists all).
const MOST_LINES: usize = 20;

/// One line of a diagnosis section, with the lines that detail it (a server's verdicts).
pub struct Line {
    pub text: String,
    pub details: Vec<String>,
}

impl Line {
    fn plain(text: String) -> Line {
        Line {
            text,
            details: Vec::new(),
        }
    }
}

/// "192.168.50.1: 11 ports (3000–3010) over 345 attempts; pooled pattern; ports rest 1.2 s
/// after their connection ends before reuse ..."; `None` under 8 attempts.
pub fn source_sentence(s: &SourceFinding, window_ns: i64) -> Option<String> {
    let pattern = s.pattern?;
    let t = &s.tally;
    let mut line = format!(
        "{}: {} ({}–{}) over {}; {} pattern",
        s.ip,
        count(t.distinct_ports, "port"),
        t.min_port,
        t.max_port,
        count(t.attempts, "attempt"),
        pattern_name(pattern)
    );
    if let Some(idle) = t.returns().port_idle.range.min() {
        line.push_str(&format!(
            "; a port is reused {} after its previous connection ended",
            human_secs(idle)
        ));
    }
    if let Some(syn) = t.returns().reuse_interval.range.min() {
        line.push_str(&format!(" (SYN to SYN: {} at least)", human_secs(syn)));
    }
    match &s.fix {
        Some(fix) => line.push_str(&format!("; {}", fix_text(fix))),
        None if t.fastest_return_ns().is_some_and(|m| m < window_ns) => line.push_str(&format!(
            "; a reuse interval ≥ {} or a pool of ≥ {} ports at {:.2} conn/s keeps ports out of a {} TIME_WAIT",
            human_secs(window_ns),
            thousands(t.pool_needed(window_ns)),
            t.sustained_rate(),
            human_secs(window_ns)
        )),
        None => {}
    }
    line.push('.');
    Some(line)
}

/// The stack a TIME_WAIT implied by a response style belongs to.
fn implied_text(rest_ns: i64) -> &'static str {
    if rest_ns == 60 * crate::time::NANOS_PER_SEC {
        "Linux holds it a fixed 60 s"
    } else {
        "Windows holds it 240 s by default"
    }
}

/// Where the rest comes from, for people.
pub(super) fn basis(fix: &Fix) -> String {
    match fix.rest_basis {
        RestBasis::KnownDefault => format!("{}'s TIME_WAIT", fix.server),
        RestBasis::UpperBound => format!("{}'s TIME_WAIT is at most that", fix.server),
        RestBasis::ImpliedByStyle => format!(
            "{}'s TIME_WAIT as its answers imply: {}",
            fix.server,
            implied_text(fix.rest_ns)
        ),
        RestBasis::LowerBound => format!("{} held TIME_WAIT at least that long", fix.server),
        RestBasis::Window => "the --time-wait window".to_string(),
    }
}

pub(super) fn fix_text(fix: &Fix) -> String {
    if !fix.pooled {
        return format!(
            "let ports rest ≥ {} before reuse ({})",
            human_secs(fix.rest_ns),
            basis(fix)
        );
    }
    format!(
        "let ports rest ≥ {} before reuse ({}; ISA 2000: MinTickBeforePortReuse = {}), or make the pool ≥ {} ports at {:.2} conn/s",
        human_secs(fix.rest_ns),
        basis(fix),
        rest_ms(fix),
        thousands(fix.pool_ports),
        fix.rate_per_s
    )
}

/// How a source reuses its ports now: "192.168.50.1 reuses a source port 1.23 s after its
/// connection ended (pooled, 11 ports; ...)" (no full stop).
pub fn reuse_text(fix: &Fix) -> String {
    match fix.port_idle_ns {
        Some(idle) => {
            let mut notes = Vec::new();
            if fix.pooled {
                notes.push(format!("pooled, {}", count(fix.pool_now, "port")));
            }
            if fix.isa_default {
                notes.push("ISA 2000's MinTickBeforePortReuse default is 1,200 ms".to_string());
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            format!(
                "{} reuses a source port {} after its connection ended{notes}",
                fix.source,
                human_secs(idle),
            )
        }
        None => format!(
            "{} reuses source ports inside {}'s TIME_WAIT",
            fix.source, fix.server
        ),
    }
}

/// "Fix: let ports rest ≥ 240 s before reuse (...), or make the pool ≥ 208 ports at 0.87
/// conn/s; or shorten 192.168.50.10:110's TIME_WAIT."
pub fn remedy_sentence(fix: &Fix) -> String {
    format!(
        "Fix: {}; or shorten {}'s TIME_WAIT.",
        fix_text(fix),
        fix.server
    )
}

/// A source's fix in one sentence pair: how it reuses ports now, then the remedy (the
/// headline's second and third lines when one source collides).
pub fn fix_sentence(fix: &Fix) -> String {
    format!("{}. {}", reuse_text(fix), remedy_sentence(fix))
}

/// "between 232 s and 244 s: consistent with Windows' 240 s default", or what cannot be said.
pub fn bracket_text(b: &Bracket, style: Option<ResponseStyle>) -> Option<String> {
    if let Some(c) = b.conflict {
        return Some(format!(
            "the evidence conflicts: a SYN was still ignored or challenged {} after the previous connection ended, but another was let in after only {}, with no advanced ISN or timestamp to explain it",
            human_secs(c.held_ns),
            human_secs(c.accepted_ns)
        ));
    }
    let text = match (b.at_least_ns, b.at_most_ns) {
        _ if !b.bounded => {
            let held = b
                .at_least_ns
                .map(|l| format!(" (SYNs were held up to {} after the previous connection ended, none let in later)", human_secs(l)))
                .unwrap_or_default();
            let implied = match (style, b.implied) {
                (Some(_), Some(KnownTimeWait::Linux60)) => {
                    "; challenge ACK + RST + retry is how Linux answers, and Linux holds TIME_WAIT a fixed 60 s"
                }
                (Some(_), Some(KnownTimeWait::Windows240)) => {
                    "; a silent drop is how Windows answers (TcpTimedWaitDelay, 240 s by default on older versions)"
                }
                _ => "",
            };
            return b
                .at_least_ns
                .map(|_| format!("not bounded by this capture{held}{implied}"));
        }
        (Some(l), Some(u)) => format!("between {} and {}", human_secs(l), human_secs(u)),
        (Some(l), None) => format!("at least {}", human_secs(l)),
        (None, Some(u)) => format!("at most {}", human_secs(u)),
        (None, None) => return None,
    };
    Some(match b.consistent_with {
        Some(k) => format!("{text}: consistent with {}", known_name(k)),
        None => text,
    })
}

pub fn verdict_text(v: &VerdictCount, b: &Bracket) -> String {
    let n = thousands(v.count);
    let gaps = v
        .gaps
        .both()
        .map(|(a, z)| range_text(a, z))
        .unwrap_or_else(|| "unknown".into());
    match v.verdict {
        Verdict::Ignored => format!("{n} ignored"),
        Verdict::IgnoredDespiteIsn => format!(
            "{n} ignored although the ISN advanced: the server does not let SYNs into TIME_WAIT early, like Windows 2000/2003"
        ),
        Verdict::IgnoredThenLetIn => format!(
            "{n} ignored, then let in on a retransmission once TIME_WAIT had ended (at gaps of {gaps})"
        ),
        Verdict::Challenged => format!("{n} challenged (a bare ACK), never let in"),
        Verdict::ChallengedThenLetIn => {
            format!("{n} challenged, then let in once the client's RST cleared TIME_WAIT")
        }
        Verdict::AcceptedTimestampAdvanced => {
            format!("{n} let in early: the timestamp advanced (RFC 6191)")
        }
        Verdict::AcceptedIsnAdvanced => format!(
            "{n} let in early: the ISN advanced, as Linux and BSD allow (RFC 1122 4.2.2.13)"
        ),
        Verdict::AcceptedAfterTimeWait => {
            format!("{n} let in at gaps of {gaps}, once TIME_WAIT had ended")
        }
        Verdict::AcceptedConflicting => format!(
            "{n} let in at gaps of {gaps}, although SYNs were still held at gaps up to {}: these conflict",
            b.at_least_ns.map_or("?".into(), human_secs)
        ),
        Verdict::Refused => format!("{n} refused (RST)"),
        Verdict::RefusedThenLetIn => {
            format!("{n} refused (RST), then let in on a retransmission (at gaps of {gaps})")
        }
        Verdict::IcmpError => format!("{n} answered by an ICMP error"),
    }
}

/// "192.168.50.10:110: answers SYNs in its TIME_WAIT with silent drop; TIME_WAIT between ..."
pub fn server_sentence(s: &ServerFinding) -> Option<String> {
    let j = &s.judgement;
    let style = j
        .style
        .map(|st| format!("answers SYNs in its TIME_WAIT with {}", style_name(st)));
    let bracket = bracket_text(&j.bracket, j.style).map(|b| format!("TIME_WAIT {b}"));
    let parts: Vec<String> = style.into_iter().chain(bracket).collect();
    (!parts.is_empty()).then(|| format!("{}: {}", s.server, parts.join("; ")))
}

/// Failure share per bucket, as `12%` figures (the first 30 buckets).
fn per_minute_text(m: &Minutes) -> String {
    let (width, buckets) = (m.width_minutes(), m.buckets());
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return String::new();
    };
    let (mut out, mut next, mut start) = (Vec::new(), 0, first.minute);
    while out.len() < 30 && start <= last.minute {
        match buckets.get(next) {
            Some(b) if b.minute == start => {
                out.push(format!("{}%", b.failed * 100 / b.attempts.max(1)));
                next += 1;
            }
            _ => out.push("-".to_string()),
        }
        start += width;
    }
    out.join(" ")
}

pub fn asymmetry_sentence(a: &Asymmetry) -> String {
    let f = &a.failing;
    let mut parts = Vec::new();
    for o in Outcome::ALL.iter().filter(|o| o.is_failure()) {
        let n = f.outcomes().get(*o);
        if n > 0 {
            parts.push(format!("{} {}", thousands(n), o.name().replace('_', " ")));
        }
    }
    if f.refused_by_application() > 0 {
        let forms: Vec<String> = f
            .forms()
            .map(|(form, n)| format!("{} {}", thousands(n), refusal_name(form)))
            .collect();
        parts.push(format!(
            "{} accepted by TCP, then refused by {} within a second: {}",
            thousands(f.refused_by_application()),
            a.refuser,
            forms.join(", ")
        ));
    }
    format!(
        "{} → {}:{}: {} of {} fail ({}), while {} → {}:{} works ({} of {} succeed): {} refuses connections from {} on port {}.",
        a.initiator,
        a.refuser,
        a.port,
        thousands(f.failed()),
        count(f.attempts(), "attempt"),
        parts.join("; "),
        a.refuser,
        a.initiator,
        a.port,
        thousands(a.working.succeeded()),
        thousands(a.working.attempts()),
        a.refuser,
        a.initiator,
        a.port
    )
}

pub fn relay_sentence(relay: &Relay, n: u64) -> String {
    if relay.transparent {
        format!(
            "{} from {} to {}:{} went on as {} → {}:{} with the client's own address and the same bytes both ways: {} relays transparently (client-side transparency), so {} sees {}, not the relay.",
            count(n, "conversation"),
            relay.client,
            relay.relay,
            relay.port,
            relay.client,
            relay.server,
            relay.port,
            relay.relay,
            relay.server,
            relay.client
        )
    } else {
        format!(
            "{}: {} → {}:{} relayed as {} → {}:{} (the relay's own address on the second leg, the same bytes both ways).",
            count(n, "conversation"),
            relay.client,
            relay.relay,
            relay.port,
            relay.relay,
            relay.server,
            relay.port
        )
    }
}

/// Caps a section at MOST_LINES, saying how many more the JSON lists.
fn capped(mut lines: Vec<Line>) -> Vec<Line> {
    if lines.len() > MOST_LINES {
        let rest = lines.len() - MOST_LINES;
        lines.truncate(MOST_LINES);
        lines.push(Line::plain(format!(
            "... and {} more (--format json lists them all).",
            thousands(rest as u64)
        )));
    }
    lines
}

/// The diagnosis sections that have something to say, titled, in report order. The table and
/// the HTML report both render these.
pub fn sections(r: &Report) -> Vec<(&'static str, Vec<Line>)> {
    let f = &r.findings;
    // Sources that collided or fail first, then the busiest.
    let mut sources: Vec<&SourceFinding> =
        f.sources.iter().filter(|s| s.pattern.is_some()).collect();
    sources.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.tally.time_wait_failures),
            std::cmp::Reverse(s.tally.felt.failed),
            std::cmp::Reverse(s.tally.attempts),
        )
    });
    let sources = sources
        .into_iter()
        .filter_map(|s| source_sentence(s, f.window_ns))
        .map(Line::plain)
        .collect();
    let servers = f
        .servers
        .iter()
        .filter_map(|s| {
            Some(Line {
                text: server_sentence(s)?,
                details: s
                    .judgement
                    .verdicts
                    .iter()
                    .map(|v| verdict_text(v, &s.judgement.bracket))
                    .collect(),
            })
        })
        .collect();
    let mut felt: Vec<Line> = f
        .sources
        .iter()
        .filter(|s| s.tally.felt.failed > 0)
        .map(|s| {
            let t = &s.tally;
            let schedules: Vec<String> = t
                .schedules
                .seen()
                .map(|(k, n)| format!("{} {}", thousands(n), schedule_name(k)))
                .collect();
            let how = if schedules.is_empty() {
                String::new()
            } else {
                format!("; retransmissions: {}", schedules.join(", "))
            };
            Line::plain(format!(
                "{}: {} failed or challenged, waiting up to {} (mean {}){how}.",
                s.ip,
                count(t.felt.failed, "attempt"),
                human_secs(t.felt.max_wait_ns),
                human_secs(t.felt.mean_wait_ns()),
            ))
        })
        .collect();
    if !felt.is_empty() {
        for s in &f.servers {
            let m = &s.tally.minutes;
            if m.any_failed() && m.buckets().len() > 1 {
                let unit = match m.width_minutes() {
                    1 => "minute".to_string(),
                    w => format!("{w} minutes"),
                };
                felt.push(Line::plain(format!(
                    "{}, share of attempts failed per {unit}: {}",
                    s.server,
                    per_minute_text(m)
                )));
            }
        }
    }
    if f.challenged_then_established > 0 {
        felt.push(Line::plain(format!(
            "{} got in only after a challenge ACK from a server still holding the 4-tuple: a collision felt as a delay.",
            count(f.challenged_then_established, "attempt")
        )));
    }
    let collisions = f
        .collisions
        .iter()
        .filter_map(|c| collision_sentence(r, c))
        .map(Line::plain)
        .collect();
    let asymmetries = f
        .asymmetries
        .iter()
        .map(|a| Line::plain(asymmetry_sentence(a)))
        .collect();
    let relays = f
        .relays
        .iter()
        .map(|(relay, n)| Line::plain(relay_sentence(relay, *n)))
        .collect();
    let all: [(&'static str, Vec<Line>); 6] = [
        ("Collisions with a server's TIME_WAIT", capped(collisions)),
        ("Source ports", capped(sources)),
        ("Servers and their TIME_WAIT", capped(servers)),
        ("What the clients felt", capped(felt)),
        ("Direction asymmetry", capped(asymmetries)),
        (
            "Relayed conversations (both legs in the capture)",
            capped(relays),
        ),
    ];
    all.into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// One source's collisions with one server's TIME_WAIT: "113 of 113 failed attempts from
/// 192.168.50.1 to 192.168.50.10:110 (113 unanswered) reused a 4-tuple that it still held in
/// TIME_WAIT (closed 2.74–232 s before; its TIME_WAIT is 240 s; window 240 s)."
pub fn collision_sentence(
    r: &Report,
    c: &crate::detect::findings::CollisionFinding,
) -> Option<String> {
    let f = &r.findings;
    let (min, max) = c.gaps.both()?;
    let tw = f
        .server(&c.server)
        .and_then(|s| s.judgement.bracket.consistent_with)
        .and_then(|k| k.nanos())
        .map(|n| format!("; its TIME_WAIT is {}", human_secs(n)))
        .unwrap_or_default();
    Some(format!(
        "{} of {} from {} to {} ({}) reused a 4-tuple that {} still held in TIME_WAIT (closed {} before{tw}; window {}).",
        thousands(c.in_time_wait.total()),
        count(
            c.failed.total().max(c.in_time_wait.total()),
            "failed attempt"
        ),
        c.source,
        c.server,
        super::outcome_list(&c.in_time_wait),
        c.server,
        range_text(min, max),
        human_secs(f.window_ns),
    ))
}
