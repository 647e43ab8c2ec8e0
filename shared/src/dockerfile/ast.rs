//! The Dockerfile syntax tree: one [`Instruction`] per Docker instruction, each with its source [`Span`].
//!
//! Words are kept *raw*: quotes, escapes and `$VARIABLES` exactly as written, because whether and how they are
//! processed depends on the instruction and on the build (see [`Instruction::expand`]). `flags` on an
//! [`Instruction`] are the source of truth for printing; the typed flag fields inside commands (for example
//! [`CopyCommand::from`]) are derived from them by the parser.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::span::{Position, Span};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dockerfile {
    /// Parser directives (`# syntax=`, `# escape=`, `# check=`) from the top of the file, in order.
    pub directives: Vec<Directive>,
    /// The escape character: `\` unless `# escape=`` ` chose the backtick.
    pub escape: char,
    pub instructions: Vec<Instruction>,
    /// Things Docker accepts but warns about (empty continuation lines).
    pub warnings: Vec<ParseWarning>,
}

/// `# name=value` at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    /// Lower-cased: `escape`, `syntax` or `check`.
    pub name: String,
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseWarning {
    pub line: usize,
    pub message: String,
    pub span: Span,
}

/// One instruction, from its keyword to the end of its last continuation line or heredoc terminator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruction {
    pub span: Span,
    pub keyword_span: Span,
    /// Comment lines directly above the instruction, without the `#`, trimmed.
    pub comments: Vec<String>,
    /// `--name[=value]` flags in the order written, unknown ones included (the linter reports those).
    pub flags: Vec<Flag>,
    pub command: Command,
}

/// `--name=value` (or bare `--name`), with quotes and escapes already removed from the value as Docker does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub span: Span,
}

/// A word as written in the Dockerfile. For JSON-array forms it is the decoded JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Word {
    pub raw: String,
    pub span: Span,
    /// Where the word continues on a later physical line (continuations joined it): lets
    /// [`Word::position_at`] find the source position of any byte of `raw`. Empty for one-line words.
    #[serde(skip)]
    pub pieces: Vec<WordPiece>,
}

/// `raw[offset..]` starts at `start` in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordPiece {
    pub offset: usize,
    pub start: Position,
}

impl Word {
    pub fn new(raw: impl Into<String>, span: Span) -> Self {
        Word { raw: raw.into(), span, pieces: Vec::new() }
    }

    /// The source position of byte `offset` of `raw`. Exact for words taken verbatim from the source (shell
    /// forms, plain arguments); JSON-decoded or expanded words only have their span.
    pub fn position_at(&self, offset: usize) -> Position {
        self.locate(offset, false)
    }

    /// The source span of a byte range of `raw` (see [`Word::position_at`]).
    pub fn span_of(&self, range: core::ops::Range<usize>) -> Span {
        let start = self.locate(range.start, false);
        let end = if range.end > range.start { self.locate(range.end, true) } else { start };
        Span { start, end }
    }

    fn locate(&self, offset: usize, is_end: bool) -> Position {
        let offset = offset.min(self.raw.len());
        // An end on a piece boundary stays at the end of the earlier line.
        let (piece_offset, piece_start) = self
            .pieces
            .iter()
            .rev()
            .find(|piece| if is_end { piece.offset < offset } else { piece.offset <= offset })
            .map_or((0, self.span.start), |piece| (piece.offset, piece.start));
        let between = self.raw.get(piece_offset..offset).unwrap_or_default();
        Position {
            line: piece_start.line,
            column: piece_start.column + between.chars().count(),
            offset: piece_start.offset + between.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "instruction", content = "arguments", rename_all = "snake_case")]
pub enum Command {
    From(FromCommand),
    Run(Run),
    Cmd(CommandLine),
    Label(KeyValues),
    Maintainer(Word),
    Expose(Vec<Word>),
    Env(KeyValues),
    Add(CopyCommand),
    Copy(CopyCommand),
    Entrypoint(CommandLine),
    Volume(Volume),
    User(Word),
    Workdir(Word),
    Arg(Vec<ArgDeclaration>),
    Onbuild(Box<Instruction>),
    StopSignal(Word),
    Healthcheck(Healthcheck),
    Shell(Vec<Word>),
}

impl Command {
    /// The upper-case keyword, as printed.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::From(_) => "FROM",
            Command::Run(_) => "RUN",
            Command::Cmd(_) => "CMD",
            Command::Label(_) => "LABEL",
            Command::Maintainer(_) => "MAINTAINER",
            Command::Expose(_) => "EXPOSE",
            Command::Env(_) => "ENV",
            Command::Add(_) => "ADD",
            Command::Copy(_) => "COPY",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Volume(_) => "VOLUME",
            Command::User(_) => "USER",
            Command::Workdir(_) => "WORKDIR",
            Command::Arg(_) => "ARG",
            Command::Onbuild(_) => "ONBUILD",
            Command::StopSignal(_) => "STOPSIGNAL",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Shell(_) => "SHELL",
        }
    }

    /// Flags Docker accepts on this instruction; any other flag is an error at build time.
    pub fn known_flags(&self) -> &'static [&'static str] {
        known_flags(self.keyword())
    }
}

/// Every instruction's keyword, upper-case as people write them.
pub const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// The keyword a misspelt one (`FORM`, `RUNN`, any case) most likely meant: within two edits and nearer than its
/// own length, as the linter's other "did you mean" guesses are.
pub fn keyword_suggestion(written: &str) -> Option<&'static str> {
    crate::dockerfile::lint::suggest(&written.to_uppercase(), KEYWORDS.into_iter())
}

