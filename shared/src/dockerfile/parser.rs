//! Logical lines to [`Instruction`]s, with buildkit's argument rules and error wording per instruction.

use core::ops::Range;
use core::time::Duration;

use super::ast::WordPiece;
use super::ast::{
    ArgDeclaration, Command, CommandLine, CopyCommand, Dockerfile, Flag, FromCommand, Healthcheck, HealthcheckCommand,
    Heredoc, Instruction, KeyValue, KeyValues, Mount, MountType, NetworkMode, Run, SecurityMode, Volume, Word,
};
use super::error::{ParseError, ParseErrorKind};
use super::lexer::{Lexer, LogicalLine};
use super::span::{SourceMap, Span};
use super::words::{
    drop_trailing_escape, extract_flags, heredoc_marker, json_array, quoted_words, split_command, trim,
    whitespace_words, JsonArray,
};

/// Parses a Dockerfile as Docker would, stopping at the error Docker would report.
pub fn parse(source: &str) -> Result<Dockerfile, ParseError> {
    let (dockerfile, errors) = parse_recovering(source);
    // Docker's line parser runs over the whole file before instructions are checked, so its errors win.
    let first_pass = errors.iter().find(|error| error.kind.is_first_pass());
    match first_pass.or_else(|| errors.first()) {
        Some(error) => Err(error.clone()),
        None => Ok(dockerfile),
    }
}

/// Parses as much as possible: instructions that fail are left out and their errors collected in source
/// order. Editors use this to show every problem at once.
pub fn parse_recovering(source: &str) -> (Dockerfile, Vec<ParseError>) {
    let map = SourceMap::new(source);
    let mut lexer = Lexer::new(source, &map);
    let mut instructions = Vec::new();
    let mut errors = Vec::new();
    let mut saw_any_line = false;
    let mut saw_from = false;
    while let Some(line) = lexer.next_logical_line() {
        saw_any_line = true;
        let escape = lexer.escape;
        let mut parser = LineParser { line: &line, map: &map, escape, lexer: &mut lexer };
        match parser.instruction(0..line.text.len(), false) {
            Ok(instruction) => {
                match instruction.command {
                    Command::From(_) => saw_from = true,
                    Command::Arg(_) => {}
                    _ if !saw_from
                        && !errors.iter().any(|error: &ParseError| error.kind == ParseErrorKind::NoBuildStage) =>
                    {
                        errors.push(ParseError {
                            line: line.first_line,
                            span: instruction.span,
                            kind: ParseErrorKind::NoBuildStage,
                        });
                    }
                    _ => {}
                }
                instructions.push(instruction);
            }
            Err(error) => errors.push(error),
        }
    }
    let mut all_errors = core::mem::take(&mut lexer.errors);
    all_errors.extend(errors);
    if !saw_any_line {
        all_errors.push(ParseError {
            line: lexer.last_line_number(),
            span: lexer.end_span(),
            kind: ParseErrorKind::NoInstructions,
        });
    }
    let dockerfile = Dockerfile {
        directives: core::mem::take(&mut lexer.directives),
        escape: lexer.escape,
        instructions,
        warnings: core::mem::take(&mut lexer.warnings),
    };
    (dockerfile, all_errors)
}

struct LineParser<'a, 'src> {
    line: &'a LogicalLine,
    map: &'a SourceMap<'src>,
    escape: char,
    lexer: &'a mut Lexer<'src>,
}

type KindResult<T> = Result<T, (ParseErrorKind, Option<Span>)>;

fn fail<T>(kind: ParseErrorKind) -> KindResult<T> {
    Err((kind, None))
}

impl LineParser<'_, '_> {
    fn text(&self) -> &str {
        &self.line.text
    }

    fn span(&self, range: Range<usize>) -> Span {
        self.line.span(self.map, range)
    }

    fn word(&self, range: Range<usize>) -> Word {
        let pieces = self
            .line
            .pieces_within(range.clone())
            .map(|(offset, source_offset)| WordPiece { offset, start: self.map.position(source_offset) })
            .collect();
        Word { raw: self.line.text[range.clone()].to_string(), span: self.span(range), pieces }
    }

    fn error(&self, kind: ParseErrorKind, span: Span) -> ParseError {
        ParseError { line: self.line.first_line, span, kind }
    }

