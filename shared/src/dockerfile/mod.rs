//! Dockerfiles: parse them as Docker does, expand their variables, print them back, lint them.
//!
//! - [`span`]: source positions (1-based lines and columns, byte offsets).
//! - [`ast`]: the syntax tree, one typed node per instruction.
//! - `lexer`: directives, comments, continuation lines and heredoc bodies into logical lines.
//! - `words`: buildkit's ways of splitting a line into flags, words and JSON arrays.
//! - [`parser`]: logical lines into instructions, with Docker's error messages ([`error`]).
//! - [`substitution`]: `$VAR` / `${VAR:-default}` expansion as a pure function.
//! - [`expand`]: which words of which instruction Docker expands, applied to an [`Instruction`].
//! - [`print`]: the syntax tree back to Dockerfile text.
//! - [`image_ref`]: splitting `registry/name:tag@digest`.
//! - [`lint`]: rules over the syntax tree, with fixes an editor can apply.

pub mod ast;
pub mod error;
pub mod expand;
pub mod image_ref;
mod lexer;
pub mod lint;
pub mod parser;
pub mod print;
pub mod span;
pub mod substitution;
mod words;

pub use ast::*;
pub use error::{ExpandError, ParseError, ParseErrorKind, SubstitutionError};
pub use parser::{parse, parse_recovering};
pub use print::print;
pub use span::{Position, Span};
pub use substitution::{substitute, substitute_with_escape, variables_used};

#[cfg(test)]
mod tests;
