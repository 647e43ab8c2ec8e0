//! The build cache as `docker system df` and `docker builder prune` see it: one record per index entry whose image
//! still exists (an entry whose image is gone is a miss already, and is dropped at the next prune).
//!
//! A record's size is the layer its step added (0 for metadata steps). It is `Shared` when an image somebody keeps
//! (tagged, or used by a container) holds that layer, as BuildKit marks records shared with images: the docker CLI
//! then counts its bytes under Images, not Build Cache, and removing the record frees nothing. `builder prune`
//! without `--all` removes only records that are not shared (dangling cache); with `--all` every one. The step
//! images of removed records go with them unless tagged or used by a container: they are what frees the space.

use std::collections::{HashMap, HashSet};

use bollard_stubs::models::{BuildCache as CacheRecord, BuildCacheTypeEnum};
use chrono::{DateTime, Utc};

use super::cache::{BuildCache, CacheEntry};
use super::error::BuildError;
use berth_engine::Engine;
use berth_image::Image;

/// What `POST /build/prune` removes, parsed from its query by the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePruneOptions {
    /// Shared records too (`--all`).
    pub all: bool,
    /// Only records last used at or before this time (`until`, `unused-for`).
    pub until: Option<DateTime<Utc>>,
    /// BuildKit's `id~=`: records whose ID starts with it.
    pub id: Option<String>,
    /// BuildKit's `description==`.
    pub description: Option<String>,
    /// BuildKit's `type==`: every record here is `regular`.
    pub typ: Option<String>,
    pub shared: Option<bool>,
    pub in_use: Option<bool>,
}

struct Record {
    entry: CacheEntry,
    image: Image,
    size: u64,
    shared: bool,
    parent: Option<String>,
}

impl Record {
    fn created(&self) -> Option<DateTime<Utc>> {
        self.image.created.as_deref().and_then(|c| DateTime::parse_from_rfc3339(c).ok()).map(|c| c.with_timezone(&Utc))
    }

    fn last_used(&self) -> Option<DateTime<Utc>> {
        self.entry.last_used.and_then(|t| DateTime::from_timestamp(t, 0)).or_else(|| self.created())
    }

    fn description(&self) -> String {
        let history = self.image.config.history().as_deref().unwrap_or_default();
        history.last().and_then(|h| h.created_by().clone()).unwrap_or_default()
    }

    fn model(&self) -> CacheRecord {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        CacheRecord {
            id: Some(self.entry.key.clone()),
            parents: self.parent.clone().map(|p| vec![p]),
            typ: Some(BuildCacheTypeEnum::REGULAR),
            description: Some(self.description()),
            in_use: Some(false),
            shared: Some(self.shared),
            size: Some(self.size as i64),
            created_at: time(self.created()),
            last_used_at: time(self.last_used()),
            usage_count: None,
        }
    }
}

/// The records of the cache, oldest first (blocking: reads the index and the image store).
pub fn disk_usage(engine: &Engine) -> Vec<CacheRecord> {
    records(engine).0.iter().map(Record::model).collect()
}

/// Removes the records `options` selects and the step images only they held; returns the removed records' IDs
/// and the bytes freed (blocking).
pub fn prune(engine: &Engine, options: &CachePruneOptions) -> Result<(Vec<String>, u64), BuildError> {
    let cache = BuildCache::new(&super::build_dir(engine));
    let (records, dead) = records(engine);
    let (gone, kept): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|record| selected(record, options));
    let mut keys: Vec<String> = gone.iter().map(|record| record.entry.key.clone()).collect();
    cache.remove(&keys.iter().cloned().chain(dead).collect::<Vec<_>>())?;
    let still_cached: HashSet<&str> = kept.iter().map(|record| record.image.id.as_str()).collect();
    let mut images: Vec<String> =
        gone.iter().map(|record| record.image.id.clone()).filter(|id| !still_cached.contains(id.as_str())).collect();
    images.sort();
    images.dedup();
    let reclaimed = engine.remove_untagged_images(&images)?;
    keys.sort();
    tracing::info!(records = keys.len(), reclaimed, "build cache pruned");
    Ok((keys, reclaimed))
}

