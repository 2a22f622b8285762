//! Capture timestamps (nanoseconds since the Unix epoch) and the durations the CLI accepts.

use std::fmt;

/// A capture timestamp in nanoseconds since 1970-01-01T00:00:00Z.
///
/// i64 nanoseconds cover the years 1678..2262, which holds every real capture. Resolutions
/// finer than a nanosecond (pcapng `if_tsresol` > 9) are truncated to the nanosecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Ts {
    pub fn from_parts(secs: i64, nanos: i64) -> Ts {
        Ts(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
    }

    /// `self - earlier` in nanoseconds (negative when the capture goes back in time).
    pub fn since(self, earlier: Ts) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn add_nanos(self, nanos: i64) -> Ts {
        Ts(self.0.saturating_add(nanos))
    }

    /// RFC 3339 in UTC with `digits` fractional digits (0..=9), e.g. `2005-05-16T09:30:01.250000Z`.
    pub fn rfc3339(self, digits: u8) -> Rfc3339 {
        Rfc3339 {
            ts: self,
            digits: digits.min(9),
        }
    }
}

/// Display adapter returned by [`Ts::rfc3339`].
pub struct Rfc3339 {
    ts: Ts,
    digits: u8,
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.ts.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.ts.0.rem_euclid(NANOS_PER_SEC);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )?;
        if self.digits > 0 {
            let scaled = nanos / 10i64.pow(9 - u32::from(self.digits));
            write!(f, ".{scaled:0width$}", width = usize::from(self.digits))?;
        }
        f.write_str("Z")
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Nanoseconds as seconds with up to `digits` decimals, trailing zeros kept (for tables).
pub fn secs(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_SEC as f64
}

/// Parses a duration such as `240`, `240s`, `4m`, `1200ms`, `1.5s`, `2h` into nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (examples: 240s, 4m, 1200ms)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1e9,
        "ms" => 1e6,
        "us" | "µs" => 1e3,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}' (use ms, s, m or h)"
            ));
        }
    };
    let nanos = value * scale;
    if !nanos.is_finite() || nanos <= 0.0 || nanos > 1e18 {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(nanos.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_keeps_capture_precision() {
        let ts = Ts::from_parts(1_116_235_801, 250_000_000);
        assert_eq!(ts.rfc3339(6).to_string(), "2005-05-16T09:30:01.250000Z");
        assert_eq!(ts.rfc3339(9).to_string(), "2005-05-16T09:30:01.250000000Z");
        assert_eq!(ts.rfc3339(0).to_string(), "2005-05-16T09:30:01Z");
        assert_eq!(Ts(0).rfc3339(3).to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn rfc3339_before_epoch_and_leap_day() {
        assert_eq!(
            Ts(-1).rfc3339(9).to_string(),
            "1969-12-31T23:59:59.999999999Z"
        );
        let leap = Ts::from_parts(951_782_400, 0); // 2000-02-29
        assert_eq!(leap.rfc3339(0).to_string(), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn durations_accept_the_documented_units() {
        assert_eq!(parse_duration("240"), Ok(240 * NANOS_PER_SEC));
        assert_eq!(parse_duration("60s"), Ok(60 * NANOS_PER_SEC));
        assert_eq!(parse_duration("4m"), Ok(240 * NANOS_PER_SEC));
        assert_eq!(parse_duration("1200ms"), Ok(1_200_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert!(parse_duration("4 parsecs").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("").is_err());
    }
}
