//! The headline, three lines at most (issue 11 item 1): the cause with its evidence (who
//! failed, whose TIME_WAIT, how long it is held), who reuses ports and how fast, and the fix.
//! Failures with other causes are counted apart, by cause. Everything else (each collision,
//! each asymmetry, window warnings, challenged-then-accepted attempts) is in the sections.

use super::outcome_list;
use super::{
    asymmetry_sentence, cause_phrase, count, human_secs, range_text, remedy_sentence, reuse_text,
    thousands,
};
use crate::detect::cause::Cause;
use crate::detect::refusal::RefusalForm;
use crate::report::Report;

pub fn headline(r: &Report) -> Vec<String> {
    let f = &r.findings;
    let mut lines = Vec::new();
    if f.attempts() == 0 {
        lines.push(if r.frames == 0 {
            "The capture holds no packets.".to_string()
        } else {
            format!(
                "No connection attempts (SYNs) of interest among {} frames.",
                thousands(r.frames)
            )
        });
        return lines;
    }
    let window = human_secs(f.window_ns);
    // Nothing from any server, and nothing could be inferred from the clients' side alone.
    let nothing_inferred = f.outcomes.get(crate::attempt::Outcome::Unknown) == f.attempts();
    if r.track.server_packets == 0 && nothing_inferred {
        lines.push(format!(
            "No packet from any server is in the capture (one direction only): the {} cannot be judged answered or not, and {} reported unknown.",
            count(f.attempts(), "attempt"),
            if f.attempts() == 1 { "is" } else { "are" }
        ));
        let in_window = f.cross.in_window().total();
        if in_window > 0 {
            lines.push(format!("{} reused a 4-tuple inside the {window} window; capture both directions to see whether they failed.", count(in_window, "attempt")));
        }
        return lines;
    }
    // Line 1: the cause with its evidence; lines 2 and 3: who reuses ports, and the fix.
    if let Some(line) = collision_line(r) {
        lines.push(line);
        lines.extend(fix_lines(r));
    } else if let Some(a) = f.asymmetries.first() {
        let mut line = asymmetry_sentence(a);
        if f.asymmetries.len() > 1 {
            line.push_str(&format!(
                " {} more (see Direction asymmetry).",
                count(f.asymmetries.len() as u64 - 1, "pair")
            ));
        }
        lines.push(line);
        lines.extend(causes_line(r));
    } else {
        lines.extend(causes_line(r));
    }
    let troubled: u64 = f.causes.iter().sum();
    if troubled == 0 && f.asymmetries.is_empty() {
        // From a server's side a SYN it ignored leaves no trace (issue 13).
        let server_side = r
            .track
            .one_side
            .attempts(crate::attempt::Evidence::ServerSideOnly);
        let mut line = if server_side > 0 {
            format!(
                "No failure the servers' packets can show ({} read from the servers' side alone, where SYNs a server ignored leave no trace): {} answered",
                thousands(server_side),
                count(f.attempts(), "connection attempt")
            )
        } else {
            format!(
                "Nothing failed: {} answered",
                count(f.attempts(), "connection attempt")
            )
        };
        let unknown = f.outcomes.get(crate::attempt::Outcome::Unknown);
        if unknown > 0 {
            line.push_str(&format!(
                " or are too close to the end of the capture to judge ({} unknown)",
                thousands(unknown)
            ));
        }
        line.push('.');
        let in_window = f.cross.in_window().total();
        if in_window > 0 {
            line.push_str(&format!(
                " {} reused a 4-tuple inside the {window} window and got in.",
                count(in_window, "attempt")
            ));
        }
        lines.push(line);
    }
    lines
}

/// "Of 125 attempts that failed or were refused or delayed: 117 hit a server's TIME_WAIT,
/// 8 were refused by a closed port; none is unexplained."
fn causes_line(r: &Report) -> Option<String> {
    let f = &r.findings;
    let total: u64 = f.causes.iter().sum();
    if total == 0 {
        return None;
    }
    let explained: Vec<String> = f
        .by_cause()
        .filter(|(c, _)| c.explains())
        .map(|(c, n)| format!("{} {}", thousands(n), cause_phrase(c, n)))
        .collect();
    let unexplained = f.cause_count(Cause::NoAnswer);
    let rest = match unexplained {
        0 => "none is unexplained".to_string(),
        1 if total == 1 => "nothing in the capture explains it".to_string(),
        n if n == total => format!(
            "nothing in the capture explains any of them ({} unexplained)",
            thousands(n)
        ),
        1 => "1 remains unexplained (nothing in the capture explains it)".to_string(),
        n => format!(
            "{} remain unexplained (nothing in the capture explains them)",
            thousands(n)
        ),
    };
    let list = if explained.is_empty() {
        rest
    } else {
        format!("{}; {rest}", explained.join(", "))
    };
    // Short replies then FIN are refusals only where a direction asymmetry shows it.
    let short: u64 = f
        .asymmetries
        .iter()
        .map(|a| u64::from(a.failing.refusals[RefusalForm::ShortRejectThenFin as usize]))
        .sum();
    let short = if short > 0 {
        format!(
            " (besides, {} refused with a short reply then FIN, in the direction asymmetry above)",
            count(short, "attempt")
        )
    } else {
        String::new()
    };
    Some(format!(
        "Causes of the {} that failed, were challenged or were delayed: {list}{short}{}.",
        count(total, "attempt"),
        one_side_caveat(r)
    ))
}

