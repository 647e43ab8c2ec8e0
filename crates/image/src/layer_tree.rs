//! What each layer of an image changes, read from the layer tars: per layer its entries as added, modified or
//! deleted relative to the layers below (OCI whiteouts `.wh.name` and `.wh..wh..opq` are deletions), the bytes
//! that later layers overwrite or delete (wasted: stored but never visible), and the visible files of an image, for
//! diffs between images.

use std::collections::BTreeMap;
use std::io::Read;

use berth_shared::api::layers::{efficiency, ChangeKind, EntryType, FileChange, ImageDiff, ImageLayers, LayerSummary};

use super::archive::clean_abs;
use super::error::ImageError;
use super::layer::{WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// One tar entry of a layer, path cleaned to `/a/b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub entry_type: EntryType,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link_target: Option<String>,
    /// `.wh.name`: `path` is deleted. `.wh..wh..opq`: everything below `path` from lower layers is hidden.
    pub whiteout: Option<Whiteout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteout {
    Delete,
    Opaque,
}

fn corrupt(reason: impl ToString) -> ImageError {
    ImageError::Corrupt { what: "layer tar".to_string(), reason: reason.to_string() }
}

/// Reads the entries of a layer tar (uncompressed), without reading file contents into memory.
pub fn read_layer(reader: impl Read) -> Result<Vec<LayerEntry>, ImageError> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(corrupt)? {
        let entry = entry.map_err(corrupt)?;
        let header = entry.header();
        let raw = entry.path().map_err(corrupt)?.to_string_lossy().into_owned();
        let path = clean_abs(&raw);
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (if parent.is_empty() { "/" } else { parent }, name),
            None => ("/", path.as_str()),
        };
        let join = |base: &str, name: &str| if base == "/" { format!("/{name}") } else { format!("{base}/{name}") };
        let (path, whiteout) = if name == WHITEOUT_OPAQUE {
            (parent.to_string(), Some(Whiteout::Opaque))
        } else if name.starts_with(WHITEOUT_META_PREFIX) {
            continue;
        } else if let Some(deleted) = name.strip_prefix(WHITEOUT_PREFIX) {
            // `.wh.`, `.wh..` and `.wh...` name no file (they would read as `/dir/`, `/dir/.`, `/dir/..`); unpacking
            // refuses such a layer, so reading it does too.
            if matches!(deleted, "" | "." | "..") {
                return Err(corrupt(format!("invalid whiteout {raw:?}")));
            }
            (join(parent, deleted), Some(Whiteout::Delete))
        } else {
            (path.clone(), None)
        };
        let kind = header.entry_type();
        let entry_type = if kind.is_dir() {
            EntryType::Directory
        } else if kind.is_symlink() {
            EntryType::Symlink
        } else if kind.is_hard_link() {
            EntryType::Hardlink
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            EntryType::File
        } else if matches!(
            kind,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        } else {
            EntryType::Other
        };
        let link_target = match entry_type {
            EntryType::Symlink | EntryType::Hardlink => {
                entry.link_name().map_err(corrupt)?.map(|l| l.to_string_lossy().into_owned())
            }
            _ => None,
        };
        out.push(LayerEntry {
            path,
            size: if entry_type == EntryType::File && whiteout.is_none() { entry.size() } else { 0 },
            entry_type,
            mode: header.mode().unwrap_or(0) & 0o7777,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            link_target,
            whiteout,
        });
    }
    Ok(out)
}

/// A visible file: which layer it comes from and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Visible {
    layer: usize,
    entry: LayerEntry,
}

fn change(entry: &LayerEntry, kind: ChangeKind) -> FileChange {
    FileChange {
        path: entry.path.clone(),
        kind,
        entry_type: entry.entry_type,
        size: entry.size,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        link_target: entry.link_target.clone(),
    }
}

/// Removes `path` and everything below it from `visible`; returns the removed entries.
fn remove_tree(visible: &mut BTreeMap<String, Visible>, path: &str, keep_self: bool) -> Vec<Visible> {
    let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
    let below: Vec<String> =
        visible.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()).collect();
    let mut removed: Vec<Visible> = below.iter().filter_map(|k| visible.remove(k)).collect();
    if !keep_self {
        if let Some(own) = visible.remove(path) {
            removed.push(own);
        }
    }
    removed
}

