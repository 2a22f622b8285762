//! Hand-off to Wireshark and colleagues: the flagged attempts and the connections they
//! collided with, as a Wireshark display filter and as a small pcapng of just their packets.
//! The pcapng is streamed (the input files read again side by side, merged by time, each
//! selected packet written as it is read), carries the verdict as a packet comment on every
//! flagged SYN and on the last packet of the connection it collided with, and records the
//! capture's real span in Interface Statistics Blocks (`isb_starttime`, `isb_endtime`), so
//! that it re-analyses to the same attempts and outcomes as the whole capture (issue 11).

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use indexmap::map::Entry;

use crate::FxIndexMap as IndexMap;

use crate::attempt::{Attempt, Holder, Outcome};
use crate::capture::{self, Capture};
use crate::decode::{Decoded, decode};
use crate::error::CaptureError;
use crate::report::{count, human_secs};
use crate::tcp::{Endpoint, FlowKey, FrameRef};
use crate::time::Ts;
use crate::write::{NgInterface, PcapNgWriter};

/// Most 4-tuples a selection holds (a display filter longer than this is of no use).
pub const MAX_TUPLES: usize = 10_000;
/// Most time ranges over all 4-tuples; past it a 4-tuple's last range is kept open instead
/// of starting a new one (more packets are written, never fewer).
pub const MAX_RANGES: usize = 100_000;
/// Most frames that get a packet comment.
pub const MAX_NOTES: usize = 100_000;

/// How a flagged SYN relates to the earlier use of its 4-tuple (the comment's wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Inside the window, and the server sent the first FIN (or both did).
    ServerTimeWait,
    /// Inside the window; the capture does not show who closed first.
    MaybeTimeWait,
    /// Inside the window; only the client held TIME_WAIT.
    ClientTimeWait,
    /// The earlier connection had neither FIN nor RST.
    Open,
    AfterWindow,
    /// No earlier connection on the 4-tuple in the capture.
    Fresh,
}

/// What a flagged SYN's comment says.
#[derive(Clone, Copy, Debug)]
struct SynNote {
    kind: Kind,
    server: Endpoint,
    outcome: Outcome,
    challenge_acks: u32,
    gap_ns: i64,
    /// The last packet of the earlier connection.
    end: FrameRef,
}

/// The comments of one frame: as a flagged SYN, and as the last packet of a connection
/// that flagged SYNs collided with (the first of them, and how many).
#[derive(Clone, Copy, Debug, Default)]
struct Notes {
    syn: Option<SynNote>,
    end: Option<(SynNote, u32)>,
}

/// Time ranges `[start, end)` per 4-tuple: from the first SYN of the connection a flagged
/// attempt collided with up to the next attempt on the 4-tuple that is not flagged. Time, not
/// frame numbers, so several files given in any order select the same packets.
#[derive(Debug, Default)]
pub struct Selection {
    tuples: IndexMap<FlowKey, Vec<(Ts, Ts)>>,
    /// Flagged attempts left out (on 4-tuples past MAX_TUPLES).
    pub left_out: u64,
    /// Keep the time ranges and comments (for --write); without them only the 4-tuples are
    /// kept (for the display filter), so memory does not grow with the flagged attempts.
    ranges: bool,
    range_count: usize,
    notes: IndexMap<FrameRef, Notes>,
    /// Comments left out (past MAX_NOTES frames).
    pub notes_left_out: u64,
}

const OPEN: Ts = Ts(i64::MAX);

/// The entry for `key` (a new one made with `V::default()`), unless it is new and `map`
/// already holds `cap` entries: then `left_out` counts it and there is none. One lookup,
/// whether the entry is there or not.
fn entry_within<'m, K: std::hash::Hash + Eq, V: Default>(
    map: &'m mut IndexMap<K, V>,
    key: K,
    cap: usize,
    left_out: &mut u64,
) -> Option<&'m mut V> {
    let full = map.len() >= cap;
    match map.entry(key) {
        Entry::Occupied(o) => Some(o.into_mut()),
        Entry::Vacant(_) if full => {
            *left_out += 1;
            None
        }
        Entry::Vacant(v) => Some(v.insert(V::default())),
    }
}

