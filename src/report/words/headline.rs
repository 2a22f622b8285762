//! The headline: who collided with whose TIME_WAIT, which direction is refused, the failures
//! by cause (and how many remain unexplained), the fix, and a window shorter than the data.

use super::outcome_list;
use super::{
    asymmetry_sentence, cause_phrase, count, fix_sentence, human_secs, range_text, thousands,
};
use crate::detect::cause::Cause;
use crate::detect::refusal::RefusalForm;
use crate::report::Report;

/// Collision and asymmetry lines shown before "and N more".
const MOST: usize = 3;

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
    for c in f.collisions.iter().take(MOST) {
        let Some((min, max)) = c.gaps.both() else {
            continue;
        };
        let tw = f
            .server(&c.server)
            .and_then(|s| s.judgement.bracket.consistent_with)
            .and_then(|k| k.nanos())
            .map(|n| format!("; its TIME_WAIT is {}", human_secs(n)))
            .unwrap_or_default();
        lines.push(format!(
            "{} of {} from {} to {} ({}) reused a 4-tuple that {} still held in TIME_WAIT (closed {} before{tw}; window {window}).",
            thousands(c.in_time_wait.total()),
            count(c.failed.total().max(c.in_time_wait.total()), "failed attempt"),
            c.source,
            c.server,
            outcome_list(&c.in_time_wait),
            c.server,
            range_text(min, max),
        ));
    }
    if f.collisions.len() > MOST {
        lines.push(format!(
            "... and {} more source and server pairs with collisions (see Source ports and Servers).",
            thousands((f.collisions.len() - MOST) as u64)
        ));
    }
    lines.extend(f.asymmetries.iter().take(MOST).map(asymmetry_sentence));
    if let Some(line) = causes_line(r) {
        lines.push(line);
    }
    if let Some(fix) = &f.fix {
        lines.push(fix_sentence(fix));
    }
    for s in &f.servers {
        if let Some(beyond) = s.judgement.bracket.beyond_window_ns {
            lines.push(window_warning(
                &s.server.to_string(),
                s.judgement.bracket.at_least_ns.unwrap_or(0),
                beyond,
                f.window_ns,
            ));
        }
    }
    if f.challenged_then_established > 0 {
        lines.push(format!(
            "{} got in only after a challenge ACK from a server still holding the 4-tuple: a collision felt as a delay.",
            count(f.challenged_then_established, "attempt")
        ));
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
