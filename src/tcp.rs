//! TCP vocabulary shared by every stage: endpoints, the 4-tuple key, sequence numbers, flags
//! and the `Segment` that decode hands to track.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::time::Ts;

/// One side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Hash for Endpoint {
    /// An IPv4 endpoint as one word (address and port side by side), so that a 4-tuple's
    /// hash is two steps of FxHash, not the derived six (the address's variant, address and
    /// port, each side): the reading thread hashes every segment's 4-tuple, and the derived
    /// form was a tenth of that thread on the NAT capture (issue 12). Equal endpoints hash
    /// alike, as `Eq` needs; the hash orders nothing in the output.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.ip {
            IpAddr::V4(ip) => {
                state.write_u64(u64::from(ip.to_bits()) << 16 | u64::from(self.port));
            }
            IpAddr::V6(ip) => {
                state.write_u128(ip.to_bits());
                state.write_u16(self.port);
            }
        }
    }
}

impl fmt::Display for Endpoint {
    /// `ip:port`, IPv6 as `[ip]:port` (RFC 3986 style, as Wireshark and `ss` print them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// A 4-tuple in canonical order (`lo` < `hi`), so both directions find the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`, and whether `src` is the `lo` side.
    #[inline]
    pub fn new(src: Endpoint, dst: Endpoint) -> (FlowKey, bool) {
        if src <= dst {
            (FlowKey { lo: src, hi: dst }, true)
        } else {
            (FlowKey { lo: dst, hi: src }, false)
        }
    }

    /// The key `new` gives, knowing its `KeyHint`.
    pub fn with_hint(src: Endpoint, dst: Endpoint, hint: KeyHint) -> FlowKey {
        if hint.src_is_lo {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// What the tracker's flow table needs of a segment's addresses beyond the addresses: which
/// side of the canonical key sent it, and the key's hash. The reading stage computes it, off
/// the tracking thread, which sets the pace (issue 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHint {
    pub hash: u64,
    /// `src` is the key's `lo` side.
    pub src_is_lo: bool,
}

impl KeyHint {
    /// For two IPv4 endpoints, each is one word (`Endpoint`'s hash), which orders them as
    /// `Ord` does (address, then port) and hashes them as `hash_of(&key)` does (the key's
    /// `lo`, then `hi`): a comparison and two hash steps, without the address family's
    /// branches (the reading thread does this for every segment).
    #[inline]
    pub fn of(src: Endpoint, dst: Endpoint) -> KeyHint {
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip, dst.ip) {
            let s = u64::from(s.to_bits()) << 16 | u64::from(src.port);
            let d = u64::from(d.to_bits()) << 16 | u64::from(dst.port);
            let src_is_lo = s <= d;
            let (lo, hi) = if src_is_lo { (s, d) } else { (d, s) };
            let mut h = rustc_hash::FxHasher::default();
            h.write_u64(lo);
            h.write_u64(hi);
            return KeyHint {
                hash: h.finish(),
                src_is_lo,
            };
        }
        let (key, src_is_lo) = FlowKey::new(src, dst);
        KeyHint {
            hash: crate::hash_of(&key),
            src_is_lo,
        }
    }
}

/// A TCP sequence number, compared modulo 2^32 (RFC 793 section 3.3, RFC 1982).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl std::ops::Add<u32> for Seq {
    type Output = Seq;

    /// Sequence arithmetic wraps modulo 2^32.
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

/// The TCP flags byte (RFC 9293 section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// Where a frame came from: the capture file (index into the input list) and its 1-based
/// frame number in that file, as Wireshark numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct FrameRef {
    pub file: u32,
    pub number: u64,
}

/// The TCP facts of one frame, copied out of the packet bytes (no borrow, no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub frame: FrameRef,
    pub ts: Ts,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub flags: Flags,
    pub seq: Seq,
    pub ack: Seq,
    /// Payload length from the IP length fields, so frames cut by a snap length still count
    /// the bytes that were on the wire.
    pub payload_len: u32,
    /// TSval of the timestamp option (RFC 7323), when present and captured.
    pub tsval: Option<u32>,
    /// IPv4 identification (0 for IPv6) and the TCP checksum (0 when cut by a snap length):
    /// with the TCP fields they tell a duplicated frame from a retransmission.
    pub ip_id: u16,
    pub checksum: u16,
}

impl Segment {
    /// Sequence space this segment occupies: payload plus one for SYN and one for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len
            .wrapping_add(u32::from(self.flags.syn()))
            .wrapping_add(u32::from(self.flags.fin()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_compares_across_the_wrap() {
        assert!(Seq(5) > Seq(u32::MAX - 5));
        assert!(Seq(u32::MAX) < Seq(0));
        assert!(Seq(100) > Seq(99));
        assert_eq!(Seq(u32::MAX) + 2, Seq(1));
    }

    #[test]
    fn flow_key_is_the_same_both_ways() {
        let a = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 4000,
        };
        let b = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 110,
        };
        let (k1, a_is_lo) = FlowKey::new(a, b);
        let (k2, b_is_lo) = FlowKey::new(b, a);
        assert_eq!(k1, k2);
        assert_ne!(a_is_lo, b_is_lo);
    }

    #[test]
    fn a_key_hint_is_the_key_s_side_and_hash_for_every_order_of_address_and_port() {
        let ips = [
            "10.0.0.1",
            "10.0.0.2",
            "9.255.255.255",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
        ];
        let ports = [0, 1, 110, 4000, 65535];
        let endpoints: Vec<Endpoint> = ips
            .iter()
            .flat_map(|ip| {
                ports.iter().map(|&port| Endpoint {
                    ip: ip.parse().unwrap(),
                    port,
                })
            })
            .collect();
        for &a in &endpoints {
            for &b in &endpoints {
                let (key, a_is_lo) = FlowKey::new(a, b);
                let hint = KeyHint::of(a, b);
                assert_eq!(hint.src_is_lo, a_is_lo, "{a} {b}");
                assert_eq!(hint.hash, crate::hash_of(&key), "{a} {b}");
                assert_eq!(FlowKey::with_hint(a, b, hint), key);
            }
        }
    }

    #[test]
    fn ipv6_endpoints_print_in_brackets() {
        let e = Endpoint {
            ip: "::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(e.to_string(), "[::1]:80");
    }
}
