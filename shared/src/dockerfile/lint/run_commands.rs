//! Shell habits in RUN: BL016 cd, BL017 sudo, BL018 pipes without pipefail, BL022 curl | sh.

use super::script::{basename, commands, is_shell_program, Connector, Script};
use super::{Context, Sink};
use crate::dockerfile::ast::Command;

/// Docker's default SHELL on Linux.
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !["BL016", "BL017", "BL018", "BL022"].iter().any(|id| sink.enabled(id)) {
        return;
    }
    for stage in &context.stages {
        let mut shell: Vec<String> = DEFAULT_SHELL.iter().map(|part| part.to_string()).collect();
        for instruction in stage.instructions {
            match &instruction.command {
                Command::Shell(words) => shell = words.iter().map(|word| word.raw.clone()).collect(),
                Command::Run(run) => {
                    let shell_is_posix = shell.first().is_some_and(|program| is_shell_program(program));
                    let shell_has_pipefail = shell.iter().any(|part| part.contains("pipefail"));
                    let mut reported_cd = false;
                    for script in Script::of_run(run) {
                        let script_commands = commands(script.text);
                        let mut pipefail_set = shell_has_pipefail;
                        for (index, command) in script_commands.iter().enumerate() {
                            let Some(program_index) = command.program_index() else {
                                continue;
                            };
                            let program_word = &command.words[program_index];
                            let program = basename(&program_word.value);
                            if command.words.first().is_some_and(|word| word.value == "sudo") {
                                sink.report(
                                    "BL017",
                                    script.span_of(command.words[0].range.clone()),
                                    "sudo in RUN: RUN already runs as the stage's USER; switch with USER instead",
                                );
                            }
                            if program == "cd" && !reported_cd {
                                reported_cd = true;
                                let target =
                                    command.arguments().first().map(|word| word.value.clone()).unwrap_or_default();
                                sink.report(
                                    "BL016",
                                    script.span_of(program_word.range.clone()),
                                    format!("`cd {target}` lasts only until the end of this RUN: use `WORKDIR {target}` for the instructions that follow"),
                                );
                            }
                            if program == "set"
                                && command.arguments().iter().any(|word| word.value.contains("pipefail"))
                            {
                                pipefail_set = true;
                            }
                            if command.next != Connector::Pipe {
                                continue;
                            }
                            let Some(receiver) = script_commands.get(index + 1) else {
                                continue;
                            };
                            let receiver_program = receiver.program().unwrap_or_default();
                            let pipe_span = script.span_of(
                                command.words[0].range.start
                                    ..receiver.words.last().map_or(command.words[0].range.end, |word| word.range.end),
                            );
                            let downloads = matches!(program, "curl" | "wget");
                            let interprets = is_shell_program(receiver_program)
                                || matches!(receiver_program, "python" | "python3" | "perl" | "ruby" | "node");
                            if downloads && interprets {
                                sink.report(
                                    "BL022",
                                    pipe_span,
                                    format!("`{program} ... | {receiver_program}` runs whatever the server sends: download to a file, verify its checksum, then run it"),
                                );
                            }
                            if shell_is_posix && !pipefail_set {
                                sink.report(
                                    "BL018",
                                    pipe_span,
                                    format!("if `{program}` fails, the pipe still succeeds with `{receiver_program}`'s status: start the RUN with `set -o pipefail &&` or use SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
