//! The OCI image layout on disk: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
//!
//! Every file is written atomically (temp file in the same directory, fsync, rename, fsync of the directory)
//! and every blob is content addressed: its name is the sha256 of its bytes, verified on read.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::image::ImageIndex;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::error::{ImageError, IoContext};
use super::reference::is_lower_hex;

/// Prefix of the temporary files and directories this module leaves behind only on a crash.
pub(crate) const TMP_PREFIX: &str = ".tmp-";
const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";

/// An OCI image layout directory.
#[derive(Debug)]
pub(crate) struct Layout {
    dir: PathBuf,
    blobs: PathBuf,
}

impl Layout {
    /// Open (creating if needed) the layout at `dir`, removing temp files left by a crash.
    pub(crate) fn open(dir: &Path) -> Result<Self, ImageError> {
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).ctx(&blobs)?;
        let layout = Layout { dir: dir.to_path_buf(), blobs };
        let marker = dir.join(LAYOUT_FILE);
        if !marker.exists() {
            atomic_write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = dir.join(INDEX_FILE);
        if !index.exists() {
            layout.write_index(&ImageIndex::default())?;
        }
        remove_temps(&layout.blobs)?;
        remove_temps(dir)?;
        Ok(layout)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a blob; the digest must be `sha256:<64 lowercase hex>`.
    pub(crate) fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.blobs.join(digest_hex(digest)?))
    }

    /// Store bytes as a blob; returns (`sha256:<hex>`, size).
    pub(crate) fn write_blob(&self, bytes: &[u8]) -> Result<(String, u64), ImageError> {
        self.write_blob_from(bytes)
    }

    /// Stream a blob into the store, hashing as it goes; returns (`sha256:<hex>`, size).
    pub(crate) fn write_blob_from(&self, mut src: impl Read) -> Result<(String, u64), ImageError> {
        self.write_blob_with(|w| io::copy(&mut src, w).map(|_| ()).map_err(|e| ImageError::io("blob source", e)))
    }

    /// Store the bytes `f` writes as a blob (hashed on the way to a temp file, then renamed to its digest);
    /// returns (`sha256:<hex>`, size).
    pub(crate) fn write_blob_with(
        &self,
        f: impl FnOnce(&mut dyn Write) -> Result<(), ImageError>,
    ) -> Result<(String, u64), ImageError> {
        let (tmp_path, file) = temp_file(&self.blobs)?;
        let result = (|| {
            let mut w = HashingWriter::new(io::BufWriter::new(file));
            f(&mut w)?;
            let (buf, digest, size) = w.finish();
            let file = buf.into_inner().map_err(|e| ImageError::io(&tmp_path, e.into_error()))?;
            file.sync_all().ctx(&tmp_path)?;
            let dest = self.blobs.join(digest_hex(&digest)?);
            if dest.is_file() {
                fs::remove_file(&tmp_path).ctx(&tmp_path)?;
            } else {
                fs::rename(&tmp_path, &dest).ctx(&dest)?;
                sync_dir(&self.blobs)?;
            }
            Ok((digest, size))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        result
    }

    /// Read a whole blob, verifying its digest.
    pub(crate) fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let bytes = fs::read(&path).ctx(&path)?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(ImageError::Corrupt {
                what: path.display().to_string(),
                reason: format!("digest mismatch: expected {digest}, got {actual}"),
            });
        }
        Ok(bytes)
    }

    /// Open a blob for streaming; the caller verifies with [`HashingReader`].
    pub(crate) fn open_blob(&self, digest: &str) -> Result<File, ImageError> {
        let path = self.blob_path(digest)?;
        File::open(&path).ctx(&path)
    }

    pub(crate) fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.dir.join(INDEX_FILE);
        let bytes = fs::read(&path).ctx(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Json { path, source })
    }

    pub(crate) fn write_index(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let path = self.dir.join(INDEX_FILE);
        atomic_write(&path, &canonical_json(index, &path)?)
    }

    /// Delete every blob not in `keep` (a set of `sha256:<hex>`); returns the bytes freed.
    pub(crate) fn gc(&self, keep: &HashSet<String>) -> Result<u64, ImageError> {
        let mut freed = 0;
        for entry in fs::read_dir(&self.blobs).ctx(&self.blobs)? {
            let entry = entry.ctx(&self.blobs)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) || keep.contains(&format!("sha256:{name}")) {
                continue;
            }
            let path = entry.path();
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::debug!(blob = %name, size, "garbage-collected blob");
                    freed += size;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImageError::io(&path, e)),
            }
        }
        sync_dir(&self.blobs)?;
        Ok(freed)
    }
}

/// Serialize with sorted object keys (serde_json's `Value` map is a BTreeMap), so equal data gives equal bytes.
pub(crate) fn canonical_json<T: Serialize>(value: &T, what: &Path) -> Result<Vec<u8>, ImageError> {
    let v = serde_json::to_value(value).map_err(|source| ImageError::Json { path: what.to_path_buf(), source })?;
    serde_json::to_vec(&v).map_err(|source| ImageError::Json { path: what.to_path_buf(), source })
}

/// The hex part of `sha256:<hex>`, validated.
pub(crate) fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && is_lower_hex(hex) => Ok(hex),
        _ => Err(ImageError::Corrupt { what: digest.to_string(), reason: "not a sha256 digest".to_string() }),
    }
}

/// `sha256:<hex>` of `bytes`, as OCI digests are written.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync the directory.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (tmp_path, mut file) = temp_file(dir)?;
    let result = (|| {
        file.write_all(bytes).ctx(&tmp_path)?;
        file.sync_all().ctx(&tmp_path)?;
        fs::rename(&tmp_path, path).ctx(path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

/// A new, uniquely named temp file in `dir`.
pub(crate) fn temp_file(dir: &Path) -> Result<(PathBuf, File), ImageError> {
    loop {
        let path = dir.join(temp_name());
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ImageError::io(&path, e)),
        }
    }
}

/// A unique name starting with [`TMP_PREFIX`].
pub(crate) fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{TMP_PREFIX}{}-{n}-{nanos}", std::process::id())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir).and_then(|d| d.sync_all()).ctx(dir)
}

/// Remove entries named `.tmp-*` directly inside `dir` (left by a crash).
pub(crate) fn remove_temps(dir: &Path) -> Result<(), ImageError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ImageError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.ctx(dir)?;
        if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing stale temporary file");
            let r = if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            r.ctx(&path)?;
        }
    }
    Ok(())
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), size: 0 }
    }

    /// (inner writer, `sha256:<hex>`, bytes written)
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what is read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), size: 0 }
    }

    /// Read to the end, then return (`sha256:<hex>`, bytes read).
    pub(crate) fn drain_and_finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((format!("sha256:{}", hex::encode(self.hasher.finalize())), self.size))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