fn selected(record: &Record, options: &CachePruneOptions) -> bool {
    (options.all || !record.shared)
        && options.until.is_none_or(|until| record.last_used().is_none_or(|used| used <= until))
        && options.id.as_deref().is_none_or(|id| record.entry.key.starts_with(id))
        && options.description.as_deref().is_none_or(|d| record.description() == d)
        && options.typ.as_deref().is_none_or(|t| t == "regular")
        && options.shared.is_none_or(|shared| shared == record.shared)
        && options.in_use.is_none_or(|in_use| !in_use)
}

/// The live records, and the keys of entries whose image is gone.
fn records(engine: &Engine) -> (Vec<Record>, Vec<String>) {
    let cache = BuildCache::new(&super::build_dir(engine));
    let images: HashMap<String, Image> = engine.images().into_iter().map(|image| (image.id.clone(), image)).collect();
    let layer_sizes = engine.image_store().layer_sizes();
    let kept: Vec<&Image> = images
        .values()
        .filter(|image| !image.repo_tags.is_empty() || !engine.image_users(&image.id).is_empty())
        .collect();
    let mut dead = Vec::new();
    let mut live: Vec<(CacheEntry, Image)> = Vec::new();
    for entry in cache.entries() {
        match images.get(&entry.image_id) {
            Some(image) => live.push((entry, image.clone())),
            None => dead.push(entry.key),
        }
    }
    let key_of: HashMap<&str, &str> =
        live.iter().map(|(entry, image)| (image.id.as_str(), entry.key.as_str())).collect();
    let mut records: Vec<Record> = live
        .iter()
        .map(|(entry, image)| {
            let shared = kept.iter().any(|k| k.id == image.id || k.is_built_on(image));
            let parent = live
                .iter()
                .filter(|(_, base)| image.is_built_on(base))
                .max_by_key(|(_, base)| base.config.history().as_ref().map_or(0, Vec::len))
                .and_then(|(_, base)| key_of.get(base.id.as_str()).map(|k| k.to_string()));
            Record { entry: entry.clone(), image: image.clone(), size: own_layer(image, &layer_sizes), shared, parent }
        })
        .collect();
    records.sort_by_key(|record| (record.created(), record.entry.key.clone()));
    (records, dead)
}

/// The bytes of the layer the image's last step added; 0 when that step made none (`empty_layer`).
fn own_layer(image: &Image, layer_sizes: &HashMap<String, Vec<(String, u64)>>) -> u64 {
    let history = image.config.history().as_deref().unwrap_or_default();
    if history.last().is_some_and(|h| h.empty_layer().unwrap_or(false)) {
        return 0;
    }
    layer_sizes.get(&image.id).and_then(|layers| layers.last()).map(|(_, size)| *size).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(shared: bool, last_used: i64) -> Record {
        let config: oci_spec::image::ImageConfiguration = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
                "history":[{"created_by":"/bin/sh -c make"}]}"#,
        )
        .unwrap();
        Record {
            entry: CacheEntry { key: "abcdef".into(), image_id: "sha256:1".into(), last_used: Some(last_used) },
            image: Image {
                id: "sha256:1".into(),
                repo_tags: Vec::new(),
                config,
                size: 0,
                created: None,
                diff_ids: Vec::new(),
                manifest_digest: String::new(),
                repo_digests: Vec::new(),
            },
            size: 0,
            shared,
            parent: None,
        }
    }

    #[test]
    fn without_all_only_dangling_records_go() {
        let options = CachePruneOptions::default();
        assert!(selected(&record(false, 0), &options));
        assert!(!selected(&record(true, 0), &options));
        assert!(selected(&record(true, 0), &CachePruneOptions { all: true, ..options }));
    }

    #[test]
    fn filters_narrow_the_selection() {
        let until = DateTime::from_timestamp(1_700_000_000, 0);
        let old = record(false, 1_600_000_000);
        let recent = record(false, 1_700_000_100);
        let by_age = CachePruneOptions { until, ..Default::default() };
        assert!(selected(&old, &by_age) && !selected(&recent, &by_age));
        let by_id = |id: &str| CachePruneOptions { id: Some(id.into()), ..Default::default() };
        assert!(selected(&old, &by_id("abc")) && !selected(&old, &by_id("abd")));
        let by_description = CachePruneOptions { description: Some("/bin/sh -c make".into()), ..Default::default() };
        assert!(selected(&old, &by_description));
        let by_type = CachePruneOptions { typ: Some("internal".into()), ..Default::default() };
        assert!(!selected(&old, &by_type));
        assert_eq!(old.model().description.as_deref(), Some("/bin/sh -c make"));
    }
}
