//! Half a conversation (issue 13): every two-direction fixture is cut into its client-only
//! and server-only halves (tests/onedir_halves), and the account portreuse infers from each
//! half is compared, attempt by attempt, with the account of the whole capture: the outcome,
//! and the TIME_WAIT holder of the connection a reuse hit. The committed one-direction
//! captures (made by tcpdump direction filters, and the generator's one-direction twin of
//! the broken case) are compared with their two-direction captures the same way.
//!
//! From the server's side an attempt that got no answer leaves no packet: it is counted as
//! not visible, never as a miss. Every other difference is listed in `EXPLAINED` with the
//! reason the half cannot tell; anything else fails. The agreement table (fixture x side x
//! outcome) is printed (`cargo test --test onedir -- --nocapture`).

mod onedir_halves;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use portreuse::attempt::{Attempt, Evidence, Holder, Outcome};

use onedir_halves::{analyse, fixtures, halves, window};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Half {
    Client,
    Server,
}

impl Half {
    fn name(self) -> &'static str {
        match self {
            Half::Client => "client-only",
            Half::Server => "server-only",
        }
    }
}

/// The half's attempt that is the whole capture's `a`: same 4-tuple and ISN; from the
/// server's side, an attempt implied by a challenge ACK (ISN unknown) on the 4-tuple that
/// began after `a`'s first SYN and before its answer.
fn counterpart<'h>(a: &Attempt, half: &'h [Attempt]) -> Option<&'h Attempt> {
    let same = |b: &&Attempt| b.client == a.client && b.server == a.server;
    half.iter()
        .filter(same)
        // With TCP Fast Open the answer acknowledges the SYN's data too: from the server's
        // side the implied ISN is the ISN plus the data's length.
        .find(|b| b.isn_known && (b.isn == a.isn || b.isn == a.isn + a.syn_data_len))
        .or_else(|| {
            half.iter()
                .filter(same)
                .filter(|b| !b.isn_known && b.ts >= a.ts)
                .min_by_key(|b| b.ts)
        })
}

/// The holder of the connection `a` reused (closed connections only).
fn holder(a: &Attempt) -> Option<Holder> {
    a.reuse.filter(|r| !r.open).map(|r| r.holder)
}

/// One attempt of the whole capture as a half shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Agrees,
    /// From the server's side: an attempt that got no answer leaves nothing.
    NotVisible,
    /// What differs: column, the half's value, the whole capture's.
    Differs(&'static str, String, String),
}

fn judge(a: &Attempt, b: Option<&Attempt>, side: Half) -> Seen {
    let answered = a.syn_ack.is_some() || a.rst.is_some() || a.icmp.is_some();
    let Some(b) = b else {
        if side == Half::Server && !answered && a.challenge_acks == 0 {
            return Seen::NotVisible;
        }
        return Seen::Differs("attempt", "-".into(), a.outcome.name().into());
    };
    if b.outcome != a.outcome {
        return Seen::Differs("outcome", b.outcome.name().into(), a.outcome.name().into());
    }
    if holder(b) != holder(a) {
        let name = |h: Option<Holder>| h.map_or("-", Holder::name).to_string();
        return Seen::Differs("holder", name(holder(b)), name(holder(a)));
    }
    Seen::Agrees
}

