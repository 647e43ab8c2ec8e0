//! What a layer is called in the layers view: the Dockerfile line that made it when the playground's Dockerfile
//! has that instruction on that line, else the history's instruction with Docker's content hashes (`COPY
//! dir:3f2a… in /app`) worded for people (`COPY a folder to /app`).

/// `instruction` as the daemon reports it; `line` the 1-based Dockerfile line, when known; `dockerfile` the text
/// of the playground's Dockerfile.
pub fn layer_title(instruction: &str, line: Option<usize>, dockerfile: Option<&str>) -> String {
    let keyword = instruction.split_whitespace().next().unwrap_or_default();
    let written = line.zip(dockerfile).and_then(|(line, text)| text.lines().nth(line.checked_sub(1)?));
    match written.map(str::trim) {
        Some(text) if !keyword.is_empty() && first_word_is(text, keyword) => text.to_string(),
        _ => without_hashes(instruction),
    }
}

fn first_word_is(text: &str, keyword: &str) -> bool {
    text.split_whitespace().next().is_some_and(|first| first.eq_ignore_ascii_case(keyword))
}

/// `COPY --chown=1:1 file:ab12… in /x` → `COPY --chown=1:1 a file to /x`; other instructions unchanged.
fn without_hashes(instruction: &str) -> String {
    let words: Vec<&str> = instruction.split_whitespace().collect();
    let Some(hashed) = words.iter().position(|word| word.starts_with("file:") || word.starts_with("dir:")) else {
        return instruction.trim().to_string();
    };
    let what = if words[hashed].starts_with("dir:") { "a folder" } else { "a file" };
    let mut title: Vec<&str> = words[..hashed].to_vec();
    title.push(what);
    match words.get(hashed + 1..) {
        Some(["in", destination @ ..]) if !destination.is_empty() => {
            title.push("to");
            title.extend(destination);
        }
        Some(rest) => title.extend(rest),
        None => {}
    }
    title.join(" ")
}

/// "1 file", "3 files".
pub fn count_of_files(count: usize) -> String {
    format!("{count} file{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn the_dockerfile_line_names_the_layer_when_it_matches() {
        let dockerfile = "FROM busybox\nCOPY site/ /www/\nRUN echo hi\n";
        let instruction = "COPY dir:3f2a9c in /www/";
        assert_eq!(layer_title(instruction, Some(2), Some(dockerfile)), "COPY site/ /www/");
        // The Dockerfile changed since the build: its line 2 is no COPY any more.
        assert_eq!(layer_title(instruction, Some(3), Some(dockerfile)), "COPY a folder to /www/");
        assert_eq!(layer_title("COPY --chown=1:1 file:ab12 in /x", None, None), "COPY --chown=1:1 a file to /x");
        assert_eq!(layer_title("RUN echo hi", Some(3), Some(dockerfile)), "RUN echo hi");
        assert_eq!(layer_title("RUN echo hi", Some(40), Some(dockerfile)), "RUN echo hi");
        assert_eq!(count_of_files(1), "1 file");
        assert_eq!(count_of_files(0), "0 files");
    }
}
