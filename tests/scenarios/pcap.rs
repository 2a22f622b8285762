//! Classic pcap writer (Ethernet / IPv4 / TCP with correct checksums) and the minimal reader
//! the generator's self-test checks it with. Written from RFC 791, RFC 9293 and the pcap file
//! format (draft-ietf-opsawg-pcap), not from the project's decoder.

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// One TCP segment as it passes the capture point.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Capture time, nanoseconds since the simulation's epoch.
    pub t: u64,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// SYN options (MSS, SACK permitted, window scale).
    pub syn_options: bool,
    /// TCP timestamps option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    pub payload_len: u16,
    /// Payload text (a protocol reject); `None` means filler bytes.
    pub text: Option<&'static [u8]>,
    pub ttl: u8,
}

impl Packet {
    pub fn has(&self, flags: u8) -> bool {
        self.flags & flags == flags
    }

    pub fn is_syn(&self) -> bool {
        self.has(SYN) && !self.has(ACK)
    }

    pub fn is_synack(&self) -> bool {
        self.has(SYN | ACK)
    }
}

/// One's-complement sum (RFC 1071) of `bytes`, as 16-bit big-endian words, added to `sum`
/// (folded at the end). A plain index loop: it stays fast in debug builds.
fn checksum_add(mut sum: u64, bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut i = 0;
    while i + 1 < n {
        sum += (u64::from(bytes[i]) << 8) | u64::from(bytes[i + 1]);
        i += 2;
    }
    if i < n {
        sum += u64::from(bytes[i]) << 8;
    }
    sum
}

