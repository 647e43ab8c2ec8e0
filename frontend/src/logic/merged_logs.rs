//! The logs of a compose project's containers merged into one list by time, each line prefixed with its service,
//! as `docker compose logs` shows them. Input lines carry Docker's timestamp prefix (`timestamps=1`):
//! RFC 3339 with up to nine fraction digits, trailing zeros trimmed, so they are compared as (seconds, nanos)
//! rather than as text.

use super::log_frames::{LogLine, LogStream};

#[derive(Debug, Clone, PartialEq)]
pub struct MergedLine {
    pub service: String,
    /// The timestamp as the daemon wrote it (empty when the line had none).
    pub timestamp: String,
    pub text: String,
    pub stream: LogStream,
}

/// `2024-05-01T10:00:00.5Z hello` -> (sort key, timestamp, text). A line without a timestamp sorts first.
fn split_timestamp(line: &str) -> ((String, u32), &str, &str) {
    let Some((stamp, text)) = line.split_once(' ') else { return ((String::new(), 0), "", line) };
    if stamp.len() < 20 || !stamp.as_bytes()[0].is_ascii_digit() || !stamp.contains('T') {
        return ((String::new(), 0), "", line);
    }
    let (seconds, fraction) = match stamp.split_once('.') {
        Some((seconds, rest)) => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (seconds.to_string(), format!("{digits:0<9}").parse::<u32>().unwrap_or(0))
        }
        None => (stamp.trim_end_matches('Z').to_string(), 0),
    };
    ((seconds, fraction), stamp, text)
}

/// Merges each container's lines (already in order) by time; lines with equal times keep the input order.
pub fn merge(per_container: Vec<(String, Vec<LogLine>)>) -> Vec<MergedLine> {
    let mut keyed: Vec<((String, u32), usize, MergedLine)> = Vec::new();
    for (service, lines) in per_container {
        for line in lines {
            let (key, stamp, text) = split_timestamp(&line.text);
            let merged = MergedLine {
                service: service.clone(),
                timestamp: stamp.to_string(),
                text: text.to_string(),
                stream: line.stream,
            };
            keyed.push((key, keyed.len(), merged));
        }
    }
    keyed.sort_by(|left, right| (&left.0, left.1).cmp(&(&right.0, right.1)));
    keyed.into_iter().map(|(_, _, line)| line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn line(text: &str) -> LogLine {
        LogLine { stream: LogStream::Stdout, text: text.to_string() }
    }

    #[wasm_bindgen_test]
    fn lines_interleave_by_time_not_by_text() {
        let web = vec![line("2024-05-01T10:00:00.1Z web starts"), line("2024-05-01T10:00:02Z web ready")];
        // ".12" is later than ".1" although it sorts before it as text.
        let worker = vec![line("2024-05-01T10:00:00.12Z worker starts"), line("2024-05-01T10:00:01.999999999Z got it")];
        let merged = merge(vec![("web".into(), web), ("worker".into(), worker)]);
        let texts: Vec<(&str, &str)> = merged.iter().map(|l| (l.service.as_str(), l.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![("web", "web starts"), ("worker", "worker starts"), ("worker", "got it"), ("web", "web ready")]
        );
        assert_eq!(merged[0].timestamp, "2024-05-01T10:00:00.1Z");
    }

    #[wasm_bindgen_test]
    fn a_line_without_timestamp_is_kept() {
        let merged = merge(vec![("web".into(), vec![line("plain"), line("2024-05-01T10:00:00Z x")])]);
        assert_eq!(merged[0].text, "plain");
        assert_eq!(merged[1].text, "x");
    }
}
