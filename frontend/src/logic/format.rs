//! Numbers and times worded for people.

pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn duration_ms(milliseconds: f64) -> String {
    if milliseconds < 1000.0 {
        format!("{:.0} ms", milliseconds.max(0.0))
    } else if milliseconds < 60_000.0 {
        format!("{:.1} s", milliseconds / 1000.0)
    } else {
        format!("{:.0} min {:.0} s", (milliseconds / 60_000.0).floor(), (milliseconds % 60_000.0) / 1000.0)
    }
}

/// "3 minutes ago" for a Unix time in seconds, relative to `now_seconds`.
pub fn ago(unix_seconds: i64, now_seconds: i64) -> String {
    let seconds = (now_seconds - unix_seconds).max(0);
    match seconds {
        0..=59 => "just now".to_string(),
        60..=3599 => plural(seconds / 60, "minute"),
        3600..=86_399 => plural(seconds / 3600, "hour"),
        _ => plural(seconds / 86_400, "day"),
    }
}

fn plural(count: i64, unit: &str) -> String {
    format!("{count} {unit}{} ago", if count == 1 { "" } else { "s" })
}

/// `sha256:0123456789abcdef...` → `0123456789ab`.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn people_units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(duration_ms(1500.0), "1.5 s");
        assert_eq!(ago(0, 7200), "2 hours ago");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
