//! Frame bytes to a TCP `Segment`, laxly: a frame cut by a snap length still yields its TCP
//! header, and everything that is not decoded says why (`Skip`). No allocation, no panics.

use std::net::IpAddr;

use etherparse::{IpNumber, LaxNetSlice, LaxSlicedPacket};

mod icmp;
mod link;
mod tunnel;
#[cfg(test)]
mod tunnel_tests;
mod udp_tunnel;

pub use icmp::IcmpError;

use crate::capture::Frame;
use crate::tcp::{Endpoint, Flags, FrameRef, Segment, Seq};

/// Link types read (tcpdump.org/linktypes.html).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
    pub const TOKEN_RING: u32 = 6;
    pub const FDDI: u32 = 10;
    /// DLT_RAW as some BSDs number it in pcap files.
    pub const RAW_BSD_12: u32 = 12;
    pub const RAW_BSD_14: u32 = 14;
}

/// Why a frame gave no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// IP, but not TCP (UDP, ICMP, ...). Not an error.
    NotTcp,
    /// Not IP at all (ARP, LLDP, ...). Not an error.
    NotIp,
    /// A pcapng record that is not a packet (custom or systemd journal block).
    NotPacket,
    /// A link type portreuse does not decode; its frames are counted per link type.
    LinkType(u32),
    /// An IP fragment other than the first: it carries no TCP header.
    Fragment,
    /// The frame ends before the TCP flags (snap length too short, or a cut frame).
    Truncated,
    /// Headers that contradict themselves (bad IP version, TCP data offset < 5, ...).
    Malformed,
}

impl Skip {
    /// Whether this is a frame portreuse could not decode (as opposed to other traffic).
    pub fn is_failure(self) -> bool {
        !matches!(self, Skip::NotTcp | Skip::NotIp | Skip::NotPacket)
    }

    /// Why the frames were not decoded, for people: "of link type 105 (IEEE 802.11) not decoded".
    pub fn describe(self) -> String {
        match self {
            Skip::LinkType(lt) => match linktype_name(lt) {
                Some(name) => format!("of link type {lt} ({name}) not decoded"),
                None => format!("of link type {lt} not decoded"),
            },
            Skip::Fragment => "were IP fragments after the first (no TCP header)".into(),
            Skip::Truncated => "ended before their TCP flags".into(),
            Skip::Malformed => "had malformed headers".into(),
            other => format!("not decoded ({})", other.name()),
        }
    }

    /// snake_case name used in JSON and tables.
    pub fn name(self) -> String {
        match self {
            Skip::NotTcp => "not_tcp".into(),
            Skip::NotIp => "not_ip".into(),
            Skip::NotPacket => "not_a_packet".into(),
            Skip::LinkType(lt) => format!("link_type_{lt}"),
            Skip::Fragment => "ip_fragment".into(),
            Skip::Truncated => "truncated".into(),
            Skip::Malformed => "malformed".into(),
        }
    }
}

/// Names of link types a capture may hold that portreuse does not decode (tcpdump.org).
fn linktype_name(lt: u32) -> Option<&'static str> {
    Some(match lt {
        3 => "AX.25",
        8 => "SLIP",
        105 => "IEEE 802.11",
        107 => "Frame Relay",
        119 => "Prism",
        138 => "Apple IP over IEEE 1394",
        143 => "DOCSIS",
        147..=162 => "user-defined",
        163 => "AVS",
        187 => "Bluetooth HCI",
        189 => "USB with Linux header",
        195 | 215 | 230 | 283 => "IEEE 802.15.4",
        201 => "Bluetooth HCI with phdr",
        220 => "USB Linux mmapped",
        227 => "CAN SocketCAN",
        249 => "Netlink",
        252 => "Wireshark upper PDU",
        251 => "Bluetooth LE LL",
        254 => "SCTP",
        256 => "Bluetooth LE LL with phdr",
        263 => "Bluetooth Linux monitor",
        0x4e4d_0000.. => "a Network Monitor media type",
        _ => return None,
    })
}

/// What a frame holds for the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Segment(Segment),
    /// An ICMP or ICMPv6 error that quotes the start of a TCP segment.
    Icmp(IcmpError),
}

