//! What the run dialog starts with for an image: `-it` when the image's command is a shell, which exits at once
//! without a terminal (busybox's `sh`, an `alpine` or `ubuntu` base), and off for a program that runs by itself.

/// Shells that read commands from their stdin when started with no arguments.
const SHELLS: &[&str] = &["sh", "ash", "bash", "dash", "zsh", "ksh", "fish"];

/// Whether the container's process would be an interactive shell: the entrypoint (or, without one, the command)
/// is a shell given no script or `-c`.
pub fn runs_a_shell(entrypoint: &[String], cmd: &[String]) -> bool {
    let argv: Vec<&String> = entrypoint.iter().chain(cmd).collect();
    let Some(program) = argv.first() else { return false };
    let name = program.rsplit('/').next().unwrap_or(program);
    SHELLS.contains(&name) && argv.len() == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[wasm_bindgen_test]
    fn shells_alone_want_a_terminal() {
        assert!(runs_a_shell(&[], &words("sh")));
        assert!(runs_a_shell(&[], &words("/bin/bash")));
        assert!(runs_a_shell(&words("/bin/sh"), &[]));
        assert!(!runs_a_shell(&[], &words("sh -c /start")), "a script runs by itself");
        assert!(!runs_a_shell(&words("/bin/sh -c"), &words("echo hi")));
        assert!(!runs_a_shell(&[], &words("nginx -g daemon off;")));
        assert!(!runs_a_shell(&[], &[]));
        assert!(!runs_a_shell(&[], &words("/usr/bin/shellcheck")));
    }
}
