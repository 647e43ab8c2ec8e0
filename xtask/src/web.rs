//! `cargo xtask web`: builds the playground (frontend/) with trunk into `<target>/web`, where the daemon serves it
//! from (`<dir of the berth executable>/../web`, the same for target/debug/berth and target/release/berth).
//!
//! Trunk downloads wasm-bindgen and wasm-opt from GitHub unless it finds them on PATH at exactly the versions
//! Trunk.toml names; GitHub is unreachable here, so this checks both tools first and runs trunk with --offline,
//! turning any mismatch into an immediate error instead of a download that hangs or fails obscurely.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};

use crate::command::{self, probe};
use crate::workspace::Workspace;

pub fn web(workspace: &Workspace) -> Result<()> {
    let started = Instant::now();
    let node_bin = workspace.frontend().join("node_modules/.bin");
    // binaryen's wasm-opt 132 from npm must win over Debian's /usr/bin/wasm-opt 108, which rejects the wasm that
    // wasm-bindgen 0.2.130 emits.
    let path = command::path_with_first(&node_bin);
    check_tools(workspace, &path)?;

    // trunk reruns wasm-bindgen and wasm-opt (about 15 s) even when nothing changed, and `cargo xtask test` builds
    // the app on every run: skip it when no input is newer than the last successful build.
    let stamp = workspace.target.join("web.stamp");
    let dist = workspace.web_dist();
    let bundles_present = GENERATED_BUNDLES.iter().all(|bundle| workspace.frontend().join(bundle).exists());
    if dist.join("index.html").exists()
        && bundles_present
        && is_precompressed(&dist)
        && newer_than(&web_inputs(workspace), &stamp).is_none()
    {
        println!("xtask web: {} is up to date", dist.display());
        return Ok(());
    }

    let build_started = SystemTime::now();
    // trunk --offline makes its cargo offline too, so fetch the crates first (a no-op when they are all present).
    command::run(command::cargo().arg("fetch").current_dir(&workspace.root))?;
    command::run(
        Command::new("trunk")
            .args(["build", "--release", "--offline", "--dist"])
            .arg(&dist)
            .current_dir(&workspace.root)
            .env("PATH", &path)
            // The rest of the wasm release profile (toolchain.md): cargo allows lto and panic only for the whole
            // profile, not per package, so they are set for trunk's cargo alone, which builds only the wasm;
            // panics still reach the browser console. Likewise opt-level z for every crate of the wasm, not only
            // berth-web (Cargo.toml): yew, serde and the bollard models are most of the code, and sizing them too
            // takes the gzipped wasm from 467 KB to 417 KB.
            .env("CARGO_PROFILE_RELEASE_LTO", "true")
            .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    )?;

    let sizes = precompress(&dist)?;

    // Dated when the build started, so that an edit made while trunk ran still counts as newer.
    std::fs::write(&stamp, "<target>/web was built from the inputs as of this file's mtime\n")
        .and_then(|()| std::fs::File::options().write(true).open(&stamp))
        .and_then(|file| file.set_modified(build_started))
        .with_context(|| format!("writing {}", stamp.display()))?;

    println!(
        "xtask web: built {} ({} KB of wasm; {} KB gzip, {} KB brotli as served) in {:.1} s",
        dist.display(),
        sizes.wasm / 1024,
        sizes.wasm_gzip / 1024,
        sizes.wasm_brotli / 1024,
        started.elapsed().as_secs_f32()
    );
    Ok(())
}

/// Extensions of the files the daemon serves precompressed (tower-http's ServeDir picks `.br` or `.gz` by the
/// request's Accept-Encoding).
const COMPRESSED_EXTENSIONS: &[&str] = &["wasm", "js", "css", "html"];

struct WasmSizes {
    wasm: u64,
    wasm_gzip: u64,
    wasm_brotli: u64,
}

/// Writes `<file>.gz` (gzip -9) and `<file>.br` (brotli, quality 11) beside each served file of the app, once per
/// build, so that the daemon never compresses per request.
fn precompress(dist: &Path) -> Result<WasmSizes> {
    let mut sizes = WasmSizes { wasm: 0, wasm_gzip: 0, wasm_brotli: 0 };
    for path in served_files(dist)? {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gzip, &bytes)?;
        let gzip = gzip.finish()?;
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut bytes.as_slice(), &mut brotli, &params)?;
        write_beside(&path, "gz", &gzip)?;
        write_beside(&path, "br", &brotli)?;
        if path.extension().is_some_and(|ext| ext == "wasm") {
            sizes.wasm += bytes.len() as u64;
            sizes.wasm_gzip += gzip.len() as u64;
            sizes.wasm_brotli += brotli.len() as u64;
        }
    }
    Ok(sizes)
}