fn checksum_fold(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Filler payload (the bytes themselves do not matter).
static FILLER: [u8; 1460] = [b'x'; 1460];

fn mac(ip: [u8; 4]) -> [u8; 6] {
    [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
}

/// Appends the Ethernet frame of a packet to `out`; `ip_id` is the sender's IPv4
/// identification. Returns the frame's length.
pub fn frame(out: &mut Vec<u8>, p: &Packet, ip_id: u16, pad_to_60: bool) -> usize {
    let begin = out.len();
    out.extend_from_slice(&mac(p.dst));
    out.extend_from_slice(&mac(p.src));
    out.extend_from_slice(&[0x08, 0x00]);
    let ip = out.len();
    let options = if p.syn_options { 12 } else { 0 } + if p.ts.is_some() { 12 } else { 0 };
    let tcp_len = 20 + options + p.payload_len;
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&(20 + tcp_len).to_be_bytes());
    out.extend_from_slice(&ip_id.to_be_bytes());
    out.extend_from_slice(&[0x40, 0, p.ttl, 6, 0, 0]); // DF, TTL, TCP, checksum
    out.extend_from_slice(&p.src);
    out.extend_from_slice(&p.dst);
    let ip_sum = checksum_fold(checksum_add(0, &out[ip..ip + 20]));
    out[ip + 10..ip + 12].copy_from_slice(&ip_sum.to_be_bytes());

    let tcp = out.len();
    out.extend_from_slice(&p.sport.to_be_bytes());
    out.extend_from_slice(&p.dport.to_be_bytes());
    out.extend_from_slice(&p.seq.to_be_bytes());
    out.extend_from_slice(&p.ack.to_be_bytes());
    out.extend_from_slice(&[(((20 + options) / 4) as u8) << 4, p.flags]);
    out.extend_from_slice(&p.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    if p.syn_options {
        out.extend_from_slice(&[2, 4, 0x05, 0xB4]); // MSS 1460
        out.extend_from_slice(&[1, 1, 4, 2]); // NOP NOP SACK permitted
    }
    if let Some((val, ecr)) = p.ts {
        out.extend_from_slice(&[1, 1, 8, 10]);
        out.extend_from_slice(&val.to_be_bytes());
        out.extend_from_slice(&ecr.to_be_bytes());
    }
    if p.syn_options {
        out.extend_from_slice(&[1, 3, 3, 7]); // NOP, window scale 7
    }
    let mut sum = checksum_add(0, &p.src);
    sum = checksum_add(sum, &p.dst);
    sum = checksum_add(sum, &[0, 6]);
    sum = checksum_add(sum, &tcp_len.to_be_bytes());
    sum = checksum_add(sum, &out[tcp..]);
    let len = usize::from(p.payload_len);
    match p.text {
        Some(text) => {
            sum = checksum_add(sum, text);
            out.extend_from_slice(text);
        }
        None => {
            // The filler's sum in closed form (it starts on a 16-bit boundary).
            sum += (len as u64 / 2) * 0x7878 + if len % 2 == 1 { 0x7800 } else { 0 };
            out.extend_from_slice(&FILLER[..len]);
        }
    }
    out[tcp + 16..tcp + 18].copy_from_slice(&checksum_fold(sum).to_be_bytes());
    if pad_to_60 && out.len() - begin < 60 {
        out.resize(begin + 60, 0); // Ethernet minimum frame without FCS, as a switch delivers it
    }
    out.len() - begin
}

/// Writes a classic pcap file (little-endian, micro- or nanosecond timestamps, Ethernet).
pub fn write(packets: &[Packet], epoch_s: u64, nanosecond: bool, pad_to_60: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + packets.len() * 90);
    let magic: u32 = if nanosecond { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    let mut ip_ids: Vec<([u8; 4], u16)> = Vec::new();
    for p in packets {
        let id = match ip_ids.iter_mut().find(|(ip, _)| *ip == p.src) {
            Some((_, id)) => {
                *id = id.wrapping_add(1);
                *id
            }
            None => {
                let first = u16::from_be_bytes([p.src[2], p.src[3]]).wrapping_mul(31);
                ip_ids.push((p.src, first));
                first
            }
        };
        let secs = epoch_s + p.t / 1_000_000_000;
        let frac = p.t % 1_000_000_000;
        let frac = if nanosecond { frac } else { frac / 1000 };
        out.extend_from_slice(&(secs as u32).to_le_bytes());
        out.extend_from_slice(&(frac as u32).to_le_bytes());
        let lengths = out.len();
        out.extend_from_slice(&[0; 8]);
        let len = (frame(&mut out, p, id, pad_to_60) as u32).to_le_bytes();
        out[lengths..lengths + 4].copy_from_slice(&len);
        out[lengths + 4..lengths + 8].copy_from_slice(&len);
    }
    out
}

/// What the self-test reads back from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload_len: usize,
}

/// Parses one Ethernet frame, checking the IPv4 header checksum and the TCP checksum.
pub fn parse(frame: &[u8]) -> Result<Read, String> {
    let eth = frame.get(..14).ok_or("short Ethernet header")?;
    if eth[12..14] != [0x08, 0x00] {
        return Err("not IPv4".into());
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip.first().ok_or("no IP header")? & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip.len() < total || total < ihl + 20 || ip[9] != 6 {
        return Err(format!("bad IP length {total} or protocol {}", ip[9]));
    }
    if checksum_fold(checksum_add(0, &ip[..ihl])) != 0 {
        return Err("bad IPv4 header checksum".into());
    }
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let tcp = &ip[ihl..total];
    let mut sum = checksum_add(0, &src);
    sum = checksum_add(sum, &dst);
    sum = checksum_add(sum, &[0, 6]);
    sum = checksum_add(sum, &(tcp.len() as u16).to_be_bytes());
    if checksum_fold(checksum_add(sum, tcp)) != 0 {
        return Err("bad TCP checksum".into());
    }
    let offset = usize::from(tcp[12] >> 4) * 4;
    let word = |i: usize| u32::from_be_bytes([tcp[i], tcp[i + 1], tcp[i + 2], tcp[i + 3]]);
    Ok(Read {
        src,
        dst,
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: word(4),
        ack: word(8),
        flags: tcp[13],
        payload_len: tcp.len() - offset,
    })
}