    /// Parses the instruction in `range` of the logical line; `range` is the whole line except for ONBUILD
    /// triggers, which are parsed from the rest of their ONBUILD line.
    fn instruction(&mut self, range: Range<usize>, is_trigger: bool) -> Result<Instruction, ParseError> {
        let (keyword_range, rest_start) = split_command(self.text(), range.clone());
        let keyword = self.text()[keyword_range.clone()].to_ascii_lowercase();
        let (raw_flags, args) = extract_flags(self.text(), rest_start..range.end);
        let args = drop_trailing_escape(self.text(), args, self.escape);
        let flags: Vec<Flag> = raw_flags
            .into_iter()
            .map(|flag| Flag { name: flag.name, value: flag.value, span: self.span(flag.range) })
            .collect();
        let keyword_span = self.span(keyword_range.clone());
        let mut span = self.span(keyword_range.start..trim(self.text(), range.clone()).end);

        // Heredoc bodies follow the line; read them first so a later error does not turn them into instructions.
        let heredocs = if matches!(keyword.as_str(), "run" | "copy" | "add") {
            let heredocs = self.read_heredocs(args.clone()).map_err(|kind| self.error(kind, span))?;
            for heredoc in &heredocs {
                span = span.cover(heredoc.span);
            }
            heredocs
        } else {
            Vec::new()
        };

        let command = match self.command(&keyword, keyword_range, &flags, args, heredocs, is_trigger) {
            Ok(command) => command,
            Err((kind, narrower)) => return Err(self.error(kind, narrower.unwrap_or(span))),
        };
        if let Command::Onbuild(trigger) = &command {
            span = span.cover(trigger.span);
        }
        let comments = if is_trigger { Vec::new() } else { self.line.comments.clone() };
        Ok(Instruction { span, keyword_span, comments, flags, command })
    }

    fn read_heredocs(&mut self, args: Range<usize>) -> Result<Vec<Heredoc>, ParseErrorKind> {
        if !matches!(json_array(self.text(), args.clone()), JsonArray::NotJson) {
            return Ok(Vec::new());
        }
        let markers: Vec<_> = quoted_words(self.text(), args, '\\')
            .into_iter()
            .filter_map(|word| heredoc_marker(&self.line.text[word]))
            .collect();
        let mut heredocs = Vec::with_capacity(markers.len());
        for marker in markers {
            let (content, span) =
                self.lexer.read_heredoc(&marker.name, marker.chomp).ok_or(ParseErrorKind::UnterminatedHeredoc)?;
            heredocs.push(Heredoc {
                name: marker.name,
                file_descriptor: marker.file_descriptor,
                expand: marker.expand,
                chomp: marker.chomp,
                content,
                span,
            });
        }
        Ok(heredocs)
    }

    fn command(
        &mut self,
        keyword: &str,
        keyword_range: Range<usize>,
        flags: &[Flag],
        args: Range<usize>,
        heredocs: Vec<Heredoc>,
        is_trigger: bool,
    ) -> KindResult<Command> {
        let flags = FlagReader { flags };
        let command = match keyword {
            "from" => Command::From(self.from(&flags, args)?),
            "run" => Command::Run(Run {
                command: self.command_line(args)?,
                heredocs,
                mounts: flags.mounts()?,
                network: flags.network()?,
                security: flags.security()?,
            }),
            "cmd" => Command::Cmd(self.command_line(args)?),
            "entrypoint" => Command::Entrypoint(self.command_line(args)?),
            "label" => Command::Label(self.key_values("LABEL", args)?),
            "env" => Command::Env(self.key_values("ENV", args)?),
            "maintainer" => Command::Maintainer(self.single_argument("MAINTAINER", args)?),
            "user" => Command::User(self.single_argument("USER", args)?),
            "workdir" => Command::Workdir(self.single_argument("WORKDIR", args)?),
            "stopsignal" => Command::StopSignal(self.single_argument("STOPSIGNAL", args)?),
            "expose" => {
                let ports = whitespace_words(self.text(), args);
                if ports.is_empty() {
                    return fail(ParseErrorKind::AtLeastOneArgument("EXPOSE"));
                }
                Command::Expose(ports.into_iter().map(|port| self.word(port)).collect())
            }
            "add" => Command::Add(self.copy("ADD", &flags, args, heredocs)?),
            "copy" => Command::Copy(self.copy("COPY", &flags, args, heredocs)?),
            "volume" => Command::Volume(self.volume(args)?),
            "arg" => Command::Arg(self.arg(args)?),
            "onbuild" => Command::Onbuild(Box::new(self.onbuild(args, is_trigger)?)),
            "healthcheck" => Command::Healthcheck(self.healthcheck(&flags, args)?),
            "shell" => Command::Shell(self.shell(args)?),
            _ => {
                let written = self.text()[keyword_range.clone()].to_uppercase();
                return Err((ParseErrorKind::UnknownInstruction(written), Some(self.span(keyword_range))));
            }
        };
        Ok(command)
    }