impl Selection {
    /// A selection that keeps time ranges (`ranges`, for --write) or only the 4-tuples.
    pub fn new(ranges: bool) -> Selection {
        Selection {
            ranges,
            ..Selection::default()
        }
    }

    /// Called for every decided attempt, in order of first SYN.
    pub fn add(&mut self, a: &Attempt) {
        let (key, _) = FlowKey::new(a.client, a.server);
        if a.is_flagged() {
            let start = a.reuse.map_or(a.ts, |r| r.previous_ts);
            let Some(ranges) = entry_within(&mut self.tuples, key, MAX_TUPLES, &mut self.left_out)
            else {
                return;
            };
            if !self.ranges {
                return;
            }
            match ranges.last_mut() {
                Some(last) if last.1 == OPEN => last.0 = last.0.min(start),
                Some(last) if self.range_count >= MAX_RANGES => {
                    last.0 = last.0.min(start);
                    last.1 = OPEN;
                }
                _ => {
                    ranges.push((start, OPEN));
                    self.range_count += 1;
                }
            }
            self.note(a);
        } else if self.ranges // without them (no --write) the lists stay empty
            && let Some(last) = self
                .tuples
                .get_mut(&key)
                .and_then(|r| r.last_mut())
                .filter(|l| l.1 == OPEN)
        {
            last.1 = a.ts;
        }
    }

    /// The comments for a flagged attempt: on its SYN, and on the end of the connection.
    fn note(&mut self, a: &Attempt) {
        let kind = match a.reuse {
            None => Kind::Fresh,
            Some(r) if r.open => Kind::Open,
            Some(r) if !r.in_window => Kind::AfterWindow,
            Some(r) => match r.holder {
                Holder::Server | Holder::Both => Kind::ServerTimeWait,
                Holder::Unknown => Kind::MaybeTimeWait,
                Holder::Client | Holder::None => Kind::ClientTimeWait,
            },
        };
        let syn = SynNote {
            kind,
            server: a.server,
            outcome: a.outcome,
            challenge_acks: a.challenge_acks,
            gap_ns: a.reuse.map_or(0, |r| r.gap_ns),
            end: a.reuse.map_or(a.frame, |r| r.previous_end_frame),
        };
        if let Some(notes) = self.notes_for(a.frame) {
            notes.syn = Some(syn);
        }
        if kind != Kind::Fresh
            && let Some(notes) = self.notes_for(syn.end)
        {
            match &mut notes.end {
                Some((_, n)) => *n += 1,
                None => notes.end = Some((syn, 1)),
            }
        }
    }

    fn notes_for(&mut self, frame: FrameRef) -> Option<&mut Notes> {
        entry_within(&mut self.notes, frame, MAX_NOTES, &mut self.notes_left_out)
    }

    pub fn is_empty(&self) -> bool {
        self.tuples.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tuples.len()
    }

    fn contains(&self, key: &FlowKey, ts: Ts) -> bool {
        self.tuples
            .get(key)
            .is_some_and(|ranges| ranges.iter().any(|(s, e)| *s <= ts && ts < *e))
    }

    /// A Wireshark display filter for the selected 4-tuples, in Wireshark's own
    /// conversation-filter form (`ip.addr==A && ip.addr==B && tcp.port==a && tcp.port==b`).
    /// Written into one buffer, addresses and ports without `core::fmt` (issue 12: up to
    /// 10,000 4-tuples, formatted one by one, were 5 % of the NAT capture's run, all of it
    /// after the last frame).
    pub fn display_filter(&self) -> String {
        use crate::report::json::{ip_text, port_text};
        let addr = |ip: IpAddr| {
            if ip.is_ipv4() {
                "ip.addr=="
            } else {
                "ipv6.addr=="
            }
        };
        let mut text = Vec::with_capacity(self.tuples.len().min(MAX_TUPLES) * 80);
        for (i, k) in self.tuples.keys().enumerate() {
            if i > 0 {
                text.extend_from_slice(b" || ");
            }
            text.push(b'(');
            for (j, end) in [k.lo, k.hi].into_iter().enumerate() {
                if j > 0 {
                    text.extend_from_slice(b" && ");
                }
                text.extend_from_slice(addr(end.ip).as_bytes());
                ip_text(&mut text, end.ip);
            }
            for end in [k.lo, k.hi] {
                text.extend_from_slice(b" && tcp.port==");
                port_text(&mut text, end.port);
            }
            text.push(b')');
        }
        // Only ASCII was written.
        String::from_utf8(text).unwrap_or_default()
    }

