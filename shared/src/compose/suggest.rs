//! "Did you mean" for unknown keys: the known key with the smallest edit distance, when it is close enough to
//! be a typo rather than a different word.

/// The candidate closest to `word`, if at most a third of its characters (and at least one) differ.
pub(crate) fn closest<'candidate>(word: &str, candidates: impl IntoIterator<Item = &'candidate str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_string())
}

/// Levenshtein distance over characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_char) in left.chars().enumerate() {
        let mut current = Vec::with_capacity(right.len() + 1);
        current.push(row + 1);
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            current.push(substitution.min(previous[column + 1] + 1).min(current[column] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(closest("imgae", ["image", "build"]).as_deref(), Some("image"));
        assert_eq!(closest("enviroment", ["environment", "entrypoint"]).as_deref(), Some("environment"));
        assert_eq!(closest("zzz", ["image", "build"]), None);
    }
}
