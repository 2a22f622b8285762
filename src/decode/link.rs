//! Link layers: from a frame's bytes to a sliced packet whose network layer is IP.

use etherparse::{EtherType, LaxSlicedPacket};

use super::{Skip, linktype};

/// Link types beyond the common ones (tcpdump.org/linktypes.html).
const IEEE802_11: u32 = 105;
const IEEE802_11_RADIOTAP: u32 = 127;
const ARCNET_LINUX: u32 = 129;
const PPI: u32 = 192;
const NFLOG: u32 = 239;
const IPOIB: u32 = 242;
const PPP: u32 = 9;
const PPP_HDLC: u32 = 50;
const C_HDLC: u32 = 104;

/// The frame's network layer, through whatever link layer `linktype` names.
pub fn network(linktype: u32, data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match linktype {
        linktype::ETHERNET => ethernet(data),
        linktype::LINUX_SLL => from_ether_type(data, 14, 16),
        linktype::LINUX_SLL2 => from_ether_type(data, 0, 20),
        linktype::RAW
        | linktype::IPV4
        | linktype::IPV6
        | linktype::RAW_BSD_12
        | linktype::RAW_BSD_14 => from_ip(data),
        linktype::NULL | linktype::LOOP => from_bsd_loopback(data, linktype),
        linktype::TOKEN_RING => from_token_ring(data),
        linktype::FDDI => from_snap(data.get(13..).ok_or(Skip::Truncated)?),
        PPP | PPP_HDLC => from_ppp(hdlc_stripped(data)),
        // Cisco HDLC: address, control, then an EtherType.
        C_HDLC => from_ether_type(data, 2, 4),
        IEEE802_11 => from_wifi(data),
        IEEE802_11_RADIOTAP => from_wifi(data.get(le16(data, 2)?..).ok_or(Skip::Truncated)?),
        PPI => {
            // An 8-byte header at least, and no PPI inside PPI (a crafted frame could loop).
            let (len, inner) = (le16(data, 2)?, u32::from(le16(data, 4)? as u16));
            if len < 8 || inner == PPI {
                return Err(Skip::Malformed);
            }
            network(inner, data.get(len..).ok_or(Skip::Truncated)?)
        }
        NFLOG => from_nflog(data),
        IPOIB => from_ether_type(data, 40, 44),
        ARCNET_LINUX => from_arcnet_linux(data),
        crate::capture::NOT_A_PACKET => Err(Skip::NotPacket),
        other => Err(Skip::LinkType(other)),
    }
}

fn le16(data: &[u8], at: usize) -> Result<usize, Skip> {
    let b = data.get(at..at + 2).ok_or(Skip::Truncated)?;
    Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

/// Ethernet II with 802.1Q/QinQ tags (etherparse), then what etherparse leaves undecoded.
pub fn ethernet(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    ethernet_nested(data, 0)
}

/// Ethernet headers nest (FabricPath, 802.1ah, VN-Tag): at most this deep, so a crafted frame
/// of stacked headers cannot exhaust the stack.
const MAX_NESTING: u8 = 4;

fn ethernet_nested(data: &[u8], depth: u8) -> Result<LaxSlicedPacket<'_>, Skip> {
    let packet = LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Truncated)?;
    match packet.net {
        Some(_) => Ok(packet),
        None => inner_ip(&packet, depth),
    }
}

/// EtherTypes etherparse leaves undecoded but that carry IP (or Ethernet) a few bytes on.
const MPLS_UNICAST: u16 = 0x8847;
const MPLS_MULTICAST: u16 = 0x8848;
const PPPOE_SESSION: u16 = 0x8864;
const CISCO_FABRICPATH: u16 = 0x8903;
const VNTAG: u16 = 0x8926;
const PBB_ITAG: u16 = 0x88e7;

/// IP under MPLS labels, a PPPoE session, 802.2 LLC/SNAP (an 802.3 length field), or an
/// inner Ethernet frame (FabricPath, 802.1ah), or the EtherType after a VN-Tag.
fn inner_ip<'a>(packet: &LaxSlicedPacket<'a>, depth: u8) -> Result<LaxSlicedPacket<'a>, Skip> {
    if depth >= MAX_NESTING {
        return Err(Skip::Malformed);
    }
    let Some(payload) = packet.ether_payload() else {
        return Err(net_failure(packet));
    };
    let data = payload.payload;
    match payload.ether_type.0 {
        MPLS_UNICAST | MPLS_MULTICAST => from_mpls(data),
        PPPOE_SESSION => from_ppp(data.get(6..).ok_or(Skip::Truncated)?),
        CISCO_FABRICPATH => ethernet_nested(data.get(2..).ok_or(Skip::Truncated)?, depth + 1),
        PBB_ITAG => ethernet_nested(data.get(4..).ok_or(Skip::Truncated)?, depth + 1),
        VNTAG => from_ether_type(data, 4, 6).and_then(|p| match p.net {
            Some(_) => Ok(p),
            None => inner_ip(&p, depth + 1),
        }),
        len if len < 0x0600 => from_snap(data),
        _ => Err(net_failure(packet)),
    }
}

/// IP under an MPLS label stack: 4-byte entries until the bottom-of-stack bit (RFC 3032).
pub fn from_mpls(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let mut at = 0;
    loop {
        let entry = data.get(at..at + 4).ok_or(Skip::Truncated)?;
        at += 4;
        if entry[2] & 1 == 1 {
            return from_ip(&data[at..]);
        }
    }
}

pub fn net_failure(packet: &LaxSlicedPacket) -> Skip {
    match &packet.stop_err {
        Some((etherparse::err::packet::SliceError::Len(_), _)) => Skip::Truncated,
        Some(_) => Skip::Malformed,
        None => Skip::NotIp,
    }
}

