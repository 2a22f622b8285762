//! pcapng packet blocks: Enhanced, Simple and the obsolete Packet Block, read in place. An
//! Enhanced Packet Block's options are not even looked at (none is used), so nothing is
//! built per packet.

use super::fields::{split_ts, ts_from_units};
use super::interface::Interface;
use super::{Bad, NgReader};
use crate::capture::frame::{Record, u16_at, u32_at};
use crate::capture::recover::MAX_RECORD;

impl NgReader {
    /// An Enhanced Packet Block's frame: interface id, timestamp (high, low), captured and
    /// original length, data. The options after the data are not read.
    #[inline]
    pub(super) fn epb<'a>(&self, body: &'a [u8]) -> Result<Record<'a>, Bad> {
        let be = self.big_endian;
        let caplen = u32_at(body, 12, be);
        let data = packet_data(body, 20, caplen).map_err(Bad::Damage)?;
        let iface = self.interface(u32_at(body, 0, be))?;
        Ok(Record {
            ts: ts_from_units(split_ts(body, 4, be), iface.units, iface.offset_secs),
            linktype: iface.linktype,
            data,
            orig_len: u32_at(body, 16, be),
        })
    }

    /// A Simple Packet Block's frame: original length, data (cut to the block, the original
    /// length and interface 0's snap length). It has no timestamp: it gets the time of the
    /// frame before.
    pub(super) fn spb<'a>(&self, body: &'a [u8]) -> Result<Record<'a>, Bad> {
        let iface = self.interface(0)?;
        let orig_len = u32_at(body, 0, self.big_endian);
        let data = body.get(4..).unwrap_or_default();
        let mut keep = data.len().min(orig_len as usize);
        if iface.snaplen > 0 {
            keep = keep.min(iface.snaplen as usize);
        }
        Ok(Record {
            ts: self.prev_ts,
            linktype: iface.linktype,
            data: &data[..keep],
            orig_len,
        })
    }

    /// The obsolete Packet Block (type 2): interface id (u16), drops (u16), timestamp
    /// high/low, captured and original length, data.
    pub(super) fn packet_block<'a>(&self, body: &'a [u8]) -> Result<Record<'a>, Bad> {
        let be = self.big_endian;
        let data = packet_data(body, 20, u32_at(body, 12, be)).map_err(Bad::Damage)?;
        let iface = self.interface(u32::from(u16_at(body, 0, be)))?;
        Ok(Record {
            ts: ts_from_units(split_ts(body, 4, be), iface.units, iface.offset_secs),
            linktype: iface.linktype,
            data,
            orig_len: u32_at(body, 16, be),
        })
    }

    /// The interface a packet names, if the section describes it and its times can be read.
    #[inline]
    pub(super) fn interface(&self, id: u32) -> Result<Interface, Bad> {
        match self.interfaces.get(id as usize) {
            Some(iface) if iface.units > 0 => Ok(*iface),
            Some(_) => Err(Bad::Unusable),
            None => Err(Bad::Damage(self.no_interface(id))),
        }
    }

    fn no_interface(&self, id: u32) -> String {
        let described = match self.interfaces.len() {
            0 => "no interfaces".to_string(),
            1 => "only interface 0".to_string(),
            n => format!("interfaces 0\u{2013}{}", n - 1),
        };
        format!("the packet block names interface {id}, but the section describes {described}")
    }
}

/// `caplen` bytes of packet data at `at` of a block body, if the body holds them.
#[inline]
pub(super) fn packet_data(body: &[u8], at: usize, caplen: u32) -> Result<&[u8], String> {
    if caplen > MAX_RECORD {
        return Err(format!(
            "the packet claims {caplen} bytes (at most {MAX_RECORD} are possible)"
        ));
    }
    body.get(at..at + caplen as usize).ok_or_else(|| {
        format!(
            "the packet claims {caplen} bytes, more than its block of {} holds",
            body.len() + 12
        )
    })
}