    /// Reads the captures again, side by side, and streams the selected packets (original
    /// bytes and timestamps, one pcapng interface per link type, in time order as the
    /// analysis merged them) to `out`, with the comments; then one statistics block per
    /// interface with `span`, the time the whole capture covered. Returns the packets
    /// written. Memory: one frame buffer per input file.
    pub fn write_pcapng(
        &self,
        paths: &[&Path],
        span: Option<(Ts, Ts)>,
        out: &mut dyn Write,
    ) -> Result<u64, WriteError> {
        let mut files = Vec::with_capacity(paths.len());
        for (index, path) in paths.iter().enumerate() {
            let capture = capture::open(path).map_err(|e| WriteError::Read(index, e))?;
            files.push(Reader {
                capture,
                index: index as u32,
                head: None,
                data: Vec::new(),
            });
        }
        for f in &mut files {
            f.advance(self)?;
        }
        let mut w = PcapNgWriter::new(&mut *out, false, &[]).map_err(WriteError::Io)?;
        let mut linktypes: Vec<u32> = Vec::new();
        // Where the frames that comments refer to ended up in the new file.
        let mut renumbered: IndexMap<FrameRef, u64> = IndexMap::default();
        loop {
            let next = files
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.head.map(|h| (i, h.ts)))
                .min_by_key(|&(i, ts)| (ts, i));
            let Some((i, _)) = next else { break };
            let f = &mut files[i];
            let Some(head) = f.head else { break };
            let iface = match linktypes.iter().position(|l| *l == head.linktype) {
                Some(p) => p as u32,
                None => {
                    linktypes.push(head.linktype);
                    w.add_interface(NgInterface {
                        linktype: head.linktype as u16,
                        snaplen: 262_144,
                        tsresol: 9,
                    })
                    .map_err(WriteError::Io)?
                }
            };
            let original = FrameRef {
                file: f.index,
                number: head.number,
            };
            let number = w.frames + 1;
            let texts = self.comments(original, &renumbered);
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            w.write_commented(iface, head.ts, &f.data, head.orig_len, &texts)
                .map_err(WriteError::Io)?;
            if self.notes.get(&original).is_some_and(|n| n.end.is_some()) {
                renumbered.insert(original, number);
            }
            f.advance(self)?;
        }
        if let Some((start, end)) = span {
            for iface in 0..linktypes.len() as u32 {
                w.statistics(iface, start, end).map_err(WriteError::Io)?;
            }
        }
        let written = w.frames;
        out.flush().map_err(WriteError::Io)?;
        Ok(written)
    }

    /// The comments for a frame about to be written (none for most).
    fn comments(&self, frame: FrameRef, renumbered: &IndexMap<FrameRef, u64>) -> Vec<String> {
        let Some(notes) = self.notes.get(&frame) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some((first, attempts)) = notes.end {
            out.push(end_comment(&first, attempts));
        }
        if let Some(syn) = notes.syn {
            let end = match renumbered.get(&syn.end) {
                Some(n) => format!("frame {n}"),
                None => format!("frame {} of the original capture", syn.end.number),
            };
            out.push(syn_comment(&syn, &end));
        }
        out
    }
}

/// The comment on a flagged SYN, e.g. "portreuse: SYN into 192.168.50.10:110's TIME_WAIT;
/// previous connection ended at frame 9, 5.22 s before; unanswered".
fn syn_comment(n: &SynNote, end: &str) -> String {
    let mut text = format!("portreuse: {}", what(n));
    let gap = human_secs(n.gap_ns);
    match n.kind {
        Kind::Fresh => {}
        Kind::Open => text.push_str(&format!(
            "; previous connection's last packet at {end}, {gap} before"
        )),
        _ => text.push_str(&format!(
            "; previous connection ended at {end}, {gap} before"
        )),
    }
    text.push_str("; ");
    text.push_str(&n.outcome.name().replace('_', " "));
    if n.challenge_acks > 0 {
        text.push_str(&format!(
            " ({})",
            count(u64::from(n.challenge_acks), "challenge ACK")
        ));
    }
    text
}

