//! What each layer of an image changed: `GET /berth/images/{name}/layers` and `GET /berth/images/diff`.

use serde::{Deserialize, Serialize};

/// How a layer changed a path, relative to the layers below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    File,
    Directory,
    Symlink,
    Hardlink,
    Other,
}

/// One path a layer touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Absolute path in the image (`/etc/passwd`).
    pub path: String,
    pub kind: ChangeKind,
    pub entry_type: EntryType,
    /// Bytes of content (0 for directories, links and deletions).
    pub size: u64,
    /// Permission bits (`0o755`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// For symlinks and hard links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// One layer of an image, lowest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// 0-based, lowest layer first.
    pub index: usize,
    /// `sha256:<hex>` of the uncompressed layer.
    pub diff_id: String,
    /// The history entry that made it (`/bin/sh -c dd if=/dev/zero ...`).
    pub created_by: String,
    /// The Dockerfile instruction, when the history entry says which (`RUN dd if=/dev/zero ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// The Dockerfile line of the instruction, when Berth built the image and knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Bytes of file content the layer adds.
    pub size: u64,
    pub files: Vec<FileChange>,
    /// Bytes this layer adds that a later layer overwrites or deletes.
    pub wasted_bytes: u64,
}

/// Every layer of an image and how much of it is dead weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageLayers {
    pub image_id: String,
    pub layers: Vec<LayerSummary>,
    /// Sum of the layers' sizes.
    pub total_bytes: u64,
    /// Bytes in lower layers that later layers overwrite or delete: in the image but never visible.
    pub wasted_bytes: u64,
    /// `1 - wasted / total` (1.0 for an empty image): the share of stored bytes that are visible.
    pub efficiency: f64,
}

/// The visible file differences between two images (`to` relative to `from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDiff {
    pub from: String,
    pub to: String,
    pub changes: Vec<FileChange>,
}

/// `1 - wasted / total`, 1.0 when there is nothing.
pub fn efficiency(total_bytes: u64, wasted_bytes: u64) -> f64 {
    if total_bytes == 0 {
        return 1.0;
    }
    1.0 - (wasted_bytes.min(total_bytes) as f64 / total_bytes as f64)
}