    fn from(&self, flags: &FlagReader<'_>, args: Range<usize>) -> KindResult<FromCommand> {
        let words = whitespace_words(self.text(), args);
        let alias = match words.as_slice() {
            [_] => None,
            [_, as_keyword, name] if self.text()[as_keyword.clone()].eq_ignore_ascii_case("as") => {
                let name_text = &self.text()[name.clone()];
                if !is_valid_stage_name(&name_text.to_ascii_lowercase()) {
                    return Err((
                        ParseErrorKind::InvalidStageName(name_text.to_string()),
                        Some(self.span(name.clone())),
                    ));
                }
                Some(self.word(name.clone()))
            }
            _ => return fail(ParseErrorKind::FromArguments),
        };
        let image = self.word(words[0].clone());
        Ok(FromCommand { image, alias, platform: flags.string("platform")? })
    }

    fn command_line(&self, args: Range<usize>) -> KindResult<CommandLine> {
        match json_array(self.text(), args.clone()) {
            JsonArray::Strings(strings) => Ok(CommandLine::Exec(
                strings.into_iter().map(|(value, range)| Word::new(value, self.span(range))).collect(),
            )),
            JsonArray::NotStrings => fail(ParseErrorKind::JsonNotStrings),
            JsonArray::NotJson => Ok(CommandLine::Shell(self.word(args))),
        }
    }

    /// USER, WORKDIR, STOPSIGNAL, MAINTAINER: the whole rest of the line is the one argument.
    fn single_argument(&self, keyword: &'static str, args: Range<usize>) -> KindResult<Word> {
        if args.is_empty() {
            return fail(ParseErrorKind::ExactlyOneArgument(keyword));
        }
        Ok(self.word(args))
    }

    /// buildkit's `parseNameVal`: `KEY=value ...`, or the legacy `KEY value` when the first word has no `=`.
    fn key_values(&self, keyword: &'static str, args: Range<usize>) -> KindResult<KeyValues> {
        let words = quoted_words(self.text(), args.clone(), self.escape);
        let Some(first) = words.first() else {
            return fail(ParseErrorKind::AtLeastOneArgument(keyword));
        };
        if !self.text()[first.clone()].contains('=') {
            let key_end = self.text()[args.clone()]
                .find(super::words::is_separator)
                .map(|index| args.start + index)
                .ok_or((ParseErrorKind::MustHaveTwoArguments(keyword), None))?;
            let rest = &self.text()[key_end..args.end];
            let value_start = key_end + (rest.len() - rest.trim_start_matches(super::words::is_separator).len());
            let key = self.word(args.start..key_end);
            let value = self.word(value_start..args.end);
            return Ok(KeyValues { pairs: vec![KeyValue { key, value }], legacy: true });
        }
        let mut pairs = Vec::with_capacity(words.len());
        for word in words {
            let text = &self.text()[word.clone()];
            let Some(equals) = text.find('=') else {
                return Err((ParseErrorKind::MissingEquals(text.to_string()), Some(self.span(word))));
            };
            if equals == 0 {
                return Err((ParseErrorKind::BlankName(keyword), Some(self.span(word))));
            }
            let split = word.start + equals;
            pairs.push(KeyValue { key: self.word(word.start..split), value: self.word(split + 1..word.end) });
        }
        Ok(KeyValues { pairs, legacy: false })
    }

