//! pcapng interfaces: what an Interface Description Block declares (link type, snap length,
//! time resolution and offset) and what an Interface Statistics Block adds (drops, and the
//! span the capture declares). Interface ids restart with every section (pcapng 4.1).

use super::fields::{digits_of, options, split_ts, time_options, ts_from_units, units_of};
use crate::capture::frame::{u16_at, u32_at, u64_at};
use crate::capture::info::{Damage, FileInfo};

/// Interfaces one section may describe (a budget: 40 bytes each).
const MAX_INTERFACES: usize = 1 << 18;

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub linktype: u32,
    /// Timestamp units per second; 0 when `if_tsresol` is out of range (the interface's
    /// packets cannot be placed in time and are skipped).
    pub units: u64,
    pub offset_secs: i64,
    pub snaplen: u32,
    /// The interface's latest `isb_ifdrop` (a running total).
    dropped: u64,
}

/// An Interface Description Block: link type, snap length, time resolution and offset.
pub(super) fn idb(
    interfaces: &mut Vec<Interface>,
    be: bool,
    info: &mut FileInfo,
    at: u64,
    body: &[u8],
) {
    let (tsresol, offset_secs) = time_options(body, be);
    let snaplen = u32_at(body, 4, be);
    let id = interfaces.len();
    let units = match units_of(tsresol) {
        Some(units) => {
            info.digits = info.digits.max(digits_of(tsresol));
            units
        }
        None => {
            info.add_damage(Damage {
                frame: info.frames + 1,
                offset: at,
                skipped: 0,
                resumed: true,
                why: format!(
                    "interface {id} has if_tsresol {tsresol:#04x}, which is out of range; its packets are skipped"
                ),
            });
            0
        }
    };
    if id >= MAX_INTERFACES {
        info.add_damage(Damage {
            frame: info.frames + 1,
            offset: at,
            skipped: 0,
            resumed: true,
            why: format!("the section describes more than {MAX_INTERFACES} interfaces"),
        });
        return;
    }
    if snaplen > 0 {
        info.snaplen = match info.snaplen {
            0 => snaplen,
            s => s.min(snaplen),
        };
    }
    interfaces.push(Interface {
        linktype: u32::from(u16_at(body, 0, be)),
        units,
        offset_secs,
        snaplen,
        dropped: 0,
    });
}

/// Interface statistics: `isb_ifdrop` (5), a running total per interface, and the span
/// `isb_starttime` (2) to `isb_endtime` (3), in the interface's time units.
pub(super) fn isb(interfaces: &mut [Interface], be: bool, info: &mut FileInfo, body: &[u8]) {
    let Some(iface) = interfaces.get_mut(u32_at(body, 0, be) as usize) else {
        return;
    };
    for (code, value) in options(body, 12, be) {
        match code {
            2 | 3 if value.len() >= 8 && iface.units > 0 => {
                let ts = ts_from_units(split_ts(value, 0, be), iface.units, iface.offset_secs);
                if code == 2 {
                    info.declared_start = Some(info.declared_start.map_or(ts, |t| t.min(ts)));
                } else {
                    info.declared_end = Some(info.declared_end.map_or(ts, |t| t.max(ts)));
                }
            }
            5 if value.len() >= 8 => {
                let dropped = u64_at(value, 0, be);
                info.dropped = info
                    .dropped
                    .saturating_add(dropped.saturating_sub(iface.dropped));
                iface.dropped = iface.dropped.max(dropped);
            }
            _ => {}
        }
    }
}
