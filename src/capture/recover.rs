//! What a plausible record looks like, for reading on after damage.
//!
//! After a record whose length is impossible, the readers look byte by byte for the next
//! place where a record could begin, as `pcapfix` does (its `is_plausible` and
//! `find_valid_block`): a header whose lengths are sane, a timestamp within a day of the
//! last good frame (an hour back at most), a frame whose first bytes decode as its link
//! type says, and a next record that also looks sane (or the input ends exactly there).
//! Random bytes pass all of that about once in 10^12 tries.
//!
//! What is plausible depends on the format (each reader implements [`Resync`]); the search
//! and the bookkeeping of what it skipped are the same for all, in [`resync`].

use std::io;

use super::info::{Damage, FileInfo};
use super::window::Window;
use crate::time::Ts;

/// Largest captured length of one record (Wireshark's `WTAP_MAX_PACKET_SIZE_STANDARD`).
pub(crate) const MAX_RECORD: u32 = 262_144;
/// Largest original length a sane record claims (Wireshark's libpcap heuristic: "any file
/// claiming 128MB in a single packet is *probably* corrupt").
pub(crate) const MAX_ORIG_LEN: u32 = 128 << 20;

const NS: i64 = 1_000_000_000;
/// How far a plausible record's time may lie after the last good frame (pcapfix: a day).
const AHEAD_NS: i64 = 86_400 * NS;
/// ... and before it (frames from several capture queues come slightly out of order).
const BEHIND_NS: i64 = 3_600 * NS;

/// A reader that can look for where a record (or block) could begin again after damage.
pub(crate) trait Resync {
    fn window_mut(&mut self) -> &mut Window;
    /// Whether a record could begin at the window's start.
    fn plausible(&mut self) -> io::Result<bool>;
}

/// Skips the damaged record at the window's start byte by byte, up to the next plausible
/// record or the end of the input, and notes the damage; the damaged record takes a frame
/// number (it may have been a packet, and the file `pcapfix` repairs keeps it). With
/// `or_cut`, finding nothing plausible makes it a cut-off record instead. Returns whether
/// the input ended.
pub(crate) fn resync(
    reader: &mut impl Resync,
    info: &mut FileInfo,
    why: String,
    or_cut: bool,
) -> io::Result<bool> {
    let at = reader.window_mut().offset();
    reader.window_mut().consume(1);
    let ended = loop {
        if reader.plausible()? {
            break false;
        }
        let window = reader.window_mut();
        if window.available() == 0 && window.at_end()? {
            break true;
        }
        window.consume(1);
    };
    if ended && or_cut {
        info.truncated = Some((info.frames + 1, at));
        return Ok(true);
    }
    info.frames += 1;
    info.add_damage(Damage {
        frame: info.frames,
        offset: at,
        skipped: reader.window_mut().offset() - at,
        resumed: !ended,
        why,
    });
    Ok(ended)
}

/// A timestamp close enough to the last good frame's, if there was one.
pub(crate) fn close_in_time(ts: Ts, last: Option<Ts>) -> bool {
    last.is_none_or(|last| {
        let d = ts.since(last);
        (-BEHIND_NS..=AHEAD_NS).contains(&d)
    })
}

/// The frame's first bytes decode as its link type says (for the link types this tool
/// reads TCP from; any other link type passes).
pub(crate) fn looks_like_frame(linktype: u32, data: &[u8]) -> bool {
    let be16 = |at: usize| {
        data.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    match linktype {
        // Ethernet: an EtherType, or an 802.3 length.
        1 => match be16(12) {
            Some(0x0800 | 0x86dd) => looks_like_ip(&data[14..]),
            Some(t) => t <= 1500 || t >= 0x0600,
            None => false,
        },
        // Raw IP.
        12 | 14 | 101 => looks_like_ip(data),
        228 => data.first().is_some_and(|b| b >> 4 == 4) && looks_like_ip(data),
        229 => data.first().is_some_and(|b| b >> 4 == 6),
        // BSD loopback: the address family in host byte order.
        0 | 108 => {
            let family = data.get(..4).map(|b| {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    .min(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            });
            matches!(family, Some(2 | 10 | 24 | 28 | 30)) && looks_like_ip(&data[4..])
        }
        // Linux cooked v1: packet type 0-4; IP after the 16-byte header.
        113 => match (be16(0), be16(14)) {
            (Some(kind), Some(0x0800 | 0x86dd)) if kind <= 4 => looks_like_ip(&data[16..]),
            (Some(kind), Some(_)) => kind <= 4,
            _ => false,
        },
        // Linux cooked v2: protocol first; IP after the 20-byte header.
        276 => match be16(0) {
            Some(0x0800 | 0x86dd) => data.len() >= 20 && looks_like_ip(&data[20..]),
            Some(_) => data.len() >= 20,
            None => false,
        },
        _ => true,
    }
}

/// An IPv4 header with a sane header length, or an IPv6 header.
fn looks_like_ip(ip: &[u8]) -> bool {
    match ip.first().map(|b| (b >> 4, b & 0x0f)) {
        Some((4, ihl)) => ihl >= 5,
        Some((6, _)) => true,
        // Cut by a snap length before the IP header: nothing to tell against it.
        None => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_window() {
        let t = Ts::from_parts(1000, 0);
        assert!(close_in_time(t, None));
        assert!(close_in_time(t, Some(Ts::from_parts(999, 0))));
        assert!(close_in_time(t, Some(Ts::from_parts(1000 + 3000, 0))));
        assert!(!close_in_time(t, Some(Ts::from_parts(1000 + 4000, 0))));
        assert!(!close_in_time(Ts::from_parts(1000 + 90_000, 0), Some(t)));
    }

    #[test]
    fn frames_that_decode() {
        let mut eth = vec![0u8; 34];
        eth[12..14].copy_from_slice(&[0x08, 0x00]);
        eth[14] = 0x45;
        assert!(looks_like_frame(1, &eth));
        eth[14] = 0x35;
        assert!(!looks_like_frame(1, &eth));
        eth[12..14].copy_from_slice(&[0x05, 0xff]);
        assert!(!looks_like_frame(1, &eth));
        assert!(looks_like_frame(101, &[0x60, 0, 0, 0]));
        assert!(!looks_like_frame(101, &[0x20, 0, 0, 0]));
        assert!(looks_like_frame(0, &[2, 0, 0, 0, 0x45]));
        assert!(looks_like_frame(0, &[0, 0, 0, 30, 0x60]));
        assert!(!looks_like_frame(0, &[7, 0, 0, 0, 0x45]));
        assert!(looks_like_frame(147, &[1, 2, 3]));
    }
}
