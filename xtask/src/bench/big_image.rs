//! The image the pull and push figures move, `127.0.0.1:PORT/big:1`: five layers of 40 MB (four 10 MB files
//! each), written here as an OCI layout and copied once per bench run into a private [`Registry`] with skopeo, so
//! neither engine has a hand in making it.
//!
//! The files are noise from a seeded PRNG (splitmix64, one seed per file), so they do not compress: each gzip
//! layer is as big as its tar, and 200 MB really cross the wire, land on disk and go through every digest. That
//! also keeps the push figure fair: dockerd re-gzips each layer it pushes and cannot shrink noise, so both engines
//! upload about 200 MB whatever they do about compression. Real images compress two to four times, so on them a
//! pull spends relatively more time in gunzip; this figure is about moving and storing bytes.
//!
//! The layers are gzip made of stored (uncompressed) deflate blocks: what any gzip makes of noise, give or take a
//! few bytes per 64 KiB, and quick to write from xtask's unoptimised build. Timestamps, owners and the gzip header
//! are fixed, so every run pushes the same digests.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cleanup::Cleanup;
use super::registry::Registry;
use crate::command;

const LAYERS: usize = 5;
const FILES_PER_LAYER: usize = 4;
/// Decimal megabytes, as `docker images` counts them. A multiple of 8: see [`Noise`].
const FILE_BYTES: u64 = 10_000_000;
const REPOSITORY: &str = "big";
const TAG: &str = "1";
/// 2024-01-01T00:00:00Z, on every file and in the config: the same bytes on every run.
const EPOCH: u64 = 1_704_067_200;
const CREATED: &str = "2024-01-01T00:00:00Z";

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The image, in the registry that serves it for the rest of the run.
pub struct Source {
    /// `127.0.0.1:PORT/big:1`.
    pub image: String,
    /// The layers' digests as pushed: an engine that pushes them unchanged reuses the pulled blobs.
    pub layer_digests: Vec<String>,
    /// The layers' compressed size, what a pull downloads: about 200 MB.
    pub layer_bytes: u64,
    /// Held, never read: the registry serves the image until the Source is dropped, which stops it.
    _registry: Registry,
}

/// Writes the OCI layout under `run_dir`, starts the registry, copies the image in and removes the layout.
pub fn seed(cleanup: &Cleanup, run_dir: &Path) -> Result<Source> {
    let layout = run_dir.join("big-image-oci");
    let layers = write_oci_layout(&layout).context("writing the OCI layout")?;
    let layer_digests = layers.iter().map(|layer| layer["digest"].as_str().unwrap_or_default().to_string()).collect();
    let layer_bytes = layers.iter().filter_map(|layer| layer["size"].as_u64()).sum();
    let registry = Registry::start(cleanup, &run_dir.join("registry-source"))?;
    let image = format!("{}/{REPOSITORY}:{TAG}", registry.address);
    command::run(
        Command::new("skopeo")
            // No signature policy to consult: this is our own image, and /etc/containers/policy.json may be missing.
            .args(["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{TAG}", layout.display()))
            .arg(format!("docker://{image}")),
    )
    .context("skopeo copies OCI images around: `cargo xtask setup` installs it")?;
    std::fs::remove_dir_all(&layout).with_context(|| format!("removing {}", layout.display()))?;
    Ok(Source { image, layer_digests, layer_bytes, _registry: registry })
}

