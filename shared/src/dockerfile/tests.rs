//! Parser, printer and expansion tests against Docker's documented behaviour.

use super::*;

fn parsed(source: &str) -> Dockerfile {
    match parse(source) {
        Ok(dockerfile) => dockerfile,
        Err(error) => panic!("{error}\n--- source ---\n{source}"),
    }
}

fn error_of(source: &str) -> String {
    match parse(source) {
        Ok(dockerfile) => panic!("expected an error, parsed {dockerfile:?}"),
        Err(error) => error.to_string(),
    }
}

/// The last instruction's command (tests put the instruction under test last, after a FROM).
fn last(source: &str) -> Command {
    parsed(source).instructions.pop().map(|instruction| instruction.command).expect("an instruction")
}

/// The tree as JSON without spans and warnings: what must survive printing.
pub(crate) fn shape(dockerfile: &Dockerfile) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, _| !key.ends_with("span") && key != "warnings");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(dockerfile).expect("the tree serializes");
    strip(&mut value);
    value
}

pub(crate) fn assert_round_trip(source: &str) {
    let first = parsed(source);
    let printed = print(&first);
    let second = match parse(&printed) {
        Ok(second) => second,
        Err(error) => panic!("printed text does not parse: {error}\n--- printed ---\n{printed}"),
    };
    assert_eq!(shape(&first), shape(&second), "\n--- source ---\n{source}\n--- printed ---\n{printed}");
}

fn raw(words: &[Word]) -> Vec<&str> {
    words.iter().map(|word| word.raw.as_str()).collect()
}

// ---- FROM ----

