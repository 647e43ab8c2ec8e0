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

/// Edit distance counting a swap of two neighbouring characters as one edit (optimal string alignment), since
/// `imgae` for `image` is the typo people make.
fn edit_distance(left: &str, right: &str) -> usize {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    let width = right.len() + 1;
    let mut table = vec![0usize; (left.len() + 1) * width];
    for row in 0..=left.len() {
        for column in 0..=right.len() {
            let cell = if row == 0 {
                column
            } else if column == 0 {
                row
            } else {
                let cost = usize::from(left[row - 1] != right[column - 1]);
                let mut best = (table[(row - 1) * width + column] + 1)
                    .min(table[row * width + column - 1] + 1)
                    .min(table[(row - 1) * width + column - 1] + cost);
                if row > 1 && column > 1 && left[row - 1] == right[column - 2] && left[row - 2] == right[column - 1] {
                    best = best.min(table[(row - 2) * width + column - 2] + 1);
                }
                best
            };
            table[row * width + column] = cell;
        }
    }
    table[left.len() * width + right.len()]
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
