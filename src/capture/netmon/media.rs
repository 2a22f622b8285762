//! NetMon media types as pcap link types, and NetMon's times (SYSTEMTIME, FILETIME) as
//! nanoseconds since the epoch.

use crate::capture::frame::NOT_A_PACKET;
use crate::time::Ts;

/// Link type given to NetMon media types with no pcap equivalent: `NETMON_MEDIA | media`.
pub const NETMON_MEDIA: u32 = 0x4E4D_0000;
/// 100-nanosecond FILETIME units from 1601-01-01 to 1970-01-01.
pub(crate) const FILETIME_UNIX_EPOCH: i128 = 116_444_736_000_000_000;

/// pcap link types the NetMon media types map to.
pub(crate) mod linktype {
    pub const ETHERNET: u32 = 1;
    pub const TOKEN_RING: u32 = 6;
    pub const FDDI: u32 = 10;
    pub const RAW: u32 = 101;
    pub const IEEE802_11: u32 = 105;
}

/// What a record's media type makes of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Media {
    /// A frame with this pcap link type (or `NETMON_MEDIA | type`, or `NOT_A_PACKET`).
    Frame(u32),
    /// Metadata Wireshark reads past without giving it a frame number.
    Hidden,
}

/// A NetMon media type (file header, or 2.1+ record trailer) as `netmon.c` reads it.
pub(crate) fn media(kind: u16) -> Media {
    let netmon = NETMON_MEDIA | u32::from(kind);
    Media::Frame(match kind {
        // 0 is what NetMon 3.4 writes for some VPN captures of Ethernet frames.
        0 | 1 => linktype::ETHERNET,
        2 => linktype::TOKEN_RING,
        // Wireshark reads it as bit-swapped FDDI: only the MAC addresses differ.
        3 => linktype::FDDI,
        // 4: "NDIS WAN", which NetMon uses for ATM; in 1.x and 2.0 files Wireshark strips a
        //    16-byte pseudo-header from each record (done below), in 2.1+ records it does not.
        // 6: 802.11 preceded by NetMon's own radio metadata header, which is not
        //    LINKTYPE_IEEE802_11, so it keeps its NetMon number.
        // 5, 10, 11 and above: unknown to Wireshark.
        7..=9 => linktype::RAW,
        0xE080 => linktype::IEEE802_11,
        // Message Analyzer types (WFP captures, ETW Wi-Fi, Fiddler...).
        0xE081..=0xE08A => netmon,
        // A converted pcap file: the low 12 bits are the pcap link type.
        0xE000..=0xEFFF => u32::from(kind & 0x0FFF),
        // NetEvent (ETW), extended network info, capture or display filter string.
        0xFFE0 | 0xFFFB | 0xFFFF => NOT_A_PACKET,
        // Payload header of a reassembled frame, network info, DNS cache.
        0xFFFC..=0xFFFE => return Media::Hidden,
        _ => netmon,
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A SYSTEMTIME (year, month, day, hour, minute, second, millisecond; day of week ignored)
/// as nanoseconds since the epoch, taking it as UTC. Out-of-range fields carry over the way
/// `mktime` normalises them (month 13 is January of the next year, day 0 the last day of
/// the month before), so the result is `TZ=UTC` Wireshark's.
pub(crate) fn systemtime_utc(fields: [u16; 7]) -> i128 {
    let [year, month, day, hour, min, sec, ms] = fields.map(i64::from);
    let months = month - 1;
    let days =
        days_from_civil(year + months.div_euclid(12), months.rem_euclid(12) + 1, 1) + day - 1;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    i128::from(secs) * 1_000_000_000 + i128::from(ms) * 1_000_000
}

pub(crate) fn clamp_ts(nanos: i128) -> Ts {
    Ts(nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// A media type some NetMon writer uses (for telling records from noise after damage).
pub(crate) fn known_media(kind: u16) -> bool {
    !matches!(kind, 5 | 10..=0xDFFF | 0xF000..=0xFFDF | 0xFFE1..=0xFFFA)
}