/// The comment on the last packet of a connection that flagged SYNs collided with.
fn end_comment(first: &SynNote, attempts: u32) -> String {
    let mut text = format!(
        "portreuse: last packet of this connection; {} later: {}, {}",
        human_secs(first.gap_ns),
        what(first),
        first.outcome.name().replace('_', " ")
    );
    if attempts > 1 {
        text.push_str(&format!(
            " ({} on this 4-tuple collided with it)",
            count(u64::from(attempts), "flagged attempt")
        ));
    }
    text
}

fn what(n: &SynNote) -> String {
    match n.kind {
        Kind::ServerTimeWait => format!("SYN into {}'s TIME_WAIT", n.server),
        Kind::MaybeTimeWait => format!(
            "SYN on a 4-tuple that {} may still hold in TIME_WAIT (the capture does not show who closed first)",
            n.server
        ),
        Kind::ClientTimeWait => {
            "SYN reusing a 4-tuple inside the TIME_WAIT window (only the client held it)".into()
        }
        Kind::Open => "SYN on a 4-tuple that is still open (no FIN or RST)".into(),
        Kind::AfterWindow => "SYN reusing a 4-tuple after the TIME_WAIT window".into(),
        Kind::Fresh => format!(
            "SYN to {} on a 4-tuple not used before in the capture",
            n.server
        ),
    }
}

/// The next selected frame of one input: its header fields, its bytes in `data`.
#[derive(Clone, Copy, Debug)]
struct Head {
    ts: Ts,
    linktype: u32,
    orig_len: u32,
    number: u64,
}

struct Reader {
    capture: Capture,
    index: u32,
    head: Option<Head>,
    /// The head's bytes (one buffer per file, reused).
    data: Vec<u8>,
}

impl Reader {
    /// Reads on to the next frame of a selected 4-tuple (a TCP segment, or an ICMP error
    /// quoting one); `head` is None at the end.
    fn advance(&mut self, selection: &Selection) -> Result<(), WriteError> {
        let file = self.index;
        let data = &mut self.data;
        loop {
            let kept = self
                .capture
                .next_frame(|f| {
                    let key = match decode(f, file) {
                        Ok(Decoded::Segment(s)) => FlowKey::new(s.src, s.dst).0,
                        Ok(Decoded::Icmp(e)) => FlowKey::new(e.src, e.dst).0,
                        Err(_) => return None,
                    };
                    if !selection.contains(&key, f.ts) {
                        return None;
                    }
                    data.clear();
                    data.extend_from_slice(f.data);
                    Some(Head {
                        ts: f.ts,
                        linktype: f.linktype,
                        orig_len: f.orig_len,
                        number: f.number,
                    })
                })
                .map_err(|e| WriteError::Read(file as usize, e))?;
            match kept {
                None => {
                    self.head = None;
                    return Ok(());
                }
                Some(Some(head)) => {
                    self.head = Some(head);
                    return Ok(());
                }
                Some(None) => {}
            }
        }
    }
}

#[derive(Debug)]
pub enum WriteError {
    /// Reading input file `index` again failed.
    Read(usize, CaptureError),
    Io(std::io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Read(_, e) => write!(f, "{e}"),
            WriteError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WriteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_filter_names_each_4_tuple_as_wireshark_does() {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        let mut s = Selection::new(false);
        assert_eq!(s.display_filter(), "");
        for (a, b) in [
            (ep("10.0.0.1", 3000), ep("192.168.255.254", 110)),
            (ep("2001:db8::1", 65535), ep("::ffff:1.2.3.4", 0)),
        ] {
            s.tuples.insert(FlowKey::new(a, b).0, Vec::new());
        }
        assert_eq!(
            s.display_filter(),
            "(ip.addr==10.0.0.1 && ip.addr==192.168.255.254 && tcp.port==3000 && tcp.port==110) \
             || (ipv6.addr==::ffff:1.2.3.4 && ipv6.addr==2001:db8::1 && tcp.port==0 && tcp.port==65535)"
        );
    }
}
