//! The layer tar reader (crates/image): any bytes must be read by `layer_tree::read_layer` (the layers page, image
//! diffs), unpacked as a pulled layer is, and unpacked as a tar for the daemon's own disk (the playground's compose
//! uploads), without a panic, errors coming back as values. What is read must be clean absolute paths and add up
//! (wasted bytes never past the total); what is unpacked must stay inside its directory. Seeds:
//! fuzz/seeds/layer_tar/, real tars. Run by `cargo xtask fuzz --target layer_tar`.
//!
//! A tar header carries a checksum of itself, which random mutations almost always break, and the reader then stops
//! at the first header. So each input is also read with its checksums made right (see [`with_valid_checksums`]),
//! which takes the fuzzer past the check to everything behind it; the raw input still covers the check itself.
#![no_main]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_image::layer_tree::{analyze, diff, read_layer, visible_files, LayerEntry, LayerInput};
use libfuzzer_sys::fuzz_target;

const BLOCK: usize = 512;
/// The checksum field of a header: bytes 148..156, summed as spaces.
const CHECKSUM: std::ops::Range<usize> = 148..156;
const SENTINEL: &[u8] = b"must stay as it is";

/// The input with the checksum of every header fixed, found as a tar reader finds them: a header, its entry's data
/// rounded up to whole blocks (the size field in octal, or base-256 when its first byte has the high bit), the
/// next header. All-zero blocks (the end marker) are left alone; a size that cannot be read stops the walk.
fn with_valid_checksums(data: &[u8]) -> Vec<u8> {
    let mut tar = data.to_vec();
    let mut offset = 0;
    while offset + BLOCK <= tar.len() {
        let header = &mut tar[offset..offset + BLOCK];
        if header.iter().all(|byte| *byte == 0) {
            offset += BLOCK;
            continue;
        }
        let sum: u32 = header
            .iter()
            .enumerate()
            .map(|(index, byte)| if CHECKSUM.contains(&index) { u32::from(b' ') } else { u32::from(*byte) })
            .sum();
        header[CHECKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let Some(size) = size_field(&header[124..136]) else { break };
        let data_blocks = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
        let Some(next) = usize::try_from(data_blocks).ok().and_then(|blocks| (offset + BLOCK).checked_add(blocks))
        else {
            break;
        };
        offset = next;
    }
    tar
}

fn size_field(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: the rest of the field big-endian.
        return field[1..].iter().try_fold(u64::from(field[0] & 0x7f), |size, byte| {
            size.checked_mul(256).map(|size| size | u64::from(*byte))
        });
    }
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// gzip, bzip2, xz or zstd by their magic, as berth_fs::decompress tells them apart.
fn is_compressed(data: &[u8]) -> bool {
    [&b"\x1f\x8b"[..], b"BZh", b"\xfd7zXZ\0", b"\x28\xb5\x2f\xfd"].iter().any(|magic| data.starts_with(magic))
}

/// What the layers page and image diffs make of what `read_layer` returns.
fn check_read(tar: &[u8]) {
    let Ok(entries) = read_layer(tar) else { return };
    for entry in &entries {
        let clean = entry.path == "/"
            || (entry.path.starts_with('/')
                && !entry.path.ends_with('/')
                && entry.path[1..].split('/').all(|part| !part.is_empty() && part != "." && part != ".."));
        assert!(clean, "read_layer returned the path {:?}", entry.path);
        if entry.whiteout.is_some() {
            assert_eq!(entry.size, 0, "a whiteout with a size: {entry:?}");
        }
    }
    // The same layer twice: the second one overwrites all of the first.
    let layer = |diff_id: &str| LayerInput {
        diff_id: diff_id.to_string(),
        created_by: "/bin/sh -c #(nop) COPY . /".to_string(),
        line: Some(1),
        entries: entries.clone(),
    };
    let layers = analyze("sha256:fuzz", vec![layer("sha256:a"), layer("sha256:b")]);
    assert!(layers.wasted_bytes <= layers.total_bytes, "more wasted than stored: {layers:?}");
    assert!((0.0..=1.0).contains(&layers.efficiency), "efficiency {}", layers.efficiency);
    let one: Vec<(String, Vec<LayerEntry>)> = vec![("sha256:a".to_string(), entries.clone())];
    let two = vec![("sha256:a".to_string(), entries.clone()), ("sha256:b".to_string(), entries)];
    let (before, after) = (visible_files(&one), visible_files(&two));
    let _ = diff("one", "two", &before, &after);
    assert!(diff("one", "one", &before, &before).changes.is_empty(), "an image differs from itself");
}

/// A directory per process, on tmpfs where there is one: `root/` is unpacked into and emptied after each input;
/// `outside/` beside it holds a sentinel that no entry may reach.
fn scratch() -> &'static Path {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let parent = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let dir = parent.join(format!("berth-fuzz-layer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("outside")).expect("scratch directory");
        fs::write(dir.join("outside/sentinel"), SENTINEL).expect("sentinel");
        dir
    })
}

/// Empties a tree an archive made, whatever modes it gave its directories (a 0o000 one cannot be listed by anyone
/// but root). Never follows a symlink.
fn wipe(path: &Path) {
    if fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    fn open_up(path: &Path) {
        let Ok(meta) = fs::symlink_metadata(path) else { return };
        if meta.is_dir() {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
            for entry in fs::read_dir(path).into_iter().flatten().flatten() {
                open_up(&entry.path());
            }
        }
    }
    open_up(path);
    fs::remove_dir_all(path).unwrap_or_else(|error| panic!("cannot empty {}: {error}", path.display()));
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("scratch directory lists")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Unpacks `tar` into a fresh `root/` with `unpack`, then checks nothing changed beside it.
fn check_unpack(tar: &[u8], unpack: impl FnOnce(&Path, &[u8])) {
    let scratch = scratch();
    let root = scratch.join("root");
    fs::create_dir(&root).expect("root directory");
    unpack(&root, tar);
    let expected: BTreeSet<String> = ["outside", "root"].into_iter().map(String::from).collect();
    assert_eq!(names(scratch), expected, "an entry was made beside the destination");
    assert_eq!(names(&scratch.join("outside")), BTreeSet::from(["sentinel".to_string()]), "an entry got outside");
    let sentinel = scratch.join("outside/sentinel");
    assert!(fs::symlink_metadata(&sentinel).expect("sentinel").is_file(), "the sentinel was replaced");
    assert_eq!(fs::read(&sentinel).expect("sentinel"), SENTINEL, "the sentinel was written through");
    assert!(fs::symlink_metadata(&root).expect("root").is_dir(), "the destination was replaced");
    wipe(&root);
}

fuzz_target!(|data: &[u8]| {
    check_read(data);
    let fixed = with_valid_checksums(data);
    if fixed != data {
        check_read(&fixed);
    }
    // A pulled layer: OCI whiteouts to overlay ones, the archive's root metadata applied, capped as the daemon
    // caps it (smaller here, so that an entry claiming more than the cap is refused from its header).
    check_unpack(&fixed, |root, tar| {
        let _ = berth_image::fuzzing::unpack_layer(root, tar, Some(1 << 20));
    });
    // A tar for the daemon's own disk (the playground's compose files): no devices, no setuid bits, no xattrs. It
    // may come compressed, which the checksum walk would only garble.
    let host_input = if is_compressed(data) { data } else { &fixed[..] };
    check_unpack(host_input, |root, tar| {
        let _ = berth_image::archive::extract_tar_on_host(root, tar);
    });
});
