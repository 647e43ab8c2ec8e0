//! Durations (`1m30s`, Go's syntax, which compose uses for healthcheck timings and stop_grace_period) and byte
//! sizes (`512m`, `1gb`, docker's binary units, used by mem_limit, shm_size and tmpfs sizes).

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ComposeError;

/// A non-negative duration with nanosecond precision, written the way Go's `time.Duration` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    nanos: u64,
}

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
const NANOS_PER_MINUTE: u64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MINUTE;

impl Duration {
    pub const fn from_nanos(nanos: u64) -> Self {
        Duration { nanos }
    }

    pub const fn from_secs(seconds: u64) -> Self {
        Duration { nanos: seconds.saturating_mul(NANOS_PER_SECOND) }
    }

    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    pub const fn to_std(self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.nanos)
    }

    /// Parses Go's duration syntax: `300ms`, `1.5h`, `2h45m`; units ns, us (or µs), ms, s, m, h. A bare `0` is
    /// allowed; other numbers need a unit.
    pub fn parse(text: &str) -> Result<Self, ComposeError> {
        let invalid = || ComposeError::InvalidDuration(text.to_string());
        let trimmed = text.trim();
        if trimmed == "0" {
            return Ok(Duration::default());
        }
        let mut rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let number_len = rest.find(|character: char| !(character.is_ascii_digit() || character == '.'));
            let number_len = number_len.ok_or_else(invalid)?;
            let number = &rest[..number_len];
            rest = &rest[number_len..];
            let unit_len = rest.find(|character: char| character.is_ascii_digit() || character == '.');
            let unit_len = unit_len.unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => NANOS_PER_MICRO.into(),
                "ms" => NANOS_PER_MILLI.into(),
                "s" => NANOS_PER_SECOND.into(),
                "m" => NANOS_PER_MINUTE.into(),
                "h" => NANOS_PER_HOUR.into(),
                _ => return Err(invalid()),
            };
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
                return Err(invalid());
            }
            let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
            let mut part = whole.checked_mul(scale).ok_or_else(invalid)?;
            // Fractions beyond nanosecond precision are dropped, as Go does.
            let mut divisor: u128 = 1;
            for digit in fraction.chars().take(18) {
                divisor *= 10;
                part += u128::from(digit.to_digit(10).ok_or_else(invalid)?) * scale / divisor;
            }
            total = total.checked_add(part).ok_or_else(invalid)?;
        }
        u64::try_from(total).map(Duration::from_nanos).map_err(|_| invalid())
    }
}

impl fmt::Display for Duration {
    /// Go's format: `1h2m3.5s`, `1m30s`, `500ms`, `0s`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.nanos;
        if nanos == 0 {
            return formatter.write_str("0s");
        }
        if nanos < NANOS_PER_SECOND {
            let (unit, scale) = if nanos < NANOS_PER_MICRO {
                ("ns", 1)
            } else if nanos < NANOS_PER_MILLI {
                ("us", NANOS_PER_MICRO)
            } else {
                ("ms", NANOS_PER_MILLI)
            };
            return write!(formatter, "{}{unit}", decimal(nanos / scale, nanos % scale, scale));
        }
        let hours = nanos / NANOS_PER_HOUR;
        let minutes = (nanos % NANOS_PER_HOUR) / NANOS_PER_MINUTE;
        let seconds = nanos % NANOS_PER_MINUTE;
        if hours > 0 {
            write!(formatter, "{hours}h")?;
        }
        if hours > 0 || minutes > 0 {
            write!(formatter, "{minutes}m")?;
        }
        write!(formatter, "{}s", decimal(seconds / NANOS_PER_SECOND, seconds % NANOS_PER_SECOND, NANOS_PER_SECOND))
    }
}

/// `whole.fraction` with the fraction's trailing zeros dropped.
fn decimal(whole: u64, remainder: u64, scale: u64) -> String {
    if remainder == 0 {
        return whole.to_string();
    }
    let digits = scale.ilog10() as usize;
    let fraction = format!("{remainder:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses a byte size the way docker does (go-units `RAMInBytes`): a number, optionally with a fraction, and an
/// optional binary unit b, k, m, g, t or p, optionally followed by `b` or `ib`, in any case.
pub fn parse_byte_size(text: &str) -> Result<u64, ComposeError> {
    let invalid = || ComposeError::InvalidSize(text.to_string());
    let trimmed = text.trim();
    let number_len = trimmed.find(|character: char| !(character.is_ascii_digit() || character == '.'));
    let (number, unit) = trimmed.split_at(number_len.unwrap_or(trimmed.len()));
    if number.is_empty() {
        return Err(invalid());
    }
    let unit = unit.trim().to_ascii_lowercase();
    let letter =
        if unit == "b" { "" } else { unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit) };
    let multiplier: u64 = match letter {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(invalid()),
    };
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_go_syntax() {
        assert_eq!(Duration::parse("1m30s").expect("valid"), Duration::from_secs(90));
        assert_eq!(Duration::parse("1.5s").expect("valid").as_nanos(), 1_500_000_000);
        assert_eq!(Duration::parse("500ms").expect("valid").as_nanos(), 500_000_000);
        assert_eq!(Duration::parse("2h45m").expect("valid"), Duration::from_secs(2 * 3600 + 45 * 60));
        assert_eq!(Duration::parse("0").expect("valid"), Duration::default());
        for bad in ["", "10", "1x", "-1s", "s", "1..2s", "99999999999999999999h"] {
            assert!(Duration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        for (nanos, text) in [
            (0, "0s"),
            (90 * NANOS_PER_SECOND, "1m30s"),
            (NANOS_PER_HOUR + 3_500_000_000, "1h0m3.5s"),
            (500 * NANOS_PER_MILLI, "500ms"),
            (1_500, "1.5us"),
            (7, "7ns"),
            (10 * NANOS_PER_SECOND, "10s"),
        ] {
            let duration = Duration::from_nanos(nanos);
            assert_eq!(duration.to_string(), text);
            assert_eq!(Duration::parse(text).expect("round trip"), duration);
        }
    }

    #[test]
    fn byte_sizes_use_binary_units() {
        assert_eq!(parse_byte_size("512m").expect("valid"), 512 << 20);
        assert_eq!(parse_byte_size("1gb").expect("valid"), 1 << 30);
        assert_eq!(parse_byte_size("1GiB").expect("valid"), 1 << 30);
        assert_eq!(parse_byte_size("1.5k").expect("valid"), 1536);
        assert_eq!(parse_byte_size("1024").expect("valid"), 1024);
        assert_eq!(parse_byte_size("64b").expect("valid"), 64);
        for bad in ["", "m", "12q", "1.2.3m", "-1m"] {
            assert!(parse_byte_size(bad).is_err(), "{bad:?}");
        }
    }
}
