//! `--source` and `--server`: which SYNs to analyse.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::tcp::Endpoint;

/// An address block: an IP with a prefix length (a bare IP is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("'{text}' is not an IP address or CIDR block"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}': prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { ip, prefix })
    }
}

/// `--server`: an IP (optionally with a port, `10.0.0.1:110`, `[::1]:80`) or a CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    pub net: Cidr,
    pub port: Option<u16>,
}

impl FromStr for ServerSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<ServerSpec, String> {
        if let Ok(sa) = text.parse::<SocketAddr>() {
            let net = Cidr {
                ip: sa.ip(),
                prefix: if sa.is_ipv4() { 32 } else { 128 },
            };
            return Ok(ServerSpec {
                net,
                port: Some(sa.port()),
            });
        }
        let net = text
            .parse::<Cidr>()
            .map_err(|_| format!("'{text}' is not IP, IP:PORT, [IPv6]:PORT or CIDR"))?;
        Ok(ServerSpec { net, port: None })
    }
}

impl ServerSpec {
    fn matches(&self, e: Endpoint) -> bool {
        self.net.contains(e.ip) && self.port.is_none_or(|p| p == e.port)
    }
}

/// The SYNs of interest: sent by one of `sources` to one of `servers` (an empty list is all).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub sources: Vec<Cidr>,
    pub servers: Vec<ServerSpec>,
}

impl Filter {
    pub fn wants(&self, src: Endpoint, dst: Endpoint) -> bool {
        (self.sources.is_empty() || self.sources.iter().any(|c| c.contains(src.ip)))
            && (self.servers.is_empty() || self.servers.iter().any(|s| s.matches(dst)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(text: &str) -> Endpoint {
        let sa: SocketAddr = text.parse().unwrap();
        Endpoint {
            ip: sa.ip(),
            port: sa.port(),
        }
    }

    #[test]
    fn cidr_matches_its_block_only() {
        let c: Cidr = "192.168.50.0/24".parse().unwrap();
        assert!(c.contains("192.168.50.77".parse().unwrap()));
        assert!(!c.contains("192.168.51.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn server_spec_with_and_without_port() {
        let s: ServerSpec = "10.0.0.1:110".parse().unwrap();
        assert!(s.matches(ep("10.0.0.1:110")));
        assert!(!s.matches(ep("10.0.0.1:25")));
        let s: ServerSpec = "[2001:db8::1]:80".parse().unwrap();
        assert!(s.matches(ep("[2001:db8::1]:80")));
        let s: ServerSpec = "2001:db8::/32".parse().unwrap();
        assert!(s.matches(ep("[2001:db8::5]:443")));
    }

    #[test]
    fn filter_needs_both_sides_to_match() {
        let f = Filter {
            sources: vec!["192.168.50.1".parse().unwrap()],
            servers: vec!["192.168.50.10:110".parse().unwrap()],
        };
        assert!(f.wants(ep("192.168.50.1:4000"), ep("192.168.50.10:110")));
        assert!(!f.wants(ep("192.168.50.2:4000"), ep("192.168.50.10:110")));
        assert!(!f.wants(ep("192.168.50.1:4000"), ep("192.168.50.10:80")));
    }
}
