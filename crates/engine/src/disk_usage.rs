//! What `docker system df` reports and a prune frees: the bytes of image layers (each blob once), of a container's
//! writable layer, of a volume's data. Walks are blocking; callers off the runtime's threads run them.

use std::collections::HashMap;
use std::path::Path;

use berth_image::Image;

use super::{Container, Engine, VolumeRecord};

/// The size of a tree (see berth-fs `tree_size`); 0, logged, when it cannot be read: sizes are informational,
/// as in dockerd, and never stop a prune.
pub(super) fn tree_size_or_zero(path: &Path) -> u64 {
    berth_fs::tree_size::tree_size(path).unwrap_or_else(|error| {
        tracing::debug!(path = %path.display(), %error, "size of a tree unknown");
        0
    })
}

impl Engine {
    /// The bytes every image's layers take, a layer several images share counted once (`LayersSize`).
    pub fn layers_size(&self) -> u64 {
        let mut layers: HashMap<String, u64> = HashMap::new();
        for (diff_id, size) in self.images.layer_sizes().into_values().flatten() {
            layers.insert(diff_id, size);
        }
        layers.values().sum()
    }

    /// For each of `images`, the bytes of its layers that another of them also has (`SharedSize`): what removing
    /// it alone would not free.
    pub fn shared_sizes(&self, images: &[Image]) -> Vec<u64> {
        let layers = self.images.layer_sizes();
        let mut holders: HashMap<&str, usize> = HashMap::new();
        for image in images {
            let mut mine: Vec<&str> = image.diff_ids.iter().map(String::as_str).collect();
            mine.sort_unstable();
            mine.dedup();
            for diff_id in mine {
                *holders.entry(diff_id).or_default() += 1;
            }
        }
        images
            .iter()
            .map(|image| {
                let mut seen = std::collections::HashSet::new();
                layers
                    .get(&image.id)
                    .into_iter()
                    .flatten()
                    .filter(|(diff_id, _)| seen.insert(diff_id.as_str()))
                    .filter(|(diff_id, _)| holders.get(diff_id.as_str()).is_some_and(|n| *n > 1))
                    .map(|(_, size)| size)
                    .sum()
            })
            .collect()
    }

    /// A container's `SizeRw` (its writable layer) and `SizeRootFs` (that and its image's layers).
    pub fn container_size(&self, container: &Container) -> (u64, u64) {
        let size_rw = tree_size_or_zero(&container.upper_dir());
        let image_id = container.record().image_id.clone();
        let image_size = self.images.get(&image_id).map(|image| image.size).unwrap_or(0);
        (size_rw, size_rw.saturating_add(image_size))
    }

    /// Every volume with the bytes of its data and the number of containers that mount it (`UsageData`).
    pub fn volume_usage(&self, owner: Option<&str>) -> Vec<(VolumeRecord, u64, usize)> {
        self.volume_list(owner)
            .into_iter()
            .map(|volume| {
                let size = tree_size_or_zero(&self.volume_data(owner, &volume.name));
                let users = self.volume_users(owner, &volume.name).len();
                (volume, size, users)
            })
            .collect()
    }
}