/// An OCI image layout (oci-layout, index.json, blobs/sha256/) holding the image under the tag [`TAG`]. Returns
/// the layers' descriptors.
fn write_oci_layout(dir: &Path) -> Result<Vec<Value>> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for index in 0..LAYERS {
        let (layer, diff_id) = write_layer(&blobs, index)?;
        layers.push(layer);
        diff_ids.push(diff_id);
    }
    let history: Vec<Value> = (0..LAYERS)
        .map(|index| {
            let created_by = format!("cargo xtask bench: {FILES_PER_LAYER} files of seeded noise, layer {}", index + 1);
            json!({ "created": CREATED, "created_by": created_by })
        })
        .collect();
    let config = json!({
        "created": CREATED,
        "architecture": go_arch(),
        "os": "linux",
        "config": { "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    let config = write_json_blob(&blobs, CONFIG_TYPE, &config)?;
    let manifest = json!({ "schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config, "layers": &layers });
    let mut manifest = write_json_blob(&blobs, MANIFEST_TYPE, &manifest)?;
    manifest["annotations"] = json!({ "org.opencontainers.image.ref.name": TAG });
    let index = json!({ "schemaVersion": 2, "manifests": [manifest] });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(layers)
}

/// Layer `index`: `big/layer-N/part-M.bin`, with the directories above them. Returns its descriptor and its
/// diff id (the digest of the uncompressed tar).
fn write_layer(blobs: &Path, index: usize) -> Result<(Value, String)> {
    let partial = blobs.join(format!("layer-{index}.partial"));
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let compressed = Hashing::new(BufWriter::with_capacity(1 << 20, file));
    // GzBuilder's defaults leave out the name and mtime: the header is the same on every run.
    let gzip = GzBuilder::new().write(compressed, Compression::none());
    let mut tar = tar::Builder::new(Hashing::new(gzip));
    let layer_dir = format!("big/layer-{}/", index + 1);
    for dir in ["big/", &layer_dir] {
        tar.append(&header(dir, tar::EntryType::Directory, 0o755, 0)?, std::io::empty())?;
    }
    for file in 0..FILES_PER_LAYER {
        let path = format!("{layer_dir}part-{}.bin", file + 1);
        let seed = (index * FILES_PER_LAYER + file) as u64;
        tar.append(&header(&path, tar::EntryType::Regular, 0o644, FILE_BYTES)?, Noise::new(seed, FILE_BYTES))?;
    }
    let (gzip, diff_id, _) = tar.into_inner()?.finish();
    let (file, digest, size) = gzip.finish()?.finish();
    file.into_inner().map_err(|error| error.into_error())?;
    std::fs::rename(&partial, blobs.join(&digest["sha256:".len()..]))?;
    Ok((json!({ "mediaType": LAYER_TYPE, "digest": digest, "size": size }), diff_id))
}

fn header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(EPOCH);
    header.set_size(size);
    header.set_cksum();
    Ok(header)
}

/// Writes `value` as a blob and returns its descriptor.
fn write_json_blob(blobs: &Path, media_type: &str, value: &Value) -> Result<Value> {
    // serde_json's maps are sorted, so the same value always gives the same bytes and digest.
    let bytes = serde_json::to_vec(value)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    std::fs::write(blobs.join(&digest["sha256:".len()..]), &bytes)?;
    Ok(json!({ "mediaType": media_type, "digest": digest, "size": bytes.len() }))
}

/// The GOARCH name of this machine's architecture, which image configs use.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `len` bytes of splitmix64 output from `seed`, little-endian. A read hands out whole 8-byte words, so the
/// bytes depend only on the seed for any reader with a buffer of 8 bytes or more (the tar builder copies 8 KiB at
/// a time); a read of fewer than 8 gets the start of a word and drops the rest.
struct Noise {
    state: u64,
    left: u64,
}

/// splitmix64's increment: the state walks the whole 2^64 cycle in steps of this.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Noise {
    fn new(seed: u64, len: u64) -> Noise {
        // Scrambled, not `seed * GOLDEN_GAMMA`: that would start seed n+1 one word after seed n, making every file a
        // shifted copy of the previous one. Scrambled starts are random points of the 2^64 cycle, so twenty files
        // of 1.25 million words each overlap with odds of about 2^-35.
        Noise { state: mix(seed ^ 0x6265_7274_6862_656e), left: len }
    }

    fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }
}

/// splitmix64's output function (a bijection with good avalanche).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut len = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if len >= 8 {
            len -= len % 8;
        }
        for chunk in buf[..len].chunks_mut(8) {
            let word = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.left -= len as u64;
        Ok(len)
    }
}

/// A writer that hashes (SHA-256) and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Hashing<W> {
        Hashing { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// The inner writer, the digest (`sha256:...`) and the byte count.
    fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_depends_on_the_seed_alone_and_does_not_compress() {
        let read_all = |seed, chunk: usize| {
            let mut noise = Noise::new(seed, 64 * 1024);
            let mut out = Vec::new();
            let mut buf = vec![0; chunk];
            loop {
                let read = noise.read(&mut buf).unwrap();
                if read == 0 {
                    break out;
                }
                out.extend_from_slice(&buf[..read]);
            }
        };
        let noise = read_all(3, 8192);
        assert_eq!(noise.len(), 64 * 1024);
        assert_eq!(noise, read_all(3, 1000));
        assert_ne!(noise, read_all(4, 8192));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        gzip.write_all(&noise).unwrap();
        assert!(gzip.finish().unwrap().len() as f64 > noise.len() as f64 * 0.99);
    }

    #[test]
    fn hashing_writer_digests_what_it_passes_on() {
        let mut writer = Hashing::new(Vec::new());
        writer.write_all(b"abc").unwrap();
        let (inner, digest, bytes) = writer.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(bytes, 3);
        assert_eq!(digest, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