/// Decodes one frame. `file` is the index of the capture file in the input list.
pub fn decode(frame: &Frame, file: u32) -> Result<Decoded, Skip> {
    if frame.linktype == linktype::ETHERNET
        && let Some(plain) = plain_ethernet_tcp(frame, file)
    {
        return plain;
    }
    decode_sliced(frame, file)
}

/// Every frame the general way: etherparse's lax slicing, then tunnels and ICMP.
fn decode_sliced(frame: &Frame, file: u32) -> Result<Decoded, Skip> {
    let packet = link::network(frame.linktype, frame.data)?;
    segment(&packet, frame, file, 0)
}

/// The common case by hand: Ethernet II without tags, then an unfragmented IPv4 packet or
/// an IPv6 packet without extension headers, carrying TCP. Anything else (`None`) goes the
/// general way. This skips copying etherparse's sliced-packet structure four times per frame
/// (a fifth of the run on plain captures); `tests::the_plain_path_agrees_with_the_general_one`
/// checks the two agree.
fn plain_ethernet_tcp(frame: &Frame, file: u32) -> Option<Result<Decoded, Skip>> {
    let data = frame.data;
    let ip = data.get(14..)?;
    let (src, dst, header_len, declared, ip_id) =
        match u16::from_be_bytes([*data.get(12)?, *data.get(13)?]) {
            0x0800 => {
                let h = ip.get(..20)?;
                let ihl = usize::from(h[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
                let fragmented = h[6] & 0x3f != 0 || h[7] != 0; // MF flag or an offset
                if h[0] >> 4 != 4 || ihl < 20 || total < ihl || fragmented || h[9] != 6 {
                    return None;
                }
                let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
                let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
                (src, dst, ihl, total - ihl, u16::from_be_bytes([h[4], h[5]]))
            }
            0x86dd => {
                let h = ip.get(..40)?;
                let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
                if h[0] >> 4 != 6 || h[6] != 6 || payload == 0 {
                    return None;
                }
                let addr = |at: usize| -> Option<IpAddr> {
                    Some(IpAddr::from(<[u8; 16]>::try_from(&h[at..at + 16]).ok()?))
                };
                (addr(8)?, addr(24)?, 40, payload, 0)
            }
            _ => return None,
        };
    // The TCP header ends where the IP packet ends: bytes after it are Ethernet padding.
    let end = (header_len + declared).min(ip.len());
    let tcp = ip.get(header_len..end)?;
    let ip = IpFacts {
        src,
        dst,
        id: ip_id,
    };
    Some(tcp_segment(tcp, declared, ip, frame, file).map(Decoded::Segment))
}

/// How many encapsulations (tunnels) deep decode follows a packet.
const MAX_DEPTH: u8 = 4;

fn segment(packet: &LaxSlicedPacket, frame: &Frame, file: u32, depth: u8) -> Result<Decoded, Skip> {
    let (ip, payload, declared) = match &packet.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let payload = ip.payload();
            if payload.fragmented && h.fragments_offset().value() != 0 {
                return Err(Skip::Fragment);
            }
            let declared = (usize::from(h.total_len())).saturating_sub(
                h.slice().len() + ip.extensions().auth.map_or(0, |a| a.slice().len()),
            );
            let ip = IpFacts {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                id: h.identification(),
            };
            (ip, payload, declared)
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let payload = ip.payload();
            if payload.fragmented {
                return Err(Skip::Fragment);
            }
            let declared =
                usize::from(h.payload_length()).saturating_sub(ip.extensions().slice().len());
            let ip = IpFacts {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                id: 0,
            };
            (ip, payload, declared)
        }
        Some(LaxNetSlice::Arp(_)) => return Err(Skip::NotIp),
        None => return Err(link::net_failure(packet)),
    };
    if matches!(payload.ip_number, IpNumber::ICMP | IpNumber::IPV6_ICMP) {
        let at = FrameRef {
            file,
            number: frame.number,
        };
        return icmp::error(
            payload.payload,
            payload.ip_number == IpNumber::IPV6_ICMP,
            at,
            frame.ts,
        )
        .map(Decoded::Icmp);
    }
    if payload.ip_number != IpNumber::TCP {
        // A tunnel (IP-in-IP, GRE, VXLAN, Geneve, GTP-U): the TCP inside is what counts.
        return match tunnel::inner(payload.ip_number, payload.payload) {
            Some(inner) if depth < MAX_DEPTH => segment(&inner?, frame, file, depth + 1),
            _ => Err(Skip::NotTcp),
        };
    }
    // A complete payload's own length is the truth (IPv4 total length 0 under TSO, jumbograms);
    // a cut one's length comes from the IP header.
    let ip_payload_len = if payload.incomplete {
        declared
    } else {
        payload.payload.len()
    };
    tcp_segment(payload.payload, ip_payload_len, ip, frame, file).map(Decoded::Segment)
}