/// Flags Docker accepts on the instruction with this (upper-case) keyword.
pub fn known_flags(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "FROM" => &["platform"],
        "RUN" => &["mount", "network", "security"],
        "ADD" => &["chown", "chmod", "checksum", "keep-git-dir", "link", "exclude"],
        "COPY" => &["from", "chown", "chmod", "link", "parents", "exclude"],
        "HEALTHCHECK" => &["interval", "timeout", "start-period", "start-interval", "retries"],
        _ => &[],
    }
}

/// `FROM [--platform=..] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FromCommand {
    pub image: Word,
    /// The stage name as written after `AS`; Docker compares stage names lower-cased, see [`FromCommand::stage_name`].
    pub alias: Option<Word>,
    pub platform: Option<String>,
}

impl FromCommand {
    pub fn stage_name(&self) -> Option<String> {
        self.alias.as_ref().map(|alias| alias.raw.to_ascii_lowercase())
    }
}

/// Shell form (`RUN echo hi`, run by the stage's SHELL) or exec form (`RUN ["echo", "hi"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", content = "value", rename_all = "snake_case")]
pub enum CommandLine {
    /// The rest of the line, continuation lines joined; empty for a bare `CMD`.
    Shell(Word),
    Exec(Vec<Word>),
}

impl CommandLine {
    pub fn is_exec(&self) -> bool {
        matches!(self, CommandLine::Exec(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub command: CommandLine,
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<Mount>,
    pub network: Option<NetworkMode>,
    pub security: Option<SecurityMode>,
}

/// `<<EOF` ... `EOF`: a here-document attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// `3<<EOF` gives Some(3).
    pub file_descriptor: Option<u32>,
    /// False when the terminator was quoted (`<<"EOF"`, `<<'EOF'`): the content is taken literally.
    pub expand: bool,
    /// `<<-EOF`: leading tabs are stripped from content lines and the terminator line.
    pub chomp: bool,
    /// The body as written, line endings included, terminator excluded.
    pub content: String,
    /// The body and terminator lines.
    pub span: Span,
}

impl Heredoc {
    /// The content as the command sees it: for `<<-` every line's leading tabs removed.
    pub fn effective_content(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content.split_inclusive('\n').map(|line| line.trim_start_matches('\t')).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// `RUN --mount=type=cache,target=/root/.cache`: kept so the builder can say what it does not support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountType,
    /// Every `key[=value]` after `type`, in order.
    pub options: Vec<(String, Option<String>)>,
    pub span: Span,
}

impl Mount {
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.iter().find(|(name, _)| name == key).and_then(|(_, value)| value.as_deref())
    }

    pub fn target(&self) -> Option<&str> {
        self.option("target").or_else(|| self.option("dst")).or_else(|| self.option("destination"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    Sandbox,
    Insecure,
}

/// ENV and LABEL pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValues {
    pub pairs: Vec<KeyValue>,
    /// `ENV KEY some value` (one pair, the value is the rest of the line) rather than `ENV KEY=value ...`.
    pub legacy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Word,
    pub value: Word,
}

/// COPY and ADD (ADD ignores `from` and `parents`; COPY ignores `checksum` and `keep_git_dir`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyCommand {
    pub sources: Vec<Word>,
    pub destination: Word,
    /// Written as a JSON array.
    pub json: bool,
    pub heredocs: Vec<Heredoc>,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub paths: Vec<Word>,
    pub json: bool,
}

/// `ARG name` or `ARG name=default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgDeclaration {
    pub name: Word,
    pub default: Option<Word>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any healthcheck inherited from the base image.
    None,
    Check(HealthcheckCommand),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthcheckCommand {
    pub test: CommandLine,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

impl Instruction {
    pub fn keyword(&self) -> &'static str {
        self.command.keyword()
    }

    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|flag| flag.name == name)
    }
}

/// One build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    /// 0-based, as `COPY --from=0` counts.
    pub index: usize,
    pub from_instruction: &'a Instruction,
    pub from: &'a FromCommand,
    /// The instructions after FROM, up to the next FROM.
    pub instructions: &'a [Instruction],
}

impl Stage<'_> {
    pub fn name(&self) -> Option<String> {
        self.from.stage_name()
    }
}

impl Dockerfile {
    /// The build stages, in order.
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let from_positions: Vec<usize> = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, instruction)| matches!(instruction.command, Command::From(_)))
            .map(|(position, _)| position)
            .collect();
        let mut stages = Vec::with_capacity(from_positions.len());
        for (index, &position) in from_positions.iter().enumerate() {
            let end = from_positions.get(index + 1).copied().unwrap_or(self.instructions.len());
            let from_instruction = &self.instructions[position];
            if let Command::From(from) = &from_instruction.command {
                stages.push(Stage {
                    index,
                    from_instruction,
                    from,
                    instructions: &self.instructions[position + 1..end],
                });
            }
        }
        stages
    }

    /// ARG instructions before the first FROM: the only variables FROM lines can use.
    pub fn meta_args(&self) -> impl Iterator<Item = &Instruction> {
        self.instructions.iter().take_while(|instruction| !matches!(instruction.command, Command::From(_)))
    }

    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|directive| directive.name == name)
    }
}
