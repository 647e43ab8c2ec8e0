//! The default `busybox:latest` image, built from the host's statically linked `/bin/busybox`.
//!
//! Deterministic: every entry gets busybox's mtime and owner 0:0, and the image's created time is that mtime,
//! so one host always produces the same image ID.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use oci_spec::image::Config;
use tar::{EntryType, Header};

use super::archive::rfc3339;
use super::error::ImageError;
use super::HistoryEntry;

pub(crate) const HOST_BUSYBOX: &str = "/bin/busybox";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SOURCE_LABEL: &str = "org.opencontainers.image.source";
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sbin", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
];

/// What the store needs to record the busybox image.
pub(crate) struct Busybox {
    /// The uncompressed layer tar.
    pub layer: Vec<u8>,
    pub config: Config,
    pub history: HistoryEntry,
}

enum Node {
    Dir(u32),
    File(Vec<u8>, u32),
    Symlink(String),
}

/// Build the busybox layer and config from the binary at `path`.
pub(crate) fn build(path: &Path) -> Result<Busybox, ImageError> {
    let fail = |reason: String| ImageError::Busybox { path: path.to_path_buf(), reason };
    let meta = fs::metadata(path).map_err(|e| fail(format!("{e} (install busybox-static)")))?;
    let mut binary = Vec::with_capacity(meta.len() as usize);
    fs::File::open(path).and_then(|mut f| f.read_to_end(&mut binary)).map_err(|e| fail(e.to_string()))?;
    if is_dynamic_elf(&binary) {
        return Err(fail("busybox is dynamically linked; install busybox-static".to_string()));
    }
    let version = banner_version(path).map_err(|e| fail(format!("cannot run busybox: {e}")))?;
    let applets = applets(path).map_err(|e| fail(format!("cannot list applets: {e}")))?;

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for (d, mode) in DIRS {
        nodes.insert((*d).to_string(), Node::Dir(*mode));
    }
    for applet in &applets {
        let mut parent = Path::new(applet).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            nodes.entry(p.to_string_lossy().into_owned()).or_insert(Node::Dir(0o755));
            parent = p.parent();
        }
        if applet != "bin/busybox" {
            nodes.insert(applet.clone(), Node::Symlink("/bin/busybox".to_string()));
        }
    }
    nodes.insert("bin/busybox".to_string(), Node::File(binary, 0o755));
    nodes.insert("etc/passwd".to_string(), Node::File(PASSWD.as_bytes().to_vec(), 0o644));
    nodes.insert("etc/group".to_string(), Node::File(GROUP.as_bytes().to_vec(), 0o644));

    let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
    let layer = write_layer(&nodes, mtime).map_err(|e| fail(format!("cannot build layer: {e}")))?;

    let mut config = Config::default();
    config.set_env(Some(vec![PATH_ENV.to_string()]));
    config.set_cmd(Some(vec!["sh".to_string()]));
    let source = format!("host {} (busybox-static {version})", path.display());
    config.set_labels(Some([(SOURCE_LABEL.to_string(), source.clone())].into_iter().collect()));
    let history = HistoryEntry {
        created_by: format!("berth: {source}"),
        comment: None,
        author: None,
        created: Some(rfc3339(meta.mtime(), 0)),
    };
    Ok(Busybox { layer, config, history })
}

fn write_layer(nodes: &BTreeMap<String, Node>, mtime: u64) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, node) in nodes {
        let mut h = Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(0);
        match node {
            Node::Dir(mode) => {
                h.set_entry_type(EntryType::Directory);
                h.set_mode(*mode);
                b.append_data(&mut h, format!("{path}/"), io::empty())?;
            }
            Node::File(data, mode) => {
                h.set_entry_type(EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice())?;
            }
            Node::Symlink(target) => {
                h.set_entry_type(EntryType::Symlink);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target)?;
            }
        }
    }
    b.into_inner()
}

/// `v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)` from "BusyBox v1.35.0 (...) multi-call binary."
fn banner_version(path: &Path) -> io::Result<String> {
    let out = Command::new(path).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    let v = first.strip_prefix("BusyBox ").unwrap_or(first);
    let v = v.split(" multi-call binary").next().unwrap_or(v).trim();
    if v.is_empty() {
        return Err(io::Error::other("no banner"));
    }
    Ok(v.to_string())
}

/// `busybox --list-full`: applet paths like `bin/sh`, `usr/bin/awk` (sorted, deduplicated, validated).
fn applets(path: &Path) -> io::Result<Vec<String>> {
    let out = Command::new(path).arg("--list-full").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!("--list-full exited with {}", out.status)));
    }
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && l.split('/').all(|c| !c.is_empty() && c != "." && c != ".."))
        .collect();
    list.sort();
    list.dedup();
    if list.is_empty() {
        return Err(io::Error::other("no applets"));
    }
    Ok(list)
}

/// An ELF with a `PT_INTERP` program header needs a dynamic loader the image does not have.
fn is_dynamic_elf(bin: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if bin.len() < 64 || &bin[..4] != b"\x7fELF" || bin[4] != 2 || bin[5] != 1 {
        return false; // only 64-bit little-endian is inspected
    }
    let u16_at = |o: usize| bin.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let phoff = bin.get(0x20..0x28).map(|b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_le_bytes(a) as usize
    });
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..phnum).any(|i| {
        let o = phoff.saturating_add(i.saturating_mul(phentsize));
        bin.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) == Some(PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_busybox_is_static() {
        let bin = fs::read(HOST_BUSYBOX).expect("busybox-static must be installed at /bin/busybox");
        assert!(!is_dynamic_elf(&bin));
        let sh = fs::read("/bin/sh").or_else(|_| fs::read("/bin/bash")).expect("a dynamic shell");
        assert!(is_dynamic_elf(&sh) || sh.len() < 64);
    }
}