/// The RST that refused the SYN is on the server's side, and the capture ends before the
/// client's first retransmission was due (3 s): from the client's side, refused and dropped
/// look the same so far (these captures stop soon after their last connect).
const ENDS_AFTER_REFUSAL: &str = "ends before the next SYN was due; its RST is on the other side";
/// linux-syn-storm-interleaved: a raw socket sends 21 SYNs, each once with its own ISN, on
/// one 4-tuple (the server ignores them). No stack behaves so: each was superseded on its
/// 4-tuple before a retransmission was due, and nothing tells what ended it.
const RAW_STORM: &str = "a raw socket's SYN storm: no stack's retransmissions to read";
/// Challenge ACKs on an open connection (the storm's last 3 SYNs): from the server's side
/// they are duplicate ACKs of that connection.
const OPEN_CHALLENGE: &str = "a challenge ACK on an open connection is a duplicate ACK";
/// The server's 6 challenge ACKs (rate-limited) answer the client's 7 SYNs: only the
/// client's side shows that its stack's last SYN was challenged, the capture ending 46 µs
/// later (the whole capture decides at its end; this half cannot).
const LAST_SYN_UNSEEN: &str = "the SYNs, and so the last one its stack sends, are not seen";
/// The whole capture leaves the ICMP-refused attempt unknown (it saw this client send a
/// refused SYN again, so it waits for its next SYN); the server's half does not see that
/// and decides `icmp_unreachable`, which is the expected account's answer.
const WHOLE_WAITS: &str = "the whole capture waits (the client retries refused SYNs)";
/// linux-tw-mid-capture: the challenged 4-tuple's connection began before the capture:
/// from the server's side its challenge ACK is an ACK of a connection the capture missed.
const MID_CAPTURE: &str = "the challenged connection is not in the capture";
/// linux-synack-not-captured: the SYN-ACKs were filtered out when it was made, so the
/// server's side holds only its data and ACKs, which do not name the SYN's ISN.
const NO_SYN_ACKS: &str = "the SYN-ACKs are not in this capture";

/// Differences a half cannot avoid: (capture, half, column, whole capture's first SYN
/// frames, reason).
const EXPLAINED: &[(&str, &str, &str, &[u64], &str)] = &[
    (
        "real/asym-x400-all-forms.pcap (cut)",
        "client-only",
        "outcome",
        &[104, 106],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/asym-x400-fin-nodata.pcap (cut)",
        "client-only",
        "outcome",
        &[69, 71],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/asym-x400-reject.pcap (cut)",
        "client-only",
        "outcome",
        &[81, 83],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/asym-x400-rst-after-data.pcap (cut)",
        "client-only",
        "outcome",
        &[69, 71],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/asym-x400-rst-before-data.pcap (cut)",
        "client-only",
        "outcome",
        &[63, 65],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/dup-appended.pcap (cut)",
        "client-only",
        "outcome",
        &[31],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/dup-bridge-all.pcap (cut)",
        "client-only",
        "outcome",
        &[61],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/dup-bridge-syns.pcap (cut)",
        "client-only",
        "outcome",
        &[34],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-refused-client-only.pcap",
        "client-only",
        "outcome",
        &[1],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-refused.pcap (cut)",
        "client-only",
        "outcome",
        &[1],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-synack-before-syn-unshifted.pcap (cut)",
        "client-only",
        "outcome",
        &[31],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-synack-before-syn.pcap (cut)",
        "client-only",
        "outcome",
        &[32],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-tfo.pcap (cut)",
        "client-only",
        "outcome",
        &[25],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-tw-ts-on-ipv6.pcap (cut)",
        "client-only",
        "outcome",
        &[37],
        ENDS_AFTER_REFUSAL,
    ),
    (
        "real/linux-syn-storm-interleaved.pcap (cut)",
        "client-only",
        "outcome",
        &[
            1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23,
        ],
        RAW_STORM,
    ),
    (
        "real/linux-syn-storm-interleaved.pcap (cut)",
        "server-only",
        "attempt",
        &[31, 33, 35],
        OPEN_CHALLENGE,
    ),
    (
        "real/linux-tw-never-let-in-server-only.pcap",
        "server-only",
        "outcome",
        &[23],
        LAST_SYN_UNSEEN,
    ),
    (
        "real/linux-tw-never-let-in.pcap (cut)",
        "server-only",
        "outcome",
        &[23],
        LAST_SYN_UNSEEN,
    ),
    (
        "real/linux-mixed-server-only.pcap",
        "server-only",
        "outcome",
        &[47],
        WHOLE_WAITS,
    ),
    (
        "real/linux-mixed.pcap (cut)",
        "server-only",
        "outcome",
        &[47],
        WHOLE_WAITS,
    ),
    (
        "real/linux-tw-mid-capture.pcap (cut)",
        "server-only",
        "attempt",
        &[13],
        MID_CAPTURE,
    ),
    (
        "real/linux-synack-not-captured.pcap (cut)",
        "server-only",
        "attempt",
        &[1, 10, 19],
        NO_SYN_ACKS,
    ),
];

