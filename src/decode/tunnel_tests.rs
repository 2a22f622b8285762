//! Every encapsulation built by hand around one TCP SYN: it decodes to the inner segment,
//! and every prefix of the frame decodes (once it holds the inner TCP flags) or says why
//! (before), without panicking. Nesting is bounded.

use etherparse::PacketBuilder;

use super::{Decoded, Skip, decode, linktype};
use crate::capture::Frame;
use crate::time::Ts;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn frame(data: &[u8]) -> Frame<'_> {
    Frame {
        number: 1,
        ts: Ts(0),
        linktype: linktype::ETHERNET,
        data,
        orig_len: data.len() as u32,
        offset: 0,
    }
}

/// The inner packet: an IPv4 SYN from 10.0.0.1:4000 to 10.0.0.2:110, no options.
fn inner_ip() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(4000, 110, 1234, 1000)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn inner_ip6() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
        .tcp(4000, 110, 1234, 1000)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn inner_eth() -> Vec<u8> {
    let mut v = [MAC, MAC].concat();
    v.extend_from_slice(&[0x08, 0x00]);
    v.extend_from_slice(&inner_ip());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Ethernet + IPv4 carrying `payload` as IP protocol `proto`.
fn over_ip(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let header = etherparse::Ipv4Header::new(
        payload.len() as u16,
        64,
        etherparse::IpNumber(proto),
        [192, 0, 2, 1],
        [192, 0, 2, 2],
    )
    .unwrap();
    v.extend_from_slice(&[MAC, MAC].concat());
    v.extend_from_slice(&[0x08, 0x00]);
    header.write(&mut v).unwrap();
    v.extend_from_slice(payload);
    v
}

/// Ethernet + IPv6 carrying `payload` as next header `proto`.
fn over_ip6(proto: u8, payload: &[u8]) -> Vec<u8> {
    let header = etherparse::Ipv6Header {
        payload_length: payload.len() as u16,
        next_header: etherparse::IpNumber(proto),
        hop_limit: 64,
        source: [0xfd; 16],
        destination: [0xfe; 16],
        ..Default::default()
    };
    let mut v = cat(&[&MAC, &MAC, &[0x86, 0xdd]]);
    header.write(&mut v).unwrap();
    v.extend_from_slice(payload);
    v
}

fn over_udp(source: u16, destination: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC, MAC)
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(source, destination)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn gre(flags_version: u16, protocol: u16, words: &[u8], body: &[u8]) -> Vec<u8> {
    cat(&[
        &flags_version.to_be_bytes(),
        &protocol.to_be_bytes(),
        words,
        body,
    ])
}

/// An 802.11 QoS data frame to the DS, then LLC/SNAP for IPv4 (`amsdu`: as the first
/// subframe of an A-MSDU).
fn wifi(amsdu: bool) -> Vec<u8> {
    let mut v = vec![0x88, 0x01, 0, 0];
    v.extend_from_slice(&[MAC, MAC, MAC].concat());
    v.extend_from_slice(&[0x10, 0x00, if amsdu { 0x80 } else { 0 }, 0]);
    if amsdu {
        v.extend_from_slice(&[MAC, MAC].concat());
        v.extend_from_slice(&((8 + inner_ip().len()) as u16).to_be_bytes());
    }
    v.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    v.extend_from_slice(&inner_ip());
    v
}

/// Every encapsulation this module decodes, by name.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let ip = inner_ip();
    let eth = inner_eth();
    let label = ((100u32 << 12) | (1 << 8) | 64).to_be_bytes(); // label 100, bottom of stack, TTL 64
    let ayiya = |nh: u8, inner: &[u8]| {
        let mut h = vec![0x41, 0x52, 0x11, nh, 0, 0, 0, 1];
        h.extend_from_slice(&[7; 16 + 20]); // identity, signature
        cat(&[&h, inner])
    };
    vec![
        ("ipip", over_ip(4, &ip)),
        ("sit", over_ip(41, &inner_ip6())),
        ("ip6ip6", over_ip6(41, &inner_ip6())),
        ("ipip6", over_ip6(4, &ip)),
        ("gre", over_ip(47, &gre(0, 0x0800, &[], &ip))),
        (
            "gre with checksum, key and sequence",
            over_ip(47, &gre(0xb000, 0x0800, &[0; 12], &ip)),
        ),
        ("gretap", over_ip(47, &gre(0, 0x6558, &[], &eth))),
        ("ip6gre", over_ip6(47, &gre(0, 0x86dd, &[], &inner_ip6()))),
        (
            "erspan type II",
            over_ip(
                47,
                &gre(
                    0x1000,
                    0x88be,
                    &[0, 0, 0, 1],
                    &cat(&[&[0x10, 0, 0, 123, 0, 0, 0, 7], &eth]),
                ),
            ),
        ),
        (
            "erspan type III with platform sub-header",
            over_ip(
                47,
                &gre(
                    0x1000,
                    0x22eb,
                    &[0, 0, 0, 1],
                    &cat(&[&[0x20, 0, 0, 123, 0, 0, 0, 0, 0, 0, 0, 1], &[0; 8], &eth]),
                ),
            ),
        ),
        (
            "mikrotik eoip",
            over_ip(
                47,
                &gre(0x2001, 0x6400, &[0, eth.len() as u8, 100, 0], &eth),
            ),
        ),
        ("etherip", over_ip(97, &cat(&[&[0x30, 0], &eth]))),
        (
            "mikrotik eoipv6",
            over_ip6(97, &cat(&[&[0x03, 0x64], &eth])),
        ),
        ("ethernet in ipv6 (srv6)", over_ip6(143, &eth)),
        ("mpls in ip", over_ip(137, &cat(&[&label, &ip]))),
        (
            "aruba 802.11",
            over_ip(47, &gre(0, 0x8200, &[], &wifi(false))),
        ),
        (
            "aruba 802.11 a-msdu",
            over_ip(47, &gre(0, 0x8370, &[], &wifi(true))),
        ),
        (
            "pptp, compressed ppp",
            over_ip(
                47,
                &gre(
                    0x3081,
                    0x880b,
                    &[0, 21, 0, 7, 0, 0, 0, 2, 0, 0, 0, 1],
                    &cat(&[&[0x21], &ip]),
                ),
            ),
        ),
        (
            "pptp, full ppp header",
            over_ip(
                47,
                &gre(
                    0x3001,
                    0x880b,
                    &[0, 24, 0, 7, 0, 0, 0, 2],
                    &cat(&[&[0xff, 0x03, 0x00, 0x21], &ip]),
                ),
            ),
        ),
        (
            "wccp v2",
            over_ip(47, &gre(0, 0x883e, &[], &cat(&[&[0, 0, 0, 0], &ip]))),
        ),
        ("wccp v1", over_ip(47, &gre(0, 0x883e, &[], &ip))),
        (
            "mpls in gre",
            over_ip(47, &gre(0, 0x8847, &[], &cat(&[&label, &ip]))),
        ),
        (
            "vxlan",
            over_udp(40000, 4789, &cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &eth])),
        ),
        (
            "geneve",
            over_udp(
                6081,
                40000,
                &cat(&[&[0x01, 0, 0x65, 0x58, 0, 0, 42, 0], &[1, 2, 0x80, 0], &eth]),
            ),
        ),
        (
            "gre in udp",
            over_udp(6000, 4754, &gre(0, 0x0800, &[], &ip)),
        ),
        ("mpls in udp", over_udp(6000, 6635, &cat(&[&label, &ip]))),
        ("ayiya ipv6", over_udp(5072, 5072, &ayiya(41, &inner_ip6()))),
        ("ayiya ipv4", over_udp(5072, 5072, &ayiya(4, &ip))),
        ("teredo", over_udp(3544, 50000, &inner_ip6())),
        (
            "teredo with authentication and origin indicators",
            over_udp(
                50000,
                3544,
                &cat(&[
                    &[0, 1, 2, 1, 9, 9, 9],
                    &[0; 9],
                    &[0, 0, 1, 2, 3, 4, 5, 6],
                    &inner_ip6(),
                ]),
            ),
        ),
        (
            "gtp-u",
            over_udp(
                2152,
                2152,
                &cat(&[&[0x30, 0xff, 0, ip.len() as u8, 0, 0, 0, 9], &ip]),
            ),
        ),
        (
            "gtp-u with a sequence number",
            over_udp(
                2152,
                2152,
                &cat(&[
                    &[0x32, 0xff, 0, 4 + ip.len() as u8, 0, 0, 0, 9, 0, 1, 0, 0],
                    &ip,
                ]),
            ),
        ),
        (
            "lisp",
            over_udp(40000, 4341, &cat(&[&[0x80, 0, 0, 1, 0, 0, 0, 0], &ip])),
        ),
        (
            "vxlan-gpe ipv4",
            over_udp(40000, 4790, &cat(&[&[0x0c, 0, 0, 1, 0, 0, 42, 0], &ip])),
        ),
        (
            "vxlan-gpe ethernet",
            over_udp(40000, 4790, &cat(&[&[0x0c, 0, 0, 3, 0, 0, 42, 0], &eth])),
        ),
        (
            "l2tp with length, sequence and offset",
            over_udp(
                1701,
                1701,
                &cat(&[
                    &[
                        0x4a,
                        0x02,
                        0,
                        20 + ip.len() as u8,
                        0,
                        1,
                        0,
                        1,
                        0,
                        5,
                        0,
                        0,
                        0,
                        2,
                        0xee,
                        0xee,
                    ],
                    &[0xff, 0x03, 0x00, 0x21],
                    &ip,
                ]),
            ),
        ),
        (
            "l2tp minimal",
            over_udp(
                1701,
                1701,
                &cat(&[&[0x00, 0x02, 0, 1, 0, 1], &[0xff, 0x03, 0x00, 0x21], &ip]),
            ),
        ),
    ]
}

