//! Where things are. Paths come from `cargo metadata`, so CARGO_TARGET_DIR and `build.target-dir` are honoured.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

pub struct Workspace {
    /// The directory holding the workspace Cargo.toml (and Cargo.lock, Trunk.toml, frontend/).
    pub root: PathBuf,
    /// Cargo's target directory: the web app goes to `<target>/web`, next to `debug/` and `release/`, because the
    /// daemon serves `<dir of the berth executable>/../web`.
    pub target: PathBuf,
}

impl Workspace {
    pub fn locate() -> Result<Workspace> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .context("running cargo metadata")?;
        if !output.status.success() {
            bail!("cargo metadata failed:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("decoding cargo metadata")?;
        let path = |key: &str| -> Result<PathBuf> {
            metadata[key].as_str().map(PathBuf::from).with_context(|| format!("cargo metadata has no {key}"))
        };
        Ok(Workspace { root: path("workspace_root")?, target: path("target_directory")? })
    }

    pub fn frontend(&self) -> PathBuf {
        self.root.join("frontend")
    }

    /// Where `cargo xtask web` writes the app and where the daemon looks for it.
    pub fn web_dist(&self) -> PathBuf {
        self.target.join("web")
    }

    /// The version Cargo.lock pins for a registry package, e.g. "0.2.130" for "wasm-bindgen". wasm-bindgen-cli must
    /// match the wasm-bindgen crate exactly, or the generated glue does not fit the wasm.
    pub fn locked_version(&self, package: &str) -> Result<String> {
        let lock_path = self.root.join("Cargo.lock");
        let lock = std::fs::read_to_string(&lock_path).with_context(|| format!("reading {}", lock_path.display()))?;
        locked_version_in(&lock, package).with_context(|| format!("{} has no package {package:?}", lock_path.display()))
    }
}

/// Cargo.lock is TOML, but its `[[package]]` entries always start with `name` then `version` lines, so a line scan
/// is enough and keeps xtask free of a TOML parser.
fn locked_version_in(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::locked_version_in;

    #[test]
    fn finds_the_exact_package_not_a_prefix() {
        let lock = "\
[[package]]
name = \"wasm-bindgen-futures\"
version = \"0.4.80\"

[[package]]
name = \"wasm-bindgen\"
version = \"0.2.130\"
";
        assert_eq!(locked_version_in(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version_in(lock, "wasm-bindgen-futures").as_deref(), Some("0.4.80"));
        assert_eq!(locked_version_in(lock, "trunk"), None);
    }
}