/// Outcomes read from one side of the conversation are inferences (issue 13): say so where
/// the causes are stated, with how many and which side.
fn one_side_caveat(r: &Report) -> String {
    use crate::attempt::Evidence;
    let o = &r.track.one_side;
    let (client, server) = (
        o.attempts(Evidence::ClientSideOnly),
        o.attempts(Evidence::ServerSideOnly),
    );
    match (client, server) {
        (0, 0) => String::new(),
        (c, 0) => format!(
            " ({} read from the clients' packets alone: inferred, see Capture quality)",
            count(c, "attempt")
        ),
        (0, s) => format!(
            " ({} read from the servers' packets alone: inferred, see Capture quality)",
            count(s, "attempt")
        ),
        (c, s) => format!(
            " ({} read from one side alone ({} from the clients', {} from the servers'): inferred, see Capture quality)",
            count(c + s, "attempt"),
            thousands(c),
            thousands(s)
        ),
    }
}

/// The server held SYNs at gaps beyond `--time-wait` (issue 10 item 2).
pub fn window_warning(server: &str, held_ns: i64, beyond_ns: i64, window_ns: i64) -> String {
    format!(
        "--time-wait {} is shorter than the TIME_WAIT {server} holds: it still ignored or challenged SYNs {} after the previous connection ended, {} beyond the window; rerun with a longer --time-wait.",
        human_secs(window_ns),
        human_secs(held_ns),
        human_secs(beyond_ns)
    )
}

/// The server whose TIME_WAIT the headline is about: the fix's, else the largest collision's.
fn top_server(f: &crate::detect::findings::Findings) -> Option<crate::tcp::Endpoint> {
    f.fix
        .map(|x| x.server)
        .or_else(|| f.collisions.first().map(|c| c.server))
}

/// How long a server holds TIME_WAIT, as far as the capture tells: "240 s", "232–244 s",
/// "≥ 30 s; longer not bounded by this capture".
fn held_text(r: &Report, server: &crate::tcp::Endpoint) -> String {
    let Some(s) = r.findings.server(server) else {
        return "how long, this capture cannot tell".to_string();
    };
    let b = &s.judgement.bracket;
    if let Some(n) = b.consistent_with.and_then(|k| k.nanos()) {
        return human_secs(n);
    }
    if b.conflict.is_some() {
        return "how long: the evidence conflicts, see Servers".to_string();
    }
    match (b.at_least_ns, b.at_most_ns) {
        (Some(lo), Some(hi)) => range_text(lo, hi),
        (Some(lo), None) => format!(
            "≥ {}; how much longer, this capture cannot tell",
            human_secs(lo)
        ),
        (None, Some(hi)) => format!("≤ {}", human_secs(hi)),
        (None, None) => "how long, this capture cannot tell".to_string(),
    }
}

/// Line 1 when ports collided with a server's TIME_WAIT: "113 of 113 failed attempts from
/// 192.168.50.1 to 192.168.50.10:110 (113 unanswered) hit its TIME_WAIT (...)." grouped over
/// the sources that collided with that server, then the other failures by cause.
fn collision_line(r: &Report) -> Option<String> {
    let f = &r.findings;
    let server = top_server(f)?;
    let mine: Vec<_> = f.collisions.iter().filter(|c| c.server == server).collect();
    let mut in_tw = crate::detect::counts::OutcomeCounts::default();
    let mut failed = 0;
    let mut gaps = crate::detect::counts::GapRange::default();
    for c in &mine {
        in_tw.merge(&c.in_time_wait);
        failed += c.failed.total().max(c.in_time_wait.total());
        gaps.merge(&c.gaps);
    }
    let who = match mine.as_slice() {
        [one] => one.source.to_string(),
        many => format!("{} sources", thousands(many.len() as u64)),
    };
    let gaps = gaps
        .both()
        .map(|(lo, hi)| {
            format!(
                ", {} after the previous connection ended",
                range_text(lo, hi)
            )
        })
        .unwrap_or_default();
    let mut line = format!(
        "{} of {} from {who} to {server} ({}) hit its TIME_WAIT ({}){gaps}.",
        thousands(in_tw.total()),
        count(failed, "failed attempt"),
        outcome_list(&in_tw),
        held_text(r, &server),
    );
    // Collisions with other servers' TIME_WAIT, counted apart.
    let others: Vec<_> = f.collisions.iter().filter(|c| c.server != server).collect();
    if !others.is_empty() {
        let n: u64 = others.iter().map(|c| c.in_time_wait.total()).sum();
        let mut servers: Vec<_> = others.iter().map(|c| c.server).collect();
        servers.sort();
        servers.dedup();
        line.push_str(&format!(
            " {} more hit the TIME_WAIT of {} (see Collisions).",
            thousands(n),
            count(servers.len() as u64, "other server")
        ));
    }
    line.push_str(&other_causes(r));
    Some(line)
}