    /// Words of ADD, COPY and VOLUME: a JSON array, or whitespace-separated.
    fn path_list(&self, args: Range<usize>) -> KindResult<(Vec<Word>, bool)> {
        match json_array(self.text(), args.clone()) {
            JsonArray::Strings(strings) => {
                Ok((strings.into_iter().map(|(value, range)| Word::new(value, self.span(range))).collect(), true))
            }
            JsonArray::NotStrings => fail(ParseErrorKind::JsonNotStrings),
            JsonArray::NotJson => {
                Ok((whitespace_words(self.text(), args).into_iter().map(|range| self.word(range)).collect(), false))
            }
        }
    }

    fn copy(
        &self,
        keyword: &'static str,
        flags: &FlagReader<'_>,
        args: Range<usize>,
        heredocs: Vec<Heredoc>,
    ) -> KindResult<CopyCommand> {
        let (mut words, json) = self.path_list(args)?;
        let Some(destination) = words.pop().filter(|_| !words.is_empty()) else {
            return fail(ParseErrorKind::NoDestination(keyword));
        };
        Ok(CopyCommand {
            sources: words,
            destination,
            json,
            heredocs,
            from: flags.string("from")?,
            chown: flags.string("chown")?,
            chmod: flags.string("chmod")?,
            link: flags.boolean("link")?,
            parents: flags.boolean("parents")?,
            exclude: flags.strings("exclude")?,
            checksum: flags.string("checksum")?,
            keep_git_dir: flags.boolean("keep-git-dir")?,
        })
    }

    fn volume(&self, args: Range<usize>) -> KindResult<Volume> {
        let (paths, json) = self.path_list(args)?;
        if paths.is_empty() {
            return fail(ParseErrorKind::AtLeastOneArgument("VOLUME"));
        }
        if let Some(empty) = paths.iter().find(|path| path.raw.trim().is_empty()) {
            return Err((ParseErrorKind::EmptyVolume, Some(empty.span)));
        }
        Ok(Volume { paths, json })
    }

    fn arg(&self, args: Range<usize>) -> KindResult<Vec<ArgDeclaration>> {
        let words = quoted_words(self.text(), args, self.escape);
        if words.is_empty() {
            return fail(ParseErrorKind::AtLeastOneArgument("ARG"));
        }
        let mut declarations = Vec::with_capacity(words.len());
        for word in words {
            let declaration = match self.text()[word.clone()].find('=') {
                Some(0) => return Err((ParseErrorKind::BlankName("ARG"), Some(self.span(word)))),
                Some(equals) => ArgDeclaration {
                    name: self.word(word.start..word.start + equals),
                    default: Some(self.word(word.start + equals + 1..word.end)),
                },
                None => ArgDeclaration { name: self.word(word), default: None },
            };
            declarations.push(declaration);
        }
        Ok(declarations)
    }

    fn onbuild(&mut self, args: Range<usize>, is_trigger: bool) -> KindResult<Instruction> {
        if args.is_empty() {
            return fail(ParseErrorKind::AtLeastOneArgument("ONBUILD"));
        }
        let (trigger_keyword, _) = split_command(self.text(), args.clone());
        let trigger = self.text()[trigger_keyword].to_ascii_uppercase();
        match trigger.as_str() {
            "ONBUILD" => return fail(ParseErrorKind::OnbuildChaining),
            "MAINTAINER" | "FROM" => return fail(ParseErrorKind::OnbuildTrigger(trigger)),
            _ => {}
        }
        debug_assert!(!is_trigger, "ONBUILD ONBUILD is rejected above");
        self.instruction(args, true).map_err(|error| (error.kind, Some(error.span)))
    }

