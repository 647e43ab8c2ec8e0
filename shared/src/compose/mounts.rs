//! Service volume short syntax, `[source:]target[:mode]`: a source that starts with `/`, `.` or `~` is a bind
//! mount of a host path, any other source names a volume, and no source means an anonymous volume.

use super::model::{MountType, ServiceVolume, VolumeMountOptions};

/// Modes docker accepts after the target; only `ro`/`rw` and `nocopy` change the model, SELinux relabelling
/// and propagation are accepted for compatibility and not applied by Berth yet.
const MODES: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "consistent",
    "cached",
    "delegated",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
];

/// The mount `spec` describes; `host_path` joins a relative bind source to the compose file's folder.
pub(crate) fn parse_short(spec: &str, host_path: &dyn Fn(&str) -> String) -> Result<ServiceVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_mode = |text: &str| !text.is_empty() && text.split(',').all(|mode| MODES.contains(&mode));
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [target, mode] if !mode.starts_with('/') && is_mode(mode) => (None, *target, Some(*mode)),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err("too many colons".to_string()),
    };
    if target.is_empty() {
        return Err("empty target".to_string());
    }
    if !target.starts_with('/') {
        return Err(format!("the target {target:?} is not an absolute path"));
    }
    let mut volume = ServiceVolume { target: target.to_string(), ..ServiceVolume::default() };
    match source {
        None => volume.mount_type = MountType::Volume,
        Some("") => return Err("empty source".to_string()),
        Some(source) if source.starts_with(['/', '.', '~']) => {
            volume.mount_type = MountType::Bind;
            volume.source = Some(host_path(source));
        }
        Some(name) => {
            volume.mount_type = MountType::Volume;
            volume.source = Some(name.to_string());
        }
    }
    if let Some(mode) = mode {
        if !is_mode(mode) {
            return Err(format!("invalid mode {mode:?}"));
        }
        for flag in mode.split(',') {
            match flag {
                "ro" => volume.read_only = true,
                "nocopy" if volume.mount_type == MountType::Volume => {
                    volume.volume = Some(VolumeMountOptions { nocopy: true });
                }
                _ => {}
            }
        }
    }
    Ok(volume)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<ServiceVolume, String> {
        parse_short(spec, &|path| path.replacen("./", "/project/", 1))
    }

    #[test]
    fn short_forms() {
        let anonymous = parse("/data").expect("valid");
        assert_eq!((anonymous.mount_type, anonymous.source, anonymous.read_only), (MountType::Volume, None, false));
        let named = parse("db:/var/lib/db:ro,nocopy").expect("valid");
        assert_eq!(named.mount_type, MountType::Volume);
        assert_eq!(named.source.as_deref(), Some("db"));
        assert!(named.read_only);
        assert_eq!(named.volume, Some(VolumeMountOptions { nocopy: true }));
        let bind = parse("./src:/app").expect("valid");
        assert_eq!((bind.mount_type, bind.source.as_deref()), (MountType::Bind, Some("/project/src")));
        assert!(parse("/cache:ro").expect("valid").read_only);
    }

    #[test]
    fn errors() {
        for bad in ["", "data:relative", "a:/b:bogus", ":/x", "a:/b:ro:x"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
