//! pcapng block fields read in place: options (only those used, no list is built), the
//! interface's timestamp resolution and offset, and timestamps in interface units.

use crate::capture::frame::{u16_at, u32_at, u64_at};
use crate::time::Ts;

/// The options of a block body starting at `at`: (code, value) until `opt_endofopt` or the
/// end of the body (an option running past it ends them, as in Wireshark).
pub(crate) fn options(
    body: &[u8],
    at: usize,
    big_endian: bool,
) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = at;
    std::iter::from_fn(move || {
        let code = u16_at(body, at, big_endian);
        let len = usize::from(u16_at(body, at + 2, big_endian));
        if at + 4 > body.len() || code == 0 {
            return None;
        }
        let value = body.get(at + 4..at + 4 + len)?;
        at += 4 + len.div_ceil(4) * 4;
        Some((code, value))
    })
}

/// `if_tsresol` (default 6) and `if_tsoffset` (default 0) among an IDB's options.
pub(crate) fn time_options(body: &[u8], big_endian: bool) -> (u8, i64) {
    let (mut tsresol, mut offset) = (6u8, 0i64);
    for (code, value) in options(body, 8, big_endian) {
        match code {
            9 if !value.is_empty() => tsresol = value[0],
            14 if value.len() >= 8 => offset = u64_at(value, 0, big_endian) as i64,
            _ => {}
        }
    }
    (tsresol, offset)
}

/// A 64-bit timestamp stored as two 32-bit words, high first, in the section's order.
pub(crate) fn split_ts(value: &[u8], at: usize, big_endian: bool) -> u64 {
    (u64::from(u32_at(value, at, big_endian)) << 32) | u64::from(u32_at(value, at + 4, big_endian))
}

/// Timestamp units per second for an `if_tsresol` value.
pub(crate) fn units_of(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))
    } else {
        1u64.checked_shl(u32::from(tsresol & 0x7f))
            .filter(|u| *u > 0 && tsresol & 0x7f < 64)
    }
}

/// Fraction digits that a pcapng `if_tsresol` gives (power of 10, or power of 2 with the high bit).
pub(crate) fn digits_of(tsresol: u8) -> u8 {
    if tsresol & 0x80 == 0 {
        tsresol.min(9)
    } else {
        // 2^-k seconds needs ceil(k * log10 2) decimal digits.
        let k = u32::from(tsresol & 0x7f);
        ((k * 30103).div_ceil(100_000) as u8).min(9)
    }
}

/// A pcapng timestamp in interface units to nanoseconds since the epoch.
#[inline]
pub(crate) fn ts_from_units(raw: u64, units: u64, offset_secs: i64) -> Ts {
    if units == 1_000_000 {
        // Microseconds, by far the most common: no 128-bit division.
        let secs = (raw / 1_000_000) as i64;
        let frac = (raw % 1_000_000) as i64 * 1000;
        return Ts::from_parts(secs.saturating_add(offset_secs), frac);
    }
    let units = units.max(1);
    let secs = (raw / units) as i64;
    let frac = u128::from(raw % units) * 1_000_000_000 / u128::from(units);
    Ts::from_parts(secs.saturating_add(offset_secs), frac as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_digits() {
        assert_eq!(digits_of(6), 6);
        assert_eq!(digits_of(9), 9);
        assert_eq!(digits_of(12), 9);
        assert_eq!(digits_of(0x94), 7); // 2^-20 s = 0.95 µs
        assert_eq!(digits_of(0x80), 0);
        assert_eq!(digits_of(0), 0); // whole seconds
    }

    #[test]
    fn tsresol_units() {
        assert_eq!(units_of(6), Some(1_000_000));
        assert_eq!(units_of(9), Some(1_000_000_000));
        assert_eq!(units_of(0x94), Some(1 << 20));
        assert_eq!(units_of(20), None);
        assert_eq!(units_of(0xc0), None);
    }

    #[test]
    fn pcapng_units_and_offset() {
        assert_eq!(
            ts_from_units(3_500_000, 1_000_000, 0),
            Ts::from_parts(3, 500_000_000)
        );
        assert_eq!(
            ts_from_units(5_000_000_123, 1_000_000_000, 1_000_000_000),
            Ts::from_parts(1_000_000_005, 123)
        );
        assert_eq!(
            ts_from_units(3 << 20 | 1 << 19, 1 << 20, 0),
            Ts::from_parts(3, 500_000_000)
        );
        assert_eq!(
            ts_from_units(u64::MAX, 1_000_000, 0),
            ts_from_units(u64::MAX, 1_000_000, 0)
        );
    }

    #[test]
    fn options_stop_at_the_end_marker_and_at_the_body_end() {
        // code 9 len 1 (padded), code 14 len 8, end of options, then a stray option.
        let mut body = vec![0u8; 8];
        body.extend([9, 0, 1, 0, 0x09, 0, 0, 0]);
        body.extend([14, 0, 8, 0]);
        body.extend(5i64.to_le_bytes());
        body.extend([0, 0, 0, 0, 9, 0, 1, 0, 3, 0, 0, 0]);
        assert_eq!(time_options(&body, false), (9, 5));
        let got: Vec<u16> = options(&body, 8, false).map(|(c, _)| c).collect();
        assert_eq!(got, [9, 14]);
        // An option longer than the body ends the options.
        let body = [0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0, 1];
        assert_eq!(options(&body, 8, false).count(), 0);
    }
}