fn served_files(dist: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dist.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| COMPRESSED_EXTENSIONS.contains(&ext))
            {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// `<path>.<extension>`: the compressed copy of a served file.
fn compressed_copy(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{extension}"));
    PathBuf::from(name)
}

fn write_beside(path: &Path, extension: &str, bytes: &[u8]) -> Result<()> {
    let copy = compressed_copy(path, extension);
    std::fs::write(&copy, bytes).with_context(|| format!("writing {}", copy.display()))
}

/// Whether every served file of the app has its compressed copies (a dist built before precompression has not).
fn is_precompressed(dist: &Path) -> bool {
    served_files(dist).is_ok_and(|files| {
        files.iter().all(|file| ["gz", "br"].iter().all(|extension| compressed_copy(file, extension).exists()))
    })
}

/// Written by trunk's pre_build hook (esbuild, `npm run bundle` in frontend/) on every build: outputs, not inputs.
/// The wasm imports them (`#[wasm_bindgen(module = "/js/editor.js")]`), so clippy and the wasm tests need them too.
pub const GENERATED_BUNDLES: &[&str] = &["js/editor.js", "js/terminal.js"];

/// What the built app depends on. Cargo.lock covers crate and wasm-bindgen versions; package-lock.json covers
/// wasm-opt; shared/ is compiled into the wasm.
fn web_inputs(workspace: &Workspace) -> Vec<PathBuf> {
    let root = &workspace.root;
    ["frontend", "static", "shared", "Trunk.toml", "Cargo.lock", "Cargo.toml"]
        .iter()
        .map(|input| root.join(input))
        .collect()
}

/// The first file under `inputs` modified after `stamp` was written, or None when all are older. A missing stamp
/// counts as infinitely old.
fn newer_than(inputs: &[PathBuf], stamp: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(stamp).and_then(|metadata| metadata.modified()).ok();
    let mut pending: Vec<PathBuf> = inputs.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            // node_modules is checked by setup against package-lock.json, an input itself.
            if path.file_name().is_some_and(|name| name == "node_modules") {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|entry| entry.ok()).map(|entry| entry.path()));
            }
        } else if is_generated_bundle(&path) {
            continue;
        } else if built.is_none_or(|built| metadata.modified().map_or(true, |modified| modified > built)) {
            return Some(path);
        }
    }
    None
}

fn is_generated_bundle(path: &Path) -> bool {
    GENERATED_BUNDLES.iter().any(|bundle| path.ends_with(Path::new("frontend").join(bundle)))
}

fn check_tools(workspace: &Workspace, path: &std::ffi::OsStr) -> Result<()> {
    let on_path = |program: &str| {
        let mut command = Command::new(program);
        command.arg("--version").env("PATH", path);
        command
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };

    if probe("trunk", &["--version"]).is_none() {
        bail!("trunk is missing: run `cargo xtask setup`");
    }
    let locked = workspace.locked_version("wasm-bindgen")?;
    let trunk_toml = std::fs::read_to_string(workspace.root.join("Trunk.toml")).context("reading Trunk.toml")?;
    let trunk_pin = trunk_toml
        .lines()
        .find_map(|line| line.trim().strip_prefix("wasm_bindgen = \""))
        .map(|rest| rest.trim_end_matches('"'));
    if trunk_pin != Some(locked.as_str()) {
        bail!("Trunk.toml [tools] wasm_bindgen is {trunk_pin:?} but Cargo.lock pins wasm-bindgen {locked}: make them equal");
    }
    match on_path("wasm-bindgen") {
        Some(found) if found == format!("wasm-bindgen {locked}") => {}
        found => bail!(
            "trunk needs wasm-bindgen {locked} on PATH (the version Cargo.lock pins), found {}: run `cargo xtask setup`",
            found.unwrap_or_else(|| "none".into())
        ),
    }
    match on_path("wasm-opt") {
        Some(found) if found.contains("version 132") => {}
        found => bail!(
            "trunk needs binaryen's wasm-opt 132 from frontend/node_modules, found {}: run `cargo xtask setup`",
            found.unwrap_or_else(|| "none".into())
        ),
    }
    Ok(())
}
