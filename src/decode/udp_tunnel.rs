//! Tunnels over UDP, found by their well-known ports: either port, as Wireshark's `udp.port`
//! table decodes them (tshark 4.0 registers each of these ports by default).

use etherparse::{IpNumber, LaxSlicedPacket};

use super::Skip;
use super::link::{ethernet, from_ip, from_mpls, from_ppp, hdlc_stripped};
use super::tunnel::{by_protocol, gre};

const VXLAN: u16 = 4789;
const GENEVE: u16 = 6081;
const GTP_U: u16 = 2152;
/// GRE-in-UDP (RFC 8086), as Linux FOU sends GRE.
const GRE_IN_UDP: u16 = 4754;
/// AYIYA, "Anything In Anything" (draft-massar-v6ops-ayiya), SixXS's IPv6 tunnel.
const AYIYA: u16 = 5072;
/// Teredo (RFC 4380): IPv6 over UDP through NATs.
const TEREDO: u16 = 3544;
/// L2TP (RFC 2661 version 2; version 3, RFC 3931, is not decoded).
const L2TP: u16 = 1701;
/// LISP data plane (RFC 9300).
const LISP_DATA: u16 = 4341;
/// VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe).
const VXLAN_GPE: u16 = 4790;
/// MPLS-in-UDP (RFC 7510).
const MPLS_IN_UDP: u16 = 6635;

/// Tried in this order when both ports are tunnel ports.
const PORTS: [u16; 10] = [
    VXLAN,
    GENEVE,
    GTP_U,
    GRE_IN_UDP,
    AYIYA,
    TEREDO,
    L2TP,
    LISP_DATA,
    VXLAN_GPE,
    MPLS_IN_UDP,
];

/// The packet inside a UDP datagram, or `None` when neither port is a tunnel's.
pub fn inner(datagram: &[u8]) -> Option<Result<LaxSlicedPacket<'_>, Skip>> {
    let header = datagram.get(..8)?;
    let (src, dst) = (
        u16::from_be_bytes([header[0], header[1]]),
        u16::from_be_bytes([header[2], header[3]]),
    );
    let body = &datagram[8..];
    let port = PORTS.into_iter().find(|&p| src == p || dst == p)?;
    Some(match port {
        // VXLAN (RFC 7348): 8 bytes, then an Ethernet frame.
        VXLAN => body.get(8..).ok_or(Skip::Truncated).and_then(ethernet),
        GENEVE => geneve(body),
        GTP_U => gtp_u(body),
        GRE_IN_UDP => gre(body),
        AYIYA => ayiya(body),
        TEREDO => teredo(body),
        L2TP => l2tp(body),
        // LISP: 8 bytes (flags, nonce or map version, instance ID), then IPv4 or IPv6.
        LISP_DATA => body.get(8..).ok_or(Skip::Truncated).and_then(from_ip),
        VXLAN_GPE => vxlan_gpe(body),
        _ => from_mpls(body),
    })
}

/// Geneve (RFC 8926): 8 bytes plus options (length in 4-byte words), then `protocol`.
fn geneve(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..8).ok_or(Skip::Truncated)?;
    let options = usize::from(h[0] & 0x3f) * 4;
    by_protocol(
        u16::from_be_bytes([h[2], h[3]]),
        data.get(8 + options..).ok_or(Skip::Truncated)?,
    )
}

/// GTP-U (3GPP TS 29.281): 8 bytes, 4 more when E, S or PN is set, then extension headers
/// (length in 4-byte units, next type in the last byte); message type 255 carries IP.
fn gtp_u(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..8).ok_or(Skip::Truncated)?;
    if h[0] >> 5 != 1 || h[1] != 0xff {
        return Err(Skip::NotIp);
    }
    if h[0] & 0x07 == 0 {
        return from_ip(&data[8..]);
    }
    let mut at = 12;
    let mut next = *data.get(11).ok_or(Skip::Truncated)?;
    while next != 0 {
        let len = usize::from(*data.get(at).ok_or(Skip::Truncated)?) * 4;
        if len == 0 {
            return Err(Skip::Malformed);
        }
        next = *data.get(at + len - 1).ok_or(Skip::Truncated)?;
        at += len;
    }
    from_ip(data.get(at..).ok_or(Skip::Truncated)?)
}

/// AYIYA: 8 bytes (identity length as a power of two, signature length in 4-byte words,
/// operation, next header, epoch), the identity and the signature; operation 1 forwards an
/// IP packet of the next header's protocol.
fn ayiya(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..8).ok_or(Skip::Truncated)?;
    let identity = 1usize << (h[0] >> 4);
    let signature = usize::from(h[1] >> 4) * 4;
    if h[2] & 0x0f != 1 || !matches!(IpNumber(h[3]), IpNumber::IPV4 | IpNumber::IPV6) {
        return Err(Skip::NotIp);
    }
    from_ip(
        data.get(8 + identity + signature..)
            .ok_or(Skip::Truncated)?,
    )
}

/// Teredo: an IPv6 packet, after an authentication indicator (type 1: client ID and
/// authentication value lengths, those, an 8-byte nonce and a confirmation byte) and an
/// origin indicator (type 0, 8 bytes), each optional, in that order.
fn teredo(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let mut at = 0;
    if let [0x00, 0x01, id, auth, ..] = data {
        at += 4 + usize::from(*id) + usize::from(*auth) + 9;
    }
    if let Some([0x00, 0x00]) = data.get(at..at + 2) {
        at += 8;
    }
    let ip = data.get(at..).ok_or(Skip::Truncated)?;
    match ip.first() {
        Some(b) if b >> 4 != 6 => Err(Skip::NotIp),
        _ => from_ip(ip),
    }
}

/// L2TPv2 data messages: flags and version, the length when L is set, tunnel and session
/// IDs, Ns and Nr when S is set, an offset when O is set; then a PPP frame.
fn l2tp(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..2).ok_or(Skip::Truncated)?;
    let (control, length, sequence, offset) = (
        h[0] & 0x80 != 0,
        h[0] & 0x40 != 0,
        h[0] & 0x08 != 0,
        h[0] & 0x02 != 0,
    );
    if control || h[1] & 0x0f != 2 {
        return Err(Skip::NotIp); // a control message, or L2TPv3
    }
    let mut at = 2 + if length { 2 } else { 0 } + 4 + if sequence { 4 } else { 0 };
    if offset {
        let size = data.get(at..at + 2).ok_or(Skip::Truncated)?;
        at += 2 + usize::from(u16::from_be_bytes([size[0], size[1]]));
    }
    from_ppp(hdlc_stripped(data.get(at..).ok_or(Skip::Truncated)?))
}

/// VXLAN-GPE: 8 bytes whose fourth names the next protocol: 1 IPv4, 2 IPv6, 3 Ethernet,
/// 5 MPLS.
fn vxlan_gpe(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..8).ok_or(Skip::Truncated)?;
    let body = &data[8..];
    match h[3] {
        1 | 2 => from_ip(body),
        3 => ethernet(body),
        5 => from_mpls(body),
        _ => Err(Skip::NotIp),
    }
}