#[test]
fn every_encapsulation_yields_the_inner_syn() {
    for (name, data) in cases() {
        match decode(&frame(&data), 0) {
            Ok(Decoded::Segment(s)) => {
                assert!(s.flags.syn() && !s.flags.ack(), "{name}");
                assert_eq!((s.src.port, s.dst.port), (4000, 110), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn every_prefix_of_every_encapsulation_decodes_or_says_why() {
    for (name, data) in cases() {
        // The inner TCP header (no options, no payload) ends the frame: its flags are the
        // 14th of its last 20 bytes.
        let flags_end = data.len() - 20 + 14;
        for len in 0..data.len() {
            let result = decode(&frame(&data[..len]), 0);
            if len >= flags_end {
                assert!(
                    matches!(result, Ok(Decoded::Segment(s)) if s.flags.syn()),
                    "{name}: prefix of {len} bytes: {result:?}"
                );
            } else {
                assert!(result.is_err(), "{name}: prefix of {len} bytes: {result:?}");
            }
        }
    }
}

#[test]
fn tunnels_nest_at_most_four_deep() {
    let nested = |depth: usize| {
        let mut packet = inner_ip();
        for _ in 0..depth {
            let header = etherparse::Ipv4Header::new(
                (packet.len() + 4) as u16,
                64,
                etherparse::IpNumber::GRE,
                [192, 0, 2, 1],
                [192, 0, 2, 2],
            )
            .unwrap();
            let mut outer = Vec::new();
            header.write(&mut outer).unwrap();
            outer.extend_from_slice(&gre(0, 0x0800, &[], &packet));
            packet = outer;
        }
        cat(&[&MAC, &MAC, &[0x08, 0x00], &packet])
    };
    // The outermost IP header, then four tunnels: decoded; a fifth is not followed.
    assert!(decode(&frame(&nested(4)), 0).is_ok());
    assert_eq!(decode(&frame(&nested(5)), 0), Err(Skip::NotTcp));
    assert_eq!(decode(&frame(&nested(200)), 0), Err(Skip::NotTcp));
}

/// Encapsulations tshark does not decode either (checked with tshark 4.0.17).
fn not_decoded_cases() -> Vec<(&'static str, Vec<u8>)> {
    let ip = inner_ip();
    vec![
        // Aruba types are 0x8200..0x8370 in steps of 16; 0x9000 has no dissector in tshark.
        (
            "gre 0x8201",
            over_ip(47, &gre(0, 0x8201, &[], &wifi(false))),
        ),
        (
            "gre 0x9000",
            over_ip(47, &gre(0, 0x9000, &[], &wifi(false))),
        ),
        // FOU without a well-known port, GUE (no tshark dissector), VXLAN on Linux's 8472.
        ("fou", over_udp(40000, 42424, &ip)),
        ("gue", over_udp(40000, 6080, &cat(&[&[0, 4, 0, 0], &ip]))),
        (
            "vxlan on 8472",
            over_udp(
                40000,
                8472,
                &cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &inner_eth()]),
            ),
        ),
        // An L2TP control message, an AYIYA heartbeat (operation 0).
        (
            "l2tp control",
            over_udp(
                1701,
                1701,
                &cat(&[&[0xc8, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0], &ip]),
            ),
        ),
        (
            "ayiya heartbeat",
            over_udp(
                5072,
                5072,
                &cat(&[&[0x41, 0x52, 0x10, 4, 0, 0, 0, 1], &[0; 36], &ip]),
            ),
        ),
    ]
}

#[test]
fn what_tshark_does_not_decode_is_not_guessed() {
    for (name, data) in not_decoded_cases() {
        assert!(
            !matches!(decode(&frame(&data), 0), Ok(Decoded::Segment(_))),
            "{name}"
        );
    }
}

#[test]
fn cisco_hdlc_and_mpls_over_ppp_links() {
    let label = ((100u32 << 12) | (1 << 8) | 64).to_be_bytes();
    for (linktype, data) in [
        (104, cat(&[&[0x0f, 0x00, 0x08, 0x00], &inner_ip()])),
        (9, cat(&[&[0xff, 0x03, 0x02, 0x81], &label, &inner_ip()])),
    ] {
        let flags_end = data.len() - 20 + 14;
        for len in 0..=data.len() {
            let f = Frame {
                linktype,
                ..frame(&data[..len])
            };
            let result = decode(&f, 0);
            assert_eq!(
                result.is_ok(),
                len >= flags_end,
                "{linktype}: {len} bytes: {result:?}"
            );
        }
    }
}