/// What the IP header says that the TCP segment needs.
#[derive(Clone, Copy)]
struct IpFacts {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 identification (0 for IPv6): with the TCP fields it tells a duplicated frame.
    id: u16,
}

/// The fixed TCP header by hand: the first 14 bytes (ports, sequence numbers, data offset and
/// flags) are enough, so a header whose options were cut still counts.
fn tcp_segment(
    tcp: &[u8],
    ip_payload_len: usize,
    ip: IpFacts,
    frame: &Frame,
    file: u32,
) -> Result<Segment, Skip> {
    let IpFacts { src, dst, id } = ip;
    let h: &[u8; 14] = tcp
        .get(..14)
        .and_then(|h| h.try_into().ok())
        .ok_or(Skip::Truncated)?;
    let header_len = usize::from(h[12] >> 4) * 4;
    if header_len < 20 {
        return Err(Skip::Malformed);
    }
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    Ok(Segment {
        frame: FrameRef {
            file,
            number: frame.number,
        },
        ts: frame.ts,
        src: Endpoint {
            ip: src,
            port: u16::from_be_bytes([h[0], h[1]]),
        },
        dst: Endpoint {
            ip: dst,
            port: u16::from_be_bytes([h[2], h[3]]),
        },
        flags: Flags(h[13]),
        seq: Seq(be32(4)),
        ack: Seq(be32(8)),
        payload_len: ip_payload_len.saturating_sub(header_len) as u32,
        tsval: tsval(tcp.get(20..header_len.min(tcp.len())).unwrap_or(&[])),
        ip_id: id,
        checksum: tcp
            .get(16..18)
            .map_or(0, |c| u16::from_be_bytes([c[0], c[1]])),
    })
}

