//! Go's `time.ParseDuration`, the grammar of Docker's durations: HEALTHCHECK's flags in a Dockerfile, and the
//! docker CLI's relative `--since`/`--until` (which `GET /events` also takes as typed).

/// Go's `time.ParseDuration` in signed nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a plain `0`; units ns,
/// us (µs, μs), ms, s, m, h. None for anything else, or past u64::MAX nanoseconds either way.
pub fn parse_nanos(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest.find(|character: char| !(character.is_ascii_digit() || character == '.'))?;
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end =
            rest.find(|character: char| character.is_ascii_digit() || character == '.').unwrap_or(rest.len());
        let unit_nanos = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total_nanos += value * unit_nanos;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return None;
    }
    let total = total_nanos as u64 as i128;
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_nanos("30s"), Some(30_000_000_000));
        assert_eq!(parse_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_nanos("300ms"), Some(300_000_000));
        assert_eq!(parse_nanos("0"), Some(0));
        assert_eq!(parse_nanos("-1m"), Some(-60_000_000_000));
        assert_eq!(parse_nanos("-0s"), Some(0));
        for bad in ["10", "s", "", "-", "1.2.3s", "5d", "1e3s"] {
            assert_eq!(parse_nanos(bad), None, "{bad:?}");
        }
    }
}