/// Applies one layer to the visible tree; returns its changes and, per lower layer, the bytes it made invisible.
fn apply(
    visible: &mut BTreeMap<String, Visible>,
    index: usize,
    entries: &[LayerEntry],
    wasted: &mut [u64],
) -> Vec<FileChange> {
    let mut changes = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.whiteout {
            Some(Whiteout::Delete) => {
                for gone in remove_tree(visible, &entry.path, false) {
                    wasted[gone.layer] += gone.entry.size;
                }
                changes.push(change(entry, ChangeKind::Deleted));
            }
            Some(Whiteout::Opaque) => {
                for gone in remove_tree(visible, &entry.path, true) {
                    if gone.layer != index {
                        wasted[gone.layer] += gone.entry.size;
                    }
                }
            }
            None => {
                if entry.path == "/" {
                    continue;
                }
                let previous = visible.insert(entry.path.clone(), Visible { layer: index, entry: entry.clone() });
                let kind = match previous {
                    Some(old) => {
                        wasted[old.layer] += old.entry.size;
                        if old.entry.entry_type == EntryType::Directory && entry.entry_type != EntryType::Directory {
                            for gone in remove_tree(visible, &entry.path, true) {
                                wasted[gone.layer] += gone.entry.size;
                            }
                        }
                        ChangeKind::Modified
                    }
                    None => ChangeKind::Added,
                };
                changes.push(change(entry, kind));
            }
        }
    }
    changes
}

/// A layer as [`analyze`] takes it.
#[derive(Debug, Clone)]
pub struct LayerInput {
    pub diff_id: String,
    pub created_by: String,
    pub line: Option<usize>,
    pub entries: Vec<LayerEntry>,
}

/// The Dockerfile instruction a history entry records: `#(nop)` entries carry it; others are RUN commands.
pub fn instruction_of(created_by: &str) -> Option<String> {
    if created_by.is_empty() {
        return None;
    }
    if let Some((_, rest)) = created_by.split_once("#(nop) ") {
        return Some(rest.trim().to_string());
    }
    let mut command = created_by;
    // `|2 A=1 B=2 /bin/sh -c ...`: the build arguments RUN saw.
    if let Some(rest) = command.strip_prefix('|') {
        let count: usize = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        command = rest.splitn(count + 2, ' ').last().unwrap_or(rest);
    }
    let command = command.strip_prefix("/bin/sh -c ").unwrap_or(command);
    Some(format!("RUN {command}"))
}

/// Per-layer changes and wasted bytes of an image.
pub fn analyze(image_id: &str, layers: Vec<LayerInput>) -> ImageLayers {
    let mut visible: BTreeMap<String, Visible> = BTreeMap::new();
    let mut wasted = vec![0u64; layers.len()];
    let mut summaries = Vec::with_capacity(layers.len());
    for (index, layer) in layers.into_iter().enumerate() {
        let files = apply(&mut visible, index, &layer.entries, &mut wasted);
        summaries.push(LayerSummary {
            index,
            diff_id: layer.diff_id,
            instruction: instruction_of(&layer.created_by),
            created_by: layer.created_by,
            line: layer.line,
            size: layer.entries.iter().map(|e| e.size).sum(),
            files,
            wasted_bytes: 0,
        });
    }
    for (summary, wasted) in summaries.iter_mut().zip(&wasted) {
        summary.wasted_bytes = *wasted;
    }
    let total_bytes = summaries.iter().map(|l| l.size).sum();
    let wasted_bytes = wasted.iter().sum();
    ImageLayers {
        image_id: image_id.to_string(),
        layers: summaries,
        total_bytes,
        wasted_bytes,
        efficiency: efficiency(total_bytes, wasted_bytes),
    }
}

/// The files visible in an image made of `layers` (lowest first), each with the diff_id of the layer it is from.
pub fn visible_files(layers: &[(String, Vec<LayerEntry>)]) -> BTreeMap<String, (String, LayerEntry)> {
    let mut visible: BTreeMap<String, Visible> = BTreeMap::new();
    let mut wasted = vec![0u64; layers.len()];
    for (index, (_, entries)) in layers.iter().enumerate() {
        apply(&mut visible, index, entries, &mut wasted);
    }
    visible.into_iter().map(|(path, v)| (path, (layers[v.layer].0.clone(), v.entry))).collect()
}

