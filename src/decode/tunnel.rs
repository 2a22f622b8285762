//! Tunnels: the packet inside IP-in-IP, EtherIP, MPLS-in-IP, Ethernet-in-IP (SRv6), GRE
//! (with ERSPAN, PPTP's enhanced GRE, WCCP, MPLS, MikroTik EoIP and Aruba's 802.11-in-GRE),
//! and the UDP encapsulations of `udp_tunnel`.

use etherparse::{IpNumber, LaxSlicedPacket};

use super::link::{ethernet, from_ip, from_mpls, from_ppp, from_wifi};
use super::{Skip, udp_tunnel};

/// EtherIP (RFC 3378), also MikroTik's EoIPv6.
const ETHERIP: IpNumber = IpNumber(97);
/// MPLS-in-IP (RFC 4023).
const MPLS_IN_IP: IpNumber = IpNumber(137);
/// Ethernet as an IP next header (RFC 8986, SRv6 End.DX2 and L2 services).
const ETHERNET: IpNumber = IpNumber(143);

/// The inner packet of a tunnel carried as IP protocol `proto`, or `None` when `proto` is no
/// tunnel portreuse knows.
pub fn inner(proto: IpNumber, payload: &[u8]) -> Option<Result<LaxSlicedPacket<'_>, Skip>> {
    match proto {
        IpNumber::IPV4 | IpNumber::IPV6 => Some(from_ip(payload)),
        IpNumber::GRE => Some(gre(payload)),
        IpNumber::UDP => udp_tunnel::inner(payload),
        // A 16-bit header (version 3 and reserved bits; MikroTik puts a tunnel ID there).
        ETHERIP => Some(payload.get(2..).ok_or(Skip::Truncated).and_then(ethernet)),
        MPLS_IN_IP => Some(from_mpls(payload)),
        ETHERNET => Some(ethernet(payload)),
        _ => None,
    }
}

/// What an EtherType-style protocol field leads to.
pub fn by_protocol(protocol: u16, data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match protocol {
        0x0800 | 0x86dd => from_ip(data),
        0x6558 => ethernet(data),
        0x8847 | 0x8848 => from_mpls(data),
        0x880b => from_ppp(match data {
            [0xff, 0x03, rest @ ..] => rest,
            _ => data,
        }),
        _ => Err(Skip::NotIp),
    }
}

/// GRE (RFC 2784/2890; version 1 is PPTP's, RFC 2637): optional checksum, key, sequence
/// and acknowledgment words, then the payload of `protocol`. ERSPAN II and III carry Ethernet.
pub fn gre(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
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
        // MikroTik EoIP: GRE version 1 whose key word is the frame length and a tunnel ID,
        // then an Ethernet frame.
        MIKROTIK_EOIP => ethernet(body),
        // WCCP redirection: a 4-byte WCCPv2 header unless an IPv4 header follows at once
        // (WCCPv1), the test Wireshark makes.
        WCCP => match body.first() {
            Some(b) if b >> 4 == 4 => from_ip(body),
            _ => from_ip(body.get(4..).ok_or(Skip::Truncated)?),
        },
        ARUBA_FIRST..=ARUBA_LAST if protocol & 0x000f == 0 => from_wifi(body),
        _ => by_protocol(protocol, body),
    }
}

const MIKROTIK_EOIP: u16 = 0x6400;
const WCCP: u16 = 0x883e;
/// Aruba access points tunnel 802.11 frames (without FCS) to their controller as GRE
/// protocols 0x8200, 0x8210, ... 0x8370: the types tshark 4.0 hands to 802.11 (its header
/// names 0x9000 too, but registers no dissector for it).
const ARUBA_FIRST: u16 = 0x8200;
const ARUBA_LAST: u16 = 0x8370;