    fn healthcheck(&self, flags: &FlagReader<'_>, args: Range<usize>) -> KindResult<Healthcheck> {
        let text = self.text();
        let type_end = text[args.clone()].find(char::is_whitespace).map_or(args.end, |index| args.start + index);
        if type_end == args.start {
            return fail(ParseErrorKind::AtLeastOneArgument("HEALTHCHECK"));
        }
        let kind = text[args.start..type_end].to_ascii_uppercase();
        let rest = trim(text, type_end..args.end);
        match kind.as_str() {
            "NONE" if rest.is_empty() => Ok(Healthcheck::None),
            "NONE" => fail(ParseErrorKind::HealthcheckNoneArguments),
            "CMD" => {
                let test = self.command_line(rest)?;
                let is_empty = match &test {
                    CommandLine::Shell(word) => word.raw.is_empty(),
                    CommandLine::Exec(words) => words.is_empty(),
                };
                if is_empty {
                    return fail(ParseErrorKind::HealthcheckMissingCommand);
                }
                let retries = match flags.string("retries")? {
                    None => None,
                    Some(value) => Some(parse_retries(&value)?),
                };
                Ok(Healthcheck::Check(HealthcheckCommand {
                    test,
                    interval: flags.interval("interval")?,
                    timeout: flags.interval("timeout")?,
                    start_period: flags.interval("start-period")?,
                    start_interval: flags.interval("start-interval")?,
                    retries,
                }))
            }
            _ => fail(ParseErrorKind::HealthcheckUnknownType(kind)),
        }
    }

    fn shell(&self, args: Range<usize>) -> KindResult<Vec<Word>> {
        match json_array(self.text(), args.clone()) {
            JsonArray::Strings(strings) if strings.is_empty() => fail(ParseErrorKind::AtLeastOneArgument("SHELL")),
            JsonArray::Strings(strings) => {
                Ok(strings.into_iter().map(|(value, range)| Word::new(value, self.span(range))).collect())
            }
            JsonArray::NotStrings => fail(ParseErrorKind::JsonNotStrings),
            JsonArray::NotJson if args.is_empty() => fail(ParseErrorKind::AtLeastOneArgument("SHELL")),
            JsonArray::NotJson => fail(ParseErrorKind::NotJson("SHELL")),
        }
    }
}

/// buildkit's `^[a-z][a-z0-9-_\.]*$`, applied to the lower-cased name.
pub(crate) fn is_valid_stage_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(|first| first.is_ascii_lowercase())
        && characters.all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || matches!(character, '-' | '_' | '.')
        })
}

fn parse_retries(value: &str) -> KindResult<u32> {
    let retries: i64 =
        value.parse::<i32>().map(i64::from).map_err(|_| (ParseErrorKind::InvalidInteger(value.to_string()), None))?;
    if retries < 1 {
        return fail(ParseErrorKind::RetriesTooLow(retries));
    }
    u32::try_from(retries).map_err(|_| (ParseErrorKind::InvalidInteger(value.to_string()), None))
}

/// Typed access to the known flags of one instruction, with buildkit's `BFlags` errors.
/// Unknown flags are not an error here: the parser keeps them and the linter reports them.
struct FlagReader<'a> {
    flags: &'a [Flag],
}