/// A 16-bit EtherType at `at`, the network header at `payload`.
pub fn from_ether_type(
    data: &[u8],
    at: usize,
    payload: usize,
) -> Result<LaxSlicedPacket<'_>, Skip> {
    let proto = data.get(at..at + 2).ok_or(Skip::Truncated)?;
    let rest = data.get(payload..).ok_or(Skip::Truncated)?;
    let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
    Ok(LaxSlicedPacket::from_ether_type(ether_type, rest))
}

pub fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match data.first().map(|b| b >> 4) {
        None => Err(Skip::Truncated),
        Some(4 | 6) => LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed),
        Some(_) => Err(Skip::NotIp),
    }
}

/// PPP in HDLC framing starts with address 0xff and control 0x03.
pub fn hdlc_stripped(data: &[u8]) -> &[u8] {
    match data {
        [0xff, 0x03, rest @ ..] => rest,
        _ => data,
    }
}

/// PPP protocol field, then IPv4 (0x0021), IPv6 (0x0057) or MPLS (0x0281, 0x0283). A protocol field compressed to
/// one byte (RFC 1661 section 6.5, common on PPTP links) is told by its odd first byte.
pub fn from_ppp(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match data {
        [0x21 | 0x57, rest @ ..] => from_ip(rest),
        [0x00, 0x21 | 0x57, rest @ ..] => from_ip(rest),
        [0x02, 0x81 | 0x83, rest @ ..] => from_mpls(rest), // MPLS unicast, multicast
        [] | [0x00] => Err(Skip::Truncated),
        _ => Err(Skip::NotIp),
    }
}

/// 802.2 LLC with a SNAP header (AA AA 03, OUI, EtherType), as Token Ring, FDDI, 802.11 and
/// 802.3 frames carry IP.
fn from_snap(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let llc = data.get(..8).ok_or(Skip::Truncated)?;
    if llc[..3] != [0xaa, 0xaa, 0x03] {
        return Err(Skip::NotIp);
    }
    from_ether_type(data, 6, 8)
}

/// IEEE 802.5: access and frame control, two addresses, source routing when the source
/// address has its top bit set, then LLC.
fn from_token_ring(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let source_routed = data.get(8).ok_or(Skip::Truncated)? & 0x80 != 0;
    let routing = if source_routed {
        usize::from(data.get(14).ok_or(Skip::Truncated)? & 0x1f)
    } else {
        0
    };
    from_snap(data.get(14 + routing..).ok_or(Skip::Truncated)?)
}

/// IEEE 802.11 data frames (without FCS): a 24-byte header, +6 with four addresses, +2 for
/// QoS, +4 for HT control; then LLC/SNAP. Protected (encrypted) frames carry nothing
/// readable. In an A-MSDU (QoS control bit 7) the first subframe's LLC/SNAP follows its
/// 14-byte header (destination, source, length), as Wireshark reads it.
pub fn from_wifi(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let fc = data.get(..2).ok_or(Skip::Truncated)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 3, fc[0] >> 4, fc[1]);
    if kind != 2 || subtype & 0x4 != 0 || flags & 0x40 != 0 {
        return Err(Skip::NotIp); // not data, a null-data frame, or encrypted
    }
    let qos = subtype & 0x8 != 0;
    let qos_at = 24 + if flags & 3 == 3 { 6 } else { 0 };
    let len = qos_at + if qos { 2 } else { 0 } + if qos && flags & 0x80 != 0 { 4 } else { 0 };
    let amsdu = qos && data.get(qos_at).ok_or(Skip::Truncated)? & 0x80 != 0;
    let llc = if amsdu { len + 14 } else { len };
    from_snap(data.get(llc..).ok_or(Skip::Truncated)?)
}

/// Linux NFLOG: family, version, resource id, then TLVs (length and type in host order,
/// little-endian on every capture seen) padded to 4 bytes; type 9 holds the packet.
fn from_nflog(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let mut at = 4;
    while let Some(tlv) = data.get(at..at + 4) {
        let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
        let kind = u16::from_le_bytes([tlv[2], tlv[3]]);
        if len < 4 {
            return Err(Skip::Malformed);
        }
        if kind == 9 {
            let end = (at + len).min(data.len());
            return from_ip(data.get(at + 4..end).ok_or(Skip::Truncated)?);
        }
        at += len.div_ceil(4) * 4;
    }
    Err(Skip::Truncated)
}

/// ARCNET as Linux captures it: source, destination, 2-byte offset, protocol id; RFC 1201
/// (id 212 IPv4, 196 IPv6) adds a split flag and sequence number, RFC 1051 (240) does not.
fn from_arcnet_linux(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let header = match data.get(4).ok_or(Skip::Truncated)? {
        240 => 5,
        212 | 196 if data.get(5) == Some(&0xff) => 12,
        212 | 196 => 8,
        _ => return Err(Skip::NotIp),
    };
    from_ip(data.get(header..).ok_or(Skip::Truncated)?)
}

/// BSD NULL (host byte order) and OpenBSD LOOP (network byte order): a 4-byte address family.
fn from_bsd_loopback(data: &[u8], linktype: u32) -> Result<LaxSlicedPacket<'_>, Skip> {
    let family = data.get(..4).ok_or(Skip::Truncated)?;
    let family = [family[0], family[1], family[2], family[3]];
    let family = if linktype == linktype::LOOP {
        u32::from_be_bytes(family)
    } else {
        // The writer's byte order is unknown: a family fits in the low 16 bits either way.
        let le = u32::from_le_bytes(family);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(family)
        }
    };
    // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24, 28 or 30 (the BSDs, macOS).
    match family {
        2 | 10 | 24 | 28 | 30 => from_ip(&data[4..]),
        _ => Err(Skip::NotIp),
    }
}
