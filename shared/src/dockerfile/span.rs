//! Where things are in the source: 1-based lines and columns plus byte offsets.
//!
//! Lines and columns are what an editor shows; byte offsets are what code needs to cut and splice text
//! (fixes are applied with them). Columns count Unicode scalar values, not bytes, so a column under a
//! multi-byte character still points at the character a person sees.

use serde::{Deserialize, Serialize};

/// A point in the source text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// 0-based byte offset into the source.
    pub offset: usize,
}

/// A half-open range of source text: `start` is the first character, `end` is just past the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    pub fn new(start: Position, end: Position) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: if other.start.offset < self.start.offset {
                other.start
            } else {
                self.start
            },
            end: if other.end.offset > self.end.offset {
                other.end
            } else {
                self.end
            },
        }
    }

    /// The byte range this span covers, for slicing the source.
    pub fn byte_range(&self) -> core::ops::Range<usize> {
        self.start.offset..self.end.offset
    }
}

/// Turns byte offsets into [`Position`]s for one source text.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap<'src> {
    source: &'src str,
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl<'src> SourceMap<'src> {
    pub(crate) fn new(source: &'src str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(index, _)| index + 1));
        SourceMap {
            source,
            line_starts,
        }
    }

    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.source.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(index) => index,
            Err(index) => index.saturating_sub(1),
        };
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = self
            .source
            .get(line_start..offset)
            .map(|prefix| prefix.chars().count())
            // An offset inside a multi-byte character cannot come from the parser; count bytes rather than fail.
            .unwrap_or(offset - line_start);
        Position {
            line: line_index + 1,
            column: column + 1,
            offset,
        }
    }

    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.position(start),
            end: self.position(end.max(start)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let map = SourceMap::new("ab\nçd\n");
        assert_eq!(
            map.position(0),
            Position {
                line: 1,
                column: 1,
                offset: 0
            }
        );
        assert_eq!(
            map.position(3),
            Position {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        // 'ç' is two bytes: the 'd' after it is the second character of line 2.
        assert_eq!(
            map.position(5),
            Position {
                line: 2,
                column: 2,
                offset: 5
            }
        );
        assert_eq!(
            map.position(7),
            Position {
                line: 3,
                column: 1,
                offset: 7
            }
        );
        assert_eq!(map.position(100).offset, 7);
    }
}