impl FlagReader<'_> {
    /// The flag's single occurrence, if any.
    fn single(&self, name: &str) -> KindResult<Option<&Flag>> {
        let mut matching = self.flags.iter().filter(|flag| flag.name == name);
        let first = matching.next();
        if let Some(duplicate) = matching.next() {
            return Err((ParseErrorKind::DuplicateFlag(name.to_string()), Some(duplicate.span)));
        }
        Ok(first)
    }

    fn string(&self, name: &str) -> KindResult<Option<String>> {
        match self.single(name)? {
            None => Ok(None),
            Some(Flag { value: Some(value), .. }) => Ok(Some(value.clone())),
            Some(flag) => Err((ParseErrorKind::MissingFlagValue(name.to_string()), Some(flag.span))),
        }
    }

    fn strings(&self, name: &str) -> KindResult<Vec<String>> {
        self.flags
            .iter()
            .filter(|flag| flag.name == name)
            .map(|flag| flag.value.clone().ok_or((ParseErrorKind::MissingFlagValue(name.to_string()), Some(flag.span))))
            .collect()
    }

    fn boolean(&self, name: &str) -> KindResult<bool> {
        let Some(flag) = self.single(name)? else {
            return Ok(false);
        };
        match flag.value.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => Ok(true),
            Some("") => Err((ParseErrorKind::MissingFlagValue(name.to_string()), Some(flag.span))),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err((
                ParseErrorKind::InvalidBooleanFlag {
                    flag: name.to_string(),
                    value: flag.value.clone().unwrap_or_default(),
                },
                Some(flag.span),
            )),
        }
    }

    /// A HEALTHCHECK interval: a Go duration, 0 or at least 1ms.
    fn interval(&self, name: &str) -> KindResult<Option<Duration>> {
        let Some(value) = self.string(name)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Ok(None);
        }
        match parse_go_duration(&value) {
            None => fail(ParseErrorKind::InvalidDuration(value)),
            Some(GoDuration::Negative) => fail(ParseErrorKind::IntervalTooShort(name.to_string())),
            Some(GoDuration::NonNegative(duration)) if !duration.is_zero() && duration < Duration::from_millis(1) => {
                fail(ParseErrorKind::IntervalTooShort(name.to_string()))
            }
            Some(GoDuration::NonNegative(duration)) => Ok(Some(duration)),
        }
    }

    fn mounts(&self) -> KindResult<Vec<Mount>> {
        let mut mounts = Vec::new();
        for flag in self.flags.iter().filter(|flag| flag.name == "mount") {
            let Some(value) = &flag.value else {
                return Err((ParseErrorKind::MissingFlagValue("mount".to_string()), Some(flag.span)));
            };
            mounts.push(parse_mount(value, flag.span)?);
        }
        Ok(mounts)
    }

    fn network(&self) -> KindResult<Option<NetworkMode>> {
        match self.string("network")?.as_deref() {
            None => Ok(None),
            Some("default") => Ok(Some(NetworkMode::Default)),
            Some("none") => Ok(Some(NetworkMode::None)),
            Some("host") => Ok(Some(NetworkMode::Host)),
            Some(other) => fail(ParseErrorKind::UnsupportedNetworkMode(other.to_string())),
        }
    }

    fn security(&self) -> KindResult<Option<SecurityMode>> {
        match self.string("security")?.as_deref() {
            None => Ok(None),
            Some("sandbox") => Ok(Some(SecurityMode::Sandbox)),
            Some("insecure") => Ok(Some(SecurityMode::Insecure)),
            Some(other) => fail(ParseErrorKind::UnsupportedSecurityMode(other.to_string())),
        }
    }
}

/// `type=cache,target=/x,...`; a mount without `type` is a bind mount, as in buildkit.
fn parse_mount(value: &str, span: Span) -> KindResult<Mount> {
    let mut kind = MountType::Bind;
    let mut options = Vec::new();
    for field in value.split(',').map(str::trim).filter(|field| !field.is_empty()) {
        let (key, field_value) = match field.split_once('=') {
            Some((key, field_value)) => (key.trim().to_ascii_lowercase(), Some(field_value.trim().to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        if key == "type" {
            kind = match field_value.as_deref().unwrap_or_default() {
                "bind" => MountType::Bind,
                "cache" => MountType::Cache,
                "tmpfs" => MountType::Tmpfs,
                "secret" => MountType::Secret,
                "ssh" => MountType::Ssh,
                other => return Err((ParseErrorKind::UnsupportedMountType(other.to_string()), Some(span))),
            };
        } else {
            options.push((key, field_value));
        }
    }
    Ok(Mount { kind, options, span })
}

enum GoDuration {
    NonNegative(Duration),
    Negative,
}

/// A HEALTHCHECK duration by [`crate::go_duration`]: negative ones are told apart, as dockerd refuses them.
fn parse_go_duration(text: &str) -> Option<GoDuration> {
    let nanos = crate::go_duration::parse_nanos(text)?;
    Some(match u64::try_from(nanos) {
        Ok(nanos) => GoDuration::NonNegative(Duration::from_nanos(nanos)),
        Err(_) => GoDuration::Negative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let nanos = |text: &str| match parse_go_duration(text) {
            Some(GoDuration::NonNegative(duration)) => Some(duration.as_nanos()),
            _ => None,
        };
        assert_eq!(nanos("30s"), Some(30_000_000_000));
        assert_eq!(nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(nanos("0"), Some(0));
        assert_eq!(nanos("10"), None);
        assert_eq!(nanos("s"), None);
        assert!(matches!(parse_go_duration("-1s"), Some(GoDuration::Negative)));
    }

    #[test]
    fn stage_names() {
        assert!(is_valid_stage_name("build-stage_1.x"));
        assert!(!is_valid_stage_name("1build"));
        assert!(!is_valid_stage_name("bu!ld"));
    }
}