/// TSval of the TCP timestamp option (kind 8, length 10; RFC 7323 section 3), if present.
/// Most stacks put it first after two NOPs (`01 01 08 0a`), so that case is checked first.
fn tsval(options: &[u8]) -> Option<u32> {
    let be32 = |o: &[u8]| {
        o.get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if let [1, 1, 8, 10, rest @ ..] = options {
        return be32(rest);
    }
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            0 => return None,
            1 => at += 1,
            _ => {
                let len = usize::from(*options.get(at + 1)?);
                if kind == 8 && len == 10 {
                    return be32(options.get(at + 2..)?);
                }
                if len < 2 {
                    return None;
                }
                at += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Ts;
    use etherparse::PacketBuilder;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// The TCP segment of a frame, or why there is none.
    fn decode(frame: &Frame, file: u32) -> Result<Segment, Skip> {
        match super::decode(frame, file)? {
            Decoded::Segment(s) => Ok(s),
            Decoded::Icmp(_) => Err(Skip::NotTcp),
        }
    }

    fn frame(linktype: u32, data: &[u8]) -> Frame<'_> {
        Frame {
            number: 7,
            ts: Ts(5),
            linktype,
            data,
            orig_len: data.len() as u32,
            offset: 0,
        }
    }

    fn syn_v4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(4000, 110, 1234, 1000)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn ethernet_ipv4_syn() {
        let data = syn_v4(&[]);
        let seg = decode(&frame(linktype::ETHERNET, &data), 3).unwrap();
        assert_eq!(seg.frame, FrameRef { file: 3, number: 7 });
        assert_eq!(seg.src.to_string(), "10.0.0.1:4000");
        assert_eq!(seg.dst.to_string(), "10.0.0.2:110");
        assert!(seg.flags.syn() && !seg.flags.ack());
        assert_eq!((seg.seq, seg.payload_len), (Seq(1234), 0));
    }

    #[test]
    fn payload_length_survives_a_snap_length_cut() {
        let data = syn_v4(&[b'x'; 500]);
        let cut = &data[..96];
        let seg = decode(&frame(linktype::ETHERNET, cut), 0).unwrap();
        assert_eq!(seg.payload_len, 500);
    }

    #[test]
    fn every_prefix_decodes_or_says_why_without_panicking() {
        let data = syn_v4(&[1, 2, 3]);
        for len in 0..data.len() {
            let result = decode(&frame(linktype::ETHERNET, &data[..len]), 0);
            // The TCP flags sit at byte 14 + 20 + 13: any prefix that holds them decodes.
            assert_eq!(result.is_ok(), len >= 14 + 20 + 14, "prefix of {len} bytes");
        }
    }

    #[test]
    fn vlan_and_qinq_tags_are_skipped() {
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .double_vlan(
                etherparse::VlanId::try_new(10).unwrap(),
                etherparse::VlanId::try_new(20).unwrap(),
            )
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(4000, 110, 1, 1000)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, &[]).unwrap();
        assert!(
            decode(&frame(linktype::ETHERNET, &v), 0)
                .unwrap()
                .flags
                .syn()
        );
    }

    #[test]
    fn ipv6_raw_and_cooked_link_types() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(4000, 80, 9, 1000)
            .syn();
        let mut ip = Vec::new();
        b.write(&mut ip, &[]).unwrap();
        let seg = decode(&frame(linktype::RAW, &ip), 0).unwrap();
        assert_eq!(seg.dst.port, 80);
        assert!(decode(&frame(linktype::IPV6, &ip), 0).is_ok());
        // SLL: 16-byte header, protocol at 14..16; SLL2: 20 bytes, protocol at 0..2.
        let mut sll = vec![0u8; 16];
        sll[2..4].copy_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK, which etherparse rejects
        sll[14..16].copy_from_slice(&0x86ddu16.to_be_bytes());
        sll.extend_from_slice(&ip);
        assert!(decode(&frame(linktype::LINUX_SLL, &sll), 0).is_ok());
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x86ddu16.to_be_bytes());
        sll2.extend_from_slice(&ip);
        assert!(decode(&frame(linktype::LINUX_SLL2, &sll2), 0).is_ok());
        let mut null = 24u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert!(decode(&frame(linktype::NULL, &null), 0).is_ok());
    }

    #[test]
    fn non_tcp_unknown_link_types_and_fragments_are_counted_not_decoded() {
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(53, 53);
        let mut udp = Vec::new();
        b.write(&mut udp, &[0; 8]).unwrap();
        assert_eq!(
            decode(&frame(linktype::ETHERNET, &udp), 0),
            Err(Skip::NotTcp)
        );
        assert_eq!(decode(&frame(147, &udp), 0), Err(Skip::LinkType(147)));
        let mut frag = syn_v4(&[0; 16]);
        frag[14 + 6] = 0x00;
        frag[14 + 7] = 0x10; // fragment offset 16 x 8 bytes
        assert_eq!(
            decode(&frame(linktype::ETHERNET, &frag), 0),
            Err(Skip::Fragment)
        );
    }

    #[test]
    fn tunnels_yield_the_inner_tcp() {
        let inner = syn_v4(&[]);
        // VXLAN: outer UDP to 4789, 8-byte VXLAN header, inner Ethernet frame.
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
        vxlan.extend_from_slice(&inner);
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(40000, 4789);
        let mut outer = Vec::new();
        b.write(&mut outer, &vxlan).unwrap();
        let seg = decode(&frame(linktype::ETHERNET, &outer), 0).unwrap();
        assert_eq!(seg.src.to_string(), "10.0.0.1:4000");
        // IP-in-IP (protocol 4) and GRE (47) carrying IPv4, as raw IP frames.
        let inner_ip = &inner[14..];
        let mut gre = vec![0x00, 0x00, 0x08, 0x00];
        gre.extend_from_slice(inner_ip);
        for (proto, body) in [
            (etherparse::IpNumber::IPV4, inner_ip.to_vec()),
            (etherparse::IpNumber::GRE, gre),
        ] {
            let header = etherparse::Ipv4Header::new(
                body.len() as u16,
                64,
                proto,
                [192, 0, 2, 1],
                [192, 0, 2, 2],
            )
            .unwrap();
            let mut raw = Vec::new();
            header.write(&mut raw).unwrap();
            raw.extend_from_slice(&body);
            let seg = decode(&frame(linktype::RAW, &raw), 0).unwrap();
            assert_eq!(seg.dst.to_string(), "10.0.0.2:110", "{proto:?}");
        }
    }

    #[test]
    fn an_icmp_port_unreachable_quoting_a_syn_is_decoded() {
        let syn = syn_v4(&[]);
        let quoted = &syn[14..14 + 20 + 8]; // IP header + the 8 bytes RFC 792 requires
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ));
        let mut v = Vec::new();
        b.write(&mut v, quoted).unwrap();
        let Ok(Decoded::Icmp(e)) = super::decode(&frame(linktype::ETHERNET, &v), 0) else {
            panic!("not decoded")
        };
        assert_eq!(
            (e.icmp_type, e.code, e.seq, e.flags),
            (3, 3, Seq(1234), None)
        );
        assert_eq!(
            (e.src.to_string(), e.dst.to_string()),
            ("10.0.0.1:4000".into(), "10.0.0.2:110".into())
        );
    }

    #[test]
    fn timestamp_option_is_read_wherever_it_sits() {
        assert_eq!(tsval(&[1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0]), Some(256));
        // MSS, SACK-permitted, then the timestamp (Linux SYN layout).
        let syn = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert_eq!(tsval(&syn), Some(0xdead_beef));
        assert_eq!(tsval(&[2, 4, 5, 0xb4]), None);
        assert_eq!(tsval(&[8, 10, 1]), None); // cut by the snap length
        assert_eq!(tsval(&[3, 0, 8, 10, 0, 0, 0, 1]), None); // a zero length ends the walk
    }

    #[test]
    fn the_plain_path_agrees_with_the_general_one() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
        let mut checked = 0;
        for name in [
            "isa2000-broken.pcap",
            "real/linux-tw-ts-on.pcap",
            "real/linux-tw-ts-off-bigxfer.pcap",
        ] {
            let mut capture =
                crate::capture::open(std::path::Path::new(&format!("{dir}{name}"))).unwrap();
            while let Some(same) = capture
                .next_frame(|f| {
                    // Every prefix too: cut frames must take the same way.
                    (0..=f.data.len())
                        .step_by(7)
                        .chain([f.data.len()])
                        .all(|len| {
                            let cut = Frame {
                                data: &f.data[..len],
                                ..*f
                            };
                            plain_ethernet_tcp(&cut, 0)
                                .is_none_or(|plain| plain == decode_sliced(&cut, 0))
                        })
                })
                .unwrap()
            {
                assert!(
                    same,
                    "{name}: frame {} decodes differently",
                    capture.info.frames
                );
                checked += 1;
            }
        }
        assert!(checked > 2000);
        // IPv6 and fragments, built.
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv6([1; 16], [2; 16], 64)
            .tcp(4000, 80, 9, 1000)
            .syn();
        let mut v6 = Vec::new();
        b.write(&mut v6, &[7; 10]).unwrap();
        let f = frame(linktype::ETHERNET, &v6);
        assert_eq!(plain_ethernet_tcp(&f, 0), Some(decode_sliced(&f, 0)));
        // A short IPv4 packet (10 bytes of TCP) padded to the Ethernet minimum: the padding
        // is not TCP, either way.
        let mut short = syn_v4(&[]);
        short[14 + 3] = 30;
        short.truncate(14 + 30);
        short.extend_from_slice(&[0; 16]);
        let f = frame(linktype::ETHERNET, &short);
        assert_eq!(plain_ethernet_tcp(&f, 0), Some(decode_sliced(&f, 0)));
        assert_eq!(decode_sliced(&f, 0), Err(Skip::Truncated));
        let mut frag = syn_v4(&[0; 16]);
        frag[14 + 6] = 0x20; // more fragments: the general way decides
        assert_eq!(
            plain_ethernet_tcp(&frame(linktype::ETHERNET, &frag), 0),
            None
        );
    }

    #[test]
    fn a_tcp_data_offset_below_five_is_malformed() {
        let mut data = syn_v4(&[]);
        data[14 + 20 + 12] = 0x40;
        assert_eq!(
            decode(&frame(linktype::ETHERNET, &data), 0),
            Err(Skip::Malformed)
        );
    }
}
