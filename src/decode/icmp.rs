//! ICMP and ICMPv6 errors that quote a TCP segment (RFC 792, RFC 4443): a router or host
//! refusing a SYN with "destination unreachable" answers the attempt as surely as a RST.

use std::net::IpAddr;

use etherparse::{IpNumber, LaxNetSlice, LaxSlicedPacket};

use super::Skip;
use crate::tcp::{Endpoint, Flags, FrameRef, Seq};
use crate::time::Ts;

/// An ICMP error about a TCP segment: the segment's endpoints and sequence number as quoted
/// (at least 8 bytes of TCP are quoted, so ports and sequence number are always there; the
/// flags only when 14 bytes or more are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    pub frame: FrameRef,
    pub ts: Ts,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The quoted segment's sender and receiver.
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: Seq,
    pub flags: Option<Flags>,
}

/// ICMP error types: destination unreachable, source quench, redirect, time exceeded,
/// parameter problem.
const ICMP_ERRORS: [u8; 5] = [3, 4, 5, 11, 12];
/// ICMPv6 error types: destination unreachable, packet too big, time exceeded, parameter problem.
const ICMPV6_ERRORS: [u8; 4] = [1, 2, 3, 4];

pub fn error(icmp: &[u8], v6: bool, frame: FrameRef, ts: Ts) -> Result<IcmpError, Skip> {
    let h = icmp.get(..8).ok_or(Skip::Truncated)?;
    let (icmp_type, code) = (h[0], h[1]);
    let errors: &[u8] = if v6 { &ICMPV6_ERRORS } else { &ICMP_ERRORS };
    if !errors.contains(&icmp_type) {
        return Err(Skip::NotTcp);
    }
    let quoted = LaxSlicedPacket::from_ip(&icmp[8..]).map_err(|_| Skip::NotTcp)?;
    let (src, dst, payload) = match &quoted.net {
        Some(LaxNetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
            ip.payload(),
        ),
        Some(LaxNetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
            ip.payload(),
        ),
        _ => return Err(Skip::NotTcp),
    };
    if payload.ip_number != IpNumber::TCP {
        return Err(Skip::NotTcp);
    }
    let tcp = payload.payload;
    let head: &[u8; 8] = tcp
        .get(..8)
        .and_then(|t| t.try_into().ok())
        .ok_or(Skip::NotTcp)?;
    Ok(IcmpError {
        frame,
        ts,
        v6,
        icmp_type,
        code,
        src: Endpoint {
            ip: src,
            port: u16::from_be_bytes([head[0], head[1]]),
        },
        dst: Endpoint {
            ip: dst,
            port: u16::from_be_bytes([head[2], head[3]]),
        },
        seq: Seq(u32::from_be_bytes([head[4], head[5], head[6], head[7]])),
        flags: tcp.get(13).map(|f| Flags(*f)),
    })
}
