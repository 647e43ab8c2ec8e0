//! Dockerfiles: parse them as Docker does, expand their variables, print them back, lint them.
//!
//! - [`span`]: source positions (1-based lines and columns, byte offsets).
//! - [`ast`]: the syntax tree, one typed node per instruction.
//! - `lexer`: directives, comments, continuation lines and heredoc bodies into logical lines.
//! - `words`: buildkit's ways of splitting a line into flags, words and JSON arrays.
//! - [`parser`]: logical lines into instructions, with Docker's error messages ([`error`]).
//! - [`substitution`]: `$VAR` / `${VAR:-default}` expansion as a pure function.
//! - [`expand`]: which words of which instruction Docker expands, applied to an [`Instruction`].
//! - [`print`](mod@print): the syntax tree back to Dockerfile text.
//! - [`image_ref`]: splitting `registry/name:tag@digest`.
//! - [`lint`]: rules over the syntax tree, with fixes an editor can apply.
//!
//! Where Berth deliberately differs from buildkit (each makes the editor more useful, none accepts a file
//! Docker would build differently):
//! - Unknown `--flags` are kept in the tree instead of failing the parse; lint rule BL025 reports them as errors.
//! - ONBUILD triggers are parsed as instructions now, not stored as text and checked when they fire.
//! - A lone escape character ending an instruction's arguments (only `\ ` before a final continuation leaves
//!   one) is dropped: Docker's word splitters skip it too, and it could not be printed back.
//! - `# escape=`/`# syntax=` lines are recorded as directives, not also as comments of the first instruction.
//! - Errors are reported per instruction by [`parse_recovering`]; [`parse`] returns the one Docker would.

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
