//! `since` and `until` of `GET /events`. The docker CLI sends Unix seconds with an optional fraction
//! (`1700000000.123456789`, made by its `GetTimestamp` from whatever the user typed); dockerd parses only that.
//! Berth also takes what the CLI takes, so curl users and other clients can send them as typed: RFC3339 times
//! (`2024-01-02T03:04:05Z`, `...+02:00`, with a fraction, or without a zone: then UTC, the daemon's zone) and
//! Go durations back from now (`10m`, `1h30m`, `1.5h`, `300ms`; `0` stays Unix time 0, as in the CLI).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventTimeError {
    /// The docker CLI's words for the same input.
    #[error("failed to parse value as time or duration: {0:?}")]
    Invalid(String),
}

/// The time `value` names, in Unix nanoseconds; None when it is empty (not given).
pub fn parse(value: &str, now: DateTime<Utc>) -> Result<Option<i64>, EventTimeError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let invalid = || EventTimeError::Invalid(value.to_string());
    if let Some(nanos) = unix_seconds(value) {
        return nanos.map(Some).ok_or_else(invalid);
    }
    if let Some(duration) = go_duration(value) {
        let now = now.timestamp_nanos_opt().ok_or_else(invalid)?;
        return now.checked_sub(duration).map(Some).ok_or_else(invalid);
    }
    rfc3339(value).and_then(|t| t.timestamp_nanos_opt()).map(Some).ok_or_else(invalid)
}

/// `seconds[.fraction]`: None when it is not of that shape; Some(None) when it is but does not fit in i64 nanos.
fn unix_seconds(value: &str) -> Option<Option<i64>> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = seconds.strip_prefix('-').unwrap_or(seconds);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let Ok(seconds) = seconds.parse::<i64>() else { return Some(None) };
    // Nanoseconds are the first nine digits of the fraction; more are below what anything records.
    let padded: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = padded.parse().ok()?;
    let nanos = if seconds < 0 || value.starts_with('-') { -nanos } else { nanos };
    Some(seconds.checked_mul(1_000_000_000).and_then(|s| s.checked_add(nanos)))
}

/// A Go duration (berth-shared's parser), as i64 nanoseconds.
fn go_duration(value: &str) -> Option<i64> {
    berth_shared::go_duration::parse_nanos(value).and_then(|nanos| i64::try_from(nanos).ok())
}

fn rfc3339(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(value, format) {
            return Some(time.and_utc());
        }
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn at(value: &str) -> Option<i64> {
        parse(value, now()).unwrap()
    }

    #[test]
    fn unix_seconds_with_a_fraction() {
        assert_eq!(at("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(at("1700000000.123456789"), Some(1_700_000_000_123_456_789));
        assert_eq!(at("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(at("1700000000.1234567891"), Some(1_700_000_000_123_456_789));
        assert_eq!(at("0"), Some(0));
        assert_eq!(at(""), None);
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(at("2023-11-14T22:13:20Z"), Some(1_700_000_000_000_000_000));
        assert_eq!(at("2023-11-15T00:13:20+02:00"), Some(1_700_000_000_000_000_000));
        assert_eq!(at("2023-11-14T22:13:20.25Z"), Some(1_700_000_000_250_000_000));
        assert_eq!(at("2023-11-14T22:13:20"), Some(1_700_000_000_000_000_000));
        assert_eq!(at("2023-11-14"), Some(1_699_920_000_000_000_000));
    }

    #[test]
    fn durations_back_from_now() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(at("10m"), Some(now - 600_000_000_000));
        assert_eq!(at("1h30m"), Some(now - 5_400_000_000_000));
        assert_eq!(at("1.5h"), Some(now - 5_400_000_000_000));
        assert_eq!(at("300ms"), Some(now - 300_000_000));
        assert_eq!(at("0s"), Some(now));
        assert_eq!(at("-1m"), Some(now + 60_000_000_000));
    }

    #[test]
    fn anything_else_is_refused_in_the_clis_words() {
        for bad in ["abc", "10x", "1h30", "2023-13-01", "1.2.3", "m", "-"] {
            assert_eq!(parse(bad, now()), Err(EventTimeError::Invalid(bad.into())), "{bad}");
        }
        assert_eq!(parse("abc", now()).unwrap_err().to_string(), r#"failed to parse value as time or duration: "abc""#);
    }
}
