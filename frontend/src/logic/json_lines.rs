//! Splits a streamed body of newline-separated JSON values into values as the chunks arrive: Docker's build
//! stream and `stats?stream=1` send one object per line, and a chunk may end in the middle of one.

use serde::de::DeserializeOwned;

#[derive(Debug, Default)]
pub struct JsonLines {
    pending: Vec<u8>,
}

impl JsonLines {
    /// Feeds a chunk; returns every complete value in it, in order. A line that is not the expected JSON becomes
    /// an `Err` with the line, so the caller can show it instead of losing it.
    pub fn push<T: DeserializeOwned>(&mut self, chunk: &[u8]) -> Vec<Result<T, String>> {
        self.pending.extend_from_slice(chunk);
        let mut values = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            if let Some(value) = decode(&line) {
                values.push(value);
            }
        }
        values
    }

    /// The value left at the end of the stream without a newline, if any.
    pub fn finish<T: DeserializeOwned>(&mut self) -> Option<Result<T, String>> {
        let rest = std::mem::take(&mut self.pending);
        decode(&rest)
    }
}

fn decode<T: DeserializeOwned>(line: &[u8]) -> Option<Result<T, String>> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(serde_json::from_str(text).map_err(|_| text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn values_split_across_chunks() {
        let mut lines = JsonLines::default();
        let first: Vec<Result<serde_json::Value, String>> = lines.push(b"{\"a\":1}\r\n{\"b\"");
        assert_eq!(first, vec![Ok(serde_json::json!({"a": 1}))]);
        let second: Vec<Result<serde_json::Value, String>> = lines.push(b":2}\nnot json\n");
        assert_eq!(second, vec![Ok(serde_json::json!({"b": 2})), Err("not json".to_string())]);
        assert_eq!(lines.push::<serde_json::Value>(b"{\"c\":3}"), vec![]);
        assert_eq!(lines.finish::<serde_json::Value>(), Some(Ok(serde_json::json!({"c": 3}))));
    }
}