#[test]
fn from_with_platform_tag_and_stage_name() {
    let Command::From(from) = last("FROM --platform=$BUILDPLATFORM golang:1.22 As Build") else { panic!() };
    assert_eq!(from.image.raw, "golang:1.22");
    assert_eq!(from.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(from.alias.as_ref().map(|alias| alias.raw.as_str()), Some("Build"));
    assert_eq!(from.stage_name().as_deref(), Some("build"));
}

#[test]
fn from_with_digest() {
    let Command::From(from) = last("FROM alpine@sha256:0123abcd") else { panic!() };
    assert_eq!(from.image.raw, "alpine@sha256:0123abcd");
    assert!(from.alias.is_none());
}

#[test]
fn from_argument_count_and_stage_name_errors() {
    assert_eq!(error_of("FROM a b"), "dockerfile parse error on line 1: FROM requires either one or three arguments");
    assert_eq!(error_of("FROM"), "dockerfile parse error on line 1: FROM requires either one or three arguments");
    assert_eq!(
        error_of("FROM a AS 1x"),
        "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
}

// ---- RUN ----

#[test]
fn run_shell_and_exec_forms() {
    let Command::Run(run) = last("FROM a\nRUN apt-get update && apt-get install -y curl") else { panic!() };
    assert_eq!(run.command, CommandLine::Shell(run_word(&run)));
    let Command::Run(run) = last("FROM a\nRUN [\"echo\", \"a b\"]") else { panic!() };
    let CommandLine::Exec(words) = run.command else { panic!() };
    assert_eq!(raw(&words), vec!["echo", "a b"]);
}

fn run_word(run: &Run) -> Word {
    match &run.command {
        CommandLine::Shell(word) => word.clone(),
        CommandLine::Exec(_) => panic!("exec form"),
    }
}

#[test]
fn run_invalid_json_falls_back_to_shell_form() {
    let Command::Run(run) = last("FROM a\nRUN [ \"a\", ]") else { panic!() };
    assert_eq!(run_word(&run).raw, "[ \"a\", ]");
}

#[test]
fn run_json_with_non_strings_is_an_error() {
    assert_eq!(
        error_of("FROM a\nRUN [\"a\", 1]"),
        "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn run_flags_are_parsed_and_kept() {
    let source = "FROM a\nRUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=npm \\\n    --network=none --security=insecure make";
    let dockerfile = parsed(source);
    let instruction = &dockerfile.instructions[1];
    assert_eq!(instruction.flags.len(), 4);
    let Command::Run(run) = &instruction.command else { panic!() };
    assert_eq!(run.mounts[0].kind, MountType::Cache);
    assert_eq!(run.mounts[0].target(), Some("/root/.cache"));
    assert_eq!(run.mounts[0].option("sharing"), Some("locked"));
    assert_eq!(run.mounts[1].kind, MountType::Secret);
    assert_eq!(run.network, Some(NetworkMode::None));
    assert_eq!(run.security, Some(SecurityMode::Insecure));
    assert_eq!(run_word(run).raw, "make");
    // The --network flag sits on line 3.
    assert_eq!(instruction.flags[2].span.start.line, 3);
}

#[test]
fn run_mount_defaults_to_bind_and_rejects_unknown_types() {
    let Command::Run(run) = last("FROM a\nRUN --mount=target=/src,source=. make") else { panic!() };
    assert_eq!(run.mounts[0].kind, MountType::Bind);
    assert!(error_of("FROM a\nRUN --mount=type=nfs,target=/x make").ends_with("unsupported mount type \"nfs\""));
    assert!(error_of("FROM a\nRUN --network=bridge make").ends_with("unsupported network mode \"bridge\""));
}

#[test]
fn heredoc_basic() {
    let source = "FROM a\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nUSER app\n";
    let dockerfile = parsed(source);
    assert_eq!(dockerfile.instructions.len(), 3);
    let Command::Run(run) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(run.heredocs.len(), 1);
    let heredoc = &run.heredocs[0];
    assert_eq!(heredoc.name, "EOF");
    assert_eq!(heredoc.content, "apt-get update\napt-get install -y curl\n");
    assert!(heredoc.expand);
    assert!(!heredoc.chomp);
    assert_eq!(dockerfile.instructions[1].span.end.line, 5);
    assert_eq!(heredoc.span.start.line, 3);
}

#[test]
fn heredoc_chomp_strips_leading_tabs() {
    let source = "FROM a\nRUN <<-EOT\n\techo hi\n\t\techo there\n\tEOT\n";
    let Command::Run(run) = last(source) else { panic!() };
    assert!(run.heredocs[0].chomp);
    assert_eq!(run.heredocs[0].effective_content(), "echo hi\necho there\n");
}

#[test]
fn heredoc_quoted_delimiters_do_not_expand() {
    for marker in ["<<\"EOF\"", "<<'EOF'"] {
        let source = format!("FROM a\nRUN {marker}\necho $HOME\nEOF\n");
        let Command::Run(run) = last(&source) else { panic!() };
        assert_eq!(run.heredocs[0].name, "EOF");
        assert!(!run.heredocs[0].expand, "{marker}");
    }
}

#[test]
fn several_heredocs_on_one_line() {
    let source = "FROM a\nRUN python3 <<PY 3<<DATA\nprint(1)\nPY\nsome data\nDATA\nCMD x\n";
    let dockerfile = parsed(source);
    let Command::Run(run) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(run.heredocs.len(), 2);
    assert_eq!(run.heredocs[0].content, "print(1)\n");
    assert_eq!(run.heredocs[1].file_descriptor, Some(3));
    assert_eq!(run.heredocs[1].content, "some data\n");
    assert!(matches!(dockerfile.instructions[2].command, Command::Cmd(_)));
}

#[test]
fn heredoc_content_is_not_comment_or_continuation_processed() {
    let source = "FROM a\nRUN <<EOF\n# not a comment \\\nFROM nothing\nEOF\n";
    let Command::Run(run) = last(source) else { panic!() };
    assert_eq!(run.heredocs[0].content, "# not a comment \\\nFROM nothing\n");
}

#[test]
fn unterminated_heredoc() {
    assert_eq!(error_of("FROM a\nRUN <<EOF\necho\n"), "dockerfile parse error on line 2: unterminated heredoc");
}

#[test]
fn exec_form_run_has_no_heredocs() {
    // "EOF" is then an (unknown) instruction, as in Docker, which rejects it.
    let (dockerfile, errors) = parse_recovering("FROM a\nRUN [\"cat\", \"<<EOF\"]\nEOF\n");
    assert_eq!(dockerfile.instructions.len(), 2);
    assert_eq!(errors.len(), 1);
    assert!(error_of("FROM a\nRUN [\"cat\", \"<<EOF\"]\nEOF\n").contains("unknown instruction: EOF"));
}

#[test]
fn copy_heredoc() {
    let Command::Copy(copy) = last("FROM a\nCOPY <<EOF /app/config\nkey=value\nEOF\n") else { panic!() };
    assert_eq!(raw(&copy.sources), vec!["<<EOF"]);
    assert_eq!(copy.destination.raw, "/app/config");
    assert_eq!(copy.heredocs[0].content, "key=value\n");
}

// ---- CMD / ENTRYPOINT ----

#[test]
fn cmd_and_entrypoint_forms() {
    assert_eq!(
        last("FROM a\nCMD [\"nginx\", \"-g\", \"daemon off;\"]"),
        Command::Cmd(CommandLine::Exec(vec![
            word_at("nginx", 2, 6, 2, 13),
            word_at("-g", 2, 15, 2, 19),
            word_at("daemon off;", 2, 21, 2, 34),
        ]))
    );
    let Command::Entrypoint(CommandLine::Shell(word)) = last("FROM a\nENTRYPOINT exec nginx") else { panic!() };
    assert_eq!(word.raw, "exec nginx");
    let Command::Cmd(CommandLine::Shell(word)) = last("FROM a\nCMD") else { panic!() };
    assert_eq!(word.raw, "");
}

fn word_at(text: &str, start_line: usize, start_column: usize, end_line: usize, end_column: usize) -> Word {
    // Offsets are not compared by tests using this helper; they are filled from the columns on line 2 of
    // "FROM a\n...", where line 2 starts at byte 7.
    let position = |line: usize, column: usize| Position { line, column, offset: 7 + column - 1 };
    let _ = (start_line, end_line);
    Word::new(text, Span::new(position(start_line, start_column), position(end_line, end_column)))
}

// ---- LABEL / ENV ----

#[test]
fn label_pairs_with_quotes() {
    let Command::Label(labels) = last("FROM a\nLABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0 desc=a\\ b")
    else {
        panic!()
    };
    assert!(!labels.legacy);
    let pairs: Vec<(&str, &str)> =
        labels.pairs.iter().map(|pair| (pair.key.raw.as_str(), pair.value.raw.as_str())).collect();
    assert_eq!(pairs, vec![("\"com.example.vendor\"", "\"ACME Inc\""), ("version", "1.0"), ("desc", "a\\ b")]);
    let expanded = substitute(&labels.pairs[0].value.raw, |_| None);
    assert_eq!(expanded.as_deref(), Ok("ACME Inc"));
}

#[test]
fn legacy_label_and_env() {
    let Command::Label(labels) = last("FROM a\nLABEL maintainer Jane Doe <jane@example.com>") else { panic!() };
    assert!(labels.legacy);
    assert_eq!(labels.pairs[0].value.raw, "Jane Doe <jane@example.com>");
    let Command::Env(env) = last("FROM a\nENV PATH /usr/local/bin:$PATH") else { panic!() };
    assert!(env.legacy);
    assert_eq!((env.pairs[0].key.raw.as_str(), env.pairs[0].value.raw.as_str()), ("PATH", "/usr/local/bin:$PATH"));
}

#[test]
fn env_pairs_and_errors() {
    let Command::Env(env) = last("FROM a\nENV A=1 B=\"two words\" C=") else { panic!() };
    assert_eq!(env.pairs.len(), 3);
    assert_eq!(env.pairs[2].value.raw, "");
    assert_eq!(error_of("FROM a\nENV ONLYKEY"), "dockerfile parse error on line 2: ENV must have two arguments");
    assert_eq!(error_of("FROM a\nLABEL"), "dockerfile parse error on line 2: LABEL requires at least one argument");
    assert_eq!(
        error_of("FROM a\nENV A=1 B"),
        "dockerfile parse error on line 2: Syntax error - can't find = in \"B\". Must be of the form: name=value"
    );
    assert_eq!(error_of("FROM a\nENV =1"), "dockerfile parse error on line 2: ENV names can not be blank");
}

// ---- MAINTAINER, EXPOSE, USER, WORKDIR, STOPSIGNAL ----

#[test]
fn single_argument_instructions() {
    assert_eq!(last("FROM a\nMAINTAINER Jane <j@x>"), Command::Maintainer(word_like("Jane <j@x>")));
    let Command::User(user) = last("FROM a\nUSER app:staff") else { panic!() };
    assert_eq!(user.raw, "app:staff");
    let Command::Workdir(dir) = last("FROM a\nWORKDIR /srv/my app") else { panic!() };
    assert_eq!(dir.raw, "/srv/my app");
    let Command::StopSignal(signal) = last("FROM a\nSTOPSIGNAL SIGTERM") else { panic!() };
    assert_eq!(signal.raw, "SIGTERM");
    assert_eq!(error_of("FROM a\nUSER"), "dockerfile parse error on line 2: USER requires exactly one argument");
    assert_eq!(error_of("FROM a\nWORKDIR"), "dockerfile parse error on line 2: WORKDIR requires exactly one argument");
}

fn word_like(text: &str) -> Word {
    match last(&format!("FROM a\nMAINTAINER {text}")) {
        Command::Maintainer(word) => word,
        _ => panic!(),
    }
}

#[test]
fn expose_forms() {
    let Command::Expose(ports) = last("FROM a\nEXPOSE 80 443/tcp 53/udp 8000-8010 ${PORT}") else { panic!() };
    assert_eq!(raw(&ports), vec!["80", "443/tcp", "53/udp", "8000-8010", "${PORT}"]);
    assert_eq!(error_of("FROM a\nEXPOSE"), "dockerfile parse error on line 2: EXPOSE requires at least one argument");
}

// ---- ADD / COPY ----

#[test]
fn copy_flags_and_forms() {
    let source = "FROM a\nCOPY --from=build --chown=app:app --chmod=755 --link --parents --exclude=*.md --exclude=tmp src/ lib/ /app/";
    let Command::Copy(copy) = last(source) else { panic!() };
    assert_eq!(copy.from.as_deref(), Some("build"));
    assert_eq!(copy.chown.as_deref(), Some("app:app"));
    assert_eq!(copy.chmod.as_deref(), Some("755"));
    assert!(copy.link && copy.parents);
    assert_eq!(copy.exclude, vec!["*.md", "tmp"]);
    assert_eq!(raw(&copy.sources), vec!["src/", "lib/"]);
    assert_eq!(copy.destination.raw, "/app/");
    let Command::Copy(copy) = last("FROM a\nCOPY [\"my file.txt\", \"/dest dir/\"]") else { panic!() };
    assert!(copy.json);
    assert_eq!(raw(&copy.sources), vec!["my file.txt"]);
}

#[test]
fn add_flags() {
    let source = "FROM a\nADD --checksum=sha256:abc --keep-git-dir=true --chown=1:1 https://example.com/x.tar.gz /x";
    let Command::Add(add) = last(source) else { panic!() };
    assert_eq!(add.checksum.as_deref(), Some("sha256:abc"));
    assert!(add.keep_git_dir);
    assert_eq!(add.chown.as_deref(), Some("1:1"));
}

#[test]
fn copy_argument_and_flag_errors() {
    let expected = "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.";
    assert_eq!(error_of("FROM a\nCOPY onlyone"), expected);
    assert!(error_of("FROM a\nCOPY --from a b").ends_with("Missing a value on flag: from"));
    assert!(error_of("FROM a\nCOPY --link=maybe a b").ends_with("Expecting boolean value for flag link, not: maybe"));
    assert!(error_of("FROM a\nCOPY --from=x --from=y a b").ends_with("Duplicate flag specified: from"));
}

#[test]
fn unknown_flags_are_kept_for_the_linter() {
    let dockerfile = parsed("FROM a\nCOPY --frmo=build a b");
    assert_eq!(dockerfile.instructions[1].flags[0].name, "frmo");
}

#[test]
fn double_dash_ends_flags() {
    let Command::Copy(copy) = last("FROM a\nCOPY -- --weird-name /dst") else { panic!() };
    assert_eq!(raw(&copy.sources), vec!["--weird-name"]);
    assert_round_trip("FROM a\nCOPY -- --weird-name /dst\n");
}

// ---- VOLUME, ARG, ONBUILD, HEALTHCHECK, SHELL ----

#[test]
fn volume_forms() {
    let Command::Volume(volume) = last("FROM a\nVOLUME [\"/data\", \"/logs\"]") else { panic!() };
    assert!(volume.json);
    assert_eq!(raw(&volume.paths), vec!["/data", "/logs"]);
    let Command::Volume(volume) = last("FROM a\nVOLUME /data /logs") else { panic!() };
    assert!(!volume.json);
    assert_eq!(
        error_of("FROM a\nVOLUME [\"\"]"),
        "dockerfile parse error on line 2: VOLUME specified can not be an empty string"
    );
}

#[test]
fn arg_declarations() {
    let Command::Arg(args) = last("FROM a\nARG VERSION=1.0 DEBUG MESSAGE=\"hello world\"") else { panic!() };
    assert_eq!(args.len(), 3);
    assert_eq!(args[0].name.raw, "VERSION");
    assert_eq!(args[0].default.as_ref().map(|word| word.raw.as_str()), Some("1.0"));
    assert!(args[1].default.is_none());
    assert_eq!(args[2].default.as_ref().map(|word| word.raw.as_str()), Some("\"hello world\""));
    assert_eq!(error_of("FROM a\nARG"), "dockerfile parse error on line 2: ARG requires at least one argument");
    assert_eq!(error_of("FROM a\nARG =x"), "dockerfile parse error on line 2: ARG names can not be blank");
}

#[test]
fn onbuild_nests_an_instruction() {
    let Command::Onbuild(trigger) = last("FROM a\nONBUILD COPY --chown=1 . /app") else { panic!() };
    let Command::Copy(copy) = &trigger.command else { panic!() };
    assert_eq!(copy.chown.as_deref(), Some("1"));
    assert_eq!(trigger.keyword_span.start.column, 9);
    let Command::Onbuild(trigger) = last("FROM a\nONBUILD RUN <<EOF\necho\nEOF\n") else { panic!() };
    let Command::Run(run) = &trigger.command else { panic!() };
    assert_eq!(run.heredocs[0].content, "echo\n");
}

#[test]
fn onbuild_restrictions() {
    assert_eq!(
        error_of("FROM a\nONBUILD ONBUILD RUN x"),
        "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        error_of("FROM a\nONBUILD from b"),
        "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        error_of("FROM a\nONBUILD MAINTAINER x"),
        "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(error_of("FROM a\nONBUILD"), "dockerfile parse error on line 2: ONBUILD requires at least one argument");
}

#[test]
fn healthcheck_forms() {
    let source = "FROM a\nHEALTHCHECK --interval=30s --timeout=5s --start-period=1m --start-interval=2s --retries=3 CMD curl -f http://localhost/ || exit 1";
    let Command::Healthcheck(Healthcheck::Check(check)) = last(source) else { panic!() };
    assert_eq!(check.interval, Some(core::time::Duration::from_secs(30)));
    assert_eq!(check.timeout, Some(core::time::Duration::from_secs(5)));
    assert_eq!(check.start_period, Some(core::time::Duration::from_secs(60)));
    assert_eq!(check.start_interval, Some(core::time::Duration::from_secs(2)));
    assert_eq!(check.retries, Some(3));
    assert!(!check.test.is_exec());
    let Command::Healthcheck(Healthcheck::Check(check)) = last("FROM a\nHEALTHCHECK cmd [\"/bin/check\"]") else {
        panic!()
    };
    assert!(check.test.is_exec());
    assert_eq!(last("FROM a\nHEALTHCHECK NONE"), Command::Healthcheck(Healthcheck::None));
}

#[test]
fn healthcheck_errors() {
    let prefix = "dockerfile parse error on line 2: ";
    assert_eq!(error_of("FROM a\nHEALTHCHECK NONE x"), format!("{prefix}HEALTHCHECK NONE takes no arguments"));
    assert_eq!(error_of("FROM a\nHEALTHCHECK CMD"), format!("{prefix}Missing command after HEALTHCHECK CMD"));
    assert_eq!(error_of("FROM a\nHEALTHCHECK RUN x"), format!("{prefix}Unknown type \"RUN\" in HEALTHCHECK (try CMD)"));
    assert_eq!(error_of("FROM a\nHEALTHCHECK --interval=10 CMD x"), format!("{prefix}time: invalid duration \"10\""));
    assert_eq!(
        error_of("FROM a\nHEALTHCHECK --interval=1ns CMD x"),
        format!("{prefix}Interval \"interval\" cannot be less than 1ms")
    );
    assert_eq!(
        error_of("FROM a\nHEALTHCHECK --retries=0 CMD x"),
        format!("{prefix}--retries must be at least 1 (not 0)")
    );
    assert_eq!(error_of("FROM a\nHEALTHCHECK"), format!("{prefix}HEALTHCHECK requires at least one argument"));
}

#[test]
fn shell_requires_json() {
    let Command::Shell(shell) = last("FROM a\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]") else { panic!() };
    assert_eq!(raw(&shell), vec!["/bin/bash", "-o", "pipefail", "-c"]);
    assert_eq!(
        error_of("FROM a\nSHELL /bin/bash -c"),
        "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(error_of("FROM a\nSHELL []"), "dockerfile parse error on line 2: SHELL requires at least one argument");
}

// ---- file-level rules ----

#[test]
fn unknown_instruction_names_the_line() {
    assert_eq!(error_of("FROM a\nFROBNICATE x"), "dockerfile parse error on line 2: unknown instruction: FROBNICATE");
    let error = parse("FROM a\nfrobnicate x").expect_err("unknown");
    assert_eq!(error.line, 2);
    assert_eq!(error.kind, ParseErrorKind::UnknownInstruction("FROBNICATE".into()));
    assert_eq!((error.span.start.column, error.span.end.column), (1, 11));
}

#[test]
fn file_with_no_instructions() {
    assert_eq!(error_of(""), "file with no instructions");
    assert_eq!(error_of("# just a comment\n\n   \n"), "file with no instructions");
}

#[test]
fn instructions_before_from() {
    parsed("ARG BASE=alpine\nFROM $BASE");
    assert_eq!(error_of("RUN echo\nFROM a"), "dockerfile parse error on line 1: no build stage in current context");
}

#[test]
fn keywords_are_case_insensitive() {
    let dockerfile = parsed("from alpine\nrun echo\nCoPy a b\n");
    assert_eq!(dockerfile.instructions.len(), 3);
}

#[test]
fn first_pass_errors_win_like_docker() {
    // Docker's line parser sees the heredoc before the instruction parser sees the unknown instruction.
    assert_eq!(error_of("FROM a\nBOGUS\nRUN <<EOF\n"), "dockerfile parse error on line 3: unterminated heredoc");
}

#[test]
fn recovering_parse_collects_every_error() {
    let (dockerfile, errors) = parse_recovering("FROM a\nBOGUS 1\nRUN ok\nENV\nUSER app\n");
    assert_eq!(errors.iter().map(|error| error.line).collect::<Vec<_>>(), vec![2, 4]);
    assert_eq!(dockerfile.instructions.len(), 3);
}

// ---- directives ----

#[test]
fn directives_are_recorded() {
    let dockerfile = parsed("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\nRUN echo `\n  hi\n");
    let names: Vec<&str> = dockerfile.directives.iter().map(|directive| directive.name.as_str()).collect();
    assert_eq!(names, vec!["syntax", "check", "escape"]);
    assert_eq!(dockerfile.escape, '`');
    let Command::Run(run) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(run_word(run).raw, "echo   hi");
    assert_eq!(dockerfile.directive("syntax").map(|directive| directive.value.as_str()), Some("docker/dockerfile:1"));
}

#[test]
fn backtick_escape_leaves_backslashes_alone() {
    let dockerfile = parsed("# escape=`\nFROM mcr.microsoft.com/windows\nWORKDIR C:\\\nRUN dir c:\\\n");
    assert_eq!(dockerfile.instructions.len(), 3);
    let Command::Workdir(dir) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(dir.raw, "C:\\");
}

#[test]
fn directives_stop_at_first_other_line() {
    let dockerfile = parsed("# hello\n# escape=`\nFROM a\n");
    assert!(dockerfile.directives.is_empty());
    assert_eq!(dockerfile.escape, '\\');
    assert_eq!(dockerfile.instructions[0].comments, vec!["hello", "escape=`"]);
    let dockerfile = parsed("\n# escape=`\nFROM a\n");
    assert!(dockerfile.directives.is_empty());
    let dockerfile = parsed("FROM a\n# escape=`\nRUN x \\\n y\n");
    assert_eq!(dockerfile.escape, '\\');
}

#[test]
fn directive_errors() {
    assert_eq!(
        error_of("# escape=x\nFROM a"),
        "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"
    );
    assert_eq!(
        error_of("# escape=`\n# escape=\\\nFROM a"),
        "dockerfile parse error on line 2: only one escape parser directive can be used"
    );
}

// ---- continuations ----

#[test]
fn comments_inside_continuations_are_dropped() {
    let Command::Run(run) = last("FROM a\nRUN apt-get update \\\n# a comment\n    # indented comment\n && echo done")
    else {
        panic!()
    };
    assert_eq!(run_word(&run).raw, "apt-get update  && echo done");
}

#[test]
fn empty_continuation_lines_warn() {
    let dockerfile = parsed("FROM a\nRUN echo \\\n\n  done\n");
    let Command::Run(run) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(run_word(run).raw, "echo   done");
    assert_eq!(dockerfile.warnings.len(), 1);
    assert_eq!(dockerfile.warnings[0].line, 2);
    assert!(dockerfile.warnings[0].message.starts_with("Empty continuation line found in:"));
}

#[test]
fn continuation_at_end_of_file() {
    let Command::Run(run) = last("FROM a\nRUN echo \\") else { panic!() };
    assert_eq!(run_word(&run).raw, "echo");
}

#[test]
fn crlf_bom_and_trailing_whitespace() {
    let dockerfile = parsed("\u{feff}FROM a\r\nRUN echo a \\ \t\r\n  b\r\nUSER x\r\n");
    let Command::Run(run) = &dockerfile.instructions[1].command else { panic!() };
    assert_eq!(run_word(run).raw, "echo a   b");
    let Command::User(user) = &dockerfile.instructions[2].command else { panic!() };
    assert_eq!(user.raw, "x");
}

// ---- spans ----

#[test]
fn spans_point_at_parts() {
    let source = "FROM a\n\n  COPY --from=build \\\n    /src /dst\n";
    let dockerfile = parsed(source);
    let copy_instruction = &dockerfile.instructions[1];
    assert_eq!((copy_instruction.span.start.line, copy_instruction.span.start.column), (3, 3));
    assert_eq!((copy_instruction.span.end.line, copy_instruction.span.end.column), (4, 14));
    assert_eq!(&source[copy_instruction.keyword_span.byte_range()], "COPY");
    assert_eq!(&source[copy_instruction.flags[0].span.byte_range()], "--from=build");
    let Command::Copy(copy) = &copy_instruction.command else { panic!() };
    assert_eq!(&source[copy.sources[0].span.byte_range()], "/src");
    assert_eq!((copy.destination.span.start.line, copy.destination.span.start.column), (4, 10));
    let Command::From(from) = &dockerfile.instructions[0].command else { panic!() };
    assert_eq!(&source[from.image.span.byte_range()], "a");
}

#[test]
fn json_element_spans() {
    let source = "FROM a\nCMD [\"a\",  \"b\"]";
    let Command::Cmd(CommandLine::Exec(words)) = last(source) else { panic!() };
    assert_eq!(&source[words[1].span.byte_range()], "\"b\"");
}

// ---- stages ----

#[test]
fn stages_and_meta_args() {
    let dockerfile = parsed("ARG V=1\nFROM a AS build\nRUN x\nFROM b\nCOPY --from=build /x /x\nCMD y\n");
    let stages = dockerfile.stages();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name().as_deref(), Some("build"));
    assert_eq!(stages[1].instructions.len(), 2);
    assert_eq!(dockerfile.meta_args().count(), 1);
}

// ---- expansion ----

fn lookup(name: &str) -> Option<String> {
    match name {
        "VERSION" => Some("1.2".into()),
        "APP" => Some("/srv/app".into()),
        "PORTS" => Some("80 443".into()),
        "USER_ID" => Some("1000".into()),
        _ => None,
    }
}

fn expanded(source: &str) -> Result<Command, ExpandError> {
    let dockerfile = parsed(source);
    let instruction = dockerfile.instructions.last().expect("instruction");
    instruction.expand(lookup, dockerfile.escape).map(|instruction| instruction.command)
}

#[test]
fn expand_substitutes_where_docker_does() {
    let Ok(Command::From(from)) = expanded("ARG VERSION\nFROM alpine:${VERSION}") else { panic!() };
    assert_eq!(from.image.raw, "alpine:1.2");
    let Ok(Command::Copy(copy)) = expanded("FROM a\nCOPY --chown=${USER_ID}:${USER_ID} app/ $APP/") else { panic!() };
    assert_eq!(copy.chown.as_deref(), Some("1000:1000"));
    assert_eq!(copy.destination.raw, "/srv/app/");
    let Ok(Command::Expose(ports)) = expanded("FROM a\nEXPOSE $PORTS 8080/tcp") else { panic!() };
    assert_eq!(raw(&ports), vec!["80", "443", "8080/tcp"]);
    let Ok(Command::Env(env)) = expanded("FROM a\nENV DIR=\"$APP/data dir\" ESC=\\$APP") else { panic!() };
    assert_eq!(substitute(&env.pairs[0].value.raw, |_| None).as_deref(), Ok("/srv/app/data dir"));
    assert_eq!(substitute(&env.pairs[1].value.raw, |_| None).as_deref(), Ok("$APP"));
    let Ok(Command::Workdir(dir)) = expanded("FROM a\nWORKDIR ${APP:-/default}") else { panic!() };
    assert_eq!(dir.raw, "/srv/app");
}

#[test]
fn expand_leaves_run_cmd_and_onbuild_alone() {
    for source in ["FROM a\nRUN echo $APP", "FROM a\nCMD echo $APP", "FROM a\nONBUILD WORKDIR $APP"] {
        let dockerfile = parsed(source);
        let instruction = dockerfile.instructions.last().expect("instruction");
        assert_eq!(instruction.expand(lookup, '\\').as_ref(), Ok(instruction));
    }
}

#[test]
fn expand_reports_required_variables() {
    let error = expanded("FROM a\nWORKDIR ${MISSING:?set MISSING}").expect_err("required");
    assert_eq!(error.source, SubstitutionError::Required { name: "MISSING".into(), message: "set MISSING".into() });
    assert_eq!(error.span.start.line, 2);
}

// ---- printing ----

const KITCHEN_SINK: &str = r#"# syntax=docker/dockerfile:1.7
# escape=\

# The base
ARG BASE=debian:12 EXTRA
FROM --platform=$BUILDPLATFORM ${BASE} AS builder
LABEL org.opencontainers.image.title="My App" version=1
LABEL legacy key value
MAINTAINER Jane <jane@example.com>
ENV A=1 B="two words" C=a\ b
ENV LEGACY some value
RUN --mount=type=cache,target=/var/cache/apt apt-get update && \
    apt-get install -y --no-install-recommends curl && \
    rm -rf /var/lib/apt/lists/*
RUN ["/bin/sh", "-c", "echo \"quoted\" \\ back"]
RUN <<-EOF 3<<'DATA'
	echo $HOME
	EOF
literal $HOME
DATA
COPY --chown="app user" --chmod=0755 --link src/ /app/
COPY ["a b.txt", "/dest/"]
COPY <<EOF /etc/config
key=value
EOF
ADD --checksum=sha256:abc https://example.com/a.tgz /tmp/
EXPOSE 80 443/tcp 8000-8010/udp
VOLUME ["/data"]
VOLUME /logs /cache
USER app:app
WORKDIR /app
ONBUILD COPY . /app/src
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=3 CMD ["curl", "-f", "http://localhost/"]
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
FROM scratch
HEALTHCHECK NONE
COPY --from=builder /app /app
ENTRYPOINT ["/app/run"]
CMD --help
"#;

#[test]
fn kitchen_sink_parses() {
    let dockerfile = parsed(KITCHEN_SINK);
    assert_eq!(dockerfile.stages().len(), 2);
    assert_eq!(dockerfile.instructions[0].comments, vec!["The base"]);
}

#[test]
fn kitchen_sink_round_trips() {
    assert_round_trip(KITCHEN_SINK);
}

#[test]
fn printing_is_stable() {
    let once = print(&parsed(KITCHEN_SINK));
    let twice = print(&parsed(&once));
    assert_eq!(once, twice);
}

#[test]
fn round_trip_edge_cases() {
    for source in [
        "FROM a\nCMD\n",
        "FROM a\nRUN [\"a\\nb\", \"\\u0001\"]\n",
        "# escape=`\nFROM a\nRUN echo `\n  b\n",
        "#\n# escape=`\nFROM a\n",
        "FROM a\nENV A=\"x\ty\"\n",
        "FROM a\nCOPY --chown=\"a\\\\b\" x y\n",
        "FROM a\nRUN echo \\\\\n",
        "FROM a\nONBUILD RUN <<EOF\nx\nEOF\n",
        "FROM a\nLABEL \"a b\" c\n",
        // Found by fuzz/ (dockerfile): the unclosed quote makes the rest of the line one flag, spaces and all.
        "FROM a\nRUN --x\"y z\n",
        "FROM a\nRUN --m\\ \"'\\\"=v x\n",
    ] {
        assert_round_trip(source);
    }
}

#[test]
fn word_positions_follow_continuation_lines() {
    let source = "FROM a\nRUN apt-get update && \\\n    apt-get install curl\n";
    let Command::Run(run) = last(source) else { panic!() };
    let word = run_word(&run);
    let install = word.raw.find("install").expect("install");
    let position = word.position_at(install);
    assert_eq!((position.line, position.column), (3, 13));
    assert_eq!(&source[word.span_of(install..install + 7).byte_range()], "install");
    let update = word.raw.find("update").expect("update");
    assert_eq!(&source[word.span_of(update..update + 6).byte_range()], "update");
}