/// What changed from image `from` to image `to`, given their visible files.
pub fn diff(
    from_name: &str,
    to_name: &str,
    from: &BTreeMap<String, (String, LayerEntry)>,
    to: &BTreeMap<String, (String, LayerEntry)>,
) -> ImageDiff {
    let mut changes = Vec::new();
    for (path, (layer, entry)) in to {
        match from.get(path) {
            None => changes.push(change(entry, ChangeKind::Added)),
            Some((old_layer, old)) => {
                let same = old_layer == layer || (old == entry && entry.entry_type == EntryType::Directory);
                if !same {
                    changes.push(change(entry, ChangeKind::Modified));
                }
            }
        }
    }
    for (path, (_, entry)) in from {
        if !to.contains_key(path) {
            changes.push(change(entry, ChangeKind::Deleted));
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    ImageDiff { from: from_name.to_string(), to: to_name.to_string(), changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut header = tar::Header::new_gnu();
            if name.ends_with('/') {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
            } else {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(content.len() as u64);
            }
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn input(index: usize, entries: Vec<LayerEntry>) -> LayerInput {
        LayerInput { diff_id: format!("sha256:{index}"), created_by: String::new(), line: None, entries }
    }

    #[test]
    fn overwritten_and_deleted_bytes_are_wasted() {
        let big = vec![0u8; 5000];
        let base = read_layer(&tar_of(&[("etc/", b""), ("etc/conf", b"one"), ("big", &big)])[..]).unwrap();
        let change = read_layer(&tar_of(&[("etc/", b""), ("etc/conf", b"two!"), ("new", b"n")])[..]).unwrap();
        let removal = read_layer(&tar_of(&[(".wh.big", b"")])[..]).unwrap();
        assert_eq!(removal[0].whiteout, Some(Whiteout::Delete));
        let result = analyze("sha256:x", vec![input(0, base), input(1, change), input(2, removal)]);
        assert_eq!(result.layers[0].wasted_bytes, 5003);
        assert_eq!(result.wasted_bytes, 5003);
        let kinds: Vec<(String, ChangeKind)> =
            result.layers[1].files.iter().map(|f| (f.path.clone(), f.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("/etc".to_string(), ChangeKind::Modified),
                ("/etc/conf".to_string(), ChangeKind::Modified),
                ("/new".to_string(), ChangeKind::Added)
            ]
        );
        assert_eq!(result.layers[2].files[0].kind, ChangeKind::Deleted);
        assert!(result.efficiency < 0.5);
    }

    #[test]
    fn opaque_directories_hide_lower_content() {
        let base = read_layer(&tar_of(&[("d/", b""), ("d/a", b"aaaa")])[..]).unwrap();
        let opaque = read_layer(&tar_of(&[("d/", b""), ("d/.wh..wh..opq", b""), ("d/b", b"b")])[..]).unwrap();
        let layers = vec![("sha256:0".to_string(), base.clone()), ("sha256:1".to_string(), opaque.clone())];
        let files = visible_files(&layers);
        assert!(files.contains_key("/d/b") && !files.contains_key("/d/a"));
        let from = visible_files(&layers[..1]);
        let diff = diff("a", "b", &from, &files);
        let kinds: Vec<(&str, ChangeKind)> = diff.changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(kinds, vec![("/d/a", ChangeKind::Deleted), ("/d/b", ChangeKind::Added)]);
        assert_eq!(analyze("x", vec![input(0, base), input(1, opaque)]).wasted_bytes, 4);
    }

    #[test]
    fn a_whiteout_naming_no_file_is_refused() {
        // Found by fuzz/ (layer_tar): `d/.wh.` was read as a deletion of `/d/`.
        for name in ["d/.wh.", "d/.wh..", "d/.wh..."] {
            assert!(read_layer(&tar_of(&[("d/", b""), (name, b"")])[..]).is_err(), "{name}");
        }
        assert!(read_layer(&tar_of(&[("d/.wh....", b"")])[..]).is_ok());
    }

    #[test]
    fn instructions_from_history() {
        assert_eq!(instruction_of("/bin/sh -c #(nop)  CMD [\"sh\"]").as_deref(), Some("CMD [\"sh\"]"));
        assert_eq!(instruction_of("|1 A=b /bin/sh -c echo hi").as_deref(), Some("RUN echo hi"));
        assert_eq!(instruction_of("/bin/sh -c make").as_deref(), Some("RUN make"));
        assert_eq!(instruction_of(""), None);
    }

    #[test]
    fn ten_thousand_files_are_summarised_quickly() {
        let names: Vec<String> = (0..10_000).map(|i| format!("dir{}/file{i}", i % 100)).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"content"[..])).collect();
        let tar = tar_of(&entries);
        let started = std::time::Instant::now();
        let layer = read_layer(&tar[..]).unwrap();
        let read = started.elapsed();
        let result = analyze("x", vec![input(0, layer)]);
        let elapsed = started.elapsed();
        assert_eq!(result.layers[0].files.len(), 10_000);
        println!("10,000-file layer read in {read:?}, read and summarised in {elapsed:?}");
    }
}
