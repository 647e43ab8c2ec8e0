//! Capability sets from `spec.process.capabilities`, applied with the `caps` crate (bounding, ambient) and one
//! `capset(2)` for effective, permitted and inheritable (so the three change together, as runc does).

use std::collections::HashSet;

use caps::errors::CapsError;
use caps::{CapSet, Capability};
use oci_spec::runtime::LinuxCapabilities;

/// What failed while setting the process's capabilities (reported by `berth init` with this wording).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CapabilityError {
    /// Dropping one capability from the bounding set (needs CAP_SETPCAP).
    #[error("drop {cap} from bounding set: {source}")]
    DropBounding {
        cap: Capability,
        #[source]
        source: CapsError,
    },
    /// The one `capset(2)` for effective, permitted and inheritable.
    #[error("capset: {0}")]
    Capset(#[source] std::io::Error),
    /// Clearing the ambient set before raising the spec's.
    #[error("clear ambient capabilities: {0}")]
    ClearAmbient(#[source] CapsError),
}

/// The five sets a process ends up with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CapSets {
    pub bounding: HashSet<Capability>,
    pub effective: HashSet<Capability>,
    pub permitted: HashSet<Capability>,
    pub inheritable: HashSet<Capability>,
    pub ambient: HashSet<Capability>,
}

/// Parses `CAP_CHOWN`, `chown` or `CHOWN`.
pub(crate) fn parse_name(name: &str) -> Option<Capability> {
    let upper = name.trim().to_ascii_uppercase();
    let canonical = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    canonical.parse().ok()
}

/// The name an OCI capability serializes to (`CAP_CHOWN`).
fn oci_name(cap: &oci_spec::runtime::Capability) -> String {
    match serde_json::to_value(cap) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("CAP_{cap}"),
    }
}

fn convert(set: &Option<oci_spec::runtime::Capabilities>) -> HashSet<Capability> {
    let Some(set) = set else {
        return HashSet::new();
    };
    set.iter()
        .filter_map(|c| {
            let name = oci_name(c);
            let parsed = parse_name(&name);
            if parsed.is_none() {
                tracing::warn!(capability = %name, "unknown capability ignored");
            }
            parsed
        })
        .collect()
}

impl CapSets {
    /// The sets a spec asks for.
    pub(crate) fn from_spec(c: &LinuxCapabilities) -> Self {
        CapSets {
            bounding: convert(c.bounding()),
            effective: convert(c.effective()),
            permitted: convert(c.permitted()),
            inheritable: convert(c.inheritable()),
            ambient: convert(c.ambient()),
        }
    }
}

/// Drops from the bounding set every capability the kernel knows that `keep` does not list. Needs CAP_SETPCAP,
/// so it runs before the uid changes.
pub(crate) fn drop_bounding(keep: &HashSet<Capability>) -> Result<(), CapabilityError> {
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|source| CapabilityError::DropBounding { cap, source })?;
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn mask(set: &HashSet<Capability>) -> u64 {
    set.iter().fold(0u64, |m, c| m | c.bitmask())
}

/// Sets effective, permitted and inheritable in one `capset(2)`, then the ambient set.
pub(crate) fn apply(sets: &CapSets) -> Result<(), CapabilityError> {
    let (e, p, i) = (mask(&sets.effective), mask(&sets.permitted), mask(&sets.inheritable));
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [
        CapData { effective: e as u32, permitted: p as u32, inheritable: i as u32 },
        CapData { effective: (e >> 32) as u32, permitted: (p >> 32) as u32, inheritable: (i >> 32) as u32 },
    ];
    // SAFETY: header and data are properly laid out v3 capset structures (one header, two data elements) that
    // live across the call; the kernel only reads them.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(CapabilityError::Capset(std::io::Error::last_os_error()));
    }
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(CapabilityError::ClearAmbient)?;
        for cap in &sets.ambient {
            // Raising fails unless the cap is both permitted and inheritable: skip those quietly like runc.
            if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
                tracing::debug!(capability = %cap, error = %e, "ambient capability not raised");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_all_spellings() {
        assert_eq!(parse_name("CAP_CHOWN"), Some(Capability::CAP_CHOWN));
        assert_eq!(parse_name("net_raw"), Some(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("SYS_ADMIN"), Some(Capability::CAP_SYS_ADMIN));
        assert_eq!(parse_name("CAP_NOPE"), None);
    }

    #[test]
    fn spec_sets_convert() {
        use oci_spec::runtime::{Capability as Oci, LinuxCapabilitiesBuilder};
        let set: oci_spec::runtime::Capabilities = [Oci::Chown, Oci::NetBindService, Oci::AuditWrite].into();
        let c = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set)
            .permitted(HashSet::new())
            .ambient(HashSet::new())
            .build()
            .unwrap();
        let s = CapSets::from_spec(&c);
        assert_eq!(
            s.bounding,
            [Capability::CAP_CHOWN, Capability::CAP_NET_BIND_SERVICE, Capability::CAP_AUDIT_WRITE].into()
        );
        assert_eq!(s.effective.len(), 3);
        assert!(s.permitted.is_empty());
        assert!(s.ambient.is_empty());
    }

    #[test]
    fn errors_keep_the_reported_wording() {
        let drop = CapabilityError::DropBounding { cap: Capability::CAP_CHOWN, source: CapsError::from("boom") };
        assert_eq!(drop.to_string(), "drop CAP_CHOWN from bounding set: caps error: boom");
        let capset = CapabilityError::Capset(std::io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(capset.to_string(), "capset: Operation not permitted (os error 1)");
        assert_eq!(CapabilityError::ClearAmbient("x".into()).to_string(), "clear ambient capabilities: caps error: x");
    }

    #[test]
    fn masks_cover_high_caps() {
        let m = mask(&[Capability::CAP_CHOWN, Capability::CAP_AUDIT_READ].into());
        assert_eq!(m, 1 | (1 << 37));
    }
}
