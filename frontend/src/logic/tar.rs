//! A ustar archive writer for the files of a build context, which live in memory (the browser has no file system
//! to point a tar crate at). POST /build reads the context as a tar stream.
//!
//! Format: POSIX.1-1988 ustar, 512-byte header per file (name up to 100 bytes, or 155-byte prefix + 100-byte name
//! split at a slash), content padded to 512 bytes, two zero blocks at the end.

const BLOCK: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarError {
    #[error("the file name {0:?} is too long for a tar header (at most 255 bytes, split at a slash)")]
    NameTooLong(String),
    #[error("the file name is empty")]
    EmptyName,
}

/// One regular file to put in the archive.
pub struct TarEntry<'a> {
    /// Relative path with `/` separators (`Dockerfile`, `site/index.html`).
    pub path: &'a str,
    pub contents: &'a [u8],
    /// Permission bits; scripts want 0o755 so RUN can execute them.
    pub mode: u32,
}

/// The whole archive for `entries`, in order.
pub fn write_archive(entries: &[TarEntry<'_>]) -> Result<Vec<u8>, TarError> {
    let mut archive = Vec::new();
    for entry in entries {
        append_file(&mut archive, entry)?;
    }
    archive.resize(archive.len() + 2 * BLOCK, 0);
    Ok(archive)
}

fn append_file(archive: &mut Vec<u8>, entry: &TarEntry<'_>) -> Result<(), TarError> {
    let path = entry.path.trim_start_matches("./").trim_start_matches('/');
    if path.is_empty() {
        return Err(TarError::EmptyName);
    }
    let (prefix, name) = split_name(path)?;
    let mut header = [0_u8; BLOCK];
    header[..name.len()].copy_from_slice(name.as_bytes());
    write_octal(&mut header[100..108], u64::from(entry.mode & 0o7777));
    write_octal(&mut header[108..116], 0); // uid
    write_octal(&mut header[116..124], 0); // gid
    write_octal(&mut header[124..136], entry.contents.len() as u64);
    write_octal(&mut header[136..148], 0); // mtime: fixed, so the same files give the same archive (build cache)
    header[156] = b'0'; // regular file
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field read as spaces.
    header[148..156].fill(b' ');
    let checksum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    write_octal(&mut header[148..155], u64::from(checksum));
    header[155] = b' ';

    archive.extend_from_slice(&header);
    archive.extend_from_slice(entry.contents);
    let padding = (BLOCK - entry.contents.len() % BLOCK) % BLOCK;
    archive.resize(archive.len() + padding, 0);
    Ok(())
}

/// Splits a path longer than 100 bytes into ustar's prefix (up to 155) and name (up to 100) at a slash.
fn split_name(path: &str) -> Result<(&str, &str), TarError> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    let too_long = || TarError::NameTooLong(path.to_string());
    path.match_indices('/')
        .map(|(index, _)| index)
        .filter(|&index| index <= 155 && path.len() - index - 1 <= 100 && index + 1 < path.len())
        .map(|index| (&path[..index], &path[index + 1..]))
        .next()
        .ok_or_else(too_long)
}

/// Writes `value` as zero-padded octal filling all but the last byte of `field`, which stays NUL.
fn write_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let bytes = text.as_bytes();
    // A value wider than the field keeps its low digits; sizes here are far below 8 GiB, the 11-digit limit.
    let start = bytes.len().saturating_sub(digits);
    field[..digits].copy_from_slice(&bytes[start..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn octal_field(field: &[u8]) -> u64 {
        let text: String = field.iter().take_while(|&&b| b != 0 && b != b' ').map(|&b| b as char).collect();
        u64::from_str_radix(text.trim(), 8).unwrap_or(u64::MAX)
    }

    #[wasm_bindgen_test]
    fn writes_headers_content_and_trailer() {
        let archive = write_archive(&[
            TarEntry { path: "Dockerfile", contents: b"FROM busybox\n", mode: 0o644 },
            TarEntry { path: "run.sh", contents: &[b'x'; 600], mode: 0o755 },
        ])
        .unwrap();
        // header + 1 block, header + 2 blocks, 2 trailer blocks
        assert_eq!(archive.len(), 512 * 7);
        assert_eq!(&archive[..10], b"Dockerfile");
        assert_eq!(octal_field(&archive[124..136]), 13);
        assert_eq!(&archive[512..525], b"FROM busybox\n");
        assert_eq!(&archive[1024..1030], b"run.sh");
        assert_eq!(octal_field(&archive[1024 + 100..1024 + 108]), 0o755);
        assert_eq!(&archive[257..262], b"ustar");
        let mut header = archive[..512].to_vec();
        let stored = octal_field(&header[148..156]);
        header[148..156].fill(b' ');
        assert_eq!(stored, header.iter().map(|&b| u64::from(b)).sum::<u64>());
        assert!(archive[512 * 5..].iter().all(|&b| b == 0));
    }

    #[wasm_bindgen_test]
    fn long_names_use_the_prefix_field() {
        let path = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let archive = write_archive(&[TarEntry { path: &path, contents: b"", mode: 0o644 }]).unwrap();
        assert_eq!(&archive[..50], "f".repeat(50).as_bytes());
        assert_eq!(&archive[345..465], "d".repeat(120).as_bytes());
        assert_eq!(
            write_archive(&[TarEntry { path: &"x".repeat(300), contents: b"", mode: 0 }]).unwrap_err(),
            TarError::NameTooLong("x".repeat(300))
        );
    }
}
