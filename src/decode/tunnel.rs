//! Tunnels: the packet inside IP-in-IP, GRE (with ERSPAN and PPTP's enhanced GRE), and the
//! UDP encapsulations VXLAN, Geneve, GTP-U and GRE-in-UDP, found by their well-known ports.

use etherparse::{IpNumber, LaxSlicedPacket};

use super::Skip;
use super::link::{ethernet, from_ip, from_ppp};

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const GTP_U_PORT: u16 = 2152;
const GRE_IN_UDP_PORT: u16 = 4754;

/// The inner packet of a tunnel carried as IP protocol `proto`, or `None` when `proto` is no
/// tunnel portreuse knows.
pub fn inner(proto: IpNumber, payload: &[u8]) -> Option<Result<LaxSlicedPacket<'_>, Skip>> {
    match proto {
        IpNumber::IPV4 | IpNumber::IPV6 => Some(from_ip(payload)),
        IpNumber::GRE => Some(gre(payload)),
        IpNumber::UDP => udp(payload),
        _ => None,
    }
}

fn udp(datagram: &[u8]) -> Option<Result<LaxSlicedPacket<'_>, Skip>> {
    let header = datagram.get(..8)?;
    let (src, dst) = (
        u16::from_be_bytes([header[0], header[1]]),
        u16::from_be_bytes([header[2], header[3]]),
    );
    let body = &datagram[8..];
    let is = |port: u16| src == port || dst == port;
    if is(VXLAN_PORT) {
        // VXLAN (RFC 7348): 8 bytes, then an Ethernet frame.
        Some(body.get(8..).ok_or(Skip::Truncated).and_then(ethernet))
    } else if dst == GENEVE_PORT {
        Some(geneve(body))
    } else if is(GTP_U_PORT) {
        Some(gtp_u(body))
    } else if dst == GRE_IN_UDP_PORT {
        Some(gre(body))
    } else {
        None
    }
}

/// What an EtherType-style protocol field leads to.
fn by_protocol(protocol: u16, data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match protocol {
        0x0800 | 0x86dd => from_ip(data),
        0x6558 => ethernet(data),
        0x880b => from_ppp(match data {
            [0xff, 0x03, rest @ ..] => rest,
            _ => data,
        }),
        _ => Err(Skip::NotIp),
    }
}

/// GRE (RFC 2784/2890; version 1 is PPTP's, RFC 2637): optional checksum, key, sequence
/// and acknowledgment words, then the payload of `protocol`. ERSPAN II and III carry Ethernet.
fn gre(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let h = data.get(..4).ok_or(Skip::Truncated)?;
    let (flags, version) = (h[0], h[1] & 0x07);
    let protocol = u16::from_be_bytes([h[2], h[3]]);
    let words = usize::from(flags & 0xc0 != 0)
        + usize::from(flags & 0x20 != 0)
        + usize::from(flags & 0x10 != 0);
    let ack = usize::from(version == 1 && h[1] & 0x80 != 0);
    let body = data.get(4 + 4 * (words + ack)..).ok_or(Skip::Truncated)?;
    match protocol {
        0x88be if flags & 0x10 != 0 => ethernet(body.get(8..).ok_or(Skip::Truncated)?),
        0x88be => ethernet(body),
        0x22eb => {
            // ERSPAN III: 12 bytes, and an 8-byte platform sub-header when its O bit is set.
            let o = body.get(11).ok_or(Skip::Truncated)? & 0x01 != 0;
            ethernet(body.get(if o { 20 } else { 12 }..).ok_or(Skip::Truncated)?)
        }
        _ => by_protocol(protocol, body),
    }
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