/// " Other causes: 8 were refused by a closed port; none is unexplained." (empty when every
/// trouble was a server's TIME_WAIT and none is unexplained), with the one-side caveat.
fn other_causes(r: &Report) -> String {
    let f = &r.findings;
    let others: Vec<String> = f
        .by_cause()
        .filter(|(c, _)| c.explains() && *c != Cause::ServerTimeWait)
        .map(|(c, n)| format!("{} {}", thousands(n), cause_phrase(c, n)))
        .collect();
    let unexplained = f.cause_count(Cause::NoAnswer);
    // The one-side caveat as a sentence of its own: "345 attempts read from ...".
    let caveat = one_side_caveat(r);
    let caveat = match caveat.strip_prefix(" (").and_then(|c| c.strip_suffix(')')) {
        Some(c) => format!(" {c}."),
        None => String::new(),
    };
    if others.is_empty() && unexplained == 0 {
        return caveat;
    }
    let rest = match unexplained {
        0 => "none is unexplained".to_string(),
        1 => "1 has nothing in the capture to explain it".to_string(),
        n => format!(
            "{} have nothing in the capture to explain them",
            thousands(n)
        ),
    };
    let list = if others.is_empty() {
        rest
    } else {
        format!("{}; {rest}", others.join(", "))
    };
    format!(" Besides: {list}.{caveat}")
}

/// Lines 2 and 3: who reuses ports and how fast, then the fix; grouped when several
/// sources collided ("4 sources reuse ports into ...", each one in Source ports).
pub fn fix_lines(r: &Report) -> Vec<String> {
    let f = &r.findings;
    let Some(top) = &f.fix else {
        return Vec::new();
    };
    let fixes: Vec<&crate::detect::fix::Fix> =
        f.sources.iter().filter_map(|s| s.fix.as_ref()).collect();
    if fixes.len() <= 1 {
        return vec![format!("{}.", reuse_text(top)), remedy_sentence(top)];
    }
    let fastest = fixes.iter().filter_map(|x| x.port_idle_ns).min();
    let mut servers: Vec<_> = fixes.iter().map(|x| x.server).collect();
    servers.sort();
    servers.dedup();
    let into = match servers.as_slice() {
        [one] => format!("{one}'s TIME_WAIT"),
        many => format!("the TIME_WAIT of {}", count(many.len() as u64, "server")),
    };
    let fastest = fastest
        .map(|n| format!(", as soon as {} after a connection ended", human_secs(n)))
        .unwrap_or_default();
    let pooled = fixes.iter().filter(|x| x.pooled).count() as u64;
    let isa = fixes.iter().filter(|x| x.isa_default).count() as u64;
    let mut notes = Vec::new();
    if pooled > 0 {
        notes.push(format!("{} pooled", thousands(pooled)));
    }
    if isa > 0 {
        notes.push(format!(
            "{} at ISA 2000's MinTickBeforePortReuse default of 1,200 ms",
            thousands(isa)
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    let reuse = format!(
        "{} sources reuse ports into {into}{fastest}{notes}; the most failures, {}, are {}'s (see Source ports for each).",
        thousands(fixes.len() as u64),
        thousands(top.failures),
        top.source,
    );
    let rest = fixes.iter().map(|x| x.rest_ns).max().unwrap_or(top.rest_ns);
    let pool = if top.pooled {
        format!(
            ", or give each pool enough ports for its rate ({}: ≥ {} ports at {:.2} conn/s)",
            top.source,
            thousands(top.pool_ports),
            top.rate_per_s
        )
    } else if pooled > 0 {
        format!(
            ", or give the {} pools enough ports for their rates (see Source ports)",
            thousands(pooled)
        )
    } else {
        String::new()
    };
    let shorten = match servers.as_slice() {
        [one] => format!("{one}'s TIME_WAIT"),
        _ => "the servers' TIME_WAIT".to_string(),
    };
    let mut basis = Vec::new();
    if servers.len() == 1 && rest == top.rest_ns {
        basis.push(super::diagnosis::basis(top));
    }
    if pooled > 0 {
        basis.push(format!(
            "ISA 2000: MinTickBeforePortReuse = {}",
            (rest + 500_000) / 1_000_000
        ));
    }
    let basis = if basis.is_empty() {
        String::new()
    } else {
        format!(" ({})", basis.join("; "))
    };
    let remedy = format!(
        "Fix: on all {} sources, let ports rest ≥ {} before reuse{basis}{pool}; or shorten {shorten}.",
        thousands(fixes.len() as u64),
        human_secs(rest),
    );
    vec![reuse, remedy]
}