#[derive(Default)]
struct Tally {
    agree: u64,
    total: u64,
    not_visible: u64,
}

#[test]
fn one_direction_halves_give_the_whole_captures_account() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    // (fixture, half, outcome of the whole capture) -> tally
    let mut table: BTreeMap<(String, Half, Outcome), Tally> = BTreeMap::new();
    let mut holders: BTreeMap<(String, Half), Tally> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut used = vec![0; EXPLAINED.len()];
    let mut wrong = Vec::new();
    let mut cases: Vec<(String, Half, String, Vec<u8>)> = Vec::new();
    for fixture in fixtures() {
        let (client, server) = halves(&root.join(&fixture));
        cases.push((
            fixture.clone(),
            Half::Client,
            format!("{fixture} (cut)"),
            client,
        ));
        cases.push((
            fixture.clone(),
            Half::Server,
            format!("{fixture} (cut)"),
            server,
        ));
    }
    // The committed one-direction captures, against the captures they were made from.
    for entry in fs::read_dir(root.join("real")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        for (tag, side) in [
            ("-client-only", Half::Client),
            ("-server-only", Half::Server),
        ] {
            if name.ends_with(".pcap") && name.contains(tag) {
                let full = format!("real/{}", name.replace(tag, ""));
                let bytes = fs::read(root.join("real").join(&name)).unwrap();
                cases.push((full, side, format!("real/{name}"), bytes));
            }
        }
    }
    let twin = fs::read(root.join("isa2000-broken-one-direction.pcap")).unwrap();
    cases.push((
        "isa2000-broken.pcap".into(),
        Half::Client,
        "isa2000-broken-one-direction.pcap".into(),
        twin,
    ));
    cases.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
    let mut wholes: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    for (fixture, side, label, bytes) in &cases {
        let whole = wholes.entry(fixture.clone()).or_insert_with(|| {
            let bytes = fs::read(root.join(fixture)).unwrap();
            analyse(fixture, bytes, window(fixture)).0
        });
        let (half, _) = analyse(label, bytes.clone(), window(fixture));
        let expected_evidence = match side {
            Half::Client => Evidence::ClientSideOnly,
            Half::Server => Evidence::ServerSideOnly,
        };
        for a in whole.iter() {
            let b = counterpart(a, &half);
            let key = (label.clone(), *side, a.outcome);
            let tally = table.entry(key).or_default();
            tally.total += 1;
            let seen = judge(a, b, *side);
            match &seen {
                Seen::Agrees => tally.agree += 1,
                Seen::NotVisible => tally.not_visible += 1,
                Seen::Differs(..) => {}
            }
            if let (Some(b), Some(h)) = (b, holder(a)) {
                let t = holders.entry((label.clone(), *side)).or_default();
                t.total += 1;
                t.agree += u64::from(holder(b) == Some(h));
            }
            if let Some(b) = b
                && b.outcome != Outcome::Unknown
                && b.evidence != expected_evidence
            {
                unexplained.push(format!(
                    "{label} {}: evidence {} (a {} half)",
                    a.frame.number,
                    b.evidence.name(),
                    side.name()
                ));
            }
            let Seen::Differs(column, ours, theirs) = seen else {
                continue;
            };
            let known = EXPLAINED.iter().position(|(l, h, c, frames, _)| {
                *l == label.as_str()
                    && *h == side.name()
                    && *c == column
                    && frames.contains(&a.frame.number)
            });
            match known {
                Some(i) => used[i] += 1,
                None => unexplained.push(format!(
                    "{label} {} {} frame {}: half {ours}, whole {theirs}",
                    side.name(),
                    column,
                    a.frame.number
                )),
            }
            // A half that decides an outcome other than the whole capture's is wrong; one
            // that cannot tell says unknown.
            if column == "outcome" && ours != "unknown" && theirs != "unknown" {
                wrong.push(format!("{label} {} frame {}", side.name(), a.frame.number));
            }
        }
    }
    print_table(&table, &holders);
    for (i, (label, side, column, frames, _)) in EXPLAINED.iter().enumerate() {
        if used[i] != frames.len() {
            unexplained.push(format!(
                "explained, but {} of {} differ now: {label} {side} {column} {frames:?}",
                used[i],
                frames.len()
            ));
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained differences:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(wrong.is_empty(), "decided otherwise: {wrong:?}");
    // Issue 13's goal: 95 % of outcomes and holders right from the client's side on the
    // pooled-firewall case (all of them: every attempt agrees).
    for label in [
        "isa2000-broken.pcap (cut)",
        "isa2000-broken-one-direction.pcap",
    ] {
        let (right, of) = pooled(&table, |l, s| l == label && s == Half::Client);
        assert!(right * 100 >= of * 95, "{label}: {right} of {of} outcomes");
        let h = &holders[&(label.to_string(), Half::Client)];
        assert!(h.agree * 100 >= h.total * 95, "{label}: holders");
    }
    // The real captures: every holder right, and of the attempts a half decides, 95 % right
    // (the rest of the differences are the explained `unknown`s above).
    for side in [Half::Client, Half::Server] {
        let real = |l: &str, s: Half| l.starts_with("real/") && s == side;
        let (right, of) = pooled(&table, real);
        let undecided: u64 = used
            .iter()
            .zip(EXPLAINED)
            .filter(|(_, e)| e.1 == side.name())
            .map(|(n, _)| *n as u64)
            .sum();
        println!(
            "real captures, {}: {right} of {of} outcomes right, {undecided} explained",
            side.name()
        );
        assert!(right * 100 >= (of - undecided) * 95);
        for ((l, s), h) in &holders {
            if real(l, *s) {
                assert_eq!(h.agree, h.total, "{l} {}: holders", s.name());
            }
        }
    }
}

/// Outcomes right and attempts of the rows `keep` selects (attempts the half cannot see
/// left out).
fn pooled(
    table: &BTreeMap<(String, Half, Outcome), Tally>,
    keep: impl Fn(&str, Half) -> bool,
) -> (u64, u64) {
    table
        .iter()
        .filter(|((l, s, _), _)| keep(l, *s))
        .fold((0, 0), |(r, o), (_, t)| {
            (r + t.agree, o + t.total - t.not_visible)
        })
}

fn print_table(
    table: &BTreeMap<(String, Half, Outcome), Tally>,
    holders: &BTreeMap<(String, Half), Tally>,
) {
    println!("| capture | half | outcome (whole capture) | right | of | not visible |");
    println!("|---|---|---|---:|---:|---:|");
    for ((label, side, outcome), t) in table {
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            side.name(),
            outcome.name(),
            t.agree,
            t.total,
            t.not_visible
        );
    }
    println!("| capture | half | TIME_WAIT holders right | of |");
    println!("|---|---|---:|---:|");
    for ((label, side), t) in holders {
        println!("| {label} | {} | {} | {} |", side.name(), t.agree, t.total);
    }
}

/// Writes every fixture's halves to $ONEDIR_DUMP (to look at them with tshark or portreuse).
#[test]
#[ignore]
fn dump_halves() {
    let Some(dir) = std::env::var_os("ONEDIR_DUMP") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for fixture in fixtures() {
        let (client, server) = halves(&root.join(&fixture));
        let stem = fixture.replace('/', "__");
        fs::write(
            Path::new(&dir).join(format!("{stem}-client-only.pcap")),
            client,
        )
        .unwrap();
        fs::write(
            Path::new(&dir).join(format!("{stem}-server-only.pcap")),
            server,
        )
        .unwrap();
    }
}
